"""Stability rewrites: named, ordered data in the style of ``sympy.codegen.rewriting``.

Each :class:`Rewrite` turns a formula that cancels or overflows in floating point into an
equal one that does not. :data:`STABLE_REWRITES` is applied, in order, to the forward
formula and to every derivative, so every backend prints the same stable forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.rewriting import expm1_opt, log1p_opt

from .functions import Erfc, Sigmoid, Softplus

__all__ = ["Rewrite", "STABLE_REWRITES", "apply_rewrites", "sign_split"]


@dataclass(frozen=True)
class Rewrite:
    """One rewrite rule."""

    name: str  # short identifier, used in reports
    why: str  # the one-line numerical reason
    apply: Callable[[sp.Expr], sp.Expr]  # maps an expression to an equal, stabler one

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return self.apply(expr)


def _is_one_plus_exp(e: sp.Basic) -> bool:
    return (
        isinstance(e, sp.Add)
        and len(e.args) == 2
        and sp.S.One in e.args
        and any(isinstance(a, sp.exp) for a in e.args)
    )


def _exp_arg(one_plus_exp: sp.Add) -> sp.Expr:
    return next(a for a in one_plus_exp.args if isinstance(a, sp.exp)).args[0]


def _softplus(expr: sp.Expr) -> sp.Expr:
    """
    >>> from symact import x
    >>> _softplus(sp.log(1 + sp.exp(2*x)))
    Softplus(2*x)
    """
    return expr.replace(
        lambda e: isinstance(e, sp.log) and _is_one_plus_exp(e.args[0]),
        lambda e: Softplus(_exp_arg(e.args[0])),
    )


def _sigmoid(expr: sp.Expr) -> sp.Expr:
    """
    >>> from symact import x
    >>> _sigmoid(1/(1 + sp.exp(-x)))
    Sigmoid(x)
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Pow)
        and _is_one_plus_exp(e.base)
        and e.exp.is_Integer
        and e.exp < 0,
        lambda e: Sigmoid(-_exp_arg(e.base)) ** (-e.exp),
    )


def _exp_times_sigmoid_once(mul: sp.Mul) -> sp.Expr | None:
    factors = list(mul.args)
    for i, f in enumerate(factors):
        if not isinstance(f, sp.exp):
            continue
        a = f.args[0]
        for j, g in enumerate(factors):
            base, power = g.as_base_exp()
            if isinstance(base, Sigmoid) and base.args[0] == -a and power.is_Integer and power > 0:
                rest = [h for k, h in enumerate(factors) if k not in (i, j)]
                return sp.Mul(*rest, Sigmoid(a), base ** (power - 1))
    return None


def _exp_times_sigmoid(expr: sp.Expr) -> sp.Expr:
    """e^a · σ(−a)^k = σ(a) · σ(−a)^(k−1): the product of an overflow and an underflow.

    >>> from symact import x
    >>> _exp_times_sigmoid(x * sp.exp(-x) * Sigmoid(x)**2)
    x*Sigmoid(-x)*Sigmoid(x)
    """

    def fix(e: sp.Mul) -> sp.Expr:
        while isinstance(e, sp.Mul):
            new = _exp_times_sigmoid_once(e)
            if new is None:
                break
            e = new
        return e

    return expr.replace(lambda e: isinstance(e, sp.Mul), fix)


def _pair_rule(
    matches: Callable[[sp.Expr], sp.Expr | None],
) -> Callable[[sp.Expr], sp.Expr]:
    """Build a rule over sums: ``c·s + c·g(u)`` -> ``c·new(u)`` for ``s = ±1``.

    ``matches(g)`` returns, when ``g`` is a pattern factor, a callable that maps the
    sign s to a stable form of ``s + g`` (or None where there is nothing to gain).
    """

    def rewrite_add(add: sp.Add) -> sp.Expr:
        terms = list(add.args)
        changed = True
        while changed:
            changed = False
            for i, t in enumerate(terms):
                for factor in sp.Mul.make_args(t):
                    make = matches(factor)
                    if make is None:
                        continue
                    rest = t / factor
                    for j, s in enumerate(terms):
                        if j == i:
                            continue
                        for sign in (1, -1):
                            if sp.expand(s - sign * rest) == 0:
                                new = make(sign)
                                if new is None:
                                    continue
                                terms = [u for k, u in enumerate(terms) if k not in (i, j)]
                                terms.append(rest * new)
                                changed = True
                                break
                        if changed:
                            break
                    if changed:
                        break
                if changed:
                    break
        return sp.Add(*terms)

    return lambda expr: expr.replace(lambda e: isinstance(e, sp.Add), rewrite_add)


def _tanh_pairs(g: sp.Expr) -> Callable[[int], sp.Expr | None] | None:
    base, power = g.as_base_exp()
    if not isinstance(base, sp.tanh):
        return None
    u = base.args[0]
    if power == 2:
        # -1 + tanh(u)^2 = -sech(u)^2; the other sign has no cancellation
        return lambda sign: -(sp.sech(u) ** 2) if sign == -1 else None
    if power == 1:
        # 1 + tanh(u) = 2σ(2u) and 1 - tanh(u) = 2σ(-2u); with sign s: s + tanh = s·(1 + s·tanh)
        return lambda sign: 2 * Sigmoid(2 * u) if sign == 1 else -2 * Sigmoid(-2 * u)
    return None


def _erf_pairs(g: sp.Expr) -> Callable[[int], sp.Expr | None] | None:
    if not isinstance(g, sp.erf):
        return None
    u = g.args[0]
    # 1 + erf(u) = erfc(-u); -1 + erf(u) = -erfc(u). Erfc, not erfc: SymPy would
    # turn erfc(-u) back into 2 - erfc(u), the cancellation this rule removes.
    return lambda sign: Erfc(-u) if sign == 1 else -Erfc(u)


_tanh_rule = _pair_rule(_tanh_pairs)
_erf_rule = _pair_rule(_erf_pairs)


def _log1p(expr: sp.Expr) -> sp.Expr:
    """
    >>> from symact import x
    >>> _log1p(sp.log(1 + x**2))
    log1p(x**2)
    """
    return log1p_opt(expr)


def _expm1(expr: sp.Expr) -> sp.Expr:
    """
    >>> from symact import x
    >>> _expm1(2*(sp.exp(x) - 1))
    2*expm1(x)
    """
    return expm1_opt(expr)


#: Applied in this order to f and every derivative.
STABLE_REWRITES: tuple[Rewrite, ...] = (
    Rewrite("softplus", "log(1+e^u) overflows for u > 88 (float32); softplus does not", _softplus),
    Rewrite("sigmoid", "1/(1+e^u) overflows to 0/inf pairs; σ(−u) never does", _sigmoid),
    Rewrite(
        "exp-sigmoid",
        "e^a·σ(−a) multiplies an overflow by an underflow (inf·0 = NaN); σ(a) is exact",
        _exp_times_sigmoid,
    ),
    Rewrite(
        "tanh-pairs",
        "1 − tanh² and 1 ± tanh cancel once |tanh| ≈ 1; sech² and 2σ(±2u) do not",
        _tanh_rule,
    ),
    Rewrite("erfc", "1 ± erf(u) cancels in the tails; erfc(∓u) does not", _erf_rule),
    Rewrite("log1p", "log(1+u) loses all digits of u when |u| < ε", _log1p),
    Rewrite("expm1", "e^u − 1 loses all digits of u when |u| < ε", _expm1),
)


def apply_rewrites(expr: sp.Expr, rules: tuple[Rewrite, ...] = STABLE_REWRITES) -> sp.Expr:
    """Apply each rule once, in order, to every branch of ``expr``."""
    for rule in rules:
        expr = rule(expr)
    return expr


def sign_split(expr: sp.Expr) -> sp.Expr | None:
    """Split on the sign of u where softplus(u) grows like u, so linear parts cancel exactly.

    For u > 0, softplus(u) = u + softplus(−u) and σ(u) = 1 − σ(−u); expanding makes the
    terms that grow like u cancel symbolically instead of in floating point. Returns None
    when ``expr`` has no softplus. The caller keeps the result only if it measures better.

    >>> from symact import x
    >>> sign_split(x * Sigmoid(x) - Softplus(x))
    Piecewise((-x*Sigmoid(-x) - Softplus(-x), x > 0), (x*Sigmoid(x) - Softplus(x), True))
    """
    args = sorted({f.args[0] for f in expr.atoms(Softplus)}, key=sp.default_sort_key)
    if not args:
        return None
    u = args[0]
    positive = expr.xreplace({Softplus(u): u + Softplus(-u), Sigmoid(u): 1 - Sigmoid(-u)})
    positive = apply_rewrites(sp.expand(positive, deep=False, power_base=False, power_exp=False, log=False, multinomial=False))
    if positive == expr:
        return None
    return sp.Piecewise((positive, u > 0), (expr, True))
