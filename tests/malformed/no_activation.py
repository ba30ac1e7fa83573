# Malformed: the file defines no Activation at module level (file-level error, no line).
import sympy as sp

from symact import Param, x

a = Param("a", init=1.0)
expr = sp.tanh(a * x)
