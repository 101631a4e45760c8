"""The :class:`Equilibrium` container returned by :func:`socialign.solvers.solve`."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from ..kernel import Result

__all__ = ["Equilibrium"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """The answer of :func:`solvers.solve`: strategies plus the certificate that backs them.

    Attributes:
      strategies: the solution's strategies, one entry per player. For normal-form games a tuple
        of mixed strategies ``[A_i]``; for extensive-form games a behavioural policy array.
      values: expected payoff per player under ``strategies``, shape ``[players]``.
      nash_conv: ``sum_i max_{s_i'} u_i(s_i', s_-i) - u_i(s)``, always computed exactly, in
        payoff units.
      certificate: the solver's own convergence measure, compared with ``tol``: NashConv for
        Nash solvers, the duality gap for LP-based ones, the largest incentive violation for
        correlated equilibria, the fixed-point residual for quantal response equilibria. For
        normal-form games it is scale-free: each player's part is divided by that player's
        payoff range ``max u_i - min u_i``.
      relative_nash_conv: ``sum_i g_i / (max u_i - min u_i)``
        (:func:`socialign.solvers.relative_nash_conv`), unchanged when a player's payoffs are
        multiplied by a positive number or shifted; for extensive-form games the same as
        ``nash_conv``.
      result: an ``int32`` :class:`Result` code.
      stats: at least ``num_steps``; solvers add their own diagnostics.
      state: the solver's final state (to warm-start or inspect).
      joint: for correlated solution concepts, the joint distribution over action profiles
        ``[A_1, ..., A_n]``; ``None`` otherwise.

    Every array field carries the game's batch axes in front. ``converged`` is
    ``result == Result.CONVERGED``.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> eq = solvers.solve(g, solvers.SupportEnumeration())
      >>> bool(eq.converged), float(eq.nash_conv), eq.values.tolist()
      (True, 0.0, [0.0, 0.0])
      >>> float(eq.relative_nash_conv)
      0.0
    """

    strategies: Any
    values: jax.Array
    nash_conv: jax.Array
    certificate: jax.Array
    result: jax.Array
    stats: dict
    state: Any
    joint: Any = None
    relative_nash_conv: jax.Array | None = None

    @property
    def converged(self) -> jax.Array:
        return jnp.asarray(self.result) == Result.CONVERGED
