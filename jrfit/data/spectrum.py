"""Power spectra of a recording, their effective number of segments, and :class:`ObservedSpectrum`.

The pipeline is::

    path or Raw --load_recording--> Raw --preprocess--> (Raw, record)
                --compute_spectrum--> ObservedSpectrum

(:func:`jrfit.data.io.load_recording`, :func:`jrfit.data.preprocess.preprocess`)
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

import dataclasses
from dataclasses import dataclass, field

import mne
import numpy as np
from scipy.signal import get_window

from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import DataError, JRFitError

from jrfit.data.common import _fmt_names, _mne_verbose, _step
from jrfit.data.docs import _fill_doc
from jrfit.data.io import _check_eeg, _source_name, load_recording
from jrfit.data.observed import ObservedMixin
from jrfit.data.detect import _annotation_good_mask, _good_spans
from jrfit.data.preprocess import _NOTCH_TRANS, _NOTCH_WIDTH, PreprocessOptions, _preprocess, _read_source

__all__ = [
    "ObservedSpectrum",
    "SpectrumOptions",
    "compute_spectrum",
    "prepare_spectrum",
    "welch_psd",
    "welch_n_eff",
    "multitaper_n_eff",
]


#: Unit of :attr:`ObservedSpectrum.psd` (MNE's V^2/Hz times 1e6).
PSD_UNITS = "mV^2/Hz"
_V2_TO_MV2 = 1e6


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
class ObservedSpectrum(ObservedMixin):
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

    _WHAT = "the spectrum"

    def __post_init__(self):
        freqs = self._checked_freqs()
        psd = self._channel_rows("psd", freqs.size, "n_freqs")
        self._check_positive_rows(psd, "psd", PSD_UNITS, "Drop flat or broken channels first.")
        ch_names = self._checked_names(psd.shape[0], "psd")
        n_eff = self._checked_n_eff(psd.shape[0])
        check_option("method", self.method, ("welch", "multitaper"))
        self._check_units(PSD_UNITS, f"convert the PSD to {PSD_UNITS}, e.g. V^2/Hz times 1e6")
        record = self._checked_record()
        self._set(source=self._checked_source())
        sfreq = None
        if self.sfreq is not None:
            sfreq = check_positive("sfreq", self.sfreq, "Hz")
            if freqs[-1] > sfreq / 2 + 1e-9:
                raise DataError(
                    f"ObservedSpectrum.freqs go up to {freqs[-1]:g} Hz, above the Nyquist "
                    f"frequency {sfreq / 2:g} Hz of sfreq={sfreq:g} Hz."
                )
        excl = self._array("excluded_freqs", np.atleast_1d(self.excluded_freqs).astype(float))
        if excl.ndim != 1:
            raise DataError("ObservedSpectrum.excluded_freqs must be 1-D (in Hz).")
        self._set(freqs=freqs, psd=psd, ch_names=ch_names, n_eff=n_eff, record=record, sfreq=sfreq, excluded_freqs=excl)

    def _checked_freqs(self):
        freqs = self._array("freqs")
        if freqs.ndim != 1 or freqs.size == 0:
            raise DataError(f"ObservedSpectrum.freqs must be a non-empty 1-D array (in Hz), got shape {freqs.shape}.")
        if not np.all(np.isfinite(freqs)) or np.any(freqs < 0) or np.any(np.diff(freqs) <= 0):
            raise DataError("ObservedSpectrum.freqs must be finite, >= 0 and strictly increasing (Hz).")
        return freqs

    def _checked_n_eff(self, n_channels):
        """``n_eff`` as a float, or a read-only array of one value per channel; finite and > 0."""
        n_eff = np.asarray(self.n_eff, dtype=float)
        if n_eff.ndim == 0:
            n_eff = float(n_eff)
        elif n_eff.shape == (n_channels,):
            n_eff = self._array("n_eff", n_eff)
        else:
            raise DataError(
                f"ObservedSpectrum.n_eff must be a number or have shape (n_channels="
                f"{n_channels},), got shape {n_eff.shape}."
            )
        if not np.all(np.isfinite(n_eff)) or np.any(np.asarray(n_eff) <= 0):
            raise DataError(f"ObservedSpectrum.n_eff must be finite and > 0, got {self.n_eff!r}.")
        return n_eff

    # ------------------------------------------------------------------
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

    def _picked(self, idx):
        """This object's copy with the rows ``idx`` (see :meth:`pick`)."""
        n_eff = self.n_eff if np.ndim(self.n_eff) == 0 else np.asarray(self.n_eff)[idx]
        return self._replace(psd=self.psd[idx], ch_names=[self.ch_names[i] for i in idx], n_eff=n_eff)


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
    opts = SpectrumOptions(fmin, fmax, method, seg_length, n_per_seg, overlap, window, bandwidth, exclude_line)
    return _compute_spectrum(raw, _spectrum_source(raw, record), picks, opts, record)


@dataclass(frozen=True)
class SpectrumOptions:
    """The settings of :func:`compute_spectrum`, in its order (see there for their meaning).

    Parameters
    ----------
    fmin, fmax : float
        Band, in Hz.
    method : 'welch' | 'multitaper'
        Spectral estimator.
    seg_length : float | None
        Segment length, in s.
    n_per_seg : int | None
        Segment length, in samples (overrides ``seg_length``).
    overlap : float
        Fraction of overlap between Welch segments, in [0, 1).
    window : str | tuple
        Taper of the Welch segments.
    bandwidth : float | None
        Multitaper full bandwidth 2W, in Hz.
    exclude_line : bool | float
        Leave out the bins near the line frequency (True: ``raw.info['line_freq']``; a number: in Hz).
    """

    fmin: float = 2.0
    fmax: float = 40.0
    method: str = "welch"
    seg_length: float | None = 4.0
    n_per_seg: int | None = None
    overlap: float = 0.5
    window: object = "hann"
    bandwidth: float | None = None
    exclude_line: object = True

    def checked_band(self, sfreq):
        """A copy with the method checked and the band (Hz) within 0 and the Nyquist frequency of ``sfreq``."""
        check_option("method", self.method, ("welch", "multitaper"))
        fmin, fmax = _check_band(self.fmin, self.fmax, sfreq)
        return dataclasses.replace(self, fmin=fmin, fmax=fmax)

    def checked_segments(self, sfreq):
        """A copy with ``n_per_seg`` in samples (None: the whole good data, multitaper) and ``overlap`` a float."""
        n_per_seg = self.n_per_seg
        if n_per_seg is not None:
            n_per_seg = int(n_per_seg)
            if n_per_seg < 2:
                raise DataError(f"n_per_seg must be at least 2 samples, got {n_per_seg}.")
        elif self.seg_length is None:
            if self.method != "multitaper":
                raise DataError(
                    "seg_length=None (whole recording) is only possible with "
                    "method='multitaper'; give Welch a segment length in seconds, e.g. 4."
                )
        else:
            seg_length = check_positive("seg_length", self.seg_length, "s")
            n_per_seg = int(round(seg_length * sfreq))
            if n_per_seg < 2:
                raise DataError(
                    f"seg_length={seg_length:g} s is shorter than 2 samples at sfreq={sfreq:g} Hz; "
                    "use a longer segment."
                )
        overlap = float(self.overlap)
        if not 0.0 <= overlap < 1.0:
            raise JRFitError(f"'overlap' must be in [0, 1), got {overlap!r}.")
        return dataclasses.replace(self, n_per_seg=n_per_seg, overlap=overlap)


def _spectrum_source(raw, record):
    """The source's name: from the record's load step, which names the file given by the user.

    An EEGLAB Raw only knows its .fdt; region channels built by preprocess know nothing.
    """
    return next((r.get("source") for r in (record or []) if r.get("step") == "load"), None) or _source_name(raw)


def _compute_spectrum(raw, name, picks, opts, record):
    """:func:`compute_spectrum` of a Raw, with its settings in ``opts`` (:class:`SpectrumOptions`)."""
    sfreq = float(raw.info["sfreq"])
    opts = opts.checked_band(sfreq)
    idx = _channel_indices(raw, picks, name)
    ch_names = [raw.ch_names[i] for i in idx]
    opts = opts.checked_segments(sfreq)
    x = raw.get_data(picks=idx)
    good = _annotation_good_mask(raw, picks=idx)
    _check_good_data(x, good, ch_names, name, raw.n_times / sfreq)
    spans = _good_spans(good)
    _check_spans(spans, opts.n_per_seg, sfreq, name, raw.n_times / sfreq, int(good.sum()))
    estimate = _welch if opts.method == "welch" else _multitaper
    psd, freqs, n_eff, leak, details = estimate(x, good, spans, sfreq, opts)
    psd = psd * _V2_TO_MV2
    line_f0 = _line_frequency(opts.exclude_line, raw)
    freqs, psd, excluded, reasons = _exclude_bins(freqs, psd, raw, leak, line_f0, opts, ch_names)
    logger.info(
        f"Spectrum ({opts.method}): {freqs[0]:g}-{freqs[-1]:g} Hz, {freqs.size} bins, "
        f"n_eff={n_eff:.1f}; excluded {excluded.size} bins" + (f": {_fmt_excluded(reasons)}" if reasons else "")
    )
    rec = [dict(r) for r in (record or [])]
    n_good = int(good.sum())
    welch = opts.method == "welch"
    _step(
        rec,
        "spectrum",
        params=dict(
            method=opts.method,
            fmin=opts.fmin,
            fmax=opts.fmax,
            seg_length=opts.n_per_seg / sfreq if opts.n_per_seg else None,
            overlap=opts.overlap if welch else None,
            window=opts.window if welch else "dpss",
            bandwidth=opts.bandwidth,
            exclude_line=opts.exclude_line,
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
    spectrum = dict(method=opts.method, units=PSD_UNITS, record=rec, source=name, sfreq=sfreq, excluded_freqs=excluded)
    return ObservedSpectrum(freqs, psd, ch_names, n_eff, **spectrum)


def _channel_indices(raw, picks, name):
    """Indices of the picked channels (None: every EEG channel not in ``raw.info['bads']``)."""
    if picks is None:
        idx = mne.pick_types(raw.info, eeg=True, exclude="bads")
        if len(idx) == 0:
            _check_eeg(raw, name)
            raise DataError(
                f"Every EEG channel of {name or 'the recording'} is in raw.info['bads']; there is nothing to analyse."
            )
        return idx
    names = [picks] if isinstance(picks, str) else list(picks)
    unknown = [n for n in names if n not in raw.ch_names]
    if unknown:
        raise DataError(f"Unknown channel(s) {unknown} in 'picks'. Available channels: {_fmt_names(raw.ch_names)}.")
    return np.array([raw.ch_names.index(n) for n in names], int)


def _check_good_data(x, good, ch_names, name, duration):
    """Refuse non-finite values outside ``BAD_`` annotations, no good sample, and flat channels.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
        The data, in V.
    good : ndarray of bool, shape (n_times,)
        Samples not covered by ``BAD_`` annotations.
    ch_names : list of str
        Names of the rows of ``x``.
    name : str | None
        Source name, for the messages.
    duration : float
        Length of the recording, in s.
    """
    if not np.isfinite(x).any():
        raise DataError(f"All values of {name or 'the recording'} are NaN or infinite; there is no data to analyse.")
    nonfinite = ~np.isfinite(x[:, good]).all(axis=1)
    if nonfinite.any():
        bad = [ch_names[i] for i in np.flatnonzero(nonfinite)]
        raise DataError(
            f"Channel(s) {bad} contain NaN or infinite values outside BAD_ annotations. "
            "Drop these channels (or annotate the affected time as BAD_), e.g. with "
            "jrfit.data.preprocess.preprocess, which does both."
        )
    if not good.any():
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
    _check_flat(x[:, good], ch_names, name)


def _check_flat(xg, ch_names, name):
    """Refuse channels of zero variance in the good data ``xg`` (n_channels, n_good)."""
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
            "(raw.drop_channels) or let jrfit.data.preprocess.preprocess find bad channels.",
            cli={
                "Drop them (raw.drop_channels) or let jrfit.data.preprocess.preprocess find bad channels.": (
                    "Choose the others with --channels, or leave out --keep-bad-channels so that "
                    "flat channels are dropped."
                )
            },
        )


def _check_spans(spans, n_per_seg, sfreq, name, duration, n_good):
    """Refuse good data whose longest span (``spans``: start, stop samples) is shorter than one segment."""
    span_len = [int(e - s) for s, e in spans]
    if n_per_seg is not None and max(span_len) < n_per_seg:
        seg_desc = f"seg_length={n_per_seg / sfreq:g} s"
        rej = duration - n_good / sfreq
        raise DataError(
            f"{name or 'The recording'} is too short for {seg_desc} segments: its "
            f"longest good span lasts {max(span_len) / sfreq:.2f} s ({duration:.2f} s in "
            f"all, {rej:.2f} s marked BAD_). Use a shorter seg_length (e.g. "
            f"{max(span_len) / sfreq / 2:.2f} s, at the cost of frequency resolution) or "
            "a longer recording.",
            cli={"seg_length": "--seg-length"},
        )


def _welch(x, good, spans, sfreq, opts):
    """Welch PSD (V^2/Hz) of the good spans that hold a segment, n_eff, leakage half-width (Hz) and details."""
    n_per_seg, window = opts.n_per_seg, opts.window
    try:
        get_window(window, n_per_seg)
    except Exception as err:
        raise JRFitError(
            f"Invalid value for the 'window' parameter ({err}); give a "
            "scipy.signal.get_window specification such as 'hann'."
        ) from None
    n_overlap = min(int(round(opts.overlap * n_per_seg)), n_per_seg - 1)
    span_len = [int(e - s) for s, e in spans]
    usable = np.zeros_like(good)
    for (s, e), length in zip(spans, span_len):
        if length >= n_per_seg:
            usable[s:e] = True
    xw = x.copy()
    xw[:, ~usable] = np.nan
    psd, freqs = welch_psd(xw, sfreq, opts.fmin, opts.fmax, n_per_seg, n_overlap, window)
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
    return psd, freqs, n_eff, leak, details


def _multitaper(x, good, spans, sfreq, opts):
    """Multitaper PSD (V^2/Hz) of whole segments of the good spans, n_eff, half-bandwidth (Hz) and details."""
    n_per_seg = opts.n_per_seg
    if n_per_seg is None:
        segs = x[:, good][np.newaxis]  # MNE's 'omit': concatenate the good data
    else:
        segs = np.stack(
            [x[:, s + k * n_per_seg : s + (k + 1) * n_per_seg] for s, e in spans for k in range((e - s) // n_per_seg)]
        )
    n_seg, _, n_t = segs.shape
    n_eff, n_tapers, half_nbw = multitaper_n_eff(n_t, sfreq, opts.bandwidth, n_seg)
    psd, freqs = mne.time_frequency.psd_array_multitaper(
        segs,
        sfreq,
        fmin=opts.fmin,
        fmax=opts.fmax,
        bandwidth=opts.bandwidth,
        adaptive=False,
        low_bias=True,
        normalization="full",
        verbose=_mne_verbose(),
    )
    leak = half_nbw / (n_t / sfreq)
    details = dict(
        n_per_seg=n_t,
        n_segments=n_seg,
        n_tapers=n_tapers,
        half_nbw=half_nbw,
        bandwidth_hz=2 * leak,
        freq_spacing_hz=sfreq / n_t,
    )
    return psd.mean(axis=0), freqs, n_eff, leak, details


def _line_frequency(exclude_line, raw):
    """The line frequency (Hz) whose bins to leave out, or None."""
    if exclude_line is True:
        return raw.info.get("line_freq")
    if exclude_line not in (False, None):
        return check_positive("exclude_line", exclude_line, "Hz")
    return None


def _exclude_bins(freqs, psd, raw, leak, line_f0, opts, ch_names):
    """Leave out the bins near DC, Nyquist, the filter edges and line noise; refuse zero power.

    Returns
    -------
    freqs, psd : ndarray
        The kept bins (Hz) and their PSD.
    excluded : ndarray
        The bins left out, in Hz.
    reasons : dict of float to str
        Why each was left out.
    """
    nyq = float(raw.info["sfreq"]) / 2.0
    highpass = float(raw.info["highpass"] or 0.0)
    lowpass = float(raw.info["lowpass"] or nyq)
    mask, reasons = _exclusions(freqs, nyq, leak, highpass, lowpass, line_f0)
    if mask.all():
        raise DataError(
            f"No frequency bin is left between fmin={opts.fmin:g} and fmax={opts.fmax:g} Hz once "
            f"bins near DC, Nyquist ({nyq:g} Hz), the filter edges and line noise are "
            "excluded; widen the band."
        )
    excluded = freqs[mask]
    freqs, psd = freqs[~mask], psd[:, ~mask]
    if np.any(psd <= 0):
        bad = [ch_names[i] for i in np.flatnonzero((psd <= 0).any(axis=1))]
        raise DataError(f"Channel(s) {bad} have zero power in the band; drop them.")
    return freqs, psd, excluded, reasons


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
    opts = PreprocessOptions(picks, regions, reference, line_freq, l_freq, h_freq, bad_channels, bad_segments)
    spec_opts = SpectrumOptions(fmin, fmax, method, seg_length, None, overlap, window, bandwidth, True)
    raw, name, opts = _read_source(source, channel_types, opts)
    _check_eeg(raw, name)
    spec_opts.checked_band(raw.info["sfreq"])  # fail before the slow steps
    raw, record = _preprocess(raw, name, opts)
    return _compute_spectrum(raw, _spectrum_source(raw, record), None, spec_opts, record)
