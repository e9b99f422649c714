"""Scalp maps of per-channel summaries of a fit (e.g. posterior medians), drawn with MNE's topomaps."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _fill_doc, close_figure

__all__ = ["plot_scalp_maps"]


@_fill_doc
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

    %(returns_fig)s
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
