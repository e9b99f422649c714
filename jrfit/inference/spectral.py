"""The linear route: PyMC model of a measured spectrum, NUTS sampling, per-channel fits.

The model is built and compiled once per structure (:class:`SpectralModel`);
each channel's spectrum is swapped in (``pm.set_data``, nutpie's ``with_data``)
and sampled with the same compiled log-density and gradient: by nutpie from the
numba-compiled graph (default) or by PyMC's sampler. Before sampling, a grid
over the operating potential v followed by L-BFGS finds the dominant mode (the
posterior can be multimodal across fixed-point branches, which unstable
operating points of zero density separate), and the chains start around it.
The diagnostics (:mod:`jrfit.inference.diagnostics`), the checkpoints an
interrupted run resumes from (:mod:`jrfit.inference.checkpoints`) and the
result's InferenceData and provenance (:mod:`jrfit.inference.results`) are
modules of their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from jrfit.errors import FitError
from jrfit.inference.adequacy import spectral_adequacy
from jrfit.inference.checkpoints import checkpoint_key, load_checkpoint, save_checkpoint
from jrfit.inference.compiled import CompiledModel
from jrfit.inference.derived import derived_quantities, regime_fractions
from jrfit.inference.diagnostics import diagnose, status_line, warn_failures
from jrfit.inference.leakage import LeakageKernel, leakage_kernel
from jrfit.inference.likelihood import observation_model, predicted_psd, thin_factor
from jrfit.inference.observation_fit import fit_observation
from jrfit.inference.priors import SpectralPriors
from jrfit.inference.results import fit_attrs, make_result, nuts_settings, prior_group, spectrum_groups
from jrfit.utils.log import logger, quiet_compile, verbose

__all__ = ["SpectralModel", "FitConfig", "fit_spectrum", "shared_model"]

IDENTIFIED = ("a", "b", "loop_gain_exc", "loop_gain_inh", "damping", "peak_freq")
"""What a spectrum identifies (the primary result): the rate constants, the two
loop gains (:func:`jrfit.model.spectrum.loop_gains`), the damping and the peak
frequency. B, C and p are conditional on the fixed constants: with C fixed
at a wrong value, B's interval shifts to keep the loop gains (measured on
recordings with C = 110-125 fitted at C = 135)."""


@dataclass(frozen=True)
class FitConfig:
    """Sampler settings.

    Attributes
    ----------
    draws, tune : int
        Draws kept and tuning steps, per chain (1500 and 400: sharp spectral
        peaks have strongly correlated posteriors; on four independent
        sharp-peak channels 600 + 1000 left bulk ESS 283-526 and 400 + 1500
        gave 501-874, for 10-20 % more time per channel).
    chains : int
        Number of chains.
    cores : int | None
        Chains run in parallel; None (default) uses every available core, at
        most one per chain. With nutpie these are threads sharing the
        compiled model; with PyMC's sampler (ERP fits) worker processes, which
        re-link the compiled step for every channel (small against an ERP
        channel's sampling, which otherwise runs one chain after the other).
    seed : int
        Random seed: the same seed gives the same draws.
    target_accept : float
        NUTS target acceptance rate. 0.99 by default: the posterior's tail
        towards low input p bends sharply (p, v, B and b change together), and
        on the built-in example 0.95 left 26 divergent transitions there
        where 0.99 left none (at about 1.8x the leapfrog steps).
    n_grid : int
        Operating-potential grid points tried for initialisation.
    n_ppc : int
        Posterior draws used for posterior-predictive spectra.
    sampler : {'nutpie', 'pymc'}
        NUTS implementation for spectral fits. 'nutpie' (default) samples the
        numba-compiled log density in Rust threads; 'pymc' is PyMC's sampler
        on the same model (measured on the built-in example, 2 cores, default
        settings: 6.3 s vs 51 s per channel; see ``benchmarks/bench_fit.py``).
        ERP fits always use PyMC's sampler.
    mass_matrix : {'diag', 'low-rank'}
        nutpie's mass-matrix adaptation: 'diag' (diagonal) or 'low-rank'
        (diagonal plus a low-rank update along the directions of largest
        posterior covariance, ``low_rank_modified_mass_matrix``); PyMC's
        sampler always adapts a diagonal one.
    debias : bool
        Compare the data with the expected value of the estimator actually
        applied (the model spectrum convolved with the Welch or multitaper
        spectral window, :mod:`jrfit.inference.leakage`; the debiased Whittle
        likelihood) rather than with the model spectrum itself (False). For
        a damping of 1 /s and 4-s Hann windows the plain model's peak is 44 %
        above the expected estimate, which the plain fit absorbs by
        overstating the damping.
    """

    draws: int = 1500
    tune: int = 400
    chains: int = 4
    cores: int | None = None
    seed: int = 0
    target_accept: float = 0.99
    n_grid: int = 24
    n_ppc: int = 200
    sampler: str = "nutpie"
    mass_matrix: str = "diag"
    debias: bool = True

    def __post_init__(self):
        for name in ("draws", "tune", "chains", "cores", "n_grid", "n_ppc"):
            val = getattr(self, name)
            if name == "cores" and val is None:
                continue
            if not isinstance(val, (int, np.integer)) or val < 1:
                raise FitError(f"FitConfig.{name} must be a positive integer, got {val!r}.")
        if not 0.5 <= self.target_accept < 1:
            raise FitError(f"FitConfig.target_accept must be in [0.5, 1), got {self.target_accept!r}.")
        if self.sampler not in ("nutpie", "pymc"):
            raise FitError(f"FitConfig.sampler must be 'nutpie' or 'pymc', got {self.sampler!r}.")
        if self.mass_matrix not in ("diag", "low-rank"):
            raise FitError(f"FitConfig.mass_matrix must be 'diag' or 'low-rank', got {self.mass_matrix!r}.")

    def n_cores(self, sampler):
        """Chains run at once by ``sampler`` ('nutpie' or 'pymc')."""
        import os

        if self.cores is not None:
            return int(min(self.cores, self.chains))
        return int(min(self.chains, os.cpu_count() or 1))


class SpectralModel(CompiledModel):
    """The compiled PyMC model of one channel's spectrum (reused across channels).

    Parameters
    ----------
    priors : SpectralPriors | None
        Priors and fixed constants (default :class:`~jrfit.inference.priors.SpectralPriors`).
    target_accept : float
        NUTS target acceptance rate.
    """

    def __init__(self, priors=None, target_accept=0.99):
        import pymc as pm
        import pytensor.tensor as pt

        from jrfit.inference.ops import BandedMatVecOp, JRLinearOp

        self.priors = priors = priors or SpectralPriors()
        self.free = priors.free
        t0 = time.perf_counter()
        logger.info("Compiling the spectral model (once per run)")
        op = JRLinearOp(self.free, priors.fixed.as_dict())
        with pm.Model() as model:
            # the model spectrum on a fine grid, mapped to the expected estimate at the
            # data bins by the estimator's leakage matrix (debiased Whittle; jrfit.inference.leakage)
            freqs_fine = pm.Data("freqs_fine", np.array([1.0, 2.0]))
            leak_w = pm.Data("leak_weights", np.ones((2, 1)))
            leak_start = pm.Data("leak_start", np.array([0, 1], dtype=np.int64))
            psd_obs = pm.Data("psd_obs", np.array([1.0, 1.0]))
            n_eff = pm.Data("n_eff", 1.0)
            jr = {}
            for name, pr in priors.jr.items():
                theta = pm.Normal(f"log_{name}", 0.0, pr.sd)
                jr[name] = pm.Deterministic(name, pr.median * pt.exp(theta))
            v = pm.Uniform("v", float(priors.v_bounds[0]), float(priors.v_bounds[1]))
            psd_jr, p, log_jac, stable, *_ = op(pt.stack([v] + [jr[n] for n in self.free]), freqs_fine)
            p = pm.Deterministic("p", p)
            # prior stated on p, kept through |dp/dv| (docs/model.md, section 2)
            pm.Potential("p_prior", priors.p.tensor_logp(p) + log_jac)
            log_scale = pm.Normal("log_scale", priors.log_scale.mean, priors.log_scale.sd)
            log_bg = pm.Normal("log_bg", priors.log_bg.mean, priors.log_bg.sd)
            cp = priors.chi
            chi = pm.TruncatedNormal("chi", cp.mean, cp.sd, lower=cp.lower, upper=cp.upper)
            log_floor = pm.Normal("log_floor", priors.log_floor.mean, priors.log_floor.sd)
            pred_fine = observation_model(psd_jr, freqs_fine, pt.exp(log_scale), pt.exp(log_bg), chi, pt.exp(log_floor))
            pred = BandedMatVecOp()(pred_fine, leak_w, leak_start)
            # only stable fixed points are admitted: elsewhere the linearised
            # likelihood is not evaluated (the density is zero there)
            is_stable = pt.gt(stable, 0.5)
            pm.Potential("stability", pt.switch(is_stable, 0.0, -np.inf))
            safe = pt.switch(is_stable, pred, psd_obs)
            pm.Gamma("psd", alpha=n_eff, beta=n_eff / safe, observed=psd_obs)
        self.model = model
        with quiet_compile():
            self.step = pm.NUTS(model=model, target_accept=target_accept)
        self._func = self.step._logp_dlogp_func
        self._func.set_extra_values({})
        self._nutpie_ok = True  # JRLinearOp compiles with the numba backend
        self.compile_time = time.perf_counter() - t0
        logger.info(f"Compiled the spectral model in {self.compile_time:.1f} s")

    # ------------------------------------------------------------------
    def set_data(self, kernel, psd, n_eff):
        """Swap in one channel's normalised spectrum (no recompilation).

        Parameters
        ----------
        kernel : LeakageKernel
            The estimator's leakage map from the model's fine grid to the
            data bins (:func:`jrfit.inference.leakage.leakage_kernel`).
        psd : array
            The channel's normalised PSD at ``kernel.freqs``.
        n_eff : float
            Effective number of independent segments.
        """
        import pymc as pm

        weights, start = kernel.banded()
        with self.model:
            pm.set_data(
                dict(
                    freqs_fine=np.asarray(kernel.fine_freqs, float),
                    leak_weights=weights,
                    leak_start=start,
                    psd_obs=np.asarray(psd, float),
                    n_eff=float(n_eff),
                )
            )

    def _unconstrained(self, v, jr_log, obs):
        """Named point in PyMC's unconstrained space."""
        v_lo, v_hi = self.priors.v_bounds
        cp = self.priors.chi
        chi = float(np.clip(obs[2], cp.lower + 1e-6, cp.upper - 1e-6))
        point = {f"log_{n}": np.asarray(jr_log[i]) for i, n in enumerate(self.free)}
        point["v_interval__"] = np.asarray(np.log((v - v_lo) / (v_hi - v)))
        point["log_scale"] = np.asarray(obs[0])
        point["log_bg"] = np.asarray(obs[1])
        point["chi_interval__"] = np.asarray(np.log((chi - cp.lower) / (cp.upper - chi)))
        point["log_floor"] = np.asarray(obs[3])
        return point

    def find_start(self, kernel, psd, n_eff, n_grid=36):
        """Grid over v, then L-BFGS from the best grid points: a dominant mode.

        Stage 1 (NumPy): for each operating potential v on a grid (stable fixed
        points only) at the prior-median JR constants, fit the observation
        parameters (scale, background, exponent, floor) of the expected
        estimate (``kernel``, the estimator's leakage map) by Fisher scoring,
        each grid point warm-started from its neighbour. Stage 2: L-BFGS on
        the full compiled log density from the three best grid points.

        Returns
        -------
        point : dict
            Unconstrained start point (PyMC value-variable name -> value).
        logp : float
            Log density there.
        """
        from jrfit.inference.ops import _stable, jr_linear_numpy

        pr = self.priors
        fixed = pr.fixed.as_dict()
        fine = kernel.fine_freqs
        y = np.asarray(psd, float)
        med = np.array([pr.jr[n].median for n in self.free])
        v_lo, v_hi = pr.v_bounds
        # the rate constants set the peak frequency: try a few common scalings of
        # the free rate constants together with the v grid
        rate_idx = [i for i, n in enumerate(self.free) if n in ("a", "b")]
        scalings = (-0.3, -0.15, 0.0, 0.15, 0.3) if rate_idx else (0.0,)
        candidates = []
        for s_rate in scalings:
            theta_c = med.copy()
            theta_c[rate_idx] = med[rate_idx] * np.exp(s_rate)
            lp_rate = sum(pr.jr[self.free[i]].logpdf(theta_c[i]) for i in rate_idx)
            prev = None  # warm start from the neighbouring grid point
            for v in np.linspace(v_lo, v_hi, n_grid + 2)[1:-1]:
                theta = np.concatenate([[v], theta_c])
                if not _stable(theta, self.free, fixed):
                    continue
                psd_jr, p, logjac, _ = jr_linear_numpy(theta, fine, self.free, fixed)
                lp_p = float(pr.p.logpdf(p)) + logjac + lp_rate
                if not np.isfinite(lp_p):
                    continue
                res = fit_observation(psd_jr, kernel, y, n_eff, pr, o0=prev)
                if prev is not None and res.fun >= 1e299:  # the warm start failed: start afresh
                    res = fit_observation(psd_jr, kernel, y, n_eff, pr)
                prev = res.x
                candidates.append((-res.fun + lp_p, v, res.x, theta_c))
        if not candidates:
            raise FitError(
                f"No stable operating point in the v range {pr.v_bounds} mV at the "
                "prior-median constants: widen SpectralPriors.v_bounds or change the priors."
            )
        candidates.sort(key=lambda c: -c[0])
        # v keeps its whole support: no interval of v computed at fixed constants
        # bounds a stable branch for every constant (measured: cutting v at the
        # branch of the best grid point truncated the posterior where it still
        # had mass). Unstable operating points have zero density, which a NUTS
        # trajectory does not cross, so chains started around one mode stay in
        # the stable set they start in (unless a step jumps a narrow gap).
        starts = [self._unconstrained(v, np.log(theta_c / med), obs) for _, v, obs, theta_c in candidates[:3]]
        return self.maximize(starts)


def _posterior_arrays(idata, free, ref):
    post = idata.posterior
    out = {n: post[n].values for n in free}
    out["v"] = post["v"].values
    out["p"] = post["p"].values
    out["scale"] = np.exp(post["log_scale"].values)
    out["bg"] = ref * np.exp(post["log_bg"].values)
    out["chi"] = post["chi"].values
    out["floor"] = ref * np.exp(post["log_floor"].values)
    return out


def _prior_samples(priors, rng, n=1000):
    out = {k: pr.sample(rng, n) for k, pr in priors.jr.items()}
    out["p"] = priors.p.sample(rng, n)
    out["v"] = rng.uniform(*priors.v_bounds, n)
    out["chi"] = priors.chi.sample(rng, n)
    return out


def _fit_channel(model, kernel, y, n_eff, ch, ci, config, progress):
    """Fit one channel's thinned spectrum ``y`` (data units): posterior, predictions and verdicts.

    Returns
    -------
    bundle : dict
        ``idata`` (the sampler's), ``arrays`` (posterior in data units with
        the derived quantities), ``ppc``/``ppc_mean`` (predictive spectra),
        ``diag``, ``adequacy``, ``stability``, ``regime``, ``branch``, ``time``.
    """
    priors = model.priors
    t0 = time.perf_counter()
    freqs = kernel.freqs
    rng = np.random.default_rng([int(config.seed), ci])  # per channel: a resumed run draws the same
    ref = float(np.median(y))
    model.set_data(kernel, y / ref, n_eff)
    start, lp = model.find_start(kernel, y / ref, n_eff, n_grid=config.n_grid)
    idata = model.sample(start, config, int(config.seed) + 1000 * ci, progress)
    diag = diagnose(idata)
    arrays = _posterior_arrays(idata, priors.free, ref)
    (arrays["peak_freq"], arrays["damping"], arrays["loop_gain_exc"], arrays["loop_gain_inh"]) = derived_quantities(
        arrays, priors, float(freqs[0]), float(freqs[-1])
    )
    # posterior predictive: model mean and Gamma-noised spectra, data units
    n_c, n_d = arrays["v"].shape
    sel = rng.choice(n_c * n_d, size=min(config.n_ppc, n_c * n_d), replace=False)
    flat = {kk: vv.reshape(-1)[sel] for kk, vv in arrays.items()}
    jr = priors.fixed.as_dict()
    jr.update({n: flat[n][:, None] for n in priors.free})
    mean = kernel.apply(
        predicted_psd(
            kernel.fine_freqs,
            flat["v"][:, None],
            jr,
            flat["scale"][:, None] * ref,
            flat["bg"][:, None],
            flat["chi"][:, None],
            flat["floor"][:, None],
        )
    )
    adequacy = spectral_adequacy(y, mean, n_eff, freqs, rng=np.random.default_rng(config.seed + ci))
    damp = arrays["damping"].ravel()
    stability = dict(
        damping_median=float(np.median(damp)),
        damping_q05=float(np.quantile(damp, 0.05)),
        frac_near_boundary=float(np.mean(damp < 1.0)),
    )
    bundle = dict(
        idata=idata,
        arrays=arrays,
        ppc=rng.gamma(n_eff, mean / n_eff),
        ppc_mean=mean,
        diag=diag,
        adequacy=adequacy,
        stability=stability,
        regime=regime_fractions(flat, priors),
        # v keeps its whole support (SpectralModel.find_start); saved files record it as 'v_branch'
        branch=[float(x) for x in priors.v_bounds],
        time=time.perf_counter() - t0,
    )
    return bundle


def _log_channel(ch, bundle, progress):
    diag, adequacy, arrays = bundle["diag"], bundle["adequacy"], bundle["arrays"]
    status = status_line(diag, adequacy)
    if progress:
        logger.info(
            f"  {ch}: peak {np.median(arrays['peak_freq']):.2f} Hz, damping "
            f"{np.median(arrays['damping']):.2f} /s, R-hat {diag['r_hat']:.3f}, ESS {diag['ess_bulk']:.0f}, "
            f"{diag['divergences']} divergences [{bundle['time']:.1f} s] {status}"
        )
    warn_failures(f"Channel {ch}", diag, adequacy)


_MODEL_CACHE = []  # (priors, target_accept, SpectralModel), the most recently used last
_MODEL_CACHE_SIZE = 4


def shared_model(priors=None, target_accept=0.99):
    """The compiled :class:`SpectralModel` for these priors, built once per process and then reused.

    Compiling costs 10-25 s (PyMC's graph, then nutpie's numba functions on
    the first draw); the data of each fit are swapped in, so every later fit
    with equal priors and ``target_accept`` starts at once. The last four
    models are kept. Not for fits running at the same time in several
    threads of one process (they would swap each other's data).

    Parameters
    ----------
    priors : SpectralPriors | None
        The priors and fixed constants the model is built for (None:
        :class:`~jrfit.inference.priors.SpectralPriors`).
    target_accept : float
        Its NUTS target acceptance rate.

    Returns
    -------
    model : SpectralModel
    """
    priors = priors or SpectralPriors()
    for i, (pri, ta, model) in enumerate(_MODEL_CACHE):
        if pri == priors and ta == target_accept:
            _MODEL_CACHE.append(_MODEL_CACHE.pop(i))
            logger.info("Reusing the spectral model compiled earlier in this process")
            return model
    model = SpectralModel(priors, target_accept=target_accept)
    _MODEL_CACHE.append((priors, target_accept, model))
    del _MODEL_CACHE[:-_MODEL_CACHE_SIZE]
    return model


@verbose
def fit_spectrum(spectrum, *, priors=None, config=None, model=None, progress=True, checkpoint=None, verbose=None):
    """Fit the linearised JR spectrum to every channel of an observed spectrum.

    Parameters
    ----------
    spectrum : ObservedSpectrum
        Measured PSD (mV^2/Hz) with its effective segment count.
    priors : SpectralPriors | None
        Priors and fixed constants (default :class:`~jrfit.inference.priors.SpectralPriors`).
    config : FitConfig | None
        Sampler settings.
    model : SpectralModel | None
        A compiled model to reuse (its priors are used); if None, the
        process's model for these priors (:func:`shared_model`).
    progress : bool
        Log one line per channel (and PyMC's progress bar when verbose).
    checkpoint : path-like | None
        Folder where each finished channel is saved as it completes; a
        channel already saved there for the same data, priors, settings and
        jrfit version is loaded instead of refitted, so an interrupted run
        resumes (the command line uses a hidden folder beside its output and
        removes it once the result set is written).
    verbose : bool | str | None
        Log level for this call (True or 'info' shows progress).

    Returns
    -------
    result : FitResult
    """
    config = config or FitConfig()
    t_start = time.perf_counter()
    model, compile_before = _model_for(model, priors, config)
    priors = model.priors
    k = thin_factor(spectrum)
    freqs = np.asarray(spectrum.freqs, float)[::k]
    kernel = leakage_kernel(spectrum, freqs) if config.debias else LeakageKernel.identity(freqs, "none (debias=False)")
    n_eff_all = np.broadcast_to(np.asarray(spectrum.n_eff, float), (len(spectrum.ch_names),))
    logger.info(
        f"Fitting {len(spectrum.ch_names)} channel(s), {freqs[0]:.2f}-{freqs[-1]:.2f} Hz, "
        f"{freqs.size} bins (every {k}. bin: bins closer than the window bandwidth are correlated); "
        f"leakage: {kernel.description}"
    )
    bundles = {}
    for ci, ch in enumerate(spectrum.ch_names):
        y = np.asarray(spectrum.psd[ci], float)[::k]
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise FitError(f"Channel {ch!r} has non-finite or non-positive power in the band: check the recording.")
        job = (model, kernel, y, float(n_eff_all[ci]), ch, ci, config, progress)
        bundles[ch] = _fit_or_resume(job, checkpoint, bundles, len(spectrum.ch_names))
    timings = dict(compile=model.compile_time - compile_before)
    groups = _spectral_groups(bundles, spectrum, priors, config, freqs, k, n_eff_all)
    attrs = _spectral_attrs(bundles, spectrum, model, config, kernel, k, n_eff_all, timings, t_start)
    return make_result(groups, attrs, config, priors)


def _model_for(model, priors, config):
    """The compiled model a fit uses, and its compile time before the fit (s: what the fit compiles is the rest)."""
    if model is not None and priors is not None and priors != model.priors:
        raise FitError(
            "fit_spectrum got both 'priors' and a compiled 'model' built with other priors: "
            "pass only the model, or build SpectralModel(priors) for these priors."
        )
    if model is None:
        model = shared_model(priors, target_accept=config.target_accept)
    compile_before = model.compile_time  # what this call compiles: the first time, the whole model
    if not getattr(model, "_used", False):
        compile_before, model._used = 0.0, True
    return model, compile_before


def _fit_or_resume(job, checkpoint, done, n_channels):
    """One channel's bundle (:func:`_fit_channel`): loaded from ``checkpoint`` when saved there, else fitted.

    ``job`` holds :func:`_fit_channel`'s arguments; ``done`` the bundles of the
    channels fitted before (for the time estimate), ``n_channels`` their total.
    """
    model, kernel, y, n_eff, ch, ci, config, progress = job
    key = checkpoint_key(y, n_eff, kernel, model.priors, config, ci) if checkpoint else None
    bundle = load_checkpoint(checkpoint, ch, key) if checkpoint else None
    if bundle is not None:
        if progress:
            logger.info(f"  {ch}: resumed from the finished fit in {checkpoint}")
        return bundle
    if progress:
        logger.info(
            f"{ch} ({ci + 1}/{n_channels}): start search, then {config.chains} chains x "
            f"({config.tune} + {config.draws}) draws"
        )
    bundle = _fit_channel(*job)
    if checkpoint:
        save_checkpoint(checkpoint, ch, key, bundle)
    _log_channel(ch, bundle, progress)
    left = n_channels - ci - 1
    if progress and left:
        fitted = [b["time"] for b in done.values()] + [bundle["time"]]
        logger.info(f"  about {np.mean(fitted) * left:.0f} s left for {left} more channel(s)")
    return bundle


_POSTERIOR = ("v", "p", "scale", "bg", "chi", "floor", "peak_freq", "damping", "loop_gain_exc", "loop_gain_inh")
"""The posterior's variables after the free JR constants."""


def _spectral_groups(bundles, spectrum, priors, config, freqs, k, n_eff_all):
    """The InferenceData groups of a spectral fit over channels (:func:`jrfit.inference.results.inference_data`)."""
    chans = list(spectrum.ch_names)
    dims = ("chain", "draw", "channel")
    coords = dict(chain=np.arange(config.chains), draw=np.arange(config.draws), channel=chans)
    b = list(bundles.values())
    post = {n: (dims, np.stack([x["arrays"][n] for x in b], axis=-1)) for n in list(priors.free) + list(_POSTERIOR)}
    ss = b[0]["idata"].sample_stats
    stats = {
        s: (dims, np.stack([x["idata"].sample_stats[s].values for x in b], axis=-1))
        for s in ss.data_vars
        if ss[s].ndim == 2
    }
    pdims = ("chain", "draw", "channel", "freq")
    pp = {
        "psd": (pdims, np.stack([x["ppc"] for x in b], axis=1)[None]),
        "psd_mean": (pdims, np.stack([x["ppc_mean"] for x in b], axis=1)[None]),
    }
    pcoords = dict(chain=[0], draw=np.arange(b[0]["ppc"].shape[0]), channel=chans, freq=freqs)
    rng = np.random.default_rng([int(config.seed), 1 << 20])  # the prior draws
    return dict(
        posterior=(post, coords),
        sample_stats=(stats, coords),
        prior=prior_group(_prior_samples(priors, rng)),
        posterior_predictive=(pp, pcoords),
        **spectrum_groups(chans, freqs, np.asarray(spectrum.psd, float)[:, ::k], n_eff_all),
    )


def _spectral_attrs(bundles, spectrum, model, config, kernel, k, n_eff_all, timings, t_start):
    """The provenance of a spectral fit (:func:`jrfit.inference.results.fit_attrs`)."""
    priors = model.priors
    chans = list(spectrum.ch_names)
    per = {name: {ch: b[name] for ch, b in bundles.items()} for name in ("diag", "adequacy", "regime", "time")}
    fixed = priors.fixed.as_dict()
    sampler = model.sampler_for(config)
    return fit_attrs(
        source=spectrum.source,
        channels=chans,
        preprocessing=list(spectrum.record),
        priors=priors,
        seed=config.seed,
        sampler=nuts_settings(config, config.n_cores(sampler), "nutpie NUTS" if sampler == "nutpie" else "PyMC NUTS"),
        likelihood="linear (debiased Whittle)" if not kernel.is_identity else "linear (Whittle)",
        diagnostics=per["diag"],
        adequacy=per["adequacy"],
        regime=per["regime"],
        timings=dict(timings, **per["time"]),
        t_start=t_start,
        fmin=float(kernel.freqs[0]),
        fmax=float(kernel.freqs[-1]),
        units="mV^2/Hz",
        method=spectrum.method,
        thin=int(k),
        identified=IDENTIFIED,
        conditional=dict(
            names=[n for n in ("B", "C", "p") if n in priors.free or n == "p"],
            given={n: fixed[n] for n in ("A", "C", "e0", "r", "v0", "c1", "c2", "c3", "c4") if n not in priors.free},
        ),
        leakage=kernel.description,
        stability={ch: b["stability"] for ch, b in bundles.items()},
        n_eff={c: float(n) for c, n in zip(chans, n_eff_all)},
        v_branch={ch: b["branch"] for ch, b in bundles.items()},
    )
