r"""Sequential incomplete-contract games: invest, then bargain by alternating offers.

Two builders return :class:`socialign.solvers.ExtensiveFormGame` trees made with
``ExtensiveFormGame.from_arrays``, and :func:`backward_induction` solves any
perfect-information tree exactly (subgame-perfect equilibrium); the CFR family of
:mod:`socialign.solvers` runs on the same trees.

- :func:`alternating_offers_game`: Rubinstein (1982) bargaining over a pie of size 1 for
  ``rounds`` rounds; in round ``t`` player ``t mod 2`` (starting with ``first_proposer``)
  proposes its own share ``x`` from the grid ``offers``, the other accepts (action 0: payoffs
  ``delta_i^t`` times the shares) or rejects (action 1: the next round). After the last
  rejection the players get ``delta_i^rounds`` times ``continuation`` (default ``(0, 0)``).
  With ``continuation`` equal to Rubinstein's stationary split from the round after (the
  proposer's share ``x^* = (1 - delta_r) / (1 - delta_p delta_r)``), the truncated game's
  subgame-perfect split is Rubinstein's in every round (one-shot deviation principle); with
  ``continuation = (0, 0)`` it is the finite-horizon split, which tends to ``x^*``.
- :func:`invest_then_bargain_game`: party 0 first chooses an investment ``i`` from a grid at
  cost ``c(i)`` (sunk), then the parties bargain as above over a pie ``v(i)``: the hold-up
  problem in extensive form. The investor's equilibrium investment maximises
  ``s v(i) - c(i)`` with ``s`` its bargaining share (Rubinstein's, or ``0`` under an ultimatum
  by the other party).

:func:`backward_induction` computes the values of every node by repeated sweeps ``V(h) =
V(child of h chosen by the mover)`` (chance nodes average) on the kernel loop: after ``depth + 1``
sweeps nothing changes and the loop stops. Ties (within a relative tolerance) go to the lowest
action (a responder indifferent between accepting and rejecting accepts).

References:
  A. Rubinstein, "Perfect equilibrium in a bargaining model", Econometrica 50(1), 1982. O. Hart
  and J. Moore, "Incomplete contracts and renegotiation", Econometrica 56(4), 1988. M. J. Osborne
  and A. Rubinstein, *Bargaining and Markets*, 1990 (finite-horizon alternating offers).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    IterativeSolver,
    Result,
    check_positive_int,
    iterate,
    lp_tol,
    pytree_dataclass,
    scale_of,
)
from ...solvers import ExtensiveFormGame

__all__ = [
    "SubgamePerfect",
    "alternating_offers_game",
    "backward_induction",
    "invest_then_bargain_game",
    "rubinstein_share",
]

_T, _C = ExtensiveFormGame.TERMINAL, ExtensiveFormGame.CHANCE


def rubinstein_share(proposer_discount, responder_discount):
    r"""The proposer's share of Rubinstein's (1982) unique SPE: ``(1 - d_r) / (1 - d_p d_r)``.

    Differentiable, broadcasts over arrays.

    Example:
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> round(float(ic.rubinstein_share(0.5, 0.5)), 6)     # 1 / (1 + delta)
      0.666667
    """
    dp = jnp.asarray(proposer_discount, float)
    dr = jnp.asarray(responder_discount, float)
    return (1 - dr) / (1 - dp * dr)


def _check_discounts(discounts):
    d = np.asarray(discounts, float)
    if d.shape != (2,) or not np.all(np.isfinite(d)) or not np.all((d > 0) & (d < 1)):
        raise ValueError(f"discounts must be two discount factors in (0, 1), got {discounts!r}")
    return d


def _check_offers(offers):
    x = np.asarray(offers, float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
        raise ValueError(f"offers must be a 1-D grid of at least two shares in [0, 1], got "
                         f"{offers!r}")
    return x


def _bargaining_nodes(parent, player, util, root_parent, pie, offers, d, rounds, first, cont,
                      scale_util):
    """Append the alternating-offers subtree below ``root_parent`` (lists, in place)."""
    def add(p, who, u):
        parent.append(p)
        player.append(who)
        util.append(u)
        return len(parent) - 1

    def round_(p, t):
        prop = (first + t) % 2
        node = add(p, prop, (0.0, 0.0))
        for x in offers:
            resp = add(node, 1 - prop, (0.0, 0.0))
            share = np.zeros(2)
            share[prop], share[1 - prop] = x, 1 - x
            add(resp, _T, tuple(scale_util(d ** t * share * pie)))          # accept
            if t + 1 < rounds:
                round_(resp, t + 1)                                        # reject
            else:
                add(resp, _T, tuple(scale_util(d ** rounds * cont * pie)))
        return node

    return round_(root_parent, 0)


def alternating_offers_game(offers, discounts, rounds: int, *, first_proposer: int = 0,
                            continuation=None) -> ExtensiveFormGame:
    r"""Alternating-offers bargaining over a pie of size 1 as a perfect-information tree.

    Args:
      offers: ``[G]`` grid of proposer shares in ``[0, 1]``.
      discounts: ``(delta_0, delta_1)``, each in ``(0, 1)``.
      rounds: the number of rounds (``1``: the ultimatum game).
      first_proposer: ``0`` or ``1``.
      continuation: ``(c_0, c_1)`` shares after the last rejection (default ``(0, 0)``),
        discounted by ``delta_i^rounds``.

    Returns:
      An :class:`socialign.solvers.ExtensiveFormGame` (``(2 G)^rounds``-ish nodes).

    Raises:
      ValueError: if a discount factor is outside ``(0, 1)``, the grid or ``continuation`` is
        malformed, ``rounds < 1`` or ``first_proposer`` is not 0 or 1.

    Example:
      (Rubinstein's split of the round after as the continuation: the SPE gives the first proposer ``1 / (1 + delta) = 2/3`` at ``delta = 1/2``)
      >>> import numpy as np
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> x = ic.rubinstein_share(0.5, 0.5)
      >>> g = ic.alternating_offers_game(np.arange(13) / 12, (0.5, 0.5), 2,
      ...                                continuation=(float(x), 1 - float(x)))
      >>> spe = ic.backward_induction(g)
      >>> spe.values.round(6).tolist()
      [0.666667, 0.333333]
    """
    offers = _check_offers(offers)
    d = _check_discounts(discounts)
    rounds = check_positive_int(rounds, "rounds")
    if first_proposer not in (0, 1) or isinstance(first_proposer, bool):
        raise ValueError(f"first_proposer must be 0 or 1, got {first_proposer!r}")
    cont = np.zeros(2) if continuation is None else np.asarray(continuation, float)
    if cont.shape != (2,) or not np.all(np.isfinite(cont)):
        raise ValueError(f"continuation must be two finite shares, got {continuation!r}")
    parent, player, util = [], [], []
    _bargaining_nodes(parent, player, util, -1, 1.0, offers, d, rounds, first_proposer, cont,
                      lambda u: u)
    return ExtensiveFormGame.from_arrays(parent, player, np.asarray(util))


def invest_then_bargain_game(investments, value, cost, offers, discounts, rounds: int, *,
                             first_proposer: int = 1, continuation=None) -> ExtensiveFormGame:
    r"""The hold-up problem as a tree: party 0 invests, then alternating-offers bargaining.

    Party 0 picks ``investments[j]`` (cost ``cost[j]``, sunk); the parties then bargain over the
    pie ``value[j]`` (:func:`alternating_offers_game`, shares of the pie). Party 0's payoff is
    its share of the pie minus the cost; party 1's its share.

    Args:
      investments: ``[J]`` the investment grid (labels; only ``value`` and ``cost`` enter).
      value: ``[J]`` the pie ``v(i_j) >= 0``.
      cost: ``[J]`` the investment cost ``c(i_j)``.
      offers, discounts, rounds, first_proposer, continuation: as in
        :func:`alternating_offers_game` (``first_proposer = 1, rounds = 1`` is an ultimatum by
        the non-investor).

    Returns:
      An :class:`socialign.solvers.ExtensiveFormGame`; party 0's first action is the index
      ``j`` of its investment.

    Raises:
      ValueError: as :func:`alternating_offers_game`, or if ``value``/``cost`` do not match
        ``investments`` or are not finite (``value`` must be non-negative).

    Example:
      (the responder's share of Rubinstein's split is ``delta / (1 + delta) = 1/3`` at ``delta = 1/2``; with ``v = 2 sqrt(i)`` and cost ``i`` party 0 invests ``(1/3)^2``)
      >>> import numpy as np
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> i = np.arange(8) ** 2 / 36                 # 0, 1/36, ..., 49/36
      >>> x = float(ic.rubinstein_share(0.5, 0.5))
      >>> g = ic.invest_then_bargain_game(i, 2 * np.sqrt(i), i, np.arange(13) / 12,
      ...                                 (0.5, 0.5), 1, continuation=(x, 1 - x))
      >>> spe = ic.backward_induction(g)
      >>> round(float(i[int(spe.policy[0].argmax())]), 6)           # (1/3)^2 = 4/36
      0.111111
    """
    offers = _check_offers(offers)
    d = _check_discounts(discounts)
    rounds = check_positive_int(rounds, "rounds")
    if first_proposer not in (0, 1) or isinstance(first_proposer, bool):
        raise ValueError(f"first_proposer must be 0 or 1, got {first_proposer!r}")
    inv = np.asarray(investments, float)
    v = np.asarray(value, float)
    c = np.asarray(cost, float)
    if inv.ndim != 1 or v.shape != inv.shape or c.shape != inv.shape:
        raise ValueError(f"investments, value and cost must be 1-D of one length; got shapes "
                         f"{inv.shape}, {v.shape}, {c.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(c))) or np.any(v < 0):
        raise ValueError("value must be finite and non-negative and cost finite")
    cont = np.zeros(2) if continuation is None else np.asarray(continuation, float)
    if cont.shape != (2,) or not np.all(np.isfinite(cont)):
        raise ValueError(f"continuation must be two finite shares, got {continuation!r}")
    parent, player, util = [-1], [0], [(0.0, 0.0)]
    for j in range(inv.size):
        _bargaining_nodes(parent, player, util, 0, v[j], offers, d, rounds, first_proposer,
                          cont, lambda u, j=j: (u[0] - c[j], u[1]))
    return ExtensiveFormGame.from_arrays(parent, player, np.asarray(util))


# --------------------------------------------------------------------------------------------
# backward induction
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class SubgamePerfect:
    """A subgame-perfect equilibrium of a perfect-information game (backward induction).

    Attributes:
      policy: ``[*batch, num_infosets, max_actions]`` the pure equilibrium policy (one-hot).
      values: ``[*batch, num_players]`` the equilibrium payoffs at the root.
      node_values: ``[*batch, num_histories, num_players]`` every node's continuation payoffs.
      result: ``[*batch]`` ``kernel.Result`` code.

    Example:
      >>> import numpy as np
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> g = ic.alternating_offers_game(np.linspace(0, 1, 5), (0.9, 0.9), 1)   # ultimatum
      >>> ic.backward_induction(g).values.tolist()     # the responder accepts 0
      [1.0, 0.0]
    """

    policy: jax.Array
    values: jax.Array
    node_values: jax.Array
    result: jax.Array


@pytree_dataclass
class _BIState:
    values: jax.Array
    change: jax.Array


@pytree_dataclass
class _Sweeps(IterativeSolver):
    """One sweep of ``V(h) = V(mover's best child)``; exact after ``depth + 1`` sweeps."""

    def _choice(self, problem, V):
        kind, child, util_node, chance_p, tol = problem
        H = V.shape[0]
        n = V.shape[1]
        Vc = V[child]                                       # [H, A, n]
        mover = jnp.clip(kind, 0, n - 1)
        own = jnp.take_along_axis(Vc, mover[:, None, None], axis=2)[..., 0]   # [H, A]
        legal = child != jnp.arange(H)[:, None]
        best = jnp.max(jnp.where(legal, own, -jnp.inf), axis=1, keepdims=True)
        pick = jnp.argmax(legal & (own >= best - tol), axis=1)
        return Vc, pick

    def init(self, problem, key):
        kind, child, util_node, chance_p, tol = problem
        return _BIState(util_node, jnp.ones((), util_node.dtype))

    def step(self, problem, state):
        kind, child, util_node, chance_p, tol = problem
        V = state.values
        Vc, pick = self._choice(problem, V)
        chosen = jnp.take_along_axis(Vc, pick[:, None, None], axis=1)[:, 0]
        averaged = jnp.einsum("ha,han->hn", chance_p, Vc)
        new = jnp.where((kind == _T)[:, None], util_node,
                        jnp.where((kind == _C)[:, None], averaged, chosen))
        return _BIState(new, jnp.max(jnp.abs(new - V)))

    def terminate(self, problem, state, tol):
        return state.change <= 0, jnp.int32(Result.CONVERGED), state.change


@functools.partial(jax.jit, static_argnames=("tree",))
def _backward(utilities, chance_probs, *, tree):
    kind = np.asarray(tree.node_kind)
    child = np.asarray(tree.node_children)
    rows = np.asarray(tree.node_row)
    H, A = child.shape
    util_node = jnp.where((kind == _T)[:, None], utilities[np.clip(rows, 0, None)], 0.0)
    cp = jnp.zeros((H, A), utilities.dtype)
    chance = np.flatnonzero(kind == _C)
    if chance.size:
        cp = cp.at[chance].set(chance_probs[rows[chance], :A])
    tol = lp_tol(utilities.dtype) * scale_of(utilities)
    problem = (jnp.asarray(kind), jnp.asarray(child), util_node, cp, tol)
    it = iterate(_Sweeps(), problem, jnp.zeros((), utilities.dtype), jax.random.key(0),
                 max_steps=int(tree.depth) + 2)
    V = it.state.values
    _, pick = _Sweeps()._choice(problem, V)
    dec = np.flatnonzero(kind >= 0)
    policy = jnp.zeros((tree.num_infosets, tree.max_actions), utilities.dtype)
    policy = policy.at[rows[dec], pick[dec]].set(1.0)
    return SubgamePerfect(policy, V[int(tree.root)], V, it.result.astype(jnp.int32))


def backward_induction(game: ExtensiveFormGame) -> SubgamePerfect:
    r"""The subgame-perfect equilibrium of a perfect-information game by backward induction.

    Every decision node's mover picks the child with the highest own continuation value (ties
    within ``kernel.lp_tol`` of the payoff scale go to the lowest action); chance nodes average.
    Runs on the kernel loop (``depth + 1`` sweeps), ``vmap``-ped over a batch of utilities.

    Args:
      game: a perfect-information :class:`socialign.solvers.ExtensiveFormGame` (any batch).

    Returns:
      A :class:`SubgamePerfect`.

    Raises:
      TypeError: if ``game`` is not an :class:`socialign.solvers.ExtensiveFormGame`.
      ValueError: if some information set holds more than one node.

    Example:
      (an entry game: the incumbent accommodates, so the entrant enters)
      >>> from socialign import solvers
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> T = solvers.ExtensiveFormGame.TERMINAL
      >>> g = solvers.ExtensiveFormGame.from_arrays(
      ...     parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
      ...     utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])
      >>> ic.backward_induction(g).values.tolist()
      [1.0, 1.0]
    """
    if not isinstance(game, ExtensiveFormGame):
        raise TypeError(f"game must be an ExtensiveFormGame, got {type(game).__name__}")
    if np.any(np.asarray(game.tree.hist_count) != 1):
        raise ValueError("game must have perfect information (one node per information set) "
                         "for backward induction")
    batch = game.batch_shape
    size = int(np.prod(batch)) if batch else 1
    U = game.utilities.reshape(size, *game.utilities.shape[-2:])
    P = jnp.broadcast_to(game.chance_probs, (*batch, *game.chance_probs.shape[-2:])).reshape(
        size, *game.chance_probs.shape[-2:])
    out = jax.vmap(functools.partial(_backward, tree=game.tree))(U, P)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch, *x.shape[1:]), out)
