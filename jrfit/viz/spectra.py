"""Power spectra: a PSD on its own, and a spectral fit's data against its posterior-predictive bands."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _DATA_COLOR, _POST_COLOR, _fill_doc, _get_ax
from jrfit.viz.results import _resolve_channel, _result_error, channel_draws, channel_spectra, select_channel

__all__ = ["plot_psd", "plot_psd_fit"]

# the other route's prediction, where the result carries it (jrfit.inference.routes): variable, label, colour
_OTHER_ROUTES = (
    ("psd_linear", "linearised model", "#2ca02c"),
    ("psd_simulated", "simulated model", "#ff7f0e"),
)


@_fill_doc
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
    %(ax)s
    label : str | list of str | None
        Legend label(s), one per line; no legend if None.
    color : str | None
        Line colour (default: matplotlib's colour cycle).
    unit : str
        Unit of ``psd``, for the axis label (default mV\u00b2/Hz, that of
        :func:`jrfit.model.spectrum.linear_psd`).
    log : bool
        Logarithmic power axis (default True).
    %(title)s
    %(figsize)s

    %(returns_fig)s
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


@_fill_doc
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
    %(channel)s
    %(ax)s
    show_peak : bool
        Mark the posterior median peak frequency (if ``peak_freq`` is in the
        posterior).
    legend : bool
        Draw a legend.
    title : str | None
        Axes title (default: the channel name).
    %(figsize)s

    %(returns_fig)s
    """
    ch = _resolve_channel(idata, channel)
    if not hasattr(idata, "observed_data") or "psd" not in idata.observed_data:
        raise _result_error("The result has no observed_data['psd']: nothing to plot.")
    obs = select_channel(idata.observed_data["psd"], ch)
    freqs = np.asarray(obs.coords["freq"].values, float)
    obs = np.asarray(obs.values, float)
    fig, ax = _get_ax(ax, figsize)
    _draw_bands(ax, idata, ch, freqs)
    ax.plot(freqs, obs, color=_DATA_COLOR, lw=1.0, marker=".", ms=2.5, label="data", zorder=5)
    if show_peak:
        _mark_peak(ax, channel_draws(idata, "peak_freq", ch), freqs)
    ax.set_yscale("log")
    ax.set_xlim(freqs.min(), freqs.max())
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (mV\u00b2/Hz)")
    ax.grid(True, which="both", lw=0.4, alpha=0.35)
    ax.set_title(ch if title is None else title)
    if legend:
        ax.legend(fontsize=7.5, frameon=True, framealpha=0.85, loc="upper right")
    return fig


def _draw_bands(ax, idata, ch, freqs):
    """The predictive band, the fitted model's 90 % and 50 % bands and median, and the other route's median."""
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
    for var, label, color in _OTHER_ROUTES:
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


def _mark_peak(ax, pk, freqs):
    """A dotted line at the posterior median peak frequency ``pk`` (draws, in Hz), inside the plotted band."""
    if pk is not None and np.any(np.isfinite(pk)):
        med = float(np.nanmedian(pk))
        lo, hi = np.nanquantile(pk, [0.05, 0.95])
        if freqs.min() <= med <= freqs.max():
            ax.axvline(
                med, color="#d62728", ls=":", lw=1.2, zorder=3, label=f"peak {med:.2f} Hz (90 %: {lo:.2f}-{hi:.2f})"
            )
