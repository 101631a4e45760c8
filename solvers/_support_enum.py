"""Support enumeration: every Nash equilibrium of a small nondegenerate two-player game.

In a nondegenerate bimatrix game every equilibrium ``(x, y)`` has supports ``I``, ``J`` of equal
size ``k``, and it is the unique solution of the indifference systems

    (A y)_i = u  for i in I,   y_j = 0 for j not in J,   sum_j y_j = 1,
    (B^T x)_j = v for j in J,  x_i = 0 for i not in I,   sum_i x_i = 1.

All ``sum_k C(m, k) C(n, k) = C(m + n, m) - 1`` support pairs are enumerated at trace time
(static index arrays); the systems are padded to one size (``n + 1`` and ``m + 1`` unknowns,
the rows outside the support pinning a probability to zero) and solved as ONE batched linear
solve. A candidate is kept when it is finite, strictly positive on its support, and has no
profitable deviation (NashConv relative to each player's payoff range <= ``tol``); duplicates
are removed. The systems are solved on the payoffs rescaled to ``[0, 1]`` per player
(``(u_i - min u_i) / (max u_i - min u_i)``), so every test is scale-free: the equilibria found do
not change when a player's payoffs are multiplied by a positive number or shifted. The result has fixed-size
arrays (one slot per support pair) with a validity mask and a count, so it ``jit``s and
``vmap``s over a batch of games. Degenerate games may have equilibria with supports of unequal
size or continua of equilibria, which this method does not enumerate (every point it returns is
still a certified equilibrium). :func:`extreme_equilibria` (vertex enumeration, on the host)
returns every extreme equilibrium of any bimatrix game, degenerate or not, with its maximal
Nash subsets and a degeneracy flag.

References: T. S. Dickhaut and T. Kaplan, "A program for finding Nash equilibria", The
Mathematica Journal 1(4), 1991; N. Nisan, T. Roughgarden, E. Tardos, V. Vazirani (eds.),
"Algorithmic Game Theory", ch. 3 (B. von Stengel), 2007.

Example:
  >>> from socialign import solvers
  >>> bos = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 2.]], [[2., 0.], [0., 3.]])
  >>> eqs = solvers.all_equilibria(bos)
  >>> int(eqs.count)
  3
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    Result,
    check_positive_int,
    check_positive_scalar,
    pytree_dataclass,
    static_field,
)
from ._game import NormalFormGame
from ._metrics import _ranges, _relative_gains
from ._solve import Solver, _float_setting
from ._vertex_enum import _OUTLIER  # one outlier rule for both enumerations

__all__ = ["SupportEnumeration", "EquilibriumSet", "all_equilibria"]

#: default bound on the number of support pairs (memory grows as pairs * (max(m, n) + 1)^2)
MAX_SUPPORT_PAIRS = 20_000


class EquilibriumSet(NamedTuple):
    """Fixed-size list of equilibria (one slot per support pair), valid ones first.

    Attributes:
      strategies: ``(x [*batch, P, m], y [*batch, P, n])``; slots past ``count`` are zero.
      values: ``[*batch, P, 2]`` expected payoffs.
      nash_conv: ``[*batch, P]`` NashConv of each slot (0 in empty slots).
      valid: ``[*batch, P]`` bool mask, ``True`` for the first ``count`` slots.
      count: ``[*batch]`` int32 number of distinct equilibria found.

    Example:
      >>> from socialign import solvers
      >>> bos = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 2.]], [[2., 0.], [0., 3.]])
      >>> eqs = solvers.all_equilibria(bos)
      >>> int(eqs.count), eqs.valid.shape
      (3, (5,))
    """

    strategies: tuple
    values: jax.Array
    nash_conv: jax.Array
    valid: jax.Array
    count: jax.Array


@functools.lru_cache(maxsize=64)
def _support_pairs(m: int, n: int):
    """Static gather indices for every equal-size support pair of an ``m x n`` game."""
    rows_y, rows_x, sup_x, sup_y = [], [], [], []
    for k in range(1, min(m, n) + 1):
        for I in itertools.combinations(range(m), k):
            Ic = [i for i in range(m) if i not in I]
            for J in itertools.combinations(range(n), k):
                Jc = [j for j in range(n) if j not in J]
                # y-system rows: indifference rows of A for i in I, then y_j = 0 for j not in J
                rows_y.append(list(I) + [m + j for j in Jc])
                # x-system rows: indifference rows of B^T for j in J, then x_i = 0 for i not in I
                rows_x.append(list(J) + [n + i for i in Ic])
                sx = np.zeros(m, bool)
                sx[list(I)] = True
                sy = np.zeros(n, bool)
                sy[list(J)] = True
                sup_x.append(sx)
                sup_y.append(sy)
    return (np.asarray(rows_y, np.int32), np.asarray(rows_x, np.int32),
            np.asarray(sup_x), np.asarray(sup_y))


def num_support_pairs(m: int, n: int) -> int:
    """``sum_k C(m, k) C(n, k) = C(m + n, m) - 1``."""
    return math.comb(m + n, m) - 1


def _default_tol(dtype) -> float:
    return 10.0 * float(jnp.finfo(dtype).eps) ** 0.5


def _indifference(M, rows, dim):
    """Solve the padded systems ``[M[rows]; 1...1 0] z = e_last`` for every pair at once.

    ``M`` is ``[K, dim + 1]`` (indifference rows ``[payoffs, -1]`` then unit rows ``[e_j, 0]``),
    ``rows`` is ``[P, dim]``; returns ``[P, dim + 1]`` (probabilities and the common value).
    """
    dtype = M.dtype
    last = jnp.concatenate([jnp.ones((dim,), dtype), jnp.zeros((1,), dtype)])
    systems = jnp.concatenate(
        [M[rows], jnp.broadcast_to(last, (rows.shape[0], 1, dim + 1))], axis=1)
    rhs = jnp.zeros((rows.shape[0], dim + 1), dtype).at[:, -1].set(1.0)
    sol = jnp.linalg.solve(systems, rhs[..., None])[..., 0]
    resid = jnp.max(jnp.abs(jnp.einsum("pij,pj->pi", systems, sol) - rhs), axis=-1)
    return sol, resid


def _undominated(payoffs, margin):
    """Masks ``[m]``, ``[n]`` of the strategies that survive iterated elimination of strategies
    strictly dominated by a pure strategy by more than ``margin [2]`` (payoff units) against
    every surviving strategy of the other player (``m + n`` rounds, static shapes)."""
    A, B = payoffs
    m, n = A.shape
    dA = A[:, None, :] - A[None, :, :] > margin[0]          # [k, i, j]: k beats i at column j
    dB = B.T[:, None, :] - B.T[None, :, :] > margin[1]      # [l, j, i]: l beats j at row i

    def round_(_, alive):
        ax, ay = alive
        ax = ax & ~jnp.any(ax[:, None] & jnp.all(dA | ~ay[None, None, :], -1), 0)
        ay = ay & ~jnp.any(ay[:, None] & jnp.all(dB | ~ax[None, None, :], -1), 0)
        return ax, ay

    return jax.lax.fori_loop(0, m + n, round_, (jnp.ones(m, bool), jnp.ones(n, bool)))


def _rescaling(payoffs, alive_x, alive_y, rng):
    """Per player ``(lo [2], range [2])`` of the rescaling to ``[0, 1]``: the whole game's, or
    the surviving strategies' where the dominated ones stretch the range more than
    ``_OUTLIER``-fold (a "disaster" row at -1e8 beside payoffs of +-1 made pure profiles of
    matching pennies pass the tolerance, which is relative to the range)."""
    cell = alive_x[:, None] & alive_y[None, :]
    big = jnp.finfo(payoffs.dtype).max
    hi_a = jnp.max(jnp.where(cell, payoffs, -big), axis=(1, 2))
    lo_a = jnp.min(jnp.where(cell, payoffs, big), axis=(1, 2))
    use = (hi_a - lo_a > 0) & ((hi_a - lo_a) * _OUTLIER < rng)
    lo = jnp.min(payoffs.reshape(2, -1), axis=1)
    return jnp.where(use, lo_a, lo), jnp.where(use, hi_a - lo_a, rng)


def _enumerate(payoffs: jax.Array, tol: jax.Array) -> EquilibriumSet:
    """All equal-support equilibria of one bimatrix game ``payoffs [2, m, n]``.

    Every test runs on the game rescaled to ``[0, 1]`` per player (scale-free); the values and
    NashConv reported are in the original payoff units.
    """
    game = NormalFormGame(payoffs, 2)
    alive_x, alive_y = _undominated(payoffs, tol * _ranges(game))
    lo, rng = _rescaling(payoffs, alive_x, alive_y, _ranges(game))
    A, B = (payoffs - lo[:, None, None]) / jnp.where(rng > 0, rng, 1.0)[:, None, None]
    m, n = A.shape
    dtype = A.dtype
    rows_y, rows_x, sup_x, sup_y = _support_pairs(m, n)
    scale = 1.0  # the rescaled payoffs lie in [0, 1]

    My = jnp.concatenate([
        jnp.concatenate([A, -jnp.ones((m, 1), dtype)], axis=1),
        jnp.concatenate([jnp.eye(n, dtype=dtype), jnp.zeros((n, 1), dtype)], axis=1)])
    Mx = jnp.concatenate([
        jnp.concatenate([B.T, -jnp.ones((n, 1), dtype)], axis=1),
        jnp.concatenate([jnp.eye(m, dtype=dtype), jnp.zeros((m, 1), dtype)], axis=1)])
    sol_y, res_y = _indifference(My, jnp.asarray(rows_y), n)
    sol_x, res_x = _indifference(Mx, jnp.asarray(rows_x), m)
    y, x = sol_y[:, :n], sol_x[:, :m]

    finite = jnp.all(jnp.isfinite(sol_y), axis=-1) & jnp.all(jnp.isfinite(sol_x), axis=-1)
    x = jnp.where(finite[:, None], x, 0.0)
    y = jnp.where(finite[:, None], y, 0.0)
    pos_tol = tol
    positive = (jnp.all(jnp.where(sup_x, x > pos_tol, jnp.abs(x) <= pos_tol), axis=-1)
                & jnp.all(jnp.where(sup_y, y > pos_tol, jnp.abs(y) <= pos_tol), axis=-1))
    solved = finite & (res_x <= tol * scale) & (res_y <= tol * scale)
    x = jnp.where(sup_x, jnp.maximum(x, 0.0), 0.0)
    y = jnp.where(sup_y, jnp.maximum(y, 0.0), 0.0)
    good = (solved & positive)[:, None]
    x = x / jnp.where(good, x.sum(-1, keepdims=True), 1.0)
    y = y / jnp.where(good, y.sum(-1, keepdims=True), 1.0)

    Ay = jnp.einsum("ij,pj->pi", A, y)
    Bx = jnp.einsum("ij,pi->pj", B, x)
    va = jnp.einsum("pi,pi->p", x, Ay)
    vb = jnp.einsum("pj,pj->p", y, Bx)
    gain_a, gain_b = jnp.max(Ay, -1) - va, jnp.max(Bx, -1) - vb
    # no equilibrium plays a strictly dominated strategy
    undominated = jnp.all(~sup_x | alive_x, axis=-1) & jnp.all(~sup_y | alive_y, axis=-1)
    ok = solved & positive & undominated & (gain_a + gain_b <= tol * scale)
    # back to payoff units: u = min u + range * rescaled u
    va, vb = lo[0] + rng[0] * va, lo[1] + rng[1] * vb
    conv = rng[0] * gain_a + rng[1] * gain_b

    # remove duplicates: keep a candidate unless an earlier kept-able one is the same point
    dist = (jnp.max(jnp.abs(x[:, None] - x[None]), -1)
            + jnp.max(jnp.abs(y[:, None] - y[None]), -1))
    p = x.shape[0]
    earlier = jnp.arange(p)[None, :] < jnp.arange(p)[:, None]
    dup = jnp.any(earlier & ok[None, :] & (dist <= 10 * tol), axis=-1)
    keep = ok & ~dup

    order = jnp.argsort(~keep, stable=True)
    keep_s = keep[order]
    x, y = x[order] * keep_s[:, None], y[order] * keep_s[:, None]
    values = jnp.stack([va[order], vb[order]], -1) * keep_s[:, None]
    conv = jnp.where(keep_s, conv[order], 0.0)
    return EquilibriumSet((x, y), values, conv, keep_s, keep_s.sum().astype(jnp.int32))


@functools.partial(jax.jit, static_argnames=("batch_ndim",))
def _enumerate_batched(payoffs, tol, batch_ndim):
    fn = _enumerate
    for _ in range(batch_ndim):
        fn = jax.vmap(fn, in_axes=(0, None))
    return fn(payoffs, tol)


def _validate_game(game, max_pairs: int) -> None:
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"game must be a solvers.NormalFormGame, got {type(game).__name__}")
    if game.num_players != 2:
        raise ValueError(f"game: support enumeration needs a two-player game, got "
                         f"{game.num_players} players")
    m, n = game.num_actions
    pairs = num_support_pairs(m, n)
    if pairs > max_pairs:
        raise ValueError(f"game: a {m}x{n} game has {pairs} support pairs, more than "
                         f"max_support_pairs={max_pairs}; use LemkeHowson for larger games or "
                         "raise max_support_pairs")


def all_equilibria(game: NormalFormGame, *, tol: float | None = None,
                   max_support_pairs: int = MAX_SUPPORT_PAIRS) -> EquilibriumSet:
    """All Nash equilibria of a nondegenerate two-player game, by support enumeration.

    Jittable and batched; for a game that may be degenerate (ties in payoffs, continua of
    equilibria) use :func:`extreme_equilibria`, which finds every extreme equilibrium.

    Args:
      game: a two-player :class:`solvers.NormalFormGame`, possibly batched.
      tol: acceptance threshold for the NashConv (relative to each player's payoff range)
        and the linear-solve residual (on the payoffs rescaled to ``[0, 1]``) of a candidate,
        and for strict positivity on its support; default ``10 sqrt(eps)`` of the game's
        dtype. Scale-free: ``all_equilibria(a G + b)`` finds the equilibria of ``G`` for
        per-player ``a > 0`` and ``b``.
      max_support_pairs: refuse games with more support pairs than this (memory guard).

    Returns:
      An :class:`EquilibriumSet`: fixed-size arrays, ``count`` distinct equilibria first.

    Raises:
      TypeError: if ``game`` is not a :class:`NormalFormGame`.
      ValueError: if it is not a two-player game, has more than ``max_support_pairs`` support
        pairs, or ``tol`` / ``max_support_pairs`` is out of range.

    Example:
      >>> from socialign import solvers
      >>> mp = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> eqs = solvers.all_equilibria(mp)
      >>> int(eqs.count), [float(p) for p in eqs.strategies[0][0]]
      (1, [0.5, 0.5])
    """
    max_support_pairs = check_positive_int(max_support_pairs, "max_support_pairs")
    _validate_game(game, max_support_pairs)
    if tol is None:
        tol = _default_tol(game.dtype)
    check_positive_scalar(tol, "tol")
    tol = jnp.asarray(tol, game.dtype)
    return _enumerate_batched(game.payoffs, tol, batch_ndim=len(game.batch_shape))


@pytree_dataclass
class SupportEnumeration(Solver):
    """Support enumeration as a :class:`Solver`: ``solve`` returns the first equilibrium found.

    All work happens in ``init`` (one batched linear solve over every support pair); the full
    list is in ``Equilibrium.state`` (an :class:`EquilibriumSet`) and
    ``Equilibrium.stats["num_equilibria"]``. ``CONVERGED`` when at least one equilibrium was
    found and its NashConv is at most ``tol``; ``FAILED`` otherwise (possible only for
    degenerate games). :meth:`enumerate` is :func:`all_equilibria`.

    Args:
      tol: acceptance threshold of a candidate (see :func:`all_equilibria`); a pytree leaf.
      max_support_pairs: memory guard on the number of support pairs (static).

    Raises:
      TypeError, ValueError: if ``tol`` is not a finite number > 0 or ``max_support_pairs`` not a
        positive int (at construction); ``solve`` raises a ``ValueError`` for games with too
        many support pairs or more than two players.

    Example:
      >>> from socialign import solvers
      >>> bos = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 2.]], [[2., 0.], [0., 3.]])
      >>> eq = solvers.solve(bos, solvers.SupportEnumeration())
      >>> [float(p) for p in eq.strategies[0]], int(eq.stats["num_equilibria"])
      ([1.0, 0.0], 3)
    """

    tol: float | None = None
    max_support_pairs: int = static_field(default=MAX_SUPPORT_PAIRS)
    game_types = (NormalFormGame,)

    def __post_init__(self):
        if self.tol is not None:
            object.__setattr__(self, "tol", _float_setting(self.tol, "tol"))
        object.__setattr__(self, "max_support_pairs",
                           check_positive_int(self.max_support_pairs, "max_support_pairs"))

    def validate(self, game) -> None:
        super().validate(game)
        _validate_game(game, self.max_support_pairs)

    def enumerate(self, game: NormalFormGame) -> EquilibriumSet:
        """All equilibria of ``game`` (see :func:`all_equilibria`)."""
        return all_equilibria(game, tol=self.tol, max_support_pairs=self.max_support_pairs)

    def init(self, game, key=None) -> EquilibriumSet:
        tol = self.tol if self.tol is not None else _default_tol(game.dtype)
        return _enumerate(game.payoffs, jnp.asarray(tol, game.dtype))

    def step(self, game, state: EquilibriumSet) -> EquilibriumSet:
        return state

    def strategies(self, game, state: EquilibriumSet) -> tuple:
        x, y = state.strategies
        m, n = game.num_actions
        found = state.count > 0
        return (jnp.where(found, x[0], jnp.full((m,), 1.0 / m, game.dtype)),
                jnp.where(found, y[0], jnp.full((n,), 1.0 / n, game.dtype)))

    def terminate(self, game, state: EquilibriumSet, tol):
        cert = jnp.sum(_relative_gains(game, self.strategies(game, state)))
        ok = (state.count > 0) & (cert <= tol)
        code = jnp.where(ok, Result.CONVERGED, Result.FAILED).astype(jnp.int32)
        return jnp.asarray(True), code, cert

    def stats(self, game, state: EquilibriumSet) -> dict:
        return {"num_equilibria": state.count}
