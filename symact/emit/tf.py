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

import dataclasses
import math
from collections.abc import Sequence

import sympy as sp

from ..derive import Derivation, Kind, Quantity
from ..elementary import _ERFCX_W_TERMS, _erfcx_g_coefficients
from ..errors import UnsupportedFunctionError
from ..functions import Erfc, Erfcx, Exp
from ..names import class_name
from .saturation import clamped_forms, saturation_thresholds
from .templates import docstring_text, render
from .where import TensorOps, TensorPrinter, branch_function, constraint

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
HELPERS = {"sech": "_sech", "Sigmoid": "_sigmoid", "Erfcx": "_erfcx_w", "ExpW": "_exp_w"}


#: Functions whose TF float32 kernels are polynomial approximations several ULPs off, more
#: than the accuracy bound allows where a quantity is well conditioned: a quantity whose
#: stable form calls one computes float32 inputs in float64 (as Note [float32 computed in
#: float64] in kernels.py, decided here per backend), except that erfc alone asks for no
#: more than its erfcx fit in float64 (Note [float32 erfc through a float64 erfcx fit]).
FLOAT32_IN_FLOAT64 = frozenset({"erf", "erfc", "Erfc", "tanh", "expm1"})

_HELPER_SOURCE = {
    "_sigmoid": '''
def _sigmoid(u):
    # 1/(1 + e^-u) from one exp of -|u| (no overflow on either tail) and one division,
    # within a few tenths of an ULP of exp's accuracy; TF's float32 sigmoid kernel is a
    # coarser approximation.
    e = tf.math.exp(-tf.math.abs(u))
    r = 1.0 / (1.0 + e)
    return tf.where(u >= 0.0, r, e * r)
''',
    "_saturated": '''
def _saturated(x, lo, hi):
    # x clamped to [lo, hi], each a pair of bounds (float32, float64) for the compute dtype,
    # or None for no bound: beyond them the formulas have reached their values at -inf and
    # +inf, and their derivatives 0 (Note [Saturation clamp] in symact.emit.saturation).
    # One op (a max and a min under XLA) instead of comparisons with +-inf and selects of
    # the limits. ClipByValue, not tf.clip_by_value: its gradient passes where x is NaN
    # (a maximum's is 0 there), so NaN in gives NaN at second order too.
    wide = x.dtype == tf.float64
    lower = tf.constant(-math.inf if lo is None else lo[wide], x.dtype)
    upper = tf.constant(math.inf if hi is None else hi[wide], x.dtype)
    return tf.raw_ops.ClipByValue(t=x, clip_value_min=lower, clip_value_max=upper)
''',
    "_saturated_product": '''
def _saturated_product(x, factor, lo, hi):
    # factor*x clamped to [lo, hi], each a pair of bounds (float32, float64) for the compute
    # dtype (Note [One side of a sign split, clamped] in symact.emit.saturation). Its
    # gradient is that of the clamp and the product with both taken branch-local: 0 beyond
    # the bounds, where x may be +-inf and TF's gradient of the product would take 0*inf =
    # NaN for factor; NaN where the product is NaN. It is TF operations, differentiable again.
    wide = x.dtype == tf.float64
    lower, upper = tf.constant(lo[wide], x.dtype), tf.constant(hi[wide], x.dtype)

    @tf.custom_gradient
    def clamped(x, factor):
        product = factor * x

        def gradient(upstream):
            inside = ~((product < lower) | (product > upper))
            through = tf.where(inside, upstream, 0.0)
            return through * factor, _sum_to(through * tf.where(inside, x, 0.0), tf.shape(factor))

        return tf.raw_ops.ClipByValue(t=product, clip_value_min=lower, clip_value_max=upper), gradient

    return clamped(x, tf.cast(factor, x.dtype))
''',
    "_exp_w": '''
def _exp_w(z):
    # e^z for z <= 0 in the float64 arithmetic of float32 inputs computed in float64, to
    # float32 accuracy: float32's exp of z rounded to float32, times 1 plus that rounding's
    # residual, exact in float64 (Note [float32 erfc through a float64 erfcx fit] in
    # symact.emit.tf). Its TF gradient is the same product, in float32's precision. z is
    # first clamped at -200, where float32's exp is 0 already, so that -inf has no
    # residual inf - inf = NaN (ClipByValue passes NaN, and its gradient).
    z = tf.raw_ops.ClipByValue(t=z, clip_value_min=tf.constant(-200.0, z.dtype), clip_value_max=tf.constant(0.0, z.dtype))
    h = tf.cast(z, tf.float32)
    return tf.cast(tf.math.exp(h), z.dtype) * (1.0 + (z - tf.cast(h, z.dtype)))
''',
    "_sech": '''
def _sech(u):
    # 1/cosh(u) as 2e^-|u|/(1 + e^-2|u|): cosh overflows for large |u|, and TF's gradient
    # would then take 0*inf = NaN; this form has neither. A reciprocal times 2e^-|u|, not a
    # quotient, so that XLA fuses it into a consumer that uses it twice (sech(u)**2; Note
    # [Divisions under XLA] in symact.emit.tf); e^-2|u| as e times max(e, 0), which XLA
    # does not turn into a second exp (Note [Products of exponentials under XLA] there).
    e = tf.math.exp(-tf.math.abs(u))
    return 2.0 * e * (1.0 / (1.0 + e * tf.math.maximum(e, 0.0)))
''',
}

# Note [float32 erfc through a float64 erfcx fit]
# TF's float32 erfc misses the accuracy bound, and its float64 erfc is exact to float64
# and costly under XLA: three rational approximations, each with a division, evaluated for
# every element and selected. A quantity that calls erfc has a second version of its
# formulas for float32 (and float16, bfloat16) inputs (_f_tf_w, _grad_tf_w), with erfc(u)
# as e^(-u^2)*erfcx(|u|) (2 minus that for u < 0): as symact.elementary.erfc_through_erfcx
# does for the kernels, which also lets CSE share e^(-u^2) with an equal exp already in
# the formula (gelu' = Phi(x) + x*phi(x) computes e^(-x^2/2) once). Those formulas run in
# float32, TF's float32 exp included, except the erfcx fit, the one part where float32
# arithmetic misses the bound: _erfcx_w casts its argument to float64, evaluates the fit
# the float64 kernels' _erfcx_w use (one division) and rounds the result to float32 once.
# So the float64 region is the smallest group of operations that needs it: the whole
# formula in float64 took a quarter more time for gelu's gradient under XLA (float64
# arithmetic runs at half the vector width), and all of it in float32, a float32 erfcx fit
# included, misses the bound. The erfcx helper is a tf.custom_gradient whose gradient is
# its exact derivative 2a*erfcx(a) - 2/sqrt(pi), in float64 too (it cancels for large a),
# so second order does not differentiate the fit; |u| is a where on u >= 0, whose
# derivative at u = 0 is that of the side selected there (TF's gradient of abs at 0 is 0).
# float64 inputs keep TF's erfc. The derive step's float32_via_float64 of such a quantity
# (the kernels' decision, on a stricter bar than the bound) is not what TF follows: the
# generated golden tests hold the float32 result to the bound.
# Where the rewritten formulas still call a function whose TF float32 kernel misses the
# bound (erf, tanh, expm1), they run in float64 as a whole, with their exponentials of a
# non-positive argument as float32's exp of the argument rounded to float32, times 1 plus
# the rounding's residual (_exp_w): float64's exp is a longer polynomial at half the
# vector width, and float32's is within an ULP of float32 for the float32 result these
# formulas round to (a non-positive argument: no overflow; below float32's smallest normal
# the result rounds to 0 in float32 all the same).


def _erfcx_w_source() -> str:
    """The ``_erfcx_w`` helper: Note [float32 erfc through a float64 erfcx fit]."""
    k, g = _erfcx_g_coefficients(_ERFCX_W_TERMS)
    horner = [f"    q = tf.constant({g[0]!r}, tf.float64)", *(f"    q = q * z + {c!r}" for c in g[1:])]
    return "\n".join([
        "@tf.custom_gradient",
        "def _erfcx_w(a):",
        "    # e^(a^2)*erfc(a) for a >= 0 to float32 accuracy (relative error below 1.5e-8),",
        "    # computed in float64 and rounded to the dtype of a once (Note [float32 erfc through",
        "    # a float64 erfcx fit] in symact.emit.tf): G((a - k)/(a + k))/(a + k), G a Chebyshev",
        "    # fit (Weideman's form; the float64 kernels' _erfcx_w). Its derivative",
        "    # 2a*erfcx(a) - 2/sqrt(pi) is the gradient, in float64 too (it cancels for large a),",
        "    # exact and differentiable again.",
        "    b = tf.cast(a, tf.float64)",
        f"    w = 1.0 / (b + {k!r})",
        "    # (b - k)/(b + k) as 1 - 2k/(b + k): 1 at b = inf (where (b - k)*w is inf*0), y = 0",
        f"    z = 1.0 - {2 * k!r} * w",
        *horner,
        "    y = q * w",
        "",
        "    def gradient(upstream):",
        f"        return upstream * tf.cast(2.0 * b * y - {2 / math.sqrt(math.pi)!r}, a.dtype)",
        "",
        "    return tf.cast(y, a.dtype), gradient",
    ])


_HELPER_SOURCE["_erfcx_w"] = _erfcx_w_source()


def _erfc_narrowed(quantity: Quantity, float32_exp: bool = False) -> Quantity | None:
    """Note [float32 erfc through a float64 erfcx fit]: ``quantity`` with every erfc(u)
    written as e^(−u²)·erfcx(|u|) (2 minus that for u < 0), |u| as where(u >= 0, u, −u) so
    that its derivative at u = 0 is that of the side selected there (TF's gradient of abs at
    0 is 0), and with ``float32_exp`` (formulas computed in float64) every exponential of a
    non-positive argument as float32's (ExpW); None when it calls no erfc."""

    def split(u: sp.Expr) -> sp.Expr:
        # as symact.elementary.erfc_through_erfcx, with |u| as a where on the same condition
        scaled = sp.exp(-(u**2)) * Erfcx(sp.Piecewise((u, u >= 0), (-u, True)))
        return sp.Piecewise((scaled, u >= 0), (2 - scaled, True))

    def rewrite(expr: sp.Expr) -> sp.Expr:
        expr = expr.replace(lambda e: isinstance(e, (Erfc, sp.erfc)), lambda e: split(e.args[0]))
        if not float32_exp:
            return expr
        return expr.replace(
            lambda e: isinstance(e, (sp.exp, Exp)) and e.args[0].is_nonpositive is True, lambda e: ExpW(e.args[0])
        )

    branches = tuple(dataclasses.replace(b, expr=rewrite(b.expr)) for b in quantity.branches)
    if all(new.expr == old.expr for new, old in zip(branches, quantity.branches)):
        return None
    return dataclasses.replace(quantity, branches=branches)


def _narrowed(quantities: Sequence[Quantity]) -> tuple[list[Quantity] | None, bool]:
    """The formulas float32 inputs run, when they differ from the float64 ones, and whether
    they run in float64 (Note [float32 erfc through a float64 erfcx fit]): ``quantities``
    with erfc rewritten, or None when none calls erfc; in float32 unless a rewritten one
    still calls one of :data:`FLOAT32_IN_FLOAT64` or an unchanged one computes float32 in
    float64 for its own reasons."""
    rewritten = [_erfc_narrowed(q) for q in quantities]
    if all(r is None for r in rewritten):
        return None, _float32_in_float64(quantities)
    wide = any(_calls_float64(r) if r is not None else _float32_in_float64([q]) for r, q in zip(rewritten, quantities))
    if wide:
        rewritten = [_erfc_narrowed(q, float32_exp=True) for q in quantities]
    return [r or q for r, q in zip(rewritten, quantities)], wide


#: Module names the printed code may use (``tf.math.exp`` records ``tf.math``).
_PRINTED_MODULES = frozenset({"tf", "tf.math", "math"})


def _wrapped(text: str) -> bool:
    """Whether ``text`` is one parenthesised group, ``(...)``."""
    depth = 0
    for k, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and k < len(text) - 1:
            return False
    return text.startswith("(") and depth == 0


class Reciprocal(sp.Function):
    """1/u, printed as ``(1.0/(u))``: a division whose numerator is a constant (see
    :meth:`TFPrinter.shared`)."""

    nargs = 1


# Note [Products of exponentials under XLA]
# XLA's algebraic simplifier rewrites exp(a)*exp(b) as exp(a + b), also when a is b and
# when the exponentials have other uses: then the product costs a second exponential (a
# polynomial of some twenty operations per element) where it was one multiplication.
# mish's gradient squares its e^(-|x|), swish's d_beta squares 1/cosh's e^(-|u|). An
# exponential that a product multiplies by an exponential is printed as max(e^u, 0), the
# same number (NaN included) and the same derivative (e^u >= 0, so the gradient of the
# maximum passes to it), which the simplifier does not see through: one operation instead
# of twenty. (Printed as exp(2u) the square would be the second exponential again.)


class ExpW(sp.Function):
    """e^u printed as ``_exp_w(u)``: float32's exp in float64 formulas (Note [erfc for
    float32 computed in float64])."""

    nargs = 1


class KeptExp(sp.Function):
    """An exponential printed as ``tf.math.maximum(e, 0.0)``: Note [Products of exponentials
    under XLA]."""

    nargs = 1


class TFPrinter(TensorPrinter):
    """Prints elementwise TensorFlow expressions; constants are Python floats.

    A Python float combined with a tensor (``0.5*x``, ``tf.where(c, x, 0.0)``) is converted
    to the tensor's dtype, so float32 stays float32 without typed constants.
    """

    printmethod = "_tfcode"
    language = "tensorflow"
    _kf = FUNCTIONS
    HELPERS = HELPERS
    NAMES = {"nan": "math.nan", "inf": "math.inf", "sqrt": "tf.math.sqrt", "rsqrt": "tf.math.rsqrt", "pow": "tf.math.pow", "where": "tf.where"}

    def typed(self, constant: str) -> str:
        """A printed constant as a tensor of the dtype of x, for the value arguments of
        tf.where: in a graph, a Python float there is float32 whatever the other argument
        (every printed function has x as its first argument)."""
        return f"{self._module_format('tf.constant')}({constant}, x.dtype)"

    def shared(self, expr: sp.Expr, paired: bool = False) -> sp.Expr:
        """Note [Divisions under XLA]: a common subexpression a/b (a not a constant) as
        a*(1/b). Note [Products of exponentials under XLA]: an exponential that a product
        multiplies by an exponential as max(e^u, 0) (``paired``).

        XLA on CPU fuses elementwise operations into loops, but does not fuse a division
        with a variable numerator into a consumer that uses its value twice (it counts
        the division as too costly to evaluate twice): the quotient is then written to
        memory by one loop and read back by another, a pass over memory more for each
        such value, where TF's autodiff of the same formula runs in fewer passes. A
        reciprocal 1/b (a constant numerator) is fused, so a quotient used several times
        is printed as a times the reciprocal of b: one rounding more (half an ULP), one
        loop fewer."""
        if paired and isinstance(expr, (sp.exp, Exp)):
            return KeptExp(expr)
        if not isinstance(expr, sp.Mul):
            return expr
        below = [f for f in expr.args if isinstance(f, sp.Pow) and f.exp.is_negative and not f.base.is_Number]
        above = [f for f in expr.args if f not in below]
        if not below or all(f.is_Number for f in above):
            return expr
        denominator = sp.Mul(*(f.base ** -f.exp for f in below))
        return sp.Mul(*above, Reciprocal(denominator), evaluate=False)

    def _print_KeptExp(self, expr: sp.Expr) -> str:
        maximum = self._module_format("tf.math.maximum")
        return f"{maximum}({self._print(expr.args[0])}, {self.const(0)})"

    def _print_Reciprocal(self, expr: sp.Expr) -> str:
        text = self._print(expr.args[0])
        return f"({self.const(1)}/{text if _wrapped(text) else f'({text})'})"


def _usage(name: str, cls: str, args: str, constructors: list[tuple[str, str]]) -> str:
    """The usage lines of the module docstring, comments aligned."""
    lines = [(f"layer = {cls}({a})", c) for a, c in constructors] or [(f"layer = {cls}()", "")]
    tail = "parameters: tensors, variables or numbers broadcasting to x" if constructors else ""
    lines.append((f"y = {name}({args})", tail))
    width = max(len(code) for code, _ in lines)
    return "\n".join(f"    {code.ljust(width)}   # {c}" if c else f"    {code}" for code, c in lines)


def _weight(attr: str, init: str, trainable: bool) -> str:
    """The line of the layer's __init__ that creates one weight."""
    return (
        f"self.{attr} = self.add_weight(name={attr!r}, shape=(self.num_parameters,), "
        f"initializer=keras.initializers.Constant({init}), trainable={trainable}, autocast=False)"
    )


def _layer_parts(derivation: Derivation) -> dict[str, str | list[str]]:
    """The placeholders of the Keras layer and its parameter constraints."""
    act = derivation.activation
    cls = class_name(act.name)
    if not act.params:
        return {
            "usage": _usage(act.name, cls, "x", []),
            "ctor_signature": "**kwargs",
            "ctor_doc": "An activation without parameters; kwargs go to keras.layers.Layer (name, dtype, trainable).",
            "init_signature": "self, **kwargs",
            "init_body": [],
            "properties": [],
            "call_args": "x",
            "config_items": "",
            "constraints": "# (no parameters)",
        }
    body: list[str] = []
    properties: list[str] = []
    constraints: list[str] = []
    docs: list[str] = []
    for p in act.params:
        about = f" ({docstring_text(p.doc)})" if p.doc else ""
        reparam = constraint(p, "tf.math.sigmoid", "tf.math.softplus(raw) + _TINY[raw.dtype.name]")
        if not p.trainable:
            body.append(_weight(p.name, f"float({p.name})", False))
            docs.append(f"{p.name}{about}: fixed (a non-trainable weight); init {p.init!r}.")
        elif reparam is None:
            body.append(_weight(p.name, f"float({p.name})", True))
            docs.append(f"{p.name}{about}: trainable, unconstrained; init {p.init!r}.")
        else:
            to_value, to_raw, description = reparam
            docs += [f"{p.name}{about}: trainable, init {p.init!r};", f"    {description}."]
            body.append(_weight(f"{p.name}_raw", f"_{p.name}_raw({p.name})", True))
            constraints.append(
                render("tf_constraint.py", name=p.name, description=description, to_value=to_value, to_raw=to_raw)
            )
            properties += ["", render("tf_property.py", name=p.name, description=description)]
    config = [f'"{p.name}": self._init_values[{k}]' for k, p in enumerate(act.params)]
    return {
        "usage": _usage(act.name, cls, ", ".join(["x", *(p.name for p in act.params)]), [
            ("", "parameters at their init values, shared by all of x"),
            ("num_parameters=C", "one value per channel (last axis of x)"),
        ]),
        "ctor_signature": ", ".join(["num_parameters=1", *(f"{p.name}={p.init!r}" for p in act.params), "**kwargs"]),
        "ctor_doc": render("tf_layer_doc", names=", ".join(p.name for p in act.params), docs=docs),
        "init_signature": f"self, num_parameters: int = 1, {', '.join(f'{p.name}: float = {p.init!r}' for p in act.params)}, **kwargs",
        "init_body": [
            "self.num_parameters = int(num_parameters)",
            "if self.num_parameters < 1:",
            '    raise ValueError(f"num_parameters must be >= 1, got {num_parameters}")',
            f"self._init_values = ({', '.join(f'float({p.name})' for p in act.params)},)",
            *body,
        ],
        "properties": properties,
        "call_args": ", ".join(["x", *(f"_per_channel(self.{p.name}, self.num_parameters)" for p in act.params)]),
        "config_items": "".join(f", {c}" for c in ['"num_parameters": self.num_parameters', *config]),
        "constraints": "\n\n\n".join(c.removesuffix("\n") for c in constraints) or "# (no constrained parameter)",
    }


def _imports(printer: TFPrinter) -> str:
    """The import block: what the template uses (math for _finite, os for SYMACT_TF_XLA) and
    what was printed."""
    standard = {"import math", "import os"}
    third_party = {"import keras", "import tensorflow as tf"}
    return "\n\n".join("\n".join(sorted(group)) for group in (standard, third_party) if group)


def _calls_float64(quantity: Quantity) -> bool:
    """Whether the stable form of ``quantity`` calls one of :data:`FLOAT32_IN_FLOAT64`."""
    called = {type(f).__name__ for b in quantity.branches for f in b.expr.atoms(sp.Function)}
    return bool(called & FLOAT32_IN_FLOAT64)


def _float32_in_float64(quantities: Sequence[Quantity]) -> bool:
    """Whether any of the quantities computes float32 in float64: as decided by derive, or
    because its stable form calls one of :data:`FLOAT32_IN_FLOAT64`."""
    return any(q.float32_via_float64 or _calls_float64(q) for q in quantities)


def render_tf_ops(derivation: Derivation, header: str, formulas: str) -> str:
    """The whole ``tf_ops.py`` for one activation."""
    act = derivation.activation
    cls = class_name(act.name)
    params = [p.name for p in act.params]
    trainable = [p.name for p in act.trainable_params]
    printer = TFPrinter()
    ops = TensorOps(
        "tf.where",
        "tf.math.is_nan",
        printer.typed,
        reuse_masks=True,
        saturation=saturation_thresholds(derivation),
        clamped=clamped_forms(derivation),
    )
    functions = [
        branch_function("_f_tf", derivation, [derivation.forward], printer, ops, single=True, values_only=True),
        branch_function("_grad_tf", derivation, list(derivation.gradients), printer, ops),
    ]
    # Note [float32 erfc through a float64 erfcx fit]: the formulas of narrower inputs,
    # where they differ, and whether they compute in float64.
    calls = {"f_call": "_f_tf", "grad_call": "_grad_tf"}
    narrowed_f, wide_f = _narrowed([derivation.forward])
    if narrowed_f is not None:
        functions.append(
            branch_function("_f_tf_w", derivation, narrowed_f, printer, ops, single=True, values_only=True)
        )
        calls["f_call"] = "(_f_tf if x.dtype == tf.float64 else _f_tf_w)"
    narrowed, wide_grad = _narrowed(derivation.gradients)
    if narrowed is not None:
        functions.append(branch_function("_grad_tf_w", derivation, narrowed, printer, ops))
        calls["grad_call"] = "(_grad_tf if x.dtype == tf.float64 else _grad_tf_w)"
    unknown = set(printer.module_imports) - _PRINTED_MODULES
    if unknown:
        raise UnsupportedFunctionError(
            f"activation {act.name!r}: the tensorflow backend cannot import {sorted(unknown)}"
        )
    helpers = [_HELPER_SOURCE[h].strip() for h in sorted(printer.helpers)]
    surrogates = [q.wrt_name for q in derivation.gradients if q.kind is Kind.SURROGATE]
    layer = _layer_parts(derivation)

    def as_tuple(names: list[str]) -> str:
        return "".join(f"{n!r}, " for n in names).rstrip(" ")

    def as_args(names: list[str]) -> str:
        return "".join(f"{n}, " for n in names).rstrip(" ")

    return render(
        "tf_ops.py",
        wide_f=repr(wide_f),
        wide_grad=repr(wide_grad),
        **calls,
        header=header,
        imports=_imports(printer),
        title=act.name,
        name=act.name,
        class_name=cls,
        doc=docstring_text(act.doc or f"The activation {act.name}."),
        formulas=docstring_text(formulas),
        args=", ".join(["x", *params]),
        params_list=as_args(params),
        differentiable_in=f"x and in {', '.join(trainable)}" if trainable else "x",
        surrogate_note=[f"For {', '.join(surrogates)} it is the declared surrogate, a deliberate non-true gradient."]
        if surrogates
        else [],
        params_tuple=as_tuple(params),
        trainable_tuple=as_tuple(trainable),
        helpers="\n\n\n".join(helpers) if helpers else "# (no helper functions)",
        branch_functions="\n\n\n".join(functions),
        **layer,
    )
