# Malformed: the expression uses a free symbol `y` that is not a Param (Activation on line 8).
import sympy as sp

from symact import Activation, x

y = sp.Symbol("y", real=True)

act = Activation(
    name="act",
    expr=sp.tanh(x * y),
)
