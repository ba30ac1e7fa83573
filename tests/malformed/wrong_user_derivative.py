# Malformed: the user's derivative[x] is wrong (found at generate time; Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.tanh(x),
    derivative={x: 1 + sp.tanh(x) ** 2},
)
