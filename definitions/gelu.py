"""GELU in its exact (erf) form and its tanh approximation.

Reference: Dan Hendrycks, Kevin Gimpel, "Gaussian Error Linear Units (GELUs)",
arXiv:1606.08415 (2016).
"""

import sympy as sp

from symact import Activation, x

gelu = Activation(
    name="gelu",
    expr=x / 2 * (1 + sp.erf(x / sp.sqrt(2))),
    doc="GELU, exact form: x times the standard normal CDF of x.",
)

gelu_tanh = Activation(
    name="gelu_tanh",
    expr=x / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + sp.Rational(44715, 1000000) * x**3))),
    doc="GELU, tanh approximation (Hendrycks & Gimpel 2016), as torch's approximate='tanh'.",
)
