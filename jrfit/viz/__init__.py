"""Figures (stage 6, with :mod:`jrfit.report`). matplotlib is imported here and in the report only."""

from jrfit.viz.figures import (
    plot_bifurcation,
    plot_psd,
    plot_psd_fit,
    plot_prior_posterior,
    plot_correlation,
    plot_pair,
    plot_stability,
    plot_trace,
    plot_posterior_bifurcation,
    save_figure,
    plot_scalp_maps,
    plot_cross_spectrum,
    plot_erp_fit,
    plot_condition_comparison,
)

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
