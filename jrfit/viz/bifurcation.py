"""Bifurcation diagrams (:mod:`jrfit.dynamics.bifurcation`), alone or with a fit's posterior operating points."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _fill_doc, _get_ax
from jrfit.viz.results import _resolve_channel, _result_error, channel_draws

__all__ = ["plot_bifurcation", "plot_posterior_bifurcation"]

_CYCLE_COLORS = {"alpha limit cycle": "#1f77b4", "spike-like cycle": "#d62728"}
_FP_COLOR = "0.1"
_DASHED = (0, (4, 2.5))
# markers of the special points: Hopf (squares), folds (triangles), folds of cycles (diamonds)
_POINT_STYLE = {
    "hopf": dict(marker="s", color="#2ca02c", label="Hopf"),
    "fold": dict(marker="^", color="#9467bd", label="fold (saddle-node)"),
    "fold_cycles": dict(marker="D", color="#ff7f0e", label="fold of cycles"),
}


def _split_runs(mask):
    """Slices of consecutive equal values of a boolean array."""
    out, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            out.append((slice(start, i), bool(mask[start])))
            start = i
    return out


def _runs_joined(stable, n):
    """(slice, stable) of each run of equal stability, each extended by one sample so runs meet without gaps."""
    return [(slice(sl.start, min(sl.stop + 1, n)), st) for sl, st in _split_runs(stable)]


@_fill_doc
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
    %(ax)s
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
    %(title)s
    %(figsize)s

    %(returns_fig)s
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from jrfit.utils.check import check_option

    check_option("quantity", quantity, ("v", "frequency"))
    freq = quantity == "frequency"
    fig, ax = _get_ax(ax, figsize)
    handles = _draw_fixed_points(ax, bif, freq)
    kinds_seen = []
    if cycles:
        handles += _draw_cycles(ax, bif, freq, kinds_seen)
    if simulated:
        handles += _draw_simulated(ax, bif, freq, kinds_seen)
    for kind in kinds_seen:
        handles.append(
            Line2D(
                [], [], color=_CYCLE_COLORS.get(kind, "C2"), lw=1.6, label=kind if freq else f"{kind} (max/min of v)"
            )
        )
    p_lim = bif.p_range if p_lim is None else p_lim
    handles += _draw_special_points(ax, bif, freq, annotate, p_lim)
    if marks is not None and not freq:
        handles.append(_draw_marks(ax, marks, marks_label, marks_kw))

    ax.set_xlim(*p_lim)
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


def _draw_fixed_points(ax, bif, freq):
    """Fixed-point branches (solid where stable, dashed where not); their legend handles."""
    from matplotlib.lines import Line2D

    for br in bif.branches:
        for sl, stable in _runs_joined(br.stable, len(br.p)):
            ax.plot(
                br.p[sl],
                (br.frequency if freq else br.v)[sl],
                color=_FP_COLOR,
                lw=1.8 if stable else 1.2,
                ls="-" if stable else _DASHED,
                zorder=3,
            )
    return [
        Line2D([], [], color=_FP_COLOR, lw=1.8, label="stable fixed point"),
        Line2D([], [], color=_FP_COLOR, lw=1.2, ls=_DASHED, label="unstable fixed point"),
    ]


def _envelopes(cb, freq):
    """What is drawn of a cycle branch: its frequency (Hz), or the max and min of v over a period (mV)."""
    return (cb.frequency,) if freq else (cb.v_max, cb.v_min)


def _draw_cycles(ax, bif, freq, kinds_seen):
    """Continued limit-cycle branches in the colour of their kind; adds the kinds to ``kinds_seen``."""
    from matplotlib.lines import Line2D

    for cb in bif.cycles:
        color = _CYCLE_COLORS.get(cb.kind, "C2")
        for sl, stable in _runs_joined(cb.stable, len(cb.p)):
            for env in _envelopes(cb, freq):
                ax.plot(
                    cb.p[sl], env[sl], color=color, lw=1.6 if stable else 1.1, ls="-" if stable else _DASHED, zorder=2
                )
        if cb.kind not in kinds_seen:
            kinds_seen.append(cb.kind)
    if any(not np.all(cb.stable) for cb in bif.cycles):
        return [Line2D([], [], color="0.5", lw=1.1, ls=_DASHED, label="unstable cycle")]
    return []


def _draw_simulated(ax, bif, freq, kinds_seen):
    """Attractors found by simulation (open circles, every second grid point); adds their kinds to ``kinds_seen``."""
    from matplotlib.lines import Line2D

    for cb in bif.simulated:
        color = _CYCLE_COLORS.get(cb.kind, "C2")
        for env in _envelopes(cb, freq):
            ax.plot(
                cb.p[::2], env[::2], ls="none", marker="o", ms=3.2, mfc="none", mec=color, mew=0.8, alpha=0.8, zorder=4
            )
        if cb.kind not in kinds_seen:
            kinds_seen.append(cb.kind)
    if bif.simulated:
        return [Line2D([], [], ls="none", marker="o", ms=3.2, mfc="none", mec="0.3", label="simulated attractor")]
    return []


def _draw_special_points(ax, bif, freq, annotate, p_lim):
    """Hopf points, folds and folds of cycles, labelled with their p (in /s) inside ``p_lim``; their legend handles."""
    from matplotlib.lines import Line2D

    used = set()
    for k, pt in enumerate(bif.points):
        st = _POINT_STYLE[pt.kind]
        if freq:
            if not np.isfinite(pt.frequency):
                continue
            vs = [pt.frequency]
        else:
            vs = [pt.v] if pt.kind != "fold_cycles" else [pt.v_max, pt.v_min]
        for v in vs:
            ax.plot(pt.p, v, ls="none", marker=st["marker"], ms=6.5, mfc=st["color"], mec="k", mew=0.6, zorder=6)
        used.add(pt.kind)
        if annotate and p_lim[0] <= pt.p <= p_lim[1]:
            ax.annotate(
                f"{pt.label} {pt.p:.2f}",
                (pt.p, max(vs)),
                xytext=(0, 9 + 9 * (k % 2)),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
                color="0.15",
                zorder=7,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75),
            )
    return [
        Line2D([], [], ls="none", marker=st["marker"], ms=6.5, mfc=st["color"], mec="k", mew=0.6, label=st["label"])
        for kind, st in _POINT_STYLE.items()
        if kind in used
    ]


def _draw_marks(ax, marks, marks_label, marks_kw):
    """Extra (p, v) points as a translucent scatter, in /s and mV; their legend handle."""
    from matplotlib.lines import Line2D

    if isinstance(marks, tuple) and len(marks) == 2:
        mp, mv = (np.ravel(np.asarray(x, float)) for x in marks)
    else:
        m = np.asarray(marks, float)
        if m.ndim != 2 or m.shape[1] != 2:
            raise _result_error(
                "'marks' must be an array of shape (n, 2) of (p, v) pairs or a tuple "
                f"(p, v) of two arrays, got shape {m.shape}."
            )
        mp, mv = m[:, 0], m[:, 1]
    kw = dict(s=9, color="#17becf", alpha=0.35, lw=0, zorder=5)
    kw.update(marks_kw or {})
    ax.scatter(mp, mv, **kw)
    return Line2D([], [], ls="none", marker="o", ms=4, color=kw["color"], label=marks_label)


@_fill_doc
def plot_posterior_bifurcation(idata, channel, bif, *, max_points=500, zoom=True, seed=0, figsize=(9.0, 8.2)):
    """Posterior operating points (p, v) on the bifurcation diagram.

    Parameters
    ----------
    idata : arviz.InferenceData
        Result of a spectral fit (``p`` and ``v`` in the posterior).
    %(channel)s
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

    %(returns_fig)s
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
