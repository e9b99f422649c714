"""Structural connectomes: :class:`Connectivity` and :func:`load_connectivity`.

Weights and tract lengths from the ``tvb-data`` package (``"tvb76"``), a file
(TVB zip or folder, NPZ, CSV) or arrays; weight normalisation; conduction
delays ``tau_ij = length_ij / speed`` (docs/model.md, section 11). The
connectome is the input of the network's linear analysis
(:mod:`jrfit.model.network`) and of its simulator
(:func:`jrfit.simulators.network.simulate_network`).

Weights and self-connections
----------------------------
Region ``i`` receives from region ``j`` with weight ``w_ij`` (row = receiver,
column = sender, the convention of TVB's simulator). The diagonal of the
weights is set to zero (a column's own feedback is part of the Jansen-Rit
equations; TVB's connectomes carry non-zero self-weights). Normalisation
(``normalize``), applied after zeroing the diagonal: ``"max"`` divides by the
largest weight (default), ``"row"`` makes every region's afferent weights sum
to 1 (rows without afferents stay zero), ``"none"`` keeps the values.

Units
-----
Tract lengths in mm, conduction speed in m/s (= mm/ms), delays in s; the
simulator rounds the delays to whole steps of ``dt``
(:meth:`Connectivity.delay_steps`).
"""

from __future__ import annotations

import bz2
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jrfit.errors import DataError, JRFitError
from jrfit.model.params import readonly
from jrfit.utils.check import check_option, check_positive
from jrfit.utils.log import logger, verbose

__all__ = ["Connectivity", "load_connectivity", "as_connectivity", "check_speed"]

_NORMALIZE = ("max", "row", "none")
_TVB_NAMES = {
    "tvb66": "connectivity_66.zip",
    "tvb68": "connectivity_68.zip",
    "tvb76": "connectivity_76.zip",
    "tvb96": "connectivity_96.zip",
    "tvb192": "connectivity_192.zip",
}


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
        object.__setattr__(self, "weights", readonly(w))
        object.__setattr__(self, "lengths", readonly(ln))
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
            object.__setattr__(self, "centres", readonly(c))
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
        speed = check_speed(speed)
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


def check_speed(speed):
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
    w, ln, names, centres, label = _read_source(source, lengths)
    if region_names is not None:
        names = region_names
    if centres is not None and np.shape(centres) != (np.shape(w)[0], 3):
        centres = None
    conn = Connectivity(w, ln, names, centres, source=label)
    conn = conn.normalize(normalize)
    logger.info(f"Loaded {conn!r}.")
    return conn


def _read_source(source, lengths):
    """``(weights, lengths, region_names, centres, label)`` of any source of :func:`load_connectivity`."""
    if isinstance(source, str) and source.lower() in _TVB_NAMES:
        label = source.lower()
        w, ln, names, centres = _read_tvb_zip(_tvb_zip_path(label), f"tvb-data {label}")
        if lengths is not None:
            raise JRFitError(f"'lengths' cannot be given with source={source!r} (it has its own).")
        return w, ln, names, centres, label
    if isinstance(source, (str, Path)):
        return (*_read_path(source, lengths), str(Path(source)))
    if lengths is None:
        raise JRFitError("With an array of weights, 'lengths' (tract lengths in mm) is needed.")
    return source, lengths, None, None, "arrays"


def _read_path(source, lengths):
    """``(weights, lengths, region_names, centres)`` from a TVB zip or folder, an NPZ or a CSV/TXT file."""
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"Connectivity {source!r} not found: give 'tvb76' (or tvb66, tvb68, tvb96, "
            "tvb192), a TVB .zip or folder, an .npz, or a CSV of weights with 'lengths'."
        )
    ext = path.suffix.lower()
    names = centres = ln = None
    if path.is_dir():
        w = _read_matrix_file(path / "weights.txt", "weights")
        ln = _read_matrix_file(path / "tract_lengths.txt", "tract lengths")
        if (path / "centres.txt").is_file():
            names, centres = _parse_centres((path / "centres.txt").read_text())
    elif ext == ".zip":
        w, ln, names, centres = _read_tvb_zip(path, str(path))
    elif ext == ".npz":
        w, ln, names, centres = _read_npz(path)
    elif ext in (".csv", ".txt"):
        w = _read_matrix_file(path, "weights")
        if lengths is None:
            raise JRFitError(
                f"A weights file ({path.name}) needs 'lengths': the tract lengths in mm, "
                "as a second file of the same shape or an array."
            )
    else:
        raise DataError(
            f"Unknown connectivity file type {path.suffix!r} ({path}); use .zip (TVB), .npz, .csv/.txt or a TVB folder."
        )
    if lengths is not None:
        if ext not in (".csv", ".txt"):
            raise JRFitError(f"'lengths' cannot be given with {path.name} (it has its own).")
        ln = _read_matrix_file(lengths, "tract lengths") if isinstance(lengths, (str, Path)) else lengths
    return w, ln, names, centres


def _read_npz(path):
    """``(weights, lengths, region_names, centres)`` of an .npz connectome."""
    names = centres = None
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        if "weights" not in keys or not ({"tract_lengths", "lengths"} & keys):
            raise DataError(
                f"{path} must contain arrays 'weights' and 'tract_lengths' (or 'lengths', in mm); found {sorted(keys)}."
            )
        w = z["weights"]
        ln = z["tract_lengths"] if "tract_lengths" in keys else z["lengths"]
        for key in ("region_names", "region_labels"):
            if key in keys:
                names = [str(x) for x in z[key]]
        if "centres" in keys:
            centres = z["centres"]
    return w, ln, names, centres


def as_connectivity(conn):
    if isinstance(conn, Connectivity):
        return conn
    if isinstance(conn, (str, Path)):
        return load_connectivity(conn)
    raise JRFitError(
        f"'connectivity' must be a Connectivity (see jrfit.load_connectivity) or a "
        f"name/path accepted by load_connectivity, got {type(conn).__name__}."
    )
