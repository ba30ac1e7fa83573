"""The Numba printer and the generated kernels' types."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import sympy as sp

from symact import Activation, Param, x
from symact.derive import derive
from symact.emit.numba import NumbaPrinter, render_kernel_calls, render_kernels
from symact.errors import UnsupportedFunctionError
from symact.functions import Erfc, Sigmoid, Softplus
from symact.testing import ROOT, load_module

CATALOG = sorted(p.name for p in (ROOT / "generated").iterdir() if (p / "kernels.py").exists())


@pytest.mark.parametrize(
    ("expr", "float32", "float64"),
    [
        (x / 2, "(np.float32(0.5))*x", "(0.5)*x"),
        (x**2, "(x*x)", "(x*x)"),
        (1 / x**2, "(np.float32(1.0)/(x*x))", "(1.0/(x*x))"),
        (sp.sqrt(x), "math.sqrt(x)", "math.sqrt(x)"),
        (x**sp.Rational(1, 3), "x**np.float32(0.3333333333333333)", "x**0.3333333333333333"),
        (sp.exp(-x), "_exp_f32(-x)", "_exp_f64(-x)"),
        (Sigmoid(x), "_sigmoid_f32(x)", "_sigmoid_f64(x)"),
        (Softplus(2 * x), "_softplus_f32(np.float32(2.0)*x)", "_softplus_f64(2.0*x)"),
        (Erfc(-x), "_erfc_f32(-x)", "_erfc_f64(-x)"),
        (sp.sech(x), "(np.float32(1.0)/_cosh_f32(x))", "(1.0/_cosh_f64(x))"),
        (sp.floor(x), "np.floor(x)", "np.floor(x)"),
        (sp.sign(x), "np.sign(x)", "np.sign(x)"),
        (
            sp.Piecewise((x, x > 0), (0, True)),
            "((x) if (x > np.float32(0.0)) else (np.float32(0.0)))",
            "((x) if (x > 0.0) else (0.0))",
        ),
        (sp.Piecewise((x, x > 0)), "((x) if (x > np.float32(0.0)) else (np.float32(np.nan)))",
         "((x) if (x > 0.0) else (np.nan))"),
    ],
)
def test_printed_strings(expr, float32, float64):
    assert NumbaPrinter("float32").doprint(expr) == float32
    assert NumbaPrinter("float64").doprint(expr) == float64


def test_float64_arithmetic_with_vectorizable_functions():
    """The printer for float32 quantities computed in float64: float64 constants, the
    float64 helpers of symact.elementary, its own suffix for helper functions."""
    printer = NumbaPrinter("float64", vector=True)
    assert printer.doprint(sp.exp(-x) / 2 + Erfc(x)) == "_erfc_w(x) + (0.5)*_exp_w(-x)"
    assert printer.doprint(Sigmoid(x)) == "_sigmoid_w(x)"
    assert printer.suffix == "w" and printer.exp_name == "_exp_w"


def test_unsupported_function_is_named():
    act = Activation(name="bessel", expr=sp.besselj(0, x))
    with pytest.raises(UnsupportedFunctionError, match="besselj"):
        render_kernels(derive(act), "# header", "")


def test_param_names_cannot_shadow_generated_names():
    for name in ("np", "math", "x", "abs", "_t0"):
        with pytest.raises(Exception, match="reserved|must be an ASCII identifier starting with a letter"):
            Param(name, init=1.0)


def _kernels(name):
    return load_module(ROOT / "generated" / name / "kernels.py", f"symact_generated_{name}_kernels")


@pytest.mark.slow
@pytest.mark.parametrize("name", CATALOG)
def test_float32_kernels_never_compute_in_float64(name):
    """Typed constants keep float32 in float32: no float64 value anywhere in the scalar code,
    neither in the formulas nor in the float32 helpers they call (each its own function,
    inlined by LLVM: Note [Inlined by LLVM])."""
    from numba.core.dispatcher import Dispatcher

    kernels = _kernels(name)
    args = [np.float32(0.5)] + [np.float32(v) for v in (1.0,) * len(kernels.PARAMS)]
    widened = set(kernels.FLOAT32_VIA_FLOAT64)
    # computing in float64 on purpose: Note [float32 computed in float64]; and _erfc_f32,
    # _log1p_f32, which compute in float64 and round once (symact.elementary)
    by_design = {"_erfc_f32", "_log1p_f32"}
    # (and their versions for the fast path of sin and cos, _f_fast_f32, ...)
    if "f" in widened:
        by_design |= {"_f_f32", "_f_fast_f32"}
    if widened - {"f"}:
        by_design |= {"_grad_f32", "_gradx_f32", "_grad_fast_f32", "_gradx_fast_f32"}
    # the loops compiled for float32 first: every float32 function they reach has its overload
    xs = np.linspace(-3, 3, 64, dtype=np.float32)
    kernels.forward(xs, *args[1:])
    kernels.backward_x(np.ones_like(xs), xs, *args[1:])
    if kernels.TRAINABLE:
        kernels.backward(np.ones_like(xs), xs, *args[1:])
    called = []
    for fn in (kernels._f_f32, kernels._grad_f32):
        if fn.__name__ not in by_design:
            fn(*args)
            called.append(fn.__name__)
    compiled = {
        n: f for n, f in vars(kernels).items()
        if isinstance(f, Dispatcher) and n.endswith("_f32") and n not in by_design and f.overloads
    }
    assert set(called) <= set(compiled)
    for fn_name, fn in compiled.items():
        for cres in fn.overloads.values():
            # Literals are float64 until np.float32(...) converts them at compile time; any
            # arithmetic on a float64 value would show up as a float64 result.
            leaks = {
                var: ty
                for var, ty in cres.type_annotation.typemap.items()
                if "float64" in str(ty) and "const" not in var and "load_attr" not in var
            }
            assert not leaks, f"{name}.{fn_name}: float64 values {leaks}"
            assert "float64" not in str(cres.signature.return_type), f"{name}.{fn_name}"


_IMPORT = """
import importlib, importlib.util, json, pathlib, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
folder, name, how = sys.argv[1:]
if how == "package":  # the folder as a package: folder's parent on the path
    sys.path.insert(0, str(pathlib.Path(folder).parent))
    m = importlib.import_module(name)
else:
    spec = importlib.util.spec_from_file_location(name, folder + "/kernels.py")
    m = importlib.util.module_from_spec(spec)
    if how == "registered":
        sys.modules[name] = m
    spec.loader.exec_module(m)
p = [np.float64(1.0)] * len(m.PARAMS)
m.forward(np.linspace(-1, 1, 5), *p)
loops = [v for v in (m._LOOPS.forward, m._LOOPS.backward_x, m._LOOPS.backward) if isinstance(v, Dispatcher) and v.signatures]
hits = sum(sum(loop.stats.cache_hits.values()) for loop in loops)
misses = sum(sum(loop.stats.cache_misses.values()) for loop in loops)
print(json.dumps([m.__name__, sorted(k for k, v in sys.modules.items() if v is m), m._kernel.cache, hits, misses]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bump"])
def test_numba_cache_serves_every_import_name_and_the_module_keeps_its_name(name, tmp_path):
    """Note [Numba cache]: in a fresh process, kernels compiled before under the same
    import name load from the cache; under another name (sharing the cache folder) they
    compile their own; imported as a package module the same; loaded without registering
    it in sys.modules they compile without the cache. In every case the module keeps the
    name it was imported under and adds no other entry to sys.modules."""
    import json
    import shutil
    import subprocess

    folder = tmp_path / "acts"
    shutil.copytree(ROOT / "generated" / name, folder, ignore=shutil.ignore_patterns("__pycache__"))

    def run(module, how):
        result = subprocess.run([sys.executable, "-c", _IMPORT, str(folder), module, how], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)  # [__name__, its names in sys.modules, cached, hits, misses]

    assert run("any_name", "registered") == ["any_name", ["any_name"], True, 0, 1]  # compiles, fills the cache
    assert run("any_name", "registered") == ["any_name", ["any_name"], True, 1, 0]  # loads from it
    assert run("other_name", "registered") == ["other_name", ["other_name"], True, 0, 1]
    assert run("other_name", "registered") == ["other_name", ["other_name"], True, 1, 0]
    assert run("acts.kernels", "package") == ["acts.kernels", ["acts.kernels"], True, 0, 1]
    assert run("acts.kernels", "package") == ["acts.kernels", ["acts.kernels"], True, 1, 0]
    assert run("loose", "unregistered") == ["loose", [], False, 0, 1]  # Numba could not import it
    index = sorted(p.name.split(".")[1] for p in (folder / "__pycache__").glob("*.nbi"))
    assert index == ["acts", "any_name", "other_name"], index  # no entry for "loose"


@pytest.mark.slow
def test_grad_x_alone_has_the_bits_of_grad_x_with_the_parameter_gradients(tmp_path):
    """backward_x computes grad_x with the common subexpressions of the full backward (those
    only the parameter gradients need left out), so the two agree bit for bit: a rational
    activation whose d_x, CSE'd alone, differed from the joint one in the last bit."""
    params = [Param(f"a{i}", init=v, bounds=(-2.0, 2.0)) for i, v in enumerate([0.02, 0.5, 0.34, 0.06])]
    b1 = Param("b1", init=0.0, bounds=(-2.0, 2.0))
    b2 = Param("b2", init=0.11, positive=True, bounds=(0.05, 2.0))
    a0, a1, a2, a3 = params
    act = Activation(
        name="rational",
        expr=(a0 + a1 * x + a2 * x**2 + a3 * x**3) / (1 + sp.Abs(b1 * x + b2 * x**2)),
        params=[*params, b1, b2],
    )
    path = tmp_path / "kernels.py"
    path.write_text(render_kernels(derive(act), "# header", ""))
    (tmp_path / "_kernel_calls.py").write_text(render_kernel_calls("# header"))
    kernels = load_module(path, "symact_test_rational_kernels")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        xs = rng.uniform(-3, 3, size=(37, 71)).astype(dtype)
        g = rng.uniform(-1, 1, size=xs.shape).astype(dtype)
        values = [dtype(p.init) for p in act.params]
        np.testing.assert_array_equal(kernels.backward_x(g, xs, *values), kernels.backward(g, xs, *values)[0])


def _kernels_of(act, tmp_path, tag, monkeypatch=None):
    folder = tmp_path / tag
    folder.mkdir()
    (folder / "kernels.py").write_text(render_kernels(derive(act), "# header", ""))
    (folder / "_kernel_calls.py").write_text(render_kernel_calls("# header"))
    return load_module(folder / "kernels.py", f"symact_test_{act.name}_{tag}_kernels")


@pytest.mark.slow
@pytest.mark.parametrize("definition", ["spike_pulse", "pade"])
def test_one_skeleton_for_all_branches_keeps_the_values(tmp_path, monkeypatch, definition):
    """Note [One skeleton for all branches]: branches that differ only in signs and in
    which parameter goes where are computed as one skeleton after the chain (the spike's
    surrogate: one pair of cosh calls, not two; the rational function: one division), with
    the same bits as the branches computed separately."""
    import symact.emit.numba as numba_emit
    from symact.spec import load_definitions

    (act,) = load_definitions(ROOT / "definitions" / f"{definition}.py")
    source = render_kernels(derive(act), "# header", "")
    name = "_grad_f32" if definition == "spike_pulse" else "_f_f32"
    body = source.split(f"def {name}(")[1].split("\n\n")[0]
    branches = body.split("else:")[0]
    assert "_h0 = " in body and "_cosh_f32" not in branches and "/" not in branches, body
    assert body.count("_cosh_f32(") == (4 if definition == "spike_pulse" else 0) and body.count("/(") == (
        2 if definition == "spike_pulse" else 1
    ), body
    unified = _kernels_of(act, tmp_path, "unified")
    monkeypatch.setattr(numba_emit, "_shared_skeleton", lambda *args: None)
    _assert_same_bits(unified, _kernels_of(act, tmp_path, "separate"), act, 4.0, [0.75, -1.0], seed=1)


def _assert_same_bits(a, b, act, spread, extra, seed):
    """Two kernels.py of ``act`` give the same bits, forward and backward, float32 and
    float64, on uniform x in (-spread, spread), the special values and ``extra``."""
    rng = np.random.default_rng(seed)
    for dtype in (np.float32, np.float64):
        specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e30, *extra]
        xs = np.concatenate([rng.uniform(-spread, spread, 5000), specials]).astype(dtype)
        g = rng.uniform(-1, 1, xs.size).astype(dtype)
        values = [dtype(p.init) for p in act.params]
        for fn in ("forward", "backward_x"):
            args = (xs, *values) if fn == "forward" else (g, xs, *values)
            got, want = getattr(a, fn)(*args), getattr(b, fn)(*args)
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
        for got, want in zip(a.backward(g, xs, *values), b.backward(g, xs, *values)):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.slow
@pytest.mark.parametrize("definition, function, call", [("swish", "_gradx_f32", "_exp_f32("), ("softplus", "_grad_f32", "_log1p_f32(")])
def test_a_call_both_sides_of_a_sign_split_make_is_made_once(tmp_path, monkeypatch, definition, function, call):
    """Note [Branch-free sign splits]: e^(-|u|), and a call of it both sides make
    (softplus's log1p(e^(-|u|)) in d_beta), is computed once before the branches (LLVM
    does not merge it across them, and a vectorized loop computes both sides), with the
    same bits as when each side computes its own."""
    import symact.emit.numba as numba_emit
    from symact.spec import load_definitions

    (act,) = load_definitions(ROOT / "definitions" / f"{definition}.py")
    body = render_kernels(derive(act), "# header", "").split(f"def {function}(")[1].split("\n\n")[0]
    before = body.split("    if (", 1)[0]
    assert body.count(call) == 1 and call in before, body
    hoisted = _kernels_of(act, tmp_path, "hoisted")
    monkeypatch.setattr(numba_emit, "_one_exp_for_both_sides", lambda conds, exprs: (exprs, []))
    _assert_same_bits(hoisted, _kernels_of(act, tmp_path, "separate"), act, 30.0, [88.0, -120.0], seed=2)


@pytest.mark.slow
@pytest.mark.parametrize(
    "expr",
    [sp.log(1 + x**2) * sp.tanh(x), sp.exp(x) - 1 + sp.log(2 + sp.sin(x)), sp.log(1 + sp.exp(-sp.Abs(x))) + x],
    ids=["log1p-tanh", "expm1-log", "log1p-exp"],
)
def test_the_numpy_evaluator_has_the_bits_of_the_kernels(expr, tmp_path):
    """The formula chooser and the check before writing score a printed form through
    symact.numeric.np_function: it must compute as the kernels do, bit for bit (log1p and
    expm1 through the kernels' helpers, float64 tanh and log as libm's, not NumPy's)."""
    from symact.numeric import np_function

    derivation = derive(Activation(name="evaluator", expr=expr))
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "kernels.py").write_text(render_kernels(derivation, "# header", ""))
    (folder / "_kernel_calls.py").write_text(render_kernel_calls("# header"))
    kernels = load_module(folder / "kernels.py", f"symact_test_evaluator_{abs(hash(str(expr)))}_kernels")
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.normal(0, 3, 20000), rng.uniform(-40, 40, 20000), [0.0, -0.0, 1e-8, -1e-8, 0.3]])
    (f,) = [q for q in derivation.quantities if q.name == "f"]
    for dtype in (np.float32, np.float64):
        values = xs.astype(dtype)
        wide = dtype == np.float32 and f.float32_via_float64
        inputs = values.astype(np.float64) if wide else values
        with np.errstate(all="ignore"):
            expected = np.asarray(np_function(f.printed, [x], vector64=wide)(inputs)).astype(dtype)
        got = kernels.forward(values)
        mismatch = np.flatnonzero((got != expected) & ~(np.isnan(got) & np.isnan(expected)))
        assert mismatch.size == 0, (np.dtype(dtype).name, values[mismatch[:5]], got[mismatch[:5]], expected[mismatch[:5]])
