"""Every Op returns (NaN or -inf where the model is undefined) and never raises, whatever its input.

A raising log density kills a sampler mid-run and loses the fit; a NaN or
-inf is a divergent transition the sampler survives.
"""

import warnings

import numpy as np
import pytest

from jrfit import JRParams

EXTREME = [0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 1e95, -1e95, np.nan, np.inf, -np.inf, 1.0, -1.0]


def _random_inputs(rng, n, size):
    """Vectors of extreme and non-finite values mixed with ordinary ones."""
    out = []
    for _ in range(n):
        x = np.asarray(rng.choice(EXTREME, size), float)
        ordinary = rng.random(size) < 0.3
        x[ordinary] = rng.normal(50.0, 50.0, int(ordinary.sum()))
        out.append(x)
    return out


def _functions(build, *inputs):
    import pytensor

    outs = build(*inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [pytensor.function(list(inputs), outs, mode=m, on_unused_input="ignore") for m in ("FAST_RUN", "NUMBA")]


@pytest.mark.parametrize("names", [("a", "b", "B"), ("a", "b", "B", "C")])
def test_linear_op_and_its_gradient_never_raise(names):
    import pytensor.tensor as pt

    from jrfit.inference.ops import JRLinearOp

    op = JRLinearOp(names, JRParams(sigma=1.0).as_dict())
    theta, freqs = pt.dvector("theta"), pt.dvector("freqs")

    def build(theta, freqs):
        psd, p, lj, st, *_ = op(theta, freqs)
        cost = pt.sum(pt.log(psd)) + p + lj + st
        return [cost, pt.grad(cost, theta)]

    rng = np.random.default_rng(0)
    f = np.linspace(2.0, 40.0, 8)
    for fn in _functions(build, theta, freqs):
        for x in _random_inputs(rng, 60, len(names) + 1):
            with np.errstate(all="ignore"):
                fn(x, f)  # must return, whatever the values
        with np.errstate(all="ignore"):
            fn(np.array([8.0, 1e-300, 1e-300] + [1e95] * (len(names) - 2)), np.array([np.nan, 0.0, np.inf, 10.0]))


def test_banded_ops_never_raise():
    import pytensor.tensor as pt

    from jrfit.inference.ops import BandedMatVecOp

    x, w = pt.dvector("x"), pt.dmatrix("w")
    start = pt.constant(np.array([0, 1, 2], dtype=np.int64))

    def build(x, w):
        y = BandedMatVecOp()(x, w, start)
        return [y, pt.grad(pt.sum(y), x)]

    rng = np.random.default_rng(1)
    for fn in _functions(build, x, w):
        for v in _random_inputs(rng, 30, 5):
            with np.errstate(all="ignore"):
                fn(v, rng.choice(EXTREME, (3, 3)).astype(float))


def test_erp_op_never_raises():
    import pytensor
    import pytensor.tensor as pt

    from jrfit.inference.ops import ERPOp

    times = np.arange(-0.05, 0.3, 0.004)
    names = ("v", "B", "a", "b", "amplitude", "onset", "width")
    op = ERPOp(times, names, {})
    theta = pt.dvector("theta")
    resp, _ = op(theta)
    cost = pt.sum(resp)
    fn = pytensor.function([theta], [cost, pt.grad(cost, theta)])
    rng = np.random.default_rng(2)
    cases = _random_inputs(rng, 25, len(names))
    cases.append(np.array([1.0, 1e95, 1e-300, 1e-300, 1e3, 0.0, 1e-3]))  # the crash seen in an ERP fit
    for x in cases:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(x)


def test_synthetic_likelihood_op_never_raises():
    import pytensor
    import pytensor.tensor as pt
    from inference.spectra import synthetic_likelihood as _sl

    from jrfit.data.spectrum import prepare_spectrum
    from jrfit.inference.simulation import _SLOp
    from jrfit.simulators.column import simulate

    sim = simulate(JRParams(mu=220.0, sigma=2.0), 20.0, dt=1e-3, sfreq=250.0, seed=1)
    spec = prepare_spectrum(sim.to_raw(), reference=None, line_freq=None, verbose=False)
    sl, _ = _sl(spec, n_rep=3, rep_duration=4.0)
    theta = pt.dvector("theta")
    fn = pytensor.function([theta], _SLOp(sl)(theta))
    rng = np.random.default_rng(3)
    for x in _random_inputs(rng, 6, 9) + [np.array([1e-300, 1e300, 0.0, -5.0, 0.0, 1e-3, 1e30, np.nan, 0.0])]:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val = float(fn(x))
        assert not np.isnan(val)


def test_rest_potential_op_and_its_gradient_never_raise():
    import pytensor
    import pytensor.tensor as pt

    from jrfit.inference.ops import RestPotentialOp

    op = RestPotentialOp(("B", "a", "b"), JRParams().as_dict(), 0.0, (-4.0, 14.0))
    theta = pt.dvector("theta")
    v, _ = op(theta)
    fn = pytensor.function([theta], [v, pt.grad(v, theta)])  # a Python Op: the C/Python backend
    rng = np.random.default_rng(2)
    for x in _random_inputs(rng, 60, 3):
        with np.errstate(all="ignore"):
            fn(x)
    out = fn(np.array([22.0, 100.0, 50.0]))
    assert np.isfinite(out[0]) and np.all(np.isfinite(out[1]))
