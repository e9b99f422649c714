"""What the report's sections share: where an item goes, the summary's frame, and the items every fit has.

A spectral channel and an evoked response (one condition and channel) get the
same items: the two verdicts, the parameter table, prior against posterior,
the most correlated pairs, the dynamics, the diagnostics and the traces;
:class:`_Section` says where each one goes and how its title starts, and
:func:`_add_summary_html` assembles either kind's summary."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from jrfit import viz
from jrfit.inference.diagnostics import THRESHOLDS
from jrfit.report.markup import _bad, _esc, _ess, _fmt, _rhat, _table
from jrfit.report.verdicts import _adequacy_banner, _banner, _summary_banners, _verdict_head
from jrfit.utils.log import quiet_arviz_shapes
from jrfit.viz.results import (
    default_vars,
    fit_free_params,
    meaning_of,
    posterior_correlation,
    select_channel,
    top_pairs,
    unit_of,
)

# criteria used to highlight cells of the parameter table (the PASS/FAIL
# verdict itself is the one recorded with the fit)
_RHAT_MAX = THRESHOLDS["r_hat"]
_ESS_MIN = min(THRESHOLDS["ess_bulk"], THRESHOLDS["ess_tail"])
_N_PAIRS = 4


@dataclasses.dataclass(frozen=True)
class _Section:
    """Where the items of one part of the report go.

    Attributes
    ----------
    rep : mne.Report
        The report.
    add_fig : callable | None
        ``add_fig(fig, title, caption, section, tags)``, from :func:`_figure_adder`.
    name : str | None
        Section of the report (None: outside any section).
    tags : tuple of str
        Tags of every item.
    prefix : str | None
        Start of each item's title, ``'prefix: what'`` (None: the title is ``what``).
    label : str | None
        The fit's name in its banners (a channel, or 'condition / channel').
    """

    rep: object
    add_fig: object
    name: str | None
    tags: tuple
    prefix: str | None = None
    label: str | None = None

    def title(self, what):
        """Title of an item about ``what``."""
        return what if self.prefix is None else f"{self.prefix}: {what}"

    def html(self, body, what):
        """Add an HTML item."""
        self.rep.add_html(body, title=self.title(what), section=self.name, tags=self.tags)

    def figure(self, fig, what, caption):
        """Add a figure (embedded as PNG, then released)."""
        self.add_fig(fig, self.title(what), caption, self.name, self.tags)


def _figure_adder(rep):
    """``add_fig(fig, item_title, caption, section, tags)``: a :mod:`jrfit.viz` figure into ``rep``, then released."""
    from jrfit.viz.common import close_figure

    def add_fig(fig, item_title, caption, section, tags):
        try:
            rep.add_figure(fig, title=item_title, caption=caption, image_format="png", section=section, tags=tags)
        finally:
            close_figure(fig)

    return add_fig


@dataclasses.dataclass
class _SummarySpec:
    """What a summary shows; :func:`_add_summary_html` lays it out the same for every kind of fit.

    Attributes
    ----------
    noun : str
        What one fit is called in the alerts ('channel', 'fit').
    meta : list of (str, str)
        Facts of the fit (:func:`_meta_rows`).
    fits : list of (str, (str, dict), dict | None)
        Label, (status, diagnostics) and adequacy record of each fit.
    header : list of str
        Columns of the overview table.
    rows : list of list of str
        Its rows (HTML cells).
    guide : str
        'How to read this report' (HTML).
    extras : str
        HTML between the facts and the banners (the kind's own tables).
    adequacy_title, overview_title : str
        Headings of the adequacy banners and of the overview table.
    many : bool
        Banners only for the flagged fits.
    erp : bool
        The fits are of evoked responses (the adequacy banners' wording).
    warn_unchecked : bool
        Fits without recorded diagnostics get their own warning (else they count as failed).
    """

    noun: str
    meta: list
    fits: list
    header: list
    rows: list
    guide: str
    extras: str = ""
    adequacy_title: str = "Model adequacy"
    overview_title: str = "Channels"
    many: bool = False
    erp: bool = False
    warn_unchecked: bool = True


def _meta_rows(idata, attrs, source, specific, free_note):
    """The summary's facts: files, the kind's own rows, likelihood, free constants (and ``free_note``), sampling."""
    post = idata.posterior
    return [
        ("input file", attrs.get("input_file", "n/a")),
        ("result file", source or "(in memory)"),
        *specific,
        ("likelihood", attrs.get("likelihood", "n/a")),
        ("free JR constants", ", ".join(fit_free_params(idata)) + free_note),
        ("sampling", f"{post.sizes.get('chain', 0)} chains x {post.sizes.get('draw', 0)} draws"),
        ("seed", attrs.get("seed", "n/a")),
        ("jrfit version", attrs.get("jrfit_version", "n/a")),
        ("fit created", attrs.get("created", "n/a")),
        ("report created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
    ]


def _add_summary_html(sec, spec):
    """The summary item: alerts, facts, the kind's extras, both verdicts' banners, the overview table, the guide."""
    conv, adequacy = _summary_banners(spec.fits, spec.many, spec.erp)
    body = (
        _verdict_head(spec.fits, spec.noun, spec.warn_unchecked)
        + _table(["", ""], spec.meta)
        + spec.extras
        + "<h5>Convergence</h5>"
        + conv
        + f"<h5>{spec.adequacy_title}</h5>"
        + adequacy
        + f"<h5>{spec.overview_title}</h5>"
        + _table(spec.header, spec.rows, raw=True)
        + spec.guide
    )
    sec.html(body, "Summary")


# ----------------------------------------------------------------------------
# the items of one fit
def _add_verdicts(sec, status, d, a, erp=False):
    """Both verdicts of the fit: convergence (``status``, diagnostics ``d``) and adequacy (record ``a``)."""
    sec.html(_banner(sec.label, status, d) + _adequacy_banner(sec.label, a, erp), "status")


def _add_prior_posterior(sec, idata, ch, caption):
    """Prior against posterior densities of the fit's variables."""
    sec.figure(viz.plot_prior_posterior(idata, ch), "prior and posterior", caption)


def _most_correlated(idata, ch):
    """The most correlated pairs (x, y, r) of the posterior; None with fewer than two non-constant variables."""
    names, corr = posterior_correlation(idata, ch)
    return top_pairs(names, corr, _N_PAIRS) if len(names) >= 2 else None


def _add_pairs(sec, idata, ch, pairs, caption):
    """Scatter plots of the pairs (x, y, r)."""
    sec.figure(viz.plot_pair(idata, ch, pairs=[(x, y) for x, y, _ in pairs]), "most correlated pairs", caption)


def _add_diagnostics(sec, idata, ch, status, d, trace_vars=None, caption=""):
    """The diagnostics table, then (unless ``trace_vars`` is None) the traces and ranks of those variables."""
    sec.html(_diagnostics_html(idata, ch, status, d), "diagnostics")
    if trace_vars is not None:
        sec.figure(viz.plot_trace(idata, ch, trace_vars), "traces and ranks", caption)


def _param_table(idata, ch):
    import arviz as az
    import xarray as xr

    names = default_vars(idata, derived=True)
    ds = xr.Dataset({n: select_channel(idata.posterior[n], ch) for n in names})
    with np.errstate(all="ignore"), quiet_arviz_shapes():
        rhat = az.rhat(ds)
        ess_b = az.ess(ds, method="bulk")
        ess_t = az.ess(ds, method="tail")
    rows = []
    free = set(fit_free_params(idata))
    for n in names:
        x = np.asarray(ds[n].values, float).reshape(-1)
        x = x[np.isfinite(x)]
        med, lo, hi = np.quantile(x, [0.5, 0.05, 0.95]) if x.size else (np.nan,) * 3
        r, eb, et = float(rhat[n]), float(ess_b[n]), float(ess_t[n])
        kind = "free JR constant" if n in free else ""
        rows.append(
            [
                f"<b>{_esc(n)}</b>",
                _esc(meaning_of(n)) + (f" <small>({kind})</small>" if kind else ""),
                _esc(unit_of(n)),
                _fmt(med),
                f"[{_fmt(lo)}, {_fmt(hi)}]",
                _bad(_rhat(r), not r <= _RHAT_MAX),
                _bad(_ess(eb), not eb >= _ESS_MIN),
                _bad(_ess(et), not et >= _ESS_MIN),
            ]
        )
    table = _table(
        ["parameter", "meaning", "unit", "median", "90 % interval", "R-hat", "bulk ESS", "tail ESS"], rows, raw=True
    )
    note = f"Red: R-hat above {_RHAT_MAX} or ESS below {_ESS_MIN:.0f}."
    if {"bg", "floor", "scale"} & set(names):  # the spectral observation model's parameters
        note += (
            " bg (at 1 Hz) and floor are in mV\u00b2/Hz; scale is dimensionless (it multiplies "
            "the JR spectrum computed at \u03c3 = 1 /s^0.5 and A fixed)."
        )
    return table + f"<p><small>{note}</small></p>"


def _diagnostics_html(idata, ch, status, d):
    rows = [
        [
            _esc(ch),
            _bad(status, status != "PASS"),
            _esc(_rhat(d.get("r_hat"))),
            _esc(_ess(d.get("ess_bulk"))),
            _esc(_ess(d.get("ess_tail"))),
            _esc(d.get("divergences", "n/a")),
            _esc(_fmt(d.get("bfmi"), 3)),
            "<br>".join(_esc(p) for p in d.get("problems", [])) or "none",
        ]
    ]
    out = [
        "<p>Recorded diagnostics (worst over the parameters: largest R-hat, smallest ESS; "
        "BFMI: smallest over the chains):</p>",
        _table(
            ["channel", "status", "R-hat", "bulk ESS", "tail ESS", "divergences", "BFMI", "problems"], rows, raw=True
        ),
    ]
    if hasattr(idata, "sample_stats"):
        ss = idata.sample_stats
        facts = []
        if "diverging" in ss:
            facts.append(
                (
                    "divergent transitions (sample_stats)",
                    int(np.asarray(select_channel(ss["diverging"], ch).values).sum()),
                )
            )
        if "tree_depth" in ss:
            facts.append(("largest tree depth", int(np.asarray(select_channel(ss["tree_depth"], ch).values).max())))
        for key, label in (("acceptance_rate", "mean acceptance rate"), ("step_size", "mean step size")):
            if key in ss:
                facts.append((label, _fmt(float(np.nanmean(select_channel(ss[key], ch).values)), 3)))
        if facts:
            out.append(_table(["sampler statistic", "value"], facts))
    return "".join(out)
