"""Mish: x·tanh(softplus(x))."""

import sympy as sp

from symact import Activation, x

mish = Activation(
    name="mish",
    expr=x * sp.tanh(sp.log(1 + sp.exp(x))),
    doc="Mish (Misra 2019): x times tanh of softplus(x).",
)
