"""The verdict on every derivative the user supplied: proven equal to the true one
symbolically, else compared with it at 50 digits over the domain and the parameter
settings (refuted at the first point where they differ)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import mpmath
import numpy as np
import sympy as sp

from ..numeric import derivative_agrees, kappa_at, mp_function, mp_partials, reference
from ..spec import x
from .context import AuditContext, is_zero
from .findings import Outcome
from .formats import assignments, expr_text


@dataclass
class Derivatives(Outcome):
    verdicts: dict[str, str] = field(default_factory=dict)  # the report's "user_derivatives": d_<var> -> verdict


def check(ctx: AuditContext) -> Derivatives:
    out = Derivatives()
    for var, given in (ctx.act.derivative or {}).items():
        true = ctx.true_derivative(var)
        pieces = [(c, e) for e, c in true.args] if isinstance(true, sp.Piecewise) else [(sp.true, true)]
        proven = all(ctx.limit.run(partial(is_zero, given - e)) for _, e in pieces)
        if proven:
            out.verdicts[f"d_{var}"] = "proven equal symbolically"
            continue
        out.verdicts[f"d_{var}"] = _numeric_check(ctx, var, given, true, out)
    return out


def _numeric_check(ctx: AuditContext, var: sp.Symbol, given: sp.Expr, true: sp.Expr, out: Outcome) -> str:
    """The verdict from mpmath at 50 digits; a derivative-mismatch finding when refuted."""
    rng = np.random.default_rng(0)
    lo, hi = ctx.act.domain
    xs = list(rng.uniform(lo, hi, 40)) + [lo, hi, 0.0, 1e-3, -1e-3, 30.0, -30.0]
    g_fn, t_fn = mp_function(given, ctx.symbols), mp_function(true, ctx.symbols)
    partials = mp_partials(true, ctx.symbols)
    count = 0
    for values in ctx.settings:
        for xv in xs:
            point = [float(xv), *(values[p] for p in ctx.params)]
            t = reference(t_fn, point)
            if isinstance(t, mpmath.mpc) or not mpmath.isfinite(t):
                continue
            g = reference(g_fn, point)
            count += 1
            if not derivative_agrees(g, t, kappa_at(partials, t, point)):
                where = {"x": float(xv), **{p.name: values[p] for p in ctx.params}}
                out.add(
                    "derivative-mismatch",
                    f"derivative[{var}] = {expr_text(given)} is wrong: at {assignments({x: float(xv), **values})} "
                    f"it gives {mpmath.nstr(g, 12)}, the true value is {mpmath.nstr(t, 12)}",
                    where,
                    "mpmath at 50 digits",
                )
                return "refuted"
    return f"equal at {count} points (mpmath, 50 digits); not proven symbolically"
