"""Events and conditions of ERPs.

The events of a continuous recording (its annotations, else its stim
channel), the event-id keys a condition selects (MNE's rules: exact key,
event code, or ``/``-separated tags), the averages of an evoked file by
comment or index, and the messages that list what there is when a
condition is unknown.
"""

from __future__ import annotations

from collections import Counter

import mne
import numpy as np

from jrfit.utils.log import logger
from jrfit.errors import DataError

from jrfit.data.common import _fmt_names, _mne_verbose, _step


def _raw_events(raw, name, record):
    """Events and event_id of a continuous recording (annotations, else stim channel)."""
    events, event_id, origin = None, {}, None
    if len(raw.annotations):
        events, event_id = mne.events_from_annotations(raw, verbose=_mne_verbose())
        origin = "annotations"
    if not event_id:
        stim = mne.pick_types(raw.info, meg=False, stim=True)
        if len(stim):
            events = mne.find_events(
                raw,
                stim_channel=[raw.ch_names[i] for i in stim],
                shortest_event=1,
                consecutive=True,
                verbose=_mne_verbose(),
            )
            event_id = {str(c): int(c) for c in np.unique(events[:, 2])} if len(events) else {}
            origin = "stim channel"
    if not event_id:
        n_bad = sum(a["description"].lower().startswith(("bad", "edge")) for a in raw.annotations)
        raise DataError(
            f"{name or 'The recording'} has no events: no annotations"
            + (f" other than {n_bad} BAD_/EDGE annotation(s)" if n_bad else "")
            + " and no stim channel with events. Add the events as annotations "
            "(raw.set_annotations(mne.Annotations(onsets, 0, 'stim'))) or pass epochs "
            "made with mne.Epochs.",
            cli={
                "(raw.set_annotations(mne.Annotations(onsets, 0, 'stim'))) or pass epochs made with mne.Epochs.": (
                    "(or a stim channel) to the file, or give an epochs file (-epo.fif) made with MNE."
                )
            },
        )
    counts = Counter(events[:, 2].tolist())
    _step(
        record,
        "events",
        origin=origin,
        counts={k: counts.get(v, 0) for k, v in event_id.items()},
    )
    return events, event_id


def _match_keys(key, event_id):
    """Event-id keys selected by ``key`` (MNE's rules: exact, code, or '/'-tags)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return [k for k, v in event_id.items() if v == int(key)]
    if not isinstance(key, str):
        return []
    if key in event_id:
        return [key]
    tags = set(key.split("/"))
    return [k for k in event_id if tags <= set(k.split("/"))]


def _conditions(event, available, name):
    """The requested conditions as a list, and whether a list was asked for."""
    if event is None:
        if len(available) == 1:
            return [available[0]], False
        raise DataError(
            f"{name or 'The data'} has {len(available)} conditions "
            f"({_fmt_names(repr(a) for a in available)}); choose one with event=..., "
            "or pass a list of them.",
            cli={
                "choose one with event=..., or pass a list of them": (
                    "choose one with --event NAME (repeat it for several)"
                )
            },
        )
    is_list = isinstance(event, (list, tuple))
    events = list(event) if is_list else [event]
    if not events:
        raise DataError("'event' is an empty list; give at least one condition.")
    return events, is_list


def _unknown_event(key, available, name, what):
    return DataError(
        f"Unknown event {key!r} in {name or 'the data'}. Available {what}: "
        f"{_fmt_names(repr(a) for a in available)}. Pass one of them as event=...",
        cli={"Pass one of them as event=...": "Give one of them to --event"},
    )


def _resolve_conditions(event, event_id, name, what):
    """The event-id keys of each requested condition (by its name), and whether a list was asked for."""
    available = list(event_id)
    wanted, is_list = _conditions(event, available, name)
    keys_of = {}
    for key in wanted:
        keys = _match_keys(key, event_id)
        if not keys:
            raise _unknown_event(key, available, name, what)
        keys_of[_cond_name(key, keys)] = keys
    return keys_of, is_list


def _chosen_events(events, codes, name, record):
    """The events of ``codes``; of events at one sample, the first (as MNE's event_repeated='drop').

    So that each drop-log entry matches an event.
    """
    sel_events = events[np.isin(events[:, 2], list(codes))]
    first = np.sort(np.unique(sel_events[:, 0], return_index=True)[1])
    if len(first) < len(sel_events):
        logger.warning(
            f"{len(sel_events) - len(first)} event(s) of {name or 'the recording'} "
            "share a sample with another chosen event; only the first is kept."
        )
        _step(record, "repeated_events", n_dropped=len(sel_events) - len(first))
    return sel_events[first]


def _cond_name(key, keys):
    if isinstance(key, str):
        return key
    return keys[0] if len(keys) == 1 else str(key)


def _evoked_index(key, comments, name):
    """Index of the average named ``key`` (its comment, or its index)."""
    if isinstance(key, str) and key in comments:
        return comments.index(key)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and -len(comments) <= key < len(comments):
        return int(key)
    raise _unknown_event(key, comments, name, "conditions (evoked comments)")
