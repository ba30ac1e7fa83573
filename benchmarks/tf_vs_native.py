"""Generated tf_ops against TensorFlow's autodiff and built-ins: forward + backward on CPU.

    python benchmarks/tf_vs_native.py [N] [REPEAT] [--cpu-time] [--baseline=DIR]

N float32 inputs (default 10M) in (-8, 8). For mish, silu, gelu and swish with a trainable
beta, the time of one forward and one backward (a tf.GradientTape around the call, the
gradient of the sum with respect to x and any trainable parameter) of

- generated: generated/<name>/tf_ops.py, the tf.custom_gradient function (silu is the
  generated swish with beta = 1.0 passed as a Python number, which a tf.function traces as
  a constant, as the autodiff formula's own);
- autodiff: the textbook formula in TF ops, its gradient derived by TF's autodiff;
- built-in: tf.nn.silu, tf.nn.gelu(approximate=False) (TensorFlow has no mish op);

each eager, in a tf.function without XLA (what Keras runs on a machine without an
accelerator) and under tf.function(jit_compile=True) (XLA), compiled before timing, and the
generated time as a ratio to each of the others (below 1: the generated one is faster).
The generated function compiles its own formulas with XLA in every mode.
Best of REPEAT rounds (default 7) after a warm-up, all in one process; each round times
every variant of every case once, in turn, so that a slow spell of the machine hits all of
them alike.

With --baseline=DIR the generated functions of another checkout (DIR/generated/<name>/
tf_ops.py, say the main branch's) run beside this one's, in the same rounds, and their
ratio to autodiff is printed after each row: a change's effect measured side by side.

With --cpu-time each time is the CPU time of the process (all its threads) instead of the
wall-clock time: on a machine that other work shares, a thread that waits for a core adds
wall-clock time but no CPU time, so the ratios move less from run to run; they then count
the work done, not how soon it is done (XLA runs a loop on two threads).

Then the memory each variant keeps for the backward pass, eager: the tensors that one
forward under a tape creates and that are still alive once the caller has dropped the
output, while the tape is alive (x and the parameters not counted), in multiples of the
size of x. TensorFlow's CPU allocator keeps freed memory, so neither the resident memory
nor tf.config.experimental.get_memory_info (zero on CPU) shows what a tape holds; the
tensors are found instead by an op callback that takes a weak reference to every output
an eager op creates, and told apart by their buffers (an identity shares its input's
buffer). A tf.custom_gradient function (the generated ones, tf.nn.silu) keeps its own
output: TensorFlow's wrapper holds it for the structure of the gradient; the generated
gradient closure holds nothing else (x and the parameters), where autodiff holds what each
op's gradient needs (sigmoid's output, tanh's, erf's inputs).
"""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import op_callbacks  # noqa: E402

from symact.testing import load_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _tf_ops(name: str, root: Path = ROOT):
    tag = "" if root == ROOT else "_baseline"
    return load_module(root / "generated" / name / "tf_ops.py", f"symact_generated_{name}_tf_ops{tag}")


def _generated(root: Path, beta: tf.Variable) -> dict[str, tuple[Callable[..., tf.Tensor], tuple[tf.Tensor, ...]]]:
    """The generated function of each case, from the checkout at ``root``."""
    mish, swish, gelu = _tf_ops("mish", root), _tf_ops("swish", root), _tf_ops("gelu", root)
    return {
        "mish": (mish.mish, ()),
        # beta as a Python number, as the composite's 1: a constant in a traced function
        "silu": (lambda t: swish.swish(t, 1.0), ()),
        "gelu": (gelu.gelu, ()),
        "swish+beta": (swish.swish, (beta,)),
    }


def _fwd_bwd(fn: Callable[..., tf.Tensor], params: tuple[tf.Tensor, ...]) -> Callable[[tf.Tensor], list[tf.Tensor]]:
    """One forward and the gradients of sum(fn) w.r.t. x and ``params``."""

    def once(x: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch([x, *params])
            y = fn(x, *params)
        return tape.gradient(y, [x, *params])

    return once


def _address(t: tf.Tensor) -> int:
    """The address of a CPU tensor's buffer (0 for an empty one)."""
    return t._numpy().__array_interface__["data"][0] if t.shape.num_elements() else 0


def kept_for_backward(fn: Callable[..., tf.Tensor], x: tf.Tensor, params: tuple[tf.Tensor, ...]) -> int:
    """Bytes of the tensors that one eager forward of ``fn`` under a tape creates and the
    tape still holds once the output is dropped; buffers of x and the parameters (which
    an identity may share) are not counted, each buffer once."""
    made: list[weakref.ref[tf.Tensor]] = []

    def record(op_type, inputs, attrs, outputs, op_name=None, graph=None):  # noqa: ANN001, ANN202
        if graph is None:
            made.extend(weakref.ref(t) for t in outputs)

    tape = tf.GradientTape()
    with tape:
        tape.watch([x, *params])
        op_callbacks.add_op_callback(record)
        try:
            y = fn(x, *params)
        finally:
            op_callbacks.remove_op_callback(record)
    del y
    gc.collect()
    held = {_address(tf.convert_to_tensor(t)) for t in (x, *params)}
    alive = {_address(t): t.shape.num_elements() * t.dtype.size for r in made if (t := r()) is not None}
    del tape
    return sum(size for address, size in alive.items() if address not in held)


def main(n: int, repeat: int, cpu_time: bool = False, baseline: Path | None = None) -> None:
    beta = tf.Variable(1.0)
    generated = _generated(ROOT, beta)
    before = _generated(baseline, beta) if baseline is not None else {}
    cases: dict[str, dict[str, tuple[Callable[..., tf.Tensor], tuple[tf.Tensor, ...]]]] = {
        "mish": {"autodiff": (lambda t: t * tf.math.tanh(tf.math.softplus(t)), ())},
        "silu": {"autodiff": (lambda t: t * tf.math.sigmoid(t), ()), "built-in": (tf.nn.silu, ())},
        "gelu": {
            "autodiff": (lambda t: 0.5 * t * (1.0 + tf.math.erf(t * (1.0 / math.sqrt(2.0)))), ()),
            "built-in": (lambda t: tf.nn.gelu(t, approximate=False), ()),
        },
        "swish+beta": {"autodiff": (lambda t, b: t * tf.math.sigmoid(b * t), (beta,))},
    }
    for name, variants in cases.items():
        variants["generated"] = generated[name]
        if name in before:
            variants["baseline"] = before[name]
    x = tf.random.stateless_uniform((n,), seed=(0, 0), minval=-8.0, maxval=8.0)
    runs: dict[tuple[str, str, str], Callable[[], object]] = {}
    for name, variants in cases.items():
        for variant, (fn, params) in variants.items():
            eager = _fwd_bwd(fn, params)
            graph = tf.function(eager)
            compiled = tf.function(eager, jit_compile=True)
            runs[name, variant, "eager"] = lambda f=eager: f(x)
            runs[name, variant, "graph"] = lambda f=graph: f(x)
            runs[name, variant, "xla"] = lambda f=compiled: f(x)
    for run in runs.values():  # warm-up: compile, touch the memory
        run()
        run()
    clock = time.process_time if cpu_time else time.perf_counter
    times: dict[tuple[str, str, str], list[float]] = {key: [] for key in runs}
    for _ in range(repeat):
        for key, run in runs.items():
            start = clock()
            run()
            times[key].append(clock() - start)
    best = {key: min(ts) for key, ts in times.items()}

    print(
        f"{n:,} float32 on CPU, forward + backward, best of {repeat} interleaved rounds"
        f"{' of CPU time' if cpu_time else ''}; TensorFlow {tf.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    header = ("", "mode", "gen. s", "autodiff s", "built-in s", "/autodiff", "/built-in")
    print("{:11} {:5} {:>8} {:>10} {:>10} {:>9} {:>9}".format(*header))
    for name in cases:
        for mode in ("eager", "graph", "xla"):
            gen, auto = best[name, "generated", mode], best[name, "autodiff", mode]
            native = best.get((name, "built-in", mode))
            native_s = f"{native:10.4f}" if native else f"{'-':>10}"
            ratio = f"{gen / native:8.2f}x" if native else f"{'-':>9}"
            base = best.get((name, "baseline", mode))
            base_s = f" {base / auto:8.2f}x" if base else ""
            print(f"{name:11} {mode:5} {gen:8.4f} {auto:10.4f} {native_s} {gen / auto:8.2f}x {ratio}{base_s}")
    print("/autodiff, /built-in: generated time over that time (below 1: the generated one is faster)")
    if baseline is not None:
        print(f"last column: the generated functions of {baseline} over autodiff, in the same rounds")
    print()
    print("memory kept for backward (eager), in multiples of the size of x")
    print("{:11} {:>9} {:>9} {:>9} {:>9}".format("", "generated", "autodiff", "built-in", "baseline"))
    size = n * x.dtype.size
    for name, variants in cases.items():
        kept = {v: kept_for_backward(fn, x, params) / size for v, (fn, params) in variants.items()}
        cells = [f"{kept[v]:9.2f}" if v in kept else f"{'-':>9}" for v in ("generated", "autodiff", "built-in", "baseline")]
        print(f"{name:11} {' '.join(cells)}")


if __name__ == "__main__":
    flags = {a.split("=")[0]: a.partition("=")[2] for a in sys.argv[1:] if a.startswith("--")}
    if unknown := set(flags) - {"--cpu-time", "--baseline"}:
        sys.exit(
            "usage: python benchmarks/tf_vs_native.py [N] [REPEAT] [--cpu-time] [--baseline=DIR] "
            f"(unknown: {' '.join(sorted(unknown))})"
        )
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    base = Path(flags["--baseline"]).resolve() if flags.get("--baseline") else None
    main(int(args[0]) if args else 10_000_000, int(args[1]) if len(args) > 1 else 7, "--cpu-time" in flags, base)
