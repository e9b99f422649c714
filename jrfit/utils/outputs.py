"""The files one run writes, as a unit: checked before any work, locked, committed together.

A fit writes a result set (the NetCDF, its report and any companion fits'):
:class:`OutputSet` checks the folder is writable and the set is new (or
``--overwrite`` was given) before anything is loaded, takes an exclusive
lock so that a second run into the same folder is refused at once instead of
after its fit, and writes every file to a temporary name first; only when all
are complete are they moved into place, the primary result (the NetCDF)
last. A run killed before the last move leaves no NetCDF, and a rerun
replaces whatever companions it finds from the interrupted run (the set is
complete if and only if its NetCDF exists).

SIGTERM, how a cluster pre-empts a job, is turned into :class:`Terminated`
(a ``KeyboardInterrupt``, as SIGINT is) by :func:`handle_signals`, so both
unwind through the same ``finally`` blocks: temporaries removed, lock
released.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import threading
from pathlib import Path

from jrfit.utils.log import logger
from jrfit.errors import JRFitError

__all__ = ["OutputSet", "Terminated", "handle_signals", "check_interrupted"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (exit status 143)."""


_RECEIVED = []  # signals received while handle_signals is active
_COMPLETED = []  # result sets put in place while handle_signals is active (what a late signal leaves)


def _on_term(signum, frame):
    _RECEIVED.append(signum)
    raise Terminated()


@contextlib.contextmanager
def handle_signals():
    """Within the block, SIGTERM raises :class:`Terminated` (SIGINT raises KeyboardInterrupt as usual)."""
    _RECEIVED.clear()
    _COMPLETED.clear()
    try:
        old = signal.signal(signal.SIGTERM, _on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def completed():
    """The files of the result sets put in place since :func:`handle_signals` was entered."""
    return list(_COMPLETED)


def check_interrupted(n_done, n_wanted, what="draws"):
    """Raise the pending interrupt if a sampler returned early (it caught Ctrl-C or SIGTERM itself)."""
    if n_done < n_wanted:
        if signal.SIGTERM in _RECEIVED:
            raise Terminated()
        raise KeyboardInterrupt(f"sampling stopped after {n_done} of {n_wanted} {what}")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT and SIGTERM back while a few renames run; a signal that came is raised on exit.

    Done at the Python level (handlers that only note the signal): a signal
    mask would not do, as the kernel may deliver a process-directed signal to
    any other thread, whose C handler then makes the main thread run the
    Python handler at once. Only in the main thread (elsewhere signals are
    not handled by Python).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []

    def hold(signum, frame):
        pending.append(signum)

    old = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending:  # delivered now to the handlers the run had (Terminated, KeyboardInterrupt, or the default)
            signal.raise_signal(signal.SIGTERM if signal.SIGTERM in pending else signal.SIGINT)


class OutputSet:
    """The result files of one run, written together.

    Parameters
    ----------
    folder : path-like
        Output folder (created if its parent exists).
    files : sequence of str
        File names in ``folder``, the primary result last (it is moved
        into place last: the set is complete if and only if it exists).
    overwrite : bool
        Replace a complete existing set.
    option : str
        The option that names the folder, for messages (``--out``).
    """

    def __init__(self, folder, files, *, overwrite=False, option="--out"):
        self.folder = Path(folder)
        self.files = [self.folder / f for f in files]
        self.overwrite = bool(overwrite)
        self.option = option
        self._lock = self.folder / f".{Path(files[-1]).name}.lock"
        self._held = False
        self._created = False  # the folder was made by this run (removed again if left empty)

    @property
    def primary(self):
        """The primary result file (moved into place last)."""
        return self.files[-1]

    def check(self):
        """Before any work: the folder can be written, and the set is new or may be replaced."""
        if self.folder.exists() and not self.folder.is_dir():
            raise JRFitError(f"{self.option} {self.folder} is a file; give a folder.")
        if not self.folder.exists():
            if not self.folder.parent.exists():
                raise JRFitError(f"The parent of {self.option} {self.folder} does not exist: create it first.")
            self.folder.mkdir(exist_ok=True)
            self._created = True
        try:
            fd, probe = tempfile.mkstemp(prefix=".jrfit-write-test.", dir=self.folder)
            os.close(fd)
            os.remove(probe)
        except OSError as err:
            raise JRFitError(
                f"Cannot write into the output folder {self.folder} ({err.strerror}): fix its permissions "
                f"or choose another folder with {self.option}."
            ) from err
        if self.primary.exists() and not self.overwrite:
            raise JRFitError(f"{self.primary} exists; pass --overwrite to replace it.")
        leftover = [f for f in self.files[:-1] if f.exists()]
        if leftover and not self.primary.exists():
            logger.info(
                f"Replacing {', '.join(f.name for f in leftover)} left by an interrupted run (no {self.primary.name})."
            )
        return self

    def acquire(self):
        """Take the folder's lock for this set, or refuse if another live run holds it."""
        record = f"{os.getpid()} {socket.gethostname()}\n"
        for _attempt in range(2):
            try:
                fd = os.open(self._lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None:
                    raise JRFitError(
                        f"Another jrfit run (pid {holder[0]} on {holder[1]}) is writing {self.primary.name} "
                        f"into {self.folder}: wait for it to finish, or choose another {self.option}."
                    ) from None
                logger.info(f"Removing a stale lock {self._lock.name} (its run is gone).")
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._lock)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(record)
            self._held = True
            if self.primary.exists() and not self.overwrite:  # a run that held the lock finished meanwhile
                self.release()
                raise JRFitError(f"{self.primary} exists; pass --overwrite to replace it.")
            self._remove_temporaries()
            return self
        raise JRFitError(f"Could not lock {self._lock}: remove it if no jrfit run is writing into {self.folder}.")

    def _remove_temporaries(self):
        """Temporaries of this set left by a killed run (only while holding the lock)."""
        for path in self.files:
            for tmp in self.folder.glob(f".{path.name}.*.tmp*"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _holder(self):
        """(pid, host) of the live run holding the lock, or None if the lock is stale."""
        try:
            pid_s, host = self._lock.read_text().split()
            pid = int(pid_s)
        except (OSError, ValueError):
            return None  # unreadable or half-written: treat as stale
        if host != socket.gethostname():
            return (pid, host)  # cannot tell from here: assume alive
        return (pid, host) if _pid_alive(pid) else None

    def release(self):
        """Drop the lock; remove the folder again if this run made it and nothing was written."""
        if self._held:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._lock)
            self._held = False
        if self._created:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only succeeds if empty
            self._created = False

    def __enter__(self):
        try:
            return self.check().acquire()
        except BaseException:
            self.release()
            raise

    def __exit__(self, *exc):
        self.release()
        return False

    def _move_into_place(self, temps, writers):
        umask = os.umask(0)
        os.umask(umask)
        for path, tmp in temps.items():
            os.chmod(tmp, 0o666 & ~umask)
            if path != self.primary:
                os.replace(tmp, path)
        for path in self.files[:-1]:  # a companion this run did not make is stale
            if path not in writers and path.exists():
                os.remove(path)
        if self.primary in temps:
            os.replace(temps[self.primary], self.primary)

    def commit(self, writers):
        """Write every file to a temporary name, then move them all into place (primary last).

        Parameters
        ----------
        writers : mapping of Path -> callable
            For each file of the set, a function writing it to the path it
            is given.
        """
        temps = {}
        try:
            for path in self.files:
                if path not in writers:
                    continue
                suffix = "".join(path.suffixes)
                with _signals_deferred():  # a temporary is registered (and so removed) as soon as it exists
                    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=self.folder)
                    temps[path] = Path(tmp)
                    os.close(fd)
                writers[path](temps[path])
            placed = []
            try:
                with _signals_deferred():  # SIGINT/SIGTERM wait until the whole set is in place
                    self._move_into_place(temps, writers)
                    placed.append(True)
                    _COMPLETED.extend(p for p in self.files if p in writers)
            except (KeyboardInterrupt, Terminated) as stop:  # held back, delivered once the set was complete
                if placed:  # (where signals cannot be held back, one may come mid-way: then nothing is claimed)
                    stop.written = [p for p in self.files if p in writers]
                raise
        finally:
            for tmp in temps.values():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
        return [p for p in self.files if p in writers]
