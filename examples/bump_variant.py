"""The trainable bump with the support condition |x| < sigma instead of x**2 < sigma: a
definition with real problems, for `symact audit` and `symact plot` to explain.

exp(-sigma/(sigma - x**2)) has poles at x = ±sqrt(sigma). With |x| < sigma as the condition,
they lie inside the support when sigma > 1, and f jumps at x = ±sigma when sigma != 1; only at
sigma = 1 do the two conditions agree. definitions/bump.py is the sound form.
"""

import sympy as sp

from symact import Activation, Param, x

sigma = Param("sigma", init=0.5, positive=True, bounds=(0.1, 10.0), doc="half-width of the support")

bump_variant = Activation(
    name="bump_variant",
    expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), (0, True)),
    params=[sigma],
    doc="Bump with support |x| < sigma: jumps at the edges when sigma != 1, poles inside when sigma > 1.",
)
