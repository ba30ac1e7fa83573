"""Random valid definitions, and what ``generate`` makes of them (``symact accuracy --fuzz``).

The catalog holds the activations people publish; users write others. The corpus draws
definitions from a seeded grammar — compositions of exp, log, tanh, sigmoid, softplus,
erf, atan, sin, cos, sqrt, abs, powers, quotients and Piecewise, with a trainable
parameter — that reaches the classic cancellations (a difference of two softplus,
``sqrt(p + x**2) + x`` as x → −∞, ``1 - cos``, ``exp(a) - exp(b)``), and runs each
through the whole of ``generate`` in memory: derivation, golden references, the accuracy
check and the printers. Each ends in one of four ways:

- ``within``: every quantity meets the bounds in float32 and float64 (the module would be
  written);
- ``refused``: ``generate`` stops with one line: over the bounds (with the quantity, the
  point and the error), or a function no printer has;
- ``budget``: past the time budget, stopped with one line;
- ``crash``: anything else, which is a bug.

The same seed gives the same definitions on every machine.
"""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from .budget import Budget, BudgetExceeded
from .derive import derive
from .errors import InaccurateError, SymactError
from .generate import BACKENDS, render
from .spec import Activation, Param, x

__all__ = ["Outcome", "random_definitions", "run", "summary"]

_P = Param("p", init=1.0, positive=True)


def _unary() -> list[Callable[[sp.Expr], sp.Expr]]:
    return [
        sp.exp,
        sp.tanh,
        sp.atan,
        sp.sin,
        sp.cos,
        sp.erf,
        sp.Abs,
        lambda u: sp.log(1 + sp.exp(u)),  # softplus
        lambda u: 1 / (1 + sp.exp(-u)),  # sigmoid
        lambda u: sp.sqrt(_P + u**2),
        lambda u: sp.log(1 + u**2),
        lambda u: 1 - sp.cos(u),
        lambda u: sp.exp(-(u**2)),
    ]


def _expression(rng: np.random.Generator, depth: int) -> sp.Expr:
    leaves = [x, _P * x, x + _P, 2 * x, x / 3, -x]
    if depth == 0 or rng.random() < 0.2:
        return leaves[rng.integers(len(leaves))]
    kind = rng.integers(6)
    a = _expression(rng, depth - 1)
    if kind <= 1:
        unary = _unary()
        return unary[rng.integers(len(unary))](a)
    b = _expression(rng, depth - 1)
    if kind == 2:
        return a + b
    if kind == 3:
        return a - b
    if kind == 4:
        return a * b if rng.random() < 0.5 else a / (1 + b**2)
    return sp.Piecewise((a, x > 0), (b, True))


def random_definitions(count: int, seed: int, depth: int = 3) -> Iterator[Activation]:
    """``count`` valid definitions drawn from the grammar with ``seed`` (those the
    definition checks refuse, or without x, are drawn again)."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        expr = _expression(rng, depth)
        if not expr.has(x):
            continue
        try:
            act = Activation(
                name=f"fuzz_{seed}_{made}", expr=expr, params=[_P] if expr.has(_P) else [], doc="random definition"
            )
        except SymactError:
            continue
        made += 1
        yield act


@dataclass(frozen=True)
class Outcome:
    """What ``generate`` made of one definition."""

    name: str
    expr: str
    result: str  # "within", "refused", "budget" or "crash"
    seconds: float
    message: str  # the one line generate printed, or the crash; "" when within
    inaccurate: bool = False  # refused for missing the accuracy bounds (not for a function)


def run(count: int, seed: int, budget: float = 20.0, progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Each of ``count`` random definitions through ``generate``, in memory."""
    outcomes = []
    for act in random_definitions(count, seed):
        start = time.perf_counter()
        result, message, inaccurate = "within", "", False
        try:
            with Budget(budget, f"activation {act.name!r}").guard():
                render(derive(act), "fuzz", "0" * 64, list(BACKENDS), False)
        except BudgetExceeded as e:
            result, message = "budget", str(e)
        except InaccurateError as e:
            result, message, inaccurate = "refused", str(e), True
        except SymactError as e:
            result, message = "refused", str(e)
        except Exception as e:  # a bug: recorded with where it happened, the run goes on
            where = traceback.extract_tb(e.__traceback__)[-1]
            result, message = "crash", (
                f"{type(e).__name__}: {' '.join(str(e).split())[:300]} "
                f"({Path(where.filename).name}:{where.lineno} in {where.name})"
            )
        # the definition has no file: drop the location the one-line errors start with
        start_of_text = message.find(f"activation {act.name!r}")
        message = message[start_of_text:] if start_of_text > 0 else message
        outcome = Outcome(act.name, sp.sstr(act.expr), result, time.perf_counter() - start, message, inaccurate)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def summary(outcomes: list[Outcome]) -> list[str]:
    """The pass rate, the counts, the times and the definitions that missed, as lines."""
    n = len(outcomes)
    if not n:
        return ["no definitions"]
    counts = {r: sum(o.result == r for o in outcomes) for r in ("within", "refused", "budget", "crash")}
    over = sum(o.inaccurate for o in outcomes)
    times = sorted(o.seconds for o in outcomes)
    lines = [
        f"{counts['within']} of {n} within the bounds ({100 * counts['within'] / n:.1f}%); "
        f"{over} refused as over the bounds, {counts['refused'] - over} refused otherwise, "
        f"{counts['budget']} past the budget, {counts['crash']} crashed",
        f"generate time per definition: median {statistics.median(times):.2f} s, worst {times[-1]:.2f} s",
    ]
    for o in outcomes:
        if o.result != "within":
            lines.append(f"  {o.result}: {o.expr}: {o.message}")
    return lines
