"""The forward model: parameters, the Jansen-Rit equations and their linearisation.

Stage 3 of load -> features -> forward model -> likelihood -> inference -> report.
``params`` holds :class:`~jrfit.model.params.JRParams` (Jansen & Rit 1995
defaults, with units) and the one order of the constants every compiled kernel
packs (``JRParams.CONSTANTS``, ``JRParams.pack``); ``column`` the sigmoid,
right-hand side, Jacobian and fixed points; ``spectrum`` the closed-form
transfer function and power spectrum at a stable fixed point;
``linear_kernel`` the same map compiled with its exact Jacobian; ``erp``
stimulus pulses and evoked responses; ``connectome`` structural connectomes
(weights, tract lengths, delays) and ``network`` the linear analysis of
columns coupled through them (coupled fixed point, stability with delays,
cross-spectra). No MNE, no PyMC.
"""
