"""Tests of jrfit.data.recording: loading, preprocessing, spectra and their n_eff.

Synthetic recordings are small, seeded and built with numpy; real recordings
come from ../shared/data through the session fixtures of conftest.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone

import mne
import numpy as np
import pytest
from scipy.signal import lfilter

from jrfit.data.recording import (
    ObservedSpectrum,
    compute_spectrum,
    load_recording,
    multitaper_n_eff,
    preprocess,
    prepare_spectrum,
    welch_n_eff,
)
from jrfit.errors import DataError, JRFitError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


# ----------------------------------------------------------------------------
# synthetic data
def _ar2(n_channels, n_times, sfreq, rng, f0=10.0, r=0.9, white=0.5, scale=1e-5):
    """Independent stationary Gaussian AR(2) + white noise, in V."""
    theta = 2 * np.pi * f0 / sfreq
    a = [1.0, -2 * r * np.cos(theta), r * r]
    e = rng.standard_normal((n_channels, n_times + 500))
    x = lfilter([1.0], a, e, axis=1)[:, 500:] + white * rng.standard_normal((n_channels, n_times))
    return scale * x / x.std()


def _make_raw(n_channels=None, duration=60.0, sfreq=200.0, seed=0, names=None, meas_date=None):
    names = names or (NAMES if n_channels is None else [f"ch{i:03d}" for i in range(n_channels)])
    rng = np.random.default_rng(seed)
    x = _ar2(len(names), int(round(duration * sfreq)), sfreq, rng)
    raw = mne.io.RawArray(x, mne.create_info(names, sfreq, "eeg"), verbose="error")
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    return raw


def _empirical_n_eff(psd):
    """1 / mean over bins of var/mean^2 across independent channels (Gamma: 1/shape)."""
    ratio = psd.var(axis=0, ddof=1) / psd.mean(axis=0) ** 2
    return 1.0 / ratio.mean()


def _snapshot(raw):
    return dict(
        data=raw.get_data().copy(),
        ch_names=list(raw.ch_names),
        bads=list(raw.info["bads"]),
        annotations=[(a["onset"], a["duration"], a["description"]) for a in raw.annotations],
        highpass=raw.info["highpass"],
        lowpass=raw.info["lowpass"],
        line_freq=raw.info["line_freq"],
        custom_ref=raw.info["custom_ref_applied"],
        dig=None if raw.info["dig"] is None else len(raw.info["dig"]),
    )


def _assert_unchanged(raw, snap):
    after = _snapshot(raw)
    np.testing.assert_array_equal(after.pop("data"), snap["data"])
    assert after == {k: v for k, v in snap.items() if k != "data"}


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
def test_welch_n_eff_matches_scatter(overlap):
    """var(psd)/mean(psd)^2 across independent recordings is 1/n_eff (Gamma model).

    400 independent AR(2) channels (one per repetition), 120 s at 100 Hz, 4-s
    Hann windows. The measured shape is within 1 % of Welch's n_eff (checked to 3 %,
    about 4 standard errors); the raw window count is off by 5.6 % (50 % overlap,
    Welch's factor 1 + 2 (1 - 1/K) / 36) and 48 % (75 % overlap).
    """
    sfreq = 100.0
    raw = _make_raw(400, duration=120.0, sfreq=sfreq, seed=1)
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


def test_welch_n_eff_with_bad_spans():
    """BAD_ annotations split the data; windows are counted per good span."""
    sfreq = 100.0
    raw = _make_raw(300, duration=120.0, sfreq=sfreq, seed=2)
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


def test_multitaper_n_eff_matches_scatter():
    """Multitaper: n_eff = segments x (sum lambda)^2 / sum lambda^2 (about 2 NW - 1 tapers)."""
    sfreq = 100.0
    raw = _make_raw(300, duration=120.0, sfreq=sfreq, seed=3)
    spec = compute_spectrum(raw, method="multitaper")
    step = spec.record[-1]
    assert step["n_tapers"] == 7 and step["n_segments"] == 30  # NW = 4, 4-s segments
    assert 0.95 * 7 * 30 < spec.n_eff <= 7 * 30
    n_emp = _empirical_n_eff(spec.psd)
    assert abs(n_emp / spec.n_eff - 1) < 0.1
    # wrong counts fail: the taper count alone, or the segment count alone
    assert abs(n_emp / 7 - 1) > 0.5 and abs(n_emp / 30 - 1) > 0.5


def test_multitaper_whole_recording_n_eff():
    """seg_length=None: one taper set over all good data; n_eff about 2 NW - 1."""
    sfreq = 100.0
    raw = _make_raw(60, duration=30.0, sfreq=sfreq, seed=4)
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


def test_eeglab_sample_alpha(eeglab_raw):
    snap = _snapshot(eeglab_raw)
    spec = prepare_spectrum(eeglab_raw)
    _assert_unchanged(eeglab_raw, snap)
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


def test_eegmmidb_names_regions(eegmmidb_fname, eegmmidb_raw):
    raw, record = preprocess(eegmmidb_fname)
    assert not any(n.endswith(".") for n in raw.ch_names)
    assert {"FC5", "FCz", "Fp1", "Cz", "O1", "Oz", "Iz"} <= set(raw.ch_names)
    assert raw.get_montage() is not None
    names_step = next(r for r in record if r["step"] == "standardize_names")
    assert names_step["renamed"]["Fc5."] == "FC5" and names_step["montage"]
    json.dumps(record)
    # regions: the virtual channel is the mean of its members; old names work
    snap = _snapshot(eegmmidb_raw)
    reg, _ = preprocess(eegmmidb_raw, picks=["Cz.."], regions={"occipital": ["O1", "O2..", "Oz"]})
    _assert_unchanged(eegmmidb_raw, snap)
    assert reg.ch_names == ["Cz", "occipital"]
    np.testing.assert_allclose(reg.get_data(picks="occipital")[0], raw.get_data(picks=["O1", "O2", "Oz"]).mean(axis=0))
    assert [a["description"] for a in reg.annotations] == [a["description"] for a in raw.annotations]
    spec = compute_spectrum(reg, record=_, method="multitaper")
    assert spec.ch_names == ("Cz", "occipital") and spec.source == "S001R01.edf"
    full = prepare_spectrum(eegmmidb_fname, picks=["O1", "Oz"])
    assert full.ch_names == ("O1", "Oz")


def test_load_formats(eegmmidb_raw, evoked_fname, tmp_path):
    fif = tmp_path / "rec_raw.fif"
    eegmmidb_raw.save(fif, verbose="error")
    raw = load_recording(fif)
    assert raw.ch_names == eegmmidb_raw.ch_names and raw.preload
    with pytest.raises(DataError, match=r"sample_audvis-ave\.fif\.gz.*evoked"):
        load_recording(evoked_fname)


# ----------------------------------------------------------------------------
# line noise, bad channels, bad segments
@pytest.mark.parametrize("f_line", [50.0, 60.0])
def test_line_noise_auto(f_line):
    sfreq = 250.0
    raw = _make_raw(duration=40.0, sfreq=sfreq, seed=6)
    rng = np.random.default_rng(7)
    amp = rng.uniform(1.0, 3.0, (len(raw.ch_names), 1)) * raw.get_data().std()
    raw._data += amp * np.sin(2 * np.pi * f_line * raw.times + rng.uniform(0, 6, (len(amp), 1)))
    clean, record = preprocess(raw)
    step = next(r for r in record if r["step"] == "line_noise")
    assert step["detected"] == f_line
    assert step["notch_freqs"] == [f_line, 2 * f_line]
    assert step["peak_ratios"][str(f_line)] > 10
    assert clean.info["line_freq"] == f_line
    spec = compute_spectrum(clean, fmax=124.0, record=record)
    assert f_line in spec.excluded_freqs and 2 * f_line in spec.excluded_freqs
    assert np.min(np.abs(spec.freqs - f_line)) > 1.5
    assert spec.record[-1]["excluded_bins"][str(f_line)].startswith("line noise")
    # the notch removed the line: no peak left even when the bins are kept
    kept = compute_spectrum(clean, fmin=40.0, fmax=70.0, exclude_line=False)
    at = np.abs(kept.freqs - f_line) <= 0.5
    flank = (np.abs(kept.freqs - f_line) > 3) & (np.abs(kept.freqs - f_line) < 8)
    assert kept.psd[:, at].max() < 2 * np.median(kept.psd[:, flank])


def test_line_noise_absent_or_above_nyquist():
    raw = _make_raw(duration=30.0, sfreq=200.0, seed=8)
    _, record = preprocess(raw)
    step = next(r for r in record if r["step"] == "line_noise")
    assert step["detected"] is None and step["notch_freqs"] == []
    low = _make_raw(duration=30.0, sfreq=100.0, seed=8)
    clean, record = preprocess(low, line_freq=60)
    step = next(r for r in record if r["step"] == "line_noise")
    assert step["notch_freqs"] == [] and step["line_freq"] == 60.0


def test_bad_channels_and_segments(caplog):
    sfreq = 200.0
    raw = _make_raw(duration=60.0, sfreq=sfreq, seed=9)
    clean_ref = raw.copy()
    raw._data[raw.ch_names.index("Pz")] = 0.0  # flat
    raw._data[raw.ch_names.index("C4")] *= 30.0  # huge variance
    spec_ref = prepare_spectrum(clean_ref, bad_channels=["Pz", "C4"])
    burst = slice(int(20 * sfreq), int(22 * sfreq))
    raw._data[:, burst] += 3e-4 * np.random.default_rng(10).standard_normal((len(NAMES), 400))
    raw._data[:, int(40 * sfreq) : int(43 * sfreq)] = 0.0  # dropout

    with caplog.at_level(logging.WARNING, logger="jrfit"):
        clean, record = preprocess(raw, picks=["Pz", "Cz", "O1"])
    assert "Pz" in caplog.text and "left out" in caplog.text
    step = next(r for r in record if r["step"] == "bad_channels")
    assert step["bads"]["Pz"] == "flat" and step["bads"]["C4"].startswith("high variance (")
    assert set(step["bads"]) == {"Pz", "C4"}
    assert "Dropped 2 bad channel(s)" in caplog.text and "--keep-bad-channels" in caplog.text
    assert clean.ch_names == ["Cz", "O1"]
    seg = next(r for r in record if r["step"] == "bad_segments")
    descr = {a["description"] for a in seg["new_annotations"]}
    assert descr == {"BAD_amplitude", "BAD_flat"}
    bad = [(a["onset"] - clean.first_time, a["onset"] - clean.first_time + a["duration"]) for a in clean.annotations]
    assert any(s <= 20.0 and e >= 22.0 for s, e in bad)
    assert any(s <= 40.5 and e >= 42.5 for s, e in bad)
    assert 5.0 / 60 * 100 <= seg["percent_time_rejected"] < 12.0 / 60 * 100

    # the rejected time is out of the PSD: close to the clean recording's
    spec = prepare_spectrum(raw)
    assert set(spec.ch_names) == set(NAMES) - {"Pz", "C4"}
    ratio = spec.pick(["Cz", "O1"]).psd / spec_ref.pick(["Cz", "O1"]).psd
    assert 0.7 < np.median(ratio) < 1.3
    kept = prepare_spectrum(raw, bad_segments=None)
    assert np.median(kept.pick(["Cz", "O1"]).psd / spec_ref.pick(["Cz", "O1"]).psd) > 3


@pytest.mark.parametrize("crop", [False, True])
def test_bad_segment_onsets_with_first_samp(crop):
    """Annotations land on the burst whether or not first_samp and meas_date are set."""
    sfreq = 100.0
    date = datetime(2020, 1, 1, tzinfo=timezone.utc) if crop else None
    raw = _make_raw(duration=50.0, sfreq=sfreq, seed=11, meas_date=date)
    if crop:
        raw.crop(tmin=7.0)
        assert raw.first_samp == 700
    i0 = int(15 * sfreq)
    raw._data[:, i0 : i0 + 100] *= 40
    clean, _ = preprocess(raw)
    good = ~np.isnan(clean.get_data(picks=[0], reject_by_annotation="NaN", verbose="error")[0])
    assert not good[i0 : i0 + 100].any()
    assert good.mean() > 0.9


def _ref_step(record):
    return next(r for r in record if r["step"] == "reference")


def test_reference_options(caplog):
    raw = _make_raw(duration=30.0, sfreq=100.0, seed=12)
    # default: the recording's reference; without filters the data are unchanged
    none, record = preprocess(raw, l_freq=None, line_freq=None, bad_segments=None)
    np.testing.assert_array_equal(none.get_data(), raw.get_data())
    step = _ref_step(record)
    assert step["params"]["reference"] is None
    assert (step["n_channels_in_reference"], step["mixing_share"]) == (0, 0.0)
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        avg, record = preprocess(raw, reference="average", bad_segments=None)
    np.testing.assert_allclose(avg.get_data().mean(axis=0), 0, atol=1e-18)
    step = _ref_step(record)
    assert step["n_channels_in_reference"] == 10 and step["mixing_share"] == pytest.approx(0.1)
    assert "only 10 good EEG channels" in caplog.text and "1/10" in caplog.text
    single, record = preprocess(raw, reference="Cz", bad_segments=None)
    assert "Cz" not in single.ch_names
    step = _ref_step(record)
    assert step["dropped_zero_channels"] == ["Cz"]
    assert step["n_channels_in_reference"] == 1 and step["mixing_share"] is None
    lp, _ = preprocess(raw, h_freq=30.0, bad_segments=None)
    spec = compute_spectrum(lp, fmax=40.0)
    assert spec.freqs[-1] < 30.0 and 35.0 in spec.excluded_freqs


def test_average_reference_of_few_channels(caplog):
    four = _make_raw(duration=20.0, sfreq=100.0, seed=15, names=["O1", "O2", "Cz", "Pz"])
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        spec = prepare_spectrum(four, reference="average", verbose=False)
    warned = [r for r in caplog.records if "reference='average'" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    msg = warned[0].getMessage()
    assert "only 4 good EEG channels" in msg and "1/4 = 0.25" in msg
    assert "reference=None" in msg and "--reference none" in msg
    step = _ref_step(spec.record)  # travels with the spectrum into the result file
    assert step["n_channels_in_reference"] == 4 and step["mixing_share"] == 0.25
    json.dumps(spec.record)
    # 32 good channels or more: no warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        preprocess(_make_raw(32, duration=20.0, sfreq=100.0, seed=16), reference="average", bad_segments=None)
    assert "reference='average'" not in caplog.text
    # two channels would become copies of each other: refused, naming the option
    two = _make_raw(duration=20.0, sfreq=100.0, seed=17, names=["O1", "O2"])
    with pytest.raises(
        DataError,
        match=r"reference='average' with the 2 good EEG channels.*"
        r"copies.*pass reference=None",
    ) as info:
        preprocess(two, reference="average")
    assert "give --reference none" in info.value.for_cli()  # the command line's own phrasing
    assert "reference=None" not in info.value.for_cli()
    with pytest.raises(DataError, match="reference='average'"):
        prepare_spectrum(two, reference="average")
    kept = prepare_spectrum(two, verbose=False)  # the default keeps both as they are
    assert kept.ch_names == ("O1", "O2")


def test_logging_reports_band_and_exclusions(caplog):
    raw = _make_raw(duration=30.0, sfreq=100.0, seed=13)
    with caplog.at_level(logging.INFO, logger="jrfit"):
        compute_spectrum(raw, fmin=0.0, fmax=50.0, verbose=True)
    assert "Spectrum (welch): 0.75-49.25 Hz" in caplog.text
    assert "DC 0-0.5 Hz" in caplog.text and "Nyquist 49.5-50 Hz" in caplog.text


# ----------------------------------------------------------------------------
# bad input
def test_bad_input_files(tmp_path):
    with pytest.raises(DataError, match=r"not found: '.*nothere\.edf' does not exist"):
        load_recording(tmp_path / "nothere.edf")
    garbage = tmp_path / "garbage.edf"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match=r"Could not read '.*garbage\.edf'.*EDF/BDF.*FIF"):
        load_recording(garbage)
    unknown = tmp_path / "rec.xyz"
    unknown.write_text("hello")
    with pytest.raises(DataError, match=r"Could not read '.*rec\.xyz'.*Unsupported file type"):
        prepare_spectrum(unknown)
    with pytest.raises(DataError, match="must be a path to a recording or an instance of mne.io.Raw"):
        load_recording(42)


def test_no_eeg_channels():
    raw = mne.io.RawArray(np.ones((3, 1000)), mne.create_info(3, 100.0, "misc"), verbose="error")
    for func in (load_recording, preprocess, prepare_spectrum, compute_spectrum):
        with pytest.raises(DataError, match=r"no EEG channels \(found 3 misc\).*set_channel_types"):
            func(raw)


def test_unknown_channel_names():
    raw = _make_raw(duration=20.0, sfreq=100.0)
    snap = _snapshot(raw)
    with pytest.raises(
        DataError,
        match=r"Unknown channel 'XYZ' in 'picks'\. Available EEG "
        r"channels: Fz, F3, .*O2\.",
    ):
        preprocess(raw, picks=["Cz", "XYZ"])
    with pytest.raises(DataError, match=r"Unknown channel 'P9' in \"regions\['occ'\]\""):
        prepare_spectrum(raw, regions={"occ": ["O1", "P9"]})
    with pytest.raises(DataError, match=r"Unknown channel 'M1' in 'reference'"):
        preprocess(raw, reference=["M1"])
    with pytest.raises(DataError, match=r"Unknown channel\(s\) \['Q'\] in 'picks'"):
        compute_spectrum(raw, picks=["Q"])
    _assert_unchanged(raw, snap)


def test_band_and_filter_errors():
    raw = _make_raw(duration=20.0, sfreq=100.0)
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


def test_too_short_recording():
    raw = _make_raw(duration=3.0, sfreq=100.0)
    with pytest.raises(
        DataError,
        match=r"too short for seg_length=4 s segments.*lasts 3\.00 s"
        r".*shorter seg_length",
    ):
        compute_spectrum(raw)
    spec = compute_spectrum(raw, seg_length=1.0)  # the suggested fix works
    assert spec.record[-1]["n_windows"] == 5


def test_nan_and_flat_data():
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
    partly = _make_raw(duration=20.0, sfreq=100.0)
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
    mostly = _make_raw(duration=20.0, sfreq=100.0)
    mostly._data[2, :1000] = np.inf  # half the channel
    clean, record = preprocess(mostly)
    assert "F4" not in clean.ch_names
    assert next(r for r in record if r["step"] == "bad_channels")["bads"]["F4"].startswith("non-finite values (50 %")


def test_user_raw_not_modified(eegmmidb_raw):
    raw = eegmmidb_raw
    raw.info["bads"] = ["T9.."]
    raw.set_annotations(mne.Annotations([5.0], [1.0], ["BAD_user"]))
    snap = _snapshot(raw)
    load_recording(raw)
    preprocess(raw, regions={"occ": ["O1..", "Oz.."]})
    compute_spectrum(raw)
    spec = prepare_spectrum(raw, method="multitaper")
    _assert_unchanged(raw, snap)
    assert "T9" not in spec.ch_names and "T9.." not in spec.ch_names


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


def test_observed_spectrum_roundtrip_and_pick():
    raw = _make_raw(duration=20.0, sfreq=100.0, seed=14)
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


def test_truncated_edf_reader_warning_is_recorded(eegmmidb_fname, tmp_path, caplog):
    """A truncated EDF is read up to its end: MNE's warning becomes jrfit's and stays in the result's record."""
    import logging

    from jrfit.data.recording import prepare_spectrum

    data = eegmmidb_fname.read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        spec = prepare_spectrum(cut, picks=["O1"])
    step = next(r for r in spec.record if r["step"] == "read_warnings")
    assert any("Number of records" in m for m in step["messages"])
    assert "Reading cut.edf: Number of records" in caplog.text
    assert not any(r["step"] == "read_warnings" for r in prepare_spectrum(eegmmidb_fname, picks=["O1"]).record)


@pytest.mark.parametrize("factor, outcome", [(1e-12, "error"), (1e6, "warning"), (1.0, "none")])
def test_implausible_amplitude_names_the_unit(factor, outcome, tmp_path, caplog):
    """A recording scaled by 1e-12 is a unit problem (not 'flat'); one at volts-per-microvolt is warned about."""
    import logging

    from jrfit.data.recording import prepare_spectrum
    from jrfit.errors import DataError
    from jrfit.datasets.example import make_example_recording

    raw = mne.io.read_raw_fif(make_example_recording(tmp_path / "ex_raw.fif"), preload=True, verbose="error")
    raw.apply_function(lambda x: x * factor)
    if outcome == "error":
        with pytest.raises(DataError, match="wrong unit"):
            prepare_spectrum(raw)
        return
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        spec = prepare_spectrum(raw)
    warned = [r for r in spec.record if r["step"] == "amplitude_warning"]
    if outcome == "warning":
        assert warned and "most likely in uV" in warned[0]["message"] and "most likely in uV" in caplog.text
    else:
        assert not warned and "wrong unit" not in caplog.text


def test_a_slightly_louder_channel_in_a_small_montage_is_kept():
    """8 channels, one 1.7 times louder than the others: not an outlier (it is 10 times louder, it is)."""
    for factor, dropped in ((1.7, False), (10.0, True)):
        raw = _make_raw(duration=30.0, sfreq=200.0, seed=4)
        raw.pick(raw.ch_names[:8])
        raw._data[3] *= factor
        clean, record = preprocess(raw)
        assert (raw.ch_names[3] not in clean.ch_names) == dropped, factor


def test_channel_positions_are_recorded_for_the_scalp_maps():
    """Each fitted channel's montage position (a region: its members' mean) travels in the record."""
    from jrfit.datasets.example import example_path

    spec = prepare_spectrum(example_path(), regions={"occ": ["O1", "O2"]}, picks=["O1"], verbose=False)
    step = [s for s in spec.record if s["step"] == "channel_positions"][-1]
    assert step["coord_frame"] == "head" and step["unit"] == "m" and set(step["positions"]) == {"O1", "occ"}
    o1 = np.array(step["positions"]["O1"])
    raw = mne.io.read_raw_fif(example_path(), verbose=False)
    assert raw.get_montage() is None  # the template montage was set by preprocessing, not read
    assert o1[0] < 0 < -o1[1] and 0.05 < np.linalg.norm(o1) < 0.12  # left, posterior, on a head
    both = prepare_spectrum(example_path(), verbose=False).record
    pos = [s for s in both if s["step"] == "channel_positions"][-1]["positions"]
    np.testing.assert_allclose(step["positions"]["occ"], np.mean([pos["O1"], pos["O2"]], axis=0), atol=1e-6)


def test_a_detected_channel_is_kept_when_asked_and_the_others_still_checked(caplog):
    """bad_channels=dict(keep=[...]): the named loud channel stays (logged, recorded), another is dropped."""
    raw = _make_raw(duration=30.0, sfreq=200.0, seed=4)
    raw.pick(raw.ch_names[:8])
    loud, other = raw.ch_names[3], raw.ch_names[5]
    raw._data[3] *= 10.0
    raw._data[5] *= 10.0
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        clean, record = preprocess(raw, bad_channels=dict(keep=[loud]))
    step = [s for s in record if s["step"] == "bad_channels"][-1]
    assert loud in clean.ch_names and other not in clean.ch_names
    assert step["kept_as_asked"][loud].startswith("high variance") and other in step["bads"]
    assert f"Kept {loud} (high variance" in caplog.text
    with pytest.raises(DataError, match="Unknown channel 'Nope'"):
        preprocess(raw, bad_channels=dict(keep=["Nope"]))
    with pytest.raises(DataError, match=r"dict\(keep=\[names\]\)") as info:
        preprocess(raw, bad_channels=dict(drop=[loud]))
    assert "--keep-channel" in info.value.for_cli()
