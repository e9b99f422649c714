"""Spectral fit: gradients, recovery on data with known truth, real recordings."""

import json
import warnings

import numpy as np
import pytest
from inference.spectra import synthetic as _synthetic

from jrfit import JRParams
from jrfit.data.spectrum import ObservedSpectrum, prepare_spectrum
from jrfit.inference.likelihood import whittle_logp
from jrfit.inference.spectral import FitConfig, SpectralModel, fit_spectrum
from jrfit.model.spectrum import linear_psd

FAST = FitConfig(draws=200, tune=250, chains=2, seed=1, n_ppc=50)


@pytest.fixture(scope="module")
def model():
    """One compiled model, reused by every test of this module (as in a run)."""
    return SpectralModel()


def _peak(truth, fmin=2.0, fmax=40.0):
    f = np.linspace(fmin, fmax, 4000)
    return f[np.argmax(linear_psd(f, truth))]


def test_op_gradient_matches_finite_differences():
    import pytensor.tensor as pt
    from pytensor.gradient import verify_grad

    from jrfit.inference.ops import JRLinearOp

    op = JRLinearOp(("a", "b", "B"), JRParams(sigma=1.0).as_dict())
    freqs = pt.constant(np.linspace(2, 40, 30))

    def f(theta):
        psd, p, logjac, *_ = op(theta, freqs)
        return pt.log(psd).sum() + 0.01 * p + logjac

    verify_grad(
        f, [np.array([9.0, 100.0, 50.0, 22.0])], rng=np.random.default_rng(0), eps=1e-6, rel_tol=1e-5, abs_tol=1e-6
    )


@pytest.mark.parametrize("names", [("a", "b", "B"), ("a", "b", "B", "C", "e0")])
def test_compiled_kernel_matches_numpy_model_and_finite_differences(names):
    """The numba kernel against the NumPy functions (values), central finite
    differences of them (Jacobians) and the Jacobian eigenvalues (stability)."""
    from jrfit.model.column import dp_dv, eigenvalues, operating_point
    from jrfit.model.linear_kernel import linear_forward, pack
    from jrfit.model.spectrum import psd_from_v

    base = JRParams(sigma=1.0)
    free_idx, vec = pack(names, base.as_dict())
    freqs = np.linspace(2.0, 40.0, 25)

    def numpy_model(theta):
        P = base.replace(**{n: float(x) for n, x in zip(names, theta[1:])})
        d = P.as_dict()
        return psd_from_v(freqs, theta[0], d), operating_point(theta[0], d)["p"], np.log(abs(dp_dv(theta[0], d)))

    rng = np.random.default_rng(0)
    n_stable = 0
    for v in (-1.0, 1.0, 3.0, 8.5, 10.0):
        defaults = np.array([getattr(base, n) for n in names])
        theta = np.concatenate([[v], defaults * np.exp(0.1 * rng.standard_normal(len(names)))])
        psd, p, lj, stable, j_psd, j_p, j_lj = linear_forward(theta, freqs, free_idx, vec)
        ref = numpy_model(theta)
        np.testing.assert_allclose(psd, ref[0], rtol=1e-12)
        assert p == pytest.approx(ref[1], rel=1e-12, abs=1e-9)
        assert lj == pytest.approx(ref[2], rel=1e-12, abs=1e-12)
        for k in range(theta.size):
            h = 1e-6 * max(abs(theta[k]), 1.0)
            up, dn = theta.copy(), theta.copy()
            up[k] += h
            dn[k] -= h
            fd = [(u - d) / (2 * h) for u, d in zip(numpy_model(up), numpy_model(dn))]
            np.testing.assert_allclose(j_psd[k], fd[0], rtol=1e-5, atol=1e-7 * np.abs(fd[0]).max())
            assert j_p[k] == pytest.approx(fd[1], rel=1e-5, abs=1e-6)
            assert j_lj[k] == pytest.approx(fd[2], rel=1e-5, abs=1e-6)
        P = base.replace(**{n: float(x) for n, x in zip(names, theta[1:])})
        assert bool(stable) == bool(np.all(eigenvalues(v, P).real < 0))
        n_stable += bool(stable)
    assert 0 < n_stable < 5  # both kinds of fixed point were checked


def test_op_compiles_in_numba_mode_with_the_same_values_and_gradient():
    """nutpie samples the numba-compiled graph: it must equal the Python Op's."""
    import pytensor
    import pytensor.tensor as pt

    from jrfit.inference.ops import JRLinearOp

    op = JRLinearOp(("a", "b", "B"), JRParams(sigma=1.0).as_dict())
    theta = pt.dvector("theta")
    freqs = pt.dvector("freqs")
    psd, p, logjac, stable, *_ = op(theta, freqs)
    cost = pt.log(psd).sum() + 0.01 * p + logjac + stable
    outs = [cost, pt.grad(cost, theta)]
    f_py = pytensor.function([theta, freqs], outs, mode="FAST_RUN")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f_nb = pytensor.function([theta, freqs], outs, mode="NUMBA")
    # compiled through the kernel, not PyTensor's object-mode fallback
    assert not [w for w in caught if "object mode" in str(w.message)]
    args = (np.array([8.0, 95.0, 52.0, 20.0]), np.linspace(2.0, 40.0, 30))
    for a, b in zip(f_py(*args), f_nb(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("prior", ["default", "truncated normal"])
def test_p_prior_numpy_and_pytensor_agree_and_respect_the_support(prior):
    """The prior of p: no mass outside its support (p <= 0 for the default
    log-normal), and the PyTensor density equals the NumPy one up to a constant."""
    import pytensor
    import pytensor.tensor as pt
    from scipy import stats

    from jrfit.inference.priors import NormalPrior, SpectralPriors

    pp = SpectralPriors().p if prior == "default" else NormalPrior(200.0, 100.0, lower=0.0)
    x = np.array([-50.0, -1e-6, 30.0, 220.0, 900.0])
    np_lp = pp.logpdf(x)
    if prior == "default":
        assert np.isneginf(pp.logpdf(0.0))
    assert np.all(np.isneginf(np_lp[:2])) and np.all(np.isfinite(np_lp[2:]))
    if prior == "default":  # scipy's log-normal, an independent reference
        ref = stats.lognorm(s=pp.sd, scale=pp.median).logpdf(x[2:])
        np.testing.assert_allclose(np_lp[2:], ref, rtol=1e-12)
    t = pt.dvector("p")
    pt_lp = pytensor.function([t], pp.tensor_logp(t))(x)
    assert np.all(np.isneginf(pt_lp[:2]))
    np.testing.assert_allclose(np.diff(pt_lp[2:]), np.diff(np_lp[2:]), rtol=1e-12)


def test_whittle_matches_gamma_logpdf():
    from scipy.stats import gamma

    obs = np.array([0.5, 1.0, 2.0])
    pred = np.array([1.0, 0.8, 2.5])
    k = 12.0
    ref = gamma.logpdf(obs, a=k, scale=pred / k).sum()
    assert whittle_logp(obs, pred, k) == pytest.approx(ref, rel=1e-12)


def test_fit_recovers_known_parameters_and_is_reproducible(model):
    truth = JRParams(mu=500.0)
    spec = _synthetic(truth, seed=3)
    res = fit_spectrum(spec, config=FAST, model=model)
    post = res.idata.posterior.sel(channel="X")
    for name in ("a", "b"):
        lo, hi = np.quantile(post[name].values, [0.05, 0.95])
        assert lo <= getattr(truth, name) <= hi, (name, lo, hi)
    assert abs(np.median(post["peak_freq"].values) - _peak(truth)) < 0.5
    # the result records what a reader needs
    attrs = res.idata.attrs
    assert json.loads(attrs["channels"]) == ["X"]
    assert attrs["likelihood"] == "linear (Whittle)"
    assert "X" in json.loads(attrs["diagnostics"])
    assert res.idata.posterior_predictive["psd"].sizes["freq"] == res.idata.observed_data["psd"].sizes["freq"]
    # bins closer than the Hann window's bandwidth were thinned out
    assert attrs["thin"] == 2
    # only stable fixed points are admitted
    assert np.all(post["damping"].values > 0)
    # same seed, same draws (model reused: data swapped, nothing recompiled)
    res2 = fit_spectrum(spec, config=FAST, model=model)
    np.testing.assert_array_equal(post["a"].values, res2.idata.posterior["a"].sel(channel="X").values)


def test_priors_must_match_a_reused_model(model):
    from jrfit.errors import FitError
    from jrfit.inference.priors import LogNormalPrior, make_priors

    spec = _synthetic(JRParams(mu=500.0), seed=5)
    with pytest.raises(FitError, match="other priors"):
        fit_spectrum(spec, priors=make_priors(C=LogNormalPrior(135.0, 0.25)), model=model)


def test_failed_diagnostics_are_reported(model):
    """A fit too short to converge is marked as failed, not returned as good."""
    spec = _synthetic(JRParams(mu=500.0), seed=4)
    res = fit_spectrum(spec, config=FitConfig(draws=5, tune=5, chains=2, seed=0, n_ppc=5), model=model)
    diag = res.diagnostics["X"]
    assert diag["passed"] is False and diag["problems"]
    assert res.passed is False
    # one chain: R-hat cannot be computed, and the verdict says why instead of "R-hat nan"
    one = fit_spectrum(spec, config=FitConfig(draws=5, tune=5, chains=1, seed=0, n_ppc=5), model=model)
    problems = one.diagnostics["X"]["problems"]
    assert any("R-hat needs at least two chains" in p for p in problems) and not any("nan" in p for p in problems)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["eeglab", "eegmmidb"])
def test_real_recordings_fit_alpha_peak(which, eeglab_fname, eegmmidb_fname, model):
    fname = eeglab_fname if which == "eeglab" else eegmmidb_fname
    spec = prepare_spectrum(fname, fmin=2.0, fmax=40.0)
    # channel with the clearest alpha peak (power at 8-13 Hz relative to its flanks)
    f = spec.freqs
    alpha = (f >= 8) & (f <= 13)
    flank = ((f >= 4) & (f < 7)) | ((f > 15) & (f <= 20))
    ratio = spec.psd[:, alpha].max(axis=1) / spec.psd[:, flank].mean(axis=1)
    best = spec.ch_names[int(np.argmax(ratio))]
    one = spec.pick([best])
    res = fit_spectrum(one, config=FitConfig(draws=200, tune=300, chains=2, seed=0, n_ppc=50), model=model)
    idata = res.idata
    # the alpha peak of the measured spectrum (a peak finder, full resolution) against that of
    # the posterior-predictive expected estimate on the same bins
    from scipy.signal import find_peaks

    from jrfit.inference.leakage import leakage_kernel
    from jrfit.inference.likelihood import predicted_psd

    fr = one.freqs
    sel = (fr >= 7) & (fr <= 14)
    peaks, props = find_peaks(np.log(one.psd[0][sel]), prominence=0.1)
    data_peak = fr[sel][peaks[np.argmax(props["prominences"])]]
    post = idata.posterior.sel(channel=best).stack(s=("chain", "draw")).isel(s=slice(None, None, 8))
    kernel = leakage_kernel(one)
    jr = dict(model.priors.fixed.as_dict(), **{n: post[n].values[:, None] for n in model.priors.free})
    pred = kernel.apply(
        predicted_psd(
            kernel.fine_freqs,
            post["v"].values[:, None],
            jr,
            post["scale"].values[:, None] * np.median(idata.observed_data["psd"].sel(channel=best).values),
            post["bg"].values[:, None],
            post["chi"].values[:, None],
            post["floor"].values[:, None],
        )
    )
    fit_peak = fr[sel][np.argmax(np.median(pred, axis=0)[sel])]
    tol = 0.25 if which == "eeglab" else 1.0  # EEGMMIDB eyes open: a broad peak (damping about 24 /s)
    assert abs(fit_peak - data_peak) <= tol + 1e-9, (best, data_peak, fit_peak)
    diag = res.diagnostics[best]
    assert set(diag) >= {"r_hat", "ess_bulk", "ess_tail", "divergences", "bfmi", "passed", "problems"}


def test_routh_column6_matches_the_general_routh_array():
    """The kernel's allocation-free degree-6 Routh column against the general recursion."""
    from jrfit.model.spectrum import routh_column6, routh_hurwitz

    rng = np.random.default_rng(0)
    for _ in range(200):
        c = np.concatenate([[1.0], rng.uniform(0.1, 10.0, 6) * 10.0 ** rng.integers(0, 6, 6)])
        np.testing.assert_allclose(routh_column6(c), routh_hurwitz(tuple(c)), rtol=1e-9)


def test_progress_lines_per_channel_with_an_estimate(model, caplog):
    """Outside a terminal the log is the progress: a line per channel before and after, and the time left."""
    import logging

    one = _synthetic(JRParams(mu=500.0), seed=5)
    spec = ObservedSpectrum(
        freqs=one.freqs,
        psd=np.vstack([one.psd, one.psd * 1.1]),
        ch_names=("X", "Y"),
        n_eff=one.n_eff,
        record=one.record,
    )
    with caplog.at_level(logging.INFO, logger="jrfit"):
        fit_spectrum(spec, config=FitConfig(draws=20, tune=20, chains=2, seed=0, n_ppc=5), model=model)
    text = caplog.text
    assert "X (1/2): start search, then 2 chains x (20 + 20) draws" in text and "Y (2/2)" in text
    assert "s left for 1 more channel(s)" in text
