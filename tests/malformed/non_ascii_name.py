# Malformed: a non-ASCII activation name (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="\uff58_act", expr=sp.tanh(x))
