"""Quantal-response (KL-regularised) agents: response, gradients, design, beta -> 0 limit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import mechanisms as M
from socialign.solvers import Result

# ORACLES.md: P(success | effort) = 0.8, P(success | no effort) = 0.4, effort cost 1, success 10
PA = M.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])


def test_quantal_response_probs_formula_and_prior_support():
    u = jnp.array([1.0, 2.0, 0.5])
    prior = jnp.array([0.2, 0.3, 0.5])
    p = M.quantal_response_probs(u, 0.7, prior)
    want = prior * np.exp(np.asarray(u) / 0.7)
    np.testing.assert_allclose(p, want / want.sum(), rtol=1e-12)
    p0 = M.quantal_response_probs(u, 0.7, jnp.array([0.0, 0.5, 0.5]))
    assert float(p0[0]) == 0.0 and abs(float(p0.sum()) - 1) < 1e-12
    # uniform prior by default; tiny beta tends to the best response
    np.testing.assert_allclose(M.quantal_response_probs(u, 1e-4), [0, 1, 0], atol=1e-12)


def test_grad_of_principal_value_matches_finite_differences():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=3)
    pa = M.PrincipalAgent(P, [0.0, 0.5, 1.2], [0.0, 2.0, 5.0, 9.0], monitoring_cost=[0, 0.1, 0, 0.2])
    qr = M.QuantalResponse(0.4, [0.5, 0.3, 0.2])
    t = jnp.array([0.3, 1.0, 2.0, 0.5])
    f = lambda x: M.principal_value(pa, x, qr)  # noqa: E731
    g = jax.grad(f)(t)
    eps = 1e-6
    fd = np.array([(f(t.at[i].add(eps)) - f(t.at[i].add(-eps))) / (2 * eps) for i in range(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # and through the temperature
    gb = jax.grad(lambda b: M.principal_value(pa, t, M.QuantalResponse(b, qr.prior)))(0.4)
    fdb = (M.principal_value(pa, t, M.QuantalResponse(0.4 + eps, qr.prior))
           - M.principal_value(pa, t, M.QuantalResponse(0.4 - eps, qr.prior))) / (2 * eps)
    assert abs(float(gb) - float(fdb)) < 1e-6


def test_best_response_utility_and_response():
    assert float(M.principal_value(PA, [0.0, 2.5])) == pytest.approx(6.0)  # tie -> principal
    np.testing.assert_array_equal(M.agent_response(PA, [0.0, 2.0]), [1.0, 0.0])


@pytest.mark.slow  # ~18 s on 2 cores; the closed-form target-action test stays default
def test_beta_to_zero_approaches_best_response_optimum():
    """ORACLES: best-response optimum pays 2.5 on success, principal utility 6.0."""
    gaps, pays = [], []
    for beta in (0.1, 0.03, 0.01):
        c = M.optimal_contract(PA, agent=M.QuantalResponse(beta, [0.5, 0.5]))
        assert int(c.result) == Result.CONVERGED
        assert int(c.action) == 1
        gaps.append(6.0 - float(c.principal_value))
        pays.append(float(c.payments[1]))
        assert abs(float(c.payments[0])) < 1e-6
    assert all(g > 0 for g in gaps)  # smooth agents cost the principal something
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.15
    assert abs(pays[2] - 2.5) < 0.15 and abs(pays[2] - 2.5) < abs(pays[0] - 2.5)


def test_target_action_closed_form():
    """pi_1 >= p with t_0 = 0: 0.4 t_1 - 1 = beta log(p / (1 - p)) (prior 1/2, 1/2)."""
    beta, p = 0.1, 0.95
    c = M.optimal_contract(PA, agent=M.QuantalResponse(beta, [0.5, 0.5]), target_action=1,
                           min_target_prob=p)
    t1 = (1 + beta * np.log(p / (1 - p))) / 0.4
    assert int(c.result) == Result.CONVERGED
    assert float(c.action_probs[1]) >= p - 1e-7
    np.testing.assert_allclose(c.payments, [0.0, t1], atol=1e-5)
    np.testing.assert_allclose(c.expected_payment, (0.8 * p + 0.4 * (1 - p)) * t1, rtol=1e-6)


@pytest.mark.slow
def test_batched_design_members_are_independent():
    # (the default suite checks a batched quantal design against a user's jit and vmap in
    # test_design.py; this one adds a second problem shape)
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    pa = M.PrincipalAgent(P, [[0.0, 1.0]] * 3, [[0.0, 3.0, 8.0]] * 3)
    qr = M.QuantalResponse(0.3)
    cb = M.optimal_contract(pa, agent=qr, target_action=1, min_target_prob=0.8)
    assert cb.payments.shape == (3, 3) and cb.action_probs.shape == (3, 2)
    # batch members are independent: the reversed batch gives the reversed answers (and
    # reuses the compiled program)
    rev = M.PrincipalAgent(P[::-1], [[0.0, 1.0]] * 3, [[0.0, 3.0, 8.0]] * 3)
    cr = M.optimal_contract(rev, agent=qr, target_action=1, min_target_prob=0.8)
    np.testing.assert_allclose(cb.expected_payment, cr.expected_payment[::-1], rtol=1e-6)
    ok = np.asarray(cb.result) == Result.CONVERGED
    assert np.all(np.asarray(cb.action_probs)[ok, 1] >= 0.8 - 1e-6)


@pytest.mark.slow  # ~18 s on 2 cores; the closed-form target-action test stays default
def test_audit_option_and_payment_cap():
    # a designed audit rate that costs nothing can only help
    ca = M.optimal_contract(PA, agent=M.QuantalResponse(0.1, [0.5, 0.5]), target_action=1,
                            min_target_prob=0.9, audit_cost=0.0)
    c1 = M.optimal_contract(PA, agent=M.QuantalResponse(0.1, [0.5, 0.5]), target_action=1,
                            min_target_prob=0.9)
    assert float(ca.action_probs[1]) >= 0.9 - 1e-6
    assert float(ca.expected_payment) <= float(c1.expected_payment) + 1e-6
    assert 0.0 <= float(ca.audit_rate) <= 1.0
    # a payment cap binds: payments stay below it and the target is still met
    cc = M.optimal_contract(PA, agent=M.QuantalResponse(0.1, [0.5, 0.5]), target_action=1,
                            min_target_prob=0.9, audit_cost=0.5, max_payment=4.0)
    assert float(np.max(cc.payments)) <= 4.0 + 1e-12 and float(cc.base_payment) <= 4.0 + 1e-12
    assert float(cc.action_probs[1]) >= 0.9 - 1e-6 and 0.0 < float(cc.audit_rate) <= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        M.QuantalResponse(0.0)
    with pytest.raises(ValueError, match="prior"):
        M.QuantalResponse(1.0, [0.5, 0.6])
    with pytest.raises(ValueError, match="prior"):
        M.optimal_contract(PA, agent=M.QuantalResponse(1.0, [0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="target_action"):
        M.optimal_contract(PA, agent=M.QuantalResponse(1.0), target_action=2)
    with pytest.raises(ValueError, match="min_target_prob"):
        M.optimal_contract(PA, agent=M.QuantalResponse(1.0), target_action=1, min_target_prob=1.0)
    with pytest.raises(ValueError, match="payments"):
        M.principal_value(PA, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="agent"):
        M.optimal_contract(PA, agent="qr")
