"""Shared printing: constants folded, scalar code blocks with branch-local CSE."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ..derive import Quantity
from ..errors import UnsupportedFunctionError
from ..numeric import fold_constants

__all__ = ["BranchGroup", "group_branches", "cse_branch", "integer_power", "TypedConstants"]


class TypedConstants:
    """Printer mixin: every number goes through the backend's ``const`` (typed literals)."""

    def const(self, value: float) -> str:
        raise NotImplementedError

    def _print_Float(self, expr: sp.Float) -> str:
        return self.const(float(expr))

    def _print_Integer(self, expr: sp.Integer) -> str:
        return self.const(float(expr))

    def _print_Rational(self, expr: sp.Rational) -> str:
        return self.const(float(expr))

    _print_Half = _print_Rational
    _print_One = _print_Integer
    _print_Zero = _print_Integer
    _print_NegativeOne = _print_Integer


def indent(lines: list[str], levels: int = 1) -> list[str]:
    """Lines of code indented by ``levels`` levels (blank lines stay empty)."""
    return [("    " * levels + line) if line else line for line in lines]


def integer_power(base: str, n: int, one: str) -> str | None:
    """``base**n`` for a small integer n as repeated multiplication (exact in any dtype,
    no pow call), or None when |n| is 0 or above 8."""
    if not 0 < abs(n) <= 8:
        return None
    product = "*".join([base] * abs(n))
    if n < 0:
        return f"({one}/({product}))"
    return f"({product})" if n > 1 else product


@dataclass(frozen=True)
class BranchGroup:
    """Quantities that share one chain of branch conditions, printed as one if/elif chain."""

    names: tuple[str, ...]  # quantity names, e.g. ("d_x", "d_sigma")
    conditions: tuple[sp.Basic, ...]  # the chain's conditions, in order
    exprs: tuple[tuple[sp.Expr, ...], ...]  # exprs[b][q]: quantity q on branch b


def group_branches(
    quantities: Sequence[Quantity], transform: Callable[[sp.Expr], sp.Expr] = lambda e: e
) -> list[BranchGroup]:
    """Group quantities by identical condition chains, keeping first-seen order; each
    branch's formula is ``transform``-ed (exactly, before constants are folded)."""
    groups: dict[tuple[sp.Basic, ...], list[Quantity]] = {}
    for q in quantities:
        groups.setdefault(q.conditions, []).append(q)
    return [
        BranchGroup(
            tuple(q.name for q in qs),
            conds,
            tuple(tuple(fold_constants(transform(q.branches[b].expr)) for q in qs) for b in range(len(conds))),
        )
        for conds, qs in groups.items()
    ]


def cse_branch(exprs: Sequence[sp.Expr], prefix: str = "_t") -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Common subexpressions of one branch's formulas, named ``_t0, _t1, ...`` (``prefix``)."""
    replacements, reduced = sp.cse(
        list(exprs), symbols=sp.numbered_symbols(prefix, real=True), order="canonical"
    )
    return list(replacements), list(reduced)


def print_or_fail(printer: sp.printing.codeprinter.CodePrinter, expr: sp.Basic, where: str) -> str:
    """Print ``expr``; an unsupported node raises one clear line naming it."""
    try:
        return printer.doprint(expr)
    except (PrintMethodNotImplementedError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        node = first.rsplit(": ", 1)[-1]
        language = getattr(printer, "language", type(printer).__name__)
        raise UnsupportedFunctionError(f"{where}: the {language} backend cannot print {node}") from e
