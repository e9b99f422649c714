"""HTML report of a spectral fit: one self-contained file for a reader who did not run it.

:func:`make_report` reads a fit result (ArviZ InferenceData, or the NetCDF
file it was saved to) and writes one HTML file with :class:`mne.Report`,
every figure embedded as a PNG. Sections:

* **Summary**: input file, channels, band, likelihood, versions, seed; a
  PASS/FAIL banner per channel from the recorded convergence diagnostics
  (a failed channel lists its problems); an overview table of the channels.
* **One section per channel**: the data spectrum with the posterior-predictive
  bands; the parameter table (median, 90 % interval, R-hat, bulk and tail
  ESS); prior against posterior densities; posterior correlations and the
  most correlated pairs (what they mean for identifiability); the posterior
  operating points on the bifurcation diagram at the posterior-median
  constants, with the regime fractions and the distance to the stability
  boundary; the diagnostics and trace/rank plots.
* **Provenance**: the preprocessing record, the priors and every attribute of
  the result.

Figures come from :mod:`jrfit.viz.figures` (matplotlib is imported only there).
"""

from __future__ import annotations

import functools
import html
import json
import time
from pathlib import Path

import numpy as np

from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger, quiet_arviz_shapes, verbose
from jrfit.errors import JRFitError
from jrfit.inference.spectral import THRESHOLDS
from jrfit.viz.figures import (
    channel_names,
    default_vars,
    channel_draws,
    fit_free_params,
    meaning_of,
    posterior_correlation,
    select_channel,
    channel_spectra,
    top_pairs,
    unit_of,
)

__all__ = ["make_report"]

# criteria used to highlight cells of the parameter table (the PASS/FAIL
# verdict itself is the one recorded with the fit)
_RHAT_MAX = THRESHOLDS["r_hat"]
_ESS_MIN = min(THRESHOLDS["ess_bulk"], THRESHOLDS["ess_tail"])
_N_PAIRS = 4
_MAX_BIF_CACHE = 32
# more channels than this: sections start collapsed, only failing channels get a banner in the summary
_EXPANDED_MAX = 4
# more channels than this: per-channel sections in the compact view ('auto' detail)
_FULL_DETAIL_MAX = 8
_DETAILS = ("auto", "full", "compact")
# labels of the stability summary the fit records (attrs['stability'])
_STABILITY_LABELS = {
    "damping_median": "damping, posterior median (/s)",
    "damping_q05": "damping, 5 % quantile (/s)",
    "frac_near_boundary": "share of draws near the stability boundary",
}


# ----------------------------------------------------------------------------
# public API
@verbose
def make_report(
    idata_or_path, fname, *, title=None, overwrite=False, cycles=True, detail="auto", result_file=None, verbose=None
):
    """Write the HTML report of a spectral fit.

    Parameters
    ----------
    idata_or_path : arviz.InferenceData | path-like
        The fit result, or the NetCDF file it was saved to (read with
        :func:`arviz.from_netcdf`).
    fname : path-like
        Output file; must end in ``.html``. Written atomically: if anything
        fails, no (partial) file is left.
    title : str | None
        Title of the report (default: from the input file name).
    overwrite : bool
        Replace ``fname`` if it exists (default: refuse).
    cycles : bool
        Compute the limit cycles of the bifurcation diagram of each channel
        (about 1-4 s per channel, cached for equal constants); if False only
        the fixed points, Hopf points and folds (well under a second).
    detail : 'auto' | 'full' | 'compact'
        What each channel's section shows. ``'full'``: every figure (spectrum,
        prior and posterior, correlations and pairs, bifurcation diagram,
        traces). ``'compact'``: the verdicts, the spectrum and fit, the
        parameter table and the diagnostics, with traces only for channels
        that failed: about a quarter of the size and time per channel.
        ``'auto'`` (default): full up to 8 channels, compact beyond. Beyond 4
        channels the per-channel sections start collapsed, so that the
        summary (overview table, scalp maps, failed channels) opens the page.
    result_file : path-like | None
        Where the result is (or is being) saved, shown in the summary
        (default: the path read, if ``idata_or_path`` is one).
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    fname : pathlib.Path
        The report written.
    """
    import mne

    from jrfit.utils.check import check_option

    fname = Path(fname).expanduser()
    if fname.suffix.lower() != ".html":
        raise JRFitError(f"The report file name must end in .html, got {str(fname)!r}.")
    if fname.exists() and not overwrite:
        raise JRFitError(f"{fname} exists; pass overwrite=True (--overwrite) to replace it.")
    check_option("detail", detail, _DETAILS)
    idata, source = _load(idata_or_path)
    source = str(result_file) if result_file is not None else source
    if str(idata.attrs.get("kind", "")) == "erp":
        return _make_erp_report(idata, source, fname, title, cycles)
    _check_result(idata)
    channels = channel_names(idata)
    if detail == "auto":
        detail = "full" if len(channels) <= _FULL_DETAIL_MAX else "compact"
    attrs = dict(idata.attrs)
    if title is None:
        name = Path(str(attrs.get("input_file") or source or "")).name
        title = f"jrfit spectral fit: {name}" if name else "jrfit spectral fit"
    t0 = time.perf_counter()
    logger.info("Report of %d channel(s) %s -> %s", len(channels), channels, fname)
    many = len(channels) > _EXPANDED_MAX
    rep = mne.Report(title=title, verbose=False, collapse=("section",) if many else ())
    diag = _json_attr(attrs, "diagnostics", {})

    add_fig = _figure_adder(rep)
    _add_summary(rep, idata, channels, attrs, diag, source, add_fig, detail, many)
    for ch in channels:
        t1 = time.perf_counter()
        _add_channel(rep, idata, ch, attrs, diag, add_fig, cycles, detail)
        logger.info("  channel %s: %.1f s", ch, time.perf_counter() - t1)
    _add_provenance(rep, attrs)
    return _save(rep, fname, t0)


def _figure_adder(rep):
    from jrfit.viz.figures import close_figure

    def add_fig(fig, item_title, caption, section, tags):
        try:
            rep.add_figure(fig, title=item_title, caption=caption, image_format="png", section=section, tags=tags)
        finally:
            close_figure(fig)

    return add_fig


def _save(rep, fname, t0):
    with atomic_path(fname) as tmp:
        rep.save(tmp, open_browser=False, overwrite=True, verbose=False)
    logger.info("Report written in %.1f s: %s", time.perf_counter() - t0, fname)
    return fname


# ----------------------------------------------------------------------------
# input
def _load(idata_or_path):
    import arviz as az

    if isinstance(idata_or_path, az.InferenceData):
        return idata_or_path, None
    if isinstance(idata_or_path, (str, Path)):
        path = Path(idata_or_path).expanduser()
        if not path.is_file():
            raise JRFitError(f"Fit result {path} not found: pass the NetCDF file written by the fit.")
        try:
            return az.from_netcdf(path), str(path)
        except (OSError, ValueError) as err:
            raise JRFitError(f"Cannot read {path} as a fit result (NetCDF InferenceData): {err}") from None
    raise JRFitError(
        "'idata_or_path' must be an arviz.InferenceData or the path of a NetCDF file, "
        f"got {type(idata_or_path).__name__}."
    )


def _check_result(idata):
    groups = set(idata.groups())
    missing = [g for g in ("posterior", "observed_data") if g not in groups]
    if missing:
        raise JRFitError(f"The fit result lacks the group(s) {missing}; it has {sorted(groups)}.")
    post = idata.posterior
    need = [n for n in ("p",) if n not in post]
    if need:
        raise JRFitError(f"The posterior lacks {need}; it has {sorted(post.data_vars)}.")
    if "channel" not in post.dims:
        raise JRFitError("The posterior has no 'channel' dimension: not a jrfit spectral-fit result.")
    if "psd" not in idata.observed_data:
        raise JRFitError("The fit result has no observed_data['psd'].")


def _json_attr(attrs, key, default):
    raw = attrs.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("attrs[%r] is not valid JSON; shown as text.", key)
        return raw


# ----------------------------------------------------------------------------
# formatting
def _fmt(x, digits=4):
    """A number with ``digits`` significant digits (the format of the tables)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _rhat(x):
    x = _float(x)
    return f"{x:.3f}" if np.isfinite(x) else "n/a"


def _ess(x):
    x = _float(x)
    return f"{x:.0f}" if np.isfinite(x) else "n/a"


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _esc(x):
    return html.escape(str(x))


def _table(header, rows, klass="table table-sm table-striped", raw=False):
    """HTML table; cells are escaped unless ``raw`` (then they are HTML)."""
    cell = (lambda c: str(c)) if raw else _esc
    out = [f'<table class="{klass}"><thead><tr>']
    out += [f"<th>{_esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _bad(text, bad):
    return f'<span style="color:#b00020;font-weight:bold">{_esc(text)}</span>' if bad else _esc(text)


def _tag(ch):
    tag = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(ch))
    return f"ch-{tag}"


def _status(diag, ch):
    """('PASS' | 'FAIL' | 'UNCHECKED', dict) from the recorded diagnostics."""
    d = diag.get(ch) if isinstance(diag, dict) else None
    if not isinstance(d, dict):
        return "UNCHECKED", {}
    return ("PASS" if d.get("passed") else "FAIL"), d


def _banner(ch, status, d):
    if status == "PASS":
        detail = (
            f"R-hat {_rhat(d.get('r_hat'))}, bulk ESS {_ess(d.get('ess_bulk'))}, "
            f"tail ESS {_ess(d.get('ess_tail'))}, {d.get('divergences', 'n/a')} divergences, "
            f"BFMI {_fmt(d.get('bfmi'), 2)}"
        )
        return (
            f'<div class="alert alert-success jrfit-status jrfit-pass" role="status">'
            f"<strong>PASS &#10003; {_esc(ch)}</strong>: the sampler passed the convergence "
            f"checks ({_esc(detail)}).</div>"
        )
    if status == "FAIL":
        problems = d.get("problems") or ["(no problem recorded)"]
        items = "".join(f"<li>{_esc(p)}</li>" for p in problems)
        return (
            f'<div class="alert alert-danger jrfit-status jrfit-fail" role="alert">'
            f"<strong>FAIL &#10007; {_esc(ch)}</strong>: the sampler did not converge; "
            f"do not interpret these estimates before refitting (more draws or tuning, a "
            f"higher target_accept, or tighter priors). Problems:<ul>{items}</ul></div>"
        )
    return (
        f'<div class="alert alert-warning jrfit-status jrfit-unchecked" role="status">'
        f"<strong>UNCHECKED {_esc(ch)}</strong>: no convergence diagnostics recorded for this "
        f"channel; check the R-hat and ESS columns of its parameter table.</div>"
    )


def _adequacy_detail(a, erp):
    if erp:
        return (
            f"posterior-predictive p-values {_fmt(a.get('ppp'), 3)} (size of the residuals), "
            f"{_fmt(a.get('ppp_run'), 3)} (longest run outside the band), {_fmt(a.get('ppp_lag1'), 3)} "
            f"(correlation left in the whitened residuals); {100 * _float(a.get('frac_outside')):.0f} % "
            "of the samples outside the 90 % predictive band (about 10 % expected)"
        )
    return (
        f"posterior-predictive p-value {_fmt(a.get('ppp'), 3)}, {100 * _float(a.get('frac_outside')):.0f} % "
        f"of bins outside the 90 % predictive band (about 10 % expected), RMS standardised residual "
        f"{_fmt(a.get('z_rms'), 3)}"
    )


def _adequacy_banner(ch, a, erp=False):
    """The second verdict: does the model fit the data (jrfit.inference.adequacy), not the sampler."""
    if not isinstance(a, dict) or "fits" not in a:
        return (
            f'<div class="alert alert-warning jrfit-adequacy" role="status"><strong>FIT NOT CHECKED '
            f"{_esc(ch)}</strong>: no posterior-predictive adequacy check is recorded.</div>"
        )
    detail = _adequacy_detail(a, erp)
    if a["fits"]:
        return (
            f'<div class="alert alert-success jrfit-adequacy jrfit-fits" role="status"><strong>MODEL FITS '
            f"&#10003; {_esc(ch)}</strong>: the data lie within what the fitted model predicts "
            f"({_esc(detail)}).</div>"
        )
    items = "".join(f"<li>{_esc(p)}</li>" for p in a.get("problems", []))
    return (
        f'<div class="alert alert-danger jrfit-adequacy jrfit-misfit" role="alert"><strong>MODEL MISFIT '
        f"&#10007; {_esc(ch)}</strong>: the fitted column does not explain this "
        f"{'response' if erp else 'spectrum'} ({_esc(detail)}); "
        f"the parameters describe the best single-column approximation, not the data. Where:<ul>{items}</ul>"
        "</div>"
    )


def _fits_label(a):
    if not isinstance(a, dict) or "fits" not in a:
        return "not checked"
    return "fits" if a["fits"] else "MISFIT"


def _interval(x, digits=4):
    x = x[np.isfinite(x)]
    if not x.size:
        return "n/a"
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return f"{_fmt(med, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _main_regime(reg):
    if not isinstance(reg, dict) or not reg:
        return "n/a"
    label, frac = max(reg.items(), key=lambda kv: kv[1])
    return f"{label} ({100 * float(frac):.0f} %)"


# ----------------------------------------------------------------------------
# (a) summary
def _summary_banners(channels, statuses, adequacy, many):
    """Convergence and adequacy banners: every channel's, or beyond a few channels only the flagged ones."""

    def shown(ch):
        return not many or statuses[ch][0] != "PASS" or _fits_label(adequacy.get(ch)) != "fits"

    conv = "".join(_banner(ch, *statuses[ch]) for ch in channels if not many or statuses[ch][0] != "PASS")
    fits = "".join(
        _adequacy_banner(ch, adequacy.get(ch)) for ch in channels if not many or _fits_label(adequacy.get(ch)) != "fits"
    )
    if many:
        n_ok = sum(not shown(ch) for ch in channels)
        note = (
            f"<p>{n_ok} of {len(channels)} channels passed both checks (see the table below); "
            "only the others are listed here.</p>"
        )
        conv = note + conv
        fits = fits or "<p>The model fits the data of every channel (posterior-predictive check).</p>"
    return conv, fits


def _scalp_maps(idata, channels, attrs, statuses):
    """Scalp maps of the posterior medians, where the record holds the positions of 4 channels or more."""
    from jrfit.viz import figures as viz

    steps = _json_attr(attrs, "preprocessing", None)
    rec = (
        [st for st in steps if isinstance(st, dict) and st.get("step") == "channel_positions"]
        if isinstance(steps, list)
        else []
    )
    positions = rec[-1].get("positions", {}) if rec else {}
    placed = [ch for ch in channels if ch in positions]
    if len(placed) < 4:
        return None
    maps = {}
    for var, title in (("peak_freq", "peak frequency"), ("damping", "damping"), ("a", "a"), ("b", "b")):
        with np.errstate(all="ignore"):
            vals = {ch: float(np.nanmedian(x)) for ch in placed if (x := channel_draws(idata, var, ch)) is not None}
        vals = {ch: v for ch, v in vals.items() if np.isfinite(v)}
        if len(vals) >= 4:
            maps[f"{title} (median)"] = (unit_of(var) if var != "peak_freq" else "Hz", vals)
    failed = [ch for ch in placed if statuses[ch][0] != "PASS"]
    if not maps:
        return None
    try:  # an optional figure: positions MNE cannot interpolate (e.g. all on one line) do not stop the report
        return viz.plot_scalp_maps(maps, positions, marked=failed)
    except Exception as err:  # noqa: BLE001
        logger.warning(f"No scalp maps: the channel positions could not be drawn ({type(err).__name__}: {err})")
        return None


def _add_summary(rep, idata, channels, attrs, diag, source, add_fig=None, detail="full", many=False):
    post = idata.posterior
    free = fit_free_params(idata)
    fmin, fmax = attrs.get("fmin"), attrs.get("fmax")
    band = f"{_fmt(fmin)}-{_fmt(fmax)} Hz" if fmin is not None and fmax is not None else "n/a"
    meta = [
        ("input file", attrs.get("input_file", "n/a")),
        ("result file", source or "(in memory)"),
        ("channels", ", ".join(channels)),
        ("frequency band", band),
        ("likelihood", attrs.get("likelihood", "n/a")),
        (
            "free JR constants",
            ", ".join(free)
            + (
                " (plus the operating point v; p = p(v))"
                if "v" in post
                else " (plus the input p and the noise sigma; no fixed point assumed)"
            ),
        ),
        ("sampling", f"{post.sizes.get('chain', 0)} chains x {post.sizes.get('draw', 0)} draws"),
        ("seed", attrs.get("seed", "n/a")),
        ("jrfit version", attrs.get("jrfit_version", "n/a")),
        ("fit created", attrs.get("created", "n/a")),
        ("report created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
    ]
    statuses = {ch: _status(diag, ch) for ch in channels}
    n_fail = sum(s == "FAIL" for s, _ in statuses.values())
    n_unchecked = sum(s == "UNCHECKED" for s, _ in statuses.values())
    if n_fail:
        head = (
            f'<div class="alert alert-danger"><strong>{n_fail} of {len(channels)} channel(s) '
            f"FAILED the convergence checks.</strong></div>"
        )
    elif n_unchecked:
        head = (
            f'<div class="alert alert-warning">{n_unchecked} of {len(channels)} channel(s) '
            f"have no recorded diagnostics.</div>"
        )
    else:
        head = f'<div class="alert alert-success">All {len(channels)} channel(s) passed the convergence checks.</div>'
    adequacy = _json_attr(attrs, "adequacy", {})
    adequacy = adequacy if isinstance(adequacy, dict) else {}
    n_misfit = sum(_fits_label(adequacy.get(ch)) == "MISFIT" for ch in channels)
    head += (
        f'<div class="alert alert-danger"><strong>{n_misfit} of {len(channels)} channel(s): the model does '
        "not fit the data</strong> (posterior-predictive check; see each channel).</div>"
        if n_misfit
        else ""
    )
    banners, fit_banners = _summary_banners(channels, statuses, adequacy, many)
    regimes = _json_attr(attrs, "regime", {})
    n_eff = _json_attr(attrs, "n_eff", {})
    rows = []
    for ch in channels:
        status = statuses[ch][0]
        pk = channel_draws(idata, "peak_freq", ch)
        dm = channel_draws(idata, "damping", ch)
        rows.append(
            [
                _esc(ch),
                _bad(status, status != "PASS"),
                _bad(_fits_label(adequacy.get(ch)), _fits_label(adequacy.get(ch)) != "fits"),
                _esc(_interval(pk, 3)) if pk is not None else "n/a",
                _esc(_interval(dm, 3)) if dm is not None else "n/a",
                _esc(_main_regime(regimes.get(ch) if isinstance(regimes, dict) else None)),
                _esc(_fmt(n_eff.get(ch), 3)) if isinstance(n_eff, dict) else "n/a",
            ]
        )
    overview = _table(
        [
            "channel",
            "sampler",
            "model vs data",
            "peak frequency (Hz), median [90 %]",
            "damping (/s), median [90 %]",
            "most probable regime",
            "n_eff (averaged periodograms)",
        ],
        rows,
        raw=True,
    )
    guide = (
        "<p><em>How to read this report.</em> Each channel was fitted separately: the "
        "linearised Jansen-Rit spectrum (scaled) plus an aperiodic background "
        "<code>bg / f^chi</code> and a white floor was fitted to the channel's power spectrum by "
        "NUTS. Intervals are central 90 % posterior intervals. Two verdicts per channel: "
        "<em>sampler</em> (convergence: R-hat, ESS, divergences, BFMI) and <em>model vs data</em> "
        "(a posterior-predictive check: does the spectrum lie within what the fitted model predicts?). "
        "A channel marked FAIL did not "
        "converge and its numbers are not trustworthy; a MISFIT channel converged to the best "
        "single-column approximation of a spectrum the column cannot produce. <code>damping</code> is the decay rate "
        "of the slowest mode of the column (/s); it is positive for a stable operating point, "
        "and values near 0 mean the fit sits next to a bifurcation, where the linearisation is "
        "least reliable.</p>"
    )
    if detail == "compact":
        guide += (
            f"<p><em>Compact view</em> ({len(channels)} channels): each channel's section shows its verdicts, "
            "spectrum and fit, parameters and diagnostics (traces only where the sampler failed). "
            "<code>jrfit report RESULT.nc --detail full</code> draws every figure.</p>"
        )
    body = (
        head
        + _table(["", ""], [(k, v) for k, v in meta])
        + _identified_html(idata, channels, attrs)
        + _truth_html(idata, channels, attrs)
        + _route_html(attrs)
        + "<h5>Convergence</h5>"
        + banners
        + "<h5>Model adequacy</h5>"
        + fit_banners
        + "<h5>Channels</h5>"
        + overview
        + guide
    )
    section = None if many else "Summary"  # collapsed sections: the summary stays open above them
    rep.add_html(body, title="Summary", section=section, tags=("summary",))
    fig = _scalp_maps(idata, channels, attrs, statuses) if add_fig is not None else None
    if fig is not None:
        add_fig(
            fig,
            "Scalp maps",
            "Posterior medians at the channels' positions (from the preprocessing record; "
            "regions at their members' mean position); red dots: channels that failed the sampler's checks.",
            section,
            ("summary",),
        )


def _truth_html(idata, channels, attrs):
    """Known truth against the posterior, for simulated recordings that carry it (``attrs['truth']``)."""
    truth = _json_attr(attrs, "truth", {})
    if not isinstance(truth, dict) or not truth:
        return ""
    rows = []
    for ch in channels:
        for name, value in (truth.get(ch) or {}).items():
            x = channel_draws(idata, name, ch)
            if x is None:
                continue
            lo, hi = np.quantile(x, [0.05, 0.95])
            inside = bool(lo <= value <= hi)
            rows.append(
                [
                    _esc(ch),
                    _esc(f"{name} ({unit_of(name)})" if unit_of(name) not in ("", "1") else name),
                    _esc(_fmt(value, 4)),
                    _esc(_interval(x, 4)),
                    _bad("yes" if inside else "no", not inside),
                ]
            )
    if not rows:
        return ""
    return "<h5>Known truth (simulated recording) against the posterior</h5>" + _table(
        ["channel", "quantity", "truth", "posterior median [90 %]", "truth inside"], rows, raw=True
    )


def _identified_html(idata, channels, attrs):
    """The primary result: what the spectrum identifies, with B, C and p conditional on the fixed constants."""
    names = [n for n in (_json_attr(attrs, "identified", None) or []) if n in idata.posterior]
    if not names:
        return ""
    rows = [[_esc(ch)] + [_esc(_interval(channel_draws(idata, n, ch), 3)) for n in names] for ch in channels]
    head = ["channel"] + [f"{n} ({unit_of(n)})" if unit_of(n) not in ("", "1") else n for n in names]
    cond = _json_attr(attrs, "conditional", {}) or {}
    given = ", ".join(f"{k} = {_fmt(v)}" for k, v in (cond.get("given") or {}).items())
    note = (
        f"<p><small>Median [90 % interval]. A spectrum identifies the rate constants a and b, the DC gains of "
        "the excitatory and inhibitory loops, the damping and the peak frequency; "
        f"{_esc(', '.join(cond.get('names', [])) or 'the other constants')} are conditional on the fixed "
        f"constants ({_esc(given)}): fixed at other values, they shift to keep the loop gains.</small></p>"
    )
    return "<h5>What the spectrum identifies</h5>" + _table(head, rows, raw=True) + note


def _route_html(attrs):
    """Which likelihood route each channel took, why, and which fit is trusted (jrfit.inference.routes)."""
    route = attrs.get("route")
    if route is None:
        return ""
    out = [f"<h5>Likelihood route: {_esc(route)}</h5>"]
    routes = _json_attr(attrs, "routes", None)
    if isinstance(routes, dict) and routes:
        rows = [
            [
                _esc(ch),
                _esc(r.get("route", "")),
                _bad(r.get("trusted", ""), r.get("trusted") == "none"),
                _esc(r.get("reason", "")),
            ]
            for ch, r in routes.items()
        ]
        out.append(_table(["channel", "route", "trusted fit", "why"], rows, raw=True))
        if any(r.get("route") == "simulation" for r in routes.values()):
            out.append(
                "<p>Channels sent to the simulation route have their own result file and report "
                "(<code>*_simulation_jrfit.nc</code>); this file keeps their linear fit for comparison.</p>"
            )
    else:
        out.append(f"<p>{_esc(attrs.get('route_reason', ''))}</p>")
    checks = _json_attr(attrs, "linear_check", None)
    if isinstance(checks, dict) and checks:
        rows = [
            [
                _esc(ch),
                _bad("valid" if c.get("valid") else "invalid", not c.get("valid")),
                _esc(_fmt(c.get("damping_median"), 3)),
                _esc(f"{100 * _float(c.get('frac_near_boundary')):.0f} %"),
                _esc(_fmt(c.get("sigma_implied"), 3)),
                _esc(_fmt(c.get("peak_linear_hz"), 4)),
                _esc(_fmt(c.get("peak_simulated_hz"), 4)),
                _esc(_fmt(c.get("peak_tol_hz"), 3)),
                _esc(_fmt(c.get("shape_rms"), 3)),
                "<br>".join(_esc(r) for r in c.get("reasons", [])) or "none",
            ]
            for ch, c in checks.items()
        ]
        out.append(
            "<p>Check of the linearisation at the linear route's posterior medians, simulated at the noise "
            f"intensity the data imply (tolerances: {_esc(attrs.get('linear_validity', ''))}):</p>"
        )
        out.append(
            _table(
                [
                    "channel",
                    "linearisation",
                    "damping (/s)",
                    "draws near boundary",
                    "implied sigma (/s^0.5)",
                    "linear peak (Hz)",
                    "simulated peak (Hz)",
                    "peak tolerance (Hz)",
                    "RMS log ratio",
                    "reasons",
                ],
                rows,
                raw=True,
            )
        )
        out.append("<p>The fit figure of each channel shows the other route's prediction as a dashed line.</p>")
    return "".join(out)


# ----------------------------------------------------------------------------
# (b)-(g) one channel
def _add_channel(rep, idata, ch, attrs, diag, add_fig, cycles, detail="full"):
    from jrfit.viz import figures as viz

    section = f"Channel {ch}"
    tags = (_tag(ch),)
    status, d = _status(diag, ch)
    adequacy = _json_attr(attrs, "adequacy", {})
    rep.add_html(
        _banner(ch, status, d) + _adequacy_banner(ch, adequacy.get(ch) if isinstance(adequacy, dict) else None),
        title=f"{ch}: status",
        section=section,
        tags=tags,
    )

    # (b) spectrum and fit
    fig = viz.plot_psd_fit(
        idata, ch, title=f"{ch}: data and posterior predictive ({'PASS' if status == 'PASS' else status})"
    )
    add_fig(fig, f"{ch}: spectrum and fit", _fit_caption(idata, ch), section, tags)

    # (c) parameters
    rep.add_html(_param_table(idata, ch), title=f"{ch}: parameters", section=section, tags=tags)
    if detail == "compact":
        _add_diagnostics(rep, idata, ch, status, d, add_fig, section, tags, traces=status != "PASS")
        return

    # (d) prior vs posterior
    fig = viz.plot_prior_posterior(idata, ch)
    shown = viz.resolve_var_names(idata, None)
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
    add_fig(fig, f"{ch}: prior and posterior", caption, section, tags)

    # (e) correlations
    names, corr = posterior_correlation(idata, ch)
    if len(names) >= 2:
        fig = viz.plot_correlation(idata, ch)
        add_fig(
            fig,
            f"{ch}: posterior correlations",
            ("Spearman rank correlations between the posterior draws (unchanged by log transforms)."),
            section,
            tags,
        )
        pairs = top_pairs(names, corr, _N_PAIRS)
        fig = viz.plot_pair(idata, ch, pairs=[(x, y) for x, y, _ in pairs])
        add_fig(
            fig,
            f"{ch}: most correlated pairs",
            ("Posterior draws of the most correlated pairs (colour: chain)."),
            section,
            tags,
        )
        rep.add_html(_correlation_text(pairs), title=f"{ch}: identifiability", section=section, tags=tags)

    # (f) dynamics
    _add_dynamics(rep, idata, ch, attrs, add_fig, cycles, section, tags)

    # (g) diagnostics
    _add_diagnostics(rep, idata, ch, status, d, add_fig, section, tags, traces=True)


def _add_diagnostics(rep, idata, ch, status, d, add_fig, section, tags, traces):
    from jrfit.viz import figures as viz

    rep.add_html(_diagnostics_html(idata, ch, status, d), title=f"{ch}: diagnostics", section=section, tags=tags)
    if not traces:
        return
    trace_vars = fit_free_params(idata)[:4] + [n for n in ("v", "p") if n in idata.posterior]
    fig = viz.plot_trace(idata, ch, trace_vars)
    add_fig(
        fig,
        f"{ch}: traces and ranks",
        (
            "Traces of each chain (divergent transitions: red ticks) and rank histograms; "
            "chains that mix well overlap in the traces and have flat rank histograms."
        ),
        section,
        tags,
    )


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


# (f) bifurcation diagram, regimes, stability
def _priors_from_attrs(attrs):
    """The fit's priors object (spectral or ERP) from attrs['priors']; None if absent."""
    from jrfit.inference.priors import ERPPriors, SpectralPriors

    pri = _json_attr(attrs, "priors", None)
    if not isinstance(pri, dict):
        return None
    cls = ERPPriors if str(attrs.get("kind", "")) == "erp" else SpectralPriors
    return cls.from_dict(pri)


def _posterior_constants(idata, ch, attrs):
    """JRParams at the posterior-median free constants (fixed ones from the priors)."""
    from jrfit.model.params import JRParams

    base = JRParams(sigma=1.0)
    try:
        pri = _priors_from_attrs(attrs)
        if pri is not None:
            base = pri.fixed
    except (KeyError, TypeError, ValueError) as err:
        logger.warning(
            "attrs['priors'] could not be read (%s); using the JR 1995 defaults for the fixed constants.", err
        )
    med = {}
    for n in fit_free_params(idata):
        x = channel_draws(idata, n, ch)
        # 4 significant digits: reproducible and reusable by the cache
        med[n] = float(f"{np.nanmedian(x):.4g}")
    return base.replace(**med)


@functools.lru_cache(maxsize=_MAX_BIF_CACHE)
def _bifurcation_cached(params, p_range, cycles):
    from jrfit.dynamics.bifurcation import bifurcation

    return bifurcation(params, p_range, cycles=cycles, verbose=False)


def _add_dynamics(rep, idata, ch, attrs, add_fig, cycles, section, tags):
    from jrfit.viz import figures as viz

    p = channel_draws(idata, "p", ch)
    p = p[np.isfinite(p)]
    lo, hi = np.quantile(p, [0.005, 0.995]) if p.size else (0.0, 0.0)
    # a round range containing the default (-60, 360) /s and the draws
    p_range = (float(min(-60.0, 20 * np.floor((lo - 20) / 20))), float(max(360.0, 20 * np.ceil((hi + 20) / 20))))
    params = _posterior_constants(idata, ch, attrs)
    consts = ", ".join(f"{n} = {_fmt(getattr(params, n))} {unit_of(n)}" for n in fit_free_params(idata))
    t0 = time.perf_counter()
    try:
        bif = _bifurcation_cached(params, p_range, bool(cycles))
    except JRFitError as err:
        logger.warning("Bifurcation diagram of channel %s failed: %s", ch, err)
        bif = None
        rep.add_html(
            f'<div class="alert alert-warning">The bifurcation diagram at the '
            f"posterior-median constants ({_esc(consts)}) could not be computed: "
            f"{_esc(err)}</div>",
            title=f"{ch}: bifurcation diagram",
            section=section,
            tags=tags,
        )
    logger.info("  bifurcation diagram (%s cycles): %.1f s", "with" if cycles else "without", time.perf_counter() - t0)
    if bif is not None and "v" not in idata.posterior:
        # simulation route: no fixed point is assumed, so there is no (p, v) per draw
        fig = viz.plot_bifurcation(bif).figure
        ax = fig.axes[0]
        lo_p, med_p, hi_p = np.quantile(p, [0.05, 0.5, 0.95]) if p.size else (np.nan,) * 3
        ax.axvspan(lo_p, hi_p, color="c", alpha=0.2, lw=0)
        ax.axvline(med_p, color="c", lw=1.2)
        add_fig(
            fig,
            f"{ch}: bifurcation diagram",
            (
                f"Fixed points and limit cycles against the input p at the posterior-median constants "
                f"({consts}); cyan: the posterior median and 90 % interval of p "
                f"({_fmt(med_p)} [{_fmt(lo_p)}, {_fmt(hi_p)}] /s) from the simulation route, which "
                f"does not assume a fixed point."
            ),
            section,
            tags,
        )
    elif bif is not None:
        fig = viz.plot_posterior_bifurcation(idata, ch, bif)
        add_fig(
            fig,
            f"{ch}: bifurcation diagram",
            (
                f"Fixed points and limit cycles against the input p at the posterior-median "
                f"constants ({consts}; the other constants fixed), with posterior draws of the "
                f"operating point (p, v) in cyan. Only the constants are fixed at their medians: "
                f"the diagram of each draw differs slightly."
                + ("" if cycles else " Limit cycles not computed (cycles=False).")
            ),
            section,
            tags,
        )
    rep.add_html(_stability_html(idata, ch, attrs), title=f"{ch}: regime and stability", section=section, tags=tags)
    if "damping" in idata.posterior:
        fig = viz.plot_stability(idata, ch)
        add_fig(
            fig,
            f"{ch}: distance to the stability boundary",
            (
                "Posterior of damping = -Re(leading eigenvalue) of the Jacobian at the operating "
                "point, in /s: the decay rate of the slowest mode. 1/damping is its time "
                "constant; damping near 0 means the column is close to a Hopf bifurcation."
            ),
            section,
            tags,
        )


def _stability_html(idata, ch, attrs):
    regimes = _json_attr(attrs, "regime", {})
    reg = regimes.get(ch) if isinstance(regimes, dict) else None
    out = []
    if isinstance(reg, dict) and reg:
        rows = [
            (label, f"{100 * float(frac):.1f} %") for label, frac in sorted(reg.items(), key=lambda kv: -float(kv[1]))
        ]
        out.append("<p>Dynamical regime of the posterior draws (jrfit.dynamics.bifurcation.regime):</p>")
        out.append(_table(["regime", "fraction of draws"], rows))
    else:
        out.append("<p>No regime fractions recorded in the result.</p>")
    stab = _json_attr(attrs, "stability", {})
    s = stab.get(ch) if isinstance(stab, dict) else None
    if isinstance(s, dict) and s:
        rows = [(_STABILITY_LABELS.get(k, k.replace("_", " ")), _fmt(v)) for k, v in s.items()]
        out.append("<p>Stability (recorded by the fit):</p>")
        out.append(_table(["quantity", "value"], rows))
    d = channel_draws(idata, "damping", ch)
    if d is not None and np.any(np.isfinite(d)):
        d = d[np.isfinite(d)]
        med = float(np.median(d))
        tau = f"{1e3 / med:.0f} ms" if med > 0 else "n/a (unstable)"
        out.append(
            f"<p>Distance to the stability boundary: damping {_esc(_interval(d, 3))} /s "
            f"(median [90 %]); the slowest mode decays with time constant {tau}; "
            f"{100 * float(np.mean(d <= 0)):.1f} % of the draws are unstable (damping &le; 0).</p>"
        )
    return "".join(out)


# (g) diagnostics
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


# ----------------------------------------------------------------------------
# (h) provenance
def _plain(value):
    """A value of the record as text: dicts as 'key: value' pairs, lists joined, no JSON braces."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "none"
    if value is None:
        return "none"
    return _fmt(value) if isinstance(value, float) else str(value)


def _step_text(st):
    """One preprocessing step in words: its parameters (if any), then what it found."""
    if st.get("step") == "channel_positions":
        return (
            f"positions of {st.get('n_channels', 0)} channel(s) in the {st.get('coord_frame') or 'unknown'} "
            "frame, in m (used for the scalp maps; listed under 'All attributes')"
        )
    params = st.get("params") or {}
    parts = [f"parameters: {_plain(params)}"] if params else []
    parts += [f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in st.items() if k not in ("step", "params")]
    return "; ".join(parts)


def _add_provenance(rep, attrs):
    section = "Provenance"
    tags = ("provenance",)
    steps = _json_attr(attrs, "preprocessing", None)
    if isinstance(steps, list) and steps:
        rows = []
        for i, st in enumerate(steps, 1):
            if isinstance(st, dict):
                rows.append((i, str(st.get("step", "?")).replace("_", " "), _step_text(st)))
            else:
                rows.append((i, str(st), ""))
        rep.add_html(
            _table(["#", "step", "parameters and results"], rows), title="Preprocessing", section=section, tags=tags
        )
    else:
        rep.add_html("<p>No preprocessing record in the result.</p>", title="Preprocessing", section=section, tags=tags)
    pri = _json_attr(attrs, "priors", None)
    if isinstance(pri, dict):
        try:
            rows = _priors_from_attrs(attrs).table()
            rep.add_html(_table(["name", "unit", "prior"], rows), title="Priors", section=section, tags=tags)
        except (KeyError, TypeError, ValueError) as err:
            rep.add_html(
                f"<p>The priors could not be read: {_esc(err)}</p>", title="Priors", section=section, tags=tags
            )
    else:
        rep.add_html("<p>No priors recorded in the result.</p>", title="Priors", section=section, tags=tags)
    shown = {}
    for k, v in attrs.items():
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        shown[k] = v
    rep.add_code(
        json.dumps(shown, indent=2, default=str),
        title="All attributes of the result",
        language="json",
        section=section,
        tags=tags,
    )


# ----------------------------------------------------------------------------
# evoked-response fits: the same sections per (condition, channel)
def _erp_view(idata, cond):
    """One condition of an ERP result, shaped like a per-channel result.

    Posterior, sample stats, predictions and data are selected at the
    condition; the per-fit attributes (keyed 'condition/channel') are keyed by
    channel, so the spectral report's tables and figures apply unchanged.
    """
    import arviz as az

    groups = {}
    for g in idata.groups():
        ds = getattr(idata, g)
        groups[g] = ds.sel(condition=cond) if "condition" in ds.dims else ds
    view = az.InferenceData(**groups)
    attrs = dict(idata.attrs)
    prefix = f"{cond}/"
    for key in ("diagnostics", "adequacy", "regime", "linear_vs_nonlinear", "v_branch", "stochastic_check"):
        d = _json_attr(attrs, key, {})
        if isinstance(d, dict):
            attrs[key] = json.dumps({k[len(prefix) :]: v for k, v in d.items() if k.startswith(prefix)})
    view.attrs.update(attrs)
    return view


def _check_erp_result(idata):
    groups = set(idata.groups())
    missing = [g for g in ("posterior", "observed_data", "posterior_predictive", "constant_data") if g not in groups]
    if missing:
        raise JRFitError(f"The ERP fit result lacks the group(s) {missing}; it has {sorted(groups)}.")
    for name, ds in (("posterior", idata.posterior), ("observed_data", idata.observed_data)):
        if "condition" not in ds.dims or "channel" not in ds.dims:
            raise JRFitError(f"The ERP result's {name} lacks the 'condition'/'channel' dimensions.")


def _make_erp_report(idata, source, fname, title, cycles):
    import mne

    _check_erp_result(idata)
    attrs = dict(idata.attrs)
    conds = [str(c) for c in idata.posterior.coords["condition"].values]
    channels = [str(c) for c in idata.posterior.coords["channel"].values]
    if title is None:
        name = Path(str(attrs.get("input_file") or source or "")).name
        title = f"jrfit ERP fit: {name}" if name else "jrfit ERP fit"
    t0 = time.perf_counter()
    logger.info("ERP report of %d condition(s) x %d channel(s) -> %s", len(conds), len(channels), fname)
    rep = mne.Report(title=title, verbose=False)
    add_fig = _figure_adder(rep)
    views = {c: _erp_view(idata, c) for c in conds}
    _add_erp_summary(rep, idata, views, conds, channels, attrs, source)
    if len(conds) > 1:
        _add_erp_comparison(rep, idata, conds, channels, add_fig)
    for c in conds:
        view = views[c]
        diag = _json_attr(view.attrs, "diagnostics", {})
        for ch in channels:
            t1 = time.perf_counter()
            _add_erp_channel(rep, view, c, ch, dict(view.attrs), diag, add_fig, cycles)
            logger.info("  %s/%s: %.1f s", c, ch, time.perf_counter() - t1)
    _add_provenance(rep, attrs)
    return _save(rep, fname, t0)


def _add_erp_summary(rep, idata, views, conds, channels, attrs, source):
    post = idata.posterior
    se_method = _json_attr(attrs, "se_method", {})
    meta = [
        ("input file", attrs.get("input_file", "n/a")),
        ("result file", source or "(in memory)"),
        (
            "conditions",
            ", ".join(
                f"{c} ({int(n)} trials, SE from {se_method.get(c, 'n/a')})"
                for c, n in zip(conds, idata.constant_data["n_trials"].values)
            ),
        ),
        ("channels", ", ".join(channels)),
        ("window", f"{_fmt(attrs.get('tmin'))} to {_fmt(attrs.get('tmax'))} s"),
        ("forward model", attrs.get("forward_model", "n/a")),
        ("stimulus pulse", attrs.get("pulse_shape", "n/a")),
        ("likelihood", attrs.get("likelihood", "n/a")),
        (
            "free JR constants",
            ", ".join(fit_free_params(idata))
            + " (the rest potential v: solved at the input at rest, held, or free; see Priors)",
        ),
        ("sampling", f"{post.sizes.get('chain', 0)} chains x {post.sizes.get('draw', 0)} draws"),
        ("seed", attrs.get("seed", "n/a")),
        ("jrfit version", attrs.get("jrfit_version", "n/a")),
        ("fit created", attrs.get("created", "n/a")),
        ("report created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
    ]
    banners, fit_banners, rows, n_fail, n_misfit = [], [], [], 0, 0
    for c in conds:
        view = views[c]
        diag = _json_attr(view.attrs, "diagnostics", {})
        lin = _json_attr(view.attrs, "linear_vs_nonlinear", {})
        regimes = _json_attr(view.attrs, "regime", {})
        adequacy = _json_attr(view.attrs, "adequacy", {})
        adequacy = adequacy if isinstance(adequacy, dict) else {}
        for ch in channels:
            status, d = _status(diag, ch)
            n_fail += status != "PASS"
            banners.append(_banner(f"{c} / {ch}", status, d))
            fits = _fits_label(adequacy.get(ch))
            n_misfit += fits == "MISFIT"
            fit_banners.append(_adequacy_banner(f"{c} / {ch}", adequacy.get(ch), erp=True))
            li = lin.get(ch, {}) if isinstance(lin, dict) else {}
            rows.append(
                [
                    _esc(c),
                    _esc(ch),
                    _bad(status, status != "PASS"),
                    _bad(fits, fits != "fits"),
                    _esc(_fmt(li.get("r2"), 3)),
                    _esc(_interval(1e3 * channel_draws(view, "onset", ch), 3)),
                    _esc(_interval(channel_draws(view, "gain", ch), 3)),
                    _esc(f"{100 * _float(li.get('rel_l2')):.1f} %"),
                    _esc(_main_regime(regimes.get(ch) if isinstance(regimes, dict) else None)),
                ]
            )
    head = (
        f'<div class="alert alert-danger"><strong>{n_fail} of {len(rows)} fit(s) FAILED the '
        f"convergence checks.</strong></div>"
        if n_fail
        else f'<div class="alert alert-success">All {len(rows)} fit(s) passed the convergence checks.</div>'
    )
    head += (
        f'<div class="alert alert-danger"><strong>{n_misfit} of {len(rows)} fit(s): the model does not '
        "fit the data</strong> (posterior-predictive check; see each fit).</div>"
        if n_misfit
        else ""
    )
    overview = _table(
        [
            "condition",
            "channel",
            "sampler",
            "model vs data",
            "R\u00b2 (median fit)",
            "onset (ms), median [90 %]",
            "gain (uV/mV), median [90 %]",
            "linearised vs nonlinear (rel. L2)",
            "most probable regime",
        ],
        rows,
        raw=True,
    )
    guide = (
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
    body = (
        head
        + _table(["", ""], meta)
        + "<h5>Convergence</h5>"
        + "".join(banners)
        + "<h5>Model against data</h5>"
        + "".join(fit_banners)
        + "<h5>Fits</h5>"
        + overview
        + guide
    )
    rep.add_html(body, title="Summary", section="Summary", tags=("summary",))


def _add_erp_comparison(rep, idata, conds, channels, add_fig):
    """Side-by-side posteriors of two or more conditions, per channel."""
    from jrfit.viz import figures as viz

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
    from jrfit.viz import figures as viz

    section = f"{cond} / {ch}"
    tags = (_tag(ch), _tag(cond))
    status, d = _status(diag, ch)
    adequacy = _json_attr(attrs, "adequacy", {})
    rep.add_html(
        _banner(f"{cond} / {ch}", status, d)
        + _adequacy_banner(f"{cond} / {ch}", adequacy.get(ch) if isinstance(adequacy, dict) else None, erp=True),
        title=f"{cond}/{ch}: status",
        section=section,
        tags=tags,
    )
    fig = viz.plot_erp_fit(
        view, ch, cond, title=f"{cond} / {ch}: data and posterior predictive ({'PASS' if status == 'PASS' else status})"
    )
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
    add_fig(fig, f"{cond}/{ch}: ERP and fit", _erp_caption(view, ch, attrs), section, tags)
    rep.add_html(_param_table(view, ch), title=f"{cond}/{ch}: parameters", section=section, tags=tags)
    fig = viz.plot_prior_posterior(view, ch)
    add_fig(
        fig,
        f"{cond}/{ch}: prior and posterior",
        (
            "Prior (grey) and posterior (blue) densities; dashed line: posterior median. Contraction "
            "= 1 - var(posterior)/var(prior): near 1 the ERP determined the parameter, near 0 it is "
            "held by its prior."
        ),
        section,
        tags,
    )
    names, corr = posterior_correlation(view, ch)
    if len(names) >= 2:
        pairs = top_pairs(names, corr, _N_PAIRS)
        fig = viz.plot_pair(view, ch, pairs=[(x, y) for x, y, _ in pairs])
        add_fig(
            fig,
            f"{cond}/{ch}: most correlated pairs",
            (
                "Posterior draws of the most correlated pairs (colour: chain). Gain, pulse amplitude "
                "and the synaptic gains trade off: the ERP's size constrains their product."
            ),
            section,
            tags,
        )
    _add_dynamics(rep, view, ch, attrs, add_fig, cycles, section, tags)
    rep.add_html(_diagnostics_html(view, ch, status, d), title=f"{cond}/{ch}: diagnostics", section=section, tags=tags)
    trace_vars = fit_free_params(view)[:3] + [n for n in ("v", "onset", "gain") if n in view.posterior]
    fig = viz.plot_trace(view, ch, trace_vars)
    add_fig(
        fig,
        f"{cond}/{ch}: traces and ranks",
        ("Traces of each chain (divergent transitions: red ticks) and rank histograms."),
        section,
        tags,
    )


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
