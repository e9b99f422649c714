"""Simulated spectra and the synthetic likelihood of a measured spectrum.

Where the linearisation does not hold (limit cycles, docs/model.md, section 5)
the spectrum a parameter set predicts is obtained by simulation: a batch of
stochastic columns (Strang splitting, :func:`jrfit.simulators.column.simulate`), the
transient discarded, decimated to the data's rate, and the Welch PSD taken by
the very function and settings the recording went through
(:func:`jrfit.data.spectrum.welch_psd`, settings read from the spectrum's record). The
same observation model as the linear route maps it to the data's units
(:func:`jrfit.inference.likelihood.observation_model`).

Synthetic likelihood (Wood 2010). For each parameter set, ``n_rep``
replicates (common random numbers: the same noise streams for every parameter
set, so the likelihood surface is a deterministic function of the parameters)
give the log-PSD features at the likelihood's frequency bins (thinned to the
window bandwidth, so that bins are nearly independent: a diagonal covariance).
With replicate mean m and variance s^2 per bin, the data's log-PSD is modelled
as Gaussian with

    mean = m + [psi(K) - log K] - [psi(K_r) - log K_r]      (log-Gamma bias)
    var  = s^2 K_r / K + s^2 / n_rep                          (data's noise + Monte-Carlo error)

where K and K_r are the effective segment counts of the recording and of one
replicate (a Welch estimate's variance scales as 1/K), so replicates can be
shorter than the recording. The aperiodic background and the white floor are
independent Gaussian processes: their Welch estimate in each replicate is
their spectrum times a Gamma(K_r, K_r) draw (fixed per replicate and bin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from jrfit.data.spectrum import welch_n_eff, welch_psd
from jrfit.errors import FitError, ModelError
from jrfit.inference.likelihood import observation_model
from jrfit.model.params import JRParams

__all__ = ["WelchSettings", "simulated_psd", "SyntheticLikelihood", "THETA_NAMES", "peak_frequency"]


def peak_frequency(freqs, psd):
    """Peak frequency (Hz) by a parabola through the log power around the largest bin.

    Parameters
    ----------
    freqs : array, shape (n,)
        Uniform frequencies, in Hz.
    psd : array, shape (..., n)
        Spectra.

    Returns
    -------
    peak : ndarray, shape psd.shape[:-1]
    """
    freqs = np.asarray(freqs, float)
    y = np.log(np.maximum(np.asarray(psd, float), 1e-300))
    i = np.clip(np.argmax(y, axis=-1), 1, freqs.size - 2)
    ym, y0, yp = (np.take_along_axis(y, (i + d)[..., None], -1)[..., 0] for d in (-1, 0, 1))
    den = ym - 2 * y0 + yp
    with np.errstate(all="ignore"):
        delta = np.where(den < 0, 0.5 * (ym - yp) / den, 0.0)
    return freqs[i] + np.clip(delta, -1, 1) * (freqs[1] - freqs[0])


@dataclass(frozen=True)
class WelchSettings:
    """The Welch settings of a measured spectrum (to apply them to simulations).

    Attributes
    ----------
    sfreq : float
        Sampling rate, in Hz.
    n_per_seg, n_overlap : int
        Segment length and overlap, in samples.
    window : str
        Taper.
    fmin, fmax : float
        Band, in Hz.
    """

    sfreq: float
    n_per_seg: int
    n_overlap: int
    window: str
    fmin: float
    fmax: float

    @classmethod
    def from_spectrum(cls, spectrum):
        """Read the settings from an :class:`~jrfit.data.spectrum.ObservedSpectrum`'s record."""
        for step in list(spectrum.record)[::-1]:
            if isinstance(step, dict) and step.get("step") == "spectrum":
                if step.get("params", {}).get("method", spectrum.method) != "welch" or "n_per_seg" not in step:
                    break
                return cls(
                    sfreq=float(spectrum.sfreq),
                    n_per_seg=int(step["n_per_seg"]),
                    n_overlap=int(step["n_overlap"]),
                    window=str(step["window"]),
                    fmin=float(spectrum.freqs[0]),
                    fmax=float(spectrum.freqs[-1]),
                )
        raise FitError(
            "The simulation route needs a Welch spectrum with its settings in the record: "
            "compute the data's spectrum with method='welch' (jrfit.data.spectrum.prepare_spectrum)."
        )

    def seg_s(self):
        """Segment length, in s."""
        return self.n_per_seg / self.sfreq

    def n_eff(self, duration):
        """Effective segment count of a Welch estimate of ``duration`` s."""
        n = int(round(duration * self.sfreq))
        return welch_n_eff(self.n_per_seg, self.n_overlap, [n], self.window)[0]


def _dt_for(sfreq, dt_max=1e-3):
    """Largest step <= dt_max that divides the output sample interval."""
    q = int(np.ceil(1.0 / (sfreq * dt_max) - 1e-9))
    return 1.0 / (sfreq * q)


def simulated_psd(params, settings, duration, *, n_rep=1, dt_max=1e-3, transient=2.0, seed=0, common=True, n_jobs=None):
    """Welch PSD of simulated columns, as the recording's spectrum was computed.

    Parameters
    ----------
    params : JRParams
        One parameter set or a 1-D batch (``mu`` and ``sigma`` set the input).
    settings : WelchSettings
        The data's Welch settings.
    duration : float
        Length of each replicate after the transient, in s.
    n_rep : int
        Replicates per parameter set.
    dt_max : float
        Largest integration step, in s (splitting integrator).
    transient : float
        Discarded start, in s.
    seed : int
        Seed of the noise.
    common : bool
        Common random numbers: replicate r of every parameter set uses noise
        stream r (default). False: every column has its own stream.
    n_jobs : int | None
        Threads of the simulator.

    Returns
    -------
    psd : ndarray, shape (n_sets, n_rep, n_freqs)
        In mV^2/Hz.
    freqs : ndarray
        In Hz.
    """
    flat = params.flat() if params.batch_shape else {k: np.atleast_1d(v) for k, v in params.as_dict().items()}
    n_sets = np.atleast_1d(flat["mu"]).size
    rep = {k: np.repeat(np.broadcast_to(np.asarray(v, float), (n_sets,)), n_rep) for k, v in flat.items()}
    batch = JRParams(**rep)
    streams = np.tile(np.arange(n_rep), n_sets) if common else None
    from jrfit.simulators.column import simulate

    sim = simulate(
        batch,
        duration,
        dt=_dt_for(settings.sfreq, dt_max),
        sfreq=settings.sfreq,
        transient=transient,
        seed=seed,
        streams=streams,
        n_jobs=n_jobs,
        verbose=False,
    )
    psd, freqs = welch_psd(
        sim.data, settings.sfreq, settings.fmin, settings.fmax, settings.n_per_seg, settings.n_overlap, settings.window
    )
    return psd.reshape(n_sets, n_rep, -1), freqs


THETA_NAMES = ("p", "sigma", "scale", "bg", "chi", "floor")
"""Parameters of the synthetic likelihood after the free JR constants."""


class SyntheticLikelihood:
    """Synthetic log-likelihood of one channel's spectrum under the simulated model.

    Parameters
    ----------
    freqs : array
        The data's frequencies, in Hz.
    psd : array
        The data's PSD in the units the observation model works in (the fit
        normalises it by its median).
    n_eff : float
        The data's effective segment count.
    settings : WelchSettings
        The data's Welch settings.
    free : sequence of str
        Free JR constants; theta = (*free, p, sigma, scale, bg, chi, floor)
        in natural units (/s, /s^0.5, data units, 1).
    fixed : JRParams
        Every other JR constant.
    n_rep : int
        Replicates per parameter set.
    rep_duration : float | None
        Length of a replicate, in s (default: 5 Welch windows).
    seed : int
        Seed of the common random numbers.
    thin : int
        Keep every ``thin``-th bin (default from the window bandwidth).
    n_jobs : int | None
        Simulator threads.
    """

    def __init__(
        self, freqs, psd, n_eff, settings, free, fixed, *, n_rep=8, rep_duration=None, seed=0, thin=1, n_jobs=None
    ):
        self.settings = settings
        self.free = tuple(free)
        self.fixed = fixed
        self.n_rep = int(n_rep)
        if self.n_rep < 3:
            raise FitError(f"The synthetic likelihood needs n_rep >= 3 replicates, got {n_rep}.")
        freqs = np.asarray(freqs, float)
        hop = (settings.n_per_seg - settings.n_overlap) / settings.sfreq
        self.rep_duration = float(rep_duration or settings.seg_s() + 4 * hop)
        self.seed = int(seed)
        self.n_jobs = n_jobs
        # frequencies of the simulated Welch estimate (same grid as the data's)
        probe = np.zeros((1, int(round(self.rep_duration * settings.sfreq))))
        _, sim_freqs = welch_psd(
            probe, settings.sfreq, settings.fmin, settings.fmax, settings.n_per_seg, settings.n_overlap, settings.window
        )
        keep = np.isin(np.round(sim_freqs, 9), np.round(freqs, 9))
        self._band_idx = np.flatnonzero(keep)
        self.band_freqs = sim_freqs[self._band_idx]
        self._sim_idx = self._band_idx[::thin]
        self.freqs = sim_freqs[self._sim_idx]
        data_idx = np.searchsorted(np.round(freqs, 9), np.round(self.freqs, 9))
        self.log_obs = np.log(np.asarray(psd, float)[data_idx])
        self.n_eff = float(n_eff)
        self.n_eff_rep = float(settings.n_eff(self.rep_duration))
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7]))
        self._gamma = rng.gamma(self.n_eff_rep, 1.0 / self.n_eff_rep, size=(self.n_rep, self.freqs.size))
        self._bias = (digamma(self.n_eff) - np.log(self.n_eff)) - (digamma(self.n_eff_rep) - np.log(self.n_eff_rep))

    @property
    def names(self):
        """Order of theta's entries."""
        return self.free + THETA_NAMES

    def _params(self, theta):
        theta = np.atleast_2d(np.asarray(theta, float))
        k = len(self.free)
        vals = {n: theta[:, i] for i, n in enumerate(self.free)}
        n = theta.shape[0]
        base = {kk: np.full(n, float(v)) for kk, v in self.fixed.as_dict().items()}
        base.update(vals)
        base["mu"] = theta[:, k]
        base["sigma"] = theta[:, k + 1]
        return JRParams(**base), theta[:, k + 2 :]

    def _jr(self, theta, idx=None, duration=None):
        params, obs = self._params(theta)
        psd, _ = simulated_psd(
            params, self.settings, duration or self.rep_duration, n_rep=self.n_rep, seed=self.seed, n_jobs=self.n_jobs
        )
        return psd[:, :, self._sim_idx if idx is None else idx], obs

    def jr_spectra(self, theta, duration=None):
        """Replicate-mean JR spectrum (scaled, no background) on every bin of the band.

        Parameters
        ----------
        theta : array, shape (n_sets, n_theta)
            Parameter sets.
        duration : float | None
            Length of each replicate, in s (default: the likelihood's); longer
            replicates lower the Monte-Carlo noise of derived quantities.

        Returns
        -------
        psd : ndarray, shape (n_sets, n_band_bins)
            On :attr:`band_freqs` (unthinned).
        """
        psd, obs = self._jr(theta, self._band_idx, duration)
        return obs[:, 0, None] * psd.mean(axis=1)

    def replicates(self, theta):
        """Replicate spectra in the data's units, shape (n_sets, n_rep, n_bins)."""
        psd, obs = self._jr(theta)
        scale, bg, chi, floor = (obs[:, i, None, None] for i in range(4))
        # the background's own Welch estimate: its spectrum times a Gamma(K_r, K_r) draw
        background = observation_model(0.0, self.freqs, 0.0, bg, chi, floor) * self._gamma[None]
        return scale * psd + background

    def __call__(self, theta):
        """Synthetic log-likelihood of each parameter set (rows of theta); -inf where invalid."""
        theta = np.atleast_2d(np.asarray(theta, float))
        out = np.full(theta.shape[0], -np.inf)
        ok = np.all(np.isfinite(theta), axis=1) & np.all(theta[:, len(self.free) + 1 : len(self.free) + 4] > 0, axis=1)
        ok &= np.all(theta[:, : len(self.free)] > 0, axis=1) & (theta[:, -1] > 0)
        if not np.any(ok):
            return out
        try:
            with np.errstate(all="ignore"):
                reps = self.replicates(theta[ok])
        except ModelError:
            return out
        with np.errstate(all="ignore"):
            logs = np.log(reps)
            m = logs.mean(axis=1) + self._bias
            s2 = logs.var(axis=1, ddof=1)
            var = s2 * self.n_eff_rep / self.n_eff + s2 / self.n_rep
            var = np.maximum(var, 1e-12)
            ll = -0.5 * np.sum((self.log_obs - m) ** 2 / var + np.log(2 * np.pi * var), axis=1)
        ll[~np.isfinite(ll)] = -np.inf
        out[ok] = ll
        return out
