"""Random valid definitions: ``generate`` either writes modules that import and compute in
every backend, or stops with one line and exit code 2; never a traceback, a hang past the
budget, or a file that does not import.

The definitions come from the corpus grammar (:func:`symact.corpus.random_definitions`),
the one ``symact accuracy --fuzz`` draws from; Hypothesis picks which draw, and the name,
docstring and parameter around it, written out as a definition file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symact import corpus
from symact.accuracy import load_module
from symact.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 20  # seconds per activation in these tests

_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_DOCS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def _drawn(draw: int) -> sp.Expr:
    """The first definition the corpus grammar draws (depth 2, to keep the test quick)."""
    return next(corpus.random_definitions(1, draw, depth=2)).expr


def _source(name: str, doc: str, expr: sp.Expr, init: float, positive: bool) -> str:
    text = sp.srepr(expr).replace("Param('p', real=True, positive=True)", "p").replace("Symbol('x', real=True)", "x")
    return "\n".join([
        "from sympy import *",
        "from sympy.functions.elementary.piecewise import ExprCondPair",
        "from symact import Activation, Param, x",
        f"p = Param('p', init={init!r}, positive={positive!r}, doc={doc!r})",
        f"act = Activation(name={name!r}, expr={text}, params={'[p]' if 'p' in text else '[]'}, doc={doc!r})",
        "",
    ])


def test_the_source_written_defines_the_drawn_expression(tmp_path):
    expr = _drawn(3)
    namespace: dict[str, object] = {}
    exec(_source("drawn", "", expr, 1.0, True), namespace)
    act = namespace["act"]
    assert sp.sstr(act.expr) == sp.sstr(expr)


_SEEN: list[str] = []


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    name=_NAMES,
    doc=_DOCS,
    draw=st.integers(0, 2**32 - 1),
    init=st.sampled_from([0.5, 1.0, 2.0]),
    positive=st.booleans(),
)
def test_random_definitions_generate_or_stop_cleanly(tmp_path_factory, name, doc, draw, init, positive):
    from symact.names import check_name

    if check_name("activation", name) is not None or name == "p":
        return  # the name grammar is tested on its own; only valid definitions here
    expr = _drawn(draw)
    # One name per example: the generated modules of one process are keyed by name.
    _SEEN.append(name)
    name = f"{name[:40]}_{len(_SEEN)}"
    folder = tmp_path_factory.mktemp("fuzz")
    definition = folder / "definition.py"
    definition.write_text(_source(name, doc, expr, init, positive), encoding="utf-8")
    out = folder / "out"
    start = time.monotonic()
    result = CliRunner().invoke(
        main, ["generate", "-q", str(definition), "-o", str(out), "--budget", str(BUDGET), "--backend", "numba,torch"]
    )
    assert time.monotonic() - start < BUDGET + 30, "generate ran far past its budget"
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        # 2: a definition refused (say, a param that may be negative under a square
        # root); 1: code over the accuracy bounds, refused with its one line
        assert result.exit_code in (1, 2), result.output
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("symact: "), result.output
        assert "internal error" not in result.output and "Error:" not in result.output, result.output
        return
    kernels = load_module(out / name / "kernels.py", f"fuzz_{name}_kernels")
    params = [init] * len(kernels.PARAMS)
    xs = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    values = kernels.forward(xs, *params)
    grads = kernels.backward(np.ones_like(xs), xs, *params)
    assert values.shape == xs.shape and grads[0].shape == xs.shape
    torch = pytest.importorskip("torch")
    ops = load_module(out / name / "torch_ops.py", f"fuzz_{name}_torch_ops")
    t = torch.tensor(xs, requires_grad=True)
    y = getattr(ops, name)(t, *params)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), values, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(t.grad.numpy(), grads[0], rtol=1e-12, equal_nan=True)
