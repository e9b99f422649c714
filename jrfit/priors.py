"""Priors of the spectral fit, with units, in one place.

Style of the field (MODEL_NOTES section 7): every positive JR constant is
``default * exp(theta)`` with ``theta ~ Normal(0, sd)`` (a log-normal prior
centred on the Jansen & Rit 1995 value; SPM's DCM uses sd = 0.25, i.e.
variance 1/16). The operating point is sampled as the potential ``v`` (mV) and
the input ``p = p(v)`` is derived; the prior stated on ``p`` is kept by adding
``log|dp/dv|`` (section 2).

Identifiability (section 6): the linearised PSD of one column depends on the
rate constants a and b, two loop gains and the input scale only. ``A`` and the
noise intensity ``sigma`` are exactly degenerate with the overall scale, so they
are fixed (``A`` = 3.25 mV, ``sigma`` = 1 /s^0.5) and a free ``scale`` absorbs
them. B, C and the operating point trade off against each other (two loop
gains from three constants), so by default C is fixed at 135 with the
connectivity ratios (poorly identified from either spectra or ERPs) and the
sigmoid constants: the free set is a, b, B and the operating point v (p
derived). Measured on simulated data, freeing C as well leaves a ridge that
NUTS needs ~8x more leapfrog steps to explore.

Override any entry with :func:`make_priors`::

    priors = make_priors({"B": LogNormalPrior(22.0, 0.5), "C": None})  # None: fix
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import FitError
from .params import PARAM_INFO, JRParams

__all__ = [
    "LogNormalPrior",
    "NormalPrior",
    "SpectralPriors",
    "make_priors",
    "DEFAULT_FREE",
]


@dataclass(frozen=True)
class LogNormalPrior:
    """``median * exp(theta)``, ``theta ~ Normal(0, sd)`` (a positive quantity)."""

    median: float
    sd: float = 0.25

    def describe(self, unit=""):
        lo, hi = self.median * np.exp(-1.645 * self.sd), self.median * np.exp(1.645 * self.sd)
        return f"LogNormal(median={self.median:g} {unit}, sd(log)={self.sd:g}); 90% in [{lo:.3g}, {hi:.3g}]"

    def logpdf(self, x):
        """Log density at x (NumPy), in natural units."""
        x = np.asarray(x, float)
        z = (np.log(x) - np.log(self.median)) / self.sd
        return -0.5 * z**2 - np.log(self.sd * x * np.sqrt(2 * np.pi))

    def sample(self, rng, size):
        return self.median * np.exp(self.sd * rng.standard_normal(size))


@dataclass(frozen=True)
class NormalPrior:
    """``Normal(mean, sd)``; optional truncation to ``[lower, upper]``."""

    mean: float
    sd: float
    lower: float | None = None
    upper: float | None = None

    def describe(self, unit=""):
        s = f"Normal(mean={self.mean:g} {unit}, sd={self.sd:g})"
        if self.lower is not None or self.upper is not None:
            s += f" truncated to [{self.lower}, {self.upper}]"
        return s

    def logpdf(self, x):
        x = np.asarray(x, float)
        return -0.5 * ((x - self.mean) / self.sd) ** 2 - np.log(self.sd * np.sqrt(2 * np.pi))

    def sample(self, rng, size):
        out = self.mean + self.sd * rng.standard_normal(size)
        lo = -np.inf if self.lower is None else self.lower
        hi = np.inf if self.upper is None else self.upper
        bad = (out < lo) | (out > hi)
        while np.any(bad):
            out[bad] = self.mean + self.sd * rng.standard_normal(int(bad.sum()))
            bad = (out < lo) | (out > hi)
        return out


DEFAULT_FREE = ("a", "b", "B")
"""JR constants free by default in a spectral fit (plus the operating point)."""


def _default_jr():
    d = JRParams()
    return {k: LogNormalPrior(float(getattr(d, k)), 0.25) for k in DEFAULT_FREE}


@dataclass(frozen=True)
class SpectralPriors:
    """Every prior of the spectral observation model.

    Attributes
    ----------
    jr : dict of name -> LogNormalPrior
        Free JR constants (names as in :class:`~jrfit.JRParams`); the others
        are fixed at ``fixed``'s values.
    fixed : JRParams
        Values of the constants that are not free (``A`` and ``sigma`` fixed:
        the scale absorbs them).
    p : NormalPrior
        Prior of the input p, in /s, kept through the Jacobian |dp/dv|.
    v_bounds : tuple of float
        Support of the operating potential v, in mV.
    log_scale : NormalPrior
        Natural log of the factor that maps the JR PSD (mV^2/Hz at
        sigma = 1 /s^0.5) onto the data after normalising the data by its
        median power in the band.
    log_bg : NormalPrior
        Natural log of the aperiodic background amplitude at 1 Hz (normalised
        units).
    chi : NormalPrior
        Aperiodic exponent (background = bg / f^chi), dimensionless.
    log_floor : NormalPrior
        Natural log of the white sensor floor (normalised units).
    """

    jr: dict = field(default_factory=_default_jr)
    fixed: JRParams = field(default_factory=lambda: JRParams(sigma=1.0))
    p: NormalPrior = NormalPrior(200.0, 200.0)
    v_bounds: tuple = (-4.0, 14.0)
    log_scale: NormalPrior = NormalPrior(0.0, 3.0)
    log_bg: NormalPrior = NormalPrior(-3.0, 3.0)
    chi: NormalPrior = NormalPrior(1.5, 0.75, lower=0.0, upper=4.0)
    log_floor: NormalPrior = NormalPrior(-6.0, 3.0)

    def __post_init__(self):
        for k, pr in self.jr.items():
            if k not in PARAM_INFO or k in ("mu", "sigma", "A"):
                raise FitError(
                    f"Cannot put a prior on {k!r}: free JR constants are "
                    f"{sorted(set(PARAM_INFO) - {'mu', 'sigma', 'A'})} (A and sigma are "
                    "degenerate with the scale; mu follows from v)."
                )
            if not isinstance(pr, LogNormalPrior) or pr.median <= 0 or pr.sd <= 0:
                raise FitError(f"The prior of {k!r} must be a LogNormalPrior with median > 0 and sd > 0, got {pr!r}.")
        lo, hi = self.v_bounds
        if not lo < hi:
            raise FitError(f"v_bounds must be increasing (mV), got {self.v_bounds}.")

    @property
    def free(self):
        """Names of the free JR constants."""
        return tuple(self.jr)

    def table(self):
        """Rows (name, unit, prior) for reports."""
        rows = [(k, PARAM_INFO[k]["unit"], pr.describe(PARAM_INFO[k]["unit"])) for k, pr in self.jr.items()]
        rows.append(("v", "mV", f"Uniform{tuple(self.v_bounds)} mV, with the prior of p kept by |dp/dv|"))
        rows.append(("p", "/s", self.p.describe("/s")))
        rows.append(("log_scale", "1", self.log_scale.describe() + " (data normalised by its median)"))
        rows.append(("log_bg", "1", self.log_bg.describe()))
        rows.append(("chi", "1", self.chi.describe()))
        rows.append(("log_floor", "1", self.log_floor.describe()))
        fixed = {k: v for k, v in self.fixed.as_dict().items() if k not in self.jr and k != "mu"}
        rows.append(("fixed", "", ", ".join(f"{k}={v:g} {PARAM_INFO[k]['unit']}" for k, v in fixed.items())))
        return rows

    def to_dict(self):
        """JSON-serialisable description (stored in the result's attributes)."""
        return dict(
            jr={k: asdict(v) for k, v in self.jr.items()},
            fixed={k: float(v) for k, v in self.fixed.as_dict().items()},
            p=asdict(self.p),
            v_bounds=list(self.v_bounds),
            log_scale=asdict(self.log_scale),
            log_bg=asdict(self.log_bg),
            chi=asdict(self.chi),
            log_floor=asdict(self.log_floor),
        )

    @classmethod
    def from_dict(cls, d):
        return cls(
            jr={k: LogNormalPrior(**v) for k, v in d["jr"].items()},
            fixed=JRParams(**d["fixed"]),
            p=NormalPrior(**d["p"]),
            v_bounds=tuple(d["v_bounds"]),
            log_scale=NormalPrior(**d["log_scale"]),
            log_bg=NormalPrior(**d["log_bg"]),
            chi=NormalPrior(**d["chi"]),
            log_floor=NormalPrior(**d["log_floor"]),
        )


def make_priors(overrides=None, **kwargs):
    """Default spectral priors with some entries changed.

    Parameters
    ----------
    overrides : dict | None
        JR constant name -> :class:`LogNormalPrior` to make it free (or change
        its prior), or None to fix it at its default. Names ``"p"``,
        ``"log_scale"``, ``"log_bg"``, ``"chi"``, ``"log_floor"`` take a
        :class:`NormalPrior`; ``"v_bounds"`` a (low, high) tuple in mV;
        ``"fixed"`` a :class:`~jrfit.JRParams` of the fixed values.
    **kwargs
        Same as ``overrides``.

    Returns
    -------
    priors : SpectralPriors
    """
    overrides = dict(overrides or {}, **kwargs)
    base = SpectralPriors()
    jr = dict(base.jr)
    other = {}
    for k, v in overrides.items():
        if k in ("p", "log_scale", "log_bg", "chi", "log_floor", "v_bounds", "fixed"):
            other[k] = v
        elif v is None:
            jr.pop(k, None)
        else:
            jr[k] = v
    return SpectralPriors(jr=jr, **other)
