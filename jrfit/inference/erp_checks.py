"""Checks of an ERP fit at its posterior median: the linearised response and the stochastic column.

The ERP route fits the deterministic, nonlinear response of a column at rest
(:mod:`jrfit.inference.erp`). At the posterior median two questions are
checked and recorded: how far the linearised response is from the nonlinear
one (:func:`linear_vs_nonlinear`), and how far the trial average of a column
driven by noise is from the deterministic response (:func:`stochastic_check`).
"""

from __future__ import annotations

import numpy as np

from jrfit.utils.log import logger

__all__ = ["stochastic_check", "linear_vs_nonlinear", "stochastic_at_median", "erp_params"]


def stochastic_check(
    times,
    params,
    v,
    amplitude,
    onset,
    width,
    shape="jr",
    *,
    gain=1.0,
    n_trials=100,
    sigma=None,
    warmup=0.5,
    dt=1e-4,
    seed=0,
):
    """Trial average of the stochastic column against its deterministic response.

    Each trial starts at rest ``warmup`` s before ``times[0]`` and receives
    the background input with white noise of intensity ``sigma`` (/s^0.5)
    plus the stimulus pulse (:func:`jrfit.simulators.column.integrate`, splitting);
    the trials are averaged and baseline-corrected over ``times < 0`` as the
    data are. The deterministic response is :func:`jrfit.model.erp.erp_response`.

    Returns
    -------
    check : dict
        ``rel_l2`` (relative L2 difference of the two, in the ERP's units),
        ``sigma``, ``n_trials``, and the two curves (``stochastic``,
        ``deterministic``, uV with ``gain``).
    """
    from jrfit.model.erp import erp_response, pulse
    from jrfit.model.column import operating_point
    from jrfit.simulators.column import integrate

    sigma = float(params.sigma if sigma is None else sigma)
    times = np.asarray(times, float)
    step = times[1] - times[0]
    q = max(1, int(round(step / dt)))
    dt = step / q
    t0 = times[0] - warmup
    n = int(round((times[-1] - t0) / dt)) + 1
    tg = t0 + dt * np.arange(n)
    op = operating_point(v, params)
    mu = float(op["p"])
    rng = np.random.default_rng(seed)
    p = (
        mu
        + pulse(tg, amplitude, onset, width, shape)[None, :]
        + sigma / np.sqrt(dt) * rng.standard_normal((n_trials, n))
    )
    y0 = np.array([op["y0"], op["y1"], op["y2"], 0.0, 0.0, 0.0], float)
    batch = params.replace(mu=np.full(n_trials, mu))
    traj = integrate(batch, p, dt, y_init=np.repeat(y0[:, None], n_trials, axis=1), method="splitting")
    v_t = np.asarray(traj.v, float).reshape(n_trials, -1)
    idx = np.round((times - t0) / dt).astype(int)
    avg = v_t[:, idx].mean(axis=0)
    avg = avg - avg[times < 0].mean() if np.any(times < 0) else avg - v
    det = erp_response(times, params, amplitude=amplitude, onset=onset, width=width, shape=shape, v=v)
    rel = float(np.linalg.norm(avg - det) / max(np.linalg.norm(det), 1e-300))
    return dict(
        rel_l2=rel,
        sigma=sigma,
        n_trials=int(n_trials),
        stochastic=(gain * avg).tolist(),
        deterministic=(gain * det).tolist(),
    )


def erp_params(priors, d):
    """JRParams of posterior draws (p as the background input mu)."""
    vals = {k: d[k] for k in priors.free}
    return priors.fixed.replace(mu=d["p"], **vals)


def linear_vs_nonlinear(model, med, key):
    """Relative L2 difference of the linearised and the nonlinear response at the posterior median ``med``.

    NaN where the rest state is unstable at the median (no linear response).
    """
    from jrfit.model.erp import linear_erp_response

    priors = model.priors
    params = erp_params(priors, med)
    nonlin = model.response_at(med)
    try:
        lin = linear_erp_response(
            model.times,
            params,
            amplitude=med["amplitude"],
            onset=med["onset"],
            width=med["width"],
            shape=priors.shape,
            v=med["v"],
        )
        return float(np.linalg.norm(nonlin - lin) / max(np.linalg.norm(nonlin), 1e-300))
    except Exception as err:  # unstable at the median: no linear response
        logger.info(f"{key}: no linearised response at the posterior median ({err})")
        return float("nan")


def stochastic_at_median(model, med, seed):
    """The stochastic column (background noise sigma, trial average) at the median (:func:`stochastic_check`)."""
    try:
        sc = stochastic_check(
            model.times,
            erp_params(model.priors, med),
            med["v"],
            med["amplitude"],
            med["onset"],
            med["width"],
            model.priors.shape,
            gain=med["gain"],
            seed=seed,
        )
        return dict(rel_l2=sc["rel_l2"], sigma=sc["sigma"], n_trials=sc["n_trials"], stochastic_uv=sc["stochastic"])
    except Exception as err:  # e.g. a diverging noisy trial: reported, not fatal
        return dict(rel_l2=float("nan"), error=str(err))
