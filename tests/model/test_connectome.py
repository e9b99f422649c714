"""Tests of jrfit.model.connectome: loading, formats and checks of structural connectomes."""

import numpy as np
import pytest

from jrfit import JRFitError, JRParams
from jrfit.model.connectome import Connectivity, load_connectivity
from jrfit.simulators.network import simulate_network


# ----------------------------------------------------------------------------
# connectivity
@pytest.fixture(scope="module")
def tvb76():
    pytest.importorskip("tvb_data")
    return load_connectivity("tvb76")


def test_load_tvb76(tvb76):
    conn = tvb76
    assert conn.n_regions == 76 and conn.weights.shape == conn.lengths.shape == (76, 76)
    assert np.all(np.diag(conn.weights) == 0)  # self-connections removed
    assert conn.weights.max() == 1.0 and conn.normalization == "max"
    assert conn.region_names[0] == "rA1" and conn.centres.shape == (76, 3)
    tau = conn.delays(3.0)  # mm / (m/s) -> s
    assert np.allclose(tau, conn.lengths / 3.0 * 1e-3)
    assert 0.04 < tau[conn.weights > 0].max() < 0.05
    row = conn.normalize("row")
    sums = row.weights.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0)
    with pytest.raises(ValueError, match="read-only"):
        conn.weights[0, 1] = 2.0


@pytest.mark.parametrize("fmt", ["npz", "csv", "zip", "folder", "arrays"])
def test_load_formats_roundtrip(tmp_path, fmt):
    rng = np.random.default_rng(0)
    w = rng.random((5, 5))
    ln = rng.uniform(10, 100, (5, 5))
    names = [f"reg{i}" for i in range(5)]
    if fmt == "npz":
        src = tmp_path / "c.npz"
        np.savez(src, weights=w, tract_lengths=ln, region_names=np.array(names))
        conn = load_connectivity(src, normalize="none")
        assert conn.region_names == tuple(names)
    elif fmt == "csv":
        np.savetxt(tmp_path / "w.csv", w, delimiter=",")
        np.savetxt(tmp_path / "l.csv", ln, delimiter=",")
        conn = load_connectivity(tmp_path / "w.csv", tmp_path / "l.csv", normalize="none")
    elif fmt in ("zip", "folder"):
        folder = tmp_path / "conn"
        folder.mkdir()
        np.savetxt(folder / "weights.txt", w)
        np.savetxt(folder / "tract_lengths.txt", ln)
        (folder / "centres.txt").write_text("".join(f"{n} {i} {i} {i}\n" for i, n in enumerate(names)))
        src = folder
        if fmt == "zip":
            import zipfile

            src = tmp_path / "conn.zip"
            with zipfile.ZipFile(src, "w") as zf:
                for f in folder.iterdir():
                    zf.write(f, f.name)
        conn = load_connectivity(src, normalize="none")
        assert conn.region_names == tuple(names)
    else:
        conn = load_connectivity(w, ln, normalize="none")
    w0 = w.copy()
    np.fill_diagonal(w0, 0.0)
    assert np.allclose(conn.weights, w0) and np.allclose(conn.lengths, ln)
    assert np.allclose(load_connectivity(w, ln).weights, w0 / w0.max())


def test_bad_connectivity_inputs():
    good_w, good_l = np.ones((3, 3)), np.ones((3, 3))
    with pytest.raises(JRFitError, match=r"'weights' must be a square .*shape \(3, 2\)"):
        Connectivity(np.ones((3, 2)), good_l)
    with pytest.raises(JRFitError, match=r"'lengths' must be >= 0 .*-1"):
        Connectivity(good_w, -good_l)
    bad = good_w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(JRFitError, match=r"'weights' contains 1 non-finite.*\[1, 2\]"):
        Connectivity(bad, good_l)
    with pytest.raises(JRFitError, match="same shape"):
        Connectivity(good_w, np.ones((4, 4)))
    conn = Connectivity(good_w, good_l)
    for speed in (0.0, -3.0, np.nan):
        with pytest.raises(JRFitError, match=r"'speed' \(conduction speed, in m/s\) must be finite and > 0"):
            conn.delays(speed)
    with pytest.raises(JRFitError, match="'speed'"):
        simulate_network(conn, 1.0, global_coupling=1.0, speed=0.0)
    with pytest.raises(JRFitError, match="Invalid value for the 'coupling' parameter"):
        simulate_network(conn, 1.0, global_coupling=1.0, coupling="vbi")
    with pytest.raises(JRFitError, match="Invalid value for the 'normalize' parameter"):
        load_connectivity(good_w, good_l, normalize="sum")
    with pytest.raises(JRFitError, match="'lengths'"):
        load_connectivity(good_w)
    with pytest.raises(JRFitError, match="batch shape"):
        simulate_network(conn, 1.0, JRParams(mu=np.ones(4) * 200), global_coupling=1.0)


def test_missing_tvb_data_message(monkeypatch):
    import importlib.resources as resources

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(resources, "files", missing)
    with pytest.raises(ImportError, match=r'pip install "jrfit\[network\]"'):
        load_connectivity("tvb76")
