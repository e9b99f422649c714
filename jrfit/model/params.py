"""Jansen-Rit column parameters (Jansen & Rit 1995 defaults), with units.

One immutable object, :class:`JRParams`, carries every constant of the column.
Each field may be a scalar or an array; arrays broadcast together and describe a
*batch* of independent parameter sets (one per column), which is how the
simulators and the linearised spectrum are vectorised::

    >>> import numpy as np
    >>> from jrfit import JRParams
    >>> batch = JRParams().replace(mu=np.linspace(120.0, 320.0, 5))
    >>> batch.batch_shape
    (5,)
    >>> batch[2].mu
    220.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from jrfit.errors import JRFitError

__all__ = ["JRParams", "PARAM_INFO", "FIELDS", "CONSTANTS", "LINEAR_CONSTANTS", "pack", "constants", "readonly"]


def _f(default, unit, meaning, lower=None, strict=False):
    return field(
        default=default,
        metadata=dict(unit=unit, meaning=meaning, lower=lower, strict=strict),
    )


@dataclass(frozen=True)
class JRParams:
    """Parameters of one Jansen-Rit column (or a batch of columns).

    Defaults are those of Jansen & Rit (1995). Every field accepts a float or an
    array; arrays broadcast together (``batch_shape``) and describe independent
    columns. The object is immutable: use :meth:`replace` to derive a new one.

    Parameters
    ----------
    A : float | array
        Maximum excitatory PSP amplitude, in mV (default 3.25).
    B : float | array
        Maximum inhibitory PSP amplitude, in mV (default 22).
    a : float | array
        Excitatory PSP rate constant (inverse time constant), in /s (default 100).
    b : float | array
        Inhibitory PSP rate constant, in /s (default 50).
    C : float | array
        Average number of synaptic contacts, dimensionless (default 135).
    c1, c2, c3, c4 : float | array
        Connectivity ratios: C1 = c1 C, C2 = c2 C, C3 = c3 C, C4 = c4 C
        (defaults 1, 0.8, 0.25, 0.25).
    e0 : float | array
        Half the maximum firing rate of the sigmoid, in /s (default 2.5).
    r : float | array
        Sigmoid steepness, in /mV (default 0.56).
    v0 : float | array
        Sigmoid threshold (potential at half-maximum firing), in mV (default 6).
    mu : float | array
        Mean external input p to the excitatory interneurons, in /s
        (default 220, the centre of the 120-320 /s range of JR 1995).
    sigma : float | array
        Continuous noise intensity of the input, in /s^0.5: the input is
        ``p(t) = mu + sigma * xi(t)`` with unit white noise ``xi`` (see
        docs/model.md, section 4). A per-sample standard deviation ``s`` at step
        ``dt`` corresponds to ``sigma = s * sqrt(dt)``; see
        :meth:`sigma_from_per_sample_std`. Default 5.
    """

    A: float = _f(3.25, "mV", "maximum excitatory PSP amplitude", lower=0.0)
    B: float = _f(22.0, "mV", "maximum inhibitory PSP amplitude", lower=0.0)
    a: float = _f(100.0, "/s", "excitatory PSP rate constant", lower=0.0, strict=True)
    b: float = _f(50.0, "/s", "inhibitory PSP rate constant", lower=0.0, strict=True)
    C: float = _f(135.0, "1", "average number of synaptic contacts", lower=0.0)
    c1: float = _f(1.0, "1", "C1/C: pyramidal -> excitatory interneurons", lower=0.0)
    c2: float = _f(0.8, "1", "C2/C: excitatory interneurons -> pyramidal", lower=0.0)
    c3: float = _f(0.25, "1", "C3/C: pyramidal -> inhibitory interneurons", lower=0.0)
    c4: float = _f(0.25, "1", "C4/C: inhibitory interneurons -> pyramidal", lower=0.0)
    e0: float = _f(2.5, "/s", "half the maximum firing rate", lower=0.0, strict=True)
    r: float = _f(0.56, "/mV", "sigmoid steepness", lower=0.0, strict=True)
    v0: float = _f(6.0, "mV", "sigmoid threshold (half-maximum firing)")
    mu: float = _f(220.0, "/s", "mean external input p")
    sigma: float = _f(5.0, "/s^0.5", "continuous input noise intensity", lower=0.0)

    FIELDS: ClassVar[tuple] = ("A", "B", "a", "b", "C", "c1", "c2", "c3", "c4", "e0", "r", "v0", "mu", "sigma")
    """The fields, in declaration order (the order of :meth:`flat` and of :meth:`as_dict`)."""
    CONSTANTS: ClassVar[tuple] = ("A", "B", "a", "b", "C1", "C2", "C3", "C4", "e0", "r", "v0")
    """The column's constants in the order of :func:`jrfit.model.column.drift` and of every
    compiled kernel's packed vector (:meth:`pack`): C1..C4 derived, no input."""

    def __post_init__(self):
        shapes = []
        for f in fields(self):
            raw = getattr(self, f.name)
            try:
                val = np.asarray(raw, dtype=float)
            except (TypeError, ValueError):
                raise JRFitError(
                    f"JRParams.{f.name} must be a number or an array of numbers (in {f.metadata['unit']}), got {raw!r}."
                ) from None
            if not np.all(np.isfinite(val)):
                raise JRFitError(
                    f"JRParams.{f.name} ({f.metadata['meaning']}, in {f.metadata['unit']}) must be finite, got {raw!r}."
                )
            lower = f.metadata["lower"]
            if lower is not None:
                bad = val <= lower if f.metadata["strict"] else val < lower
                if np.any(bad):
                    rel = ">" if f.metadata["strict"] else ">="
                    raise JRFitError(
                        f"JRParams.{f.name} ({f.metadata['meaning']}) must be "
                        f"{rel} {lower} {f.metadata['unit']}, got {raw!r}."
                    )
            if val.ndim == 0:
                val = float(val)
            else:
                val = val.copy()
                val.flags.writeable = False
            object.__setattr__(self, f.name, val)
            shapes.append(np.shape(val))
        try:
            shape = np.broadcast_shapes(*shapes)
        except ValueError:
            raise JRFitError(
                "JRParams fields given as arrays must broadcast together; got "
                + ", ".join(
                    f"{f.name}{np.shape(getattr(self, f.name))}" for f in fields(self) if np.ndim(getattr(self, f.name))
                )
                + "."
            ) from None
        object.__setattr__(self, "_batch_shape", shape)

    # ------------------------------------------------------------------
    # derived constants
    @property
    def C1(self):
        """Pyramidal -> excitatory interneuron contacts, c1 * C."""
        return self.c1 * self.C

    @property
    def C2(self):
        """Excitatory interneuron -> pyramidal contacts, c2 * C."""
        return self.c2 * self.C

    @property
    def C3(self):
        """Pyramidal -> inhibitory interneuron contacts, c3 * C."""
        return self.c3 * self.C

    @property
    def C4(self):
        """Inhibitory interneuron -> pyramidal contacts, c4 * C."""
        return self.c4 * self.C

    @property
    def batch_shape(self):
        """Broadcast shape of the fields: ``()`` for a single column."""
        return self._batch_shape

    @property
    def n_columns(self):
        """Number of parameter sets in the batch (1 for scalars)."""
        return int(np.prod(self._batch_shape, dtype=int))

    def pack(self, names=None):
        """Constants stacked in a fixed order, for the compiled kernels.

        Parameters
        ----------
        names : sequence of str | None
            Attribute names (fields or the derived ``C1..C4``); default
            :attr:`CONSTANTS`, the order of :func:`jrfit.model.column.drift`.

        Returns
        -------
        packed : ndarray, shape (len(names), *batch_shape)
            float64, in the units of each field.
        """
        return pack(self, self.CONSTANTS if names is None else names, self._batch_shape)

    # ------------------------------------------------------------------
    def replace(self, **changes):
        """Return a copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field names and their new values (floats or arrays).
        """
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise JRFitError(f"Unknown JRParams field(s) {unknown}. Valid fields are {sorted(names)}.")
        return dataclasses.replace(self, **changes)

    def as_dict(self, broadcast=False):
        """Fields as a dict of floats or arrays.

        Parameters
        ----------
        broadcast : bool
            If True, every value is an array of shape ``batch_shape`` (for
            scalars, a 0-d array).
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if broadcast:
            out = {k: np.broadcast_to(v, self._batch_shape).copy() for k, v in out.items()}
        return out

    def flat(self):
        """Broadcast every field and flatten to 1-D arrays of length n_columns."""
        return {k: np.ravel(v) for k, v in self.as_dict(broadcast=True).items()}

    def __getitem__(self, index):
        """Select part of a batch, e.g. ``params[3]`` or ``params[mask]``."""
        if not self._batch_shape:
            raise JRFitError("A single JRParams (batch_shape == ()) cannot be indexed.")
        d = self.as_dict(broadcast=True)
        return JRParams(**{k: v[index] for k, v in d.items()})

    def __iter__(self):
        if not self._batch_shape:
            yield self
            return
        for i in range(self._batch_shape[0]):
            yield self[i]

    def __len__(self):
        if not self._batch_shape:
            raise TypeError("A single JRParams has no len(); use n_columns.")
        return self._batch_shape[0]

    def __eq__(self, other):
        if not isinstance(other, JRParams):
            return NotImplemented
        if self._batch_shape != other._batch_shape:
            return False
        a, b = self.as_dict(broadcast=True), other.as_dict(broadcast=True)
        return all(np.array_equal(a[k], b[k]) for k in a)

    def __hash__(self):
        return hash(tuple(v.tobytes() for v in self.as_dict(broadcast=True).values()))

    def __repr__(self):
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if np.ndim(v):
                parts.append(f"{f.name}=<array {np.shape(v)}>")
            else:
                parts.append(f"{f.name}={v:g}")
        return "JRParams(" + ", ".join(parts) + ")"

    @classmethod
    def stack(cls, params_list):
        """Stack a sequence of single JRParams into one batch of shape (n,)."""
        params_list = list(params_list)
        if not params_list:
            raise JRFitError("JRParams.stack needs at least one parameter set.")
        names = [f.name for f in fields(cls)]
        return cls(**{n: np.array([getattr(p, n) for p in params_list], float) for n in names})

    @staticmethod
    def sigma_from_per_sample_std(std, dt):
        """Continuous noise intensity equivalent to a per-sample input std.

        Parameters
        ----------
        std : float
            Standard deviation of p drawn independently at every step, in /s.
        dt : float
            Step, in s.

        Returns
        -------
        sigma : float
            Continuous intensity, in /s^0.5 (``std * sqrt(dt)``).
        """
        return float(std) * np.sqrt(float(dt))


if JRParams.FIELDS != tuple(f.name for f in fields(JRParams)):  # pragma: no cover (a field added or moved)
    raise RuntimeError("JRParams.FIELDS must list the dataclass fields in declaration order.")
FIELDS = JRParams.FIELDS
"""Field names of :class:`JRParams`, in declaration order."""

CONSTANTS = JRParams.CONSTANTS
"""Order of the constants in the kernels' packed vector (:meth:`JRParams.pack`)."""

LINEAR_CONSTANTS = tuple(n for n in FIELDS if n != "mu")
"""Order of the linearised kernel's base vector (:mod:`jrfit.model.linear_kernel`): the
fields without the input ``mu`` (``C`` and the ratios ``c1..c4``, ``sigma`` last)."""


def _value(params, name):
    """``params.name``, or ``params[name]`` of a mapping (with the derived C1..C4)."""
    if not isinstance(params, Mapping):
        return getattr(params, name)
    if name not in params and name in ("C1", "C2", "C3", "C4"):
        return params[f"c{name[1]}"] * params["C"]
    return params[name]


def constants(params):
    """The constants of ``params`` as a tuple in :data:`CONSTANTS` order (the tail of ``drift``).

    Works for any object with those attributes, whatever their type (floats,
    arrays, PyTensor variables): ``drift(*y, p, *constants(params))``.
    """
    return tuple(_value(params, n) for n in CONSTANTS)


def readonly(val):
    """Float array view that cannot be written (no copy if already float64)."""
    val = np.asarray(val, dtype=float).view()
    val.flags.writeable = False
    return val


def pack(params, names=CONSTANTS, batch_shape=None):
    """Values of ``names`` read from any object with those attributes, stacked.

    Parameters
    ----------
    params : JRParams | mapping | object
        Anything with the attributes, or a mapping of field names to values
        (``C1..C4`` are then ``c1..c4`` times ``C`` unless given).
    names : sequence of str
        Attribute names, default :data:`CONSTANTS`.
    batch_shape : tuple | None
        Broadcast every value to this shape (None: the values must already
        broadcast together).

    Returns
    -------
    packed : ndarray, shape (len(names), *batch_shape), float64
    """
    vals = [_value(params, n) for n in names]
    shape = np.broadcast_shapes(*(np.shape(v) for v in vals)) if batch_shape is None else batch_shape
    return np.array([np.broadcast_to(v, shape) for v in vals], dtype=float)


PARAM_INFO = {
    f.name: dict(unit=f.metadata["unit"], meaning=f.metadata["meaning"], default=f.default) for f in fields(JRParams)
}
"""Units, meaning and default of every :class:`JRParams` field."""
