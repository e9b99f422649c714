"""Convergence diagnostics."""

import numpy as np


def test_failed_rhat_says_when_chains_sit_in_separate_modes():
    """Two chains at 13 and 87 ms (the two modes of an ERP latency) are named as separate modes."""
    import arviz as az

    from jrfit.inference.diagnostics import chain_separation, diagnose

    rng = np.random.default_rng(0)
    n = 500
    lat = np.stack([rng.normal(0.013, 0.002, n), rng.normal(0.087, 0.002, n)])
    b = rng.normal(50.0, 1.0, (2, n))
    idata = az.from_dict(
        posterior=dict(latency=lat, b=b, log_b=np.log(b)),
        sample_stats=dict(diverging=np.zeros((2, n), bool), energy=rng.normal(size=(2, n))),
    )
    d = diagnose(idata)
    assert not d["passed"] and d["r_hat_var"] == "latency"
    msg = d["problems"][0]
    assert msg.startswith("R-hat") and "(latency: the chains sit in separate modes, chain medians 0.01" in msg, msg
    assert ", 0.08" in msg, msg
    # overlapping chains that have not mixed well are not called separate modes
    sep, med = chain_separation(np.stack([rng.normal(0.0, 1.0, n), rng.normal(0.5, 1.0, n)]))
    assert not sep and med[1] > med[0]
    assert chain_separation(lat)[0]
