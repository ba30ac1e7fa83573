"""Malformed definition files: `symact generate` reports each as ONE clean line
`symact: <file>:<line>: <message>` (exit code 2, no traceback) and writes nothing.

The corpus lives in tests/malformed/, one problem per file; EXPECTED gives, for each,
the line of the offending construct (None for file-level problems) and a part of the
message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from symact.cli import main

MALFORMED = Path(__file__).resolve().parent / "malformed"
CORPUS = sorted(p.name for p in MALFORMED.glob("*.py"))

#: file name -> (line of the offending construct or None, part of the message)
EXPECTED: dict[str, tuple[int | None, str]] = {
    "bad_bounds.py": (6, "bounds must be (lo, hi) with finite lo < hi"),
    "bad_domain.py": (6, "domain must be (lo, hi) with finite lo < hi"),
    "complex_on_domain.py": (6, "complex-valued"),
    "complex_valued.py": (6, "expr is complex-valued"),
    "derivative_and_surrogate_same_var.py": (6, "given both a derivative and a surrogate"),
    "duplicate_names.py": (8, "duplicate activation name 'act' (first defined at line 6)"),
    "expr_not_sympy.py": (6, "expr is not a SymPy expression"),
    "foreign_x.py": (8, "not symact.x"),
    "free_symbol.py": (8, "free symbol 'y'"),
    "import_error.py": (4, "ModuleNotFoundError: No module named 'symact_no_such_module'"),
    "infinite_constant.py": (6, "infinite or undefined constant"),
    "init_outside_bounds.py": (6, "lies outside bounds"),
    "invalid_name_keyword.py": (6, "activation name 'lambda' is reserved"),
    "invalid_name_not_identifier.py": (6, "activation name 'my-act' must be an ASCII identifier starting with a letter"),
    "reserved_raw_suffix.py": (6, "parameter name 'beta_raw' ends in '_raw'"),
    "reserved_module_attribute.py": (6, "parameter name 'training' is reserved"),
    "non_ascii_name.py": (6, "activation name '\uff58_act' must be an ASCII identifier"),
    "digit_class_name.py": (6, "activation name '_2d' must be an ASCII identifier starting with a letter"),
    "name_too_long.py": (6, "is 300 characters long; the limit is 64"),
    "param_named_like_activation.py": (8, "parameter 'act' has the name of the activation"),
    "huge_domain.py": (6, "domain must be (lo, hi) with finite lo < hi within ±1e+30"),
    "huge_init.py": (6, "init must be a finite real number within ±1e+30"),
    "huge_constant.py": (6, "contains the constant 1.00E+400, which float64 cannot hold"),
    "mod_function.py": (6, "uses Mod, which the backends do not support; write Mod(u, c) as u - c*floor(u/c)"),
    "piecewise_without_default.py": (6, "Piecewise without a default branch; add (value, True) as its last piece"),
    "sys_exit.py": (4, "called sys.exit(0) while loading"),
    "keyboard_interrupt.py": (2, "loading was interrupted (KeyboardInterrupt)"),
    "doc_not_a_string.py": (6, "doc must be a string, got list"),
    "no_activation.py": (None, "no Activation defined at module level"),
    "nonfinite_init.py": (6, "init must be a finite real number"),
    "not_utf8.py": (None, "cannot read"),
    "param_listed_twice.py": (8, "parameter 'a' is listed twice"),
    "param_not_a_param.py": (8, "params must be symact.Param objects"),
    "param_not_listed.py": (8, "uses parameter 'a', which is not in params=[...]"),
    "param_without_init.py": (6, "needs an initial value"),
    "positive_param_negative_init.py": (6, "is positive but init=-1.0 is not > 0"),
    "positive_param_nonpositive_bound.py": (6, "is positive but its lower bound 0.0 is not > 0"),
    "reserved_param_name.py": (6, "parameter name 'np' is reserved"),
    "runtime_error.py": (6, "ZeroDivisionError"),
    "surrogate_unknown_key.py": (8, "surrogate key t is neither x nor one of its params"),
    "syntax_error.py": (7, "syntax error"),
    "undifferentiable.py": (8, "cannot differentiate g(x)"),
    "unevaluated_integral.py": (8, "unevaluated Integral"),
    "unknown_name.py": (8, "NameError: name 'y' is not defined"),
    "unsupported_function.py": (6, "besselj"),
    "wrong_user_derivative.py": (6, "derivative[x] is wrong"),
    "numpy_function.py": (8, "np.exp does not take SymPy expressions: use sp.exp"),
    "math_function.py": (6, "uses SymPy's functions (sp.exp, sp.tanh, sp.log, sp.Piecewise, ...), not NumPy's or math's"),
    "if_on_x.py": (4, "write branches as sp.Piecewise((value, condition), ..., (default, True))"),
    "param_name_typo.py": (8, "NameError: name 'alpah' is not defined; did you mean 'alpha'?"),
    "keyword_typo.py": (6, "unexpected keyword argument 'inti'; did you mean init=...?"),
    "sympy_has_no_sigmoid.py": (7, "write it with SymPy: sigmoid(u) = 1/(1 + sp.exp(-u))"),
}

GOOD_SOURCE = '''\
"""A valid definition."""
import sympy as sp

from symact import Activation, x

good = Activation(name="good", expr=sp.tanh(x))
'''


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["generate", *args])


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(map(str, out.rglob("*")))


def _assert_one_line_error(result: Result, path: Path | str, line: int | None, message: str) -> None:
    """Exit code 2, nothing on stdout, and exactly `symact: <path>[:<line>]: ...message...` on stderr."""
    assert "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    prefix = f"symact: {path}: " if line is None else f"symact: {path}:{line}: "
    assert lines[0].startswith(prefix), (prefix, lines[0])
    assert message in lines[0][len(prefix) :], (message, lines[0])


def test_corpus_is_complete():
    """Every corpus file has an expectation and vice versa, and says what is wrong with it."""
    assert len(CORPUS) >= 18
    assert set(CORPUS) == set(EXPECTED)
    for name in CORPUS:
        first = (MALFORMED / name).read_bytes().split(b"\n", 1)[0]
        assert first.startswith(b"# Malformed: "), name


@pytest.mark.parametrize("name", CORPUS)
def test_malformed_file(name: str, tmp_path: Path):
    path = MALFORMED / name
    out = tmp_path / "out"
    line, message = EXPECTED[name]
    result = _invoke(str(path), "-o", str(out))
    _assert_nothing_written(out)
    _assert_one_line_error(result, path, line, message)


def test_missing_file(tmp_path: Path):
    path = tmp_path / "does_not_exist.py"
    out = tmp_path / "out"
    result = _invoke(str(path), "-o", str(out))
    _assert_nothing_written(out)
    _assert_one_line_error(result, path, None, "no such file")


def test_directory_argument(tmp_path: Path):
    out = tmp_path / "out"
    result = _invoke(str(MALFORMED), "-o", str(out))
    _assert_nothing_written(out)
    _assert_one_line_error(result, MALFORMED, None, "is a directory")


@pytest.mark.parametrize(
    "bad",
    [
        "param_not_listed.py",  # fails while loading: the good file is not even derived
        "unevaluated_integral.py",
        "complex_on_domain.py",  # fails at generate time, after the good file was rendered
    ],
)
def test_one_bad_file_means_nothing_written(bad: str, tmp_path: Path):
    good = tmp_path / "good.py"
    good.write_text(GOOD_SOURCE, encoding="utf-8")
    out = tmp_path / "out"
    path = MALFORMED / bad
    for order in ([good, path], [path, good]):
        result = _invoke("-q", *map(str, order), "-o", str(out))
        _assert_nothing_written(out)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"symact: {path}:"), result.stderr
        assert EXPECTED[bad][1] in lines[0]
    # the good file alone does generate (so the test above is not vacuous)
    result = _invoke("-q", str(good), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "good" / "kernels.py").is_file()


def test_same_name_in_two_files(tmp_path: Path):
    """An activation name used in two files: reported at the second definition, nothing written."""
    first = tmp_path / "first.py"
    second = tmp_path / "second.py"
    first.write_text(GOOD_SOURCE, encoding="utf-8")
    second.write_text(GOOD_SOURCE, encoding="utf-8")
    out = tmp_path / "out"
    result = _invoke(str(first), str(second), "-o", str(out))
    _assert_nothing_written(out)
    _assert_one_line_error(result, second, 6, f"name already used by an activation in {first}")


def test_console_entry_point_subprocess(tmp_path: Path):
    """`python -m symact.cli generate BAD` prints one line on stderr and exits with 2."""
    path = MALFORMED / "param_without_init.py"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "symact.cli", "generate", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"symact: {path}:6: parameter 'a' needs an initial value: init=..."]
    _assert_nothing_written(out)
