"""Mechanisms as environments for users' own RL loops, and no-regret learning dynamics.

A functional multi-agent API in gymnax 1.0's shape with a leading agent axis (pgx's arrays, not
dicts): ``env.reset(key, params) -> (obs, state)``, ``env.step(key, state, actions, params) ->
(obs, state, rewards[agents], terminated, truncated, info)``, ``env.default_params`` and a pure,
differentiable ``env.outcome(actions, state, params)``. Shapes are fixed by constructor
arguments; every number lives in ``params`` (``jax.vmap`` over thousands of mechanisms is one
call). See :class:`MultiAgentEnv`.

Environments: :class:`SealedBidAuction` (first price, second price, all pay, with reserves and
private values), :class:`ContractGame` (principal-agent), :class:`RepeatedGame` (a discounted
repeated stage game, the prisoner's dilemma by default), :class:`PersuasionGame` (Bayesian
persuasion) and :class:`VotingGame` (plurality over a fixed profile). Adapters:
:class:`JaxMARLWrapper` (agents as dict keys) and :class:`TurnBasedWrapper` (OpenSpiel-style
one player at a time).

Learners over discretised action grids, jittable end to end: :class:`Hedge`,
:class:`OptimisticHedge`, :class:`RegretMatching` (and RM+), :class:`OptimisticRegretMatching`,
with :func:`deviation_rewards` (full-information feedback from ``outcome``) and
:func:`self_play`.

A purejaxrl-style PPO learner for float-action environments: :func:`make_train` (a
:class:`PPOConfig`) returns a jittable ``train(key) -> PPOResult``, one whole run of nested
``lax.scan`` loops, ``vmap``-able over seeds and params; :func:`policy_mean` evaluates the trained
policy.
"""

from ._base import MultiAgentEnv, deviation_rewards
from ._auction import AuctionParams, AuctionState, SealedBidAuction
from ._contract import ContractGame, ContractParams, ContractState
from ._games import (
    PersuasionGame,
    PersuasionParams,
    PersuasionState,
    RepeatedGame,
    RepeatedGameParams,
    RepeatedGameState,
    VotingGame,
    VotingParams,
    VotingState,
)
from ._wrappers import JaxMARLWrapper, TurnBasedState, TurnBasedWrapper
from ._learners import (
    Hedge,
    LearnerState,
    NoRegretLearner,
    OptimisticHedge,
    OptimisticRegretMatching,
    RegretMatching,
    self_play,
)
from ._ppo import PPOConfig, PPOResult, make_train, policy_mean

__all__ = [
    "AuctionParams",
    "AuctionState",
    "ContractGame",
    "ContractParams",
    "ContractState",
    "Hedge",
    "JaxMARLWrapper",
    "LearnerState",
    "MultiAgentEnv",
    "NoRegretLearner",
    "OptimisticHedge",
    "OptimisticRegretMatching",
    "PPOConfig",
    "PPOResult",
    "PersuasionGame",
    "PersuasionParams",
    "PersuasionState",
    "RegretMatching",
    "RepeatedGame",
    "RepeatedGameParams",
    "RepeatedGameState",
    "SealedBidAuction",
    "TurnBasedState",
    "TurnBasedWrapper",
    "VotingGame",
    "VotingParams",
    "VotingState",
    "deviation_rewards",
    "make_train",
    "policy_mean",
    "self_play",
]
