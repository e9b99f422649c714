"""(a) The summary of a spectral fit: facts, verdicts, what the spectrum identifies, routes, channels, scalp maps."""

from __future__ import annotations

import numpy as np

from jrfit import viz
from jrfit.report.markup import _bad, _esc, _fmt, _float, _interval, _main_regime, _table
from jrfit.report.record import _json_attr, _per_fit
from jrfit.report.sections import _add_summary_html, _meta_rows, _Section, _SummarySpec
from jrfit.report.verdicts import _status, _verdict_cells
from jrfit.utils.log import logger
from jrfit.viz.results import channel_draws, unit_of

_HEADER = [
    "channel",
    "sampler",
    "model vs data",
    "peak frequency (Hz), median [90 %]",
    "damping (/s), median [90 %]",
    "most probable regime",
    "n_eff (averaged periodograms)",
]
_GUIDE = (
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


def _add_summary(rep, idata, channels, attrs, diag, source, add_fig=None, detail="full", many=False):
    """The summary section; beyond a few channels (``many``) it stands above the collapsed sections."""
    fmin, fmax = attrs.get("fmin"), attrs.get("fmax")
    band = f"{_fmt(fmin)}-{_fmt(fmax)} Hz" if fmin is not None and fmax is not None else "n/a"
    free_note = (
        " (plus the operating point v; p = p(v))"
        if "v" in idata.posterior
        else " (plus the input p and the noise sigma; no fixed point assumed)"
    )
    meta = _meta_rows(idata, attrs, source, [("channels", ", ".join(channels)), ("frequency band", band)], free_note)
    statuses = {ch: _status(diag, ch) for ch in channels}
    adequacy = _per_fit(attrs, "adequacy")
    guide = _GUIDE
    if detail == "compact":
        guide += (
            f"<p><em>Compact view</em> ({len(channels)} channels): each channel's section shows its verdicts, "
            "spectrum and fit, parameters and diagnostics (traces only where the sampler failed). "
            "<code>jrfit report RESULT.nc --detail full</code> draws every figure.</p>"
        )
    spec = _SummarySpec(
        noun="channel",
        meta=meta,
        fits=[(ch, statuses[ch], adequacy.get(ch)) for ch in channels],
        header=_HEADER,
        rows=_channel_rows(idata, channels, attrs, statuses, adequacy),
        guide=guide,
        extras=_identified_html(idata, channels, attrs) + _truth_html(idata, channels, attrs) + _route_html(attrs),
        many=many,
    )
    # collapsed sections: the summary stays open above them
    sec = _Section(rep, add_fig, None if many else "Summary", ("summary",))
    _add_summary_html(sec, spec)
    fig = _scalp_maps(idata, channels, attrs, statuses) if add_fig is not None else None
    if fig is not None:
        sec.figure(
            fig,
            "Scalp maps",
            "Posterior medians at the channels' positions (from the preprocessing record; "
            "regions at their members' mean position); red dots: channels that failed the sampler's checks.",
        )


def _channel_rows(idata, channels, attrs, statuses, adequacy):
    """Rows of the overview table: verdicts, peak frequency, damping, regime and n_eff of each channel."""
    regimes = _per_fit(attrs, "regime")
    n_eff = _json_attr(attrs, "n_eff", {})
    rows = []
    for ch in channels:
        pk = channel_draws(idata, "peak_freq", ch)
        dm = channel_draws(idata, "damping", ch)
        rows.append(
            [
                _esc(ch),
                *_verdict_cells(statuses[ch][0], adequacy.get(ch)),
                _esc(_interval(pk, 3)) if pk is not None else "n/a",
                _esc(_interval(dm, 3)) if dm is not None else "n/a",
                _esc(_main_regime(regimes.get(ch))),
                _esc(_fmt(n_eff.get(ch), 3)) if isinstance(n_eff, dict) else "n/a",
            ]
        )
    return rows


def _scalp_maps(idata, channels, attrs, statuses):
    """Scalp maps of the posterior medians, where the record holds the positions of 4 channels or more."""
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
