# Malformed: a domain float32 cannot hold (Activation on line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=sp.tanh(x), domain=(-1e308, 1e308))
