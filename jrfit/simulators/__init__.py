"""Simulators of the forward model: one column and networks of columns.

``column`` integrates one Jansen-Rit column (stochastic, EEG-like, and
deterministic); ``network`` couples columns through a structural connectome
(:mod:`jrfit.model.connectome`) with conduction delays. Both run on one
block/thread driver (``driver``) and one anti-alias decimator
(``decimation``, applied in the kernels); ``kernels`` and ``network_kernels``
are their compiled (numba) inner loops, sharing the column step and the FIR.
No MNE, no PyMC.
"""
