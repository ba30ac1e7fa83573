"""symact bench and the benchmark suite: options, the rows each activation gets, the output
formats and the JSON document of a real (tiny) run. No assertion here is about speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

from symact import Activation, Param, x
from symact.bench import (
    PASSES,
    SCHEMA,
    Case,
    Options,
    as_json,
    as_markdown,
    as_table,
    cases_for,
    catalog_cases,
    parse_dtypes,
    parse_modes,
    parse_sizes,
    run,
)
from symact.cli import main
from symact.errors import SymactError

ROOT = Path(__file__).resolve().parents[1]


def test_sizes_accept_powers_of_ten_and_refuse_the_rest():
    assert parse_sizes("1e2, 1e4,100") == [100, 10_000]
    for bad in ("1e9", "0", "1.5", "ten", ""):
        with pytest.raises(SymactError, match="--sizes"):
            parse_sizes(bad)


def test_dtypes_and_modes_are_checked():
    assert parse_dtypes("bfloat16,float32") == ["bfloat16", "float32"]
    assert parse_dtypes("float16") == ["float16"]
    with pytest.raises(SymactError, match="--dtypes: 'int8' is not one of float32, float64, bfloat16, float16"):
        parse_dtypes("int8")
    assert parse_modes("hugepages") == ["hugepages"]
    with pytest.raises(SymactError, match="--alloc"):
        parse_modes("huge")


def _act(name, expr, params=()):
    return Activation(name=name, expr=expr, params=list(params))


def test_a_native_built_in_only_where_the_name_and_the_parameters_match():
    beta = Param("beta", init=1.0)
    constant, trainable = cases_for(_act("swish", x / (1 + sp.exp(-beta * x)), [beta]), Path("m.py"))
    assert constant.native == "F.silu(x)" and constant.trainable == ()
    assert trainable.native is None and trainable.trainable == ("beta",)  # F.silu has no beta gradient
    assert trainable.label == "swish (beta trainable)"
    two = Param("beta", init=2.0)
    assert cases_for(_act("swish", x / (1 + sp.exp(-two * x)), [two]), Path("m.py"))[0].native is None
    sharp = Param("beta", init=2.0, trainable=False)
    (softplus,) = cases_for(_act("softplus", sp.log(1 + sp.exp(sharp * x)) / sharp, [sharp]), Path("m.py"))
    assert softplus.native == "F.softplus(x, beta=2.0)"
    other = Param("b", init=1.0, trainable=False)
    assert cases_for(_act("softplus", sp.log(1 + sp.exp(other * x)) / other, [other]), Path("m.py"))[0].native is None
    assert cases_for(_act("my_act", x * sp.tanh(x)), Path("m.py"))[0].native is None


def test_the_composite_is_the_definition_printed_in_torch_ops():
    torch = pytest.importorskip("torch")
    a = Param("a", init=0.5, trainable=False)
    (case,) = cases_for(_act("leaky", sp.Piecewise((x, x > 0), (a * x, True)), [a]), Path("m.py"))
    namespace = {"torch": torch}
    exec(case.composite, namespace)
    t = torch.tensor([-2.0, 3.0])
    assert namespace["composite"](t, torch.tensor(0.5)).tolist() == [-1.0, 3.0]


@pytest.mark.slow
def test_a_piecewise_constant_activation_is_timed_without_a_composite():
    """A pulse of constants has no autograd graph: no composite row to time (it used to
    stop the whole measuring process), and the generated op is still timed."""
    cases = catalog_cases(["spike_pulse"], ROOT / "definitions", ROOT / "generated")
    assert cases[0].composite is None and "piecewise constant" in cases[0].note
    doc = json.loads(as_json(run(cases, Options(sizes=[100], dtypes=["float32"], repeat=1, modes=["user"], compile=False))))
    assert doc["rows"] and all(set(r["times"]) == {"generated", "copy"} for r in doc["rows"])


def _row(mode, label, dtype, size, pass_, times):
    stats = {v: {"best": t, "median": t * 1.5, "samples": [t, t * 2]} for v, t in times.items()}
    gen = stats["generated"]
    return {
        "mode": mode, "label": label, "activation": label, "dtype": dtype, "size": size, "pass": pass_, "batch": 1,
        "times": stats,
        "ratios": {v: gen["best"] / s["best"] for v, s in stats.items() if v != "generated"},
        "median_ratios": {v: gen["median"] / s["median"] for v, s in stats.items() if v != "generated"},
    }


def _document():
    environment = {"torch": "2.x", "numpy": "2.x", "numba": "0.x", "cpus": 2, "torch_threads": 2, "numba_threads": 2,
                   "machine": "x86_64", "load_average": 1.0}
    return {
        "schema": SCHEMA,
        "config": {"repeat": 2, "modes": ["user"]},
        "environment": environment,
        "modes": {"user": {"description": "torch's default allocator", "load_averages": [1.25, 2.5]}},
        "cases": [{"label": "gelu", "note": ""}, {"label": "odd|name", "note": "no composite: the torch backend cannot print foo"}],
        "rows": [
            _row("user", "gelu", "float32", 10_000, "forward", {"generated": 2e-5, "native": 1e-5, "composite": 4e-5, "copy": 1e-6}),
            _row("user", "odd|name", "float32", 10_000, "forward", {"generated": 0.002, "copy": 1e-6}),
        ],
        "memory": {"available": True, "rows": [
            {"label": "gelu", "dtype": "float32", "size": 10_000, "variant": "generated", "x_bytes": 40_000,
             "kept": 40_960, "peak": 81_920},
        ]},
    }


def test_the_markdown_table():
    text = as_markdown(_document())
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| activation"))
    assert lines[header].count("|") == lines[header + 1].count("|") == lines[header + 2].count("|")
    assert "| gelu | float32 | 1e4 | forward | 20 µs (30 µs) | 10 µs (15 µs) | 40 µs (60 µs) | — | 1 µs (1.5 µs) | 2.00× | 0.50× | — | 20.00× |" in lines
    assert "odd\\|name" in text  # a | in a label does not split the cell
    assert "allocation: user: torch's default allocator" in text
    assert "| gelu | float32 | 1e4 | generated | 0.0 MiB (1.02× x) | 0.1 MiB (2.05× x) |" in lines
    assert "- odd|name: no composite" in text


def test_the_terminal_table_has_the_same_cells():
    text = as_table(_document())
    assert "20 µs (30 µs)" in text and "2.00×" in text and "best of 2 interleaved rounds" in text
    assert "load average 1.2–2.5 as its processes started" in text


def test_memory_not_measured_says_why():
    doc = _document()
    doc["memory"] = {"available": False, "reason": "needs Linux's /proc/self/clear_refs"}
    assert "memory: not measured (needs Linux's /proc/self/clear_refs)" in as_table(doc)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "1e9"], "symact: --sizes: '1e9' is not a whole number of elements from 1 to 1e8"),
        (["--dtypes", "int8"], "symact: --dtypes: 'int8' is not one of float32, float64, bfloat16, float16"),
        (["--alloc", "thp"], "symact: --alloc: 'thp' is not one of user, hugepages"),
    ],
)
def test_bad_options_are_one_line(args, message):
    result = CliRunner().invoke(main, ["bench", "definitions/gelu.py", *args])
    assert result.exit_code == 2
    assert result.output.strip() == message


def test_a_bad_definition_is_reported_at_its_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import sympy as sp\nfrom symact import Activation, x\nf = Activation(name='bad', expr=sp.Symbol('y') * x)\n")
    result = CliRunner().invoke(main, ["bench", str(bad), "--sizes", "1e2"])
    assert result.exit_code == 2
    assert result.output.startswith(f"symact: {bad}:3: activation 'bad'")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    missing = CliRunner().invoke(main, ["bench", str(tmp_path / "nope.py")])
    assert missing.exit_code == 2 and missing.output.strip() == f"symact: {tmp_path / 'nope.py'}: no such file"


def test_the_suite_names_unknown_activations():
    with pytest.raises(SymactError, match="no activation 'nope'"):
        catalog_cases(["nope"], ROOT / "definitions", ROOT / "generated")


def _check_document(doc, repeat, sizes, dtypes, modes):
    assert doc["schema"] == SCHEMA
    assert {"config", "environment", "modes", "cases", "rows", "memory", "seconds"} <= set(doc)
    assert doc["config"]["repeat"] == repeat and doc["config"]["sizes"] == sizes
    assert set(doc["modes"]) == set(modes)
    assert all(len(m["load_averages"]) == len(dtypes) for m in doc["modes"].values())  # one process per dtype
    assert {"torch", "numpy", "numba", "cpus", "torch_threads", "numba_threads", "load_average"} <= set(doc["environment"])
    keys = {(r["mode"], r["label"], r["dtype"], r["size"], r["pass"]) for r in doc["rows"]}
    assert len(keys) == len(doc["rows"]) == len(modes) * len(doc["cases"]) * len(sizes) * len(dtypes) * len(PASSES)
    for row in doc["rows"]:
        times = row["times"]
        assert {"generated", "copy"} <= set(times)
        for stats in times.values():
            assert len(stats["samples"]) == repeat  # every variant timed in every round
            assert stats["best"] == min(stats["samples"]) > 0
            assert min(stats["samples"]) <= stats["median"] <= max(stats["samples"])
        for variant, ratio in row["ratios"].items():  # from the same run: the times beside them
            assert math.isclose(ratio, times["generated"]["best"] / times[variant]["best"])
        assert set(row["ratios"]) == set(times) - {"generated"}


@pytest.mark.slow
def test_the_suite_on_one_activation_at_100_elements():
    cases = catalog_cases(["gelu"], ROOT / "definitions", ROOT / "generated")
    assert [c.label for c in cases] == ["gelu"]
    doc = run(cases, Options(sizes=[100], dtypes=["float32"], repeat=2, modes=["user"], compile=False))
    doc = json.loads(as_json(doc))
    _check_document(doc, 2, [100], ["float32"], ["user"])
    assert all(set(r["times"]) == {"generated", "native", "composite", "copy"} for r in doc["rows"])
    assert doc["memory"] == {
        "available": False,
        "reason": "the largest size is below 1e5 elements; the resident set grows by 4 KB pages",
    }


@pytest.mark.slow
def test_symact_bench_on_a_file_of_ones_own(tmp_path, monkeypatch):
    source = tmp_path / "mine.py"
    source.write_text(
        "import sympy as sp\nfrom symact import Activation, x\n"
        "softsign = Activation(name='softsign', expr=x / (1 + sp.Abs(x)))\n"
        "bent = Activation(name='bent', expr=x * sp.tanh(x))\n"
    )
    monkeypatch.chdir(tmp_path)
    args = ["bench", "mine.py", "--sizes", "1e2", "--dtypes", "bfloat16", "--repeat", "2", "--alloc", "hugepages",
            "--no-memory", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    _check_document(doc, 2, [100], ["bfloat16"], ["hugepages"])
    assert doc["memory"] is None
    by_label = {r["label"]: r for r in doc["rows"]}
    assert set(by_label["softsign"]["times"]) == {"generated", "native", "composite", "compiled", "copy"}
    assert set(by_label["bent"]["times"]) == {"generated", "composite", "compiled", "copy"}  # no built-in by that name
    assert "THP_MEM_ALLOC_ENABLE=1" in doc["modes"]["hugepages"]["description"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py"]  # nothing written beside it


@pytest.mark.slow
def test_a_failing_measurement_is_one_line(tmp_path):
    case = Case("gone", "gone", str(tmp_path / "torch_ops.py"), (), (), None, None, (-1.0, 1.0))
    with pytest.raises(SymactError, match=r"^the measuring process failed \(FileNotFoundError"):
        run([case], Options(sizes=[100], dtypes=["float32"], repeat=1, modes=["user"], compile=False, memory=False))


@pytest.mark.slow
def test_memory_at_1e5_elements():
    cases = catalog_cases(["gelu"], ROOT / "definitions", ROOT / "generated")
    doc = run(cases, Options(sizes=[100_000], dtypes=["float32"], repeat=1, modes=[], compile=False))
    memory = doc["memory"]
    if not memory["available"]:
        pytest.skip(memory["reason"])
    rows = {m["variant"]: m for m in memory["rows"]}
    assert set(rows) == {"generated", "native", "composite"}
    assert all(m["size"] == 100_000 and m["x_bytes"] == 400_000 and m["peak"] >= m["kept"] for m in rows.values())
    # the output is kept after the forward: about one x (the resident set moves by pages)
    assert 0.5 <= rows["generated"]["kept"] / rows["generated"]["x_bytes"] <= 2
    assert "memory: growth of the resident set" in as_table(doc)


@pytest.mark.slow
def test_the_compile_time_benchmark_measures_ours_against_a_baseline():
    """benchmarks/compile_time.py: a new process and an empty cache per measurement; the
    baseline here is generated/ itself, so both columns time the same kernels."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compile_time.py"), "leaky_relu", "--baseline", str(ROOT / "generated")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()[2:]]
    assert [r[0].strip() for r in rows] == ["leaky_relu", "all"]
    baseline, ours = (float(c.strip().removesuffix(" s")) for c in rows[0][1:3])
    assert 0 < baseline < 600 and 0 < ours < 600


@pytest.mark.slow
def test_the_first_call_benchmark_times_the_generated_op_and_the_built_in():
    """benchmarks/first_call.py: new processes, generated and built-in alternating; the
    table's last row is the difference of the bests."""
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "first_call.py"), "--activation", "mish", "--rounds", "1"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mish vs F.mish, 100 float32, Numba cache warm, 1 rounds" in result.stdout
    rows = {r.split("|")[1].strip(): r.split("|")[2:-1] for r in result.stdout.splitlines() if r.startswith("| ")}
    generated, built_in = (float(rows[k][0].strip().removesuffix(" s")) for k in ("generated", "built-in"))
    difference = float(rows["generated − built-in"][0].strip().removesuffix(" s"))
    assert generated > 0 and built_in > 0 and difference == pytest.approx(generated - built_in, abs=2e-3)
