"""Event-related potentials (ERPs) of EEG recordings, with their standard errors.

The evoked counterpart of :mod:`jrfit.data.spectrum`::

    continuous recording --preprocess--> epochs --reject, average--> ObservedEvoked
    epochs (file or object) ----------->  epochs --reject, average--> ObservedEvoked
    evoked (file or object) ---------------------------------------> ObservedEvoked

:func:`prepare_evoked` runs the whole chain. Continuous recordings go through
the same cleaning as spectra (:func:`jrfit.data.preprocess.preprocess`: EEG only,
10-05 names, bad channels, notch, band-pass, reference, bad segments,
channel picks and regions), with band-pass defaults suited to ERPs
(0.1-40 Hz). Every step is recorded in a JSON-serialisable ``record``.

Units: MNE stores EEG in volts; :class:`ObservedEvoked` holds **µV**
(``units='uV'``), the unit of an ERP at the electrode (docs/model.md, section 10:
the model's mV at the column reach the electrode through a fitted gain).

Standard errors: with single trials, the standard error of the mean at each
time and channel, ``std(trials, ddof=1) / sqrt(n_trials)``
(``se_method='trials'``). From an average alone (an evoked file), the
per-channel standard deviation of the averaged pre-stimulus baseline, which
already is noise of the mean (it shrinks with ``nave``), used as a constant
over time (``se_method='baseline'``); it assumes stationary noise and
ignores trial-to-trial variability of the response itself.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections import Counter
from dataclasses import dataclass

import mne
import numpy as np

from jrfit.utils.check import check_option, check_positive
from jrfit.utils.docs import fill_doc
from jrfit.utils.log import logger, verbose
from jrfit.data.common import _mne_verbose, _step
from jrfit.data.docs import _docdict
from jrfit.data.io import _check_eeg, _read_evoked_source, _set_channel_types
from jrfit.data.preprocess import PreprocessOptions, _check_regions, _clean_epoched, _preprocess
from jrfit.data.observed import ObservedMixin
from jrfit.data.events import _chosen_events, _conditions, _evoked_index, _raw_events, _resolve_conditions
from jrfit.errors import DataError, JRFitError

__all__ = ["ObservedEvoked", "EvokedOptions", "prepare_evoked"]

#: Unit of :attr:`ObservedEvoked.data` and :attr:`ObservedEvoked.se`.
EVOKED_UNITS = "uV"
_V_TO_UV = 1e6
_DEFAULT_REJECT = 150e-6  # peak-to-peak, in V (150 µV)
_MIN_BASELINE_SAMPLES = 3

_evoked_docdict = dict(
    source_evoked="""source : path-like | Raw | Epochs | Evoked | list of Evoked
    The data, never modified (objects are copied, files only read):

    - a continuous recording, as a path any :func:`mne.io.read_raw` reads
      (EDF/BDF, FIF, EEGLAB ``.set``, BrainVision ``.vhdr``, ...) or an
      :class:`mne.io.Raw`; events come from its annotations (e.g.
      EEGLAB's events) or, if it has none, from its stim channel;
    - single trials, as an epochs file (``-epo.fif``) or
      :class:`mne.Epochs`;
    - averages, as an evoked file (``-ave.fif``, ``-ave.fif.gz``),
      an :class:`mne.Evoked` or a list of them.""",
    event="""event : str | int | list of (str | int) | None
    The condition(s): an annotation description (``'square'``), an event-id
    key of the epochs (MNE's ``/``-separated tags select every key that has
    them all, e.g. ``'visual'``), an event code of a stim channel, or the
    comment (or index) of an evoked average (``'Left visual'``). A list returns one
    :class:`ObservedEvoked` per condition, in the same order, from one pass
    of preprocessing and rejection. None takes the only condition there is
    (an error lists them if there are several).""",
    tmin_tmax="""tmin, tmax : float
    Start and end of the window, in seconds relative to the event (default
    -0.1 to 0.5 s). For epochs and evoked sources it must lie within their
    time range.""",
    baseline="""baseline : tuple of (float | None) | None
    Interval ``(a, b)`` in seconds whose mean is subtracted from each trial
    (None for ``a`` or ``b`` means the window's start or end); default
    ``(None, 0)``, the whole pre-stimulus part. None skips the correction.""",
    l_freq_erp="""l_freq : float | None
    High-pass cut-off, in Hz (default 0.1). Continuous recordings only:
    epoched and averaged data are too short to high-pass (this is recorded).""",
    h_freq_erp="""h_freq : float | None
    Low-pass cut-off, in Hz (default 40), below the Nyquist frequency.
    Applied to epochs and averages too (when below their low-pass).""",
    line_freq_erp="""line_freq : 'auto' | float | None
    Power-line frequency to notch out (continuous recordings only; harmonics
    above the low-pass are not notched), as in :func:`jrfit.data.preprocess.preprocess`.""",
    bad_channels_erp="""bad_channels : 'auto' | dict | list of str | None
    As in :func:`jrfit.data.preprocess.preprocess`. Channels in ``info['bads']`` are
    always dropped; ``'auto'`` also detects flat and extreme-variance
    channels in continuous and epoched data (not in averages).""",
    bad_segments_erp="""bad_segments : 'auto' | dict | None
    Bad-segment detection of :func:`jrfit.data.preprocess.preprocess` (continuous
    recordings only); trials that overlap a ``BAD_`` annotation are rejected.""",
    reject="""reject : float | dict | None
    Peak-to-peak rejection threshold of a trial, in V as in MNE (default
    ``150e-6``, i.e. 150 µV), applied within the window to the kept channels
    and regions; ``dict(eeg=...)`` is accepted too. None rejects no trial by
    amplitude. Ignored for averages.""",
    decim="""decim : int
    Keep every ``decim``-th sample (default 1: all). The new Nyquist
    frequency must stay above the low-pass.""",
    se_method="""se_method : 'auto' | 'trials' | 'baseline'
    Standard-error estimate: ``'trials'`` from the spread of the single
    trials, ``'baseline'`` from the pre-stimulus noise of the average;
    ``'auto'`` (default) uses the trials when there are some.""",
)


_fill_doc = fill_doc({**_docdict, **_evoked_docdict})


# ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class ObservedEvoked(ObservedMixin):
    """A measured event-related potential, with its standard error.

    Parameters
    ----------
    times : ndarray, shape (n_times,)
        Sample times, in seconds relative to the event, evenly spaced by
        ``1 / sfreq``.
    data : ndarray, shape (n_channels, n_times)
        The average over trials, in µV, finite.
    se : ndarray, shape (n_channels, n_times)
        Standard error of ``data``, in µV, finite and > 0.
    ch_names : sequence of str, length n_channels
        Channel (or region) names.
    condition : str
        The condition (event name or evoked comment).
    n_trials : int
        Trials averaged (``nave`` for an evoked file).
    sfreq : float
        Sampling frequency, in Hz.
    se_method : 'trials' | 'baseline'
        How ``se`` was estimated: ``'trials'`` is ``std / sqrt(n_trials)``
        across trials at each time; ``'baseline'`` is the standard deviation
        of the average over its pre-stimulus baseline, per channel, constant
        over time.
    tmin, tmax : float | None
        The requested window, in seconds (None: the first and last time).
    baseline : tuple of (float | None) | None
        Baseline interval used for the correction, in seconds.
    units : str
        Unit of ``data`` and ``se``; always ``'uV'``.
    record : list of dict
        Preprocessing, epoching and averaging steps (JSON-serialisable).
    source : str | None
        File name of the data.
    n_rejected : int
        Trials of this condition rejected (amplitude, ``BAD_`` annotations,
        outside the recording).
    noise_acf : ndarray, shape (n_channels, n_times) | None
        Autocorrelation of the noise in ``data`` at lags 0..n_times-1, per
        channel (``noise_acf[:, 0] = 1``), estimated with the standard error:
        from the trials' deviations from their mean (``se_method='trials'``;
        the noise of a mean of independent trials has the trials'
        correlation), or from the average over its baseline; extended to every
        lag by an autoregressive fit (:func:`jrfit.inference.residuals.noise_autocorrelation`).
        The ERP likelihood's correlated residuals use it. None: not measured
        (residuals then independent).
    lowpass : dict | None
        The low-pass jrfit applied: ``h_freq`` (Hz), ``sfreq`` (Hz, the rate
        it ran at) and ``on`` (``'continuous'``: the recording before
        epoching; ``'epochs'``: each epoch or the average). The ERP model
        passes its response through the same filter
        (:meth:`response_map`). None: no low-pass applied.
    """

    times: np.ndarray
    data: np.ndarray
    se: np.ndarray
    ch_names: tuple
    condition: str
    n_trials: int
    sfreq: float
    se_method: str = "trials"
    tmin: float | None = None
    tmax: float | None = None
    baseline: tuple | None = None
    units: str = EVOKED_UNITS
    record: tuple = ()
    source: str | None = None
    n_rejected: int = 0
    noise_acf: np.ndarray | None = None
    lowpass: dict | None = None

    _WHAT = "the evoked response"

    def __post_init__(self):
        times = self._array("times")
        if times.ndim != 1 or times.size < 2:
            raise DataError(
                f"ObservedEvoked.times must be a 1-D array of at least 2 times (in s), got shape {times.shape}."
            )
        if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise DataError("ObservedEvoked.times must be finite and strictly increasing (s).")
        sfreq = check_positive("sfreq", self.sfreq, "Hz")
        if not np.allclose(np.diff(times), 1.0 / sfreq, rtol=1e-6, atol=1e-9):
            raise DataError(
                f"ObservedEvoked.times must be evenly spaced by 1/sfreq = {1 / sfreq:.6g} s "
                f"(sfreq={sfreq:g} Hz); got spacings {np.min(np.diff(times)):.6g} to "
                f"{np.max(np.diff(times)):.6g} s."
            )
        data, se = self._checked_data_se(times.size)
        ch_names = self._checked_names(data.shape[0], "data")
        n_trials, n_rejected = self._checked_counts()
        tmin, tmax = self._checked_window(times, sfreq)
        baseline = _check_baseline_value(self.baseline)
        self._check_units(EVOKED_UNITS, "convert MNE's V to uV, times 1e6")
        record = self._checked_record()
        self._set(source=self._checked_source())
        self._set(times=times, data=data, se=se, ch_names=ch_names, n_trials=n_trials, n_rejected=n_rejected)
        self._set(sfreq=sfreq, tmin=tmin, tmax=tmax, baseline=baseline, record=record)
        self._set(noise_acf=_check_acf(self.noise_acf, data.shape), lowpass=_check_lowpass(self.lowpass))

    def _checked_data_se(self, n_times):
        """``data`` (finite) and ``se`` (finite, > 0) as read-only (n_channels, n_times) arrays, in uV."""
        data = self._channel_rows("data", n_times, "n_times")
        se = self._channel_rows("se", n_times, "n_times")
        if se.shape != data.shape:
            raise DataError(f"ObservedEvoked.se must have the shape of data {data.shape}, got {se.shape}.")
        if not np.all(np.isfinite(data)):
            bad = np.flatnonzero(~np.isfinite(data).all(axis=1)).tolist()
            raise DataError(f"ObservedEvoked.data must be finite (in uV); rows {bad} are not.")
        self._check_positive_rows(se, "se", "uV", "Drop flat channels (e.g. a reference channel) first.")
        return data, se

    def _checked_counts(self):
        """The condition, the SE method and the trial counts (``n_trials``, ``n_rejected``) checked."""
        if not isinstance(self.condition, str) or not self.condition:
            raise DataError(f"ObservedEvoked.condition must be a non-empty str, got {self.condition!r}.")
        check_option("se_method", self.se_method, ("trials", "baseline"))
        n_trials = _count("n_trials", self.n_trials, minimum=1)
        if self.se_method == "trials" and n_trials < 2:
            raise DataError(f"ObservedEvoked.n_trials must be at least 2 with se_method='trials', got {n_trials}.")
        return n_trials, _count("n_rejected", self.n_rejected, minimum=0)

    def _checked_window(self, times, sfreq):
        """``tmin`` and ``tmax`` (s; None: the first and last time), which must hold ``times``."""
        tol = 0.5 / sfreq
        tmin = float(times[0]) if self.tmin is None else _finite("tmin", self.tmin)
        tmax = float(times[-1]) if self.tmax is None else _finite("tmax", self.tmax)
        if tmin >= tmax or times[0] < tmin - tol or times[-1] > tmax + tol:
            raise DataError(
                f"ObservedEvoked.times ({times[0]:g} to {times[-1]:g} s) must lie within "
                f"tmin={tmin:g} and tmax={tmax:g} s, with tmin < tmax."
            )
        return tmin, tmax

    # ------------------------------------------------------------------
    def response_map(self):
        """The linear map from a signal to what the preprocessing made of it, on ``times``.

        The applied low-pass (:attr:`lowpass`; MNE's zero-phase FIR designed
        at the final rate, as a convolution on a continuous recording or as
        MNE filters a short epoch) followed by the baseline correction
        (subtracting the mean over :attr:`baseline`). A model of the
        underlying signal ``s`` predicts the data ``M @ s``; without it, a
        40 Hz low-pass of the data and not of the model biased pulse
        amplitudes and gains by 5-10 % (benchmarks/bench_erp_independent.py).

        Returns
        -------
        M : ndarray, shape (n_times, n_times)
        """
        n = self.n_times
        m = np.eye(n)
        if self.lowpass is not None:
            m = _lowpass_matrix(n, self.sfreq, float(self.lowpass["h_freq"]), self.lowpass.get("on", "epochs"))
        if self.baseline is not None:
            b0 = self.times[0] if self.baseline[0] is None else self.baseline[0]
            b1 = self.times[-1] if self.baseline[1] is None else self.baseline[1]
            mask = (self.times >= b0 - 1e-9) & (self.times <= b1 + 1e-9)
            if mask.any():
                m = m - np.outer(np.ones(n), mask / mask.sum()) @ m
        return m

    @property
    def n_times(self):
        """Number of time samples."""
        return self.times.size

    def __repr__(self):
        src = f" | {self.source}" if self.source else ""
        rej = f", {self.n_rejected} rejected" if self.n_rejected else ""
        return (
            f"<ObservedEvoked{src} | {self.condition!r} | {self.n_channels} channels x "
            f"{self.n_times} times, {self.times[0]:.3f} to {self.times[-1]:.3f} s, "
            f"{self.sfreq:g} Hz, n_trials={self.n_trials}{rej}, se from {self.se_method}, "
            f"{self.units}>"
        )

    def _picked(self, idx):
        """This object's copy with the rows ``idx`` (see :meth:`pick`)."""
        return self._replace(
            data=self.data[idx],
            se=self.se[idx],
            ch_names=[self.ch_names[i] for i in idx],
            noise_acf=None if self.noise_acf is None else self.noise_acf[idx],
        )

    def crop(self, tmin=None, tmax=None):
        """Return a new evoked response restricted to ``tmin <= t <= tmax``.

        Parameters
        ----------
        tmin, tmax : float | None
            New window, in seconds, within the current one; None keeps that end.

        Returns
        -------
        evoked : ObservedEvoked
            With the step appended to ``record``.
        """
        lo = self.tmin if tmin is None else _finite("tmin", tmin)
        hi = self.tmax if tmax is None else _finite("tmax", tmax)
        tol = 0.5 / self.sfreq
        if lo < self.tmin - tol or hi > self.tmax + tol or lo >= hi:
            raise DataError(
                f"crop(tmin={lo:g}, tmax={hi:g}) must lie within the current window "
                f"{self.tmin:g} to {self.tmax:g} s, with tmin < tmax."
            )
        keep = (self.times >= lo - 1e-9) & (self.times <= hi + 1e-9)
        if keep.sum() < 2:
            raise DataError(
                f"crop(tmin={lo:g}, tmax={hi:g}) keeps fewer than 2 samples at "
                f"sfreq={self.sfreq:g} Hz; widen the window."
            )
        rec = list(self.record)
        _step(rec, "crop", params=dict(tmin=tmin, tmax=tmax), n_times=int(keep.sum()))
        return self._replace(
            times=self.times[keep],
            data=self.data[:, keep],
            se=self.se[:, keep],
            tmin=lo,
            tmax=hi,
            record=rec,
            noise_acf=None if self.noise_acf is None else self.noise_acf[:, : int(keep.sum())],
        )


def _count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise DataError(f"ObservedEvoked.{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise DataError(f"ObservedEvoked.{name} must be >= {minimum}, got {value}.")
    return int(value)


def _finite(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name!r} must be a time in seconds, got {value!r}.") from None
    if not np.isfinite(value):
        raise DataError(f"{name!r} must be a finite time in seconds, got {value!r}.")
    return value


def _lowpass_matrix(n, sfreq, h_freq, on):
    """MNE's default low-pass at ``h_freq`` as an (n, n) matrix on n samples at ``sfreq``."""
    import mne

    if h_freq >= sfreq / 2.0:
        return np.eye(n)
    with warnings.catch_warnings():  # short windows: MNE warns that the filter is longer
        warnings.simplefilter("ignore")
        if on == "continuous":  # a convolution: the recording extends beyond the window
            h = mne.filter.create_filter(None, sfreq, None, h_freq, verbose=False)
            c = h.size // 2
            lag = np.subtract.outer(np.arange(n), np.arange(n)) + c
            return np.where((lag >= 0) & (lag < h.size), h[np.clip(lag, 0, h.size - 1)], 0.0)
        return mne.filter.filter_data(np.eye(n), sfreq, None, h_freq, verbose=False).T


def _check_lowpass(lowpass):
    if lowpass is None:
        return None
    try:
        out = dict(h_freq=float(lowpass["h_freq"]), sfreq=float(lowpass["sfreq"]), on=str(lowpass.get("on", "epochs")))
    except (KeyError, TypeError, ValueError):
        raise DataError(
            f"ObservedEvoked.lowpass must be None or a dict with h_freq and sfreq (Hz) and on "
            f"('continuous' or 'epochs'), got {lowpass!r}."
        ) from None
    if not (out["h_freq"] > 0 and out["sfreq"] > 0) or out["on"] not in ("continuous", "epochs"):
        raise DataError(
            f"ObservedEvoked.lowpass: h_freq and sfreq must be > 0 Hz and on 'continuous' or 'epochs', got {lowpass!r}."
        )
    return out


def _applied_lowpass(record, sfreq):
    """The low-pass a short-epoch cleaning applied (from its record step), as ObservedEvoked.lowpass."""
    step = next((s for s in record if isinstance(s, dict) and s.get("step") == "filter"), {})
    h = step.get("lowpass_applied")
    return None if h is None else dict(h_freq=float(h), sfreq=float(sfreq), on="epochs")


def _check_acf(acf, shape):
    """None, or a read-only (n_channels, n_times) array of autocorrelations with lag 0 equal to 1."""
    if acf is None:
        return None
    arr = np.array(acf, float)
    if (
        arr.shape != shape
        or not np.all(np.isfinite(arr))
        or not np.allclose(arr[:, 0], 1.0)
        or np.any(np.abs(arr) > 1.0 + 1e-9)
    ):
        raise DataError(
            f"ObservedEvoked.noise_acf must be an autocorrelation per channel, shape {shape}, "
            f"finite, 1 at lag 0 and within [-1, 1]; got shape {arr.shape}."
        )
    arr.flags.writeable = False
    return arr


def _noise_acfs(segments, n_times):
    """Per channel: noise autocorrelation and AR order from (n_segments, n_channels, n_samples) noise."""
    from jrfit.inference.residuals import noise_autocorrelation

    out = [noise_autocorrelation(segments[:, c, :], n_times) for c in range(segments.shape[1])]
    return np.array([a for a, _ in out]), [int(p) for _, p in out]


def _acf_details(acf, orders, how):
    return dict(
        noise_lag1=_summary(acf[:, 1]) if acf.shape[1] > 1 else None, noise_ar_order=orders, noise_acf_method=how
    )


def _check_baseline_value(baseline):
    """None, or a tuple of two (float | None), as MNE's ``baseline``."""
    if baseline is None:
        return None
    if isinstance(baseline, str) or len(baseline) != 2:
        raise DataError(
            f"'baseline' must be None or a pair (a, b) of times in seconds (None for an "
            f"end of the window), e.g. (None, 0); got {baseline!r}."
        )
    return tuple(None if b is None else _finite("baseline", b) for b in baseline)


# ----------------------------------------------------------------------------
# checks of the window, baseline and options
def _check_window(tmin, tmax, baseline):
    tmin, tmax = _finite("tmin", tmin), _finite("tmax", tmax)
    if tmin >= tmax:
        raise DataError(f"tmin={tmin:g} s must be below tmax={tmax:g} s.")
    baseline = _check_baseline_value(baseline)
    if baseline is not None:
        b0 = tmin if baseline[0] is None else baseline[0]
        b1 = tmax if baseline[1] is None else baseline[1]
        if b0 > b1 or b0 < tmin - 1e-9 or b1 > tmax + 1e-9:
            raise DataError(
                f"baseline={baseline} is not an interval within the window tmin={tmin:g} "
                f"to tmax={tmax:g} s; pass an interval inside it (e.g. (None, 0)) or "
                "baseline=None."
            )
    return tmin, tmax, baseline


def _check_range(tmin, tmax, times, name, kind):
    tol = 0.5 * float(np.median(np.diff(times))) if times.size > 1 else 0.0
    if tmin < times[0] - tol or tmax > times[-1] + tol:
        raise DataError(
            f"The window tmin={tmin:g} to tmax={tmax:g} s is outside the time range of "
            f"the {kind} in {name or 'the data'} ({times[0]:g} to {times[-1]:g} s). "
            f"Choose tmin >= {times[0]:.4g} and tmax <= {times[-1]:.4g} s, or epoch the "
            "continuous recording instead."
        )


def _clip(tmin, tmax, times):
    """The window, clipped to ``times`` (after :func:`_check_range` allowed half a sample)."""
    return max(tmin, float(times[0])), min(tmax, float(times[-1]))


def _check_reject(reject):
    if reject is None:
        return None
    if isinstance(reject, dict):
        unknown = set(reject) - {"eeg"}
        if unknown:
            raise JRFitError(f"'reject' may only hold the key 'eeg' (jrfit keeps EEG only), got {sorted(reject)}.")
        if "eeg" not in reject:
            return None
        reject = reject["eeg"]
    reject = check_positive("reject", reject, "V")
    if reject >= 1e-3:
        logger.warning(
            f"reject={reject:g} V (peak-to-peak) is above 1 mV and will hardly reject "
            "anything; the threshold is in volts as in MNE, e.g. 150e-6 for 150 uV."
        )
    return reject


def _check_decim(decim, sfreq, lowpass):
    if isinstance(decim, bool) or not isinstance(decim, numbers.Integral) or decim < 1:
        raise JRFitError(f"'decim' must be an integer >= 1, got {decim!r}.")
    decim = int(decim)
    new_nyq = sfreq / decim / 2.0
    if decim > 1 and lowpass is not None and lowpass >= new_nyq:
        raise DataError(
            f"decim={decim} lowers the sampling frequency to {sfreq / decim:g} Hz, whose "
            f"Nyquist frequency ({new_nyq:g} Hz) is not above the low-pass ({lowpass:g} "
            "Hz): the ERP would alias. Lower h_freq or decim."
        )
    return decim


# ----------------------------------------------------------------------------
@_fill_doc
@verbose
def prepare_evoked(
    source,
    event=None,
    *,
    tmin=-0.1,
    tmax=0.5,
    baseline=(None, 0),
    picks=None,
    regions=None,
    reference=None,
    l_freq=0.1,
    h_freq=40.0,
    line_freq="auto",
    bad_channels="auto",
    bad_segments="auto",
    reject=_DEFAULT_REJECT,
    decim=1,
    se_method="auto",
    channel_types=None,
    verbose=None,
):
    """Load, clean, epoch and average EEG into an ERP with its standard error.

    Continuous recordings are cleaned as for spectra
    (:func:`jrfit.data.preprocess.preprocess`: EEG only, 10-05 names, bad channels,
    notch, band-pass, reference, bad segments, picks and regions), then cut
    into trials around the events of the condition, baseline-corrected,
    rejected (peak-to-peak above ``reject``, or overlapping a ``BAD_``
    segment) and averaged. Epochs are treated alike from the EEG step on
    (without notch and high-pass). Averages get their projections applied
    (e.g. MNE's average-reference projector), EEG picked, reference,
    low-pass, window and baseline, and a standard error from their
    pre-stimulus baseline. Every step is recorded in ``record``.

    Parameters
    ----------
    %(source_evoked)s
    %(event)s
    %(tmin_tmax)s
    %(baseline)s
    %(picks)s
    %(regions)s
    %(reference)s
    %(l_freq_erp)s
    %(h_freq_erp)s
    %(line_freq_erp)s
    %(bad_channels_erp)s
    %(bad_segments_erp)s
    %(reject)s
    %(decim)s
    %(se_method)s
    %(channel_types)s
    %(verbose)s

    Returns
    -------
    evoked : ObservedEvoked | list of ObservedEvoked
        The ERP in µV with its standard error; a list (one per condition,
        in the order asked) when ``event`` is a list.

    Raises
    ------
    DataError
        If the file is missing or unreadable, has no EEG channel or no
        events, an event is unknown (the message lists those available),
        the window lies outside the epochs' or average's time range, fewer
        than 2 trials are left after rejection, or an option is impossible
        for these data. Nothing is returned for any condition then.

    Notes
    -----
    The standard error from trials is ``std(ddof=1) / sqrt(n)`` of the
    baseline-corrected trials, per channel and time. From an average, it is
    the standard deviation of the (baseline-corrected) average over the
    baseline interval (or, with ``baseline=None``, over ``t < 0``): the
    noise left in a mean of ``nave`` trials, taken as constant over time.

    Examples
    --------
    >>> erp = prepare_evoked("sub-01_eeg.set", "square")  # doctest: +SKIP
    >>> left, right = prepare_evoked(
    ...     "sample_audvis-ave.fif", ["Left visual", "Right visual"])  # doctest: +SKIP
    """
    tmin, tmax, baseline = _check_window(tmin, tmax, baseline)
    reject = _check_reject(reject)
    check_option("se_method", se_method, ("auto", "trials", "baseline"))
    _check_regions(regions)
    kind, inst, name = _read_evoked_source(source)
    for each in inst if kind == "evoked" else [inst]:  # private copies
        _set_channel_types(each, channel_types, name)
    clean = PreprocessOptions(picks, regions, reference, line_freq, l_freq, h_freq, bad_channels, bad_segments)
    opts = EvokedOptions(tmin, tmax, baseline, reject, decim, se_method, clean)
    if kind == "evoked":
        out, is_list = _from_evokeds(inst, name, event, opts)
    else:
        out, is_list = _from_trials(kind, inst, name, event, opts)
    return out if is_list else out[0]


@dataclass(frozen=True)
class EvokedOptions:
    """The settings of one :func:`prepare_evoked` run (see there for their meaning and units).

    Parameters
    ----------
    tmin, tmax : float
        The window, in s (checked).
    baseline : tuple of (float | None) | None
        The baseline interval, in s (checked).
    reject : float | None
        Peak-to-peak rejection threshold, in V (checked).
    decim : int
        Decimation factor (checked against the data's rate later).
    se_method : 'auto' | 'trials' | 'baseline'
        Standard-error estimate.
    clean : PreprocessOptions
        The cleaning settings, ``h_freq`` as given (see :meth:`cleaning`).
    """

    tmin: float
    tmax: float
    baseline: tuple | None
    reject: float | None
    decim: int
    se_method: str
    clean: PreprocessOptions

    def params(self):
        """The epoching settings, as the ``epochs`` step records them."""
        return {k: getattr(self, k) for k in ("tmin", "tmax", "baseline", "reject", "decim", "se_method")}

    def window(self):
        """``tmin``, ``tmax`` and ``baseline``, as keywords (of :class:`mne.Epochs` and :class:`ObservedEvoked`)."""
        return dict(tmin=self.tmin, tmax=self.tmax, baseline=self.baseline)

    def checked_h_freq(self):
        """The low-pass cut-off in Hz (checked to be positive), or None."""
        return None if self.clean.h_freq is None else check_positive("h_freq", self.clean.h_freq, "Hz")

    def cleaning(self, h_freq):
        """The cleaning settings with the checked ``h_freq``."""
        return dataclasses.replace(self.clean, h_freq=h_freq)


@dataclass(eq=False)
class _Trials:
    """Epochs of the chosen conditions, with what became of each of their events.

    Parameters
    ----------
    epochs : instance of mne.Epochs
        The kept trials.
    record : list of dict
        The steps so far.
    drop_log : list of tuple
        One MNE drop-log entry per event (empty: kept).
    codes : ndarray of int
        The event code of each entry.
    lowpass : dict | None
        The low-pass applied (:attr:`ObservedEvoked.lowpass`).
    """

    epochs: object
    record: list
    drop_log: list
    codes: np.ndarray
    lowpass: dict | None


# ----------------------------------------------------------------------------
# raw and epochs
def _from_trials(kind, inst, name, event, opts):
    """ERPs of the conditions ``event`` from a continuous recording or epochs; and whether a list was asked for."""
    _check_eeg(inst, name)
    record = []
    if kind == "raw":
        events, event_id = _raw_events(inst, name, record)
        what = "events"
    else:
        events, event_id = None, dict(inst.event_id)
        what = "event-id keys of the epochs"
    keys_of, is_list = _resolve_conditions(event, event_id, name, what)
    h_freq = opts.checked_h_freq()
    if kind == "raw":
        trials = _epoch_raw(inst, name, events, event_id, keys_of, opts, h_freq, record)
    else:
        trials = _window_epochs(inst, name, opts, h_freq)
    epochs = trials.epochs
    _step(
        trials.record,
        "epochs",
        params=opts.params(),
        sfreq=epochs.info["sfreq"],
        n_times=len(epochs.times),
        tmin_s=float(epochs.times[0]),
        tmax_s=float(epochs.times[-1]),
        n_channels=len(epochs.ch_names),
    )
    out = [
        _average_condition(trials, cond, [event_id[k] for k in keys], keys, opts, name)
        for cond, keys in keys_of.items()
    ]
    return out, is_list


def _epoch_raw(raw, name, events, event_id, keys_of, opts, h_freq, record):
    """Clean a continuous recording, then cut it into the trials of the chosen conditions (MNE rejects them)."""
    sfreq = float(raw.info["sfreq"])
    decim = _check_decim(opts.decim, sfreq, h_freq if h_freq is not None else raw.info["lowpass"])
    raw, prep = _preprocess(raw, name, opts.cleaning(h_freq))
    record = prep[:1] + record + prep[1:]  # load, events, then the cleaning
    lowpass = None if h_freq is None else dict(h_freq=h_freq, sfreq=sfreq, on="continuous")
    used = sorted({k for keys in keys_of.values() for k in keys})
    sel_events = _chosen_events(events, {event_id[k] for k in used}, name, record)
    reject = None if opts.reject is None else dict(eeg=opts.reject)
    try:
        with warnings.catch_warnings():  # no trial left: our DataError says more
            warnings.filterwarnings("ignore", "All epochs were dropped")
            epochs = mne.Epochs(
                raw,
                sel_events,
                event_id={k: event_id[k] for k in used},
                **opts.window(),
                reject=reject,
                reject_by_annotation=True,
                preload=True,
                decim=decim,
                verbose=_mne_verbose(),
            )
    except ValueError as err:
        raise DataError(
            f"Could not epoch {name or 'the recording'} from tmin={opts.tmin:g} to "
            f"tmax={opts.tmax:g} s with baseline={opts.baseline} ({err})."
        ) from err
    return _Trials(epochs, record, epochs.drop_log, sel_events[:, 2], lowpass)


def _window_epochs(inst, name, opts, h_freq):
    """Clean epochs, then crop them to the window, baseline-correct, reject and decimate."""
    sfreq = float(inst.info["sfreq"])
    tmin, tmax, baseline = opts.tmin, opts.tmax, opts.baseline
    epochs, record = _clean_epoched(inst, name, "epochs", opts.cleaning(h_freq))
    _check_range(tmin, tmax, epochs.times, name, "epochs")
    decim = _check_decim(opts.decim, sfreq, epochs.info["lowpass"])
    lowpass = _applied_lowpass(record, sfreq)
    epochs.crop(*_clip(tmin, tmax, epochs.times), include_tmax=True, verbose=_mne_verbose())
    if baseline is not None:
        epochs.apply_baseline(baseline, verbose=_mne_verbose())
    previous = sum(1 for d in epochs.drop_log if d and d != ("IGNORED",))
    # rejection: judge the epochs present now (empty drop-log entries)
    present = [i for i, d in enumerate(epochs.drop_log) if d == ()]
    codes = epochs.events[:, 2].copy()
    if opts.reject is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All epochs were dropped")
            epochs.drop_bad(reject=dict(eeg=opts.reject), verbose=_mne_verbose())
    drop_log = [epochs.drop_log[i] for i in present]
    if decim > 1:
        epochs.decimate(decim, verbose=_mne_verbose())
    _step(
        record,
        "window",
        params=opts.window(),
        n_times=len(epochs.times),
        previously_dropped=previous,
    )
    return _Trials(epochs, record, drop_log, codes, lowpass)


def _average_condition(trials, cond, codes, keys, opts, name):
    """The ERP of one condition: its trials counted and rejected, averaged, with their standard error."""
    sub, n_rej, rec = _kept_trials(trials, cond, codes, keys, opts, name)
    x = sub.get_data() * _V_TO_UV  # (n_trials, n_channels, n_times)
    avg = x.mean(axis=0)
    if opts.se_method == "baseline":
        se, acf, details = _baseline_se(avg, sub.times, opts.baseline, name, cond)
        method = "baseline"
    else:
        se = x.std(axis=0, ddof=1) / np.sqrt(len(x))
        # the deviations from the mean at each time: the trials' noise
        acf, orders = _noise_acfs(x - avg[np.newaxis], avg.shape[1])
        details = dict(
            formula="std(trials, ddof=1) / sqrt(n_trials)",
            **_acf_details(acf, orders, "the trials' deviations from their mean, AR(p) by AIC"),
        )
        method = "trials"
    return _observed(sub, avg, (se, acf, method, details), cond, len(x), opts, rec, name, n_rej, trials.lowpass)


def _kept_trials(trials, cond, codes, keys, opts, name):
    """The trials of one condition left after rejection (at least 2), their rejected count, and the record."""
    epochs = trials.epochs
    mine = [d for d, c in zip(trials.drop_log, trials.codes) if c in codes]
    reasons = Counter(_reason(d) for d in mine if d)
    n_rej = sum(reasons.values())
    sub = epochs[keys] if len(epochs) else epochs
    n = len(sub) if len(epochs) else 0
    rec = [dict(r) for r in trials.record]
    _step(
        rec,
        "reject",
        params=dict(reject_ptp_V=opts.reject, condition=cond),
        n_events=len(mine),
        n_rejected=n_rej,
        reasons=dict(reasons),
        drop_log_channels=dict(Counter(ch for d in mine if d and _reason(d).startswith("peak") for ch in d)),
        n_kept=n,
    )
    if n < 2:
        raise DataError(
            f"Condition {cond!r} of {name or 'the data'} has {n} trial(s) left after "
            f"rejection ({len(mine)} events, {n_rej} rejected: "
            f"{_fmt_reasons(reasons) or 'none'}); at least 2 are needed to average "
            "and estimate a standard error. Raise the threshold (reject=...), pass "
            "reject=None or bad_segments=None, or check the window (tmin, tmax).",
            cli={
                "(reject=...), pass reject=None or bad_segments=None, or check the window (tmin, tmax)": (
                    "(--reject UV), give --reject none or --bad-segments none, or check the window (--tmin, --tmax)"
                )
            },
        )
    logger.info(f"{cond!r}: {n} trials averaged, {n_rej} rejected" + (f" ({_fmt_reasons(reasons)})" if n_rej else ""))
    return sub, n_rej, rec


def _observed(inst, avg, noise, cond, n_trials, opts, record, name, n_rejected, lowpass):
    """The ``average`` step, and the :class:`ObservedEvoked` of an average ``avg`` (uV) of ``inst``.

    ``noise`` is ``(se, noise_acf, se_method, details)``: the standard error
    (uV), the noise autocorrelation, how they were estimated, and what the
    record says about it.
    """
    se, acf, method, details = noise
    _step(
        record,
        "average",
        n_trials=n_trials,
        se_method=method,
        units=EVOKED_UNITS,
        unit_conversion="MNE V x 1e6",
        **details,
    )
    return ObservedEvoked(
        times=inst.times,
        data=avg,
        se=se,
        ch_names=inst.ch_names,
        condition=cond,
        n_trials=n_trials,
        se_method=method,
        sfreq=inst.info["sfreq"],
        **opts.window(),
        record=record,
        source=name,
        n_rejected=n_rejected,
        noise_acf=acf,
        lowpass=lowpass,
    )


def _summary(x):
    return dict(min=float(np.min(x)), median=float(np.median(x)), max=float(np.max(x)))


def _reason(drop):
    """A readable category for one MNE drop-log entry."""
    bad = sorted({d for d in drop if str(d).upper().startswith("BAD")})
    if bad:
        return f"BAD_ annotation ({', '.join(bad)})"
    if any(d in ("NO_DATA", "TOO_SHORT") for d in drop):
        return "outside the recording"
    if "IGNORED" in drop:
        return "ignored"
    if any(d == "EQUALIZED_COUNT" or d == "USER" for d in drop):
        return "dropped by the user"
    return "peak-to-peak above reject"


def _fmt_reasons(reasons):
    return ", ".join(f"{n} {r}" for r, n in reasons.items())


def _baseline_se(avg, times, baseline, name, cond):
    """Per-channel std of the average over the baseline (or t < 0), as a constant SE."""
    if baseline is not None:
        b0 = times[0] if baseline[0] is None else baseline[0]
        b1 = times[-1] if baseline[1] is None else baseline[1]
        mask = (times >= b0 - 1e-9) & (times <= b1 + 1e-9)
        where = f"the baseline {b0:g} to {b1:g} s"
    else:
        mask = times < 0
        where = "the pre-stimulus part (t < 0)"
    n = int(mask.sum())
    if n < _MIN_BASELINE_SAMPLES:
        raise DataError(
            f"Condition {cond!r} of {name or 'the data'}: {where} holds {n} sample(s), too "
            f"few to estimate the noise of the average (at least {_MIN_BASELINE_SAMPLES}). "
            "Start the window before the stimulus (tmin < 0) and use a pre-stimulus "
            "baseline, e.g. baseline=(None, 0).",
            cli={
                "(tmin < 0) and use a pre-stimulus baseline, e.g. baseline=(None, 0).": (
                    "(--tmin below 0; the baseline is the pre-stimulus part)."
                )
            },
        )
    sd = avg[:, mask].std(axis=1, ddof=1)
    se = np.repeat(sd[:, np.newaxis], avg.shape[1], axis=1)
    acf, orders = _noise_acfs(avg[np.newaxis][:, :, mask], avg.shape[1])
    return (
        se,
        acf,
        dict(
            formula="std over the baseline of the average (ddof=1), constant over time",
            baseline_samples=n,
            baseline_interval_s=[float(times[mask][0]), float(times[mask][-1])],
            se_uV=_summary(sd),
            **_acf_details(acf, orders, "the average over the baseline, AR(p) by AIC"),
        ),
    )


def _from_evokeds(evokeds, name, event, opts):
    """ERPs of the conditions ``event`` from averages; and whether a list was asked for."""
    if opts.se_method == "trials":
        raise DataError(
            f"se_method='trials' needs single trials, but {name or 'the data'} holds "
            "averages; pass se_method='baseline' (or 'auto'), or the epochs."
        )
    comments = [ev.comment or f"#{i}" for i, ev in enumerate(evokeds)]
    wanted, is_list = _conditions(event, comments, name)
    chosen = [_evoked_index(key, comments, name) for key in wanted]
    h_freq = opts.checked_h_freq()
    # checks on every condition first: no partial output
    for idx in chosen:
        _check_eeg(evokeds[idx], f"{name or 'The evoked data'} (condition {comments[idx]!r})")
        _check_range(opts.tmin, opts.tmax, evokeds[idx].times, name, "evoked response")
    return [_from_evoked(evokeds[idx].copy(), comments[idx], name, opts, h_freq) for idx in chosen], is_list


def _from_evoked(ev, cond, name, opts, h_freq):
    """The ERP of one average (a private copy): cleaned, windowed, decimated; its SE from its baseline."""
    ev, record = _clean_epoched(ev, name, "evoked", opts.cleaning(h_freq))
    lowpass = _applied_lowpass(record, ev.info["sfreq"])
    decim = _check_decim(opts.decim, ev.info["sfreq"], ev.info["lowpass"])
    ev.crop(*_clip(opts.tmin, opts.tmax, ev.times), include_tmax=True, verbose=_mne_verbose())
    if opts.baseline is not None:
        ev.apply_baseline(opts.baseline, verbose=_mne_verbose())
    if decim > 1:
        ev.decimate(decim, verbose=_mne_verbose())
    _step(
        record,
        "window",
        params=dict(**opts.window(), decim=decim),
        n_times=len(ev.times),
        sfreq=ev.info["sfreq"],
    )
    avg = ev.data * _V_TO_UV
    se, acf, details = _baseline_se(avg, ev.times, opts.baseline, name, cond)
    logger.warning(
        f"{cond!r} of {name or 'the data'} is an average of {ev.nave} trials without "
        "the trials: its standard error is the noise of the average over the "
        f"pre-stimulus baseline ({details['baseline_samples']} samples; median "
        f"{details['se_uV']['median']:.3g} uV), taken as constant over time "
        "(se_method='baseline')."
    )
    return _observed(ev, avg, (se, acf, "baseline", details), cond, int(ev.nave), opts, record, name, 0, lowpass)
