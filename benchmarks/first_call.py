"""The first forward + backward of a generated torch op in a new process, against torch's
built-in: what a user waits for before the first training step.

    python benchmarks/first_call.py [--activation swish] [--rounds 4] [--cold]

Each measurement is a new process that imports torch first (not timed: both pay it),
then times importing the generated ``torch_ops.py`` and one forward and backward on 100
float32 elements with a gradient for x (parameters 1.0, as constants), or the same with
the built-in (``F.silu`` for
swish, ``F.mish``, ``F.gelu``, ``F.softplus``, ``F.elu``, ``F.selu``). Numba's cache is
warm (filled by a run before the rounds), or with ``--cold`` empty for every measurement,
so the loops are compiled. Rounds alternate generated and built-in; the table gives the
best and worst of each and the difference of the bests. Wall-clock seconds, and process
CPU time beside them (less sensitive to other load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILT_INS = {"swish": "silu", "mish": "mish", "gelu": "gelu", "softplus": "softplus", "elu": "elu", "selu": "selu"}

_FIRST = r"""
import json, sys, time
import torch
folder, name, built_in = sys.argv[1], sys.argv[2], sys.argv[3]
wall, cpu = time.perf_counter(), time.process_time()
x = torch.linspace(-3, 3, 100, requires_grad=True)
if built_in != "-":
    import torch.nn.functional as F
    getattr(F, built_in)(x).sum().backward()
else:
    import importlib.util
    module = f"symact_generated_{name}_torch_ops"
    spec = importlib.util.spec_from_file_location(module, f"{folder}/{name}/torch_ops.py")
    ops = importlib.util.module_from_spec(spec)
    sys.modules[module] = ops
    spec.loader.exec_module(ops)
    params = [torch.tensor(1.0) for _ in ops.PARAMS]  # the built-ins' defaults (beta = alpha = 1)
    getattr(ops, name)(x, *params).sum().backward()
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


def first_call(name: str, built_in: str | None, cache: str, folder: Path = ROOT / "generated") -> tuple[float, float]:
    """(wall, CPU) seconds of a new process's first forward + backward after ``import torch``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run(
        [sys.executable, "-c", _FIRST, str(folder), name, built_in or "-"],
        capture_output=True, text=True, env=env,
    )
    if out.returncode != 0:
        raise SystemExit(f"{name}: {out.stderr.strip().splitlines()[-1]}")
    wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", default="swish", choices=sorted(BUILT_INS))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--cold", action="store_true", help="an empty Numba cache for every measurement")
    parser.add_argument("--generated", type=Path, default=ROOT / "generated", help="the folder of generated code to time")
    args = parser.parse_args()
    name, built_in = args.activation, BUILT_INS[args.activation]
    times: dict[str, list[tuple[float, float]]] = {"generated": [], "built-in": []}
    with tempfile.TemporaryDirectory() as warm:
        if not args.cold:
            first_call(name, None, warm, args.generated)  # fills the cache
        for _ in range(args.rounds):
            for label, which in (("generated", None), ("built-in", built_in)):
                if args.cold:
                    with tempfile.TemporaryDirectory() as cold:
                        times[label].append(first_call(name, which, cold, args.generated))
                else:
                    times[label].append(first_call(name, which, warm, args.generated))
                wall, cpu = times[label][-1]
                print(f"  {label}: {wall:.3f} s wall, {cpu:.3f} s CPU", file=sys.stderr, flush=True)
    cache = "cold (empty)" if args.cold else "warm"
    print(f"First forward + backward, {name} vs F.{built_in}, 100 float32, Numba cache {cache}, {args.rounds} rounds\n")
    print("| | wall best | wall worst | CPU best | CPU worst |\n|---|---|---|---|---|")
    for label, rows in times.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(f"| {label} | {min(walls):.3f} s | {max(walls):.3f} s | {min(cpus):.3f} s | {max(cpus):.3f} s |")
    gen, ref = times["generated"], times["built-in"]
    print(
        f"| generated − built-in | {min(w for w, _ in gen) - min(w for w, _ in ref):.3f} s | | "
        f"{min(c for _, c in gen) - min(c for _, c in ref):.3f} s | |"
    )


if __name__ == "__main__":
    main()
