"""The PyTorch backend: ``torch_ops.py`` with a custom operator, its autograd, and an nn.Module.

The forward and the backward are ``torch.library.custom_op`` operators: on CPU they call the
fused Numba kernels of the sibling ``kernels.py``; on every other device they run the same
stable formulas printed here as torch operations, branch-local (the "double where" of
Note [Branch-local evaluation] in :mod:`symact.derive`). The torch formulas also serve
double backward, where autograd differentiates them.

SymPy 1.14 ships ``sympy.printing.pytorch.TorchPrinter``; it is not the base here because
it imports torch when SymPy loads it (generation must not need torch), prints Piecewise as a
single ``torch.where`` (the NaN-gradient trap), falls back silently to plain calls for
functions it does not know, and prints powers as ``torch.pow``. :class:`TorchPrinter`
subclasses ``PythonCodePrinter`` like the Numba printer and overrides what it needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..derive import Derivation, Quantity
from ..errors import UnsupportedFunctionError
from ..spec import Param, x
from .printer import TypedConstants, cse_branch, group_branches, integer_power, print_or_fail
from .templates import docstring_text, load

__all__ = ["TorchPrinter", "FUNCTIONS", "render_torch_ops"]

#: SymPy function name -> torch function. Every entry is elementwise and differentiable by
#: autograd (double backward differentiates the printed formulas).
FUNCTIONS = {
    "exp": "torch.exp",
    "Exp": "torch.exp",
    "expm1": "torch.expm1",
    "log": "torch.log",
    "log1p": "torch.log1p",
    "sin": "torch.sin",
    "cos": "torch.cos",
    "tan": "torch.tan",
    "asin": "torch.asin",
    "acos": "torch.acos",
    "atan": "torch.atan",
    "sinh": "torch.sinh",
    "cosh": "torch.cosh",
    "tanh": "torch.tanh",
    "asinh": "torch.asinh",
    "acosh": "torch.acosh",
    "atanh": "torch.atanh",
    "erf": "torch.erf",
    "erfc": "torch.erfc",
    "Erfc": "torch.erfc",
    "Sigmoid": "torch.sigmoid",
    "loggamma": "torch.lgamma",
    "floor": "torch.floor",
    "ceiling": "torch.ceil",
    "Abs": "torch.abs",
    "sign": "torch.sign",
}

#: Functions printed as a call to a helper defined in the generated file.
HELPERS = {"Softplus": "_softplus", "sech": "_sech"}

_HELPER_SOURCE = {
    "_softplus": '''
def _softplus(u):
    # log(1 + e^u) as logaddexp(u, 0): max(u, 0) + log1p(e^-|u|), no overflow; its autograd
    # derivative is exp(u - softplus(u)) = sigmoid(u), also stable.
    return torch.logaddexp(u, torch.zeros((), dtype=u.dtype, device=u.device))
''',
    "_sech": '''
def _sech(u):
    # 1/cosh(u) as 2e^-|u|/(1 + e^-2|u|): cosh overflows for large |u|, and autograd would
    # then take 0*inf = NaN in the derivative; this form has neither.
    e = torch.exp(-torch.abs(u))
    return 2.0 * e / (1.0 + e * e)
''',
}

class TorchPrinter(TypedConstants, PythonCodePrinter):
    """Prints elementwise torch expressions; constants are Python floats.

    A Python float combined with a tensor takes the tensor's dtype, so float32 stays
    float32 without typed constants.
    """

    printmethod = "_torchcode"
    language = "torch"
    _kf = FUNCTIONS
    _kc: dict[str, str] = {}

    def __init__(self, settings: dict[str, Any] | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.helpers: set[str] = set()

    def const(self, value: float) -> str:
        value = float(value)
        if math.isnan(value):
            return self._module_format("torch.nan")
        if math.isinf(value):
            return ("-" if value < 0 else "") + self._module_format("torch.inf")
        return repr(value)

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
            return f"{self._module_format('torch.sqrt')}({self._print(base)})"
        if exp == -sp.S.Half:
            return f"{self._module_format('torch.rsqrt')}({self._print(base)})"
        return f"{self._module_format('torch.pow')}({self._print(base)}, {self._print(exp)})"

    def _print_Function(self, expr: sp.Function) -> str:
        name = type(expr).__name__
        args = ", ".join(self._print(a) for a in expr.args)
        if name in HELPERS:
            self.helpers.add(HELPERS[name])
            return f"{HELPERS[name]}({args})"
        if name in self.known_functions:
            return f"{self._module_format(self.known_functions[name])}({args})"
        return self._print_not_supported(expr)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        # Only inner Piecewise reach here (derive lifts definitions' Piecewise to the top;
        # sign_split adds inner ones whose pieces are finite for every real input, so a
        # plain where is enough). Top-level chains are emitted by render_torch_ops with
        # the double where of Note [Branch-local evaluation].
        text = ""
        for e, c in reversed(expr.args):
            if c == sp.true:
                text = self._print(e)
            else:
                text = text or self.const(math.nan)
                text = f"{self._module_format('torch.where')}({self._print(c)}, {self._print(e)}, {text})"
        return text

    def _print_AtInfinity(self, expr: sp.Basic) -> str:
        u, sign = expr.args
        return f"({self._print(u)} == {'-' if sign < 0 else ''}torch.inf)"

    def _print_And(self, expr: sp.Basic) -> str:
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr: sp.Basic) -> str:
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr: sp.Basic) -> str:
        return f"(~{self._print(expr.args[0])})"


# Every function PythonCodePrinter would print through ``math`` goes through the table
# instead, so an unsupported one fails in strict mode rather than printing ``math.gamma``.
for _name in {*PythonCodePrinter._kf, *FUNCTIONS, *HELPERS}:
    setattr(TorchPrinter, f"_print_{_name}", TorchPrinter._print_Function)


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return [("    " * levels + line) if line else line for line in lines]


def _autograd_safe(expr: sp.Expr) -> sp.Expr:
    """Note [Autograd-safe forms]: double backward differentiates the printed formulas, so a
    form whose value is fine can still have a NaN derivative. 1/cosh(u)**k is 0 for large
    |u|, but autograd takes -k*sinh(u)/cosh(u)**(k+1) as 0*inf = NaN there; sech(u)**k
    (printed as the stable _sech) has the same value and a finite derivative.

    >>> from symact import x
    >>> _autograd_safe(x / sp.cosh(x)**2)
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


def _conditions(conditions: Sequence[sp.Basic], printer: TorchPrinter, where: str, body: list[str],
                count: list[int]) -> tuple[list[str | None], list[str | None]]:
    """Emit the masks of one chain; return per branch its condition's name (None for True)
    and its active mask (None when always active)."""
    names: list[str | None] = []
    actives: list[str | None] = []
    earlier: str | None = None
    for b, cond in enumerate(conditions):
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
    return names, actives


def _branch_function(
    name: str, derivation: Derivation, quantities: Sequence[Quantity], printer: TorchPrinter
) -> str:
    """One function returning the given quantities, computed with torch ops, branch-local.

    See Note [Branch-local evaluation] in symact.derive: branch b runs on
    ``where(active_b, x, safe_x)`` and the values are combined with ``where``, so an
    unselected branch never sees an input that could make it, or its autograd gradient of
    any order, inf or NaN. Quantities sharing a chain share the masks and, where their safe
    points agree, the branch-local input and the common subexpressions.
    """
    act = derivation.activation
    where = f"activation {act.name!r}"
    safe_points = {q.name: [b.safe_x for b in q.branches] for q in quantities}
    body: list[str] = []
    count = [0, 0]  # conditions, branch-local inputs
    guarded = False
    for group in group_branches(quantities):
        chain = len(group.conditions)
        conds, actives = _conditions(group.conditions, printer, where, body, count)
        values: dict[str, list[str]] = {n: [] for n in group.names}
        for b in range(chain):
            blocks: dict[float | None, list[int]] = {}
            for k, qname in enumerate(group.names):
                uses_x = x in group.exprs[b][k].free_symbols
                blocks.setdefault(safe_points[qname][b] if uses_x else None, []).append(k)
            for safe, members in blocks.items():
                exprs = [_autograd_safe(group.exprs[b][k]) for k in members]
                if actives[b] is not None and any(x in e.free_symbols for e in exprs):
                    if safe is None:
                        body.append("# no safe input was found for this branch: it runs on x as is")
                    else:
                        local = sp.Symbol(f"_x{count[1]}", real=True)
                        count[1] += 1
                        body.append(f"{local} = torch.where({actives[b]}, x, {printer.const(safe)})")
                        exprs = [e.xreplace({x: local}) for e in exprs]
                replacements, reduced = cse_branch(exprs)
                for sym, e in replacements:
                    body.append(f"{sym} = {print_or_fail(printer, e, where)}")
                for k, e in zip(members, reduced):
                    qname = group.names[k]
                    text = print_or_fail(printer, e, where)
                    if chain > 1 and not e.is_Number:
                        body.append(f"_{qname}_{b} = {text}")
                        text = f"_{qname}_{b}"
                    values[qname].append(text)
        for k, qname in enumerate(group.names):
            parts = values[qname]
            text = parts[-1] if conds[-1] is None else printer.const(math.nan)
            for b in reversed(range(chain)):
                if conds[b] is not None:
                    text = f"torch.where({conds[b]}, {parts[b]}, {text})"
            body.append(f"_{qname} = {text}")
            if _needs_nan_guard(chain, group.exprs[0][k]):
                if not guarded:
                    body.append("_nan = torch.isnan(x)")
                    guarded = True
                body.append(f"_{qname} = torch.where(_nan, x, _{qname})")
    outputs = [f"_{q.name}" for q in quantities]
    if name == "_f_torch":
        returned = outputs[0]
    else:
        returned = ", ".join(outputs) if len(outputs) > 1 else f"({outputs[0]},)"
    args = ", ".join(["x", *(p.name for p in act.params)])
    return "\n".join([f"def {name}({args}):", *_indent(body), f"    return {returned}"])


def _constraint(p: Param) -> tuple[str, list[str], str] | None:
    """(value from raw, lines of raw from value, description) of a trainable parameter's
    reparametrisation; None when it is unconstrained.

    Note [Constrained parameters] (also in each generated class docstring): positivity and
    bounds hold during training because the module stores an unconstrained ``<name>_raw``
    and maps it into the range in forward: ``lo + (hi - lo)*sigmoid(raw)`` with bounds,
    ``softplus(raw) + tiny`` for a positive parameter without bounds. No projection step
    or clamp is needed, and no gradient vanishes at a clamp.
    """
    if p.bounds is not None:
        lo, hi = p.bounds
        width = hi - lo
        return (
            f"{lo!r} + {width!r} * torch.sigmoid(raw)",
            [
                f'value = _finite(value, "{p.name}")',
                f"if not {lo!r} <= value <= {hi!r}:",
                f"    raise ValueError(f\"{p.name} must lie in [{lo!r}, {hi!r}], got {{value}}\")",
                "# The ends map to raw = -inf and +inf: start just inside them.",
                f"t = min(max((value - {lo!r}) / {width!r}, 1e-6), 1.0 - 1e-6)",
                "return math.log(t / (1.0 - t))",
            ],
            f"{p.name} = {lo!r} + {width!r}*sigmoid({p.name}_raw), in ({lo!r}, {hi!r})",
        )
    if p.positive:
        return (
            "torch.nn.functional.softplus(raw) + torch.finfo(raw.dtype).tiny",
            [
                f'value = _finite(value, "{p.name}")',
                "if not value > 0:",
                f"    raise ValueError(f\"{p.name} must be > 0, got {{value}}\")",
                "return value + math.log(-math.expm1(-value))",
            ],
            f"{p.name} = softplus({p.name}_raw) + tiny, > 0",
        )
    return None


def _usage(name: str, class_name: str, args: str, constructors: list[tuple[str, str]]) -> str:
    """The usage lines of the module docstring, comments aligned."""
    lines = [(f"act = {class_name}({a})", c) for a, c in constructors] or [(f"act = {class_name}()", "")]
    tail = "parameters: tensors or numbers broadcasting to x" if constructors else ""
    lines.append((f"y = {name}({args})", tail))
    width = max(len(code) for code, _ in lines)
    return "\n".join(f"    {code.ljust(width)}   # {c}" if c else f"    {code}" for code, c in lines)


def _module_parts(derivation: Derivation) -> dict[str, str]:
    """The placeholders of the nn.Module and its parameter constraints."""
    act = derivation.activation
    if not act.params:
        return {
            "usage": _usage(act.name, act.class_name, "x", []),
            "ctor_signature": "",
            "ctor_doc": "\n    An activation without parameters.",
            "init_signature": "self",
            "init_body": "",
            "properties": "",
            "forward_args": "x",
            "extra_repr": '""',
            "constraints": "# (no parameters)",
        }
    init_args, body, properties, constraints, docs, forward_args, reprs = [], [], [], [], [], [], []
    shape = "(num_parameters,)"
    for p in act.params:
        init_args.append(f"{p.name}: float = {p.init!r}")
        forward_args.append(f"_per_channel(self.{p.name}, x)")
        reprs.append(f'f"{p.name}={{_show(self.{p.name})}}"')
        about = f" ({docstring_text(p.doc)})" if p.doc else ""
        full = "torch.full({shape}, {value}, device=device, dtype=dtype)"
        checked = f'_finite({p.name}, "{p.name}")'
        if not p.trainable:
            body.append(f'self.register_buffer("{p.name}", {full.format(shape=shape, value=checked)})')
            docs.append(f"{p.name}{about}: fixed (a buffer, not trained); init {p.init!r}.")
            continue
        constraint = _constraint(p)
        if constraint is None:
            body.append(f"self.{p.name} = torch.nn.Parameter({full.format(shape=shape, value=checked)})")
            docs.append(f"{p.name}{about}: trainable, unconstrained; init {p.init!r}.")
            continue
        to_value, to_raw, description = constraint
        docs.append(f"{p.name}{about}: trainable, init {p.init!r};")
        docs.append(f"    {description}.")
        body.append(
            f"self.{p.name}_raw = torch.nn.Parameter({full.format(shape=shape, value=f'_{p.name}_raw({p.name})')})"
        )
        constraints.append(
            "\n".join([
                f"def _{p.name}_value(raw):",
                f'    """{description} (Note [Constrained parameters])."""',
                f"    return {to_value}",
                "",
                "",
                f"def _{p.name}_raw(value):",
                f'    """The raw value that gives {p.name} = value."""',
                *_indent(to_raw),
            ])
        )
        properties.append(
            "\n".join([
                "@property",
                f"def {p.name}(self) -> torch.Tensor:",
                f'    """{description}: the value used in forward, shape {shape}."""',
                f"    return _{p.name}_value(self.{p.name}_raw)",
            ])
        )
    ctor_doc = [
        "",
        "    num_parameters: 1 (the default: each parameter is one value for all of x) or C (one",
        "        value per channel, like nn.PReLU: the channel axis is 1, or 0 for a 1-D input).",
        f"    {', '.join(p.name for p in act.params)}: initial values (default: the definition's init).",
        "    device, dtype: of the parameters.",
        "",
        "    Parameters:",
        *(f"        {d}" for d in docs),
        "",
        "    Note [Constrained parameters]",
        "        Positivity and bounds hold throughout training by reparametrisation, with no",
        "        projection step and no clamp (whose gradient would vanish outside the range):",
        "        the nn.Parameter is <name>_raw, unconstrained, and forward uses",
        "        lo + (hi - lo)*sigmoid(raw) for a parameter with bounds (lo, hi), and",
        "        softplus(raw) + tiny for a positive one without bounds (tiny: the dtype's",
        "        smallest normal number, so the value is > 0 even where softplus underflows).",
    ]
    return {
        "usage": _usage(act.name, act.class_name, ", ".join(["x", *(p.name for p in act.params)]), [
            ("", "parameters at their init values, shared by all of x"),
            ("num_parameters=C", "one value per channel (axis 1 of x), like nn.PReLU"),
        ]),
        "ctor_signature": ", ".join(["num_parameters=1", *(f"{p.name}={p.init!r}" for p in act.params), "*", "device=None", "dtype=None"]),
        "ctor_doc": "\n".join(ctor_doc),
        "init_signature": f"self, num_parameters: int = 1, {', '.join(init_args)}, *, device=None, dtype=None",
        "init_body": "".join("\n" + line for line in _indent(["self.num_parameters = int(num_parameters)", *body], 2)),
        "properties": "".join("\n\n" + "\n".join(_indent(p.splitlines())) for p in properties),
        "forward_args": ", ".join(["x", *forward_args]),
        "extra_repr": '", ".join([f"num_parameters={self.num_parameters}", ' + ", ".join(reprs) + "])",
        "constraints": "\n\n\n".join(constraints) or "# (no constrained parameter)",
    }


def _imports(printer: TorchPrinter, module: dict[str, str]) -> str:
    """The import block: what the template uses, what was printed, and math for constraints."""
    standard = {"functools", "importlib.util", "math", "pathlib", "sys"}
    third_party = {"torch", *printer.module_imports}
    return "\n\n".join("\n".join(f"import {m}" for m in sorted(group)) for group in (standard, third_party))


def render_torch_ops(derivation: Derivation, header: str, formulas: str, digest: str) -> str:
    """The whole ``torch_ops.py`` for one activation."""
    act = derivation.activation
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    printer = TorchPrinter()
    functions = [
        _branch_function("_f_torch", derivation, [derivation.forward], printer),
        _branch_function("_grad_torch", derivation, list(derivation.gradients), printer),
    ]
    unknown = set(printer.module_imports) - {"torch"}
    if unknown:
        raise UnsupportedFunctionError(
            f"activation {act.name!r}: the torch backend cannot import {sorted(unknown)}"
        )
    helpers = [_HELPER_SOURCE[h].strip() for h in sorted(printer.helpers)]
    surrogates = [q.name[2:] for q in derivation.gradients if q.kind == "surrogate"]
    module = _module_parts(derivation)
    tensor = "torch.Tensor"

    def as_tuple(names: list[str]) -> str:
        return "".join(f"{n!r}, " for n in names).rstrip(" ")

    def as_args(names: list[str]) -> str:
        return "".join(f"{n}, " for n in names).rstrip(" ")

    return load("torch_ops.py").substitute(
        wide_f=repr(derivation.forward.float32_via_float64),
        wide_grad=repr(any(q.float32_via_float64 for q in derivation.gradients)),
        header=header,
        imports=_imports(printer, module),
        title=act.name,
        name=act.name,
        class_name=act.class_name,
        doc=docstring_text(act.doc) or f"The activation {act.name}.",
        formulas=docstring_text(formulas),
        args=", ".join(["x", *params]),
        typed_args=", ".join(f"{a}: {tensor}" for a in ["x", *params]),
        grad_args=", ".join(["grad", "x", *params]),
        grad_typed_args=", ".join(f"{a}: {tensor}" for a in ["grad", "x", *params]),
        params_list=as_args(params),
        trainable_args=as_args(trainable),
        differentiable_in=f"x and in {', '.join(trainable)}" if trainable else "x",
        surrogate_note=(
            f"\n    For {', '.join(surrogates)} it is the declared surrogate, a deliberate non-true gradient."
            if surrogates
            else ""
        ),
        params_tuple=as_tuple(params),
        trainable_tuple=as_tuple(trainable),
        kernels_module=f"symact_generated_{act.name}_kernels",
        op_name=f"symact::{act.name}_{digest[:12]}",
        helpers="\n\n\n".join(helpers) if helpers else "# (no helper functions)",
        branch_functions="\n\n\n".join(functions),
        **module,
    )
