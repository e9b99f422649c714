"""``jrfit spectrum``: the linearised PSD at the stable fixed point, to .csv or .npz."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from jrfit.cli import options as opt
from jrfit.errors import JRFitError
from jrfit.model.params import JRParams
from jrfit.model.spectrum import linear_psd, stable_v
from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger

_SPECTRUM_EXTS = (".csv", ".npz")


# frequency grid of `jrfit spectrum` (the band of jrfit.data.spectrum.compute_spectrum)
_FMIN, _FMAX, _N_FREQS = 2.0, 40.0, 381


def build(subparsers, parent):
    p = subparsers.add_parser(
        "spectrum",
        parents=[parent],
        formatter_class=opt.formatter,
        help="linearised PSD (mV^2/Hz) at the stable fixed point",
        description=(
            "One-sided linearised PSD of v = y1 - y2, 2 sigma^2 |H(i 2 pi f)|^2 in mV^2/Hz, at\n"
            "the stable fixed point for input mu (see jrfit.model.spectrum.linear_psd). It exists\n"
            "only where a fixed point is stable: with the default parameters mu below 89.83 /s\n"
            "or above 315.70 /s (the default mu = 220 /s is on the alpha limit cycle)."
        ),
        epilog=opt.param_table()
        + (
            "\n\nOutput: .csv (columns 'freq (Hz)' and 'psd (mV^2/Hz)') or .npz (freqs in Hz,\n"
            "psd in mV^2/Hz, v in mV, branch, params).\n\n"
            "Example: jrfit spectrum --mu 80 --fmax 30 --out psd.csv --plot psd.png"
        ),
    )
    g = p.add_argument_group("spectrum")
    g.add_argument(
        "--fmin", type=float, default=_FMIN, metavar="HZ", help="lowest frequency, in Hz (default %(default)g Hz)"
    )
    g.add_argument(
        "--fmax", type=float, default=_FMAX, metavar="HZ", help="highest frequency, in Hz (default %(default)g Hz)"
    )
    g.add_argument(
        "--n-freqs",
        type=int,
        default=_N_FREQS,
        metavar="N",
        help="number of frequencies, evenly spaced from fmin to fmax (default %(default)d)",
    )
    g.add_argument(
        "--branch",
        choices=("upper", "lower"),
        default="upper",
        help="stable fixed point to linearise at when two are stable (default %(default)s)",
    )
    opt.add_params(p)
    o = opt.add_output(p, _SPECTRUM_EXTS, "the format", also=" and FIG")
    o.add_argument(
        "--plot",
        metavar="FIG",
        help=f"also save a figure of log-power against frequency in Hz ({', '.join(opt.FIG_EXTS)})",
    )
    p.set_defaults(func=run)


def _frequencies(fmin, fmax, n_freqs):
    if not (math.isfinite(fmin) and math.isfinite(fmax)) or fmin < 0 or fmin >= fmax:
        raise JRFitError(
            f"--fmin and --fmax must satisfy 0 <= fmin < fmax (in Hz), got fmin={fmin:g} and fmax={fmax:g}."
        )
    if n_freqs < 2:
        raise JRFitError(f"--n-freqs must be 2 or more, got {n_freqs}.")
    return np.linspace(fmin, fmax, n_freqs)


def run(args):
    params = JRParams(**opt.param_changes(args))
    freqs = _frequencies(args.fmin, args.fmax, args.n_freqs)
    out, ext = opt.check_out(args.out, _SPECTRUM_EXTS, args.overwrite)
    fig_path = None
    if args.plot is not None:
        fig_path, fig_ext = opt.check_out(args.plot, opt.FIG_EXTS, args.overwrite, option="--plot")
        if fig_path.resolve() == out.resolve():
            raise JRFitError("--plot and --out must be different files.")

    v = stable_v(params, args.branch)
    if not math.isfinite(v):
        raise JRFitError(
            f"No stable fixed point at mu = {params.mu:g} /s: the column is on a limit cycle "
            "there, which the linearised spectrum does not describe. Choose a mu where a fixed "
            "point is stable (`jrfit bifurcation` shows the ranges) or simulate the column "
            f"(`jrfit simulate --mu {params.mu:g} ...`)."
        )
    psd = linear_psd(freqs, params, v=v)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out))
        if ext == ".csv":
            np.savetxt(
                tmp,
                np.column_stack([freqs, psd]),
                delimiter=",",
                header="freq (Hz),psd (mV^2/Hz)",
                comments="",
                fmt="%.10g",
            )
        else:
            np.savez(
                tmp,
                freqs=freqs,
                psd=psd,
                v=v,
                branch=args.branch,
                params=opt.params_record(params),
                units="freqs: Hz, psd: mV^2/Hz, v: mV",
            )
        if fig_path is not None:
            from jrfit.viz import plot_psd

            fig = plot_psd(freqs, psd, title=f"linearised PSD, mu = {params.mu:g} /s, sigma = {params.sigma:g} /s^0.5")
            opt.write_figure(fig, stack.enter_context(atomic_path(fig_path)), fig_ext)
    logger.info(
        f"Linearised PSD at mu={params.mu:g} /s (v={v:.3f} mV, {args.branch} branch), "
        f"{freqs.size} frequencies in [{freqs[0]:g}, {freqs[-1]:g}] Hz, peak at "
        f"{freqs[np.argmax(psd)]:.2f} Hz -> {out}" + (f", {fig_path}" if fig_path else "")
    )
    return 0
