"""What every check of the audit shares, computed once per activation: the branches of
each quantity, the parameter settings the numeric checks try, and the per-question time
limit; and the helpers the checks use to ask SymPy and NumPy about them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import sympy as sp

from ..budget import QuestionLimit
from ..derive import Derivation, leading_order, pieces
from ..derive import real_roots as derive_real_roots
from ..functions import diff_ae
from ..numeric import reference
from ..spec import Activation, Param, x
from .params import settings

#: The branches of a quantity, in order: (condition, formula); one (True, formula) when
#: it is not piecewise.
Pieces = tuple[tuple[sp.Basic, sp.Expr], ...]


@dataclass(frozen=True)
class AuditContext:
    """One activation, its derivation and what the checks derive from them. Nothing in it
    changes once it is built, except the time limit's record of the questions that gave up
    (``limit.gave_up``), which the report lists last."""

    act: Activation
    derivation: Derivation
    limit: QuestionLimit  # each SymPy question (a limit, a solve) runs under it
    params: tuple[Param, ...]
    symbols: tuple[sp.Symbol, ...]  # (x, *params): the argument order of compiled functions
    init: dict[sp.Symbol, float]  # every param at its init
    settings: tuple[dict[sp.Symbol, float], ...]  # what the numeric checks try; the init first
    pieces: dict[str, Pieces]  # the exact formula of each quantity, by name ("f", "d_x", ...)

    @classmethod
    def of(cls, act: Activation, derivation: Derivation, seconds: float) -> AuditContext:
        """The context of ``act``, each SymPy question limited to ``seconds``."""
        params = tuple(act.params)
        return cls(
            act=act,
            derivation=derivation,
            limit=QuestionLimit(seconds),
            params=params,
            symbols=(x, *params),
            init={p: p.init for p in params},
            settings=tuple(settings(act)),
            pieces={q.name: tuple(pieces(q.exact)) for q in derivation.quantities},
        )

    @property
    def forward(self) -> Pieces:
        """The branches of f."""
        return self.pieces[self.derivation.forward.name]

    def true_derivative(self, var: sp.Symbol) -> sp.Expr:
        """The derivative of f w.r.t. ``var``, branch by branch (almost everywhere)."""
        ds = [(diff_ae(e, var), c) for c, e in self.forward]
        return ds[0][0] if len(ds) == 1 else sp.Piecewise(*ds)


# ------------------------------------------------------------------ branches


def active_condition(pieces: Sequence[tuple[sp.Basic, sp.Expr]], i: int) -> sp.Basic:
    """The condition under which branch i is the one evaluated."""
    earlier = [sp.Not(c) for c, _ in pieces[:i]]
    return sp.And(pieces[i][0], *earlier)


def branch_at(pieces: Sequence[tuple[sp.Basic, sp.Expr]], at: float, values: Mapping[sp.Symbol, float]) -> int | None:
    """The branch evaluated at x = ``at`` with the params at ``values``, or None."""
    for i, (cond, _) in enumerate(pieces):
        held = cond if cond in (sp.true, sp.false) else cond.subs({x: at, **values})
        if held == sp.true:
            return i
    return None


# ------------------------------------------------------ asking SymPy and NumPy


def unresolved(value: Any) -> bool:
    """Whether SymPy's answer (a limit) is missing or still holds an unevaluated part."""
    return value is None or bool(value.has(sp.Limit, sp.AccumBounds, sp.nan, sp.zoo))


def is_zero(expr: sp.Expr) -> bool:
    return bool(sp.simplify(expr) == 0)


def real_roots(expr: sp.Expr, limit: QuestionLimit) -> list[sp.Expr]:
    """``derive.real_roots`` within the question's time limit ([] past it)."""
    return limit.run(partial(derive_real_roots, expr)) or []


def leading(expr: sp.Expr, point: sp.Expr, side: int, limit: QuestionLimit) -> tuple[sp.Expr, sp.Expr, int] | None:
    """``derive.leading_order`` within the question's time limit."""
    return limit.run(partial(leading_order, expr, point, side))


def evaluate(fn: Callable[..., Any], at: float, values: Mapping[sp.Symbol, float], params: Sequence[Param]) -> Any:
    """``fn`` (from ``numeric.mp_function``) at x = ``at``, the params at ``values``, to 50 digits."""
    return reference(fn, [at, *(values[p] for p in params)])


def evaluate_grid(fn: Any, xs: np.ndarray, params: Sequence[Any]) -> np.ndarray | None:
    """``fn`` (from ``numeric.np_function``, which already falls back to one element at a
    time for functions NumPy lacks) at every x, in the dtype of ``xs``; None where it
    cannot be evaluated at all (a function neither NumPy nor ``math`` has)."""
    with np.errstate(all="ignore"):
        try:
            return np.broadcast_to(np.asarray(fn(xs, *params)), xs.shape).astype(xs.dtype)
        except (TypeError, ValueError, NameError, AttributeError, ZeroDivisionError, OverflowError):
            return None
