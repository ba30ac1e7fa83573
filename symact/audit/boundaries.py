"""Continuity and differentiability of f at the boundaries between its branches: a jump
(a discontinuity, whose gradient is meaningless) or a slope that differs on the two sides
(a kink), and for which parameter values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import sympy as sp
from sympy.calculus.util import continuous_domain

from ..spec import x
from .context import AuditContext, Pieces, branch_at, real_roots
from .findings import Outcome
from .formats import assignments, expr_text
from .params import param_condition, range_set, set_text


@dataclass(frozen=True)
class _Boundary:
    """A branch boundary of f, with the branches beside it (``left`` below the point,
    ``right`` above) and the parameter settings where those are the ones (the first is
    where the slopes are compared)."""

    point: sp.Expr
    left: int
    right: int
    where: list[dict[sp.Symbol, float]]


def check(ctx: AuditContext) -> Outcome:
    out = Outcome()
    pieces = ctx.forward
    if len(pieces) < 2:
        return out
    points: dict[str, sp.Expr] = {}
    for cond, _ in pieces:
        # In SymPy's canonical order: a set's order changes with the hash seed, from run to run.
        for rel in sp.ordered(cond.atoms(sp.core.relational.Relational)):
            for r in real_roots(rel.lhs - rel.rhs, ctx.limit):
                points.setdefault(sp.sstr(r), r)
    for point in points.values():
        for boundary in _sides(pieces, point, ctx.settings):
            _compare_sides(ctx, boundary, out)
    return out


def _sides(pieces: Pieces, point: sp.Expr, settings: tuple[dict[sp.Symbol, float], ...]) -> list[_Boundary]:
    """The pairs of branches on the two sides of ``point``, each with the settings where they
    are; settings where the point is not real (``sqrt(t)`` for t < 0) have no boundary there."""
    sides: dict[tuple[int, int], list[dict[sp.Symbol, float]]] = {}
    for values in settings:
        try:
            b = float(point.subs(values))
        except TypeError:  # complex at these values
            continue
        eps = 1e-9 * max(1.0, abs(b))
        left, right = branch_at(pieces, b - eps, values), branch_at(pieces, b + eps, values)
        if left is None or right is None or left == right:
            continue
        sides.setdefault((left, right), []).append(values)
    return [_Boundary(point, left, right, where) for (left, right), where in sides.items()]


def _one_sided(ctx: AuditContext, expr: sp.Expr, point: sp.Expr, direction: str) -> sp.Expr | None:
    value = ctx.limit.run(lambda: sp.limit(expr, x, point, direction))
    if value is None or value.has(sp.Limit, sp.nan, sp.AccumBounds):
        return None
    return sp.simplify(value) if value.free_symbols else value


def _where_zero(
    ctx: AuditContext, gap: sp.Expr, left_expr: sp.Expr, right_expr: sp.Expr, point: sp.Expr
) -> tuple[str, str]:
    """Where a jump (or a slope gap) ``gap`` between two one-sided limits is nonzero and
    where it closes, as texts: ("for every value of sigma except sigma = 1", "when sigma = 1").
    A param value where ``gap`` is undefined closes it when the one-sided limits,
    taken at that value, agree. Without params: ("", "")."""
    if not gap.free_symbols:
        return "", ""
    free = [p for p in ctx.params if p in gap.free_symbols]
    if len(free) != 1 or gap.free_symbols - set(free):
        _, closes = param_condition(sp.Eq(gap, 0), ctx.limit)
        return "", closes
    p = free[0]
    full = range_set(p)
    zero = ctx.limit.run(lambda: sp.solveset(sp.Eq(gap, 0), p, full))
    if not isinstance(zero, sp.Set) or isinstance(zero, sp.ConditionSet):
        _, closes = param_condition(sp.Eq(gap, 0), ctx.limit)
        return "", closes
    defined = ctx.limit.run(lambda: continuous_domain(gap, p, full))
    undefined = full - defined if isinstance(defined, sp.Set) else sp.EmptySet
    if isinstance(undefined, sp.FiniteSet):
        for v in undefined:
            at = point.subs(p, v)
            lhs = ctx.limit.run(partial(sp.limit, left_expr.subs(p, v), x, at, "-"))
            rhs = ctx.limit.run(partial(sp.limit, right_expr.subs(p, v), x, at, "+"))
            if lhs is not None and rhs is not None and lhs.is_finite and sp.simplify(lhs - rhs) == 0:
                zero = sp.Union(zero, sp.FiniteSet(v))
    nonzero = full - zero
    if zero == sp.EmptySet:
        return set_text(p, full, full), set_text(p, zero, full)
    return set_text(p, nonzero, full), set_text(p, zero, full)


def _compare_sides(ctx: AuditContext, b: _Boundary, out: Outcome) -> None:
    """A discontinuity where f's one-sided limits differ; else a kink where its slopes do."""
    pieces = ctx.forward
    f_left = _one_sided(ctx, pieces[b.left][1], b.point, "-")
    f_right = _one_sided(ctx, pieces[b.right][1], b.point, "+")
    loc = {"x": expr_text(b.point), "at": assignments(b.where[0])}
    if f_left is None or f_right is None:
        out.undecided.append(f"continuity at x = {expr_text(b.point)}: SymPy's limits did not finish")
        return
    jump = sp.simplify(f_left - f_right)
    if jump != 0:
        numeric = [float(sp.N(jump.subs(v))) for v in b.where if sp.N(jump.subs(v)).is_finite]
        if numeric and all(abs(v) < 1e-300 for v in numeric):
            jump = sp.S.Zero
    if jump != 0:
        jumps, closes = _where_zero(ctx, jump, pieces[b.left][1], pieces[b.right][1], b.point)
        when = ""
        if jumps:
            when = f", {jumps}"
            if " except " in jumps:
                when += ", where it is continuous"
            elif closes and not closes.startswith("for no "):
                when += f" (continuous {closes})"
        elif closes:
            when = f" (continuous only {closes})"
        out.add(
            "discontinuity",
            f"f jumps at x = {expr_text(b.point)}: {expr_text(f_left)} on the left, {expr_text(f_right)} on the right"
            f"{when}; the gradient there is meaningless",
            {**loc, "left": expr_text(f_left), "right": expr_text(f_right)},
            "sympy.limit",
        )
        return
    d_x = ctx.pieces.get("d_x")
    if d_x is not None:
        _compare_slopes(ctx, b, d_x, loc, out)


def _compare_slopes(ctx: AuditContext, b: _Boundary, d_x: Pieces, loc: dict[str, str], out: Outcome) -> None:
    """A kink where f is continuous at the boundary but its one-sided slopes differ."""
    # d_x has pieces of its own: SymPy merges neighbouring branches whose derivatives agree
    # (hard sigmoid's 0 below -3 and 0 above 3), so f's branch numbers do not index them.
    at = b.where[0]
    point = b.point
    value = float(point.subs(at))
    eps = 1e-9 * max(1.0, abs(value))
    d_left, d_right = branch_at(d_x, value - eps, at), branch_at(d_x, value + eps, at)
    if d_left is None or d_right is None:
        out.undecided.append(f"differentiability at x = {expr_text(point)}: no branch of df/dx holds beside it")
        return
    g_left = _one_sided(ctx, d_x[d_left][1], point, "-")
    g_right = _one_sided(ctx, d_x[d_right][1], point, "+")
    if g_left is None or g_right is None:
        out.undecided.append(f"differentiability at x = {expr_text(point)}: SymPy's limits did not finish")
        return
    if g_left.has(sp.oo, -sp.oo, sp.zoo) or g_right.has(sp.oo, -sp.oo, sp.zoo):
        return  # an infinite slope: a singularity of d_x, reported as one
    gap = sp.simplify(g_left - g_right)
    if gap == 0:
        return
    kinked, smooth = _where_zero(ctx, gap, d_x[d_left][1], d_x[d_right][1], point)
    when = ""
    if smooth and not smooth.startswith("for no "):
        when = f" (smooth only {smooth})"
    elif kinked:
        when = f", {kinked}"
    side = "left" if branch_at(ctx.forward, float(point.subs(at)), at) == b.left else "right"
    out.add(
        "kink",
        f"f is continuous but not differentiable at x = {expr_text(point)}: slope {expr_text(g_left)} on the "
        f"left, {expr_text(g_right)} on the right{when}; the gradient there is the {side} one",
        {**loc, "left": expr_text(g_left), "right": expr_text(g_right)},
        "sympy.limit",
    )
