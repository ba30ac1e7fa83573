# Malformed: a Param takes the reserved name "np" (line 6).
import sympy as sp

from symact import Activation, Param, x

np = Param("np", init=1.0)

act = Activation(name="act", expr=sp.tanh(np * x), params=[np])
