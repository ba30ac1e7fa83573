"""The ``symact`` command line: a click group; errors are one line, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import SymactError

F = TypeVar("F", bound=Callable[..., Any])


class SymactClickError(click.ClickException):
    """Shows a :class:`SymactError` as its one line (``file:line: message``), exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"symact: {self.format_message()}", err=True)


def _reported(fn: F) -> F:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SymactError as e:
            raise SymactClickError(str(e)) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symact")
def main() -> None:
    """Activation functions as SymPy expressions, turned into trustworthy code."""


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
    default="numba",
    show_default=True,
    help="Comma-separated backends to emit.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def generate(files: tuple[Path, ...], out_dir: Path, backend: str, check: bool, quiet: bool) -> None:
    """Generate kernels, golden data and golden tests for each definition FILE."""
    from .generate import plan, stale, write

    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    planned = plan(list(files), out_dir, _backends(backend), progress)
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
    help="Seconds each symbolic question (a limit, a solve) may take; past it, the audit says what it could not decide.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def audit(files: tuple[Path, ...], fmt: str, strict: bool, budget: float, quiet: bool) -> None:
    """Audit each activation in each definition FILE: singularities, asymptotes, range,
    continuity, dead and vanishing gradients, float32 overflow, user derivatives."""
    from .audit import audit as audit_one
    from .report import as_json, as_markdown, as_text
    from .spec import load_definitions

    activations = [act for path in files for act in load_definitions(path, display=str(path))]
    reports = []
    for act in activations:
        if not quiet:
            click.echo(f"auditing {act.name} ...", err=True)
        reports.append(audit_one(act, budget=budget))
    if fmt == "json":
        click.echo(as_json(reports), nl=False)
    elif fmt == "markdown":
        click.echo(as_markdown(reports))
    else:
        click.echo(as_text(reports, colour=sys.stdout.isatty()))
    if strict and any(r.errors for r in reports):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
