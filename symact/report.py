"""Audit reports as text (for a terminal), JSON (the contract) and Markdown (for a PR)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .audit import ActivationReport

__all__ = ["as_json", "as_text", "as_markdown"]

_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}
#: ANSI SGR codes of the colours above (the report does not depend on the CLI's toolkit).
_ANSI = {"red": "31", "yellow": "33", "cyan": "36"}


def as_json(reports: Sequence[ActivationReport]) -> str:
    """``{"activations": [...]}`` as the documented audit contract specifies."""
    return json.dumps({"activations": [r.as_json() for r in reports]}, indent=2, ensure_ascii=False) + "\n"


def _formula_lines(report: ActivationReport) -> list[str]:
    args = ", ".join(["x", *(p["name"] for p in report.params)])
    lines = []
    for name, formula in report.formulas.items():
        label = f"f({args})" if name == "f" else f"df/d{name[2:]}"
        note = " (surrogate)" if formula["kind"] == "surrogate" else ""
        lines.append(f"{label}{note} = {formula['text']}")
    return lines


def _asymptote_text(a: dict[str, Any]) -> str:
    if a["kind"] == "vertical":
        return f"x = {a['x']} (vertical, active {a['active']})"
    if a["kind"] == "none":
        return f"f -> {a['y']} as x -> {a['x']} (no asymptote)"
    return f"y = {a['y']} as x -> {a['x']} ({a['kind']})"


def _singular_point_text(s: dict[str, Any]) -> str:
    """One considered singular point and what the audit concluded about it."""
    q = s["quantity"]
    if s["kind"] == "numeric":
        at = f" at {s['active']}" if s["active"] else ""
        return f"{q}: unbounded or undefined near x = {s['x']}{at} ({s['method']})"
    branch = f" (branch {s['branch']})" if s["branch"] not in ("", "True") else ""
    head = f"{q}: {s['kind']} at x = {s['x']}{branch}"
    behaviour = s["behaviour"]
    if behaviour == "unbounded":
        when = s["condition"] or ""
        edge = " as x approaches it from inside the branch" if s.get("edge") else ""
        return f"{head}: unbounded{edge}" + ("" if when in ("always", "") or when.startswith("at the edge") else f" {when}")
    if behaviour == "removable":
        return f"{head}: removable, {q} -> {s['limit']} there"
    if behaviour == "not evaluated":
        return f"{head}: not in its branch ({s['active']})"
    if s["condition"]:
        return f"{head}: bounded within the bounds; unbounded {s['condition']} without them"
    return f"{head}: bounded"


def as_text(reports: Sequence[ActivationReport], colour: bool = False) -> str:
    out: list[str] = []

    def style(text: str, fg: str | None = None, bold: bool = False) -> str:
        if not colour:
            return text
        codes = ([_ANSI[fg]] if fg else []) + (["1"] if bold else [])
        return f"\033[{';'.join(codes)}m{text}\033[0m" if codes else text

    for r in reports:
        counts = {s: sum(f.severity == s for f in r.findings) for s in _COLOURS}
        summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n) or "clean"
        out.append(style(f"{r.name}", bold=True) + f"  ({summary}; {r.seconds:.1f} s)")
        out += [f"  {line}" for line in _formula_lines(r)]
        if r.range:
            at = f" at {r.range['at']}" if r.range["at"] != "no parameters" else ""
            out.append(f"  range: {r.range['text']}{at}")
        if r.asymptotes:
            out.append("  asymptotes: " + "; ".join(_asymptote_text(a) for a in r.asymptotes))
        if r.singularities:
            out.append("  singular points considered:")
            out += [f"    {_singular_point_text(s)}" for s in r.singularities]
        for name, verdict in r.user_derivatives.items():
            out.append(f"  your derivative {name}: {verdict}")
        for f in r.findings:
            tag = style(f"{f.severity:<7}", fg=_COLOURS[f.severity], bold=f.severity == "error")
            out.append(f"  {tag} {f.code:<19} {f.message}  [{f.method}]")
        for item in r.undecided:
            out.append(f"  undecided: {item}")
        out.append("")
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(reports: Sequence[ActivationReport]) -> str:
    out: list[str] = ["# symact audit", ""]
    for r in reports:
        out += [f"## `{r.name}`", ""]
        out += ["| quantity | formula |", "|---|---|"]
        for name, formula in r.formulas.items():
            note = " (surrogate)" if formula["kind"] == "surrogate" else ""
            out.append(f"| `{name}`{note} | ${_md_cell(formula['latex'])}$ |")
        out.append("")
        if r.range:
            out.append(f"**Range:** `{r.range['text']}` ({r.range['at']})  ")
        if r.asymptotes:
            out.append("**Asymptotes:** " + "; ".join(f"`{_asymptote_text(a)}`" for a in r.asymptotes) + "  ")
        if r.singularities:
            out += ["", "**Singular points considered:**", ""]
            out += [f"- `{_md_cell(_singular_point_text(s))}`" for s in r.singularities]
        for name, verdict in r.user_derivatives.items():
            out.append(f"**Your derivative `{name}`:** {verdict}  ")
        out.append("")
        if r.findings:
            out += ["| severity | code | finding |", "|---|---|---|"]
            out += [f"| {f.severity} | `{f.code}` | {_md_cell(f.message)} |" for f in r.findings]
        else:
            out.append("No findings.")
        if r.undecided:
            out += ["", "Undecided: " + "; ".join(_md_cell(u) for u in r.undecided)]
        out.append("")
    return "\n".join(out)
