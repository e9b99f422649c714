"""Observation model and Whittle (Gamma) likelihood of a measured spectrum.

Predicted PSD (in the data's normalised units, docs/model.md, sections 4 and 8)::

    S(f) = scale * PSD_JR(f; v, theta)  +  bg / f^chi  +  floor

with ``PSD_JR = 2 sigma^2 |H(i 2 pi f)|^2`` the linearised JR spectrum
(sigma = 1 /s^0.5; the scale absorbs A and sigma). A Welch/multitaper estimate
averaging ``K`` effectively independent periodograms is ``S(f) Gamma(K, K)/K``:

    log L = sum_f [ K log(K / S) + (K - 1) log P - K P / S - lgamma(K) ]

The functions are backend-agnostic (NumPy or PyTensor) like
:mod:`jrfit.model.spectrum`, so the PyMC model and the NumPy checks share one code
path.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from jrfit.model.spectrum import char_poly_coeffs, psd_from_v, routh_hurwitz

__all__ = ["observation_model", "predicted_psd", "whittle_logp", "stability_terms", "thin_factor"]


def observation_model(psd_jr, freqs, scale, bg, chi, floor):
    """``scale * psd_jr + bg / f^chi + floor`` for any JR spectrum (linearised or simulated)."""
    return scale * psd_jr + bg * freqs ** (-chi) + floor


def predicted_psd(freqs, v, jr, scale, bg, chi, floor):
    """Observation model: ``scale * PSD_JR + bg / f^chi + floor``.

    Parameters
    ----------
    freqs : array
        Frequencies, in Hz (strictly positive).
    v : array
        Operating potential, in mV.
    jr : mapping
        JR constants (values may be tensors), with ``sigma`` the noise
        intensity in /s^0.5.
    scale, bg, chi, floor : array
        Scale of the JR spectrum, background amplitude at 1 Hz, aperiodic
        exponent, white floor (all in the data's units; chi dimensionless).

    Returns
    -------
    psd : array
    """
    return observation_model(psd_from_v(freqs, v, jr), freqs, scale, bg, chi, floor)


def whittle_logp(observed, predicted, n_eff):
    """Whittle log-likelihood of Welch/multitaper estimates (NumPy).

    Parameters
    ----------
    observed, predicted : array
        Measured and predicted PSD (same units), last axis frequency.
    n_eff : float | array
        Effective number of independent segments (the Gamma shape).

    Returns
    -------
    logp : ndarray
        Summed over the last axis.
    """
    k = np.asarray(n_eff, float)
    ratio = observed / predicted
    return np.sum(
        k * np.log(k) - k * np.log(predicted) + (k - 1) * np.log(observed) - k * ratio - gammaln(k),
        axis=-1,
    )


def stability_terms(v, jr):
    """Routh-Hurwitz entries of the fixed point (all > 0 iff it is stable).

    Backend-agnostic; see :func:`jrfit.model.spectrum.routh_hurwitz`.
    """
    return routh_hurwitz(char_poly_coeffs(v, jr))[1:]


def thin_factor(spectrum):
    """Keep every k-th bin so the bins used are nearly uncorrelated.

    Neighbouring Welch bins of a tapered window are correlated (Hann: squared
    correlation about 0.44 at one bin), and the Whittle likelihood treats bins
    as independent; keeping bins at least one equivalent-noise bandwidth (or
    multitaper bandwidth) apart avoids counting the same information twice.

    Returns
    -------
    k : int
    """
    for step in spectrum.record[::-1]:
        if isinstance(step, dict) and step.get("step") == "spectrum":
            df = step.get("freq_spacing_hz")
            width = step.get("enbw_hz") or step.get("bandwidth_hz")
            if df and width:
                return max(1, int(np.ceil(width / df - 1e-9)))
    return 1
