"""Preprocessing: a recording cleaned for fitting, as a list of small recorded steps.

A continuous recording goes through :data:`_STEPS` (:func:`preprocess`):
load, EEG only, 10-05 names, declared and non-finite bad channels, line-noise
notch, band-pass, detected bad channels, reference, bad segments, and the
channel picks and regions. Epochs and averages, too short to high-pass or
notch, go through :data:`_EPOCHED_STEPS` (:func:`_clean_epoched`, used by
:mod:`jrfit.data.evoked`). Every step reads one frozen
:class:`PreprocessOptions` and appends what it did to the run's ``record``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import mne
import numpy as np

from jrfit.utils.check import check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import DataError

from jrfit.data.common import _mne_verbose, _step
from jrfit.data.docs import _fill_doc
from jrfit.data.io import _check_eeg, _read_with_warnings, _set_channel_types
from jrfit.data.channels import _drop_bads, _resolve_names, _resolve_user_names, _select, _standardize_names
from jrfit.data.detect import (
    _BAD_CHANNEL_DEFAULTS,
    _BAD_SEGMENT_DEFAULTS,
    _annotation_good_mask,
    _check_amplitude,
    _check_bad_channels_option,
    _detect_bad_channels,
    _detect_bad_segments,
    _detect_line_freq,
    _detects_bad_channels,
    _exempt,
    _kept_by_request,
    _merge_opts,
    _non_finite,
)
from jrfit.data.reference import _apply_reference

__all__ = ["PreprocessOptions", "preprocess"]

_NOTCH_WIDTH = 1.0  # full width of each notch, in Hz
_NOTCH_TRANS = 1.0  # transition band of the notch filter, in Hz


# ----------------------------------------------------------------------------
# options
@dataclass(frozen=True)
class PreprocessOptions:
    """The settings of one preprocessing run, read by every step.

    The fields are the keywords of :func:`preprocess`, in its order (see
    there for their meaning and units), as given by the user: the record
    stores them so.

    Parameters
    ----------
    picks : list of str | None
        Channels to keep.
    regions : dict of str to list of str | None
        Virtual channels (means of good channels).
    reference : None | 'average' | str | list of str
        Re-referencing.
    line_freq : 'auto' | float | None
        Power-line frequency to notch out, in Hz.
    l_freq, h_freq : float | None
        Band-pass cut-offs, in Hz.
    bad_channels : 'auto' | dict | list of str | None
        Bad-channel handling.
    bad_segments : 'auto' | dict | None
        Bad-segment detection.
    reader_warnings : tuple of str
        What the file reader warned about (recorded in a ``read_warnings`` step).
    """

    picks: object = None
    regions: dict | None = None
    reference: object = None
    line_freq: object = "auto"
    l_freq: float | None = 1.0
    h_freq: float | None = None
    bad_channels: object = "auto"
    bad_segments: object = "auto"
    reader_warnings: tuple = ()

    def checked(self, sfreq):
        """A validated copy for a recording sampled at ``sfreq`` Hz (raises before any work is done).

        Parameters
        ----------
        sfreq : float
            Sampling frequency, in Hz.

        Returns
        -------
        opts : PreprocessOptions
            With the frequencies as floats.
        """
        line_freq = self.line_freq
        if line_freq not in ("auto", None):
            line_freq = check_positive("line_freq", line_freq, "Hz")
        l_freq, h_freq = _check_band_pass(self.l_freq, self.h_freq, sfreq)
        _check_bad_channels_option(self.bad_channels)
        _ = self.segment_options  # raises on unknown keys
        _check_regions(self.regions)
        return dataclasses.replace(self, line_freq=line_freq, l_freq=l_freq, h_freq=h_freq)

    @property
    def segment_options(self):
        """The bad-segment detector's settings (defaults merged in), or None to skip it."""
        if self.bad_segments is None:
            return None
        return _merge_opts("bad_segments", self.bad_segments, _BAD_SEGMENT_DEFAULTS)


def _check_regions(regions):
    """Refuse ``regions`` that are not None or a dict (names are checked once the channels are known)."""
    if regions is not None and not isinstance(regions, dict):
        raise DataError(
            "'regions' must be a dict mapping a region name to a list of channel "
            f"names, e.g. {{'occipital': ['O1', 'O2', 'Oz']}}, got {regions!r}."
        )


def _check_band_pass(l_freq, h_freq, sfreq):
    """``l_freq`` and ``h_freq`` (Hz) checked against each other and the Nyquist frequency of ``sfreq``."""
    if l_freq is not None:
        l_freq = _below_nyquist("l_freq", l_freq, sfreq)
    if h_freq is not None:
        h_freq = _below_nyquist("h_freq", h_freq, sfreq, " (no low-pass)")
        if l_freq is not None and l_freq >= h_freq:
            raise DataError(f"l_freq={l_freq:g} Hz must be below h_freq={h_freq:g} Hz.")
    return l_freq, h_freq


def _below_nyquist(name, value, sfreq, consequence="", cli=None):
    """``value`` (Hz), checked to be positive and below the Nyquist frequency of ``sfreq``; ``name`` is the option."""
    value = check_positive(name, value, "Hz")
    nyq = sfreq / 2.0
    if value >= nyq:
        raise DataError(
            f"{name}={value:g} Hz is not below the Nyquist frequency ({nyq:g} Hz at "
            f"sfreq={sfreq:g} Hz); lower it or pass {name}=None{consequence}.",
            cli=cli,
        )
    return value


@dataclass(eq=False)
class _Run:
    """The state of one run: the private copy being cleaned, its record, and what the steps found.

    Parameters
    ----------
    inst : instance of mne.io.Raw | mne.Epochs | mne.Evoked
        The private, preloaded copy (modified in place; a step may replace it).
    name : str | None
        Source name, for the messages and the record.
    opts : PreprocessOptions
        The settings.
    kind : 'raw' | 'epochs' | 'evoked'
        What ``inst`` is.

    Attributes
    ----------
    record : list of dict
        The steps so far.
    rename : dict of str to str
        Original names renamed to their 10-05 spelling.
    all_eeg : list of str
        The EEG channels before any was dropped.
    pick_names, region_map, ref_names : list | None, dict, list | None
        The user's picks, regions and reference channels, as recording names.
    keep : set of str
        Channels that ``bad_channels=dict(keep=...)`` exempts from the detection.
    bads : dict of str to str
        Bad channels and why.
    sfreq : float
        Sampling frequency, in Hz.
    """

    inst: object
    name: str | None
    opts: PreprocessOptions
    kind: str = "raw"
    record: list = field(default_factory=list)
    rename: dict = field(default_factory=dict)
    all_eeg: list = field(default_factory=list)
    pick_names: list | None = None
    region_map: dict = field(default_factory=dict)
    ref_names: list | None = None
    keep: set = field(default_factory=set)
    bads: dict = field(default_factory=dict)
    sfreq: float = field(init=False)

    def __post_init__(self):
        self.sfreq = float(self.inst.info["sfreq"])  # Hz; kept when a step replaces inst


# ----------------------------------------------------------------------------
# steps shared by continuous and epoched data
def _pick_eeg_channels(inst):
    """Keep the EEG channels of ``inst`` (in place); the names of the others."""
    non_eeg = [n for n, t in zip(inst.ch_names, inst.get_channel_types()) if t != "eeg"]
    inst.pick("eeg", exclude=[])
    return non_eeg


def _names(run):
    """10-05 names and positions; the user's picks, regions, reference and kept channels resolved (fail early)."""
    o = run.opts
    run.rename = _standardize_names(run.inst, run.record)
    run.all_eeg = list(run.inst.ch_names)
    run.pick_names, run.region_map, run.ref_names = _resolve_user_names(
        o.picks, o.regions, o.reference, run.all_eeg, run.rename
    )
    run.keep = _kept_by_request(o.bad_channels, run.all_eeg, run.rename)


def _declared_bads(run, where):
    """Channels marked bad in ``info['bads']`` (``where`` names it) or given in ``bad_channels``, and why."""
    bads = {run.rename.get(b, b): f"marked bad in {where}" for b in run.inst.info["bads"]}
    if isinstance(run.opts.bad_channels, (list, tuple)):
        for b in _resolve_names(list(run.opts.bad_channels), run.all_eeg, run.rename, "bad_channels"):
            bads.setdefault(b, "given in bad_channels")
    return bads


def _detected(run, x):
    """Flat and extreme channels of ``x`` (n_channels, n_samples) not asked to be kept, and those kept."""
    found, rstd, z = _detect_bad_channels(x, run.sfreq, run.inst.ch_names, dict(_BAD_CHANNEL_DEFAULTS))
    found, spared = _exempt(found, run.keep, run.name)
    return found, spared, rstd, z


def _log_bads(bads):
    if bads:
        logger.info(f"Bad channels dropped: {', '.join(f'{k} ({v})' for k, v in bads.items())}")


def _re_reference(run):
    _apply_reference(run.inst, run.opts.reference, run.ref_names, run.bads, run.record, run.name)


# ----------------------------------------------------------------------------
# steps of a continuous recording
def _record_load(run):
    raw = run.inst
    _step(
        run.record,
        "load",
        source=run.name,
        sfreq=run.sfreq,
        n_channels=len(raw.ch_names),
        duration_s=raw.n_times / run.sfreq,
        channel_types=dict(Counter(raw.get_channel_types())),
        mne_version=mne.__version__,
    )
    if run.opts.reader_warnings:  # what the reader said about the file (e.g. a truncated EDF)
        _step(run.record, "read_warnings", messages=list(run.opts.reader_warnings))


def _pick_eeg(run):
    non_eeg = _pick_eeg_channels(run.inst)
    _step(run.record, "pick_eeg", dropped_non_eeg=non_eeg, n_eeg=len(run.inst.ch_names))


def _declared_bad_channels(run):
    """Bad channels, phase 1: declared and non-finite (short non-finite spans interpolated and annotated)."""
    raw = run.inst
    run.bads = _declared_bads(run, "raw.info['bads']")
    data = raw.get_data()
    finite = np.isfinite(data)
    if not finite.any():
        raise DataError(
            f"All values of {run.name or 'the recording'} are NaN or infinite; there is "
            "no data to analyse. Check the file or how the Raw object was built."
        )
    _check_amplitude(data, finite, run.name, run.record)
    for ch, reason in _non_finite(raw, data, finite, run.name, run.record).items():
        run.bads.setdefault(ch, reason)
    del data, finite
    raw.info["bads"] = []
    _drop_bads(raw, run.bads, run.name)


def _notch_frequencies(f_line, nyq, h_freq):
    """Harmonics of ``f_line`` (Hz) to notch, and those too close to the Nyquist frequency to."""
    notch_freqs, skipped = [], []
    top = nyq - _NOTCH_WIDTH / 2 - _NOTCH_TRANS
    k = 1
    while k * f_line < nyq:
        (notch_freqs if k * f_line < top else skipped).append(k * f_line)
        k += 1
    if h_freq is not None:  # harmonics above the low-pass are removed anyway
        notch_freqs = [f for f in notch_freqs if f < h_freq + 2 * _NOTCH_TRANS]
    return notch_freqs, skipped


def _notch_line_noise(run):
    """Line noise, detected on the unfiltered good channels (or as given), notched with its harmonics."""
    raw, line_freq = run.inst, run.opts.line_freq
    detected, ratios = None, {}
    if line_freq == "auto":
        detected, ratios = _detect_line_freq(raw.get_data(), run.sfreq)
        f_line = detected
    else:
        f_line = line_freq
    notch_freqs, skipped = [], []
    if f_line is not None:
        notch_freqs, skipped = _notch_frequencies(f_line, run.sfreq / 2.0, run.opts.h_freq)
        if notch_freqs:
            raw.notch_filter(
                notch_freqs, notch_widths=_NOTCH_WIDTH, trans_bandwidth=_NOTCH_TRANS, verbose=_mne_verbose()
            )
        raw.info["line_freq"] = float(f_line)
    _step(
        run.record,
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


def _band_pass(run):
    l_freq, h_freq = run.opts.l_freq, run.opts.h_freq
    if l_freq is not None or h_freq is not None:
        run.inst.filter(l_freq, h_freq, verbose=_mne_verbose())
    _step(
        run.record,
        "filter",
        params=dict(l_freq=l_freq, h_freq=h_freq),
        highpass=run.inst.info["highpass"],
        lowpass=run.inst.info["lowpass"],
        design="MNE FIR, zero-phase, firwin (defaults)",
    )


def _detected_bad_channels(run):
    """Bad channels, phase 2: flat and extreme variance, on the filtered data."""
    raw = run.inst
    found, spared, opts, stats = {}, {}, {}, {}
    if _detects_bad_channels(run.opts.bad_channels):
        opts = dict(_BAD_CHANNEL_DEFAULTS)
        found, spared, rstd, z = _detected(run, raw.get_data())
        if len(found) == len(raw.ch_names) and set(found.values()) == {"flat"}:
            raise DataError(
                f"All {len(raw.ch_names)} EEG channels of {run.name or 'the recording'} are "
                "flat (no signal after filtering); there is no data to analyse."
            )
        stats = dict(
            robust_std_uV={n: s * 1e6 for n, s in zip(raw.ch_names, rstd)},
            robust_z={n: v for n, v in zip(raw.ch_names, z)},
        )
    run.bads.update(found)
    _drop_bads(raw, found, run.name)
    _step(
        run.record,
        "bad_channels",
        params=dict(bad_channels=run.opts.bad_channels, **opts),
        bads=run.bads,
        kept_as_asked=spared,
        n_good=len(raw.ch_names),
        **stats,
    )
    _log_bads(run.bads)


def _annotate_bad_segments(run):
    """``BAD_amplitude`` and ``BAD_flat`` annotations; the share of time rejected, with the existing ``BAD_``."""
    raw, seg_opts = run.inst, run.opts.segment_options
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
        run.record,
        "bad_segments",
        params=dict(bad_segments=seg_opts),
        existing_bad_annotations=dict(Counter(existing)),
        new_annotations=[dict(onset_s=o, duration_s=d, description=s) for o, d, s in new_annots],
        percent_time_rejected=pct,
        good_duration_s=float(good.sum() / run.sfreq),
        **seg_stats,
    )
    logger.info(f"Bad segments: {len(new_annots)} new, {pct:.1f} % of the time rejected")


def _select_channels(run):
    """The picked channels and the regions (virtual channels), and the ``result`` step."""
    run.inst = _select(run.inst, run.pick_names, run.region_map, run.bads, run.record)
    _step(
        run.record,
        "result",
        ch_names=list(run.inst.ch_names),
        n_channels=len(run.inst.ch_names),
        sfreq=run.sfreq,
        duration_s=run.inst.n_times / run.sfreq,
    )


#: The steps of a continuous recording, in order.
_STEPS = (
    _record_load,
    _pick_eeg,
    _names,
    _declared_bad_channels,
    _notch_line_noise,
    _band_pass,
    _detected_bad_channels,
    _re_reference,
    _annotate_bad_segments,
    _select_channels,
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
    opts = PreprocessOptions(picks, regions, reference, line_freq, l_freq, h_freq, bad_channels, bad_segments)
    raw, name, opts = _read_source(raw, channel_types, opts)
    return _preprocess(raw, name, opts)


def _read_source(source, channel_types, opts):
    """A private copy of ``source`` (``channel_types`` set), its name, and ``opts`` with the reader's warnings."""
    raw, name, reader_warnings = _read_with_warnings(source)
    _set_channel_types(raw, channel_types, name)
    return raw, name, dataclasses.replace(opts, reader_warnings=tuple(reader_warnings))


def _preprocess(raw, name, opts):
    """:func:`preprocess` on a private, preloaded copy (modified in place).

    Parameters
    ----------
    raw : instance of mne.io.Raw
        The private copy.
    name : str | None
        Source name.
    opts : PreprocessOptions
        The settings (validated here, before any work).

    Returns
    -------
    raw_clean : instance of mne.io.Raw
    record : list of dict
    """
    _check_eeg(raw, name)
    run = _Run(raw, name, opts.checked(float(raw.info["sfreq"])))
    for step in _STEPS:
        step(run)
    return run.inst, run.record


# ----------------------------------------------------------------------------
# steps of epochs and averages (too short to high-pass or notch)
def _record_load_epoched(run):
    inst = run.inst
    load = dict(
        source=run.name,
        kind=run.kind,
        sfreq=run.sfreq,
        n_channels=len(inst.ch_names),
        tmin_s=float(inst.times[0]),
        tmax_s=float(inst.times[-1]),
        channel_types=dict(Counter(inst.get_channel_types())),
        mne_version=mne.__version__,
    )
    if run.kind == "epochs":
        load["n_epochs"] = len(inst)
    else:
        load.update(nave=int(inst.nave), comment=inst.comment)
    _step(run.record, "load", **load)
    if run.opts.h_freq is not None:
        _below_nyquist(
            "h_freq", run.opts.h_freq, run.sfreq, " (no low-pass)", cli={"h_freq": "--lowpass", "=None": " none"}
        )
    _check_bad_channels_option(run.opts.bad_channels)


def _apply_projections(run):
    """Projections (e.g. the average-reference projector of MNE's files), applied."""
    inst = run.inst
    projs = [p["desc"] for p in inst.info["projs"]]
    pending = [p["desc"] for p in inst.info["projs"] if not p["active"]]
    if projs:
        inst.apply_proj(verbose=_mne_verbose())
    _step(run.record, "projections", applied=pending, already_active=[p for p in projs if p not in pending])
    if pending:
        logger.info(f"Applied projection(s): {', '.join(pending)}")


def _pick_eeg_epoched(run):
    non_eeg = _pick_eeg_channels(run.inst)
    _step(run.record, "pick_eeg", n_dropped_non_eeg=len(non_eeg), n_eeg=len(run.inst.ch_names))


def _bad_channels_epoched(run):
    """Bad channels: declared, non-finite, and (epochs, not averages) flat or extreme."""
    inst = run.inst
    run.bads = _declared_bads(run, "info['bads']")
    data = inst.get_data()
    data2 = data.transpose(1, 0, 2).reshape(len(run.all_eeg), -1) if data.ndim == 3 else data
    if not np.isfinite(data2).any():
        raise DataError(f"All values of {run.name or 'the data'} are NaN or infinite; there is no data.")
    for i in np.flatnonzero(~np.isfinite(data2).all(axis=1)):
        run.bads.setdefault(run.all_eeg[i], "non-finite values")
    inst.info["bads"] = []
    _drop_bads(inst, run.bads, run.name)
    found, spared = {}, {}
    detect = _detects_bad_channels(run.opts.bad_channels) and run.kind == "epochs"
    if detect:
        rows = [run.all_eeg.index(n) for n in inst.ch_names]
        found, spared, _, _ = _detected(run, data2[rows])
        run.bads.update(found)
        _drop_bads(inst, found, run.name)
    _step(
        run.record,
        "bad_channels",
        params=dict(bad_channels=run.opts.bad_channels),
        bads=run.bads,
        detected=bool(detect),
        kept_as_asked=spared,
        n_good=len(inst.ch_names),
    )
    _log_bads(run.bads)


def _low_pass(run):
    """Only a low-pass makes sense on short epochs and averages, and only below the data's."""
    inst, h_freq = run.inst, run.opts.h_freq
    lowpass = inst.info["lowpass"]
    applied = None
    if h_freq is not None and (lowpass is None or h_freq < lowpass):
        inst.filter(None, h_freq, verbose=_mne_verbose())
        applied = h_freq
    _step(
        run.record,
        "filter",
        params=dict(l_freq=run.opts.l_freq, h_freq=h_freq, line_freq=run.opts.line_freq),
        lowpass_applied=applied,
        highpass=inst.info["highpass"],
        lowpass=inst.info["lowpass"],
        note=f"{run.kind}: no high-pass or notch (too short to filter; filter the continuous "
        "recording); low-pass only where below the data's",
    )


def _select_channels_epoched(run):
    if run.pick_names is not None or run.region_map:
        run.inst = _select(run.inst, run.pick_names, run.region_map, run.bads, run.record)
    _step(run.record, "channels", ch_names=list(run.inst.ch_names), n_channels=len(run.inst.ch_names))


#: The steps of epochs and averages, in order.
_EPOCHED_STEPS = (
    _record_load_epoched,
    _apply_projections,
    _pick_eeg_epoched,
    _names,
    _bad_channels_epoched,
    _re_reference,
    _low_pass,
    _select_channels_epoched,
)


def _clean_epoched(inst, name, kind, opts):
    """Projections, EEG, names, bad channels, reference, low-pass, picks and regions of epochs or an average.

    Parameters
    ----------
    inst : instance of mne.Epochs | mne.Evoked
        A private, preloaded copy (modified in place).
    name : str | None
        Source name.
    kind : 'epochs' | 'evoked'
        What ``inst`` is.
    opts : PreprocessOptions
        The settings (``h_freq`` already checked to be positive; ``l_freq`` and
        ``line_freq`` are only recorded).

    Returns
    -------
    inst : instance of mne.Epochs | mne.Evoked
    record : list of dict
    """
    run = _Run(inst, name, opts, kind=kind)
    for step in _EPOCHED_STEPS:
        step(run)
    return run.inst, run.record
