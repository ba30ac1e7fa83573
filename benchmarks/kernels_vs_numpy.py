"""Generated Numba kernels against the same formulas written in NumPy, side by side.

    python benchmarks/kernels_vs_numpy.py [N]

N float32 inputs (default 10M) in (-8, 8); best of 5 runs after a warm-up that also
compiles. NumPy forward is the textbook formula; NumPy backward computes the same
derivative formulas elementwise plus the parameter sums, as hand-written code would.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from symact.testing import load_module

ROOT = Path(__file__).resolve().parents[1]


def _kernels(name):
    return load_module(ROOT / "generated" / name / "kernels.py", f"symact_generated_{name}_kernels")


def _best(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _np_mish(x):
    return x * np.tanh(np.log1p(np.exp(x)))


def _np_mish_grad(g, x):
    sp = np.log1p(np.exp(x))
    t = np.tanh(sp)
    return (g * (t + x * (1 - t * t) / (1 + np.exp(-x))),)


def _np_swish(x, beta):
    return x / (1 + np.exp(-beta * x))


def _np_swish_grad(g, x, beta):
    s = 1 / (1 + np.exp(-beta * x))
    return g * (s + beta * x * s * (1 - s)), np.float32((g * x * x * s * (1 - s)).sum(dtype=np.float64))


def _np_bump(x, sigma):
    inside = x * x < sigma
    safe = np.where(inside, x, 0)
    return np.where(inside, np.exp(-sigma / (sigma - safe * safe)), 0)


def _np_bump_grad(g, x, sigma):
    inside = x * x < sigma
    safe = np.where(inside, x, 0)
    d = sigma - safe * safe
    e = np.exp(-sigma / d)
    gx = np.where(inside, -2 * sigma * safe * e / (d * d), 0)
    gs = np.where(inside, safe * safe * e / (d * d), 0)
    return g * gx, np.float32((g * gs).sum(dtype=np.float64))


CASES = {
    "mish": (_np_mish, _np_mish_grad, ()),
    "swish": (_np_swish, _np_swish_grad, (np.float32(1.0),)),
    "bump": (_np_bump, _np_bump_grad, (np.float32(2.0),)),
}


def main(n: int) -> None:
    import numba

    rng = np.random.default_rng(0)
    x = rng.uniform(-8, 8, n).astype(np.float32)
    g = rng.uniform(-1, 1, n).astype(np.float32)
    print(f"{n:,} float32, {numba.get_num_threads()} Numba threads")
    print("| activation | pass | NumPy s | symact s | speed-up |")
    print("|---|---|---|---|---|")
    for name, (np_fwd, np_bwd, params) in CASES.items():
        k = _kernels(name)
        with np.errstate(all="ignore"):
            pairs = [
                ("forward", lambda f=np_fwd, p=params: f(x, *p), lambda k=k, p=params: k.forward(x, *p)),
                ("backward", lambda f=np_bwd, p=params: f(g, x, *p), lambda k=k, p=params: k.backward(g, x, *p)),
            ]
            for label, ref, ours in pairs:
                t_ref, t_ours = _best(ref), _best(ours)
                print(f"| {name} | {label} | {t_ref:.4f} | {t_ours:.4f} | {t_ref / t_ours:.1f}x |")
    if not math.isfinite(float(k.forward(x[:1], *params)[0])):
        raise SystemExit("non-finite output")


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000)
