r"""Policy-optimisation losses as pure functions of log-probabilities, masks and advantages.

Shapes: ``logprobs, old_logprobs, ref_logprobs, mask: [B, T]`` (per completion token),
sequence-level ``rewards`` grouped as ``[G, K]`` (``G`` prompts, ``K`` samples each, flattened
row-major to ``B = G K``). Every loss returns ``(loss, metrics)``; minimise ``loss``.

* :func:`rloo_loss`: REINFORCE with the leave-one-out baseline (Kool et al. 2019, "Buy 4
  REINFORCE samples, get a baseline for free!"; Ahmadian et al. 2024, arXiv:2402.14740) on the
  KL-shaped reward :math:`\tilde r = r - \beta \sum_t (\log\pi - \log\pi_{ref})`. Its expected
  gradient is that of :math:`\mathbb{E}_\pi[r] - \beta\,\mathrm{KL}(\pi\|\pi_{ref})`, whose
  maximiser is :math:`\pi^*(y) \propto \pi_{ref}(y) e^{r(y)/\beta}`: the quantal response of
  :mod:`mechanisms` with prior :math:`\pi_{ref}`.
* :func:`grpo_loss`: group-normalised advantages, PPO clipping, k3 KL estimator towards the
  reference (Shao et al. 2024, "DeepSeekMath", arXiv:2402.03300).
* :func:`ppo_loss` with :func:`gae`: clipped surrogate, clipped value loss (Schulman et al. 2017,
  arXiv:1707.06347; GAE: Schulman et al. 2016, arXiv:1506.02438).
* :func:`dpo_loss`: direct preference optimisation (Rafailov et al. 2023, arXiv:2305.18290).

Example:
  >>> import jax.numpy as jnp
  >>> from socialign.llm_bridge import rloo_advantages
  >>> [round(a, 4) for a in rloo_advantages(jnp.array([[1., 0., 0., 1.]]))[0].tolist()]
  [0.6667, -0.6667, -0.6667, 0.6667]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["rloo_advantages", "grpo_advantages", "rloo_loss", "grpo_loss", "gae", "ppo_loss",
           "dpo_loss", "masked_mean"]


def _check_shapes(name, ref, **arrays):
    for k, v in arrays.items():
        if jnp.shape(v) != jnp.shape(ref):
            raise ValueError(f"{name}: {k} has shape {jnp.shape(v)}, expected "
                             f"{jnp.shape(ref)}")


def masked_mean(x, mask, axis=None):
    """Mean of ``x`` over entries where ``mask`` is True (0 if none).

    Args:
      x: array ``[...]``; mask: bool array of the same shape; axis: reduced axes (all if None).

    Returns:
      the masked mean (shape of ``x`` without ``axis``).

    Raises:
      ValueError: ``mask`` and ``x`` differ in shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> float(llm_bridge.masked_mean(jnp.array([1., 2., 9.]), jnp.array([True, True, False])))
      1.5
    """
    _check_shapes("masked_mean", x, mask=mask)
    mask = mask.astype(x.dtype)
    return jnp.sum(x * mask, axis=axis) / jnp.maximum(jnp.sum(mask, axis=axis), 1.0)


def rloo_advantages(rewards):
    r"""Leave-one-out advantages :math:`A_{gi} = r_{gi} - \frac{1}{K-1}\sum_{j\ne i} r_{gj}`.

    Args:
      rewards: ``[G, K]`` sequence rewards, ``K >= 2`` samples per prompt.

    Returns:
      ``[G, K]`` advantages.

    Raises:
      ValueError: fewer than 2 samples per prompt.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> llm_bridge.rloo_advantages(jnp.array([[1., 0.]])).tolist()
      [[1.0, -1.0]]
    """
    if jnp.ndim(rewards) < 1:
        raise ValueError("rewards must be [G, K]")
    K = rewards.shape[-1]
    if K < 2:
        raise ValueError(f"RLOO needs at least 2 samples per prompt, got {K}")
    return rewards - (jnp.sum(rewards, -1, keepdims=True) - rewards) / (K - 1)


def grpo_advantages(rewards, eps: float = 1e-4):
    r"""Group-normalised advantages :math:`(r - \bar r_g) / (\mathrm{std}_g + \epsilon)`.

    Args:
      rewards: ``[G, K]`` sequence rewards; eps: ``epsilon >= 0`` added to the group std.

    Returns:
      ``[G, K]`` advantages (Shao et al. 2024, arXiv:2402.03300).

    Raises:
      ValueError: ``eps < 0`` or a scalar ``rewards``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> llm_bridge.grpo_advantages(jnp.array([[1., 3.]]), eps=0.0).tolist()
      [[-1.0, 1.0]]
    """
    if jnp.ndim(rewards) < 1 or not eps >= 0:
        raise ValueError(f"rewards must be [G, K] and eps >= 0, got shape {jnp.shape(rewards)} "
                         f"and eps={eps!r}")
    mean = jnp.mean(rewards, -1, keepdims=True)
    std = jnp.std(rewards, -1, keepdims=True)
    return (rewards - mean) / (std + eps)


def rloo_loss(logprobs, ref_logprobs, mask, rewards, temperature):
    r"""RLOO on the KL-shaped sequence reward (see the module docstring).

    .. math:: L = -\frac{1}{B}\sum_{i} A_i \sum_t m_{it}\log\pi_{it},\quad
       A = \mathrm{LOO}(r - \beta\,\mathrm{sg}[\textstyle\sum_t m(\log\pi - \log\pi_{ref})])

    Args:
      logprobs: ``[B, T]`` current policy log-probs (differentiated).
      ref_logprobs: ``[B, T]`` reference policy log-probs.
      mask: ``[B, T]`` completion mask.
      rewards: ``[G, K]`` sequence rewards, ``G K = B``.
      temperature: the KL coefficient ``beta >= 0`` (the quantal-response temperature of the
        optimum ``pi_ref exp(r / beta) / Z``; reward units). Was ``kl_coef``.

    Returns:
      ``(loss, {"kl", "reward", "shaped_reward"})``, scalars (KL per sequence, in nats).

    Raises:
      ValueError: mismatched shapes (``G K != B``).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> lp = jnp.array([[-1.0], [-2.0]])
      >>> loss, aux = llm_bridge.rloo_loss(lp, lp, jnp.ones((2, 1), bool), jnp.array([[1., 0.]]),
      ...                                  0.1)
      >>> round(float(loss), 4)   # A = [1, -1]: -(1 * -1 + -1 * -2) / 2
      -0.5
    """
    _check_shapes("rloo_loss", logprobs, ref_logprobs=ref_logprobs, mask=mask)
    if jnp.ndim(rewards) != 2 or rewards.shape[0] * rewards.shape[1] != logprobs.shape[0]:
        raise ValueError(f"rloo_loss: rewards must be [G, K] with G K = {logprobs.shape[0]}, "
                         f"got shape {jnp.shape(rewards)}")
    G, K = rewards.shape
    m = mask.astype(logprobs.dtype)
    seq_lp = jnp.sum(logprobs * m, -1)
    kl = jax.lax.stop_gradient(jnp.sum((logprobs - ref_logprobs) * m, -1))
    shaped = rewards - temperature * kl.reshape(G, K)
    adv = jax.lax.stop_gradient(rloo_advantages(shaped)).reshape(-1)
    loss = -jnp.mean(adv * seq_lp)
    return loss, {"kl": jnp.mean(kl), "reward": jnp.mean(rewards),
                  "shaped_reward": jnp.mean(shaped)}


def grpo_loss(logprobs, old_logprobs, ref_logprobs, mask, advantages, *, clip_eps=0.2,
              temperature=0.04):
    r"""GRPO objective (per-token clipped ratio, k3 KL, per-sequence token mean).

    .. math:: L = -\frac1B\sum_i \frac{1}{|y_i|}\sum_t \Big[\min(\rho_{it} A_i,
       \mathrm{clip}(\rho_{it}, 1\pm\epsilon) A_i) - \beta\,(e^{\delta_{it}} - \delta_{it} - 1)
       \Big],\ \rho = e^{\log\pi - \log\pi_{old}},\ \delta = \log\pi_{ref} - \log\pi

    Args:
      logprobs, old_logprobs, ref_logprobs, mask: ``[B, T]`` (current, sampling-time and
        reference policies' per-token log-probs; completion mask).
      advantages: ``[B]`` (e.g. ``grpo_advantages(r).reshape(-1)``).
      clip_eps: ratio clip ``epsilon``.
      temperature: the KL coefficient ``beta >= 0`` toward the reference (the quantal-response
        temperature of the regularised optimum). Was ``kl_coef``.

    Returns:
      ``(loss, {"kl", "clip_frac"})``, scalars.

    Raises:
      ValueError: mismatched shapes.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> lp = jnp.log(jnp.array([[0.5, 0.5]]))
      >>> loss, aux = llm_bridge.grpo_loss(lp, lp, lp, jnp.ones((1, 2), bool), jnp.array([1.0]))
      >>> float(loss), float(aux["kl"])
      (-1.0, 0.0)
    """
    _check_shapes("grpo_loss", logprobs, old_logprobs=old_logprobs, ref_logprobs=ref_logprobs,
                  mask=mask)
    if jnp.shape(advantages) != jnp.shape(logprobs)[:1]:
        raise ValueError(f"grpo_loss: advantages must be [B] = {jnp.shape(logprobs)[:1]}, got "
                         f"{jnp.shape(advantages)}")
    ratio = jnp.exp(logprobs - old_logprobs)
    a = advantages[:, None]
    surr = jnp.minimum(ratio * a, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * a)
    d = ref_logprobs - logprobs
    kl = jnp.exp(d) - d - 1
    per_tok = surr - temperature * kl
    loss = -jnp.mean(masked_mean(per_tok, mask, axis=-1))
    clipped = masked_mean((jnp.abs(ratio - 1) > clip_eps).astype(ratio.dtype), mask)
    return loss, {"kl": masked_mean(kl, mask), "clip_frac": clipped}


def gae(rewards, values, mask, *, gamma=1.0, lam=0.95):
    r"""Generalised advantage estimation over a masked token sequence.

    ``rewards [B, T]`` (per token; usually the sequence reward on the last token), ``values
    [B, T]``, ``mask [B, T]``. The value after the last valid token is 0.

    .. math:: \delta_t = r_t + \gamma V_{t+1} - V_t,\quad A_t = \delta_t + \gamma\lambda A_{t+1}

    Args:
      rewards, values, mask: ``[B, T]``; gamma: discount; lam: GAE ``lambda``.

    Returns:
      ``(advantages, returns = advantages + values)``, both ``[B, T]``, 0 where masked.

    Raises:
      ValueError: mismatched shapes.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> adv, ret = llm_bridge.gae(jnp.array([[0., 1.]]), jnp.zeros((1, 2)),
      ...                           jnp.ones((1, 2), bool), lam=1.0)
      >>> adv.tolist()
      [[1.0, 1.0]]
    """
    _check_shapes("gae", values, rewards=rewards, mask=mask)
    m = mask.astype(values.dtype)
    v = values * m
    v_next = jnp.concatenate([v[:, 1:], jnp.zeros_like(v[:, :1])], axis=1)
    delta = (rewards + gamma * v_next - v) * m

    def body(carry, x):
        d, mt = x
        a = d + gamma * lam * carry * mt
        return a * mt, a * mt

    _, adv = jax.lax.scan(body, jnp.zeros(values.shape[0], values.dtype),
                          (delta.T[::-1], m.T[::-1]))
    adv = adv[::-1].T
    return adv, (adv + v) * m


def ppo_loss(logprobs, old_logprobs, advantages, mask, values, old_values, returns, *,
             clip_eps=0.2, value_clip=0.2, vf_coef=0.5):
    r"""PPO clipped surrogate plus clipped value loss, token-level masked means.

    .. math:: L = -\overline{\min(\rho A, \mathrm{clip}(\rho,1\pm\epsilon)A)}
       + c_v\,\tfrac12\,\overline{\max\big((V-R)^2, (V_{old} + \mathrm{clip}(V - V_{old},
       \pm\epsilon_v) - R)^2\big)}

    Args:
      logprobs, old_logprobs, advantages, mask, values, old_values, returns: ``[B, T]``.
      clip_eps: ratio clip; value_clip: value clip; vf_coef: value-loss weight ``c_v``.

    Returns:
      ``(loss, {"policy_loss", "value_loss"})``, scalars.

    Raises:
      ValueError: mismatched shapes.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> z, one = jnp.zeros((1, 1)), jnp.ones((1, 1))
      >>> loss, aux = llm_bridge.ppo_loss(z, z, one, one.astype(bool), one, one, one)
      >>> float(aux["policy_loss"]), float(aux["value_loss"])
      (-1.0, 0.0)
    """
    _check_shapes("ppo_loss", logprobs, old_logprobs=old_logprobs, advantages=advantages,
                  mask=mask, values=values, old_values=old_values, returns=returns)
    ratio = jnp.exp(logprobs - old_logprobs)
    pg = -masked_mean(jnp.minimum(ratio * advantages,
                                  jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * advantages), mask)
    v_clip = old_values + jnp.clip(values - old_values, -value_clip, value_clip)
    vf = 0.5 * masked_mean(jnp.maximum((values - returns) ** 2, (v_clip - returns) ** 2), mask)
    return pg + vf_coef * vf, {"policy_loss": pg, "value_loss": vf}


def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *,
             temperature=0.1):
    r"""DPO: :math:`-\log\sigma\big(\beta[(\log\pi_c - \log\pi^{ref}_c) -
    (\log\pi_r - \log\pi^{ref}_r)]\big)`, averaged over pairs.

    Args:
      chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps: ``[B]`` sequence
        log-probs of the preferred / dispreferred completions under the policy and reference.
      temperature: DPO's ``beta > 0``, the KL coefficient of the implied objective (the
        quantal-response temperature of its optimum). Was ``beta``.

    Returns:
      ``(loss, {"accuracy", "margin"})``, scalars.

    Raises:
      ValueError: mismatched shapes.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> z = jnp.zeros(1)
      >>> loss, aux = llm_bridge.dpo_loss(z, z, z, z)
      >>> round(float(loss), 4)   # log 2
      0.6931
    """
    _check_shapes("dpo_loss", chosen_logps, rejected_logps=rejected_logps,
                  ref_chosen_logps=ref_chosen_logps, ref_rejected_logps=ref_rejected_logps)
    margin = temperature * ((chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps))
    loss = -jnp.mean(jax.nn.log_sigmoid(margin))
    return loss, {"accuracy": jnp.mean((margin > 0).astype(margin.dtype)),
                  "margin": jnp.mean(margin)}
