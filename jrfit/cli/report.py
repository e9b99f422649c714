"""``jrfit report``: rebuild the HTML report of a saved result."""

from __future__ import annotations

import sys

from jrfit.cli import options as opt
from jrfit.errors import JRFitError


def build(subparsers, parent):
    p = subparsers.add_parser(
        "report",
        parents=[parent],
        formatter_class=opt.formatter,
        help="rebuild the HTML report of a saved result (.nc)",
        description="Rebuild the HTML report from a result saved by `jrfit fit-psd` (NetCDF).",
    )
    p.add_argument("result", help="RESULT.nc written by jrfit fit-psd")
    p.add_argument(
        "--out", default=None, metavar="FILE.html", help="report file (default: next to RESULT, *_report.html)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument(
        "--detail",
        choices=("auto", "full", "compact"),
        default="auto",
        help="per-channel sections: every figure (full), or verdicts, fit, parameters and "
        "diagnostics (compact); auto (default): full up to 8 channels",
    )
    p.set_defaults(func=run)


def run(args):
    from pathlib import Path

    from jrfit.report.html import make_report

    res = Path(args.result)
    if not res.is_file():
        raise JRFitError(f"Result file {res} not found: give the .nc written by `jrfit fit-psd`.")
    out = Path(args.out) if args.out else res.with_name(res.stem.removesuffix("_jrfit") + "_report.html")
    make_report(res, out, overwrite=args.overwrite, detail=args.detail)
    sys.stdout.write(f"wrote {out}\n")
    return 0
