"""Tests of jrfit.dynamics.regime: the labels of parameter sets and batches."""

import numpy as np
import pytest

from jrfit import JRParams, ModelError
from jrfit.dynamics.regime import REGIMES, regime

P = JRParams()


# ---------------------------------------------------------------------------
# regimes
@pytest.mark.parametrize(
    "changes, label",
    [
        (dict(mu=60.0), "noise-driven oscillatory focus"),
        (dict(mu=350.0), "noise-driven oscillatory focus"),
        (dict(mu=220.0), "alpha limit cycle"),
        (dict(mu=125.0), "spike-like cycle"),
        (dict(mu=-100.0), "quiescent focus"),
        (dict(mu=113.5), "quiescent node"),
        (dict(B=0.0), "runaway"),
        (dict(mu=1000.0), "runaway"),
    ],
)
def test_regime_labels(changes, label):
    r = regime(P.replace(**changes))
    assert r.label == label and str(r) == label
    assert r.label in REGIMES


def test_regime_details():
    r = regime(P.replace(mu=60.0))
    assert r.frequency == pytest.approx(9.89, abs=0.05)
    assert r.quality > 10 and r.n_fixed_points == 3 and r.n_stable == 2
    assert r.coexisting == ("quiescent focus",)
    r = regime(P.replace(mu=125.0))
    assert 1.0 < r.frequency < 5.0 and 8.0 < r.peak_to_peak < 10.5
    assert "alpha limit cycle" in r.coexisting  # reached from the unstable focus
    r = regime(P.replace(mu=220.0))
    assert r.frequency == pytest.approx(10.94, abs=0.1)
    # the quality-factor threshold decides between oscillatory and quiescent foci
    assert regime(P, 600.0).label == "noise-driven oscillatory focus"  # Q = 2.96
    assert regime(P, 600.0, q_min=4.0).label == "quiescent focus"
    # a cycle coexisting with a stable fixed point is found only on request
    assert regime(P, 100.0).coexisting == ()
    assert "alpha limit cycle" in regime(P, 100.0, find_cycles=True).coexisting
    with pytest.raises(ModelError, match="needs a simulation"):
        regime(P, 220.0, find_cycles=False)


def test_regime_batch():
    batch = P.replace(mu=np.array([[60.0, 220.0, 125.0], [-100.0, 350.0, 1000.0]]))
    out = regime(batch)
    assert out.shape == (2, 3)
    labels = np.array([r.label for r in out.ravel()]).reshape(2, 3)
    assert labels[0].tolist() == ["noise-driven oscillatory focus", "alpha limit cycle", "spike-like cycle"]
    assert labels[1].tolist() == ["quiescent focus", "noise-driven oscillatory focus", "runaway"]
    # p given separately broadcasts against a single parameter set
    assert [r.label for r in regime(P, p=[60.0, 220.0])] == ["noise-driven oscillatory focus", "alpha limit cycle"]
