# Malformed: a 300-character activation name (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="a" * 300, expr=sp.tanh(x))
