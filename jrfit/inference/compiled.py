"""What the compiled models of the spectral and ERP routes share: mode search, chain starts, NUTS.

A subclass builds ``self.model`` (a PyMC model), ``self.step`` (PyMC's NUTS
step, whose compiled log density and gradient ``self._func`` is) and
``self.compile_time`` (s); :class:`CompiledModel` then finds modes by
L-BFGS, draws chain starts around them and samples with nutpie (from the
numba-compiled graph, where the model's Ops allow it) or with PyMC's sampler.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from jrfit.errors import FitError
from jrfit.utils.log import logger

__all__ = ["CompiledModel"]


class CompiledModel:
    """What the compiled spectral and ERP models share: the mode search, chain starts, sampling."""

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
