"""Dynamics of the column: bifurcation diagram, limit cycles, the regime of a parameter set.

Used by the reports to say in which dynamical regime a posterior lies, and by
the fit routes to decide where the linearised spectrum holds. No MNE, no PyMC.
"""
