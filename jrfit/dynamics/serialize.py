"""A bifurcation diagram as plain data (JSON): special points, branch and cycle summaries."""

import math

import numpy as np

from jrfit import __version__

__all__ = ["bifurcation_to_dict"]


def _finite(x):
    """JSON-friendly float: None for nan/inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def _range(a):
    a = np.asarray(a, float)
    return [_finite(np.nanmin(a)), _finite(np.nanmax(a))] if a.size else [None, None]


def bifurcation_to_dict(bif):
    """A bifurcation diagram as a JSON-ready dict (what ``jrfit bifurcation --out X.json`` writes).

    Parameters
    ----------
    bif : Bifurcation
        Result of :func:`jrfit.dynamics.bifurcation.bifurcation`.

    Returns
    -------
    record : dict
        The special points (type, p in /s, v in mV, frequency in Hz, criticality,
        first Lyapunov coefficient, cycle extremes in mV), summaries of the
        fixed-point branches (their stable and unstable segments) and of the
        limit-cycle branches, the parameters and the jrfit version. Non-finite
        numbers are ``None``, so ``json.dumps(record, allow_nan=False)`` works.
    """
    points = [
        dict(
            type=pt.kind,
            label=pt.label,
            p=_finite(pt.p),
            v=_finite(pt.v),
            frequency=_finite(pt.frequency),
            criticality=pt.criticality,
            lyapunov=_finite(pt.lyapunov),
            v_max=_finite(pt.v_max),
            v_min=_finite(pt.v_min),
            cycle=pt.cycle,
        )
        for pt in bif.points
    ]
    branches = []
    for br in bif.branches:
        segs = [
            dict(
                stable=stable,
                p=[_finite(br.p[sl][0]), _finite(br.p[sl][-1])],
                v=[_finite(br.v[sl][0]), _finite(br.v[sl][-1])],
            )
            for sl, stable in br.segments()
        ]
        branches.append(dict(p=_range(br.p), v=_range(br.v), n_points=int(br.p.size), segments=segs))

    def cycle_summary(cb):
        return dict(
            kind=cb.kind,
            source=cb.source,
            p=_range(cb.p),
            frequency=_range(cb.frequency),
            peak_to_peak_max=_finite(np.max(cb.peak_to_peak)) if cb.p.size else None,
            v=[_range(cb.v_min)[0], _range(cb.v_max)[1]],
            n_points=int(cb.p.size),
            n_stable=int(np.sum(cb.stable)),
        )

    return dict(
        jrfit_version=__version__,
        units=dict(p="/s", v="mV", frequency="Hz", peak_to_peak="mV"),
        p_range=[float(x) for x in bif.p_range],
        params={k: float(v) for k, v in bif.params.as_dict().items()},
        special_points=points,
        fixed_point_branches=branches,
        cycle_branches=[cycle_summary(cb) for cb in bif.cycles],
        simulated_attractors=[cycle_summary(cb) for cb in bif.simulated],
    )
