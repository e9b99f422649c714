"""Time from start to a saved posterior for the built-in example, and per extra channel.

Run: python benchmarks/bench_fit.py [--fresh-cache]

Prints, for the spectral fit of the built-in example with the default settings
(nutpie sampling the numba-compiled model):

- the first channel: from the start of this script (imports, loading and
  preprocessing, compilation included) to its saved NetCDF;
- each further channel fitted with the same compiled model, to its saved
  NetCDF;

with the diagnostics they came with. Baselines in the same process, on the
first channel: PyMC's sampler on the same compiled model and settings, and a
model compiled again for the channel. ``--fresh-cache`` points PyTensor's and
numba's caches at empty folders first (what a first run on a new machine pays).
"""

import argparse
import os
import tempfile
import time

T_START = time.perf_counter()


def _line(name, dt, d, what):
    return (
        f"{name}: {dt:6.1f} s ({what}); R-hat {d['r_hat']:.3f}, ESS bulk {d['ess_bulk']:.0f}, "
        f"tail {d['ess_tail']:.0f}, divergences {d['divergences']}, BFMI {d['bfmi']:.2f}, "
        f"{'passed' if d['passed'] else 'FAILED: ' + '; '.join(d['problems'])}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh-cache", action="store_true", help="empty PyTensor and numba caches")
    args = ap.parse_args()
    tmp_root = tempfile.mkdtemp(prefix="jrfit_bench_")
    if args.fresh_cache:
        os.environ["PYTENSOR_FLAGS"] = f"compiledir={tmp_root}/pytensor"
        os.environ["NUMBA_CACHE_DIR"] = f"{tmp_root}/numba"

    import dataclasses
    import logging
    from pathlib import Path

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.inference.spectral import FitConfig, SpectralModel, fit_spectrum

    logging.getLogger("pymc").setLevel(logging.ERROR)
    spec = prepare_spectrum(make_example_recording(), reference=None)
    cfg = FitConfig()
    model = SpectralModel()
    rows = []
    out = Path(tmp_root)
    for i, ch in enumerate(spec.ch_names):
        t = T_START if i == 0 else time.perf_counter()
        res = fit_spectrum(spec.pick([ch]), config=cfg, model=model)
        res.save(out / f"{ch}.nc")
        rows.append((ch, time.perf_counter() - t, res.diagnostics[ch]))
    first = spec.pick([spec.ch_names[0]])
    t = time.perf_counter()
    fit_spectrum(first, config=cfg, model=model)
    t_reused = time.perf_counter() - t
    t = time.perf_counter()
    res_pymc = fit_spectrum(first, config=dataclasses.replace(cfg, sampler="pymc"), model=model)
    t_pymc = time.perf_counter() - t
    t = time.perf_counter()
    fit_spectrum(first, config=cfg)  # same channel, model built and compiled again
    t_recompiled = time.perf_counter() - t

    print(
        f"sampler {cfg.sampler}: {cfg.chains} chains x ({cfg.tune} tune + {cfg.draws} draws), "
        f"{cfg.n_cores(cfg.sampler)} cores; {'fresh' if args.fresh_cache else 'warm'} compilation caches"
    )
    for i, (ch, dt, d) in enumerate(rows):
        what = "first channel, from the start of the script" if i == 0 else "additional channel"
        print(_line(ch, dt, d, what))
    ch0 = spec.ch_names[0]
    print(f"{ch0} again, same compiled model: {t_reused:.1f} s (baseline for the ratios below)")
    print(
        _line(f"{ch0} with PyMC's sampler", t_pymc, res_pymc.diagnostics[ch0], "same model and settings")
        + f"; ratio {t_pymc / t_reused:.1f}"
    )
    print(f"{ch0} with a freshly compiled model: {t_recompiled:.1f} s; ratio {t_recompiled / t_reused:.1f}")
    print("targets: < 60 s for the first channel (fresh cache), < 10 s per additional channel")


if __name__ == "__main__":
    main()
