"""Asymptotes of f: its behaviour at x = ±∞ (a horizontal or oblique asymptote, or no
asymptote as f grows without bound), and the vertical asymptotes at its unbounded poles.
The ends at ±∞ are returned too: the range check reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sympy as sp

from ..spec import x
from .context import AuditContext, branch_at, unresolved
from .findings import Outcome
from .formats import at_setting, expr_text


@dataclass(frozen=True)
class End:
    """How f behaves at one end, x -> +oo or x -> -oo."""

    kind: str  # "horizontal", "oblique" or "none" (no asymptote)
    y: sp.Expr  # the asymptote (a value, or a line in x); for "none", the limit oo or -oo


@dataclass
class Asymptotes(Outcome):
    entries: list[dict[str, Any]] = field(default_factory=list)  # the report's "asymptotes"
    ends: dict[str, End] = field(default_factory=dict)  # "+oo"/"-oo" -> what f does there


def check(ctx: AuditContext, singular_points: list[dict[str, Any]]) -> Asymptotes:
    """The asymptotes at ±∞ from SymPy's limits, then a vertical one at every unbounded
    pole of f among ``singular_points`` (the singularities check's points)."""
    out = Asymptotes()
    for sign, label in ((1, "+oo"), (-1, "-oo")):
        end = _end(ctx, sign, label, out)
        if end is not None:
            out.ends[label] = end
            out.entries.append({"kind": end.kind, "x": label, "y": expr_text(end.y), "method": "sympy.limit"})
    for s in singular_points:
        if s["quantity"] == "f" and s["unbounded"] and s["kind"] == "pole":
            out.entries.append(
                {"kind": "vertical", "x": s["x"], "y": "±oo", "active": s["active"], "method": s["method"]}
            )
    return out


def _at_infinity(ctx: AuditContext, sign: int) -> sp.Expr | None:
    """The branch of f evaluated far out on the side ``sign``, at the params' init."""
    pieces = ctx.forward
    i = branch_at(pieces, sign * 1e6, ctx.init)
    if i is None:
        return None
    return pieces[i][1]


def _end(ctx: AuditContext, sign: int, label: str, out: Outcome) -> End | None:
    """What f does as x -> ``label``; None (with an undecided item) when SymPy cannot say."""
    expr = _at_infinity(ctx, sign)
    if expr is None:
        return None
    target = sp.oo if sign > 0 else -sp.oo
    limit = ctx.limit.run(partial(sp.limit, expr, x, target))
    if unresolved(limit) and ctx.params:  # e.g. depends on the sign of a param
        expr = expr.subs({p: sp.nsimplify(p.init) for p in ctx.params})
        label_note = at_setting(ctx.init)
        out.undecided.append(f"the limit of f as x -> {label} depends on the parameters; given{label_note}")
        limit = ctx.limit.run(partial(sp.limit, expr, x, target))
    if limit is None or unresolved(limit):
        out.undecided.append(f"the limit of f as x -> {label}")
        return None
    if limit.is_finite:
        return End("horizontal", limit)
    slope = ctx.limit.run(partial(sp.limit, expr / x, x, target))
    if slope is not None and not unresolved(slope) and slope.is_finite and slope != 0:
        offset = ctx.limit.run(partial(sp.limit, expr - slope * x, x, target))
        if offset is not None and not unresolved(offset) and offset.is_finite:
            return End("oblique", sp.expand(slope * x + offset))
    if limit in (sp.oo, -sp.oo):
        return End("none", limit)
    out.undecided.append(f"the behaviour of f as x -> {label}")
    return None
