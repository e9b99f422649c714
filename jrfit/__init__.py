"""jrfit: Bayesian fitting of the Jansen-Rit neural-mass model to EEG.

The main entry points are importable from the top level; heavy dependencies
(MNE, PyMC) are only imported when the name that needs them is first used.
"""

__version__ = "0.1.0"

import warnings as _warnings

# ArviZ announces its refactor once a day on import; it concerns ArviZ's own API, not
# jrfit's results, and would open every run of a user's script or job log
_warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)

from jrfit.utils.log import set_log_level  # noqa: E402 (after the warning filter)
from jrfit.errors import DataError, FitError, JRFitError, ModelError  # noqa: E402
from jrfit.model.params import JRParams  # noqa: E402

# the public API: name -> module, imported on first use (MNE and PyMC load only when needed)
_LAZY = {
    # forward model
    "simulate": "simulators.column",
    "linear_psd": "model.spectrum",
    "bifurcation": "dynamics.bifurcation",
    "load_connectivity": "model.connectome",
    "simulate_network": "simulators.network",
    # data: a recording's spectrum or evoked responses
    "prepare_spectrum": "data.spectrum",
    "ObservedSpectrum": "data.spectrum",
    "prepare_evoked": "data.evoked",
    "ObservedEvoked": "data.evoked",
    # inference: fit_psd is what `jrfit fit-psd` calls (it picks the route per channel)
    "fit_psd": "inference.routes",
    "fit_spectrum": "inference.spectral",
    "FitResult": "inference.results",
    "fit_erp": "inference.erp",
    # report
    "make_report": "report.html",
}

__all__ = [
    "JRParams",
    "JRFitError",
    "DataError",
    "ModelError",
    "FitError",
    "set_log_level",
    "__version__",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'jrfit' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
