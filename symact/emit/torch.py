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

from ..derive import Derivation, Kind
from ..errors import UnsupportedFunctionError
from .templates import docstring_text, render
from .where import TensorOps, TensorPrinter, branch_function, constraint

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

class TorchPrinter(TensorPrinter):
    """Prints elementwise torch expressions; constants are Python floats.

    A Python float combined with a tensor takes the tensor's dtype, so float32 stays
    float32 without typed constants.
    """

    printmethod = "_torchcode"
    language = "torch"
    _kf = FUNCTIONS
    HELPERS = HELPERS
    NAMES = {"nan": "torch.nan", "inf": "torch.inf", "sqrt": "torch.sqrt", "rsqrt": "torch.rsqrt", "pow": "torch.pow", "where": "torch.where"}


def _usage(name: str, class_name: str, args: str, constructors: list[tuple[str, str]]) -> str:
    """The usage lines of the module docstring, comments aligned."""
    lines = [(f"act = {class_name}({a})", c) for a, c in constructors] or [(f"act = {class_name}()", "")]
    tail = "parameters: tensors or numbers broadcasting to x" if constructors else ""
    lines.append((f"y = {name}({args})", tail))
    width = max(len(code) for code, _ in lines)
    return "\n".join(f"    {code.ljust(width)}   # {c}" if c else f"    {code}" for code, c in lines)


def _module_parts(derivation: Derivation) -> dict[str, str | list[str]]:
    """The placeholders of the nn.Module and its parameter constraints."""
    act = derivation.activation
    if not act.params:
        return {
            "usage": _usage(act.name, act.class_name, "x", []),
            "ctor_signature": "",
            "ctor_doc": "An activation without parameters.",
            "init_signature": "self",
            "init_body": [],
            "properties": [],
            "forward_args": "x",
            "extra_repr": '""',
            "constraints": "# (no parameters)",
        }
    init_args, body, properties, constraints, docs, forward_args, reprs = [], [], [], [], [], [], []
    for p in act.params:
        init_args.append(f"{p.name}: float = {p.init!r}")
        forward_args.append(f"_per_channel(self.{p.name}, x)")
        reprs.append(f'f"{p.name}={{_show(self.{p.name})}}"')
        about = f" ({docstring_text(p.doc)})" if p.doc else ""
        full = "torch.full((num_parameters,), {value}, device=device, dtype=dtype)"
        checked = full.format(value=f'_finite({p.name}, "{p.name}")')
        reparam = constraint(p, "torch.sigmoid", "torch.nn.functional.softplus(raw) + torch.finfo(raw.dtype).tiny")
        if not p.trainable:
            body.append(f'self.register_buffer("{p.name}", {checked})')
            docs.append(f"{p.name}{about}: fixed (a buffer, not trained); init {p.init!r}.")
        elif reparam is None:
            body.append(f"self.{p.name} = torch.nn.Parameter({checked})")
            docs.append(f"{p.name}{about}: trainable, unconstrained; init {p.init!r}.")
        else:
            to_value, to_raw, description = reparam
            docs += [f"{p.name}{about}: trainable, init {p.init!r};", f"    {description}."]
            body.append(f"self.{p.name}_raw = torch.nn.Parameter({full.format(value=f'_{p.name}_raw({p.name})')})")
            constraints.append(
                render("torch_constraint.py", name=p.name, description=description, to_value=to_value, to_raw=to_raw)
            )
            properties += ["", render("torch_property.py", name=p.name, description=description)]
    return {
        "usage": _usage(act.name, act.class_name, ", ".join(["x", *(p.name for p in act.params)]), [
            ("", "parameters at their init values, shared by all of x"),
            ("num_parameters=C", "one value per channel (axis 1 of x), like nn.PReLU"),
        ]),
        "ctor_signature": ", ".join(["num_parameters=1", *(f"{p.name}={p.init!r}" for p in act.params), "*", "device=None", "dtype=None"]),
        "ctor_doc": render("torch_module_doc", names=", ".join(p.name for p in act.params), docs=docs),
        "init_signature": f"self, num_parameters: int = 1, {', '.join(init_args)}, *, device=None, dtype=None",
        "init_body": ["self.num_parameters = int(num_parameters)", *body],
        "properties": properties,
        "forward_args": ", ".join(["x", *forward_args]),
        "extra_repr": '", ".join([f"num_parameters={self.num_parameters}", ' + ", ".join(reprs) + "])",
        "constraints": "\n\n\n".join(c.removesuffix("\n") for c in constraints) or "# (no constrained parameter)",
    }


def _imports(printer: TorchPrinter) -> str:
    """The import block: what the template uses, what was printed, and math for constraints."""
    standard = {"contextlib", "functools", "gc", "importlib.util", "math", "pathlib", "sys"}
    third_party = {"torch", *printer.module_imports}
    return "\n\n".join("\n".join(f"import {m}" for m in sorted(group)) for group in (standard, third_party))


def render_torch_ops(derivation: Derivation, header: str, formulas: str, digest: str) -> str:
    """The whole ``torch_ops.py`` for one activation."""
    act = derivation.activation
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    printer = TorchPrinter()
    ops = TensorOps("torch.where", "torch.isnan", full=lambda constant: f"torch.full_like(x, {constant})")
    functions = [
        branch_function("_f_torch", derivation, [derivation.forward], printer, ops, single=True),
        branch_function("_grad_torch", derivation, list(derivation.gradients), printer, ops),
    ]
    unknown = set(printer.module_imports) - {"torch"}
    if unknown:
        raise UnsupportedFunctionError(
            f"activation {act.name!r}: the torch backend cannot import {sorted(unknown)}"
        )
    helpers = [_HELPER_SOURCE[h].strip() for h in sorted(printer.helpers)]
    surrogates = [q.wrt_name for q in derivation.gradients if q.kind is Kind.SURROGATE]
    module = _module_parts(derivation)
    tensor = "torch.Tensor"

    def as_tuple(names: list[str]) -> str:
        return "".join(f"{n!r}, " for n in names).rstrip(" ")

    def as_args(names: list[str]) -> str:
        return "".join(f"{n}, " for n in names).rstrip(" ")

    return render(
        "torch_ops.py",
        wide_f=repr(derivation.forward.float32_via_float64),
        wide_grad=repr(any(q.float32_via_float64 for q in derivation.gradients)),
        header=header,
        imports=_imports(printer),
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
        surrogate_note=[f"For {', '.join(surrogates)} it is the declared surrogate, a deliberate non-true gradient."]
        if surrogates
        else [],
        params_tuple=as_tuple(params),
        trainable_tuple=as_tuple(trainable),
        kernels_module=f"symact_generated_{act.name}_kernels",
        op_name=f"symact::{act.name}_{digest[:12]}",
        helpers="\n\n\n".join(helpers) if helpers else "# (no helper functions)",
        branch_functions="\n\n\n".join(functions),
        **module,
    )
