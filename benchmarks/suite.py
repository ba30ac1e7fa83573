"""The benchmark suite: generated torch ops of the catalog against native torch, eager
composites and torch.compile, on CPU (Note [How bench measures] in symact/bench.py).

    python benchmarks/suite.py [--activations swish,gelu,...] [--sizes 1e2,...] [--dtypes ...]
                               [--repeat N] [--alloc user,hugepages] [--no-compile]
                               [--no-memory] [--format table|markdown|json]
    python benchmarks/suite.py --from-json run.json --format markdown

It measures the committed generated/ folder, with the formulas of definitions/ as the
composites; ``symact bench FILE`` measures a definition file of one's own the same way.
Progress goes to stderr when it is a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from symact.bench import catalog_cases
from symact.cli import _reported, bench_click_options, bench_options, bench_output

ROOT = Path(__file__).resolve().parents[1]
#: Activations with a native torch built-in (swish's row with beta = 1 is F.silu's).
DEFAULT = "swish,gelu,mish,softplus,elu,selu"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--activations", default=DEFAULT, show_default=True, help="Comma-separated names from definitions/.")
@bench_click_options
@click.option("--from-json", "saved", type=click.File(encoding="utf-8"),
              help="Measure nothing: show a run saved with --format json in the chosen format.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_reported
def suite(
    activations: str, sizes: str, dtypes: str, repeat: int, alloc: str, compile_: bool, memory: bool, fmt: str,
    saved, quiet: bool,
) -> None:
    """Time the catalog's generated torch ops, forward, backward and both.

    \b
    Example:
      python benchmarks/suite.py --sizes 1e4,1e7 --dtypes float32 --format markdown
    """
    if saved is not None:
        bench_output(json.load(saved), fmt)
        return
    options = bench_options(sizes, dtypes, repeat, alloc, compile_, memory, quiet)
    names = [n.strip() for n in activations.split(",") if n.strip()]
    options.extra["activations"] = names
    bench_output(_run(names, options), fmt)


def _run(names, options):
    from symact.bench import run

    return run(catalog_cases(names, ROOT / "definitions", ROOT / "generated"), options)


if __name__ == "__main__":
    suite()
