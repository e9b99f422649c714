"""Linearised spectra per second (100 frequencies), against a plain-NumPy loop.

Run: python benchmarks/bench_spectrum.py

jrfit's closed-form PSD (``jrfit.model.spectrum.psd_from_v``) is evaluated for a
batch of parameter sets at once; the reference builds the 6x6 Jacobian for
each parameter set in a Python loop and solves (sI - J) x = b at every
frequency (the textbook state-space route), in the same process.
"""

import time

import numpy as np

from jrfit import JRParams
from jrfit.model.column import jacobian, operating_point
from jrfit.model.spectrum import psd_from_v


def _batch(n, rng):
    base = JRParams(sigma=1.0)
    ch = {k: getattr(base, k) * np.exp(0.2 * rng.standard_normal(n)) for k in ("A", "B", "a", "b", "C")}
    return JRParams(sigma=1.0, **ch), rng.uniform(0.0, 9.0, n)


def bench_jrfit(params, v, freqs, repeat=5):
    d = {k: (np.asarray(x)[:, None] if np.ndim(x) else x) for k, x in params.as_dict().items()}
    psd_from_v(freqs, v[:, None], d)  # warm-up
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = psd_from_v(freqs, v[:, None], d)
        best = min(best, time.perf_counter() - t)
    return out, best


def bench_reference(params, v, freqs):
    c = np.array([0, 1, -1, 0, 0, 0.0])
    s = 2j * np.pi * freqs
    out = np.empty((params.n_columns, freqs.size))
    t = time.perf_counter()
    for k, P in enumerate(params):
        op = operating_point(v[k], P)
        J = jacobian(np.array([op["y0"], op["y1"], op["y2"], 0, 0, 0]), P)
        b = np.zeros(6)
        b[4] = P.A * P.a
        M = s[:, None, None] * np.eye(6) - J
        H = np.linalg.solve(M, np.broadcast_to(b, (freqs.size, 6))[..., None])[..., 0] @ c
        out[k] = 2 * P.sigma**2 * np.abs(H) ** 2
    return out, time.perf_counter() - t


def main():
    rng = np.random.default_rng(0)
    freqs = np.linspace(1.0, 50.0, 100)
    params, v = _batch(20000, rng)
    out, t_fast = bench_jrfit(params, v, freqs)
    n_ref = 1000
    ref, t_ref = bench_reference(params[:n_ref], v[:n_ref], freqs)
    err = np.max(np.abs(out[:n_ref] / ref - 1))
    rate_fast = params.n_columns / t_fast
    rate_ref = n_ref / t_ref
    print("Linearised spectra, 100 frequencies each")
    print(f"  jrfit closed form (batch of {params.n_columns}): {rate_fast:12.3e} spectra/s")
    print(f"  NumPy reference loop (6x6 solves):        {rate_ref:12.3e} spectra/s")
    print(f"  ratio jrfit / reference: {rate_fast / rate_ref:8.1f}x   (max rel. difference {err:.1e})")
    print(f"  target >= 1e5 spectra/s: {'met' if rate_fast >= 1e5 else 'NOT met'}")


if __name__ == "__main__":
    main()
