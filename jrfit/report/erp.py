"""Evoked-response fits: the summary, the conditions side by side, and the sections of each (condition, channel).

Each condition is shown through a view shaped like a per-channel result
(:func:`jrfit.report.record._erp_view`), so the spectral report's tables and
figures apply unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np

from jrfit import viz
from jrfit.report.dynamics import _add_dynamics
from jrfit.report.markup import _esc, _fmt, _float, _interval, _main_regime, _table, _tag
from jrfit.report.record import _json_attr, _per_fit
from jrfit.report.sections import (
    _add_diagnostics,
    _add_pairs,
    _add_prior_posterior,
    _add_summary_html,
    _add_verdicts,
    _meta_rows,
    _most_correlated,
    _param_table,
    _Section,
    _SummarySpec,
)
from jrfit.report.verdicts import _status, _verdict_cells
from jrfit.viz.results import channel_draws, fit_free_params, select_channel, unit_of

_HEADER = [
    "condition",
    "channel",
    "sampler",
    "model vs data",
    "R\u00b2 (median fit)",
    "onset (ms), median [90 %]",
    "gain (uV/mV), median [90 %]",
    "linearised vs nonlinear (rel. L2)",
    "most probable regime",
]
_GUIDE = (
    "<p><em>How to read this report.</em> Each condition and channel was fitted separately: "
    "a Jansen-Rit column at rest at its operating point receives the stimulus pulse shown "
    "below each fit, and its nonlinear response y1 - y2 (relative to rest), times an "
    "electrode gain plus an offset, was fitted to the averaged ERP by NUTS with a Gaussian "
    "likelihood whose standard deviation is the trial standard error (plus a residual "
    "noise term) and whose standardised residuals are correlated in time as the noise of the "
    "average, measured from the trials (or the baseline) with the standard error. Intervals are "
    "central 90 % posterior intervals. "
    "<code>linearised vs nonlinear</code> is the relative L2 distance between the "
    "linearised response (impulse response of H convolved with the pulse) and the "
    "nonlinear one at the posterior median: large values mean the linear approximation "
    "would have misfitted this ERP. Two verdicts per fit: <em>sampler</em> (did the chains "
    "converge: a FAIL means the numbers are not trustworthy) and <em>model vs data</em> (do the data "
    "lie within what the fitted column predicts: a MISFIT means the parameters describe the best "
    "single-column approximation of a response the column does not produce).</p>"
)


def _add_erp_summary(rep, idata, views, conds, channels, attrs, source):
    """The summary: facts, both verdicts of every (condition, channel) fit, the overview table and the guide."""
    se_method = _json_attr(attrs, "se_method", {})
    trials = ", ".join(
        f"{c} ({int(n)} trials, SE from {se_method.get(c, 'n/a')})"
        for c, n in zip(conds, idata.constant_data["n_trials"].values)
    )
    specific = [
        ("conditions", trials),
        ("channels", ", ".join(channels)),
        ("window", f"{_fmt(attrs.get('tmin'))} to {_fmt(attrs.get('tmax'))} s"),
        ("forward model", attrs.get("forward_model", "n/a")),
        ("stimulus pulse", attrs.get("pulse_shape", "n/a")),
    ]
    free_note = " (the rest potential v: solved at the input at rest, held, or free; see Priors)"
    fits, rows = [], []
    for c in conds:
        view = views[c]
        diag = _json_attr(view.attrs, "diagnostics", {})
        lin, regimes, adequacy = (_per_fit(view.attrs, k) for k in ("linear_vs_nonlinear", "regime", "adequacy"))
        for ch in channels:
            status, d = _status(diag, ch)
            fits.append((f"{c} / {ch}", (status, d), adequacy.get(ch)))
            li = lin.get(ch, {})
            rows.append(
                [
                    _esc(c),
                    _esc(ch),
                    *_verdict_cells(status, adequacy.get(ch)),
                    _esc(_fmt(li.get("r2"), 3)),
                    _esc(_interval(1e3 * channel_draws(view, "onset", ch), 3)),
                    _esc(_interval(channel_draws(view, "gain", ch), 3)),
                    _esc(f"{100 * _float(li.get('rel_l2')):.1f} %"),
                    _esc(_main_regime(regimes.get(ch))),
                ]
            )
    spec = _SummarySpec(
        noun="fit",
        meta=_meta_rows(idata, attrs, source, specific, free_note),
        fits=fits,
        header=_HEADER,
        rows=rows,
        guide=_GUIDE,
        adequacy_title="Model against data",
        overview_title="Fits",
        erp=True,
        warn_unchecked=False,
    )
    _add_summary_html(_Section(rep, None, "Summary", ("summary",)), spec)


def _add_erp_comparison(rep, idata, conds, channels, add_fig):
    """Side-by-side posteriors of two or more conditions, per channel."""
    names = fit_free_params(idata) + [
        n
        for n in ("v", "p", "amplitude", "latency", "onset", "width", "gain")
        if n in idata.posterior and np.ptp(idata.posterior[n].values) > 0
    ]
    section = "Conditions compared"
    for ch in channels:
        rows = []
        for n in names:
            cells = [f"<b>{_esc(n)}</b> ({_esc(unit_of(n))})"]
            draws = [
                np.asarray(select_channel(idata.posterior[n].sel(condition=c), ch).values, float).ravel() for c in conds
            ]
            cells += [_esc(_interval(x, 4)) for x in draws]
            # probability that the first condition's value exceeds the second's
            a, b = draws[0], draws[1]
            m = min(a.size, b.size)
            cells.append(_fmt(float(np.mean(a[:m] > b[:m])), 3))
            rows.append(cells)
        table = _table(
            ["parameter"] + [f"{c}: median [90 %]" for c in conds] + [f"P({conds[0]} > {conds[1]})"], rows, raw=True
        )
        rep.add_html(
            table + "<p><small>P(...) compares independent posterior draws of the two "
            "fits; values near 0 or 1 mean the conditions differ in that parameter.</small></p>",
            title=f"{ch}: conditions side by side",
            section=section,
            tags=(_tag(ch), "compare"),
        )
        fig = viz.plot_condition_comparison(idata, ch, names)
        add_fig(
            fig,
            f"{ch}: posteriors by condition",
            "Posterior densities of each condition.",
            section,
            (_tag(ch), "compare"),
        )


def _add_erp_channel(rep, view, cond, ch, attrs, diag, add_fig, cycles):
    """The section of one (condition, channel) fit; ``view`` is the condition's view of the result."""
    sec = _Section(
        rep, add_fig, f"{cond} / {ch}", (_tag(ch), _tag(cond)), prefix=f"{cond}/{ch}", label=f"{cond} / {ch}"
    )
    status, d = _status(diag, ch)
    _add_verdicts(sec, status, d, _per_fit(attrs, "adequacy").get(ch), erp=True)
    fig = viz.plot_erp_fit(view, ch, cond, title=f"{cond} / {ch}: data and posterior predictive ({status})")
    _overlay_stochastic(fig, view, ch, attrs)
    sec.figure(fig, "ERP and fit", _erp_caption(view, ch, attrs))
    sec.html(_param_table(view, ch), "parameters")
    _add_prior_posterior(
        sec,
        view,
        ch,
        (
            "Prior (grey) and posterior (blue) densities; dashed line: posterior median. Contraction "
            "= 1 - var(posterior)/var(prior): near 1 the ERP determined the parameter, near 0 it is "
            "held by its prior."
        ),
    )
    pairs = _most_correlated(view, ch)
    if pairs is not None:
        _add_pairs(
            sec,
            view,
            ch,
            pairs,
            (
                "Posterior draws of the most correlated pairs (colour: chain). Gain, pulse amplitude "
                "and the synaptic gains trade off: the ERP's size constrains their product."
            ),
        )
    _add_dynamics(
        dataclasses.replace(sec, prefix=ch), view, ch, attrs, cycles
    )  # titled by channel, as in a spectral fit
    trace_vars = fit_free_params(view)[:3] + [n for n in ("v", "onset", "gain") if n in view.posterior]
    _add_diagnostics(
        sec,
        view,
        ch,
        status,
        d,
        trace_vars,
        "Traces of each chain (divergent transitions: red ticks) and rank histograms.",
    )


def _overlay_stochastic(fig, view, ch, attrs):
    """The stochastic column's trial average (recorded by the fit, in uV) over the ERP figure, dashed orange."""
    stoch = _json_attr(attrs, "stochastic_check", {}).get(ch, {})
    if stoch.get("stochastic_uv"):
        off = float(np.median(channel_draws(view, "offset", ch)))
        t_ms = 1e3 * np.asarray(view.observed_data.coords["time"].values, float)
        fig.axes[0].plot(
            t_ms,
            np.asarray(stoch["stochastic_uv"]) + off,
            ls="--",
            color="#ff7f0e",
            lw=1.2,
            label="stochastic trial average",
        )
        fig.axes[0].legend(fontsize="small", frameon=False, ncol=2)


def _erp_caption(view, ch, attrs):
    lin = _json_attr(attrs, "linear_vs_nonlinear", {}).get(ch, {})
    stoch = _json_attr(attrs, "stochastic_check", {}).get(ch, {})
    y = np.asarray(select_channel(view.observed_data["erp"], ch).values, float)
    pp = np.asarray(select_channel(view.posterior_predictive["erp"], ch).values, float).reshape(-1, y.size)
    lo, hi = np.quantile(pp, [0.05, 0.95], axis=0)
    cover = float(np.mean((y >= lo) & (y <= hi)))
    return (
        "Top: the averaged ERP (black) with its 90 % band from the trial standard error; blue: "
        "median of the fitted model, its 90 % posterior band and the 90 % posterior-predictive "
        f"band (with the noise). {100 * cover:.0f} % of the samples lie in the predictive band "
        f"(about 90 % when the fit is calibrated). R\u00b2 of the median fit: {_fmt(lin.get('r2'), 3)}; "
        f"the linearised response at the posterior median differs from the nonlinear one by "
        f"{100 * _float(lin.get('rel_l2')):.1f} % (relative L2). Orange dashes: the average of "
        f"{stoch.get('n_trials', 'n/a')} trials of the stochastic column (background noise sigma = "
        f"{_fmt(stoch.get('sigma'), 3)} /s^0.5) at the posterior median, "
        f"{100 * _float(stoch.get('rel_l2')):.1f} % from the deterministic response. Bottom: the "
        "stimulus input pulse (median and 90 % band), in /s."
    )
