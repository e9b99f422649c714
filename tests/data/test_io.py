"""Tests of jrfit.data.io: reading recordings (formats, missing and broken files, reader warnings, EEG check).

Synthetic recordings are small, seeded and built with numpy (tests/data/conftest.py);
real recordings come from ../shared/data through the session fixtures of tests/conftest.py.
"""

from __future__ import annotations

import logging

import mne
import numpy as np
import pytest

from jrfit.data.io import load_recording
from jrfit.data.preprocess import preprocess
from jrfit.data.spectrum import compute_spectrum, prepare_spectrum
from jrfit.errors import DataError

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


def test_load_formats(eegmmidb_raw, evoked_fname, tmp_path):
    fif = tmp_path / "rec_raw.fif"
    eegmmidb_raw.save(fif, verbose="error")
    raw = load_recording(fif)
    assert raw.ch_names == eegmmidb_raw.ch_names and raw.preload
    with pytest.raises(DataError, match=r"sample_audvis-ave\.fif\.gz.*evoked"):
        load_recording(evoked_fname)


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


def test_truncated_edf_reader_warning_is_recorded(eegmmidb_fname, tmp_path, caplog):
    """A truncated EDF is read up to its end: MNE's warning becomes jrfit's and stays in the result's record."""

    from jrfit.data.spectrum import prepare_spectrum

    data = eegmmidb_fname.read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        spec = prepare_spectrum(cut, picks=["O1"])
    step = next(r for r in spec.record if r["step"] == "read_warnings")
    assert any("Number of records" in m for m in step["messages"])
    assert "Reading cut.edf: Number of records" in caplog.text
    assert not any(r["step"] == "read_warnings" for r in prepare_spectrum(eegmmidb_fname, picks=["O1"]).record)
