"""Shared fixtures: real recordings from ../shared/data (or $JRFIT_TEST_DATA), read once per session.

The folder is optional on a user's machine (tests that need it are skipped)
but required in CI: with ``CI=true`` a missing file fails the test instead.
Each test gets its own copy of the session's object, so tests cannot leak
changes into each other (as in mne/conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import mne
import pytest

# JRFIT_TEST_DATA points the tests at the recordings elsewhere (default ../shared/data)
SHARED_DATA = Path(os.environ.get("JRFIT_TEST_DATA") or Path(__file__).parents[2] / "shared" / "data")


# The suite runs on two workers (pytest -n auto, pytest-xdist). The slow statistical checks take
# 2-8 min each and the rest seconds, so the workers finish together only if the longest checks start
# first: slow tests go first, those of these modules (the longest, measured) before the others.
_LONGEST_FIRST = ("test_validity.py", "inference/test_simulation.py", "inference/test_erp.py", "utils/test_outputs.py")


def pytest_collection_modifyitems(config, items):
    def key(item):
        if item.get_closest_marker("slow") is None:
            return (2, 0)
        where = Path(item.path).relative_to(Path(__file__).parent).as_posix()
        return (0, _LONGEST_FIRST.index(where)) if where in _LONGEST_FIRST else (1, 0)

    items.sort(key=key)  # stable: the order within each group is kept


def pytest_report_header(config):
    found = "found" if SHARED_DATA.exists() else "NOT FOUND: the real-data tests will be skipped (set JRFIT_TEST_DATA)"
    return f"jrfit real recordings: {SHARED_DATA} ({found})"


def _require(path):
    """Return ``path``; skip if it is missing, or fail if CI=true."""
    if not path.exists():
        msg = f"shared test data not found: {path} (set JRFIT_TEST_DATA to the folder of the real recordings)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{msg} (CI=true requires it)")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_data_path():
    """The folder of real recordings (../shared/data from the repository root)."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def eeglab_fname(shared_data_path):
    """EEGLAB sample: 32 EEG channels, 128 Hz, 238 s, strong ~10 Hz alpha."""
    return _require(shared_data_path / "eeglab_sample" / "test_raw.set")


@pytest.fixture(scope="session")
def eegmmidb_fname(shared_data_path):
    """EEGMMIDB S001R01: 64 EEG channels (dotted names), 160 Hz, 61 s, eyes open."""
    return _require(shared_data_path / "eegmmidb" / "S001R01.edf")


@pytest.fixture(scope="session")
def evoked_fname(shared_data_path):
    """MNE sample evoked responses (4 conditions, EEG + MEG)."""
    return _require(shared_data_path / "mne_sample" / "sample_audvis-ave.fif.gz")


@pytest.fixture(scope="session")
def _eeglab_raw_session(eeglab_fname):
    return mne.io.read_raw_eeglab(eeglab_fname, preload=True, verbose="error")


@pytest.fixture(scope="session")
def _eegmmidb_raw_session(eegmmidb_fname):
    return mne.io.read_raw_edf(eegmmidb_fname, preload=True, verbose="error")


@pytest.fixture(scope="session")
def _evokeds_session(evoked_fname):
    return mne.read_evokeds(evoked_fname, verbose="error")


@pytest.fixture
def eeglab_raw(_eeglab_raw_session):
    """A fresh copy of the EEGLAB sample recording."""
    return _eeglab_raw_session.copy()


@pytest.fixture
def eegmmidb_raw(_eegmmidb_raw_session):
    """A fresh copy of the EEGMMIDB S001R01 recording."""
    return _eegmmidb_raw_session.copy()


@pytest.fixture
def sample_evokeds(_evokeds_session):
    """Fresh copies of the MNE sample evoked responses (list of Evoked)."""
    return [ev.copy() for ev in _evokeds_session]
