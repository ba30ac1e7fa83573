# Malformed: the expression contains the infinite constant sp.oo (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.Min(x, sp.oo) + sp.oo * sp.Heaviside(x),
)
