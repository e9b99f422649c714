"""Bifurcation diagram (jrfit.dynamics.bifurcation) against published and independent facts.

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
from scipy.optimize import brentq  # noqa: E402

from jrfit import JRFitError, JRParams, ModelError  # noqa: E402
from jrfit.dynamics.bifurcation import (  # noqa: E402
    Bifurcation,
    bifurcation,
    limit_cycle,
    regime,
)
from jrfit.model.column import dp_dv, eigenvalues, fixed_points, p_of_v  # noqa: E402
from jrfit.model.spectrum import char_poly_coeffs, routh_hurwitz  # noqa: E402

P = JRParams()
TOL_P = 0.05  # /s, the required precision of the published points


@pytest.fixture(scope="module")
def bif():
    """The default diagram, computed once (about 7 s)."""
    return bifurcation()


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
