"""A safe Padé (rational) activation P(x)/(1 + |b₁x + b₂x²|) with trainable coefficients.

The absolute value keeps the denominator ≥ 1, so the rational function has no pole for any
coefficients (the "safe PAU"); it is continuous everywhere and has kinks where b₁x + b₂x² = 0.
The initial coefficients fit GELU on [-4, 4] (max error 0.14).

Reference: Alejandro Molina, Patrick Schramowski, Kristian Kersting, "Padé Activation Units:
End-to-end Learning of Flexible Activation Functions in Deep Networks", ICLR 2020
(arXiv:1907.06732).
"""

import sympy as sp

from symact import Activation, Param, x

a0 = Param("a0", init=0.02, bounds=(-1.0, 1.0), doc="numerator, constant term")
a1 = Param("a1", init=0.5, bounds=(-2.0, 2.0), doc="numerator, x")
a2 = Param("a2", init=0.34, bounds=(-2.0, 2.0), doc="numerator, x**2")
a3 = Param("a3", init=0.06, bounds=(-1.0, 1.0), doc="numerator, x**3")
b1 = Param("b1", init=0.0, bounds=(-2.0, 2.0), doc="denominator, x")
b2 = Param("b2", init=0.11, positive=True, bounds=(0.05, 2.0), doc="denominator, x**2")

pade = Activation(
    name="pade",
    expr=(a0 + a1 * x + a2 * x**2 + a3 * x**3) / (1 + sp.Abs(b1 * x + b2 * x**2)),
    params=[a0, a1, a2, a3, b1, b2],
    doc="Safe Pade activation: (a0 + a1*x + a2*x**2 + a3*x**3)/(1 + |b1*x + b2*x**2|), no poles; "
    "kinks where b1*x + b2*x**2 = 0.",
)
