"""Tests of the command line (jrfit.cli.app), run in-process through ``main``.

Every output is read back and compared with the library function the command
wraps, at the same parameters.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pytest

from jrfit import JRParams, __version__
from jrfit.cli.app import main
from jrfit.model.spectrum import linear_psd
from jrfit.simulators.column import simulate


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _strict_json(path):
    """Parse JSON, rejecting NaN/Infinity (not valid JSON)."""

    def bad(const):
        raise AssertionError(f"non-standard JSON constant {const}")

    return json.loads(path.read_text(), parse_constant=bad)


# ----------------------------------------------------------------------------
# simulate
def test_simulate_fif_roundtrip(tmp_path, capsys, recwarn):
    out = tmp_path / "sim.fif"  # not *_raw.fif: accepted, without MNE's naming warning
    code, _, err = _run(
        capsys,
        "simulate",
        "--duration",
        2,
        "--mu-range",
        60,
        80,
        "--n-columns",
        3,
        "--seed",
        1,
        "--sfreq",
        200,
        "--out",
        out,
    )
    assert (code, err) == (0, "")
    assert not [w for w in recwarn if "naming" in str(w.message)]
    assert [p.name for p in tmp_path.iterdir()] == ["sim.fif"]  # no temporary left
    raw = mne.io.read_raw_fif(out, preload=True, verbose="error")
    assert raw.info["sfreq"] == 200.0
    assert raw.ch_names == ["JR000", "JR001", "JR002"]
    assert raw.get_channel_types() == ["eeg"] * 3
    ref = simulate(JRParams(mu=np.linspace(60.0, 80.0, 3)), 2.0, sfreq=200.0, seed=1)
    data = raw.get_data()
    assert data.shape == (3, 400)
    # MNE stores volts (float32 in the file): the library's mV times 1e-3
    assert np.abs(ref.data).max() > 1.0  # so that mV stored as V could not pass
    np.testing.assert_allclose(data, ref.data * 1e-3, rtol=1e-6, atol=1e-12)


def test_simulate_npz_params_and_log(tmp_path, capsys, caplog):
    out = tmp_path / "sim.npz"
    level = logging.getLogger("jrfit").level
    with caplog.at_level(logging.INFO, logger="jrfit"):
        code, _, err = _run(
            capsys,
            "simulate",
            "--duration",
            1,
            "--mu",
            70,
            "--sigma",
            2,
            "--set",
            "A=3.5",
            "b=55",
            "--n-columns",
            2,
            "--seed",
            3,
            "--dt",
            2.5e-4,
            "--transient",
            0.5,
            "-v",
            "--out",
            out,
        )
    assert code == 0, err
    assert logging.getLogger("jrfit").level == level  # -v is undone after the call
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Simulated")]
    assert len(summary) == 1 and "\n" not in summary[0]
    assert "2 column(s)" in summary[0] and "seed=3" in summary[0]
    f = np.load(out)  # no pickle needed
    params = JRParams(mu=[70.0, 70.0], sigma=2.0, A=3.5, b=55.0)
    ref = simulate(params, 1.0, dt=2.5e-4, transient=0.5, seed=3)
    np.testing.assert_array_equal(f["data"], ref.data)  # mV
    np.testing.assert_array_equal(f["times"], ref.times)  # s
    assert float(f["sfreq"]) == 250.0 and float(f["dt"]) == 2.5e-4
    assert int(f["seed"]) == 3 and str(f["method"]) == "splitting"
    assert list(f["ch_names"]) == ["JR000", "JR001"]
    rec = f["params"]
    assert rec.shape == (2,)
    assert JRParams(**{k: rec[k] for k in rec.dtype.names}) == params
    assert not np.allclose(f["data"][0], f["data"][1])  # independent noise per column


def test_simulate_csv_and_verbose_after_command(tmp_path, capsys, caplog):
    out = tmp_path / "sim.csv"
    with caplog.at_level(logging.INFO, logger="jrfit"):
        code, _, err = _run(
            capsys,
            "simulate",
            "--duration",
            0.5,
            "--mu",
            330,
            "--seed",
            0,
            "--method",
            "euler",
            "--dt",
            1e-4,
            "--out",
            out,
            "-v",
        )
    assert code == 0, err
    assert any(r.getMessage().startswith("Simulated 1 column") for r in caplog.records)
    lines = out.read_text().splitlines()
    assert lines[0] == "time (s),JR000 (mV)"
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    ref = simulate(JRParams(mu=330.0), 0.5, dt=1e-4, method="euler", seed=0)
    np.testing.assert_allclose(table[:, 0], ref.times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table[:, 1], ref.data[0], rtol=1e-9)


# ----------------------------------------------------------------------------
# spectrum
def test_spectrum_csv_matches_linear_psd(tmp_path, capsys):
    out = tmp_path / "psd.csv"
    code, _, err = _run(
        capsys,
        "spectrum",
        "--mu",
        80,
        "--sigma",
        3,
        "--set",
        "B=22.5",
        "--fmin",
        1,
        "--fmax",
        30,
        "--n-freqs",
        117,
        "--out",
        out,
    )
    assert (code, err) == (0, "")
    assert out.read_text().splitlines()[0] == "freq (Hz),psd (mV^2/Hz)"
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    freqs = np.linspace(1.0, 30.0, 117)
    np.testing.assert_allclose(table[:, 0], freqs, rtol=1e-12)
    expected = linear_psd(freqs, JRParams(mu=80.0, sigma=3.0, B=22.5))
    np.testing.assert_allclose(table[:, 1], expected, rtol=1e-8)


def test_spectrum_npz_lower_branch_and_plot(tmp_path, capsys):
    out, fig = tmp_path / "psd.npz", tmp_path / "psd.png"
    code, _, err = _run(capsys, "spectrum", "--mu", 50, "--branch", "lower", "--out", out, "--plot", fig)
    assert (code, err) == (0, "")
    f = np.load(out)
    params = JRParams(mu=50.0)  # bistable: two stable fixed points
    np.testing.assert_allclose(f["psd"], linear_psd(f["freqs"], params, branch="lower"), rtol=1e-12)
    assert not np.allclose(f["psd"], linear_psd(f["freqs"], params, branch="upper"))
    assert f["freqs"][0] == 2.0 and f["freqs"][-1] == 40.0  # default band, Hz
    assert float(f["v"]) < 0 and str(f["branch"]) == "lower"
    assert float(f["params"]["mu"]) == 50.0
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spectrum_on_limit_cycle_fails_cleanly(tmp_path, capsys):
    code, out, err = _run(
        capsys, "spectrum", "--mu", 220, "--out", tmp_path / "psd.csv", "--plot", tmp_path / "psd.png"
    )
    assert code == 2 and out == ""
    assert err.startswith("jrfit: error:") and err.count("\n") == 1
    for text in ("limit cycle", "mu = 220 /s", "jrfit bifurcation", "jrfit simulate"):
        assert text in err
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------
# bifurcation
def test_bifurcation_json_with_cycles(tmp_path, capsys):
    out = tmp_path / "bif.json"
    code, stdout, err = _run(capsys, "bifurcation", "--out", out)
    assert (code, err) == (0, "")
    d = _strict_json(out)
    assert d["units"]["p"] == "/s" and d["units"]["frequency"] == "Hz"
    hopf = [pt for pt in d["special_points"] if pt["type"] == "hopf"]
    h = min(hopf, key=lambda pt: abs(pt["p"] - 89.83))
    assert h["p"] == pytest.approx(89.83, abs=0.05)
    assert h["frequency"] == pytest.approx(10.4, abs=0.05)
    assert h["criticality"] == "supercritical"
    lpc = [pt for pt in d["special_points"] if pt["type"] == "fold_cycles"]
    assert len(lpc) == 1 and lpc[0]["p"] == pytest.approx(137.38, abs=0.05)
    assert {c["kind"] for c in d["cycle_branches"]} == {"alpha limit cycle", "spike-like cycle"}
    assert d["fixed_point_branches"] and all(b["segments"] for b in d["fixed_point_branches"])
    # the table of special points is printed
    assert "89.829" in stdout and "137.379" in stdout and "fold_cycles" in stdout


def test_bifurcation_figure_and_range(tmp_path, capsys):
    fig = tmp_path / "bif.svg"
    code, stdout, err = _run(
        capsys, "bifurcation", "--no-cycles", "--p-min", 0, "--p-max", 200, "--set", "B=22", "--out", fig
    )
    assert (code, err) == (0, "")
    assert "<svg" in fig.read_text()[:2000]
    rows = [ln.split() for ln in stdout.splitlines()[2:]]
    assert [r[0] for r in rows] == ["hopf", "fold"]  # only the points in [0, 200] /s
    assert float(rows[0][1]) == pytest.approx(89.83, abs=0.05)


# ----------------------------------------------------------------------------
# help, version, errors, overwrite
def test_fit_help_reference_and_overrides(capsys):
    for command in ("fit-psd", "fit-erp"):
        code, out, _ = _run(capsys, command, "--help")
        assert code == 0
        assert "'none' (default: keep the recording's" in " ".join(out.split())
        for opt in ("--fix NAME=VALUE", "--free NAMES", "--prior NAME=DIST:X:SD", "--config FILE.toml"):
            assert opt in out, (command, opt)


@pytest.mark.parametrize(
    "command, units",
    [
        ("simulate", ("in s", "/s", "/s^0.5", "mV", "Hz")),
        ("spectrum", ("Hz", "mV^2/Hz", "/s", "/s^0.5", "mV")),
        ("bifurcation", ("/s", "mV", "Hz")),
    ],
)
def test_help_mentions_units(capsys, command, units):
    code, out, _ = _run(capsys, command, "--help")
    assert code == 0
    for unit in units:
        assert unit in out, unit


def test_version_and_missing_command(capsys):
    code, out, _ = _run(capsys, "--version")
    assert (code, out.strip()) == (0, f"jrfit {__version__}")
    code, _, err = _run(capsys)
    assert code == 2 and "required" in err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["simulate", "--duration", "1", "--set", "Q=1"], "Unknown parameter 'Q'"),
        (["simulate", "--duration", "1", "--set", "A=abc"], "'abc' is not a number (A is in mV)"),
        (["simulate", "--duration", "1", "--set", "A"], "expected NAME=VALUE"),
        (["simulate", "--duration", "1", "--mu", "80", "--set", "mu=90"], "set twice"),
        (["simulate", "--duration", "1", "--dt", "-1"], "'dt' must be finite and > 0 (in s)"),
        (["simulate", "--duration", "1", "--sfreq", "300"], "integer multiple"),
        (["simulate", "--duration", "1", "--mu-range", "80", "100"], "--n-columns of 2 or more"),
        (["simulate", "--duration", "1", "--n-columns", "0"], "--n-columns must be"),
        (["spectrum", "--mu", "80", "--fmin", "10", "--fmax", "5"], "0 <= fmin < fmax"),
        (["spectrum", "--mu", "80", "--set", "a=0"], "JRParams.a"),
        (["bifurcation", "--no-cycles", "--p-min", "100", "--p-max", "50"], "'p_range'"),
    ],
)
def test_bad_options_exit_2_without_output(tmp_path, capsys, argv, match):
    ext = {"simulate": ".npz", "spectrum": ".csv", "bifurcation": ".json"}[argv[0]]
    code, out, err = _run(capsys, *argv, "--out", tmp_path / f"x{ext}")
    assert code == 2
    assert err.startswith("jrfit: error:") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, match",
    [
        (["simulate", "--duration", "1", "--out", "{tmp}/x.xyz"], "Unknown extension '.xyz'"),
        (["bifurcation", "--out", "{tmp}/x.csv"], "allowed are .json, .png, .pdf, .svg"),
        (["spectrum", "--mu", "80", "--out", "{tmp}/x.csv", "--plot", "{tmp}/x.gif"], "of --plot"),
        (["spectrum", "--mu", "80", "--out", "{tmp}/missing/x.csv"], "does not exist"),
    ],
)
def test_bad_output_paths(tmp_path, capsys, argv, match):
    code, _, err = _run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and err.startswith("jrfit: error:") and match in err, err
    assert list(tmp_path.iterdir()) == []


def test_argparse_errors_return_2(tmp_path, capsys):
    code, _, err = _run(capsys, "simulate", "--duration", "1", "--dt", "abc", "--out", tmp_path / "x.npz")
    assert code == 2 and "invalid float value" in err
    code, _, err = _run(capsys, "spectrum", "--branch", "middle", "--out", tmp_path / "x.csv")
    assert code == 2 and "invalid choice" in err
    assert list(tmp_path.iterdir()) == []


def test_overwrite(tmp_path, capsys):
    out = tmp_path / "psd.csv"
    assert _run(capsys, "spectrum", "--mu", 80, "--out", out)[0] == 0
    first = out.read_bytes()
    code, _, err = _run(capsys, "spectrum", "--mu", 70, "--out", out)
    assert code == 2 and "--overwrite" in err
    assert out.read_bytes() == first
    assert _run(capsys, "spectrum", "--mu", 70, "--out", out, "--overwrite")[0] == 0
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], linear_psd(table[:, 0], JRParams(mu=70.0)), rtol=1e-8)
    # an existing --plot figure is protected too, and then nothing is written
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"old")
    code, _, err = _run(capsys, "spectrum", "--mu", 80, "--out", tmp_path / "new.csv", "--plot", fig)
    assert code == 2 and "--plot" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "psd.csv"]


def test_failure_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    import jrfit.viz
    from jrfit.errors import JRFitError

    def broken(*args, **kwargs):
        raise JRFitError("figure failed")

    monkeypatch.setattr(jrfit.viz, "plot_psd", broken)
    code, _, err = _run(capsys, "spectrum", "--mu", 80, "--out", tmp_path / "psd.csv", "--plot", tmp_path / "psd.png")
    assert code == 2 and "figure failed" in err
    assert list(tmp_path.iterdir()) == []  # the CSV written before is rolled back


def test_python_m_jrfit(tmp_path):
    res = subprocess.run([sys.executable, "-m", "jrfit", "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == f"jrfit {__version__}"
    res = subprocess.run(
        [sys.executable, "-m", "jrfit", "spectrum", "--out", "psd.csv"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("jrfit: error: No stable fixed point at mu = 220 /s")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------
# fit-psd / report
def test_fit_psd_writes_result_and_report_then_report_rebuilds(tmp_path, capsys):
    import arviz as az

    from jrfit.datasets.example import make_example_recording

    rec = make_example_recording(tmp_path / "ex_raw.fif")
    out = tmp_path / "res"
    cfg = tmp_path / "fit.toml"
    cfg.write_text('[fit]\nfree = ["a", "b", "B", "C"]\n[fit.prior]\nB = "lognormal:22:0.3"\n')
    # default reference (the recording's); --fix on the command line overrides the file's free C
    code = main(
        [
            "fit-psd",
            str(rec),
            "--channels",
            "O1",
            "--likelihood",
            "linear",
            "--config",
            str(cfg),
            "--fix",
            "C=120",
            "--draws",
            "30",
            "--tune",
            "30",
            "--chains",
            "2",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    nc = out / "ex_raw_jrfit.nc"
    html = out / "ex_raw_report.html"
    assert nc.is_file() and html.is_file()
    idata = az.from_netcdf(nc)
    assert list(idata.posterior["channel"].values) == ["O1"]
    assert idata.attrs["input_file"].endswith("ex_raw.fif")
    # what was used is in the result: fixed values, free set, priors, the file and its content
    priors = json.loads(idata.attrs["priors"])
    assert priors["fixed"]["C"] == 120.0 and list(priors["jr"]) == ["a", "b", "B"]
    assert priors["jr"]["B"] == {"median": 22.0, "sd": 0.3}
    assert json.loads(idata.attrs["free_params"]) == ["a", "b", "B"]
    asked = json.loads(idata.attrs["fit_overrides"])
    assert asked["fix"] == ["C=120"] and asked["config"]["text"] == cfg.read_text()
    assert asked["config"]["path"] == str(cfg.resolve())
    ref = next(r for r in json.loads(idata.attrs["preprocessing"]) if r["step"] == "reference")
    assert ref["params"]["reference"] is None and ref["mixing_share"] == 0.0
    # too short to converge: the result says so
    assert "WARNING" in capsys.readouterr().out
    html.unlink()
    assert main(["report", str(nc)]) == 0
    assert html.is_file() and "O1" in html.read_text()


def test_fit_psd_bad_input_leaves_nothing(tmp_path, capsys):
    from jrfit.datasets.example import make_example_recording

    out = tmp_path / "res"
    assert main(["fit-psd", str(tmp_path / "missing.edf"), "--out", str(out)]) == 2
    assert "missing.edf" in capsys.readouterr().err
    assert not out.exists()
    # the average reference of the example's 2 channels would make them copies: refused
    rec = make_example_recording(tmp_path / "ex_raw.fif")
    assert main(["fit-psd", str(rec), "--reference", "average", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "reference='average' with the 2 good EEG channels" in err and "--reference none" in err
    assert "reference=None" not in err  # the command line names its flag, not the Python argument
    assert not out.exists()
    assert main(["report", str(tmp_path / "missing.nc")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--line-freq", "fifty"], "--line-freq expects 'auto', 'none' or a frequency"),
        (["--line-freq", "-50"], "--line-freq must be a positive frequency"),
        (["--channels", "O1", "O1"], "--channels lists O1 more than once"),
        (["--region", "=O1,O2"], "--region expects NAME=CH1,CH2"),
        (["--region", "occ=O1,O2", "--region", "occ=O2"], "--region 'occ' is given twice"),
        (["--bad-segments", "ptp=3"], "--bad-segments expects 'auto', 'none' or KEY=VALUE"),
        (["--bad-segments", "ptp_factor=x"], "--bad-segments ptp_factor must be a number"),
        (["--channel-types", "O1"], "--channel-types expects CH=TYPE"),
        (["--channel-types", "Nope=eeg"], "--channel-types names Nope, which"),
        (["--seg-length", "100"], "Use a shorter --seg-length (e.g."),
    ],
)
def test_fit_psd_option_mistakes_are_one_clear_error(tmp_path, capsys, extra, match):
    from jrfit.datasets.example import make_example_recording

    rec = make_example_recording(tmp_path / "ex_raw.fif")
    out = tmp_path / "res"
    assert main(["fit-psd", str(rec), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert not out.exists()


def test_fit_psd_recording_after_the_channel_list(tmp_path, capsys):
    """`--channels O1 O2 rec.fif`: the recording is not swallowed into the channel names."""
    from jrfit.datasets.example import make_example_recording

    rec = make_example_recording(tmp_path / "ex_raw.fif")
    out = tmp_path / "res"
    # stops at the first check that needs the parsed recording: an output that exists already
    out.mkdir()
    (out / "ex_raw_jrfit.nc").write_text("")
    assert main(["fit-psd", "--out", str(out), "--channels", "O1", "O2", str(rec)]) == 2
    assert "ex_raw_jrfit.nc exists" in capsys.readouterr().err  # the stem came from the recording
    assert main(["fit-psd", "--out", str(out), "--channels", "O1", "O2"]) == 2
    assert "No recording given" in capsys.readouterr().err


def test_keep_bad_channels_reaches_preprocessing(tmp_path, monkeypatch):
    import jrfit.data.spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.errors import JRFitError as Stop

    seen = {}

    def fake_prepare(*args, **kwargs):
        seen.update(kwargs)
        raise Stop("stop")

    monkeypatch.setattr(jrfit.data.spectrum, "prepare_spectrum", fake_prepare)
    rec = make_example_recording(tmp_path / "ex_raw.fif")
    main(["fit-psd", str(rec), "--out", str(tmp_path / "a"), "--quiet"])
    assert seen["bad_channels"] == "auto"
    main(["fit-psd", str(rec), "--out", str(tmp_path / "b"), "--quiet", "--keep-bad-channels"])
    assert seen["bad_channels"] is None
    main(["fit-psd", str(rec), "--out", str(tmp_path / "b"), "--quiet", "--keep-channel", "O1", "--keep-channel", "O2"])
    assert seen["bad_channels"] == dict(keep=["O1", "O2"])
    seen.clear()
    assert (
        main(["fit-psd", str(rec), "--out", str(tmp_path / "b"), "--keep-channel", "O1", "--keep-bad-channels"]) == 2
        and not seen
    )  # refused before loading


def test_cleaning_and_erp_options_reach_the_library(tmp_path, monkeypatch):
    """--seg-length, --bad-segments, --channel-types (fit-psd); --reject, --lowpass (fit-erp)."""
    import jrfit.data.evoked
    import jrfit.data.spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.errors import JRFitError as Stop

    seen = {}

    def fake(*args, **kwargs):
        seen.clear()
        seen.update(kwargs)
        raise Stop("stop")

    monkeypatch.setattr(jrfit.data.spectrum, "prepare_spectrum", fake)
    monkeypatch.setattr(jrfit.data.evoked, "prepare_evoked", fake)
    rec = make_example_recording(tmp_path / "ex_raw.fif")
    out = str(tmp_path / "o")
    main(["fit-psd", str(rec), "--out", out, "--quiet"])
    assert seen["bad_segments"] == "auto" and seen["channel_types"] is None and "seg_length" not in seen
    main(
        [
            "fit-psd",
            str(rec),
            "--out",
            out,
            "--quiet",
            "--seg-length",
            "2",
            "--bad-segments",
            "ptp_factor=8,window=2",
            "--channel-types",
            "O1=eeg,O2=eeg",
            "--channel-types",
            "X=misc",
        ]
    )
    assert seen["seg_length"] == 2.0 and seen["bad_segments"] == dict(ptp_factor=8.0, window=2.0)
    assert seen["channel_types"] == {"O1": "eeg", "O2": "eeg", "X": "misc"}
    main(["fit-psd", str(rec), "--out", out, "--quiet", "--bad-segments", "none"])
    assert seen["bad_segments"] is None
    main(["fit-erp", str(rec), "--out", out, "--quiet"])
    assert "reject" not in seen and "h_freq" not in seen  # the library's defaults
    main(["fit-erp", str(rec), "--out", out, "--quiet", "--reject", "100", "--lowpass", "none"])
    assert seen["reject"] == pytest.approx(100e-6) and seen["h_freq"] is None


def test_channel_types_from_the_command_line(tmp_path, capsys):
    """EEG typed as misc: the error names --channel-types; with it, the channels are EEG again."""
    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.datasets.example import make_example_recording
    from jrfit.errors import DataError

    raw = mne.io.read_raw_fif(make_example_recording(tmp_path / "ex_raw.fif"), preload=True, verbose=False)
    with pytest.warns(RuntimeWarning, match="unit"):
        raw.set_channel_types({ch: "misc" for ch in raw.ch_names}, verbose=False)
    fname = tmp_path / "misc_raw.fif"
    raw.save(fname, verbose=False)
    assert main(["fit-psd", str(fname), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--channel-types Cz=eeg" in err and "channel_types=" not in err
    with pytest.raises(DataError, match=r"channel_types=\{'Cz': 'eeg'\}"):
        prepare_spectrum(fname, verbose=False)
    spec = prepare_spectrum(fname, channel_types={"O1": "eeg", "O2": "eeg"}, verbose=False)
    assert list(spec.ch_names) == ["O1", "O2"]
    assert mne.io.read_raw_fif(fname, verbose=False).get_channel_types() == ["misc", "misc"]  # file untouched


def _env_with_home(home, **extra):
    """The environment of a subprocess whose home is ``home``, with jrfit still importable."""
    import os
    import site

    import jrfit

    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "XDG_CACHE_HOME")}
    paths = [str(Path(jrfit.__file__).parents[1]), site.getusersitepackages(), env.get("PYTHONPATH", "")]
    env.update(
        HOME=str(home),
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        MPLCONFIGDIR=str(home.parent / "mpl"),
        **extra,
    )
    return env


def test_unwritable_caches_are_named_before_any_work(tmp_path):
    """A home that cannot hold caches: the error names the cache and how to move it, exit 2."""
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    cmd = [sys.executable, "-m", "jrfit", "fit-psd", "missing.edf", "--out", str(tmp_path / "o")]
    run = subprocess.run(cmd, capture_output=True, text=True, env=_env_with_home(home), timeout=300)
    assert run.returncode == 2, run.stderr
    assert "PyTensor's compile cache" in run.stderr and "PYTENSOR_FLAGS=base_compiledir=" in run.stderr
    assert "Traceback" not in run.stderr
    env = _env_with_home(home, PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'pt'}")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 2 and "ArviZ's cache folder" in run.stderr and "XDG_CACHE_HOME" in run.stderr
    assert not (tmp_path / "o").exists()


def test_fit_psd_shows_the_library_defaults():
    """The band and simulation-route defaults of `jrfit fit-psd` are those of the library functions it calls."""
    import inspect

    from jrfit.cli import fit_psd
    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.simulation import SimulationConfig

    sig = inspect.signature(prepare_spectrum).parameters
    assert (fit_psd._FMIN, fit_psd._FMAX) == (sig["fmin"].default, sig["fmax"].default)
    assert (fit_psd._SIM_DRAWS, fit_psd._SIM_REPS) == (SimulationConfig().draws, SimulationConfig().n_rep)
