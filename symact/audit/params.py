"""Parameters as the audit sees them: the range each can take in training, the values the
numeric checks try, and conditions on parameters solved and written out ("when sigma > 1")."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..budget import QuestionLimit
from ..spec import Activation, Param
from .formats import expr_text, short


def exact(value: float) -> sp.Expr:
    """A float bound as the rational it was written as (0.1 -> 1/10), for solveset."""
    return sp.Rational(repr(float(value)))


def limits(p: Param, use_bounds: bool = True) -> tuple[float, float]:
    """``Param.admissible_range``, or without ``use_bounds`` the range its sign allows."""
    if use_bounds:
        return p.admissible_range()
    return (0.0, math.inf) if p.positive else (-math.inf, math.inf)


def range_set(p: Param, use_bounds: bool = True) -> sp.Set:
    """The values p can take in training (``Param.admissible_range``) as a set: its
    bounds, else (0, oo) for a positive param, else the real line. ``use_bounds=False``
    ignores the bounds, to tell when they alone keep a singularity away."""
    lo, hi = limits(p, use_bounds)
    if math.isfinite(lo) and math.isfinite(hi):
        return sp.Interval(exact(lo), exact(hi))
    return sp.Interval.open(exact(lo) if math.isfinite(lo) else -sp.oo, sp.oo)


def settings(act: Activation) -> list[dict[sp.Symbol, float]]:
    """Parameter values the numeric checks use: init, then for each param the ends and two
    inside points of its sampled range, and where its admissible range reaches further
    (an unbounded positive or real param), two values out there."""
    init = {p: p.init for p in act.params}
    out: list[dict[sp.Symbol, float]] = [init]
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


def candidate_values(p: Param, use_bounds: bool = True) -> list[float]:
    """Values of p spread over its admissible range: the sampled range, and where the
    range is unbounded, magnitudes from 1e-3 to 1e3 times the init's scale."""
    lo, hi = limits(p, use_bounds)
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


def values_in(region: sp.Set, p: Param, count: int = 3, use_bounds: bool = True) -> list[float]:
    """A few values of p inside ``region`` (a subset of its admissible range), the init
    first when it is inside, then spread over the region."""
    candidates = set(candidate_values(p, use_bounds))
    if isinstance(region, sp.Interval):
        a, b = region.start, region.end
        if a.is_finite and b.is_finite:
            candidates.update(float(a + (b - a) * k) for k in (sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(3, 4)))
        elif a.is_finite:
            candidates.update(float(a) + max(1.0, abs(float(a))) * k for k in (0.5, 1.0, 10.0))
        elif b.is_finite:
            candidates.update(float(b) - max(1.0, abs(float(b))) * k for k in (0.5, 1.0, 10.0))
    lo, hi = limits(p, use_bounds)
    inside = sorted(v for v in candidates if lo <= v <= hi and region.contains(sp.Float(v)) == sp.true)
    if p.init in inside:
        rest = [v for v in inside if v != p.init]
        return [p.init, *spread(rest, count - 1)]
    return spread(inside, count)


def spread(values: list[float], count: int) -> list[float]:
    """``count`` of ``values`` (sorted), evenly spaced over them, the ends included."""
    if len(values) <= count:
        return values
    picks = np.linspace(0, len(values) - 1, count).round().astype(int)
    return [values[i] for i in picks]


# ---------------------------------------------------------------- conditions as text


def bounds_interval(p: Param) -> str:
    """"[0.1, 10]": the admissible range of p."""
    lo, hi = p.admissible_range()
    return f"[{short(lo)}, {short(hi)}]"


def bounds_text(p: Param) -> str:
    """" in its bounds [0.1, 10]" when p has bounds, else empty."""
    return f" in its bounds {bounds_interval(p)}" if p.bounds is not None else ""


def set_text(p: Param, region: sp.Set, full: sp.Set) -> str:
    """A readable condition on p: "when sigma > 1", "for every value of sigma", ...
    ``full`` is the range p is judged over."""
    name = p.name
    if region == sp.EmptySet:
        return f"for no value of {name}{bounds_text(p) if full == range_set(p) else ''}"
    if region == full:
        return f"for every value of {name}{bounds_text(p) if full == range_set(p) else ''}"
    rest = full - region
    if isinstance(rest, sp.FiniteSet):
        bounds = bounds_text(p) if full == range_set(p) else ""
        return f"for every value of {name}{bounds} except {' and '.join(f'{name} = {short(v)}' for v in rest)}"
    if isinstance(region, sp.FiniteSet):
        return "when " + " or ".join(f"{name} = {short(v)}" for v in region)
    parts = region.args if isinstance(region, sp.Union) else (region,)
    if not all(isinstance(part, (sp.Interval, sp.FiniteSet)) for part in parts):
        return f"when {name} is in {region}"
    return "when " + " or ".join(_interval_text(name, part, full) for part in parts)


def _interval_text(name: str, part: sp.Set, full: sp.Set) -> str:
    if isinstance(part, sp.FiniteSet):
        return " or ".join(f"{name} = {short(v)}" for v in part)
    assert isinstance(part, sp.Interval)
    low = part.start != full.inf or bool(part.start.is_finite and part.left_open and part.start in full)
    high = part.end != full.sup or bool(part.end.is_finite and part.right_open and part.end in full)
    lt_lo = "<" if part.left_open else "≤"
    lt_hi = "<" if part.right_open else "≤"
    if low and high:
        return f"{short(part.start)} {lt_lo} {name} {lt_hi} {short(part.end)}"
    if low:
        return f"{name} {'>' if part.left_open else '≥'} {short(part.start)}"
    if high:
        return f"{name} {lt_hi} {short(part.end)}"
    return f"{name} is in its range"


def param_condition(cond: sp.Basic, limit: QuestionLimit) -> tuple[sp.Basic, str]:
    """``cond`` (in the params only) solved over the param's admissible range when there
    is one param; otherwise simplified. Returns (set-or-condition, readable text)."""
    params = sorted(cond.free_symbols, key=lambda s: s.name)
    if not params:
        return cond, "always" if cond == sp.true else "never"
    if len(params) == 1 and isinstance(params[0], Param):
        p = params[0]
        full = range_set(p)
        region = limit.run(lambda: sp.solveset(cond, p, full))
        if isinstance(region, sp.Set) and not isinstance(region, sp.ConditionSet):
            return region, set_text(p, region, full)
    simplified = limit.run(lambda: sp.simplify(cond))
    shown = simplified if simplified is not None else cond
    return shown, f"when {expr_text(shown)}"
