"""Logging in the style of MNE: one 'jrfit' logger and a ``verbose`` argument."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging

logger = logging.getLogger("jrfit")
if not logger.handlers:
    _h = logging.StreamHandler()
    _h.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_h)
    logger.setLevel(logging.WARNING)
    logger.propagate = True

_LEVELS = dict(
    debug=logging.DEBUG, info=logging.INFO, warning=logging.WARNING, error=logging.ERROR, critical=logging.CRITICAL
)


def _parse_level(verbose):
    if verbose is None:
        return None
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        try:
            return _LEVELS[verbose.lower()]
        except KeyError:
            raise ValueError(
                f"Invalid value for the 'verbose' parameter. Allowed values are "
                f"{sorted(_LEVELS)}, True, False or None, but got {verbose!r} instead."
            ) from None
    return int(verbose)


def set_log_level(verbose=None):
    """Set the level of jrfit's logger.

    Parameters
    ----------
    verbose : bool | str | int | None
        True or 'info' shows progress, False or 'warning' only warnings,
        'debug' everything. None leaves the level unchanged.

    Returns
    -------
    old_level : int
        The previous level.
    """
    old = logger.level
    level = _parse_level(verbose)
    if level is not None:
        logger.setLevel(level)
    return old


def verbose(func):
    """Decorator: a ``verbose`` keyword sets the log level for one call."""
    sig = inspect.signature(func)
    if "verbose" not in sig.parameters:
        raise RuntimeError(f"{func.__name__} needs a 'verbose' parameter")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        bound = sig.bind_partial(*args, **kwargs)
        level = _parse_level(bound.arguments.get("verbose"))
        if level is None:
            return func(*args, **kwargs)
        old = logger.level
        logger.setLevel(level)
        try:
            return func(*args, **kwargs)
        finally:
            logger.setLevel(old)

    return wrapper


@contextlib.contextmanager
def quiet_compile():
    """Context for compiling a PyMC model's log density: PyTensor's 'could not link to a BLAS' warning off.

    The warning concerns PyTensor's C backend, which jrfit uses only for the
    initialisation's log density (matrices of at most a few hundred entries)
    and for PyMC's sampler; nutpie samples the numba-compiled graph, which
    does not use that BLAS. Other warnings pass through.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
        yield


@contextlib.contextmanager
def quiet_arviz_shapes():
    """ArviZ's 'Shape validation failed' log line off: a one-chain fit is reported by jrfit itself.

    With one chain ArviZ logs that the shape is below its (2 chains, 4 draws)
    minimum before returning NaN for R-hat; jrfit's diagnostics then say that
    R-hat needs two chains and how to ask for them.
    """
    import logging

    az_log = logging.getLogger("arviz")
    old = az_log.level
    az_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        az_log.setLevel(old)
