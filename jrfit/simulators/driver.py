"""The block/thread driver shared by the stochastic simulators (single columns and networks).

Both :func:`jrfit.simulators.column.simulate` and
:func:`jrfit.simulators.network.simulate_network` lay their columns out in the
same way and hand them to :func:`run`: the columns are split into groups (one
per thread at most), each group owns its state, filter and noise buffers, and
its kernel is called on blocks of steps with fresh standard normal draws from
every column's own generator. The schedule of a run (:class:`Schedule`: where
the output starts, which filter inputs are needed, when the final state is
taken) is computed once, by :func:`schedule`.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from jrfit.errors import JRFitError
from jrfit.simulators import kernels as K
from jrfit.simulators.decimation import decimation_filter, ratio
from jrfit.utils.check import check_positive

__all__ = ["Schedule", "schedule", "run", "result_fields", "check_n_jobs", "seed_sequence", "column_generator"]


@dataclass(frozen=True)
class Schedule:
    """Step counts of one stochastic run (all in integration steps of ``dt``).

    Attributes
    ----------
    sfreq : float
        Output rate, in Hz (``1 / (q dt)``).
    q : int
        Decimation factor.
    n_out : int
        Output samples.
    n_tr : int
        Transient steps before the first output sample.
    n_start : int
        Global step fed to the anti-alias filter as its input 0.
    i_last : int
        Last filter input needed.
    snap_step : int
        Global step whose (synchronised) state is the final state.
    n_total : int
        Steps to integrate.
    G1, G2 : ndarray
        Polyphase taps of the two filter stages.
    """

    sfreq: float
    q: int
    n_out: int
    n_tr: int
    n_start: int
    i_last: int
    snap_step: int
    n_total: int
    G1: np.ndarray
    G2: np.ndarray


def result_fields(sched, dt, data, final, **record):
    """The fields of a :class:`jrfit.simulators.column.Simulation` of this run.

    ``record``: ``method``, ``seed`` and ``params`` as the caller records them.
    """
    times = np.arange(sched.n_out) / sched.sfreq
    return dict(
        times=times, data=data, sfreq=sched.sfreq, dt=dt, transient=sched.n_tr * dt, final_state=final, **record
    )


def schedule(duration, dt, sfreq, transient):
    """The :class:`Schedule` of a run of ``duration`` s after ``transient`` s at step ``dt``.

    Parameters
    ----------
    duration, dt, transient : float
        Checked lengths, in s.
    sfreq : float | None
        Output rate, in Hz (None: ``1/dt``); ``1 / (dt sfreq)`` must be an integer.
    """
    sfreq = 1.0 / dt if sfreq is None else check_positive("sfreq", sfreq, "Hz")
    q = ratio(sfreq, dt)
    sfreq = 1.0 / (q * dt)
    n_out = int(round(duration * sfreq))
    if n_out < 1:
        raise JRFitError(f"'duration' ({duration:g} s) is shorter than one sample at sfreq={sfreq:g} Hz.")
    _, delay, G1, G2 = decimation_filter(q)
    n_tr = int(round(transient / dt))
    n_start = n_tr - delay  # global step fed to the filter as input 0
    k_last = (n_out - 1) * G2.shape[0] + G2.size - 1  # last stage-1 output needed
    i_last = k_last * G1.shape[0] + G1.size - 1  # last input needed
    snap_step = n_tr + n_out * q
    n_total = max(n_start + i_last, snap_step)
    return Schedule(sfreq, q, n_out, n_tr, n_start, i_last, snap_step, n_total, G1, G2)


def _filter_state(G1, G2, ng, per_column):
    """The ``fir`` tuple of a group of ``ng`` columns (see :func:`jrfit.simulators.kernels.sde_block`)."""
    fir = []
    for Gs in (G1, G2):
        n_acc = Gs.shape[1]
        acc = np.zeros((ng, n_acc) if per_column else (n_acc, ng))
        fir += [Gs, np.ascontiguousarray(Gs[:, ::-1]), acc, np.zeros(ng)]
    return tuple(fir)


def run(
    kernel,
    head,
    sched,
    W0,
    cf,
    x0,
    groups,
    *,
    noisy,
    streams,
    ss,
    generator,
    n_jobs,
    block_elems,
    per_column_below=K.SMALL_GROUP,
    tail=None,
):
    """Integrate groups of columns with ``kernel``, in blocks of steps and in threads.

    Each group (a slice of the columns) is advanced by calls
    ``kernel(*head, W, cf, noise, step0, n_steps, fir, n_start, i_last, out,
    snap_step, snap, vbuf, *tail(sl))`` (the signature of
    :func:`jrfit.simulators.kernels.sde_block`, extended by the network kernel).

    Parameters
    ----------
    kernel : callable
        Compiled block kernel.
    head : tuple
        Its leading arguments (method, coupling mode).
    sched : Schedule
    W0 : ndarray, shape (6, n)
        Initial internal state.
    cf : ndarray, shape (N_COEF, n)
        Coefficients.
    x0 : ndarray, shape (n,)
        Output before the start (constant history fed to the filter).
    groups : list of slice
    noisy : ndarray of bool, shape (n,)
        Columns that draw noise (the others get zeros).
    streams : ndarray of int, shape (n,)
        Noise stream of each column.
    ss : numpy.random.SeedSequence
    generator : callable
        ``generator(ss, stream)``, a numpy Generator (:func:`column_generator`).
    n_jobs : int
        Threads.
    block_elems : int
        Noise draws per group and block.
    per_column_below : int
        Groups smaller than this filter each column on its own (the (n, n_acc)
        accumulator layout of :func:`jrfit.simulators.kernels.sde_block`); 0:
        never.
    tail : callable | None
        ``tail(sl)``: the per-group trailing kernel arguments (allocated once
        per group), or None.

    Returns
    -------
    data : ndarray, shape (n, n_out)
        Decimated output, in mV.
    final : ndarray, shape (6, n)
        State at ``sched.snap_step``.
    """
    n = W0.shape[1]
    data = np.empty((n, sched.n_out))
    final = np.empty((6, n))

    def run_group(sl):
        ng = sl.stop - sl.start
        per_column = ng < per_column_below
        W = np.ascontiguousarray(W0[:, sl])
        cfg = np.ascontiguousarray(cf[:, sl])
        fir = _filter_state(sched.G1, sched.G2, ng, per_column)
        vbuf = np.empty(ng)
        snap = np.zeros((6, ng))
        out = data[sl]
        extra = () if tail is None else tail(sl)
        nb = max(1, min(sched.n_total, block_elems // ng))
        noise = np.zeros((ng, nb))
        gens = [(j, generator(ss, streams[sl.start + j])) for j in range(ng) if noisy[sl.start + j]]
        if sched.n_start <= 0:
            K.fir_prefeed(fir, 1 - sched.n_start, np.ascontiguousarray(x0[sl]), out, per_column)
        step = 0
        while step < sched.n_total:
            m = min(nb, sched.n_total - step)
            for j, gen in gens:
                gen.standard_normal(out=noise[j, :m])
            kernel(
                *head,
                W,
                cfg,
                noise,
                step,
                m,
                fir,
                sched.n_start,
                sched.i_last,
                out,
                sched.snap_step,
                snap,
                vbuf,
                *extra,
            )
            step += m
        final[:, sl] = snap

    if n_jobs == 1 or len(groups) == 1:
        for sl in groups:
            run_group(sl)
    else:
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(groups))) as ex:
            list(ex.map(run_group, groups))
    return data, final


def check_n_jobs(n_jobs):
    """Number of threads: None -> 1, -1 -> all CPUs, -k -> all but k - 1 (or an error)."""
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


def seed_sequence(seed):
    """``(SeedSequence, value to record)`` of a seed (None: fresh entropy, recorded)."""
    if seed is None:
        ss = np.random.SeedSequence()
        return ss, ss.entropy
    if isinstance(seed, np.random.SeedSequence):
        return seed, seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed)), int(seed)
    raise JRFitError(f"'seed' must be None, a non-negative integer or a numpy SeedSequence, got {seed!r}.")


def column_generator(ss, i):
    """Generator of noise stream ``i``: ``PCG64(ss.spawn(n)[i])``."""
    # identical to ss.spawn(n)[i] for a fresh SeedSequence, without the side effect
    child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(i),), pool_size=ss.pool_size)
    return np.random.Generator(np.random.PCG64(child))
