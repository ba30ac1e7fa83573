"""What the audit reports: finding codes and severities (a contract: tools read them from
the JSON), one finding, what one check contributes, and the report of one activation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Finding codes and their severities (a contract: tools read them from the JSON).
CODES = {
    "singularity": "error",
    "discontinuity": "warning",
    "kink": "info",
    "dead-gradient": "error",
    "unused-parameter": "error",
    "derivative-mismatch": "error",
    "surrogate": "info",
    "float32-overflow": "warning",
    "saturation": "info",
    "bounded-range": "info",
    "singularity-outside-bounds": "info",
}
SEVERITY = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    code: str  # one of CODES
    severity: str  # CODES[code]
    message: str  # one sentence with the evidence
    where: dict[str, Any] | None = None  # the point, interval or quantity it concerns
    method: str = ""  # how it was found: "sympy", "mpmath", "float64 scan", ...


def finding(code: str, message: str, where: dict[str, Any] | None = None, method: str = "", severity: str = "") -> Finding:
    """A finding whose severity is the code's (CODES) unless one below it is given."""
    if severity and SEVERITY.index(severity) < SEVERITY.index(CODES[code]):
        raise ValueError(f"a {code} finding is never more severe than {CODES[code]}")
    return Finding(code, severity or CODES[code], message, where, method)


@dataclass
class Outcome:
    """What one check adds to the report: its findings and what it could not decide, in
    the order it met them."""

    findings: list[Finding] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def add(
        self, code: str, message: str, where: dict[str, Any] | None = None, method: str = "", severity: str = ""
    ) -> None:
        self.findings.append(finding(code, message, where, method, severity))


@dataclass
class ActivationReport:
    name: str
    params: list[dict[str, Any]]
    formulas: dict[str, dict[str, str]]
    singularities: list[dict[str, Any]] = field(default_factory=list)
    asymptotes: list[dict[str, Any]] = field(default_factory=list)
    range: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    user_derivatives: dict[str, str] = field(default_factory=dict)  # d_<var> -> verdict
    undecided: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(
        self, code: str, message: str, where: dict[str, Any] | None = None, method: str = "", severity: str = ""
    ) -> None:
        """Record a finding; its severity is the code's (CODES) unless one below it is given."""
        self.findings.append(finding(code, message, where, method, severity))

    def merge(self, outcome: Outcome) -> None:
        """Append one check's findings and undecided items."""
        self.findings += outcome.findings
        self.undecided += outcome.undecided

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data
