"""Validity on data jrfit did not make: an independent simulator, several columns per file, the CLI defaults.

The recordings come from ``tests/independent.py`` (plain Euler-Maruyama at
20 us, no anti-alias filter, JR 1995 written out again), four independent
columns per file with C from 100 to 135 and dampings from 0.57 to 25 /s, and
are fitted exactly as a user runs ``jrfit fit-psd FILE --out DIR``.
"""

import json

import numpy as np
import pytest
from independent import damping, jacobian, simulate_column, write_fif

from jrfit.cli.app import main

SFREQ = 250.0

# stable foci found with independent.damping, each the column's only fixed point (a bistable
# column may sit on either branch, and the truth would be ambiguous); dampings 0.57-25 /s
TRUTHS = [
    # damping 0.57 /s next to a subcritical Hopf point (a limit cycle coexists): at sigma 0.3 the
    # column is visibly nonlinear (the auto check and the adequacy check both say so), at 0.15 not
    dict(C=123.8, a=107.7, b=47.3, B=28.75, mu=233.0, sigma=0.15),
    dict(C=131.8, a=107.6, b=46.4, B=23.6, mu=237.2, sigma=0.3),
    dict(C=125.5, a=98.6, b=46.6, B=26.08, mu=480.6, sigma=0.5),
    dict(C=119.5, a=94.9, b=52.5, B=26.09, mu=290.3, sigma=0.5),
    dict(C=119.1, a=90.8, b=48.0, B=26.73, mu=517.9, sigma=1.0),
    dict(C=128.6, a=99.9, b=53.7, B=20.61, mu=258.2, sigma=1.0),
    dict(C=112.7, a=96.4, b=47.6, B=29.74, mu=543.7, sigma=1.0),
    dict(C=115.9, a=109.2, b=48.4, B=23.23, mu=310.5, sigma=1.0),
    dict(C=135.0, a=96.4, b=52.5, B=18.48, mu=480.5, sigma=1.0),
    dict(C=109.5, a=91.7, b=49.0, B=20.94, mu=360.0, sigma=1.0),
    dict(C=122.3, a=107.1, b=52.5, B=24.55, mu=556.9, sigma=1.0),
    dict(C=100.0, a=103.3, b=52.0, B=27.37, mu=398.6, sigma=1.0),
]


def _consts(t):
    return {k: t[k] for k in ("C", "a", "b", "B")}


def _true_damping_and_peak(t):
    """Leading damping (/s) and the peak of |output (i w - J)^-1 input|^2 (Hz), upper fixed point."""
    ((v, J),) = jacobian(t["mu"], **_consts(t))  # the only fixed point
    d = float(-np.max(np.linalg.eigvals(J).real))
    f = np.arange(2.0, 40.0, 0.005)
    out = np.array([0, 1, -1, 0, 0, 0.0])
    inp = np.zeros(6)
    inp[4] = 1.0
    gain = np.array([out @ np.linalg.solve(2j * np.pi * fk * np.eye(6) - J, inp) for fk in f])
    return d, float(f[np.argmax(np.abs(gain))])


def _write_files(tmp_path, truths, per_file=4, duration=120.0):
    files = []
    for i in range(0, len(truths), per_file):
        cols = [
            simulate_column(duration, SFREQ, mu=t["mu"], sigma=t["sigma"], seed=100 + i + j, **_consts(t))
            for j, t in enumerate(truths[i : i + per_file])
        ]
        for col, t in zip(cols, truths[i : i + per_file]):
            fps = jacobian(t["mu"], **_consts(t))
            if len(fps) == 1 and t.get("stable", True):  # the truth holds only if the column stayed at its focus
                assert abs(col.mean() - fps[0][0]) < 0.5, (t, col.mean(), fps[0][0])
        fname = tmp_path / f"indep{i // per_file}_raw.fif"
        write_fif(fname, cols, SFREQ, noise_uv=2.0, seed=i)
        files.append((fname, truths[i : i + per_file]))
    return files


def _fit_cli(fname, out, *extra):
    rc = main(["fit-psd", str(fname), "--out", str(out), "--quiet", *extra])
    assert rc == 0
    import arviz as az

    return az.from_netcdf(out / f"{fname.stem}_jrfit.nc")


def _covers(x, truth):
    lo, hi = np.quantile(x, [0.05, 0.95])
    return bool(lo <= truth <= hi)


LIMIT_CYCLE = dict(C=135.0, a=100.0, b=50.0, B=22.0, mu=220.0, sigma=0.5, stable=False)  # JR 1995 alpha


@pytest.mark.slow
def test_recovery_and_per_channel_routes_on_independent_files_at_the_cli_defaults(tmp_path):
    """Three 4-channel files: a JR 1995 limit cycle beside 11 stable foci, fitted as a user runs it.

    The limit cycle must go to the simulation route alone (the rest stay on the linear route,
    among them a damping of 1 /s at small noise); the stable foci must be recovered.
    """
    import arviz as az

    truths = [LIMIT_CYCLE] + TRUTHS[:11]
    results, routed = [], []
    for fname, file_truths in _write_files(tmp_path, truths):
        # a short simulation-route run: this test checks where the limit cycle goes, not its SMC posterior
        idata = _fit_cli(fname, tmp_path, "--sim-draws", "40", "--sim-reps", "4")
        routes = json.loads(idata.attrs["routes"])
        diag = json.loads(idata.attrs["diagnostics"])
        checks = json.loads(idata.attrs["linear_check"])
        chans = json.loads(idata.attrs["channels"])
        assert len(chans) == len(file_truths)  # no channel dropped as bad
        for ch, t in zip(chans, file_truths):
            routed.append((t is LIMIT_CYCLE, routes[ch]["route"], checks[ch]["valid"], checks[ch]["reasons"]))
            if t is LIMIT_CYCLE:
                sim = az.from_netcdf(tmp_path / f"{fname.stem}_simulation_jrfit.nc")
                assert list(sim.posterior.coords["channel"].values) == [ch]
                assert (tmp_path / f"{fname.stem}_simulation_report.html").exists()
                continue
            post = idata.posterior.sel(channel=ch)
            d_true, f_true = _true_damping_and_peak(t)
            results.append(
                dict(
                    ch=f"{fname.stem}:{ch}",
                    passed=diag[ch]["passed"],
                    a=_covers(post["a"].values.ravel(), t["a"]),
                    b=_covers(post["b"].values.ravel(), t["b"]),
                    damping=_covers(post["damping"].values.ravel(), d_true),
                    d_true=d_true,
                    d_med=float(np.median(post["damping"])),
                    peak_err=float(np.median(post["peak_freq"]) - f_true),
                )
            )
    for r in results + routed:
        print(r)
    # both directions of the linearity check
    assert [route for lc, route, *_ in routed if lc] == ["simulation"]
    assert all(route == "linear" for lc, route, *_ in routed if not lc), routed
    n = len(results)
    cover = {k: sum(r[k] for r in results) for k in ("a", "b", "damping")}
    assert cover["a"] >= 0.8 * n and cover["damping"] >= 0.8 * n, cover  # measured 10 of 11 each (91 %)
    assert max(abs(r["peak_err"]) for r in results) <= 0.3  # measured 0.19 Hz at most
    # Not yet at the validity issue's targets (85 % coverage for b, 90 % passing the diagnostics):
    # measured b 7 of 11 and 9-10 of 11 passing (R-hat 1.011 or tail ESS just below 400 at dampings
    # of 1.5 and 2.5 /s). b's misses are a bias that shrinks with the recording: on TRUTHS[2] (120 s)
    # the median was 47.5-48.6 /s against 46.6 in 5 of 5 noise seeds (intervals +-1.6), and stayed
    # there with C fixed at its true value (48.7-49.7), without the aperiodic term (48.7), with a band
    # from 4 Hz (48.3) and with p's prior at the true input (47.9); from 1000 s it was 47.05 [46.21,
    # 48.43] (46.59 [46.04, 47.40] at a quarter of the noise). These bounds guard against a
    # regression from there; the issue stays open on them.
    assert cover["b"] >= 0.5 * n, cover
    assert sum(r["passed"] for r in results) >= 0.7 * n, [r["ch"] for r in results if not r["passed"]]


def test_independent_simulator_agrees_with_jrfit_on_the_fixed_point_damping():
    """Two implementations of the same equations: the damping of one stable focus."""
    from jrfit.model.column import eigenvalues
    from jrfit.model.params import JRParams

    t = TRUTHS[4]
    ((v, d),) = [fp for fp in damping(t["mu"], **_consts(t)) if fp[1] > 0][-1:]
    p = JRParams(**_consts(t))
    ev = eigenvalues(np.array([v]), JRParams(**{k: np.array([x]) for k, x in p.as_dict().items()}))
    assert -ev[0, 0].real == pytest.approx(d, rel=1e-6)
