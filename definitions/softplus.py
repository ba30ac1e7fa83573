"""Softplus log(1 + exp(βx))/β with a trainable sharpness β.

Reference: Charles Dugas, Yoshua Bengio, François Bélisle, Claude Nadeau, René Garcia,
"Incorporating Second-Order Functional Knowledge for Better Option Pricing", NIPS 2000.
"""

import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0, positive=True, bounds=(0.25, 4.0), doc="sharpness")

softplus = Activation(
    name="softplus",
    expr=sp.log(1 + sp.exp(beta * x)) / beta,
    params=[beta],
    doc="Softplus with sharpness beta: a smooth relu, log(1 + exp(beta*x))/beta.",
)
