"""Figures (stage 6, with :mod:`jrfit.report`). matplotlib is imported here and in the report only.

One module per family of figures: :mod:`~jrfit.viz.bifurcation` (diagrams),
:mod:`~jrfit.viz.spectra` (PSDs and spectral fits), :mod:`~jrfit.viz.posterior`
(prior against posterior, correlations, pairs, stability, traces),
:mod:`~jrfit.viz.erp` (evoked-response fits), :mod:`~jrfit.viz.network`
(cross-spectra) and :mod:`~jrfit.viz.scalp` (scalp maps);
:mod:`~jrfit.viz.results` reads a fit result without matplotlib (for the
report's tables too) and :mod:`~jrfit.viz.common` holds what the figures share.
"""

from jrfit.viz.bifurcation import plot_bifurcation, plot_posterior_bifurcation
from jrfit.viz.common import save_figure
from jrfit.viz.erp import plot_condition_comparison, plot_erp_fit
from jrfit.viz.network import plot_cross_spectrum
from jrfit.viz.posterior import plot_correlation, plot_pair, plot_prior_posterior, plot_stability, plot_trace
from jrfit.viz.scalp import plot_scalp_maps
from jrfit.viz.spectra import plot_psd, plot_psd_fit

__all__ = [
    "plot_bifurcation",
    "plot_psd",
    "plot_psd_fit",
    "plot_prior_posterior",
    "plot_correlation",
    "plot_pair",
    "plot_stability",
    "plot_trace",
    "plot_posterior_bifurcation",
    "save_figure",
    "plot_scalp_maps",
    "plot_cross_spectrum",
    "plot_erp_fit",
    "plot_condition_comparison",
]
