# Malformed: an init of 1e308 (line 6).
import sympy as sp

from symact import Activation, Param, x

p = Param("p", init=1e308)

act = Activation(name="act", expr=sp.tanh(p * x), params=[p])
