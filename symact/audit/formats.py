"""How the audit writes values into its messages and its JSON, one rule per kind of value:

- a number in a sentence: ``short`` (``{:g}``, 6 significant digits, for bounds and
  inputs as given) or ``g6`` (``{:.6g}``, for measured values and parameter settings);
- a number in the JSON: ``json_number`` (``g6``'s digits as a float, or "inf"/"nan");
- a formula: ``expr_text``; a limit or constant: ``value_text`` (exact when short);
- a parameter setting: ``assignments`` ("sigma=0.5, k=1") and ``at_setting``
  (" at sigma=0.5, k=1", empty without parameters).
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from ..spec import x


def g6(value: Any) -> str:
    """A number to 6 significant digits.

    >>> g6(1 / 3), g6(1e6), g6(float("inf"))
    ('0.333333', '1e+06', 'inf')
    """
    return f"{float(value):.6g}"


def short(value: Any) -> str:
    """A number as ``{:g}`` writes it (6 significant digits), or the value's own text
    when it is not a number (a symbolic bound).

    >>> short(0.1), short(sp.Rational(1, 3)), short(sp.Symbol("sigma"))
    ('0.1', '0.333333', 'sigma')
    """
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{f:g}"


def json_number(value: Any) -> float | str:
    """A JSON-friendly number: a float to 6 significant digits, or "inf"/"-inf"/"nan"
    (or the value's own text when it is not a number).

    >>> json_number(1 / 3), json_number(-float("inf"))
    (0.333333, '-inf')
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(g6(v))


def expr_text(expr: Any) -> str:
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


def value_text(value: sp.Expr) -> str:
    """Exact integers and simple constants as SymPy writes them; other numbers to 6 digits.

    >>> value_text(sp.Integer(-1)), value_text(sp.pi / 2), value_text(sp.Float(0.1234567))
    ('-1', 'pi/2', '0.123457')
    """
    if value.is_Integer or (value.is_number and not value.is_Float and len(sp.sstr(value)) <= 12):
        return sp.sstr(value)
    return g6(value)


def assignments(values: dict[sp.Symbol, float]) -> str:
    """"sigma=0.5, k=1": a parameter setting (or a point, x included)."""
    return ", ".join(f"{p.name}={g6(v)}" for p, v in values.items())


def at_setting(values: dict[sp.Symbol, float]) -> str:
    """" at sigma=0.5, k=1" (empty without parameters): the setting a result holds at."""
    return (" at " + assignments(values)) if values else ""
