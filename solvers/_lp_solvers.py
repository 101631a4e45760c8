r"""Normal-form solvers built on the interior-point LP core.

* :class:`ZeroSumLP`: the exact equilibrium of a two-player zero-sum (or constant-sum) game.
  With payoffs rescaled to ``A' = (A - min A) / (max A - min A)`` the row player solves

  .. math:: \max_{x \in \Delta, v} v \quad \text{s.t.} \quad A'^\top x \ge v \mathbf{1},

  and the multipliers of the column constraints are the column player's equilibrium strategy
  (von Neumann's minimax theorem / LP duality). The certificate is the game's duality gap
  ``max_i (A y)_i - min_j (x^T A)_j``, which equals NashConv in a zero-sum game.
* :class:`CorrelatedEquilibrium` (Aumann 1974) and :class:`CoarseCorrelatedEquilibrium`
  (Hannan 1957; Moulin and Vial 1978): a joint distribution ``p`` over action profiles with

  .. math:: \sum_{a_{-i}} p(a_i, a_{-i}) [u_i(a_i', a_{-i}) - u_i(a_i, a_{-i})] \le 0
     \quad \forall i, a_i, a_i' \quad \text{(CE)}

  .. math:: \sum_{a} p(a) [u_i(a_i', a_{-i}) - u_i(a)] \le 0 \quad \forall i, a_i'
     \quad \text{(CCE)}

  optionally maximising utilitarian welfare. The certificate is the largest incentive
  violation of the returned (renormalised) joint distribution, in payoff units.

Each solver is one interior-point iteration per ``step`` of :func:`solvers.solve`'s loop, so a
stacked batch of games runs as one ``vmap``-ed program.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result
from ._game import NormalFormGame
from ._linprog import IPMState, default_lp_tol, ipm_init, ipm_solution, ipm_status, ipm_step
from ._metrics import _gains
from ._solve import Solver, _dataclass_solver

__all__ = ["ZeroSumLP", "CorrelatedEquilibrium", "CoarseCorrelatedEquilibrium"]


class LPSolverState(NamedTuple):
    """State of an LP-based solver: the interior-point iterate."""

    ipm: IPMState


def _lp_tol(solver_tol, dtype):
    return default_lp_tol(dtype) if solver_tol is None else solver_tol


# --------------------------------------------------------------------------------------------
class SimplexState(NamedTuple):
    """Compact (Tucker) simplex tableau for matrix games.

    ``tableau [m + 1, n + 1]``: rows are the basic variables, columns the non-basic ones, the
    last column the basic values and the last row the reduced costs. ``row_labels [m]`` and
    ``col_labels [n]`` name the variables (``q_j`` is ``j``, slack ``s_i`` is ``n + i``).
    """

    tableau: jax.Array
    row_labels: jax.Array
    col_labels: jax.Array
    pivots: jax.Array


@_dataclass_solver
class ZeroSumLP(Solver):
    r"""Exact two-player zero-sum equilibrium by linear programming.

    ``method="simplex"`` (default) solves von Neumann's positive-game LP on a compact (Tucker)
    tableau
    :math:`\max 1^\top q` s.t. :math:`A' q \le 1, q \ge 0` with
    :math:`A' = 1 + (A - \min A)/(\max A - \min A) > 0`, starting from the slack basis (no
    phase 1), one pivot per ``step`` (Dantzig's rule, then Bland's rule after ``2 (m + n)``
    pivots so degenerate games cannot cycle). The column strategy is ``q / sum(q)``, the row
    strategy the normalised simplex multipliers, the value ``1 / sum(q)`` mapped back. Every
    pivot is elementwise array code, so a stacked batch of games pivots together.

    ``method="interior_point"`` runs the homogeneous interior-point core of :func:`linprog`
    on :math:`\max_{x \in \Delta, v} v` s.t. :math:`A'^\top x \ge v 1`, one iteration
    per step.

    Either way the answer is certified by the game's exact duality gap
    ``max_i (A y)_i - min_j (x^T A)_j`` (= NashConv for zero-sum games): the result is
    ``CONVERGED`` only when it is at most ``tol``, else ``FAILED``.

    Args:
      method: ``"simplex"`` or ``"interior_point"``.
      lp_tol: interior-point tolerance (default 1e-9 in float64, 1e-6 in float32).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[2., 1., 5.], [-3., -4., -2.]])
      >>> eq = solvers.solve(g, solvers.ZeroSumLP())
      >>> round(float(eq.values[0]), 6), bool(eq.nash_conv < 1e-8)
      (1.0, True)
    """

    method: str = "simplex"
    lp_tol: float | None = None
    game_types = (NormalFormGame,)

    @property
    def default_check_every(self) -> int:
        # a pivot after optimality is a no-op, so checking every 8 pivots costs nothing
        return 8 if self.method == "simplex" else 1

    def __post_init__(self):
        if self.method not in ("simplex", "interior_point"):
            raise ValueError(f"method must be 'simplex' or 'interior_point', got {self.method!r}")

    def validate(self, game) -> None:
        super().validate(game)
        if game.num_players != 2:
            raise ValueError(f"ZeroSumLP needs a two-player game, got {game.num_players} players")
        if not isinstance(game.payoffs, jax.core.Tracer):
            total = np.asarray(game.payoffs.sum(axis=-3))
            spread = total.reshape(*total.shape[:-2], -1)
            spread = spread.max(axis=-1) - spread.min(axis=-1)
            scale = np.abs(np.asarray(game.payoffs)).max() + 1.0
            if np.any(spread > 1e-9 * scale):
                raise ValueError("ZeroSumLP needs a zero-sum (or constant-sum) game: payoffs[0] + "
                                 "payoffs[1] must be constant; use LemkeHowson or "
                                 "SupportEnumeration for general-sum games")

    @staticmethod
    def _scaled(game):
        A = game.payoffs[0]
        lo, hi = jnp.min(A), jnp.max(A)
        rng = jnp.where(hi > lo, hi - lo, 1.0)
        return (A - lo) / rng, lo, rng

    @staticmethod
    def _lp(game):
        As, _, _ = ZeroSumLP._scaled(game)
        m, n = As.shape
        dtype = As.dtype
        # variables: x [m], v [1], slacks [n]; rows: n column constraints, 1 simplex row
        top = jnp.concatenate([-As.T, jnp.ones((n, 1), dtype), jnp.eye(n, dtype=dtype)], axis=1)
        bottom = jnp.concatenate([jnp.ones((1, m), dtype), jnp.zeros((1, 1 + n), dtype)], axis=1)
        A_s = jnp.concatenate([top, bottom], axis=0)
        b_s = jnp.concatenate([jnp.zeros(n, dtype), jnp.ones(1, dtype)])
        c_s = jnp.zeros(m + 1 + n, dtype).at[m].set(-1.0)
        return A_s, b_s, c_s

    # -- simplex (compact Tucker tableau) ---------------------------------------------------
    def _simplex_init(self, game):
        As, _, _ = self._scaled(game)
        m, n = As.shape
        dtype = As.dtype
        top = jnp.concatenate([As + 1.0, jnp.ones((m, 1), dtype)], axis=1)
        bottom = jnp.concatenate([-jnp.ones((1, n), dtype), jnp.zeros((1, 1), dtype)], axis=1)
        return SimplexState(jnp.concatenate([top, bottom], axis=0), jnp.arange(n, n + m),
                            jnp.arange(n), jnp.asarray(0, jnp.int32))

    @staticmethod
    def _simplex_optimal(st: SimplexState):
        eps = 1e-11 if st.tableau.dtype == jnp.float64 else 1e-5
        return jnp.all(st.tableau[-1, :-1] >= -eps), eps

    def _simplex_step(self, st: SimplexState) -> SimplexState:
        T, rows, cols, k = st
        m, n = rows.shape[0], cols.shape[0]
        optimal, eps = self._simplex_optimal(st)
        reduced = T[-1, :-1]
        negative = reduced < -eps
        # Dantzig's rule, then Bland's rule (lowest variable label) once pivots pile up
        bland = k >= 2 * (m + n)
        big = 2 * (m + n)
        enter = jnp.where(bland, jnp.argmin(jnp.where(negative, cols, big)), jnp.argmin(reduced))
        col = T[:-1, enter]
        positive = col > eps
        ratios = jnp.where(positive, T[:-1, -1] / jnp.where(positive, col, 1.0), jnp.inf)
        best = jnp.min(ratios)
        tied = positive & (ratios <= best * (1 + 1e-12) + 1e-300)
        leave = jnp.where(bland, jnp.argmin(jnp.where(tied, rows, big)), jnp.argmin(ratios))
        keep = optimal | ~jnp.any(positive)
        pivot = T[leave, enter]
        prow = T[leave] / pivot  # [n + 1]
        pcol = T[:, enter]  # [m + 1]
        is_r = (jnp.arange(m + 1) == leave)[:, None]
        is_c = (jnp.arange(n + 1) == enter)[None, :]
        # one fused pass: the Tucker pivot on the compact tableau
        T_new = jnp.where(is_r, jnp.where(is_c, 1.0 / pivot, prow[None, :]),
                          jnp.where(is_c, -pcol[:, None] / pivot,
                                    T - pcol[:, None] * prow[None, :]))
        rows_new = jnp.where(jnp.arange(m) == leave, cols[enter], rows)
        cols_new = jnp.where(jnp.arange(n) == enter, rows[leave], cols)
        return SimplexState(jnp.where(keep, T, T_new), jnp.where(keep, rows, rows_new),
                            jnp.where(keep, cols, cols_new), k + jnp.where(keep, 0, 1))

    def _simplex_strategies(self, game, st: SimplexState):
        m, n = game.num_actions
        T, rows, cols, _ = st
        dtype = T.dtype
        # basic q_j take the values column; slacks that are non-basic carry the duals
        q = jnp.zeros(n + m, dtype).at[rows].set(T[:-1, -1])[:n]
        p = jnp.zeros(n + m, dtype).at[cols].set(T[-1, :-1])[n:]
        return _normalise(jnp.clip(p, 0.0, None)), _normalise(jnp.clip(q, 0.0, None))

    # -- Solver protocol -------------------------------------------------------------------
    def init(self, game, key):
        if self.method == "simplex":
            return self._simplex_init(game)
        return LPSolverState(ipm_init(*self._lp(game)))

    def step(self, game, state):
        if self.method == "simplex":
            return self._simplex_step(state)
        return LPSolverState(ipm_step(*self._lp(game), state.ipm))

    def strategies(self, game, state):
        if self.method == "simplex":
            return self._simplex_strategies(game, state)
        m, n = game.num_actions
        z, y, _ = ipm_solution(state.ipm)
        x = jnp.clip(z[:m], 0.0, None)
        q = jnp.clip(-y[:n], 0.0, None)
        return _normalise(x), _normalise(q)

    def terminate(self, game, state, tol):
        # The exact certificate: the game's duality gap at the normalised strategies.
        gap = jnp.sum(_gains(game, self.strategies(game, state)))
        certified = gap <= tol
        if self.method == "simplex":
            optimal, _ = self._simplex_optimal(state)
            code = jnp.where(certified, Result.CONVERGED, Result.FAILED)
            return optimal | certified, code.astype(jnp.int32), gap
        A_s, b_s, c_s = self._lp(game)
        ipm_done, code = ipm_status(A_s, b_s, c_s, state.ipm, _lp_tol(self.lp_tol, game.dtype))
        # the LP's own optimality test is not enough: iterate on until the exact gap meets tol
        # (or the stall detector gives up, reporting FAILED)
        done = certified | (ipm_done & (code != Result.CONVERGED))
        code = jnp.where(certified, Result.CONVERGED, code)
        return done, code.astype(jnp.int32), gap

    def stats(self, game, state):
        if self.method == "simplex":
            return {"pivots": state.pivots}
        return {"tau": state.ipm.tau, "kappa": state.ipm.kappa}


def _normalise(p):
    s = jnp.sum(p)
    return jnp.where(s > 0, p / jnp.where(s > 0, s, 1.0), jnp.full_like(p, 1.0 / p.shape[0]))


# --------------------------------------------------------------------------------------------
def _deviation_tables(num_actions: tuple[int, ...], coarse: bool):
    """Static index tables for the (coarse) correlated-equilibrium constraints.

    Returns ``player [K]``, ``dev_index [K, N]`` (flat profile after the deviation) and
    ``mask [K, N]`` (whether the constraint involves the profile).
    """
    N = int(np.prod(num_actions))
    profiles = np.array(list(itertools.product(*[range(a) for a in num_actions]))).reshape(N, -1)
    strides = np.array([int(np.prod(num_actions[i + 1:])) for i in range(len(num_actions))])
    player, dev, mask = [], [], []
    for i, Ai in enumerate(num_actions):
        pairs = ([(None, b) for b in range(Ai)] if coarse
                 else [(a, b) for a in range(Ai) for b in range(Ai) if a != b])
        for a, b in pairs:
            moved = profiles.copy()
            moved[:, i] = b
            player.append(i)
            dev.append(moved @ strides)
            mask.append(np.ones(N, bool) if a is None else profiles[:, i] == a)
    return np.array(player), np.array(dev), np.array(mask)


@_dataclass_solver
class _CorrelatedBase(Solver):
    maximize_welfare: bool = False
    lp_tol: float | None = None
    game_types = (NormalFormGame,)
    _coarse = False

    def _gain_matrix(self, game):
        """``G [K, N]``: the gain of each deviation, per profile (constraints ``G p <= 0``)."""
        player, dev, mask = _deviation_tables(game.num_actions, self._coarse)
        u = game.payoffs.reshape(game.num_players, -1)  # [n, N]
        up = u[player]  # [K, N]
        gain = jnp.take_along_axis(up, jnp.asarray(dev), axis=1) - up
        return jnp.where(jnp.asarray(mask), gain, 0.0)

    def _lp(self, game):
        G = self._gain_matrix(game)
        K, N = G.shape
        dtype = G.dtype
        scale = jnp.maximum(jnp.max(jnp.abs(G)), jnp.finfo(dtype).tiny)
        top = jnp.concatenate([G / scale, jnp.eye(K, dtype=dtype)], axis=1)
        bottom = jnp.concatenate([jnp.ones((1, N), dtype), jnp.zeros((1, K), dtype)], axis=1)
        A_s = jnp.concatenate([top, bottom], axis=0)
        b_s = jnp.concatenate([jnp.zeros(K, dtype), jnp.ones(1, dtype)])
        if self.maximize_welfare:
            w = game.payoffs.reshape(game.num_players, -1).sum(0)
            wscale = jnp.maximum(jnp.max(jnp.abs(w)), jnp.finfo(dtype).tiny)
            c = -w / wscale
        else:
            c = jnp.zeros(N, dtype)
        c_s = jnp.concatenate([c, jnp.zeros(K, dtype)])
        return A_s, b_s, c_s

    def init(self, game, key):
        return LPSolverState(ipm_init(*self._lp(game)))

    def step(self, game, state):
        return LPSolverState(ipm_step(*self._lp(game), state.ipm))

    def _joint_flat(self, game, state):
        N = int(np.prod(game.num_actions))
        z, _, _ = ipm_solution(state.ipm)
        return _normalise(jnp.clip(z[:N], 0.0, None))

    def joint(self, game, state):
        return self._joint_flat(game, state).reshape(game.num_actions)

    def strategies(self, game, state):
        p = self.joint(game, state)
        n = game.num_players
        return tuple(p.sum(axis=tuple(j for j in range(n) if j != i)) for i in range(n))

    def values(self, game, state, strategies):
        p = self._joint_flat(game, state)
        return game.payoffs.reshape(game.num_players, -1) @ p

    def terminate(self, game, state, tol):
        A_s, b_s, c_s = self._lp(game)
        ipm_done, code = ipm_status(A_s, b_s, c_s, state.ipm, _lp_tol(self.lp_tol, game.dtype))
        violation = jnp.maximum(jnp.max(self._gain_matrix(game) @ self._joint_flat(game, state)),
                                0.0)
        certified = violation <= tol
        if self.maximize_welfare:  # optimality of the welfare needs the LP's own test too
            code = jnp.where((code == Result.CONVERGED) & ~certified, Result.FAILED, code)
            done = ipm_done
        else:  # any point of the CE polytope is an answer: the violation certifies it
            done = certified | (ipm_done & (code != Result.CONVERGED))
            code = jnp.where(certified, Result.CONVERGED, code)
        return done, code.astype(jnp.int32), violation

    def stats(self, game, state):
        return {"welfare": jnp.sum(self.values(game, state, None))}


@_dataclass_solver
class CorrelatedEquilibrium(_CorrelatedBase):
    """A correlated equilibrium (Aumann 1974) of an n-player game by linear programming.

    ``Equilibrium.joint`` holds the distribution over action profiles, ``strategies`` its
    marginals (``nash_conv`` is reported for those marginals, as for any answer), ``values`` the
    expected payoffs under the joint, and ``certificate`` the largest gain from any deviation
    ``a_i -> a_i'`` recommended by the joint.

    Args:
      maximize_welfare: pick the CE that maximises the sum of payoffs (otherwise the interior
        point returns a central point of the CE polytope).
      lp_tol: interior-point tolerance (see :class:`ZeroSumLP`).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> chicken = solvers.NormalFormGame.from_bimatrix([[6., 2.], [7., 0.]], [[6., 7.], [2., 0.]])
      >>> eq = solvers.solve(chicken, solvers.CorrelatedEquilibrium(maximize_welfare=True))
      >>> round(float(eq.values.sum()), 6)  # 10.5 > 9, the best Nash welfare
      10.5
    """

    _coarse = False


@_dataclass_solver
class CoarseCorrelatedEquilibrium(_CorrelatedBase):
    """A coarse correlated equilibrium (Hannan 1957; Moulin and Vial 1978) by linear programming.

    As :class:`CorrelatedEquilibrium`, with one constraint per player and deviation ``a_i'``
    (a deviation decided before seeing the recommendation). No-regret dynamics converge to this set.
    """

    _coarse = True
