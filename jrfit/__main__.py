"""``python -m jrfit``: the command-line interface (see :mod:`jrfit.cli.app`)."""

import sys

from jrfit.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
