# Malformed: imports a module that does not exist (line 4).
import sympy as sp

import symact_no_such_module  # noqa: F401
from symact import Activation, x

act = Activation(name="act", expr=sp.tanh(x))
