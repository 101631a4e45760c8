"""mechanisms.bayes contracts under posterior uncertainty: Bayes-optimal vs plug-in, chance
constraints under fresh draws, max-min, Carroll's linear contract, and the price of robustness."""

import jax
import numpy as np
import pytest
from socialign import kernel, mechanisms
from socialign.mechanisms import bayes

S = 100
COSTS, REWARDS = [0.0, 1.0], [0.0, 100.0]


def _draws(n, seed):
    """Posterior draws of the technology: P(success | effort) ~ Beta(40, 10) (mean 0.8),
    P(success | no effort) ~ Beta(20, 30) (mean 0.4); outcomes (failure, success)."""
    rng = np.random.default_rng(seed)
    p1, p0 = rng.beta(40, 10, n), rng.beta(20, 30, n)
    P = np.stack([np.stack([1 - p0, p0], -1), np.stack([1 - p1, p1], -1)], axis=1)
    return mechanisms.PrincipalAgent(P, COSTS, REWARDS)


@pytest.fixture(scope="module")
def draws():
    return _draws(S, 0)


@pytest.fixture(scope="module")
def designs(draws):
    mean = mechanisms.PrincipalAgent(np.asarray(draws.outcome_probs).mean(0), COSTS, REWARDS)
    plug = mechanisms.optimal_contract(mean)
    return {
        "plug_in": (plug, bayes.evaluate_contract(draws, plug.payments, int(plug.action))),
        "bayes": bayes.bayes_optimal_contract(draws),
        "maxmin": bayes.maxmin_contract(draws),
        "chance": bayes.chance_constrained_contract(draws, epsilon=0.1),
    }


def test_bayes_optimal_beats_the_plug_in_contract(designs):
    plug, plug_value = designs["plug_in"]
    b = designs["bayes"]
    assert int(b.result) == kernel.Result.CONVERGED
    # the plug-in's IC is tight at the posterior mean, so the informed agent shirks in about
    # half of the draws; the Bayes-optimal contract pays more and keeps effort far more often
    assert 0.3 < float(plug_value.implement_probability) < 0.7
    assert float(b.implement_probability) > 0.8
    assert float(b.posterior_value) > float(plug_value.mean) + 0.5
    assert abs(float(b.payments[1]) - float(plug.payments[1])) > 0.5
    # the candidates it chose among include the plug-in (second to last slot, at its action)
    # and the max-min contract (last slot)
    values = np.asarray(b.stats["candidate_values"])
    assert values.shape == (11 + 2, 2)
    np.testing.assert_allclose(values[-2, int(plug.action)], float(plug_value.mean), rtol=1e-9)
    assert float(b.posterior_value) == pytest.approx(values.max())
    assert float(b.posterior_value) >= float(designs["maxmin"].posterior_value) - 1e-9


def test_chance_constraint_holds_with_the_stated_probability_under_fresh_draws(designs):
    cc = designs["chance"]
    eps = 0.1
    assert int(cc.result) == kernel.Result.CONVERGED and int(cc.action) == 1
    # in sample the CVaR bound guarantees at least 1 - eps of the draws
    assert float(cc.implement_probability) >= 1 - eps - 1e-12
    # fresh draws from the same posterior: about 1 - eps or more (CVaR is conservative)
    fresh = bayes.evaluate_contract(_draws(20_000, 99), cc.payments, 1)
    p = float(fresh.implement_probability)
    assert 1 - eps - 0.04 <= p <= 1.0, p
    # it is cheaper than IC in every draw (the max-min contract pays at least as much)
    assert float(cc.payments[1]) < float(designs["maxmin"].payments[1])


def test_maxmin_has_the_best_worst_case_and_pays_for_it(designs):
    mm = designs["maxmin"]
    assert int(mm.result) == kernel.Result.CONVERGED
    assert float(mm.implement_probability) == 1.0  # IC and IR in every draw
    for name in ("bayes", "chance"):
        assert float(mm.worst_case_value) >= float(designs[name].worst_case_value) - 1e-7
    _, plug_value = designs["plug_in"]
    assert float(mm.worst_case_value) >= float(plug_value.worst_case) - 1e-7
    # the price of robustness: a lower posterior value than the Bayes-optimal contract
    assert float(mm.posterior_value) <= float(designs["bayes"].posterior_value) + 1e-9
    # the worst case is attained at a draw: min over draws of P_s,1 (r - t)
    P1 = np.asarray(_draws(S, 0).outcome_probs)[:, 1, 1]
    np.testing.assert_allclose(float(mm.worst_case_value),
                               np.min(P1 * (100.0 - float(mm.payments[1]))), rtol=1e-7)
    # the smallest success payment that keeps IC in every draw: c / min (p1 - p0)
    P = np.asarray(_draws(S, 0).outcome_probs)
    np.testing.assert_allclose(float(mm.payments[1]), 1.0 / np.min(P[:, 1, 1] - P[:, 0, 1]),
                               rtol=1e-6)


def test_carroll_closed_form_and_its_guarantee():
    # the known technology: B = P r = (8, 16), costs (0.5, 1)
    known = mechanisms.PrincipalAgent(np.array([[[0.6, 0.4], [0.2, 0.8]]]), [0.5, 1.0],
                                      [0.0, 20.0])
    cl = bayes.carroll_linear_contract(known)
    B, c = np.array([8.0, 16.0]), np.array([0.5, 1.0])
    alphas = np.linspace(1e-4, 1.0, 200_001)
    guarantee = (1 - alphas) / alphas * np.max(alphas[:, None] * B - c, axis=1)
    i = np.argmax(guarantee)
    assert abs(float(cl.stats["share"]) - alphas[i]) < 1e-4
    assert abs(float(cl.worst_case_value) - guarantee[i]) < 1e-6
    np.testing.assert_allclose([float(cl.stats["share"]), float(cl.worst_case_value)],
                               [0.25, 9.0], atol=1e-12)
    # the worst case is real: add an unknown costless action that gives the agent a hair more
    # than its best known action, with as little output as possible
    alpha, u_star = 0.25, max(0.25 * B - c)
    q = (u_star + 1e-6) / (alpha * 20.0)  # beyond the evaluation's tie tolerance
    P3 = np.array([[[0.6, 0.4], [0.2, 0.8], [1 - q, q]]])
    world = mechanisms.PrincipalAgent(P3, [0.5, 1.0, 0.0], [0.0, 20.0])
    ev = bayes.evaluate_contract(world, cl.payments)
    assert int(ev.actions[0]) == 2
    np.testing.assert_allclose(float(ev.mean), float(cl.worst_case_value), atol=1e-5)
    # with the known actions only it earns more, and less than the best linear contract there
    best_linear = mechanisms.best_linear_contract(known[0])
    assert float(cl.worst_case_value) < float(cl.posterior_value) <= float(
        best_linear.principal_value) + 1e-9


def test_bad_input_raises_naming_the_argument(draws):
    with pytest.raises(TypeError, match="samples"):
        bayes.maxmin_contract(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="samples"):
        bayes.bayes_optimal_contract(mechanisms.PrincipalAgent([[0.5, 0.5]], [0.0], [0.0, 1.0]))
    with pytest.raises(ValueError, match="epsilon"):
        bayes.chance_constrained_contract(draws, epsilon=1.5)
    with pytest.raises(ValueError, match="payments"):
        bayes.evaluate_contract(draws, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="rewards"):
        bayes.carroll_linear_contract(mechanisms.PrincipalAgent(
            np.array([[[0.5, 0.5], [0.2, 0.8]]]), [0.0, 1.0], [-1.0, 1.0], limited_liability=True))


def test_robust_designers_on_the_one_verb(draws, designs):
    """mechanisms.design(draws, bayes.X()) returns the function's contract as a Design, shares
    its compiled program, and reads the violations over the draws."""
    cases = {"bayes": bayes.BayesOptimalContract(), "maxmin": bayes.MaxMinContract(),
             "chance": bayes.ChanceConstrainedContract(0.1)}
    for name, designer in cases.items():
        d = mechanisms.design(draws, designer)
        rc = designs[name]
        assert isinstance(d, mechanisms.Design) and isinstance(d.mechanism, bayes.RobustContract)
        np.testing.assert_allclose(d.mechanism.payments, rc.payments, rtol=1e-12)
        assert float(d.principal_value) == float(rc.posterior_value)
        assert float(d.stats["worst_case_value"]) == float(rc.worst_case_value)
        assert d.agent_values.shape == (S,) and int(d.result) == kernel.Result.CONVERGED
    # max-min keeps IC and IR in every draw; the chance constraint gives up some draws
    mm = mechanisms.design(draws, cases["maxmin"])
    assert float(mm.incentive_violation) <= 1e-7 and float(mm.participation_violation) <= 1e-7
    cc = mechanisms.design(draws, cases["chance"])
    assert float(cc.incentive_violation) > 0 and float(cc.stats["implement_probability"]) >= 0.9
    # epsilon is a leaf: a user's jit over it, throw=False, the same answer
    f = jax.jit(lambda e: mechanisms.design(draws, bayes.ChanceConstrainedContract(e),
                                            throw=False).principal_value)
    assert abs(float(f(0.1)) - float(cc.principal_value)) <= 1e-9
    known = _draws(1, 0)
    cl = mechanisms.design(known, bayes.CarrollLinearContract())
    assert float(cl.stats["worst_case_value"]) == float(
        bayes.carroll_linear_contract(known).worst_case_value)
    with pytest.raises(ValueError, match="mesh"):
        mechanisms.design(draws, cases["maxmin"], mesh=jax.devices()[:1])
    with pytest.raises(ValueError, match="samples"):
        mechanisms.design(mechanisms.PrincipalAgent(np.asarray(draws.outcome_probs)[None],
                                                    COSTS, REWARDS), cases["maxmin"])
    with pytest.raises(TypeError, match="PrincipalAgent"):
        mechanisms.design(mechanisms.LENModel(1.0, 1.0, 1.0), cases["bayes"])
