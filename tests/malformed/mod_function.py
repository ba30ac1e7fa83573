# Malformed: Mod, which no backend prints (line 6).
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=sp.Mod(x, 1))
