"""Small helpers shared by the data modules.

The processing ``record`` (a list of JSON-serialisable steps, :func:`_step`),
plain JSON values (:func:`_jsonable`), the verbosity passed to MNE and the
formatting of channel-name lists in messages.
"""

from __future__ import annotations

import os

import numpy as np

from jrfit.utils.log import logger


def _mne_verbose():
    """Verbosity passed to MNE: its warnings only, unless jrfit logs at DEBUG level."""
    return "info" if logger.getEffectiveLevel() <= 10 else "warning"


def _jsonable(obj):
    """Convert numpy types and containers into plain, JSON-serialisable Python."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        obj = float(obj)
        return obj if np.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (str, int)):
        return obj
    return repr(obj)


def _step(record, name, params=None, **result):
    entry = dict(step=name, params=_jsonable(params or {}), **_jsonable(result))
    record.append(entry)
    return entry


def _fmt_names(names, limit=70):
    names = list(names)
    text = ", ".join(names[:limit])
    if len(names) > limit:
        text += f", ... ({len(names)} in all)"
    return text
