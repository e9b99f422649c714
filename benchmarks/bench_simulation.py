"""Simulation route (synthetic likelihood, SMC) against the linear route, one channel.

Run: python benchmarks/bench_simulation.py [--abc | --abc-only]

With --abc, also the alternative the route was chosen against: ABC with
``pm.Simulator`` (one simulated replicate of the recording's length per
particle, Gaussian kernel on the same log-PSD features with epsilon = 0.3,
PyMC's SMC-ABC), on the same data: time, recovery and simulations.

Data: 60 s of the JR 1995 column at p = 220 /s (the alpha limit cycle,
sigma = 2 /s^0.5), Welch spectrum 2-40 Hz. Prints, for the simulation route
with its default settings (2 SMC chains of 500 particles on 2 cores, 8
replicates per parameter set), the wall time, the number of simulations, the
simulated seconds per wall second and the recovery of p, B and the peak
frequency; then the linear route's time on the same data (run in the same
process) and whether its validity check rejects it.
"""

import json
import logging
import sys
import time

import numpy as np


def main():
    from jrfit import JRParams
    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.spectral import FitConfig, fit_spectrum
    from jrfit.inference.routes import check_linear
    from jrfit.inference.simulation import SimulationConfig, fit_spectrum_sim
    from jrfit.inference.synthetic import peak_frequency
    from jrfit.simulators.column import simulate

    logging.getLogger("pymc").setLevel(logging.ERROR)
    truth = JRParams(mu=220.0, sigma=2.0)
    spec = prepare_spectrum(
        simulate(truth, 60.0, dt=1e-3, sfreq=250.0, seed=1).to_raw(), reference=None, line_freq=None, verbose=False
    )
    data_peak = float(peak_frequency(spec.freqs, spec.psd[0]))
    t0 = time.perf_counter()
    res = fit_spectrum_sim(spec, config=SimulationConfig(), progress=False)
    t_sim = time.perf_counter() - t0
    sim = json.loads(res.idata.attrs["simulation"])
    n_sims = sum(sim["simulations"].values())
    sim_s = sum(sim["simulated_seconds"].values())
    d = res.diagnostics["JR000"]
    post = res.idata.posterior
    print(
        f"simulation route: {t_sim:.1f} s wall (target < 600 s), {n_sims} simulations of "
        f"{sim['rep_duration_s']:g} s at dt = {sim['dt_s'] * 1e3:g} ms: {sim_s:.3g} simulated s, "
        f"{sim_s / t_sim:.3g} simulated s per wall s"
    )
    print(
        f"  R-hat {d['r_hat']:.3f}, bulk ESS {d['ess_bulk']:.0f}, tail ESS {d['ess_tail']:.0f}: "
        f"{'passed' if d['passed'] else 'FAILED: ' + '; '.join(d['problems'])}"
    )
    for name, true in (("p", 220.0), ("B", 22.0), ("a", 100.0), ("b", 50.0), ("sigma", 2.0), ("peak_freq", data_peak)):
        lo, med, hi = np.quantile(post[name].values, [0.05, 0.5, 0.95])
        print(f"  {name:9s} truth {true:8.4g}  median {med:8.4g}  90 % [{lo:.4g}, {hi:.4g}]")
    t0 = time.perf_counter()
    lin = fit_spectrum(spec, config=FitConfig(cores=2), progress=False)
    t_lin = time.perf_counter() - t0
    check = check_linear(lin, spec)["JR000"]
    print(
        f"linear route on the same data: {t_lin:.1f} s (ratio simulation / linear {t_sim / t_lin:.1f}); "
        f"check: {'valid' if check['valid'] else 'REJECTED: ' + '; '.join(check['reasons'])}"
    )
    if "--abc" in sys.argv:
        abc(spec)


def abc(spec, draws=500, epsilon=0.3):
    """SMC-ABC with pm.Simulator on the same features, for comparison."""
    import pymc as pm

    from jrfit import JRParams
    from jrfit.inference.likelihood import thin_factor
    from jrfit.inference.priors import SpectralPriors
    from jrfit.inference.simulation import SIGMA_PRIOR
    from jrfit.inference.synthetic import WelchSettings, simulated_psd

    pr = SpectralPriors()
    st = WelchSettings.from_spectrum(spec)
    k = thin_factor(spec)
    y = np.asarray(spec.psd[0], float)
    ref = np.median(y)
    freqs = spec.freqs[::k]
    obs = np.log(y[::k] / ref)
    dur = float(spec.record[-1].get("good_duration_s", 60.0)) if isinstance(spec.record[-1], dict) else 60.0
    n_eff = float(spec.n_eff)
    count = [0]

    def sim(rng, a, b, B, p, log_sigma, log_scale, log_bg, chi, log_floor, size=None):
        # a scalar Simulator with 77 observed features: PyMC broadcasts the parameters to that size
        a, b, B, p, log_sigma, log_scale, log_bg, chi, log_floor = (
            float(np.ravel(x)[0]) for x in (a, b, B, p, log_sigma, log_scale, log_bg, chi, log_floor)
        )
        count[0] += 1
        params = JRParams(
            a=float(a), b=float(b), B=float(B), mu=float(p), sigma=float(SIGMA_PRIOR.median * np.exp(log_sigma))
        )
        try:
            psd, f = simulated_psd(params, st, dur, n_rep=1, seed=int(rng.integers(2**31)))
        except Exception:
            return np.full(obs.shape, 50.0)
        psd = np.interp(freqs, f, psd[0, 0])
        bgd = (np.exp(log_bg) * freqs ** (-chi) + np.exp(log_floor)) * rng.gamma(n_eff, 1 / n_eff, freqs.size)
        with np.errstate(all="ignore"):
            out = np.log(np.exp(log_scale) * psd + bgd)
        return np.where(np.isfinite(out), out, 50.0)

    with pm.Model():
        a = pm.LogNormal("a", np.log(pr.jr["a"].median), pr.jr["a"].sd)
        b = pm.LogNormal("b", np.log(pr.jr["b"].median), pr.jr["b"].sd)
        B = pm.LogNormal("B", np.log(pr.jr["B"].median), pr.jr["B"].sd)
        p = pm.Normal("p", pr.p.mean, pr.p.sd)
        log_sigma = pm.Normal("log_sigma", 0.0, SIGMA_PRIOR.sd)
        log_scale = pm.Normal("log_scale", pr.log_scale.mean, pr.log_scale.sd)
        log_bg = pm.Normal("log_bg", pr.log_bg.mean, pr.log_bg.sd)
        chi = pm.Normal("chi", pr.chi.mean, pr.chi.sd)
        log_floor = pm.Normal("log_floor", pr.log_floor.mean, pr.log_floor.sd)
        pm.Simulator("s", sim, a, b, B, p, log_sigma, log_scale, log_bg, chi, log_floor, epsilon=epsilon, observed=obs)
        t0 = time.perf_counter()
        idata = pm.sample_smc(
            draws=draws, chains=1, cores=1, random_seed=0, progressbar=False, compute_convergence_checks=False
        )
        t = time.perf_counter() - t0
    post = idata.posterior
    print(
        f"ABC (pm.Simulator, SMC, epsilon {epsilon}, {draws} particles, 1 chain): {t:.1f} s, "
        f"{count[0]} simulations of {dur:g} s ({count[0] * dur / t:.3g} simulated s per wall s)"
    )
    for name, true in (("p", 220.0), ("B", 22.0), ("a", 100.0), ("b", 50.0)):
        lo, med, hi = np.quantile(post[name].values, [0.05, 0.5, 0.95])
        print(f"  {name:9s} truth {true:8.4g}  median {med:8.4g}  90 % [{lo:.4g}, {hi:.4g}]")


if __name__ == "__main__":
    if "--abc-only" in sys.argv:
        from jrfit import JRParams
        from jrfit.data.spectrum import prepare_spectrum
        from jrfit.simulators.column import simulate

        abc(
            prepare_spectrum(
                simulate(JRParams(mu=220.0, sigma=2.0), 60.0, dt=1e-3, sfreq=250.0, seed=1).to_raw(),
                reference=None,
                line_freq=None,
                verbose=False,
            )
        )
    else:
        main()
