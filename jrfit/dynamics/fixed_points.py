"""Fixed points of the column as functions of the input p, and their special points.

Fixed points are sampled along the operating-point map ``p(v)``
(:func:`jrfit.model.column.p_of_v`), so no root finder is needed and every
branch is covered (:class:`FixedPointBranch`); folds are the zeros of
:func:`jrfit.model.column.dp_dv` (Brent). Hopf points are the zeros of the
Hurwitz determinant ``Delta_5`` of the characteristic polynomial D(s)
(:func:`hurwitz_determinant`), kept when the critical pair is ``+- i omega``;
criticality follows from the sign of the first Lyapunov coefficient
(:func:`first_lyapunov`; Kuznetsov 2004, eq. 3.20), whose second- and
third-order derivatives are Taylor coefficients of
:func:`jrfit.model.column.drift` obtained by a two-dimensional Cauchy integral.
A fold is a SNIC when the flow just past it returns to the ghost
(:class:`SpecialPoint`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from jrfit.dynamics.kernels import drift_np, rk4_states
from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import dp_dv, eigenvalues, jacobian, operating_point, p_of_v, v_range
from jrfit.model.params import JRParams
from jrfit.model.spectrum import char_poly_coeffs

__all__ = [
    "FixedPointBranch",
    "SpecialPoint",
    "hurwitz_determinant",
    "first_lyapunov",
    "fixed_point_branches",
    "hopf_points",
    "fold_point",
    "check_single",
    "rest_state",
]


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


def check_single(params, what):
    """``params`` (default JRParams()) checked to be one parameter set, for ``what``."""
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


def rest_state(v, P):
    """State (6,) of the fixed point at operating potential v (mV)."""
    op = operating_point(float(v), P)
    return np.array([op["y0"], op["y1"], op["y2"], 0.0, 0.0, 0.0])


def brent_roots(fun, grid, vals):
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
    g = drift_np(Y, pstar, P)
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
    P = check_single(params, "first_lyapunov")
    y = rest_state(v, P)
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


def fixed_point_branches(P, p_range, n_points):
    """Branches (monotone pieces of p(v) with p in p_range, ~n_points samples) and the folds' v."""
    pmin, pmax = p_range
    lo, hi = v_range(P)
    lo += (P.A / P.a) * min(pmin, 0.0) - 1.0
    hi += (P.A / P.a) * max(pmax, 0.0) + 1.0
    vg = np.linspace(lo, hi, 40001)
    pg = p_of_v(vg, P)
    dg = dp_dv(vg, P)
    folds = brent_roots(lambda x: dp_dv(x, P), vg, dg)
    cuts = [lo, hi] + folds
    for pb in (pmin, pmax):
        cuts += brent_roots(lambda x, pb=pb: p_of_v(x, P) - pb, vg, pg - pb)
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


def hopf_points(P, branches):
    """Hopf points on the branches, with frequency and criticality."""
    out = []
    for br in branches:
        d = hurwitz_determinant(br.v, P)
        for vh in brent_roots(lambda x: hurwitz_determinant(x, P), br.v, d):
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


def fold_point(P, vf, c):
    """Saddle-node at vf; SNIC if the flow just past it returns to the ghost."""
    pf = float(p_of_v(vf, P))
    dv = 1e-3
    side = -np.sign(p_of_v(vf + dv, P) + p_of_v(vf - dv, P) - 2 * pf)  # +1: local max
    crit = "saddle-node"
    if side != 0:
        p_ghost = pf + side * max(0.5, 2e-3 * abs(pf))
        h = 1e-4
        Y = rk4_states(rest_state(vf, P), p_ghost, c, h, int(8.0 / h))
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
