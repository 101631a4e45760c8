"""Thin adapters: the JaxMARL dict API and OpenSpiel-style turn-based play.

- :class:`JaxMARLWrapper`: agents become dict keys ``"agent_0", "agent_1", ...``; ``step``
  returns per-agent ``obs``/``rewards``/``dones`` dicts (``dones["__all__"]`` for the episode),
  as JaxMARL's ``MultiAgentEnv`` does.
- :class:`TurnBasedWrapper`: one player acts at a time, OpenSpiel style. ``current_player``
  says whose turn it is; ``apply_action`` records that player's action and, once every player
  who moves at this state (:meth:`MultiAgentEnv.movers`) has acted, steps the environment.
  Simultaneous-move games are thereby sequentialised (each player's action is hidden from the
  others until the step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...kernel import pytree_dataclass
from ._base import MultiAgentEnv

__all__ = ["JaxMARLWrapper", "TurnBasedState", "TurnBasedWrapper"]


def _check_env(env):
    if not isinstance(env, MultiAgentEnv):
        raise TypeError(f"env must be a MultiAgentEnv, got {type(env).__name__}")


class JaxMARLWrapper:
    """Expose an environment with JaxMARL's dict API (agents as dict keys).

    Raises:
      TypeError: if ``env`` is not a :class:`MultiAgentEnv`.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.JaxMARLWrapper(envs.SealedBidAuction(num_agents=2))
      >>> obs, state = env.reset(jax.random.key(0))
      >>> acts = {a: obs[a][0] / 2 for a in env.agents}
      >>> obs, state, rew, dones, info = env.step(jax.random.key(1), state, acts)
      >>> env.agents, sorted(dones)
      (['agent_0', 'agent_1'], ['__all__', 'agent_0', 'agent_1'])
    """

    def __init__(self, env: MultiAgentEnv):
        _check_env(env)
        self.env = env
        self.agents = [f"agent_{i}" for i in range(env.num_agents)]
        self.num_agents = env.num_agents

    @property
    def default_params(self):
        """The wrapped environment's default params."""
        return self.env.default_params

    def _split(self, x):
        return {a: x[i] for i, a in enumerate(self.agents)}

    def reset(self, key, params=None):
        """``(obs dict, state)``."""
        obs, state = self.env.reset(key, params)
        return self._split(obs), state

    def step(self, key, state, actions: dict, params=None):
        """``(obs dict, state, rewards dict, dones dict, info)``."""
        stacked = jnp.stack([jnp.asarray(actions[a]) for a in self.agents])
        obs, state, rewards, term, trunc, info = self.env.step(key, state, stacked, params)
        done = term | trunc
        dones = {a: done for a in self.agents}
        dones["__all__"] = done
        return self._split(obs), state, self._split(rewards), dones, info


@pytree_dataclass
class TurnBasedState:
    """The wrapped state, the actions recorded so far this step and who has acted.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> tb = envs.TurnBasedWrapper(envs.RepeatedGame())
      >>> s = tb.reset(jax.random.key(0))[1]
      >>> s.acted.tolist()
      [False, False]
    """

    env_state: object
    pending: jax.Array
    acted: jax.Array


class TurnBasedWrapper:
    """Play an environment one player at a time (OpenSpiel style; module docstring).

    Raises:
      TypeError: if ``env`` is not a :class:`MultiAgentEnv`.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> tb = envs.TurnBasedWrapper(envs.RepeatedGame())
      >>> obs, s = tb.reset(jax.random.key(0))
      >>> int(tb.current_player(s))
      0
      >>> obs, s, r, term, trunc, info = tb.apply_action(jax.random.key(1), s, 1)
      >>> int(tb.current_player(s)), r.tolist()          # player 0 moved; nothing paid yet
      (1, [0.0, 0.0])
      >>> obs, s, r, term, trunc, info = tb.apply_action(jax.random.key(2), s, 1)
      >>> r.tolist()                                     # (D, D)
      [3.0, 3.0]
    """

    def __init__(self, env: MultiAgentEnv):
        _check_env(env)
        self.env = env

    @property
    def default_params(self):
        """The wrapped environment's default params."""
        return self.env.default_params

    def _blank(self, params):
        dtype = jnp.int32 if self.env.action_dtype == "int" else jnp.result_type(float)
        return jnp.zeros((self.env.num_agents, *self.env.action_shape), dtype)

    def reset(self, key, params=None):
        """``(obs, TurnBasedState)``."""
        obs, s = self.env.reset(key, params)
        return obs, TurnBasedState(env_state=s, pending=self._blank(params),
                                   acted=jnp.zeros(self.env.num_agents, bool))

    def current_player(self, state: TurnBasedState) -> jax.Array:
        """The index of the next player to act (``int32 []``)."""
        waiting = self.env.movers(state.env_state) & ~state.acted
        return jnp.argmax(waiting).astype(jnp.int32)

    def apply_action(self, key, state: TurnBasedState, action, params=None):
        """Record the current player's ``action`` (its row); step the game once all movers
        have acted. Returns ``(obs, state, rewards, terminated, truncated, info)``; until the
        step happens ``obs``, ``rewards`` and ``info`` are zeros of their shapes.

        Raises:
          TypeError: if the environment's actions are integers and ``action`` is not.
        """
        params = self.env.default_params if params is None else params
        p = self.current_player(state)
        action = jnp.asarray(action)
        if jnp.issubdtype(state.pending.dtype, jnp.integer) and not jnp.issubdtype(
                action.dtype, jnp.integer):
            # the cast below would truncate 1.7 to action 1 (env.step refuses it too)
            raise TypeError(f"action must be an integer for this environment, got dtype "
                            f"{action.dtype}")
        pending = state.pending.at[p].set(action.astype(state.pending.dtype))
        acted = state.acted.at[p].set(True)
        ready = jnp.all(acted | ~self.env.movers(state.env_state))
        obs, s_next, rewards, term, trunc, info = self.env.step(key, state.env_state, pending,
                                                                params)
        obs_now = jax.tree_util.tree_map(jnp.zeros_like, obs)
        keep = lambda a, b: jnp.where(ready, a, b)  # noqa: E731
        env_state = jax.tree_util.tree_map(keep, s_next, state.env_state)
        new = TurnBasedState(env_state=env_state,
                             pending=jnp.where(ready, self._blank(params), pending),
                             acted=jnp.where(ready, jnp.zeros_like(acted), acted))
        info = jax.tree_util.tree_map(lambda x: jnp.where(ready, x, jnp.zeros_like(x)), info)
        return (jnp.where(ready, obs, obs_now), new, jnp.where(ready, rewards, 0.0),
                term & ready, trunc & ready, info)
