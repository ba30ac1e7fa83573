"""A spiking pulse with a surrogate gradient: 1 while |x| lies in the band between an inner
and an outer edge, else 0, as in a recurrent network whose neurons fire while the state
crosses ±x_max (the band x_max - e < |x| < x_max has inner = x_max - e, outer = x_max).

The true derivative is 0 almost everywhere (a dead gradient), so backward uses a declared
surrogate: the derivative of the same pulse with each edge smoothed to a logistic sigmoid of
sharpness k = 10, on each side of 0 from that side's two edges. The audit reports it as a
deliberate deviation. The edges are compared with |x| directly (not x_max - e), so float32
and float64 decide the band exactly as the 50-digit references do.

Reference: Emre O. Neftci, Hesham Mostafa, Friedemann Zenke, "Surrogate Gradient Learning in
Spiking Neural Networks", IEEE Signal Processing Magazine 36(6), 2019 (arXiv:1901.09948).
"""

import sympy as sp

from symact import Activation, Param, x

inner = Param("inner", init=0.75, positive=True, trainable=False, bounds=(0.1, 0.9), doc="inner edge of the band")
outer = Param("outer", init=1.0, positive=True, trainable=False, bounds=(1.0, 4.0), doc="outer edge of the band")
K = 10  # sharpness of the surrogate's sigmoids


def _dsigmoid(u):
    """The derivative of sigmoid(K*u) with respect to u."""
    return K / (4 * sp.cosh(K * u / 2) ** 2)


spike_pulse = Activation(
    name="spike_pulse",
    expr=sp.Piecewise((1, (sp.Abs(x) > inner) & (sp.Abs(x) < outer)), (0, True)),
    params=[inner, outer],
    surrogate={
        x: sp.Piecewise(
            (_dsigmoid(x - inner) - _dsigmoid(x - outer), x >= 0),
            (_dsigmoid(-x - outer) - _dsigmoid(-x - inner), True),
        ),
    },
    doc="Spiking pulse: 1 for inner < |x| < outer, else 0; backward uses the derivative of the "
    "pulse with logistic edges of sharpness 10 (a surrogate gradient).",
)
