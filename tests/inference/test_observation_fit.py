"""The observation parameters' fit at a fixed JR spectrum (the spectral start search)."""

import numpy as np
import pytest
from inference.spectra import synthetic as _synthetic

from jrfit import JRParams
from jrfit.model.spectrum import linear_psd


def test_observation_objective_gradient_matches_finite_differences():
    """The analytic gradient that initialisation's L-BFGS uses, against central differences."""
    from jrfit.inference.leakage import leakage_kernel
    from jrfit.inference.observation_fit import observation_objective
    from jrfit.inference.priors import SpectralPriors

    truth = JRParams(mu=350.0)  # a stable focus
    spec = _synthetic(truth, seed=3)
    freqs = np.asarray(spec.freqs)
    kernel = leakage_kernel(spec, freqs)
    psd_jr = linear_psd(kernel.fine_freqs, truth.replace(sigma=1.0))
    y = spec.psd[0] / np.median(spec.psd[0])
    pr = SpectralPriors()
    for o in ([5.0, -2.0, 1.2, -6.0], [7.0, 0.5, 2.5, -3.0]):
        o = np.array(o)
        f, g = observation_objective(o, psd_jr, kernel, y, 30.0, pr)
        for k in range(4):
            e = np.zeros(4)
            e[k] = 1e-6
            fd = (
                observation_objective(o + e, psd_jr, kernel, y, 30.0, pr)[0]
                - observation_objective(o - e, psd_jr, kernel, y, 30.0, pr)[0]
            ) / 2e-6
            assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-4)
