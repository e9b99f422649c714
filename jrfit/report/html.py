"""HTML report of a spectral fit: one self-contained file for a reader who did not run it.

:func:`make_report` reads a fit result (ArviZ InferenceData, or the NetCDF
file it was saved to) and writes one HTML file with :class:`mne.Report`,
every figure embedded as a PNG. Sections:

* **Summary**: input file, channels, band, likelihood, versions, seed; a
  PASS/FAIL banner per channel from the recorded convergence diagnostics
  (a failed channel lists its problems); an overview table of the channels.
* **One section per channel**: the data spectrum with the posterior-predictive
  bands; the parameter table (median, 90 % interval, R-hat, bulk and tail
  ESS); prior against posterior densities; posterior correlations and the
  most correlated pairs (what they mean for identifiability); the posterior
  operating points on the bifurcation diagram at the posterior-median
  constants, with the regime fractions and the distance to the stability
  boundary; the diagnostics and trace/rank plots.
* **Provenance**: the preprocessing record, the priors and every attribute of
  the result.

Figures come from :mod:`jrfit.viz` (matplotlib is imported only there). This
module assembles the page; the sections are built in :mod:`jrfit.report.summary`,
:mod:`~jrfit.report.channel`, :mod:`~jrfit.report.dynamics`,
:mod:`~jrfit.report.erp` and :mod:`~jrfit.report.provenance`, from the shared
pieces of :mod:`~jrfit.report.sections`, :mod:`~jrfit.report.verdicts` and
:mod:`~jrfit.report.markup`; :mod:`~jrfit.report.record` reads the result.
"""

from __future__ import annotations

import time
from pathlib import Path

from jrfit.errors import JRFitError
from jrfit.report.channel import _add_channel
from jrfit.report.erp import _add_erp_channel, _add_erp_comparison, _add_erp_summary
from jrfit.report.provenance import _add_provenance
from jrfit.report.record import _check_erp_result, _check_result, _erp_view, _json_attr, _load
from jrfit.report.sections import _figure_adder
from jrfit.report.summary import _add_summary
from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger, verbose
from jrfit.viz.results import channel_names

__all__ = ["make_report"]

# more channels than this: sections start collapsed, only failing channels get a banner in the summary
_EXPANDED_MAX = 4
# more channels than this: per-channel sections in the compact view ('auto' detail)
_FULL_DETAIL_MAX = 8
_DETAILS = ("auto", "full", "compact")


@verbose
def make_report(
    idata_or_path, fname, *, title=None, overwrite=False, cycles=True, detail="auto", result_file=None, verbose=None
):
    """Write the HTML report of a spectral fit.

    Parameters
    ----------
    idata_or_path : arviz.InferenceData | path-like
        The fit result, or the NetCDF file it was saved to (read with
        :func:`arviz.from_netcdf`).
    fname : path-like
        Output file; must end in ``.html``. Written atomically: if anything
        fails, no (partial) file is left.
    title : str | None
        Title of the report (default: from the input file name).
    overwrite : bool
        Replace ``fname`` if it exists (default: refuse).
    cycles : bool
        Compute the limit cycles of the bifurcation diagram of each channel
        (about 1-4 s per channel, cached for equal constants); if False only
        the fixed points, Hopf points and folds (well under a second).
    detail : 'auto' | 'full' | 'compact'
        What each channel's section shows. ``'full'``: every figure (spectrum,
        prior and posterior, correlations and pairs, bifurcation diagram,
        traces). ``'compact'``: the verdicts, the spectrum and fit, the
        parameter table and the diagnostics, with traces only for channels
        that failed: about a quarter of the size and time per channel.
        ``'auto'`` (default): full up to 8 channels, compact beyond. Beyond 4
        channels the per-channel sections start collapsed, so that the
        summary (overview table, scalp maps, failed channels) opens the page.
    result_file : path-like | None
        Where the result is (or is being) saved, shown in the summary
        (default: the path read, if ``idata_or_path`` is one).
    verbose : bool | str | int | None
        Log level for this call (see :func:`jrfit.set_log_level`).

    Returns
    -------
    fname : pathlib.Path
        The report written.
    """
    import mne

    from jrfit.utils.check import check_option

    fname = Path(fname).expanduser()
    if fname.suffix.lower() != ".html":
        raise JRFitError(f"The report file name must end in .html, got {str(fname)!r}.")
    if fname.exists() and not overwrite:
        raise JRFitError(f"{fname} exists; pass overwrite=True (--overwrite) to replace it.")
    check_option("detail", detail, _DETAILS)
    idata, source = _load(idata_or_path)
    source = str(result_file) if result_file is not None else source
    if str(idata.attrs.get("kind", "")) == "erp":
        return _make_erp_report(idata, source, fname, title, cycles)
    _check_result(idata)
    channels = channel_names(idata)
    if detail == "auto":
        detail = "full" if len(channels) <= _FULL_DETAIL_MAX else "compact"
    attrs = dict(idata.attrs)
    if title is None:
        name = Path(str(attrs.get("input_file") or source or "")).name
        title = f"jrfit spectral fit: {name}" if name else "jrfit spectral fit"
    t0 = time.perf_counter()
    logger.info("Report of %d channel(s) %s -> %s", len(channels), channels, fname)
    many = len(channels) > _EXPANDED_MAX
    rep = mne.Report(title=title, verbose=False, collapse=("section",) if many else ())
    diag = _json_attr(attrs, "diagnostics", {})

    add_fig = _figure_adder(rep)
    _add_summary(rep, idata, channels, attrs, diag, source, add_fig, detail, many)
    for ch in channels:
        t1 = time.perf_counter()
        _add_channel(rep, idata, ch, attrs, diag, add_fig, cycles, detail)
        logger.info("  channel %s: %.1f s", ch, time.perf_counter() - t1)
    _add_provenance(rep, attrs)
    return _save(rep, fname, t0)


def _make_erp_report(idata, source, fname, title, cycles):
    import mne

    _check_erp_result(idata)
    attrs = dict(idata.attrs)
    conds = [str(c) for c in idata.posterior.coords["condition"].values]
    channels = [str(c) for c in idata.posterior.coords["channel"].values]
    if title is None:
        name = Path(str(attrs.get("input_file") or source or "")).name
        title = f"jrfit ERP fit: {name}" if name else "jrfit ERP fit"
    t0 = time.perf_counter()
    logger.info("ERP report of %d condition(s) x %d channel(s) -> %s", len(conds), len(channels), fname)
    rep = mne.Report(title=title, verbose=False)
    add_fig = _figure_adder(rep)
    views = {c: _erp_view(idata, c) for c in conds}
    _add_erp_summary(rep, idata, views, conds, channels, attrs, source)
    if len(conds) > 1:
        _add_erp_comparison(rep, idata, conds, channels, add_fig)
    for c in conds:
        view = views[c]
        diag = _json_attr(view.attrs, "diagnostics", {})
        for ch in channels:
            t1 = time.perf_counter()
            _add_erp_channel(rep, view, c, ch, dict(view.attrs), diag, add_fig, cycles)
            logger.info("  %s/%s: %.1f s", c, ch, time.perf_counter() - t1)
    _add_provenance(rep, attrs)
    return _save(rep, fname, t0)


def _save(rep, fname, t0):
    with atomic_path(fname) as tmp:
        rep.save(tmp, open_browser=False, overwrite=True, verbose=False)
    logger.info("Report written in %.1f s: %s", time.perf_counter() - t0, fname)
    return fname
