"""Periodic orbits of the column: shooting, Newton's method, continuation, and the attractor scan.

Periodic orbits are computed by single shooting: the flow and its
derivatives with respect to the initial state (monodromy matrix), the period
and p are integrated together by RK4 (:func:`jrfit.dynamics.kernels.shoot`).
:func:`newton_cycle` solves for one orbit at fixed p; :class:`Continuation`
continues a branch by pseudo-arclength in ``(x0, log T, p)`` with a Poincare
phase condition, and a fold of cycles is the point where the tangent's
p-component vanishes (refined by Brent's method). :func:`cycle_branches`
finds the attractors by simulation (RK4 at ``dt = 0.1 ms``, started at rest,
off every unstable fixed point and from the attractors found at the
neighbouring p, sweeping up and down in p), polishes them by Newton's method,
keeps the stable ones and continues a branch from each family, so that the
unstable cycles are covered too (:class:`CycleBranch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve
from scipy.optimize import brentq

from jrfit.dynamics.fixed_points import SpecialPoint
from jrfit.dynamics.kernels import drift_into, flow, rk4_states, rk4_stats, shoot
from jrfit.model.column import fixed_points
from jrfit.utils.log import logger

__all__ = [
    "CycleBranch",
    "CycleMeasures",
    "Continuation",
    "newton_cycle",
    "floquet",
    "orbit_extremes",
    "n_steps",
    "cycle_kind",
    "focus_frequency",
    "cycle_branches",
    "SPIKE_FREQ_RATIO",
]

# A cycle whose frequency is below this fraction of the linear frequency of the
# upper (active) focus is spike-like; at or above it, it is the alpha cycle.
SPIKE_FREQ_RATIO = 0.6


class CycleMeasures:
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
class CycleBranch(CycleMeasures):
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


def cycle_kind(freq, f_focus):
    """'spike-like cycle' or 'alpha limit cycle' from the cycle's and the upper focus's frequency (Hz)."""
    if not np.isfinite(freq) or not np.isfinite(f_focus):
        return "spike-like cycle" if not np.isfinite(freq) else "alpha limit cycle"
    return "spike-like cycle" if freq < SPIKE_FREQ_RATIO * f_focus else "alpha limit cycle"


def focus_frequency(P, p):
    """Linear frequency (Hz) of the upper fixed point's leading complex pair."""
    fps = fixed_points(P, p, n_grid=4001)
    for fp in reversed(fps):
        f = fp.frequency
        if np.isfinite(f):
            return f
    return np.nan


def state_scale(P):
    """Scale of state components: y3..y5 (mV/s) divided by the rates -> mV."""
    return np.array([1.0, 1.0, 1.0, 1.0 / P.a, 1.0 / P.a, 1.0 / P.b])


def n_steps(T, h_max):
    """RK4 steps over a period T (s) with steps of at most h_max (s), at least 64."""
    return max(64, int(math.ceil(T / h_max)))


def orbit_extremes(x, T, p, c, n):
    """``((v_max, v_min), states)`` over one period from x (n RK4 steps)."""
    Y = rk4_states(x, p, c, T / n, n)
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


def floquet(M):
    """Floquet multipliers of the monodromy matrix M (by decreasing modulus) and orbital stability."""
    mu = np.linalg.eigvals(M)
    i = np.argmin(np.abs(mu - 1.0))
    others = np.delete(mu, i)
    order = np.argsort(-np.abs(mu))
    return mu[order], bool(np.all(np.abs(others) < 1.0))


def newton_cycle(x, T, p, c, P, h_max, tol=1e-10, maxit=40, final_jacobian=True):
    """Periodic orbit through (near) x at fixed p: (x0, T, monodromy) or None.

    Unknowns (x0, log T); equations phi(x0, T) = x0 and the phase condition
    f(x_ref) . (x0 - x_ref) = 0. Damped Newton (step halving on the residual)
    while far from the solution, chord iterations (Jacobian kept, the state
    alone integrated) once close. With ``final_jacobian=False`` the monodromy
    matrix returned is the last one computed (at an earlier, nearby iterate),
    which saves one variational integration.
    """
    W = state_scale(P)
    x = np.asarray(x, float).copy()
    fr = np.empty(6)
    drift_into(x, p, c, fr)
    fr = fr * W
    fr /= np.linalg.norm(fr)
    xref = x.copy()
    n = n_steps(T, h_max)

    def resid(x, T):
        phi = flow(x, p, c, T, n)
        return np.concatenate([(phi - x) * W, [fr @ ((x - xref) * W)]])

    lu = None
    M_last = None
    prev = np.inf
    n_jac = 0
    G = resid(x, T)
    for it in range(maxit):
        if lu is None:
            Z = shoot(x, T, p, c, n)
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
            Z = shoot(x, T, p, c, n)
            return x, T, Z[1:7].T
        # keep the Jacobian (chord) only when close and contracting fast
        if size > 1e-4 or lam < 1.0 or size > 0.3 * prev:
            lu = None
            if n_jac > 15:
                return None
        prev = size
    return None


class Continuation:
    """Pseudo-arclength continuation of periodic orbits in (x0, log T, p)."""

    def __init__(self, P, c, h_max):
        self.P, self.c, self.h_max = P, c, h_max
        self.W = np.concatenate([state_scale(P), [1.0, 0.1]])  # x (mV), log T, p / 10

    def residual(self, z, ref, n):
        x = z[:6] / self.W[:6]
        T = math.exp(z[6])
        p = z[7] / self.W[7]
        Z = shoot(x, T, p, self.c, n)
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
        drift_into(x, z[7] / self.W[7], self.c, fr)
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
        phi = flow(x, z[7] / self.W[7], self.c, math.exp(z[6]), n)
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
        (vmax, vmin), _ = orbit_extremes(x, T, p, self.c, n)
        mu, stable = floquet(Z[1:7].T)
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
        n = n_steps(T, self.h_max)
        ref = self.ref(z)
        G, DG, Z = self.residual(z, ref, n)
        e_p = np.zeros(8)
        e_p[7] = direction
        t = self.tangent(DG, e_p)
        pts = [self.point(z, Z, n)]
        folds = []
        for _ in range(max_steps):
            n = n_steps(math.exp(z[6] + max(ds * t[6], 0.0)), self.h_max)
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
        y_end, st, y_cross = rk4_stats(y, float(p_grid[i]), c, h, n_transient, n_me)
        if st[7] == 0:
            return
        vmax1, vmin1, vmax2, vmin2, ncr, t1, t2 = st[:7]
        ptp = vmax2 - vmin2
        if ptp < 1e-3 or ncr < 2:
            return  # a fixed point, or a period longer than the window
        T = (t2 - t1) / (ncr - 1)
        kind = cycle_kind(1.0 / T, f_focus[i])
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
        sol = newton_cycle(y_cross, T, p, c, P, h_max, tol=1e-9, final_jacobian=False)
        if sol is None:
            return None
        x, T, M = sol
        mu, stable = floquet(M)
        (vmax, vmin), _ = orbit_extremes(x, T, p, c, n_steps(T, h_max))
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


def cycle_branches(P, c, p_range, points, dp, h_max):
    """Simulated attractors, continued cycle branches and folds of cycles for p in p_range."""
    pmin, pmax = p_range
    p_grid = np.arange(pmin, pmax + 0.5 * dp, dp)
    logger.info("Simulating attractors on %d values of p (RK4, dt = 0.1 ms)", len(p_grid))
    cand = _scan(P, c, p_grid)
    found = _polish(P, c, p_grid, cand, h_max)
    simulated, cycles, lpcs = [], [], []
    cont = Continuation(P, c, h_max)
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
