"""Benchmark of jrfit.simulators.network.simulate_network: throughput and memory.

Run as ``python benchmarks/bench_network.py`` (under a minute). The case of the
issue: TVB's 76-region connectome (``load_connectivity("tvb76")``, weights
normalised by their maximum, diagonal zeroed), conduction speed 3 m/s (delays
up to 46 ms), 10 s simulated at dt = 0.1 ms, seed coupling (docs/model.md, section 11),
output decimated to 250 Hz. Prints

* throughput in column-steps per second (76 x 1e5 steps per run) of
  simulate_network (splitting and Euler, one thread) against a plain numba
  loop run in the same process: Euler-Maruyama with the same coupling, the
  sender's firing rate stored once per step in a ring of ``max delay + 1``
  rows, the delayed sum over the dense weight matrix, no filtering;
* the ratio of the two (target of the issue: >= 8e6 column-steps/s);
* peak traced memory (tracemalloc) against the simulated duration: it is
  bounded by the delay ring and the decimated output.

Timings are the best of several repeats of wall-clock time.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
from numba import njit

from jrfit import JRParams
from jrfit.model.column import drift, sigmoid
from jrfit.simulators.network import load_connectivity, simulate_network

DT = 1e-4
DURATION = 10.0
SPEED = 3.0  # m/s
G = 1e3  # global coupling, mV/s (seed convention)
MU, SIGMA = 220.0, 5.0
REPEATS = 3


def _best(fn, repeats=REPEATS):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@njit(cache=True, nogil=True)
def _plain_euler(Y, K, D, n_steps, dt, mu, ns, A, B, a, b, C1, C2, C3, C4, e0, r, v0, seed):
    """Euler-Maruyama network with delays: y0_i'' += sum_j K_ij S(y0_j(t - D_ij dt))."""
    np.random.seed(seed)
    n = Y.shape[1]
    L = D.max() + 1
    hist = np.empty((L, n))
    for j in range(n):
        s = sigmoid(Y[0, j], e0, r, v0)
        for m in range(L):
            hist[m, j] = s
    u = np.empty(n)
    for k in range(n_steps):
        h = k % L
        for j in range(n):
            hist[h, j] = sigmoid(Y[0, j], e0, r, v0)
        for i in range(n):
            acc = 0.0
            for j in range(n):
                if K[i, j] != 0.0:
                    acc += K[i, j] * hist[(k - D[i, j]) % L, j]
            u[i] = acc
        for i in range(n):
            d0, d1, d2, d3, d4, d5 = drift(
                Y[0, i], Y[1, i], Y[2, i], Y[3, i], Y[4, i], Y[5, i], mu, A, B, a, b, C1, C2, C3, C4, e0, r, v0
            )
            Y[0, i] += dt * d0
            Y[1, i] += dt * d1
            Y[2, i] += dt * d2
            Y[3, i] += dt * (d3 + u[i])
            Y[4, i] += dt * d4 + ns * np.random.standard_normal()
            Y[5, i] += dt * d5
    return Y


def plain_loop(conn, n_steps):
    P = JRParams()
    n = conn.n_regions
    Y = np.tile(np.array([0.1, 20.0, 12.0, 0.0, 0.0, 0.0])[:, None], (1, n))
    K = G * np.asarray(conn.weights)
    D = conn.delay_steps(SPEED, DT)
    ns = P.A * P.a * SIGMA * np.sqrt(DT)
    return _plain_euler(Y, K, D, n_steps, DT, MU, ns, P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0, 0)


def throughput(conn):
    n = conn.n_regions
    n_steps = int(round(DURATION / DT))
    P = JRParams(mu=MU, sigma=SIGMA)
    kw = dict(global_coupling=G, speed=SPEED, dt=DT, sfreq=250.0, transient=0.0, seed=0)
    plain_loop(conn, 10)  # compile
    simulate_network(conn, 0.1, P, **kw)  # compile / load the kernels
    t_plain = _best(lambda: plain_loop(conn, n_steps))
    t_split = _best(lambda: simulate_network(conn, DURATION, P, **kw))
    t_euler = _best(lambda: simulate_network(conn, DURATION, P, method="euler", **kw))
    cs = n * n_steps
    D = conn.delay_steps(SPEED, DT)
    print(
        f"== {n} regions, {conn.n_connections} connections, delays up to "
        f"{D.max() * DT * 1e3:.1f} ms ({D.max()} steps), {DURATION:g} s at dt = {DT * 1e3:g} ms "
        f"({cs:.3g} column-steps), one thread =="
    )
    print(f"  plain numba Euler loop          {t_plain:7.3f} s  {cs / t_plain:10.3g} col-steps/s")
    print(
        f"  simulate_network (splitting)    {t_split:7.3f} s  {cs / t_split:10.3g} col-steps/s"
        f"  x{t_plain / t_split:.2f} vs plain loop"
    )
    print(
        f"  simulate_network (euler)        {t_euler:7.3f} s  {cs / t_euler:10.3g} col-steps/s"
        f"  x{t_plain / t_euler:.2f} vs plain loop"
    )
    ok = cs / t_split >= 8e6
    print(f"  target >= 8e6 col-steps/s (splitting): {'met' if ok else 'NOT met'}")


def memory(conn):
    print("\n== Peak traced memory vs duration (76 regions, dt = 0.1 ms, output 250 Hz) ==")
    P = JRParams(mu=MU, sigma=SIGMA)
    kw = dict(global_coupling=G, speed=SPEED, dt=DT, sfreq=250.0, transient=0.0, seed=0)
    n = conn.n_regions
    L = conn.delay_steps(SPEED, DT).max() + 1
    ring = n * 2 * L * 8
    print(
        f"  delay ring {ring / 2**20:.2f} MiB; {'duration':>9} {'peak MiB':>9} "
        f"{'output MiB':>11} {'peak-output':>12} {'full-rate y MiB':>16}"
    )
    for duration in (5.0, 20.0, 80.0):
        tracemalloc.start()
        sim = simulate_network(conn, duration, P, **kw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out = sim.data.nbytes + sim.times.nbytes
        full = 6 * n * duration / DT * 8
        print(
            f"  {'':31s}{duration:>7g} s {peak / 2**20:>9.2f} {out / 2**20:>11.2f} "
            f"{(peak - out) / 2**20:>12.2f} {full / 2**20:>16.0f}"
        )
        del sim


if __name__ == "__main__":
    import numba

    print(
        f"numpy {np.__version__}, numba {numba.__version__}, CPUs available: "
        f"{len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}"
    )
    conn = load_connectivity("tvb76", normalize="max")
    throughput(conn)
    memory(conn)
