"""Synthetic spectra and likelihoods shared by the inference tests (``inference.spectra``: tests/ is on the path)."""

import numpy as np

from jrfit.data.spectrum import ObservedSpectrum
from jrfit.model.spectrum import linear_psd


def synthetic(truth, seed, n_eff=30.0, freqs=np.arange(2.0, 40.0, 0.25), name="X"):
    """Welch-like PSD of a JR column at known parameters plus 1/f and floor (mV^2/Hz)."""
    rng = np.random.default_rng(seed)
    S = 4e-3 * linear_psd(freqs, truth.replace(sigma=1.0)) + 2e-6 / freqs**1.2 + 2e-8
    psd = rng.gamma(n_eff, S / n_eff)
    rec = ({"step": "spectrum", "enbw_hz": 0.375, "freq_spacing_hz": 0.25},)
    return ObservedSpectrum(freqs=freqs, psd=psd[None], ch_names=(name,), n_eff=n_eff, record=rec)


def synthetic_likelihood(spec, **kw):
    """The synthetic likelihood of ``spec``'s first channel (a, b and B free, thinned by 2) and its reference power."""
    from jrfit import JRParams
    from jrfit.inference.synthetic import SyntheticLikelihood, WelchSettings

    y = np.asarray(spec.psd[0], float)
    return SyntheticLikelihood(
        spec.freqs,
        y / np.median(y),
        spec.n_eff,
        WelchSettings.from_spectrum(spec),
        ("a", "b", "B"),
        JRParams(),
        thin=2,
        **kw,
    ), float(np.median(y))
