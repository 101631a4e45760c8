"""Learning dynamics in the environments: no-regret learners reach the known equilibria.

(a) two bidders learning by Hedge in a first-price auction, values on a 101-point grid: mean
bid slope close to the Bayes-Nash 1/2 (ORACLES: about 0.497) and revenue 1/3 (revenue
equivalence); (b) second-price learners bid their values; (c) a principal learning over a grid
of contracts against a best-responding agent reaches ``mechanisms.optimal_contract``'s payment
and value; plus the learners' own known values (biased rock-paper-scissors, ORACLES) and
learning through ``deviation_rewards`` of an environment.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import mechanisms
from socialign.mechanisms import auctions, envs

K = 101
V = jnp.linspace(0.0, 1.0, K)  # value grid (uniform prior over it)
B = jnp.linspace(0.0, 1.0, K)  # bid grid


def _first_price(pol):
    """Expected reward of every bid at every value, ``[2, K values, K bids]``."""
    W = auctions.win_probability(pol.mean(1))
    return (V[None, :, None] - B[None, None, :]) * W[:, None, :]


def _second_price(pol):
    q = pol.mean(1)[::-1]  # the other bidder's bid distribution
    W = auctions.win_probability(pol.mean(1))
    below = jnp.cumsum(q * B, -1) - q * B  # E[b'; b' < b]
    return V[None, :, None] * W[:, None, :] - (below + 0.5 * q * B)[:, None, :]


def test_hedge_first_price_self_play_reaches_the_bne_slope():
    learner = envs.Hedge(learning_rate=50.0)
    s = jax.jit(lambda: envs.self_play(learner, _first_price, K, (2, K), num_steps=1000))()
    P = s.average
    mean_bid = P @ B  # [2, K]
    slope = float((mean_bid[:, 1:] / V[1:]).mean())
    assert abs(slope - 0.5) < 0.02, slope
    W = auctions.win_probability(P.mean(1))
    revenue = float(jnp.sum(jnp.mean((P * (B * W[:, None, :])).sum(-1), -1)))
    assert revenue == pytest.approx(1 / 3, abs=0.01)  # revenue equivalence
    # every bidder's average regret per step is small (the no-regret guarantee)
    assert float(jnp.max(s.regret) / s.steps) < 0.01


def test_second_price_learners_bid_their_values():
    learner = envs.Hedge(learning_rate=50.0)
    s = jax.jit(lambda: envs.self_play(learner, _second_price, K, (2, K), num_steps=1000))()
    mean_bid = learner.policy(s) @ B
    np.testing.assert_allclose(mean_bid, jnp.broadcast_to(V, (2, K)), atol=0.01)


@pytest.fixture(scope="module")
def contract_rewards():
    env = envs.ContractGame()
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    g = jnp.linspace(0.0, 5.0, 21)  # payments on failure x success, step 0.25
    grid = jnp.stack(jnp.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)

    def principal(pay):
        acts = jnp.stack([pay, env.best_response(pay, params)])
        return env.outcome(acts, state, params)[0][0]

    return params, grid, jax.jit(jax.vmap(principal))(grid)


# ORACLES' contract instance: the optimal contract pays (0, 2.5), principal value 6 (checked
# against mechanisms.optimal_contract in the slow test below; its LP compile is the cost)
OPTIMAL_PAYMENTS, OPTIMAL_VALUE = (0.0, 2.5), 6.0


@pytest.mark.parametrize("learner", [
    envs.Hedge(2.0), pytest.param(envs.OptimisticHedge(2.0), marks=pytest.mark.slow),
    pytest.param(envs.RegretMatching(plus=True), marks=pytest.mark.slow)])
def test_learning_principal_reaches_the_optimal_contract(contract_rewards, learner):
    params, grid, R = contract_rewards
    s = envs.self_play(learner, lambda p: R, grid.shape[0], (), num_steps=300)
    P = learner.policy(s)
    np.testing.assert_allclose(grid[jnp.argmax(P)], OPTIMAL_PAYMENTS, atol=1e-9)
    assert float(P @ R) == pytest.approx(OPTIMAL_VALUE, abs=0.02)


@pytest.mark.slow
def test_contract_oracle_is_optimal_contract(contract_rewards):
    params, grid, R = contract_rewards
    # the dual simplex alone (limited liability) compiles one LP method instead of auto's two
    c = mechanisms.optimal_contract(params.problem, method="simplex")
    np.testing.assert_allclose(c.payments, OPTIMAL_PAYMENTS, atol=1e-9)
    assert float(c.principal_value) == pytest.approx(OPTIMAL_VALUE, abs=1e-9)
    assert float(R.max()) == pytest.approx(OPTIMAL_VALUE, abs=1e-9)  # the grid holds it


@pytest.mark.slow
def test_regret_matching_plus_on_biased_rock_paper_scissors():
    A = jnp.array([[0, -0.25, 0.5], [0.25, 0, -0.05], [-0.5, 0.05, 0]])
    fn = lambda p: jnp.stack([A @ p[1], -A.T @ p[0]])  # noqa: E731
    for learner in (envs.RegretMatching(plus=True), envs.OptimisticRegretMatching()):
        s = envs.self_play(learner, fn, 3, (2,), num_steps=3000)
        np.testing.assert_allclose(s.average[0], [1 / 16, 10 / 16, 5 / 16], atol=0.02)


@pytest.mark.slow
def test_optimistic_hedge_last_iterate_converges_in_asymmetric_matching_pennies():
    # Ochs's asymmetric matching pennies (ORACLES): equilibrium row (1/2, 1/2), column (1/5, 4/5)
    A = jnp.array([[1.1141, 0.0], [0.0, 0.2785]])
    Bc = jnp.array([[0.0, 1.1141], [1.1141, 0.0]])
    fn = lambda p: jnp.stack([A @ p[1], Bc.T @ p[0]])  # noqa: E731
    eq = jnp.array([[0.5, 0.5], [0.2, 0.8]])
    opt = envs.self_play(envs.OptimisticHedge(0.3), fn, 2, (2,), num_steps=2000)
    np.testing.assert_allclose(envs.OptimisticHedge(0.3).policy(opt), eq, atol=1e-3)
    plain = envs.self_play(envs.Hedge(0.3), fn, 2, (2,), num_steps=2000)
    # plain Hedge's last iterate cycles away from the equilibrium; its average converges
    assert float(jnp.abs(envs.Hedge(0.3).policy(plain) - eq).max()) > 0.1
    np.testing.assert_allclose(plain.average, eq, atol=0.02)


@pytest.mark.slow
def test_learning_through_deviation_rewards_in_the_prisoners_dilemma():
    env = envs.RepeatedGame()
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    learner = envs.Hedge(0.5)
    grid = jnp.arange(2, dtype=jnp.int32)

    def step(s, key):
        a = jax.random.categorical(key, jnp.log(learner.policy(s)))  # sampled play
        r = envs.deviation_rewards(env, a.astype(jnp.int32), state, params, grid)
        return learner.update(s, r), None

    s = learner.init(2, (2,))
    s, _ = jax.lax.scan(step, s, jax.random.split(jax.random.key(1), 100))
    assert float(learner.policy(s)[:, 1].min()) > 0.99  # defect is dominant


# ----------------------------------------------------------------------------- PPO

# the default suite's PPO run: 2 bidders, 64 auctions per rollout, 200 updates (one compile)
PPO_SMALL = envs.PPOConfig(num_envs=64, num_steps=4, num_updates=200, hidden=(16, 16))
VALUES = jnp.linspace(0.05, 1.0, 20)


def _bid_slope(params):
    """Least-squares slope through the origin of the learned mean bid against the value."""
    obs = jax.vmap(lambda v: jnp.stack([jnp.stack([v, 0.0])] * 2))(VALUES)  # [20, agents, 2]
    bids = jax.vmap(lambda o: envs.policy_mean(params, o))(obs)[..., 0]  # [20, agents]
    return (bids * VALUES[:, None]).sum(0) / (VALUES**2).sum(), bids


def test_ppo_first_price_bidders_reach_the_bne_slope():
    env = envs.SealedBidAuction(num_agents=2, kind="first_price")
    out = jax.jit(envs.make_train(env, PPO_SMALL))(jax.random.key(0))
    slope, bids = _bid_slope(out.params)
    # Bayes-Nash bid (n - 1) v / n = v / 2 for two U[0, 1] bidders (ORACLES)
    np.testing.assert_allclose(slope, 0.5, atol=0.05)
    assert float(jnp.abs(bids - 0.5 * VALUES[:, None]).max()) < 0.15
    m = out.metrics
    assert m["reward"].shape == (PPO_SMALL.num_updates,)
    # ex-post regret falls as the bidders learn; the policy's noise shrinks
    assert float(m["regret"][-20:].mean()) < 0.6 * float(m["regret"][:5].mean())
    assert float(m["log_std"][-1]) < float(PPO_SMALL.init_log_std)
    assert bool(jnp.all(jnp.isfinite(m["loss"])))


@pytest.mark.slow
@pytest.mark.parametrize("kind,slope,atol,regret_drop", [("first_price", 0.5, 0.05, 0.6),
                                                         ("second_price", 1.0, 0.25, 0.1)])
def test_ppo_seeds_vmapped_reach_the_equilibrium(kind, slope, atol, regret_drop):
    # four seeds in one vmapped call. First price is steep around the Bayes-Nash bid v / 2: every
    # seed lands within 0.05 of it (its ex-post regret stays positive: in hindsight a winner
    # would have bid less). Second price: truthful bidding is (weakly) dominant, but the payoff
    # is flat around it (a bid b loses only about (b - v)^2 f / 2 in expectation), so the learned
    # slopes wander (measured 0.89-1.21 over 8 seeds x 400 updates) while the ex-post regret
    # of the last 20 updates falls to 1-7% of the first 5's: PPO does not reach truthful
    # bidding within 0.05
    env = envs.SealedBidAuction(num_agents=2, kind=kind)
    cfg = envs.PPOConfig(num_envs=64, num_steps=4, num_updates=400, hidden=(16, 16))
    out = jax.jit(jax.vmap(envs.make_train(env, cfg)))(jax.random.split(jax.random.key(1), 4))
    for s in range(4):
        got, _ = _bid_slope(jax.tree_util.tree_map(lambda x, s=s: x[s], out.params))
        np.testing.assert_allclose(got, slope, atol=atol)
    regret = out.metrics["regret"]
    assert float(jnp.max(regret[:, -20:].mean(1) / regret[:, :5].mean(1))) < regret_drop


def test_ppo_validates_its_inputs():
    env = envs.SealedBidAuction(num_agents=2)
    with pytest.raises(TypeError, match="env"):
        envs.make_train(envs.RepeatedGame())  # integer actions
    with pytest.raises(TypeError, match="env"):
        envs.make_train(object())
    with pytest.raises(TypeError, match="config"):
        envs.make_train(env, {"num_envs": 4})
    with pytest.raises(ValueError, match="config.num_minibatches"):
        envs.make_train(env, envs.PPOConfig(num_envs=3, num_steps=1, num_minibatches=4))
    with pytest.raises(ValueError, match="config.num_envs"):
        envs.PPOConfig(num_envs=0)
    with pytest.raises(ValueError, match="config.learning_rate"):
        envs.PPOConfig(learning_rate=-1.0)
    with pytest.raises(ValueError, match="config.gamma"):
        envs.PPOConfig(gamma=1.5)
    with pytest.raises(ValueError, match="config.hidden"):
        envs.PPOConfig(hidden=())


def test_learners_validate_their_inputs():
    """Wrong-shaped rewards gave XLA's "mul got incompatible shapes", a NaN reward a NaN policy
    without a word, and RegretMatching(plus="yes") was taken (a break-tester's finds)."""
    h = envs.Hedge()
    s = h.init(3)
    with pytest.raises(ValueError, match=r"rewards must have the state's shape \(3,\)"):
        h.update(s, jnp.ones(2))
    with pytest.raises(ValueError, match="rewards must be finite"):
        h.update(s, jnp.array([jnp.nan, 0.0, 0.0]))
    with pytest.raises(TypeError, match="plus must be a bool"):
        envs.RegretMatching(plus="yes")
