"""Reading a fit result (ArviZ InferenceData) one channel at a time, without matplotlib.

The figures of :mod:`jrfit.viz` and the tables of :mod:`jrfit.report` both use
these helpers: the channels of a result, one channel's draws or
posterior-predictive spectra, the free constants, the variables shown by
default, the posterior rank correlations, and each variable's unit and meaning.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "channel_names",
    "channel_draws",
    "channel_spectra",
    "select_channel",
    "fit_free_params",
    "default_vars",
    "resolve_var_names",
    "posterior_correlation",
    "top_pairs",
    "unit_of",
    "meaning_of",
]

# unit and meaning of each result variable besides the JR constants (those: jrfit.model.params.PARAM_INFO)
_RESULT_VARS = {
    "v": ("mV", "operating potential y1 - y2"),
    "p": ("/s", "input to the excitatory interneurons"),
    "scale": ("1", "JR spectrum scale (absorbs A and \u03c3)"),
    "bg": ("mV\u00b2/Hz", "aperiodic background at 1 Hz"),
    "chi": ("1", "aperiodic exponent"),
    "floor": ("mV\u00b2/Hz", "white sensor floor"),
    "peak_freq": ("Hz", "peak frequency of the JR component"),
    "damping": ("/s", "distance to the stability boundary (> 0: stable)"),
    "loop_gain_exc": ("1", "DC gain of the excitatory feedback loop, g0 k1 A^2 / a^2"),
    "loop_gain_inh": ("1", "DC gain of the inhibitory feedback loop, g0 k2 A B / (a b)"),
    "amplitude": ("/s", "peak of the stimulus input pulse"),
    "latency": ("s", "time of the stimulus pulse's peak"),
    "onset": ("s", "onset of the stimulus pulse (derived from latency and width)"),
    "width": ("s", "width of the stimulus pulse"),
    "gain": ("uV/mV", "electrode gain (uV at the electrode per mV of y1 - y2)"),
    "offset": ("uV", "baseline offset"),
    "noise": ("uV", "residual noise added to the trial SE"),
}
_DERIVED_VARS = ("peak_freq", "damping", "loop_gain_exc", "loop_gain_inh")
# the observation model's variables: v, p, the spectral and the ERP ones
_OBS_VARS = tuple(n for n in _RESULT_VARS if n not in _DERIVED_VARS)


def _result_error(msg):
    from jrfit.errors import JRFitError

    return JRFitError(msg)


def _describe(name, field):
    """Field 0 (unit) or 1 (meaning) of a result variable; '' if unknown."""
    from jrfit.model.params import PARAM_INFO

    if name in _RESULT_VARS:
        return _RESULT_VARS[name][field]
    if name in PARAM_INFO:
        return PARAM_INFO[name][("unit", "meaning")[field]]
    return ""


def unit_of(name):
    """Unit of a result variable (JR constants: :data:`jrfit.model.params.PARAM_INFO`)."""
    return _describe(name, 0)


def meaning_of(name):
    """Meaning of a result variable in a few words (JR constants: :data:`jrfit.model.params.PARAM_INFO`)."""
    return _describe(name, 1)


def _label(name):
    """Axis label with unit, e.g. 'a (/s)'; dimensionless names have none."""
    unit = unit_of(name)
    return name if unit in ("", "1") else f"{name} ({unit})"


def resolve_var_names(idata, var_names):
    """Variables to plot: the given ones, or the free JR constants then v and p."""
    if var_names is None:
        var_names = fit_free_params(idata) + [n for n in ("v", "p") if n in idata.posterior]
    var_names = list(var_names)
    if not var_names:
        raise _result_error("No variables to plot ('var_names' is empty).")
    return var_names


def fit_free_params(idata):
    """Free JR constants of the fit, from ``attrs['free_params']`` (JSON list)."""
    import json

    raw = idata.attrs.get("free_params") if hasattr(idata, "attrs") else None
    if raw is not None:
        try:
            names = json.loads(raw) if isinstance(raw, str) else list(raw)
        except ValueError:
            raise _result_error(f"attrs['free_params'] is not a JSON list: {raw!r}.") from None
        return [n for n in names if n in idata.posterior.data_vars]
    # older or hand-made results: the JR constants present in the posterior
    from jrfit.model.params import PARAM_INFO

    return [n for n in PARAM_INFO if n in idata.posterior.data_vars]


def default_vars(idata, derived=False):
    """Free constants, then v, p and the observation parameters present."""
    names = fit_free_params(idata) + [n for n in _OBS_VARS if n in idata.posterior.data_vars]
    if derived:
        names += [n for n in _DERIVED_VARS if n in idata.posterior.data_vars]
    return names


def channel_names(idata):
    """Channel names of a result, from ``observed_data`` (else the posterior)."""
    for group in ("observed_data", "posterior"):
        if hasattr(idata, group) and "channel" in getattr(idata, group).coords:
            return [str(c) for c in getattr(idata, group).coords["channel"].values]
    raise _result_error("The result has no 'channel' coordinate in observed_data or posterior.")


def _resolve_channel(idata, channel):
    """Channel name from a name or an integer index."""
    names = channel_names(idata)
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        if not -len(names) <= channel < len(names):
            raise _result_error(f"Channel index {channel} out of range: the result has {len(names)} channels {names}.")
        return names[int(channel)]
    if str(channel) not in names:
        raise _result_error(f"Channel {channel!r} is not in the result; its channels are {names}.")
    return str(channel)


def select_channel(da, channel):
    """Select a channel by name when the variable has a channel dimension."""
    if "channel" in da.dims:
        values = [str(c) for c in da.coords["channel"].values]
        return da.isel(channel=values.index(channel))
    return da


def channel_draws(idata, var, channel, group="posterior"):
    """Draws of ``var`` for one channel, flattened over (chain, draw); None if absent."""
    if not hasattr(idata, group) or var not in getattr(idata, group).data_vars:
        return None
    da = select_channel(getattr(idata, group)[var], channel)
    return np.asarray(da.values, float).reshape(-1)


def _chain_draws(idata, var, channel):
    """Posterior draws of ``var`` for one channel, shape (n_chains, n_draws)."""
    da = select_channel(idata.posterior[var], channel).transpose("chain", "draw")
    return np.asarray(da.values, float)


def channel_spectra(idata, var, channel):
    """Posterior-predictive spectra, shape (n_samples, n_freqs); None if absent."""
    if not hasattr(idata, "posterior_predictive") or var not in idata.posterior_predictive:
        return None
    da = select_channel(idata.posterior_predictive[var], channel)
    da = da.transpose(*[d for d in da.dims if d != "freq"], "freq")
    return np.asarray(da.values, float).reshape(-1, da.sizes["freq"])


def _ranks(x):
    """Average ranks of a 1-D array (ties share their mean rank)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), float)
    ranks[order] = np.arange(len(x), dtype=float)
    xs = x[order]
    # average over ties
    _, start, counts = np.unique(xs, return_index=True, return_counts=True)
    for s, c in zip(start, counts):
        if c > 1:
            ranks[order[s : s + c]] = s + 0.5 * (c - 1)
    return ranks


def posterior_correlation(idata, channel, var_names=None):
    """Spearman rank correlations of the posterior draws of one channel.

    Rank correlation does not depend on monotone reparameterisations (a
    parameter and its logarithm give the same value), so the scale-like
    variables need no log transform.

    Returns
    -------
    names : list of str
        Variables with more than one distinct value.
    corr : ndarray, shape (n, n)
        Correlation matrix (1 on the diagonal).
    """
    names = list(var_names) if var_names is not None else default_vars(idata)
    cols, kept = [], []
    for n in names:
        x = channel_draws(idata, n, channel)
        if x is None:
            raise _result_error(f"Variable {n!r} is not in the posterior; it has {sorted(idata.posterior.data_vars)}.")
        if np.all(np.isfinite(x)) and np.ptp(x) > 0:
            cols.append(_ranks(x))
            kept.append(n)
    if not cols:
        return [], np.zeros((0, 0))
    corr = np.atleast_2d(np.corrcoef(np.array(cols)))
    np.fill_diagonal(corr, 1.0)
    return kept, corr


def top_pairs(names, corr, n_pairs):
    """The ``n_pairs`` pairs (i, j, r) of largest |r|, i < j."""
    iu, ju = np.triu_indices(len(names), k=1)
    r = corr[iu, ju]
    order = np.argsort(-np.abs(r), kind="stable")[:n_pairs]
    return [(names[iu[k]], names[ju[k]], float(r[k])) for k in order]
