"""The linearised forward map and its exact Jacobian, compiled with numba.

One call evaluates, at ``theta = (v, *free JR constants)``, the linearised PSD
(mV^2/Hz), the input p(v) (/s), log|dp/dv| and the stability of the fixed
point, together with their derivatives with respect to theta by the complex
step ``f'(x) = Im f(x + i h) / h`` (no subtraction error). The formulas are not
written here: the ``register_jitable`` cores of :mod:`jrfit.model` and
:mod:`jrfit.spectrum` (the same functions the NumPy and PyTensor paths call)
compile into this kernel, so there is one copy of the maths.

The kernel serves :class:`jrfit._ops.JRLinearOp` both in Python (its
``perform``) and inside numba-compiled log densities (PyTensor's numba backend,
which nutpie samples without the Python interpreter).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .model import _dp_dv_core, _operating_point_core
from .spectrum import _char_poly_core, _loop_gains_core, _psd_core, routh_hurwitz

__all__ = ["BASE_NAMES", "linear_forward", "pack"]

BASE_NAMES = ("A", "B", "a", "b", "C", "c1", "c2", "c3", "c4", "e0", "r", "v0", "sigma")
"""Order of the constants in the kernel's parameter vector (JRParams names)."""

_H = 1e-20  # relative complex step


def pack(names, fixed):
    """Index of each free constant in :data:`BASE_NAMES` and the full base vector.

    Parameters
    ----------
    names : sequence of str
        Free JR constants, in the order they follow v in theta.
    fixed : mapping
        Values of the constants (at least every :data:`BASE_NAMES` entry not in
        ``names``; ``sigma`` in /s^0.5).

    Returns
    -------
    free_idx : ndarray of int64
    base : ndarray of float64
    """
    fixed = dict(fixed)
    free_idx = np.array([BASE_NAMES.index(n) for n in names], dtype=np.int64)
    base = np.array([float(fixed.get(n, np.nan)) if n not in names else np.nan for n in BASE_NAMES])
    missing = [n for n, x in zip(BASE_NAMES, base) if n not in names and not np.isfinite(x)]
    if missing:
        raise ValueError(f"No value for the fixed JR constant(s) {missing}.")
    return free_idx, base


@njit(cache=True)
def _eval(q, v, w):
    """PSD, p, dp/dv and the sigmoid gains at complex parameters q and potential v."""
    A, B, a, b, C = q[0], q[1], q[2], q[3], q[4]
    C1, C2, C3, C4 = q[5] * C, q[6] * C, q[7] * C, q[8] * C
    e0, r, v0, sigma = q[9], q[10], q[11], q[12]
    _y0, _y1, _y2, p, g0, g1, g2 = _operating_point_core(v, A, B, a, b, C1, C2, C3, C4, e0, r, v0)
    k1, k2 = _loop_gains_core(C1, C2, C3, C4, g1, g2)
    psd = _psd_core(w, sigma, A, B, a, b, g0, k1, k2)
    slope = _dp_dv_core(A, B, a, b, C1, C2, C3, C4, g0, g1, g2)
    return psd, p, slope, g0, k1, k2


@njit(cache=True)
def linear_forward(theta, freqs, free_idx, base):
    """Values and Jacobians of the linearised model at ``theta`` (see module docs).

    Parameters
    ----------
    theta : ndarray, shape (1 + n_free,)
        Operating potential v (mV) followed by the free constants.
    freqs : ndarray, shape (n_freq,)
        Frequencies, in Hz.
    free_idx, base : ndarray
        From :func:`pack`.

    Returns
    -------
    psd : ndarray, shape (n_freq,)
    p, logjac, stable : float
        Input (/s), log|dp/dv|, and 1.0 if the fixed point is stable else 0.0.
    j_psd : ndarray, shape (n_freq, 1 + n_free)
    j_p, j_logjac : ndarray, shape (1 + n_free,)
    """
    n = theta.size
    nf = freqs.size
    w = 2.0 * np.pi * freqs
    psd = np.empty(nf)
    j_psd = np.empty((nf, n))
    j_p = np.empty(n)
    j_lj = np.empty(n)
    p_val = 0.0
    lj_val = 0.0
    stable = 0.0
    q0 = base.astype(np.complex128)
    for i in range(n - 1):
        q0[free_idx[i]] = theta[i + 1]
    for k in range(n):
        h = _H * max(abs(theta[k]), 1.0)
        q = q0.copy()
        v = complex(theta[0])
        if k == 0:
            v += 1j * h
        else:
            q[free_idx[k - 1]] += 1j * h
        val, p, slope, g0, k1, k2 = _eval(q, v, w)
        # log|dp/dv|: analytic continuation of the absolute value
        lj = np.log(slope * (1.0 if slope.real >= 0 else -1.0))
        for m in range(nf):
            j_psd[m, k] = val[m].imag / h
        j_p[k] = p.imag / h
        j_lj[k] = lj.imag / h
        if k == 0:
            for m in range(nf):
                psd[m] = val[m].real
            p_val = p.real
            lj_val = lj.real
            qr = q0.real
            coeffs = _char_poly_core(qr[0], qr[1], qr[2], qr[3], g0.real, k1.real, k2.real)
            col = routh_hurwitz(coeffs)
            stable = 1.0
            for i in range(1, len(col)):
                if not col[i] > 0:
                    stable = 0.0
    return psd, p_val, lj_val, stable, j_psd, j_p, j_lj
