r"""The functional multi-agent environment API (gymnax 1.0's shape with an agent axis).

An environment is an immutable configuration (a :func:`socialign.kernel.pytree_dataclass`
whose static fields fix array shapes: the number of agents, of actions, of items...) with pure
functions::

    obs, state = env.reset(key, params)
    obs, state, rewards, terminated, truncated, info = env.step(key, state, actions, params)
    rewards, info = env.outcome(actions, state, params)

Every array has a leading agent axis (pgx's style, not JaxMARL's dicts): ``obs [agents,
*obs_shape]``, ``actions [agents, *action_shape]``, ``rewards [agents]``. Every number of the
model (reserve prices, payoffs, priors, discount factors, horizons) lives in ``params``, a
pytree, so ``jax.vmap`` over a batch of params runs thousands of different mechanisms in one
call, and a new value never recompiles. ``env.default_params`` gives a standard instance.

``step`` splits its key by purpose (``key_step`` for what the step draws, ``key_reset`` for the
automatic reset) and resets automatically when an episode ends (``terminated | truncated``), as
gymnax does: the returned ``obs``/``state`` are then the new episode's, while ``rewards`` and
``info`` are those of the step just taken. ``info`` always holds ``"regret"`` (``[agents]``:
each agent's ex-post regret, the gain of its best unilateral deviation in hindsight with the
others' actions and the drawn randomness held fixed) and ``"payments"`` (``[agents]``, what each
agent paid this step; zeros without transfers), plus what is specific to the mechanism.

``outcome`` is the pure, differentiable map behind ``step``: the expected rewards of
``actions`` at ``state``, with the randomness that the step draws after the actions integrated
out. Learners and designers differentiate it or evaluate it on a grid of deviations
(:func:`deviation_rewards`).

Boundary checks (``check_params``, ``check_actions``) run eagerly on concrete inputs and raise
``ValueError``/``TypeError`` naming the argument; under a user's ``jit`` only shapes are checked
(numbers are then the user's responsibility).

References:
  R. T. Lange, "gymnax: a JAX-based reinforcement learning environment library", 2022.
  S. Koyamada et al., "Pgx: hardware-accelerated parallel game simulators", NeurIPS 2023.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import as_float_array, check_finite, is_concrete

__all__ = ["MultiAgentEnv", "deviation_rewards"]


class MultiAgentEnv(abc.ABC):
    """Base of every socialign environment (module docstring).

    Subclasses implement ``num_agents``, ``action_shape``, ``default_params``,
    ``reset_env(key, params)``, ``step_env(key, state, actions, params)`` and
    ``outcome(actions, state, params)``; :meth:`reset` and :meth:`step` add the boundary
    checks and the automatic reset.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=3)
      >>> obs, state = env.reset(jax.random.key(0), env.default_params)
      >>> obs.shape, env.num_agents
      ((3, 2), 3)
    """

    #: the dtype of float actions (``None``: actions are integer indices)
    action_dtype = "float"

    @property
    @abc.abstractmethod
    def num_agents(self) -> int:
        """The number of agents (static)."""

    @property
    @abc.abstractmethod
    def action_shape(self) -> tuple[int, ...]:
        """The shape of one agent's action (static); ``actions`` is ``[agents, *action_shape]``."""

    @property
    @abc.abstractmethod
    def default_params(self):
        """A standard instance's params (a pytree)."""

    @abc.abstractmethod
    def reset_env(self, key, params):
        """``(obs, state)`` of a new episode (no checks)."""

    @abc.abstractmethod
    def step_env(self, key, state, actions, params):
        """``(obs, state, rewards, terminated, truncated, info)`` without automatic reset."""

    @abc.abstractmethod
    def outcome(self, actions, state, params):
        """``(rewards [agents], info)``: expected rewards of ``actions`` at ``state``."""

    def check_params(self, params) -> None:
        """Validate concrete params (subclasses add value checks); traced params pass.

        Raises:
          TypeError: if ``params`` is not this environment's params type.
        """
        want = type(self.default_params)
        if not isinstance(params, want):
            raise TypeError(f"params must be a {want.__name__} (env.default_params has the "
                            f"form), got {type(params).__name__}")

    def movers(self, state) -> jax.Array:
        """``bool [agents]``: who acts at ``state`` (everyone in a simultaneous-move game)."""
        return jnp.ones(self.num_agents, bool)

    def check_actions(self, actions):
        """Convert and validate ``actions`` (shape always; values when concrete).

        Raises:
          ValueError: on a wrong shape or non-finite values.
          TypeError: on non-numeric actions.
        """
        want = (self.num_agents, *self.action_shape)
        if self.action_dtype == "int":
            a = jnp.asarray(actions)
            if not jnp.issubdtype(a.dtype, jnp.integer):
                raise TypeError(f"actions must be integer action indices, got dtype {a.dtype}")
        else:
            a = as_float_array(actions, "actions")
            check_finite(a, "actions")
        if tuple(a.shape) != want:
            raise ValueError(f"actions must have shape {want} ([agents, *action_shape]); got "
                             f"{tuple(a.shape)}")
        return a

    def reset(self, key, params=None):
        """Start an episode: ``(obs [agents, *obs_shape], state)``.

        Raises:
          TypeError: if ``params`` is not this environment's params type.
          ValueError: on params that fail the environment's checks.
        """
        params = self.default_params if params is None else params
        self.check_params(params)
        return _reset(self, key, params)

    def step(self, key, state, actions, params=None):
        """One step with automatic reset (module docstring).

        Returns:
          ``(obs, state, rewards [agents], terminated [], truncated [], info)``.

        Raises:
          TypeError: if ``params`` is not this environment's params type or ``actions`` is
            not numeric.
          ValueError: on bad params or actions of the wrong shape or values.
        """
        params = self.default_params if params is None else params
        self.check_params(params)
        actions = self.check_actions(actions)
        return _step(self, key, state, actions, params)


# The environment is a pytree without leaves (its sizes are static), so it is part of the jit
# cache key: one compiled program per configuration and shape. Inside a user's jit these are
# inlined; eagerly they avoid dispatching every primitive on its own.
@jax.jit
def _reset(env, key, params):
    return env.reset_env(key, params)


@jax.jit
def _step(env, key, state, actions, params):
    key_step, key_reset = jax.random.split(key)
    obs, state_next, rewards, terminated, truncated, info = env.step_env(
        key_step, state, actions, params)
    obs_reset, state_reset = env.reset_env(key_reset, params)
    done = terminated | truncated
    state_next = jax.tree_util.tree_map(lambda r, s: jnp.where(done, r, s), state_reset,
                                        state_next)
    obs = jnp.where(done, obs_reset, obs)
    return obs, state_next, rewards, terminated, truncated, info


def _concrete_any(x) -> bool:
    return is_concrete(x) and bool(np.any(np.asarray(x)))


def deviation_rewards(env: MultiAgentEnv, actions, state, params, grid) -> jax.Array:
    """Each agent's expected reward of every action of a grid, the others' actions held fixed.

    ``out[i, g]`` is agent ``i``'s reward from :meth:`MultiAgentEnv.outcome` when it plays
    ``grid[g]`` and every other agent plays ``actions``: the full-information feedback of a
    no-regret learner on a discretised action grid (and, minus the reward of ``actions``, its
    regret).

    Args:
      env: a :class:`MultiAgentEnv`.
      actions: ``[agents, *action_shape]``.
      state, params: the environment's.
      grid: ``[G, *action_shape]`` candidate actions.

    Returns:
      ``[agents, G]``.

    Raises:
      TypeError: if ``env`` is not a :class:`MultiAgentEnv`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=2, kind="second_price")
      >>> _, state = env.reset(jax.random.key(0), env.default_params)
      >>> r = envs.deviation_rewards(env, jnp.zeros(2), state, env.default_params,
      ...                            jnp.linspace(0, 1, 5))
      >>> r.shape
      (2, 5)
    """
    if not isinstance(env, MultiAgentEnv):
        raise TypeError(f"env must be a MultiAgentEnv, got {type(env).__name__}")
    actions = jnp.asarray(actions)
    grid = jnp.asarray(grid, actions.dtype)

    def one(i, g):
        a = actions.at[i].set(g)
        return env.outcome(a, state, params)[0][i]

    agents = jnp.arange(env.num_agents)
    return jax.vmap(lambda i: jax.vmap(lambda g: one(i, g))(grid))(agents)
