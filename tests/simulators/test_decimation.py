"""Tests of jrfit.simulators.decimation: the anti-alias FIR of the stochastic simulators."""

import numpy as np
import pytest
from scipy import signal

from jrfit.simulators.decimation import antialias_filter


@pytest.mark.parametrize("dt, sfreq", [(1e-3, 250.0), (1e-4, 250.0), (5e-4, 100.0)])
def test_antialias_filter_response(dt, sfreq):
    h = antialias_filter(dt, sfreq)
    assert h.size % 2 == 1 and np.allclose(h, h[::-1])
    fs = 1.0 / dt
    f = np.linspace(0, fs / 2, 200001)
    _, H = signal.freqz(h, worN=f, fs=fs)
    H = np.abs(H)
    assert 20 * np.log10(H[f >= 0.5 * sfreq].max()) <= -60.0
    assert np.abs(H[f <= 0.4 * sfreq] - 1).max() < 2e-3
