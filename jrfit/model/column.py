"""The Jansen-Rit column: sigmoid, right-hand side, Jacobian, fixed points.

Conventions follow ``docs/model.md`` (sections 1-3). The state is
``y = (y0, y1, y2, y3, y4, y5)`` with ``y3..y5`` the time derivatives of
``y0..y2`` (mV and mV/s); the EEG proxy is ``v = y1 - y2`` (mV)::

    y0'' = A a S(y1 - y2)            - 2a y0' - a^2 y0
    y1'' = A a (p + C2 S(C1 y0))     - 2a y1' - a^2 y1
    y2'' = B b C4 S(C3 y0)           - 2b y2' - b^2 y2
    S(v) = 2 e0 / (1 + exp(r (v0 - v)))

The formulas here (sigmoid, drift, operating-point map ``p(v)``) are written
once, with arithmetic and ``np.exp`` only, so that the same source serves three
back ends: NumPy arrays, PyTensor variables (``np.exp`` dispatches to PyTensor
through ``__array_ufunc__``, giving PyMC exact gradients) and numba kernels
(``register_jitable`` compiles them into the simulators).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from numba.extending import register_jitable
from jrfit.errors import ModelError
from jrfit.model.params import FIELDS, JRParams, constants

__all__ = [
    "sigmoid",
    "sigmoid_deriv",
    "drift",
    "drift_tangent",
    "unpack_constants",
    "rhs",
    "jacobian",
    "operating_point",
    "p_of_v",
    "dp_dv",
    "fixed_points",
    "FixedPoint",
    "eigenvalues",
    "is_stable",
    "fixed_point_states",
    "START_PERTURBATION",
]


# ----------------------------------------------------------------------------
# sigmoid
@register_jitable
def sigmoid(v, e0=2.5, r=0.56, v0=6.0):
    """Population firing rate S(v) = 2 e0 / (1 + exp(r (v0 - v))).

    Parameters
    ----------
    v : float | array | TensorVariable
        Mean membrane potential, in mV.
    e0 : float
        Half the maximum firing rate, in /s.
    r : float
        Steepness, in /mV.
    v0 : float
        Threshold, in mV.

    Returns
    -------
    rate : same type as ``v``
        Firing rate, in /s.
    """
    return 2.0 * e0 / (1.0 + np.exp(r * (v0 - v)))


@register_jitable
def sigmoid_deriv(v, e0=2.5, r=0.56, v0=6.0):
    """Derivative dS/dv = r S (1 - S / (2 e0)), in /s/mV."""
    s = sigmoid(v, e0, r, v0)
    return r * s * (1.0 - s / (2.0 * e0))


@register_jitable
def drift(y0, y1, y2, y3, y4, y5, p, A, B, a, b, C1, C2, C3, C4, e0, r, v0):
    """Deterministic right-hand side, elementwise (scalars, arrays or in numba).

    Returns the tuple ``(y0', y1', y2', y3', y4', y5')``; see the module
    docstring for the equations and units.
    """
    d3 = A * a * sigmoid(y1 - y2, e0, r, v0) - 2.0 * a * y3 - a * a * y0
    d4 = A * a * (p + C2 * sigmoid(C1 * y0, e0, r, v0)) - 2.0 * a * y4 - a * a * y1
    d5 = B * b * C4 * sigmoid(C3 * y0, e0, r, v0) - 2.0 * b * y5 - b * b * y2
    return y3, y4, y5, d3, d4, d5


@register_jitable
def unpack_constants(c):
    """The constants of a packed vector as a tuple (scalars, arrays or in numba).

    ``c`` holds :attr:`jrfit.model.params.JRParams.CONSTANTS` in that order
    (:meth:`jrfit.model.params.JRParams.pack`): ``(A, B, a, b, C1, C2, C3, C4,
    e0, r, v0)``, the trailing arguments of :func:`drift`, which every kernel
    passes as ``drift(..., p, *unpack_constants(c))``.
    """
    return c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]


@register_jitable
def _drift_parts(y, p, c):
    """Drift and the sigmoid terms its derivative needs (shared by the tangents)."""
    A, B, a, b, C1, C2, C3, C4, e0, r, v0 = unpack_constants(c)
    x1 = y[1] - y[2]
    s1 = sigmoid(x1, e0, r, v0)
    s2 = sigmoid(C1 * y[0], e0, r, v0)
    s3 = sigmoid(C3 * y[0], e0, r, v0)
    f3 = A * a * s1 - 2.0 * a * y[3] - a * a * y[0]
    f4 = A * a * (p + C2 * s2) - 2.0 * a * y[4] - a * a * y[1]
    f5 = B * b * C4 * s3 - 2.0 * b * y[5] - b * b * y[2]
    return (y[3], y[4], y[5], f3, f4, f5), (s1, s2, s3)


@register_jitable
def _tangent_from_parts(y, dy, p, dp, c, dc, sig):
    """Directional derivative of the drift given its sigmoid values ``sig``."""
    A, B, a, b, C1, C2, C3, C4, e0, r, v0 = unpack_constants(c)
    dA, dB, da, db, dC1, dC2, dC3, dC4, de0, dr, dv0 = unpack_constants(dc)
    s1, s2, s3 = sig
    x1, x2, x3 = y[1] - y[2], C1 * y[0], C3 * y[0]
    dx1, dx2, dx3 = dy[1] - dy[2], dC1 * y[0] + C1 * dy[0], dC3 * y[0] + C3 * dy[0]
    # dS = S (1 - S/2e0) (r dx - (v0 - x) dr - r dv0) + S de0 / e0
    ds1 = s1 * (1.0 - s1 / (2.0 * e0)) * (r * dx1 - (v0 - x1) * dr - r * dv0) + s1 * de0 / e0
    ds2 = s2 * (1.0 - s2 / (2.0 * e0)) * (r * dx2 - (v0 - x2) * dr - r * dv0) + s2 * de0 / e0
    ds3 = s3 * (1.0 - s3 / (2.0 * e0)) * (r * dx3 - (v0 - x3) * dr - r * dv0) + s3 * de0 / e0
    Aa, dAa = A * a, dA * a + A * da
    Bb, dBb = B * b, dB * b + B * db
    g3 = dAa * s1 + Aa * ds1 - 2.0 * (da * y[3] + a * dy[3]) - 2.0 * a * da * y[0] - a * a * dy[0]
    g4 = (
        dAa * (p + C2 * s2)
        + Aa * (dp + dC2 * s2 + C2 * ds2)
        - 2.0 * (da * y[4] + a * dy[4])
        - 2.0 * a * da * y[1]
        - a * a * dy[1]
    )
    g5 = (
        (dBb * C4 + Bb * dC4) * s3 + Bb * C4 * ds3 - 2.0 * (db * y[5] + b * dy[5]) - 2.0 * b * db * y[2] - b * b * dy[2]
    )
    return dy[3], dy[4], dy[5], g3, g4, g5


@register_jitable
def drift_tangent(y, dy, p, dp, c, dc):
    """Directional derivative of :func:`drift` (forward mode, for sensitivities).

    Parameters
    ----------
    y, dy : sequences of 6 floats
        State and its tangent.
    p, dp : float
        Input (/s) and its tangent.
    c, dc : sequences of 11 floats
        Constants ``(A, B, a, b, C1, C2, C3, C4, e0, r, v0)`` and their tangents.

    Returns
    -------
    f, df : tuples of 6 floats
        ``drift(y, p, c)`` and its derivative along ``(dy, dp, dc)``. The
        derivative is checked against the complex-step derivative of
        :func:`drift` itself in the tests, so the two cannot drift apart.
    """
    f, sig = _drift_parts(y, p, c)
    return f, _tangent_from_parts(y, dy, p, dp, c, dc, sig)


def _sig(params, v):
    return sigmoid(v, params.e0, params.r, params.v0)


def _dsig(params, v):
    return sigmoid_deriv(v, params.e0, params.r, params.v0)


# ----------------------------------------------------------------------------
# vector field
def rhs(y, params, p=None):
    """Right-hand side dy/dt of the deterministic column.

    Parameters
    ----------
    y : array, shape (6, ...)
        State (mV for y0..y2, mV/s for y3..y5); trailing axes broadcast
        against the parameters' batch shape.
    params : JRParams
        Parameters.
    p : float | array | None
        Input, in /s. Defaults to ``params.mu``.

    Returns
    -------
    dydt : ndarray, shape (6, ...)
    """
    P = params
    p = P.mu if p is None else p
    y = np.asarray(y, float)
    out = drift(*(y[i] for i in range(6)), p, *constants(P))
    return np.stack(np.broadcast_arrays(*out))


def jacobian(y, params):
    """The 6x6 Jacobian of :func:`rhs` at state ``y``.

    Parameters
    ----------
    y : array, shape (6, ...)
        State.
    params : JRParams
        Parameters.

    Returns
    -------
    J : ndarray, shape (..., 6, 6)
        Jacobian, in /s (rows of y3..y5 in /s^2 per unit state).
    """
    P = params
    y = np.asarray(y, float)
    y0, y1, y2 = y[0], y[1], y[2]
    g0 = _dsig(P, y1 - y2)
    g1 = _dsig(P, P.C1 * y0)
    g2 = _dsig(P, P.C3 * y0)
    shape = np.broadcast_shapes(np.shape(g0), np.shape(g1), P.batch_shape)
    J = np.zeros(shape + (6, 6))
    a = np.broadcast_to(P.a, shape)
    b = np.broadcast_to(P.b, shape)
    J[..., 0, 3] = J[..., 1, 4] = J[..., 2, 5] = 1.0
    J[..., 3, 0] = -(a**2)
    J[..., 3, 1] = P.A * P.a * g0
    J[..., 3, 2] = -P.A * P.a * g0
    J[..., 3, 3] = -2 * a
    J[..., 4, 0] = P.A * P.a * P.C2 * P.C1 * g1
    J[..., 4, 1] = -(a**2)
    J[..., 4, 4] = -2 * a
    J[..., 5, 0] = P.B * P.b * P.C4 * P.C3 * g2
    J[..., 5, 2] = -(b**2)
    J[..., 5, 5] = -2 * b
    return J


# ----------------------------------------------------------------------------
# operating point: everything follows from v = y1 - y2 at a fixed point
@register_jitable
def _operating_point_core(v, A, B, a, b, C1, C2, C3, C4, e0, r, v0):
    """(y0, y1, y2, p, g0, g1, g2) at operating potential v: the formulas of
    :func:`operating_point`, on plain values (NumPy, PyTensor, complex, numba)."""
    s_v = sigmoid(v, e0, r, v0)
    y0 = A / a * s_v
    s1 = sigmoid(C1 * y0, e0, r, v0)
    s2 = sigmoid(C3 * y0, e0, r, v0)
    y2 = B / b * C4 * s2
    y1 = v + y2
    p = a / A * y1 - C2 * s1
    g0 = sigmoid_deriv(v, e0, r, v0)
    g1 = sigmoid_deriv(C1 * y0, e0, r, v0)
    g2 = sigmoid_deriv(C3 * y0, e0, r, v0)
    return y0, y1, y2, p, g0, g1, g2


_OP_FIELDS = ("y0", "y1", "y2", "p", "g0", "g1", "g2")


def operating_point(v, params):
    """Fixed-point quantities as functions of the operating potential v.

    At a fixed point ``y0 = (A/a) S(v)``; the input that holds the column
    there is ``p(v)`` (docs/model.md, section 2). Works with NumPy and PyTensor.

    Parameters
    ----------
    v : float | array | TensorVariable
        Operating potential y1 - y2, in mV.
    params : JRParams | mapping
        Parameters (any object with the JRParams attribute names; values may
        be tensors).

    Returns
    -------
    op : dict
        ``y0, y1, y2`` (mV), ``p`` (/s), and the sigmoid gains
        ``g0 = S'(v)``, ``g1 = S'(C1 y0)``, ``g2 = S'(C3 y0)`` (/s/mV).
    """
    P = _attrs(params)
    vals = _operating_point_core(v, *constants(P))
    return dict(zip(_OP_FIELDS, vals))


def p_of_v(v, params):
    """Input p (in /s) that makes v (in mV) a fixed point: docs/model.md, section 2."""
    return operating_point(v, params)["p"]


def dp_dv(v, params, op=None):
    """Derivative dp/dv of :func:`p_of_v`, in /s/mV (exact, closed form).

    Its zeros are the saddle-node (fold) points of the fixed-point branch, and
    ``log|dp/dv|`` is the Jacobian term that keeps a prior stated on p when the
    operating point is parameterised by v.
    """
    P = _attrs(params)
    op = operating_point(v, params) if op is None else op
    return _dp_dv_core(P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, op["g0"], op["g1"], op["g2"])


@register_jitable
def _dp_dv_core(A, B, a, b, C1, C2, C3, C4, g0, g1, g2):
    """dp/dv from the sigmoid gains at the operating point (see :func:`dp_dv`)."""
    dy0 = A / a * g0
    return a / A * (1.0 + B / b * C4 * C3 * g2 * dy0) - C2 * C1 * g1 * dy0


class _Attrs:
    """Attribute view of a mapping, with the derived C1..C4."""

    def __init__(self, d):
        self.__dict__.update(d)
        for i in range(1, 5):
            key = f"C{i}"
            if key not in d:
                self.__dict__[key] = d[f"c{i}"] * d["C"]


def _attrs(params):
    if isinstance(params, JRParams):
        return params
    if isinstance(params, dict):
        return _Attrs(params)
    return params


# ----------------------------------------------------------------------------
# fixed points for a given p
@dataclass(frozen=True)
class FixedPoint:
    """One fixed point of the column.

    Attributes
    ----------
    v : float
        Operating potential y1 - y2, in mV.
    y : ndarray, shape (6,)
        Full state (mV, mV/s; the derivatives are zero).
    eigenvalues : ndarray, shape (6,)
        Jacobian eigenvalues, in /s (complex).
    stable : bool
        True if every eigenvalue has a negative real part.
    """

    v: float
    y: np.ndarray
    eigenvalues: np.ndarray
    stable: bool

    @property
    def kind(self):
        """'stable focus', 'stable node', 'saddle', 'unstable focus' or 'unstable node'."""
        ev = self.eigenvalues
        lead_complex = abs(ev[np.argmax(ev.real)].imag) > 1e-9
        if self.stable:
            return "stable focus" if lead_complex else "stable node"
        n_real_unstable = int(np.sum((ev.real > 0) & (np.abs(ev.imag) <= 1e-9)))
        if n_real_unstable % 2 == 1:
            return "saddle"
        return "unstable focus" if lead_complex else "unstable node"

    @property
    def frequency(self):
        """Frequency of the least damped complex eigenvalue pair, in Hz (nan if none)."""
        ev = self.eigenvalues
        cplx = ev[np.abs(ev.imag) > 1e-9]
        if cplx.size == 0:
            return float("nan")
        lead = cplx[np.argmax(cplx.real)]
        return abs(lead.imag) / (2 * np.pi)


def _state_from_v(v, params):
    op = operating_point(v, params)
    return np.array([op["y0"], op["y1"], op["y2"], 0.0, 0.0, 0.0], dtype=float)


def _single(params, what):
    if params.batch_shape:
        raise ModelError(
            f"{what} works on one parameter set; got a batch of shape "
            f"{params.batch_shape}. Loop over the batch (for p in params: ...)."
        )


def v_range(params):
    """A range of v (mV) that contains every fixed point of the column.

    At a fixed point ``y1 - y2 = (A/a)(p + C2 S) - (B/b) C4 S`` with
    ``0 < S < 2 e0``, so the fixed points for input p lie in a bounded interval.
    """
    P = params
    lo = -(P.B / P.b) * P.C4 * 2 * P.e0
    hi = (P.A / P.a) * P.C2 * 2 * P.e0
    return lo, hi


def fixed_points(params, p=None, n_grid=20001):
    """Every fixed point of one column for input p.

    Uses the explicit operating-point map p(v): the fixed points are the roots
    of ``p(v) - p``, bracketed on a fine grid of v and refined with Brent's
    method (docs/model.md, section 2).

    Parameters
    ----------
    params : JRParams
        One parameter set.
    p : float | None
        Constant input, in /s (default ``params.mu``).
    n_grid : int
        Grid points used to bracket the roots.

    Returns
    -------
    points : list of FixedPoint
        Sorted by v (lowest first).
    """
    _single(params, "fixed_points")
    P = params
    p = float(P.mu if p is None else p)
    if P.A == 0:
        # no excitation: y0 = y1 = 0, v = -(B/b) C4 S(0)
        v = -(P.B / P.b) * P.C4 * float(_sig(P, 0.0))
        y = np.array([0.0, 0.0, -v, 0, 0, 0], float)
        return [_make_fp(v, y, P)]
    lo, hi = v_range(P)
    lo += (P.A / P.a) * min(p, 0.0) - 1.0
    hi += (P.A / P.a) * max(p, 0.0) + 1.0
    grid = np.linspace(lo, hi, n_grid)
    f = p_of_v(grid, P) - p
    roots = []
    for i in np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) <= 0):
        if f[i] == 0:
            roots.append(grid[i])
            continue
        if f[i + 1] == 0:
            continue
        roots.append(brentq(lambda v: p_of_v(v, P) - p, grid[i], grid[i + 1], xtol=1e-13, rtol=1e-15))
    out = []
    for v in sorted(set(roots)):
        y = _state_from_v(v, P)
        out.append(_make_fp(v, y, P))
    return out


def _make_fp(v, y, P):
    ev = np.linalg.eigvals(jacobian(y, P))
    ev = ev[np.argsort(-ev.real)]
    return FixedPoint(v=float(v), y=y, eigenvalues=ev, stable=bool(np.all(ev.real < 0)))


def eigenvalues(v, params):
    """Jacobian eigenvalues at the fixed point with operating potential v.

    Parameters
    ----------
    v : float | array
        Operating potential(s), in mV; broadcast against the batch shape.
    params : JRParams

    Returns
    -------
    ev : ndarray, shape (..., 6)
        Complex eigenvalues in /s, sorted by decreasing real part.
    """
    y = _state_from_v_batch(v, params)
    ev = np.linalg.eigvals(jacobian(y, params))
    order = np.argsort(-ev.real, axis=-1)
    return np.take_along_axis(ev, order, axis=-1)


def _state_from_v_batch(v, params):
    op = operating_point(np.asarray(v, float), params)
    y0, y1, y2 = np.broadcast_arrays(op["y0"], op["y1"], op["y2"])
    z = np.zeros_like(y0)
    return np.stack([y0, y1, y2, z, z, z])


def is_stable(v, params):
    """True where the fixed point at operating potential v (mV) is stable."""
    return np.all(eigenvalues(v, params).real < 0, axis=-1)


# ----------------------------------------------------------------------------
# start states of a batch
START_PERTURBATION = 1.0
"""mV added to y1 of a column started at an unstable fixed point (so that it leaves it)."""


def _flat_attrs(flat, idx):
    """Fields of the columns ``idx`` of a flat dict, as (len(idx), 1) arrays, with C1..C4."""
    d = {k: flat[k][idx][:, None] for k in FIELDS}
    for i in (1, 2, 3, 4):
        d[f"C{i}"] = d[f"c{i}"] * d["C"]
    return d


def fixed_point_states(flat, p, n_grid=2001, chunk=32):
    """Start states at the stable fixed point for constant input p, per column.

    Vectorised version of ``fixed_points`` + ``stable_v(branch='upper')``:
    the roots of ``p(v) - p`` are bracketed on a grid of v and refined by
    bisection (to rounding), and the stable one with the highest v is taken.
    Columns without a stable fixed point (limit cycle) start at the fixed point
    with the highest v, with y1 raised by 1 mV so that they leave it.

    Returns
    -------
    y : ndarray, shape (6, n)
    stable : ndarray of bool, shape (n,)
    """
    keys = np.column_stack([flat[k] for k in FIELDS] + [p])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    uf = {k: uniq[:, j] for j, k in enumerate(FIELDS)}
    up = uniq[:, -1]
    nu = uniq.shape[0]
    y_u = np.zeros((6, nu))
    stable_u = np.zeros(nu, bool)
    zero_a = uf["A"] == 0
    for i in np.flatnonzero(zero_a):  # closed form in fixed_points
        fp = fixed_points(JRParams(**{k: uf[k][i] for k in FIELDS}), p=up[i])[0]
        y_u[:, i] = fp.y
        stable_u[i] = fp.stable
    # bracket the roots of p(v) - p on a grid of v (in chunks of columns)
    t = np.linspace(0.0, 1.0, n_grid)
    todo = np.flatnonzero(~zero_a)
    br_col, br_lo, br_hi, br_pos = [], [], [], []
    for start in range(0, todo.size, chunk):
        idx = todo[start : start + chunk]
        P = _flat_attrs(uf, idx)
        pc = up[idx][:, None]
        lo, hi = v_range(_Attrs(P))
        lo = lo + P["A"] / P["a"] * np.minimum(pc, 0.0) - 1.0
        hi = hi + P["A"] / P["a"] * np.maximum(pc, 0.0) + 1.0
        grid = lo + (hi - lo) * t
        pos = (p_of_v(grid, P) - pc) > 0
        rows, cols = np.nonzero(pos[:, :-1] != pos[:, 1:])
        br_col.append(idx[rows])
        br_lo.append(grid[rows, cols])
        br_hi.append(grid[rows, cols + 1])
        br_pos.append(pos[rows, cols])
    col = np.concatenate(br_col + [np.zeros(0, int)])
    vl, vh = np.concatenate(br_lo + [np.zeros(0)]), np.concatenate(br_hi + [np.zeros(0)])
    sl = np.concatenate(br_pos + [np.zeros(0, bool)])
    # refine all roots together by bisection, to rounding
    Pr = _flat_attrs(uf, col)
    Pr = {k: val[:, 0] for k, val in Pr.items()}
    pr = up[col]
    for _ in range(200):
        vm = 0.5 * (vl + vh)
        done = (vm == vl) | (vm == vh)
        if np.all(done):
            break
        same = ((p_of_v(vm, Pr) - pr) > 0) == sl
        vl = np.where(same & ~done, vm, vl)
        vh = np.where(~same & ~done, vm, vh)
    roots = 0.5 * (vl + vh)
    st = np.asarray(is_stable(roots, JRParams(**{k: Pr[k] for k in FIELDS})), bool)
    # per column: the stable root with the highest v, else the highest root
    v_sel = np.full(nu, np.nan)
    for i in todo:
        mine = col == i
        if not np.any(mine):  # cannot happen (p(v) - p changes sign); be safe
            raise ModelError(f"No fixed point found for a column with p={up[i]:g} /s.")
        v_all, s_all = roots[mine], st[mine]
        stable_u[i] = np.any(s_all)
        v_sel[i] = v_all[s_all].max() if stable_u[i] else v_all.max()
    if todo.size:
        Pt = _flat_attrs(uf, todo)
        op = operating_point(v_sel[todo], {k: val[:, 0] for k, val in Pt.items()})
        y_u[0, todo], y_u[1, todo], y_u[2, todo] = op["y0"], op["y1"], op["y2"]
    unstable = ~stable_u
    y_u[1, unstable] += START_PERTURBATION
    return y_u[:, inverse], stable_u[inverse]
