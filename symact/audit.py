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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .budget import QuestionLimit
from .derive import Derivation, Quantity, derive
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

    def add(self, code: str, message: str, where: dict[str, Any] | None = None, method: str = "") -> None:
        self.findings.append(Finding(code, CODES[code], message, where, method))

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
    """SymPy's string form, with long rationals (from Float constants) shown as decimals."""
    if isinstance(expr, sp.Basic):
        long = {r: sp.Float(r, 15) for r in expr.atoms(sp.Rational) if abs(r.q) > 10**6}
        expr = expr.xreplace(long)
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


def _only(condition: str) -> str:
    return "for no parameter value" if condition == "never" else condition


def _pieces(q: Quantity) -> list[tuple[sp.Basic, sp.Expr]]:
    if isinstance(q.exact, sp.Piecewise):
        return [(c, e) for e, c in q.exact.args]
    return [(sp.true, q.exact)]


def _active(pieces: Sequence[tuple[sp.Basic, sp.Expr]], i: int) -> sp.Basic:
    """The condition under which branch i is the one evaluated."""
    earlier = [sp.Not(c) for c, _ in pieces[:i]]
    return sp.And(pieces[i][0], *earlier)


def _settings(act: Activation) -> list[dict[sp.Symbol, float]]:
    """Parameter values the numeric checks use: init, range ends, and a few inside."""
    init = {p: p.init for p in act.params}
    out = [init]
    for p in act.params:
        lo, hi = p.sample_range()
        for v in (lo, hi, lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3):
            out.append({**init, p: v})
    return out


def _describe(values: dict[sp.Symbol, float]) -> str:
    return ", ".join(f"{p.name}={v:.6g}" for p, v in values.items()) or "there"


def _param_condition(cond: sp.Basic, act: Activation, budget: QuestionLimit) -> tuple[sp.Basic, str]:
    """``cond`` (in the params only) solved over each param's sample range when there is one
    param; otherwise simplified. Returns (set-or-condition, readable text)."""
    params = sorted(cond.free_symbols, key=lambda s: s.name)
    if not params:
        return cond, "always" if cond == sp.true else "never"
    if len(params) == 1 and isinstance(params[0], Param):
        p = params[0]
        lo, hi = p.sample_range()
        region = budget.run(lambda: sp.solveset(cond, p, sp.Interval(lo, hi)))
        if region is not None:
            return region, _region_text(p, region, (lo, hi))
    simplified = budget.run(lambda: sp.simplify(cond))
    return (simplified if simplified is not None else cond), _text(simplified if simplified is not None else cond)


def _region_text(p: Param, region: sp.Set, full: tuple[float, float]) -> str:
    if region == sp.EmptySet:
        return f"for no {p.name} in its range [{full[0]:g}, {full[1]:g}]"
    if isinstance(region, sp.Interval) and region.start == full[0] and region.end == full[1]:
        return f"for every {p.name} in its range [{full[0]:g}, {full[1]:g}]"
    if isinstance(region, sp.FiniteSet):
        return f"when {p.name} = " + " or ".join(_short(v) for v in region)
    if isinstance(region, sp.Interval):
        parts = []
        if region.start != full[0]:
            parts.append(f"{p.name} {'>' if region.left_open else '≥'} {_short(region.start)}")
        if region.end != full[1]:
            parts.append(f"{p.name} {'<' if region.right_open else '≤'} {_short(region.end)}")
        return "when " + " and ".join(parts)
    return f"when {p.name} ∈ {region}"


def _short(value: Any) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{f:g}"


def _sample_region(region: Any, p: Param, count: int = 3) -> list[float]:
    """A few values of p inside a solveset region."""
    lo, hi = p.sample_range()
    candidates = np.linspace(lo, hi, 41)
    if isinstance(region, sp.Set):
        inside = [float(v) for v in candidates if region.contains(sp.Float(v)) == sp.true]
    else:
        inside = list(map(float, candidates))
    if len(inside) <= count:
        return inside
    picks = np.linspace(0, len(inside) - 1, count).round().astype(int)
    return [inside[i] for i in picks]


def _real_roots(expr: sp.Expr, budget: QuestionLimit) -> list[sp.Expr]:
    """Real roots in x of expr = 0 (symbolic in the params), or [] if SymPy cannot say."""
    roots = budget.run(lambda: sp.solve(expr, x))
    if not roots:
        return []
    return [r for r in roots if r.is_real is not False and not r.has(sp.I)]


def _evaluate(fn: Callable[..., Any], at: float, values: dict[sp.Symbol, float], params: Sequence[Param]) -> Any:
    return reference(fn, [at, *(values[p] for p in params)])


# ------------------------------------------------------------------ the audit proper


class _Auditor:
    def __init__(self, act: Activation, derivation: Derivation, budget: float):
        self.act = act
        self.derivation = derivation
        self.budget = QuestionLimit(budget)
        self.params = list(act.params)
        self.symbols = (x, *self.params)
        self.settings = _settings(act)
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

    def _unbounded_near(self, expr: sp.Expr, point: sp.Expr, values: dict[sp.Symbol, float]) -> bool:
        fn = mp_function(expr, self.symbols)
        at = float(point.subs(values))
        biggest = 0.0
        for side in (-1, 1):
            for k in (4, 8, 12):
                v = _evaluate(fn, at + side * 10.0**-k * max(1.0, abs(at)), values, self.params)
                if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                    return True
                biggest = max(biggest, float(abs(v)) if abs(v) < 1e300 else math.inf)
        return biggest > 1e8

    def singularities(self) -> None:
        for q in self.derivation.quantities:
            pieces = _pieces(q)
            for i, (_, expr) in enumerate(pieces):
                active = _active(pieces, i)
                groups: dict[tuple[str, str], list[tuple[sp.Expr, dict[sp.Symbol, float]]]] = {}
                for point, kind in self._candidates(expr):
                    judged = self._judge_singularity(q, pieces, i, active, expr, point, kind)
                    if judged is not None:
                        groups.setdefault((kind, judged[0]), []).append((point, judged[1]))
                for (kind, condition), found in groups.items():
                    points = ", ".join(_text(p) for p, _ in found)
                    branch = "" if len(pieces) == 1 else f" inside the branch {_text(pieces[i][0])}"
                    plural = "s" if len(found) > 1 else ""
                    self.report.add(
                        "singularity",
                        f"{q.name}: {kind}{plural} at x = {points}{branch}, active there {condition} "
                        f"(unbounded at {_describe(found[0][1])})".replace("at there", "there"),
                        {"quantity": q.name, "x": [_text(p) for p, _ in found], "condition": condition},
                        "sympy.solve/solveset + mpmath",
                    )
        self._scan_singularities()

    def _judge_singularity(self, q, pieces, i, active, expr, point, kind) -> tuple[str, dict[sp.Symbol, float]] | None:
        """Record a candidate point; return (condition, a param setting) when it is a real,
        active singularity."""
        inside = active if active in (sp.true, sp.false) else active.subs(x, point)
        region, condition = _param_condition(sp.sympify(inside), self.act, self.budget)
        samples = self._samples_in(region)
        unbounded = [v for v in samples if self._unbounded_near(expr, point, v)]
        self.report.singularities.append(
            {
                "quantity": q.name,
                "x": _text(point),
                "kind": kind,
                "branch": _text(pieces[i][0]),
                "active": condition,
                "unbounded": bool(unbounded),
                "method": "sympy.solve/solveset, mpmath approach",
            }
        )
        if unbounded and region != sp.EmptySet and condition != "never":
            return condition, unbounded[0]
        edge = self._unbounded_from_inside(expr, active, point)
        if edge is not None:
            self.report.singularities[-1]["unbounded"] = True
            self.report.singularities[-1]["active"] = "at the edge of the branch, approached from inside"
            return "at the edge of the branch, approached from inside", edge
        return None

    def _unbounded_from_inside(self, expr, active, point) -> dict[sp.Symbol, float] | None:
        """A param setting where the branch is active on one side of ``point`` and ``expr``
        grows without bound as x approaches it from that side."""
        fn = mp_function(expr, self.symbols)
        for values in self.settings:
            try:
                at = float(point.subs(values))
            except TypeError:
                continue
            for side in (-1.0, 1.0):
                near = at + side * 1e-9 * max(1.0, abs(at))
                held = active if active in (sp.true, sp.false) else active.subs({x: near, **values})
                if held != sp.true:
                    continue
                sizes = []
                for k in (3, 6, 9, 12):
                    v = _evaluate(fn, at + side * 10.0**-k * max(1.0, abs(at)), values, self.params)
                    if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                        return values
                    sizes.append(abs(v))
                if sizes[-1] > 1e6 and all(b > a for a, b in zip(sizes, sizes[1:])):
                    return values
        return None

    def _samples_in(self, region: Any) -> list[dict[sp.Symbol, float]]:
        if region == sp.EmptySet or region == sp.false:
            return []
        if region == sp.true or not isinstance(region, sp.Set):
            return self.settings[:3]
        if not self.params:
            return self.settings[:1]
        init = {q: q.init for q in self.params}
        free = [s for s in self.params if s.name in {str(t) for t in region.free_symbols}]
        target = free[0] if free else self.params[0]
        return [{**init, target: v} for v in _sample_region(region, target)]

    def _scan_singularities(self) -> None:
        """Float64 scan of the domain: huge or non-finite values that SymPy did not name."""
        lo, hi = self.act.domain
        xs = np.linspace(lo, hi, _SCAN_POINTS)
        named = {(s["quantity"]) for s in self.report.singularities if s["unbounded"]}
        for q in self.derivation.quantities:
            if q.name in named:
                continue
            fn = np_function(q.printed, self.symbols)
            for values in self.settings:
                ys = _evaluate_grid(fn, xs, [values[p] for p in self.params])
                if ys is None:
                    self.budget.gave_up.append(f"{q.name}: not scanned numerically (NumPy cannot evaluate it)")
                    break
                bad = ~np.isfinite(ys) | (np.abs(ys) > 1e12)
                if bad.any():
                    at = float(xs[np.argmax(bad)])
                    self.report.singularities.append(
                        {"quantity": q.name, "x": _num(at), "kind": "numeric", "branch": "", "active": _describe(values),
                         "unbounded": True, "method": "float64 scan"}
                    )
                    self.report.add(
                        "singularity",
                        f"{q.name}: unbounded or undefined near x = {at:.6g} at {_describe(values)}",
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

    def _compare_sides(self, pieces, d_x, point, left, right, where) -> None:
        f_left = self._one_sided(pieces[left][1], point, "-")
        f_right = self._one_sided(pieces[right][1], point, "+")
        at = where[0]
        loc = {"x": _text(point), "at": _describe(at)}
        if f_left is None or f_right is None:
            self.report.undecided.append(f"continuity at x = {_text(point)}: SymPy's limits did not finish")
            return
        jump = sp.simplify(f_left - f_right)
        if jump != 0:
            numeric = [float(sp.N(jump.subs(v))) for v in where if sp.N(jump.subs(v)).is_finite]
            if numeric and all(abs(v) < 1e-300 for v in numeric):
                jump = sp.S.Zero
        if jump != 0:
            zero = _param_condition(sp.Eq(jump, 0), self.act, self.budget)[1] if jump.free_symbols else "never"
            self.report.add(
                "discontinuity",
                f"f jumps at x = {_text(point)}: {_text(f_left)} on the left, {_text(f_right)} on the right "
                f"(continuous only {_only(zero)}); the gradient there is meaningless",
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
        gap = sp.simplify(g_left - g_right)
        if gap != 0:
            smooth = _param_condition(sp.Eq(gap, 0), self.act, self.budget)[1] if gap.free_symbols else "never"
            self.report.add(
                "kink",
                f"f is continuous but not differentiable at x = {_text(point)}: slope {_text(g_left)} on the "
                f"left, {_text(g_right)} on the right (smooth only {_only(smooth)}); the gradient there is the "
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
                label_note = f" at {_describe({p: p.init for p in self.params})}"
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
            "at": _describe(init) if init else "no parameters",
            "method": "float64 scan of [-1e3, 1e3] and sympy limits at ±oo",
        }
        if bounded:
            self.report.add(
                "bounded-range",
                f"f takes values in {text}{' at ' + _describe(init) if init else ''}: "
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
                f"|df/dx| < {SATURATION:g} for x in ({lo}, {hi}){' at ' + _describe(init) if init else ''}: "
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
            printed_mp = mp_function(q.printed, self.symbols)
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
                        f"{', ' + _describe(values) if values else ''} where the true value is "
                        f"{mpmath.nstr(ref, 8)}; the generated code {'gives ' + f'{float(fx):.8g}' if ok else 'does NOT fix it'}",
                        {"quantity": q.name, "x": xv, "fixed": bool(ok)},
                        "float32 evaluation vs mpmath",
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
                        f"derivative[{var}] = {_text(given)} is wrong: at {_describe({x: float(xv), **values})} "
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
