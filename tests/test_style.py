"""The code is linted and formatted by ruff with the settings in pyproject.toml."""

import ast
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


MAX_BODY_LINES = 80  # per function, docstring excluded; ruff's C901 caps complexity at 15


def _is_kernel(func):
    """A numba kernel (jit-compiled loops read best whole): exempt from the length limit."""
    return any("jit" in ast.unparse(d).lower() for d in func.decorator_list)


def _long_functions(root):
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_kernel(node):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            n = body[-1].end_lineno - body[0].lineno + 1 if body else 0
            if n > MAX_BODY_LINES:
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_no_function_is_longer_than_the_limit():
    long = _long_functions(ROOT / "jrfit")
    assert long == [], f"functions over {MAX_BODY_LINES} lines (split them): {long}"


def test_the_length_scan_sees_a_long_function_and_exempts_kernels(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_BODY_LINES + 1))
    (pkg / "m.py").write_text(f'def f():\n    """Doc."""\n{body}\n\n@nb.njit(cache=True)\ndef k():\n{body}')
    assert _long_functions(pkg) == [f"pkg/m.py:1 f ({MAX_BODY_LINES + 1} lines)"]
