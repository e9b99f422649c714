"""Tests of jrfit.data.preprocess: line noise, bad channels and segments, reference, amplitude checks.

Synthetic recordings are small, seeded and built with numpy (tests/data/conftest.py);
real recordings come from ../shared/data through the session fixtures of tests/conftest.py.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import mne
import numpy as np
import pytest

from jrfit.data.io import load_recording
from jrfit.data.preprocess import preprocess
from jrfit.data.spectrum import compute_spectrum, prepare_spectrum
from jrfit.errors import DataError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


# ----------------------------------------------------------------------------
# line noise, bad channels, bad segments
@pytest.mark.parametrize("f_line", [50.0, 60.0])
def test_line_noise_auto(f_line, make_raw):
    sfreq = 250.0
    raw = make_raw(duration=40.0, sfreq=sfreq, seed=6)
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


def test_line_noise_absent_or_above_nyquist(make_raw):
    raw = make_raw(duration=30.0, sfreq=200.0, seed=8)
    _, record = preprocess(raw)
    step = next(r for r in record if r["step"] == "line_noise")
    assert step["detected"] is None and step["notch_freqs"] == []
    low = make_raw(duration=30.0, sfreq=100.0, seed=8)
    clean, record = preprocess(low, line_freq=60)
    step = next(r for r in record if r["step"] == "line_noise")
    assert step["notch_freqs"] == [] and step["line_freq"] == 60.0


def test_bad_channels_and_segments(caplog, make_raw):
    sfreq = 200.0
    raw = make_raw(duration=60.0, sfreq=sfreq, seed=9)
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
def test_bad_segment_onsets_with_first_samp(crop, make_raw):
    """Annotations land on the burst whether or not first_samp and meas_date are set."""
    sfreq = 100.0
    date = datetime(2020, 1, 1, tzinfo=timezone.utc) if crop else None
    raw = make_raw(duration=50.0, sfreq=sfreq, seed=11, meas_date=date)
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


def test_reference_options(caplog, make_raw):
    raw = make_raw(duration=30.0, sfreq=100.0, seed=12)
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


def test_average_reference_of_few_channels(caplog, make_raw):
    four = make_raw(duration=20.0, sfreq=100.0, seed=15, names=["O1", "O2", "Cz", "Pz"])
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
        preprocess(make_raw(32, duration=20.0, sfreq=100.0, seed=16), reference="average", bad_segments=None)
    assert "reference='average'" not in caplog.text
    # two channels would become copies of each other: refused, naming the option
    two = make_raw(duration=20.0, sfreq=100.0, seed=17, names=["O1", "O2"])
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


def test_user_raw_not_modified(eegmmidb_raw, snapshot, assert_unchanged):
    raw = eegmmidb_raw
    raw.info["bads"] = ["T9.."]
    raw.set_annotations(mne.Annotations([5.0], [1.0], ["BAD_user"]))
    snap = snapshot(raw)
    load_recording(raw)
    preprocess(raw, regions={"occ": ["O1..", "Oz.."]})
    compute_spectrum(raw)
    spec = prepare_spectrum(raw, method="multitaper")
    assert_unchanged(raw, snap)
    assert "T9" not in spec.ch_names and "T9.." not in spec.ch_names


@pytest.mark.parametrize("factor, outcome", [(1e-12, "error"), (1e6, "warning"), (1.0, "none")])
def test_implausible_amplitude_names_the_unit(factor, outcome, tmp_path, caplog):
    """A recording scaled by 1e-12 is a unit problem (not 'flat'); one at volts-per-microvolt is warned about."""
    import logging

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.errors import DataError

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


def test_a_slightly_louder_channel_in_a_small_montage_is_kept(make_raw):
    """8 channels, one 1.7 times louder than the others: not an outlier (it is 10 times louder, it is)."""
    for factor, dropped in ((1.7, False), (10.0, True)):
        raw = make_raw(duration=30.0, sfreq=200.0, seed=4)
        raw.pick(raw.ch_names[:8])
        raw._data[3] *= factor
        clean, record = preprocess(raw)
        assert (raw.ch_names[3] not in clean.ch_names) == dropped, factor


def test_a_detected_channel_is_kept_when_asked_and_the_others_still_checked(caplog, make_raw):
    """bad_channels=dict(keep=[...]): the named loud channel stays (logged, recorded), another is dropped."""
    raw = make_raw(duration=30.0, sfreq=200.0, seed=4)
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
