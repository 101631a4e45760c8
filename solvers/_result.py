"""Result codes and the :class:`Equilibrium` container returned by :func:`solvers.solve`.

Failures are values (as in optimistix): every solve returns a ``result`` code, an ``int32`` array
so that a ``vmap``-ed batch reports per element, and :class:`Result` turns a code back into a
message.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Result", "Equilibrium", "result_message"]


class Result(enum.IntEnum):
    """Why a solve stopped. Stored in results as ``int32`` arrays."""

    CONVERGED = 0
    MAX_STEPS_REACHED = 1
    NONFINITE = 2
    INFEASIBLE = 3
    UNBOUNDED = 4
    FAILED = 5

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Result.CONVERGED: "converged: the certificate is within tolerance",
    Result.MAX_STEPS_REACHED: "max_steps reached before the certificate fell below tol",
    Result.NONFINITE: "a non-finite value (NaN or inf) appeared in the iterates",
    Result.INFEASIBLE: "the problem is infeasible",
    Result.UNBOUNDED: "the problem is unbounded (a ray certifies dual infeasibility: unbounded "
    "whenever it is feasible)",
    Result.FAILED: "the algorithm failed (e.g. degenerate pivoting or a singular system); "
    "the returned point is not certified",
}


def result_message(code) -> str:
    """Return the message of a result code (an int or a scalar array)."""
    return Result(int(code)).message


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """The answer of :func:`solvers.solve`: strategies plus the certificate that backs them.

    Attributes:
      strategies: the solution's strategies, one entry per player. For normal-form games a tuple
        of mixed strategies ``[A_i]``; for extensive-form games a behavioural policy array.
      values: expected payoff per player under ``strategies``, shape ``[players]``.
      nash_conv: ``sum_i max_{s_i'} u_i(s_i', s_-i) - u_i(s)``, always computed exactly.
      certificate: the solver's own convergence measure, compared with ``tol``: NashConv for
        Nash solvers, the duality gap for LP-based ones, the largest incentive violation for
        correlated equilibria, the fixed-point residual for quantal response equilibria.
      result: an ``int32`` :class:`Result` code.
      stats: at least ``num_steps``; solvers add their own diagnostics.
      state: the solver's final state (to warm-start or inspect).
      joint: for correlated solution concepts, the joint distribution over action profiles
        ``[A_1, ..., A_n]``; ``None`` otherwise.
    """

    strategies: Any
    values: jax.Array
    nash_conv: jax.Array
    certificate: jax.Array
    result: jax.Array
    stats: dict
    state: Any
    joint: Any = None

    @property
    def converged(self) -> jax.Array:
        return jnp.asarray(self.result) == Result.CONVERGED
