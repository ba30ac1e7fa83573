"""The Numba backend: ``kernels.py`` with fused forward and backward kernels.

Each activation gets one scalar function for f and one for its gradients per dtype
(float32 and float64 are printed separately so that every constant is typed and nothing
is silently upcast): the formulas, first in the file. The loops around them come after,
written once for both dtypes (kernels.py.tmpl and the parts below): a flat loop for
scalar parameters and a row loop for per-channel ones, run on the module's threads.
Parameter gradients are reduced in the same pass, as float64 partial sums per chunk of
elements or row.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from typing import Any, NamedTuple

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter
from sympy.printing.str import StrPrinter

from .. import elementary
from ..derive import Derivation
from ..errors import UnsupportedFunctionError
from ..functions import AtInfinity, Exp
from .printer import TypedConstants, cse_branch, group_branches, indent, integer_power, print_or_fail
from .templates import docstring_text, render

__all__ = ["NumbaPrinter", "render_kernel_calls", "render_kernels"]

DTYPES = {"f32": "float32", "f64": "float64"}

# Note [Inlined by LLVM]: every function the loops call is compiled with Numba's
# ``forceinline=True``: LLVM's always-inline attribute, so that after linking the loop and
# its callees are one function, which LLVM vectorizes as a whole. Numba's own
# ``inline="always"`` inlines at the level of Numba's IR instead, before type inference: the
# same machine code (the same bits, the same speed), but every inlined call copies the
# callee's IR, and nested calls copy it again, so a kernel with a few exps and log1ps took
# many times longer to compile (benchmarks/compile_time.py measures both; the README has
# the numbers). A function the loops call with neither would stay a call, and the loop
# scalar. The small helpers of _kernel_calls.py keep ``inline="always"``: that module is
# loaded by path under a name Numba cannot import, and a loop that calls a function of
# such a module is not cached (Note [Numba cache] there).
_JIT = '@numba.njit(forceinline=True, error_model="numpy")'

#: Functions printed as a call to a helper defined in the generated file.
HELPERS = {
    "Sigmoid": "_sigmoid",
    "Softplus": "_softplus",
}

#: NumPy ufuncs used where ``math`` would return an integer in Numba.
NUMPY_FUNCTIONS = {"floor": "np.floor", "ceiling": "np.ceil"}

_HELPER_SOURCE = {
    "_sigmoid": '''
@numba.njit(forceinline=True, error_model="numpy")
def _sigmoid_{sfx}(u):
    # Note [Stable sigmoid]: exp of a non-positive number only, so no overflow on either tail.
    e = {exp}(-abs(u))
    return ({one} / ({one} + e)) if u >= {zero} else (e / ({one} + e))
''',
    "_softplus": '''
@numba.njit(forceinline=True, error_model="numpy")
def _softplus_{sfx}(u):
    # log(1 + e^u) = max(u, 0) + log1p(e^-|u|): exact for large |u|, no overflow.
    return max(u, {zero}) + {log1p}({exp}(-abs(u)))
''',
}

#: Measured errors of the float32 helpers (tests/test_elementary.py checks them).
_ELEMENTARY_ERRORS = {
    "exp": "exp below 1 ULP",
    "cosh": "cosh 1.5",
    "erfc": "erfc 1",
    "log1p": "log1p 0.8",
    "expm1": "expm1 0.93",
    "tanh": "tanh 0.5",
    "log": "log 0.5",
    "sin": "sin 0.5",
    "cos": "cos 0.5",
}


def _comment(text: str) -> str:
    """``text`` as comment lines of at most 88 characters."""
    return "\n".join("# " + line for line in textwrap.wrap(text, 86))


def elementary_note(names: list[str]) -> str:
    """The note above the elementary helpers of one kernels.py, naming those it has."""
    shown = [n for n in _ELEMENTARY_ERRORS if n in names]
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    errors = ", ".join(_ELEMENTARY_ERRORS[n] for n in shown)
    wide = [n for n in shown if n in ("sin", "cos")]
    if wide:
        errors += f" ({' and '.join(wide)} {'compute' if len(wide) > 1 else 'computes'} in float64 and {'round' if len(wide) > 1 else 'rounds'} once)"
    text = (
        f"Note [Vectorizable elementary functions]: the {listed} below "
        f"{'are' if len(shown) > 1 else 'is'} plain arithmetic (range reduction, a polynomial, exponent bits"
        + ("; sin and cos reduce huge arguments with a table of 2/π, _RPT" if {"sin", "cos"} & set(shown) else "")
        + "), "
        "not libm calls, so that LLVM vectorizes the loops that call them. Errors of the float32 versions "
        f"against 50-digit references: {errors}; "
        '"_w" versions compute in float64 to float32 accuracy (for float32 quantities computed in float64); '
        "the float64 versions are below 1 ULP, as libm. _fma(a, b, c) is a*b + c rounded once "
        "(LLVM's fma intrinsic): the polynomial steps use it"
        + (", and so do the exact error terms of the sin and cos reductions" if {"sin", "cos"} & set(shown) else "")
        + "; no other arithmetic is fused."
    )
    return "\n".join("# " + line for line in textwrap.wrap(text, 88))

#: The elementary functions each helper above calls (symact.elementary).
_HELPER_NEEDS = {"_sigmoid": ("_exp",), "_softplus": ("_exp", "_log1p")}


#: Elementary functions whose float64 helper is as accurate as libm (below 1 ULP): float64
#: kernels call it too, so that their loops vectorize. All of them now (erfc and cosh since
#: their double-word versions: Note [float64 erfc], Note [float64 cosh] in symact.elementary;
#: sin and cos: Note [sin and cos]).
VECTOR64 = frozenset({"_exp", "_log1p", "_expm1", "_erfc", "_cosh", "_sin", "_cos"})


class NumbaPrinter(TypedConstants, PythonCodePrinter):
    """Prints scalar Numba code for one dtype, with every constant typed.

    ``vector``: print exp, cosh, erfc, log1p, expm1, sin and cos as the vectorizable helpers of
    symact.elementary rather than libm calls (the default for float32). float64
    kernels call the float64 helpers of the functions in :data:`VECTOR64` (all seven), which
    are below 1 ULP like libm's, and libm for any other: users of float64 ask for accuracy,
    so a helper less accurate than libm is not used there. The float32
    kernels that compute in float64 (Note [float32 computed in float64]) are printed
    with ``vector=True`` and the suffix ``w``: float64 arithmetic with the helpers that
    are accurate to float32 (cheaper than the float64 ones).
    """

    printmethod = "_numbacode"
    language = "numba"

    def __init__(
        self, dtype: str, settings: dict[str, Any] | None = None, vector: bool | None = None, fast: bool = False
    ):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.dtype = dtype
        self.vector = dtype == "float32" if vector is None else vector
        #: Print sin and cos as their fast helpers (elementary.FAST), which reduce by
        #: Cody–Waite alone: Note [Fast path for sin and cos] in the generated kernels.py.
        self.fast = fast
        #: Suffix of the functions printed with this printer, and of the elementary helpers
        #: they call: "f32", "f64", or "w" (float64 arithmetic to float32 accuracy).
        self.suffix = "w" if self.vector and dtype == "float64" else {v: k for k, v in DTYPES.items()}[dtype]
        self.helpers: set[str] = set()
        #: Elementary functions printed as calls to symact.elementary helpers.
        self.elementary: set[str] = set()

    def const(self, value: float) -> str:
        value = float(value)
        if value == -math.inf:  # negate the typed infinity: -np.inf would be a float64 value
            return f"-{self.const(math.inf)}"
        text = repr(value) if math.isfinite(value) else f"np.{'nan' if value != value else 'inf'}"
        if self.dtype == "float32":
            return f"np.float32({text})"
        return text

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.base, expr.exp
        b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Mul"] + 1)
        small = integer_power(b, int(exp), self.const(1)) if exp.is_Integer else None
        if small is not None:
            return small
        if exp == sp.S.Half:
            return f"{self._module_format('math.sqrt')}({self._print(base)})"
        if exp == -sp.S.Half:
            return f"({self.const(1)}/{self._module_format('math.sqrt')}({self._print(base)}))"
        if exp.is_number:
            return f"{b}**{self.const(float(exp))}"
        return f"{b}**{self.parenthesize(exp, sp.printing.precedence.PRECEDENCE['Pow'])}"

    def _print_Function(self, expr: sp.Function) -> str:
        name = type(expr).__name__
        if name in HELPERS:
            helper = HELPERS[name]
            self.helpers.add(helper)
            return f"{helper}_{self.suffix}({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Sigmoid(self, expr: sp.Function) -> str:
        return self._print_Function(expr)

    _print_Softplus = _print_Sigmoid

    def vectorizes(self, helper: str) -> bool:
        """Whether this printer calls the elementary ``helper`` rather than libm."""
        return self.vector or (self.dtype == "float64" and helper in VECTOR64)

    def _elementary(self, expr: sp.Function) -> str:
        helper = elementary.FUNCTIONS[type(expr).__name__]
        if not self.vectorizes(helper):
            return f"{self._module_format('math.' + helper[1:])}({self._print(expr.args[0])})"
        # Note [Vectorizable elementary functions]: plain arithmetic, so loops vectorize.
        if self.fast:
            helper = elementary.FAST.get(helper, helper)
        self.elementary.add(helper)
        return f"{helper}_{self.suffix}({self._print(expr.args[0])})"

    @property
    def exp_name(self) -> str:
        """How helpers written here call exp."""
        return "_exp_" + self.suffix if self.vectorizes("_exp") else "math.exp"

    @property
    def log1p_name(self) -> str:
        """How helpers written here call log1p."""
        return "_log1p_" + self.suffix if self.vectorizes("_log1p") else "math.log1p"

    _print_Erfc = _print_erfc = _print_Exp = _print_exp = _print_cosh = _elementary
    _print_log1p = _print_expm1 = _print_tanh = _print_log = _print_sin = _print_cos = _elementary

    def _print_Erfcx(self, expr: sp.Function) -> str:
        if self.suffix != "w":
            raise UnsupportedFunctionError("erfcx is printed for float32 computed in float64 only")
        self.elementary.add("_erfcx")
        return f"_erfcx_w({self._print(expr.args[0])})"

    def _print_sech(self, expr: sp.Function) -> str:
        return f"({self.const(1)}/{self._elementary(sp.cosh(expr.args[0], evaluate=False))})"

    def _print_floor(self, expr: sp.Function) -> str:
        return f"np.floor({self._print(expr.args[0])})"

    def _print_ceiling(self, expr: sp.Function) -> str:
        return f"np.ceil({self._print(expr.args[0])})"

    def _print_Abs(self, expr: sp.Function) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_sign(self, expr: sp.Function) -> str:
        # np.sign keeps float32 float32; SymPy's math.copysign form computes in float64.
        return f"np.sign({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        # Nested conditional expressions are lazy: see Note [Branch-local evaluation].
        text = "nan_value"
        for e, c in reversed(expr.args):
            if c == sp.true:
                text = self._print(e)
            else:
                text = f"(({self._print(e)}) if {self._print(c)} else ({text}))"
        return text.replace("nan_value", self.const(float("nan")))

    def _print_Infinity(self, expr: sp.Basic) -> str:
        return self.const(math.inf)

    def _print_NegativeInfinity(self, expr: sp.Basic) -> str:
        return self.const(-math.inf)

    def _print_AtInfinity(self, expr: sp.Basic) -> str:
        u, sign = expr.args
        return f"({self._print(u)} == {self.const(math.inf if sign > 0 else -math.inf)})"

    def _print_BooleanTrue(self, expr: sp.Basic) -> str:
        return "True"

    def _print_BooleanFalse(self, expr: sp.Basic) -> str:
        return "False"


def _one_exp_for_both_sides(
    conditions: tuple[sp.Basic, ...], exprs: tuple[tuple[sp.Expr, ...], ...]
) -> tuple[tuple[tuple[sp.Expr, ...], ...], list[tuple[sp.Symbol, sp.Expr]]]:
    """Note [Branch-free sign splits]: the two sides of a sign split on u (conditions
    ``u >= 0``, then the rest) call e^(−u) on the first and e^u on the second: that is
    e^(−|u|) on both, the same value. A vectorized loop evaluates both sides of a branch
    for every element (then selects), and LLVM does not merge the same call made in two
    branches (neither branch comes before the other), so e^(−|u|), and any other call both
    sides make with the same argument (log1p(e^(−|u|)) in softplus's d_β), is computed
    once, before the branches, into a variable both use: half the exps of such a formula.
    The values are bit for bit the same. Applied wherever the exp is the vectorizable
    helper: float32, and float64 now that its helpers vectorize. Returns the expressions
    and the (variable, value) pairs to assign before the branches, in order.
    """
    if len(conditions) != 2 or conditions[1] != sp.true or not isinstance(conditions[0], sp.GreaterThan):
        return exprs, []
    u, zero = conditions[0].args
    if zero != 0:
        return exprs, []
    shared = Exp(-sp.Abs(u))
    sides: tuple[tuple[sp.Expr, ...], ...] = (
        tuple(e.xreplace({Exp(-u): shared}) for e in exprs[0]),
        tuple(e.xreplace({Exp(u): shared}) for e in exprs[1]),
    )
    hoisted: list[tuple[sp.Symbol, sp.Expr]] = []
    while True:
        calls = [
            {n for e in side for n in sp.preorder_traversal(e) if isinstance(n, sp.Function) and not isinstance(n, (sp.Abs, AtInfinity))}
            for side in sides
        ]
        both = calls[0] & calls[1]
        if not both:
            return sides, hoisted
        # the innermost first, so that an outer call is written with its variable
        call = min(both, key=lambda n: (sp.count_ops(n), sp.default_sort_key(n)))
        var = sp.Symbol(f"_e_shared{len(hoisted) or ''}", real=True)
        hoisted.append((var, call))
        sides = tuple(tuple(e.xreplace({call: var}) for e in side) for side in sides)


def _used_hoists(
    hoisted: list[tuple[sp.Symbol, sp.Expr]], outputs: list[sp.Expr]
) -> tuple[list[tuple[sp.Symbol, sp.Expr]], dict[sp.Symbol, sp.Expr]]:
    """The hoisted values that ``outputs`` use (directly or through one another), and the
    others as replacements back into the formulas."""
    kept = _needed(hoisted, outputs)
    back: dict[sp.Symbol, sp.Expr] = {}
    for var, value in hoisted:  # in order: a later value may use an earlier variable
        if (var, value) not in kept:
            back[var] = value.xreplace(back)
    return kept, back


def _scalar_function(
    name: str,
    derivation: Derivation,
    quantities: list[Any],
    printer: NumbaPrinter,
    shared: list[Any] | None = None,
) -> str:
    """The source of one scalar njit function returning the given quantities.

    With ``shared`` (a superset of ``quantities``), the formulas are those of a function
    returning all of ``shared`` (the same common subexpressions, in the same order) with
    what only the others need left out, so each returned value has the same bits as there
    (grad_x from ``_gradx`` is grad_x from ``_grad``).
    """
    act = derivation.activation
    wanted = {q.name for q in quantities}
    args = ", ".join(["x", *(p.name for p in act.params)])
    nan = printer.const(float("nan"))
    names = [f"_{q.name}" for q in quantities]
    lines = [
        _JIT,
        f"def {name}_{printer.suffix}({args}):",
        "    if x != x:",
        f"        return {', '.join([nan] * len(names))}",
    ]
    where = f"activation {act.name!r}"
    transform = elementary.erfc_through_erfcx if printer.suffix == "w" else (lambda e: e)
    for group in group_branches(shared or quantities, transform):
        if not wanted & set(group.names):
            continue
        body: list[str] = []
        # Note [Values at infinite inputs]: the limits at x = ±inf are set after the chain,
        # each by its own if (a select), so that the chain stays short enough to vectorize.
        at_inf = [isinstance(c, AtInfinity) for c in group.conditions]
        finite_conds = tuple(c for c, inf in zip(group.conditions, at_inf) if not inf)
        finite_exprs = tuple(e for e, inf in zip(group.exprs, at_inf) if not inf)
        if printer.vectorizes("_exp"):
            finite_exprs, hoisted = _one_exp_for_both_sides(finite_conds, finite_exprs)
            kept, back = _used_hoists(hoisted, [e for side in finite_exprs for n, e in zip(group.names, side) if n in wanted])
            if back:  # values only the quantities this function leaves out use
                finite_exprs = tuple(tuple(e.xreplace(back) for e in side) for side in finite_exprs)
            body += _print_block(printer, kept, [], where)
        conds = [c for c, inf in zip(group.conditions, at_inf) if inf] + list(finite_conds)
        exprs = [e for e, inf in zip(group.exprs, at_inf) if inf] + list(finite_exprs)
        limits: list[str] = []
        first = True
        plan = _shared_skeleton(finite_exprs, group.names, wanted) if finite_conds[-1:] == (sp.true,) else None
        if plan is not None:
            body += _skeleton_lines(printer, plan, finite_conds, where)
            conds, exprs = conds[: len(conds) - len(finite_conds)], exprs[: len(conds) - len(finite_conds)]
        for b, cond in enumerate(conds):
            replacements, reduced = cse_branch(exprs[b])
            outputs = [(qname, e) for qname, e in zip(group.names, reduced) if qname in wanted]
            replacements = _needed(replacements, [e for _, e in outputs])
            block = _print_block(printer, replacements, outputs, where) or ["pass"]
            if isinstance(cond, AtInfinity):
                limits += [f"if {print_or_fail(printer, cond, where)}:", *indent(block, 1)]
                continue
            if cond == sp.true:
                keyword = None if first else "else:"
            else:
                keyword = f"{'if' if first else 'elif'} {print_or_fail(printer, cond, where)}:"
            first = False
            if keyword is None:
                body += block
            else:
                body.append(keyword)
                body += indent(block, 1)
        if group.conditions[-1] != sp.true:
            body.append("else:")
            body += indent([f"_{qname} = {nan}" for qname in group.names if qname in wanted], 1)
        lines += indent(body + limits, 1)
    lines.append(f"    return {', '.join(names)}")
    return "\n".join(lines)


class MathComment(StrPrinter):
    """A subexpression as a short comment: e^(u) for exp, |u| for abs, u^n for powers."""

    def _print_Exp(self, expr: sp.Function) -> str:
        arg = self._print(expr.args[0])
        return f"e^{arg}" if expr.args[0].is_Atom else f"e^({arg})"

    _print_exp = _print_Exp

    def _print_Abs(self, expr: sp.Function) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        text = super()._print_Pow(expr, rational)
        return text.replace("**", "^")


#: Longest subexpression comment; longer ones would not be read.
COMMENT_WIDTH = 72


def _meaning(sym: sp.Symbol, expr: sp.Expr, meanings: dict[sp.Symbol, sp.Expr]) -> str | None:
    """A comment for the common subexpression ``sym = expr``: what it is in terms of x and
    the parameters, where its line does not show that plainly (it calls a function or
    uses another subexpression), and where that fits in a short comment."""
    meanings[sym] = expr.xreplace(meanings)
    if not (expr.free_symbols & meanings.keys() or expr.atoms(sp.Function)):
        return None
    text = MathComment().doprint(meanings[sym])
    return f"  # {text}" if len(text) <= COMMENT_WIDTH else None


def _widened(name: str, derivation: Derivation, quantities: list[Any]) -> str:
    """A float32 scalar function that computes in float64 and rounds once."""
    params = [p.name for p in derivation.activation.params]
    args = ", ".join(["x", *params])
    wide = ", ".join(f"np.float64({a})" for a in ["x", *params])
    names = [f"_{q.name}" for q in quantities]
    return "\n".join(
        [
            _JIT,
            f"def {name}_f32({args}):",
            "    # Note [float32 computed in float64]: float32 arithmetic misses the accuracy bound here.",
            f"    {', '.join(names)} = {name}_w({wide})",
            f"    return {', '.join(f'np.float32({n})' for n in names)}",
        ]
    )


class _Skeleton(NamedTuple):
    """Note [One skeleton for all branches]: a branch chain as one skeleton with holes.
    ``first``: per branch, the values of the holes that hold no call or division (names
    ``_h0, ...``); ``early``: the common subexpressions of the skeleton and of the other
    holes' values that need only those; ``second``: per branch, the other holes' values,
    in terms of the first holes and of ``early``; ``late`` and ``outputs``: the rest of the
    skeleton and the wanted quantities."""

    first: list[list[tuple[str, sp.Expr]]]
    early: list[tuple[sp.Symbol, sp.Expr]]
    second: list[list[tuple[str, sp.Expr]]]
    late: list[tuple[sp.Symbol, sp.Expr]]
    outputs: list[tuple[str, sp.Expr]]


# Note [One skeleton for all branches]: a vectorized loop computes every branch of a chain
# for every element and then selects, so two branches that both call exp cost two exps
# per element, even when they differ only in a sign or a constant (the two sides of a
# split on the sign of x, for an odd or even part). So the branches are anti-unified: the
# largest expression they share, with a hole wherever they differ (a Pow's exponent and a
# function's arguments count as structure, so x*x never becomes x**h). The holes whose
# values are plain arithmetic are selected first; each other hole's value is rewritten
# in terms of those (the value a first hole takes in a branch is that hole there), so that
# its calls coincide with the skeleton's; then the shared subexpressions are computed once,
# the other holes selected, and the rest of the skeleton computed on the selected values.
# Each step is the same operation on the same operands as in the branch that holds, so
# the result is the same value (tests check the bits), but where common-subexpression
# elimination now shares a reciprocal between a branch and the skeleton (t/u becoming
# t·(1/u)), as it already may within one branch; the golden tests bound the result either
# way. Used when it leaves fewer distinct calls and divisions than the branches have
# together, and the chain ends with an else.
def _costly(exprs: Iterable[sp.Basic]) -> set[sp.Basic]:
    """The distinct calls and divisions (or roots) in ``exprs``: the work a select cannot skip."""
    return {
        node
        for expr in exprs
        for node in sp.preorder_traversal(expr)
        if (isinstance(node, sp.Function) and not isinstance(node, (sp.Abs, AtInfinity)))
        or (isinstance(node, sp.Pow) and not (node.exp.is_Integer and node.exp > 0))
    }


def _anti_unify(branches: tuple[tuple[sp.Expr, ...], ...]) -> tuple[tuple[sp.Expr, ...], dict[tuple[sp.Expr, ...], sp.Symbol]]:
    """The skeleton of the branches' formulas and its holes, by the tuple of values each
    takes per branch (Note [One skeleton for all branches])."""
    holes: dict[tuple[sp.Expr, ...], sp.Symbol] = {}

    def walk(nodes: tuple[sp.Expr, ...]) -> sp.Expr:
        head = nodes[0]
        if all(n == head for n in nodes[1:]):
            return head
        alike = (
            bool(head.args)
            and isinstance(head, (sp.Add, sp.Mul, sp.Pow, sp.Function))
            and not isinstance(head, (sp.Piecewise, AtInfinity))
            and all(n.func == head.func and len(n.args) == len(head.args) for n in nodes)
            and not (isinstance(head, sp.Pow) and any(n.exp != head.exp for n in nodes))
        )
        if alike:
            return head.func(*(walk(tuple(n.args[i] for n in nodes)) for i in range(len(head.args))), evaluate=False)
        return holes.setdefault(nodes, sp.Symbol(f"_h{len(holes)}", real=True))

    skeleton = tuple(walk(tuple(b[q] for b in branches)) for q in range(len(branches[0])))
    return skeleton, holes


def _shared_skeleton(branches: tuple[tuple[sp.Expr, ...], ...], names: tuple[str, ...], wanted: set[str]) -> _Skeleton | None:
    """The chain as one skeleton, when that leaves fewer calls and divisions; else None."""
    if len(branches) < 2:
        return None
    skeleton, holes = _anti_unify(branches)
    plain = {key: sym for key, sym in holes.items() if not _costly(key)}
    # the other holes' values in terms of the plain ones: where a plain hole's value in a
    # branch appears in that branch's value, it is that hole (not for integers and
    # rationals, which are also exponents, where a hole would turn x*x into a power call)
    rest = {
        sym: [key[b].xreplace({k[b]: h for k, h in plain.items() if not k[b].is_Rational}) for b in range(len(branches))]
        for key, sym in holes.items()
        if sym not in plain.values()
    }
    shared = [*skeleton, *(v for values in rest.values() for v in values)]
    if len(_costly(shared)) >= len(_costly(e for b in branches for e in b)):
        return None
    replacements, reduced = cse_branch(shared, prefix="_s")
    outputs = [(q, e) for q, e in zip(names, reduced[: len(skeleton)]) if q in wanted]
    second = {sym: reduced[len(skeleton) + i * len(branches) : len(skeleton) + (i + 1) * len(branches)] for i, sym in enumerate(rest)}
    late_syms = set(rest)
    early: list[tuple[sp.Symbol, sp.Expr]] = []
    late: list[tuple[sp.Symbol, sp.Expr]] = []
    for sym, e in _needed(replacements, [e for _, e in outputs] + [v for vs in second.values() for v in vs]):
        (late if e.free_symbols & late_syms else early).append((sym, e))
        if e.free_symbols & late_syms:
            late_syms.add(sym)
    return _Skeleton(
        first=[[(h.name[1:], key[b]) for key, h in plain.items()] for b in range(len(branches))],
        early=early,
        second=[[(h.name[1:], vs[b]) for h, vs in second.items()] for b in range(len(branches))],
        late=late,
        outputs=outputs,
    )


def _chain(printer: NumbaPrinter, conds: tuple[sp.Basic, ...], blocks: list[list[str]], where: str) -> list[str]:
    """An if/elif/else chain over ``conds`` (the last one true) with a block each."""
    lines: list[str] = []
    for b, (cond, block) in enumerate(zip(conds, blocks)):
        lines.append("else:" if cond == sp.true else f"{'elif' if b else 'if'} {print_or_fail(printer, cond, where)}:")
        lines += indent(block or ["pass"], 1)
    return lines


def _skeleton_lines(printer: NumbaPrinter, plan: _Skeleton, conds: tuple[sp.Basic, ...], where: str) -> list[str]:
    """The lines of a chain computed as one skeleton (Note [One skeleton for all branches])."""
    blocks = []
    for values in plan.first:
        replacements, reduced = cse_branch([e for _, e in values])
        blocks.append(_print_block(printer, replacements, [(h, e) for (h, _), e in zip(values, reduced)], where))
    lines = _chain(printer, conds, blocks, where) if any(plan.first) else []
    lines += _print_block(printer, plan.early, [], where)
    if any(plan.second):
        lines += _chain(printer, conds, [_print_block(printer, [], values, where) for values in plan.second], where)
    return lines + _print_block(printer, plan.late, plan.outputs, where)


def _print_block(printer: NumbaPrinter, replacements: list[tuple[sp.Symbol, sp.Expr]], outputs: list[tuple[str, sp.Expr]], where: str) -> list[str]:
    """Lines assigning common subexpressions, then ``_<name>`` for each output."""
    meanings: dict[sp.Symbol, sp.Expr] = {}
    block = [
        f"{print_or_fail(printer, sym, where)} = {print_or_fail(printer, e, where)}{_meaning(sym, e, meanings) or ''}"
        for sym, e in replacements
    ]
    return block + [f"_{qname} = {print_or_fail(printer, e, where)}" for qname, e in outputs]


def _needed(replacements: list[tuple[sp.Symbol, sp.Expr]], outputs: list[sp.Expr]) -> list[tuple[sp.Symbol, sp.Expr]]:
    """The common subexpressions that ``outputs`` use, directly or through one another, in order."""
    used = set().union(*(e.free_symbols for e in outputs)) if outputs else set()
    kept = []
    for sym, e in reversed(replacements):
        if sym in used:
            kept.append((sym, e))
            used |= e.free_symbols
    return kept[::-1]


#: Nodes through which a NaN argument always gives a NaN value (integer powers are printed
#: as products; a negative one is a division).
_NAN_KEEPING = (sp.Add, sp.Mul, sp.sin, sp.cos)


def _nan_reaches_outputs(derivation: Derivation) -> bool:
    """Whether a NaN from any sin or cos in the quantities' formulas makes the quantity
    NaN: no sin or cos in a branch condition, and between a sin or cos and the formula's
    root only sums, products, integer powers and sin and cos (Note [Fast path for sin and
    cos] in the generated kernels.py needs this)."""

    def keeps(expr: sp.Basic) -> bool:
        """Every sin or cos in ``expr`` reaches its value through NaN-keeping nodes only."""
        if not expr.has(sp.sin, sp.cos):
            return True
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer and not expr.exp.has(sp.sin, sp.cos):
            return keeps(expr.base)
        return isinstance(expr, _NAN_KEEPING) and all(keeps(a) for a in expr.args)

    for q in derivation.quantities:
        for branch, cond in zip(q.branches, q.conditions):
            if sp.sympify(cond).has(sp.sin, sp.cos) or not keeps(branch.expr):
                return False
    return True


def _formula_code(derivation: Derivation) -> tuple[list[str], bool, bool, bool]:
    """The scalar functions of f and the gradients for each dtype, then the elementary
    functions and helpers they call; whether some float32 quantity computes in float64;
    whether the code calls ``math``; whether there are fast versions of the scalar
    functions (``_f_fast``, ...: Note [Fast path for sin and cos] in the generated
    kernels.py), for activations that call sin or cos."""
    act = derivation.activation
    functions: list[str] = []
    helpers: list[str] = []
    needed: set[tuple[str, str]] = set()
    uses_math = False
    scalar = [("_f", [derivation.forward]), ("_grad", list(derivation.gradients))]
    if act.trainable_params:  # grad_x alone, for callers whose parameters need no gradient
        scalar.append(("_gradx", list(derivation.gradients[:1])))
    # grad_x alone computes as the gradient kernel does, so that backward_x gives backward's
    # grad_x bit for bit: in float64 wherever any gradient's float32 is computed in float64.
    wide_grad = any(q.float32_via_float64 for q in derivation.gradients)
    widened = [
        (n, qs) for n, qs in scalar
        if any(q.float32_via_float64 for q in qs) or (n == "_gradx" and wide_grad)
    ]
    printers = [NumbaPrinter("float32"), NumbaPrinter("float64")]
    if widened:
        printers.append(NumbaPrinter("float64", vector=True))

    def print_functions(printer: NumbaPrinter, tag: str) -> None:
        sfx = printer.suffix
        for name, quantities in scalar if sfx != "w" else widened:
            if sfx == "f32" and (name, quantities) in widened:
                functions.append(_widened(name + tag, derivation, quantities))
            else:
                shared = list(derivation.gradients) if name == "_gradx" else None
                functions.append(_scalar_function(name + tag, derivation, quantities, printer, shared))

    for printer in printers:
        print_functions(printer, "")
    fast = any(p.elementary & elementary.FAST.keys() for p in printers) and _nan_reaches_outputs(derivation)
    if fast:  # Note [Fast path for sin and cos] in the generated kernels.py
        fast_printers = [NumbaPrinter(p.dtype, vector=p.vector, fast=True) for p in printers]
        for printer in fast_printers:
            print_functions(printer, "_fast")
        printers += fast_printers
    for printer in printers:
        sfx = printer.suffix
        uses_math |= "math" in printer.module_imports
        unknown = set(printer.module_imports) - {"math"}
        if unknown:
            raise UnsupportedFunctionError(
                f"activation {act.name!r}: the numba backend cannot import {sorted(unknown)}"
            )
        needed.update((e, sfx) for e in printer.elementary)
        needed.update((e, sfx) for h in printer.helpers for e in _HELPER_NEEDS[h] if printer.vectorizes(e))
        for helper in sorted(printer.helpers):
            helpers.append(
                _HELPER_SOURCE[helper]
                .strip()
                .format(sfx=sfx, zero=printer.const(0), one=printer.const(1), exp=printer.exp_name, log1p=printer.log1p_name)
            )
    jit = _JIT
    helpers[:0] = [f"{jit}\n{elementary.source(name, sfx)}" for name, sfx in elementary.closure(needed)]
    if any(name == "_rempi" for name, _ in elementary.closure(needed)):
        helpers.insert(0, elementary.rempi_table_source())
    if needed:
        helpers.insert(0, elementary.FMA_SOURCE.rstrip())
        helpers.insert(0, elementary_note([name[1:] for name, _ in needed]))
    return [*functions, *helpers], bool(widened), uses_math, fast


def _as_tuple(names: list[str]) -> str:
    """The source of a tuple of strings: ``('a', 'b')`` without the parentheses."""
    return "".join(f"{n!r}, " for n in names).rstrip(" ")


def render_kernel_calls(header: str) -> str:
    """The whole ``_kernel_calls.py``: the same in every folder but for the header."""
    return render("_kernel_calls.py", header=header)


def render_kernels(derivation: Derivation, header: str, formulas: str) -> str:
    """The whole ``kernels.py`` for one activation."""
    act = derivation.activation
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    grad_names = ", ".join(q.name for q in derivation.gradients)
    code, widened, uses_math, fast = _formula_code(derivation)
    unpacked = ", ".join(["x", *(f"p[{k}]" for k in range(len(params)))])

    def by_dtype(name: str, formula: str) -> str:
        """The line that makes ``name`` call ``formula`` in the loops, for either dtype."""
        return f"{name} = _calls.by_dtype(" + ", ".join(f"lambda x, p: {formula}_{s}({unpacked})" for s in ("f32", "f64")) + ")"

    by_dtype_lines = []
    for tag in ("", "_fast") if fast else ("",):
        by_dtype_lines.append(by_dtype("_f" + tag, "_f" + tag))
        if trainable:
            by_dtype_lines.append(by_dtype("_grad" + tag, "_grad" + tag))
        by_dtype_lines.append(by_dtype("_gradx" + tag, ("_gradx" if trainable else "_grad") + tag))
    if fast:
        by_dtype_lines.insert(len(by_dtype_lines) // 2, "# the same with the fast sin and cos: Note [Fast path for sin and cos]")
    at = ", ".join(f"p[{k}][u % p[{k}].shape[0]]" for k in range(len(params))) + ("," if len(params) == 1 else "")
    backward = render(
        "kernels_backward_checked.py" if fast else "kernels_backward.py",
        grad_names=f"({grad_names})",
        buffer_stores=[f"buf[{k}, j] = np.float64(gj) * d[{k + 1}]" for k in range(len(trainable))],
    )
    return render(
        "kernels.py",
        header=header,
        title=act.name,
        doc=docstring_text(act.doc) or f"The activation {act.name}.",
        formulas=docstring_text(formulas),
        args=", ".join(["x", *params]),
        grad_list=", ".join(f"grad_{q.wrt_name}" for q in derivation.gradients),
        backward_x_note=", without the work of the parameter gradients" if trainable else ", the same as backward(...)[0]",
        backward_x_doc=[
            '"""The gradient w.r.t. x alone (backward(...)[0]), without the work of the parameter',
            'gradients: for callers whose parameters are frozen."""',
        ]
        if trainable
        else ['"""The gradient w.r.t. x alone (backward(...)[0])."""'],
        import_math=["import math"] if uses_math else [],
        params_tuple=_as_tuple(params),
        trainable_tuple=_as_tuple(trainable),
        widened_tuple=_as_tuple([q.name for q in derivation.quantities if q.float32_via_float64]),
        formulas_header=_comment(
            "f and its gradients at one element x, one function per dtype (suffixes _f32, _f64), "
            f"then the elementary functions they call. _grad returns {'(' + grad_names + ')' if trainable else grad_names}"
            + ("; _gradx returns d_x alone, with the subexpressions of _grad (the same bits)." if trainable else ".")
            + (" Suffix _w: float64 arithmetic for the float32 quantities computed in float64." if widened else "")
            + " NaN in gives NaN out, whatever branch the comparisons would pick. _t0, _t1, ... are "
            "subexpressions shared within a branch. forceinline=True: LLVM inlines each function "
            "into the loops, which then vectorize (Numba's inline=\"always\" gives the same code "
            "but compiles many times slower)."
            + (
                " The _fast versions (_f_fast, ...) are the same with sin and cos helpers that reduce by "
                "Cody–Waite alone and give NaN for |u| ≥ 2^28: Note [Fast path for sin and cos]."
                if fast
                else ""
            )
        ),
        formulas_code="\n\n\n".join(code),
        by_dtype=by_dtype_lines,
        loops=render("kernels_loops_checked.py" if fast else "kernels_loops.py").rstrip("\n"),
        at_values=f"({at})" + (f"  # ({', '.join(params)}{',' if len(params) == 1 else ''})" if params else ""),
        backward_loop=["", "", backward.rstrip("\n")] if trainable else [],
        backward_or_none="_backward" if trainable else "None",
    )
