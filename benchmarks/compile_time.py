"""Compile time of the generated kernels from a cold cache, per catalog activation.

    python benchmarks/compile_time.py [--baseline DIR] [--rounds R] [NAME ...]

What a user's first call pays when Numba's cache is empty (a new machine, a new
definition, an edited kernels.py): in a new process for each measurement, with its own
empty NUMBA_CACHE_DIR, kernels.py is imported and its loops compiled for float32 and
float64 (forward, backward_x, and backward where there is a trainable parameter), on 100
elements. The time is from the first call to the last, so the import of numba is not in
it. ``--baseline DIR``: another folder of generated modules (say an older commit's
``generated/``, each with its ``_kernel_calls.py``), measured in the same rounds,
alternating with ours; the table then gives both and their ratio. Best of R rounds
(default 1). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COMPILE = r"""
import importlib.util, sys, time
import numpy as np
folder, name = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location(f"symact_generated_{name}_kernels", f"{folder}/{name}/kernels.py")
m = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = m  # importable under its name, so its loops go to the (empty) cache
spec.loader.exec_module(m)
ps = [1.0] * len(m.PARAMS)
start = time.perf_counter()
for dt in (np.float32, np.float64):
    x = np.linspace(-3, 3, 100).astype(dt)
    g = np.ones_like(x)
    m.forward(x, *ps)
    m.backward_x(g, x, *ps)
    if m.TRAINABLE:
        m.backward(g, x, *ps)
print(time.perf_counter() - start)
"""


def compile_seconds(folder: Path, name: str) -> float:
    """Seconds to compile ``folder/name``'s loops in a new process with an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", _COMPILE, str(folder), name], capture_output=True, text=True, env=env
        )
    if out.returncode != 0:
        raise SystemExit(f"{folder / name}: {out.stderr.strip().splitlines()[-1]}")
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="activations (default: every folder of generated/)")
    parser.add_argument("--baseline", type=Path, help="another folder of generated modules, measured alongside")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    ours = ROOT / "generated"
    names = args.names or sorted(p.name for p in ours.iterdir() if (p / "kernels.py").exists())
    if args.baseline:
        names = [n for n in names if (args.baseline / n / "kernels.py").exists()]
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for name in names:
            for label, folder in (("ours", ours), ("baseline", args.baseline)):
                if folder is None:
                    continue
                seconds = compile_seconds(folder, name)
                best[label, name] = min(seconds, best.get((label, name), float("inf")))
                print(f"  {name} {label}: {seconds:.2f} s", file=sys.stderr, flush=True)
    if args.baseline:
        print("| activation | baseline | ours | ours / baseline |\n|---|---|---|---|")
        for name in names:
            b, o = best["baseline", name], best["ours", name]
            print(f"| {name} | {b:.2f} s | {o:.2f} s | {o / b:.2f}× |")
        tb, to = sum(best["baseline", n] for n in names), sum(best["ours", n] for n in names)
        print(f"| all | {tb:.1f} s | {to:.1f} s | {to / tb:.2f}× |")
    else:
        print("| activation | compile |\n|---|---|")
        for name in names:
            print(f"| {name} | {best['ours', name]:.2f} s |")
        print(f"| all | {sum(best['ours', n] for n in names):.1f} s |")


if __name__ == "__main__":
    main()
