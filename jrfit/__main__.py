"""``python -m jrfit``: the command-line interface (see :mod:`jrfit.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
