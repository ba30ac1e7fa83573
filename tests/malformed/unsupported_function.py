# Malformed: besselj cannot be printed by the numba backend (found at generate time; Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.besselj(0, x),
)
