# Malformed: the file is not UTF-8 (a Latin-1 byte in the comment below; file-level error).
# café
import sympy as sp

from symact import Activation, x

act = Activation(name="act", expr=sp.tanh(x))
