"""PyTensor Ops around the compiled forward models, with exact Jacobians.

Building the closed-form spectrum symbolically makes PyTensor's graph rewriter
spend minutes on a graph of a few hundred nodes (measured: > 5 min to compile
the NUTS log-density). :class:`JRLinearOp` instead calls the numba kernel
:func:`jrfit.model.linear_kernel.linear_forward`, which compiles the very
functions the NumPy and PyTensor paths use (:func:`jrfit.model.spectrum.psd_from_v`'s
core, :func:`jrfit.model.column.operating_point`'s core) and obtains exact derivatives
by the complex-step method, ``f'(x) = Im f(x + i h) / h`` with ``h = 1e-20``
relative, which has no subtraction error: nothing about the maths is written
twice. :class:`ERPOp` wraps the RK4 sensitivity integrator of :mod:`jrfit.model.erp`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.null_type import NullType
from pytensor.graph.op import Op
from numba import njit
from pytensor.gradient import DisconnectedType

from jrfit.model.linear_kernel import linear_forward, pack
from jrfit.model.column import dp_dv, operating_point
from jrfit.model.spectrum import char_poly_coeffs, psd_from_v, routh_hurwitz

__all__ = ["JRLinearOp", "BandedMatVecOp", "jr_linear_numpy", "ERPOp"]


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
        The operating point (:func:`jrfit.model.column.operating_point`).
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


class JRLinearOp(Op):
    """theta = (v, *free JR constants) -> (psd, p, logjac, stable) and their Jacobians.

    Outputs 0-3 are the linearised PSD (mV^2/Hz), p(v) (/s), log|dp/dv| and
    1.0/0.0 for a stable/unstable fixed point; outputs 4-6 the Jacobians of the
    first three with respect to theta (the PSD's as (1 + n_free, n_freq), so
    that its product with the gradient is a contiguous matrix-vector product
    in numba), from the same call of the compiled
    kernel :func:`jrfit.model.linear_kernel.linear_forward`. The gradient uses
    outputs 4-6 of an identical node, which PyTensor merges with the first, so
    each log-density-and-gradient evaluation runs the kernel once. The Op also
    compiles into numba-mode graphs (nutpie) through the same kernel.

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
        self.free_idx, self.base = pack(self.names, dict(self.fixed_items))

    def make_node(self, theta, freqs):
        theta = pt.as_tensor_variable(theta)
        freqs = pt.as_tensor_variable(freqs)
        outs = [pt.dvector(), pt.dscalar(), pt.dscalar(), pt.dscalar(), pt.dmatrix(), pt.dvector(), pt.dvector()]  # noqa: E501
        return Apply(self, [theta, freqs], outs)

    def perform(self, node, inputs, outputs):
        theta, freqs = (np.asarray(x, float) for x in inputs)
        try:
            res = linear_forward(theta, freqs, self.free_idx, self.base)
        except (ArithmeticError, ValueError):  # never raise inside a sampler: an unstable, NaN point
            n, nf = theta.size, freqs.size
            res = (np.full(nf, np.nan), np.nan, np.nan, 0.0, np.zeros((n, nf)), np.zeros(n), np.zeros(n))
        for i, x in enumerate(res):
            outputs[i][0] = np.asarray(x, float)

    def grad(self, inputs, output_grads):
        theta, freqs = inputs
        _, _, _, _, j_psd, j_p, j_lj = self(theta, freqs)
        g = pt.zeros_like(theta)
        for og, term in zip(output_grads[:3], (j_psd, j_p, j_lj)):
            if isinstance(og.type, DisconnectedType):
                continue
            g = g + (pt.dot(term, og) if term is j_psd else og * term)
        if isinstance(output_grads[0].type, DisconnectedType):
            return [g, DisconnectedType()()]  # the frequencies only reach the PSD
        return [g, NullType("no gradient with respect to frequencies")()]

    def connection_pattern(self, node):
        return [[True, True, True, False, True, True, True], [True, False, False, False, True, False, False]]


def _source_version(*modules):
    """An integer that changes with the source of ``modules``: PyTensor's numba cache key salt.

    PyTensor caches a compiled Op by its class and properties only; without
    the salt an upgraded kernel would keep running the old compiled code.
    """
    import hashlib
    import inspect

    digest = hashlib.sha1()
    for mod in modules:
        digest.update(inspect.getsource(mod).encode())
    return int(digest.hexdigest()[:12], 16)


def _register_numba():
    """Let PyTensor's numba backend (nutpie) compile JRLinearOp through the kernel."""
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    import sys

    from jrfit.model import linear_kernel as _linear_kernel
    from jrfit.model import column as model
    from jrfit.model import spectrum

    version = _source_version(_linear_kernel, model, spectrum, sys.modules[__name__])

    @register_funcify_default_op_cache_key(JRLinearOp)
    def _funcify_jr_linear(op, node=None, **kwargs):
        free_idx, base = op.free_idx, op.base

        @numba_njit
        def jr_linear(theta, freqs):
            try:  # numba's complex division raises on an exact zero: never raise inside a sampler
                psd, p, lj, st, j_psd, j_p, j_lj = linear_forward(theta, freqs, free_idx, base)
            except Exception:
                n, nf = theta.size, freqs.size
                psd, p, lj, st = np.full(nf, np.nan), np.nan, np.nan, 0.0
                j_psd, j_p, j_lj = np.zeros((n, nf)), np.zeros(n), np.zeros(n)
            return psd, np.asarray(p), np.asarray(lj), np.asarray(st), j_psd, j_p, j_lj

        return jr_linear, version


_register_numba()


# ----------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def banded_apply(x, weights, start):
    """``y[k] = sum_w weights[k, w] x[start[k] + w]``: a banded matrix times a vector."""
    n, width = weights.shape
    y = np.zeros(n)
    for k in range(n):
        s = start[k]
        acc = 0.0
        for j in range(width):
            acc += weights[k, j] * x[s + j]
        y[k] = acc
    return y


@njit(cache=True, error_model="numpy")
def banded_apply_t(g, weights, start, n_x):
    """The transpose of :func:`banded_apply` applied to ``g`` (length ``n_x``)."""
    n, width = weights.shape
    out = np.zeros(n_x)
    for k in range(n):
        s = start[k]
        for j in range(width):
            out[s + j] += weights[k, j] * g[k]
    return out


class BandedMatVecOp(Op):
    """x -> M x for a banded M given as row weights and start indices (the leakage map).

    Inputs are ``x`` (n_fine,), ``weights`` (n_rows, width) and ``start``
    (n_rows,) int64 (:meth:`jrfit.inference.leakage.LeakageKernel.banded`); the gradient
    with respect to ``x`` is ``M^T g`` (:class:`BandedMatVecTOp`). Both compile
    into numba-mode graphs (nutpie) without object mode; a dense ``pt.dot``
    with the transposed matrix in its gradient did not (measured: twice the
    cost of the whole log density).
    """

    __props__ = ()

    def make_node(self, x, weights, start):
        x, weights, start = (pt.as_tensor_variable(t) for t in (x, weights, start))
        return Apply(self, [x, weights, start], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        x, weights, start = inputs
        outputs[0][0] = banded_apply(np.asarray(x, float), np.asarray(weights, float), np.asarray(start, np.int64))

    def grad(self, inputs, output_grads):
        x, weights, start = inputs
        g_x = BandedMatVecTOp()(output_grads[0], weights, start, x)
        return [g_x, NullType("no gradient with respect to the leakage weights")(), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [True], [False]]


class BandedMatVecTOp(Op):
    """g -> M^T g for the banded M of :class:`BandedMatVecOp` (its gradient); ``x`` gives the length."""

    __props__ = ()

    def make_node(self, g, weights, start, x):
        g, weights, start, x = (pt.as_tensor_variable(t) for t in (g, weights, start, x))
        return Apply(self, [g, weights, start, x], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        g, weights, start, x = inputs
        outputs[0][0] = banded_apply_t(
            np.asarray(g, float), np.asarray(weights, float), np.asarray(start, np.int64), len(x)
        )


def _register_numba_banded():
    import sys

    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    version = _source_version(sys.modules[__name__])

    @register_funcify_default_op_cache_key(BandedMatVecOp)
    def _funcify_banded(op, node=None, **kwargs):
        @numba_njit
        def banded(x, weights, start):
            return banded_apply(x, weights, start)

        return banded, version

    @register_funcify_default_op_cache_key(BandedMatVecTOp)
    def _funcify_banded_t(op, node=None, **kwargs):
        @numba_njit
        def banded_t(g, weights, start, x):
            return banded_apply_t(g, weights, start, x.shape[0])

        return banded_t, version


_register_numba_banded()


# ----------------------------------------------------------------------------
def rest_potential(theta_free, names, fixed, p0, v_bounds, n_grid=400):
    """The lowest v (mV) in ``v_bounds`` at which the input ``p0`` (/s) holds the column at rest, and dv/dtheta.

    The quiescent rest of an evoked-response column: the lowest root of
    p(v) = p0 (a grid, then Brent's method); its derivative with respect to
    the free constants follows from the implicit-function theorem,
    dv/dtheta = -(dp/dtheta) / (dp/dv). NaN (and a zero derivative) where
    there is no root.
    """
    from scipy.optimize import brentq

    from jrfit.model.column import p_of_v

    theta_free = np.asarray(theta_free, float)
    d = dict(fixed)
    d.update({n: float(x) for n, x in zip(names, theta_free)})
    grid = np.linspace(v_bounds[0], v_bounds[1], n_grid)
    with np.errstate(all="ignore"):
        f = np.asarray(p_of_v(grid, d), float) - p0
    cross = np.flatnonzero(np.isfinite(f[:-1]) & np.isfinite(f[1:]) & (np.sign(f[:-1]) != np.sign(f[1:])))
    if not cross.size:
        return np.nan, np.zeros(theta_free.size)
    i = int(cross[0])
    v = brentq(lambda x: float(p_of_v(x, d)) - p0, grid[i], grid[i + 1], xtol=1e-12)
    free_idx, base = pack(tuple(names), {k: float(x) for k, x in dict(fixed).items() if k not in names})
    _, _, _, _, _, j_p, _ = linear_forward(np.concatenate([[v], theta_free]), np.zeros(0), free_idx, base)
    if not (np.isfinite(j_p).all() and j_p[0] != 0):
        return np.nan, np.zeros(theta_free.size)
    return float(v), -j_p[1:] / j_p[0]


class RestPotentialOp(Op):
    """theta = (free JR constants) -> (v, dv/dtheta): the rest potential at a fixed input (see rest_potential).

    Parameters
    ----------
    names : sequence of str
        Names of the free JR constants (theta's order).
    fixed : mapping
        Values of every other JR constant.
    p0 : float
        The input that holds the column at rest, in /s.
    v_bounds : tuple of float
        Where the rest potential is looked for, in mV (the lowest root in it).
    """

    __props__ = ("names", "fixed_items", "p0", "v_bounds")

    def __init__(self, names, fixed, p0, v_bounds):
        self.names = tuple(names)
        self.fixed_items = tuple(sorted((k, float(v)) for k, v in dict(fixed).items() if k not in names))
        self.p0 = float(p0)
        self.v_bounds = (float(v_bounds[0]), float(v_bounds[1]))

    def make_node(self, theta):
        theta = pt.as_tensor_variable(theta)
        return Apply(self, [theta], [pt.dscalar(), pt.dvector()])

    def perform(self, node, inputs, outputs):
        theta = np.asarray(inputs[0], float)
        try:
            v, dv = rest_potential(theta, self.names, dict(self.fixed_items), self.p0, self.v_bounds)
        except (ArithmeticError, ValueError, RuntimeError):  # never raise inside a sampler
            v, dv = np.nan, np.zeros(theta.size)
        outputs[0][0] = np.asarray(v, float)
        outputs[1][0] = np.asarray(dv, float)

    def grad(self, inputs, output_grads):
        (theta,) = inputs
        _, dv = self(theta)
        if isinstance(output_grads[0].type, DisconnectedType):
            return [pt.zeros_like(theta)]
        return [output_grads[0] * dv]

    def connection_pattern(self, node):
        return [[True, False]]


class ERPOp(Op):
    """theta -> (response, jacobian) of :class:`jrfit.model.erp.ERPForward`.

    The response (mV, relative to rest) and its exact Jacobian come from one
    call of the RK4 sensitivity kernel. The gradient of the response uses the
    second output of an identical node, which PyTensor merges with the first,
    so each log-density-and-gradient evaluation integrates once.

    Parameters
    ----------
    times : array
        Uniform sample times, in s.
    names : sequence of str
        Names of theta's entries (see :class:`~jrfit.model.erp.ERPForward`).
    fixed : mapping
        Values of everything else.
    shape : str
        Pulse shape.
    dt_max : float
        Largest integration step, in s.
    """

    __props__ = ("times_key", "names", "fixed_items", "shape", "dt_max")

    def __init__(self, times, names, fixed, shape="jr", dt_max=1e-3):
        from jrfit.model.erp import ERPForward

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
        from jrfit.errors import ModelError

        try:
            r, J = self.forward.response_and_jacobian(inputs[0])
        except (ArithmeticError, ValueError, ModelError):  # never raise inside a sampler: NaN
            r = np.full(self.forward.times.size, np.nan)
            J = np.zeros((self.forward.times.size, len(self.names)))
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
