"""Evoked-response fits (:mod:`jrfit.inference.erp`): the ERP against its posterior predictive, conditions compared."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _DATA_COLOR, _POST_COLOR, _fill_doc, _grid_axes, _kde
from jrfit.viz.results import _label, _resolve_channel, _result_error, resolve_var_names, select_channel

__all__ = ["plot_erp_fit", "plot_condition_comparison"]


@_fill_doc
def plot_erp_fit(idata, channel, condition=None, *, title=None, figsize=(7.5, 5.2)):
    """Measured ERP with its error band, the posterior predictive and the input pulse.

    Parameters
    ----------
    idata : arviz.InferenceData
        An ERP fit result (:func:`jrfit.fit_erp`).
    channel : str
        Channel name.
    condition : str | None
        Condition (default: the first).
    title : str | None
        Figure title.
    figsize : tuple
        Figure size, in inches.

    %(returns_fig)s
    """
    import matplotlib.pyplot as plt

    conds = [str(c) for c in np.atleast_1d(idata.observed_data.coords["condition"].values)]
    condition = conds[0] if condition is None else str(condition)
    if condition not in conds:
        raise _result_error(f"Condition {condition!r} is not in the result; it has {conds}.")
    channel = _resolve_channel(idata, channel)

    def pick(da):  # a one-condition view (jrfit.report.html) has the condition selected already
        return select_channel(da.sel(condition=condition) if "condition" in da.dims else da, channel)

    t = np.asarray(idata.observed_data.coords["time"].values, float) * 1e3
    y = np.asarray(pick(idata.observed_data["erp"]).values, float)
    se = np.asarray(pick(idata.constant_data["se"]).values, float)
    fig, (ax, axp) = plt.subplots(2, 1, figsize=figsize, sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    pp = idata.posterior_predictive
    mean = np.asarray(pick(pp["erp_mean"]).values, float).reshape(-1, t.size)
    noisy = np.asarray(pick(pp["erp"]).values, float).reshape(-1, t.size)
    lo, hi = np.quantile(noisy, [0.05, 0.95], axis=0)
    ax.fill_between(t, lo, hi, color=_POST_COLOR, alpha=0.15, lw=0, label="90 % posterior predictive")
    lo, hi = np.quantile(mean, [0.05, 0.95], axis=0)
    ax.fill_between(t, lo, hi, color=_POST_COLOR, alpha=0.35, lw=0, label="90 % model mean")
    ax.plot(t, np.median(mean, axis=0), color=_POST_COLOR, lw=1.5, label="model median")
    ax.fill_between(
        t, y - 1.645 * se, y + 1.645 * se, color=_DATA_COLOR, alpha=0.15, lw=0, label="data \u00b1 1.645 SE"
    )
    ax.plot(t, y, color=_DATA_COLOR, lw=1.0, label="data")
    ax.axvline(0, color="0.5", lw=0.8, ls=":")
    ax.set_ylabel("ERP (uV)")
    ax.legend(fontsize="small", frameon=False, ncol=2)
    pulse = np.asarray(pick(pp["pulse"]).values, float).reshape(-1, t.size)
    lo, hi = np.quantile(pulse, [0.05, 0.95], axis=0)
    axp.fill_between(t, lo, hi, color="#d62728", alpha=0.3, lw=0)
    axp.plot(t, np.median(pulse, axis=0), color="#d62728", lw=1.2)
    axp.axvline(0, color="0.5", lw=0.8, ls=":")
    axp.set_ylabel("input pulse (/s)")
    axp.set_xlabel("time after stimulus (ms)")
    ax.set_title(title or f"{condition}: {channel}")
    fig.tight_layout()
    return fig


@_fill_doc
def plot_condition_comparison(idata, channel, var_names=None, *, ncols=4, panel=(2.6, 2.0)):
    """Posterior densities of each parameter, one curve per condition (ERP fits).

    Parameters
    ----------
    idata : arviz.InferenceData
        An ERP fit result with a ``condition`` dimension.
    channel : str
        Channel name.
    var_names : list of str | None
        Parameters (default: free constants, v and p).
    ncols : int
        Panels per row.
    panel : tuple
        Size of one panel, in inches.

    %(returns_fig)s
    """
    var_names = resolve_var_names(idata, var_names)
    channel = _resolve_channel(idata, channel)
    conds = [str(c) for c in idata.posterior.coords["condition"].values]
    fig, axes = _grid_axes(len(var_names), ncols, panel)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    for ax, n in zip(axes, var_names):
        draws = [
            np.asarray(select_channel(idata.posterior[n].sel(condition=c), channel).values, float).ravel()
            for c in conds
        ]
        allx = np.concatenate(draws)
        allx = allx[np.isfinite(allx)]
        lo, hi = np.quantile(allx, [0.001, 0.999])
        pad = 0.1 * (hi - lo or 1.0)
        grid = np.linspace(lo - pad, hi + pad, 200)
        for i, (c, x) in enumerate(zip(conds, draws)):
            dens = _kde(x, grid)
            if dens is None:  # a fixed or degenerate quantity: its value
                ax.axvline(float(np.nanmedian(x)), color=colors[i % len(colors)], lw=1.4, label=c)
            else:
                ax.plot(grid, dens, color=colors[i % len(colors)], lw=1.4, label=c)
        ax.set_xlabel(_label(n))
        ax.set_yticks([])
    axes[0].legend(fontsize="x-small", frameon=False)
    return fig
