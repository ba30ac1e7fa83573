"""Where a quantity has already reached its limit at ±inf in a dtype: the thresholds of the
saturation clamp (Note [Saturation clamp]
    A quantity with a finite limit L at x = +inf (or −inf) gets a branch ``AtInfinity``
    for that input (Note [Values at infinite inputs] in symact.derive), which the tensor
    backends evaluate as comparisons with ±inf, an or and a select for the branch-local
    input of the other branches, and a select of L: about seven operations per element.
    Under XLA a formula's operations are fused into one loop that is bound by its count
    of operations, so these cost time. Often the formula has reached L long before ±inf:
    gelu′(x) is 1 in float64 for every x ≥ 64, and its derivative is 0 there (e^(−x²/2)
    underflows). Evaluating the other branches at min(x, T) for such a T then gives L at
    every x ≥ T, +inf included, and, differentiated by the framework, the derivative 0
    there (no gradient passes the clamp beyond T), which is the true derivative rounded.
    That is one clamp (a maximum and a minimum under XLA) instead of the comparisons and
    selects, at first and second order, and no select at all when the branches left are
    one formula. A NaN passes the clamp, and so does its gradient (TensorFlow's
    ClipByValue and its gradient, eager and under XLA), so NaN in still gives NaN out at
    first and second order. A limit 0 approached from below comes out as −0.

    T is searched among powers of two for each compute dtype (float32, float64), and taken
    only where the check holds at T and at points beyond it up to the dtype's largest
    number (or 2^128): the branches' value (mpmath, at 60 and at 120 digits) rounds to L,
    their derivative rounds to 0, and the formula as printed gives exactly L at T in that
    dtype. Only for a quantity whose other branches do not depend on a parameter: the T of
    a formula in β·x (swish) depends on β, which the function accepts at any value, so
    there the selects stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
import numpy as np
import sympy as sp

from ..derive import Derivation, Quantity
from ..functions import AtInfinity, diff_ae
from ..numeric import mp_function, np_function
from ..spec import x

__all__ = ["Thresholds", "saturation_thresholds"]

#: Per side (+1 for +inf, −1 for −inf): (T for float32, T for float64).
Thresholds = dict[int, tuple[float, float]]

#: The candidate T: powers of two, the smallest that holds is taken.
_CANDIDATES = tuple(2.0**k for k in range(15))
#: The points beyond T checked: T times these, then the dtype's largest number.
_BEYOND = tuple(2.0**k for k in (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1023))
_DTYPES = (np.float32, np.float64)
#: Decimal digits of the two evaluations of each check.
_PRECISIONS = (60, 120)
#: The largest point checked (mpmath's erfc, for one, gives NaN far beyond it).
_FARTHEST = 2.0**128


def _rest(quantity: Quantity) -> sp.Expr | None:
    """The quantity without its branches at ±inf, as one expression of x; None when those
    branches do not all lead the chain or the rest depends on a parameter."""
    branches = list(quantity.branches)
    while branches and isinstance(branches[0].cond, AtInfinity):
        branches.pop(0)
    if not branches or any(isinstance(b.cond, AtInfinity) for b in branches):
        return None
    expr = branches[0].expr if len(branches) == 1 else sp.Piecewise(*[(b.expr, b.cond) for b in branches])
    if expr.free_symbols - {x}:
        return None
    return expr


def _rounds_to(value: object, limit: float, dtype: type) -> bool:
    if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value):
        return False
    return bool(np.array(float(value)).astype(dtype) == limit)


def _threshold(
    rest: sp.Expr, derivative: sp.Expr, limit: float, sign: int, dtype: type
) -> float | None:
    """The smallest candidate T for which the branches have reached ``limit`` at every
    checked point sign·t, t ≥ T, in ``dtype`` (Note [Saturation clamp]); None if none."""
    value = mp_function(rest, [x])
    slope = mp_function(derivative, [x])
    computed = np_function(rest, [x])
    info = np.finfo(dtype)
    tiny = mpmath.mpf(float(info.smallest_subnormal)) / 2

    def reached(t: float) -> bool:
        # at two working precisions, so that a cancellation's noise fails rather than passes
        for dps in _PRECISIONS:
            with mpmath.workdps(dps):
                point = mpmath.mpf(sign * t)
                try:
                    v, d = value(point), slope(point)
                except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                    return False
                if not (_rounds_to(v, limit, dtype) and isinstance(d, mpmath.mpf) and abs(d) < tiny):
                    return False
        return True

    for t in _CANDIDATES:
        if not reached(t):
            continue
        with np.errstate(all="ignore"):
            exact_in_dtype = computed(np.array([sign * t], dtype=dtype))
        if not np.all(np.asarray(exact_in_dtype) == limit):
            continue
        farthest = min(float(info.max), _FARTHEST)
        beyond = [t * k for k in _BEYOND if t * k < farthest] + [farthest]
        if all(reached(u) for u in beyond):
            return t
    return None


def _quantity_thresholds(quantity: Quantity) -> Thresholds:
    rest = _rest(quantity)
    if rest is None:
        return {}
    try:
        derivative = diff_ae(rest, x)
    except ValueError:
        return {}
    out: Thresholds = {}
    for branch in quantity.branches:
        if not isinstance(branch.cond, AtInfinity):
            break
        u, sign = branch.cond.args
        value = branch.expr
        if u != x or not value.is_Number or not value.is_finite:
            continue
        found = [_threshold(rest, derivative, float(value), int(sign), dtype) for dtype in _DTYPES]
        if all(t is not None for t in found):
            out[int(sign)] = (float(found[0]), float(found[1]))  # type: ignore[arg-type]
    return out


def saturation_thresholds(derivation: Derivation, quantities: Sequence[Quantity] | None = None) -> dict[str, Thresholds]:
    """Per quantity name, the sides at which its value at ±inf can be had by the saturation
    clamp, with their thresholds (Note [Saturation clamp]); a quantity without one is
    left out."""
    out = {}
    for q in quantities if quantities is not None else derivation.quantities:
        found = _quantity_thresholds(q)
        if found:
            out[q.name] = found
    return out
