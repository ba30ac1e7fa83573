"""SymPy functions that symact's rewrites introduce and every backend prints stably.

They exist so that a rewrite can name a stable building block (``Sigmoid(u)`` instead
of ``1/(1 + exp(-u))``) and each printer decides how to evaluate it without overflow.
Each one differentiates and evaluates numerically like the formula it stands for.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.codegen.cfunctions import expm1 as _codegen_expm1


class Sigmoid(sp.Function):
    """σ(u) = 1/(1 + e^(−u)), evaluated without overflow on both tails.

    >>> from sympy import Symbol, exp
    >>> u = Symbol("u", real=True)
    >>> Sigmoid(u).diff(u)
    Sigmoid(-u)*Sigmoid(u)
    >>> Sigmoid(u).rewrite(exp)
    1/(1 + exp(-u))
    """

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return Sigmoid(u) * Sigmoid(-u)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-u))

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.rewrite(sp.exp)._eval_evalf(prec)


class Softplus(sp.Function):
    """softplus(u) = log(1 + e^u), evaluated as max(u, 0) + log1p(e^(−|u|)).

    >>> from sympy import Symbol
    >>> u = Symbol("u", real=True)
    >>> Softplus(u).diff(u)
    Sigmoid(u)
    """

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return Sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.log(1 + sp.exp(u))

    _eval_rewrite_as_exp = _eval_rewrite_as_log

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.rewrite(sp.log)._eval_evalf(prec)


class Erfc(sp.Function):
    """erfc(u) = 1 − erf(u), kept as written.

    SymPy's own ``erfc`` rewrites ``erfc(-u)`` as ``2 - erfc(u)``, which cancels in
    exactly the tail where ``erfc(-u)`` is the stable form; this one never does.

    >>> from sympy import Symbol
    >>> u = Symbol("u", real=True)
    >>> Erfc(-u)
    Erfc(-u)
    """

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return -2 * sp.exp(-(u**2)) / sp.sqrt(sp.pi)

    def _eval_rewrite_as_erfc(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.erfc(u)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.erfc(u)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.erfc(self.args[0])._eval_evalf(prec)


class Erfcx(sp.Function):
    """erfcx(u) = e^(u²)·erfc(u), the scaled complementary error function, for u ≥ 0.

    Only the float32 kernels that compute in float64 use it, where erfc(u) is printed as
    e^(−u²)·erfcx(|u|) (symact.elementary.erfc_through_erfcx), so that an e^(−u²)
    already in the formula (gelu's derivative has one) is computed once.
    """

    nargs = 1

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        u = self.args[0]
        return (sp.exp(u**2) * sp.erfc(u))._eval_evalf(prec)


class Exp(sp.Function):
    """e^u that SymPy leaves alone: ``Exp(u)**2`` stays a square of one exp call.

    SymPy turns ``exp(u)**2`` into ``exp(2*u)``, a second call; the one-exp rewrites
    (Note [One exp per element] in rewrite.py) need the square of the first.

    >>> from sympy import Symbol
    >>> u = Symbol("u", real=True)
    >>> Exp(-u)**2
    Exp(-u)**2
    """

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.exp(u)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.exp(self.args[0])._eval_evalf(prec)


class expm1(_codegen_expm1):
    """e^u − 1 that stays one expm1 call whatever u is.

    SymPy's own expm1 evaluates itself wherever exp of its argument does: expm1(u + c),
    for a number c, becomes e^c·e^u − 1, the very cancellation expm1 is for. This one is
    called by the same name, so every printer and evaluator treats it as SymPy's.

    >>> from sympy import Symbol, log
    >>> u = Symbol("u", real=True)
    >>> expm1(u + log(2)), _codegen_expm1(u + log(2))
    (expm1(u + log(2)), 2*exp(u) - 1)
    """

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        return None


class AtInfinity(sp.logic.boolalg.BooleanFunction):
    """The condition u = +∞ (``sign`` 1) or u = −∞ (``sign`` −1), for the branches that
    give a quantity its limit at an infinite input (Note [Values at infinite inputs] in
    derive.py).

    SymPy's own ``Eq(x, oo)`` is False at once for a real x, and a Piecewise drops it;
    this condition stays until u is a number.

    >>> from sympy import Symbol, oo
    >>> u = Symbol("u", real=True)
    >>> AtInfinity(u, 1), AtInfinity(oo, 1), AtInfinity(2.0, -1)
    (AtInfinity(u, 1), True, False)
    """

    nargs = 2

    @classmethod
    def eval(cls, u: sp.Expr, sign: sp.Expr) -> sp.Basic | None:
        if sign not in (1, -1):
            raise ValueError(f"AtInfinity: sign must be 1 or -1, got {sign}")
        if u.is_number:
            return sp.true if u == sign * sp.oo else sp.false
        return None

    def _numpycode(self, printer: Any) -> str:  # lambdify: a call to the evaluator's own function
        return f"AtInfinity({printer._print(self.args[0])}, {int(self.args[1])})"

    _mpmathcode = _numpycode
    _lambdacode = _numpycode


#: Every function defined here, for printers and numeric evaluators.
STABLE_FUNCTIONS = (Sigmoid, Softplus, Erfc, Exp)


def expand_stable(expr: sp.Expr) -> sp.Expr:
    """Rewrite symact's stable functions back to elementary SymPy functions."""
    return expr.replace(
        lambda e: isinstance(e, STABLE_FUNCTIONS),
        lambda e: e.rewrite(sp.exp),
    )


_STEP_FUNCTIONS = (sp.floor, sp.ceiling, sp.frac, sp.sign, sp.Heaviside)


def diff_ae(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """∂expr/∂var almost everywhere: step functions (floor, sign, ...) contribute 0.

    Raises ValueError when SymPy leaves a derivative of anything else unevaluated.

    >>> from sympy import Symbol, floor
    >>> t = Symbol("t", real=True)
    >>> diff_ae(t * floor(t), t)
    floor(t)
    """
    d = sp.diff(expr, var)
    d = d.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    for node in d.atoms(sp.Derivative, sp.Subs):
        if not node.expr.atoms(*_STEP_FUNCTIONS) and not isinstance(node.expr, _STEP_FUNCTIONS):
            raise ValueError(f"SymPy cannot differentiate {node.expr} with respect to {var}")
    return d.replace(lambda e: isinstance(e, (sp.Derivative, sp.Subs)), lambda e: sp.S.Zero)
