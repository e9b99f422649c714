"""Posterior-predictive adequacy: calibrated when the model is right, flags what it misses."""

import numpy as np

from jrfit.inference.adequacy import gamma_deviance, spectral_adequacy

FREQS = np.arange(2.0, 40.01, 0.5)
K = 60.0


def _lorentz(f, f0=10.0, width=1.0):
    return 1.0 / (1.0 + ((f - f0) / width) ** 2)


def _model(f):
    return 5.0 * _lorentz(f) + 2.0 / f + 0.05


def _draws(rng, n=200, jitter=0.02):
    """Posterior-like draws: the true spectrum with a small multiplicative uncertainty."""
    return _model(FREQS)[None] * np.exp(jitter * rng.standard_normal((n, 1)))


def test_gamma_deviance_is_zero_at_equality_and_positive_elsewhere():
    s = _model(FREQS)
    assert gamma_deviance(s, s, K) == 0.0
    assert gamma_deviance(1.1 * s, s, K) > 0
    # second-order expansion: 2K sum (r-1)^2/2 for r near 1
    np.testing.assert_allclose(gamma_deviance(1.01 * s, s, K), K * FREQS.size * 0.01**2, rtol=0.02)


def test_data_from_the_model_are_judged_adequate_at_about_the_nominal_rate():
    rng = np.random.default_rng(1)
    verdicts, ppps = [], []
    for seed in range(60):
        y = _model(FREQS) * rng.gamma(K, 1 / K, FREQS.size)
        a = spectral_adequacy(y, _draws(rng), K, FREQS, rng=np.random.default_rng(seed))
        verdicts.append(a["fits"])
        ppps.append(a["ppp"])
    assert np.mean(verdicts) >= 0.9, np.mean(verdicts)
    assert 0.3 < np.mean(ppps) < 0.7  # about uniform under the model


def test_a_second_peak_the_model_lacks_is_flagged_where_it_is():
    rng = np.random.default_rng(2)
    y = (_model(FREQS) + 0.6 * _lorentz(FREQS, 21.0, 1.2)) * rng.gamma(K, 1 / K, FREQS.size)
    a = spectral_adequacy(y, _draws(rng), K, FREQS, rng=rng)
    assert not a["fits"]
    assert a["ppp"] < 0.05
    above = [b for b in a["bands"] if b["side"] == "above"]
    assert any(b["fmin_hz"] <= 21.0 <= b["fmax_hz"] for b in above), a["bands"]
    assert any("above" in p and "Hz" in p for p in a["problems"])


def test_a_steeper_fall_at_high_frequencies_is_flagged_below():
    rng = np.random.default_rng(3)
    y = _model(FREQS) * np.where(FREQS > 30, np.exp(-(FREQS - 30) / 4), 1.0) * rng.gamma(K, 1 / K, FREQS.size)
    a = spectral_adequacy(y, _draws(rng), K, FREQS, rng=rng)
    assert not a["fits"]
    assert any(b["side"] == "below" and b["fmax_hz"] > 33 for b in a["bands"]), a["bands"]


def test_the_same_seed_gives_the_same_verdict():
    rng = np.random.default_rng(4)
    y = _model(FREQS) * rng.gamma(K, 1 / K, FREQS.size)
    draws = _draws(rng)
    a1 = spectral_adequacy(y, draws, K, FREQS, rng=np.random.default_rng(7))
    a2 = spectral_adequacy(y, draws, K, FREQS, rng=np.random.default_rng(7))
    assert a1 == a2
