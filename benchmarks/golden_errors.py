"""Worst error of every generated kernel against its golden references.

    python benchmarks/golden_errors.py [generated/]

For each activation, quantity and dtype: the largest error metric (ULPs of the 50-digit
reference / max(1, κ)), the 99th percentile, the largest raw ULP error, and the point
where the metric is worst. It reuses the scoring of the generated tests themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from symact.testing import load_module


def report(folder: Path) -> list[str]:
    rows = []
    for sub in sorted(p for p in folder.iterdir() if (p / "golden.json").exists()):
        test = load_module(sub / f"test_{sub.name}.py", f"golden_errors_{sub.name}_test")
        kernels = load_module(sub / "kernels.py", f"symact_generated_{sub.name}_kernels")
        for dtype in (np.float32, np.float64):
            x, params = test._inputs(dtype)
            values = {"f": kernels.forward(x, *params)}
            grads = kernels.backward(np.ones_like(x), x, *params)
            values.update(zip(["d_x", *(f"d_{t}" for t in test.TRAINABLE)], grads))
            for quantity, computed in values.items():
                scores = test._scores(computed, quantity, dtype)
                ref, kappa, _ = test._reference(quantity)
                raw = test.error_metric(computed, ref, np.zeros_like(kappa), dtype)  # κ = 0: plain ULPs
                worst = int(np.nanargmax(scores))
                at = dict(zip(test.GOLDEN["columns"], test.GOLDEN["points"][worst]["at"]))
                rows.append(
                    f"| {sub.name} | {quantity} | {np.dtype(dtype).name} | {np.nanmax(scores):.3g} | "
                    f"{np.nanpercentile(scores, 99):.3g} | {np.nanmax(raw):.3g} | "
                    f"{', '.join(f'{k}={v:.4g}' for k, v in at.items())} |"
                )
    return rows


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "generated")
    print("| activation | quantity | dtype | max metric | p99 metric | max raw ULPs | worst at |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(report(folder)))
