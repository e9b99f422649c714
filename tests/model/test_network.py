"""Tests of jrfit.model.network: the coupled fixed point, its stability with delays, linearised cross-spectra."""

import numpy as np
import pytest

from jrfit import JRParams, ModelError
from jrfit.model.column import jacobian, sigmoid_deriv
from jrfit.model.connectome import Connectivity, load_connectivity
from jrfit.model.network import CrossSpectrum, linear_cross_spectrum, network_fixed_point
from jrfit.model.spectrum import psd_from_v, stable_v


def _two_nodes(length_mm=0.0):
    """Region 0 drives region 1 (weights[1, 0] = 1), tract length ``length_mm``."""
    return Connectivity([[0.0, 0.0], [1.0, 0.0]], [[0.0, length_mm], [length_mm, 0.0]], region_names=["src", "dst"])


@pytest.fixture(scope="module")
def tvb76():
    pytest.importorskip("tvb_data")
    return load_connectivity("tvb76")


# ----------------------------------------------------------------------------
# linearised cross-spectra
def test_linear_cross_spectrum_uncoupled_is_psd_from_v(tvb76):
    f = np.linspace(0.5, 45.0, 90)
    mu = np.linspace(340.0, 600.0, tvb76.n_regions)
    P = JRParams(mu=mu, sigma=np.linspace(1.0, 3.0, tvb76.n_regions))
    cs = linear_cross_spectrum(tvb76, f, P, global_coupling=0.0)
    assert isinstance(cs, CrossSpectrum) and cs.csd.shape == (76, 76, 90)
    ref = psd_from_v(f[None, :], stable_v(P)[:, None], {k: v[:, None] for k, v in P.as_dict(broadcast=True).items()})
    np.testing.assert_allclose(cs.psd, ref, rtol=1e-12)
    off = cs.csd[~np.eye(76, dtype=bool)]
    assert np.all(off == 0)


def _network_jacobian(conn, P, G, beta, mode, y):
    """6n x 6n Jacobian of the delay-free network (built independently of jrfit.model.network)."""
    n = conn.n_regions
    Jc = jacobian(y, P)
    J = np.zeros((6 * n, 6 * n))
    for i in range(n):
        J[6 * i : 6 * i + 6, 6 * i : 6 * i + 6] = Jc[i]
    K = G * np.asarray(conn.weights)
    Aa = np.broadcast_to(P.A * P.a, (n,))
    dS = lambda x: sigmoid_deriv(x, P.e0, P.r, P.v0)  # noqa: E731
    s0, sv = np.broadcast_to(dS(y[0]), (n,)), np.broadcast_to(dS(y[1] - y[2]), (n,))
    for i in range(n):
        for j in range(n):
            if mode == "seed":
                J[6 * i + 3, 6 * j] += K[i, j] * s0[j]
                gain = beta / n * sv[j]
            else:
                gain = (K[i, j] + beta / n) * sv[j]
            J[6 * i + 4, 6 * j + 1] += Aa[i] * gain
            J[6 * i + 4, 6 * j + 2] -= Aa[i] * gain
    return J


@pytest.mark.parametrize("mode", ["seed", "tvb"])
def test_stability_count_matches_delay_free_jacobian(mode):
    """Argument-principle count of unstable roots == Jacobian eigenvalues (zero delays)."""
    rng = np.random.default_rng(1)
    n_checked = n_unstable = 0
    for trial in range(8):
        n = 4
        conn = Connectivity(rng.random((n, n)), np.zeros((n, n)))
        P = JRParams(mu=rng.uniform(300.0 if mode == "tvb" else 330.0, 500.0, n), sigma=1.0)
        G = 10 ** rng.uniform(1.0, 4.0) if mode == "seed" else 10 ** rng.uniform(-1.0, 2.0)
        beta = float(rng.choice([0.0, rng.uniform(-10.0, 10.0)]))
        fp = network_fixed_point(conn, P, global_coupling=G, coupling=mode, beta=beta)
        ev = np.linalg.eigvals(_network_jacobian(conn, P, G, beta, mode, np.asarray(fp.y)))
        assert fp.n_unstable == int(np.sum(ev.real > 0)), (trial, np.sort(ev.real)[-4:])
        n_checked += 1
        n_unstable += fp.n_unstable > 0
    assert n_checked == 8 and 0 < n_unstable < 8  # both verdicts were exercised


def test_delay_destabilises_and_linear_refuses():
    """Stability depends on the delay; an unstable point gives a clear error."""
    P = JRParams(mu=360.0, sigma=1.0)
    mutual = lambda ln: Connectivity([[0.0, 1.0], [1.0, 0.0]], np.full((2, 2), ln))  # noqa: E731
    verdicts = [
        network_fixed_point(mutual(ln), P, global_coupling=12.0, coupling="tvb").stable
        for ln in (0.0, 15.0, 30.0, 45.0, 60.0)
    ]
    assert True in verdicts and False in verdicts
    bad = (0.0, 15.0, 30.0, 45.0, 60.0)[verdicts.index(False)]
    with pytest.raises(ModelError, match="unstable"):
        linear_cross_spectrum(mutual(bad), [10.0], P, global_coupling=12.0, coupling="tvb")


def test_linear_phase_is_pure_delay():
    f = np.linspace(2.0, 30.0, 57)
    P = JRParams(mu=360.0, sigma=1.0)
    tau = 0.02
    a = linear_cross_spectrum(_two_nodes(0.0), f, P, global_coupling=10.0, coupling="tvb")
    b = linear_cross_spectrum(_two_nodes(tau * 3e3), f, P, global_coupling=10.0, coupling="tvb")
    dphi = np.angle(b.csd[0, 1] / a.csd[0, 1])
    np.testing.assert_allclose(dphi, np.angle(np.exp(2j * np.pi * f * tau)), atol=1e-9)
    np.testing.assert_allclose(b.psd, a.psd, rtol=1e-9)
