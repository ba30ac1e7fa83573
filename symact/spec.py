"""The definition-file API: ``Param``, ``Activation``, ``x`` and the loader.

A definition file is plain Python that builds :class:`Activation` objects at module
level. :func:`load_definitions` executes it and returns every activation it defines,
or raises :class:`~symact.errors.DefinitionError` located at ``file:line``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from . import names as names_
from .errors import DefinitionError

__all__ = ["Param", "Activation", "x", "load_definitions", "RESERVED_NAMES", "MAX_ABS"]

#: The real input of every activation.
x = sp.Symbol("x", real=True)

#: Names no activation or parameter may take (see :mod:`symact.names`).
RESERVED_NAMES = names_.RESERVED

#: Largest magnitude accepted for an init, a bound or a domain end: sampling, float32
#: tests and the references need a range float32 can hold with room to spare.
MAX_ABS = 1e30

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_origin() -> tuple[str | None, int | None]:
    """File and line of the nearest frame outside the symact package."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        # "<string>" frames are generated code, such as the dataclass's own __init__.
        if not name.startswith("<") and not os.path.abspath(name).startswith(_PACKAGE_DIR + os.sep):
            return name, frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None, None


def _check_identifier(kind: str, name: object, origin: tuple[str | None, int | None]) -> str:
    problem = names_.check_name(kind, name)
    if problem is not None:
        raise DefinitionError(problem, *origin)
    return name  # type: ignore[return-value]


def _finite_real(value: object) -> float | None:
    """``value`` as a float when it is a real number within ±MAX_ABS, else None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_ABS else None


class Param(sp.Symbol):
    """A trainable (or fixed) real parameter: a SymPy symbol with metadata.

    ``Param(name, init=..., positive=False, trainable=True, bounds=None, doc="")``.
    ``bounds=(lo, hi)`` is the range the parameter is kept in and the golden tests sample;
    without it the tests sample around ``init``, while the audit judges every value the
    parameter can take (``admissible_range``).
    """

    init: float
    positive: bool
    trainable: bool
    bounds: tuple[float, float] | None
    doc: str
    origin: tuple[str | None, int | None]

    def __new__(
        cls,
        name: str,
        *,
        init: float | None = None,
        positive: bool = False,
        trainable: bool = True,
        bounds: Sequence[float] | None = None,
        doc: str = "",
    ) -> Param:
        origin = _caller_origin()
        _check_identifier("parameter", name, origin)
        if init is None:
            raise DefinitionError(f"parameter {name!r} needs an initial value: init=...", *origin)
        init_value = _finite_real(init)
        if init_value is None:
            raise DefinitionError(
                f"parameter {name!r}: init must be a finite real number within ±{MAX_ABS:g}, "
                f"got {init!r}",
                *origin,
            )
        if positive and init_value <= 0:
            raise DefinitionError(
                f"parameter {name!r} is positive but init={init_value!r} is not > 0", *origin
            )
        bounds_value: tuple[float, float] | None = None
        if bounds is not None:
            try:
                lo, hi = (_finite_real(b) for b in bounds)
            except (TypeError, ValueError):
                lo = hi = None
            if lo is None or hi is None or not lo < hi:
                raise DefinitionError(
                    f"parameter {name!r}: bounds must be (lo, hi) with finite lo < hi within "
                    f"±{MAX_ABS:g}, got {bounds!r}",
                    *origin,
                )
            if not lo <= init_value <= hi:
                raise DefinitionError(
                    f"parameter {name!r}: init={init_value!r} lies outside bounds ({lo!r}, {hi!r})",
                    *origin,
                )
            if positive and lo <= 0:
                raise DefinitionError(
                    f"parameter {name!r} is positive but its lower bound {lo!r} is not > 0", *origin
                )
            bounds_value = (lo, hi)
        assumptions: dict[str, bool] = {"real": True}
        if positive:
            assumptions["positive"] = True
        obj = sp.Symbol.__xnew__(cls, name, **assumptions)  # uncached: metadata is per object
        obj.init = init_value
        obj.positive = bool(positive)
        obj.trainable = bool(trainable)
        obj.bounds = bounds_value
        obj.doc = str(doc)
        obj.origin = origin
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.name,), {
            "init": self.init,
            "positive": self.positive,
            "trainable": self.trainable,
            "bounds": self.bounds,
            "doc": self.doc,
        }

    def admissible_range(self) -> tuple[float, float]:
        """The values the parameter can take in training: ``bounds``, else (0, inf) for a
        positive one, else the real line (the generated modules keep it there)."""
        if self.bounds is not None:
            return self.bounds
        return (0.0, math.inf) if self.positive else (-math.inf, math.inf)

    def sample_range(self) -> tuple[float, float]:
        """The range tests sample: ``bounds``, else a factor of two around ``init``."""
        if self.bounds is not None:
            return self.bounds
        if self.init > 0:
            return (self.init / 2, self.init * 2)
        if self.init < 0:
            return (self.init * 2, self.init / 2)
        return (-1.0, 1.0)


def _as_expr(value: object, what: str, origin: tuple[str | None, int | None]) -> sp.Expr:
    try:
        expr = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError) as e:
        raise DefinitionError(f"{what} is not a SymPy expression: {value!r}", *origin) from e
    if not isinstance(expr, sp.Expr):
        raise DefinitionError(f"{what} is not a SymPy expression: {value!r}", *origin)
    return expr


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation function f(x; params) and what to generate for it.

    ``derivative`` maps x or a param to the user's own formula for that partial derivative
    (checked against the symbolic one; a refuted formula is an error). ``surrogate`` maps
    x or a param to a deliberate non-true gradient used in backward (straight-through
    estimators, surrogate spike gradients).
    """

    name: str  # identifier; names the generated folder and functions
    expr: sp.Expr  # f(x; params) in terms of symact.x and the params
    params: Sequence[Param] = ()  # the parameters, in the order of the generated signatures
    doc: str = ""  # one paragraph for the generated docstrings
    domain: tuple[float, float] = (-8.0, 8.0)  # the x range sampled by audits and golden tests
    derivative: Mapping[sp.Symbol, Any] | None = None  # user formulas, verified
    surrogate: Mapping[sp.Symbol, Any] | None = None  # deliberate backward formulas
    origin: tuple[str | None, int | None] = field(default=(None, None), compare=False)

    def __post_init__(self) -> None:
        origin = _caller_origin()
        set_ = object.__setattr__
        set_(self, "origin", origin)
        _check_identifier("activation", self.name, origin)
        set_(self, "expr", _as_expr(self.expr, f"activation {self.name!r}: expr", origin))
        params = tuple(self.params)
        for p in params:
            if not isinstance(p, Param):
                raise DefinitionError(
                    f"activation {self.name!r}: params must be symact.Param objects, got {p!r}",
                    *origin,
                )
        names = [p.name for p in params]
        for n in names:
            if names.count(n) > 1:
                raise DefinitionError(
                    f"activation {self.name!r}: parameter {n!r} is listed twice", *origin
                )
        set_(self, "params", params)
        for n in names:
            if n in (self.name, names_.class_name(self.name)):
                raise DefinitionError(
                    f"activation {self.name!r}: parameter {n!r} has the name of the activation "
                    f"or of its generated class; rename one",
                    *origin,
                )
        if not isinstance(self.doc, str):
            raise DefinitionError(
                f"activation {self.name!r}: doc must be a string, got {type(self.doc).__name__}",
                *origin,
            )
        lo_hi = _domain(self.domain)
        if lo_hi is None:
            raise DefinitionError(
                f"activation {self.name!r}: domain must be (lo, hi) with finite lo < hi "
                f"within ±{MAX_ABS:g}, got {self.domain!r}",
                *origin,
            )
        set_(self, "domain", lo_hi)
        self._check_symbols(self.expr, "expr", origin)
        for attr in ("derivative", "surrogate"):
            mapping = getattr(self, attr)
            if mapping is None:
                set_(self, attr, {})
                continue
            if not isinstance(mapping, Mapping):
                raise DefinitionError(
                    f"activation {self.name!r}: {attr} must be a dict {{symbol: expr}}", *origin
                )
            checked: dict[sp.Symbol, sp.Expr] = {}
            for key, value in mapping.items():
                if key != x and key not in params:
                    raise DefinitionError(
                        f"activation {self.name!r}: {attr} key {key!r} is neither x nor one of "
                        f"its params",
                        *origin,
                    )
                what = f"activation {self.name!r}: {attr}[{key}]"
                expr = _as_expr(value, what, origin)
                self._check_symbols(expr, f"{attr}[{key}]", origin)
                checked[key] = expr
            set_(self, attr, checked)
        both = set(self.derivative) & set(self.surrogate)  # type: ignore[arg-type]
        if both:
            raise DefinitionError(
                f"activation {self.name!r}: {sorted(map(str, both))} given both a derivative "
                f"and a surrogate; keep one",
                *origin,
            )

    def _check_symbols(self, expr: sp.Expr, what: str, origin: tuple[str | None, int | None]) -> None:
        allowed = {x, *self.params}
        for s in sorted(expr.free_symbols, key=str):
            if s in allowed:
                continue
            if isinstance(s, Param):
                raise DefinitionError(
                    f"activation {self.name!r}: {what} uses parameter {s.name!r}, which is not "
                    f"in params=[...]",
                    *origin,
                )
            if str(s) == "x":
                raise DefinitionError(
                    f"activation {self.name!r}: {what} uses a symbol 'x' that is not symact.x "
                    f"(use `from symact import x`)",
                    *origin,
                )
            raise DefinitionError(
                f"activation {self.name!r}: {what} has free symbol {str(s)!r}, which is not a "
                f"declared Param",
                *origin,
            )
        if expr.has(sp.I) or expr.is_real is False:
            raise DefinitionError(
                f"activation {self.name!r}: {what} is complex-valued", *origin
            )
        unsupported = [a for a in expr.atoms(sp.Integral, sp.Derivative, sp.Sum, sp.Product, sp.Limit)]
        if unsupported:
            raise DefinitionError(
                f"activation {self.name!r}: {what} contains an unevaluated "
                f"{type(unsupported[0]).__name__}; give a closed form",
                *origin,
            )
        if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise DefinitionError(
                f"activation {self.name!r}: {what} contains an infinite or undefined constant",
                *origin,
            )
        for number in expr.atoms(sp.Number):
            if number != 0 and not _FLOAT64_TINY < abs(number) < _FLOAT64_HUGE:
                raise DefinitionError(
                    f"activation {self.name!r}: {what} contains the constant "
                    f"{sp.Float(number, 3)}, which float64 cannot hold",
                    *origin,
                )
        if expr.has(sp.Mod):
            raise DefinitionError(
                f"activation {self.name!r}: {what} uses Mod, which the backends do not "
                f"support; write Mod(u, c) as u - c*floor(u/c)",
                *origin,
            )
        for pw in expr.atoms(sp.Piecewise):
            if pw.args[-1].cond != sp.true:
                raise DefinitionError(
                    f"activation {self.name!r}: {what} has a Piecewise without a default "
                    f"branch; add (value, True) as its last piece",
                    *origin,
                )

    @property
    def trainable_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.trainable)

    @property
    def class_name(self) -> str:
        """CamelCase name of the generated module classes (``gaussian_bump`` -> ``GaussianBump``)."""
        return names_.class_name(self.name)

    @property
    def file(self) -> str | None:
        return self.origin[0]

    @property
    def line(self) -> int | None:
        return self.origin[1]

    def error(self, message: str) -> DefinitionError:
        """A :class:`DefinitionError` about this activation, located where it was defined."""
        return DefinitionError(f"activation {self.name!r}: {message}", *self.origin)


_FLOAT64_TINY = sp.Float("1e-300")
_FLOAT64_HUGE = sp.Float("1e300")


def _domain(value: object) -> tuple[float, float] | None:
    try:
        pair: tuple[object, object] = tuple(value)  # type: ignore[arg-type, assignment]
        lo, hi = pair
    except (TypeError, ValueError):
        return None
    lo_f, hi_f = _finite_real(lo), _finite_real(hi)
    if lo_f is None or hi_f is None or not lo_f < hi_f:
        return None
    return (lo_f, hi_f)


def _error_line(exc: BaseException, filename: str) -> int | None:
    """The deepest line of ``filename`` in the traceback of ``exc``."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(filename):
            line = frame.lineno
    return line


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, shortened."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Functions users reach for that SymPy does not have, written out.
_WRITE_OUT = {
    "sigmoid": "1/(1 + sp.exp(-u))",
    "softplus": "sp.log(1 + sp.exp(u))",
    "relu": "sp.Max(u, 0)",
    "log1p": "sp.log(1 + u)",
    "expm1": "sp.exp(u) - 1",
    "where": "sp.Piecewise((a, condition), (b, True))",
    "maximum": "sp.Max(a, b)",
    "minimum": "sp.Min(a, b)",
    "clip": "sp.Min(sp.Max(u, lo), hi)",
}
_USE_SYMPY = (
    "a definition builds SymPy expressions, so it uses SymPy's functions (sp.exp, sp.tanh, sp.log, "
    "sp.Piecewise, ...), not NumPy's or math's"
)
_USE_PIECEWISE = (
    "x is a symbol, so a comparison of it (if/else, and/or, np.where, built-in min/max) cannot be "
    "decided; write branches as sp.Piecewise((value, condition), ..., (default, True)), or "
    "sp.Max/sp.Min/sp.Abs"
)


def _hint(exc: BaseException, namespace: dict[str, Any]) -> str:
    """A fix for the mistakes a definition file commonly makes, as '; ...' (or '')."""
    text = str(exc)
    if isinstance(exc, TypeError):
        called = re.search(r"no callable (\w+) method", text)
        if called:  # a NumPy ufunc given a SymPy expression
            name = called.group(1)
            if name in _WRITE_OUT:
                return f"; np.{name} does not take SymPy expressions: write {name}(u) = {_WRITE_OUT[name]}"
            fix = f"sp.{name}" if hasattr(sp, name) else "SymPy's own function"
            return f"; np.{name} does not take SymPy expressions: use {fix}, and SymPy's functions throughout"
        if "loop of ufunc does not support" in text or "Cannot convert expression to float" in text:
            return f"; {_USE_SYMPY}"
        if "truth value of Relational" in text:
            return f"; {_USE_PIECEWISE}"
        bad_keyword = text.rpartition("unexpected keyword argument ")[2].strip("'\"")
        if bad_keyword and bad_keyword != text:
            known = ["init", "positive", "trainable", "bounds", "doc", "name", "expr", "params",
                     "domain", "derivative", "surrogate"]
            close = difflib.get_close_matches(bad_keyword, known, n=1)
            return f"; did you mean {close[0]}=...?" if close else ""
    name = getattr(exc, "name", None)
    if isinstance(exc, NameError) and isinstance(name, str):
        close = difflib.get_close_matches(name, [k for k in namespace if not k.startswith("__")], n=1)
        return f"; did you mean {close[0]!r}?" if close else ""
    if isinstance(exc, AttributeError) and isinstance(name, str):
        if name in _WRITE_OUT:
            return f"; write it with SymPy: {name}(u) = {_WRITE_OUT[name]}"
        obj = getattr(exc, "obj", None)
        if obj is not None:
            close = difflib.get_close_matches(name, [a for a in dir(obj) if not a.startswith("_")], n=1)
            return f"; did you mean {close[0]!r}?" if close else ""
    return ""


def load_definitions(path: str | os.PathLike[str], display: str | None = None) -> list[Activation]:
    """Execute a definition file and return its activations in definition order.

    ``display`` is the path used in messages (defaults to ``path`` as given).
    Raises :class:`DefinitionError` for every problem, located at ``file:line``.
    """
    path = Path(path)
    shown = display if display is not None else str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError("no such file", shown) from None
    except IsADirectoryError:
        raise DefinitionError("is a directory, not a definition file", shown) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DefinitionError(f"cannot read: {e}", shown) from e
    real_name = str(path.resolve())
    try:
        code = compile(source, real_name, "exec")
    except SyntaxError as e:
        raise DefinitionError(f"syntax error: {e.msg}", shown, e.lineno) from None
    module_name = f"symact_definition_{path.stem}"
    namespace: dict[str, Any] = {"__name__": module_name, "__file__": real_name}
    try:
        exec(code, namespace)
    except DefinitionError as e:
        line = e.line if e.file and os.path.abspath(e.file) == real_name else _error_line(e, real_name)
        raise DefinitionError(e.message, shown, line) from None
    except SystemExit as e:
        raise DefinitionError(
            f"the file called sys.exit({e.code!r}) while loading; a definition file only builds "
            f"activations",
            shown,
            _error_line(e, real_name),
        ) from None
    except KeyboardInterrupt as e:
        raise DefinitionError(
            "loading was interrupted (KeyboardInterrupt)", shown, _error_line(e, real_name)
        ) from None
    except Exception as e:  # the user's code failed: report where, in one line
        raise DefinitionError(
            f"{type(e).__name__}: {_one_line(e)}{_hint(e, namespace)}", shown, _error_line(e, real_name)
        ) from None
    activations: list[Activation] = []
    seen: dict[str, Activation] = {}
    for value in namespace.values():
        if not isinstance(value, Activation) or any(value is a for a in activations):
            continue
        if value.name in seen:
            raise DefinitionError(
                f"duplicate activation name {value.name!r} (first defined at line "
                f"{seen[value.name].line})",
                shown,
                value.line,
            )
        seen[value.name] = value
        activations.append(value)
    if not activations:
        raise DefinitionError(
            "no Activation defined at module level (build symact.Activation(...) objects)", shown
        )
    for act in activations:  # relocate messages to the path as the user gave it
        object.__setattr__(act, "origin", (shown, act.line))
    return activations
