# Malformed: sqrt(x) is complex for x < 0 on the default domain (-8, 8); found at generate time (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act",
    expr=sp.sqrt(x),
)
