"""``jrfit fit-erp``: the nonlinear ERP fit of an evoked response (posterior + report)."""

from __future__ import annotations

from jrfit.cli import options as opt
from jrfit.cli.fit_output import fit_outputs, write_fit
from jrfit.utils.log import logger


def build(subparsers, parent):
    p = subparsers.add_parser(
        "fit-erp",
        parents=[parent],
        formatter_class=opt.formatter,
        help="fit the nonlinear JR evoked response to an ERP (posterior + report)",
        description=(
            "Load a continuous recording with events (any format MNE reads), an epochs file\n"
            "(-epo.fif) or an evoked file (-ave.fif), epoch and average the condition(s) given\n"
            "by --event (baseline-corrected, bad trials rejected, standard error from the\n"
            "trials; from an average alone, from its baseline), and sample the posterior of the\n"
            "JR column's response to a stimulus pulse per channel and condition (NUTS, 4\n"
            "chains; gradients from forward sensitivities). Writes RESULT.nc (ArviZ\n"
            "InferenceData) and an HTML report into --out."
        ),
        epilog=(
            "Examples:\n  jrfit fit-erp eeg.set --event square --channels Oz --out results/\n"
            "  jrfit fit-erp sample_audvis-ave.fif --event 'Left visual' --event 'Right visual' "
            "--channels 'EEG 056'"
        ),
    )
    p.add_argument("recording", nargs="?", default=None, help="path of the recording, epochs or evoked file")
    g = p.add_argument_group("data")
    g.add_argument(
        "--event",
        action="append",
        default=None,
        metavar="NAME",
        help="condition: annotation/event name (raw, epochs) or comment (evoked); repeat "
        "for several conditions, fitted side by side (default: the file's only condition)",
    )
    g.add_argument("--tmin", type=float, default=-0.1, metavar="S", help="window start, in s (default -0.1)")
    g.add_argument("--tmax", type=float, default=0.5, metavar="S", help="window end, in s (default 0.5)")
    opt.add_channel_options(g)
    g.add_argument("--decim", type=int, default=1, help="keep every k-th sample (default 1)")
    g.add_argument("--lowpass", default=None, metavar="HZ", help="low-pass cut-off in Hz, or 'none' (default 40)")
    g.add_argument(
        "--reject",
        default=None,
        metavar="UV",
        help="peak-to-peak rejection threshold of a trial, in uV, or 'none' (default 150)",
    )
    opt.add_cleaning(g)
    m = p.add_argument_group("model")
    m.add_argument(
        "--pulse",
        choices=("jr", "gaussian"),
        default="jr",
        help="stimulus pulse: JR 1995 (t/w)^7 exp(-t/w) or SPM's Gaussian bump (default jr)",
    )
    m.add_argument(
        "--residuals",
        choices=("correlated", "independent"),
        default="correlated",
        help="time structure of the residuals: correlated as the noise measured from the trials "
        "(or the baseline) with the standard error (default), or independent samples",
    )
    opt.add_fit_options(p, "B,a,b", run)


def run(args):
    from pathlib import Path

    from jrfit.data.evoked import prepare_evoked
    from jrfit.inference.erp import ERP_CONFIG, fit_erp
    from jrfit.inference.priors import make_erp_priors

    opt.start_fit(args)
    config = opt.sampler_config(ERP_CONFIG, args)
    priors, asked = opt.override_options(args, base=make_erp_priors(args.pulse, residuals=args.residuals))
    stem = Path(args.recording).name.split(".")[0]
    data = dict(
        tmin=args.tmin,
        tmax=args.tmax,
        picks=args.channels,
        regions=opt.parse_regions(args.region),
        reference=opt.parse_reference(args.reference),
        line_freq=opt.parse_line(args.line_freq),
        decim=args.decim,
        **opt.cleaning_options(args),
    )
    if args.lowpass is not None:
        data["h_freq"] = opt.parse_number("--lowpass", args.lowpass, "Hz")
    if args.reject is not None:
        data["reject"] = opt.parse_number("--reject", args.reject, "uV", scale=1e-6)
    with fit_outputs(args.out, stem, args.overwrite) as outputs:
        logger.info(f"Loading {args.recording}")
        evokeds = prepare_evoked(args.recording, list(args.event) if args.event else None, **data)
        result = fit_erp(evokeds, priors=priors, config=config)
        opt.record_overrides(result, asked)
        return write_fit(result, outputs, "fits")
