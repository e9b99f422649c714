"""Cost and result of the debiased (leakage-corrected) Whittle likelihood against the plain one.

Run: python benchmarks/bench_validity.py

For the built-in example's channels and for a sharp-peak channel made by an
independent simulator (tests/independent.py: Euler-Maruyama at 20 us, no
anti-alias filter, C = 120, damping about 1.5 /s), fits each channel with the
default settings twice in the same process, with the plain Whittle likelihood
(``FitConfig(debias=False)``, the baseline) and with the debiased one (the
default), each with its own compiled model, and prints per channel: wall time
(the compiled model reused), leapfrog steps per draw, bulk ESS per second,
the diagnostics, the damping's median and 90 % interval (and the truth where
known), and the ratios debiased / plain.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def _sharp_peak_file(tmp):
    from independent import damping, simulate_column, write_fif

    consts = dict(C=128.0, B=26.0)
    mu = 440.0
    ((v, d),) = [fp for fp in damping(mu, **consts) if fp[1] > 0][-1:]
    x = simulate_column(120.0, 250.0, mu=mu, sigma=0.5, seed=3, **consts)
    fname = Path(tmp) / "sharp_raw.fif"
    write_fif(fname, [x - x.mean()], 250.0, noise_uv=0.5)
    return fname, d


def _fit(spec, ch, model, cfg):
    from jrfit.inference.spectral import fit_spectrum

    t = time.perf_counter()
    res = fit_spectrum(spec.pick([ch]), config=cfg, model=model, progress=False)
    dt = time.perf_counter() - t
    d = res.diagnostics[ch]
    n_steps = float(res.idata.sample_stats["n_steps"].mean())
    damp = res.idata.posterior["damping"].sel(channel=ch).values.ravel()
    return dict(
        time=dt,
        steps=n_steps,
        ess_s=d["ess_bulk"] / dt,
        diag=d,
        damping=(np.median(damp), *np.quantile(damp, [0.05, 0.95])),
    )


def main():
    import logging

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.inference.spectral import FitConfig, SpectralModel

    logging.getLogger("pymc").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="jrfit_bench_")
    sharp, d_true = _sharp_peak_file(tmp)
    cases = [(prepare_spectrum(make_example_recording()), None), (prepare_spectrum(sharp), d_true)]
    configs = {"plain": FitConfig(debias=False), "debiased": FitConfig()}
    models = {name: SpectralModel() for name in configs}
    for name, cfg in configs.items():  # compile (and warm) each model once
        _fit(cases[0][0], cases[0][0].ch_names[0], models[name], cfg)
    for spec, truth in cases:
        for ch in spec.ch_names:
            rows = {name: _fit(spec, ch, models[name], cfg) for name, cfg in configs.items()}
            for name, r in rows.items():
                d = r["diag"]
                med, lo, hi = r["damping"]
                print(
                    f"{spec.source or 'example'} {ch} [{name}]: {r['time']:.1f} s, {r['steps']:.0f} leapfrog "
                    f"steps/draw, {r['ess_s']:.0f} ESS/s, R-hat {d['r_hat']:.3f}, ESS {d['ess_bulk']:.0f}/"
                    f"{d['ess_tail']:.0f}, {d['divergences']} div; damping {med:.2f} [{lo:.2f}, {hi:.2f}] /s"
                    + (f" (true {truth:.2f})" if truth is not None else "")
                )
            p, q = rows["plain"], rows["debiased"]
            print(
                f"  ratio debiased/plain: time {q['time'] / p['time']:.2f}, steps {q['steps'] / p['steps']:.2f}, "
                f"ESS/s {q['ess_s'] / p['ess_s']:.2f}"
            )


if __name__ == "__main__":
    main()
