"""The ``symact`` command line: a click group; errors are one line, never a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .budget import DEFAULT_SECONDS, Budget, BudgetExceeded
from .errors import SymactError

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SymactClickError(click.ClickException):
    """Shows a :class:`SymactError` as its one line (``file:line: message``), exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"symact: {self.format_message()}", err=True)


class SymactRefusal(SymactClickError):
    """A refusal rather than unusable input (generated code that would fail its own
    tests): exit code 1."""

    exit_code = 1


def _reported(fn: F) -> F:
    """Every error as one line: ours as they are, anything else as an internal error that
    names the command and its files (set SYMACT_TRACEBACK=1 to see the traceback)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SymactError as e:
            shown = SymactRefusal if e.exit_code == 1 else SymactClickError
            raise shown(_one_line(str(e))) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:
            if os.environ.get("SYMACT_TRACEBACK"):
                raise
            files = ", ".join(str(f) for f in kwargs.get("files", ()))
            raise SymactClickError(
                f"{files + ': ' if files else ''}internal error in `symact {fn.__name__.rstrip('_')}` "
                f"({type(e).__name__}: {_one_line(str(e))[:200]}); set SYMACT_TRACEBACK=1 for "
                f"details and please report it"
            ) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symact")
def main() -> None:
    """Activation functions as SymPy expressions, turned into trustworthy code.

    \b
    Example:
      symact generate definitions/bump.py && symact audit definitions/bump.py
    """


def _backends(value: str) -> list[str]:
    return [b.strip() for b in value.split(",") if b.strip()]


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    default="generated",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that receives one sub-folder per activation.",
)
@click.option(
    "--backend",
    "backend",
    default="numba,torch,tf",
    show_default=True,
    help="Comma-separated backends to emit: numba, torch (needs numba), tf (or tensorflow).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option(
    "--budget",
    default=DEFAULT_SECONDS,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds one activation may take; past it, generation stops with the phase that ran over.",
)
@click.option(
    "--accept-inaccurate",
    is_flag=True,
    help="Write an activation whose generated code misses the accuracy bounds at some golden point, "
    "recording the limitation in its docstrings and golden tests (without it: refused, exit 1).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def generate(
    files: tuple[Path, ...], out_dir: Path, backend: str, check: bool, budget: float, accept_inaccurate: bool, quiet: bool
) -> None:
    """Generate kernels, golden data and golden tests for each definition FILE.

    \b
    Example:
      symact generate definitions/bump.py          # writes generated/bump/
      symact generate --check definitions/*.py     # exit 1 if generated/ is stale
    """
    from .generate import plan, stale, write

    def progress(message: str) -> None:
        if not quiet and sys.stderr.isatty():  # progress is for a person at a terminal
            click.echo(message, err=True)

    planned = plan(list(files), out_dir, _backends(backend), progress, budget=budget, accept_inaccurate=accept_inaccurate)
    if check:
        outdated = stale(planned)
        for path in outdated:
            click.echo(f"would change: {path}")
        if outdated:
            sys.exit(1)
        progress(f"up to date: {len(planned)} files")
        return
    changed = write(planned)
    for path in changed:
        click.echo(f"wrote {path}")
    progress(f"{len(changed)} of {len(planned)} files changed")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for tools (the documented contract), markdown for a PR comment.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any finding is an error.")
@click.option(
    "--budget",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds each symbolic question (a limit, a solve) may take; past it, the audit says what it "
    "could not decide. One activation's whole audit may take 20 times this.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def audit(files: tuple[Path, ...], fmt: str, strict: bool, budget: float, quiet: bool) -> None:
    """Audit each activation in each definition FILE: singularities, asymptotes, range,
    continuity, dead and vanishing gradients, float32 overflow, user derivatives.

    \b
    Example:
      symact audit definitions/bump.py
      symact audit --format json --strict definitions/*.py
    """
    from .audit import audit as audit_one
    from .report import as_json, as_markdown, as_text
    from .spec import load_definitions

    activations = [act for path in files for act in load_definitions(path, display=str(path))]
    reports = []
    for act in activations:
        if not quiet and sys.stderr.isatty():  # progress is for a person at a terminal
            click.echo(f"auditing {act.name} ...", err=True)
        try:
            with Budget(20 * budget).guard():
                reports.append(audit_one(act, budget=budget))
        except BudgetExceeded as e:
            raise act.error(str(e)) from None
    if fmt == "json":
        click.echo(as_json(reports), nl=False)
    elif fmt == "markdown":
        click.echo(as_markdown(reports))
    else:
        click.echo(as_text(reports, colour=sys.stdout.isatty()))
    if strict and any(r.errors for r in reports):
        sys.exit(1)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--generated",
    "generated_dir",
    default="generated",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the generated code to measure (one sub-folder per activation).",
)
@click.option("--reduced", is_flag=True, help="A small sweep (seconds) instead of the full one (minutes).")
@click.option("--builtins/--no-builtins", default=True, show_default=True, help="Also measure PyTorch's and TensorFlow's own kernels.")
@click.option(
    "--fuzz",
    type=click.IntRange(min=1),
    default=None,
    help="Instead of FILES: run N random valid definitions through generate (in memory) and "
    "report how many meet the bounds, how many are refused and why, and the times.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random definitions (--fuzz).")
@click.option(
    "--budget",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="Seconds of work per random definition (--fuzz).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def accuracy(
    files: tuple[Path, ...],
    generated_dir: Path,
    reduced: bool,
    builtins: bool,
    fuzz: int | None,
    seed: int,
    budget: float,
    quiet: bool,
) -> None:
    """Measure the generated kernels of each activation in each FILE against 50-digit
    references: max and p99 of ULPs / max(1, condition number), per dtype and quantity.
    With --fuzz N: how generate fares on N random definitions (exit 1 if one crashed).

    \b
    Example:
      symact accuracy --reduced definitions/swish.py
      symact accuracy --fuzz 300 --seed 1
    """
    if fuzz is not None:
        _fuzz(fuzz, seed, budget, quiet)
        return
    if not files:
        raise click.UsageError("give definition FILES, or --fuzz N")
    from .accuracy import (
        measure_kernels,
        measure_tf_builtin,
        measure_tf_formulas,
        measure_torch_builtin,
        measure_torch_formulas,
        table,
    )
    from .derive import derive
    from .errors import SymactError
    from .numeric import MAX_BOUND, P99_BOUND
    from .spec import load_definitions

    rows = {}
    for act in (a for path in files for a in load_definitions(path, display=str(path))):
        folder = generated_dir / act.name
        if not (folder / "kernels.py").exists():
            raise SymactError(f"{folder}: no generated kernels.py; run `symact generate` first")
        if not quiet and sys.stderr.isatty():  # progress is for a person at a terminal
            click.echo(f"measuring {act.name} ...", err=True)
        derivation = derive(act)
        rows[f"{act.name}:symact numba"] = measure_kernels(derivation, folder, reduced=reduced)
        formulas = measure_torch_formulas(derivation, folder, reduced=reduced)
        if formulas is not None:
            rows[f"{act.name}:symact torch ops"] = formulas
        native = measure_torch_builtin(derivation, reduced=reduced) if builtins else None
        if native is not None:
            rows[f"{act.name}:torch built-in"] = native
        tf_formulas = measure_tf_formulas(derivation, folder, reduced=reduced)
        if tf_formulas is not None:
            rows[f"{act.name}:symact tf"] = tf_formulas
        tf_native = measure_tf_builtin(derivation, reduced=reduced) if builtins else None
        if tf_native is not None:
            rows[f"{act.name}:tf built-in"] = tf_native
    click.echo(table(rows))
    worst = [
        (label, key, s) for label, stats in rows.items() if "symact" in label for key, s in stats.items()
        if s.max > MAX_BOUND or s.p99 > P99_BOUND or s.nonfinite
    ]
    for label, (dtype, quantity), s in worst:
        click.echo(f"over the bound ({MAX_BOUND:g} max, {P99_BOUND:g} p99): {label} {dtype} {quantity}: {s.row()}", err=True)
    if worst:
        sys.exit(1)


def _fuzz(count: int, seed: int, budget: float, quiet: bool) -> None:
    """``symact accuracy --fuzz``: the corpus run and its summary on stdout."""
    from .corpus import run, summary

    def show(o: Any) -> None:
        _progress(quiet)(f"[{o.name}] {o.result} in {o.seconds:.1f} s: {o.expr[:100]}")

    outcomes = run(count, seed, budget, show)
    click.echo("\n".join(summary(outcomes)))
    if any(o.result == "crash" for o in outcomes):
        sys.exit(1)


def _progress(quiet: bool) -> Callable[[str], None]:
    """Progress lines for a person at a terminal; nothing when stderr is piped or with -q."""

    def show(message: str) -> None:
        if not quiet and sys.stderr.isatty():
            click.echo(message, err=True)

    return show


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The picture: .png or .svg. A FILE with several activations gives one picture each, "
    "named OUT_<activation>.png.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Draw one curve per value of this parameter (the others stay at init); repeat for "
    "several parameters (every combination is drawn, at most 8 curves).",
)
@click.option(
    "--range",
    "x_range",
    nargs=2,
    type=float,
    metavar="LO HI",
    default=None,
    help="The x interval drawn [default: the activation's domain].",
)
@click.option("--name", default=None, help="Draw only this activation of FILE.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def plot(file: Path, out: Path, params: tuple[str, ...], x_range: tuple[float, float] | None, name: str | None, quiet: bool) -> None:
    """Plot f, df/dx and every df/dparam of each activation in FILE, with the audit's
    singularities, branch boundaries, saturation regions and asymptotes marked.

    \b
    Example:
      symact plot definitions/bump.py --param sigma=0.5,1,2 --range -3 3 -o bump.png
    """
    from .plot import parse_param_values, plot_activation
    from .spec import load_definitions

    activations = load_definitions(file, display=str(file))
    if name is not None:
        chosen = [a for a in activations if a.name == name]
        if not chosen:
            names = ", ".join(a.name for a in activations)
            raise SymactError(f"{file}: no activation named {name!r} (it defines: {names})")
        activations = chosen
    show = _progress(quiet)
    for act in activations:
        target = out if len(activations) == 1 else out.with_name(f"{out.stem}_{act.name}{out.suffix}")
        values = parse_param_values(act, params)
        show(f"auditing and drawing {act.name} ...")
        try:
            with Budget(20 * 3.0).guard():  # the audit's own limit per activation
                plot_activation(act, target, values, x_range)
        except BudgetExceeded as e:
            raise act.error(str(e)) from None
        click.echo(f"wrote {target}")


def bench_click_options(fn: F) -> F:
    """The measuring options ``symact bench`` shares with ``benchmarks/suite.py``."""
    options = [
        click.option("--sizes", default="1e2,1e4,1e5,1e6,1e7", show_default=True,
                     help="Comma-separated numbers of elements."),
        click.option("--dtypes", default="float32,float64,bfloat16", show_default=True,
                     help="Comma-separated: float32, float64, bfloat16, float16."),
        click.option("--repeat", default=7, show_default=True, type=click.IntRange(min=1, max=1000),
                     help="Rounds; each times every variant once. Best and median are reported."),
        click.option("--alloc", default="user,hugepages", show_default=True,
                     help="Allocation modes, each in its own process: user (torch's default 4 KB pages), "
                     "hugepages (THP_MEM_ALLOC_ENABLE=1, as NumPy's arrays)."),
        click.option("--compile/--no-compile", "compile_", default=True, show_default=True,
                     help="Also time torch.compile(composite) (compiling takes seconds per dtype)."),
        click.option("--memory/--no-memory", default=True, show_default=True,
                     help="Also measure the memory kept for backward and the peak, at the largest size."),
        click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table",
                     show_default=True, help="table for a terminal, markdown for the README, json for tools."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def bench_options(sizes: str, dtypes: str, repeat: int, alloc: str, compile_: bool, memory: bool, quiet: bool) -> Any:
    """The parsed measuring options; one line on bad input, before anything runs."""
    import importlib.util

    from .bench import Options, parse_dtypes, parse_modes, parse_sizes

    options = Options(
        sizes=parse_sizes(sizes), dtypes=parse_dtypes(dtypes), repeat=repeat, modes=parse_modes(alloc),
        compile=compile_, memory=memory, progress=_progress(quiet),
    )
    for module in ("torch", "numba"):
        if importlib.util.find_spec(module) is None:
            raise SymactError(f"symact bench needs {module}: pip install 'symact[torch]'")
    return options


def bench_output(result: dict[str, Any], fmt: str) -> None:
    from .bench import as_json, as_markdown, as_table

    text = {"json": as_json, "markdown": as_markdown, "table": as_table}[fmt](result)
    click.echo(text, nl=False)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@bench_click_options
@click.option(
    "--budget",
    default=DEFAULT_SECONDS,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds the generation of one activation may take.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def bench(
    files: tuple[Path, ...], sizes: str, dtypes: str, repeat: int, alloc: str, compile_: bool, memory: bool,
    fmt: str, budget: float, quiet: bool,
) -> None:
    """Time each activation of each definition FILE on CPU: the generated torch op against
    the native torch built-in (where its name matches one), the formula in eager torch ops
    and torch.compile of that formula; forward, backward and both, with the copy bound
    and the memory kept for backward. Generates into a temporary folder; writes nothing
    else.

    \b
    Example:
      symact bench definitions/swish.py --sizes 1e4,1e6 --dtypes float32 --repeat 5
    """
    from .bench import bench_files

    options = bench_options(sizes, dtypes, repeat, alloc, compile_, memory, quiet)
    bench_output(bench_files(list(files), options, budget=budget), fmt)


@main.command("list")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--audit/--no-audit",
    "with_audit",
    default=True,
    show_default=True,
    help="Audit each activation for the range and findings columns (seconds each); "
    "--no-audit lists names and parameters at once.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def list_(paths: tuple[Path, ...], with_audit: bool, quiet: bool) -> None:
    """A table of the activations defined in each folder (its *.py files) or file of PATHS:
    name, parameters at init, range of f and a summary of the audit's findings.

    \b
    Example:
      symact list definitions/
    """
    from .listing import definition_files, rows, table

    found = rows(definition_files(paths), with_audit=with_audit, progress=_progress(quiet))
    click.echo(table(found, with_audit=with_audit))
    if any(not r.name for r in found):
        sys.exit(2)



if __name__ == "__main__":  # pragma: no cover
    main()
