"""The report's HTML pieces: numbers as the tables print them, escaped cells, tables, tags, recorded attributes."""

from __future__ import annotations

import html

import numpy as np


def _fmt(x, digits=4):
    """A number with ``digits`` significant digits (the format of the tables)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _rhat(x):
    x = _float(x)
    return f"{x:.3f}" if np.isfinite(x) else "n/a"


def _ess(x):
    x = _float(x)
    return f"{x:.0f}" if np.isfinite(x) else "n/a"


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _esc(x):
    return html.escape(str(x))


def _table(header, rows, klass="table table-sm table-striped", raw=False):
    """HTML table; cells are escaped unless ``raw`` (then they are HTML)."""
    cell = (lambda c: str(c)) if raw else _esc
    out = [f'<table class="{klass}"><thead><tr>']
    out += [f"<th>{_esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _bad(text, bad):
    return f'<span style="color:#b00020;font-weight:bold">{_esc(text)}</span>' if bad else _esc(text)


def _tag(ch):
    tag = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(ch))
    return f"ch-{tag}"


def _interval(x, digits=4):
    x = x[np.isfinite(x)]
    if not x.size:
        return "n/a"
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return f"{_fmt(med, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _main_regime(reg):
    if not isinstance(reg, dict) or not reg:
        return "n/a"
    label, frac = max(reg.items(), key=lambda kv: kv[1])
    return f"{label} ({100 * float(frac):.0f} %)"


def _plain(value):
    """A value of the record as text: dicts as 'key: value' pairs, lists joined, no JSON braces."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "none"
    if value is None:
        return "none"
    return _fmt(value) if isinstance(value, float) else str(value)
