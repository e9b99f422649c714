"""Exception hierarchy of jrfit.

Every domain failure raises a :class:`JRFitError` subclass whose message says
what was wrong and what to change. The message names the fix in the Python
interface (an argument such as ``reference=None``); where the command line has
its own way to say it (``--reference none``), the error also carries that
phrasing in ``cli``, and the command line prints :meth:`JRFitError.for_cli`.
"""

__all__ = ["JRFitError", "DataError", "ModelError", "FitError"]


class JRFitError(ValueError):
    """Base class of jrfit's errors (a ValueError: bad input or options).

    Parameters
    ----------
    message : str
        What was wrong and what to change, in the Python interface's terms.
    cli : dict of str to str | None
        Phrases of ``message`` (keys) and what the command line says instead
        (values), e.g. ``{"pass reference=None": "give --reference none"}``.
    """

    def __init__(self, message="", *, cli=None):
        super().__init__(message)
        self.cli = dict(cli or {})

    def for_cli(self):
        """The message with each Python-interface fix replaced by its command-line option."""
        text = str(self.args[0]) if self.args else ""
        for python, flag in self.cli.items():
            text = text.replace(python, flag)
        return text


class DataError(JRFitError):
    """A recording, channel, event or band cannot be used as asked."""


class ModelError(JRFitError):
    """The model cannot be evaluated at the requested parameters."""


class FitError(JRFitError):
    """Inference failed or was configured inconsistently."""
