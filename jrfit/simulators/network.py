"""Simulation of networks of Jansen-Rit columns coupled by a structural connectome with delays.

:func:`simulate_network`: the stochastic network (Strang splitting,
numba-compiled, delays in a ring buffer, per-column noise streams, in-kernel
anti-alias decimation; the block/thread driver of
:func:`jrfit.simulators.column.simulate`, :mod:`jrfit.simulators.driver`),
returning a :class:`NetworkSimulation` (``.to_raw()`` gives an
:class:`mne.io.RawArray` of the region signals). Its inputs and its linear
analysis live in the forward model: the connectome in
:mod:`jrfit.model.connectome` (:class:`Connectivity`,
:func:`load_connectivity`), the coupled fixed point and the linearised
cross-spectra in :mod:`jrfit.model.network` (:func:`network_fixed_point`,
:func:`linear_cross_spectrum`, with the coupling conventions ``'seed'`` and
``'tvb'`` and the mean-field feedback ``beta``); they are importable from here
too.

Noise is that of :func:`jrfit.simulators.column.simulate`: ``p_i(t) = mu_i + sigma_i
xi_i(t)`` with independent unit white noises, i.e. the y4 (= y1') equation
receives ``A a sigma sqrt(dt) N(0, 1)`` per step.

Delays are rounded to whole steps of ``dt`` (a delay that is non-zero but
rounds to 0 steps becomes instantaneous, with a warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import START_PERTURBATION, fixed_point_states, sigmoid
from jrfit.model.connectome import Connectivity, as_connectivity, check_speed, load_connectivity
from jrfit.model.network import (
    COUPLINGS,
    CrossSpectrum,
    NetworkFixedPoint,
    coupled_fixed_point,
    count_unstable,
    gain_unit,
    linear_cross_spectrum,
    network_fixed_point,
    network_params,
    per_set,
    set_params,
)
from jrfit.model.params import readonly
from jrfit.simulators import driver
from jrfit.simulators import kernels as K
from jrfit.simulators import network_kernels as NK
from jrfit.simulators.column import _BLOCK_ELEMS, Simulation, _check_y_init, _coefficients, _half_step, check_span
from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose

__all__ = [
    "simulate_network",
    "NetworkSimulation",
    "welch_csd",
    # defined in jrfit.model.connectome and jrfit.model.network, importable from here
    "Connectivity",
    "load_connectivity",
    "network_fixed_point",
    "NetworkFixedPoint",
    "linear_cross_spectrum",
    "CrossSpectrum",
]

_NET_BLOCK_ELEMS = _BLOCK_ELEMS  # noise draws per kernel call (1 MiB)


def welch_csd(data, sfreq, nperseg):
    """Welch cross-spectral matrix (Hann window, 50 % overlap), one-sided density."""
    from scipy.signal import get_window

    n, nt = data.shape
    nperseg = int(min(nperseg, nt))
    step = nperseg // 2
    win = get_window("hann", nperseg)
    starts = np.arange(0, nt - nperseg + 1, step)
    scale = 1.0 / (sfreq * np.sum(win**2))
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sfreq)
    csd = np.zeros((n, n, freqs.size), complex)
    for s in starts:
        seg = data[:, s : s + nperseg]
        X = np.fft.rfft((seg - seg.mean(axis=1, keepdims=True)) * win, axis=1)
        csd += X[:, None, :] * X.conj()[None, :, :]
    csd *= scale / starts.size
    csd[..., 1:] *= 2.0
    if nperseg % 2 == 0:
        csd[..., -1] /= 2.0
    return freqs, csd, starts.size


# ----------------------------------------------------------------------------
# simulation
@dataclass(frozen=True, repr=False)
class NetworkSimulation(Simulation):
    """Output of :func:`simulate_network`: the EEG proxy of every region.

    Inherits :class:`jrfit.simulators.column.Simulation`; ``data`` has shape
    (n_sets * n_regions, n_times) with rows ordered set by set
    (``data_sets`` gives (n_sets, n_regions, n_times)).

    Attributes
    ----------
    connectivity : Connectivity
    coupling : str
        ``'seed'`` or ``'tvb'``.
    global_coupling : ndarray, shape (n_sets,)
    speed : float
        Conduction speed, in m/s.
    beta : ndarray, shape (n_sets,)
    delay_steps : ndarray of int, shape (n_regions, n_regions)
        The delays used, in steps of ``dt``.
    """

    connectivity: Connectivity = None
    coupling: str = "seed"
    global_coupling: np.ndarray = None
    speed: float = 3.0
    beta: np.ndarray = None
    delay_steps: np.ndarray = field(default=None, repr=False)

    @property
    def n_regions(self):
        """Regions per network."""
        return self.connectivity.n_regions

    @property
    def n_sets(self):
        """Number of simulated networks (parameter sets)."""
        return self.n_columns // self.n_regions

    @property
    def data_sets(self):
        """``data`` as (n_sets, n_regions, n_times), in mV."""
        return self.data.reshape(self.n_sets, self.n_regions, self.n_times)

    def __repr__(self):
        return (
            f"<NetworkSimulation | {self.n_sets} network(s) x {self.n_regions} regions, "
            f"{self.n_times} samples at {self.sfreq:g} Hz ({self.duration:g} s), "
            f"coupling={self.coupling!r}, speed={self.speed:g} m/s, dt={self.dt:g} s>"
        )

    def to_raw(self, index=0, ch_names=None, verbose=None):
        """The region signals of one network as an MNE Raw object.

        Parameters
        ----------
        index : int
            Which network of the batch (default 0).
        ch_names : list of str | None
            Channel names (default: the region names).
        verbose : bool | str | int | None
            MNE's verbosity.

        Returns
        -------
        raw : mne.io.RawArray
            One EEG channel per region, in V (mV x 1e-3).
        """
        if not 0 <= int(index) < self.n_sets:
            raise JRFitError(f"'index' must be in [0, {self.n_sets}), got {index}.")
        names = list(self.connectivity.region_names) if ch_names is None else ch_names
        same = ("times", "sfreq", "dt", "method", "seed", "params", "transient")
        sub = Simulation(data=self.data_sets[int(index)], **{k: getattr(self, k) for k in same})
        raw = sub.to_raw(ch_names=names, verbose=verbose)
        raw.info["description"] = raw.info["description"].replace(
            "Jansen-Rit simulation", f"Jansen-Rit network ({self.coupling} coupling, speed {self.speed:g} m/s)"
        )
        return raw

    def cross_spectrum(self, index=0, seg=4.0):
        """Welch estimate of the cross-spectral matrix of one network.

        Parameters
        ----------
        index : int
            Which network of the batch.
        seg : float
            Segment length, in s (Hann window, 50 % overlap).

        Returns
        -------
        spec : CrossSpectrum
            ``kind='welch'``; its diagonal equals ``scipy.signal.welch``.
        """
        seg = check_positive("seg", seg, "s")
        freqs, csd, k = welch_csd(self.data_sets[int(index)], self.sfreq, int(round(seg * self.sfreq)))
        return CrossSpectrum(
            freqs=freqs, csd=csd, region_names=self.connectivity.region_names, kind="welch", n_segments=k
        )


def _csr(weights, steps):
    """Afferent connections of each region: indptr, sender, weight, delay."""
    n = weights.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    src, wgt, dly = [], [], []
    for i in range(n):
        js = np.flatnonzero(weights[i])
        src.append(js)
        wgt.append(weights[i, js])
        dly.append(steps[i, js])
        indptr[i + 1] = indptr[i] + js.size
    cat = lambda xs, dt: np.ascontiguousarray(np.concatenate(xs), dtype=dt) if xs else np.zeros(0, dt)  # noqa: E731
    return indptr, cat(src, np.int64), cat(wgt, float), cat(dly, np.int64)


@verbose
def simulate_network(
    connectivity,
    duration,
    params=None,
    *,
    global_coupling,
    speed=3.0,
    coupling="seed",
    beta=0.0,
    dt=5e-4,
    sfreq=250.0,
    transient=1.0,
    method="splitting",
    seed=None,
    n_jobs=None,
    y_init=None,
    verbose=None,
):
    """Simulate a network of noise-driven Jansen-Rit columns with conduction delays.

    Every region is a column of :func:`jrfit.simulators.column.simulate` (same
    equations, noise, integrator and anti-alias decimation) plus the afferent
    coupling of the module docstring: ``'seed'`` adds ``sum_j K_ij
    S(y0_j(t - tau_ij))`` to y0_i'' (docs/model.md, section 11), ``'tvb'`` adds
    ``sum_j K_ij S(y1_j - y2_j)(t - tau_ij)`` to the input p_i of the y1
    equation; ``beta`` feeds back the mean field ``psi = mean_i S(y1_i -
    y2_i)`` into every input. ``K = global_coupling * connectivity.weights``.

    With the splitting integrator the coupling is evaluated, like the sigmoid
    terms, at the state of each step's kick; the delays are rounded to whole
    steps (``round(tau / dt)``) and held in a ring buffer of ``max delay + 1``
    steps per column. With ``global_coupling = 0`` and ``beta = 0`` region i
    of network s is bit for bit column ``s * n_regions + i`` of
    :func:`jrfit.simulators.column.simulate` with the same ``seed`` and parameters.

    Parameters
    ----------
    connectivity : Connectivity | str | path
        The connectome (:func:`load_connectivity`; a name or path is loaded
        with ``normalize='max'``).
    duration : float
        Length of the output, in s (after the transient).
    params : JRParams | None
        Column parameters: one set for all regions, one per region (batch
        shape (n_regions,)), or a batch of networks (shape (n_sets,
        n_regions) or (n_sets, 1)). Default JR 1995 (mu = 220 /s, sigma = 5
        /s^0.5).
    global_coupling : float | array, shape (n_sets,)
        G: ``K = G weights``. In mV/s for ``'seed'`` (an acceleration per
        firing rate), dimensionless for ``'tvb'``.
    speed : float
        Conduction speed, in m/s (= mm/ms; default 3).
    coupling : 'seed' | 'tvb'
        Coupling convention (see the module docstring).
    beta : float | array, shape (n_sets,)
        Mean-field feedback gain (dimensionless; default 0: none).
    dt : float
        Integration step, in s (default 0.5 ms, as :func:`jrfit.simulators.column.simulate`).
    sfreq : float | None
        Output rate, in Hz (default 250); ``1 / (dt sfreq)`` must be an
        integer. None: ``1/dt``.
    transient : float
        Simulated and discarded time before the output, in s (default 1).
    method : 'splitting' | 'euler'
        Integrator (see :func:`jrfit.simulators.column.simulate`).
    seed : None | int | numpy.random.SeedSequence
        Noise seed; column ``c = s * n_regions + i`` draws from
        ``SeedSequence(seed).spawn(n)[c]`` as in :func:`jrfit.simulators.column.simulate`.
    n_jobs : int | None
        Threads over which the networks of a batch are split (None: 1; -1:
        all CPUs). Does not change the result.
    y_init : array, shape (6, n_regions) | (6, n_sets * n_regions) | None
        Initial state (mV, mV/s). Default: the network fixed point (with the
        mean coupling; :func:`network_fixed_point`), and constant history
        before t = 0; where it is unstable and a column has no noise, y1 is
        raised by 1 mV.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    sim : NetworkSimulation
        ``sim.data`` (mV), shape (n_sets * n_regions, n_times);
        ``sim.to_raw()`` gives an MNE Raw object with the region names.

    Notes
    -----
    Memory is bounded by the delay ring (``n_columns x 2 (max delay + 1)``
    floats), the noise block (1 MiB), the filter state and the decimated
    output; no full-rate history is kept.
    """
    conn = as_connectivity(connectivity)
    coupling = check_option("coupling", coupling, COUPLINGS)
    method = check_option("method", method, ("splitting", "euler"))
    duration, dt, transient = check_span(duration, dt, transient)
    speed = check_speed(speed)
    sched = driver.schedule(duration, dt, sfreq, transient)
    n_jobs = driver.check_n_jobs(n_jobs)
    ss, seed_used = driver.seed_sequence(seed)

    n_nodes = conn.n_regions
    p2, flat = network_params(params, n_nodes)
    n_sets = p2.batch_shape[0]
    n = n_sets * n_nodes
    gain = per_set("global_coupling", global_coupling, n_sets, gain_unit(coupling))
    beta = per_set("beta", beta, n_sets, "dimensionless")
    steps, (indptr, src, wgt, dly) = _delays(conn, speed, dt)
    L = int(dly.max(initial=0)) + 1

    cf = _coefficients(flat, dt)
    y0 = _start_state(y_init, conn, flat, n_sets, gain, beta, coupling, speed)
    W0 = _half_step(y0, cf) if method == "splitting" else y0.copy()
    xr = W0[0] if coupling == "seed" else W0[1] - W0[2]
    hist = sigmoid(xr, flat["e0"], flat["r"], flat["v0"])
    logger.info(
        f"Simulating {n_sets} network(s) x {n_nodes} regions ({conn.weights.astype(bool).sum()} "
        f"connections, {coupling} coupling, delays up to {(L - 1) * dt * 1e3:.3g} ms = {L - 1} "
        f"steps) x {sched.n_total} steps (dt={dt:g} s, {method}), output {sched.n_out} samples at "
        f"{sched.sfreq:g} Hz, n_jobs={n_jobs}."
    )

    def tail(sl):  # per group of whole networks: delay ring, CSR, coupling of its sets, scratch
        s0, s1 = sl.start // n_nodes, sl.stop // n_nodes
        ring = np.empty((sl.stop - sl.start, 2 * L))
        ring[:] = hist[sl, None]
        gb = np.ascontiguousarray(gain[s0:s1]), np.ascontiguousarray(beta[s0:s1])
        return (ring, indptr, src, wgt, dly, *gb, n_nodes, np.zeros(s1 - s0))

    per = max(1, -(-n_sets // n_jobs))
    data, final = driver.run(
        NK.net_block,
        (K.SPLITTING if method == "splitting" else K.EULER, NK.SEED if coupling == "seed" else NK.TVB),
        sched,
        W0,
        cf,
        y0[1] - y0[2],
        [slice(s * n_nodes, min(s + per, n_sets) * n_nodes) for s in range(0, n_sets, per)],
        noisy=flat["sigma"] > 0,
        streams=np.arange(n),
        ss=ss,
        generator=driver.column_generator,
        n_jobs=n_jobs,
        block_elems=_NET_BLOCK_ELEMS,
        per_column_below=0,  # the network kernel filters all columns together
        tail=tail,
    )
    bad = ~np.all(np.isfinite(data), axis=1)
    if np.any(bad):
        raise ModelError(
            f"The network simulation diverged (non-finite values) in {int(bad.sum())} of {n} "
            "column(s); reduce dt or the coupling."
        )
    return NetworkSimulation(
        **driver.result_fields(sched, dt, data, final, method=method, seed=seed_used, params=p2),
        connectivity=conn,
        coupling=coupling,
        global_coupling=readonly(gain),
        speed=speed,
        beta=readonly(beta),
        delay_steps=steps,
    )


def _delays(conn, speed, dt):
    """Delays in steps (n, n) and the afferent connections in CSR form; warns of delays lost to rounding."""
    weights = np.asarray(conn.weights)
    tau = conn.delays(speed)
    steps = conn.delay_steps(speed, dt)
    lost = (weights > 0) & (tau > 0) & (steps == 0)
    if np.any(lost):
        logger.warning(
            f"{int(lost.sum())} non-zero delay(s) (up to {tau[lost].max() * 1e3:.3g} ms) round to "
            f"0 steps at dt={dt:g} s and act instantaneously; lower dt to resolve them."
        )
    return steps, _csr(weights, steps)


def _start_state(y_init, conn, flat, n_sets, gain, beta, coupling, speed):
    """Start state (6, n_sets * n_regions): ``y_init`` checked, or each network's coupled fixed point.

    ``y_init`` of shape (6, n_regions) is used for every network. By default a
    coupled network starts at its coupled fixed point (:func:`network_fixed_point`;
    where it is unstable and some column has no noise, y1 is raised by 1 mV);
    an uncoupled network, or one whose every column is noisy, starts at its
    columns' stable fixed points.
    """
    n_nodes = conn.n_regions
    if y_init is not None:
        tiled = np.shape(y_init) == (6, n_nodes) and n_sets > 1
        return _check_y_init(np.tile(y_init, (1, n_sets)) if tiled else y_init, n_sets * n_nodes)
    weights = np.asarray(conn.weights)
    tau = conn.delays(speed)
    y_start, _ = fixed_point_states(flat, flat["mu"])
    y0 = y_start.copy()
    for s in range(n_sets):
        cols = slice(s * n_nodes, (s + 1) * n_nodes)
        if gain[s] == 0 and beta[s] == 0:
            continue
        P = set_params(flat, s, n_nodes)
        y_fp, _ = coupled_fixed_point(P, gain[s] * weights, beta[s], coupling, y_start[:, cols])
        if np.all(P["sigma"] > 0):  # noise leaves an unstable point anyway: skip the check
            continue
        n_unst = count_unstable(y_fp, P, gain[s] * weights, tau, beta[s], coupling)
        if n_unst:
            logger.info(
                f"Network {s}: the coupled fixed point is unstable ({n_unst} root(s)); starting next to it (y1 + 1 mV)."
            )
            y_fp[1] += START_PERTURBATION
        y0[:, cols] = y_fp
    return y0
