"""An installed wheel is self-contained: the built-in example and py.typed travel in it.

A wheel is built from a copy of the source tree and installed (without its
dependencies, which the test's own environment provides) into a fresh venv;
from a folder outside the repository, the venv must import the wheel's jrfit,
not the checkout or an editable install, read the example recording that the
wheel ships, and run ``jrfit demo`` end to end (fit and report of the example).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
SHIPPED = (
    "jrfit/datasets/__init__.py",
    "jrfit/datasets/jr_example_raw.fif",
    "jrfit/datasets/jr_example_truth.json",
    "jrfit/py.typed",
)


def _has_build_backend():
    """Whether this interpreter has every build requirement of pyproject.toml (then no isolated build is needed)."""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    for req in map(Requirement, requires):
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            return False
        if not req.specifier.contains(installed, prereleases=True):
            return False
    return True


def _run(cmd, timeout=300, **kw):
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert run.returncode == 0, f"{cmd}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run.stdout


@pytest.mark.slow  # the demo fits two channels (about 1.5 min on two cores)
def test_the_wheel_ships_the_example_and_runs_from_outside_the_repository(tmp_path):
    # build from a copy: an in-tree build would leave build/ in the checkout, and a
    # stale build/lib there would carry files that the tree no longer has into the wheel
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".pytest_cache",
            ".benchmarks",
            "reports",
            ".venv",
            ".whl",
            ".gl",
        ),
    )
    wheels = tmp_path / "wheels"
    # the build requirements come from this environment when it has them, else from the package index
    isolation = ["--no-build-isolation"] if _has_build_backend() else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("jrfit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert set(SHIPPED) <= names, sorted(names)
        assert zf.read("jrfit/datasets/jr_example_raw.fif") == (REPO / "jrfit/datasets/jr_example_raw.fif").read_bytes()
        assert zf.read("jrfit/py.typed") == b""

    # a venv that sees this environment's packages (numpy, mne, pip, ...) but holds its own jrfit
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_dirs = _run([str(py), "-c", "import site; print('\\n'.join(site.getsitepackages()))"]).splitlines()
    own_site = Path(site_dirs[0])
    assert own_site.is_relative_to(venv), site_dirs
    if sys.prefix != sys.base_prefix:
        # tests run from a venv: --system-site-packages reaches the base interpreter's
        # packages, not this venv's; add this one's after the new venv's own folder
        outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
        (own_site / "_outer_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in outer))
    # --ignore-installed: an editable jrfit of the same version visible through the
    # system site-packages would otherwise count as already installed
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)])

    # outside the repository, with nothing on PYTHONPATH that could bring the checkout back
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(MPLCONFIGDIR=str(tmp_path / "mpl"))
    probe = (
        "import mne, jrfit\n"
        "from jrfit.datasets.example import example_path, make_example_recording\n"
        "raw = mne.io.read_raw_fif(example_path(), verbose=False)\n"
        "before = example_path().stat().st_mtime_ns\n"
        "made = make_example_recording()  # what jrfit demo fits\n"
        "print(jrfit.__file__, example_path(), made, before == made.stat().st_mtime_ns, ' '.join(raw.ch_names),\n"
        "      sep='\\n')\n"
    )
    out = _run([str(py), "-c", probe], cwd=cwd, env=env).splitlines()
    init, path, made, kept, chans = Path(out[0]), Path(out[1]), Path(out[2]), out[3], out[4]
    assert init.is_relative_to(own_site), init
    assert not init.resolve().is_relative_to(REPO) and not init.resolve().is_relative_to(src), init
    assert path == init.parent / "datasets" / "jr_example_raw.fif" and path.is_file()
    assert (path.parent / "jr_example_truth.json").is_file() and (init.parent / "py.typed").is_file()
    assert made == path and kept == "True"  # the shipped recording is used, not rebuilt
    assert chans == "O1 O2"

    script = venv / ("Scripts/jrfit.exe" if os.name == "nt" else "bin/jrfit")
    helptext = _run([str(script), "demo", "--help"], cwd=cwd, env=env)
    assert "built-in example" in helptext and "jrfit/datasets" in helptext

    # the main job, as a user runs it after `pip install`: from another folder, into ./reports
    out = _run([str(script), "demo", "--quiet"], cwd=cwd, env=env, timeout=1200)
    written = sorted(p.name for p in (cwd / "reports").iterdir())
    assert written == ["jr_example_fit.nc", "jr_example_report.html"], (written, out)
    assert f"wrote {Path('reports') / 'jr_example_fit.nc'}" in out
