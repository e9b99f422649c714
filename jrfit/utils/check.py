"""Argument checks that name the parameter, the allowed values and what was given."""

from __future__ import annotations

import numbers

import numpy as np

from jrfit.errors import JRFitError


def check_option(name, value, allowed):
    """Raise if ``value`` is not one of ``allowed``."""
    if value not in allowed:
        allowed = list(allowed)
        if len(allowed) > 1:
            opts = ", ".join(repr(a) for a in allowed[:-1]) + f" and {allowed[-1]!r}"
        else:
            opts = repr(allowed[0])
        raise JRFitError(
            f"Invalid value for the {name!r} parameter. Allowed values are {opts}, but got {value!r} instead."
        )
    return value


def check_positive(name, value, unit="", allow_zero=False):
    """Return ``value`` as float, raising if it is not finite and > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise JRFitError(f"{name!r} must be a number{_u(unit)}, got {value!r}.") from None
    value = float(value)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rel = ">= 0" if allow_zero else "> 0"
        raise JRFitError(f"{name!r} must be finite and {rel}{_u(unit)}, got {value!r}.")
    return value


def _u(unit):
    return f" (in {unit})" if unit else ""
