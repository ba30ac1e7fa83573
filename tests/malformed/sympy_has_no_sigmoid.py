# Malformed: sp.sigmoid, which SymPy does not have (line 7).
import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0)
act = Activation(name="act", expr=x * sp.sigmoid(beta * x), params=[beta])
