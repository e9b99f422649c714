"""HTML reports (stage 6): one self-contained file per fit for a reader who did not run it."""

from jrfit.report.html import make_report

__all__ = ["make_report"]
