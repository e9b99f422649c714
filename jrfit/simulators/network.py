"""Networks of Jansen-Rit columns coupled by a structural connectome with delays.

Three parts (docs/model.md, section 11):

* :class:`Connectivity` and :func:`load_connectivity`: weights and tract
  lengths from the ``tvb-data`` package (``"tvb76"``), a file (TVB zip or
  folder, NPZ, CSV) or arrays; weight normalisation; conduction delays
  ``tau_ij = length_ij / speed``.
* :func:`simulate_network`: the stochastic network (Strang splitting,
  numba-compiled, delays in a ring buffer, per-column noise streams, in-kernel
  anti-alias decimation), returning a :class:`NetworkSimulation`
  (``.to_raw()`` gives an :class:`mne.io.RawArray` of the region signals).
* :func:`network_fixed_point` and :func:`linear_cross_spectrum`: the coupled
  fixed point, its stability (with the delays), and the linearised
  cross-spectral matrix of the region signals, a :class:`CrossSpectrum`
  (also what :meth:`NetworkSimulation.cross_spectrum` estimates by Welch's
  method).

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

Noise is that of :func:`jrfit.simulators.column.simulate`: ``p_i(t) = mu_i + sigma_i
xi_i(t)`` with independent unit white noises, i.e. the y4 (= y1') equation
receives ``A a sigma sqrt(dt) N(0, 1)`` per step.

Weights and self-connections
----------------------------
The diagonal of the weights is set to zero (a column's own feedback is part
of the Jansen-Rit equations; TVB's connectomes carry non-zero self-weights).
Normalisation (``normalize``), applied after zeroing the diagonal:
``"max"`` divides by the largest weight (default), ``"row"`` makes every
region's afferent weights sum to 1 (rows without afferents stay zero),
``"none"`` keeps the values.

Units
-----
Tract lengths in mm, conduction speed in m/s (= mm/ms), delays in s; in the
simulator the delays are rounded to whole steps of ``dt`` (a delay that is
non-zero but rounds to 0 steps becomes instantaneous, with a warning).
"""

from __future__ import annotations

import bz2
import contextlib
import io
import numbers
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jrfit.simulators import kernels as K
from jrfit.simulators import network_kernels as NK
from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose
from jrfit.errors import DataError, JRFitError, ModelError
from jrfit.model.column import fixed_points, sigmoid, sigmoid_deriv
from jrfit.model.params import JRParams
from jrfit.simulators.column import (
    _BLOCK_ELEMS,
    _FIELDS,
    _PERTURB,
    Simulation,
    _check_y_init,
    _coefficients,
    _column_generator,
    _decimation_filter,
    _fixed_point_states,
    _half_step,
    _n_jobs,
    _ratio,
    _readonly,
    _seed_sequence,
)
from jrfit.model.spectrum import transfer_parts, char_poly_coeffs

__all__ = [
    "Connectivity",
    "load_connectivity",
    "simulate_network",
    "NetworkSimulation",
    "network_fixed_point",
    "NetworkFixedPoint",
    "linear_cross_spectrum",
    "CrossSpectrum",
]

_NORMALIZE = ("max", "row", "none")
_COUPLING = ("seed", "tvb")
_TVB_NAMES = {
    "tvb66": "connectivity_66.zip",
    "tvb68": "connectivity_68.zip",
    "tvb76": "connectivity_76.zip",
    "tvb96": "connectivity_96.zip",
    "tvb192": "connectivity_192.zip",
}
_NET_BLOCK_ELEMS = _BLOCK_ELEMS  # noise draws per kernel call (1 MiB)


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
# connectivity
def _as_matrix(name, value, unit):
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name!r} must be a square array of numbers ({unit}), got {type(value).__name__}.") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise DataError(
            f"{name!r} must be a square (n_regions, n_regions) matrix, got shape {arr.shape}. "
            "Give one row and one column per region (row = receiving region)."
        )
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"{name!r} contains {int(bad.sum())} non-finite value(s) (NaN or inf; first at "
            f"[{i}, {j}]). Replace them, e.g. by 0 for absent connections."
        )
    if np.any(arr < 0):
        i, j = np.argwhere(arr < 0)[0]
        raise DataError(
            f"{name!r} must be >= 0 ({unit}); got {arr[i, j]:g} at [{i}, {j}] "
            f"({int((arr < 0).sum())} negative value(s)). Structural connectomes have "
            "non-negative entries: check the file or take the absolute value."
        )
    return arr


@dataclass(frozen=True)
class Connectivity:
    """A structural connectome: weights, tract lengths and region names.

    Parameters
    ----------
    weights : array, shape (n_regions, n_regions)
        Connection strengths, ``weights[i, j]`` from region j to region i
        (dimensionless, >= 0). The diagonal is set to zero (no
        self-connections).
    lengths : array, shape (n_regions, n_regions)
        Tract lengths, in mm (>= 0).
    region_names : list of str | None
        One name per region (default ``'R000'``, ``'R001'``, ...).
    centres : array, shape (n_regions, 3) | None
        Region centres, in mm (informative only).
    normalization : str
        The rule already applied to ``weights`` (``'max'``, ``'row'`` or
        ``'none'``), for the record; see :meth:`normalize`.
    source : str
        Where the connectome came from.
    """

    weights: np.ndarray
    lengths: np.ndarray
    region_names: tuple = None
    centres: np.ndarray = field(default=None, repr=False)
    normalization: str = "none"
    source: str = "arrays"

    def __post_init__(self):
        w = _as_matrix("weights", self.weights, "dimensionless")
        ln = _as_matrix("lengths", self.lengths, "tract lengths in mm")
        if w.shape != ln.shape:
            raise DataError(
                f"'weights' {w.shape} and 'lengths' {ln.shape} must have the same shape (n_regions, n_regions)."
            )
        n = w.shape[0]
        np.fill_diagonal(w, 0.0)
        object.__setattr__(self, "weights", _readonly(w))
        object.__setattr__(self, "lengths", _readonly(ln))
        names = self.region_names
        if names is None:
            width = max(3, len(str(n - 1)))
            names = [f"R{i:0{width}d}" for i in range(n)]
        names = tuple(str(x) for x in names)
        if len(names) != n:
            raise DataError(f"'region_names' must have one name per region ({n}), got {len(names)}.")
        if len(set(names)) != n:
            raise DataError("'region_names' must be unique (they become channel names).")
        object.__setattr__(self, "region_names", names)
        if self.centres is not None:
            c = np.asarray(self.centres, float)
            if c.shape != (n, 3):
                raise DataError(f"'centres' must have shape ({n}, 3) (mm), got {c.shape}.")
            object.__setattr__(self, "centres", _readonly(c))
        check_option("normalization", self.normalization, _NORMALIZE)

    @property
    def n_regions(self):
        """Number of regions."""
        return self.weights.shape[0]

    @property
    def n_connections(self):
        """Number of non-zero (off-diagonal) weights."""
        return int(np.count_nonzero(self.weights))

    def __repr__(self):
        return (
            f"<Connectivity | {self.n_regions} regions, {self.n_connections} connections, "
            f"normalization={self.normalization!r}, lengths up to "
            f"{self.lengths[self.weights > 0].max(initial=0.0):.1f} mm, source={self.source!r}>"
        )

    def normalize(self, rule="max"):
        """A copy with the weights normalised.

        Parameters
        ----------
        rule : 'max' | 'row' | 'none'
            ``'max'``: divide by the largest weight (it becomes 1);
            ``'row'``: divide each row by its sum, so that every region's
            afferent weights sum to 1 (rows without afferents stay zero);
            ``'none'``: unchanged.

        Returns
        -------
        conn : Connectivity
        """
        check_option("normalize", rule, _NORMALIZE)
        w = np.array(self.weights)
        if rule == "max":
            top = w.max()
            if top <= 0:
                raise DataError("Cannot normalise by the maximum: every off-diagonal weight is 0.")
            w = w / top
        elif rule == "row":
            s = w.sum(axis=1, keepdims=True)
            w = np.divide(w, s, out=np.zeros_like(w), where=s > 0)
        return Connectivity(
            w,
            self.lengths,
            self.region_names,
            self.centres,
            normalization=rule if rule != "none" else self.normalization,
            source=self.source,
        )

    def delays(self, speed=3.0):
        """Conduction delays ``tau_ij = lengths_ij / speed``.

        Parameters
        ----------
        speed : float
            Conduction speed, in m/s (= mm/ms; TVB's default is 3 m/s).

        Returns
        -------
        tau : ndarray, shape (n_regions, n_regions)
            Delays, in s.
        """
        speed = _check_speed(speed)
        return self.lengths / speed * 1e-3

    def delay_steps(self, speed, dt):
        """Delays rounded to whole integration steps (only where weights are non-zero).

        Parameters
        ----------
        speed : float
            Conduction speed, in m/s.
        dt : float
            Integration step, in s.

        Returns
        -------
        steps : ndarray of int, shape (n_regions, n_regions)
        """
        dt = check_positive("dt", dt, "s")
        tau = self.delays(speed)
        steps = np.rint(tau / dt).astype(np.int64)
        steps[self.weights == 0] = 0
        return steps


def _check_speed(speed):
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise JRFitError(f"'speed' must be a number (conduction speed in m/s), got {speed!r}.") from None
    if not np.isfinite(value) or value <= 0:
        raise JRFitError(
            f"'speed' (conduction speed, in m/s) must be finite and > 0, got {speed!r}. "
            "Typical values are 1-10 m/s (TVB's default is 3 m/s); for instantaneous "
            "coupling give tract lengths of 0 instead."
        )
    return value


def _tvb_zip_path(name):
    try:
        import importlib.resources as resources

        base = resources.files("tvb_data.connectivity")
    except ModuleNotFoundError:
        raise ImportError(
            f"load_connectivity({name!r}) needs the 'tvb-data' package, which ships TVB's "
            'connectomes: install it with pip install "jrfit[network]" (or pip install '
            "tvb-data), or load your own weights and tract lengths from a file or arrays."
        ) from None
    path = base / _TVB_NAMES[name]
    if not path.is_file():
        raise DataError(f"{_TVB_NAMES[name]} not found in the installed tvb-data package ({base}).")
    return path


def _read_member(zf, names, stem):
    """Text of the member whose name ends in ``stem`` (or ``stem.bz2``), or None."""
    for member in names:
        base = member.rsplit("/", 1)[-1]
        if base == stem:
            return zf.read(member).decode()
        if base == stem + ".bz2":
            return bz2.decompress(zf.read(member)).decode()
    return None


def _parse_centres(text):
    names, xyz = [], []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            names.append(parts[0])
            xyz.append([float(x) for x in parts[1:4]])
    return names, np.array(xyz, float)


def _read_tvb_zip(path, label):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        w = _read_member(zf, names, "weights.txt")
        ln = _read_member(zf, names, "tract_lengths.txt")
        ce = _read_member(zf, names, "centres.txt")
    if w is None or ln is None:
        raise DataError(f"{label} is not a TVB connectivity zip: it needs weights.txt and tract_lengths.txt.")
    region_names, centres = _parse_centres(ce) if ce is not None else (None, None)
    return np.loadtxt(io.StringIO(w)), np.loadtxt(io.StringIO(ln)), region_names, centres


def _read_matrix_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The {what} file {path} does not exist.")
    text = path.read_text()
    delim = "," if "," in text else None
    try:
        return np.loadtxt(io.StringIO(text), delimiter=delim, ndmin=2)
    except ValueError as exc:
        raise DataError(
            f"Could not read {path} as a numeric matrix ({what}): {exc}. Give a plain CSV "
            "or whitespace-separated table of numbers without header."
        ) from None


@verbose
def load_connectivity(source="tvb76", lengths=None, *, region_names=None, normalize="max", verbose=None):
    """Load a structural connectome (weights and tract lengths).

    Parameters
    ----------
    source : str | path | array
        * ``'tvb76'`` (also ``'tvb66'``, ``'tvb68'``, ``'tvb96'``,
          ``'tvb192'``): the connectome of that many regions shipped by the
          ``tvb-data`` package (``pip install "jrfit[network]"``);
        * a TVB connectivity ``.zip`` (or an unzipped folder) with
          ``weights.txt``, ``tract_lengths.txt`` and optionally
          ``centres.txt`` (region names and centres);
        * an ``.npz`` file with arrays ``weights`` and ``tract_lengths`` (or
          ``lengths``), optionally ``region_names`` and ``centres``;
        * a ``.csv``/``.txt`` file of weights, with ``lengths`` another file;
        * an array of weights, with ``lengths`` an array.
        ``weights[i, j]`` is the connection from region j to region i.
    lengths : path | array | None
        Tract lengths in mm, when ``source`` is a CSV file or an array.
    region_names : list of str | None
        Names of the regions (default: from the file, else ``'R000'``, ...).
    normalize : 'max' | 'row' | 'none'
        Weight normalisation, after zeroing the diagonal (see
        :meth:`Connectivity.normalize`). Default ``'max'`` (largest weight 1).
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    conn : Connectivity
    """
    check_option("normalize", normalize, _NORMALIZE)
    names = centres = None
    if isinstance(source, str) and source.lower() in _TVB_NAMES:
        label = source.lower()
        w, ln, names, centres = _read_tvb_zip(_tvb_zip_path(label), f"tvb-data {label}")
        if lengths is not None:
            raise JRFitError(f"'lengths' cannot be given with source={source!r} (it has its own).")
    elif isinstance(source, (str, Path)):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise DataError(
                f"Connectivity {source!r} not found: give 'tvb76' (or tvb66, tvb68, tvb96, "
                "tvb192), a TVB .zip or folder, an .npz, or a CSV of weights with 'lengths'."
            )
        ext = path.suffix.lower()
        if path.is_dir():
            w = _read_matrix_file(path / "weights.txt", "weights")
            ln = _read_matrix_file(path / "tract_lengths.txt", "tract lengths")
            if (path / "centres.txt").is_file():
                names, centres = _parse_centres((path / "centres.txt").read_text())
        elif ext == ".zip":
            w, ln, names, centres = _read_tvb_zip(path, label)
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = set(z.files)
                if "weights" not in keys or not ({"tract_lengths", "lengths"} & keys):
                    raise DataError(
                        f"{path} must contain arrays 'weights' and 'tract_lengths' (or "
                        f"'lengths', in mm); found {sorted(keys)}."
                    )
                w = z["weights"]
                ln = z["tract_lengths"] if "tract_lengths" in keys else z["lengths"]
                for key in ("region_names", "region_labels"):
                    if key in keys:
                        names = [str(x) for x in z[key]]
                if "centres" in keys:
                    centres = z["centres"]
        elif ext in (".csv", ".txt"):
            w = _read_matrix_file(path, "weights")
            if lengths is None:
                raise JRFitError(
                    f"A weights file ({path.name}) needs 'lengths': the tract lengths in mm, "
                    "as a second file of the same shape or an array."
                )
        else:
            raise DataError(
                f"Unknown connectivity file type {path.suffix!r} ({path}); use .zip (TVB), "
                ".npz, .csv/.txt or a TVB folder."
            )
        if lengths is not None:
            if ext not in (".csv", ".txt"):
                raise JRFitError(f"'lengths' cannot be given with {path.name} (it has its own).")
            ln = _read_matrix_file(lengths, "tract lengths") if isinstance(lengths, (str, Path)) else lengths
    else:
        label = "arrays"
        if lengths is None:
            raise JRFitError("With an array of weights, 'lengths' (tract lengths in mm) is needed.")
        w, ln = source, lengths
    if region_names is not None:
        names = region_names
    if centres is not None and np.shape(centres) != (np.shape(w)[0], 3):
        centres = None
    conn = Connectivity(w, ln, names, centres, source=label)
    conn = conn.normalize(normalize)
    logger.info(f"Loaded {conn!r}.")
    return conn


def _as_connectivity(conn):
    if isinstance(conn, Connectivity):
        return conn
    if isinstance(conn, (str, Path)):
        return load_connectivity(conn)
    raise JRFitError(
        f"'connectivity' must be a Connectivity (see jrfit.simulators.network.load_connectivity) or a "
        f"name/path accepted by load_connectivity, got {type(conn).__name__}."
    )


# ----------------------------------------------------------------------------
# shared argument handling
def _network_params(params, n_nodes):
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


def _per_set(name, value, n_sets, unit, allow_negative=True):
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


def _gain_unit(coupling):
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


def _set_params(flat, s, n):
    d = {k: flat[k][s * n : (s + 1) * n] for k in _FIELDS}
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


def _coupled_fixed_point(P, K, beta, mode, y_start):
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
            Pi = JRParams(**{k: P[k][i] for k in _FIELDS})
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


def _count_unstable(y, P, K, tau, beta, mode):
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
    conn = _as_connectivity(connectivity)
    coupling = check_option("coupling", coupling, _COUPLING)
    n = conn.n_regions
    p2, flat = _network_params(params, n)
    if p2.batch_shape[0] != 1:
        raise JRFitError(
            "network_fixed_point takes one parameter set per region, not a batch of networks; loop over the sets."
        )
    G = float(_per_set("global_coupling", global_coupling, 1, _gain_unit(coupling))[0])
    beta = float(_per_set("beta", beta, 1, "dimensionless")[0])
    tau = conn.delays(speed)
    P = _set_params(flat, 0, n)
    y_start, _ = _fixed_point_states(flat, flat["mu"])
    K = G * np.asarray(conn.weights)
    y, p = _coupled_fixed_point(P, K, beta, coupling, y_start)
    stable = n_unst = None
    if check_stability:
        n_unst = _count_unstable(y, P, K, tau, beta, coupling)
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
    return NetworkFixedPoint(y=_readonly(y), stable=stable, n_unstable=n_unst, input=_readonly(p))


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
        object.__setattr__(self, "freqs", _readonly(self.freqs))
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

        See :func:`jrfit.viz.figures.plot_cross_spectrum`.
        """
        from jrfit.viz.figures import plot_cross_spectrum

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
    conn = _as_connectivity(connectivity)
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
    _, flat = _network_params(params, n)
    P = _set_params(flat, 0, n)
    K = float(global_coupling) * np.asarray(conn.weights)
    with _blas_one_thread():
        H = _closed_loop(freqs, np.asarray(fp.y), P, K, conn.delays(speed), float(beta), coupling)
    sig2 = P["sigma"] ** 2
    csd = 2.0 * np.einsum("fik,k,fjk->ijf", H, sig2, H.conj())
    return CrossSpectrum(freqs=freqs, csd=csd, region_names=conn.region_names, kind="linear", fixed_point=fp)


def _welch_csd(data, sfreq, nperseg):
    """Welch cross-spectral matrix (Hann window, 50 % overlap), one-sided density."""
    from scipy.signal import get_window

    n, nt = data.shape
    nperseg = int(min(nperseg, nt))
    step = nperseg // 2
    win = get_window("hann", nperseg)
    starts = np.arange(0, nt - nperseg + 1, step)
    scale = 1.0 / (sfreq * np.sum(win**2))
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sfreq)
    csd = np.zeros((n, n, freqs.size), complex)
    for s in starts:
        seg = data[:, s : s + nperseg]
        X = np.fft.rfft((seg - seg.mean(axis=1, keepdims=True)) * win, axis=1)
        csd += X[:, None, :] * X.conj()[None, :, :]
    csd *= scale / starts.size
    csd[..., 1:] *= 2.0
    if nperseg % 2 == 0:
        csd[..., -1] /= 2.0
    return freqs, csd, starts.size


# ----------------------------------------------------------------------------
# simulation
@dataclass(frozen=True, repr=False)
class NetworkSimulation(Simulation):
    """Output of :func:`simulate_network`: the EEG proxy of every region.

    Inherits :class:`jrfit.simulators.column.Simulation`; ``data`` has shape
    (n_sets * n_regions, n_times) with rows ordered set by set
    (``data_sets`` gives (n_sets, n_regions, n_times)).

    Attributes
    ----------
    connectivity : Connectivity
    coupling : str
        ``'seed'`` or ``'tvb'``.
    global_coupling : ndarray, shape (n_sets,)
    speed : float
        Conduction speed, in m/s.
    beta : ndarray, shape (n_sets,)
    delay_steps : ndarray of int, shape (n_regions, n_regions)
        The delays used, in steps of ``dt``.
    """

    connectivity: Connectivity = None
    coupling: str = "seed"
    global_coupling: np.ndarray = None
    speed: float = 3.0
    beta: np.ndarray = None
    delay_steps: np.ndarray = field(default=None, repr=False)

    @property
    def n_regions(self):
        """Regions per network."""
        return self.connectivity.n_regions

    @property
    def n_sets(self):
        """Number of simulated networks (parameter sets)."""
        return self.n_columns // self.n_regions

    @property
    def data_sets(self):
        """``data`` as (n_sets, n_regions, n_times), in mV."""
        return self.data.reshape(self.n_sets, self.n_regions, self.n_times)

    def __repr__(self):
        return (
            f"<NetworkSimulation | {self.n_sets} network(s) x {self.n_regions} regions, "
            f"{self.n_times} samples at {self.sfreq:g} Hz ({self.duration:g} s), "
            f"coupling={self.coupling!r}, speed={self.speed:g} m/s, dt={self.dt:g} s>"
        )

    def to_raw(self, index=0, ch_names=None, verbose=None):
        """The region signals of one network as an MNE Raw object.

        Parameters
        ----------
        index : int
            Which network of the batch (default 0).
        ch_names : list of str | None
            Channel names (default: the region names).
        verbose : bool | str | int | None
            MNE's verbosity.

        Returns
        -------
        raw : mne.io.RawArray
            One EEG channel per region, in V (mV x 1e-3).
        """
        if not 0 <= int(index) < self.n_sets:
            raise JRFitError(f"'index' must be in [0, {self.n_sets}), got {index}.")
        names = list(self.connectivity.region_names) if ch_names is None else ch_names
        sub = Simulation(
            times=self.times,
            data=self.data_sets[int(index)],
            sfreq=self.sfreq,
            dt=self.dt,
            method=self.method,
            seed=self.seed,
            params=self.params,
            transient=self.transient,
        )
        raw = sub.to_raw(ch_names=names, verbose=verbose)
        raw.info["description"] = raw.info["description"].replace(
            "Jansen-Rit simulation", f"Jansen-Rit network ({self.coupling} coupling, speed {self.speed:g} m/s)"
        )
        return raw

    def cross_spectrum(self, index=0, seg=4.0):
        """Welch estimate of the cross-spectral matrix of one network.

        Parameters
        ----------
        index : int
            Which network of the batch.
        seg : float
            Segment length, in s (Hann window, 50 % overlap).

        Returns
        -------
        spec : CrossSpectrum
            ``kind='welch'``; its diagonal equals ``scipy.signal.welch``.
        """
        seg = check_positive("seg", seg, "s")
        freqs, csd, k = _welch_csd(self.data_sets[int(index)], self.sfreq, int(round(seg * self.sfreq)))
        return CrossSpectrum(
            freqs=freqs, csd=csd, region_names=self.connectivity.region_names, kind="welch", n_segments=k
        )


def _csr(weights, steps):
    """Afferent connections of each region: indptr, sender, weight, delay."""
    n = weights.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    src, wgt, dly = [], [], []
    for i in range(n):
        js = np.flatnonzero(weights[i])
        src.append(js)
        wgt.append(weights[i, js])
        dly.append(steps[i, js])
        indptr[i + 1] = indptr[i] + js.size
    cat = lambda xs, dt: np.ascontiguousarray(np.concatenate(xs), dtype=dt) if xs else np.zeros(0, dt)  # noqa: E731
    return indptr, cat(src, np.int64), cat(wgt, float), cat(dly, np.int64)


@verbose
def simulate_network(
    connectivity,
    duration,
    params=None,
    *,
    global_coupling,
    speed=3.0,
    coupling="seed",
    beta=0.0,
    dt=5e-4,
    sfreq=250.0,
    transient=1.0,
    method="splitting",
    seed=None,
    n_jobs=None,
    y_init=None,
    verbose=None,
):
    """Simulate a network of noise-driven Jansen-Rit columns with conduction delays.

    Every region is a column of :func:`jrfit.simulators.column.simulate` (same
    equations, noise, integrator and anti-alias decimation) plus the afferent
    coupling of the module docstring: ``'seed'`` adds ``sum_j K_ij
    S(y0_j(t - tau_ij))`` to y0_i'' (docs/model.md, section 11), ``'tvb'`` adds
    ``sum_j K_ij S(y1_j - y2_j)(t - tau_ij)`` to the input p_i of the y1
    equation; ``beta`` feeds back the mean field ``psi = mean_i S(y1_i -
    y2_i)`` into every input. ``K = global_coupling * connectivity.weights``.

    With the splitting integrator the coupling is evaluated, like the sigmoid
    terms, at the state of each step's kick; the delays are rounded to whole
    steps (``round(tau / dt)``) and held in a ring buffer of ``max delay + 1``
    steps per column. With ``global_coupling = 0`` and ``beta = 0`` region i
    of network s is bit for bit column ``s * n_regions + i`` of
    :func:`jrfit.simulators.column.simulate` with the same ``seed`` and parameters.

    Parameters
    ----------
    connectivity : Connectivity | str | path
        The connectome (:func:`load_connectivity`; a name or path is loaded
        with ``normalize='max'``).
    duration : float
        Length of the output, in s (after the transient).
    params : JRParams | None
        Column parameters: one set for all regions, one per region (batch
        shape (n_regions,)), or a batch of networks (shape (n_sets,
        n_regions) or (n_sets, 1)). Default JR 1995 (mu = 220 /s, sigma = 5
        /s^0.5).
    global_coupling : float | array, shape (n_sets,)
        G: ``K = G weights``. In mV/s for ``'seed'`` (an acceleration per
        firing rate), dimensionless for ``'tvb'``.
    speed : float
        Conduction speed, in m/s (= mm/ms; default 3).
    coupling : 'seed' | 'tvb'
        Coupling convention (see the module docstring).
    beta : float | array, shape (n_sets,)
        Mean-field feedback gain (dimensionless; default 0: none).
    dt : float
        Integration step, in s (default 0.5 ms, as :func:`jrfit.simulators.column.simulate`).
    sfreq : float | None
        Output rate, in Hz (default 250); ``1 / (dt sfreq)`` must be an
        integer. None: ``1/dt``.
    transient : float
        Simulated and discarded time before the output, in s (default 1).
    method : 'splitting' | 'euler'
        Integrator (see :func:`jrfit.simulators.column.simulate`).
    seed : None | int | numpy.random.SeedSequence
        Noise seed; column ``c = s * n_regions + i`` draws from
        ``SeedSequence(seed).spawn(n)[c]`` as in :func:`jrfit.simulators.column.simulate`.
    n_jobs : int | None
        Threads over which the networks of a batch are split (None: 1; -1:
        all CPUs). Does not change the result.
    y_init : array, shape (6, n_regions) | (6, n_sets * n_regions) | None
        Initial state (mV, mV/s). Default: the network fixed point (with the
        mean coupling; :func:`network_fixed_point`), and constant history
        before t = 0; where it is unstable and a column has no noise, y1 is
        raised by 1 mV.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    sim : NetworkSimulation
        ``sim.data`` (mV), shape (n_sets * n_regions, n_times);
        ``sim.to_raw()`` gives an MNE Raw object with the region names.

    Notes
    -----
    Memory is bounded by the delay ring (``n_columns x 2 (max delay + 1)``
    floats), the noise block (1 MiB), the filter state and the decimated
    output; no full-rate history is kept.
    """
    conn = _as_connectivity(connectivity)
    coupling = check_option("coupling", coupling, _COUPLING)
    method = check_option("method", method, ("splitting", "euler"))
    duration = check_positive("duration", duration, "s")
    dt = check_positive("dt", dt, "s")
    transient = check_positive("transient", transient, "s", allow_zero=True)
    speed = _check_speed(speed)
    sfreq = 1.0 / dt if sfreq is None else check_positive("sfreq", sfreq, "Hz")
    q = _ratio(sfreq, dt)
    sfreq = 1.0 / (q * dt)
    n_out = int(round(duration * sfreq))
    if n_out < 1:
        raise JRFitError(f"'duration' ({duration:g} s) is shorter than one sample at sfreq={sfreq:g} Hz.")
    n_jobs = _n_jobs(n_jobs)
    ss, seed_used = _seed_sequence(seed)

    n_nodes = conn.n_regions
    p2, flat = _network_params(params, n_nodes)
    n_sets = p2.batch_shape[0]
    n = n_sets * n_nodes
    gain = _per_set("global_coupling", global_coupling, n_sets, _gain_unit(coupling))
    beta = _per_set("beta", beta, n_sets, "dimensionless")

    weights = np.asarray(conn.weights)
    tau = conn.delays(speed)
    steps = conn.delay_steps(speed, dt)
    lost = (weights > 0) & (tau > 0) & (steps == 0)
    if np.any(lost):
        logger.warning(
            f"{int(lost.sum())} non-zero delay(s) (up to {tau[lost].max() * 1e3:.3g} ms) round to "
            f"0 steps at dt={dt:g} s and act instantaneously; lower dt to resolve them."
        )
    indptr, src, wgt, dly = _csr(weights, steps)
    L = int(dly.max(initial=0)) + 1

    cf = _coefficients(flat, dt)
    if y_init is not None:
        y0 = _check_y_init(
            y_init if np.shape(y_init) != (6, n_nodes) or n_sets == 1 else np.tile(y_init, (1, n_sets)), n
        )
    else:
        y_start, _ = _fixed_point_states(flat, flat["mu"])
        y0 = y_start.copy()
        for s in range(n_sets):
            cols = slice(s * n_nodes, (s + 1) * n_nodes)
            if gain[s] == 0 and beta[s] == 0:
                continue
            P = _set_params(flat, s, n_nodes)
            y_fp, _ = _coupled_fixed_point(P, gain[s] * weights, beta[s], coupling, y_start[:, cols])
            if np.all(P["sigma"] > 0):  # noise leaves an unstable point anyway: skip the check
                continue
            n_unst = _count_unstable(y_fp, P, gain[s] * weights, tau, beta[s], coupling)
            if n_unst:
                logger.info(
                    f"Network {s}: the coupled fixed point is unstable ({n_unst} root(s)); "
                    "starting next to it (y1 + 1 mV)."
                )
                y_fp[1] += _PERTURB
            y0[:, cols] = y_fp
    W0 = _half_step(y0, cf) if method == "splitting" else y0.copy()
    x0 = W0[1] - W0[2]
    xr = W0[0] if coupling == "seed" else x0
    hist = sigmoid(xr, flat["e0"], flat["r"], flat["v0"])
    y_sync = y0

    h, delay, G1, G2 = _decimation_filter(q)
    q1, q2 = G1.shape[0], G2.shape[0]
    n_tr = int(round(transient / dt))
    n_start = n_tr - delay
    k_last = (n_out - 1) * q2 + G2.size - 1
    i_last = k_last * q1 + G1.size - 1
    snap_step = n_tr + n_out * q
    n_total = max(n_start + i_last, snap_step)
    meth = K.SPLITTING if method == "splitting" else K.EULER
    mode = NK.SEED if coupling == "seed" else NK.TVB
    logger.info(
        f"Simulating {n_sets} network(s) x {n_nodes} regions ({weights.astype(bool).sum()} "
        f"connections, {coupling} coupling, delays up to {(L - 1) * dt * 1e3:.3g} ms = {L - 1} "
        f"steps) x {n_total} steps (dt={dt:g} s, {method}), output {n_out} samples at "
        f"{sfreq:g} Hz, n_jobs={n_jobs}."
    )

    data = np.empty((n, n_out))
    final = np.empty((6, n))
    noisy = flat["sigma"] > 0
    per = max(1, -(-n_sets // n_jobs))
    groups = [(s, min(s + per, n_sets)) for s in range(0, n_sets, per)]

    def run_group(g):
        s0, s1 = g
        sl = slice(s0 * n_nodes, s1 * n_nodes)
        ng = sl.stop - sl.start
        W = np.ascontiguousarray(W0[:, sl])
        cfg = np.ascontiguousarray(cf[:, sl])
        fir = []
        for Gs in (G1, G2):
            fir += [Gs, np.ascontiguousarray(Gs[:, ::-1]), np.zeros((Gs.shape[1], ng)), np.zeros(ng)]
        fir = tuple(fir)
        ring = np.empty((ng, 2 * L))
        ring[:] = hist[sl, None]
        vbuf = np.empty(ng)
        snap = np.zeros((6, ng))
        psi = np.zeros(s1 - s0)
        out = data[sl]
        nb = max(1, min(n_total, _NET_BLOCK_ELEMS // ng))
        noise = np.zeros((ng, nb))
        gens = [(j, _column_generator(ss, sl.start + j)) for j in range(ng) if noisy[sl.start + j]]
        if n_start <= 0:
            NK.net_prefeed(fir, 1 - n_start, np.ascontiguousarray(x0_sync[sl]), out)
        step = 0
        while step < n_total:
            m = min(nb, n_total - step)
            for j, gen in gens:
                gen.standard_normal(out=noise[j, :m])
            NK.net_block(
                meth,
                mode,
                W,
                cfg,
                noise,
                step,
                m,
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
                np.ascontiguousarray(gain[s0:s1]),
                np.ascontiguousarray(beta[s0:s1]),
                n_nodes,
                psi,
            )
            step += m
        final[:, sl] = snap

    x0_sync = y_sync[1] - y_sync[2]
    if n_jobs == 1 or len(groups) == 1:
        for g in groups:
            run_group(g)
    else:
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(groups))) as ex:
            list(ex.map(run_group, groups))

    bad = ~np.all(np.isfinite(data), axis=1)
    if np.any(bad):
        raise ModelError(
            f"The network simulation diverged (non-finite values) in {int(bad.sum())} of {n} "
            "column(s); reduce dt or the coupling."
        )
    return NetworkSimulation(
        times=np.arange(n_out) / sfreq,
        data=data,
        sfreq=sfreq,
        dt=dt,
        method=method,
        seed=seed_used,
        params=p2,
        transient=n_tr * dt,
        final_state=final,
        connectivity=conn,
        coupling=coupling,
        global_coupling=_readonly(gain),
        speed=speed,
        beta=_readonly(beta),
        delay_steps=steps,
    )
