"""Softsign x/(1 + |x|): a sigmoid-shaped squashing function with polynomial tails.

Reference: Joseph Turian, James Bergstra, Yoshua Bengio, "Quadratic Features and Deep
Architectures for Chunking", NAACL HLT 2009; Xavier Glorot, Yoshua Bengio, "Understanding
the difficulty of training deep feedforward neural networks", AISTATS 2010.
"""

import sympy as sp

from symact import Activation, x

softsign = Activation(
    name="softsign",
    expr=x / (1 + sp.Abs(x)),
    doc="Softsign: x/(1 + |x|), range (-1, 1), tails approach +-1 like 1/x instead of exponentially.",
)
