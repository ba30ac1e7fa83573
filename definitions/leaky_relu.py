"""Leaky ReLU: a rectifier with a small fixed slope for negative inputs.

Kink at x = 0: continuous, slope 1 on the right and `slope` on the left. At x = 0 itself the
gradient is the left branch's (x > 0 is false there), as in PyTorch's leaky_relu. The slope
is an input without a gradient (trainable=False); PReLU is the trainable form.

Reference: Andrew L. Maas, Awni Y. Hannun, Andrew Y. Ng, "Rectifier Nonlinearities Improve
Neural Network Acoustic Models", ICML 2013 Workshop on Deep Learning for Audio, Speech and
Language Processing.
"""

import sympy as sp

from symact import Activation, Param, x

slope = Param("slope", init=0.01, trainable=False, bounds=(0.001, 0.5), doc="fixed slope for x <= 0")

leaky_relu = Activation(
    name="leaky_relu",
    expr=sp.Piecewise((x, x > 0), (slope * x, True)),
    params=[slope],
    doc="Leaky ReLU: x for x > 0, slope*x otherwise (slope fixed, 0.01 by default); kink at 0.",
)
