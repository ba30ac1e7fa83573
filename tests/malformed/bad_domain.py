# Malformed: domain with lo > hi (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.tanh(x),
    domain=(4.0, -4.0),
)
