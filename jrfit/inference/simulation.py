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

import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from pymc.smc.kernels import IMH

from jrfit import __version__
from jrfit.utils.log import logger, verbose
from jrfit.inference.adequacy import spectral_adequacy
from jrfit.errors import FitError
from jrfit.inference.priors import LogNormalPrior, SpectralPriors
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
    import arviz as az
    import pymc as pm
    import xarray as xr

    from jrfit.inference.spectral import FitResult
    from jrfit.inference.likelihood import thin_factor

    priors = priors or SpectralPriors()
    config = config or SimulationConfig()
    settings = WelchSettings.from_spectrum(spectrum)
    k = thin_factor(spectrum)
    chans = list(spectrum.ch_names)
    n_eff_all = np.broadcast_to(np.asarray(spectrum.n_eff, float), (len(chans),))
    n_jobs = config.n_jobs or max(1, config.cores // max(1, min(config.chains, config.cores)))
    t_start = time.perf_counter()
    names = list(priors.free) + ["p", "sigma", "scale", "bg", "chi", "floor", "peak_freq"]
    post = {n: np.empty((config.chains, config.draws, len(chans))) for n in names}
    ppc_mean, diags, timings, n_sims, regimes, adequacy = [], {}, {}, {}, {}, {}
    rng = np.random.default_rng(config.seed)
    from jrfit.inference.spectral import _regime_fractions, diagnose_smc

    for ci, ch in enumerate(chans):
        t0 = time.perf_counter()
        y = np.asarray(spectrum.psd[ci], float)
        ref = float(np.median(y))
        sl = SyntheticLikelihood(
            spectrum.freqs,
            y / ref,
            float(n_eff_all[ci]),
            settings,
            priors.free,
            priors.fixed,
            n_rep=config.n_rep,
            rep_duration=config.rep_duration,
            seed=config.seed + ci,
            thin=k,
            n_jobs=n_jobs,
        )
        model = build_sim_model(sl, priors)
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample_smc(
                draws=config.draws,
                kernel=BatchedIMH,
                chains=config.chains,
                cores=config.cores,
                random_seed=config.seed + 1000 * ci,
                progressbar=bool(progress) and logger.level <= 20 and sys.stderr.isatty(),
                compute_convergence_checks=False,
                batch_loglik=_BatchLoglik(sl, priors),
            )
        diag = diagnose_smc(idata)
        p = idata.posterior
        for n in priors.free:
            post[n][..., ci] = p[n].values
        post["p"][..., ci] = p["p"].values
        post["sigma"][..., ci] = p["sigma"].values
        post["scale"][..., ci] = np.exp(p["log_scale"].values)
        post["bg"][..., ci] = ref * np.exp(p["log_bg"].values)
        post["chi"][..., ci] = p["chi"].values
        post["floor"][..., ci] = ref * np.exp(p["log_floor"].values)
        # peak frequency of the simulated JR component (replicate mean) at every draw
        flat = {kk: p[kk].values.reshape(-1) for kk in p.data_vars}
        theta = _natural(flat, sl.free, priors)
        # (replicates 4x longer than the likelihood's: less Monte-Carlo noise in the peak)
        peak = peak_frequency(sl.band_freqs, sl.jr_spectra(theta, duration=4 * sl.rep_duration))
        post["peak_freq"][..., ci] = peak.reshape(config.chains, config.draws)
        regimes[ch] = _regime_fractions({n: flat[n] for n in list(priors.free) + ["p"]}, priors)
        # posterior predictive: mean replicate spectra of a subset of draws, data units
        sel = rng.choice(peak.size, size=min(config.n_ppc, peak.size), replace=False)
        ppc_mean.append(sl.replicates(theta[sel]).mean(axis=1) * ref)
        idx_ch = np.searchsorted(np.round(spectrum.freqs, 9), np.round(sl.freqs, 9))
        adequacy[ch] = spectral_adequacy(
            np.asarray(spectrum.psd[ci], float)[idx_ch],
            ppc_mean[-1],
            float(n_eff_all[ci]),
            sl.freqs,
            rng=np.random.default_rng(config.seed + ci),
        )
        diags[ch] = diag
        n_sims[ch] = _n_simulations(idata, config.n_rep) + (peak.size + sel.size) * config.n_rep
        timings[ch] = time.perf_counter() - t0
        if progress:
            logger.info(
                f"  {ch}: simulation route, peak {np.median(peak):.2f} Hz, R-hat {diag['r_hat']:.3f}, "
                f"{n_sims[ch]} simulations of {sl.rep_duration:g} s [{timings[ch]:.1f} s]"
                + ("" if diag["passed"] else " FAILED: " + "; ".join(diag["problems"]))
            )
    coords = dict(chain=np.arange(config.chains), draw=np.arange(config.draws), channel=chans)
    posterior = xr.Dataset({n: (("chain", "draw", "channel"), a) for n, a in post.items()}, coords=coords)
    freqs = sl.freqs
    pp = xr.Dataset(
        {"psd_mean": (("chain", "draw", "channel", "freq"), np.stack(ppc_mean, axis=1)[None])},
        coords=dict(chain=[0], draw=np.arange(ppc_mean[0].shape[0]), channel=chans, freq=freqs),
    )
    idx = np.searchsorted(np.round(spectrum.freqs, 9), np.round(freqs, 9))
    obs = xr.Dataset(
        {"psd": (("channel", "freq"), np.asarray(spectrum.psd, float)[:, idx])}, coords=dict(channel=chans, freq=freqs)
    )
    const = xr.Dataset({"n_eff": (("channel",), n_eff_all.copy())}, coords=dict(channel=chans))
    idata = az.InferenceData(posterior=posterior, posterior_predictive=pp, observed_data=obs, constant_data=const)
    from datetime import datetime, timezone

    attrs = dict(
        jrfit_version=__version__,
        input_file=str(spectrum.source or ""),
        channels=json.dumps(chans),
        preprocessing=json.dumps(list(spectrum.record), default=str),
        fmin=float(freqs[0]),
        fmax=float(freqs[-1]),
        units="mV^2/Hz",
        method=spectrum.method,
        thin=int(k),
        priors=json.dumps(priors.to_dict()),
        sigma_prior=json.dumps(SIGMA_PRIOR.__dict__),
        free_params=json.dumps(list(priors.free)),
        seed=int(config.seed),
        sampler=json.dumps(dict(config.as_dict(), sampler="PyMC SMC (IMH kernel, batched simulations)")),
        likelihood="simulation (synthetic likelihood, SMC)",
        simulation=json.dumps(
            dict(
                n_rep=config.n_rep,
                rep_duration_s=sl.rep_duration,
                dt_s=1.0 / (settings.sfreq * int(np.ceil(1.0 / (settings.sfreq * 1e-3) - 1e-9))),
                n_eff_replicate=sl.n_eff_rep,
                simulations=n_sims,
                simulated_seconds={c: n * sl.rep_duration for c, n in n_sims.items()},
            )
        ),
        diagnostics=json.dumps(diags),
        adequacy=json.dumps(adequacy),
        regime=json.dumps(regimes),
        timings_s=json.dumps(dict(**timings, total=time.perf_counter() - t_start)),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    idata.attrs.update(attrs)
    idata.posterior.attrs.update(attrs)
    return FitResult(idata=idata, config=dict(config=config.as_dict(), priors=priors.to_dict()))


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
