"""A fit's posterior, one channel at a time: prior against posterior, correlations, pairs, stability, traces."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _POST_COLOR, _PRIOR_COLOR, _fill_doc, _get_ax, _grid_axes, _kde
from jrfit.viz.results import (
    _chain_draws,
    _label,
    _ranks,
    _resolve_channel,
    _result_error,
    channel_draws,
    posterior_correlation,
    resolve_var_names,
    select_channel,
    top_pairs,
)

__all__ = ["plot_prior_posterior", "plot_correlation", "plot_pair", "plot_stability", "plot_trace"]

_TRACE_POINTS = 500  # points per chain drawn in a trace (the ranks use every draw)


@_fill_doc
def plot_prior_posterior(idata, channel, var_names=None, *, axes=None, ncols=3, panel_size=(3.0, 2.3)):
    """Plot prior and posterior densities of the parameters of one channel.

    Each panel shows the prior (grey, filled; draws of the ``prior`` group)
    and the posterior (blue) density, the posterior median (line), and the
    contraction ``1 - var(posterior) / var(prior)`` in the title: near 1 the
    data determined the parameter, near 0 the prior did.

    Parameters
    ----------
    %(idata)s
    %(channel)s
    var_names : list of str | None
        Variables (default: the free JR constants, then v and p).
    axes : array of matplotlib.axes.Axes | None
        One Axes per variable; a new figure if None.
    %(grid)s

    %(returns_fig)s
    """
    ch = _resolve_channel(idata, channel)
    var_names = resolve_var_names(idata, var_names)
    fig, axes = _grid_axes(len(var_names), ncols, panel_size, axes)
    for ax, name in zip(axes, var_names):
        post = channel_draws(idata, name, ch)
        if post is None:
            raise _result_error(
                f"Variable {name!r} is not in the posterior; it has {sorted(idata.posterior.data_vars)}."
            )
        prior = channel_draws(idata, name, ch, group="prior")
        post = post[np.isfinite(post)]
        lo, hi = np.quantile(post, [0.0, 1.0])
        if prior is not None:
            prior = prior[np.isfinite(prior)]
            if prior.size:
                plo, phi = np.quantile(prior, [0.01, 0.99])
                lo, hi = min(lo, plo), max(hi, phi)
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 1e-6)
        grid = np.linspace(lo - pad, hi + pad, 256)
        title = name
        if prior is not None and prior.size > 2:
            dens = _kde(prior, grid)
            if dens is not None:
                ax.fill_between(grid, dens, color=_PRIOR_COLOR, alpha=0.35, lw=0, label="prior")
            vp = np.var(prior)
            if vp > 0:
                title += f"   contraction {1 - np.var(post) / vp:.2f}"
        dens = _kde(post, grid)
        if dens is not None:
            ax.plot(grid, dens, color=_POST_COLOR, lw=1.8, label="posterior")
        else:  # a constant: a single line
            ax.axvline(post[0], color=_POST_COLOR, lw=1.8, label="posterior")
        ax.axvline(np.median(post), color=_POST_COLOR, lw=0.9, ls="--")
        ax.set_xlim(grid[0], grid[-1])
        ax.set_ylim(bottom=0)
        ax.set_yticks([])
        ax.set_xlabel(_label(name))
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7, frameon=False, loc="upper right")
    return fig


@_fill_doc
def plot_correlation(idata, channel, var_names=None, ax=None, *, title=None, figsize=(5.4, 4.6)):
    """Plot the posterior (Spearman rank) correlation matrix of one channel.

    Parameters
    ----------
    %(idata)s
    %(channel)s
    var_names : list of str | None
        Variables (default: the free JR constants, v, p and the observation
        parameters).
    %(ax)s
    %(title)s
    %(figsize)s

    %(returns_fig)s
    """
    ch = _resolve_channel(idata, channel)
    names, corr = posterior_correlation(idata, ch, var_names)
    fig, ax = _get_ax(ax, figsize)
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    n = len(names)
    for i in range(n):
        for j in range(n):
            if i != j:
                txt = f"{corr[i, j]:.2f}".replace("-0.00", "0.00").replace("0.", ".", 1)
                ax.text(
                    j, i, txt, ha="center", va="center", fontsize=7, color="white" if abs(corr[i, j]) > 0.6 else "0.1"
                )
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    fig.colorbar(im, ax=ax, shrink=0.8, label="rank correlation")
    ax.set_title(f"{ch}: posterior correlations" if title is None else title, fontsize=10)
    return fig


@_fill_doc
def plot_pair(
    idata,
    channel,
    var_names=None,
    *,
    pairs=None,
    n_pairs=4,
    max_points=1000,
    axes=None,
    ncols=4,
    panel_size=(2.9, 2.7),
    seed=0,
):
    """Scatter plots of the most correlated pairs of parameters of one channel.

    A strong correlation (a narrow diagonal ridge) means the spectrum
    constrains a combination of the two parameters rather than each one.

    Parameters
    ----------
    %(idata)s
    %(channel)s
    var_names : list of str | None
        Variables to choose pairs from (default: the free JR constants, v, p
        and the observation parameters).
    pairs : list of (str, str) | None
        Pairs to draw; default: the ``n_pairs`` of largest absolute Spearman
        rank correlation.
    n_pairs : int
        Number of pairs when ``pairs`` is None.
    max_points : int
        At most this many draws are scattered (a random subset).
    axes : array of matplotlib.axes.Axes | None
        One Axes per pair; a new figure if None.
    %(grid)s
    seed : int
        Seed of the subset of draws.

    %(returns_fig)s
    """
    ch = _resolve_channel(idata, channel)
    names, corr = posterior_correlation(idata, ch, var_names)
    if pairs is None:
        pairs = top_pairs(names, corr, int(n_pairs))
    else:
        pairs = [
            (x, y, float(corr[names.index(x), names.index(y)]) if x in names and y in names else float("nan"))
            for x, y in pairs
        ]
    if not pairs:
        raise _result_error("No pairs to plot: need at least two non-constant variables.")
    fig, axes = _grid_axes(len(pairs), ncols, panel_size, axes)
    chain_of = None
    for ax, (x, y, r) in zip(axes, pairs):
        xd, yd = _chain_draws(idata, x, ch), _chain_draws(idata, y, ch)
        if chain_of is None:
            chain_of = np.repeat(np.arange(xd.shape[0]), xd.shape[1])
            rng = np.random.default_rng(seed)
            n = chain_of.size
            keep = np.sort(rng.choice(n, size=min(n, int(max_points)), replace=False))
        xf, yf = xd.reshape(-1)[keep], yd.reshape(-1)[keep]
        ax.scatter(xf, yf, s=5, c=[f"C{c % 10}" for c in chain_of[keep]], alpha=0.45, lw=0)
        for vals, setter in ((xf, ax.set_xscale), (yf, ax.set_yscale)):
            if np.all(vals > 0) and vals.max() / vals.min() > 30:
                setter("log")
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(y))
        ax.set_title(f"r = {r:+.2f}", fontsize=9)
        ax.grid(True, lw=0.3, alpha=0.4)
    return fig


@_fill_doc
def plot_stability(idata, channel, ax=None, *, title=None, figsize=(5.4, 3.4)):
    """Histogram of the posterior distance to the stability boundary (``damping``).

    ``damping`` is minus the real part of the leading Jacobian eigenvalue, in
    /s: the decay rate of the slowest mode of the linearised column. Draws
    near 0 sit next to a bifurcation (a Hopf point: the oscillation is about
    to become a limit cycle), where the linearised spectrum is least reliable.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit (``damping`` in the posterior).
    %(channel)s
    %(ax)s
    %(title)s
    %(figsize)s

    %(returns_fig)s
    """
    ch = _resolve_channel(idata, channel)
    d = channel_draws(idata, "damping", ch)
    if d is None:
        raise _result_error("The posterior has no 'damping' variable.")
    d = d[np.isfinite(d)]
    fig, ax = _get_ax(ax, figsize)
    hi = max(float(np.max(d)) if d.size else 1.0, 1.0)
    lo = min(float(np.min(d)) if d.size else 0.0, 0.0)
    ax.hist(d, bins=40, range=(lo, hi) if hi > lo else None, color=_POST_COLOR, alpha=0.75)
    ax.axvline(0.0, color="#d62728", lw=1.5, label="stability boundary")
    ax.axvspan(lo - 0.05 * (hi - lo), 0.0, color="#d62728", alpha=0.08, lw=0, label="unstable")
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.02 * (hi - lo))
    if d.size:
        med = float(np.median(d))
        ax.axvline(med, color="0.1", ls="--", lw=1.0, label=f"median {med:.3g} /s")
    ax.set_xlabel(_label("damping"))
    ax.set_ylabel("posterior draws")
    ax.legend(fontsize=7.5, frameon=False)
    ax.set_title(f"{ch}: distance to the stability boundary" if title is None else title, fontsize=10)
    return fig


@_fill_doc
def plot_trace(idata, channel, var_names=None, *, axes=None, row_size=(9.0, 1.45)):
    """Trace and rank plots of one channel's posterior, one row per variable.

    Left: the draws of each chain against the iteration (divergent
    transitions as red ticks at the bottom). Right: rank histograms, one per
    chain (ranks of the draws among all chains; Vehtari et al. 2021): for
    well-mixed chains every histogram is flat.

    Parameters
    ----------
    %(idata)s
    %(channel)s
    var_names : list of str | None
        Variables (default: the free JR constants, v and p).
    axes : array of matplotlib.axes.Axes, shape (n_vars, 2) | None
        Axes to draw in; a new figure if None.
    row_size : tuple of float
        Size of one row of a new figure, in inches.

    %(returns_fig)s
    """
    import matplotlib.pyplot as plt

    ch = _resolve_channel(idata, channel)
    var_names = resolve_var_names(idata, var_names)
    if axes is None:
        fig, axes = plt.subplots(
            len(var_names),
            2,
            figsize=(row_size[0], row_size[1] * len(var_names)),
            layout="constrained",
            squeeze=False,
            gridspec_kw=dict(width_ratios=(2.2, 1.0)),
        )
    else:
        axes = np.asarray(axes).reshape(len(var_names), 2)
        fig = axes[0, 0].figure
    div = None
    if hasattr(idata, "sample_stats") and "diverging" in idata.sample_stats:
        div = np.asarray(select_channel(idata.sample_stats["diverging"], ch).transpose("chain", "draw").values, bool)
    for (ax_t, ax_r), name in zip(axes, var_names):
        x = _chain_draws(idata, name, ch)
        _draw_trace(ax_t, x, div)
        ax_t.set_ylabel(_label(name), fontsize=8)
        ax_t.tick_params(labelsize=7)
        _draw_ranks(ax_r, x)
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("rank (all chains)")
    axes[0, 0].set_title(f"{ch}: traces (red ticks: divergent transitions)", fontsize=9)
    axes[0, 1].set_title("rank histograms (flat = well mixed)", fontsize=9)
    return fig


def _draw_trace(ax_t, x, div):
    """Each chain of ``x`` (n_chains, n_draws) against the iteration; divergent transitions ``div`` as red ticks."""
    n_chains, n_draws = x.shape
    it = np.arange(n_draws)
    step = max(1, n_draws // _TRACE_POINTS)  # a thinned trace looks the same and keeps reports small
    for c in range(n_chains):
        ax_t.plot(it[::step], x[c, ::step], lw=0.6, alpha=0.8, color=f"C{c % 10}")
    if div is not None and div.shape == x.shape and div.any():
        _, idx = np.nonzero(div)
        ax_t.plot(
            idx,
            np.full(idx.shape, 0.0),
            ls="none",
            marker="|",
            ms=9,
            color="#d62728",
            transform=ax_t.get_xaxis_transform(),
            clip_on=False,
        )
    ax_t.set_xlim(0, n_draws - 1)


def _draw_ranks(ax_r, x):
    """Rank histograms of draws ``x`` (n_chains, n_draws), one row per chain (ranks among all chains)."""
    n_chains, n_draws = x.shape
    ranks = _ranks(x.reshape(-1)).reshape(x.shape)
    bins = np.linspace(0, x.size, min(20, max(n_draws // 5, 2)) + 1)
    width = bins[1] - bins[0]
    hists = np.array([np.histogram(ranks[c], bins=bins)[0] for c in range(n_chains)], float)
    # the uniform level at 0.4 of a row, unless a bar would reach the next row
    unit = min(0.4 / hists.mean(), 0.95 / hists.max())
    for c in range(n_chains):
        ax_r.bar(bins[:-1] + width / 2, hists[c] * unit, width=width, bottom=c, color=f"C{c % 10}", alpha=0.8, lw=0)
        ax_r.axhline(c + hists.mean() * unit, color="0.3", lw=0.6, ls="--")
    ax_r.set_yticks(np.arange(n_chains) + 0.2, [f"chain {c}" for c in range(n_chains)], fontsize=7)
    ax_r.set_xticks([])
    ax_r.set_xlim(0, x.size)
