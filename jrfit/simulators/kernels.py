"""Compiled (numba) kernels of the simulators in :mod:`jrfit.simulators.column`.

Private module: the public entry points are :func:`jrfit.simulators.column.simulate` and
:func:`jrfit.simulators.column.integrate`, which check arguments, lay the data out and
call the kernels below.

The Jansen-Rit equations are not written here: every kernel calls
:func:`jrfit.model.column.drift` (a ``register_jitable`` function). The splitting
integrator needs the drift split into the linear damped-oscillator part
``L y`` (``-2k y' - k^2 y`` per population, ``k = a, a, b``) and the
nonlinear rest ``N(y)``; :func:`nonlinear_part` obtains ``N`` from
``drift`` evaluated at zero velocities plus the linear restoring force, so
that the two integrators cannot drift apart from the model.

Layout and conventions
----------------------
* ``cf`` is a (N_COEF, n) array of per-column coefficients (rows below),
  ``W``/``Y`` (6, n) states: columns are the fast (inner, contiguous) axis of
  the stochastic kernel, so that independent columns fill the CPU pipeline.
* Every column is computed with exactly the same floating-point operations
  whatever the other columns, the column count or the thread: results are
  reproducible bit for bit (``fastmath=False``; ``exp`` is always the scalar
  libm call).
* Kernels are compiled with ``cache=True``: a second process loads them from
  the on-disk cache instead of recompiling.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from jrfit.model.column import drift
from jrfit.model.params import CONSTANTS

# rows of the coefficient array ``cf``: the constants in JRParams.CONSTANTS order, then the rest
(
    R_A,
    R_B,
    R_a,
    R_b,
    R_C1,
    R_C2,
    R_C3,
    R_C4,
    R_e0,
    R_r,
    R_v0,
    R_mu,
    R_NS,
    R_DT,
    R_PA11,
    R_PA12,
    R_PA21,
    R_PA22,  # exp(M_a dt): full linear step, rate a
    R_PB11,
    R_PB12,
    R_PB21,
    R_PB22,  # exp(M_b dt): full linear step, rate b
    R_HA11,
    R_HA12,
    R_HA21,
    R_HA22,  # exp(M_a dt/2): half step (synchronised output)
    R_HB11,
    R_HB12,
    R_HB21,
    R_HB22,  # exp(M_b dt/2)
) = range(30)
N_COEF = 30
N_CONST = len(CONSTANTS)  # rows 0 .. N_CONST - 1 hold JRParams.pack()
assert (R_A, R_v0, R_mu) == (0, N_CONST - 1, N_CONST)

SPLITTING = 0
EULER = 1
RK4 = 2

SMALL_GROUP = 4  # groups smaller than this run column by column (latency-bound)

_JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


def propagator(k, h):
    """Exact flow exp(M h) of y'' + 2k y' + k^2 y = 0 (critically damped).

    Parameters
    ----------
    k : array
        Rate constant, in /s.
    h : float
        Time step, in s.

    Returns
    -------
    p11, p12, p21, p22 : arrays
        Entries of ``e^{-k h} [[1 + k h, h], [-k^2 h, 1 - k h]]`` acting on
        (position, velocity).
    """
    k = np.asarray(k, float)
    e = np.exp(-k * h)
    return e * (1.0 + k * h), e * h, -e * k * k * h, e * (1.0 - k * h)


@register_jitable
def nonlinear_part(y0, y1, y2, p, A, B, a, b, C1, C2, C3, C4, e0, r, v0):
    """Accelerations of y3..y5 without the linear damped-oscillator terms.

    ``N = drift(y0, y1, y2, 0, 0, 0) + (a^2 y0, a^2 y1, b^2 y2)``, i.e. the
    sigmoid terms (and the input ``A a p``), in mV/s^2.
    """
    _, _, _, d3, d4, d5 = drift(y0, y1, y2, 0.0, 0.0, 0.0, p, A, B, a, b, C1, C2, C3, C4, e0, r, v0)
    return d3 + a * a * y0, d4 + a * a * y1, d5 + b * b * y2


@register_jitable
def column_constants(cf, c):
    """Constants of column ``c``: rows R_A..R_v0 of ``cf`` as a tuple (the tail of :func:`drift`)."""
    return (
        cf[R_A, c],
        cf[R_B, c],
        cf[R_a, c],
        cf[R_b, c],
        cf[R_C1, c],
        cf[R_C2, c],
        cf[R_C3, c],
        cf[R_C4, c],
        cf[R_e0, c],
        cf[R_r, c],
        cf[R_v0, c],
    )


@register_jitable
def get_state(X, c):
    """The state ``y0..y5`` in column ``c`` of ``X`` (6, n), as a tuple."""
    return X[0, c], X[1, c], X[2, c], X[3, c], X[4, c], X[5, c]


@register_jitable
def put_state(X, c, x0, x1, x2, x3, x4, x5):
    """Write a state ``y0..y5`` into column ``c`` of ``X`` (6, n)."""
    X[0, c] = x0
    X[1, c] = x1
    X[2, c] = x2
    X[3, c] = x3
    X[4, c] = x4
    X[5, c] = x5


NO_OUTPUT = -(1 << 62)  # returned by a filter stage when no output sample completes


@register_jitable
def _fir_stage(acc, G, i, x, z):
    """Feed input sample ``i`` (values ``x`` per column) to one polyphase stage.

    The stage decimates by ``q = G.shape[0]``: output ``m`` is
    ``sum_k g[k] x[m q + k]`` (k < q n_acc), accumulated in input order;
    ``acc`` (n_acc, n) holds the partial sums of the pending outputs in a ring
    of rows (row ``m % n_acc``) and ``G[phase, j] = g[phase + j q]``. Only the
    kept (decimated) samples are computed. When output ``m`` completes its
    values go to ``z`` and ``m`` is returned (negative during the warm-up),
    otherwise NO_OUTPUT.
    """
    q = G.shape[0]
    n_acc = G.shape[1]
    n = x.shape[0]
    blk = i // q
    phase = i - blk * q
    base = blk % n_acc  # row of output blk (tap j = 0); tap j is in row base - j (mod n_acc)
    for j in range(n_acc):
        g = G[phase, j]
        row = base - j
        if row < 0:
            row += n_acc
        for c in range(n):
            acc[row, c] += g * x[c]
    if phase != q - 1:
        return NO_OUTPUT
    row = base + 1
    if row == n_acc:
        row = 0
    for c in range(n):
        z[c] = acc[row, c]
        acc[row, c] = 0.0
    return blk - n_acc + 1


@register_jitable
def _fir_stage_one(acc, GR, i, x, c):
    """:func:`_fir_stage` for column ``c`` alone, with ``acc`` of shape (n, n_acc).

    Same additions in the same order per accumulator (identical results), but
    the ring is walked in two ascending runs with the reversed taps
    ``GR[phase, t] = G[phase, n_acc - 1 - t]``, so that the loops vectorise.
    Returns ``(m, value)``.
    """
    q = GR.shape[0]
    n_acc = GR.shape[1]
    blk = i // q
    phase = i - blk * q
    base = blk % n_acc
    # rows 0..base hold outputs blk - base .. blk (tap j = base - row)
    off = n_acc - 1 - base
    for row in range(base + 1):
        acc[c, row] += GR[phase, row + off] * x
    # rows base+1..n_acc-1 hold the older outputs (tap j = base - row + n_acc)
    off = -base - 1
    for row in range(base + 1, n_acc):
        acc[c, row] += GR[phase, row + off] * x
    if phase != q - 1:
        return NO_OUTPUT, 0.0
    row = base + 1
    if row == n_acc:
        row = 0
    val = acc[c, row]
    acc[c, row] = 0.0
    return blk - n_acc + 1, val


@register_jitable
def _fir_push(G1, acc1, z1, G2, acc2, z2, i, x, out):
    """Two-stage decimation (stage 1 by q1, stage 2 by q2) of input ``i``, all columns."""
    m1 = _fir_stage(acc1, G1, i, x, z1)
    if m1 >= 0:
        m2 = _fir_stage(acc2, G2, m1, z1, z2)
        if 0 <= m2 < out.shape[1]:
            for c in range(x.shape[0]):
                out[c, m2] = z2[c]


@register_jitable
def _fir_push_one(GR1, acc1, GR2, acc2, i, x, c, out):
    """:func:`_fir_push` for column ``c`` alone (small groups)."""
    m1, val = _fir_stage_one(acc1, GR1, i, x, c)
    if m1 >= 0:
        m2, val2 = _fir_stage_one(acc2, GR2, m1, val, c)
        if 0 <= m2 < out.shape[1]:
            out[c, m2] = val2


@register_jitable
def fir_feed(fir, i, i_last, x, out):
    """Feed filter input ``i`` (values ``x`` of every column) if it is one of 0..i_last.

    ``fir`` has the (n_acc, n) accumulator layout (see :func:`sde_block`).
    """
    if 0 <= i <= i_last:
        G1, GR1, acc1, z1, G2, GR2, acc2, z2 = fir
        _fir_push(G1, acc1, z1, G2, acc2, z2, i, x, out)


@njit(**_JIT)
def fir_prefeed(fir, n_feed, x, out, per_column):
    """Feed ``n_feed`` copies of ``x`` (inputs 0 .. n_feed-1): constant history.

    ``per_column``: the accumulators have the (n, n_acc) layout of small groups
    (each column filtered on its own), else (n_acc, n).
    """
    G1, GR1, acc1, z1, G2, GR2, acc2, z2 = fir
    n = x.shape[0]
    for i in range(n_feed):
        if per_column:
            for c in range(n):
                _fir_push_one(GR1, acc1, GR2, acc2, i, x[c], c, out)
        else:
            fir_feed(fir, i, n_feed, x, out)


@register_jitable
def _linear_flow(cf, ra, rb, c, w0, w1, w2, w3, w4, w5):
    """Exact linear flow of the three oscillators of column ``c``.

    The 2 x 2 propagators (p11, p12, p21, p22) of rate a and rate b are the
    rows ``ra..ra+3`` and ``rb..rb+3`` of ``cf`` (R_PA11/R_PB11: a full step,
    R_HA11/R_HB11: half a step); returns the state ``y0..y5``.
    """
    a11 = cf[ra, c]
    a12 = cf[ra + 1, c]
    a21 = cf[ra + 2, c]
    a22 = cf[ra + 3, c]
    b11 = cf[rb, c]
    b12 = cf[rb + 1, c]
    b21 = cf[rb + 2, c]
    b22 = cf[rb + 3, c]
    return (
        a11 * w0 + a12 * w3,
        a11 * w1 + a12 * w4,
        b11 * w2 + b12 * w5,
        a21 * w0 + a22 * w3,
        a21 * w1 + a22 * w4,
        b21 * w2 + b22 * w5,
    )


@register_jitable
def sde_step_in(method, w0, w1, w2, w3, w4, w5, xi, p_in, acc0, cf, c):
    """One stochastic step of column ``c`` with extra input ``p_in`` and kick ``acc0``.

    The mean input is ``mu + p_in`` (/s) and ``acc0`` (mV/s^2) is added to the
    acceleration of y0 (network coupling; both 0 for a single column, which
    leaves every operation bit-identical). Returns the new (internal) state,
    ``v = y1 - y2`` at the new time and the synchronised state ``y0..y5`` at
    the new time (for splitting the internal state is half a linear step
    ahead; unused outputs are optimised away).
    """
    dt = cf[R_DT, c]
    p = cf[R_mu, c] + p_in
    if method == SPLITTING:
        n3, n4, n5 = nonlinear_part(w0, w1, w2, p, *column_constants(cf, c))
        w3 = w3 + dt * (n3 + acc0)
        w4 = w4 + dt * n4 + cf[R_NS, c] * xi
        w5 = w5 + dt * n5
        s0, s1, s2, s3, s4, s5 = _linear_flow(cf, R_HA11, R_HB11, c, w0, w1, w2, w3, w4, w5)  # synchronised
        u0, u1, u2, u3, u4, u5 = _linear_flow(cf, R_PA11, R_PB11, c, w0, w1, w2, w3, w4, w5)
        return u0, u1, u2, u3, u4, u5, s1 - s2, s0, s1, s2, s3, s4, s5
    d0, d1, d2, d3, d4, d5 = drift(w0, w1, w2, w3, w4, w5, p, *column_constants(cf, c))
    u0 = w0 + dt * d0
    u1 = w1 + dt * d1
    u2 = w2 + dt * d2
    u3 = w3 + dt * (d3 + acc0)
    u4 = w4 + dt * d4 + cf[R_NS, c] * xi
    u5 = w5 + dt * d5
    return u0, u1, u2, u3, u4, u5, u1 - u2, u0, u1, u2, u3, u4, u5


@register_jitable
def _sde_step(method, w0, w1, w2, w3, w4, w5, xi, cf, c):
    """One stochastic step of column ``c`` (:func:`sde_step_in` without coupling)."""
    return sde_step_in(method, w0, w1, w2, w3, w4, w5, xi, 0.0, 0.0, cf, c)


@register_jitable
def advance_column(method, W, cf, c, xi, p_in, acc0, vbuf, take, snap):
    """One step of column ``c`` of ``W`` in place (:func:`sde_step_in`).

    ``v`` at the new time goes to ``vbuf[c]``, and the synchronised state to
    column ``c`` of ``snap`` when ``take``. The step of every group of columns
    (single columns and networks alike) is this call.
    """
    u0, u1, u2, u3, u4, u5, v, s0, s1, s2, s3, s4, s5 = sde_step_in(
        method, W[0, c], W[1, c], W[2, c], W[3, c], W[4, c], W[5, c], xi, p_in, acc0, cf, c
    )
    put_state(W, c, u0, u1, u2, u3, u4, u5)
    vbuf[c] = v
    if take:
        put_state(snap, c, s0, s1, s2, s3, s4, s5)


@njit(**_JIT)
def sde_block(method, W, cf, noise, step0, n_steps, fir, n_start, i_last, out, snap_step, snap, vbuf):
    """Advance a group of columns by ``n_steps`` stochastic steps.

    Parameters
    ----------
    method : int
        SPLITTING (Strang: half linear, kick, half linear; consecutive half
        steps merged, so ``W`` is the state half a linear step after the
        synchronised one) or EULER (Euler-Maruyama; ``W`` is the state).
    W : ndarray, shape (6, n)
        State, updated in place.
    cf : ndarray, shape (N_COEF, n)
        Per-column coefficients.
    noise : ndarray, shape (n, >= n_steps)
        Standard normal draws, one per column and step.
    step0 : int
        Global index of the first step (the state is at global step step0).
    fir : tuple
        Anti-alias filter, two polyphase stages: ``(G1, GR1, acc1, z1, G2,
        GR2, acc2, z2)`` with taps ``G`` (q, n_acc), reversed taps
        ``GR = G[:, ::-1]``, accumulators ``acc`` of shape (n_acc, n) (or
        (n, n_acc) when n < SMALL_GROUP) and scratch ``z`` (n,).
    n_start : int
        Global step fed to the filter as its input 0.
    i_last : int
        Last filter input needed.
    out : ndarray, shape (n, n_out)
        Decimated output of v = y1 - y2, in mV.
    snap_step : int
        Global step at which the (synchronised) state is copied to ``snap``.
    snap : ndarray, shape (6, n)
    vbuf : ndarray, shape (n,)
        Scratch.

    Notes
    -----
    Small groups (latency-bound) run column by column with the state in
    registers; larger groups run step by step across the columns so that
    independent columns fill the pipeline. Both orders perform the same
    operations per column: results are identical.
    """
    G1, GR1, acc1, z1, G2, GR2, acc2, z2 = fir
    n = W.shape[1]
    if n < SMALL_GROUP:
        for c in range(n):
            w0, w1, w2, w3, w4, w5 = get_state(W, c)
            for k in range(n_steps):
                n_next = step0 + k + 1
                w0, w1, w2, w3, w4, w5, v, s0, s1, s2, s3, s4, s5 = _sde_step(
                    method, w0, w1, w2, w3, w4, w5, noise[c, k], cf, c
                )
                if n_next == snap_step:
                    put_state(snap, c, s0, s1, s2, s3, s4, s5)
                i = n_next - n_start
                if 0 <= i <= i_last:
                    _fir_push_one(GR1, acc1, GR2, acc2, i, v, c, out)
            put_state(W, c, w0, w1, w2, w3, w4, w5)
        return
    for k in range(n_steps):
        n_next = step0 + k + 1
        take = n_next == snap_step
        for c in range(n):
            advance_column(method, W, cf, c, noise[c, k], 0.0, 0.0, vbuf, take, snap)
        fir_feed(fir, n_next - n_start, i_last, vbuf, out)


@register_jitable
def _drift_at(y, h, k, p, c):
    """:func:`drift` at the RK4 stage state ``y + h k`` (6-tuples), input ``p``, constants ``c``."""
    return drift(
        y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3], y[4] + h * k[4], y[5] + h * k[5], p, *c
    )


@register_jitable
def _rk4_step(y, pk, pm, pn, dt, c):
    """Classical RK4 step of the state ``y`` (6-tuple) with inputs at the start, middle and end."""
    h = 0.5 * dt
    k1 = drift(y[0], y[1], y[2], y[3], y[4], y[5], pk, *c)
    k2 = _drift_at(y, h, k1, pm, c)
    k3 = _drift_at(y, h, k2, pm, c)
    k4 = _drift_at(y, dt, k3, pn, c)
    s = dt / 6.0
    return (
        y[0] + s * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
        y[1] + s * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
        y[2] + s * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2]),
        y[3] + s * (k1[3] + 2.0 * k2[3] + 2.0 * k3[3] + k4[3]),
        y[4] + s * (k1[4] + 2.0 * k2[4] + 2.0 * k3[4] + k4[4]),
        y[5] + s * (k1[5] + 2.0 * k2[5] + 2.0 * k3[5] + k4[5]),
    )


@njit(**_JIT)
def ode_run(method, Y, cf, p, n_steps, q, rec):
    """Deterministic integration with a sampled input, recording every q-th step.

    Parameters
    ----------
    method : int
        SPLITTING, EULER or RK4.
    Y : ndarray, shape (6, n)
        Initial state (synchronised), overwritten with the final state.
    cf : ndarray, shape (N_COEF, n)
        Per-column coefficients (``mu`` and the noise scale are not used).
    p : ndarray, shape (n, n_steps + 1)
        Input at the step times, in /s. Midpoint values (splitting's kick,
        RK4's middle stages) are the mean of neighbouring samples.
    n_steps : int
    q : int
        Recording stride.
    rec : ndarray, shape (6, n, n_steps // q + 1)
        Recorded states.
    """
    n = Y.shape[1]
    for c in range(n):
        consts = column_constants(cf, c)
        dt = cf[R_DT, c]
        y0, y1, y2, y3, y4, y5 = get_state(Y, c)
        rec[0, c, 0] = y0
        rec[1, c, 0] = y1
        rec[2, c, 0] = y2
        rec[3, c, 0] = y3
        rec[4, c, 0] = y4
        rec[5, c, 0] = y5
        pa11 = cf[R_PA11, c]
        pa12 = cf[R_PA12, c]
        pa21 = cf[R_PA21, c]
        pa22 = cf[R_PA22, c]
        pb11 = cf[R_PB11, c]
        pb12 = cf[R_PB12, c]
        pb21 = cf[R_PB21, c]
        pb22 = cf[R_PB22, c]
        ha11 = cf[R_HA11, c]
        ha12 = cf[R_HA12, c]
        ha21 = cf[R_HA21, c]
        ha22 = cf[R_HA22, c]
        hb11 = cf[R_HB11, c]
        hb12 = cf[R_HB12, c]
        hb21 = cf[R_HB21, c]
        hb22 = cf[R_HB22, c]
        if method == SPLITTING:
            # staggered state: half a linear step ahead of y
            y0, y3 = ha11 * y0 + ha12 * y3, ha21 * y0 + ha22 * y3
            y1, y4 = ha11 * y1 + ha12 * y4, ha21 * y1 + ha22 * y4
            y2, y5 = hb11 * y2 + hb12 * y5, hb21 * y2 + hb22 * y5
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        for k in range(n_steps):
            m = k + 1
            keep = m % q == 0
            if method == SPLITTING:
                pmid = 0.5 * (p[c, k] + p[c, k + 1])
                n3, n4, n5 = nonlinear_part(y0, y1, y2, pmid, *consts)
                y3 = y3 + dt * n3
                y4 = y4 + dt * n4
                y5 = y5 + dt * n5
                if keep or m == n_steps:
                    s0 = ha11 * y0 + ha12 * y3
                    s1 = ha11 * y1 + ha12 * y4
                    s2 = hb11 * y2 + hb12 * y5
                    s3 = ha21 * y0 + ha22 * y3
                    s4 = ha21 * y1 + ha22 * y4
                    s5 = hb21 * y2 + hb22 * y5
                y0, y3 = pa11 * y0 + pa12 * y3, pa21 * y0 + pa22 * y3
                y1, y4 = pa11 * y1 + pa12 * y4, pa21 * y1 + pa22 * y4
                y2, y5 = pb11 * y2 + pb12 * y5, pb21 * y2 + pb22 * y5
            else:
                if method == EULER:
                    d0, d1, d2, d3, d4, d5 = drift(y0, y1, y2, y3, y4, y5, p[c, k], *consts)
                    y0 = y0 + dt * d0
                    y1 = y1 + dt * d1
                    y2 = y2 + dt * d2
                    y3 = y3 + dt * d3
                    y4 = y4 + dt * d4
                    y5 = y5 + dt * d5
                else:
                    pmid = 0.5 * (p[c, k] + p[c, k + 1])
                    y0, y1, y2, y3, y4, y5 = _rk4_step((y0, y1, y2, y3, y4, y5), p[c, k], pmid, p[c, k + 1], dt, consts)
                s0 = y0
                s1 = y1
                s2 = y2
                s3 = y3
                s4 = y4
                s5 = y5
            if keep:
                j = m // q
                rec[0, c, j] = s0
                rec[1, c, j] = s1
                rec[2, c, j] = s2
                rec[3, c, j] = s3
                rec[4, c, j] = s4
                rec[5, c, j] = s5
            if m == n_steps:
                put_state(Y, c, s0, s1, s2, s3, s4, s5)
