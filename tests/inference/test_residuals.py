"""Correlated ERP residuals and the ERP adequacy check: exact density, AR fits, calibration, what it flags."""

import numpy as np
import pytest
from scipy.linalg import toeplitz
from scipy.stats import multivariate_normal

from jrfit.inference.adequacy import erp_adequacy
from jrfit.inference.residuals import (
    correlated_replicates,
    gaussian_logp,
    lag1_correlation,
    levinson,
    noise_autocorrelation,
    whitening,
)

TIMES = np.arange(-0.1, 0.5, 1 / 250)
N = TIMES.size


def _ar2(rng, n_seg, n, phi=(1.5, -0.8)):
    """Independent AR(2) segments (an alpha-like oscillating noise), burn-in discarded."""
    e = rng.standard_normal((n_seg, n + 200))
    z = np.zeros_like(e)
    for t in range(2, e.shape[1]):
        z[:, t] = phi[0] * z[:, t - 1] + phi[1] * z[:, t - 2] + e[:, t]
    return z[:, 200:] / z[:, 200:].std()


def _ar2_acf(n, phi=(1.5, -0.8)):
    """Exact autocorrelation of the AR(2) process (Yule-Walker recursion)."""
    r = [1.0, phi[0] / (1.0 - phi[1])]
    while len(r) < n:
        r.append(phi[0] * r[-1] + phi[1] * r[-2])
    return np.array(r[:n])


def test_logp_is_the_multivariate_normal_with_the_toeplitz_correlation():
    """Against scipy's multivariate normal with covariance s_i s_j rho(|i-j|) (heteroscedastic s)."""
    rng = np.random.default_rng(0)
    acf = _ar2_acf(60)
    s = 0.5 + rng.random(60)
    cov = np.outer(s, s) * (toeplitz(acf) + 1e-6 * np.eye(60))
    r = rng.multivariate_normal(np.zeros(60), cov)
    w, logdet = whitening(acf)
    assert gaussian_logp(r / s, w, logdet, np.log(s).sum(), 60) == pytest.approx(
        multivariate_normal(np.zeros(60), cov).logpdf(r), rel=1e-9
    )


def test_levinson_recovers_the_ar1_coefficient_and_innovation_variance():
    phi, var = levinson(0.7 ** np.arange(5), 3)
    np.testing.assert_allclose(phi, [0.7, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(var, [1.0, 0.51, 0.51, 0.51], atol=1e-12)


def test_noise_autocorrelation_of_oscillating_noise_matches_the_true_process():
    """60 trials of AR(2) noise: the AIC order is at least 2, the ACF follows the exact one at all lags."""
    acf, order = noise_autocorrelation(_ar2(np.random.default_rng(1), 60, N), N)
    assert order >= 2
    np.testing.assert_allclose(acf, _ar2_acf(N), atol=0.06)


def test_replicates_have_the_autocorrelation_and_white_innovations():
    rng = np.random.default_rng(2)
    acf = _ar2_acf(N)
    z = correlated_replicates(rng, acf, 2000)
    assert z.var() == pytest.approx(1.0, abs=0.03)
    assert lag1_correlation(z).mean() == pytest.approx(acf[1], abs=0.03)
    e = z @ whitening(acf)[0].T
    assert e.var() == pytest.approx(1.0, abs=0.02)
    assert abs(lag1_correlation(e).mean()) < 0.01


def _erp(t):
    return 8.0 * np.exp(-0.5 * ((t - 0.1) / 0.02) ** 2) - 5.0 * np.exp(-0.5 * ((t - 0.2) / 0.04) ** 2)


def _draws(rng, n=200):
    """Posterior-like draws: the true mean with a small uncertainty in size, sd 1 uV."""
    return _erp(TIMES)[None] * (1.0 + 0.01 * rng.standard_normal((n, 1))), np.ones((n, 1))


def test_data_from_the_model_are_judged_adequate_at_about_the_nominal_rate():
    rng = np.random.default_rng(3)
    acf = _ar2_acf(N)
    verdicts, ppps = [], []
    for seed in range(60):
        y = _erp(TIMES) + correlated_replicates(rng, acf, 1)[0]
        a = erp_adequacy(y, *_draws(rng), acf, TIMES, rng=np.random.default_rng(seed))
        verdicts.append(a["fits"])
        ppps.append(a["ppp"])
    assert np.mean(verdicts) >= 0.88, np.mean(verdicts)
    assert 0.3 < np.mean(ppps) < 0.7


def test_a_component_the_model_lacks_is_flagged_where_it_is():
    rng = np.random.default_rng(4)
    acf = _ar2_acf(N)
    y = _erp(TIMES) + 6.0 * np.exp(-0.5 * ((TIMES - 0.35) / 0.015) ** 2) + correlated_replicates(rng, acf, 1)[0]
    a = erp_adequacy(y, *_draws(rng), acf, TIMES, rng=rng)
    assert not a["fits"]
    assert any(sp["side"] == "above" and sp["tmin_s"] <= 0.35 <= sp["tmax_s"] for sp in a["spans"]), a["spans"]
    assert any("ms" in p for p in a["problems"]), a["problems"]


def test_correlated_residuals_judged_as_independent_are_flagged():
    """Independent noise assumed while the residuals oscillate (AR(2)): flagged in 10 of 10."""
    rng = np.random.default_rng(5)
    white = np.r_[1.0, np.zeros(N - 1)]
    flagged = 0
    for seed in range(10):
        y = _erp(TIMES) + correlated_replicates(rng, _ar2_acf(N), 1)[0]
        flagged += not erp_adequacy(y, *_draws(rng), white, TIMES, rng=np.random.default_rng(seed))["fits"]
    assert flagged == 10


def test_prepare_evoked_measures_the_trials_noise_correlation(tmp_path):
    """Epochs of AR(2) noise (white on a second channel) through prepare_evoked: the ACF is the true one."""
    import independent

    from jrfit.data.evoked import prepare_evoked

    rng = np.random.default_rng(6)
    trials = np.stack([5.0 * _ar2(rng, 80, N), 5.0 * rng.standard_normal((80, N))], axis=1)
    fname = tmp_path / "noise-epo.fif"
    independent.write_epochs(fname, trials, 250.0, TIMES[0])
    ev = prepare_evoked(
        fname, "stim", tmin=TIMES[0], tmax=TIMES[-1], reference=None, h_freq=None, baseline=None, reject=None
    )
    np.testing.assert_allclose(ev.noise_acf[0], _ar2_acf(N), atol=0.06)
    assert abs(ev.noise_acf[1, 1]) < 0.05 and np.max(np.abs(ev.noise_acf[1, 1:])) < 0.06
    step = next(s for s in ev.record if s["step"] == "average")
    assert step["noise_ar_order"][0] >= 2 and "deviations" in step["noise_acf_method"]
    # picking and cropping keep the channels' and lags' correlation
    assert np.array_equal(ev.pick(["EEG001"]).noise_acf[0], ev.noise_acf[1])
    cropped = ev.crop(0.0, 0.2)
    np.testing.assert_array_equal(cropped.noise_acf, ev.noise_acf[:, : cropped.n_times])


# ----------------------------------------------------------------------------
# the preprocessing as a linear map on the model's response
def _bump(t):
    return 10.0 * np.exp(-0.5 * ((t - 0.08) / 0.006) ** 2) - 4.0 * np.exp(-0.5 * ((t - 0.15) / 0.02) ** 2)


def test_response_map_is_what_the_epochs_pipeline_does_to_a_signal(tmp_path):
    """Identical trials through prepare_evoked (40 Hz low-pass of each epoch, baseline): data = M @ signal."""
    import independent

    from jrfit.data.evoked import prepare_evoked

    s = _bump(TIMES)
    fname = tmp_path / "bump-epo.fif"
    rng = np.random.default_rng(7)
    independent.write_epochs(fname, s[None, None] + 1e-3 * rng.standard_normal((20, 1, N)), 250.0, TIMES[0])
    ev = prepare_evoked(fname, "stim", tmin=TIMES[0], tmax=TIMES[-1], reject=None)
    assert ev.lowpass == dict(h_freq=40.0, sfreq=250.0, on="epochs")
    m = ev.response_map()
    np.testing.assert_allclose(ev.data[0], m @ s, atol=2e-3)
    assert np.max(np.abs(ev.data[0] - s)) > 0.5  # the low-pass does change this 6-ms bump


def test_response_map_is_what_the_continuous_pipeline_does_to_a_signal():
    """A recording with the signal after every event, filtered before epoching: data = M @ signal."""
    import mne

    from jrfit.data.evoked import prepare_evoked

    sfreq, n_ev, gap = 250.0, 40, 300
    x = np.zeros(n_ev * gap + 500)
    onsets = 250 + gap * np.arange(n_ev)
    for o in onsets:
        x[o + np.arange(-25, N - 25)] += _bump(TIMES)
    rng = np.random.default_rng(8)
    raw = mne.io.RawArray(
        1e-6 * (x[None] + 0.01 * rng.standard_normal((1, x.size))),
        mne.create_info(["Cz"], sfreq, "eeg"),
        verbose="error",
    )
    raw.set_annotations(mne.Annotations(onsets / sfreq, 0.0, "stim"))
    ev = prepare_evoked(
        raw, "stim", tmin=TIMES[0], tmax=TIMES[-1], reject=None, bad_segments=None, bad_channels=None, line_freq=None
    )
    assert ev.lowpass["on"] == "continuous"
    s = _bump(ev.times)
    # the 0.1 Hz high-pass of the recording is not in the map: a fraction of a percent here
    np.testing.assert_allclose(ev.data[0], ev.response_map() @ s, atol=0.03 * np.max(np.abs(s)))
    assert np.max(np.abs(ev.data[0] - (s - s[ev.times <= 0].mean()))) > 0.5


def test_low_passed_noise_is_whitened_in_the_band_the_filter_lets_through(tmp_path):
    """White trials low-passed at 40 Hz by prepare_evoked: the plain AR whitening leaves the trial deviations
    correlated (the filter's stopband is overstated); in the kept components they are white, and an average
    of pure noise is judged adequate against a zero mean."""
    import independent
    import mne

    from jrfit.data.evoked import prepare_evoked
    from jrfit.inference.residuals import projected_whitening

    rng = np.random.default_rng(9)
    fname = tmp_path / "white-epo.fif"
    independent.write_epochs(fname, 3.0 * rng.standard_normal((80, 1, N)), 250.0, TIMES[0])
    ev = prepare_evoked(fname, "stim", tmin=TIMES[0], tmax=TIMES[-1], reject=None)
    ep = mne.read_epochs(fname, verbose="error").filter(None, 40.0, verbose="error")  # as prepare_evoked does
    ep.apply_baseline((None, 0), verbose="error")
    x = ep.get_data()[:, 0] * 1e6
    z = (x - x.mean(0)) / (x - x.mean(0)).std(axis=0)
    plain = z @ whitening(ev.noise_acf[0])[0].T
    assert lag1_correlation(plain).mean() > 0.2  # the failure this guards against
    w, _, k, basis = projected_whitening(ev.noise_acf[0], ev.response_map())
    assert 0.25 * N < k < 0.5 * N  # 40 Hz of a 125 Hz Nyquist band, plus the transition
    e = z @ w[:k].T
    assert e.var() == pytest.approx(1.0, abs=0.08)
    # single trials are noise of sd x.std(axis=0) about a zero mean
    ok = [
        erp_adequacy(
            x[i] - x.mean(0),
            np.zeros((100, N)),
            x.std(axis=0)[None],
            ev.noise_acf[0],
            ev.times,
            response_map=ev.response_map(),
            rng=np.random.default_rng(i),
        )["fits"]
        for i in range(20)
    ]
    assert np.mean(ok) >= 0.85, np.mean(ok)
