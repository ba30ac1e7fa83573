"""Rewrite rules: each one's input, its output, and the accuracy it buys."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symact import Activation, Param, x
from symact.derive import derive
from symact.golden import compute_golden, shortfalls
from symact.numeric import metric_scores
from symact.rewrite import CANCELLATION_REPAIRS, STABLE_REWRITES, _conjugate, _one_minus_cos

p = Param("p", init=1.0, positive=True)


def _worst(exact, form, points, dtype=np.float64):
    return float(np.max(metric_scores(exact, form, (x, p), [(v, 1.0) for v in points], dtype)))


def test_every_rule_is_named_and_says_why():
    for rule in STABLE_REWRITES + CANCELLATION_REPAIRS:
        assert rule.name and rule.why and callable(rule.apply)


def test_one_minus_cos_becomes_a_square_of_sine():
    assert _one_minus_cos(1 - sp.cos(x)) == 2 * sp.sin(x / 2) ** 2
    assert _one_minus_cos(p - p * sp.cos(x) + x) == p - p * sp.cos(x) + x  # symbolic c: left alone
    assert _one_minus_cos(2 - sp.cos(x)) == 2 - sp.cos(x)  # no cancellation to repair
    small = [1e-8, 1e-5, 1e-3, -2e-4]
    assert _worst(1 - sp.cos(x), 1 - sp.cos(x), small) > 1e6
    assert _worst(1 - sp.cos(x), _one_minus_cos(1 - sp.cos(x)), small) < 2


def test_the_conjugate_is_a_regime_split_where_the_sum_cancels():
    f = sp.sqrt(p + x**2) + x
    repaired = _conjugate(f)
    assert repaired == sp.Piecewise((p / (sp.sqrt(p + x**2) - x), x < 0), (f, True))
    assert _conjugate(sp.sqrt(p + x**2) + 1) == sp.sqrt(p + x**2) + 1  # nothing cancels symbolically
    far_left = [-1e3, -1e5, -3e7]
    assert _worst(f, f, far_left) > 1e4
    assert _worst(f, repaired, far_left) < 2
    # the same case inside a derivative: x/sqrt(p + x**2) + 1
    d = sp.diff(f, x)
    assert _worst(d, d, far_left) > 1e4
    assert _worst(d, sp.piecewise_fold(_conjugate(d)), far_left) < 2


@pytest.mark.parametrize(
    "expr, params",
    [(sp.sqrt(p + x**2) + x, [p]), (1 - sp.cos(x), []), (x * (1 - sp.cos(x / 3)), [])],
)
@pytest.mark.slow
def test_definitions_that_cancel_now_meet_the_bounds(expr, params):
    act = Activation(name="cancel", expr=expr, params=params, domain=(-100.0, 100.0))
    derivation = derive(act)
    assert shortfalls(derivation, compute_golden(derivation)) == []


def test_a_branch_the_user_wrote_is_not_split_again():
    act = Activation(
        name="userbranch",
        expr=sp.Piecewise((p / (sp.sqrt(p + x**2) - x), x < 0), (sp.sqrt(p + x**2) + x, True)),
        params=[p],
    )
    f = derive(act).quantities[0]
    assert len([b for b in f.branches if not b.cond.has(sp.Function)]) == 2
