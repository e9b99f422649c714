"""Priors of the spectral fit, with units, in one place.

Style of the field (docs/model.md, section 7): every positive JR constant is
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

or from options and TOML files (``--fix``, ``--free``, ``--prior``,
``--config``) with :func:`jrfit.inference.overrides.parse_overrides`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from jrfit.errors import FitError
from jrfit.model.params import PARAM_INFO, JRParams

__all__ = [
    "LogNormalPrior",
    "NormalPrior",
    "SpectralPriors",
    "make_priors",
    "DEFAULT_FREE",
    "ERPPriors",
    "make_erp_priors",
    "ERP_DEFAULT_FREE",
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
        """Log density at x (NumPy), in natural units (-inf where x <= 0)."""
        x = np.asarray(x, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(x) - np.log(self.median)) / self.sd
            out = -0.5 * z**2 - np.log(self.sd * x * np.sqrt(2 * np.pi))
        return np.where(x > 0, out, -np.inf)

    def tensor_logp(self, x):
        """Log density of a PyTensor variable, up to a constant (-inf where x <= 0)."""
        import pytensor.tensor as pt

        lx = pt.log(pt.maximum(x, 1e-300))
        return pt.switch(pt.gt(x, 0.0), -0.5 * ((lx - np.log(self.median)) / self.sd) ** 2 - lx, -np.inf)

    def random_variable(self, name):
        """The PyMC random variable with this prior (inside a model context)."""
        import pymc as pm

        return pm.LogNormal(name, mu=float(np.log(self.median)), sigma=float(self.sd))

    def sample(self, rng, size):
        return self.median * np.exp(self.sd * rng.standard_normal(size))


def _prior_from_dict(d):
    """LogNormalPrior or NormalPrior from its ``asdict`` form."""
    return LogNormalPrior(**d) if "median" in d else NormalPrior(**d)


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
        """Log density at x (NumPy), untruncated normalisation (-inf outside the bounds)."""
        x = np.asarray(x, float)
        out = -0.5 * ((x - self.mean) / self.sd) ** 2 - np.log(self.sd * np.sqrt(2 * np.pi))
        lo = -np.inf if self.lower is None else self.lower
        hi = np.inf if self.upper is None else self.upper
        return np.where((x >= lo) & (x <= hi), out, -np.inf)

    def tensor_logp(self, x):
        """Log density of a PyTensor variable, up to a constant (-inf outside the bounds)."""
        import pytensor.tensor as pt

        out = -0.5 * ((x - self.mean) / self.sd) ** 2
        if self.lower is not None:
            out = pt.switch(pt.ge(x, self.lower), out, -np.inf)
        if self.upper is not None:
            out = pt.switch(pt.le(x, self.upper), out, -np.inf)
        return out

    def random_variable(self, name):
        """The PyMC random variable with this prior (inside a model context)."""
        import pymc as pm

        if self.lower is None and self.upper is None:
            return pm.Normal(name, self.mean, self.sd)
        return pm.TruncatedNormal(name, self.mean, self.sd, lower=self.lower, upper=self.upper)

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
    p : LogNormalPrior | NormalPrior
        Prior of the input p, in /s, kept through the Jacobian |dp/dv|.
        Default log-normal with median 220 /s (the middle of JR 1995's
        120-320 /s) and sd 0.7 in log (90 % in [69, 696] /s): p is a firing
        rate, so p <= 0 has no prior mass (below p = 0 the column has further
        folds and Hopf points outside the physiological range, docs/model.md,
        section 5, which a normal prior let the sampler find).
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
    p: LogNormalPrior | NormalPrior = LogNormalPrior(220.0, 0.7)
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
        if not isinstance(self.p, (LogNormalPrior, NormalPrior)):
            raise FitError(f"The prior of p must be a LogNormalPrior or a NormalPrior, got {self.p!r}.")
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
            p=_prior_from_dict(d["p"]),
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


# ----------------------------------------------------------------------------
# evoked responses
ERP_DEFAULT_FREE = ("B", "a", "b")
"""JR constants free by default in an ERP fit (plus v, the pulse and the gain).

An evoked waveform constrains the time constants of both populations (its
rise and decay) and the inhibitory gain relative to the excitatory one (its
shape). ``A`` is fixed: the response's size is nearly proportional to
A x pulse amplitude x electrode gain, a ridge that NUTS explores slowly
(measured: 640 s for one channel with A free); free it with
``make_erp_priors(A=LogNormalPrior(3.25, 0.25))`` when its prior is informative.
"""


def _erp_default_jr():
    d = JRParams()
    return {k: LogNormalPrior(float(getattr(d, k)), 0.25) for k in ERP_DEFAULT_FREE}


_ERP_PULSE_PRIORS = {
    # latency = time of the pulse's peak (the JR pulse starts 7 widths earlier)
    "jr": dict(
        amplitude=LogNormalPrior(375.5, 0.5),
        latency=NormalPrior(0.075, 0.04, lower=0.0, upper=0.35),
        width=LogNormalPrior(0.005, 0.5),
    ),
    "gaussian": dict(
        amplitude=LogNormalPrior(375.5, 0.5),
        latency=NormalPrior(0.08, 0.04, lower=0.0, upper=0.35),
        width=LogNormalPrior(0.016, 0.5),
    ),
}


@dataclass(frozen=True)
class ERPPriors:
    """Every prior of the evoked-response model (see :mod:`jrfit.model.erp`).

    Attributes
    ----------
    shape : 'jr' | 'gaussian'
        Pulse shape.
    jr : dict of name -> LogNormalPrior
        Free JR constants; the others are fixed at ``fixed``'s values.
    fixed : JRParams
        Values of the constants that are not free.
    p : NormalPrior
        With ``v_fixed=None``: prior of the background input p, in /s, kept
        through |dp/dv| (the rest state is sampled as its potential v, as in
        the spectral fit); near 0 /s as in DCM's ERP models.
    v_fixed : float | None
        Rest potential v = y1 - y2, in mV, held fixed (default -1.904 mV: the
        lower stable fixed point of the JR 1995 column at p = 0 /s, the
        quiescent rest of DCM's ERP models); p = p(v) then follows from the
        constants and is reported, without a prior of its own. None: v is
        free in ``v_bounds`` with the prior ``p`` on the input, or solved
        from ``p_fixed``. An ERP hardly
        constrains the rest state (measured: free, its posterior fills the
        prior) while the response's size depends steeply on it through the
        sigmoid slopes, a curved ridge with the pulse amplitude and the gain:
        free, 9-34 divergent transitions and bulk ESS 270-340 per fit; fixed,
        none and ESS 650 in 0.75x the time.
    v_bounds : tuple of float
        Support of the rest potential v when it is free, in mV (with
        ``p_fixed``: where its lowest root is looked for).
    p_fixed : float | None
        The background input that holds the column at rest, in /s (e.g. 0,
        the quiescent input of DCM's ERP models); v is then solved for every
        draw's constants as the lowest fixed point at this input
        (``v_fixed`` must be None). Measured on independent epochs whose
        columns rest at p = 0 with other constants (rest -1.8 to -2.5 mV),
        with the filtered response and correlated residuals: the default (v
        held at -1.904 mV) covered 10 of 20 true values (a, b, B, gain,
        amplitude; shifted 2-9 %), ``p_fixed=0`` 19 of 20
        (benchmarks/bench_erp_independent.py). Not the default yet: on real
        ERPs it mixes worse (EEGLAB ``square`` EEG 000, short chains: 295
        divergent transitions against 2). None (default): ``v_fixed`` or a
        free v.
    amplitude : LogNormalPrior
        Peak of the input pulse, in /s.
    latency : NormalPrior
        Time of the input pulse's peak after the stimulus, in s (truncated).
        The onset follows: ``onset = latency - 7 width`` for the JR pulse (its
        start), ``onset = latency`` for the Gaussian. Sampling the peak time
        rather than the start removes their strong posterior correlation
        (measured -0.94 between onset and width).
    width : LogNormalPrior
        Pulse width, in s.
    gain : LogNormalPrior
        Size of the electrode gain, in uV per mV of the column's y1 - y2. Its
        sign (the dipole's orientation relative to the electrode) is chosen
        per channel at initialisation, where the data decide it, and kept.
    offset : NormalPrior
        Baseline offset, in uV.
    noise : NormalPrior | None
        Half-normal prior (``mean`` ignored) of an extra residual standard
        deviation, in uV, added in quadrature to the trial standard error;
        None: the standard error alone.
    residuals : 'correlated' | 'independent'
        Time structure of the residuals. ``'correlated'`` (default): the
        standardised residuals are a stationary Gaussian process with the
        autocorrelation of the noise in the average, measured with the
        standard error (:attr:`jrfit.data.evoked.ObservedEvoked.noise_acf`: from
        the trials' deviations from their mean, or from the pre-stimulus
        baseline of an average; an AR(p) fit extends it to every lag). The
        noise of an averaged ERP is background EEG, correlated from sample to
        sample (measured lag-1 correlation 0.87 at 128 Hz on the EEGLAB
        sample, 0.98 at 600 Hz on the MNE sample); treated as independent it
        makes intervals too narrow. The correlation is measured, not fitted:
        fitted jointly with the response (an AR(1) term), a correlation near 1
        let smooth noise explain the ERP itself (EEGLAB ``square``, EEG 000:
        fitted lag-1 correlation 0.96, the gain shrank to -0.3 uV/mV, R^2
        -0.6). ``'independent'``: independent samples.
    """

    shape: str = "jr"
    jr: dict = field(default_factory=_erp_default_jr)
    fixed: JRParams = field(default_factory=JRParams)
    p: NormalPrior = NormalPrior(0.0, 30.0)
    v_fixed: float | None = -1.904
    v_bounds: tuple = (-4.0, 14.0)
    p_fixed: float | None = None
    amplitude: LogNormalPrior | None = None
    latency: NormalPrior | None = None
    width: LogNormalPrior | None = None
    gain: LogNormalPrior = LogNormalPrior(1.0, 2.0)
    offset: NormalPrior = NormalPrior(0.0, 1.0)
    noise: NormalPrior | None = NormalPrior(0.0, 1.0, lower=0.0)
    residuals: str = "correlated"

    def __post_init__(self):
        if self.shape not in _ERP_PULSE_PRIORS:
            raise FitError(f"Unknown pulse shape {self.shape!r}: use one of {sorted(_ERP_PULSE_PRIORS)}.")
        for k, v in _ERP_PULSE_PRIORS[self.shape].items():
            if getattr(self, k) is None:
                object.__setattr__(self, k, v)
        for k, pr in self.jr.items():
            if k not in PARAM_INFO or k in ("mu", "sigma"):
                raise FitError(
                    f"Cannot put a prior on {k!r}: free JR constants are "
                    f"{sorted(set(PARAM_INFO) - {'mu', 'sigma'})} (mu follows from v)."
                )
            if not isinstance(pr, LogNormalPrior) or pr.median <= 0 or pr.sd <= 0:
                raise FitError(f"The prior of {k!r} must be a LogNormalPrior with median > 0 and sd > 0, got {pr!r}.")
        lo, hi = self.v_bounds
        if not lo < hi:
            raise FitError(f"v_bounds must be increasing (mV), got {self.v_bounds}.")
        o = self.latency
        if o.lower is None or o.upper is None:
            raise FitError("The latency prior needs lower and upper bounds (s).")
        if self.residuals not in ("correlated", "independent"):
            raise FitError(f"ERPPriors.residuals must be 'correlated' or 'independent', got {self.residuals!r}.")
        if self.p_fixed is not None and self.v_fixed is not None:
            raise FitError(
                f"ERPPriors: give either v_fixed (the rest potential, mV) or p_fixed (the input at rest, "
                f"/s), not both; got v_fixed={self.v_fixed!r}, p_fixed={self.p_fixed!r}."
            )

    @property
    def free(self):
        """Names of the free JR constants."""
        return tuple(self.jr)

    def table(self):
        """Rows (name, unit, prior) for reports."""
        rows = [(k, PARAM_INFO[k]["unit"], pr.describe(PARAM_INFO[k]["unit"])) for k, pr in self.jr.items()]
        if self.p_fixed is not None:
            rows.append(
                (
                    "v",
                    "mV",
                    f"rest potential: the lowest fixed point at p = {self.p_fixed:g} /s, solved for "
                    "each draw's constants",
                )
            )
        elif self.v_fixed is None:
            rows.append(("v", "mV", f"Uniform{tuple(self.v_bounds)} mV, with the prior of p kept by |dp/dv|"))
            rows.append(("p", "/s", self.p.describe("/s")))
        else:
            rows.append(("v", "mV", f"fixed at {self.v_fixed:g} mV (rest potential); p = p(v) derived"))
        rows.append(("amplitude", "/s", self.amplitude.describe("/s") + f" ({self.shape} pulse peak)"))
        rows.append(("latency", "s", self.latency.describe("s") + " (peak of the pulse; onset derived)"))
        rows.append(("width", "s", self.width.describe("s")))
        rows.append(("gain", "uV/mV", self.gain.describe("uV/mV") + " for |gain|; sign set per channel"))
        rows.append(("offset", "uV", self.offset.describe("uV")))
        if self.noise is not None:
            rows.append(("noise", "uV", f"HalfNormal(sd={self.noise.sd:g} uV), added to the trial SE in quadrature"))
        rows.append(
            (
                "residuals",
                "",
                "correlated in time as the measured noise of the average"
                if self.residuals == "correlated"
                else "independent in time",
            )
        )
        fixed = {k: v for k, v in self.fixed.as_dict().items() if k not in self.jr and k not in ("mu", "sigma")}
        rows.append(("fixed", "", ", ".join(f"{k}={v:g} {PARAM_INFO[k]['unit']}" for k, v in fixed.items())))
        return rows

    def to_dict(self):
        """JSON-serialisable description (stored in the result's attributes)."""
        return dict(
            shape=self.shape,
            jr={k: asdict(v) for k, v in self.jr.items()},
            fixed={k: float(v) for k, v in self.fixed.as_dict().items()},
            p=asdict(self.p),
            v_fixed=self.v_fixed,
            v_bounds=list(self.v_bounds),
            p_fixed=self.p_fixed,
            amplitude=asdict(self.amplitude),
            latency=asdict(self.latency),
            width=asdict(self.width),
            gain=asdict(self.gain),
            offset=asdict(self.offset),
            noise=None if self.noise is None else asdict(self.noise),
            residuals=self.residuals,
        )

    @classmethod
    def from_dict(cls, d):
        return cls(
            shape=d["shape"],
            jr={k: LogNormalPrior(**v) for k, v in d["jr"].items()},
            fixed=JRParams(**d["fixed"]),
            p=_prior_from_dict(d["p"]),
            v_fixed=d.get("v_fixed"),
            v_bounds=tuple(d["v_bounds"]),
            p_fixed=d.get("p_fixed"),
            amplitude=LogNormalPrior(**d["amplitude"]),
            latency=NormalPrior(**d["latency"]),
            width=LogNormalPrior(**d["width"]),
            gain=LogNormalPrior(**d["gain"]),
            offset=NormalPrior(**d["offset"]),
            noise=None if d.get("noise") is None else NormalPrior(**d["noise"]),
            residuals=d.get("residuals", "independent"),  # results before the AR(1) model: independent
        )


def make_erp_priors(shape="jr", overrides=None, **kwargs):
    """Default ERP priors for a pulse shape, with some entries changed.

    Parameters
    ----------
    shape : 'jr' | 'gaussian'
        Pulse shape.
    overrides : dict | None
        JR constant name -> :class:`LogNormalPrior` (free it / change it) or
        None (fix it); any other :class:`ERPPriors` field name -> its value.
    **kwargs
        Overrides given as keywords, merged into ``overrides``.

    Returns
    -------
    priors : ERPPriors
    """
    overrides = dict(overrides or {}, **kwargs)
    jr = _erp_default_jr()
    other = {}
    names = set(ERPPriors.__dataclass_fields__) - {"jr", "shape"}
    for k, v in overrides.items():
        if k in names:
            other[k] = v
        elif v is None:
            jr.pop(k, None)
        else:
            jr[k] = v
    if other.get("p_fixed") is not None and "v_fixed" not in other:
        other["v_fixed"] = None  # the rest solved from the input replaces the default held potential
    return ERPPriors(shape=shape, jr=jr, **other)
