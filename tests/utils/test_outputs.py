"""Faults and interruptions of `jrfit fit-psd`, run as a user runs it (a subprocess).

SIGTERM, SIGINT and SIGKILL are delivered at the stage markers the command
logs (loading, compiling, sampling, writing); each run must leave either the
complete result set or none of it, and a rerun must complete. Two runs into
one folder: one result and one refusal before the second fits anything.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from jrfit.datasets.example import make_example_recording

ARGS = [
    "--channels",
    "O2",
    "--draws",
    "60",
    "--tune",
    "60",
    "--chains",
    "2",
    "--cores",
    "2",
    "--likelihood",
    "linear",
    "--seed",
    "3",
]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_example_recording(tmp_path_factory.mktemp("rec") / "example_raw.fif")


def _launch(recording, out, *extra):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "jrfit", "fit-psd", str(recording), "--out", str(out), *ARGS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(proc, marker, timeout=300):
    """Read stderr until a line contains ``marker``; the lines read."""
    lines, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    proc.kill()
    raise AssertionError(f"no {marker!r} in the output: {''.join(lines)}")


def _results(out):
    """The result files in ``out`` (visible ones, lock and temporaries excluded)."""
    return sorted(p.name for p in out.glob("*") if not p.name.startswith("."))


def _finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


COMPLETE = ["example_raw_jrfit.nc", "example_raw_report.html"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, marker, code",
    [
        (signal.SIGTERM, "Loading", 143),
        (signal.SIGINT, "Loading", 130),
        (signal.SIGTERM, "Compiling the spectral model", 143),
        (signal.SIGINT, "Compiling the spectral model", 130),
        (signal.SIGTERM, "Fitting 1 channel", 143),
        (signal.SIGINT, "Fitting 1 channel", 130),
    ],
)
def test_signal_at_a_stage_leaves_nothing_and_says_so(recording, tmp_path, sig, marker, code):
    proc = _launch(recording, tmp_path)
    _wait_for(proc, marker)
    if "Fitting" in marker:
        time.sleep(2.0)  # well into the initialisation or sampling
    proc.send_signal(sig)
    rc, _, err = _finish(proc)
    assert rc == code, err
    assert "Traceback" not in err, err
    assert "nothing was written" in err
    assert _results(tmp_path) == []
    assert not list(tmp_path.glob(".*")), list(tmp_path.glob(".*"))  # no lock, no temporary left


@pytest.mark.slow
def test_kill_at_each_stage_then_rerun_completes(recording, tmp_path):
    """SIGKILL (no clean-up possible) while loading, compiling and sampling, one run after the other in
    one folder: none leaves a result, each next run takes over the dead one's lock, the last completes."""
    for marker in ("Loading", "Compiling the spectral model", "Fitting 1 channel"):
        proc = _launch(recording, tmp_path)
        _wait_for(proc, marker)
        if "Fitting" in marker:
            time.sleep(2.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert _results(tmp_path) == [], marker
    rc, _, err = _finish(_launch(recording, tmp_path))
    assert rc == 0, err
    assert _results(tmp_path) == COMPLETE
    assert not list(tmp_path.glob(".*"))  # the dead runs' lock and checkpoints are gone


@pytest.mark.slow
def test_signals_while_writing_leave_all_or_nothing_and_a_rerun_completes(recording, tmp_path):
    """SIGTERM, SIGINT and SIGKILL once the results are being written: the set is whole or absent."""
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)):
        left = _results(tmp_path)
        proc = _launch(recording, tmp_path, *(["--overwrite"] if left else []))
        _wait_for(proc, "Writing the results")
        proc.send_signal(sig)
        rc, _, err = _finish(proc)
        left = _results(tmp_path)
        if sig == signal.SIGKILL:  # no clean-up: the NetCDF (moved last) marks a complete set
            assert "example_raw_jrfit.nc" not in left or left == COMPLETE, left
            continue
        assert left in ([], COMPLETE), (sig, left)  # all or nothing: the renames hold the signal back
        # stopped before the set was in place, or as it was put in place (then said so), or after
        assert (
            (rc == code and left == [] and "nothing was written" in err)
            or (rc == code and left == COMPLETE and "the set is complete" in err)
            or (rc == 0 and left == COMPLETE)
        ), (sig, rc, err)
        assert "Traceback" not in err, err
        # no lock, no temporary; the finished channel's checkpoint stays for a rerun to resume from
        hidden = [q.name for q in tmp_path.glob(".*")]
        assert hidden in ([], [".example_raw.partial"]), hidden
    # the rerun takes over the killed run's lock and replaces what it left
    left = _results(tmp_path)
    rc, out, err = _finish(_launch(recording, tmp_path, *(["--overwrite"] if left == COMPLETE else [])))
    assert rc == 0, err
    assert _results(tmp_path) == COMPLETE
    assert not list(tmp_path.glob(".*"))


@pytest.mark.slow
def test_two_runs_into_one_folder(recording, tmp_path):
    first = _launch(recording, tmp_path)
    _wait_for(first, "Loading")
    t0 = time.monotonic()
    rc2, _, err2 = _finish(_launch(recording, tmp_path))
    refused_after = time.monotonic() - t0
    rc1, _, err1 = _finish(first)
    assert rc1 == 0, err1
    assert rc2 == 2 and "Another jrfit run" in err2 and str(tmp_path) in err2, err2
    assert "Compiling" not in err2 and "Fitting" not in err2  # refused before any work
    print(f"second run refused after {refused_after:.1f} s")
    assert _results(tmp_path) == COMPLETE


def test_unwritable_folder_is_refused_before_any_work(recording, tmp_path, monkeypatch, capsys):
    """The folder's writability is checked before loading (a permission error names the folder)."""
    import jrfit.data.spectrum
    import jrfit.utils.outputs
    from jrfit.cli.app import main

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    def must_not_load(*args, **kwargs):
        raise AssertionError("loaded the recording before checking the output folder")

    monkeypatch.setattr(jrfit.utils.outputs.tempfile, "mkstemp", denied)
    monkeypatch.setattr(jrfit.data.spectrum, "prepare_spectrum", must_not_load)
    rc = main(["fit-psd", str(recording), "--out", str(tmp_path), "--quiet", *ARGS])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"Cannot write into the output folder {tmp_path}" in err and "--out" in err
    assert _results(tmp_path) == []


def test_a_live_lock_is_refused_and_a_stale_one_taken_over(tmp_path):
    from jrfit.errors import JRFitError
    from jrfit.utils.outputs import OutputSet

    with OutputSet(tmp_path, ["r.html", "r.nc"]) as held:
        with pytest.raises(JRFitError, match="Another jrfit run"):
            OutputSet(tmp_path, ["r.html", "r.nc"]).check().acquire()
        lock = held._lock
        assert lock.exists()
    assert not lock.exists()
    # a lock left by a process that no longer exists
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{dead.pid} {__import__('socket').gethostname()}\n")
    (tmp_path / ".r.nc.abc.tmp.nc").write_text("half")  # its temporary
    with OutputSet(tmp_path, ["r.html", "r.nc"]) as outputs:
        written = outputs.commit(
            {tmp_path / "r.nc": lambda t: t.write_text("x"), tmp_path / "r.html": lambda t: t.write_text("y")}
        )
    assert [p.name for p in written] == ["r.html", "r.nc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.nc"]


def test_a_failing_writer_leaves_no_file(tmp_path):
    from jrfit.utils.outputs import OutputSet

    def broken(tmp):
        tmp.write_text("partial")
        raise OSError("disk full")

    with OutputSet(tmp_path, ["r.html", "r.nc"]) as outputs:
        with pytest.raises(OSError, match="disk full"):
            outputs.commit({tmp_path / "r.html": lambda t: t.write_text("y"), tmp_path / "r.nc": broken})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_terminated_run_resumes_from_its_finished_channels(recording, tmp_path):
    """SIGTERM after the first of two channels: the rerun reuses that channel's fit, draw for draw."""
    import pickle

    import arviz as az

    both = [a for a in ARGS if a not in ("--channels", "O2")]
    assert len(both) == len(ARGS) - 2
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "jrfit", "fit-psd", str(recording), "--out", str(tmp_path), *both]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for(proc, "  O1: peak")
    proc.send_signal(signal.SIGTERM)
    rc, _, err = _finish(proc)
    assert rc == 143, err
    assert _results(tmp_path) == []
    saved = list(tmp_path.glob(".example_raw.partial/*.pkl"))
    assert len(saved) == 1  # O1 kept
    with open(saved[0], "rb") as f:
        kept = pickle.load(f)
    assert kept["channel"] == "O1"
    # mark the kept draws: a refit (same seed, same draws) could not produce the mark
    kept["bundle"]["arrays"]["a"] = kept["bundle"]["arrays"]["a"] + 1e-6
    with open(saved[0], "wb") as f:
        pickle.dump(kept, f)
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "O1: resumed" in rerun.stderr and "O2: resumed" not in rerun.stderr
    assert _results(tmp_path) == COMPLETE
    assert not list(tmp_path.glob(".*"))  # the partial folder is gone once the set is written
    resumed = az.from_netcdf(tmp_path / COMPLETE[0]).posterior.sel(channel="O1")
    for name in ("a", "b", "damping"):  # the kept channel's (marked) draws, not a refit
        assert (resumed[name].values == kept["bundle"]["arrays"][name]).all(), name


def test_a_signal_during_the_renames_waits_until_the_set_is_complete(tmp_path, monkeypatch):
    """SIGTERM between the report's and the NetCDF's rename: delivered after both, naming them."""
    import jrfit.utils.outputs as outputs_mod
    from jrfit.utils.outputs import OutputSet, Terminated, handle_signals

    real_replace, calls = os.replace, []

    def replace_then_signal(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 1:  # the first file is in place, the primary not yet
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(outputs_mod.os, "replace", replace_then_signal)
    with handle_signals(), pytest.raises(Terminated) as info:
        with OutputSet(tmp_path, ["r.html", "r.nc"]) as out:
            out.commit(
                {tmp_path / "r.nc": lambda t: t.write_text("x"), tmp_path / "r.html": lambda t: t.write_text("y")}
            )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.nc"]  # whole, lock released
    assert [p.name for p in info.value.written] == ["r.html", "r.nc"]


def test_a_signal_after_the_set_is_in_place_says_it_is_complete(tmp_path, monkeypatch, capsys):
    """SIGTERM after the results were written (while the run tidies up): exit 143, and the set is named."""
    import jrfit.cli.app as cli
    from jrfit.utils.outputs import OutputSet

    def run(args):
        with OutputSet(tmp_path, ["r.html", "r.nc"]) as out:
            out.commit(
                {tmp_path / "r.nc": lambda t: t.write_text("x"), tmp_path / "r.html": lambda t: t.write_text("y")}
            )
        os.kill(os.getpid(), signal.SIGTERM)  # e.g. while the checkpoints are removed
        time.sleep(1.0)
        return 0

    def build(subparsers, parent):  # a command whose run writes a set, then is terminated
        subparsers.add_parser("report", parents=[parent]).set_defaults(func=run)

    monkeypatch.setattr(cli, "_COMMANDS", (build,))
    assert cli.main(["report"]) == 143
    err = capsys.readouterr().err
    assert "the set is complete" in err and "r.nc" in err and "nothing was written" not in err
