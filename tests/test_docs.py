"""Every dotted jrfit name that the docstrings, messages, README and docs cite exists.

Modules move (the sub-package layout) and names are renamed; a reference such
as ``jrfit.inference.spectral.fit_spectrum`` in a docstring or an error message
must keep pointing at something a reader can import.
"""

import dataclasses
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"(?<![\w/])jrfit(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = (".nc", ".py", ".html", ".fif", ".json", ".toml", ".md", ".exe", ".egg")


def _resolve(ref):
    """The object ``ref`` names, or None (the longest importable module prefix, then attributes)."""
    parts = ref.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if dataclasses.is_dataclass(obj) and attr in {f.name for f in dataclasses.fields(obj)}:
                obj = dataclasses.fields(obj)[[f.name for f in dataclasses.fields(obj)].index(attr)]
            elif hasattr(obj, attr):
                obj = getattr(obj, attr)
            else:
                return None
        return obj
    return None


def _references(paths):
    for path in paths:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in DOTTED.finditer(line):
                ref = m.group(0).rstrip(".")
                if not ref.endswith(FILE_SUFFIXES):
                    yield ref, f"{path.relative_to(ROOT)}:{n}"


def test_every_cited_jrfit_name_resolves():
    paths = [*sorted((ROOT / "jrfit").rglob("*.py")), ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    missing = {}
    for ref, where in _references(paths):
        if _resolve(ref) is None:
            missing.setdefault(ref, []).append(where)
    assert missing == {}, f"cited names that do not exist: {missing}"


def test_the_scan_finds_a_stale_reference(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""See jrfit.model.spectrum.linear_psd and jrfit.spectrum.linear_psd; not a_jrfit.nc."""\n')
    found = [m.group(0) for m in DOTTED.finditer(f.read_text())]
    assert found == ["jrfit.model.spectrum.linear_psd", "jrfit.spectrum.linear_psd"], found
    assert _resolve(found[0]) is not None and _resolve(found[1]) is None
