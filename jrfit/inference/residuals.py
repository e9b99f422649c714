"""Time-correlated noise of an averaged evoked response: a stationary Gaussian process.

The residual of an ERP fit at sample ``t`` is ``r_t = y_t - m_t`` (uV), with
``y`` the averaged data and ``m`` the model mean. Scaled by its standard
deviation ``s_t = sqrt(se_t^2 + noise^2)`` (trial standard error plus an
optional extra term), ``z_t = r_t / s_t`` is a stationary Gaussian process of
unit variance with autocorrelation ``rho(k)`` at lag k:

    z ~ N(0, R),   R_ij = rho(|i - j|),
    log L = -1/2 |W z|^2 + log det W - sum_t log s_t - n/2 log(2 pi),

with ``W = L^-1`` and ``L L^T = R`` (Cholesky). ``e = W z`` are the
innovations: independent N(0, 1) under the model, which the adequacy check
tests. ``rho = (1, 0, 0, ...)`` gives independent samples. Where the data
were low-passed, the density is taken on the components the filter lets
through (:func:`projected_whitening`): ``W = L^-1 U^T`` with ``U`` those
components and ``L L^T = U^T R U``.

The noise of an average of independent trials has the trials' correlation in
time, so ``rho`` is measured, not fitted: from the trials' deviations from
their mean, or from the average over its pre-stimulus baseline
(:func:`noise_autocorrelation`). The sample autocorrelation at lags 0..p
defines an autoregressive process of order p (Yule-Walker; p chosen by AIC),
whose autocorrelation extends to every lag and is positive definite. An AR(p)
rather than the raw sample autocorrelation: beyond a few lags that estimate is
noise, and from a short baseline it is not available at all lags.

References: Brockwell & Davis (1991), *Time Series: Theory and Methods*,
sections 5.1 (Yule-Walker) and 9.3 (AIC); Box, Jenkins & Reinsel (2008),
*Time Series Analysis*, section 3.2.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "gaussian_logp",
    "projected_whitening",
    "levinson",
    "ar_autocorrelation",
    "noise_autocorrelation",
    "whitening",
    "lag1_correlation",
    "correlated_replicates",
]

AR_ORDER_MAX = 12
"""Highest autoregressive order considered for the noise (AIC chooses below it)."""


def gaussian_logp(z, whiten, logdet_w, log_sd_sum, n_kept):
    """Log density of standardised residuals ``z`` in the kept subspace (see :func:`projected_whitening`).

    Parameters
    ----------
    z : array | tensor, shape (n,)
        Standardised residuals ``(y - m) / s``.
    whiten : array | tensor, shape (n, n)
        ``W``: rows ``L^-1 U^T`` for the kept components, zero rows for the
        others (all n kept and U the identity: ``L^-1`` of the Toeplitz
        correlation).
    logdet_w : float | tensor
        ``-1/2 log det`` of the kept components' correlation matrix.
    log_sd_sum : float | tensor
        ``sum_t log s_t``; the Jacobian of the standardisation counts it in
        the proportion ``n_kept / n`` (exact for a constant ``s``).
    n_kept : int | tensor
        Number of kept components.

    Returns
    -------
    logp : float | tensor
    """
    e = whiten.dot(z)
    n = z.shape[-1]
    return -0.5 * (e**2).sum() + logdet_w - log_sd_sum * (n_kept / n) - 0.5 * n_kept * np.log(2.0 * np.pi)


def projected_whitening(acf, response_map=None, rel_tol=1e-2, nugget=1e-6):
    """Whitening in the subspace the preprocessing lets through.

    A low-pass removes a band from the data and (through ``response_map``)
    from the model alike: there both are about zero and carry no
    information, while the noise estimate is least reliable there (an AR(p)
    fit, or the sample autocorrelation's leakage, overstate the power of a
    band a sharp FIR filter removed, and whitening with it leaves the
    innovations correlated). The likelihood is therefore evaluated on the
    components of the map's column space whose singular values exceed
    ``rel_tol`` times the largest (about -40 dB); the baseline correction's
    null direction (the baseline mean, absorbed by the offset) drops out too.

    Parameters
    ----------
    acf : array, shape (n,)
        Noise autocorrelation at lags 0..n-1.
    response_map : array, shape (n, n) | None
        The preprocessing's linear map (None: the identity, every component kept).
    rel_tol : float
        Relative singular value below which a component is dropped.
    nugget : float
        Added to the diagonal of the correlation matrix (conditioning).

    Returns
    -------
    whiten : ndarray, shape (n, n)
        ``L^-1 U^T`` in the first ``n_kept`` rows, zeros below.
    logdet_w : float
        ``-1/2 log det(U^T R U)``.
    n_kept : int
    basis : ndarray, shape (n, n_kept)
        The kept components ``U`` (orthonormal columns).
    """
    from scipy.linalg import solve_triangular, toeplitz

    n = len(acf)
    r = toeplitz(np.asarray(acf, float)) + nugget * np.eye(n)
    if response_map is None:
        basis = np.eye(n)
    else:
        u, sv, _ = np.linalg.svd(np.asarray(response_map, float))
        basis = u[:, sv > rel_tol * sv[0]]
    chol = np.linalg.cholesky(basis.T @ r @ basis)
    k = basis.shape[1]
    w = np.zeros((n, n))
    w[:k] = solve_triangular(chol, basis.T, lower=True)
    return w, float(-np.sum(np.log(np.diag(chol)))), int(k), basis


def levinson(acf, p):
    """Levinson-Durbin: AR(k) coefficients and innovation variances for k = 0..p.

    Parameters
    ----------
    acf : array, shape (>= p + 1,)
        Autocorrelation at lags 0..p (``acf[0] = 1``).
    p : int
        Highest order.

    Returns
    -------
    phi : ndarray, shape (p,)
        Coefficients of the AR(p) fit, ``z_t = sum_i phi_i z_{t-i} + e_t``.
    var : ndarray, shape (p + 1,)
        Innovation variance of the AR(k) fit, k = 0..p (relative to acf[0]).
    """
    r = np.asarray(acf, float)
    phi = np.zeros(0)
    var = [1.0]
    for k in range(1, p + 1):
        kappa = (r[k] - phi @ r[k - 1 : 0 : -1]) / var[-1] if k > 1 else r[1]
        kappa = float(np.clip(kappa, -0.999, 0.999))
        phi = np.concatenate([phi - kappa * phi[::-1], [kappa]])
        var.append(var[-1] * (1.0 - kappa**2))
    return phi, np.array(var)


def ar_autocorrelation(acf, phi, n):
    """Autocorrelation at lags 0..n-1 of the AR(p) fit (lags 0..p from ``acf``, then the AR recursion)."""
    p = phi.size
    r = np.empty(n)
    m = min(n, p + 1)
    r[:m] = np.asarray(acf, float)[:m]
    for k in range(m, n):  # k > p here: r[k-1], ..., r[k-p]
        r[k] = phi @ r[k - p : k][::-1]
    return r


def _sample_acf(x, max_lag):
    """Biased (positive semi-definite) sample autocorrelation, pooled over the leading axes."""
    d = np.asarray(x, float)
    d = d - d.mean(axis=-1, keepdims=True)
    d = d.reshape(-1, d.shape[-1])
    c = np.array([np.sum(d[:, k:] * d[:, : d.shape[1] - k]) for k in range(max_lag + 1)])
    return c / max(c[0], 1e-300)


def noise_autocorrelation(x, n_lags, p_max=AR_ORDER_MAX):
    """Autocorrelation of the noise in ``x`` (last axis time), extended to ``n_lags`` lags by AR(p).

    Parameters
    ----------
    x : array, shape (n_segments, n_samples) or (n_samples,)
        Noise samples (e.g. one channel's trial deviations from the mean, or
        the average over its baseline); each segment's mean is removed.
    n_lags : int
        Lags wanted (the ERP's number of samples).
    p_max : int
        Highest AR order; also at most a quarter of the samples per segment.

    Returns
    -------
    acf : ndarray, shape (n_lags,)
        Autocorrelation at lags 0..n_lags-1 (``acf[0] = 1``).
    order : int
        The AR order chosen by AIC.
    """
    x = np.atleast_2d(np.asarray(x, float))
    n_seg, n_samp = x.shape
    p_max = int(max(0, min(p_max, n_samp // 4)))
    acf = _sample_acf(x, p_max)
    _, var = levinson(acf, p_max)
    n_eff = n_seg * n_samp
    aic = n_eff * np.log(np.maximum(var, 1e-12)) + 2.0 * np.arange(p_max + 1)
    order = int(np.argmin(aic))
    phi, _ = levinson(acf, order)
    return ar_autocorrelation(acf, phi, int(n_lags)), order


def whitening(acf, nugget=1e-6):
    """``W = L^-1`` (lower triangular) of the Toeplitz correlation matrix and ``log det W``."""
    w, logdet, _, _ = projected_whitening(acf, None, nugget=nugget)
    return w, logdet


def correlated_replicates(rng, acf, size):
    """Draws of the unit-variance process with autocorrelation ``acf``, shape ``(size, n)``."""
    from scipy.linalg import toeplitz

    n = len(acf)
    chol = np.linalg.cholesky(toeplitz(np.asarray(acf, float)) + 1e-6 * np.eye(n))
    return rng.standard_normal((int(size), n)) @ chol.T


def lag1_correlation(x):
    """Sample lag-1 autocorrelation of ``x`` over its last axis (mean removed)."""
    x = np.asarray(x, float)
    x = x - x.mean(axis=-1, keepdims=True)
    return np.sum(x[..., 1:] * x[..., :-1], axis=-1) / np.sum(x * x, axis=-1)
