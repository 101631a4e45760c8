"""Tests of llm_bridge._rewards: TRL-style reward API and the contract adapter."""

import jax
import numpy as np
import pytest
from socialign.llm_bridge import combine_rewards, contract_reward


def test_contract_reward_pays_observed_outcome():
    from socialign import mechanisms

    pa = mechanisms.PrincipalAgent([[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
    c = mechanisms.optimal_contract(pa)
    fn = contract_reward(c, lambda p, comp, rng: int(comp == "good"))
    out = fn(["q"] * 3, ["good", "bad", "good"], key=jax.random.key(0))
    pay = np.asarray(c.payments)
    assert out == [float(pay[1]), float(pay[0]), float(pay[1])]


def test_random_signal_is_reproducible_and_has_right_rate():
    q = 0.3
    fn = contract_reward([0.0, 1.0], lambda p, c, rng: int(rng.random() < q))
    a = fn(["x"] * 4000, ["y"] * 4000, key=jax.random.key(1))
    b = fn(["x"] * 4000, ["y"] * 4000, key=jax.random.key(1))
    c = fn(["x"] * 4000, ["y"] * 4000, key=jax.random.key(2))
    assert a == b and a != c
    assert abs(np.mean(a) - q) < 0.03  # 4 standard errors


def test_contract_reward_bad_input():
    with pytest.raises(ValueError, match="outcome 5"):
        contract_reward([1.0, 2.0], lambda p, c, rng: 5)(["p"], ["c"])
    with pytest.raises(ValueError, match="outcome"):
        contract_reward([1.0, 2.0], lambda p, c, rng: 0.0)(["p"], ["c"])
    with pytest.raises(ValueError, match="finite"):
        contract_reward([1.0, np.nan], lambda p, c, rng: 0)
    with pytest.raises(ValueError, match="1-D"):
        contract_reward([[1.0]], lambda p, c, rng: 0)
    with pytest.raises(TypeError, match="signal_fn"):
        contract_reward([1.0], None)


def test_combine_rewards_weights_and_checks():
    def one(prompts, completions, **kw):
        return [1.0] * len(completions)

    def length(prompts, completions, **kw):
        assert kw["step"] == 7
        return [float(len(c)) for c in completions]

    total, parts = combine_rewards([one, length], [2.0, -0.5], ["a", "b"], ["xx", "xxxx"],
                                   step=7)
    np.testing.assert_allclose(total, [2 - 1, 2 - 2])
    assert set(parts) == {"one", "length"}

    def nan(prompts, completions, **kw):
        return [0.0, float("nan")]

    with pytest.raises(ValueError, match="'nan' returned a non-finite value.*index 1"):
        combine_rewards([nan], [1.0], ["a", "b"], ["x", "y"])

    def wrong(prompts, completions, **kw):
        return [0.0]

    with pytest.raises(ValueError, match="returned 1 values for 2"):
        combine_rewards([wrong], [1.0], ["a", "b"], ["x", "y"])
