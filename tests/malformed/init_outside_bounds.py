# Malformed: Param init lies outside its bounds (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=5.0, bounds=(0.5, 2.0))

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
