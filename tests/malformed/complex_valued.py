# Malformed: the expression is complex-valued (sp.I * x; Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.I * x + sp.tanh(x),
)
