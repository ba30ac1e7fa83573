"""The TensorFlow backend: ``tf_ops.py`` with a ``tf.custom_gradient`` function and a Keras 3 layer.

The forward and the gradient are the stable formulas of the derivation printed as
TensorFlow operations, every branch of a piecewise formula evaluated branch-local (the
"double where" of Note [Branch-local evaluation] in :mod:`symact.derive`). The gradient
function computes with TF ops on the inputs, so an outer ``tf.GradientTape`` records it
and differentiates it (second order), and the whole op runs wherever TF runs: CPU, GPU,
XLA, SavedModel.

SymPy 1.14 ships ``sympy.printing.tensorflow.TensorflowPrinter``; it is not the base here
because its module imports tensorflow when SymPy loads it (generation must not need TF),
it prints Piecewise as a single ``tf.where`` (the NaN-gradient trap) and it falls back
silently to plain calls for functions it does not know. :class:`TFPrinter` subclasses
``PythonCodePrinter`` like the other printers and overrides what it needs. Nothing in this
module imports tensorflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..derive import Derivation, Quantity
from ..errors import UnsupportedFunctionError
from ..names import class_name
from ..spec import Param, x
from .printer import TypedConstants, cse_branch, group_branches, integer_power, print_or_fail
from .templates import docstring_text, load

__all__ = ["TFPrinter", "FUNCTIONS", "render_tf_ops"]

#: SymPy function name -> TensorFlow function. Every entry is elementwise and has a TF
#: gradient (second order differentiates the printed formulas).
FUNCTIONS = {
    "exp": "tf.math.exp",
    "Exp": "tf.math.exp",
    "expm1": "tf.math.expm1",
    "log": "tf.math.log",
    "log1p": "tf.math.log1p",
    "sin": "tf.math.sin",
    "cos": "tf.math.cos",
    "tan": "tf.math.tan",
    "asin": "tf.math.asin",
    "acos": "tf.math.acos",
    "atan": "tf.math.atan",
    "sinh": "tf.math.sinh",
    "cosh": "tf.math.cosh",
    "tanh": "tf.math.tanh",
    "asinh": "tf.math.asinh",
    "acosh": "tf.math.acosh",
    "atanh": "tf.math.atanh",
    "erf": "tf.math.erf",
    "erfc": "tf.math.erfc",
    "Erfc": "tf.math.erfc",
    # log(1 + e^u) without overflow; its TF gradient is sigmoid(u), also stable.
    "Softplus": "tf.math.softplus",
    "loggamma": "tf.math.lgamma",
    "floor": "tf.math.floor",
    "ceiling": "tf.math.ceil",
    "Abs": "tf.math.abs",
    "sign": "tf.math.sign",
}

#: Functions printed as a call to a helper defined in the generated file.
HELPERS = {"sech": "_sech", "Sigmoid": "_sigmoid"}

#: Functions whose TF float32 kernels are polynomial approximations several ULPs off, more
#: than the accuracy bound allows where a quantity is well conditioned: a quantity whose
#: stable form calls one computes float32 inputs in float64 (as Note [float32 computed in
#: float64] in kernels.py, decided here per backend).
FLOAT32_IN_FLOAT64 = frozenset({"erf", "erfc", "Erfc", "tanh", "expm1"})

_HELPER_SOURCE = {
    "_sigmoid": '''
def _sigmoid(u):
    # 1/(1 + e^-u) from one exp of -|u| (no overflow on either tail), as accurate as exp;
    # TF's float32 sigmoid kernel is a coarser approximation.
    e = tf.math.exp(-tf.math.abs(u))
    return tf.where(u >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
''',
    "_sech": '''
def _sech(u):
    # 1/cosh(u) as 2e^-|u|/(1 + e^-2|u|): cosh overflows for large |u|, and TF's gradient
    # would then take 0*inf = NaN; this form has neither.
    e = tf.math.exp(-tf.math.abs(u))
    return 2.0 * e / (1.0 + e * e)
''',
}

#: Module names the printed code may use (``tf.math.exp`` records ``tf.math``).
_PRINTED_MODULES = frozenset({"tf", "tf.math", "math"})


class TFPrinter(TypedConstants, PythonCodePrinter):
    """Prints elementwise TensorFlow expressions; constants are Python floats.

    A Python float combined with a tensor (``0.5*x``, ``tf.where(c, x, 0.0)``) is converted
    to the tensor's dtype, so float32 stays float32 without typed constants.
    """

    printmethod = "_tfcode"
    language = "tensorflow"
    _kf = FUNCTIONS
    _kc: dict[str, str] = {}

    def __init__(self, settings: dict[str, Any] | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.helpers: set[str] = set()

    def const(self, value: float) -> str:
        value = float(value)
        if math.isnan(value):
            return self._module_format("math.nan")
        if math.isinf(value):
            return ("-" if value < 0 else "") + self._module_format("math.inf")
        return repr(value)

    def typed(self, constant: str) -> str:
        """A printed constant as a tensor of the dtype of x, for the value arguments of
        tf.where: in a graph, a Python float there is float32 whatever the other argument
        (every printed function has x as its first argument)."""
        return f"{self._module_format('tf.constant')}({constant}, x.dtype)"

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
            return f"{self._module_format('tf.math.sqrt')}({self._print(base)})"
        if exp == -sp.S.Half:
            return f"{self._module_format('tf.math.rsqrt')}({self._print(base)})"
        return f"{self._module_format('tf.math.pow')}({self._print(base)}, {self._print(exp)})"

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
        # plain where is enough). Top-level chains are emitted by render_tf_ops with the
        # double where of Note [Branch-local evaluation].
        text = ""
        for e, c in reversed(expr.args):
            value = self.typed(self._print(e)) if e.is_Number else self._print(e)
            if c == sp.true:
                text = value
            else:
                text = text or self.typed(self.const(math.nan))
                text = f"{self._module_format('tf.where')}({self._print(c)}, {value}, {text})"
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


# Every function PythonCodePrinter would print through ``math`` goes through the table
# instead, so an unsupported one fails in strict mode rather than printing ``math.gamma``.
for _name in {*PythonCodePrinter._kf, *FUNCTIONS, *HELPERS}:
    setattr(TFPrinter, f"_print_{_name}", TFPrinter._print_Function)


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return [("    " * levels + line) if line else line for line in lines]


def _gradient_safe(expr: sp.Expr) -> sp.Expr:
    """Note [Gradient-safe forms]: second order differentiates the printed formulas with
    TF's own gradients, so a form whose value is fine can still have a NaN derivative.
    1/cosh(u)**k is 0 for large |u|, but TF takes -k*sinh(u)/cosh(u)**(k+1) as 0*inf = NaN
    there; sech(u)**k (printed as the stable _sech) has the same value and a finite
    derivative.

    >>> _gradient_safe(x / sp.cosh(x)**2)
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


def _conditions(
    conditions: Sequence[sp.Basic], printer: TFPrinter, where: str, body: list[str], count: list[int]
) -> tuple[list[str | None], list[str | None]]:
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
    name: str, derivation: Derivation, quantities: Sequence[Quantity], printer: TFPrinter
) -> str:
    """One function returning the given quantities, computed with TF ops, branch-local.

    See Note [Branch-local evaluation] in symact.derive: branch b runs on
    ``tf.where(active_b, x, safe_x)`` and the values are combined with ``tf.where``, so an
    unselected branch never sees an input that could make it, or its TF gradient of any
    order, inf or NaN. Quantities sharing a chain share the masks and, where their safe
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
                exprs = [_gradient_safe(group.exprs[b][k]) for k in members]
                if actives[b] is not None and any(x in e.free_symbols for e in exprs):
                    if safe is None:
                        body.append("# no safe input was found for this branch: it runs on x as is")
                    else:
                        local = sp.Symbol(f"_x{count[1]}", real=True)
                        count[1] += 1
                        body.append(f"{local} = tf.where({actives[b]}, x, {printer.const(safe)})")
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
                    values[qname].append(printer.typed(text) if e.is_Number else text)
        for k, qname in enumerate(group.names):
            parts = values[qname]
            text = parts[-1] if conds[-1] is None else printer.typed(printer.const(math.nan))
            for b in reversed(range(chain)):
                if conds[b] is not None:
                    text = f"tf.where({conds[b]}, {parts[b]}, {text})"
            body.append(f"_{qname} = {text}")
            if _needs_nan_guard(chain, group.exprs[0][k]):
                if not guarded:
                    body.append("_nan = tf.math.is_nan(x)")
                    guarded = True
                body.append(f"_{qname} = tf.where(_nan, x, _{qname})")
    outputs = [f"_{q.name}" for q in quantities]
    if name == "_f_tf":
        returned = outputs[0]
    else:
        returned = ", ".join(outputs) if len(outputs) > 1 else f"({outputs[0]},)"
    args = ", ".join(["x", *(p.name for p in act.params)])
    return "\n".join([f"def {name}({args}):", *_indent(body), f"    return {returned}"])


def _constraint(p: Param) -> tuple[str, list[str], str] | None:
    """(value from raw, lines of raw from value, description) of a trainable parameter's
    reparametrisation; None when it is unconstrained.

    Note [Constrained parameters] (also in each generated class docstring): the layer
    stores an unconstrained ``<name>_raw`` weight and maps it into the range in call:
    ``lo + (hi - lo)*sigmoid(raw)`` with bounds, ``softplus(raw) + tiny`` for a positive
    parameter without bounds, as the torch module does. An initial value outside the
    range is a ValueError.
    """
    if p.bounds is not None:
        lo, hi = p.bounds
        width = hi - lo
        return (
            f"{lo!r} + {width!r} * tf.math.sigmoid(raw)",
            [
                "value = float(value)",
                f"if not {lo!r} <= value <= {hi!r}:",
                f'    raise ValueError(f"{p.name} must lie in [{lo!r}, {hi!r}], got {{value}}")',
                f"t = min(max((value - {lo!r}) / {width!r}, 1e-6), 1.0 - 1e-6)",
                "return math.log(t / (1.0 - t))",
            ],
            f"{p.name} = {lo!r} + {width!r}*sigmoid({p.name}_raw), in ({lo!r}, {hi!r})",
        )
    if p.positive:
        return (
            "tf.math.softplus(raw) + _TINY[raw.dtype.name]",
            [
                "value = float(value)",
                "if not 0.0 < value < math.inf:",
                f'    raise ValueError(f"{p.name} must be finite and > 0, got {{value}}")',
                "return value + math.log(-math.expm1(-value))",
            ],
            f"{p.name} = softplus({p.name}_raw) + tiny, > 0",
        )
    return None


def _usage(name: str, cls: str, args: str, constructors: list[tuple[str, str]]) -> str:
    """The usage lines of the module docstring, comments aligned."""
    lines = [(f"layer = {cls}({a})", c) for a, c in constructors] or [(f"layer = {cls}()", "")]
    tail = "parameters: tensors, variables or numbers broadcasting to x" if constructors else ""
    lines.append((f"y = {name}({args})", tail))
    width = max(len(code) for code, _ in lines)
    return "\n".join(f"    {code.ljust(width)}   # {c}" if c else f"    {code}" for code, c in lines)


def _layer_parts(derivation: Derivation) -> dict[str, str]:
    """The placeholders of the Keras layer and its parameter constraints."""
    act = derivation.activation
    cls = class_name(act.name)
    if not act.params:
        return {
            "usage": _usage(act.name, cls, "x", []),
            "ctor_signature": "**kwargs",
            "ctor_doc": "\n    An activation without parameters; kwargs go to keras.layers.Layer (name, dtype, trainable).",
            "init_signature": "self, **kwargs",
            "init_body": "",
            "properties": "",
            "call_args": "x",
            "config_items": "",
            "constraints": "# (no parameters)",
        }
    init_args: list[str] = []
    body: list[str] = []
    properties: list[str] = []
    constraints: list[str] = []
    docs: list[str] = []
    call_args: list[str] = []
    config: list[str] = []
    for p in act.params:
        init_args.append(f"{p.name}: float = {p.init!r}")
        call_args.append(f"_per_channel(self.{p.name}, self.num_parameters)")
        config.append(f'"{p.name}": self._init_values[{len(config)}]')
        about = f" ({docstring_text(p.doc)})" if p.doc else ""

        def weight(attr: str, init: str, trainable: bool) -> str:
            return (
                f"self.{attr} = self.add_weight(name={attr!r}, shape=(self.num_parameters,), "
                f"initializer=keras.initializers.Constant({init}), trainable={trainable}, autocast=False)"
            )

        if not p.trainable:
            body.append(weight(p.name, f"float({p.name})", False))
            docs.append(f"{p.name}{about}: fixed (a non-trainable weight); init {p.init!r}.")
            continue
        constraint = _constraint(p)
        if constraint is None:
            body.append(weight(p.name, f"float({p.name})", True))
            docs.append(f"{p.name}{about}: trainable, unconstrained; init {p.init!r}.")
            continue
        to_value, to_raw, description = constraint
        docs.append(f"{p.name}{about}: trainable, init {p.init!r};")
        docs.append(f"    {description}.")
        body.append(weight(f"{p.name}_raw", f"_{p.name}_raw({p.name})", True))
        constraints.append(
            "\n".join([
                f"def _{p.name}_value(raw):",
                f'    """{description} (Note [Constrained parameters])."""',
                f"    return {to_value}",
                "",
                "",
                f"def _{p.name}_raw(value):",
                f'    """The raw value that gives {p.name} = value; ValueError outside the range."""',
                *_indent(to_raw),
            ])
        )
        properties.append(
            "\n".join([
                "@property",
                f"def {p.name}(self):",
                f'    """{description}: the value used in call, shape (num_parameters,)."""',
                f"    return _{p.name}_value(tf.convert_to_tensor(self.{p.name}_raw))",
            ])
        )
    names = ", ".join(p.name for p in act.params)
    ctor_doc = [
        "",
        "    num_parameters: 1 (the default: each parameter is one value for all of x) or C (one",
        "        value per channel: the channel axis is the last axis of x, as in Keras).",
        f"    {names}: initial values (default: the definition's init).",
        "    kwargs: passed to keras.layers.Layer (name, dtype, trainable).",
        "",
        "    Parameters:",
        *(f"        {d}" for d in docs),
        "",
        "    Note [Constrained parameters]",
        "        Positivity and bounds hold throughout training by reparametrisation, with no",
        "        projection step and no clamp (whose gradient would vanish outside the range):",
        "        the weight is <name>_raw, unconstrained, and call uses",
        "        lo + (hi - lo)*sigmoid(raw) for a parameter with bounds (lo, hi), and",
        "        softplus(raw) + tiny for a positive one without bounds (tiny: the dtype's",
        "        smallest normal number, so the value is > 0 even where softplus underflows).",
        "        An initial value outside the range is a ValueError.",
    ]
    init_values = ", ".join(f"float({p.name})" for p in act.params)
    return {
        "usage": _usage(act.name, cls, ", ".join(["x", *(p.name for p in act.params)]), [
            ("", "parameters at their init values, shared by all of x"),
            ("num_parameters=C", "one value per channel (last axis of x)"),
        ]),
        "ctor_signature": ", ".join(["num_parameters=1", *(f"{p.name}={p.init!r}" for p in act.params), "**kwargs"]),
        "ctor_doc": "\n".join(ctor_doc),
        "init_signature": f"self, num_parameters: int = 1, {', '.join(init_args)}, **kwargs",
        "init_body": "".join(
            "\n" + line
            for line in _indent([
                "self.num_parameters = int(num_parameters)",
                "if self.num_parameters < 1:",
                '    raise ValueError(f"num_parameters must be >= 1, got {num_parameters}")',
                f"self._init_values = ({init_values},)",
                *body,
            ], 2)
        ),
        "properties": "".join("\n\n" + "\n".join(_indent(p.splitlines())) for p in properties),
        "call_args": ", ".join(["x", *call_args]),
        "config_items": "".join(f", {c}" for c in ['"num_parameters": self.num_parameters', *config]),
        "constraints": "\n\n\n".join(constraints) or "# (no constrained parameter)",
    }


def _imports(printer: TFPrinter, layer: dict[str, str]) -> str:
    """The import block: what the template uses, what was printed, and math for constraints."""
    standard = set()
    if "math" in printer.module_imports or "math." in layer["constraints"]:
        standard.add("import math")
    third_party = {"import keras", "import tensorflow as tf"}
    return "\n\n".join("\n".join(sorted(group)) for group in (standard, third_party) if group)


def _float32_in_float64(quantities: Sequence[Quantity]) -> bool:
    """Whether any of the quantities computes float32 in float64: as decided by derive, or
    because its stable form calls one of :data:`FLOAT32_IN_FLOAT64`."""
    called = {type(f).__name__ for q in quantities for b in q.branches for f in b.expr.atoms(sp.Function)}
    return any(q.float32_via_float64 for q in quantities) or bool(called & FLOAT32_IN_FLOAT64)


def render_tf_ops(derivation: Derivation, header: str, formulas: str) -> str:
    """The whole ``tf_ops.py`` for one activation."""
    act = derivation.activation
    cls = class_name(act.name)
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    printer = TFPrinter()
    functions = [
        _branch_function("_f_tf", derivation, [derivation.forward], printer),
        _branch_function("_grad_tf", derivation, list(derivation.gradients), printer),
    ]
    unknown = set(printer.module_imports) - _PRINTED_MODULES
    if unknown:
        raise UnsupportedFunctionError(
            f"activation {act.name!r}: the tensorflow backend cannot import {sorted(unknown)}"
        )
    helpers = [_HELPER_SOURCE[h].strip() for h in sorted(printer.helpers)]
    surrogates = [q.wrt.name for q in derivation.gradients if q.kind == "surrogate" and q.wrt is not None]
    layer = _layer_parts(derivation)

    def as_tuple(names: list[str]) -> str:
        return "".join(f"{n!r}, " for n in names).rstrip(" ")

    def as_args(names: list[str]) -> str:
        return "".join(f"{n}, " for n in names).rstrip(" ")

    return load("tf_ops.py").substitute(
        wide_f=repr(_float32_in_float64([derivation.forward])),
        wide_grad=repr(_float32_in_float64(derivation.gradients)),
        header=header,
        imports=_imports(printer, layer),
        title=act.name,
        name=act.name,
        class_name=cls,
        doc=docstring_text(act.doc or f"The activation {act.name}."),
        formulas=docstring_text(formulas),
        args=", ".join(["x", *params]),
        params_list=as_args(params),
        differentiable_in=f"x and in {', '.join(trainable)}" if trainable else "x",
        surrogate_note=(
            f"\n    For {', '.join(surrogates)} it is the declared surrogate, a deliberate non-true gradient."
            if surrogates
            else ""
        ),
        params_tuple=as_tuple(params),
        trainable_tuple=as_tuple(trainable),
        helpers="\n\n\n".join(helpers) if helpers else "# (no helper functions)",
        branch_functions="\n\n\n".join(functions),
        **layer,
    )
