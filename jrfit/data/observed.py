"""What the observed objects share: frozen arrays, field checks, (de)serialisation and channel picks.

:class:`~jrfit.data.spectrum.ObservedSpectrum` and
:class:`~jrfit.data.evoked.ObservedEvoked` are frozen dataclasses of
read-only arrays with one row per channel, a JSON-serialisable ``record``
and a ``source`` name; :class:`ObservedMixin` validates and converts these
fields once for both, and gives both ``to_dict``, ``from_dict`` and the
channel lookup of ``pick``. Error messages name the class and the field
(``ObservedSpectrum.psd must ...``).
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np

from jrfit.errors import DataError

from jrfit.data.common import _fmt_names, _jsonable

__all__ = ["ObservedMixin"]


def _frozen_array(value, name, owner):
    """``value`` as a read-only float array; a :class:`~jrfit.DataError` naming ``owner.name`` if not numeric."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{owner}.{name} must be numeric, got {value!r}.") from None
    arr.flags.writeable = False
    return arr


def _plain(value):
    """A field as plain Python for :meth:`ObservedMixin.to_dict` (arrays and tuples as lists, dicts copied)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return _jsonable(value) if isinstance(value, np.generic) else value


class ObservedMixin:
    """Checks and conversions shared by the frozen observed dataclasses (used in their ``__post_init__``).

    A class using it names itself in messages with ``_WHAT`` (e.g. ``'the
    spectrum'``) and gives ``_picked(idx)``, its copy with the rows ``idx``.
    """

    _WHAT = "the data"

    @property
    def n_channels(self):
        """Number of channels."""
        return len(self.ch_names)

    def _set(self, **fields):
        """Set fields of the frozen instance (in ``__post_init__`` only)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _owner(self):
        return type(self).__name__

    def _array(self, name, value=None):
        return _frozen_array(getattr(self, name) if value is None else value, name, self._owner())

    def _channel_rows(self, name, n_cols, cols):
        """Field ``name`` as a read-only (n_channels, n_cols) array (a 1-D array is one channel)."""
        arr = self._array(name)
        if arr.ndim == 1:
            arr = self._array(name, arr[np.newaxis])
        if arr.ndim != 2 or arr.shape[1] != n_cols:
            raise DataError(f"{self._owner()}.{name} must have shape (n_channels, {cols}={n_cols}), got {arr.shape}.")
        return arr

    def _check_positive_rows(self, arr, name, units, advice):
        """Refuse rows of ``arr`` that are not finite and > 0, naming them."""
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)).all(axis=1)).tolist()
            raise DataError(f"{self._owner()}.{name} must be finite and > 0 (in {units}); rows {bad} are not. {advice}")

    def _checked_names(self, n_rows, rows):
        """``ch_names`` as a tuple of ``n_rows`` unique str, one per row of the field ``rows``."""
        if isinstance(self.ch_names, str):
            raise DataError(f"{self._owner()}.ch_names must be a sequence of names, got a str.")
        ch_names = tuple(str(c) for c in self.ch_names)
        if len(ch_names) != n_rows or len(set(ch_names)) != len(ch_names):
            raise DataError(
                f"{self._owner()}.ch_names must hold {n_rows} unique names (one per "
                f"row of {rows}), got {list(ch_names)}."
            )
        return ch_names

    def _check_units(self, expected, how):
        if self.units != expected:
            raise DataError(f"{self._owner()}.units must be {expected!r} ({how}), got {self.units!r}.")

    def _checked_record(self):
        """``record`` as a tuple of JSON-serialisable dicts (a deep copy)."""
        record = _jsonable(copy.deepcopy(list(self.record or ())))
        try:
            json.dumps(record)
        except (TypeError, ValueError) as err:  # pragma: no cover - _jsonable covers it
            raise DataError(f"{self._owner()}.record must be JSON-serialisable: {err}") from None
        return tuple(record)

    def _checked_source(self):
        """``source`` as a str (paths as their file-system spelling), or None."""
        if self.source is None or isinstance(self.source, str):
            return self.source
        return os.fspath(self.source) if isinstance(self.source, os.PathLike) else str(self.source)

    def pick(self, names):
        """Return a new object with the named channels (or regions), in the given order.

        Parameters
        ----------
        names : str | list of str
            Channel (or region) names.

        Returns
        -------
        picked : ObservedSpectrum | ObservedEvoked
            Of the same class.
        """
        if isinstance(names, str):
            names = [names]
        idx = []
        for n in names:
            if n not in self.ch_names:
                raise DataError(f"Unknown channel {n!r}; {self._WHAT} has {_fmt_names(self.ch_names)}.")
            idx.append(self.ch_names.index(n))
        return self._picked(idx)

    def _replace(self, **changes):
        """A new instance with ``changes`` (validated again)."""
        fields = {f: getattr(self, f) for f in self.__dataclass_fields__}
        fields.update(changes)
        return type(self)(**fields)

    def to_dict(self):
        """Plain, JSON-serialisable dict of every field (for result attributes).

        Returns
        -------
        d : dict
            Arrays as (nested) lists; rebuild with :meth:`from_dict`.
        """
        return {f: _plain(getattr(self, f)) for f in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d):
        """Rebuild an instance from :meth:`to_dict` output (a dict or its JSON text).

        Parameters
        ----------
        d : dict | str
            The dict, or the JSON string of it.

        Returns
        -------
        obj : instance of the class
        """
        if isinstance(d, (str, bytes)):
            d = json.loads(d)
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise DataError(f"Unknown {cls.__name__} field(s) {sorted(unknown)}.")
        return cls(**d)
