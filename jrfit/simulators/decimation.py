"""The anti-alias decimator of the stochastic simulators (design of the FIR and its polyphase taps).

The simulators integrate at ``1/dt`` and return ``v`` at ``sfreq``: the signal
is low-pass filtered and decimated inside the kernels by a two-stage
polyphase FIR (Kaiser windows; passband to 0.4 ``sfreq``, >= 60 dB from 0.5
``sfreq``; linear phase with its delay compensated). This module designs the
filter; :mod:`jrfit.simulators.kernels` applies it (``fir_feed``).
"""

from __future__ import annotations

import functools

import numpy as np

from jrfit.errors import JRFitError
from jrfit.utils.check import check_positive

__all__ = ["antialias_filter", "decimation_filter", "ratio"]

_STOP_DB = 60.0  # minimum stopband attenuation of the anti-alias filter, dB
_PASS_EDGE = 0.4  # passband edge, fraction of the output rate sfreq
_STOP_EDGE = 0.5  # stopband edge (output Nyquist), fraction of sfreq


def ratio(sfreq, dt):
    """Integer decimation factor q = 1 / (sfreq dt), or an error."""
    rate = 1.0 / dt
    if sfreq > rate * (1 + 1e-9):
        raise JRFitError(
            f"'sfreq' ({sfreq:g} Hz) must not exceed the integration rate 1/dt = {rate:g} Hz; lower sfreq or dt."
        )
    q = rate / sfreq
    qi = int(round(q))
    if qi < 1 or abs(q - qi) > 1e-6 * q:
        raise JRFitError(
            f"The integration rate 1/dt = {rate:g} Hz must be an integer multiple of "
            f"'sfreq' ({sfreq:g} Hz); got a ratio of {q:g}. Choose e.g. "
            f"sfreq={rate / max(1, qi):g} Hz or dt={1.0 / (sfreq * max(1, qi)):g} s."
        )
    return qi


def _lowpass(f_pass, f_stop):
    """Odd-length Kaiser-window low-pass (frequencies in cycles per sample).

    At least 60 dB attenuation from ``f_stop`` to Nyquist and a passband
    ripple below 0.1 % up to ``f_pass`` (checked, lengthened until met).
    """
    from scipy import signal

    numtaps, beta = signal.kaiserord(_STOP_DB + 1.0, 2.0 * (f_stop - f_pass))
    numtaps |= 1
    f = np.linspace(0, 0.5, 1 << 15)
    tol = 10 ** (-_STOP_DB / 20)
    while True:
        h = signal.firwin(numtaps, 0.5 * (f_pass + f_stop), window=("kaiser", beta), fs=1.0)
        H = np.abs(signal.freqz(h, worN=2 * np.pi * f)[1])
        if H[f >= f_stop].max() <= tol and np.abs(H[f <= f_pass] - 1).max() <= tol:
            return h
        numtaps += 2


def _kaiser_length(width):
    from scipy import signal

    return signal.kaiserord(_STOP_DB + 1.0, 2.0 * width)[0] | 1


def _polyphase(h, q):
    n_acc = -(-h.size // q)
    g = np.zeros(n_acc * q)
    g[: h.size] = h
    return np.ascontiguousarray(g.reshape(n_acc, q).T)


@functools.lru_cache(maxsize=32)
def decimation_filter(q):
    """Two-stage anti-alias decimator by q = q1 q2 (cached).

    Stage 1 (at the integration rate, decimating by q1) only has to keep
    what would fold onto the output band [0, sfreq/2] away: passband
    0.4 sfreq, stopband from ``fs/q1 - sfreq/2``; stage 2 (at fs/q1,
    decimating by q2) is the sharp filter: passband 0.4 sfreq, stopband from
    sfreq/2. The split minimising the multiply-adds per step is used (either
    stage may be the identity). Both are linear phase; the cascade equals
    one FIR ``h1 * (h2 upsampled by q1)`` followed by decimation by q.

    Returns
    -------
    h_eq : ndarray
        Equivalent single filter (odd length, symmetric).
    delay : int
        Its delay, in input samples.
    G1, G2 : ndarray, shape (q_i, n_acc_i)
        Polyphase taps of the two stages.
    """
    if q == 1:
        one = np.ones((1, 1))
        return np.ones(1), 0, one, one
    best = None
    for q1 in range(1, q + 1):
        if q % q1:
            continue
        q2 = q // q1
        n1 = 1 if q1 == 1 else _kaiser_length(1.0 / q1 - (0.5 + _PASS_EDGE) / q)
        n2 = 1 if q2 == 1 else _kaiser_length((_STOP_EDGE - _PASS_EDGE) / q2)
        cost = n1 / q1 + n2 / q + (2.0 if q1 > 1 and q2 > 1 else 0.0)  # + stage overhead
        if best is None or cost < best[0]:
            best = (cost, q1, q2)
    _, q1, q2 = best
    h1 = np.ones(1) if q1 == 1 else _lowpass(_PASS_EDGE / q, 1.0 / q1 - _STOP_EDGE / q)
    h2 = np.ones(1) if q2 == 1 else _lowpass(_PASS_EDGE / q2, _STOP_EDGE / q2)
    up = np.zeros((h2.size - 1) * q1 + 1)
    up[::q1] = h2
    h_eq = np.convolve(h1, up)
    return h_eq, (h_eq.size - 1) // 2, _polyphase(h1, q1), _polyphase(h2, q2)


def antialias_filter(dt, sfreq):
    """Taps of the anti-alias FIR used by :func:`simulate` to decimate.

    A linear-phase (odd length, symmetric) low-pass at the integration rate
    ``1/dt``: passband up to 0.4 ``sfreq`` (ripple < 0.2 %), stopband from
    0.5 ``sfreq`` (the output Nyquist frequency) with at least 60 dB
    attenuation, so nothing above the output Nyquist folds back into the
    band. Its delay is compensated (the output is not shifted in time). The
    simulator applies it as a cascade of two Kaiser-window polyphase stages
    (computing only the kept samples); this function returns the equivalent
    single filter.

    Parameters
    ----------
    dt : float
        Integration step, in s.
    sfreq : float
        Output rate, in Hz; ``1 / (dt sfreq)`` must be an integer.

    Returns
    -------
    h : ndarray, shape (n_taps,)
        Taps (unit DC gain), at rate ``1/dt``.
    """
    dt = check_positive("dt", dt, "s")
    sfreq = check_positive("sfreq", sfreq, "Hz")
    return decimation_filter(ratio(sfreq, dt))[0].copy()
