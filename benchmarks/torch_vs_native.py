"""Generated torch_ops against PyTorch's own activations: forward + backward on CPU.

    python benchmarks/torch_vs_native.py [N] [REPEAT]

N float32 inputs (default 10M) in (-8, 8). For mish, silu and gelu, the time of one
forward and one backward of

- generated: generated/<name>/torch_ops.py, which runs the fused Numba kernels on CPU
  (silu is the generated swish with beta = 1, a tensor that does not require grad);
- native: torch.nn.functional.mish/silu/gelu;
- eager composite: the textbook formula in torch ops, its backward derived by autograd;
- compiled composite: torch.compile of that formula (inductor; compiled before timing);

and the generated time as a ratio to each of the others (below 1: the generated one is
faster). Best of REPEAT runs (default 5) after a warm-up, all in one process. Also the
bytes saved for backward (counted with torch.autograd.graph.saved_tensors_hooks), in
units of the input's bytes.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from symact.accuracy import load_module

ROOT = Path(__file__).resolve().parents[1]


def _torch_ops(name: str):
    return load_module(ROOT / "generated" / name / "torch_ops.py", f"symact_generated_{name}_torch_ops")


def _fwd_bwd_time(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeat: int) -> float:
    grad = torch.ones_like(x)

    def once() -> None:
        leaf = x.detach().requires_grad_()
        fn(leaf).backward(grad)

    once()
    once()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return min(times)


def _saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[t.data_ptr()] = max(saved.get(t.data_ptr(), 0), t.numel() * t.element_size())
        return t

    leaf = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(leaf)
    return sum(saved.values())


def main(n: int, repeat: int) -> None:
    mish, swish, gelu = _torch_ops("mish"), _torch_ops("swish"), _torch_ops("gelu")
    beta = torch.tensor(1.0)
    cases: dict[str, dict[str, Callable[[torch.Tensor], torch.Tensor]]] = {
        "mish": {
            "native": torch.nn.functional.mish,
            "generated": mish.mish,
            "composite": lambda t: t * torch.tanh(torch.nn.functional.softplus(t)),
        },
        "silu": {
            "native": torch.nn.functional.silu,
            "generated": lambda t: swish.swish(t, beta),
            "composite": lambda t: t * torch.sigmoid(t),
        },
        "gelu": {
            "native": torch.nn.functional.gelu,
            "generated": gelu.gelu,
            "composite": lambda t: 0.5 * t * (1.0 + torch.erf(t * (1.0 / math.sqrt(2.0)))),
        },
    }
    x = torch.empty(n, dtype=torch.float32).uniform_(-8, 8, generator=torch.Generator().manual_seed(0))
    print(
        f"{n:,} float32 on CPU, forward + backward, best of {repeat}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    header = ("", "gen. s", "native s", "eager s", "compiled s", "/native", "/eager", "/compiled", "saved gen", "saved native")
    print("{:6} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>9} {:>9} {:>12}".format(*header))
    for name, fns in cases.items():
        compiled = torch.compile(fns["composite"], fullgraph=True)
        generated = _fwd_bwd_time(fns["generated"], x, repeat)
        native = _fwd_bwd_time(fns["native"], x, repeat)
        eager = _fwd_bwd_time(fns["composite"], x, repeat)
        comp = _fwd_bwd_time(compiled, x, repeat)
        input_bytes = x.numel() * x.element_size()
        saved_gen = _saved_bytes(fns["generated"], x) / input_bytes
        saved_native = _saved_bytes(fns["native"], x) / input_bytes
        print(
            f"{name:6} {generated:8.4f} {native:8.4f} {eager:8.4f} {comp:10.4f} {generated / native:7.2f}x "
            f"{generated / eager:7.2f}x {generated / comp:8.2f}x {saved_gen:9.4f} {saved_native:12.4f}"
        )
    print("/native, /eager, /compiled: generated time over that time; saved: bytes / input bytes")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
