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

import time

import numpy as np

from jrfit.utils.log import logger, quiet_compile, verbose
from jrfit.errors import FitError
from jrfit.inference.compiled import CompiledModel
from jrfit.inference.derived import regime_fractions
from jrfit.inference.diagnostics import diagnose, status_line, warn_failures
from jrfit.inference.erp_checks import linear_vs_nonlinear, stochastic_at_median
from jrfit.inference.results import fit_attrs, make_result, nuts_settings, prior_group
from jrfit.inference.spectral import FitConfig
from jrfit.inference.priors import ERPPriors

__all__ = ["ERPModel", "fit_erp", "ERP_CONFIG"]

_PULSE = ("amplitude", "onset", "width")


class ERPModel(CompiledModel):
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

        from jrfit.inference.ops import ERPOp, JRLinearOp
        from jrfit.model.erp import peak_lag

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
        n_t = self.times.size
        self.model = self._build(fixed, JRLinearOp(self.free, fixed))
        self.noise_acf = _white(n_t)
        self.response_map = np.eye(n_t)
        self.n_kept = n_t
        with quiet_compile():
            self.step = pm.NUTS(model=self.model, target_accept=target_accept)
        self._func = self.step._logp_dlogp_func
        self._func.set_extra_values({})
        self.compile_time = time.perf_counter() - t0
        logger.info(f"Compiled the ERP model ({n_t} samples) in {self.compile_time:.1f} s")

    def _build(self, fixed, lin):
        """The PyMC model: rest state, pulse, electrode map and the likelihood of the standardised residuals."""
        import pymc as pm
        import pytensor.tensor as pt

        from jrfit.inference.residuals import gaussian_logp

        priors, n_t = self.priors, self.times.size
        with pm.Model() as model:
            erp_obs = pm.Data("erp_obs", np.zeros(n_t))
            se = pm.Data("se", np.ones(n_t))
            theta_jr, stable = self._rest_state(fixed, lin)
            amp, onset, width, gain, offset = self._pulse_and_electrode()
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
        return model

    def _rest_state(self, fixed, lin):
        """The JR constants and the rest potential v (mV), inside the model: (v, constants) and stability."""
        import pymc as pm
        import pytensor.tensor as pt

        from jrfit.inference.ops import RestPotentialOp

        priors = self.priors
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
        return theta_jr, stable

    def _pulse_and_electrode(self):
        """The stimulus pulse (amplitude /s, onset and width s) and the electrode gain and offset (uV), in the model."""
        import pymc as pm
        import pytensor.tensor as pt

        priors = self.priors
        amp = pm.Deterministic(
            "amplitude", priors.amplitude.median * pt.exp(pm.Normal("log_amplitude", 0.0, priors.amplitude.sd))
        )
        o = priors.latency
        latency = pm.TruncatedNormal("latency", o.mean, o.sd, lower=o.lower, upper=o.upper)
        width = pm.Deterministic("width", priors.width.median * pt.exp(pm.Normal("log_width", 0.0, priors.width.sd)))
        onset = pm.Deterministic("onset", latency - self.lag * width)
        # |gain| log-normal; its sign is data (set per channel by find_start)
        gain_sign = pm.Data("gain_sign", 1.0)
        gain = pm.Deterministic(
            "gain", gain_sign * priors.gain.median * pt.exp(pm.Normal("log_gain", 0.0, priors.gain.sd))
        )
        offset = pm.Normal("offset", priors.offset.mean, priors.offset.sd)
        return amp, onset, width, gain, offset

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

    def set_branch(self, v_lo, v_hi):
        """Restrict v (mV) to one stable fixed-point branch (no recompilation)."""
        import pymc as pm

        with self.model:
            pm.set_data(dict(v_lo=float(v_lo), v_hi=float(v_hi)))
        self._v_support = (float(v_lo), float(v_hi))

    def set_gain_sign(self, sign):
        """Fix the sign of the electrode gain (+1 or -1; no recompilation)."""
        import pymc as pm

        with self.model:
            pm.set_data(dict(gain_sign=float(sign)))
        self.gain_sign = float(sign)

    def response_at(self, values):
        """The column's response (mV, before the electrode map) at named values (v, constants, pulse)."""
        return self.op.forward.response(
            self._theta(values["v"], [values[n] for n in self.free], [values[n] for n in _PULSE])
        )

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


def stable_branch(v_best, theta, free, fixed, v_bounds, n=400):
    """The interval of v (mV) around ``v_best`` where the fixed point is stable.

    The posterior can have modes on different fixed-point branches (e.g. the
    quiescent and the active focus), separated by unstable operating points
    that a sampler may jump over: sampling is restricted to the stable branch
    of the best starting point (computed at the constants ``theta``, widened by
    two grid steps on each side; the stability constraint still applies inside).
    """
    from jrfit.inference.ops import _stable

    v_lo, v_hi = v_bounds
    grid = np.linspace(v_lo, v_hi, n)
    ok = np.array([_stable(np.concatenate([[g], theta]), free, fixed) for g in grid])
    i = int(np.argmin(np.abs(grid - v_best)))
    lo_i, hi_i = i, i
    while lo_i > 0 and ok[lo_i - 1]:
        lo_i -= 1
    while hi_i < grid.size - 1 and ok[hi_i + 1]:
        hi_i += 1
    step = grid[1] - grid[0]
    return (max(v_lo, grid[lo_i] - 2 * step), min(v_hi, grid[hi_i] + 2 * step))


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
    evs = _as_list(evoked)
    config = config or ERP_CONFIG
    t_start = time.perf_counter()
    model = _erp_model_for(model, priors, np.asarray(evs[0].times, float), config)
    priors = model.priors
    rng = np.random.default_rng(config.seed)
    var_names = list(priors.free) + ["v", "p", "amplitude", "latency", "onset", "width", "gain", "offset"]
    if priors.noise is not None:
        var_names.append("noise")
    response_maps = [ev.response_map() for ev in evs]  # each condition's low-pass and baseline correction
    fits = {}
    for qi, ev in enumerate(evs):
        for ci, ch in enumerate(evs[0].ch_names):
            job = (ev, ci, f"{ev.condition}/{ch}", response_maps[qi], len(fits))
            fits[qi, ci] = _fit_one(model, job, rng, config, var_names, progress)
    groups = _erp_groups(fits, evs, priors, config, rng)
    attrs = _erp_attrs(fits, evs, model, config, t_start)
    return make_result(groups, attrs, config, priors)


def _erp_model_for(model, priors, times, config):
    """The compiled model of a fit: ``model`` if it suits the data and ``priors``, else a new one."""
    if model is not None and priors is not None and priors != model.priors:
        raise FitError("fit_erp got both 'priors' and a compiled 'model' with other priors: pass only one.")
    if model is not None and (model.times.shape != times.shape or not np.allclose(model.times, times)):
        raise FitError("The compiled ERPModel has another time grid than the data: build ERPModel(times).")
    if model is None:
        model = ERPModel(times, priors, target_accept=config.target_accept)
    return model


def _fit_one(model, job, rng, config, var_names, progress):
    """Fit one condition's channel: posterior, predictions, checks and verdicts.

    ``job`` is (evoked, channel index, label, response map, number of fits
    before this one); ``rng`` the fit's generator, drawn from in turn by
    every channel and then by the prior draws.

    Returns
    -------
    fit : dict
        ``post`` and ``stats`` (arrays, chain x draw), ``ppc_mean``, ``ppc``
        and ``pulse`` (predictive draws, time last; ``m`` of them filled),
        ``diag``, ``adequacy``, ``noise``, ``branch``, ``lin``, ``stoch``,
        ``regime`` and ``time`` (s).
    """
    from jrfit.inference.adequacy import erp_adequacy

    ev, ci, key, response_map, n_fit = job
    t0 = time.perf_counter()
    y, se = np.asarray(ev.data, float)[ci], np.asarray(ev.se, float)[ci]
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise FitError(f"{key}: the ERP or its standard error is not finite and positive; check the data.")
    model.set_data(y, se, _noise_acf(ev, ci), response_map)
    noise = dict(
        lag1=float(model.noise_acf[1]),
        acf=model.noise_acf[:50].tolist(),
        n_components=model.n_kept,
        n_times=int(model.times.size),
    )
    start, _ = model.find_start(y, se, n_grid=config.n_grid)
    branch = [float(x) for x in model.branch]
    idata = model.sample(start, config, int(config.seed) + 1000 * n_fit, progress)
    diag = diagnose(idata)
    post = {n: idata.posterior[n].values for n in var_names}
    post["damping"] = _damping(idata, model.priors)
    stats = {s: v.values for s, v in idata.sample_stats.data_vars.items() if v.ndim == 2}
    flat = _flat_draws(idata, var_names, rng, config.n_ppc)
    pred = _predictive(model, flat, se, rng, config.n_ppc)
    m = pred["m"]
    adequacy = erp_adequacy(
        y,
        pred["ppc_mean"][:m],
        pred["sd"],
        model.noise_acf,
        model.times,
        response_map=model.response_map,
        rng=np.random.default_rng(int(config.seed) + n_fit + 1),
    )
    med = {n: float(np.median(idata.posterior[n].values)) for n in var_names}
    lin = dict(rel_l2=linear_vs_nonlinear(model, med, key))
    mean_fit = np.median(pred["ppc_mean"][:m], axis=0)
    lin["r2"] = float(1.0 - np.sum((y - mean_fit) ** 2) / np.sum((y - y.mean()) ** 2))
    fit = dict(
        pred,
        post=post,
        stats=stats,
        diag=diag,
        adequacy=adequacy,
        noise=noise,
        branch=branch,
        lin=lin,
        stoch=stochastic_at_median(model, med, config.seed),
        regime=regime_fractions(flat, model.priors),
        time=time.perf_counter() - t0,
    )
    _log_fit(key, fit, med, progress)
    return fit


def _predictive(model, flat, se, rng, n_ppc):
    """Posterior predictive of one fit at the draws ``flat``: model mean and noisy replicate (uV), pulse (/s)."""
    from jrfit.inference.residuals import correlated_replicates
    from jrfit.model.erp import pulse as pulse_fn

    priors, times, fwd = model.priors, model.times, model.op.forward
    out = {k: np.empty((n_ppc, times.size)) for k in ("ppc_mean", "ppc", "pulse")}
    m = flat["v"].size
    for i in range(m):
        th = model._theta(flat["v"][i], [flat[n][i] for n in priors.free], [flat[n][i] for n in _PULSE])
        out["ppc_mean"][i] = flat["gain"][i] * (model.response_map @ fwd.response(th)) + flat["offset"][i]
        out["pulse"][i] = pulse_fn(times, flat["amplitude"][i], flat["onset"][i], flat["width"][i], priors.shape)
    sd = se[None] if priors.noise is None else np.sqrt(se**2 + flat["noise"][:m, None] ** 2)
    out["ppc"][:m] = out["ppc_mean"][:m] + sd * correlated_replicates(rng, model.noise_acf, m)
    return dict(out, sd=sd, m=m)


def _log_fit(key, fit, med, progress):
    diag, adequacy = fit["diag"], fit["adequacy"]
    if progress:
        logger.info(
            f"  {key}: R^2 {fit['lin']['r2']:.3f}, onset {med['onset'] * 1e3:.1f} ms, linear-vs-nonlinear "
            f"{fit['lin']['rel_l2']:.1%}, R-hat {diag['r_hat']:.3f}, ESS {diag['ess_bulk']:.0f}, "
            f"{diag['divergences']} divergences [{fit['time']:.1f} s] {status_line(diag, adequacy)}"
        )
    warn_failures(key, diag, adequacy)


def _erp_groups(fits, evs, priors, config, rng):
    """The InferenceData groups of an ERP fit over conditions and channels (as ``inference_data`` takes them)."""
    conds, chans = [str(ev.condition) for ev in evs], list(evs[0].ch_names)
    times = np.asarray(evs[0].times, float)
    dims = ("chain", "draw", "condition", "channel")
    coords = dict(chain=np.arange(config.chains), draw=np.arange(config.draws), condition=conds, channel=chans)
    shape = (config.chains, config.draws, len(conds), len(chans))
    post, stats = {}, {}
    pshape = (config.n_ppc, len(conds), len(chans), times.size)
    pred = {k: np.empty(pshape) for k in ("ppc_mean", "ppc", "pulse")}
    for (qi, ci), fit in fits.items():
        for n, a in fit["post"].items():
            post.setdefault(n, np.empty(shape))[:, :, qi, ci] = a
        for n, a in fit["stats"].items():
            stats.setdefault(n, np.zeros(shape, dtype=a.dtype))[:, :, qi, ci] = a
        m = fit["m"]
        pred["ppc_mean"][:m, qi, ci] = fit["ppc_mean"][:m]
        pred["pulse"][:m, qi, ci] = fit["pulse"][:m]
        pred["ppc"][:m, qi, ci] = fit["ppc"][:m]
    pri = {k: pr.sample(rng, 1000) for k, pr in priors.jr.items()}
    pri.update(
        p=priors.p.sample(rng, 1000),
        amplitude=priors.amplitude.sample(rng, 1000),
        latency=priors.latency.sample(rng, 1000),
        width=priors.width.sample(rng, 1000),
        offset=priors.offset.sample(rng, 1000),
    )  # gain: its sign is per channel
    pdims = ("chain", "draw", "condition", "channel", "time")
    pp = {
        "erp_mean": (pdims, pred["ppc_mean"][None]),
        "erp": (pdims, pred["ppc"][None]),
        "pulse": (pdims, pred["pulse"][None]),
    }
    odims = ("condition", "channel", "time")
    ocoords = dict(condition=conds, channel=chans, time=times)
    const = {
        "se": (odims, np.stack([np.asarray(ev.se, float) for ev in evs])),
        "n_trials": (("condition",), np.array([int(ev.n_trials) for ev in evs])),
    }
    return dict(
        posterior=({n: (dims, a) for n, a in post.items()}, coords),
        sample_stats=({n: (dims, a) for n, a in stats.items()}, coords),
        prior=prior_group(pri),
        posterior_predictive=(
            pp,
            dict(chain=[0], draw=np.arange(config.n_ppc), condition=conds, channel=chans, time=times),
        ),
        observed_data=({"erp": (odims, np.stack([np.asarray(ev.data, float) for ev in evs]))}, ocoords),
        constant_data=(const, ocoords),
    )


def _erp_attrs(fits, evs, model, config, t_start):
    """The provenance of an ERP fit (:func:`jrfit.inference.results.fit_attrs`)."""
    priors = model.priors
    conds, chans = [str(ev.condition) for ev in evs], list(evs[0].ch_names)
    per = {
        name: {f"{conds[qi]}/{chans[ci]}": fit[name] for (qi, ci), fit in fits.items()}
        for name in ("diag", "adequacy", "noise", "regime", "lin", "stoch", "branch", "time")
    }
    return fit_attrs(
        source=getattr(evs[0], "source", ""),
        channels=chans,
        preprocessing={c: list(getattr(ev, "record", [])) for c, ev in zip(conds, evs)},
        priors=priors,
        seed=config.seed,
        sampler=nuts_settings(config, config.n_cores("pymc"), "PyMC NUTS"),
        likelihood=_likelihood_text(priors),
        diagnostics=per["diag"],
        adequacy=per["adequacy"],
        regime=per["regime"],
        timings=dict(compile=model.compile_time, **per["time"]),
        t_start=t_start,
        kind="erp",
        conditions=conds,
        se_method={c: str(getattr(ev, "se_method", "")) for c, ev in zip(conds, evs)},
        tmin=float(model.times[0]),
        tmax=float(model.times[-1]),
        units="uV",
        pulse_shape=priors.shape,
        forward_model=(
            f"nonlinear JR column, RK4 dt = {model.op.forward.dt * 1e3:.3f} ms, forward sensitivities; "
            "the response passed through the data's low-pass and baseline correction"
        ),
        lowpass={c: getattr(ev, "lowpass", None) for c, ev in zip(conds, evs)},
        residual_correlation=per["noise"],
        linear_vs_nonlinear=per["lin"],
        stochastic_check=per["stoch"],
        v_branch=per["branch"],
    )
