"""The top-level namespace: a small public API, documented, that imports nothing heavy until used."""

import re
import subprocess
import sys
from pathlib import Path

import jrfit

README = Path(__file__).resolve().parents[1] / "README.md"
HEAVY = ("mne", "pymc", "pytensor", "arviz", "nutpie", "matplotlib")


def test_every_public_name_resolves_and_is_documented():
    for name in jrfit.__all__:
        obj = getattr(jrfit, name)
        if callable(obj) and name != "__version__":
            doc = obj.__doc__ or ""
            assert doc.strip(), f"jrfit.{name} has no docstring"
            if not isinstance(obj, type) or not issubclass(obj, Exception):
                assert "Parameters" in doc or "Attributes" in doc, f"jrfit.{name}: numpydoc sections missing"


def test_the_cli_fit_psd_calls_the_public_fit_psd(tmp_path, monkeypatch):
    """`jrfit fit-psd` hands the prepared spectrum to jrfit.fit_psd (the documented entry point)."""
    import jrfit.inference.routes
    from jrfit.cli import main
    from jrfit.datasets.example import example_path

    assert jrfit.fit_psd is jrfit.inference.routes.fit_psd
    calls = []

    class Called(Exception):
        pass

    def fake(spectrum, **kw):
        calls.append((spectrum, kw))
        raise Called

    monkeypatch.setattr(jrfit.inference.routes, "fit_psd", fake)
    try:
        main(["fit-psd", str(example_path()), "--out", str(tmp_path), "--quiet"])
    except Called:
        pass
    ((spectrum, kw),) = calls
    assert isinstance(spectrum, jrfit.ObservedSpectrum) and tuple(spectrum.ch_names) == ("O1", "O2")
    assert kw["likelihood"] == "auto"


def test_readme_lists_the_public_api():
    text = README.read_text()
    section = text[text.index("## Python API") :]
    section = section[: section.index("\n## ", 4)]
    listed = set(re.findall(r"`jrfit\.(\w+)`", section))
    public = {n for n in jrfit.__all__ if n != "__version__"}
    assert listed == public, (sorted(public - listed), sorted(listed - public))


def test_import_jrfit_loads_no_heavy_dependency():
    code = f"import sys, jrfit; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], loaded


def test_an_unknown_name_raises_attribute_error():
    try:
        jrfit.fit_everything  # noqa: B018
    except AttributeError as err:
        assert "fit_everything" in str(err)
    else:
        raise AssertionError("jrfit.fit_everything resolved")
