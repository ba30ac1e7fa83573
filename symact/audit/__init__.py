"""``symact audit``: what is wrong with an activation, with evidence, before training.

For each activation: its formulas; singularities of f and of every derivative, and
whether each lies inside the branch that is active there (with the parameter condition);
asymptotes and range; continuity and differentiability at branch boundaries; dead and
vanishing gradients; unused parameters; float32 overflow of the naive formula and whether
the generated code avoids it; and the verdict on every user-supplied derivative.

Every symbolic step runs under a time budget. SymPy answers first (``solve``,
``solveset``, ``limit``); mpmath and a float64 scan cross-check, and each finding says
which method found it. What the budget did not allow is reported as undecided.

The package: ``context`` builds what the checks share, once per activation (the branches
of each quantity, the parameter settings, the time limit); one module per check
(``gradients``, ``singularities``, ``boundaries``, ``asymptotes``, ``value_range``,
``float32``, ``derivatives``), each returning its findings and undecided items;
``params`` and ``formats`` write parameter conditions and values as text; ``findings``
holds the report's types. :func:`audit` runs the checks in a fixed order (it is the order
of the findings and undecided items in the report) and passes on what a check needs from
an earlier one: the singular points, and the ends at ±∞ for the range.
"""

from __future__ import annotations

import time

import sympy as sp

from ..derive import Derivation, derive
from ..spec import Activation
from . import asymptotes, boundaries, derivatives, float32, gradients, singularities, value_range
from .context import AuditContext
from .findings import CODES, SEVERITY, ActivationReport, Finding
from .formats import expr_text
from .gradients import SATURATION

__all__ = [
    "Finding", "ActivationReport", "audit", "causes", "SEVERITY", "CODES", "STEP_BUDGET", "SATURATION", "CAUSE_CODES",
]

#: Seconds a single SymPy question (a limit, a solve) may take before the audit moves on.
STEP_BUDGET = 3.0


def audit(act: Activation, derivation: Derivation | None = None, budget: float = STEP_BUDGET) -> ActivationReport:
    """Audit one activation."""
    start = time.perf_counter()
    derivation = derivation or derive(act)
    ctx = AuditContext.of(act, derivation, budget)
    report = _header(act, derivation)
    dead = gradients.check(ctx)
    singular = singularities.check(ctx)
    kinks = boundaries.check(ctx)
    ends = asymptotes.check(ctx, singular.points)
    range_ = value_range.check(ctx, ends.ends, singular.points)
    saturation = gradients.check_saturation(ctx)
    overflow = float32.check(ctx)
    user = derivatives.check(ctx)
    for outcome in (dead, singular, kinks, ends, range_, saturation, overflow, user):
        report.merge(outcome)
    report.singularities = singular.points
    report.asymptotes = ends.entries
    report.range = range_.range
    report.user_derivatives = user.verdicts
    report.undecided = list(dict.fromkeys(report.undecided + ctx.limit.gave_up))
    order = {s: i for i, s in enumerate(SEVERITY)}
    report.findings.sort(key=lambda f: order[f.severity])
    report.seconds = time.perf_counter() - start
    return report


#: The findings that explain a formula over the accuracy bounds where it is: a singularity
#: in the active branch, or a float32 overflow the generated form does not avoid.
CAUSE_CODES = ("singularity", "float32-overflow")


def causes(act: Activation, derivation: Derivation, budget: float = STEP_BUDGET) -> list[Finding]:
    """The findings of the two checks that can explain an inaccurate formula (the codes in
    CAUSE_CODES), without the rest of the audit: ``generate`` names one when it refuses a
    formula, and the other checks (limits at ±∞, dead gradients) can take seconds each for
    nothing it would print."""
    ctx = AuditContext.of(act, derivation, budget)
    findings: list[Finding] = []
    for outcome in (singularities.check(ctx), float32.check(ctx)):
        findings.extend(outcome.findings)
    return findings


def _header(act: Activation, derivation: Derivation) -> ActivationReport:
    """The report before any check: the params and the formulas."""
    return ActivationReport(
        name=act.name,
        params=[
            {
                "name": p.name,
                "init": p.init,
                "positive": p.positive,
                "trainable": p.trainable,
                "bounds": list(p.bounds) if p.bounds else None,
                "doc": p.doc,
            }
            for p in act.params
        ],
        formulas={
            q.name: {
                "text": expr_text(q.exact),
                "unicode": sp.pretty(q.exact, use_unicode=True, wrap_line=False),
                "latex": sp.latex(q.exact),
                "kind": q.kind,
            }
            for q in derivation.quantities
        },
    )
