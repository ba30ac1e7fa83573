# Malformed: a parameter named like another's raw storage, "beta_raw" (line 6).
import sympy as sp

from symact import Activation, Param, x

beta_raw = Param("beta_raw", init=1.0)
beta = Param("beta", init=1.0, positive=True)

act = Activation(name="act", expr=x * sp.tanh(beta * beta_raw * x), params=[beta, beta_raw])
