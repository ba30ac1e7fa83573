# Malformed: a positive Param whose lower bound is not > 0 (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=1.0, positive=True, bounds=(0.0, 2.0))

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
