# Malformed: the expression uses Param `a` but params=[...] does not list it (Activation on line 8).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=1.0)

act = Activation(
    name="act",
    expr=sp.tanh(a * x),
)
