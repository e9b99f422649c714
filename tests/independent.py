"""An independent Jansen-Rit simulator for recovery tests (no jrfit code inside).

Written from Jansen & Rit (1995), Biol. Cybern. 73: 357-366, eqs. (1)-(3), so
that tests check jrfit against the equations rather than against its own
conventions: plain Euler-Maruyama at a small fixed step (20 us by default),
the input p(t) = mu + sigma xi(t) with white noise xi (sigma in /s^0.5), EEG =
y1 - y2 (mV), sampled by keeping every k-th step (no anti-alias filter), and
several independent columns per file, each with its own constants.

    y0'' = A a S(y1 - y2)              - 2 a y0' - a^2 y0
    y1'' = A a (p + C2 S(C1 y0))       - 2 a y1' - a^2 y1
    y2'' = B b C4 S(C3 y0)             - 2 b y2' - b^2 y2
    S(v) = 2 e0 / (1 + exp(r (v0 - v)))

with C1 = C, C2 = 0.8 C, C3 = C4 = 0.25 C.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

JR1995 = dict(A=3.25, B=22.0, a=100.0, b=50.0, C=135.0, e0=2.5, r=0.56, v0=6.0)


@njit(cache=True, inline="always")
def _em_step(y0, y1, y2, y3, y4, y5, p, A, B, a, b, C, e0, r, v0, sigma, dt, sq):
    """One Euler-Maruyama step of eqs. (1)-(3) at input p (/s); the noise enters y1's derivative."""
    c1, c2, c3, c4 = C, 0.8 * C, 0.25 * C, 0.25 * C
    s_py = 2.0 * e0 / (1.0 + math.exp(r * (v0 - (y1 - y2))))
    s_e = 2.0 * e0 / (1.0 + math.exp(r * (v0 - c1 * y0)))
    s_i = 2.0 * e0 / (1.0 + math.exp(r * (v0 - c3 * y0)))
    d3 = A * a * s_py - 2.0 * a * y3 - a * a * y0
    d4 = A * a * (p + c2 * s_e) - 2.0 * a * y4 - a * a * y1
    d5 = B * b * c4 * s_i - 2.0 * b * y5 - b * b * y2
    return (
        y0 + dt * y3,
        y1 + dt * y4,
        y2 + dt * y5,
        y3 + dt * d3,
        y4 + dt * d4 + A * a * sigma * sq * np.random.standard_normal(),
        y5 + dt * d5,
    )


@njit(cache=True)
def _em(A, B, a, b, C, e0, r, v0, mu, sigma, dt, n_out, every, n_burn, seed, y_init):
    np.random.seed(seed)
    y0, y1, y2 = y_init[0], y_init[1], y_init[2]
    y3 = y4 = y5 = 0.0
    out = np.empty(n_out)
    sq = math.sqrt(dt)
    total = n_burn + n_out * every
    k = 0
    for i in range(total):
        y0, y1, y2, y3, y4, y5 = _em_step(y0, y1, y2, y3, y4, y5, mu, A, B, a, b, C, e0, r, v0, sigma, dt, sq)
        if i >= n_burn and (i - n_burn) % every == every - 1:
            out[k] = y1 - y2
            k += 1
    return out


def simulate_column(duration, sfreq, *, mu, sigma, dt=2e-5, burn=5.0, seed=0, start="fixed_point", **consts):
    """EEG (mV) of one column sampled at ``sfreq`` Hz for ``duration`` s.

    ``start='fixed_point'`` starts at the fixed point of largest v (a stable
    focus may coexist with a limit cycle that a start far from it reaches);
    ``'rest'`` starts at y1 = 10 mV, y0 = y2 = 0.
    """
    c = dict(JR1995, **consts)
    if start == "fixed_point":
        v, _ = max(jacobian(mu, **consts), key=lambda x: x[0])
        S = lambda u: 2 * c["e0"] / (1 + np.exp(c["r"] * (c["v0"] - u)))  # noqa: E731
        y0 = c["A"] / c["a"] * S(v)
        y2 = c["B"] / c["b"] * 0.25 * c["C"] * S(0.25 * c["C"] * y0)
        y_init = np.array([y0, v + y2, y2])
    else:
        y_init = np.array([0.0, 10.0, 0.0])
    every = int(round(1.0 / (sfreq * dt)))
    if abs(every * dt * sfreq - 1.0) > 1e-9:
        raise ValueError("1 / (sfreq * dt) must be an integer")
    n_out = int(round(duration * sfreq))
    return _em(
        c["A"],
        c["B"],
        c["a"],
        c["b"],
        c["C"],
        c["e0"],
        c["r"],
        c["v0"],
        float(mu),
        float(sigma),
        float(dt),
        n_out,
        every,
        int(burn / dt),
        int(seed),
        y_init,
    )


def jacobian(mu, **consts):
    """Jacobian (6 x 6) of the deterministic drift at the fixed point for input mu (/s)."""
    c = dict(JR1995, **consts)
    A, B, a, b, C, e0, r, v0 = (c[k] for k in ("A", "B", "a", "b", "C", "e0", "r", "v0"))
    c1, c2, c3, c4 = C, 0.8 * C, 0.25 * C, 0.25 * C

    def S(v):
        return 2 * e0 / (1 + np.exp(r * (v0 - v)))

    def dS(v):
        s = S(v)
        return r * s * (1 - s / (2 * e0))

    # fixed point: y0 = A/a S(v), y1 = A/a (mu + c2 S(c1 y0)), y2 = B/b c4 S(c3 y0), v = y1 - y2
    from scipy.optimize import brentq

    def resid(v):
        y0 = A / a * S(v)
        return A / a * (mu + c2 * S(c1 * y0)) - B / b * c4 * S(c3 * y0) - v

    grid = np.linspace(-20, 40, 6001)
    vals = resid(grid)
    roots = [brentq(resid, grid[i], grid[i + 1]) for i in np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))]
    out = []
    for v in roots:
        y0 = A / a * S(v)
        J = np.zeros((6, 6))
        J[0, 3] = J[1, 4] = J[2, 5] = 1.0
        J[3, 0], J[3, 3] = -a * a, -2 * a
        J[3, 1], J[3, 2] = A * a * dS(v), -A * a * dS(v)
        J[4, 0], J[4, 1], J[4, 4] = A * a * c2 * c1 * dS(c1 * y0), -a * a, -2 * a
        J[5, 0], J[5, 2], J[5, 5] = B * b * c4 * c3 * dS(c3 * y0), -b * b, -2 * b
        out.append((v, J))
    return out


def damping(mu, **consts):
    """-Re of the leading eigenvalue (/s) at each fixed point; positive = stable."""
    return [(v, float(-np.max(np.linalg.eigvals(J).real))) for v, J in jacobian(mu, **consts)]


def write_fif(fname, columns, sfreq, *, noise_uv=0.0, seed=0):
    """A raw FIF file (EEG in V) with one channel per simulated column (rows in mV)."""
    import mne

    x = np.asarray(columns, float) * 1e-3
    if noise_uv:
        x = x + np.random.default_rng(seed).normal(0, noise_uv * 1e-6, x.shape)
    names = [f"EEG{i:03d}" for i in range(x.shape[0])]
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(x, info, verbose="error")
    raw.save(fname, overwrite=True, verbose="error")
    return names


# ----------------------------------------------------------------------------
# evoked responses: trials of a column driven by a JR 1995 pulse on top of its noisy background input
@njit(cache=True)
def _em_trials(A, B, a, b, C, e0, r, v0, mu, sigma, q, onset, w, dt, n_out, every, n_pre, n_trials, seed, y_init):
    np.random.seed(seed)
    out = np.empty((n_trials, n_out))
    sq = math.sqrt(dt)
    total = n_pre + n_out * every
    for tr in range(n_trials):
        y0, y1, y2 = y_init[0], y_init[1], y_init[2]
        y3 = y4 = y5 = 0.0
        k = 0
        for i in range(total):
            t = (i - n_pre) * dt  # time from the first output sample
            u = (t - onset) / w
            p = mu + (q * u**7 * math.exp(-u) if u > 0.0 else 0.0)
            y0, y1, y2, y3, y4, y5 = _em_step(y0, y1, y2, y3, y4, y5, p, A, B, a, b, C, e0, r, v0, sigma, dt, sq)
            if i >= n_pre and (i - n_pre) % every == 0:
                out[tr, k] = y1 - y2
                k += 1
    return out


def rest_state(mu, **consts):
    """(v, y0, y1, y2) of the lowest fixed point at input mu (/s): the quiescent rest of an ERP column."""
    c = dict(JR1995, **consts)
    v, _ = min(jacobian(mu, **consts), key=lambda x: x[0])
    S = lambda u: 2 * c["e0"] / (1 + np.exp(c["r"] * (c["v0"] - u)))  # noqa: E731
    y0 = c["A"] / c["a"] * S(v)
    y2 = c["B"] / c["b"] * 0.25 * c["C"] * S(0.25 * c["C"] * y0)
    return v, y0, v + y2, y2


def simulate_erp_trials(
    tmin, tmax, sfreq, n_trials, *, peak, onset, width, mu=0.0, sigma=0.5, dt=2e-5, warmup=0.5, seed=0, **consts
):
    """Single trials of v = y1 - y2 (mV), shape (n_trials, n_times), sampled at ``sfreq`` from ``tmin`` to ``tmax``.

    The input is p(t) = mu + q (u/w)^7 exp(-u/w) with u = t - onset (JR 1995's pulse; ``peak`` is its largest
    value, in /s, reached at u = 7 w) plus white noise of intensity ``sigma``; each trial starts at the rest
    state ``warmup`` s before ``tmin``.
    """
    c = dict(JR1995, **consts)
    every = int(round(1.0 / (sfreq * dt)))
    if abs(every * dt * sfreq - 1.0) > 1e-9:
        raise ValueError("1 / (sfreq * dt) must be an integer")
    n_out = int(round((tmax - tmin) * sfreq)) + 1
    _, y0, y1, y2 = rest_state(mu, **consts)
    q = peak / (7.0**7 * math.exp(-7.0))
    return _em_trials(
        c["A"],
        c["B"],
        c["a"],
        c["b"],
        c["C"],
        c["e0"],
        c["r"],
        c["v0"],
        float(mu),
        float(sigma),
        float(q),
        float(onset - tmin),
        float(width),
        float(dt),
        n_out,
        every,
        int(round(warmup / dt)),
        int(n_trials),
        int(seed),
        np.array([y0, y1, y2]),
    )


def write_epochs(fname, trials_uv, sfreq, tmin, names=None, event="stim"):
    """An epochs FIF file (EEG in V) from trials in uV, shape (n_trials, n_channels, n_times)."""
    import mne

    x = np.asarray(trials_uv, float) * 1e-6
    names = names or [f"EEG{i:03d}" for i in range(x.shape[1])]
    info = mne.create_info(list(names), sfreq, "eeg")
    events = np.column_stack([np.arange(x.shape[0]) * 1000, np.zeros(x.shape[0], int), np.ones(x.shape[0], int)])
    epochs = mne.EpochsArray(x, info, events=events, tmin=tmin, event_id={event: 1}, baseline=None, verbose="error")
    epochs.save(fname, overwrite=True, verbose="error")
    return list(names)
