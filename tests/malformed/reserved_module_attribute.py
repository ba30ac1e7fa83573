# Malformed: a parameter named "training", an attribute of every generated module (line 6).
import sympy as sp

from symact import Activation, Param, x

training = Param("training", init=1.0)

act = Activation(name="act", expr=sp.tanh(training * x), params=[training])
