"""What every figure module of :mod:`jrfit.viz` shares: new axes, panel grids, densities, colours, saving.

Every figure function takes ``ax=None`` (or ``axes=None``; a new figure is made
when None), returns the :class:`matplotlib.figure.Figure` and never calls
``plt.show()``. matplotlib is imported inside the functions, so that importing
:mod:`jrfit.viz` stays cheap.
"""

from __future__ import annotations


import numpy as np

from jrfit.utils.docs import fill_doc
from jrfit.viz.results import _result_error

__all__ = ["close_figure", "save_figure"]

# docstring entries several figures share; ``%(name)s`` in a docstring decorated by _fill_doc
_DOCS = {
    "idata": "idata : arviz.InferenceData\n        Result of a spectral fit.",
    "channel": "channel : str | int\n        Channel name or index.",
    "ax": "ax : matplotlib.axes.Axes | None\n        Axes to draw in; a new figure if None.",
    "grid": (
        "ncols : int\n        Panels per row of a new figure.\n"
        "    panel_size : tuple of float\n        Size of one panel of a new figure, in inches."
    ),
    "title": "title : str | None\n        Axes title.",
    "figsize": "figsize : tuple of float\n        Size of a new figure, in inches.",
    "returns_fig": "Returns\n    -------\n    fig : matplotlib.figure.Figure",
}
_POST_COLOR = "#1f77b4"
_PRIOR_COLOR = "0.55"
_DATA_COLOR = "0.05"


_fill_doc = fill_doc(_DOCS, indent=False)  # each ``%(name)s`` -> the shared entry ``_DOCS[name]``


def _get_ax(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


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


def close_figure(fig):
    """Release a figure made by :mod:`jrfit.viz` (for :mod:`jrfit.report`)."""
    import matplotlib.pyplot as plt

    plt.close(fig)


def save_figure(fig, fname, fmt, dpi=150):
    """Write a figure made by :mod:`jrfit.viz` to ``fname`` in format ``fmt`` (e.g. 'png'), then release it."""
    try:
        fig.savefig(fname, format=fmt, dpi=dpi)
    finally:
        close_figure(fig)
