"""Stability rewrites: named, ordered data in the style of ``sympy.codegen.rewriting``.

Each :class:`Rewrite` turns a formula that cancels or overflows in floating point into an
equal one that does not. :data:`STABLE_REWRITES` is applied, in order, to the forward
formula and to every derivative, so every backend prints the same stable forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.rewriting import expm1_opt, log1p_opt

from .functions import Erfc, Exp, Sigmoid, Softplus
from .functions import expm1 as held_expm1
from .spec import x

__all__ = [
    "Rewrite", "STABLE_REWRITES", "CANCELLATION_REPAIRS", "apply_rewrites", "sign_split", "exp_basis", "t_rational",
    "fraction_forms",
]


@dataclass(frozen=True)
class Rewrite:
    """One rewrite rule."""

    name: str  # short identifier, used in reports
    why: str  # the one-line numerical reason
    apply: Callable[[sp.Expr], sp.Expr]  # maps an expression to an equal, stabler one
    splits: bool = False  # the result is a regime split (a Piecewise on the inputs), not one formula

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
    """SymPy's ``log1p_opt``; where that leaves a log of 1 + u, log1p(u) with u as
    written. ``log1p_opt`` factors first, which multiplies a product u out (then it finds
    no 1 + u) and turns 1 + x²/9 into (x² + 9)/9, giving log(x² + 9) − log(9), which
    cancels as x → 0.

    >>> from symact import x
    >>> _log1p(sp.log(1 + x**2))
    log1p(x**2)
    >>> _log1p(sp.log(1 + (x * sp.cos(x))**2))
    log1p(x**2*cos(x)**2)
    >>> _log1p(sp.log(1 + x**2 / 9))
    log1p(x**2/9)
    """

    def fix(log: sp.Expr) -> sp.Expr:
        found = log1p_opt(log)
        if not found.has(sp.log):
            return found
        if isinstance(log.args[0], sp.Add) and sp.S.One in log.args[0].args:
            return log1p(log.args[0] - 1)
        return found if found.has(log1p) else log  # not a log of 1 + u: as written

    return expr.replace(lambda e: isinstance(e, sp.log), fix)


def _overflow_pair(expr: sp.Expr) -> bool:
    """Whether a product has a factor e^a and, in another factor, expm1(−a): where e^(−a)
    overflows the product is inf·0."""
    for mul in expr.atoms(sp.Mul):
        args = [f.args[0] for f in mul.args if isinstance(f, sp.exp)]
        for f in mul.args:
            if not isinstance(f, sp.exp) and any(isinstance(g, expm1) and -g.args[0] in args for g in sp.preorder_traversal(f)):
                return True
    return False


def _expm1(expr: sp.Expr) -> sp.Expr:
    """SymPy's ``expm1_opt``, except where it factors e^a out of a sum to find an e^(−a) − 1
    (1 − 2e^(−x²)/√π as (√π·expm1(x²) − 2 + √π)·e^(−x²)/√π, inf·0 for |x| > 27).

    >>> from symact import x
    >>> _expm1(2*(sp.exp(x) - 1))
    2*expm1(x)
    >>> _expm1(1 - 2*sp.exp(-x**2)/sp.sqrt(sp.pi))
    1 - 2*exp(-x**2)/sqrt(pi)
    """
    found = expm1_opt(expr)
    return expr if _overflow_pair(found) and not _overflow_pair(expr) else found


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


def _one_minus_cos(expr: sp.Expr) -> sp.Expr:
    """
    >>> from symact import x
    >>> _one_minus_cos(3 - 3*sp.cos(2*x) + x)
    x + 6*sin(x)**2
    """

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add):
            return add
        terms = add.as_coefficients_dict()
        constant = terms.get(sp.S.One, sp.S.Zero)
        for term, k in terms.items():
            if isinstance(term, sp.cos) and constant != 0 and k == -constant:
                return add - constant - k * term + 2 * constant * sp.sin(term.args[0] / 2) ** 2
        return add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def _one_plus_sin(expr: sp.Expr) -> sp.Expr:
    """c ± c·sin(u) as c·(sin(u/2) ± cos(u/2))², c ± 2c·sin(v)·cos(v) as c·(sin(v) ± cos(v))²,
    c + c·cos(u) as 2c·cos²(u/2): each cancels where the sine or cosine is near ∓1 (a
    double zero), and the sum of two half-angle terms near ±1/√2 loses only what their
    own roundings are worth there (Note [Points near zeros] in symact.numeric).

    >>> from symact import x
    >>> _one_plus_sin(1 + sp.sin(2*x))
    (sin(x) + cos(x))**2
    >>> _one_plus_sin(3 - 6*sp.sin(x)*sp.cos(x))
    3*(sin(x) - cos(x))**2
    >>> _one_plus_sin(2 + 2*sp.cos(x))
    4*cos(x/2)**2
    >>> _one_plus_sin(x - x*sp.sin(3*x))
    x*(sin(3*x/2) - cos(3*x/2))**2
    """

    def term_form(term: sp.Expr, k: sp.Expr, constant: sp.Expr) -> sp.Expr | None:
        if isinstance(term, sp.sin) and k in (constant, -constant):
            half = term.args[0] / 2
            return constant * (sp.sin(half) + sp.sign(k / constant) * sp.cos(half)) ** 2
        if isinstance(term, sp.cos) and k == constant:
            return 2 * constant * sp.cos(term.args[0] / 2) ** 2
        if isinstance(term, sp.Mul) and len(term.args) == 2 and k in (2 * constant, -2 * constant):
            sines = [a for a in term.args if isinstance(a, sp.sin)]
            cosines = [a for a in term.args if isinstance(a, sp.cos)]
            if len(sines) == 1 and len(cosines) == 1 and sines[0].args[0] == cosines[0].args[0]:
                v = sines[0].args[0]
                return constant * (sp.sin(v) + sp.sign(k / constant) * sp.cos(v)) ** 2
        return None

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add):
            return add
        terms = add.as_coefficients_dict()
        constant = terms.get(sp.S.One, sp.S.Zero)
        if constant != 0:
            for term, k in terms.items():
                form = term_form(term, k, constant)
                if form is not None:
                    return add - constant - k * term + form
        # c ± c·sin(u) with a c that is not a number (x - x·sin(u), the derivative of
        # cos(u) in a parameter of u): a pair of terms whose quotient is ±sin(u), ...
        if len(add.args) <= 8:
            for c in add.args:
                for other in add.args:
                    if other is c:
                        continue
                    k, term = (other / c).as_coeff_Mul()
                    form = term_form(term, k, sp.S.One)
                    if form is not None and not form.has(sp.zoo, sp.nan):
                        return add - c - other + c * form
        return add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def _root_factor(term: sp.Expr) -> tuple[sp.Expr, sp.Expr, int] | None:
    """``term`` as (A, K, s) with term = K·sqrt(A)^s, s = ±1 and K free of sqrt(A)."""
    for factor in sp.Mul.make_args(term):
        if isinstance(factor, sp.Pow) and factor.exp in (sp.S.Half, -sp.S.Half) and factor.base.has(x):
            return factor.base, term / factor, 1 if factor.exp == sp.S.Half else -1
    return None


def _conjugate(expr: sp.Expr) -> sp.Expr:
    """K·sqrt(A) + R cancels where K·sqrt(A) ≈ −R, that is where K·R < 0; there
    (K²A − R²)/(K·sqrt(A) − R) does not, when K²A − R² is simpler than K²A (the leading
    terms cancel symbolically). K/sqrt(A) + R is (K + R·sqrt(A))/sqrt(A), the same case.
    The result is a regime split on the sign of K·R.

    >>> from symact import x
    >>> _conjugate(sp.sqrt(x**2 + 1) + x)
    Piecewise((1/(-x + sqrt(x**2 + 1)), x < 0), (x + sqrt(x**2 + 1), True))
    >>> _conjugate(x / sp.sqrt(x**2 + 1) + 1)
    Piecewise((-1/((x - sqrt(x**2 + 1))*sqrt(x**2 + 1)), x < 0), (x/sqrt(x**2 + 1) + 1, True))
    """

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add) or not add.has(x):
            return add
        for term in add.args:
            found = _root_factor(term)
            if found is None:
                continue
            base, k, sign = found
            rest = add - term
            if rest == 0:
                continue
            root = sp.sqrt(base)
            # add = (top)/(bottom) on the side where the two parts have opposite signs
            if sign == 1:
                top, lead, bottom = sp.expand(k**2 * base - rest**2), sp.expand(k**2 * base), k * root - rest
            else:
                top, lead, bottom = sp.expand(k**2 - rest**2 * base), sp.expand(rest**2 * base), (k - rest * root) * root
            if top == 0 or sp.count_ops(top) >= sp.count_ops(lead):
                continue
            return sp.Piecewise((top / bottom, k * rest < 0), (add, True))
        return add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


#: Largest sum (in ``sympy.count_ops``) put over one denominator: a size limit, so the
#: same formula gets the same form on any machine.
COMBINE_MAX_OPS = 80


#: How many more operations a combined sum may have than the sum it replaces.
_GROWTH = 4


def _terms(expr: sp.Expr) -> int:
    return len(sp.Add.make_args(sp.expand(expr, power_base=False, power_exp=False, log=False)))


def _expand_cancelling(expr: sp.Expr) -> sp.Expr:
    """A sum whose terms, over one denominator and multiplied out, cancel symbolically
    (``p*x + 2*x - x*(p + x)``, ``1 - 1/(1 + x**2)``, ``-p/sqrt(A) + p**3*x**2/A**(3/2)``
    with A = p²x² + 1) computes the cancelling parts in floating point and keeps their
    rounding: at x = 1e-8, ``p*x - x*(p + x)`` is −x² from two numbers near p·x, and
    ``1 - 1/(1 + x**2)`` is 0. Over one denominator, multiplied out, the cancelling terms
    are gone before any rounding: −x², x²/(1 + x²), −p/A^(3/2). Only where most of the
    multiplied-out terms cancel and the result has at most _GROWTH more operations: a
    polynomial quotient's derivative loses a few of its many terms that way (the Padé
    activation's), which buys little and costs multiplications.

    >>> from symact import x
    >>> _expand_cancelling(3*x + 2*x**2 - x*(3 + x))
    x**2
    >>> _expand_cancelling(1 - 1/(1 + x**2))
    x**2/(x**2 + 1)
    >>> _expand_cancelling(x*(3 + x) + 1)
    x*(x + 3) + 1
    >>> _expand_cancelling(2 - 2/(1 + x**2) + sp.sin(x))
    2*x**2/(x**2 + 1) + sin(x)
    >>> p = sp.Symbol("p", positive=True)  # two fractions, each combined on its own
    >>> _expand_cancelling(sp.diff(x**2/((p*x + 1)**2 + 1) + x/(p**2*x**2 + 1), x))
    -2*p**2*x**2/(p**2*x**2 + 1)**2 + 2*x*(p*x + 2)/((p*x + 1)**2 + 1)**2 + 1/(p**2*x**2 + 1)
    """

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add) or not add.has(x) or sp.count_ops(add) > COMBINE_MAX_OPS:
            return add
        combined = combine(add)
        if combined is not add:
            return combined
        # else the algebraic terms alone (p − p/(1 + p²x²) in p − p/(1 + p²x²) − p·sin(p·x))
        algebraic = [t for t in add.args if not t.has(sp.Function)]
        if 1 < len(algebraic) < len(add.args):
            part = sp.Add(*algebraic)
            combined = combine(part)
            if combined is not part:
                return combined + sp.Add(*[t for t in add.args if t.has(sp.Function)])
        return by_denominator(add)

    def by_denominator(add: sp.Expr) -> sp.Expr:
        """Each group of terms over the same denominator combined on its own: the quotient
        rule's two terms cancel to leading order as x → ±∞ (4x/(3D) − 2x²D'/(3D²) with D
        quadratic in x), and another fraction beside them would multiply every term out
        by its denominator, so that most no longer cancel."""
        groups: dict[frozenset[sp.Expr], list[sp.Expr]] = {}
        for term in add.args:
            bases = (f.as_base_exp()[0] for f in sp.Mul.make_args(sp.fraction(term)[1]))
            groups.setdefault(frozenset(b.as_content_primitive()[1] for b in bases if b.has(x)), []).append(term)
        if len(groups) < 2:
            return add
        parts = [sp.Add(*terms) for terms in groups.values()]
        combined = [combine(part) if bases and isinstance(part, sp.Add) else part for bases, part in zip(groups, parts)]
        return add if all(c is part for c, part in zip(combined, parts)) else sp.Add(*combined)

    def combine(add: sp.Expr) -> sp.Expr:
        num, den = sp.fraction(sp.together(add))
        before = sum(_terms(sp.cancel(term * den) if den != 1 else term) for term in add.args)
        expanded = sp.expand(num, power_base=False, power_exp=False, log=False)
        if 2 * len(sp.Add.make_args(expanded)) > before:  # not most of the terms cancel
            return add
        combined = sp.factor_terms(expanded) / den
        return combined if sp.count_ops(combined) <= sp.count_ops(add) + _GROWTH else add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def _log_exp_plus(expr: sp.Expr) -> sp.Expr:
    """log(e^u + c), for a number c > 0, overflows where e^u does (u > 88 in float32) while
    its value is about u; for u > 0 it is u + log1p(c·e^(−u)), which cannot overflow. The
    result is a regime split on the sign of u (softplus is the case c = 1).

    >>> from symact import x
    >>> _log_exp_plus(sp.log(sp.exp(2*x) + 3))
    Piecewise((2*x + log1p(3*exp(-2*x)), x > 0), (log(exp(2*x) + 3), True))
    """

    def fix(log: sp.Expr) -> sp.Expr:
        arg = log.args[0]
        if not isinstance(arg, sp.Add) or len(arg.args) != 2:
            return log
        c = next((a for a in arg.args if a.is_number and a.is_positive), None)
        e = next((a for a in arg.args if isinstance(a, sp.exp)), None)
        if c is None or e is None or not e.has(x):
            return log
        u = e.args[0]
        return sp.Piecewise((u + log1p(c * sp.exp(-u)), u > 0), (log, True))

    return expr.replace(lambda e: isinstance(e, sp.log), fix)


def _exp_offset(expr: sp.Expr) -> sp.Expr:
    """c + k·e^u, for numbers c and k of opposite signs, cancels where e^u ≈ −c/k: the
    rounding of k·e^u, an ULP of c, is all that is left of a small result (1 − 2e^(−x²)/√π,
    the slope of x − erf(x), at x = 0.16: 6 ULPs). It equals −c·expm1(u + log(−k/c)), where
    only u and the constant log(−k/c) round before the sum: the cancellation falls on two
    numbers each one rounding from exact, and expm1 keeps every digit of a small sum.

    >>> from symact import x
    >>> _exp_offset(1 - 2*sp.exp(-x**2)/sp.sqrt(sp.pi) + x)
    x - expm1(-x**2 + log(2/sqrt(pi)))
    >>> _exp_offset(1 + sp.exp(x))
    exp(x) + 1
    """

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add) or not add.has(x):
            return add
        c = next((t for t in add.args if t.is_number and t.is_real and t != 0), None)
        if c is None:
            return add
        for term in add.args:
            k, e = term.as_independent(x, as_Add=False)
            if isinstance(e, sp.exp) and k.is_number and k.is_real and (-k / c).is_positive:
                return add - c - term - c * held_expm1(e.args[0] + sp.log(-k / c))
        return add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def _log_argument(term: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``term`` as (k, A) with term = k·log(A) (log1p(u) as log(1 + u)), k free of x."""
    k, f = term.as_independent(x, as_Add=False)
    if isinstance(f, sp.log):
        return k, f.args[0]
    if isinstance(f, log1p):
        return k, 1 + f.args[0]
    return None


def _log_difference(expr: sp.Expr) -> sp.Expr:
    """k·log(A) − k·log(B) subtracts two logs that grow alike (log(1 + x²) − log(1 + x²/9)
    is 2.197 at x = −1e4, from two numbers near 18.4: three ULPs of them are nine of the
    result). It is k·log1p((A − B)/B), where A − B is formed symbolically (8x²/9): where
    its terms cancel there, the quotient rounds once or twice and log1p keeps its digits
    for a small one. Only where A − B has fewer terms than A or B (else nothing cancels
    before rounding).

    >>> from symact import x
    >>> _log_difference(log1p(x**2) - log1p(x**2 / 9) + x)
    x + log1p(8*x**2/(x**2 + 9))
    >>> _log_difference(sp.log(x**2 + 1) - sp.log(x + 3))
    -log(x + 3) + log(x**2 + 1)
    """

    def fix(add: sp.Expr) -> sp.Expr:
        if not isinstance(add, sp.Add) or not add.has(x):
            return add
        logs = [(t, _log_argument(t)) for t in add.args]
        found = [(t, kv) for t, kv in logs if kv is not None]
        for t, (k, a) in found:
            for u, (m, b) in found:
                if u is t or sp.expand(k + m) != 0 or k.could_extract_minus_sign():
                    continue
                gap = sp.expand(a - b)
                if len(sp.Add.make_args(gap)) >= max(len(sp.Add.make_args(sp.expand(e))) for e in (a, b)):
                    continue
                ratio = sp.factor_terms(sp.together(gap / b))
                return add - t - u + k * log1p(ratio)
        return add

    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def _hyperbolic_log(expr: sp.Expr) -> sp.Expr:
    """A hyperbolic function of a logarithm is a rational function of its argument: with
    v = log(u), e^v = u, so cosh(v) = s/2, sech(v) = 2/s, sinh(v) = d/2 and tanh(v) = d/s
    for s = u + 1/u and d = u − 1/u. As written, the log rounds to an absolute error of
    about log(u)·ε, which the hyperbolic function turns into a relative error of up to
    log(u)·ε: several ULPs once u is large (sech(log(1 + x²)) at x = 1e4, from
    log(u) = 18.4), while the rational form rounds a few times, whatever u; u + 1/u
    rather than (u² + 1)/u, which overflows for u past 1e19 in float32. For log1p(w),
    u = 1 + w and d = w(w + 2)/(1 + w), exact for a small w.

    >>> from symact import x
    >>> _hyperbolic_log(sp.tanh(sp.log(x**2 + 2)))
    (x**2 + 2 - 1/(x**2 + 2))/(x**2 + 2 + 1/(x**2 + 2))
    >>> _hyperbolic_log(sp.sech(log1p(x**2)) ** 2)
    4/(x**2 + 1 + 1/(x**2 + 1))**2
    """

    def fix(call: sp.Expr) -> sp.Expr:
        v = call.args[0]
        if isinstance(v, sp.log):
            u = v.args[0]
            d = u - 1 / u
        elif isinstance(v, log1p):
            w = v.args[0]
            u = 1 + w
            d = w * (w + 2) / u
        else:
            return call
        s = u + 1 / u
        if isinstance(call, sp.tanh):
            return d / s
        if isinstance(call, sp.sech):
            return 2 / s
        if isinstance(call, sp.cosh):
            return s / 2
        return d / 2  # sinh

    return expr.replace(lambda e: isinstance(e, (sp.tanh, sp.sech, sp.cosh, sp.sinh)) and e.args[0].has(x), fix)


def _exp_factors(term: sp.Expr) -> dict[sp.Expr, sp.Expr]:
    """The exponentials of x among the factors of ``term`` (exp(u) or Exp(u)), each with
    its positive power."""
    out: dict[sp.Expr, sp.Expr] = {}
    for factor in sp.Mul.make_args(term):
        # SymPy's exp(u) is its own base (as_base_exp would give E**u); Exp(u)**k is a power
        base, power = (factor, sp.S.One) if isinstance(factor, (sp.exp, Exp)) else factor.as_base_exp()
        if isinstance(base, (sp.exp, Exp)) and base.args[0].has(x) and power.is_positive:
            out[base] = power
    return out


def _common_exp(expr: sp.Expr) -> sp.Expr:
    """A sum whose terms all have the factor e^u as e^u times the sum of the rest.

    Where e^u overflows, the terms are ±inf each while their sum, and the true value, is
    inf with one sign (or finite, times a finite rest): inf − inf gives NaN. With the
    factor taken out, the rest is a finite number and e^u·rest is inf with its sign.

    >>> from symact import x
    >>> _common_exp(2*sp.exp(2*x)/(x**2 + 1) - 2*x*sp.exp(2*x)/(x**2 + 1)**2)
    (-2*x/(x**2 + 1)**2 + 2/(x**2 + 1))*exp(2*x)
    """

    def fix(add: sp.Expr) -> sp.Expr:
        factors = [_exp_factors(t) for t in add.args]
        common = set(factors[0]).intersection(*factors[1:])
        if not common:
            return add
        base = min(common, key=sp.default_sort_key)
        powers = {f[base] for f in factors}
        if not all(p.is_number for p in powers):
            return add
        e = base ** min(powers)
        return e * sp.Add(*[t / e for t in add.args])  # a product with a sum stays one

    return expr.replace(lambda e: isinstance(e, sp.Add) and len(e.args) > 1 and e.has(x), fix)


#: Repairs of cancellations that only pay on some inputs: candidates the derivation
#: measures and keeps where they are more accurate (never applied unconditionally).
CANCELLATION_REPAIRS: tuple[Rewrite, ...] = (
    Rewrite("one-minus-cos", "c − c·cos(u) loses every digit once u² < ε; 2c·sin²(u/2) does not", _one_minus_cos),
    Rewrite(
        "one-plus-sin",
        "c + c·sin(u) (or c·(1 + 2·sin·cos), c·(1 + cos)) cancels near a double zero, where sin(u) ≈ −1; c·(sin(u/2) + cos(u/2))² does not",
        _one_plus_sin,
    ),
    Rewrite(
        "expand-cancelling",
        "terms that cancel over one denominator (p·x − x·(p + x), 1 − 1/(1 + x²)) round before they cancel; combined they do not",
        _expand_cancelling,
    ),
    Rewrite(
        "exp-offset",
        "c + k·e^u cancels where k·e^u ≈ −c; −c·expm1(u + log(−k/c)) does not",
        _exp_offset,
    ),
    Rewrite(
        "common-exp",
        "terms that share a factor e^u are ±inf each where e^u overflows, and their sum NaN; e^u times the sum of the rest is not",
        _common_exp,
    ),
    Rewrite(
        "log-difference",
        "log(A) − log(B) of two logs that grow alike cancels; log1p((A − B)/B), A − B formed symbolically, does not",
        _log_difference,
    ),
    Rewrite(
        "hyperbolic-log",
        "tanh, sech, cosh or sinh of log(u) turns the log's rounding into a relative error of log(u)·ε; as a rational function of u it rounds a few times",
        _hyperbolic_log,
    ),
    Rewrite(
        "conjugate",
        "sqrt(A) + R cancels where R ≈ −sqrt(A); (A − R²)/(sqrt(A) − R) does not, on that side",
        _conjugate,
        splits=True,
    ),
    Rewrite(
        "log-exp-plus",
        "log(e^u + c) overflows with e^u while its value is about u; u + log1p(c·e^(−u)) does not, for u > 0",
        _log_exp_plus,
        splits=True,
    ),
)


# Note [Fewer roundings in float64]
# float32 has a way out of rounding trouble (Note [float32 computed in float64] in
# symact.derive); float64 has nothing wider, and its bound is tight: with some fifty golden
# points per setting, a p99 of 2 ULPs is about the worst point's error. A derivative as
# SymPy gives it is a sum of terms, each rounded several times before the sum rounds
# again (the derivative of 2x/(4x² + 1) is −16x²/(4x² + 1)² + 2/(4x² + 1): 3 ULPs at
# x = 0.95); the same value as one fraction, its numerator factored where it factors over
# the rationals (−2(2x − 1)(2x + 1)/(4x² + 1)²: the factors are differences of exact
# numbers, one rounding each), rounds fewer times and measures within 2. These forms are
# candidates, not rules: the derivation measures them and keeps one only where a formula
# misses the float64 bound and the candidate is more accurate there. Only for sums of at
# most COMBINE_MAX_OPS operations (SymPy's factor grows fast with size; a size limit, not
# the clock, decides: Note [Budgets never change output] in symact.budget).


def fraction_forms(expr: sp.Expr) -> list[sp.Expr]:
    """``expr`` over one denominator: as ``sympy.together`` leaves it, with its numerator
    factored (``sympy.factor``), and with the numerator multiplied out
    (``sympy.cancel``); each through the stable rewrites, branch by branch. Forms equal
    to ``expr`` or to an earlier form are left out. See Note [Fewer roundings in float64].

    >>> from symact import x
    >>> fraction_forms(-16*x**2/(4*x**2 + 1)**2 + 2/(4*x**2 + 1))
    [2*(1 - 4*x**2)/(4*x**2 + 1)**2, -2*(2*x - 1)*(2*x + 1)/(4*x**2 + 1)**2, (2 - 8*x**2)/(16*x**4 + 8*x**2 + 1)]
    """
    ways: tuple[Callable[[sp.Expr], sp.Expr], ...] = (sp.together, sp.factor, sp.cancel)
    out: list[sp.Expr] = []
    for way in ways:

        def form(e: sp.Expr, way: Callable[[sp.Expr], sp.Expr] = way) -> sp.Expr:
            if not e.has(x) or sp.count_ops(e) > COMBINE_MAX_OPS:
                return e
            try:
                return apply_rewrites(way(e))
            except (sp.PolynomialError, NotImplementedError, RecursionError):
                return e

        if isinstance(expr, sp.Piecewise):
            candidate = sp.Piecewise(*[(form(e), c) for e, c in expr.args])
        else:
            candidate = form(expr)
        if candidate != expr and candidate not in out:
            out.append(candidate)
    return out


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
    Piecewise((-x*Sigmoid(-x) - Softplus(-x), x >= 0), (x*Sigmoid(x) - Softplus(x), True))
    """
    args = sorted({f.args[0] for f in expr.atoms(Softplus)}, key=sp.default_sort_key)
    if not args:
        return None
    u = args[0]
    positive = expr.xreplace({Softplus(u): u + Softplus(-u), Sigmoid(u): 1 - Sigmoid(-u)})
    positive = apply_rewrites(sp.expand(positive, deep=False, power_base=False, power_exp=False, log=False, multinomial=False))
    if positive == expr:
        return None
    return sp.Piecewise((positive, u >= 0), (expr, True))


# Note [One exp per element]
# Sigmoid, softplus, sech and the tanh∘softplus of mish are all rational functions of
# t = e^(−|a|) for a shared argument a (up to a factor ±1 or ±2). On each side of a = 0
# the rewrite below replaces every such call by its rational form in t, with t itself
# computed once; t ∈ (0, 1], so nothing overflows, and no form subtracts nearly equal
# numbers. tanh(a) alone is left out: (1 − t²)/(1 + t²) cancels as a → 0.

_T = sp.Dummy("t", positive=True)
_RATIOS = (1, -1, 2, -2)


def _kind(node: sp.Basic) -> tuple[str, sp.Expr] | None:
    if isinstance(node, sp.exp):
        return "exp", node.args[0]
    if isinstance(node, Sigmoid):
        return "sigmoid", node.args[0]
    if isinstance(node, Softplus):
        return "softplus", node.args[0]
    if isinstance(node, (sp.tanh, sp.sech)) and isinstance(node.args[0], Softplus):
        return f"{type(node).__name__}-softplus", node.args[0].args[0]
    if isinstance(node, sp.sech):
        return "sech", node.args[0]
    return None


def _forms(a: sp.Expr, positive: bool) -> dict[tuple[str, int], sp.Expr]:
    """Each function of k·a as a rational function of t = e^(−|a|), on one side of 0."""
    t = _T
    s = 1 if positive else -1  # for a < 0, e^(k·a) = t^(−k): mirror k
    forms: dict[tuple[str, int], sp.Expr] = {}
    for k in _RATIOS:
        m = s * k  # e^(k·a) = t^(−m)
        forms["exp", k] = t ** (-m)
        forms["sigmoid", k] = 1 / (1 + t**m) if m > 0 else t ** (-m) / (1 + t ** (-m))
        forms["sech", k] = 2 * t ** abs(m) / (1 + t ** (2 * abs(m)))
        forms["softplus", k] = (k * a + log1p(t ** abs(m))) if m > 0 else log1p(t ** abs(m))
    if positive:  # n = e^a(e^a + 2) = (1 + 2t)/t²
        forms["tanh-softplus", 1] = (1 + 2 * t) / (1 + 2 * t + 2 * t**2)
        forms["sech-softplus", 1] = 2 * t * (1 + t) / (1 + 2 * t + 2 * t**2)
    else:  # n = t(t + 2)
        forms["tanh-softplus", 1] = t * (t + 2) / (t * (t + 2) + 2)
        forms["sech-softplus", 1] = 2 * (t + 1) / (t * (t + 2) + 2)
    return forms


def _ratio(arg: sp.Expr, core: sp.Expr) -> int | None:
    for k in _RATIOS:
        if sp.expand(arg - k * core) == 0:
            return k
    return None


def _core(atoms: list[tuple[sp.Basic, str, sp.Expr]]) -> sp.Expr | None:
    """The argument a that covers the most calls; ties go to the simplest."""
    candidates = {c for _, _, arg in atoms for c in (arg, -arg, arg / 2, -arg / 2)}
    best, best_count = None, 0
    for c in sorted(candidates, key=lambda e: (sp.count_ops(e), sp.default_sort_key(e))):
        count = sum(
            1 for _, kind, arg in atoms if _ratio(arg, c) is not None and (not kind.endswith("-softplus") or arg == c)
        )
        if count > best_count:
            best, best_count = c, count
    return best if best_count >= 2 or any(k.endswith("-softplus") or k in ("sigmoid", "softplus") for _, k, _ in atoms) else None


def exp_basis(expr: sp.Expr) -> sp.Expr | None:
    """Every sigmoid/softplus/sech/exp of ±a, ±2a (and mish's tanh∘softplus) from one exp.

    See Note [One exp per element]. Returns ``Piecewise((form for a ≥ 0, a >= 0),
    (form for a < 0, True))``, or None when nothing is covered.

    >>> from symact import x
    >>> exp_basis(x * Sigmoid(x))
    Piecewise((x/(Exp(-x) + 1), x >= 0), (x*Exp(x)/(Exp(x) + 1), True))
    """
    if isinstance(expr, sp.Piecewise):
        parts = [(exp_basis(e) or e, c) for e, c in expr.args]
        if all(p is e for (p, _), (e, _) in zip(parts, expr.args)):
            return None
        return sp.piecewise_fold(sp.Piecewise(*parts))
    atoms = []
    for node in sp.preorder_traversal(expr):
        found = _kind(node)
        if found is not None:
            atoms.append((node, *found))
    if not atoms:
        return None
    a = _core(atoms)
    if a is None:
        return None
    sides = []
    for positive in (True, False):
        forms = _forms(a, positive)
        mapping = {}
        for node, kind, arg in sorted(atoms, key=lambda n: -sp.count_ops(n[0])):
            k = _ratio(arg, a)
            if k is not None and (kind, k) in forms and node not in mapping:
                mapping[node] = forms[kind, k]
        if not mapping:
            return None
        t_value = Exp(-a) if positive else Exp(a)
        sides.append(expr.xreplace(mapping).xreplace({_T: t_value}))
    return sp.Piecewise((sides[0], a >= 0), (sides[1], True))


def t_rational(expr: sp.Expr, offset: bool = False) -> sp.Expr | None:
    """A one-exp form as one fraction of polynomials in t, each in Horner form.

    Summing the terms of a one-exp form rounds each term and may cancel; over a common
    denominator the numerator's coefficients often keep one sign on each side of 0 (for
    mish', t³ + 4t² + (6 + 4x)t + 4(1 + x) for x < 0), so nothing cancels. With
    ``offset``, a fraction N/D that tends to L = N(0)/D(0) ≠ 0 as t → 0 is written
    L + (N − L·D)/D, the numerator expanded so that its constant term cancels exactly:
    the rounding then falls on a small correction, not on the whole value (mish' for
    x > 0 is 1 + t²((4x − 2) + (4x − 4)t − 4t²)/D²); where L = 0 the plain fraction
    stays. Returns None when a branch is not rational in a single Exp.

    >>> from symact import x
    >>> t_rational(sp.Piecewise((x / (Exp(-x) + 1) + Exp(-x) / (Exp(-x) + 1), x >= 0), (x, True)))
    Piecewise(((x + Exp(-x))/(Exp(-x) + 1), x >= 0), (x, True))
    >>> t_rational(x * (1 + 2 * Exp(-x)) / (1 + 2 * Exp(-x) + 2 * Exp(-x) ** 2), offset=True)
    x - 2*x*Exp(-x)**2/((2*Exp(-x) + 2)*Exp(-x) + 1)
    """
    if isinstance(expr, sp.Piecewise):
        parts = [(t_rational(e, offset), e, c) for e, c in expr.args]
        if all(p is None for p, _, _ in parts):
            return None
        return sp.Piecewise(*[(p if p is not None else e, c) for p, e, c in parts])
    exps = expr.atoms(Exp)
    if len(exps) != 1:
        return None
    (e,) = exps
    t = sp.Dummy("t", positive=True)
    num, den = sp.fraction(sp.together(expr.xreplace({e: t})))
    if not (num.is_polynomial(t) and den.is_polynomial(t)):
        return None

    def horner(poly: sp.Expr) -> sp.Expr:
        out = []
        for f in sp.Mul.make_args(poly):
            base, power = f.as_base_exp()
            out.append(sp.horner(sp.expand(base), t) ** power if base.has(t) else f)
        return sp.Mul(*out)

    limit = sp.cancel(num.subs(t, 0) / den.subs(t, 0)) if offset and den.subs(t, 0) != 0 else sp.S.Zero
    if limit != 0:
        rest = sp.expand(num - limit * sp.expand(den))
        if rest == 0:
            return limit
        rest_num, rest_den = sp.fraction(sp.together(rest))
        return (limit + horner(sp.factor_terms(rest_num)) / (horner(den) * rest_den)).xreplace({t: e})
    return (horner(num) / horner(den)).xreplace({t: e})
