"""Import layering: the model and simulator layers stand alone; plotting stays in viz and report.

The forward model (parameters, linearised spectra, simulators, dynamics,
networks) must be usable without MNE's data layer, the samplers or
matplotlib, and without importing the stages built on it. Objects may offer a
``.plot()`` method that imports :mod:`jrfit.viz` when called (as MNE's objects
do); nothing else in those layers may import an upper stage.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "jrfit"

LOWER = [
    "params",
    "model",
    "spectrum",
    "erp",
    "simulate",
    "dynamics",
    "network",
    "residuals",
    "_kernels",
    "_linear_kernel",
    "_network_kernels",
    "errors",
    "_check",
    "_logging",
]
UPPER = {
    "data",
    "evoked",
    "leakage",
    "inference",
    "erp_fit",
    "sim_fit",
    "simspec",
    "routes",
    "priors",
    "overrides",
    "adequacy",
    "report",
    "viz",
    "cli",
    "example",
    "_outputs",
    "_ops",
}
HEAVY = {"matplotlib", "pymc", "pytensor", "arviz", "nutpie", "mne"}
PLOTTING = {"viz", "report"}  # the only modules that may import matplotlib


def _imports(path):
    """(imported jrfit module or top-level package, enclosing function name or None) for every import."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.ImportFrom):
                if child.level:  # relative: from .x import y / from . import x
                    names = [child.module.split(".")[0]] if child.module else [a.name for a in child.names]
                    out.extend(("jrfit." + n, f) for n in names)
                else:
                    out.append((child.module.split(".")[0], f))
            elif isinstance(child, ast.Import):
                out.extend((a.name.split(".")[0], f) for a in child.names)
            visit(child, f)

    visit(tree, None)
    return out


@pytest.mark.parametrize("module", LOWER)
def test_lower_layers_import_no_upper_stage(module):
    bad = [
        (m, f)
        for m, f in _imports(PKG / f"{module}.py")
        if m.startswith("jrfit.") and m[6:] in UPPER and not (m == "jrfit.viz" and f and f.startswith("plot"))
    ]
    assert not bad, f"jrfit.{module} imports upper stages: {bad}"


def test_matplotlib_only_in_the_plotting_modules():
    users = sorted(
        p.stem for p in PKG.glob("*.py") if p.stem not in PLOTTING and any(m == "matplotlib" for m, _ in _imports(p))
    )
    assert users == [], f"modules other than {sorted(PLOTTING)} import matplotlib: {users}"


def test_importing_the_forward_model_loads_no_sampler_plotting_or_data_layer():
    code = (
        "import sys; import " + ", ".join(f"jrfit.{m}" for m in LOWER) + "\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(HEAVY)!r} or (m.startswith('jrfit.') and m[6:] in {sorted(UPPER)!r}))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], loaded


def test_the_scan_sees_a_forbidden_import(tmp_path):
    """The AST scan finds module-level and function-level imports of an upper stage (it can fail)."""
    f = tmp_path / "m.py"
    f.write_text(
        "from .inference import fit_spectrum\n\ndef g():\n    from . import report\n"
        "\ndef plot(self):\n    from .viz import plot_psd\n"
    )
    assert _imports(f) == [("jrfit.inference", None), ("jrfit.report", "g"), ("jrfit.viz", "plot")]
