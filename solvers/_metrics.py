"""Equilibrium metrics as pure functions: action values, best responses, regrets, NashConv.

For a profile of mixed strategies ``s = (s_1, ..., s_n)`` the value of action ``a`` to player
``i`` is ``v_i(a) = sum_{a_-i} u_i(a, a_-i) prod_{j != i} s_j(a_j)``; the gain of a best response
is ``g_i = max_a v_i(a) - s_i . v_i`` and ``NashConv(s) = sum_i g_i`` (zero exactly at a Nash
equilibrium). ``nash_conv``, ``expected_values`` and ``best_response`` dispatch on the game type
(normal-form here; extensive-form games register their own implementations).

Scale-free certificates: an equilibrium does not change when player ``i``'s payoffs are
replaced by ``a_i u_i + b_i`` with ``a_i > 0``, so the certificates that solvers compare with
``tol`` are measured relative to each player's payoff range ``r_i = max u_i - min u_i``:
``relative_nash_conv(s) = sum_i g_i / r_i`` (a player whose payoffs are constant has ``g_i = 0``
and contributes 0). Gains are computed on the payoffs shifted by each player's minimum, so a
large common shift (payoffs around ``1e9`` with a range of 10) costs no digits.

Example:
  >>> import jax.numpy as jnp
  >>> from socialign import solvers
  >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
  >>> u = jnp.array([0.5, 0.5])
  >>> float(solvers.nash_conv(g, (u, u)))
  0.0
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..kernel import as_float_array, check_simplex, is_concrete
from ._game import NormalFormGame

__all__ = [
    "action_values",
    "expected_values",
    "best_response",
    "best_response_gains",
    "nash_conv",
    "payoff_ranges",
    "relative_nash_conv",
    "validate_strategies",
]


def validate_strategies(game: NormalFormGame, strategies, name: str = "strategies") -> tuple:
    """Check a strategy profile against ``game``; return it as a tuple of float arrays.

    Raises:
      TypeError: if ``strategies`` is not a tuple/list of numeric arrays.
      ValueError: if it has the wrong length or shapes, or (concrete values) an entry is not a
        probability vector.
    """
    if not isinstance(strategies, tuple | list):
        raise TypeError(f"{name} must be a tuple with one mixed strategy per player, got "
                        f"{type(strategies).__name__}")
    if len(strategies) != game.num_players:
        raise ValueError(f"{name} has {len(strategies)} entries but the game has "
                         f"{game.num_players} players")
    out = []
    for i, (s, a) in enumerate(zip(strategies, game.num_actions)):
        s = as_float_array(s, f"{name}[{i}]", dtype=game.dtype)
        expected = (*game.batch_shape, a)
        if tuple(s.shape) != expected:
            raise ValueError(f"{name}[{i}] must have shape {expected}, got {tuple(s.shape)}")
        if is_concrete(s):
            check_simplex(s, f"{name}[{i}]", atol=1e-5 if s.dtype == jnp.float32 else 1e-8)
        out.append(s)
    return tuple(out)


def _batched(fn):
    """Apply ``fn(game, strategies, ...)`` over the game's batch axes with ``vmap``."""

    @functools.wraps(fn)
    def wrapper(game: NormalFormGame, strategies, *args):
        f = fn
        for _ in game.batch_shape:
            f = jax.vmap(f, in_axes=(0, 0, *([None] * len(args))))
        return f(game, strategies, *args)

    return wrapper


def _action_values(game: NormalFormGame, strategies) -> tuple:
    n = game.num_players
    out = []
    for i in range(n):
        operands = [game.payoffs[i], list(range(n))]
        for j in range(n):
            if j != i:
                operands += [strategies[j], [j]]
        out.append(jnp.einsum(*operands, [i]))
    return tuple(out)


def action_values(game: NormalFormGame, strategies) -> tuple:
    """Expected payoff of each pure action of each player against the others' mixed strategies.

    ``v_i(a) = sum_{a_-i} u_i(a, a_-i) prod_{j != i} s_j(a_j)``, in payoff units.

    Args:
      game: a :class:`NormalFormGame` ``[*batch, n, A_1, ..., A_n]``.
      strategies: one mixed strategy per player, each ``[*batch, A_i]``.

    Returns:
      A tuple whose entry ``i`` has shape ``[*batch, A_i]``.

    Raises:
      TypeError, ValueError: if ``strategies`` does not fit ``game`` (see ``nash_conv``).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> [v.tolist() for v in solvers.action_values(g, (jnp.array([1., 0.]), jnp.array([.5, .5])))]
      [[0.0, 0.0], [-1.0, 1.0]]
    """
    strategies = validate_strategies(game, strategies)
    return _batched(_action_values)(game, strategies)


def _ranges(game: NormalFormGame) -> jax.Array:
    """``[players]``: ``max u_i - min u_i`` of one unbatched game (0 for a constant player)."""
    u = game.payoffs.reshape(game.num_players, -1)
    return jnp.max(u, axis=1) - jnp.min(u, axis=1)


def _shifted(game: NormalFormGame) -> NormalFormGame:
    """The game with each player's payoffs shifted by their minimum (same equilibria, gains)."""
    u = game.payoffs
    lo = jnp.min(u.reshape(game.num_players, -1), axis=1)
    return NormalFormGame(u - lo.reshape((-1,) + (1,) * game.num_players), game.num_players)


@functools.singledispatch
def normalized(game):
    """The same game with each player's payoffs mapped to ``(u_i - min u_i) / r_i`` in [0, 1].

    One unbatched game; a player whose payoffs are constant gets all zeros. Every equilibrium
    notion that only depends on comparisons of a player's own payoffs is unchanged. Registered
    per game type (normal-form here, extensive-form in ``_efg_metrics``).
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@normalized.register
def _normalized(game: NormalFormGame) -> NormalFormGame:
    """One unbatched game with payoffs ``(u_i - min u_i) / r_i`` in ``[0, 1]`` per player.

    A player whose payoffs are constant gets all zeros. Every equilibrium notion that only
    depends on comparisons of a player's own payoffs (Nash, correlated) is unchanged.
    """
    shifted = _shifted(game)
    r = _ranges(game)
    safe = jnp.where(r > 0, r, 1.0).reshape((-1,) + (1,) * game.num_players)
    return NormalFormGame(shifted.payoffs / safe, game.num_players)


def unit_gains(game: NormalFormGame, strategies) -> jax.Array:
    """``[players]`` best-response gains on the payoffs as given (private). On a game that
    ``normalized`` produced they are the relative gains (up to rounding), without normalising
    again; :func:`_gains` and :func:`_relative_gains` apply it to a shifted or normalised game."""
    vals = _action_values(game, strategies)
    return jnp.stack([jnp.max(v) - jnp.dot(s, v) for v, s in zip(vals, strategies)])


def _gains(game: NormalFormGame, strategies) -> jax.Array:
    """``[players]`` best-response gains in payoff units (on the min-shifted payoffs)."""
    return unit_gains(_shifted(game), strategies)


def _relative_gains(game: NormalFormGame, strategies) -> jax.Array:
    """``[players]`` gains divided by each player's payoff range (0 for a constant player)."""
    return unit_gains(_normalized(game), strategies)


def _values(game: NormalFormGame, strategies) -> jax.Array:
    vals = _action_values(game, strategies)
    return jnp.stack([jnp.dot(s, v) for v, s in zip(vals, strategies)])


@functools.singledispatch
def expected_values(game, strategies) -> jax.Array:
    """Expected payoff of each player under ``strategies``: shape ``[*batch, players]``.

    For a normal-form game ``u_i(s) = sum_a u_i(a) prod_j s_j(a_j)``; for an
    :class:`ExtensiveFormGame` ``strategies`` is a behavioural policy
    ``[*batch, num_infosets, max_actions]`` and ``u_i = sum_z pi(z) u_i(z)``. Payoff units.

    Raises:
      TypeError: if ``game`` is not a solvers game type, or ``strategies`` is not numeric.
      ValueError: if ``strategies`` has the wrong shapes or is not a profile of distributions.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.from_bimatrix([[3., 0.], [5., 1.]], [[3., 5.], [0., 1.]])
      >>> solvers.expected_values(g, (jnp.array([0., 1.]), jnp.array([0., 1.]))).tolist()
      [1.0, 1.0]
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@expected_values.register
def _(game: NormalFormGame, strategies) -> jax.Array:
    strategies = validate_strategies(game, strategies)
    return _batched(_values)(game, strategies)


@functools.singledispatch
def best_response_gains(game, strategies) -> jax.Array:
    """Per-player gain from a best response: ``g_i = max_a v_i(a) - s_i . v_i``.

    Shape ``[*batch, players]``, in payoff units, non-negative up to rounding; for an
    :class:`ExtensiveFormGame` the best response is over behavioural policies (exact).

    Raises:
      TypeError: if ``game`` is not a solvers game type, or ``strategies`` is not numeric.
      ValueError: if ``strategies`` has the wrong shapes or is not a profile of distributions.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> solvers.best_response_gains(g, (jnp.array([1., 0.]), jnp.array([.5, .5]))).tolist()
      [0.0, 1.0]
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@best_response_gains.register
def _(game: NormalFormGame, strategies) -> jax.Array:
    strategies = validate_strategies(game, strategies)
    return _batched(_gains)(game, strategies)


@functools.singledispatch
def nash_conv(game, strategies) -> jax.Array:
    """NashConv: the sum over players of the gain from a best response (0 at equilibrium).

    Args:
      game: a :class:`NormalFormGame` (or another registered game type), possibly batched.
      strategies: one mixed strategy per player, each ``[*batch, A_i]``.

    Returns:
      ``[*batch]`` array in payoff units, non-negative up to rounding.

    Raises:
      TypeError: if ``game`` is not a solvers game type, or ``strategies`` is not numeric.
      ValueError: if ``strategies`` has the wrong shapes or is not a profile of distributions.

    Reference: M. Lanctot et al., "A unified game-theoretic approach to multiagent
    reinforcement learning", NeurIPS 2017 (NashConv).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> float(solvers.nash_conv(g, (jnp.array([1., 0.]), jnp.array([.5, .5]))))
      1.0
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@nash_conv.register
def _(game: NormalFormGame, strategies) -> jax.Array:
    return best_response_gains(game, strategies).sum(axis=-1)


@functools.singledispatch
def payoff_ranges(game) -> jax.Array:
    """Each player's payoff range ``r_i = max u_i - min u_i``: the unit of relative certificates.

    For a normal-form game the extremes are over action profiles; for an
    :class:`ExtensiveFormGame` over its terminal histories (the utilities at the leaves).

    Args:
      game: a :class:`NormalFormGame` or :class:`ExtensiveFormGame`, possibly batched.

    Returns:
      ``[*batch, players]`` array, ``>= 0`` (0 for a player whose payoffs are constant).

    Raises:
      TypeError: if ``game`` is not a solvers game type.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9., 1.], [10., 3.]], [[9., 10.], [1., 3.]])
      >>> solvers.payoff_ranges(pd).tolist()
      [9.0, 9.0]
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@payoff_ranges.register
def _(game: NormalFormGame) -> jax.Array:
    fn = _ranges
    for _ in game.batch_shape:
        fn = jax.vmap(fn)
    return fn(game)


@functools.singledispatch
def relative_nash_conv(game, strategies) -> jax.Array:
    r"""NashConv relative to each player's payoff range: the scale-free certificate.

    .. math:: \mathrm{NashConv}_{rel}(s) = \sum_i \frac{\max_a v_i(a) - s_i \cdot v_i}
       {\max u_i - \min u_i},

    with a player whose payoffs are constant contributing 0 (every strategy is a best response).
    For an :class:`ExtensiveFormGame` the gains are those of exact best responses against a
    behavioural policy and ``r_i`` is the range of player ``i``'s terminal utilities.
    It does not change when player ``i``'s payoffs become ``a_i u_i + b_i`` (``a_i > 0``), as
    the equilibria do not; solvers compare it (or their own relative measure) with ``tol``.
    For a two-player zero-sum game it is the duality gap divided by the payoff range.

    Args:
      game: a :class:`NormalFormGame` ``[*batch, n, A_1, ..., A_n]`` or an
        :class:`ExtensiveFormGame`.
      strategies: one mixed strategy per player, each ``[*batch, A_i]`` (for an
        extensive-form game a behavioural policy ``[*batch, num_infosets, max_actions]``).

    Returns:
      ``[*batch]`` array, dimensionless, non-negative up to rounding.

    Raises:
      TypeError: if ``game`` is not a solvers game type, or ``strategies`` is not numeric.
      ValueError: if ``strategies`` has the wrong shapes or is not a profile of distributions.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> s = (jnp.array([1., 0.]), jnp.array([.5, .5]))
      >>> float(solvers.nash_conv(g, s)), float(solvers.relative_nash_conv(g, s))
      (1.0, 0.5)
      >>> big = solvers.NormalFormGame.zero_sum(1e9 * g.payoffs[0] + 3.)
      >>> float(solvers.relative_nash_conv(big, s))
      0.5
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@relative_nash_conv.register
def _(game: NormalFormGame, strategies) -> jax.Array:
    strategies = validate_strategies(game, strategies)
    return _batched(_relative_gains)(game, strategies).sum(axis=-1)


@functools.singledispatch
def nash_conv_pair(game, strategies) -> tuple[jax.Array, jax.Array]:
    """``(nash_conv, relative_nash_conv)`` of one profile (private: ``solve``'s report).

    The generic rule calls both; a game type whose best responses are costly registers a version
    that computes the gains once (:class:`ExtensiveFormGame`: one best-response sweep, not two).
    """
    return nash_conv(game, strategies), relative_nash_conv(game, strategies)


@functools.singledispatch
def best_response(game, strategies, player: int | None = None):
    """Pure best responses (one-hot), per player or for ``player`` alone.

    Ties go to the lowest action index. For a normal-form game: a tuple of ``[*batch, A_i]``
    one-hot vectors (or the one of ``player``); for an :class:`ExtensiveFormGame`: a policy
    ``[*batch, num_infosets, max_actions]``.

    Raises:
      TypeError: if ``game`` is not a solvers game type, or ``strategies`` is not numeric.
      ValueError: if ``strategies`` does not fit ``game`` or ``player`` is out of range.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> solvers.best_response(g, (jnp.array([1., 0.]), jnp.array([.5, .5])), player=1).tolist()
      [0.0, 1.0]
    """
    raise TypeError(f"game must be a solvers game type, got {type(game).__name__}")


@best_response.register
def _(game: NormalFormGame, strategies, player: int | None = None):
    strategies = validate_strategies(game, strategies)
    if player is not None and (
        isinstance(player, bool) or not isinstance(player, int) or not 0 <= player < game.num_players
    ):
        raise ValueError(f"player must be an int in [0, {game.num_players}), got {player!r}")
    vals = _batched(_action_values)(game, strategies)
    brs = tuple(jax.nn.one_hot(jnp.argmax(v, axis=-1), v.shape[-1], dtype=v.dtype) for v in vals)
    return brs if player is None else brs[player]
