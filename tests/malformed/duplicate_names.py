# Malformed: two activations named "act" in one file (the second on line 8).
import sympy as sp

from symact import Activation, x

first = Activation(name="act", expr=sp.tanh(x))

second = Activation(
    name="act",
    expr=sp.atan(x),
)
