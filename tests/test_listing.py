"""`symact list`: one row per activation, with the audit's range and findings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from symact.cli import main
from symact.spec import load_definitions
from symact.testing import ROOT

CATALOG = ROOT / "definitions"


def _list(*args: str):
    return CliRunner().invoke(main, ["list", "-q", *args])


def test_the_catalog_without_audit_lists_every_activation_with_its_parameters():
    result = _list("--no-audit", str(CATALOG))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "params", "(init)", "file"]
    names = [act.name for path in sorted(CATALOG.glob("*.py")) for act in load_definitions(path)]
    assert [line.split()[0] for line in lines[2:]] == names
    row = next(line for line in lines if line.startswith("leaky_relu "))
    assert "slope=0.01 (fixed)" in row
    row = next(line for line in lines if line.startswith("gaussian_bump "))
    assert "a=1, b=1, c=0" in row


@pytest.mark.slow
def test_rows_with_the_audit_give_range_and_findings(tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    for name in ("bump.py", "snake.py", "hard_sigmoid.py"):
        (folder / name).write_text((CATALOG / name).read_text())
    (folder / "variant.py").write_text(
        "import sympy as sp\n"
        "from symact import Activation, Param, x\n"
        "sigma = Param('sigma', init=0.5, positive=True, bounds=(0.1, 10.0))\n"
        "bump_abs = Activation(name='bump_abs', params=[sigma],\n"
        "    expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), (0, True)))\n"
    )
    result = _list(str(folder))
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert list(rows) == ["bump", "hard_sigmoid", "snake", "bump_abs"]
    assert "sigma=0.5" in rows["bump"] and "[0, 0.367879]" in rows["bump"]
    assert "3 infos (bounded-range, saturation)" in rows["bump"]
    assert rows["snake"].endswith("clean") and "(-oo, oo)" in rows["snake"]
    assert "kink" in rows["hard_sigmoid"] and "[0, 1]" in rows["hard_sigmoid"]
    assert "3 errors, 2 warnings" in rows["bump_abs"] and "singularity" in rows["bump_abs"]


def test_a_file_that_does_not_load_is_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "good.py").write_text((CATALOG / "softsign.py").read_text())
    (tmp_path / "bad.py").write_text("from symact import Activation, x\na = Activation(name='a', expr=x * sigmoid(x))\n")
    result = _list("--no-audit", str(tmp_path))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[2].startswith("softsign ")
    assert lines[-1] == f"{tmp_path / 'bad.py'}: does not load: {tmp_path / 'bad.py'}:2: NameError: name 'sigmoid' is not defined"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nothing_here", "no such file or folder"),
        (lambda p: p, "no definition files (*.py) in this folder"),
    ],
)
def test_paths_that_hold_no_definition(tmp_path, make, message):
    result = _list(str(make(tmp_path)))
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
