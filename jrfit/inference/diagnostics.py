"""Convergence diagnostics of a fit: R-hat, effective sample sizes, divergences, BFMI.

:func:`diagnose` checks a NUTS fit (spectral and ERP routes) against
:data:`THRESHOLDS`, :func:`diagnose_smc` an SMC fit (simulation route) against
:data:`SMC_THRESHOLDS`; a failed R-hat names its worst variable and says
whether the chains sit in separate modes (:func:`chain_separation`).
"""

from __future__ import annotations

import numpy as np

from jrfit.utils.log import logger, quiet_arviz_shapes

__all__ = [
    "THRESHOLDS",
    "SMC_THRESHOLDS",
    "diagnose",
    "diagnose_smc",
    "chain_separation",
    "status_line",
    "warn_failures",
]

THRESHOLDS = dict(r_hat=1.01, ess_bulk=400.0, ess_tail=400.0, divergences=0, bfmi=0.3)
"""Convergence criteria: a fit failing any of them is marked as failed."""

SMC_THRESHOLDS = dict(r_hat=1.01, ess_bulk=400.0)
"""Criteria of the SMC (simulation-route) fits: R-hat across independent SMC
runs and the bulk ESS of the final particles (no divergences or BFMI exist)."""


def _worst_rhat_ess(post):
    """Largest R-hat and smallest bulk/tail ESS over the sampled scalar variables.

    Constant variables (e.g. a fixed rest potential kept as a deterministic)
    have no R-hat and are left out. ``r_hat_var`` names the variable with the
    largest R-hat.
    """
    import arviz as az

    names = [n for n in post.data_vars if post[n].ndim == 2 and np.ptp(post[n].values) > 0]
    with np.errstate(all="ignore"), quiet_arviz_shapes():
        rhat = az.rhat(post[names])
        ess_b = az.ess(post[names], method="bulk")
        ess_t = az.ess(post[names], method="tail")
    r = {n: float(rhat[n]) if np.isfinite(float(rhat[n])) else np.inf for n in names}
    # rank-normalised R-hat is the same for x and log x: name the natural-unit variable
    worst = max(names, key=lambda n: (r[n], not n.startswith("log_")))
    return dict(
        r_hat=float(max(float(rhat[n]) for n in names)),
        r_hat_var=str(worst),
        ess_bulk=float(min(float(ess_b[n]) for n in names)),
        ess_tail=float(min(float(ess_t[n]) for n in names)),
    )


def chain_separation(draws):
    """Whether chains sit in separate modes: some two chains' central 90 % intervals do not overlap.

    Parameters
    ----------
    draws : ndarray, shape (n_chains, n_draws)
        One variable's draws.

    Returns
    -------
    separate : bool
    medians : ndarray, shape (n_chains,)
        Each chain's median.
    """
    x = np.asarray(draws, float)
    lo, hi = np.quantile(x, 0.05, axis=1), np.quantile(x, 0.95, axis=1)
    separate = bool(np.any(lo[:, None] > hi[None, :]))
    return separate, np.median(x, axis=1)


def _rhat_problem(post, d, threshold):
    """The R-hat line of a failed fit, saying which variable and whether its chains found separate modes."""
    name = d.get("r_hat_var")
    text = f"R-hat {d['r_hat']:.3f} > {threshold}"
    if name is None or name not in post:
        return text
    separate, med = chain_separation(post[name].values)
    meds = ", ".join(f"{m:.3g}" for m in med)
    if separate:
        return f"{text} ({name}: the chains sit in separate modes, chain medians {meds})"
    return f"{text} (worst: {name}, chain medians {meds})"


def diagnose(idata):
    """Convergence diagnostics of one fit.

    Returns
    -------
    diag : dict
        ``r_hat`` (max) and ``r_hat_var`` (the variable it belongs to),
        ``ess_bulk`` and ``ess_tail`` (min), ``divergences`` (count), ``bfmi``
        (min over chains), ``passed`` (bool) and ``problems`` (list of str):
        what failed, against :data:`THRESHOLDS`; a failed R-hat says whether
        the chains sit in separate modes (:func:`chain_separation`).
    """
    import arviz as az

    d = dict(
        _worst_rhat_ess(idata.posterior),
        divergences=int(idata.sample_stats["diverging"].sum()),
        bfmi=float(np.min(az.bfmi(idata))),
    )
    problems = []
    T = THRESHOLDS
    if idata.posterior.sizes.get("chain", 1) < 2:
        problems.append("R-hat needs at least two chains (--chains 2 or more): convergence not checked")
    elif not d["r_hat"] <= T["r_hat"]:
        problems.append(_rhat_problem(idata.posterior, d, T["r_hat"]))
    problems += _ess_bulk_problem(d, T)
    if not d["ess_tail"] >= T["ess_tail"]:
        problems.append(f"tail ESS {d['ess_tail']:.0f} < {T['ess_tail']:.0f}")
    if d["divergences"] > T["divergences"]:
        problems.append(f"{d['divergences']} divergent transitions")
    if not d["bfmi"] >= T["bfmi"]:
        problems.append(f"BFMI {d['bfmi']:.2f} < {T['bfmi']}")
    return _verdict(d, problems)


def diagnose_smc(idata):
    """Diagnostics of an SMC fit: R-hat across chains, bulk/tail ESS of the particles."""
    d = dict(
        _worst_rhat_ess(idata.posterior),
        divergences=0,
    )
    problems = []
    if not d["r_hat"] <= SMC_THRESHOLDS["r_hat"]:
        problems.append(_rhat_problem(idata.posterior, d, SMC_THRESHOLDS["r_hat"]))
    problems += _ess_bulk_problem(d, SMC_THRESHOLDS)
    return _verdict(d, problems)


def _ess_bulk_problem(d, thresholds):
    """The bulk-ESS line of a failed fit (a list: empty when it passed)."""
    if d["ess_bulk"] >= thresholds["ess_bulk"]:
        return []
    return [f"bulk ESS {d['ess_bulk']:.0f} < {thresholds['ess_bulk']:.0f}"]


def _verdict(d, problems):
    """``d`` with ``passed`` (no problems) and ``problems`` added."""
    d["passed"] = not problems
    d["problems"] = problems
    return d


def status_line(diag, adequacy):
    """One fit's verdicts in words: the sampler's (:func:`diagnose`) and the model's (adequacy)."""
    status = "ok" if diag["passed"] else "FAILED: " + "; ".join(diag["problems"])
    if adequacy["fits"]:
        return status + "; model fits the data"
    return status + "; MODEL MISFIT: " + "; ".join(adequacy["problems"])


def warn_failures(who, diag, adequacy):
    """Log a warning for a fit that failed its diagnostics or whose model does not fit the data."""
    if not diag["passed"]:
        logger.warning(f"{who}: the fit did not pass its diagnostics ({'; '.join(diag['problems'])}).")
    if not adequacy["fits"]:
        logger.warning(f"{who}: the model does not fit the data ({'; '.join(adequacy['problems'])}).")
