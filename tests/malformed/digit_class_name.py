# Malformed: an activation name that starts with an underscore (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="_2d", expr=sp.tanh(x))
