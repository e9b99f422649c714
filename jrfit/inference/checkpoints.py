"""Checkpoints of a spectral fit: each finished channel saved, so that an interrupted run resumes.

A channel's fit is pickled under a key (:func:`checkpoint_key`) that hashes
everything it depends on (data, leakage kernel, priors, settings, channel
index, jrfit version): :func:`load_checkpoint` returns it only for the same fit.
"""

from __future__ import annotations

import json

import numpy as np

from jrfit import __version__

__all__ = ["checkpoint_key", "save_checkpoint", "load_checkpoint"]


def checkpoint_key(y, n_eff, kernel, priors, config, ci):
    """Hash of everything a channel's fit depends on: a checkpoint is reused only for the same fit."""
    import hashlib

    h = hashlib.sha256()
    for arr in (y, kernel.freqs, kernel.fine_freqs, kernel.matrix):
        h.update(np.ascontiguousarray(arr, float).tobytes())
    h.update(
        json.dumps(
            [n_eff, kernel.description, priors.to_dict(), config.__dict__, ci, __version__], sort_keys=True, default=str
        ).encode()
    )
    return h.hexdigest()


def _checkpoint_file(folder, ch):
    import hashlib
    from pathlib import Path

    return Path(folder) / f"channel-{hashlib.sha1(ch.encode()).hexdigest()[:12]}.pkl"


def save_checkpoint(folder, ch, key, bundle):
    """Write one finished channel (atomically) so that an interrupted run can resume after it."""
    import pickle
    from pathlib import Path

    from jrfit.utils.atomic import atomic_path

    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_path(_checkpoint_file(folder, ch)) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(dict(key=key, channel=ch, bundle=bundle), f, protocol=pickle.HIGHEST_PROTOCOL)


def load_checkpoint(folder, ch, key):
    """The finished fit of ``ch`` saved under ``key``, or None."""
    import pickle

    fname = _checkpoint_file(folder, ch)
    if not fname.exists():
        return None
    try:
        with open(fname, "rb") as f:
            saved = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    return saved["bundle"] if saved.get("key") == key and saved.get("channel") == ch else None
