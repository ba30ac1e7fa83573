"""The TensorFlow backend: the printer, the generated tf_ops.py beyond what each generated
golden test checks (every catalog activation eager and under XLA, second order, mixed
precision, Keras and SavedModel round trips in a fresh process), learning a bump's width
with Keras, and a user-supplied derivative used by a Keras layer.

The catalog tests read the generated folder (``generated/``, or the folder named by
``SYMACT_GENERATED`` to test a catalog generated elsewhere). Everything that runs TF skips
when TensorFlow is not installed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from sympy.codegen.cfunctions import expm1, log1p

from symact import Activation, Param, load_definitions, x
from symact.cli import main
from symact.derive import Branch, Derivation, Quantity, derive
from symact.emit.saturation import clamped_forms, saturation_thresholds
from symact.emit.tf import TFPrinter, render_tf_ops
from symact.emit.where import _propagates_nan, exps_multiplied
from symact.errors import UnsupportedFunctionError
from symact.functions import Erfc, Sigmoid, Softplus
from symact.testing import ROOT, load_module

GENERATED = Path(os.environ.get("SYMACT_GENERATED", ROOT / "generated"))
sigma = Param("sigma", init=1.0, positive=True)
HAS_TF = importlib.util.find_spec("tensorflow") is not None
requires_tf = pytest.mark.skipif(not HAS_TF, reason="tensorflow is not installed")


@pytest.mark.parametrize(
    ("expr", "printed"),
    [
        (x / 2, "(0.5)*x"),
        (x**2, "(x*x)"),
        (1 / x**2, "(1.0/(x*x))"),
        (sigma * x**3, "sigma*(x*x*x)"),
        (sp.sqrt(x), "tf.math.sqrt(x)"),
        (1 / sp.sqrt(x), "tf.math.rsqrt(x)"),
        (x ** sp.Rational(1, 3), "tf.math.pow(x, 0.3333333333333333)"),
        (sp.pi * x, "3.141592653589793*x"),
        (sp.exp(-x), "tf.math.exp(-x)"),
        (expm1(x), "tf.math.expm1(x)"),
        (log1p(x), "tf.math.log1p(x)"),
        (Sigmoid(x), "_sigmoid(x)"),
        (Softplus(2 * x), "tf.math.softplus(2.0*x)"),
        (Erfc(-x), "tf.math.erfc(-x)"),
        (sp.sech(x), "_sech(x)"),
        (sp.floor(x), "tf.math.floor(x)"),
        (sp.Piecewise((x, x > 0), (0, True)), "tf.where((x > 0.0), x, tf.constant(0.0, x.dtype))"),
        (sp.Piecewise((x, x > 0)), "tf.where((x > 0.0), x, tf.constant(math.nan, x.dtype))"),
        (sp.And(x > 0, x < 1), "((x > 0.0) & (x < 1.0))"),
        (sp.Not(x > 0, evaluate=False), "(~(x > 0.0))"),
    ],
)
def test_printed_strings(expr, printed):
    assert TFPrinter().doprint(expr) == printed


@pytest.mark.parametrize(
    ("expr", "printed"),
    [
        (sp.exp(x) / (sp.exp(x) + 1) ** 2, "tf.math.exp(x)*(1.0/((tf.math.exp(x) + 1.0)*(tf.math.exp(x) + 1.0)))"),
        (sigma * x / (x + 1), "sigma*x*(1.0/(x + 1.0))"),
        (1 / (x + 1), "(1.0/((x + 1.0)))"),
        (2 / (x + 1), "2.0/(x + 1.0)"),
        (x / 2, "(0.5)*x"),
        (x + 1, "x + 1.0"),
    ],
)
def test_shared_quotients_are_printed_as_reciprocals(expr, printed):
    """Note [Divisions under XLA]: a common subexpression a/b (a not a constant) is printed
    as a*(1/b), which XLA fuses into a consumer that uses it twice; the rest is unchanged."""
    printer = TFPrinter()
    assert printer.doprint(printer.shared(expr)) == printed


@pytest.mark.parametrize(
    ("conditions", "last", "propagates"),
    [
        ((x > 0, sp.true), sp.exp(x) + 1, True),
        ((x >= 0, sp.true), x * sp.exp(-sp.Piecewise((x, sp.Symbol("_c0")), (-x, True))), True),
        ((x >= 0, sp.true), 1 / (x + 1) ** 2 + sp.sqrt(x), True),
        ((sp.Ne(x, 0), sp.true), sp.exp(x), False),  # True at NaN: NaN never reaches the last branch
        ((sp.Or(x < -1, x > 1), sp.true), sp.exp(x), False),
        ((x > 0, sp.true), sp.Integer(3), False),
        ((x > 0, sp.true), sp.floor(x), False),
        # NaN is not > 2, so the where takes x: NaN; erfc's sign split likewise
        ((x > 0, sp.true), sp.Piecewise((1, x > 2), (x, True)), True),
        ((x > 0, sp.true), sp.Piecewise((sp.exp(x), x <= 0), (2 - sp.exp(-x), True)), True),
        ((x > 0, sp.true), sp.Piecewise((1, sp.Ne(x, 2)), (x, True)), False),  # Ne holds at NaN: 1
        ((x > 0, sp.true), sp.Piecewise((1, sp.Symbol("_c0")), (x, True)), False),  # a mask: in doubt
        ((x > 0, sp.true), 2**x, False),
    ],
)
def test_nan_guard_is_left_off_only_where_nan_propagates(conditions, last, propagates):
    """Note [Masks reused under XLA]: the NaN guard goes only where the chain gives NaN for
    NaN without it."""
    assert _propagates_nan(conditions, last) is propagates


def test_imports_come_from_what_was_printed():
    printer = TFPrinter()
    printer.doprint(sp.exp(x) + Sigmoid(x) + sp.Piecewise((x, x > 0)))
    assert dict(printer.module_imports) == {"tf": {"where", "constant"}, "tf.math": {"exp"}, "math": {"nan"}}
    assert printer.helpers == {"_sigmoid"}


def _as_printed(act: Activation) -> Derivation:
    """A derivation that prints f and df/dx as given, without derive's rewrites."""
    d_x = sp.diff(act.expr, x)
    return Derivation(
        act,
        Quantity("f", None, "value", act.expr, (Branch(sp.true, act.expr, 0.0),)),
        (Quantity("d_x", x, "derivative", d_x, (Branch(sp.true, d_x, 0.0),)),),
        (),
    )


def test_unsupported_function_is_one_line_naming_it():
    act = Activation(name="bessel", expr=sp.besselj(0, x))
    with pytest.raises(UnsupportedFunctionError) as info:
        render_tf_ops(_as_printed(act), "# header", "")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("activation 'bessel': the tensorflow backend cannot print ")
    assert "besselj" in message


def test_generation_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # any import of tensorflow fails\n"
        "sys.modules['keras'] = None\n"
        "from symact import load_definitions\n"
        "from symact.derive import derive\n"
        "from symact.emit.tf import render_tf_ops\n"
        f"(act,) = load_definitions({str(ROOT / 'definitions' / 'bump.py')!r})\n"
        "text = render_tf_ops(derive(act), '# header', '')\n"
        "compile(text, 'tf_ops.py', 'exec')\n"
        "print('symact' not in [line.split()[1] for line in text.splitlines() if line.startswith(('import ', 'from '))])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"


def test_rendering_is_deterministic_and_escapes_user_text():
    width = Param("width", init=1.0, positive=True, doc='a "quoted"""\\ doc ""')
    act = Activation(
        name="quoted",
        expr=width * x,
        params=[width],
        doc='ends with quotes """ and a backslash \\N{BULLET} ""',
    )
    derivation = derive(act)
    first = render_tf_ops(derivation, "# header", 'formula with """')
    assert first == render_tf_ops(derivation, "# header", 'formula with """')
    tree = ast.parse(first)  # parsed only: running it needs TensorFlow
    module_doc = ast.get_docstring(tree, clean=False) or ""
    assert act.doc in module_doc and 'formula with """' in module_doc
    (layer,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Quoted"]
    layer_doc = ast.get_docstring(layer, clean=False) or ""
    assert act.doc in layer_doc and width.doc in layer_doc


# ---- the generated modules ----------------------------------------------------------------


NAMES = sorted(act.name for path in (ROOT / "definitions").glob("*.py") for act in load_definitions(path))


def _tf_ops(name: str, folder: Path | None = None):
    folder = folder or GENERATED / name
    return load_module(folder / "tf_ops.py", f"symact_generated_{name}_tf_ops")


def _golden_test(name: str):
    """The generated test module of an activation: its metric is the one the golden tests use."""
    return load_module(GENERATED / name / f"test_{name}.py", f"symact_generated_{name}_golden_test")


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def keras(tf):
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"Keras runs the {keras.backend.backend()} backend")
    return keras


def test_catalog_is_complete():
    names = {act.name for path in (ROOT / "definitions").glob("*.py") for act in load_definitions(path)}
    assert names == set(NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_catalog_matches_golden_eager_and_xla(tf, name):
    """Every catalog activation: values and gradients (x and every trainable parameter) in
    float32 and float64, eager and under XLA, within the golden bounds; and gradients against
    numeric differences (tf.test.compute_gradient) where they are true derivatives."""
    ops, golden = _tf_ops(name), _golden_test(name)
    fn = getattr(ops, name)
    trainable = golden.TRAINABLE

    def value_and_grads(x, *params):
        with tf.GradientTape() as tape:
            tape.watch([x, *params])
            y = fn(x, *params)
        wrt = [x, *(p for n, p in zip(golden.PARAMS, params) if n in trainable)]
        return y, tape.gradient(y, wrt)

    compiled = tf.function(value_and_grads, jit_compile=True)
    for dtype in golden.DTYPES:
        xs, params = golden._inputs(dtype)
        args = [tf.constant(a) for a in (xs, *params)]
        for run in (value_and_grads, compiled):
            y, grads = run(*args)
            golden._assert_within(golden._scores(y.numpy(), "f", dtype), "f", dtype)
            for n, g in zip(["x", *trainable], grads):
                assert g.shape == xs.shape
                golden._assert_within(golden._scores(g.numpy(), f"d_{n}", dtype), f"d_{n}", dtype)
    rows = [i for i in golden._smooth_points() if abs(golden.GOLDEN["points"][i]["at"][0]) < 50][:6]
    xs, params = golden._inputs(np.float64)
    args = [tf.constant(a[rows]) for a in (xs, *params)]
    true = [k for k, n in enumerate(["x", *golden.PARAMS]) if n in ["x", *trainable] and golden.KINDS[f"d_{n}"] == "derivative"]
    for k in true:
        def along(v, k=k):
            return fn(*args[:k], v, *args[k + 1 :])

        (theoretical,), (numerical,) = tf.test.compute_gradient(along, [args[k]], delta=1e-6)
        np.testing.assert_allclose(np.diag(theoretical), np.diag(numerical), rtol=1e-5, atol=1e-7)


def _bump_layer_ops():
    return _tf_ops("bump")


@requires_tf
def test_per_channel_gradients_zero_d_and_empty(tf):
    ops = _tf_ops("gaussian_bump")
    xs = tf.random.stateless_uniform((4, 5, 3), seed=(1, 2), minval=-2, maxval=2, dtype=tf.float64)
    a, b, c = (tf.Variable(tf.constant(v, tf.float64)) for v in ([1.0, 2.0, 0.5], [0.5, 1.0, 2.0], [0.0, 0.3, -0.3]))
    with tf.GradientTape() as tape:
        y = ops.gaussian_bump(xs, a, b, c)
    grads = tape.gradient(y, [a, b, c])
    assert y.shape == xs.shape and all(g.shape == (3,) for g in grads)
    for j in range(3):
        with tf.GradientTape() as tape:
            cols = [tf.Variable(v[j]) for v in (a, b, c)]
            yj = ops.gaussian_bump(xs[..., j], *cols)
        for got, want in zip(grads, tape.gradient(yj, cols)):
            np.testing.assert_allclose(got[j].numpy(), want.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="does not broadcast to x of shape"):
        ops.gaussian_bump(xs, tf.ones(5, tf.float64), 1.0, 0.0)
    zero_d = tf.constant(0.5)
    assert ops.gaussian_bump(zero_d, 1.0, 1.0, 0.0).shape == ()
    empty = tf.zeros((0, 3), tf.float64)
    with tf.GradientTape() as tape:
        y = ops.gaussian_bump(empty, a, b, c)
    assert y.shape == (0, 3)
    assert all(g.shape == (3,) and not g.numpy().any() for g in tape.gradient(y, [a, b, c]))


def _nested_gradients(tf, fn, xs):
    """(fn(xs), its first derivative, its second) by nested tapes, elementwise."""
    with tf.GradientTape() as outer:
        outer.watch(xs)
        with tf.GradientTape() as inner:
            inner.watch(xs)
            y = fn(xs)
        first = inner.gradient(y, xs)
    return y, first, outer.gradient(first, xs)


@requires_tf
def test_branch_local_evaluation_keeps_nan_out_of_second_order(tf, tmp_path):
    """Note [Branch-local evaluation]: log(x) is the branch for x > 1 and is -inf or NaN at
    x <= 0. A plain tf.where has NaN gradients there (first and second order); the generated
    function, eager and under XLA, with nested tapes, has none."""
    act = Activation(name="logpiece", expr=sp.Piecewise((sp.log(x), x > 1), (x - 1, True)))
    folder = tmp_path / "logpiece"
    folder.mkdir()
    (folder / "tf_ops.py").write_text(render_tf_ops(derive(act), "# header", ""))
    ops = _tf_ops("logpiece", folder)
    points = tf.constant([-2.0, 0.0, 0.5, 1.0, 2.0, 1e30], tf.float64)

    with tf.GradientTape() as tape:
        tape.watch(points)
        naive = tf.where(points > 1, tf.math.log(points), points - 1)
    assert np.isnan(tape.gradient(naive, points).numpy()).any()  # the trap this avoids

    def first_and_second(xs):
        return _nested_gradients(tf, ops.logpiece, xs)

    p = points.numpy()
    inverse = np.divide(1.0, p, out=np.zeros_like(p), where=p > 1)
    for run in (first_and_second, tf.function(first_and_second, jit_compile=True)):
        y, first, second = (t.numpy() for t in run(points))
        assert np.isfinite(y).all()
        np.testing.assert_allclose(first, np.where(p > 1, inverse, 1.0))
        np.testing.assert_allclose(second, np.where(p > 1, -inverse**2, 0.0))


def test_finite_at_finite_inputs_decides_by_form():
    """Note [Branch-free sign splits]: both sides of a sign split run on one input only when
    the form shows them finite, with finite derivatives, at every finite input."""
    from symact.emit.where import _finite_at_finite_inputs
    from symact.functions import Exp

    shared = Exp(-sp.Abs(x))
    free = Param("free", init=1.0)  # a real parameter that may be 0
    assert _finite_at_finite_inputs(x * shared / (shared + 1) ** 2, shared)
    assert _finite_at_finite_inputs(log1p(shared) / sigma**2 + Sigmoid(x) * x**3, shared)
    assert not _finite_at_finite_inputs(log1p(shared) / free**2, shared)
    assert not _finite_at_finite_inputs(sp.log(shared), shared)
    assert not _finite_at_finite_inputs(1 / (shared - 1), shared)
    assert not _finite_at_finite_inputs(sp.exp(x) * shared, shared)
    assert not _finite_at_finite_inputs(sp.sqrt(shared), shared)


def test_forward_runs_on_x_and_a_sign_split_shares_one_exp():
    """The forward of the custom-gradient op is never differentiated by TF, so it needs no
    branch-local inputs; the gradient's sign split (mish: e^-x for x >= 0, e^x below)
    computes one e^-|x| on one input for both sides, which is x clamped where mish' has
    reached its values at ±inf (Note [Saturation clamp]), so no comparison with ±inf and no
    select of a branch-local input remain."""
    (mish,) = load_definitions(ROOT / "definitions" / "mish.py")
    source = render_tf_ops(derive(mish), "# header", "")
    forward = source[source.index("def _f_tf(") : source.index("def _grad_tf(")]
    gradient = source[source.index("def _grad_tf(") : source.index("def _compute_dtype(")]
    assert "_x0 =" not in forward and forward.count("tf.math.exp(") == 1
    assert gradient.count("tf.math.exp(") == 1
    assert "_xs0 = _saturated(x, (-128.0, -1024.0), (64.0, 512.0))" in gradient
    assert "_x0 =" not in gradient and "math.inf" not in gradient and "_nan" not in gradient


@pytest.mark.parametrize(
    ("name", "thresholds"),
    [
        ("gelu", {"f": {-1: (16.0, 64.0)}, "d_x": {1: (16.0, 64.0), -1: (16.0, 64.0)}}),
        ("mish", {"f": {-1: (128.0, 1024.0)}, "d_x": {1: (64.0, 512.0), -1: (128.0, 1024.0)}}),
        ("swish", {}),  # in beta*x: no threshold holds for every beta
        ("softsign", {}),  # 1/(1 + |x|)^2 reaches 0 only far beyond the candidates
    ],
)
def test_saturation_thresholds(name, thresholds):
    """Note [Saturation clamp]: the sides and thresholds (float32, float64) beyond which a
    quantity has reached its value at ±inf and its derivative 0."""
    (act,) = [a for a in load_definitions(ROOT / "definitions" / f"{name}.py") if a.name == name]
    assert saturation_thresholds(derive(act)) == thresholds


@requires_tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturation_clamp_gives_the_limits_and_zero_second_derivatives(tf, dtype):
    """gelu' clamped beyond T (16 in float32, 64 in float64): the limits 1 and 0 at every x
    beyond, ±inf included, and 0 as the second derivative there, eager and under XLA; NaN
    stays NaN."""
    ops = _tf_ops("gelu")
    big = [16.0, 17.0, 64.0, 100.0, 1e10, 1e30, math.inf]
    points = tf.constant([*big, *(-v for v in big), math.nan], dtype=dtype)

    def both(xs):
        with tf.GradientTape() as outer:
            outer.watch(xs)
            with tf.GradientTape() as inner:
                inner.watch(xs)
                y = ops.gelu(xs)
            first = inner.gradient(y, xs)
        return first, outer.gradient(first, xs)

    for run in (both, tf.function(both, jit_compile=True)):
        first, second = (t.numpy() for t in run(points))
        n = len(big)
        if dtype == "float64":  # float32 reaches the limits at 16, float64 at about 38
            first, second = np.concatenate([first[2:n], first[n + 2 :]]), np.concatenate([second[2:n], second[n + 2 :]])
            n -= 2
        np.testing.assert_array_equal(first[:n], 1.0)
        np.testing.assert_array_equal(first[n : 2 * n], 0.0)
        np.testing.assert_array_equal(second[: 2 * n], 0.0)
        assert np.isnan(first[-1]) and np.isnan(second[-1])


def test_clamped_sign_split_of_swish():
    """Note [One side of a sign split, clamped]: swish' (a sign split on beta*x, whose
    values at x = ±inf a clamp of x cannot give) is its form in e^(beta*x) on beta*x clamped
    to [-128, 32] in float32, [-1024, 64] in float64; no comparison with ±inf, no select.
    Quantities whose split variable is x itself (mish) keep the clamp of x."""
    (swish,) = load_definitions(ROOT / "definitions" / "swish.py")
    (mish,) = load_definitions(ROOT / "definitions" / "mish.py")
    found = clamped_forms(derive(swish))
    assert set(found) == {"d_x"} and found["d_x"].u == swish.params[0] * x
    assert (found["d_x"].lower, found["d_x"].upper) == ((-128.0, -1024.0), (32.0, 64.0))
    assert clamped_forms(derive(mish)) == {}
    source = render_tf_ops(derive(swish), "# header", "")
    gradient = source[source.index("def _grad_tf(") : source.index("def _compute_dtype(")]
    d_x = gradient[: gradient.index("_d_x =")]
    assert "_us0 = _saturated_product(x, beta, (-128.0, -1024.0), (32.0, 64.0))" in d_x
    assert "math.inf" not in d_x and "tf.where" not in d_x and d_x.count("tf.math.exp(") == 1


@requires_tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clamped_sign_split_gives_the_limits_and_finite_second_derivatives(tf, dtype):
    """swish' on beta*x clamped: exactly 1 and 0 at every x beyond the clamp, ±inf included,
    for every beta in its range; second derivatives finite (0 beyond the clamp); NaN stays
    NaN; eager and under XLA."""
    ops = _tf_ops("swish")
    big = [40.0, 100.0, 1100.0, 1e10, 1e30, math.inf]
    points = tf.constant([*big, *(-v for v in big), math.nan], dtype=dtype)

    def both(xs, beta):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch([xs, beta])
            with tf.GradientTape() as inner:
                inner.watch([xs, beta])
                y = ops.swish(xs, beta)
            first = inner.gradient(y, xs)
        return first, outer.gradient(first, xs), outer.gradient(first, beta)

    for beta in (1.0, 0.1, 4.0):
        b = tf.fill(points.shape, tf.constant(beta, dtype=dtype))
        for run in (both, tf.function(both, jit_compile=True)):
            first, second, mixed = (t.numpy() for t in run(points, b))
            n = len(big)
            above = [v * beta >= (32.0 if dtype == "float32" else 64.0) for v in big]
            below = [v * beta >= (128.0 if dtype == "float32" else 1024.0) for v in big]
            np.testing.assert_array_equal(first[:n][above], 1.0)
            np.testing.assert_array_equal(first[n : 2 * n][below], 0.0)
            np.testing.assert_array_equal(second[: 2 * n][above + below], 0.0)
            assert sum(above) >= 3 and sum(below) >= 2
            assert np.isfinite(second[:-1]).all() and np.isfinite(mixed[:-1]).all()
            assert np.isnan(first[-1]) and np.isnan(second[-1])


@requires_tf
@pytest.mark.parametrize("n", [1000, 70000])
def test_memory_kept_for_backward_is_no_more_than_autodiff_or_the_built_in(tf, n):
    """What a tape holds after one eager forward, as benchmarks/tf_vs_native.py measures it
    (op by op below _COMPILE_FROM elements, compiled from it): the generated functions keep
    their own output (TensorFlow's custom_gradient wrapper holds it) and nothing else, no
    more than autodiff of the same composite (sigmoid's or tanh's output, gelu's four
    intermediates) or the built-in (tf.nn.silu: its sigmoid and its output)."""
    bench = load_module(ROOT / "benchmarks" / "tf_vs_native.py", "symact_bench_tf_vs_native")
    swish, gelu, mish = _tf_ops("swish"), _tf_ops("gelu"), _tf_ops("mish")
    x = tf.random.stateless_uniform((n,), seed=(0, 1), minval=-8.0, maxval=8.0)
    beta, size = tf.Variable(1.5), n * 4
    cases = {
        "silu": [(lambda t: swish.swish(t, 1.0), ()), (lambda t: t * tf.math.sigmoid(t), ()), (tf.nn.silu, ())],
        "swish": [(swish.swish, (beta,)), (lambda t, b: t * tf.math.sigmoid(b * t), (beta,))],
        "gelu": [(gelu.gelu, ()), (lambda t: 0.5 * t * (1.0 + tf.math.erf(t * 0.7071067811865476)), ())],
        "mish": [(mish.mish, ()), (lambda t: t * tf.math.tanh(tf.math.softplus(t)), ())],
    }
    for name, ((generated, params), *others) in cases.items():
        kept = bench.kept_for_backward(generated, x, params)
        assert kept == size, (name, kept / size)
        assert all(bench.kept_for_backward(fn, x, ps) >= kept for fn, ps in others), name


@pytest.mark.parametrize(
    ("replacements", "reduced", "paired"),
    [
        ([("_t0", sp.exp(-x))], ["_t0**2 + _t0"], {"_t0"}),
        ([("_t0", sp.exp(-x))], ["1/(_t0**2 + 1)"], {"_t0"}),
        ([("_t0", sp.exp(-x)), ("_t1", sp.exp(x**2))], ["_t0*_t1 + _t0"], {"_t0", "_t1"}),
        ([("_t0", sp.exp(-x))], ["_t0*exp(x) + _t0"], {"_t0"}),
        ([("_t0", sp.exp(-x))], ["x*_t0/(_t0 + 1)**2"], set()),
        ([("_t0", sp.exp(-x)), ("_t1", x**2)], ["_t1*_t1*_t0 + _t0"], set()),
    ],
)
def test_exponentials_that_products_multiply(replacements, reduced, paired):
    """Note [Products of exponentials under XLA]: which shared exponentials a product
    multiplies by an exponential."""
    symbols = {name: sp.Symbol(name, real=True) for name, _ in replacements}
    reps = [(symbols[name], e) for name, e in replacements]
    exprs = [sp.sympify(text, locals={**symbols, "x": x}) for text in reduced]
    assert exps_multiplied(reps, exprs) == {symbols[name] for name in paired}


@requires_tf
@pytest.mark.parametrize(("name", "exponentials"), [("mish", 1), ("swish", 2), ("gelu", 1)])
def test_compiled_gradient_computes_each_exponential_once(tf, name, exponentials):
    """Note [Products of exponentials under XLA]: in the optimized HLO of forward and
    backward under XLA (as the benchmark compiles them), mish's gradient has its one
    e^-|x| (its square is not rewritten into a second exp), swish's one for d_x and one
    for d_beta's sech^2, gelu's the shared e^(-x^2/2)."""
    ops = _tf_ops(name)
    params = [tf.Variable(1.0)] if name == "swish" else []

    def once(xs):
        with tf.GradientTape() as tape:
            tape.watch([xs, *params])
            y = getattr(ops, name)(xs, *params)
        return tape.gradient(y, [xs, *params])

    xs = tf.zeros((70000,))
    hlo = tf.function(once, jit_compile=True).experimental_get_compiler_ir(xs)(stage="optimized_hlo")
    assert hlo.count(" exponential(") == exponentials, hlo


@requires_tf
def test_shared_sign_split_second_order_is_finite_and_right(tf):
    """mish'' through nested tapes, eager and under XLA: the formula's value at finite x,
    including far out where e^-|x| underflows, and finite (0) at x = ±inf."""
    ops = _tf_ops("mish")
    finite = np.array([-1e30, -200.0, -30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 30.0, 200.0, 1e30])
    points = tf.constant(np.concatenate([finite, [np.inf, -np.inf]]))
    f = x * sp.tanh(sp.log(1 + sp.exp(x)))
    second = sp.lambdify(x, sp.diff(f, x, 2), "mpmath")
    with mpmath.workdps(300):  # f'' at x = 200 is 1e-171 after cancellation of terms near 1
        expected = np.array([float(second(mpmath.mpf(v))) if abs(v) < 1e3 else 0.0 for v in finite] + [0.0, 0.0])

    def second_order(xs):
        with tf.GradientTape() as outer:
            outer.watch(xs)
            with tf.GradientTape() as inner:
                inner.watch(xs)
                y = ops.mish(xs)
            first = inner.gradient(y, xs)
        return outer.gradient(first, xs)

    for run in (second_order, tf.function(second_order, jit_compile=True)):
        got = run(points).numpy()
        assert np.isfinite(got).all(), got
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)


@requires_tf
def test_compiled_and_op_by_op_compute_the_same_formulas(tf, monkeypatch):
    """Note [Compiled formulas]: inputs from _COMPILE_FROM elements run compiled by XLA,
    smaller ones op by op, and SYMACT_TF_XLA=0 runs every size op by op; values and
    gradients agree."""
    import keras

    modules = {}
    registered = dict(keras.saving.get_custom_objects())  # loading again registers Swish again
    try:
        for flag in ("0", "1"):
            monkeypatch.setenv("SYMACT_TF_XLA", flag)
            modules[flag] = load_module(GENERATED / "swish" / "tf_ops.py", f"symact_swish_tf_ops_xla_{flag}")
    finally:
        keras.saving.get_custom_objects().clear()
        keras.saving.get_custom_objects().update(registered)
    compiled = modules["1"]._forward.compiled
    assert not hasattr(modules["0"]._forward, "compiled")

    def run(module, n):
        xs = tf.constant(np.linspace(-40.0, 40.0, n))
        beta = tf.Variable(1.5, dtype=tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = module.swish(xs, beta)
        return [t.numpy() for t in (y, *tape.gradient(y, [xs, beta]))]

    small, large = 161, modules["1"]._COMPILE_FROM
    for n in (small, large):
        for op_by_op, xla in zip(run(modules["0"], n), run(modules["1"], n)):
            np.testing.assert_allclose(op_by_op, xla, rtol=1e-13, atol=1e-300)
        assert compiled.experimental_get_tracing_count() == (0 if n == small else 1)


@requires_tf
def test_hessian_through_nested_tapes_matches_the_formula(tf):
    """Note [Second order]: the gradient function is made of TF ops, so a second tape
    differentiates it, in x and in the parameters."""
    ops = _tf_ops("gaussian_bump")
    xs = tf.constant(np.linspace(-2, 2, 9))
    a, b, c = (tf.Variable(v, dtype=tf.float64) for v in (1.5, 0.7, 0.2))
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(xs)
        with tf.GradientTape() as inner:
            inner.watch(xs)
            y = ops.gaussian_bump(xs, a, b, c)
        gx = inner.gradient(y, xs)
    d2x = outer.gradient(gx, xs).numpy()
    d2xa = outer.gradient(gx, a).numpy()
    u = xs.numpy() - 0.2
    e = np.exp(-0.7 * u**2)
    np.testing.assert_allclose(d2x, 1.5 * e * (4 * 0.7**2 * u**2 - 2 * 0.7), rtol=1e-12)
    np.testing.assert_allclose(d2xa, np.sum(-2 * 0.7 * u * e), rtol=1e-12)


@requires_tf
def test_keras_variables_and_keras_ops(tf, keras):
    """A Keras variable passed straight in works (it is read before tf.custom_gradient sees
    it), and so does the function inside keras.ops code and a functional model."""
    ops = _tf_ops("swish")
    beta = keras.Variable(1.5)
    xs = tf.constant(np.linspace(-3, 3, 7), tf.float32)
    with tf.GradientTape() as tape:
        y = ops.swish(keras.ops.multiply(xs, 2.0), beta)
    (g,) = tape.gradient(y, [beta])
    assert g is not None and g.shape == ()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, ops.Swish(num_parameters=4)(keras.layers.Dense(4)(inputs)))
    assert model(tf.ones((2, 4))).shape == (2, 4)


@requires_tf
def test_every_kind_of_parameter(tf, keras, tmp_path):
    """A fixed parameter is a non-trainable weight without gradient; a positive one without
    bounds is softplus(raw) + tiny; an unconstrained one is the weight itself."""
    k = Param("k", init=2.0, trainable=False)
    beta = Param("beta", init=1.5, positive=True)
    shift = Param("shift", init=0.25)
    act = Activation(name="mixed", expr=k * sp.log(1 + sp.exp(beta * x)) / beta + shift * x, params=[k, beta, shift])
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "tf_ops.py").write_text(render_tf_ops(derive(act), "# header", ""))
    ops = _tf_ops("mixed", folder)
    layer = ops.Mixed(num_parameters=2)
    assert [w.name for w in layer.weights] == ["beta_raw", "shift", "k"]  # Keras lists trainable first
    assert [w.name for w in layer.trainable_weights] == ["beta_raw", "shift"]
    np.testing.assert_allclose(layer.beta.numpy(), [1.5, 1.5], rtol=1e-6)
    layer.beta_raw.assign([-1e4, -1e4])
    assert (layer.beta.numpy() > 0).all()
    with pytest.raises(ValueError, match="beta must be finite and > 0, got -1.0"):
        ops.Mixed(beta=-1.0)
    xs = tf.constant(np.linspace(-3, 4, 8))
    fixed, b, c = (tf.Variable(v, dtype=tf.float64) for v in (2.0, 1.5, 0.25))
    with tf.GradientTape() as tape:
        y = ops.mixed(xs, fixed, b, c)
    grads = tape.gradient(y, [fixed, b, c])
    assert grads[0] is None and grads[1].shape == () and grads[2].shape == ()
    np.testing.assert_allclose(grads[2].numpy(), xs.numpy().sum(), rtol=1e-12)
    theoretical, numerical = tf.test.compute_gradient(lambda u, v: ops.mixed(xs, 2.0, u, v), [b, c], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6)


@requires_tf
def test_mixed_precision(tf, keras):
    """Under mixed_float16 the layer keeps float32 weights, computes in float32 and returns
    float16; float16 and bfloat16 inputs to the function are computed in float32."""
    ops = _bump_layer_ops()
    xs = tf.constant(np.linspace(-1, 1, 12).reshape(3, 4), tf.float32)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = ops.Bump(num_parameters=4)
        with tf.GradientTape() as tape:
            y = layer(xs)
        (g,) = tape.gradient(y, layer.trainable_weights)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert y.dtype == tf.float16 and layer.sigma_raw.dtype == "float32"
    assert g.dtype == tf.float32 and g.shape == (4,) and np.isfinite(g.numpy()).all()
    expected = ops.bump(tf.cast(tf.cast(xs, tf.float16), tf.float32), tf.fill((4,), 0.5))
    np.testing.assert_array_equal(y.numpy(), tf.cast(expected, tf.float16).numpy())
    for dtype in (tf.float16, tf.bfloat16):
        half = tf.cast(xs, dtype)
        out = ops.bump(half, 0.5)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), tf.cast(ops.bump(tf.cast(half, tf.float32), 0.5), dtype).numpy())


@requires_tf
def test_layer_constraints_and_config(tf, keras):
    ops = _bump_layer_ops()
    with pytest.raises(ValueError, match=r"sigma must lie in \[0.1, 10.0\], got 20.0"):
        ops.Bump(sigma=20.0)
    with pytest.raises(ValueError, match="num_parameters must be >= 1"):
        ops.Bump(num_parameters=0)
    layer = ops.Bump(num_parameters=3, sigma=2.0, name="width")
    assert [w.name for w in layer.weights] == ["sigma_raw"]
    np.testing.assert_allclose(layer.sigma.numpy(), [2.0] * 3, rtol=1e-6)
    config = layer.get_config()
    assert config["num_parameters"] == 3 and config["sigma"] == 2.0 and config["name"] == "width"
    assert keras.saving.get_registered_name(ops.Bump) == "symact>Bump"
    softplus = _tf_ops("softplus").Softplus()
    with pytest.raises(ValueError, match=r"beta must lie in \[0.25, 4.0\]"):
        _tf_ops("softplus").Softplus(beta=-1.0)
    softplus.beta_raw.assign([-1e4])
    assert float(softplus.beta.numpy()[0]) >= 0.25


_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    sys.modules["symact"] = None  # the generated folder alone must be enough
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import keras
    import tensorflow as tf
    import tf_ops  # registers the layer with Keras

    data = np.load(sys.argv[3])
    model = keras.models.load_model(sys.argv[2])
    x = tf.constant(data["x"])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
    grads = tape.gradient(y, [x, *model.trainable_weights])
    np.testing.assert_array_equal(y.numpy(), data["y"])
    for k, g in enumerate(grads):
        np.testing.assert_array_equal(g.numpy(), data[f"g{k}"])
    served = tf.saved_model.load(sys.argv[4])
    xs = tf.constant(data["xs"])
    with tf.GradientTape() as tape:
        tape.watch(xs)
        ys = served.f(xs)
    np.testing.assert_array_equal(ys.numpy(), data["ys"])
    np.testing.assert_array_equal(tape.gradient(ys, xs).numpy(), data["gs"])
    print("ok")
    """
)


@requires_tf
@pytest.mark.slow
def test_save_and_load_in_a_fresh_process(tf, keras, tmp_path):
    """model.save("m.keras") and a SavedModel, loaded in a new process that imports only the
    generated folder (symact cannot be imported there): same outputs and gradients."""
    ops = _bump_layer_ops()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3), ops.Bump(num_parameters=3, sigma=1.5)])
    x = tf.random.stateless_uniform((5, 3), seed=(3, 4), minval=-2, maxval=2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
    grads = tape.gradient(y, [x, *model.trainable_weights])
    model.save(tmp_path / "m.keras")

    module = tf.Module()
    module.sigma = tf.Variable(0.7, dtype=tf.float64)
    module.f = tf.function(lambda t: ops.bump(t, module.sigma), input_signature=[tf.TensorSpec([None], tf.float64)])
    xs = tf.constant(np.linspace(-1.5, 1.5, 11))
    with tf.GradientTape() as tape:
        tape.watch(xs)
        ys = module.f(xs)
    gs = tape.gradient(ys, xs)
    tf.saved_model.save(module, str(tmp_path / "saved"))
    np.savez(tmp_path / "data.npz", x=x.numpy(), y=y.numpy(), xs=xs.numpy(), ys=ys.numpy(), gs=gs.numpy(),
             **{f"g{k}": g.numpy() for k, g in enumerate(grads)})
    (tmp_path / "check.py").write_text(_FRESH_PROCESS)
    env = {**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(tmp_path / "check.py"), str(GENERATED / "bump"), str(tmp_path / "m.keras"),
         str(tmp_path / "data.npz"), str(tmp_path / "saved")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


# ---- learn the width of a bump with Keras ----------------------------------------------------


@requires_tf
@pytest.mark.slow
@pytest.mark.parametrize("true_sigma", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_a_keras_bump_layer_learns_sigma(tf, keras, true_sigma):
    """A model that is just the generated Bump layer (initial sigma 0.5), fitted with Adam to
    targets from a bump of the true sigma, inputs in (-3, 3), many outside the support: the
    loss is finite at every step, no gradient is NaN, and sigma is learned within 1e-2 (0.1
    is the lower bound of sigma's range, which the reparametrisation reaches only as its
    raw weight goes to -inf: the fit comes within 1e-2 of it)."""
    ops = _bump_layer_ops()
    rng = np.random.default_rng(0)
    xs = rng.uniform(-3, 3, size=(2048, 1)).astype(np.float32)
    ys = ops.bump(tf.constant(xs), true_sigma).numpy()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), ops.Bump()])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(xs) - ys) ** 2)
    (g,) = tape.gradient(loss, model.trainable_weights)
    assert np.isfinite(g.numpy()).all()
    outside = xs[xs[:, 0] ** 2 > 0.5]
    with tf.GradientTape() as tape:
        y = model(outside)
    assert np.isfinite(tape.gradient(y, model.trainable_weights)[0].numpy()).all()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mse")
    data = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(2048).repeat()
    history = model.fit(data, epochs=1, steps_per_epoch=400, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all()
    learned = float(model.layers[-1].sigma.numpy()[0])
    assert abs(learned - true_sigma) <= 1e-2, f"learned sigma {learned}, true {true_sigma}"


# ---- a user-supplied derivative, verified, used by the Keras layer --------------------------


_SOFT_CLIP = """\
import sympy as sp

from symact import Activation, Param, x

scale = Param("scale", init=1.0, positive=True, bounds=(0.25, 4.0), doc="output range")
t = sp.tanh(x / scale)

soft_clip = Activation(
    name="soft_clip",
    expr=scale * t,
    params=[scale],
    derivative={{x: {d_x}, scale: t - x / scale * (1 - t**2)}},
    doc="scale*tanh(x/scale): a clip to (-scale, scale) with a smooth knee.",
)
"""


@requires_tf
@pytest.mark.slow
def test_user_derivative_is_verified_and_trains_in_keras(tf, keras, tmp_path, monkeypatch):
    """derivative={x: ..., scale: ...} sharing the trainable scale: symact verifies both at
    every golden point, generates, and the generated Keras layer learns the scale."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "soft_clip.py").write_text(_SOFT_CLIP.format(d_x="1 - t**2"))
    # d_scale = t - x/scale·(1 - t²) cancels near x = 0 (to the golden tests' metric): written
    # with that limitation recorded, as an absolute error bound its golden tests check.
    args = ["generate", "soft_clip.py", "-o", "out", "--backend", "tensorflow", "-q"]
    assert CliRunner().invoke(main, args).exit_code == 1
    result = CliRunner().invoke(main, [*args, "--accept-inaccurate"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out" / "soft_clip").iterdir()) == ["golden.json", "test_soft_clip.py", "tf_ops.py"]
    ops = _tf_ops("soft_clip", tmp_path / "out" / "soft_clip")
    rng = np.random.default_rng(1)
    xs = rng.uniform(-6, 6, size=(1024, 2)).astype(np.float32)
    ys = (2.5 * np.tanh(xs / 2.5)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), ops.SoftClip(num_parameters=2)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="mse")
    data = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(1024).repeat()
    history = model.fit(data, epochs=1, steps_per_epoch=300, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    np.testing.assert_allclose(model.layers[-1].scale.numpy(), [2.5, 2.5], atol=1e-2)
    golden = json.loads((tmp_path / "out" / "soft_clip" / "golden.json").read_text())
    assert golden["trainable"] == ["scale"]
    assert "d_scale" in golden["limitations"]


@pytest.mark.slow
def test_wrong_user_derivative_is_refused_with_the_point_and_both_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "soft_clip.py").write_text(_SOFT_CLIP.format(d_x="1 - t"))
    result = CliRunner().invoke(main, ["generate", "soft_clip.py", "-o", "out", "--backend", "tf"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("symact:")]
    assert len(lines) == 1, result.output
    assert "soft_clip.py:" in lines[0] and "derivative[x] is wrong: at x=" in lines[0]
    assert ", scale=" in lines[0] and " it gives " in lines[0] and ", the true value is " in lines[0]
    assert not (tmp_path / "out").exists()


# ---- accuracy rows ---------------------------------------------------------------------------


@requires_tf
def test_accuracy_harness_measures_the_tf_path_and_builtin():
    """symact accuracy's TF rows: the generated function within the bounds on a reduced
    sweep (swish: its sigmoid is printed as the exp-based _sigmoid), and TF's own op beside it."""
    from symact.accuracy import measure_tf_builtin, measure_tf_formulas
    from symact.numeric import MAX_BOUND, P99_BOUND

    (act,) = load_definitions(ROOT / "definitions" / "swish.py")
    derivation = derive(act)
    stats = measure_tf_formulas(derivation, GENERATED / "swish", reduced=True)
    assert stats is not None and set(stats) == {(d, q) for d in ("float32", "float64") for q in ("f", "d_x", "d_beta")}
    for (dtype, quantity), s in stats.items():
        assert s.nonfinite == 0 and s.max <= MAX_BOUND and s.p99 <= P99_BOUND, f"{dtype} {quantity}: {s.row()}"
    builtin = measure_tf_builtin(derivation, reduced=True)
    assert builtin is not None and set(builtin) == {(d, q) for d in ("float32", "float64") for q in ("f", "d_x")}
    assert all(s.points > 0 for s in builtin.values())


def test_gelu_float32_formulas_compute_only_the_erfcx_fit_in_float64():
    """Note [float32 erfc through a float64 erfcx fit]: gelu's formulas for float32 inputs
    run in float32 (float32's exp of -x^2/2, one per formula), with erfc as
    e^(-u^2)*erfcx(|u|) and only the erfcx fit in float64; float64 inputs keep TF's erfc."""
    (gelu,) = [a for a in load_definitions(ROOT / "definitions" / "gelu.py") if a.name == "gelu"]
    source = render_tf_ops(derive(gelu), "# header", "")
    narrow = source[source.index("def _f_tf_w(") : source.index("def _compute_dtype(")]
    native = source[source.index("def _f_tf(") : source.index("def _f_tf_w(")]
    helper = source[source.index("def _erfcx_w(") : source.index("def _saturated(")]
    assert "_WIDE_F = False" in source and "_WIDE_GRAD = False" in source
    assert narrow.count("tf.math.exp(") == 2 and narrow.count("_erfcx_w(") == 2 and "tf.math.erfc(" not in narrow
    assert "_erfcx_w(" not in native and "tf.math.erfc(" in native and "_exp_w" not in source
    assert "b = tf.cast(a, tf.float64)" in helper and "return tf.cast(y, a.dtype), gradient" in helper


def _erfc_and_tanh(tmp_path: Path):
    """A formula that calls erfc and tanh, printed as given, its tf_ops.py and the module."""
    act = Activation(name="erfc_tanh", expr=x * sp.erfc(-x) / 2 + sp.tanh(x))
    source = render_tf_ops(_as_printed(act), "# header", "")
    folder = tmp_path / "erfc_tanh"
    folder.mkdir()
    (folder / "tf_ops.py").write_text(source)
    return source, folder


def test_erfc_beside_tanh_computes_float32_in_float64_with_float32_exponentials(tmp_path):
    """Note [float32 erfc through a float64 erfcx fit]: a formula that still calls tanh once
    erfc is rewritten computes float32 inputs in float64 as a whole, its exponentials of a
    non-positive argument as _exp_w (float32's exp and the rounding's residual)."""
    source, _ = _erfc_and_tanh(tmp_path)
    wide = source[source.index("def _f_tf_w(") : source.index("def _compute_dtype(")]
    native = source[source.index("def _f_tf(") : source.index("def _f_tf_w(")]
    assert "_WIDE_F = True" in source and "_WIDE_GRAD = True" in source
    assert wide.count("_exp_w(") == 2 and "tf.math.exp(" not in wide and "_erfcx_w(" in wide
    assert "_exp_w(" not in native and "def _exp_w(z):" in source


@requires_tf
def test_exp_w_is_float32_accurate_for_non_positive_arguments(tf, tmp_path):
    """_exp_w(z) for float64 z <= 0: within an ULP of float32 of e^z (float32's exp of the
    rounded argument, times the residual's factor, exact to float64), 0 below float32's
    range, NaN for NaN; its gradient is itself, to a few ULPs of float32 (and float32's
    smallest normal number)."""
    _, folder = _erfc_and_tanh(tmp_path)
    ops = _tf_ops("erfc_tanh", folder)
    z = np.concatenate([-np.logspace(-8, np.log10(87.0), 4001), [0.0, -1e-300, -200.0, -np.inf, np.nan]])
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        y = ops._exp_w(zt)
    slope = tape.gradient(y, zt).numpy()
    y = y.numpy()
    finite = z > -87.0
    true = np.exp(z[finite])
    np.testing.assert_allclose(y[finite], true, rtol=2.0**-23, atol=0)
    np.testing.assert_allclose(slope[finite], true, rtol=2.0**-19, atol=2.0**-126)
    assert y[-3] == 0.0 and y[-2] == 0.0 and np.isnan(y[-1])


@requires_tf
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_gelu_float32_at_infinities(tf, dtype):
    """The formulas of float32 (and float16) inputs at ±inf: f(+inf) = +inf (the erfcx fit
    is 0 there: its (a - k)/(a + k) is 1 - 2k/(a + k), not inf*0), f(-inf) = -0,
    gradients 1 and 0, NaN for NaN, eager and under XLA."""
    ops = load_module(GENERATED / "gelu" / "tf_ops.py", "symact_generated_gelu_tf_ops")

    def value_and_gradient(xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = ops.gelu(xs)
        return y, tape.gradient(y, xs)

    xs = tf.constant([math.inf, -math.inf, math.nan], dtype=dtype)
    for run in (value_and_gradient, tf.function(value_and_gradient, jit_compile=True)):
        y, g = (t.numpy() for t in run(xs))
        assert y[0] == math.inf and y[1] == 0.0 and g[0] == 1.0 and g[1] == 0.0
        assert np.isnan(y[2]) and np.isnan(g[2])


@requires_tf
def test_gelu_float32_second_order(tf):
    """Note [float32 erfc through a float64 erfcx fit]: float32 gelu runs erfc as
    e^(-u^2)*erfcx(|u|), the erfcx fit in float64; its gradient, differentiated again by TF
    (the erfcx helper's gradient is exact), gives gelu'' = phi(x)*(2 - x^2), at x = 0 too
    (where the |u| is a where, not abs, whose gradient at 0 would be 0), eager and under XLA."""
    # the module's usual name: loading it under another would register a second Gelu class
    # with Keras, which the generated save/load test would then get back
    ops = load_module(GENERATED / "gelu" / "tf_ops.py", "symact_generated_gelu_tf_ops")
    xs = np.array([-6.0, -2.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=np.float32)

    def second(t):
        return _nested_gradients(tf, ops.gelu, t)[1:]

    x = tf.constant(xs)
    d64 = xs.astype(np.float64)
    phi = np.exp(-0.5 * d64 * d64) / math.sqrt(2 * math.pi)
    for d, dd in (second(x), tf.function(second, jit_compile=True)(x)):
        assert d.dtype == tf.float32
        np.testing.assert_allclose(dd.numpy(), phi * (2 - d64 * d64), rtol=1e-5, atol=1e-9)
