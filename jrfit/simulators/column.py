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

from dataclasses import dataclass, field

import numpy as np

from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import fixed_point_states
from jrfit.model.params import JRParams, pack, readonly
from jrfit.simulators import driver
from jrfit.simulators import kernels as K
from jrfit.simulators.decimation import antialias_filter, ratio
from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose

__all__ = ["simulate", "Simulation", "integrate", "Trajectory", "antialias_filter"]

_GROUP = 64  # columns per kernel call (the group's working set stays in cache)
_BLOCK_ELEMS = 1 << 17  # noise draws per group and block (1 MiB)

_column_generator = driver.column_generator  # noise stream i of a seed (looked up here at every run)


# ----------------------------------------------------------------------------
# result containers
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
                object.__setattr__(self, name, readonly(val))
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
            object.__setattr__(self, name, readonly(getattr(self, name)))

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
    A, a, b = flat["A"], flat["a"], flat["b"]
    cf[: K.N_CONST] = pack(flat)  # rows R_A..R_v0: JRParams.CONSTANTS
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


def _initial_states(flat, p, y_init, n, what):
    """``y_init`` checked, or the stable fixed point for input p per column.

    Columns without a stable fixed point start next to the upper one (logged).
    """
    if y_init is not None:
        return _check_y_init(y_init, n)
    y, stable = fixed_point_states(flat, p)
    if not np.all(stable):
        logger.info(
            f"{int(np.sum(~stable))} of {n} column(s) have no stable fixed point for "
            f"{what} (limit cycle): starting next to the upper fixed point."
        )
    return y


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
    duration, dt, transient = check_span(duration, dt, transient)
    method = check_option("method", method, ("splitting", "euler"))
    sched = driver.schedule(duration, dt, sfreq, transient)
    n_jobs = driver.check_n_jobs(n_jobs)
    ss, seed_used = driver.seed_sequence(seed)

    flat = params.flat()
    n = params.n_columns
    streams = _check_streams(streams, n)
    cf = _coefficients(flat, dt)
    y0 = _initial_states(flat, flat["mu"], y_init, n, "mu")
    W0 = _half_step(y0, cf) if method == "splitting" else y0.copy()
    logger.info(
        f"Simulating {n} column(s) x {sched.n_total} steps (dt={dt:g} s, {method}), "
        f"transient {sched.n_tr * dt:g} s, output {sched.n_out} samples at {sched.sfreq:g} Hz "
        f"(anti-alias FIR: decimation {sched.G1.shape[0]} x {sched.G2.shape[0]}, {sched.G1.size} + "
        f"{sched.G2.size} taps), n_jobs={n_jobs}."
    )
    size = max(1, min(_GROUP, -(-n // n_jobs)))  # every thread gets work
    data, final = driver.run(
        K.sde_block,
        (K.SPLITTING if method == "splitting" else K.EULER,),
        sched,
        W0,
        cf,
        y0[1] - y0[2],
        [slice(s, min(s + size, n)) for s in range(0, n, size)],
        noisy=flat["sigma"] > 0,
        streams=streams,
        ss=ss,
        generator=_column_generator,
        n_jobs=n_jobs,
        block_elems=_BLOCK_ELEMS,
    )
    bad = ~np.all(np.isfinite(data), axis=1)
    if np.any(bad):
        raise ModelError(
            f"The simulation diverged (non-finite values) in {int(bad.sum())} of {n} "
            f"column(s) (first: {int(np.flatnonzero(bad)[0])}); reduce dt"
            + (" or use method='splitting'." if method == "euler" else ".")
        )
    return Simulation(**driver.result_fields(sched, dt, data, final, method=method, seed=seed_used, params=params))


def check_span(duration, dt, transient):
    """``(duration, dt, transient)`` checked, in s (transient may be 0)."""
    duration = check_positive("duration", duration, "s")
    dt = check_positive("dt", dt, "s")
    transient = check_positive("transient", transient, "s", allow_zero=True)
    return duration, dt, transient


def _check_streams(streams, n):
    """Noise stream of each of the n columns (default ``arange(n)``), checked."""
    if streams is None:
        return np.arange(n)
    streams = np.asarray(streams)
    if streams.shape != (n,) or not np.issubdtype(streams.dtype, np.integer) or np.any(streams < 0):
        raise JRFitError(f"'streams' must hold one non-negative integer per column ({n}), got shape {streams.shape}.")
    return streams


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
    q = 1 if sfreq is None else ratio(check_positive("sfreq", sfreq, "Hz"), dt)
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
