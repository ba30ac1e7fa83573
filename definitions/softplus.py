"""Softplus log(1 + exp(βx))/β with a trainable sharpness β."""

import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0, positive=True, bounds=(0.25, 4.0), doc="sharpness")

softplus = Activation(
    name="softplus",
    expr=sp.log(1 + sp.exp(beta * x)) / beta,
    params=[beta],
    doc="Softplus with sharpness beta: a smooth relu, log(1 + exp(beta*x))/beta.",
)
