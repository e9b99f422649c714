"""Bifurcation diagram, limit cycles and regimes against published and independent facts.

Published values: docs/model.md, sections 5 and 9 (Grimbert & Faugeras 2006 for the
default Jansen-Rit parameters). Independent checks use the Jacobian's
eigenvalues, the Routh-Hurwitz array of the closed-form characteristic
polynomial, the fixed-point count, a tight-tolerance scipy integrator and plain
simulation, none of which the code under test uses for the same quantity.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

from jrfit import JRFitError, JRParams, ModelError  # noqa: E402
from jrfit.dynamics.bifurcation import (  # noqa: E402
    REGIMES,
    Bifurcation,
    bifurcation,
    hurwitz_determinant,
    limit_cycle,
    regime,
)
from jrfit.model.column import dp_dv, drift, eigenvalues, fixed_points, p_of_v, rhs  # noqa: E402
from jrfit.model.spectrum import char_poly_coeffs, routh_hurwitz  # noqa: E402

P = JRParams()
TOL_P = 0.05  # /s, the required precision of the published points


@pytest.fixture(scope="module")
def bif():
    """The default diagram, computed once (about 7 s)."""
    return bifurcation()


@pytest.fixture(scope="module")
def cycle220():
    return limit_cycle(P, 220.0)


def _one(points, p_ref):
    """The special point closest to p_ref."""
    return min(points, key=lambda pt: abs(pt.p - p_ref))


def _leading_complex_real(v):
    """Real part of the leading complex eigenvalue pair at operating potential v."""
    ev = eigenvalues(v, P)
    cplx = ev[np.abs(ev.imag) > 1e-9]
    return cplx.real.max()


# ---------------------------------------------------------------------------
# published special points (docs/model.md section 5)
def test_published_points_and_counts(bif):
    assert isinstance(bif, Bifurcation)
    assert [pt.label for pt in bif.points] == ["SN", "H", "H", "SNIC", "LPC", "H"]
    assert len(bif.hopf) == 3 and len(bif.folds) == 2 and len(bif.fold_cycles) == 1
    expected = [
        ("hopf", -12.15, "subcritical"),
        ("hopf", 89.83, "supercritical"),
        ("hopf", 315.70, "supercritical"),
        ("fold", -41.30, "saddle-node"),
        ("fold", 113.59, "SNIC"),
        ("fold_cycles", 137.38, "saddle-node of cycles"),
    ]
    for kind, p_ref, crit in expected:
        pt = _one(bif.select(kind), p_ref)
        assert abs(pt.p - p_ref) < TOL_P, (kind, pt.p, p_ref)
        assert pt.criticality == crit, (kind, p_ref, pt.criticality)


def test_hopf_frequencies(bif):
    assert _one(bif.hopf, 89.83).frequency == pytest.approx(10.4, abs=0.1)
    assert _one(bif.hopf, 315.70).frequency == pytest.approx(11.2, abs=0.1)
    # the Lyapunov coefficient's sign is what decides the criticality
    assert _one(bif.hopf, 89.83).lyapunov < 0
    assert _one(bif.hopf, 315.70).lyapunov < 0
    assert _one(bif.hopf, -12.15).lyapunov > 0


def test_hopf_where_max_real_part_changes_sign(bif):
    """The Hurwitz-determinant Hopf equals the eigenvalue sign change (independent)."""
    for pt in bif.hopf:
        dv = 0.02
        lo, hi = _leading_complex_real(pt.v - dv), _leading_complex_real(pt.v + dv)
        assert lo * hi < 0, pt
        v_eig = brentq(_leading_complex_real, pt.v - dv, pt.v + dv, xtol=1e-12)
        assert v_eig == pytest.approx(pt.v, abs=1e-7)
        assert p_of_v(v_eig, P) == pytest.approx(pt.p, abs=1e-4)
        # eigenvalues at the point: a purely imaginary pair at the reported frequency
        ev = eigenvalues(pt.v, P)
        i = np.argmin(np.abs(ev.real))
        assert abs(ev[i].real) < 1e-6
        assert abs(ev[i].imag) / (2 * np.pi) == pytest.approx(pt.frequency, rel=1e-9)


def test_routh_hurwitz_counts_two_roots_crossing(bif):
    """Across each Hopf point the Routh array gains or loses two sign changes."""

    def n_rhp(v):
        col = np.array(routh_hurwitz(char_poly_coeffs(v, P)), float)
        return int(np.sum(np.sign(col[:-1]) != np.sign(col[1:])))

    for pt in bif.hopf:
        left, right = n_rhp(pt.v - 0.02), n_rhp(pt.v + 0.02)
        assert abs(left - right) == 2, (pt, left, right)
        # and the count equals the number of eigenvalues with positive real part
        for v in (pt.v - 0.02, pt.v + 0.02):
            assert n_rhp(v) == int(np.sum(eigenvalues(v, P).real > 0))


def test_hurwitz_determinant_is_product_of_routh_entries():
    v = np.array([-2.0, 1.0, 4.0, 6.5, 7.5, 9.0])
    for k in range(1, 6):
        prod = np.ones_like(v)
        for i in range(1, k + 1):
            prod = prod * np.array([routh_hurwitz(char_poly_coeffs(x, P))[i] for x in v])
        scale = float(P.a) ** (k * (k + 1) // 2)  # s -> a s rescaling of the determinant
        np.testing.assert_allclose(hurwitz_determinant(v, P, order=k) * scale, prod, rtol=1e-8)


def test_folds_merge_two_fixed_points(bif):
    for pt, three_side in ((_one(bif.folds, 113.59), -1.0), (_one(bif.folds, -41.30), +1.0)):
        # dp/dv vanishes there (scale of dp/dv: a/A = 30.8 /s/mV)
        assert abs(dp_dv(pt.v, P)) < 1e-8
        n3 = len(fixed_points(P, pt.p + three_side * 0.5))
        n1 = len(fixed_points(P, pt.p - three_side * 0.5))
        assert (n3, n1) == (3, 1), pt
        # just inside, two of the three fixed points sit next to the fold's v
        vs = np.array([fp.v for fp in fixed_points(P, pt.p + three_side * 1e-3)])
        assert np.sum(np.abs(vs - pt.v) < 0.1) == 2


def test_fold_of_cycles_brackets_by_simulation(bif):
    """Independent of the continuation: from rest, the spike-like cycle exists
    0.5 /s below the fold of cycles and is gone 0.5 /s above it."""
    lpc = bif.fold_cycles[0]
    below = limit_cycle(P, lpc.p - 0.5, t_transient=5.0)
    above = limit_cycle(P, lpc.p + 0.5, t_transient=5.0)
    assert below.kind == "spike-like cycle" and below.stable
    assert above.kind == "alpha limit cycle" and above.stable
    assert below.peak_to_peak > 8.0 and above.peak_to_peak < 3.0
    # the continued spike-like branch turns at the fold: no cycle beyond it
    spike = [cb for cb in bif.cycles if cb.kind == "spike-like cycle"][0]
    assert spike.p.max() == pytest.approx(lpc.p, abs=0.02)
    assert lpc.frequency == pytest.approx(1.0 / spike.period[np.argmax(spike.p)], rel=0.02)


def test_snic_birth_of_the_spike_like_cycle(bif):
    snic = _one(bif.folds, 113.59)
    spike = [cb for cb in bif.cycles if cb.kind == "spike-like cycle"][0]
    stable = spike.stable & np.isfinite(spike.period)
    # on the stable part the period grows without bound towards the SNIC
    near = stable & (spike.p < snic.p + 0.5)
    assert np.any(near) and spike.period[near].max() > 0.7
    assert np.all(spike.p[stable] >= snic.p - 1e-6)
    # amplitude and frequency match docs/model.md section 5: 1-5 Hz, about 8-10 mV
    mid = stable & (spike.p > 116) & (spike.p < 136)
    assert np.all((spike.frequency[mid] > 1.0) & (spike.frequency[mid] < 5.0))
    assert np.all((spike.peak_to_peak[mid] > 8.0) & (spike.peak_to_peak[mid] < 10.5))


def test_alpha_cycle_branch(bif):
    alpha = [cb for cb in bif.cycles if cb.kind == "alpha limit cycle"]
    assert len(alpha) == 1
    a = alpha[0]
    assert a.stable.all()
    # born and dying at the two supercritical Hopf points, with zero amplitude
    assert a.p.min() == pytest.approx(89.83, abs=TOL_P)
    assert a.p.max() == pytest.approx(315.70, abs=TOL_P)
    assert a.peak_to_peak.max() == pytest.approx(3.0, abs=0.1)
    assert np.all((a.frequency > 10.3) & (a.frequency < 11.25))
    # simulated attractors lie on the continued branch
    sim = [cb for cb in bif.simulated if cb.kind == "alpha limit cycle"][0]
    order = np.argsort(a.p)
    inside = (sim.p > 100) & (sim.p < 300)
    np.testing.assert_allclose(np.interp(sim.p[inside], a.p[order], a.v_max[order]), sim.v_max[inside], atol=0.02)


# ---------------------------------------------------------------------------
# the alpha limit cycle at p = 220 (docs/model.md section 9)
def test_limit_cycle_p220(cycle220):
    lc = cycle220
    assert lc.kind == "alpha limit cycle" and lc.stable
    assert lc.frequency == pytest.approx(10.94, abs=0.05)
    assert 2.9 <= lc.peak_to_peak <= 3.0
    assert lc.v.max() == pytest.approx(lc.v_max, abs=1e-4)
    assert np.sort(np.abs(lc.multipliers))[-1] == pytest.approx(1.0, abs=1e-6)


def test_limit_cycle_agrees_with_dop853(cycle220):
    """A tight-tolerance scipy integrator (not used by jrfit.dynamics.bifurcation) agrees."""
    lc = cycle220

    def event(t, y):
        return y[1] - y[2] - 0.5 * (lc.v_max + lc.v_min)

    event.direction = 1.0
    sol = solve_ivp(
        lambda t, y: rhs(y, P, 220.0),
        (0.0, 6 * lc.period),
        lc.y0,
        method="DOP853",
        rtol=1e-10,
        atol=1e-12,
        events=event,
        dense_output=True,
    )
    te = sol.t_events[0]
    period = np.diff(te).mean()
    assert period == pytest.approx(lc.period, rel=1e-7)
    t = np.linspace(0.0, 6 * lc.period, 60001)
    y = sol.sol(t)
    v = y[1] - y[2]
    assert v.max() - v.min() == pytest.approx(lc.peak_to_peak, abs=1e-4)


def _forward_euler_cycle(dt, p=220.0, t_transient=5.0, t_measure=5.0):
    """Frequency (Hz) and peak to peak (mV) of the cycle under plain forward Euler."""
    args = (p, P.A, P.B, P.a, P.b, P.C1, P.C2, P.C3, P.C4, P.e0, P.r, P.v0)
    y = [0.0] * 6
    n_tr, n = int(round(t_transient / dt)), int(round(t_measure / dt))
    v = np.empty(n)
    for i in range(n_tr + n):
        d = drift(*y, *args)
        y = [yi + dt * di for yi, di in zip(y, d)]
        if i >= n_tr:
            v[i - n_tr] = y[1] - y[2]
    mid = 0.5 * (v.max() + v.min())
    up = np.flatnonzero((v[:-1] < mid) & (v[1:] >= mid))
    t = (up + (mid - v[up]) / (v[up + 1] - v[up])) * dt
    return (len(t) - 1) / (t[-1] - t[0]), v.max() - v.min()


def test_forward_euler_artefact(cycle220):
    """Forward Euler at dt = 1 ms gives the '10 Hz, 6 mV' artefact (docs/model.md section 9)."""
    f, ptp = _forward_euler_cycle(1e-3)
    assert f == pytest.approx(10.0, abs=0.15)
    assert ptp == pytest.approx(6.1, abs=0.2)
    # far from the exact cycle: about 0.9 Hz too slow and twice the amplitude
    assert cycle220.frequency - f > 0.7
    assert ptp / cycle220.peak_to_peak > 1.9


# ---------------------------------------------------------------------------
# regimes
@pytest.mark.parametrize(
    "changes, label",
    [
        (dict(mu=60.0), "noise-driven oscillatory focus"),
        (dict(mu=350.0), "noise-driven oscillatory focus"),
        (dict(mu=220.0), "alpha limit cycle"),
        (dict(mu=125.0), "spike-like cycle"),
        (dict(mu=-100.0), "quiescent focus"),
        (dict(mu=113.5), "quiescent node"),
        (dict(B=0.0), "runaway"),
        (dict(mu=1000.0), "runaway"),
    ],
)
def test_regime_labels(changes, label):
    r = regime(P.replace(**changes))
    assert r.label == label and str(r) == label
    assert r.label in REGIMES


def test_regime_details():
    r = regime(P.replace(mu=60.0))
    assert r.frequency == pytest.approx(9.89, abs=0.05)
    assert r.quality > 10 and r.n_fixed_points == 3 and r.n_stable == 2
    assert r.coexisting == ("quiescent focus",)
    r = regime(P.replace(mu=125.0))
    assert 1.0 < r.frequency < 5.0 and 8.0 < r.peak_to_peak < 10.5
    assert "alpha limit cycle" in r.coexisting  # reached from the unstable focus
    r = regime(P.replace(mu=220.0))
    assert r.frequency == pytest.approx(10.94, abs=0.1)
    # the quality-factor threshold decides between oscillatory and quiescent foci
    assert regime(P, 600.0).label == "noise-driven oscillatory focus"  # Q = 2.96
    assert regime(P, 600.0, q_min=4.0).label == "quiescent focus"
    # a cycle coexisting with a stable fixed point is found only on request
    assert regime(P, 100.0).coexisting == ()
    assert "alpha limit cycle" in regime(P, 100.0, find_cycles=True).coexisting
    with pytest.raises(ModelError, match="needs a simulation"):
        regime(P, 220.0, find_cycles=False)


def test_regime_batch():
    batch = P.replace(mu=np.array([[60.0, 220.0, 125.0], [-100.0, 350.0, 1000.0]]))
    out = regime(batch)
    assert out.shape == (2, 3)
    labels = np.array([r.label for r in out.ravel()]).reshape(2, 3)
    assert labels[0].tolist() == ["noise-driven oscillatory focus", "alpha limit cycle", "spike-like cycle"]
    assert labels[1].tolist() == ["quiescent focus", "noise-driven oscillatory focus", "runaway"]
    # p given separately broadcasts against a single parameter set
    assert [r.label for r in regime(P, p=[60.0, 220.0])] == ["noise-driven oscillatory focus", "alpha limit cycle"]


def test_argument_errors():
    with pytest.raises(JRFitError, match="'find_cycles'"):
        regime(P, find_cycles="sometimes")
    with pytest.raises(ModelError, match="one parameter set"):
        bifurcation(P.replace(mu=np.array([1.0, 2.0])), cycles=False)
    with pytest.raises(JRFitError, match="p_range"):
        bifurcation(P, p_range=(100.0, 50.0), cycles=False)
    with pytest.raises(JRFitError, match="'start'"):
        limit_cycle(P, 220.0, start="middle")
    with pytest.raises(ModelError, match="settles on the fixed point"):
        limit_cycle(P, 60.0)


def test_fixed_points_only_is_consistent(bif):
    fp_only = bifurcation(cycles=False)
    assert fp_only.cycles == () and fp_only.fold_cycles == ()
    assert [pt.p for pt in fp_only.points] == [pt.p for pt in bif.points if pt.kind != "fold_cycles"]
    # every sampled branch point is a fixed point with the stability of its eigenvalues
    for br in fp_only.branches:
        assert np.all(np.diff(np.sign(dp_dv(br.v[1:-1], P))) == 0)  # monotone between folds
        np.testing.assert_allclose(br.p, p_of_v(br.v, P))
        assert np.array_equal(br.stable, np.all(br.eigenvalues.real < 0, axis=1))


# ---------------------------------------------------------------------------
# figure
def test_plot_saves_png(bif, tmp_path):
    rng = np.random.default_rng(0)
    marks = np.column_stack([rng.normal(220, 10, 50), rng.normal(7.5, 0.1, 50)])
    fig = bif.plot(marks=marks)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "input p (/s)"
    assert ax.get_ylabel() == "v = y1 - y2 (mV)"
    texts = [t.get_text() for t in ax.texts]
    for lab in ("H 89.83", "H 315.70", "SNIC 113.59", "LPC 137.38", "H -12.15", "SN -41.30"):
        assert lab in texts
    # stable branches solid, unstable dashed
    styles = {ln.get_linestyle() for ln in ax.lines if ln.get_color() in ("0.1",)}
    assert {"-", "--"} <= styles
    out = tmp_path / "bifurcation.png"
    fig.savefig(out, dpi=80)
    assert out.stat().st_size > 10_000
    # frequency view, drawing into given axes
    fig2, ax2 = plt.subplots()
    assert bif.plot(ax=ax2, quantity="frequency") is fig2
    assert ax2.get_ylabel() == "frequency (Hz)"
    fig2.savefig(tmp_path / "frequency.png", dpi=60)
    with pytest.raises(JRFitError, match="marks"):
        bif.plot(marks=np.zeros((3, 3)))
    with pytest.raises(JRFitError, match="'quantity'"):
        bif.plot(quantity="amplitude")
    plt.close("all")
