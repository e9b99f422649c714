"""Sharp alpha peaks: convergence and cost with a diagonal and a low-rank mass matrix.

Run: python benchmarks/bench_sharp.py [n_channels]

Eyes-closed alpha is a narrow peak (damping 0.5-4 /s), where the posterior
reaches the stability boundary. This script simulates ``n_channels`` (default
8) independent stable foci with dampings spread over 0.5-4 /s by the
independent simulator of ``tests/independent.py`` (Euler-Maruyama at 20 us,
no anti-alias filter, C from 110 to 135), two files of four channels, and
fits every channel at the CLI's defaults both ways in the same process: with
nutpie's diagonal mass-matrix adaptation (the default, the baseline) and with
its low-rank adaptation (``FitConfig(mass_matrix='low-rank')``). The noise
scales with the damping so that every column has the same linear variance of
v. It prints per channel
the diagnostics, wall time, leapfrog steps per draw, bulk ESS per second and
whether the damping's 90 % interval covers the truth, then the pass rates and
the time ratio.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

SFREQ = 250.0


def _mu_for_damping(target, consts):
    """Input mu (/s) above the upper Hopf point where the only fixed point has damping ``target`` (/s)."""
    from independent import damping
    from scipy.optimize import brentq

    def f(mu):
        fps = damping(mu, **consts)
        return fps[-1][1] - target if len(fps) == 1 else -target

    grid = np.linspace(150.0, 900.0, 151)
    vals = np.array([f(m) for m in grid])
    i = np.flatnonzero((vals[:-1] < 0) & (vals[1:] >= 0))
    if i.size == 0:
        return None
    return brentq(f, grid[i[-1]], grid[i[-1] + 1])


def make_cases(n, seed=0):
    """``n`` sharp-peak truths (dicts of C, a, b, B, mu, sigma and the damping)."""
    rng = np.random.default_rng(seed)
    targets = np.geomspace(0.5, 4.0, n)
    cases = []
    for d in targets:
        while True:
            consts = dict(
                C=float(rng.uniform(110, 135)),
                a=float(rng.uniform(92, 108)),
                b=float(rng.uniform(46, 54)),
                B=float(rng.uniform(20, 28)),
            )
            mu = _mu_for_damping(d, consts)
            if mu is not None:
                break
        # noise scaled so that the linear variance of v (~ sigma^2 / damping) is the same for
        # every case: at sigma = 0.5 /s^0.5 the sharpest columns are visibly nonlinear
        cases.append(dict(consts, mu=float(mu), sigma=float(0.5 * np.sqrt(d / 4.0)), damping=float(d)))
    return cases


def write_files(tmp, cases, duration=120.0):
    from independent import simulate_column, write_fif

    files = []
    for i in range(0, len(cases), 4):
        group = cases[i : i + 4]
        cols = [
            simulate_column(
                duration,
                SFREQ,
                mu=c["mu"],
                sigma=c["sigma"],
                seed=200 + i + j,
                **{k: c[k] for k in ("C", "a", "b", "B")},
            )
            for j, c in enumerate(group)
        ]
        fname = Path(tmp) / f"sharp{i // 4}_raw.fif"
        write_fif(fname, [c - c.mean() for c in cols], SFREQ, noise_uv=0.5, seed=i)
        files.append((fname, group))
    return files


def _fit(spec, ch, model, config):
    from jrfit.inference.spectral import fit_spectrum

    t = time.perf_counter()
    res = fit_spectrum(spec.pick([ch]), config=config, model=model, progress=False)
    dt = time.perf_counter() - t
    d = res.diagnostics[ch]
    damp = res.idata.posterior["damping"].sel(channel=ch).values.ravel()
    return dict(
        time=dt,
        steps=float(res.idata.sample_stats["n_steps"].mean()),
        ess_s=d["ess_bulk"] / dt,
        diag=d,
        damping=np.quantile(damp, [0.05, 0.5, 0.95]),
    )


def main(n=8):
    import logging

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.spectral import FitConfig, SpectralModel

    logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("jrfit").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="jrfit_sharp_")
    files = write_files(tmp, make_cases(n))
    model = SpectralModel()
    models = {"diagonal (default)": (model, FitConfig()), "low-rank": (model, FitConfig(mass_matrix="low-rank"))}
    summary = {name: dict(passed=0, covered=0, time=0.0, n=0) for name in models}
    for fname, group in files:
        spec = prepare_spectrum(fname)
        for ch, case in zip(spec.ch_names, group):
            for name, (model, config) in models.items():
                r = _fit(spec, ch, model, config)
                d = r["diag"]
                lo, med, hi = r["damping"]
                cov = lo <= case["damping"] <= hi
                s = summary[name]
                s["passed"] += bool(d["passed"])
                s["covered"] += bool(cov)
                s["time"] += r["time"]
                s["n"] += 1
                print(
                    f"{fname.stem}:{ch} true damping {case['damping']:.2f} /s [{name}]: {r['time']:.1f} s, "
                    f"{r['steps']:.0f} steps/draw, {r['ess_s']:.0f} ESS/s, R-hat {d['r_hat']:.3f}, ESS "
                    f"{d['ess_bulk']:.0f}/{d['ess_tail']:.0f}, {d['divergences']} div, damping {med:.2f} "
                    f"[{lo:.2f}, {hi:.2f}]{' covered' if cov else ' MISSED'}",
                    flush=True,
                )
    for name, s in summary.items():
        print(
            f"{name}: {s['passed']}/{s['n']} pass the diagnostics, {s['covered']}/{s['n']} damping covered, "
            f"{s['time'] / s['n']:.1f} s per channel (first includes compilation)"
        )
    names = list(summary)
    for name in names[1:]:
        print(f"time ratio {name} / {names[0]}: {summary[name]['time'] / summary[names[0]]['time']:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
