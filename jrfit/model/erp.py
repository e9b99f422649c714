"""Evoked responses of the JR column: stimulus pulses, nonlinear and linear ERPs.

A visual stimulus adds an input pulse to the column's background input
(docs/model.md, section 10)::

    p(t) = mu + pulse(t)

    "jr"       pulse(t) = amplitude * (u/n)^n * exp(n - u),  u = (t - onset)/width > 0
               (Jansen & Rit 1995: q (t/w)^n exp(-t/w) with n = 7, w = 5 ms,
               q = 0.5; written with its peak value ``amplitude`` = q n^n e^-n
               = 375.5 /s reached at onset + n * width = 35 ms)
    "gaussian" pulse(t) = amplitude * exp(-((t - onset)/width)^2 / 2)
               (SPM's DCM bump; ``onset`` is the time of its peak)

The column rests at its operating point (the fixed point ``v`` with input
``mu = p(v)``) until the pulse arrives; the evoked response is
``v(t) - v_rest`` with ``v = y1 - y2`` (mV). Its electrode image is
``gain * (v(t) - v_rest) + offset`` (gain in uV/mV, offset in uV).

The nonlinear response is integrated with classical RK4 on a fixed grid
(the data's sample times subdivided to steps of at most ``dt_max``) together
with its forward sensitivities (the derivative of the same discrete map with
respect to every parameter, from :func:`jrfit.model.column.drift_tangent`), so the
gradient is exact for the computed response. Quantities that only depend on
the parameters (rest state, mu, constants) are differentiated by the complex
step through the same NumPy code that defines them.

The linearised response is the impulse response of the closed-form transfer
function H (:func:`jrfit.model.spectrum.transfer_function`) convolved with the pulse.
"""

from __future__ import annotations


import numpy as np
from numba import njit
from numba.extending import register_jitable

from jrfit.errors import ModelError
from jrfit.model.column import _attrs, _drift_parts, _tangent_from_parts, operating_point
from jrfit.model.params import CONSTANTS, JRParams

__all__ = [
    "PULSE_SHAPES",
    "PULSE_DEFAULTS",
    "pulse",
    "peak_lag",
    "ERPForward",
    "erp_response",
    "linear_erp_response",
]

PULSE_SHAPES = {"jr": 0, "gaussian": 1}
"""Pulse shapes and their kernel codes."""

JR_POWER = 7
"""Exponent n of the JR 1995 pulse."""

_JR_PEAK = 0.5 * JR_POWER**JR_POWER * float(np.exp(-JR_POWER))  # q n^n e^-n with q = 0.5: 375.49 /s

PULSE_DEFAULTS = {
    "jr": dict(amplitude=_JR_PEAK, onset=0.0, width=0.005),
    "gaussian": dict(amplitude=_JR_PEAK, onset=0.06, width=0.016),
}
"""Default pulse parameters: amplitude (/s), onset (s), width (s)."""

_PULSE = ("amplitude", "onset", "width")
_H = 1e-20


# ----------------------------------------------------------------------------
# the pulse
@register_jitable
def _pulse_terms(t, amplitude, onset, width, shape, n):
    """Pulse value and its partial derivatives (amplitude, onset, width)."""
    u = (t - onset) / width
    if shape == 0:
        if u <= 0.0:
            return 0.0, 0.0, 0.0, 0.0
        g = (u / n) ** n * np.exp(n - u)
        gp = g * (n / u - 1.0)
    else:
        g = np.exp(-0.5 * u * u)
        gp = -u * g
    return amplitude * g, g, -amplitude * gp / width, -amplitude * gp * u / width


def peak_lag(shape):
    """Time from a pulse's onset to its peak, in units of its width."""
    return float(JR_POWER) if _shape_code(shape) == 0 else 0.0


def _shape_code(shape):
    if shape not in PULSE_SHAPES:
        raise ModelError(f"Unknown pulse shape {shape!r}: use one of {sorted(PULSE_SHAPES)}.")
    return PULSE_SHAPES[shape]


def pulse(times, amplitude=None, onset=None, width=None, shape="jr"):
    """The stimulus input pulse.

    Parameters
    ----------
    times : array
        Times, in s, relative to the stimulus.
    amplitude : float
        Peak value, in /s (default 375.5 /s, the JR 1995 pulse).
    onset : float
        ``"jr"``: start of the pulse; ``"gaussian"``: its peak; in s.
    width : float
        Time constant w (``"jr"``) or standard deviation (``"gaussian"``), in s.
    shape : 'jr' | 'gaussian'
        Pulse shape (see the module docstring).

    Returns
    -------
    p : ndarray
        Input, in /s, same shape as ``times``.
    """
    code = _shape_code(shape)
    d = PULSE_DEFAULTS[shape]
    amplitude = d["amplitude"] if amplitude is None else amplitude
    onset = d["onset"] if onset is None else onset
    width = d["width"] if width is None else width
    if not width > 0:
        raise ModelError(f"The pulse width must be > 0 s, got {width!r}.")
    t = np.asarray(times, float)
    return np.array([_pulse_terms(x, amplitude, onset, width, code, JR_POWER)[0] for x in t.ravel()]).reshape(t.shape)


# ----------------------------------------------------------------------------
# the integrator with forward sensitivities
@njit(cache=True, error_model="numpy")
def _erp_kernel(n_out, n_sub, t0, dt, y_init, s_init, c, dc, mu, dmu, pulse_par, dpulse, shape, n_pow, out, dout):  # noqa: C901 (numba kernel)
    """RK4 of the column and its K tangents; writes v(t) - v_rest and its tangents.

    y_init (6,), s_init (K, 6), c (11,) in JRParams.CONSTANTS order, dc (K, 11), mu float, dmu (K,),
    pulse_par (3,) = (amplitude, onset, width), dpulse (K, 3); out (n_out,),
    dout (n_out, K). Output sample j is at t0 + j * n_sub * dt. The tangents
    follow the same RK4 stages, so they are the exact derivative of the
    computed response.
    """
    K = s_init.shape[0]
    y = y_init.copy()
    s = s_init.copy()
    v_rest = y_init[1] - y_init[2]
    yt = np.empty(6)
    acc = np.empty(6)
    st = np.empty((K, 6))
    sacc = np.empty((K, 6))
    amp, onset, width = pulse_par[0], pulse_par[1], pulse_par[2]
    t = t0
    for j in range(n_out):
        if j > 0:
            for _ in range(n_sub):
                for i in range(6):
                    yt[i] = y[i]
                    acc[i] = 0.0
                for k in range(K):
                    for i in range(6):
                        st[k, i] = s[k, i]
                        sacc[k, i] = 0.0
                for stage in range(4):
                    if stage == 0:
                        h, w = 0.0, dt / 6.0
                    elif stage == 3:
                        h, w = dt, dt / 6.0
                    else:
                        h, w = 0.5 * dt, dt / 3.0
                    hn = 0.5 * dt if stage < 2 else dt  # offset of the next stage
                    val, g_amp, g_on, g_w = _pulse_terms(t + h, amp, onset, width, shape, n_pow)
                    p = mu + val
                    f, sig = _drift_parts(yt, p, c)
                    for k in range(K):
                        dp = dmu[k] + g_amp * dpulse[k, 0] + g_on * dpulse[k, 1] + g_w * dpulse[k, 2]
                        df = _tangent_from_parts(yt, st[k], p, dp, c, dc[k], sig)
                        for i in range(6):
                            sacc[k, i] += w * df[i]
                            st[k, i] = s[k, i] + hn * df[i]
                    for i in range(6):
                        acc[i] += w * f[i]
                        yt[i] = y[i] + hn * f[i]
                for i in range(6):
                    y[i] += acc[i]
                for k in range(K):
                    for i in range(6):
                        s[k, i] += sacc[k, i]
                t += dt
        out[j] = y[1] - y[2] - v_rest
        for k in range(K):
            dout[j, k] = s[k, 1] - s[k, 2] - (s_init[k, 1] - s_init[k, 2])


def _grid(times, dt_max):
    """Uniform output times -> (t0, n_out, n_sub, dt)."""
    times = np.asarray(times, float)
    if times.ndim != 1 or times.size < 2:
        raise ModelError("ERP times must be a 1-D array of at least 2 samples (s).")
    step = np.diff(times)
    if not np.allclose(step, step[0], rtol=1e-6, atol=1e-12) or step[0] <= 0:
        raise ModelError("ERP times must be uniformly spaced and increasing (s).")
    n_sub = max(1, int(np.ceil(step[0] / dt_max - 1e-9)))
    return float(times[0]), times.size, n_sub, float(step[0]) / n_sub


def _setup(theta, names, fixed):
    """Everything the kernel needs as NumPy functions of the parameters.

    ``theta`` may carry a trailing batch axis and complex values (complex step).
    Returns (y_init (6, ...), consts (11, ...), mu, pulse (3, ...)).
    """
    d = dict(fixed)
    for i, n in enumerate(names):
        d[n] = theta[i]
    P = _attrs(d)
    op = operating_point(d["v"], d)
    zero = 0.0 * op["y0"]
    y_init = [op["y0"], op["y1"], op["y2"], zero, zero, zero]
    consts = [getattr(P, k) + zero for k in CONSTANTS]  # the kernel's packed order
    pulse_par = [d[k] + zero for k in _PULSE]
    return y_init, consts, op["p"] + zero, pulse_par


class ERPForward:
    """Nonlinear ERP of one column and its exact Jacobian, for a fixed time grid.

    Parameters
    ----------
    times : array, shape (n_times,)
        Uniform sample times, in s, relative to the stimulus. The column is at
        rest at ``times[0]`` (the pulse is taken to be zero before it).
    names : sequence of str
        Names of the parameters in ``theta``: any of ``"v"`` (rest potential,
        mV), the JR constants (:class:`~jrfit.JRParams` names except ``mu`` and
        ``sigma``) and the pulse's ``"amplitude"`` (/s), ``"onset"`` (s),
        ``"width"`` (s).
    fixed : mapping
        Values of every other quantity (same names; the JR constants default to
        Jansen & Rit 1995, the pulse to :data:`PULSE_DEFAULTS`; ``v`` must be
        given here if it is not in ``names``).
    shape : 'jr' | 'gaussian'
        Pulse shape.
    dt_max : float
        Largest integration step, in s (the sample interval is subdivided).
    """

    def __init__(self, times, names, fixed=None, shape="jr", dt_max=1e-3):
        self.times = np.array(times, float)
        self.times.flags.writeable = False
        self.names = tuple(names)
        self.shape = shape
        self._code = _shape_code(shape)
        base = {k: float(v) for k, v in JRParams().as_dict().items() if k not in ("mu", "sigma")}
        base.update(PULSE_DEFAULTS[shape])
        base.update({k: float(v) for k, v in dict(fixed or {}).items()})
        allowed = set(base) | {"v"}
        for n in self.names:
            if n not in allowed or n in ("mu", "sigma"):
                raise ModelError(
                    f"Cannot make {n!r} a free ERP parameter: use 'v', the pulse's "
                    f"{list(_PULSE)} or JR constants {sorted(set(base) - set(_PULSE))}."
                )
        if "v" not in self.names and "v" not in base:
            raise ModelError("Give the rest potential 'v' (mV) in `fixed` or make it free.")
        self.fixed = {k: v for k, v in base.items() if k not in self.names}
        self.t0, self.n_out, self.n_sub, self.dt = _grid(self.times, dt_max)

    def _run(self, theta, jac):
        theta = np.asarray(theta, float)
        if theta.shape != (len(self.names),):
            raise ModelError(f"theta must have shape ({len(self.names)},), got {theta.shape}.")
        K = len(self.names) if jac else 0
        if jac:
            scale = np.maximum(np.abs(theta), 1e-3)
            pert = theta[:, None] + 1j * _H * np.diag(scale)
            y_i, c, mu, pp = _setup(pert, self.names, self.fixed)
            h = _H * scale
            y_init = np.array([np.real(x[0]) for x in y_i])
            s_init = np.array([np.imag(x) / h for x in y_i]).T.copy()
            consts = np.array([np.real(x[0]) for x in c])
            dc = np.array([np.imag(x) / h for x in c]).T.copy()
            mu_r, dmu = float(np.real(mu[0])), np.imag(mu) / h
            pulse_par = np.array([np.real(x[0]) for x in pp])
            dpulse = np.array([np.imag(x) / h for x in pp]).T.copy()
        else:
            y_i, c, mu, pp = _setup(theta, self.names, self.fixed)
            y_init = np.array(y_i, float)
            s_init = np.zeros((0, 6))
            consts = np.array(c, float)
            dc = np.zeros((0, 11))
            mu_r, dmu = float(mu), np.zeros(0)
            pulse_par = np.array(pp, float)
            dpulse = np.zeros((0, 3))
        if not pulse_par[2] > 0:
            raise ModelError(f"The pulse width must be > 0 s, got {pulse_par[2]!r}.")
        out = np.empty(self.n_out)
        dout = np.empty((self.n_out, K))
        _erp_kernel(
            self.n_out,
            self.n_sub,
            self.t0,
            self.dt,
            y_init,
            s_init,
            consts,
            dc,
            mu_r,
            dmu,
            pulse_par,
            dpulse,
            self._code,
            float(JR_POWER),
            out,
            dout,
        )
        return out, dout

    def response(self, theta):
        """v(t) - v_rest at ``times``, in mV."""
        return self._run(theta, jac=False)[0]

    def response_and_jacobian(self, theta):
        """Response (n_times,) in mV and its Jacobian (n_times, n_params)."""
        return self._run(theta, jac=True)


# ----------------------------------------------------------------------------
# user-facing responses for a JRParams
def _rest_v(params, v):
    from jrfit.model.column import fixed_points

    if v is not None:
        return float(v)
    stable = [fp for fp in fixed_points(params) if fp.stable]
    if not stable:
        raise ModelError(
            f"No stable fixed point at mu = {float(params.mu):g} /s: the column oscillates "
            "and has no rest state to respond from; choose mu outside the limit-cycle range "
            "(see jrfit.dynamics.bifurcation.bifurcation) or give v."
        )
    return stable[0].v


def _jr_fixed(params):
    if params.batch_shape != ():
        raise ModelError("erp_response takes one parameter set, not a batch.")
    return {k: float(v) for k, v in params.as_dict().items() if k not in ("mu", "sigma")}


def erp_response(times, params=None, *, amplitude=None, onset=None, width=None, shape="jr", v=None, dt_max=1e-3):
    """Nonlinear evoked response of one column at rest, in mV.

    Parameters
    ----------
    times : array
        Uniform times, in s, relative to the stimulus; the column is at rest at
        ``times[0]``.
    params : JRParams | None
        Column parameters; ``params.mu`` (/s) is the background input.
    amplitude, onset, width : float | None
        Pulse peak (/s), onset (s) and width (s); defaults per ``shape``.
    shape : 'jr' | 'gaussian'
        Pulse shape.
    v : float | None
        Rest potential, in mV (default: the lowest stable fixed point at mu).
    dt_max : float
        Largest RK4 step, in s.

    Returns
    -------
    response : ndarray, shape (n_times,)
        ``v(t) - v_rest``, in mV.
    """
    params = JRParams() if params is None else params
    fixed = _jr_fixed(params)
    fixed["v"] = _rest_v(params, v)
    for k, val in dict(amplitude=amplitude, onset=onset, width=width).items():
        if val is not None:
            fixed[k] = float(val)
    fwd = ERPForward(times, (), fixed, shape=shape, dt_max=dt_max)
    return fwd.response(np.zeros(0))


def linear_erp_response(times, params=None, *, amplitude=None, onset=None, width=None, shape="jr", v=None, dt=1e-4):
    """Linearised evoked response: impulse response of H convolved with the pulse.

    The impulse response h(t) comes from the closed-form transfer function
    (:func:`jrfit.model.spectrum.transfer_function`) by an inverse FFT on a grid of
    step ``dt`` long enough for h to decay; the convolution with the pulse is
    evaluated on the same grid and sampled at ``times``.

    Parameters are those of :func:`erp_response`; ``dt`` (s) is the grid step.

    Returns
    -------
    response : ndarray, shape (n_times,)
        In mV.
    """
    from jrfit.model.spectrum import transfer_function

    params = JRParams() if params is None else params
    _jr_fixed(params)
    v = _rest_v(params, v)
    d = PULSE_DEFAULTS[shape]
    amplitude = d["amplitude"] if amplitude is None else amplitude
    onset = d["onset"] if onset is None else onset
    width = d["width"] if width is None else width
    times = np.asarray(times, float)
    t0 = times[0]
    span = times[-1] - t0
    # grid long enough for h to decay (slowest pole) and to avoid wrap-around
    from jrfit.model.column import eigenvalues

    lam = eigenvalues(v, params)
    decay = 1.0 / max(1e-3, -np.max(np.real(lam)))
    if np.max(np.real(lam)) >= 0:
        raise ModelError(f"The rest state v = {v:g} mV is unstable: no linearised response exists.")
    n = int(2 ** np.ceil(np.log2((span + 30 * decay) / dt + 1)))
    freqs = np.fft.rfftfreq(n, dt)
    H = transfer_function(freqs, params, v=v)
    h = np.fft.irfft(H, n) / dt  # impulse response, mV per (/s * s)
    tg = t0 + dt * np.arange(n)
    u = pulse(tg, amplitude, onset, width, shape)
    y = np.fft.irfft(np.fft.rfft(u, 2 * n) * np.fft.rfft(h, 2 * n), 2 * n)[:n] * dt
    return np.interp(times, tg, y)
