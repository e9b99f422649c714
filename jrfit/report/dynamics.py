"""(f) A fit's dynamics: the bifurcation diagram at the posterior-median constants, the regimes, the stability."""

from __future__ import annotations

import functools
import time

import numpy as np

from jrfit import viz
from jrfit.errors import JRFitError
from jrfit.report.markup import _esc, _fmt, _interval, _table
from jrfit.report.record import _per_fit, _priors_from_attrs
from jrfit.utils.log import logger
from jrfit.viz.results import channel_draws, fit_free_params, unit_of

_MAX_BIF_CACHE = 32
# labels of the stability summary the fit records (attrs['stability'])
_STABILITY_LABELS = {
    "damping_median": "damping, posterior median (/s)",
    "damping_q05": "damping, 5 % quantile (/s)",
    "frac_near_boundary": "share of draws near the stability boundary",
}


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


def _p_range(p):
    """A round range of the input p, in /s, containing the default (-60, 360) /s and the draws ``p``."""
    lo, hi = np.quantile(p, [0.005, 0.995]) if p.size else (0.0, 0.0)
    return (float(min(-60.0, 20 * np.floor((lo - 20) / 20))), float(max(360.0, 20 * np.ceil((hi + 20) / 20))))


def _add_dynamics(sec, idata, ch, attrs, cycles):
    """The bifurcation diagram with the posterior's operating points, the regimes and the distance to the boundary."""
    p = channel_draws(idata, "p", ch)
    p = p[np.isfinite(p)]
    params = _posterior_constants(idata, ch, attrs)
    consts = ", ".join(f"{n} = {_fmt(getattr(params, n))} {unit_of(n)}" for n in fit_free_params(idata))
    bif = _diagram(sec, ch, params, _p_range(p), cycles, consts)
    if bif is not None and "v" not in idata.posterior:
        _add_diagram_of_p(sec, bif, p, consts)
    elif bif is not None:
        fig = viz.plot_posterior_bifurcation(idata, ch, bif)
        sec.figure(
            fig,
            "bifurcation diagram",
            (
                f"Fixed points and limit cycles against the input p at the posterior-median "
                f"constants ({consts}; the other constants fixed), with posterior draws of the "
                f"operating point (p, v) in cyan. Only the constants are fixed at their medians: "
                f"the diagram of each draw differs slightly."
                + ("" if cycles else " Limit cycles not computed (cycles=False).")
            ),
        )
    sec.html(_stability_html(idata, ch, attrs), "regime and stability")
    if "damping" in idata.posterior:
        fig = viz.plot_stability(idata, ch)
        sec.figure(
            fig,
            "distance to the stability boundary",
            (
                "Posterior of damping = -Re(leading eigenvalue) of the Jacobian at the operating "
                "point, in /s: the decay rate of the slowest mode. 1/damping is its time "
                "constant; damping near 0 means the column is close to a Hopf bifurcation."
            ),
        )


def _diagram(sec, ch, params, p_range, cycles, consts):
    """The (cached) bifurcation diagram at ``params`` over ``p_range`` (/s); None, with a warning item, if it fails."""
    t0 = time.perf_counter()
    try:
        bif = _bifurcation_cached(params, p_range, bool(cycles))
    except JRFitError as err:
        logger.warning("Bifurcation diagram of channel %s failed: %s", ch, err)
        bif = None
        sec.html(
            f'<div class="alert alert-warning">The bifurcation diagram at the '
            f"posterior-median constants ({_esc(consts)}) could not be computed: "
            f"{_esc(err)}</div>",
            "bifurcation diagram",
        )
    logger.info("  bifurcation diagram (%s cycles): %.1f s", "with" if cycles else "without", time.perf_counter() - t0)
    return bif


def _add_diagram_of_p(sec, bif, p, consts):
    """The diagram with the posterior interval of p (simulation route: no fixed point, so no (p, v) per draw)."""
    fig = viz.plot_bifurcation(bif).figure
    ax = fig.axes[0]
    lo_p, med_p, hi_p = np.quantile(p, [0.05, 0.5, 0.95]) if p.size else (np.nan,) * 3
    ax.axvspan(lo_p, hi_p, color="c", alpha=0.2, lw=0)
    ax.axvline(med_p, color="c", lw=1.2)
    sec.figure(
        fig,
        "bifurcation diagram",
        (
            f"Fixed points and limit cycles against the input p at the posterior-median constants "
            f"({consts}); cyan: the posterior median and 90 % interval of p "
            f"({_fmt(med_p)} [{_fmt(lo_p)}, {_fmt(hi_p)}] /s) from the simulation route, which "
            f"does not assume a fixed point."
        ),
    )


def _stability_html(idata, ch, attrs):
    reg = _per_fit(attrs, "regime").get(ch)
    out = []
    if isinstance(reg, dict) and reg:
        rows = [
            (label, f"{100 * float(frac):.1f} %") for label, frac in sorted(reg.items(), key=lambda kv: -float(kv[1]))
        ]
        out.append("<p>Dynamical regime of the posterior draws (jrfit.dynamics.regime):</p>")
        out.append(_table(["regime", "fraction of draws"], rows))
    else:
        out.append("<p>No regime fractions recorded in the result.</p>")
    s = _per_fit(attrs, "stability").get(ch)
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
