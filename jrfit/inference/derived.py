"""Quantities derived from posterior draws: peak frequency, damping, loop gains, dynamical regime.

Shared by the routes: :func:`derived_quantities` (peak frequency in Hz,
damping in /s and the two loop gains of the linearised spectrum, per draw),
:func:`interpolated_peak` (a spectrum's peak between grid points) and
:func:`regime_fractions` (the share of draws in each dynamical regime).
"""

from __future__ import annotations

import numpy as np

__all__ = ["derived_quantities", "interpolated_peak", "regime_fractions"]


def derived_quantities(arrays, priors, fmin, fmax):
    """Peak frequency of the JR component (Hz), damping (/s) and the two loop gains per draw."""
    from jrfit.model.column import eigenvalues
    from jrfit.model.params import JRParams
    from jrfit.model.spectrum import loop_gains, psd_from_v

    shape = arrays["v"].shape
    vals = {k: arrays[k].ravel() for k in priors.free}
    params = priors.fixed.replace(**vals) if vals else priors.fixed
    v = arrays["v"].ravel()
    grid = np.linspace(max(fmin, 0.5), fmax, 400)
    d = {k: (np.asarray(x)[:, None] if np.ndim(x) else x) for k, x in params.as_dict().items()}
    psd = psd_from_v(grid, v[:, None], d)
    peak = interpolated_peak(grid, psd)
    ev = eigenvalues(v, JRParams(**{k: np.broadcast_to(x, v.shape) for k, x in params.as_dict().items()}))
    damping = -ev[:, 0].real
    g_exc, g_inh = loop_gains(v, {k: np.asarray(x) for k, x in params.as_dict().items()})
    return peak.reshape(shape), damping.reshape(shape), np.reshape(g_exc, shape), np.reshape(g_inh, shape)


def interpolated_peak(grid, psd):
    """Frequency of each row's maximum, refined by a parabola through the log PSD at the three grid points around it.

    The grid's spacing alone (0.095 Hz for 400 points over 2-40 Hz) would
    quantise every peak frequency; the parabola's vertex is accurate to a
    small fraction of it for the smooth linearised spectrum.
    """
    i = np.argmax(psd, axis=1)
    inner = (i > 0) & (i < grid.size - 1)
    j = np.clip(i, 1, grid.size - 2)
    rows = np.arange(psd.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        lm, l0, lp = (np.log(psd[rows, j + k]) for k in (-1, 0, 1))
        curv = lm - 2.0 * l0 + lp
        shift = np.where(inner & (curv < 0), 0.5 * (lm - lp) / curv, 0.0)
    return grid[i] + np.clip(np.nan_to_num(shift), -0.5, 0.5) * (grid[1] - grid[0])


def regime_fractions(flat, priors, n=60):
    """Fractions of posterior draws in each dynamical regime (at their own p)."""
    from jrfit.dynamics.bifurcation import regime

    m = min(n, flat["p"].size)
    vals = {k: flat[k][:m] for k in priors.free}
    params = priors.fixed.replace(mu=flat["p"][:m], **vals)
    labels = regime(params)
    labels = [str(x) for x in np.ravel(labels)]
    uniq, counts = np.unique(labels, return_counts=True)
    return {u: float(c) / m for u, c in zip(uniq, counts)}
