"""jrfit: Bayesian fitting of the Jansen-Rit neural-mass model to EEG."""

__version__ = "0.1.0"

from ._logging import set_log_level
from .errors import DataError, FitError, JRFitError, ModelError
from .params import JRParams

__all__ = [
    "JRParams",
    "JRFitError",
    "DataError",
    "ModelError",
    "FitError",
    "set_log_level",
    "__version__",
]
