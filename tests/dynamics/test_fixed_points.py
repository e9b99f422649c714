"""Tests of jrfit.dynamics.fixed_points against the Routh-Hurwitz array of the closed-form polynomial."""

import numpy as np

from jrfit import JRParams
from jrfit.dynamics.fixed_points import hurwitz_determinant
from jrfit.model.spectrum import char_poly_coeffs, routh_hurwitz

P = JRParams()


def test_hurwitz_determinant_is_product_of_routh_entries():
    v = np.array([-2.0, 1.0, 4.0, 6.5, 7.5, 9.0])
    for k in range(1, 6):
        prod = np.ones_like(v)
        for i in range(1, k + 1):
            prod = prod * np.array([routh_hurwitz(char_poly_coeffs(x, P))[i] for x in v])
        scale = float(P.a) ** (k * (k + 1) // 2)  # s -> a s rescaling of the determinant
        np.testing.assert_allclose(hurwitz_determinant(v, P, order=k) * scale, prod, rtol=1e-8)
