"""Tests of jrfit.inference.overrides: --fix, --free, --prior and --config for the fits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jrfit.cli.app import main
from jrfit.errors import JRFitError
from jrfit.inference.overrides import (
    overrides_record,
    parse_fix,
    parse_free,
    parse_overrides,
    parse_prior,
    read_config,
)
from jrfit.inference.priors import LogNormalPrior, NormalPrior, SpectralPriors, make_erp_priors


def _toml(tmp_path, text, name="fit.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------
# each form
def test_parse_each_form():
    assert parse_fix(["C=120", " e0 = 3 "]) == {"C": 120.0, "e0": 3.0}
    assert parse_fix({"C": 120}) == {"C": 120.0}
    assert parse_fix(None) == {}
    assert parse_free("a,b, B,C") == ("a", "b", "B", "C")
    assert parse_free(["a", "C"]) == ("a", "C")
    assert parse_free("none") == () and parse_free(None) is None
    assert parse_prior("lognormal:22:0.25") == LogNormalPrior(22.0, 0.25)
    assert parse_prior("Normal:200:50") == NormalPrior(200.0, 50.0)


def test_defaults_unchanged():
    assert parse_overrides() == SpectralPriors()
    assert parse_overrides(base=make_erp_priors("gaussian")) == make_erp_priors("gaussian")


def test_fix_free_and_priors():
    fixed = parse_overrides(fix=["C=120", "B=20"])
    assert fixed.fixed.C == 120.0 and fixed.fixed.B == 20.0
    assert fixed.free == ("a", "b")  # B was free: now fixed
    assert "C=120" in fixed.table()[-1][2] and fixed.to_dict()["fixed"]["C"] == 120.0
    free = parse_overrides(free="a,b,B,C", prior=["B=lognormal:20:0.1"])
    assert free.free == ("a", "b", "B", "C")
    assert free.jr["B"] == LogNormalPrior(20.0, 0.1)
    assert free.jr["C"] == LogNormalPrior(135.0, 0.25)  # freed: around its default
    assert free.jr["a"] == SpectralPriors().jr["a"]
    only = parse_overrides(free="a")
    assert only.free == ("a",) and only.fixed.b == 50.0 and only.fixed.B == 22.0
    # other parameters: a normal prior keeps the default truncation
    other = parse_overrides(prior=["chi=normal:1:0.5", "p=normal:200:50", "log_bg=normal:-2:1"])
    assert other.chi == NormalPrior(1.0, 0.5, lower=0.0, upper=4.0)
    assert other.p == NormalPrior(200.0, 50.0) and other.log_bg == NormalPrior(-2.0, 1.0)
    json.dumps(other.to_dict())


def test_erp_overrides():
    base = make_erp_priors("jr")
    erp = parse_overrides(
        free="B,a,b,A", fix=["C=120"], base=base, prior=["A=lognormal:3:0.1", "latency=normal:0.1:0.02"]
    )
    assert erp.free == ("B", "a", "b", "A") and erp.jr["A"] == LogNormalPrior(3.0, 0.1)
    assert erp.fixed.C == 120.0 and erp.shape == "jr" and erp.width == base.width
    assert erp.latency == NormalPrior(0.1, 0.02, lower=0.0, upper=0.35)
    with pytest.raises(
        JRFitError,
        match=r"Unknown parameter 'chi' in --prior chi=normal:1:1\. "
        r".*amplitude, latency, width, gain, offset",
    ):
        parse_overrides(prior=["chi=normal:1:1"], base=base)
    with pytest.raises(JRFitError, match="'p' in --prior"):  # v is fixed: p has no prior
        parse_overrides(prior=["p=normal:0:10"], base=base)


# ----------------------------------------------------------------------------
# errors name the option and the token
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(fix=["Q=1"]), r"Unknown parameter 'Q' in --fix Q=1\. Allowed names are A, B, a, b, C"),
        (dict(fix=["mu=100"]), r"'mu' cannot be fixed or freed \(--fix mu=100\).*prior on p"),
        (dict(fix=["C=abc"]), r"Invalid --fix C=abc: the value 'abc' is not a number \(C is dimensionless\)"),
        (dict(fix=["a=nan"]), r"Invalid --fix a=nan: the value must be finite \(a is in /s\)"),
        (dict(fix=["a=0"]), r"Invalid --fix a=0: JRParams\.a .* must be > 0"),
        (dict(fix=["C"]), r"Invalid --fix 'C': expected NAME=VALUE, e\.g\. --fix C=120"),
        (dict(fix=["C=1", "C=2"]), r"'C' is fixed twice \(--fix C=1 and --fix C=2\)"),
        (dict(free="a,Bx"), r"Unknown parameter 'Bx' in --free a,Bx"),
        (dict(free="a,a"), r"Invalid --free a,a: a listed twice"),
        (dict(free="a,A"), r"Invalid --free a,A: 'A' cannot be free here; A stays fixed in a spectral fit"),
        (dict(free="a,b,C", fix=["C=100"]), r"'C' is both free \(--free a,b,C\) and fixed \(--fix C=100\)"),
        (
            dict(prior=["B=gamma:1:2"]),
            r"Invalid --prior B=gamma:1:2: unknown distribution 'gamma'\. "
            r"Allowed are lognormal:MEDIAN:SD .* and normal:MEAN:SD",
        ),
        (dict(prior=["B=lognormal:22:-1"]), r"Invalid --prior B=lognormal:22:-1: SD must be > 0, got -1"),
        (dict(prior=["B=lognormal:22:0"]), r"SD must be > 0, got 0"),
        (dict(prior=["B=lognormal:0:1"]), r"Invalid --prior B=lognormal:0:1: the MEDIAN .* must be > 0"),
        (dict(prior=["B=lognormal:x:1"]), r"Invalid --prior B=lognormal:x:1: MEDIAN 'x' is not a number"),
        (dict(prior=["B=lognormal:22"]), r"Invalid --prior B=lognormal:22: expected a distribution and two"),
        (dict(prior=["B=normal:22:1"]), r"Invalid --prior B=normal:22:1: a JR constant takes a lognormal"),
        (
            dict(prior=["C=lognormal:135:0.2"]),
            r"Invalid --prior C=lognormal:135:0.2: C is fixed \(free JR "
            r"constants: a, b, B\); free it with --free a,b,B,C",
        ),
        (dict(prior=["B=lognormal:22:0.3"], fix=["B=20"]), r"--prior B=lognormal:22:0.3: B is fixed"),
        (dict(prior=["A=lognormal:3:0.2"]), r"--prior A=lognormal:3:0.2: A cannot have a prior"),
        (dict(prior=["chi=lognormal:1:1"]), r"--prior chi=lognormal:1:1: chi takes a normal:MEAN:SD prior"),
        (
            dict(prior=["zz=normal:0:1"]),
            r"Unknown parameter 'zz' in --prior zz=normal:0:1\. .*free JR "
            r"constants \(a, b, B\) and on p, log_scale, log_bg, chi, log_floor",
        ),
        (dict(prior=["B=lognormal:22:0.2", "B=lognormal:20:0.2"]), r"Two priors for 'B'"),
    ],
)
def test_errors_name_option_and_token(kwargs, match):
    with pytest.raises(JRFitError, match=match):
        parse_overrides(**kwargs)


# ----------------------------------------------------------------------------
# TOML file
CONFIG = """
[fit]
free = ["a", "b", "B", "C"]
[fit.fix]
e0 = 2.4
[fit.prior]
B = "lognormal:22:0.25"
C = "lognormal:130:0.2"
"""


def test_config_file_and_precedence(tmp_path):
    path = _toml(tmp_path, CONFIG)
    table, text = read_config(path)
    assert table["free"] == ["a", "b", "B", "C"] and text == path.read_text()
    pri = parse_overrides(config=path)
    assert pri.free == ("a", "b", "B", "C") and pri.fixed.e0 == 2.4
    assert pri.jr["C"] == LogNormalPrior(130.0, 0.2)
    # the command line wins: its --fix fixes C (and drops the file's prior of C),
    # its --prior replaces the file's, its --free replaces the file's free set
    cli = parse_overrides(config=path, fix=["C=120"], prior=["B=lognormal:20:0.1"])
    assert cli.free == ("a", "b", "B") and cli.fixed.C == 120.0
    assert cli.jr["B"] == LogNormalPrior(20.0, 0.1)
    cli = parse_overrides(config=path, free="a,b,e0")  # frees e0, which the file fixed
    assert cli.free == ("a", "b", "e0") and cli.jr["e0"] == LogNormalPrior(2.5, 0.25)
    assert cli.fixed.C == 135.0
    # the record keeps the file's path and content
    rec = overrides_record(fix=["C=120"], config=path)
    assert rec["config"] == dict(path=str(path.resolve()), text=path.read_text())
    assert rec["fix"] == ["C=120"] and rec["free"] is None
    json.dumps(rec)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[fit]\nfree = [a, b]\n", r"fit\.toml is not valid TOML: .*\(at line 2, column 9\)"),
        ("[fit.fix]\nC = \n", r"is not valid TOML: .*line 2"),
        ("[fits]\nfree = ['a']\n", r"unknown table or key fits; allowed is \[fit\]"),
        ("fit = 3\n", r"fit must be a table"),
        ("[fit]\nfixed = {C = 1}\n", r"unknown key\(s\) fixed in \[fit\]; allowed are free, fix, prior"),
        ("[fit]\nfix = 3\n", r"\[fit\] fix must be a table"),
        ("[fit.fix]\nC = 'abc'\n", r"Invalid \[fit\.fix\] in .*fit\.toml: C=abc: the value 'abc' is not a number"),
        ("[fit.fix]\nC = true\n", r"C=True: the value must be a number"),
        ("[fit]\nfree = ['a', 'Q']\n", r"Unknown parameter 'Q' in \[fit\] free in .*fit\.toml"),
        ("[fit]\nfree = 3\n", r"Invalid \[fit\] free in .*: give the free JR constants as names"),
        ("[fit.prior]\nB = 22\n", r"\[fit\.prior\] B in .*fit\.toml must be a string"),
        ("[fit.prior]\nB = 'beta:1:2'\n", r"Invalid \[fit\.prior\] in .*: B=beta:1:2: unknown distribution"),
        ("[fit.prior]\nC = 'lognormal:135:0.2'\n", r"C is fixed .*free it with free = \['a', 'b', 'B', 'C'\]"),
        ("[fit]\nfree = ['a', 'C']\n[fit.fix]\nC = 120\n", r"'C' is both free .* and fixed"),
    ],
)
def test_bad_config_files(tmp_path, text, match):
    with pytest.raises(JRFitError, match=match):
        parse_overrides(config=_toml(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(JRFitError, match=r"--config .*nothere\.toml: file not found"):
        parse_overrides(config=tmp_path / "nothere.toml")


# ----------------------------------------------------------------------------
# command line
@pytest.mark.parametrize("command", ["fit-psd", "fit-erp"])
def test_cli_bad_prior_is_one_clear_error(tmp_path, capsys, command):
    rec = tmp_path / "rec.fif"  # never read: the options are checked first
    rec.write_bytes(b"")
    extra = ["--event", "A"] if command == "fit-erp" else []
    code = main([command, str(rec), *extra, "--prior", "B=gamma:1:2", "--out", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("jrfit: error: Invalid --prior B=gamma:1:2: unknown distribution 'gamma'")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "res").exists()


def test_cli_bad_config_names_file_and_line(tmp_path, capsys):
    cfg = _toml(tmp_path, "[fit]\nfree = a\n", name="bad.toml")
    code = main(["fit-psd", str(tmp_path / "rec.edf"), "--config", str(cfg), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.toml is not valid TOML" in err and "line 2" in err


# ----------------------------------------------------------------------------
# the fixed value reaches the model
def test_fixed_value_changes_the_model():
    from jrfit.model.spectrum import psd_from_v

    priors = parse_overrides(fix=["C=120"])
    assert priors.fixed.C == 120.0
    freqs = np.linspace(2.0, 40.0, 39)
    d0, d1 = SpectralPriors().fixed.as_dict(), priors.fixed.as_dict()
    psd0, psd1 = psd_from_v(freqs, 0.5, d0), psd_from_v(freqs, 0.5, d1)
    assert np.all(np.isfinite(psd0)) and np.max(np.abs(np.log(psd1 / psd0))) > 0.01


def test_fixed_value_changes_the_log_density():
    from jrfit.inference.spectral import SpectralModel

    def logp(pri):
        model = SpectralModel(pri)
        point = model.model.initial_point()
        lo, hi = pri.v_bounds
        point["v_interval__"] = np.asarray(np.log((0.5 - lo) / (hi - 0.5)))  # v = 0.5 mV, stable
        return float(model.model.compile_logp()(point))

    default = logp(SpectralPriors())
    assert np.isfinite(default)
    assert logp(parse_overrides(fix=["C=135"])) == pytest.approx(default, abs=1e-9)
    assert abs(logp(parse_overrides(fix=["C=120"])) - default) > 1e-3
