"""The symbolic core: derivatives, branches, the simplification budget, safe inputs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import sympy as sp

from symact import Activation, Param, x
from symact.derive import derive
from symact.functions import AtInfinity, Sigmoid, Softplus
from symact.numeric import np_function


def _act(expr, params=(), **kw):
    return Activation(name="t", expr=expr, params=list(params), **kw)


def _printed(q):
    return q.printed


def test_every_trainable_param_gets_a_gradient_and_fixed_ones_do_not():
    a = Param("a", init=1.0)
    k = Param("k", init=2.0, trainable=False)
    d = derive(_act(a * sp.tanh(k * x), [a, k]))
    assert [q.name for q in d.quantities] == ["f", "d_x", "d_a"]
    for q in d.quantities:
        exact = {"f": a * sp.tanh(k * x), "d_x": sp.diff(a * sp.tanh(k * x), x),
                 "d_a": sp.tanh(k * x)}[q.name]
        assert sp.simplify(q.exact - exact) == 0


def test_max_abs_and_sign_become_branches_with_relu_gradient_zero_at_zero():
    d = derive(_act(sp.Max(0, x)))
    assert len(d.forward.branches) == 2
    grad = np_function(_printed(d.gradients[0]), [x])
    np.testing.assert_array_equal(grad(np.array([-1.0, 0.0, 1.0])), [0.0, 0.0, 1.0])


def test_step_functions_have_zero_derivative_and_surrogates_replace_it():
    d = derive(_act(sp.floor(x)))
    assert d.gradients[0].printed == 0
    d = derive(_act(sp.floor(x), surrogate={x: sp.exp(-x**2)}))
    assert d.gradients[0].kind == "surrogate"
    assert d.gradients[0].printed == sp.exp(-x**2)


def test_branches_carry_a_safe_input_for_every_sampled_param():
    """Note [Branch-local evaluation]: the 'double where' with safe_x never sees inf/NaN."""
    sigma = Param("sigma", init=0.5, positive=True, bounds=(0.1, 10.0))
    d = derive(_act(sp.Piecewise((sp.exp(-sigma / (sigma - x**2)), x**2 < sigma), (0, True)), [sigma]))
    xs = np.array([-3.0, -1.0, -0.7071067, 0.0, 0.3, 1.0, 3.0])
    for q in d.quantities:
        for s in (0.1, 0.5, 10.0):
            total = np.zeros_like(xs)
            taken = np.zeros(xs.shape, dtype=bool)
            for b in q.branches:
                assert b.safe_x is not None
                cond = np.asarray(np_function(b.cond, [x, sigma])(xs, s), dtype=bool) & ~taken
                safe = np.where(cond, xs, b.safe_x)
                with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                    value = np.broadcast_to(np_function(b.expr, [x, sigma])(safe, s), xs.shape)
                total = np.where(cond, value, total)
                taken |= cond
            assert np.isfinite(total).all()


def test_stable_forms_replace_overflowing_ones():
    beta = Param("beta", init=1.0)
    d = derive(_act(x / (1 + sp.exp(-beta * x)), [beta]))
    assert d.forward.printed == x * Sigmoid(beta * x)
    # The exact x²e^(−βx)/(1+e^(−βx))² is inf/inf = NaN at βx = −100 in float32.
    xs = np.array([-300.0, -100.0, -1.0, 0.0, 1.0, 100.0, 300.0], dtype=np.float32)
    for q in d.gradients:
        with np.errstate(all="ignore"):
            naive = np_function(q.exact, [x, beta])(xs, np.float32(1.0))
            stable = np_function(q.printed, [x, beta])(xs, np.float32(1.0))
        assert not np.isfinite(naive).all()
        assert np.isfinite(stable).all()
    d = derive(_act(sp.log(1 + sp.exp(x))))
    assert d.forward.printed == Softplus(x)
    assert d.gradients[0].printed == Sigmoid(x)


def test_softplus_parameter_gradient_is_split_by_sign():
    """-softplus(βx)/β² + xσ(βx)/β cancels for βx ≫ 1; the split form does not."""
    beta = Param("beta", init=1.0, positive=True, bounds=(0.25, 4.0))
    d = derive(_act(sp.log(1 + sp.exp(beta * x)) / beta, [beta]))
    printed = d.gradients[1].printed
    assert isinstance(printed, sp.Piecewise)
    fn = np_function(printed, [x, beta])
    value = fn(np.float32(20.0), np.float32(2.0))
    exact = float((-(40 * sp.exp(-40) / (1 + sp.exp(-40))) - sp.log(1 + sp.exp(-40))) / 4)
    assert value == pytest.approx(exact, rel=1e-5)


def test_a_formula_over_the_size_limit_is_not_simplified_and_says_so():
    """The size, not the clock, decides: the derivative as computed, with a note."""
    expr = sp.exp(sp.sin(x) ** 3 + sp.cos(x) ** 5) / (1 + x**2 + sp.atan(x) ** 3)
    d = derive(_act(expr, domain=(-2, 2)), simplify_max_ops=3)
    assert any("not simplified" in note and "over the limit of 3" in note for note in d.notes)
    assert sp.simplify(d.gradients[0].exact - sp.diff(expr, x)) == 0


def test_derive_in_a_worker_thread_equals_the_main_thread():
    """No step depends on the thread (a timer that only works in the main thread would)."""
    act = _act(x * sp.exp(-x**2))
    result = {}

    def work():
        result["d"] = derive(act)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    main = derive(act)
    assert result["d"].quantities == main.quantities and result["d"].notes == main.notes


def test_cross_reference_sees_an_exact_zero_through_the_noise_of_a_shared_cancellation():
    """softplus(4) - softplus(-4) - 4 is exactly 0; written the same way in both formulas
    it cancels alike at every precision, so agreement of the two formulas is not enough."""
    import mpmath

    from symact.numeric import cross_reference

    def clip(x, c):
        return mpmath.log1p(mpmath.exp(x + c)) - mpmath.log1p(mpmath.exp(x - c)) - c

    assert cross_reference(clip, clip, [0.0, 4.0]) == 0
    value = cross_reference(clip, clip, [1e-30, 4.0])  # tiny but not zero: confirmed by precision
    with mpmath.workdps(60):
        assert abs(value / (mpmath.mpf(1e-30) * mpmath.tanh(2)) - 1) < mpmath.mpf(10) ** -45  # slope tanh(2) at 0

    def tiny(x):
        return mpmath.log1p(mpmath.exp(-x)) - mpmath.exp(-x) + mpmath.exp(-2 * x) / 2

    def tiny_stable(x):
        return mpmath.exp(-3 * x) / 3 - mpmath.exp(-4 * x) / 4 + mpmath.exp(-5 * x) / 5

    value = cross_reference(tiny, tiny_stable, [300.0])
    assert value != 0 and abs(value / (mpmath.exp(-900) / 3) - 1) < mpmath.mpf(10) ** -40


def test_a_removable_singularity_is_its_limit_and_near_it_a_series():
    """sin(x)/x: the limit 1 at 0 (0/0 as written); its derivative cos(x)/x - sin(x)/x²
    cancels near 0, so a Taylor polynomial takes over there (Note [Removable singularities])."""
    d = derive(Activation(name="sinc", expr=sp.sin(x) / x))
    for q, limit in ((d.forward, 1), (d.gradients[0], 0)):
        at_zero = [b for b in q.branches if b.cond == sp.Eq(x, 0)]
        assert [b.expr for b in at_zero] == [limit]
        (series,) = [b for b in q.branches if b.approximate]
        assert isinstance(series.cond, sp.core.relational.StrictLessThan) and series.cond.lhs == sp.Abs(x)
        assert not q.identity.has(sp.Abs)  # the cross-checked form leaves the series out
    import mpmath

    from symact.numeric import mp_function

    near = mp_function(d.gradients[0].printed, (x,))
    with mpmath.workdps(40):
        h = mpmath.mpf(1e-6)
        assert abs(near(h) - (-h / 3 + h**3 / 30)) < 1e-30


def test_a_removable_point_at_a_branch_edge_uses_the_side_inside_the_branch():
    """x·log|x| is x·log(x) for x >= 0: 0·(-inf) at 0 as written, limit 0 from the right;
    its derivative log|x| + 1 has no finite limit and gets no such branch."""
    d = derive(Activation(name="xlog", expr=x * sp.log(sp.Abs(x))))
    assert [(b.cond, b.expr) for b in d.forward.branches if b.cond.has(sp.Eq)] == [(sp.Eq(x, 0) & (x >= 0), 0)]
    assert not any(b.cond.has(sp.Eq) for b in d.gradients[0].branches)


def test_a_removable_limit_that_depends_on_a_positive_param():
    """|x|^sigma·log|x| (the derivative in sigma of |x|^sigma) tends to 0 at 0 for every sigma > 0."""
    sigma = Param("sigma", init=0.5, positive=True, bounds=(0.25, 2.0))
    d = derive(Activation(name="absp", expr=sp.Abs(x) ** sigma, params=[sigma]))
    (d_sigma,) = [q for q in d.gradients if q.wrt == sigma]
    assert [b.expr for b in d_sigma.branches if b.cond.has(sp.Eq)] == [0]
    (d_x,) = [q for q in d.gradients if q.wrt == x]
    assert not any(b.cond.has(sp.Eq) for b in d_x.branches)  # unbounded at 0 when sigma < 1


def test_removable_points_are_looked_for_in_polynomial_targets_only():
    """sp.solve on a transcendental denominator (1 + e^sin(x)) can run for minutes; only
    polynomial denominators, log arguments and power bases (|u| as u) are solved."""
    from symact.derive import _singular_points

    assert _singular_points(1 / (1 + sp.exp(sp.sin(x)))) == []
    assert _singular_points(sp.atan(sp.sinh(x) ** 3) / (1 + sp.sinh(x) ** 6)) == []
    assert _singular_points(sp.sin(x) / x) == [0]
    assert _singular_points(x * sp.log(sp.Abs(x))) == [0]
    assert sorted(_singular_points(sp.sin(x - 1) / (x**2 - 1)), key=float) == [-1, 1]


def test_a_candidate_point_that_is_complex_at_a_sampled_param_is_no_removable_singularity():
    """The roots (−1 ± sqrt(1 − 4p))/2 of x² + x + p are complex at the init p = 1:
    derive looked for a limit beside them and failed with "Cannot convert complex to float"
    (Note [Complex candidate points])."""
    p = Param("p", init=1.0, positive=True)
    d = derive(Activation(name="cpole", expr=1 / (x**2 + x + p), params=[p]))
    assert not any(b.cond.has(sp.Eq) for q in d.quantities for b in q.branches)


def test_a_sine_or_cosine_of_a_growing_argument_is_held_as_a_bounded_symbol_for_limits():
    """SymPy's limit of sqrt(p + cos(log((p + x)² + 1))²)'s derivatives at ±oo ran for
    minutes to find none (Note [Oscillation at infinite inputs]); held as a symbol, the
    cosine makes the limit depend on it: none, at once. Where the limit does not depend on
    it, that is the limit."""
    from symact.derive import _limit_at

    assert _limit_at(sp.exp(-x) * sp.sin(x), sp.oo) == 0
    assert _limit_at(1 + sp.sin(2 * x), sp.oo) is sp.nan
    assert _limit_at(x * sp.sin(1 / x), sp.oo) == 1  # the argument tends to 0: SymPy's own limit
    p = Param("p", init=1.0, positive=True)
    d = derive(Activation(name="wave", expr=sp.sqrt(p + sp.cos(sp.log((p + x) ** 2 + 1)) ** 2), params=[p]))
    assert not any(b.cond.has(AtInfinity) for q in d.quantities for b in q.branches)  # none: w divides in each
    assert _limit_at(sp.sin(x) ** 2 / x, sp.oo) == 0
    assert _limit_at(1 / (x * sp.sin(x)), sp.oo) is sp.nan  # sin(x) passes through 0 however large x


def test_a_limit_sympy_cannot_take_leaves_the_value_at_infinity_undecided():
    # SymPy's limit of this form as x -> -oo raised PolynomialError (from a quartic's roots
    # inside its sign test); with sin(p + x) held as a symbol (Note [Oscillation at infinite
    # inputs]) it divides, so there is no limit to take: the value at ±inf stays as the
    # formula gives it, no crash
    from symact.derive import Branch, _infinite_inputs

    p = Param("p", init=1.0, positive=True)
    s = p + sp.sin(p + x)
    form = p * (-2 * x**2 * (s**2 + 1) - 2 * x * s * (x**2 + 1) * sp.cos(p + x) + (x**2 + 1) * (s**2 + 1)) / (
        (x**2 + 1) ** 2 * (s**2 + 1) ** 2
    )
    act = _act(form, [p])
    assert _infinite_inputs([Branch(sp.true, form, 0.0)], act) == []


def test_a_sum_inside_a_hyperbolic_argument_is_simplified_as_one_symbol():
    """trigsimp's angle-sum rules on tanh(p·x + p + x) took 15 s for this 30-operation
    derivative; held whole, its argument costs nothing and 1 - tanh² still becomes 1/cosh²."""
    from symact.budget import Budget
    from symact.derive import SIMPLIFY_MAX_OPS, _simplified

    p = Param("p", init=1.0, positive=True)
    d = sp.diff(sp.tanh(p * x + p + x) + sp.exp(-sp.log((p + x) ** 2 + 1) ** 2), x)
    with Budget(8.0, "simplify").guard():
        simpler = _simplified(d, SIMPLIFY_MAX_OPS, [], "t")
    assert simpler is not None and simpler.has(sp.cosh(p * x + p + x))
    assert not simpler.has(sp.tanh(x), sp.tanh(p))
    assert abs(float((simpler - d).subs({x: 0.3, p: 0.7}))) < 1e-12


def test_the_limit_of_a_sum_is_the_sum_of_its_terms_limits_where_each_is_finite():
    from symact.derive import _limit_at

    p = sp.Symbol("p", positive=True)
    terms = -4 * (p + x) * sp.exp(-sp.log((p + x) ** 2 + 1) ** 2) / ((p + x) ** 2 + 1) + (p + 1) * sp.sech(p * x + x) ** 2
    assert _limit_at(terms, sp.oo) == 0
    assert _limit_at(sp.exp(-x) + sp.atan(x), sp.oo) == sp.pi / 2
    # terms that grow apart but not together: the limit of the whole
    assert _limit_at(sp.sqrt(x**2 + 1) - x, sp.oo) == 0


def test_a_pole_is_told_from_a_removable_point_numerically_before_any_series():
    """A pole at the params' inits needs no leading term from SymPy (seconds on a large
    derivative): it grows ten thousand times from 1e-6 to 1e-12 away on both sides. A
    removable point, a log and a pole that vanishes at the inits are left to SymPy."""
    from symact.derive import _pole_at_init

    p = Param("p", init=2.0, positive=True)
    act = _act(x / (x - p), [p])
    assert _pole_at_init(x / (x - p), p, act)
    assert _pole_at_init(1 / (x - 1) ** 2, sp.S.One, act)
    assert not _pole_at_init(sp.sin(x - p) / (x - p), p, act)  # removable
    assert not _pole_at_init(sp.log(sp.Abs(x - p)), p, act)  # grows twofold only
    assert not _pole_at_init((p - 2) / (x - 1), sp.S.One, act)  # 0 at the init
    assert not _pole_at_init(1 / (x - 1), 1 + sp.I, act)  # not a real point
    # the project's own stable building blocks evaluate too (no fallback to SymPy's series)
    assert _pole_at_init(Sigmoid(x) / (x - 1), sp.S.One, act)
    assert _pole_at_init(Softplus(x) / (x - p) ** 2, p, act)
    assert not _pole_at_init((Sigmoid(x) - Sigmoid(p)) / (x - p), p, act)
