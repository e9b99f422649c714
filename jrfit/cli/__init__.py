"""Command-line interface: ``jrfit <command> ...`` (also ``python -m jrfit``)."""

from jrfit.cli.app import main

__all__ = ["main"]
