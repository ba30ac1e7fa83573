"""Squareplus (x + √(x² + b))/2: a softplus-like rectifier built from a square root.

Reference: Jonathan T. Barron, "Squareplus: A Softplus-Like Algebraic Rectifier",
arXiv:2112.11687 (2021).
"""

import sympy as sp

from symact import Activation, Param, x

b = Param("b", init=4.0, positive=True, bounds=(0.05, 16.0), doc="curvature near 0 (b -> 0 gives relu)")

# Written branch by branch so that float32 and float64 stay accurate: for x < 0 the textbook
# form cancels (x + sqrt(x**2 + b) is a small difference of large numbers), so it is
# multiplied out to b/(2(sqrt(x**2 + b) - x)); for |x| > 1, |x| is taken out of the square
# root, where x**2 would overflow float32 from |x| = 1.9e19 on.
squareplus = Activation(
    name="squareplus",
    expr=sp.Piecewise(
        (b / (2 * -x * (1 + sp.sqrt(1 + b / x**2))), x < -1),
        (b / (2 * (sp.sqrt(x**2 + b) - x)), x < 0),
        ((x + sp.sqrt(x**2 + b)) / 2, x <= 1),
        (x * (1 + sp.sqrt(1 + b / x**2)) / 2, True),
    ),
    params=[b],
    doc="Squareplus: (x + sqrt(x**2 + b))/2 with b > 0, smooth and positive like softplus.",
)
