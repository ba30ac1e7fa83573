# Malformed: the activation name is not a Python identifier (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="my-act",
    expr=sp.tanh(x),
)
