"""ERP forward model: pulse, nonlinear response with sensitivities, linear response."""

from __future__ import annotations

import numpy as np
import pytest

from jrfit import JRParams
from jrfit.errors import ModelError
from jrfit.model.column import drift, drift_tangent, fixed_points
from jrfit.model.erp import ERPForward, erp_response, linear_erp_response, pulse

TIMES = np.arange(-0.1, 0.5, 1 / 250)
REST = JRParams(mu=60.0)  # the lower, stable fixed point exists and is a node


def test_jr_pulse_published_values():
    """JR 1995: q (t/w)^n exp(-t/w), q = 0.5, n = 7, w = 5 ms peaks at 375.5 /s at 35 ms."""
    t = np.linspace(0, 0.2, 2001)
    p = pulse(t, shape="jr")
    q, n, w = 0.5, 7, 0.005
    ref = q * (t / w) ** n * np.exp(-t / w)
    np.testing.assert_allclose(p, ref, rtol=1e-12, atol=1e-12)
    assert t[np.argmax(p)] == pytest.approx(0.035, abs=1e-4)
    assert p.max() == pytest.approx(375.5, abs=0.1)
    g = pulse(t, amplitude=2.0, onset=0.06, width=0.016, shape="gaussian")
    assert t[np.argmax(g)] == pytest.approx(0.06, abs=1e-4) and g.max() == pytest.approx(2.0)
    # the full width at half maximum of a Gaussian is 2 sqrt(2 ln 2) sd
    above = t[g >= 1.0]
    assert above[-1] - above[0] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * 0.016, abs=2e-4)
    with pytest.raises(ModelError, match="shape"):
        pulse(t, shape="box")


def test_drift_tangent_is_the_derivative_of_drift():
    """Forward-mode tangent == complex-step derivative of the one drift formula."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.normal(size=6) * [0.1, 10, 10, 50, 500, 500]
        dy = rng.normal(size=6)
        c = np.array([3.25, 22, 100, 50, 135, 108, 33.75, 33.75, 2.5, 0.56, 6.0]) * np.exp(0.2 * rng.normal(size=11))
        dc = rng.normal(size=11)
        p, dp = 100 * rng.random(), rng.normal()
        f, df = drift_tangent(y, dy, p, dp, c, dc)
        h = 1e-20
        fc = drift(*(y + 1j * h * dy), p + 1j * h * dp, *(c + 1j * h * dc))
        np.testing.assert_allclose(f, np.real(fc), rtol=1e-13)
        np.testing.assert_allclose(df, np.imag(fc) / h, rtol=1e-9, atol=1e-9 * np.max(np.abs(df)))


@pytest.mark.parametrize("shape", ["jr", "gaussian"])
def test_erp_gradient_matches_finite_differences(shape):
    """Every free parameter, including the rest potential and the sigmoid constants."""
    names = ("v", "A", "B", "a", "b", "C", "e0", "r", "v0", "amplitude", "onset", "width")
    v = fixed_points(REST)[0].v
    onset = 0.02 if shape == "jr" else 0.08
    width = 0.006 if shape == "jr" else 0.015
    theta = np.array([v, 3.4, 21.0, 95.0, 52.0, 140.0, 2.4, 0.58, 6.1, 300.0, onset, width])
    fwd = ERPForward(TIMES, names, shape=shape)
    r, J = fwd.response_and_jacobian(theta)
    np.testing.assert_allclose(r, fwd.response(theta), rtol=1e-12, atol=1e-14)
    for k, name in enumerate(names):
        h = 1e-6 * max(abs(theta[k]), 1e-2)
        up, dn = theta.copy(), theta.copy()
        up[k] += h
        dn[k] -= h
        fd = (fwd.response(up) - fwd.response(dn)) / (2 * h)
        err = np.linalg.norm(J[:, k] - fd) / np.linalg.norm(fd)
        assert err < 1e-4, f"{name}: relative gradient error {err:.2e}"


def test_response_starts_at_rest_and_converges():
    """Before the pulse nothing moves; the RK4 response converges with the step."""
    v = fixed_points(REST)[0].v
    r = erp_response(TIMES, REST, onset=0.0)
    assert np.all(r[TIMES <= 0] == 0.0)
    assert np.max(np.abs(r)) > 1.0  # the JR pulse moves the column by mV
    fine = erp_response(TIMES, REST, onset=0.0, v=v, dt_max=1e-4)
    assert np.max(np.abs(r - fine)) < 1e-5 * np.max(np.abs(fine))


def test_linear_and_nonlinear_agree_for_small_pulses():
    """Small pulse: < 2 % relative L2; the JR 1995 pulse: far apart (measured ~85 %)."""
    small = dict(amplitude=3.755)  # 1 % of the JR pulse
    rn = erp_response(TIMES, REST, **small)
    rl = linear_erp_response(TIMES, REST, **small)
    err_small = np.linalg.norm(rn - rl) / np.linalg.norm(rl)
    assert err_small < 0.02
    rn = erp_response(TIMES, REST)
    rl = linear_erp_response(TIMES, REST)
    err_jr = np.linalg.norm(rn - rl) / np.linalg.norm(rl)
    print(f"linear vs nonlinear, relative L2: 1 % pulse {err_small:.4f}, JR 1995 pulse {err_jr:.3f}")
    assert err_jr > 0.3
    # the linear response scales exactly with the amplitude, the nonlinear one does not
    amp = pulse(np.array([0.035]))[0]
    np.testing.assert_allclose(linear_erp_response(TIMES, REST, amplitude=0.1 * amp), 0.1 * rl, rtol=1e-9, atol=1e-12)


def test_bad_forward_inputs():
    with pytest.raises(ModelError, match="uniformly"):
        ERPForward(np.array([0.0, 0.1, 0.3]), ("v",))
    with pytest.raises(ModelError, match="free ERP parameter"):
        ERPForward(TIMES, ("sigma",))
    with pytest.raises(ModelError, match="No stable fixed point"):
        erp_response(TIMES, JRParams())  # mu = 220 /s: the alpha limit cycle
    with pytest.raises(ModelError, match="width"):
        pulse(TIMES, width=0.0)


def test_stochastic_trial_average_approaches_the_deterministic_response():
    """Noise-free trials (splitting, 0.1 ms) reproduce the RK4 response; noise moves the average."""
    from jrfit.inference.erp_checks import stochastic_check

    v = fixed_points(REST)[0].v
    quiet = stochastic_check(TIMES, REST, v, 300.0, 0.02, 0.006, sigma=0.0, n_trials=5)
    assert quiet["rel_l2"] < 1e-3  # a second integrator agrees with the sensitivity kernel
    rel = [stochastic_check(TIMES, REST, v, 300.0, 0.02, 0.006, sigma=s, n_trials=100)["rel_l2"] for s in (1.0, 20.0)]
    print("stochastic vs deterministic, relative L2 at sigma 0, 1, 20 /s^0.5:", quiet["rel_l2"], rel)
    assert rel[0] < 0.05 < rel[1]
