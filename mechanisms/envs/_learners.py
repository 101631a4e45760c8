r"""Batched no-regret learners over discretised action grids, and self-play dynamics.

A learner is an immutable configuration (its learning rate is a leaf: ``vmap``-able, a new
value does not recompile) with pure functions, in optax's shape::

    state = learner.init(num_actions, batch_shape, dtype)
    probs = learner.policy(state)              # [*batch, K] the current mixed strategy
    state = learner.update(state, rewards)     # rewards [*batch, K]: every action's reward

Full-information feedback: ``rewards`` holds the reward each grid action would have earned
(:func:`socialign.mechanisms.envs.deviation_rewards` computes it from an environment's
``outcome``). ``state.average`` is the running average strategy (what the no-regret guarantee
is about), ``state.regret`` the cumulative regret of each action against the played mixtures.

- :class:`Hedge`: multiplicative weights, :math:`p_{t+1} \propto \exp(\eta R_t)` with
  :math:`R_t` the cumulative rewards (Freund and Schapire 1997).
- :class:`OptimisticHedge`: counts the last reward twice,
  :math:`p_{t+1} \propto \exp(\eta (R_t + r_t))` (Rakhlin and Sridharan 2013; Syrgkanis et al.
  2015).
- :class:`RegretMatching`: :math:`p \propto [\text{regret}]^+` (Hart and Mas-Colell 2000);
  ``plus=True`` floors cumulative regrets at 0 (RM+, Tammelin 2014).
- :class:`OptimisticRegretMatching`: predictive RM+, :math:`p \propto [Q_t + \hat r_t]^+` with
  the last instantaneous regret as prediction (Farina, Kroer and Sandholm 2021).

:func:`self_play` runs ``players`` learners against each other in one ``lax.scan``, given a
function from everyone's current strategies to everyone's reward vectors.

References:
  Y. Freund and R. Schapire, "A decision-theoretic generalization of on-line learning", 1997.
  S. Hart and A. Mas-Colell, "A simple adaptive procedure leading to correlated equilibrium",
  Econometrica 2000.
  V. Syrgkanis, A. Agarwal, H. Luo, R. Schapire, "Fast convergence of regularized learning in
  games", NeurIPS 2015.
  G. Farina, C. Kroer, T. Sandholm, "Faster game solving via predictive Blackwell
  approachability", AAAI 2021.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from ...kernel import (
    check_finite,
    check_positive_int,
    check_positive_scalar,
    pytree_dataclass,
    static_field,
)

__all__ = ["Hedge", "LearnerState", "NoRegretLearner", "OptimisticHedge",
           "OptimisticRegretMatching", "RegretMatching", "self_play"]


@pytree_dataclass
class LearnerState:
    """A learner's state (leading axes are batch axes).

    Attributes:
      cumulative: ``[*batch, K]`` cumulative rewards (Hedge) or regrets (regret matching).
      last: ``[*batch, K]`` the last reward vector (Hedge) or instantaneous regret (RM).
      average: ``[*batch, K]`` the running average of the played strategies.
      regret: ``[*batch, K]`` each action's cumulative reward minus the played mixtures'.
      steps: ``[]`` the number of updates.

    Example:
      >>> from socialign.mechanisms import envs
      >>> s = envs.Hedge().init(3)
      >>> s.average.tolist(), float(s.steps)
      ([0.3333333333333333, 0.3333333333333333, 0.3333333333333333], 0.0)
    """

    cumulative: jax.Array
    last: jax.Array
    average: jax.Array
    regret: jax.Array
    steps: jax.Array


def _positive_part_policy(x):
    pos = jnp.maximum(x, 0.0)
    tot = jnp.sum(pos, -1, keepdims=True)
    uniform = jnp.full_like(x, 1.0 / x.shape[-1])
    return jnp.where(tot > 0, pos / jnp.where(tot > 0, tot, 1.0), uniform)


class NoRegretLearner(abc.ABC):
    """Base of the learners: ``init``, ``policy``, ``update`` (module docstring).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> h = envs.Hedge(learning_rate=1.0)
      >>> s = h.update(h.init(2), jnp.array([1.0, 0.0]))
      >>> [round(float(p), 4) for p in h.policy(s)]
      [0.7311, 0.2689]
    """

    def init(self, num_actions: int, batch_shape=(), dtype=None) -> LearnerState:
        """A fresh state: uniform play, zero sums.

        Raises:
          ValueError: if ``num_actions`` is not a positive int.
        """
        K = check_positive_int(num_actions, "num_actions")
        dtype = jnp.result_type(float) if dtype is None else dtype
        shape = (*tuple(batch_shape), K)
        z = jnp.zeros(shape, dtype)
        return LearnerState(cumulative=z, last=z, average=jnp.full(shape, 1.0 / K, dtype),
                            regret=z, steps=jnp.zeros((), dtype))

    @abc.abstractmethod
    def policy(self, state: LearnerState) -> jax.Array:
        """The current mixed strategy ``[*batch, K]``."""

    @abc.abstractmethod
    def _accumulate(self, state, rewards, inst_regret):
        """``(cumulative, last)`` after observing ``rewards``."""

    def update(self, state: LearnerState, rewards) -> LearnerState:
        """Observe every action's reward ``[*batch, K]`` for the strategy just played.

        Raises:
          ValueError: if ``rewards`` does not have the state's shape ``[*batch, K]``, or a
            concrete ``rewards`` holds NaN or inf (under ``jit`` the numbers are the caller's).
        """
        rewards = jnp.asarray(rewards, state.cumulative.dtype)
        if rewards.shape != state.cumulative.shape:
            raise ValueError(f"rewards must have the state's shape {state.cumulative.shape} "
                             f"([*batch, actions]); got {rewards.shape}")
        check_finite(rewards, "rewards")
        p = self.policy(state)
        inst = rewards - jnp.sum(p * rewards, -1, keepdims=True)
        cum, last = self._accumulate(state, rewards, inst)
        t = state.steps + 1.0
        return LearnerState(cumulative=cum, last=last,
                            average=state.average + (p - state.average) / t,
                            regret=state.regret + inst, steps=t)


@pytree_dataclass
class Hedge(NoRegretLearner):
    """Hedge (multiplicative weights) with learning rate ``learning_rate`` (a leaf).

    Raises:
      ValueError: if a concrete ``learning_rate`` is not ``> 0``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> h = envs.Hedge(learning_rate=0.5)
      >>> s = h.init(2)
      >>> for _ in range(4):
      ...     s = h.update(s, jnp.array([1.0, 0.0]))
      >>> round(float(h.policy(s)[0]), 4)                # exp(2) / (exp(2) + 1)
      0.8808
    """

    learning_rate: float = 0.1

    def __post_init__(self):
        check_positive_scalar(self.learning_rate, "learning_rate")

    def policy(self, state):
        return jax.nn.softmax(self.learning_rate * state.cumulative, axis=-1)

    def _accumulate(self, state, rewards, inst_regret):
        return state.cumulative + rewards, rewards


@pytree_dataclass
class OptimisticHedge(Hedge):
    """Optimistic Hedge: the last reward vector counted twice in the policy.

    Raises:
      ValueError: if a concrete ``learning_rate`` is not ``> 0``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> h = envs.OptimisticHedge(learning_rate=1.0)
      >>> s = h.update(h.init(2), jnp.array([1.0, 0.0]))
      >>> round(float(h.policy(s)[0]), 4)               # exp(2) / (exp(2) + 1)
      0.8808
    """

    def __post_init__(self):
        check_positive_scalar(self.learning_rate, "learning_rate")

    def policy(self, state):
        return jax.nn.softmax(self.learning_rate * (state.cumulative + state.last), axis=-1)


@pytree_dataclass
class RegretMatching(NoRegretLearner):
    """Regret matching (``plus=False``) or RM+ (``plus=True``, a static flag).

    Raises:
      TypeError: if ``plus`` is not a bool.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> rm = envs.RegretMatching()
      >>> s = rm.update(rm.init(3), jnp.array([1.0, 0.0, 4.0]))
      >>> [round(float(p), 4) for p in rm.policy(s)]
      [0.0, 0.0, 1.0]
    """

    plus: bool = static_field(default=False)

    def __post_init__(self):
        if not isinstance(self.plus, bool):
            raise TypeError(f"plus must be a bool, got {self.plus!r}")

    def policy(self, state):
        return _positive_part_policy(state.cumulative)

    def _accumulate(self, state, rewards, inst_regret):
        cum = state.cumulative + inst_regret
        return (jnp.maximum(cum, 0.0) if self.plus else cum), inst_regret


@pytree_dataclass
class OptimisticRegretMatching(NoRegretLearner):
    """Predictive RM+: cumulative regrets floored at 0, the last regret as prediction.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> rm = envs.OptimisticRegretMatching()
      >>> s = rm.update(rm.init(2), jnp.array([1.0, 0.0]))
      >>> [round(float(p), 4) for p in rm.policy(s)]
      [1.0, 0.0]
    """

    def policy(self, state):
        return _positive_part_policy(state.cumulative + state.last)

    def _accumulate(self, state, rewards, inst_regret):
        return jnp.maximum(state.cumulative + inst_regret, 0.0), inst_regret


def self_play(learner: NoRegretLearner, reward_fn, num_actions: int, batch_shape=(), *,
              num_steps: int, dtype=None):
    """Run ``learner`` in self-play for ``num_steps`` in one ``lax.scan``.

    Args:
      learner: a :class:`NoRegretLearner` (every player uses it).
      reward_fn: ``policies [*batch, K] -> rewards [*batch, K]``: every player's reward of
        every grid action against the others' current strategies (players are part of
        ``batch``: e.g. ``[players, types]``).
      num_actions: ``K`` (static).
      batch_shape: the learners' batch axes (static).
      num_steps: number of updates (static).

    Returns:
      The final :class:`LearnerState`.

    Raises:
      ValueError: if ``num_steps`` or ``num_actions`` is not a positive int.
      TypeError: if ``learner`` is not a :class:`NoRegretLearner`.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> A = jnp.array([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])     # rock-paper-scissors
      >>> fn = lambda p: jnp.stack([A @ p[1], A @ p[0]])
      >>> s = envs.self_play(envs.RegretMatching(plus=True), fn, 3, (2,), num_steps=500)
      >>> bool(jnp.abs(s.average - 1 / 3).max() < 0.05)
      True
    """
    if not isinstance(learner, NoRegretLearner):
        raise TypeError(f"learner must be a NoRegretLearner, got {type(learner).__name__}")
    T = check_positive_int(num_steps, "num_steps")
    state = learner.init(num_actions, batch_shape, dtype)

    def body(s, _):
        return learner.update(s, reward_fn(learner.policy(s))), None

    return jax.lax.scan(body, state, None, length=T)[0]
