"""Dynamics of the column: bifurcation diagram, limit cycles, the regime of a parameter set.

``fixed_points`` (branches of fixed points and their special points: Hopf
points, folds), ``continuation`` (periodic orbits by shooting, their
continuation and the attractor scan), ``bifurcation`` (the diagram that puts
them together), ``limit_cycle`` (one orbit, accurately) and ``regime`` (a
cheap label), on the compiled RK4 integrators of ``kernels``; ``serialize``
writes a diagram as plain data.

Used by the reports to say in which dynamical regime a posterior lies, and by
the fit routes to decide where the linearised spectrum holds. No MNE, no PyMC.
"""
