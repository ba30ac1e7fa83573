# Malformed: Param bounds with lo > hi (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=1.0, bounds=(2.0, 0.5))

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
