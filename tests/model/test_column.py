"""Model core and linearised spectrum against independent facts."""

import numpy as np
import pytest

from jrfit import JRParams
from jrfit.model.column import (
    START_PERTURBATION,
    dp_dv,
    eigenvalues,
    fixed_point_states,
    fixed_points,
    jacobian,
    operating_point,
    p_of_v,
    rhs,
    sigmoid,
    sigmoid_deriv,
)
from jrfit.model.spectrum import (
    char_poly_coeffs,
    linear_psd,
    psd_from_v,
    routh_hurwitz,
    stable_v,
    transfer_function,
)


def _random_params(rng, n):
    """Random parameter sets around the JR defaults (log-normal, sd 0.25)."""
    base = JRParams()
    ch = {k: getattr(base, k) * np.exp(0.25 * rng.standard_normal(n)) for k in ("A", "B", "a", "b", "C", "r")}
    return JRParams(**ch)


def test_sigmoid_values_and_derivative():
    assert sigmoid(6.0) == pytest.approx(2.5)  # half maximum at v0
    assert sigmoid(1e3) == pytest.approx(5.0)
    v = np.linspace(-5, 20, 11)
    h = 1e-6
    fd = (sigmoid(v + h) - sigmoid(v - h)) / (2 * h)
    np.testing.assert_allclose(sigmoid_deriv(v), fd, rtol=1e-6, atol=1e-9)
    assert sigmoid_deriv(6.0) == pytest.approx(0.56 * 2.5 / 2)


def test_jacobian_matches_finite_differences_of_rhs():
    P = JRParams()
    y = np.array([0.1, 12.0, 9.0, 0.5, -3.0, 2.0])
    J = jacobian(y, P)
    h = 1e-6
    for j in range(6):
        e = np.zeros(6)
        e[j] = h
        np.testing.assert_allclose(J[:, j], (rhs(y + e, P) - rhs(y - e, P)) / (2 * h), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("p", [-30.0, 50.0, 100.0, 220.0, 400.0])
def test_fixed_points_zero_the_rhs(p):
    P = JRParams()
    fps = fixed_points(P, p)
    assert fps
    for fp in fps:
        np.testing.assert_allclose(rhs(fp.y, P, p=p), 0.0, atol=1e-7)
        assert p_of_v(fp.v, P) == pytest.approx(p, abs=1e-8)


def test_number_of_fixed_points_follows_the_fold():
    """Three fixed points between the folds (-41.30, 113.59 /s), one outside."""
    P = JRParams()
    assert len(fixed_points(P, 100.0)) == 3
    assert len(fixed_points(P, 120.0)) == 1
    assert len(fixed_points(P, -50.0)) == 1
    kinds = [fp.kind for fp in fixed_points(P, 100.0)]
    assert kinds[1] == "saddle"


def test_dp_dv_is_the_derivative_of_p_of_v():
    P = JRParams()
    v = np.linspace(-8, 12, 41)
    h = 1e-6
    np.testing.assert_allclose(dp_dv(v, P), (p_of_v(v + h, P) - p_of_v(v - h, P)) / (2 * h), rtol=1e-5, atol=1e-4)


def test_transfer_function_equals_state_space_form():
    """H(s) == c (sI - J)^-1 b to 1e-10 over random parameter sets."""
    rng = np.random.default_rng(0)
    params = _random_params(rng, 25)
    freqs = np.array([0.5, 3.0, 10.0, 21.7, 45.0])
    v = rng.uniform(-2.0, 10.0, 25)
    H = transfer_function(freqs, params, v=v)
    c = np.array([0, 1, -1, 0, 0, 0.0])
    for k, P in enumerate(params):
        op = operating_point(v[k], P)
        y = np.array([op["y0"], op["y1"], op["y2"], 0, 0, 0])
        J = jacobian(y, P)
        b = np.zeros(6)
        b[4] = P.A * P.a
        for i, f in enumerate(freqs):
            ref = c @ np.linalg.solve(2j * np.pi * f * np.eye(6) - J, b)
            assert abs(H[k, i] - ref) <= 1e-10 * abs(ref)


def test_roots_of_D_are_the_jacobian_eigenvalues():
    rng = np.random.default_rng(1)
    params = _random_params(rng, 20)
    v = rng.uniform(-2.0, 10.0, 20)
    ev = eigenvalues(v, params)
    for k, P in enumerate(params):
        roots = np.roots(np.array(char_poly_coeffs(v[k], P), dtype=float))
        assert roots.size == 6
        np.testing.assert_allclose(np.sort_complex(roots), np.sort_complex(ev[k]), rtol=1e-7, atol=1e-6)


def test_routh_hurwitz_agrees_with_eigenvalues():
    P = JRParams()
    v = np.linspace(-3, 11, 300)
    stable_eig = np.all(eigenvalues(v, P).real < 0, axis=-1)
    col = np.array(np.broadcast_arrays(*routh_hurwitz(char_poly_coeffs(v, P))), dtype=float)
    stable_rh = np.all(col > 0, axis=0)
    assert stable_eig.any() and (~stable_eig).any()
    np.testing.assert_array_equal(stable_rh, stable_eig)


def test_linear_regime_is_damped_oscillators_at_rates_a_and_b():
    """With the loop cut (C = 0), H = A a / (s + a)^2: a critically damped PSP."""
    P = JRParams(C=0.0, sigma=1.0)
    f = np.linspace(0.5, 60, 50)
    H = transfer_function(f, P)
    s = 2j * np.pi * f
    np.testing.assert_allclose(H, P.A * P.a / (s + P.a) ** 2, rtol=1e-12)
    ev = eigenvalues(fixed_points(P)[0].v, P)
    np.testing.assert_allclose(np.sort(ev.real), [-100] * 4 + [-50] * 2, rtol=1e-5)


def test_psd_normalisation_and_limit():
    """One-sided PSD = 2 sigma^2 |H|^2; at f -> 0 it is 2 sigma^2 (dv/dp)^2."""
    P = JRParams(mu=60.0, sigma=3.0)
    f = np.array([1e-6, 5.0])
    S = linear_psd(f, P)
    H = transfer_function(f, P)
    np.testing.assert_allclose(S, 2 * 9.0 * np.abs(H) ** 2, rtol=1e-12)
    v = fixed_points(P)[-1].v
    assert S[0] == pytest.approx(2 * 9.0 / dp_dv(v, P) ** 2, rel=1e-6)


def test_same_code_path_in_pytensor_with_verified_gradient():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt
    from pytensor.gradient import verify_grad

    base = JRParams(sigma=2.0).as_dict()
    freqs = np.linspace(2, 40, 20)

    def graph(v, A, B, a, b, C):
        d = dict(base, A=A, B=B, a=a, b=b, C=C)
        return pt.log(psd_from_v(freqs, v, d))

    vals = [np.array(6.6), np.array(3.25), np.array(22.0), np.array(100.0), np.array(50.0), np.array(135.0)]
    verify_grad(graph, vals, rng=np.random.default_rng(0), eps=1e-6, abs_tol=1e-5, rel_tol=1e-4)
    # same numbers as NumPy
    syms = [pt.dscalar() for _ in vals]
    fn = pytensor.function(syms, graph(*syms))
    d = dict(base, A=3.25, B=22.0, a=100.0, b=50.0, C=135.0)
    np.testing.assert_allclose(fn(*vals), np.log(psd_from_v(freqs, 6.6, d)), rtol=1e-12)


def test_start_state_matches_fixed_points():
    """The vectorised default start agrees with spectrum.stable_v / model.fixed_points."""
    mus = np.array([-60.0, -20.0, 0.0, 60.0, 100.0, 113.0, 120.0, 137.0, 220.0, 340.0, 500.0])
    P = JRParams(
        mu=np.r_[mus, 220.0, 220.0],
        A=np.r_[np.full(mus.size, 3.25), 0.0, 3.25],
        B=np.r_[np.full(mus.size + 1, 22.0), 0.0],
    )
    y, stable = fixed_point_states(P.flat(), P.flat()["mu"])
    for i in range(P.n_columns):
        v_ref = stable_v(P[i])
        assert stable[i] == np.isfinite(v_ref)
        fps = fixed_points(P[i])
        if stable[i]:
            assert abs(y[1, i] - y[2, i] - v_ref) < 1e-9
        else:  # limit cycle: next to the highest fixed point
            assert abs(y[1, i] - y[2, i] - fps[-1].v - START_PERTURBATION) < 1e-9
        assert np.all(y[3:, i] == 0)
