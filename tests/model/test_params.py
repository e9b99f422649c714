import numpy as np
import pytest

from jrfit import JRFitError, JRParams
from jrfit.model.params import PARAM_INFO


def test_defaults_are_jansen_rit_1995():
    p = JRParams()
    assert (p.A, p.B, p.a, p.b, p.C) == (3.25, 22.0, 100.0, 50.0, 135.0)
    assert (p.C1, p.C2, p.C3, p.C4) == (135.0, 108.0, 33.75, 33.75)
    assert (p.e0, p.r, p.v0) == (2.5, 0.56, 6.0)
    assert p.batch_shape == () and p.n_columns == 1


def test_every_field_has_unit_and_meaning():
    for name, info in PARAM_INFO.items():
        assert info["unit"] and info["meaning"], name


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(a=-1.0), "rate constant"),
        (dict(b=0.0), "JRParams.b"),
        (dict(A=np.nan), "finite"),
        (dict(mu=np.inf), "finite"),
        (dict(sigma=-0.1), "noise"),
        (dict(e0="x"), "number"),
        (dict(mu=np.ones(3), B=np.ones(4)), "broadcast"),
    ],
)
def test_invalid_values_raise_clear_errors(kw, match):
    with pytest.raises(JRFitError, match=match):
        JRParams(**kw)


def test_immutable_and_user_arrays_not_aliased():
    mu = np.array([100.0, 200.0])
    p = JRParams(mu=mu)
    mu[0] = -5.0
    assert p.mu[0] == 100.0
    with pytest.raises(Exception):
        p.mu[0] = 3.0
    with pytest.raises(Exception):
        p.A = 1.0


def test_batches_broadcast_index_and_stack():
    p = JRParams(mu=np.linspace(120, 320, 5), B=np.full((1,), 20.0))
    assert p.batch_shape == (5,) and len(p) == 5
    assert p[2].mu == 220.0 and p[2].B == 20.0
    flat = p.flat()
    assert all(v.shape == (5,) for v in flat.values())
    q = JRParams.stack(list(p))
    assert q == p
    with pytest.raises(JRFitError, match="Unknown"):
        p.replace(gain=2)


def test_sigma_conversion():
    assert JRParams.sigma_from_per_sample_std(22.0, 1e-4) == pytest.approx(0.22)


def test_public_names_resolve():
    import jrfit

    for name in jrfit.__all__:
        assert getattr(jrfit, name) is not None, name
    with pytest.raises(AttributeError):
        jrfit.not_a_name  # noqa: B018


def test_one_constant_order():
    """Every kernel reads its packed constants in the order defined on JRParams."""
    import dataclasses
    import inspect

    from jrfit.model.column import drift, unpack_constants
    from jrfit.model.linear_kernel import BASE_NAMES
    from jrfit.model.params import CONSTANTS, FIELDS, LINEAR_CONSTANTS, constants, pack
    from jrfit.simulators import kernels as K

    P = JRParams(mu=np.array([100.0, 200.0]), c2=0.7)
    assert FIELDS == JRParams.FIELDS == tuple(f.name for f in dataclasses.fields(JRParams))
    assert CONSTANTS == JRParams.CONSTANTS == tuple(inspect.signature(drift).parameters)[7:]
    assert BASE_NAMES == LINEAR_CONSTANTS == tuple(n for n in FIELDS if n != "mu")
    packed = P.pack()
    assert packed.shape == (11, 2)
    np.testing.assert_array_equal(packed, pack(P.flat()))  # C1..C4 derived from a dict of fields
    np.testing.assert_array_equal(packed[:, 1], [getattr(P[1], k) for k in CONSTANTS])
    assert constants(P[0]) == tuple(unpack_constants(P[0].pack()))
    rows = [getattr(K, f"R_{k}") for k in CONSTANTS]
    assert rows == list(range(K.N_CONST)) and K.R_mu == K.N_CONST
