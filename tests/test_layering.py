"""Import layering: the package reads as the data flow, and each stage only uses the ones below it.

The forward model (``jrfit.model``), the simulators and the dynamics must be
usable without MNE's data layer, the samplers or matplotlib, and without
importing the stages built on them. Objects may offer a ``.plot()`` method that
imports :mod:`jrfit.viz` when called (as MNE's objects do); nothing else in
those layers may import an upper stage. Private names (``_x``) stay inside
their sub-package.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "jrfit"

LOWER = ["model", "simulators", "dynamics", "utils"]  # sub-packages that stand alone
UPPER = {"data", "inference", "viz", "report", "cli", "datasets"}
HEAVY = {"matplotlib", "pymc", "pytensor", "arviz", "nutpie", "mne"}
PLOTTING = {"viz", "report"}  # the only sub-packages that may import matplotlib


def _imports(path):
    """(imported module, imported names, enclosing function name or None) for every import in a file."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.ImportFrom):
                assert not child.level, f"{path}: relative import (jrfit imports absolutely, from jrfit.<stage>)"
                out.append((child.module, [a.name for a in child.names], f))
            elif isinstance(child, ast.Import):
                out.extend((a.name, [], f) for a in child.names)
            visit(child, f)

    visit(tree, None)
    return out


def _stage(module):
    """Sub-package of a dotted jrfit module ('jrfit.model.column' -> 'model'), else None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jrfit" and len(parts) > 1 else None


def _files(stage):
    return sorted((PKG / stage).rglob("*.py"))


def test_every_module_lives_in_a_stage():
    loose = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert loose == [], f"modules outside the sub-packages: {loose}"


@pytest.mark.parametrize("stage", LOWER)
def test_lower_layers_import_no_upper_stage(stage):
    bad = [
        (p.relative_to(PKG).as_posix(), m, f)
        for p in _files(stage)
        for m, _, f in _imports(p)
        if _stage(m) in UPPER and not (_stage(m) == "viz" and f and f.startswith("plot"))
    ]
    assert not bad, f"jrfit.{stage} imports upper stages: {bad}"


def test_no_private_name_crosses_a_sub_package():
    crossing = [
        (p.relative_to(PKG).as_posix(), m, n)
        for p in PKG.rglob("*.py")
        for m, names, _ in _imports(p)
        for n in names
        if _stage(m) and len(p.relative_to(PKG).parts) > 1 and _stage(m) != p.relative_to(PKG).parts[0]
        if n.startswith("_") and not n.startswith("__")
    ]
    assert crossing == [], f"private names imported from another sub-package: {crossing}"


def test_matplotlib_only_in_the_plotting_stages():
    users = sorted(
        p.relative_to(PKG).as_posix()
        for p in PKG.rglob("*.py")
        if p.relative_to(PKG).parts[0] not in PLOTTING
        and any(m.split(".")[0] == "matplotlib" for m, _, _ in _imports(p))
    )
    assert users == [], f"modules outside {sorted(PLOTTING)} import matplotlib: {users}"


def test_importing_the_forward_model_loads_no_sampler_plotting_or_data_layer():
    modules = [
        f"jrfit.{p.relative_to(PKG).with_suffix('').as_posix().replace('/', '.')}" for s in LOWER for p in _files(s)
    ]
    code = (
        "import sys; import " + ", ".join(m.removesuffix(".__init__") for m in modules) + "\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(HEAVY)!r} or (m.startswith('jrfit.') and m.split('.')[1] in {sorted(UPPER)!r}))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], loaded


def test_the_scan_sees_a_forbidden_import(tmp_path):
    """The AST scan finds module-level and function-level imports of an upper stage (it can fail)."""
    f = tmp_path / "m.py"
    f.write_text(
        "from jrfit.inference.spectral import fit_spectrum\n\ndef g():\n    from jrfit.report import html\n"
        "\ndef plot(self):\n    from jrfit.viz.figures import _close\n"
    )
    found = _imports(f)
    assert found == [
        ("jrfit.inference.spectral", ["fit_spectrum"], None),
        ("jrfit.report", ["html"], "g"),
        ("jrfit.viz.figures", ["_close"], "plot"),
    ]
    assert [_stage(m) for m, _, _ in found] == ["inference", "report", "viz"]
