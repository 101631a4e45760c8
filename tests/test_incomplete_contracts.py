"""Incomplete contracts: hold-up, property rights, relational contracts.

Ground truth: the closed forms of ORACLES.md (hold-up with v = 2 sqrt(i), cost i; Che-Hausch;
Levin 2003), closed forms derived in the tests, and brute-force grid search on random instances.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import mechanisms, solvers
from socialign.mechanisms import incomplete_contracts as ic
from socialign.solvers import Result

# --------------------------------------------------------------------------------------------
# model functions (module level: hashed once, compiled once)


def selfish(i, p):
    return jnp.stack([2 * jnp.sqrt(i[0]), 0 * i[0]])


def cooperative(i, p):
    return jnp.stack([0 * i[0], 2 * jnp.sqrt(i[0])])


def linear_cost(i, p):
    return jnp.stack([i[0], 0 * i[0]])


def power_value(i, p):          # p = (a, k): a * i^k to party 0, k in (0, 1)
    return jnp.stack([p[0] * i[0] ** p[1], 0 * i[0]])


def quad_cost(i, p):
    return i ** 2 / 2


def two_sided_value(i, p):      # p = (a0, a1): each party's investment raises its own value
    return jnp.stack([p[0] * jnp.sqrt(i[0]), p[1] * jnp.sqrt(i[1])])


def ghm_outside(i, owned, p):   # owning asset 0 keeps half the own value outside
    return 0.5 * owned[0] * two_sided_value(i, p)


# --------------------------------------------------------------------------------------------
# hold-up


# one contract batch for both models (one compile each): the null contract at five shares,
# then probabilistic trade and specific performance at beta = 1/2 and 1
Q = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 1.0])
BETA = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.5, 1.0, 1.0])


@pytest.fixture(scope="module")
def contracts():
    k = ic.TradeContract(jnp.asarray(Q), jnp.ones(len(Q)), jnp.asarray(BETA))
    return (ic.holdup_equilibrium(ic.HoldUp(selfish, linear_cost), k),
            ic.holdup_equilibrium(ic.HoldUp(cooperative, linear_cost), k, throw=False))


def test_holdup_oracle_values(contracts):
    out = jax.tree_util.tree_map(lambda x: x[:5], contracts[0])
    beta = BETA[:5]
    np.testing.assert_allclose(out.investment[:, 0], beta ** 2, atol=1e-10)   # i = beta^2
    np.testing.assert_allclose(out.surplus, 2 * beta - beta ** 2, atol=1e-10)
    np.testing.assert_allclose(out.first_best_investment[:, 0], 1.0, atol=1e-10)
    np.testing.assert_allclose(out.first_best_surplus, 1.0, atol=1e-10)
    np.testing.assert_allclose(out.loss, (1 - beta) ** 2, atol=1e-10)
    assert float(out.investment[2, 0]) == pytest.approx(0.25, abs=1e-12)
    assert float(out.surplus[2]) == pytest.approx(0.75, abs=1e-12)
    assert np.all(np.asarray(out.result) == 0)


def test_specific_performance_and_che_hausch(contracts):
    """Contracts (q, beta): q = 1 is specific performance; beta = 1 gives the investor all the
    bargaining power (renegotiation design). Investor's marginal share: beta + q (1 - chi -
    beta), chi = 0 selfish, 1 cooperative; i = share^2."""
    sp, co = contracts
    np.testing.assert_allclose(sp.investment[:, 0], (BETA + Q * (1 - BETA)) ** 2, atol=1e-10)
    assert float(sp.loss[6]) == pytest.approx(0.0, abs=1e-10)       # fixed price: first best
    np.testing.assert_allclose(co.investment[:, 0], (BETA * (1 - Q)) ** 2, atol=1e-9)
    assert float(co.investment[6, 0]) <= 1e-9                        # specific performance
    assert float(co.loss[4]) == pytest.approx(0.0, abs=1e-10)        # renegotiation design
    # no contract (with the bargaining share fixed) beats the null contract (Che-Hausch 1999):
    # on the grid q = 0, 1/2, 1 at beta = 1/2 the null contract is best, surplus 3/4
    at_half = np.asarray(co.surplus)[[2, 5, 6]]
    assert int(np.argmax(at_half)) == 0
    assert float(co.investment[2, 0]) == pytest.approx(0.25, abs=1e-10)
    assert float(co.surplus[2]) == pytest.approx(0.75, abs=1e-10)


@pytest.mark.slow
def test_best_trade_contract_selfish_and_renegotiation_design():
    k, best = ic.best_trade_contract(ic.HoldUp(cooperative, linear_cost))   # Che-Hausch
    assert float(k.trade_probability) == 0.0
    assert float(best.investment[0]) == pytest.approx(0.25, abs=1e-10)
    assert float(best.surplus) == pytest.approx(0.75, abs=1e-10)
    k, best = ic.best_trade_contract(ic.HoldUp(selfish, linear_cost))
    assert float(k.trade_probability) == 1.0 and float(best.loss) <= 1e-10
    k, best = ic.best_trade_contract(ic.HoldUp(cooperative, linear_cost),
                                     renegotiation_design=True)
    assert float(k.bargaining_share) == 1.0 and float(best.loss) <= 1e-10


@pytest.fixture(scope="module")
def power_batch():
    """Random a * i^k values, i^2/2 costs and shares: one batch, one compile."""
    rng = np.random.default_rng(3)
    a, k, beta = rng.uniform(0.5, 2.0, 6), rng.uniform(0.2, 0.8, 6), rng.uniform(0.1, 0.9, 6)

    def solve(beta, a):
        m = ic.HoldUp(power_value, quad_cost, params=(a, jnp.asarray(k)), bargaining_share=beta,
                      max_investment=5.0)
        return ic.holdup_equilibrium(m)

    return a, k, beta, solve, solve(jnp.asarray(beta), jnp.asarray(a))


def test_holdup_against_grid_search(power_batch):
    """The investor's payoff beta a i^k - i^2/2 maximised on a fine grid: ours matches within
    the grid spacing, and the closed form i = (beta a k)^(1/(2-k))."""
    a, k, beta, _, out = power_batch
    grid = np.linspace(0, 5, 200_001)
    for j in range(6):
        payoff = beta[j] * a[j] * grid ** k[j] - grid ** 2 / 2
        assert abs(float(out.investment[j, 0]) - grid[np.argmax(payoff)]) <= 5e-5
        closed = (beta[j] * a[j] * k[j]) ** (1 / (2 - k[j]))
        assert float(out.investment[j, 0]) == pytest.approx(closed, rel=1e-8)


def test_holdup_gradients_vs_finite_differences(power_batch):
    """d surplus / d beta and d surplus / d a (members are independent, so the gradient of the
    batch's total is each member's own); central differences reuse the batch's compile."""
    a, k, beta, solve, _ = power_batch
    g = jax.grad(lambda b, x: jnp.sum(solve(b, x).surplus), argnums=(0, 1))(
        jnp.asarray(beta), jnp.asarray(a))
    h = 1e-6
    fd_b = (solve(beta + h, a).surplus - solve(beta - h, a).surplus) / (2 * h)
    fd_a = (solve(beta, a + h).surplus - solve(beta, a - h).surplus) / (2 * h)
    np.testing.assert_allclose(g[0], fd_b, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(g[1], fd_a, rtol=1e-5, atol=1e-9)


def test_holdup_validation():
    def convex_value(i, p):
        return jnp.stack([i[0] ** 2, 0 * i[0]])

    def decreasing(i, p):
        return jnp.stack([-i[0], 0 * i[0]])

    def concave_cost(i, p):
        return jnp.stack([jnp.sqrt(i[0]), 0 * i[0]])

    with pytest.raises(ValueError, match="value"):
        ic.holdup_equilibrium(ic.HoldUp(convex_value, linear_cost))
    with pytest.raises(ValueError, match="value"):
        ic.holdup_equilibrium(ic.HoldUp(decreasing, linear_cost))
    with pytest.raises(ValueError, match="cost"):
        ic.holdup_equilibrium(ic.HoldUp(selfish, concave_cost))
    with pytest.raises(ValueError, match="bargaining_share"):
        ic.holdup_equilibrium(ic.HoldUp(selfish, linear_cost, bargaining_share=1.5))
    with pytest.raises(ValueError, match="trade_probability"):
        ic.holdup_equilibrium(ic.HoldUp(selfish, linear_cost), ic.TradeContract(2.0))
    with pytest.raises(TypeError, match="contract"):
        ic.holdup_equilibrium(ic.HoldUp(selfish, linear_cost), 1.0)
    with pytest.raises(ValueError, match="price"):
        ic.holdup_equilibrium(ic.HoldUp(selfish, linear_cost), ic.TradeContract(1.0, jnp.nan))
    # settings: a negative or NaN tol ran to max_steps and raised NotConvergedError; first_best
    # took max_steps=0 and returned zeros
    for fn in (ic.holdup_equilibrium, ic.first_best):
        for bad in (-1.0, np.nan):
            with pytest.raises(ValueError, match="tol"):
                fn(ic.HoldUp(selfish, linear_cost), tol=bad)
        with pytest.raises(ValueError, match="max_steps"):
            fn(ic.HoldUp(selfish, linear_cost), max_steps=0)


def bump_value(i, p):           # p = (a, b): a sqrt(i) plus a bump of height b at i = 6.8
    return jnp.stack([p[0] * jnp.sqrt(i[0]) + p[1] * 2 / (1 + jnp.exp(-(i[0] - 6.8) / 0.01)),
                      0 * i[0]])


def test_holdup_shape_check_sees_every_member_and_traced_shares_fail():
    """The shapes are checked on a fine grid for every member of a batch (a step between two
    points of the former 17-point grid, in member 9 of 12, was solved to a wrong first best
    with loss 0); a share outside [0, 1] traced under jit is FAILED, not CONVERGED."""
    a, b = jnp.full(12, 2.0), jnp.zeros(12).at[9].set(1.0)
    with pytest.raises(ValueError, match=r"concave.*\(batch member 9\)"):
        ic.holdup_equilibrium(ic.HoldUp(bump_value, linear_cost, params=(a, b)))
    f = jax.jit(lambda beta: ic.holdup_equilibrium(
        ic.HoldUp(selfish, linear_cost, bargaining_share=beta), throw=False).result)
    assert f(jnp.asarray([0.5, 1.5, jnp.nan])).tolist() == [0, Result.FAILED, Result.FAILED]


# --------------------------------------------------------------------------------------------
# property rights


def test_property_rights_closed_form_and_grid():
    """Each party's FOC: (beta + own_k / 2 * (1 - beta)) a_k / (2 sqrt(i_k)) = 1 with beta = 1/2
    and own_k = 1 when k owns the asset: i_k = (a_k (1 + own_k / 2) / 4)^2."""
    a = (2.0, 1.2)
    out = ic.ownership_structures(ic.PropertyRights(two_sided_value, quad_cost_lin, ghm_outside,
                                                    params=a))
    for s, owner in enumerate(np.asarray(out.structures[:, 0])):
        own = np.array([owner == 0, owner == 1], float)
        i = (np.array(a) * (1 + own / 2) / 4) ** 2
        np.testing.assert_allclose(out.investment[s], i, atol=1e-10)
        np.testing.assert_allclose(out.surplus[s], np.sum(np.array(a) * np.sqrt(i) - i),
                                   atol=1e-10)
        # brute force: each party's payoff on a grid given the other's investment
        for k in (0, 1):
            grid = np.linspace(0, 4, 40_001)
            other = float(out.investment[s, 1 - k])
            x = np.zeros((grid.size, 2))
            x[:, k], x[:, 1 - k] = grid, other
            vals = _ghm_payoff(x, own, np.array(a), k)
            assert abs(grid[np.argmax(vals)] - float(out.investment[s, k])) <= 2e-4
    assert int(out.best) == 0          # party 0's investment matters more: it should own
    assert float(out.first_best_surplus) == pytest.approx((a[0] ** 2 + a[1] ** 2) / 4, abs=1e-9)


def quad_cost_lin(i, p):
    return i


def _ghm_payoff(i, own, a, k):
    """Party k's payoff on rows of investments i [N, 2] (numpy, as ghm_outside/two_sided)."""
    v = a * np.sqrt(i)
    o = 0.5 * own * v
    return o[:, k] + 0.5 * (v.sum(1) - o.sum(1)) - i[:, k]


def test_property_rights_outside_options_are_checked():
    """Outside options were not validated: log(i - 1) gave NaN agent values CONVERGED, and
    options above the value of trade an investment above the first best."""
    def nan_outside(i, owned, p):
        return jnp.log(i - 1.0) * owned[0]

    def rich_outside(i, owned, p):
        return 3.0 * owned[0] * two_sided_value(i, p)

    def scalar_outside(i, owned, p):
        return jnp.sum(i)

    for bad, match in ((nan_outside, "finite"), (rich_outside, "at most the total value"),
                       (scalar_outside, r"shape \(2,\)")):
        with pytest.raises(ValueError, match=match):
            ic.ownership_structures(ic.PropertyRights(two_sided_value, quad_cost, bad,
                                                      params=(1.0, 1.0)))


@pytest.mark.slow
def test_property_rights_two_assets_enumerates_all_structures():
    out = ic.ownership_structures(ic.PropertyRights(two_sided_value, quad_cost_lin, ghm_outside,
                                                    params=(2.0, 1.2), num_assets=2))
    assert out.structures.shape == (9, 2)
    # only asset 0 matters here: structures with the same owner of asset 0 tie
    s = np.asarray(out.surplus).reshape(3, 3)
    np.testing.assert_allclose(s, s[:, :1] * np.ones((1, 3)), atol=1e-10)


# --------------------------------------------------------------------------------------------
# relational contracts


@pytest.fixture(scope="module")
def levin():
    e = np.linspace(0, 1, 101)
    pa = mechanisms.PrincipalAgent(np.stack([1 - e, e], 1), e ** 2 / 2, [0.0, 1.0])
    deltas = np.array([0.3, 0.5, 0.55, 0.6, 0.65, 2 / 3, 0.8, 0.95])
    return e, deltas, ic.relational_contract(pa, deltas)


def test_levin_effort_formula(levin):
    """Continuous model: bonus on success b = e (IC), b <= delta/(1-delta) (e - e^2/2) gives
    e*(delta) = min{1, max{0, 2 (2 delta - 1)/delta}}. On the grid (spacing h) the smallest
    range implementing e is e - h/2, so the grid optimum is the largest grid e with
    e - h/2 <= delta/(1-delta) (e - e^2/2): within a few h of the formula (0.1 at delta = 1/2,
    where the constraint is tangent)."""
    e, deltas, rc = levin
    h = e[1] - e[0]
    got = e[np.asarray(rc.action)]
    for d, g in zip(deltas, got):
        ok = (e - h / 2 <= d / (1 - d) * (e - e ** 2 / 2) + 1e-12) | (e == 0)
        assert g == pytest.approx(e[ok].max(), abs=1e-12)
        formula = min(1.0, max(0.0, 2 * (2 * d - 1) / d))
        assert abs(g - formula) <= (0.1 if abs(d - 0.5) < 0.06 else 0.03)
    np.testing.assert_allclose(np.asarray(rc.min_bonus_range)[1:], e[1:] - h / 2, atol=1e-9)
    assert np.all(np.asarray(rc.enforcement_slack) >= -1e-9)
    assert np.all(np.asarray(rc.result) == 0)
    # the bonus is paid on success only, base wage leaves the agent its outside option 0
    a = np.asarray(rc.action)[-1]
    np.testing.assert_allclose(rc.bonus[-1], [0, e[a] - h / 2], atol=1e-9)
    assert float(rc.agent_values[-1]) == 0.0


def test_levin_critical_discounts(levin):
    """delta*(e) = t/(t + s) with t = e - h/2, s = e - e^2/2; the optimal action at delta is
    the best action whose critical discount is at most delta."""
    e, deltas, rc = levin
    h = e[1] - e[0]
    t, s = e[1:] - h / 2, e[1:] - e[1:] ** 2 / 2
    np.testing.assert_allclose(np.asarray(rc.critical_discount)[1:], t / (t + s), atol=1e-9)
    crit = np.asarray(rc.critical_discount)
    surplus = e - e ** 2 / 2
    for d, a in zip(deltas, np.asarray(rc.action)):
        assert surplus[a] == pytest.approx(surplus[crit <= d + 1e-12].max(), abs=1e-12)


def test_relational_contract_is_scale_free_and_a_traced_bad_discount_fails(levin):
    """Every payoff times 1e-12 or 1e8 implements the same efforts (an absolute floor of
    1e3 eps in the comparisons gave effort 1 at every delta at 1e-15); a discount outside
    (0, 1) traced under jit is FAILED with zeros, not action 0 CONVERGED."""
    e, deltas, rc = levin
    for sc in (1e-12, 1e-15, 1e8):
        pa = mechanisms.PrincipalAgent(np.stack([1 - e, e], 1), sc * e ** 2 / 2, [0.0, sc])
        out = ic.relational_contract(pa, deltas)
        np.testing.assert_array_equal(out.action, rc.action)
    pa = mechanisms.PrincipalAgent(np.stack([1 - e, e], 1), e ** 2 / 2, [0.0, 1.0])
    out = jax.jit(lambda d: ic.relational_contract(pa, d))(jnp.asarray([0.6, 1.5, -0.2, 1.0]))
    assert out.result.tolist() == [0, Result.FAILED, Result.FAILED, Result.FAILED]
    assert out.action.tolist()[1:] == [-1, -1, -1]
    assert np.all(np.asarray(out.principal_value)[1:] == 0)
    assert np.all(np.asarray(out.enforcement_slack)[1:] == 0)


@pytest.mark.slow
def test_relational_jit_matches_eager(levin):
    e, deltas, rc = levin
    pa = mechanisms.PrincipalAgent(np.stack([1 - e, e], 1), e ** 2 / 2, [0.0, 1.0])
    out = jax.jit(lambda d: ic.relational_contract(pa, d))(jnp.asarray(deltas))
    np.testing.assert_array_equal(out.action, rc.action)
    with pytest.raises(ValueError, match="discount"):
        ic.relational_contract(pa, 1.0)


# --------------------------------------------------------------------------------------------
# repeated games with monetary transfers (Goldlücke-Kranz 2012)

PD = np.array([[[9.0, 1.0], [10.0, 3.0]], [[9.0, 10.0], [1.0, 3.0]]])
GK_DELTAS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


def _gk_brute_force(U, delta, tol=1e-9):
    """Every simple equilibrium (path, punishment of 0, punishment of 1) checked directly."""
    m, n = U.shape[1:]
    profiles = [(r, c) for r in range(m) for c in range(n)]
    best0 = U[0].max(axis=0)                   # player 0's best reply payoff per column
    best1 = U[1].max(axis=1)                   # player 1's best reply payoff per row
    L = {(r, c): best0[c] - U[0, r, c] + best1[r] - U[1, r, c] for r, c in profiles}
    best = -np.inf
    for e in profiles:
        for p0 in profiles:
            for p1 in profiles:
                G = U[0][e] + U[1][e] - best0[p0[1]] - best1[p1[0]]
                M = max(L[e], L[p0], L[p1])
                if G >= -tol and (1 - delta) * M <= delta * G + tol:
                    best = max(best, U[0][e] + U[1][e])
    return best


@pytest.fixture(scope="module")
def gk_batch():
    rng = np.random.default_rng(5)
    games = np.concatenate([PD[None], rng.normal(size=(5, 2, 3, 3))[:, :, :2, :2]])
    G = np.broadcast_to(games[:, None], (6, len(GK_DELTAS), 2, 2, 2))
    D = np.broadcast_to(GK_DELTAS[None], (6, len(GK_DELTAS)))
    return games, ic.transfer_equilibrium(solvers.RepeatedGame(G, D))


def test_transfers_prisoners_dilemma(gk_batch):
    """Cooperation needs (1 - delta) 2 <= delta (18 - 3 - 3): delta >= 1/7, as grim trigger."""
    _, eq = gk_batch
    np.testing.assert_allclose(eq.critical_discount[0, 0], [[1 / 7, 2 / 7], [2 / 7, 0]],
                               atol=1e-12)
    np.testing.assert_allclose(eq.joint_payoff[0], [6, 18, 18, 18, 18], atol=1e-12)
    np.testing.assert_array_equal(eq.path[0, 0], [1, 1])
    np.testing.assert_allclose(eq.punishment_payoffs[0, -1], [3, 3], atol=1e-12)
    assert np.all(np.asarray(eq.slack) >= -1e-9) and np.all(np.asarray(eq.result) == 0)


def test_transfers_against_brute_force_and_no_transfer_set(gk_batch):
    """Random games: the joint payoff equals an exhaustive search over simple equilibria (path
    and both punishments, checked directly), and is the best joint payoff among the profiles
    whose critical discount is at most delta."""
    games, eq = gk_batch
    for g in range(len(games)):
        for k, d in enumerate(GK_DELTAS):
            ref = _gk_brute_force(games[g], d)
            if np.isfinite(ref):
                assert float(eq.joint_payoff[g, k]) == pytest.approx(ref, abs=1e-9)
            else:
                assert int(eq.result[g, k]) != 0
    crit = np.asarray(eq.critical_discount[:, 0])
    U = games.sum(axis=1).reshape(len(games), -1)
    for g in range(len(games)):     # the best profile with critical discount <= delta
        for k, d in enumerate(GK_DELTAS):
            ok = crit[g].reshape(-1) <= d
            if ok.any():
                assert float(eq.joint_payoff[g, k]) == pytest.approx(U[g][ok].max(), abs=1e-12)


@pytest.mark.slow
def test_transfers_gradient_vs_finite_differences():
    def crit(U):
        return ic.transfer_equilibrium(solvers.RepeatedGame(U, 0.5)).critical_discount[..., 0, 0]

    U = np.asarray(PD) + np.random.default_rng(2).uniform(-0.3, 0.3, PD.shape)
    g = np.asarray(jax.grad(crit)(jnp.asarray(U)))
    h = 1e-6
    E = np.eye(U.size).reshape(-1, *U.shape) * h        # central differences: one batched call
    fd = (np.asarray(crit(U + E)) - np.asarray(crit(U - E))).reshape(U.shape) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-7)
    assert np.count_nonzero(np.abs(g) > 1e-9) >= 3


def test_transfers_are_shift_free_and_a_traced_bad_discount_fails():
    """The tolerance is relative to the payoff ranges: with 1e10 added to every payoff (max |U|
    1e10) deviation gains of 1-10 used to fall below it, so every profile looked like a Nash
    equilibrium (crit 0, path (C, C), CONVERGED)."""
    for shift in (0.0, 1e10, -1e12):
        eq = ic.transfer_equilibrium(solvers.RepeatedGame(PD + shift, 0.1))
        np.testing.assert_allclose(eq.critical_discount, [[1 / 7, 2 / 7], [2 / 7, 0.0]],
                                   atol=1e-9)
        assert eq.path.tolist() == [1, 1] and int(eq.result) == 0
    f = jax.jit(lambda d: ic.transfer_equilibrium(solvers.RepeatedGame(PD, d)))
    for d in (1.5, -0.2, 1.0):
        out = f(d)
        assert int(out.result) == Result.FAILED and out.path.tolist() == [-1, -1]
        assert float(out.slack) == 0.0


def test_transfers_validation():
    with pytest.raises(TypeError, match="game"):
        ic.transfer_equilibrium(PD)
    with pytest.raises(ValueError, match="discount"):
        solvers.RepeatedGame(PD, 1.5)
    with pytest.raises(ValueError, match="stage_game"):
        solvers.RepeatedGame(np.where(PD > 9.5, np.nan, PD), 0.5)


# --------------------------------------------------------------------------------------------
# option contracts (Nöldeke-Schmidt 1995)


def _option_closed_form(D, beta=0.5):
    """Cooperative investment by party 0 (v_1 = 2 sqrt(i), cost i), party 1 holds the option,
    strike gap D: invest i_D = D^2/4 when D - i_D beats max_{x <= i_D} 2 beta sqrt(x) - x."""
    iD = D ** 2 / 4
    x = min(iD, beta ** 2)
    below = 2 * beta * np.sqrt(x) - x
    return iD if D - iD >= below else beta ** 2


@pytest.fixture(scope="module")
def options():
    """One batch (one compile): six strike gaps at beta = 1/2, six random (gap, beta) pairs."""
    rng = np.random.default_rng(7)
    gaps = np.concatenate([[0.5, 1.0, 2.0, 3.0, 3.5, 4.0], rng.uniform(0.2, 3.8, 6)])
    beta = np.concatenate([np.full(6, 0.5), rng.uniform(0.2, 0.8, 6)])
    m = ic.HoldUp(cooperative, linear_cost, bargaining_share=jnp.asarray(beta))
    out = ic.option_equilibrium(m, ic.OptionContract(holder=1, trade_price=-jnp.asarray(gaps)))
    return gaps, beta, out


def test_option_contract_closed_form(options):
    """A buyer's option with strike gap 2 restores the first best for a cooperative investment
    where no trade contract beats the null contract (Che-Hausch; surplus 3/4)."""
    gaps, beta, out = options
    expect = np.array([_option_closed_form(D, b) for D, b in zip(gaps, beta)])
    np.testing.assert_allclose(out.investment[:, 0], expect, atol=1e-9)
    np.testing.assert_allclose(out.surplus, 2 * np.sqrt(expect) - expect, atol=1e-9)
    assert float(out.loss[2]) == pytest.approx(0.0, abs=1e-10)          # first best at D = 2
    assert float(out.investment[3, 0]) == pytest.approx(9 / 4, abs=1e-10)   # over-investment
    assert np.all(np.asarray(out.result) == 0) and float(out.certificate.max()) <= 1e-9


def test_option_contract_against_grid_search(options):
    """The investor's true piecewise payoff (the holder exercising iff it gains, then Nash
    bargaining) maximised on a fine grid matches the equilibrium, for every member."""
    gaps, beta, out = options
    grid = np.linspace(0, 10, 400_001)
    for j in range(len(gaps)):
        exercise = 2 * np.sqrt(grid) - gaps[j] >= 0
        payoff = np.where(exercise, gaps[j], beta[j] * 2 * np.sqrt(grid)) - grid
        assert abs(float(out.investment[j, 0]) - grid[np.argmax(payoff)]) <= 5e-5


@pytest.mark.slow
def test_option_contract_gradient():
    """On the threshold i = D^2/4, so d i / d D = D/2 (implicit differentiation of m(i) = 0)."""
    m = ic.HoldUp(cooperative, linear_cost)

    def invest(D):
        return ic.option_equilibrium(m, ic.OptionContract(1, -D)).investment[0]

    assert float(jax.grad(invest)(2.0)) == pytest.approx(1.0, abs=1e-8)


def test_option_contract_validation():
    m = ic.HoldUp(cooperative, linear_cost)
    with pytest.raises(TypeError, match="contract"):
        ic.option_equilibrium(m, ic.TradeContract(1.0))
    with pytest.raises(ValueError, match="holder"):
        ic.option_equilibrium(m, ic.OptionContract(holder=2))
    with pytest.raises(ValueError, match="trade_price"):
        ic.option_equilibrium(m, ic.OptionContract(1, jnp.nan))


# --------------------------------------------------------------------------------------------
# extensive form: invest, then bargain (alternating offers)

OFFERS = np.arange(13) / 12            # contains Rubinstein's 2/3 and 1/3 at delta = 1/2


def _finite_horizon_share(rounds, d, offers):
    """The first proposer's SPE share of the T-round game on the grid, by hand: the last
    proposer keeps max(offers) (the responder accepts 0); earlier, the proposer keeps the
    largest grid share whose complement gives the responder at least delta * its value of
    proposing next round (equal discounts)."""
    x = offers.max() if 0.0 in offers else None
    for _ in range(rounds - 1):
        need = d * x                       # the responder's continuation value
        ok = 1 - offers >= need - 1e-12
        x = offers[ok].max()
    return x


def test_rubinstein_shares_by_backward_induction():
    """Truncated after two rounds with Rubinstein's split as the continuation, the SPE is
    Rubinstein's: 1/(1 + delta) to the first proposer; it is a Nash equilibrium (NashConv 0);
    without the continuation, the finite-horizon split of a hand recursion."""
    x = float(ic.rubinstein_share(0.5, 0.5))
    assert x == pytest.approx(2 / 3, abs=1e-15)
    g = ic.alternating_offers_game(OFFERS, (0.5, 0.5), 2, continuation=(x, 1 - x))
    spe = ic.backward_induction(g)
    np.testing.assert_allclose(spe.values, [2 / 3, 1 / 3], atol=1e-12)
    assert float(solvers.nash_conv(g, spe.policy)) <= 1e-12
    # the same tree, utilities without the continuation (with_utilities keeps the compile)
    g0 = ic.alternating_offers_game(OFFERS, (0.5, 0.5), 2)
    spe0 = ic.backward_induction(g0)
    share = _finite_horizon_share(2, 0.5, OFFERS)
    np.testing.assert_allclose(spe0.values, [share, 1 - share], atol=1e-12)
    assert int(spe.result) == 0 and int(spe0.result) == 0


def test_holdup_in_extensive_form():
    """Party 0 invests from a grid (v = 2 sqrt(i), cost i), then party 1 proposes first:
    Rubinstein gives the investor the responder's share delta/(1 + delta) = 1/3, so it invests
    (1/3)^2 = 4/36; under an ultimatum by party 1 (no continuation) it gets 0 and invests 0
    (the extreme hold-up). Both against the grid argmax of share * v(i) - i."""
    i = np.arange(8) ** 2 / 36
    x = float(ic.rubinstein_share(0.5, 0.5))
    for cont, share in (((x, 1 - x), 0.5 * x), (None, 0.0)):
        g = ic.invest_then_bargain_game(i, 2 * np.sqrt(i), i, OFFERS, (0.5, 0.5), 1,
                                        continuation=cont)
        spe = ic.backward_induction(g)
        j = int(np.argmax(spe.policy[0]))
        assert j == int(np.argmax(share * 2 * np.sqrt(i) - i))
        assert float(spe.values[0]) == pytest.approx(share * 2 * np.sqrt(i[j]) - i[j], abs=1e-12)
    assert i[j] == 0.0


def test_cfr_on_the_holdup_tree():
    """Issue 10: the CFR family runs on the bargaining trees. CFR+ on invest-then-bargain (the
    tree of the test above, with Rubinstein's continuation) reaches a certified Nash
    equilibrium (NashConv <= 1e-4 relative to the payoff ranges, recomputed by
    ``solvers.relative_nash_conv``) in which the investor chooses 4/36, as in backward
    induction's subgame-perfect equilibrium. A Nash equilibrium of a bargaining tree need not
    be subgame perfect, and this one is not: its values are (1/6, 7/18) against the SPE's
    (1/9, 4/9) (the responder's threats off the path are not credible). Which equilibrium the
    average policy approaches is decided by rounding at the tree's many ties: CFR+'s iterates
    are invariant to shifts of a player's utilities only in exact arithmetic (measured: a +1
    shift of the investor's utilities changes the average policy from step 2 on)."""
    i = np.arange(8) ** 2 / 36
    x = float(ic.rubinstein_share(0.5, 0.5))
    g = ic.invest_then_bargain_game(i, 2 * np.sqrt(i), i, OFFERS, (0.5, 0.5), 1,
                                    continuation=(x, 1 - x))
    eq = solvers.solve(g, solvers.CFRPlus(), tol=1e-4, max_steps=2000)
    assert int(eq.result) == solvers.Result.CONVERGED
    assert float(eq.relative_nash_conv) <= 1e-4
    assert float(solvers.relative_nash_conv(g, eq.strategies)) == pytest.approx(
        float(eq.relative_nash_conv), abs=1e-12)
    assert float(solvers.nash_conv(g, eq.strategies)) == pytest.approx(float(eq.nash_conv),
                                                                       abs=1e-12)
    spe = ic.backward_induction(g)
    assert int(np.argmax(eq.strategies[0])) == int(np.argmax(spe.policy[0])) == 2
    # an eps-equilibrium's values are within NashConv of some equilibrium's, here not the SPE's
    assert float(solvers.nash_conv(g, spe.policy)) <= 1e-12


@pytest.mark.slow  # three more CFR compilations; the hold-up tree's CFR+ test stays default
@pytest.mark.parametrize("solver", [solvers.CFRPlus(), solvers.DiscountedCFR(),
                                    solvers.PredictiveCFRPlus()], ids=lambda s: type(s).__name__)
def test_cfr_family_on_alternating_offers(solver):
    """Rubinstein's split (2/3, 1/3 at delta = 1/2) by the CFR family on the two-round tree
    with Rubinstein's continuation: certified NashConv and the subgame-perfect values."""
    x = float(ic.rubinstein_share(0.5, 0.5))
    g = ic.alternating_offers_game(OFFERS, (0.5, 0.5), 2, continuation=(x, 1 - x))
    eq = solvers.solve(g, solver, tol=1e-4, max_steps=5000)
    assert int(eq.result) == solvers.Result.CONVERGED and float(eq.nash_conv) <= 1e-4
    np.testing.assert_allclose(eq.values, [2 / 3, 1 / 3], atol=1e-3)


def test_bargaining_trees_refuse_oversized_grids_and_bad_continuations():
    # 101 offers over 3 rounds: 3.1 million nodes, 65 s and 13 GB to build, then out of memory
    with pytest.raises(ValueError, match=r"offers \(101 shares\) and rounds \(3\)"):
        ic.alternating_offers_game(np.arange(101) / 100, (0.9, 0.6), 3)
    with pytest.raises(ValueError, match="rounds"):
        ic.invest_then_bargain_game(np.arange(50), np.ones(50), np.zeros(50),
                                    np.arange(101) / 100, (0.9, 0.6), 2)
    for bad in ((5.0, 5.0), (0.7, 0.7), (-0.1, 0.5)):
        with pytest.raises(ValueError, match="continuation"):
            ic.alternating_offers_game(OFFERS, (0.5, 0.5), 2, continuation=bad)


def test_bargaining_validation():
    for bad in ((1.0, 1.0), (1.5, 0.5), (-1.0, 0.5), (np.nan, 0.5)):
        with pytest.raises(ValueError, match="proposer_discount"):
            ic.rubinstein_share(*bad)
    with pytest.raises(ValueError, match="responder_discount"):
        ic.rubinstein_share(0.5, 1.0)
    with pytest.raises(ValueError, match="discounts"):
        ic.alternating_offers_game(OFFERS, (0.5, 1.0), 2)
    with pytest.raises(ValueError, match="offers"):
        ic.alternating_offers_game([0.5], (0.5, 0.5), 2)
    with pytest.raises(ValueError, match="rounds"):
        ic.alternating_offers_game(OFFERS, (0.5, 0.5), 0)
    with pytest.raises(TypeError, match="game"):
        ic.backward_induction(OFFERS)
