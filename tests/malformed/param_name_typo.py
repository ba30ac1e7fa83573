# Malformed: a typo in a parameter's Python name (line 8).
import sympy as sp

from symact import Activation, Param, x

alpha = Param("alpha", init=0.1)
beta = Param("beta", init=1.0)
act = Activation(name="act", expr=x * sp.exp(beta * x) + alpah * sp.sin(x), params=[alpha, beta])
