"""Choosing between the linear and the simulation route of a spectral fit.

``fit_psd(spectrum, likelihood="auto")`` fits the linearised model first and
checks, per channel, whether the linearisation can be trusted there:

* **stability**: the linear route only admits stable fixed points, so a
  limit-cycle spectrum pulls its posterior onto the stability boundary. The
  linear fit is invalid where the median damping (-Re of the leading
  eigenvalue) is below ``damping_min`` (/s) or more than ``max_frac_near`` of
  the draws have damping below 1 /s.
* **disagreement**: the column is simulated (splitting integrator, noise
  ``sigma_check`` = 1 /s^0.5, the intensity at which the linear route states
  its unit spectrum) at the posterior-median parameters and its Welch spectrum,
  divided by sigma_check^2 so that it is comparable with the linearised
  spectrum at sigma = 1, is compared with the linearised spectrum: invalid if
  their peaks differ by more than ``peak_tol_hz`` or the RMS of their log
  ratio (where the linear spectrum is within 1/20 of its peak) exceeds
  ``shape_tol``.

If any channel fails, the simulation route (:func:`jrfit.sim_fit.fit_spectrum_sim`)
fits the spectrum; the result records which route was used and why
(``attrs['route']``, ``attrs['route_reason']``, ``attrs['linear_check']``)
and carries both predicted spectra (``posterior_predictive['psd_linear']``
and ``['psd_simulated']``) for the report.
"""

from __future__ import annotations

import json

import numpy as np

from ._logging import logger, verbose
from ._check import check_option

__all__ = ["LINEAR_VALIDITY", "check_linear", "fit_psd"]

LINEAR_VALIDITY = dict(damping_min=1.0, max_frac_near=0.5, peak_tol_hz=0.5, shape_tol=0.35, sigma_check=1.0,
                       check_duration_s=60.0, check_rep=4)
"""Tolerances of the linear route's validity check (see the module docstring)."""


def _medians(idata, ch, names):
    post = idata.posterior
    return {n: float(np.median(post[n].sel(channel=ch).values)) for n in names}


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
        peak_linear_hz, peak_simulated_hz, shape_rms, and the two spectra
        ``psd_linear`` / ``psd_simulated`` (mV^2/Hz at sigma = 1, on ``freqs``)).
    """
    from .params import JRParams
    from .simspec import WelchSettings, simulated_psd
    from .spectrum import psd_from_v

    tol = dict(LINEAR_VALIDITY, **(tol or {}))
    idata = result.idata
    pri = json.loads(idata.attrs["priors"])
    from .priors import SpectralPriors

    priors = SpectralPriors.from_dict(pri)
    stab = json.loads(idata.attrs.get("stability", "{}"))
    settings = WelchSettings.from_spectrum(spectrum)
    out = {}
    for ch in spectrum.ch_names:
        med = _medians(idata, ch, list(priors.free) + ["v", "p"])
        params = priors.fixed.replace(**{n: med[n] for n in priors.free})
        s = stab.get(ch, {})
        reasons = []
        damp, near = float(s.get("damping_median", np.nan)), float(s.get("frac_near_boundary", np.nan))
        if not damp >= tol["damping_min"]:
            reasons.append(f"median damping {damp:.2f} /s < {tol['damping_min']} /s (next to the stability boundary)")
        if not near <= tol["max_frac_near"]:
            reasons.append(f"{100 * near:.0f} % of the draws within 1 /s of the stability boundary")
        d = params.as_dict()
        sim_params = JRParams(**dict(d, mu=med["p"], sigma=tol["sigma_check"]))
        psd_sim, freqs = simulated_psd(sim_params, settings, tol["check_duration_s"], n_rep=tol["check_rep"],
                                       seed=seed)
        psd_sim = psd_sim[0].mean(axis=0) / tol["sigma_check"] ** 2
        psd_lin = psd_from_v(freqs, med["v"], dict(d, sigma=1.0))
        peak_lin, peak_sim = float(freqs[np.argmax(psd_lin)]), float(freqs[np.argmax(psd_sim)])
        band = psd_lin > psd_lin.max() / 20
        rms = float(np.sqrt(np.mean(np.log(psd_sim[band] / psd_lin[band]) ** 2)))
        if abs(peak_sim - peak_lin) > tol["peak_tol_hz"]:
            reasons.append(f"simulated peak {peak_sim:.2f} Hz vs linearised {peak_lin:.2f} Hz")
        if not rms <= tol["shape_tol"]:
            reasons.append(f"simulated and linearised spectra differ (RMS log ratio {rms:.2f} > {tol['shape_tol']})")
        out[ch] = dict(valid=not reasons, reasons=reasons, damping_median=damp, frac_near_boundary=near,
                       peak_linear_hz=peak_lin, peak_simulated_hz=peak_sim, shape_rms=rms,
                       freqs=freqs.tolist(), psd_linear=psd_lin.tolist(), psd_simulated=psd_sim.tolist())
    return out


def _add_predictions(idata, name, spectra):
    """Add one predicted spectrum per channel as posterior_predictive[name] (data units)."""
    import xarray as xr

    pp = idata.posterior_predictive
    chans = [str(c) for c in pp.coords["channel"].values]
    freqs = np.asarray(pp.coords["freq"].values, float)
    arr = np.stack([np.interp(freqs, spectra[c][0], spectra[c][1]) for c in chans])[None, None]
    pp[name] = xr.DataArray(arr, dims=("chain", "median_draw", "channel", "freq"),
                            coords=dict(chain=pp.coords["chain"].values[:1], median_draw=[0], channel=chans,
                                        freq=freqs))


def _data_units(idata, ch, psd_jr, freqs):
    """Observation model at the posterior medians of a linear fit (JR spectrum at sigma = 1)."""
    from .likelihood import observation_model

    med = _medians(idata, ch, ["scale", "bg", "chi", "floor"])
    ref = float(np.median(idata.observed_data["psd"].sel(channel=ch).values))
    return observation_model(np.asarray(psd_jr) * ref, np.asarray(freqs), med["scale"], med["bg"], med["chi"],
                             med["floor"])


@verbose
def fit_psd(spectrum, *, likelihood="auto", priors=None, config=None, sim_config=None, model=None,
            progress=True, verbose=None):
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
    verbose : bool | str | None
        Log level.

    Returns
    -------
    result : FitResult
        The chosen route's result; ``attrs['route']`` and
        ``attrs['route_reason']`` say which and why.
    """
    from .inference import fit_spectrum
    from .sim_fit import fit_spectrum_sim

    check_option("likelihood", likelihood, ("linear", "simulation", "auto"))
    seed = int(getattr(config, "seed", 0) or 0)
    if likelihood == "simulation":
        res = fit_spectrum_sim(spectrum, priors=priors, config=sim_config, progress=progress)
        res.idata.attrs.update(route="simulation", route_reason="requested (--likelihood simulation)")
        return res
    lin = fit_spectrum(spectrum, priors=priors, config=config, model=model, progress=progress)
    if likelihood == "linear":
        lin.idata.attrs.update(route="linear", route_reason="requested (--likelihood linear)")
        return lin
    checks = check_linear(lin, spectrum, seed=seed)
    bad = {c: k["reasons"] for c, k in checks.items() if not k["valid"]}
    summary = {c: {k: v for k, v in d.items() if k not in ("freqs", "psd_linear", "psd_simulated")}
               for c, d in checks.items()}
    if not bad:
        reason = ("auto: the linearisation holds on every channel (stable, away from the boundary, "
                  "simulated spectrum within tolerance)")
        _add_predictions(lin.idata, "psd_simulated", {
            c: (d["freqs"], _data_units(lin.idata, c, d["psd_simulated"], d["freqs"])) for c, d in checks.items()})
        lin.idata.attrs.update(route="linear", route_reason=reason, linear_check=json.dumps(summary),
                               linear_validity=json.dumps(LINEAR_VALIDITY))
        logger.info(reason)
        return lin
    reason = "auto: linearisation rejected on " + "; ".join(f"{c}: {', '.join(r)}" for c, r in bad.items())
    logger.warning(reason + " -> simulation route")
    res = fit_spectrum_sim(spectrum, priors=priors, config=sim_config, progress=progress)
    _add_predictions(res.idata, "psd_linear", {
        c: (d["freqs"], _data_units(lin.idata, c, d["psd_linear"], d["freqs"])) for c, d in checks.items()})
    res.idata.attrs.update(route="simulation", route_reason=reason, linear_check=json.dumps(summary),
                           linear_validity=json.dumps(LINEAR_VALIDITY),
                           linear_diagnostics=lin.idata.attrs["diagnostics"])
    return res
