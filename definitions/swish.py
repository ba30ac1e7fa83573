"""Swish x·σ(βx) with a trainable β (SiLU at β = 1).

Reference: Prajit Ramachandran, Barret Zoph, Quoc V. Le, "Searching for Activation
Functions", arXiv:1710.05941 (2017); as SiLU: Stefan Elfwing, Eiji Uchibe, Kenji Doya,
"Sigmoid-Weighted Linear Units for Neural Network Function Approximation in Reinforcement
Learning", Neural Networks 107 (2018) (arXiv:1702.03118).
"""

import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0, bounds=(0.1, 4.0), doc="slope of the gate")

swish = Activation(
    name="swish",
    expr=x / (1 + sp.exp(-beta * x)),
    params=[beta],
    doc="Swish: x times the logistic sigmoid of beta*x; SiLU when beta = 1.",
)
