# Malformed: a constant float64 cannot hold (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=x * 10**400)
