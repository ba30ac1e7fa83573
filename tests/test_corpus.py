"""``symact accuracy --fuzz``: random valid definitions through generate, counted."""

from __future__ import annotations

import pytest
import sympy as sp
from click.testing import CliRunner

from symact import corpus
from symact.cli import main


def test_the_same_seed_draws_the_same_definitions():
    first = [sp.sstr(a.expr) for a in corpus.random_definitions(8, seed=5)]
    again = [sp.sstr(a.expr) for a in corpus.random_definitions(8, seed=5)]
    other = [sp.sstr(a.expr) for a in corpus.random_definitions(8, seed=6)]
    assert first == again and first != other
    assert all("x" in e for e in first)


def test_the_grammar_reaches_cancellations_and_parameters():
    drawn = [a for a in corpus.random_definitions(200, seed=0)]
    texts = [sp.sstr(a.expr) for a in drawn]
    assert sum(bool(a.params) for a in drawn) > 50
    assert any("cos" in t for t in texts) and any("Piecewise" in t for t in texts)
    assert any("sqrt(p + " in t for t in texts) and any("log(exp(" in t for t in texts)


@pytest.mark.slow
def test_fuzz_reports_every_outcome_and_the_pass_rate():
    result = CliRunner().invoke(main, ["accuracy", "--fuzz", "6", "--seed", "1", "-q"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(("0 of 6", "1 of 6", "2 of 6", "3 of 6", "4 of 6", "5 of 6", "6 of 6"))
    assert "within the bounds" in lines[0] and "crashed" in lines[0]
    assert lines[1].startswith("generate time per definition: median ")
    # each definition that missed is listed with generate's own one-line reason
    missed = [line for line in lines[2:] if line.startswith("  ")]
    assert len(missed) == 6 - int(lines[0].split()[0])
    assert all(": activation 'fuzz_1_" in line for line in missed)


def test_a_crash_is_recorded_and_fails_the_run(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(corpus, "render", broken)
    result = CliRunner().invoke(main, ["accuracy", "--fuzz", "2", "--seed", "1", "-q"])
    assert result.exit_code == 1
    assert "2 crashed" in result.output and "crash: " in result.output and "KeyError" in result.output


def test_a_definition_past_the_budget_is_counted_not_hung(monkeypatch):
    import time

    def slow(*args, **kwargs):
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(corpus, "render", slow)
    start = time.monotonic()
    outcomes = corpus.run(1, seed=1, budget=0.5)
    assert outcomes[0].result == "budget" and "ran past the budget" in outcomes[0].message
    assert time.monotonic() - start < 20


def test_accuracy_without_files_or_fuzz_is_a_usage_error():
    result = CliRunner().invoke(main, ["accuracy"])
    assert result.exit_code == 2 and "--fuzz" in result.output


@pytest.mark.slow
def test_a_reference_too_small_for_any_text_is_judged_not_crashed(tmp_path):
    """tanh(exp(-x)): its derivative at x = -1e4 is about exp(-2e^10000), a number whose
    decimal exponent has thousands of digits; generate must judge it, not crash. (The
    formula overflows there, inf·0; its limit in the tail meets the bounds, so it is written.)"""
    definition = tmp_path / "d.py"
    definition.write_text(
        "import sympy as sp\nfrom symact import Activation, Param, x\n"
        "p = Param('p', init=1.0, positive=True)\n"
        "a = Activation(name='deep', expr=-p - x + sp.tanh(sp.exp(-x)), params=[p])\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["generate", "-q", str(definition), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "deep" / "golden.json").exists()
    assert "internal error" not in result.output


def test_a_negative_seed_is_a_usage_error_not_an_internal_one():
    result = CliRunner().invoke(main, ["accuracy", "--fuzz", "1", "--seed", "-1"])
    assert result.exit_code == 2 and "--seed" in result.output and "internal error" not in result.output
