"""``symact plot``: f, ∂f/∂x and every ∂f/∂θ in panels, one curve per parameter setting.

What the audit knows is drawn on top: active singularities (dotted red lines, in the panel
of the quantity that blows up), branch boundaries of the definition (dotted grey lines),
regions where |∂f/∂x| is below the audit's saturation threshold (shaded, per curve), and the
horizontal and oblique asymptotes of f (dashed, on the side of x they belong to).

matplotlib is an optional dependency (``pip install 'symact[plot]'``); figures are drawn on
an Agg canvas, never through pyplot, so no display and no global backend are involved.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from .audit import SATURATION, ActivationReport, audit
from .derive import Derivation, Kind, Quantity, derive, real_roots
from .errors import SymactError
from .numeric import np_function
from .spec import Activation, Param, x

__all__ = ["PlotError", "parse_param_values", "plot_activation", "FORMATS", "MAX_CURVES"]

#: File suffixes the plot can be written as.
FORMATS = (".png", ".svg")
#: Most curves per panel: more are unreadable.
MAX_CURVES = 8
_POINTS = 2001
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_INSTALL = "pip install 'symact[plot]'"


class PlotError(SymactError):
    """A plot request that cannot be drawn (unknown parameter, bad value, missing matplotlib)."""


@dataclass(frozen=True)
class PlotSummary:
    """What a plot shows, for messages and tests."""

    path: Path  # the file written
    panels: tuple[str, ...]  # "f", "d_x", "d_<param>", in order
    curves: int  # parameter settings drawn
    singularities: int  # singular points marked, over all curves and panels
    boundaries: int  # branch boundaries marked, over all curves
    saturated: int  # shaded saturation intervals, over all curves


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_param_values(act: Activation, items: Sequence[str]) -> dict[Param, list[float]]:
    """``["sigma=0.5,1,2", ...]`` as {sigma: [0.5, 1.0, 2.0]}, checked against the activation's
    parameters and their admissible ranges."""
    by_name = {p.name: p for p in act.params}
    result: dict[Param, list[float]] = {}
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip()
        if not eq or not name or not values.strip():
            raise PlotError(f"--param {item!r}: write NAME=V1,V2,... (for example sigma=0.5,1,2)")
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise PlotError(
                f"--param {item!r}: activation {act.name!r} has no parameter {name!r} "
                f"(its parameters: {known}){_suggest(name, list(by_name))}"
            )
        p = by_name[name]
        numbers = []
        for text in values.split(","):
            try:
                v = float(text)
            except ValueError:
                raise PlotError(f"--param {item!r}: {text.strip()!r} is not a number") from None
            lo, hi = p.admissible_range()
            if not math.isfinite(v) or not (lo <= v <= hi) or (p.positive and v <= 0):
                where = f"in [{lo:g}, {hi:g}]" if p.bounds else ("> 0" if p.positive else "finite")
                raise PlotError(f"--param {item!r}: {name} must be {where}, got {text.strip()}")
            numbers.append(v)
        if p in result:
            raise PlotError(f"--param {name} is given twice; list every value in one: {name}=V1,V2,...")
        result[p] = numbers
    return result


def _settings(act: Activation, chosen: Mapping[Param, list[float]]) -> list[dict[sp.Symbol, float]]:
    """Every combination of the chosen values, the other params at init."""
    grid = [chosen.get(p, [p.init]) for p in act.params]
    settings = [dict(zip(act.params, combo)) for combo in itertools.product(*grid)]
    if len(settings) > MAX_CURVES:
        raise PlotError(
            f"{len(settings)} parameter settings are too many curves (at most {MAX_CURVES}); give fewer values"
        )
    return settings


def _label(values: Mapping[sp.Symbol, float], chosen: Mapping[Param, list[float]]) -> str:
    shown = [f"{p.name}={values[p]:g}" for p in chosen]
    return ", ".join(shown)


def _value(formula: str | sp.Expr, values: Mapping[sp.Symbol, float], act: Activation) -> float | None:
    """A formula in the params (an expression, or the audit's text of one) at one setting, or None."""
    try:
        expr = formula if isinstance(formula, sp.Expr) else sp.sympify(formula, locals={p.name: p for p in act.params})
        v = complex(expr.subs(values).evalf())
    except (sp.SympifyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(v.real) or abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
        return None
    return v.real


def _value_atoms(expr: sp.Basic, kinds: tuple[type, ...]) -> list[sp.Basic]:
    """The nodes of the given kinds in ``expr`` outside the conditions of its Piecewise."""
    found = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            found.append(node)
        if isinstance(node, sp.Piecewise):
            stack += [value for value, _ in node.args]
        else:
            stack += list(node.args)
    return found


def _same_function(pw: sp.Piecewise, at: sp.Expr, init: Mapping[sp.Symbol, float]) -> bool:
    """Whether the pieces of ``pw`` on the two sides of ``at`` are one function (a split the
    definition makes for accuracy, as squareplus's at x = 0), at the params' init."""
    try:
        point = float(at.subs(init))
    except (TypeError, ValueError):
        return False
    scale = max(1.0, abs(point))
    sides = []
    for side in (-1e-6, 1e-6):
        here = {**init, x: point + side * scale}
        piece = next((e for e, c in pw.args if c.subs(here) == sp.true), None)
        if piece is None:
            return False
        sides.append(piece)
    if sides[0] == sides[1]:
        return True
    for offset in (-0.3, -0.05, 0.05, 0.3):
        try:
            a, b = (complex(e.subs({**init, x: point + offset * scale}).evalf()) for e in sides)
        except (TypeError, ValueError, ZeroDivisionError):
            return False
        if not abs(a - b) <= 1e-9 * max(1.0, abs(a)):
            return False
    return True


def _boundaries(act: Activation) -> list[sp.Expr]:
    """The points where the definition's own branches meet, as formulas in the params: where a
    Piecewise condition switches to another function, and where Abs, Max or Min in a value
    switch."""
    points: dict[str, sp.Expr] = {}
    init = {p: p.init for p in act.params}
    for pw in act.expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sp.core.relational.Relational):
                if x in rel.free_symbols:
                    for r in real_roots(rel.lhs - rel.rhs):
                        if not _same_function(pw, r, init):
                            points.setdefault(sp.sstr(r), r)
    for node in _value_atoms(act.expr, (sp.Abs, sp.Max, sp.Min)):
        switch = node.args[0] if isinstance(node, sp.Abs) else node.args[0] - node.args[1]
        if x in switch.free_symbols:
            for r in real_roots(switch):
                points.setdefault(sp.sstr(r), r)
    return list(points.values())


def _evaluate(q: Quantity, symbols: Sequence[sp.Symbol], xs: np.ndarray, values: Mapping[sp.Symbol, float]) -> np.ndarray:
    fn = np_function(q.printed, symbols)
    with np.errstate(all="ignore"):
        ys = np.asarray(fn(xs, *[values[p] for p in symbols[1:]]), dtype=np.float64)
    return np.broadcast_to(ys, xs.shape).copy()


def _limits(curves: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """y-limits that show the curves, not the foothills of a pole."""
    ys = np.concatenate([c[np.isfinite(c)] for c in curves]) if curves else np.array([])
    if ys.size == 0:
        return None
    lo, hi = float(ys.min()), float(ys.max())
    q_lo, q_hi = (float(v) for v in np.percentile(ys, [2, 98]))
    span = q_hi - q_lo
    if span > 0 and (hi - q_hi > 4 * span or q_lo - lo > 4 * span):
        lo, hi = q_lo - 0.6 * span, q_hi + 0.6 * span
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = max(0.5, abs(hi) * 0.1)
        return lo - pad, hi + pad
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def _intervals(mask: np.ndarray, xs: np.ndarray) -> list[tuple[float, float]]:
    """The x intervals where ``mask`` holds (at least three grid points in a row)."""
    out = []
    edges = np.flatnonzero(np.diff(mask.astype(np.int8)))
    starts = [0, *(edges + 1)]
    ends = [*(edges + 1), len(xs)]
    for s, e in zip(starts, ends):
        if mask[s] and e - s >= 3:
            out.append((float(xs[s]), float(xs[e - 1])))
    return out


def _title(q: Quantity) -> str:
    if q.wrt is None:
        return "f(x)"
    note = "  (surrogate)" if q.kind is Kind.SURROGATE else ""
    return f"∂f/∂{q.wrt}{note}"


def _figure_module() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError(f"plotting needs matplotlib: {_INSTALL}") from None
    return Figure, FigureCanvasAgg


@dataclass(frozen=True)
class _Scene:
    """What every panel of one plot shares: the x grid, the parameter settings drawn (one
    curve each), their branch boundaries and the audit's findings."""

    act: Activation
    report: ActivationReport
    symbols: list[sp.Symbol]
    xs: np.ndarray
    lo: float
    hi: float
    settings: list[dict[sp.Symbol, float]]
    bounds: list[list[float]]  # per setting, the branch boundaries inside (lo, hi)
    singular: list[dict[str, Any]]  # the audit's unbounded singularities
    d_x: list[np.ndarray]  # per setting, df/dx on xs (the shading of saturated ranges)
    label_chosen: Mapping[Param, list[float]]


def _draw_panel(ax: Any, q: Quantity, curves: list[np.ndarray], scene: _Scene, counts: dict[str, int]) -> None:
    """One quantity's panel: a curve per setting, its saturated ranges, branch boundaries,
    singularities and (for f) asymptotes; ``counts`` gains what was drawn."""
    ylim = _limits(curves)
    for k, (s, ys) in enumerate(zip(scene.settings, curves)):
        colour = _COLOURS[k % len(_COLOURS)]
        shown = ys.copy()
        if ylim is not None:  # break the line where it leaves the plot (at a pole)
            span = ylim[1] - ylim[0]
            shown[(shown > ylim[1] + 10 * span) | (shown < ylim[0] - 10 * span)] = np.nan
        ax.plot(scene.xs, shown, color=colour, lw=1.6, label=_label(s, scene.label_chosen) or None)
        for a, b in _intervals(np.abs(scene.d_x[k]) < SATURATION, scene.xs):
            ax.axvspan(a, b, color=colour, alpha=0.08, lw=0)
            counts["saturated"] += q.name == "f"
        for b in scene.bounds[k]:
            ax.axvline(b, color="0.55", lw=0.8, ls=":")
            counts["boundaries"] += q.name == "f"
        for sing in scene.singular:
            if sing["quantity"] != q.name:
                continue
            at = _value(sing["x"], s, scene.act)
            if at is None or not scene.lo <= at <= scene.hi or not _unbounded_near(q, scene.symbols, at, s):
                continue
            ax.axvline(at, color="#d62728", lw=1.2, ls=(0, (2, 2)))
            ax.plot([at], [1.0], marker="v", color="#d62728", transform=ax.get_xaxis_transform(), clip_on=False)
            counts["singularities"] += 1
        if q.name == "f":
            for asymptote in scene.report.asymptotes:
                _draw_asymptote(ax, asymptote, s, scene.act, scene.lo, scene.hi, colour)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlim(scene.lo, scene.hi)
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.set_title(_title(q), fontsize=11)
    ax.set_xlabel("x")
    ax.grid(True, color="0.92", lw=0.6)


def _notes(counts: dict[str, int], report: ActivationReport) -> list[str]:
    """The legend of the marks, for what was drawn."""
    notes = []
    if counts["singularities"]:
        notes.append("red: singularity")
    if counts["boundaries"]:
        notes.append("dotted grey: branch boundary")
    if counts["saturated"]:
        notes.append(f"shaded: |∂f/∂x| < {SATURATION:g}")
    if any(a["kind"] in ("horizontal", "oblique") for a in report.asymptotes):
        notes.append("dashed: asymptote")
    return notes


def plot_activation(
    act: Activation,
    out: Path,
    chosen: Mapping[Param, list[float]] | None = None,
    x_range: tuple[float, float] | None = None,
    derivation: Derivation | None = None,
    report: ActivationReport | None = None,
) -> PlotSummary:
    """Draw ``act`` into ``out`` (.png or .svg) and return what was drawn."""
    if out.suffix.lower() not in FORMATS:
        raise PlotError(f"{out}: the output must end in {' or '.join(FORMATS)}")
    if not out.parent.exists():
        raise PlotError(f"{out}: folder {out.parent} does not exist")
    Figure, FigureCanvasAgg = _figure_module()
    chosen = dict(chosen or {})
    settings = _settings(act, chosen)
    lo, hi = x_range if x_range is not None else act.domain
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise PlotError(f"--range {lo:g} {hi:g}: give two finite numbers, the smaller first")
    derivation = derivation or derive(act)
    report = report or audit(act, derivation)
    symbols = [x, *act.params]
    quantities = list(derivation.quantities)

    boundary_exprs = _boundaries(act)
    per_setting_bounds = [
        sorted({v for v in (_value(b, s, act) for b in boundary_exprs) if v is not None and lo < v < hi})
        for s in settings
    ]
    # Points just beside each boundary, so kinks and jumps are drawn sharp.
    extra = [b + d for bounds in per_setting_bounds for b in bounds for d in (-1e-9 * max(1, abs(b)), 1e-9 * max(1, abs(b)))]
    xs = np.unique(np.concatenate([np.linspace(lo, hi, _POINTS), np.asarray(extra, dtype=np.float64)]))

    values = {q.name: [_evaluate(q, symbols, xs, s) for s in settings] for q in quantities}
    singular = [s for s in report.singularities if s.get("unbounded")]

    n = len(quantities)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    label_chosen = chosen or {}
    scene = _Scene(act, report, symbols, xs, lo, hi, settings, per_setting_bounds, singular, values["d_x"], label_chosen)
    counts = {"singularities": 0, "boundaries": 0, "saturated": 0}
    for ax, q in zip(axes, quantities):
        _draw_panel(ax, q, values[q.name], scene, counts)
    if label_chosen and len(settings) > 1:
        axes[0].legend(fontsize=8, loc="best")
    notes = _notes(counts, report)
    fixed = [f"{p.name}={p.init:g}" for p in act.params if p not in label_chosen]
    heading = act.name + (f"  ({', '.join(fixed)})" if fixed else "")
    fig.suptitle(heading + ("\n" + "; ".join(notes) if notes else ""), fontsize=11)
    fig.savefig(out, dpi=100)
    return PlotSummary(
        path=out,
        panels=tuple(q.name for q in quantities),
        curves=len(settings),
        singularities=counts["singularities"],
        boundaries=counts["boundaries"],
        saturated=counts["saturated"],
    )


def _unbounded_near(q: Quantity, symbols: Sequence[sp.Symbol], at: float, values: Mapping[sp.Symbol, float]) -> bool:
    """Whether q really blows up beside ``at`` at this setting (the audit's condition, checked)."""
    eps = np.array([1e-7, 1e-5]) * max(1.0, abs(at))
    xs = np.concatenate([at - eps, at + eps])
    ys = _evaluate(q, symbols, xs, values)
    return bool(np.any(~np.isfinite(ys)) or np.any(np.abs(ys) > 1e6))


def _draw_asymptote(ax: Any, a: Mapping[str, Any], values: Mapping[sp.Symbol, float], act: Activation,
                    lo: float, hi: float, colour: str) -> None:
    if a["kind"] not in ("horizontal", "oblique"):
        return
    mid = (lo + hi) / 2
    side = np.linspace(mid, hi, 50) if a["x"] == "+oo" else np.linspace(lo, mid, 50)
    try:
        expr = sp.sympify(a["y"], locals={"x": x, **{p.name: p for p in act.params}}).subs(values)
        fn = sp.lambdify(x, expr, "numpy")
        ys = np.broadcast_to(np.asarray(fn(side), dtype=np.float64), side.shape)
    except (sp.SympifyError, TypeError, ValueError):
        return
    ax.plot(side, ys, color=colour, lw=1.0, ls="--", alpha=0.7)
