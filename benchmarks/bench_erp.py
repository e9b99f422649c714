"""ERP forward model and fit: gradient cost and time to a converged posterior.

Run: python benchmarks/bench_erp.py [--no-fit]

1. One evaluation of the nonlinear response and its Jacobian for a 0.6 s
   window at 200 Hz (RK4, 1 ms steps, forward sensitivities) for the default
   free set (v, B, a, b, amplitude, onset, width), against the same gradient
   by central finite differences (2 K + 1 response integrations) and by the
   complex step through a complex-valued copy of the response (K
   integrations), run in the same process. The fit uses the sensitivities.
2. Unless --no-fit: one channel of simulated epochs (100 trials, known truth),
   4 chains x (500 tune + 500 draws) on 2 cores, timed from model build to the
   saved result, with the diagnostics it came with.
"""

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(func, n):
    func()
    t = time.perf_counter()
    for _ in range(n):
        func()
    return (time.perf_counter() - t) / n


def gradient_bench():
    from jrfit import JRParams
    from jrfit.model.erp import ERPForward
    from jrfit.model.column import fixed_points

    times = np.arange(-0.1, 0.5, 1 / 200)
    names = ("v", "B", "a", "b", "amplitude", "onset", "width")
    v = fixed_points(JRParams(mu=20.0))[0].v
    theta = np.array([v, 22.0, 100.0, 50.0, 300.0, 0.03, 0.006])
    fwd = ERPForward(times, names)
    t_jac = _time(lambda: fwd.response_and_jacobian(theta), 300)
    t_val = _time(lambda: fwd.response(theta), 300)

    def fd():
        cols = []
        for k in range(theta.size):
            h = 1e-6 * max(abs(theta[k]), 1e-2)
            up, dn = theta.copy(), theta.copy()
            up[k] += h
            dn[k] -= h
            cols.append((fwd.response(up) - fwd.response(dn)) / (2 * h))
        return fwd.response(theta), np.stack(cols, 1)

    t_fd = _time(fd, 50)
    steps = fwd.n_out * fwd.n_sub
    print(f"window 0.6 s, {times.size} samples, {steps} RK4 steps of {fwd.dt * 1e3:.2f} ms, {len(names)} parameters")
    print(f"response only:                      {t_val * 1e3:7.3f} ms")
    print(f"response + Jacobian (sensitivities): {t_jac * 1e3:7.3f} ms   (target < 1 ms)")
    print(f"response + Jacobian (central FD):    {t_fd * 1e3:7.3f} ms   ratio FD / sensitivities {t_fd / t_jac:.2f}")


def fit_bench():
    import logging

    from jrfit.inference.erp import ERP_CONFIG, ERPModel, fit_erp
    from jrfit.data.evoked import prepare_evoked
    from jrfit.datasets.example import ERP_TRUTH, make_erp_epochs

    logging.getLogger("pymc").setLevel(logging.ERROR)
    ev = prepare_evoked(
        make_erp_epochs(), "stimulus", reference=None, h_freq=None, l_freq=None, line_freq=None, verbose=False
    )
    cfg = dataclasses.replace(ERP_CONFIG, cores=2)
    t0 = time.perf_counter()
    model = ERPModel(ev.times)
    t_compile = time.perf_counter() - t0
    res = fit_erp(ev, model=model, config=cfg, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        res.save(Path(tmp) / "erp.nc")
    total = time.perf_counter() - t0
    d = res.diagnostics["stimulus/Oz"]
    steps = res.idata.sample_stats["n_steps"].values
    print(
        f"fit of one channel (4 chains, 2 cores): {total:.1f} s incl. compile {t_compile:.1f} s "
        f"(target < 120 s); mean leapfrog steps per draw {steps.mean():.0f}"
    )
    print(
        f"R-hat {d['r_hat']:.3f}, ESS bulk {d['ess_bulk']:.0f}, tail {d['ess_tail']:.0f}, "
        f"divergences {d['divergences']}, BFMI {d['bfmi']:.2f}: "
        f"{'passed' if d['passed'] else 'FAILED: ' + '; '.join(d['problems'])}"
    )
    post = res.idata.posterior
    for name in ("B", "a", "b", "latency", "width", "gain"):
        lo, med, hi = np.quantile(post[name].values, [0.05, 0.5, 0.95])
        print(f"  {name:8s} truth {ERP_TRUTH[name]:8.4g}  median {med:8.4g}  90 % [{lo:.4g}, {hi:.4g}]")


if __name__ == "__main__":
    gradient_bench()
    if "--no-fit" not in sys.argv:
        fit_bench()
