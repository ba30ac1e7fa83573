"""Gaussian bump a·exp(−b(x−c)²): trainable height, inverse width and centre.

Reference: D. S. Broomhead, David Lowe, "Multivariable Functional Interpolation and Adaptive
Networks", Complex Systems 2 (1988), 321-355 (Gaussian radial basis functions).
"""

import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=1.0, bounds=(-4.0, 4.0), doc="height")
b = Param("b", init=1.0, positive=True, bounds=(0.05, 10.0), doc="inverse squared width")
c = Param("c", init=0.0, bounds=(-3.0, 3.0), doc="centre")

gaussian_bump = Activation(
    name="gaussian_bump",
    expr=a * sp.exp(-b * (x - c) ** 2),
    params=[a, b, c],
    doc="Gaussian bump with trainable height a, inverse width b and centre c.",
)
