"""Command-line interface: ``jrfit <command> ...`` (also ``python -m jrfit``).

A thin layer over the public functions: each command parses its options,
calls the library and writes the result to ``--out`` atomically (a failed or
interrupted run leaves no partial file), refusing to overwrite an existing
file unless ``--overwrite`` is given. Every :class:`jrfit.errors.JRFitError`
is reported as one line ``jrfit: error: ...`` on stderr with exit code 2.

One module per command (``jrfit.cli.<command>``), each with ``build(subparsers,
parent)``, which adds its sub-parser and sets ``func`` to its ``run(args) ->
int``; the options several commands share are defined once in
:mod:`jrfit.cli.options`. Adding a command: write its module and list its
``build`` in ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys

from jrfit import __version__
from jrfit.cli import bifurcation, demo, fit_erp, fit_psd, report, simulate, spectrum
from jrfit.cli import options as opt
from jrfit.errors import JRFitError
from jrfit.utils.log import set_log_level

__all__ = ["main", "build_parser"]


_COMMANDS = (
    simulate.build,
    spectrum.build,
    bifurcation.build,
    fit_psd.build,
    fit_erp.build,
    report.build,
    demo.build,
)


def build_parser():
    """The argument parser of ``jrfit`` (one sub-parser per command)."""
    parser = argparse.ArgumentParser(
        prog="jrfit",
        formatter_class=opt.formatter,
        description="Fit the Jansen-Rit neural-mass model to EEG: command-line tools. "
        "Units: time in s, rates in /s, noise in /s^0.5, potentials in mV, "
        "frequencies in Hz.",
        epilog="`jrfit <command> --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"jrfit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log progress (level 'info')")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="<command>", required=True)
    parent = opt.common_parent()
    for build in _COMMANDS:
        build(subparsers, parent)
    return parser


def _error(msg):
    """One line on stderr; a jrfit error in the command line's terms (its flags, not Python arguments)."""
    text = msg.for_cli() if isinstance(msg, JRFitError) else str(msg)
    sys.stderr.write(f"jrfit: error: {' '.join(text.split())}\n")


def _what_was_written(stop):
    """For a stop signal: nothing, or (arriving as or after the files were put in place) the whole set."""
    from jrfit.utils.outputs import completed

    written = getattr(stop, "written", None) or completed()
    if not written:
        return "nothing was written"
    return "the signal came as the results were put in place; the set is complete: " + ", ".join(map(str, written))


def main(argv=None):
    """Run the command line ``jrfit <command> ...``.

    Parameters
    ----------
    argv : list of str | None
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    code : int
        Exit status: 0 on success, 2 for invalid options or inputs (argparse's
        errors and every :class:`jrfit.errors.JRFitError`), 1 if a file could
        not be written, 130 if interrupted (SIGINT, Ctrl-C), 143 if
        terminated (SIGTERM). An interrupted or terminated fit writes nothing.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    from jrfit.utils.outputs import Terminated, handle_signals

    old_level = set_log_level("info" if args.verbose else None)
    try:
        with handle_signals():
            if getattr(args, "needs_caches", False):  # fits compile: name an unwritable cache before any work
                from jrfit.utils.caches import check_caches

                check_caches()
            return int(args.func(args) or 0)
    except JRFitError as exc:
        _error(exc)
        return 2
    except OSError as exc:
        _error(exc)
        return 1
    except Terminated as exc:
        _error(f"terminated (SIGTERM): {_what_was_written(exc)}")
        return 143
    except KeyboardInterrupt as exc:
        _error(f"interrupted: {_what_was_written(exc)}")
        return 130
    finally:
        set_log_level(old_level)
