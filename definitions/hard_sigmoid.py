"""Hard sigmoid relu6(x + 3)/6: the piecewise-linear stand-in for the logistic sigmoid used on
mobile hardware.

Continuous with kinks at x = ±3; the gradient there is the outer branch's, 0, as in
PyTorch's hardsigmoid. Outside [-3, 3] the gradient is exactly 0 (saturation).

Reference: Andrew Howard et al., "Searching for MobileNetV3", ICCV 2019 (arXiv:1905.02244).
"""

import sympy as sp

from symact import Activation, x

hard_sigmoid = Activation(
    name="hard_sigmoid",
    expr=sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True)),
    doc="Hard sigmoid: relu6(x + 3)/6, 0 below -3, 1 above 3, linear between; kinks at -3 and 3.",
)
