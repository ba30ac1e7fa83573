"""The examples train real models with a generated module imported from a copied folder, in a
fresh process where symact cannot be imported: the loss goes down and a trainable parameter
of the activation moves."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from symact.testing import ROOT

EXAMPLES = ROOT / "examples"

#: Runs a script with symact made unimportable (it is installed in this environment, so the
#: block proves the generated folder does not need it), and checks it was never imported.
WITHOUT_SYMACT = textwrap.dedent(
    """
    import importlib.abc, runpy, sys

    class NoSymact(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "symact" or name.startswith("symact."):
                raise ModuleNotFoundError("No module named 'symact' (blocked for this test)")
            return None

    sys.meta_path.insert(0, NoSymact())
    script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        assert not [m for m in sys.modules if m == "symact" or m.startswith("symact.")]
    """
)


def _run_without_symact(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SYMACT, str(script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def _copy(name: str, tmp_path: Path) -> Path:
    """generated/<name>/ copied under another name, without compiled caches."""
    target = tmp_path / "copied_activation"
    shutil.copytree(ROOT / "generated" / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _check_training(proc: subprocess.CompletedProcess[str], folder: Path, module_file: str, param: str) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"from {(folder / module_file).resolve()}" in proc.stdout
    before, after = map(float, re.search(r"loss: ([\d.]+) -> ([\d.]+)", proc.stdout).groups())
    assert after < 0.5 * before, proc.stdout
    start, end = map(float, re.search(rf"{param} \(mean over \w+\): ([-\d.]+) -> ([-\d.]+)", proc.stdout).groups())
    assert abs(end - start) > 1e-3, proc.stdout


def test_the_block_makes_symact_unimportable(tmp_path):
    """The guard of these tests is real: a script that imports symact fails under it."""
    script = tmp_path / "uses_symact.py"
    script.write_text("import symact\n")
    proc = _run_without_symact(script, cwd=tmp_path)
    assert proc.returncode != 0 and "blocked for this test" in proc.stderr


@pytest.mark.slow
def test_torch_example_trains_with_a_copied_folder(tmp_path):
    pytest.importorskip("torch")
    folder = _copy("snake", tmp_path)
    proc = _run_without_symact(EXAMPLES / "train_torch.py", folder.name, "--steps", "80", cwd=tmp_path)
    _check_training(proc, folder, "torch_ops.py", "alpha")


@pytest.mark.slow
def test_keras_example_trains_with_a_copied_folder(tmp_path):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed")
    folder = _copy("swish", tmp_path)
    proc = _run_without_symact(EXAMPLES / "train_keras.py", folder.name, "--epochs", "60", cwd=tmp_path)
    _check_training(proc, folder, "tf_ops.py", "beta")


def test_examples_refuse_a_folder_without_generated_code(tmp_path):
    pytest.importorskip("torch")
    proc = _run_without_symact(EXAMPLES / "train_torch.py", str(tmp_path), cwd=tmp_path)
    assert proc.returncode != 0 and "no torch_ops.py here" in proc.stderr and "Traceback" not in proc.stderr
