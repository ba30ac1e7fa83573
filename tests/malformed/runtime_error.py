# Malformed: the module raises ZeroDivisionError at import time (line 6).
import sympy as sp

from symact import Activation, x

SCALE = 1 / 0

act = Activation(name="act", expr=SCALE * sp.tanh(x))
