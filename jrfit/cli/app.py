"""Command-line interface: ``jrfit <command> ...`` (also ``python -m jrfit``).

A thin layer over the public functions: each command parses its options,
calls the library and writes the result to ``--out`` atomically (a failed or
interrupted run leaves no partial file), refusing to overwrite an existing
file unless ``--overwrite`` is given. Every :class:`jrfit.errors.JRFitError`
is reported as one line ``jrfit: error: ...`` on stderr with exit code 2.

Adding a command: write ``_build_<name>(subparsers)``, which adds one
sub-parser and sets ``func`` to a ``_run_<name>(args) -> int``, and list the
builder in ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from jrfit import __version__
from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger, set_log_level
from jrfit.dynamics.bifurcation import bifurcation
from jrfit.errors import JRFitError
from jrfit.model.params import PARAM_INFO, JRParams
from jrfit.simulators.column import simulate
from jrfit.model.spectrum import linear_psd, stable_v

__all__ = ["main", "build_parser"]

_SIM_EXTS = (".fif", ".npz", ".csv")
_SPECTRUM_EXTS = (".csv", ".npz")
_FIG_EXTS = (".png", ".pdf", ".svg")
_BIF_EXTS = (".json",) + _FIG_EXTS
# frequency grid of `jrfit spectrum` (the band of jrfit.data.recording.compute_spectrum)
_FMIN, _FMAX, _N_FREQS = 2.0, 40.0, 381


# ----------------------------------------------------------------------------
# shared option helpers
def _default(func, name):
    """Default of a keyword of a library function (one source of truth)."""
    return inspect.signature(func).parameters[name].default


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=92)


def _param_table():
    """Epilog listing the JR parameters, their defaults and units."""
    lines = ["Jansen-Rit parameters for --set NAME=VALUE (default and unit):"]
    for name, info in PARAM_INFO.items():
        unit = "" if info["unit"] == "1" else info["unit"]
        lines.append(f"  {name:6s} {info['default']:>7g} {unit:7s} {info['meaning']}")
    return "\n".join(lines)


def _add_params(p, shortcuts=True):
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


def _add_output(p, exts, what, also=""):
    g = p.add_argument_group("output")
    g.add_argument(
        "--out", required=True, metavar="FILE", help=f"output file; its extension ({', '.join(exts)}) chooses {what}"
    )
    g.add_argument("--overwrite", action="store_true", help=f"replace FILE{also} if it exists (default: refuse)")
    return g


def _common_parent():
    """Options every command accepts after its name too (e.g. `jrfit simulate -v`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress (level 'info')"
    )
    return parent


# ----------------------------------------------------------------------------
# helpers used by the commands
def _param_changes(args):
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


def _check_out(path, exts, overwrite, option="--out"):
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


def _save_figure(fig, tmp, ext):
    from jrfit.viz.figures import save_figure

    save_figure(fig, tmp, ext[1:])


def _channel_names(n):
    # the default of Simulation.to_raw, passed explicitly so .fif, .npz and .csv agree
    width = max(3, len(str(n - 1)))
    return [f"JR{i:0{width}d}" for i in range(n)]


def _params_record(params):
    """JRParams as a structured array, shape batch_shape (readable without pickle)."""
    d = params.as_dict(broadcast=True)
    rec = np.empty(params.batch_shape, dtype=[(k, float) for k in d])
    for k, v in d.items():
        rec[k] = v
    return rec


def _finite(x):
    """JSON-friendly float: None for nan/inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def _range(a):
    a = np.asarray(a, float)
    return [_finite(np.nanmin(a)), _finite(np.nanmax(a))] if a.size else [None, None]


def _bifurcation_dict(bif):
    """Bifurcation as a JSON-ready dict (p in /s, v in mV, frequency in Hz)."""
    points = [
        dict(
            type=pt.kind,
            label=pt.label,
            p=_finite(pt.p),
            v=_finite(pt.v),
            frequency=_finite(pt.frequency),
            criticality=pt.criticality,
            lyapunov=_finite(pt.lyapunov),
            v_max=_finite(pt.v_max),
            v_min=_finite(pt.v_min),
            cycle=pt.cycle,
        )
        for pt in bif.points
    ]
    branches = []
    for br in bif.branches:
        segs = [
            dict(
                stable=stable,
                p=[_finite(br.p[sl][0]), _finite(br.p[sl][-1])],
                v=[_finite(br.v[sl][0]), _finite(br.v[sl][-1])],
            )
            for sl, stable in br.segments()
        ]
        branches.append(dict(p=_range(br.p), v=_range(br.v), n_points=int(br.p.size), segments=segs))

    def cycle_summary(cb):
        return dict(
            kind=cb.kind,
            source=cb.source,
            p=_range(cb.p),
            frequency=_range(cb.frequency),
            peak_to_peak_max=_finite(np.max(cb.peak_to_peak)) if cb.p.size else None,
            v=[_range(cb.v_min)[0], _range(cb.v_max)[1]],
            n_points=int(cb.p.size),
            n_stable=int(np.sum(cb.stable)),
        )

    return dict(
        jrfit_version=__version__,
        units=dict(p="/s", v="mV", frequency="Hz", peak_to_peak="mV"),
        p_range=[float(x) for x in bif.p_range],
        params={k: float(v) for k, v in bif.params.as_dict().items()},
        special_points=points,
        fixed_point_branches=branches,
        cycle_branches=[cycle_summary(cb) for cb in bif.cycles],
        simulated_attractors=[cycle_summary(cb) for cb in bif.simulated],
    )


def _points_table(bif):
    head = f"{'type':12s} {'p (/s)':>10s} {'v (mV)':>9s} {'freq (Hz)':>10s}  note"
    lines = [head, "-" * len(head)]
    for pt in bif.points:
        f = f"{pt.frequency:10.2f}" if np.isfinite(pt.frequency) else f"{'-':>10s}"
        lines.append(f"{pt.kind:12s} {pt.p:10.3f} {pt.v:9.3f} {f}  {pt.criticality}")
    if not bif.points:
        lines.append(f"(no special point for p in [{bif.p_range[0]:g}, {bif.p_range[1]:g}] /s)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# jrfit simulate
def _build_simulate(subparsers, parent):
    p = subparsers.add_parser(
        "simulate",
        parents=[parent],
        formatter_class=_formatter,
        help="simulate noise-driven columns (EEG proxy v = y1 - y2)",
        description=(
            "Simulate the EEG proxy v = y1 - y2 (mV) of noise-driven Jansen-Rit columns with\n"
            "input p(t) = mu + sigma xi(t) (mu in /s, sigma in /s^0.5), anti-alias filtered\n"
            "and decimated to --sfreq (see jrfit.simulators.column.simulate)."
        ),
        epilog=_param_table()
        + (
            "\n\nOutput: .fif (MNE Raw, one EEG channel JR000, JR001, ... per column, in V),\n"
            ".npz (times in s, data in mV, sfreq in Hz, params, ch_names, seed, dt, method)\n"
            "or .csv (a 'time (s)' column, then one column per column in mV).\n\n"
            "Example: jrfit simulate --duration 10 --mu-range 80 120 --n-columns 5 "
            "--seed 0 --out sim_raw.fif\n"
            "Network: jrfit simulate --network tvb76 --global-coupling 1000 --speed 3 "
            "--duration 60 --mu 400 --seed 0 --out net_raw.fif --plot coherence.png"
        ),
    )
    g = p.add_argument_group("simulation")
    g.add_argument(
        "--duration", type=float, required=True, metavar="S", help="length of the output, in s (after the transient)"
    )
    g.add_argument(
        "--dt",
        type=float,
        default=_default(simulate, "dt"),
        metavar="S",
        help="integration step, in s (default %(default)g s); 1/(dt sfreq) must be an integer",
    )
    g.add_argument(
        "--sfreq",
        type=float,
        default=_default(simulate, "sfreq"),
        metavar="HZ",
        help="output sampling rate, in Hz (default %(default)g Hz)",
    )
    g.add_argument(
        "--transient",
        type=float,
        default=_default(simulate, "transient"),
        metavar="S",
        help="simulated and discarded time before the output, in s (default %(default)g s)",
    )
    g.add_argument(
        "--method",
        choices=("splitting", "euler"),
        default=_default(simulate, "method"),
        help="integrator (default %(default)s; euler needs dt of 0.05-0.1 ms)",
    )
    g.add_argument("--seed", type=int, metavar="N", help="seed of the noise (default: fresh entropy, logged with -v)")
    g.add_argument(
        "--n-columns",
        type=int,
        default=1,
        metavar="N",
        help="number of independent columns, one channel each (default 1)",
    )
    g.add_argument(
        "--mu-range",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="with --n-columns N: mu linearly spaced from LO to HI, in /s",
    )
    n = p.add_argument_group("network (one column per region, coupled with delays; see jrfit.simulators.network)")
    n.add_argument(
        "--network",
        metavar="CONNECTIVITY",
        help="simulate a connectome: 'tvb76' (needs pip install \"jrfit[network]\"), "
        "a TVB .zip or folder, or an .npz with weights and tract_lengths (mm)",
    )
    n.add_argument(
        "--global-coupling",
        type=float,
        metavar="G",
        help="global coupling G, K = G x normalised weights (required with --network; "
        "mV/s for --coupling seed, dimensionless for tvb)",
    )
    n.add_argument(
        "--coupling",
        choices=("seed", "tvb"),
        default="seed",
        help="seed: sum_j K_ij S(y0_j(t - tau_ij)) added to y0''; tvb: sum_j K_ij "
        "S(y1_j - y2_j)(t - tau_ij) added to the input p (default %(default)s)",
    )
    n.add_argument(
        "--speed", type=float, default=3.0, metavar="M_S", help="conduction speed, in m/s (default %(default)g)"
    )
    n.add_argument(
        "--beta",
        type=float,
        default=0.0,
        help="mean-field feedback beta x mean_i S(y1_i - y2_i) into every input (default %(default)g)",
    )
    n.add_argument(
        "--normalize",
        choices=("max", "row", "none"),
        default="max",
        help="weight normalisation (default %(default)s: largest weight 1)",
    )
    _add_params(p)
    o = _add_output(p, _SIM_EXTS, "the format", also=" and FIG")
    o.add_argument(
        "--plot",
        metavar="FIG",
        help=f"with --network: also save a figure of the simulated PSDs, coherence and "
        f"phase (Welch, 4 s segments; {', '.join(_FIG_EXTS)})",
    )
    p.set_defaults(func=_run_simulate)


def _run_simulate_network(args, changes):
    from jrfit.simulators.network import load_connectivity, simulate_network

    if args.global_coupling is None:
        raise JRFitError(
            "--network needs --global-coupling G (mV/s for --coupling seed, "
            "dimensionless for tvb; 0 gives independent columns)."
        )
    if args.n_columns != 1 or args.mu_range is not None:
        raise JRFitError("--n-columns and --mu-range cannot be used with --network (one column per region).")
    out, ext = _check_out(args.out, _SIM_EXTS, args.overwrite)
    fig_path = None
    if args.plot is not None:
        fig_path, fig_ext = _check_out(args.plot, _FIG_EXTS, args.overwrite, option="--plot")
    try:
        conn = load_connectivity(args.network, normalize=args.normalize)
    except ImportError as exc:
        raise JRFitError(str(exc)) from None
    params = JRParams(**changes)
    sim = simulate_network(
        conn,
        args.duration,
        params,
        global_coupling=args.global_coupling,
        speed=args.speed,
        coupling=args.coupling,
        beta=args.beta,
        dt=args.dt,
        sfreq=args.sfreq,
        transient=args.transient,
        method=args.method,
        seed=args.seed,
    )
    names = list(conn.region_names)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out))
        if ext == ".fif":
            raw = sim.to_raw()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*does not conform to MNE naming")
                raw.save(tmp, overwrite=True, verbose=False)
        elif ext == ".npz":
            np.savez(
                tmp,
                times=sim.times,
                data=sim.data,
                sfreq=sim.sfreq,
                dt=sim.dt,
                transient=sim.transient,
                method=sim.method,
                seed=str(sim.seed),
                ch_names=np.array(names),
                params=_params_record(params),
                weights=conn.weights,
                tract_lengths=conn.lengths,
                normalization=conn.normalization,
                coupling=sim.coupling,
                global_coupling=float(sim.global_coupling[0]),
                speed=sim.speed,
                beta=float(sim.beta[0]),
                delay_steps=sim.delay_steps,
                units="times: s, data: mV, sfreq: Hz, dt: s, tract_lengths: mm, speed: m/s",
            )
        else:
            header = ",".join(["time (s)"] + [f"{c} (mV)" for c in names])
            np.savetxt(
                tmp, np.column_stack([sim.times, sim.data.T]), delimiter=",", header=header, comments="", fmt="%.10g"
            )
        if fig_path is not None:
            spec = sim.cross_spectrum(seg=min(4.0, sim.duration))
            fig = spec.plot(
                fmax=min(45.0, sim.sfreq / 2),
                title=(
                    f"{conn.n_regions}-region network ({args.coupling} coupling, G = "
                    f"{args.global_coupling:g}, {args.speed:g} m/s): Welch estimate"
                ),
            )
            _save_figure(fig, stack.enter_context(atomic_path(fig_path)), fig_ext)
    logger.info(f"{sim!r} (seed={sim.seed}) -> {out}" + (f", {fig_path}" if fig_path else ""))
    return 0


def _run_simulate(args):
    changes = _param_changes(args)
    if args.network is not None:
        return _run_simulate_network(args, changes)
    for opt, val in (("--global-coupling", args.global_coupling), ("--plot", args.plot)):
        if val is not None:
            raise JRFitError(f"{opt} needs --network CONNECTIVITY.")
    n = args.n_columns
    if n < 1:
        raise JRFitError(f"--n-columns must be a positive integer, got {n}.")
    if args.mu_range is not None:
        if "mu" in changes:
            raise JRFitError("Give either --mu-range or a single mu (--mu / --set mu=), not both.")
        if n < 2:
            raise JRFitError(f"--mu-range needs --n-columns of 2 or more, got {n}.")
        changes["mu"] = np.linspace(args.mu_range[0], args.mu_range[1], n)
    params = JRParams(**changes)
    if args.mu_range is None and n > 1:
        params = params.replace(mu=np.full(n, params.mu))
    out, ext = _check_out(args.out, _SIM_EXTS, args.overwrite)

    sim = simulate(
        params,
        args.duration,
        dt=args.dt,
        sfreq=args.sfreq,
        transient=args.transient,
        method=args.method,
        seed=args.seed,
    )
    names = _channel_names(sim.n_columns)
    with atomic_path(out) as tmp:
        if ext == ".fif":
            raw = sim.to_raw(ch_names=names)
            with warnings.catch_warnings():
                # the temporary name never ends in raw.fif; any .fif name is accepted
                warnings.filterwarnings("ignore", message=".*does not conform to MNE naming")
                raw.save(tmp, overwrite=True, verbose=False)
        elif ext == ".npz":
            np.savez(
                tmp,
                times=sim.times,
                data=sim.data,
                sfreq=sim.sfreq,
                dt=sim.dt,
                transient=sim.transient,
                method=sim.method,
                seed=str(sim.seed),
                ch_names=np.array(names),
                params=_params_record(sim.params),
            )
        else:
            header = ",".join(["time (s)"] + [f"{c} (mV)" for c in names])
            np.savetxt(
                tmp, np.column_stack([sim.times, sim.data.T]), delimiter=",", header=header, comments="", fmt="%.10g"
            )
    mu = np.ravel(sim.params.mu)
    mu_txt = f"{mu[0]:g}" if mu.min() == mu.max() else f"{mu.min():g}-{mu.max():g}"
    logger.info(
        f"Simulated {sim.n_columns} column(s) x {sim.duration:g} s at {sim.sfreq:g} Hz "
        f"(dt={sim.dt:g} s, {sim.method}, seed={sim.seed}, mu={mu_txt} /s, "
        f"sigma={float(np.ravel(sim.params.sigma)[0]):g} /s^0.5) -> {out}"
    )
    return 0


# ----------------------------------------------------------------------------
# jrfit spectrum
def _build_spectrum(subparsers, parent):
    p = subparsers.add_parser(
        "spectrum",
        parents=[parent],
        formatter_class=_formatter,
        help="linearised PSD (mV^2/Hz) at the stable fixed point",
        description=(
            "One-sided linearised PSD of v = y1 - y2, 2 sigma^2 |H(i 2 pi f)|^2 in mV^2/Hz, at\n"
            "the stable fixed point for input mu (see jrfit.model.spectrum.linear_psd). It exists\n"
            "only where a fixed point is stable: with the default parameters mu below 89.83 /s\n"
            "or above 315.70 /s (the default mu = 220 /s is on the alpha limit cycle)."
        ),
        epilog=_param_table()
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
    _add_params(p)
    o = _add_output(p, _SPECTRUM_EXTS, "the format", also=" and FIG")
    o.add_argument(
        "--plot",
        metavar="FIG",
        help=f"also save a figure of log-power against frequency in Hz ({', '.join(_FIG_EXTS)})",
    )
    p.set_defaults(func=_run_spectrum)


def _frequencies(fmin, fmax, n_freqs):
    if not (math.isfinite(fmin) and math.isfinite(fmax)) or fmin < 0 or fmin >= fmax:
        raise JRFitError(
            f"--fmin and --fmax must satisfy 0 <= fmin < fmax (in Hz), got fmin={fmin:g} and fmax={fmax:g}."
        )
    if n_freqs < 2:
        raise JRFitError(f"--n-freqs must be 2 or more, got {n_freqs}.")
    return np.linspace(fmin, fmax, n_freqs)


def _run_spectrum(args):
    params = JRParams(**_param_changes(args))
    freqs = _frequencies(args.fmin, args.fmax, args.n_freqs)
    out, ext = _check_out(args.out, _SPECTRUM_EXTS, args.overwrite)
    fig_path = None
    if args.plot is not None:
        fig_path, fig_ext = _check_out(args.plot, _FIG_EXTS, args.overwrite, option="--plot")
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
                params=_params_record(params),
                units="freqs: Hz, psd: mV^2/Hz, v: mV",
            )
        if fig_path is not None:
            from jrfit.viz.figures import plot_psd

            fig = plot_psd(freqs, psd, title=f"linearised PSD, mu = {params.mu:g} /s, sigma = {params.sigma:g} /s^0.5")
            _save_figure(fig, stack.enter_context(atomic_path(fig_path)), fig_ext)
    logger.info(
        f"Linearised PSD at mu={params.mu:g} /s (v={v:.3f} mV, {args.branch} branch), "
        f"{freqs.size} frequencies in [{freqs[0]:g}, {freqs[-1]:g}] Hz, peak at "
        f"{freqs[np.argmax(psd)]:.2f} Hz -> {out}" + (f", {fig_path}" if fig_path else "")
    )
    return 0


# ----------------------------------------------------------------------------
# jrfit bifurcation
def _build_bifurcation(subparsers, parent):
    p_lo, p_hi = _default(bifurcation, "p_range")
    p = subparsers.add_parser(
        "bifurcation",
        parents=[parent],
        formatter_class=_formatter,
        help="bifurcation diagram in the input p (figure or JSON)",
        description=(
            "One-parameter bifurcation diagram of the column in the input p (/s): fixed points\n"
            "and their stability, Hopf points, folds and, unless --no-cycles, limit cycles and\n"
            "their folds (see jrfit.dynamics.bifurcation.bifurcation). The table of special points (p in\n"
            "/s, v in mV, frequency in Hz) is always printed."
        ),
        epilog=_param_table()
        + (
            "\n\nmu is not used: p is the bifurcation parameter.\n"
            "Output: .png/.pdf/.svg (the diagram) or .json (special points: type, p in /s,\n"
            "v in mV, frequency in Hz; fixed-point and cycle branch summaries).\n\n"
            "Example: jrfit bifurcation --set B=25 --out bif.png"
        ),
    )
    g = p.add_argument_group("diagram")
    g.add_argument(
        "--p-min", type=float, default=p_lo, metavar="P", help="lowest input p, in /s (default %(default)g /s)"
    )
    g.add_argument(
        "--p-max", type=float, default=p_hi, metavar="P", help="highest input p, in /s (default %(default)g /s)"
    )
    g.add_argument(
        "--no-cycles",
        action="store_true",
        help="skip limit cycles (fixed points, Hopf points and folds only: well under a second instead of 5-10 s)",
    )
    _add_params(p, shortcuts=False)
    _add_output(p, _BIF_EXTS, "figure or JSON")
    p.set_defaults(func=_run_bifurcation)


def _run_bifurcation(args):
    params = JRParams(**_param_changes(args))
    out, ext = _check_out(args.out, _BIF_EXTS, args.overwrite)
    bif = bifurcation(params, (args.p_min, args.p_max), cycles=not args.no_cycles)
    with atomic_path(out) as tmp:
        if ext == ".json":
            tmp.write_text(json.dumps(_bifurcation_dict(bif), indent=2, allow_nan=False) + "\n")
        else:
            _save_figure(bif.plot(), tmp, ext)
    sys.stdout.write(_points_table(bif) + "\n")
    logger.info(f"{bif!r} -> {out}")
    return 0


# ----------------------------------------------------------------------------
# jrfit fit-psd / report / demo
def _build_fit_psd(subparsers, parent):
    p = subparsers.add_parser(
        "fit-psd",
        parents=[parent],
        formatter_class=_formatter,
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
    g.add_argument("--fmin", type=float, default=2.0, metavar="HZ", help="lowest frequency, in Hz (default 2)")
    g.add_argument("--fmax", type=float, default=40.0, metavar="HZ", help="highest frequency, in Hz (default 40)")
    g.add_argument("--method", choices=("welch", "multitaper"), default="welch", help="PSD estimator")
    _add_reference(g)
    g.add_argument("--line-freq", default="auto", help="line-noise frequency: 'auto', 50, 60 or 'none'")
    g.add_argument(
        "--seg-length",
        type=float,
        default=None,
        metavar="S",
        help="segment length of the spectrum, in s (default 4: 0.25 Hz resolution)",
    )
    _add_cleaning(g)
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
        default=500,
        metavar="N",
        help="simulation route: SMC particles per chain (default 500)",
    )
    m.add_argument(
        "--sim-reps",
        type=int,
        default=8,
        metavar="N",
        help="simulation route: replicate simulations per parameter set (default 8)",
    )
    _add_overrides(p, "a,b,B")
    _add_sampler_args(p)
    p.set_defaults(func=_run_fit_psd, needs_caches=True)


def _add_cleaning(g):
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


_SEGMENT_KEYS = ("window", "ptp_factor", "flat_factor", "reject", "flat")


def _parse_bad_segments(text):
    """``--bad-segments``: 'auto', None for 'none', or a dict of thresholds."""
    spec = str(text).strip()
    if spec.lower() in ("auto", "none"):
        return None if spec.lower() == "none" else "auto"
    out = {}
    for item in spec.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key.strip() not in _SEGMENT_KEYS:
            raise JRFitError(
                f"--bad-segments expects 'auto', 'none' or KEY=VALUE items from "
                f"{', '.join(_SEGMENT_KEYS)} (e.g. ptp_factor=8), got {item.strip()!r}."
            )
        try:
            number = float(value)
        except ValueError:
            raise JRFitError(f"--bad-segments {key.strip()} must be a number, got {value!r}.") from None
        if not (math.isfinite(number) and number > 0):
            raise JRFitError(f"--bad-segments {key.strip()} must be positive, got {value!r}.")
        out[key.strip()] = number
    return out


def _parse_channel_types(items):
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


def _cleaning(args):
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
        bad_segments=_parse_bad_segments(args.bad_segments),
        channel_types=_parse_channel_types(args.channel_types),
    )


def _add_overrides(p, default_free):
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


def _overrides(args, base=None):
    """Priors from --fix/--free/--prior/--config, and the record of what was asked."""
    from jrfit.inference.overrides import overrides_record, parse_overrides

    given = dict(fix=args.fix, free=args.free, prior=args.prior, config=args.config)
    return parse_overrides(**given, base=base), overrides_record(**given)


def _record_overrides(result, record):
    """Store what was asked in the result's attributes (``fit_overrides``, JSON)."""
    text = json.dumps(record)
    for res in (result, *result.companions.values()):
        res.idata.attrs["fit_overrides"] = text
        if "posterior" in res.idata.groups():
            res.idata.posterior.attrs["fit_overrides"] = text


def _add_sampler_args(p):
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


def _parse_regions(items):
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


def _check_channels(args):
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


def _add_reference(g):
    g.add_argument(
        "--reference",
        default="none",
        help="'none' (default: keep the recording's; a single-column fit of a channel needs "
        "its own signal), 'average' (a share 1/N of each channel's power then comes from "
        "the other N-1: warned below 32 good channels, refused with 2), or channel names "
        "joined by ','",
    )


def _parse_reference(reference):
    """``--reference``: None for 'none', 'average', or a list of channel names."""
    if reference.strip().lower() == "none":
        return None
    if reference.strip().lower() == "average":
        return "average"
    return [c.strip() for c in reference.split(",")]


def _parse_number(flag, text, unit, scale=1.0):
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


def _parse_line(line):
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


def _fit_outputs(out_dir, stem, overwrite):
    """The result set of a fit (report, companion fits, NetCDF last), not yet checked or locked."""
    from jrfit.utils.outputs import OutputSet

    nc, html = Path(out_dir) / f"{stem}_jrfit.nc", Path(out_dir) / f"{stem}_report.html"
    c_nc, c_html = _companion_paths(nc, html, "simulation")
    return OutputSet(out_dir, [html.name, c_html.name, c_nc.name, nc.name], overwrite=overwrite)


def _sampler_config(default, args):
    """``default`` (a FitConfig) with the sampler options given on the command line."""
    import dataclasses

    given = dict(draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, seed=args.seed)
    if default.sampler != "pymc":  # ERP fits always use PyMC's sampler
        given["sampler"] = args.sampler
    return dataclasses.replace(default, **{k: v for k, v in given.items() if v is not None})


def _run_fit_psd(args):
    from pathlib import Path

    from jrfit.data.recording import prepare_spectrum
    from jrfit.inference.spectral import FitConfig
    from jrfit.inference.routes import fit_psd
    from jrfit.inference.simulation import SimulationConfig

    if not args.quiet:
        set_log_level("info")
    _check_channels(args)
    regions = _parse_regions(args.region)
    reference = _parse_reference(args.reference)
    line = _parse_line(args.line_freq)
    cleaning = _cleaning(args)
    config = _sampler_config(FitConfig(), args)
    priors, asked = _overrides(args)
    with _fit_outputs(args.out, Path(args.recording).stem, args.overwrite) as outputs:
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
        _record_overrides(result, asked)
        rc = _write_fit(result, outputs, "channels")
        shutil.rmtree(partial, ignore_errors=True)
        return rc


def _companion_paths(nc, html, name):
    """Where a companion fit (e.g. the simulation route's) is written beside the main result."""
    stem = nc.name[: -len("_jrfit.nc")]
    return nc.with_name(f"{stem}_{name}_jrfit.nc"), html.with_name(f"{stem}_{name}_report.html")


def _write_fit(result, outputs, what):
    """Write a fit result, its companions and their reports as one set; warn on stdout where a check failed."""
    from jrfit.report.html import make_report

    nc = outputs.primary
    html = nc.with_name(nc.name[: -len("_jrfit.nc")] + "_report.html")
    writers = {
        nc: lambda tmp: result.idata.to_netcdf(str(tmp)),
        html: lambda tmp: make_report(result.idata, tmp, overwrite=True, result_file=nc),
    }
    for name, companion in result.companions.items():
        c_nc, c_html = _companion_paths(nc, html, name)
        writers[c_nc] = lambda tmp, c=companion: c.idata.to_netcdf(str(tmp))
        writers[c_html] = lambda tmp, c=companion, f=c_nc: make_report(c.idata, tmp, overwrite=True, result_file=f)
    logger.info(f"Writing the results into {outputs.folder}")
    for path in outputs.commit(writers):
        sys.stdout.write(f"wrote {path}\n")
    routes = json.loads(result.idata.attrs.get("routes", "{}"))
    untrusted = [c for c, r in routes.items() if r.get("trusted") == "none"]
    if untrusted:
        sys.stdout.write(f"WARNING: no fit of {', '.join(untrusted)} is trusted (see the report's route table).\n")
    if not result.passed:
        sys.stdout.write(f"WARNING: some {what} failed their convergence diagnostics: see the report.\n")
    misfit = [ch for ch, a in getattr(result, "adequacy", {}).items() if not a.get("fits", True)]
    if misfit:
        sys.stdout.write(
            f"WARNING: the model does not fit the data of {', '.join(misfit)} "
            "(posterior-predictive check): see the report.\n"
        )
    return 0


def _build_fit_erp(subparsers, parent):
    p = subparsers.add_parser(
        "fit-erp",
        parents=[parent],
        formatter_class=_formatter,
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
    _add_reference(g)
    g.add_argument("--line-freq", default="auto", help="line-noise frequency: 'auto', 50, 60 or 'none'")
    g.add_argument("--decim", type=int, default=1, help="keep every k-th sample (default 1)")
    g.add_argument("--lowpass", default=None, metavar="HZ", help="low-pass cut-off in Hz, or 'none' (default 40)")
    g.add_argument(
        "--reject",
        default=None,
        metavar="UV",
        help="peak-to-peak rejection threshold of a trial, in uV, or 'none' (default 150)",
    )
    _add_cleaning(g)
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
    _add_overrides(p, "B,a,b")
    _add_sampler_args(p)
    p.set_defaults(func=_run_fit_erp, needs_caches=True)


def _run_fit_erp(args):
    from pathlib import Path

    from jrfit.inference.erp import ERP_CONFIG, fit_erp
    from jrfit.data.evoked import prepare_evoked
    from jrfit.inference.priors import make_erp_priors

    if not args.quiet:
        set_log_level("info")
    _check_channels(args)
    config = _sampler_config(ERP_CONFIG, args)
    priors, asked = _overrides(args, base=make_erp_priors(args.pulse, residuals=args.residuals))
    stem = Path(args.recording).name.split(".")[0]
    data = dict(
        tmin=args.tmin,
        tmax=args.tmax,
        picks=args.channels,
        regions=_parse_regions(args.region),
        reference=_parse_reference(args.reference),
        line_freq=_parse_line(args.line_freq),
        decim=args.decim,
        **_cleaning(args),
    )
    if args.lowpass is not None:
        data["h_freq"] = _parse_number("--lowpass", args.lowpass, "Hz")
    if args.reject is not None:
        data["reject"] = _parse_number("--reject", args.reject, "uV", scale=1e-6)
    with _fit_outputs(args.out, stem, args.overwrite) as outputs:
        logger.info(f"Loading {args.recording}")
        evokeds = prepare_evoked(args.recording, list(args.event) if args.event else None, **data)
        result = fit_erp(evokeds, priors=priors, config=config)
        _record_overrides(result, asked)
        return _write_fit(result, outputs, "fits")


def _build_report(subparsers, parent):
    p = subparsers.add_parser(
        "report",
        parents=[parent],
        formatter_class=_formatter,
        help="rebuild the HTML report of a saved result (.nc)",
        description="Rebuild the HTML report from a result saved by `jrfit fit-psd` (NetCDF).",
    )
    p.add_argument("result", help="RESULT.nc written by jrfit fit-psd")
    p.add_argument(
        "--out", default=None, metavar="FILE.html", help="report file (default: next to RESULT, *_report.html)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument(
        "--detail",
        choices=("auto", "full", "compact"),
        default="auto",
        help="per-channel sections: every figure (full), or verdicts, fit, parameters and "
        "diagnostics (compact); auto (default): full up to 8 channels",
    )
    p.set_defaults(func=_run_report)


def _run_report(args):
    from pathlib import Path

    from jrfit.report.html import make_report

    res = Path(args.result)
    if not res.is_file():
        raise JRFitError(f"Result file {res} not found: give the .nc written by `jrfit fit-psd`.")
    out = Path(args.out) if args.out else res.with_name(res.stem.removesuffix("_jrfit") + "_report.html")
    make_report(res, out, overwrite=args.overwrite, detail=args.detail)
    sys.stdout.write(f"wrote {out}\n")
    return 0


def _build_demo(subparsers, parent):
    p = subparsers.add_parser(
        "demo",
        parents=[parent],
        formatter_class=_formatter,
        help="fit the built-in example recording and write its report into reports/",
        description=(
            "Fit the built-in example (two channels simulated with jrfit at known parameters,\n"
            "with pink, white and 50 Hz noise; jr_example_raw.fif, shipped in the package\n"
            "folder jrfit/datasets) end to end and write the result and the report into\n"
            "--out (default reports/)."
        ),
    )
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run_demo, needs_caches=True)


def _run_demo(args):
    from jrfit.datasets.example import run_demo

    if not args.quiet:
        set_log_level("info")
    result, report = run_demo(args.out)
    sys.stdout.write(f"wrote {Path(args.out) / 'jr_example_fit.nc'}\nwrote {report}\n")
    return 0


# ----------------------------------------------------------------------------
# parser and entry point
_COMMANDS = (
    _build_simulate,
    _build_spectrum,
    _build_bifurcation,
    _build_fit_psd,
    _build_fit_erp,
    _build_report,
    _build_demo,
)


def build_parser():
    """The argument parser of ``jrfit`` (one sub-parser per command)."""
    parser = argparse.ArgumentParser(
        prog="jrfit",
        formatter_class=_formatter,
        description="Fit the Jansen-Rit neural-mass model to EEG: command-line tools. "
        "Units: time in s, rates in /s, noise in /s^0.5, potentials in mV, "
        "frequencies in Hz.",
        epilog="`jrfit <command> --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"jrfit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log progress (level 'info')")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="<command>", required=True)
    parent = _common_parent()
    for build in _COMMANDS:
        build(subparsers, parent)
    return parser


def _error(msg):
    """One line on stderr; a jrfit error in the command line's terms (its flags, not Python arguments)."""
    text = msg.for_cli() if isinstance(msg, JRFitError) else str(msg)
    sys.stderr.write(f"jrfit: error: {' '.join(text.split())}\n")


def _what_was_written(stop):
    """For a stop signal: nothing, or (arriving as or after the files were put in place) the whole set."""
    from jrfit.utils.outputs import completed

    written = getattr(stop, "written", None) or completed()
    if not written:
        return "nothing was written"
    return "the signal came as the results were put in place; the set is complete: " + ", ".join(map(str, written))


def main(argv=None):
    """Run the command line ``jrfit <command> ...``.

    Parameters
    ----------
    argv : list of str | None
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    code : int
        Exit status: 0 on success, 2 for invalid options or inputs (argparse's
        errors and every :class:`jrfit.errors.JRFitError`), 1 if a file could
        not be written, 130 if interrupted (SIGINT, Ctrl-C), 143 if
        terminated (SIGTERM). An interrupted or terminated fit writes nothing.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    from jrfit.utils.outputs import Terminated, handle_signals

    old_level = set_log_level("info" if args.verbose else None)
    try:
        with handle_signals():
            if getattr(args, "needs_caches", False):  # fits compile: name an unwritable cache before any work
                from jrfit.utils.caches import check_caches

                check_caches()
            return int(args.func(args) or 0)
    except JRFitError as exc:
        _error(exc)
        return 2
    except OSError as exc:
        _error(exc)
        return 1
    except Terminated as exc:
        _error(f"terminated (SIGTERM): {_what_was_written(exc)}")
        return 143
    except KeyboardInterrupt as exc:
        _error(f"interrupted: {_what_was_written(exc)}")
        return 130
    finally:
        set_log_level(old_level)
