"""(h) Provenance: the preprocessing record, the priors and every attribute of the result."""

from __future__ import annotations

import json

import numpy as np

from jrfit.report.markup import _esc, _plain, _table
from jrfit.report.record import _json_attr, _priors_from_attrs


def _step_text(st):
    """One preprocessing step in words: its parameters (if any), then what it found."""
    if st.get("step") == "channel_positions":
        return (
            f"positions of {st.get('n_channels', 0)} channel(s) in the {st.get('coord_frame') or 'unknown'} "
            "frame, in m (used for the scalp maps; listed under 'All attributes')"
        )
    params = st.get("params") or {}
    parts = [f"parameters: {_plain(params)}"] if params else []
    parts += [f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in st.items() if k not in ("step", "params")]
    return "; ".join(parts)


def _add_provenance(rep, attrs):
    section = "Provenance"
    tags = ("provenance",)
    steps = _json_attr(attrs, "preprocessing", None)
    if isinstance(steps, list) and steps:
        rows = []
        for i, st in enumerate(steps, 1):
            if isinstance(st, dict):
                rows.append((i, str(st.get("step", "?")).replace("_", " "), _step_text(st)))
            else:
                rows.append((i, str(st), ""))
        rep.add_html(
            _table(["#", "step", "parameters and results"], rows), title="Preprocessing", section=section, tags=tags
        )
    else:
        rep.add_html("<p>No preprocessing record in the result.</p>", title="Preprocessing", section=section, tags=tags)
    pri = _json_attr(attrs, "priors", None)
    if isinstance(pri, dict):
        try:
            rows = _priors_from_attrs(attrs).table()
            rep.add_html(_table(["name", "unit", "prior"], rows), title="Priors", section=section, tags=tags)
        except (KeyError, TypeError, ValueError) as err:
            rep.add_html(
                f"<p>The priors could not be read: {_esc(err)}</p>", title="Priors", section=section, tags=tags
            )
    else:
        rep.add_html("<p>No priors recorded in the result.</p>", title="Priors", section=section, tags=tags)
    shown = {}
    for k, v in attrs.items():
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        shown[k] = v
    rep.add_code(
        json.dumps(shown, indent=2, default=str),
        title="All attributes of the result",
        language="json",
        section=section,
        tags=tags,
    )
