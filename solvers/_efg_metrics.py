"""Exact metrics for extensive-form games: values, best responses, NashConv, exploitability.

For a behavioural profile ``pi`` the expected value of player ``i`` is
``v_i(pi) = sum_z pi(z) u_i(z)``, where ``pi(z)`` is the product of every edge probability on the
path to terminal ``z`` (players' and chance's). A best response of player ``i`` maximises
``sum_z pi_i'(z) w_i(z)`` with the opponent-and-chance weights ``w_i(z) = pi_{-i}(z) u_i(z)``.
With perfect recall player ``i``'s information sets form a tree under her own sequences
``(I, a)``, so the best-response value is one bottom-up sweep over that tree, deepest level first::

    Q(I, a) = sum_{z whose last own sequence is (I, a)} w_i(z) + sum_{J child of (I, a)} V(J),
    V(J)    = max_a Q(J, a),                BR_i = sum_{z with no own move} w_i(z) + sum_{J root} V(J).

Every infoset aggregates all of its histories through the counterfactual weights, so the
response is consistent per information set and exact.
``NashConv(pi) = sum_i BR_i - v_i(pi)`` and ``exploitability = NashConv / n`` (OpenSpiel's
definition for constant-sum games). The scale-free certificate that solvers compare with ``tol``
is ``relative_nash_conv(pi) = sum_i (BR_i - v_i(pi)) / r_i`` with ``r_i`` the range of player
``i``'s terminal utilities (computed on utilities mapped to ``[0, 1]``, so shifts cost no digits). These functions are registered on the generic
:func:`solvers.nash_conv`, :func:`solvers.relative_nash_conv`, :func:`solvers.payoff_ranges`,
:func:`solvers.expected_values`, :func:`solvers.best_response` and
:func:`solvers.best_response_gains`.

Example:
  >>> import jax; jax.config.update("jax_enable_x64", True)
  >>> from socialign import solvers
  >>> kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
  >>> round(float(solvers.exploitability(kuhn, kuhn.uniform_policy())), 6)
  0.458333
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._efg import ExtensiveFormGame, validate_policy
from ._metrics import (
    best_response,
    best_response_gains,
    expected_values,
    nash_conv,
    nash_conv_pair,
    normalized,
    payoff_ranges,
    relative_nash_conv,
)

__all__ = ["exploitability", "edge_table", "chance_reach", "decision_rows",
           "best_response_values"]


def edge_table(game: ExtensiveFormGame, policy) -> jax.Array:
    """The flat table ``[policy.ravel(), chance_probs.ravel(), 1]`` that paths index into."""
    return jnp.concatenate([policy.reshape(-1), game.chance_probs.reshape(-1),
                            jnp.ones((1,), policy.dtype)])


def chance_reach(game: ExtensiveFormGame) -> jax.Array:
    """``[num_terminals]`` product of the chance probabilities on the path to each terminal."""
    table = jnp.concatenate([jnp.zeros((game.num_infosets * game.max_actions,), game.dtype),
                             game.chance_probs.reshape(-1), jnp.ones((1,), game.dtype)])
    return jnp.prod(table[game.tree.chance_edge], axis=0)


def decision_rows(game: ExtensiveFormGame, policy) -> list:
    """Decision-edge probabilities per depth: row ``d`` has ``dec_count[d]`` entries."""
    vals = edge_table(game, policy)[game.tree.dec_edge]
    rows, start = [], 0
    for n in game.tree.dec_count:
        rows.append(vals[start:start + n])
        start += n
    return rows


def _pad_product(rows, Z, dtype):
    acc = jnp.ones((Z,), dtype)
    for r in rows:
        acc = acc * jnp.concatenate([r, jnp.ones((Z - r.shape[0],), dtype)])
    return acc


def _values(game, policy):
    reach = chance_reach(game) * _pad_product(decision_rows(game, policy), game.num_terminals,
                                              policy.dtype)
    return reach @ game.utilities


def best_response_values(game: ExtensiveFormGame, policy):
    """Best-response value per player and the best-response action per information set.

    Single (unbatched) game. Returns ``(br_values [n], br_actions [num_infosets])``, where
    ``br_actions[I]`` is a best action of ``I``'s player against the others' ``policy``
    (ties to the lowest index).
    """
    tree = game.tree
    I, A, Z = tree.num_infosets, tree.max_actions, tree.num_terminals
    rows = decision_rows(game, policy)
    cr = chance_reach(game)
    legal = jnp.asarray(tree.legal)
    players, start = [], 0
    for n in tree.dec_count:
        players.append(tree.dec_player[start:start + n])
        start += n
    br = []
    actions = jnp.zeros((I,), jnp.int32)
    for i in range(tree.num_players):
        nonown = [jnp.where(pl == i, 1.0, r) for r, pl in zip(rows, players)]
        w = cr * _pad_product(nonown, Z, policy.dtype) * game.utilities[:, i]
        q = jax.ops.segment_sum(w, tree.last_seq[i], num_segments=I * A + 1)
        for lv in reversed(tree.levels[i]):
            qr = jnp.where(legal[lv], q[: I * A].reshape(I, A)[lv], -jnp.inf)
            actions = actions.at[lv].set(jnp.argmax(qr, axis=1).astype(jnp.int32))
            q = q.at[tree.infoset_parent_seq[lv]].add(jnp.max(qr, axis=1))
        br.append(q[I * A])
    return jnp.stack(br), actions


def _batched(fn, game, policy, *args):
    f = fn
    for _ in game.batch_shape:
        f = jax.vmap(f, in_axes=(0, 0, *([None] * len(args))))
    return f(game, policy, *args)


def _gains_single(game, policy):
    br, _ = best_response_values(game, policy)
    return br - _values(game, policy)


@jax.jit
def _jit_values(game, policy):
    return _batched(_values, game, policy)


@jax.jit
def _jit_gains(game, policy):
    return _batched(_gains_single, game, policy)


@expected_values.register(ExtensiveFormGame)
def _efg_expected_values(game: ExtensiveFormGame, policy) -> jax.Array:
    """Expected utility of each player under a behavioural policy: ``[*batch, players]``."""
    policy = validate_policy(game, policy)
    return _jit_values(game, policy)


@best_response_gains.register(ExtensiveFormGame)
def _efg_gains(game: ExtensiveFormGame, policy) -> jax.Array:
    """Per-player gain of an exact best response: ``[*batch, players]``."""
    policy = validate_policy(game, policy)
    return _jit_gains(game, policy)


@nash_conv.register(ExtensiveFormGame)
def _efg_nash_conv(game: ExtensiveFormGame, policy) -> jax.Array:
    """NashConv ``sum_i max_{pi_i'} v_i(pi_i', pi_-i) - v_i(pi)``: ``[*batch]``."""
    return _efg_gains(game, policy).sum(axis=-1)


@payoff_ranges.register(ExtensiveFormGame)
def _efg_payoff_ranges(game: ExtensiveFormGame) -> jax.Array:
    """``[*batch, players]``: the range of each player's terminal utilities."""
    u = game.utilities
    return jnp.max(u, axis=-2) - jnp.min(u, axis=-2)


@normalized.register(ExtensiveFormGame)
def _efg_normalized(game: ExtensiveFormGame) -> ExtensiveFormGame:
    """The game (any batch shape) with terminal utilities ``(u_i - min u_i) / r_i`` in [0, 1]."""
    u = game.utilities
    lo = jnp.min(u, axis=-2, keepdims=True)
    r = jnp.max(u, axis=-2, keepdims=True) - lo
    return ExtensiveFormGame((u - lo) / jnp.where(r > 0, r, 1.0), game.chance_probs, game.tree)


@relative_nash_conv.register(ExtensiveFormGame)
def _efg_relative_nash_conv(game: ExtensiveFormGame, policy) -> jax.Array:
    """``sum_i gain_i / r_i`` with ``r_i`` the range of player ``i``'s terminal utilities."""
    return _efg_nash_conv(_efg_normalized(game), policy)


@nash_conv_pair.register(ExtensiveFormGame)
def _efg_nash_conv_pair(game: ExtensiveFormGame, policy):
    """One best-response sweep, on the normalised game: ``sum_i g_i r_i`` and ``sum_i g_i``.

    ``g_i`` is player ``i``'s gain in the game mapped to [0, 1]; the gain is invariant to a
    shift and homogeneous in a scale, so ``g_i r_i`` is the gain in the game as given (exactly,
    up to rounding: with fewer digits lost to shifts than a sweep over the raw utilities).
    """
    policy = validate_policy(game, policy)
    gains = _jit_gains(_efg_normalized(game), policy)
    return jnp.sum(gains * _efg_payoff_ranges(game), axis=-1), jnp.sum(gains, axis=-1)


@best_response.register(ExtensiveFormGame)
def _efg_best_response(game: ExtensiveFormGame, policy, player: int | None = None):
    """Pure best-response policy ``[*batch, num_infosets, max_actions]`` (one-hot rows).

    With ``player=None`` every player's rows hold her best response to the others' ``policy``;
    with ``player=i`` only player ``i``'s rows are replaced and the others keep ``policy``.
    """
    policy = validate_policy(game, policy)
    n = game.num_players
    if player is not None and (isinstance(player, bool) or not isinstance(player, int | np.integer)
                               or not 0 <= player < n):
        raise ValueError(f"player must be an int in [0, {n}), got {player!r}")
    player = None if player is None else int(player)
    return _jit_best_response(game, policy, player)


@functools.partial(jax.jit, static_argnums=2)
def _jit_best_response(game, policy, player):
    def single(g, pol):
        _, acts = best_response_values(g, pol)
        onehot = jax.nn.one_hot(acts, g.max_actions, dtype=pol.dtype)
        if player is None:
            return onehot
        rows = jnp.asarray(g.infoset_player == player)[:, None]
        return jnp.where(rows, onehot, pol)

    return _batched(single, game, policy)


@functools.singledispatch
def exploitability(game, policy) -> jax.Array:
    """Exploitability ``NashConv / num_players`` (OpenSpiel's definition for constant-sum games).

    For a two-player zero-sum game this is the average gain of the two best responses; it is 0
    exactly at a Nash equilibrium. Shape ``[*batch]``, payoff units.

    Raises:
      TypeError: if ``game`` is not a solvers game type or ``policy`` is not numeric.
      ValueError: if ``policy`` does not fit ``game``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> round(float(solvers.exploitability(g, g.uniform_policy())), 6)
      0.458333
    """
    num_players = getattr(game, "num_players", None)
    if num_players is None:
        raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")
    return nash_conv(game, policy) / num_players


@exploitability.register(ExtensiveFormGame)
def _efg_exploitability(game: ExtensiveFormGame, policy) -> jax.Array:
    return _efg_nash_conv(game, policy) / game.num_players
