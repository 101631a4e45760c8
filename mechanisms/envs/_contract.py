r"""The principal-agent contract game (moral hazard) as a two-stage multi-agent environment.

Agent 0 is the principal, agent 1 the agent; the model is a
:class:`socialign.mechanisms.PrincipalAgent` in ``params`` (so ``vmap`` over problems works).
Each round has two stages: the principal posts payments ``t [outcomes]`` (its action row's
first ``outcomes`` entries, clipped at 0: limited liability), then the agent, having seen them,
acts: it plays the ``argmax`` of its action row's first ``actions`` entries (scores, logits or a
one-hot row all work). An outcome ``o ~ P[a]`` is drawn; the principal gets ``r_o - t_o - m_o``
and the agent ``u(t_o) - c_a``.

``outcome(actions, state, params)`` is the round's expected payoffs for the principal's
payments (row 0) and the agent's action (row 1) whatever the stage, with the outcome draw
integrated out: :math:`P_a (r - t - m)` and :math:`P_a u(t) - c_a`, differentiable in ``t``.
:meth:`ContractGame.best_response` gives a best-responding agent's row (ties broken in the
principal's favour, as :func:`socialign.mechanisms.optimal_contract` assumes).

Ex-post regret (``info["regret"]``): the agent's is :math:`\max_{a'} U_{a'}(t) - U_a(t)` (in
expectation over the outcome, as the agent cannot see it when acting); the principal's, with the
agent's action and the drawn outcome fixed, is what it paid, ``t_o`` (paying 0 would have been
better in hindsight).

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...kernel import pytree_dataclass, static_field
from .._principal_agent import PrincipalAgent
from .._quantal import agent_response
from ._base import MultiAgentEnv

__all__ = ["ContractGame", "ContractParams", "ContractState"]


@pytree_dataclass
class ContractParams:
    """Numbers of the contract game.

    Attributes:
      problem: an unbatched :class:`socialign.mechanisms.PrincipalAgent` with limited
        liability.
      horizon: ``int32 []`` rounds per episode.

    Example:
      >>> from socialign.mechanisms import envs
      >>> p = envs.ContractGame().default_params
      >>> p.problem.outcome_probs.tolist()
      [[0.6, 0.4], [0.2, 0.8]]
    """

    problem: PrincipalAgent
    horizon: jax.Array


@pytree_dataclass
class ContractState:
    """State of the contract game: ``stage`` (0 principal, 1 agent), posted ``payments
    [outcomes]`` and the round counter ``time``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.ContractGame()
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> int(s.stage), s.payments.tolist()
      (0, [0.0, 0.0])
    """

    stage: jax.Array
    payments: jax.Array
    time: jax.Array


@pytree_dataclass
class ContractGame(MultiAgentEnv):
    """The principal-agent contract game (module docstring).

    Attributes:
      num_actions: the agent's actions ``A`` (static).
      num_outcomes: outcomes ``O`` (static).

    Actions ``[2, max(A, O)]``; observations ``[2, 2 + O]`` (stage one-hot, posted payments).
    ``info``: ``payments`` (``[agents]``, the principal pays ``t_o``, the agent ``-t_o``),
    ``regret`` (``[agents]``), ``action`` (the agent's, ``-1`` at stage 0) and ``outcome``
    (``-1`` at stage 0).

    Raises:
      ValueError: on a size below 1.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.ContractGame()                      # effort 0.4 -> 0.8 success, cost 1
      >>> params = env.default_params
      >>> obs, s = env.reset(jax.random.key(0), params)
      >>> pay = jnp.array([[0.0, 2.5], [0.0, 0.0]])      # principal posts (0, 2.5)
      >>> obs, s, r, *_ = env.step(jax.random.key(1), s, pay, params)
      >>> act = env.best_response(s.payments, params)    # the agent works
      >>> r, info = env.outcome(jnp.stack([pay[0], act]), s, params)
      >>> [round(float(x), 6) for x in r]                 # principal 6, agent rent 1
      [6.0, 1.0]
    """

    num_actions: int = static_field(default=2)
    num_outcomes: int = static_field(default=2)

    def __post_init__(self):
        for name in ("num_actions", "num_outcomes"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, int) or x < 1:
                raise ValueError(f"{name} must be a positive int, got {x!r}")

    @property
    def num_agents(self):
        return 2

    @property
    def action_shape(self):
        return (max(self.num_actions, self.num_outcomes),)

    @property
    def default_params(self) -> ContractParams:
        A, O = self.num_actions, self.num_outcomes
        if (A, O) == (2, 2):
            pa = PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
        else:  # a generic instance: effort shifts mass to better outcomes at a rising cost
            lin = jnp.linspace(0.0, 1.0, O)
            tilt = jnp.linspace(-1.0, 1.0, A)[:, None] * (lin - 0.5)[None, :] * 2.0
            P = jax.nn.softmax(tilt, axis=-1)
            pa = PrincipalAgent(P, jnp.linspace(0.0, 1.0, A), 10.0 * lin)
        return ContractParams(problem=pa, horizon=jnp.ones((), jnp.int32))

    def check_params(self, params):
        super().check_params(params)
        pa = params.problem
        if not isinstance(pa, PrincipalAgent):
            raise TypeError(f"params.problem must be a PrincipalAgent, got {type(pa).__name__}")
        if pa.batch_shape or pa.outcome_probs.shape != (self.num_actions, self.num_outcomes):
            raise ValueError(f"params.problem must be unbatched with {self.num_actions} actions "
                             f"and {self.num_outcomes} outcomes; got outcome_probs of shape "
                             f"{tuple(pa.outcome_probs.shape)}")
        if not pa.limited_liability:
            raise ValueError("params.problem must have limited liability (payments >= 0)")

    def movers(self, state):
        return jnp.stack([state.stage == 0, state.stage == 1])

    def _obs(self, state):
        row = jnp.concatenate([jax.nn.one_hot(state.stage, 2, dtype=state.payments.dtype),
                               state.payments])
        return jnp.stack([row, row])

    def reset_env(self, key, params):
        dtype = params.problem.dtype
        state = ContractState(stage=jnp.zeros((), jnp.int32),
                              payments=jnp.zeros(self.num_outcomes, dtype),
                              time=jnp.zeros((), jnp.int32))
        return self._obs(state), state

    def best_response(self, payments, params) -> jax.Array:
        """The best-responding agent's action row ``[max(A, O)]`` (one-hot) to ``payments``.

        Example:
          >>> import jax.numpy as jnp
          >>> from socialign.mechanisms import envs
          >>> env = envs.ContractGame()
          >>> env.best_response(jnp.array([0.0, 2.0]), env.default_params).tolist()
          [1.0, 0.0]
        """
        onehot = agent_response(params.problem, jnp.maximum(payments, 0.0))
        return jnp.zeros(self.action_shape, onehot.dtype).at[: self.num_actions].set(onehot)

    def _parts(self, actions, params):
        pa = params.problem
        t = jnp.maximum(actions[0, : self.num_outcomes].astype(pa.dtype), 0.0)
        a = jnp.argmax(actions[1, : self.num_actions])
        return pa, t, a

    def outcome(self, actions, state, params):
        pa, t, a = self._parts(actions, params)
        P = pa.outcome_probs
        U = P @ pa.utility_of(t) - pa.costs  # [A]
        principal = P[a] @ (pa.rewards - t - pa.monitoring_cost)
        paid = P[a] @ t
        rewards = jnp.stack([principal, U[a]])
        info = {"payments": jnp.stack([paid, -paid]),
                "regret": jnp.stack([paid, jnp.max(U) - U[a]]),
                "action": a.astype(jnp.int32), "outcome": jnp.int32(-1)}
        return rewards, info

    def step_env(self, key, state, actions, params):
        pa = params.problem
        posting = state.stage == 0
        t_post = jnp.maximum(actions[0, : self.num_outcomes].astype(pa.dtype), 0.0)
        a = jnp.argmax(actions[1, : self.num_actions])
        o = jax.random.categorical(key, jnp.log(jnp.maximum(pa.outcome_probs[a], 0.0)))
        t = state.payments
        U = pa.outcome_probs @ pa.utility_of(t) - pa.costs
        r_act = jnp.stack([pa.rewards[o] - t[o] - pa.monitoring_cost[o],
                           pa.utility_of(t)[o] - pa.costs[a]])
        rewards = jnp.where(posting, jnp.zeros(2, pa.dtype), r_act)
        paid = jnp.where(posting, 0.0, t[o])
        info = {"payments": jnp.stack([paid, -paid]),
                "regret": jnp.where(posting, jnp.zeros(2, pa.dtype),
                                    jnp.stack([t[o], jnp.max(U) - U[a]])),
                "action": jnp.where(posting, -1, a).astype(jnp.int32),
                "outcome": jnp.where(posting, -1, o).astype(jnp.int32)}
        time = jnp.where(posting, state.time, state.time + 1)
        new = ContractState(stage=1 - state.stage,
                            payments=jnp.where(posting, t_post, state.payments), time=time)
        truncated = (~posting) & (time >= params.horizon)
        return self._obs(new), new, rewards, jnp.zeros((), bool), truncated, info
