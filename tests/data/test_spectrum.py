"""Tests of jrfit.data.spectrum: spectra, their n_eff, the band checks and ObservedSpectrum.

Synthetic recordings are small, seeded and built with numpy (tests/data/conftest.py);
real recordings come from ../shared/data through the session fixtures of tests/conftest.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import mne
import numpy as np
import pytest

from jrfit.data.preprocess import preprocess
from jrfit.data.spectrum import ObservedSpectrum, compute_spectrum, multitaper_n_eff, prepare_spectrum, welch_n_eff
from jrfit.errors import DataError, JRFitError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


def _empirical_n_eff(psd):
    """1 / mean over bins of var/mean^2 across independent channels (Gamma: 1/shape)."""
    ratio = psd.var(axis=0, ddof=1) / psd.mean(axis=0) ** 2
    return 1.0 / ratio.mean()


# ----------------------------------------------------------------------------
# effective number of segments
def test_welch_n_eff_formula():
    """Closed forms: no overlap gives K; boxcar/Hann at 50 % give rho = 1/2 and 1/6."""
    n_eff, k = welch_n_eff(100, 0, 1000, "hann")
    assert (n_eff, k) == (10.0, 10)
    n_eff, k = welch_n_eff(100, 50, 1000, "boxcar")
    assert k == 19
    assert n_eff == pytest.approx(k / (1 + 2 * (1 - 1 / k) * 0.5**2))
    n_eff, k = welch_n_eff(100, 50, 1000, "hann")
    assert n_eff == pytest.approx(k / (1 + 2 * (1 - 1 / k) / 36))
    # spans shorter than a window do not count; two equal spans add up
    assert welch_n_eff(100, 50, [1000, 99], "hann") == welch_n_eff(100, 50, 1000, "hann")
    two, k2 = welch_n_eff(100, 50, [1000, 1000], "hann")
    assert (two, k2) == (pytest.approx(2 * n_eff), 2 * k)
    assert welch_n_eff(100, 50, 50)[0] == 0.0


@pytest.mark.parametrize("overlap", [0.5, 0.75, 0.0])
def test_welch_n_eff_matches_scatter(overlap, make_raw):
    """var(psd)/mean(psd)^2 across independent recordings is 1/n_eff (Gamma model).

    400 independent AR(2) channels (one per repetition), 120 s at 100 Hz, 4-s
    Hann windows. The measured shape is within 1 % of Welch's n_eff (checked to 3 %,
    about 4 standard errors); the raw window count is off by 5.6 % (50 % overlap,
    Welch's factor 1 + 2 (1 - 1/K) / 36) and 48 % (75 % overlap).
    """
    sfreq = 100.0
    raw = make_raw(400, duration=120.0, sfreq=sfreq, seed=1)
    spec = compute_spectrum(raw, fmin=2.0, fmax=40.0, overlap=overlap, window="hann")
    step = spec.record[-1]
    k = step["n_windows"]
    n_emp = _empirical_n_eff(spec.psd)
    ratio = n_emp / spec.n_eff
    assert abs(ratio - 1) < 0.15  # the Gamma/Whittle variance model holds
    assert abs(ratio - 1) < 0.03  # and precisely
    if overlap == 0.0:
        assert spec.n_eff == k == 30
    else:
        # the raw window count fails the same checks (measured: 5.6 % and 48 % off)
        assert abs(n_emp / k - 1) > 0.03
        if overlap == 0.75:
            assert abs(n_emp / k - 1) > 0.15


def test_welch_n_eff_with_bad_spans(make_raw):
    """BAD_ annotations split the data; windows are counted per good span."""
    sfreq = 100.0
    raw = make_raw(300, duration=120.0, sfreq=sfreq, seed=2)
    raw.set_annotations(mne.Annotations([30.0, 41.5, 50.0, 54.5, 100.0], [1.0, 0.5, 2.5, 0.5, 1.0], ["BAD_x"] * 5))
    spec = compute_spectrum(raw, overlap=0.5)
    step = spec.record[-1]
    spans = [30.0, 10.5, 8.0, 2.0, 45.0, 19.0]  # good spans, in s; the 2-s span is too short
    n_eff, k = welch_n_eff(400, 200, [int(s * sfreq) for s in spans], "hann")
    assert spec.n_eff == pytest.approx(n_eff)
    assert step["n_windows"] == k and step["n_spans_used"] == 5
    assert step["good_duration_s"] == pytest.approx(sum(spans))
    n_emp = _empirical_n_eff(spec.psd)
    assert abs(n_emp / spec.n_eff - 1) < 0.1
    # treating the data as one span (ignoring the annotations) would over-count
    assert welch_n_eff(400, 200, 12000)[0] > 1.15 * spec.n_eff


def test_multitaper_n_eff_matches_scatter(make_raw):
    """Multitaper: n_eff = segments x (sum lambda)^2 / sum lambda^2 (about 2 NW - 1 tapers)."""
    sfreq = 100.0
    raw = make_raw(300, duration=120.0, sfreq=sfreq, seed=3)
    spec = compute_spectrum(raw, method="multitaper")
    step = spec.record[-1]
    assert step["n_tapers"] == 7 and step["n_segments"] == 30  # NW = 4, 4-s segments
    assert 0.95 * 7 * 30 < spec.n_eff <= 7 * 30
    n_emp = _empirical_n_eff(spec.psd)
    assert abs(n_emp / spec.n_eff - 1) < 0.1
    # wrong counts fail: the taper count alone, or the segment count alone
    assert abs(n_emp / 7 - 1) > 0.5 and abs(n_emp / 30 - 1) > 0.5


def test_multitaper_whole_recording_n_eff(make_raw):
    """seg_length=None: one taper set over all good data; n_eff about 2 NW - 1."""
    sfreq = 100.0
    raw = make_raw(60, duration=30.0, sfreq=sfreq, seed=4)
    spec = compute_spectrum(raw, method="multitaper", seg_length=None, bandwidth=1.0)
    step = spec.record[-1]
    assert step["half_nbw"] == pytest.approx(15.0)
    n_ref, n_tapers, _ = multitaper_n_eff(3000, sfreq, 1.0)
    assert step["n_tapers"] == n_tapers in (28, 29)  # 2 NW - 1, less low-bias drops
    assert spec.n_eff == pytest.approx(n_ref) and 0.95 * 28 < n_ref <= 29
    assert spec.freqs[1] - spec.freqs[0] == pytest.approx(1 / 30.0)
    n_emp = _empirical_n_eff(spec.psd)
    assert abs(n_emp / spec.n_eff - 1) < 0.15
    assert abs(n_emp / 1 - 1) > 0.5


def test_psd_units_mv2_per_hz():
    """White noise of 10 uV rms at 200 Hz: one-sided density 2 sigma^2 / sfreq, in mV^2/Hz."""
    rng = np.random.default_rng(5)
    sigma, sfreq = 10e-6, 200.0
    raw = mne.io.RawArray(sigma * rng.standard_normal((4, 12000)), mne.create_info(4, sfreq, "eeg"), verbose="error")
    spec = compute_spectrum(raw)
    assert spec.units == "mV^2/Hz"
    expected = 2 * sigma**2 / sfreq * 1e6
    assert spec.psd.mean() == pytest.approx(expected, rel=0.03)


# ----------------------------------------------------------------------------
# real recordings
def _alpha_residual(spec):
    """Peak frequency and height (log10) in 7-13 Hz above a 1/f fit outside 6-14 Hz."""
    f, lp = spec.freqs, np.log10(spec.psd)
    fit = (f < 6) | (f > 14)
    band = (f >= 7) & (f <= 13)
    out = []
    for row in lp:
        coef = np.polyfit(np.log10(f[fit]), row[fit], 1)
        res = row - np.polyval(coef, np.log10(f))
        i = np.argmax(res[band])
        out.append((f[band][i], res[band][i]))
    return np.array(out)


def test_eeglab_sample_alpha(eeglab_raw, snapshot, assert_unchanged):
    snap = snapshot(eeglab_raw)
    spec = prepare_spectrum(eeglab_raw)
    assert_unchanged(eeglab_raw, snap)
    assert spec.n_channels == 32 and spec.sfreq == 128.0
    assert spec.freqs[0] == 2.0 and spec.freqs[-1] == 40.0
    assert spec.n_eff > 90  # ~234 s of good data in 4-s windows
    peaks = _alpha_residual(spec)
    alpha = (peaks[:, 0] >= 8) & (peaks[:, 0] <= 12) & (peaks[:, 1] > 0.5)
    assert alpha.mean() > 0.75, peaks
    steps = [r["step"] for r in spec.record]
    assert steps == [
        "load",
        "pick_eeg",
        "standardize_names",
        "line_noise",
        "filter",
        "bad_channels",
        "reference",
        "bad_segments",
        "channel_positions",
        "result",
        "spectrum",
    ]
    json.dumps(spec.record)
    assert spec.source == "test_raw.set"


def test_logging_reports_band_and_exclusions(caplog, make_raw):
    raw = make_raw(duration=30.0, sfreq=100.0, seed=13)
    with caplog.at_level(logging.INFO, logger="jrfit"):
        compute_spectrum(raw, fmin=0.0, fmax=50.0, verbose=True)
    assert "Spectrum (welch): 0.75-49.25 Hz" in caplog.text
    assert "DC 0-0.5 Hz" in caplog.text and "Nyquist 49.5-50 Hz" in caplog.text


def test_band_and_filter_errors(make_raw):
    raw = make_raw(duration=20.0, sfreq=100.0)
    with pytest.raises(DataError, match=r"fmin=2 to fmax=60 Hz .* Nyquist frequency 50 Hz"):
        compute_spectrum(raw, fmax=60.0)
    with pytest.raises(DataError, match=r"fmax=60 Hz .* Nyquist frequency 50 Hz"):
        prepare_spectrum(raw, fmax=60.0)
    with pytest.raises(DataError, match=r"fmin=-1 .* Nyquist"):
        compute_spectrum(raw, fmin=-1.0)
    with pytest.raises(DataError, match=r"fmin=30 Hz must be below fmax=20 Hz"):
        compute_spectrum(raw, fmin=30.0, fmax=20.0)
    with pytest.raises(DataError, match=r"h_freq=60 Hz is not below the Nyquist frequency \(50 Hz"):
        preprocess(raw, h_freq=60.0)
    with pytest.raises(
        JRFitError,
        match=r"Invalid value for the 'method' parameter.*'welch' "
        r"and 'multitaper', but got 'fft'",
    ):
        compute_spectrum(raw, method="fft")
    with pytest.raises(JRFitError, match="Unknown key"):
        preprocess(raw, bad_segments=dict(ptp=3))


def test_too_short_recording(make_raw):
    raw = make_raw(duration=3.0, sfreq=100.0)
    with pytest.raises(
        DataError,
        match=r"too short for seg_length=4 s segments.*lasts 3\.00 s"
        r".*shorter seg_length",
    ):
        compute_spectrum(raw)
    spec = compute_spectrum(raw, seg_length=1.0)  # the suggested fix works
    assert spec.record[-1]["n_windows"] == 5


def test_nan_and_flat_data(make_raw):
    info = mne.create_info(NAMES[:4], 100.0, "eeg")
    nan = mne.io.RawArray(np.full((4, 2000), np.nan), info, verbose="error")
    for func in (compute_spectrum, preprocess, prepare_spectrum):
        with pytest.raises(DataError, match="All values of .* are NaN"):
            func(nan)
    flat = mne.io.RawArray(np.full((4, 2000), 1e-6), info, verbose="error")
    with pytest.raises(DataError, match=r"are flat \(zero variance in every channel\)"):
        compute_spectrum(flat)
    with pytest.raises(DataError, match=r"All 4 EEG channels .* are flat"):
        preprocess(flat)
    partly = make_raw(duration=20.0, sfreq=100.0)
    partly._data[2, 500:600] = np.nan  # one second of NaN in F4
    with pytest.raises(DataError, match=r"\['F4'\] contain NaN.*Drop these channels"):
        compute_spectrum(partly)
    clean, record = preprocess(partly)  # preprocess keeps F4 and leaves the span out
    assert "F4" in clean.ch_names and np.all(np.isfinite(clean.get_data()))
    step = next(r for r in record if r["step"] == "non_finite_spans")
    assert step["channels"] == ["F4"] and step["spans_s"] == [[pytest.approx(3.0), pytest.approx(5.0)]]
    bad = [a for a in clean.annotations if a["description"] == "BAD_nonfinite"]
    assert len(bad) == 1 and bad[0]["duration"] == pytest.approx(5.0)
    assert np.all(np.isnan(partly._data[2, 500:600]))  # the user's object is untouched
    mostly = make_raw(duration=20.0, sfreq=100.0)
    mostly._data[2, :1000] = np.inf  # half the channel
    clean, record = preprocess(mostly)
    assert "F4" not in clean.ch_names
    assert next(r for r in record if r["step"] == "bad_channels")["bads"]["F4"].startswith("non-finite values (50 %")


# ----------------------------------------------------------------------------
# ObservedSpectrum
def _spectrum(**kw):
    args = dict(freqs=[2.0, 2.25, 2.5], psd=np.ones((2, 3)), ch_names=["a", "b"], n_eff=10.0)
    args.update(kw)
    return ObservedSpectrum(**args)


def test_observed_spectrum_validation():
    spec = _spectrum()
    assert spec.units == "mV^2/Hz" and spec.method == "welch"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n_eff = 3.0
    with pytest.raises(ValueError):
        spec.psd[0, 0] = 2.0  # read-only arrays
    with pytest.raises(DataError, match=r"psd must have shape \(n_channels, n_freqs=3\)"):
        _spectrum(psd=np.ones((2, 4)))
    with pytest.raises(DataError, match="finite and > 0"):
        _spectrum(psd=np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    with pytest.raises(DataError, match="strictly increasing"):
        _spectrum(freqs=[2.0, 2.0, 3.0])
    with pytest.raises(DataError, match="2 unique names"):
        _spectrum(ch_names=["a", "a"])
    with pytest.raises(DataError, match=r"n_eff must be a number or have shape \(n_channels=2,\)"):
        _spectrum(n_eff=[1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="n_eff must be finite and > 0"):
        _spectrum(n_eff=0.0)
    with pytest.raises(DataError, match=r"units must be 'mV\^2/Hz'"):
        _spectrum(units="V^2/Hz")
    with pytest.raises(JRFitError, match="'method' parameter"):
        _spectrum(method="fft")
    with pytest.raises(DataError, match="above the Nyquist"):
        _spectrum(sfreq=4.0)


def test_observed_spectrum_roundtrip_and_pick(make_raw):
    raw = make_raw(duration=20.0, sfreq=100.0, seed=14)
    spec = prepare_spectrum(raw, fmax=45.0)
    text = json.dumps(spec.to_dict())
    back = ObservedSpectrum.from_dict(text)
    np.testing.assert_array_equal(back.psd, spec.psd)
    np.testing.assert_array_equal(back.freqs, spec.freqs)
    np.testing.assert_array_equal(back.excluded_freqs, spec.excluded_freqs)
    assert back.record == spec.record and back.ch_names == spec.ch_names
    assert back.n_eff == spec.n_eff and back.sfreq == spec.sfreq
    sub = spec.pick(["O1", "Fz"])
    assert sub.ch_names == ("O1", "Fz")
    np.testing.assert_array_equal(sub.psd[1], spec.psd[spec.ch_names.index("Fz")])
    with pytest.raises(DataError, match="Unknown channel 'P3'"):
        spec.pick("P3")
    per_ch = _spectrum(n_eff=[5.0, 6.0]).pick(["b"])
    np.testing.assert_array_equal(per_ch.n_eff, [6.0])
    assert "ObservedSpectrum" in repr(spec) and "mV^2/Hz" in repr(spec)
