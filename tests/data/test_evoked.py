"""Tests of jrfit.data.evoked: epoching, rejection, averaging and standard errors of ERPs.

Synthetic recordings repeat a known waveform at known events in white noise
of known standard deviation; real data come from ../shared/data through the
session fixtures of conftest.py.
"""

from __future__ import annotations

import json
import logging

import mne
import numpy as np
import pytest

import jrfit
from jrfit.data.evoked import ObservedEvoked, prepare_evoked
from jrfit.errors import DataError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]
SFREQ = 250.0
SIGMA = 5e-6  # white-noise std, in V
ONSET0, SPACING = 1.0, 1.0  # first event and spacing of events, in s

# options that leave the synthetic signal untouched (no filters, reference, detection)
RAW_AS_IS = dict(
    l_freq=None,
    h_freq=None,
    line_freq=None,
    reference=None,
    bad_channels=None,
    bad_segments=None,
)


# ----------------------------------------------------------------------------
# synthetic data
def _wave(t, amp):
    """A VEP-like waveform: N75-like trough then P100-like peak, in V."""
    return amp * (-0.6 * np.exp(-0.5 * ((t - 0.075) / 0.015) ** 2) + 1.0 * np.exp(-0.5 * ((t - 0.11) / 0.02) ** 2))


GAINS = np.linspace(0.2, 1.0, len(NAMES))  # one per channel, largest at O2


def _truth(times, amp=10e-6):
    """Expected average, in µV, shape (n_channels, n_times)."""
    return GAINS[:, np.newaxis] * _wave(times, amp)[np.newaxis] * 1e6


def _make_raw(n_per_cond=100, seed=0, conds=(("A", 10e-6), ("B", 4e-6)), stim=False, annotate=True):
    """White noise plus the waveform after each event; conditions alternate."""
    rng = np.random.default_rng(seed)
    n_events = n_per_cond * len(conds)
    n_times = int((ONSET0 + SPACING * n_events + 1.0) * SFREQ)
    x = SIGMA * rng.standard_normal((len(NAMES), n_times))
    t_ep = np.arange(int(0.6 * SFREQ)) / SFREQ
    onsets, descs = [], []
    for k in range(n_events):
        name, amp = conds[k % len(conds)]
        onset = ONSET0 + SPACING * k
        s = int(round(onset * SFREQ))
        x[:, s : s + t_ep.size] += GAINS[:, np.newaxis] * _wave(t_ep, amp)
        onsets.append(onset)
        descs.append(name)
    names, types = list(NAMES), ["eeg"] * len(NAMES)
    if stim:
        code = np.zeros((1, n_times))
        for onset, d in zip(onsets, descs):
            code[0, int(round(onset * SFREQ))] = 1 + [c for c, _ in conds].index(d)
        x = np.vstack([x, code])
        names, types = names + ["STI 014"], types + ["stim"]
    raw = mne.io.RawArray(x, mne.create_info(names, SFREQ, types), verbose="error")
    if annotate:
        raw.set_annotations(mne.Annotations(onsets, 0.0, descs))
    return raw


@pytest.fixture(scope="module")
def syn_raw():
    return _make_raw()


# ----------------------------------------------------------------------------
# known truth
def test_recovers_waveform_and_se(syn_raw):
    raw = syn_raw.copy()
    before = raw.get_data().copy()
    erp = prepare_evoked(raw, "A", baseline=None, reject=None, **RAW_AS_IS)
    assert np.array_equal(raw.get_data(), before)  # input untouched
    assert isinstance(erp, ObservedEvoked)
    assert erp.n_trials == 100 and erp.n_rejected == 0 and erp.se_method == "trials"
    assert erp.ch_names == tuple(NAMES) and erp.units == "uV" and erp.sfreq == SFREQ
    truth = _truth(erp.times)
    se_true = SIGMA * 1e6 / np.sqrt(100)
    # the average recovers the waveform within noise of the mean
    assert np.max(np.abs(erp.data - truth)) < 5 * se_true
    assert np.max(np.abs(truth)) > 15 * se_true  # the check above is not vacuous
    # the standard error is sigma / sqrt(n), channel by channel, within 10 %
    ratio = erp.se.mean(axis=1) / se_true
    np.testing.assert_allclose(ratio, 1.0, atol=0.1)
    # from the baseline of the average instead: white noise, so the same SE
    base = prepare_evoked(raw, "A", reject=None, se_method="baseline", **RAW_AS_IS)
    assert base.se_method == "baseline" and base.n_trials == 100
    np.testing.assert_array_equal(base.se, base.se[:, :1] * np.ones(base.n_times))
    assert base.se[:, 0].mean() / se_true == pytest.approx(1.0, abs=0.1)
    # times: -0.1 to 0.5 s at the sampling rate
    assert erp.times[0] == pytest.approx(-0.1) and erp.times[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(np.diff(erp.times), 1 / SFREQ)


def test_baseline_correction_and_default_options(syn_raw):
    erp = prepare_evoked(syn_raw, "A", reject=None, **RAW_AS_IS)
    assert erp.baseline == (None, 0.0)
    pre = erp.times <= 0
    np.testing.assert_allclose(erp.data[:, pre].mean(axis=1), 0.0, atol=1e-9)
    # defaults: band-pass 0.1-40 Hz and the recording's reference, recorded
    erp2 = prepare_evoked(syn_raw, "A", verbose="error")
    steps = {r["step"]: r for r in erp2.record}
    assert steps["filter"]["params"] == {"l_freq": 0.1, "h_freq": 40.0}
    ref = steps["reference"]
    assert ref["params"]["reference"] is None
    assert (ref["n_channels_in_reference"], ref["mixing_share"]) == (0, 0.0)
    # the smooth waveform survives the 0.1-40 Hz band-pass, channel by channel
    truth = _truth(erp2.times)
    assert np.max(np.abs(erp2.data - truth) / erp2.se) < 5.5


def test_default_reference_keeps_the_data(syn_raw):
    no_ref = {k: v for k, v in RAW_AS_IS.items() if k != "reference"}
    erp = prepare_evoked(syn_raw, "A", reject=None, **no_ref)
    same = prepare_evoked(syn_raw, "A", reject=None, **RAW_AS_IS)
    np.testing.assert_array_equal(erp.data, same.data)
    # epochs: the average of the input trials, channel by channel, as they were
    epochs = _epochs(syn_raw)
    erp = prepare_evoked(epochs, "A", baseline=None, reject=None, h_freq=None, bad_channels=None, tmin=-0.2, tmax=0.6)
    np.testing.assert_allclose(erp.data, epochs["A"].get_data().mean(axis=0) * 1e6, atol=1e-9)


def _ref_step(erp):
    return next(r for r in erp.record if r["step"] == "reference")


def test_average_reference_erp(syn_raw, caplog):
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        erp = prepare_evoked(syn_raw, "A", reject=None, **{**RAW_AS_IS, "reference": "average"})
    np.testing.assert_allclose(erp.data.sum(axis=0), 0.0, atol=1e-6)
    step = _ref_step(erp)
    assert step["n_channels_in_reference"] == 10 and step["mixing_share"] == pytest.approx(0.1)
    assert "only 10 good EEG channels" in caplog.text
    # epochs of 4 channels: warned, with the share 1/4 and the fix
    opts = dict(reference="average", reject=None, h_freq=None, bad_channels=None)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        erp = prepare_evoked(_epochs(syn_raw).pick(["O1", "O2", "Cz", "Pz"]), "A", **opts)
    assert "only 4 good EEG channels" in caplog.text and "1/4 = 0.25" in caplog.text
    assert "reference=None (--reference none)" in caplog.text
    step = _ref_step(erp)
    assert step["n_channels_in_reference"] == 4 and step["mixing_share"] == 0.25
    json.dumps(erp.to_dict())
    # two channels (epochs or an average) would become copies: refused
    two = _epochs(syn_raw).pick(["O1", "O2"])
    for source, event in ((two, "A"), (two["A"].average(), None)):
        with pytest.raises(
            DataError,
            match=r"reference='average' with the 2 good EEG "
            r"channels.*reference=None",
        ) as info:
            prepare_evoked(source, event, **opts)
        assert "--reference none" in info.value.for_cli()


def test_two_conditions_in_one_call(syn_raw):
    b, a = prepare_evoked(syn_raw, ["B", "A"], baseline=None, reject=None, **RAW_AS_IS)
    assert (b.condition, a.condition) == ("B", "A")
    assert a.n_trials == b.n_trials == 100
    truth = _truth(a.times)  # amplitude 10 uV; condition B has 4 uV

    def scale(erp):  # least-squares amplitude of the known waveform
        return np.sum(erp.data * truth) / np.sum(truth**2)

    assert scale(a) == pytest.approx(1.0, abs=0.05)
    assert scale(b) == pytest.approx(0.4, abs=0.05)
    # a list of one still gives a list
    (only,) = prepare_evoked(syn_raw, ["A"], reject=None, **RAW_AS_IS)
    np.testing.assert_array_equal(only.data, prepare_evoked(syn_raw, "A", reject=None, **RAW_AS_IS).data)


def test_stim_channel_events():
    raw = _make_raw(n_per_cond=20, stim=True, annotate=False)
    erp = prepare_evoked(raw, 2, baseline=None, reject=None, **RAW_AS_IS)
    assert erp.condition == "2" and erp.n_trials == 20
    assert "STI 014" not in erp.ch_names
    events = next(r for r in erp.record if r["step"] == "events")
    assert events["origin"] == "stim channel" and events["counts"] == {"1": 20, "2": 20}
    truth = _truth(erp.times, 4e-6)
    assert np.max(np.abs(erp.data - truth)) < 5 * SIGMA * 1e6 / np.sqrt(20)


def test_rejection_is_counted_and_explained():
    raw = _make_raw(n_per_cond=30, seed=1)
    x = raw.get_data()
    for k in (0, 4, 10):  # trials of condition 'A' (even indices): a 1-mV artefact
        s = int(round((ONSET0 + SPACING * k + 0.2) * SFREQ))
        x[3, s : s + 5] += 1e-3
    raw = mne.io.RawArray(x, raw.info, verbose="error").set_annotations(raw.annotations)
    erp = prepare_evoked(raw, "A", **RAW_AS_IS)
    assert erp.n_trials == 27 and erp.n_rejected == 3
    rej = next(r for r in erp.record if r["step"] == "reject")
    assert rej["reasons"] == {"peak-to-peak above reject": 3}
    assert rej["drop_log_channels"] == {"C3": 3}
    # condition 'B' has no artefact
    assert prepare_evoked(raw, "B", **RAW_AS_IS).n_rejected == 0
    # reject=None keeps every trial; the artefact then shows in the SE
    kept = prepare_evoked(raw, "A", reject=None, **RAW_AS_IS)
    assert kept.n_trials == 30 and kept.n_rejected == 0
    assert kept.se[3].max() > 10 * erp.se[3].max()
    # bad segments of jrfit.data.preprocess reject the trials that overlap them
    auto = prepare_evoked(raw, "A", reject=None, **{**RAW_AS_IS, "bad_segments": "auto"})
    rej = next(r for r in auto.record if r["step"] == "reject")
    assert auto.n_rejected == 3
    assert rej["reasons"] == {"BAD_ annotation (BAD_amplitude)": 3}


def test_regions_and_picks(syn_raw):
    erp = prepare_evoked(
        syn_raw,
        "A",
        picks=["Cz"],
        regions={"occ": ["O1", "Oz", "O2"]},
        baseline=None,
        reject=None,
        **RAW_AS_IS,
    )
    assert erp.ch_names == ("Cz", "occ")
    truth = _truth(erp.times)
    occ = truth[[NAMES.index(c) for c in ("O1", "Oz", "O2")]].mean(axis=0)
    se_true = SIGMA * 1e6 / np.sqrt(100)
    assert np.max(np.abs(erp.data[1] - occ)) < 5 * se_true / np.sqrt(3)
    assert erp.se[1].mean() == pytest.approx(se_true / np.sqrt(3), rel=0.1)


def test_decim(syn_raw):
    erp = prepare_evoked(syn_raw, "A", decim=2, reject=None, **{**RAW_AS_IS, "h_freq": 40.0})
    assert erp.sfreq == SFREQ / 2
    with pytest.raises(DataError, match="decim=4.*alias"):
        prepare_evoked(syn_raw, "A", decim=4, **{**RAW_AS_IS, "h_freq": 40.0})


# ----------------------------------------------------------------------------
# epochs and evoked inputs
def _epochs(raw, tmin=-0.2, tmax=0.6):
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    return mne.Epochs(raw, events, event_id, tmin=tmin, tmax=tmax, baseline=None, preload=True, verbose="error")


def test_epochs_file_round_trip(syn_raw, tmp_path):
    epochs = _epochs(syn_raw)
    fname = tmp_path / "syn-epo.fif"
    epochs.save(fname, verbose="error")
    opts = dict(reject=None, reference=None, h_freq=None, bad_channels=None)
    from_file = prepare_evoked(fname, "A", **opts)
    from_obj = prepare_evoked(epochs, "A", **opts)
    from_raw = prepare_evoked(syn_raw, "A", reject=None, **RAW_AS_IS)
    assert from_file.source == "syn-epo.fif" and from_file.n_trials == 100
    np.testing.assert_allclose(from_file.data, from_obj.data, atol=1e-6)  # single precision
    np.testing.assert_allclose(from_obj.data, from_raw.data, atol=1e-9)
    np.testing.assert_allclose(from_obj.se, from_raw.se, atol=1e-9)
    np.testing.assert_allclose(from_obj.times, from_raw.times)
    steps = [r["step"] for r in from_obj.record]
    assert steps[0] == "load" and "reject" in steps and steps[-1] == "average"


def test_epochs_input_not_modified(syn_raw):
    epochs = _epochs(syn_raw)
    data, n, times = epochs.get_data().copy(), len(epochs), epochs.times.copy()
    erp = prepare_evoked(epochs, ["A", "B"], reject=22e-6, tmin=-0.1, tmax=0.3)[0]
    assert 2 <= erp.n_trials < 100  # some trials rejected, on the copy only
    assert len(epochs) == n and np.array_equal(epochs.times, times)
    assert np.array_equal(epochs.get_data(), data)
    assert epochs.ch_names == NAMES


# ----------------------------------------------------------------------------
# real data
def test_eeglab_square(eeglab_fname, eeglab_raw):
    erp = prepare_evoked(eeglab_fname, "square")
    assert erp.source == "test_raw.set" and erp.condition == "square"
    assert erp.se_method == "trials" and erp.n_channels == 32
    assert 60 <= erp.n_trials <= 80 and erp.n_trials + erp.n_rejected == 80
    assert erp.times[0] == pytest.approx(-0.1, abs=1 / 128) and erp.times[-1] == pytest.approx(0.5)
    assert erp.sfreq == 128.0
    # a visual ERP of a few to a few tens of µV, with SEs of about 1 µV
    peak = np.max(np.abs(erp.data[:, erp.times > 0.05]))
    assert 3.0 < peak < 50.0
    assert 0.3 < np.median(erp.se) < 5.0 and np.all(erp.se > 0)
    # signal well above noise after the stimulus, not before
    z = np.abs(erp.data) / erp.se
    assert z[:, erp.times > 0.05].max() > 5
    steps = {r["step"]: r for r in erp.record}
    assert steps["events"]["counts"]["square"] == 80
    assert steps["reject"]["n_rejected"] == erp.n_rejected
    # the same from the Raw object, which is left as it was
    before = eeglab_raw.get_data().copy()
    erp2 = prepare_evoked(eeglab_raw, "square")
    np.testing.assert_allclose(erp2.data, erp.data)
    assert np.array_equal(eeglab_raw.get_data(), before)
    assert eeglab_raw.info["highpass"] == 0.0


def test_mne_sample_left_visual(evoked_fname, caplog):
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        erp = prepare_evoked(evoked_fname, "Left visual")
    assert "pre-stimulus baseline" in caplog.text and "se_method='baseline'" in caplog.text
    assert erp.se_method == "baseline" and erp.n_trials == 6 and erp.n_rejected == 0
    assert erp.n_channels == 60 and all(n.startswith("EEG") for n in erp.ch_names)
    steps = {r["step"]: r for r in erp.record}
    assert "Average EEG reference" in steps["projections"]["applied"]
    assert steps["load"]["nave"] == 6
    np.testing.assert_allclose(erp.data.sum(axis=0), 0.0, atol=1e-6)  # average reference
    # SE: constant over time, per channel, the baseline std of the average
    np.testing.assert_array_equal(erp.se, erp.se[:, :1] * np.ones(erp.n_times))
    pre = erp.times <= 0
    np.testing.assert_allclose(erp.se[:, 0], erp.data[:, pre].std(axis=1, ddof=1))
    assert erp.times[0] == pytest.approx(-0.1, abs=1 / 600) and erp.times[-1] <= 0.5
    peak = np.max(np.abs(erp.data[:, erp.times > 0.05]))
    assert 3.0 < peak < 50.0 and 0.1 < np.median(erp.se) < 5.0


def test_mne_sample_two_conditions(evoked_fname):
    left, right = prepare_evoked(evoked_fname, ["Left visual", "Right visual"])
    assert (left.condition, right.condition) == ("Left visual", "Right visual")
    assert not np.allclose(left.data, right.data)
    # bad channels and regions on averages
    occ = ["EEG 057", "EEG 058", "EEG 059"]
    erp = prepare_evoked(
        evoked_fname, "Left visual", bad_channels=["EEG 053"], regions={"occ": occ}, picks=occ, verbose="error"
    )
    assert erp.ch_names == (*occ, "occ") and erp.n_trials == 6
    np.testing.assert_allclose(erp.data[3], erp.data[:3].mean(axis=0), atol=1e-9)
    assert {r["step"]: r for r in erp.record}["bad_channels"]["bads"] == {"EEG 053": "given in bad_channels"}


def test_evoked_objects_not_modified(sample_evokeds):
    ev = sample_evokeds[2]
    data, projs = ev.data.copy(), [p["active"] for p in ev.info["projs"]]
    n_ch = len(ev.ch_names)
    erp = prepare_evoked(ev, verbose="error")  # a single Evoked: its own condition
    assert erp.condition == "Left visual" and erp.n_channels == 60
    assert np.array_equal(ev.data, data) and len(ev.ch_names) == n_ch
    assert [p["active"] for p in ev.info["projs"]] == projs
    both = prepare_evoked(sample_evokeds, ["Left visual", "Right visual"], verbose="error")
    assert [e.condition for e in both] == ["Left visual", "Right visual"]


# ----------------------------------------------------------------------------
# bad input
def test_unknown_event(eeglab_fname, evoked_fname, syn_raw):
    with pytest.raises(DataError, match=r"Unknown event 'squares'.*'rt'.*'square'"):
        prepare_evoked(eeglab_fname, "squares")
    with pytest.raises(DataError, match=r"Unknown event 'Left Visual'.*'Left visual'"):
        prepare_evoked(evoked_fname, "Left Visual")
    with pytest.raises(DataError, match=r"test_raw.set has 2 conditions.*event="):
        prepare_evoked(eeglab_fname)
    # one unknown name in a list: nothing is returned
    with pytest.raises(DataError, match="Unknown event 'C'"):
        prepare_evoked(syn_raw, ["A", "C"], **RAW_AS_IS)
    with pytest.raises(DataError, match="Unknown event 'C'.*event-id keys"):
        prepare_evoked(_epochs(syn_raw), "C")


def test_no_events():
    raw = _make_raw(n_per_cond=2, annotate=False)
    with pytest.raises(DataError, match="has no events.*annotations"):
        prepare_evoked(raw, "A")


def test_window_outside_range(evoked_fname, syn_raw):
    with pytest.raises(DataError, match=r"tmin=-0.3.*outside.*-0.1998"):
        prepare_evoked(evoked_fname, "Left visual", tmin=-0.3)
    with pytest.raises(DataError, match=r"tmax=0.8.*outside the time range of the epochs"):
        prepare_evoked(_epochs(syn_raw), "A", tmax=0.8)
    # a window beyond the end of a recording leaves no trial
    with pytest.raises(DataError, match="'A'.*0 trial.*outside the recording"):
        prepare_evoked(syn_raw, "A", tmax=300.0, **RAW_AS_IS)


def test_bad_window_and_baseline(syn_raw):
    with pytest.raises(DataError, match="tmin=0.5 s must be below tmax=0.1"):
        prepare_evoked(syn_raw, "A", tmin=0.5, tmax=0.1)
    with pytest.raises(DataError, match="baseline=.*not an interval within the window"):
        prepare_evoked(syn_raw, "A", baseline=(-0.5, 0))
    with pytest.raises(DataError, match="baseline"):
        prepare_evoked(syn_raw, "A", baseline="auto")


def test_too_few_trials(syn_raw):
    with pytest.raises(DataError, match=r"'A'.*0 trial\(s\) left.*100 rejected.*reject="):
        prepare_evoked(syn_raw, "A", reject=1e-6, **RAW_AS_IS)
    epochs = _epochs(syn_raw)["A"][:1]
    with pytest.raises(DataError, match=r"1 trial\(s\) left"):
        prepare_evoked(epochs, "A", reject=None)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found.*nothing-ave.fif"):
        prepare_evoked(tmp_path / "nothing-ave.fif", "A")


def test_evoked_without_eeg(sample_evokeds, tmp_path):
    fname = tmp_path / "meg-ave.fif"
    mne.write_evokeds(fname, [ev.pick("meg") for ev in sample_evokeds[2:]], verbose="error")
    with pytest.raises(DataError, match=r"meg-ave.fif.*'Left visual'.*no EEG channels"):
        prepare_evoked(fname, "Left visual")


def test_se_from_trials_needs_trials(evoked_fname):
    with pytest.raises(DataError, match="se_method='trials' needs single trials"):
        prepare_evoked(evoked_fname, "Left visual", se_method="trials")


# ----------------------------------------------------------------------------
# the dataclass
def _small():
    t = np.arange(-5, 20) / 100.0
    rng = np.random.default_rng(0)
    return ObservedEvoked(
        times=t,
        data=rng.standard_normal((3, t.size)),
        se=np.full((3, t.size), 0.5),
        ch_names=["a", "b", "c"],
        condition="X",
        n_trials=10,
        sfreq=100.0,
        baseline=(None, 0),
        record=[dict(step="test", params={})],
        source="x.set",
        n_rejected=2,
    )


def test_to_dict_round_trip(syn_raw):
    erp = prepare_evoked(syn_raw, "A", reject=None, **RAW_AS_IS)
    text = json.dumps(erp.to_dict())
    back = ObservedEvoked.from_dict(text)
    for f in ("times", "data", "se"):
        np.testing.assert_array_equal(getattr(back, f), getattr(erp, f))
    for f in (
        "ch_names",
        "condition",
        "n_trials",
        "se_method",
        "sfreq",
        "tmin",
        "tmax",
        "baseline",
        "units",
        "record",
        "source",
        "n_rejected",
    ):
        assert getattr(back, f) == getattr(erp, f), f
    assert repr(back) == repr(erp) and "n_trials=100" in repr(erp)
    with pytest.raises(DataError, match="Unknown ObservedEvoked field"):
        ObservedEvoked.from_dict({**erp.to_dict(), "psd": 1})


def test_frozen_and_validated():
    ev = _small()
    assert ev.n_channels == 3 and ev.n_times == 25 and ev.tmin == -0.05
    with pytest.raises(ValueError, match="read-only"):
        ev.data[0, 0] = 1.0
    with pytest.raises(AttributeError):
        ev.condition = "Y"
    d = ev.to_dict()
    with pytest.raises(DataError, match="se must be finite and > 0"):
        ObservedEvoked.from_dict({**d, "se": np.zeros((3, 25)).tolist()})
    with pytest.raises(DataError, match="data must have shape"):
        ObservedEvoked.from_dict({**d, "data": np.zeros((3, 24)).tolist()})
    with pytest.raises(DataError, match="evenly spaced"):
        ObservedEvoked.from_dict({**d, "sfreq": 200.0})
    with pytest.raises(DataError, match="data must be finite"):
        ObservedEvoked.from_dict({**d, "data": np.full((3, 25), np.nan).tolist()})
    with pytest.raises(DataError, match="at least 2 with se_method='trials'"):
        ObservedEvoked.from_dict({**d, "n_trials": 1})
    with pytest.raises(DataError, match="units must be 'uV'"):
        ObservedEvoked.from_dict({**d, "units": "V"})


def test_pick_and_crop():
    ev = _small()
    sub = ev.pick(["c", "a"])
    assert sub.ch_names == ("c", "a")
    np.testing.assert_array_equal(sub.data, ev.data[[2, 0]])
    with pytest.raises(DataError, match="Unknown channel 'z'"):
        ev.pick("z")
    cr = ev.crop(0.0, 0.1)
    assert cr.times[0] == 0.0 and cr.times[-1] == pytest.approx(0.1) and cr.n_times == 11
    assert cr.record[-1]["step"] == "crop" and cr.tmin == 0.0
    with pytest.raises(DataError, match="within the current window"):
        ev.crop(-1.0, 0.1)


def test_lazy_exports():
    assert jrfit.prepare_evoked is prepare_evoked and jrfit.ObservedEvoked is ObservedEvoked
    assert {"prepare_evoked", "ObservedEvoked"} <= set(jrfit.__all__)
