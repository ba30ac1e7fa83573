"""One rank of the DDP test in test_torch_backend.py (also imported there for the
single-process reference run).

    python tests/ddp_worker.py RANK WORLD_SIZE PORT OUT_DIR

Trains a small float64 model with a generated per-channel ``Bump`` layer under
``DistributedDataParallel`` (gloo, CPU, localhost) on its shard of a fixed data set, and
saves the final parameters to ``OUT_DIR/rank<RANK>.pt``.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from symact.testing import load_module

try:
    import torch
except ImportError:  # imported without torch only by collectors (pytest --doctest-modules)
    torch = None

from symact.testing import ROOT

STEPS = 15
SAMPLES = 64


def load_torch_ops(name: str = "bump"):
    return load_module(ROOT / "generated" / name / "torch_ops.py", f"symact_generated_{name}_torch_ops")


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    torch_ops = load_torch_ops()
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch_ops.Bump(num_parameters=4), torch.nn.Linear(4, 1)
    ).double()


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(SAMPLES, 3, generator=generator, dtype=torch.float64) * 2 - 1
    y = torch.exp(-4 * (x**2).sum(dim=1, keepdim=True))
    return x, y


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main(rank: int, world_size: int, port: int, out: Path) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        model = torch.nn.parallel.DistributedDataParallel(make_model())
        x, y = make_data()
        shard = slice(rank * SAMPLES // world_size, (rank + 1) * SAMPLES // world_size)
        train(model, x[shard], y[shard])
        torch.save(model.module.state_dict(), out / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
