"""The error metric is one function (symact.numeric.error_metric): the golden tests print
it, generate's check, the derivation's choice of forms and the accuracy sweep call it."""

from __future__ import annotations

import inspect
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symact import numeric
from symact.numeric import error_metric, mp_reference_floats, nan_references, reference_floats
from symact.testing import ROOT

DTYPES = [np.float32, np.float64]


def _exact_metric(computed: float, ref: mpmath.mpf, kappa: float, dtype) -> float:
    """The metric by its definition, in 80-digit arithmetic, against the reference
    correctly rounded to float64."""
    with mpmath.workdps(80):
        info = np.finfo(dtype)
        rounded = abs(float(np.asarray(float(ref), dtype=dtype)))
        unit = max(float(np.spacing(np.asarray(rounded, dtype=dtype))), float(info.tiny))
        err = abs(mpmath.mpf(computed) - mpmath.mpf(float(ref))) / unit
        if ref == 0:
            return float(err)
        return float(err / max(1.0, kappa))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=300, deadline=None)
@given(
    value=st.floats(min_value=-1e30, max_value=1e30, allow_nan=False),
    ulps=st.integers(min_value=-40, max_value=40),
    kappa=st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e4]),
)
def test_the_metric_is_the_ulp_error_over_kappa(dtype, value, ulps, kappa):
    """A computed value some ULPs off a 40-digit reference scores those ULPs / max(1, κ)."""
    with mpmath.workdps(40):
        ref = mpmath.mpf(value) * (1 + mpmath.mpf(1) / 3 * mpmath.mpf(10) ** -20)
        refs = [mpmath.nstr(ref, 40)]
    computed = np.asarray(float(ref), dtype=dtype)
    step = np.nextafter(computed, np.asarray(np.inf if ulps > 0 else -np.inf, dtype=dtype))
    for _ in range(abs(ulps)):
        computed, step = step, np.nextafter(step, np.asarray(np.inf if ulps > 0 else -np.inf, dtype=dtype))
    with mpmath.workdps(40):
        exact = _exact_metric(float(computed), mpmath.mpf(refs[0]), kappa, dtype)
    ours = float(error_metric(np.array([computed]), reference_floats(refs), np.array([kappa]), dtype)[0])
    assert ours == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_the_edge_rules():
    f32 = np.float32
    ref = np.array([1.0, 1e39, -1e39, 1e39, math.nan, 0.0, 2.0, 2.0, 2.0])
    kappa = np.array([1.0, 1.0, 1.0, 1.0, 1.0, math.inf, math.inf, math.inf, 1.0])
    computed = np.array([math.nan, math.inf, -math.inf, 3e38, 1.0, 0.0, 5.0, math.inf, -math.inf])
    got = error_metric(computed, ref, kappa, f32)
    # NaN computed, overflow matched (both signs), overflow missed, no reference, exact 0,
    # infinite kappa, infinite computed where the reference is finite (twice)
    expected = [math.inf, 0.0, 0.0, math.inf, math.nan, 0.0, 0.0, math.inf, math.inf]
    np.testing.assert_array_equal(got, expected)
    # a reference of 0 is strict whatever kappa says: the ULP there is the smallest normal
    assert error_metric(np.array([1e-30]), np.array([0.0]), np.array([math.inf]), f32)[0] > 1e7
    # an absolute bound replaces the ULP scale
    assert error_metric(np.array([2.5]), np.array([2.0]), np.array([1.0]), f32, 0.25)[0] == 2.0


def test_a_documented_infinity_or_nan_is_required():
    """Where a quantity has no finite value or limit, golden.json documents "inf", "-inf" or
    "nan" (Note [No value, no limit]): the metric then requires exactly that value, while a
    missing reference (None) is still not scored."""
    refs = ["-inf", "-inf", "nan", "nan", None, "inf"]
    computed = np.array([-math.inf, -3e38, math.nan, 0.0, 1.0, math.inf])
    ref = reference_floats(refs)
    got = error_metric(computed, ref, np.full(len(refs), math.nan), np.float32, expect_nan=nan_references(refs))
    np.testing.assert_array_equal(got, [0.0, math.inf, 0.0, math.inf, math.nan, 0.0])
    assert list(nan_references(refs)) == [False, False, True, True, False, False]


@pytest.mark.parametrize(
    ("exact", "printed", "documented"),
    [
        (lambda x: mpmath.log(abs(x)) + 1, lambda x: mpmath.log(abs(x)) + 1, "-inf"),  # x·log|x|, its slope
        (lambda x: 1 / x**2, lambda x: mpmath.inf, "inf"),
        (lambda x: 1 / x, lambda x: mpmath.inf, None),  # +inf on one side, -inf on the other
        (lambda x: mpmath.sin(1 / x), lambda x: mpmath.nan, "nan"),  # no limit at all
        (lambda x: x * mpmath.sin(1 / x), lambda x: mpmath.nan, None),  # a limit (0) the printed form misses
        (lambda x: mpmath.sign(x) / x**2, lambda x: mpmath.nan, "nan"),  # +inf and -inf
        (lambda x: 1 / x**2, lambda x: mpmath.nan, None),  # a limit (+inf) the printed form misses
    ],
)
def test_the_documented_value_where_there_is_no_limit(exact, printed, documented):
    from symact.golden import _documented

    assert _documented(exact, printed, (0.0,)) == documented


def test_references_are_rounded_to_float64_once():
    digits = "0.12345678901234567890123456789012345678901234567891"
    got = reference_floats([digits, None, "1e400", "-0.0"])
    assert got[0] == float(digits) and math.isnan(got[1]) and got[2] == math.inf and got[3] == 0
    with mpmath.workdps(60):
        mp, residual = mp_reference_floats([mpmath.mpf(digits), mpmath.inf, mpmath.mpf("1e400")])
        assert residual[0] == float(mpmath.mpf(digits) - mpmath.mpf(mp[0])) and residual[0] != 0
    assert mp[0] == got[0] and math.isnan(mp[1]) and mp[2] == math.inf and list(residual[1:]) == [0, 0]


def test_the_residual_measures_against_the_exact_reference():
    """With ``ref_lo`` the float64 error is against the exact value: a result that is the
    correctly rounded reference scores at most half an ULP, not 0."""
    with mpmath.workdps(60):
        exact = mpmath.mpf(1) / 3
        rounded, residual = mp_reference_floats([exact])
        spacing = float(np.spacing(rounded[0]))
        expected = float(abs(mpmath.mpf(rounded[0]) - exact) / spacing)
    computed = rounded.copy()
    assert error_metric(computed, rounded, np.ones(1), np.float64)[0] == 0
    got = error_metric(computed, rounded, np.ones(1), np.float64, ref_lo=residual)[0]
    assert 0 < got <= 0.5 and got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("folder", sorted(p.name for p in (ROOT / "generated").iterdir() if (p / "golden.json").exists()))
def test_every_generated_test_prints_the_metric_symact_uses(folder):
    text = (ROOT / "generated" / folder / f"test_{folder}.py").read_text(encoding="utf-8")
    for function in (numeric.reference_floats, numeric.nan_references, numeric.error_metric):
        assert inspect.getsource(function) in text, f"{folder}: {function.__name__} differs from symact.numeric's"


def test_the_sweep_and_the_choice_of_forms_score_like_the_golden_tests():
    """accuracy.score (mpmath references, exact) and golden_scores (decimal strings rounded
    to float64) agree in float32, where the rounding of the reference is far below an ULP."""
    from symact.accuracy import References, score
    from symact.golden import golden_scores

    with mpmath.workdps(50):
        values = [mpmath.mpf(1) / 3, mpmath.exp(-100), mpmath.mpf(0), mpmath.mpf("1e39"), -mpmath.pi]
        kappas = [mpmath.mpf(2), mpmath.mpf(1), mpmath.mpf(0), mpmath.mpf(1), mpmath.inf]
        strings = [mpmath.nstr(v, 50) for v in values]
    computed = np.array([0.33333334, 3.7e-44, 0.0, np.inf, -3.1415927], dtype=np.float32)
    refs = References(columns=["x"], points=np.zeros((5, 1)), values={"f": values}, kappas={"f": kappas})
    stats = score(computed, refs, "f", np.float32)
    golden = golden_scores(computed, strings, [mpmath.nstr(k, 10) for k in kappas], np.float32)
    assert stats.max == pytest.approx(float(np.max(golden)), rel=1e-6)
    assert stats.p99 == pytest.approx(float(np.percentile(golden, 99)), rel=1e-6)


def test_generate_and_audit_judge_a_users_derivative_by_one_rule():
    """A derivative 1e-25 off: generate refuses it, and the audit refutes it, at the same
    tolerance (an audit that called it "equal at N points" while generate refused it would
    contradict itself)."""
    import sympy as sp

    from symact import Activation, x
    from symact.audit import audit
    from symact.derive import derive
    from symact.errors import SymactError
    from symact.golden import compute_golden

    off = Activation(name="off", expr=x**3 / 3, derivative={x: x**2 * (1 + sp.Rational(1, 10**25))})
    with pytest.raises(SymactError, match=r"derivative\[x\] is wrong"):
        compute_golden(derive(off))
    assert audit(off).user_derivatives["d_x"] == "refuted"
    exact = Activation(name="exact", expr=x**3 / 3, derivative={x: x * x})
    compute_golden(derive(exact))
    assert audit(exact).user_derivatives["d_x"] == "proven equal symbolically"


def test_exp_of_a_huge_argument_is_mpmath_value_in_milliseconds():
    """Above 180 digits mpmath computes e^n for a huge integer n by 10^4 squarings at
    10^4 bits; the references reduce the argument modulo ln 2 instead."""
    import time

    for dps in (60, 240, 480):
        with mpmath.workdps(dps):
            u = -mpmath.exp(mpmath.mpf(200))  # an integer-valued float near -10^87
            start = time.perf_counter()
            fast = numeric._mp_exp(u)
            assert time.perf_counter() - start < 0.5
            assert fast == mpmath.exp(u) or abs(fast / mpmath.exp(u) - 1) < mpmath.mpf(10) ** (5 - dps)
    with mpmath.workdps(60):
        assert numeric._mp_exp(mpmath.mpf(3)) == mpmath.exp(3)


def test_values_no_float_holds_are_told_apart_from_a_disagreement():
    tiny = mpmath.mpf(2) ** -5000
    assert numeric.below_floats(lambda *_: tiny, lambda *_: mpmath.mpf(0), (1.0,))
    assert numeric.below_floats(lambda *_: tiny, lambda *_: tiny * 3, (1.0,))
    assert not numeric.below_floats(lambda *_: tiny, lambda *_: mpmath.mpf(2) ** -1000, (1.0,))
    assert not numeric.below_floats(lambda *_: mpmath.mpf(1), lambda *_: mpmath.mpf(0), (1.0,))


def test_kappa_from_shared_partials_equals_one_function_per_partial():
    """κ's partials are computed together (common subexpressions once); where a shared
    subexpression of another branch fails (1/x² of the x < −1 branch at x = 0), each
    partial is computed alone, so κ is the same as from one function per partial."""
    import sympy as sp

    from symact import x
    from symact.functions import diff_ae

    b = sp.Symbol("b", positive=True)
    expr = sp.Piecewise((b / (2 * -x * (1 + sp.sqrt(1 + b / x**2))), x < -1), ((x + sp.sqrt(x**2 + b)) / 2, True))
    symbols = (x, b)
    value_fn = numeric.mp_function(expr, symbols)
    one_each = [numeric.mp_function(diff_ae(expr, s), symbols) for s in symbols]
    together = numeric.mp_partials(expr, symbols)
    for point in [(0.0, 4.0), (-3.0, 0.5), (2.5, 16.0), (-1e30, 4.0)]:
        value = numeric.reference(value_fn, point)
        grads = [numeric._at(d, point, 60) for d in one_each]
        expected = numeric.condition_number(value, grads, [mpmath.mpf(v) for v in point])
        got = numeric.kappa_at(together, value, point)
        assert mpmath.almosteq(got, expected, rel_eps=mpmath.mpf(10) ** -40), (point, got, expected)
    assert numeric.kappa_at(together, numeric.reference(value_fn, (0.0, 4.0)), (0.0, 4.0)) == 0.5


def test_zeros_that_are_touched_are_found_and_crossings_left_to_kappa():
    """Note [Points near zeros]: a local minimum of |q| that reaches 0 without a sign
    change is narrowed and kept; a minimum above 0, a sign change (which κ forgives) and
    x = 0 (the fixed probes) are not; the nearest to x = 0 come first; a zero that is a
    float32 number (an exact 0) gives its neighbours, not itself."""
    import sympy as sp

    from symact import x

    def zeros(expr, lo=-8.0, hi=8.0):
        fn = numeric.np_function(expr, (x,))
        return numeric.zero_x(fn, lo, hi)

    assert zeros(1 + sp.sin(x)) == pytest.approx([-np.pi / 2, -np.pi / 2 + 2 * np.pi], abs=1e-7)
    assert zeros((x - 0.7) ** 2 * (x + 3)) == pytest.approx([0.7], abs=1e-7)
    assert zeros(1.5 + sp.sin(x)) == []
    assert zeros(x - 0.3) == []
    assert zeros(x * (x - 1)) == []
    assert zeros(x**2) == []
    assert zeros(sp.exp(x)) == []
    points = numeric.zero_points(1 + sp.sin(2 * x), (x,), (-8.0, 8.0), [[]], steps=(0, 1))
    first, second = (np.float32(p[0]) for p in points[:2])
    assert first == np.float32(-np.pi / 4) and abs(second - first) == np.spacing(np.float32(np.pi / 4))
    assert all(float(np.float32(p[0])) == p[0] for p in points)
    exact = numeric.zero_points((x - 2.5) ** 2, (x,), (-8.0, 8.0), [[]], steps=(0,))
    assert sorted(p[0] for p in exact) == [float(np.nextafter(np.float32(2.5), np.float32(0))), float(np.nextafter(np.float32(2.5), np.float32(3)))]
    p = sp.Symbol("p", positive=True)
    by_setting = numeric.zero_points(1 + sp.sin(p * x), (x, p), (-8.0, 8.0), [[1.0], [2.0]], steps=(0,))
    assert [pt[1] for pt in by_setting] == [1.0, 1.0, 2.0, 2.0]
    assert by_setting[2][0] == pytest.approx(-np.pi / 4, abs=1e-6)
