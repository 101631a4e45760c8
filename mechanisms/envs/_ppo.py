r"""A purejaxrl-style PPO learner for the environments: one jittable function per training run.

``train = make_train(env, config)`` returns a pure ``train(key, env_params=None) ->
PPOResult``: the whole run (``config.num_updates`` updates, each a rollout of
``config.num_steps`` steps in ``config.num_envs`` parallel environments, then
``config.update_epochs`` epochs of minibatch Adam steps) is one program of nested ``lax.scan``
loops, so ``jax.jit(train)`` compiles it once and ``jax.vmap(train)(keys)`` trains many seeds
(or, through ``env_params``, many mechanisms) in one call.

The agents of a :class:`~socialign.mechanisms.envs.MultiAgentEnv` share one actor-critic network
(parameter sharing, as in self-play): each agent's input is its own observation, flattened,
with a one-hot agent index appended (so asymmetric roles can still be learned). The actor is a
``tanh`` MLP giving the mean :math:`\mu_\theta(o)` of a Gaussian policy
:math:`\pi_\theta(a \mid o) = N(\mu_\theta(o), \operatorname{diag}\sigma^2)` with a learned,
state-independent :math:`\log\sigma`; the critic is a second MLP :math:`V_\phi(o)`.

Each update maximises the clipped surrogate objective (Schulman et al. 2017)

.. math::
    L(\theta) = E\big[\min(\rho A,\ \operatorname{clip}(\rho, 1-\epsilon, 1+\epsilon) A)\big]
      - c_v E\big[\max((V_\phi - R)^2, (V_{\text{old}} + \operatorname{clip}(V_\phi -
      V_{\text{old}}, \pm\epsilon) - R)^2)\big] / 2 + c_e H[\pi_\theta],

with :math:`\rho = \pi_\theta(a \mid o) / \pi_{\text{old}}(a \mid o)`, advantages :math:`A` by
generalised advantage estimation (Schulman et al. 2016),
:math:`A_t = \sum_k (\gamma\lambda)^k \delta_{t+k}`,
:math:`\delta_t = r_t + \gamma V(o_{t+1})(1 - d_t) - V(o_t)` (``d_t``: the episode ended,
terminated or truncated, as purejaxrl does), normalised per minibatch, and returns
:math:`R = A + V_{\text{old}}`. Gradients are clipped to a global norm before Adam (optax).

Sizes (environments, rollout length, updates, epochs, minibatches, hidden widths) are static
fields of :class:`PPOConfig`; every rate and coefficient is a leaf, so a new learning rate does
not recompile and ``vmap`` over configs works.

References:
  J. Schulman, F. Wolski, P. Dhariwal, A. Radford, O. Klimov, "Proximal policy optimization
  algorithms", arXiv:1707.06347, 2017.
  J. Schulman, P. Moritz, S. Levine, M. Jordan, P. Abbeel, "High-dimensional continuous control
  using generalized advantage estimation", ICLR 2016.
  C. Lu, J. Kuba, A. Letcher, L. Metz, C. Schroeder de Witt, J. Foerster, "Discovered policy
  optimisation" (purejaxrl), NeurIPS 2022.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from ...kernel import (
    check_positive_int,
    check_positive_scalar,
    is_concrete,
    pytree_dataclass,
    static_field,
)
from ._base import MultiAgentEnv

__all__ = ["PPOConfig", "PPOResult", "make_train", "policy_mean"]


@pytree_dataclass
class PPOConfig:
    """Configuration of :func:`make_train` (module docstring for the maths).

    Attributes:
      num_envs: parallel environments per rollout (static).
      num_steps: rollout length per update (static); a batch is ``num_steps * num_envs *
        agents`` agent-steps.
      num_updates: PPO updates in one run (static).
      update_epochs: passes over each batch (static).
      num_minibatches: minibatches per epoch (static; must divide the batch).
      hidden: widths of the actor's and the critic's hidden layers (static).
      learning_rate: Adam's step size (a leaf, like every number below).
      gamma: discount :math:`\\gamma`.
      gae_lambda: GAE's :math:`\\lambda`.
      clip_eps: the ratio (and value) clip :math:`\\epsilon`.
      vf_coef: value-loss weight :math:`c_v`.
      ent_coef: entropy bonus :math:`c_e`.
      max_grad_norm: global gradient-norm clip.
      init_log_std: the initial :math:`\\log\\sigma` of the Gaussian policy.

    Raises:
      ValueError: on a non-positive size, an empty ``hidden``, or a concrete rate out of range,
        naming the field.

    Example:
      >>> from socialign.mechanisms import envs
      >>> cfg = envs.PPOConfig(num_envs=8, num_updates=10)
      >>> cfg.num_steps, cfg.hidden, float(cfg.learning_rate)
      (4, (32, 32), 0.003)
    """

    num_envs: int = static_field(default=64)
    num_steps: int = static_field(default=4)
    num_updates: int = static_field(default=100)
    update_epochs: int = static_field(default=4)
    num_minibatches: int = static_field(default=4)
    hidden: tuple = static_field(default=(32, 32))
    learning_rate: float = 3e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    max_grad_norm: float = 0.5
    init_log_std: float = -1.0

    def __post_init__(self):
        for name in ("num_envs", "num_steps", "num_updates", "update_epochs",
                     "num_minibatches"):
            check_positive_int(getattr(self, name), f"config.{name}")
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise ValueError(f"config.hidden must be a non-empty tuple of layer widths, got "
                             f"{self.hidden!r}")
        for w in self.hidden:
            check_positive_int(w, "config.hidden")
        for name in ("learning_rate", "clip_eps", "max_grad_norm"):
            check_positive_scalar(getattr(self, name), f"config.{name}")
        for name in ("gamma", "gae_lambda", "vf_coef", "ent_coef"):
            check_positive_scalar(getattr(self, name), f"config.{name}", allow_zero=True)
        for name in ("gamma", "gae_lambda"):
            x = getattr(self, name)
            if is_concrete(x) and float(x) > 1:
                raise ValueError(f"config.{name} must be in [0, 1], got {x!r}")


@pytree_dataclass
class PPOResult:
    """What ``train(key)`` returns.

    Attributes:
      params: the trained network, ``{"actor": [(W, b), ...], "log_std": [action_dim],
        "critic": [(W, b), ...]}``; :func:`policy_mean` evaluates its actor.
      opt_state: the final optax state (to continue training).
      metrics: ``{"reward", "regret", "log_std", "loss"}``, each ``[num_updates]``: the mean
        reward and mean ex-post regret (``info["regret"]``) per agent-step of each update's
        rollout, the mean :math:`\\log\\sigma` after it, and the last minibatch's loss.

    Example:
      >>> from socialign.mechanisms import envs
      >>> sorted(envs.PPOResult.__dataclass_fields__)
      ['metrics', 'opt_state', 'params']
    """

    params: dict
    opt_state: object
    metrics: dict


def _mlp_init(key, sizes, last_scale):
    layers = []
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, m, n) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        scale = last_scale if i == len(sizes) - 2 else math.sqrt(2.0)
        W = scale * jax.random.normal(k, (m, n), jnp.result_type(float)) / math.sqrt(m)
        layers.append((W, jnp.zeros(n, W.dtype)))
    return layers


def _mlp(layers, x):
    for W, b in layers[:-1]:
        x = jnp.tanh(x @ W + b)
    W, b = layers[-1]
    return x @ W + b


def _features(obs):
    """``obs [agents, *obs_shape] -> [agents, obs_dim + agents]`` (one-hot agent index)."""
    A = obs.shape[0]
    flat = obs.reshape(A, -1)
    return jnp.concatenate([flat, jnp.eye(A, dtype=flat.dtype)], -1)


def policy_mean(params: dict, obs) -> jax.Array:
    """The trained policy's deterministic action (the Gaussian's mean) for every agent.

    Args:
      params: ``PPOResult.params``.
      obs: ``[agents, *obs_shape]`` one environment observation (``vmap`` for a batch).

    Returns:
      ``[agents, action_dim]``.

    Raises:
      ValueError: if ``obs`` is a scalar.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=2, kind="second_price")
      >>> train = envs.make_train(env, envs.PPOConfig(num_envs=4, num_updates=1,
      ...                                             num_minibatches=1, update_epochs=1))
      >>> out = train(jax.random.key(0))
      >>> envs.policy_mean(out.params, jnp.array([[0.5, 0.0], [0.9, 0.0]])).shape
      (2, 1)
    """
    obs = jnp.asarray(obs)
    if obs.ndim < 1:
        raise ValueError(f"obs must have shape [agents, *obs_shape]; got {tuple(obs.shape)}")
    feats = _features(obs).astype(params["actor"][0][0].dtype)
    return _mlp(params["actor"], feats)


def _log_prob(mean, log_std, a):
    z = (a - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), -1)


def make_train(env: MultiAgentEnv, config: PPOConfig | None = None):
    """Build ``train(key, env_params=None) -> PPOResult``, one PPO run as a pure function.

    ``train`` is pure and jittable (``jax.jit(train)``) and ``vmap``-able over ``key`` (seeds)
    and over a batch of ``env_params`` (mechanisms). ``env_params=None`` uses
    ``env.default_params``.

    Args:
      env: a :class:`MultiAgentEnv` with float actions.
      config: a :class:`PPOConfig` (default: ``PPOConfig()``).

    Returns:
      ``train``.

    Raises:
      TypeError: if ``env`` is not a float-action :class:`MultiAgentEnv` or ``config`` is not a
        :class:`PPOConfig`.
      ValueError: if ``config.num_minibatches`` does not divide the batch.

    Example:
      (three updates of two self-play bidders; tests/test_env_learning.py trains longer)
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=2, kind="second_price")
      >>> cfg = envs.PPOConfig(num_envs=16, num_updates=3, num_minibatches=2)
      >>> out = jax.jit(envs.make_train(env, cfg))(jax.random.key(0))
      >>> out.metrics["reward"].shape
      (3,)
    """
    if not isinstance(env, MultiAgentEnv):
        raise TypeError(f"env must be a MultiAgentEnv, got {type(env).__name__}")
    if env.action_dtype == "int":
        raise TypeError(f"env must have float actions (a Gaussian policy); "
                        f"{type(env).__name__} takes integer action indices")
    config = PPOConfig() if config is None else config
    if not isinstance(config, PPOConfig):
        raise TypeError(f"config must be a PPOConfig, got {type(config).__name__}")
    c = config
    A = env.num_agents
    act_dim = math.prod(env.action_shape)
    batch = c.num_steps * c.num_envs * A
    if batch % c.num_minibatches:
        raise ValueError(f"config.num_minibatches ({c.num_minibatches}) must divide the batch "
                         f"num_steps * num_envs * agents = {batch}")
    mb = batch // c.num_minibatches

    def train(key, env_params=None):
        params_env = env.default_params if env_params is None else env_params
        obs_shape = jax.eval_shape(env.reset_env, jax.random.key(0), params_env)[0].shape
        in_dim = math.prod(obs_shape[1:]) + A
        dtype = jnp.result_type(float)
        k_actor, k_critic, k_reset, k_run = jax.random.split(key, 4)
        net = {"actor": _mlp_init(k_actor, (in_dim, *c.hidden, act_dim), 0.01),
               "log_std": jnp.full(act_dim, c.init_log_std, dtype),
               "critic": _mlp_init(k_critic, (in_dim, *c.hidden, 1), 1.0)}
        tx = optax.chain(optax.clip_by_global_norm(c.max_grad_norm),
                         optax.adam(c.learning_rate, eps=1e-5))
        opt_state = tx.init(net)
        obs, env_state = jax.vmap(env.reset, (0, None))(
            jax.random.split(k_reset, c.num_envs), params_env)

        def evaluate(net, feats):
            return _mlp(net["actor"], feats), _mlp(net["critic"], feats)[..., 0]

        def env_step(carry, key):
            net, env_state, obs = carry
            k_act, k_env = jax.random.split(key)
            feats = jax.vmap(_features)(obs).astype(dtype)  # [E, A, F]
            mean, value = evaluate(net, feats)
            a = mean + jnp.exp(net["log_std"]) * jax.random.normal(k_act, mean.shape, dtype)
            logp = _log_prob(mean, net["log_std"], a)
            actions = a.reshape(c.num_envs, A, *env.action_shape)
            obs2, env_state, r, term, trunc, info = jax.vmap(env.step, (0, 0, 0, None))(
                jax.random.split(k_env, c.num_envs), env_state, actions, params_env)
            done = jnp.broadcast_to((term | trunc)[:, None], (c.num_envs, A))
            tr = {"feats": feats, "action": a, "logp": logp, "value": value,
                  "reward": r.astype(dtype), "done": done.astype(dtype),
                  "regret": info["regret"].astype(dtype)}
            return (net, env_state, obs2), tr

        def gae(traj, last_value):
            def body(carry, t):
                adv, next_value = carry
                delta = t["reward"] + c.gamma * next_value * (1 - t["done"]) - t["value"]
                adv = delta + c.gamma * c.gae_lambda * (1 - t["done"]) * adv
                return (adv, t["value"]), adv

            _, adv = jax.lax.scan(body, (jnp.zeros_like(last_value), last_value), traj,
                                  reverse=True)
            return adv, adv + traj["value"]

        def loss_fn(net, b):
            mean, value = evaluate(net, b["feats"])
            logp = _log_prob(mean, net["log_std"], b["action"])
            ratio = jnp.exp(logp - b["logp"])
            adv = (b["adv"] - b["adv"].mean()) / (b["adv"].std() + 1e-8)
            actor = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - c.clip_eps,
                                                                1 + c.clip_eps) * adv))
            v_clip = b["value"] + jnp.clip(value - b["value"], -c.clip_eps, c.clip_eps)
            critic = 0.5 * jnp.mean(jnp.maximum((value - b["ret"]) ** 2,
                                                (v_clip - b["ret"]) ** 2))
            entropy = jnp.sum(net["log_std"] + 0.5 * jnp.log(2 * jnp.pi * jnp.e))
            return actor + c.vf_coef * critic - c.ent_coef * entropy

        def sgd_epoch(carry, key):
            net, opt_state, flat = carry
            perm = jax.random.permutation(key, batch)
            mbs = jax.tree_util.tree_map(
                lambda x: x[perm].reshape(c.num_minibatches, mb, *x.shape[1:]), flat)

            def sgd_step(carry, b):
                net, opt_state = carry
                loss, grads = jax.value_and_grad(loss_fn)(net, b)
                updates, opt_state = tx.update(grads, opt_state, net)
                return (optax.apply_updates(net, updates), opt_state), loss

            (net, opt_state), losses = jax.lax.scan(sgd_step, (net, opt_state), mbs)
            return (net, opt_state, flat), losses[-1]

        def update(carry, key):
            net, opt_state, env_state, obs = carry
            k_roll, k_sgd = jax.random.split(key)
            (net, env_state, obs), traj = jax.lax.scan(
                env_step, (net, env_state, obs), jax.random.split(k_roll, c.num_steps))
            last_value = evaluate(net, jax.vmap(_features)(obs).astype(dtype))[1]
            adv, ret = gae(traj, last_value)
            flat = {k: traj[k] for k in ("feats", "action", "logp", "value")}
            flat.update(adv=adv, ret=ret)
            flat = jax.tree_util.tree_map(lambda x: x.reshape(batch, *x.shape[3:]), flat)
            (net, opt_state, _), losses = jax.lax.scan(
                sgd_epoch, (net, opt_state, flat), jax.random.split(k_sgd, c.update_epochs))
            metrics = {"reward": traj["reward"].mean(), "regret": traj["regret"].mean(),
                       "log_std": net["log_std"].mean(), "loss": losses[-1]}
            return (net, opt_state, env_state, obs), metrics

        (net, opt_state, _, _), metrics = jax.lax.scan(
            update, (net, opt_state, env_state, obs), jax.random.split(k_run, c.num_updates))
        return PPOResult(params=net, opt_state=opt_state, metrics=metrics)

    return train
