"""Tests of jrfit.dynamics.limit_cycle: the alpha cycle at p = 220 /s (docs/model.md section 9)
against a tight-tolerance scipy integrator and against forward Euler.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from jrfit import JRParams
from jrfit.dynamics.limit_cycle import limit_cycle
from jrfit.model.column import drift, rhs

P = JRParams()


@pytest.fixture(scope="module")
def cycle220():
    return limit_cycle(P, 220.0)


# ---------------------------------------------------------------------------
# the alpha limit cycle at p = 220 (docs/model.md section 9)
def test_limit_cycle_p220(cycle220):
    lc = cycle220
    assert lc.kind == "alpha limit cycle" and lc.stable
    assert lc.frequency == pytest.approx(10.94, abs=0.05)
    assert 2.9 <= lc.peak_to_peak <= 3.0
    assert lc.v.max() == pytest.approx(lc.v_max, abs=1e-4)
    assert np.sort(np.abs(lc.multipliers))[-1] == pytest.approx(1.0, abs=1e-6)


def test_limit_cycle_agrees_with_dop853(cycle220):
    """A tight-tolerance scipy integrator (not used by jrfit.dynamics.bifurcation) agrees."""
    lc = cycle220

    def event(t, y):
        return y[1] - y[2] - 0.5 * (lc.v_max + lc.v_min)

    event.direction = 1.0
    sol = solve_ivp(
        lambda t, y: rhs(y, P, 220.0),
        (0.0, 6 * lc.period),
        lc.y0,
        method="DOP853",
        rtol=1e-10,
        atol=1e-12,
        events=event,
        dense_output=True,
    )
    te = sol.t_events[0]
    period = np.diff(te).mean()
    assert period == pytest.approx(lc.period, rel=1e-7)
    t = np.linspace(0.0, 6 * lc.period, 60001)
    y = sol.sol(t)
    v = y[1] - y[2]
    assert v.max() - v.min() == pytest.approx(lc.peak_to_peak, abs=1e-4)


def _forward_euler_cycle(dt, p=220.0, t_transient=5.0, t_measure=5.0):
    """Frequency (Hz) and peak to peak (mV) of the cycle under plain forward Euler."""
    args = (p, P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0)
    y = [0.0] * 6
    n_tr, n = int(round(t_transient / dt)), int(round(t_measure / dt))
    v = np.empty(n)
    for i in range(n_tr + n):
        d = drift(*y, *args)
        y = [yi + dt * di for yi, di in zip(y, d)]
        if i >= n_tr:
            v[i - n_tr] = y[1] - y[2]
    mid = 0.5 * (v.max() + v.min())
    up = np.flatnonzero((v[:-1] < mid) & (v[1:] >= mid))
    t = (up + (mid - v[up]) / (v[up + 1] - v[up])) * dt
    return (len(t) - 1) / (t[-1] - t[0]), v.max() - v.min()


def test_forward_euler_artefact(cycle220):
    """Forward Euler at dt = 1 ms gives the '10 Hz, 6 mV' artefact (docs/model.md section 9)."""
    f, ptp = _forward_euler_cycle(1e-3)
    assert f == pytest.approx(10.0, abs=0.15)
    assert ptp == pytest.approx(6.1, abs=0.2)
    # far from the exact cycle: about 0.9 Hz too slow and twice the amplitude
    assert cycle220.frequency - f > 0.7
    assert ptp / cycle220.peak_to_peak > 1.9
