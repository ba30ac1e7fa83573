"""The accuracy harness: how close generated code (and framework built-ins) come to the truth.

The metric, per computed quantity q (f, ∂f/∂x, each ∂f/∂θ) at an input: the error in ULPs
of the 50-digit mpmath reference (the ULP never smaller than the dtype's smallest normal),
divided by max(1, κ), where κ = (|x·∂q/∂x| + Σ|θ·∂q/∂θ|)/|q| is q's relative condition
number. A result as good as the problem's own conditioning allows scores about 1.

The sweep: x uniform in ±10 and ±100, log-spaced magnitudes 1e-6 … 1e3 of both signs, 0,
±88, ±700, ±1e4 and subnormal inputs; every parameter at its init and at each end of its
range; all inputs rounded to the dtype first, references computed at the rounded inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from .derive import Derivation
from .numeric import (
    cross_reference,
    error_metric,
    kappa_at,
    mp_function,
    mp_partials,
    mp_reference_floats,
    p99,
)
from .spec import x
from .testing import load_module

__all__ = [
    "Stats", "sweep", "References", "references", "score", "measure_kernels", "measure_torch_formulas",
    "measure_torch_builtin", "measure_tf_formulas", "measure_tf_builtin", "TORCH_BUILTINS", "TF_BUILTINS",
]


@dataclass(frozen=True)
class Stats:
    """The metric over a sweep for one (activation, backend, dtype, quantity)."""

    max: float  # largest metric (inf when a value is NaN/inf where the truth is finite)
    p99: float  # 99th percentile of the metric
    max_ulps: float  # largest raw error in ULPs (no κ)
    worst: dict[str, float]  # the input where the metric is largest
    points: int  # inputs with a finite reference
    nonfinite: int  # NaN/inf results where the reference is finite

    def row(self) -> str:
        at = ", ".join(f"{k}={v:.4g}" for k, v in self.worst.items())
        return f"{self.max:.3g} | {self.p99:.3g} | {self.max_ulps:.3g} | {at}"


def _subnormal(dtype: Any) -> float:
    return float(np.finfo(dtype).tiny) / 2**10


def sweep(derivation: Derivation, dtype: Any, reduced: bool = False) -> np.ndarray:
    """Inputs (rows of x then the params), rounded to ``dtype``, duplicates removed."""
    rng = np.random.default_rng(20261124)
    n_uniform, n_log = (40, 20) if reduced else (200, 60)
    xs = [
        rng.uniform(-10, 10, n_uniform),
        rng.uniform(-100, 100, n_uniform),
        np.logspace(-6, 3, n_log),
        -np.logspace(-6, 3, n_log),
        np.array([0.0, 88.0, -88.0, 700.0, -700.0, 1e4, -1e4, _subnormal(dtype), -_subnormal(dtype)]),
    ]
    x_values = np.concatenate(xs)
    act = derivation.activation
    init = [p.init for p in act.params]
    settings = [init] + [
        [*init[:i], v, *init[i + 1 :]] for i, p in enumerate(act.params) for v in p.sample_range()
    ]
    rows = np.array([[xv, *s] for s in settings for xv in x_values], dtype=np.float64)
    rows = rows.astype(dtype).astype(np.float64)
    return np.unique(rows, axis=0)


@dataclass(frozen=True)
class References:
    """Reference values and condition numbers of every quantity at every sweep input."""

    columns: list[str]
    points: np.ndarray  # (n, 1 + params)
    values: dict[str, list[Any]]  # quantity -> mpf per point (nan where undefined)
    kappas: dict[str, list[Any]]


# Note [References computed once]
# The 50-digit references dominate a measurement's time (mpmath's erf and erfc at 50 digits
# take most of gelu's), and each backend of one run (the kernels, the torch-op formulas, the
# TF functions, the built-ins beside them) is scored on the same inputs. So the references
# of a quantity at a set of inputs are kept for the derivation they were computed for, and
# reused while it is the same object; a few derivations are kept, the oldest dropped first.
_REFERENCE_CACHE: dict[tuple[int, str, tuple[int, ...], bytes], tuple[Derivation, list[Any], list[Any]]] = {}
_REFERENCE_CACHE_SIZE = 64


def references(derivation: Derivation, points: np.ndarray, quantities: Sequence[str] | None = None) -> References:
    act = derivation.activation
    symbols = (x, *act.params)
    values: dict[str, list[Any]] = {}
    kappas: dict[str, list[Any]] = {}
    points = np.ascontiguousarray(points, dtype=np.float64)
    for q in derivation.quantities:
        if quantities is not None and q.name not in quantities:
            continue
        key = (id(derivation), q.name, points.shape, points.tobytes())
        cached = _REFERENCE_CACHE.get(key)
        if cached is not None and cached[0] is derivation:
            values[q.name], kappas[q.name] = cached[1], cached[2]
            continue
        exact = mp_function(q.exact, symbols)
        printed = mp_function(q.identity, symbols)
        partials = mp_partials(q.identity, symbols)
        vs, ks = [], []
        for row in points:
            at = [float(v) for v in row]
            v = cross_reference(exact, printed, at)
            if v is None or isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                vs.append(mpmath.nan)
                ks.append(mpmath.nan)
                continue
            vs.append(v)
            ks.append(kappa_at(partials, v, at))
        values[q.name] = vs
        kappas[q.name] = ks
        while len(_REFERENCE_CACHE) >= _REFERENCE_CACHE_SIZE:
            del _REFERENCE_CACHE[next(iter(_REFERENCE_CACHE))]
        _REFERENCE_CACHE[key] = (derivation, vs, ks)
    return References(["x", *(p.name for p in act.params)], points, values, kappas)


def score(computed: np.ndarray, refs: References, quantity: str, dtype: Any) -> Stats:
    """The metric of ``computed`` (one value per sweep input) against the references."""
    computed = np.asarray(computed, dtype=np.float64).reshape(-1)
    ref = refs.values[quantity]
    keep = [i for i, v in enumerate(ref) if mpmath.isfinite(v)]
    if not keep:
        return Stats(0.0, 0.0, 0.0, {}, 0, 0)
    rounded, residual = mp_reference_floats([ref[i] for i in keep])
    kappa = np.array([float(refs.kappas[quantity][i]) for i in keep])
    metric = error_metric(computed[keep], rounded, kappa, dtype, ref_lo=residual)
    ulps = error_metric(computed[keep], rounded, np.zeros_like(kappa), dtype, ref_lo=residual)  # κ = 0: raw ULPs
    worst = int(np.argmax(metric))
    return Stats(
        max=float(metric.max()),
        p99=p99(metric),
        max_ulps=float(np.max(ulps[np.isfinite(ulps)], initial=0.0)),
        worst=dict(zip(refs.columns, map(float, refs.points[keep[worst]]))),
        points=len(keep),
        nonfinite=int(np.sum(~np.isfinite(computed[keep]))),
    )


def _kernel_outputs(kernels: Any, points: np.ndarray, dtype: Any, trainable: Sequence[str]) -> dict[str, np.ndarray]:
    xs = points[:, 0].astype(dtype)
    params = [points[:, 1 + k].astype(dtype) for k in range(points.shape[1] - 1)]
    with np.errstate(all="ignore"):
        out = {"f": kernels.forward(xs, *params)}
        grads = kernels.backward(np.ones_like(xs), xs, *params)
    out.update(zip(["d_x", *(f"d_{t}" for t in trainable)], grads))
    return out


def measure_kernels(
    derivation: Derivation, folder: Path, dtypes: Sequence[Any] = (np.float32, np.float64), reduced: bool = False
) -> dict[tuple[str, str], Stats]:
    """(dtype name, quantity) -> Stats of the generated Numba kernels in ``folder``."""
    act = derivation.activation
    kernels = load_module(folder / "kernels.py", f"symact_generated_{act.name}_kernels")
    trainable = [p.name for p in act.trainable_params]
    out: dict[tuple[str, str], Stats] = {}
    for dtype in dtypes:
        points = sweep(derivation, dtype, reduced)
        refs = references(derivation, points)
        for quantity, computed in _kernel_outputs(kernels, points, dtype, trainable).items():
            out[(np.dtype(dtype).name, quantity)] = score(computed, refs, quantity, dtype)
    return out


def measure_torch_formulas(
    derivation: Derivation, folder: Path, dtypes: Sequence[Any] = (np.float32, np.float64), reduced: bool = False
) -> dict[tuple[str, str], Stats] | None:
    """The same for the torch-op formulas of ``torch_ops.py`` (the path every non-CPU
    device runs), evaluated on CPU tensors; None without torch or torch_ops.py."""
    try:
        import torch
    except ImportError:
        return None
    if not (folder / "torch_ops.py").exists():
        return None
    act = derivation.activation
    load_module(folder / "kernels.py", f"symact_generated_{act.name}_kernels")
    ops = load_module(folder / "torch_ops.py", f"symact_generated_{act.name}_torch_ops")
    trainable = [p.name for p in act.trainable_params]
    out: dict[tuple[str, str], Stats] = {}
    for dtype in dtypes:
        points = sweep(derivation, dtype, reduced)
        refs = references(derivation, points)
        tdtype = getattr(torch, np.dtype(dtype).name)
        x_t = torch.tensor(points[:, 0], dtype=tdtype)
        params = [torch.tensor(points[:, 1 + k], dtype=tdtype) for k in range(points.shape[1] - 1)]
        with torch.no_grad():
            values = {"f": ops._forward_torch(x_t, *params)}
            grads = ops._backward_torch(torch.ones_like(x_t), x_t, *params)
        values.update(zip(["d_x", *(f"d_{t}" for t in trainable)], grads))
        for quantity, computed in values.items():
            out[(np.dtype(dtype).name, quantity)] = score(computed.numpy(), refs, quantity, dtype)
    return out


def _torch_builtin(name: str) -> Callable[..., Any] | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    table: dict[str, Callable[..., Any]] = {
        "gelu": lambda t: F.gelu(t),
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "mish": F.mish,
        "swish": F.silu,
        "softplus": F.softplus,
        "elu": F.elu,
        "selu": F.selu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }
    return table.get(name)


#: Catalog activations with a PyTorch built-in at the params' init (swish at β = 1 is SiLU).
TORCH_BUILTINS = ("gelu", "gelu_tanh", "mish", "swish", "softplus", "elu", "selu")


def measure_torch_builtin(
    derivation: Derivation, dtypes: Sequence[Any] = (np.float32, np.float64), reduced: bool = False
) -> dict[tuple[str, str], Stats] | None:
    """The same metric for PyTorch's own kernel for this activation (at the params' init),
    value and derivative w.r.t. x through autograd; None without torch or a built-in."""
    fn = _torch_builtin(derivation.activation.name)
    if fn is None:
        return None
    import torch

    act = derivation.activation
    out: dict[tuple[str, str], Stats] = {}
    for dtype in dtypes:
        points = sweep(derivation, dtype, reduced)
        init = np.array([p.init for p in act.params], dtype=np.float64).astype(dtype).astype(np.float64)
        rows = points[np.all(points[:, 1:] == init, axis=1)] if act.params else points
        refs = references(derivation, rows, quantities=["f", "d_x"])
        t = torch.tensor(rows[:, 0].astype(dtype), requires_grad=True)
        y = fn(t)
        (g,) = torch.autograd.grad(y.sum(), t)
        out[(np.dtype(dtype).name, "f")] = score(y.detach().numpy(), refs, "f", dtype)
        out[(np.dtype(dtype).name, "d_x")] = score(g.numpy(), refs, "d_x", dtype)
    return out


def _tensorflow() -> Any:
    """The tensorflow module, or None when it is not installed. TensorFlow's C++ start-up
    messages are silenced unless the user set their level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return tf


def _flushed(points: np.ndarray, dtype: Any) -> np.ndarray:
    """The sweep as TensorFlow's CPU kernels see it: they run with subnormal numbers flushed
    to zero (a positive subnormal x compares equal to 0, not greater), so subnormal inputs
    become zeros of the same sign, and the references are taken there."""
    flushed = np.where(np.abs(points) < float(np.finfo(dtype).tiny), np.copysign(0.0, points), points)
    return np.unique(flushed, axis=0)


def measure_tf_formulas(
    derivation: Derivation, folder: Path, dtypes: Sequence[Any] = (np.float32, np.float64), reduced: bool = False
) -> dict[tuple[str, str], Stats] | None:
    """The same for the public function of ``tf_ops.py`` (its TF formulas, eager on CPU),
    value and gradients through a tape; None without TensorFlow or tf_ops.py."""
    tf = _tensorflow()
    if tf is None or not (folder / "tf_ops.py").exists():
        return None
    act = derivation.activation
    ops = load_module(folder / "tf_ops.py", f"symact_generated_{act.name}_tf_ops")
    fn = getattr(ops, act.name)
    trainable = [p.name for p in act.trainable_params]
    out: dict[tuple[str, str], Stats] = {}
    for dtype in dtypes:
        points = _flushed(sweep(derivation, dtype, reduced), dtype)
        refs = references(derivation, points)
        x_t = tf.constant(points[:, 0], dtype=np.dtype(dtype).name)
        params = [tf.constant(points[:, 1 + k], dtype=np.dtype(dtype).name) for k in range(points.shape[1] - 1)]
        with tf.GradientTape() as tape:
            tape.watch([x_t, *params])
            y = fn(x_t, *params)
        wrt = [x_t, *(t for p, t in zip(act.params, params) if p.trainable)]
        values = {"f": y, **dict(zip(["d_x", *(f"d_{t}" for t in trainable)], tape.gradient(y, wrt)))}
        for quantity, computed in values.items():
            out[(np.dtype(dtype).name, quantity)] = score(computed.numpy(), refs, quantity, dtype)
    return out


def _tf_builtin(name: str) -> Callable[..., Any] | None:
    tf = _tensorflow()
    if tf is None:
        return None
    table: dict[str, Callable[..., Any]] = {
        "gelu": lambda t: tf.nn.gelu(t, approximate=False),
        "gelu_tanh": lambda t: tf.nn.gelu(t, approximate=True),
        "swish": tf.nn.silu,
        "softplus": tf.math.softplus,
        "elu": tf.nn.elu,
        "selu": tf.nn.selu,
    }
    return table.get(name)


#: Catalog activations with a TensorFlow built-in at the params' init (swish at β = 1 is SiLU).
TF_BUILTINS = ("gelu", "gelu_tanh", "swish", "softplus", "elu", "selu")


def measure_tf_builtin(
    derivation: Derivation, dtypes: Sequence[Any] = (np.float32, np.float64), reduced: bool = False
) -> dict[tuple[str, str], Stats] | None:
    """The same metric for TensorFlow's own op for this activation (at the params' init),
    value and derivative w.r.t. x through a tape; None without TensorFlow or a built-in."""
    fn = _tf_builtin(derivation.activation.name)
    if fn is None:
        return None
    tf = _tensorflow()
    act = derivation.activation
    out: dict[tuple[str, str], Stats] = {}
    for dtype in dtypes:
        points = _flushed(sweep(derivation, dtype, reduced), dtype)
        init = np.array([p.init for p in act.params], dtype=np.float64).astype(dtype).astype(np.float64)
        rows = points[np.all(points[:, 1:] == init, axis=1)] if act.params else points
        refs = references(derivation, rows, quantities=["f", "d_x"])
        t = tf.constant(rows[:, 0].astype(dtype))
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = fn(t)
        g = tape.gradient(y, t)
        out[(np.dtype(dtype).name, "f")] = score(y.numpy(), refs, "f", dtype)
        out[(np.dtype(dtype).name, "d_x")] = score(g.numpy(), refs, "d_x", dtype)
    return out


def table(rows: dict[str, dict[tuple[str, str], Stats]]) -> str:
    """A Markdown table: one row per (activation/backend, dtype, quantity)."""
    lines = [
        "| activation | code | dtype | quantity | max | p99 | max ULPs | worst at |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, stats in rows.items():
        name, _, backend = label.partition(":")
        for (dtype, quantity), s in stats.items():
            lines.append(f"| {name} | {backend} | {dtype} | {quantity} | {s.row()} |")
    return "\n".join(lines)
