# Malformed: the expression is an unevaluated Integral (Activation on line 8).
import sympy as sp

from symact import Activation, x

t = sp.Symbol("t", real=True)

act = Activation(
    name="act",
    expr=sp.Integral(sp.exp(-(t**4)), (t, 0, x)),
)
