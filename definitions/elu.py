"""ELU with a trainable α.

Reference: Djork-Arné Clevert, Thomas Unterthiner, Sepp Hochreiter, "Fast and Accurate Deep
Network Learning by Exponential Linear Units (ELUs)", ICLR 2016 (arXiv:1511.07289).
"""

import sympy as sp

from symact import Activation, Param, x

alpha = Param("alpha", init=1.0, positive=True, bounds=(0.1, 3.0), doc="negative saturation value")

elu = Activation(
    name="elu",
    expr=sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True)),
    params=[alpha],
    doc="ELU (Clevert et al. 2015): x for x > 0, alpha*(exp(x) - 1) otherwise.",
)
