"""Quantities derived from posterior draws."""

import numpy as np
import pytest

from jrfit import JRParams
from jrfit.model.spectrum import linear_psd


def test_peak_frequency_is_not_quantised_by_the_grid():
    """The posterior's peak frequency (400-point grid, parabolic refinement) against a 0.0005 Hz grid."""
    from jrfit.inference.derived import interpolated_peak

    grid, fine = np.linspace(2.0, 40.0, 400), np.linspace(2.0, 40.0, 76001)
    for mu in (400.0, 500.0, 540.0, 700.0):
        params = JRParams(mu=mu, sigma=1.0)
        got = interpolated_peak(grid, linear_psd(grid, params)[None])[0]
        assert got == pytest.approx(fine[np.argmax(linear_psd(fine, params))], abs=0.005)  # grid step 0.095 Hz
