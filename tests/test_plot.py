"""`symact plot`: a picture per activation with f and every gradient, and one-line errors."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from symact.cli import main
from symact.testing import ROOT

VARIANT = '''\
import sympy as sp
from symact import Activation, Param, x

sigma = Param("sigma", init=0.5, positive=True, bounds=(0.1, 10.0))
bump_abs = Activation(
    name="bump_abs",
    expr=sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), sp.Abs(x) < sigma), (0, True)),
    params=[sigma],
)
'''

pytest.importorskip("matplotlib")


def _plot(*args: str):
    return CliRunner().invoke(main, ["plot", "-q", *args])


def _pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(path)


def _assert_drawn(path: Path, panels: int) -> None:
    """A real picture: PNG, wide enough for its panels, and far from blank (many distinct
    colours, and a good share of non-white pixels)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = _pixels(path)[..., :3]
    height, width = image.shape[:2]
    assert width >= 380 * min(panels, 3) and height >= 300
    distinct = np.unique((image * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(distinct) > 50
    ink = np.any(image < 0.9, axis=-1).mean()
    assert 0.02 < ink < 0.9, ink


@pytest.mark.slow
def test_plot_of_a_catalog_activation_with_several_widths(tmp_path):
    out = tmp_path / "bump.png"
    result = _plot(str(ROOT / "definitions" / "bump.py"), "--param", "sigma=0.5,1,2", "--range", "-3", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    _assert_drawn(out, panels=3)


@pytest.mark.slow
def test_plot_marks_the_poles_of_the_variant_only_where_they_are_active(tmp_path):
    """The |x| < sigma bump: poles at ±sqrt(sigma) lie inside the support only for sigma > 1,
    so sigma=2 gets them marked (in f and both gradients) and sigma=0.5 does not."""
    from symact.plot import plot_activation
    from symact.spec import load_definitions

    source = tmp_path / "variant.py"
    source.write_text(VARIANT)
    (act,) = load_definitions(source)
    (sigma,) = act.params
    inside = plot_activation(act, tmp_path / "two.png", {sigma: [2.0]}, (-3.0, 3.0))
    outside = plot_activation(act, tmp_path / "half.png", {sigma: [0.5]}, (-3.0, 3.0))
    assert inside.singularities == 6 and outside.singularities == 0
    assert inside.boundaries == outside.boundaries == 2  # x = ±sigma
    assert inside.panels == ("f", "d_x", "d_sigma")
    _assert_drawn(tmp_path / "two.png", panels=3)


def test_saturation_and_svg(tmp_path):
    from symact.plot import plot_activation
    from symact.spec import load_definitions

    (act,) = load_definitions(ROOT / "definitions" / "hard_sigmoid.py")
    summary = plot_activation(act, tmp_path / "hs.svg", {}, (-5.0, 5.0))
    assert summary.saturated == 2 and summary.boundaries == 2  # |x| > 3, and x = ±3
    text = (tmp_path / "hs.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.count("<path") > 20


@pytest.mark.slow
def test_a_file_with_two_activations_gives_two_pictures(tmp_path):
    out = tmp_path / "g.png"
    result = _plot(str(ROOT / "definitions" / "gelu.py"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {"g_gelu.png", "g_gelu_tanh.png"}
    _assert_drawn(tmp_path / "g_gelu_tanh.png", panels=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "sgima=1,2"], "has no parameter 'sgima' (its parameters: sigma); did you mean 'sigma'?"),
        (["--param", "sigma=0.5,x"], "'x' is not a number"),
        (["--param", "sigma=20"], "sigma must be in [0.1, 10], got 20"),
        (["--param", "sigma"], "write NAME=V1,V2,..."),
        (["--range", "3", "-3"], "give two finite numbers, the smaller first"),
        (["--param", "sigma=0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3"], "too many curves"),
        (["--name", "bmp"], "no activation named 'bmp' (it defines: bump)"),
    ],
)
def test_mistakes_are_one_line(tmp_path, args, message):
    result = _plot(str(ROOT / "definitions" / "bump.py"), *args, "-o", str(tmp_path / "b.png"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("symact: ") and message in lines[0], result.stderr
    assert not (tmp_path / "b.png").exists()


def test_wrong_suffix_and_missing_folder(tmp_path):
    for out, message in [(tmp_path / "b.jpg", "must end in .png or .svg"), (tmp_path / "no" / "b.png", "does not exist")]:
        result = _plot(str(ROOT / "definitions" / "bump.py"), "-o", str(out))
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_without_matplotlib_the_error_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = _plot(str(ROOT / "definitions" / "bump.py"), "-o", str(tmp_path / "b.png"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "symact: plotting needs matplotlib: pip install 'symact[plot]'"


def test_splits_made_for_accuracy_are_not_branch_boundaries():
    """squareplus is written in four pieces of one function (for float accuracy): nothing to
    mark; the bump's support edge and softsign's |x| are real switches."""
    from symact.plot import _boundaries
    from symact.spec import load_definitions

    def marked(name: str) -> set[str]:
        (act,) = load_definitions(ROOT / "definitions" / f"{name}.py")
        return {str(b) for b in _boundaries(act)}

    assert marked("squareplus") == set()
    assert marked("bump") == {"-sqrt(sigma)", "sqrt(sigma)"}
    assert marked("softsign") == {"0"}
