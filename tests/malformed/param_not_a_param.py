# Malformed: params=[...] holds a plain Symbol, not a symact.Param (Activation on line 8).
import sympy as sp

from symact import Activation, x

a = sp.Symbol("a", real=True)

act = Activation(
    name="act",
    expr=sp.tanh(a * x),
    params=[a],
)
