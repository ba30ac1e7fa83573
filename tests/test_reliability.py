"""Hostile use: deterministic output under load and in threads, names and docs that try to
break the generated code, folders written as a unit, budgets, and kernels that survive
fork, threads, 0-d and empty inputs, infinities and bad parameters."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import symact.generate as generate_module
from symact import x
from symact.cli import main
from symact.generate import plan, stale, write
from symact.names import KERAS_LAYER_ATTRIBUTES, RESERVED, TORCH_MODULE_ATTRIBUTES, check_name

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str, register: bool = True):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _generate(tmp_path: Path, source: str, *args: str) -> tuple[int, str, Path]:
    definition = tmp_path / "definition.py"
    definition.write_text(source, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", "-q", str(definition), "-o", str(out), *args])
    return result.exit_code, result.output, out


# -- names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, name",
    [("activation", n) for n in ("_", "_2d", "torch", "sys", "PARAMS", "_kernels", "é_act", "ﬁne", "ｘ", "a-b", "", "Gelu", "p_a_r_a_m_s")]
    + [("parameter", n) for n in ("super", "int", "float", "zip", "half", "parameters", "training", "x_only", "beta_raw", "tf", "weights", "name")],
)
def test_names_that_break_generated_code_are_refused(kind, name):
    assert check_name(kind, name) is not None


def test_reserved_names_cover_the_frameworks_module_attributes():
    """Every public attribute of nn.Module and keras Layer is reserved (a parameter of that
    name would be an attribute of the generated module or layer)."""
    torch = pytest.importorskip("torch")
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public <= TORCH_MODULE_ATTRIBUTES <= RESERVED
    assert {n for n in vars(torch.nn.Module()) if not n.startswith("_")} <= RESERVED
    keras = pytest.importorskip("keras")
    public = {n for n in dir(keras.layers.Layer) if not n.startswith("_")}
    assert public <= KERAS_LAYER_ATTRIBUTES <= RESERVED


ADVERSARIAL = '''\
import sympy as sp

from symact import Activation, Param, x

e = Param("e", init=0.5, positive=True, doc='a doc with """ quotes and \\\\N{bad} escapes')
pi = Param("pi", init=1.5, doc="\\x00 nul and \\r carriage")
Exp = Param("Exp", init=0.25, trainable=False)

torch2d = Activation(
    name="torch2d",
    expr=x * sp.tanh(e * x) + pi * sp.exp(-x**2) * Exp,
    params=[e, pi, Exp],
    doc='ends in a quote" """ + __import__("os").system("echo INJECTED") + """ \\\\N',
)
'''


def test_adversarial_names_and_docs_generate_importable_modules(tmp_path, monkeypatch):
    """Docs with triple quotes, backslashes and control characters stay inert text; odd but
    valid names work in every backend: the files import, compute and keep the docs."""
    monkeypatch.chdir(tmp_path)
    code, output, out = _generate(tmp_path, ADVERSARIAL, "--backend", "numba")
    assert code == 0, output
    folder = out / "torch2d"
    for py in folder.glob("*.py"):
        compile(py.read_text(encoding="utf-8"), str(py), "exec")
    kernels = _load(folder / "kernels.py", "adversarial_kernels")
    assert 'ends in a quote" """ + __import__("os").system("echo INJECTED")' in kernels.__doc__
    assert "\\N" in kernels.__doc__
    values = kernels.forward(np.array([0.5, -1.0]), 0.5, 1.5, 0.25)
    expected = np.array([v * np.tanh(0.5 * v) + 1.5 * np.exp(-v * v) * 0.25 for v in (0.5, -1.0)])
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    torch = pytest.importorskip("torch")
    code, output, out = _generate(tmp_path, ADVERSARIAL, "--backend", "numba,torch")
    assert code == 0, output
    ops = _load(out / "torch2d" / "torch_ops.py", "adversarial_torch_ops")
    module = ops.Torch2d()
    y = module(torch.tensor([0.5, -1.0], dtype=torch.float64))
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12)
    y.sum().backward()
    assert "INJECTED" not in output


def test_a_source_path_with_a_newline_stays_a_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd = tmp_path / "odd\nimport os.py"
    odd.write_text("import sympy as sp\nfrom symact import Activation, x\na = Activation(name='a', expr=sp.tanh(x))\n")
    files = plan([Path(odd.name)], Path("out"), ("numba",))
    for f in files:
        if f.path.suffix == ".py":
            compile(f.content, str(f.path), "exec")
            assert f.content.splitlines()[0].startswith("# Code generated by symact from 'odd\\nimport os.py'")


def test_a_generated_file_that_does_not_parse_is_a_reported_bug(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    real = generate_module.render

    def broken(*args, **kwargs):
        files = real(*args, **kwargs)
        files["kernels.py"] += "\ndef oops(:\n"
        return files

    monkeypatch.setattr(generate_module, "render", broken)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out)])
    assert result.exit_code == 2
    assert "does not parse" in result.output and "nothing was" in result.output
    assert not out.exists() or not any(out.rglob("*.py"))


# -- writing files -----------------------------------------------------------------


def test_a_kill_while_a_folder_is_staged_leaves_the_old_folder_whole(tmp_path, monkeypatch):
    """The new folder is complete before it replaces the old one: a failure while staging
    leaves every old file, and the next run removes the leftover and finishes."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    files = plan([Path("definitions/elu.py")], out, ("numba",))
    write(files)
    old = {p.name: p.read_bytes() for p in (out / "elu").iterdir()}
    changed = [type(f)(f.path, f.content + "# new\n") for f in files]
    real_open = open
    count = [0]

    def failing_open(path, mode="r", *args, **kwargs):
        if "w" in mode and ".symact-staging" in str(path):
            count[0] += 1
            if count[0] == 2:
                raise KeyboardInterrupt  # the process dies between two files
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(KeyboardInterrupt):
        write(changed)
    monkeypatch.setattr("builtins.open", real_open)
    assert {p.name: p.read_bytes() for p in (out / "elu").iterdir()} == old
    write(changed)
    assert all(f.path.read_text() == f.content for f in changed)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_kill_between_the_two_renames_is_undone_by_the_next_run(tmp_path, monkeypatch):
    """Without an exchange call the old folder is moved aside first; a kill right after
    leaves no folder at its place: --check fails, and the next write restores it."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    files = plan([Path("definitions/elu.py")], out, ("numba",))
    write(files)
    old = {p.name: p.read_bytes() for p in (out / "elu").iterdir()}
    changed = [type(f)(f.path, f.content + "# new\n") for f in files]
    monkeypatch.setattr(generate_module, "_exchange", lambda a, b: False)
    real_rename = os.rename

    def dies_after_moving_aside(src, dst):
        real_rename(src, dst)
        if ".symact-old" in str(dst):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", dies_after_moving_aside)
    with pytest.raises(KeyboardInterrupt):
        write(changed)
    monkeypatch.setattr(os, "rename", real_rename)
    assert not (out / "elu").exists()
    leftovers = [p.name for p in out.iterdir()]
    assert any(".symact-old" in n for n in leftovers)
    assert stale(files)  # --check sees the half-done state
    generate_module._recover(out)
    assert {p.name: p.read_bytes() for p in (out / "elu").iterdir()} == old
    assert [p.name for p in out.iterdir()] == ["elu"]


def test_check_reports_leftover_temporaries(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out)]).exit_code == 0
    (out / "elu" / ".kernels.py.abcd.tmp").write_text("partial")
    result = CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out), "--check"])
    assert result.exit_code == 1 and ".kernels.py.abcd.tmp" in result.output
    assert CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out)]).exit_code == 0
    assert not (out / "elu" / ".kernels.py.abcd.tmp").exists()


def test_files_get_the_umask_and_unchanged_files_keep_their_inode(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    previous = os.umask(0o022)
    try:
        write(plan([Path("definitions/elu.py")], out, ("numba",)))
    finally:
        os.umask(previous)
    for p in (out / "elu").iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    kernels = out / "elu" / "kernels.py"
    inode = kernels.stat().st_ino
    files = plan([Path("definitions/elu.py")], out, ("numba",))
    golden = next(f for f in files if f.path.name == "golden.json")
    changed = write([f if f is not golden else type(f)(f.path, f.content + " ") for f in files])
    assert changed == [golden.path]
    assert kernels.stat().st_ino == inode


def test_an_output_name_taken_by_a_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    out.mkdir()
    (out / "elu").write_text("not a folder")
    result = CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == f"symact: {out / 'elu'}: exists and is not a folder; move it away and run again"


# -- budgets and determinism -------------------------------------------------------


SLOW = '''\
import sympy as sp

from symact import Activation, x

slow = Activation(name="slow", expr=sum(sp.tanh(k * x + sp.Rational(1, k)) for k in range(1, 400)))
'''


def test_a_definition_past_the_budget_stops_with_one_line(tmp_path):
    start = time.monotonic()
    code, output, out = _generate(tmp_path, SLOW, "--budget", "2")
    elapsed = time.monotonic() - start
    assert code == 2, output
    line = output.strip()
    assert "\n" not in line and "ran past the budget of 2 s" in line and "activation 'slow'" in line
    assert elapsed < 30
    assert not out.exists()


def _busy(stop: float) -> None:
    while time.monotonic() < stop:
        pass


@pytest.mark.slow
def test_output_is_the_same_under_load_and_in_a_worker_thread(monkeypatch):
    """Two busy processes beside it and a worker thread: the same bytes as generated/."""
    monkeypatch.chdir(ROOT)
    sources = [Path("definitions/gelu.py"), Path("definitions/bump.py")]
    context = multiprocessing.get_context("spawn")
    busy = [context.Process(target=_busy, args=(time.monotonic() + 600,)) for _ in range(2)]
    for p in busy:
        p.start()
    result: dict[str, list] = {}
    try:
        worker = threading.Thread(target=lambda: result.setdefault("files", plan(sources, Path("generated"))))
        worker.start()
        worker.join()
    finally:
        for p in busy:
            p.kill()
    assert "files" in result
    assert stale(result["files"]) == []


# -- kernels under hostile use -----------------------------------------------------


@pytest.fixture(scope="module")
def swish_kernels():
    return _load(ROOT / "generated" / "swish" / "kernels.py", "symact_generated_swish_kernels")


def test_fork_after_a_parallel_call(swish_kernels):
    """A child forked after a large (threaded) call computes too, for fork(),
    multiprocessing's fork start method and a DataLoader with workers."""
    x = np.linspace(-5, 5, 1_000_000, dtype=np.float32)
    parent = swish_kernels.forward(x, 1.0)
    pid = os.fork()
    if pid == 0:
        try:
            ok = np.array_equal(swish_kernels.forward(x, 1.0), parent)
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    with multiprocessing.get_context("fork").Pool(2) as pool:
        sums = pool.map(_forward_sum, [0, 1])
    assert sums == [float(parent.sum(dtype=np.float64))] * 2


def _forward_sum(_: int) -> float:
    kernels = sys.modules["symact_generated_swish_kernels"]
    x = np.linspace(-5, 5, 1_000_000, dtype=np.float32)
    return float(kernels.forward(x, 1.0).sum(dtype=np.float64))


def test_dataloader_workers_after_a_parallel_call(swish_kernels):
    torch = pytest.importorskip("torch")
    ops = _load(ROOT / "generated" / "swish" / "torch_ops.py", "symact_generated_swish_torch_ops")
    x = torch.linspace(-5, 5, 1_000_000)
    ops.swish(x, 1.0)  # a threaded call in the parent first

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return ops.swish(torch.full((300_000,), float(i)), 1.0).sum()

    loader = torch.utils.data.DataLoader(Data(), batch_size=2, num_workers=2, multiprocessing_context="fork")
    values = torch.cat([b for b in loader])
    expected = torch.stack([ops.swish(torch.full((300_000,), float(i)), 1.0).sum() for i in range(4)])
    assert torch.equal(values, expected)


def test_zero_d_and_empty_inputs(swish_kernels):
    k = swish_kernels
    assert k.forward(np.float32(1.5), 1.0).shape == ()
    assert all(g.shape == () for g in k.backward(np.float32(1), np.float32(1.5), np.float32(1.0)))
    grads = k.backward(np.ones((0, 3), np.float32), np.ones((0, 3), np.float32), np.ones(3, np.float32))
    assert grads[0].shape == (0, 3) and grads[1].shape == (3,) and not grads[1].any()
    assert k.forward(np.ones((0, 3, 4), np.float32), np.ones((3, 1), np.float32)).shape == (0, 3, 4)


@pytest.mark.parametrize("bad, error", [(None, TypeError), ("1.5", TypeError), (float("nan"), ValueError), ([1.0, float("inf")], ValueError), (1 + 2j, TypeError)])
def test_bad_parameters_are_refused(swish_kernels, bad, error):
    with pytest.raises(error, match="parameter 'beta'"):
        swish_kernels.forward(np.ones(2, np.float32), bad)


CATALOG = sorted(p.stem for p in (ROOT / "definitions").glob("*.py"))


@pytest.mark.parametrize("name", ["mish", "swish", "gelu", "softplus", "elu", "selu"])
def test_infinite_inputs_give_the_limits(name):
    """Where f or a gradient has a limit at ±inf, the kernels return it (not NaN): compared
    with the 50-digit value of the exact formula at x = ±1e15 (±inf where that is huge)."""
    import mpmath

    from symact import load_definitions
    from symact.derive import derive
    from symact.numeric import mp_function

    (act,) = [a for a in load_definitions(ROOT / "definitions" / f"{name}.py") if a.name == name]
    derivation = derive(act)
    kernels = _load(ROOT / "generated" / name / "kernels.py", f"symact_generated_{name}_kernels")
    init = [p.init for p in act.params]
    xs = np.array([np.inf, -np.inf, np.nan])
    for dtype in (np.float32, np.float64):
        per_element = [np.full(3, v, dtype) for v in init]  # parameter gradients per element
        values = [kernels.forward(xs.astype(dtype), *init)]
        values += list(kernels.backward(np.ones(3, dtype), xs.astype(dtype), *per_element))
        for value, q in zip(values, derivation.quantities):
            assert np.isnan(value[2]), (name, q.name)
            fn = mp_function(q.exact, (x, *act.params))
            for i, far in enumerate((1e15, -1e15)):
                with mpmath.workdps(50):
                    ref = float(fn(mpmath.mpf(far), *map(mpmath.mpf, init)))
                expected = np.copysign(np.inf, ref) if abs(ref) > 1e12 else ref
                assert value[i] == pytest.approx(expected, rel=1e-5, abs=1e-12), (name, dtype, q.name, far)


def test_generated_kernels_import_without_registering_the_module():
    module = _load(ROOT / "generated" / "elu" / "kernels.py", "unregistered_elu", register=False)
    assert module.forward(np.array([-1.0, 1.0]), 1.0).tolist() == pytest.approx([np.expm1(-1.0), 1.0])


def test_generate_exits_two_not_zero_when_a_definition_exits(tmp_path):
    """A definition that calls sys.exit(0) must not pass for a clean run (nor --check)."""
    code, output, out = _generate(tmp_path, "import sys\nsys.exit(0)\n", "--check")
    assert code == 2 and "sys.exit(0)" in output


def test_the_console_script_handles_an_unexpected_error_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)

    def boom(*args, **kwargs):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(generate_module, "derive", boom)
    result = CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "definitions/elu.py:" in result.output and "internal error (RuntimeError: something broke)" in result.output


def test_subprocess_generate_of_a_huge_sum_is_bounded(tmp_path):
    """No hang: a sum of 1000 tanh terms stops within the budget as one line."""
    source = "import sympy as sp\nfrom symact import Activation, x\nbig = Activation(name='big', expr=sum(sp.tanh(x - k) for k in range(1000)))\n"
    definition = tmp_path / "big.py"
    definition.write_text(source)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "symact.cli", "generate", str(definition), "-o", str(tmp_path / "o"), "--budget", "5"],
        capture_output=True, text=True, timeout=120,
    )
    assert time.monotonic() - start < 60
    assert proc.returncode in (0, 2), proc.stderr
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1 and "budget" in proc.stderr


def test_audit_of_a_function_numpy_lacks_is_a_report_not_a_traceback(tmp_path):
    """gamma's derivative has polygamma, which NumPy cannot evaluate: the numeric scans
    say what they could not decide."""
    definition = tmp_path / "gam.py"
    definition.write_text("import sympy as sp\nfrom symact import Activation, x\ngam = Activation(name='gam', expr=sp.gamma(x), domain=(0.5, 5))\n")
    result = CliRunner().invoke(main, ["audit", "-q", str(definition)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "undecided" in result.output


@pytest.mark.parametrize(
    "expr, outcome",
    [("sp.Abs(x)**s", 0), ("x**x", 2), ("x * s**x", 0)],
)
def test_symbolic_exponents_print_or_are_refused_cleanly(tmp_path, expr, outcome):
    source = (
        "import sympy as sp\nfrom symact import Activation, Param, x\n"
        "s = Param('s', init=0.5, positive=True)\n"
        f"act = Activation(name='act', expr={expr}, params=[s] if ({expr}).has(s) else [])\n"
    )
    code, output, out = _generate(tmp_path, source, "--backend", "numba")
    assert code == outcome, output
    if code == 0:
        kernels = _load(out / "act" / "kernels.py", f"symact_generated_pow_{abs(hash(expr))}")
        params = [0.5] * len(kernels.PARAMS)
        assert np.isfinite(kernels.forward(np.array([0.5, 2.0]), *params)).all()
    else:
        assert len(output.strip().splitlines()) == 1 and "complex-valued" in output


# -- torch modules under compile and hostile construction ----------------------------


def _torch_ops(name: str):
    pytest.importorskip("torch")
    _load(ROOT / "generated" / name / "kernels.py", f"symact_generated_{name}_kernels")
    return _load(ROOT / "generated" / name / "torch_ops.py", f"symact_generated_{name}_torch_ops")


@pytest.mark.slow
@pytest.mark.parametrize("name, cls", [("mish", "Mish"), ("swish", "Swish")])
@pytest.mark.parametrize("mode", ["train", "no_grad", "inference_mode"])
def test_torch_compile_in_training_and_inference(name, cls, mode):
    """Inference under torch.compile is the commonest use of a compiled model, with and
    without parameters."""
    import torch

    ops = _torch_ops(name)
    module = getattr(ops, cls)()
    x = torch.linspace(-4, 4, 24).reshape(2, 3, 4)
    expected = module(x).detach()
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    if mode == "train":
        xi = x.clone().requires_grad_()
        y = compiled(xi)
        y.sum().backward()
        assert xi.grad is not None and torch.isfinite(xi.grad).all()
    else:
        context = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
        with context:
            y = compiled(x)
    torch.testing.assert_close(y.detach(), expected)


@pytest.mark.slow
def test_torch_compile_inference_with_inductor_and_dynamic_per_channel():
    import torch

    mish = _torch_ops("mish").Mish()
    x = torch.linspace(-4, 4, 24).reshape(2, 3, 4)
    torch._dynamo.reset()
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(mish, fullgraph=True)(x), mish(x))
    swish = _torch_ops("swish").Swish(3)
    compiled = torch.compile(swish, dynamic=True, fullgraph=True, backend="aot_eager")
    for shape in ((2, 3, 4), (5, 3, 7)):
        xs = torch.randn(*shape)
        torch.testing.assert_close(compiled(xs), swish(xs))


def test_torch_empty_batch_and_zero_d():
    import torch

    ops = _torch_ops("swish")
    module = ops.Swish(3)
    y = module(torch.randn(0, 3, 4))
    y.sum().backward()
    assert y.shape == (0, 3, 4) and torch.equal(module.beta_raw.grad, torch.zeros(3))
    x = torch.tensor(1.5, requires_grad=True)
    out = ops.swish(x, 1.0)
    out.backward()
    assert out.shape == () and x.grad.shape == ()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"beta": 100.0}, ValueError, r"beta must lie in \[0.1, 4.0\], got 100.0"),
        ({"beta": float("nan")}, ValueError, "beta must be finite"),
        ({"beta": "2"}, TypeError, "beta must be a real number"),
        ({"beta": None}, TypeError, "beta must be a real number"),
    ],
)
def test_torch_module_refuses_out_of_range_init(kwargs, error, match):
    ops = _torch_ops("swish")
    with pytest.raises(error, match=match):
        ops.Swish(**kwargs)


def test_torch_positive_parameter_refuses_nonpositive_init():
    ops = _torch_ops("bump")
    with pytest.raises(ValueError):
        ops.Bump(sigma=-1.0)


def test_generated_tests_catch_a_folder_mixing_two_generations(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["generate", "-q", "definitions/elu.py", "-o", str(out)]).exit_code == 0
    kernels = out / "elu" / "kernels.py"
    text = kernels.read_text()
    kernels.write_text(text.replace("# Source sha256: ", "# Source sha256: 0", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--import-mode=importlib",
         "-k", "one_generation", str(out / "elu")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1 and "1 failed" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numba", "tf"])
def test_a_folder_of_one_backend_passes_its_own_tests(tmp_path, monkeypatch, backend):
    """Tests of backends that were not generated skip; they do not error."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", "-q", "definitions/swish.py", "-o", str(out), "--backend", backend])
    assert result.exit_code == 0, result.output
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--import-mode=importlib",
         str(out / "swish")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "error" not in proc.stdout.splitlines()[-1]
