# Malformed: a positive Param with a negative init (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=-1.0, positive=True)

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
