"""Branch-local evaluation for the tensor backends (torch, TensorFlow): one function that
computes quantities with the "double where" of Note [Branch-local evaluation].

The two backends differ only in how they spell ``where`` and ``isnan`` and in whether a
constant in a ``where`` needs the dtype of x; :class:`TensorOps` holds those spellings, and
the printer prints the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sympy as sp
from sympy.printing.codeprinter import CodePrinter
from sympy.printing.pycode import PythonCodePrinter

from ..derive import Derivation, Quantity
from ..functions import AtInfinity, Exp
from ..spec import Param, x
from .printer import (
    BranchGroup,
    TypedConstants,
    cse_branch,
    group_branches,
    indent,
    integer_power,
    print_or_fail,
)
from .saturation import ClampedForm, Thresholds

__all__ = ["TensorOps", "TensorPrinter", "branch_function", "constraint", "exps_multiplied", "gradient_safe"]


class TensorPrinter(TypedConstants, PythonCodePrinter):
    """Prints elementwise tensor expressions for a framework named by the subclass's tables;
    constants are Python floats (a float combined with a tensor takes the tensor's dtype).

    A subclass sets ``_kf`` (SymPy function name -> framework function), ``HELPERS``
    (functions printed as a call to a helper of the generated file) and ``NAMES`` (the
    framework's spelling of nan, inf, sqrt, rsqrt, pow and where).
    """

    HELPERS: ClassVar[dict[str, str]] = {}
    NAMES: ClassVar[dict[str, str]] = {}
    _kc: dict[str, str] = {}

    def __init__(self, settings: dict[str, Any] | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.helpers: set[str] = set()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every function PythonCodePrinter would print through ``math`` goes through the
        # table instead, so an unsupported one fails in strict mode rather than printing
        # ``math.gamma``.
        for name in {*PythonCodePrinter._kf, *cls._kf, *cls.HELPERS}:
            setattr(cls, f"_print_{name}", cls._print_Function)

    def const(self, value: float) -> str:
        value = float(value)
        if math.isnan(value):
            return self._module_format(self.NAMES["nan"])
        if math.isinf(value):
            return ("-" if value < 0 else "") + self._module_format(self.NAMES["inf"])
        return repr(value)

    def typed(self, constant: str) -> str:
        """A printed constant as a value argument of ``where``."""
        return constant

    def shared(self, expr: sp.Expr, paired: bool = False) -> sp.Expr:
        """The form in which to print a common subexpression (a value with several uses);
        ``expr`` itself unless a backend's compiler wants another form. ``paired``: the
        value is an exponential that a product multiplies by an exponential (itself
        included; :func:`exps_multiplied`)."""
        return expr

    def _print_NumberSymbol(self, expr: sp.Basic) -> str:
        return self.const(float(expr))

    _print_Pi = _print_NumberSymbol
    _print_Exp1 = _print_NumberSymbol
    _print_EulerGamma = _print_NumberSymbol
    _print_GoldenRatio = _print_NumberSymbol
    _print_Catalan = _print_NumberSymbol

    def _print_Infinity(self, expr: sp.Basic) -> str:
        return self.const(math.inf)

    def _print_NegativeInfinity(self, expr: sp.Basic) -> str:
        return self.const(-math.inf)

    def _print_NaN(self, expr: sp.Basic) -> str:
        return self.const(math.nan)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.base, expr.exp
        if expr.is_number:  # sqrt(2): fold_constants keeps rational powers exact
            return self.const(float(expr))
        b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Mul"] + 1)
        small = integer_power(b, int(exp), self.const(1)) if exp.is_Integer else None
        if small is not None:
            return small
        if exp == sp.S.Half:
            return f"{self._module_format(self.NAMES['sqrt'])}({self._print(base)})"
        if exp == -sp.S.Half:
            return f"{self._module_format(self.NAMES['rsqrt'])}({self._print(base)})"
        return f"{self._module_format(self.NAMES['pow'])}({self._print(base)}, {self._print(exp)})"

    def _print_Function(self, expr: sp.Function) -> str:
        name = type(expr).__name__
        args = ", ".join(self._print(a) for a in expr.args)
        if name in self.HELPERS:
            self.helpers.add(self.HELPERS[name])
            return f"{self.HELPERS[name]}({args})"
        if name in self.known_functions:
            return f"{self._module_format(self.known_functions[name])}({args})"
        return self._print_not_supported(expr)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        # Only inner Piecewise reach here (derive lifts definitions' Piecewise to the top;
        # sign_split adds inner ones whose pieces are finite for every real input, so a
        # plain where is enough). Top-level chains are emitted by branch_function with the
        # double where of Note [Branch-local evaluation].
        text = ""
        for e, c in reversed(expr.args):
            value = self.typed(self._print(e)) if e.is_Number else self._print(e)
            if c == sp.true:
                text = value
            else:
                text = text or self.typed(self.const(math.nan))
                text = f"{self._module_format(self.NAMES['where'])}({self._print(c)}, {value}, {text})"
        return text

    def _print_AtInfinity(self, expr: sp.Basic) -> str:
        # Note [Values at infinite inputs] in symact.derive: the branch of a limit at ±inf.
        u, sign = expr.args
        return f"({self._print(u)} == {self.const(math.inf if sign > 0 else -math.inf)})"

    def _print_And(self, expr: sp.Basic) -> str:
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr: sp.Basic) -> str:
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr: sp.Basic) -> str:
        return f"(~{self._print(expr.args[0])})"


# Note [Masks reused under XLA]
# XLA fuses a formula's elementwise operations into one loop, which then costs about one
# unit per operation (on CPU it is compute-bound, not memory-bound), so two cheap selects
# and comparisons that change nothing for any finite input are worth leaving out there:
# - the |u| of a shared sign split (Note [Branch-free sign splits]) selects with the
#   chain's mask of u >= 0, computed on x, instead of comparing the branch-local u again:
#   the two agree except at x = ±inf, where the branch-local input is the safe point, u is
#   0 and |u| is 0 either way, and the chain's value there is the limit, a constant;
# - the NaN guard, where(isnan(x), x, value), is left off a chain whose conditions are all
#   order comparisons or values at ±inf (False at NaN, so NaN reaches the last branch, run
#   on x itself: its branch-local input is x wherever no earlier condition holds) and
#   whose last branch gives NaN for NaN by its form (_propagates_nan).
# TensorFlow opts in (TensorOps.reuse_masks); the torch printer does not.


@dataclass(frozen=True)
class TensorOps:
    """How one tensor backend spells the operations of branch-local evaluation."""

    where: str  # elementwise select: "torch.where"
    isnan: str  # elementwise NaN test: "torch.isnan"
    typed: Callable[[str], str] = lambda constant: constant  # a printed constant as a where argument
    #: A tensor like x (shape, dtype, device) holding a printed constant, for a chain whose every
    #: value is a constant: torch.where of two Python floats gives the default dtype (float32)
    #: even for float64 x; None where ``typed`` already gives the dtype.
    full: Callable[[str], str] | None = None
    #: Note [Masks reused under XLA]: whether the |u| of a shared sign split selects with the
    #: chain's own mask of u >= 0 (computed on x), rather than comparing the branch-local u
    #: again; and whether the NaN guard is left off where NaN reaches the last branch and
    #: that branch's formula propagates it anyway (:func:`_propagates_nan`).
    reuse_masks: bool = False
    #: Note [Saturation clamp] in symact.emit.saturation: per quantity name, the sides whose
    #: value at ±inf is had by clamping x, with their thresholds (float32, float64); the
    #: clamp is printed as a call to the helper ``_saturated``. Empty: never.
    saturation: Mapping[str, Thresholds] = field(default_factory=dict)
    #: Note [One side of a sign split, clamped] in symact.emit.saturation: per quantity
    #: name, the one formula it is computed by on its clamped split variable. Empty: never.
    clamped: Mapping[str, ClampedForm] = field(default_factory=dict)


def gradient_safe(expr: sp.Expr) -> sp.Expr:
    """Note [Gradient-safe forms]: second order differentiates the printed formulas with the
    framework's own gradients, so a form whose value is fine can still have a NaN
    derivative. 1/cosh(u)**k is 0 for large |u|, but the framework takes
    -k*sinh(u)/cosh(u)**(k+1) as 0*inf = NaN there; sech(u)**k (printed as a stable helper)
    has the same value and a finite derivative.

    >>> gradient_safe(x / sp.cosh(x)**2)
    x*sech(x)**2
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Pow) and isinstance(e.base, sp.cosh) and e.exp.is_negative,
        lambda e: sp.sech(e.base.args[0]) ** (-e.exp),
    )


def _needs_nan_guard(branches: int, expr: sp.Expr) -> bool:
    """Whether NaN in x could fail to give NaN out: a chain of branches (comparisons with
    NaN are False, so NaN falls through to the last branch, which may ignore x), or a
    single formula that is free of x or is x itself (which would also alias the input)."""
    return branches > 1 or x not in expr.free_symbols or expr == x


#: Functions whose value is NaN at a NaN argument, as printed (the helpers included).
_NAN_IN_NAN_OUT = frozenset({
    "exp", "Exp", "expm1", "log", "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
    "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "Erfc", "Erfcx", "Softplus", "Sigmoid", "sech", "Abs", "ExpW",
})


def _propagates_nan(conditions: Sequence[sp.Basic], last: sp.Expr, source: sp.Symbol = x) -> bool:
    """Note [Masks reused under XLA]: whether a chain gives NaN for a NaN x without its NaN
    guard. So it does when every condition is an order comparison or a value at ±inf
    (False for NaN, so NaN reaches the last branch, on x itself) and the last branch is
    arithmetic of x through functions that give NaN for NaN: no constant, no rounding,
    nothing that could drop it. False when in doubt."""
    orders = (sp.GreaterThan, sp.StrictGreaterThan, sp.LessThan, sp.StrictLessThan, AtInfinity)
    if not all(isinstance(c, orders) or c == sp.true for c in conditions):
        return False
    return source in last.free_symbols and _nan_in_nan_out(last, source)


def _nan_in_nan_out(expr: sp.Basic, source: sp.Symbol = x) -> bool:
    """Whether every part of ``expr`` that depends on ``source`` (x, or x clamped) gives
    NaN for NaN, by its form."""
    if source not in expr.free_symbols:
        return True
    if isinstance(expr, sp.Symbol):
        return True
    if isinstance(expr, sp.Piecewise):
        # a where on order comparisons (False at NaN) takes the first piece whose
        # condition can hold at NaN, and gives NaN where none holds; so the where of a
        # shared sign split's |u| (u or -u) gives NaN, as does erfc's sign split
        for value, cond in expr.args:
            if _false_at_nan(cond, source):
                continue
            if source not in value.free_symbols or not _nan_in_nan_out(value, source):
                return False  # a piece that NaN can select, and that drops NaN
            if cond == sp.true:
                break
        return True
    if isinstance(expr, sp.Pow):
        return expr.exp.is_Number is True and _nan_in_nan_out(expr.base, source)  # pow(NaN, c) is NaN for c != 0
    if isinstance(expr, (sp.Add, sp.Mul)) or (
        isinstance(expr, sp.Function) and type(expr).__name__ in _NAN_IN_NAN_OUT
    ):
        return all(_nan_in_nan_out(a, source) for a in expr.args)
    return False


def _false_at_nan(cond: sp.Basic, source: sp.Symbol) -> bool:
    """Whether ``cond`` is an order comparison with a side that is NaN at a NaN ``source``."""
    orders = (sp.GreaterThan, sp.StrictGreaterThan, sp.LessThan, sp.StrictLessThan)
    return isinstance(cond, orders) and any(
        source in side.free_symbols and _nan_in_nan_out(side, source) for side in cond.args
    )


def _conditions(
    conditions: Sequence[sp.Basic], printer: CodePrinter, where: str, body: list[str], count: list[int]
) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """Emit the masks of one chain; return per branch its condition's name (None for True),
    its active mask and the mask of the inputs the chain reaches it with (None when always)."""
    names: list[str | None] = []
    actives: list[str | None] = []
    reached: list[str | None] = []
    earlier: str | None = None
    for b, cond in enumerate(conditions):
        reached.append(None if earlier is None else f"~{earlier}")
        if cond == sp.true:
            names.append(None)
            actives.append(None if earlier is None else f"~{earlier}")
            continue
        c = f"_c{count[0]}"
        count[0] += 1
        body.append(f"{c} = {print_or_fail(printer, cond, where)}")
        names.append(c)
        actives.append(c if earlier is None else f"{c} & ~{earlier}")
        if b < len(conditions) - 1:
            if earlier is not None:
                body.append(f"_e{c[2:]} = {earlier} | {c}")
                c = f"_e{c[2:]}"
            earlier = c
    return names, actives, reached


#: Functions that are finite, with finite derivatives, at every finite real argument.
_EVERYWHERE_FINITE = frozenset({"Abs", "Sigmoid", "sech", "Softplus", "tanh", "erf", "erfc", "Erfc", "atan", "sin", "cos"})


def _finite_at_finite_inputs(expr: sp.Expr, shared: sp.Expr) -> bool:
    """Whether ``expr``, with ``shared`` = e^(−|u|) (a value in [0, 1]), is finite with
    finite first derivatives at every finite x and parameter value the module admits, by
    its form: the shared exp, polynomials, the functions of :data:`_EVERYWHERE_FINITE`,
    log1p of a non-negative argument, and division only by a positive quantity. False
    when in doubt."""
    t = sp.Dummy("t", nonnegative=True)
    body = expr.xreplace({shared: t})
    for f in body.atoms(sp.Function):
        name = type(f).__name__
        if not f.free_symbols:
            continue
        if name == "log1p" and f.args[0].is_nonnegative:
            continue
        if name not in _EVERYWHERE_FINITE:
            return False
    for power in body.atoms(sp.Pow):
        if power.exp.is_Integer and power.exp > 0:
            continue
        if not power.base.is_positive:
            return False
    return True


def _sign_split(conditions: Sequence[sp.Basic]) -> tuple[int, int] | None:
    """The last two branches (b, b + 1) when they are a sign split (``u >= 0``, then the
    rest) and every branch before them is a value at x = ±inf."""
    if len(conditions) < 2 or conditions[-1] != sp.true:
        return None
    split = conditions[-2]
    if not isinstance(split, sp.GreaterThan) or split.args[1] != 0:
        return None
    if not all(isinstance(c, AtInfinity) for c in conditions[:-2]):
        return None
    return len(conditions) - 2, len(conditions) - 1


def _units(
    group: BranchGroup, values_only: bool, mask: str | None = None
) -> tuple[list[list[int]], list[tuple[sp.Expr, ...]]]:
    """The branches of a chain in units evaluated on one input, and each branch's formulas.

    Note [Branch-free sign splits] (as in the Numba kernels): the two sides of a sign split on u
    call e^(−u) and e^u; written as e^(−|u|) on both, they are the same exp, computed once
    when both sides are evaluated on one input. That is always right for values; for
    gradients (which second order differentiates) only when both sides are then finite at
    every finite input (:func:`_finite_at_finite_inputs`), so that neither needs a
    branch-local input of its own, and with |u| written as where(u >= 0, u, -u), so that
    its derivative at u = 0 is +1 like that of the selected side's e^(−u). Under XLA the shared exp is also shared with the forward
    pass, which computes the same expression.

    ``mask``: the printed name of the chain's mask of u >= 0, which the where of |u| then
    selects with (Note [Masks reused under XLA]).
    """
    exprs = list(group.exprs)
    units = [[b] for b in range(len(exprs))]
    pair = _sign_split(group.conditions)
    if pair is not None:
        b0, b1 = pair
        u = group.conditions[b0].args[0]
        # |u| for values; for gradients where(u >= 0, u, -u), whose derivative at u = 0 is
        # that of the side selected there (the framework's gradient of abs at 0 is 0).
        sign = group.conditions[b0] if mask is None else sp.Symbol(mask)
        magnitude = sp.Abs(u) if values_only else sp.Piecewise((u, sign), (-u, True))
        shared = Exp(-magnitude)
        side0 = tuple(e.xreplace({Exp(-u): shared}) for e in exprs[b0])
        side1 = tuple(e.xreplace({Exp(u): shared}) for e in exprs[b1])
        if values_only or all(_finite_at_finite_inputs(e, shared) for e in (*side0, *side1)):
            exprs[b0], exprs[b1] = side0, side1
            units = [*units[:b0], [b0, b1]]
    return units, exprs


def exps_multiplied(replacements: Sequence[tuple[sp.Symbol, sp.Expr]], reduced: Sequence[sp.Expr]) -> set[sp.Symbol]:
    """The common subexpressions that are an exponential and that some product multiplies
    by an exponential: by itself (a square, a reciprocal square) or by another one
    (Note [Products of exponentials under XLA] in symact.emit.tf)."""
    exps = {sym for sym, e in replacements if isinstance(e, (sp.exp, Exp))}
    if not exps:
        return set()
    paired: set[sp.Symbol] = set()
    for expr in [*(e for _, e in replacements), *reduced]:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, sp.Pow) and node.base in exps and node.exp.is_Integer and abs(node.exp) >= 2:
                paired.add(node.base)
            elif isinstance(node, sp.Mul):
                factors = [f.base if isinstance(f, sp.Pow) and f.exp.is_Integer else f for f in node.args]
                named = [f for f in factors if f in exps]
                if named and len([f for f in factors if f in exps or isinstance(f, (sp.exp, Exp))]) >= 2:
                    paired.update(named)
    return paired


def _saturated(
    group: BranchGroup, ops: TensorOps, printer: TensorPrinter, body: list[str], count: list[int]
) -> tuple[BranchGroup, list[int], sp.Symbol]:
    """Note [Saturation clamp] in symact.emit.saturation: ``group`` without its branches at
    ±inf that a clamp of x gives (where every quantity of the chain has that side's
    thresholds), the indices of the branches kept, and the input the kept ones run on: a
    new symbol for x clamped, whose line is emitted, or x when nothing is clamped."""
    bounds: dict[int, tuple[float, float]] = {}
    for cond in group.conditions:
        if not isinstance(cond, AtInfinity) or cond.args[0] != x:
            break
        sign = int(cond.args[1])
        found = [ops.saturation.get(name, {}).get(sign) for name in group.names]
        if all(t is not None for t in found):
            bounds[sign] = (max(t[0] for t in found if t), max(t[1] for t in found if t))
    if not bounds:
        return group, list(range(len(group.conditions))), x
    kept = [
        b for b, c in enumerate(group.conditions)
        if not (isinstance(c, AtInfinity) and c.args[0] == x and int(c.args[1]) in bounds)
    ]
    source = sp.Symbol(f"_xs{count[2]}", real=True)
    count[2] += 1

    def side(sign: int) -> str:
        if sign not in bounds:
            return "None"
        t32, t64 = bounds[sign]
        return f"({printer.const(sign * t32)}, {printer.const(sign * t64)})"

    printer.helpers.add("_saturated")
    body.append(f"{source} = _saturated(x, {side(-1)}, {side(1)})")

    def on_source(e: sp.Basic) -> sp.Basic:
        return e if isinstance(e, AtInfinity) else e.xreplace({x: source})

    reduced = BranchGroup(
        group.names,
        tuple(on_source(group.conditions[b]) for b in kept),
        tuple(tuple(on_source(e) for e in group.exprs[b]) for b in kept),
    )
    return reduced, kept, source


def branch_function(
    name: str,
    derivation: Derivation,
    quantities: Sequence[Quantity],
    printer: TensorPrinter,
    ops: TensorOps,
    single: bool = False,
    values_only: bool = False,
) -> str:
    """One function returning the given quantities (a tuple, or the value alone with
    ``single``), computed with tensor ops, branch-local.

    See Note [Branch-local evaluation] in symact.derive: branch b runs on
    ``where(active_b, x, safe_x)`` and the values are combined with ``where``, so an
    unselected branch never sees an input that could make it, or its gradient of any
    order, inf or NaN. Quantities sharing a chain share the masks and, where their safe
    points agree, the branch-local input and the common subexpressions.

    ``values_only``: for a function the framework never differentiates (the forward of a
    custom-gradient op), whose unselected branches may be inf or NaN as ``where`` drops
    them: every branch runs on x itself, which saves a select per branch.
    """
    where = f"activation {derivation.activation.name!r}"
    body: list[str] = []
    count = [0, 0, 0]  # conditions, branch-local inputs, clamped inputs
    guarded = False
    for whole in group_branches(quantities):
        if _clamped(whole, printer, ops, body, count, where):
            continue
        chain = len(whole.conditions)
        # Note [Saturation clamp]: the branches at ±inf that a clamp of x replaces are left
        # out, and the rest run on the clamped input (`source`), else on x
        group, kept, source = _saturated(whole, ops, printer, body, count)
        safe_points = {
            q.name: [q.branches[b].safe_x for b in kept] for q in quantities if q.name in group.names
        }
        conds, actives, reached = _conditions(group.conditions, printer, where, body, count)
        pair = _sign_split(group.conditions)
        units, exprs_of = _units(group, values_only, conds[pair[0]] if pair and ops.reuse_masks else None)
        values: dict[str, list[tuple[int, str]]] = {n: [] for n in group.names}
        constant: dict[str, list[bool]] = {n: [] for n in group.names}
        for unit in units:
            # a unit of two branches is a shared sign split: active where the chain reaches it
            active = None if values_only else reached[unit[0]] if len(unit) > 1 else actives[unit[0]]
            blocks: dict[float | None, list[tuple[int, int]]] = {}
            for k, qname in enumerate(group.names):
                for b in unit:
                    uses_x = source in exprs_of[b][k].free_symbols
                    safe = next((safe_points[qname][c] for c in unit if safe_points[qname][c] is not None), None)
                    blocks.setdefault(safe if uses_x else None, []).append((b, k))
            for safe, members in blocks.items():
                exprs = [gradient_safe(exprs_of[b][k]) for b, k in members]
                if active is not None and any(source in e.free_symbols for e in exprs):
                    if safe is None:
                        body.append("# no safe input was found for this branch: it runs on x as is")
                    else:
                        local = sp.Symbol(f"_x{count[1]}", real=True)
                        count[1] += 1
                        body.append(f"{local} = {ops.where}({active}, {source}, {printer.const(safe)})")
                        exprs = [e.xreplace({source: local}) for e in exprs]
                replacements, reduced = cse_branch(exprs)
                paired = exps_multiplied(replacements, reduced)
                for sym, e in replacements:
                    body.append(f"{sym} = {print_or_fail(printer, printer.shared(e, sym in paired), where)}")
                for (b, k), e in zip(members, reduced):
                    qname = group.names[k]
                    text = print_or_fail(printer, e, where)
                    if len(group.conditions) > 1 and not e.is_Number:
                        body.append(f"_{qname}_{b} = {text}")
                        text = f"_{qname}_{b}"
                    values[qname].append((b, ops.typed(text) if e.is_Number else text))
                    constant[qname].append(bool(e.is_Number))
        for k, qname in enumerate(group.names):
            parts = [text for _, text in sorted(values[qname])]
            body.append(f"_{qname} = {_selected(parts, conds, all(constant[qname]), printer, ops)}")
            if _needs_nan_guard(chain, whole.exprs[0][k]) and not (
                chain > 1 and ops.reuse_masks and _propagates_nan(group.conditions, exprs_of[-1][k], source)
            ):
                guarded = _nan_guard(qname, guarded, ops, body)
    return _function_text(name, derivation.activation.params, [q.name for q in quantities], single, body)


def _clamped(
    group: BranchGroup, printer: TensorPrinter, ops: TensorOps, body: list[str], count: list[int], where: str
) -> bool:
    """Note [One side of a sign split, clamped] in symact.emit.saturation: for a chain of
    one quantity that has a clamped form whose formula gives NaN for NaN, append to ``body``
    the clamp of u (the helper ``_saturated_product``) and the quantity as that formula of
    it, and return True; else False, appending nothing."""
    form = ops.clamped.get(group.names[0]) if len(group.names) == 1 else None
    source = sp.Symbol(f"_us{count[2]}", real=True)
    expr = None if form is None else gradient_safe(form.expr.xreplace({form.variable: source}))
    if form is None or expr is None or not _nan_in_nan_out(expr, source):
        return False
    count[2] += 1
    printer.helpers.add("_saturated_product")
    (lo32, lo64), (hi32, hi64) = form.lower, form.upper
    bounds = f"({printer.const(lo32)}, {printer.const(lo64)}), ({printer.const(hi32)}, {printer.const(hi64)})"
    factor = print_or_fail(printer, sp.simplify(form.u / x), where)
    body.append(f"{source} = _saturated_product(x, {factor}, {bounds})")
    replacements, (reduced,) = cse_branch([expr])
    paired = exps_multiplied(replacements, [reduced])
    for sym, e in replacements:
        body.append(f"{sym} = {print_or_fail(printer, printer.shared(e, sym in paired), where)}")
    body.append(f"_{group.names[0]} = {print_or_fail(printer, reduced, where)}")
    return True


def _nan_guard(qname: str, guarded: bool, ops: TensorOps, body: list[str]) -> bool:
    """Append to ``body`` the select that gives quantity ``qname`` NaN where x is NaN (and,
    unless ``guarded``, the mask first); True, the mask now being there."""
    if not guarded:
        body.append(f"_nan = {ops.isnan}(x)")
    body.append(f"_{qname} = {ops.where}(_nan, x, _{qname})")
    return True


def _function_text(name: str, params: Sequence[Param], outputs: list[str], single: bool, body: list[str]) -> str:
    """def name(x, *params): body, returning the outputs (a tuple, or the value alone with
    ``single``)."""
    names = [f"_{n}" for n in outputs]
    returned = names[0] if single else ", ".join(names) if len(names) > 1 else f"({names[0]},)"
    args = ", ".join(["x", *(p.name for p in params)])
    return "\n".join([f"def {name}({args}):", *indent(body), f"    return {returned}"])


def _selected(parts: list[str], conds: list[str | None], constant: bool, printer: CodePrinter, ops: TensorOps) -> str:
    """The value of a chain of branches: ``where(cond_0, part_0, where(cond_1, ...))``; the
    last branch's condition is None when it is the default (else NaN where none holds). A
    chain of constants is made full-size where the framework needs it (``ops.full``)."""
    text = parts[-1] if conds[-1] is None else ops.typed(printer.const(math.nan))
    if ops.full is not None and len(parts) > 1 and constant:
        text = ops.full(text)
    for b in reversed(range(len(parts))):
        if conds[b] is not None:
            text = f"{ops.where}({conds[b]}, {parts[b]}, {text})"
    return text


def constraint(p: Param, sigmoid: str, positive: str) -> tuple[str, list[str], str] | None:
    """(value from raw, lines of raw from value, description) of a trainable parameter's
    reparametrisation; None when it is unconstrained. ``sigmoid`` names the framework's
    sigmoid; ``positive`` is its expression of softplus(raw) + tiny.

    Note [Constrained parameters] (also in each generated class docstring): positivity and
    bounds hold during training because the module or layer stores an unconstrained
    ``<name>_raw`` and maps it into the range when it runs: ``lo + (hi - lo)*sigmoid(raw)``
    with bounds, ``softplus(raw) + tiny`` for a positive parameter without bounds. No
    projection step or clamp is needed, and no gradient vanishes at a clamp. An initial
    value outside the range, or not a finite number, is an error (never clamped); the
    generated file defines ``_finite``.
    """
    if p.bounds is not None:
        lo, hi = p.bounds
        width = hi - lo
        return (
            f"{lo!r} + {width!r} * {sigmoid}(raw)",
            [
                f'value = _finite(value, "{p.name}")',
                f"if not {lo!r} <= value <= {hi!r}:",
                f'    raise ValueError(f"{p.name} must lie in [{lo!r}, {hi!r}], got {{value}}")',
                "# The ends map to raw = -inf and +inf: start just inside them.",
                f"t = min(max((value - {lo!r}) / {width!r}, 1e-6), 1.0 - 1e-6)",
                "return math.log(t / (1.0 - t))",
            ],
            f"{p.name} = {lo!r} + {width!r}*sigmoid({p.name}_raw), in ({lo!r}, {hi!r})",
        )
    if p.positive:
        return (
            positive,
            [
                f'value = _finite(value, "{p.name}")',
                "if not value > 0:",
                f'    raise ValueError(f"{p.name} must be finite and > 0, got {{value}}")',
                "return value + math.log(-math.expm1(-value))",
            ],
            f"{p.name} = softplus({p.name}_raw) + tiny, > 0",
        )
    return None
