"""The Numba backend: ``kernels.py`` with fused, parallel forward and backward kernels.

Each activation gets one scalar function for f and one for its gradients per dtype
(float32 and float64 are printed separately so that every constant is typed and nothing
is silently upcast), wrapped in ``prange`` loops: a flat loop for scalar parameters and a
row loop for per-channel parameters. Parameter gradients are reduced in the same pass,
as float64 partial sums per chunk of elements.
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..derive import Derivation
from ..errors import UnsupportedFunctionError
from .printer import TypedConstants, cse_branch, group_branches, integer_power, print_or_fail
from .templates import load

__all__ = ["NumbaPrinter", "render_kernels"]

DTYPES = {"f32": "float32", "f64": "float64"}

#: Functions printed as a call to a helper defined in the generated file.
HELPERS = {
    "Sigmoid": "_sigmoid",
    "Softplus": "_softplus",
}

#: NumPy ufuncs used where ``math`` would return an integer in Numba.
NUMPY_FUNCTIONS = {"floor": "np.floor", "ceiling": "np.ceil"}

_HELPER_SOURCE = {
    "_sigmoid": '''
@numba.njit(inline="always", error_model="numpy")
def _sigmoid_{sfx}(u):
    # Note [Stable sigmoid]: exp of a non-positive number only, so no overflow on either tail.
    if u >= {zero}:
        return {one} / ({one} + math.exp(-u))
    e = math.exp(u)
    return e / ({one} + e)
''',
    "_softplus": '''
@numba.njit(inline="always", error_model="numpy")
def _softplus_{sfx}(u):
    # log(1 + e^u) = max(u, 0) + log1p(e^-|u|): exact for large |u|, no overflow.
    return max(u, {zero}) + math.log1p(math.exp(-abs(u)))
''',
}


class NumbaPrinter(TypedConstants, PythonCodePrinter):
    """Prints scalar Numba code for one dtype, with every constant typed."""

    printmethod = "_numbacode"
    language = "numba"

    def __init__(self, dtype: str, settings: dict[str, Any] | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.dtype = dtype
        self.suffix = {v: k for k, v in DTYPES.items()}[dtype]
        self.helpers: set[str] = set()

    def const(self, value: float) -> str:
        value = float(value)
        text = repr(value) if math.isfinite(value) else f"np.{'nan' if value != value else 'inf'}"
        if value == float("-inf"):
            text = "-np.inf"
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
        return f"{b}**{self.const(float(exp))}"

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

    def _print_Erfc(self, expr: sp.Function) -> str:
        return f"{self._module_format('math.erfc')}({self._print(expr.args[0])})"

    def _print_Exp(self, expr: sp.Function) -> str:
        return f"{self._module_format('math.exp')}({self._print(expr.args[0])})"

    def _print_sech(self, expr: sp.Function) -> str:
        return f"({self.const(1)}/{self._module_format('math.cosh')}({self._print(expr.args[0])}))"

    def _print_floor(self, expr: sp.Function) -> str:
        return f"np.floor({self._print(expr.args[0])})"

    def _print_ceiling(self, expr: sp.Function) -> str:
        return f"np.ceil({self._print(expr.args[0])})"

    def _print_Abs(self, expr: sp.Function) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        # Nested conditional expressions are lazy: see Note [Branch-local evaluation].
        text = "nan_value"
        for e, c in reversed(expr.args):
            if c == sp.true:
                text = self._print(e)
            else:
                text = f"(({self._print(e)}) if {self._print(c)} else ({text}))"
        return text.replace("nan_value", self.const(float("nan")))

    def _print_BooleanTrue(self, expr: sp.Basic) -> str:
        return "True"

    def _print_BooleanFalse(self, expr: sp.Basic) -> str:
        return "False"


def _scalar_function(
    name: str,
    derivation: Derivation,
    quantities: list[Any],
    printer: NumbaPrinter,
) -> str:
    """The source of one scalar njit function returning the given quantities."""
    act = derivation.activation
    args = ", ".join(["x", *(p.name for p in act.params)])
    nan = printer.const(float("nan"))
    names = [f"_{q.name}" for q in quantities]
    lines = [
        '@numba.njit(inline="always", error_model="numpy")',
        f"def {name}_{printer.suffix}({args}):",
        "    if x != x:  # NaN in, NaN out, whatever branch the comparisons would pick",
        f"        return {', '.join([nan] * len(names))}",
    ]
    where = f"activation {act.name!r}"
    for group in group_branches(quantities):
        body: list[str] = []
        for b, cond in enumerate(group.conditions):
            replacements, reduced = cse_branch(group.exprs[b])
            block = [
                f"{print_or_fail(printer, sym, where)} = {print_or_fail(printer, e, where)}"
                for sym, e in replacements
            ]
            block += [
                f"_{qname} = {print_or_fail(printer, e, where)}"
                for qname, e in zip(group.names, reduced)
            ]
            if cond == sp.true:
                keyword = "else:" if b > 0 else None
            else:
                keyword = f"{'if' if b == 0 else 'elif'} {print_or_fail(printer, cond, where)}:"
            if keyword is None:
                body += block
            else:
                body.append(keyword)
                body += indent(block, 1)
        if group.conditions[-1] != sp.true:
            body.append("else:")
            body += indent([f"_{qname} = {nan}" for qname in group.names], 1)
        lines += indent(body, 1)
    lines.append(f"    return {', '.join(names)}")
    return "\n".join(lines)


def indent(lines: list[str], levels: int) -> list[str]:
    return [("    " * levels + line) if line else line for line in lines]


def _loops(sfx: str, params: list[str], grads: list[str]) -> str:
    """The prange loops around the scalar functions for one dtype.

    Every local name starts with '_' so that no parameter name can shadow it.
    """
    jit = '@numba.njit(parallel=True, cache=True, error_model="numpy")'
    p_args = "".join(f", {p}" for p in params)
    p_chan = "".join(f", _c_{p}" for p in params)
    pick = [f"_c_{p} = {p}[_c]" for p in params]
    n_par = len(grads) - 1
    locals_ = [f"_{g}" for g in grads]
    accs = [f"_acc_{g[2:]}" for g in grads[1:]]
    step = [f"{', '.join(locals_)} = _grad_{sfx}(x[{{i}}]{{args}})", "_gi = _g[{i}]", "_gx[{i}] = _gi * _d_x"]
    step += [f"{a} += _gi * {d}" for a, d in zip(accs, locals_[1:])]
    store = [f"_partial[{{row}}, {k}] = {a}" for k, a in enumerate(accs)]
    init = [f"{a} = 0.0" for a in accs]

    def fill(lines: list[str], **kw: str) -> list[str]:
        return [line.format(**kw) for line in lines]

    chan_row = ["_a = _r // _channels", "_c = _r - _a * _channels", *pick]
    out = [
        jit,
        f"def _forward_flat_{sfx}(x, _out{p_args}):",
        "    for _i in numba.prange(x.shape[0]):",
        f"        _out[_i] = _f_{sfx}(x[_i]{p_args})",
        "",
        "",
        jit,
        f"def _forward_chan_{sfx}(x, _out{p_args}):",
        "    _outer, _channels, _inner = x.shape",
        "    for _r in numba.prange(_outer * _channels):",
        *indent(chan_row, 2),
        "        for _b in range(_inner):",
        f"            _out[_a, _c, _b] = _f_{sfx}(x[_a, _c, _b]{p_chan})",
        "",
        "",
        jit,
        f"def _backward_flat_{sfx}(_g, x, _gx, _chunks{p_args}):",
        "    _n = x.shape[0]",
        f"    _partial = np.zeros((_chunks, {n_par}), dtype=np.float64)",
        "    _size = (_n + _chunks - 1) // _chunks",
        "    for _k in numba.prange(_chunks):",
        *indent(init, 2),
        "        for _i in range(_k * _size, min(_n, (_k + 1) * _size)):",
        *indent(fill(step, i="_i", args=p_args), 3),
        *indent(fill(store, row="_k"), 2),
        "    return _partial",
        "",
        "",
        jit,
        f"def _backward_chan_{sfx}(_g, x, _gx{p_args}):",
        "    _outer, _channels, _inner = x.shape",
        f"    _partial = np.zeros((_outer * _channels, {n_par}), dtype=np.float64)",
        "    for _r in numba.prange(_outer * _channels):",
        *indent(chan_row, 2),
        *indent(init, 2),
        "        for _b in range(_inner):",
        *indent(fill(step, i="_a, _c, _b", args=p_chan), 3),
        *indent(fill(store, row="_r"), 2),
        "    return _partial",
    ]
    return "\n".join(out)


def _widened(name: str, derivation: Derivation, quantities: list[Any]) -> str:
    """A float32 scalar function that computes in float64 and rounds once."""
    params = [p.name for p in derivation.activation.params]
    args = ", ".join(["x", *params])
    wide = ", ".join(f"np.float64({a})" for a in ["x", *params])
    names = [f"_{q.name}" for q in quantities]
    return "\n".join(
        [
            '@numba.njit(inline="always", error_model="numpy")',
            f"def {name}_f32({args}):",
            "    # Note [float32 computed in float64]: float32 arithmetic misses the accuracy bound here.",
            f"    {', '.join(names)} = {name}_f64({wide})",
            f"    return {', '.join(f'np.float32({n})' for n in names)}",
        ]
    )


def render_kernels(derivation: Derivation, header: str, formulas: str) -> str:
    """The whole ``kernels.py`` for one activation."""
    act = derivation.activation
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    grads = [q.name for q in derivation.gradients]
    functions: list[str] = []
    helpers: list[str] = []
    loops: list[str] = []
    uses_math = False
    for sfx, dtype in DTYPES.items():
        printer = NumbaPrinter(dtype)
        for name, quantities in (("_f", [derivation.forward]), ("_grad", list(derivation.gradients))):
            if sfx == "f32" and any(q.float32_via_float64 for q in quantities):
                functions.append(_widened(name, derivation, quantities))
            else:
                functions.append(_scalar_function(name, derivation, quantities, printer))
        unknown = set(printer.module_imports) - {"math"}
        if unknown:
            raise UnsupportedFunctionError(
                f"activation {act.name!r}: the numba backend cannot import {sorted(unknown)}"
            )
        uses_math = uses_math or bool(printer.module_imports.get("math")) or bool(printer.helpers)
        for helper in sorted(printer.helpers):
            helpers.append(
                _HELPER_SOURCE[helper]
                .strip()
                .format(sfx=sfx, zero=printer.const(0), one=printer.const(1))
            )
        loops.append(_loops(sfx, params, grads))

    def as_tuple(names: list[str]) -> str:
        return "".join(f"{n!r}, " for n in names).rstrip(" ")

    return load("kernels.py").substitute(
        header=header,
        imports="import math\nimport sys" if uses_math else "import sys",
        module_name=f"symact_generated_{act.name}_kernels",
        title=act.name,
        doc=act.doc or f"The activation {act.name}.",
        formulas=formulas,
        args=", ".join(["x", *params]),
        grad_list=", ".join(f"grad_{n[2:]}" for n in grads),
        trainable_list=", ".join(trainable) if trainable else "none",
        params_tuple=as_tuple(params),
        trainable_tuple=as_tuple(trainable),
        widened_tuple=as_tuple([q.name for q in derivation.quantities if q.float32_via_float64]),
        helpers="\n\n\n".join(helpers) if helpers else "# (no helper functions)",
        scalar_functions="\n\n\n".join(functions),
        loops="\n\n\n".join(loops),
    )
