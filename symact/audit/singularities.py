"""Singularities of f and of every derivative: each candidate point SymPy names (a pole,
the edge of a fractional power's domain, a log of 0), whether it lies inside the branch
that is active there and for which parameter values, and whether the quantity is
unbounded there, has a finite limit (removable) or stays bounded; then a float64 scan for
what SymPy did not name."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from ..derive import Quantity
from ..numeric import mp_function, np_function
from ..spec import Param, x
from .context import AuditContext, Pieces, active_condition, evaluate, evaluate_grid, leading, real_roots
from .findings import Finding, Outcome, finding
from .formats import assignments, at_setting, expr_text, g6, json_number
from .params import bounds_interval, param_condition, range_set, set_text, values_in

_SCAN_POINTS = 4001

#: A leading term c·t^a·log(t)^k of a quantity at x = point + side·t (``derive.leading_order``).
_Lead = tuple[sp.Expr, sp.Expr, int]


@dataclass
class Singularities(Outcome):
    #: Every point considered, with the verdict (the report's "singularities"): the
    #: asymptotes and the range read the unbounded ones of f.
    points: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Verdict:
    """What the audit concluded about one singular point."""

    state: str  # "unbounded", "bounded" (removable when ``limit`` is set), "excluded" (only by bounds), "inactive"
    condition: str  # the parameter condition: where it is unbounded, or where the point is in its branch
    example: dict[sp.Symbol, float] = field(default_factory=dict)  # a setting where it is unbounded
    param: Param | None = None  # the param the condition is on
    limit: str | None = None  # the finite limit at the point, when there is one
    direction: str = ""  # "oo", "-oo" or "±oo" when unbounded and known
    method: str = ""
    edge: bool = False  # the point is at the edge of its branch, approached from inside


@dataclass(frozen=True)
class _Branch:
    """Branch ``i`` of quantity ``q``: its formula, and the condition under which it is
    the one evaluated."""

    q: Quantity
    pieces: Pieces
    i: int
    expr: sp.Expr
    active: sp.Basic


@dataclass(frozen=True)
class _Region:
    """Where a point lies in its branch: ``where`` is a set of values of ``param`` (one
    param), or a condition on the params; ``text`` says it in words."""

    where: Any  # sp.Set or a boolean
    text: str
    param: Param | None  # the param the condition is solved for


def check(ctx: AuditContext) -> Singularities:
    out = Singularities()
    for q in ctx.derivation.quantities:
        pieces = ctx.pieces[q.name]
        reported: set[str] = set()
        for i, (_, expr) in enumerate(pieces):
            branch = _Branch(q, pieces, i, expr, active_condition(pieces, i))
            groups: dict[tuple[str, str, str], list[tuple[sp.Expr, _Verdict]]] = {}
            for point, kind in _candidates(ctx, branch.expr, out):
                verdict = _judge(ctx, branch, point, kind, out)
                if verdict.state == "unbounded" and sp.sstr(point) in reported:
                    continue  # the same point, approached from another branch
                if verdict.state in ("unbounded", "excluded"):
                    if verdict.state == "unbounded":
                        reported.add(sp.sstr(point))
                    groups.setdefault((kind, verdict.state, verdict.condition), []).append((point, verdict))
            for key, found in groups.items():
                out.findings.append(_finding(ctx, branch, key, found))
    _scan(ctx, out)
    return out


def _candidates(ctx: AuditContext, expr: sp.Expr, out: Outcome) -> list[tuple[sp.Expr, str]]:
    """The points SymPy names where ``expr`` may be singular, with their kind."""
    found: list[tuple[sp.Expr, str]] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and node.exp.is_negative:
            found += [(r, "pole") for r in real_roots(node.base, ctx.limit)]
        elif isinstance(node, sp.Pow) and not node.exp.is_Integer:
            found += [(r, "domain edge") for r in real_roots(node.base, ctx.limit)]
        elif isinstance(node, sp.log):
            found += [(r, "log of 0") for r in real_roots(node.args[0], ctx.limit)]
        elif isinstance(node, (sp.tan, sp.sec)):
            out.undecided.append(f"poles of {node} are periodic; not listed")
    unique: dict[str, tuple[sp.Expr, str]] = {}
    for r, kind in found:
        if any(_real_at(r, v) for v in ctx.settings):  # Note [Complex candidate points] in symact.derive
            unique.setdefault(sp.sstr(r), (r, kind))
    return list(unique.values())


def _real_at(point: sp.Expr, values: dict[sp.Symbol, float]) -> bool:
    """Whether ``point`` is a finite real number with the params at ``values``: a root in
    the params (−1/2 + sqrt(1 − 4p)/2) can be complex for some of them."""
    try:
        value = complex(point.subs(values).evalf())
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False
    return value.imag == 0 and math.isfinite(value.real)


def _finding(
    ctx: AuditContext, branch: _Branch, key: tuple[str, str, str], found: list[tuple[sp.Expr, _Verdict]]
) -> Finding:
    """One finding for the points of one branch that share a kind, a verdict state
    ("unbounded" or "excluded") and a condition: ``key``."""
    kind, state, condition = key
    q = branch.q
    points = ", ".join(expr_text(p) for p, _ in found)
    inside = "" if len(branch.pieces) == 1 else f" inside the branch {expr_text(branch.active)}"
    plural = "s" if len(found) > 1 else ""
    where = {"quantity": q.name, "x": [expr_text(p) for p, _ in found], "condition": condition}
    edge = " (approached from inside the branch)" if found[0][1].edge else ""
    head = f"{q.name}: {kind}{plural} at x = {points}{inside}{edge}"
    if state == "excluded":
        p = found[0][1].param
        assert p is not None
        return finding(
            "singularity-outside-bounds",
            f"{head}: {q.name} would be unbounded there {condition}, a case the bounds "
            f"{bounds_interval(p)} of {p.name} exclude (without them it is an error)",
            where,
            found[0][1].method,
        )
    verdict = found[0][1]
    goes = f" ({q.name} -> {verdict.direction})" if verdict.direction else ""
    when = ""
    if ctx.params and condition not in ("always", "") and not condition.startswith("at the edge"):
        when = f"; active {condition}" + (f" (e.g. {assignments(verdict.example)})" if verdict.example else "")
    return finding("singularity", f"{head}: {q.name} is unbounded there{goes}{when}", where, verdict.method)


def _judge(ctx: AuditContext, branch: _Branch, point: sp.Expr, kind: str, out: Singularities) -> _Verdict:
    """Whether the branch's formula is unbounded at ``point`` for some admissible
    parameter value where the branch is evaluated there; records the point."""
    active = branch.active
    inside = sp.sympify(active if active in (sp.true, sp.false) else active.subs(x, point))
    region, where_text = param_condition(inside, ctx.limit)
    p = _single_param(ctx, inside)
    if region in (sp.true, sp.false) and p is not None and len(ctx.params) == 1:
        full = range_set(p)
        region = full if region == sp.true else sp.EmptySet
        where_text = set_text(p, region, full)
    samples = [v for v in _samples_in(ctx, region, p) if _real_at(point, v)]
    edge = False
    if not samples:  # maybe the edge of the branch: evaluated on one side of the point
        samples = [
            v for v in ctx.settings if _real_at(point, v) and any(_side_active(active, point, v, s) for s in (-1, 1))
        ]
        edge = bool(samples)
        if edge:
            region = range_set(p) if p is not None else sp.true
            where_text = "at the edge of the branch, approached from inside"

    verdict = _Verdict("inactive", where_text, method="sympy.solve/solveset")
    if samples:
        verdict = dataclasses.replace(_classify(ctx, branch, point, _Region(region, where_text, p), samples), edge=edge)
        if verdict.state == "bounded" and region != sp.true and p is not None:
            verdict = _outside_bounds(ctx, branch.expr, point, inside, p) or verdict
    elif p is not None and p.bounds is not None:
        verdict = _outside_bounds(ctx, branch.expr, point, inside, p) or verdict
    out.points.append(
        {
            "quantity": branch.q.name,
            "x": expr_text(point),
            "kind": kind,
            "branch": expr_text(active),
            "edge": edge,
            "active": where_text,
            "unbounded": verdict.state == "unbounded",
            "behaviour": (
                "removable" if verdict.limit is not None
                else {"excluded": "bounded", "inactive": "not evaluated"}.get(verdict.state, verdict.state)
            ),
            "condition": verdict.condition if verdict.state in ("unbounded", "excluded") else None,
            "limit": verdict.limit,
            "method": verdict.method,
        }
    )
    return verdict


def _single_param(ctx: AuditContext, cond: sp.Basic) -> Param | None:
    """The param a condition is solved for: the one it names, or the only param."""
    free = [p for p in ctx.params if p in cond.free_symbols]
    if len(free) == 1:
        return free[0]
    return ctx.params[0] if len(ctx.params) == 1 else None


def _samples_in(ctx: AuditContext, region: Any, p: Param | None) -> list[dict[sp.Symbol, float]]:
    """Parameter settings inside ``region``: a set of values of ``p``, or a condition on
    several params."""
    if region == sp.EmptySet or region == sp.false:
        return []
    if not ctx.params:
        return [{}]
    if region == sp.true or (isinstance(region, sp.Set) and p is None):
        return list(ctx.settings[:3])
    if isinstance(region, sp.Set) and p is not None:
        return [{**ctx.init, p: v} for v in values_in(region, p)]
    return [v for v in ctx.settings if region.subs(v) == sp.true][:3]


def _side_active(active: sp.Basic, point: sp.Expr, values: dict[sp.Symbol, float], side: int) -> bool:
    """Whether the branch is the one evaluated just beside ``point`` on ``side``."""
    try:
        at = float(point.subs(values))
    except (TypeError, ValueError):
        return False
    near = at + side * 1e-9 * max(1.0, abs(at))
    held = active if active in (sp.true, sp.false) else active.subs({x: near, **values})
    return bool(held == sp.true)


def _unbounded_near(ctx: AuditContext, expr: sp.Expr, point: sp.Expr, values: dict[sp.Symbol, float], side: int) -> bool:
    """Numeric evidence: ``expr`` is non-finite, or grows past 1e8, as x approaches
    ``point`` from ``side``."""
    if not _real_at(point, values):
        return False
    fn = mp_function(expr, ctx.symbols)
    at = float(point.subs(values))
    biggest = 0.0
    for k in (4, 8, 12):
        v = evaluate(fn, at + side * 10.0**-k * max(1.0, abs(at)), values, ctx.params)
        if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
            return True
        biggest = max(biggest, float(abs(v)) if abs(v) < 1e300 else math.inf)
    return biggest > 1e8


def _classify(
    ctx: AuditContext, branch: _Branch, point: sp.Expr, region: _Region, samples: list[dict[sp.Symbol, float]]
) -> _Verdict:
    """Unbounded, removable (a finite limit) or bounded, with the parameter condition:
    from the leading terms where SymPy finds them, else from mpmath beside the point."""
    expr, active = branch.expr, branch.active
    sides = [s for s in (-1, 1) if any(_side_active(active, point, v, s) for v in samples)]
    if not sides:
        sides = [-1, 1]
    leads = {s: leading(expr, point, s, ctx.limit) for s in sides}
    p = region.param
    symbolic = all(lead is not None for lead in leads.values()) and (
        not ctx.params or (p is not None and isinstance(region.where, sp.Set) and len(ctx.params) == 1)
        or all(not lead[1].free_symbols for lead in leads.values() if lead is not None)
    )
    if symbolic:
        verdict = _classify_symbolic(ctx, {s: lead for s, lead in leads.items() if lead is not None}, region, samples)
        if verdict is not None:
            return verdict
    unbounded_at = [v for v in samples if any(_unbounded_near(ctx, expr, point, v, s) for s in sides)]
    method = "sympy.solve/solveset + mpmath approach"
    if not unbounded_at:
        return _Verdict("bounded", region.text, {}, p, method=method)
    text = region.text
    if len(unbounded_at) < len(samples) and p is not None:
        shown = ", ".join(g6(v[p]) for v in unbounded_at)
        text = f"{region.text} (unbounded at {p.name} = {shown} of those tried)"
    return _Verdict("unbounded", text, unbounded_at[0] if ctx.params else {}, p, method=method)


def _classify_symbolic(
    ctx: AuditContext, leads: dict[int, _Lead], region: _Region, samples: list[dict[sp.Symbol, float]]
) -> _Verdict | None:
    """The verdict from the leading terms on each side: unbounded where the power of t is
    negative (or zero with a growing log), else bounded; None when solveset cannot say
    for which parameter values."""
    p = region.param
    where = region.where
    blowup: sp.Basic = sp.false if isinstance(where, sp.Basic) and not isinstance(where, sp.Set) else sp.EmptySet
    growing = []
    for s, (_, a, k) in leads.items():
        cond = sp.Lt(a, 0) if k <= 0 else sp.Le(a, 0)
        if not a.free_symbols:
            if bool(cond):
                growing.append(s)
                blowup = where if isinstance(where, sp.Set) else sp.true
            continue
        assert p is not None
        part = ctx.limit.run(partial(sp.solveset, cond, p, range_set(p)))
        if not isinstance(part, sp.Set) or isinstance(part, sp.ConditionSet):
            return None
        if part != sp.EmptySet:
            growing.append(s)
        blowup = sp.Union(blowup, part) if isinstance(blowup, sp.Set) else part
    example: list[dict[sp.Symbol, float]]
    if isinstance(where, sp.Set) and isinstance(blowup, sp.Set):
        final = sp.Intersection(where, blowup)
        unbounded = final != sp.EmptySet
        if p is not None:
            text = set_text(p, final, range_set(p))
            example = [{**samples[0], p: v} for v in values_in(final, p, 1)] if unbounded else []
        else:
            text, example = region.text, []
    else:
        unbounded = blowup == sp.true or blowup == where
        text, example = region.text, ([samples[0]] if unbounded else [])
    if unbounded:
        return _Verdict("unbounded", text, example[0] if example else {}, p,
                        direction=_direction(leads, growing), method="sympy leading term")
    return _Verdict("bounded", region.text, {}, p, limit=_limit(ctx, leads, where, p), method="sympy leading term")


def _direction(leads: dict[int, _Lead], growing: list[int]) -> str:
    """"oo", "-oo" or "±oo": where the quantity goes on the sides where it grows; "" when
    a coefficient's sign is unknown."""
    signs = set()
    for s in growing:
        c, _, k = leads[s]
        if not c.is_number or c.is_real is False:
            return ""
        signs.add(int(sp.sign(c)) * (-1) ** (k % 2))
    return {frozenset({1}): "oo", frozenset({-1}): "-oo"}.get(frozenset(signs), "±oo")


def _limit(ctx: AuditContext, leads: dict[int, _Lead], where: Any, p: Param | None) -> str | None:
    """The limit at the point when every side has the same finite one (for every
    parameter value in ``where``)."""
    values = set()
    for c, a, k in leads.values():
        if a.free_symbols:
            positive = ctx.limit.run(partial(sp.solveset, a > 0, p, where)) if p is not None else None
            if not isinstance(where, sp.Set) or positive != where:
                return None
            values.add(sp.S.Zero)
            continue
        values.add(sp.S.Zero if a > 0 or k < 0 else c)
    return expr_text(values.pop()) if len(values) == 1 else None


def _outside_bounds(ctx: AuditContext, expr: sp.Expr, point: sp.Expr, inside: sp.Basic, p: Param) -> _Verdict | None:
    """When the bounds alone keep the point away: the verdict over (0, oo) or the real
    line, as an "excluded" verdict, or None. ``inside`` is the condition for the point to
    be in its branch."""
    if p.bounds is None or len(ctx.params) != 1:
        return None
    full = range_set(p, use_bounds=False)
    region = ctx.limit.run(lambda: sp.solveset(inside, p, full)) if inside not in (sp.true, sp.false) else (
        full if inside == sp.true else sp.EmptySet)
    if not isinstance(region, sp.Set) or isinstance(region, sp.ConditionSet) or region == sp.EmptySet:
        return None
    sides = [-1, 1]
    leads = {s: leading(expr, point, s, ctx.limit) for s in sides}
    blowup: sp.Set = sp.EmptySet
    for lead in leads.values():
        if lead is None:
            values = values_in(region, p, 3, use_bounds=False)
            if any(_unbounded_near(ctx, expr, point, {p: v}, s) for v in values for s in sides):
                blowup = full
            continue
        _, a, k = lead
        cond = sp.Lt(a, 0) if k <= 0 else sp.Le(a, 0)
        part = full if (not a.free_symbols and bool(cond)) else (
            ctx.limit.run(partial(sp.solveset, cond, p, full)) if a.free_symbols else sp.EmptySet)
        if isinstance(part, sp.Set) and not isinstance(part, sp.ConditionSet):
            blowup = sp.Union(blowup, part)
    final = sp.Intersection(region, blowup)
    if final == sp.EmptySet:
        return None
    return _Verdict("excluded", set_text(p, final, full), {}, p, method="sympy.solveset over the unbounded range")


def _scan(ctx: AuditContext, out: Singularities) -> None:
    """Float64 scan of the domain: non-finite values, or isolated spikes past 1e12,
    that SymPy did not name (skipping the points where a finite limit was found)."""
    lo, hi = ctx.act.domain
    xs = np.linspace(lo, hi, _SCAN_POINTS)
    named = {(s["quantity"]) for s in out.points if s["unbounded"]}
    removable = [s for s in out.points if s["behaviour"] == "removable"]
    for q in ctx.derivation.quantities:
        if q.name in named:
            continue
        fn = np_function(q.printed, ctx.symbols)
        for values in ctx.settings:
            ys = evaluate_grid(fn, xs, [values[p] for p in ctx.params])
            if ys is None:
                # Listed with the questions that gave up, after every check's own undecided items.
                ctx.limit.gave_up.append(f"{q.name}: not scanned numerically (NumPy cannot evaluate it)")
                break
            skip = np.zeros(len(xs), dtype=bool)
            for s in removable:
                if s["quantity"] == q.name:
                    try:
                        skip |= xs == float(sp.sympify(s["x"]).subs({p.name: v for p, v in values.items()}))
                    except (TypeError, ValueError, sp.SympifyError):
                        continue
            size = np.abs(ys)
            spike = np.zeros(len(xs), dtype=bool)
            spike[1:-1] = (size[1:-1] > 1e12) & (size[1:-1] >= size[:-2]) & (size[1:-1] >= size[2:])
            bad = (~np.isfinite(ys) | spike) & ~skip
            if bad.any():
                at = float(xs[np.argmax(bad)])
                out.points.append(
                    {"quantity": q.name, "x": json_number(at), "kind": "numeric", "branch": "",
                     "active": assignments(values), "unbounded": True, "behaviour": "unbounded",
                     "condition": None, "limit": None, "method": "float64 scan"}
                )
                out.add(
                    "singularity",
                    f"{q.name}: unbounded or undefined near x = {g6(at)}{at_setting(values)}",
                    {"quantity": q.name, "x": json_number(at)},
                    "float64 scan",
                )
                break
