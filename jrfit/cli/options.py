"""Options and argument parsing shared by the commands (one definition of each flag)."""

from __future__ import annotations

import argparse
import inspect
import json
import math
from pathlib import Path

import numpy as np

from jrfit.errors import JRFitError
from jrfit.model.params import PARAM_INFO
from jrfit.utils.log import logger, set_log_level

FIG_EXTS = (".png", ".pdf", ".svg")


def library_default(func, name):
    """Default of a keyword of a library function (one source of truth)."""
    return inspect.signature(func).parameters[name].default


def formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=92)


def param_table():
    """Epilog listing the JR parameters, their defaults and units."""
    lines = ["Jansen-Rit parameters for --set NAME=VALUE (default and unit):"]
    for name, info in PARAM_INFO.items():
        unit = "" if info["unit"] == "1" else info["unit"]
        lines.append(f"  {name:6s} {info['default']:>7g} {unit:7s} {info['meaning']}")
    return "\n".join(lines)


def add_params(p, shortcuts=True):
    """Options that set JRParams fields: --set, and the --mu/--sigma shortcuts."""
    g = p.add_argument_group("model parameters")
    g.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="override parameters of JRParams (Jansen & Rit 1995 defaults), each in its "
        "unit (listed below), e.g. --set A=3.5 b=55 for A = 3.5 mV, b = 55 /s; "
        "repeatable",
    )
    if shortcuts:
        g.add_argument(
            "--mu",
            type=float,
            metavar="P",
            help=f"mean input p, in /s (same as --set mu=P; default {PARAM_INFO['mu']['default']:g} /s)",
        )
        g.add_argument(
            "--sigma",
            type=float,
            metavar="S",
            help=f"input noise intensity, in /s^0.5 (same as --set sigma=S; "
            f"default {PARAM_INFO['sigma']['default']:g} /s^0.5)",
        )


def add_output(p, exts, what, also=""):
    g = p.add_argument_group("output")
    g.add_argument(
        "--out", required=True, metavar="FILE", help=f"output file; its extension ({', '.join(exts)}) chooses {what}"
    )
    g.add_argument("--overwrite", action="store_true", help=f"replace FILE{also} if it exists (default: refuse)")
    return g


def common_parent():
    """Options every command accepts after its name too (e.g. `jrfit simulate -v`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress (level 'info')"
    )
    return parent


def param_changes(args):
    """``{name: float}`` from ``--set NAME=VALUE`` and the shortcuts, checked."""
    changes, origin = {}, {}
    for item in args.set:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise JRFitError(
                f"Invalid --set {item!r}: expected NAME=VALUE, e.g. --set A=3.5 "
                "(see `jrfit <command> --help` for the names and units)."
            )
        if name not in PARAM_INFO:
            allowed = ", ".join(PARAM_INFO)
            raise JRFitError(
                f"Unknown parameter {name!r} in --set {item}. Allowed names are {allowed} (case-sensitive)."
            )
        unit = PARAM_INFO[name]["unit"]
        try:
            val = float(value)
        except ValueError:
            raise JRFitError(
                f"Invalid value in --set {item}: {value.strip()!r} is not a number "
                f"({name} is in {'no unit' if unit == '1' else unit})."
            ) from None
        if name in changes:
            raise JRFitError(f"Parameter {name!r} is set twice ({origin[name]} and --set {item}).")
        changes[name], origin[name] = val, f"--set {item}"
    for name in ("mu", "sigma"):
        val = getattr(args, name, None)
        if val is not None:
            if name in changes:
                raise JRFitError(f"Parameter {name!r} is set twice ({origin[name]} and --{name} {val:g}).")
            changes[name], origin[name] = val, f"--{name} {val:g}"
    return changes


def check_out(path, exts, overwrite, option="--out"):
    """Check an output path before any work: extension, folder, existing file."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in exts:
        raise JRFitError(
            f"Unknown extension {path.suffix or '(none)'!r} of {option} {path}: allowed are {', '.join(exts)}."
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise JRFitError(f"Output folder {parent} of {option} does not exist: create it or choose another {option}.")
    if path.is_dir():
        raise JRFitError(f"{option} {path} is a folder; give a file name.")
    if path.exists() and not overwrite:
        raise JRFitError(f"{option} {path} exists; pass --overwrite to replace it.")
    return path, ext


def write_figure(fig, tmp, ext):
    from jrfit.viz import save_figure

    save_figure(fig, tmp, ext[1:])


def add_cleaning(g):
    """Bad channels and segments, channel types: options shared by fit-psd and fit-erp."""
    g.add_argument(
        "--keep-bad-channels",
        action="store_true",
        help="keep channels that look flat or of extreme variance (declared bad channels and "
        "channels with non-finite values are still dropped); by default they are dropped "
        "and listed with their reason",
    )
    g.add_argument(
        "--keep-channel",
        action="append",
        default=None,
        metavar="NAME",
        help="keep this channel even if detected as flat or of extreme variance (the others are "
        "still checked); repeatable",
    )
    g.add_argument(
        "--bad-segments",
        default="auto",
        metavar="SPEC",
        help="bad-segment detection: 'auto' (default: 1-s windows whose peak-to-peak is over "
        "5x or under 0.05x the channel's median), 'none', or thresholds KEY=VALUE joined "
        "by ',' from window (s), ptp_factor, flat_factor, reject and flat (absolute "
        "peak-to-peak, in V), e.g. ptp_factor=8",
    )
    g.add_argument(
        "--channel-types",
        action="append",
        default=None,
        metavar="CH=TYPE",
        help="set channel types before anything else (MNE types: eeg, eog, ecg, emg, misc, "
        "...), e.g. --channel-types Cz=eeg,HEOG=eog; repeatable",
    )


SEGMENT_KEYS = ("window", "ptp_factor", "flat_factor", "reject", "flat")


def parse_bad_segments(text):
    """``--bad-segments``: 'auto', None for 'none', or a dict of thresholds."""
    spec = str(text).strip()
    if spec.lower() in ("auto", "none"):
        return None if spec.lower() == "none" else "auto"
    out = {}
    for item in spec.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key.strip() not in SEGMENT_KEYS:
            raise JRFitError(
                f"--bad-segments expects 'auto', 'none' or KEY=VALUE items from "
                f"{', '.join(SEGMENT_KEYS)} (e.g. ptp_factor=8), got {item.strip()!r}."
            )
        try:
            number = float(value)
        except ValueError:
            raise JRFitError(f"--bad-segments {key.strip()} must be a number, got {value!r}.") from None
        if not (math.isfinite(number) and number > 0):
            raise JRFitError(f"--bad-segments {key.strip()} must be positive, got {value!r}.")
        out[key.strip()] = number
    return out


def parse_channel_types(items):
    """``--channel-types CH=TYPE,...`` (repeatable): a dict, or None."""
    if not items:
        return None
    types = {}
    for item in ",".join(items).split(","):
        name, sep, kind = item.partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise JRFitError(f"--channel-types expects CH=TYPE items (e.g. Cz=eeg,HEOG=eog), got {item!r}.")
        types[name.strip()] = kind.strip().lower()
    return types


def cleaning_options(args):
    """Keyword arguments of the preparation functions from the cleaning options."""
    if args.keep_bad_channels and args.keep_channel:
        raise JRFitError(
            "Give either --keep-bad-channels (keep every channel the detection flags) or "
            "--keep-channel NAME (keep these), not both."
        )
    bad_channels = None if args.keep_bad_channels else "auto"
    if args.keep_channel:
        bad_channels = dict(keep=list(args.keep_channel))
    return dict(
        bad_channels=bad_channels,
        bad_segments=parse_bad_segments(args.bad_segments),
        channel_types=parse_channel_types(args.channel_types),
    )


def add_overrides(p, default_free):
    """--fix, --free, --prior and --config (parsed by jrfit.inference.overrides)."""
    g = p.add_argument_group(
        "fixed values, free set and priors (command line over --config; see jrfit.inference.overrides)"
    )
    g.add_argument(
        "--fix",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="fix a JR constant at VALUE, in its unit (e.g. --fix C=120; removed from the free set); repeatable",
    )
    g.add_argument(
        "--free",
        default=None,
        metavar="NAMES",
        help=f"the free JR constants, joined by ',' (default {default_free}); the others are "
        "fixed at their default or --fix value",
    )
    g.add_argument(
        "--prior",
        action="append",
        default=None,
        metavar="NAME=DIST:X:SD",
        help="prior of a free constant, lognormal:MEDIAN:SD (SD of the log), e.g. "
        "B=lognormal:22:0.25, or of another parameter (e.g. p, chi; normal:MEAN:SD "
        "keeps its truncation); repeatable",
    )
    g.add_argument(
        "--config",
        default=None,
        metavar="FILE.toml",
        help='TOML file with a [fit] table: free = [...], [fit.fix] NAME = VALUE, [fit.prior] NAME = "DIST:X:SD"',
    )


def override_options(args, base=None):
    """Priors from --fix/--free/--prior/--config, and the record of what was asked."""
    from jrfit.inference.overrides import overrides_record, parse_overrides

    given = dict(fix=args.fix, free=args.free, prior=args.prior, config=args.config)
    return parse_overrides(**given, base=base), overrides_record(**given)


def record_overrides(result, record):
    """Store what was asked in the result's attributes (``fit_overrides``, JSON)."""
    text = json.dumps(record)
    for res in (result, *result.companions.values()):
        res.idata.attrs["fit_overrides"] = text
        if "posterior" in res.idata.groups():
            res.idata.posterior.attrs["fit_overrides"] = text


def add_sampler_args(p):
    s = p.add_argument_group("sampler")
    s.add_argument(
        "--draws", type=int, default=None, help="draws kept per chain (default: 1500 for spectra, 500 for ERPs)"
    )
    s.add_argument(
        "--tune", type=int, default=None, help="tuning steps per chain (default: 400 for spectra, 500 for ERPs)"
    )
    s.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    s.add_argument(
        "--cores",
        type=int,
        default=None,
        help="chains run in parallel (default: one per core, up to the number of chains; "
        "nutpie threads for spectra, PyMC processes for ERPs)",
    )
    s.add_argument(
        "--sampler",
        choices=("nutpie", "pymc"),
        default="nutpie",
        help="NUTS implementation of spectral fits (default nutpie; ERP fits use PyMC's)",
    )
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=".", metavar="DIR", help="output folder (default: current)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def parse_regions(items):
    if not items:
        return None
    regions = {}
    for item in items:
        name, sep, chans = item.partition("=")
        members = [c.strip() for c in chans.split(",") if c.strip()]
        if not sep or not members or not name.strip():
            raise JRFitError(f"--region expects NAME=CH1,CH2,... with a non-empty name and channels, got {item!r}.")
        if name.strip() in regions:
            raise JRFitError(f"--region {name.strip()!r} is given twice: give each region once.")
        regions[name.strip()] = members
    return regions


def check_channels(args):
    """``--channels``: no name twice; a recording given after the names is taken as the recording."""
    if args.recording is None:
        if args.channels and Path(args.channels[-1]).exists():
            args.recording = args.channels.pop()  # `--channels O1 O2 rec.edf`
            logger.info(f"Took {args.recording} (after --channels) as the recording")
        else:
            raise JRFitError(
                "No recording given: put its path first (jrfit fit-psd REC --channels O1 O2) or end "
                "the channel list with '--' before it."
            )
    if args.channels is not None:
        if not args.channels:
            raise JRFitError("--channels needs at least one channel name, or leave it out for every EEG channel.")
        twice = sorted({c for c in args.channels if args.channels.count(c) > 1})
        if twice:
            raise JRFitError(f"--channels lists {', '.join(twice)} more than once: give each channel once.")


def add_reference(g):
    g.add_argument(
        "--reference",
        default="none",
        help="'none' (default: keep the recording's; a single-column fit of a channel needs "
        "its own signal), 'average' (a share 1/N of each channel's power then comes from "
        "the other N-1: warned below 32 good channels, refused with 2), or channel names "
        "joined by ','",
    )


def parse_reference(reference):
    """``--reference``: None for 'none', 'average', or a list of channel names."""
    if reference.strip().lower() == "none":
        return None
    if reference.strip().lower() == "average":
        return "average"
    return [c.strip() for c in reference.split(",")]


def parse_number(flag, text, unit, scale=1.0):
    """A positive number in ``unit`` (times ``scale``), or None for 'none'."""
    if str(text).strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise JRFitError(f"{flag} expects a number in {unit} or 'none', got {text!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise JRFitError(f"{flag} must be positive (in {unit}) or 'none', got {text!r}.")
    return value * scale


def parse_line(line):
    """``--line-freq``: 'auto', 'none' or a frequency in Hz."""
    text = str(line).strip().lower()
    if text in ("none", "auto"):
        return None if text == "none" else "auto"
    try:
        value = float(text)
    except ValueError:
        raise JRFitError(f"--line-freq expects 'auto', 'none' or a frequency in Hz (50, 60), got {line!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise JRFitError(f"--line-freq must be a positive frequency in Hz, got {line!r}.")
    return value


def sampler_config(default, args):
    """``default`` (a FitConfig) with the sampler options given on the command line."""
    import dataclasses

    given = dict(draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, seed=args.seed)
    if default.sampler != "pymc":  # ERP fits always use PyMC's sampler
        given["sampler"] = args.sampler
    return dataclasses.replace(default, **{k: v for k, v in given.items() if v is not None})


def params_record(params):
    """JRParams as a structured array, shape batch_shape (readable without pickle)."""
    d = params.as_dict(broadcast=True)
    rec = np.empty(params.batch_shape, dtype=[(k, float) for k in d])
    for k, v in d.items():
        rec[k] = v
    return rec


def add_fit_options(p, default_free, run):
    """The options every fit command ends with (overrides, sampler) and its ``run``; fits compile."""
    add_overrides(p, default_free)
    add_sampler_args(p)
    p.set_defaults(func=run, needs_caches=True)


def start_fit(args):
    """What every fit command does first: progress lines unless --quiet, and the recording's options checked."""
    if not args.quiet:
        set_log_level("info")
    check_channels(args)


def add_channel_options(g):
    """--channels, --region, --reference and --line-freq: which signals a fit command fits."""
    g.add_argument(
        "--channels", nargs="+", metavar="NAME", default=None, help="channels to fit (default: every good EEG channel)"
    )
    g.add_argument(
        "--region",
        action="append",
        default=None,
        metavar="NAME=CH1,CH2",
        help="fit the average of some channels as one region, e.g. occipital=O1,O2,Oz",
    )
    add_reference(g)
    g.add_argument("--line-freq", default="auto", help="line-noise frequency: 'auto', 50, 60 or 'none'")
