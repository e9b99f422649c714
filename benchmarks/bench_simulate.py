"""Benchmark of jrfit.simulators.column: throughput, compile/import time and memory.

Run as ``python benchmarks/bench_simulate.py`` (about two minutes). Prints

* throughput of :func:`jrfit.simulators.column.simulate` in column-steps per second for
  1 and 1000 columns, dt = 0.1 ms and 1 ms, 1 and 2 threads, against two
  references run in the same process: a plain NumPy Euler-Maruyama loop
  (vectorised over columns) and a plain numba Euler-Maruyama loop. The input
  is the classical one: mu = 220 /s with a per-sample standard deviation of
  22 /s, i.e. ``sigma = 22 sqrt(dt)`` (JRParams.sigma_from_per_sample_std),
  drawn independently for every column;
* compile time of the kernels with an empty numba cache and the load time
  with a warm cache (each in a fresh process), and the import time of
  jrfit.simulators.column;
* peak traced memory (tracemalloc) against the number of steps.

Timings are the best of several repeats of wall-clock time. Targets (issue):
>= 2e7 column-steps/s single-threaded for 1000 columns with splitting at
dt = 0.1 ms, >= 1.6x that on 2 cores, flat memory in steps, kernels cached.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from numba import njit

from jrfit import JRParams
from jrfit.model.column import drift
from jrfit.simulators.column import simulate

MU = 220.0
STD = 22.0  # per-sample standard deviation of p, in /s
SFREQ = 250.0
REPEATS = 3
TARGET_STEPS = {1: 2_000_000, 1000: 20_000_000}  # column-steps per timed run
NUMPY_STEPS = {1: 20_000, 1000: 1_000}  # steps of the (slow) NumPy reference


def _best(fn, repeats=REPEATS, cpu=None):
    """Best wall time of ``repeats`` calls; appends CPU/wall of the best to ``cpu``."""
    best, util = np.inf, np.nan
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, util = wall, (time.process_time() - c0) / wall
    if cpu is not None:
        cpu.append(util)
    return best


def _batch(n, dt):
    return JRParams(mu=np.full(n, MU), sigma=JRParams.sigma_from_per_sample_std(STD, dt))


def _y0(n):
    return np.tile(np.array([0.1, 20.0, 12.0, 0.0, 0.0, 0.0])[:, None], (1, n))


# ----------------------------------------------------------------------------
# references
def numpy_em(n, dt, n_steps, seed=0):
    """Plain NumPy Euler-Maruyama, vectorised over columns (no filtering)."""
    P = JRParams()
    rng = np.random.default_rng(seed)
    y = [row.copy() for row in _y0(n)]
    args = (P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0)
    std = STD
    for _ in range(n_steps):
        p = MU + std * rng.standard_normal(n)
        d = drift(*y, p, *args)
        for j in range(6):
            y[j] += dt * d[j]
    return y


@njit(cache=True, nogil=True)
def _numba_em(Y, n_steps, dt, mu, std, A, B, a, b, C1, C2, C3, C4, e0, r, v0, seed):
    np.random.seed(seed)
    n = Y.shape[1]
    for c in range(n):
        y0, y1, y2, y3, y4, y5 = Y[0, c], Y[1, c], Y[2, c], Y[3, c], Y[4, c], Y[5, c]
        for _ in range(n_steps):
            p = mu + std * np.random.standard_normal()
            d0, d1, d2, d3, d4, d5 = drift(y0, y1, y2, y3, y4, y5, p, A, B, a, b, C1, C2, C3, C4, e0, r, v0)
            y0 += dt * d0
            y1 += dt * d1
            y2 += dt * d2
            y3 += dt * d3
            y4 += dt * d4
            y5 += dt * d5
        Y[0, c], Y[1, c], Y[2, c], Y[3, c], Y[4, c], Y[5, c] = y0, y1, y2, y3, y4, y5


def numba_em(n, dt, n_steps, seed=0):
    """Plain numba Euler-Maruyama loop (numba's global RNG, no filtering)."""
    P = JRParams()
    Y = _y0(n)
    _numba_em(Y, n_steps, dt, MU, STD, P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0, seed)
    return Y


# ----------------------------------------------------------------------------
def throughput():
    print(
        "== Throughput (column-steps/s; mu = 220 /s, per-sample std 22 /s; "
        f"simulate: output at {SFREQ:g} Hz with anti-alias FIR) =="
    )
    numba_em(2, 1e-3, 10)  # compile the reference
    simulate(_batch(4, 1e-4), 0.1, dt=1e-4, transient=0.0, y_init=_y0(4))  # load kernels
    simulate(_batch(1, 1e-4), 0.1, dt=1e-4, transient=0.0, y_init=_y0(1))
    header = (
        f"{'columns':>7} {'dt':>7} | {'splitting 1 thr':>15} {'splitting 2 thr':>15} "
        f"{'euler 1 thr':>12} | {'numpy EM':>10} {'numba EM':>10} | "
        f"{'split/numba':>11} {'split/numpy':>11} {'2thr/1thr':>9} {'cpu/wall 2thr':>13}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for n in (1, 1000):
        for dt in (1e-4, 1e-3):
            steps = max(1000, TARGET_STEPS[n] // n)
            duration = steps * dt
            P = _batch(n, dt)
            y0 = _y0(n)
            kw = dict(dt=dt, sfreq=SFREQ, transient=0.0, y_init=y0, seed=0)
            r = {}
            r["split1"] = n * steps / _best(lambda: simulate(P, duration, n_jobs=1, **kw))
            util = []
            r["split2"] = n * steps / _best(lambda: simulate(P, duration, n_jobs=2, **kw), cpu=util)
            r["util2"] = util[0]
            r["euler1"] = n * steps / _best(lambda: simulate(P, duration, n_jobs=1, method="euler", **kw))
            np_steps = NUMPY_STEPS[n]
            r["numpy"] = n * np_steps / _best(lambda: numpy_em(n, dt, np_steps), repeats=2)
            r["numba"] = n * steps / _best(lambda: numba_em(n, dt, steps))
            results[n, dt] = r
            print(
                f"{n:>7} {dt * 1e3:>5.1f}ms | {r['split1']:>15.3g} {r['split2']:>15.3g} "
                f"{r['euler1']:>12.3g} | {r['numpy']:>10.3g} {r['numba']:>10.3g} | "
                f"{r['split1'] / r['numba']:>11.2f} {r['split1'] / r['numpy']:>11.1f} "
                f"{r['split2'] / r['split1']:>9.2f} {r['util2']:>13.2f}"
            )
    r = results[1000, 1e-4]
    print(
        f"target: 1000 columns, splitting, dt = 0.1 ms: {r['split1']:.3g} col-steps/s "
        f"single-threaded (target 2e7: {'met' if r['split1'] >= 2e7 else 'NOT met'}), "
        f"x{r['split2'] / r['split1']:.2f} on 2 threads (target 1.6: "
        f"{'met' if r['split2'] / r['split1'] >= 1.6 else 'NOT met'})"
    )
    if r["util2"] < 1.6:
        print(
            f"note: the 2-thread run got {r['util2']:.2f} CPUs on average (cpu/wall): the "
            "second core was busy with other work, so the 2-thread figure is not meaningful."
        )
    return results


def gil_free_fraction(n=1000, dt=1e-4, duration=2.0):
    """Fraction of a single-threaded run spent in GIL-free calls (kernel, RNG fill).

    With a GIL-free fraction f, two threads can at best be
    1 / ((1 - f) + f / 2) times faster (Amdahl): a load-independent check of
    the threading design when the machine's second core is busy.
    """
    import jrfit.simulators.column as js
    from jrfit.simulators import kernels as K

    spent = [0.0]
    kernel, make_gen = K.sde_block, js._column_generator

    def timed_kernel(*args):
        t0 = time.perf_counter()
        kernel(*args)
        spent[0] += time.perf_counter() - t0

    class TimedGen:
        def __init__(self, gen):
            self.gen = gen

        def standard_normal(self, out):
            t0 = time.perf_counter()
            self.gen.standard_normal(out=out)
            spent[0] += time.perf_counter() - t0

    K.sde_block = timed_kernel
    js._column_generator = lambda ss, i: TimedGen(make_gen(ss, i))
    try:
        P = _batch(n, dt)
        t0 = time.perf_counter()
        simulate(P, duration, dt=dt, sfreq=SFREQ, transient=0.0, y_init=_y0(n), seed=0)
        total = time.perf_counter() - t0
    finally:
        K.sde_block, js._column_generator = kernel, make_gen
    f = spent[0] / total
    print(
        f"  GIL-free fraction of a 1000-column run: {f:.4f} -> Amdahl bound for 2 threads x{1 / ((1 - f) + f / 2):.2f}"
    )
    return f


_COMPILE_SNIPPET = r"""
import time, numpy as np
t0 = time.perf_counter()
import jrfit.simulators.column as s
t1 = time.perf_counter()
from jrfit import JRParams
y0 = np.tile(np.array([0.1, 20.0, 12.0, 0, 0, 0])[:, None], (1, 8))
for n in (8, 1):
    s.simulate(JRParams(mu=np.full(n, 220.0)), 0.1, dt=1e-4, transient=0.0, y_init=y0[:, :n], seed=0)
s.integrate(JRParams(), 220.0, 1e-4, duration=0.01, method="rk4")
t2 = time.perf_counter()
from jrfit.simulators import kernels as K
hits = sum(sum(f.stats.cache_hits.values()) for f in (K.sde_block, K.fir_prefeed, K.ode_run))
miss = sum(sum(f.stats.cache_misses.values()) for f in (K.sde_block, K.fir_prefeed, K.ode_run))
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {hits} {miss}")
"""


def compile_and_import():
    print("\n== Compile / import time (fresh processes) ==")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        rows = []
        for label in ("cold cache (compiles)", "warm cache (loads)", "warm cache (loads)"):
            out = subprocess.run(
                [sys.executable, "-c", _COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True
            ).stdout.split()
            rows.append((label, float(out[0]), float(out[1]), int(out[2]), int(out[3])))
        for label, t_imp, t_first, hits, miss in rows:
            print(
                f"  {label:24s} import jrfit.simulators.column {t_imp:6.3f} s, "
                f"first calls (simulate x2, integrate) {t_first:6.3f} s "
                f"[kernel cache: {hits} loaded, {miss} compiled]"
            )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import jrfit.simulators.column"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()
    tot = [ln for ln in out if ln.rstrip().endswith("jrfit.simulators.column")]
    if tot:
        us = int(tot[-1].split("|")[1])
        print(f"  python -X importtime: jrfit.simulate (cumulative, incl. numpy/numba) {us / 1e6:.3f} s")


def memory():
    print("\n== Peak traced memory vs steps (4 columns, dt = 0.1 ms, output 250 Hz) ==")
    P = _batch(4, 1e-4)
    kw = dict(dt=1e-4, sfreq=SFREQ, transient=0.0, y_init=_y0(4), seed=0)
    simulate(P, 1.0, **kw)
    print(f"  {'steps':>10} {'peak MiB':>9} {'output MiB':>11} {'peak-output MiB':>16} {'full-rate v MiB':>16}")
    for duration in (10.0, 40.0, 160.0, 640.0):
        tracemalloc.start()
        sim = simulate(P, duration, **kw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        steps = int(round(duration / 1e-4))
        out = sim.data.nbytes + sim.times.nbytes
        print(
            f"  {steps:>10} {peak / 2**20:>9.2f} {out / 2**20:>11.2f} "
            f"{(peak - out) / 2**20:>16.2f} {4 * steps * 8 / 2**20:>16.1f}"
        )
        del sim


if __name__ == "__main__":
    import numba

    print(
        f"numpy {np.__version__}, numba {numba.__version__}, CPUs available: "
        f"{len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}"
    )
    throughput()
    gil_free_fraction()
    compile_and_import()
    memory()
