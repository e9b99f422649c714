"""Exception hierarchy of jrfit.

Every domain failure raises a :class:`JRFitError` subclass whose message says
what was wrong and what to change.
"""

__all__ = ["JRFitError", "DataError", "ModelError", "FitError"]


class JRFitError(ValueError):
    """Base class of jrfit's errors (a ValueError: bad input or options)."""


class DataError(JRFitError):
    """A recording, channel, event or band cannot be used as asked."""


class ModelError(JRFitError):
    """The model cannot be evaluated at the requested parameters."""


class FitError(JRFitError):
    """Inference failed or was configured inconsistently."""
