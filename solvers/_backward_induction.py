r"""Backward induction: the subgame-perfect equilibrium of a perfect-information game.

:func:`backward_induction` computes the values of every node of a perfect-information
:class:`~socialign.solvers.ExtensiveFormGame` by repeated sweeps ``V(h) = V(child of h chosen
by the mover)`` (chance nodes average) on the kernel loop: after ``depth + 1`` sweeps nothing
changes and the loop stops. Ties (within a relative tolerance) go to the lowest action (a
responder indifferent between accepting and rejecting accepts). Batched games are ``vmap``-ped.

The bargaining trees of :mod:`socialign.mechanisms.incomplete_contracts`
(``alternating_offers_game``, ``invest_then_bargain_game``) are its main users; it applies to
any perfect-information tree made with ``ExtensiveFormGame.from_arrays`` or loaded from
OpenSpiel.

References:
  H. W. Kuhn, "Extensive games and the problem of information", Contributions to the Theory of
  Games II, 1953. R. Selten, "Spieltheoretische Behandlung eines Oligopolmodells mit
  Nachfrageträgheit", Z. ges. Staatswiss. 121, 1965 (subgame perfection).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import IterativeSolver, Result, iterate, lp_tol, pytree_dataclass, scale_of
from ._efg import ExtensiveFormGame

__all__ = ["SubgamePerfect", "backward_induction"]

_T, _C = ExtensiveFormGame.TERMINAL, ExtensiveFormGame.CHANCE


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
      >>> from socialign import solvers
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> g = ic.alternating_offers_game(np.linspace(0, 1, 5), (0.9, 0.9), 1)   # ultimatum
      >>> solvers.backward_induction(g).values.tolist()   # the responder accepts 0
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
        pick = jnp.argmax(legal & (own >= best - tol[mover][:, None]), axis=1)
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
    if chance.size:  # chance nodes may have fewer actions than the widest decision node
        k = min(A, chance_probs.shape[-1])
        cp = cp.at[chance, :k].set(chance_probs[rows[chance], :k])
    # ties are judged per mover, relative to that player's own payoff range (plus the rounding
    # of values of that size): shifting or scaling one player's payoffs changes no choice
    dt = utilities.dtype
    span = jnp.max(utilities, axis=0) - jnp.min(utilities, axis=0)            # [n]
    tol = lp_tol(dt) * scale_of(span[None], axis=0) + \
        8 * float(jnp.finfo(dt).eps) * jnp.max(jnp.abs(utilities), axis=0)
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
    within ``kernel.lp_tol`` of the mover's own payoff range go to the lowest action, so shifting
    or scaling one player's payoffs changes no choice); chance nodes average.
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
      >>> T = solvers.ExtensiveFormGame.TERMINAL
      >>> g = solvers.ExtensiveFormGame.from_arrays(
      ...     parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
      ...     utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])
      >>> solvers.backward_induction(g).values.tolist()
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
