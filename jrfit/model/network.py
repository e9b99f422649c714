"""Linear analysis of a network of Jansen-Rit columns coupled by a connectome with delays.

:func:`network_fixed_point` finds the coupled fixed point and its stability
(with the delays); :func:`linear_cross_spectrum` gives the linearised
cross-spectral matrix of the region signals, a :class:`CrossSpectrum` (also
what :meth:`jrfit.simulators.network.NetworkSimulation.cross_spectrum`
estimates by Welch's method). The connectome is a
:class:`jrfit.model.connectome.Connectivity`.

Coupling conventions
--------------------
Region ``i`` receives from region ``j`` with weight ``w_ij`` (row = receiver,
column = sender, the convention of TVB's simulator) and delay ``tau_ij``;
``K_ij = G w_ij`` with the global coupling ``G``. Three conventions are in
use in the field; jrfit implements the first two:

``coupling="seed"`` (default; docs/model.md, section 11)
    The afferent term enters the **y0 equation** (the pyramidal PSP)::

        y0_i'' = A a S(y1_i - y2_i) - 2a y0_i' - a^2 y0_i + sum_j K_ij S(y0_j(t - tau_ij))

    ``S`` is the sender's sigmoid (its ``e0, r, v0``) evaluated at the
    sender's y0, and the term is an acceleration: ``K`` (and ``G``) is in
    mV/s (mV/s^2 per firing rate in /s). y0 is small (about 0.1 mV at rest,
    far below the threshold ``v0 = 6`` mV), so ``S(y0_j)`` is about 0.18 /s and
    its slope about 0.1 /s/mV: a global coupling of order 1e2-1e4 mV/s is
    needed for a visible effect.
``coupling="tvb"`` (TVB's ``JansenRit`` with ``SigmoidalJansenRit``)
    The sum of the sigmoids of each neighbour's ``y1 - y2`` enters the
    **y1 equation** (excitatory interneurons) as extra input, next to ``p``::

        y1_i'' = A a (p_i + C2 S(C1 y0_i) + sum_j K_ij S(y1_j(t - tau_ij) - y2_j(t - tau_ij))) - ...

    ``G`` is dimensionless (TVB's ``coupling.a``; TVB works in ms but the term
    is a rate, so the value carries over).
vbi (not implemented)
    Takes the sigmoid of the weighted sum, ``S(sum_j K_ij (y1_j - y2_j)(t - tau_ij))``,
    rather than the sum of sigmoids: it saturates once for all afferents.

Mean-field feedback (``beta``)
    An optional global field ``psi(t) = mean_i S(y1_i(t) - y2_i(t))`` (over the
    regions of one network, no delay) is added as ``beta psi(t)`` to every
    column's input ``p``. ``beta = 0`` gives the plain network exactly.
"""

from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass, field

import numpy as np

from jrfit.errors import JRFitError, ModelError
from jrfit.model.column import fixed_point_states, fixed_points, sigmoid, sigmoid_deriv
from jrfit.model.connectome import as_connectivity
from jrfit.model.params import FIELDS, JRParams, readonly
from jrfit.model.spectrum import char_poly_coeffs, transfer_parts
from jrfit.utils.check import check_option
from jrfit.utils.log import logger, verbose

__all__ = [
    "network_fixed_point",
    "NetworkFixedPoint",
    "linear_cross_spectrum",
    "CrossSpectrum",
    "COUPLINGS",
    "network_params",
    "per_set",
    "gain_unit",
    "set_params",
    "coupled_fixed_point",
    "count_unstable",
]

COUPLINGS = ("seed", "tvb")
"""The coupling conventions (see the module docstring)."""


def _blas_one_thread():
    """Limit BLAS to one thread (if threadpoolctl is installed).

    The dense problems here are small (n <= a few hundred) and many: threaded
    BLAS only adds overhead, and on a busy machine its spinning threads make
    a 150 x 150 solve hundreds of times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


# ----------------------------------------------------------------------------
# shared argument handling
def network_params(params, n_nodes):
    """Broadcast ``params`` to shape (n_sets, n_nodes); return (params2d, flat)."""
    if params is None:
        params = JRParams()
    if not isinstance(params, JRParams):
        raise JRFitError(f"'params' must be a JRParams instance, got {type(params).__name__}.")
    bs = params.batch_shape
    try:
        shape = np.broadcast_shapes(bs, (n_nodes,))
    except ValueError:
        shape = None
    if shape is None or len(shape) > 2:
        raise JRFitError(
            f"'params' must have batch shape (), (n_regions,) = ({n_nodes},) (per region) or "
            f"(n_sets, {n_nodes}) / (n_sets, 1) (a batch of networks); got {bs}."
        )
    d = params.as_dict()
    full = (1,) + shape if len(shape) == 1 else shape
    p2 = JRParams(**{k: np.broadcast_to(v, full) for k, v in d.items()})
    return p2, p2.flat()


def per_set(name, value, n_sets, unit, allow_negative=True):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n_sets, float(arr))
    if arr.shape != (n_sets,):
        raise JRFitError(
            f"{name!r} must be a number or an array of shape (n_sets,) = ({n_sets},), got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise JRFitError(f"{name!r} ({unit}) must be finite, got {value!r}.")
    if not allow_negative and np.any(arr < 0):
        raise JRFitError(f"{name!r} ({unit}) must be >= 0, got {value!r}.")
    return arr


def gain_unit(coupling):
    return "mV/s" if coupling == "seed" else "dimensionless"


# ----------------------------------------------------------------------------
# fixed point and stability
@dataclass(frozen=True)
class NetworkFixedPoint:
    """A fixed point of a (deterministic) network.

    Attributes
    ----------
    y : ndarray, shape (6, n_regions)
        State of every column (mV, mV/s; the derivatives are zero).
    stable : bool | None
        True if every root of the network's characteristic function (with its
        delays) lies in the left half-plane; None if not checked.
    n_unstable : int | None
        Number of roots in the right half-plane (counted with the argument
        principle; see :func:`network_fixed_point`).
    input : ndarray, shape (n_regions,)
        Total constant input of every column: ``mu`` plus the mean coupling
        (tvb) and ``beta psi``, in /s.
    """

    y: np.ndarray
    stable: object
    n_unstable: object
    input: np.ndarray

    @property
    def v(self):
        """Operating potential ``y1 - y2`` of every region, in mV."""
        return self.y[1] - self.y[2]


def _fp_residual(y0, v, P, K, beta, mode):
    """Residual and Jacobian of the fixed-point equations in (y0, v)."""
    n = y0.size
    S = lambda x: sigmoid(x, P["e0"], P["r"], P["v0"])  # noqa: E731
    dS = lambda x: sigmoid_deriv(x, P["e0"], P["r"], P["v0"])  # noqa: E731
    A, a, B, b = P["A"], P["a"], P["B"], P["b"]
    C1, C2, C3, C4 = P["C1"], P["C2"], P["C3"], P["C4"]
    sv, dsv = S(v), dS(v)
    p = P["mu"] + beta * np.mean(sv)
    c0 = np.zeros(n)
    if mode == "seed":
        s0 = S(y0)
        c0 = K @ s0
    else:
        p = p + K @ sv
    F1 = y0 - (A * a * sv + c0) / (a * a)
    F2 = v - A / a * (p + C2 * S(C1 * y0)) + B / b * C4 * S(C3 * y0)
    J = np.zeros((2 * n, 2 * n))
    J[:n, :n] = np.eye(n)
    if mode == "seed":
        J[:n, :n] -= K * dS(y0)[None, :] / (a * a)[:, None]
    J[:n, n:] = np.diag(-A / a * dsv)
    J[n:, :n] = np.diag(-A / a * C2 * C1 * dS(C1 * y0) + B / b * C4 * C3 * dS(C3 * y0))
    Jvv = np.eye(n) - (A / a)[:, None] * (beta / n) * dsv[None, :]
    if mode == "tvb":
        Jvv -= (A / a)[:, None] * K * dsv[None, :]
    J[n:, n:] = Jvv
    return np.concatenate([F1, F2]), J, p


def set_params(flat, s, n):
    d = {k: flat[k][s * n : (s + 1) * n] for k in FIELDS}
    for i in (1, 2, 3, 4):
        d[f"C{i}"] = d[f"c{i}"] * d["C"]
    return d


def _solve_fixed_point(P, K, beta, mode, y_start, n_cont=8, tol=1e-12, max_iter=60):
    """Newton continuation in the coupling strength from the uncoupled state."""
    y0 = y_start[0].copy()
    v = y_start[1] - y_start[2]
    if not np.any(K) and beta == 0:
        lams = [1.0]
    else:
        lams = np.linspace(0.0, 1.0, n_cont + 1)  # from the uncoupled columns (lam = 0)
    with np.errstate(over="ignore"):  # trial steps may overflow exp in the sigmoid
        y0, v = _continue(P, K, beta, mode, y0, v, lams, tol, max_iter)
    return _fp_state(P, K, beta, mode, y0, v)


def _continue(P, K, beta, mode, y0, v, lams, tol, max_iter):
    n = K.shape[0]
    for lam in lams:
        for _ in range(max_iter):
            F, J, p = _fp_residual(y0, v, P, lam * K, lam * beta, mode)
            if np.max(np.abs(F)) < tol * (1.0 + np.max(np.abs(v))):
                break
            try:
                dx = np.linalg.solve(J, -F)
            except np.linalg.LinAlgError:
                dx = np.full(2 * n, np.nan)
            step = 1.0
            err0 = np.linalg.norm(F)
            while step > 1e-6:  # damped Newton on the 2-norm of the residual
                y0n, vn = y0 + step * dx[:n], v + step * dx[n:]
                Fn = _fp_residual(y0n, vn, P, lam * K, lam * beta, mode)[0]
                if np.all(np.isfinite(Fn)) and np.linalg.norm(Fn) < err0:
                    break
                step *= 0.5
            else:
                raise ModelError(
                    "The network fixed point could not be found (Newton continuation in the "
                    f"coupling failed at {lam:.0%} of the coupling): the coupled network may "
                    "have no fixed point near the uncoupled one (e.g. past a fold). Reduce "
                    "'global_coupling' or 'beta', or simulate instead."
                )
            y0, v = y0n, vn
        else:
            raise ModelError(
                f"The network fixed point did not converge at {lam:.0%} of the coupling (near a "
                "fold of the coupled fixed points?): reduce 'global_coupling' or 'beta', or "
                "simulate instead."
            )
    return y0, v


def _fp_state(P, K, beta, mode, y0, v):
    n = K.shape[0]
    with np.errstate(over="ignore"):
        F, J, p = _fp_residual(y0, v, P, K, beta, mode)
    S = lambda x: sigmoid(x, P["e0"], P["r"], P["v0"])  # noqa: E731
    y2 = P["B"] / P["b"] * P["C4"] * S(P["C3"] * y0)
    y1 = v + y2
    y = np.zeros((6, n))
    y[0], y[1], y[2] = y0, y1, y2
    return y, p


def coupled_fixed_point(P, K, beta, mode, y_start):
    """:func:`_solve_fixed_point` from ``y_start``; if the continuation meets a
    fold, again from the uncoupled columns' upper (highest) fixed points."""
    with _blas_one_thread():
        return _coupled_fixed_point_(P, K, beta, mode, y_start)


def _coupled_fixed_point_(P, K, beta, mode, y_start):
    try:
        return _solve_fixed_point(P, K, beta, mode, y_start)
    except ModelError:
        y_up = np.zeros_like(y_start)
        for i in range(K.shape[0]):
            Pi = JRParams(**{k: P[k][i] for k in FIELDS})
            y_up[:, i] = fixed_points(Pi)[-1].y
        if np.allclose(y_up, y_start):
            raise
        return _solve_fixed_point(P, K, beta, mode, y_up)


def _gains(y, P, mode):
    """Sigmoid slopes at the fixed point: the column's g0, g1, g2 and the sender's."""
    dS = lambda x: sigmoid_deriv(x, P["e0"], P["r"], P["v0"])  # noqa: E731
    v = y[1] - y[2]
    op = dict(g0=dS(v), g1=dS(P["C1"] * y[0]), g2=dS(P["C3"] * y[0]))
    sender = dS(y[0]) if mode == "seed" else op["g0"]
    return op, sender, op["g0"]


def _column_tf(freqs, y, P, op):
    """Per-column transfer functions (n_freqs, n) from (u0, up) to (v, y0).

    ``u0`` is an acceleration added to y0'' (mV/s^2), ``up`` an input added to
    p (/s). Tvp is :func:`jrfit.model.spectrum.transfer_parts` (A a Pa Pb / D).
    """
    f = np.asarray(freqs, float)[:, None]
    num, den = transfer_parts(f, y[1] - y[2], P, op)
    D = den[0] + 1j * den[1]
    Tvp = (num[0] + 1j * num[1]) / D
    s = 2j * np.pi * f
    A, a, B, b = P["A"], P["a"], P["B"], P["b"]
    Pa, Pb = (s + a) ** 2, (s + b) ** 2
    k1 = P["C1"] * P["C2"] * op["g1"]
    k2 = P["C3"] * P["C4"] * op["g2"]
    Tv0 = (A * a * k1 * Pb - B * b * k2 * Pa) / D
    T00 = Pa * Pb / D
    T0p = A * A * a * a * op["g0"] * Pb / D
    return Tv0, Tvp, T00, T0p


def _loop_matrices(freqs, K, tau, sender, g0v, beta, mode):
    """Coupling matrices (n_freqs, n, n): M0 (y0 -> u0) and Mp (v -> up), or None."""
    n = K.shape[0]
    w = 2 * np.pi * np.asarray(freqs, float)
    M0 = Mp = None
    if np.any(K):
        Kd = K * sender[None, :]
        mask = Kd != 0
        E = np.zeros((w.size, n, n), complex)
        E[:, mask] = Kd[mask] * np.exp(-1j * w[:, None] * tau[mask][None, :])
        if mode == "seed":
            M0 = E
        else:
            Mp = E
    if beta != 0:
        psi = np.broadcast_to((beta / n) * g0v[None, :], (n, n))
        Mp = (np.zeros((w.size, n, n), complex) if Mp is None else Mp) + psi[None]
    return M0, Mp


def _closed_loop(freqs, y, P, K, tau, beta, mode):
    """Transfer matrix H (n_freqs, n, n) from the noise inputs (in p) to v."""
    n = K.shape[0]
    op, sender, g0v = _gains(y, P, mode)
    Tv0, Tvp, T00, T0p = _column_tf(freqs, y, P, op)
    M0, Mp = _loop_matrices(freqs, K, tau, sender, g0v, beta, mode)
    nf = Tvp.shape[0]
    eye = np.eye(n)
    if M0 is None and Mp is None:
        return Tvp[:, :, None] * eye[None]
    # x = [v; y0] = T (G x + [0; n]); T = [[Tv0, Tvp], [T00, T0p]] (diagonal blocks)
    Z = np.zeros((nf, n, n), complex)
    M0 = Z if M0 is None else M0
    Mp = Z if Mp is None else Mp
    top = np.concatenate([np.eye(n)[None] - Tvp[:, :, None] * Mp, -Tv0[:, :, None] * M0], axis=2)
    bot = np.concatenate([-T0p[:, :, None] * Mp, np.eye(n)[None] - T00[:, :, None] * M0], axis=2)
    lhs = np.concatenate([top, bot], axis=1)
    rhs = np.concatenate([Tvp[:, :, None] * eye[None], T0p[:, :, None] * eye[None]], axis=1)
    return np.linalg.solve(lhs, rhs)[:, :n, :]


def _return_difference_det(freqs, y, P, K, tau, beta, mode, chunk=256):
    """det(I - T G) on the imaginary axis (the delays included)."""
    n = K.shape[0]
    op, sender, g0v = _gains(y, P, mode)
    out = np.empty(len(freqs), complex)
    for s in range(0, len(freqs), chunk):
        f = freqs[s : s + chunk]
        Tv0, Tvp, T00, T0p = _column_tf(f, y, P, op)
        M0, Mp = _loop_matrices(f, K, tau, sender, g0v, beta, mode)
        eye = np.eye(n)[None]
        if M0 is None and Mp is None:
            out[s : s + chunk] = 1.0
        elif M0 is None:  # det(I - T G) = det(I - Tvp Mp)
            out[s : s + chunk] = np.linalg.det(eye - Tvp[:, :, None] * Mp)
        elif Mp is None:  # det(I - T00 M0)
            out[s : s + chunk] = np.linalg.det(eye - T00[:, :, None] * M0)
        else:
            top = np.concatenate([eye - Tvp[:, :, None] * Mp, -Tv0[:, :, None] * M0], axis=2)
            bot = np.concatenate([-T0p[:, :, None] * Mp, eye - T00[:, :, None] * M0], axis=2)
            out[s : s + chunk] = np.linalg.det(np.concatenate([top, bot], axis=1))
    return out


def _loop_size(f, y, P, K, tau, beta, mode):
    """Sum of |entries| of the loop T G at frequencies f (a bound on its nuclear norm)."""
    op, sender, g0v = _gains(y, P, mode)
    Tv0, Tvp, T00, T0p = _column_tf(f, y, P, op)
    Ks = np.abs(K * sender[None, :]).sum(axis=1)
    ps = abs(beta) * np.abs(g0v).mean()
    big = np.maximum.reduce([np.abs(Tv0), np.abs(Tvp), np.abs(T00), np.abs(T0p)])
    return (big * (Ks + ps)[None, :]).sum(axis=1) * 2


def count_unstable(y, P, K, tau, beta, mode):
    """Right half-plane roots of the network's characteristic function (see _count_unstable_)."""
    with _blas_one_thread():
        return _count_unstable_(y, P, K, tau, beta, mode)


def _count_unstable_(y, P, K, tau, beta, mode):
    """Roots of the network characteristic function in the right half-plane.

    chi(s) = prod_i D_i(s) det(I - T(s) G(s)), with D_i the column polynomials
    at their (coupled) operating points and G the coupling with its delays.
    Argument principle along the imaginary axis: Z = P - (1/pi) Delta arg
    det(I - T G)(i w) over w in [0, inf), with P the right half-plane roots of
    the D_i. The frequency grid is refined until successive phase steps are
    below pi/8; beyond ``f_hi`` the loop is small enough (sum of |entries| <
    0.5) that the phase cannot wind.
    """
    op, _, _ = _gains(y, P, mode)
    coeffs = [np.broadcast_to(np.asarray(x, float), K.shape[:1]) for x in char_poly_coeffs(y[1] - y[2], P, op)]
    n = K.shape[0]
    n_open = 0
    for i in range(n):
        c = [float(x[i]) for x in coeffs]
        n_open += int(np.sum(np.roots(c).real > 0))
    if not np.any(K) and beta == 0:
        return n_open
    f_hi = 50.0
    while f_hi < 1e5:
        probe = f_hi * np.array([1.0, 1.5, 2.0, 4.0, 8.0])
        if np.all(_loop_size(probe, y, P, K, tau, beta, mode) < 0.5):
            break
        f_hi *= 2
    tau_max = float(tau[K != 0].max(initial=0.0))
    df = min(0.25, 1.0 / (40.0 * tau_max)) if tau_max > 0 else 0.25
    f_mid = min(f_hi, 100.0)  # resonances lie below 100 Hz: fine grid there, coarser above
    f = np.linspace(0.0, f_mid, int(np.ceil(f_mid / df)) + 1)
    if f_hi > f_mid:
        df_hi = min(2.0, 1.0 / (10.0 * tau_max)) if tau_max > 0 else 2.0
        f = np.concatenate([f, np.linspace(f_mid, f_hi, int(np.ceil((f_hi - f_mid) / df_hi)) + 1)[1:]])
    d = _return_difference_det(f, y, P, K, tau, beta, mode)
    for _ in range(20):
        dphi = np.angle(d[1:] / d[:-1])
        bad = np.abs(dphi) > np.pi / 8
        if not np.any(bad):
            break
        mid = 0.5 * (f[:-1][bad] + f[1:][bad])
        dm = _return_difference_det(mid, y, P, K, tau, beta, mode)
        f = np.concatenate([f, mid])
        d = np.concatenate([d, dm])
        order = np.argsort(f)
        f, d = f[order], d[order]
    total = np.sum(np.angle(d[1:] / d[:-1])) - np.angle(d[-1])  # tail: back to arg 0
    return int(n_open - int(np.rint(total / np.pi)))


@verbose
def network_fixed_point(
    connectivity,
    params=None,
    *,
    global_coupling,
    speed=3.0,
    coupling="seed",
    beta=0.0,
    check_stability=True,
    verbose=None,
):
    """The fixed point of the deterministic network and its stability.

    At rest every column receives its mean input ``mu`` plus the mean coupling
    (``sum_j K_ij S(y0_j)`` as an acceleration of y0 for ``'seed'``, or
    ``sum_j K_ij S(v_j)`` added to p for ``'tvb'``) and ``beta psi``. The
    coupled equations are solved by damped Newton iteration, continued in the
    coupling strength from the uncoupled columns' stable fixed points (upper
    branch, as in :func:`jrfit.simulators.column.simulate`).

    Stability accounts for the delays: the roots of the characteristic
    function ``prod_i D_i(s) det(I - T(s) G(s))`` (``T`` the columns'
    transfer functions, ``G`` the coupling with factors ``exp(-s tau_ij)``) in
    the right half-plane are counted with the argument principle along the
    imaginary axis. With zero delays this equals the eigenvalue count of the
    6n x 6n Jacobian.

    Parameters
    ----------
    connectivity : Connectivity | str | path
        The connectome (see :func:`load_connectivity`).
    params : JRParams | None
        Column parameters: one set, or one per region (batch shape
        (n_regions,)). Default JR 1995.
    global_coupling : float
        G, with ``K = G weights`` (mV/s for ``'seed'``, dimensionless for
        ``'tvb'``).
    speed : float
        Conduction speed, in m/s.
    coupling : 'seed' | 'tvb'
        Coupling convention (see the module docstring).
    beta : float
        Mean-field feedback gain (dimensionless).
    check_stability : bool
        Count the unstable roots (can take a second for 76 regions).
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    fp : NetworkFixedPoint
    """
    conn = as_connectivity(connectivity)
    coupling = check_option("coupling", coupling, COUPLINGS)
    n = conn.n_regions
    p2, flat = network_params(params, n)
    if p2.batch_shape[0] != 1:
        raise JRFitError(
            "network_fixed_point takes one parameter set per region, not a batch of networks; loop over the sets."
        )
    G = float(per_set("global_coupling", global_coupling, 1, gain_unit(coupling))[0])
    beta = float(per_set("beta", beta, 1, "dimensionless")[0])
    tau = conn.delays(speed)
    P = set_params(flat, 0, n)
    y_start, _ = fixed_point_states(flat, flat["mu"])
    K = G * np.asarray(conn.weights)
    y, p = coupled_fixed_point(P, K, beta, coupling, y_start)
    stable = n_unst = None
    if check_stability:
        n_unst = count_unstable(y, P, K, tau, beta, coupling)
        stable = n_unst == 0
    logger.info(
        f"Network fixed point: v in [{np.min(y[1] - y[2]):.3f}, "
        f"{np.max(y[1] - y[2]):.3f}] mV, "
        + (
            "stability not checked."
            if stable is None
            else f"{'stable' if stable else f'unstable ({n_unst} root(s) in the right half-plane)'}."
        )
    )
    return NetworkFixedPoint(y=readonly(y), stable=stable, n_unstable=n_unst, input=readonly(p))


# ----------------------------------------------------------------------------
# cross-spectra
@dataclass(frozen=True)
class CrossSpectrum:
    """Cross-spectral matrix of the region signals.

    Attributes
    ----------
    freqs : ndarray, shape (n_freqs,)
        In Hz.
    csd : ndarray, shape (n_regions, n_regions, n_freqs)
        One-sided cross-spectral density ``S_ij(f) = 2 E[X_i X_j^*]`` (density
        normalisation), in mV^2/Hz, complex. ``S_ii`` is the PSD. The phase
        ``angle(S_ij)`` is positive when region j lags region i: for
        ``x_j(t) = x_i(t - tau)`` it is ``2 pi f tau``. (scipy's
        ``signal.csd(x_i, x_j)`` is the complex conjugate.)
    region_names : tuple of str
    kind : str
        ``'linear'`` (:func:`linear_cross_spectrum`) or ``'welch'``
        (:meth:`NetworkSimulation.cross_spectrum`).
    n_segments : int | None
        Welch segments averaged (``'welch'`` only).
    fixed_point : NetworkFixedPoint | None
        Where the linearisation was made (``'linear'`` only).
    """

    freqs: np.ndarray
    csd: np.ndarray
    region_names: tuple
    kind: str = "linear"
    n_segments: object = None
    fixed_point: object = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "freqs", readonly(self.freqs))
        csd = np.asarray(self.csd, complex).view()
        csd.flags.writeable = False
        object.__setattr__(self, "csd", csd)
        object.__setattr__(self, "region_names", tuple(self.region_names))
        n = len(self.region_names)
        if csd.shape != (n, n, self.freqs.size):
            raise JRFitError(f"CrossSpectrum.csd must have shape ({n}, {n}, {self.freqs.size}), got {csd.shape}.")

    @property
    def psd(self):
        """PSD of every region, shape (n_regions, n_freqs), in mV^2/Hz."""
        return np.real(np.einsum("iif->if", self.csd))

    def coherence(self):
        """Magnitude-squared coherence ``|S_ij|^2 / (S_ii S_jj)``, shape (n, n, n_freqs)."""
        p = self.psd
        return np.abs(self.csd) ** 2 / (p[:, None, :] * p[None, :, :])

    def phase(self):
        """Phase ``angle(S_ij)`` in rad (positive: j lags i), shape (n, n, n_freqs)."""
        return np.angle(self.csd)

    def _index(self, region):
        if isinstance(region, numbers.Integral):
            return int(region)
        try:
            return self.region_names.index(region)
        except ValueError:
            raise JRFitError(
                f"Unknown region {region!r}; regions are {list(self.region_names)[:8]}"
                f"{'...' if len(self.region_names) > 8 else ''}."
            ) from None

    def pair(self, i, j):
        """``(csd_ij, coherence_ij, phase_ij)`` of regions i and j (names or indices)."""
        i, j = self._index(i), self._index(j)
        s = self.csd[i, j]
        coh = np.abs(s) ** 2 / (self.psd[i] * self.psd[j])
        return s, coh, np.angle(s)

    def plot(self, pairs=None, *, regions=None, fmax=None, title=None):
        """Figure of the PSDs and of the coherence and phase of some pairs.

        See :func:`jrfit.viz.plot_cross_spectrum`.
        """
        from jrfit.viz import plot_cross_spectrum

        return plot_cross_spectrum(self, pairs=pairs, regions=regions, fmax=fmax, title=title)

    def __repr__(self):
        return (
            f"<CrossSpectrum | {self.kind}, {len(self.region_names)} regions, "
            f"{self.freqs.size} frequencies in [{self.freqs[0]:g}, {self.freqs[-1]:g}] Hz>"
        )


@verbose
def linear_cross_spectrum(
    connectivity, freqs, params=None, *, global_coupling, speed=3.0, coupling="seed", beta=0.0, verbose=None
):
    """Linearised cross-spectral matrix of the network at its stable fixed point.

    With ``X = [v; y0]`` the per-column outputs and ``U = [u0; up]`` the
    inputs (an acceleration of y0 and an input to p), each column is
    ``X_i = T_i(s) U_i`` (the closed-form single-column transfer functions of
    docs/model.md, section 3, with gains at the coupled operating point), the
    coupling is ``U = G(s) X + [0; n]`` with entries ``K_ij S'_j
    exp(-s tau_ij)`` (and ``beta S'(v_j) / n`` for the mean field), and the
    noise ``n_i = sigma_i xi_i``. Then ``v = H(s) n`` with
    ``H = [(I - T G)^-1 T]_{v, p}`` and the one-sided cross-spectral matrix
    is ``S(f) = 2 H diag(sigma^2) H^H`` (mV^2/Hz). Without coupling its
    diagonal is :func:`jrfit.model.spectrum.psd_from_v` of each column.

    Parameters
    ----------
    connectivity : Connectivity | str | path
        The connectome.
    freqs : array, shape (n_freqs,)
        Frequencies, in Hz.
    params : JRParams | None
        One parameter set, or one per region (batch shape (n_regions,)).
    global_coupling : float
        G (mV/s for ``'seed'``, dimensionless for ``'tvb'``).
    speed : float
        Conduction speed, in m/s.
    coupling : 'seed' | 'tvb'
        Coupling convention.
    beta : float
        Mean-field feedback gain.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    spec : CrossSpectrum
        ``kind='linear'``, with ``fixed_point``.

    Raises
    ------
    ModelError
        If the network fixed point is unstable (the network then oscillates
        and the linearisation does not describe it).
    """
    conn = as_connectivity(connectivity)
    freqs = np.asarray(freqs, float)
    if freqs.ndim != 1 or freqs.size < 1 or not np.all(np.isfinite(freqs)) or np.any(freqs < 0):
        raise JRFitError("'freqs' must be a 1-D array of finite frequencies >= 0, in Hz.")
    fp = network_fixed_point(conn, params, global_coupling=global_coupling, speed=speed, coupling=coupling, beta=beta)
    if not fp.stable:
        raise ModelError(
            f"The network fixed point is unstable ({fp.n_unstable} root(s) of the characteristic "
            "function in the right half-plane): the network oscillates and the linearised "
            "cross-spectrum does not describe it. Lower 'global_coupling' (or 'beta'), move mu "
            "away from the Hopf points, or use simulate_network."
        )
    n = conn.n_regions
    _, flat = network_params(params, n)
    P = set_params(flat, 0, n)
    K = float(global_coupling) * np.asarray(conn.weights)
    with _blas_one_thread():
        H = _closed_loop(freqs, np.asarray(fp.y), P, K, conn.delays(speed), float(beta), coupling)
    sig2 = P["sigma"] ** 2
    csd = 2.0 * np.einsum("fik,k,fjk->ijf", H, sig2, H.conj())
    return CrossSpectrum(freqs=freqs, csd=csd, region_names=conn.region_names, kind="linear", fixed_point=fp)
