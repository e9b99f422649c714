"""PyMC model of a measured spectrum, NUTS sampling, diagnostics, results.

The model is built and compiled once per structure (:class:`SpectralModel`);
each channel's spectrum is swapped in (``pm.set_data``, nutpie's ``with_data``)
and sampled with the same compiled log-density and gradient: by nutpie from the
numba-compiled graph (default) or by PyMC's sampler. Before sampling, a grid
over the operating potential v followed by L-BFGS finds the dominant mode (the
posterior can be multimodal across fixed-point branches, which unstable
operating points of zero density separate), and the chains start around it.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from jrfit import __version__
from jrfit.utils.log import logger, quiet_arviz_shapes, quiet_compile, verbose
from jrfit.errors import FitError
from jrfit.inference.leakage import LeakageKernel, leakage_kernel
from jrfit.inference.adequacy import spectral_adequacy
from jrfit.inference.likelihood import observation_model, predicted_psd, thin_factor, whittle_logp
from jrfit.inference.priors import SpectralPriors

__all__ = [
    "SpectralModel",
    "FitConfig",
    "FitResult",
    "fit_spectrum",
    "diagnose",
    "diagnose_smc",
    "THRESHOLDS",
    "SMC_THRESHOLDS",
]

IDENTIFIED = ("a", "b", "loop_gain_exc", "loop_gain_inh", "damping", "peak_freq")
"""What a spectrum identifies (the primary result): the rate constants, the two
loop gains (:func:`jrfit.model.spectrum.loop_gains`), the damping and the peak
frequency. B, C and p are conditional on the fixed constants: with C fixed
at a wrong value, B's interval shifts to keep the loop gains (measured on
recordings with C = 110-125 fitted at C = 135)."""

THRESHOLDS = dict(r_hat=1.01, ess_bulk=400.0, ess_tail=400.0, divergences=0, bfmi=0.3)
"""Convergence criteria: a fit failing any of them is marked as failed."""


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


class _CompiledModel:
    """What the compiled spectral and ERP models share: branch data, starts."""

    def set_branch(self, v_lo, v_hi):
        """Restrict v (mV) to one stable fixed-point branch (no recompilation)."""
        import pymc as pm

        with self.model:
            pm.set_data(dict(v_lo=float(v_lo), v_hi=float(v_hi)))
        self._v_support = (float(v_lo), float(v_hi))

    def logp_dlogp(self, x):
        """Log density and gradient at an unconstrained raveled point."""
        return self._func(x)

    def _raveled_info(self):
        from pymc.blocking import DictToArrayBijection

        ip = self.model.initial_point()
        return DictToArrayBijection.map({v.name: ip[v.name] for v in self._func._grad_vars}).point_map_info

    def maximize(self, points, maxiter=500):
        """L-BFGS on the compiled log density from each start; the best point.

        Returns
        -------
        point : dict
            Unconstrained point (value-variable name -> value).
        logp : float
        """
        from pymc.blocking import DictToArrayBijection, RaveledVars
        from scipy.optimize import minimize

        info = self._raveled_info()

        def neg_full(x):
            with np.errstate(all="ignore"):
                lp, g = self._func(RaveledVars(x, info))
            if not np.isfinite(lp):
                return 1e300, np.zeros_like(x)
            return -lp, -g

        best = None
        for point in points:
            x0 = DictToArrayBijection.map({name: np.asarray(point[name]) for name, *_ in info})
            res = minimize(neg_full, x0.data, jac=True, method="L-BFGS-B", options=dict(maxiter=maxiter))
            if best is None or -res.fun > best[0]:
                best = (-res.fun, res.x)
        return DictToArrayBijection.rmap(RaveledVars(best[1], info)), best[0]

    def chain_starts(self, point, n_chains, rng, jitter=0.05):
        """Starts for each chain: the mode plus small jitter, all with finite density."""
        from pymc.blocking import DictToArrayBijection, RaveledVars

        ref = DictToArrayBijection.map({v.name: np.asarray(point[v.name]) for v in self._func._grad_vars})
        starts = []
        for _ in range(n_chains):
            for _try in range(50):
                x = ref.data + jitter * rng.standard_normal(ref.data.size)
                lp, _ = self._func(RaveledVars(x, ref.point_map_info))
                if np.isfinite(lp):
                    break
            else:
                x = ref.data
            starts.append(DictToArrayBijection.rmap(RaveledVars(x, ref.point_map_info)))
        return starts

    _nutpie_ok = False  # the model's Ops compile with PyTensor's numba backend

    def sampler_for(self, config):
        """The NUTS implementation this model uses with ``config``."""
        return "nutpie" if (config.sampler == "nutpie" and self._nutpie_ok) else "pymc"

    def sample(self, point, config, seed, progress=True):
        """NUTS from jittered starts around ``point`` (InferenceData).

        nutpie samples the numba-compiled log density (compiled once per
        model, the current data swapped in), each chain from a start drawn
        from the seed nutpie derives for it; PyMC's sampler uses the compiled
        step from starts drawn with ``seed``.
        """
        from jrfit.utils.outputs import check_interrupted

        if self.sampler_for(config) == "nutpie":
            idata = self._sample_nutpie(point, config, seed, progress)
        else:
            idata = self._sample_pymc(point, config, seed, progress)
        # both samplers catch Ctrl-C (and our SIGTERM) and return what they have: stop here
        check_interrupted(idata.posterior.sizes["draw"], config.draws)
        return idata

    def _sample_pymc(self, point, config, seed, progress):
        import pymc as pm

        starts = self.chain_starts(point, config.chains, np.random.default_rng(seed))
        with self.model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pm.sample(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=config.n_cores("pymc"),
                step=self.step,
                initvals=starts,
                random_seed=seed,
                progressbar=bool(progress) and logger.level <= 20 and sys.stderr.isatty(),
                compute_convergence_checks=False,
                return_inferencedata=True,
                idata_kwargs=dict(log_likelihood=False),
            )

    def nutpie_model(self):
        """The model compiled for nutpie (numba backend), built on first use."""
        if getattr(self, "_nutpie", None) is None:
            try:
                import nutpie
            except ImportError as err:
                raise FitError(
                    f"The nutpie sampler is not available ({err}): install it with "
                    "'pip install nutpie', or choose PyMC's sampler (FitConfig(sampler='pymc'), "
                    "--sampler pymc)."
                ) from err
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._nutpie = nutpie.compile_pymc_model(self.model, backend="numba")
            dt = time.perf_counter() - t0
            self.compile_time += dt
            logger.info(f"Compiled the model for nutpie in {dt:.1f} s")
        return self._nutpie

    def _sample_nutpie(self, point, config, seed, progress):
        import dataclasses
        import threading

        import nutpie

        compiled = self.nutpie_model()
        data = {name: self.model[name].get_value() for name in compiled.shared_data}
        compiled = compiled.with_data(**data)
        names, slices = compiled.shape_info[0], compiled.shape_info[1]
        n_dim = compiled.n_dim
        lock = threading.Lock()

        def init(chain_seed):
            # nutpie calls this from its chain threads with a seed it derives
            # for each chain: the start depends on that seed only, so runs repeat
            with lock:
                st = self.chain_starts(point, 1, np.random.default_rng(int(chain_seed)))[0]
            x = np.empty(n_dim)
            for name, sl in zip(names, slices):
                if sl.stop <= n_dim:
                    x[sl] = np.ravel(st[name])
            return x

        compiled = dataclasses.replace(compiled, initial_point_func=init)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nutpie.sample(
                compiled,
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=config.n_cores("nutpie"),
                seed=int(seed),
                target_accept=config.target_accept,
                # a progress bar only on a terminal: in a log file it arrives at the end, all at once
                save_warmup=False,
                progress_bar=bool(progress) and logger.level <= 20 and sys.stderr.isatty(),
                low_rank_modified_mass_matrix=getattr(config, "mass_matrix", "diag") == "low-rank",
            )


class SpectralModel(_CompiledModel):
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
                res = _fit_observation(psd_jr, kernel, y, n_eff, pr, o0=prev)
                if prev is not None and res.fun >= 1e299:  # the warm start failed: start afresh
                    res = _fit_observation(psd_jr, kernel, y, n_eff, pr)
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
        point, lp = self.maximize(starts)
        self.branch = tuple(float(x) for x in pr.v_bounds)
        return point, lp


# ----------------------------------------------------------------------------
def _observation_terms(o, psd_jr, kernel):
    """Prediction ``M (scale psd_jr + bg f^-chi + floor)`` at o = (log scale, log bg, chi, log floor) and its Jacobian.

    Returns
    -------
    pred : ndarray, shape (n_bins,)
    d_pred : ndarray, shape (4, n_bins)
        Derivatives of the prediction with respect to the entries of o.
    """
    log_f = np.log(kernel.fine_freqs)
    with np.errstate(over="ignore", invalid="ignore"):
        jr, bg = np.exp(o[0]) * psd_jr, np.exp(o[1] - o[2] * log_f)
        parts = np.stack([jr, bg, -log_f * bg, np.full(log_f.size, np.exp(o[3]))])
        d_pred = parts @ kernel.matrix.T
    return d_pred[0] + d_pred[1] + d_pred[3], d_pred


def _observation_objective(o, psd_jr, kernel, y, n_eff, pr):
    """Negative log posterior of o = (log scale, log bg, chi, log floor) at a fixed JR spectrum, and its gradient.

    With ``r = n_eff (y / pred - 1) / pred``, the derivative of the Whittle
    log-likelihood with respect to the prediction (:func:`_observation_terms`),
    the gradient is ``d_pred @ r`` plus the priors' (checked against finite
    differences in the tests).
    """
    f, g, _, _ = _objective_and_terms(o, psd_jr, kernel, y, n_eff, pr)
    return f, g


def _objective_and_terms(o, psd_jr, kernel, y, n_eff, pr):
    """:func:`_observation_objective` and the prediction and its Jacobian it was computed from."""
    priors = (pr.log_scale, pr.log_bg, pr.chi, pr.log_floor)
    pred, d_pred = _observation_terms(o, psd_jr, kernel)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lp = whittle_logp(y, pred, n_eff) + sum(float(q.logpdf(x)) for q, x in zip(priors, o))
        if not np.isfinite(lp) or np.any(pred <= 0):
            return 1e300, np.zeros(4), pred, d_pred
        grad = d_pred @ (n_eff * (y / pred - 1.0) / pred)
    grad -= np.array([(x - q.mean) / q.sd**2 for q, x in zip(priors, o)])
    return -lp, -grad, pred, d_pred


def _fit_observation(psd_jr, kernel, y, n_eff, pr, o0=None, maxiter=50):
    """Maximise over (log scale, log bg, chi, log floor) at a fixed JR spectrum on the fine grid.

    Fisher scoring: the Whittle likelihood's Fisher information,
    ``d_pred diag(n_eff / pred^2) d_pred^T`` plus the priors' precisions,
    preconditions each step, with a backtracking line search and chi kept
    within its prior bounds; from ``o0`` (the solution at a neighbouring
    grid point) or a rough guess. It reaches the same optimum as scipy's
    L-BFGS-B in a few iterations without its per-call overhead (measured on
    the built-in example, 2 cores: the whole :meth:`SpectralModel.find_start`
    0.5-0.8 s per channel against 2.6-3.6 s with L-BFGS-B and
    finite-difference gradients, the same mode to 1e-4 in log density).

    Returns
    -------
    res : SimpleNamespace
        ``x`` (the optimum) and ``fun`` (the negative log posterior there).
    """
    from types import SimpleNamespace

    if o0 is None or not np.all(np.isfinite(o0)):
        o0 = [np.log(np.max(y) / np.max(psd_jr)), np.log(y[0] * kernel.freqs[0] ** 1.5 / 2), 1.5, np.log(np.min(y) / 2)]
    lo, hi = pr.chi.lower, pr.chi.upper
    o = np.array(o0, float)
    o[2] = np.clip(o[2], lo, hi)
    prec = np.array([1.0 / q.sd**2 for q in (pr.log_scale, pr.log_bg, pr.chi, pr.log_floor)])
    f, g, pred, d_pred = _objective_and_terms(o, psd_jr, kernel, y, n_eff, pr)
    for _ in range(maxiter):
        if f >= 1e299:
            break
        fisher = (d_pred * (n_eff / pred**2)) @ d_pred.T + np.diag(prec)
        step = -np.linalg.solve(fisher + 1e-9 * np.trace(fisher) * np.eye(4), g)
        t = 1.0
        for _ls in range(30):
            trial = o + t * step
            trial[2] = np.clip(trial[2], lo, hi)
            f_new, g_new, pred_new, d_new = _objective_and_terms(trial, psd_jr, kernel, y, n_eff, pr)
            if f_new <= f + 1e-4 * t * float(g @ step):
                break
            t *= 0.5
        else:
            break
        converged = f - f_new < 1e-9 * (1.0 + abs(f))
        o, f, g, pred, d_pred = trial, f_new, g_new, pred_new, d_new
        if converged:
            break
    return SimpleNamespace(x=o, fun=f)


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
    if not d["ess_bulk"] >= T["ess_bulk"]:
        problems.append(f"bulk ESS {d['ess_bulk']:.0f} < {T['ess_bulk']:.0f}")
    if not d["ess_tail"] >= T["ess_tail"]:
        problems.append(f"tail ESS {d['ess_tail']:.0f} < {T['ess_tail']:.0f}")
    if d["divergences"] > T["divergences"]:
        problems.append(f"{d['divergences']} divergent transitions")
    if not d["bfmi"] >= T["bfmi"]:
        problems.append(f"BFMI {d['bfmi']:.2f} < {T['bfmi']}")
    d["passed"] = not problems
    d["problems"] = problems
    return d


SMC_THRESHOLDS = dict(r_hat=1.01, ess_bulk=400.0)
"""Criteria of the SMC (simulation-route) fits: R-hat across independent SMC
runs and the bulk ESS of the final particles (no divergences or BFMI exist)."""


def diagnose_smc(idata):
    """Diagnostics of an SMC fit: R-hat across chains, bulk/tail ESS of the particles."""
    d = dict(
        _worst_rhat_ess(idata.posterior),
        divergences=0,
    )
    problems = []
    if not d["r_hat"] <= SMC_THRESHOLDS["r_hat"]:
        problems.append(_rhat_problem(idata.posterior, d, SMC_THRESHOLDS["r_hat"]))
    if not d["ess_bulk"] >= SMC_THRESHOLDS["ess_bulk"]:
        problems.append(f"bulk ESS {d['ess_bulk']:.0f} < {SMC_THRESHOLDS['ess_bulk']:.0f}")
    d["passed"] = not problems
    d["problems"] = problems
    return d


# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FitResult:
    """Result of a fit: the InferenceData and the configuration that made it.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior (natural units), prior, posterior predictive PSD, observed
        data, sample stats; metadata in ``idata.attrs``.
    config : dict
        Settings (sampler, band, priors, input), JSON-serialisable.
    """

    idata: object
    config: dict = field(default_factory=dict)
    companions: dict = field(default_factory=dict)
    """Other fits kept beside this one, by name (e.g. ``'simulation'``: the
    simulation-route fit of the channels whose linearisation was rejected,
    :func:`jrfit.inference.routes.fit_psd`); ``attrs['routes']`` says which is trusted."""

    @property
    def diagnostics(self):
        """Per-channel convergence diagnostics (dict)."""
        return json.loads(self.idata.attrs["diagnostics"])

    @property
    def passed(self):
        """True if every channel passed its convergence checks (the sampler converged)."""
        return all(d["passed"] for d in self.diagnostics.values())

    @property
    def adequacy(self):
        """Per-channel posterior-predictive adequacy (dict; :func:`jrfit.inference.adequacy.spectral_adequacy`)."""
        return json.loads(self.idata.attrs.get("adequacy", "{}"))

    @property
    def fits(self):
        """True if the model fits every channel's data (a verdict separate from :attr:`passed`)."""
        return all(a["fits"] for a in self.adequacy.values())

    def save(self, fname, overwrite=False):
        """Write the InferenceData to NetCDF atomically."""
        from pathlib import Path

        from jrfit.utils.atomic import atomic_path

        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FitError(
                f"{fname} exists; pass overwrite=True to replace it.", cli={"pass overwrite=True": "give --overwrite"}
            )
        with atomic_path(fname) as tmp:
            self.idata.to_netcdf(str(tmp))
        return fname


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


def _derived(arrays, priors, fmin, fmax):
    """Peak frequency of the JR component (Hz), damping (/s) and the two loop gains per draw."""
    from jrfit.model.column import eigenvalues
    from jrfit.model.params import JRParams
    from jrfit.model.spectrum import loop_gains, psd_from_v

    shape = arrays["v"].shape
    vals = {k: arrays[k].ravel() for k in priors.free}
    params = priors.fixed.replace(**vals) if vals else priors.fixed
    v = arrays["v"].ravel()
    grid = np.linspace(max(fmin, 0.5), fmax, 400)
    d = {k: (np.asarray(x)[:, None] if np.ndim(x) else x) for k, x in params.as_dict().items()}
    psd = psd_from_v(grid, v[:, None], d)
    peak = _interpolated_peak(grid, psd)
    ev = eigenvalues(v, JRParams(**{k: np.broadcast_to(x, v.shape) for k, x in params.as_dict().items()}))
    damping = -ev[:, 0].real
    g_exc, g_inh = loop_gains(v, {k: np.asarray(x) for k, x in params.as_dict().items()})
    return peak.reshape(shape), damping.reshape(shape), np.reshape(g_exc, shape), np.reshape(g_inh, shape)


def _interpolated_peak(grid, psd):
    """Frequency of each row's maximum, refined by a parabola through the log PSD at the three grid points around it.

    The grid's spacing alone (0.095 Hz for 400 points over 2-40 Hz) would
    quantise every peak frequency; the parabola's vertex is accurate to a
    small fraction of it for the smooth linearised spectrum.
    """
    i = np.argmax(psd, axis=1)
    inner = (i > 0) & (i < grid.size - 1)
    j = np.clip(i, 1, grid.size - 2)
    rows = np.arange(psd.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        lm, l0, lp = (np.log(psd[rows, j + k]) for k in (-1, 0, 1))
        curv = lm - 2.0 * l0 + lp
        shift = np.where(inner & (curv < 0), 0.5 * (lm - lp) / curv, 0.0)
    return grid[i] + np.clip(np.nan_to_num(shift), -0.5, 0.5) * (grid[1] - grid[0])


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
    branch = [float(x) for x in model.branch]
    idata = model.sample(start, config, int(config.seed) + 1000 * ci, progress)
    diag = diagnose(idata)
    arrays = _posterior_arrays(idata, priors.free, ref)
    (arrays["peak_freq"], arrays["damping"], arrays["loop_gain_exc"], arrays["loop_gain_inh"]) = _derived(
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
        regime=_regime_fractions(flat, priors),
        branch=branch,
        time=time.perf_counter() - t0,
    )
    return bundle


def _log_channel(ch, bundle, progress):
    diag, adequacy, arrays = bundle["diag"], bundle["adequacy"], bundle["arrays"]
    status = ("ok" if diag["passed"] else "FAILED: " + "; ".join(diag["problems"])) + (
        "; model fits the data" if adequacy["fits"] else "; MODEL MISFIT: " + "; ".join(adequacy["problems"])
    )
    if progress:
        logger.info(
            f"  {ch}: peak {np.median(arrays['peak_freq']):.2f} Hz, damping "
            f"{np.median(arrays['damping']):.2f} /s, R-hat {diag['r_hat']:.3f}, ESS {diag['ess_bulk']:.0f}, "
            f"{diag['divergences']} divergences [{bundle['time']:.1f} s] {status}"
        )
    if not diag["passed"]:
        logger.warning(f"Channel {ch}: the fit did not pass its diagnostics ({'; '.join(diag['problems'])}).")
    if not adequacy["fits"]:
        logger.warning(f"Channel {ch}: the model does not fit the data ({'; '.join(adequacy['problems'])}).")


def _checkpoint_key(y, n_eff, kernel, priors, config, ci):
    """Hash of everything a channel's fit depends on: a checkpoint is reused only for the same fit."""
    import hashlib

    h = hashlib.sha256()
    for arr in (y, kernel.freqs, kernel.fine_freqs, kernel.matrix):
        h.update(np.ascontiguousarray(arr, float).tobytes())
    h.update(
        json.dumps(
            [n_eff, kernel.description, priors.to_dict(), config.__dict__, ci, __version__], sort_keys=True, default=str
        ).encode()
    )
    return h.hexdigest()


def _checkpoint_file(folder, ch):
    import hashlib
    from pathlib import Path

    return Path(folder) / f"channel-{hashlib.sha1(ch.encode()).hexdigest()[:12]}.pkl"


def _save_checkpoint(folder, ch, key, bundle):
    """Write one finished channel (atomically) so that an interrupted run can resume after it."""
    import pickle
    from pathlib import Path

    from jrfit.utils.atomic import atomic_path

    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_path(_checkpoint_file(folder, ch)) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(dict(key=key, channel=ch, bundle=bundle), f, protocol=pickle.HIGHEST_PROTOCOL)


def _load_checkpoint(folder, ch, key):
    """The finished fit of ``ch`` saved under ``key``, or None."""
    import pickle

    fname = _checkpoint_file(folder, ch)
    if not fname.exists():
        return None
    try:
        with open(fname, "rb") as f:
            saved = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    return saved["bundle"] if saved.get("key") == key and saved.get("channel") == ch else None


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
        Priors and fixed constants (default :class:`~jrfit.inference.priors.SpectralPriors`).
    target_accept : float
        NUTS target acceptance rate.

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
    import arviz as az
    import xarray as xr

    config = config or FitConfig()
    t_start = time.perf_counter()
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
        key = _checkpoint_key(y, float(n_eff_all[ci]), kernel, priors, config, ci) if checkpoint else None
        bundle = _load_checkpoint(checkpoint, ch, key) if checkpoint else None
        if bundle is None:
            if progress:
                logger.info(
                    f"{ch} ({ci + 1}/{len(spectrum.ch_names)}): start search, then {config.chains} chains x "
                    f"({config.tune} + {config.draws}) draws"
                )
            bundle = _fit_channel(model, kernel, y, float(n_eff_all[ci]), ch, ci, config, progress)
            if checkpoint:
                _save_checkpoint(checkpoint, ch, key, bundle)
            _log_channel(ch, bundle, progress)
            left = len(spectrum.ch_names) - ci - 1
            if progress and left:
                fitted = [b["time"] for b in bundles.values()] + [bundle["time"]]
                logger.info(f"  about {np.mean(fitted) * left:.0f} s left for {left} more channel(s)")
        elif progress:
            logger.info(f"  {ch}: resumed from the finished fit in {checkpoint}")
        bundles[ch] = bundle
    per_channel = [(b["idata"], b["arrays"]) for b in bundles.values()]
    ppc, ppc_mean = [b["ppc"] for b in bundles.values()], [b["ppc_mean"] for b in bundles.values()]
    diags, adequacy, stability, regimes, branches, timings = (
        {ch: b[name] for ch, b in bundles.items()}
        for name in ("diag", "adequacy", "stability", "regime", "branch", "time")
    )
    rng = np.random.default_rng([int(config.seed), 1 << 20])  # the prior draws
    # ---- assemble one InferenceData over channels
    chans = list(spectrum.ch_names)
    names = list(priors.free) + [
        "v",
        "p",
        "scale",
        "bg",
        "chi",
        "floor",
        "peak_freq",
        "damping",
        "loop_gain_exc",
        "loop_gain_inh",
    ]
    post = xr.Dataset(
        {n: (("chain", "draw", "channel"), np.stack([a[n] for _, a in per_channel], axis=-1)) for n in names},
        coords=dict(chain=np.arange(config.chains), draw=np.arange(config.draws), channel=chans),
    )
    stats_names = [s for s in per_channel[0][0].sample_stats.data_vars]
    stats = xr.Dataset(
        {
            s: (("chain", "draw", "channel"), np.stack([i.sample_stats[s].values for i, _ in per_channel], axis=-1))
            for s in stats_names
            if per_channel[0][0].sample_stats[s].ndim == 2
        },
        coords=post.coords,
    )
    pri = _prior_samples(priors, rng)
    prior = xr.Dataset(
        {n: (("chain", "draw"), v[None]) for n, v in pri.items()}, coords=dict(chain=[0], draw=np.arange(len(pri["p"])))
    )
    n_ppc = ppc[0].shape[0]
    pp = xr.Dataset(
        {
            "psd": (("chain", "draw", "channel", "freq"), np.stack(ppc, axis=1)[None]),
            "psd_mean": (("chain", "draw", "channel", "freq"), np.stack(ppc_mean, axis=1)[None]),
        },
        coords=dict(chain=[0], draw=np.arange(n_ppc), channel=chans, freq=freqs),
    )
    obs = xr.Dataset(
        {"psd": (("channel", "freq"), np.asarray(spectrum.psd, float)[:, ::k])}, coords=dict(channel=chans, freq=freqs)
    )
    const = xr.Dataset({"n_eff": (("channel",), n_eff_all.copy())}, coords=dict(channel=chans))
    idata = az.InferenceData(
        posterior=post, sample_stats=stats, prior=prior, posterior_predictive=pp, observed_data=obs, constant_data=const
    )
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
        free_params=json.dumps(list(priors.free)),
        identified=json.dumps(IDENTIFIED),
        conditional=json.dumps(
            dict(
                names=[n for n in ("B", "C", "p") if n in priors.free or n == "p"],
                given={
                    n: priors.fixed.as_dict()[n]
                    for n in ("A", "C", "e0", "r", "v0", "c1", "c2", "c3", "c4")
                    if n not in priors.free
                },
            )
        ),
        seed=int(config.seed),
        sampler=json.dumps(
            dict(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=config.n_cores(model.sampler_for(config)),
                target_accept=config.target_accept,
                sampler="nutpie NUTS" if model.sampler_for(config) == "nutpie" else "PyMC NUTS",
            )
        ),
        likelihood="linear (debiased Whittle)" if not kernel.is_identity else "linear (Whittle)",
        leakage=kernel.description,
        diagnostics=json.dumps(diags),
        adequacy=json.dumps(adequacy),
        regime=json.dumps(regimes),
        stability=json.dumps(stability),
        n_eff=json.dumps({c: float(n) for c, n in zip(chans, n_eff_all)}),
        v_branch=json.dumps(branches),
        timings_s=json.dumps(
            dict(compile=model.compile_time - compile_before, **timings, total=time.perf_counter() - t_start)
        ),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    idata.attrs.update(attrs)
    idata.posterior.attrs.update(attrs)
    cfg = dict(config=config.__dict__, priors=priors.to_dict())
    return FitResult(idata=idata, config=cfg)


def _regime_fractions(flat, priors, n=60):
    """Fractions of posterior draws in each dynamical regime (at their own p)."""
    from jrfit.dynamics.bifurcation import regime

    m = min(n, flat["p"].size)
    vals = {k: flat[k][:m] for k in priors.free}
    params = priors.fixed.replace(mu=flat["p"][:m], **vals)
    labels = regime(params)
    labels = [str(x) for x in np.ravel(labels)]
    uniq, counts = np.unique(labels, return_counts=True)
    return {u: float(c) / m for u, c in zip(uniq, counts)}
