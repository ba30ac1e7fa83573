# Malformed: x is given both a derivative and a surrogate (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.tanh(x),
    derivative={x: 1 - sp.tanh(x) ** 2},
    surrogate={x: 1},
)
