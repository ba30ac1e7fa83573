"""The PyTorch backend: the printer, the generated torch_ops.py beyond what each generated
golden test checks (torch.func, the device-independent path, packaging), the trainable
bump scenario (learning a bump's width), and DDP training across two processes."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from symact import Activation, Param, x
from symact.derive import Branch, Derivation, Quantity, derive
from symact.emit.numba import render_kernel_calls, render_kernels
from symact.emit.torch import TorchPrinter, render_torch_ops
from symact.errors import DefinitionError, SymactError, UnsupportedFunctionError
from symact.functions import Erfc, Sigmoid, Softplus
from symact.testing import load_module

try:
    import torch
except ImportError:  # the tests of generated modules skip
    torch = None

from symact.testing import ROOT

sigma = Param("sigma", init=1.0, positive=True)


@pytest.mark.parametrize(
    ("expr", "printed"),
    [
        (x / 2, "(0.5)*x"),
        (x**2, "(x*x)"),
        (1 / x**2, "(1.0/(x*x))"),
        (sigma * x**3, "sigma*(x*x*x)"),
        (-x / sigma, "-x/sigma"),
        (sp.sqrt(x), "torch.sqrt(x)"),
        (1 / sp.sqrt(x), "torch.rsqrt(x)"),
        (x ** sp.Rational(1, 3), "torch.pow(x, 0.3333333333333333)"),
        (sp.sqrt(2) * x, "1.4142135623730951*x"),
        (sp.pi * x, "3.141592653589793*x"),
        (sp.exp(-x), "torch.exp(-x)"),
        (expm1(x), "torch.expm1(x)"),
        (log1p(x), "torch.log1p(x)"),
        (Sigmoid(x), "torch.sigmoid(x)"),
        (Softplus(2 * x), "_softplus(2.0*x)"),
        (Erfc(-x), "torch.erfc(-x)"),
        (sp.sech(x), "_sech(x)"),
        (sp.floor(x), "torch.floor(x)"),
        (sp.Piecewise((x, x > 0), (0, True)), "torch.where((x > 0.0), x, 0.0)"),
        (sp.Piecewise((x, x > 0)), "torch.where((x > 0.0), x, torch.nan)"),
        (sp.And(x > 0, x < 1), "((x > 0.0) & (x < 1.0))"),
    ],
)
def test_printed_strings(expr, printed):
    assert TorchPrinter().doprint(expr) == printed


def test_imports_come_from_what_was_printed():
    printer = TorchPrinter()
    printer.doprint(sp.exp(x) + Softplus(x) + sp.Piecewise((x, x > 0)))
    assert dict(printer.module_imports) == {"torch": {"exp", "where", "nan"}}
    assert printer.helpers == {"_softplus"}


def _as_printed(act: Activation) -> Derivation:
    """A derivation that prints f and df/dx as given, without derive's rewrites."""
    d_x = sp.diff(act.expr, x)
    return Derivation(
        act,
        Quantity("f", None, "value", act.expr, (Branch(sp.true, act.expr, 0.0),)),
        (Quantity("d_x", x, "derivative", d_x, (Branch(sp.true, d_x, 0.0),)),),
        (),
    )


def test_unsupported_function_is_named():
    act = Activation(name="bessel", expr=sp.besselj(0, x))
    with pytest.raises(UnsupportedFunctionError, match="torch backend cannot print .*besselj"):
        render_torch_ops(_as_printed(act), "# header", "", "0" * 64)


def test_cosh_in_a_denominator_is_printed_as_sech():
    """Note [Autograd-safe forms]: the derivative of 1/cosh(u)**2 is NaN for large |u| under
    autograd; the same value as _sech(u)**2 is not."""
    act = Activation(name="sq", expr=x**2 / (4 * sp.cosh(x / 2) ** 2))
    text = render_torch_ops(_as_printed(act), "# header", "", "0" * 64)
    assert "_f = 0.25*(x*x)*(_sech(0.5*x)*_sech(0.5*x))" in text
    assert "torch.cosh" not in text


def test_param_named_like_the_generated_code_is_refused(tmp_path, monkeypatch):
    from symact.generate import plan

    monkeypatch.chdir(tmp_path)
    (tmp_path / "act.py").write_text(
        "from symact import Activation, Param, x\n"
        "torch = Param('torch', init=1.0)\n"
        "act = Activation(name='scaled', expr=torch * x, params=[torch])\n"
    )
    with pytest.raises(DefinitionError, match=r"act.py:2: parameter name 'torch' is reserved"):
        plan([tmp_path / "act.py"], tmp_path / "out", ("numba", "torch"))
    (tmp_path / "ok.py").write_text(
        "from symact import Activation, Param, x\n"
        "k = Param('k', init=1.0)\n"
        "act = Activation(name='scaled', expr=k * x, params=[k])\n"
    )
    with pytest.raises(SymactError, match="use --backend numba,torch"):
        plan([tmp_path / "ok.py"], tmp_path / "out", ("torch",))


def test_generation_does_not_import_torch():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any import of torch fails\n"
        "from symact import load_definitions\n"
        "from symact.derive import Branch, Derivation, Quantity, derive\n"
        "from symact.emit.torch import render_torch_ops\n"
        f"(act,) = load_definitions({str(ROOT / 'definitions' / 'bump.py')!r})\n"
        "print(len(render_torch_ops(derive(act), '# header', '', '0' * 64)) > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"


# ---- the generated modules ----------------------------------------------------------------

requires_torch = pytest.mark.skipif(
    torch is None or importlib.util.find_spec("numba") is None, reason="torch and numba are needed"
)


_load = load_module


def _torch_ops(name: str):
    return _load(ROOT / "generated" / name / "torch_ops.py", f"symact_generated_{name}_torch_ops")


@contextlib.contextmanager
def _cpu_kernels(ops, enabled: bool):
    """With enabled=False, CPU tensors take the operators' default implementation: the torch
    formulas that CUDA and every other device run."""
    with contextlib.ExitStack() as stack:
        if not enabled:
            stack.enter_context(ops._forward_op.set_kernel_enabled("cpu", False))
            stack.enter_context(ops._backward_op.set_kernel_enabled("cpu", False))
        yield


@requires_torch
def test_branch_local_evaluation_keeps_nan_out_of_every_gradient(tmp_path):
    """Note [Branch-local evaluation]: log(x) is the branch for x > 1 and is -inf or NaN at
    x <= 0. A plain where has NaN gradients there (first and second order); the generated
    code, on both paths, has none."""
    act = Activation(name="logpiece", expr=sp.Piecewise((sp.log(x), x > 1), (x - 1, True)))
    ops = _generate_into(tmp_path / "logpiece", act)

    points = torch.tensor([-2.0, 0.0, 0.5, 1.0, 2.0, 1e30], dtype=torch.float64)
    naive_x = points.clone().requires_grad_()
    naive = torch.where(naive_x > 1, torch.log(naive_x), naive_x - 1)
    (naive_grad,) = torch.autograd.grad(naive.sum(), naive_x)
    assert torch.isnan(naive_grad).any()  # the trap this avoids

    for cpu_kernels in (True, False):
        with _cpu_kernels(ops, cpu_kernels):
            xs = points.clone().requires_grad_()
            y = ops.logpiece(xs)
            (first,) = torch.autograd.grad(y.sum(), xs, create_graph=True)
            (second,) = torch.autograd.grad(first.sum(), xs)
        expected = torch.where(points > 1, 1 / points, torch.ones_like(points))
        torch.testing.assert_close(first.detach(), expected)
        torch.testing.assert_close(second, torch.where(points > 1, -1 / points**2, torch.zeros_like(points)))
        assert torch.isfinite(y).all()


def _generate_into(folder: Path, act: Activation):
    derivation = derive(act)
    folder.mkdir()
    (folder / "kernels.py").write_text(render_kernels(derivation, "# header", ""))
    (folder / "_kernel_calls.py").write_text(render_kernel_calls("# header"))
    (folder / "torch_ops.py").write_text(render_torch_ops(derivation, "# header", "", "2" * 64))
    return _load(folder / "torch_ops.py", f"symact_generated_{act.name}_torch_ops")


@pytest.mark.slow
@requires_torch
def test_every_kind_of_parameter(tmp_path):
    """A fixed parameter is a buffer without gradient; a positive one without bounds is
    softplus(raw) + tiny; an unconstrained one is the nn.Parameter itself."""
    k = Param("k", init=2.0, trainable=False)
    beta = Param("beta", init=1.5, positive=True)
    shift = Param("shift", init=0.25)
    act = Activation(name="mixed", expr=k * sp.log(1 + sp.exp(beta * x)) / beta + shift * x, params=[k, beta, shift])
    ops = _generate_into(tmp_path / "mixed", act)
    module = ops.Mixed(num_parameters=2)
    assert [n for n, _ in module.named_parameters()] == ["beta_raw", "shift"]
    assert [n for n, _ in module.named_buffers()] == ["k"]
    torch.testing.assert_close(module.beta, torch.full((2,), 1.5))
    with torch.no_grad():
        module.beta_raw.fill_(-1e4)
    assert (module.beta > 0).all()
    assert repr(ops.Mixed()) == "Mixed(num_parameters=1, k=2, beta=1.5, shift=0.25)"
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        ops.Mixed(beta=-1.0)

    xs = torch.linspace(-3, 3, 8, dtype=torch.float64).requires_grad_()
    fixed = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b, c = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.5, 0.25))
    y = ops.mixed(xs, fixed, b, c)
    grads = torch.autograd.grad(y.sum(), [xs, fixed, b, c], allow_unused=True)
    assert grads[1] is None  # not trainable: no gradient
    assert torch.autograd.gradcheck(lambda t, u, v: ops.mixed(t, 2.0, u, v), [xs, b, c])
    assert torch.autograd.gradgradcheck(lambda t, u, v: ops.mixed(t, 2.0, u, v), [xs, b, c])


@requires_torch
@pytest.mark.parametrize("name", ["bump", "gaussian_bump", "swish"])
def test_torch_formulas_path_is_what_other_devices_run(name):
    """With the CPU kernels disabled, dispatch takes the default implementation that CUDA and
    other devices run: gradcheck holds and the values agree with the kernels."""
    ops = _torch_ops(name)
    fn = getattr(ops, name)
    gen = torch.Generator().manual_seed(0)
    xs = (torch.rand(3, 4, generator=gen, dtype=torch.float64) * 4 - 2).requires_grad_()
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in _inits(ops)]
    with_kernels = torch.autograd.grad(fn(xs, *params).sum(), [xs, *params])
    with _cpu_kernels(ops, False):
        assert torch.autograd.gradcheck(fn, [xs, *params])
        without = torch.autograd.grad(fn(xs, *params).sum(), [xs, *params])
        compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(compiled(xs, *params), fn(xs, *params))
    for a, b in zip(with_kernels, without):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@requires_torch
def test_eager_calls_run_the_kernels_directly():
    """Note [Eager calls]: an eager CPU call runs the kernels without the operators, with the
    same bits as through them; torch.func transforms and disabled CPU kernels go through the
    operators; forward mode and double backward work on the direct path."""
    import torch.autograd.forward_ad as fwAD

    ops = _torch_ops("swish")
    xs = torch.linspace(-6, 6, 50, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    y = ops.swish(xs, beta)
    assert type(y.grad_fn).__name__ == "_EagerFunctionBackward"
    direct = torch.autograd.grad(y.sum(), [xs, beta])
    through = ops._FunctionWithJvp.apply(xs, beta)
    assert type(through.grad_fn).__name__ != "_EagerFunctionBackward"
    torch.testing.assert_close(through, y, rtol=0, atol=0)
    for a, b in zip(torch.autograd.grad(through.sum(), [xs, beta]), direct):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    by_func = torch.func.grad(lambda t: ops.swish(t, beta.detach()).sum())(xs.detach())
    torch.testing.assert_close(by_func, direct[0], rtol=1e-12, atol=1e-14)  # func.grad differentiates the torch formulas
    with fwAD.dual_level():
        dual = fwAD.make_dual(xs.detach(), torch.ones_like(xs))
        tangent = fwAD.unpack_dual(ops.swish(dual, beta.detach())).tangent
    torch.testing.assert_close(tangent, direct[0], rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradgradcheck(ops.swish, [xs[::7].detach().requires_grad_(), beta])
    with _cpu_kernels(ops, False):
        assert type(ops.swish(xs, beta).grad_fn).__name__ != "_EagerFunctionBackward"


@requires_torch
def test_a_call_that_records_nothing_skips_autograd(monkeypatch):
    """Note [Eager calls]: under no_grad, inference_mode, or with nothing requiring a
    gradient, the forward kernel is called without an autograd.Function (same bits);
    a gradient wanted, or a forward-mode level open, goes through it."""
    import torch.autograd.forward_ad as fwAD

    ops = _torch_ops("swish")
    xs = torch.linspace(-6, 6, 50, dtype=torch.float32)
    beta = torch.tensor(1.3)
    expected = ops.swish(xs.clone().requires_grad_(), beta).detach()
    calls = []
    real_apply = ops._EagerFunction.apply
    monkeypatch.setattr(ops._EagerFunction, "apply", lambda *a: calls.append(1) or real_apply(*a))
    for context in (contextlib.nullcontext(), torch.no_grad(), torch.inference_mode()):
        with context:
            y = ops.swish(xs, beta)
        assert y.grad_fn is None and not y.requires_grad
        torch.testing.assert_close(y, expected, rtol=0, atol=0)
    with torch.no_grad():
        ops.swish(xs.clone().requires_grad_(), beta.clone().requires_grad_())
    assert calls == []
    y = ops.swish(xs, beta.clone().requires_grad_())
    assert calls == [1] and y.grad_fn is not None
    with fwAD.dual_level():
        dual = fwAD.make_dual(xs, torch.ones_like(xs))
        tangent = fwAD.unpack_dual(ops.swish(dual, beta)).tangent
    assert calls == [1, 1] and tangent is not None and torch.isfinite(tangent).all()


def _inits(ops):
    module = getattr(ops, ops.__all__[1])()
    return [float(getattr(module, name).detach()[0]) for name in ops.PARAMS]


CATALOG = sorted(p.name for p in (ROOT / "generated").iterdir() if (p / "torch_ops.py").exists())


@pytest.mark.slow
@requires_torch
@pytest.mark.parametrize("name", CATALOG)
def test_operators_pass_opcheck(name):
    """torch.library.opcheck: schema, fake (meta) implementations, autograd registration
    and AOT dispatch of both operators, with scalar and per-channel parameters and a
    strided input."""
    ops = _torch_ops(name)
    xs = torch.linspace(-3, 3, 2 * 3 * 4, dtype=torch.float64).reshape(2, 4, 3).transpose(1, 2)
    grad = torch.ones(xs.shape, dtype=torch.float64)
    for cpu_kernels in (True, False):
        with _cpu_kernels(ops, cpu_kernels):
            for shape in [(), (3, 1)]:
                params = [torch.full(shape, v, dtype=torch.float64, requires_grad=True) for v in _inits(ops)]
                torch.library.opcheck(ops._forward_op, (xs.requires_grad_(), *params))
                for x_only in (False, True):
                    args = (grad, xs.detach(), *(p.detach() for p in params), x_only)
                    torch.library.opcheck(ops._backward_op, args)


@requires_torch
def test_vmap_and_func_transforms():
    """torch.func.vmap (batched x and parameters, unbatched too), grad, per-sample
    gradients with vmap(grad), jvp/jacfwd and hessian."""
    ops = _torch_ops("gaussian_bump")
    fn = ops.gaussian_bump
    gen = torch.Generator().manual_seed(2)
    xs = torch.rand(5, 7, generator=gen, dtype=torch.float64) * 4 - 2
    a, b, c = (torch.rand(5, generator=gen, dtype=torch.float64) + 0.5 for _ in range(3))
    batched = torch.func.vmap(fn)(xs, a, b, c)
    torch.testing.assert_close(batched, torch.stack([fn(xs[i], a[i], b[i], c[i]) for i in range(5)]))
    shared = torch.func.vmap(fn, in_dims=(0, None, 0, None))(xs, a[0], b, c[0])
    torch.testing.assert_close(shared, fn(xs, a[0], b[:, None], c[0]))
    lanes = torch.func.vmap(fn, in_dims=(1, None, None, None))(xs, a, b[0], c[0])
    torch.testing.assert_close(lanes, fn(xs.T, a, b[0], c[0]))

    def loss(x, a, b, c):
        return fn(x, a, b, c).sum()

    grads = torch.func.grad(loss, argnums=(0, 1, 2, 3))(xs[0], a[0], b[0], c[0])
    leaves = [xs[0].clone().requires_grad_(), *(t[0].clone().requires_grad_() for t in (a, b, c))]
    reference = torch.autograd.grad(loss(*leaves), leaves)
    for g, r in zip(grads, reference):
        torch.testing.assert_close(g, r)

    per_sample = torch.func.vmap(torch.func.grad(loss, argnums=2), in_dims=(0, None, None, None))(xs, a[0], b[0], c[0])
    for i in range(5):
        leaf = b[0].clone().requires_grad_()
        torch.testing.assert_close(per_sample[i], torch.autograd.grad(loss(xs[i], a[0], leaf, c[0]), leaf)[0])

    # grad w.r.t. x alone (the parameters need no gradient: the x-only backward), per
    # sample, with the parameters batched too
    per_x = torch.func.vmap(torch.func.grad(loss, argnums=0))(xs, a, b, c)
    for i in range(5):
        leaf = xs[i].clone().requires_grad_()
        torch.testing.assert_close(per_x[i], torch.autograd.grad(loss(leaf, a[i], b[i], c[i]), leaf)[0])
    with torch.no_grad():  # the operator itself, batched, in its x-only form
        grad = torch.ones_like(xs)
        (x_only,) = torch.func.vmap(lambda g, t, p, q, r: ops._backward_op(g, t, p, q, r, True))(grad, xs, a, b, c)
        full = torch.func.vmap(lambda g, t, p, q, r: ops._backward_op(g, t, p, q, r, False))(grad, xs, a, b, c)
    torch.testing.assert_close(x_only, full[0])

    point = xs[0]
    _, tangent = torch.func.jvp(lambda t: fn(t, a[0], b[0], c[0]), (point,), (torch.ones_like(point),))
    torch.testing.assert_close(tangent, reference[0])
    hessian = torch.func.hessian(lambda t: fn(t, a[0], b[0], c[0]).sum())(point)
    x0, a0, b0, c0 = point, a[0], b[0], c[0]
    exact = a0 * torch.exp(-b0 * (x0 - c0) ** 2) * (4 * b0**2 * (x0 - c0) ** 2 - 2 * b0)
    torch.testing.assert_close(hessian, torch.diag(exact))


@requires_torch
def test_surrogate_gradient_is_used_as_declared():
    """round_ste: forward rounds, backward is the straight-through 1 on both paths, and its
    derivative (double backward) is 0. gradcheck cannot hold for a surrogate by design."""
    ops = _torch_ops("round_ste")
    xs = torch.tensor([-1.7, -0.5, 0.49, 0.5, 2.2], requires_grad=True)
    y = ops.round_ste(xs)
    assert y.tolist() == [-2.0, 0.0, 0.0, 1.0, 2.0]
    (g,) = torch.autograd.grad(y.sum(), xs, create_graph=True)
    assert g.tolist() == [1.0] * 5
    assert ops._backward_torch(torch.ones(5), xs.detach())[0].tolist() == [1.0] * 5
    second = torch.autograd.grad(g.sum(), xs, allow_unused=True)[0] if g.requires_grad else None
    assert second is None or second.tolist() == [0.0] * 5


@requires_torch
def test_param_shapes_and_types():
    ops = _torch_ops("bump")
    xs = torch.linspace(-1, 1, 12).reshape(3, 4)
    assert ops.bump(xs.to(torch.int64), 0.5).dtype == torch.get_default_dtype()
    torch.testing.assert_close(ops.bump(xs, 0.5), ops.bump(xs, torch.tensor(0.5)))
    with pytest.raises(ValueError, match="does not broadcast to x of shape"):
        ops.bump(xs, torch.ones(5))
    sig = torch.tensor([0.5, 1.0, 2.0, 4.0], requires_grad=True)
    ops.bump(xs, sig).sum().backward()
    assert sig.grad.shape == (4,)
    for j in range(4):
        leaf = sig[j].detach().requires_grad_()
        ops.bump(xs[:, j], leaf).sum().backward()
        torch.testing.assert_close(sig.grad[j], leaf.grad)


@requires_torch
def test_module_is_like_prelu():
    ops = _torch_ops("bump")
    module = ops.Bump(num_parameters=3, sigma=2.0)
    assert repr(module) == "Bump(num_parameters=3, sigma=<3 values>)"
    assert repr(ops.Bump()) == "Bump(num_parameters=1, sigma=0.5)"
    assert [name for name, _ in module.named_parameters()] == ["sigma_raw"]
    torch.testing.assert_close(module.sigma, torch.full((3,), 2.0))
    images = torch.randn(2, 3, 4, 5)
    expected = ops.bump(images, torch.full((3, 1, 1), 2.0))
    torch.testing.assert_close(module(images), expected)
    torch.testing.assert_close(module(images[0, :, 0, 0]), ops.bump(images[0, :, 0, 0], torch.full((3,), 2.0)))
    compiled = torch.compile(module, fullgraph=True)
    torch.testing.assert_close(compiled(images), expected)
    compiled(images).sum().backward()
    assert module.sigma_raw.grad.shape == (3,)


@requires_torch
def test_package_import_and_path_import_share_one_operator():
    """Imported as generated.bump.torch_ops and by path in one process: both work, and they
    share the kernels module and the registered operators."""
    code = (
        "import importlib.util, sys, torch\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import generated.bump.torch_ops as a\n"
        "spec = importlib.util.spec_from_file_location('symact_generated_bump_torch_ops', a.__file__)\n"
        "b = importlib.util.module_from_spec(spec); sys.modules[spec.name] = b; spec.loader.exec_module(b)\n"
        "x = torch.linspace(-1, 1, 9, requires_grad=True)\n"
        "ya, yb = a.bump(x, 0.5), b.bump(x, 0.5)\n"
        "assert torch.equal(ya, yb)\n"
        "(ya.sum() + yb.sum()).backward()\n"
        "assert a._kernels() is b._kernels()\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


# ---- a trainable bump layer: learn its width --------------------------------------------------


def _bump_reference(xs: np.ndarray, width: float) -> np.ndarray:
    """The smooth bump, support |x| < sqrt(sigma), written independently."""
    inside = xs * xs < width
    safe = np.where(inside, xs, 0.0)
    return np.where(inside, np.exp(-width / (width - safe * safe)), 0.0)


@requires_torch
@pytest.mark.parametrize("true_sigma", [0.15, 0.3, 1.0, 3.0, 8.0, 9.0])
def test_a_bump_layer_learns_sigma(true_sigma):
    """As a user would try it: data from a known sigma, inputs in (-3, 3), a one-layer model
    with the generated Bump (initial sigma 0.5), Adam on the mean squared error. The loss is
    finite at every step and sigma is learned within 1%."""
    import numba

    ops = _torch_ops("bump")
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # tiny batches: no thread hand-off (on a busy machine it costs ms)
    try:
        rng = np.random.default_rng(0)
        inputs = rng.uniform(-3, 3, size=(4096, 1))
        xs = torch.tensor(inputs, dtype=torch.float32)
        ys = torch.tensor(_bump_reference(inputs, true_sigma), dtype=torch.float32)
        model = torch.nn.Sequential(ops.Bump())
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        losses = []
        for _ in range(600):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xs), ys)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        numba.set_num_threads(threads)
    assert all(math.isfinite(v) for v in losses)
    learned = float(model[0].sigma.detach())
    assert abs(learned - true_sigma) <= 0.01 * true_sigma, f"learned sigma {learned}, true {true_sigma}"
    assert losses[-1] < 1e-5


# ---- DistributedDataParallel ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@requires_torch
@pytest.mark.slow
def test_ddp_training_matches_a_single_process(tmp_path):
    """Two processes (gloo, CPU, localhost) train a model with a generated per-channel Bump
    under DistributedDataParallel, each on half the batch: the parameters stay identical
    across ranks and equal those of one process trained on the whole batch."""
    worker = _load(ROOT / "tests" / "ddp_worker.py", "symact_tests_ddp_worker")
    single = worker.make_model()
    xs, ys = worker.make_data()
    losses = worker.train(single, xs, ys)  # also compiles and caches the kernels once
    assert losses[-1] < losses[0]

    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    port = _free_port()
    ranks = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "ddp_worker.py"), str(rank), "2", str(port), str(tmp_path)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=240)[0] for p in ranks]
    finally:
        for p in ranks:
            p.kill()
    assert [p.returncode for p in ranks] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    states = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    assert states[0].keys() == single.state_dict().keys()
    for name, value in single.state_dict().items():
        assert torch.equal(states[0][name], states[1][name]), f"{name} differs across ranks"
        torch.testing.assert_close(states[0][name], value, rtol=1e-10, atol=1e-12)


@requires_torch
def test_a_derivative_made_only_of_constants_keeps_float64(tmp_path):
    """torch.where of two Python floats gives the default dtype (float32): a piecewise-constant
    derivative (hard sigmoid's 0, 1/6, 0) is built on a tensor like x, so float64 stays exact."""
    act = Activation(
        name="hard_sigmoid_c",
        expr=sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True)),
    )
    ops = _generate_into(tmp_path / "hard_sigmoid_c", act)
    points = torch.tensor([-4.0, -2.9999969005584717, 0.0, 2.5, 4.0], dtype=torch.float64)
    with _cpu_kernels(ops, False):
        xs = points.clone().requires_grad_()
        (grad,) = torch.autograd.grad(ops.hard_sigmoid_c(xs).sum(), xs)
    assert grad.dtype == torch.float64
    assert grad.tolist() == [0.0, 1 / 6, 1 / 6, 1 / 6, 0.0]


def _half_inputs(shape, seed, dtype):
    """bfloat16 or float16 inputs over the catalog's interesting range, with the special
    values (subnormals, the largest float16, values that overflow float16)."""
    gen = torch.Generator().manual_seed(seed)
    xs = (torch.randn(shape, generator=gen) * 4).reshape(-1)
    special = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-39, -3e38, 100.0, 6e-8, -65504.0, 7e4])
    k = min(len(special), xs.numel())
    xs[:k] = special[:k]
    return xs.reshape(shape).to(dtype)


@requires_torch
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize(
    "name",
    # a parameter per channel, a trainable one, float32 computed in float64, branches, none
    ["swish", "prelu", "gelu", pytest.param("bump", marks=pytest.mark.slow), pytest.param("mish", marks=pytest.mark.slow)],
)
def test_half_precision_is_converted_inside_the_kernels_with_the_bits_of_float32_rounded(name, dtype):
    """bfloat16 and float16 tensors reach the kernels as they are (bfloat16 as its bits)
    and are converted element by element (no float32 copy of x, grad or the output), with
    exactly the values of the float32 path rounded once: forward, grad_x and the parameter
    gradients, scalar and per channel parameters, strided and 0-d inputs."""
    dtype = getattr(torch, dtype)
    ops = _torch_ops(name)
    kernels = ops._kernels()
    for shape, param_shape in (((3, 5, 7), ()), ((4, 3, 6), (3, 1)), ((), ()), ((0, 3), (3,))):
        xs = _half_inputs(shape, 1, dtype)
        gs = _half_inputs(shape[::-1], 2, dtype).permute(tuple(reversed(range(len(shape)))))  # strided
        params = [torch.full(param_shape, v) for v in _inits(ops)]
        values = [p.numpy() for p in params]
        y = ops._forward_cpu(xs, *params)
        want = torch.from_numpy(kernels.forward(xs.float().numpy(), *values)).to(dtype)
        assert y.dtype == dtype and y.shape == xs.shape
        torch.testing.assert_close(y, want, rtol=0, atol=0, equal_nan=True)
        got = ops._backward_cpu(gs, xs, *params)
        exact = kernels.backward(gs.float().numpy(), xs.float().numpy(), *values)
        torch.testing.assert_close(got[0], torch.from_numpy(exact[0]).to(dtype), rtol=0, atol=0, equal_nan=True)
        for g, e in zip(got[1:], exact[1:]):
            torch.testing.assert_close(g, torch.as_tensor(e), rtol=0, atol=0, equal_nan=True)
        alone = ops._backward_cpu(gs, xs, *params, x_only=True)
        torch.testing.assert_close(alone[0], got[0], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_arrays_make_no_float32_copy(dtype):
    """With an ml_dtypes bfloat16 or a NumPy float16 array the kernels allocate only the
    output in that dtype (and a float32 copy would be four times that)."""
    import tracemalloc

    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    kernels = load_module(ROOT / "generated" / "mish" / "kernels.py", "symact_generated_mish_kernels")
    x = np.linspace(-5, 5, 1_000_000).astype(dtype)
    expected = kernels.forward(x.astype(np.float32)).astype(dtype)
    kernels.forward(x[:10])  # compiled before measuring
    tracemalloc.start()
    try:
        y = kernels.forward(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.dtype == x.dtype and np.array_equal(y.view(np.uint16), expected.view(np.uint16))
    assert peak < 1.2 * x.nbytes, peak
    with pytest.raises(TypeError, match="16-bit"):
        kernels.forward(np.zeros(3, np.float32), bf16_bits=True)
