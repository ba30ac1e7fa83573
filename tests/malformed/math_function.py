# Malformed: math.exp instead of sp.exp (line 6).
import math

from symact import Activation, x

act = Activation(name="act", expr=x * math.exp(x))
