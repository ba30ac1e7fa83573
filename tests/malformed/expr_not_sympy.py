# Malformed: expr is a list, not a SymPy expression (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=[sp.tanh(x)],
)
