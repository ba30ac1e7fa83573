"""``symact audit``: what is wrong with an activation, with evidence, before training.

For each activation: its formulas; singularities of f and of every derivative, and
whether each lies inside the branch that is active there (with the parameter condition);
asymptotes and range; continuity and differentiability at branch boundaries; dead and
vanishing gradients; unused parameters; float32 overflow of the naive formula and whether
the generated code avoids it; and the verdict on every user-supplied derivative.

Every symbolic step runs under a time budget. SymPy answers first (``solve``,
``solveset``, ``limit``); mpmath and a float64 scan cross-check, and each finding says
which method found it. What the budget did not allow is reported as undecided.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.calculus.util import continuous_domain

from .budget import QuestionLimit
from .derive import Derivation, Quantity, derive, leading_order
from .functions import diff_ae
from .numeric import cross_reference, mp_function, np_function, reference
from .spec import Activation, Param, x

__all__ = ["Finding", "ActivationReport", "audit", "SEVERITY", "CODES"]

#: Finding codes and their severities (a contract: tools read them from the JSON).
CODES = {
    "singularity": "error",
    "discontinuity": "warning",
    "kink": "info",
    "dead-gradient": "error",
    "unused-parameter": "error",
    "derivative-mismatch": "error",
    "surrogate": "info",
    "float32-overflow": "warning",
    "saturation": "info",
    "bounded-range": "info",
    "singularity-outside-bounds": "info",
}
SEVERITY = ("error", "warning", "info")

#: Seconds a single SymPy question (a limit, a solve) may take before the audit moves on.
STEP_BUDGET = 3.0
#: |df/dx| below this is a vanishing gradient.
SATURATION = 1e-6
_SCAN_HALF_WIDTH = 100.0
_SCAN_POINTS = 4001


def _evaluate_grid(fn: Any, xs: np.ndarray, params: Sequence[Any]) -> np.ndarray | None:
    """``fn`` (from ``numeric.np_function``, which already falls back to one element at a
    time for functions NumPy lacks) at every x, in the dtype of ``xs``; None where it
    cannot be evaluated at all (a function neither NumPy nor ``math`` has)."""
    with np.errstate(all="ignore"):
        try:
            return np.broadcast_to(np.asarray(fn(xs, *params)), xs.shape).astype(xs.dtype)
        except (TypeError, ValueError, NameError, AttributeError, ZeroDivisionError, OverflowError):
            return None


@dataclass(frozen=True)
class Finding:
    code: str  # one of CODES
    severity: str  # CODES[code]
    message: str  # one sentence with the evidence
    where: dict[str, Any] | None = None  # the point, interval or quantity it concerns
    method: str = ""  # how it was found: "sympy", "mpmath", "float64 scan", ...


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


@dataclass
class ActivationReport:
    name: str
    params: list[dict[str, Any]]
    formulas: dict[str, dict[str, str]]
    singularities: list[dict[str, Any]] = field(default_factory=list)
    asymptotes: list[dict[str, Any]] = field(default_factory=list)
    range: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    user_derivatives: dict[str, str] = field(default_factory=dict)  # d_<var> -> verdict
    undecided: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(
        self, code: str, message: str, where: dict[str, Any] | None = None, method: str = "", severity: str = ""
    ) -> None:
        """Record a finding; its severity is the code's (CODES) unless one below it is given."""
        if severity and SEVERITY.index(severity) < SEVERITY.index(CODES[code]):
            raise ValueError(f"a {code} finding is never more severe than {CODES[code]}")
        self.findings.append(Finding(code, severity or CODES[code], message, where, method))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


# ---------------------------------------------------------------------------- helpers


def _undecided(value: Any) -> bool:
    return value is None or bool(value.has(sp.Limit, sp.AccumBounds, sp.nan, sp.zoo))


def _num(value: Any, digits: int = 6) -> float | str:
    """A JSON-friendly number: a float, or "inf"/"-inf"/"nan"."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(f"{v:.{digits}g}")


def _text(expr: Any) -> str:
    """SymPy's string form, with long rationals (from Float constants) shown as decimals and
    comparisons with x on the left (``Abs(x) < sigma``, not ``sigma > Abs(x)``)."""
    if isinstance(expr, sp.Basic):
        long = {r: sp.Float(r, 15) for r in expr.atoms(sp.Rational) if abs(r.q) > 10**6}
        expr = expr.xreplace(long)
        flipped = {
            rel: rel.reversed for rel in expr.atoms(sp.core.relational.Relational)
            if rel.rhs.has(x) and not rel.lhs.has(x)
        }
        if flipped:
            return sp.sstr(expr.xreplace(flipped))
    return sp.sstr(expr)


def _is_zero(expr: sp.Expr) -> bool:
    return bool(sp.simplify(expr) == 0)


def _value_text(value: sp.Expr) -> str:
    """Exact integers and simple constants as SymPy writes them; other numbers to 6 digits."""
    if value.is_Integer or (value.is_number and not value.is_Float and len(sp.sstr(value)) <= 12):
        return sp.sstr(value)
    return f"{float(value):.6g}"


def _refine_extreme(fn: Callable[..., Any], xs: np.ndarray, ys: np.ndarray, args: list[float], lowest: bool) -> float:
    """The min (or max) of a smooth scan, refined on two finer grids around the best point."""
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    i = int(np.nanargmin(ys) if lowest else np.nanargmax(ys))
    best = float(ys[i])
    lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, len(xs) - 1)]
    for _ in range(2):
        grid = np.linspace(lo, hi, 2001)
        with np.errstate(all="ignore"):
            vals = np.broadcast_to(fn(grid, *args), grid.shape).astype(np.float64)
        if not np.isfinite(vals).any():
            break
        j = int(np.nanargmin(vals) if lowest else np.nanargmax(vals))
        best = min(best, float(vals[j])) if lowest else max(best, float(vals[j]))
        step = grid[1] - grid[0]
        lo, hi = grid[j] - step, grid[j] + step
    return best


def _pieces(q: Quantity) -> list[tuple[sp.Basic, sp.Expr]]:
    if isinstance(q.exact, sp.Piecewise):
        return [(c, e) for e, c in q.exact.args]
    return [(sp.true, q.exact)]


def _active(pieces: Sequence[tuple[sp.Basic, sp.Expr]], i: int) -> sp.Basic:
    """The condition under which branch i is the one evaluated."""
    earlier = [sp.Not(c) for c, _ in pieces[:i]]
    return sp.And(pieces[i][0], *earlier)


def _exact(value: float) -> sp.Expr:
    """A float bound as the rational it was written as (0.1 -> 1/10), for solveset."""
    return sp.Rational(repr(float(value)))


def _range_set(p: Param, use_bounds: bool = True) -> sp.Set:
    """The values p can take in training (``Param.admissible_range``) as a set: its
    bounds, else (0, oo) for a positive param, else the real line. ``use_bounds=False``
    ignores the bounds, to tell when they alone keep a singularity away."""
    lo, hi = _limits(p, use_bounds)
    if math.isfinite(lo) and math.isfinite(hi):
        return sp.Interval(_exact(lo), _exact(hi))
    return sp.Interval.open(_exact(lo) if math.isfinite(lo) else -sp.oo, sp.oo)


def _limits(p: Param, use_bounds: bool = True) -> tuple[float, float]:
    """``Param.admissible_range``, or without ``use_bounds`` the range its sign allows."""
    if use_bounds:
        return p.admissible_range()
    return (0.0, math.inf) if p.positive else (-math.inf, math.inf)


def _candidate_values(p: Param, use_bounds: bool = True) -> list[float]:
    """Values of p spread over its admissible range: the sampled range, and where the
    range is unbounded, magnitudes from 1e-3 to 1e3 times the init's scale."""
    lo, hi = _limits(p, use_bounds)
    s_lo, s_hi = p.sample_range()
    values = {p.init, s_lo, s_hi, s_lo + (s_hi - s_lo) / 3, s_lo + 2 * (s_hi - s_lo) / 3}
    if math.isfinite(lo) and math.isfinite(hi):
        values.update(np.linspace(lo, hi, 9).tolist())
    else:
        scale = max(1.0, abs(p.init))
        magnitudes = [scale * m for m in (1e-3, 1e-2, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 100.0, 1e3)]
        values.update(magnitudes)
        if not math.isfinite(lo):
            values.update(-m for m in magnitudes)
            values.add(0.0)
    return sorted(v for v in values if lo <= v <= hi and (v > 0 or not p.positive))


def _values_in(region: sp.Set, p: Param, count: int = 3, use_bounds: bool = True) -> list[float]:
    """A few values of p inside ``region`` (a subset of its admissible range), the init
    first when it is inside, then spread over the region."""
    candidates = set(_candidate_values(p, use_bounds))
    if isinstance(region, sp.Interval):
        a, b = region.start, region.end
        if a.is_finite and b.is_finite:
            candidates.update(float(a + (b - a) * k) for k in (sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(3, 4)))
        elif a.is_finite:
            candidates.update(float(a) + max(1.0, abs(float(a))) * k for k in (0.5, 1.0, 10.0))
        elif b.is_finite:
            candidates.update(float(b) - max(1.0, abs(float(b))) * k for k in (0.5, 1.0, 10.0))
    lo, hi = _limits(p, use_bounds)
    inside = sorted(v for v in candidates if lo <= v <= hi and region.contains(sp.Float(v)) == sp.true)
    if p.init in inside:
        rest = [v for v in inside if v != p.init]
        return [p.init, *_spread(rest, count - 1)]
    return _spread(inside, count)


def _spread(values: list[float], count: int) -> list[float]:
    if len(values) <= count:
        return values
    picks = np.linspace(0, len(values) - 1, count).round().astype(int)
    return [values[i] for i in picks]


def _settings(act: Activation) -> list[dict[sp.Symbol, float]]:
    """Parameter values the numeric checks use: init, then for each param the ends and two
    inside points of its sampled range, and where its admissible range reaches further
    (an unbounded positive or real param), two values out there."""
    init = {p: p.init for p in act.params}
    out = [init]
    for p in act.params:
        lo, hi = p.sample_range()
        extra: list[float] = []
        a_lo, a_hi = p.admissible_range()
        scale = max(1.0, abs(p.init))
        if a_hi > hi:
            extra.append(hi + 8 * scale)
        if a_lo < lo:
            extra.append(lo - 8 * scale if not math.isfinite(a_lo) else (a_lo + lo) / 8)
        for v in (lo, hi, lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3, *extra):
            out.append({**init, p: v})
    return out


def _at(values: dict[sp.Symbol, float]) -> str:
    """" at sigma=0.5, k=1" (empty without parameters): the setting a result holds at."""
    return (" at " + _assignments(values)) if values else ""


def _assignments(values: dict[sp.Symbol, float]) -> str:
    return ", ".join(f"{p.name}={v:.6g}" for p, v in values.items())


def _bounds_text(p: Param) -> str:
    lo, hi = p.admissible_range()
    return f" in its bounds [{lo:g}, {hi:g}]" if p.bounds is not None else ""


def _set_text(p: Param, region: sp.Set, full: sp.Set) -> str:
    """A readable condition on p: "when sigma > 1", "for every value of sigma", ...
    ``full`` is the range p is judged over."""
    name = p.name
    if region == sp.EmptySet:
        return f"for no value of {name}{_bounds_text(p) if full == _range_set(p) else ''}"
    if region == full:
        return f"for every value of {name}{_bounds_text(p) if full == _range_set(p) else ''}"
    rest = full - region
    if isinstance(rest, sp.FiniteSet):
        bounds = _bounds_text(p) if full == _range_set(p) else ""
        return f"for every value of {name}{bounds} except {' and '.join(f'{name} = {_short(v)}' for v in rest)}"
    if isinstance(region, sp.FiniteSet):
        return "when " + " or ".join(f"{name} = {_short(v)}" for v in region)
    parts = region.args if isinstance(region, sp.Union) else (region,)
    if not all(isinstance(part, (sp.Interval, sp.FiniteSet)) for part in parts):
        return f"when {name} is in {region}"
    return "when " + " or ".join(_interval_text(name, part, full) for part in parts)


def _interval_text(name: str, part: sp.Set, full: sp.Set) -> str:
    if isinstance(part, sp.FiniteSet):
        return " or ".join(f"{name} = {_short(v)}" for v in part)
    assert isinstance(part, sp.Interval)
    low = part.start != full.inf or bool(part.start.is_finite and part.left_open and part.start in full)
    high = part.end != full.sup or bool(part.end.is_finite and part.right_open and part.end in full)
    lt_lo = "<" if part.left_open else "≤"
    lt_hi = "<" if part.right_open else "≤"
    if low and high:
        return f"{_short(part.start)} {lt_lo} {name} {lt_hi} {_short(part.end)}"
    if low:
        return f"{name} {'>' if part.left_open else '≥'} {_short(part.start)}"
    if high:
        return f"{name} {lt_hi} {_short(part.end)}"
    return f"{name} is in its range"


def _param_condition(
    cond: sp.Basic, act: Activation, budget: QuestionLimit, use_bounds: bool = True
) -> tuple[sp.Basic, str]:
    """``cond`` (in the params only) solved over the param's admissible range when there
    is one param; otherwise simplified. Returns (set-or-condition, readable text)."""
    params = sorted(cond.free_symbols, key=lambda s: s.name)
    if not params:
        return cond, "always" if cond == sp.true else "never"
    if len(params) == 1 and isinstance(params[0], Param):
        p = params[0]
        full = _range_set(p, use_bounds)
        region = budget.run(lambda: sp.solveset(cond, p, full))
        if isinstance(region, sp.Set) and not isinstance(region, sp.ConditionSet):
            return region, _set_text(p, region, full)
    simplified = budget.run(lambda: sp.simplify(cond))
    shown = simplified if simplified is not None else cond
    return shown, f"when {_text(shown)}"


def _short(value: Any) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{f:g}"


def _real_roots(expr: sp.Expr, budget: QuestionLimit) -> list[sp.Expr]:
    """Real roots in x of expr = 0 (symbolic in the params), or [] if SymPy cannot say.
    A root SymPy states with a condition (``Abs(x) = t`` gives ``-t`` where ``t > 0``)
    counts as its value."""
    roots = budget.run(lambda: sp.solve(expr, x))
    if not roots:
        return []
    found = []
    for r in roots:
        if isinstance(r, sp.Piecewise):
            r = next((e for e, c in r.args if c != sp.false and e.is_real is not False and e is not sp.nan), None)
            if r is None:
                continue
        if r.is_real is not False and not r.has(sp.I):
            found.append(r)
    return found


def _evaluate(fn: Callable[..., Any], at: float, values: dict[sp.Symbol, float], params: Sequence[Param]) -> Any:
    return reference(fn, [at, *(values[p] for p in params)])


def _leading(expr: sp.Expr, point: sp.Expr, side: int, budget: QuestionLimit) -> tuple[sp.Expr, sp.Expr, int] | None:
    """``derive.leading_order`` within the question's time limit."""
    return budget.run(partial(leading_order, expr, point, side))


# ------------------------------------------------------------------ the audit proper


class _Auditor:
    def __init__(self, act: Activation, derivation: Derivation, budget: float):
        self.act = act
        self.derivation = derivation
        self.budget = QuestionLimit(budget)
        self.params = list(act.params)
        self.symbols = (x, *self.params)
        self.settings = _settings(act)
        self._solved_for: Param | None = None  # the param of the condition being judged
        self.report = ActivationReport(
            name=act.name,
            params=[
                {
                    "name": p.name,
                    "init": p.init,
                    "positive": p.positive,
                    "trainable": p.trainable,
                    "bounds": list(p.bounds) if p.bounds else None,
                    "doc": p.doc,
                }
                for p in act.params
            ],
            formulas={
                q.name: {
                    "text": _text(q.exact),
                    "unicode": sp.pretty(q.exact, use_unicode=True, wrap_line=False),
                    "latex": sp.latex(q.exact),
                    "kind": q.kind,
                }
                for q in derivation.quantities
            },
        )

    # -- singularities --------------------------------------------------------

    def _candidates(self, expr: sp.Expr) -> list[tuple[sp.Expr, str]]:
        found: list[tuple[sp.Expr, str]] = []
        for node in sp.preorder_traversal(expr):
            if isinstance(node, sp.Pow) and node.exp.is_negative:
                found += [(r, "pole") for r in _real_roots(node.base, self.budget)]
            elif isinstance(node, sp.Pow) and not node.exp.is_Integer:
                found += [(r, "domain edge") for r in _real_roots(node.base, self.budget)]
            elif isinstance(node, sp.log):
                found += [(r, "log of 0") for r in _real_roots(node.args[0], self.budget)]
            elif isinstance(node, (sp.tan, sp.sec)):
                self.report.undecided.append(f"poles of {node} are periodic; not listed")
        unique: dict[str, tuple[sp.Expr, str]] = {}
        for r, kind in found:
            unique.setdefault(sp.sstr(r), (r, kind))
        return list(unique.values())

    def _side_active(self, active: sp.Basic, point: sp.Expr, values: dict[sp.Symbol, float], side: int) -> bool:
        """Whether the branch is the one evaluated just beside ``point`` on ``side``."""
        try:
            at = float(point.subs(values))
        except (TypeError, ValueError):
            return False
        near = at + side * 1e-9 * max(1.0, abs(at))
        held = active if active in (sp.true, sp.false) else active.subs({x: near, **values})
        return bool(held == sp.true)

    def _unbounded_near(self, expr: sp.Expr, point: sp.Expr, values: dict[sp.Symbol, float], side: int) -> bool:
        """Numeric evidence: ``expr`` is non-finite, or grows past 1e8, as x approaches
        ``point`` from ``side``."""
        fn = mp_function(expr, self.symbols)
        at = float(point.subs(values))
        biggest = 0.0
        for k in (4, 8, 12):
            v = _evaluate(fn, at + side * 10.0**-k * max(1.0, abs(at)), values, self.params)
            if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                return True
            biggest = max(biggest, float(abs(v)) if abs(v) < 1e300 else math.inf)
        return biggest > 1e8

    def _samples_in(self, region: Any) -> list[dict[sp.Symbol, float]]:
        """Parameter settings inside ``region``: a set of values of ``self._solved_for``,
        or a condition on several params."""
        if region == sp.EmptySet or region == sp.false:
            return []
        if not self.params:
            return [{}]
        p = self._solved_for
        if region == sp.true or (isinstance(region, sp.Set) and p is None):
            return self.settings[:3]
        if isinstance(region, sp.Set) and p is not None:
            init = {q: q.init for q in self.params}
            return [{**init, p: v} for v in _values_in(region, p)]
        return [v for v in self.settings if region.subs(v) == sp.true][:3]

    def singularities(self) -> None:
        for q in self.derivation.quantities:
            pieces = _pieces(q)
            reported: set[str] = set()
            for i, (_, expr) in enumerate(pieces):
                active = _active(pieces, i)
                groups: dict[tuple[str, str, str], list[tuple[sp.Expr, _Verdict]]] = {}
                for point, kind in self._candidates(expr):
                    verdict = self._judge_singularity(q, pieces, i, active, expr, point, kind)
                    if verdict.state == "unbounded" and sp.sstr(point) in reported:
                        continue  # the same point, approached from another branch
                    if verdict.state in ("unbounded", "excluded"):
                        if verdict.state == "unbounded":
                            reported.add(sp.sstr(point))
                        groups.setdefault((kind, verdict.state, verdict.condition), []).append((point, verdict))
                for (kind, state, condition), found in groups.items():
                    self._singularity_finding(q, pieces, i, kind, state, condition, found)
        self._scan_singularities()

    def _singularity_finding(self, q, pieces, i, kind, state, condition, found) -> None:
        points = ", ".join(_text(p) for p, _ in found)
        branch = "" if len(pieces) == 1 else f" inside the branch {_text(_active(pieces, i))}"
        plural = "s" if len(found) > 1 else ""
        where = {"quantity": q.name, "x": [_text(p) for p, _ in found], "condition": condition}
        edge = " (approached from inside the branch)" if found[0][1].edge else ""
        head = f"{q.name}: {kind}{plural} at x = {points}{branch}{edge}"
        if state == "excluded":
            p = found[0][1].param
            assert p is not None
            lo, hi = p.admissible_range()
            self.report.add(
                "singularity-outside-bounds",
                f"{head}: {q.name} would be unbounded there {condition}, a case the bounds "
                f"[{lo:g}, {hi:g}] of {p.name} exclude (without them it is an error)",
                where,
                found[0][1].method,
            )
            return
        verdict = found[0][1]
        goes = f" ({q.name} -> {verdict.direction})" if verdict.direction else ""
        when = ""
        if self.params and condition not in ("always", "") and not condition.startswith("at the edge"):
            when = f"; active {condition}" + (f" (e.g. {_assignments(verdict.example)})" if verdict.example else "")
        self.report.add("singularity", f"{head}: {q.name} is unbounded there{goes}{when}", where, verdict.method)

    def _judge_singularity(self, q, pieces, i, active, expr, point, kind) -> _Verdict:
        """Whether ``expr`` (branch i of q) is unbounded at ``point`` for some admissible
        parameter value where the branch is evaluated there; records the point."""
        inside = sp.sympify(active if active in (sp.true, sp.false) else active.subs(x, point))
        region, where_text = _param_condition(inside, self.act, self.budget)
        self._solved_for = self._single_param(inside)
        if region in (sp.true, sp.false) and self._solved_for is not None and len(self.params) == 1:
            full = _range_set(self._solved_for)
            region = full if region == sp.true else sp.EmptySet
            where_text = _set_text(self._solved_for, region, full)
        samples = self._samples_in(region)
        edge = False
        if not samples:  # maybe the edge of the branch: evaluated on one side of the point
            samples = [v for v in self.settings if any(self._side_active(active, point, v, s) for s in (-1, 1))]
            edge = bool(samples)
            if edge:
                p = self._solved_for
                region = _range_set(p) if p is not None else sp.true
                where_text = "at the edge of the branch, approached from inside"

        verdict = _Verdict("inactive", where_text, method="sympy.solve/solveset")
        if samples:
            verdict = dataclasses.replace(self._classify(expr, point, active, region, samples, where_text, edge), edge=edge)
            if verdict.state == "bounded" and region != sp.true and self._solved_for is not None:
                verdict = self._outside_bounds(expr, point, active, inside) or verdict
        elif self._solved_for is not None and self._solved_for.bounds is not None:
            verdict = self._outside_bounds(expr, point, active, inside) or verdict
        self.report.singularities.append(
            {
                "quantity": q.name,
                "x": _text(point),
                "kind": kind,
                "branch": _text(active),
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

    def _single_param(self, cond: sp.Basic) -> Param | None:
        free = [p for p in self.params if p in cond.free_symbols]
        if len(free) == 1:
            return free[0]
        return self.params[0] if len(self.params) == 1 else None

    def _classify(self, expr, point, active, region, samples, where_text, edge) -> _Verdict:
        """Unbounded, removable (a finite limit) or bounded, with the parameter condition."""
        sides = [s for s in (-1, 1) if any(self._side_active(active, point, v, s) for v in samples)]
        if not sides:
            sides = [-1, 1]
        leads = {s: _leading(expr, point, s, self.budget) for s in sides}
        p = self._solved_for
        symbolic = all(lead is not None for lead in leads.values()) and (
            not self.params or (p is not None and isinstance(region, sp.Set) and len(self.params) == 1)
            or all(not lead[1].free_symbols for lead in leads.values() if lead is not None)
        )
        if symbolic:
            blowup: sp.Basic = sp.false if isinstance(region, sp.Basic) and not isinstance(region, sp.Set) else sp.EmptySet
            growing = []
            for s, lead in leads.items():
                assert lead is not None
                _, a, k = lead
                cond = sp.Lt(a, 0) if k <= 0 else sp.Le(a, 0)
                if not a.free_symbols:
                    grows = bool(cond)
                    if grows:
                        growing.append(s)
                        blowup = region if isinstance(region, sp.Set) else sp.true
                    continue
                assert p is not None
                part = self.budget.run(partial(sp.solveset, cond, p, _range_set(p)))
                if not isinstance(part, sp.Set) or isinstance(part, sp.ConditionSet):
                    symbolic = False
                    break
                if part != sp.EmptySet:
                    growing.append(s)
                blowup = sp.Union(blowup, part) if isinstance(blowup, sp.Set) else part
            if symbolic:
                if isinstance(region, sp.Set) and isinstance(blowup, sp.Set):
                    final = sp.Intersection(region, blowup)
                    unbounded = final != sp.EmptySet
                    if p is not None:
                        text = _set_text(p, final, _range_set(p))
                        example = [{**samples[0], p: v} for v in _values_in(final, p, 1)] if unbounded else []
                    else:
                        text, example = where_text, []
                else:
                    unbounded = blowup == sp.true or blowup == region
                    text, example = where_text, ([samples[0]] if unbounded else [])
                if unbounded:
                    return _Verdict("unbounded", text, example[0] if example else {}, p,
                                    direction=self._direction(leads, growing), method="sympy leading term")
                return _Verdict("bounded", where_text, {}, p, limit=self._limit(leads, region), method="sympy leading term")
        unbounded_at = [v for v in samples if any(self._unbounded_near(expr, point, v, s) for s in sides)]
        method = "sympy.solve/solveset + mpmath approach"
        if not unbounded_at:
            return _Verdict("bounded", where_text, {}, p, method=method)
        text = where_text
        if len(unbounded_at) < len(samples) and p is not None:
            shown = ", ".join(f"{v[p]:.6g}" for v in unbounded_at)
            text = f"{where_text} (unbounded at {p.name} = {shown} of those tried)"
        return _Verdict("unbounded", text, unbounded_at[0] if self.params else {}, p, method=method)

    @staticmethod
    def _direction(leads, growing) -> str:
        signs = set()
        for s in growing:
            c, _, k = leads[s]
            if not c.is_number or c.is_real is False:
                return ""
            signs.add(int(sp.sign(c)) * (-1) ** (k % 2))
        return {frozenset({1}): "oo", frozenset({-1}): "-oo"}.get(frozenset(signs), "±oo")

    def _limit(self, leads, region) -> str | None:
        """The limit at the point when every side has the same finite one (for every
        parameter value in ``region``)."""
        values = set()
        p = self._solved_for
        for lead in leads.values():
            c, a, k = lead
            if a.free_symbols:
                positive = self.budget.run(partial(sp.solveset, a > 0, p, region)) if p is not None else None
                if not isinstance(region, sp.Set) or positive != region:
                    return None
                values.add(sp.S.Zero)
                continue
            values.add(sp.S.Zero if a > 0 or k < 0 else c)
        return _text(values.pop()) if len(values) == 1 else None

    def _outside_bounds(self, expr, point, active, inside) -> _Verdict | None:
        """When the bounds alone keep the point away: the verdict over (0, oo) or the real
        line, as an "excluded" verdict, or None."""
        p = self._solved_for
        if p is None or p.bounds is None or len(self.params) != 1:
            return None
        full = _range_set(p, use_bounds=False)
        region = self.budget.run(lambda: sp.solveset(inside, p, full)) if inside not in (sp.true, sp.false) else (
            full if inside == sp.true else sp.EmptySet)
        if not isinstance(region, sp.Set) or isinstance(region, sp.ConditionSet) or region == sp.EmptySet:
            return None
        sides = [-1, 1]
        leads = {s: _leading(expr, point, s, self.budget) for s in sides}
        blowup: sp.Set = sp.EmptySet
        for lead in leads.values():
            if lead is None:
                values = _values_in(region, p, 3, use_bounds=False)
                if any(self._unbounded_near(expr, point, {p: v}, s) for v in values for s in sides):
                    blowup = full
                continue
            _, a, k = lead
            cond = sp.Lt(a, 0) if k <= 0 else sp.Le(a, 0)
            part = full if (not a.free_symbols and bool(cond)) else (
                self.budget.run(partial(sp.solveset, cond, p, full)) if a.free_symbols else sp.EmptySet)
            if isinstance(part, sp.Set) and not isinstance(part, sp.ConditionSet):
                blowup = sp.Union(blowup, part)
        final = sp.Intersection(region, blowup)
        if final == sp.EmptySet:
            return None
        return _Verdict("excluded", _set_text(p, final, full), {}, p, method="sympy.solveset over the unbounded range")

    def _scan_singularities(self) -> None:
        """Float64 scan of the domain: non-finite values, or isolated spikes past 1e12,
        that SymPy did not name (skipping the points where a finite limit was found)."""
        lo, hi = self.act.domain
        xs = np.linspace(lo, hi, _SCAN_POINTS)
        named = {(s["quantity"]) for s in self.report.singularities if s["unbounded"]}
        removable = [s for s in self.report.singularities if s["behaviour"] == "removable"]
        for q in self.derivation.quantities:
            if q.name in named:
                continue
            fn = np_function(q.printed, self.symbols)
            for values in self.settings:
                ys = _evaluate_grid(fn, xs, [values[p] for p in self.params])
                if ys is None:
                    self.budget.gave_up.append(f"{q.name}: not scanned numerically (NumPy cannot evaluate it)")
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
                    self.report.singularities.append(
                        {"quantity": q.name, "x": _num(at), "kind": "numeric", "branch": "",
                         "active": _assignments(values), "unbounded": True, "behaviour": "unbounded",
                         "condition": None, "limit": None, "method": "float64 scan"}
                    )
                    self.report.add(
                        "singularity",
                        f"{q.name}: unbounded or undefined near x = {at:.6g}{_at(values)}",
                        {"quantity": q.name, "x": _num(at)},
                        "float64 scan",
                    )
                    break

    # -- boundaries -----------------------------------------------------------

    def boundaries(self) -> None:
        pieces = _pieces(self.derivation.forward)
        if len(pieces) < 2:
            return
        points: dict[str, sp.Expr] = {}
        for cond, _ in pieces:
            for rel in cond.atoms(sp.core.relational.Relational):
                for r in _real_roots(rel.lhs - rel.rhs, self.budget):
                    points.setdefault(sp.sstr(r), r)
        for point in points.values():
            self._judge_boundary(pieces, point)

    def _branch_at(self, pieces, at: float, values: dict[sp.Symbol, float]) -> int | None:
        for i, (cond, _) in enumerate(pieces):
            held = cond if cond in (sp.true, sp.false) else cond.subs({x: at, **values})
            if held == sp.true:
                return i
        return None

    def _one_sided(self, expr: sp.Expr, point: sp.Expr, direction: str) -> sp.Expr | None:
        value = self.budget.run(lambda: sp.limit(expr, x, point, direction))
        if value is None or value.has(sp.Limit, sp.nan, sp.AccumBounds):
            return None
        return sp.simplify(value) if value.free_symbols else value

    def _judge_boundary(self, pieces, point: sp.Expr) -> None:
        quantities = {q.name: _pieces(q) for q in self.derivation.quantities}
        d_x = quantities.get("d_x")
        sides: dict[tuple[int, int], list[dict[sp.Symbol, float]]] = {}
        for values in self.settings:
            b = float(point.subs(values))
            eps = 1e-9 * max(1.0, abs(b))
            left, right = self._branch_at(pieces, b - eps, values), self._branch_at(pieces, b + eps, values)
            if left is None or right is None or left == right:
                continue
            sides.setdefault((left, right), []).append(values)
        for (left, right), where in sides.items():
            self._compare_sides(pieces, d_x, point, left, right, where)

    def _where_zero(self, gap: sp.Expr, left_expr: sp.Expr, right_expr: sp.Expr, point: sp.Expr) -> tuple[str, str]:
        """Where a jump (or a slope gap) ``gap`` between two one-sided limits is nonzero and
        where it closes, as texts: ("for every value of sigma except sigma = 1", "when sigma = 1").
        A param value where ``gap`` is undefined closes it when the one-sided limits,
        taken at that value, agree. Without params: ("", "")."""
        if not gap.free_symbols:
            return "", ""
        free = [p for p in self.params if p in gap.free_symbols]
        if len(free) != 1 or gap.free_symbols - set(free):
            _, closes = _param_condition(sp.Eq(gap, 0), self.act, self.budget)
            return "", closes
        p = free[0]
        full = _range_set(p)
        zero = self.budget.run(lambda: sp.solveset(sp.Eq(gap, 0), p, full))
        if not isinstance(zero, sp.Set) or isinstance(zero, sp.ConditionSet):
            _, closes = _param_condition(sp.Eq(gap, 0), self.act, self.budget)
            return "", closes
        defined = self.budget.run(lambda: continuous_domain(gap, p, full))
        undefined = full - defined if isinstance(defined, sp.Set) else sp.EmptySet
        if isinstance(undefined, sp.FiniteSet):
            for v in undefined:
                at = point.subs(p, v)
                lhs = self.budget.run(partial(sp.limit, left_expr.subs(p, v), x, at, "-"))
                rhs = self.budget.run(partial(sp.limit, right_expr.subs(p, v), x, at, "+"))
                if lhs is not None and rhs is not None and lhs.is_finite and sp.simplify(lhs - rhs) == 0:
                    zero = sp.Union(zero, sp.FiniteSet(v))
        nonzero = full - zero
        if zero == sp.EmptySet:
            return _set_text(p, full, full), _set_text(p, zero, full)
        return _set_text(p, nonzero, full), _set_text(p, zero, full)

    def _compare_sides(self, pieces, d_x, point, left, right, where) -> None:
        f_left = self._one_sided(pieces[left][1], point, "-")
        f_right = self._one_sided(pieces[right][1], point, "+")
        at = where[0]
        loc = {"x": _text(point), "at": _assignments(at)}
        if f_left is None or f_right is None:
            self.report.undecided.append(f"continuity at x = {_text(point)}: SymPy's limits did not finish")
            return
        jump = sp.simplify(f_left - f_right)
        if jump != 0:
            numeric = [float(sp.N(jump.subs(v))) for v in where if sp.N(jump.subs(v)).is_finite]
            if numeric and all(abs(v) < 1e-300 for v in numeric):
                jump = sp.S.Zero
        if jump != 0:
            jumps, closes = self._where_zero(jump, pieces[left][1], pieces[right][1], point)
            when = ""
            if jumps:
                when = f", {jumps}"
                if " except " in jumps:
                    when += ", where it is continuous"
                elif closes and not closes.startswith("for no "):
                    when += f" (continuous {closes})"
            elif closes:
                when = f" (continuous only {closes})"
            self.report.add(
                "discontinuity",
                f"f jumps at x = {_text(point)}: {_text(f_left)} on the left, {_text(f_right)} on the right"
                f"{when}; the gradient there is meaningless",
                {**loc, "left": _text(f_left), "right": _text(f_right)},
                "sympy.limit",
            )
            return
        if d_x is None:
            return
        # d_x has pieces of its own: SymPy merges neighbouring branches whose derivatives agree
        # (hard sigmoid's 0 below -3 and 0 above 3), so f's branch numbers do not index them.
        b = float(point.subs(at))
        eps = 1e-9 * max(1.0, abs(b))
        d_left, d_right = self._branch_at(d_x, b - eps, at), self._branch_at(d_x, b + eps, at)
        if d_left is None or d_right is None:
            self.report.undecided.append(f"differentiability at x = {_text(point)}: no branch of df/dx holds beside it")
            return
        g_left = self._one_sided(d_x[d_left][1], point, "-")
        g_right = self._one_sided(d_x[d_right][1], point, "+")
        if g_left is None or g_right is None:
            self.report.undecided.append(f"differentiability at x = {_text(point)}: SymPy's limits did not finish")
            return
        if g_left.has(sp.oo, -sp.oo, sp.zoo) or g_right.has(sp.oo, -sp.oo, sp.zoo):
            return  # an infinite slope: a singularity of d_x, reported as one
        gap = sp.simplify(g_left - g_right)
        if gap != 0:
            kinked, smooth = self._where_zero(gap, d_x[d_left][1], d_x[d_right][1], point)
            when = ""
            if smooth and not smooth.startswith("for no "):
                when = f" (smooth only {smooth})"
            elif kinked:
                when = f", {kinked}"
            self.report.add(
                "kink",
                f"f is continuous but not differentiable at x = {_text(point)}: slope {_text(g_left)} on the "
                f"left, {_text(g_right)} on the right{when}; the gradient there is the "
                f"{'left' if self._branch_at(pieces, float(point.subs(at)), at) == left else 'right'} one",
                {**loc, "left": _text(g_left), "right": _text(g_right)},
                "sympy.limit",
            )

    # -- asymptotes and range -------------------------------------------------

    def _at_infinity(self, sign: int) -> sp.Expr | None:
        pieces = _pieces(self.derivation.forward)
        init = {p: p.init for p in self.params}
        i = self._branch_at(pieces, sign * 1e6, init)
        if i is None:
            return None
        return pieces[i][1]

    def _asymptote(self, kind: str, label: str, y: sp.Expr) -> None:
        self.ends[label] = (kind, y)
        self.report.asymptotes.append({"kind": kind, "x": label, "y": _text(y), "method": "sympy.limit"})

    def asymptotes(self) -> None:
        self.ends: dict[str, tuple[str, sp.Expr]] = {}
        for sign, label in ((1, "+oo"), (-1, "-oo")):
            expr = self._at_infinity(sign)
            if expr is None:
                continue
            target = sp.oo if sign > 0 else -sp.oo
            limit = self.budget.run(partial(sp.limit, expr, x, target))
            if _undecided(limit) and self.params:  # e.g. depends on the sign of a param
                expr = expr.subs({p: sp.nsimplify(p.init) for p in self.params})
                label_note = _at({p: p.init for p in self.params})
                self.report.undecided.append(f"the limit of f as x -> {label} depends on the parameters; given{label_note}")
                limit = self.budget.run(partial(sp.limit, expr, x, target))
            if limit is None or _undecided(limit):
                self.report.undecided.append(f"the limit of f as x -> {label}")
                continue
            if limit.is_finite:
                self._asymptote("horizontal", label, limit)
                continue
            slope = self.budget.run(partial(sp.limit, expr / x, x, target))
            if slope is not None and not _undecided(slope) and slope.is_finite and slope != 0:
                offset = self.budget.run(partial(sp.limit, expr - slope * x, x, target))
                if offset is not None and not _undecided(offset) and offset.is_finite:
                    self._asymptote("oblique", label, sp.expand(slope * x + offset))
                    continue
            if limit in (sp.oo, -sp.oo):
                self._asymptote("none", label, limit)
            else:
                self.report.undecided.append(f"the behaviour of f as x -> {label}")
        for s in self.report.singularities:
            if s["quantity"] == "f" and s["unbounded"] and s["kind"] == "pole":
                self.report.asymptotes.append(
                    {"kind": "vertical", "x": s["x"], "y": "±oo", "active": s["active"], "method": s["method"]}
                )

    def value_range(self) -> None:
        """The range of f over all real x at the params' init, from a dense scan and the limits."""
        init = {p: p.init for p in self.params}
        fn = np_function(self.derivation.forward.printed, self.symbols)
        xs = np.concatenate([-np.logspace(3, -6, 2000), [0.0], np.logspace(-6, 3, 2000), np.linspace(*self.act.domain, 4001)])
        ys = _evaluate_grid(fn, xs, [init[p] for p in self.params])
        if ys is None:
            self.report.undecided.append("the range of f (NumPy cannot evaluate it)")
            return
        near = ys[np.isfinite(ys) & (np.abs(xs) <= 10)]
        finite = np.isfinite(ys)
        if not finite.any():
            self.report.undecided.append("the range of f")
            return
        args = [init[p] for p in self.params]
        refined_low = _refine_extreme(fn, xs[finite], ys[finite], args, lowest=True)
        refined_high = _refine_extreme(fn, xs[finite], ys[finite], args, lowest=False)
        ys = np.append(ys[finite], [refined_low, refined_high])
        low, high = float(ys.min()), float(ys.max())
        low_open = high_open = False
        low_text, high_text = f"{low:.6g}", f"{high:.6g}"
        for label, (kind, y) in self.ends.items():
            sign = 1 if label == "+oo" else -1
            if kind != "horizontal":
                slope = y.coeff(x) if kind == "oblique" else y
                direction = np.sign(float(sp.sympify(slope).subs(init))) * (sign if kind == "oblique" else 1)
                if direction > 0:
                    high_text, high_open = "oo", True
                elif direction < 0:
                    low_text, low_open = "-oo", True
                continue
            value_expr = y.subs(init)
            if value_expr.free_symbols:
                continue
            value = float(value_expr)
            if value <= low + 1e-12 * max(1.0, abs(low)):
                low_text, low_open = _value_text(value_expr), not self._attained(value_expr, init, near, below=False)
            if value >= high - 1e-12 * max(1.0, abs(high)):
                high_text, high_open = _value_text(value_expr), not self._attained(value_expr, init, near, below=True)
        poles = [s for s in self.report.singularities if s["quantity"] == "f" and s["unbounded"]]
        if poles:  # a pole of f that is active: the scan only saw its foothills
            if high > 1e5:
                high_text, high_open = "oo", True
            if low < -1e5:
                low_text, low_open = "-oo", True
        text = f"{'(' if low_open else '['}{low_text}, {high_text}{')' if high_open else ']'}"
        bounded = "oo" not in low_text and "oo" not in high_text
        self.report.range = {
            "text": text,
            "low": low_text,
            "high": high_text,
            "bounded": bounded,
            "at": _assignments(init) or "no parameters",
            "method": "float64 scan of [-1e3, 1e3] and sympy limits at ±oo",
        }
        if bounded:
            self.report.add(
                "bounded-range",
                f"f takes values in {text}{_at(init)}: "
                f"unfit as the output of an unbounded regression target",
                {"range": text},
                "float64 scan + sympy.limit",
            )

    def _attained(self, value: sp.Expr, init: dict[sp.Symbol, float], near: np.ndarray, below: bool) -> bool:
        """Whether f equals the limit ``value`` at some finite x (then the range end is closed)."""
        pieces = _pieces(self.derivation.forward)
        for i, (_, e) in enumerate(pieces):
            active = _active(pieces, i)
            g = sp.simplify(e.subs(init) - value)
            if g == 0:
                if self._branch_occurs(active, init):
                    return True
                continue
            roots = _real_roots(g, self.budget)
            if roots is None:
                return bool(np.any(near >= value) if below else np.any(near <= value))
            for r in roots:
                held = active if active in (sp.true, sp.false) else active.subs({x: r, **init})
                if held == sp.true:
                    return True
        return False

    def _branch_occurs(self, active: sp.Basic, init: dict[sp.Symbol, float]) -> bool:
        xs = np.linspace(-1e3, 1e3, 2001)
        if active in (sp.true, sp.false):
            return active == sp.true
        return any(active.subs({x: float(v), **init}) == sp.true for v in xs[::50])

    # -- gradients ------------------------------------------------------------

    def gradients(self) -> None:
        f = self.act.expr
        in_value = set().union(*(e.free_symbols for _, e in _pieces(self.derivation.forward)))
        for p in self.act.trainable_params:
            if p not in f.free_symbols:
                self.report.add(
                    "unused-parameter",
                    f"trainable parameter {p.name} does not appear in f: it never receives a gradient "
                    f"(TensorFlow: 'Gradients do not exist for variables')",
                    {"param": p.name},
                    "sympy",
                )
        surrogate = self.act.surrogate or {}
        for q in self.derivation.gradients:
            var = q.wrt
            if q.kind == "surrogate":
                self.report.add(
                    "surrogate",
                    f"the gradient w.r.t. {var} is a declared surrogate, {_text(q.exact)}, not the true "
                    f"derivative {_text(self._true_derivative(var))}",
                    {"wrt": str(var)},
                    "definition",
                )
                continue
            if var in surrogate or (isinstance(var, Param) and var not in f.free_symbols):
                continue
            if all(self.budget.run(partial(_is_zero, e)) for _, e in _pieces(q)):
                why = ""
                if isinstance(var, Param) and var not in in_value:
                    why = (f": {var.name} only moves a branch boundary, and conditions have no gradient "
                           f"(a learned threshold in a comparison gets no gradient)")
                elif var == x:
                    why = ": f is piecewise constant (round, floor, sign, a step); declare a surrogate"
                self.report.add(
                    "dead-gradient",
                    f"the derivative w.r.t. {var} is zero almost everywhere{why}",
                    {"wrt": str(var)},
                    "sympy.simplify",
                )

    def _true_derivative(self, var: sp.Symbol) -> sp.Expr:
        pieces = _pieces(self.derivation.forward)
        ds = [(diff_ae(e, var), c) for c, e in pieces]
        return ds[0][0] if len(ds) == 1 else sp.Piecewise(*ds)

    def saturation(self) -> None:
        d_x = next(q for q in self.derivation.gradients if q.wrt == x)
        init = {p: p.init for p in self.params}
        fn = np_function(d_x.printed, self.symbols)
        xs = np.linspace(-_SCAN_HALF_WIDTH, _SCAN_HALF_WIDTH, 40001)
        ds = _evaluate_grid(fn, xs, [init[p] for p in self.params])
        if ds is None:
            self.report.undecided.append("saturation (NumPy cannot evaluate df/dx)")
            return
        small = np.abs(ds) < SATURATION
        if not small.any() or small.all():
            return
        edges = np.flatnonzero(np.diff(small.astype(np.int8)))
        starts = [0, *(edges + 1)]
        ends = [*(edges + 1), len(xs)]
        for s, e in zip(starts, ends):
            if not small[s] or e - s < 3:  # a zero of the derivative, not a region
                continue
            lo = "-oo" if s == 0 else f"{xs[s]:.4g}"
            hi = "oo" if e == len(xs) else f"{xs[e - 1]:.4g}"
            self.report.add(
                "saturation",
                f"|df/dx| < {SATURATION:g} for x in ({lo}, {hi}){_at(init)}: "
                f"inputs there get (almost) no gradient",
                {"interval": [lo, hi]},
                "float64 scan of [-100, 100]",
            )

    # -- float32 --------------------------------------------------------------

    def float32(self) -> None:
        xs = [s * m for m in (1.0, 10.0, 20.0, 50.0, 88.5, 100.0, 1e3, 1e4) for s in (1.0, -1.0)]
        for q in self.derivation.quantities:
            naive = np_function(q.exact, self.symbols)
            stable = np_function(q.printed, self.symbols)
            exact = mp_function(q.exact, self.symbols)
            printed_mp = mp_function(q.identity, self.symbols)
            for values in self.settings[:3]:
                pvals = [np.float32(values[p]) for p in self.params]
                arr = np.asarray(xs, dtype=np.float32)
                got = _evaluate_grid(naive, arr, pvals)
                fixed = _evaluate_grid(stable, arr, pvals)
                if got is None or fixed is None:
                    self.report.undecided.append(f"float32 behaviour of {q.name} (NumPy cannot evaluate it)")
                    break
                for xv, g, fx in zip(xs, got, fixed):
                    ref = cross_reference(exact, printed_mp, [float(np.float32(xv)), *map(float, pvals)])
                    if ref is None or isinstance(ref, mpmath.mpc) or not mpmath.isfinite(ref):
                        continue
                    if abs(ref) > float(np.finfo(np.float32).max):
                        continue
                    broken = not np.isfinite(g) or (g == 0 and abs(ref) >= float(np.finfo(np.float32).tiny) * 2**23)
                    if not broken:
                        continue
                    ok = np.isfinite(fx) and abs(float(fx) - float(ref)) <= 1e-5 * abs(float(ref)) + 1e-38
                    self.report.add(
                        "float32-overflow",
                        f"{q.name}: the formula as written gives {g} in float32 at x = {xv:g}"
                        f"{', ' + _assignments(values) if values else ''} where the true value is "
                        f"{mpmath.nstr(ref, 8)}; the generated code {'gives ' + f'{float(fx):.8g}' if ok else 'does NOT fix it'}",
                        {"quantity": q.name, "x": xv, "fixed": bool(ok)},
                        "float32 evaluation vs mpmath",
                        severity="info" if ok else "",
                    )
                    break
                else:
                    continue
                break

    # -- user derivatives -----------------------------------------------------

    def user_derivatives(self) -> None:
        for var, given in (self.act.derivative or {}).items():
            true = self._true_derivative(var)
            pieces = [(c, e) for e, c in true.args] if isinstance(true, sp.Piecewise) else [(sp.true, true)]
            proven = all(
                self.budget.run(partial(_is_zero, given - e)) for _, e in pieces
            )
            if proven:
                self.report.user_derivatives[f"d_{var}"] = "proven equal symbolically"
                continue
            self.report.user_derivatives[f"d_{var}"] = self._numeric_derivative_check(var, given, true)

    def _numeric_derivative_check(self, var: sp.Symbol, given: sp.Expr, true: sp.Expr) -> str:
        rng = np.random.default_rng(0)
        lo, hi = self.act.domain
        xs = list(rng.uniform(lo, hi, 40)) + [lo, hi, 0.0, 1e-3, -1e-3, 30.0, -30.0]
        g_fn, t_fn = mp_function(given, self.symbols), mp_function(true, self.symbols)
        count = 0
        for values in self.settings:
            for xv in xs:
                point = [float(xv), *(values[p] for p in self.params)]
                t = reference(t_fn, point)
                if isinstance(t, mpmath.mpc) or not mpmath.isfinite(t):
                    continue
                g = reference(g_fn, point)
                count += 1
                if isinstance(g, mpmath.mpc) or not mpmath.isfinite(g) or abs(g - t) > 1e-20 * max(1, abs(t)):
                    where = {"x": float(xv), **{p.name: values[p] for p in self.params}}
                    self.report.add(
                        "derivative-mismatch",
                        f"derivative[{var}] = {_text(given)} is wrong: at {_assignments({x: float(xv), **values})} "
                        f"it gives {mpmath.nstr(g, 12)}, the true value is {mpmath.nstr(t, 12)}",
                        where,
                        "mpmath at 50 digits",
                    )
                    return "refuted"
        return f"equal at {count} points (mpmath, 50 digits); not proven symbolically"


def audit(act: Activation, derivation: Derivation | None = None, budget: float = STEP_BUDGET) -> ActivationReport:
    """Audit one activation."""
    start = time.perf_counter()
    derivation = derivation or derive(act)
    auditor = _Auditor(act, derivation, budget)
    for step in (
        auditor.gradients,
        auditor.singularities,
        auditor.boundaries,
        auditor.asymptotes,
        auditor.value_range,
        auditor.saturation,
        auditor.float32,
        auditor.user_derivatives,
    ):
        step()
    report = auditor.report
    report.undecided = list(dict.fromkeys(report.undecided + auditor.budget.gave_up))
    order = {s: i for i, s in enumerate(SEVERITY)}
    report.findings.sort(key=lambda f: order[f.severity])
    report.seconds = time.perf_counter() - start
    return report
