"""The report's input: the fit result (in memory or a NetCDF file), its checks, and what the fit recorded."""

from __future__ import annotations

import json
from pathlib import Path

from jrfit.errors import JRFitError
from jrfit.utils.log import logger


def _load(idata_or_path):
    import arviz as az

    if isinstance(idata_or_path, az.InferenceData):
        return idata_or_path, None
    if isinstance(idata_or_path, (str, Path)):
        path = Path(idata_or_path).expanduser()
        if not path.is_file():
            raise JRFitError(f"Fit result {path} not found: pass the NetCDF file written by the fit.")
        try:
            return az.from_netcdf(path), str(path)
        except (OSError, ValueError) as err:
            raise JRFitError(f"Cannot read {path} as a fit result (NetCDF InferenceData): {err}") from None
    raise JRFitError(
        "'idata_or_path' must be an arviz.InferenceData or the path of a NetCDF file, "
        f"got {type(idata_or_path).__name__}."
    )


def _check_result(idata):
    groups = set(idata.groups())
    missing = [g for g in ("posterior", "observed_data") if g not in groups]
    if missing:
        raise JRFitError(f"The fit result lacks the group(s) {missing}; it has {sorted(groups)}.")
    post = idata.posterior
    need = [n for n in ("p",) if n not in post]
    if need:
        raise JRFitError(f"The posterior lacks {need}; it has {sorted(post.data_vars)}.")
    if "channel" not in post.dims:
        raise JRFitError("The posterior has no 'channel' dimension: not a jrfit spectral-fit result.")
    if "psd" not in idata.observed_data:
        raise JRFitError("The fit result has no observed_data['psd'].")


def _json_attr(attrs, key, default):
    raw = attrs.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("attrs[%r] is not valid JSON; shown as text.", key)
        return raw


def _per_fit(attrs, key):
    """A record the fit keeps per channel (e.g. ``attrs['adequacy']``): a dict by channel, {} if absent or malformed."""
    d = _json_attr(attrs, key, {})
    return d if isinstance(d, dict) else {}


def _priors_from_attrs(attrs):
    """The fit's priors object (spectral or ERP) from attrs['priors']; None if absent."""
    from jrfit.inference.priors import ERPPriors, SpectralPriors

    pri = _json_attr(attrs, "priors", None)
    if not isinstance(pri, dict):
        return None
    cls = ERPPriors if str(attrs.get("kind", "")) == "erp" else SpectralPriors
    return cls.from_dict(pri)


def _erp_view(idata, cond):
    """One condition of an ERP result, shaped like a per-channel result.

    Posterior, sample stats, predictions and data are selected at the
    condition; the per-fit attributes (keyed 'condition/channel') are keyed by
    channel, so the spectral report's tables and figures apply unchanged.
    """
    import arviz as az

    groups = {}
    for g in idata.groups():
        ds = getattr(idata, g)
        groups[g] = ds.sel(condition=cond) if "condition" in ds.dims else ds
    view = az.InferenceData(**groups)
    attrs = dict(idata.attrs)
    prefix = f"{cond}/"
    for key in ("diagnostics", "adequacy", "regime", "linear_vs_nonlinear", "v_branch", "stochastic_check"):
        d = _json_attr(attrs, key, {})
        if isinstance(d, dict):
            attrs[key] = json.dumps({k[len(prefix) :]: v for k, v in d.items() if k.startswith(prefix)})
    view.attrs.update(attrs)
    return view


def _check_erp_result(idata):
    groups = set(idata.groups())
    missing = [g for g in ("posterior", "observed_data", "posterior_predictive", "constant_data") if g not in groups]
    if missing:
        raise JRFitError(f"The ERP fit result lacks the group(s) {missing}; it has {sorted(groups)}.")
    for name, ds in (("posterior", idata.posterior), ("observed_data", idata.observed_data)):
        if "condition" not in ds.dims or "channel" not in ds.dims:
            raise JRFitError(f"The ERP result's {name} lacks the 'condition'/'channel' dimensions.")
