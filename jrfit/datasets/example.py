"""The built-in example: a small EEG recording simulated with known parameters.

``jrfit/datasets/jr_example_raw.fif`` (made by :func:`make_example_recording`,
shipped as package data and rebuilt bit-identically from its seed if missing) holds
60 s of two occipital channels at 250 Hz: each is a Jansen-Rit column at a
stable operating point (noise-driven alpha focus), scaled to scalp microvolts,
plus pink (1/f) background, white sensor noise and 50 Hz line noise. The true
parameters are stored next to it (``jr_example_truth.json``) and in the file's
description.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger, verbose
from jrfit.model.params import JRParams

__all__ = [
    "EXAMPLE_TRUTH",
    "ERP_TRUTH",
    "example_path",
    "example_truth",
    "make_example_recording",
    "make_erp_epochs",
    "run_demo",
]

EXAMPLE_TRUTH = {
    "O1": dict(mu=500.0),
    "O2": dict(mu=540.0, b=52.0, B=21.0),
}
"""True JR parameters per channel (others at the JR 1995 defaults)."""

_SFREQ = 250.0
_DURATION = 60.0
_SIGMA = 1.0  # /s^0.5: small noise, the columns stay in their linear regime
_GAIN_UV_PER_MV = 100.0  # scalp microvolts per mV of column potential
_SEED = 20261126


def example_path():
    """Path of the example recording (``jr_example_raw.fif`` in the package folder ``jrfit/datasets``)."""
    return Path(__file__).resolve().parent / "jr_example_raw.fif"


@verbose
def make_example_recording(fname=None, *, seed=_SEED, overwrite=False, verbose=None):
    """Simulate the example recording and write it as a FIF file.

    Parameters
    ----------
    fname : path-like | None
        Output file (default :func:`example_path`).
    seed : int
        Seed of the simulation and of the added noise.
    overwrite : bool
        Replace an existing file.
    verbose : bool | str | None
        Log level for this call.

    Returns
    -------
    fname : Path
    """
    import mne

    from jrfit.simulators.column import simulate

    fname = Path(fname) if fname is not None else example_path()
    if fname.exists() and not overwrite:
        return fname
    rng = np.random.default_rng(seed)
    chans = list(EXAMPLE_TRUTH)
    params = JRParams.stack([JRParams(sigma=_SIGMA, **EXAMPLE_TRUTH[c]) for c in chans])
    sim = simulate(params, _DURATION, dt=5e-4, sfreq=_SFREQ, transient=2.0, seed=seed)
    v = sim.data - sim.data.mean(axis=1, keepdims=True)  # mV, small-noise (linear) regime
    n = v.shape[1]
    t = np.arange(n) / _SFREQ
    # pink background: white noise shaped by 1/sqrt(f) in the frequency domain
    spec = np.fft.rfft(rng.standard_normal((len(chans), n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / _SFREQ)
    spec[:, 1:] /= np.sqrt(f[1:])
    spec[:, 0] = 0
    pink = np.fft.irfft(spec, n=n, axis=1)
    pink *= 4.0 / pink.std(axis=1, keepdims=True)  # uV
    white = 1.0 * rng.standard_normal((len(chans), n))  # uV
    line = 3.0 * np.sin(2 * np.pi * 50.0 * t)  # uV
    data_uv = _GAIN_UV_PER_MV * v + pink + white + line
    info = mne.create_info(chans, _SFREQ, "eeg")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose=False)
    raw.info["line_freq"] = 50.0
    truth = dict(
        channels=EXAMPLE_TRUTH,
        sigma=_SIGMA,
        gain_uV_per_mV=_GAIN_UV_PER_MV,
        seed=seed,
        note="JR columns at stable foci + pink + white + 50 Hz noise, jrfit simulator",
    )
    raw.info["description"] = json.dumps(truth)
    with atomic_path(fname, suffix="_raw.fif" if fname.name.endswith("_raw.fif") else None) as tmp:
        raw.save(tmp, overwrite=True, verbose=False)
    with atomic_path(fname.with_name("jr_example_truth.json")) as tmp:
        tmp.write_text(json.dumps(truth, indent=2))
    logger.info(f"Wrote the example recording {fname}")
    return fname


@verbose
def run_demo(out_dir="reports", *, config=None, verbose=None):
    """Fit the example recording end to end and write the result and report.

    Parameters
    ----------
    out_dir : path-like
        Folder for ``jr_example_fit.nc`` and ``jr_example_report.html``.
    config : FitConfig | None
        Sampler settings.
    verbose : bool | str | None
        Log level for this call.

    Returns
    -------
    result : FitResult
    report : Path
    """
    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.spectral import fit_spectrum
    from jrfit.report.html import make_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = make_example_recording()
    # the simulated channels share no reference: keep them as they are (an
    # average reference of two channels would make them mirror images)
    spectrum = prepare_spectrum(path, fmin=2.0, fmax=40.0, reference=None)
    result = fit_spectrum(spectrum, config=config)
    result.idata.attrs["truth"] = json.dumps({ch: example_truth(ch) for ch in spectrum.ch_names})
    result.save(out_dir / "jr_example_fit.nc", overwrite=True)
    report = make_report(
        result.idata,
        out_dir / "jr_example_report.html",
        overwrite=True,
        title="jrfit demo: simulated example recording",
    )
    return result, report


def example_truth(ch, fmin=2.0, fmax=40.0):
    """What a fit of channel ``ch`` of the example should find: the true constants and derived quantities.

    Returns
    -------
    truth : dict
        a, b, B (/s, /s, mV), p (/s), and at the stable fixed point the
        damping (/s), the peak frequency in ``fmin``-``fmax`` (Hz) and the two
        loop gains.
    """
    from jrfit.model.column import eigenvalues
    from jrfit.model.spectrum import linear_psd, loop_gains, stable_v

    params = JRParams(sigma=_SIGMA, **EXAMPLE_TRUTH[ch])
    v = float(stable_v(params))
    batch = JRParams(**{k: np.array([x]) for k, x in params.as_dict().items()})
    damping = float(-eigenvalues(np.array([v]), batch)[0, 0].real)
    f = np.linspace(fmin, fmax, 7601)
    g_exc, g_inh = loop_gains(v, params)
    return dict(
        a=params.a,
        b=params.b,
        B=params.B,
        p=params.mu,
        damping=damping,
        peak_freq=float(f[np.argmax(linear_psd(f, params, v=v))]),
        loop_gain_exc=float(g_exc),
        loop_gain_inh=float(g_inh),
    )


# ----------------------------------------------------------------------------
# evoked responses with known truth
ERP_TRUTH = dict(v=-1.904, B=23.0, a=95.0, b=48.0, amplitude=300.0, latency=0.072, width=0.006, gain=0.6)
"""Parameters of :func:`make_erp_epochs`: the rest potential v (mV), JR
constants (others at the JR 1995 defaults), the JR pulse's peak (/s), peak
latency (s) and width (s), and the electrode gain (uV/mV)."""


def make_erp_epochs(n_trials=100, *, noise_uv=4.0, sfreq=200.0, tmin=-0.1, tmax=0.5, truth=None, seed=0):
    """Epochs of a simulated evoked response with known parameters.

    Each trial is the JR column's nonlinear response to a JR 1995 pulse
    (:func:`jrfit.model.erp.erp_response`, from the rest state at potential ``v``)
    times the electrode gain, plus white noise.

    Parameters
    ----------
    n_trials : int
        Number of trials.
    noise_uv : float
        Standard deviation of the white noise per sample, in uV.
    sfreq : float
        Sampling rate, in Hz.
    tmin, tmax : float
        Window, in s.
    truth : dict | None
        Overrides of :data:`ERP_TRUTH`.
    seed : int
        Seed of the noise.

    Returns
    -------
    epochs : mne.EpochsArray
        One EEG channel ``Oz`` (V), event ``stimulus``; the truth is in
        ``epochs.info['description']`` (JSON).
    """
    import mne

    from jrfit.model.erp import erp_response, peak_lag
    from jrfit.model.column import operating_point

    tr = dict(ERP_TRUTH, **(truth or {}))
    jr = {k: tr[k] for k in tr if k not in ("v", "amplitude", "latency", "width", "gain")}
    params = JRParams(**jr)
    times = tmin + np.arange(int(round((tmax - tmin) * sfreq)) + 1) / sfreq
    onset = tr["latency"] - peak_lag("jr") * tr["width"]
    resp = erp_response(times, params, amplitude=tr["amplitude"], onset=onset, width=tr["width"], v=tr["v"])
    rng = np.random.default_rng(seed)
    data_uv = tr["gain"] * resp[None, :] + noise_uv * rng.standard_normal((n_trials, times.size))
    info = mne.create_info(["Oz"], sfreq, "eeg")
    tr.update(p=float(operating_point(tr["v"], params)["p"]), onset=float(onset), noise_uv=noise_uv, n_trials=n_trials)
    info["description"] = json.dumps(tr)
    events = np.column_stack([np.arange(n_trials) * int(sfreq), np.zeros(n_trials, int), np.ones(n_trials, int)])
    return mne.EpochsArray(
        data_uv[:, None, :] * 1e-6,
        info,
        events=events,
        tmin=times[0],
        event_id={"stimulus": 1},
        baseline=None,
        verbose=False,
    )
