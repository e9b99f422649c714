"""Simulators of the forward model: one column and networks of columns.

``column`` integrates one Jansen-Rit column (stochastic, EEG-like, and
deterministic); ``network`` couples columns through a structural connectome
with conduction delays; ``kernels`` and ``network_kernels`` are their compiled
(numba) inner loops. No MNE, no PyMC.
"""
