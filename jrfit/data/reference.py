"""Re-referencing, shared by continuous recordings, epochs and averages.

The recording's reference is kept by default; the average reference of few
channels is warned about (and of 2 refused), since it mixes the other
channels into each one.
"""

from __future__ import annotations


from jrfit.utils.log import logger
from jrfit.errors import DataError

from jrfit.data.common import _mne_verbose, _step
from jrfit.data.channels import _drop_zero_channels

__all__ = ["AVERAGE_REF_MIN_CHANNELS"]


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
