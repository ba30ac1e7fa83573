"""Numbers: 50-digit mpmath references, float32/float64 evaluation, and the error metric.

The metric (used by the golden tests and the derivation's choice of forms): the error of
a computed value in ULPs of the reference, where the ULP is that of the reference rounded
to the dtype but never less than the dtype's smallest normal number, divided by
``max(1, κ)``, κ being the relative condition number of the quantity with respect to x
and the parameters. A result as good as the problem's own conditioning allows scores ~1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from mpmath import libmp
from mpmath.libmp import libelefun

from . import elementary
from .functions import diff_ae

__all__ = [
    "DIGITS",
    "fold_constants",
    "mp_function",
    "np_function",
    "error_metric",
    "p99",
    "derivative_agrees",
    "DERIVATIVE_TOLERANCE",
    "decimal_text",
    "reference_floats",
    "nan_references",
    "mp_reference_floats",
    "MAX_BOUND",
    "P99_BOUND",
    "condition_number",
    "below_floats",
]

#: Decimal digits of every reference value.
DIGITS = 50


def fold_constants(expr: sp.Basic, digits: int = 30) -> sp.Basic:
    """Every constant subexpression (√2, π, 1/3) as a Float; rational exponents stay exact.

    >>> from symact import x
    >>> fold_constants(sp.sqrt(2) * sp.exp(-x / sp.pi) * x**sp.Rational(1, 2))
    1.41421356237309504880168872421*sqrt(x)*exp(-0.318309886183790671537767526745*x)
    """
    if isinstance(expr, (sp.Integer, sp.Float, sp.Symbol)) or expr in (sp.true, sp.false):
        return expr
    if isinstance(expr, sp.Expr) and expr.is_number:
        value = sp.N(expr, digits)
        if value.is_real is False or not value.is_Number:
            return expr
        return sp.Float(value, digits)
    if isinstance(expr, sp.Pow):
        exp = expr.exp if expr.exp.is_Rational else fold_constants(expr.exp, digits)
        return sp.Pow(fold_constants(expr.base, digits), exp)
    if not expr.args:
        return expr
    return expr.func(*[fold_constants(a, digits) for a in expr.args])


def _mp_sigmoid(u: Any) -> Any:
    return 1 / (1 + _mp_exp(-u))


def _mp_softplus(u: Any) -> Any:
    return mpmath.log1p(_mp_exp(u))


# Note [exp of a huge argument]
# Above about 180 digits mpmath computes e^n, for an integer n, as the power e^n by
# repeated squaring, at a working precision of 1.45·log2(n) extra bits; every float that
# is a huge integer takes that way. Where n itself is huge (exp(−e^(2x)) at x = 1e4, with
# n ≈ 10^8686), that is 28,000 squarings at 42,000 bits, seconds per reference value, and
# a definition with such a term spent its whole time budget on references. Beyond 2^64,
# where e^u is 0 or infinite in every float type, the reference exp takes the way mpmath
# takes at lower precision for every argument: u reduced modulo ln 2 with as many more bits
# as u has, and e^r for the remainder; the same value to the working precision, in
# milliseconds.
_HUGE_MAG = 64


def _mp_exp(u: Any) -> Any:
    """mpmath.exp, by argument reduction for |u| > 2^64 (Note [exp of a huge argument]).

    >>> with mpmath.workdps(300):
    ...     big = -mpmath.mpf(2) ** 70 - 3
    ...     bool(abs(_mp_exp(big) / mpmath.exp(big) - 1) < mpmath.mpf(10) ** -290)
    True
    """
    if not isinstance(u, mpmath.mpf) or not mpmath.isfinite(u) or u == 0 or mpmath.mag(u) <= _HUGE_MAG:
        return mpmath.exp(u)
    sign, man, exp, bc = u._mpf_
    prec = mpmath.mp.prec
    mag, wp = bc + exp, prec + 14
    man = -man if sign else man
    shift = exp + wp + mag
    t = man << shift if shift >= 0 else man >> -shift
    n, t = divmod(t, libelefun.ln2_fixed(wp + mag))
    return mpmath.mpf(libmp.from_man_exp(libelefun.exp_basecase(t >> mag, wp), int(n) - wp, prec, libmp.round_nearest))


_MP_FUNCTIONS = {
    "Sigmoid": _mp_sigmoid,
    "Softplus": _mp_softplus,
    "Erfc": mpmath.erfc,
    "Exp": _mp_exp,
    "exp": _mp_exp,
    "log1p": mpmath.log1p,
    "expm1": mpmath.expm1,
    "AtInfinity": lambda u, sign: u == sign * mpmath.inf,
}


def mp_function(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Callable[..., Any]:
    """``expr`` as a function of mpmath numbers (call it inside ``mpmath.workdps``)."""
    return sp.lambdify(list(symbols), expr, modules=[_MP_FUNCTIONS, "mpmath"])


class Partials:
    """The partials of an expression in each of its symbols, as functions of mpmath numbers
    (see :func:`kappa_at`). ``together`` returns them all from one function whose common
    subexpressions (a quotient's denominator, an exp every partial shares) are computed
    once, by ``sympy.cse``: κ a few times cheaper than one function per partial. ``each``
    has one function per partial, for a point where a shared subexpression fails: ``cse``
    hoists subexpressions out of a Piecewise's branches, so 1/x² of a branch for x < −1
    is evaluated, and divides by zero, at x = 0 as well."""

    def __init__(self, expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> None:
        self._symbols = list(symbols)
        self._parts = [diff_ae(expr, s) for s in symbols]
        self.together = sp.lambdify(self._symbols, self._parts, modules=[_MP_FUNCTIONS, "mpmath"], cse=True)

    @functools.cached_property
    def each(self) -> list[Callable[..., Any]]:
        return [mp_function(p, self._symbols) for p in self._parts]


def mp_partials(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> Partials:
    """The partials of ``expr`` in each of ``symbols`` (:class:`Partials`)."""
    return Partials(expr, symbols)


_PRECISIONS = (DIGITS + 10, 2 * DIGITS + 20, 4 * DIGITS + 40, 8 * DIGITS + 80)
_CROSS_PRECISIONS = tuple(60 * 2**k for k in range(6))  # 60 ... 1920 digits


@functools.lru_cache(maxsize=65536)
def _mp_point(point: tuple[float, ...]) -> tuple[Any, ...]:
    """A point's floats as mpf: exact at any precision (53 bits fit), so converted once."""
    return tuple(mpmath.mpf(v) for v in point)


def _at(fn: Callable[..., Any], point: Sequence[float], dps: int) -> Any:
    with mpmath.workdps(dps):
        try:
            value = fn(*_mp_point(tuple(float(v) for v in point)))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return mpmath.nan
        return value if isinstance(value, (mpmath.mpf, mpmath.mpc)) else mpmath.mpmathify(value)


def _agree(a: Any, b: Any) -> bool:
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    if a == 0 or b == 0:
        return a == b
    return bool(abs(a - b) <= mpmath.mpf(10) ** (-DIGITS) * abs(a))


def reference(fn: Callable[..., Any], point: Sequence[float]) -> Any:
    """``fn`` at ``point`` to DIGITS significant digits, or NaN where undefined.

    The working precision doubles until two evaluations agree to DIGITS digits. An exact
    0 is only confirmed at the last precision, since it may be total cancellation
    (1 + tanh(-300)). Returns an mpf, or an mpc for a complex value.
    """
    previous = None
    value: Any = mpmath.nan
    for dps in _PRECISIONS:
        value = _at(fn, point, dps)
        if not mpmath.isfinite(value):
            return value
        if previous is not None and value != 0 and _agree(value, previous):
            return value
        previous = value
    return value


def cross_reference(exact: Callable[..., Any], stable: Callable[..., Any], point: Sequence[float]) -> Any:
    """The exact formula's value, confirmed by a second, independent formula and by a
    second precision.

    Agreement between precisions is no proof: log(1 + e^-382) is 0 at 60 and at 120
    digits alike. So the exact formula must agree to DIGITS digits with the stable printed
    one. Nor is agreement of the two formulas: where they are the same expression they
    cancel alike, and agree on the rounding noise of an exact 0 (softplus(4) - softplus(-4)
    - 4 gives 1e-61 at 60 digits). So a value the two formulas agree on must also be
    what the exact formula gives at the next precision. The working precision starts where
    the stable value's magnitude says the exact formula can resolve it (a value of 1e-300
    from terms of size |x| needs 300 more digits) and doubles up to 1920 digits (after one
    cheap try at 60 digits, which settles every formula that does not cancel). A value
    that shrinks as fast as the precision grows, at every precision, is an exact 0.
    Returns None where they never agree: a cancellation beyond reach, or a wrong rewrite
    (the caller tells which).
    """
    guess = _at(stable, point, _CROSS_PRECISIONS[0])
    need = _CROSS_PRECISIONS[0]
    if isinstance(guess, mpmath.mpf) and mpmath.isfinite(guess) and guess != 0:
        size = max(1.0, *(abs(v) for v in point))
        need = DIGITS + 10 + max(0, int(-mpmath.log10(abs(guess)))) + int(math.log10(size))
    ladder = [_CROSS_PRECISIONS[0]]
    if need <= _CROSS_PRECISIONS[-1]:  # else the exact formula cannot resolve it: do not try
        ladder += [p for p in _CROSS_PRECISIONS[1:] if p * 2 > need]
    candidate = None
    noise = True  # every value so far agreed on by both formulas and below the rounding noise of its precision
    for dps in ladder:
        a = _at(exact, point, dps)
        if not mpmath.isfinite(a):
            return a
        if candidate is not None and (_agree(candidate, a) or candidate == a == 0):
            return candidate
        candidate = a if _agree(a, _at(stable, point, dps)) else None
        noise = noise and candidate is not None and (a == 0 or abs(a) < mpmath.mpf(10) ** (-(dps // 2)))
    if noise and len(ladder) >= 3:
        return mpmath.mpf(0)
    return candidate  # at the top of the ladder: nothing higher to confirm it with


#: Binary magnitude below which a value is a zero in every float type (float64's smallest
#: subnormal is 2^-1074), with a margin.
_BELOW_FLOATS = -1100


def below_floats(exact: Callable[..., Any], stable: Callable[..., Any], point: Sequence[float]) -> bool:
    """Whether the exact formula and the printed form both give, at 60 digits, values that
    every float type rounds to a zero (one may be 0: a limit branch in a tail). Such a
    value's digits (e^(−e^25) ≈ 10^(−5·10^10)) are beyond what the exact formula resolves at
    any precision it is given, and no float can tell them apart.

    >>> tiny = lambda *_: mpmath.mpf(2) ** -5000
    >>> below_floats(tiny, lambda *_: mpmath.mpf(0), (1.0,)), below_floats(tiny, lambda *_: mpmath.mpf(0.5), (1.0,))
    (True, False)
    """
    values = [_at(f, point, _CROSS_PRECISIONS[0]) for f in (exact, stable)]
    return all(
        isinstance(v, mpmath.mpf) and mpmath.isfinite(v) and (v == 0 or mpmath.mag(v) < _BELOW_FLOATS) for v in values
    )


@functools.cache
def _np_functions(vector64: bool) -> dict[str, Callable[..., Any]]:
    """How the NumPy evaluator computes each function: exp, cosh, erfc, log1p and expm1 as
    the generated kernels do, so that measurements of a candidate formula see the kernels'
    own rounding: float32 by the vectorizable helpers (Note [Vectorizable elementary
    functions]), float64 by the float64 exp helper and libm for the rest, or with
    ``vector64`` (float32 computed in float64) by the helpers."""
    elem = elementary.numpy_functions(vector64)
    exp = elem["exp"]

    def sigmoid(u: np.ndarray) -> np.ndarray:
        e = exp(-np.abs(u))
        one = np.ones_like(e)
        return np.where(u >= 0, one / (one + e), e / (one + e))

    def softplus(u: np.ndarray) -> np.ndarray:
        return np.maximum(u, np.zeros_like(u)) + elem["log1p"](exp(-np.abs(u)))

    return {
        **elem,
        "sech": lambda u: 1 / elem["cosh"](u),
        "Sigmoid": sigmoid,
        "Softplus": softplus,
        "erf": elementary.libm_elementwise(math.erf),
        "AtInfinity": lambda u, sign: np.asarray(u) == sign * np.inf,
    }


def np_function(expr: sp.Expr, symbols: Sequence[sp.Symbol], vector64: bool = False) -> Callable[..., np.ndarray]:
    """``expr`` as a NumPy function that keeps the dtype of its array arguments; float64
    arithmetic as the float64 kernels do it, or with ``vector64`` as the float32 kernels
    that compute in float64 do.

    Every branch of a Piecewise is evaluated on every element (``numpy.select``): this
    evaluator is for measuring values, not for gradients.
    """
    modules = [_np_functions(vector64), "numpy"]
    if vector64:  # as the float32-computed-in-float64 kernels print it
        expr = elementary.erfc_through_erfcx(expr)
    fn = sp.lambdify(list(symbols), fold_constants(expr), modules=modules)

    def evaluate(*args: Any) -> np.ndarray:
        try:
            return fn(*args)
        except TypeError:  # a function NumPy lacks, printed through ``math``: one element at a time
            dtype = np.result_type(*[np.asarray(a) for a in args])
            return np.vectorize(scalar, otypes=[np.float64])(*args).astype(dtype)

    def scalar(*args: Any) -> float:
        try:
            return float(fn(*args))
        except (ValueError, OverflowError, ZeroDivisionError):  # math's way of saying NaN or inf
            return math.nan

    return evaluate


#: Bounds the generated code must meet, in the metric's units: the largest error at any
#: point, and the 99th percentile over the points.
MAX_BOUND = 16.0
P99_BOUND = 2.0


#: How far a user-supplied derivative may be from the true one at a point, relative to
#: max(1, |true|)·max(1, κ): the references agree to 50 digits, so 30 leave room for the
#: digits a condition number κ costs.
DERIVATIVE_TOLERANCE = mpmath.mpf(10) ** -30


def derivative_agrees(given: Any, true: Any, kappa: Any) -> bool:
    """Whether a user's derivative ``given`` equals the ``true`` one at a point (both
    50-digit references; κ of the true one there): the one rule of generate and audit."""
    if isinstance(given, mpmath.mpc) or not mpmath.isfinite(given):
        return False
    scale = max(1, abs(true)) * (max(1, kappa) if mpmath.isfinite(kappa) else 1)
    return bool(abs(given - true) <= DERIVATIVE_TOLERANCE * scale)


def decimal_text(value: Any, digits: int, **options: Any) -> str:
    """``mpmath.nstr`` of a real mpmath number, except where its binary exponent itself has
    over 14000 bits (reached by exp(−e^(10^4))): there nstr needs an integer with more
    digits than Python will print, and takes seconds to say so. Such a value is 0 or an
    infinity in every float type, and is written so, with its sign.

    >>> decimal_text(mpmath.mpf(2) ** -(10**4400), 5), decimal_text(-mpmath.mpf(2) ** (10**4400), 5)
    ('0.0', '-inf')
    >>> decimal_text(mpmath.mpf(2) ** -(10**8), 5)
    '2.714e-30103000'
    """
    if isinstance(value, mpmath.mpf) and value != 0 and mpmath.isfinite(value):
        exponent = value.man_exp[1]
        if int(exponent).bit_length() > 14000:
            return ("-" if value < 0 else "") + ("inf" if exponent > 0 else "0.0")
    return mpmath.nstr(value, digits, **options)


def p99(scores: Any) -> float:
    """The 99th percentile of metric values (linear interpolation), inf where it falls
    between two infinite ones (NumPy would give NaN and warn)."""
    with np.errstate(invalid="ignore"):
        value = float(np.percentile(scores, 99))
    return math.inf if math.isnan(value) else value


def reference_floats(values):
    """References given as decimal strings rounded to float64: None (no reference: the
    point is not scored) and "nan" give NaN, "inf" and "-inf" the infinities. The generated
    golden tests print this function."""
    return np.array([math.nan if v is None else float(v) for v in values])


def nan_references(values):
    """Where a reference (a decimal string, as in :func:`reference_floats`) is "nan": a
    point where the quantity has no value or limit and the module documents NaN, which
    :func:`error_metric` then requires. The generated golden tests print this function."""
    return np.array([v == "nan" for v in values], dtype=bool)


def mp_reference_floats(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """mpmath references as float64 (NaN for non-finite ones) and the residual of that
    rounding (reference − float64), which :func:`error_metric` takes as ``ref_lo``."""
    hi = np.array([float(v) if mpmath.isfinite(v) else math.nan for v in values])
    lo = np.array([float(v - mpmath.mpf(h)) if math.isfinite(h) else 0.0 for v, h in zip(values, hi)])
    return hi, lo


def error_metric(computed, ref, kappa, dtype, absolute=None, ref_lo=0.0, expect_nan=None):
    """The error metric per point: |computed - reference| in ULPs of the reference rounded
    to ``dtype`` (the ULP never less than the dtype's smallest normal number), divided by
    max(1, kappa). ``ref`` is the reference correctly rounded to float64 and ``ref_lo``
    what that rounding left off. The golden tests, which read decimal strings, leave it 0:
    in float64 they count the floats between the result and the correctly rounded
    reference. The derivation and the accuracy sweep pass it, measuring against the exact
    value (up to half an ULP more or less in float64).

    - no finite reference (ref NaN): NaN, the point is not scored;
    - a reference beyond the dtype's largest number: 0 for the infinity of its sign,
      else inf;
    - a reference of 0: the ULP error itself (kappa is 0 or infinite there);
    - kappa infinite: 0 (the value hangs on the last bit of an input);
    - NaN or an infinity computed where the reference is a finite number of the dtype: inf;
    - ``absolute`` (a documented absolute error bound): |error| / absolute instead;
    - ``expect_nan`` (a mask, :func:`nan_references`): there NaN is the documented value,
      and scores 0; anything else inf.

    The generated golden tests print this function, so they score as symact does."""
    computed = np.asarray(computed, dtype=np.float64)
    info = np.finfo(dtype)
    with np.errstate(all="ignore"):
        err = np.abs((computed - ref) - ref_lo)
        if absolute is None:
            unit = np.maximum(np.spacing(np.abs(ref.astype(dtype))).astype(np.float64), float(info.tiny))
            score = np.where(ref == 0, err / unit, np.where(np.isinf(kappa), 0.0, err / unit / np.maximum(1.0, kappa)))
        else:
            score = err / absolute
        overflow = np.abs(ref) > float(info.max)
    score = np.where(np.isfinite(computed), score, np.inf)
    score = np.where(overflow, np.where(computed == np.copysign(np.inf, ref), 0.0, np.inf), score)
    score = np.where(np.isnan(ref), np.nan, score)
    if expect_nan is not None:
        score = np.where(expect_nan, np.where(np.isnan(computed), 0.0, np.inf), score)
    return score


def kappa_at(partials: Partials, value: Any, point: Sequence[float]) -> Any:
    """κ of a quantity at ``point``: its partials (:func:`mp_partials`, ideally of the
    stable printed form) at 60 digits; three significant digits are all κ needs."""
    at = _mp_point(tuple(float(v) for v in point))
    with mpmath.workdps(_CROSS_PRECISIONS[0]):
        try:
            grads = [mpmath.mpmathify(g) for g in partials.together(*at)]
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            grads = [_at(d, point, _CROSS_PRECISIONS[0]) for d in partials.each]
    grads = [g.real if isinstance(g, mpmath.mpc) else g for g in grads]
    return condition_number(value, grads, [mpmath.mpf(v) for v in point])


def condition_number(value: Any, partials: Sequence[Any], point: Sequence[Any]) -> Any:
    """κ = Σ |v · ∂q/∂v| / |q| over the inputs v (x and params); inf where q = 0 ≠ Σ."""
    num = sum(abs(v * d) for v, d in zip(point, partials))
    if value == 0:
        return mpmath.mpf(0) if num == 0 else mpmath.inf
    return num / abs(value)


def probe_settings(params: Sequence[Any]) -> list[list[float]]:
    """The parameter settings the probes use: the inits, then each param at each end of its
    sampled range with the others at their inits."""
    inits = [p.init for p in params]
    return [inits] + [[*inits[:i], v, *inits[i + 1 :]] for i, p in enumerate(params) for v in p.sample_range()]


def probe_points(domain: tuple[float, float], params: Sequence[Any]) -> list[tuple[float, ...]]:
    """Inputs that expose overflow and cancellation: the domain (densely at the params'
    init, coarsely at each end of each param's range), extremes and tiny values; all
    exactly representable in float32."""
    lo, hi = domain
    special = [s * m for s in (1.0, -1.0) for m in (1e-6, 1e-3, 0.3, 3.0, 12.0, 30.0, 88.5, 100.0, 1e4)]
    # Random points spread like the accuracy sweep's (symact.accuracy.sweep), from another
    # seed: a form chosen here must meet the bounds there, at points it was not chosen on.
    rng = np.random.default_rng(1234)
    spread = [v for v in np.concatenate([rng.uniform(-10, 10, 60), rng.uniform(-100, 100, 30)]) if lo <= v <= hi]
    dense = list(np.linspace(lo, hi, 121)) + special + spread
    coarse = list(np.linspace(lo, hi, 17)) + special + spread[::3]
    inits, *others = probe_settings(params)
    settings = [(inits, dense)] + [(ps, coarse) for ps in others]
    points = {tuple(float(np.float32(v)) for v in (xv, *ps)) for ps, xs in settings for xv in xs}
    return sorted(points)


# Note [Points near zeros]
# A sum that cancels loses its digits where its value is near 0, and the metric forgives
# that only in proportion to κ. At a zero where the quantity changes sign, κ grows like
# 1/|x − x₀| and forgives the rounding of the terms; at a zero it only touches (1 + sin u
# at u = −π/2, a double zero), κ grows like 1/|x − x₀|^½ while the error in ULPs grows like
# 1/|x − x₀|, so the printed form fails there however well it does elsewhere: snake's
# 1 + sin(2αx) was 34 off at x = −7.87, α = 0.1, and millions of times the bound a float32
# step closer. Random and fixed probe points rarely fall that close. So the probes, and
# the golden points, include points at and beside the zeros in x that each quantity
# touches without changing sign: found on a grid over the domain in float64 at each
# parameter setting (a local minimum of |q| that reaches 0, narrowed by golden-section
# search), the nearest to x = 0 first, each as its float32 neighbours 0, ±1 and ±256 steps
# away for the derivation's probes, and as the nearest float32 alone among the golden
# points (which score every quantity at every point: five points on one spot would weigh
# on the 99th percentile of the quantities that do not vanish there). Zeros where the sign
# changes are left out: κ forgives them, and points there only weigh on the other
# quantities' percentiles. A grid, not the clock, decides (Note [Budgets never change
# output] in symact.budget).

#: The grid zero_x searches on, how many zeros it keeps per setting, and the float32
#: steps from each zero that become points.
ZERO_GRID, ZERO_KEEP, ZERO_STEPS = 4001, 2, (0, 1, -1, 256, -256)


def _zeros(fn: Callable[..., Any], settings: np.ndarray, lo: float, hi: float) -> list[list[float]]:
    """Per row of ``settings`` (parameter values), the zeros in x of ``fn(x, *params)`` in
    [lo, hi], the ZERO_KEEP nearest to x = 0: all rows searched at once, as arrays."""
    xs = np.linspace(lo, hi, ZERO_GRID)
    cols = [settings[:, j] for j in range(settings.shape[1])]

    def at(v: np.ndarray, rows: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(v, *(c[rows] for c in cols)), dtype=np.float64), v.shape)

    q = at(np.broadcast_to(xs, (len(settings), xs.size)), np.arange(len(settings))[:, None])
    ok, mag, sign = np.isfinite(q), np.abs(q), np.sign(q)
    found_rows, found_x = [], []
    rows, ks = np.nonzero(
        ok[:, 1:-1] & ok[:, :-2] & ok[:, 2:] & (mag[:, 1:-1] <= mag[:, :-2]) & (mag[:, 1:-1] <= mag[:, 2:])
        & (mag[:, 1:-1] < np.maximum(mag[:, :-2], mag[:, 2:]))
        & (sign[:, :-2] * sign[:, 2:] > 0)  # the same sign on both sides: touched, not crossed
    )
    if rows.size:  # a local minimum of |q|: narrow it, keep it if it reaches 0
        a, b = xs[ks], xs[ks + 2]
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(56):
            c, d = b - ratio * (b - a), a + ratio * (b - a)
            lower = np.abs(at(c, rows)) < np.abs(at(d, rows))
            a, b = np.where(lower, a, c), np.where(lower, d, b)
        m = 0.5 * (a + b)
        reached = np.abs(at(m, rows)) <= 1e-6 * np.maximum(mag[rows, ks], mag[rows, ks + 2])
        found_rows.append(rows[reached])
        found_x.append(m[reached])
    per_row: list[set[float]] = [set() for _ in range(len(settings))]
    for r, v in zip(np.concatenate(found_rows or [np.zeros(0, int)]), np.concatenate(found_x or [np.zeros(0)])):
        if abs(v) > 1e-9 and math.isfinite(v):  # x = 0: the fixed probes
            per_row[int(r)].add(float(v))
    return [sorted(zs, key=abs)[:ZERO_KEEP] for zs in per_row]


def zero_x(fn: Callable[[np.ndarray], Any], lo: float, hi: float) -> list[float]:
    """The zeros of ``fn`` (a NumPy function of x) in [lo, hi], the ZERO_KEEP nearest to
    x = 0; Note [Points near zeros]."""
    return _zeros(fn, np.zeros((1, 0)), lo, hi)[0]


def _near(zeros: Sequence[float], lo: float, hi: float, steps: Sequence[int]) -> list[float]:
    """Float32 inputs at and beside ``zeros``, ``steps`` float32 steps away; a zero that
    is a float32 number itself (an exact zero, as at a rational x) is replaced by its
    two neighbours: there the metric asks for an exact 0, which no rounded sum gives."""
    out = []
    for z in zeros:
        base = np.float32(z)
        step = float(np.spacing(base))
        exact = abs(float(base) - z) <= 1e-12 * max(1.0, abs(z))
        ks = [k for k in steps if k != 0] or [1, -1] if exact else steps
        out += [float(np.float32(float(base) + k * step)) for k in ks]
    return [v for v in dict.fromkeys(out) if lo <= v <= hi]


def zero_points(
    expr: sp.Expr, symbols: Sequence[sp.Symbol], domain: tuple[float, float], settings: Sequence[Sequence[float]],
    steps: Sequence[int] = ZERO_STEPS,
) -> list[tuple[float, ...]]:
    """Points (x, *params) near the zeros in x of ``expr`` at each parameter setting, over
    ``domain``, ``steps`` float32 steps from each; none where NumPy cannot evaluate it
    (Note [Points near zeros])."""
    if not settings:
        return []
    try:
        fn = np_function(expr, symbols)
        zeros = _zeros(fn, np.array(settings, dtype=np.float64).reshape(len(settings), -1), *domain)
    except (NameError, TypeError, AttributeError, KeyError):
        return []
    return [
        (xv, *(float(v) for v in setting))
        for setting, found in zip(settings, zeros)
        for xv in _near(found, *domain, steps)
    ]


#: Per quantity (exact formula, symbols): its mpmath functions and, per point, (reference,
#: κ) or None where the reference is not a finite real number.
_REFERENCES: dict[tuple[Any, ...], tuple[Any, Partials, dict[tuple[float, ...], Any]]] = {}


def _probe_references(
    exact: sp.Expr, symbols: Sequence[sp.Symbol], points: Sequence[tuple[float, ...]]
) -> tuple[list[Any], list[Any], list[int]]:
    """References and κ of ``exact`` at ``points``: (references, κ, indices of the points
    that have one). Cached per point: every candidate form of one quantity, and every set
    of points it is measured on, uses the same references. κ as :func:`kappa_at` computes it."""
    key = (exact, tuple(symbols))
    if key not in _REFERENCES:
        _REFERENCES[key] = (mp_function(exact, symbols), mp_partials(exact, symbols), {})
    ref_fn, grads, known = _REFERENCES[key]
    refs, kappas, keep = [], [], []
    for i, pt in enumerate(points):
        if pt not in known:
            value = reference(ref_fn, pt)
            real = not isinstance(value, mpmath.mpc) and mpmath.isfinite(value)
            known[pt] = (value, kappa_at(grads, value, pt)) if real else None
        if known[pt] is not None:
            refs.append(known[pt][0])
            kappas.append(known[pt][1])
            keep.append(i)
    return refs, kappas, keep


def metric_scores(
    exact: sp.Expr,
    candidate: sp.Expr,
    symbols: Sequence[sp.Symbol],
    points: Sequence[tuple[float, ...]],
    dtype: Any,
    compute_dtype: Any = None,
) -> np.ndarray:
    """The error metric of ``candidate`` against ``exact`` per point, with inputs and the
    result in ``dtype`` and the arithmetic in ``compute_dtype`` (default: ``dtype``).

    Points where the exact value is not a finite real number are scored 0.
    """
    cols = np.asarray(points, dtype=dtype).T.astype(compute_dtype or dtype)
    with np.errstate(all="ignore"):
        vector64 = np.dtype(dtype) == np.float32 and np.dtype(compute_dtype or dtype) == np.float64
        fn = np_function(candidate, symbols, vector64=vector64)
        computed = np.broadcast_to(np.asarray(fn(*cols)), cols[0].shape)
        computed = computed.astype(dtype)
    refs, kappas, keep = _probe_references(exact, symbols, points)
    scores = np.zeros(len(points))
    if keep:
        kappa = np.array([float(k) for k in kappas])
        rounded, residual = mp_reference_floats(refs)
        scores[keep] = error_metric(computed[keep], rounded, kappa, dtype, ref_lo=residual)
    return scores
