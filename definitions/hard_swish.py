"""Hard swish x·relu6(x + 3)/6: the piecewise-polynomial stand-in for swish used on mobile
hardware.

Continuous with kinks at x = ±3. The gradient there is the outer branch's: 0 at -3 and 1 at 3
(PyTorch's hardswish gives the inner branch's slopes there, -0.5 and 1.5).

Reference: Andrew Howard et al., "Searching for MobileNetV3", ICCV 2019 (arXiv:1905.02244).
"""

import sympy as sp

from symact import Activation, x

hard_swish = Activation(
    name="hard_swish",
    expr=sp.Piecewise((0, x <= -3), (x, x >= 3), (x * (x + 3) / 6, True)),
    doc="Hard swish: x*relu6(x + 3)/6, 0 below -3, x above 3, x*(x + 3)/6 between; kinks at -3 and 3.",
)
