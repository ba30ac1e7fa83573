# Malformed: a parameter with the name of its activation (Activation on line 8).
import sympy as sp

from symact import Activation, Param, x

act = Param("act", init=1.0)

swish = Activation(name="act", expr=x * sp.tanh(act * x), params=[act])
