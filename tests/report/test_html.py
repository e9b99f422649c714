"""Tests of the HTML report of a spectral fit (jrfit.report.html) and its figures.

The fit result is synthetic: an InferenceData in the format written by
jrfit.inference.spectral, with random but plausible draws (two channels, 2 chains x 50
draws, the second channel failing its diagnostics).
"""

import base64
import json
import re

import arviz as az
import matplotlib
import numpy as np
import pytest

from jrfit import JRParams, __version__
from jrfit.errors import JRFitError
from jrfit.inference.priors import SpectralPriors
from jrfit.model.column import p_of_v

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jrfit import viz
from jrfit.report import dynamics, markup, summary  # noqa: E402
from jrfit.report.html import make_report  # noqa: E402
from jrfit.viz import results

CHANNELS = ["Oz", "Fz"]
FREE = ["a", "b", "B", "C"]
PROBLEMS = ["R-hat 1.083 > 1.01", "3 divergent transitions"]


def _synthetic_idata(seed=0, n_chains=2, n_draws=50, n_prior=200, channels=tuple(CHANNELS)):
    """A fit result in jrfit's format (natural units), with random draws (Fz fails, the others pass)."""
    rng = np.random.default_rng(seed)
    freqs = np.arange(2.0, 40.01, 0.5)
    channels = list(channels)
    nc = len(channels)
    shape = (n_chains, n_draws, nc)

    def jr_draws(shape, sd):
        d = {k: JRParams().as_dict()[k] * np.exp(sd * rng.standard_normal(shape)) for k in FREE}
        d["v"] = 8.4 + (0.15 if sd < 0.2 else 0.3) * rng.standard_normal(shape)
        fixed = JRParams(sigma=1.0).as_dict()
        d["p"] = p_of_v(d["v"], {**fixed, **{k: d[k] for k in FREE}})
        d["scale"] = 3e-8 * np.exp(0.3 * rng.standard_normal(shape))
        d["bg"] = 2e-5 * np.exp(0.2 * rng.standard_normal(shape))
        d["chi"] = 1.2 + 0.05 * rng.standard_normal(shape)
        d["floor"] = 1e-8 * np.exp(0.2 * rng.standard_normal(shape))
        return d

    post = jr_draws(shape, 0.06)
    post["B"] = 22.0 * np.exp(0.05 * rng.standard_normal(shape))
    post["C"] = 135.0 * (22.0 / post["B"]) ** 1.5 * np.exp(0.01 * rng.standard_normal(shape))
    # channel Fz: the two chains disagree (R-hat fails)
    post["a"][1, :, channels.index("Fz")] *= 1.15
    post["peak_freq"] = 10.2 + 0.15 * rng.standard_normal(shape)
    post["damping"] = np.abs(9.0 + 2.0 * rng.standard_normal(shape))
    prior = jr_draws((1, n_prior, nc), 0.25)

    # spectra: aperiodic background + resonance + floor, in mV^2/Hz
    f = freqs[None, None, None, :]

    def model(d):
        pf = d["peak_freq"][..., None]
        res = 1.0 / (1 + ((f - pf) / 1.2) ** 2)
        return d["bg"][..., None] / f ** d["chi"][..., None] + 100 * d["scale"][..., None] * res + d["floor"][..., None]

    psd_mean = model(post)
    n_eff = 20.0
    psd = psd_mean * rng.gamma(n_eff, 1.0 / n_eff, size=psd_mean.shape)
    truth = {k: np.median(v, axis=(0, 1), keepdims=True) for k, v in post.items()}
    observed = model(truth)[0, 0] * rng.gamma(n_eff, 1.0 / n_eff, size=(nc, freqs.size))

    diverging = np.zeros(shape, bool)
    diverging[0, [5, 17, 33], channels.index("Fz")] = True
    energy = rng.standard_normal(shape).cumsum(axis=1) * 0.1 + 50
    sample_stats = dict(
        diverging=diverging,
        energy=energy,
        tree_depth=rng.integers(3, 6, size=shape),
        lp=-energy,
        step_size=np.full(shape, 0.3),
        acceptance_rate=rng.uniform(0.8, 1.0, shape),
    )
    dims = {k: ["channel"] for k in list(post) + list(sample_stats)}
    dims.update(psd=["channel", "freq"], psd_mean=["channel", "freq"])
    coords = dict(channel=channels, freq=freqs)
    idata = az.from_dict(
        posterior=post,
        prior=prior,
        sample_stats=sample_stats,
        posterior_predictive=dict(psd=psd, psd_mean=psd_mean),
        observed_data=dict(psd=observed),
        coords=coords,
        dims=dims,
    )
    diagnostics = {
        ch: dict(r_hat=1.004, ess_bulk=612.0, ess_tail=540.0, divergences=0, bfmi=0.91, passed=True, problems=[])
        for ch in channels
    }
    diagnostics["Fz"] = dict(
        r_hat=1.083, ess_bulk=38.0, ess_tail=51.0, divergences=3, bfmi=0.77, passed=False, problems=PROBLEMS
    )
    idata.attrs.update(
        jrfit_version=__version__,
        input_file="/data/sub-01_task-rest_eeg.set",
        channels=json.dumps(channels),
        preprocessing=json.dumps(
            [
                dict(step="load", sfreq=128.0, n_channels=32),
                dict(step="filter", l_freq=1.0, h_freq=45.0),
                dict(step="welch", n_fft=256, n_overlap=128, n_eff=20.0),
            ]
        ),
        fmin=2.0,
        fmax=40.0,
        priors=json.dumps(SpectralPriors().to_dict()),
        seed=7,
        free_params=json.dumps(FREE),
        likelihood="linear (Whittle)",
        diagnostics=json.dumps(diagnostics),
        regime=json.dumps(
            {
                ch: (
                    {"noise-driven oscillatory focus": 0.93, "quiescent focus": 0.07}
                    if ch == "Oz"
                    else {"noise-driven oscillatory focus": 1.0}
                )
                for ch in channels
            }
        ),
        stability=json.dumps(
            {ch: dict(damping_median=9.1, damping_q05=5.8, frac_near_boundary=0.01) for ch in channels}
        ),
        n_eff=json.dumps({ch: 20.0 for ch in channels}),
        created="2025-01-31T12:00:00+00:00",
    )
    return idata


@pytest.fixture(scope="module")
def result_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.nc"
    _synthetic_idata().to_netcdf(str(path))
    return path


@pytest.fixture
def idata(result_path):
    return az.from_netcdf(result_path)


@pytest.fixture(scope="module")
def report_html(result_path, tmp_path_factory):
    """The report of the synthetic result, made once from the NetCDF path (with cycles)."""
    plt.close("all")
    out = tmp_path_factory.mktemp("report") / "fit_report.html"
    ret = make_report(result_path, out)
    assert ret == out
    assert plt.get_fignums() == []  # every figure was released
    assert sorted(p.name for p in out.parent.iterdir()) == ["fit_report.html"]  # no temporary
    return out.read_text(encoding="utf-8")


def _section(text, start, end=None):
    """Text between the first occurrence of ``start`` and the next ``end``."""
    i = text.index(start)
    j = text.index(end, i + len(start)) if end else len(text)
    return text[i:j]


# ----------------------------------------------------------------------------
# the report
def test_report_summary_and_status(report_html):
    for ch in CHANNELS:
        assert f"Channel {ch}" in report_html
    assert "sub-01_task-rest_eeg.set" in report_html
    assert "linear (Whittle)" in report_html
    assert "2-40 Hz" in report_html
    assert __version__ in report_html
    assert "2025-01-31T12:00:00+00:00" in report_html
    assert "1 of 2 channel(s) FAILED" in report_html
    # the failing channel is marked FAIL with its problems, the other PASS
    fails = re.findall(r'<div class="alert alert-danger jrfit-status jrfit-fail".*?</div>', report_html, flags=re.S)
    passes = re.findall(r'<div class="alert alert-success jrfit-status jrfit-pass".*?</div>', report_html, flags=re.S)
    assert fails and all("FAIL" in f and "Fz" in f and "Oz" not in f for f in fails)
    assert passes and all("PASS" in p and "Oz" in p and "Fz" not in p for p in passes)
    for problem in PROBLEMS:
        assert problem.replace(">", "&gt;") in fails[0]
    # once in the summary and once at the top of the channel's section
    assert len(fails) == 2 and len(passes) == 2


def test_report_parameter_table(report_html, idata):
    post = idata.posterior
    for ch, nxt in zip(CHANNELS, CHANNELS[1:] + ["Provenance"]):
        sec = _section(report_html, f"{ch}: parameters", f"{ch}: prior and posterior")
        for name in FREE + ["v", "p", "scale", "bg", "chi", "floor", "peak_freq", "damping"]:
            x = post[name].sel(channel=ch).values.ravel()
            assert f"<b>{name}</b>" in sec
            assert f"<td>{markup._fmt(np.median(x))}</td>" in sec, name
            lo, hi = np.quantile(x, [0.05, 0.95])
            assert f"[{markup._fmt(lo)}, {markup._fmt(hi)}]" in sec, name
        for header in ("median", "90 % interval", "R-hat", "bulk ESS", "tail ESS", "unit"):
            assert f"<th>{header}</th>" in sec
        assert "<td>/s</td>" in sec and "<td>mV</td>" in sec and "<td>mV\u00b2/Hz</td>" in sec
        # R-hat and ESS as computed by ArviZ for this channel
        rhat = float(az.rhat(post[["a"]].sel(channel=ch))["a"])
        ess = float(az.ess(post[["a"]].sel(channel=ch), method="bulk")["a"])
        row = _section(sec, "<b>a</b>", "</tr>")
        assert f"{rhat:.3f}" in row and f"{ess:.0f}" in row
    # the chains of Fz disagree on a: its R-hat is flagged in red
    row = _section(_section(report_html, "Fz: parameters"), "<b>a</b>", "</tr>")
    assert "color:#b00020" in row


def test_report_figures_identifiability_and_provenance(report_html):
    found = re.findall(r'<img [^>]*alt="([^"]*)"\s+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report_html)
    imgs = [b for alt, b in found if alt.split(":")[0] in CHANNELS]  # not MNE's logo
    # per channel: fit, prior/posterior, correlations, pairs, bifurcation, stability, traces
    assert len(imgs) == 7 * len(CHANNELS)
    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in imgs)
    assert not re.search(r'<(img|script|link)[^>]+(src|href)="(https?:)?//', report_html)  # self-contained
    for ch in CHANNELS:
        ident = _section(report_html, f"{ch}: identifiability", f"{ch}: regime and stability")
        # B and C were drawn on a ridge B^1.5 C = const: the top pair, strongly negative
        first = re.search(r"<li><b>(\w+)</b> and <b>(\w+)</b>: r = ([-+.\d]+) \((\w+)\)", ident)
        assert {first.group(1), first.group(2)} == {"B", "C"}
        assert float(first.group(3)) < -0.9 and first.group(4) == "strong"
        assert "degenerate with the overall scale" in ident
        stab = _section(report_html, f"{ch}: regime and stability", f"{ch}: diagnostics")
        assert "noise-driven oscillatory focus" in stab and "damping" in stab
    assert "93.0 %" in _section(report_html, "Oz: regime and stability", "Oz: diagnostics")
    prov = _section(report_html, "Provenance")
    for text in ("welch", "n fft: 256", "l freq: 1;", "LogNormal(median=100 /s", "LogNormal(median=220 /s"):
        assert text in prov, text


def test_report_diagnostics_section(report_html):
    sec = _section(report_html, "Fz: diagnostics", "Fz: traces and ranks")
    assert "1.083" in sec and "R-hat 1.083 &gt; 1.01" in sec
    row = _section(sec, "divergent transitions (sample_stats)", "</tr>")
    assert "<td>3</td>" in row
    sec = _section(report_html, "Oz: diagnostics", "Oz: traces and ranks")
    assert "<td>none</td>" in sec


def test_report_from_idata_refuses_overwrite(idata, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    with pytest.raises(JRFitError, match="exists; pass overwrite=True"):
        make_report(idata, out, cycles=False)
    assert out.read_text() == "old"
    make_report(idata, out, overwrite=True, cycles=False, title="My fit")
    text = out.read_text(encoding="utf-8")
    assert "My fit" in text and "Oz" in text and "(in memory)" in text
    assert (out.stat().st_mode & 0o777) != 0o600 or (0o666 & ~_umask()) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_report_failure_leaves_no_file(idata, tmp_path, monkeypatch):
    plt.close("all")
    out = tmp_path / "r.html"

    def broken(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(viz, "plot_pair", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        make_report(idata, out, cycles=False)
    assert list(tmp_path.iterdir()) == []
    assert plt.get_fignums() == []
    monkeypatch.undo()

    # a failure while writing: no partial file, and an old file is kept
    import mne

    def partial_save(self, fname, **kwargs):
        with open(fname, "w") as fid:
            fid.write("<html><body>half a rep")
        raise OSError("disk full")

    out.write_text("old")
    monkeypatch.setattr(mne.Report, "save", partial_save)
    with pytest.raises(OSError, match="disk full"):
        make_report(idata, out, overwrite=True, cycles=False)
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    assert out.read_text() == "old"


def test_report_bad_arguments(result_path, idata, tmp_path):
    with pytest.raises(JRFitError, match="must end in .html"):
        make_report(idata, tmp_path / "r.pdf")
    with pytest.raises(JRFitError, match="not found"):
        make_report(tmp_path / "missing.nc", tmp_path / "r.html")
    with pytest.raises(JRFitError, match="InferenceData or the path"):
        make_report(42, tmp_path / "r.html")
    bad = az.InferenceData(posterior=idata.posterior)
    with pytest.raises(JRFitError, match="observed_data"):
        make_report(bad, tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------
# the figures
def test_plot_psd_fit(idata):
    fig = viz.plot_psd_fit(idata, 1)
    ax = fig.axes[0]
    assert ax.get_title() == "Fz" and ax.get_yscale() == "log"
    assert len(ax.collections) == 3  # predictive band, 90 % and 50 % model bands
    data = [ln for ln in ax.lines if ln.get_label() == "data"][0]
    np.testing.assert_allclose(data.get_ydata(), idata.observed_data["psd"].sel(channel="Fz"))
    med = [ln for ln in ax.lines if ln.get_label() == "median fit"][0]
    np.testing.assert_allclose(
        med.get_ydata(), idata.posterior_predictive["psd_mean"].sel(channel="Fz").median(("chain", "draw"))
    )
    peak = [ln for ln in ax.lines if ln.get_label().startswith("peak")][0]
    assert peak.get_xdata()[0] == pytest.approx(float(idata.posterior["peak_freq"].sel(channel="Fz").median()))
    plt.close(fig)
    # draws onto a given Axes, and without posterior predictive: data only
    fig0, ax0 = plt.subplots()
    no_pp = az.InferenceData(posterior=idata.posterior, observed_data=idata.observed_data)
    assert viz.plot_psd_fit(no_pp, "Oz", ax=ax0, show_peak=False) is fig0
    assert len(ax0.collections) == 0 and len(ax0.lines) == 1
    plt.close(fig0)
    with pytest.raises(JRFitError, match="'Cz' is not in the result"):
        viz.plot_psd_fit(idata, "Cz")
    with pytest.raises(JRFitError, match="out of range"):
        viz.plot_psd_fit(idata, 2)


def test_plot_prior_posterior_pair_trace(idata):
    fig = viz.plot_prior_posterior(idata, "Oz")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in visible] == ["a (/s)", "b (/s)", "B (mV)", "C", "v (mV)", "p (/s)"]
    assert all("contraction" in ax.get_title() for ax in visible)
    plt.close(fig)
    fig = viz.plot_prior_posterior(idata, "Oz", var_names=["chi"], ncols=1)
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(JRFitError, match="'nope' is not in the posterior"):
        viz.plot_prior_posterior(idata, "Oz", var_names=["nope"])

    fig = viz.plot_pair(idata, "Oz", n_pairs=3)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    assert {axes[0].get_xlabel(), axes[0].get_ylabel()} == {"B (mV)", "C"}
    assert float(axes[0].get_title().split("=")[1]) < -0.9
    plt.close(fig)
    fig = viz.plot_pair(idata, "Oz", pairs=[("a", "scale")])
    assert fig.axes[0].get_yscale() == "linear"  # scale spans less than a factor 30
    plt.close(fig)

    names, corr = results.posterior_correlation(idata, "Oz")
    assert names[:4] == FREE and corr.shape == (len(names), len(names))
    np.testing.assert_allclose(corr, corr.T)
    fig = viz.plot_correlation(idata, "Oz")
    plt.close(fig)

    fig = viz.plot_trace(idata, "Fz", ["a", "p"])
    assert len(fig.axes) == 4
    # the three divergent transitions of Fz are marked on every trace
    ticks = [ln for ln in fig.axes[0].lines if ln.get_marker() == "|"]
    assert len(ticks) == 1 and sorted(ticks[0].get_xdata()) == [5, 17, 33]
    plt.close(fig)
    fig = viz.plot_stability(idata, "Oz")
    plt.close(fig)


def test_ranks_match_scipy():
    from scipy.stats import rankdata

    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 1.0])
    np.testing.assert_array_equal(results._ranks(x), rankdata(x) - 1)


def test_bifurcation_is_cached(idata, monkeypatch):
    dynamics._bifurcation_cached.cache_clear()
    params = dynamics._posterior_constants(idata, "Oz", idata.attrs)
    assert params.a == float(f"{np.median(idata.posterior['a'].sel(channel='Oz')):.4g}")
    assert params.A == 3.25 and params.sigma == 1.0  # fixed values from the priors
    b1 = dynamics._bifurcation_cached(params, (-60.0, 360.0), False)
    b2 = dynamics._bifurcation_cached(params.replace(), (-60.0, 360.0), False)
    assert b1 is b2
    assert dynamics._bifurcation_cached.cache_info().hits == 1
    fig = viz.plot_posterior_bifurcation(idata, "Oz", b1)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_known_truth_is_shown_against_the_posterior():
    """A simulated recording's truth (attrs['truth']): a table with the truth inside or outside the 90 % interval."""
    idata = _synthetic_idata()
    peak = idata.posterior["peak_freq"].sel(channel="Oz").values
    lo, hi = np.quantile(peak, [0.05, 0.95])
    idata.attrs["truth"] = json.dumps({"Oz": {"peak_freq": float(np.median(peak)), "damping": 1e3}})
    html = summary._truth_html(idata, CHANNELS, idata.attrs)
    assert "Known truth" in html
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)[1:]
    assert len(rows) == 2  # only Oz has a truth
    assert "peak_freq" in rows[0] and ">yes<" in rows[0]
    assert "damping" in rows[1] and "no" in rows[1] and ">yes<" not in rows[1]
    assert summary._truth_html(_synthetic_idata(), CHANNELS, {}) == ""


def _add_positions(idata, names):
    """The preprocessing step that records the channels' 10-05 template positions (head frame, m)."""
    from jrfit.data.channels import standard_montage

    pos = standard_montage()[1].get_positions()["ch_pos"]
    steps = json.loads(idata.attrs["preprocessing"]) + [
        dict(
            step="channel_positions",
            coord_frame="head",
            unit="m",
            n_channels=len(names),
            positions={n: [float(v) for v in pos[n]] for n in names},
        )
    ]
    idata.attrs["preprocessing"] = json.dumps(steps)


def test_many_channels_compact_collapsed_with_scalp_maps(tmp_path):
    """16 channels: the summary opens the page (failed channels only, scalp maps), sections collapsed, compact."""
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "Fz", "Oz"]
    idata = _synthetic_idata(channels=names, n_prior=60)
    _add_positions(idata, names)
    idata.attrs["adequacy"] = json.dumps(
        {n: dict(fits=True, ppp=0.4, frac_outside=0.1, z_rms=1.0, problems=[]) for n in names}
    )
    out = make_report(idata, tmp_path / "many.html", cycles=False, result_file=tmp_path / "many.nc")
    text = out.read_text(encoding="utf-8")
    summary = _section(text, "result file", "How to read")
    assert str(tmp_path / "many.nc") in summary and "(in memory)" not in text
    assert "15 of 16 channels passed both checks" in summary
    # only the failed channel's banners in the summary (every channel still has its own in its section)
    assert summary.count("jrfit-status jrfit-pass") == 0 and "FAIL &#10007; Fz" in summary
    assert summary.count("jrfit-adequacy") == 0 and "fits the data of every channel" in summary
    assert "Compact view" in text and "--detail full" in text
    assert "Scalp maps" in text
    found = re.findall(r'<img[^>]+alt="([^"]*)"[^>]+src="data:image/png;base64,([^"]+)"', text)
    titles = [alt for alt, _ in found]
    # compact: the fit of every channel, the traces only of the failed one, and the scalp maps
    assert sum(t.endswith("spectrum and fit") for t in titles) == 16
    assert [t for t in titles if "traces" in t] == ["Fz: traces and ranks"]
    assert not any("prior and posterior" in t or "correlations" in t for t in titles)
    # channel sections start collapsed; the summary is outside them and open
    assert text.index("Summary") < text.index("Channel Fp1")
    sec = _section(text, 'id="Channel-Fp1"' if 'id="Channel-Fp1"' in text else "Channel Fp1")
    assert "collapse show" not in sec[:2000]
    with pytest.raises(JRFitError, match="detail"):
        make_report(idata, tmp_path / "x.html", detail="some")


def test_scalp_maps_that_cannot_be_drawn_do_not_stop_the_report(tmp_path, caplog, monkeypatch):
    """MNE failing to draw the maps (positions it cannot interpolate): the report is written without them."""
    import logging

    import mne

    def broken(*args, **kwargs):
        raise ValueError("QH6154 Qhull precision error: initial simplex is flat")

    names = ["Fp1", "Fp2", "F3", "F4", "C3", "Fz"]
    idata = _synthetic_idata(channels=names, n_prior=60)
    _add_positions(idata, names)
    monkeypatch.setattr(mne.viz, "plot_topomap", broken)
    plt.close("all")
    with caplog.at_level(logging.WARNING, logger="jrfit"):
        out = make_report(idata, tmp_path / "flat.html", cycles=False, detail="compact")
    assert out.is_file() and plt.get_fignums() == []  # the failed figure was closed
    assert ">Scalp maps<" not in out.read_text(encoding="utf-8") and "No scalp maps" in caplog.text


def test_a_result_saved_before_the_sub_package_layout_still_reports(tmp_path):
    """A NetCDF written at commit d98e644 (flat modules; example O2, 2 x 60 draws) opens with `jrfit report`."""
    from pathlib import Path

    from jrfit.cli import main

    old = Path(__file__).parent / "data" / "spectral_fit_before_layout.nc"
    out = tmp_path / "old_report.html"
    assert main(["report", str(old), "--out", str(out)]) == 0
    html = out.read_text()
    assert "O2" in html and "FAIL" in html  # 2 x 60 draws do not pass R-hat; the verdict says so
    assert "Dynamical regime" in html
