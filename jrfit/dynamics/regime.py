"""A cheap label for the dynamical regime of any parameter set (or a batch, e.g. posterior draws).

See :func:`regime` for the definitions ('quiescent node', 'quiescent focus',
'noise-driven oscillatory focus', 'alpha limit cycle', 'spike-like cycle',
'runaway').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jrfit.dynamics.continuation import cycle_kind
from jrfit.dynamics.kernels import rk4_stats
from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import fixed_points, sigmoid
from jrfit.model.params import JRParams, pack
from jrfit.utils.check import check_positive
from jrfit.utils.log import logger, verbose

__all__ = ["regime", "Regime", "REGIMES"]

REGIMES = (
    "quiescent node",
    "quiescent focus",
    "noise-driven oscillatory focus",
    "alpha limit cycle",
    "spike-like cycle",
    "runaway",
)
"""Every label that :func:`regime` can return."""


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
    c = pack(P)
    n = int(round(t_sim / dt))
    f_focus = next((fp.frequency for fp in reversed(fps) if np.isfinite(fp.frequency)), np.nan)
    starts = [np.zeros(6)] + [fp.y + np.array([0, 0.1, 0, 0, 0, 0]) for fp in fps if not fp.stable]
    cyc = []
    for y in starts:
        y_end, st, _ = rk4_stats(y, p, c, dt, n, n // 2)
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
            cyc.append((cycle_kind(freq, f_focus), freq, ptp))
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
