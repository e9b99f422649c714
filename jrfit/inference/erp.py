"""PyMC model of a measured evoked response, NUTS sampling and results.

The column's nonlinear response to the stimulus pulse (:mod:`jrfit.model.erp`) is
mapped to the electrode as ``gain * (v(t) - v_rest) + offset`` (uV) and
compared with the averaged ERP through a Gaussian likelihood whose standard
deviation is the trial standard error (optionally plus an extra residual
term). Gradients come from the forward sensitivities of the RK4 integrator
(:class:`jrfit.inference.ops.ERPOp`), so PyMC's NUTS samples the posterior. As for
spectra, the model is compiled once per time grid and priors and reused for
every channel and condition (observed data swapped with ``pm.set_data``), and
a grid over the rest potential and pulse latency followed by L-BFGS finds the
mode the chains start from.

Residuals of ERPs are correlated in time (background EEG filtered by the
column, the recording's filters). By default the standardised residuals are a
stationary Gaussian process with the autocorrelation of the noise measured
with the standard error (:mod:`jrfit.inference.residuals`,
:attr:`~jrfit.data.evoked.ObservedEvoked.noise_acf`); with
``ERPPriors(residuals='independent')`` they are independent,
which makes intervals too narrow when they are not. Each fit is checked
against its posterior predictive (:func:`jrfit.inference.adequacy.erp_adequacy`), a
verdict on the model separate from the sampler's diagnostics.
"""

from __future__ import annotations

import json
import time

import numpy as np

from jrfit import __version__
from jrfit.utils.log import logger, quiet_compile, verbose
from jrfit.errors import FitError
from jrfit.inference.spectral import FitConfig, FitResult, _CompiledModel, _regime_fractions, diagnose, stable_branch
from jrfit.inference.priors import ERPPriors

__all__ = ["ERPModel", "fit_erp", "stochastic_check", "ERP_CONFIG"]

_PULSE = ("amplitude", "onset", "width")


class ERPModel(_CompiledModel):
    """The compiled PyMC model of one evoked waveform (reused across channels).

    Parameters
    ----------
    times : array, shape (n_times,)
        Uniform sample times of the data, in s relative to the stimulus.
    priors : ERPPriors | None
        Priors (default :class:`~jrfit.inference.priors.ERPPriors`).
    target_accept : float
        NUTS target acceptance rate.
    dt_max : float
        Largest RK4 step of the forward model, in s.
    """

    def __init__(self, times, priors=None, target_accept=0.9, dt_max=1e-3):
        import pymc as pm
        import pytensor.tensor as pt

        from jrfit.inference.ops import ERPOp, JRLinearOp, RestPotentialOp
        from jrfit.model.erp import peak_lag
        from jrfit.inference.residuals import gaussian_logp

        self.priors = priors = priors or ERPPriors()
        self.free = priors.free
        self.times = np.array(times, float)
        self.times.flags.writeable = False
        t0 = time.perf_counter()
        fixed = priors.fixed.as_dict()
        self.v_fixed = priors.v_fixed
        self.p_fixed = priors.p_fixed  # v solved from the input at rest (then v is not sampled)
        self.names = (() if self.v_fixed is not None else ("v",)) + self.free + _PULSE
        self.lag = peak_lag(priors.shape)
        op_fixed = {k: v for k, v in fixed.items() if k not in ("mu", "sigma")}
        if self.v_fixed is not None:
            op_fixed["v"] = float(self.v_fixed)
        self.op = ERPOp(self.times, self.names, op_fixed, shape=priors.shape, dt_max=dt_max)
        lin = JRLinearOp(self.free, fixed)
        n_t = self.times.size
        with pm.Model() as model:
            erp_obs = pm.Data("erp_obs", np.zeros(n_t))
            se = pm.Data("se", np.ones(n_t))
            jr = {}
            for name, pr in priors.jr.items():
                theta = pm.Normal(f"log_{name}", 0.0, pr.sd)
                jr[name] = pm.Deterministic(name, pr.median * pt.exp(theta))
            v_lo = pm.Data("v_lo", float(priors.v_bounds[0]))
            v_hi = pm.Data("v_hi", float(priors.v_bounds[1]))
            if self.p_fixed is not None:
                rest = RestPotentialOp(self.free, fixed, self.p_fixed, priors.v_bounds)
                v = pm.Deterministic("v", rest(pt.stack([jr[n] for n in self.free]))[0])
            elif self.v_fixed is None:
                v = pm.Uniform("v", v_lo, v_hi)
            else:
                v = pm.Deterministic("v", pt.as_tensor_variable(float(self.v_fixed)))
            theta_jr = pt.stack([v] + [jr[n] for n in self.free])
            _, p, log_jac, stable, *_ = lin(theta_jr, np.zeros(0))
            p = pm.Deterministic("p", p)
            if self.v_fixed is None and self.p_fixed is None:
                pm.Potential("p_prior", priors.p.tensor_logp(p) + log_jac)
            amp = pm.Deterministic(
                "amplitude", priors.amplitude.median * pt.exp(pm.Normal("log_amplitude", 0.0, priors.amplitude.sd))
            )
            o = priors.latency
            latency = pm.TruncatedNormal("latency", o.mean, o.sd, lower=o.lower, upper=o.upper)
            width = pm.Deterministic(
                "width", priors.width.median * pt.exp(pm.Normal("log_width", 0.0, priors.width.sd))
            )
            onset = pm.Deterministic("onset", latency - self.lag * width)
            # |gain| log-normal; its sign is data (set per channel by find_start)
            gain_sign = pm.Data("gain_sign", 1.0)
            gain = pm.Deterministic(
                "gain", gain_sign * priors.gain.median * pt.exp(pm.Normal("log_gain", 0.0, priors.gain.sd))
            )
            offset = pm.Normal("offset", priors.offset.mean, priors.offset.sd)
            theta_op = theta_jr if self.v_fixed is None else theta_jr[1:]
            resp, _ = self.op(pt.concatenate([theta_op, pt.stack([amp, onset, width])]))
            # the data's preprocessing (low-pass, baseline correction) applied to the response
            response_map = pm.Data("response_map", np.eye(n_t))
            mean = gain * pt.dot(response_map, resp) + offset
            sd = se
            if priors.noise is not None:
                noise = pm.HalfNormal("noise", priors.noise.sd)
                sd = pt.sqrt(se**2 + noise**2)
            # only stable rest states are admitted (a column with an unstable rest
            # state oscillates: it has no rest to respond from)
            ok = pt.and_(pt.gt(stable, 0.5), pt.all(pt.abs(resp) < 1e6))  # False for NaN too
            pm.Potential("stability", pt.switch(ok, 0.0, -np.inf))
            mean = pt.switch(ok, mean, erp_obs)
            # standardised residuals: a stationary Gaussian process with the noise's measured
            # autocorrelation (jrfit.inference.residuals; the identity: independent samples)
            whiten = pm.Data("whiten", np.eye(n_t))
            logdet_w = pm.Data("logdet_w", 0.0)
            n_kept = pm.Data("n_kept", float(n_t))
            sd = sd * pt.ones_like(erp_obs)
            pm.Potential("erp", gaussian_logp((erp_obs - mean) / sd, whiten, logdet_w, pt.log(sd).sum(), n_kept))
        self.model = model
        self.noise_acf = _white(n_t)
        self.response_map = np.eye(n_t)
        self.n_kept = n_t
        with quiet_compile():
            self.step = pm.NUTS(model=model, target_accept=target_accept)
        self._func = self.step._logp_dlogp_func
        self._func.set_extra_values({})
        self.compile_time = time.perf_counter() - t0
        logger.info(f"Compiled the ERP model ({n_t} samples) in {self.compile_time:.1f} s")

    # ------------------------------------------------------------------
    def set_data(self, erp, se, noise_acf=None, response_map=None):
        """Swap in one channel's ERP and standard error, in uV, its noise's autocorrelation and preprocessing.

        ``noise_acf`` (lags 0..n_times-1; None: independent samples) is used
        only with ``ERPPriors(residuals='correlated')``. ``response_map``
        (n_times x n_times; None: the identity) is the linear map of the
        data's preprocessing (:meth:`jrfit.data.evoked.ObservedEvoked.response_map`),
        applied to the model's response. No recompilation.
        """
        import pymc as pm

        from jrfit.inference.residuals import projected_whitening

        erp = np.asarray(erp, float)
        se = np.asarray(se, float)
        if erp.shape != self.times.shape or se.shape != self.times.shape:
            raise FitError(f"The ERP and its SE must have {self.times.size} samples (the model's time grid).")
        acf = (
            _white(self.times.size)
            if noise_acf is None or self.priors.residuals != "correlated"
            else np.asarray(noise_acf, float)
        )
        if acf.shape != self.times.shape or acf[0] != 1.0:
            raise FitError(f"The noise autocorrelation must have {self.times.size} lags, 1 at lag 0.")
        m = np.eye(self.times.size) if response_map is None else np.asarray(response_map, float)
        if m.shape != (self.times.size,) * 2 or not np.all(np.isfinite(m)):
            raise FitError(f"The response map must be a finite {self.times.size} x {self.times.size} matrix.")
        w, logdet, k, _ = projected_whitening(acf, m)
        with self.model:
            pm.set_data(dict(erp_obs=erp, se=se, whiten=w, logdet_w=logdet, n_kept=float(k), response_map=m))
        self.n_kept = k
        self.noise_acf = acf
        self.response_map = m

    def set_gain_sign(self, sign):
        """Fix the sign of the electrode gain (+1 or -1; no recompilation)."""
        import pymc as pm

        with self.model:
            pm.set_data(dict(gain_sign=float(sign)))
        self.gain_sign = float(sign)

    def _theta(self, v, jr, pulse):
        """The forward model's parameter vector (v only when it is free)."""
        return np.concatenate([[] if self.v_fixed is not None else [v], jr, pulse])

    def _unconstrained(self, v, jr, pulse, gain, offset, noise):
        pr = self.priors
        v_lo, v_hi = getattr(self, "_v_support", pr.v_bounds)
        o = pr.latency
        latency = float(np.clip(pulse[1] + self.lag * pulse[2], o.lower + 1e-6, o.upper - 1e-6))
        point = {f"log_{n}": np.asarray(np.log(jr[i] / pr.jr[n].median)) for i, n in enumerate(self.free)}
        if self.v_fixed is None and self.p_fixed is None:
            point["v_interval__"] = np.asarray(np.log((v - v_lo) / (v_hi - v)))
        point["log_amplitude"] = np.asarray(np.log(pulse[0] / pr.amplitude.median))
        point["latency_interval__"] = np.asarray(np.log((latency - o.lower) / (o.upper - latency)))
        point["log_width"] = np.asarray(np.log(pulse[2] / pr.width.median))
        point["log_gain"] = np.asarray(np.log(max(abs(gain), 1e-6) / pr.gain.median))
        point["offset"] = np.asarray(offset)
        if pr.noise is not None:
            point["noise_log__"] = np.asarray(np.log(max(noise, 1e-3)))
        return point

    def find_start(self, erp, se, n_grid=24, n_latency=9):
        """Grid over (v, latency), closed-form gain and offset, then L-BFGS.

        Stage 1 (NumPy): for each stable rest potential v on a grid and each
        pulse latency on a grid over its prior's central range, at the
        prior-median constants, the gain and offset follow by weighted least
        squares. Stage 2: L-BFGS on the compiled log density from the three
        best grid points, within the stable branch of the best.

        Returns
        -------
        point : dict
            Unconstrained start point.
        logp : float
        """
        from jrfit.inference.ops import _stable, jr_linear_numpy

        pr = self.priors
        self.set_branch(*pr.v_bounds)
        fixed = pr.fixed.as_dict()
        erp = np.asarray(erp, float)
        w = 1.0 / np.asarray(se, float) ** 2
        jr_med = np.array([pr.jr[n].median for n in self.free])
        pulse_med = np.array([pr.amplitude.median, 0.0, pr.width.median])
        fwd = self.op.forward  # the compiled model's forward model, value only here
        o = pr.latency
        latencies = np.clip(o.mean + o.sd * np.linspace(-1.5, 1.5, n_latency), o.lower + 1e-3, o.upper - 1e-3)
        v_lo, v_hi = pr.v_bounds
        if self.p_fixed is not None:  # the rest at the prior-median constants
            from jrfit.inference.ops import rest_potential

            v_grid = [rest_potential(jr_med, self.free, fixed, self.p_fixed, pr.v_bounds)[0]]
        else:
            v_grid = np.linspace(v_lo, v_hi, n_grid + 2)[1:-1] if self.v_fixed is None else [self.v_fixed]
        cands = []
        for v in v_grid:
            th_jr = np.concatenate([[v], jr_med])
            if not _stable(th_jr, self.free, fixed):
                continue
            _, p, logjac, _ = jr_linear_numpy(th_jr, np.zeros(0), self.free, fixed)
            lp_p = 0.0
            if self.v_fixed is None and self.p_fixed is None:
                lp_p = float(pr.p.logpdf(float(np.real(p)))) + float(np.real(logjac))
                if not np.isfinite(lp_p):
                    continue
            for latency in latencies:
                pulse = pulse_med.copy()
                pulse[1] = latency - self.lag * pulse[2]
                r = self.response_map @ fwd.response(self._theta(v, jr_med, pulse))
                if not np.all(np.isfinite(r)):
                    continue
                X = np.stack([r, np.ones_like(r)], axis=1)
                XtW = X.T * w
                coef = np.linalg.lstsq(XtW @ X + 1e-12 * np.eye(2), XtW @ erp, rcond=None)[0]
                chi2 = float(np.sum(w * (erp - X @ coef) ** 2))
                cands.append((-0.5 * chi2 + lp_p + o.logpdf(latency), v, pulse, coef))
        if not cands:
            where = f"at v = {self.v_fixed} mV" if self.v_fixed is not None else f"in the v range {pr.v_bounds} mV"
            raise FitError(
                f"No stable rest state {where} at the prior-median constants: change "
                "ERPPriors.v_fixed / v_bounds or the priors."
            )
        cands.sort(key=lambda c: -c[0])
        self.set_gain_sign(np.sign(cands[0][3][0]) or 1.0)
        cands = [c for c in cands if np.sign(c[3][0]) == self.gain_sign]
        if self.v_fixed is None and self.p_fixed is None:
            branch = stable_branch(cands[0][1], jr_med, self.free, fixed, pr.v_bounds)
            self.set_branch(*branch)
            cands = [c for c in cands if branch[0] < c[1] < branch[1]]
        else:  # v follows the constants (p_fixed) or is held: no branch to choose
            v_start = float(cands[0][1])
            branch = (v_start, v_start)
        resid = float(np.std(erp))
        starts = [
            self._unconstrained(v, jr_med, pulse, coef[0], coef[1], 0.1 * resid) for _, v, pulse, coef in cands[:3]
        ]
        point, lp = self.maximize(starts)
        self.branch = branch
        return point, lp


# ----------------------------------------------------------------------------
def _as_list(evoked):
    evs = list(evoked) if isinstance(evoked, (list, tuple)) else [evoked]
    if not evs:
        raise FitError("fit_erp needs at least one ObservedEvoked.")
    t0 = np.asarray(evs[0].times, float)
    for ev in evs[1:]:
        if np.asarray(ev.times).shape != t0.shape or not np.allclose(ev.times, t0):
            raise FitError(
                f"Conditions {evs[0].condition!r} and {ev.condition!r} have different time grids: "
                "prepare them with the same tmin, tmax and sampling rate."
            )
        if list(ev.ch_names) != list(evs[0].ch_names):
            raise FitError(
                f"Conditions {evs[0].condition!r} and {ev.condition!r} have different channels: "
                "pick the same channels for both."
            )
    names = [str(ev.condition) for ev in evs]
    if len(set(names)) != len(names):
        raise FitError(f"Condition names must differ, got {names}.")
    return evs


def _flat_draws(idata, names, rng, n):
    post = idata.posterior
    n_c, n_d = post["v"].shape
    sel = rng.choice(n_c * n_d, size=min(n, n_c * n_d), replace=False)
    return {k: post[k].values.reshape(-1)[sel] for k in names}


def _damping(idata, priors):
    """-Re(leading eigenvalue) at each draw's rest state, in /s (> 0: stable)."""
    from jrfit.model.column import eigenvalues

    post = idata.posterior
    shape = post["v"].shape
    vals = {k: post[k].values.ravel() for k in priors.free}
    from jrfit.model.params import JRParams

    v = post["v"].values.ravel()
    params = priors.fixed.replace(mu=post["p"].values.ravel(), **vals)
    params = JRParams(**{k: np.broadcast_to(x, v.shape) for k, x in params.as_dict().items()})
    ev = eigenvalues(v, params)
    return (-ev[..., 0].real).reshape(shape)


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


def _erp_params(priors, d):
    """JRParams of posterior draws (p as the background input mu)."""
    vals = {k: d[k] for k in priors.free}
    return priors.fixed.replace(mu=d["p"], **vals)


def _likelihood_text(priors):
    sd = "trial SE" + (" + residual noise" if priors.noise is not None else "")
    if priors.residuals == "independent":
        return f"ERP (Gaussian, independent samples, {sd})"
    return f"ERP (Gaussian, {sd}, standardised residuals correlated in time as the measured noise)"


def _white(n):
    acf = np.zeros(n)
    acf[0] = 1.0
    return acf


def _noise_acf(ev, ci):
    """The measured noise autocorrelation of channel ``ci`` (None where the evoked response has none)."""
    acf = getattr(ev, "noise_acf", None)
    if acf is None:
        logger.info(f"{ev.condition}: no noise autocorrelation recorded; residuals taken as independent.")
        return None
    return acf[ci]


ERP_CONFIG = FitConfig(draws=500, tune=500, target_accept=0.9, sampler="pymc")
"""Default sampler settings of ERP fits (PyMC's NUTS: the RK4 sensitivity Op
runs in Python; measured ESS 744/628 with these draws, see bench_erp.py)."""


@verbose
def fit_erp(evoked, *, priors=None, config=None, model=None, progress=True, verbose=None):
    """Fit the nonlinear JR evoked response to every channel and condition.

    Parameters
    ----------
    evoked : ObservedEvoked | list of ObservedEvoked
        Averaged responses (uV) with their standard errors; several conditions
        must share time grid and channels and are fitted with one compiled
        model.
    priors : ERPPriors | None
        Priors (default :class:`~jrfit.inference.priors.ERPPriors`).
    config : FitConfig | None
        Sampler settings (default :data:`ERP_CONFIG`).
    model : ERPModel | None
        A compiled model to reuse (its priors and time grid are used).
    progress : bool
        Log one line per fit.
    verbose : bool | str | None
        Log level for this call.

    Returns
    -------
    result : FitResult
        ``idata.posterior`` has dims (chain, draw, condition, channel);
        ``posterior_predictive`` holds ``erp_mean`` (model mean), ``erp``
        (with noise) and ``pulse`` (input, /s) for a subset of draws;
        ``observed_data`` the ERP and ``constant_data`` its standard error.
    """
    import arviz as az
    import xarray as xr

    from jrfit.inference.adequacy import erp_adequacy
    from jrfit.model.erp import linear_erp_response, pulse as pulse_fn
    from jrfit.inference.residuals import correlated_replicates

    evs = _as_list(evoked)
    config = config or ERP_CONFIG
    t_start = time.perf_counter()
    times = np.asarray(evs[0].times, float)
    if model is not None and priors is not None and priors != model.priors:
        raise FitError("fit_erp got both 'priors' and a compiled 'model' with other priors: pass only one.")
    if model is not None and (model.times.shape != times.shape or not np.allclose(model.times, times)):
        raise FitError("The compiled ERPModel has another time grid than the data: build ERPModel(times).")
    if model is None:
        model = ERPModel(times, priors, target_accept=config.target_accept)
    priors = model.priors
    conds = [str(ev.condition) for ev in evs]
    chans = list(evs[0].ch_names)
    rng = np.random.default_rng(config.seed)
    var_names = list(priors.free) + ["v", "p", "amplitude", "latency", "onset", "width", "gain", "offset"]
    if priors.noise is not None:
        var_names.append("noise")
    post = {n: np.empty((config.chains, config.draws, len(conds), len(chans))) for n in var_names + ["damping"]}
    stats_acc, diags, regimes, lin_vs, timings, branches, stoch, adequacy, noise = ({} for _ in range(9))
    n_ppc = config.n_ppc
    ppc_mean = np.empty((n_ppc, len(conds), len(chans), times.size))
    ppc = np.empty_like(ppc_mean)
    ppc_pulse = np.empty_like(ppc_mean)
    fwd = model.op.forward
    response_maps = [ev.response_map() for ev in evs]  # each condition's low-pass and baseline correction
    n_fit = 0
    for qi, ev in enumerate(evs):
        data = np.asarray(ev.data, float)
        se_all = np.asarray(ev.se, float)
        for ci, ch in enumerate(chans):
            key = f"{conds[qi]}/{ch}"
            t0 = time.perf_counter()
            y, se = data[ci], se_all[ci]
            if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
                raise FitError(f"{key}: the ERP or its standard error is not finite and positive; check the data.")
            model.set_data(y, se, _noise_acf(ev, ci), response_maps[qi])
            noise[key] = dict(
                lag1=float(model.noise_acf[1]),
                acf=model.noise_acf[:50].tolist(),
                n_components=model.n_kept,
                n_times=int(times.size),
            )
            start, _ = model.find_start(y, se, n_grid=config.n_grid)
            branches[key] = [float(x) for x in model.branch]
            idata = model.sample(start, config, int(config.seed) + 1000 * n_fit, progress)
            n_fit += 1
            diag = diagnose(idata)
            for n in var_names:
                post[n][:, :, qi, ci] = idata.posterior[n].values
            post["damping"][:, :, qi, ci] = _damping(idata, priors)
            for s in idata.sample_stats.data_vars:
                if idata.sample_stats[s].ndim == 2:
                    stats_acc.setdefault(
                        s,
                        np.zeros(
                            (config.chains, config.draws, len(conds), len(chans)), dtype=idata.sample_stats[s].dtype
                        ),
                    )
                    stats_acc[s][:, :, qi, ci] = idata.sample_stats[s].values
            # posterior predictive: model mean, noisy replicate, input pulse
            flat = _flat_draws(idata, var_names, rng, n_ppc)
            m = flat["v"].size
            for i in range(m):
                th = model._theta(flat["v"][i], [flat[n][i] for n in priors.free], [flat[n][i] for n in _PULSE])
                ppc_mean[i, qi, ci] = flat["gain"][i] * (model.response_map @ fwd.response(th)) + flat["offset"][i]
                ppc_pulse[i, qi, ci] = pulse_fn(
                    times, flat["amplitude"][i], flat["onset"][i], flat["width"][i], priors.shape
                )
            sd = se[None] if priors.noise is None else np.sqrt(se**2 + flat["noise"][:m, None] ** 2)
            ppc[:m, qi, ci] = ppc_mean[:m, qi, ci] + sd * correlated_replicates(rng, model.noise_acf, m)
            adequacy[key] = erp_adequacy(
                y,
                ppc_mean[:m, qi, ci],
                sd,
                model.noise_acf,
                times,
                response_map=model.response_map,
                rng=np.random.default_rng(int(config.seed) + n_fit),
            )
            # linearised vs nonlinear response at the posterior median
            med = {n: float(np.median(idata.posterior[n].values)) for n in var_names}
            params = _erp_params(priors, dict(med, p=med["p"]))
            nonlin = fwd.response(model._theta(med["v"], [med[n] for n in priors.free], [med[n] for n in _PULSE]))
            try:
                lin = linear_erp_response(
                    times,
                    params,
                    amplitude=med["amplitude"],
                    onset=med["onset"],
                    width=med["width"],
                    shape=priors.shape,
                    v=med["v"],
                )
                rel = float(np.linalg.norm(nonlin - lin) / max(np.linalg.norm(nonlin), 1e-300))
            except Exception as err:  # unstable at the median: no linear response
                rel = float("nan")
                logger.info(f"{key}: no linearised response at the posterior median ({err})")
            lin_vs[key] = dict(rel_l2=rel)
            # the stochastic column (background noise sigma, trial average) at the median
            try:
                sc = stochastic_check(
                    times,
                    params,
                    med["v"],
                    med["amplitude"],
                    med["onset"],
                    med["width"],
                    priors.shape,
                    gain=med["gain"],
                    seed=config.seed,
                )
                stoch[key] = dict(
                    rel_l2=sc["rel_l2"], sigma=sc["sigma"], n_trials=sc["n_trials"], stochastic_uv=sc["stochastic"]
                )
            except Exception as err:  # e.g. a diverging noisy trial: reported, not fatal
                stoch[key] = dict(rel_l2=float("nan"), error=str(err))
            regimes[key] = _regime_fractions(flat, priors)
            diags[key] = diag
            timings[key] = time.perf_counter() - t0
            mean_fit = np.median(ppc_mean[:m, qi, ci], axis=0)
            r2 = 1.0 - np.sum((y - mean_fit) ** 2) / np.sum((y - y.mean()) ** 2)
            lin_vs[key]["r2"] = float(r2)
            status = "ok" if diag["passed"] else "FAILED: " + "; ".join(diag["problems"])
            status += (
                "; model fits the data"
                if adequacy[key]["fits"]
                else "; MODEL MISFIT: " + "; ".join(adequacy[key]["problems"])
            )
            if progress:
                logger.info(
                    f"  {key}: R^2 {r2:.3f}, onset {med['onset'] * 1e3:.1f} ms, linear-vs-nonlinear "
                    f"{rel:.1%}, R-hat {diag['r_hat']:.3f}, ESS {diag['ess_bulk']:.0f}, "
                    f"{diag['divergences']} divergences [{timings[key]:.1f} s] {status}"
                )
            if not diag["passed"]:
                logger.warning(f"{key}: the fit did not pass its diagnostics ({'; '.join(diag['problems'])}).")
            if not adequacy[key]["fits"]:
                logger.warning(f"{key}: the model does not fit the data ({'; '.join(adequacy[key]['problems'])}).")
    # ---- assemble the InferenceData
    dims = ("chain", "draw", "condition", "channel")
    coords = dict(chain=np.arange(config.chains), draw=np.arange(config.draws), condition=conds, channel=chans)
    posterior = xr.Dataset({n: (dims, a) for n, a in post.items()}, coords=coords)
    stats = xr.Dataset({s: (dims, a) for s, a in stats_acc.items()}, coords=coords)
    pri = {k: pr.sample(rng, 1000) for k, pr in priors.jr.items()}
    pri.update(
        p=priors.p.sample(rng, 1000),
        amplitude=priors.amplitude.sample(rng, 1000),
        latency=priors.latency.sample(rng, 1000),
        width=priors.width.sample(rng, 1000),
        offset=priors.offset.sample(rng, 1000),
    )  # gain: its sign is per channel
    prior = xr.Dataset(
        {n: (("chain", "draw"), v[None]) for n, v in pri.items()}, coords=dict(chain=[0], draw=np.arange(1000))
    )
    pdims = ("chain", "draw", "condition", "channel", "time")
    pcoords = dict(chain=[0], draw=np.arange(n_ppc), condition=conds, channel=chans, time=times)
    pp = xr.Dataset(
        {"erp_mean": (pdims, ppc_mean[None]), "erp": (pdims, ppc[None]), "pulse": (pdims, ppc_pulse[None])},
        coords=pcoords,
    )
    odims = ("condition", "channel", "time")
    ocoords = dict(condition=conds, channel=chans, time=times)
    obs = xr.Dataset({"erp": (odims, np.stack([np.asarray(ev.data, float) for ev in evs]))}, coords=ocoords)
    const = xr.Dataset(
        {
            "se": (odims, np.stack([np.asarray(ev.se, float) for ev in evs])),
            "n_trials": (("condition",), np.array([int(ev.n_trials) for ev in evs])),
        },
        coords=ocoords,
    )
    idata = az.InferenceData(
        posterior=posterior,
        sample_stats=stats,
        prior=prior,
        posterior_predictive=pp,
        observed_data=obs,
        constant_data=const,
    )
    from datetime import datetime, timezone

    attrs = dict(
        jrfit_version=__version__,
        kind="erp",
        input_file=str(getattr(evs[0], "source", "") or ""),
        conditions=json.dumps(conds),
        channels=json.dumps(chans),
        preprocessing=json.dumps({c: list(getattr(ev, "record", [])) for c, ev in zip(conds, evs)}, default=str),
        se_method=json.dumps({c: str(getattr(ev, "se_method", "")) for c, ev in zip(conds, evs)}),
        tmin=float(times[0]),
        tmax=float(times[-1]),
        units="uV",
        pulse_shape=priors.shape,
        priors=json.dumps(priors.to_dict()),
        free_params=json.dumps(list(priors.free)),
        seed=int(config.seed),
        sampler=json.dumps(
            dict(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=config.n_cores("pymc"),
                target_accept=config.target_accept,
                sampler="PyMC NUTS",
            )
        ),
        likelihood=_likelihood_text(priors),
        forward_model=(
            f"nonlinear JR column, RK4 dt = {model.op.forward.dt * 1e3:.3f} ms, forward sensitivities; "
            "the response passed through the data's low-pass and baseline correction"
        ),
        lowpass=json.dumps({c: getattr(ev, "lowpass", None) for c, ev in zip(conds, evs)}),
        diagnostics=json.dumps(diags),
        adequacy=json.dumps(adequacy),
        residual_correlation=json.dumps(noise),
        regime=json.dumps(regimes),
        linear_vs_nonlinear=json.dumps(lin_vs),
        stochastic_check=json.dumps(stoch),
        v_branch=json.dumps(branches),
        timings_s=json.dumps(dict(compile=model.compile_time, **timings, total=time.perf_counter() - t_start)),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    idata.attrs.update(attrs)
    idata.posterior.attrs.update(attrs)
    cfg = dict(config=config.__dict__, priors=priors.to_dict())
    return FitResult(idata=idata, config=cfg)
