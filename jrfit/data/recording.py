"""Loading, preprocessing and power spectra of EEG recordings (the MNE side of jrfit).

The pipeline is::

    path or Raw --load_recording--> Raw --preprocess--> (Raw, record)
                --compute_spectrum--> ObservedSpectrum

and :func:`prepare_spectrum` runs it in one call. Every step is recorded in a
JSON-serialisable ``record`` (a list of dicts) that travels with the spectrum.

Units: MNE stores EEG in volts and gives PSDs in V^2/Hz. This module converts
once, in :func:`compute_spectrum`, to **mV^2/Hz**, the unit of the model
(docs/model.md, section 4), and records it in :attr:`ObservedSpectrum.units`.

The spectrum carries the effective number of independent segments ``n_eff``
that the Gamma (Whittle) likelihood needs (docs/model.md, section 8): for Welch's
method Welch's (1967) correction for overlapping tapered windows, for the
multitaper method the (eigenvalue-weighted) number of tapers times the number
of segments.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mne
import numpy as np
from scipy.signal import get_window

from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import DataError, JRFitError

__all__ = [
    "ObservedSpectrum",
    "load_recording",
    "preprocess",
    "compute_spectrum",
    "prepare_spectrum",
    "welch_psd",
    "welch_n_eff",
    "multitaper_n_eff",
]

#: Unit of :attr:`ObservedSpectrum.psd` (MNE's V^2/Hz times 1e6).
PSD_UNITS = "mV^2/Hz"
_V2_TO_MV2 = 1e6

_FORMATS = (
    "EDF/BDF/GDF (.edf, .bdf, .gdf), FIF (.fif, .fif.gz), EEGLAB (.set), "
    "BrainVision (.vhdr), Neuroscan/ANT (.cnt), EGI (.mff), CTF (.ds), "
    "Nihon Kohden (.eeg), Persyst (.lay), Curry (.cdt, .dat) and the other "
    "formats of mne.io.read_raw"
)

# Defaults of the automatic detectors (documented in preprocess()).
_BAD_CHANNEL_DEFAULTS = dict(z_thresh=5.0, ratio_min=4.0, flat_ratio=0.05, window=1.0)
_BAD_SEGMENT_DEFAULTS = dict(window=1.0, ptp_factor=5.0, flat_factor=0.05, reject=None, flat=None)
_MIN_CHANNELS_FOR_OUTLIERS = 8  # good channels needed before high-variance channels are looked for
_FLAT_ABS = 1e-13  # robust std below which a channel is flat whatever the others, in V
_LINE_CANDIDATES = (50.0, 60.0)
_LINE_RATIO = 3.0  # peak / flank power ratio above which line noise is detected
_NOTCH_WIDTH = 1.0  # full width of each notch, in Hz
_NOTCH_TRANS = 1.0  # transition band of the notch filter, in Hz

# ----------------------------------------------------------------------------
# shared docstring parameters (filled with %(name)s, as in mne/utils/docs.py)
_docdict = dict(
    source="""source : path-like | instance of mne.io.Raw
    A recording in any format that :func:`mne.io.read_raw` reads (EDF/BDF,
    FIF, EEGLAB ``.set``, BrainVision ``.vhdr``, ...) or a Raw object, which
    is copied and never modified.""",
    picks="""picks : list of str | None
    Channels to keep, by name (after name standardisation; the original
    names are accepted too). None keeps every good EEG channel, unless
    ``regions`` is given, in which case only the regions are kept. Unknown
    names raise :class:`~jrfit.DataError`.""",
    regions="""regions : dict of str to list of str | None
    Virtual channels: each key becomes a channel whose signal is the mean of
    the good channels listed, e.g. ``{"occipital": ["O1", "O2", "Oz"]}``.
    Bad channels are left out of the mean (with a warning).""",
    reference="""reference : None | 'average' | str | list of str
    Re-referencing. None (default) keeps the recording's reference: the
    single-column model of a channel needs that channel's own signal, and
    re-referencing mixes the other channels into it. ``'average'``
    subtracts the mean of the N good EEG channels, which leaves each
    channel, if the channels are independent and of equal power, with a
    share 1/N of its power coming from the others (measured on 4-channel
    recordings of independent JR columns: 90 % posterior intervals covered
    the truth 55 % of the time, against 91 % with None); below 32 channels
    this is logged as a warning, and with exactly 2 channels, which it
    makes copies of each other up to sign, it raises
    :class:`~jrfit.DataError`. A channel name or list of names: their mean
    becomes the reference (a single reference channel, now flat, is
    dropped). The record's ``reference`` step stores the number of
    channels in the reference (``n_channels_in_reference``, 0 for None) and
    ``mixing_share`` (1/N for ``'average'``, 0 for None, None for channel
    references).""",
    line_freq="""line_freq : 'auto' | float | None
    Frequency of the power-line noise to notch out, in Hz (with harmonics
    below the Nyquist frequency). ``'auto'`` detects 50 or 60 Hz from the
    spectrum (a peak more than 3 times above its flanks); None skips the
    notch. The value used is stored in ``raw.info['line_freq']``.""",
    l_freq="""l_freq : float | None
    High-pass cut-off, in Hz (default 1.0). None skips the high-pass.""",
    h_freq="""h_freq : float | None
    Low-pass cut-off, in Hz, below the Nyquist frequency. None (default)
    applies no low-pass (the recording's anti-aliasing filter remains).""",
    bad_channels="""bad_channels : 'auto' | dict | list of str | None
    Channels in ``raw.info['bads']`` and channels with non-finite values are
    always dropped. ``'auto'`` (default) also drops flat channels (robust
    standard deviation, the median over 1-s windows, below 5 % of the median
    channel's, or below 0.1 pV) and, where at least 8 good channels give a
    population to compare with, channels of extreme variance (robust
    z-score of the log standard deviation above 5, with the MAD floored at
    0.1, and at least 4 times the median channel's); a list drops these
    names instead of detecting; ``dict(keep=[...])`` detects as 'auto' but
    never drops the named channels (logged, and recorded as
    ``kept_as_asked``); None drops nothing more. Every dropped channel is
    logged with its reason.""",
    bad_segments="""bad_segments : 'auto' | dict | None
    Amplitude and flatness detection on sliding 1-s windows (50 % overlap)
    of the cleaned data. ``'auto'`` (default) marks a window bad when, in any
    channel, its peak-to-peak amplitude exceeds 5 times that channel's
    median window amplitude or falls below 0.05 times it. A dict overrides
    ``window`` (s), ``ptp_factor``, ``flat_factor``, and may add absolute
    limits ``reject`` and ``flat`` (peak-to-peak, in V, as in MNE's
    ``reject=dict(eeg=...)``). Bad windows become ``BAD_amplitude`` or
    ``BAD_flat`` annotations, which the spectrum leaves out. None skips
    the detection (existing ``BAD_`` annotations are still honoured).""",
    channel_types="""channel_types : dict | None
    Types to set before anything else, as :meth:`mne.io.Raw.set_channel_types`
    (e.g. ``{'Cz': 'eeg', 'HEOG': 'eog'}``), for recordings whose EEG
    channels are typed otherwise. None (default) keeps the file's types.""",
    fmin_fmax="""fmin, fmax : float
    Frequency band of the spectrum, in Hz (default 2 to 40 Hz), within
    0 and the Nyquist frequency ``sfreq / 2``.""",
    method="""method : 'welch' | 'multitaper'
    Spectral estimator. ``'welch'`` averages tapered, overlapping segments;
    ``'multitaper'`` averages DPSS-tapered spectra of non-overlapping
    segments (or of the whole good data if ``seg_length=None``).""",
    seg_length="""seg_length : float | None
    Segment length, in seconds (default 4 s, i.e. a 0.25 Hz frequency
    spacing). None (multitaper only) uses the whole good data as one
    segment.""",
    n_per_seg="""n_per_seg : int | None
    Segment length in samples; overrides ``seg_length`` when given.""",
    overlap="""overlap : float
    Fraction of overlap between Welch segments, in [0, 1) (default 0.5).
    Ignored by the multitaper method.""",
    window="""window : str | tuple
    Taper of the Welch segments, any :func:`scipy.signal.get_window`
    specification (default ``'hann'``).""",
    bandwidth="""bandwidth : float | None
    Multitaper full bandwidth 2W, in Hz. None uses MNE's default, a
    normalised half-bandwidth NW = 4 (7 tapers).""",
    exclude_line="""exclude_line : bool | float
    Leave out the bins near the line frequency and its harmonics: True
    uses ``raw.info['line_freq']`` (set by :func:`preprocess`), a number
    gives the fundamental in Hz, False keeps them.""",
    verbose="""verbose : bool | str | int | None
    Log level for this call (``'info'`` shows each step); None keeps the
    level set by :func:`jrfit.set_log_level`.""",
)


def _fill_doc(func):
    func.__doc__ = func.__doc__ % {k: _indent(v) for k, v in _docdict.items()}
    return func


def _indent(text):
    lines = text.splitlines()
    return "\n".join(lines[:1] + ["    " + line for line in lines[1:]])


# ----------------------------------------------------------------------------
# small helpers
def _mne_verbose():
    """Verbosity passed to MNE: its warnings only, unless jrfit logs at DEBUG level."""
    return "info" if logger.getEffectiveLevel() <= 10 else "warning"


def _jsonable(obj):
    """Convert numpy types and containers into plain, JSON-serialisable Python."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        obj = float(obj)
        return obj if np.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (str, int)):
        return obj
    return repr(obj)


def _step(record, name, params=None, **result):
    entry = dict(step=name, params=_jsonable(params or {}), **_jsonable(result))
    record.append(entry)
    return entry


def _source_name(raw):
    fnames = [f for f in (getattr(raw, "filenames", None) or ()) if f]
    if not fnames:
        return None
    path = Path(fnames[0])
    if path.suffix == ".fdt" and path.with_suffix(".set").exists():
        path = path.with_suffix(".set")  # EEGLAB: name the header the user reads
    return path.name


def _fmt_names(names, limit=70):
    names = list(names)
    text = ", ".join(names[:limit])
    if len(names) > limit:
        text += f", ... ({len(names)} in all)"
    return text


def _check_eeg(raw, name):
    types = raw.get_channel_types()
    if "eeg" not in types:
        counts = ", ".join(f"{n} {t}" for t, n in sorted(Counter(types).items()))
        raise DataError(
            f"{name or 'The recording'} has no EEG channels (found {counts or 'none'}). "
            "jrfit fits EEG: if the EEG channels are typed otherwise, set their type "
            "first: raw.set_channel_types({'Cz': 'eeg'}), or channel_types={'Cz': 'eeg'} in "
            "prepare_spectrum, preprocess and prepare_evoked.",
            cli={
                "raw.set_channel_types({'Cz': 'eeg'}), or channel_types={'Cz': 'eeg'} in "
                "prepare_spectrum, preprocess and prepare_evoked": "--channel-types Cz=eeg"
            },
        )


def _set_channel_types(inst, channel_types, name):
    """Set the types of some channels of ``inst`` (a private copy), e.g. ``{'Cz': 'eeg'}``.

    Errors name the unknown channel or type, and the recording.
    """
    if not channel_types:
        return inst
    cli = {"channel_types": "--channel-types"}
    if not isinstance(channel_types, dict):
        raise DataError(
            f"channel_types must map channel names to MNE types, e.g. {{'Cz': 'eeg'}}; got {channel_types!r}.", cli=cli
        )
    unknown = [c for c in channel_types if c not in inst.ch_names]
    if unknown:
        raise DataError(
            f"channel_types names {_fmt_names(unknown)}, which {name or 'the recording'} "
            f"does not have; its channels are {_fmt_names(inst.ch_names)}.",
            cli=cli,
        )
    try:
        with warnings.catch_warnings():  # MNE's note that the unit follows the new type: asked for
            warnings.filterwarnings("ignore", message="The unit for channel", category=RuntimeWarning)
            inst.set_channel_types(dict(channel_types), verbose=_mne_verbose())
    except (ValueError, KeyError) as err:
        raise DataError(
            f"channel_types={channel_types!r} cannot be applied to {name or 'the recording'}: {err}", cli=cli
        ) from None
    return inst


def _read(source):
    """Return a preloaded copy of ``source`` and a name for the record."""
    raw, name, _ = _read_with_warnings(source)
    return raw, name


def _read_with_warnings(source):
    """:func:`_read` and the reader's warnings (messages), logged as jrfit warnings naming the file.

    A reader's warning often means the data are not what the file claims (a
    truncated EDF is read up to where it ends): the messages go into the
    preprocessing record, so that the result and its report keep them.
    """
    if isinstance(source, mne.io.BaseRaw):
        raw = source.copy()
        if not raw.preload:
            raw.load_data(verbose=_mne_verbose())
        return raw, _source_name(source), []
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(
                f"Recording not found: '{path}' does not exist. Check the path "
                f"(relative paths start from {Path.cwd()})."
            )
        hint = ""
        if path.name.endswith(("-ave.fif", "-ave.fif.gz", "_ave.fif", "_ave.fif.gz")):
            hint = " This looks like an evoked (averaged) file, not a continuous recording."
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = mne.io.read_raw(path, preload=True, verbose=_mne_verbose())
        except Exception as err:  # readers raise many types; report them all alike
            raise DataError(
                f"Could not read '{path}' as a continuous recording "
                f"({type(err).__name__}: {err}).{hint} jrfit reads the formats of "
                f"mne.io.read_raw: {_FORMATS}. Check that the file is complete and in "
                "one of these formats, or read it with MNE and pass the Raw object."
            ) from err
        messages = [
            str(w.message) for w in caught if "does not conform to MNE naming conventions" not in str(w.message)
        ]
        for msg in messages:  # the reader's warnings, once it succeeded
            logger.warning(f"Reading {path.name}: {msg} (recorded in the result)")
        return raw, path.name, messages
    kind = type(source).__name__
    hint = ""
    if isinstance(source, (mne.BaseEpochs, mne.Evoked)):
        hint = " Spectra are computed from continuous data; pass the Raw recording."
    raise DataError(f"'source' must be a path to a recording or an instance of mne.io.Raw, got {kind}.{hint}")


@_fill_doc
@verbose
def load_recording(source, *, verbose=None):
    """Read a continuous EEG recording.

    Parameters
    ----------
    %(source)s
    %(verbose)s

    Returns
    -------
    raw : instance of mne.io.Raw
        A preloaded copy; the input is never modified.

    Raises
    ------
    DataError
        If the file is missing, cannot be read, or has no EEG channel.
    """
    raw, name = _read(source)
    _check_eeg(raw, name)
    logger.info(
        f"Loaded {name or 'Raw'}: {len(raw.ch_names)} channels, "
        f"{raw.info['sfreq']:g} Hz, {raw.times[-1] + 1 / raw.info['sfreq']:.1f} s"
    )
    return raw


# ----------------------------------------------------------------------------
# channel names and positions
def _standard_montage():
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
        mname, montage = _standard_montage()
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


# ----------------------------------------------------------------------------
# detectors
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


def _windowed(x, sfreq, window):
    """View of ``x`` (n_channels, n_times) as 50 %-overlapping windows."""
    n_win = max(int(round(window * sfreq)), 2)
    n_win = min(n_win, x.shape[-1])
    hop = max(n_win // 2, 1)
    view = np.lib.stride_tricks.sliding_window_view(x, n_win, axis=-1)[:, ::hop]
    return view, n_win, hop


def _detects_bad_channels(bad_channels):
    """Whether the option asks for the automatic detection ('auto', or a dict of channels to keep)."""
    return isinstance(bad_channels, dict) or bad_channels == "auto"


def _check_bad_channels_option(bad_channels):
    if isinstance(bad_channels, dict):
        if set(bad_channels) != {"keep"} or isinstance(bad_channels["keep"], str):
            raise DataError(
                f"bad_channels as a dict must be dict(keep=[names]) (automatic detection, these "
                f"channels never dropped by it), got {bad_channels!r}.",
                cli={"bad_channels": "--keep-channel"},
            )
    elif bad_channels is not None and not isinstance(bad_channels, (list, tuple)):
        check_option("bad_channels", bad_channels, ("auto", None))


def _kept_by_request(bad_channels, all_eeg, rename):
    """The channels ``dict(keep=[...])`` exempts from the detection (resolved names; unknown ones refused)."""
    if not isinstance(bad_channels, dict):
        return set()
    return set(_resolve_names(list(bad_channels["keep"]), all_eeg, rename, "bad_channels['keep']"))


def _exempt(found, keep, name):
    """``found`` without the channels asked to be kept; those are logged with what was detected."""
    spared = {k: v for k, v in found.items() if k in keep}
    if spared:
        logger.warning(
            f"Kept {', '.join(f'{k} ({v})' for k, v in spared.items())} in "
            f"{name or 'the recording'} as asked, although detected as bad"
        )
    return {k: v for k, v in found.items() if k not in keep}, spared


def _detect_bad_channels(x, sfreq, ch_names, opts):
    """Flat and extreme-variance channels from a robust (windowed) std."""
    view, _, _ = _windowed(x, sfreq, opts["window"])
    rstd = np.median(view.std(axis=-1), axis=-1)  # robust to short bursts
    med = np.median(rstd)
    # relative to the median channel, with an absolute floor of 0.1 pV (MNE
    # stores EEG in V; a filtered constant leaves only rounding noise)
    flat = rstd <= max(opts["flat_ratio"] * med, _FLAT_ABS)
    found = {ch_names[i]: "flat" for i in np.flatnonzero(flat)}
    z = np.zeros(len(ch_names))
    ok = ~flat
    # a robust z-score needs a population: with a few channels that record independent
    # sources (four simulated columns whose sizes differ ten-fold) it dropped the largest
    if ok.sum() >= _MIN_CHANNELS_FOR_OUTLIERS:
        logs = np.log(rstd[ok])
        center = np.median(logs)
        mad = 1.4826 * np.median(np.abs(logs - center))
        mad = max(mad, 0.1)  # channels of nearly equal size: no false alarms
        z[ok] = (logs - center) / mad
        # only the high side: low but non-flat variance (e.g. near the reference,
        # or at the edge of the cap) is not a sign of a broken channel
        # and at least ratio_min times the median channel: in a small montage the MAD floor alone
        # made a channel 1.7 times louder than its neighbours an outlier
        loud = rstd > opts.get("ratio_min", 4.0) * np.median(rstd[ok])
        for i in np.flatnonzero(ok & (z > opts["z_thresh"]) & loud):
            found[ch_names[i]] = f"high variance ({rstd[i] / np.median(rstd[ok]):.1f} x the median channel)"
    return found, rstd, z


_NONFINITE_MAX_SHARE = 0.2  # a channel with more non-finite samples than this is dropped whole
_NONFINITE_PAD_S = 2.0  # each non-finite span is annotated this much wider on each side (filter transients)


def _non_finite(raw, data, finite, name, record):
    """Short non-finite spans: interpolated and annotated ``BAD_nonfinite``; channels mostly non-finite: returned.

    A few seconds of NaN or Inf in a channel (a dropout) need not cost the
    channel: the values are linearly interpolated (so that the filters see no
    NaN) and the span, widened by 2 s on each side for the filters'
    transients, is annotated bad, so that the spectrum leaves it out. A
    channel more than 20 % non-finite is dropped (returned with its reason).
    """
    sfreq = float(raw.info["sfreq"])
    drop, spans = {}, np.zeros(raw.n_times, bool)
    affected = np.flatnonzero(~finite.all(axis=1))
    for i in affected:
        share = 1.0 - finite[i].mean()
        if share > _NONFINITE_MAX_SHARE:
            drop[raw.ch_names[i]] = f"non-finite values ({100 * share:.0f} % of samples)"
            continue
        t = np.arange(raw.n_times)
        raw._data[i, ~finite[i]] = np.interp(t[~finite[i]], t[finite[i]], data[i, finite[i]])
        spans |= ~finite[i]
    if spans.any():
        pad = int(round(_NONFINITE_PAD_S * sfreq))
        c = np.concatenate([[0], np.cumsum(spans)])  # dilation by pad samples, O(n)
        idx = np.arange(raw.n_times)
        wide = c[np.minimum(idx + pad + 1, raw.n_times)] - c[np.maximum(idx - pad, 0)] > 0
        annots = raw.annotations.copy()
        found = [(s0 / sfreq, (s1 - s0) / sfreq) for s0, s1 in _good_spans(wide)]
        for onset, dur in found:
            annots.append(raw.first_time + onset, dur, "BAD_nonfinite")
        raw.set_annotations(annots)
        chans = [raw.ch_names[i] for i in affected if raw.ch_names[i] not in drop]
        logger.warning(
            f"{name or 'The recording'}: non-finite values in {', '.join(chans)}; "
            f"{len(found)} span(s), {sum(d for _, d in found):.1f} s in all, annotated BAD_nonfinite "
            "(with 2 s on each side) and left out of the spectrum; the channels are kept."
        )
        _step(record, "non_finite_spans", channels=chans, spans_s=[[o, d] for o, d in found])
    return drop


_EEG_STD_RANGE_V = (1e-7, 5e-3)  # plausible standard deviations of scalp EEG, in V (0.1 uV to 5 mV)


def _check_amplitude(data, finite, name, record):
    """Refuse or warn where the recording's amplitude is implausible for scalp EEG in volts (a unit problem).

    The median over channels of each channel's standard deviation (V) is
    compared with 0.1 uV-5 mV: scalp EEG is 1-100 uV. Far below, the data
    were most likely scaled twice (uV written as V, then divided again) and
    every channel would look flat; above, they are most likely in uV or mV
    while the file says V. Both are named in the message; a warning (large)
    or an error (small) with the measured value and the likely factor.
    """
    stds, scales = (
        np.array([f(row[ok]) if ok.any() else 0.0 for row, ok in zip(data, finite)])
        for f in (np.std, lambda r: np.max(np.abs(r)))
    )
    live = stds[stds > 1e-9 * scales]  # a constant channel (rounding aside) is flat, not mis-scaled
    if live.size == 0:
        return
    typical = float(np.median(live))
    lo, hi = _EEG_STD_RANGE_V
    what = name or "the recording"
    if typical < lo * 1e-3:
        raise DataError(
            f"The EEG of {what} has a typical standard deviation of {typical:.3g} V, about "
            f"{10e-6 / typical:.0e} times below scalp EEG (1-100 uV): the data are most likely in the wrong "
            "unit (scaled twice). Fix the file's scaling (MNE expects volts) and try again."
        )
    if typical > hi:
        factor = 1e-6 if typical > 0.5 else 1e-3
        msg = (
            f"The EEG of {what} has a typical standard deviation of {typical:.3g} V, far above scalp EEG "
            f"(1-100 uV): the data are most likely in {'uV' if factor == 1e-6 else 'mV'} while the file "
            f"says V (a factor {factor:g}). The fit's scale absorbs a constant factor, but the amplitude "
            "checks and reported amplitudes will be off: fix the file's unit."
        )
        logger.warning(msg)
        _step(record, "amplitude_warning", typical_std_v=typical, message=msg)


def _detect_line_freq(x, sfreq):
    """Ratio of the peak at 50 and 60 Hz to the median of its flanks."""
    nyq = sfreq / 2.0
    n_per_seg = min(int(round(2 * sfreq)), x.shape[-1])
    psd, freqs = mne.time_frequency.psd_array_welch(
        x,
        sfreq,
        n_fft=n_per_seg,
        n_per_seg=n_per_seg,
        n_overlap=n_per_seg // 2,
        window="hann",
        verbose="error",
    )
    logp = np.median(np.log(psd + np.finfo(float).tiny), axis=0)
    ratios = {}
    for f0 in _LINE_CANDIDATES:
        if f0 + 3.0 > nyq:
            ratios[f0] = None
            continue
        peak = np.abs(freqs - f0) <= 1.0
        dist = np.abs(freqs - f0)
        flank = (dist >= 2.0) & (dist <= 6.0) & (freqs < nyq - 1.0)
        if not peak.any() or flank.sum() < 2:
            ratios[f0] = None
            continue
        ratios[f0] = float(np.exp(logp[peak].max() - np.median(logp[flank])))
    valid = {f: r for f, r in ratios.items() if r is not None}
    best = max(valid, key=valid.get) if valid else None
    detected = best if best is not None and valid[best] > _LINE_RATIO else None
    return detected, ratios


def _good_spans(mask):
    """(start, stop) sample indices of the runs of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _annotation_good_mask(raw, picks=None):
    """Samples not covered by ``BAD_`` annotations (as MNE's reject_by_annotation)."""
    pick = [0] if picks is None else [picks[0]]
    plain = raw.get_data(picks=pick)[0]
    rejected = raw.get_data(picks=pick, reject_by_annotation="NaN", verbose="error")[0]
    good = ~(np.isnan(rejected) & ~np.isnan(plain))
    unknown = np.isnan(plain)  # where the data are NaN, read the annotations
    if unknown.any() and len(raw.annotations):
        ann_bad = np.zeros(raw.n_times, bool)
        for s, e in zip(*_bad_annotation_samples(raw)):
            ann_bad[s:e] = True
        good[unknown] = ~ann_bad[unknown]
    return good


def _bad_annotation_samples(raw):
    sfreq = raw.info["sfreq"]
    starts, stops = [], []
    for a in raw.annotations:
        if not a["description"].lower().startswith("bad"):
            continue
        onset = a["onset"] - raw.first_time
        s = int(np.round(onset * sfreq))
        e = int(np.round((onset + a["duration"]) * sfreq))
        starts.append(max(s, 0))
        stops.append(min(max(e, s + 1), raw.n_times))
    return starts, stops


def _detect_bad_segments(raw, opts):
    """Windows whose peak-to-peak amplitude is extreme or flat in any channel."""
    sfreq = raw.info["sfreq"]
    x = raw.get_data()
    view, n_win, hop = _windowed(x, sfreq, opts["window"])
    ptp = view.max(axis=-1) - view.min(axis=-1)  # (n_channels, n_windows)
    starts = np.arange(ptp.shape[1]) * hop
    if starts[-1] + n_win < x.shape[-1]:  # one more window for the tail
        tail = x[:, -n_win:]
        ptp = np.concatenate([ptp, np.ptp(tail, axis=-1)[:, np.newaxis]], axis=1)
        starts = np.append(starts, x.shape[-1] - n_win)
    med = np.median(ptp, axis=-1, keepdims=True)
    high = np.zeros(ptp.shape[1], bool)
    low = np.zeros(ptp.shape[1], bool)
    if ptp.shape[1] >= 3:
        high |= (ptp > opts["ptp_factor"] * med).any(axis=0)
        low |= (ptp < opts["flat_factor"] * med).any(axis=0)
    if opts["reject"] is not None:
        high |= (ptp > opts["reject"]).any(axis=0)
    if opts["flat"] is not None:
        low |= (ptp < opts["flat"]).any(axis=0)
    low &= ~high
    annots = []
    for desc, bad in (("BAD_amplitude", high), ("BAD_flat", low)):
        mask = np.zeros(raw.n_times, bool)
        for w in np.flatnonzero(bad):
            mask[starts[w] : starts[w] + n_win] = True
        for s, e in _good_spans(mask):
            annots.append((s / sfreq, (e - s) / sfreq, desc))
    return annots, dict(
        n_windows=int(ptp.shape[1]),
        window_s=n_win / sfreq,
        n_amplitude_windows=int(high.sum()),
        n_flat_windows=int(low.sum()),
        median_ptp_uV=dict(zip(raw.ch_names, med[:, 0] * 1e6)),
    )


def _merge_opts(name, value, defaults):
    if value == "auto":
        return dict(defaults)
    if isinstance(value, dict):
        unknown = set(value) - set(defaults)
        if unknown:
            raise JRFitError(f"Unknown key(s) {sorted(unknown)} in {name!r}; allowed keys are {sorted(defaults)}.")
        return {**defaults, **value}
    raise JRFitError(
        f"Invalid value for the {name!r} parameter. Allowed values are 'auto', a dict "
        f"and None, but got {value!r} instead."
    )


# ----------------------------------------------------------------------------
@_fill_doc
@verbose
def preprocess(
    raw,
    *,
    picks=None,
    regions=None,
    reference=None,
    line_freq="auto",
    l_freq=1.0,
    h_freq=None,
    bad_channels="auto",
    bad_segments="auto",
    channel_types=None,
    verbose=None,
):
    """Clean a recording for spectral fitting.

    The steps, each recorded in ``record``, are: keep the EEG channels;
    standardise channel names to the 10-05 system where they match and set a
    template montage if the recording has no positions; drop bad channels;
    notch the line noise; band-pass; re-reference; annotate bad segments
    (``BAD_amplitude``, ``BAD_flat``); select channels and form regions.

    Parameters
    ----------
    raw : path-like | instance of mne.io.Raw
        The recording (copied, never modified).
    %(picks)s
    %(regions)s
    %(reference)s
    %(line_freq)s
    %(l_freq)s
    %(h_freq)s
    %(bad_channels)s
    %(bad_segments)s
    %(channel_types)s
    %(verbose)s

    Returns
    -------
    raw_clean : instance of mne.io.Raw
        The cleaned EEG (only good channels, or the chosen channels and
        regions), with ``BAD_`` annotations marking rejected time.
    record : list of dict
        One JSON-serialisable entry per step: ``step``, ``params`` and what
        was found (bad channels and why, detected line frequency, share of time
        rejected, ...).

    Raises
    ------
    DataError
        If no usable EEG is left, a channel name is unknown, a filter
        setting is impossible for this sampling rate, or
        ``reference='average'`` is asked of 2 good channels or fewer.
    """
    raw, name, reader_warnings = _read_with_warnings(raw)
    _set_channel_types(raw, channel_types, name)
    return _preprocess(
        raw,
        name,
        picks=picks,
        regions=regions,
        reference=reference,
        line_freq=line_freq,
        l_freq=l_freq,
        h_freq=h_freq,
        bad_channels=bad_channels,
        bad_segments=bad_segments,
        reader_warnings=reader_warnings,
    )


def _preprocess(
    raw,
    name,
    *,
    picks,
    regions,
    reference,
    line_freq,
    l_freq,
    h_freq,
    bad_channels,
    bad_segments,
    reader_warnings=(),
):
    """:func:`preprocess` on a private, preloaded copy (modified in place)."""
    _check_eeg(raw, name)
    record = []
    sfreq = float(raw.info["sfreq"])
    nyq = sfreq / 2.0
    _step(
        record,
        "load",
        source=name,
        sfreq=sfreq,
        n_channels=len(raw.ch_names),
        duration_s=raw.n_times / sfreq,
        channel_types=dict(Counter(raw.get_channel_types())),
        mne_version=mne.__version__,
    )
    if reader_warnings:  # what the reader said about the file (e.g. a truncated EDF)
        _step(record, "read_warnings", messages=list(reader_warnings))

    # ---- option checks (before any work)
    if line_freq not in ("auto", None):
        line_freq = check_positive("line_freq", line_freq, "Hz")
    if l_freq is not None:
        l_freq = check_positive("l_freq", l_freq, "Hz")
        if l_freq >= nyq:
            raise DataError(
                f"l_freq={l_freq:g} Hz is not below the Nyquist frequency "
                f"({nyq:g} Hz at sfreq={sfreq:g} Hz); lower it or pass l_freq=None."
            )
    if h_freq is not None:
        h_freq = check_positive("h_freq", h_freq, "Hz")
        if h_freq >= nyq:
            raise DataError(
                f"h_freq={h_freq:g} Hz is not below the Nyquist frequency "
                f"({nyq:g} Hz at sfreq={sfreq:g} Hz); lower it or pass h_freq=None "
                "(no low-pass)."
            )
        if l_freq is not None and l_freq >= h_freq:
            raise DataError(f"l_freq={l_freq:g} Hz must be below h_freq={h_freq:g} Hz.")
    _check_bad_channels_option(bad_channels)
    seg_opts = None if bad_segments is None else _merge_opts("bad_segments", bad_segments, _BAD_SEGMENT_DEFAULTS)
    if regions is not None and not isinstance(regions, dict):
        raise DataError(
            "'regions' must be a dict mapping a region name to a list of channel "
            f"names, e.g. {{'occipital': ['O1', 'O2', 'Oz']}}, got {regions!r}."
        )

    # ---- EEG only
    non_eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t != "eeg"]
    raw.pick("eeg", exclude=[])
    _step(record, "pick_eeg", dropped_non_eeg=non_eeg, n_eeg=len(raw.ch_names))

    # ---- names and positions
    rename = _standardize_names(raw, record)
    all_eeg = list(raw.ch_names)

    # resolve user names now, to fail before any filtering
    pick_names, region_map, ref_names = _resolve_user_names(picks, regions, reference, all_eeg, rename)
    keep = _kept_by_request(bad_channels, all_eeg, rename)

    # ---- bad channels, phase 1: declared and non-finite
    bads = {rename.get(b, b): "marked bad in raw.info['bads']" for b in raw.info["bads"]}
    if isinstance(bad_channels, (list, tuple)):
        for b in _resolve_names(list(bad_channels), all_eeg, rename, "bad_channels"):
            bads.setdefault(b, "given in bad_channels")
    data = raw.get_data()
    finite = np.isfinite(data)
    if not finite.any():
        raise DataError(
            f"All values of {name or 'the recording'} are NaN or infinite; there is "
            "no data to analyse. Check the file or how the Raw object was built."
        )
    _check_amplitude(data, finite, name, record)
    for ch, reason in _non_finite(raw, data, finite, name, record).items():
        bads.setdefault(ch, reason)
    del data, finite
    raw.info["bads"] = []
    _drop_bads(raw, bads, name)

    # ---- line noise (detected on the unfiltered good channels)
    detected, ratios = None, {}
    if line_freq == "auto":
        detected, ratios = _detect_line_freq(raw.get_data(), sfreq)
        f_line = detected
    else:
        f_line = line_freq
    notch_freqs, skipped = [], []
    if f_line is not None:
        top = nyq - _NOTCH_WIDTH / 2 - _NOTCH_TRANS
        k = 1
        while k * f_line < nyq:
            (notch_freqs if k * f_line < top else skipped).append(k * f_line)
            k += 1
        if h_freq is not None:  # harmonics above the low-pass are removed anyway
            notch_freqs = [f for f in notch_freqs if f < h_freq + 2 * _NOTCH_TRANS]
        if notch_freqs:
            raw.notch_filter(
                notch_freqs,
                notch_widths=_NOTCH_WIDTH,
                trans_bandwidth=_NOTCH_TRANS,
                verbose=_mne_verbose(),
            )
        raw.info["line_freq"] = float(f_line)
    _step(
        record,
        "line_noise",
        params=dict(line_freq=line_freq),
        peak_ratios={str(k): v for k, v in ratios.items()},
        detected=detected,
        line_freq=f_line,
        notch_freqs=notch_freqs,
        notch_width_hz=_NOTCH_WIDTH,
        skipped_above_nyquist=skipped,
    )
    if notch_freqs:
        logger.info(f"Line noise: {f_line:g} Hz, notched at {notch_freqs} Hz")
    elif f_line is not None:
        logger.info(f"Line noise: {f_line:g} Hz is above the usable band; no notch")

    # ---- band-pass
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, verbose=_mne_verbose())
    _step(
        record,
        "filter",
        params=dict(l_freq=l_freq, h_freq=h_freq),
        highpass=raw.info["highpass"],
        lowpass=raw.info["lowpass"],
        design="MNE FIR, zero-phase, firwin (defaults)",
    )

    # ---- bad channels, phase 2: flat and extreme variance (on filtered data)
    found, rstd, z, spared = {}, None, None, {}
    if _detects_bad_channels(bad_channels):
        opts = dict(_BAD_CHANNEL_DEFAULTS)
        found, rstd, z = _detect_bad_channels(raw.get_data(), sfreq, raw.ch_names, opts)
        found, spared = _exempt(found, keep, name)
        if len(found) == len(raw.ch_names) and set(found.values()) == {"flat"}:
            raise DataError(
                f"All {len(raw.ch_names)} EEG channels of {name or 'the recording'} are "
                "flat (no signal after filtering); there is no data to analyse."
            )
        stats = dict(
            robust_std_uV={n: s * 1e6 for n, s in zip(raw.ch_names, rstd)},
            robust_z={n: v for n, v in zip(raw.ch_names, z)},
        )
    else:
        opts, stats = {}, {}
    bads.update(found)
    _drop_bads(raw, found, name)
    _step(
        record,
        "bad_channels",
        params=dict(bad_channels=bad_channels, **opts),
        bads=bads,
        kept_as_asked=spared,
        n_good=len(raw.ch_names),
        **stats,
    )
    if bads:
        logger.info(f"Bad channels dropped: {', '.join(f'{k} ({v})' for k, v in bads.items())}")

    # ---- reference
    _apply_reference(raw, reference, ref_names, bads, record, name)

    # ---- bad segments
    existing = [a["description"] for a in raw.annotations if a["description"].lower().startswith("bad")]
    new_annots, seg_stats = [], {}
    if seg_opts is not None:
        new_annots, seg_stats = _detect_bad_segments(raw, seg_opts)
        if new_annots:
            annots = raw.annotations.copy()
            for onset, dur, desc in new_annots:
                annots.append(raw.first_time + onset, dur, desc)
            raw.set_annotations(annots)
    good = _annotation_good_mask(raw)
    pct = 100.0 * (1.0 - good.mean())
    _step(
        record,
        "bad_segments",
        params=dict(bad_segments=seg_opts),
        existing_bad_annotations=dict(Counter(existing)),
        new_annotations=[dict(onset_s=o, duration_s=d, description=s) for o, d, s in new_annots],
        percent_time_rejected=pct,
        good_duration_s=float(good.sum() / sfreq),
        **seg_stats,
    )
    logger.info(f"Bad segments: {len(new_annots)} new, {pct:.1f} % of the time rejected")

    # ---- channel selection and regions
    raw = _select(raw, pick_names, region_map, bads, record)
    _step(
        record,
        "result",
        ch_names=list(raw.ch_names),
        n_channels=len(raw.ch_names),
        sfreq=sfreq,
        duration_s=raw.n_times / sfreq,
    )
    return raw, record


# ----------------------------------------------------------------------------
# re-referencing (shared with jrfit.data.evoked)
#: Fewest good EEG channels for which the average reference is not warned about.
AVERAGE_REF_MIN_CHANNELS = 32


def _check_average_reference(n_channels, name):
    """Refuse (N <= 2) or warn about (N < 32) the average reference of N channels.

    Parameters
    ----------
    n_channels : int
        Number of good EEG channels in the average.
    name : str | None
        Source name, for the messages.

    Returns
    -------
    share : float
        Share 1/N of each channel's power that comes from the other channels
        (independent channels of equal power).
    """
    what = name or "the recording"
    if n_channels < 2:
        raise DataError(
            f"reference='average' needs at least 2 good EEG channels, but {what} has "
            f"{n_channels}; pass reference=None to keep the recording's reference.",
            cli={"pass reference=None": "give --reference none", "use reference=None": "use --reference none"},
        )
    if n_channels == 2:
        raise DataError(
            f"reference='average' with the 2 good EEG channels of {what} makes them "
            "copies of each other up to sign (each becomes half their difference); "
            "pass reference=None to keep the recording's reference, or a reference "
            "channel name.",
            cli={"pass reference=None": "give --reference none", "use reference=None": "use --reference none"},
        )
    share = 1.0 / n_channels
    if n_channels < AVERAGE_REF_MIN_CHANNELS:
        logger.warning(
            f"reference='average' over only {n_channels} good EEG channels of {what}: "
            f"a share 1/{n_channels} = {share:.2f} of each channel's power comes from "
            "the other channels, which a single-column fit of one channel does not "
            "model; use reference=None (--reference none) to keep the recording's "
            "reference."
        )
    return share


def _apply_reference(inst, reference, ref_names, bads, record, name=None):
    """Re-reference ``inst`` (Raw, Epochs or Evoked) in place and record the step.

    Parameters
    ----------
    inst : instance of mne.io.Raw | mne.Epochs | mne.Evoked
        Good EEG channels only.
    reference : None | 'average' | str | list of str
        As given by the user.
    ref_names : list of str | None
        Reference channels resolved to recording names (None unless channels).
    bads : dict of str -> str
        Bad channels and why.
    record : list of dict
        Appended with the ``reference`` step.
    name : str | None
        Source name, for the messages.
    """
    n_ref, share, dropped = 0, 0.0, []
    if reference is not None:
        if reference == "average":
            n_ref = len(inst.ch_names)
            share = _check_average_reference(n_ref, name)
            ref_arg = "average"
        else:
            bad_refs = [r for r in ref_names if r in bads]
            if bad_refs:
                raise DataError(
                    f"Reference channel(s) {bad_refs} are bad "
                    f"({', '.join(bads[r] for r in bad_refs)}); choose other reference "
                    "channels, 'average' or None."
                )
            ref_arg, n_ref, share = ref_names, len(ref_names), None
        inst.set_eeg_reference(ref_arg, projection=False, verbose=_mne_verbose())
        dropped = _drop_zero_channels(inst)
    _step(
        record,
        "reference",
        params=dict(reference=reference if ref_names is None else ref_names),
        n_channels_in_reference=n_ref,
        mixing_share=share,
        dropped_zero_channels=dropped,
    )


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


# ----------------------------------------------------------------------------
# effective number of segments
def welch_psd(x, sfreq, fmin, fmax, n_per_seg, n_overlap, window="hann"):
    """Welch PSD as every jrfit spectrum computes it (recordings and simulations).

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
        Signals (NaN marks samples to leave out, as in MNE).
    sfreq : float
        Sampling rate, in Hz.
    fmin, fmax : float
        Band, in Hz.
    n_per_seg, n_overlap : int
        Segment length and overlap, in samples (FFT length = segment length).
    window : str
        Taper (scipy.signal.get_window).

    Returns
    -------
    psd : ndarray, shape (..., n_freqs)
        One-sided PSD, in the squared unit of ``x`` per Hz.
    freqs : ndarray
        Frequencies, in Hz.
    """
    return mne.time_frequency.psd_array_welch(
        x,
        sfreq,
        fmin=fmin,
        fmax=fmax,
        n_fft=n_per_seg,
        n_per_seg=n_per_seg,
        n_overlap=n_overlap,
        window=window,
        average="mean",
        verbose=_mne_verbose(),
    )


def welch_n_eff(n_per_seg, n_overlap, span_lengths, window="hann"):
    """Effective number of independent segments of a Welch estimate.

    Welch (1967): K overlapping windows of a stationary process give a PSD
    estimate whose variance is ``S^2 / n_eff`` with::

        n_eff = K / (1 + 2 sum_{j=1}^{K-1} (1 - j/K) rho(j)^2)
        rho(j) = sum_n w[n] w[n + j*step] / sum_n w[n]^2

    computed here from the actual window ``w`` and ``step = n_per_seg -
    n_overlap``. Data split by bad segments into several good spans are
    combined like :func:`mne.time_frequency.psd_array_welch` does: span
    estimates averaged with weights equal to the samples each span analyses,
    which gives ``n_eff = (sum W_s)^2 / sum (W_s^2 / n_eff_s)``.

    Parameters
    ----------
    n_per_seg : int
        Window length, in samples.
    n_overlap : int
        Overlap of consecutive windows, in samples.
    span_lengths : int | sequence of int
        Length of each good span of data, in samples. Spans shorter than
        ``n_per_seg`` are ignored.
    window : str | tuple
        The taper, as for :func:`scipy.signal.get_window` (periodic, as
        :func:`scipy.signal.spectrogram` uses it).

    Returns
    -------
    n_eff : float
        The effective number of segments (0 if no span holds a window).
    n_windows : int
        The raw count of windows.
    """
    n_per_seg, n_overlap = int(n_per_seg), int(n_overlap)
    step = n_per_seg - n_overlap
    if step < 1:
        raise JRFitError(f"n_overlap={n_overlap} must be smaller than n_per_seg={n_per_seg}.")
    w = np.asarray(get_window(window, n_per_seg), float)
    ss = np.dot(w, w)
    rho2 = []
    j = 1
    while j * step < n_per_seg:
        rho2.append((np.dot(w[: n_per_seg - j * step], w[j * step :]) / ss) ** 2)
        j += 1
    rho2 = np.asarray(rho2)
    spans = np.atleast_1d(np.asarray(span_lengths, dtype=np.int64))
    num = den = 0.0
    n_windows = 0
    for length in spans:
        if length < n_per_seg:
            continue
        k = 1 + (int(length) - n_per_seg) // step
        jj = np.arange(1, min(k - 1, len(rho2)) + 1)
        n_s = k / (1.0 + 2.0 * np.sum((1.0 - jj / k) * rho2[jj - 1]))
        weight = step * (k - 1) + n_per_seg  # samples analysed (MNE's weights)
        num += weight
        den += weight**2 / n_s
        n_windows += k
    return (float(num**2 / den) if den > 0 else 0.0), int(n_windows)


def multitaper_n_eff(n_times, sfreq, bandwidth=None, n_segments=1, low_bias=True):
    """Effective number of independent estimates of a multitaper PSD.

    MNE combines the L tapered periodograms with weights equal to the DPSS
    eigenvalues ``lambda_k`` (non-adaptive), which gives
    ``(sum lambda)^2 / sum lambda^2`` (about L, the number of tapers, about
    2 NW - 1) per segment; independent segments add up.

    Parameters
    ----------
    n_times : int
        Samples per segment.
    sfreq : float
        Sampling frequency, in Hz.
    bandwidth : float | None
        Full bandwidth 2W, in Hz; None for MNE's NW = 4.
    n_segments : int
        Number of independent segments averaged.
    low_bias : bool
        Keep only tapers with eigenvalues above 0.9 (MNE's default).

    Returns
    -------
    n_eff : float
        The effective number of independent estimates.
    n_tapers : int
        Tapers per segment.
    half_nbw : float
        The normalised half-bandwidth NW.
    """
    half_nbw = 4.0 if bandwidth is None else float(bandwidth) * n_times / (2.0 * sfreq)
    if half_nbw < 0.5:
        raise DataError(
            f"bandwidth={bandwidth} Hz is too narrow for {n_times / sfreq:g}-s segments "
            f"(NW={half_nbw:.2f} < 0.5); use at least {sfreq / n_times:.3g} Hz."
        )
    _, eig = mne.time_frequency.dpss_windows(int(n_times), half_nbw, int(2 * half_nbw), sym=False, low_bias=low_bias)
    eig = np.asarray(eig, float)
    return float(n_segments * eig.sum() ** 2 / np.sum(eig**2)), len(eig), half_nbw


# ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class ObservedSpectrum:
    """A measured EEG power spectrum, ready for the spectral likelihood.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Frequencies of the bins, in Hz, strictly increasing (excluded bins
        are absent, so the spacing may have gaps).
    psd : ndarray, shape (n_channels, n_freqs)
        One-sided power spectral density, in mV^2/Hz, finite and > 0.
    ch_names : sequence of str, length n_channels
        Channel (or region) names.
    n_eff : float | ndarray, shape (n_channels,)
        Effective number of independent segments behind each PSD value
        (the Gamma shape of the Whittle likelihood, docs/model.md, section 8).
    method : 'welch' | 'multitaper'
        The estimator.
    units : str
        Unit of ``psd``; always ``'mV^2/Hz'``.
    record : list of dict
        Preprocessing and spectrum steps (JSON-serialisable).
    source : str | None
        File name of the recording.
    sfreq : float | None
        Sampling frequency of the recording, in Hz.
    excluded_freqs : ndarray, shape (n_excluded,)
        Bins within ``[fmin, fmax]`` that were left out (near DC, Nyquist,
        line noise or outside the pass-band), in Hz.
    """

    freqs: np.ndarray
    psd: np.ndarray
    ch_names: tuple
    n_eff: float | np.ndarray
    method: str = "welch"
    units: str = PSD_UNITS
    record: tuple = ()
    source: str | None = None
    sfreq: float | None = None
    excluded_freqs: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self):
        def _set(name, value):
            object.__setattr__(self, name, value)

        freqs = _frozen_array(self.freqs, "freqs")
        if freqs.ndim != 1 or freqs.size == 0:
            raise DataError(f"ObservedSpectrum.freqs must be a non-empty 1-D array (in Hz), got shape {freqs.shape}.")
        if not np.all(np.isfinite(freqs)) or np.any(freqs < 0) or np.any(np.diff(freqs) <= 0):
            raise DataError("ObservedSpectrum.freqs must be finite, >= 0 and strictly increasing (Hz).")
        psd = _frozen_array(self.psd, "psd")
        if psd.ndim == 1:
            psd = _frozen_array(psd[np.newaxis], "psd")
        if psd.ndim != 2 or psd.shape[1] != freqs.size:
            raise DataError(
                f"ObservedSpectrum.psd must have shape (n_channels, n_freqs={freqs.size}), got {psd.shape}."
            )
        if not np.all(np.isfinite(psd)) or np.any(psd <= 0):
            bad = np.flatnonzero(~(np.isfinite(psd) & (psd > 0)).all(axis=1))
            raise DataError(
                f"ObservedSpectrum.psd must be finite and > 0 (in {PSD_UNITS}); rows "
                f"{bad.tolist()} are not. Drop flat or broken channels first."
            )
        if isinstance(self.ch_names, str):
            raise DataError("ObservedSpectrum.ch_names must be a sequence of names, got a str.")
        ch_names = tuple(str(c) for c in self.ch_names)
        if len(ch_names) != psd.shape[0] or len(set(ch_names)) != len(ch_names):
            raise DataError(
                f"ObservedSpectrum.ch_names must hold {psd.shape[0]} unique names (one per "
                f"row of psd), got {list(ch_names)}."
            )
        n_eff = np.asarray(self.n_eff, dtype=float)
        if n_eff.ndim == 0:
            n_eff = float(n_eff)
        elif n_eff.shape == (psd.shape[0],):
            n_eff = _frozen_array(n_eff, "n_eff")
        else:
            raise DataError(
                f"ObservedSpectrum.n_eff must be a number or have shape (n_channels="
                f"{psd.shape[0]},), got shape {n_eff.shape}."
            )
        if not np.all(np.isfinite(n_eff)) or np.any(np.asarray(n_eff) <= 0):
            raise DataError(f"ObservedSpectrum.n_eff must be finite and > 0, got {self.n_eff!r}.")
        check_option("method", self.method, ("welch", "multitaper"))
        if self.units != PSD_UNITS:
            raise DataError(
                f"ObservedSpectrum.units must be {PSD_UNITS!r} (convert the PSD to "
                f"{PSD_UNITS}, e.g. V^2/Hz times 1e6), got {self.units!r}."
            )
        record = _jsonable(copy.deepcopy(list(self.record or ())))
        try:
            json.dumps(record)
        except (TypeError, ValueError) as err:  # pragma: no cover - _jsonable covers it
            raise DataError(f"ObservedSpectrum.record must be JSON-serialisable: {err}") from None
        if self.source is not None and not isinstance(self.source, str):
            _set("source", str(self.source))
        sfreq = None
        if self.sfreq is not None:
            sfreq = check_positive("sfreq", self.sfreq, "Hz")
            if freqs[-1] > sfreq / 2 + 1e-9:
                raise DataError(
                    f"ObservedSpectrum.freqs go up to {freqs[-1]:g} Hz, above the Nyquist "
                    f"frequency {sfreq / 2:g} Hz of sfreq={sfreq:g} Hz."
                )
        excl = _frozen_array(np.atleast_1d(self.excluded_freqs).astype(float), "excluded_freqs")
        if excl.ndim != 1:
            raise DataError("ObservedSpectrum.excluded_freqs must be 1-D (in Hz).")
        _set("freqs", freqs)
        _set("psd", psd)
        _set("ch_names", ch_names)
        _set("n_eff", n_eff)
        _set("record", tuple(record))
        _set("sfreq", sfreq)
        _set("excluded_freqs", excl)

    # ------------------------------------------------------------------
    @property
    def n_channels(self):
        """Number of channels."""
        return self.psd.shape[0]

    @property
    def n_freqs(self):
        """Number of frequency bins."""
        return self.freqs.size

    def __repr__(self):
        n_eff = (
            f"{self.n_eff:.1f}" if np.ndim(self.n_eff) == 0 else f"{np.min(self.n_eff):.1f}-{np.max(self.n_eff):.1f}"
        )
        src = f" | {self.source}" if self.source else ""
        return (
            f"<ObservedSpectrum{src} | {self.n_channels} channels x {self.n_freqs} freqs, "
            f"{self.freqs[0]:g}-{self.freqs[-1]:g} Hz, {self.method}, n_eff={n_eff}, "
            f"{self.units}>"
        )

    def pick(self, names):
        """Return a new spectrum with the named channels, in the given order.

        Parameters
        ----------
        names : str | list of str
            Channel names.

        Returns
        -------
        spectrum : ObservedSpectrum
        """
        if isinstance(names, str):
            names = [names]
        idx = []
        for n in names:
            if n not in self.ch_names:
                raise DataError(f"Unknown channel {n!r}; the spectrum has {_fmt_names(self.ch_names)}.")
            idx.append(self.ch_names.index(n))
        n_eff = self.n_eff if np.ndim(self.n_eff) == 0 else np.asarray(self.n_eff)[idx]
        return ObservedSpectrum(
            freqs=self.freqs,
            psd=self.psd[idx],
            ch_names=[self.ch_names[i] for i in idx],
            n_eff=n_eff,
            method=self.method,
            units=self.units,
            record=self.record,
            source=self.source,
            sfreq=self.sfreq,
            excluded_freqs=self.excluded_freqs,
        )

    def to_dict(self):
        """Plain, JSON-serialisable dict of every field (for result attributes).

        Returns
        -------
        d : dict
            Arrays as (nested) lists; rebuild with :meth:`from_dict`.
        """
        return dict(
            freqs=self.freqs.tolist(),
            psd=self.psd.tolist(),
            ch_names=list(self.ch_names),
            n_eff=_jsonable(self.n_eff),
            method=self.method,
            units=self.units,
            record=list(self.record),
            source=self.source,
            sfreq=self.sfreq,
            excluded_freqs=self.excluded_freqs.tolist(),
        )

    @classmethod
    def from_dict(cls, d):
        """Rebuild a spectrum from :meth:`to_dict` output (a dict or its JSON text).

        Parameters
        ----------
        d : dict | str
            The dict, or the JSON string of it.

        Returns
        -------
        spectrum : ObservedSpectrum
        """
        if isinstance(d, (str, bytes)):
            d = json.loads(d)
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise DataError(f"Unknown ObservedSpectrum field(s) {sorted(unknown)}.")
        return cls(**d)


def _frozen_array(value, name, owner="ObservedSpectrum"):
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{owner}.{name} must be numeric, got {value!r}.") from None
    arr.flags.writeable = False
    return arr


# ----------------------------------------------------------------------------
def _check_band(fmin, fmax, sfreq):
    nyq = sfreq / 2.0
    vals = {}
    for nm, val in (("fmin", fmin), ("fmax", fmax)):
        try:
            vals[nm] = float(val)
        except (TypeError, ValueError):
            raise DataError(f"{nm!r} must be a frequency in Hz, got {val!r}.") from None
    fmin, fmax = vals["fmin"], vals["fmax"]
    if not (np.isfinite(fmin) and np.isfinite(fmax)) or fmin < 0 or fmax > nyq or fmin >= nyq:
        raise DataError(
            f"The band fmin={fmin:g} to fmax={fmax:g} Hz is not within 0 and the Nyquist "
            f"frequency {nyq:g} Hz (sfreq={sfreq:g} Hz); choose 0 <= fmin < fmax <= "
            f"{nyq:g} Hz."
        )
    if fmin >= fmax:
        raise DataError(f"fmin={fmin:g} Hz must be below fmax={fmax:g} Hz.")
    return fmin, fmax


def _exclusions(freqs, nyq, leak, highpass, lowpass, line_f0):
    """Boolean mask of bins to leave out, and the reason of each."""
    reasons = {}
    tol = 1e-9
    for i, f in enumerate(freqs):
        why = None
        if f <= leak + tol:
            why = "DC"
        elif f >= nyq - leak - tol:
            why = "Nyquist"
        elif highpass and f < highpass + leak - tol:
            why = "below high-pass"
        elif lowpass and lowpass < nyq and f > lowpass - leak + tol:
            why = "above low-pass"
        elif line_f0:
            k = max(int(np.round(f / line_f0)), 1)
            if abs(f - k * line_f0) <= _NOTCH_WIDTH / 2 + _NOTCH_TRANS + leak + tol:
                why = f"line noise ({k * line_f0:g} Hz)"
        if why:
            reasons[float(f)] = why
    mask = np.array([float(f) in reasons for f in freqs], bool)
    return mask, reasons


@_fill_doc
@verbose
def compute_spectrum(
    raw,
    *,
    picks=None,
    fmin=2.0,
    fmax=40.0,
    method="welch",
    seg_length=4.0,
    n_per_seg=None,
    overlap=0.5,
    window="hann",
    bandwidth=None,
    exclude_line=True,
    record=None,
    verbose=None,
):
    """Power spectrum of a (preprocessed) recording, with its effective segment count.

    Time covered by ``BAD_`` annotations is left out (MNE's
    ``reject_by_annotation``): Welch windows are placed in each good span
    like :func:`mne.time_frequency.psd_array_welch` does, and spans shorter
    than one segment are dropped. The PSD is converted from V^2/Hz to
    mV^2/Hz. Bins near DC, the Nyquist frequency, the filter edges
    (``raw.info['highpass']``, ``raw.info['lowpass']``) and the line
    frequency and its harmonics are left out and listed in
    ``excluded_freqs``.

    Parameters
    ----------
    raw : instance of mne.io.Raw | path-like
        The recording, usually the output of :func:`preprocess` (a path is
        read without preprocessing). It is not modified.
    picks : list of str | None
        Channels; None takes every EEG channel not in ``raw.info['bads']``.
    %(fmin_fmax)s
    %(method)s
    %(seg_length)s
    %(n_per_seg)s
    %(overlap)s
    %(window)s
    %(bandwidth)s
    %(exclude_line)s
    record : list of dict | None
        Preprocessing record (from :func:`preprocess`) to store with the
        spectrum; this step is appended to a copy of it.
    %(verbose)s

    Returns
    -------
    spectrum : ObservedSpectrum
        PSD in mV^2/Hz with ``n_eff`` (Welch (1967) correction for Welch;
        eigenvalue-weighted taper count times segments for multitaper).

    Raises
    ------
    DataError
        If the band is not within (0, Nyquist), the good data are shorter
        than one segment, or the data are NaN or flat.
    """
    if not isinstance(raw, mne.io.BaseRaw):
        raw = load_recording(raw)
    sfreq = float(raw.info["sfreq"])
    nyq = sfreq / 2.0
    # the record's load step names the file given by the user (an EEGLAB Raw
    # only knows its .fdt; region channels built by preprocess know nothing)
    name = next((r.get("source") for r in (record or []) if r.get("step") == "load"), None) or _source_name(raw)
    check_option("method", method, ("welch", "multitaper"))
    fmin, fmax = _check_band(fmin, fmax, sfreq)

    # ---- channels
    if picks is None:
        idx = mne.pick_types(raw.info, eeg=True, exclude="bads")
        if len(idx) == 0:
            _check_eeg(raw, name)
            raise DataError(
                f"Every EEG channel of {name or 'the recording'} is in raw.info['bads']; there is nothing to analyse."
            )
    else:
        names = [picks] if isinstance(picks, str) else list(picks)
        unknown = [n for n in names if n not in raw.ch_names]
        if unknown:
            raise DataError(f"Unknown channel(s) {unknown} in 'picks'. Available channels: {_fmt_names(raw.ch_names)}.")
        idx = np.array([raw.ch_names.index(n) for n in names], int)
    ch_names = [raw.ch_names[i] for i in idx]

    # ---- segment length
    if n_per_seg is not None:
        n_per_seg = int(n_per_seg)
        if n_per_seg < 2:
            raise DataError(f"n_per_seg must be at least 2 samples, got {n_per_seg}.")
    elif seg_length is None:
        if method != "multitaper":
            raise DataError(
                "seg_length=None (whole recording) is only possible with "
                "method='multitaper'; give Welch a segment length in seconds, e.g. 4."
            )
    else:
        seg_length = check_positive("seg_length", seg_length, "s")
        n_per_seg = int(round(seg_length * sfreq))
        if n_per_seg < 2:
            raise DataError(
                f"seg_length={seg_length:g} s is shorter than 2 samples at sfreq={sfreq:g} Hz; use a longer segment."
            )
    overlap = float(overlap)
    if not 0.0 <= overlap < 1.0:
        raise JRFitError(f"'overlap' must be in [0, 1), got {overlap!r}.")

    # ---- data, good samples, sanity
    x = raw.get_data(picks=idx)
    good = _annotation_good_mask(raw, picks=idx)
    if not np.isfinite(x).any():
        raise DataError(f"All values of {name or 'the recording'} are NaN or infinite; there is no data to analyse.")
    nonfinite = ~np.isfinite(x[:, good]).all(axis=1)
    if nonfinite.any():
        bad = [ch_names[i] for i in np.flatnonzero(nonfinite)]
        raise DataError(
            f"Channel(s) {bad} contain NaN or infinite values outside BAD_ annotations. "
            "Drop these channels (or annotate the affected time as BAD_), e.g. with "
            "jrfit.preprocess, which does both."
        )
    n_good = int(good.sum())
    duration = raw.n_times / sfreq
    if n_good == 0:
        raise DataError(
            f"All {duration:.1f} s of {name or 'the recording'} are covered by BAD_ "
            "annotations; there is no good data. Relax the bad-segment detection "
            "(bad_segments=dict(ptp_factor=...), or bad_segments=None) or remove annotations.",
            cli={
                "bad_segments=dict(ptp_factor=...), or bad_segments=None": (
                    "--bad-segments ptp_factor=F, or --bad-segments none"
                )
            },
        )
    xg = x[:, good]
    scale = np.max(np.abs(xg), axis=1)
    flat = xg.std(axis=1) <= 1e-9 * scale + np.finfo(float).tiny
    if flat.all():
        raise DataError(
            f"The data of {name or 'the recording'} are flat (zero variance in every "
            "channel); there is no signal to analyse. Check the recording's units and "
            "channels."
        )
    if flat.any():
        bad = [ch_names[i] for i in np.flatnonzero(flat)]
        raise DataError(
            f"Channel(s) {bad} are flat (zero variance). Drop them "
            "(raw.drop_channels) or let jrfit.preprocess find bad channels.",
            cli={
                "Drop them (raw.drop_channels) or let jrfit.preprocess find bad channels.": (
                    "Choose the others with --channels, or leave out --keep-bad-channels so that "
                    "flat channels are dropped."
                )
            },
        )
    del xg

    spans = _good_spans(good)
    span_len = [int(e - s) for s, e in spans]
    seg_desc = f"seg_length={n_per_seg / sfreq:g} s" if n_per_seg else ""
    if n_per_seg is not None and max(span_len) < n_per_seg:
        rej = duration - n_good / sfreq
        raise DataError(
            f"{name or 'The recording'} is too short for {seg_desc} segments: its "
            f"longest good span lasts {max(span_len) / sfreq:.2f} s ({duration:.2f} s in "
            f"all, {rej:.2f} s marked BAD_). Use a shorter seg_length (e.g. "
            f"{max(span_len) / sfreq / 2:.2f} s, at the cost of frequency resolution) or "
            "a longer recording.",
            cli={"seg_length": "--seg-length"},
        )

    # ---- spectrum
    if method == "welch":
        try:
            get_window(window, n_per_seg)
        except Exception as err:
            raise JRFitError(
                f"Invalid value for the 'window' parameter ({err}); give a "
                "scipy.signal.get_window specification such as 'hann'."
            ) from None
        n_overlap = int(round(overlap * n_per_seg))
        n_overlap = min(n_overlap, n_per_seg - 1)
        usable = np.zeros_like(good)
        for (s, e), length in zip(spans, span_len):
            if length >= n_per_seg:
                usable[s:e] = True
        xw = x.copy()
        xw[:, ~usable] = np.nan
        psd, freqs = welch_psd(xw, sfreq, fmin, fmax, n_per_seg, n_overlap, window)
        n_eff, n_windows = welch_n_eff(n_per_seg, n_overlap, [ln for ln in span_len if ln >= n_per_seg], window)
        w = np.asarray(get_window(window, n_per_seg), float)
        df = sfreq / n_per_seg
        enbw_bins = n_per_seg * np.sum(w**2) / np.sum(w) ** 2
        leak = np.ceil(enbw_bins - 1e-9) * df
        details = dict(
            n_per_seg=n_per_seg,
            n_overlap=n_overlap,
            window=window,
            n_windows=n_windows,
            n_spans_used=sum(ln >= n_per_seg for ln in span_len),
            enbw_hz=enbw_bins * df,
            freq_spacing_hz=df,
        )
    else:
        if n_per_seg is None:
            segs = x[:, good][np.newaxis]  # MNE's 'omit': concatenate the good data
        else:
            segs = [
                x[:, s + k * n_per_seg : s + (k + 1) * n_per_seg]
                for (s, e), length in zip(spans, span_len)
                for k in range(length // n_per_seg)
            ]
            segs = np.stack(segs)
        n_seg, _, n_t = segs.shape
        n_eff, n_tapers, half_nbw = multitaper_n_eff(n_t, sfreq, bandwidth, n_seg)
        psd, freqs = mne.time_frequency.psd_array_multitaper(
            segs,
            sfreq,
            fmin=fmin,
            fmax=fmax,
            bandwidth=bandwidth,
            adaptive=False,
            low_bias=True,
            normalization="full",
            verbose=_mne_verbose(),
        )
        psd = psd.mean(axis=0)
        df = sfreq / n_t
        leak = half_nbw / (n_t / sfreq)
        details = dict(
            n_per_seg=n_t,
            n_segments=n_seg,
            n_tapers=n_tapers,
            half_nbw=half_nbw,
            bandwidth_hz=2 * leak,
            freq_spacing_hz=df,
        )
    psd = psd * _V2_TO_MV2

    # ---- exclusions
    line_f0 = None
    if exclude_line is True:
        line_f0 = raw.info.get("line_freq")
    elif exclude_line not in (False, None):
        line_f0 = check_positive("exclude_line", exclude_line, "Hz")
    highpass = float(raw.info["highpass"] or 0.0)
    lowpass = float(raw.info["lowpass"] or nyq)
    mask, reasons = _exclusions(freqs, nyq, leak, highpass, lowpass, line_f0)
    if mask.all():
        raise DataError(
            f"No frequency bin is left between fmin={fmin:g} and fmax={fmax:g} Hz once "
            f"bins near DC, Nyquist ({nyq:g} Hz), the filter edges and line noise are "
            "excluded; widen the band."
        )
    excluded = freqs[mask]
    freqs, psd = freqs[~mask], psd[:, ~mask]
    if np.any(psd <= 0):
        bad = [ch_names[i] for i in np.flatnonzero((psd <= 0).any(axis=1))]
        raise DataError(f"Channel(s) {bad} have zero power in the band; drop them.")

    logger.info(
        f"Spectrum ({method}): {freqs[0]:g}-{freqs[-1]:g} Hz, {freqs.size} bins, "
        f"n_eff={n_eff:.1f}; excluded {excluded.size} bins" + (f": {_fmt_excluded(reasons)}" if reasons else "")
    )
    rec = [dict(r) for r in (record or [])]
    _step(
        rec,
        "spectrum",
        params=dict(
            method=method,
            fmin=fmin,
            fmax=fmax,
            seg_length=n_per_seg / sfreq if n_per_seg else None,
            overlap=overlap if method == "welch" else None,
            window=window if method == "welch" else "dpss",
            bandwidth=bandwidth,
            exclude_line=exclude_line,
        ),
        units=PSD_UNITS,
        unit_conversion="MNE V^2/Hz x 1e6",
        n_eff=n_eff,
        good_duration_s=n_good / sfreq,
        percent_time_rejected=100.0 * (1 - n_good / raw.n_times),
        excluded_bins=reasons,
        line_freq=line_f0,
        **details,
    )
    return ObservedSpectrum(
        freqs=freqs,
        psd=psd,
        ch_names=ch_names,
        n_eff=n_eff,
        method=method,
        units=PSD_UNITS,
        record=rec,
        source=name,
        sfreq=sfreq,
        excluded_freqs=excluded,
    )


def _fmt_excluded(reasons):
    groups = {}
    for f, why in reasons.items():
        groups.setdefault(why, []).append(f)
    return "; ".join(
        f"{why} {min(fs):g}-{max(fs):g} Hz" if len(fs) > 1 else f"{why} {fs[0]:g} Hz" for why, fs in groups.items()
    )


@_fill_doc
@verbose
def prepare_spectrum(
    source,
    *,
    picks=None,
    regions=None,
    fmin=2.0,
    fmax=40.0,
    method="welch",
    reference=None,
    line_freq="auto",
    l_freq=1.0,
    h_freq=None,
    bad_channels="auto",
    bad_segments="auto",
    seg_length=4.0,
    overlap=0.5,
    window="hann",
    bandwidth=None,
    channel_types=None,
    verbose=None,
):
    """Load, clean and compute the spectrum of a recording in one call.

    Runs :func:`load_recording`, :func:`preprocess` and
    :func:`compute_spectrum`; the returned spectrum's ``record`` lists every
    step.

    Parameters
    ----------
    %(source)s
    %(picks)s
    %(regions)s
    %(fmin_fmax)s
    %(method)s
    %(reference)s
    %(line_freq)s
    %(l_freq)s
    %(h_freq)s
    %(bad_channels)s
    %(bad_segments)s
    %(seg_length)s
    %(overlap)s
    %(window)s
    %(bandwidth)s
    %(channel_types)s
    %(verbose)s

    Returns
    -------
    spectrum : ObservedSpectrum
        PSD in mV^2/Hz of the chosen channels and regions.

    Examples
    --------
    >>> spec = prepare_spectrum("sub-01_eeg.edf", regions={"occipital": ["O1", "O2"]})
    ... # doctest: +SKIP
    """
    raw, name, reader_warnings = _read_with_warnings(source)
    _set_channel_types(raw, channel_types, name)
    _check_eeg(raw, name)
    check_option("method", method, ("welch", "multitaper"))
    _check_band(fmin, fmax, raw.info["sfreq"])  # fail before the slow steps
    raw, record = _preprocess(
        raw,
        name,
        picks=picks,
        regions=regions,
        reference=reference,
        line_freq=line_freq,
        l_freq=l_freq,
        h_freq=h_freq,
        bad_channels=bad_channels,
        bad_segments=bad_segments,
        reader_warnings=reader_warnings,
    )
    spec = compute_spectrum(
        raw,
        fmin=fmin,
        fmax=fmax,
        method=method,
        seg_length=seg_length,
        overlap=overlap,
        window=window,
        bandwidth=bandwidth,
        exclude_line=True,
        record=record,
    )
    return spec
