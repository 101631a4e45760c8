r"""Repeated stage games, Bayesian persuasion and strategic voting as multi-agent environments.

- :class:`RepeatedGame`: a normal-form stage game (the prisoner's dilemma by default) played
  round after round with public monitoring; after each round the game continues with
  probability ``discount`` (so the expected undiscounted sum of rewards is the discounted
  value), and is truncated at ``horizon``.
- :class:`PersuasionGame`: Bayesian persuasion (Kamenica and Gentzkow 2011) in two stages: the
  sender commits to a signalling scheme, the state and a signal are drawn, the receiver sees the
  scheme and the signal and acts. The model is a
  :class:`socialign.mechanisms.BayesianPersuasion` in ``params``.
- :class:`VotingGame`: plurality voting over a fixed profile of cardinal utilities; ties among
  the most-voted candidates are broken uniformly at random (rewards are the expectation).
  Voters may revise their votes round after round (iterative voting, Meir et al. 2010).

References:
  E. Kamenica and M. Gentzkow, "Bayesian persuasion", AER 2011.
  D. Fudenberg and J. Tirole, "Game Theory", 1991, ch. 5 (repeated games).
  R. Meir, M. Polukarov, J. Rosenschein, N. Jennings, "Convergence to equilibria in plurality
  voting", AAAI 2010.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    as_float_array,
    check_finite,
    is_concrete,
    pytree_dataclass,
    static_field,
)
from .._persuasion import BayesianPersuasion
from ._base import MultiAgentEnv

__all__ = ["PersuasionGame", "PersuasionParams", "PersuasionState", "RepeatedGame",
           "RepeatedGameParams", "RepeatedGameState", "VotingGame", "VotingParams",
           "VotingState"]


def _check_positive_int(x, name, low=1):
    if isinstance(x, bool) or not isinstance(x, int) or x < low:
        raise ValueError(f"{name} must be an int >= {low}, got {x!r}")


def _check_horizon(h):
    if is_concrete(h) and int(np.min(np.asarray(h))) < 1:
        raise ValueError(f"params.horizon must be >= 1, got {h}")


# --------------------------------------------------------------------------------------------
# repeated stage game
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class RepeatedGameParams:
    """Numbers of a repeated game.

    Attributes:
      payoffs: ``[players, A, ..., A]`` stage payoffs (``payoffs[i, a_0, ..., a_{n-1}]``).
      discount: ``[]`` probability that the game continues after a round (the discount factor).
      horizon: ``int32 []`` the most rounds per episode.

    Example:
      >>> from socialign.mechanisms import envs
      >>> p = envs.RepeatedGame().default_params          # the prisoner's dilemma
      >>> p.payoffs[0].tolist(), float(p.discount)
      ([[9.0, 1.0], [10.0, 3.0]], 0.9)
    """

    payoffs: jax.Array
    discount: jax.Array
    horizon: jax.Array


@pytree_dataclass
class RepeatedGameState:
    """State: the last joint action ``last [players]`` (``-1`` before the first round) and
    the round counter ``time``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.RepeatedGame()
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> s.last.tolist()
      [-1, -1]
    """

    last: jax.Array
    time: jax.Array


@pytree_dataclass
class RepeatedGame(MultiAgentEnv):
    """A repeated normal-form game with public monitoring and random stopping (module doc).

    Attributes:
      num_players: ``n`` (static).
      num_actions: actions per player ``A`` (static).

    Actions ``int [players]``; observations ``[players, 1 + n A]``: a first-round flag and the
    one-hot last joint action (the same public history for every player). ``info``:
    ``payments`` (zeros), ``regret`` (``max_a' u_i(a', a_-i) - u_i(a)``, the stage game's).

    Raises:
      ValueError: on a size below its minimum.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.RepeatedGame()
      >>> obs, s = env.reset(jax.random.key(0), env.default_params)
      >>> obs, s, r, term, trunc, info = env.step(jax.random.key(1), s, jnp.array([0, 1]))
      >>> r.tolist(), info["regret"].tolist()            # C against D: 1 and 10; C regrets 2
      ([1.0, 10.0], [2.0, 0.0])
    """

    num_players: int = static_field(default=2)
    num_actions: int = static_field(default=2)
    action_dtype = "int"

    def __post_init__(self):
        _check_positive_int(self.num_players, "num_players")
        _check_positive_int(self.num_actions, "num_actions")

    @property
    def num_agents(self):
        return self.num_players

    @property
    def action_shape(self):
        return ()

    @property
    def default_params(self) -> RepeatedGameParams:
        n, A = self.num_players, self.num_actions
        dtype = jnp.result_type(float)
        if (n, A) == (2, 2):  # prisoner's dilemma: C = 0, D = 1
            row = np.array([[9.0, 1.0], [10.0, 3.0]])
            pay = np.stack([row, row.T])
        else:  # a public-goods stage game: action k contributes k, returns 1.5 x mean
            grids = np.meshgrid(*[np.arange(A)] * n, indexing="ij")
            total = sum(grids)
            pay = np.stack([1.5 * total / n - g + (A - 1) for g in grids])
        return RepeatedGameParams(payoffs=jnp.asarray(pay, dtype),
                                  discount=jnp.asarray(0.9, dtype),
                                  horizon=jnp.asarray(100, jnp.int32))

    def check_params(self, params):
        super().check_params(params)
        want = (self.num_players, *([self.num_actions] * self.num_players))
        u = as_float_array(params.payoffs, "params.payoffs")
        if tuple(u.shape) != want:
            raise ValueError(f"params.payoffs must have shape {want}; got {tuple(u.shape)}")
        check_finite(u, "params.payoffs")
        d = params.discount
        if is_concrete(d) and not (0.0 <= float(np.max(d)) <= 1.0 and float(np.min(d)) >= 0.0):
            raise ValueError(f"params.discount must be in [0, 1], got {d}")
        _check_horizon(params.horizon)

    def check_actions(self, actions):
        a = super().check_actions(actions)
        if is_concrete(a) and bool(np.any((np.asarray(a) < 0) | (np.asarray(a) >=
                                                                   self.num_actions))):
            raise ValueError(f"actions must be action indices in [0, {self.num_actions}), got "
                             f"{np.asarray(a).tolist()}")
        return a

    def _obs(self, state, dtype):
        first = (state.time == 0).astype(dtype)
        hist = jax.nn.one_hot(state.last, self.num_actions, dtype=dtype).reshape(-1)
        row = jnp.concatenate([first[None], hist])
        return jnp.broadcast_to(row, (self.num_players, row.shape[0]))

    def reset_env(self, key, params):
        s = RepeatedGameState(last=jnp.full(self.num_players, -1, jnp.int32),
                              time=jnp.zeros((), jnp.int32))
        return self._obs(s, params.payoffs.dtype), s

    def outcome(self, actions, state, params):
        u = params.payoffs
        a = jnp.asarray(actions, jnp.int32)
        rewards = u[(slice(None), *a)]
        # each player's payoff of every own action, others fixed
        dev = jnp.stack([
            u[(i, *[slice(None) if j == i else a[j] for j in range(self.num_players)])]
            for i in range(self.num_players)])  # [n, A]
        info = {"payments": jnp.zeros(self.num_players, u.dtype),
                "regret": jnp.max(dev, -1) - rewards}
        return rewards, info

    def step_env(self, key, state, actions, params):
        rewards, info = self.outcome(actions, state, params)
        stop = jax.random.uniform(key, (), params.payoffs.dtype) >= params.discount
        s = RepeatedGameState(last=jnp.asarray(actions, jnp.int32), time=state.time + 1)
        return (self._obs(s, params.payoffs.dtype), s, rewards, stop, s.time >= params.horizon,
                info)


# --------------------------------------------------------------------------------------------
# Bayesian persuasion
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class PersuasionParams:
    """Numbers of the persuasion game: ``problem`` (an unbatched
    :class:`socialign.mechanisms.BayesianPersuasion`) and ``horizon`` (rounds per episode).

    Example:
      >>> from socialign.mechanisms import envs
      >>> envs.PersuasionGame().default_params.problem.prior.tolist()    # P(guilty) = 0.3
      [0.3, 0.7]
    """

    problem: BayesianPersuasion
    horizon: jax.Array


@pytree_dataclass
class PersuasionState:
    """State: ``stage`` (0 sender, 1 receiver), the committed ``scheme [states, signals]``,
    the drawn ``world`` state and ``signal``, and ``time``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.PersuasionGame()
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> s.scheme.shape, int(s.stage)
      ((2, 2), 0)
    """

    stage: jax.Array
    scheme: jax.Array
    world: jax.Array
    signal: jax.Array
    time: jax.Array


def _normalise_scheme(raw, S, A):
    w = jnp.maximum(raw[: S * A].reshape(S, A), 0.0)
    tot = jnp.sum(w, -1, keepdims=True)
    return jnp.where(tot > 0, w / jnp.where(tot > 0, tot, 1.0), 1.0 / A)


@pytree_dataclass
class PersuasionGame(MultiAgentEnv):
    """Bayesian persuasion as a two-stage game (module docstring); agent 0 is the sender.

    Attributes:
      num_states: ``S`` (static).
      num_actions: the receiver's actions ``A``; signals are action recommendations (static).

    Actions ``[2, max(S A, A)]``: the sender's row holds non-negative weights of
    ``scheme[s, a] = pi(signal a | state s)`` (row-normalised; an all-zero row means uniform);
    the receiver plays the ``argmax`` of its row's first ``A`` entries. Observations
    ``[2, 2 + S A + A]``: stage one-hot, the committed scheme, the signal one-hot. ``info``:
    ``payments`` (zeros), ``regret`` (the receiver's ``max_b u(s, b) - u(s, a)`` at the drawn
    state; the sender's is 0: with the receiver's action fixed its scheme changes nothing).

    ``outcome`` at stage 0 is the sender's commitment value: the scheme of row 0 against a
    receiver who best-responds to each signal's posterior (ties to the sender), expected over
    states and signals; at stage 1, the payoffs of the receiver's action at the drawn state.

    Raises:
      ValueError: on a size below its minimum.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.PersuasionGame()             # prosecutor and judge (Kamenica-Gentzkow)
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> scheme = jnp.array([1.0, 0.0, 3 / 7, 4 / 7])      # guilty -> "convict" always
      >>> r, _ = env.outcome(jnp.stack([scheme, jnp.zeros(4)]), s, env.default_params)
      >>> round(float(r[0]), 6)                              # conviction probability
      0.6
    """

    num_states: int = static_field(default=2)
    num_actions: int = static_field(default=2)

    def __post_init__(self):
        _check_positive_int(self.num_states, "num_states")
        _check_positive_int(self.num_actions, "num_actions")

    @property
    def num_agents(self):
        return 2

    @property
    def action_shape(self):
        return (max(self.num_states * self.num_actions, self.num_actions),)

    @property
    def default_params(self) -> PersuasionParams:
        S, A = self.num_states, self.num_actions
        if (S, A) == (2, 2):  # states (guilty, innocent), actions (convict, acquit)
            bp = BayesianPersuasion([0.3, 0.7], [[1.0, 0.0], [1.0, 0.0]],
                                    [[1.0, 0.0], [0.0, 1.0]])
        else:  # the receiver wants to match the state; the sender wants action 0
            recv = np.eye(S, A)
            send = np.zeros((S, A))
            send[:, 0] = 1.0
            bp = BayesianPersuasion(np.full(S, 1.0 / S), send, recv)
        return PersuasionParams(problem=bp, horizon=jnp.ones((), jnp.int32))

    def check_params(self, params):
        super().check_params(params)
        bp = params.problem
        if not isinstance(bp, BayesianPersuasion):
            raise TypeError(f"params.problem must be a BayesianPersuasion, got "
                            f"{type(bp).__name__}")
        if bp.batch_shape or bp.sender_utility.shape != (self.num_states, self.num_actions):
            raise ValueError(f"params.problem must be unbatched with {self.num_states} states "
                             f"and {self.num_actions} actions; got utilities of shape "
                             f"{tuple(bp.sender_utility.shape)}")
        _check_horizon(params.horizon)

    def check_actions(self, actions):
        a = super().check_actions(actions)
        S, A = self.num_states, self.num_actions
        if is_concrete(a) and bool(np.any(np.asarray(a)[0, : S * A] < 0)):
            raise ValueError("actions[0] (the sender's scheme weights) must be non-negative")
        return a

    def movers(self, state):
        return jnp.stack([state.stage == 0, state.stage == 1])

    def _obs(self, state):
        dtype = state.scheme.dtype
        sig = jnp.where(state.stage == 1,
                        jax.nn.one_hot(state.signal, self.num_actions, dtype=dtype), 0.0)
        row = jnp.concatenate([jax.nn.one_hot(state.stage, 2, dtype=dtype),
                               state.scheme.reshape(-1), sig])
        return jnp.stack([row, row])

    def reset_env(self, key, params):
        S, A = self.num_states, self.num_actions
        dtype = params.problem.prior.dtype
        s = PersuasionState(stage=jnp.zeros((), jnp.int32), scheme=jnp.full((S, A), 1.0 / A,
                                                                              dtype),
                            world=jnp.zeros((), jnp.int32), signal=jnp.zeros((), jnp.int32),
                            time=jnp.zeros((), jnp.int32))
        return self._obs(s), s

    def _commitment_value(self, scheme, bp):
        joint = bp.prior[:, None] * scheme  # [S, A]: P(state s, signal a)
        eu_r = joint.T @ bp.receiver_utility  # [signal, action] unnormalised posterior utility
        eu_s = joint.T @ bp.sender_utility
        slack = 1e-9 * (1.0 + jnp.max(jnp.abs(eu_r), -1, keepdims=True))
        tie = eu_r >= jnp.max(eu_r, -1, keepdims=True) - slack
        b = jnp.argmax(jnp.where(tie, eu_s, -jnp.inf), -1)  # receiver's action per signal
        idx = jnp.arange(self.num_actions)
        return jnp.stack([jnp.sum(eu_s[idx, b]), jnp.sum(eu_r[idx, b])])

    def outcome(self, actions, state, params):
        bp = params.problem
        S, A = self.num_states, self.num_actions
        scheme = _normalise_scheme(actions[0].astype(bp.prior.dtype), S, A)
        a = jnp.argmax(actions[1, :A])
        u_s, u_r = bp.sender_utility[state.world], bp.receiver_utility[state.world]
        commit = self._commitment_value(scheme, bp)
        act = jnp.stack([u_s[a], u_r[a]])
        stage0 = state.stage == 0
        rewards = jnp.where(stage0, commit, act)
        regret = jnp.where(stage0, jnp.zeros(2, u_s.dtype),
                           jnp.stack([jnp.zeros((), u_s.dtype), jnp.max(u_r) - u_r[a]]))
        return rewards, {"payments": jnp.zeros(2, u_s.dtype), "regret": regret}

    def step_env(self, key, state, actions, params):
        bp = params.problem
        S, A = self.num_states, self.num_actions
        key_state, key_signal = jax.random.split(key)
        stage0 = state.stage == 0
        scheme = _normalise_scheme(actions[0].astype(bp.prior.dtype), S, A)
        world = jax.random.categorical(key_state, jnp.log(bp.prior))
        signal = jax.random.categorical(key_signal, jnp.log(scheme[world]))
        a = jnp.argmax(actions[1, :A])
        u_s, u_r = bp.sender_utility[state.world], bp.receiver_utility[state.world]
        zero = jnp.zeros(2, u_s.dtype)
        rewards = jnp.where(stage0, zero, jnp.stack([u_s[a], u_r[a]]))
        regret = jnp.where(stage0, zero, jnp.stack([0.0 * u_s[a], jnp.max(u_r) - u_r[a]]))
        time = jnp.where(stage0, state.time, state.time + 1)
        new = PersuasionState(stage=1 - state.stage,
                              scheme=jnp.where(stage0, scheme, state.scheme),
                              world=jnp.where(stage0, world, state.world).astype(jnp.int32),
                              signal=jnp.where(stage0, signal, state.signal).astype(jnp.int32),
                              time=time)
        info = {"payments": zero, "regret": regret}
        truncated = (~stage0) & (time >= params.horizon)
        return self._obs(new), new, rewards, jnp.zeros((), bool), truncated, info


# --------------------------------------------------------------------------------------------
# plurality voting
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class VotingParams:
    """Numbers of the voting game.

    Attributes:
      utilities: ``[voters, candidates]`` each voter's utility of each candidate winning.
      horizon: ``int32 []`` rounds of (re)voting per episode.

    Example:
      >>> from socialign.mechanisms import envs
      >>> envs.VotingGame(num_voters=3, num_candidates=3).default_params.utilities.shape
      (3, 3)
    """

    utilities: jax.Array
    horizon: jax.Array


@pytree_dataclass
class VotingState:
    """State: last round's ``votes [voters]`` (``-1`` before the first) and ``time``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.VotingGame()
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> s.votes.tolist()
      [-1, -1, -1]
    """

    votes: jax.Array
    time: jax.Array


@pytree_dataclass
class VotingGame(MultiAgentEnv):
    """Plurality voting over a fixed profile (module docstring).

    Attributes:
      num_voters: ``V`` (static).
      num_candidates: ``C`` (static).

    Actions ``int [voters]`` (a candidate each); observations ``[voters, 2 C]``: the voter's
    own utilities and last round's vote shares. ``info``: ``allocation`` (``[candidates]``,
    each candidate's winning probability), ``payments`` (zeros) and ``regret`` (each voter's
    gain from its best other vote, the others' fixed).

    Raises:
      ValueError: on a size below its minimum.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.VotingGame()               # a > b > c, b > c > a, c > a > b: a cycle
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> r, info = env.outcome(jnp.array([0, 1, 2]), s, env.default_params)
      >>> [round(float(p), 4) for p in info["allocation"]]     # a three-way tie
      [0.3333, 0.3333, 0.3333]
    """

    num_voters: int = static_field(default=3)
    num_candidates: int = static_field(default=3)
    action_dtype = "int"

    def __post_init__(self):
        _check_positive_int(self.num_voters, "num_voters")
        _check_positive_int(self.num_candidates, "num_candidates")

    @property
    def num_agents(self):
        return self.num_voters

    @property
    def action_shape(self):
        return ()

    @property
    def default_params(self) -> VotingParams:
        V, C = self.num_voters, self.num_candidates
        # voter v ranks candidates cyclically from v (Borda utilities C-1, ..., 0)
        u = np.array([[(C - 1 - (c - v) % C) for c in range(C)] for v in range(V)], float)
        return VotingParams(utilities=jnp.asarray(u, jnp.result_type(float)),
                            horizon=jnp.ones((), jnp.int32))

    def check_params(self, params):
        super().check_params(params)
        u = as_float_array(params.utilities, "params.utilities")
        if tuple(u.shape) != (self.num_voters, self.num_candidates):
            raise ValueError(f"params.utilities must have shape ({self.num_voters}, "
                             f"{self.num_candidates}); got {tuple(u.shape)}")
        check_finite(u, "params.utilities")
        _check_horizon(params.horizon)

    def check_actions(self, actions):
        a = super().check_actions(actions)
        if is_concrete(a) and bool(np.any((np.asarray(a) < 0) | (np.asarray(a) >=
                                                                   self.num_candidates))):
            raise ValueError(f"actions must be candidate indices in [0, "
                             f"{self.num_candidates}), got {np.asarray(a).tolist()}")
        return a

    def _winner(self, votes, dtype):
        counts = jnp.sum(jax.nn.one_hot(votes, self.num_candidates, dtype=dtype), 0)
        top = counts >= jnp.max(counts)
        return top / jnp.sum(top)

    def _obs(self, state, params):
        u = params.utilities
        shares = jnp.sum(jax.nn.one_hot(state.votes, self.num_candidates, dtype=u.dtype), 0)
        shares = shares / self.num_voters
        return jnp.concatenate([u, jnp.broadcast_to(shares, u.shape)], axis=-1)

    def reset_env(self, key, params):
        s = VotingState(votes=jnp.full(self.num_voters, -1, jnp.int32),
                        time=jnp.zeros((), jnp.int32))
        return self._obs(s, params), s

    def outcome(self, actions, state, params):
        u = params.utilities
        votes = jnp.asarray(actions, jnp.int32)
        win = self._winner(votes, u.dtype)
        rewards = u @ win
        cands = jnp.arange(self.num_candidates, dtype=jnp.int32)
        dev = jax.vmap(lambda i: jax.vmap(
            lambda c: u[i] @ self._winner(votes.at[i].set(c), u.dtype))(cands))(
            jnp.arange(self.num_voters))  # [V, C]
        info = {"allocation": win, "payments": jnp.zeros(self.num_voters, u.dtype),
                "regret": jnp.max(dev, -1) - rewards}
        return rewards, info

    def step_env(self, key, state, actions, params):
        rewards, info = self.outcome(actions, state, params)
        s = VotingState(votes=jnp.asarray(actions, jnp.int32), time=state.time + 1)
        return (self._obs(s, params), s, rewards, jnp.zeros((), bool), s.time >= params.horizon,
                info)
