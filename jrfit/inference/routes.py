"""Choosing, per channel, between the linear and the simulation route of a spectral fit.

``fit_psd(spectrum, likelihood="auto")`` fits the linearised model to every
channel first and checks, per channel, whether the linearisation can be
trusted there:

* **stability**: the linear route only admits stable fixed points, so a
  limit-cycle spectrum pulls its posterior onto the stability boundary. The
  linear fit is invalid where the median damping (-Re of the leading
  eigenvalue) is below ``damping_min`` (/s) or more than ``max_frac_near`` of
  the draws have a damping below ``near_boundary`` (/s). Both are small
  (0.2 /s): an eyes-closed alpha peak is a stable focus with a damping of
  0.5-4 /s, which the linear route describes.
* **disagreement at the data's own noise level**: the column is simulated
  (splitting integrator) at the posterior-median parameters with the noise
  intensity the data imply, ``sigma = sqrt(scale * ref) / gain``: the fitted
  JR component of the spectrum is ``gain^2 sigma^2`` times the unit-noise
  spectrum, with ``gain`` the electrode gain (recorded potential over the
  column's v; ``LINEAR_VALIDITY['gain']`` = 1, the recording is the column's
  potential). Nonlinear effects grow with sigma^2 relative to the sigmoid's
  curvature, so a check at an arbitrary sigma says nothing about these data.
  The simulated Welch spectrum (divided by sigma^2) is compared with the
  expected Welch estimate of the linearised spectrum: invalid if their peaks
  differ by more than half the peak's full width at half maximum (damping /
  pi, in Hz; at least ``peak_tol_hz``) or the RMS of their log ratio (where
  the linear spectrum is within 1/20 of its peak) exceeds ``shape_tol``.

Only the rejected channels go to the simulation route
(:func:`jrfit.inference.simulation.fit_spectrum_sim`). The result is the linear fit of
every channel, with ``attrs['routes']`` saying per channel which route was
taken, why, and which fit is trusted; the simulation-route fit of the
rejected channels is kept beside it (``result.companions['simulation']``),
never silently in its place: a converged linear fit is not replaced by a
simulation fit that failed its diagnostics (neither is then trusted, and the
record says so).
"""

from __future__ import annotations

import json

import numpy as np

from jrfit.utils.log import logger, verbose
from jrfit.utils.check import check_option

__all__ = ["LINEAR_VALIDITY", "check_linear", "fit_psd"]

LINEAR_VALIDITY = dict(
    damping_min=0.2,
    near_boundary=0.2,
    max_frac_near=0.5,
    peak_tol_hz=0.25,
    peak_tol_fwhm=0.5,
    shape_tol=0.35,
    gain=1.0,
    sigma_max=20.0,
    check_duration_s=60.0,
    check_rep=4,
)
"""Tolerances of the linear route's validity check (see the module docstring)."""


def _medians(idata, ch, names):
    post = idata.posterior
    return {n: float(np.median(post[n].sel(channel=ch).values)) for n in names}


def implied_sigma(idata, ch, gain=1.0):
    """Noise intensity (/s^0.5) the data imply at a linear fit's posterior median.

    The fitted JR component is ``scale * ref`` times the unit-noise spectrum
    (data units, ref the channel's median observed power), and a column with
    noise sigma seen through an electrode gain makes ``gain^2 sigma^2`` times
    it: ``sigma = sqrt(scale * ref) / gain``.
    """
    scale = _medians(idata, ch, ["scale"])["scale"]
    ref = float(np.median(idata.observed_data["psd"].sel(channel=ch).values))
    return float(np.sqrt(scale * ref) / gain)


def _stability_reasons(s, tol):
    reasons = []
    damp, near = float(s.get("damping_median", np.nan)), float(s.get("frac_near_boundary", np.nan))
    if not damp >= tol["damping_min"]:
        reasons.append(f"median damping {damp:.2f} /s < {tol['damping_min']} /s (at the stability boundary)")
    if not near <= tol["max_frac_near"]:
        reasons.append(f"{100 * near:.0f} % of the draws within {tol['near_boundary']} /s of the stability boundary")
    return reasons, damp, near


def _check_channel(idata, spectrum, ch, priors, settings, tol, seed):
    """One channel's linearity check (see :func:`check_linear`)."""
    from jrfit.inference.leakage import leakage_kernel
    from jrfit.model.params import JRParams
    from jrfit.inference.synthetic import simulated_psd
    from jrfit.model.spectrum import psd_from_v

    med = _medians(idata, ch, list(priors.free) + ["v", "p"])
    params = priors.fixed.replace(**{n: med[n] for n in priors.free})
    post = idata.posterior["damping"].sel(channel=ch).values.ravel()
    s = dict(damping_median=float(np.median(post)), frac_near_boundary=float(np.mean(post < tol["near_boundary"])))
    reasons, damp, near = _stability_reasons(s, tol)
    sigma = float(np.clip(implied_sigma(idata, ch, tol["gain"]), 1e-3, tol["sigma_max"]))
    d = params.as_dict()
    psd_sim, freqs = simulated_psd(
        JRParams(**dict(d, mu=med["p"], sigma=sigma)),
        settings,
        tol["check_duration_s"],
        n_rep=tol["check_rep"],
        seed=seed,
    )
    psd_sim = psd_sim[0].mean(axis=0) / sigma**2
    kernel = leakage_kernel(spectrum, freqs)  # what the same Welch estimator returns from the linear spectrum
    psd_lin = kernel.apply(psd_from_v(kernel.fine_freqs, med["v"], dict(d, sigma=1.0)))
    peak_lin, peak_sim = float(freqs[np.argmax(psd_lin)]), float(freqs[np.argmax(psd_sim)])
    band = psd_lin > psd_lin.max() / 20
    rms = float(np.sqrt(np.mean(np.log(psd_sim[band] / psd_lin[band]) ** 2)))
    peak_tol = max(tol["peak_tol_hz"], tol["peak_tol_fwhm"] * max(damp, 0.0) / np.pi)
    if abs(peak_sim - peak_lin) > peak_tol:
        reasons.append(
            f"simulated peak {peak_sim:.2f} Hz vs linearised {peak_lin:.2f} Hz (tolerance {peak_tol:.2f} Hz, "
            f"half the peak's width) at the implied noise {sigma:.3g} /s^0.5"
        )
    if not rms <= tol["shape_tol"]:
        reasons.append(
            f"simulated and linearised spectra differ (RMS log ratio {rms:.2f} > {tol['shape_tol']}) at the "
            f"implied noise {sigma:.3g} /s^0.5"
        )
    return dict(
        valid=not reasons,
        reasons=reasons,
        damping_median=damp,
        frac_near_boundary=near,
        sigma_implied=sigma,
        peak_linear_hz=peak_lin,
        peak_simulated_hz=peak_sim,
        peak_tol_hz=peak_tol,
        shape_rms=rms,
        freqs=freqs.tolist(),
        psd_linear=psd_lin.tolist(),
        psd_simulated=psd_sim.tolist(),
    )


def check_linear(result, spectrum, *, seed=0, tol=None):
    """Is the linearisation valid for each channel of a linear-route fit?

    Parameters
    ----------
    result : FitResult
        A linear-route fit of ``spectrum``.
    spectrum : ObservedSpectrum
        The data it was fitted to (Welch settings for the simulation).
    seed : int
        Seed of the check's simulations.
    tol : dict | None
        Overrides of :data:`LINEAR_VALIDITY`.

    Returns
    -------
    checks : dict
        Channel -> dict(valid, reasons, damping_median, frac_near_boundary,
        sigma_implied (/s^0.5), peak_linear_hz, peak_simulated_hz,
        peak_tol_hz, shape_rms, and the two spectra ``psd_linear`` /
        ``psd_simulated`` (mV^2/Hz at sigma = 1, on ``freqs``)).
    """
    from jrfit.inference.priors import SpectralPriors
    from jrfit.inference.synthetic import WelchSettings

    tol = dict(LINEAR_VALIDITY, **(tol or {}))
    idata = result.idata
    priors = SpectralPriors.from_dict(json.loads(idata.attrs["priors"]))
    settings = WelchSettings.from_spectrum(spectrum)
    return {
        ch: _check_channel(idata, spectrum, ch, priors, settings, tol, seed + i)
        for i, ch in enumerate(spectrum.ch_names)
    }


def _add_predictions(idata, name, spectra):
    """Add one predicted spectrum per channel as posterior_predictive[name] (data units)."""
    import xarray as xr

    pp = idata.posterior_predictive
    chans = [str(c) for c in pp.coords["channel"].values]
    freqs = np.asarray(pp.coords["freq"].values, float)
    arr = np.stack([np.interp(freqs, spectra[c][0], spectra[c][1]) for c in chans])[None, None]
    pp[name] = xr.DataArray(
        arr,
        dims=("chain", "median_draw", "channel", "freq"),
        coords=dict(chain=pp.coords["chain"].values[:1], median_draw=[0], channel=chans, freq=freqs),
    )


def _data_units(idata, ch, psd_jr, freqs):
    """Observation model at the posterior medians of a linear fit (JR spectrum at sigma = 1)."""
    from jrfit.inference.likelihood import observation_model

    med = _medians(idata, ch, ["scale", "bg", "chi", "floor"])
    ref = float(np.median(idata.observed_data["psd"].sel(channel=ch).values))
    return observation_model(
        np.asarray(psd_jr) * ref, np.asarray(freqs), med["scale"], med["bg"], med["chi"], med["floor"]
    )


@verbose
def fit_psd(
    spectrum,
    *,
    likelihood="auto",
    priors=None,
    config=None,
    sim_config=None,
    model=None,
    progress=True,
    checkpoint=None,
    verbose=None,
):
    """Fit a spectrum by the linear route, the simulation route, or the one that holds.

    Parameters
    ----------
    spectrum : ObservedSpectrum
        Measured PSD.
    likelihood : 'linear' | 'simulation' | 'auto'
        Route: the linearised Whittle likelihood (NUTS), the synthetic
        likelihood of simulated spectra (SMC), or 'auto': linear first, then
        the simulation route if :func:`check_linear` rejects any channel.
    priors : SpectralPriors | None
        Priors shared by both routes.
    config : FitConfig | None
        NUTS settings of the linear route.
    sim_config : SimulationConfig | None
        Settings of the simulation route.
    model : SpectralModel | None
        A compiled linear model to reuse.
    progress : bool
        Log progress.
    checkpoint : path-like | None
        Folder for the linear route's finished channels, from which an
        interrupted run resumes (:func:`jrfit.inference.spectral.fit_spectrum`).
    verbose : bool | str | None
        Log level.

    Returns
    -------
    result : FitResult
        The chosen route's result; ``attrs['route']`` and
        ``attrs['route_reason']`` say which and why.
    """
    from jrfit.inference.spectral import fit_spectrum
    from jrfit.inference.simulation import fit_spectrum_sim

    check_option("likelihood", likelihood, ("linear", "simulation", "auto"))
    seed = int(getattr(config, "seed", 0) or 0)
    if likelihood == "simulation":
        res = fit_spectrum_sim(spectrum, priors=priors, config=sim_config, progress=progress)
        _set_routes(
            res,
            {c: _route("simulation", "requested (--likelihood simulation)", "simulation") for c in spectrum.ch_names},
            "simulation",
        )
        return res
    lin = fit_spectrum(spectrum, priors=priors, config=config, model=model, progress=progress, checkpoint=checkpoint)
    if likelihood == "linear":
        _set_routes(
            lin, {c: _route("linear", "requested (--likelihood linear)", "linear") for c in spectrum.ch_names}, "linear"
        )
        return lin
    checks = check_linear(lin, spectrum, seed=seed)
    bad = [c for c in spectrum.ch_names if not checks[c]["valid"]]
    summary = {
        c: {k: v for k, v in d.items() if k not in ("freqs", "psd_linear", "psd_simulated")} for c, d in checks.items()
    }
    lin.idata.attrs.update(linear_check=json.dumps(summary), linear_validity=json.dumps(LINEAR_VALIDITY))
    _add_predictions(
        lin.idata,
        "psd_simulated",
        {c: (d["freqs"], _data_units(lin.idata, c, d["psd_simulated"], d["freqs"])) for c, d in checks.items()},
    )
    sim = None
    if bad:
        logger.warning(
            "auto: linearisation rejected on "
            + "; ".join(f"{c}: {', '.join(checks[c]['reasons'])}" for c in bad)
            + f" -> simulation route for {', '.join(bad)} only"
        )
        sim = fit_spectrum_sim(spectrum.pick(bad), priors=priors, config=sim_config, progress=progress)
        sim.idata.attrs.update(
            linear_check=json.dumps({c: summary[c] for c in bad}),
            linear_validity=json.dumps(LINEAR_VALIDITY),
            linear_diagnostics=json.dumps({c: lin.diagnostics[c] for c in bad}),
        )
        _add_predictions(
            sim.idata,
            "psd_linear",
            {
                c: (checks[c]["freqs"], _data_units(lin.idata, c, checks[c]["psd_linear"], checks[c]["freqs"]))
                for c in bad
            },
        )
        lin.companions["simulation"] = sim
    routes = {c: _decide(c, checks[c], lin, sim) for c in spectrum.ch_names}
    _set_routes(lin, routes, "auto")
    if sim is not None:
        _set_routes(sim, {c: routes[c] for c in bad}, "auto")
    for c, r in routes.items():
        logger.info(f"  {c}: {r['route']} route; trusted: {r['trusted']} ({r['reason']})")
    return lin


def _route(route, reason, trusted):
    return dict(route=route, reason=reason, trusted=trusted)


def _decide(ch, check, lin, sim):
    """Route taken and fit trusted for one channel of an 'auto' fit."""
    if check["valid"]:
        return _route(
            "linear",
            "auto: the linearisation holds (stable, away from the boundary, simulated spectrum "
            "at the implied noise within tolerance)",
            "linear",
        )
    why = "auto: linearisation rejected (" + "; ".join(check["reasons"]) + ")"
    sim_ok = sim.diagnostics[ch]["passed"]
    lin_ok = lin.diagnostics[ch]["passed"]
    if sim_ok:
        return _route("simulation", why, "simulation")
    note = (
        "; the simulation route did not converge ("
        + "; ".join(sim.diagnostics[ch]["problems"])
        + ")"
        + (
            "; the linear fit converged but the linearisation does not hold: neither fit is trusted"
            if lin_ok
            else "; neither route converged: neither fit is trusted"
        )
    )
    return _route("simulation", why + note, "none")


def _set_routes(result, routes, mode):
    """Record per-channel routes in a result (``attrs['routes']``) and a one-line summary."""
    taken = sorted({r["route"] for r in routes.values()})
    result.idata.attrs.update(
        routes=json.dumps(routes),
        route=taken[0] if len(taken) == 1 else "per channel",
        route_reason="; ".join(f"{c}: {r['route']} (trusted: {r['trusted']})" for c, r in routes.items())
        if mode == "auto"
        else next(iter(routes.values()))["reason"],
    )
