"""Tests of jrfit.data.channels: 10-05 names, regions, unknown channel names and sensor positions.

Synthetic recordings are small, seeded and built with numpy (tests/data/conftest.py);
real recordings come from ../shared/data through the session fixtures of tests/conftest.py.
"""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from jrfit.data.preprocess import preprocess
from jrfit.data.spectrum import compute_spectrum, prepare_spectrum
from jrfit.errors import DataError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


def test_eegmmidb_names_regions(eegmmidb_fname, eegmmidb_raw, snapshot, assert_unchanged):
    raw, record = preprocess(eegmmidb_fname)
    assert not any(n.endswith(".") for n in raw.ch_names)
    assert {"FC5", "FCz", "Fp1", "Cz", "O1", "Oz", "Iz"} <= set(raw.ch_names)
    assert raw.get_montage() is not None
    names_step = next(r for r in record if r["step"] == "standardize_names")
    assert names_step["renamed"]["Fc5."] == "FC5" and names_step["montage"]
    json.dumps(record)
    # regions: the virtual channel is the mean of its members; old names work
    snap = snapshot(eegmmidb_raw)
    reg, _ = preprocess(eegmmidb_raw, picks=["Cz.."], regions={"occipital": ["O1", "O2..", "Oz"]})
    assert_unchanged(eegmmidb_raw, snap)
    assert reg.ch_names == ["Cz", "occipital"]
    np.testing.assert_allclose(reg.get_data(picks="occipital")[0], raw.get_data(picks=["O1", "O2", "Oz"]).mean(axis=0))
    assert [a["description"] for a in reg.annotations] == [a["description"] for a in raw.annotations]
    spec = compute_spectrum(reg, record=_, method="multitaper")
    assert spec.ch_names == ("Cz", "occipital") and spec.source == "S001R01.edf"
    full = prepare_spectrum(eegmmidb_fname, picks=["O1", "Oz"])
    assert full.ch_names == ("O1", "Oz")


def test_unknown_channel_names(make_raw, snapshot, assert_unchanged):
    raw = make_raw(duration=20.0, sfreq=100.0)
    snap = snapshot(raw)
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
    assert_unchanged(raw, snap)


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
