"""Moral hazard: Grossman-Hart optimal contracts (LP and convex), linear contracts, bad input."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog as scipy_linprog
from scipy.optimize import minimize
from socialign import mechanisms as M
from socialign import solvers
from socialign.kernel import pytree_dataclass
from socialign.solvers import Result

# ORACLES.md two-action example
P2 = [[0.6, 0.4], [0.2, 0.8]]
PA = M.PrincipalAgent(P2, [0.0, 1.0], [0.0, 10.0])


def highs_gh(P, c, r, R=0.0, ll=True):
    A = P.shape[0]
    vals, pays = [], []
    for k in range(A):
        o = [a for a in range(A) if a != k]
        res = scipy_linprog(P[k], A_ub=np.vstack([P[o] - P[k], -P[k][None]]),
                            b_ub=np.concatenate([c[o] - c[k], [-(R + c[k])]]),
                            bounds=(0, None) if ll else (None, None), method="highs")
        pays.append(res.fun if res.status == 0 else np.nan)
        vals.append(P[k] @ r - res.fun if res.status == 0 else -np.inf)
    return np.array(vals), np.array(pays)


# one shared shape keeps the number of compilations (and the test time) down
B_, A_, O_ = 8, 3, 4


def random_problem(rng, B=B_, A=A_, O=O_):
    P = rng.dirichlet(np.ones(O), size=(B, A))
    c = np.sort(rng.uniform(0, 1, (B, A)), -1)
    r = np.sort(rng.uniform(0, 10, (B, O)), -1)
    return P, c, r


def test_oracle_two_actions_limited_liability():
    c = M.optimal_contract(PA)
    assert int(c.result) == Result.CONVERGED and int(c.action) == 1
    np.testing.assert_allclose(c.payments, [0.0, 2.5], atol=1e-9)
    np.testing.assert_allclose([c.expected_payment, c.agent_value, c.principal_value],
                               [2.0, 1.0, 6.0], atol=1e-9)
    assert float(c.incentive_violation) <= 1e-7 and float(c.participation_violation) <= 1e-9
    c0 = M.min_pay_contract(PA, 0)
    assert float(c0.principal_value) == pytest.approx(4.0, abs=1e-9)
    np.testing.assert_array_equal(c.action_probs, [0.0, 1.0])


@pytest.mark.parametrize("method", ["auto", "ipm"])
def test_oracle_first_best_without_limited_liability(method):
    pa = M.PrincipalAgent(P2, [0.0, 1.0], [0.0, 10.0], limited_liability=False)
    c = M.optimal_contract(pa, method=method)
    assert int(c.result) == Result.CONVERGED
    assert float(c.expected_payment) == pytest.approx(1.0, abs=1e-8)
    assert float(c.principal_value) == pytest.approx(7.0, abs=1e-8)
    assert float(c.incentive_violation) <= 1e-7


@pytest.mark.slow  # ~25 s on 2 cores; tests/test_simplex.py compares the dual simplex with HiGHS by default
def test_batched_matches_highs_and_ipm_on_random_instances():
    rng = np.random.default_rng(0)
    for _rep in range(3):
        P, c, r = random_problem(rng)
        pa = M.PrincipalAgent(P, c, r)
        out = M.optimal_contract(pa)
        ipm = M.optimal_contract(pa, method="ipm")
        assert np.all(np.asarray(out.result) == Result.CONVERGED)
        assert float(np.max(out.incentive_violation)) <= 1e-7
        assert float(np.max(out.participation_violation)) <= 1e-9
        for i in range(B_):
            vals, _ = highs_gh(P[i], c[i], r[i])
            ref = vals.max()
            assert abs(float(out.principal_value[i]) - ref) <= 1e-6 * max(1, abs(ref))
            assert abs(float(ipm.principal_value[i]) - ref) <= 1e-6 * max(1, abs(ref))
    # the principal's value of each action agrees with HiGHS' min-pay LPs too
    _, pays = highs_gh(P[0], c[0], r[0])
    np.testing.assert_allclose(out.stats["min_pay"][0], pays, rtol=1e-7, atol=1e-9)


def test_infeasible_action_is_reported_not_nan():
    # action 2's outcome distribution is the average of actions 0 and 1 but it costs more
    P = np.array([[1.0, 0.0, 0, 0], [0.0, 1.0, 0, 0], [0.5, 0.5, 0, 0]])
    pa = M.PrincipalAgent(np.broadcast_to(P, (B_, A_, O_)), [0.0, 0.2, 1.0], [0.0, 10.0, 0, 0])
    c = M.min_pay_contract(pa, 2)
    assert np.all(np.asarray(c.result) == Result.INFEASIBLE)
    c_ipm = M.min_pay_contract(pa, 2, method="ipm")
    assert np.all(np.asarray(c_ipm.result) == Result.INFEASIBLE)
    best = M.optimal_contract(pa)
    assert np.all(np.asarray(best.result) == Result.CONVERGED)
    assert np.all(np.asarray(best.action) == 1)
    assert np.all(np.isfinite(np.asarray(best.payments)))


def test_monitoring_cost_changes_the_chosen_action():
    pa = M.PrincipalAgent(P2, [0.0, 1.0], [0.0, 10.0], monitoring_cost=[0.0, 3.0])
    c = M.optimal_contract(pa)
    # effort: 8 - 2 - 0.8*3 = 3.6 < no effort: 4 - 0.4*3 = 2.8? no: 3.6 > 2.8 -> effort
    assert int(c.action) == 1 and float(c.principal_value) == pytest.approx(3.6, abs=1e-9)
    pa = M.PrincipalAgent(P2, [0.0, 1.0], [0.0, 10.0], monitoring_cost=[0.0, 8.0])
    c = M.optimal_contract(pa)  # effort: 8 - 2 - 6.4 = -0.4; no effort: 4 - 3.2 = 0.8
    assert int(c.action) == 0 and float(c.principal_value) == pytest.approx(0.8, abs=1e-9)


def test_best_linear_contract_oracle_and_price_of_simplicity():
    lin = M.best_linear_contract(PA)
    assert float(lin.stats["share"]) == pytest.approx(0.25)
    assert float(lin.principal_value) == pytest.approx(6.0)
    rng = np.random.default_rng(3)
    P, c, r = random_problem(rng)
    pa = M.PrincipalAgent(P, c, r)
    opt, lin = M.optimal_contract(pa), M.best_linear_contract(pa)
    assert np.all(np.asarray(opt.principal_value) >= np.asarray(lin.principal_value) - 1e-9)
    assert float(np.max(lin.incentive_violation)) <= 1e-9
    assert float(np.max(lin.participation_violation)) <= 1e-9


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), conc=st.sampled_from([0.2, 1.0, 5.0]))
def test_property_first_best_cost_and_linear_bound(seed, conc):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(O_, conc), size=(B_, A_))
    c = rng.uniform(0, 1, (B_, A_))
    r = rng.uniform(0, 10, (B_, O_))
    pa = M.PrincipalAgent(P, c, r, reservation_utility=0.1)
    opt = M.optimal_contract(pa)
    assert np.all(np.asarray(opt.result) == Result.CONVERGED)
    # implementing any action costs at least its effort cost plus the outside option
    mp = np.asarray(opt.stats["min_pay"])
    ok = np.asarray(opt.stats["lp_status"]) == Result.CONVERGED
    assert np.all(mp[ok] >= (c + 0.1)[ok] - 1e-8)
    lin = M.best_linear_contract(pa)
    assert np.all(np.asarray(opt.principal_value) >= np.asarray(lin.principal_value) - 1e-8)
    assert float(np.max(opt.incentive_violation)) <= 1e-7


def test_dual_simplex_agrees_with_highs_including_infeasible():
    rng = np.random.default_rng(5)
    B, m, n = 64, 4, 6
    c = rng.uniform(0, 1, (B, n))
    G = rng.normal(size=(B, m, n))
    h = rng.normal(size=(B, m))
    sol = solvers.linprog(jnp.asarray(c), jnp.asarray(G), jnp.asarray(h),
                          method="dual_simplex")
    fun, status = sol.fun, sol.status
    for i in range(B):
        ref = scipy_linprog(c[i], A_ub=G[i], b_ub=h[i], bounds=(0, None), method="highs")
        if ref.status == 0:
            assert int(status[i]) == Result.CONVERGED
            assert abs(float(fun[i]) - ref.fun) <= 1e-8 * (1 + abs(ref.fun))
        elif ref.status == 2:
            assert int(status[i]) == Result.INFEASIBLE


def test_risk_averse_sqrt_closed_form_and_scipy():
    rng = np.random.default_rng(0)
    P, cst, r = random_problem(rng)
    # member 0: the ORACLES example padded to 3 actions x 4 outcomes (a costlier copy of "no
    # effort" that no contract can implement, and two outcomes that never occur)
    P[0] = [[0.6, 0.4, 0, 0], [0.2, 0.8, 0, 0], [0.6, 0.4, 0, 0]]
    cst[0], r[0] = [0.0, 1.0, 2.0], [0.0, 10.0, 0.0, 0.0]
    R = np.full(B_, 0.5)
    R[0] = 0.0
    pb = M.PrincipalAgent(P, cst, r, reservation_utility=R, agent_utility=M.Sqrt())
    out = M.optimal_contract(pb)
    assert np.all(np.asarray(out.result) == Result.CONVERGED)
    assert float(np.max(out.incentive_violation)) <= 1e-7
    # sqrt utility: implementing effort needs v = (0, 2.5), i.e. t = (0, 6.25), cost 5
    status0 = np.asarray(out.stats["lp_status"][0])
    np.testing.assert_array_equal(status0, [Result.CONVERGED, Result.CONVERGED,
                                            Result.INFEASIBLE])
    assert float(out.stats["min_pay"][0, 1]) == pytest.approx(5.0, abs=1e-8)
    assert int(out.action[0]) == 0  # effort yields 8 - 5 = 3 < 4
    assert float(out.principal_value[0]) == pytest.approx(4.0, abs=1e-8)
    eff = M.min_pay_contract(pb, 1)
    np.testing.assert_allclose(eff.payments[0, :2], [0.0, 6.25], atol=1e-7)
    for i in range(1, 4):
        for k in range(3):
            if int(out.stats["lp_status"][i, k]) != Result.CONVERGED:
                continue
            o = [a for a in range(3) if a != k]
            Pk, ck = P[i, k], cst[i, k]
            cons = [{"type": "ineq", "fun": lambda v, Pa=P[i, a], ca=cst[i, a], Pk=Pk, ck=ck:
                     (Pk - Pa) @ v - (ck - ca)} for a in o]
            cons.append({"type": "ineq", "fun": lambda v, Pk=Pk, ck=ck: Pk @ v - ck - 0.5})
            ref = minimize(lambda v, Pk=Pk: Pk @ v**2, np.ones(O_) * 3, constraints=cons,
                           bounds=[(0, None)] * O_, method="SLSQP",
                           options={"ftol": 1e-14, "maxiter": 500})
            got = float(out.stats["min_pay"][i, k])
            assert abs(got - ref.fun) <= 1e-6 * (1 + abs(ref.fun))


@pytree_dataclass
class Decreasing(M.AgentUtility):
    """Not a utility of money: decreasing."""

    def u(self, t):
        return -t

    def u_inv(self, v):
        return -v


def test_bad_input():
    with pytest.raises(ValueError, match="outcome_probs"):
        M.PrincipalAgent([[0.5, 0.6], [0.2, 0.8]], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="outcome_probs"):
        M.PrincipalAgent([[1.2, -0.2], [0.2, 0.8]], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="costs"):
        M.PrincipalAgent(P2, [0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="rewards"):
        M.PrincipalAgent(P2, [0, 1], [0, np.nan])
    with pytest.raises(TypeError, match="outcome_probs"):
        M.PrincipalAgent("abc", [0, 1], [0, 1])
    with pytest.raises(ValueError, match="increasing"):
        M.PrincipalAgent(P2, [0, 1], [0, 1], agent_utility=Decreasing())
    with pytest.raises(TypeError, match="agent_utility"):
        M.PrincipalAgent(P2, [0, 1], [0, 1], agent_utility=jnp.sqrt)
    with pytest.raises(ValueError, match="action"):
        M.min_pay_contract(PA, 5)
    with pytest.raises(ValueError, match="method"):
        M.optimal_contract(PA, method="magic")
    with pytest.raises(ValueError, match="rewards >= 0"):
        M.best_linear_contract(M.PrincipalAgent(P2, [0, 1], [-1.0, 10.0]))
