"""Simulation route: simulated spectra, synthetic likelihood, SMC fit, route choice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from inference.spectra import synthetic_likelihood as _sl

from jrfit import JRParams
from jrfit.data.spectrum import compute_spectrum, prepare_spectrum
from jrfit.inference.priors import SpectralPriors
from jrfit.inference.synthetic import WelchSettings, peak_frequency, simulated_psd
from jrfit.simulators.column import simulate

LC_TRUTH = JRParams(mu=220.0, sigma=2.0)  # between the Hopf points: the alpha limit cycle


@pytest.fixture(scope="module")
def lc_spectrum():
    sim = simulate(LC_TRUTH, 60.0, dt=1e-3, sfreq=250.0, seed=1)
    return prepare_spectrum(sim.to_raw(), reference=None, line_freq=None, verbose=False)


def _theta(ref, **kw):
    d = dict(a=100.0, b=50.0, B=22.0, p=220.0, sigma=2.0, scale=1.0 / ref, bg=1e-9, chi=1.5, floor=1e-9)
    d.update(kw)
    return np.array([d[k] for k in ("a", "b", "B", "p", "sigma", "scale", "bg", "chi", "floor")])


def test_simulated_psd_is_the_data_pipelines_spectrum():
    """Same simulation through compute_spectrum (the recording path) and simulated_psd."""
    sim = simulate(LC_TRUTH, 16.0, dt=1e-3, sfreq=250.0, transient=2.0, seed=3, streams=[0])
    spec = compute_spectrum(sim.to_raw(), fmin=2.0, fmax=40.0, exclude_line=False, verbose=False)
    psd, freqs = simulated_psd(LC_TRUTH, WelchSettings.from_spectrum(spec), 16.0, n_rep=1, seed=3)
    np.testing.assert_allclose(freqs, spec.freqs)
    np.testing.assert_allclose(psd[0, 0], spec.psd[0], rtol=1e-9)


def test_common_random_numbers_and_batches(lc_spectrum):
    sl, ref = _sl(lc_spectrum, n_rep=4, rep_duration=8.0)
    t1, t2 = _theta(ref), _theta(ref, p=250.0, B=20.0)
    a, b = sl(t1)[0], sl(t2)[0]
    assert sl(t1)[0] == a  # deterministic: the same noise for every evaluation
    np.testing.assert_allclose(sl(np.stack([t1, t2])), [a, b], rtol=1e-12)
    other, _ = _sl(lc_spectrum, n_rep=4, rep_duration=8.0, seed=5)
    assert other(t1)[0] != a
    bad = _theta(ref, sigma=-1.0)
    assert sl(bad)[0] == -np.inf


def test_synthetic_likelihood_prefers_the_truth(lc_spectrum):
    sl, ref = _sl(lc_spectrum)
    at_truth = sl(_theta(ref))[0]
    for kw in (dict(p=150.0), dict(p=320.0), dict(B=18.0), dict(B=26.0), dict(a=85.0)):
        assert sl(_theta(ref, **kw))[0] < at_truth - 5, kw


def test_truncated_p_prior_is_refused(lc_spectrum):
    import dataclasses

    from jrfit.errors import FitError
    from jrfit.inference.priors import NormalPrior
    from jrfit.inference.simulation import build_sim_model

    sl, _ = _sl(lc_spectrum, n_rep=3, rep_duration=4.0)
    priors = dataclasses.replace(SpectralPriors(), p=NormalPrior(200.0, 100.0, lower=0.0))
    with pytest.raises(FitError, match="LogNormalPrior"):
        build_sim_model(sl, priors)


def test_model_potential_equals_the_batched_values(lc_spectrum):
    """The per-particle PyMC likelihood and the kernel's batched one agree."""
    from jrfit.inference.simulation import _BatchLoglik, build_sim_model

    sl, _ = _sl(lc_spectrum, n_rep=4, rep_duration=8.0)
    priors = SpectralPriors()
    model = build_sim_model(sl, priors)
    rng = np.random.default_rng(0)
    names = [v.name for v in model.value_vars]
    values = {n: 0.1 * rng.standard_normal(3) for n in names}
    values["p_log__"] = np.log([200.0, 230.0, 260.0])  # log-normal prior: log-transformed
    values["log_scale"] = np.log(np.array([1.0, 2.0, 0.5]))
    batch = _BatchLoglik(sl, priors)(values)
    expr = model.replace_rvs_by_values([model.potentials[0]])[0]
    fn = model.compile_fn(expr, inputs=model.value_vars, point_fn=True)
    single = [float(fn({n: values[n][i] for n in names})) for i in range(3)]
    np.testing.assert_allclose(batch, single, rtol=1e-10)


def test_peak_frequency_interpolates():
    f = np.arange(0, 40, 0.25)
    psd = np.exp(-0.5 * ((f - 10.1) / 1.0) ** 2)
    assert peak_frequency(f, psd) == pytest.approx(10.1, abs=0.01)


@pytest.mark.slow
def test_limit_cycle_recovery_and_linear_route_flagged(lc_spectrum, tmp_path):
    from jrfit.inference.routes import check_linear
    from jrfit.inference.simulation import SimulationConfig, fit_spectrum_sim
    from jrfit.inference.spectral import FitConfig, fit_spectrum

    res = fit_spectrum_sim(lc_spectrum, config=SimulationConfig(draws=150, chains=2, cores=2, seed=0))
    post = res.idata.posterior
    for name, truth in (("p", 220.0), ("B", 22.0)):
        lo, hi = np.quantile(post[name].values, [0.05, 0.95])
        assert lo <= truth <= hi, f"{name}: {truth} outside [{lo:.3g}, {hi:.3g}]"
    pp = res.idata.posterior_predictive["psd_mean"].isel(channel=0).median(("chain", "draw")).values
    f_pp = res.idata.posterior_predictive["freq"].values
    data_peak = peak_frequency(lc_spectrum.freqs, lc_spectrum.psd[0])
    assert abs(peak_frequency(f_pp, pp) - data_peak) < 0.5
    assert abs(np.median(post["peak_freq"].values) - data_peak) < 0.5
    sim = json.loads(res.idata.attrs["simulation"])
    print("simulation route:", res.diagnostics, sim["simulations"], json.loads(res.idata.attrs["timings_s"]))
    from jrfit.report.html import make_report

    html = make_report(res.idata, tmp_path / "sim.html", cycles=False).read_text()
    assert "simulation (synthetic likelihood, SMC)" in html and "no fixed point assumed" in html
    # the linear route on the same data is flagged, not reported as good (short chains: on a limit
    # cycle the linear posterior presses against the stability boundary and NUTS trajectories run to
    # the maximum tree depth; the check needs the posterior's location, not a converged fit)
    lin = fit_spectrum(lc_spectrum, config=FitConfig(draws=100, tune=150, chains=2, cores=2), progress=False)
    check = check_linear(lin, lc_spectrum)["JR000"]
    print("linear route check:", {k: v for k, v in check.items() if not k.startswith(("psd", "freqs"))})
    assert not check["valid"] and check["reasons"]


@pytest.mark.slow
def test_routes_agree_at_a_stable_point():
    """Example channel O2 (a stable focus): both routes' medians lie in the other's 90 % interval."""
    from jrfit.datasets.example import example_path
    from jrfit.inference.routes import fit_psd
    from jrfit.inference.simulation import SimulationConfig
    from jrfit.inference.spectral import FitConfig

    spec = prepare_spectrum(example_path(), reference=None, verbose=False).pick(["O2"])
    lin = fit_psd(spec, likelihood="auto", config=FitConfig(cores=2), progress=False)
    assert lin.idata.attrs["route"] == "linear", lin.idata.attrs["route_reason"]
    assert "psd_simulated" in lin.idata.posterior_predictive
    sim = fit_psd(
        spec, likelihood="simulation", sim_config=SimulationConfig(draws=150, chains=2, cores=2), progress=False
    )
    for name in ("a", "b"):  # the rate constants: what a spectrum identifies (docs/model.md, section 6)
        x, y = lin.idata.posterior[name].values.ravel(), sim.idata.posterior[name].values.ravel()
        lo_x, med_x, hi_x = np.quantile(x, [0.05, 0.5, 0.95])
        lo_y, med_y, hi_y = np.quantile(y, [0.05, 0.5, 0.95])
        print(name, (lo_x, med_x, hi_x), (lo_y, med_y, hi_y))
        assert lo_y <= med_x <= hi_y and lo_x <= med_y <= hi_x, name
    peaks = [float(np.median(r.idata.posterior["peak_freq"].values)) for r in (lin, sim)]
    print("peak frequency (Hz), linear vs simulation route:", peaks, "truth 9.60")
    assert abs(peaks[0] - peaks[1]) < 0.5


def test_simulation_route_is_reproducible(lc_spectrum):
    from jrfit.inference.simulation import SimulationConfig, fit_spectrum_sim

    cfg = SimulationConfig(draws=40, chains=1, cores=1, n_rep=3, rep_duration=8.0, seed=7, n_ppc=5)
    a = fit_spectrum_sim(lc_spectrum, config=cfg, progress=False).idata.posterior
    b = fit_spectrum_sim(lc_spectrum, config=cfg, progress=False).idata.posterior
    for name in ("p", "B", "sigma"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_multitaper_spectrum_is_refused(lc_spectrum):
    from jrfit.errors import FitError

    raw = simulate(LC_TRUTH, 20.0, dt=1e-3, sfreq=250.0, seed=1).to_raw()
    spec = compute_spectrum(raw, method="multitaper", verbose=False)
    with pytest.raises(FitError, match="welch"):
        WelchSettings.from_spectrum(spec)


def test_cli_rejects_an_unknown_likelihood(capsys):
    from jrfit.cli.app import main

    assert main(["fit-psd", "rec.edf", "--likelihood", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
