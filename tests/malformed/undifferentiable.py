# Malformed: an undefined function g(x) that SymPy cannot differentiate (found at generate time; line 8).
import sympy as sp

from symact import Activation, x

g = sp.Function("g", real=True)

act = Activation(
    name="act",
    expr=g(x),
)
