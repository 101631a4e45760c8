r"""Repeated sealed-bid auctions with private values as a multi-agent environment.

Each round every bidder privately draws a value from its own distribution (a
:class:`socialign.mechanisms.auctions.ValueDistribution` in ``params``: asymmetric bidders and
any density on a grid), sees it, and bids; the auction (first price, second price or all pay,
with the reserve in ``params``) allocates the item and charges payments
(:func:`socialign.mechanisms.auctions.auction_outcome`). Rewards are ``value * allocation -
payment``. An episode has ``params.horizon`` rounds (then ``truncated``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import as_float_array, check_finite, is_concrete, pytree_dataclass, static_field
from ..auctions import AUCTION_KINDS, ValueDistribution, auction_outcome, uniform
from ._base import MultiAgentEnv

__all__ = ["AuctionParams", "AuctionState", "SealedBidAuction"]


@pytree_dataclass
class AuctionParams:
    """Numbers of a repeated sealed-bid auction (every field a leaf: ``vmap`` over any).

    Attributes:
      reserve: ``[]`` reserve price.
      values: a ``ValueDistribution`` with batch shape ``(agents,)``: each bidder's value
        distribution.
      horizon: ``int32 []`` rounds per episode.

    Example:
      >>> from socialign.mechanisms import envs
      >>> p = envs.SealedBidAuction(num_agents=2).default_params
      >>> float(p.reserve), int(p.horizon)
      (0.0, 1)
    """

    reserve: jax.Array
    values: ValueDistribution
    horizon: jax.Array


@pytree_dataclass
class AuctionState:
    """State of a repeated auction: this round's private ``values [agents]`` and ``time``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=2)
      >>> _, s = env.reset(jax.random.key(0), env.default_params)
      >>> s.values.shape, int(s.time)
      ((2,), 0)
    """

    values: jax.Array
    time: jax.Array


@pytree_dataclass
class SealedBidAuction(MultiAgentEnv):
    """Repeated single-item sealed-bid auction with private values (module docstring).

    Attributes:
      num_agents: bidders (static).
      kind: ``"first_price"``, ``"second_price"`` or ``"all_pay"`` (static).
      num_value_points: grid size of the value distributions in the default params (static;
        2 represents a uniform distribution exactly).

    Observations ``[agents, 2]``: the bidder's own value and ``time / horizon``. Actions
    ``[agents]``: bids. ``info``: ``allocation``, ``payments``, ``regret`` (``[agents]``),
    ``revenue`` and ``welfare`` (scalars).

    Raises:
      ValueError: on an unknown ``kind`` or a bad size.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import envs
      >>> env = envs.SealedBidAuction(num_agents=2, kind="first_price")
      >>> params = env.default_params
      >>> obs, state = env.reset(jax.random.key(0), params)
      >>> bids = obs[:, 0] / 2                          # the equilibrium bid v / 2
      >>> obs, state, rewards, term, trunc, info = env.step(jax.random.key(1), state, bids, params)
      >>> rewards.shape, sorted(info)
      ((2,), ['allocation', 'payments', 'regret', 'revenue', 'welfare'])
    """

    num_agents: int = static_field(default=2)
    kind: str = static_field(default="first_price")
    num_value_points: int = static_field(default=2)

    def __post_init__(self):
        if self.kind not in AUCTION_KINDS:
            raise ValueError(f"kind must be one of {AUCTION_KINDS}, got {self.kind!r}")
        for name in ("num_agents", "num_value_points"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, int) or x < (1 if name ==
                                                                      "num_agents" else 2):
                raise ValueError(f"{name} must be a positive int (num_value_points >= 2), got "
                                 f"{x!r}")

    @property
    def action_shape(self):
        return ()

    @property
    def default_params(self) -> AuctionParams:
        n = self.num_agents
        dtype = jnp.result_type(float)
        return AuctionParams(reserve=jnp.zeros((), dtype),
                             values=uniform(np.zeros(n), np.ones(n), self.num_value_points),
                             horizon=jnp.ones((), jnp.int32))

    def check_params(self, params):
        super().check_params(params)
        v = params.values
        if not isinstance(v, ValueDistribution) or v.batch_shape != (self.num_agents,):
            raise ValueError(f"params.values must be a ValueDistribution with batch shape "
                             f"({self.num_agents},) (one per bidder)")
        r = as_float_array(params.reserve, "params.reserve")
        check_finite(r, "params.reserve")
        if is_concrete(params.horizon) and int(np.min(np.asarray(params.horizon))) < 1:
            raise ValueError(f"params.horizon must be >= 1, got {params.horizon}")

    def _obs(self, state, params):
        frac = state.time / params.horizon
        return jnp.stack([state.values, jnp.broadcast_to(frac, state.values.shape).astype(
            state.values.dtype)], axis=-1)

    def reset_env(self, key, params):
        values = params.values.sample(key)
        state = AuctionState(values=values, time=jnp.zeros((), jnp.int32))
        return self._obs(state, params), state

    def outcome(self, actions, state, params):
        o = auction_outcome(jnp.asarray(actions, state.values.dtype), state.values, self.kind,
                            jnp.asarray(params.reserve, state.values.dtype))
        info = {"allocation": o.allocation, "payments": o.payments, "regret": o.regret,
                "revenue": o.revenue, "welfare": o.welfare}
        return o.utilities, info

    def step_env(self, key, state, actions, params):
        rewards, info = self.outcome(actions, state, params)
        values = params.values.sample(key)
        time = state.time + 1
        state = AuctionState(values=values, time=time)
        truncated = time >= params.horizon
        return (self._obs(state, params), state, rewards, jnp.zeros((), bool), truncated, info)
