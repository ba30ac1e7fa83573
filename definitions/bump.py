"""Generalized bump with a trainable width (smooth at the edge of its support, unlike the form with |x| < sigma).

Formula: the standard smooth bump exp(-1/(1 - u**2)) on |u| < 1 (Lars Hörmander, "The
Analysis of Linear Partial Differential Operators I", Springer 1983, section 1.2), with
u = x/sqrt(sigma).
"""

import sympy as sp

from symact import Activation, Param, x

sigma = Param("sigma", init=0.5, positive=True, bounds=(0.1, 10.0), doc="squared half-width of the support")

bump = Activation(
    name="bump",
    expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), x**2 < sigma), (0, True)),
    params=[sigma],
    doc="Smooth generalized bump with trainable width, support |x| < sqrt(sigma).",
)
