"""The cache folders that jrfit's dependencies write, checked before a fit starts.

PyTensor compiles the models into ``base_compiledir`` (numba's compiled code
too, in its ``numba`` subfolder) and ArviZ writes a stamp file into the user
cache folder on import. An unwritable folder would otherwise end a run deep in
an import with a traceback naming neither the cache nor the fix; on a cluster
the usual cause is a read-only or shared home directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jrfit.errors import JRFitError

__all__ = ["check_caches"]


def _cache_folders():
    """``(what, folder, how to move it)`` for each cache a fit writes."""
    from pytensor.configdefaults import config

    yield (
        "PyTensor's compile cache (base_compiledir)",
        Path(config.base_compiledir),
        "Move it to a writable folder, e.g. export PYTENSOR_FLAGS=base_compiledir=$SCRATCH/pytensor "
        "(a folder shared by cluster jobs saves each job the compilation).",
    )
    try:  # where ArviZ keeps its stamp file (platformdirs comes with ArviZ versions that write one)
        from platformdirs import user_cache_dir
    except ImportError:
        user_cache_dir = None
    if user_cache_dir is not None:
        yield (
            "ArviZ's cache folder",
            Path(user_cache_dir("arviz", "arviz")),
            "Point XDG_CACHE_HOME to a writable folder.",
        )
    if os.environ.get("NUMBA_CACHE_DIR"):
        yield (
            "numba's cache (NUMBA_CACHE_DIR)",
            Path(os.environ["NUMBA_CACHE_DIR"]),
            "Set NUMBA_CACHE_DIR to a writable folder, or unset it.",
        )


def _unwritable(folder):
    """Why ``folder`` cannot be created or written (None if it can)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".jrfit-probe-"):
            pass
    except OSError as err:
        return f"{type(err).__name__}: {err.strerror or err}"
    return None


def check_caches():
    """Raise :class:`~jrfit.JRFitError` naming the cache and the fix if one cannot be written.

    Creates the folders that do not exist yet (the dependencies would create
    them on first use anyway).
    """
    for what, folder, fix in _cache_folders():
        reason = _unwritable(folder)
        if reason:
            raise JRFitError(f"{what} {folder} cannot be written ({reason}). {fix}")
