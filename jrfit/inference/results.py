"""Results of a fit: :class:`FitResult`, and the InferenceData and provenance every route saves.

The three routes (:func:`jrfit.inference.spectral.fit_spectrum`,
:func:`jrfit.inference.simulation.fit_spectrum_sim`,
:func:`jrfit.inference.erp.fit_erp`) collect their draws as NumPy arrays and
hand them to :func:`make_result`, which builds the InferenceData
(:func:`inference_data`) and records what made it in ``idata.attrs`` and
``idata.posterior.attrs`` (:func:`fit_attrs`; the keys, in the order of
:data:`ATTRS_ORDER`, are what ``jrfit report`` reads from saved files).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

import numpy as np

from jrfit import __version__
from jrfit.errors import FitError

__all__ = ["FitResult", "ATTRS_ORDER", "fit_attrs", "inference_data", "make_result", "nuts_settings"]

ATTRS_ORDER = tuple(
    "jrfit_version kind input_file conditions channels preprocessing se_method fmin fmax tmin tmax units "
    "method thin pulse_shape priors sigma_prior free_params identified conditional seed sampler likelihood "
    "leakage simulation forward_model lowpass diagnostics adequacy residual_correlation regime stability "
    "n_eff linear_vs_nonlinear stochastic_check v_branch timings_s created".split()
)
"""Every key a fit writes to its attrs, in the order written (each route writes a subset)."""


@dataclass(frozen=True)
class FitResult:
    """Result of a fit: the InferenceData and the configuration that made it.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior (natural units), prior, posterior predictive PSD, observed
        data, sample stats; metadata in ``idata.attrs``.
    config : dict
        Settings (sampler, band, priors, input), JSON-serialisable.
    """

    idata: object
    config: dict = field(default_factory=dict)
    companions: dict = field(default_factory=dict)
    """Other fits kept beside this one, by name (e.g. ``'simulation'``: the
    simulation-route fit of the channels whose linearisation was rejected,
    :func:`jrfit.inference.routes.fit_psd`); ``attrs['routes']`` says which is trusted."""

    @property
    def diagnostics(self):
        """Per-channel convergence diagnostics (dict)."""
        return json.loads(self.idata.attrs["diagnostics"])

    @property
    def passed(self):
        """True if every channel passed its convergence checks (the sampler converged)."""
        return all(d["passed"] for d in self.diagnostics.values())

    @property
    def adequacy(self):
        """Per-channel posterior-predictive adequacy (dict; :func:`jrfit.inference.adequacy.spectral_adequacy`)."""
        return json.loads(self.idata.attrs.get("adequacy", "{}"))

    @property
    def fits(self):
        """True if the model fits every channel's data (a verdict separate from :attr:`passed`)."""
        return all(a["fits"] for a in self.adequacy.values())

    def save(self, fname, overwrite=False):
        """Write the InferenceData to NetCDF atomically."""
        from pathlib import Path

        from jrfit.utils.atomic import atomic_path

        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FitError(
                f"{fname} exists; pass overwrite=True to replace it.", cli={"pass overwrite=True": "give --overwrite"}
            )
        with atomic_path(fname) as tmp:
            self.idata.to_netcdf(str(tmp))
        return fname


def nuts_settings(config, cores, sampler):
    """The NUTS settings recorded in ``attrs['sampler']`` (a dict).

    Parameters
    ----------
    config : FitConfig
        Sampler settings.
    cores : int
        Chains run at once.
    sampler : str
        The implementation's name ('nutpie NUTS', 'PyMC NUTS').
    """
    return dict(
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        cores=cores,
        target_accept=config.target_accept,
        sampler=sampler,
    )


def _attr_value(value):
    """An attrs value as saved: text and numbers as they are, anything else as JSON."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, default=str)


def fit_attrs(
    *,
    source,
    channels,
    preprocessing,
    priors,
    seed,
    sampler,
    likelihood,
    diagnostics,
    adequacy,
    regime,
    timings,
    t_start,
    **specific,
):
    """The provenance of a fit: the attrs dict every route writes.

    Parameters
    ----------
    source : str | path-like | None
        The input file (``input_file``; '' when None).
    channels : list of str
        Fitted channels.
    preprocessing : object
        The data's processing record (JSON; objects JSON cannot write as text).
    priors : SpectralPriors | ERPPriors
        The priors (``priors`` and ``free_params``).
    seed : int
        The fit's seed.
    sampler : dict
        Sampler settings (:func:`nuts_settings` for NUTS).
    likelihood : str
        The likelihood, in words.
    diagnostics, adequacy, regime : dict
        Per fitted channel (or condition/channel): convergence diagnostics,
        posterior-predictive adequacy, regime fractions.
    timings : dict
        Seconds spent (compilation, each channel); ``total`` is added.
    t_start : float
        ``time.perf_counter()`` at the start of the fit, for ``total`` (s).
    **specific
        The route's own keys (units, band, checks ...): text and numbers as
        they are, anything else as JSON.

    Returns
    -------
    attrs : dict
        Keys in the order of :data:`ATTRS_ORDER`.
    """
    from datetime import datetime, timezone

    attrs = dict(
        jrfit_version=__version__,
        input_file=str(source or ""),
        channels=json.dumps(list(channels)),
        preprocessing=json.dumps(preprocessing, default=str),
        priors=json.dumps(priors.to_dict()),
        free_params=json.dumps(list(priors.free)),
        seed=int(seed),
        sampler=json.dumps(sampler),
        likelihood=likelihood,
        diagnostics=json.dumps(diagnostics),
        adequacy=json.dumps(adequacy),
        regime=json.dumps(regime),
        timings_s=json.dumps(dict(**timings, total=time.perf_counter() - t_start)),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    attrs.update({k: _attr_value(v) for k, v in specific.items()})
    rank = {k: i for i, k in enumerate(ATTRS_ORDER)}
    return dict(sorted(attrs.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def inference_data(**groups):
    """One InferenceData from NumPy arrays.

    Parameters
    ----------
    **groups : tuple (variables, coords)
        Per group (``posterior``, ``sample_stats``, ``prior``,
        ``posterior_predictive``, ``observed_data``, ``constant_data``):
        ``variables`` maps each name to ``(dims, values)``, ``coords`` each
        dimension to its coordinate values.

    Returns
    -------
    idata : arviz.InferenceData
    """
    import arviz as az
    import xarray as xr

    return az.InferenceData(**{name: xr.Dataset(var, coords=coords) for name, (var, coords) in groups.items()})


def prior_group(samples):
    """The ``prior`` group of one chain of prior draws (name -> 1-d array)."""
    n = len(next(iter(samples.values())))
    return {k: (("chain", "draw"), np.asarray(v)[None]) for k, v in samples.items()}, dict(chain=[0], draw=np.arange(n))


def spectrum_groups(chans, freqs, psd, n_eff):
    """The ``observed_data`` (the fitted PSD bins, channel x freq) and ``constant_data`` (n_eff) groups."""
    return dict(
        observed_data=({"psd": (("channel", "freq"), psd)}, dict(channel=chans, freq=freqs)),
        constant_data=({"n_eff": (("channel",), np.array(n_eff, float))}, dict(channel=chans)),
    )


def make_result(groups, attrs, config, priors):
    """The :class:`FitResult` of a fit: its InferenceData, with ``attrs`` on it and on its posterior.

    Parameters
    ----------
    groups : dict
        Group name -> (variables, coords), as :func:`inference_data` takes.
    attrs : dict
        The provenance (:func:`fit_attrs`).
    config : dataclass
        The sampler settings (``FitConfig`` or ``SimulationConfig``).
    priors : SpectralPriors | ERPPriors

    Returns
    -------
    result : FitResult
    """
    idata = inference_data(**groups)
    idata.attrs.update(attrs)
    idata.posterior.attrs.update(attrs)
    return FitResult(idata=idata, config=dict(config=dataclasses.asdict(config), priors=priors.to_dict()))
