"""Tests of jrfit.simulators.column: spectra, limits, reproducibility, decimation, memory."""

import tracemalloc

import numpy as np
import pytest
from scipy import signal

import jrfit.simulators.column as jsim
from jrfit import JRFitError, JRParams
from jrfit.model.column import fixed_points, sigmoid
from jrfit.model.spectrum import linear_psd, stable_v
from jrfit.simulators.column import Simulation, Trajectory, antialias_filter, integrate, simulate


def _small_sigma(params, v_std=0.05):
    """Noise intensity (/s^0.5) giving a linear-regime v std of ``v_std`` mV."""
    f = np.linspace(0.1, 200.0, 4000)
    var1 = np.trapezoid(linear_psd(f, params.replace(sigma=1.0)), f)
    return v_std / np.sqrt(var1)


def _welch(sim, seg):
    f, p = signal.welch(sim.data, fs=sim.sfreq, nperseg=int(round(seg * sim.sfreq)))
    return f, p.mean(axis=0)


def _band_ratio(f, p_sim, params, f0, half=0.25):
    sel = np.abs(f - f0) <= half
    return p_sim[sel].mean() / linear_psd(f[sel], params).mean()


def _limit_cycle(v, times, last=4.0):
    """Frequency (Hz, from mean-level up-crossings) and peak-to-peak (mV)."""
    sel = times > times[-1] - last
    v, t = v[sel], times[sel]
    m = v.mean()
    i = np.flatnonzero((v[:-1] < m) & (v[1:] >= m))
    tc = t[i] + (m - v[i]) / (v[i + 1] - v[i]) * (t[i + 1] - t[i])
    return 1.0 / np.mean(np.diff(tc)), v.max() - v.min()


# ----------------------------------------------------------------------------
# spectra against the closed-form linearised PSD (docs/model.md sections 3-4)
def _peak_frequency(f, p, smooth=0.5):
    """Peak of a Welch PSD: boxcar-smoothed over ``smooth`` Hz, parabolic refinement."""
    k = max(1, int(round(smooth / (f[1] - f[0]))) | 1)
    ps = np.convolve(np.log(p), np.ones(k) / k, mode="same")
    ps[(f < 1.0) | (f > f[-1] - smooth)] = -np.inf
    i = int(np.argmax(ps))
    a, b, c = ps[i - 1 : i + 2]
    return f[i] + 0.5 * (a - c) / (a - 2 * b + c) * (f[1] - f[0])


def _check_psd(sim, params, freqs, seg, tol_peak=0.1, tol_level=0.10):
    f, p = _welch(sim, seg)
    ff = np.linspace(1.0, 30.0, 30001)
    f_lin = ff[np.argmax(linear_psd(ff, params))]
    f_sim = _peak_frequency(f, p)
    assert abs(f_sim - f_lin) < tol_peak, (f_sim, f_lin)
    for f0 in freqs:
        ratio = _band_ratio(f, p, params, f0)
        assert abs(ratio - 1) < tol_level, (f0, ratio)


@pytest.mark.parametrize("mu, n_col, duration, seg", [(500.0, 16, 400.0, 8.0), (340.0, 32, 1000.0, 32.0)])
def test_psd_splitting_matches_linear(mu, n_col, duration, seg):
    """Splitting at dt = 1 ms reproduces 2 sigma^2 |H|^2 (peak and levels)."""
    P = JRParams(mu=mu)
    fp = fixed_points(P)[-1]
    assert fp.stable and fp.kind == "stable focus"
    P = P.replace(sigma=_small_sigma(P))
    batch = P.replace(mu=np.full(n_col, mu))
    sim = simulate(batch, duration, dt=1e-3, sfreq=100.0, transient=2.0, seed=0)
    assert sim.data.shape == (n_col, int(duration * 100))
    _check_psd(sim, P, freqs=[6.0, fp.frequency, 20.0], seg=seg)


def test_psd_euler_small_dt_matches_linear_and_large_dt_is_biased():
    """Euler-Maruyama matches the linear PSD only at a small dt (docs/model.md section 9)."""
    P = JRParams(mu=500.0)
    fp = fixed_points(P)[-1]
    assert fp.stable
    P = P.replace(sigma=_small_sigma(P))
    batch = P.replace(mu=np.full(8, 500.0))
    sim = simulate(batch, 300.0, dt=5e-5, sfreq=100.0, transient=2.0, method="euler", seed=1)
    _check_psd(sim, P, freqs=[6.0, fp.frequency, 20.0], seg=8.0)
    # the same check fails for Euler at dt = 1 ms: the peak is inflated
    coarse = simulate(batch, 300.0, dt=1e-3, sfreq=100.0, transient=2.0, method="euler", seed=1)
    f, p = _welch(coarse, 8.0)
    assert _band_ratio(f, p, P, fp.frequency) > 1.5
    with pytest.raises(AssertionError):
        _check_psd(coarse, P, freqs=[6.0, fp.frequency, 20.0], seg=8.0)


# ----------------------------------------------------------------------------
# limits of the model (docs/model.md section 1, issue)
def _settled(traj, last=1.0):
    sel = traj.times > traj.times[-1] - last
    return traj.y[..., sel]


@pytest.mark.parametrize("method", ["splitting", "rk4"])
def test_c_zero_cuts_the_loop(method):
    P = JRParams(C=0.0, mu=220.0)
    tr = integrate(P, 220.0, 1e-4, duration=1.0, y_init=np.zeros(6), method=method)
    y = _settled(tr, 0.2)
    v = y[1] - y[2]
    # splitting's discrete equilibrium is off by O((a dt)^2) (here 4e-6)
    rtol = 5e-5 if method == "splitting" else 1e-9
    assert np.allclose(v, P.A / P.a * P.mu, rtol=rtol)
    assert np.allclose(y[0], P.A / P.a * sigmoid(v, P.e0, P.r, P.v0), rtol=rtol)
    assert y[0, -1] > 0.05  # S(0) > 0: y0 is not zero
    assert np.ptp(v) < 1e-6  # no oscillation
    # the step response of y1 (from rest) is critically damped: never overshoots
    assert np.all(np.diff(tr.y[1]) >= -1e-12)


def test_linear_regime_impulse_response():
    """With C = 0 the y1 response to a unit impulse in p is A a t e^{-a t}.

    An impulse of area eps in p makes y4 (= y1') jump by A a eps. The loop is
    cut, so y1 is linear: the difference between the kicked and the unkicked
    run is the impulse response, which splitting propagates exactly.
    """
    P = JRParams(C=0.0, mu=220.0, a=80.0, A=4.0)
    y_star = np.array([0, P.A / P.a * P.mu, 0, 0, 0, 0], float)
    y_star[0] = P.A / P.a * sigmoid(y_star[1], P.e0, P.r, P.v0)
    eps = 1e-3  # impulse area, in /s * s
    kick = y_star + np.array([0, 0, 0, 0, P.A * P.a * eps, 0])
    for method, tol in (("splitting", 1e-9), ("rk4", 1e-7)):
        base = integrate(P, 220.0, 1e-4, duration=0.3, y_init=y_star, method=method)
        tr = integrate(P, 220.0, 1e-4, duration=0.3, y_init=kick, method=method)
        t = tr.times
        expect = eps * P.A * P.a * t * np.exp(-P.a * t)
        resp = tr.y[1] - base.y[1]
        assert np.max(np.abs(resp - expect)) < tol * np.max(expect), method
        assert np.argmax(resp) == np.argmin(np.abs(t - 1 / P.a))  # peak at 1/a
        # the rest of the column sees it only through S(v): y2 is untouched
        assert np.array_equal(tr.y[2], base.y[2])


def test_b_zero_runaway_to_saturation():
    P = JRParams(B=0.0, mu=220.0)
    tr = integrate(P, 220.0, 1e-4, duration=2.0, y_init=np.zeros(6), method="rk4")
    y = _settled(tr)
    v = y[1] - y[2]
    S = sigmoid(v, P.e0, P.r, P.v0)
    assert np.all(S > 0.99 * 2 * P.e0)  # saturated firing
    assert np.ptp(v) < 1e-6  # no oscillation
    assert np.isclose(v[-1], stable_v(P), rtol=1e-6)
    # runaway: v rises (almost) monotonically, no ringing back below the end value
    assert tr.v.max() < v[-1] * 1.01
    # the same with the stochastic simulator (sigma = 0)
    sim = simulate(P.replace(sigma=0.0), 1.0, dt=5e-4, transient=1.0, y_init=np.zeros(6))
    assert np.allclose(sim.data, stable_v(P), rtol=1e-3)


def test_a_zero_no_excitation():
    P = JRParams(A=0.0, mu=220.0)
    tr = integrate(P, 220.0, 1e-4, duration=1.0, y_init=np.zeros(6), method="splitting")
    assert np.all(tr.y[0] == 0) and np.all(tr.y[1] == 0)
    v = _settled(tr, 0.2)[1] - _settled(tr, 0.2)[2]
    expect = -(P.B / P.b) * P.C4 * sigmoid(0.0, P.e0, P.r, P.v0)
    assert np.allclose(v, expect, rtol=1e-5)  # splitting's O((b dt)^2 / 24) offset
    tr = integrate(P, 220.0, 1e-4, duration=1.0, y_init=np.zeros(6), method="rk4")
    assert np.allclose(_settled(tr, 0.2)[1] - _settled(tr, 0.2)[2], expect, rtol=1e-9)
    assert np.ptp(v) < 1e-6


# ----------------------------------------------------------------------------
# deterministic accuracy on the p = 220 alpha limit cycle (docs/model.md section 9)
def test_limit_cycle_splitting_vs_rk4_and_euler_bias(capsys):
    P = JRParams(mu=220.0)
    y0 = np.array([0.1, 20.0, 12.0, 0, 0, 0])  # away from the focus, onto the cycle fast
    res = {}
    for method, dt in [("rk4", 1e-4), ("splitting", 1e-3), ("splitting", 1e-4), ("euler", 1e-3)]:
        tr = integrate(P, 220.0, dt, duration=12.0, y_init=y0, method=method)
        res[method, dt] = _limit_cycle(tr.v, tr.times)
    f_ref, pp_ref = res["rk4", 1e-4]
    assert abs(f_ref - 10.94) < 0.01 and abs(pp_ref - 2.95) < 0.01
    f1, pp1 = res["splitting", 1e-3]
    assert abs(f1 / f_ref - 1) < 0.01 and abs(pp1 / pp_ref - 1) < 0.02
    f2, pp2 = res["splitting", 1e-4]
    assert abs(f2 / f_ref - 1) < 1e-3 and abs(pp2 / pp_ref - 1) < 1e-3
    fe, ppe = res["euler", 1e-3]
    assert abs(fe - 10.0) < 0.15 and abs(ppe - 6.1) < 0.2  # forward Euler's bias
    assert abs(fe / f_ref - 1) > 0.05 and ppe / pp_ref > 1.5
    with capsys.disabled():
        print(
            "\n  p=220 limit cycle (Hz, mV pp): "
            + ", ".join(f"{m}@{dt * 1e3:g}ms {f:.3f} {pp:.3f}" for (m, dt), (f, pp) in res.items())
        )


def test_splitting_is_second_order():
    P = JRParams(mu=220.0)
    y0 = np.array([0.1, 20.0, 12.0, 0, 0, 0])
    ref = integrate(P, 220.0, 1e-4, duration=0.5, y_init=y0, method="rk4").y[:, -1]
    err = [
        np.abs(integrate(P, 220.0, dt, duration=0.5, y_init=y0).y[:, -1] - ref)[:3].max() for dt in (2e-3, 1e-3, 5e-4)
    ]
    order = np.log2(np.array(err[:-1]) / np.array(err[1:]))
    assert np.all((order > 1.7) & (order < 2.3)), order


def test_integrate_time_varying_input_and_batch():
    P = JRParams(mu=np.array([60.0, 340.0]))
    dt = 1e-4
    t = np.arange(0, 0.4 + dt / 2, dt)
    pulse = 0.5 * (t / 5e-3) ** 7 * np.exp(-t / 5e-3)  # JR 1995 visual input, docs/model.md section 10
    p = P.mu[:, None] + 1e3 * pulse[None]
    out = {m: integrate(P, p, dt, method=m, sfreq=1000.0) for m in ("rk4", "splitting")}
    tr = out["rk4"]
    assert isinstance(tr, Trajectory)
    assert tr.y.shape == (6, 2, 401) and tr.v.shape == (2, 401)
    assert np.allclose(tr.times, np.arange(401) * 1e-3)
    # default start: the stable fixed point for p(0)
    assert np.allclose(tr.v[:, 0], stable_v(P))
    assert np.all(np.ptp(tr.v, axis=1) > 0.1)  # the pulse evokes a response
    assert np.max(np.abs(out["splitting"].v - tr.v)) < 1e-3 * np.ptp(tr.v)
    # a constant input at the stable fixed point stays there
    still = integrate(P, None, dt, duration=1.0, method="rk4")
    assert np.max(np.abs(still.v - stable_v(P)[:, None])) < 1e-9
    # (splitting converges to its own equilibrium, off by O(dt^2))
    still = integrate(P, None, dt, duration=1.0)
    assert np.max(np.abs(still.v / stable_v(P)[:, None] - 1)) < 1e-4
    # one shared time course for the whole batch
    shared = integrate(P, p[0], dt, method="rk4", sfreq=1000.0)
    assert np.array_equal(shared.v[0], tr.v[0])


# ----------------------------------------------------------------------------
# reproducibility
@pytest.fixture(scope="module")
def batch():
    mus = np.array([500.0, 340.0, 60.0, 220.0, 120.0])
    return JRParams(mu=np.tile(mus, 14), sigma=1.0)  # 70 columns: two groups of the kernel


def test_seed_reproducible_and_independent(batch):
    kw = dict(duration=2.0, dt=1e-3, sfreq=250.0, transient=0.5)
    a = simulate(batch, seed=7, **kw)
    b = simulate(batch, seed=7, n_jobs=2, **kw)
    assert np.array_equal(a.data, b.data)
    assert np.array_equal(a.final_state, b.final_state)
    c = simulate(batch, seed=8, **kw)
    assert not np.any(np.isclose(a.data[:, 50:], c.data[:, 50:], rtol=0, atol=1e-12).all(axis=1))
    assert a.seed == 7
    # column i draws from SeedSequence(seed).spawn(n_columns)[i]
    child = np.random.SeedSequence(7).spawn(70)[33]
    assert np.array_equal(
        jsim.driver.column_generator(np.random.SeedSequence(7), 33).standard_normal(5),
        np.random.Generator(np.random.PCG64(child)).standard_normal(5),
    )
    # column 0 alone (column-by-column kernel path) = column 0 of the batch (vectorised path)
    alone = simulate(batch[0:1], seed=7, **kw)
    assert np.array_equal(alone.data[0], a.data[0])
    single = simulate(batch[0], seed=7, **kw)
    assert np.array_equal(single.data[0], a.data[0])
    # changing the other columns does not change column 0
    other = batch.replace(mu=np.r_[500.0, np.full(69, 300.0)])
    assert np.array_equal(simulate(other, seed=7, **kw).data[0], a.data[0])
    # seed=None records the entropy it drew
    d = simulate(batch[:3], seed=None, **kw)
    assert np.array_equal(simulate(batch[:3], seed=d.seed, **kw).data, d.data)


def test_block_size_does_not_change_output(batch, monkeypatch):
    kw = dict(duration=3.0, dt=1e-3, sfreq=250.0, transient=0.3, seed=3)
    ref = simulate(batch[:6], **kw)
    monkeypatch.setattr(jsim, "_BLOCK_ELEMS", 6 * 37)
    monkeypatch.setattr(jsim, "_GROUP", 4)
    assert np.array_equal(simulate(batch[:6], **kw).data, ref.data)
    assert np.array_equal(simulate(batch[:6], n_jobs=-1, **kw).data, ref.data)


# ----------------------------------------------------------------------------
# decimation without aliasing
def test_decimated_psd_not_aliased():
    """The 10.4 Hz peak lies above the output Nyquist (6.25 Hz) and must not fold back."""
    P = JRParams(mu=500.0)
    P = P.replace(sigma=_small_sigma(P))
    batch = P.replace(mu=np.full(8, 500.0))
    kw = dict(dt=1e-3, transient=2.0, seed=2)
    sim = simulate(batch, 400.0, sfreq=12.5, **kw)
    f, p = _welch(sim, 16.0)
    for f0 in (2.1, 4.0, 0.4 * sim.sfreq):
        assert abs(_band_ratio(f, p, P, f0) - 1) < 0.1, f0
    # control: plain subsampling of the full-rate signal aliases the peak to 12.5 - 10.4 Hz
    full = simulate(batch, 400.0, sfreq=1000.0, **kw)
    naive = Simulation(
        times=full.times[::80], data=full.data[:, ::80], sfreq=12.5, dt=1e-3, method="splitting", seed=2, params=batch
    )
    f, p = _welch(naive, 16.0)
    assert _band_ratio(f, p, P, 2.1) > 2.0


def test_decimation_has_no_delay_and_final_state():
    """Filtered output = exact samples of the solution (no shift); final_state continues."""
    P = JRParams(mu=220.0, sigma=0.0)
    y0 = np.array([0.1, 20.0, 12.0, 0, 0, 0])
    dt = 5e-4
    sim = simulate(P, 3.0, dt=dt, sfreq=250.0, transient=1.0, y_init=y0)
    tr = integrate(P, 220.0, dt, duration=4.5, y_init=y0, sfreq=250.0)
    ref = tr.v[250:1000]
    assert np.max(np.abs(sim.data[0] - ref)) < 5e-4 * np.ptp(ref)  # a 1-step shift: 3e-2
    # final_state is the state at transient + duration (where the next sample falls)
    assert np.allclose(sim.final_state[:, 0], tr.y[:, 1000], rtol=1e-9, atol=1e-9)
    assert sim.final_state.shape == (6, 1)
    # continuing from final_state: the same trajectory, once the filter (half
    # length 74 ms here) no longer reaches back before the restart
    nxt = simulate(P, 0.5, dt=dt, sfreq=250.0, transient=0.0, y_init=sim.final_state)
    lag = len(antialias_filter(dt, 250.0)) // 2 // 8 + 1
    ref = tr.v[1000:1125]
    assert np.max(np.abs(nxt.data[0, lag:] - ref[lag:])) < 5e-3 * np.ptp(ref)


# ----------------------------------------------------------------------------
# memory stays bounded: only the decimated output grows with duration
def test_memory_bounded():
    P = JRParams(mu=np.array([220.0, 500.0, 340.0, 60.0]), sigma=1.0)
    y0 = np.tile(np.array([0.1, 20.0, 12.0, 0, 0, 0])[:, None], (1, 4))
    kw = dict(dt=1e-4, sfreq=250.0, transient=0.0, y_init=y0, seed=0)
    simulate(P, 1.0, **kw)  # compile / warm up
    peaks = []
    for duration in (20.0, 40.0):
        tracemalloc.start()
        sim = simulate(P, duration, **kw)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        del sim
    out_growth = (4 + 1) * 250 * 20.0 * 8  # data and times of 20 s more, in bytes
    full_rate_growth = 4 * 20.0 / 1e-4 * 8  # what a full-rate history of v would add
    growth = peaks[1] - peaks[0]
    assert growth < out_growth + 64_000, (growth, out_growth)
    assert growth < 0.05 * full_rate_growth


# ----------------------------------------------------------------------------
# API
def test_to_raw_and_psd():
    P = JRParams(mu=np.array([500.0, 340.0]), sigma=1.0)
    sim = simulate(P, 20.0, seed=0)
    raw = sim.to_raw()
    assert raw.ch_names == ["JR000", "JR001"]
    assert raw.get_channel_types() == ["eeg", "eeg"]
    assert raw.info["sfreq"] == sim.sfreq == 250.0
    assert np.allclose(raw.get_data(), sim.data * 1e-3)  # mV -> V
    spec = raw.compute_psd(method="welch", n_fft=1000, n_overlap=500, window="hann", verbose=False)
    f, p = signal.welch(sim.data, fs=250.0, nperseg=1000, noverlap=500, detrend=False)
    k = (f > 1) & (f < 100)
    assert np.allclose(spec.get_data(fmin=f[k][0], fmax=f[k][-1]) * 1e6, p[:, k], rtol=1e-6)
    assert sim.to_raw(ch_names=["a", "b"]).ch_names == ["a", "b"]
    with pytest.raises(JRFitError, match="one name per column"):
        sim.to_raw(ch_names=["a"])
    assert "2 column(s)" in repr(sim)
    with pytest.raises(AttributeError):
        sim.sfreq = 100.0
    with pytest.raises(ValueError):
        sim.data[0, 0] = 1.0


def test_default_start_and_batch_shapes(caplog):
    P = JRParams(mu=np.array([[500.0, 220.0, 60.0]]), sigma=0.0)
    with caplog.at_level("INFO", logger="jrfit"):
        sim = simulate(P, 0.5, transient=0.0, verbose="info")
    assert "no stable fixed point" in caplog.text and "Simulating 3 column(s)" in caplog.text
    assert sim.data.shape == (3, 125) and sim.times[1] == 1 / 250
    # sigma = 0 at a stable point: the column stays at its fixed point
    # (up to splitting's O(dt^2) equilibrium offset, 1e-3 here)
    assert np.allclose(sim.data[0], stable_v(P[0, 0]), rtol=2e-3)
    assert np.allclose(sim.data[2], stable_v(P[0, 2]), rtol=2e-3)


def test_bad_arguments():
    P = JRParams()
    with pytest.raises(JRFitError, match="'duration'"):
        simulate(P, -1.0)
    with pytest.raises(JRFitError, match="must not exceed the integration rate"):
        simulate(P, 1.0, dt=1e-3, sfreq=2000.0)
    with pytest.raises(JRFitError, match="integer multiple"):
        simulate(P, 1.0, dt=1e-3, sfreq=300.0)
    with pytest.raises(JRFitError, match="Allowed values are 'splitting' and 'euler'"):
        simulate(P, 1.0, method="rk4")
    with pytest.raises(JRFitError, match="'seed'"):
        simulate(P, 1.0, seed=-3)
    with pytest.raises(JRFitError, match="'n_jobs'"):
        simulate(P, 1.0, n_jobs=0)
    with pytest.raises(JRFitError, match="y_init"):
        simulate(P, 1.0, y_init=np.zeros(5))
    with pytest.raises(JRFitError, match="'transient'"):
        simulate(P, 1.0, transient=-1.0)
    with pytest.raises(JRFitError, match="shorter than one sample"):
        simulate(P, 1e-3)
    with pytest.raises(JRFitError, match="JRParams"):
        simulate({"mu": 220.0}, 1.0)
    with pytest.raises(JRFitError, match="'duration'"):
        integrate(P, 220.0, 1e-4)
    with pytest.raises(JRFitError, match="Allowed values are 'splitting', 'rk4' and 'euler'"):
        integrate(P, 220.0, 1e-4, duration=1.0, method="heun")
    with pytest.raises(JRFitError, match="'p' must have shape"):
        integrate(JRParams(mu=np.ones(3)), np.ones((2, 10)), 1e-4)
