"""Linearised spectrum of the column: closed-form transfer function and PSD.

At a fixed point with operating potential v (MODEL_NOTES section 3)::

    H(s) = A a (s+a)^2 (s+b)^2 / D(s)
    D(s) = (s+a)^4 (s+b)^2 - g0 [k1 A^2 a^2 (s+b)^2 - k2 A a B b (s+a)^2]

with ``k1 = C1 C2 S'(C1 y0)``, ``k2 = C3 C4 S'(C3 y0)``, ``g0 = S'(v)``. The
one-sided PSD of ``v = y1 - y2`` driven by ``p = mu + sigma xi`` is
``2 sigma^2 |H(i 2 pi f)|^2`` in mV^2/Hz (section 4).

Everything below the "backend-agnostic core" line is written with real
arithmetic on (real, imaginary) pairs, so the same functions build a PyTensor
graph when given tensors (for PyMC's gradients) and evaluate with NumPy
otherwise. The NumPy conveniences (:func:`transfer_function`,
:func:`linear_psd`) add broadcasting and fixed-point selection on top.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .model import _attrs, fixed_points, operating_point
from .params import JRParams

__all__ = [
    "psd_from_v",
    "transfer_function",
    "linear_psd",
    "char_poly_coeffs",
    "routh_hurwitz",
    "stable_v",
]


# ----------------------------------------------------------------------------
# backend-agnostic core (NumPy or PyTensor)
def _cmul(x, y):
    return (x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0])


def _csub(x, y):
    return (x[0] - y[0], x[1] - y[1])


def _cscale(c, x):
    return (c * x[0], c * x[1])


def _abs2(x):
    return x[0] * x[0] + x[1] * x[1]


def _loop_gains(v, P, op=None):
    op = operating_point(v, P) if op is None else op
    k1 = P.C1 * P.C2 * op["g1"]
    k2 = P.C3 * P.C4 * op["g2"]
    return op["g0"], k1, k2


def _tf_parts(freqs, v, params, op=None):
    """Numerator and denominator of H(i 2 pi f) as (re, im) pairs."""
    P = _attrs(params)
    g0, k1, k2 = _loop_gains(v, P, op)
    w = 2.0 * np.pi * freqs
    pa = (P.a * P.a - w * w, 2.0 * P.a * w)  # (iw + a)^2
    pb = (P.b * P.b - w * w, 2.0 * P.b * w)  # (iw + b)^2
    num = _cscale(P.A * P.a, _cmul(pa, pb))
    feedback = _csub(
        _cscale(k1 * P.A * P.A * P.a * P.a, pb),
        _cscale(k2 * P.A * P.a * P.B * P.b, pa),
    )
    den = _csub(_cmul(_cmul(pa, pa), pb), _cscale(g0, feedback))
    return num, den


def psd_from_v(freqs, v, params, sigma=None, op=None):
    """One-sided PSD of v = y1 - y2 at the fixed point with potential v.

    Backend-agnostic: NumPy arrays give an array, PyTensor variables a graph.
    All inputs broadcast elementwise (add axes yourself, e.g. ``freqs`` of
    shape (n_freq,) with parameters of shape (n, 1)).

    Parameters
    ----------
    freqs : array
        Frequencies, in Hz.
    v : array
        Operating potential, in mV (p follows from p(v)).
    params : JRParams | mapping
        Parameters (A, B, a, b, C, c1..c4, e0, r, v0; values may be tensors).
    sigma : array | None
        Noise intensity, in /s^0.5 (default ``params.sigma``).
    op : dict | None
        :func:`jrfit.model.operating_point` at v, if already computed.

    Returns
    -------
    psd : array
        One-sided PSD, in mV^2/Hz: ``2 sigma^2 |H(i 2 pi f)|^2``.
    """
    P = _attrs(params)
    sigma = P.sigma if sigma is None else sigma
    num, den = _tf_parts(freqs, v, P, op)
    return 2.0 * sigma * sigma * _abs2(num) / _abs2(den)


def _polymul(p, q):
    out = [None] * (len(p) + len(q) - 1)
    for i, pi in enumerate(p):
        for j, qj in enumerate(q):
            term = pi * qj
            out[i + j] = term if out[i + j] is None else out[i + j] + term
    return out


def char_poly_coeffs(v, params, op=None):
    """Coefficients of D(s), highest power first (7 entries, leading 1).

    D(s) is the characteristic polynomial of the 6x6 Jacobian at the fixed
    point with operating potential v (mV). Backend-agnostic. ``op`` is
    :func:`jrfit.model.operating_point` at v, if already computed.
    """
    P = _attrs(params)
    g0, k1, k2 = _loop_gains(v, P, op)
    a, b = P.a, P.b
    sa2 = [1.0, 2.0 * a, a * a]
    sb2 = [1.0, 2.0 * b, b * b]
    lead = _polymul(_polymul(sa2, sa2), sb2)
    c_e = g0 * k1 * P.A * P.A * a * a
    c_i = g0 * k2 * P.A * a * P.B * b
    fb = [c_e * x - c_i * y for x, y in zip(sb2, sa2)]
    return lead[:4] + [lead[4 + i] - fb[i] for i in range(3)]


def routh_hurwitz(coeffs):
    """First column of the Routh array of a polynomial (highest power first).

    The polynomial (leading coefficient positive) is Hurwitz-stable, i.e.
    every root has a negative real part, iff every entry is positive. The
    entries are smooth in the coefficients, so they serve as differentiable
    stability constraints in PyTensor. Backend-agnostic.

    Returns
    -------
    col : list
        ``len(coeffs)`` entries (a row that ends early would contain an exact
        zero; it does not occur for the JR polynomial, whose coefficients are
        all non-zero).
    """
    n = len(coeffs)
    width = (n + 1) // 2
    rows = [list(coeffs[0::2]), list(coeffs[1::2])]
    rows[1] = rows[1] + [None] * (width - len(rows[1]))  # None: an exact zero
    rows[0] = rows[0] + [None] * (width - len(rows[0]))
    for _ in range(n - 2):
        r1, r2 = rows[-2], rows[-1]
        new = []
        for j in range(width - 1):
            # (r2[0] r1[j+1] - r1[0] r2[j+1]) / r2[0], skipping exact zeros so the
            # PyTensor graph stays small
            if r1[j + 1] is None and r2[j + 1] is None:
                new.append(None)
            elif r2[j + 1] is None:
                new.append(r1[j + 1])
            elif r1[j + 1] is None:
                new.append(-r1[0] * r2[j + 1] / r2[0])
            else:
                new.append(r1[j + 1] - r1[0] * r2[j + 1] / r2[0])
        rows.append(new + [None])
    return [r[0] for r in rows]


# ----------------------------------------------------------------------------
# NumPy conveniences
def _expand(params, extra_dims):
    d = params.as_dict()
    idx = (Ellipsis,) + (None,) * extra_dims
    return {k: (np.asarray(v)[idx] if np.ndim(v) else v) for k, v in d.items()}


def stable_v(params, branch="upper"):
    """Operating potential of the stable fixed point for input ``params.mu``.

    Parameters
    ----------
    params : JRParams
        One parameter set or a batch.
    branch : 'upper' | 'lower'
        Which stable fixed point to take when there are two (bistability):
        the active (upper, highest v) or quiescent (lower) one.

    Returns
    -------
    v : float | ndarray, shape batch_shape
        Operating potential in mV; NaN where no fixed point is stable (the
        column then oscillates on a limit cycle and linearisation is invalid).
    """
    if branch not in ("upper", "lower"):
        raise ModelError(f"Invalid value for the 'branch' parameter. Allowed values are 'upper' and 'lower', but got {branch!r} instead.")
    if not params.batch_shape:
        st = [fp for fp in fixed_points(params) if fp.stable]
        if not st:
            return float("nan")
        return st[-1].v if branch == "upper" else st[0].v
    flat = params.flat()
    n = params.n_columns
    out = np.empty(n)
    for i in range(n):
        out[i] = stable_v(JRParams(**{k: v[i] for k, v in flat.items()}), branch)
    return out.reshape(params.batch_shape)


def _resolve_v(params, v, branch):
    if v is None:
        v = stable_v(params, branch)
        bad = ~np.isfinite(np.asarray(v))
        if np.any(bad):
            raise ModelError(
                f"No stable fixed point for {int(np.sum(bad))} of {params.n_columns} "
                "parameter set(s): the column is on a limit cycle there and the "
                "linearised spectrum does not describe it. Change mu (see "
                "jrfit.dynamics.bifurcation) or use simulation (jrfit.simulate)."
            )
    return np.asarray(v, float)


def transfer_function(freqs, params, v=None, branch="upper"):
    """Complex transfer function H(i 2 pi f) from input p (/s) to v (mV).

    Parameters
    ----------
    freqs : array, shape (n_freq,)
        Frequencies, in Hz.
    params : JRParams
        One parameter set or a batch.
    v : float | array | None
        Operating potential(s), in mV. Default: the stable fixed point for
        ``params.mu`` (see :func:`stable_v`).
    branch : 'upper' | 'lower'
        Fixed point to take when two are stable.

    Returns
    -------
    H : ndarray, shape batch_shape + (n_freq,)
        In mV per (/s), complex.
    """
    freqs = np.asarray(freqs, float)
    v = _resolve_v(params, v, branch)
    num, den = _tf_parts(freqs, v[..., None], _expand(params, 1))
    return (num[0] + 1j * num[1]) / (den[0] + 1j * den[1])


def linear_psd(freqs, params, v=None, branch="upper"):
    """One-sided linearised PSD of the EEG proxy v = y1 - y2.

    Parameters
    ----------
    freqs : array, shape (n_freq,)
        Frequencies, in Hz.
    params : JRParams
        One parameter set or a batch; ``params.sigma`` is the noise intensity
        in /s^0.5.
    v : float | array | None
        Operating potential(s), in mV. Default: the stable fixed point for
        ``params.mu``.
    branch : 'upper' | 'lower'
        Fixed point to take when two are stable.

    Returns
    -------
    psd : ndarray, shape batch_shape + (n_freq,)
        In mV^2/Hz.
    """
    freqs = np.asarray(freqs, float)
    v = _resolve_v(params, v, branch)
    return psd_from_v(freqs, v[..., None], _expand(params, 1))
