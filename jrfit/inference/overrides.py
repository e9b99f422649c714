"""Fixed values, free sets and priors of a fit, from options or a TOML file.

The command line (``jrfit fit-psd`` and ``jrfit fit-erp``) and a TOML file
change the default priors (:mod:`jrfit.inference.priors`) in the same three ways:

- ``--fix NAME=VALUE`` (repeatable): fix a JR constant at VALUE, in its unit
  (e.g. ``--fix C=120``), removing it from the free set if it was free;
- ``--free a,b,B,C``: the free JR constants; every other constant is fixed
  at its default or ``--fix`` value;
- ``--prior NAME=lognormal:MEDIAN:SD`` (SD of the natural log) or
  ``--prior NAME=normal:MEAN:SD`` (repeatable): the prior of a free JR
  constant (log-normal only: its log is sampled) or of another parameter of
  the model (e.g. ``p``, ``chi``; a normal prior keeps the parameter's
  default truncation).

A file given with ``--config FILE.toml`` holds the same in a ``[fit]`` table::

    [fit]
    free = ["a", "b", "B", "C"]
    [fit.prior]
    B = "lognormal:22:0.25"
    [fit.fix]
    C = 120

Options on the command line override the file: its ``free`` replaces the
file's (and frees what the file fixed), its ``fix`` and ``prior`` entries
replace the file's of the same name, and the file's priors of constants that
the command line fixes are dropped. Within one source, a constant both fixed
and free, or a prior on a fixed constant, is an error.

Use :func:`parse_overrides` to build the priors and :func:`overrides_record`
for a JSON-serialisable record of what was asked.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jrfit.errors import FitError, JRFitError
from jrfit.model.params import PARAM_INFO
from jrfit.inference.priors import ERPPriors, LogNormalPrior, NormalPrior, SpectralPriors

__all__ = [
    "parse_overrides",
    "overrides_record",
    "parse_fix",
    "parse_free",
    "parse_prior",
    "read_config",
]

#: JR constants that can be fixed or freed (mu follows from v; sigma from the scale or unused).
FIXABLE = tuple(n for n in PARAM_INFO if n not in ("mu", "sigma"))
_NOT_SETTABLE = (
    "mu follows from the operating point v (put a prior on p instead), and sigma is "
    "absorbed by the scale of a spectral fit and unused by an ERP fit"
)
_DISTRIBUTIONS = "lognormal:MEDIAN:SD (SD of the natural log) and normal:MEAN:SD"
_CONFIG_KEYS = ("free", "fix", "prior")
_LOGNORMAL, _NORMAL = ("lognormal",), ("normal",)
# priors other than the JR constants', and the distributions each accepts
_SPECTRAL_OTHER = dict(p=("lognormal", "normal"), log_scale=_NORMAL, log_bg=_NORMAL, chi=_NORMAL, log_floor=_NORMAL)
_ERP_OTHER = dict(amplitude=_LOGNORMAL, latency=_NORMAL, width=_LOGNORMAL, gain=_LOGNORMAL, offset=_NORMAL)


@dataclass(frozen=True)
class _Item:
    """A parsed value and where it came from (for the messages)."""

    value: object
    origin: str


@dataclass
class _Spec:
    """Overrides of one source: the command line or a file."""

    fix: dict = field(default_factory=dict)  # name -> _Item(float)
    free: _Item | None = None  # _Item(tuple of names)
    prior: dict = field(default_factory=dict)  # name -> _Item(prior)


# ----------------------------------------------------------------------------
# tokens
def _names_text(names):
    return ", ".join(names) if names else "(none)"


def _number(value, origin, what, note=""):
    """``value`` (a number or a numeric string) as a finite float."""
    if isinstance(value, bool):
        raise FitError(f"Invalid {origin}: {what} must be a number{note}, got {value!r}.")
    if isinstance(value, numbers.Real):
        out = float(value)
    else:
        try:
            out = float(str(value).strip())
        except ValueError:
            raise FitError(f"Invalid {origin}: {what} {str(value).strip()!r} is not a number{note}.") from None
    if not math.isfinite(out):
        raise FitError(f"Invalid {origin}: {what} must be finite{note}, got {out!r}.")
    return out


def _check_fixable(name, origin):
    if name in ("mu", "sigma"):
        raise FitError(
            f"{name!r} cannot be fixed or freed ({origin}): {_NOT_SETTABLE}. Allowed names are {_names_text(FIXABLE)}."
        )
    if name not in FIXABLE:
        raise FitError(
            f"Unknown parameter {name!r} in {origin}. Allowed names are {_names_text(FIXABLE)} (case-sensitive)."
        )


def _split_assignment(item, option, example):
    """``'NAME=VALUE'`` -> (name, value), naming the option on a bad token."""
    name, sep, value = str(item).partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise FitError(f"Invalid {option} {item!r}: expected NAME=VALUE, e.g. {option} {example}.")
    return name, value


def parse_fix(items, option="--fix"):
    """Fixed values from ``NAME=VALUE`` tokens or a dict.

    Parameters
    ----------
    items : list of str | dict of str -> float | None
        E.g. ``["C=120"]`` or ``{"C": 120}``; each value in the constant's
        unit (see :class:`~jrfit.JRParams`).
    option : str
        Name of the option, for the messages.

    Returns
    -------
    fix : dict of str -> float
    """
    return {k: it.value for k, it in _fix_items(items, option).items()}


def _assignments(items, option, example):
    """(name, value) pairs of a dict, or of ``NAME=VALUE`` texts (``example`` shows the form in errors)."""
    if isinstance(items, dict):
        return items.items()
    return (_split_assignment(it, option, example) for it in (items or ()))


def _fix_items(items, option):
    out = {}
    pairs = _assignments(items, option, "C=120")
    for name, value in pairs:
        origin = f"{option} {name}={value}"
        _check_fixable(name, origin)
        if name in out:
            raise FitError(f"Parameter {name!r} is fixed twice ({out[name].origin} and {origin}).")
        unit = PARAM_INFO[name]["unit"]
        note = f" ({name} is {'dimensionless' if unit == '1' else 'in ' + unit})"
        out[name] = _Item(_number(value, origin, "the value", note), origin)
    return out


def parse_free(value, option="--free"):
    """The free JR constants from ``'a,b,B'``, a list of names, or ``'none'``.

    Parameters
    ----------
    value : str | list of str | None
        Names joined by commas (``'a,b,B,C'``), a list of names, or
        ``'none'`` for no free JR constant; None: not given.
    option : str
        Name of the option, for the messages.

    Returns
    -------
    free : tuple of str | None
    """
    item = _free_item(value, option)
    return None if item is None else item.value


def _free_item(value, option):
    if value is None:
        return None
    if isinstance(value, str):
        origin = f"{option} {value}"
        names = [] if value.strip().lower() == "none" else [n.strip() for n in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value):
        origin, names = f"{option} {list(value)}", [n.strip() for n in value]
    else:
        raise FitError(
            f"Invalid {option} {value!r}: give the free JR constants as names, e.g. "
            "a,b,B,C (or a list of strings in a file)."
        )
    for name in names:
        _check_fixable(name, origin)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FitError(f"Invalid {origin}: {', '.join(dup)} listed twice.")
    return _Item(tuple(names), origin)


def parse_prior(text, option="--prior"):
    """A prior from ``'lognormal:MEDIAN:SD'`` or ``'normal:MEAN:SD'``.

    Parameters
    ----------
    text : str
        The distribution and its two numbers, in the parameter's unit (SD of
        the natural log for ``lognormal``), e.g. ``'lognormal:22:0.25'``.
    option : str
        The option and parameter, for the messages (e.g. ``'--prior B=...'``).

    Returns
    -------
    prior : LogNormalPrior | NormalPrior
    """
    parts = [p.strip() for p in str(text).split(":")] if isinstance(text, str) else []
    if len(parts) != 3:
        raise FitError(
            f"Invalid {option}: expected a distribution and two numbers, "
            f"{_DISTRIBUTIONS}, e.g. lognormal:22:0.25; got {text!r}."
        )
    dist = parts[0].lower()
    if dist not in ("lognormal", "normal"):
        raise FitError(f"Invalid {option}: unknown distribution {parts[0]!r}. Allowed are {_DISTRIBUTIONS}.")
    first = "MEDIAN" if dist == "lognormal" else "MEAN"
    loc, sd = _number(parts[1], option, first), _number(parts[2], option, "SD")
    if not sd > 0:
        raise FitError(f"Invalid {option}: SD must be > 0, got {parts[2]}.")
    if dist == "normal":
        return NormalPrior(loc, sd)
    if not loc > 0:
        raise FitError(f"Invalid {option}: the MEDIAN of a lognormal prior must be > 0, got {parts[1]}.")
    return LogNormalPrior(loc, sd)


def _prior_items(items, option):
    out = {}
    pairs = _assignments(items, option, "B=lognormal:22:0.25")
    for name, text in pairs:
        origin = f"{option} {name}={text}"
        if name in out:
            raise FitError(f"Two priors for {name!r} ({out[name].origin} and {origin}).")
        out[name] = _Item(parse_prior(text, origin), origin)
    return out


# ----------------------------------------------------------------------------
# TOML file
def read_config(path, option="--config"):
    """Read a TOML file of fit settings.

    Parameters
    ----------
    path : path-like
        The file; its ``[fit]`` table may hold ``free`` (list of names),
        ``[fit.fix]`` (name = value) and ``[fit.prior]`` (name = string).
    option : str
        Name of the option, for the messages.

    Returns
    -------
    table : dict
        The ``[fit]`` table (empty if the file has none).
    text : str
        The file's content.
    """
    path = Path(path)
    if not path.is_file():
        raise FitError(f"{option} {path}: file not found; give the path of a TOML file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FitError(f"{option} {path} could not be read as UTF-8 text: {err}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FitError(f"{option} {path} is not valid TOML: {err}. Fix the file at that line.") from None
    unknown = sorted(set(data) - {"fit"})
    if unknown:
        raise FitError(
            f"{option} {path}: unknown table or key {', '.join(unknown)}; allowed is "
            "[fit] (with free, [fit.fix] and [fit.prior])."
        )
    table = data.get("fit", {})
    if not isinstance(table, dict):
        raise FitError(f"{option} {path}: fit must be a table: a [fit] header followed by its keys.")
    unknown = sorted(set(table) - set(_CONFIG_KEYS))
    if unknown:
        raise FitError(
            f"{option} {path}: unknown key(s) {', '.join(unknown)} in [fit]; allowed are {', '.join(_CONFIG_KEYS)}."
        )
    for key, line in (("fix", "C = 120"), ("prior", 'B = "lognormal:22:0.25"')):
        if not isinstance(table.get(key, {}), dict):
            raise FitError(
                f"{option} {path}: [fit] {key} must be a table: a [fit.{key}] header followed by lines such as {line}."
            )
    return table, text


def _file_spec(path):
    table, _ = read_config(path)
    where = os.fspath(path)
    prior = table.get("prior", {})
    bad = [k for k, v in prior.items() if not isinstance(v, str)]
    if bad:
        raise FitError(
            f'[fit.prior] {bad[0]} in {where} must be a string such as "lognormal:22:0.25" ({_DISTRIBUTIONS}).'
        )
    return _Spec(
        fix=_fix_items(table.get("fix", {}), f"[fit.fix] in {where}:"),
        free=_free_item(table.get("free"), f"[fit] free in {where}:"),
        prior=_prior_items(prior, f"[fit.prior] in {where}:"),
    )


# ----------------------------------------------------------------------------
# merging and applying
def _merge(file, cli):
    """One spec from a file's and the command line's, the command line winning."""
    fix = {**file.fix, **cli.fix}
    free = cli.free if cli.free is not None else file.free
    if cli.free is not None:  # the command line frees what the file fixed
        fix = {k: v for k, v in fix.items() if k in cli.fix or k not in cli.free.value}
    elif free is not None and cli.fix:  # the command line fixes what the file freed
        free = _Item(tuple(n for n in free.value if n not in cli.fix), free.origin)
    prior = dict(file.prior)
    for name in list(prior):
        dropped = cli.free is not None and name in FIXABLE and name not in cli.free.value
        if name in cli.fix or dropped:
            del prior[name]
    prior.update(cli.prior)
    return _Spec(fix=fix, free=free, prior=prior)


def _freeable(base):
    """JR constants that may be free in this kind of fit, and why the others not."""
    if isinstance(base, ERPPriors):
        return FIXABLE, ""
    return tuple(n for n in FIXABLE if n != "A"), (
        "; A stays fixed in a spectral fit (A and sigma are degenerate with the scale)"
    )


def _free_set(base, spec):
    """The free JR constants after the overrides (checked)."""
    allowed, why = _freeable(base)
    if spec.free is None:
        return tuple(n for n in base.free if n not in spec.fix)
    for name in spec.free.value:
        if name not in allowed:
            raise FitError(
                f"Invalid {spec.free.origin}: {name!r} cannot be free here{why}. Allowed are {_names_text(allowed)}."
            )
        if name in spec.fix:
            raise FitError(
                f"{name!r} is both free ({spec.free.origin}) and fixed ({spec.fix[name].origin}); drop one of them."
            )
    return spec.free.value


def _jr_priors(base, free, spec):
    """Priors of the free JR constants: given, the base's, or log-normal around the default."""
    out = {}
    for name in free:
        item = spec.prior.get(name)
        if item is None:
            out[name] = base.jr.get(name) or LogNormalPrior(float(getattr(base.fixed, name)), 0.25)
        elif not isinstance(item.value, LogNormalPrior):
            raise FitError(
                f"Invalid {item.origin}: a JR constant takes a lognormal prior (its log is "
                f"sampled); use {name}=lognormal:MEDIAN:SD."
            )
        else:
            out[name] = item.value
    return out


def _other_priors(base, free, spec):
    """Priors of the parameters other than the JR constants (checked against the model)."""
    other = dict(_ERP_OTHER) if isinstance(base, ERPPriors) else dict(_SPECTRAL_OTHER)
    if isinstance(base, ERPPriors) and base.v_fixed is None and base.p_fixed is None:
        other["p"] = _NORMAL
    out = {}
    for name, item in spec.prior.items():
        if name in free:
            continue
        allowed, why = _freeable(base)
        if name in FIXABLE and name not in allowed:
            raise FitError(f"Invalid {item.origin}: {name} cannot have a prior{why}.")
        if name in FIXABLE:
            names = list(free) + [name]
            how = f"--free {','.join(names)}" if item.origin.startswith("--") else f"free = {names} in [fit]"
            raise FitError(
                f"Invalid {item.origin}: {name} is fixed (free JR constants: "
                f"{_names_text(free)}); free it with {how}, or drop the prior."
            )
        if name not in other:
            raise FitError(
                f"Unknown parameter {name!r} in {item.origin}. Priors can be set on the free "
                f"JR constants ({_names_text(free)}) and on {', '.join(other)}."
            )
        out[name] = _fit_prior(name, getattr(base, name), item, other[name])
    return out


def _fit_prior(name, default, item, kinds):
    """``item``'s prior, checked against the distributions allowed; bounds kept."""
    kind = "lognormal" if isinstance(item.value, LogNormalPrior) else "normal"
    if kind not in kinds:
        forms = " or ".join(f"{k}:{'MEDIAN' if k == 'lognormal' else 'MEAN'}:SD" for k in kinds)
        raise FitError(f"Invalid {item.origin}: {name} takes a {forms} prior, not {kind}.")
    if kind == "normal" and isinstance(default, NormalPrior):  # keep the default truncation
        return dataclasses.replace(default, mean=item.value.mean, sd=item.value.sd)
    return item.value


def _fixed(base, spec):
    fixed = base.fixed
    for name, item in spec.fix.items():
        try:
            fixed = fixed.replace(**{name: item.value})
        except JRFitError as err:
            raise FitError(f"Invalid {item.origin}: {err}") from None
    return fixed


def _apply(base, spec):
    free = _free_set(base, spec)
    jr = _jr_priors(base, free, spec)
    other = _other_priors(base, free, spec)
    return dataclasses.replace(base, jr=jr, fixed=_fixed(base, spec), **other)


def parse_overrides(fix=None, free=None, prior=None, config=None, *, base=None):
    """Priors with fixed values, free set and priors changed as asked.

    Parameters
    ----------
    fix : list of str | dict | None
        ``NAME=VALUE`` tokens (``--fix``), e.g. ``["C=120"]``, each value in
        the constant's unit.
    free : str | list of str | None
        The free JR constants (``--free``), e.g. ``'a,b,B,C'``; None keeps
        the default set (minus what ``fix`` fixes).
    prior : list of str | dict | None
        ``NAME=lognormal:MEDIAN:SD`` or ``NAME=normal:MEAN:SD`` tokens
        (``--prior``), in the parameter's unit.
    config : path-like | None
        TOML file with a ``[fit]`` table (``--config``); the other arguments
        override it (see the module docstring).
    base : SpectralPriors | ERPPriors | None
        Priors to change (default :class:`~jrfit.inference.priors.SpectralPriors`).

    Returns
    -------
    priors : SpectralPriors | ERPPriors
        Of the same type as ``base``.

    Raises
    ------
    FitError
        Naming the option and the bad token: unknown names, non-numeric
        values, an SD or median <= 0, an unknown distribution, a prior on a
        fixed constant, a constant both free and fixed, or a bad TOML file
        (with the line that the TOML parser reports).
    """
    base = SpectralPriors() if base is None else base
    if not isinstance(base, (SpectralPriors, ERPPriors)):
        raise FitError(f"base must be SpectralPriors or ERPPriors, got {type(base).__name__}.")
    cli = _Spec(fix=_fix_items(fix, "--fix"), free=_free_item(free, "--free"), prior=_prior_items(prior, "--prior"))
    spec = cli if config is None else _merge(_file_spec(config), cli)
    return _apply(base, spec)


def overrides_record(fix=None, free=None, prior=None, config=None):
    """What was asked, JSON-serialisable (for the result's attributes).

    Parameters
    ----------
    fix, free, prior, config
        As in :func:`parse_overrides`.

    Returns
    -------
    record : dict
        ``fix``, ``free`` and ``prior`` as given, and ``config``: None or
        ``dict(path=..., text=...)`` with the file's absolute path and content.
    """
    cfg = None
    if config is not None:
        _, text = read_config(config)
        cfg = dict(path=str(Path(config).resolve()), text=text)
    return dict(fix=_plain(fix), free=_plain(free), prior=_plain(prior), config=cfg)


def _plain(value):
    """Tokens as JSON-ready lists, dicts or strings."""
    if value is None or isinstance(value, str):
        return value
    return dict(value) if isinstance(value, dict) else list(value)
