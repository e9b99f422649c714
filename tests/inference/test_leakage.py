"""The expected value of Welch/multitaper estimates (debiased Whittle likelihood)."""

import numpy as np
import pytest
from independent import damping, simulate_column
from scipy.optimize import brentq
from scipy.signal import get_window

from jrfit.data.spectrum import ObservedSpectrum, compute_spectrum
from jrfit.inference.leakage import LeakageKernel, leakage_kernel
from jrfit.model.params import JRParams
from jrfit.model.spectrum import psd_from_v

FS, N = 250.0, 1000  # 4-s segments


def _spectrum(step, fmin=2.0, fmax=40.0, df=FS / N):
    freqs = np.arange(0, FS / 2 + 1e-9, df)
    freqs = freqs[(freqs >= fmin) & (freqs <= fmax)]
    return ObservedSpectrum(
        freqs=freqs,
        psd=np.ones((1, freqs.size)),
        ch_names=["x"],
        n_eff=10.0,
        method=step["params"]["method"],
        units="mV^2/Hz",
        record=[step],
        source="",
        sfreq=FS,
    )


WELCH = dict(
    step="spectrum",
    params=dict(method="welch", window="hann"),
    n_per_seg=N,
    window="hann",
    enbw_hz=1.5 * FS / N,
    freq_spacing_hz=FS / N,
)


def _v_at_damping(d):
    from jrfit.model.column import eigenvalues

    P = JRParams()

    def damp(v):
        ev = eigenvalues(np.array([v]), JRParams(**{k: np.array([x]) for k, x in P.as_dict().items()}))
        return -ev[0, 0].real - d

    return brentq(damp, 8.2, 9.5)


def _exact_expected(freqs, v, tapers, weights):
    """Lag-domain expected periodogram (Percival & Walden eq. 206): a second method."""
    m = 2**20
    ff = np.fft.fftfreq(m, 1 / FS)
    d = JRParams().as_dict()
    s2 = sum(psd_from_v(np.abs(ff + k * FS) + 1e-12, v, d) / 2 for k in (-2, -1, 0, 1, 2))  # aliased, two-sided
    c = np.real(np.fft.ifft(s2)) * FS  # autocovariance at integer lags
    n = tapers.shape[1]
    lags = np.arange(-(n - 1), n)
    out = 0.0
    for u, lam in zip(tapers, weights):
        r_u = np.correlate(u, u, mode="full")
        out = out + lam * np.real(np.exp(-2j * np.pi * np.outer(freqs, lags) / FS) @ (c[lags % m] * r_u)) / np.sum(u**2)
    return 2.0 * out / (FS * np.sum(weights))


def test_welch_kernel_matches_the_lag_domain_expected_periodogram():
    spec = _spectrum(WELCH)
    kernel = leakage_kernel(spec)
    v = _v_at_damping(1.0)
    d = JRParams().as_dict()
    expected = kernel.apply(psd_from_v(kernel.fine_freqs, v, d))
    exact = _exact_expected(spec.freqs, v, get_window("hann", N)[None], np.ones(1))
    plain = psd_from_v(spec.freqs, v, d)
    assert np.max(np.abs(expected / exact - 1)) < 0.01
    assert np.max(np.abs(plain / exact - 1)) > 0.3  # the bias the correction removes


def test_multitaper_kernel_matches_the_lag_domain_expected_periodogram():
    import mne

    nw = 2.0
    step = dict(
        step="spectrum",
        params=dict(method="multitaper"),
        n_per_seg=N,
        half_nbw=nw,
        bandwidth_hz=2 * nw / (N / FS),
        freq_spacing_hz=FS / N,
    )
    spec = _spectrum(step)
    kernel = leakage_kernel(spec)
    v = _v_at_damping(1.0)
    expected = kernel.apply(psd_from_v(kernel.fine_freqs, v, JRParams().as_dict()))
    tapers, eig = mne.time_frequency.dpss_windows(N, nw, int(2 * nw), sym=False, low_bias=True)
    exact = _exact_expected(spec.freqs, v, tapers, eig)
    assert np.max(np.abs(expected / exact - 1)) < 0.01


def test_kernel_rows_sum_to_one_and_leave_a_flat_spectrum_unchanged():
    kernel = leakage_kernel(_spectrum(WELCH))
    assert np.allclose(kernel.matrix.sum(axis=1), 1.0)
    assert np.allclose(kernel.apply(np.full(kernel.fine_freqs.size, 3.0)), 3.0)
    assert kernel.fine_freqs[0] > 0 and kernel.fine_freqs[-1] <= FS / 2
    assert np.max(np.diff(kernel.fine_freqs)) <= 0.125 + 1e-12
    assert not kernel.is_identity


def test_kernel_without_estimator_record_is_the_identity():
    spec = _spectrum(WELCH)
    bare = ObservedSpectrum(
        freqs=spec.freqs,
        psd=spec.psd,
        ch_names=["x"],
        n_eff=10.0,
        method="welch",
        units="mV^2/Hz",
        record=[],
        source="",
        sfreq=FS,
    )
    kernel = leakage_kernel(bare)
    assert kernel.is_identity
    assert np.array_equal(kernel.apply(np.arange(spec.freqs.size)), np.arange(spec.freqs.size))
    assert LeakageKernel.identity([1.0, 2.0]).is_identity


@pytest.mark.slow
def test_average_welch_of_an_independent_simulation_matches_the_expected_periodogram():
    """Column with damping near 1 /s, Euler-Maruyama at 20 us, no anti-alias filter."""
    import mne

    mu, sigma = 370.0, 0.2  # small noise: the linearisation holds
    ((v_ind, damp),) = damping(mu)
    assert 0.8 < damp < 1.3
    x = np.stack([simulate_column(500.0, FS, mu=mu, sigma=sigma, seed=s) for s in range(4)])
    x = x - x.mean(axis=1, keepdims=True)
    raw = mne.io.RawArray(x * 1e-3, mne.create_info([f"c{i}" for i in range(4)], FS, "eeg"), verbose="error")
    spec = compute_spectrum(raw, fmin=2.0, fmax=40.0)
    avg = spec.psd.mean(axis=0)
    kernel = leakage_kernel(spec)
    # jrfit's PSD at the same operating point (its v from the independent fixed point)
    d = dict(JRParams().as_dict(), sigma=sigma)
    expected = kernel.apply(psd_from_v(kernel.fine_freqs, v_ind, d))
    plain = psd_from_v(spec.freqs, v_ind, d)
    peak = expected > expected.max() / 10  # around the peak
    assert peak.sum() >= 3
    err_expected = np.mean(np.abs(avg[peak] / expected[peak] - 1))
    err_plain = np.mean(np.abs(avg[peak] / plain[peak] - 1))
    assert err_expected < 0.05, err_expected
    assert err_plain > 0.15, err_plain
