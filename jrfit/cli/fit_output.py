"""The files a fit command writes: the result, its companions and their reports, as one set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jrfit.utils.log import logger


def fit_outputs(out_dir, stem, overwrite):
    """The result set of a fit (report, companion fits, NetCDF last), not yet checked or locked."""
    from jrfit.utils.outputs import OutputSet

    nc, html = Path(out_dir) / f"{stem}_jrfit.nc", Path(out_dir) / f"{stem}_report.html"
    c_nc, c_html = companion_paths(nc, html, "simulation")
    return OutputSet(out_dir, [html.name, c_html.name, c_nc.name, nc.name], overwrite=overwrite)


def companion_paths(nc, html, name):
    """Where a companion fit (e.g. the simulation route's) is written beside the main result."""
    stem = nc.name[: -len("_jrfit.nc")]
    return nc.with_name(f"{stem}_{name}_jrfit.nc"), html.with_name(f"{stem}_{name}_report.html")


def write_fit(result, outputs, what):
    """Write a fit result, its companions and their reports as one set; warn on stdout where a check failed."""
    from jrfit.report.html import make_report

    nc = outputs.primary
    html = nc.with_name(nc.name[: -len("_jrfit.nc")] + "_report.html")
    writers = {
        nc: lambda tmp: result.idata.to_netcdf(str(tmp)),
        html: lambda tmp: make_report(result.idata, tmp, overwrite=True, result_file=nc),
    }
    for name, companion in result.companions.items():
        c_nc, c_html = companion_paths(nc, html, name)
        writers[c_nc] = lambda tmp, c=companion: c.idata.to_netcdf(str(tmp))
        writers[c_html] = lambda tmp, c=companion, f=c_nc: make_report(c.idata, tmp, overwrite=True, result_file=f)
    logger.info(f"Writing the results into {outputs.folder}")
    for path in outputs.commit(writers):
        sys.stdout.write(f"wrote {path}\n")
    routes = json.loads(result.idata.attrs.get("routes", "{}"))
    untrusted = [c for c, r in routes.items() if r.get("trusted") == "none"]
    if untrusted:
        sys.stdout.write(f"WARNING: no fit of {', '.join(untrusted)} is trusted (see the report's route table).\n")
    if not result.passed:
        sys.stdout.write(f"WARNING: some {what} failed their convergence diagnostics: see the report.\n")
    misfit = [ch for ch, a in getattr(result, "adequacy", {}).items() if not a.get("fits", True)]
    if misfit:
        sys.stdout.write(
            f"WARNING: the model does not fit the data of {', '.join(misfit)} "
            "(posterior-predictive check): see the report.\n"
        )
    return 0
