"""Does the fitted model explain the spectrum? A posterior-predictive adequacy check.

The convergence diagnostics judge the sampler, not the model: a sampler can
converge perfectly on a model that misses a second spectral peak. This module
judges the model, per channel, from posterior draws of the expected spectrum
``S_s(f)`` (what the fitted model predicts the estimator returns) and the
measured spectrum ``y(f)`` at bins nearly independent of each other:

* **standardised Whittle residuals** ``z(f) = sqrt(K) (y / S - 1)``, with
  ``S`` the posterior mean and K the effective segment count: about N(0, 1)
  under the model (Gamma(K, K) ratios);
* a **posterior-predictive p-value** (Gelman, Meng & Stern 1996) of the Gamma
  deviance ``D(y, S) = 2 K sum_f [y/S - 1 - log(y/S)]``: for each draw s, a
  replicate ``y_rep ~ S_s Gamma(K, K) / K`` is drawn and ``p = P(D(y_rep, S_s)
  >= D(y, S_s))``. A small p means the data deviate from the model more than
  its own noise does;
* **misfit bands**: runs of at least ``min_run`` consecutive bins on the same
  side outside the 90 % posterior-predictive band (under the model each bin
  is outside on one side with probability 0.05, so a run of three on one side
  has a chance of about 1e-4 per position, about 1 % over a 2-40 Hz band).

The verdict "the model fits the data" needs ``p >= ppp_min`` and no misfit
band. The posterior-predictive p-value uses the data twice and is
conservative (it rarely falls below 0.05 for a model that fits); the bands
locate what is missing (a beta peak, a steeper fall at high frequencies).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ADEQUACY", "spectral_adequacy", "gamma_deviance"]

ADEQUACY = dict(ppp_min=0.05, min_run=3, band=0.90)
"""Thresholds of the adequacy verdict (see the module notes)."""


def gamma_deviance(y, s, n_eff):
    """Gamma deviance ``2 K sum [y/S - 1 - log(y/S)]`` over the last axis."""
    ratio = np.asarray(y, float) / np.asarray(s, float)
    return 2.0 * float(n_eff) * np.sum(ratio - 1.0 - np.log(ratio), axis=-1)


def _runs(mask):
    """(start, stop) index pairs of the runs of True in a boolean vector."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def _misfit_bands(y, lo, hi, freqs, min_run):
    bands = []
    for side, mask in (("above", y > hi), ("below", y < lo)):
        for i, j in _runs(mask):
            if j - i >= min_run:
                bands.append(dict(fmin_hz=float(freqs[i]), fmax_hz=float(freqs[j - 1]), side=side,
                                  n_bins=int(j - i)))
    return sorted(bands, key=lambda b: b["fmin_hz"])


def spectral_adequacy(observed, predicted, n_eff, freqs, *, rng=None, tol=None):
    """Posterior-predictive adequacy of one channel's spectral fit.

    Parameters
    ----------
    observed : array, shape (n_freq,)
        Measured PSD at the bins used by the likelihood (mV^2/Hz).
    predicted : array, shape (n_draws, n_freq)
        Posterior draws of the expected estimate at those bins (same units).
    n_eff : float
        Effective number of averaged periodograms (the Gamma shape).
    freqs : array, shape (n_freq,)
        The bins, in Hz.
    rng : numpy.random.Generator | None
        For the replicates (default: seeded 0, so a result repeats).
    tol : dict | None
        Overrides of :data:`ADEQUACY`.

    Returns
    -------
    adequacy : dict
        ``fits`` (bool), ``ppp`` (posterior-predictive p-value), ``bands``
        (list of misfit bands: fmin_hz, fmax_hz, side, n_bins),
        ``frac_outside`` (share of bins outside the predictive band; about
        0.10 under the model), ``z_rms`` and ``z_max_abs`` (standardised
        residuals), ``problems`` (list of str) and the thresholds used.
    """
    tol = dict(ADEQUACY, **(tol or {}))
    rng = np.random.default_rng(0) if rng is None else rng
    y = np.asarray(observed, float)
    s = np.atleast_2d(np.asarray(predicted, float))
    k = float(n_eff)
    y_rep = s * rng.gamma(k, 1.0 / k, size=s.shape)
    ppp = float(np.mean(gamma_deviance(y_rep, s, k) >= gamma_deviance(y[None], s, k)))
    q = (1.0 - tol["band"]) / 2.0
    lo, hi = np.quantile(y_rep, [q, 1.0 - q], axis=0)
    bands = _misfit_bands(y, lo, hi, np.asarray(freqs, float), int(tol["min_run"]))
    z = np.sqrt(k) * (y / s.mean(axis=0) - 1.0)
    problems = []
    if not ppp >= tol["ppp_min"]:
        problems.append(f"posterior-predictive p-value {ppp:.3f} < {tol['ppp_min']}")
    for b in bands:
        problems.append(f"data {b['side']} the {100 * tol['band']:.0f} % predictive band at "
                        f"{b['fmin_hz']:.2f}-{b['fmax_hz']:.2f} Hz ({b['n_bins']} bins)")
    return dict(fits=not problems, ppp=ppp, bands=bands, frac_outside=float(np.mean((y < lo) | (y > hi))),
                z_rms=float(np.sqrt(np.mean(z**2))), z_max_abs=float(np.max(np.abs(z))), problems=problems,
                thresholds=tol)
