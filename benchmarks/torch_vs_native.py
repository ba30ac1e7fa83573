"""Generated torch_ops against PyTorch's own activations: forward + backward on CPU.

    python benchmarks/torch_vs_native.py [N] [REPEAT]

N float32 inputs (default 10M) in (-8, 8). For mish, silu and gelu, the time of one
forward and one backward of

- generated: generated/<name>/torch_ops.py, which runs the fused Numba kernels on CPU
  (silu is the generated swish with beta = 1, a tensor that does not require grad, so
  its backward runs the grad_x-only kernel; swish+beta, an extra row, is the same with
  beta trainable, against the composite x·sigmoid(beta·x) with beta trainable);
- native: torch.nn.functional.mish/silu/gelu;
- eager composite: the textbook formula in torch ops, its backward derived by autograd;
- compiled composite: torch.compile of that formula (inductor; compiled before timing);

and the generated time as a ratio to each of the others (below 1: the generated one is
faster). Best of REPEAT rounds (default 7) after a warm-up, all in one process; each
round times every variant of every case once, in turn, so that a slow spell of the
machine hits all of them alike. Inductor compiles in this process
(TORCHINDUCTOR_COMPILE_THREADS=1): compile workers left running in the background would
take the CPUs from whatever is timed next. Also the bytes saved for backward (counted with
torch.autograd.graph.saved_tensors_hooks), in units of the input's bytes.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

import torch  # noqa: E402

from symact.accuracy import load_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _torch_ops(name: str):
    return load_module(ROOT / "generated" / name / "torch_ops.py", f"symact_generated_{name}_torch_ops")


def _fwd_bwd(fn: Callable[..., torch.Tensor], x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> Callable[[], None]:
    """One forward and backward of ``fn`` on a fresh leaf copy of x (and of the params)."""
    grad = torch.ones_like(x)

    def once() -> None:
        leaf = x.detach().requires_grad_()
        fn(leaf, *(p.detach().requires_grad_() for p in params)).backward(grad)

    return once


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
    cases: dict[str, dict[str, Callable[..., torch.Tensor]]] = {
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
    runs: dict[tuple[str, str], Callable[[], None]] = {}
    for name, fns in cases.items():
        fns["compiled"] = torch.compile(fns["composite"], fullgraph=True)
        for variant in ("generated", "native", "composite", "compiled"):
            runs[name, variant] = _fwd_bwd(fns[variant], x, ())
    # Swish with beta trainable: a parameter gradient reduced in the same pass.
    swish_composite = lambda t, b: t * torch.sigmoid(b * t)  # noqa: E731
    runs["swish+beta", "generated"] = _fwd_bwd(swish.swish, x, (beta,))
    runs["swish+beta", "composite"] = _fwd_bwd(swish_composite, x, (beta,))
    runs["swish+beta", "compiled"] = _fwd_bwd(torch.compile(swish_composite, fullgraph=True), x, (beta,))
    for run in runs.values():  # warm-up: compile, load the Numba cache, touch the memory
        run()
        run()
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    for _ in range(repeat):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    best = {key: min(ts) for key, ts in times.items()}

    print(
        f"{n:,} float32 on CPU, forward + backward, best of {repeat} interleaved rounds; torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    header = ("", "gen. s", "native s", "eager s", "compiled s", "/native", "/eager", "/compiled", "saved gen", "saved native")
    print("{:10} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>9} {:>9} {:>12}".format(*header))
    input_bytes = x.numel() * x.element_size()
    for name in (*cases, "swish+beta"):
        gen, eager, comp = best[name, "generated"], best[name, "composite"], best[name, "compiled"]
        native = best.get((name, "native"))
        if name in cases:
            saved_gen = f"{_saved_bytes(cases[name]['generated'], x) / input_bytes:9.4f}"
            saved_native = f"{_saved_bytes(cases[name]['native'], x) / input_bytes:12.4f}"
        else:
            saved_gen, saved_native = f"{'-':>9}", f"{'-':>12}"
        native_s = f"{native:8.4f}" if native else f"{'-':>8}"
        ratio = f"{gen / native:7.2f}x" if native else f"{'-':>8}"
        print(
            f"{name:10} {gen:8.4f} {native_s} {eager:8.4f} {comp:10.4f} {ratio} "
            f"{gen / eager:7.2f}x {gen / comp:8.2f}x {saved_gen} {saved_native}"
        )
    print("/native, /eager, /compiled: generated time over that time; saved: bytes / input bytes")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 7)
