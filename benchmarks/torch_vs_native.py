"""Generated torch ops against native torch on CPU: the benchmark suite at one size, float32.

    python benchmarks/torch_vs_native.py [N] [REPEAT]

Runs ``benchmarks/suite.py --activations swish,mish,gelu --sizes N --dtypes float32
--repeat REPEAT`` (defaults: 1e7 elements, 9 rounds), so there is one way to measure: see
that script and Note [How bench measures] in symact/bench.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import suite  # noqa: E402

if __name__ == "__main__":
    n = sys.argv[1] if len(sys.argv) > 1 else "1e7"
    repeat = sys.argv[2] if len(sys.argv) > 2 else "9"
    suite(["--activations", "swish,mish,gelu", "--sizes", n, "--dtypes", "float32", "--repeat", repeat])
