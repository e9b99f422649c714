"""Networks of columns (:mod:`jrfit.model.network`): PSDs, coherence and phase of a cross-spectrum."""

from __future__ import annotations

import numpy as np

from jrfit.viz.common import _fill_doc

__all__ = ["plot_cross_spectrum"]


@_fill_doc
def plot_cross_spectrum(
    spectrum, pairs=None, *, regions=None, fmax=None, title=None, reference=None, figsize=(10.0, 3.6)
):
    """PSDs, coherence and phase of a network's cross-spectral matrix.

    Parameters
    ----------
    spectrum : jrfit.model.network.CrossSpectrum
        Linearised (:func:`jrfit.model.network.linear_cross_spectrum`) or Welch
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
    reference : jrfit.model.network.CrossSpectrum | None
        A second estimate drawn dashed on the same axes (e.g. the linearised
        spectrum over a simulated one).
    figsize : tuple of float
        Figure size, in inches.

    %(returns_fig)s
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
