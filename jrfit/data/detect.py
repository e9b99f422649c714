"""Detectors of bad data.

Flat and extreme-variance channels, non-finite spans, implausible amplitude
(a unit problem), power-line noise, and bad segments (amplitude and
flatness on sliding windows, ``BAD_`` annotations).
"""

from __future__ import annotations


import mne
import numpy as np

from jrfit.utils.check import check_option
from jrfit.utils.log import logger
from jrfit.errors import DataError, JRFitError

from jrfit.data.common import _step
from jrfit.data.channels import _resolve_names


# Defaults of the automatic detectors (documented in preprocess()).
_BAD_CHANNEL_DEFAULTS = dict(z_thresh=5.0, ratio_min=4.0, flat_ratio=0.05, window=1.0)
_BAD_SEGMENT_DEFAULTS = dict(window=1.0, ptp_factor=5.0, flat_factor=0.05, reject=None, flat=None)
_MIN_CHANNELS_FOR_OUTLIERS = 8  # good channels needed before high-variance channels are looked for
_FLAT_ABS = 1e-13  # robust std below which a channel is flat whatever the others, in V
_LINE_CANDIDATES = (50.0, 60.0)
_LINE_RATIO = 3.0  # peak / flank power ratio above which line noise is detected


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
