"""Lemke-Howson complementary pivoting for two-player general-sum games, in JAX.

Following von Stengel (2002), with payoffs made positive (``A', B' >= 1``, an affine change that
keeps the equilibria), the best-response polytopes are

    P = {x in R^m : x >= 0, B'^T x <= 1},      Q = {y in R^n : A' y <= 1, y >= 0},

labelled by ``0..m-1`` (row actions: ``x_i = 0`` or ``(A' y)_i = 1``) and ``m..m+n-1`` (column
actions: ``(B'^T x)_j = 1`` or ``y_j = 0``). A completely labelled pair ``(x, y) != (0, 0)``,
normalised, is a Nash equilibrium. Starting from the artificial equilibrium ``(0, 0)`` and
dropping ``initial_label`` ``k``, the algorithm pivots alternately in the two tableaux

    s = 1 - B'^T x   (basis initially s),        r = 1 - A' y   (basis initially r),

the entering variable always being the complement of the one that just left, until the
variable with label ``k`` leaves. Ties in the minimum-ratio test are broken by the
lexicographic rule (ratios of the rows of the current basis inverse, i.e. the columns of the
initial slack variables), which makes the path well defined on degenerate games and rules out
cycling. The pivots are the Gauss-Jordan :func:`._pivot.pivot` and the
:func:`._pivot.lexicographic_ratio_test` of the engine's one pivot kernel (shared with linprog's
simplex methods), under its one tolerance rule. Every pivot is one step of the solver; the
answer is certified by NashConv: ``CERTIFICATE_ABOVE_TOLERANCE`` (never ``CONVERGED``) if its
NashConv exceeds ``tol``, ``DEGENERATE_PIVOT`` if no pivot element passes the ratio test (a ray,
impossible in exact arithmetic with positive payoffs).

References: C. E. Lemke and J. T. Howson, "Equilibrium points of bimatrix games", SIAM J.
Applied Math. 12, 1964; B. von Stengel, "Computing equilibria for two-person games", Handbook
of Game Theory vol. 3, ch. 45, 2002.

Example:
  >>> from socialign import solvers
  >>> g = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 1.]], [[1., 0.], [0., 3.]])
  >>> eq = solvers.solve(g, solvers.LemkeHowson(initial_label=0))
  >>> [round(float(p), 4) for p in eq.strategies[0]], [round(float(p), 4) for p in eq.strategies[1]]
  ([1.0, 0.0], [1.0, 0.0])
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..kernel import Result, pytree_dataclass, static_field
from ._game import NormalFormGame
from ._metrics import _relative_gains
from ._pivot import lexicographic_ratio_test, pivot, threshold
from ._solve import Solver

__all__ = ["LemkeHowson", "LemkeHowsonState"]


class LemkeHowsonState(NamedTuple):
    """State of :class:`LemkeHowson` (with a leading ``[m + n]`` label axis in all-labels mode).

    Attributes:
      tableau_x: ``[n, m + n + 1]``: the system ``s = 1 - B'^T x``; columns are indexed by label
        (``x_i`` is label ``i``, ``s_j`` is label ``m + j``), the last column is the right-hand side.
      tableau_y: ``[m, m + n + 1]``: the system ``r = 1 - A' y`` (``r_i`` is label ``i``, ``y_j``
        is label ``m + j``).
      basis_x, basis_y: int32 ``[n]`` and ``[m]``: label of the basic variable of each row.
      entering: int32 label of the variable that enters next.
      in_x: whether the next pivot is in ``tableau_x``.
      done: the variable with the dropped label has left (a completely labelled point).
      failed: no valid pivot row (a ray; impossible in exact arithmetic with positive payoffs).
      num_pivots: int32 count of pivots.
    """

    tableau_x: jax.Array
    tableau_y: jax.Array
    basis_x: jax.Array
    basis_y: jax.Array
    entering: jax.Array
    in_x: jax.Array
    done: jax.Array
    failed: jax.Array
    num_pivots: jax.Array


def _normalised(game: NormalFormGame):
    """Payoffs rescaled affinely into ``[1, 2]`` per player (equilibria unchanged)."""
    A, B = game.payoffs[0], game.payoffs[1]

    def rescale(M):
        lo, hi = jnp.min(M), jnp.max(M)
        return (M - lo) / jnp.where(hi > lo, hi - lo, 1.0) + 1.0

    return rescale(A), rescale(B)


def _init_label(game: NormalFormGame, label) -> LemkeHowsonState:
    m, n = game.num_actions
    A, B = _normalised(game)
    dtype = game.dtype
    ones_n = jnp.ones((n, 1), dtype)
    ones_m = jnp.ones((m, 1), dtype)
    tab_x = jnp.concatenate([B.T, jnp.eye(n, dtype=dtype), ones_n], axis=1)
    tab_y = jnp.concatenate([jnp.eye(m, dtype=dtype), A, ones_m], axis=1)
    label = jnp.asarray(label, jnp.int32)
    false = jnp.zeros((), bool)
    return LemkeHowsonState(
        tableau_x=tab_x,
        tableau_y=tab_y,
        basis_x=jnp.arange(m, m + n, dtype=jnp.int32),
        basis_y=jnp.arange(m, dtype=jnp.int32),
        entering=label,
        in_x=label < m,
        done=false,
        failed=false,
        num_pivots=jnp.zeros((), jnp.int32),
    )


def _pivot_step(tab, basis, entering, key_cols):
    """One lexicographic minimum-ratio pivot; returns (tableau, basis, leaving label, ok)."""
    col = tab[:, entering]
    keys = jnp.concatenate([tab[:, -1:], tab[:, key_cols]], axis=1)
    row, ok = lexicographic_ratio_test(col, keys, threshold(col))
    new = pivot(tab, row, entering, ok)
    leaving = basis[row]
    return new, basis.at[row].set(entering), leaving, ok


def _step_label(game: NormalFormGame, state: LemkeHowsonState, label) -> LemkeHowsonState:
    m, n = game.num_actions
    tx, bx, lx, okx = _pivot_step(state.tableau_x, state.basis_x, state.entering,
                                  jnp.arange(m, m + n))
    ty, by, ly, oky = _pivot_step(state.tableau_y, state.basis_y, state.entering,
                                  jnp.arange(m))
    in_x = state.in_x
    ok = jnp.where(in_x, okx, oky)
    leaving = jnp.where(in_x, lx, ly)
    active = ~state.done & ~state.failed
    move = active & ok
    new = LemkeHowsonState(
        tableau_x=jnp.where(move & in_x, tx, state.tableau_x),
        tableau_y=jnp.where(move & ~in_x, ty, state.tableau_y),
        basis_x=jnp.where(move & in_x, bx, state.basis_x),
        basis_y=jnp.where(move & ~in_x, by, state.basis_y),
        entering=jnp.where(move, leaving, state.entering),
        in_x=jnp.where(move, ~in_x, in_x),
        done=state.done | (move & (leaving == label)),
        failed=state.failed | (active & ~ok),
        num_pivots=state.num_pivots + move.astype(jnp.int32),
    )
    return new


def _strategies_label(game: NormalFormGame, state: LemkeHowsonState) -> tuple:
    m, n = game.num_actions
    rhs_x = jnp.maximum(state.tableau_x[:, -1], 0.0)
    rhs_y = jnp.maximum(state.tableau_y[:, -1], 0.0)
    idx_x = jnp.where(state.basis_x < m, state.basis_x, m)
    idx_y = jnp.where(state.basis_y >= m, state.basis_y - m, n)
    x = jnp.zeros((m + 1,), game.dtype).at[idx_x].add(rhs_x)[:m]
    y = jnp.zeros((n + 1,), game.dtype).at[idx_y].add(rhs_y)[:n]

    def normalise(v):
        total = v.sum()
        uniform = jnp.full_like(v, 1.0 / v.shape[0])
        return jnp.where(total > 0, v / jnp.where(total > 0, total, 1.0), uniform)

    return normalise(x), normalise(y)


@pytree_dataclass
class LemkeHowson(Solver):
    """Lemke-Howson for two-player general-sum games, with lexicographic pivoting.

    One solver step is one complementary pivot (so ``max_steps`` bounds the pivots). The run
    stops when the dropped label is picked up again; the point reached is normalised and
    certified by NashConv relative to each player's payoff range (scale-free, as the pivots
    are: they run on payoffs rescaled into ``[1, 2]`` per player): ``CONVERGED`` if it is at
    most ``tol``, otherwise ``CERTIFICATE_ABOVE_TOLERANCE`` (or ``DEGENERATE_PIVOT`` when no
    pivot passed the ratio test; the point is returned, marked uncertified). The pivots are
    those of the engine's pivot kernel (:mod:`socialign.solvers._pivot`). With
    ``initial_label=None`` all ``m + n`` labels are run side by side (``vmap``) and the
    finished run with the smallest NashConv is returned, as soon as one of them is certified;
    ``stats`` then also holds ``nash_conv_per_label`` (relative to the payoff ranges) and
    ``finished_per_label``, and :meth:`strategies_per_label` gives every run's point.

    Args:
      initial_label: the label dropped first, ``0..m-1`` for row actions and ``m..m+n-1`` for
        column actions; ``None`` for all labels at once (static: it selects the code path).

    Raises:
      ValueError: for a negative or non-int ``initial_label``; from ``solve``, for a game that
        is not two-player or a label out of range.

    References: C. E. Lemke and J. T. Howson, SIAM J. Applied Math. 12, 1964; B. von Stengel,
    "Computing equilibria for two-person games", Handbook of Game Theory 3, 2002.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[2., 1., 5.], [-3., -4., -2.]])
      >>> eq = solvers.solve(g, solvers.LemkeHowson(initial_label=None))
      >>> [round(float(p), 4) for p in eq.strategies[1]], round(float(eq.values[0]), 4)
      ([0.0, 1.0, 0.0], 1.0)
    """

    initial_label: int | None = static_field(default=0)
    game_types = (NormalFormGame,)
    affine_invariant = True

    def __post_init__(self):
        k = self.initial_label
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ValueError(f"initial_label must be a non-negative int or None, got {k!r}")

    def validate(self, game) -> None:
        super().validate(game)
        if game.num_players != 2:
            raise ValueError(f"game: LemkeHowson solves two-player games, got "
                             f"{game.num_players} players")
        m, n = game.num_actions
        if self.initial_label is not None and self.initial_label >= m + n:
            raise ValueError(f"initial_label must be in [0, {m + n}) for a {m}x{n} game, got "
                             f"{self.initial_label}")

    # -- protocol ------------------------------------------------------------------------------
    def _labels(self, game):
        m, n = game.num_actions
        return jnp.arange(m + n, dtype=jnp.int32)

    def init(self, game, key=None) -> LemkeHowsonState:
        if self.initial_label is not None:
            return _init_label(game, self.initial_label)
        return jax.vmap(lambda k: _init_label(game, k))(self._labels(game))

    def step(self, game, state: LemkeHowsonState) -> LemkeHowsonState:
        if self.initial_label is not None:
            return _step_label(game, state, self.initial_label)
        return jax.vmap(lambda s, k: _step_label(game, s, k))(state, self._labels(game))

    def strategies_per_label(self, game, state: LemkeHowsonState) -> tuple:
        """All-labels mode: the normalised point reached from every initial label.

        Returns ``(x [m + n, m], y [m + n, n])``; row ``k`` is the current point of the run that
        dropped label ``k`` (its end point when ``state.done[k]``). Pass an unbatched game and
        state (index a batch first).
        """
        if self.initial_label is not None:
            raise ValueError("strategies_per_label needs LemkeHowson(initial_label=None)")
        return jax.vmap(lambda s: _strategies_label(game, s))(state)

    def _per_label(self, game, state):
        strategies = jax.vmap(lambda s: _strategies_label(game, s))(state)
        conv = jax.vmap(lambda x, y: jnp.sum(_relative_gains(game, (x, y))))(*strategies)
        return strategies, conv

    def _choice(self, game, state):
        strategies, conv = self._per_label(game, state)
        score = jnp.where(state.done, conv, jnp.inf)
        best = jnp.where(jnp.any(state.done), jnp.argmin(score), 0)
        return tuple(s[best] for s in strategies), conv, best

    def strategies(self, game, state: LemkeHowsonState) -> tuple:
        if self.initial_label is not None:
            return _strategies_label(game, state)
        return self._choice(game, state)[0]

    def terminate(self, game, state: LemkeHowsonState, tol):
        if self.initial_label is not None:
            cert = jnp.sum(_relative_gains(game, _strategies_label(game, state)))
            done = state.done | state.failed
            ok = state.done & (cert <= tol)
            bad = jnp.where(state.failed, Result.DEGENERATE_PIVOT,
                            Result.CERTIFICATE_ABOVE_TOLERANCE)
        else:
            _, conv, best = self._choice(game, state)
            certified = state.done & (conv <= tol)
            cert = conv[best]
            done = jnp.any(certified) | jnp.all(state.done | state.failed)
            ok = jnp.any(certified)
            bad = jnp.where(jnp.all(state.failed), Result.DEGENERATE_PIVOT,
                            Result.CERTIFICATE_ABOVE_TOLERANCE)
        code = jnp.where(ok, Result.CONVERGED, bad).astype(jnp.int32)
        return done, code, cert

    def stats(self, game, state: LemkeHowsonState) -> dict:
        if self.initial_label is not None:
            return {"num_pivots": state.num_pivots, "label": jnp.asarray(self.initial_label,
                                                                          jnp.int32)}
        _, conv, best = self._choice(game, state)
        return {"num_pivots": jnp.sum(state.num_pivots), "label": best.astype(jnp.int32),
                "nash_conv_per_label": conv, "finished_per_label": state.done}
