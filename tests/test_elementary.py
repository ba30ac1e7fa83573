"""The vectorizable elementary functions (symact.elementary): accuracy against mpmath,
special values, the same bits from the NumPy and the Numba versions, and loops over them
(and the generated kernels) compiled to SIMD code."""

from __future__ import annotations

import re
from fractions import Fraction

import mpmath
import numba
import numpy as np
import pytest

from symact import elementary
from symact.testing import ROOT, load_module

DTYPES = {"f32": np.float32, "f64": np.float64}
#: Every helper suffix and the dtype of its arguments; "w" is float64 arithmetic to float32
#: accuracy.
SUFFIXES = {**DTYPES, "w": np.float64}
REFERENCE = {"_exp": mpmath.exp, "_cosh": mpmath.cosh, "_erfc": mpmath.erfc}
#: Where each function is not 0 or inf, per dtype; the grids span these.
RANGES = {
    "_exp": {"f32": (-104.0, 89.0), "f64": (-746.0, 710.0)},
    "_cosh": {"f32": (-90.0, 90.0), "f64": (-711.0, 711.0)},
    "_erfc": {"f32": (-5.0, 11.0), "f64": (-7.0, 27.3)},
}
#: Worst error in ULPs (of the true value, rounded to the dtype), with some margin over
#: what was measured (exp 0.88/0.86, cosh 0.94/0.62, erfc 0.55/0.72). The float64 helpers
#: stay below 1 ULP: the float64 kernels call them instead of libm (VECTOR64).
BOUND = {
    ("_exp", "f32"): 1.0,
    ("_exp", "f64"): 1.0,
    ("_cosh", "f32"): 1.5,
    ("_cosh", "f64"): 1.0,
    ("_erfc", "f32"): 1.0,
    ("_erfc", "f64"): 1.0,
}


def _grid(name: str, sfx: str) -> np.ndarray:
    lo, hi = RANGES[name]["f32" if sfx == "w" else sfx]
    rng = np.random.default_rng(7)
    xs = [rng.uniform(lo, hi, 1500), rng.uniform(-2, 2, 500), rng.uniform(-0.6, 0.6, 300)]
    xs.append(np.array([0.0, -0.0, 0.5, -0.5, 1e-30, -1e-30, lo, hi]))
    return np.concatenate(xs).astype(SUFFIXES[sfx])


def _ulps(name: str, sfx: str, xs: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Errors in ULPs against 50-digit references. The ratio is taken in mpmath: an error
    below the smallest subnormal, converted to a float first, would round to 0 or to a
    whole ULP."""
    dtype = DTYPES[sfx]
    info = np.finfo(dtype)
    errs = []
    with mpmath.workdps(50):
        for xv, g in zip(xs, got):
            ref = REFERENCE[name](mpmath.mpf(float(xv)))
            if abs(ref) > info.max:
                errs.append(0.0 if np.isinf(g) and g > 0 else np.inf)
                continue
            unit = max(float(np.spacing(dtype(abs(float(ref))))), float(info.smallest_subnormal))
            errs.append(float(abs(mpmath.mpf(float(g)) - ref) / unit))
    return np.array(errs)


@pytest.mark.parametrize("sfx", DTYPES)
@pytest.mark.parametrize("name", ["_exp", "_cosh", "_erfc"])
def test_accuracy_against_mpmath(name, sfx):
    xs = _grid(name, sfx)
    got = elementary.numpy_function(name, sfx)(xs)
    assert got.dtype == DTYPES[sfx]
    errs = _ulps(name, sfx, xs, got)
    worst = int(np.argmax(errs))
    assert errs[worst] <= BOUND[name, sfx], f"{name}_{sfx}({xs[worst]!r}): {errs[worst]:.2f} ULP"


@pytest.mark.parametrize("name", ["_exp", "_cosh", "_erfc"])
def test_float64_arithmetic_to_float32_accuracy(name):
    """The "w" helpers: relative error below 1.5e-8, at most a quarter of a float32 ULP."""
    xs = _grid(name, "w")
    got = elementary.numpy_function(name, "w")(xs)
    assert got.dtype == np.float64
    with mpmath.workdps(30):
        rel = [
            float(abs(mpmath.mpf(float(g)) / r - 1)) if r != 0 else float(g != 0)
            for g, r in ((g, REFERENCE[name](mpmath.mpf(float(v)))) for v, g in zip(xs, got))
        ]
    worst = int(np.argmax(rel))
    assert rel[worst] < 1.5e-8, f"{name}_w({xs[worst]!r}): relative error {rel[worst]:.3g}"


@pytest.mark.parametrize("sfx", DTYPES)
def test_special_values(sfx):
    dtype = DTYPES[sfx]
    exp, cosh, erfc = (elementary.numpy_function(n, sfx) for n in ("_exp", "_cosh", "_erfc"))
    special = np.array([np.nan, np.inf, -np.inf], dtype=dtype)
    with np.errstate(all="ignore"):
        assert np.array_equal(exp(special), [np.nan, np.inf, 0.0], equal_nan=True)
        assert np.array_equal(cosh(special), [np.nan, np.inf, np.inf], equal_nan=True)
        assert np.array_equal(erfc(special), [np.nan, 0.0, 2.0], equal_nan=True)
    big = np.finfo(dtype).max
    # Overflow exactly where e^x leaves the dtype; the subnormal range is reached.
    top = np.log(np.float64(big))
    below, above = np.nextafter(dtype(top), dtype(0)), np.nextafter(dtype(top), dtype(np.inf))
    with np.errstate(over="ignore"):
        assert np.isfinite(exp(np.array([below], dtype=dtype)))[0]
        assert np.isinf(exp(np.array([above], dtype=dtype)))[0]
    tiny = np.finfo(dtype).smallest_subnormal
    x_tiny = dtype(np.log(np.float64(tiny)))
    assert 0 < exp(np.array([x_tiny], dtype=dtype))[0] <= 2 * tiny
    assert exp(np.array([0.0], dtype=dtype))[0] == 1.0


def _hard_grid(name: str) -> np.ndarray:
    """float64 arguments where erfc and cosh are hard to get within 1 ULP."""
    rng = np.random.default_rng(13)

    def signs(n):
        return np.sign(rng.uniform(-1, 1, n))

    if name == "_erfc":
        parts = [
            signs(300) * 10.0 ** rng.uniform(-320, -0.3, 300),  # erfc → 1, through the subnormals
            rng.uniform(-0.5, 0.5, 600),  # 1 − x·P(x²)
            rng.uniform(0.45, 1.1, 800),  # erfc = 1 − erf cancels; the switch at 1/2
            rng.uniform(-1.1, -0.45, 400),
            rng.uniform(1.0, 6.0, 600),
            rng.uniform(6.0, 26.0, 600),
            rng.uniform(26.0, 27.3, 600),  # down to and through the subnormal results
            rng.uniform(-6.0, -1.0, 300),  # erfc → 2
            np.array([0.5, -0.5, np.nextafter(0.5, 0), np.nextafter(-0.5, 0), 26.55, 27.2, 27.25, 28.0]),
        ]
    else:
        parts = [
            signs(300) * 10.0 ** rng.uniform(-320, -0.5, 300),  # cosh → 1
            rng.uniform(-0.4, 0.4, 600),  # n = 0: e^|x| and e^-|x| of the same size
            signs(600) * rng.uniform(0.3, 3.0, 600),
            signs(600) * rng.uniform(3.0, 40.0, 600),  # where e^-|x| stops counting
            signs(400) * rng.uniform(40.0, 700.0, 400),
            signs(600) * rng.uniform(700.0, 710.4758, 600),  # up to the overflow
        ]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["_erfc", "_cosh"])
def test_float64_erfc_and_cosh_are_within_one_ulp(name):
    """Note [float64 erfc], Note [float64 cosh]: below 1 ULP where single-word arithmetic
    loses it (the erfc cancellation around 1/2, the subnormal results, both terms of cosh
    near 0, the overflow), since the float64 kernels call them instead of libm."""
    xs = _hard_grid(name)
    errs = _ulps(name, "f64", xs, elementary.numpy_function(name, "f64")(xs))
    worst = int(np.argmax(errs))
    assert errs[worst] < 0.8, f"{name}_f64({xs[worst]!r}): {errs[worst]:.3f} ULP"


def test_float64_erfc_and_cosh_special_values():
    erfc, cosh = (elementary.numpy_function(n, "f64") for n in ("_erfc", "_cosh"))
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e300, -1e300])
    assert np.array_equal(erfc(special), [np.nan, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 2.0], equal_nan=True)
    assert np.array_equal(cosh(special), [np.nan, np.inf, np.inf, 1.0, 1.0, 1.0, np.inf, np.inf], equal_nan=True)
    # the last subnormal results: erfc(27.2) = 1e-323 and erfc(27.22) = 5e-324 (rounded),
    # erfc(27.25) rounds to 0, as erfc(28), where a is clamped
    assert list(erfc(np.array([27.2, 27.22, 27.25, 28.0, -28.0]))) == [1e-323, 5e-324, 0.0, 0.0, 2.0]
    top = 710.4758600739439  # the largest float64 whose cosh is finite
    assert np.isfinite(cosh(np.array([top, -top]))).all()
    assert np.isinf(cosh(np.nextafter(np.array([top, -top]), np.array([np.inf, -np.inf])))).all()


def _kernel_namespace() -> dict:
    """A namespace as kernels.py has: np, numba and the fused multiply-add the helpers call."""
    namespace = {"np": np, "numba": numba}
    exec(compile(elementary.FMA_SOURCE, "<_fma>", "exec"), namespace)
    return namespace


def _numba_namespace() -> dict:
    namespace = _kernel_namespace()
    for name, sfx in elementary.closure([(n, s) for n in ("_exp", "_cosh", "_erfc") for s in SUFFIXES]):
        source = '@numba.njit(forceinline=True, error_model="numpy")\n' + elementary.source(name, sfx)
        exec(compile(source, f"<{name}_{sfx}>", "exec"), namespace)
    return namespace


def _loop(fn):
    """A plain loop applying ``fn`` (a closure variable, so Numba inlines it)."""

    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])

    return numba.njit(error_model="numpy")(loop)


@pytest.fixture(scope="module")
def compiled():
    namespace = _numba_namespace()
    return {(name, sfx): _loop(namespace[f"{name}_{sfx}"]) for name in ("_exp", "_cosh", "_erfc") for sfx in SUFFIXES}


@pytest.mark.parametrize("sfx", SUFFIXES)
@pytest.mark.parametrize("name", ["_exp", "_cosh", "_erfc"])
def test_numba_and_numpy_agree_bit_for_bit(compiled, name, sfx):
    """The measurements in symact see exactly what the kernels compute."""
    xs = np.concatenate([_grid(name, sfx), np.array([np.nan, np.inf, -np.inf], dtype=SUFFIXES[sfx])])
    out = np.empty_like(xs)
    compiled[name, sfx](xs, out)
    with np.errstate(all="ignore"):
        ref = elementary.numpy_function(name, sfx)(xs)
    assert np.array_equal(out.view(np.uint8), ref.view(np.uint8))


def _rounded(exact: Fraction, dtype) -> float:
    """``exact`` rounded to nearest (ties to even) in ``dtype``, by comparing neighbours."""
    near = dtype(float(exact))  # within an ULP of the correct rounding
    candidates = [np.nextafter(near, dtype(-np.inf)), near, np.nextafter(near, dtype(np.inf))]
    distances = [abs(Fraction(float(c)) - exact) for c in candidates]
    best = min(distances)
    ties = [c for c, d in zip(candidates, distances) if d == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.int32 if dtype is np.float32 else np.int64)) & 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_fma_rounds_once(dtype):
    """The NumPy versions' fused multiply-add is a·b + c rounded once, as the kernels' is:
    exact rational arithmetic, rounded to the dtype, on products and sums that cancel,
    that are far apart in size and that land on halfway points of the plain sum."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal(400).astype(dtype)
    b = rng.standard_normal(400).astype(dtype)
    c = np.concatenate([-(a[:200] * b[:200]), rng.standard_normal(100).astype(dtype) * dtype(1e-6), rng.standard_normal(100).astype(dtype)])
    got = elementary.numpy_fma()(a, b, c)
    assert got.dtype == dtype
    for ai, bi, ci, g in zip(a, b, c, got):
        exact = Fraction(float(ai)) * Fraction(float(bi)) + Fraction(float(ci))
        assert g == _rounded(exact, dtype), (ai, bi, ci)
    plain = (a * b + c).astype(dtype)
    assert (plain != got).any()  # a product and a sum rounded separately differ somewhere


def _has_avx512() -> bool:
    import llvmlite.binding as llvm

    return bool(llvm.get_host_cpu_features().get("avx512f", False))


def _vector_types(llvm: str) -> int:
    return len(re.findall(r"<\d+ x (?:float|double)>", llvm))


@pytest.mark.parametrize("sfx", SUFFIXES)
@pytest.mark.parametrize("name", ["_exp", "_cosh", "_erfc"])
def test_loops_over_the_functions_vectorize(compiled, name, sfx):
    loop = compiled[name, sfx]
    xs = _grid(name, sfx)
    loop(xs, np.empty_like(xs))
    llvm = loop.inspect_llvm(loop.signatures[0])
    assert _vector_types(llvm) > 0
    assert re.search(r"@llvm\.fma\.v\d+f(32|64)", llvm)  # the polynomial steps, fused and vectorized


@pytest.mark.slow
@pytest.mark.parametrize(
    ("activation", "params", "dtype", "loops"),
    [
        ("mish", (), np.float32, ()),
        ("swish", (1.0,), np.float32, ()),
        ("gelu", (), np.float32, ()),
        ("bump", (1.0,), np.float32, ()),
        # float64 kernels: the float64 helpers (VECTOR64)
        ("mish", (), np.float64, ()),
        ("swish", (1.0,), np.float64, ()),  # its β gradient: the float64 cosh helper
        ("bump", (1.0,), np.float64, ()),
        ("softplus", (1.0,), np.float64, ()),  # the float64 log1p helper
        ("elu", (1.0,), np.float64, ()),  # the float64 expm1 helper
        ("gelu", (), np.float64, ()),  # the float64 erfc helper
        ("gelu_tanh", (), np.float64, ()),
        # sin and cos: Note [sin and cos]. The loop with the parameter reduction only: it
        # calls both (the others call sin alone), and each of these loops takes long to
        # compile.
        ("snake", (1.0,), np.float32, ("_backward",)),
        ("snake", (1.0,), np.float64, ("_backward",)),
    ],
)
def test_generated_kernel_loops_vectorize(tmp_path, activation, params, dtype, loops):
    """The forward and both backward loops of generated kernels (the one with a parameter
    reduction included: Note [Vectorized reductions]) compile to SIMD code, with scalar
    parameters (units: chunks) and with a value per channel (here a row per element). Uses
    a copy in an empty folder, since Numba cannot show the code of functions it loaded
    from its cache. ``loops``: the loops checked (all three when empty).

    sin and cos: on a CPU without AVX-512 (a Zen 3 with AVX2, measured) LLVM leaves the
    loops that call them scalar, the old and the new forms of snake's derivative alike:
    checked only where the CPU has AVX-512."""
    if activation == "snake" and not _has_avx512():
        pytest.skip("LLVM vectorizes the sin and cos loops only with AVX-512; this CPU has none")
    for name in ("kernels.py", "_kernel_calls.py"):
        (tmp_path / name).write_text((ROOT / "generated" / activation / name).read_text())
    kernels = load_module(tmp_path / "kernels.py", f"symact_test_vector_{activation}_kernels")
    x = np.linspace(-5, 5, 4099, dtype=dtype)
    g = np.ones_like(x)
    scalars = [np.full(1, v, dtype) for v in params]  # scalar parameters: one value each
    columns = [np.full(x.size, v, dtype) for v in params]  # a value per channel: here per element
    chunk = kernels._calls._CHUNK
    out, chunks = np.empty_like(x), -(-x.size // chunk)
    layouts = [(chunks, chunk, scalars), (x.size, 1, columns)] if params else [(chunks, chunk, scalars)]
    runs = []
    for units, size, p in layouts:
        runs.append((kernels._forward, (x, out, 0, units, size, *p)))
        runs.append((kernels._backward_x, (g, x, out, 0, units, size, *p)))
        if kernels.TRAINABLE:
            sums = np.zeros((units, len(kernels.TRAINABLE)))
            runs.append((kernels._backward, (g, x, out, sums, 0, units, size, *p)))
    runs = [(loop, args) for loop, args in runs if not loops or loop.__name__ in loops]
    assert runs
    for loop, args in runs:
        loop(*args)
        llvm = "\n".join(loop.inspect_llvm().values())
        assert "vector.body" in llvm and _vector_types(llvm) > 0, loop.__name__


def test_erfc_through_erfcx_shares_the_exp_and_keeps_the_value():
    """gelu' = Φ(x) + x·φ(x): with erfc as e^(−u²)·erfcx(|u|), e^(−x²/2) is one
    subexpression, and the values agree with erfc to float32 accuracy."""
    import sympy as sp

    from symact import x
    from symact.emit.printer import cse_branch
    from symact.functions import Erfc
    from symact.numeric import fold_constants, np_function

    d_x = Erfc(-x / sp.sqrt(2)) / 2 + x * sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    split = elementary.erfc_through_erfcx(d_x)
    replacements, _ = cse_branch([fold_constants(split)])
    assert any(isinstance(e, sp.exp) for _, e in replacements), replacements
    xs = np.linspace(-12, 12, 2001)
    exact = np_function(d_x, [x])(xs)  # libm erfc and exp, float64
    shared = np_function(d_x, [x], vector64=True)(xs)  # the "w" helpers, erfc split
    # relative to the terms (about 0.2 where they cancel near the zero of d_x at −0.75)
    np.testing.assert_allclose(shared, exact, rtol=1.5e-8, atol=5e-9)


@pytest.mark.parametrize("sfx", ["f32", "f64"])
def test_sign_split_sides_share_one_exp(sfx):
    """Note [Branch-free sign splits]: both sides of swish's d_x use e^(−|βx|), computed
    once before the branches, in the float64 kernels too (their exp is the vectorized
    helper)."""
    source = (ROOT / "generated" / "swish" / "kernels.py").read_text()
    body = source.split(f"def _grad_{sfx}(")[1].split("\n\n")[0]
    before, branches = body.split("    if (", 1)
    sides = branches.split("else:")
    assert body.count(f"_exp_{sfx}(-abs(") == 1 and f"_e_shared = _exp_{sfx}(-abs(" in before, body
    assert len(sides) == 2 and all("_e_shared" in side for side in sides), body


def test_erfcx_is_printed_only_for_float32_computed_in_float64():
    import sympy as sp

    from symact import x
    from symact.emit.numba import NumbaPrinter
    from symact.errors import UnsupportedFunctionError
    from symact.functions import Erfcx

    assert NumbaPrinter("float64", vector=True).doprint(Erfcx(sp.Abs(x))) == "_erfcx_w(abs(x))"
    with pytest.raises(UnsupportedFunctionError):
        NumbaPrinter("float32").doprint(Erfcx(x))


# ---- log1p and expm1: float32 and float64 arithmetic, and w ---------------------------------

LOG_EXP = {"_log1p": mpmath.log1p, "_expm1": mpmath.expm1}


def _log_exp_grid(name: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    if name == "_log1p":
        parts = [rng.uniform(-1, 2, 2000), -(10.0 ** rng.uniform(-40, -1e-6, 500)), 10.0 ** rng.uniform(-40, 38, 800)]
    else:
        parts = [rng.uniform(-0.7, 0.7, 1500), rng.uniform(-110, 89, 800), 10.0 ** rng.uniform(-40, 1.9, 500)]
        parts.append(-(10.0 ** rng.uniform(-40, 2, 300)))
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("name", ["_log1p", "_expm1"])
def test_log1p_expm1_float32_are_within_one_ulp(name):
    """float32 arithmetic (so the loops keep their vector width): below 1 ULP of the true
    value (the module docstring's figures), overflowing exactly where it leaves float32;
    the w versions (float64 arithmetic) within 1.5e-8 relative."""
    xs = _log_exp_grid(name)
    if name == "_log1p":  # around the switches of k between -1, 0 and 1
        xs = np.concatenate([xs, np.linspace(-0.3, -0.28, 400, dtype=np.float32), np.linspace(0.40, 0.43, 400, dtype=np.float32)])
    else:  # around the reduction's switch to k = ±1, and where 1 - 2^-k stops being exact
        xs = np.concatenate([xs, np.linspace(0.33, 0.37, 400, dtype=np.float32), np.linspace(-0.37, -0.33, 400, dtype=np.float32), np.linspace(15, 19, 400, dtype=np.float32)])
    xs = xs[np.isfinite(xs) & (xs > -1)] if name == "_log1p" else xs
    got = elementary.numpy_function(name, "f32")(xs)
    assert got.dtype == np.float32
    with mpmath.workdps(40):
        refs = [LOG_EXP[name](mpmath.mpf(float(v))) for v in xs]
    big = np.array([abs(r) > np.finfo(np.float32).max for r in refs])
    assert np.isposinf(got[big]).all()  # overflow exactly where the true value leaves float32
    xs, got, refs = xs[~big], got[~big], [r for r, b in zip(refs, big) if not b]
    unit = [max(float(np.spacing(np.float32(abs(float(r))))), float(np.finfo(np.float32).smallest_subnormal)) for r in refs]
    errs = np.array([float(abs(mpmath.mpf(float(g)) - r)) / u for g, r, u in zip(got, refs, unit)])
    worst = int(np.argmax(errs))
    assert errs[worst] < 0.95, f"{name}_f32({xs[worst]!r}): {errs[worst]:.3f} ULP"
    rel_w = [
        float(abs(mpmath.mpf(float(g)) / r - 1)) if r != 0 else float(g != 0)
        for g, r in zip(elementary.numpy_function(name, "w")(xs.astype(np.float64)), refs)
    ]
    assert max(rel_w) < 1.5e-8


@pytest.mark.parametrize("sfx", ["f32", "w"])
def test_log1p_expm1_special_values(sfx):
    dtype = SUFFIXES[sfx]
    log1p, expm1 = (elementary.numpy_function(n, sfx) for n in ("_log1p", "_expm1"))
    special = np.array([np.nan, np.inf, -np.inf, -1.0, -2.0, 0.0, -0.0, 1e-30], dtype=dtype)
    got = log1p(special)
    assert np.array_equal(got[:6], [np.nan, np.inf, np.nan, -np.inf, np.nan, 0.0], equal_nan=True)
    assert np.signbit(got[6]) and got[6] == 0 and got[7] == dtype(1e-30)
    got = expm1(special)
    assert np.array_equal(got[:4], [np.nan, np.inf, -1.0, np.expm1(dtype(-1.0))], equal_nan=True)
    assert np.signbit(expm1(np.array([-0.0], dtype=dtype))[0]) and got[7] == dtype(1e-30)


def test_log1p_float64_is_within_one_ulp():
    """The float64 kernels' log1p (vectorizable, like their exp): below 1 ULP, near -1, near
    0, through the subnormals and up to the largest float, and exact at the special values."""
    rng = np.random.default_rng(11)
    xs = np.concatenate([
        -1 + 10.0 ** rng.uniform(-16, 0, 800),
        rng.uniform(-0.5, 0.5, 800),
        rng.uniform(-0.3, -0.28, 200),  # around the switch of k between -1 and 0
        rng.uniform(0.40, 0.43, 200),  # and between 0 and 1
        np.sign(rng.uniform(-1, 1, 800)) * 10.0 ** rng.uniform(-320, 0, 800),
        10.0 ** rng.uniform(0, 308, 800),
    ])
    xs = xs[xs > -1]
    got = elementary.numpy_function("_log1p", "f64")(xs)
    with mpmath.workdps(40):
        refs = [mpmath.log1p(mpmath.mpf(float(v))) for v in xs]
    unit = [max(float(np.spacing(abs(float(r)))), float(np.finfo(np.float64).smallest_subnormal)) for r in refs]
    errs = np.array([float(abs(mpmath.mpf(float(g)) - r)) / u for g, r, u in zip(got, refs, unit)])
    worst = int(np.argmax(errs))
    assert errs[worst] < 1.0, f"_log1p_f64({xs[worst]!r}): {errs[worst]:.3f} ULP"
    special = np.array([np.nan, np.inf, -np.inf, -1.0, -2.0, 0.0, -0.0, 5e-324])
    got = elementary.numpy_function("_log1p", "f64")(special)
    assert np.array_equal(got[:7], [np.nan, np.inf, np.nan, -np.inf, np.nan, 0.0, 0.0], equal_nan=True)
    assert np.signbit(got[6]) and got[7] == 5e-324


def test_expm1_float64_is_within_one_ulp():
    """The float64 kernels' expm1: below 1 ULP from -40 (where it rounds to -1) to the
    overflow, through the subnormals, around every change of the reduction's k, and exact
    at the special values."""
    rng = np.random.default_rng(12)
    xs = np.concatenate([
        rng.uniform(-0.35, 0.35, 600),
        rng.uniform(-2.5, 2.5, 600),
        rng.uniform(-45, 709.78, 600),
        rng.uniform(36, 38, 200),  # where 1 - 2^-k stops being exact
        np.sign(rng.uniform(-1, 1, 400)) * 10.0 ** rng.uniform(-320, 0, 400),
        rng.uniform(705, 709.78, 100),
    ])
    got = elementary.numpy_function("_expm1", "f64")(xs)
    with mpmath.workdps(50):
        refs = [mpmath.expm1(mpmath.mpf(float(v))) for v in xs]
    unit = [max(float(np.spacing(abs(float(r)))), float(np.finfo(np.float64).smallest_subnormal)) for r in refs]
    errs = np.array([float(abs(mpmath.mpf(float(g)) - r)) / u for g, r, u in zip(got, refs, unit)])
    worst = int(np.argmax(errs))
    assert errs[worst] < 1.0, f"_expm1_f64({xs[worst]!r}): {errs[worst]:.3f} ULP"
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 709.79, -745.0])
    got = elementary.numpy_function("_expm1", "f64")(special)
    assert np.array_equal(got, [np.nan, np.inf, -1.0, 0.0, 0.0, 5e-324, np.inf, -1.0], equal_nan=True)
    assert np.signbit(got[4])


@pytest.fixture(scope="module")
def compiled_log_exp():
    namespace = _kernel_namespace()
    pairs = [(n, s) for n in ("_log1p", "_expm1") for s in ("f32", "w", "f64")]
    for name, sfx in elementary.closure(pairs):
        source = '@numba.njit(forceinline=True, error_model="numpy")\n' + elementary.source(name, sfx)
        exec(compile(source, f"<{name}_{sfx}>", "exec"), namespace)
    return {(name, sfx): _loop(namespace[f"{name}_{sfx}"]) for name, sfx in pairs}


@pytest.mark.parametrize("sfx", ["f32", "w", "f64"])
@pytest.mark.parametrize("name", ["_log1p", "_expm1"])
def test_log1p_expm1_numba_agrees_with_numpy_and_vectorizes(compiled_log_exp, name, sfx):
    xs = np.concatenate([_log_exp_grid(name), np.array([np.nan, np.inf, -np.inf, -1.0, -0.0], np.float32)])
    xs = xs.astype(SUFFIXES[sfx])
    loop = compiled_log_exp[name, sfx]
    out = np.empty_like(xs)
    loop(xs, out)
    with np.errstate(all="ignore"):
        ref = elementary.numpy_function(name, sfx)(xs)
    assert np.array_equal(out.view(np.uint8), ref.view(np.uint8))
    assert _vector_types(loop.inspect_llvm(loop.signatures[0])) > 0


@pytest.mark.slow
@pytest.mark.parametrize("bits_dtype", [np.uint16, np.int16])
@pytest.mark.parametrize(("activation", "params"), [("mish", ()), ("swish", (1.0,))])
def test_half_precision_loops_vectorize(tmp_path, activation, params, bits_dtype):
    """The loops over bfloat16 bits (uint16 in and out) and float16 bits (int16), float32
    inside, compile to SIMD code too: the conversions are integer shifts, float32
    arithmetic and selects."""
    for name in ("kernels.py", "_kernel_calls.py"):
        (tmp_path / name).write_text((ROOT / "generated" / activation / name).read_text())
    kernels = load_module(tmp_path / "kernels.py", f"symact_test_half_vector_{activation}_{bits_dtype.__name__}_kernels")
    bits = np.arange(0, 4099, dtype=bits_dtype)
    out = np.empty_like(bits)
    p = [np.full(1, v, np.float32) for v in params]
    runs = [(kernels._forward, (bits, out, 0, 1, bits.size, *p)), (kernels._backward_x, (bits, bits, out, 0, 1, bits.size, *p))]
    if kernels.TRAINABLE:
        runs.append((kernels._backward, (bits, bits, out, np.zeros((1, len(kernels.TRAINABLE))), 0, 1, bits.size, *p)))
    for loop, args in runs:
        loop(*args)
        llvm = "\n".join(loop.inspect_llvm().values())
        assert "vector.body" in llvm and _vector_types(llvm) > 0, loop.__name__


def _float16_neighbours() -> np.ndarray:
    """float32 numbers where rounding to float16 is decided: every float16 value, the
    midpoints between neighbours (ties) and the float32 numbers just beside them, the
    overflow threshold, subnormals, and random bit patterns."""
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = np.sort(every[np.isfinite(every)].astype(np.float64))
    mids = ((finite[1:] + finite[:-1]) / 2).astype(np.float32)  # exact in float32
    up, down = np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf))
    special = np.array([65504, 65519.996, 65520, 1e30, np.inf, -np.inf, np.nan, 2.0**-25, 2.0**-24 * 1.5, 1e-45, -0.0], np.float32)
    noise = np.random.default_rng(16).integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([every.astype(np.float32), mids, up, down, special, noise])


def test_float16_bits_convert_as_numpy_does_bit_for_bit():
    """The loops' float16 conversions (float16 bits held as int16, float32 inside): every
    float16 to float32 exactly; float32 to float16 rounded to nearest, ties to even, with
    overflow to inf, subnormals and NaN, equal to NumPy's astype at every point tried."""
    calls = load_module(ROOT / "generated" / "mish" / "_kernel_calls.py", "symact_test_float16_calls")
    get, put = calls.get, calls.put

    @numba.njit
    def widen(h, out):
        for i in range(h.shape[0]):
            out[i] = get(h[i])

    @numba.njit
    def narrow(f, out):
        for i in range(f.shape[0]):
            out[i] = put(out, f[i])

    halves = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16)
    wide = np.empty(halves.shape, np.float32)
    widen(halves, wide)
    want = halves.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(wide), nan)
    assert np.array_equal(wide[~nan].view(np.uint32), want[~nan].view(np.uint32))

    points = _float16_neighbours()
    got = np.empty(points.shape, np.int16)
    narrow(points, got)
    with np.errstate(over="ignore"):
        want16 = points.astype(np.float16)
    nan = np.isnan(points)
    assert np.isnan(got[nan].view(np.float16)).all()
    assert np.array_equal(got[~nan], want16[~nan].view(np.int16))


def _tanh_log_grid(name: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    if name == "_tanh":
        tiny = 10 ** rng.uniform(-44, 0, 1500) * rng.choice([-1.0, 1.0], 1500)
        xs = [rng.uniform(-10, 10, 3000), rng.uniform(-0.02, 0.02, 500), tiny, np.array([9.01, -9.01, 20.0, 1e30])]
    else:
        xs = [10 ** rng.uniform(-45, 38.5, 4000), rng.uniform(0.5, 2.0, 1000), np.array([1.0, 2.0, 0.5, 1e-45, 3.4e38])]
    return np.concatenate(xs).astype(np.float32)


TANH_LOG = {"_tanh": mpmath.tanh, "_log": mpmath.log}


@pytest.mark.parametrize("name", ["_tanh", "_log"])
def test_tanh_log_float32_are_correctly_rounded(name):
    """Note [tanh and log]: float64 arithmetic rounded once, within half an ULP (and a
    hair); the "w" versions to float32 accuracy."""
    xs = _tanh_log_grid(name)
    got = elementary.numpy_function(name, "f32")(xs)
    assert got.dtype == np.float32
    with mpmath.workdps(40):
        refs = [TANH_LOG[name](mpmath.mpf(float(v))) for v in xs]
    unit = [max(float(np.spacing(np.float32(abs(float(r))))), float(np.finfo(np.float32).smallest_subnormal)) for r in refs]
    errs = np.array([float(abs(mpmath.mpf(float(g)) - r)) / u for g, r, u in zip(got, refs, unit)])
    worst = int(np.argmax(errs))
    assert errs[worst] < 0.95, f"{name}_f32({xs[worst]!r}): {errs[worst]:.3f} ULP"
    wide = elementary.numpy_function(name, "w")(xs.astype(np.float64))
    rel_w = [float(abs(mpmath.mpf(float(g)) / r - 1)) if r != 0 else float(g != 0) for g, r in zip(wide, refs)]
    assert max(rel_w) < 1.5e-8


@pytest.mark.parametrize("sfx", ["f32", "w"])
def test_tanh_log_special_values(sfx):
    dtype = SUFFIXES[sfx]
    tanh, log = (elementary.numpy_function(n, sfx) for n in ("_tanh", "_log"))
    t = tanh(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 400.0, -400.0], dtype))
    assert t[0] == 0 and not np.signbit(t[0]) and t[1] == 0 and np.signbit(t[1])
    assert list(t[2:4]) == [1.0, -1.0] and np.isnan(t[4]) and list(t[5:]) == [1.0, -1.0]
    v = log(np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0], dtype))
    assert list(v[:2]) == [-np.inf, -np.inf] and np.isnan(v[2:4]).all() and v[4] == np.inf and np.isnan(v[5])
    assert v[6] == 0.0
    if sfx == "w":  # subnormal float64 arguments
        sub = np.array([5e-324, 1e-310, 2.2250738585072014e-308])
        np.testing.assert_allclose(log(sub), np.log(sub), rtol=1e-15)


@pytest.mark.parametrize("sfx", ["f32", "w"])
@pytest.mark.parametrize("name", ["_tanh", "_log"])
def test_tanh_log_numba_agrees_with_numpy_and_vectorizes(name, sfx):
    namespace = _kernel_namespace()
    for helper, s in elementary.closure([(name, sfx)]):
        source = '@numba.njit(forceinline=True, error_model="numpy")\n' + elementary.source(helper, s)
        exec(compile(source, f"<{helper}_{s}>", "exec"), namespace)
    loop = _loop(namespace[f"{name}_{sfx}"])
    specials = np.array([np.nan, np.inf, -np.inf, -1.0, -0.0, 0.0], np.float32)
    xs = np.concatenate([_tanh_log_grid(name), specials]).astype(SUFFIXES[sfx])
    out = np.empty_like(xs)
    loop(xs, out)
    with np.errstate(all="ignore"):
        ref = elementary.numpy_function(name, sfx)(xs)
    assert np.array_equal(out.view(np.uint8), ref.view(np.uint8))
    assert _vector_types(loop.inspect_llvm(loop.signatures[0])) > 0


def test_float32_kernels_with_tanh_and_log_vectorize(tmp_path):
    """A definition written with tanh and log: its float32 loops call the helpers (no libm
    call, so they vectorize); its float64 loops call libm's tanh and log (FLOAT32_ONLY)."""
    import sympy as sp

    from symact import Activation, x
    from symact.derive import derive
    from symact.emit.numba import render_kernel_calls, render_kernels

    act = Activation(name="tanh_log", expr=sp.tanh(x) * sp.log(2 + x**2))
    source = render_kernels(derive(act), "# header", "")
    f32 = source.split("def _f_f32(")[1].split("\n\n")[0]
    f64 = source.split("def _f_f64(")[1].split("\n\n")[0]
    assert "_tanh_" in f32 and "_log_" in f32 and "math." not in f32, f32
    assert "math.tanh" in f64 and "math.log" in f64, f64
    (tmp_path / "kernels.py").write_text(source)
    (tmp_path / "_kernel_calls.py").write_text(render_kernel_calls("# header"))
    kernels = load_module(tmp_path / "kernels.py", "symact_test_tanh_log_kernels")
    xs = np.linspace(-6, 6, 4099, dtype=np.float32)
    out = np.empty_like(xs)
    kernels._forward(xs, out, 0, 1, xs.size, *())
    assert "vector.body" in "\n".join(kernels._forward.inspect_llvm().values())
    np.testing.assert_allclose(out, np.tanh(xs) * np.log(2 + xs.astype(np.float64) ** 2), rtol=3e-7)


def _trig_grid() -> np.ndarray:
    """Arguments for sin and cos: small, moderate and huge (to 1e304), both sides of the
    switch of reductions at 2^28, float64 neighbours of k·π/2 up to k = 2^62 (where the
    reduced argument cancels most), the closest float64 to a multiple of π/2
    (6381956970095103·2^797), and tiny ones."""
    rng = np.random.default_rng(11)
    ks = np.unique(np.round(np.exp(np.linspace(0.0, np.log(2.0**62), 300))))
    with mpmath.workdps(60):
        near = np.array([float(mpmath.mpf(int(k)) * mpmath.pi / 2) for k in ks])
    hard = 6381956970095103 * 2.0**797
    xs = [
        rng.uniform(-4, 4, 600),
        rng.uniform(-1e5, 1e5, 300),
        np.exp(rng.uniform(0, 700, 500)) * rng.choice([-1.0, 1.0], 500),
        rng.uniform(2.0**27, 2.0**29, 150),
        np.exp(rng.uniform(-40, 0, 150)),
        near,
        np.nextafter(near, np.inf),
        np.array([hard, -hard, 2.0**28, np.nextafter(2.0**28, 0), 1.7976931348623157e308, 5e-324]),
    ]
    return np.concatenate(xs)


@pytest.mark.parametrize("sfx", ["f32", "w", "f64"])
@pytest.mark.parametrize("name", ["_sin", "_cos"])
def test_sin_cos_accuracy(name, sfx):
    """f32 (and w, rounded to float32) within 1 ULP of float32; f64 within 1 ULP (0.72
    measured), over the whole float range."""
    ref = {"_sin": mpmath.sin, "_cos": mpmath.cos}[name]
    xs = _trig_grid()
    if sfx == "f32":
        xs = xs[np.abs(xs) < 3e38].astype(np.float32)
    got = elementary.numpy_function(name, sfx)(xs)
    dtype = np.float64 if sfx == "f64" else np.float32
    if sfx == "w":
        got = got.astype(np.float32)
    errs = []
    with mpmath.workdps(50):
        for xv, g in zip(xs, got):
            r = ref(mpmath.mpf(float(xv)))
            unit = max(float(np.spacing(dtype(abs(float(r))))), float(np.finfo(dtype).smallest_subnormal))
            errs.append(float(abs(mpmath.mpf(float(g)) - r) / unit))
    worst = int(np.argmax(errs))
    assert errs[worst] <= (0.8 if sfx == "f64" else 0.51), f"{name}_{sfx}({xs[worst]!r}): {errs[worst]:.3f} ULP"


@pytest.mark.parametrize("sfx", ["f32", "w", "f64"])
def test_sin_cos_special_values(sfx):
    dtype = np.float32 if sfx == "f32" else np.float64
    xs = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30], dtype=dtype)
    sin = elementary.numpy_function("_sin", sfx)(xs)
    cos = elementary.numpy_function("_cos", sfx)(xs)
    assert np.array_equal(sin, xs[[0, 0, 0, 3, 4, 5, 6]], equal_nan=True)
    assert np.signbit(sin[4]) and not np.signbit(sin[3])
    assert np.array_equal(cos, np.array([np.nan, np.nan, np.nan, 1, 1, 1, 1], dtype), equal_nan=True)


@pytest.fixture(scope="module")
def compiled_trig():
    namespace = _kernel_namespace()
    exec(compile(elementary.rempi_table_source(), "<_RPT>", "exec"), namespace)
    pairs = [(n, s) for n in ("_sin", "_cos") for s in ("f32", "w", "f64")]
    for name, sfx in elementary.closure(pairs):
        source = '@numba.njit(forceinline=True, error_model="numpy")\n' + elementary.source(name, sfx)
        exec(compile(source, f"<{name}_{sfx}>", "exec"), namespace)
    return {(name, sfx): _loop(namespace[f"{name}_{sfx}"]) for name, sfx in pairs}


@pytest.mark.parametrize("sfx", ["f32", "w", "f64"])
@pytest.mark.parametrize("name", ["_sin", "_cos"])
def test_sin_cos_numba_agrees_with_numpy_and_vectorizes(compiled_trig, name, sfx):
    """The same bits from the kernels' and the NumPy versions, on both reductions; the loop
    is SIMD code with fused multiply-adds and the table loads as vector gathers."""
    dtype = np.float32 if sfx == "f32" else np.float64
    with np.errstate(over="ignore"):
        xs = np.concatenate([_trig_grid(), [np.nan, np.inf, -np.inf, -0.0]]).astype(dtype)
    loop = compiled_trig[name, sfx]
    out = np.empty_like(xs)
    loop(xs, out)
    ref = elementary.numpy_function(name, sfx)(xs)
    assert np.array_equal(out.view(np.uint8), ref.view(np.uint8))
    llvm = loop.inspect_llvm(loop.signatures[0])
    assert _vector_types(llvm) > 0
    assert re.search(r"@llvm\.fma\.v\d+f64", llvm)


@pytest.mark.parametrize("sfx", ["f32", "w", "f64"])
@pytest.mark.parametrize("name", ["_sin", "_cos"])
def test_fast_sin_cos_are_the_full_ones_below_2_28(name, sfx):
    """Note [Fast path for sin and cos]: the fast helpers give the full ones' bits wherever
    |x| < 2^28, and NaN everywhere else (±inf and NaN included)."""
    dtype = np.float32 if sfx == "f32" else np.float64
    with np.errstate(over="ignore"):
        xs = np.concatenate([_trig_grid(), [np.nan, np.inf, -np.inf, -0.0, 0.0]]).astype(dtype)
    full = elementary.numpy_function(name, sfx)(xs)
    fast = elementary.numpy_function(elementary.FAST[name], sfx)(xs)
    small = np.abs(xs) < 2.0**28
    assert small.sum() > 1000 and (~small).sum() > 500
    assert np.array_equal(fast[small].view(np.uint8), full[small].view(np.uint8))
    assert np.isnan(fast[~small]).all()


def _snake_inputs(dtype: type, size: int) -> np.ndarray:
    """Mostly ordinary arguments, with huge ones (both reductions' sides of 2^28 once
    multiplied by α), neighbours of multiples of π/2, NaN, ±inf and subnormals sprinkled
    in, so that most blocks of 64 mix them with ordinary ones and some have none."""
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 4.0, size)
    with mpmath.workdps(40):
        near = [float(mpmath.mpf(k) * mpmath.pi / 2) for k in (1, 2, 3, 10**6, 2**27, 10**9, 2**40)]
    tiny = np.finfo(dtype).smallest_subnormal
    special = np.array(
        [1e10, -1e10, 1e300, -1e300, 3e38, 2.0**28, -(2.0**28), np.nextafter(2.0**28, 0.0), np.nan, np.inf, -np.inf]
        + near + list(np.nextafter(near, np.inf)) + [float(tiny), -float(tiny), 1e-310, 0.0, -0.0]
    )
    where = rng.choice(size, size // 20, replace=False)
    where = where[where < size - 64 * 8]  # the last eight blocks: ordinary arguments only
    x[where] = rng.choice(special, where.size)
    with np.errstate(over="ignore"):
        return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, pytest.param(np.float16, marks=pytest.mark.slow)])
def test_snake_fast_path_has_the_bits_of_the_full_formulas(tmp_path, dtype):
    """Note [Fast path for sin and cos]: snake's loops (fast formulas, blocks with a NaN
    computed again by the full ones) give the bits of the same loops calling the full
    formulas only, forward, backward (with α's gradient sum) and backward_x, for scalar
    and per-channel α, on blocks mixing huge arguments, NaN, ±inf and subnormals with
    ordinary ones. float16 runs through the 16-bit loops (the NaN test on float16 bits).
    The generated kernels load as test_numba_backend loads them (sharing Numba's cache);
    the full-formula copy compiles in a temporary folder."""
    path = ROOT / "generated" / "snake" / "kernels.py"
    source = path.read_text()
    assert "_f_fast(" in source and "_has_nan(" in source
    lines = source.split("\n")
    full = [
        line.replace("_fast_", "_") if line.startswith(("_f_fast = ", "_grad_fast = ", "_gradx_fast = ")) else line
        for line in lines
    ]
    assert full != lines
    calls = (ROOT / "generated" / "snake" / "_kernel_calls.py").read_text()
    (tmp_path / "kernels.py").write_text("\n".join(full))
    (tmp_path / "_kernel_calls.py").write_text(calls)
    modules = {
        "fast": load_module(path, "symact_generated_snake_kernels"),
        "full": load_module(tmp_path / "kernels.py", f"symact_test_snake_full_{np.dtype(dtype).name}"),
    }
    x = _snake_inputs(dtype, 64 * 40 + 17).reshape(1, -1)
    g = np.random.default_rng(6).normal(size=x.shape).astype(dtype)
    g[0, ::97] = 0.0  # 0 times a NaN gradient
    x3 = np.concatenate([x[:, :-17]] * 3).reshape(2, 3, -1)  # (N, C, L), α per channel
    g3 = np.concatenate([g[:, :-17]] * 3).reshape(2, 3, -1)
    # a huge α (1e9 is inf in float16, which the kernels refuse as a parameter: 6e4 there,
    # whose products with float16's largest inputs still pass 2^28)
    big = 6e4 if dtype == np.float16 else 1e9
    cases = [(x, g, np.array(a, dtype)) for a in (1.0, 3.0, big)]
    cases.append((x3, g3, np.array([1.0, big, 0.5], dtype).reshape(3, 1)))
    nans = 0
    for xs, gs, alpha in cases:
        results = {
            name: [m.forward(xs, alpha), *m.backward(gs, xs, alpha), m.backward_x(gs, xs, alpha)]
            for name, m in modules.items()
        }
        for got, want in zip(results["fast"], results["full"]):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
        nans += int(np.isnan(results["full"][0]).sum())
        assert np.isfinite(results["full"][0][..., -64:]).all()  # some blocks take the fast path only
    assert nans > 0
