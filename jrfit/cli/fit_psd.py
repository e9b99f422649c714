"""``jrfit fit-psd``: the spectral fit of a resting recording (posterior + report)."""

from __future__ import annotations

import os
import shutil

from jrfit.cli import options as opt
from jrfit.cli.fit_output import fit_outputs, write_fit
from jrfit.utils.log import logger

# the library's defaults (prepare_spectrum's band, SimulationConfig's draws and replicates), written
# out so that building the parser imports neither MNE nor PyMC; tests/cli/test_app.py checks they agree
_FMIN, _FMAX = 2.0, 40.0
_SIM_DRAWS, _SIM_REPS = 500, 8


def build(subparsers, parent):
    p = subparsers.add_parser(
        "fit-psd",
        parents=[parent],
        formatter_class=opt.formatter,
        help="fit the linearised JR spectrum to a resting recording (posterior + report)",
        description=(
            "Load a recording (any format MNE reads: EDF/BDF, FIF, EEGLAB .set, BrainVision,\n"
            "...), preprocess it (EEG channels, re-reference, line-noise notch, band-pass, bad\n"
            "channels and segments), compute its PSD (mV^2/Hz) and sample the posterior of the\n"
            "JR parameters per channel (NUTS, 4 chains) with the Whittle likelihood of the\n"
            "linearised model at a stable fixed point. Writes RESULT.nc (ArviZ InferenceData)\n"
            "and an HTML report into --out."
        ),
        epilog="Example: jrfit fit-psd rest.edf --channels O1 O2 --fmin 2 --fmax 40 --out results/",
    )
    p.add_argument("recording", nargs="?", default=None, help="path of the recording")
    g = p.add_argument_group("data")
    opt.add_channel_options(g)
    g.add_argument(
        "--fmin", type=float, default=_FMIN, metavar="HZ", help=f"lowest frequency, in Hz (default {_FMIN:g})"
    )
    g.add_argument(
        "--fmax", type=float, default=_FMAX, metavar="HZ", help=f"highest frequency, in Hz (default {_FMAX:g})"
    )
    g.add_argument("--method", choices=("welch", "multitaper"), default="welch", help="PSD estimator")
    g.add_argument(
        "--seg-length",
        type=float,
        default=None,
        metavar="S",
        help="segment length of the spectrum, in s (default 4: 0.25 Hz resolution)",
    )
    opt.add_cleaning(g)
    m = p.add_argument_group("likelihood")
    m.add_argument(
        "--likelihood",
        choices=("linear", "simulation", "auto"),
        default="auto",
        help="linear: linearised spectrum at a stable fixed point (Whittle, NUTS); simulation: "
        "synthetic likelihood of simulated spectra (SMC; limit cycles too); auto (default): "
        "linear, then simulation where the linearisation is rejected (stability boundary "
        "or simulated vs linearised spectra; see jrfit.inference.routes)",
    )
    m.add_argument(
        "--sim-draws",
        type=int,
        default=_SIM_DRAWS,
        metavar="N",
        help=f"simulation route: SMC particles per chain (default {_SIM_DRAWS})",
    )
    m.add_argument(
        "--sim-reps",
        type=int,
        default=_SIM_REPS,
        metavar="N",
        help=f"simulation route: replicate simulations per parameter set (default {_SIM_REPS})",
    )
    opt.add_fit_options(p, "a,b,B", run)


def run(args):
    from pathlib import Path

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.routes import fit_psd
    from jrfit.inference.simulation import SimulationConfig
    from jrfit.inference.spectral import FitConfig

    opt.start_fit(args)
    regions = opt.parse_regions(args.region)
    reference = opt.parse_reference(args.reference)
    line = opt.parse_line(args.line_freq)
    cleaning = opt.cleaning_options(args)
    config = opt.sampler_config(FitConfig(), args)
    priors, asked = opt.override_options(args)
    with fit_outputs(args.out, Path(args.recording).stem, args.overwrite) as outputs:
        logger.info(f"Loading {args.recording}")
        spectrum = prepare_spectrum(
            args.recording,
            picks=args.channels,
            regions=regions,
            fmin=args.fmin,
            fmax=args.fmax,
            method=args.method,
            reference=reference,
            line_freq=line,
            **cleaning,
            **({} if args.seg_length is None else {"seg_length": args.seg_length}),
        )
        # SMC chains are independent runs: two of them, in parallel where there are two cores
        sim_config = SimulationConfig(
            draws=args.sim_draws,
            chains=2,
            cores=max(args.cores or 1, min(2, os.cpu_count() or 1)),
            n_rep=args.sim_reps,
            seed=args.seed,
        )
        # finished channels are kept in a hidden folder beside the output: a rerun resumes from them
        partial = outputs.folder / f".{Path(args.recording).stem}.partial"
        result = fit_psd(
            spectrum,
            likelihood=args.likelihood,
            priors=priors,
            config=config,
            sim_config=sim_config,
            checkpoint=partial,
        )
        opt.record_overrides(result, asked)
        rc = write_fit(result, outputs, "channels")
        shutil.rmtree(partial, ignore_errors=True)
        return rc
