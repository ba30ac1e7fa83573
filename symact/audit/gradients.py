"""Gradients that do not flow: trainable parameters f does not use, declared surrogate
gradients, derivatives that are zero almost everywhere (dead gradients), and inputs where
|df/dx| is vanishingly small (saturation)."""

from __future__ import annotations

from functools import partial

import numpy as np

from ..derive import Kind
from ..numeric import np_function
from ..spec import Param, x
from .context import AuditContext, evaluate_grid, is_zero
from .findings import Outcome
from .formats import at_setting, expr_text, short

#: |df/dx| below this is a vanishing gradient.
SATURATION = 1e-6
_SCAN_HALF_WIDTH = 100.0


def check(ctx: AuditContext) -> Outcome:
    """Unused parameters, surrogates and dead gradients (symbolic)."""
    out = Outcome()
    f = ctx.act.expr
    in_value = set().union(*(e.free_symbols for _, e in ctx.forward))
    for p in ctx.act.trainable_params:
        if p not in f.free_symbols:
            out.add(
                "unused-parameter",
                f"trainable parameter {p.name} does not appear in f: it never receives a gradient "
                f"(TensorFlow: 'Gradients do not exist for variables')",
                {"param": p.name},
                "sympy",
            )
    surrogate = ctx.act.surrogate or {}
    for q in ctx.derivation.gradients:
        var = q.wrt
        assert var is not None  # a gradient is w.r.t. x or a param
        if q.kind is Kind.SURROGATE:
            out.add(
                "surrogate",
                f"the gradient w.r.t. {var} is a declared surrogate, {expr_text(q.exact)}, not the true "
                f"derivative {expr_text(ctx.true_derivative(var))}",
                {"wrt": str(var)},
                "definition",
            )
            continue
        if var in surrogate or (isinstance(var, Param) and var not in f.free_symbols):
            continue
        if all(ctx.limit.run(partial(is_zero, e)) for _, e in ctx.pieces[q.name]):
            why = ""
            if isinstance(var, Param) and var not in in_value:
                why = (f": {var.name} only moves a branch boundary, and conditions have no gradient "
                       f"(a learned threshold in a comparison gets no gradient)")
            elif var == x:
                why = ": f is piecewise constant (round, floor, sign, a step); declare a surrogate"
            out.add(
                "dead-gradient",
                f"the derivative w.r.t. {var} is zero almost everywhere{why}",
                {"wrt": str(var)},
                "sympy.simplify",
            )
    return out


def check_saturation(ctx: AuditContext) -> Outcome:
    """Intervals of x where |df/dx| < SATURATION at the params' init (float64 scan)."""
    out = Outcome()
    d_x = next(q for q in ctx.derivation.gradients if q.wrt == x)
    init = ctx.init
    fn = np_function(d_x.printed, ctx.symbols)
    xs = np.linspace(-_SCAN_HALF_WIDTH, _SCAN_HALF_WIDTH, 40001)
    ds = evaluate_grid(fn, xs, [init[p] for p in ctx.params])
    if ds is None:
        out.undecided.append("saturation (NumPy cannot evaluate df/dx)")
        return out
    small = np.abs(ds) < SATURATION
    if not small.any() or small.all():
        return out
    edges = np.flatnonzero(np.diff(small.astype(np.int8)))
    starts = [0, *(edges + 1)]
    ends = [*(edges + 1), len(xs)]
    for s, e in zip(starts, ends):
        if not small[s] or e - s < 3:  # a zero of the derivative, not a region
            continue
        lo = "-oo" if s == 0 else f"{xs[s]:.4g}"
        hi = "oo" if e == len(xs) else f"{xs[e - 1]:.4g}"
        out.add(
            "saturation",
            f"|df/dx| < {short(SATURATION)} for x in ({lo}, {hi}){at_setting(init)}: "
            f"inputs there get (almost) no gradient",
            {"interval": [lo, hi]},
            "float64 scan of [-100, 100]",
        )
    return out
