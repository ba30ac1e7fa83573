# Malformed: a surrogate key that is neither x nor a listed param (Activation on line 8).
import sympy as sp

from symact import Activation, x

t = sp.Symbol("t", real=True)

act = Activation(
    name="act",
    expr=sp.floor(x),
    surrogate={t: 1},
)
