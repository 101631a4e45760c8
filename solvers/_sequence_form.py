r"""Exact equilibria of two-player zero-sum extensive-form games by the sequence-form LP.

With perfect recall a player's behavioural strategy is equivalent to a *realization plan*
``x`` over her sequences ``sigma = (I, a)`` plus the empty sequence (Romanovskii 1962; Koller,
Megiddo & von Stengel 1996; von Stengel 1996): ``x_{empty} = 1`` and, for every information set
``I``, ``sum_a x_{(I, a)} = x_{parent(I)}`` (``E x = e``, ``x >= 0``; likewise ``F y = f`` for
player 1). The payoff is bilinear, ``x^T A y`` with

.. math:: A[\sigma_0, \sigma_1] = \sum_{z:\ \mathrm{seq}_0(z) = \sigma_0,\ \mathrm{seq}_1(z) = \sigma_1}
   p_c(z)\, u_0(z),

so player 0's maximin problem is the linear program (dualising player 1's inner minimisation)

.. math:: \max_{x, v}\ f^\top v \quad \text{s.t.}\quad F^\top v \le A^\top x,\ E x = e,\ x \ge 0,

whose optimal value is the game value and whose multipliers of ``F^T v <= A^T x`` are player 1's
equilibrium realization plan. Utilities are rescaled to ``[0, 1]`` first, which makes an
optimal ``v >= 0`` exist, so every variable is non-negative. Each ``step`` of
:func:`solvers.solve` is one homogeneous self-dual interior-point iteration of the LP core
(``solvers.linprog``'s method), so a batch of games with the same tree is one ``vmap``-ed
program. The certificate is the exact NashConv of the returned behavioural policy.

The LP has ``|Sigma_0| + |Sigma_1| + |I_1|`` variables and is solved with dense linear algebra:
use it for exact values on small games (Kuhn, small signalling or bargaining trees), and CFR for
large ones.

Example:
  >>> import jax; jax.config.update("jax_enable_x64", True)
  >>> from socialign import solvers
  >>> kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
  >>> eq = solvers.solve(kuhn, solvers.SequenceFormLP(), tol=1e-8)
  >>> abs(float(eq.values[0]) + 1 / 18) < 1e-7
  True
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, lp_tol, pytree_dataclass
from ._efg import ExtensiveFormGame
from ._efg_metrics import chance_reach
from ._linprog import InteriorPoint, IPMState, StandardLP, ipm_solution
from ._metrics import relative_nash_conv
from ._solve import Solver, _float_setting

__all__ = ["SequenceFormLP", "sequence_form"]


class _SeqForm(NamedTuple):
    seq_of: tuple  # per player: [I * A + 1] -> sequence index (or -1)
    n_seq: tuple  # per player: number of sequences
    E: tuple  # per player: constraint matrices [1 + |I_i|, n_seq_i]
    z_seq: tuple  # per player: [Z] sequence index of each terminal
    inf_rows: tuple  # per player: infoset ids of that player, in row order
    seq_cols: tuple  # per player: [|I_i|, A] sequence index of (I, a), -1 if illegal


@functools.lru_cache(maxsize=16)
def sequence_form(tree) -> _SeqForm:
    """Static sequence-form tables of a compiled tree (a bounded cache keyed by the tree).

    The tree is immutable and hashed by content, and the tables are computed from it without
    changing it; the cache keeps the 16 most recently used trees.
    """
    I, A = tree.num_infosets, tree.max_actions
    seq_of, n_seq, Es, z_seq, inf_rows, seq_cols = [], [], [], [], [], []
    for i in range(2):
        rows = np.flatnonzero(tree.infoset_player == i)
        m = np.full(I * A + 1, -1, np.int64)
        m[I * A] = 0
        cols = np.full((len(rows), A), -1, np.int64)
        k = 1
        for r, s in enumerate(rows):
            for a in range(tree.infoset_num_actions[s]):
                m[s * A + a] = k
                cols[r, a] = k
                k += 1
        E = np.zeros((1 + len(rows), k))
        E[0, 0] = 1.0
        for r, s in enumerate(rows):
            E[1 + r, m[tree.infoset_parent_seq[s]]] = -1.0
            E[1 + r, cols[r, cols[r] >= 0]] = 1.0
        seq_of.append(m)
        n_seq.append(k)
        Es.append(E)
        z_seq.append(m[tree.last_seq[i]])
        inf_rows.append(rows)
        seq_cols.append(cols)
    for arr in (*seq_of, *Es, *z_seq, *inf_rows, *seq_cols):
        arr.setflags(write=False)
    return _SeqForm(tuple(seq_of), tuple(n_seq), tuple(Es), tuple(z_seq), tuple(inf_rows),
                    tuple(seq_cols))


# the LP family's interior-point method (the same one `linprog(method="interior_point")` runs),
# stepped inside `solve`'s loop so the NashConv certificate is checked on the game itself
_IPM = InteriorPoint()


class SequenceFormState(NamedTuple):
    """The interior-point iterate of the sequence-form LP."""

    ipm: IPMState


@pytree_dataclass
class SequenceFormLP(Solver):
    """Exact equilibrium of a two-player zero-sum extensive-form game (sequence-form LP).

    Args:
      lp_tol: relative tolerance of the interior-point stopping test (default
        :func:`socialign.kernel.lp_tol`: 1e-9 in float64, about 1e-6 in float32). ``solve``'s ``tol`` bounds the certified
        NashConv relative to the payoff range (:func:`socialign.solvers.relative_nash_conv`).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.SequenceFormLP(), tol=1e-8)
      >>> bool(eq.nash_conv < 1e-8)
      True
    """

    lp_tol: float | None = None
    game_types = (ExtensiveFormGame,)
    #: the LP's solution is unchanged by shifts and positive scales of the utilities
    affine_invariant = True

    def __post_init__(self):
        if self.lp_tol is not None:
            object.__setattr__(self, "lp_tol", _float_setting(self.lp_tol, "lp_tol"))

    def validate(self, game) -> None:
        super().validate(game)
        if game.num_players != 2:
            raise ValueError(f"SequenceFormLP needs a two-player game, got {game.num_players} "
                             "players")
        if not isinstance(game.utilities, jax.core.Tracer):
            # zero-sum up to each player's positive scale and shift: on utilities mapped to
            # [0, 1] per player the two sum to the same constant at every terminal
            u = np.asarray(game.utilities, np.float64)
            lo, hi = u.min(axis=-2, keepdims=True), u.max(axis=-2, keepdims=True)
            total = ((u - lo) / np.where(hi > lo, hi - lo, 1.0)).sum(-1)
            spread = total.max(axis=-1) - total.min(axis=-1)
            if np.any(spread > max(1e-9, 100 * np.finfo(game.dtype).eps)):
                raise ValueError("SequenceFormLP needs a zero-sum game (up to each player's "
                                 "positive scale and shift of utilities): utilities must sum to "
                                 "the same constant at every terminal; use a CFR solver for "
                                 "general-sum games")

    def _lp(self, game):
        sf = sequence_form(game.tree)
        n0, n1 = sf.n_seq
        E, F = (jnp.asarray(e, game.dtype) for e in sf.E)
        m1 = F.shape[0]
        u = game.utilities[:, 0]
        lo, hi = jnp.min(u), jnp.max(u)
        scale = jnp.where(hi > lo, hi - lo, 1.0)
        chance = chance_reach(game)
        w = chance * (u - lo) / scale
        Amat = jnp.zeros((n0, n1), game.dtype).at[sf.z_seq[0], sf.z_seq[1]].add(w)
        # variables [x (n0), v (m1), s (n1)]; rows: F^T v - A^T x + s = 0 (n1), E x = e (m0)
        top = jnp.concatenate([-Amat.T, F.T, jnp.eye(n1, dtype=game.dtype)], axis=1)
        bottom = jnp.concatenate([E, jnp.zeros((E.shape[0], m1 + n1), game.dtype)], axis=1)
        A_s = jnp.concatenate([top, bottom], axis=0)
        b_s = jnp.zeros(n1 + E.shape[0], game.dtype).at[n1].set(1.0)
        f = jnp.zeros(m1, game.dtype).at[0].set(1.0)
        c_s = jnp.concatenate([jnp.zeros(n0, game.dtype), -f, jnp.zeros(n1, game.dtype)])
        return A_s, b_s, c_s

    def init(self, game, key):
        return SequenceFormState(_IPM.init(StandardLP(*self._lp(game)), key))

    def step(self, game, state):
        return SequenceFormState(_IPM.step(StandardLP(*self._lp(game)), state.ipm))

    def strategies(self, game, state) -> jax.Array:
        """Behavioural policy ``[I, A]`` from the two realization plans."""
        sf = sequence_form(game.tree)
        n0, n1 = sf.n_seq
        z, y, _ = ipm_solution(state.ipm)
        plans = (jnp.clip(z[:n0], 0.0, None), jnp.clip(-y[:n1], 0.0, None))
        legal = jnp.asarray(game.tree.legal)
        pol = jnp.zeros((game.num_infosets, game.max_actions), game.dtype)
        for i in range(2):
            cols = sf.seq_cols[i]
            vals = jnp.where(cols >= 0, plans[i][np.maximum(cols, 0)], 0.0)
            pol = pol.at[sf.inf_rows[i]].set(vals)
        s = pol.sum(1, keepdims=True)
        uniform = (legal / legal.sum(1, keepdims=True)).astype(pol.dtype)
        return jnp.where(s > 1e-300, pol / jnp.where(s > 1e-300, s, 1.0), uniform)

    def terminate(self, game, state, tol):
        tol_lp = lp_tol(game.dtype) if self.lp_tol is None else self.lp_tol
        done, code, _ = _IPM.terminate(StandardLP(*self._lp(game)), state.ipm, tol_lp)
        gap = relative_nash_conv(game, self.strategies(game, state))
        code = jnp.where((code == Result.CONVERGED) & (gap > tol), Result.CERTIFICATE_ABOVE_TOLERANCE,
                         code)
        return done, code.astype(jnp.int32), gap

    def stats(self, game, state):
        return {"tau": state.ipm.tau, "kappa": state.ipm.kappa}
