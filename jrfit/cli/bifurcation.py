"""``jrfit bifurcation``: the bifurcation diagram in the input p, as a figure or JSON."""

from __future__ import annotations

import json
import sys

import numpy as np

from jrfit.cli import options as opt
from jrfit.dynamics.bifurcation import bifurcation
from jrfit.dynamics.serialize import bifurcation_to_dict
from jrfit.model.params import JRParams
from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger

_BIF_EXTS = (".json",) + opt.FIG_EXTS


def _points_table(bif):
    head = f"{'type':12s} {'p (/s)':>10s} {'v (mV)':>9s} {'freq (Hz)':>10s}  note"
    lines = [head, "-" * len(head)]
    for pt in bif.points:
        f = f"{pt.frequency:10.2f}" if np.isfinite(pt.frequency) else f"{'-':>10s}"
        lines.append(f"{pt.kind:12s} {pt.p:10.3f} {pt.v:9.3f} {f}  {pt.criticality}")
    if not bif.points:
        lines.append(f"(no special point for p in [{bif.p_range[0]:g}, {bif.p_range[1]:g}] /s)")
    return "\n".join(lines)


def build(subparsers, parent):
    p_lo, p_hi = opt.library_default(bifurcation, "p_range")
    p = subparsers.add_parser(
        "bifurcation",
        parents=[parent],
        formatter_class=opt.formatter,
        help="bifurcation diagram in the input p (figure or JSON)",
        description=(
            "One-parameter bifurcation diagram of the column in the input p (/s): fixed points\n"
            "and their stability, Hopf points, folds and, unless --no-cycles, limit cycles and\n"
            "their folds (see jrfit.dynamics.bifurcation.bifurcation). The table of special points (p in\n"
            "/s, v in mV, frequency in Hz) is always printed."
        ),
        epilog=opt.param_table()
        + (
            "\n\nmu is not used: p is the bifurcation parameter.\n"
            "Output: .png/.pdf/.svg (the diagram) or .json (special points: type, p in /s,\n"
            "v in mV, frequency in Hz; fixed-point and cycle branch summaries).\n\n"
            "Example: jrfit bifurcation --set B=25 --out bif.png"
        ),
    )
    g = p.add_argument_group("diagram")
    g.add_argument(
        "--p-min", type=float, default=p_lo, metavar="P", help="lowest input p, in /s (default %(default)g /s)"
    )
    g.add_argument(
        "--p-max", type=float, default=p_hi, metavar="P", help="highest input p, in /s (default %(default)g /s)"
    )
    g.add_argument(
        "--no-cycles",
        action="store_true",
        help="skip limit cycles (fixed points, Hopf points and folds only: well under a second instead of 5-10 s)",
    )
    opt.add_params(p, shortcuts=False)
    opt.add_output(p, _BIF_EXTS, "figure or JSON")
    p.set_defaults(func=run)


def run(args):
    params = JRParams(**opt.param_changes(args))
    out, ext = opt.check_out(args.out, _BIF_EXTS, args.overwrite)
    bif = bifurcation(params, (args.p_min, args.p_max), cycles=not args.no_cycles)
    with atomic_path(out) as tmp:
        if ext == ".json":
            tmp.write_text(json.dumps(bifurcation_to_dict(bif), indent=2, allow_nan=False) + "\n")
        else:
            opt.write_figure(bif.plot(), tmp, ext)
    sys.stdout.write(_points_table(bif) + "\n")
    logger.info(f"{bif!r} -> {out}")
    return 0
