# Malformed: the activation name is a Python keyword (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="lambda",
    expr=sp.tanh(x),
)
