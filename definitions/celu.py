"""CELU: ELU rescaled so that it is continuously differentiable for every α.

α is fixed (an input without a gradient, as in PyTorch's CELU): its derivative,
e^u − 1 − u·e^u with u = x/α, is a difference of nearly equal terms near x = 0 that no
rewrite here evaluates accurately, so a trainable α would get an inaccurate gradient there.

Reference: Jonathan T. Barron, "Continuously Differentiable Exponential Linear Units",
arXiv:1704.07483 (2017).
"""

import sympy as sp

from symact import Activation, Param, x

alpha = Param("alpha", init=1.0, positive=True, trainable=False, bounds=(0.1, 3.0), doc="negative saturation value and scale")

celu = Activation(
    name="celu",
    expr=sp.Piecewise((x, x > 0), (alpha * (sp.exp(x / alpha) - 1), True)),
    params=[alpha],
    doc="CELU: x for x > 0, alpha*(exp(x/alpha) - 1) otherwise; C1 at 0 for every alpha > 0.",
)
