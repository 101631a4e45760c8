"""Tests of llm_bridge._losses against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign.llm_bridge import (
    dpo_loss,
    gae,
    grpo_advantages,
    grpo_loss,
    ppo_loss,
    rloo_advantages,
    rloo_loss,
)


def test_rloo_advantages_hand():
    r = jnp.array([[1.0, 0.0, 0.0, 1.0], [3.0, 1.0, 2.0, 2.0]])
    # A_i = r_i - mean of the others
    np.testing.assert_allclose(rloo_advantages(r), [[2 / 3, -2 / 3, -2 / 3, 2 / 3],
                                                   [3 - 5 / 3, 1 - 7 / 3, 0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="2 samples"):
        rloo_advantages(jnp.ones((3, 1)))


def test_grpo_advantages_hand():
    r = jnp.array([[1.0, 3.0]])
    np.testing.assert_allclose(grpo_advantages(r, eps=0.0), [[-1.0, 1.0]], atol=1e-6)


def test_rloo_loss_hand_and_gradient():
    lp = jnp.array([[-1.0, -0.5], [-2.0, 0.0]])
    ref = jnp.array([[-1.0, -1.0], [-2.0, -1.0]])
    mask = jnp.array([[True, True], [True, False]])
    r = jnp.array([[1.0, 0.0]])
    # kl per seq: [0.5, 0]; shaped r = [1 - 0.1*0.5, 0] = [0.95, 0]; A = [0.95, -0.95]
    # seq logp = [-1.5, -2]; loss = -mean(A * seq_lp) = -(0.95*-1.5 + -0.95*-2)/2 = -0.2375
    loss, aux = rloo_loss(lp, ref, mask, r, 0.1)
    assert float(loss) == pytest.approx(-0.2375, abs=1e-6)
    assert float(aux["kl"]) == pytest.approx(0.25, abs=1e-6)
    g = jax.grad(lambda x: rloo_loss(x, ref, mask, r, 0.1)[0])(lp)
    np.testing.assert_allclose(g, [[-0.475, -0.475], [0.475, 0.0]], atol=1e-6)


def test_rloo_fixed_point_is_quantal_response():
    """Exact expected RLOO gradient on a 3-armed bandit vanishes at pi ∝ pi_ref exp(r/beta)."""
    beta = 0.5
    ref = jnp.log(jnp.array([0.3, 0.3, 0.4]))
    r = jnp.array([1.0, 1.0, 0.0])
    star = jax.nn.log_softmax(ref + r / beta)

    def expected_grad(logits):
        logp = jax.nn.log_softmax(logits)
        p = jnp.exp(logp)
        shaped = r - beta * (logp - ref)
        adv = shaped - p @ shaped  # baseline = expectation (the K -> inf limit of LOO)
        return jax.grad(lambda z: -jnp.sum(jax.lax.stop_gradient(p * adv)
                                           * jax.nn.log_softmax(z)))(logits)

    np.testing.assert_allclose(expected_grad(star), 0.0, atol=1e-6)
    assert float(jnp.max(jnp.abs(expected_grad(ref)))) > 0.05


def test_grpo_loss_hand():
    lp = jnp.log(jnp.array([[0.5, 0.5]]))
    old = jnp.log(jnp.array([[0.25, 0.5]]))  # ratios [2, 1]
    ref = lp
    mask = jnp.array([[True, True]])
    adv = jnp.array([1.0])
    # token 1: min(2*1, 1.2*1) = 1.2; token 2: 1; KL = 0 -> loss = -(1.2+1)/2
    loss, aux = grpo_loss(lp, old, ref, mask, adv, clip_eps=0.2, temperature=0.04)
    assert float(loss) == pytest.approx(-1.1, abs=1e-6)
    assert float(aux["clip_frac"]) == pytest.approx(0.5)
    # KL k3: ref = log 0.25 vs lp = log 0.5: d = log 0.5 -> e^d - d - 1 = 0.5 + 0.6931 - 1
    loss2, aux2 = grpo_loss(lp, lp, jnp.log(jnp.array([[0.25, 0.5]])), mask, adv,
                            temperature=1.0)
    k3 = 0.5 - np.log(0.5) - 1
    assert float(aux2["kl"]) == pytest.approx(k3 / 2, abs=1e-6)
    assert float(loss2) == pytest.approx(-(1 - k3 + 1) / 2, abs=1e-6)


def test_gae_hand():
    rewards = jnp.array([[0.0, 0.0, 1.0]])
    values = jnp.array([[0.5, 0.6, 0.7]])
    mask = jnp.array([[True, True, True]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    d2 = 1.0 - 0.7
    d1 = 0.7 - 0.6
    d0 = 0.6 - 0.5
    a2 = d2
    a1 = d1 + 0.5 * a2
    a0 = d0 + 0.5 * a1
    np.testing.assert_allclose(adv, [[a0, a1, a2]], atol=1e-6)
    np.testing.assert_allclose(ret, adv + values, atol=1e-6)
    # masked tail: the last valid token bootstraps from 0
    adv_m, _ = gae(rewards, values, jnp.array([[True, True, False]]), gamma=1.0, lam=1.0)
    np.testing.assert_allclose(adv_m, [[0.0 + 0.6 - 0.5 + (0 - 0.6), 0 - 0.6, 0]], atol=1e-6)


def test_ppo_loss_hand():
    lp = jnp.log(jnp.array([[0.6]]))
    old = jnp.log(jnp.array([[0.4]]))  # ratio 1.5 -> clipped 1.2 for A > 0
    adv = jnp.array([[2.0]])
    mask = jnp.array([[True]])
    values, old_v, ret = jnp.array([[1.0]]), jnp.array([[0.5]]), jnp.array([[2.0]])
    # pg = -min(3, 2.4) = -2.4; v_clip = 0.5 + 0.2 = 0.7; vf = 0.5 * max(1, 1.69) = 0.845
    loss, aux = ppo_loss(lp, old, adv, mask, values, old_v, ret, clip_eps=0.2, value_clip=0.2,
                         vf_coef=0.5)
    assert float(aux["policy_loss"]) == pytest.approx(-2.4, abs=1e-6)
    assert float(aux["value_loss"]) == pytest.approx(0.845, abs=1e-6)
    assert float(loss) == pytest.approx(-2.4 + 0.5 * 0.845, abs=1e-6)


def test_dpo_loss_hand():
    loss, aux = dpo_loss(jnp.array([-1.0]), jnp.array([-2.0]), jnp.array([-1.5]),
                         jnp.array([-1.5]), temperature=0.5)
    # margin = 0.5 * ((0.5) - (-0.5)) = 0.5
    assert float(loss) == pytest.approx(np.log1p(np.exp(-0.5)), abs=1e-6)
    assert float(aux["accuracy"]) == 1.0
