# Malformed: a Param without init=... (line 6).
import sympy as sp

from symact import Activation, Param, x

a = Param("a", positive=True)

act = Activation(name="act", expr=sp.tanh(a * x), params=[a])
