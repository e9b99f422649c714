"""Simulators of the Jansen-Rit column: stochastic (EEG-like) and deterministic.

:func:`simulate` integrates a batch of independent columns driven by noisy
input ``p(t) = mu + sigma xi(t)`` (``xi`` unit white noise; docs/model.md,
section 4) and returns the EEG proxy ``v = y1 - y2`` at the rate ``sfreq``,
low-pass filtered and decimated without aliasing. :func:`integrate` solves the
deterministic equations for an arbitrary input time course (evoked responses)
and returns every state variable.

Integrators
-----------
``'splitting'`` (default)
    Structure-preserving Strang splitting (Ableidinger, Buckwar & Hinterleitner
    2017). Each population is a critically damped linear oscillator
    ``y'' + 2k y' + k^2 y``, advanced *exactly* with the propagator
    ``exp(M h) = e^{-k h} [[1 + k h, h], [-k^2 h, 1 - k h]]``; the sigmoid
    terms, the mean input and the noise act as a kick on the velocities:
    half linear step, kick, half linear step. Consecutive half steps are
    merged into one exact full step, so a step costs one evaluation of the
    sigmoids. It keeps the oscillation frequency, amplitude and spectrum right
    at practical steps (1 ms), where Euler is badly biased (docs/model.md,
    section 9): on the p = 220 /s alpha cycle (exact 10.94 Hz, 2.95 mV peak
    to peak) it gives 10.93 Hz and 2.96 mV at dt = 1 ms, Euler 10.04 Hz and
    6.08 mV. Like every splitting it shifts equilibria by O(dt^2) (relative
    offset about (a dt)^2 / 24 per population, amplified by the loop gain:
    1e-3 at mu = 500 /s, dt = 0.5 ms).
``'euler'``
    Euler(-Maruyama): the classical scheme of JR 1995 and TVB; needs a small
    ``dt`` (0.05-0.1 ms) for correct spectra. Provided for comparison.
``'rk4'`` (:func:`integrate` only)
    Classical Runge-Kutta, the accurate deterministic reference.

In every scheme the noise enters only the y4 (= y1') equation: per step y4
receives ``A a sigma sqrt(dt) N(0, 1)``.

Reproducibility
---------------
Column ``i`` draws its noise from its own generator,
``np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(n)[i]))``,
and is computed with exactly the same floating-point operations whatever the
other columns, their number, the block sizes or ``n_jobs``: the same seed
gives identical output bit for bit (for a given machine and library build),
and column ``i`` does not depend on the other columns.

Decimation
----------
``v`` is low-pass filtered at the integration rate and decimated to
``sfreq`` by a two-stage polyphase FIR (Kaiser windows; passband to
0.4 ``sfreq``, >= 60 dB from 0.5 ``sfreq``; linear phase with its delay
compensated), computed inside the kernel for the kept samples only; see
:func:`antialias_filter`.

Memory
------
The stochastic simulator works in blocks of steps on groups of columns and
keeps no full-rate history: only the decimated output grows with duration
(the working buffers take about 1 MiB per group of 64 columns).
"""

from __future__ import annotations

import functools
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from jrfit.simulators import kernels as K
from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import fixed_points, is_stable, operating_point, p_of_v, v_range
from jrfit.model.params import JRParams

__all__ = ["simulate", "Simulation", "integrate", "Trajectory", "antialias_filter"]

_STOP_DB = 60.0  # minimum stopband attenuation of the anti-alias filter, dB
_PASS_EDGE = 0.4  # passband edge, fraction of the output rate sfreq
_STOP_EDGE = 0.5  # stopband edge (output Nyquist), fraction of sfreq
_GROUP = 64  # columns per kernel call (the group's working set stays in cache)
_BLOCK_ELEMS = 1 << 17  # noise draws per group and block (1 MiB)
_PERTURB = 1.0  # mV added to y1 when starting at an unstable fixed point

_FIELDS = ("A", "B", "a", "b", "C", "c1", "c2", "c3", "c4", "e0", "r", "v0", "mu", "sigma")


# ----------------------------------------------------------------------------
# result containers
def _readonly(val):
    """Float array view that cannot be written (no copy if already float64)."""
    val = np.asarray(val, dtype=float).view()
    val.flags.writeable = False
    return val


@dataclass(frozen=True)
class Simulation:
    """Output of :func:`simulate`: the EEG proxy of a batch of columns.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        Sample times, in s, starting at 0 after the discarded transient.
    data : ndarray, shape (n_columns, n_times)
        ``v = y1 - y2`` of every column, in mV, anti-alias filtered and
        decimated to ``sfreq``. Columns follow ``params.flat()`` order.
    sfreq : float
        Sampling rate of ``data``, in Hz.
    dt : float
        Integration step, in s.
    method : str
        Integrator: ``'splitting'`` or ``'euler'``.
    seed : int | numpy.random.SeedSequence
        Seed of the noise (the entropy drawn when ``seed=None`` was given), so
        that ``simulate(..., seed=sim.seed)`` reproduces ``data`` exactly.
    params : JRParams
        The simulated parameters (``mu`` in /s, ``sigma`` in /s^0.5, ...).
    transient : float
        Simulated and discarded time before ``times[0]``, in s.
    final_state : ndarray, shape (6, n_columns)
        State ``y0..y5`` (mV, mV/s) at time ``n_times / sfreq``, i.e. where a
        continuation's first sample falls: pass it as ``y_init`` (with
        ``transient=0``) to continue the simulation with fresh noise.
    """

    times: np.ndarray
    data: np.ndarray
    sfreq: float
    dt: float
    method: str
    seed: object
    params: JRParams
    transient: float = 0.0
    final_state: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        for name in ("times", "data", "final_state"):
            val = getattr(self, name)
            if val is not None:
                object.__setattr__(self, name, _readonly(val))
        if self.data.ndim != 2 or self.data.shape[1] != self.times.shape[0]:
            raise JRFitError(
                f"Simulation.data must have shape (n_columns, n_times={self.times.shape[0]}), got {self.data.shape}."
            )

    @property
    def n_columns(self):
        """Number of simulated columns."""
        return self.data.shape[0]

    @property
    def n_times(self):
        """Number of output samples."""
        return self.data.shape[1]

    @property
    def duration(self):
        """Length of the output, ``n_times / sfreq``, in s."""
        return self.n_times / self.sfreq

    def __repr__(self):
        return (
            f"<Simulation | {self.n_columns} column(s), {self.n_times} samples at "
            f"{self.sfreq:g} Hz ({self.duration:g} s), method={self.method!r}, "
            f"dt={self.dt:g} s>"
        )

    def to_raw(self, ch_names=None, verbose=None):
        """The simulation as an MNE Raw object (one EEG channel per column).

        MNE stores EEG in volts: ``data`` (mV) is multiplied by 1e-3. Spectra
        computed by MNE (``raw.compute_psd()``) are therefore in V^2/Hz;
        multiply by 1e6 to compare with :func:`jrfit.model.spectrum.linear_psd`
        (mV^2/Hz).

        Parameters
        ----------
        ch_names : list of str | None
            One name per column. Default ``'JR000'``, ``'JR001'``, ...
        verbose : bool | str | int | None
            MNE's verbosity for creating the object.

        Returns
        -------
        raw : mne.io.RawArray
            Channels of type ``'eeg'``, sampled at ``sfreq``.
        """
        import mne

        n = self.n_columns
        if ch_names is None:
            width = max(3, len(str(n - 1)))
            ch_names = [f"JR{i:0{width}d}" for i in range(n)]
        ch_names = [str(c) for c in ch_names]
        if len(ch_names) != n:
            raise JRFitError(f"'ch_names' must have one name per column ({n}), got {len(ch_names)}.")
        info = mne.create_info(ch_names, self.sfreq, ch_types="eeg")
        info["description"] = (
            f"Jansen-Rit simulation (jrfit, method={self.method}, dt={self.dt:g} s): "
            "v = y1 - y2, converted from mV to V"
        )
        return mne.io.RawArray(self.data * 1e-3, info, verbose=verbose if verbose is not None else False)


@dataclass(frozen=True)
class Trajectory:
    """Output of :func:`integrate`: every state variable over time.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        In s, from 0.
    y : ndarray, shape (6, *batch_shape, n_times)
        States ``y0..y2`` (mV) and their derivatives ``y3..y5`` (mV/s).
    dt : float
        Integration step, in s.
    method : str
        ``'splitting'``, ``'rk4'`` or ``'euler'``.
    params : JRParams
        Parameters (``mu`` is ignored: the input is the given ``p``).
    """

    times: np.ndarray
    y: np.ndarray
    dt: float
    method: str
    params: JRParams

    def __post_init__(self):
        for name in ("times", "y"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))

    @property
    def v(self):
        """EEG proxy ``y1 - y2``, in mV, shape (*batch_shape, n_times)."""
        return self.y[1] - self.y[2]

    @property
    def sfreq(self):
        """Sampling rate of ``times``, in Hz."""
        return 1.0 / (self.times[1] - self.times[0]) if self.times.size > 1 else float("nan")

    def __repr__(self):
        return (
            f"<Trajectory | batch_shape={self.y.shape[1:-1]}, {self.times.size} samples, "
            f"method={self.method!r}, dt={self.dt:g} s>"
        )


# ----------------------------------------------------------------------------
# helpers
def _check_params(params):
    if not isinstance(params, JRParams):
        raise JRFitError(f"'params' must be a JRParams instance, got {type(params).__name__}.")
    return params


def _coefficients(flat, dt, sigma=None):
    """Per-column kernel coefficients, shape (N_COEF, n)."""
    n = flat["A"].shape[0]
    cf = np.zeros((K.N_COEF, n))
    A, a, b, C = flat["A"], flat["a"], flat["b"], flat["C"]
    cf[K.R_A] = A
    cf[K.R_B] = flat["B"]
    cf[K.R_a] = a
    cf[K.R_b] = b
    cf[K.R_C1] = flat["c1"] * C
    cf[K.R_C2] = flat["c2"] * C
    cf[K.R_C3] = flat["c3"] * C
    cf[K.R_C4] = flat["c4"] * C
    cf[K.R_e0] = flat["e0"]
    cf[K.R_r] = flat["r"]
    cf[K.R_v0] = flat["v0"]
    cf[K.R_mu] = flat["mu"]
    sig = flat["sigma"] if sigma is None else sigma
    cf[K.R_NS] = A * a * sig * np.sqrt(dt)
    cf[K.R_DT] = dt
    cf[K.R_PA11 : K.R_PA22 + 1] = K.propagator(a, dt)
    cf[K.R_PB11 : K.R_PB22 + 1] = K.propagator(b, dt)
    cf[K.R_HA11 : K.R_HA22 + 1] = K.propagator(a, 0.5 * dt)
    cf[K.R_HB11 : K.R_HB22 + 1] = K.propagator(b, 0.5 * dt)
    return cf


def _half_step(y, cf):
    """Exact linear half step (the staggered state of the splitting scheme)."""
    w = y.copy()
    for pos, vel, base in ((0, 3, K.R_HA11), (1, 4, K.R_HA11), (2, 5, K.R_HB11)):
        p11, p12, p21, p22 = cf[base], cf[base + 1], cf[base + 2], cf[base + 3]
        w[pos] = p11 * y[pos] + p12 * y[vel]
        w[vel] = p21 * y[pos] + p22 * y[vel]
    return w


def _attr_dict(flat, idx):
    d = {k: flat[k][idx][:, None] for k in _FIELDS}
    for i in (1, 2, 3, 4):
        d[f"C{i}"] = d[f"c{i}"] * d["C"]
    return d


def _initial_states(flat, p, y_init, n, what):
    """``y_init`` checked, or the stable fixed point for input p per column.

    Columns without a stable fixed point start next to the upper one (logged).
    """
    if y_init is not None:
        return _check_y_init(y_init, n)
    y, stable = _fixed_point_states(flat, p)
    if not np.all(stable):
        logger.info(
            f"{int(np.sum(~stable))} of {n} column(s) have no stable fixed point for "
            f"{what} (limit cycle): starting next to the upper fixed point."
        )
    return y


def _fixed_point_states(flat, p, n_grid=2001, chunk=32):
    """Start states at the stable fixed point for constant input p, per column.

    Vectorised version of ``fixed_points`` + ``stable_v(branch='upper')``:
    the roots of ``p(v) - p`` are bracketed on a grid of v and refined by
    bisection (to rounding), and the stable one with the highest v is taken.
    Columns without a stable fixed point (limit cycle) start at the fixed point
    with the highest v, with y1 raised by 1 mV so that they leave it.

    Returns
    -------
    y : ndarray, shape (6, n)
    stable : ndarray of bool, shape (n,)
    """
    keys = np.column_stack([flat[k] for k in _FIELDS] + [p])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    uf = {k: uniq[:, j] for j, k in enumerate(_FIELDS)}
    up = uniq[:, -1]
    nu = uniq.shape[0]
    y_u = np.zeros((6, nu))
    stable_u = np.zeros(nu, bool)
    zero_a = uf["A"] == 0
    for i in np.flatnonzero(zero_a):  # closed form in fixed_points
        fp = fixed_points(JRParams(**{k: uf[k][i] for k in _FIELDS}), p=up[i])[0]
        y_u[:, i] = fp.y
        stable_u[i] = fp.stable
    # bracket the roots of p(v) - p on a grid of v (in chunks of columns)
    t = np.linspace(0.0, 1.0, n_grid)
    todo = np.flatnonzero(~zero_a)
    br_col, br_lo, br_hi, br_pos = [], [], [], []
    for start in range(0, todo.size, chunk):
        idx = todo[start : start + chunk]
        P = _attr_dict(uf, idx)
        pc = up[idx][:, None]
        lo, hi = v_range(_Obj(P))
        lo = lo + P["A"] / P["a"] * np.minimum(pc, 0.0) - 1.0
        hi = hi + P["A"] / P["a"] * np.maximum(pc, 0.0) + 1.0
        grid = lo + (hi - lo) * t
        pos = (p_of_v(grid, P) - pc) > 0
        rows, cols = np.nonzero(pos[:, :-1] != pos[:, 1:])
        br_col.append(idx[rows])
        br_lo.append(grid[rows, cols])
        br_hi.append(grid[rows, cols + 1])
        br_pos.append(pos[rows, cols])
    col = np.concatenate(br_col + [np.zeros(0, int)])
    vl, vh = np.concatenate(br_lo + [np.zeros(0)]), np.concatenate(br_hi + [np.zeros(0)])
    sl = np.concatenate(br_pos + [np.zeros(0, bool)])
    # refine all roots together by bisection, to rounding
    Pr = _attr_dict(uf, col)
    Pr = {k: val[:, 0] for k, val in Pr.items()}
    pr = up[col]
    for _ in range(200):
        vm = 0.5 * (vl + vh)
        done = (vm == vl) | (vm == vh)
        if np.all(done):
            break
        same = ((p_of_v(vm, Pr) - pr) > 0) == sl
        vl = np.where(same & ~done, vm, vl)
        vh = np.where(~same & ~done, vm, vh)
    roots = 0.5 * (vl + vh)
    st = np.asarray(is_stable(roots, JRParams(**{k: Pr[k] for k in _FIELDS})), bool)
    # per column: the stable root with the highest v, else the highest root
    v_sel = np.full(nu, np.nan)
    for i in todo:
        mine = col == i
        if not np.any(mine):  # cannot happen (p(v) - p changes sign); be safe
            raise ModelError(f"No fixed point found for a column with p={up[i]:g} /s.")
        v_all, s_all = roots[mine], st[mine]
        stable_u[i] = np.any(s_all)
        v_sel[i] = v_all[s_all].max() if stable_u[i] else v_all.max()
    if todo.size:
        Pt = _attr_dict(uf, todo)
        op = operating_point(v_sel[todo], {k: val[:, 0] for k, val in Pt.items()})
        y_u[0, todo], y_u[1, todo], y_u[2, todo] = op["y0"], op["y1"], op["y2"]
    unstable = ~stable_u
    y_u[1, unstable] += _PERTURB
    return y_u[:, inverse], stable_u[inverse]


class _Obj:
    def __init__(self, d):
        self.__dict__.update(d)


def _check_y_init(y_init, n):
    y = np.asarray(y_init, float)
    if y.shape == (6,):
        y = np.repeat(y[:, None], n, axis=1)
    if y.ndim > 2 and y.shape[0] == 6:
        y = y.reshape(6, -1)
    if y.shape != (6, n):
        raise JRFitError(
            f"'y_init' must have shape (6,) or (6, n_columns={n}) (y0..y2 in mV, "
            f"y3..y5 in mV/s), got {np.shape(y_init)}."
        )
    if not np.all(np.isfinite(y)):
        raise JRFitError("'y_init' must be finite.")
    return np.ascontiguousarray(y)


def _n_jobs(n_jobs):
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise JRFitError(f"'n_jobs' must be None, a positive integer or -1 (all CPUs), got {n_jobs!r}.")
    n_jobs = int(n_jobs)
    if n_jobs < 0:
        try:
            n_cpu = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover (macOS, Windows)
            n_cpu = os.cpu_count() or 1
        n_jobs = max(1, n_cpu + 1 + n_jobs)
    return n_jobs


def _seed_sequence(seed):
    if seed is None:
        ss = np.random.SeedSequence()
        return ss, ss.entropy
    if isinstance(seed, np.random.SeedSequence):
        return seed, seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed)), int(seed)
    raise JRFitError(f"'seed' must be None, a non-negative integer or a numpy SeedSequence, got {seed!r}.")


def _column_generator(ss, i):
    # identical to ss.spawn(n)[i] for a fresh SeedSequence, without the side effect
    child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(i),), pool_size=ss.pool_size)
    return np.random.Generator(np.random.PCG64(child))


def _ratio(sfreq, dt):
    """Integer decimation factor q = 1 / (sfreq dt), or an error."""
    rate = 1.0 / dt
    if sfreq > rate * (1 + 1e-9):
        raise JRFitError(
            f"'sfreq' ({sfreq:g} Hz) must not exceed the integration rate 1/dt = {rate:g} Hz; lower sfreq or dt."
        )
    q = rate / sfreq
    qi = int(round(q))
    if qi < 1 or abs(q - qi) > 1e-6 * q:
        raise JRFitError(
            f"The integration rate 1/dt = {rate:g} Hz must be an integer multiple of "
            f"'sfreq' ({sfreq:g} Hz); got a ratio of {q:g}. Choose e.g. "
            f"sfreq={rate / max(1, qi):g} Hz or dt={1.0 / (sfreq * max(1, qi)):g} s."
        )
    return qi


# ----------------------------------------------------------------------------
# anti-alias filter
def _lowpass(f_pass, f_stop):
    """Odd-length Kaiser-window low-pass (frequencies in cycles per sample).

    At least 60 dB attenuation from ``f_stop`` to Nyquist and a passband
    ripple below 0.1 % up to ``f_pass`` (checked, lengthened until met).
    """
    from scipy import signal

    numtaps, beta = signal.kaiserord(_STOP_DB + 1.0, 2.0 * (f_stop - f_pass))
    numtaps |= 1
    f = np.linspace(0, 0.5, 1 << 15)
    tol = 10 ** (-_STOP_DB / 20)
    while True:
        h = signal.firwin(numtaps, 0.5 * (f_pass + f_stop), window=("kaiser", beta), fs=1.0)
        H = np.abs(signal.freqz(h, worN=2 * np.pi * f)[1])
        if H[f >= f_stop].max() <= tol and np.abs(H[f <= f_pass] - 1).max() <= tol:
            return h
        numtaps += 2


def _kaiser_length(width):
    from scipy import signal

    return signal.kaiserord(_STOP_DB + 1.0, 2.0 * width)[0] | 1


def _polyphase(h, q):
    n_acc = -(-h.size // q)
    g = np.zeros(n_acc * q)
    g[: h.size] = h
    return np.ascontiguousarray(g.reshape(n_acc, q).T)


@functools.lru_cache(maxsize=32)
def _decimation_filter(q):
    """Two-stage anti-alias decimator by q = q1 q2 (cached).

    Stage 1 (at the integration rate, decimating by q1) only has to keep
    what would fold onto the output band [0, sfreq/2] away: passband
    0.4 sfreq, stopband from ``fs/q1 - sfreq/2``; stage 2 (at fs/q1,
    decimating by q2) is the sharp filter: passband 0.4 sfreq, stopband from
    sfreq/2. The split minimising the multiply-adds per step is used (either
    stage may be the identity). Both are linear phase; the cascade equals
    one FIR ``h1 * (h2 upsampled by q1)`` followed by decimation by q.

    Returns
    -------
    h_eq : ndarray
        Equivalent single filter (odd length, symmetric).
    delay : int
        Its delay, in input samples.
    G1, G2 : ndarray, shape (q_i, n_acc_i)
        Polyphase taps of the two stages.
    """
    if q == 1:
        one = np.ones((1, 1))
        return np.ones(1), 0, one, one
    best = None
    for q1 in range(1, q + 1):
        if q % q1:
            continue
        q2 = q // q1
        n1 = 1 if q1 == 1 else _kaiser_length(1.0 / q1 - (0.5 + _PASS_EDGE) / q)
        n2 = 1 if q2 == 1 else _kaiser_length((_STOP_EDGE - _PASS_EDGE) / q2)
        cost = n1 / q1 + n2 / q + (2.0 if q1 > 1 and q2 > 1 else 0.0)  # + stage overhead
        if best is None or cost < best[0]:
            best = (cost, q1, q2)
    _, q1, q2 = best
    h1 = np.ones(1) if q1 == 1 else _lowpass(_PASS_EDGE / q, 1.0 / q1 - _STOP_EDGE / q)
    h2 = np.ones(1) if q2 == 1 else _lowpass(_PASS_EDGE / q2, _STOP_EDGE / q2)
    up = np.zeros((h2.size - 1) * q1 + 1)
    up[::q1] = h2
    h_eq = np.convolve(h1, up)
    return h_eq, (h_eq.size - 1) // 2, _polyphase(h1, q1), _polyphase(h2, q2)


def antialias_filter(dt, sfreq):
    """Taps of the anti-alias FIR used by :func:`simulate` to decimate.

    A linear-phase (odd length, symmetric) low-pass at the integration rate
    ``1/dt``: passband up to 0.4 ``sfreq`` (ripple < 0.2 %), stopband from
    0.5 ``sfreq`` (the output Nyquist frequency) with at least 60 dB
    attenuation, so nothing above the output Nyquist folds back into the
    band. Its delay is compensated (the output is not shifted in time). The
    simulator applies it as a cascade of two Kaiser-window polyphase stages
    (computing only the kept samples); this function returns the equivalent
    single filter.

    Parameters
    ----------
    dt : float
        Integration step, in s.
    sfreq : float
        Output rate, in Hz; ``1 / (dt sfreq)`` must be an integer.

    Returns
    -------
    h : ndarray, shape (n_taps,)
        Taps (unit DC gain), at rate ``1/dt``.
    """
    dt = check_positive("dt", dt, "s")
    sfreq = check_positive("sfreq", sfreq, "Hz")
    return _decimation_filter(_ratio(sfreq, dt))[0].copy()


# ----------------------------------------------------------------------------
# stochastic simulation
@verbose
def simulate(
    params,
    duration,
    *,
    dt=5e-4,
    sfreq=250.0,
    transient=1.0,
    method="splitting",
    seed=None,
    n_jobs=None,
    y_init=None,
    streams=None,
    verbose=None,
):
    """Simulate the EEG proxy of a batch of noise-driven Jansen-Rit columns.

    Each column integrates the stochastic equations of docs/model.md, section 1
    with input ``p(t) = mu + sigma xi(t)`` (section 4): per step of length dt
    the y4 (= y1') equation receives ``A a sigma sqrt(dt) N(0, 1)``. The
    output ``v = y1 - y2`` passes through a linear-phase anti-alias FIR
    (:func:`antialias_filter`) computed inside the kernel for the kept
    samples only, so ``data`` has the spectrum of the column up to the
    output Nyquist frequency without aliasing.

    Parameters
    ----------
    params : JRParams
        One parameter set or a batch (array fields; the columns are
        ``params.flat()``). ``mu`` (/s) and ``sigma`` (/s^0.5) set the input;
        a per-sample standard deviation s at step dt is
        ``sigma = s sqrt(dt)`` (:meth:`JRParams.sigma_from_per_sample_std`).
    duration : float
        Length of the returned signal, in s (after the transient).
    dt : float
        Integration step, in s (default 0.5 ms). ``1 / (dt sfreq)`` must be
        an integer.
    sfreq : float | None
        Output sampling rate, in Hz (default 250). None: ``1/dt`` (no
        decimation).
    transient : float
        Time simulated and discarded before the output starts, in s
        (default 1). At least ``len(antialias_filter(dt, sfreq)) * dt / 2`` of
        it also primes the anti-alias filter; with a shorter transient the
        filter assumes a constant signal before the start.
    method : 'splitting' | 'euler'
        Integrator: Strang splitting with the exact linear flow (default)
        or Euler-Maruyama (needs dt of about 0.05-0.1 ms for correct spectra).
    seed : None | int | numpy.random.SeedSequence
        Seed of the noise. Column i uses a PCG64 generator seeded with
        ``SeedSequence(seed).spawn(n_columns)[i]``, so output is reproducible
        and independent of ``n_jobs`` and of the other columns. None draws
        fresh entropy (stored in ``Simulation.seed``).
    n_jobs : int | None
        Number of threads over which the columns are split (None: 1; -1: all
        CPUs). Does not change the result.
    y_init : array, shape (6,) | (6, n_columns) | None
        Initial state ``y0..y5`` (mV, mV/s), e.g. ``sim.final_state`` to
        continue a simulation. Default: the stable fixed point for ``mu``
        (upper branch when two are stable); where none is stable (limit
        cycle) the fixed point with the highest v, with y1 raised by 1 mV.
    streams : array of int, shape (n_columns,) | None
        Noise stream of each column: column i draws from
        ``SeedSequence(seed).spawn(...)[streams[i]]`` (default ``i``). Equal
        streams give columns the same noise: common random numbers, e.g. the
        same replicates for every parameter set of a simulation-based
        likelihood.
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    sim : Simulation
        ``sim.data`` (mV) has shape (n_columns, n_times) with
        ``n_times = round(duration * sfreq)``; ``sim.to_raw()`` gives an MNE
        Raw object.

    Notes
    -----
    Memory stays bounded: state, filter and noise buffers are O(n_columns)
    and only the decimated output grows with ``duration``.
    """
    params = _check_params(params)
    duration = check_positive("duration", duration, "s")
    dt = check_positive("dt", dt, "s")
    transient = check_positive("transient", transient, "s", allow_zero=True)
    method = check_option("method", method, ("splitting", "euler"))
    sfreq = 1.0 / dt if sfreq is None else check_positive("sfreq", sfreq, "Hz")
    q = _ratio(sfreq, dt)
    sfreq = 1.0 / (q * dt)
    n_out = int(round(duration * sfreq))
    if n_out < 1:
        raise JRFitError(f"'duration' ({duration:g} s) is shorter than one sample at sfreq={sfreq:g} Hz.")
    n_jobs = _n_jobs(n_jobs)
    ss, seed_used = _seed_sequence(seed)

    flat = params.flat()
    n = params.n_columns
    if streams is None:
        streams = np.arange(n)
    else:
        streams = np.asarray(streams)
        if streams.shape != (n,) or not np.issubdtype(streams.dtype, np.integer) or np.any(streams < 0):
            raise JRFitError(
                f"'streams' must hold one non-negative integer per column ({n}), got shape {streams.shape}."
            )
    cf = _coefficients(flat, dt)
    y0 = _initial_states(flat, flat["mu"], y_init, n, "mu")
    W0 = _half_step(y0, cf) if method == "splitting" else y0.copy()
    x0 = y0[1] - y0[2]

    h, delay, G1, G2 = _decimation_filter(q)
    q1, q2 = G1.shape[0], G2.shape[0]
    n_tr = int(round(transient / dt))
    n_start = n_tr - delay  # global step fed to the filter as input 0
    k_last = (n_out - 1) * q2 + G2.size - 1  # last stage-1 output needed
    i_last = k_last * q1 + G1.size - 1  # last input needed
    snap_step = n_tr + n_out * q
    n_total = max(n_start + i_last, snap_step)
    meth = K.SPLITTING if method == "splitting" else K.EULER

    logger.info(
        f"Simulating {n} column(s) x {n_total} steps (dt={dt:g} s, {method}), "
        f"transient {n_tr * dt:g} s, output {n_out} samples at {sfreq:g} Hz "
        f"(anti-alias FIR: decimation {q1} x {q2}, {G1.size} + {G2.size} taps), "
        f"n_jobs={n_jobs}."
    )

    data = np.empty((n, n_out))
    final = np.empty((6, n))
    noisy = flat["sigma"] > 0
    size = max(1, min(_GROUP, -(-n // n_jobs)))  # every thread gets work
    groups = [slice(s, min(s + size, n)) for s in range(0, n, size)]

    def run_group(sl):
        ng = sl.stop - sl.start
        W = np.ascontiguousarray(W0[:, sl])
        cfg = np.ascontiguousarray(cf[:, sl])
        fir = []
        for Gs in (G1, G2):
            n_acc = Gs.shape[1]
            acc = np.zeros((ng, n_acc) if ng < K.SMALL_GROUP else (n_acc, ng))
            fir += [Gs, np.ascontiguousarray(Gs[:, ::-1]), acc, np.zeros(ng)]
        fir = tuple(fir)
        vbuf = np.empty(ng)
        snap = np.zeros((6, ng))
        out = data[sl]
        nb = max(1, min(n_total, _BLOCK_ELEMS // ng))
        noise = np.zeros((ng, nb))
        gens = [(j, _column_generator(ss, streams[sl.start + j])) for j in range(ng) if noisy[sl.start + j]]
        if n_start <= 0:
            K.fir_prefeed(fir, 1 - n_start, np.ascontiguousarray(x0[sl]), out)
        step = 0
        while step < n_total:
            m = min(nb, n_total - step)
            for j, gen in gens:
                gen.standard_normal(out=noise[j, :m])
            K.sde_block(meth, W, cfg, noise, step, m, fir, n_start, i_last, out, snap_step, snap, vbuf)
            step += m
        final[:, sl] = snap

    if n_jobs == 1 or len(groups) == 1:
        for sl in groups:
            run_group(sl)
    else:
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(groups))) as ex:
            list(ex.map(run_group, groups))

    bad = ~np.all(np.isfinite(data), axis=1)
    if np.any(bad):
        raise ModelError(
            f"The simulation diverged (non-finite values) in {int(bad.sum())} of {n} "
            f"column(s) (first: {int(np.flatnonzero(bad)[0])}); reduce dt"
            + (" or use method='splitting'." if method == "euler" else ".")
        )
    times = np.arange(n_out) / sfreq
    return Simulation(
        times=times,
        data=data,
        sfreq=sfreq,
        dt=dt,
        method=method,
        seed=seed_used,
        params=params,
        transient=n_tr * dt,
        final_state=final,
    )


# ----------------------------------------------------------------------------
# deterministic integration
@verbose
def integrate(params, p=None, dt=1e-4, *, duration=None, y_init=None, method="splitting", sfreq=None, verbose=None):
    """Integrate the deterministic column for a given input time course.

    Parameters
    ----------
    params : JRParams
        One parameter set or a batch. ``sigma`` is not used, and ``mu`` only
        when ``p`` is None: the input is ``p``.
    p : float | array | None
        Input to the excitatory interneurons, in /s: a constant, an array of
        shape (n_samples,) sampled at dt from t = 0 (shared by all columns),
        or of shape (*batch_shape, n_samples) / (n_columns, n_samples) (one
        time course per column). None: the constant ``params.mu``. Between
        samples the input is taken as piecewise linear.
    dt : float
        Integration step, in s (default 0.1 ms).
    duration : float | None
        Length of the integration, in s; required when ``p`` is a constant
        (with an array, ``duration = (n_samples - 1) dt``).
    y_init : array, shape (6,) | (6, *batch_shape) | (6, n_columns) | None
        Initial state (mV, mV/s). Default: the stable fixed point for the
        input ``p(0)`` (upper branch); where none is stable, the highest fixed
        point with y1 raised by 1 mV.
    method : 'splitting' | 'rk4' | 'euler'
        Integrator: Strang splitting with the exact linear flow (default),
        classical Runge-Kutta 4 (the accurate reference) or forward Euler.
    sfreq : float | None
        Rate of the returned samples, in Hz: every ``1 / (dt sfreq)``-th step
        is kept (instantaneous samples of the solution, no filtering).
        None: every step.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    traj : Trajectory
        ``traj.y`` of shape (6, *batch_shape, n_times) and ``traj.v = y1 - y2``
        (mV); ``traj.times`` in s.
    """
    params = _check_params(params)
    dt = check_positive("dt", dt, "s")
    method = check_option("method", method, ("splitting", "rk4", "euler"))
    flat = params.flat()
    n = params.n_columns
    bshape = params.batch_shape
    if p is None:
        p = flat["mu"]
        const = True
    else:
        p = np.asarray(p, float)
        const = p.ndim == 0
    if const:
        if duration is None:
            raise JRFitError("'duration' (in s) is needed when the input 'p' is a constant.")
        duration = check_positive("duration", duration, "s")
        n_steps = int(round(duration / dt))
        pc = np.broadcast_to(np.asarray(p, float).reshape(-1), (n,))
        P = np.repeat(pc[:, None], n_steps + 1, axis=1)
    else:
        if duration is not None:
            raise JRFitError("Give either an input array 'p' or 'duration', not both.")
        if p.ndim == 1:
            P = np.broadcast_to(p, (n, p.shape[0]))
        elif p.shape[:-1] in (bshape, (n,)):
            P = p.reshape(n, p.shape[-1])
        else:
            raise JRFitError(
                f"'p' must have shape (n_samples,), {bshape + ('n_samples',)} or ({n}, n_samples), got {p.shape}."
            )
        P = np.ascontiguousarray(P, dtype=float)
        n_steps = P.shape[1] - 1
    if not np.all(np.isfinite(P)):
        raise JRFitError("'p' must be finite.")
    q = 1 if sfreq is None else _ratio(check_positive("sfreq", sfreq, "Hz"), dt)
    if n_steps < 0:
        raise JRFitError("'p' must have at least one sample.")

    cf = _coefficients(flat, dt, sigma=np.zeros(n))
    Y = _initial_states(flat, P[:, 0].copy(), y_init, n, "p(0)")
    Y = np.ascontiguousarray(Y, dtype=float).copy()
    meth = dict(splitting=K.SPLITTING, euler=K.EULER, rk4=K.RK4)[method]
    n_rec = n_steps // q + 1
    rec = np.empty((6, n, n_rec))
    logger.info(f"Integrating {n} column(s) x {n_steps} steps (dt={dt:g} s, {method}).")
    K.ode_run(meth, Y, cf, P, n_steps, q, rec)
    if not np.all(np.isfinite(rec)):
        raise ModelError("The integration diverged (non-finite values); reduce dt.")
    times = np.arange(n_rec) * (q * dt)
    return Trajectory(times=times, y=rec.reshape((6,) + bshape + (n_rec,)), dt=dt, method=method, params=params)
