"""Synthetic recordings shared by the tests of jrfit.data (small, seeded, built with numpy).

The helpers are fixtures that return functions, so that each test module
builds the recordings it needs with its own arguments.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import lfilter

NAMES = ["Fz", "F3", "F4", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]


def _ar2(n_channels, n_times, sfreq, rng, f0=10.0, r=0.9, white=0.5, scale=1e-5):
    """Independent stationary Gaussian AR(2) + white noise, in V."""
    theta = 2 * np.pi * f0 / sfreq
    a = [1.0, -2 * r * np.cos(theta), r * r]
    e = rng.standard_normal((n_channels, n_times + 500))
    x = lfilter([1.0], a, e, axis=1)[:, 500:] + white * rng.standard_normal((n_channels, n_times))
    return scale * x / x.std()


def _make_raw(n_channels=None, duration=60.0, sfreq=200.0, seed=0, names=None, meas_date=None):
    """A RawArray of AR(2) alpha in white noise (``NAMES``, or ``ch000``... for ``n_channels``), in V."""
    names = names or (NAMES if n_channels is None else [f"ch{i:03d}" for i in range(n_channels)])
    rng = np.random.default_rng(seed)
    x = _ar2(len(names), int(round(duration * sfreq)), sfreq, rng)
    raw = mne.io.RawArray(x, mne.create_info(names, sfreq, "eeg"), verbose="error")
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    return raw


def _snapshot(raw):
    """What a jrfit function must not change in a user's Raw (data, names, bads, annotations, filters, ...)."""
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


@pytest.fixture
def make_raw():
    """``make_raw(n_channels=None, duration=60.0, sfreq=200.0, seed=0, names=None, meas_date=None)``."""
    return _make_raw


@pytest.fixture
def snapshot():
    """``snapshot(raw)``: the state of ``raw`` to compare with :func:`assert_unchanged`."""
    return _snapshot


@pytest.fixture
def assert_unchanged():
    """``assert_unchanged(raw, snap)``: fail if ``raw`` differs from its ``snapshot``."""
    return _assert_unchanged
