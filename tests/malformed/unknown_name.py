# Malformed: uses the undefined name `y` (NameError) on line 8.
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.exp(x) * y,
)
