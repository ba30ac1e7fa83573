# Malformed: a Piecewise without a (value, True) branch (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=sp.Piecewise((x, x > 0)))
