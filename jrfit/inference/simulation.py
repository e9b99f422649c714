"""Simulation route of the spectral fit: synthetic likelihood sampled by PyMC's SMC.

The PyMC model states the same priors as the linear route for the free JR
constants and the observation model, plus the background input p (/s, no
fixed point needed: limit cycles are allowed) and the noise intensity sigma
(/s^0.5), which shapes the spectrum once the column is nonlinear. Its
likelihood is a :class:`~jrfit.inference.synthetic.SyntheticLikelihood` in a
``pm.Potential``; there is no gradient, so it is sampled with Sequential Monte
Carlo (``pm.sample_smc``, independent Metropolis-Hastings kernel).

PyMC's SMC kernel evaluates the likelihood one particle at a time. The kernel
here (:class:`BatchedIMH`) is PyMC's IMH with one change: the proposals of a
mutation step (and the initial population) are simulated together, as one
batch of columns in the numba simulator (threads across the available cores),
and the per-particle calls then read the batch's values. With common random
numbers the values are the same as the per-particle evaluation (checked in the
tests), so the speed-up changes nothing else; chains run in separate processes
with their own seeds, so the whole fit is reproducible from ``seed``.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from pymc.smc.kernels import IMH

from jrfit.utils.log import logger, verbose
from jrfit.inference.adequacy import spectral_adequacy
from jrfit.inference.derived import regime_fractions
from jrfit.inference.diagnostics import diagnose_smc
from jrfit.errors import FitError
from jrfit.inference.priors import LogNormalPrior, SpectralPriors
from jrfit.inference.results import fit_attrs, make_result, spectrum_groups
from jrfit.inference.synthetic import SyntheticLikelihood, WelchSettings, peak_frequency

__all__ = ["SimulationConfig", "build_sim_model", "BatchedIMH", "fit_spectrum_sim", "SIGMA_PRIOR"]

SIGMA_PRIOR = LogNormalPrior(2.0, 1.0)
"""Prior of the noise intensity sigma, in /s^0.5, in the simulation route."""


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of the simulation route.

    Attributes
    ----------
    draws : int
        SMC particles per chain (= posterior draws per chain).
    chains : int
        Independent SMC runs (for R-hat).
    cores : int
        Processes for the chains.
    n_rep : int
        Replicate simulations per parameter set.
    rep_duration : float | None
        Length of each replicate, in s (default 5 Welch windows).
    seed : int
        Seed of the sampler and of the common random numbers.
    n_jobs : int | None
        Simulator threads per chain (default: cores / chains, at least 1).
    n_ppc : int
        Posterior draws simulated for the posterior predictive spectra.
    """

    draws: int = 500
    chains: int = 2
    cores: int = 2
    n_rep: int = 8
    rep_duration: float | None = None
    seed: int = 0
    n_jobs: int | None = None
    n_ppc: int = 40

    def __post_init__(self):
        for name in ("draws", "chains", "cores", "n_rep", "n_ppc"):
            val = getattr(self, name)
            if not isinstance(val, (int, np.integer)) or val < 1:
                raise FitError(f"SimulationConfig.{name} must be a positive integer, got {val!r}.")

    def as_dict(self):
        return asdict(self)


def _natural(values, free, priors):
    """Natural-unit theta (rows) from the model's value variables (a dict of arrays)."""
    cols = [priors.jr[n].median * np.exp(values[f"log_{n}"]) for n in free]
    # p is a value variable of its own or, with a log-normal prior, log-transformed
    p = values["p"] if "p" in values else np.exp(values["p_log__"])
    cols += [
        p,
        SIGMA_PRIOR.median * np.exp(values["log_sigma"]),
        np.exp(values["log_scale"]),
        np.exp(values["log_bg"]),
        values["chi"],
        np.exp(values["log_floor"]),
    ]
    return np.column_stack([np.atleast_1d(c) for c in cols])


class _SLOp:
    """PyTensor Op around the synthetic likelihood (no gradient)."""

    def __new__(cls, sl):
        import pytensor.tensor as pt
        from pytensor.graph.basic import Apply
        from pytensor.graph.op import Op

        class SLOp(Op):
            __props__ = ()

            def make_node(self, theta):
                theta = pt.as_tensor_variable(theta)
                return Apply(self, [theta], [pt.dscalar()])

            def perform(self, node, inputs, outputs):
                try:  # never raise inside a sampler: an undefined point has zero likelihood
                    val = float(sl(inputs[0][None, :])[0])
                except (ArithmeticError, ValueError):
                    val = -np.inf
                outputs[0][0] = np.asarray(val if not np.isnan(val) else -np.inf)

        return SLOp()


def build_sim_model(sl, priors):
    """PyMC model: the spectral priors, p, sigma and the synthetic likelihood."""
    import pymc as pm
    import pytensor.tensor as pt

    free = sl.free
    pp = priors.p
    if getattr(pp, "lower", None) is not None or getattr(pp, "upper", None) is not None:
        raise FitError(
            f"The simulation route takes a log-normal or an untruncated normal prior on p, got {pp!r}: "
            "use LogNormalPrior (p > 0) instead of truncation."
        )
    with pm.Model() as model:
        logs = {n: pm.Normal(f"log_{n}", 0.0, priors.jr[n].sd) for n in free}
        p = priors.p.random_variable("p")
        log_sigma = pm.Normal("log_sigma", 0.0, SIGMA_PRIOR.sd)
        log_scale = pm.Normal("log_scale", priors.log_scale.mean, priors.log_scale.sd)
        log_bg = pm.Normal("log_bg", priors.log_bg.mean, priors.log_bg.sd)
        chi = pm.Normal("chi", priors.chi.mean, priors.chi.sd)
        log_floor = pm.Normal("log_floor", priors.log_floor.mean, priors.log_floor.sd)
        nat = [priors.jr[n].median * pt.exp(logs[n]) for n in free]
        for n, x in zip(free, nat):
            pm.Deterministic(n, x)
        sigma = pm.Deterministic("sigma", SIGMA_PRIOR.median * pt.exp(log_sigma))
        theta = pt.stack(nat + [p, sigma, pt.exp(log_scale), pt.exp(log_bg), chi, pt.exp(log_floor)])
        pm.Potential("synthetic_loglik", _SLOp(sl)(theta))
    return model


class BatchedIMH(IMH):
    """PyMC's IMH kernel whose likelihood evaluations are simulated in batches.

    ``batch_loglik(values) -> array`` (``values``: value-variable name ->
    array over particles) gives the likelihood of many particles at once; the
    kernel's per-particle calls read the results (falling back to the compiled
    per-particle function on a miss).
    """

    stats_dtypes_shapes = dict(IMH.stats_dtypes_shapes, n_evals=(int, []))

    def __init__(self, *args, batch_loglik=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._batch_loglik = batch_loglik
        self.n_evals = 0
        self._wrap()

    def sample_stats(self):
        return dict(super().sample_stats(), n_evals=self.n_evals)

    def _wrap(self):
        fn = self.likelihood_logp_func
        if isinstance(fn, _CachedLoglik):
            fn = fn.fn
        self.likelihood_logp_func = _CachedLoglik(fn)

    def set_rng(self, rng):
        self.likelihood_logp_func = self.likelihood_logp_func.fn
        super().set_rng(rng)
        self._wrap()

    def _fill(self, population):
        names = [v.name for v in self.variables]
        values = {n: population[:, i] for i, n in enumerate(names)}
        self.likelihood_logp_func.fill(population, self._batch_loglik(values))
        self.n_evals += population.shape[0]

    def initialize_population(self):
        pop = super().initialize_population()
        names = [v.name for v in self.variables]
        self._fill(np.column_stack([np.asarray(pop[n], float).reshape(self.draws) for n in names]))
        return pop

    def tune(self):
        super().tune()
        self.proposal_dist = _BatchProposal(self.proposal_dist, self)


class _BatchProposal:
    """The IMH proposal distribution; drawing proposals also simulates them as one batch."""

    def __init__(self, dist, kernel):
        self.dist = dist
        self.kernel = kernel

    def rvs(self, size, random_state):
        x = self.dist.rvs(size=size, random_state=random_state)
        self.kernel._fill(np.asarray(x, float).reshape(size, -1))
        return x

    def logpdf(self, x):
        return self.dist.logpdf(x)


class _CachedLoglik:
    """Per-particle likelihood calls answered from the last batch."""

    def __init__(self, fn):
        self.fn = fn
        self._cache = {}

    def fill(self, population, values):
        self._cache = {np.asarray(x, float).tobytes(): float(v) for x, v in zip(population, values)}

    def __call__(self, x):
        hit = self._cache.get(np.asarray(x, float).tobytes())
        return hit if hit is not None else self.fn(x)


class _BatchLoglik:
    """values (value-variable arrays) -> synthetic log-likelihood, for the kernel (picklable)."""

    def __init__(self, sl, priors):
        self.sl = sl
        self.priors = priors

    def __call__(self, values):
        return self.sl(_natural(values, self.sl.free, self.priors))


@verbose
def fit_spectrum_sim(spectrum, *, priors=None, config=None, progress=True, verbose=None):
    """Fit each channel of a spectrum with the simulation route (synthetic likelihood, SMC).

    Parameters
    ----------
    spectrum : ObservedSpectrum
        Measured Welch PSD (mV^2/Hz).
    priors : SpectralPriors | None
        Priors of the free JR constants and the observation model (as in the
        linear route); p uses ``priors.p``, sigma :data:`SIGMA_PRIOR`.
    config : SimulationConfig | None
        Settings.
    progress : bool
        Log one line per channel.
    verbose : bool | str | None
        Log level.

    Returns
    -------
    result : FitResult
        Posterior (chain, draw, channel) of the free constants, p, sigma,
        scale, bg, chi, floor and the peak frequency of the simulated JR
        spectrum; posterior predictive replicate spectra; attrs as the linear
        route with ``likelihood = 'simulation (synthetic likelihood, SMC)'``.
    """
    from jrfit.inference.likelihood import thin_factor

    priors = priors or SpectralPriors()
    config = config or SimulationConfig()
    settings = WelchSettings.from_spectrum(spectrum)
    k = thin_factor(spectrum)
    n_eff_all = np.broadcast_to(np.asarray(spectrum.n_eff, float), (len(spectrum.ch_names),))
    n_jobs = config.n_jobs or max(1, config.cores // max(1, min(config.chains, config.cores)))
    t_start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    fits = {}
    for ci, ch in enumerate(spectrum.ch_names):
        job = (spectrum, ci, settings, k, float(n_eff_all[ci]), n_jobs)
        fits[ch] = _fit_sim_channel(job, priors, config, rng, progress)
    groups = _sim_groups(fits, spectrum, n_eff_all)
    last = fits[spectrum.ch_names[-1]]  # the band and replicates of the last channel (the same for all)
    per = {name: {ch: f[name] for ch, f in fits.items()} for name in ("diag", "adequacy", "regime", "time", "n_sims")}
    attrs = fit_attrs(
        source=spectrum.source,
        channels=list(spectrum.ch_names),
        preprocessing=list(spectrum.record),
        priors=priors,
        seed=config.seed,
        sampler=dict(config.as_dict(), sampler="PyMC SMC (IMH kernel, batched simulations)"),
        likelihood="simulation (synthetic likelihood, SMC)",
        diagnostics=per["diag"],
        adequacy=per["adequacy"],
        regime=per["regime"],
        timings=per["time"],
        t_start=t_start,
        fmin=float(last["freqs"][0]),
        fmax=float(last["freqs"][-1]),
        units="mV^2/Hz",
        method=spectrum.method,
        thin=int(k),
        sigma_prior=SIGMA_PRIOR.__dict__,
        simulation=dict(
            n_rep=config.n_rep,
            rep_duration_s=last["rep_duration"],
            dt_s=1.0 / (settings.sfreq * int(np.ceil(1.0 / (settings.sfreq * 1e-3) - 1e-9))),
            n_eff_replicate=last["n_eff_rep"],
            simulations=per["n_sims"],
            simulated_seconds={c: n * last["rep_duration"] for c, n in per["n_sims"].items()},
        ),
    )
    return make_result(groups, attrs, config, priors)


def _fit_sim_channel(job, priors, config, rng, progress):
    """One channel of :func:`fit_spectrum_sim`: SMC posterior, predictive spectra and verdicts.

    ``job`` is (spectrum, channel index, Welch settings, thinning, n_eff,
    simulator threads); ``rng`` the fit's generator (posterior-predictive
    draws), drawn from by every channel in turn.

    Returns
    -------
    fit : dict
        ``post`` (chain x draw arrays in data units, with ``peak_freq`` in
        Hz), ``ppc_mean`` (predictive draws x bins), ``freqs`` (the bins, Hz),
        ``diag``, ``adequacy``, ``regime``, ``n_sims``, ``time`` (s), and the
        likelihood's ``rep_duration`` (s) and ``n_eff_rep``.
    """
    spectrum, ci, settings, k, n_eff, n_jobs = job
    ch = spectrum.ch_names[ci]
    t0 = time.perf_counter()
    y = np.asarray(spectrum.psd[ci], float)
    ref = float(np.median(y))
    sl = SyntheticLikelihood(
        spectrum.freqs,
        y / ref,
        n_eff,
        settings,
        priors.free,
        priors.fixed,
        n_rep=config.n_rep,
        rep_duration=config.rep_duration,
        seed=config.seed + ci,
        thin=k,
        n_jobs=n_jobs,
    )
    idata = _sample_smc(sl, priors, config, ci, progress)
    diag = diagnose_smc(idata)
    p = idata.posterior
    post = {n: p[n].values for n in priors.free}
    post.update(
        p=p["p"].values,
        sigma=p["sigma"].values,
        scale=np.exp(p["log_scale"].values),
        bg=ref * np.exp(p["log_bg"].values),
        chi=p["chi"].values,
        floor=ref * np.exp(p["log_floor"].values),
    )
    # peak frequency of the simulated JR component (replicate mean) at every draw
    flat = {kk: p[kk].values.reshape(-1) for kk in p.data_vars}
    theta = _natural(flat, sl.free, priors)
    # (replicates 4x longer than the likelihood's: less Monte-Carlo noise in the peak)
    peak = peak_frequency(sl.band_freqs, sl.jr_spectra(theta, duration=4 * sl.rep_duration))
    post["peak_freq"] = peak.reshape(config.chains, config.draws)
    regime = regime_fractions({n: flat[n] for n in list(priors.free) + ["p"]}, priors)
    # posterior predictive: mean replicate spectra of a subset of draws, data units
    sel = rng.choice(peak.size, size=min(config.n_ppc, peak.size), replace=False)
    ppc_mean = sl.replicates(theta[sel]).mean(axis=1) * ref
    idx_ch = np.searchsorted(np.round(spectrum.freqs, 9), np.round(sl.freqs, 9))
    adequacy = spectral_adequacy(y[idx_ch], ppc_mean, n_eff, sl.freqs, rng=np.random.default_rng(config.seed + ci))
    n_sims = _n_simulations(idata, config.n_rep) + (peak.size + sel.size) * config.n_rep
    fit = dict(post=post, ppc_mean=ppc_mean, freqs=sl.freqs, diag=diag, adequacy=adequacy, regime=regime)
    fit.update(n_sims=n_sims, time=time.perf_counter() - t0, rep_duration=sl.rep_duration, n_eff_rep=sl.n_eff_rep)
    if progress:
        logger.info(
            f"  {ch}: simulation route, peak {np.median(peak):.2f} Hz, R-hat {diag['r_hat']:.3f}, "
            f"{n_sims} simulations of {sl.rep_duration:g} s [{fit['time']:.1f} s]"
            + ("" if diag["passed"] else " FAILED: " + "; ".join(diag["problems"]))
        )
    return fit


def _sample_smc(sl, priors, config, ci, progress):
    """SMC draws of channel ``ci``'s posterior under the synthetic likelihood ``sl`` (InferenceData)."""
    import pymc as pm

    model = build_sim_model(sl, priors)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.sample_smc(
            draws=config.draws,
            kernel=BatchedIMH,
            chains=config.chains,
            cores=config.cores,
            random_seed=config.seed + 1000 * ci,
            progressbar=bool(progress) and logger.level <= 20 and sys.stderr.isatty(),
            compute_convergence_checks=False,
            batch_loglik=_BatchLoglik(sl, priors),
        )


def _sim_groups(fits, spectrum, n_eff_all):
    """The InferenceData groups of a simulation-route fit (as ``inference_data`` takes them)."""
    chans = list(spectrum.ch_names)
    f = list(fits.values())
    chains, draws = f[0]["post"]["p"].shape
    coords = dict(chain=np.arange(chains), draw=np.arange(draws), channel=chans)
    post = {n: (("chain", "draw", "channel"), np.stack([x["post"][n] for x in f], axis=-1)) for n in f[0]["post"]}
    freqs = f[-1]["freqs"]
    pp = {"psd_mean": (("chain", "draw", "channel", "freq"), np.stack([x["ppc_mean"] for x in f], axis=1)[None])}
    pcoords = dict(chain=[0], draw=np.arange(f[0]["ppc_mean"].shape[0]), channel=chans, freq=freqs)
    idx = np.searchsorted(np.round(spectrum.freqs, 9), np.round(freqs, 9))
    return dict(
        posterior=(post, coords),
        posterior_predictive=(pp, pcoords),
        **spectrum_groups(chans, freqs, np.asarray(spectrum.psd, float)[:, idx], n_eff_all),
    )


def _n_simulations(idata, n_rep):
    """Replicate simulations the sampler ran (all chains), from the kernel's counts."""
    st = idata.sample_stats
    if "n_evals" not in st:
        return 0
    vals = st["n_evals"].values
    # the count is cumulative over stages (chains may run different numbers of
    # stages, then each chain holds its own list): the largest entry per chain
    total = 0.0
    for row in np.asarray(vals, dtype=object).reshape(vals.shape[0], -1):
        flat = np.concatenate([np.ravel(np.asarray(x, float)) for x in row])
        total += np.nanmax(flat)
    return int(total * n_rep)
