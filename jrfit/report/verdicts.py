"""The two verdicts of every fit: did the sampler converge (diagnostics), does the model fit the data (adequacy).

A fit is described by a triple ``(label, (status, diagnostics), adequacy)``:
its label in the report (a channel, or 'condition / channel'), the
convergence status from :func:`_status` with the recorded diagnostics, and
the recorded adequacy check (a dict, or None)."""

from __future__ import annotations

from jrfit.report.markup import _bad, _esc, _ess, _fmt, _float, _rhat


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


def _verdict_cells(status, a):
    """The 'sampler' and 'model vs data' cells of a summary row (HTML; red where flagged)."""
    fits = _fits_label(a)
    return [_bad(status, status != "PASS"), _bad(fits, fits != "fits")]


def _summary_banners(fits, many, erp=False):
    """Convergence and adequacy banners of the fits: every one's, or when ``many`` only the flagged ones.

    Parameters
    ----------
    fits : list of (str, (str, dict), dict | None)
        Label, (status, diagnostics) and adequacy record of each fit.
    many : bool
        List only the fits that failed a check, after a line counting the others.
    erp : bool
        The fits are of evoked responses (the adequacy banner's wording).

    Returns
    -------
    conv, adequacy : str
        HTML of the convergence banners and of the adequacy banners.
    """
    conv = "".join(_banner(label, *st) for label, st, _ in fits if not many or st[0] != "PASS")
    adequacy = "".join(_adequacy_banner(label, a, erp) for label, _, a in fits if not many or _fits_label(a) != "fits")
    if many:
        n_ok = sum(st[0] == "PASS" and _fits_label(a) == "fits" for _, st, a in fits)
        note = (
            f"<p>{n_ok} of {len(fits)} channels passed both checks (see the table below); "
            "only the others are listed here.</p>"
        )
        conv = note + conv
        adequacy = adequacy or "<p>The model fits the data of every channel (posterior-predictive check).</p>"
    return conv, adequacy


def _verdict_head(fits, noun, warn_unchecked=True):
    """Alerts opening the summary: how many fits failed the convergence checks, and how many misfit.

    Parameters
    ----------
    fits : list of (str, (str, dict), dict | None)
        As for :func:`_summary_banners`.
    noun : str
        What a fit is called ('channel', 'fit').
    warn_unchecked : bool
        Fits without recorded diagnostics get their own warning; if False they count as failed.
    """
    n = len(fits)
    n_fail = sum(st[0] == "FAIL" or (not warn_unchecked and st[0] != "PASS") for _, st, _ in fits)
    n_unchecked = sum(st[0] == "UNCHECKED" for _, st, _ in fits) if warn_unchecked else 0
    n_misfit = sum(_fits_label(a) == "MISFIT" for _, _, a in fits)
    if n_fail:
        head = (
            f'<div class="alert alert-danger"><strong>{n_fail} of {n} {noun}(s) '
            f"FAILED the convergence checks.</strong></div>"
        )
    elif n_unchecked:
        head = f'<div class="alert alert-warning">{n_unchecked} of {n} {noun}(s) have no recorded diagnostics.</div>'
    else:
        head = f'<div class="alert alert-success">All {n} {noun}(s) passed the convergence checks.</div>'
    if n_misfit:
        head += (
            f'<div class="alert alert-danger"><strong>{n_misfit} of {n} {noun}(s): the model does '
            f"not fit the data</strong> (posterior-predictive check; see each {noun}).</div>"
        )
    return head
