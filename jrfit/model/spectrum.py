"""Linearised spectrum of the column: closed-form transfer function and PSD.

At a fixed point with operating potential v (docs/model.md, section 3)::

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
from numba.extending import register_jitable

from jrfit.errors import ModelError
from jrfit.model.column import _attrs, fixed_points, operating_point
from jrfit.model.params import JRParams

__all__ = [
    "psd_from_v",
    "loop_gains",
    "transfer_function",
    "linear_psd",
    "char_poly_coeffs",
    "routh_hurwitz",
    "stable_v",
]


# ----------------------------------------------------------------------------
# backend-agnostic core (NumPy, PyTensor, complex values, and numba: the
# ``register_jitable`` functions compile into :mod:`jrfit.model.linear_kernel`)
@register_jitable
def _cmul(x, y):
    return (x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0])


@register_jitable
def _csub(x, y):
    return (x[0] - y[0], x[1] - y[1])


@register_jitable
def _cscale(c, x):
    return (c * x[0], c * x[1])


@register_jitable
def _abs2(x):
    return x[0] * x[0] + x[1] * x[1]


@register_jitable
def _loop_gains_core(C1, C2, C3, C4, g1, g2):
    """Excitatory and inhibitory loop gains k1 = C1 C2 S'(C1 y0), k2 = C3 C4 S'(C3 y0)."""
    return C1 * C2 * g1, C3 * C4 * g2


def _loop_gains(v, P, op=None):
    op = operating_point(v, P) if op is None else op
    k1, k2 = _loop_gains_core(P.C1, P.C2, P.C3, P.C4, op["g1"], op["g2"])
    return op["g0"], k1, k2


@register_jitable
def _tf_core(w, A, B, a, b, g0, k1, k2):
    """Numerator and denominator of H(i w) as (re, im) pairs (w in rad/s)."""
    pa = (a * a - w * w, 2.0 * a * w)  # (iw + a)^2
    pb = (b * b - w * w, 2.0 * b * w)  # (iw + b)^2
    num = _cscale(A * a, _cmul(pa, pb))
    feedback = _csub(
        _cscale(k1 * A * A * a * a, pb),
        _cscale(k2 * A * a * B * b, pa),
    )
    den = _csub(_cmul(_cmul(pa, pa), pb), _cscale(g0, feedback))
    return num, den


@register_jitable
def _poly_at_iw(c, w2):
    """Real and imaginary part of D(i w) / (1, w) for coefficients c (highest power first).

    With (iw)^k cycling through 1, i, -1, -i: Re D = c6 - c4 w^2 + c2 w^4 - c0 w^6 and
    Im D = w (c5 - c3 w^2 + c1 w^4); the second value returned is Im D / w.
    """
    return c[6] - w2 * (c[4] - w2 * (c[2] - w2 * c[0])), c[5] - w2 * (c[3] - w2 * c[1])


@register_jitable
def _psd_num_core(w2, sigma, A, a, b):
    """Numerator 2 sigma^2 |A a (iw + a)^2 (iw + b)^2|^2 of the PSD."""
    pa, pb = a * a + w2, b * b + w2
    return 2.0 * sigma * sigma * (A * a) ** 2 * (pa * pb) ** 2


@register_jitable
def _psd_core(w, sigma, A, B, a, b, g0, k1, k2):
    """One-sided PSD 2 sigma^2 |H(i w)|^2 (mV^2/Hz) from the loop gains.

    Written as ``|numerator|^2 / |D(i w)|^2`` with D the characteristic
    polynomial (:func:`_char_poly_core`), the denominator of H.
    """
    w2 = w * w
    re, im_w = _poly_at_iw(_char_poly_core(A, B, a, b, g0, k1, k2), w2)
    return _psd_num_core(w2, sigma, A, a, b) / (re * re + w2 * im_w * im_w)


def transfer_parts(freqs, v, params, op=None):
    """Numerator and denominator of H(i 2 pi f) as (re, im) pairs."""
    P = _attrs(params)
    g0, k1, k2 = _loop_gains(v, P, op)
    return _tf_core(2.0 * np.pi * freqs, P.A, P.B, P.a, P.b, g0, k1, k2)


def loop_gains(v, params, op=None):
    """Dimensionless DC gains of the excitatory and the inhibitory feedback loop at v (mV).

    The characteristic polynomial is ``D(s) = (s+a)^4 (s+b)^2 - a^4 b^2 [G_exc
    ((s+b)/b)^2 - G_inh ((s+a)/a)^2]``, so the spectrum's shape depends on the
    constants only through a, b, ``G_exc = g0 k1 A^2 / a^2`` and ``G_inh = g0 k2
    A B / (a b)`` (and its scale): these four are what a spectrum identifies,
    whatever B, C and p produce them. ``D(0) = a^4 b^2 (1 - G_exc + G_inh)``.
    Backend-agnostic.

    Returns
    -------
    g_exc, g_inh : array
    """
    P = _attrs(params)
    g0, k1, k2 = _loop_gains(v, P, op)
    return g0 * k1 * P.A * P.A / (P.a * P.a), g0 * k2 * P.A * P.B / (P.a * P.b)


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
        :func:`jrfit.model.column.operating_point` at v, if already computed.

    Returns
    -------
    psd : array
        One-sided PSD, in mV^2/Hz: ``2 sigma^2 |H(i 2 pi f)|^2``.
    """
    P = _attrs(params)
    sigma = P.sigma if sigma is None else sigma
    g0, k1, k2 = _loop_gains(v, P, op)
    return _psd_core(2.0 * np.pi * freqs, sigma, P.A, P.B, P.a, P.b, g0, k1, k2)


@register_jitable
def _char_poly_core(A, B, a, b, g0, k1, k2):
    """Coefficients of D(s) = (s+a)^4 (s+b)^2 - g0 [k1 A^2 a^2 (s+b)^2 - k2 A a B b (s+a)^2].

    Highest power first; the expansion of (s+a)^4 (s+b)^2 is written out.
    """
    c_e = g0 * k1 * A * A * a * a  # times (s+b)^2
    c_i = g0 * k2 * A * a * B * b  # times (s+a)^2
    a2, b2 = a * a, b * b
    a3, a4 = a2 * a, a2 * a2
    return (
        1.0,
        4.0 * a + 2.0 * b,
        6.0 * a2 + 8.0 * a * b + b2,
        4.0 * a3 + 12.0 * a2 * b + 4.0 * a * b2,
        a4 + 8.0 * a3 * b + 6.0 * a2 * b2 - (c_e - c_i),
        2.0 * a4 * b + 4.0 * a3 * b2 - (2.0 * b * c_e - 2.0 * a * c_i),
        a4 * b2 - (b2 * c_e - a2 * c_i),
    )


def char_poly_coeffs(v, params, op=None):
    """Coefficients of D(s), highest power first (7 entries, leading 1).

    D(s) is the characteristic polynomial of the 6x6 Jacobian at the fixed
    point with operating potential v (mV). Backend-agnostic. ``op`` is
    :func:`jrfit.model.column.operating_point` at v, if already computed.
    """
    P = _attrs(params)
    g0, k1, k2 = _loop_gains(v, P, op)
    return list(_char_poly_core(P.A, P.B, P.a, P.b, g0, k1, k2))


@register_jitable
def routh_hurwitz(coeffs):
    """First column of the Routh array of a polynomial (highest power first).

    The polynomial (leading coefficient positive) is Hurwitz-stable, i.e.
    every root has a negative real part, iff every entry is positive. The
    entries are smooth in the coefficients, so they serve as differentiable
    stability constraints in PyTensor. Backend-agnostic (also compiles with
    numba for a tuple or array of floats).

    Returns
    -------
    col : list
        ``len(coeffs)`` entries (an exact zero in the first column would end
        the array early; it does not occur for the JR polynomial, whose
        coefficients are all non-zero).
    """
    n = len(coeffs)
    width = (n + 1) // 2
    zero = coeffs[0] * 0.0
    rows = [[zero for _j in range(width)] for _i in range(n)]
    for j in range(width):
        if 2 * j < n:
            rows[0][j] = coeffs[2 * j]
        if 2 * j + 1 < n:
            rows[1][j] = coeffs[2 * j + 1]
    for i in range(2, n):
        r1, r2 = rows[i - 2], rows[i - 1]
        for j in range(width - 1):
            rows[i][j] = r1[j + 1] - r1[0] * r2[j + 1] / r2[0]
    return [rows[i][0] for i in range(n)]


@register_jitable
def routh_column6(c):
    """First column of the Routh array of a degree-6 polynomial, without allocation.

    The same recursion as :func:`routh_hurwitz` written out for the 7
    coefficients of D (the compiled stability scans call it thousands of
    times per log density); the tests check the two agree.
    """
    b1 = c[2] - c[0] * c[3] / c[1]
    b2 = c[4] - c[0] * c[5] / c[1]
    d1 = c[3] - c[1] * b2 / b1
    d2 = c[5] - c[1] * c[6] / b1
    e1 = b2 - b1 * d2 / d1
    f1 = d2 - d1 * c[6] / e1
    return c[0], c[1], b1, d1, e1, f1, c[6]


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
        raise ModelError(
            f"Invalid value for the 'branch' parameter. Allowed values are 'upper' and 'lower', but got {branch!r} "
            f"instead."
        )
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
                "jrfit.dynamics.bifurcation.bifurcation) or use simulation (jrfit.simulators.column)."
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
    num, den = transfer_parts(freqs, v[..., None], _expand(params, 1))
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
