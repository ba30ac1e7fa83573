"""Train a small PyTorch model with a generated activation, imported from its folder alone.

    python examples/train_torch.py generated/snake            # or a copy of the folder anywhere
    python examples/train_torch.py path/to/my_act --steps 300

The folder is what `symact generate` wrote for one activation (kernels.py, torch_ops.py, ...).
Its torch_ops.py is imported by path: the generated code needs torch and numba, not symact.

The model is Linear(1, 16) -> the activation's module, one parameter per channel ->
Linear(16, 1), fitted with Adam to y = sin(2x) + 0.3x on 256 points of [-3, 3]. It prints
the loss and the activation's trainable parameters (their mean over the channels) before and
after, and exits with 1 if the loss did not go down or no trainable parameter moved.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import torch


def load_module_class(folder: Path) -> tuple[object, type[torch.nn.Module]]:
    """The folder's torch_ops.py as a module, and the nn.Module class it defines."""
    path = folder / "torch_ops.py"
    if not path.is_file():
        sys.exit(f"{folder}: no torch_ops.py here; give a folder that `symact generate` wrote")
    spec = importlib.util.spec_from_file_location(f"{folder.name}_torch_ops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == module.__name__
    ]
    return module, classes[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a generated activation folder")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    args = parser.parse_args(argv)

    module, cls = load_module_class(args.folder)
    print(f"imported {cls.__name__} from {Path(module.__file__).resolve()}")
    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 256).reshape(-1, 1)
    y = torch.sin(2 * x) + 0.3 * x
    act = cls(num_parameters=16)
    model = torch.nn.Sequential(torch.nn.Linear(1, 16), act, torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)

    def values() -> dict[str, float]:
        return {name: float(getattr(act, name).detach().mean()) for name in module.TRAINABLE}

    before_params = values()
    with torch.no_grad():
        before = float(torch.nn.functional.mse_loss(model(x), y))
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float(torch.nn.functional.mse_loss(model(x), y))
    after_params = values()

    print(f"loss: {before:.4f} -> {after:.4f} after {args.steps} steps")
    for name in module.TRAINABLE:
        print(f"{name} (mean over channels): {before_params[name]:.4f} -> {after_params[name]:.4f}")
    if not module.TRAINABLE:
        print("(this activation has no trainable parameter)")
    moved = any(abs(after_params[n] - before_params[n]) > 1e-4 for n in module.TRAINABLE)
    if not after < before or (module.TRAINABLE and not moved):
        print("training did not work: the loss did not go down or no parameter moved")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
