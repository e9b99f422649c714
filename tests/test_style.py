"""The code is linted and formatted by ruff with the settings in pyproject.toml."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["jrfit", "tests", "benchmarks"]


def _ruff(*args):
    if os.environ.get("CI") != "true":  # the test extras install ruff; CI must run these
        pytest.importorskip("ruff")
    return subprocess.run([sys.executable, "-m", "ruff", *args, *PATHS], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_passes():
    res = _ruff("check", "--output-format", "concise")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format_is_applied():
    res = _ruff("format", "--check")
    assert res.returncode == 0, "run `ruff format jrfit tests benchmarks`:\n" + res.stdout + res.stderr
