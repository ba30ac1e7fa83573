"""Golden references: f and every gradient at chosen points, computed with mpmath at 50 digits.

Sample points (all exactly representable in float32, so one set serves both dtypes):
random inputs in the domain, both sides of every branch boundary, approaches to every
pole, and extreme and tiny magnitudes; at the parameters' init, at the ends of each
parameter's range, and at random parameter settings. References are computed from the
exact formulas (never from the printed stable forms), together with each quantity's
condition number κ, which scales the tolerance of the golden tests.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .budget import phase
from .derive import Derivation, Quantity
from .numeric import (
    DIGITS,
    MAX_BOUND,
    P99_BOUND,
    below_floats,
    cross_reference,
    decimal_text,
    derivative_agrees,
    error_metric,
    kappa_at,
    mp_function,
    mp_partials,
    nan_references,
    np_function,
    p99,
    reference,
    reference_floats,
    zero_points,
)
from .spec import Activation, x

__all__ = ["Golden", "compute_golden", "Shortfall", "golden_scores", "shortfalls"]

# Note [Golden points on a pole]
# A pole inside the sampled range (the bump with |x| < sigma at sigma > 1) gets sample
# points on it, rounded to float32. There the exact value is infinite, or finite but
# beyond any float (e^(4e7)), with a sign and size set by the last bit of the rounded
# input: no computed value can be checked against it. Nor where a quantity's condition
# number there reaches 2^24: float32 rounding alone (of sigma - x^2) can then make it
# 0/0. Such a point is listed under "poles" in golden.json and is not a test; the audit
# reports the singularity.
_FLOAT64_MAX = float(np.finfo(np.float64).max)
_NO_FLOAT32_DIGIT = 2.0**24

_EXTREMES = (0.0, 1e-30, 1e-6, 1e-3, 20.0, 50.0, 88.5, 100.0, 1e3, 1e4)
_RANDOM_X = 24
_RANDOM_PARAM_SETTINGS = 2
_SIGNIFICANT = 25


@dataclass(frozen=True)
class Golden:
    """Reference values, ready to serialize."""

    columns: list[str]  # "x" then the params
    quantities: list[str]  # "f", "d_x", ...
    kinds: dict[str, str]  # quantity -> "value" | "derivative" | "surrogate"
    points: list[dict[str, Any]]  # {"at": [...], "kind": str, "ref": {...}, "kappa": {...}}
    unresolved: list[dict[str, Any]]  # the exact formula cancels beyond 1920 digits, or no float holds the value
    poles: list[dict[str, Any]] = field(default_factory=list)  # see Note [Golden points on a pole]


def _f32(value: float) -> float:
    return float(np.float32(value))


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def _param_settings(act: Activation, rng: np.random.Generator) -> list[tuple[float, ...]]:
    init = tuple(_f32(p.init) for p in act.params)
    settings = [init]
    for i, p in enumerate(act.params):
        for v in p.sample_range():
            settings.append((*init[:i], _f32(v), *init[i + 1 :]))
    for _ in range(_RANDOM_PARAM_SETTINGS if act.params else 0):
        settings.append(tuple(_f32(rng.uniform(*p.sample_range())) for p in act.params))
    return list(dict.fromkeys(settings))


#: Largest expression (in ``sympy.count_ops``) whose roots are solved for: a size limit,
#: not a time limit, so the golden points are the same on any machine (Note [Budgets never
#: change output] in symact.budget).
SOLVE_MAX_OPS = 24


def _symbolic_roots(expr: sp.Expr) -> list[sp.Expr]:
    """Roots in x of expr = 0 with the params kept symbolic (none when expr never vanishes,
    or is too big to solve)."""
    if expr.is_positive or expr.is_negative or not expr.has(x) or sp.count_ops(expr) > SOLVE_MAX_OPS:
        return []
    try:
        roots = sp.solve(expr, x)
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError):
        return []
    return [r for r in roots if not r.has(sp.I)]


def _special_roots(quantities: tuple[Quantity, ...]) -> list[tuple[sp.Expr, str]]:
    """Branch boundaries and poles of every quantity, as symbolic points."""
    found: dict[str, tuple[sp.Expr, str]] = {}
    for q in quantities:
        for branch in q.branches:
            for rel in branch.cond.atoms(sp.core.relational.Relational):
                for r in _symbolic_roots(rel.lhs - rel.rhs):
                    found.setdefault(sp.sstr(r), (r, "boundary"))
            for part in sp.preorder_traversal(branch.expr):
                if isinstance(part, sp.Pow) and part.exp.is_negative:
                    for r in _symbolic_roots(part.base):
                        found.setdefault(sp.sstr(r), (r, "pole"))
    return list(found.values())


def _special_x(roots: list[tuple[sp.Expr, str]], values: dict[sp.Symbol, float]) -> list[tuple[float, str]]:
    """Each root at these param values, approached from both sides."""
    points = []
    for root, kind in roots:
        try:
            c = complex(root.subs(values).evalf())
        except (TypeError, ValueError):
            continue
        if abs(c.imag) > 1e-12 or not math.isfinite(c.real) or abs(c.real) > 1e6:
            continue
        scale = max(abs(c.real), 1e-3)
        for offset in (0.0, 1e-6, -1e-6, 1e-3, -1e-3):
            points.append((_f32(c.real + offset * scale), kind))
    return points


def _sample(derivation: Derivation) -> list[tuple[tuple[float, ...], str]]:
    act = derivation.activation
    rng = np.random.default_rng(_seed(act.name))
    lo, hi = act.domain
    points: list[tuple[tuple[float, ...], str]] = []
    with phase("golden points"):
        roots = _special_roots(derivation.quantities)
    symbols = (x, *act.params)
    settings = _param_settings(act, rng)
    zeros: dict[tuple[float, ...], list[float]] = {s: [] for s in settings}
    with phase("golden points"):  # Note [Points near zeros] in symact.numeric
        for q in derivation.quantities:
            for at in zero_points(q.exact, symbols, (lo, hi), settings, steps=(0,)):
                zeros[tuple(at[1:])].append(at[0])
    for setting in settings:
        values = dict(zip(act.params, setting))
        xs = [(_f32(v), "random") for v in rng.uniform(lo, hi, _RANDOM_X)]
        xs += [(_f32(lo), "domain-end"), (_f32(hi), "domain-end")]
        xs += _special_x(roots, values)
        xs += [(v, "zero") for v in zeros[setting]]
        xs += [(_f32(s * m), "extreme") for m in _EXTREMES for s in (1.0, -1.0)]
        for xv, kind in xs:
            points.append(((xv, *setting), kind))
    unique: dict[tuple[float, ...], str] = {}
    for at, kind in points:
        unique.setdefault(at, kind)
    return sorted(unique.items())


def _text(value: Any) -> str | None:
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf(10) ** (-DIGITS + 5) * max(1, abs(value.real)):
            return None
        value = value.real
    if not mpmath.isfinite(value):
        return None
    with mpmath.workdps(DIGITS):
        return decimal_text(+value, _SIGNIFICANT, min_fixed=-4, max_fixed=8)


def compute_golden(derivation: Derivation) -> Golden:
    """Reference values for every quantity of ``derivation`` at its sample points.

    Raises the activation's DefinitionError when f is complex-valued at a sample point
    in the domain, or when a user-supplied derivative disagrees with the true one.
    """
    act = derivation.activation
    symbols = (x, *act.params)
    names = [p.name for p in act.params]
    quantities = derivation.quantities
    refs = [mp_function(q.exact, symbols) for q in quantities]
    stables = [mp_function(q.identity, symbols) for q in quantities]
    partials = [mp_partials(q.identity, symbols) for q in quantities]
    user = {
        f"d_{var.name}": mp_function(expr, symbols) for var, expr in (act.derivative or {}).items()
    }
    lo, hi = act.domain
    points = []
    unresolved: list[dict[str, Any]] = []
    poles: list[dict[str, Any]] = []
    with phase("golden points"):
        samples = _sample(derivation)
    for at, kind in samples:
        ref: dict[str, str | None] = {}
        kappa: dict[str, str | None] = {}
        for q, fn, stable, dfn in zip(quantities, refs, stables, partials):
            value = cross_reference(fn, stable, at)
            if value is not None and not isinstance(value, mpmath.mpc) and mpmath.isnan(value):
                value = _removable_value(fn, stable, at)
            if value is not None and not isinstance(value, mpmath.mpc) and not mpmath.isfinite(value):
                ref[q.name], kappa[q.name] = _computed_as(_documented(fn, stable, at), q, symbols, at), None
                continue
            if value is None:
                if kind != "extreme" and not below_floats(fn, stable, at):
                    raise RuntimeError(
                        f"internal error: the printed form of {act.name}.{q.name} disagrees with "
                        f"the exact formula at {_where(names, at)}"
                    )
                unresolved.append({"at": list(at), "quantity": q.name})
                ref[q.name] = kappa[q.name] = None
                continue
            if q.name == "f" and isinstance(value, mpmath.mpc) and lo <= at[0] <= hi:
                if abs(value.imag) > mpmath.mpf(10) ** -30 * max(1, abs(value.real)):
                    raise act.error(
                        f"expr is complex-valued at {_where(names, at)} (value {mpmath.nstr(value, 8)}); "
                        f"restrict domain=... or guard the formula with a Piecewise"
                    )
            ref[q.name] = _text(value)
            if ref[q.name] is None:
                kappa[q.name] = None
                continue
            real = value.real if isinstance(value, mpmath.mpc) else value
            k = kappa_at(dfn, real, at)
            with mpmath.workdps(DIGITS):
                kappa[q.name] = decimal_text(+k, 6) if mpmath.isfinite(k) else "inf"
            if q.name in user:
                _check_user_derivative(act, q.name, user[q.name], at, real, k, names)
        if kind == "pole":
            beyond = [
                n for n, v in ref.items()
                if v is None or abs(float(v)) > _FLOAT64_MAX or float(kappa[n] or "inf") >= _NO_FLOAT32_DIGIT
            ]
            if beyond:
                poles.append({"at": list(at), "quantities": beyond})
                continue
        points.append({"at": list(at), "kind": kind, "ref": ref, "kappa": kappa})
    return Golden(
        ["x", *names],
        [q.name for q in quantities],
        {q.name: q.kind for q in quantities},
        points,
        unresolved,
        poles,
    )


def _removable_value(exact: Any, stable: Any, at: tuple[float, ...]) -> Any:
    """At a removable singularity (Note [Removable singularities] in symact.derive) the
    exact formula is 0/0 and the printed form gives the limit: that is the reference when
    the exact formula, a hair away on both sides, agrees with it to 25 digits. NaN
    otherwise."""
    limit = reference(stable, at)
    if isinstance(limit, mpmath.mpc) or not mpmath.isfinite(limit):
        return mpmath.nan
    with mpmath.workdps(2 * DIGITS):
        step = mpmath.mpf(10) ** -40 * max(1, abs(mpmath.mpf(at[0])))
        for side in (-1, 1):
            near = _approach(exact, [mpmath.mpf(at[0]) + side * step, *at[1:]])
            if near is None or abs(near - limit) > mpmath.mpf(10) ** -25 * max(1, abs(limit)):
                return mpmath.nan
    return limit


# Note [No value, no limit]
# Where a quantity has no finite value or limit at a golden point (x·log|x|'s derivative at
# 0, a 0/0 whose sides disagree), golden.json records what the module documents there, and
# the golden tests require it: "inf" or "-inf" where the printed form gives that infinity
# and the formula grows toward it on both sides (at 1e-40 and 1e-80 relative distance);
# "nan" where the printed form gives NaN and the formula neither grows toward one infinity
# on both sides nor tends to one finite value; and only where the module, in float32 and in
# float64, computes that very value. Anything else (a printed NaN where a limit exists, an
# infinity the float arithmetic gives where the exact printed form is NaN) is not turned
# into a test: the reference is null and the audit reports the point.
def _documented(exact: Any, stable: Any, at: tuple[float, ...]) -> str | None:
    """The documented value at a point without a finite value or limit (Note [No value, no
    limit]): "inf", "-inf", "nan", or None."""
    printed = reference(stable, at)
    if isinstance(printed, mpmath.mpc) or mpmath.isfinite(printed):
        return None
    with mpmath.workdps(2 * DIGITS):
        scale = max(1, abs(mpmath.mpf(at[0])))
        near = [
            _approach(exact, [mpmath.mpf(at[0]) + side * step * scale, *at[1:]]) for side in (-1, 1) for step in (1e-40, 1e-80)
        ]
        signs = set()
        for a, b in (near[:2], near[2:]):
            growing = a is not None and b is not None and abs(b) > abs(a) > 1 and mpmath.sign(a) == mpmath.sign(b)
            signs.add(int(mpmath.sign(b)) if growing else 0)
        converges = None not in near and all(
            abs(v - near[0]) <= mpmath.mpf(10) ** -20 * max(1, abs(near[0])) for v in near
        )
    if mpmath.isnan(printed):
        return None if converges or (len(signs) == 1 and 0 not in signs) else "nan"
    return ("inf" if printed > 0 else "-inf") if signs == {int(mpmath.sign(printed))} else None


def _computed_as(documented: str | None, q: Quantity, symbols: tuple[sp.Symbol, ...], at: tuple[float, ...]) -> str | None:
    """``documented`` where the module computes exactly that at the point, in float32 and
    float64 (Note [No value, no limit]); else None: a test is never made of a value the
    module does not give (say, +inf from one side of a pole where the formula is NaN)."""
    if documented is None:
        return None
    want = float(documented)
    point = np.array([at], dtype=np.float64)
    for dtype in (np.float32, np.float64):
        got = float(printed_values(q, symbols, point, dtype)[0])
        if not (math.isnan(got) if math.isnan(want) else got == want):
            return None
    return documented


def _approach(fn: Any, point: list[Any]) -> Any:
    try:
        value = fn(*[mpmath.mpf(v) for v in point])
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    if isinstance(value, mpmath.mpc) or not mpmath.isfinite(value):
        return None
    return value


def _where(names: list[str], at: tuple[float, ...]) -> str:
    return ", ".join(f"{n}={v!r}" for n, v in zip(["x", *names], at))


def _check_user_derivative(
    act: Activation,
    qname: str,
    fn: Any,
    at: tuple[float, ...],
    true: Any,
    kappa: Any,
    names: list[str],
) -> None:
    given = reference(fn, at)
    if not derivative_agrees(given, true, kappa):
        raise act.error(
            f"derivative[{qname[2:]}] is wrong: at {_where(names, at)} it gives "
            f"{mpmath.nstr(given, 12)}, the true value is {mpmath.nstr(true, 12)}"
        )


@dataclass(frozen=True)
class Shortfall:
    """A quantity whose printed form misses the golden bounds in one dtype."""

    quantity: str  # "f", "d_x", ...
    dtype: str  # "float32" or "float64"
    max: float  # the worst metric over the golden points (inf for NaN where the reference is finite)
    p99: float  # its 99th percentile
    at: dict[str, float]  # the worst point, by column name
    reference: str | None  # the reference there
    computed: float  # what the printed form gives there
    absolute: float  # the largest absolute error over the points with a finite reference (inf for NaN)


def golden_scores(
    computed: np.ndarray, refs: list[str | None], kappas: list[str | None], dtype: Any, absolute: float | None = None
) -> np.ndarray:
    """The golden tests' metric per point (:func:`symact.numeric.error_metric`, which the
    generated test files print), NaN where there is no reference."""
    kappa = np.array([math.nan if k is None else float(k) for k in kappas])
    return error_metric(computed, reference_floats(refs), kappa, dtype, absolute, expect_nan=nan_references(refs))


def printed_values(q: Quantity, symbols: tuple[sp.Symbol, ...], at: np.ndarray, dtype: Any) -> np.ndarray:
    """The printed form of ``q`` at the rows of ``at`` (x, then the params) as the kernels
    compute it in ``dtype``: NumPy with the kernels' own elementary functions, float32
    computed in float64 where the quantity is (Note [float32 computed in float64])."""
    wide = np.dtype(dtype) == np.float32 and q.float32_via_float64
    fn = np_function(q.printed, symbols, vector64=wide)
    # Overflow to inf and NaN are results here (as in the kernels), not warnings: the
    # rounding of a point or a value beyond the dtype's range included.
    with np.errstate(all="ignore"):
        cols = [at[:, k].astype(dtype) for k in range(at.shape[1])]
        if wide:
            cols = [c.astype(np.float64) for c in cols]
        out = np.broadcast_to(np.asarray(fn(*cols)), cols[0].shape)
        return out.astype(dtype)


def shortfalls(derivation: Derivation, golden: Golden) -> list[Shortfall]:
    """Every (quantity, dtype) whose printed form misses the golden tests' bounds
    (max MAX_BOUND, p99 P99_BOUND) at the golden points."""
    act = derivation.activation
    symbols = (x, *act.params)
    if not golden.points:
        return []
    at = np.array([p["at"] for p in golden.points], dtype=np.float64)
    found = []
    for q in derivation.quantities:
        refs = [p["ref"][q.name] for p in golden.points]
        kappas = [p["kappa"][q.name] for p in golden.points]
        for dtype in (np.float32, np.float64):
            computed = printed_values(q, symbols, at, dtype)
            scores = golden_scores(computed, refs, kappas, dtype)
            checked = ~np.isnan(scores)
            if not checked.any():
                continue
            worst = int(np.nanargmax(scores))
            high = p99(scores[checked])
            if scores[worst] <= MAX_BOUND and high <= P99_BOUND:
                continue
            ref = np.array([math.nan if r is None else float(r) for r in refs])
            finite = np.isfinite(ref)
            with np.errstate(all="ignore"):
                errors = np.abs(computed.astype(np.float64) - ref)[finite]
            absolute = float(np.max(np.where(np.isnan(errors), np.inf, errors), initial=0.0))
            found.append(
                Shortfall(
                    q.name,
                    np.dtype(dtype).name,
                    float(scores[worst]),
                    high,
                    dict(zip(golden.columns, golden.points[worst]["at"])),
                    refs[worst],
                    float(computed[worst]),
                    absolute,
                )
            )
    return found
