"""ERP fits at the CLI defaults on epochs made by an independent simulator (tests/independent.py).

Each channel is its own JR column at rest (input 0 /s plus white noise), driven
by a JR 1995 pulse of its own size, width and onset, seen through an
electrode gain of either sign: Euler-Maruyama at 20 us, no filter. The
epochs file goes through `jrfit fit-erp` exactly as a user runs it. Prints,
per channel, the truth against the median [90 %] of a, b, B, gain and the
pulse amplitude, the coverage, the gain sign and the diagnostics.

    python benchmarks/bench_erp_independent.py [--channels 4] [--trials 60] [--seed 0]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import independent  # noqa: E402

SFREQ, TMIN, TMAX = 250.0, -0.1, 0.5


def truths(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(
            dict(
                a=rng.uniform(85, 115),
                b=rng.uniform(42, 58),
                B=rng.uniform(19, 25),
                gain=(1 if i % 2 == 0 else -1) * rng.uniform(2.0, 8.0),
                peak=rng.uniform(250, 450),
                width=rng.uniform(0.006, 0.012),
                onset=rng.uniform(0.0, 0.03),
            )
        )
    return out


def make_file(fname, cols, n_trials, sigma, noise_uv, seed):
    trials = []
    for i, c in enumerate(cols):
        v = independent.simulate_erp_trials(
            TMIN,
            TMAX,
            SFREQ,
            n_trials,
            peak=c["peak"],
            onset=c["onset"],
            width=c["width"],
            sigma=sigma,
            seed=seed + i,
            a=c["a"],
            b=c["b"],
            B=c["B"],
        )
        rest = independent.rest_state(0.0, a=c["a"], b=c["b"], B=c["B"])[0]
        trials.append(c["gain"] * (v - rest))  # uV: the electrode sees gain x (v - v_rest)
    x = np.stack(trials, axis=1)
    x = x + np.random.default_rng(seed).normal(0.0, noise_uv, x.shape)
    return independent.write_epochs(fname, x, SFREQ, TMIN)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--noise-uv", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--rest",
        choices=("default", "p0"),
        default="default",
        help="default: the CLI as a user runs it; p0: the same data and defaults with the rest state "
        "solved at p = 0 /s for every draw's constants (ERPPriors(v_fixed=None, p_fixed=0))",
    )
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[])
    args = ap.parse_args()
    import arviz as az

    from jrfit.cli.app import main as cli

    cols = truths(args.channels, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        fname = Path(tmp) / "sim-epo.fif"
        names = make_file(fname, cols, args.trials, args.sigma, args.noise_uv, args.seed)
        t0 = time.perf_counter()
        if args.rest == "default":
            rc = cli(["fit-erp", str(fname), "--out", tmp, "--quiet", *args.extra])
            idata = az.from_netcdf(Path(tmp) / "sim-epo_jrfit.nc")
        else:
            import dataclasses

            from jrfit.inference.erp import fit_erp
            from jrfit.data.evoked import prepare_evoked
            from jrfit.inference.priors import make_erp_priors

            priors = dataclasses.replace(make_erp_priors("jr"), v_fixed=None, p_fixed=0.0)
            rc, idata = 0, fit_erp(prepare_evoked(fname), priors=priors).idata
        wall = time.perf_counter() - t0
    diag = json.loads(idata.attrs["diagnostics"])
    adequacy = json.loads(idata.attrs.get("adequacy", "{}"))
    covered = total = 0
    for ch, c in zip(names, cols):
        row = []
        for name, truth in (("a", c["a"]), ("b", c["b"]), ("B", c["B"]), ("gain", c["gain"]), ("amplitude", c["peak"])):
            x = idata.posterior[name].sel(channel=ch).values.ravel()
            lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
            ok = lo <= truth <= hi
            covered, total = covered + ok, total + 1
            row.append(f"{name} {truth:.3g} -> {med:.3g} [{lo:.3g}, {hi:.3g}]{'' if ok else ' MISS'}")
        d = next(v for k, v in diag.items() if k.endswith("/" + ch))
        fit = next((v for k, v in adequacy.items() if k.endswith("/" + ch)), {})
        rho = next(
            (
                v["lag1"]
                for k, v in json.loads(idata.attrs.get("residual_correlation", "{}")).items()
                if k.endswith("/" + ch)
            ),
            0.0,
        )
        print(
            ch,
            "; ".join(row),
            "| passed" if d.get("passed") else f"| FAILED {d.get('problems')}",
            f"| noise lag-1 {rho:.2f} | model fits"
            if fit.get("fits")
            else f"| noise lag-1 {rho:.2f} | MISFIT {fit.get('problems')}",
        )
    print(f"coverage {covered}/{total}, rc {rc}, wall {wall:.0f} s for {len(names)} channels")


if __name__ == "__main__":
    main()
