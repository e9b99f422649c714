"""``jrfit simulate``: noise-driven columns, or a network of them, to .fif, .npz or .csv."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from jrfit.cli import options as opt
from jrfit.errors import JRFitError
from jrfit.model.params import JRParams
from jrfit.simulators.column import simulate
from jrfit.utils.atomic import atomic_path
from jrfit.utils.log import logger

_SIM_EXTS = (".fif", ".npz", ".csv")


def _channel_names(n):
    # the default of Simulation.to_raw, passed explicitly so .fif, .npz and .csv agree
    width = max(3, len(str(n - 1)))
    return [f"JR{i:0{width}d}" for i in range(n)]


def build(subparsers, parent):
    p = subparsers.add_parser(
        "simulate",
        parents=[parent],
        formatter_class=opt.formatter,
        help="simulate noise-driven columns (EEG proxy v = y1 - y2)",
        description=(
            "Simulate the EEG proxy v = y1 - y2 (mV) of noise-driven Jansen-Rit columns with\n"
            "input p(t) = mu + sigma xi(t) (mu in /s, sigma in /s^0.5), anti-alias filtered\n"
            "and decimated to --sfreq (see jrfit.simulators.column.simulate)."
        ),
        epilog=opt.param_table()
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
    _add_simulation_args(p.add_argument_group("simulation"))
    _add_network_args(
        p.add_argument_group("network (one column per region, coupled with delays; see jrfit.simulators.network)")
    )
    opt.add_params(p)
    o = opt.add_output(p, _SIM_EXTS, "the format", also=" and FIG")
    o.add_argument(
        "--plot",
        metavar="FIG",
        help=f"with --network: also save a figure of the simulated PSDs, coherence and "
        f"phase (Welch, 4 s segments; {', '.join(opt.FIG_EXTS)})",
    )
    p.set_defaults(func=run)


def _add_simulation_args(g):
    g.add_argument(
        "--duration", type=float, required=True, metavar="S", help="length of the output, in s (after the transient)"
    )
    g.add_argument(
        "--dt",
        type=float,
        default=opt.library_default(simulate, "dt"),
        metavar="S",
        help="integration step, in s (default %(default)g s); 1/(dt sfreq) must be an integer",
    )
    g.add_argument(
        "--sfreq",
        type=float,
        default=opt.library_default(simulate, "sfreq"),
        metavar="HZ",
        help="output sampling rate, in Hz (default %(default)g Hz)",
    )
    g.add_argument(
        "--transient",
        type=float,
        default=opt.library_default(simulate, "transient"),
        metavar="S",
        help="simulated and discarded time before the output, in s (default %(default)g s)",
    )
    g.add_argument(
        "--method",
        choices=("splitting", "euler"),
        default=opt.library_default(simulate, "method"),
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


def _add_network_args(n):
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


def _write_simulation(tmp, ext, sim, names, params, to_raw, **npz_extra):
    """Write a simulation to ``tmp`` as .fif (``to_raw()``, in V), .npz or .csv (mV)."""
    if ext == ".fif":
        with warnings.catch_warnings():
            # the temporary name never ends in raw.fif; any .fif name is accepted
            warnings.filterwarnings("ignore", message=".*does not conform to MNE naming")
            to_raw().save(tmp, overwrite=True, verbose=False)
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
            params=opt.params_record(params),
            **npz_extra,
        )
    else:
        header = ",".join(["time (s)"] + [f"{c} (mV)" for c in names])
        np.savetxt(
            tmp, np.column_stack([sim.times, sim.data.T]), delimiter=",", header=header, comments="", fmt="%.10g"
        )


def _run_network(args, changes):
    from jrfit.simulators.network import load_connectivity, simulate_network

    if args.global_coupling is None:
        raise JRFitError(
            "--network needs --global-coupling G (mV/s for --coupling seed, "
            "dimensionless for tvb; 0 gives independent columns)."
        )
    if args.n_columns != 1 or args.mu_range is not None:
        raise JRFitError("--n-columns and --mu-range cannot be used with --network (one column per region).")
    out, ext = opt.check_out(args.out, _SIM_EXTS, args.overwrite)
    fig_path = None
    if args.plot is not None:
        fig_path, fig_ext = opt.check_out(args.plot, opt.FIG_EXTS, args.overwrite, option="--plot")
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
        _write_simulation(
            stack.enter_context(atomic_path(out)),
            ext,
            sim,
            names,
            params,
            sim.to_raw,
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
        if fig_path is not None:
            spec = sim.cross_spectrum(seg=min(4.0, sim.duration))
            fig = spec.plot(
                fmax=min(45.0, sim.sfreq / 2),
                title=(
                    f"{conn.n_regions}-region network ({args.coupling} coupling, G = "
                    f"{args.global_coupling:g}, {args.speed:g} m/s): Welch estimate"
                ),
            )
            opt.write_figure(fig, stack.enter_context(atomic_path(fig_path)), fig_ext)
    logger.info(f"{sim!r} (seed={sim.seed}) -> {out}" + (f", {fig_path}" if fig_path else ""))
    return 0


def run(args):
    changes = opt.param_changes(args)
    if args.network is not None:
        return _run_network(args, changes)
    for flag, val in (("--global-coupling", args.global_coupling), ("--plot", args.plot)):
        if val is not None:
            raise JRFitError(f"{flag} needs --network CONNECTIVITY.")
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
    out, ext = opt.check_out(args.out, _SIM_EXTS, args.overwrite)

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
        _write_simulation(tmp, ext, sim, names, sim.params, lambda: sim.to_raw(ch_names=names))
    mu = np.ravel(sim.params.mu)
    mu_txt = f"{mu[0]:g}" if mu.min() == mu.max() else f"{mu.min():g}-{mu.max():g}"
    logger.info(
        f"Simulated {sim.n_columns} column(s) x {sim.duration:g} s at {sim.sfreq:g} Hz "
        f"(dt={sim.dt:g} s, {sim.method}, seed={sim.seed}, mu={mu_txt} /s, "
        f"sigma={float(np.ravel(sim.params.sigma)[0]):g} /s^0.5) -> {out}"
    )
    return 0
