"""(b)-(g) The section of one channel of a spectral fit.

Its verdicts, the spectrum and fit, the parameter table; then, in full detail,
prior against posterior, the correlations and pairs, the dynamics
(:mod:`jrfit.report.dynamics`), the diagnostics and the traces.
"""

from __future__ import annotations

import numpy as np

from jrfit import viz
from jrfit.report.dynamics import _add_dynamics
from jrfit.report.markup import _esc, _tag
from jrfit.report.record import _per_fit
from jrfit.report.sections import (
    _add_diagnostics,
    _add_pairs,
    _add_prior_posterior,
    _add_verdicts,
    _most_correlated,
    _param_table,
    _Section,
)
from jrfit.report.verdicts import _status
from jrfit.viz.results import channel_draws, channel_spectra, fit_free_params, resolve_var_names, select_channel

_TRACES_CAPTION = (
    "Traces of each chain (divergent transitions: red ticks) and rank histograms; "
    "chains that mix well overlap in the traces and have flat rank histograms."
)


def _add_channel(rep, idata, ch, attrs, diag, add_fig, cycles, detail="full"):
    """One channel's section; ``detail='compact'`` stops after the parameters (traces only for a failed sampler)."""
    sec = _Section(rep, add_fig, f"Channel {ch}", (_tag(ch),), prefix=ch, label=ch)
    status, d = _status(diag, ch)
    _add_verdicts(sec, status, d, _per_fit(attrs, "adequacy").get(ch))

    # (b) spectrum and fit
    fig = viz.plot_psd_fit(idata, ch, title=f"{ch}: data and posterior predictive ({status})")
    sec.figure(fig, "spectrum and fit", _fit_caption(idata, ch))

    # (c) parameters
    sec.html(_param_table(idata, ch), "parameters")
    if detail == "compact":
        _add_diagnostics(sec, idata, ch, status, d, _trace_vars(idata) if status != "PASS" else None, _TRACES_CAPTION)
        return

    # (d) prior vs posterior
    _add_prior_posterior(sec, idata, ch, _prior_caption(idata, ch))

    # (e) correlations
    pairs = _most_correlated(idata, ch)
    if pairs is not None:
        sec.figure(
            viz.plot_correlation(idata, ch),
            "posterior correlations",
            "Spearman rank correlations between the posterior draws (unchanged by log transforms).",
        )
        _add_pairs(sec, idata, ch, pairs, "Posterior draws of the most correlated pairs (colour: chain).")
        sec.html(_correlation_text(pairs), "identifiability")

    # (f) dynamics
    _add_dynamics(sec, idata, ch, attrs, cycles)

    # (g) diagnostics
    _add_diagnostics(sec, idata, ch, status, d, _trace_vars(idata), _TRACES_CAPTION)


def _trace_vars(idata):
    """Variables of the trace plot: four free constants, v and p."""
    return fit_free_params(idata)[:4] + [n for n in ("v", "p") if n in idata.posterior]


def _prior_caption(idata, ch):
    """Caption of prior against posterior: what contraction means, or that the result holds no prior draws."""
    shown = resolve_var_names(idata, None)
    with_prior = [n for n in shown if channel_draws(idata, n, ch, group="prior") is not None]
    caption = (
        (
            "Prior (grey) and posterior (blue) densities; dashed line: posterior median. Contraction "
            "= 1 - var(posterior)/var(prior): near 1 the spectrum determined the parameter, near 0 "
            "it is held by its prior."
        )
        if with_prior
        else (
            "Posterior densities (blue); dashed line: posterior median. The result holds no prior draws, "
            "so priors are not drawn (their definitions are under Provenance)."
        )
    )
    if with_prior and len(with_prior) < len(shown):
        caption += f" No prior draws for {', '.join(n for n in shown if n not in with_prior)}."
    return caption


def _fit_caption(idata, ch):
    obs = np.asarray(select_channel(idata.observed_data["psd"], ch).values, float)
    pp = channel_spectra(idata, "psd", ch)
    text = "Black: the data."
    if channel_spectra(idata, "psd_mean", ch) is not None:
        text += (
            " Blue line: median of the fitted (noise-free) model; dark and light blue bands: its 50 % "
            "and 90 % posterior intervals."
        )
    if pp is not None:
        text += (
            " Lightest band: 90 % posterior-predictive interval including the sampling noise of a spectral estimate."
        )
    others = [
        label
        for var, label in (
            ("psd_linear", "green: the linearised model"),
            ("psd_simulated", "orange: the simulated model"),
        )
        if channel_spectra(idata, var, ch) is not None
    ]
    if others:
        text += f" Dashed ({'; '.join(others)}): the other route's posterior median."
    if pp is not None:
        lo, hi = np.nanquantile(pp, [0.05, 0.95], axis=0)
        cover = float(np.mean((obs >= lo) & (obs <= hi)))
        text += (
            f" {100 * cover:.0f} % of the data points lie in the 90 % predictive band "
            "(a well-calibrated fit: about 90 %; much less means misfit, much more an "
            "overestimated noise level)."
        )
    else:
        text += " (No posterior-predictive samples in the result.)"
    return text


def _correlation_text(pairs):
    def strength(r):
        a = abs(r)
        return "strong" if a >= 0.8 else "moderate" if a >= 0.5 else "weak"

    items = "".join(
        f"<li><b>{_esc(x)}</b> and <b>{_esc(y)}</b>: r = {r:+.2f} ({strength(r)})</li>" for x, y, r in pairs
    )
    return (
        f"<p>Most correlated pairs:</p><ul>{items}</ul>"
        "<p>A strong correlation means the spectrum constrains a combination of the two "
        "parameters rather than each one, so their separate intervals overstate what is known "
        "(docs/model.md, section 6). The linearised spectrum of one column depends on five "
        "combinations only: the rate constants a and b, two loop gains and the input scale. "
        "A and the noise intensity \u03c3 are exactly degenerate with the overall scale (they "
        "are fixed and <code>scale</code> absorbs them); B, C and p trade off against each "
        "other along the loop gains and are held mainly by their priors (compare their "
        "contraction above). Correlations are a property of the model, not a sampler "
        "failure, but strong curved ridges slow the chains down (low ESS).</p>"
    )
