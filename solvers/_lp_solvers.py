r"""Normal-form solvers built on the interior-point LP core.

* :class:`ZeroSumLP`: the exact equilibrium of a two-player zero-sum (or constant-sum) game.
  With payoffs rescaled to ``A' = (A - min A) / (max A - min A)`` the row player solves

  .. math:: \max_{x \in \Delta, v} v \quad \text{s.t.} \quad A'^\top x \ge v \mathbf{1},

  and the multipliers of the column constraints are the column player's equilibrium strategy
  (von Neumann's minimax theorem / LP duality). The certificate is the game's duality gap
  ``max_i (A y)_i - min_j (x^T A)_j``, which equals NashConv in a zero-sum game; it is compared
  with ``tol`` relative to the payoff range ``max A - min A``.
* :class:`CorrelatedEquilibrium` (Aumann 1974) and :class:`CoarseCorrelatedEquilibrium`
  (Hannan 1957; Moulin and Vial 1978): a joint distribution ``p`` over action profiles with

  .. math:: \sum_{a_{-i}} p(a_i, a_{-i}) [u_i(a_i', a_{-i}) - u_i(a_i, a_{-i})] \le 0
     \quad \forall i, a_i, a_i' \quad \text{(CE)}

  .. math:: \sum_{a} p(a) [u_i(a_i', a_{-i}) - u_i(a)] \le 0 \quad \forall i, a_i'
     \quad \text{(CCE)}

  optionally maximising utilitarian welfare. The certificate is the largest incentive
  violation of the returned (renormalised) joint distribution, each player's constraints
  divided by that player's payoff range ``max u_i - min u_i`` (scale-free).

Every certificate is scale-free, so answers, result codes and certificates do not change when
a player's payoffs are multiplied by a positive number or shifted (for the welfare-maximising
correlated equilibria, a common positive factor: per-player factors change the welfare).

All three are members of the one LP family of :func:`socialign.solvers.linprog`: each ``step``
of :func:`socialign.solvers.solve`'s loop is one step of a linprog engine (a pivot of the primal
simplex of :mod:`._simplex` on the pivot kernel, or an iteration of linprog's interior-point
method), so a stacked batch of games runs as one ``vmap``-ed program. :class:`ZeroSumLP` is
differentiable: ``residual`` states the equilibrium conditions on the supports, and
:func:`socialign.solvers.solve` differentiates through them by the implicit function theorem
(for a unique, nondegenerate equilibrium ``d value / d A = x y^T``, the envelope theorem).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Iteration, Result, lp_tol, pytree_dataclass, static_field
from ._game import NormalFormGame
from ._linprog import InteriorPoint, IPMState, StandardLP, ipm_solution
from ._metrics import _ranges, _relative_gains
from ._simplex import InequalityLP, PrimalSimplex, PrimalSimplexState
from ._solve import Solver, _float_setting

__all__ = ["ZeroSumLP", "CorrelatedEquilibrium", "CoarseCorrelatedEquilibrium"]


class LPSolverState(NamedTuple):
    """State of an LP-based solver: the interior-point iterate."""

    ipm: IPMState


def _lp_tol(solver_tol, dtype):
    return lp_tol(dtype) if solver_tol is None else solver_tol


_IPM = InteriorPoint()


def _simplex_for(game) -> PrimalSimplex:
    """ZeroSumLP's simplex: steepest-edge pricing above 16 x 16 (62 pivots on average against
    Dantzig's 108 at 64 x 64, 1.8x faster per game), Dantzig's rule up to it (at 8 x 8, 5.3
    pivots against 7.1 did not pay for the pass over the tableau that the edge norms cost:
    9.3-10.0 against 6.9-7.8 us per game; at 16 x 16 the two tie)."""
    m, n = game.num_actions
    return PrimalSimplex(pricing="steepest_edge" if m * n > 256 else "dantzig")


# --------------------------------------------------------------------------------------------
@pytree_dataclass
class ZeroSumLP(Solver):
    r"""Exact two-player zero-sum equilibrium by linear programming.

    ``method="simplex"`` (default) solves von Neumann's positive-game LP
    :math:`\min -1^\top q` s.t. :math:`A' q \le 1, q \ge 0` with
    :math:`A' = 1 + (A - \min A)/(\max A - \min A) > 0` with linprog's primal simplex
    (:class:`socialign.solvers._simplex.PrimalSimplex`: the compact Tucker tableau on the pivot
    kernel, slack basis, no phase 1, steepest-edge pricing above 16 x 16 actions and Dantzig's
    rule up to it, then Bland's rule after ``2 (m + n)`` pivots so degenerate games cannot
    cycle), one pivot per ``step``. The column strategy is ``q / sum(q)``, the row strategy the
    normalised simplex multipliers.

    ``method="interior_point"`` runs linprog's interior-point method on
    :math:`\max_{x \in \Delta, v} v` s.t. :math:`A'^\top x \ge v 1`, one iteration per step.

    Either way the answer is certified by the game's exact duality gap
    ``max_i (A y)_i - min_j (x^T A)_j`` (= NashConv for zero-sum games) divided by the payoff
    range ``max A - min A`` (the simplex stops on its own optimality test and the gap is
    computed once, after the loop; the interior point checks it as it goes): the result is
    ``CONVERGED`` only when it is at most ``tol``, else
    ``CERTIFICATE_ABOVE_TOLERANCE`` (or the interior point's
    ``STALLED``/``INFEASIBLE``/``UNBOUNDED``). The answer does not depend on the payoffs' scale
    or a shift (``[[4, 1], [1, 2]]`` and ``1e-10`` times it give the same equilibrium).

    Gradients: :meth:`residual` gives the equilibrium conditions on the supports (indifference
    on each support, zero off it, probabilities summing to one), so ``jax.grad`` through
    :func:`socialign.solvers.solve` works at a unique nondegenerate equilibrium (implicit
    function theorem); the value's gradient is ``x y^T`` (envelope theorem).

    Args:
      method: ``"simplex"`` or ``"interior_point"`` (static).
      lp_tol: interior-point tolerance (default :func:`socialign.kernel.lp_tol`), a leaf.

    Raises:
      ValueError: for an unknown ``method``; from ``solve``, for a game that is not two-player
        zero-sum (or constant-sum).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[2., 1., 5.], [-3., -4., -2.]])
      >>> eq = solvers.solve(g, solvers.ZeroSumLP())
      >>> round(float(eq.values[0]), 6), bool(eq.nash_conv < 1e-8)
      (1.0, True)
      >>> import jax.numpy as jnp
      >>> value = lambda A: solvers.solve(solvers.NormalFormGame.zero_sum(A),
      ...                                 solvers.ZeroSumLP()).values[0]
      >>> jax.grad(value)(jnp.array([[4., 1.], [1., 2.]])).round(8).tolist()   # x y^T
      [[0.0625, 0.1875], [0.1875, 0.5625]]
    """

    method: str = static_field(default="simplex")
    lp_tol: float | None = None
    game_types = (NormalFormGame,)
    affine_invariant = True

    @property
    def default_check_every(self) -> int:
        # a pivot after optimality is a no-op, so checking every 8 pivots costs nothing
        return 8 if self.method == "simplex" else 1

    @property
    def check_state_finite(self) -> bool:
        # the simplex tableau is checked once at the end (a NaN spreads through the next
        # exchange to the reduced costs, the loop's certificate): scanning it at every check
        # cost ~7% of the run
        return self.method != "simplex"

    def __post_init__(self):
        if self.method not in ("simplex", "interior_point"):
            raise ValueError(f"method must be 'simplex' or 'interior_point', got {self.method!r}")

    def validate(self, game) -> None:
        super().validate(game)
        if game.num_players != 2:
            raise ValueError(f"ZeroSumLP needs a two-player game, got {game.num_players} players")
        if not isinstance(game.payoffs, jax.core.Tracer):
            # in numpy on the host array (no copy on a CPU), without temporaries the size of the
            # payoffs beyond the sum: on 4,096 16x16 games this check took a tenth of the solve
            P = np.asarray(game.payoffs)
            batch, cells = P.shape[:-3], P.shape[-2] * P.shape[-1]  # (a batch may hold none)
            total = (P[..., 0, :, :] + P[..., 1, :, :]).reshape(*batch, cells)
            spread = total.max(axis=-1) - total.min(axis=-1)
            # relative to the payoffs' magnitude, so a game scaled by 1e-10 or 1e10 is judged
            # the same way (a constant-sum game whose payoffs are all zero passes)
            both = P.reshape(*batch, 2 * cells)
            scale = np.maximum(both.max(axis=-1), -both.min(axis=-1))
            # (rounding in the dtype: a float32 constant-sum game's sums spread by an ulp)
            ulp = np.finfo(P.dtype).eps if np.issubdtype(P.dtype, np.floating) else 0.0
            if np.any(spread > max(1e-9, 8 * ulp) * scale):
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

    # -- simplex: linprog's primal simplex on the positive game ---------------------------
    def _simplex_lp(self, game) -> InequalityLP:
        As, _, _ = self._scaled(game)
        m, n = As.shape
        dtype = As.dtype
        return InequalityLP(-jnp.ones(n, dtype), As + 1.0, jnp.ones(m, dtype), True)

    def _simplex_strategies(self, game, st: PrimalSimplexState):
        q, y = _simplex_for(game).primal_dual(self._simplex_lp(game), st)
        return _normalise(jnp.clip(-y, 0.0, None)), _normalise(q)

    # -- Solver protocol -------------------------------------------------------------------
    def init(self, game, key):
        if self.method == "simplex":
            st = _simplex_for(game).init(self._simplex_lp(game))
            # where uniform play is an equilibrium exactly (rock-paper-scissors, matching
            # pennies, a constant game), stop at once with it (the slack basis reads as uniform
            # play): the loop checks only the simplex's own test, and pivoting on would return a
            # vertex carrying rounding instead of the exact answer
            As, _, _ = self._scaled(game)
            uniform = jnp.max(jnp.mean(As, axis=1)) - jnp.min(jnp.mean(As, axis=0)) <= 0
            status = jnp.where((st.status < 0) & uniform, Result.CONVERGED, st.status)
            return PrimalSimplexState(st.tableau, st.row_labels, st.col_labels, st.num_pivots,
                                      status.astype(jnp.int32), st.col)
        return LPSolverState(_IPM.init(StandardLP(*self._lp(game))))

    def step(self, game, state):
        if self.method == "simplex":
            return _simplex_for(game).step(self._simplex_lp(game), state)
        return LPSolverState(_IPM.step(StandardLP(*self._lp(game)), state.ipm))

    def strategies(self, game, state):
        if self.method == "simplex":
            return self._simplex_strategies(game, state)
        m, n = game.num_actions
        z, y, _ = ipm_solution(state.ipm)
        x = jnp.clip(z[:m], 0.0, None)
        q = jnp.clip(-y[:n], 0.0, None)
        return _normalise(x), _normalise(q)

    def _gap(self, game, state):
        """The exact certificate: the game's duality gap at the normalised strategies, relative
        to the payoff range (scale-free)."""
        return jnp.sum(_relative_gains(game, self.strategies(game, state)))

    def terminate(self, game, state, tol):
        if self.method == "simplex":
            # In the loop, the simplex's own test (the reduced costs, one row of the tableau)
            # with the dual infeasibility as the certificate; the game's duality gap is computed
            # once, after the loop (certify). At every check it cost about 11% of the run: two
            # products with the payoffs, a copy of each (measured on 512 64x64 and 4,096 16x16
            # games).
            lp = self._simplex_lp(game)
            done, code, _ = _simplex_for(game).terminate(lp, state, tol)
            m, n = lp.G.shape
            infeasibility = jnp.maximum(-jnp.min(state.tableau[m, :n]), 0.0)
            return done, code, infeasibility
        gap = self._gap(game, state)
        certified = gap <= tol
        lp = StandardLP(*self._lp(game))
        ipm_done, code, _ = _IPM.terminate(lp, state.ipm, _lp_tol(self.lp_tol, game.dtype))
        # the LP's own optimality test is not enough: iterate on until the exact gap meets tol
        # (or the stall detector gives up)
        done = certified | (ipm_done & (code != Result.CONVERGED))
        code = jnp.where(certified, Result.CONVERGED, code)
        return done, code.astype(jnp.int32), gap

    def certify(self, game, iteration, tol):
        """The simplex's verdict checked by the game's duality gap: ``CONVERGED`` when it is
        at most ``tol`` (also after ``MAX_STEPS_REACHED`` or a stop the simplex claimed for
        another reason, as when the gap was checked in the loop), else
        ``CERTIFICATE_ABOVE_TOLERANCE`` where the simplex claimed optimality; ``NONFINITE``
        stays. The certificate is the gap."""
        if self.method != "simplex":
            return iteration
        gap = self._gap(game, iteration.state)
        r = iteration.result
        code = jnp.where(r == Result.NONFINITE, r,
                         jnp.where(gap <= tol, Result.CONVERGED,
                                   jnp.where(r == Result.CONVERGED,
                                             Result.CERTIFICATE_ABOVE_TOLERANCE, r)))
        return Iteration(state=iteration.state, num_steps=iteration.num_steps,
                         result=code.astype(jnp.int32), certificate=gap)

    def residual(self, game, strategies):
        """Equilibrium conditions on the supports: zero exactly at the equilibrium found.

        For the row strategy ``x [m]``: ``(A y)_i - (A y)_{i0}`` on its support (``i0`` its
        largest entry), ``x_i`` off it, and ``sum(x) - 1`` in place of row ``i0``; likewise for
        the column strategy ``y [n]`` with ``(x^T A)_j``. The supports are read from the
        (undifferentiated) answer; the Jacobian is invertible at a nondegenerate equilibrium.
        Returns ``(r_x [m], r_y [n])``.
        """
        x, y = strategies
        A = game.payoffs[0]
        dtype = A.dtype
        cut = jnp.sqrt(jnp.finfo(dtype).eps)

        def part(p, u):
            p_ng = jax.lax.stop_gradient(p)
            ref = jnp.argmax(p_ng)
            support = p_ng > cut
            k = jnp.arange(p.shape[0])
            return jnp.where(k == ref, jnp.sum(p) - 1.0,
                             jnp.where(support, u - u[ref], p))

        return part(x, A @ y), part(y, x @ A)

    def stats(self, game, state):
        if self.method == "simplex":
            return {"pivots": state.num_pivots}
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
    # a game where every player has one action has no deviation (K = 0): keep the index
    # arrays integer with the right trailing shape
    return (np.array(player, np.int64), np.array(dev, np.int64).reshape(-1, N),
            np.array(mask, bool).reshape(-1, N))


@pytree_dataclass
class _CorrelatedBase(Solver):
    maximize_welfare: bool = static_field(default=False)
    lp_tol: float | None = None
    game_types = (NormalFormGame,)
    _coarse = False

    def __post_init__(self):
        if not isinstance(self.maximize_welfare, bool):
            raise TypeError(f"maximize_welfare must be a bool, got {self.maximize_welfare!r}")
        if self.lp_tol is not None:      # a negative lp_tol ran and came back STALLED
            object.__setattr__(self, "lp_tol", _float_setting(self.lp_tol, "lp_tol"))

    def _gain_matrix(self, game):
        """``G [K, N]``: the gain of each deviation, per profile (constraints ``G p <= 0``),
        divided by the deviating player's payoff range (0 rows for a constant player)."""
        player, dev, mask = _deviation_tables(game.num_actions, self._coarse)
        u = game.payoffs.reshape(game.num_players, -1)  # [n, N]
        r = _ranges(game)
        u = (u - jnp.min(u, axis=1, keepdims=True)) / jnp.where(r > 0, r, 1.0)[:, None]
        up = u[player]  # [K, N]
        gain = jnp.take_along_axis(up, jnp.asarray(dev), axis=1) - up
        return jnp.where(jnp.asarray(mask), gain, 0.0)

    def _lp(self, game):
        G = self._gain_matrix(game)
        K, N = G.shape
        dtype = G.dtype
        scale = jnp.maximum(jnp.max(jnp.abs(G), initial=0.0), jnp.finfo(dtype).tiny)
        top = jnp.concatenate([G / scale, jnp.eye(K, dtype=dtype)], axis=1)
        bottom = jnp.concatenate([jnp.ones((1, N), dtype), jnp.zeros((1, K), dtype)], axis=1)
        A_s = jnp.concatenate([top, bottom], axis=0)
        b_s = jnp.concatenate([jnp.zeros(K, dtype), jnp.ones(1, dtype)])
        if self.maximize_welfare:
            # welfare shifted by its minimum (a constant shift leaves the optimum, sum p = 1)
            # and divided by its range: the LP does not depend on the payoffs' scale or shift
            w = game.payoffs.reshape(game.num_players, -1).sum(0)
            w = w - jnp.min(w)
            c = -w / jnp.maximum(jnp.max(w), jnp.finfo(dtype).tiny)
        else:
            c = jnp.zeros(N, dtype)
        c_s = jnp.concatenate([c, jnp.zeros(K, dtype)])
        return A_s, b_s, c_s

    def init(self, game, key):
        return LPSolverState(_IPM.init(StandardLP(*self._lp(game))))

    def step(self, game, state):
        return LPSolverState(_IPM.step(StandardLP(*self._lp(game)), state.ipm))

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
        lp = StandardLP(*self._lp(game))
        ipm_done, code, _ = _IPM.terminate(lp, state.ipm, _lp_tol(self.lp_tol, game.dtype))
        violation = jnp.maximum(jnp.max(self._gain_matrix(game) @ self._joint_flat(game, state),
                                        initial=0.0), 0.0)
        certified = violation <= tol
        if self.maximize_welfare:  # optimality of the welfare needs the LP's own test too
            code = jnp.where((code == Result.CONVERGED) & ~certified,
                             Result.CERTIFICATE_ABOVE_TOLERANCE, code)
            done = ipm_done
        else:  # any point of the CE polytope is an answer: the violation certifies it
            done = certified | (ipm_done & (code != Result.CONVERGED))
            code = jnp.where(certified, Result.CONVERGED, code)
        return done, code.astype(jnp.int32), violation

    def stats(self, game, state):
        return {"welfare": jnp.sum(self.values(game, state, None))}


@pytree_dataclass
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

    Raises:
      TypeError: if ``maximize_welfare`` is not a bool or ``lp_tol`` not a real number.
      ValueError: if ``lp_tol`` is not finite and ``> 0``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> chicken = solvers.NormalFormGame.from_bimatrix([[6., 2.], [7., 0.]], [[6., 7.], [2., 0.]])
      >>> eq = solvers.solve(chicken, solvers.CorrelatedEquilibrium(maximize_welfare=True))
      >>> round(float(eq.values.sum()), 6)  # 10.5 > 9, the best Nash welfare
      10.5
    """

    _coarse = False


@pytree_dataclass
class CoarseCorrelatedEquilibrium(_CorrelatedBase):
    """A coarse correlated equilibrium (Hannan 1957; Moulin and Vial 1978) by linear programming.

    As :class:`CorrelatedEquilibrium`, with one constraint per player and deviation ``a_i'``
    (a deviation decided before seeing the recommendation). No-regret dynamics converge to this set.

    Raises:
      TypeError: if ``maximize_welfare`` is not a bool or ``lp_tol`` not a real number.
      ValueError: if ``lp_tol`` is not finite and ``> 0``.

    Example:
      >>> from socialign import solvers
      >>> chicken = solvers.NormalFormGame.from_bimatrix([[6., 2.], [7., 0.]], [[6., 7.], [2., 0.]])
      >>> eq = solvers.solve(chicken, solvers.CoarseCorrelatedEquilibrium(maximize_welfare=True))
      >>> bool(eq.values.sum() >= 10.5 - 1e-6)  # at least the correlated optimum's welfare
      True
    """

    _coarse = True
