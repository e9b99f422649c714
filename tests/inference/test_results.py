"""Results: the InferenceData and the provenance every route saves."""

import json

import numpy as np
import pytest

from jrfit.errors import FitError
from jrfit.inference.priors import SpectralPriors
from jrfit.inference.results import ATTRS_ORDER, FitResult, fit_attrs, inference_data, make_result, prior_group
from jrfit.inference.spectral import FitConfig


def _attrs(**specific):
    return fit_attrs(
        source=None,
        channels=["Oz"],
        preprocessing=[{"step": "spectrum"}],
        priors=SpectralPriors(),
        seed=3,
        sampler=dict(sampler="PyMC NUTS"),
        likelihood="linear (Whittle)",
        diagnostics={"Oz": {"passed": True}},
        adequacy={"Oz": {"fits": True}},
        regime={"Oz": {"focus": 1.0}},
        timings={"compile": 1.0, "Oz": 2.0},
        t_start=0.0,
        **specific,
    )


def test_attrs_are_written_in_one_order_text_and_numbers_as_they_are():
    attrs = _attrs(units="mV^2/Hz", thin=2, fmin=2.0, v_branch={"Oz": [-4.0, 14.0]}, kind="erp")
    assert list(attrs) == [k for k in ATTRS_ORDER if k in attrs]
    assert attrs["input_file"] == "" and attrs["seed"] == 3 and attrs["thin"] == 2 and attrs["units"] == "mV^2/Hz"
    assert json.loads(attrs["v_branch"]) == {"Oz": [-4.0, 14.0]}
    assert json.loads(attrs["channels"]) == ["Oz"]
    assert list(json.loads(attrs["timings_s"])) == ["compile", "Oz", "total"]
    assert json.loads(attrs["free_params"]) == list(SpectralPriors().free)


def test_make_result_puts_the_attrs_on_the_data_and_its_posterior(tmp_path):
    coords = dict(chain=np.arange(2), draw=np.arange(3), channel=["Oz"])
    groups = dict(
        posterior=({"a": (("chain", "draw", "channel"), np.ones((2, 3, 1)))}, coords),
        prior=prior_group({"a": np.arange(5.0)}),
    )
    attrs = _attrs(units="uV")
    res = make_result(groups, attrs, FitConfig(), SpectralPriors())
    assert isinstance(res, FitResult) and res.passed and res.fits
    assert dict(res.idata.posterior.attrs) == attrs == {k: res.idata.attrs[k] for k in attrs}
    assert res.idata.prior["a"].dims == ("chain", "draw") and res.idata.prior.sizes["draw"] == 5
    assert res.config["config"]["draws"] == FitConfig().draws
    res.save(tmp_path / "fit.nc")
    with pytest.raises(FitError, match="exists"):
        res.save(tmp_path / "fit.nc")
    assert list(inference_data(**groups).groups()) == ["posterior", "prior"]
