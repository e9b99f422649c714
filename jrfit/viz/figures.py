"""Figures. matplotlib is imported here and nowhere else in jrfit.

Every function takes ``ax=None`` (a new figure is made when None), returns the
:class:`matplotlib.figure.Figure` and never calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_bifurcation",
    "plot_psd",
    "plot_psd_fit",
    "plot_erp_fit",
    "plot_condition_comparison",
    "plot_prior_posterior",
    "plot_correlation",
    "plot_pair",
    "plot_stability",
    "plot_trace",
    "plot_posterior_bifurcation",
    "plot_cross_spectrum",
    "plot_scalp_maps",
    "save_figure",
]

_TRACE_POINTS = 500  # points per chain drawn in a trace (the ranks use every draw)
_CYCLE_COLORS = {"alpha limit cycle": "#1f77b4", "spike-like cycle": "#d62728"}
_FP_COLOR = "0.1"


def _get_ax(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


def _split_runs(mask):
    """Slices of consecutive equal values of a boolean array."""
    out, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            out.append((slice(start, i), bool(mask[start])))
            start = i
    return out


def plot_bifurcation(
    bif,
    ax=None,
    *,
    quantity="v",
    cycles=True,
    simulated=True,
    annotate=True,
    marks=None,
    marks_label="posterior draws",
    marks_kw=None,
    p_lim=None,
    v_lim=None,
    legend=True,
    title=None,
    figsize=(9.0, 4.8),
):
    """Plot a bifurcation diagram: fixed points and cycles against the input p.

    Stable fixed points are solid, unstable ones dashed; limit cycles are drawn
    as the envelope (max and min of v over a period) in the colour of their
    kind (blue: alpha limit cycle, red: spike-like cycle), solid where stable,
    dashed where unstable; open circles are attractors found by simulation.
    Hopf points (squares), folds (triangles) and folds of cycles (diamonds)
    are marked and labelled with their p.

    Parameters
    ----------
    bif : Bifurcation
        Result of :func:`jrfit.dynamics.bifurcation.bifurcation`.
    ax : matplotlib.axes.Axes | None
        Axes to draw in; a new figure if None.
    quantity : 'v' | 'frequency'
        What to plot against p: the potential v = y1 - y2 (fixed points, and
        max/min of the cycles), or the frequency in Hz (of the least damped
        complex eigenvalue pair at fixed points, of the cycles).
    cycles : bool
        Draw the continued limit-cycle branches.
    simulated : bool
        Draw the simulated attractors (every second grid point).
    annotate : bool
        Label the special points with their p (in /s).
    marks : array, shape (n, 2) | tuple of two arrays | None
        Extra points ``(p, v)`` in /s and mV, e.g. posterior draws of the
        operating point, drawn as a translucent scatter.
    marks_label : str
        Legend label of ``marks``.
    marks_kw : dict | None
        Keyword arguments for :meth:`~matplotlib.axes.Axes.scatter` of the marks.
    p_lim, v_lim : tuple of float | None
        Axis limits, in /s and mV (default: ``bif.p_range`` and the data).
    legend : bool
        Draw a legend.
    title : str | None
        Axes title.
    figsize : tuple of float
        Size of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from jrfit.utils.check import check_option

    check_option("quantity", quantity, ("v", "frequency"))
    freq = quantity == "frequency"
    fig, ax = _get_ax(ax, figsize)
    handles = []

    # fixed-point branches
    for br in bif.branches:
        for sl, stable in _split_runs(br.stable):
            # extend each run by one sample so runs meet without gaps
            sl2 = slice(sl.start, min(sl.stop + 1, len(br.p)))
            ax.plot(
                br.p[sl2],
                (br.frequency if freq else br.v)[sl2],
                color=_FP_COLOR,
                lw=1.8 if stable else 1.2,
                ls="-" if stable else (0, (4, 2.5)),
                zorder=3,
            )
    handles += [
        Line2D([], [], color=_FP_COLOR, lw=1.8, label="stable fixed point"),
        Line2D([], [], color=_FP_COLOR, lw=1.2, ls=(0, (4, 2.5)), label="unstable fixed point"),
    ]

    kinds_seen = []
    if cycles:
        for cb in bif.cycles:
            color = _CYCLE_COLORS.get(cb.kind, "C2")
            for sl, stable in _split_runs(cb.stable):
                sl2 = slice(sl.start, min(sl.stop + 1, len(cb.p)))
                for env in (cb.frequency,) if freq else (cb.v_max, cb.v_min):
                    ax.plot(
                        cb.p[sl2],
                        env[sl2],
                        color=color,
                        lw=1.6 if stable else 1.1,
                        ls="-" if stable else (0, (4, 2.5)),
                        zorder=2,
                    )
            if cb.kind not in kinds_seen:
                kinds_seen.append(cb.kind)
        if any(not np.all(cb.stable) for cb in bif.cycles):
            handles.append(Line2D([], [], color="0.5", lw=1.1, ls=(0, (4, 2.5)), label="unstable cycle"))
    if simulated:
        for cb in bif.simulated:
            color = _CYCLE_COLORS.get(cb.kind, "C2")
            for env in (cb.frequency,) if freq else (cb.v_max, cb.v_min):
                ax.plot(
                    cb.p[::2],
                    env[::2],
                    ls="none",
                    marker="o",
                    ms=3.2,
                    mfc="none",
                    mec=color,
                    mew=0.8,
                    alpha=0.8,
                    zorder=4,
                )
            if cb.kind not in kinds_seen:
                kinds_seen.append(cb.kind)
        if bif.simulated:
            handles.append(
                Line2D([], [], ls="none", marker="o", ms=3.2, mfc="none", mec="0.3", label="simulated attractor")
            )
    for kind in kinds_seen:
        handles.append(
            Line2D(
                [], [], color=_CYCLE_COLORS.get(kind, "C2"), lw=1.6, label=kind if freq else f"{kind} (max/min of v)"
            )
        )

    # special points
    style = {
        "hopf": dict(marker="s", color="#2ca02c", label="Hopf"),
        "fold": dict(marker="^", color="#9467bd", label="fold (saddle-node)"),
        "fold_cycles": dict(marker="D", color="#ff7f0e", label="fold of cycles"),
    }
    used = set()
    pmin, pmax = bif.p_range if p_lim is None else p_lim
    for k, pt in enumerate(bif.points):
        st = style[pt.kind]
        if freq:
            if not np.isfinite(pt.frequency):
                continue
            vs = [pt.frequency]
        else:
            vs = [pt.v] if pt.kind != "fold_cycles" else [pt.v_max, pt.v_min]
        for v in vs:
            ax.plot(pt.p, v, ls="none", marker=st["marker"], ms=6.5, mfc=st["color"], mec="k", mew=0.6, zorder=6)
        used.add(pt.kind)
        if annotate and pmin <= pt.p <= pmax:
            y = max(vs)
            text = f"{pt.label} {pt.p:.2f}"
            ax.annotate(
                text,
                (pt.p, y),
                xytext=(0, 9 + 9 * (k % 2)),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
                color="0.15",
                zorder=7,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75),
            )
    for kind in ("hopf", "fold", "fold_cycles"):
        if kind in used:
            st = style[kind]
            handles.append(
                Line2D(
                    [], [], ls="none", marker=st["marker"], ms=6.5, mfc=st["color"], mec="k", mew=0.6, label=st["label"]
                )
            )

    if marks is not None and not freq:
        m = marks
        if isinstance(m, tuple) and len(m) == 2:
            mp, mv = (np.ravel(np.asarray(x, float)) for x in m)
        else:
            m = np.asarray(m, float)
            if m.ndim != 2 or m.shape[1] != 2:
                from jrfit.errors import JRFitError

                raise JRFitError(
                    "'marks' must be an array of shape (n, 2) of (p, v) pairs or a tuple "
                    f"(p, v) of two arrays, got shape {m.shape}."
                )
            mp, mv = m[:, 0], m[:, 1]
        kw = dict(s=9, color="#17becf", alpha=0.35, lw=0, zorder=5)
        kw.update(marks_kw or {})
        ax.scatter(mp, mv, **kw)
        handles.append(Line2D([], [], ls="none", marker="o", ms=4, color=kw["color"], label=marks_label))

    ax.set_xlim(pmin, pmax)
    if v_lim is not None:
        ax.set_ylim(*v_lim)
    else:  # head room for the labels
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.08 * (hi - lo))
    ax.set_xlabel("input p (/s)")
    ax.set_ylabel("frequency (Hz)" if freq else "v = y1 - y2 (mV)")
    ax.grid(True, lw=0.4, alpha=0.4)
    ax.axvspan(120, 320, color="0.85", alpha=0.35, lw=0, zorder=0)
    handles.append(Patch(color="0.85", alpha=0.6, label="p of JR 1995 (120-320 /s)"))
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(
            handles=handles,
            fontsize=7.5,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
        )
    return fig


def plot_psd(
    freqs, psd, ax=None, *, label=None, color=None, unit="mV\u00b2/Hz", log=True, title=None, figsize=(6.4, 4.0)
):
    """Plot a power spectral density against frequency (log power by default).

    Parameters
    ----------
    freqs : array, shape (n_freqs,)
        Frequencies, in Hz.
    psd : array, shape (n_freqs,) | (n_spectra, n_freqs)
        One-sided PSD, in ``unit`` (one line per row).
    ax : matplotlib.axes.Axes | None
        Axes to draw in; a new figure if None.
    label : str | list of str | None
        Legend label(s), one per line; no legend if None.
    color : str | None
        Line colour (default: matplotlib's colour cycle).
    unit : str
        Unit of ``psd``, for the axis label (default mV\u00b2/Hz, that of
        :func:`jrfit.model.spectrum.linear_psd`).
    log : bool
        Logarithmic power axis (default True).
    title : str | None
        Axes title.
    figsize : tuple of float
        Size of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from jrfit.errors import JRFitError

    freqs = np.asarray(freqs, float)
    psd = np.asarray(psd, float)
    rows = np.atleast_2d(psd)
    if freqs.ndim != 1 or psd.ndim > 2 or rows.shape[-1] != freqs.size:
        raise JRFitError(
            f"'psd' must have shape (n_freqs,) or (n_spectra, n_freqs) with n_freqs = "
            f"len(freqs) = {freqs.size}; got freqs {freqs.shape} and psd {psd.shape}."
        )
    labels = [label] if isinstance(label, str) or label is None else list(label)
    if len(labels) == 1:
        labels = labels * rows.shape[0]
    if len(labels) != rows.shape[0]:
        raise JRFitError(f"'label' must be one string or one per spectrum ({rows.shape[0]}), got {len(labels)}.")
    fig, ax = _get_ax(ax, figsize)
    for row, lab in zip(rows, labels):
        ax.plot(freqs, row, color=color, lw=1.5, label=lab)
    if log:
        ax.set_yscale("log")
    ax.set_xlim(freqs.min(), freqs.max())
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(f"PSD ({unit})")
    ax.grid(True, which="both" if log else "major", lw=0.4, alpha=0.4)
    if any(lab is not None for lab in labels):
        ax.legend(fontsize=8, frameon=False)
    if title is not None:
        ax.set_title(title)
    return fig


# =============================================================================
# Results of a spectral fit (ArviZ InferenceData; see jrfit.report.html)
#
# The helpers below read one channel out of the result without matplotlib, so
# jrfit.report.html can use them for its tables too.

_RESULT_UNITS = {
    "v": "mV",
    "p": "/s",
    "scale": "1",
    "bg": "mV\u00b2/Hz",
    "chi": "1",
    "floor": "mV\u00b2/Hz",
    "peak_freq": "Hz",
    "damping": "/s",
    "loop_gain_exc": "1",
    "loop_gain_inh": "1",
    "amplitude": "/s",
    "latency": "s",
    "onset": "s",
    "width": "s",
    "gain": "uV/mV",
    "offset": "uV",
    "noise": "uV",
}
_RESULT_MEANING = {
    "v": "operating potential y1 - y2",
    "p": "input to the excitatory interneurons",
    "scale": "JR spectrum scale (absorbs A and \u03c3)",
    "bg": "aperiodic background at 1 Hz",
    "chi": "aperiodic exponent",
    "floor": "white sensor floor",
    "peak_freq": "peak frequency of the JR component",
    "damping": "distance to the stability boundary (> 0: stable)",
    "loop_gain_exc": "DC gain of the excitatory feedback loop, g0 k1 A^2 / a^2",
    "loop_gain_inh": "DC gain of the inhibitory feedback loop, g0 k2 A B / (a b)",
    "amplitude": "peak of the stimulus input pulse",
    "latency": "time of the stimulus pulse's peak",
    "onset": "onset of the stimulus pulse (derived from latency and width)",
    "width": "width of the stimulus pulse",
    "gain": "electrode gain (uV at the electrode per mV of y1 - y2)",
    "offset": "baseline offset",
    "noise": "residual noise added to the trial SE",
}
_OBS_VARS = (
    "v",
    "p",
    "scale",
    "bg",
    "chi",
    "floor",
    "amplitude",
    "latency",
    "onset",
    "width",
    "gain",
    "offset",
    "noise",
)
_DERIVED_VARS = ("peak_freq", "damping", "loop_gain_exc", "loop_gain_inh")
_POST_COLOR = "#1f77b4"
_PRIOR_COLOR = "0.55"
_DATA_COLOR = "0.05"


def _result_error(msg):
    from jrfit.errors import JRFitError

    return JRFitError(msg)


def unit_of(name):
    """Unit of a result variable (JR constants: :data:`jrfit.model.params.PARAM_INFO`)."""
    from jrfit.model.params import PARAM_INFO

    if name in _RESULT_UNITS:
        return _RESULT_UNITS[name]
    if name in PARAM_INFO:
        return PARAM_INFO[name]["unit"]
    return ""


def meaning_of(name):
    from jrfit.model.params import PARAM_INFO

    if name in _RESULT_MEANING:
        return _RESULT_MEANING[name]
    if name in PARAM_INFO:
        return PARAM_INFO[name]["meaning"]
    return ""


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


def _kde(x, grid):
    """Gaussian kernel density of x on grid (Scott's bandwidth); None if degenerate."""
    from scipy.stats import gaussian_kde

    x = x[np.isfinite(x)]
    if x.size < 3 or np.ptp(x) <= 0:
        return None
    try:
        return gaussian_kde(x)(grid)
    except (np.linalg.LinAlgError, ValueError):
        return None


def _grid_axes(n, ncols, panel, axes=None):
    """A figure with n panels in rows of ncols (unused panels hidden)."""
    import matplotlib.pyplot as plt

    if axes is not None:
        axes = np.ravel(axes)
        if axes.size < n:
            raise _result_error(f"'axes' must hold at least {n} Axes, got {axes.size}.")
        return axes[0].figure, axes
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained", squeeze=False
    )
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def plot_psd_fit(idata, channel, ax=None, *, show_peak=True, legend=True, title=None, figsize=(7.2, 4.4)):
    """Plot one channel's data spectrum with the posterior-predictive bands.

    Drawn on a log power axis: the widest, lightest band is the 90 %
    posterior-predictive interval of ``psd`` (model plus the Gamma sampling
    noise of a spectral estimate: about 90 % of the data points should fall
    in it); inside it the 90 % and 50 % intervals of ``psd_mean`` (the
    noise-free model, i.e. the uncertainty of the fit itself) and the median
    fitted spectrum; the data are black. A dotted line marks the posterior
    median of ``peak_freq``.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit (groups ``observed_data`` and, for the bands,
        ``posterior_predictive``).
    channel : str | int
        Channel name or index.
    ax : matplotlib.axes.Axes | None
        Axes to draw in; a new figure if None.
    show_peak : bool
        Mark the posterior median peak frequency (if ``peak_freq`` is in the
        posterior).
    legend : bool
        Draw a legend.
    title : str | None
        Axes title (default: the channel name).
    figsize : tuple of float
        Size of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    ch = _resolve_channel(idata, channel)
    if not hasattr(idata, "observed_data") or "psd" not in idata.observed_data:
        raise _result_error("The result has no observed_data['psd']: nothing to plot.")
    obs = select_channel(idata.observed_data["psd"], ch)
    freqs = np.asarray(obs.coords["freq"].values, float)
    obs = np.asarray(obs.values, float)
    fig, ax = _get_ax(ax, figsize)
    pp = channel_spectra(idata, "psd", ch)
    pm = channel_spectra(idata, "psd_mean", ch)
    if pp is not None:
        lo, hi = np.nanquantile(pp, [0.05, 0.95], axis=0)
        ax.fill_between(
            freqs, lo, hi, color=_POST_COLOR, alpha=0.13, lw=0, label="90 % predictive (model + sampling noise)"
        )
    if pm is not None:
        q = np.nanquantile(pm, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(freqs, q[0], q[4], color=_POST_COLOR, alpha=0.25, lw=0, label="90 % of the fitted model")
        ax.fill_between(freqs, q[1], q[3], color=_POST_COLOR, alpha=0.45, lw=0, label="50 % of the fitted model")
        ax.plot(freqs, q[2], color=_POST_COLOR, lw=2.0, label="median fit", zorder=4)
    # the other route's prediction, where the result carries it (jrfit.inference.routes)
    for var, label, color in (
        ("psd_linear", "linearised model", "#2ca02c"),
        ("psd_simulated", "simulated model", "#ff7f0e"),
    ):
        other = channel_spectra(idata, var, ch)
        if other is not None:
            ax.plot(
                freqs,
                np.nanmedian(other, axis=0),
                ls="--",
                color=color,
                lw=1.5,
                zorder=4,
                label=f"{label} (posterior median)",
            )
    ax.plot(freqs, obs, color=_DATA_COLOR, lw=1.0, marker=".", ms=2.5, label="data", zorder=5)
    pk = channel_draws(idata, "peak_freq", ch)
    if show_peak and pk is not None and np.any(np.isfinite(pk)):
        med = float(np.nanmedian(pk))
        lo, hi = np.nanquantile(pk, [0.05, 0.95])
        if freqs.min() <= med <= freqs.max():
            ax.axvline(
                med, color="#d62728", ls=":", lw=1.2, zorder=3, label=f"peak {med:.2f} Hz (90 %: {lo:.2f}-{hi:.2f})"
            )
    ax.set_yscale("log")
    ax.set_xlim(freqs.min(), freqs.max())
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (mV\u00b2/Hz)")
    ax.grid(True, which="both", lw=0.4, alpha=0.35)
    ax.set_title(ch if title is None else title)
    if legend:
        ax.legend(fontsize=7.5, frameon=True, framealpha=0.85, loc="upper right")
    return fig


def plot_prior_posterior(idata, channel, var_names=None, *, axes=None, ncols=3, panel_size=(3.0, 2.3)):
    """Plot prior and posterior densities of the parameters of one channel.

    Each panel shows the prior (grey, filled; draws of the ``prior`` group)
    and the posterior (blue) density, the posterior median (line), and the
    contraction ``1 - var(posterior) / var(prior)`` in the title: near 1 the
    data determined the parameter, near 0 the prior did.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit.
    channel : str | int
        Channel name or index.
    var_names : list of str | None
        Variables (default: the free JR constants, then v and p).
    axes : array of matplotlib.axes.Axes | None
        One Axes per variable; a new figure if None.
    ncols : int
        Panels per row of a new figure.
    panel_size : tuple of float
        Size of one panel of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
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


def plot_correlation(idata, channel, var_names=None, ax=None, *, title=None, figsize=(5.4, 4.6)):
    """Plot the posterior (Spearman rank) correlation matrix of one channel.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit.
    channel : str | int
        Channel name or index.
    var_names : list of str | None
        Variables (default: the free JR constants, v, p and the observation
        parameters).
    ax : matplotlib.axes.Axes | None
        Axes to draw in; a new figure if None.
    title : str | None
        Axes title.
    figsize : tuple of float
        Size of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
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
    idata : arviz.InferenceData
        Result of a spectral fit.
    channel : str | int
        Channel name or index.
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
    ncols : int
        Panels per row of a new figure.
    panel_size : tuple of float
        Size of one panel of a new figure, in inches.
    seed : int
        Seed of the subset of draws.

    Returns
    -------
    fig : matplotlib.figure.Figure
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
    channel : str | int
        Channel name or index.
    ax : matplotlib.axes.Axes | None
        Axes to draw in; a new figure if None.
    title : str | None
        Axes title.
    figsize : tuple of float
        Size of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
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


def plot_trace(idata, channel, var_names=None, *, axes=None, row_size=(9.0, 1.45)):
    """Trace and rank plots of one channel's posterior, one row per variable.

    Left: the draws of each chain against the iteration (divergent
    transitions as red ticks at the bottom). Right: rank histograms, one per
    chain (ranks of the draws among all chains; Vehtari et al. 2021): for
    well-mixed chains every histogram is flat.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit.
    channel : str | int
        Channel name or index.
    var_names : list of str | None
        Variables (default: the free JR constants, v and p).
    axes : array of matplotlib.axes.Axes, shape (n_vars, 2) | None
        Axes to draw in; a new figure if None.
    row_size : tuple of float
        Size of one row of a new figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
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
        ax_t.set_ylabel(_label(name), fontsize=8)
        ax_t.tick_params(labelsize=7)
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
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("rank (all chains)")
    axes[0, 0].set_title(f"{ch}: traces (red ticks: divergent transitions)", fontsize=9)
    axes[0, 1].set_title("rank histograms (flat = well mixed)", fontsize=9)
    return fig


def plot_posterior_bifurcation(idata, channel, bif, *, max_points=500, zoom=True, seed=0, figsize=(9.0, 8.2)):
    """Posterior operating points (p, v) on the bifurcation diagram.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit (``p`` and ``v`` in the posterior).
    channel : str | int
        Channel name or index.
    bif : Bifurcation
        Diagram of :func:`jrfit.dynamics.bifurcation.bifurcation`, e.g. at the posterior
        median constants of this channel.
    max_points : int
        At most this many draws are drawn (a random subset).
    zoom : bool
        Add a second panel zoomed on the draws.
    seed : int
        Seed of the subset of draws.
    figsize : tuple of float
        Size of the figure, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    ch = _resolve_channel(idata, channel)
    p, v = channel_draws(idata, "p", ch), channel_draws(idata, "v", ch)
    if p is None or v is None:
        raise _result_error("The posterior needs 'p' and 'v' to place the draws on the diagram.")
    ok = np.isfinite(p) & np.isfinite(v)
    p, v = p[ok], v[ok]
    rng = np.random.default_rng(seed)
    keep = rng.choice(p.size, size=min(p.size, int(max_points)), replace=False)
    marks = (p[keep], v[keep])
    n_rows = 2 if zoom and p.size else 1
    fig, axes = plt.subplots(
        n_rows, 1, figsize=(figsize[0], figsize[1] * n_rows / 2), layout="constrained", squeeze=False
    )
    plot_bifurcation(
        bif,
        axes[0, 0],
        marks=marks,
        marks_label=f"posterior (p, v), {ch}",
        title=f"{ch}: bifurcation diagram at the posterior-median constants",
    )
    if n_rows == 2:

        def span(x, frac=0.25, min_width=1.0):
            lo, hi = np.quantile(x, [0.0, 1.0])
            pad = max(frac * (hi - lo), min_width)
            return lo - pad, hi + pad

        plot_bifurcation(
            bif,
            axes[1, 0],
            marks=marks,
            p_lim=span(p, min_width=10.0),
            v_lim=span(v, min_width=0.5),
            legend=False,
            simulated=False,
            title="zoom on the posterior draws",
        )
    return fig


def close_figure(fig):
    """Release a figure made by this module (for jrfit.report.html)."""
    import matplotlib.pyplot as plt

    plt.close(fig)


def save_figure(fig, fname, fmt, dpi=150):
    """Write a figure made by this module to ``fname`` in format ``fmt`` (e.g. 'png'), then release it."""
    try:
        fig.savefig(fname, format=fmt, dpi=dpi)
    finally:
        close_figure(fig)


# =============================================================================
# Networks (jrfit.simulators.network)
def plot_scalp_maps(maps, positions, *, panel=(2.6, 2.5), marked=()):
    """Scalp maps of per-channel summaries (e.g. posterior medians), one panel per quantity.

    Parameters
    ----------
    maps : dict of str to (str, dict)
        Panel title -> (unit, {channel: value}); channels without a finite
        value are left out of that panel.
    positions : dict of str to sequence of float
        Channel -> position (x, y, z) in the head frame, in m (the
        ``channel_positions`` step of a fit's preprocessing record).
    panel : tuple of float
        Size of one panel, in inches.
    marked : sequence of str
        Channels drawn with a red marker (e.g. those that failed a check).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(maps), figsize=(panel[0] * len(maps), panel[1]), layout="constrained", squeeze=False
    )
    try:
        _draw_scalp_maps(fig, axes[0], maps, positions, marked)
    except Exception:
        close_figure(fig)  # no figure left open behind an error
        raise
    return fig


def _draw_scalp_maps(fig, axes, maps, positions, marked):
    import mne

    for ax, (title, (unit, values)) in zip(axes, maps.items()):
        names = [n for n, v in values.items() if n in positions and np.isfinite(v)]
        info = mne.create_info(names, 100.0, "eeg")
        info.set_montage(
            mne.channels.make_dig_montage(
                ch_pos={n: np.asarray(positions[n], float) for n in names}, coord_frame="head"
            )
        )
        mask = np.array([n in marked for n in names])
        data = np.array([values[n] for n in names], float)
        span = (data.min(), data.max()) if data.max() > data.min() else (data.min() - 1.0, data.max() + 1.0)
        im, _ = mne.viz.plot_topomap(
            data,
            info,
            axes=ax,
            show=False,
            contours=0,
            cmap="viridis",
            mask=mask,
            vlim=span,
            extrapolate="local",
            mask_params=dict(marker="o", markerfacecolor="#d62728", markeredgecolor="k", markersize=5),
        )
        fig.colorbar(im, ax=ax, shrink=0.7, label=unit)
        ax.set_title(title, fontsize=9)


def plot_cross_spectrum(
    spectrum, pairs=None, *, regions=None, fmax=None, title=None, reference=None, figsize=(10.0, 3.6)
):
    """PSDs, coherence and phase of a network's cross-spectral matrix.

    Parameters
    ----------
    spectrum : jrfit.simulators.network.CrossSpectrum
        Linearised (:func:`jrfit.simulators.network.linear_cross_spectrum`) or Welch
        (:meth:`jrfit.simulators.network.NetworkSimulation.cross_spectrum`) estimate.
    pairs : list of (region, region) | None
        Pairs (names or indices) whose coherence and phase are drawn.
        Default: the pairs of the first region with the three regions most
        coherent with it at the frequency of its spectral peak.
    regions : list | None
        Regions whose PSD is drawn (default: those in ``pairs``).
    fmax : float | None
        Highest frequency shown, in Hz.
    title : str | None
        Figure title.
    reference : jrfit.simulators.network.CrossSpectrum | None
        A second estimate drawn dashed on the same axes (e.g. the linearised
        spectrum over a simulated one).
    figsize : tuple of float
        Figure size, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Three panels: PSD (mV²/Hz, log), magnitude-squared coherence, and
        phase of ``S_ij`` in rad (positive: j lags i).
    """
    import matplotlib.pyplot as plt

    f = np.asarray(spectrum.freqs)
    sel = f <= (f[-1] if fmax is None else fmax)
    coh = spectrum.coherence()
    if pairs is None:
        i0 = 0
        k = int(np.argmax(np.where(f > 0.5, spectrum.psd[i0], -np.inf)))
        order = [j for j in np.argsort(-coh[i0, :, k]) if j != i0]
        pairs = [(i0, int(j)) for j in order[:3]]
    pairs = [(spectrum._index(a), spectrum._index(b)) for a, b in pairs]
    if regions is None:
        regions = sorted({r for pr in pairs for r in pr})
    regions = [spectrum._index(r) for r in regions]
    names = spectrum.region_names
    fig, axes = plt.subplots(1, 3, figsize=figsize, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, r in enumerate(regions):
        c = colors[n % len(colors)]
        axes[0].plot(f[sel], spectrum.psd[r, sel], color=c, lw=1.3, label=names[r])
        if reference is not None:
            fr = np.asarray(reference.freqs)
            sr = fr <= f[sel][-1]
            axes[0].plot(fr[sr], reference.psd[r, sr], color=c, lw=1.0, ls="--")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("PSD (mV\u00b2/Hz)")
    for n, (a, b) in enumerate(pairs):
        c = colors[n % len(colors)]
        lab = f"{names[a]} \u2013 {names[b]}"
        axes[1].plot(f[sel], coh[a, b, sel], color=c, lw=1.3, label=lab)
        axes[2].plot(f[sel], np.angle(spectrum.csd[a, b, sel]), color=c, lw=1.3, label=lab)
        if reference is not None:
            fr = np.asarray(reference.freqs)
            sr = fr <= f[sel][-1]
            axes[1].plot(fr[sr], reference.coherence()[a, b, sr], color=c, lw=1.0, ls="--")
            axes[2].plot(fr[sr], np.angle(reference.csd[a, b, sr]), color=c, lw=1.0, ls="--")
    axes[1].set_ylim(0, 1.02)
    axes[1].set_ylabel("coherence")
    axes[2].set_ylim(-np.pi, np.pi)
    axes[2].set_ylabel("phase (rad)")
    for ax in axes:
        ax.set_xlabel("frequency (Hz)")
        ax.set_xlim(f[sel][0], f[sel][-1])
        ax.grid(True, lw=0.4, alpha=0.4)
        ax.legend(fontsize=7, frameon=False)
    kind = "linearised" if spectrum.kind == "linear" else "Welch"
    fig.suptitle(title if title is not None else f"network cross-spectrum ({kind})", fontsize=10)
    return fig


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

    Returns
    -------
    fig : matplotlib.figure.Figure
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

    Returns
    -------
    fig : matplotlib.figure.Figure
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
