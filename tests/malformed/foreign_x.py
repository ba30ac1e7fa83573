# Malformed: a plain sp.Symbol("x") instead of symact.x (Activation on line 8).
import sympy as sp

from symact import Activation

x = sp.Symbol("x")

act = Activation(
    name="act",
    expr=sp.tanh(x),
)
