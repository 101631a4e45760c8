"""Screening: Laffont-Martimort two-type oracle, Mussa-Rosen continuum, LP vs closed form."""

import numpy as np
import pytest
from socialign import mechanisms as M
from socialign.solvers import Result


def S_lm(q):
    return 4 * q - q**2 / 2


def test_two_type_oracle_closed_form_and_lp():
    # producer costs theta_L = 1, theta_H = 2 (types are -cost), prior 1/2 each
    sc = M.Screening([-2.0, -1.0], [0.5, 0.5], S_lm)
    cf = M.screening_closed_form(sc)
    np.testing.assert_allclose(cf.allocations, [1.0, 3.0], atol=1e-9)  # q_H = 1, q_L = 3
    np.testing.assert_allclose(cf.transfers, [2.0, 4.0], atol=1e-9)  # t_H = 2, t_L = 4
    assert float(cf.principal_profit) == pytest.approx(2.5, abs=1e-9)
    assert float(cf.first_best_profit) == pytest.approx(3.25, abs=1e-9)
    np.testing.assert_allclose(cf.information_rents, [0.0, 1.0], atol=1e-9)  # rent to L
    assert float(cf.ic_violation) <= 1e-9 and float(cf.ir_violation) <= 1e-9
    lp = M.optimal_menu(sc, np.linspace(0.0, 4.0, 17))
    assert int(lp.result) == Result.CONVERGED
    assert float(lp.principal_profit) == pytest.approx(2.5, abs=1e-7)
    np.testing.assert_allclose(lp.allocations, [1.0, 3.0], atol=1e-6)
    assert float(lp.ic_violation) <= 1e-7 and float(lp.ir_violation) <= 1e-7


def test_random_types_lp_matches_closed_form_on_grid():
    rng = np.random.default_rng(0)
    th = np.sort(rng.uniform(0.5, 3.0, 2))  # 2 types and 17 grid points: the oracle's LP shape
    p = rng.dirichlet(np.ones(2))
    sc = M.Screening(th, p, lambda q: -(q**2) / 2, max_allocation=10.0)  # sell at cost q^2/2
    cf = M.screening_closed_form(sc)
    grid = np.concatenate([np.linspace(0, 4, 15), np.asarray(cf.allocations)])
    lp = M.optimal_menu(sc, grid)
    assert int(lp.result) == Result.CONVERGED
    assert float(lp.principal_profit) == pytest.approx(float(cf.principal_profit), abs=1e-7)
    assert float(cf.ic_violation) <= 1e-9 and float(cf.ir_violation) <= 1e-9
    # no distortion at the top; rents increase with the type
    assert float(cf.allocations[-1]) == pytest.approx(th[-1], abs=1e-9)
    assert np.all(np.diff(np.asarray(cf.information_rents)) >= -1e-12)


def test_mussa_rosen_continuum_limit():
    """Uniform valuations on [0, 1], cost q^2/2: q(theta) = max(0, 2 theta - 1), revenue 1/12."""
    K = 400
    th = (np.arange(K) + 0.5) / K
    sc = M.Screening(th, np.full(K, 1.0 / K), lambda q: -(q**2) / 2, max_allocation=10.0)
    cf = M.screening_closed_form(sc)
    np.testing.assert_allclose(cf.allocations, np.maximum(0, 2 * th - 1), atol=2.0 / K)
    assert float(cf.principal_profit) == pytest.approx(1 / 12, abs=1e-3)


def test_ironing_keeps_allocations_monotone():
    # a heavy middle type makes raw virtual values non-monotone
    sc = M.Screening([1.0, 2.0, 3.0], [0.1, 0.8, 0.1], lambda q: -(q**2) / 2, max_allocation=10.0)
    cf = M.screening_closed_form(sc)
    assert np.all(np.diff(np.asarray(cf.allocations)) >= -1e-12)
    assert float(cf.ic_violation) <= 1e-9


def test_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        M.Screening([2.0, 1.0], [0.5, 0.5], S_lm)
    with pytest.raises(ValueError, match="prior"):
        M.Screening([1.0, 2.0], [0.5, 0.6], S_lm)
    with pytest.raises(TypeError, match="principal_value"):
        M.Screening([1.0, 2.0], [0.5, 0.5], 3.0)
    with pytest.raises(ValueError, match="grid"):
        M.optimal_menu(M.Screening([1.0, 2.0], [0.5, 0.5], S_lm), [[0.0, 1.0]])
