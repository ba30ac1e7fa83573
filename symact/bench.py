"""``symact bench``: generated torch ops against native torch, the eager composite and
``torch.compile``, side by side (Note [How bench measures]).

The parent process (this module, imported by the CLI) builds a plan: for each activation
the generated ``torch_ops.py`` to load, its parameters at their init values, the native
built-in where its name matches a known one, and the composite (the definition's SymPy
expression printed as torch operations). Each allocation mode runs the plan in its own
child process, since ``THP_MEM_ALLOC_ENABLE`` must be set before torch is imported; the
memory is measured in one more child. The parent never imports torch.

Note [How bench measures]
    Time: per activation row, dtype, size and pass (forward, backward, forward + backward)
    every variant is timed once per round, in turn, in one process, and the copy bound with
    them; N rounds after two warm-up calls of each (which also compile). Best of N and the
    median of N are reported; every ratio divides two times from the same rounds of the
    same process. Each round times them in its own shuffled order (fixed random orders), so
    none is always the first after a pause or always follows the same one. A sample below
    20000 elements times a batch of calls and divides, so a sample is not a single timer
    tick. The forward runs with autograd recording, as in
    training; the backward is ``torch.autograd.grad(y, inputs, g)`` after an untimed
    forward.

    Copy bound: a pass reads and writes at least 2 (forward), 3 (backward) or 5 (both)
    arrays of x's size; copying half those bytes from one preallocated buffer into another
    moves as many bytes. No elementwise pass over memory can be faster, except where the
    arrays fit in cache.

    The allocation modes run in separate processes, one per mode and dtype, alternating
    (user float32, hugepages float32, user float64, ...), so that a change in the load of a
    shared machine does not fall on one mode only.

    Allocation: NumPy asks the kernel for transparent huge pages for arrays of at least
    4 MiB (so the generated op's outputs, made by the Numba kernels, get them); torch's CPU
    allocator uses 4 KB pages unless ``THP_MEM_ALLOC_ENABLE=1`` is set before torch is
    imported, and faulting in a fresh 40 MB output 4 KB at a time costs some 18 ms more
    than on huge pages (measured for the README). Mode "user" leaves torch's default (what
    a user sees); mode "hugepages" sets the variable, so both sides allocate alike.

    Memory: resident set size (``/proc/self/status``), in a child process where glibc's
    malloc maps every block of 64 KiB or more on its own (``MALLOC_MMAP_THRESHOLD_``) and
    NumPy does not ask for huge pages: a freed array goes back to the system at once, so the
    resident size follows the live arrays page by page. Before each measurement the peak
    (VmHWM) is reset by writing 5 to ``/proc/self/clear_refs`` (Linux); "kept" is the growth
    from before the forward to after it, while the output and whatever autograd saved for
    backward are alive; "peak" is the highest growth during forward + backward, outputs and
    gradients included. x and g exist before; the measurement runs after the warm-up, at the
    largest size selected, if that has at least 1e5 elements. tracemalloc would see none of it (torch allocates in C++).
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SymactError
from .testing import load_module

__all__ = [
    "DTYPES", "SIZES", "PASSES", "MODES", "NATIVE", "Case", "Options", "parse_sizes", "parse_dtypes",
    "parse_modes", "cases_for", "catalog_cases", "run", "as_table", "as_markdown", "as_json", "bench_files",
]

SCHEMA = "symact-bench/1"
#: Sizes (elements) and dtypes measured unless chosen otherwise.
SIZES = (100, 10_000, 100_000, 1_000_000, 10_000_000)
DTYPES = ("float32", "float64", "bfloat16")
#: Every dtype --dtypes accepts.
DTYPE_CHOICES = DTYPES + ("float16",)
PASSES = ("forward", "backward", "forward+backward")
#: Allocation modes: the environment each child process starts with.
MODES = {
    "user": {},  # torch's default 4 KB pages: what a user sees
    "hugepages": {"THP_MEM_ALLOC_ENABLE": "1"},  # torch's outputs on huge pages too, as NumPy's
}
VARIANTS = ("generated", "native", "composite", "compiled")
#: Arrays of x's size that each pass reads or writes at least.
ARRAYS_MOVED = {"forward": 2, "backward": 3, "forward+backward": 5}
MAX_SIZE = 100_000_000
#: Memory is measured at the largest size if it has at least this many elements.
MEMORY_FROM = 100_000
#: Below this many elements a sample times a batch of calls.
BATCH_BELOW = 20_000


@dataclass(frozen=True)
class Native:
    """A torch built-in computing the same function: ``code`` is an expression in x, torch
    and F, with ``{param}`` replaced by the parameter's value (or, in ``tensors``, by the
    parameter tensor's name, which then also gets its gradient)."""

    code: str
    params: tuple[str, ...] = ()
    requires: tuple[tuple[str, float], ...] = ()  # parameter values the built-in assumes
    tensors: bool = False


#: Native torch built-ins by activation name.
NATIVE = {
    "silu": Native("F.silu(x)"),
    "swish": Native("F.silu(x)", ("beta",), (("beta", 1.0),)),
    "gelu": Native("F.gelu(x)"),
    "gelu_tanh": Native("F.gelu(x, approximate='tanh')"),
    "mish": Native("F.mish(x)"),
    "softplus": Native("F.softplus(x, beta={beta})", ("beta",)),
    "elu": Native("F.elu(x, alpha={alpha})", ("alpha",)),
    "selu": Native("F.selu(x)"),
    "celu": Native("F.celu(x, alpha={alpha})", ("alpha",)),
    "leaky_relu": Native("F.leaky_relu(x, {slope})", ("slope",)),
    "prelu": Native("F.prelu(x, a.reshape(1))", ("a",), tensors=True),
    "hard_sigmoid": Native("F.hardsigmoid(x)"),
    "hard_swish": Native("F.hardswish(x)"),
    "softsign": Native("F.softsign(x)"),
    "relu": Native("F.relu(x)"),
    "tanh": Native("torch.tanh(x)"),
    "sigmoid": Native("torch.sigmoid(x)"),
}


@dataclass(frozen=True)
class Case:
    """One row: an activation with its parameters constant (no gradient) or trainable."""

    label: str  # "swish" or "swish (beta trainable)"
    name: str  # the activation: the generated function's name
    module: str  # path of the generated torch_ops.py
    params: tuple[tuple[str, float], ...]  # name, init value, in signature order
    trainable: tuple[str, ...]  # the parameters with requires_grad
    native: str | None  # the built-in's code with the parameters filled in, or None
    composite: str | None  # source of ``def composite(x, *params)``, or None
    domain: tuple[float, float]  # x drawn uniformly from here
    note: str = ""  # why a variant is missing


@dataclass
class Options:
    sizes: Sequence[int] = SIZES
    dtypes: Sequence[str] = DTYPES
    repeat: int = 7
    modes: Sequence[str] = tuple(MODES)
    compile: bool = True  # time torch.compile(composite) (it compiles for seconds each)
    memory: bool = True
    progress: Callable[[str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the JSON as given


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse_sizes(text: str) -> list[int]:
    """'1e2,1e4' -> [100, 10000]; a usage error names the bad entry."""
    sizes = []
    for part in (p.strip() for p in text.split(",")):
        value = _number(part)
        if not (math.isfinite(value) and value == int(value) and 1 <= value <= MAX_SIZE):
            raise SymactError(f"--sizes: {part!r} is not a whole number of elements from 1 to 1e8")
        sizes.append(int(value))
    return sorted(set(sizes))


def _choices(text: str, allowed: Sequence[str], option: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    for c in chosen:
        if c not in allowed:
            raise SymactError(f"{option}: {c!r} is not one of {', '.join(allowed)}")
    if not chosen:
        raise SymactError(f"{option}: choose at least one of {', '.join(allowed)}")
    return list(dict.fromkeys(chosen))


def parse_dtypes(text: str) -> list[str]:
    return _choices(text, DTYPE_CHOICES, "--dtypes")


def parse_modes(text: str) -> list[str]:
    return _choices(text, tuple(MODES), "--alloc")


def _composite_source(act: Any) -> tuple[str | None, str]:
    """``def composite(x, <params>)`` returning the definition's formula in torch ops, as
    written (no stable rewrite): what a user would write without symact."""
    import sympy as sp

    from .emit.torch import _HELPER_SOURCE, TorchPrinter
    from .errors import UnsupportedFunctionError

    if all(sp.simplify(sp.diff(act.expr, s)) == 0 for s in act.expr.free_symbols):
        # piecewise constant: autograd records no graph for it, so it has no backward to time
        return None, "no composite: f is piecewise constant, so autograd has no backward for it"
    printer = TorchPrinter()
    try:
        body = printer.doprint(act.expr)
    except UnsupportedFunctionError as e:
        return None, f"no composite: {e}"
    except Exception as e:  # the printer raises ValueError and others for unsupported nodes
        return None, f"no composite: the torch printer cannot print it ({type(e).__name__})"
    helpers = "".join(_HELPER_SOURCE[h] for h in sorted(printer.helpers))
    args = ", ".join(["x", *(p.name for p in act.params)])
    return f"{helpers}\ndef composite({args}):\n    return {body}\n", ""


def _native_code(act: Any, constant: bool) -> str | None:
    native = NATIVE.get(act.name)
    if native is None or tuple(sorted(native.params)) != tuple(sorted(p.name for p in act.params)):
        return None
    values = {p.name: float(p.init) for p in act.params}
    if any(values[name] != value for name, value in native.requires):
        return None
    if not constant and not native.tensors:
        return None  # the built-in takes the parameter as a number: no gradient for it
    return native.code if native.tensors else native.code.format(**{k: repr(v) for k, v in values.items()})


def cases_for(act: Any, module: Path) -> list[Case]:
    """The rows of one activation: parameters constant; and, if it has trainable ones,
    those trainable (their gradients computed too)."""
    composite, note = _composite_source(act)
    if act.surrogate and composite:
        note = "its backward is a surrogate gradient; the composite's and the built-in's are the true derivative"
    params = tuple((p.name, float(p.init)) for p in act.params)
    trainable = tuple(p.name for p in act.trainable_params)
    rows = [Case(act.name, act.name, str(module), params, (), _native_code(act, True), composite, act.domain, note)]
    if trainable:
        label = f"{act.name} ({', '.join(trainable)} trainable)"
        rows.append(Case(label, act.name, str(module), params, trainable, _native_code(act, False), composite, act.domain, note))
    return rows


def catalog_cases(names: Sequence[str], definitions: Path, generated: Path) -> list[Case]:
    """Rows for activations of a definitions folder whose modules are already generated
    (the benchmark suite measures the committed ``generated/``)."""
    from .spec import load_definitions

    found = {}
    for path in sorted(definitions.glob("*.py")):
        for act in load_definitions(path, display=str(path)):
            found[act.name] = act
    cases: list[Case] = []
    for name in names:
        if name not in found:
            raise SymactError(f"--activations: no activation {name!r} in {definitions} (there: {', '.join(sorted(found))})")
        module = generated / name / "torch_ops.py"
        if not module.exists():
            raise SymactError(f"{module}: not generated (run symact generate {definitions}/...)")
        cases += cases_for(found[name], module)
    return cases


# ---------------------------------------------------------------------------- the parent


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("THP_MEM_ALLOC_ENABLE",)}
    root = str(Path(__file__).resolve().parents[1])  # this symact, in the child too
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH", "")])])
    env.update(extra)
    return env


def _run_child(task: dict[str, Any], env_extra: dict[str, str], say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="symact-bench-") as tmp:
        spec, out = Path(tmp) / "task.json", Path(tmp) / "result.json"
        spec.write_text(json.dumps(task), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from symact.bench import child_main; child_main()", str(spec), str(out)],
            env=_child_env(env_extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        tail: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith(_PROGRESS):
                say(line[len(_PROGRESS):])
            elif line.strip():
                tail = [*tail[-20:], line]
        code = proc.wait()
        if code != 0 or not out.exists():
            last = next((t for t in reversed(tail) if t.strip()), f"exit status {code}")
            raise SymactError(f"the measuring process failed ({' '.join(last.split())[:300]})")
        return json.loads(out.read_text(encoding="utf-8"))


def run(cases: Sequence[Case], options: Options) -> dict[str, Any]:
    """Measure ``cases``: one child process per allocation mode, one for memory; the
    result as the JSON document of ``--format json``."""
    if not cases:
        raise SymactError("nothing to measure")
    say = options.progress or (lambda message: None)
    task = {
        "cases": [c.__dict__ for c in cases],
        "sizes": list(options.sizes),
        "dtypes": list(options.dtypes),
        "repeat": options.repeat,
        "compile": options.compile,
    }
    started = time.time()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "config": {
            "sizes": list(options.sizes),
            "dtypes": list(options.dtypes),
            "repeat": options.repeat,
            "modes": list(options.modes),
            "passes": list(PASSES),
            "variants": list(VARIANTS),
            "compile": options.compile,
            **options.extra,
        },
        "cases": [
            {"label": c.label, "activation": c.name, "params": dict(c.params), "trainable": list(c.trainable),
             "native": c.native, "composite": c.composite, "note": c.note}
            for c in cases
        ],
        "modes": {},
        "rows": [],
        "memory": None,
    }
    for dtype in options.dtypes:  # the modes alternate, so a change in the machine's load hits both
        for mode in options.modes:
            say(f"allocation mode {mode}, {dtype}: starting a measuring process")
            got = _run_child({**task, "kind": "time", "mode": mode, "dtypes": [dtype]}, MODES[mode], say)
            result["environment"] = got["environment"]
            entry = result["modes"].setdefault(mode, {**got["mode"], "load_averages": []})
            entry["load_averages"].append(got["environment"]["load_average"])
            result["rows"] += got["rows"]
    if options.memory and max(options.sizes) < MEMORY_FROM:
        result["memory"] = {
            "available": False,
            "reason": f"the largest size is below {_size(MEMORY_FROM)} elements; the resident set grows by 4 KB pages",
        }
    elif options.memory:
        say("memory: starting a measuring process")
        memory_env = {"MALLOC_MMAP_THRESHOLD_": "65536", "NUMPY_MADVISE_HUGEPAGE": "0"}
        got = _run_child({**task, "kind": "memory", "mode": "user", "sizes": [max(options.sizes)]}, memory_env, say)
        result["memory"] = got["memory"]
        result.setdefault("environment", got["environment"])
    result["seconds"] = round(time.time() - started, 1)
    return result


def bench_files(paths: Sequence[Path], options: Options, budget: float | None = None) -> dict[str, Any]:
    """``symact bench FILE...``: generate each file's activations into a temporary folder
    (the numba and torch backends; nothing written beside the files) and measure them."""
    from .budget import DEFAULT_SECONDS
    from .generate import plan, write

    say = options.progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="symact-bench-") as tmp:
        out = Path(tmp) / "generated"
        files = plan(list(paths), out, ("numba", "torch"), say, budget=budget or DEFAULT_SECONDS)
        write(files)
        from .spec import load_definitions

        cases: list[Case] = []
        for path in paths:
            for act in load_definitions(path, display=str(path)):
                cases += cases_for(act, out / act.name / "torch_ops.py")
        return run(cases, options)


# ---------------------------------------------------------------------------- the output


def _seconds(t: float | None) -> str:
    if t is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def _ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def _size(n: int) -> str:
    exponent = math.log10(n) if n > 0 else 0.0
    return f"1e{int(exponent)}" if exponent == int(exponent) else f"{n:,}"


def _header_lines(result: dict[str, Any], mode: str) -> list[str]:
    env = result["environment"]
    loads = [v for v in result["modes"][mode].get("load_averages", [env.get("load_average")]) if v is not None]
    load = f"{min(loads):.1f}" if loads and min(loads) == max(loads) else f"{min(loads, default=0):.1f}–{max(loads, default=0):.1f}"
    return [
        f"torch {env['torch']}, NumPy {env['numpy']}, Numba {env['numba']}; {env['cpus']} CPUs "
        f"({env['torch_threads']} torch threads, {env['numba_threads']} Numba threads), {env['machine']}"
        + (f"; load average {load} as its processes started" if loads else ""),
        f"best of {result['config']['repeat']} interleaved rounds, median in brackets; per call; "
        f"ratios: generated time over the other's, best against best, from the same rounds (below 1: generated is faster)",
        f"allocation: {mode}: {result['modes'][mode]['description']}",
    ]


COLUMNS = ("activation", "dtype", "size", "pass", "generated", "native", "composite", "compiled", "copy bound",
           "/native", "/composite", "/compiled", "/copy")


def _cells(row: dict[str, Any]) -> list[str]:
    t = row["times"]

    def cell(v: str) -> str:
        if v not in t:
            return "—"
        return f"{_seconds(t[v]['best'])} ({_seconds(t[v]['median'])})"

    return [
        row["label"], row["dtype"], _size(row["size"]), row["pass"],
        *(cell(v) for v in VARIANTS), cell("copy"),
        *(_ratio(row["ratios"].get(v)) for v in ("native", "composite", "compiled", "copy")),
    ]


def _memory_cells(m: dict[str, Any]) -> list[str]:
    def cell(key: str) -> str:
        value = m.get(key)
        if value is None:
            return "—"
        return f"{value / 2**20:.1f} MiB ({value / m['x_bytes']:.2f}× x)"

    return [m["label"], m["dtype"], _size(m["size"]), m["variant"], cell("kept"), cell("peak")]


MEMORY_COLUMNS = ("activation", "dtype", "size", "variant", "kept after forward", "peak in forward+backward")


def _memory_lines(result: dict[str, Any]) -> tuple[str, list[list[str]]]:
    memory = result.get("memory")
    if memory is None:
        return "", []
    if not memory.get("available"):
        return f"memory: not measured ({memory.get('reason')})", []
    caption = (
        "memory: growth of the resident set over x and g, allocation mode user (Note [How bench measures] "
        "in symact/bench.py)"
    )
    return caption, [_memory_cells(m) for m in memory["rows"]]


def _fixed(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:{'<' if i < 4 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header), *(fmt.format(*r) for r in rows)]


def _notes(result: dict[str, Any]) -> list[str]:
    return [f"{c['label']}: {c['note']}" for c in result["cases"] if c.get("note")]


def as_table(result: dict[str, Any]) -> str:
    lines: list[str] = []
    for mode in result["config"]["modes"]:
        lines += _header_lines(result, mode)
        lines += _fixed(COLUMNS, [_cells(r) for r in result["rows"] if r["mode"] == mode])
        lines.append("")
    caption, rows = _memory_lines(result)
    if caption:
        lines.append(caption)
        lines += _fixed(MEMORY_COLUMNS, rows) if rows else []
    lines += _notes(result)
    return "\n".join(lines).rstrip() + "\n"


def _md(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(r) for r in rows)]


def as_markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    for mode in result["config"]["modes"]:
        lines += [f"{h}  " for h in _header_lines(result, mode)]
        lines.append("")
        lines += _md(COLUMNS, [_cells(r) for r in result["rows"] if r["mode"] == mode])
        lines.append("")
    caption, rows = _memory_lines(result)
    if caption:
        lines += [caption, ""]
        if rows:
            lines += [*_md(MEMORY_COLUMNS, rows), ""]
    lines += [f"- {n}" for n in _notes(result)]
    return "\n".join(lines).rstrip() + "\n"


def as_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- the child

_PROGRESS = "symact-bench-progress: "


def _say(message: str) -> None:
    print(_PROGRESS + message, file=sys.stderr, flush=True)


def _load(path: str, name: str) -> Any:
    return load_module(Path(path), f"symact_generated_{name}_torch_ops")


def _environment(torch: Any) -> dict[str, Any]:
    import numba
    import numpy

    try:
        load: float | None = os.getloadavg()[0]
    except OSError:
        load = None
    try:  # "always [madvise] never": with never, the two allocation modes are the same
        thp: str | None = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text(encoding="ascii").strip()
    except OSError:
        thp = None
    return {
        "transparent_hugepages": thp,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "system": platform.system(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "load_average": load,
    }


@dataclass
class _Variant:
    fn: Callable[..., Any]


def _variants(case: dict[str, Any], torch: Any, compile_: bool) -> dict[str, _Variant]:
    F = torch.nn.functional
    module = _load(case["module"], case["name"])
    variants = {"generated": _Variant(getattr(module, case["name"]))}
    names = [p[0] for p in case["params"]]
    if case["native"]:
        code = f"lambda x, {', '.join(names)}: {case['native']}" if names else f"lambda x: {case['native']}"
        variants["native"] = _Variant(eval(code, {"torch": torch, "F": F}))  # noqa: S307 - our own table
    if case["composite"]:
        namespace: dict[str, Any] = {"torch": torch}
        exec(case["composite"], namespace)  # noqa: S102 - printed by symact from the definition
        variants["composite"] = _Variant(namespace["composite"])
        if compile_:
            variants["compiled"] = _Variant(torch.compile(namespace["composite"], dynamic=True))
    return variants


def _inputs(case: dict[str, Any], torch: Any, dtype: Any, n: int) -> tuple[Any, Any, list[Any], list[Any]]:
    import numpy as np

    rng = np.random.default_rng(0)  # the same inputs in every process
    lo, hi = case["domain"]
    x = torch.from_numpy(rng.uniform(lo, hi, n)).to(dtype).requires_grad_(True)
    g = torch.from_numpy(rng.uniform(-1.0, 1.0, n)).to(dtype)
    params = [torch.tensor(v, dtype=dtype, requires_grad=name in case["trainable"]) for name, v in case["params"]]
    inputs = [x, *(p for p in params if p.requires_grad)]
    return x, g, params, inputs


def _timers(torch: Any, variant: _Variant, x: Any, g: Any, params: list[Any], inputs: list[Any], k: int) -> dict[str, Callable[[], float]]:
    fn, grad = variant.fn, torch.autograd.grad
    clock = time.perf_counter

    def forward() -> float:
        start = clock()
        for _ in range(k):
            fn(x, *params)
        return (clock() - start) / k

    def backward() -> float:
        ys = [fn(x, *params) for _ in range(k)]
        start = clock()
        for y in ys:
            grad(y, inputs, g)
        elapsed = clock() - start
        del ys
        return elapsed / k

    def both() -> float:
        start = clock()
        for _ in range(k):
            grad(fn(x, *params), inputs, g)
        return (clock() - start) / k

    return {"forward": forward, "backward": backward, "forward+backward": both}


def _copy_timers(torch: Any, n: int, itemsize: int, k: int) -> dict[str, Callable[[], float]]:
    most = ARRAYS_MOVED["forward+backward"] * n * itemsize // 2 + 1
    src = torch.ones(most, dtype=torch.uint8)
    dst = torch.empty(most, dtype=torch.uint8)
    dst.copy_(src)  # touch every page before timing
    clock = time.perf_counter

    def timer(arrays: int) -> Callable[[], float]:
        count = arrays * n * itemsize // 2
        a, b = dst[:count], src[:count]

        def once() -> float:
            start = clock()
            for _ in range(k):
                a.copy_(b)
            return (clock() - start) / k

        return once

    return {p: timer(ARRAYS_MOVED[p]) for p in PASSES}


def _stats(samples: list[float]) -> dict[str, Any]:
    return {"best": min(samples), "median": statistics.median(samples), "samples": samples}


def _time(task: dict[str, Any], torch: Any) -> dict[str, Any]:
    mode = task["mode"]
    rows = []
    all_variants = [(case, _variants(case, torch, task["compile"])) for case in task["cases"]]
    for dtype_name in task["dtypes"]:
        dtype = getattr(torch, dtype_name)
        itemsize = torch.empty((), dtype=dtype).element_size()
        for n in task["sizes"]:
            k = max(1, math.ceil(BATCH_BELOW / n)) if n < BATCH_BELOW else 1
            _say(f"[{mode}] {dtype_name} {_size(n)}: warming up (torch.compile compiles here)")
            timers: dict[tuple[str, str, str], Callable[[], float]] = {}
            for p, fn in _copy_timers(torch, n, itemsize, k).items():
                timers["", "copy", p] = fn
            for case, variants in all_variants:
                x, g, params, inputs = _inputs(case, torch, dtype, n)
                for v, variant in variants.items():
                    for p, fn in _timers(torch, variant, x, g, params, inputs, k).items():
                        timers[case["label"], v, p] = fn
            for fn in timers.values():
                fn()
                fn()
            samples: dict[tuple[str, str, str], list[float]] = {key: [] for key in timers}
            order = list(timers)
            for r in range(task["repeat"]):
                _say(f"[{mode}] {dtype_name} {_size(n)}: round {r + 1} of {task['repeat']}")
                random.Random(r).shuffle(order)  # no variant always first after a pause, or always after another
                for key in order:
                    samples[key].append(timers[key]())
            for case, variants in all_variants:
                for p in PASSES:
                    times = {v: _stats(samples[case["label"], v, p]) for v in variants}
                    times["copy"] = _stats(samples["", "copy", p])
                    gen = times["generated"]
                    rows.append({
                        "mode": mode, "label": case["label"], "activation": case["name"], "dtype": dtype_name,
                        "size": n, "pass": p, "batch": k, "times": times,
                        "ratios": {v: gen["best"] / t["best"] for v, t in times.items() if v != "generated"},
                        "median_ratios": {v: gen["median"] / t["median"] for v, t in times.items() if v != "generated"},
                    })
            timers.clear()
    description = (
        "THP_MEM_ALLOC_ENABLE=1: torch's CPU allocator on transparent huge pages, as NumPy's arrays of 4 MiB "
        "and more (allocation made neutral)"
        if os.environ.get("THP_MEM_ALLOC_ENABLE") == "1"
        else "torch's default allocator (4 KB pages), as a user sees it; NumPy's arrays of 4 MiB and more, which "
        "the generated op returns, on huge pages"
    )
    return {"mode": {"description": description, "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE")}, "rows": rows}


def _status(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field_name} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _memory(task: dict[str, Any], torch: Any) -> dict[str, Any]:
    import gc

    try:
        _reset_peak()
        _status("VmHWM")
    except OSError as e:
        return {"available": False, "reason": f"needs Linux's /proc/self/clear_refs and VmHWM ({e.strerror or e})"}
    rows = []
    n = task["sizes"][0]
    for case in task["cases"]:
        variants = _variants(case, torch, task["compile"])
        for dtype_name in task["dtypes"]:
            _say(f"[memory] {case['label']} {dtype_name} {_size(n)}")
            dtype = getattr(torch, dtype_name)
            x, g, params, inputs = _inputs(case, torch, dtype, n)
            for v, variant in variants.items():
                fn = variant.fn
                for _ in range(2):  # warm-up: compiles, starts thread pools
                    torch.autograd.grad(fn(x, *params), inputs, g)
                gc.collect()
                base = _status("VmRSS")
                _reset_peak()
                y = fn(x, *params)
                kept = _status("VmRSS") - base
                grads = torch.autograd.grad(y, inputs, g)
                peak = _status("VmHWM") - base
                del y, grads
                rows.append({
                    "label": case["label"], "activation": case["name"], "dtype": dtype_name, "size": n,
                    "variant": v, "x_bytes": n * x.element_size(), "kept": kept, "peak": peak,
                })
    return {"available": True, "method": "resident set growth, /proc/self/status VmRSS and VmHWM", "rows": rows}


def child_main() -> None:
    """Entry of a measuring process: ``task.json result.json`` on the command line."""
    spec_path, out_path = sys.argv[1], sys.argv[2]
    task = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    import torch

    dynamo = getattr(torch, "_dynamo", None)
    if dynamo is not None:  # one compiled function per case and dtype: room for all of them
        for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit", "accumulated_recompile_limit"):
            if hasattr(dynamo.config, name):
                setattr(dynamo.config, name, max(getattr(dynamo.config, name), 256))
    result: dict[str, Any] = {"environment": _environment(torch), "mode": task["mode"]}
    if task["kind"] == "memory":
        result["memory"] = _memory(task, torch)
    else:
        result.update(_time(task, torch))
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")
