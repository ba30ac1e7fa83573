"""``symact list``: a table of the activations in a folder of definitions.

One row per activation: its name, its parameters with their initial values (and which
are fixed), the range of f at init and a summary of the audit's
findings. The range and the findings come from :func:`symact.audit.audit`; without the
audit the table is instant and those columns are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .audit import SEVERITY, ActivationReport, audit
from .budget import Budget, BudgetExceeded
from .errors import SymactError
from .spec import Activation, Param, load_definitions

__all__ = ["Row", "definition_files", "rows", "table"]


@dataclass(frozen=True)
class Row:
    """One activation of the table, or one file that did not load."""

    name: str  # the activation's name ("" for a file that did not load)
    file: str  # the definition file, as the user named it
    params: str  # "sigma=0.5, k=2 (fixed)": each parameter at init; "-" for none
    range: str  # f's range at init from the audit, "" without the audit
    findings: str  # "clean", "2 warnings, 1 info (kink, saturation)", or the load error
    errors: int  # error-level findings (or 1 for a file that did not load)


def definition_files(paths: Iterable[Path]) -> list[Path]:
    """The ``.py`` files of each folder (sorted, not recursive) and each file as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
            if not found:
                raise SymactError(f"{path}: no definition files (*.py) in this folder")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise SymactError(f"{path}: no such file or folder")
    return files


def _param_text(p: Param) -> str:
    return f"{p.name}={p.init:g}" + ("" if p.trainable else " (fixed)")


def _summary(report: ActivationReport) -> str:
    if not report.findings:
        return "clean"
    counts = [(s, [f for f in report.findings if f.severity == s]) for s in SEVERITY]
    parts = [f"{len(fs)} {s}{'s' if len(fs) != 1 else ''}" for s, fs in counts if fs]
    codes = list(dict.fromkeys(f.code for f in report.findings))
    return f"{', '.join(parts)} ({', '.join(codes)})"


def rows(
    files: Sequence[Path],
    with_audit: bool = True,
    budget: float = 3.0,
    progress: Callable[[str], None] = lambda message: None,
) -> list[Row]:
    """One row per activation in ``files``; a file that does not load is one row with its error."""
    loaded: list[tuple[Path, Activation]] = []
    out: list[Row] = []
    for path in files:
        try:
            loaded += [(path, act) for act in load_definitions(path, display=str(path))]
        except SymactError as e:
            out.append(Row("", str(path), "", "", f"does not load: {' '.join(str(e).split())}", 1))
    for i, (path, act) in enumerate(loaded, 1):
        params = ", ".join(_param_text(p) for p in act.params) or "-"
        if not with_audit:
            out.append(Row(act.name, str(path), params, "", "", 0))
            continue
        progress(f"auditing {act.name} ({i}/{len(loaded)}) ...")
        try:
            with Budget(20 * budget).guard():  # as `symact audit` limits one activation
                report = audit(act, budget=budget)
        except BudgetExceeded as e:
            out.append(Row(act.name, str(path), params, "", f"audit stopped: {e}", 1))
            continue
        shown = report.range["text"] if report.range else "undecided"
        out.append(Row(act.name, str(path), params, shown, _summary(report), len(report.errors)))
    return out


def table(found: Sequence[Row], with_audit: bool = True) -> str:
    """The rows as an aligned plain-text table (a failed file's row spans the line)."""
    header = ["name", "params (init)", "range", "findings"] if with_audit else ["name", "params (init)", "file"]
    body = [
        [r.name, r.params, r.range, r.findings] if with_audit else [r.name, r.params, r.file]
        for r in found
        if r.name
    ]
    widths = [max(len(row[k]) for row in [header, *body]) for k in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines += [line(row) for row in body]
    lines += [f"{r.file}: {r.findings}" for r in found if not r.name]
    return "\n".join(lines)
