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
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from ..derive import _EQUAL_MAX, _EQUAL_P99, Derivation, Quantity
from ..functions import AtInfinity, diff_ae
from ..numeric import metric_scores, mp_function, np_function, p99
from ..spec import Param, x

__all__ = ["ClampedForm", "Thresholds", "clamped_forms", "saturation_thresholds"]

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


# Note [One side of a sign split, clamped]
# swish′ = σ(βx)·(1 + βx·σ(−βx)) is printed as a sign split on u = βx: one form in e^(−u)
# for u >= 0, one in e^u for u < 0, so that no exponential overflows; and, since its
# formulas are in βx, the saturation clamp of x does not apply (its T would depend on β),
# so the values at x = ±inf are comparisons with ±inf and selects. Under XLA each of these
# operations costs time in the fused loop (Note [Masks reused under XLA] in
# symact.emit.where): the comparisons, the or, the select of a branch-local input, the
# selects of the limits, the select of the split's side and the second form come to more
# than the formula itself.
# Often one side's form alone is right for every u once u is clamped: the form in e^u
# is finite for every u up to some T⁺ (where e^u, or its square, would overflow), and by
# then has reached its limit at +inf; below −T⁻ its e^u is 0 and it has reached its limit
# at −inf. Where u is x times parameters that are positive (their admissible range, or
# positive=True), u → ±inf exactly where x → ±inf, so that form evaluated on
# u clamped to [−T⁻, T⁺] gives every branch at once: the limits at ±inf (the form's
# values at the ends, checked to be exactly them in each compute dtype), the other side
# (checked to be as accurate there as the error bounds allow, with u's own condition
# number), and NaN for NaN (the clamp passes NaN). One product, one clamp and one formula,
# no select. Differentiated (second order), it is the form's derivative inside and 0
# beyond the ends, where the quantity has stopped changing at the dtype's precision; the
# clamp of the product has a gradient of its own (the TensorFlow helper
# _saturated_product), taken branch-local, because the framework's gradient of β·x with
# respect to β is x times the clamp's 0 beyond the ends, NaN at x = ±inf.
# A parameter outside its admissible range is computed by the same formula: for β < 0 that
# is the true derivative (u → ∓inf as x → ±inf), for β = 0 at x = ±inf it is NaN (0·inf).


@dataclass(frozen=True)
class ClampedForm:
    """Note [One side of a sign split, clamped]: a quantity computed as ``expr`` of ``u``
    (the symbol ``variable`` standing for u) on u clamped to [lower, upper]; each bound a
    pair (float32, float64)."""

    u: sp.Expr
    variable: sp.Symbol
    expr: sp.Expr
    lower: tuple[float, float]
    upper: tuple[float, float]


#: The candidate ends of the clamp of u: powers of two (the smallest that holds is taken).
_U_CANDIDATES = tuple(2.0**k for k in range(15))


def _positive_multiple(u: sp.Expr, params: Sequence[Param]) -> bool:
    """Whether ``u`` is x times a positive constant and positive parameters (by their
    admissible range or positive=True), so that u → ±inf exactly where x → ±inf."""
    ratio = sp.simplify(u / x)
    if x in ratio.free_symbols or not ratio.free_symbols <= set(params):
        return False
    coefficient, rest = ratio.as_coeff_Mul()
    factors = rest.as_powers_dict() if rest != 1 else {}
    return bool(coefficient > 0) and all(
        base in params and exponent.is_Integer and (base.positive or base.admissible_range()[0] > 0)
        for base, exponent in factors.items()
    )


def _limit_reached(form: sp.Expr, u: sp.Symbol, limit: float, t: float, dtype: type) -> bool:
    """Whether ``form`` has reached ``limit`` at u = t and beyond in ``dtype``: the value
    computed in the dtype is exactly the limit, and the true value rounds to it at t and at
    points beyond (at two working precisions), with u times its derivative below half an
    ULP of the limit (a rounding of u no longer moves it)."""
    computed = np_function(form, [u])
    with np.errstate(all="ignore"):
        if not np.all(np.asarray(computed(np.array([t], dtype=dtype))) == limit):
            return False
    value, slope = mp_function(form, [u]), mp_function(diff_ae(form, u), [u])
    info = np.finfo(dtype)
    scale = mpmath.mpf(max(abs(limit), float(info.tiny))) * mpmath.mpf(float(info.eps)) / 4
    sign = 1 if t > 0 else -1
    for point in [abs(t) * k for k in _BEYOND if abs(t) * k < _FARTHEST]:
        for dps in _PRECISIONS:
            with mpmath.workdps(dps):
                at = mpmath.mpf(sign * point)
                try:
                    v, d = value(at), slope(at)
                except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                    return False
                if not (_rounds_to(v, limit, dtype) and isinstance(d, mpmath.mpf) and abs(at * d) < scale):
                    return False
    return True


def _accurate(form: sp.Expr, u: sp.Symbol, lower: float, upper: float, dtype: type) -> bool:
    """Whether ``form`` is finite and as accurate as derive counts two forms equal (a few
    roundings inside the error bounds) at points spread over [lower, upper] in ``dtype``,
    the metric taking u's own condition number (the quantity's, in x and the parameters,
    is at least that)."""
    rng = np.random.default_rng(4321)
    magnitudes = np.logspace(-6, np.log10(max(-lower, upper)), 200)
    points = np.concatenate([np.linspace(lower, upper, 801), rng.uniform(lower, upper, 400), magnitudes, -magnitudes])
    points = np.unique(points[(points >= lower) & (points <= upper)].astype(dtype))
    scores = metric_scores(form, form, [u], [(float(v),) for v in points], dtype)
    return bool(np.all(np.isfinite(scores)) and scores.max() <= _EQUAL_MAX and p99(scores) <= _EQUAL_P99)


def _clamp_bounds(form: sp.Expr, u: sp.Symbol, limits: dict[int, float], dtype: type) -> tuple[float, float] | None:
    """(lower, upper) of the clamp of u for one compute dtype, or None."""
    ends = []
    for sign in (-1, 1):
        t = next((c for c in _U_CANDIDATES if _limit_reached(form, u, limits[sign], sign * c, dtype)), None)
        if t is None:
            return None
        ends.append(sign * t)
    lower, upper = ends
    return (lower, upper) if _accurate(form, u, lower, upper, dtype) else None


def _clamped_form(quantity: Quantity, params: Sequence[Param]) -> ClampedForm | None:
    """Note [One side of a sign split, clamped] for one quantity, or None."""
    conds = quantity.conditions
    limits = {int(c.args[1]): b.expr for c, b in zip(conds, quantity.branches) if isinstance(c, AtInfinity)}
    split = conds[-2] if len(conds) >= 2 else None
    if (
        len(conds) != 4
        or not all(isinstance(c, AtInfinity) and c.args[0] == x for c in conds[:2])
        or set(limits) != {-1, 1}
        or not all(v.is_Number and v.is_finite for v in limits.values())
        or not isinstance(split, sp.GreaterThan)
        or split.args[1] != 0
        or conds[-1] != sp.true
        or not _positive_multiple(split.args[0], params)
    ):
        return None
    u = split.args[0]
    variable = sp.Symbol("_u", real=True)
    for branch in reversed(quantity.branches[2:]):  # the form in e^u first: the negative side
        form = branch.expr.subs(u, variable)
        if form.free_symbols != {variable}:
            continue
        found = [_clamp_bounds(form, variable, {s: float(v) for s, v in limits.items()}, d) for d in _DTYPES]
        if all(f is not None for f in found):
            (lo32, hi32), (lo64, hi64) = found  # type: ignore[misc]
            return ClampedForm(u, variable, form, (lo32, lo64), (hi32, hi64))
    return None


def clamped_forms(derivation: Derivation) -> dict[str, ClampedForm]:
    """Per quantity name, its clamped one-sided form (Note [One side of a sign split,
    clamped]); a quantity without one is left out."""
    params = derivation.activation.params
    found = {q.name: _clamped_form(q, params) for q in derivation.quantities}
    return {name: c for name, c in found.items() if c is not None}
