# Malformed: a misspelt keyword of Param (line 6).
import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", inti=1.0)
act = Activation(name="act", expr=sp.tanh(beta * x), params=[beta])
