"""PyTensor Ops around the NumPy forward model, with complex-step gradients.

Building the closed-form spectrum symbolically makes PyTensor's graph rewriter
spend minutes on a graph of a few hundred nodes (measured: > 5 min to compile
the NUTS log-density). These Ops instead evaluate the very same NumPy code
(:func:`jrfit.spectrum.psd_from_v`, :func:`jrfit.model.operating_point`)
inside ``perform`` and obtain exact derivatives from it by the complex-step
method, ``f'(x) = Im f(x + i h) / h`` with ``h = 1e-20`` relative, which has no
subtraction error: the formulas are analytic (real arithmetic on (re, im) pairs,
``np.exp``), so nothing about the maths is written twice.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.null_type import NullType
from pytensor.graph.op import Op
from pytensor.gradient import DisconnectedType

from .model import dp_dv, operating_point
from .spectrum import char_poly_coeffs, psd_from_v, routh_hurwitz

__all__ = ["JRLinearOp", "jr_linear_numpy", "ERPOp"]

_H = 1e-20


def _jr_dict(theta, names, fixed):
    d = dict(fixed)
    for i, n in enumerate(names):
        d[n] = theta[i + 1]
    return d


def jr_linear_numpy(theta, freqs, names, fixed):
    """Spectrum and operating-point terms at ``theta = (v, *free)`` (NumPy).

    Works elementwise with real or complex values of a leading batch axis of
    ``theta`` (shape (1 + n_free, ...)).

    Returns
    -------
    psd : array, shape (..., n_freq)
        Linearised one-sided JR PSD in mV^2/Hz (sigma from ``fixed``).
    p : array
        Input p(v), in /s.
    logjac : array
        log|dp/dv| (analytic continuation of the absolute value).
    op : dict
        The operating point (:func:`jrfit.model.operating_point`).
    """
    theta = np.asarray(theta)
    d = _jr_dict(theta, names, fixed)
    op = operating_point(theta[0], d)  # once: shared by the PSD, p and dp/dv

    def col(x):
        return np.asarray(x)[..., None] if np.ndim(x) else x

    expand = {k: col(x) for k, x in d.items()}
    psd = psd_from_v(freqs, col(theta[0]), expand, op={k: col(x) for k, x in op.items()})
    p = op["p"]
    slope = dp_dv(theta[0], d, op=op)
    logjac = np.log(slope * np.sign(np.real(slope)))
    return psd, p, logjac, op


def _stable(theta, names, fixed, op=None):
    """True if the fixed point at theta = (v, *free) is stable (Routh-Hurwitz)."""
    d = _jr_dict(np.asarray(theta, float), names, fixed)
    col = routh_hurwitz(char_poly_coeffs(theta[0], d, op=op))
    return all(float(c) > 0 for c in col[1:])


class _JRJacobianOp(Op):
    """Complex-step Jacobians of (psd, p, logjac) with respect to theta."""

    __props__ = ("names", "fixed_items")

    def __init__(self, names, fixed_items):
        self.names = tuple(names)
        self.fixed_items = tuple(fixed_items)

    def make_node(self, theta, freqs):
        theta = pt.as_tensor_variable(theta)
        freqs = pt.as_tensor_variable(freqs)
        return Apply(self, [theta, freqs], [pt.dmatrix(), pt.dvector(), pt.dvector()])

    def perform(self, node, inputs, outputs):
        theta, freqs = inputs
        _, j_psd, j_p, j_lj = _complex_step(theta, freqs, self.names, self.fixed_items)
        # copies: PyTensor may reuse output buffers in place, the cache must survive
        outputs[0][0] = j_psd.copy()
        outputs[1][0] = j_p.copy()
        outputs[2][0] = j_lj.copy()


_CACHE = {}


def _complex_step(theta, freqs, names, fixed_items):
    """Values and Jacobians at theta in one batched complex evaluation (cached).

    The logp and its gradient are evaluated at the same point one after the
    other; the last result is kept so the second call costs nothing.
    """
    key = (names, fixed_items, theta.tobytes(), freqs.tobytes())
    hit = _CACHE.get("last")
    if hit is not None and hit[0] == key:
        return hit[1]
    n = theta.size
    scale = np.maximum(np.abs(theta), 1.0)
    pert = theta[:, None] + 1j * _H * np.diag(scale)  # column k perturbs theta[k]
    psd, p, logjac, op = jr_linear_numpy(pert, freqs, names, dict(fixed_items))
    h = _H * scale
    # stability from the real part of the same operating point (no recomputation)
    op_real = {k: float(np.real(np.ravel(x)[0])) for k, x in op.items()}
    stable = _stable(theta, names, dict(fixed_items), op=op_real)
    values = (np.real(psd[0]).copy(), float(np.real(p[0])), float(np.real(logjac[0])), stable)
    out = (values, (np.imag(psd) / h[:, None]).T.copy(), np.imag(p) / h, np.imag(logjac) / h)
    assert out[1].shape == (freqs.size, n)
    _CACHE["last"] = (key, out)
    return out


class JRLinearOp(Op):
    """theta = (v, *free JR constants) -> (psd, p, logjac, stable).

    Parameters
    ----------
    names : sequence of str
        Names of the free JR constants, in the order they follow v in theta.
    fixed : mapping
        Values of every other JR constant (JRParams field names; ``sigma`` is
        the noise intensity in /s^0.5).
    """

    __props__ = ("names", "fixed_items")

    def __init__(self, names, fixed):
        self.names = tuple(names)
        self.fixed_items = tuple(sorted((k, float(v)) for k, v in dict(fixed).items() if k not in names))
        self._jac = _JRJacobianOp(self.names, self.fixed_items)

    def make_node(self, theta, freqs):
        theta = pt.as_tensor_variable(theta)
        freqs = pt.as_tensor_variable(freqs)
        return Apply(self, [theta, freqs], [pt.dvector(), pt.dscalar(), pt.dscalar(), pt.dscalar()])

    def perform(self, node, inputs, outputs):
        theta, freqs = inputs
        (psd, p, logjac, stable), *_ = _complex_step(theta, freqs, self.names, self.fixed_items)
        outputs[0][0] = np.array(psd, float)
        outputs[1][0] = np.asarray(p, float)
        outputs[2][0] = np.asarray(logjac, float)
        outputs[3][0] = np.asarray(1.0 if stable else 0.0)

    def grad(self, inputs, output_grads):
        theta, freqs = inputs
        j_psd, j_p, j_lj = self._jac(theta, freqs)
        g = pt.zeros_like(theta)
        for og, term in zip(output_grads[:3], (None, j_p, j_lj)):
            if isinstance(og.type, DisconnectedType):
                continue
            if term is None:
                g = g + pt.dot(og, j_psd)
            else:
                g = g + og * term
        if isinstance(output_grads[0].type, DisconnectedType):
            return [g, DisconnectedType()()]  # the frequencies only reach the PSD
        return [g, NullType("no gradient with respect to frequencies")()]

    def connection_pattern(self, node):
        return [[True, True, True, False], [True, False, False, False]]


# ----------------------------------------------------------------------------
class ERPOp(Op):
    """theta -> (response, jacobian) of :class:`jrfit.erp.ERPForward`.

    The response (mV, relative to rest) and its exact Jacobian come from one
    call of the RK4 sensitivity kernel. The gradient of the response uses the
    second output of an identical node, which PyTensor merges with the first,
    so each log-density-and-gradient evaluation integrates once.

    Parameters
    ----------
    times : array
        Uniform sample times, in s.
    names : sequence of str
        Names of theta's entries (see :class:`~jrfit.erp.ERPForward`).
    fixed : mapping
        Values of everything else.
    shape : str
        Pulse shape.
    dt_max : float
        Largest integration step, in s.
    """

    __props__ = ("times_key", "names", "fixed_items", "shape", "dt_max")

    def __init__(self, times, names, fixed, shape="jr", dt_max=1e-3):
        from .erp import ERPForward

        self.forward = ERPForward(times, names, fixed, shape=shape, dt_max=dt_max)
        t = self.forward.times
        self.times_key = (float(t[0]), float(t[1] - t[0]), int(t.size))  # uniform grid
        self.names = tuple(names)
        self.fixed_items = tuple(sorted((k, float(v)) for k, v in self.forward.fixed.items()))
        self.shape = shape
        self.dt_max = float(dt_max)

    def __str__(self):
        return f"ERPOp({', '.join(self.names)})"

    def make_node(self, theta):
        theta = pt.as_tensor_variable(theta)
        return Apply(self, [theta], [pt.dvector(), pt.dmatrix()])

    def perform(self, node, inputs, outputs):
        r, J = self.forward.response_and_jacobian(inputs[0])
        outputs[0][0] = r
        outputs[1][0] = J

    def grad(self, inputs, output_grads):
        (theta,) = inputs
        g_r = output_grads[0]
        _, J = self(theta)
        if isinstance(g_r.type, DisconnectedType):
            return [pt.zeros_like(theta)]
        return [pt.dot(g_r, J)]

    def connection_pattern(self, node):
        return [[True, False]]
