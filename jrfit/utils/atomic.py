"""Atomic output: a crash never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from jrfit.errors import JRFitError


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to ``path``; move it into place on success.

    Parameters
    ----------
    path : str | Path
        Final file name.
    suffix : str | None
        Suffix of the temporary file (default: that of ``path``, so writers
        that check extensions, e.g. MNE's ``raw.fif``, accept it).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise JRFitError(f"Output folder {parent} does not exist: create it or choose another --out.")
    suffix = "".join(path.suffixes) if suffix is None else suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes private files; use the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
