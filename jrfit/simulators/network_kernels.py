"""Compiled (numba) kernel of the network simulator :func:`jrfit.simulators.network.simulate_network`.

Private module. The column equations are not written here: the step calls
:func:`jrfit.model.column.drift` (through :func:`jrfit.simulators.kernels.nonlinear_part`) and
:func:`jrfit.model.column.sigmoid`, and the output is decimated by the polyphase
anti-alias filter of :mod:`jrfit.simulators.kernels` (:func:`~jrfit.simulators.kernels.fir_feed`).
The per-column step is the column simulator's own,
:func:`jrfit.simulators.kernels.advance_column`, with two inputs, ``p_in`` (added to the
mean input ``mu``) and ``acc0`` (added to the y3 = y0' kick); with both zero the
network reproduces :func:`jrfit.simulators.column.simulate` bit for bit (tested).

Layout
------
* Columns ``c = s * n_nodes + i`` (parameter set ``s``, region ``i``); states
  ``W`` (6, n), coefficients ``cf`` (N_COEF, n) as in :mod:`jrfit.simulators.kernels`.
* Afferent connections in CSR form, shared by every set: for receiver ``i``
  the entries ``e`` in ``indptr[i]:indptr[i + 1]`` have sender ``src[e]``,
  normalised weight ``wgt[e]`` and delay ``dly[e]`` (integer steps, 0 allowed:
  instantaneous coupling).
* Delay ring ``ring`` (n, 2 L), ``L = max(dly) + 1``: the coupling output of
  column ``c`` at step ``k`` (the sigmoid at the state where that step's kick is
  evaluated) is written twice, at ``k % L`` and ``k % L + L``, so that the
  value of step ``k - d`` is always at ``k % L + L - d`` (no modulo in the
  inner loop); each column's history is contiguous, so consecutive steps read
  neighbouring addresses.
"""

from __future__ import annotations

from numba import njit

from jrfit.model.column import sigmoid
from jrfit.simulators.kernels import _JIT, R_e0, R_r, R_v0, advance_column, fir_feed

SEED = 0  # S(y0_j(t - tau_ij)) added to the acceleration y0_i'' (docs/model.md, section 11)
TVB = 1  # S(y1_j - y2_j)(t - tau_ij) added to the input p_i of the y1 equation


@njit(**_JIT)
def net_block(
    method,
    mode,
    W,
    cf,
    noise,
    step0,
    n_steps,
    fir,
    n_start,
    i_last,
    out,
    snap_step,
    snap,
    vbuf,
    ring,
    indptr,
    src,
    wgt,
    dly,
    gain,
    beta,
    n_nodes,
    psi,
):
    """Advance ``n_sets = n // n_nodes`` coupled networks by ``n_steps`` steps.

    Parameters
    ----------
    method : int
        SPLITTING or EULER (see :func:`jrfit.simulators.kernels.sde_block`).
    mode : int
        SEED (coupling into y0'') or TVB (coupling into the input p).
    W, cf, noise, step0, n_steps, fir, n_start, i_last, out, snap_step, snap, vbuf
        As in :func:`jrfit.simulators.kernels.sde_block` (``fir`` accumulators of shape
        (n_acc, n)).
    ring : ndarray, shape (n, 2 L)
        Delay ring of the coupling outputs (see the module docstring),
        filled with the history before ``step0``.
    indptr, src, wgt, dly : ndarray
        Afferent connections of each region (CSR), shared by all sets.
    gain, beta : ndarray, shape (n_sets,)
        Global coupling and mean-field feedback of each set.
    n_nodes : int
        Regions per network.
    psi : ndarray, shape (n_sets,)
        Scratch.
    """
    n = W.shape[1]
    n_sets = n // n_nodes
    L = ring.shape[1] // 2
    for k in range(n_steps):
        step = step0 + k
        n_next = step + 1
        h = step % L
        # coupling outputs at the kick state of this step, into the ring
        for c in range(n):
            if mode == SEED:
                x = W[0, c]
            else:
                x = W[1, c] - W[2, c]
            s = sigmoid(x, cf[R_e0, c], cf[R_r, c], cf[R_v0, c])
            ring[c, h] = s
            ring[c, h + L] = s
        # mean field psi = mean_i S(y1_i - y2_i), fed back as beta psi
        for q in range(n_sets):
            psi[q] = 0.0
            if beta[q] != 0.0:
                acc = 0.0
                for i in range(n_nodes):
                    c = q * n_nodes + i
                    if mode == TVB:
                        acc += ring[c, h]
                    else:
                        acc += sigmoid(W[1, c] - W[2, c], cf[R_e0, c], cf[R_r, c], cf[R_v0, c])
                psi[q] = beta[q] * (acc / n_nodes)
        take = n_next == snap_step
        for q in range(n_sets):
            g = gain[q]
            base = q * n_nodes
            for i in range(n_nodes):
                c = base + i
                u = 0.0
                if g != 0.0:
                    for e in range(indptr[i], indptr[i + 1]):
                        u += wgt[e] * ring[base + src[e], h + L - dly[e]]
                    u = g * u
                if mode == SEED:
                    advance_column(method, W, cf, c, noise[c, k], psi[q], u, vbuf, take, snap)
                else:
                    advance_column(method, W, cf, c, noise[c, k], u + psi[q], 0.0, vbuf, take, snap)
        fir_feed(fir, n_next - n_start, i_last, vbuf, out)
