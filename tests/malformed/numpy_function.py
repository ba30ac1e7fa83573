# Malformed: np.exp instead of sp.exp (line 8).
import numpy as np
import sympy as sp

from symact import Activation, Param, x

beta = Param("beta", init=1.0)
act = Activation(name="act", expr=x * np.exp(beta * x) + sp.sin(x), params=[beta])
