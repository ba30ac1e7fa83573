"""SELU with the self-normalizing constants of Klambauer et al. (2017).

Reference: Günter Klambauer, Thomas Unterthiner, Andreas Mayr, Sepp Hochreiter,
"Self-Normalizing Neural Networks", NeurIPS 2017 (arXiv:1706.02515).
"""

import sympy as sp

from symact import Activation, x

ALPHA = sp.Float("1.6732632423543772848170429916717", 32)
SCALE = sp.Float("1.0507009873554804934193349852946", 32)

selu = Activation(
    name="selu",
    expr=SCALE * sp.Piecewise((x, x > 0), (ALPHA * (sp.exp(x) - 1), True)),
    doc="SELU: scale*x for x > 0, scale*alpha*(exp(x) - 1) otherwise (fixed constants).",
)
