"""Rounding with a straight-through gradient estimator.

Reference: Yoshua Bengio, Nicholas Léonard, Aaron Courville, "Estimating or Propagating
Gradients Through Stochastic Neurons for Conditional Computation", arXiv:1308.3432 (2013).
"""

import sympy as sp

from symact import Activation, x

round_ste = Activation(
    name="round_ste",
    expr=sp.floor(x + sp.Rational(1, 2)),
    surrogate={x: 1},
    doc="Round half up in forward; straight-through estimator (gradient 1) in backward.",
)
