"""Channel names and positions.

10-05 names and template montage, user names resolved to the recording's,
bad channels dropped, picks and regions (virtual channels), sensor positions.
"""

from __future__ import annotations

import warnings
from collections import Counter

import mne
import numpy as np

from jrfit.utils.log import logger
from jrfit.errors import DataError

from jrfit.data.common import _fmt_names, _mne_verbose, _step

__all__ = ["standard_montage"]


def standard_montage():
    """The 10-05 template montage (name changed in MNE 1.13)."""
    builtin = mne.channels.get_builtin_montages()
    for name in ("colin27_1005", "standard_1005"):
        if name in builtin:
            return name, mne.channels.make_standard_montage(name)
    raise RuntimeError("no 10-05 template montage in this MNE")  # pragma: no cover


def _standardize_names(raw, record):
    """Rename channels to 10-05 spellings where they match, and set positions.

    Generalises :func:`mne.datasets.eegbci.standardize`: trailing dots (EDF
    padding, as in EEGMMIDB's ``Fc5.``), a leading ``EEG `` and a trailing
    ``-REF`` are stripped, and names matching a 10-05 name case-insensitively
    take its spelling (``FC5``, ``FCz``, ``Fp1``). Other names are kept.
    """
    try:
        mname, montage = standard_montage()
    except Exception as err:  # pragma: no cover - tolerate any montage failure
        _step(record, "standardize_names", error=str(err))
        return {}
    canon = {n.lower(): n for n in montage.ch_names}
    rename = {}
    for name in raw.ch_names:
        cand = name.strip().rstrip(".").strip()
        low = cand.lower()
        if low.startswith("eeg "):
            low = low[4:].strip()
        for suffix in ("-ref", "-avg", "-le"):
            if low.endswith(suffix):
                low = low[: -len(suffix)]
        new = canon.get(low)
        if new is not None and new != name:
            rename[name] = new
    # never create duplicates
    targets = Counter(rename.values())
    kept = set(raw.ch_names) - set(rename)
    rename = {o: n for o, n in rename.items() if targets[n] == 1 and n not in kept}
    if rename:
        raw.rename_channels(rename, verbose=_mne_verbose())
    matched = [n for n in raw.ch_names if n.lower() in canon]
    has_pos = any(np.all(np.isfinite(ch["loc"][:3])) and np.any(ch["loc"][:3] != 0) for ch in raw.info["chs"])
    montage_used = None
    note = None
    if has_pos:
        note = "kept the recording's channel positions"
    elif len(matched) >= max(1, len(raw.ch_names) // 2):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw.set_montage(montage, on_missing="ignore", match_case=False, verbose=_mne_verbose())
            montage_used = mname
        except Exception as err:  # tolerate any montage failure
            note = f"montage not set ({type(err).__name__}: {err})"
    else:
        note = "names do not match the 10-05 system; no positions set"
    _step(
        record,
        "standardize_names",
        renamed=rename,
        n_matching_1005=len(matched),
        montage=montage_used,
        note=note,
    )
    if rename:
        logger.info(f"Renamed {len(rename)} channels to 10-05 names")
    return rename


def _resolve_names(names, available, rename, what):
    """Map user names (new or original spelling) to current channel names."""
    if isinstance(names, str):
        names = [names]
    out = []
    for n in names:
        if not isinstance(n, str):
            raise DataError(f"Channel names in {what!r} must be strings, got {n!r}.")
        cur = rename.get(n, n)
        if cur not in available:
            raise DataError(f"Unknown channel {n!r} in {what!r}. Available EEG channels: {_fmt_names(available)}.")
        out.append(cur)
    return out


def _resolve_user_names(picks, regions, reference, all_eeg, rename):
    """Picks, regions and reference channels given by the user, as recording names.

    Returns
    -------
    pick_names : list | None
    region_map : dict of str -> list
    ref_names : list | None
        None for the average reference or none.
    """
    pick_names = None if picks is None else _resolve_names(picks, all_eeg, rename, "picks")
    region_map = {}
    for rname, chans in (regions or {}).items():
        if not isinstance(rname, str):
            raise DataError(f"Region names must be strings, got {rname!r}.")
        region_map[rname] = _resolve_names(chans, all_eeg, rename, f"regions[{rname!r}]")
        if not region_map[rname]:
            raise DataError(f"Region {rname!r} lists no channels.")
    if pick_names and set(pick_names) & set(region_map):
        raise DataError(
            f"Region name(s) {sorted(set(pick_names) & set(region_map))} are also "
            "picked channel names; give the regions other names."
        )
    ref_names = None
    if reference is not None and reference != "average":
        ref_names = _resolve_names(reference, all_eeg, rename, "reference")
    return pick_names, region_map, ref_names


def _drop_zero_channels(inst):
    """Drop channels left identically zero (a single reference channel); their names."""
    data = inst.get_data()
    if data.ndim == 3:
        data = data.transpose(1, 0, 2).reshape(len(inst.ch_names), -1)
    zero = [n for n, row in zip(inst.ch_names, data) if not np.any(row)]
    if not zero or len(zero) == len(inst.ch_names):
        return []
    inst.drop_channels(zero)
    return zero


def _drop_bads(raw, bads, name):
    drop = [b for b in bads if b in raw.ch_names]
    if len(drop) == len(raw.ch_names):
        reasons = Counter(bads[b] for b in drop)
        raise DataError(
            f"All {len(drop)} EEG channels of {name or 'the recording'} are bad "
            f"({', '.join(f'{n} {r}' for r, n in reasons.items())}); there is no data "
            "left. Check the recording, or pass bad_channels=None to keep them.",
            cli={"pass bad_channels=None": "give --keep-bad-channels"},
        )
    if drop:
        logger.warning(
            f"Dropped {len(drop)} bad channel(s) of {name or 'the recording'}: "
            + "; ".join(f"{b} ({bads[b]})" for b in drop)
            + " (keep detected ones with bad_channels=None, --keep-bad-channels)"
        )
        raw.drop_channels(drop)


def _montage_positions(inst):
    """Sensor positions of ``inst`` (name -> xyz in m) and their frame, where it has a montage."""
    try:
        montage = inst.get_montage()
        if montage is None:
            return {}, None
        pos = montage.get_positions()
    except Exception:  # a broken montage leaves the result without scalp maps, nothing worse
        return {}, None
    xyz = {n: np.asarray(v, float) for n, v in (pos.get("ch_pos") or {}).items()}
    return {n: v for n, v in xyz.items() if v.shape == (3,) and np.all(np.isfinite(v))}, pos.get("coord_frame")


def _record_positions(record, names, members, positions, frame):
    """The ``channel_positions`` step: where each fitted channel (region: its members' mean) sits."""
    out = {}
    for n in names:
        chans = members.get(n, [n])
        if chans and all(c in positions for c in chans):
            out[n] = [round(float(v), 6) for v in np.mean([positions[c] for c in chans], axis=0)]
    _step(record, "channel_positions", coord_frame=frame, unit="m", n_channels=len(out), positions=out)


def _select(raw, pick_names, region_map, bads, record):
    """Keep the picked channels and add region means as virtual channels (and record their positions)."""
    positions, frame = _montage_positions(raw)
    if pick_names is None and not region_map:
        _record_positions(record, raw.ch_names, {}, positions, frame)
        return raw
    kept, lost = [], []
    for n in pick_names or []:
        (kept if n in raw.ch_names else lost).append(n)
    if lost:
        logger.warning(
            f"Picked channel(s) {lost} are bad ({', '.join(bads.get(n, 'dropped') for n in lost)}) and are left out."
        )
    members = {}
    for rname, chans in region_map.items():
        good = [c for c in chans if c in raw.ch_names]
        gone = [c for c in chans if c not in raw.ch_names]
        if gone:
            logger.warning(f"Region {rname!r}: bad channel(s) {gone} left out of the mean")
        if not good:
            raise DataError(
                f"Every channel of region {rname!r} ({chans}) is bad "
                f"({', '.join(bads.get(c, 'dropped') for c in chans)}); change the "
                "region's channels or pass bad_channels=None.",
                cli={"pass bad_channels=None": "give --keep-bad-channels"},
            )
        members[rname] = good
    if not kept and not members:
        raise DataError(f"Every picked channel ({lost}) is bad; pick other channels from {_fmt_names(raw.ch_names)}.")
    _step(record, "select", picks=kept, dropped_bad_picks=lost, regions=members)
    _record_positions(record, kept + list(members), members, positions, frame)
    if not members:
        return raw.pick(kept)
    return _with_regions(raw, kept, members)


def _with_regions(inst, kept, members):
    """A new Raw, Epochs or Evoked: the ``kept`` channels, then one mean per region."""
    data = inst.get_data()  # (n_channels, n_times), or (n_epochs, n_channels, n_times)
    idx = {n: i for i, n in enumerate(inst.ch_names)}
    rows = [np.take(data, [idx[n] for n in kept], axis=-2)]
    rows += [np.take(data, [idx[c] for c in chans], axis=-2).mean(axis=-2, keepdims=True) for chans in members.values()]
    names = kept + list(members)
    info = mne.create_info(names, inst.info["sfreq"], "eeg")
    with info._unlock():
        info["highpass"] = inst.info["highpass"]
        info["lowpass"] = inst.info["lowpass"]
        info["line_freq"] = inst.info["line_freq"]
    info.set_meas_date(inst.info["meas_date"])
    data = np.concatenate(rows, axis=-2)
    if isinstance(inst, mne.BaseEpochs):
        return mne.EpochsArray(
            data,
            info,
            events=inst.events,
            tmin=inst.tmin,
            event_id=inst.event_id,
            baseline=inst.baseline,
            verbose=_mne_verbose(),
        )
    if isinstance(inst, mne.Evoked):
        return mne.EvokedArray(
            data,
            info,
            tmin=inst.times[0],
            comment=inst.comment,
            nave=inst.nave,
            baseline=inst.baseline,
            verbose=_mne_verbose(),
        )
    out = mne.io.RawArray(data, info, first_samp=inst.first_samp, verbose=_mne_verbose())
    out.set_annotations(inst.annotations.copy())
    return out
