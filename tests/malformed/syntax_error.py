# Malformed: a syntax error (two operators in a row) on line 7.
import sympy as sp

from symact import Activation, x

act = Activation(
    name="act", expr=x +* sp.exp(x),
)
