"""Shared numpydoc parameter descriptions of the data layer.

Filled into docstrings with ``%(name)s`` by ``_fill_doc``
(:func:`jrfit.utils.docs.fill_doc`), as in mne/utils/docs.py.
"""

from __future__ import annotations

from jrfit.utils.docs import fill_doc


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


_fill_doc = fill_doc(_docdict)
