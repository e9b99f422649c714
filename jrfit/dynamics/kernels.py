"""Compiled (numba) integrators of the deterministic column for the dynamics.

Classical fourth-order Runge-Kutta for a constant input p: trajectories
(:func:`rk4_states`, :func:`flow`), attractor statistics (:func:`rk4_stats`)
and the flow with its derivatives with respect to the initial state, the
period and p (:func:`shoot`, single shooting). The equations come from
:func:`jrfit.model.column.drift` only; the constants ``c`` are packed by
:meth:`jrfit.model.params.JRParams.pack` (order
:attr:`~jrfit.model.params.JRParams.CONSTANTS`). Jacobian-vector products are
complex-step derivatives of the same drift, exact to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jrfit.model.column import drift, unpack_constants
from jrfit.model.params import constants

__all__ = ["drift_into", "rk4_states", "flow", "rk4_stats", "shoot", "drift_np"]

_JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
_CS_EPS = 1e-20  # complex-step size


@njit(**_JIT)
def drift_into(y, p, c, out):
    """out = drift(y) (real)."""
    d = drift(y[0], y[1], y[2], y[3], y[4], y[5], p, *unpack_constants(c))
    for k in range(6):
        out[k] = d[k]


@njit(**_JIT)
def _jvp(y, z, p, zp, c, out, scale):
    """out = scale * (J(y) z + (d drift / dp) zp), by the complex step."""
    e = _CS_EPS
    d = drift(
        y[0] + 1j * e * z[0],
        y[1] + 1j * e * z[1],
        y[2] + 1j * e * z[2],
        y[3] + 1j * e * z[3],
        y[4] + 1j * e * z[4],
        y[5] + 1j * e * z[5],
        p + 1j * e * zp,
        *unpack_constants(c),
    )
    for k in range(6):
        out[k] = scale * d[k].imag / e


@njit(**_JIT)
def _rk4_work():
    """Scratch of :func:`_rk4_step`: the four stage derivatives and the stage state (6,) each."""
    return np.empty(6), np.empty(6), np.empty(6), np.empty(6), np.empty(6)


@njit(**_JIT)
def _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp):
    drift_into(y, p, c, k1)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k1[i]
    drift_into(tmp, p, c, k2)
    for i in range(6):
        tmp[i] = y[i] + 0.5 * h * k2[i]
    drift_into(tmp, p, c, k3)
    for i in range(6):
        tmp[i] = y[i] + h * k3[i]
    drift_into(tmp, p, c, k4)
    for i in range(6):
        y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])


@njit(**_JIT)
def rk4_states(y_init, p, c, h, n):
    """RK4 trajectory: states at steps 0..n, shape (n + 1, 6)."""
    y = y_init.copy()
    out = np.empty((n + 1, 6))
    k1, k2, k3, k4, tmp = _rk4_work()
    out[0] = y
    for j in range(n):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        out[j + 1] = y
    return out


@njit(**_JIT)
def flow(y_init, p, c, T, n):
    """End state of n RK4 steps of T / n (the same map as row 0 of shoot)."""
    y = y_init.copy()
    k1, k2, k3, k4, tmp = _rk4_work()
    h = T / n
    for _ in range(n):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
    return y


@njit(**_JIT)
def rk4_stats(y_init, p, c, h, n_transient, n_measure):
    """Run a transient, then measure the attractor reached.

    Window 1 (n_measure steps) gives the extremes of v and the mid level; window
    2 (n_measure steps) gives the extremes again and the upward crossings of the
    mid level (linear interpolation in time).

    Returns
    -------
    y_end, stats, y_cross
        ``stats = (vmax1, vmin1, vmax2, vmin2, n_cross, t_first, t_last, finite)``
        and the state just after the last upward crossing.
    """
    y = y_init.copy()
    k1, k2, k3, k4, tmp = _rk4_work()
    y_cross = y.copy()
    stats = np.full(8, np.nan)
    for _ in range(n_transient):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
    if not np.all(np.isfinite(y)):
        stats[7] = 0.0
        return y, stats, y_cross
    vmax1 = -np.inf
    vmin1 = np.inf
    for _ in range(n_measure):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        v = y[1] - y[2]
        vmax1 = max(vmax1, v)
        vmin1 = min(vmin1, v)
    mid = 0.5 * (vmax1 + vmin1)
    vmax2 = -np.inf
    vmin2 = np.inf
    n_cross = 0
    t_first = np.nan
    t_last = np.nan
    v_prev = y[1] - y[2]
    for j in range(n_measure):
        _rk4_step(y, p, c, h, k1, k2, k3, k4, tmp)
        v = y[1] - y[2]
        vmax2 = max(vmax2, v)
        vmin2 = min(vmin2, v)
        if v_prev < mid and v >= mid:
            t = (j + (mid - v_prev) / (v - v_prev)) * h
            if n_cross == 0:
                t_first = t
            t_last = t
            n_cross += 1
            for i in range(6):
                y_cross[i] = y[i]
        v_prev = v
    stats[0] = vmax1
    stats[1] = vmin1
    stats[2] = vmax2
    stats[3] = vmin2
    stats[4] = n_cross
    stats[5] = t_first
    stats[6] = t_last
    stats[7] = 1.0 if np.all(np.isfinite(y)) else 0.0
    return y, stats, y_cross


@njit(**_JIT)
def _aug_deriv(Z, T, p, c, out, fy):
    """Time-rescaled flow and its derivatives, s in [0, 1].

    Rows of Z: 0 the state y, 1..6 the columns of dy/dx0, 7 dy/dT, 8 dy/dp.
    dy/ds = T f; dY/ds = T J Y; dyT/ds = f + T J yT; dyp/ds = T (J yp + f_p).
    """
    drift_into(Z[0], p, c, fy)
    for k in range(6):
        out[0, k] = T * fy[k]
    for j in range(1, 7):
        _jvp(Z[0], Z[j], p, 0.0, c, out[j], T)
    _jvp(Z[0], Z[7], p, 0.0, c, out[7], T)
    for k in range(6):
        out[7, k] += fy[k]
    _jvp(Z[0], Z[8], p, 1.0, c, out[8], T)


@njit(**_JIT)
def shoot(x0, T, p, c, n):
    """Flow over one period T and its derivatives (RK4, n steps of T/n).

    RK4 applied to the augmented system gives the exact derivatives of the
    discrete map, so Newton's method converges quadratically.

    Returns
    -------
    Z : ndarray, shape (9, 6)
        Row 0: phi(x0, T, p); rows 1..6: columns of the monodromy matrix;
        row 7: d phi / dT; row 8: d phi / dp.
    """
    Z = np.zeros((9, 6))
    for k in range(6):
        Z[0, k] = x0[k]
        Z[1 + k, k] = 1.0
    K1 = np.empty((9, 6))
    K2 = np.empty((9, 6))
    K3 = np.empty((9, 6))
    K4 = np.empty((9, 6))
    tmp = np.empty((9, 6))
    fy = np.empty(6)
    h = 1.0 / n
    for _ in range(n):
        _aug_deriv(Z, T, p, c, K1, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + 0.5 * h * K1[i, k]
        _aug_deriv(tmp, T, p, c, K2, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + 0.5 * h * K2[i, k]
        _aug_deriv(tmp, T, p, c, K3, fy)
        for i in range(9):
            for k in range(6):
                tmp[i, k] = Z[i, k] + h * K3[i, k]
        _aug_deriv(tmp, T, p, c, K4, fy)
        for i in range(9):
            for k in range(6):
                Z[i, k] += h / 6.0 * (K1[i, k] + 2.0 * K2[i, k] + 2.0 * K3[i, k] + K4[i, k])
    return Z


def drift_np(y, p, P):
    """drift for NumPy arrays (real or complex), stacked, shape (6, ...)."""
    out = drift(*(y[i] for i in range(6)), p, *constants(P))
    return np.stack(np.broadcast_arrays(*out))
