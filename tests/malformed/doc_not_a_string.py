# Malformed: doc is not a string (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=sp.tanh(x), doc=["a", "list"])
