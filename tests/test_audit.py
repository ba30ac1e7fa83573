"""The audit on hand-built cases: every finding code, the classic activation bugs, and the contracts."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

from symact import Activation, Param, load_definitions, x
from symact.audit import (
    CAUSE_CODES,
    CODES,
    SEVERITY,
    STEP_BUDGET,
    asymptotes,
    audit,
    boundaries,
    causes,
    derivatives,
    float32,
    gradients,
    singularities,
    value_range,
)
from symact.audit.context import AuditContext
from symact.cli import main
from symact.derive import derive
from symact.report import as_markdown, as_text
from symact.testing import ROOT

CATALOG = sorted((ROOT / "definitions").glob("*.py"))


def _codes(report, code=None):
    found = [f for f in report.findings if code is None or f.code == code]
    return found


def _one(report, code):
    found = _codes(report, code)
    assert found, f"no {code} finding in {[(f.code, f.message) for f in report.findings]}"
    return found


# ----------------------------------------- the bump with |x| < sigma (poles inside the support)


@pytest.mark.slow
def test_bump_with_abs_condition_has_poles_inside_the_support_when_sigma_above_one():
    """|x| < σ instead of x² < σ: poles at ±√σ lie inside the support when σ > 1."""
    sigma = Param("sigma", init=0.5, positive=True, bounds=(0.1, 10.0))
    act = Activation(
        name="bump003",
        expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), (0, True)),
        params=[sigma],
    )
    r = audit(act)
    poles = [f for f in _one(r, "singularity") if f.where["quantity"] == "f"]
    assert len(poles) == 1
    assert poles[0].where["x"] == ["-sqrt(sigma)", "sqrt(sigma)"]
    assert poles[0].where["condition"] == "when sigma > 1"
    jumps = _one(r, "discontinuity")
    assert {f.where["x"] for f in jumps} == {"sigma", "-sigma"}
    assert all(f.severity == "warning" for f in jumps)
    assert any(a["kind"] == "vertical" and a["active"] == "when sigma > 1" for a in r.asymptotes)


@pytest.mark.slow
def test_corrected_bump_is_clean():
    """With x² < σ the poles ±√σ are the edges of the support, where f tends to 0."""
    (act,) = load_definitions(ROOT / "definitions" / "bump.py")
    r = audit(act)
    assert not r.errors and not _codes(r, "discontinuity")
    entries = [s for s in r.singularities if s["quantity"] == "f"]
    assert {s["x"] for s in entries} == {"sqrt(sigma)", "-sqrt(sigma)"}
    assert all(s["edge"] and not s["unbounded"] and s["behaviour"] == "bounded" for s in entries)


def test_threshold_param_used_only_in_a_condition_is_a_dead_gradient():
    t = Param("t", init=0.0, bounds=(-1.0, 1.0))
    r = audit(Activation(name="thresh", expr=sp.Piecewise((sp.tanh(x), x > t), (0, True)), params=[t]))
    (dead,) = _one(r, "dead-gradient")
    assert dead.where == {"wrt": "t"} and "only moves a branch boundary" in dead.message
    (jump,) = _one(r, "discontinuity")
    assert "for every value of t in its bounds [-1, 1] except t = 0, where it is continuous" in jump.message


def test_param_that_never_reaches_the_output_is_unused():
    k = Param("k", init=1.0)
    r = audit(Activation(name="unused", expr=sp.tanh(x), params=[k]))
    (finding,) = _one(r, "unused-parameter")
    assert finding.severity == "error" and "Gradients do not exist" in finding.message


# ------------------------------------- parameters judged over the values training can reach


def _abs_bump(**param):
    sigma = Param("sigma", init=0.5, positive=True, **param)
    expr = sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), (0, True))
    return Activation(name="bump_abs", expr=expr, params=[sigma])


@pytest.mark.slow
def test_unbounded_positive_param_is_judged_over_zero_to_infinity():
    """Without bounds a positive σ can grow past 1 in training (softplus of a raw weight),
    where the poles ±√σ lie inside |x| < σ: an error, though the init σ = 0.5 is safe."""
    r = audit(_abs_bump())
    poles = [f for f in _one(r, "singularity") if f.where["quantity"] == "f"]
    (pole,) = poles
    assert pole.where["x"] == ["-sqrt(sigma)", "sqrt(sigma)"]
    assert pole.where["condition"] == "when sigma > 1"
    assert "active when sigma > 1" in pole.message and pole.severity == "error"
    assert {f.where["quantity"] for f in _codes(r, "singularity")} == {"f", "d_x", "d_sigma"}
    jumps = _one(r, "discontinuity")
    assert all("for every value of sigma except sigma = 1, where it is continuous" in f.message for f in jumps)
    assert not _codes(r, "singularity-outside-bounds")


@pytest.mark.slow
def test_strict_audit_of_the_unbounded_bump_exits_one(tmp_path):
    source = tmp_path / "bump_abs.py"
    source.write_text(
        "import sympy as sp\n"
        "from symact import Activation, Param, x\n"
        "sigma = Param('sigma', init=0.5, positive=True)\n"
        "bump = Activation(name='bump', expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), "
        "(0, True)), params=[sigma])\n"
    )
    result = CliRunner().invoke(main, ["audit", "-q", "--strict", str(source)])
    assert result.exit_code == 1, result.output
    assert "active when sigma > 1" in result.stdout


@pytest.mark.slow
def test_a_singularity_that_only_the_bounds_exclude_is_reported_as_info():
    r = audit(_abs_bump(bounds=(0.1, 0.9)))
    assert not _codes(r, "singularity")
    found = _one(r, "singularity-outside-bounds")
    assert {f.where["quantity"] for f in found} == {"f", "d_x", "d_sigma"}
    assert all(f.severity == "info" and f.where["condition"] == "when sigma > 1" for f in found)
    assert all("the bounds [0.1, 0.9] of sigma exclude" in f.message for f in found)
    entries = [s for s in r.singularities if s["quantity"] == "f"]
    assert entries and all(s["behaviour"] == "bounded" and s["condition"] == "when sigma > 1" for s in entries)


def test_bounds_that_include_the_bad_values_keep_the_error():
    (pole,) = [f for f in _one(audit(_abs_bump(bounds=(0.1, 10.0))), "singularity") if f.where["quantity"] == "f"]
    assert pole.where["condition"] == "when sigma > 1"


def test_param_used_only_in_a_condition_is_judged_over_the_real_line():
    """t moves the support's edge; the poles at ±1 are inside |x| < t when t > 1, and t gets
    no gradient to stay below it."""
    t = Param("t", init=0.5)
    expr = sp.Piecewise((sp.exp(-1 / (1 - x**2)), sp.Abs(x) < t), (0, True))
    r = audit(Activation(name="bump_t", expr=expr, params=[t]))
    poles = [f for f in _one(r, "singularity") if f.where["quantity"] == "f"]
    assert [f.where["x"] for f in poles] == [["-1", "1"]]
    assert poles[0].where["condition"] == "when t > 1"
    (dead,) = _one(r, "dead-gradient")
    assert dead.where == {"wrt": "t"}
    assert {f.where["x"] for f in _one(r, "discontinuity")} == {"t", "-t"}


@pytest.mark.slow
def test_text_and_markdown_list_every_singular_point_considered():
    r = audit(_abs_bump(bounds=(0.1, 0.9)))
    (act,) = load_definitions(ROOT / "definitions" / "bump.py")
    guarded = audit(Activation(name="guarded", expr=sp.Piecewise((1 / (x - 3), x > 4), (0, True))))
    text = as_text([r, audit(act), guarded])
    assert "singular points considered:" in text
    assert "f: pole at x = sqrt(sigma) (branch Abs(x) < sigma): bounded within the bounds; unbounded when " \
        "sigma > 1 without them" in text
    assert "f: pole at x = 3 (branch x > 4): not in its branch (never)" in text
    assert text.count("d_sigma: pole at x = ") == 4  # both bumps, both poles
    md = as_markdown([r])
    assert "**Singular points considered:**" in md
    assert md.count("- `f: pole at x = ") == 2 and md.count("- `d_x: pole at x = ") == 2


# ---------------------------------------------------------- what the messages say


def test_abs_power_is_bounded_at_zero_and_its_derivative_is_not():
    """|x|^σ tends to 0 at x = 0; its derivative σ|x|^(σ-1) is unbounded there when σ < 1."""
    sigma = Param("sigma", init=0.5, positive=True)
    r = audit(Activation(name="absp", expr=sp.Abs(x) ** sigma, params=[sigma]))
    found = _one(r, "singularity")
    assert {f.where["quantity"] for f in found} == {"d_x"}
    assert found[0].where["condition"] == "when sigma < 1" and "d_x is unbounded there" in found[0].message
    f_entries = [s for s in r.singularities if s["quantity"] == "f"]
    assert f_entries and all(s["behaviour"] == "removable" and s["limit"] == "0" for s in f_entries)


def test_x_log_abs_x_is_removable_for_f_and_real_for_its_derivative():
    r = audit(Activation(name="xlog", expr=x * sp.log(sp.Abs(x))))
    (found,) = _one(r, "singularity")
    assert found.where == {"quantity": "d_x", "x": ["0"], "condition": "always"}
    assert "d_x is unbounded there (d_x -> -oo)" in found.message
    assert all(s["behaviour"] == "removable" and s["limit"] == "0" for s in r.singularities if s["quantity"] == "f")
    assert not _codes(r, "kink")  # an infinite slope is the singularity above, not a kink


@pytest.mark.slow
def test_messages_without_parameters_name_no_setting():
    sinc = audit(Activation(name="sinc", expr=sp.sin(x) / x))
    scan = audit(Activation(name="scan", expr=1 / (x * sp.exp(x) + sp.sin(x))))  # SymPy finds no root
    for r in (sinc, scan):
        text = as_text([r])
        assert "there at" not in text and "at there" not in text and "  at " not in text
    assert sinc.range["text"] == "[-0.217234, 1]" and "range: [-0.217234, 1]\n" in as_text([sinc])
    assert not _codes(sinc, "singularity")  # sin(x)/x -> 1: removable
    assert {(s["quantity"], s["behaviour"], s["limit"]) for s in sinc.singularities} == {
        ("f", "removable", "1"), ("d_x", "removable", "0")
    }
    (numeric,) = [f for f in _one(scan, "singularity") if f.where["quantity"] == "f"]
    assert numeric.message == "f: unbounded or undefined near x = 0"


@pytest.mark.slow
def test_soft_clip_range_is_open_at_both_ends():
    k = Param("k", init=1.0, positive=True)
    c = Param("c", init=2.0, positive=True)
    soft = sp.log(1 + sp.exp(k * (x + c))) / k - sp.log(1 + sp.exp(k * (x - c))) / k - c
    r = audit(Activation(name="soft_clip", expr=soft, params=[k, c]))
    assert (r.range["low"], r.range["high"], r.range["text"]) == ("-2", "2", "(-2, 2)")


@pytest.mark.slow
def test_float32_overflow_the_generated_code_avoids_is_info():
    scale = Param("scale", init=1.0, positive=True, bounds=(0.25, 4.0))
    r = audit(Activation(name="stanh", expr=scale * sp.tanh(x / scale), params=[scale]))
    found = _one(r, "float32-overflow")
    assert all(f.where["fixed"] and f.severity == "info" for f in found)


@pytest.mark.slow
def test_float32_overflow_the_generated_code_keeps_is_a_warning():
    k = Param("k", init=1.0, positive=True)
    soft = (sp.log(1 + sp.exp(k * (x + 2))) - sp.log(1 + sp.exp(k * (x - 2)))) / k - 2
    found = _one(audit(Activation(name="soft_clip", expr=soft, params=[k])), "float32-overflow")
    assert {f.severity for f in found if not f.where["fixed"]} == {"warning"}
    assert {f.severity for f in found if f.where["fixed"]} <= {"info"}


# ----------------------------------------- a pulse with a surrogate gradient


def test_pulse_has_no_gradient_anywhere_and_jumps_at_four_points():
    m = Param("m", init=2.0, positive=True, bounds=(1.0, 4.0))
    e = Param("e", init=0.5, positive=True, bounds=(0.1, 0.9))
    pulse = sp.Piecewise((1, ((x < m) & (x > m - e)) | ((x > -m) & (x < -m + e))), (0, True))
    r = audit(Activation(name="pulse", expr=pulse, params=[m, e]))
    assert {f.where["wrt"] for f in _one(r, "dead-gradient")} == {"x", "m", "e"}
    assert {f.where["x"] for f in _one(r, "discontinuity")} == {"m", "-m", "-e + m", "e - m"}
    assert r.range["text"] == "[0, 1]"


def test_pulse_with_a_surrogate_is_reported_as_deliberate():
    m = Param("m", init=2.0, positive=True, bounds=(1.0, 4.0))
    pulse = sp.Piecewise((1, (x < m) & (x > -m)), (0, True))
    r = audit(Activation(name="spike", expr=pulse, params=[m], surrogate={x: sp.exp(-x**2)}))
    (sur,) = _one(r, "surrogate")
    assert sur.severity == "info" and "exp(-x**2)" in sur.message
    assert {f.where["wrt"] for f in _codes(r, "dead-gradient")} == {"m"}


def test_rounding_without_surrogate_is_a_dead_gradient():
    r = audit(Activation(name="rnd", expr=sp.floor(x + sp.Rational(1, 2))))
    (dead,) = _one(r, "dead-gradient")
    assert dead.where == {"wrt": "x"} and "surrogate" in dead.message


def test_straight_through_rounding_is_a_surrogate_not_an_error():
    (act,) = load_definitions(ROOT / "definitions" / "round_ste.py")
    r = audit(act)
    assert not r.errors and _one(r, "surrogate")


# ------------------------------------------------------------- singularities


def test_pole_of_a_rational_function():
    r = audit(Activation(name="inv", expr=1 / x))
    assert {f.where["quantity"] for f in _one(r, "singularity")} == {"f", "d_x"}
    assert r.range["text"] == "(-oo, oo)"
    assert any(a["kind"] == "vertical" and a["x"] == "0" for a in r.asymptotes)


def test_log_of_zero_inside_the_domain():
    found, d_x = _one(audit(Activation(name="logabs", expr=sp.log(sp.Abs(x)))), "singularity")
    assert found.where["quantity"] == "f" and found.where["x"] == ["0"] and d_x.where["quantity"] == "d_x"
    assert "f is unbounded there (f -> -oo)" in found.message


@pytest.mark.slow
def test_a_bounded_jump_is_a_discontinuity_not_a_singularity():
    """log(1 + |x|)/x tends to -1 from the left and 1 from the right: no pole."""
    r = audit(Activation(name="jump", expr=sp.log(sp.Abs(x) + 1) / x))
    assert not _codes(r, "singularity")
    (jump,) = _one(r, "discontinuity")
    assert (jump.where["left"], jump.where["right"]) == ("-1", "1")


def test_singularity_only_in_a_derivative():
    """cbrt(x) is finite at 0; its derivative is not."""
    r = audit(Activation(name="cbrt", expr=sp.Piecewise((x ** sp.Rational(1, 3), x > 0), (0, True)), domain=(-2, 2)))
    found = _one(r, "singularity")
    assert {f.where["quantity"] for f in found} == {"d_x"}


def test_pole_outside_the_active_branch_is_listed_but_not_an_error():
    r = audit(Activation(name="guarded", expr=sp.Piecewise((1 / (x - 3), x > 4), (0, True))))
    assert not _codes(r, "singularity")
    (entry,) = [s for s in r.singularities if s["quantity"] == "f"]
    assert entry["x"] == "3" and entry["active"] == "never"


def test_a_candidate_point_that_is_complex_for_some_params_is_judged_where_it_is_real():
    """x² + x + p has the roots (−1 ± sqrt(1 − 4p))/2, complex at the init p = 1; where
    SymPy gives no leading term (exp(−1/u) at u = 0) the audit approached the point
    numerically at every setting and failed with "Cannot convert complex to float" (as
    generate did when it asked for the cause of a refusal). It judges the point at the
    settings where it is real (p < 1/4), and nowhere else."""
    p = Param("p", init=1.0, positive=True)
    act = Activation(name="cpole", expr=sp.exp(-1 / (x**2 + x + p)), params=[p])
    found = causes(act, derive(act))
    assert {f.where["quantity"] for f in found if f.code == "singularity"} == {"f", "d_x", "d_p"}
    assert all("p=0.001" in f.message for f in found if f.code == "singularity")


# -------------------------------------------------------- boundaries and kinks


def test_relu_has_a_kink_with_left_and_right_slopes():
    (kink,) = _one(audit(Activation(name="relu", expr=sp.Max(0, x))), "kink")
    assert kink.where["left"] == "0" and kink.where["right"] == "1"


def test_elu_kink_disappears_at_alpha_one():
    (act,) = load_definitions(ROOT / "definitions" / "elu.py")
    (kink,) = _one(audit(act), "kink")
    assert "smooth only when alpha = 1" in kink.message


def test_step_is_a_discontinuity_with_both_values():
    (jump,) = _one(audit(Activation(name="step", expr=sp.Heaviside(x, 1))), "discontinuity")
    assert jump.where["left"] == "0" and jump.where["right"] == "1"


def test_a_boundary_that_is_not_real_for_some_parameter_values_is_skipped_there():
    """x² < t has the boundaries ±√t, which are not real for t < 0 (a setting the audit
    tries, as t may take any real value): the audit compared the sides there and failed
    with "Cannot convert complex to float"."""
    t = Param("t", init=0.5)
    r = audit(Activation(name="box", expr=sp.Piecewise((x, x**2 < t), (0, True)), params=[t]))
    jumps = _one(r, "discontinuity")
    assert {f.where["x"] for f in jumps} == {"sqrt(t)", "-sqrt(t)"}
    assert r.range["text"] == "[-0.707107, 0.707107]"


@pytest.mark.slow
def test_report_is_byte_identical_across_processes(tmp_path):
    """Same definition, same report, whatever the hash seed: the branch boundaries came
    from a set, so a band's two jumps were listed in either order."""
    source = tmp_path / "band.py"
    source.write_text(
        "import sympy as sp\n"
        "from symact import Activation, x\n"
        "band = Activation(name='band', expr=sp.Piecewise((1, (x > 1) & (x < 2)), (0, True)))\n"
    )
    outputs = []
    for seed in ("0", "2"):  # seeds that listed the jumps in different orders
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "symact.cli", "audit", "-q", "--format", "json", str(source)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        (report,) = json.loads(proc.stdout)["activations"]
        report.pop("seconds")
        outputs.append(report)
    assert outputs[0] == outputs[1]
    assert [f["where"]["x"] for f in outputs[0]["findings"] if f["code"] == "discontinuity"] == ["1", "2"]


# ----------------------------------------------------------- range, asymptotes


@pytest.mark.parametrize(
    ("expr", "text", "bounded"),
    [
        (sp.tanh(x), "(-1, 1)", True),
        (1 / (1 + sp.exp(-x)), "(0, 1)", True),
        (sp.log(1 + sp.exp(x)), "(0, oo)", False),
        (x / (1 + sp.exp(-x)), "[-0.278465, oo)", False),
    ],
)
def test_range_and_bounded_range_note(expr, text, bounded):
    r = audit(Activation(name="act", expr=expr))
    assert r.range["text"] == text
    assert bool(_codes(r, "bounded-range")) == bounded


def test_oblique_and_horizontal_asymptotes():
    r = audit(Activation(name="softplus", expr=sp.log(1 + sp.exp(x))))
    assert {(a["kind"], a["x"], a["y"]) for a in r.asymptotes} == {("oblique", "+oo", "x"), ("horizontal", "-oo", "0")}


# ------------------------------------------------------- saturation, float32


def test_saturation_intervals_of_tanh():
    found = _one(audit(Activation(name="tanh", expr=sp.tanh(x))), "saturation")
    intervals = [f.where["interval"] for f in found]
    assert intervals == [["-oo", "-7.605"], ["7.605", "oo"]]


def test_naive_softplus_overflows_in_float32_and_the_generated_code_does_not():
    found = _one(audit(Activation(name="sp", expr=sp.log(1 + sp.exp(x)))), "float32-overflow")
    assert all(f.where["fixed"] for f in found)
    assert any(f.where["quantity"] == "d_x" for f in found)


# ------------------------------------------------------------ user derivatives


def test_correct_user_derivative_in_another_form_is_proven():
    """σ(x)(1 − σ(x)) and e^(−x)/(1 + e^(−x))² are the same function."""
    s = 1 / (1 + sp.exp(-x))
    r = audit(Activation(name="sig", expr=s, derivative={x: s * (1 - s)}))
    assert not _codes(r, "derivative-mismatch")
    assert r.user_derivatives == {"d_x": "proven equal symbolically"}


def test_wrong_user_derivative_is_refuted_with_a_point_and_both_values():
    beta = Param("beta", init=1.0, bounds=(0.5, 2.0))
    s = 1 / (1 + sp.exp(-beta * x))
    act = Activation(name="swish", expr=x * s, params=[beta], derivative={beta: x * s * (1 - s)})
    (mismatch,) = _one(audit(act), "derivative-mismatch")
    assert mismatch.severity == "error"
    assert "it gives" in mismatch.message and "the true value is" in mismatch.message
    assert set(mismatch.where) == {"x", "beta"}


# ------------------------------------------------------------------ the package


def test_the_context_is_frozen_and_the_checks_take_it():
    act = Activation(name="tanh", expr=sp.tanh(x))
    ctx = AuditContext.of(act, derive(act), STEP_BUDGET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.settings = ()
    for module in (gradients, singularities, boundaries, asymptotes, value_range, float32, derivatives):
        assert callable(module.check), module.__name__


def test_the_range_needs_only_what_it_is_given():
    """The range reads the ends at ±∞ and the singular points it is passed, not state an
    earlier check left behind: on a fresh context it is the report's range."""
    k = Param("k", init=2.0, positive=True)
    act = Activation(name="scaled_tanh", expr=k * sp.tanh(x) + 1 / (x - 3), params=[k])
    derivation = derive(act)
    report = audit(act, derivation)
    ctx = AuditContext.of(act, derivation, STEP_BUDGET)
    ends = asymptotes.check(ctx, []).ends
    assert set(ends) == {"+oo", "-oo"}
    assert value_range.check(ctx, ends, report.singularities).range == report.range
    assert report.range["text"] == "(-oo, oo)"


# ------------------------------------------------------------------ contracts


def test_every_finding_code_is_covered_by_this_file():
    source = Path(__file__).read_text()
    assert all(f'"{code}"' in source for code in CODES)


@pytest.mark.slow
@pytest.mark.parametrize("path", CATALOG, ids=lambda p: p.stem)
def test_catalog_is_sound_and_fully_described(path):
    """Every catalog activation gets a range and both infinite ends. Each SymPy question
    gets 60 s here, not the interactive 3 s: on a loaded machine gelu's limits at ±∞ took
    longer, and the report (rightly) said undecided."""
    for act in load_definitions(path):
        r = audit(act, budget=60.0)
        assert not r.errors, [(f.code, f.message) for f in r.errors]
        assert r.range is not None and r.range["text"]
        assert {a["x"] for a in r.asymptotes if a["kind"] != "vertical"} == {"+oo", "-oo"}


def test_cli_json_contract_and_strict_exit_codes(tmp_path):
    source = tmp_path / "defs.py"
    source.write_text(
        "import sympy as sp\n"
        "from symact import Activation, x\n"
        "ok = Activation(name='ok', expr=sp.tanh(x))\n"
        "bad = Activation(name='bad', expr=sp.floor(x))\n"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "-q", "--format", "json", str(source)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [a["name"] for a in data["activations"]] == ["ok", "bad"]
    for a in data["activations"]:
        assert {"name", "params", "formulas", "singularities", "asymptotes", "range", "findings"} <= set(a)
        assert {"unicode", "latex", "text"} <= set(a["formulas"]["f"])
        for f in a["findings"]:
            assert {"code", "severity", "message", "where"} <= set(f)
            assert SEVERITY.index(f["severity"]) >= SEVERITY.index(CODES[f["code"]])
    assert runner.invoke(main, ["audit", "-q", "--strict", str(source)]).exit_code == 1
    only_ok = tmp_path / "ok.py"
    only_ok.write_text("import sympy as sp\nfrom symact import Activation, x\nok = Activation(name='ok', expr=sp.tanh(x))\n")
    assert runner.invoke(main, ["audit", "-q", "--strict", str(only_ok)]).exit_code == 0
    missing = runner.invoke(main, ["audit", str(tmp_path / "nope.py")])
    assert missing.exit_code == 2 and missing.stderr.strip() == f"symact: {tmp_path / 'nope.py'}: no such file"


def test_cli_text_and_markdown(tmp_path):
    runner = CliRunner()
    text = runner.invoke(main, ["audit", "-q", str(ROOT / "definitions" / "elu.py")])
    assert text.exit_code == 0
    assert "range: (-1, oo) at alpha=1" in text.stdout and "kink" in text.stdout
    md = runner.invoke(main, ["audit", "-q", "--format", "markdown", str(ROOT / "definitions" / "elu.py")])
    assert md.exit_code == 0
    assert "## `elu`" in md.stdout and "| info | `kink` |" in md.stdout and "$" in md.stdout


@pytest.mark.slow
def test_a_tiny_budget_reports_what_it_could_not_decide():
    r = audit(Activation(name="hard", expr=sp.atan(sp.sinh(x) ** 3) / (1 + sp.exp(sp.sin(x)))), budget=1e-3)
    assert r.undecided


def test_kinks_where_sympy_merges_the_derivative_branches():
    """Hard sigmoid: f has three branches, df/dx two (SymPy joins the two zero pieces), so the
    derivative's branch beside a boundary is looked up in its own pieces."""
    act = Activation(
        name="hard_sigmoid",
        expr=sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True)),
    )
    r = audit(act)
    kinks = {f.where["x"]: (f.where["left"], f.where["right"]) for f in _one(r, "kink")}
    assert kinks == {"-3": ("0", "1/6"), "3": ("1/6", "0")}


@pytest.mark.slow
def test_range_without_parameters_is_not_given_at_a_setting():
    r = audit(Activation(name="softsign", expr=x / (1 + sp.Abs(x))))
    assert r.range["at"] == "no parameters" and r.range["text"] == "(-1, 1)"
    runner = CliRunner()
    source = ROOT / "definitions" / "gelu.py"
    text = runner.invoke(main, ["audit", "-q", str(source)]).output
    assert " at there" not in text and "range: [" in text


@pytest.mark.slow
def test_a_real_limit_that_sympy_writes_with_i_still_ends_the_range():
    """atan(exp(sigmoid(x + p))) tends to atan(e) at +oo, which SymPy's limit writes as
    I*(log(1 - e*I) - log(1 + e*I))/2: a real number, not a crash."""
    p = Param("p", init=1.0, positive=True)
    act = Activation(name="atan_exp", expr=sp.atan(sp.exp(1 / (sp.exp(-p - x) + 1))), params=[p])
    report = audit(act)
    assert report.range["text"] == "(pi/4, 1.21828)"  # approached at both ends, reached at neither


def test_the_causes_generate_names_are_the_audit_findings_of_those_codes():
    """A refusal explains itself with a singularity or a float32 overflow: ``causes`` runs
    only the two checks that find them, and finds what the whole audit finds of them."""
    act = Activation(name="causes", expr=1 / (x - 1) + sp.log(1 + sp.exp(x)))
    derivation = derive(act)
    whole = [(f.code, f.message) for f in audit(act, derivation).findings if f.code in CAUSE_CODES]
    found = [(f.code, f.message) for f in causes(act, derivation)]
    assert {c for c, _ in found} == {"singularity", "float32-overflow"}
    assert sorted(found) == sorted(whole)
