"""Dynamics of the Jansen-Rit column: bifurcation diagram, limit cycles, regimes.

The deterministic column (constant input p, docs/model.md, sections 1, 2 and 5)
has fixed points, one value of ``v = y1 - y2`` each, given explicitly by the
operating-point map ``p(v)`` (:func:`jrfit.model.column.p_of_v`), and limit cycles.
This module assembles the diagram; the methods live in
:mod:`jrfit.dynamics.fixed_points` (branches, Hopf points, folds),
:mod:`jrfit.dynamics.continuation` (periodic orbits and cycle branches),
:mod:`jrfit.dynamics.limit_cycle` and :mod:`jrfit.dynamics.regime` (importable
from here too), on the integrators of :mod:`jrfit.dynamics.kernels`. It offers

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

from dataclasses import dataclass

import numpy as np

from jrfit.dynamics.continuation import CycleBranch, cycle_branches
from jrfit.dynamics.fixed_points import (
    FixedPointBranch,
    SpecialPoint,
    check_single,
    first_lyapunov,
    fixed_point_branches,
    fold_point,
    hopf_points,
    hurwitz_determinant,
)
from jrfit.dynamics.limit_cycle import LimitCycle, limit_cycle
from jrfit.dynamics.regime import REGIMES, Regime, regime
from jrfit.errors import JRFitError, ModelError
from jrfit.model.params import JRParams, pack
from jrfit.utils.check import check_positive
from jrfit.utils.log import logger, verbose

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
        """Plot the diagram; see :func:`jrfit.viz.plot_bifurcation`."""
        from jrfit.viz import plot_bifurcation

        return plot_bifurcation(self, ax=ax, **kwargs)


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
    P = check_single(params, "bifurcation")
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
    c = pack(P)
    logger.info("Fixed-point branches for p in [%g, %g] /s", pmin, pmax)
    branches, fold_v = fixed_point_branches(P, (pmin, pmax), int(n_points))
    points = [fold_point(P, vf, c) for vf in fold_v]
    points += hopf_points(P, branches)
    simulated, cyc = [], []
    if cycles:
        simulated, cyc, lpcs = cycle_branches(P, c, (pmin, pmax), points, float(dp_cycles), float(dt_cycles))
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
