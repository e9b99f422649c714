"""One periodic orbit of the column, computed accurately: :func:`limit_cycle`.

The column is simulated from a start state, and the periodic orbit reached is
solved by Newton's method on the shooting map
(:func:`jrfit.dynamics.continuation.newton_cycle`), so period and amplitude
are exact to about 1e-9 relative, not biased by the finite transient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jrfit.dynamics.continuation import (
    CycleMeasures,
    cycle_kind,
    floquet,
    focus_frequency,
    n_steps,
    newton_cycle,
    orbit_extremes,
)
from jrfit.dynamics.fixed_points import check_single
from jrfit.dynamics.kernels import rk4_stats
from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import fixed_points
from jrfit.model.params import pack
from jrfit.utils.check import check_positive
from jrfit.utils.log import logger, verbose

__all__ = ["limit_cycle", "LimitCycle"]


@dataclass(frozen=True)
class LimitCycle(CycleMeasures):
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
    P = check_single(params, "limit_cycle")
    p = float(P.mu if p is None else p)
    dt = check_positive("dt", dt, "s")
    if dt > 1e-3:
        raise JRFitError(f"'dt' must be in (0, 1e-3] s, got {dt!r}.")
    t_transient = check_positive("t_transient", t_transient, "s")
    h_max = check_positive("h_max", h_max, "s")
    c = pack(P)
    y = _start_state(P, p, start)
    n_tr = int(round(float(t_transient) / dt))
    n_me = int(round(max(1.0, 0.5 * float(t_transient)) / dt))
    y_end, st, y_cross = rk4_stats(y, p, c, dt, n_tr, n_me)
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
    sol = newton_cycle(y_cross, T0, p, c, P, h_max)
    if sol is None:
        raise ModelError(f"Newton's method on the periodic orbit at p = {p} /s did not converge.")
    x, T, M = sol
    mu, stable = floquet(M)
    n = max(n_steps(T, h_max), int(n_samples))
    (vmax, vmin), Y = orbit_extremes(x, T, p, c, n)
    v = Y[:-1, 1] - Y[:-1, 2]
    i = int(np.argmax(v))
    v = np.roll(v, -i)
    x = Y[i].copy()
    kind = cycle_kind(1.0 / T, focus_frequency(P, p))
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
