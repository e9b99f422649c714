"""Tests of the result-reading helpers of jrfit.viz.results (no matplotlib) and of the shared docstrings."""

import subprocess
import sys

import numpy as np
import pytest

import jrfit.viz
from jrfit.errors import JRFitError
from jrfit.model.params import PARAM_INFO
from jrfit.viz import results


def test_units_and_meanings():
    assert results.unit_of("v") == "mV" and results.unit_of("bg") == "mV\u00b2/Hz"
    assert results.meaning_of("damping") == "distance to the stability boundary (> 0: stable)"
    for name, info in PARAM_INFO.items():  # the JR constants: from PARAM_INFO
        assert results.unit_of(name) == info["unit"] and results.meaning_of(name) == info["meaning"]
    assert results.unit_of("nope") == "" and results.meaning_of("nope") == ""
    assert results._label("a") == f"a ({PARAM_INFO['a']['unit']})" and results._label("chi") == "chi"


def test_observation_variables_keep_their_order():
    assert results._OBS_VARS == (
        "v", "p", "scale", "bg", "chi", "floor", "amplitude", "latency", "onset", "width", "gain", "offset", "noise"
    )  # fmt: skip
    assert not set(results._OBS_VARS) & set(results._DERIVED_VARS)


def test_top_pairs_by_absolute_correlation():
    corr = np.array([[1.0, 0.2, -0.9], [0.2, 1.0, 0.5], [-0.9, 0.5, 1.0]])
    assert results.top_pairs(["x", "y", "z"], corr, 2) == [("x", "z", -0.9), ("y", "z", 0.5)]


def test_empty_var_names_are_refused():
    class Fake:
        attrs = {}

    with pytest.raises(JRFitError, match="var_names"):
        results.resolve_var_names(Fake(), [])


def test_the_helpers_load_no_matplotlib():
    code = "import sys, jrfit.viz.results; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("name", jrfit.viz.__all__)
def test_shared_docstring_entries_are_filled(name):
    doc = getattr(jrfit.viz, name).__doc__
    assert "%(" not in doc and (name == "save_figure" or "fig : matplotlib.figure.Figure" in doc)
