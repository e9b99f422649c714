"""Time from start to a saved posterior for the built-in example, and per extra channel.

Run: python benchmarks/bench_fit.py

Prints the compile time of the spectral model, the time for the first channel
(start of the process's fitting to a saved NetCDF, compilation included), the
time for each further channel fitted with the same compiled model, and the
diagnostics they came with. For comparison in the same process, the first
channel is also fitted with a freshly built model (what recompiling per channel
would cost).
"""

import logging
import tempfile
import time
from pathlib import Path


def main():
    t0 = time.perf_counter()
    from jrfit.data import prepare_spectrum
    from jrfit.example import make_example_recording
    from jrfit.inference import FitConfig, SpectralModel, fit_spectrum

    logging.getLogger("pymc").setLevel(logging.ERROR)
    t_import = time.perf_counter() - t0
    spec = prepare_spectrum(make_example_recording(), reference=None)
    cfg = FitConfig()
    t1 = time.perf_counter()
    model = SpectralModel()
    t_compile = time.perf_counter() - t1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, ch in enumerate(spec.ch_names):
            t = time.perf_counter()
            res = fit_spectrum(spec.pick([ch]), config=cfg, model=model)
            res.save(Path(tmp) / f"{ch}.nc")
            rows.append((ch, time.perf_counter() - t + (t_compile if i == 0 else 0.0), res.diagnostics[ch]))
        first = spec.pick([spec.ch_names[0]])
        t = time.perf_counter()
        fit_spectrum(first, config=cfg, model=model)  # same channel again, compiled model reused
        t_reused = time.perf_counter() - t
        t = time.perf_counter()
        fit_spectrum(first, config=cfg)  # same channel, model built and compiled again
        t_recompiled = time.perf_counter() - t
    print(f"import {t_import:.1f} s, model compile {t_compile:.1f} s")
    for i, (ch, dt, d) in enumerate(rows):
        what = "first channel incl. compile" if i == 0 else "additional channel"
        print(f"{ch}: {dt:6.1f} s ({what}); R-hat {d['r_hat']:.3f}, ESS bulk {d['ess_bulk']:.0f}, "
              f"tail {d['ess_tail']:.0f}, divergences {d['divergences']}, BFMI {d['bfmi']:.2f}, "
              f"{'passed' if d['passed'] else 'FAILED: ' + '; '.join(d['problems'])}")
    print(f"{spec.ch_names[0]} again: {t_reused:.1f} s with the compiled model reused, "
          f"{t_recompiled:.1f} s with a freshly compiled one (ratio {t_recompiled / t_reused:.2f})")
    print("targets: < 60 s for the first channel, < 10 s per additional channel")


if __name__ == "__main__":
    main()
