"""Snake x + sin²(αx)/α with a trainable frequency α, for data with periodic structure.

Reference: Liu Ziyin, Tilman Hartwig, Masahito Ueda, "Neural Networks Fail to Learn Periodic
Functions and How to Fix It", NeurIPS 2020 (arXiv:2006.08195).
"""

import sympy as sp

from symact import Activation, Param, x

alpha = Param("alpha", init=1.0, positive=True, bounds=(0.1, 10.0), doc="frequency of the periodic part")

snake = Activation(
    name="snake",
    expr=x + sp.sin(alpha * x) ** 2 / alpha,
    params=[alpha],
    doc="Snake: x + sin(alpha*x)**2/alpha, monotone trend plus a periodic ripple of frequency alpha.",
)
