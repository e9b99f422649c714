"""Figures. matplotlib is imported here and nowhere else in jrfit.

Every function takes ``ax=None`` (a new figure is made when None), returns the
:class:`matplotlib.figure.Figure` and never calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_bifurcation", "plot_psd"]

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


def plot_bifurcation(bif, ax=None, *, quantity="v", cycles=True, simulated=True, annotate=True,
                     marks=None, marks_label="posterior draws", marks_kw=None,
                     p_lim=None, v_lim=None, legend=True, title=None, figsize=(9.0, 4.8)):
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
        Result of :func:`jrfit.dynamics.bifurcation`.
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

    from ._check import check_option

    check_option("quantity", quantity, ("v", "frequency"))
    freq = quantity == "frequency"
    fig, ax = _get_ax(ax, figsize)
    handles = []

    # fixed-point branches
    for br in bif.branches:
        for sl, stable in _split_runs(br.stable):
            # extend each run by one sample so runs meet without gaps
            sl2 = slice(sl.start, min(sl.stop + 1, len(br.p)))
            ax.plot(br.p[sl2], (br.frequency if freq else br.v)[sl2], color=_FP_COLOR, lw=1.8 if stable else 1.2,
                    ls="-" if stable else (0, (4, 2.5)), zorder=3)
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
                for env in ((cb.frequency,) if freq else (cb.v_max, cb.v_min)):
                    ax.plot(cb.p[sl2], env[sl2], color=color, lw=1.6 if stable else 1.1,
                            ls="-" if stable else (0, (4, 2.5)), zorder=2)
            if cb.kind not in kinds_seen:
                kinds_seen.append(cb.kind)
        if any(not np.all(cb.stable) for cb in bif.cycles):
            handles.append(Line2D([], [], color="0.5", lw=1.1, ls=(0, (4, 2.5)),
                                  label="unstable cycle"))
    if simulated:
        for cb in bif.simulated:
            color = _CYCLE_COLORS.get(cb.kind, "C2")
            for env in ((cb.frequency,) if freq else (cb.v_max, cb.v_min)):
                ax.plot(cb.p[::2], env[::2], ls="none", marker="o", ms=3.2, mfc="none",
                        mec=color, mew=0.8, alpha=0.8, zorder=4)
            if cb.kind not in kinds_seen:
                kinds_seen.append(cb.kind)
        if bif.simulated:
            handles.append(Line2D([], [], ls="none", marker="o", ms=3.2, mfc="none", mec="0.3",
                                  label="simulated attractor"))
    for kind in kinds_seen:
        handles.append(Line2D([], [], color=_CYCLE_COLORS.get(kind, "C2"), lw=1.6,
                              label=kind if freq else f"{kind} (max/min of v)"))

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
            ax.plot(pt.p, v, ls="none", marker=st["marker"], ms=6.5, mfc=st["color"],
                    mec="k", mew=0.6, zorder=6)
        used.add(pt.kind)
        if annotate and pmin <= pt.p <= pmax:
            y = max(vs)
            text = f"{pt.label} {pt.p:.2f}"
            ax.annotate(text, (pt.p, y), xytext=(0, 9 + 9 * (k % 2)), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, color="0.15", zorder=7,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
    for kind in ("hopf", "fold", "fold_cycles"):
        if kind in used:
            st = style[kind]
            handles.append(Line2D([], [], ls="none", marker=st["marker"], ms=6.5, mfc=st["color"],
                                  mec="k", mew=0.6, label=st["label"]))

    if marks is not None and not freq:
        m = marks
        if isinstance(m, tuple) and len(m) == 2:
            mp, mv = (np.ravel(np.asarray(x, float)) for x in m)
        else:
            m = np.asarray(m, float)
            if m.ndim != 2 or m.shape[1] != 2:
                from .errors import JRFitError

                raise JRFitError(
                    "'marks' must be an array of shape (n, 2) of (p, v) pairs or a tuple "
                    f"(p, v) of two arrays, got shape {m.shape}."
                )
            mp, mv = m[:, 0], m[:, 1]
        kw = dict(s=9, color="#17becf", alpha=0.35, lw=0, zorder=5)
        kw.update(marks_kw or {})
        ax.scatter(mp, mv, **kw)
        handles.append(Line2D([], [], ls="none", marker="o", ms=4, color=kw["color"],
                              label=marks_label))

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
        ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, frameon=False)
    return fig


def plot_psd(freqs, psd, ax=None, *, label=None, color=None, unit="mV\u00b2/Hz", log=True,
             title=None, figsize=(6.4, 4.0)):
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
        :func:`jrfit.spectrum.linear_psd`).
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
    from .errors import JRFitError

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
        raise JRFitError(
            f"'label' must be one string or one per spectrum ({rows.shape[0]}), got {len(labels)}."
        )
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
