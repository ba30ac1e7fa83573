"""Mish: x·tanh(softplus(x)).

Reference: Diganta Misra, "Mish: A Self Regularized Non-Monotonic Activation Function",
BMVC 2020 (arXiv:1908.08681).
"""

import sympy as sp

from symact import Activation, x

mish = Activation(
    name="mish",
    expr=x * sp.tanh(sp.log(1 + sp.exp(x))),
    doc="Mish (Misra 2019): x times tanh of softplus(x).",
)
