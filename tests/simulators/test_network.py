"""Tests of jrfit.simulators.network: network simulation, against the linearised cross-spectra, CLI."""

import numpy as np
import pytest
from scipy import signal

from jrfit import JRParams
from jrfit.cli.app import main
from jrfit.model.connectome import Connectivity, load_connectivity
from jrfit.model.network import linear_cross_spectrum, network_fixed_point
from jrfit.model.spectrum import linear_psd, stable_v
from jrfit.simulators.column import simulate
from jrfit.simulators.network import NetworkSimulation, simulate_network


def _two_nodes(length_mm=0.0):
    """Region 0 drives region 1 (weights[1, 0] = 1), tract length ``length_mm``."""
    return Connectivity([[0.0, 0.0], [1.0, 0.0]], [[0.0, length_mm], [length_mm, 0.0]], region_names=["src", "dst"])


def _small_sigma(params, v_std=0.05):
    f = np.linspace(0.1, 200.0, 4000)
    var1 = np.trapezoid(linear_psd(f, params.replace(sigma=1.0)), f)
    return float(v_std / np.sqrt(var1))


def _peak(f, p, fmin=5.0, fmax=20.0):
    """Peak frequency of a spectrum (parabolic refinement of the largest bin)."""
    sel = np.flatnonzero((f >= fmin) & (f <= fmax))
    i = sel[np.argmax(p[sel])]
    a, b, c = np.log(p[i - 1 : i + 2])
    return f[i] + 0.5 * (a - c) / (a - 2 * b + c) * (f[1] - f[0]), i


# ----------------------------------------------------------------------------
# connectivity
@pytest.fixture(scope="module")
def tvb76():
    pytest.importorskip("tvb_data")
    return load_connectivity("tvb76")


# ----------------------------------------------------------------------------
# simulation
@pytest.mark.parametrize("method, coupling", [("splitting", "seed"), ("splitting", "tvb"), ("euler", "seed")])
def test_zero_coupling_equals_independent_columns(tvb76, method, coupling):
    """G = 0, beta = 0: region i is column i of simulate() with the same seed, bit for bit."""
    n = tvb76.n_regions
    P = JRParams(mu=np.linspace(80.0, 400.0, n), sigma=np.linspace(1.0, 20.0, n))
    kw = dict(dt=1e-4 if method == "euler" else 5e-4, sfreq=250.0, transient=0.2, seed=7, method=method)
    net = simulate_network(tvb76, 1.0, P, global_coupling=0.0, coupling=coupling, **kw)
    ref = simulate(P, 1.0, **kw)
    assert isinstance(net, NetworkSimulation)
    np.testing.assert_array_equal(net.data, ref.data)
    np.testing.assert_array_equal(net.final_state, ref.final_state)
    # a batch of two networks: rows follow params.flat(), streams c = s * n + i
    Pb = JRParams(mu=np.stack([P.mu, P.mu[::-1]]), sigma=5.0)
    netb = simulate_network(tvb76, 0.5, Pb, global_coupling=0.0, **kw)
    refb = simulate(Pb, 0.5, **kw)
    np.testing.assert_array_equal(netb.data, refb.data)
    assert netb.data_sets.shape == (2, n, netb.n_times)
    # with coupling the traces differ (the test can fail)
    coupled = simulate_network(
        tvb76, 1.0, P, global_coupling=5.0 if coupling == "tvb" else 2e3, coupling=coupling, **kw
    )
    assert not np.allclose(coupled.data, ref.data)


def test_beta_zero_is_plain_network_and_beta_changes_it():
    conn = _two_nodes(30.0)
    P = JRParams(mu=np.array([360.0, 380.0]), sigma=2.0)
    kw = dict(dt=1e-3, sfreq=100.0, transient=0.5, seed=3, coupling="tvb")
    a = simulate_network(conn, 5.0, P, global_coupling=3.0, **kw)
    b = simulate_network(conn, 5.0, P, global_coupling=3.0, beta=0.0, **kw)
    np.testing.assert_array_equal(a.data, b.data)
    c = simulate_network(conn, 5.0, P, global_coupling=3.0, beta=5.0, **kw)
    assert not np.allclose(a.data, c.data)
    # the mean field raises the input of every column: the fixed point follows
    fp0 = network_fixed_point(conn, P, global_coupling=3.0, coupling="tvb")
    fp1 = network_fixed_point(conn, P, global_coupling=3.0, coupling="tvb", beta=5.0)
    assert np.all(fp1.input > fp0.input)
    assert np.all(np.abs(c.data.mean(axis=1) - fp1.v) < np.abs(c.data.mean(axis=1) - fp0.v))


def test_seed_reproducible_and_raw(tvb76):
    P = JRParams(mu=400.0, sigma=5.0)
    kw = dict(global_coupling=1e3, dt=5e-4, transient=0.1, seed=11)
    a = simulate_network(tvb76, 0.5, P, **kw)
    b = simulate_network(tvb76, 0.5, P, n_jobs=2, **kw)
    np.testing.assert_array_equal(a.data, b.data)
    raw = a.to_raw()
    assert raw.ch_names == list(tvb76.region_names)
    assert raw.info["sfreq"] == 250.0
    np.testing.assert_allclose(raw.get_data(), a.data * 1e-3)
    assert "seed coupling" in raw.info["description"]


def test_mean_coupling_sets_the_operating_point():
    """The simulated mean follows the coupled fixed point, not the uncoupled one."""
    conn = _two_nodes(15.0)
    P = JRParams(mu=400.0)
    P = P.replace(sigma=_small_sigma(P, 0.02))
    G = 1e4
    fp = network_fixed_point(conn, P, global_coupling=G)
    assert fp.stable
    # dt = 0.25 ms: splitting shifts equilibria by O(dt^2) (4e-3 mV here)
    sim = simulate_network(conn, 10.0, P, global_coupling=G, dt=2.5e-4, sfreq=100.0, seed=0)
    v_free = stable_v(P)
    assert abs(fp.v[1] - v_free) > 0.3  # the coupling moves region 1 ...
    assert abs(sim.data[1].mean() - fp.v[1]) < 0.02  # ... and the simulation follows
    assert abs(sim.data[0].mean() - v_free) < 0.02


def test_delay_rounding_warning(caplog):
    conn = _two_nodes(0.1)  # 0.033 ms at 3 m/s: below half a step of 1 ms
    with caplog.at_level("WARNING", logger="jrfit"):
        simulate_network(conn, 1.0, JRParams(mu=400.0), global_coupling=1.0, dt=1e-3, sfreq=100.0, seed=0)
    assert "round to 0 steps" in caplog.text


# ----------------------------------------------------------------------------
# simulation against the linearised cross-spectrum
def _expected_welch(conn, freqs, params, seg, sfreq, half_width=4.0, **kw):
    """Linearised CSD seen through Welch's Hann window: E[estimate] = S convolved with |W|^2.

    Narrow peaks are smeared by the window (resolution about 2 / seg Hz); comparing
    the estimate with this expectation removes that bias from the test.
    """
    m = int(round(seg * sfreq))
    w = signal.get_window("hann", m)
    d = np.arange(-half_width, half_width + 1e-9, 0.005)
    kern = np.abs(np.exp(-2j * np.pi * d[:, None] * np.arange(m)[None, :] / sfreq) @ w) ** 2
    kern /= np.trapezoid(kern, d)
    grid = (np.asarray(freqs)[:, None] + d[None, :]).ravel()
    lin = linear_cross_spectrum(conn, np.abs(grid), params, **kw)
    csd = lin.csd.reshape(lin.csd.shape[:2] + (len(freqs), d.size))
    return np.trapezoid(csd * kern, d, axis=-1), lin.fixed_point


_CASES = {
    # coupling into y0'' (docs/model.md, section 11): region 1 is pushed to its lower branch
    "seed": dict(coupling="seed", mu=400.0, global_coupling=1e4, beta=0.0),
    "tvb": dict(coupling="tvb", mu=500.0, global_coupling=30.0, beta=0.0),
    "tvb+psi": dict(coupling="tvb", mu=500.0, global_coupling=10.0, beta=-20.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(_CASES))
def test_simulated_cross_spectrum_matches_linear(case):
    """Peak within 0.25 Hz and coherence at the peak within 0.1 of the linearisation."""
    c = dict(_CASES[case])
    mu = c.pop("mu")
    conn = _two_nodes(3e3 * 0.012)  # 12 ms at 3 m/s
    P = JRParams(mu=mu)
    P = P.replace(sigma=_small_sigma(P))
    seg, sfreq = 4.0, 100.0
    sim = simulate_network(conn, 600.0, P, dt=5e-4, sfreq=sfreq, transient=2.0, seed=5, **c)
    emp = sim.cross_spectrum(seg=seg)
    assert emp.n_segments > 250
    fine = np.linspace(2.0, 30.0, 2801)
    lin = linear_cross_spectrum(conn, fine, P, **c)
    # peaks: of region 0 (the driver) and of the cross-spectrum |S_01|
    for lin_curve, emp_curve in ((lin.psd[0], emp.psd[0]), (np.abs(lin.csd[0, 1]), np.abs(emp.csd[0, 1]))):
        f_lin = fine[np.argmax(lin_curve)]
        f_sim, k = _peak(emp.freqs, emp_curve)
        assert abs(f_sim - f_lin) < 0.25, (f_sim, f_lin)
    # coherence and levels at the peak bin, against the window-smoothed linearisation
    exp_csd, fp = _expected_welch(conn, emp.freqs[k - 2 : k + 3], P, seg, sfreq, **c)
    assert fp.stable
    exp_psd = np.real(np.einsum("iif->if", exp_csd))
    coh_lin = np.abs(exp_csd[0, 1, 2]) ** 2 / (exp_psd[0, 2] * exp_psd[1, 2])
    coh_sim = emp.coherence()[0, 1, k]
    assert coh_lin > 0.2
    assert abs(coh_sim - coh_lin) < 0.1, (coh_sim, coh_lin)
    ratio = emp.psd[:, k - 2 : k + 3].mean(axis=1) / exp_psd.mean(axis=1)
    assert np.all(np.abs(ratio - 1) < 0.2), ratio
    # an uncoupled pair has no coherence: the check can fail
    uncoupled = linear_cross_spectrum(conn, emp.freqs[k : k + 1], P, **{**c, "global_coupling": 0.0, "beta": 0.0})
    assert abs(coh_sim - uncoupled.coherence()[0, 1, 0]) > 0.2


@pytest.mark.slow
def test_delay_gives_phase_lag_in_simulation():
    """Pure delay tau: the cross-spectral phase at the peak shifts by 2 pi f tau (10 %)."""
    P = JRParams(mu=360.0)
    P = P.replace(sigma=_small_sigma(P))
    tau = 0.02
    kw = dict(global_coupling=10.0, coupling="tvb", dt=1e-3, sfreq=100.0, transient=2.0, seed=2)
    phases = []
    for length in (0.0, tau * 3e3):
        sim = simulate_network(_two_nodes(length), 300.0, P, **kw)
        assert sim.delay_steps[1, 0] == round(length / 3.0)
        emp = sim.cross_spectrum(seg=4.0)
        f0, k = _peak(emp.freqs, emp.psd[1])
        sel = slice(k - 1, k + 2)
        phases.append(np.angle(emp.csd[0, 1, sel].sum()))
    lag = np.angle(np.exp(1j * (phases[1] - phases[0])))
    expected = 2 * np.pi * f0 * tau
    assert abs(lag - expected) < 0.1 * expected, (lag, expected, f0)


def test_welch_csd_matches_scipy():
    conn = _two_nodes(30.0)
    sim = simulate_network(
        conn, 20.0, JRParams(mu=400.0, sigma=5.0), global_coupling=3.0, coupling="tvb", dt=1e-3, sfreq=100.0, seed=1
    )
    emp = sim.cross_spectrum(seg=2.0)
    f, p = signal.welch(sim.data, fs=100.0, nperseg=200)
    np.testing.assert_allclose(emp.freqs, f)
    np.testing.assert_allclose(emp.psd, p, rtol=1e-10)
    f, pxy = signal.csd(sim.data[0], sim.data[1], fs=100.0, nperseg=200)
    np.testing.assert_allclose(emp.csd[0, 1], np.conj(pxy), rtol=1e-10, atol=1e-20)


# ----------------------------------------------------------------------------
# command line
def test_cli_simulate_network(tmp_path, tvb76):
    out = tmp_path / "net.npz"
    fig = tmp_path / "coh.png"
    code = main(
        [
            "simulate",
            "--network",
            "tvb76",
            "--global-coupling",
            "1000",
            "--speed",
            "3",
            "--duration",
            "4",
            "--mu",
            "400",
            "--seed",
            "0",
            "--transient",
            "0.2",
            "--out",
            str(out),
            "--plot",
            str(fig),
        ]
    )
    assert code == 0
    with np.load(out) as z:
        assert z["data"].shape == (76, 1000)
        assert list(z["ch_names"][:2]) == ["rA1", "rA2"]
        assert float(z["global_coupling"]) == 1000.0 and str(z["coupling"]) == "seed"
    assert fig.stat().st_size > 10_000
    ref = simulate_network(tvb76, 4.0, JRParams(mu=400.0), global_coupling=1000.0, seed=0, transient=0.2)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["data"], ref.data)


def test_cli_network_errors(tmp_path, capsys):
    code = main(
        [
            "simulate",
            "--network",
            str(tmp_path / "nope.npz"),
            "--global-coupling",
            "1",
            "--duration",
            "1",
            "--out",
            str(tmp_path / "x.npz"),
        ]
    )
    assert code == 2
    assert "not found" in capsys.readouterr().err
    code = main(["simulate", "--network", "tvb76", "--duration", "1", "--out", str(tmp_path / "x.npz")])
    assert code == 2
    assert "--global-coupling" in capsys.readouterr().err
    code = main(["simulate", "--global-coupling", "3", "--duration", "1", "--out", str(tmp_path / "x.npz")])
    assert code == 2
    assert "--network" in capsys.readouterr().err
