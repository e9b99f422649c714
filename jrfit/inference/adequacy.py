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

__all__ = ["ADEQUACY", "ERP_ADEQUACY", "spectral_adequacy", "erp_adequacy", "gamma_deviance"]

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


def _misfit_bands(y, lo, hi, x, min_run, keys=("fmin_hz", "fmax_hz", "n_bins")):
    """Runs of at least ``min_run`` points on one side outside [lo, hi], as dicts named by ``keys``."""
    first, last, count = keys
    bands = []
    for side, mask in (("above", y > hi), ("below", y < lo)):
        for i, j in _runs(mask):
            if j - i >= min_run:
                bands.append({first: float(x[i]), last: float(x[j - 1]), "side": side, count: int(j - i)})
    return sorted(bands, key=lambda b: b[first])


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
        problems.append(
            f"data {b['side']} the {100 * tol['band']:.0f} % predictive band at "
            f"{b['fmin_hz']:.2f}-{b['fmax_hz']:.2f} Hz ({b['n_bins']} bins)"
        )
    return dict(
        fits=not problems,
        ppp=ppp,
        bands=bands,
        frac_outside=float(np.mean((y < lo) | (y > hi))),
        z_rms=float(np.sqrt(np.mean(z**2))),
        z_max_abs=float(np.max(np.abs(z))),
        problems=problems,
        thresholds=tol,
    )


# ----------------------------------------------------------------------------
ERP_ADEQUACY = dict(ppp_min=0.02, band=0.90)
"""Thresholds of the ERP adequacy verdict (see :func:`erp_adequacy`): three
posterior-predictive p-values, each at 0.02, so that data from the model pass
all three about 94 % of the time."""


def _longest_runs(above, below):
    """Longest run of consecutive samples on one side, over the last axis."""
    best = np.zeros(above.shape[:-1], int)
    for mask in (above, below):
        run = np.zeros(mask.shape[:-1], int)
        for t in range(mask.shape[-1]):
            run = np.where(mask[..., t], run + 1, 0)
            best = np.maximum(best, run)
    return best


def erp_adequacy(observed, mean, sd, noise_acf, times, *, response_map=None, rng=None, tol=None):
    """Posterior-predictive adequacy of one ERP fit (correlated residuals, :mod:`jrfit.inference.residuals`).

    For each posterior draw s a replicate ``y_rep = m_s + sd_s z`` is drawn,
    ``z`` the unit-variance Gaussian process with the noise's autocorrelation.
    Three discrepancies are compared between the data and the replicates:

    * the sum of squared innovations (the whitened residuals in the
      components the preprocessing lets through, :func:`jrfit.inference.residuals.projected_whitening`;
      chi-square under the model): is the misfit larger than the noise allows?
    * the longest run of consecutive samples on one side outside the 90 %
      predictive band: is the misfit concentrated in time (a component the
      column does not produce)? The replicates carry the noise's
      correlation, so runs that correlated noise makes are expected;
    * the lag-1 correlation of the standardised residuals in time (projected
      onto the same components): is the residual smoother than the noise, as
      a slow misfit makes it?

    Parameters
    ----------
    observed : array, shape (n_times,)
        The averaged ERP, in uV.
    mean : array, shape (n_draws, n_times)
        Posterior draws of the model mean, in uV.
    sd : array, shape (n_draws, n_times) or (n_draws, 1) or (1, n_times)
        Residual standard deviation of each draw, in uV.
    noise_acf : array, shape (n_times,)
        Autocorrelation of the standardised residuals at lags 0..n_times-1
        (``[1, 0, 0, ...]``: independent).
    times : array, shape (n_times,)
        Sample times, in s.
    response_map : array, shape (n_times, n_times) | None
        The data's preprocessing as a linear map (None: the identity).
    rng : numpy.random.Generator | None
        Draws the replicates (None: a generator seeded with 0, so that a result repeats).
    tol : dict | None
        Thresholds that replace those of :data:`ERP_ADEQUACY`.

    Returns
    -------
    adequacy : dict
        ``fits`` (bool), ``ppp`` (chi-square discrepancy), ``ppp_run``
        (longest run), ``ppp_lag1`` (the residuals' lag-1 correlation), ``spans``
        (time spans outside the predictive band longer than 95 % of the
        replicates' longest runs: tmin_s, tmax_s, side, n_samples),
        ``frac_outside`` (about 0.10 under the model), ``residual_lag1``
        (at the posterior mean) against ``noise_lag1`` (the replicates'
        median), ``problems`` and the thresholds used.
    """
    from jrfit.inference.residuals import correlated_replicates, lag1_correlation, projected_whitening

    tol = dict(ERP_ADEQUACY, **(tol or {}))
    rng = np.random.default_rng(0) if rng is None else rng
    y = np.asarray(observed, float)
    m = np.atleast_2d(np.asarray(mean, float))
    s = np.broadcast_to(np.asarray(sd, float), m.shape)
    w, _, _, basis = projected_whitening(noise_acf, response_map)
    proj = basis @ basis.T
    z_rep = correlated_replicates(rng, noise_acf, m.shape[0])
    y_rep = m + s * z_rep
    z_obs = (y[None] - m) / s
    e_obs, e_rep = z_obs @ w.T, z_rep @ w.T
    ppp = float(np.mean(np.sum(e_rep**2, axis=-1) >= np.sum(e_obs**2, axis=-1)))  # chi-square under the model
    r1_obs, r1_rep = lag1_correlation(z_obs @ proj), lag1_correlation(z_rep @ proj)
    ppp_lag1 = float(np.mean(r1_rep >= r1_obs))
    q = (1.0 - tol["band"]) / 2.0
    lo, hi = np.quantile(y_rep, [q, 1.0 - q], axis=0)
    run_rep = _longest_runs(y_rep > hi, y_rep < lo)
    run_obs = int(_longest_runs(y > hi, y < lo))
    ppp_run = float(np.mean(run_rep >= run_obs))
    min_run = max(2, int(np.ceil(np.quantile(run_rep, 0.95))) + 1)
    spans = _misfit_bands(y, lo, hi, np.asarray(times, float), min_run, keys=("tmin_s", "tmax_s", "n_samples"))
    r1_mean = float(lag1_correlation(proj @ ((y - m.mean(axis=0)) / s.mean(axis=0))))
    problems = []
    if not ppp >= tol["ppp_min"]:
        problems.append(
            f"residuals larger than the noise allows (posterior-predictive p-value {ppp:.3f} < {tol['ppp_min']})"
        )
    if not ppp_run >= tol["ppp_min"]:
        where = ", ".join(f"{1e3 * b['tmin_s']:.0f}-{1e3 * b['tmax_s']:.0f} ms ({b['side']})" for b in spans)
        problems.append(
            f"data outside the {100 * tol['band']:.0f} % predictive band for {run_obs} samples in a "
            f"row (p-value {ppp_run:.3f})" + (f" at {where}" if where else "")
        )
    if not ppp_lag1 >= tol["ppp_min"]:
        problems.append(
            f"residuals smoother than the noise (lag-1 correlation {r1_mean:.2f} against the noise's "
            f"{float(np.median(r1_rep)):.2f}, p-value {ppp_lag1:.3f})"
        )
    out = dict(fits=not problems, ppp=ppp, ppp_run=ppp_run, ppp_lag1=ppp_lag1, longest_run=run_obs, spans=spans)
    out.update(frac_outside=float(np.mean((y < lo) | (y > hi))), residual_lag1=r1_mean)
    return dict(out, noise_lag1=float(np.median(r1_rep)), problems=problems, thresholds=tol)
