# Malformed: a Param whose init is not finite (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", init=float("inf"))

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
