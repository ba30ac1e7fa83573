"""Elementary functions written as plain arithmetic, so that LLVM vectorizes the kernel loops.

Note [Vectorizable elementary functions]: Numba compiles ``math.exp`` and ``math.erfc`` to
one libm call per element, and a loop with a call in it is not vectorized. So the kernels
call the functions below instead: range reduction, a polynomial and exponent bit
arithmetic, with no call and no data-dependent branch, which LLVM turns into SIMD code
(AVX-512 or AVX2, whatever the machine has). Each function is one source text used twice:

- printed into the generated ``kernels.py`` under ``@numba.njit(forceinline=True)``
  (Note [Inlined by LLVM] in ``symact.emit.numba``), and
- executed here with NumPy arrays (``numpy_functions``), so that the error measurements
  that choose a formula (``symact.derive``) and the accuracy harness see the same
  arithmetic, bit for bit, as the kernels (tests/test_elementary.py checks both).

Only ``+ - * /``, ``_fma`` (Note [Fused multiply-add]), comparisons, ``np.floor``, integer
``np.minimum``, ``np.where`` (a conditional expression in the Numba text) and integer bit
operations appear, all of which
mean the same on NumPy arrays and on Numba scalars. Nothing here may be rewritten by the compiler: the kernels are compiled without
fastmath, so the rounding of every operation is that of the source.

The functions (errors measured by tests/test_elementary.py against mpmath; float32 /
float64: exp 0.88 / 0.86 ULP, cosh 0.94 / 0.62, erfc 0.55 / 0.72, log1p 0.80 / 0.73,
expm1 0.93 / 0.74, tanh 0.5 / libm, log 0.5 / libm; every float64 helper is below 1 ULP, as
libm, and the float64 kernels call them all, see symact.emit.numba.NumbaPrinter; tanh and
log have float32 versions only, Note [tanh and log]):

- ``exp``: n = round(x/ln 2), r = x − n·ln 2 in two parts (the first part has few bits,
  so n times it is exact), e^r by its Taylor polynomial (degree 7 for float32, 13 for
  float64: the truncation error is below 1e-9 and 1e-17 relative for |r| ≤ ln 2 / 2), and
  2^n as two normal powers of two built from exponent bits (so that the product reaches
  the subnormals and overflows to inf exactly where e^x does). ``exphl(hi, lo)`` is
  e^(hi + lo) for a small ``lo`` added after the reduction, which keeps the low part of an
  argument that is not a float.
- ``cosh`` (float32, w): e + 1/(4e) with e = e^(|x| − ln 2), finite wherever cosh is.
  ``cosh`` (float64): Note [float64 cosh].
- ``erfc`` (float64): Note [float64 erfc].
- The ``w`` set, float64 arithmetic to float32 accuracy (relative error below 1.5e-8), for
  float32 quantities computed in float64: ``exp_w`` with a degree-7 polynomial and
  ``erfc_w`` = e^(−a²)·``erfcx_w``(a), where erfcx_w(a) = G(z)/(a + k) with one division
  and no split or separate formula near 0, which this accuracy does not need. Splitting
  erfc this way also lets a formula share e^(−a²) (``erfc_through_erfcx``).
- ``erfc`` (float32): the w form with its own fit over a ≤ 10.5 (beyond, erfc is 0 in
  float32), rounded once.
- ``log1p`` (w): float64 arithmetic. u = 1 + x and the rounding error of that sum,
  r = (x − (u − 1))/u; u = 2^k·m with m in [√2/2, √2) from the exponent bits;
  log m = 2·atanh(s), s = (m − 1)/(m + 1), by its Taylor series in s² (|s| ≤ 0.172);
  log1p(x) = k·ln 2 + log m + r. ``log1p`` (float64 and float32, each in its own
  arithmetic, below 1 ULP): the same reduction, with f = m − 1 exact (or x itself when
  k = 0), ln 2 in two parts and the series arranged so that the large terms are exact
  (:func:`_log1p_reduced`).
- ``expm1`` (w): float64 arithmetic. Its Taylor polynomial for |x| < ln 2 / 2, where
  e^x − 1 would cancel, and the float64 exp minus 1 beyond (no cancellation there).
  ``expm1`` (float64 and float32, each in its own arithmetic, below 1 ULP): x = k·ln 2 + r
  and 2^k·((1 − 2^−k) + r + s) with the large terms summed exactly (:func:`_expm1_reduced`).
- ``sin``, ``cos`` (f32 through w, rounded once; w; f64): Note [sin and cos].

Note [Clamps]: floats are clamped by ``np.maximum``/``np.minimum`` (NaN kept). The select
form, ``lo if x < lo else x``, gives the same bits and is one vmaxps on x86 where
``np.maximum``'s NaN propagation is a compare, an unordered compare and a blend; in the
float32 exp it made swish's loops 1.2 times faster, but LLVM then vectorized the loops
that also sum a parameter gradient (softplus, bump) so that they ran 1.5 to 2 times
slower, so it is not used. ``_clamp`` writes either (the sin/cos reduction clamps an
integer exponent by selects).

Note [tanh and log]: float32 versions (and "w"), in float64 arithmetic rounded once, as
log1p and expm1. tanh(x) = −e/(2 + e) with e = expm1(−2|x|) (the "w" expm1), the sign of x
put back after: no cancellation anywhere (e is in (−1, 0], 2 + e in (1, 2]), so the error
is the float64 expm1's, far below a float32 ULP, and the rounding to float32. log(x) =
k·ln 2 + 2·atanh(s) from the exponent bits, x = 2^k·m with m in [√2/2, √2) and s = (m −
1)/(m + 1), by the series of log1p (subnormal float64 arguments, which only "w" sees, are
scaled by 2^54 first). Neither has a float64 version: the float64 kernels call libm for
them (below 1 ULP), which keeps those loops scalar (FLOAT32_ONLY).

Note [Double-word arithmetic]: a result within 1 ULP needs every error but the last
rounding to be a small fraction of an ULP, and a product or sum of two rounded values
already carries up to 1 ULP. So the float64 erfc and cosh carry their intermediate values as
double words, hi + lo with |lo| ≤ ULP(hi)/2 (about 106 bits), and round once at the end.
The exact error terms come from plain arithmetic: the two-sum (s = a + b;
e = (a − (s − v)) + (b − v), v = s − a; when |a| ≥ |b|, Fast2Sum: e = (a − s) + b) and
Dekker's two-product (each factor split into two 26-bit halves, c·v − (c·v − v) with
c = 2^27 + 1, whose four products are exact). They hold only if every operation is rounded
as written: no fused multiply-add the source does not ask for, no reassociation. The
kernels are compiled without fastmath, so LLVM does neither (the only fma instructions are
the ``_fma`` calls of Note [Fused multiply-add]; tests/test_elementary.py checks that the
Numba and NumPy versions agree bit for bit).

Note [Fused multiply-add]: every polynomial step p·r + c, and the second step of the exp's
range reduction, is ``_fma(p, r, c)``: rounded once instead of twice, and one instruction
instead of two. In a float32 loop whose work is one exp that made the loop about a fifth
faster, and the error is never larger. The kernels define ``_fma`` with LLVM's fma
intrinsic (FMA_SOURCE); the NumPy versions call a ufunc compiled from the same source
(``numpy_fma``), so both give the same bits, on machines with an FMA unit and without
(there the intrinsic is libm's fma, correctly rounded too). Nowhere else is a product
fused with a sum: not in the double-word arithmetic, whose error terms need each product
rounded on its own; except in the sin/cos reduction (Note [sin and cos]), where
fma(a, b, −a·b) is the exact error of a product and fma(−k, P1, x) an exact difference.

Note [Double-word exp]: ``expdw(x, lo)`` (float64 only) is e^(x + lo) as 2^n·(h + l),
h + l within about 2^-58 relative. n = round(x/ln 2); t = x − n·ln2_head is exact (n·ln2_head
has at most 31 bits and is within a factor 2 of x), and r = t − n·ln2_tail + lo is kept
as rh + rl by two two-sums. e^r = 1 + rh + rh²/2 + rh³·P(rh) + rl·e^rh, where rh² is a
two-product and 1 + rh + rh²/2 is summed exactly (Fast2Sum twice), so only the small terms
rh³·P (below 0.008; P the Taylor polynomial, degree 14 in all) and rl·e^rh are rounded.
The scale 2^n is left to the caller, which applies it after its last operation, so the
value is never rounded into the subnormals before that.

Note [float64 erfc]: three ranges, each computed as a double word and rounded once
(Note [Double-word arithmetic]; 0.72 ULP measured, the largest over 83,000 arguments
spread over the ranges below and the subnormal results, against 50-digit mpmath; the
single-rounding version it replaces had 2.51):

- |x| < 1/2: erfc(x) = 1 − x·P(x²), P a fit of erf(√u)/√u over [0, 1/4] with its constant
  term as a double word and the rest, u·P1(u) ≤ 0.1, added by Fast2Sum; x·P by a
  two-product; 1 − x·P by Fast2Sum. At x = 1/2, 1 − x·P cancels a bit of x·P
  (erfc(1/2) = 0.48, x·P = 0.52): half an ULP of a single-word x·P is a whole ULP there.
- a = |x| ≥ 1/2: erfc(a) = e^(−a²)·erfcx(a), where erfcx(a) = Q(z)/(a + c), z =
  (a − k)/(a + k) (Weideman's mapping of [0, ∞) to [−1, 1]), Q a Chebyshev fit over
  a ≥ 0.49 (its coefficients computed here with mpmath) with its constant as a double
  word, 1/(a + c) as a double word (the reciprocal corrected by the exact residual
  1 − w·(a + c), two-product), and e^(−a²) by ``expdw`` from a² split into an exactly
  squared head s² (s = a rounded to 2^-20) and the tail (a − s)(a + s). The two products
  of double words are two-products plus the cross terms. z itself stays a rounded float:
  its error, up to 1.5·2^-53 relative, reaches the result through dQ/dz·z/Q, which the
  normalization c sets: with c = 1/2 (Q = erfcx·(1 + 2a)/2, Weideman's choice) it is 0.29
  at a = 1/2 (1.02 ULP measured there); c = 0.625 keeps it below 0.08 for all a.
  The fit (25 terms, k = 3.5) is accurate to 3e-19.
- x ≤ −1/2: erfc(x) = 2 − erfc(a), the double word of erfc(a) ≤ 0.48 subtracted from 2
  by Fast2Sum, rounded once.

Subnormal results (a > 26.55): the double word, rounded to float64 and then scaled by
2^n, rounds twice (to 53 bits, then to the subnormal spacing), which can reach 1 ULP. So
there the scaled head yh·2^n is formed first (one rounding), its rounding error recovered
exactly (the rounded head scaled back up by 2^−n is a float), and error plus tail, scaled,
added to it: one rounding of the whole. That sum is not used for normal results: the
scaled tail is itself rounded to the subnormal spacing, a quarter of an ULP or more of a
result above 2^−1021 (0.76 ULP measured before the two cases were told apart).
Everything is computed for every element and the range selected at the end, so there is
no branch. a is clamped at 28, where erfc(a) is 0; NaN passes through.
Note [sin and cos]: x = q·π/2 + r, |r| ≤ π/4, r a double word rh + rl; then the Taylor
polynomial of sin or cos at r (f64: sin = rh + (rh·z·S(z) + rl·(1 − z/2)), cos =
w + (((1 − w) − z/2) + (z²·C(z) − rh·rl)) with w = 1 − z/2, z = rh², whose rounding error
(1 − w) − z/2 is exact; w: the plain polynomials in rh), and the last two bits of q pick
±sin or ±cos. Two reductions, both computed for every element and selected (no branch):

- |x| < 2^28, Cody–Waite: k = round(x·2/π); x − k·P1 is exact with one fused
  multiply-add (P1 = π/2 rounded; the exact difference is a multiple of 2^-52 below 1);
  k·P2 is a product with its exact error (fma), subtracted by two-sum; k·P3 (π/2 =
  P1 + P2 + P3 to 159 bits) goes into the low part. Error in r below 2^-130 absolute.
- |x| ≥ 2^28, Payne–Hanek: |x| = m·2^E with m an integer below 2^53; x·2/π ≡ m·G(E)
  (mod 4), G(E) = 2^E·(2/π) mod 4, stored per exponent as four 53-bit parts at fixed
  places (``_RPT``, 996 rows built at import from 1200 bits of 2/π; the loads vectorize as
  gathers). The products m·T_k are exact as a product and its fma error; the first two
  are reduced mod 4 and the integer part (q) taken off exactly, and the small terms are
  summed by two-sums, so that a fraction that cancels to 2^-61 (the closest a float64
  comes to a multiple of π/2) still has over 90 correct bits. "w" drops the fourth part.
  The fraction times π/2 (two parts) gives r.

NaN and ±inf give NaN (x − x); sin keeps −0.0 and returns x itself below 2^-27. The f32
versions are the w versions of float64(x) rounded once. Measured against 50-digit mpmath
(tests/test_elementary.py): f32 0.5 ULP, f64 0.72 ULP over grids up to 1e304, near
multiples of π/2 up to 2^62 and at 6381956970095103·2^797.

The loops of the generated kernels call the fast versions first (``_sin_fast``,
``_cos_fast``, ``_rempi_fast``: Cody–Waite alone, the same operations and bits below 2^28
and NaN from there on) and the full ones only for a block in which those gave a NaN: Note
[Fast path for sin and cos] (symact/emit/templates/kernels_loops_checked.py.tmpl, printed
into the generated kernels.py).

Note [float64 cosh]: cosh(x) = 2^(n−1)·(h + l + 2^(−2n)/(h + l)) with 2^n·(h + l) = e^|x|
from ``expdw``; 1/(h + l) ≈ 1/h − l/h², and the sum h + 2^(−2n)/h by Fast2Sum, so only the
small terms are rounded before the last rounding (0.62 ULP measured over 60,000
arguments from 1e-320 to the overflow, against 1.29 for e + 1/(4e) with
e = e^(|x| − ln 2) in single words). 2^(−2n) is clamped at 2^−1000, where it no longer
counts, and 2^(n−1) is two normal powers of two applied last, so the result overflows
exactly where cosh does (|x| > 710.4758600739439).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .functions import Erfc, Erfcx

__all__ = ["FUNCTIONS", "closure", "erfc_through_erfcx", "numpy_functions", "source"]

#: f32 and f64: float32 and float64 arithmetic, to the accuracy of the dtype; w: float64
#: arithmetic to float32 accuracy, for float32 quantities computed in float64 (Note
#: [float32 computed in float64] in symact/derive.py), where the float64 helpers would
#: spend time on digits that the final rounding drops.
SUFFIXES = ("f32", "f64", "w")

#: The functions, by the sympy name they replace, and the helper each prints as.
FUNCTIONS = {
    "exp": "_exp",
    "Exp": "_exp",
    "cosh": "_cosh",
    "erfc": "_erfc",
    "Erfc": "_erfc",
    "log1p": "_log1p",
    "expm1": "_expm1",
    "tanh": "_tanh",
    "log": "_log",
    "sin": "_sin",
    "cos": "_cos",
}

#: Helpers with float32 versions only (and "w", float64 arithmetic to float32 accuracy):
#: float64 kernels call libm for these, which is below 1 ULP where these would not be.
FLOAT32_ONLY = frozenset({"_tanh", "_log"})

#: Terms of the exp Taylor polynomial (degree + 1) per dtype, and for exp in float64 to
#: float32 accuracy (``_expw``, used by the float32 erfc).
_EXP_TERMS = {"f32": 8, "f64": 14, "w": 8}
#: ln 2 = _LN2_HI + _LN2_LO per dtype; _LN2_HI has few significant bits so that n·_LN2_HI is
#: exact for every n the clamped argument gives.
_LN2_HI = {"f32": 0.693359375, "f64": 0.693145751953125}
with mpmath.workdps(50):
    _LN2_LO = {sfx: float(mpmath.log(2) - mpmath.mpf(hi)) for sfx, hi in _LN2_HI.items()}
#: Arguments are clamped here: beyond, e^x is 0 or inf in the dtype.
_EXP_RANGE = {"f32": (-104.0, 89.0), "f64": (-746.0, 710.0)}
#: (exponent bias, mantissa bits, integer type) per dtype.
_BITS = {"f32": (127, 23, "np.int32"), "f64": (1023, 52, "np.int64")}

#: Terms of the erfc fits, chosen for a fit error below 1e-8 relative (w: the erfcx form;
#: float32: the erfcx form over a ≤ 10.5, with its k).
_ERFCX_W_TERMS = 12
_ERFC32_TERMS, _ERFC32_K = 11, 3.0
#: Beyond this |x|, erfc(|x|) is 0 in float64 (the float32 path rounds that to 0 too).
_ERFC_CLAMP = 28.0
#: Beyond this |x|, erfc(|x|) rounds to 0 in float32 (erfc(10.06) is float32's smallest
#: subnormal).
_ERFC32_CLAMP = 10.5
#: Adding and subtracting this rounds a ≤ 28 to a multiple of 2^-20 (at most 25 bits), so
#: its square is exact in float64.
_SPLIT = 2.0**32
#: Terms of the series of atanh(s)/s in z = s² for log1p (|s| ≤ 3 − 2√2, z ≤ 0.0295): the
#: truncation is below 1e-13 relative.
_LOG_TERMS = 8
#: Terms of the series of (2·atanh(s) − 2s)/s in z = s² for the log1p of each dtype's own
#: arithmetic (z ≤ 0.0295): the truncation is below 2e-20 relative in float64, 1e-10 in
#: float32.
_LOG1P_REDUCED_TERMS = {"f64": 12, "f32": 6}
#: Terms of the Taylor polynomial of (expm1(x) − x)/x² for |x| ≤ ln 2 / 2 (degree 9): the
#: truncation is below 1e-11 relative.
_EXPM1_TERMS = 10
_EXPM1_SMALL = math.log(2.0) / 2
#: The expm1 of each dtype's own arithmetic (:func:`_expm1_reduced`): terms of the Taylor
#: polynomial of (e^r − 1 − r)/r² for |r| ≤ ln 2 / 2 (truncation below 1e-18 relative in
#: float64, 1e-9 in float32); below LOW, e^x − 1 rounds to −1; above HIGH it overflows.
_EXPM1_REDUCED = {"f64": (14, -40.0, 709.782712893384), "f32": (7, -18.0, 88.72283172607422)}
#: The double-word exp (:func:`_expdw`): terms of the Taylor polynomial of
#: (e^r − 1 − r − r²/2)/r³ for |r| ≤ ln 2 / 2 (degree 14 in all: truncation below 1e-19
#: relative).
_EXPDW_TERMS = 12
#: The float64 erfc: terms of the fit of erf(√u)/√u on [0, 1/4] (fit error 2e-20), and of
#: Q(z) = erfcx(a)·(a + 1/2) in z = (a − k)/(a + k) over a ≥ 1/2 (fit error 3e-19), with k.
_ERF64_TERMS = 10
_ERFCX64_TERMS, _ERFCX64_K, _ERFCX64_C = 25, 3.5, 0.625
#: Dekker's splitting constant 2^27 + 1: c·v − (c·v − v) is v rounded to 26 bits.
_DEKKER = 134217729.0


def _arith(sfx: str) -> str:
    """The dtype suffix of the arithmetic of helpers with suffix ``sfx``."""
    return "f64" if sfx == "w" else sfx


def _const(sfx: str, value: float) -> str:
    text = repr(float(value))
    return f"np.float32({text})" if sfx == "f32" else text


def _horner(var: str, out: str, coeffs: Sequence[float], const: Callable[[float], str]) -> list[str]:
    """Lines computing the polynomial with ``coeffs`` (highest degree first) in ``var``, one
    fused multiply-add per step (Note [Fused multiply-add])."""
    lines = [f"{out} = {const(coeffs[0])}"]
    lines += [f"{out} = _fma({out}, {var}, {const(c)})" for c in coeffs[1:]]
    return lines


#: The source of ``_fma(a, b, c)``, a·b + c rounded once, for kernels.py (Note [Fused
#: multiply-add]): LLVM's fma intrinsic, one instruction on a machine with FMA (a correctly
#: rounded libm call on one without). Arguments of mixed types are converted to the wider.
FMA_SOURCE = """\
@numba.extending.intrinsic
def _fma(typingctx, a, b, c):
    \"\"\"a*b + c, rounded once.\"\"\"
    t = typingctx.unify_types(a, b, c)
    if not isinstance(t, numba.types.Float):
        return None

    def codegen(context, builder, signature, args):
        a, b, c = (context.cast(builder, v, ty, t) for v, ty in zip(args, signature.args))
        return builder.fma(a, b, c)

    return t(a, b, c), codegen
"""


@functools.cache
def numpy_fma() -> Callable[..., Any]:
    """``_fma`` for NumPy arrays and scalars: a ufunc over float32 and float64 compiled from
    the kernels' own FMA_SOURCE, so both round the same way on any machine."""
    import numba

    namespace: dict[str, Any] = {"numba": numba}
    exec(compile(FMA_SOURCE, "<symact elementary _fma>", "exec"), namespace)
    fma = namespace["_fma"]

    @numba.vectorize(["float32(float32, float32, float32)", "float64(float64, float64, float64)"])
    def _fma(a, b, c):  # pragma: no cover - compiled
        return fma(a, b, c)

    return _fma


@functools.cache
def _erfcx_g_coefficients(
    terms: int, k_value: float | None = None, a_max: float | None = None
) -> tuple[float, tuple[float, ...]]:
    """(k, G) with erfc(a)·e^(a²)·(a + k) ≈ G((a − k)/(a + k)) for 0 ≤ a (≤ a_max); k as
    Weideman chooses it, √(terms/√2), unless given."""
    with mpmath.workdps(50):
        k = mpmath.sqrt(terms / mpmath.sqrt(2)) if k_value is None else mpmath.mpf(k_value)

        def g(z: Any) -> Any:
            if z >= 1:
                return 1 / mpmath.sqrt(mpmath.pi)
            a = k * (1 + z) / (1 - z)
            return mpmath.erfc(a) * mpmath.exp(a * a) * (a + k)

        top = 1 if a_max is None else (a_max - k) / (a_max + k)
        coeffs, _ = mpmath.chebyfit(g, [-1, top], terms, error=True)
        return float(k), tuple(float(c) for c in coeffs)


def _double_word(coeffs: Sequence[Any]) -> tuple[tuple[float, ...], float]:
    """mpmath coefficients (highest degree first) as floats, with the rounding error of the
    constant term as a second float (the constant is added as a double word)."""
    head = tuple(float(c) for c in coeffs)
    return head, float(coeffs[-1] - mpmath.mpf(head[-1]))


@functools.cache
def _erf64_coefficients() -> tuple[tuple[float, ...], float]:
    """P(u) ≈ erf(√u)/√u on [0, 1/4] for the float64 erfc; its constant as a double word."""
    with mpmath.workdps(50):

        def g(u: Any) -> Any:
            return mpmath.erf(mpmath.sqrt(u)) / mpmath.sqrt(u) if u > 0 else 2 / mpmath.sqrt(mpmath.pi)

        coeffs, _ = mpmath.chebyfit(g, [0, mpmath.mpf(1) / 4], _ERF64_TERMS, error=True)
        return _double_word(coeffs)


@functools.cache
def _erfcx64_coefficients() -> tuple[tuple[float, ...], float]:
    """Q with erfc(a)·e^(a²)·(a + 1/2) ≈ Q((a − k)/(a + k)) for a ≥ 1/2 (k = _ERFCX64_K), for
    the float64 erfc; its constant as a double word."""
    with mpmath.workdps(50):
        k = mpmath.mpf(_ERFCX64_K)

        def g(z: Any) -> Any:
            if z >= 1:
                return 1 / mpmath.sqrt(mpmath.pi)
            a = k * (1 + z) / (1 - z)
            return mpmath.erfc(a) * mpmath.exp(a * a) * (a + mpmath.mpf(_ERFCX64_C))

        bottom = (mpmath.mpf("0.49") - k) / (mpmath.mpf("0.49") + k)
        coeffs, _ = mpmath.chebyfit(g, [bottom, 1], _ERFCX64_TERMS, error=True)
        return _double_word(coeffs)


def _two_product(a: str, b: str, p: str, e: str, split: Iterable[str] = ()) -> list[str]:
    """Lines setting p + e = a·b exactly (Dekker: a and b split into 26-bit halves whose
    products are exact), for |a|, |b| below 2^995; names in ``split`` are split already."""
    c = functools.partial(_const, "f64")
    lines = []
    for v in dict.fromkeys(v for v in (a, b) if v not in split):
        lines += [
            f"{v}_c = {c(_DEKKER)} * {v}",
            f"{v}_h = {v}_c - ({v}_c - {v})",
            f"{v}_l = {v} - {v}_h",
        ]
    lines += [
        f"{p} = {a} * {b}",
        f"{e} = (({a}_h * {b}_h - {p}) + {a}_h * {b}_l + {a}_l * {b}_h) + {a}_l * {b}_l",
    ]
    return lines


def _pow2(exponent: str) -> str:
    """2^exponent, for an int64 exponent of a normal float64."""
    return f"np.int64((np.int64({exponent}) + np.int64(1023)) << np.int64(52)).view(np.float64)"


def _exp_source(name: str, sfx: str, terms: int, low_part: bool, target: str) -> list[str]:
    """e^x (or e^(x + lo) with ``low_part``) by a Taylor polynomial with ``terms`` terms."""
    c = functools.partial(_const, sfx)
    arith = _arith(sfx)
    bias, bits, itype = _BITS[arith]
    lo, hi = _EXP_RANGE[arith]
    taylor = [1.0 / math.factorial(k) for k in range(terms - 1, 1, -1)]
    float_type = "np.float32" if arith == "f32" else "np.float64"
    return [
        f"def {name}_{sfx}(x{', lo' if low_part else ''}):",
        f"    x = {_clamp(target, 'x', c(lo), None, select=False)}",
        f"    x = {_clamp(target, 'x', None, c(hi), select=False)}",
        f"    n = np.floor(x * {c(1 / math.log(2))} + {c(0.5)})",
        f"    r = _fma(n, {c(-_LN2_LO[arith])}, {'(x - n * ' + c(_LN2_HI[arith]) + ') + lo' if low_part else 'x - n * ' + c(_LN2_HI[arith])})",
        *("    " + line for line in _horner("r", "p", taylor, c)),
        f"    p = _fma(p * r, r, r) + {c(1.0)}",
        f"    k = {itype}(n)",
        f"    h = k >> {itype}(1)",
        f"    s = {itype}((h + {itype}({bias})) << {itype}({bits})).view({float_type})",
        f"    t = {itype}((k - h + {itype}({bias})) << {itype}({bits})).view({float_type})",
        "    return p * s * t",
    ]


def _expdw(sfx: str, target: str) -> list[str]:
    """e^(x + lo) as a double word scaled by a power of two, for the float64 helpers that
    round a product or a sum of exponentials once ("f64" only): Note [Double-word exp]."""
    c = functools.partial(_const, "f64")
    taylor = [1.0 / math.factorial(j) for j in range(_EXPDW_TERMS + 2, 2, -1)]
    body = [
        f"x = {_clamp(target, 'x', c(-1000.0), c(1000.0), select=False)}",
        f"kf = np.floor(x * {c(1 / math.log(2))} + {c(0.5)})",
        "# exact: kf·ln2_head has at most 31 bits and is within a factor 2 of x (or 0)",
        f"t = x - kf * {c(_LN2_HI['f64'])}",
        f"u = kf * {c(_LN2_LO['f64'])}",
        "# r = rh + rl = t - u + lo, each sum with its rounding error (two-sum)",
        "r1 = t - u",
        "v1 = r1 - t",
        "e1 = (t - (r1 - v1)) - (u + v1)",
        "rh = r1 + lo",
        "v2 = rh - r1",
        "e2 = (r1 - (rh - v2)) + (lo - v2)",
        "rl = e1 + e2",
        *_two_product("rh", "rh", "sq", "sq_e"),
        *_horner("rh", "p", taylor, c),
        "# 1 + rh + rh²/2 with both sums exact (|1| > |rh|, |1 + rh| > rh²/2)",
        f"s1 = {c(1.0)} + rh",
        f"f1 = ({c(1.0)} - s1) + rh",
        f"s2 = s1 + {c(0.5)} * sq",
        f"f2 = (s1 - s2) + {c(0.5)} * sq",
        f"low = ((f1 + f2) + ({c(0.5)} * sq_e + rl * s2)) + (sq * rh) * p",
        "h = s2 + low",
        "return h, (s2 - h) + low, np.int64(kf)",
    ]
    return ["def _expdw_f64(x, lo):"] + ["    " + line for line in body]


def _exphl(sfx: str, target: str) -> list[str]:
    return _exp_source("_exphl", sfx, _EXP_TERMS[sfx], low_part=True, target=target)


def _exp(sfx: str, target: str) -> list[str]:
    if sfx == "w":
        return _exp_source("_exp", sfx, _EXP_TERMS[sfx], low_part=False, target=target)
    return [f"def _exp_{sfx}(x):", f"    return _exphl_{sfx}(x, {_const(sfx, 0.0)})"]


def _cosh(sfx: str, target: str) -> list[str]:
    if sfx == "f64":
        return _cosh64(target)
    c = functools.partial(_const, sfx)
    return [
        f"def _cosh_{sfx}(x):",
        "    # e = e^(|x| - ln 2) = e^|x|/2, finite wherever cosh is; |x| - the high part of",
        "    # ln 2 is exact for large |x|, where an error in the argument would be multiplied",
        f"    e = _exphl_{_arith(sfx)}(np.abs(x) - {c(_LN2_HI[_arith(sfx)])}, -{c(_LN2_LO[_arith(sfx)])})",
        f"    return e + {c(0.25)} / e",
    ]


def _cosh64(target: str) -> list[str]:
    """cosh to float64 accuracy: Note [float64 cosh]."""
    c = functools.partial(_const, "f64")
    body = [
        f"eh, el, n = _expdw_f64(np.abs(x), {c(0.0)})",
        "# e^-|x| = 2^-n / (eh + el) ≈ 2^-n (1/eh - el/eh²); 2^-2n, clamped where it no longer counts",
        f"inv = {c(1.0)} / eh",
        f"v = {_pow2('-np.int64(2) * np.minimum(n, np.int64(500))')} * inv",
        "s = eh + v",
        "t = ((eh - s) + v) + (el - v * (el * inv))",
        "# 2^(n-1) as two normal powers of two, so that the last product overflows where cosh does",
        "m = (n - np.int64(1)) >> np.int64(1)",
        f"return (s + t) * {_pow2('m')} * {_pow2('n - np.int64(1) - m')}",
    ]
    return ["def _cosh_f64(x):"] + ["    " + line for line in body]


def _select(target: str, cond: str, a: str, b: str) -> str:
    """``a`` where ``cond`` else ``b``: np.where for NumPy arrays; for Numba a conditional
    expression on scalars (np.where there returns a 0-d array), which LLVM compiles to a
    vector select when both sides are computed already."""
    return f"np.where({cond}, {a}, {b})" if target == "numpy" else f"({a} if {cond} else {b})"


def _clamp(target: str, value: str, low: str | None, high: str | None, select: bool = True) -> str:
    """``value`` clamped to [low, high] (either may be None: no bound), NaN kept: by selects,
    or with ``select=False`` by np.maximum/np.minimum (Note [Clamps])."""
    if low is not None:
        value = _select(target, f"{value} < {low}", low, value) if select else f"np.maximum({value}, {low})"
    if high is not None:
        value = _select(target, f"{value} > {high}", high, value) if select else f"np.minimum({value}, {high})"
    return value


def _erfc(sfx: str, target: str) -> list[str]:
    c = functools.partial(_const, "f64")
    sign = f"y = {_select(target, f'x < {c(0.0)}', f'{c(2.0)} - y', 'y')}"
    if sfx == "f32":
        # float64 arithmetic, then one rounding; a shorter fit, over a ≤ 10.5 only: beyond,
        # erfc is 0 in float32
        k, g = _erfcx_g_coefficients(_ERFC32_TERMS, _ERFC32_K, _ERFC32_CLAMP)
        body = [
            "x = np.float64(x)",
            "a = np.abs(x)",
            f"a = {_clamp(target, 'a', None, c(_ERFC32_CLAMP), select=False)}",
            f"w = {c(1.0)} / (a + {c(k)})",
            f"z = (a - {c(k)}) * w",
            *_horner("z", "q", g, c),
            "y = _exp_w(-(a * a)) * (q * w)",
            sign,
            "y = np.float32(y)",
        ]
    elif sfx == "w":
        # float64 arithmetic rounds far below float32's ULP: no split of a², no separate
        # formula near 0, a shorter exp
        body = [
            "a = np.abs(x)",
            f"a = {_clamp(target, 'a', None, c(_ERFC_CLAMP), select=False)}",
            "y = _exp_w(-(a * a)) * _erfcx_w(a)", sign]
    else:
        return _erfc64(target)
    return [f"def _erfc_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _erfc64(target: str) -> list[str]:
    """erfc to float64 accuracy: Note [float64 erfc]."""
    c = functools.partial(_const, "f64")
    p, p_lo = _erf64_coefficients()
    q, q_lo = _erfcx64_coefficients()
    k = _ERFCX64_K
    body = [
        "a = np.abs(x)",
        f"a = {_clamp(target, 'a', None, c(_ERFC_CLAMP), select=False)}",
        "# |x| < 1/2: 1 - x·(P0 + u·P1(u)), u = x², P0 a double word, x times it a double word",
        "u = x * x",
        *_horner("u", "p", p[:-1], c),
        "p = u * p",
        f"ph = {c(p[-1])} + p",
        f"pl = (({c(p[-1])} - ph) + p) + {c(p_lo)}",
        *_two_product("x", "ph", "m", "me"),
        "me = me + x * pl",
        f"s = {c(1.0)} - m",
        f"small = s + ((({c(1.0)} - s) - m) - me)",
        "# |x| >= 1/2: e^(-a²) · Q(z) / (a + c), each factor a double word",
        f"z = (a - {c(k)}) / (a + {c(k)})",
        *_horner("z", "q", q[:-1], c),
        "q = z * q",
        f"qh = {c(q[-1])} + q",
        f"ql = (({c(q[-1])} - qh) + q) + {c(q_lo)}",
        f"d = a + {c(_ERFCX64_C)}",
        f"dl = (a - d) + {c(_ERFCX64_C)}",
        f"wh = {c(1.0)} / d",
        *_two_product("wh", "d", "g", "ge"),
        f"wl = wh * ((({c(1.0)} - g) - ge) - wh * dl)",
        *_two_product("qh", "wh", "xh", "xe", split=["wh"]),
        "xl = xe + (qh * wl + ql * wh)",
        f"sa = (a + {c(_SPLIT)}) - {c(_SPLIT)}",
        "eh, el, n = _expdw_f64(-(sa * sa), -((a - sa) * (a + sa)))",
        *_two_product("eh", "xh", "yh", "ye"),
        "yl = ye + (eh * xl + el * xh)",
        "n1 = n >> np.int64(1)",
        f"s1 = {_pow2('n1')}",
        f"s2 = {_pow2('n - n1')}",
        "yh2 = (yh * s1) * s2",
        "yl2 = (yl * s1) * s2",
        "# a normal result: the double word rounded once, then scaled exactly; a subnormal one:",
        "# yh2 is yh rounded a second time, and its rounding error is exact",
        f"sub = yh2 + ((yh - (yh2 * {_pow2('n1 - n')}) * {_pow2('-n1')}) + yl) * s1 * s2",
        "y = ((yh + yl) * s1) * s2",
        f"y = {_select(target, f'yh2 < {c(2.0**-1022)}', 'sub', 'y')}",
        "# 2 - erfc(a), erfc(a) <= 0.48 as a double word: the sum with 2 rounds once",
        f"t = {c(2.0)} - yh2",
        f"neg = t + ((({c(2.0)} - t) - yh2) - yl2)",
        f"y = {_select(target, f'x < {c(0.0)}', 'neg', 'y')}",
        f"y = {_select(target, f'a < {c(0.5)}', 'small', 'y')}",
    ]
    return ["def _erfc_f64(x):"] + ["    " + line for line in body] + ["    return y"]


def _erfcx(sfx: str, target: str) -> list[str]:
    """e^(a²)·erfc(a) for a ≥ 0, to float32 accuracy in float64 ("w" only)."""
    c = functools.partial(_const, "f64")
    k, g = _erfcx_g_coefficients(_ERFCX_W_TERMS)
    body = [
        f"w = {c(1.0)} / (a + {c(k)})",
        f"z = (a - {c(k)}) * w",
        *_horner("z", "q", g, c),
        "return q * w",
    ]
    return [f"def _erfcx_{sfx}(a):"] + ["    " + line for line in body]


def _log1p(sfx: str, target: str) -> list[str]:
    """log(1 + x): "f64" and "f32" in their own arithmetic, below 1 ULP
    (:func:`_log1p_reduced`); "w" in float64 arithmetic to float32 accuracy."""
    if sfx != "w":
        return _log1p_reduced(sfx, target)
    c = functools.partial(_const, "f64")
    series = [1.0 / (2 * k + 1) for k in reversed(range(_LOG_TERMS))]
    body = [
        "x = np.float64(x)",
        f"u = x + {c(1.0)}",
        "# the rounding error of 1 + x, relative to u",
        f"r = (x - (u - {c(1.0)})) / u",
        "b = np.float64(u).view(np.int64)",
        "k = (b >> np.int64(52)) - np.int64(1023)",
        "m = np.int64((b & np.int64(0xFFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000)).view(np.float64)",
        f"high = m > {c(math.sqrt(2.0))}",
        f"m = {_select(target, 'high', f'm * {c(0.5)}', 'm')}",
        f"k = {_select(target, 'high', 'k + np.int64(1)', 'k')}",
        f"s = (m - {c(1.0)}) / (m + {c(1.0)})",
        "z = s * s",
        *_horner("z", "p", series, c),
        f"y = np.float64(k) * {c(math.log(2.0))} + ({c(2.0)} * s * p + r)",
        "# 1 + x is 0, negative, inf or NaN: the bits above mean nothing",
        f"y = {_select(target, f'x == {c(-1.0)}', '-np.inf', 'y')}",
        f"y = {_select(target, f'x < {c(-1.0)}', 'np.nan', 'y')}",
        f"y = {_select(target, 'x == np.inf', 'np.inf', 'y')}",
        f"y = {_select(target, f'(x != x) | (x == {c(0.0)})', 'x', 'y')}",  # NaN; -0 stays -0
    ]
    return [f"def _log1p_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _log1p_reduced(sfx: str, target: str) -> list[str]:
    """log(1 + x) in the arithmetic of ``sfx`` ("f32" or "f64"), below 1 ULP (measured).
    u = 1 + x = 2^k·m with m in [√2/2, √2); f = m − 1 (exact), or f = x itself when k = 0
    (then 1 + x needs no rounding correction); c = (x − (u − 1))/u, the rounding error of
    1 + x relative to u. With s = f/(2 + f) and z = s², log(1 + f) = f − (f²/2 −
    s·(f²/2 + R)), R = Σ 2z^j/(2j+1) (j ≥ 1), which keeps the large terms exact and puts
    the rounding into the small ones; log1p(x) = k·ln2_head + (that + (k·ln2_tail + c)),
    ln 2 in two parts so that k·ln2_head is exact. float32 x stays in float32 arithmetic,
    so a float32 kernel's loop keeps its full vector width."""
    c = functools.partial(_const, sfx)
    bias, mantissa, int_type = _BITS[sfx]
    float_type = "np.float32" if sfx == "f32" else "np.float64"
    series = [2.0 / (2 * j + 1) for j in reversed(range(1, _LOG1P_REDUCED_TERMS[sfx] + 1))]
    fraction = hex((1 << mantissa) - 1)
    one = hex(bias << mantissa)

    def integer(value: int | str) -> str:
        return f"{int_type}({value})"

    def special(value: str) -> str:  # inf or NaN of the dtype (np.inf alone is a float64)
        return f"{float_type}({value})"

    body = [
        f"u = x + {c(1.0)}",
        f"r = (x - (u - {c(1.0)})) / u",
        f"b = {float_type}(u).view({int_type})",
        f"k = (b >> {integer(mantissa)}) - {integer(bias)}",
        f"m = {int_type}((b & {integer(fraction)}) | {integer(one)}).view({float_type})",
        f"high = m > {c(math.sqrt(2.0))}",
        f"m = {_select(target, 'high', f'm * {c(0.5)}', 'm')}",
        f"k = {_select(target, 'high', f'k + {integer(1)}', 'k')}",
        f"f = {_select(target, f'k == {integer(0)}', 'x', f'm - {c(1.0)}')}",
        f"r = {_select(target, f'k == {integer(0)}', c(0.0), 'r')}",
        f"h = {c(0.5)} * f * f",
        f"s = f / ({c(2.0)} + f)",
        "z = s * s",
        *_horner("z", "p", series, c),
        f"kf = {float_type}(k)",
        f"y = kf * {c(_LN2_HI[sfx])} + (f - (h - (s * (h + z * p) + (kf * {c(_LN2_LO[sfx])} + r))))",
        "# 1 + x is 0, negative, inf or NaN: the bits above mean nothing",
        f"y = {_select(target, f'x == {c(-1.0)}', special('-np.inf'), 'y')}",
        f"y = {_select(target, f'x < {c(-1.0)}', special('np.nan'), 'y')}",
        f"y = {_select(target, 'x == np.inf', special('np.inf'), 'y')}",
        f"y = {_select(target, f'(x != x) | (x == {c(0.0)})', 'x', 'y')}",  # NaN; -0 stays -0
    ]
    return [f"def _log1p_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _expm1(sfx: str, target: str) -> list[str]:
    """e^x − 1: "f64" and "f32" in their own arithmetic, below 1 ULP
    (:func:`_expm1_reduced`); "w" in float64 arithmetic to float32 accuracy, for the float64
    parts of float32 helpers."""
    if sfx != "w":
        return _expm1_reduced(sfx, target)
    c = functools.partial(_const, "f64")
    taylor = [1.0 / math.factorial(k) for k in range(_EXPM1_TERMS + 1, 1, -1)]
    body = [
        "x = np.float64(x)",
        *_horner("x", "p", taylor, c),
        "small = x + x * (x * p)",
        f"y = {_select(target, f'np.abs(x) < {c(_EXPM1_SMALL)}', 'small', f'_exp_f64(x) - {c(1.0)}')}",
        f"y = {_select(target, f'(x != x) | (x == {c(0.0)})', 'x', 'y')}",  # NaN; -0 stays -0
    ]
    return [f"def _expm1_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _tanh(sfx: str, target: str) -> list[str]:
    """tanh in float64 arithmetic ("f32": for float32 x, rounded once; "w"): Note [tanh and
    log]."""
    c = functools.partial(_const, "f64")
    body = [
        "x = np.float64(x)",
        f"e = _expm1_w({c(-2.0)} * np.abs(x))",
        f"t = -e / ({c(2.0)} + e)",
        f"y = {_select(target, f'x < {c(0.0)}', '-t', 't')}",
        f"y = {_select(target, f'(x != x) | (x == {c(0.0)})', 'x', 'y')}",  # NaN; -0 stays -0
    ]
    if sfx == "f32":
        body.append("y = np.float32(y)")
    return [f"def _tanh_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _log(sfx: str, target: str) -> list[str]:
    """log in float64 arithmetic ("f32": for float32 x, rounded once; "w"): Note [tanh and
    log]."""
    c = functools.partial(_const, "f64")
    series = [1.0 / (2 * k + 1) for k in reversed(range(_LOG_TERMS))]
    body = [
        "x = np.float64(x)",
        "# subnormal x (float64 only) scaled into the normal range first",
        f"tiny = x < {c(2.0**-1022)}",
        f"u = {_select(target, 'tiny', f'x * {c(2.0**54)}', 'x')}",
        "b = np.float64(u).view(np.int64)",
        f"k = (b >> np.int64(52)) - {_select(target, 'tiny', 'np.int64(1077)', 'np.int64(1023)')}",
        "m = np.int64((b & np.int64(0xFFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000)).view(np.float64)",
        f"high = m > {c(math.sqrt(2.0))}",
        f"m = {_select(target, 'high', f'm * {c(0.5)}', 'm')}",
        f"k = {_select(target, 'high', 'k + np.int64(1)', 'k')}",
        f"s = (m - {c(1.0)}) / (m + {c(1.0)})",
        "z = s * s",
        *_horner("z", "p", series, c),
        f"y = np.float64(k) * {c(math.log(2.0))} + {c(2.0)} * s * p",
        "# 0, negative, inf or NaN: the bits above mean nothing",
        f"y = {_select(target, f'x == {c(0.0)}', '-np.inf', 'y')}",
        f"y = {_select(target, f'x < {c(0.0)}', 'np.nan', 'y')}",
        f"y = {_select(target, 'x == np.inf', 'np.inf', 'y')}",
        f"y = {_select(target, 'x != x', 'x', 'y')}",
    ]
    if sfx == "f32":
        body.append("y = np.float32(y)")
    return [f"def _log_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _expm1_reduced(sfx: str, target: str) -> list[str]:
    """e^x − 1 in the arithmetic of ``sfx`` ("f32" or "f64"), below 1 ULP (measured).
    x = k·ln 2 + r (|r| ≤ ln 2 / 2; ln 2 in two parts, c the rounding error of r);
    e^r − 1 = r + s, s = r²·Q(r) + c·(1 + r) with Q the Taylor polynomial of
    (e^r − 1 − r)/r² (a small term: its rounding hardly counts); e^x − 1 =
    2^k·((1 − 2^−k) + r + s), where (1 − 2^−k) + r is summed exactly (two-sum; 1 − 2^−k is
    exact up to k = the mantissa's bits + 1, beyond it 1 with the tail moved into the small
    terms) and 2^k is two normal powers of two, so the result overflows exactly where
    e^x − 1 does. float32 x stays in float32 arithmetic, so a float32 kernel's loop keeps
    its full vector width."""
    c = functools.partial(_const, sfx)
    bias, mantissa, int_type = _BITS[sfx]
    terms, low, high = _EXPM1_REDUCED[sfx]
    taylor = [1.0 / math.factorial(j + 2) for j in reversed(range(terms))]
    exact = mantissa + 1  # 1 − 2^−k is exact up to here
    smallest = bias - 1  # 2^−k is a normal number up to here

    def integer(value: int) -> str:
        return f"{int_type}({value})"

    float_type = "np.float32" if sfx == "f32" else "np.float64"

    def pow2(exponent: str) -> str:
        return f"{int_type}(({int_type}({exponent}) + {integer(bias)}) << {integer(mantissa)}).view({float_type})"

    body = [
        f"xc = {_clamp(target, 'x', c(low), c(_EXP_RANGE[sfx][1]), select=False)}",
        f"kf = np.floor(xc * {c(1.0 / math.log(2.0))} + {c(0.5)})",
        f"k = {int_type}(kf)",
        f"hi = xc - kf * {c(_LN2_HI[sfx])}",
        f"lo = kf * {c(_LN2_LO[sfx])}",
        "r = hi - lo",
        "e = (hi - r) - lo",
        *_horner("r", "q", taylor, c),
        f"s = r * r * q + e * ({c(1.0)} + r)",
        f"t = {_select(target, f'k > {integer(exact)}', c(1.0), f'{c(1.0)} - ' + pow2(f'-np.minimum(k, {integer(exact)})'))}",
        f"t_lo = {_select(target, f'k > {integer(exact)}', '-' + pow2(f'-np.minimum(k, {integer(smallest)})'), c(0.0))}",
        "a = t + r",
        f"a_lo = {_select(target, 'np.abs(t) >= np.abs(r)', '(t - a) + r', '(r - a) + t')}",
        f"h = k >> {integer(1)}",
        f"y = (a + (a_lo + (s + t_lo))) * {pow2('h')} * {pow2('k - h')}",
        f"y = {_select(target, f'k == {integer(0)}', 'r + s', 'y')}",
        f"y = {_select(target, f'x > {c(high)}', f'{float_type}(np.inf)', 'y')}",  # np.inf alone is a float64
        f"y = {_select(target, f'x < {c(low)}', c(-1.0), 'y')}",
        f"y = {_select(target, f'(x != x) | (x == {c(0.0)})', 'x', 'y')}",  # NaN; -0 stays -0
    ]
    return [f"def _expm1_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


#: The sin/cos reduction (Note [sin and cos]): Cody–Waite below this |x|, Payne–Hanek from it.
_TRIG_CW_MAX = 2.0**28
#: π/2 in three 53-bit parts (Cody–Waite) and in two (the Payne–Hanek result to radians).
with mpmath.workprec(300):
    _PIO2 = mpmath.pi / 2
    _PIO2_1 = float(_PIO2)
    _PIO2_2 = float(_PIO2 - _PIO2_1)
    _PIO2_3 = float(_PIO2 - _PIO2_1 - _PIO2_2)
#: Bits of 2/π kept for the Payne–Hanek table (2/π·2^_RP_BITS, floored) and the biased
#: exponents it has rows for: from that of _TRIG_CW_MAX to the largest finite.
_RP_BITS = 1200
_RP_EX_LO, _RP_EX_HI = 1051, 2046
#: Taylor terms of (sin r − r)/r³ and (cos r − 1 + r²/2)/r⁴ in z = r², |r| ≤ π/4: f64 to a
#: truncation below 1e-21 relative, w below 1e-11.
_SIN_TERMS = {"f64": 9, "w": 5}
_COS_TERMS = {"f64": 8, "w": 5}


def rempi_table_source() -> str:
    """The source of ``_RPT`` for kernels.py and the NumPy versions: per biased exponent
    ex of x = m·2^(ex − 1075) (m an integer below 2^53), G = 2^(ex − 1075)·(2/π) mod 4 in
    four parts of 53 bits at fixed places (down to 2^-51, 2^-104, 2^-157, 2^-210), built
    at import from 2/π as an integer (Note [sin and cos])."""
    with mpmath.workprec(_RP_BITS + 64):
        bits = int(mpmath.floor(2 / mpmath.pi * mpmath.mpf(2) ** _RP_BITS))
    digits = f"{bits:x}"
    lines = [f'        "{digits[k:k + 80]}"' for k in range(0, len(digits), 80)]
    return "\n".join(
        [
            "def _rempi_rows():",
            '    """Note [sin and cos]: 2^E·(2/π) mod 4 in four 53-bit parts, per biased exponent."""',
            "    two_over_pi = int(",
            *lines[:-1],
            lines[-1] + ",",
            "        16,",
            "    )",
            "    mask = (1 << 53) - 1",
            "    rows = []",
            f"    for ex in range({_RP_EX_LO}, {_RP_EX_HI + 1}):",
            f"        g = (two_over_pi >> ({_RP_BITS} - (ex - 1075) - 210)) & ((1 << 212) - 1)",
            "        rows += [float(g >> 159) * 2.0**-51, float((g >> 106) & mask) * 2.0**-104,",
            "                 float((g >> 53) & mask) * 2.0**-157, float(g & mask) * 2.0**-210]",
            "    return np.array(rows, dtype=np.float64)",
            "",
            "",
            "_RPT = _rempi_rows()",
        ]
    )


def _two_sum(a: str, b: str, s: str, e: str) -> list[str]:
    """Lines setting s + e = a + b exactly (Knuth's two-sum, either order of magnitude)."""
    return [f"{s} = {a} + {b}", f"{s}_v = {s} - {a}", f"{e} = ({a} - ({s} - {s}_v)) + ({b} - {s}_v)"]


def _cody_waite() -> list[str]:
    """The lines of the Cody–Waite reduction (Note [sin and cos]): kf, and cw_h + cw_e."""
    c = functools.partial(_const, "f64")
    return [
        "# Cody–Waite: r1 exact (fma); kf·π/2 in three parts, the first two exactly",
        f"kf = np.floor(x * {c(2 / math.pi)} + {c(0.5)})",
        f"r1 = _fma(-kf, {c(_PIO2_1)}, x)",
        f"p = kf * {c(_PIO2_2)}",
        f"pe = _fma(kf, {c(_PIO2_2)}, -p)",
        *_two_sum("r1", "-p", "s", "se"),
        f"cw_l = (se - pe) - kf * {c(_PIO2_3)}",
        *_two_sum("s", "cw_l", "cw_h", "cw_e"),
    ]


def _rempi(sfx: str, target: str) -> list[str]:
    """x = q·π/2 + (rh + rl), |rh + rl| ≤ π/4 (slightly more), rh + rl a double word, q
    an int64 of which the last two bits count: Note [sin and cos]. "w" leaves out the
    last part of the table (for float32 accuracy its truncation, 2^-104 in quadrants, is
    far below what counts)."""
    c = functools.partial(_const, "f64")
    body = [
        *_cody_waite(),
        "# Payne–Hanek: |x| = m·2^E; m·G(E) mod 4 from four exact products",
        "a = np.abs(x)",
        "b = np.float64(a).view(np.int64)",
        "ex = b >> np.int64(52)",
        f"ex = {_clamp(target, 'ex', f'np.int64({_RP_EX_LO})', f'np.int64({_RP_EX_HI})')}",
        f"i = (ex - np.int64({_RP_EX_LO})) * np.int64(4)",
        "m = np.int64((b & np.int64(0xFFFFFFFFFFFFF)) | np.int64(0x4330000000000000)).view(np.float64)",
        "t0 = _RPT[i]",
        "t1 = _RPT[i + np.int64(1)]",
        "t2 = _RPT[i + np.int64(2)]",
        *(["t3 = _RPT[i + np.int64(3)]"] if sfx == "f64" else []),
        "h0 = m * t0",
        "l0 = _fma(m, t0, -h0)",
        f"v = h0 - {c(4.0)} * np.floor(h0 * {c(0.25)})",
        f"v = {_select(target, f'v >= {c(2.0)}', f'v - {c(4.0)}', 'v')}",
        "# exact: both multiples of 2^-51 below 4 in size",
        "va = v + l0",
        "h1 = m * t1",
        "l1 = _fma(m, t1, -h1)",
        *_two_sum("va", "h1", "bh", "be"),
        f"qf = np.floor(bh + {c(0.5)})",
        "f = bh - qf",
        "h2 = m * t2",
        "l2 = _fma(m, t2, -h2)",
        *_two_sum("be", "l1", "u", "ue"),
        *_two_sum("u", "h2", "w", "we"),
        "tail = (ue + we) + (l2 + m * t3)" if sfx == "f64" else "tail = ue + (we + l2)",
        *_two_sum("f", "w", "sh", "she"),
        "sl = she + tail",
        "fh = sh + sl",
        "fl = (sh - fh) + sl",
        "# to radians, the sign of x",
        f"ph = fh * {c(_PIO2_1)}",
        f"pl = _fma(fh, {c(_PIO2_1)}, -ph) + (fh * {c(_PIO2_2)} + fl * {c(_PIO2_1)})",
        f"sg = {_select(target, f'x < {c(0.0)}', c(-1.0), c(1.0))}",
        f"big = a >= {c(_TRIG_CW_MAX)}",
        f"rh = {_select(target, 'big', 'sg * ph', 'cw_h')}",
        f"rl = {_select(target, 'big', 'sg * pl', 'cw_e')}",
        f"qs = {_select(target, 'big', 'sg * qf', 'kf')}",
        "# NaN x: a quadrant of 0, so that the conversion is defined (the callers return NaN)",
        f"qs = {_select(target, 'qs != qs', c(0.0), 'qs')}",
        "q = np.int64(qs)",
        "return rh, rl, q",
    ]
    return [f"def _rempi_{sfx}(x):"] + ["    " + line for line in body]


def _rempi_fast(sfx: str, target: str) -> list[str]:
    """``_rempi`` by Cody–Waite alone: the same rh, rl and q wherever |x| < 2^28, and
    rh NaN (q 0) elsewhere, ±inf and NaN included (Note [Fast path for sin and cos])."""
    c = functools.partial(_const, "f64")
    body = [
        *_cody_waite(),
        "# |x| ≥ 2^28, ±inf, NaN: NaN, for the caller to recompute with _rempi",
        f"small = np.abs(x) < {c(_TRIG_CW_MAX)}",
        f"rh = {_select(target, 'small', 'cw_h', 'np.nan')}",
        f"qs = {_select(target, 'small', 'kf', c(0.0))}",
        "q = np.int64(qs)",
        "return rh, cw_e, q",
    ]
    return [f"def _rempi_fast_{sfx}(x):"] + ["    " + line for line in body]


def _sincos_source(name: str, sfx: str, target: str, fast: bool = False) -> list[str]:
    """sin or cos (``name``) in float64 arithmetic: Note [sin and cos]. "f32": the "w"
    version rounded once. ``fast``: the version that reduces by Cody–Waite alone (named
    ``{name}_fast``; Note [Fast path for sin and cos]): the same operations and bits where
    |x| < 2^28, NaN elsewhere."""
    full = f"{name}_fast" if fast else name
    if sfx == "f32":
        return [f"def {full}_f32(x):", f"    return np.float32({full}_w(np.float64(x)))"]
    c = functools.partial(_const, "f64")
    with mpmath.workdps(40):
        sin_taylor = [float((-1) ** (k + 1) / mpmath.factorial(2 * k + 3)) for k in reversed(range(_SIN_TERMS[sfx]))]
        cos_taylor = [float((-1) ** k / mpmath.factorial(2 * k + 4)) for k in reversed(range(_COS_TERMS[sfx]))]
    body = [
        f"rh, rl, q = _rempi{'_fast' if fast else ''}_{sfx}(x)",
        "z = rh * rh",
        *_horner("z", "ps", sin_taylor, c),
        *_horner("z", "pc", cos_taylor, c),
    ]
    if sfx == "f64":
        body += [
            "# sin(rh + rl) = rh + (rh·z·S(z) + rl·(1 - z/2)); cos = w + (((1 - w) - z/2) + ...)",
            "# with w = 1 - z/2, whose rounding error (1 - w) - z/2 is exact",
            f"s = rh + _fma(rh * z, ps, rl * ({c(1.0)} - {c(0.5)} * z))",
            f"hz = {c(0.5)} * z",
            f"w = {c(1.0)} - hz",
            f"co = w + ((({c(1.0)} - w) - hz) + _fma(z * z, pc, -(rh * rl)))",
        ]
    else:
        body += [
            "s = _fma(rh * z, ps, rh)",
            f"co = _fma(z * z, pc, {c(1.0)} - {c(0.5)} * z)",
        ]
    odd, flip = ("q", "q") if name == "_sin" else ("q", "q + np.int64(1)")
    swap = ("co", "s") if name == "_sin" else ("s", "co")
    body += [
        f"y = {_select(target, f'({odd} & np.int64(1)) != np.int64(0)', *swap)}",
        f"y = {_select(target, f'(({flip}) & np.int64(2)) != np.int64(0)', '-y', 'y')}",
    ]
    if name == "_sin":
        body.append(f"y = {_select(target, f'np.abs(x) < {c(2.0**-27)}', 'x', 'y')}  # -0 stays -0; sin x = x there")
    body.append(f"y = {_select(target, f'(x - x) != {c(0.0)}', 'x - x', 'y')}  # NaN, ±inf: NaN")
    return [f"def {full}_{sfx}(x):"] + ["    " + line for line in body] + ["    return y"]


def _sin(sfx: str, target: str) -> list[str]:
    return _sincos_source("_sin", sfx, target)


def _cos(sfx: str, target: str) -> list[str]:
    return _sincos_source("_cos", sfx, target)


def _sin_fast(sfx: str, target: str) -> list[str]:
    return _sincos_source("_sin", sfx, target, fast=True)


def _cos_fast(sfx: str, target: str) -> list[str]:
    return _sincos_source("_cos", sfx, target, fast=True)


_BUILDERS: dict[str, Callable[[str, str], list[str]]] = {
    "_expdw": _expdw,
    "_exphl": _exphl,
    "_exp": _exp,
    "_cosh": _cosh,
    "_erfc": _erfc,
    "_erfcx": _erfcx,
    "_log1p": _log1p,
    "_expm1": _expm1,
    "_tanh": _tanh,
    "_log": _log,
    "_rempi": _rempi,
    "_sin": _sin,
    "_cos": _cos,
    "_rempi_fast": _rempi_fast,
    "_sin_fast": _sin_fast,
    "_cos_fast": _cos_fast,
}

#: The helpers with a fast version, which reduces by Cody–Waite alone and returns NaN
#: where that does not hold (Note [Fast path for sin and cos]), and its name.
FAST = {"_sin": "_sin_fast", "_cos": "_cos_fast"}


def _depends(name: str, sfx: str) -> list[tuple[str, str]]:
    """The (helper, suffix) pairs that helper ``name`` for ``sfx`` calls."""
    if name == "_exp":
        return [] if sfx == "w" else [("_exphl", sfx)]
    if name == "_cosh":
        return [("_expdw", "f64")] if sfx == "f64" else [("_exphl", _arith(sfx))]
    if name == "_erfc":
        return {"f32": [("_exp", "w")], "w": [("_exp", "w"), ("_erfcx", "w")], "f64": [("_expdw", "f64")]}[sfx]
    if name == "_expm1":
        return [("_exp", "f64")] if sfx == "w" else []
    if name == "_tanh":
        return [("_expm1", "w")]
    if name in ("_sin", "_cos"):
        return [(name, "w")] if sfx == "f32" else [("_rempi", sfx)]
    if name in ("_sin_fast", "_cos_fast"):
        return [(name, "w")] if sfx == "f32" else [("_rempi_fast", sfx)]
    return []


def closure(names: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (helper, suffix) pairs needed by ``names``, each after what it calls."""
    order: list[tuple[str, str]] = []

    def visit(item: tuple[str, str]) -> None:
        if item in order:
            return
        for dep in _depends(*item):
            visit(dep)
        order.append(item)

    for item in sorted(names):
        visit(item)
    return order


def source(name: str, sfx: str, target: str = "numba") -> str:
    """The source text of helper ``name`` (e.g. ``"_exp"``) for suffix ``sfx``, undecorated,
    for ``target`` "numba" (scalars) or "numpy" (arrays); the two differ only in how a
    select is written."""
    return "\n".join(_BUILDERS[name](sfx, target))


@functools.cache
def _namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {"np": np, "_fma": numpy_fma()}
    exec(compile(rempi_table_source(), "<symact elementary _RPT>", "exec"), namespace)
    only = {"_erfcx": "w", "_expdw": "f64"}  # helpers written for one suffix
    pairs = [
        (n, s)
        for n in _BUILDERS
        for s in SUFFIXES
        if (n, s) not in (("_exphl", "w"), ("_rempi", "f32"), ("_rempi_fast", "f32"))
        and only.get(n, s) == s
        and not (n in FLOAT32_ONLY and s == "f64")
    ]
    for name, sfx in closure(pairs):
        exec(compile(source(name, sfx, "numpy"), f"<symact elementary {name}_{sfx}>", "exec"), namespace)
    return namespace


def numpy_function(name: str, sfx: str) -> Callable[..., Any]:
    """Helper ``name`` for suffix ``sfx`` as a function of NumPy arrays or scalars (the
    overflow to inf and the NaN of NaN inputs are results, not warnings)."""
    fn: Callable[..., Any] = _namespace()[f"{name}_{sfx}"]

    @functools.wraps(fn)
    def quiet(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args)

    return quiet


@functools.cache
def _log_or_limit(v: float) -> float:
    """math.log, but -inf at 0 and NaN below, as the compiled kernels give (Python's raises)."""
    if v > 0.0 or v != v:
        return math.log(v)
    return -math.inf if v == 0.0 else math.nan


def libm_elementwise(fn: Callable[[float], float]) -> Callable[[Any], Any]:
    """``fn`` (a function of one Python float, as libm computes it) elementwise on an
    array, computed in float64 and returned in the array's dtype."""
    vectorized = np.frompyfunc(fn, 1, 1)

    def apply(u: Any) -> Any:
        u = np.asarray(u)
        return np.asarray(vectorized(u.astype(np.float64))).astype(u.dtype)

    return apply


def numpy_functions(vector64: bool = True) -> dict[str, Callable[[Any], Any]]:
    """The sympy function names in FUNCTIONS mapped to NumPy functions that compute as the
    kernels do for their argument's dtype: the float32 helpers for float32; for float64
    (and other dtypes, as float64) what the float64 kernels call (the float64 exp helper,
    libm for the rest), or with ``vector64``
    the ``w`` helpers, as float32 kernels that compute in float64 do (see
    symact.emit.numba.NumbaPrinter)."""
    libm: dict[str, Callable[[Any], Any]] = {
        # the float64 kernels' helpers (NumbaPrinter.vectorizes: VECTOR64 has all five)
        "_exp": numpy_function("_exp", "f64"),
        "_cosh": numpy_function("_cosh", "f64"),
        "_erfc": numpy_function("_erfc", "f64"),
        "_log1p": numpy_function("_log1p", "f64"),
        "_expm1": numpy_function("_expm1", "f64"),
        # FLOAT32_ONLY: the float64 kernels call libm's (math.tanh, math.log), whose bits
        # NumPy's own float64 tanh and log do not always have
        "_tanh": libm_elementwise(math.tanh),
        "_log": libm_elementwise(_log_or_limit),
        "_sin": numpy_function("_sin", "f64"),
        "_cos": numpy_function("_cos", "f64"),
    }

    def by_dtype(name: str) -> Callable[[Any], Any]:
        f32 = numpy_function(name, "f32")
        f64 = numpy_function(name, "w") if vector64 else libm[name]

        def apply(u: Any) -> Any:
            u = np.asarray(u)
            with np.errstate(all="ignore"):
                if u.dtype == np.float32:
                    return f32(u)
                return np.asarray(f64(u.astype(np.float64, copy=False)), dtype=np.float64)

        apply.__name__ = name
        return apply

    functions = {sympy_name: by_dtype(helper) for sympy_name, helper in FUNCTIONS.items()}
    if vector64:
        functions["Erfcx"] = numpy_function("_erfcx", "w")
    return functions


def erfc_through_erfcx(expr: sp.Expr) -> sp.Expr:
    """erfc(u) as e^(−u²)·erfcx(|u|) for u ≥ 0 and 2 − e^(−u²)·erfcx(|u|) below, for the
    float32 quantities computed in float64 ("w"): the e^(−u²) is then a subexpression that
    common-subexpression elimination shares with an equal one elsewhere in the formula
    (gelu' = Φ(x) + x·φ(x) computes e^(−x²/2) once instead of twice). Values agree with
    erfc to float32 accuracy, as ``_erfc_w`` does."""

    def split(u: sp.Expr) -> sp.Expr:
        scaled = sp.exp(-(u**2)) * Erfcx(sp.Abs(u))
        return sp.Piecewise((scaled, u >= 0), (2 - scaled, True))

    return expr.replace(lambda e: isinstance(e, (Erfc, sp.erfc)), lambda e: split(e.args[0]))
