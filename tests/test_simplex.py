"""The primal and dual simplex of solvers._simplex and the pivot kernel of solvers._pivot.

Small shapes shared by every test (one compile per method): batches of 24 programs with 5
constraints and 7 variables, checked against scipy's HiGHS side by side.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
from socialign.kernel import Result, iterate
from socialign.solvers._pivot import dual_ratio_test, exchange
from socialign.solvers._simplex import DualSimplex, InequalityLP, PrimalSimplex

M, N, B = 5, 7, 24


def _solve(solver, c, G, h, tol=1e-9):
    def one(c, G, h):
        lp = InequalityLP(c, G, h, jnp.asarray(True))
        it = iterate(solver, lp, tol, None, max_steps=200, check_every=solver.default_check_every)
        return solver.answer(lp, it.state, tol, status=it.result)

    return jax.jit(jax.vmap(one))(jnp.asarray(c), jnp.asarray(G), jnp.asarray(h))


@pytest.fixture(scope="module")
def dual_batch():
    """Min-cost covering programs (c >= 0, some rows G x >= b): a third of them infeasible."""
    rng = np.random.default_rng(0)
    c = rng.uniform(0.1, 2.0, (B, N))
    G = -rng.uniform(0.0, 1.0, (B, M, N))
    h = -rng.uniform(0.5, 2.0, (B, M))
    bad = np.arange(B) % 3 == 0  # row 0 becomes x_0 + ... <= -1 with x >= 0: infeasible
    G[bad, 0] = np.abs(G[bad, 0])
    G[1, 2, 3] = 0.0  # ties and zeros on the way
    c[2, :] = 1.0
    return c, G, h, bad


@pytest.mark.parametrize("pricing", ["devex", "dantzig"])
def test_dual_simplex_matches_highs_and_certifies_infeasibility(dual_batch, pricing):
    c, G, h, bad = dual_batch
    ans = _solve(DualSimplex(pricing=pricing), c, G, h)
    status = np.asarray(ans.status)
    for k in range(B):
        ref = so.linprog(c[k], G[k], h[k], bounds=(0, None), method="highs")
        if bad[k]:
            assert ref.status == 2 and status[k] == Result.INFEASIBLE
            w = np.asarray(ans.ray[k])  # Farkas: w >= 0, G^T w >= 0, h^T w < 0
            assert w.min() >= -1e-12 and (G[k].T @ w).min() >= -1e-12 and h[k] @ w < -1e-9
        else:
            assert ref.status == 0 and status[k] == Result.CONVERGED
            x, y = np.asarray(ans.x[k]), np.asarray(ans.y[k])
            assert abs(c[k] @ x - ref.fun) <= 1e-12 * (1 + abs(ref.fun))
            np.testing.assert_allclose(y, ref.ineqlin.marginals, atol=1e-10)


@pytest.mark.parametrize("pricing", ["steepest_edge", "dantzig"])
def test_primal_simplex_matches_highs_and_certifies_unboundedness(pricing):
    rng = np.random.default_rng(1)
    c = -rng.uniform(0.1, 1.0, (B, N))
    G = rng.uniform(0.1, 1.0, (B, M, N))
    h = rng.uniform(0.5, 2.0, (B, M))
    unb = np.arange(B) % 4 == 0
    G[unb, :, 2] = -np.abs(G[unb, :, 2])  # x_2 grows forever and lowers the cost
    ans = _solve(PrimalSimplex(pricing=pricing), c, G, h)
    status = np.asarray(ans.status)
    for k in range(B):
        ref = so.linprog(c[k], G[k], h[k], bounds=(0, None), method="highs")
        if unb[k]:
            assert ref.status == 3 and status[k] == Result.UNBOUNDED
            d = np.asarray(ans.ray[k])
            assert d.min() >= -1e-12 and (G[k] @ d).max() <= 1e-12 and c[k] @ d < 0
        else:
            assert status[k] == Result.CONVERGED
            assert abs(c[k] @ np.asarray(ans.x[k]) - ref.fun) <= 1e-12 * (1 + abs(ref.fun))


def test_steepest_edge_takes_fewer_pivots_and_pricing_is_validated():
    # random positive games (ZeroSumLP's programs): the same optimum, fewer pivots on average
    rng = np.random.default_rng(3)
    n = 12
    G = 1.0 + rng.uniform(0.0, 1.0, (B, n, n))
    c, h = -np.ones((B, n)), np.ones((B, n))
    se, dz = (_solve(PrimalSimplex(pricing=p), c, G, h) for p in ("steepest_edge", "dantzig"))
    assert np.all(np.asarray(se.status) == Result.CONVERGED)
    np.testing.assert_allclose(np.einsum("bn,bn->b", c, se.x), np.einsum("bn,bn->b", c, dz.x),
                               rtol=1e-12)
    assert np.mean(se.num_steps) < np.mean(dz.num_steps)
    with pytest.raises(ValueError, match="pricing"):
        PrimalSimplex(pricing="devex")


def test_dual_devex_optimum_matches_highs_with_fewer_pivots_and_pricing_is_validated():
    # every action's Grossman-Hart min-pay program of one 24-action, 48-outcome problem (the
    # contract benchmark's kind, where Devex pays off): HiGHS's optimum, fewer pivots on
    # average than the most infeasible row
    from socialign.mechanisms._principal_agent import min_pay_lps

    A, O = B, 48
    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(O), size=(1, A))
    cost = np.sort(rng.uniform(0.0, 1.0, (1, A)), axis=-1)
    cost[:, 0] = 0.0
    c, G, h = (np.asarray(x)[0] for x in min_pay_lps(P, cost, np.zeros(1)))
    dv, dz = (_solve(DualSimplex(pricing=p), c, G, h) for p in ("devex", "dantzig"))
    for k in range(B):
        ref = so.linprog(c[k], G[k], h[k], bounds=(0, None), method="highs")
        if ref.status == 2:
            assert int(dv.status[k]) == Result.INFEASIBLE
        else:
            assert abs(c[k] @ np.asarray(dv.x[k]) - ref.fun) <= 1e-8 * (1 + abs(ref.fun))
    assert np.mean(dv.num_steps) < np.mean(dz.num_steps)
    with pytest.raises(ValueError, match="pricing"):
        DualSimplex(pricing="steepest_edge")


def test_dual_devex_pivots_do_not_depend_on_the_scale_of_h():
    # the Devex key squares the basic values: relative to the largest, so h * 1e+-160 (whose
    # squares overflow or underflow float64) pivots exactly as h does
    rng = np.random.default_rng(5)
    c = rng.uniform(0.1, 2.0, (B, N))
    G = rng.normal(size=(B, M, N))
    h = rng.normal(size=(B, M))
    steps = [np.asarray(_solve(DualSimplex(), c, G, h * s).num_steps) for s in (1.0, 1e160, 1e-160)]
    assert steps[0].sum() > B
    np.testing.assert_array_equal(steps[1], steps[0])
    np.testing.assert_array_equal(steps[2], steps[0])


def test_dual_simplex_refuses_negative_costs_and_inactive_members(dual_batch):
    c, G, h, _ = dual_batch
    init = jax.jit(lambda lp: DualSimplex().init(lp).status)
    lp = InequalityLP(jnp.asarray(c[1] - 5.0), jnp.asarray(G[1]), jnp.asarray(h[1]), True)
    assert int(init(lp)) == Result.FAILED
    lp = InequalityLP(jnp.asarray(c[1]), jnp.asarray(G[1]), jnp.asarray(h[1]), False)
    assert int(init(lp)) == Result.FAILED


def test_exchange_is_an_involution_and_inactive_is_a_no_op():
    T = jnp.asarray(np.random.default_rng(2).normal(size=(M + 1, N + 1)))
    ex = jax.jit(exchange)
    back = ex(ex(T, 2, 3, True), 2, 3, True)  # exchanging the same pair twice restores T
    np.testing.assert_allclose(back, T, rtol=1e-12, atol=1e-12)
    Z = T.at[2, 3].set(0.0)
    np.testing.assert_array_equal(ex(Z, 2, 3, False), Z)
    # the pivot's column or row handed over by the caller (gathered once) gives the same pass
    for given in (dict(column=T[:, 3]), dict(pivot_row=T[2])):
        np.testing.assert_allclose(ex(T, 2, 3, True, **given), ex(T, 2, 3, True), rtol=1e-14,
                                   atol=1e-14)


def test_dual_ratio_test_breaks_exact_ties_by_label():
    row = jnp.array([-1.0, -2.0, -1.0, 0.5])
    reduced = jnp.array([1.0, 2.0, 1.0, 0.0])  # ratios 1, 1, 1, -: a three-way tie
    assert int(dual_ratio_test(row, reduced, 1e-12)[0]) == 0
    assert int(dual_ratio_test(row, reduced, 1e-12, labels=jnp.array([9, 4, 6, 1]))[0]) == 1
