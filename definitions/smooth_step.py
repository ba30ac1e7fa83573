"""Smooth step with a trainable width γ: a cubic that goes from 0 to 1 over |x| < γ/2 with zero
slope at both ends (continuously differentiable), exactly 0 and 1 outside.

Reference: Hussein Hazimeh, Natalia Ponomareva, Petros Mol, Zhenyu Tan, Rahul Mazumder,
"The Tree Ensemble Layer: Differentiability meets Conditional Computation", ICML 2020
(arXiv:2002.07772), eq. (3).
"""

import sympy as sp

from symact import Activation, Param, x

gamma = Param("gamma", init=1.0, positive=True, bounds=(0.1, 10.0), doc="width of the transition")

smooth_step = Activation(
    name="smooth_step",
    expr=sp.Piecewise(
        (0, x <= -gamma / 2),
        (1, x >= gamma / 2),
        (-2 / gamma**3 * x**3 + 3 / (2 * gamma) * x + sp.Rational(1, 2), True),
    ),
    params=[gamma],
    doc="Smooth step: 0 for x <= -gamma/2, 1 for x >= gamma/2, -2x**3/gamma**3 + 3x/(2 gamma) + 1/2 between.",
)
