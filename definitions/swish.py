"""Swish x·σ(βx) with a trainable β (SiLU at β = 1)."""

import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0, bounds=(0.1, 4.0), doc="slope of the gate")

swish = Activation(
    name="swish",
    expr=x / (1 + sp.exp(-beta * x)),
    params=[beta],
    doc="Swish: x times the logistic sigmoid of beta*x; SiLU when beta = 1.",
)
