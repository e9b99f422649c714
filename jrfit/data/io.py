"""Reading the data: continuous recordings, epochs and evoked files, and their channel types.

Any format :func:`mne.io.read_raw` reads, and MNE's epochs and evoked FIF
files. Objects are copied, never modified; files are only read. A reader's
warnings (e.g. a truncated EDF) are logged and returned, so that the
preprocessing record keeps them.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path

import mne

from jrfit.utils.log import logger, verbose
from jrfit.errors import DataError

from jrfit.data.common import _fmt_names, _mne_verbose
from jrfit.data.docs import _fill_doc

__all__ = ["load_recording"]


_FORMATS = (
    "EDF/BDF/GDF (.edf, .bdf, .gdf), FIF (.fif, .fif.gz), EEGLAB (.set), "
    "BrainVision (.vhdr), Neuroscan/ANT (.cnt), EGI (.mff), CTF (.ds), "
    "Nihon Kohden (.eeg), Persyst (.lay), Curry (.cdt, .dat) and the other "
    "formats of mne.io.read_raw"
)

_EPO_SUFFIXES = ("-epo.fif", "-epo.fif.gz", "_epo.fif", "_epo.fif.gz")
_AVE_SUFFIXES = ("-ave.fif", "-ave.fif.gz", "_ave.fif", "_ave.fif.gz")


def _source_name(raw):
    fnames = [f for f in (getattr(raw, "filenames", None) or ()) if f]
    if not fnames:
        return None
    path = Path(fnames[0])
    if path.suffix == ".fdt" and path.with_suffix(".set").exists():
        path = path.with_suffix(".set")  # EEGLAB: name the header the user reads
    return path.name


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
        if path.name.endswith(_AVE_SUFFIXES):
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


def _is_evoked_list(source):
    return isinstance(source, (list, tuple)) and source and all(isinstance(s, mne.Evoked) for s in source)


def _read_evoked_source(source):
    """Return ``(kind, obj, name)``: kind 'raw', 'epochs' or 'evoked'.

    For 'evoked', ``obj`` is a list of copies of the averages (projections not
    applied yet); for the others a preloaded copy.
    """
    if isinstance(source, mne.io.BaseRaw):
        raw, name = _read(source)
        return "raw", raw, name
    if isinstance(source, mne.BaseEpochs):
        epochs = source.copy()
        if not epochs.preload:
            epochs.load_data()
        return "epochs", epochs, _obj_name(source)
    if isinstance(source, mne.Evoked):
        return "evoked", [source.copy()], _obj_name(source)
    if _is_evoked_list(source):
        return "evoked", [ev.copy() for ev in source], _obj_name(source[0])
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(
            "'source' must be a path to a recording, epochs or evoked file, or an "
            f"instance of mne.io.Raw, mne.Epochs or mne.Evoked; got {type(source).__name__}."
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"File not found: '{path}' does not exist. Check the path (relative paths start from {Path.cwd()})."
        )
    lname = path.name.lower()
    if lname.endswith(_EPO_SUFFIXES):
        return "epochs", _read_fif(path, "epochs"), path.name
    if lname.endswith(_AVE_SUFFIXES):
        return "evoked", _read_fif(path, "evoked"), path.name
    if lname.endswith((".fif", ".fif.gz")):
        # a FIF file of another name: continuous, epochs or evoked, try in turn
        for kind in ("raw", "epochs", "evoked"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if kind == "raw":
                        return "raw", _read(path)[0], path.name
                    return kind, _read_fif(path, kind), path.name
            except DataError:
                continue
        raise DataError(
            f"Could not read '{path}' as a continuous recording, epochs or evoked FIF "
            "file. Check that the file is complete, or read it with MNE and pass the "
            "object."
        )
    raw, name = _read(path)
    return "raw", raw, name


def _read_fif(path, kind):
    try:
        if kind == "epochs":
            return mne.read_epochs(path, preload=True, proj=False, verbose=_mne_verbose())
        return mne.read_evokeds(path, baseline=None, proj=False, verbose=_mne_verbose())
    except Exception as err:  # readers raise many types; report them all alike
        raise DataError(
            f"Could not read '{path}' as an {kind} file ({type(err).__name__}: {err}). "
            f"Check that the file is complete and is an MNE {kind} FIF file "
            f"({'-epo.fif' if kind == 'epochs' else '-ave.fif'})."
        ) from err


def _obj_name(obj):
    fname = getattr(obj, "filename", None)
    if fname:
        return Path(fname).name
    if isinstance(obj, mne.io.BaseRaw):
        return _source_name(obj)
    return None
