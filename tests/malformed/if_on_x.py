# Malformed: a Python if/else on the symbol x instead of sp.Piecewise (line 4).
from symact import Activation, x

act = Activation(name="act", expr=x if x > 0 else 0)
