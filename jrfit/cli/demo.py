"""``jrfit demo``: fit the built-in example end to end."""

from __future__ import annotations

import sys
from pathlib import Path

from jrfit.cli import options as opt
from jrfit.utils.log import set_log_level


def build(subparsers, parent):
    p = subparsers.add_parser(
        "demo",
        parents=[parent],
        formatter_class=opt.formatter,
        help="fit the built-in example recording and write its report into reports/",
        description=(
            "Fit the built-in example (two channels simulated with jrfit at known parameters,\n"
            "with pink, white and 50 Hz noise; jr_example_raw.fif, shipped in the package\n"
            "folder jrfit/datasets) end to end and write the result and the report into\n"
            "--out (default reports/)."
        ),
    )
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run, needs_caches=True)


def run(args):
    from jrfit.datasets.example import run_demo

    if not args.quiet:
        set_log_level("info")
    result, report = run_demo(args.out)
    sys.stdout.write(f"wrote {Path(args.out) / 'jr_example_fit.nc'}\nwrote {report}\n")
    return 0
