"""PReLU: a rectifier whose negative slope a is learned.

Kink at x = 0: continuous, slope 1 on the right and a on the left. At x = 0 itself the
gradient is the left branch's (x > 0 is false there), as in PyTorch's prelu.

Reference: Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun, "Delving Deep into Rectifiers:
Surpassing Human-Level Performance on ImageNet Classification", ICCV 2015 (arXiv:1502.01852).
"""

import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=0.25, bounds=(-1.0, 1.0), doc="slope for x <= 0")

prelu = Activation(
    name="prelu",
    expr=sp.Piecewise((x, x > 0), (a * x, True)),
    params=[a],
    doc="PReLU: x for x > 0, a*x otherwise, with a trainable; kink at 0, where the gradient is a.",
)
