"""The range of f over all real x at the params' init: a dense float64 scan, refined
around its extremes, with the ends set by the limits at ±∞ (open where f only tends to
them) and by unbounded poles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..numeric import np_function
from ..spec import x
from .asymptotes import End
from .context import AuditContext, active_condition, evaluate_grid, real_roots
from .findings import Outcome
from .formats import assignments, at_setting, g6, value_text


@dataclass
class ValueRange(Outcome):
    range: dict[str, Any] | None = None  # the report's "range"; None when undecided


def check(ctx: AuditContext, ends: dict[str, End], singular_points: list[dict[str, Any]]) -> ValueRange:
    """The range of f; ``ends`` are f's ends at ±∞ (from the asymptotes check) and
    ``singular_points`` the singularities check's points (an unbounded pole opens the range)."""
    out = ValueRange()
    init = ctx.init
    scan = _scan(ctx, out)
    if scan is None:
        return out
    low, high = scan
    low_open = high_open = False
    low_text, high_text = g6(low), g6(high)
    for label, end in ends.items():
        sign = 1 if label == "+oo" else -1
        kind, y = end.kind, end.y
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
        # SymPy may write a real limit with I (atan(e) as I*(log(1 - e*I) - log(1 + e*I))/2)
        number = complex(sp.N(value_expr, 30))
        if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)):
            continue  # not a real value: it says nothing of the range
        value = number.real
        shown = g6(value) if value_expr.has(sp.I) else value_text(value_expr)
        if value <= low + 1e-12 * max(1.0, abs(low)):
            low_text, low_open = shown, not _attained(ctx, value_expr)
        if value >= high - 1e-12 * max(1.0, abs(high)):
            high_text, high_open = shown, not _attained(ctx, value_expr)
    poles = [s for s in singular_points if s["quantity"] == "f" and s["unbounded"]]
    if poles:  # a pole of f that is active: the scan only saw its foothills
        if high > 1e5:
            high_text, high_open = "oo", True
        if low < -1e5:
            low_text, low_open = "-oo", True
    text = f"{'(' if low_open else '['}{low_text}, {high_text}{')' if high_open else ']'}"
    bounded = "oo" not in low_text and "oo" not in high_text
    out.range = {
        "text": text,
        "low": low_text,
        "high": high_text,
        "bounded": bounded,
        "at": assignments(init) or "no parameters",
        "method": "float64 scan of [-1e3, 1e3] and sympy limits at ±oo",
    }
    if bounded:
        out.add(
            "bounded-range",
            f"f takes values in {text}{at_setting(init)}: "
            f"unfit as the output of an unbounded regression target",
            {"range": text},
            "float64 scan + sympy.limit",
        )
    return out


def _scan(ctx: AuditContext, out: Outcome) -> tuple[float, float] | None:
    """The smallest and largest finite values of f at the params' init on a log-spaced grid
    out to |x| = 1e3 and a linear one over the domain, refined around the extremes; None
    (with an undecided item) when there is no finite value."""
    args = [ctx.init[p] for p in ctx.params]
    fn = np_function(ctx.derivation.forward.printed, ctx.symbols)
    xs = np.concatenate([-np.logspace(3, -6, 2000), [0.0], np.logspace(-6, 3, 2000), np.linspace(*ctx.act.domain, 4001)])
    ys = evaluate_grid(fn, xs, args)
    if ys is None:
        out.undecided.append("the range of f (NumPy cannot evaluate it)")
        return None
    finite = np.isfinite(ys)
    if not finite.any():
        out.undecided.append("the range of f")
        return None
    refined_low = _refine_extreme(fn, xs[finite], ys[finite], args, lowest=True)
    refined_high = _refine_extreme(fn, xs[finite], ys[finite], args, lowest=False)
    ys = np.append(ys[finite], [refined_low, refined_high])
    return float(ys.min()), float(ys.max())


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


def _attained(ctx: AuditContext, value: sp.Expr) -> bool:
    """Whether f equals the limit ``value`` at some finite x (then the range end is closed):
    a branch equal to it, or a root of f - value that SymPy finds inside its branch. Where
    SymPy finds no root (none, or it cannot solve), the end stays open: a float64 scan
    cannot tell a value reached from one approached (erf(x) is 1.0 in float64 from x = 6)."""
    init = ctx.init
    pieces = ctx.forward
    for i, (_, e) in enumerate(pieces):
        active = active_condition(pieces, i)
        g = sp.simplify(e.subs(init) - value)
        if g == 0:
            if _branch_occurs(active, init):
                return True
            continue
        for r in real_roots(g, ctx.limit):
            held = active if active in (sp.true, sp.false) else active.subs({x: r, **init})
            if held == sp.true:
                return True
    return False


def _branch_occurs(active: sp.Basic, init: dict[sp.Symbol, float]) -> bool:
    """Whether a branch is evaluated anywhere in [-1e3, 1e3] (checked at 41 points)."""
    xs = np.linspace(-1e3, 1e3, 2001)
    if active in (sp.true, sp.false):
        return active == sp.true
    return any(active.subs({x: float(v), **init}) == sp.true for v in xs[::50])
