"""Dynamics of the Jansen-Rit column: bifurcation diagram, limit cycles, regimes.

The deterministic column (constant input p, docs/model.md, sections 1, 2 and 5)
has fixed points, one value of ``v = y1 - y2`` each, given explicitly by the
operating-point map ``p(v)`` (:func:`jrfit.model.column.p_of_v`), and limit cycles.
This module computes

* :func:`bifurcation`: the one-parameter diagram in p: fixed-point branches
  with their stability, the special points (Hopf points with their frequency
  and criticality, saddle-node folds, folds of limit cycles), and the
  limit-cycle branches (amplitude and frequency), both as simulated attractors
  and as continued periodic orbits, stable and unstable;
* :func:`limit_cycle`: one periodic orbit, accurately (shooting);
* :func:`regime`: a cheap label for any parameter set (or a batch, e.g.
  posterior draws).

Numerical methods
-----------------
Fixed points are sampled along ``p(v)``, so no root finder is needed and every
branch is covered; folds are the zeros of :func:`jrfit.model.column.dp_dv` (Brent).
Hopf points are the zeros of the Hurwitz determinant ``Delta_5`` of the
characteristic polynomial D(s) (:func:`jrfit.model.spectrum.char_poly_coeffs`),
where a pair of eigenvalues sums to zero; a point is kept as a Hopf point when
that pair is ``+- i omega``. Criticality follows from the sign of the first
Lyapunov coefficient (Kuznetsov 2004, eq. 3.20), whose second- and third-order
derivatives are Taylor coefficients of :func:`jrfit.model.column.drift` obtained by a
two-dimensional Cauchy integral (drift accepts complex states).

Periodic orbits are computed by single shooting: the flow and its derivatives
with respect to the initial state (monodromy matrix), the period and p are
integrated together by a classical fourth-order Runge-Kutta scheme compiled
with numba. The variational equations are not written out: Jacobian-vector
products are complex-step derivatives of :func:`jrfit.model.column.drift`, exact to
rounding. Cycle branches are continued by pseudo-arclength in
``(x0, log T, p)`` with a Poincare phase condition, and a fold of cycles is
the point where the tangent's p-component vanishes (refined by Brent's
method). Attractors are found by simulation with the same RK4 integrator at
``dt = 0.1 ms``, started at rest, off every unstable fixed point and from the
attractors found at the neighbouring p (sweeps up and down in p), so that
coexisting attractors are found; each cycle found is then polished by
Newton's method and kept if its Floquet multipliers say it is stable. The
continued branches are seeded from these attractors, so they also cover the
unstable cycles (e.g. the one joining the spike-like cycle at its fold).

Regimes
-------
See :func:`regime` for the definitions ('quiescent node', 'quiescent focus',
'noise-driven oscillatory focus', 'alpha limit cycle', 'spike-like cycle',
'runaway').
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.linalg import lu_factor, lu_solve
from scipy.optimize import brentq

from jrfit.utils.check import check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import (
    dp_dv,
    drift,
    eigenvalues,
    fixed_points,
    jacobian,
    operating_point,
    p_of_v,
    sigmoid,
    v_range,
)
from jrfit.model.params import JRParams
from jrfit.model.spectrum import char_poly_coeffs

__all__ = [
    "bifurcation",
    "Bifurcation",
    "FixedPointBranch",
    "SpecialPoint",
    "CycleBranch",
    "limit_cycle",
    "LimitCycle",
    "regime",
    "Regime",
    "REGIMES",
    "hurwitz_determinant",
    "first_lyapunov",
]

REGIMES = (
    "quiescent node",
    "quiescent focus",
    "noise-driven oscillatory focus",
    "alpha limit cycle",
    "spike-like cycle",
    "runaway",
)
"""Every label that :func:`regime` can return."""

# A cycle whose frequency is below this fraction of the linear frequency of the
# upper (active) focus is spike-like; at or above it, it is the alpha cycle.
_SPIKE_FREQ_RATIO = 0.6
_JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
_CS_EPS = 1e-20  # complex-step size


# =============================================================================
# numba kernels (the equations come from jrfit.model.column.drift only)
def _pack(P):
    """Parameters in the order the kernels use (A, B, a, b, C1..C4, e0, r, v0)."""
    return np.array([P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0], dtype=float)


@njit(**_JIT)
def _f(y, p, c, out):
    """out = drift(y) (real)."""
    d = drift(y[0], y[1], y[2], y[3], y[4], y[5], p, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10])
    for k in range(6):
        out[k] = d[k]


@njit(**_JIT)
def _jvp(y, z, p, zp, c, out, scale):
    """out = scale * (J(y) z + (d drift / dp) zp), by the complex step."""
    e = _CS_EPS
    d = drift(
        y[0] + 1j * e * z[0],
        y[1] + 1j * e * z[1],
        y[2] + 1j * e * z[2],
        y[3] + 1j * e * z[3],
        y[4] + 1j * e * z[4],
        y[5] + 1j * e * z[5],
        p + 1j * e * zp,
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        c[7],
        c[8],
        c[9],
        c[10],
    )
    for k in range(6):
        out[k] = scale * d[k].imag / e


@njit(**_JIT)
def _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp):
    _f(y, p, c, k1)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k1[i]
    _f(tmp, p, c, k2)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k2[i]
    _f(tmp, p, c, k3)
    for i in range(6):
        tmp[i] = y[i] + h * k3[i]
    _f(tmp, p, c, k4)
    for i in range(6):
        y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])


@njit(**_JIT)
def _rk4_states(y_init, p, c, h, n):
    """RK4 trajectory: states at steps 0..n, shape (n + 1, 6)."""
    y = y_init.copy()
    out = np.empty((n + 1, 6))
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    out[0] = y
    for j in range(n):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        out[j + 1] = y
    return out


@njit(**_JIT)
def _flow(y_init, p, c, T, n):
    """End state of n RK4 steps of T / n (the same map as row 0 of _shoot)."""
    y = y_init.copy()
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    h = T / n
    for _ in range(n):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
    return y


@njit(**_JIT)
def _rk4_stats(y_init, p, c, h, n_transient, n_measure):
    """Run a transient, then measure the attractor reached.

    Window 1 (n_measure steps) gives the extremes of v and the mid level; window
    2 (n_measure steps) gives the extremes again and the upward crossings of the
    mid level (linear interpolation in time).

    Returns
    -------
    y_end, stats, y_cross
        ``stats = (vmax1, vmin1, vmax2, vmin2, n_cross, t_first, t_last, finite)``
        and the state just after the last upward crossing.
    """
    y = y_init.copy()
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    y_cross = y.copy()
    stats = np.full(8, np.nan)
    for _ in range(n_transient):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
    if not np.all(np.isfinite(y)):
        stats[7] = 0.0
        return y, stats, y_cross
    vmax1 = -np.inf
    vmin1 = np.inf
    for _ in range(n_measure):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        v = y[1] - y[2]
        vmax1 = max(vmax1, v)
        vmin1 = min(vmin1, v)
    mid = 0.5 * (vmax1 + vmin1)
    vmax2 = -np.inf
    vmin2 = np.inf
    n_cross = 0
    t_first = np.nan
    t_last = np.nan
    v_prev = y[1] - y[2]
    for j in range(n_measure):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        v = y[1] - y[2]
        vmax2 = max(vmax2, v)
        vmin2 = min(vmin2, v)
        if v_prev < mid and v >= mid:
            t = (j + (mid - v_prev) / (v - v_prev)) * h
            if n_cross == 0:
                t_first = t
            t_last = t
            n_cross += 1
            for i in range(6):
                y_cross[i] = y[i]
        v_prev = v
    stats[0] = vmax1
    stats[1] = vmin1
    stats[2] = vmax2
    stats[3] = vmin2
    stats[4] = n_cross
    stats[5] = t_first
    stats[6] = t_last
    stats[7] = 1.0 if np.all(np.isfinite(y)) else 0.0
    return y, stats, y_cross


@njit(**_JIT)
def _aug_deriv(Z, T, p, c, out, fy):
    """Time-rescaled flow and its derivatives, s in [0, 1].

    Rows of Z: 0 the state y, 1..6 the columns of dy/dx0, 7 dy/dT, 8 dy/dp.
    dy/ds = T f; dY/ds = T J Y; dyT/ds = f + T J yT; dyp/ds = T (J yp + f_p).
    """
    _f(Z[0], p, c, fy)
    for k in range(6):
        out[0, k] = T * fy[k]
    for j in range(1, 7):
        _jvp(Z[0], Z[j], p, 0.0, c, out[j], T)
    _jvp(Z[0], Z[7], p, 0.0, c, out[7], T)
    for k in range(6):
        out[7, k] += fy[k]
    _jvp(Z[0], Z[8], p, 1.0, c, out[8], T)


@njit(**_JIT)
def _shoot(x0, T, p, c, n):
    """Flow over one period T and its derivatives (RK4, n steps of T/n).

    RK4 applied to the augmented system gives the exact derivatives of the
    discrete map, so Newton's method converges quadratically.

    Returns
    -------
    Z : ndarray, shape (9, 6)
        Row 0: phi(x0, T, p); rows 1..6: columns of the monodromy matrix;
        row 7: d phi / dT; row 8: d phi / dp.
    """
    Z = np.zeros((9, 6))
    for k in range(6):
        Z[0, k] = x0[k]
        Z[1 + k, k] = 1.0
    K1 = np.empty((9, 6))
    K2 = np.empty((9, 6))
    K3 = np.empty((9, 6))
    K4 = np.empty((9, 6))
    tmp = np.empty((9, 6))
    fy = np.empty(6)
    h = 1.0 / n
    for _ in range(n):
        _aug_deriv(Z, T, p, c, K1, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + 0.5 * h * K1[i, k]
        _aug_deriv(tmp, T, p, c, K2, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + 0.5 * h * K2[i, k]
        _aug_deriv(tmp, T, p, c, K3, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + h * K3[i, k]
        _aug_deriv(tmp, T, p, c, K4, fy)
        for i in range(9):
            for k in range(6):
                Z[i, k] += h / 6.0 * (K1[i, k] + 2.0 * K2[i, k] + 2.0 * K3[i, k] + K4[i, k])
    return Z


def _drift_np(y, p, P):
    """drift for NumPy arrays (real or complex), stacked, shape (6, ...)."""
    out = drift(*(y[i] for i in range(6)), p, P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0)
    return np.stack(np.broadcast_arrays(*out))


# =============================================================================
# result containers
@dataclass(frozen=True)
class FixedPointBranch:
    """One monotone piece of the fixed-point curve, between folds.

    Attributes
    ----------
    v : ndarray, shape (n,)
        Operating potential y1 - y2, in mV.
    p : ndarray, shape (n,)
        Input that holds the column at v, ``p(v)``, in /s.
    eigenvalues : ndarray, shape (n, 6)
        Jacobian eigenvalues (complex, /s), by decreasing real part.
    stable : ndarray of bool, shape (n,)
        True where every eigenvalue has a negative real part.
    """

    v: np.ndarray
    p: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray

    @property
    def max_real(self):
        """Largest real part of the eigenvalues, in /s, shape (n,)."""
        return self.eigenvalues[:, 0].real

    @property
    def frequency(self):
        """Frequency of the leading eigenvalue, in Hz: nan where it is real.

        Where the leading (largest real part) eigenvalue is a complex pair
        (a focus), this is the frequency a noise-driven spectrum peaks at.
        """
        lead = self.eigenvalues[:, 0]
        return np.where(np.abs(lead.imag) > 1e-9, np.abs(lead.imag) / (2 * np.pi), np.nan)

    def segments(self):
        """Split into runs of equal stability: list of (slice, stable)."""
        out = []
        s = self.stable
        start = 0
        for i in range(1, len(s) + 1):
            if i == len(s) or s[i] != s[start]:
                out.append((slice(start, i), bool(s[start])))
                start = i
        return out


@dataclass(frozen=True)
class SpecialPoint:
    """A bifurcation point of the diagram.

    Attributes
    ----------
    kind : str
        'hopf', 'fold' (saddle-node of fixed points) or 'fold_cycles'
        (saddle-node of limit cycles).
    p : float
        Input at the point, in /s.
    v : float
        Operating potential y1 - y2, in mV (fixed-point points), or the
        midpoint of the cycle's extremes of v (fold of cycles).
    frequency : float
        Hopf: frequency of the critical eigenvalue pair, in Hz; fold of cycles:
        frequency of the cycle, in Hz; fold: nan.
    criticality : str
        Hopf: 'supercritical' or 'subcritical'; fold: 'SNIC' (saddle-node on
        an invariant circle: a cycle of infinite period is born) or
        'saddle-node'; fold of cycles: 'saddle-node of cycles'.
    lyapunov : float
        First Lyapunov coefficient at a Hopf point (sign gives the criticality;
        its magnitude depends on the normalisation); nan elsewhere.
    v_max, v_min : float
        Extremes of v on the cycle at a fold of cycles, in mV (else equal to v).
    cycle : str
        At a fold of cycles, the kind of the cycle ('spike-like cycle' or
        'alpha limit cycle'); '' elsewhere.
    """

    kind: str
    p: float
    v: float
    frequency: float = float("nan")
    criticality: str = ""
    lyapunov: float = float("nan")
    v_max: float = float("nan")
    v_min: float = float("nan")
    cycle: str = ""

    @property
    def label(self):
        """Short label: 'H', 'SN', 'SNIC' or 'LPC'."""
        if self.kind == "hopf":
            return "H"
        if self.kind == "fold":
            return "SNIC" if self.criticality == "SNIC" else "SN"
        return "LPC"

    def __str__(self):
        extra = []
        if np.isfinite(self.frequency):
            extra.append(f"{self.frequency:.2f} Hz")
        if self.criticality:
            extra.append(self.criticality)
        return f"{self.label:4s} p = {self.p:8.3f} /s, v = {self.v:7.3f} mV" + (
            " (" + ", ".join(extra) + ")" if extra else ""
        )


class _CycleMeasures:
    """Frequency and amplitude from ``period`` (s), ``v_max`` and ``v_min`` (mV)."""

    @property
    def frequency(self):
        """Frequency, in Hz."""
        return 1.0 / self.period

    @property
    def peak_to_peak(self):
        """Peak-to-peak amplitude of v, in mV."""
        return self.v_max - self.v_min


@dataclass(frozen=True)
class CycleBranch(_CycleMeasures):
    """A branch of limit cycles.

    Attributes
    ----------
    kind : str
        'alpha limit cycle' or 'spike-like cycle': for a continued branch, the
        kind of the simulated attractor it was continued from (along a branch
        a cycle can change character; e.g. for some parameters a cycle born
        at a SNIC turns into a fast, alpha-like cycle at larger p).
    p : ndarray, shape (n,)
        Input, in /s.
    period : ndarray, shape (n,)
        Period, in s.
    v_max, v_min : ndarray, shape (n,)
        Extremes of v = y1 - y2 over one period, in mV.
    stable : ndarray of bool, shape (n,)
        Orbital stability (every non-trivial Floquet multiplier inside the
        unit circle). Simulated attractors are stable by construction.
    source : str
        'continuation' (pseudo-arclength continuation by shooting) or
        'simulation' (attractors reached by RK4 simulation at dt = 0.1 ms on a
        grid of p, then polished by Newton's method: the values are those of
        the exact orbit, not of a finite transient).
    multipliers : ndarray, shape (n, 6) | None
        Floquet multipliers (continuation only).
    """

    kind: str
    p: np.ndarray
    period: np.ndarray
    v_max: np.ndarray
    v_min: np.ndarray
    stable: np.ndarray
    source: str
    multipliers: np.ndarray | None = None


@dataclass(frozen=True)
class Bifurcation:
    """One-parameter bifurcation diagram of the column in the input p.

    Attributes
    ----------
    params : JRParams
        Parameters (``mu`` is ignored: p is the bifurcation parameter).
    p_range : tuple of float
        Range of p, in /s.
    branches : tuple of FixedPointBranch
        Fixed-point branches (monotone pieces of p(v) between folds), by v.
    points : tuple of SpecialPoint
        Hopf points, folds and folds of cycles, sorted by p.
    cycles : tuple of CycleBranch
        Continued limit-cycle branches (stable and unstable parts).
    simulated : tuple of CycleBranch
        Limit-cycle attractors found by simulation on a grid of p.
    """

    params: JRParams
    p_range: tuple
    branches: tuple
    points: tuple
    cycles: tuple = ()
    simulated: tuple = ()

    def select(self, kind):
        """Special points of one kind ('hopf', 'fold' or 'fold_cycles')."""
        if kind not in ("hopf", "fold", "fold_cycles"):
            raise JRFitError(
                "Invalid value for the 'kind' parameter. Allowed values are 'hopf', "
                f"'fold' and 'fold_cycles', but got {kind!r} instead."
            )
        return tuple(pt for pt in self.points if pt.kind == kind)

    @property
    def hopf(self):
        """Hopf points, sorted by p."""
        return self.select("hopf")

    @property
    def folds(self):
        """Saddle-node folds of fixed points, sorted by p."""
        return self.select("fold")

    @property
    def fold_cycles(self):
        """Folds of limit cycles, sorted by p."""
        return self.select("fold_cycles")

    def summary(self):
        """Multi-line text listing the special points."""
        lines = [f"Bifurcation diagram for p in [{self.p_range[0]:g}, {self.p_range[1]:g}] /s:"]
        lines += ["  " + str(pt) for pt in self.points]
        for cb in self.cycles:
            lines.append(
                f"  {cb.kind} ({cb.source}): p in [{cb.p.min():.2f}, {cb.p.max():.2f}] /s, "
                f"{cb.frequency.min():.2f}-{cb.frequency.max():.2f} Hz, up to "
                f"{cb.peak_to_peak.max():.2f} mV peak to peak"
            )
        return "\n".join(lines)

    def __repr__(self):
        return (
            f"<Bifurcation | p in [{self.p_range[0]:g}, {self.p_range[1]:g}] /s, "
            f"{len(self.hopf)} Hopf, {len(self.folds)} fold, "
            f"{len(self.fold_cycles)} fold of cycles, {len(self.cycles)} cycle branch(es)>"
        )

    def plot(self, ax=None, **kwargs):
        """Plot the diagram; see :func:`jrfit.viz.figures.plot_bifurcation`."""
        from jrfit.viz.figures import plot_bifurcation

        return plot_bifurcation(self, ax=ax, **kwargs)


@dataclass(frozen=True)
class LimitCycle(_CycleMeasures):
    """One periodic orbit of the column.

    Attributes
    ----------
    p : float
        Input, in /s.
    period : float
        Period, in s.
    v_max, v_min : float
        Extremes of v = y1 - y2, in mV.
    y0 : ndarray, shape (6,)
        A state on the orbit (the one with the largest v).
    multipliers : ndarray, shape (6,)
        Floquet multipliers (one of them is 1 up to rounding).
    stable : bool
        Orbitally stable.
    kind : str
        'alpha limit cycle' or 'spike-like cycle' (see :func:`regime`).
    t : ndarray, shape (n,)
        Times over one period starting at ``y0``, in s.
    v : ndarray, shape (n,)
        v along the orbit, in mV.
    """

    p: float
    period: float
    v_max: float
    v_min: float
    y0: np.ndarray
    multipliers: np.ndarray
    stable: bool
    kind: str
    t: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Regime:
    """Dynamical regime of one parameter set (see :func:`regime`).

    Attributes
    ----------
    label : str
        One of :data:`REGIMES`.
    p : float
        Input, in /s.
    v : float
        Operating potential of the fixed point the label refers to, in mV (nan
        for a limit cycle).
    frequency : float
        Fixed point: frequency of the leading eigenvalue pair (nan for a node);
        cycle: its frequency (nan when the period exceeds the simulated window).
        In Hz.
    quality : float
        Quality factor ``Q = |Im lambda| / (2 |Re lambda|)`` of the leading
        eigenvalue pair of the fixed point (nan for a node or a cycle).
    peak_to_peak : float
        Peak-to-peak amplitude of v on the cycle, in mV (0 at a fixed point).
    n_fixed_points : int
        Number of fixed points at this p.
    n_stable : int
        Number of stable fixed points.
    coexisting : tuple of str
        Labels of other attractors found (other stable fixed points; cycles
        only when they were simulated).
    """

    label: str
    p: float
    v: float = float("nan")
    frequency: float = float("nan")
    quality: float = float("nan")
    peak_to_peak: float = 0.0
    n_fixed_points: int = 0
    n_stable: int = 0
    coexisting: tuple = ()

    def __str__(self):
        return self.label


# =============================================================================
# helpers
def _check_params(params, what):
    if params is None:
        return JRParams()
    if not isinstance(params, JRParams):
        raise JRFitError(f"'params' must be a JRParams instance, got {type(params).__name__}.")
    if params.batch_shape:
        raise ModelError(
            f"{what} works on one parameter set; got a batch of shape "
            f"{params.batch_shape}. Loop over the batch (for p in params: ...)."
        )
    return params


def _state(v, P):
    op = operating_point(float(v), P)
    return np.array([op["y0"], op["y1"], op["y2"], 0.0, 0.0, 0.0])


def _vscale(P):
    """Scale of state components: y3..y5 (mV/s) divided by the rates -> mV."""
    return np.array([1.0, 1.0, 1.0, 1.0 / P.a, 1.0 / P.a, 1.0 / P.b])


def _roots(fun, grid, vals):
    """Brent-refined roots of fun between sign changes of vals on grid."""
    out = []
    s = np.sign(vals)
    for i in np.flatnonzero(s[:-1] * s[1:] < 0):
        out.append(brentq(fun, grid[i], grid[i + 1], xtol=1e-14, rtol=4 * np.finfo(float).eps))
    for i in np.flatnonzero(s == 0):
        out.append(float(grid[i]))
    return sorted(out)


def hurwitz_determinant(v, params, order=None):
    """Hurwitz determinant of the characteristic polynomial D(s) at v.

    ``Delta_{n-1}`` (n = 6) vanishes where two eigenvalues sum to zero, i.e.
    at a Hopf point (``+- i omega``) or a neutral saddle; with all
    coefficients of D positive, the fixed point is stable iff every Hurwitz
    determinant is positive. The product of the first k entries of
    :func:`jrfit.model.spectrum.routh_hurwitz` equals ``Delta_k``. The polynomial is
    rescaled (``s -> a s``) first, which keeps the sign.

    Parameters
    ----------
    v : float | array
        Operating potential(s), in mV.
    params : JRParams
        One parameter set.
    order : int | None
        Which determinant (1..6); default 5 (``Delta_{n-1}``).

    Returns
    -------
    delta : float | ndarray
        Same shape as ``v`` (dimensionless after rescaling).
    """
    v = np.asarray(v, float)
    coeffs = char_poly_coeffs(v, params)
    n = len(coeffs) - 1
    order = n - 1 if order is None else int(order)
    scale = float(params.a)
    c = [np.broadcast_to(np.asarray(ck, float) / scale**k, v.shape) for k, ck in enumerate(coeffs)]
    H = np.zeros(v.shape + (order, order))
    for i in range(order):
        for j in range(order):
            k = 2 * (j + 1) - (i + 1)
            if 0 <= k <= n:
                H[..., i, j] = c[k]
    return np.linalg.det(H)


def _taylor2(ystar, pstar, P, u, w, n=16):
    """Taylor coefficients c[m, k] of g(t, s) = drift(y* + t u + s w).

    ``c[1, 1] = D^2 f[u, w]`` and ``c[2, 1] = D^3 f[u, u, w] / 2``. The
    coefficients come from a 2-D Cauchy integral on circles of radius rho
    (trapezoidal rule, exact to rounding for this entire-in-a-disc function).
    """

    def scale(x):
        x = np.asarray(x, complex)
        s = max(abs(x[1] - x[2]), abs(P.C1 * x[0]), abs(P.C3 * x[0]), np.abs(x[:3]).max(), 1e-300)
        return x / s, s

    un, su = scale(u)
    wn, sw = scale(w)
    rho = 0.5  # mV: far inside the poles of the sigmoid (|Im| = pi / r)
    z = rho * np.exp(2j * np.pi * np.arange(n) / n)
    T, S = np.meshgrid(z, z, indexing="ij")
    Y = ystar[:, None, None] + T[None] * un[:, None, None] + S[None] * wn[:, None, None]
    g = _drift_np(Y, pstar, P)
    c = np.fft.fft2(g, axes=(1, 2)) / n**2
    m = np.arange(n)
    c = c / (rho ** (m[:, None] + m[None, :]))[None]
    c = c * (su ** m[:, None] * sw ** m[None, :])[None]
    return np.moveaxis(c, 0, -1)  # (n, n, 6)


def first_lyapunov(v, params):
    """First Lyapunov coefficient of the Hopf point at operating potential v.

    Kuznetsov (2004), eq. 3.20: with ``J q = i omega q``,
    ``J^T p = -i omega p`` and ``<p, q> = 1``,
    ``l1 = Re[<p, C(q,q,qb)> - 2 <p, B(q, J^-1 B(q,qb))>
    + <p, B(qb, (2 i omega - J)^-1 B(q,q))>] / (2 omega)``.
    Negative: supercritical (a stable cycle is born on the side where the
    fixed point is unstable); positive: subcritical.

    Parameters
    ----------
    v : float
        Operating potential of the Hopf point, in mV (e.g. from
        :func:`bifurcation`).
    params : JRParams
        One parameter set.

    Returns
    -------
    l1 : float
        In units of (mV)^-2 /s for the eigenvector normalisation used; only
        its sign is meaningful.
    """
    P = _check_params(params, "first_lyapunov")
    y = _state(v, P)
    ps = float(p_of_v(v, P))
    J = jacobian(y, P)
    ev, V = np.linalg.eig(J)
    i = np.argmin(np.abs(ev.real) + (ev.imag <= 0) * 1e300)
    omega = ev[i].imag
    if not omega > 0:
        raise ModelError(f"No complex eigenvalue pair at v = {v} mV: not a Hopf point.")
    q = V[:, i]
    q = q / np.linalg.norm(q)
    evT, VT = np.linalg.eig(J.T)
    k = np.argmin(np.abs(evT - (-1j * omega)))
    pv = VT[:, k]
    pv = pv / np.vdot(pv, q).conj()  # <p, q> = sum(conj(p) q) = 1

    def B(x, w):
        return _taylor2(y, ps, P, x, w)[1, 1]

    def C3(x, w):  # D^3 f[x, x, w]
        return 2.0 * _taylor2(y, ps, P, x, w)[2, 1]

    qb = q.conj()
    Bqqb = B(q, qb).real
    Bqq = B(q, q)
    a = np.linalg.solve(J, Bqqb)
    b = np.linalg.solve(2j * omega * np.eye(6) - J, Bqq)
    val = np.vdot(pv, C3(q, qb)) - 2.0 * np.vdot(pv, B(q, a)) + np.vdot(pv, B(qb, b))
    return float(val.real / (2.0 * omega))


# =============================================================================
# fixed-point branches and their special points
def _fixed_point_branches(P, p_range, n_points):
    pmin, pmax = p_range
    lo, hi = v_range(P)
    lo += (P.A / P.a) * min(pmin, 0.0) - 1.0
    hi += (P.A / P.a) * max(pmax, 0.0) + 1.0
    vg = np.linspace(lo, hi, 40001)
    pg = p_of_v(vg, P)
    dg = dp_dv(vg, P)
    folds = _roots(lambda x: dp_dv(x, P), vg, dg)
    cuts = [lo, hi] + folds
    for pb in (pmin, pmax):
        cuts += _roots(lambda x, pb=pb: p_of_v(x, P) - pb, vg, pg - pb)
    cuts = np.unique(cuts)
    pieces = []
    for v1, v2 in zip(cuts[:-1], cuts[1:]):
        pm = p_of_v(0.5 * (v1 + v2), P)
        if pmin <= pm <= pmax and v2 - v1 > 1e-12:
            pieces.append((v1, v2))
    if not pieces:
        raise ModelError(
            f"No fixed point has p in [{pmin}, {pmax}] /s; widen 'p_range'.",
            cli={"widen 'p_range'": "widen --p-min/--p-max"},
        )
    # samples: proportional to arclength in (p / p-span, v / v-span)
    v_span = max(v2 for _, v2 in pieces) - min(v1 for v1, _ in pieces)
    lengths = []
    for v1, v2 in pieces:
        vv = np.linspace(v1, v2, 2001)
        pp = p_of_v(vv, P)
        ds = np.hypot(np.diff(pp) / (pmax - pmin), np.diff(vv) / v_span)
        lengths.append((vv, np.concatenate([[0.0], np.cumsum(ds)])))
    total = sum(s[-1] for _, s in lengths)
    branches = []
    for vv, s in lengths:
        n = max(50, int(round(n_points * s[-1] / total)))
        v = np.interp(np.linspace(0.0, s[-1], n), s, vv)
        ev = eigenvalues(v, P)
        branches.append(FixedPointBranch(v=v, p=p_of_v(v, P), eigenvalues=ev, stable=np.all(ev.real < 0, axis=1)))
    folds = [f for f in folds if pmin <= p_of_v(f, P) <= pmax]
    return branches, folds


def _hopf_points(P, branches):
    out = []
    for br in branches:
        d = hurwitz_determinant(br.v, P)
        for vh in _roots(lambda x: hurwitz_determinant(x, P), br.v, d):
            ev = eigenvalues(vh, P)
            i = np.argmin(np.abs(ev.real))
            if abs(ev[i].imag) < 1e-6 or abs(ev[i].real) > 1e-6 * max(1.0, abs(ev[i].imag)):
                continue  # a neutral saddle (+- real pair), not a Hopf point
            l1 = first_lyapunov(vh, P)
            out.append(
                SpecialPoint(
                    kind="hopf",
                    p=float(p_of_v(vh, P)),
                    v=float(vh),
                    frequency=abs(ev[i].imag) / (2 * np.pi),
                    criticality="supercritical" if l1 < 0 else "subcritical",
                    lyapunov=l1,
                    v_max=float(vh),
                    v_min=float(vh),
                )
            )
    return out


def _fold_point(P, vf, c):
    """Saddle-node at vf; SNIC if the flow just past it returns to the ghost."""
    pf = float(p_of_v(vf, P))
    dv = 1e-3
    side = -np.sign(p_of_v(vf + dv, P) + p_of_v(vf - dv, P) - 2 * pf)  # +1: local max
    crit = "saddle-node"
    if side != 0:
        p_ghost = pf + side * max(0.5, 2e-3 * abs(pf))
        h = 1e-4
        Y = _rk4_states(_state(vf, P), p_ghost, c, h, int(8.0 / h))
        v = Y[::5, 1] - Y[::5, 2]
        far = np.abs(v - vf) > 1.0
        near = np.abs(v - vf) < 0.2
        # count returns near the ghost after an excursion away from it
        returns, away = 0, False
        for is_far, is_near in zip(far, near):
            if is_far:
                away = True
            elif is_near and away:
                returns += 1
                away = False
        if returns >= 2:
            crit = "SNIC"
    return SpecialPoint(kind="fold", p=pf, v=float(vf), criticality=crit, v_max=float(vf), v_min=float(vf))


# =============================================================================
# periodic orbits: shooting, Newton, continuation
def _n_steps(T, h_max):
    return max(64, int(math.ceil(T / h_max)))


def _orbit_extremes(x, T, p, c, n):
    Y = _rk4_states(x, p, c, T / n, n)
    v = Y[:-1, 1] - Y[:-1, 2]
    return _extremes(v), Y


def _extremes(v):
    """Parabola-refined max and min of a periodic sampled signal."""
    res = []
    for sgn in (1.0, -1.0):
        i = int(np.argmax(sgn * v))
        a, b, d = v[i - 1], v[i], v[(i + 1) % len(v)]
        den = a - 2 * b + d
        off = 0.5 * (a - d) / den if den != 0 else 0.0
        off = min(max(off, -1.0), 1.0)
        res.append(b - 0.25 * (a - d) * off)
    return res[0], res[1]


def _floquet(M):
    mu = np.linalg.eigvals(M)
    i = np.argmin(np.abs(mu - 1.0))
    others = np.delete(mu, i)
    order = np.argsort(-np.abs(mu))
    return mu[order], bool(np.all(np.abs(others) < 1.0))


def _newton_cycle(x, T, p, c, P, h_max, tol=1e-10, maxit=40, final_jacobian=True):
    """Periodic orbit through (near) x at fixed p: (x0, T, monodromy) or None.

    Unknowns (x0, log T); equations phi(x0, T) = x0 and the phase condition
    f(x_ref) . (x0 - x_ref) = 0. Damped Newton (step halving on the residual)
    while far from the solution, chord iterations (Jacobian kept, the state
    alone integrated) once close. With ``final_jacobian=False`` the monodromy
    matrix returned is the last one computed (at an earlier, nearby iterate),
    which saves one variational integration.
    """
    W = _vscale(P)
    x = np.asarray(x, float).copy()
    fr = np.empty(6)
    _f(x, p, c, fr)
    fr = fr * W
    fr /= np.linalg.norm(fr)
    xref = x.copy()
    n = _n_steps(T, h_max)

    def resid(x, T):
        phi = _flow(x, p, c, T, n)
        return np.concatenate([(phi - x) * W, [fr @ ((x - xref) * W)]])

    lu = None
    M_last = None
    prev = np.inf
    n_jac = 0
    G = resid(x, T)
    for it in range(maxit):
        if lu is None:
            Z = _shoot(x, T, p, c, n)
            DG = np.zeros((7, 7))
            DG[:6, :6] = (Z[1:7].T - np.eye(6)) * W[:, None] / W[None, :]
            DG[:6, 6] = Z[7] * W * T
            DG[6, :6] = fr
            try:
                lu = lu_factor(DG, check_finite=True)
            except (ValueError, np.linalg.LinAlgError):
                return None
            M_last = Z[1:7].T
            n_jac += 1
        dz = lu_solve(lu, -G)
        size = np.linalg.norm(dz)
        if not np.isfinite(size):
            return None
        # damping: halve the step until the residual decreases
        g0 = np.linalg.norm(G)
        lam = 1.0
        for _ in range(8):
            x_new = x + lam * dz[:6] / W
            T_new = T * math.exp(max(min(lam * dz[6], 0.5), -0.5))
            G_new = resid(x_new, T_new)
            if np.all(np.isfinite(G_new)) and np.linalg.norm(G_new) < g0:
                break
            lam *= 0.5
        else:
            if size > 1e-7:
                return None
        x, T, G = x_new, T_new, G_new
        if size < tol or (size > 0.5 * prev and size <= 1e-7):
            if not final_jacobian:
                return x, T, M_last
            Z = _shoot(x, T, p, c, n)
            return x, T, Z[1:7].T
        # keep the Jacobian (chord) only when close and contracting fast
        if size > 1e-4 or lam < 1.0 or size > 0.3 * prev:
            lu = None
            if n_jac > 15:
                return None
        prev = size
    return None


class _Continuation:
    """Pseudo-arclength continuation of periodic orbits in (x0, log T, p)."""

    def __init__(self, P, c, h_max):
        self.P, self.c, self.h_max = P, c, h_max
        self.W = np.concatenate([_vscale(P), [1.0, 0.1]])  # x (mV), log T, p / 10

    def residual(self, z, ref, n):
        x = z[:6] / self.W[:6]
        T = math.exp(z[6])
        p = z[7] / self.W[7]
        Z = _shoot(x, T, p, self.c, n)
        xr, fr = ref
        G = np.empty(7)
        G[:6] = (Z[0] - x) * self.W[:6]
        G[6] = fr @ (z[:6] - xr)
        DG = np.zeros((7, 8))
        DG[:6, :6] = (Z[1:7].T - np.eye(6)) * self.W[:6, None] / self.W[None, :6]
        DG[:6, 6] = Z[7] * self.W[:6] * T
        DG[:6, 7] = Z[8] * self.W[:6] / self.W[7]
        DG[6, :6] = fr
        return G, DG, Z

    def ref(self, z):
        x = z[:6] / self.W[:6]
        fr = np.empty(6)
        _f(x, z[7] / self.W[7], self.c, fr)
        fr = fr * self.W[:6]
        return z[:6].copy(), fr / np.linalg.norm(fr)

    def tangent(self, DG, t_prev):
        A = np.vstack([DG, t_prev])
        rhs = np.zeros(8)
        rhs[-1] = 1.0
        t = np.linalg.solve(A, rhs)
        return t / np.linalg.norm(t)

    def flow_residual(self, z, ref, n):
        x = z[:6] / self.W[:6]
        phi = _flow(x, z[7] / self.W[7], self.c, math.exp(z[6]), n)
        G = np.empty(7)
        G[:6] = (phi - x) * self.W[:6]
        G[6] = ref[1] @ (z[:6] - ref[0])
        return G

    def correct(self, z_pred, t, ref, n, tol=1e-9, maxit=30, max_dz=0.5):
        """Chord-Newton corrector on the pseudo-arclength system; None if it fails."""
        z = z_pred.copy()
        lu = None
        prev = np.inf
        refresh = 0
        for it in range(maxit):
            if lu is None:
                G, DG, Z = self.residual(z, ref, n)
                try:
                    lu = lu_factor(np.vstack([DG, t]))
                except (ValueError, np.linalg.LinAlgError):
                    return None
                refresh += 1
            else:
                G = self.flow_residual(z, ref, n)
            F = np.concatenate([G, [t @ (z - z_pred)]])
            dz = lu_solve(lu, -F)
            size = np.linalg.norm(dz)
            if not np.isfinite(size) or size > max_dz:
                return None
            stalled = size > 0.5 * prev
            if stalled and size > 1e-7:
                if refresh > 4:
                    return None  # diverging or wandering: the caller halves the step
                lu = None
            prev = size
            z = z + dz
            if size < tol or (stalled and size <= 1e-7):  # converged (or at rounding level)
                G, DG, Z = self.residual(z, ref, n)
                return z, DG, Z
        return None

    def point(self, z, Z, n):
        x = z[:6] / self.W[:6]
        T = math.exp(z[6])
        p = z[7] / self.W[7]
        (vmax, vmin), _ = _orbit_extremes(x, T, p, self.c, n)
        mu, stable = _floquet(Z[1:7].T)
        return dict(p=p, T=T, vmax=vmax, vmin=vmin, mu=mu, stable=stable, x=x)

    def run(
        self,
        x,
        T,
        p,
        direction,
        p_lim,
        *,
        ds=0.3,
        ds_min=1e-4,
        ds_max=2.0,
        max_steps=400,
        T_max=1.0,
        amp_end=0.1,
        mu_max=1e8,
    ):
        """Continue from a converged cycle in one direction of p.

        Stops when p leaves ``p_lim``, the period exceeds ``T_max`` (s; next to
        a SNIC or homoclinic orbit), the peak-to-peak amplitude falls below
        ``amp_end`` (mV; next to a Hopf point: the step is limited to half the
        amplitude so the branch does not jump through the Hopf point), or single
        shooting becomes ill-conditioned (a multiplier above ``mu_max``).
        Returns (points, folds).
        """
        W = self.W
        z = np.concatenate([x * W[:6], [math.log(T), p * W[7]]])
        n = _n_steps(T, self.h_max)
        ref = self.ref(z)
        G, DG, Z = self.residual(z, ref, n)
        e_p = np.zeros(8)
        e_p[7] = direction
        t = self.tangent(DG, e_p)
        pts = [self.point(z, Z, n)]
        folds = []
        for _ in range(max_steps):
            n = _n_steps(math.exp(z[6] + max(ds * t[6], 0.0)), self.h_max)
            res = self.correct(z + ds * t, t, ref, n)
            if res is None:
                ds *= 0.5
                if ds < ds_min:
                    logger.debug("cycle continuation: step below the minimum, stopping")
                    break
                continue
            z_new, DG_new, Z_new = res
            t_new = self.tangent(DG_new, t)
            if t_new @ t < 0:
                t_new = -t_new
            if t[7] * t_new[7] < 0:
                fp = self._refine_fold(z, t, ref, n, ds)
                if fp is not None:
                    folds.append(fp)
            z, t = z_new, t_new
            ref = self.ref(z)
            pt = self.point(z, Z_new, n)
            pts.append(pt)
            if not (p_lim[0] <= pt["p"] <= p_lim[1]):
                break
            ptp = pt["vmax"] - pt["vmin"]
            if pt["T"] > T_max or ptp < amp_end:
                break
            if np.abs(pt["mu"]).max() > mu_max:
                logger.debug("cycle continuation: multiplier above %g, stopping", mu_max)
                break
            ds = min(ds * 1.5, ds_max, max(0.02, 0.5 * ptp))
        return pts, folds

    def _refine_fold(self, z0, t0, ref, n, ds):
        """Zero of the tangent's p-component between z0 and z0 + ds t0."""
        cache = {}

        def tp(s):
            if s == 0.0:
                return t0[7]
            res = self.correct(z0 + s * t0, t0, ref, n, tol=1e-10)
            if res is None:
                raise RuntimeError
            z, DG, Z = res
            t = self.tangent(DG, t0)
            cache[s] = (z, Z)
            return t[7]

        try:
            s = brentq(tp, 0.0, ds, xtol=1e-10, rtol=1e-12)
            if s not in cache:
                tp(s)
        except (RuntimeError, ValueError):
            return None
        z, Z = cache[s]
        pt = self.point(z, Z, n)
        return pt


def _cycle_kind(freq, f_focus):
    if not np.isfinite(freq) or not np.isfinite(f_focus):
        return "spike-like cycle" if not np.isfinite(freq) else "alpha limit cycle"
    return "spike-like cycle" if freq < _SPIKE_FREQ_RATIO * f_focus else "alpha limit cycle"


def _focus_frequency(P, p):
    """Linear frequency (Hz) of the upper fixed point's leading complex pair."""
    fps = fixed_points(P, p, n_grid=4001)
    for fp in reversed(fps):
        f = fp.frequency
        if np.isfinite(f):
            return f
    return np.nan


# =============================================================================
# simulation scan for attractors
def _starts_near_unstable(fps):
    """Start states off every unstable fixed point (both sides of a saddle)."""
    out = []
    for fp in fps:
        if fp.stable:
            continue
        if abs(fp.eigenvalues[0].imag) > 1e-9:  # unstable focus: spiral out
            offsets = (0.5,)
        else:  # saddle or node: both sides of the unstable manifold
            offsets = (0.05, -0.05)
        for dv in offsets:
            y = fp.y.copy()
            y[1] += dv
            out.append(y)
    return out


def _scan(P, c, p_grid, h=1e-4, t_transient=1.0, t_carry=0.2, t_measure=0.8):
    """Cycle attractors reached by RK4 simulation, for each p of the grid.

    Sweep up with fresh starts (rest, off each unstable fixed point) plus the
    end states of the attractors found at the previous p, then sweep down with
    the end states found at the next p. Returns, for each p, a dict
    ``kind -> (score, y_cross, T, y_end)`` holding the best-converged candidate
    (score: relative change of the extremes between two measuring windows).
    """
    n_tr = int(round(t_transient / h))
    n_ca = int(round(t_carry / h))
    n_me = int(round(t_measure / h))
    fps_all = [fixed_points(P, p, n_grid=4001) for p in p_grid]
    f_focus = [next((fp.frequency for fp in reversed(f) if np.isfinite(fp.frequency)), np.nan) for f in fps_all]
    cand = [dict() for _ in p_grid]

    def simulate(i, y, n_transient):
        y_end, st, y_cross = _rk4_stats(y, float(p_grid[i]), c, h, n_transient, n_me)
        if st[7] == 0:
            return
        vmax1, vmin1, vmax2, vmin2, ncr, t1, t2 = st[:7]
        ptp = vmax2 - vmin2
        if ptp < 1e-3 or ncr < 2:
            return  # a fixed point, or a period longer than the window
        T = (t2 - t1) / (ncr - 1)
        kind = _cycle_kind(1.0 / T, f_focus[i])
        score = (abs(vmax2 - vmax1) + abs(vmin2 - vmin1)) / ptp
        old = cand[i].get(kind)
        if old is None or score < old[0]:
            cand[i][kind] = (score, y_cross.copy(), T, y_end.copy())

    n = len(p_grid)
    for i in range(n):
        for y in _starts_near_unstable(fps_all[i]) + [np.zeros(6)]:
            simulate(i, y, n_tr)
        if i > 0:
            for rec in list(cand[i - 1].values()):
                simulate(i, rec[3], n_ca)
    for i in range(n - 2, -1, -1):
        for rec in list(cand[i + 1].values()):
            simulate(i, rec[3], n_ca)
    return cand


def _polish(P, c, p_grid, cand, h_max):
    """Newton-polish the simulated candidates; keep the stable cycles."""
    jobs = [(i, kind, rec) for i in range(len(p_grid)) for kind, rec in cand[i].items()]

    def one(job):
        i, kind, (score, y_cross, T, _) = job
        p = float(p_grid[i])
        sol = _newton_cycle(y_cross, T, p, c, P, h_max, tol=1e-9, final_jacobian=False)
        if sol is None:
            return None
        x, T, M = sol
        mu, stable = _floquet(M)
        (vmax, vmin), _ = _orbit_extremes(x, T, p, c, _n_steps(T, h_max))
        if not stable or vmax - vmin < 1e-3:
            return None  # e.g. a slowly decaying spiral polished onto an unstable cycle
        return i, kind, dict(p=p, T=T, vmax=vmax, vmin=vmin, x=x, mu=mu)

    if len(jobs) > 8:
        from concurrent.futures import ThreadPoolExecutor
        import os

        with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as ex:
            results = list(ex.map(one, jobs))
    else:
        results = [one(j) for j in jobs]
    found = [dict() for _ in p_grid]
    for r in results:
        if r is not None:
            found[r[0]][r[1]] = r[2]
    return found


def _families(found, kind):
    """Runs of consecutive grid indices where a cycle of this kind was found."""
    idx = [i for i in range(len(found)) if kind in found[i]]
    fams, cur = [], []
    for i in idx:
        if cur and i != cur[-1] + 1:
            fams.append(cur)
            cur = []
        cur.append(i)
    if cur:
        fams.append(cur)
    return fams


def _end_point(pts, points):
    """A special point that ends a continued branch (Hopf or SNIC), as a point."""
    last = pts[-1]
    ptp = last["vmax"] - last["vmin"]
    for sp in points:
        if sp.kind == "hopf" and abs(sp.p - last["p"]) < 5.0 and ptp < 0.2:
            return dict(
                p=sp.p,
                T=1.0 / sp.frequency,
                vmax=sp.v,
                vmin=sp.v,
                mu=np.full(6, np.nan + 0j),
                stable=last["stable"],
                x=None,
            )
        if sp.kind == "fold" and sp.criticality == "SNIC" and abs(sp.p - last["p"]) < 1.0 and last["T"] > 0.5:
            return dict(
                p=sp.p,
                T=np.inf,
                vmax=last["vmax"],
                vmin=last["vmin"],
                mu=np.full(6, np.nan + 0j),
                stable=last["stable"],
                x=None,
            )
    return None


def _on_branch(cb, rec, tol=0.02):
    """True if the cycle rec (dict with p, vmax, T) lies on the continued branch cb."""
    p = cb.p
    for j in range(len(p) - 1):
        lo, hi = sorted((p[j], p[j + 1]))
        if lo <= rec["p"] <= hi and hi > lo:
            w = (rec["p"] - p[j]) / (p[j + 1] - p[j])
            vmax = (1 - w) * cb.v_max[j] + w * cb.v_max[j + 1]
            vmin = (1 - w) * cb.v_min[j] + w * cb.v_min[j + 1]
            if abs(vmax - rec["vmax"]) + abs(vmin - rec["vmin"]) < tol * (1.0 + vmax - vmin):
                return True
    return False


def _cycles(P, c, p_range, points, dp, h_max):
    pmin, pmax = p_range
    p_grid = np.arange(pmin, pmax + 0.5 * dp, dp)
    logger.info("Simulating attractors on %d values of p (RK4, dt = 0.1 ms)", len(p_grid))
    cand = _scan(P, c, p_grid)
    found = _polish(P, c, p_grid, cand, h_max)
    simulated, cycles, lpcs = [], [], []
    cont = _Continuation(P, c, h_max)
    for kind in ("alpha limit cycle", "spike-like cycle"):
        for fam in _families(found, kind):
            recs = [found[i][kind] for i in fam]
            simulated.append(
                CycleBranch(
                    kind=kind,
                    p=p_grid[fam].copy(),
                    period=np.array([r["T"] for r in recs]),
                    v_max=np.array([r["vmax"] for r in recs]),
                    v_min=np.array([r["vmin"] for r in recs]),
                    stable=np.ones(len(fam), bool),
                    source="simulation",
                )
            )
            # seed the continuation in the middle of the family, unless an
            # earlier continued branch (of either kind: with other parameters a
            # cycle born at a SNIC can turn alpha-like) already passes through it
            rec = recs[len(recs) // 2]
            if any(_on_branch(cb, rec) for cb in cycles):
                continue
            logger.info("Continuing the %s from p = %g /s", kind, rec["p"])
            halves = []
            for direction in (-1.0, 1.0):
                pts, folds = cont.run(rec["x"], rec["T"], rec["p"], direction, (pmin - dp, pmax + dp))
                end = _end_point(pts, points)
                if end is not None:
                    pts.append(end)
                halves.append(pts)
                for fp in folds:
                    if any(abs(fp["p"] - q.p) < 1e-3 for q in lpcs):
                        continue
                    lpcs.append(
                        SpecialPoint(
                            kind="fold_cycles",
                            p=float(fp["p"]),
                            v=float(0.5 * (fp["vmax"] + fp["vmin"])),
                            frequency=float(1.0 / fp["T"]),
                            criticality="saddle-node of cycles",
                            v_max=float(fp["vmax"]),
                            v_min=float(fp["vmin"]),
                            cycle=kind,
                        )
                    )
            pts = halves[0][::-1] + halves[1][1:]
            cycles.append(
                CycleBranch(
                    kind=kind,
                    p=np.array([q["p"] for q in pts]),
                    period=np.array([q["T"] for q in pts]),
                    v_max=np.array([q["vmax"] for q in pts]),
                    v_min=np.array([q["vmin"] for q in pts]),
                    stable=np.array([q["stable"] for q in pts]),
                    source="continuation",
                    multipliers=np.array([q["mu"] for q in pts]),
                )
            )
    return simulated, cycles, lpcs


# =============================================================================
# public API
@verbose
def bifurcation(
    params=None, p_range=(-60.0, 360.0), *, cycles=True, n_points=2000, dp_cycles=2.0, dt_cycles=1e-4, verbose=None
):
    """Bifurcation diagram of the column in the input p.

    Parameters
    ----------
    params : JRParams | None
        One parameter set (default: Jansen & Rit 1995). ``mu`` is ignored.
    p_range : tuple of float
        Range of p, in /s.
    cycles : bool
        Also compute limit cycles: simulated attractors on a grid of p,
        continued cycle branches and folds of cycles (5-10 s). If False, only
        fixed points, Hopf points and folds (well under a second).
    n_points : int
        Approximate number of samples along the fixed-point branches.
    dp_cycles : float
        Spacing of the p grid for the simulated attractors, in /s.
    dt_cycles : float
        Largest RK4 step of the shooting integrator for the periodic orbits,
        in s (with the defaults the fold of cycles agrees to 1e-6 /s for steps
        of 2e-4, 1e-4 and 5e-5 s).
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    bif : Bifurcation
        Branches, special points (``bif.hopf``, ``bif.folds``,
        ``bif.fold_cycles``) and cycle branches; ``bif.plot()`` draws it.

    Notes
    -----
    With the default parameters the diagram has (docs/model.md, section 5) a
    fold at p = -41.30, a subcritical Hopf at -12.15, a supercritical Hopf at
    89.83 /s (10.4 Hz), a saddle-node on an invariant circle at 113.59, a fold
    of (spike-like) cycles at 137.38 and a supercritical Hopf at 315.70 /s
    (11.2 Hz). The unstable cycle born at the subcritical Hopf point grows
    with p and is the one that annihilates the spike-like cycle at the fold
    of cycles; the alpha cycle joins the two supercritical Hopf points.
    """
    P = _check_params(params, "bifurcation")
    try:
        pmin, pmax = (float(x) for x in p_range)
    except (TypeError, ValueError):
        raise JRFitError(f"'p_range' must be two numbers (in /s), got {p_range!r}.") from None
    if not (np.isfinite(pmin) and np.isfinite(pmax) and pmin < pmax):
        raise JRFitError(f"'p_range' must be finite and increasing (in /s), got {p_range!r}.")
    n_points = int(check_positive("n_points", n_points))
    dp_cycles = check_positive("dp_cycles", dp_cycles, "/s")
    dt_cycles = check_positive("dt_cycles", dt_cycles, "s")
    if P.A == 0:
        raise ModelError(
            "A = 0: the column has no excitation and a single fixed point; there is nothing to continue. Use A > 0."
        )
    c = _pack(P)
    logger.info("Fixed-point branches for p in [%g, %g] /s", pmin, pmax)
    branches, fold_v = _fixed_point_branches(P, (pmin, pmax), int(n_points))
    points = [_fold_point(P, vf, c) for vf in fold_v]
    points += _hopf_points(P, branches)
    simulated, cyc = [], []
    if cycles:
        simulated, cyc, lpcs = _cycles(P, c, (pmin, pmax), points, float(dp_cycles), float(dt_cycles))
        points += [lp for lp in lpcs if pmin <= lp.p <= pmax]
    points.sort(key=lambda pt: pt.p)
    for pt in points:
        logger.info("  %s", pt)
    return Bifurcation(
        params=P,
        p_range=(pmin, pmax),
        branches=tuple(branches),
        points=tuple(points),
        cycles=tuple(cyc),
        simulated=tuple(simulated),
    )


def _start_state(P, p, start):
    if isinstance(start, str):
        if start == "rest":
            return np.zeros(6)
        if start == "upper":
            fp = fixed_points(P, p)[-1]
            y = fp.y.copy()
            y[1] += 0.1
            return y
        raise JRFitError(
            "Invalid value for the 'start' parameter. Allowed values are 'rest', "
            f"'upper' and an array of shape (6,), but got {start!r} instead."
        )
    y = np.asarray(start, float)
    if y.shape != (6,) or not np.all(np.isfinite(y)):
        raise JRFitError(f"'start' must be a finite state of shape (6,), got shape {y.shape}.")
    return y


@verbose
def limit_cycle(
    params=None, p=None, *, start="rest", t_transient=3.0, dt=1e-4, h_max=2.5e-5, n_samples=2000, verbose=None
):
    """The limit cycle reached from a start state, computed accurately.

    The column is simulated (RK4, step ``dt``) for ``t_transient`` seconds and
    over a measuring window; the periodic orbit near the end is then solved by
    Newton's method (single shooting with the monodromy matrix, RK4 with steps
    of at most ``h_max``), so the period and amplitude are exact to about
    1e-9 relative, not biased by the finite transient.

    Parameters
    ----------
    params : JRParams | None
        One parameter set (default: Jansen & Rit 1995).
    p : float | None
        Constant input, in /s (default ``params.mu``).
    start : 'rest' | 'upper' | array, shape (6,)
        Start state: 'rest' is y = 0 (the attractor the column settles on from
        rest; at p = 113.6-137.4 /s with the defaults it is the spike-like
        cycle); 'upper' is 0.1 mV off the upper (active) fixed point (the alpha
        cycle around it, where it exists).
    t_transient : float
        Transient, in s.
    dt : float
        Step of the transient simulation, in s.
    h_max : float
        Largest step of the shooting integrator, in s.
    n_samples : int
        Minimum number of samples of the returned waveform over one period.
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    cycle : LimitCycle
        Period (s), frequency (Hz), extremes and peak-to-peak of v (mV),
        Floquet multipliers, stability and one period of v(t).

    Raises
    ------
    ModelError
        If the column settles on a fixed point, or if the period exceeds the
        measuring window (a cycle next to a SNIC or homoclinic point: increase
        ``t_transient``).
    """
    P = _check_params(params, "limit_cycle")
    p = float(P.mu if p is None else p)
    dt = check_positive("dt", dt, "s")
    if dt > 1e-3:
        raise JRFitError(f"'dt' must be in (0, 1e-3] s, got {dt!r}.")
    t_transient = check_positive("t_transient", t_transient, "s")
    h_max = check_positive("h_max", h_max, "s")
    c = _pack(P)
    y = _start_state(P, p, start)
    n_tr = int(round(float(t_transient) / dt))
    n_me = int(round(max(1.0, 0.5 * float(t_transient)) / dt))
    y_end, st, y_cross = _rk4_stats(y, p, c, dt, n_tr, n_me)
    if st[7] == 0:
        raise ModelError(f"The simulation diverged at p = {p} /s; check the parameters.")
    ptp = st[2] - st[3]
    if ptp < 1e-4:
        raise ModelError(
            f"No limit cycle reached from start={start if isinstance(start, str) else 'array'!r} "
            f"at p = {p} /s: the column settles on the fixed point v = {y_end[1] - y_end[2]:.4f} mV. "
            "Try another 'start' or p (see jrfit.dynamics.bifurcation.bifurcation)."
        )
    if st[4] < 2:
        raise ModelError(
            f"The cycle at p = {p} /s has a period longer than the {n_me * dt:g} s window "
            "(close to a SNIC or homoclinic point); increase 't_transient'."
        )
    T0 = (st[6] - st[5]) / (st[4] - 1)
    sol = _newton_cycle(y_cross, T0, p, c, P, h_max)
    if sol is None:
        raise ModelError(f"Newton's method on the periodic orbit at p = {p} /s did not converge.")
    x, T, M = sol
    mu, stable = _floquet(M)
    n = max(_n_steps(T, h_max), int(n_samples))
    (vmax, vmin), Y = _orbit_extremes(x, T, p, c, n)
    v = Y[:-1, 1] - Y[:-1, 2]
    i = int(np.argmax(v))
    v = np.roll(v, -i)
    x = Y[i].copy()
    kind = _cycle_kind(1.0 / T, _focus_frequency(P, p))
    logger.info("Limit cycle at p = %g /s: %.4f Hz, %.4f mV peak to peak (%s)", p, 1.0 / T, vmax - vmin, kind)
    return LimitCycle(
        p=p,
        period=T,
        v_max=vmax,
        v_min=vmin,
        y0=x,
        multipliers=mu,
        stable=stable,
        kind=kind,
        t=np.arange(n) * (T / n),
        v=v,
    )


def _regime_one(P, p, q_min, saturation, find_cycles, t_sim, dt):
    fps = fixed_points(P, p)
    stable = [fp for fp in fps if fp.stable]
    common = dict(p=p, n_fixed_points=len(fps), n_stable=len(stable))

    def fp_label(fp):
        if _firing_fraction(P, fp.v) >= saturation:
            return "runaway", np.nan, np.nan
        ev = fp.eigenvalues
        lead = ev[0]
        if abs(lead.imag) <= 1e-9:
            return "quiescent node", np.nan, np.nan
        q = abs(lead.imag) / (2.0 * abs(lead.real))
        f = abs(lead.imag) / (2 * np.pi)
        return ("noise-driven oscillatory focus" if q >= q_min else "quiescent focus"), f, q

    others = []
    if stable:
        main = stable[-1]
        label, f, q = fp_label(main)
        others = [fp_label(fp)[0] for fp in stable[:-1]]
        if find_cycles is not True:
            return Regime(label=label, v=main.v, frequency=f, quality=q, coexisting=tuple(others), **common)
    else:
        if fps and _firing_fraction(P, fps[-1].v) >= saturation:
            return Regime(label="runaway", v=fps[-1].v, **common)
        if find_cycles is False:
            raise ModelError(
                f"No stable fixed point at p = {p} /s and find_cycles=False: the regime needs a simulation."
            )
    # simulate: from rest, and (for coexisting cycles) off the unstable foci
    c = _pack(P)
    n = int(round(t_sim / dt))
    f_focus = next((fp.frequency for fp in reversed(fps) if np.isfinite(fp.frequency)), np.nan)
    starts = [np.zeros(6)] + [fp.y + np.array([0, 0.1, 0, 0, 0, 0]) for fp in fps if not fp.stable]
    cyc = []
    for y in starts:
        y_end, st, _ = _rk4_stats(y, p, c, dt, n, n // 2)
        if st[7] == 0:
            cyc.append(("runaway", np.nan, np.nan))
            continue
        ptp = st[2] - st[3]
        if ptp < 1e-3 or (stable and ptp < 0.98 * (st[0] - st[1])):
            continue  # at, or decaying towards, a fixed point
        freq = (st[4] - 1) / (st[6] - st[5]) if st[4] >= 2 else np.nan
        mean_v = 0.5 * (st[2] + st[3])
        if _firing_fraction(P, mean_v) >= saturation:
            cyc.append(("runaway", freq, ptp))
        else:
            cyc.append((_cycle_kind(freq, f_focus), freq, ptp))
    if stable:
        labels = others + [k for k, _, _ in cyc if k != label]
        return Regime(
            label=label, v=stable[-1].v, frequency=f, quality=q, coexisting=tuple(dict.fromkeys(labels)), **common
        )
    if not cyc:
        # no cycle reached within t_sim (very slow growth next to a Hopf point)
        up = fps[-1]
        ev = up.eigenvalues[0]
        return Regime(label="alpha limit cycle", frequency=abs(ev.imag) / (2 * np.pi), peak_to_peak=0.0, **common)
    label, freq, ptp = cyc[0]
    rest = [k for k, _, _ in cyc[1:] if k != label]
    return Regime(label=label, frequency=freq, peak_to_peak=ptp, coexisting=tuple(dict.fromkeys(rest)), **common)


def _firing_fraction(P, v):
    """Pyramidal firing as a fraction of its maximum, S(v) / (2 e0)."""
    return sigmoid(v, P.e0, P.r, P.v0) / (2.0 * P.e0)


@verbose
def regime(params=None, p=None, *, q_min=2.0, saturation=0.99, find_cycles="auto", t_sim=2.0, dt=2e-4, verbose=None):
    """Label the dynamical regime of a parameter set (or of each in a batch).

    The label describes the attractor the column is on for constant input:

    * With a stable fixed point, the *upper* (active, highest v) stable fixed
      point is described, the one :func:`jrfit.model.spectrum.stable_v` uses; other
      stable fixed points go to ``coexisting``. Its leading eigenvalue
      ``lambda`` decides:

      - 'quiescent node': lambda real (no oscillation);
      - 'noise-driven oscillatory focus': a complex pair with quality factor
        ``Q = |Im lambda| / (2 |Re lambda|) >= q_min`` (default 2: a lightly
        damped resonance; noise drives a spectral peak at ``Im lambda / 2 pi``
        whose relative half-power width is about 1/Q);
      - 'quiescent focus': a complex pair with ``Q < q_min`` (strongly
        damped; no clear spectral peak).

    * With no stable fixed point, the column is simulated from rest (y = 0)
      with RK4 for a transient of ``t_sim`` seconds and measured over two
      windows of ``t_sim / 2``, and the
      cycle is classified by its frequency relative to the linear frequency
      ``f_lin`` of the upper (unstable) focus:

      - 'alpha limit cycle': frequency >= 0.6 f_lin (the small cycle born at
        the Hopf point of the upper focus, 10.4-11.2 Hz with the defaults);
      - 'spike-like cycle': frequency < 0.6 f_lin, or a period longer than the
        window (the large 1-5 Hz cycle born at the SNIC).

      Starts 0.1 mV off every unstable fixed point are simulated too; the
      other cycles they reach go to ``coexisting``. Within about 0.5 /s of a
      bifurcation point the label can reflect a slow transient (e.g. the
      ghost of a cycle that has just disappeared) rather than the attractor.

    * 'runaway': the described operating point (or the cycle's mean v) has
      pyramidal firing ``S(v) / (2 e0) >= saturation`` (default 0.99: v more
      than ln(99)/r = 8.2 mV above v0 with the defaults): excitation is
      saturated and there is no physiological operating point, e.g. B = 0 or
      p of the order of 1000 /s; also when the simulation diverges.

    Parameters
    ----------
    params : JRParams | None
        One parameter set or a batch (default: Jansen & Rit 1995).
    p : float | array | None
        Input, in /s (default ``params.mu``); broadcast against the batch.
    q_min : float
        Quality factor separating an oscillatory from a quiescent focus.
    saturation : float
        Firing fraction above which the state is 'runaway'.
    find_cycles : 'auto' | bool
        'auto' simulates only when no fixed point is stable (cheap: a few
        hundred draws take about a second); True also looks for cycles that
        coexist with a stable fixed point (listed in ``coexisting``; an
        oscillation that decays by more than 2% over the measuring window is
        taken as the approach to a fixed point); False never simulates (raises
        ModelError when it would be needed).
    t_sim : float
        Simulated time from each start, in s.
    dt : float
        RK4 step of those simulations, in s.
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    regime : Regime | ndarray of Regime
        One :class:`Regime` (``str(regime)`` is the label), or an object array
        of shape ``batch_shape`` for a batch.
    """
    if params is None:
        params = JRParams()
    if not isinstance(params, JRParams):
        raise JRFitError(f"'params' must be a JRParams instance, got {type(params).__name__}.")
    if find_cycles not in ("auto", True, False):
        raise JRFitError(
            "Invalid value for the 'find_cycles' parameter. Allowed values are 'auto', "
            f"True and False, but got {find_cycles!r} instead."
        )
    t_sim = check_positive("t_sim", t_sim, "s")
    dt = check_positive("dt", dt, "s")
    if not q_min > 0 or not 0 < saturation < 1:
        raise JRFitError(f"'q_min' must be > 0 and 'saturation' in (0, 1); got {q_min!r} and {saturation!r}.")
    p_all = params.mu if p is None else np.asarray(p, float)
    shape = np.broadcast_shapes(params.batch_shape, np.shape(p_all))
    if not shape:
        return _regime_one(params, float(p_all), q_min, saturation, find_cycles, float(t_sim), float(dt))
    flat = {k: np.broadcast_to(v, shape).ravel() for k, v in params.as_dict().items()}
    pf = np.broadcast_to(p_all, shape).ravel()
    out = np.empty(pf.size, dtype=object)
    for i in range(pf.size):
        Pi = JRParams(**{k: v[i] for k, v in flat.items()})
        out[i] = _regime_one(Pi, float(pf[i]), q_min, saturation, find_cycles, float(t_sim), float(dt))
    counts = {lab: int(sum(r.label == lab for r in out)) for lab in REGIMES}
    logger.debug("Regimes of %d parameter sets: %s", pf.size, ", ".join(f"{n} {lab}" for lab, n in counts.items() if n))
    return out.reshape(shape)
