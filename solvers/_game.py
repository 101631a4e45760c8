"""Normal-form games as immutable pytrees.

A game with ``n`` players holds one payoff tensor ``payoffs[i, a_1, ..., a_n]``: the payoff to
player ``i`` when each player ``j`` plays action ``a_j``. The number of players is static (it
fixes the rank); payoff numbers are leaves, so a game can be ``jit``-ed, ``vmap``-ed over a batch
and differentiated. Leading axes before the player axis are batch axes (see :func:`stack`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import as_float_array, check_finite, check_positive_int

__all__ = ["NormalFormGame", "stack"]


@dataclasses.dataclass(frozen=True, init=False)
class NormalFormGame:
    """An ``n``-player normal-form game.

    Attributes:
      payoffs: ``[*batch, players, A_1, ..., A_n]`` payoff tensor (payoff units; a leaf).
      num_players: static number of players ``n``. When it is not given it is read from the
        shape, which must then admit one reading only: ``[3, 2, 2, 2]`` is a 3-player 2x2x2
        game or a batch of three 2-player 2x2 games, so it needs ``num_players``.

    Raises:
      TypeError: if ``payoffs`` is not a numeric array.
      ValueError: if its shape does not fit ``num_players``, is ambiguous without it, a player
        has no action, or a concrete payoff is not finite.

    Example:
      >>> from socialign import solvers
      >>> rps = solvers.NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
      >>> rps.num_actions
      (3, 3)
    """

    payoffs: jax.Array
    num_players: int

    def __init__(self, payoffs, num_players: int | None = None):
        payoffs = as_float_array(payoffs, "payoffs")
        if num_players is None:
            if payoffs.ndim < 2:
                raise ValueError(
                    f"payoffs must have shape [players, A_1, ..., A_n]; got rank {payoffs.ndim}"
                )
            num_players = payoffs.shape[0]
            # every n with a player axis of length n in the right place is a valid reading
            # (n = shape[0] unbatched; a smaller n with leading batch axes): refuse to guess
            readings = [n for n in range(1, payoffs.ndim)
                        if payoffs.shape[payoffs.ndim - n - 1] == n]
            if len(readings) > 1:
                shape = tuple(payoffs.shape)
                options = "; ".join(
                    f"num_players={n}: batch {shape[:len(shape) - n - 1]} of "
                    f"{'x'.join(map(str, shape[len(shape) - n:]))} games" for n in readings)
                raise ValueError(
                    f"payoffs of shape {shape} can be read in {len(readings)} ways ({options}); "
                    f"pass num_players to say which")
        num_players = check_positive_int(num_players, "num_players")
        if payoffs.ndim < num_players + 1:
            raise ValueError(
                f"payoffs must have shape [*batch, players, A_1, ..., A_n] with n = {num_players} "
                f"players, i.e. rank >= {num_players + 1}; got shape {tuple(payoffs.shape)}"
            )
        if payoffs.shape[payoffs.ndim - num_players - 1] != num_players:
            raise ValueError(
                f"payoffs has {payoffs.shape[payoffs.ndim - num_players - 1]} entries on its "
                f"player axis but num_players = {num_players} (shape {tuple(payoffs.shape)})"
            )
        if any(a == 0 for a in payoffs.shape[payoffs.ndim - num_players :]):
            raise ValueError(f"every player needs at least one action; payoffs has shape "
                             f"{tuple(payoffs.shape)}")
        check_finite(payoffs, "payoffs")
        object.__setattr__(self, "payoffs", payoffs)
        object.__setattr__(self, "num_players", num_players)

    # -- shape information -------------------------------------------------------------------
    @property
    def num_actions(self) -> tuple[int, ...]:
        return tuple(self.payoffs.shape[self.payoffs.ndim - self.num_players :])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.payoffs.shape[: self.payoffs.ndim - self.num_players - 1])

    @property
    def dtype(self):
        return self.payoffs.dtype

    def __getitem__(self, index) -> NormalFormGame:
        """Index the batch axes: ``games[3]`` is the fourth game of a stack."""
        if not self.batch_shape:
            raise IndexError("this game is not batched; there is nothing to index")
        return NormalFormGame(self.payoffs[index], self.num_players)

    def is_zero_sum(self, atol: float = 1e-9) -> bool:
        """True when payoffs sum to zero over players at every profile (concrete games only)."""
        return bool(np.all(np.abs(np.asarray(self.payoffs.sum(axis=-self.num_players - 1))) <= atol))

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_bimatrix(cls, A, B) -> NormalFormGame:
        """Two-player game: row player gets ``A[i, j]``, column player gets ``B[i, j]``.

        ``A`` and ``B`` ``[*batch, m, n]`` may carry the same leading batch axes (the game is
        built with ``num_players=2``, so a batch is never misread).

        Raises:
          TypeError: if ``A`` or ``B`` is not numeric.
          ValueError: if they are not matrices of the same shape or not finite.

        Example:
          >>> from socialign import solvers
          >>> solvers.NormalFormGame.from_bimatrix([[3., 0.], [5., 1.]], [[3., 5.], [0., 1.]]).num_actions
          (2, 2)
        """
        A = as_float_array(A, "A")
        B = as_float_array(B, "B")
        if A.ndim < 2:
            raise ValueError(f"A must be a matrix [rows, cols]; got shape {tuple(A.shape)}")
        if A.shape != B.shape:
            raise ValueError(f"A and B must have the same shape; got {tuple(A.shape)} and "
                             f"{tuple(B.shape)}")
        check_finite(A, "A")
        check_finite(B, "B")
        dtype = jnp.result_type(A, B)
        return cls(jnp.stack([A.astype(dtype), B.astype(dtype)], axis=-3), 2)

    @classmethod
    def zero_sum(cls, A) -> NormalFormGame:
        """Two-player zero-sum game: the row player gets ``A[i, j]``, the column player ``-A``.

        Raises:
          TypeError: if ``A`` is not numeric.
          ValueError: if ``A`` is not a ``[*batch, m, n]`` matrix or not finite.

        Example:
          >>> from socialign import solvers
          >>> solvers.NormalFormGame.zero_sum([[[1., -1.], [-1., 1.]]] * 3).batch_shape
          (3,)
        """
        A = as_float_array(A, "A")
        if A.ndim < 2:
            raise ValueError(f"A must be a matrix [rows, cols]; got shape {tuple(A.shape)}")
        return cls.from_bimatrix(A, -A)

    @classmethod
    def from_openspiel(cls, name_or_game) -> NormalFormGame:
        """Any OpenSpiel normal-form (or matrix) game, from its name or a loaded game.

        Example: ``NormalFormGame.from_openspiel("matrix_rps")``.
        """
        try:
            import pyspiel
        except ImportError as e:  # pragma: no cover - open_spiel is a hard dependency
            raise ImportError("from_openspiel needs open_spiel (pip install open_spiel)") from e
        if isinstance(name_or_game, str):
            try:
                game = pyspiel.load_game(name_or_game)
            except Exception as e:
                raise ValueError(f"name_or_game: OpenSpiel cannot load {name_or_game!r}: {e}") from None
        elif isinstance(name_or_game, pyspiel.Game):
            game = name_or_game
        else:
            raise TypeError(f"name_or_game must be a game name or a pyspiel.Game, got "
                            f"{type(name_or_game).__name__}")
        n = game.num_players()
        state = game.new_initial_state()
        if not state.is_simultaneous_node():
            raise ValueError(
                f"name_or_game: {game} is not a normal-form game (its first node is not a "
                "simultaneous move); use ExtensiveFormGame for sequential games"
            )
        sizes = [len(state.legal_actions(p)) for p in range(n)]
        legal = [state.legal_actions(p) for p in range(n)]
        payoffs = np.zeros([n, *sizes])
        for idx in np.ndindex(*sizes):
            child = state.clone()
            child.apply_actions([legal[p][idx[p]] for p in range(n)])
            if not child.is_terminal():
                raise ValueError(
                    f"name_or_game: {game} continues after the first joint move; it is not a "
                    "one-shot normal-form game"
                )
            payoffs[(slice(None), *idx)] = child.returns()
        return cls(jnp.asarray(payoffs, dtype=jnp.result_type(float)), n)

    @classmethod
    def from_gambit(cls, source) -> NormalFormGame:
        """Read a Gambit ``.nfg`` file (text, path or bytes); see :func:`._gambit.nfg_from_gambit`."""
        from ._gambit import nfg_from_gambit

        return nfg_from_gambit(source)

    def to_gambit(self, *, title: str = "socialign game", outcomes: bool = False) -> str:
        """Gambit ``.nfg`` text of this game; see :func:`._gambit.nfg_to_gambit`."""
        from ._gambit import nfg_to_gambit

        return nfg_to_gambit(self, title=title, outcomes=outcomes)


def stack(games: Sequence[NormalFormGame]) -> NormalFormGame:
    """Stack same-shaped games (same tree, for extensive-form games) along a new batch axis.

    :func:`solvers.solve` on the result solves every game in one batched call.

    Args:
      games: a non-empty sequence of same-shaped games.

    Returns:
      One game with a new leading batch axis of length ``len(games)``.

    Raises:
      TypeError: if an entry is not a solvers game.
      ValueError: if ``games`` is empty or the games' shapes differ.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.stack([solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])] * 4)
      >>> g.batch_shape
      (4,)
    """
    games = list(games)
    if not games:
        raise ValueError("games must be a non-empty sequence of games")
    first = games[0]
    if not isinstance(first, NormalFormGame):
        own_stack = getattr(type(first), "stack", None)
        if own_stack is not None:  # other game types (e.g. ExtensiveFormGame) stack themselves
            return own_stack(games)
        raise TypeError(f"games must hold solvers game instances, got {type(first).__name__}")
    for k, g in enumerate(games):
        if not isinstance(g, NormalFormGame):
            raise TypeError(f"games[{k}] is a {type(g).__name__}, not a NormalFormGame")
        if g.num_players != first.num_players or g.payoffs.shape != first.payoffs.shape:
            raise ValueError(
                f"games[{k}] has shape {tuple(g.payoffs.shape)} but games[0] has "
                f"{tuple(first.payoffs.shape)}; only same-shaped games can be stacked"
            )
    payoffs = jnp.stack([g.payoffs for g in games])
    return NormalFormGame(payoffs, first.num_players)


def _flatten(game: NormalFormGame):
    return (game.payoffs,), game.num_players


def _unflatten(num_players, children) -> NormalFormGame:
    # Bypass __init__: JAX rebuilds pytrees with tracers or placeholder leaves.
    game = object.__new__(NormalFormGame)
    object.__setattr__(game, "payoffs", children[0])
    object.__setattr__(game, "num_players", num_players)
    return game


jax.tree_util.register_pytree_node(NormalFormGame, _flatten, _unflatten)
