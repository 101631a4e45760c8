r"""Repeated games with monetary transfers: the highest self-enforcing joint payoff.

Goldlücke and Kranz (2012) study infinitely repeated games in which, after every period, the
players can make voluntary monetary transfers to each other (risk-neutral, quasi-linear
payoffs). With perfect monitoring, every payoff in the equilibrium set can be reached by a
*simple* equilibrium: a stationary equilibrium path ``a^e`` played forever, and for each player
``i`` a one-period punishment ``a^i`` after which ``i`` pays a fine and play returns to the path
(stick and carrot). Write (normalised payoffs, common discount factor ``delta``)

.. math::
    U(a) = \sum_i u_i(a),\qquad
    L_i(a) = \max_{a_i'} u_i(a_i', a_{-i}) - u_i(a),\qquad
    c_i(a) = \max_{a_i'} u_i(a_i', a_{-i}),

the joint payoff, the deviation gains and player ``i``'s best-reply payoff. The punishment
payoff of ``i`` is ``v_i = c_i(a^i)`` and every profile ``k`` of the simple equilibrium is
enforceable iff the total continuation surplus covers the total deviation gain:

.. math::
    (1 - \delta) \sum_i L_i(a^k) \le \delta \Big(U(a^e) - \sum_i c_i(a^i)\Big),
    \qquad k \in \{e, 1, \dots, n\}.

For a threshold ``lambda`` on the total deviation gain the best punishments are separable,
``v_i(lambda) = min{c_i(a) : sum_j L_j(a) <= lambda}``, so the smallest discount factor that
sustains ``a^e`` on the path is the closed form

.. math::
    \delta^*(a^e) = \min_{\lambda \ge \sum_i L_i(a^e)}
      \frac{\lambda}{\lambda + U(a^e) - \sum_i v_i(\lambda)}

over the finitely many ``lambda`` in ``{sum_i L_i(a)}`` with a positive denominator (``0`` for a
stage Nash equilibrium whose joint payoff is at least the best punishments'), and the highest
joint payoff sustainable at ``delta`` is ``max{U(a) : delta^*(a) <= delta}`` (a stationary pure
path is optimal: a randomised path is never easier to enforce than its best profile). Every
quantity is a ``min``/``max`` of closed forms: the function runs under ``jit`` and ``vmap`` and
``jax.grad`` of a critical discount with respect to the payoffs is exact where the minimiser is
unique.

References:
  S. Goldlücke and S. Kranz, "Infinitely repeated games with public monitoring and monetary
  transfers", Journal of Economic Theory 147(3), 2012. J. Levin, "Relational incentive
  contracts", AER 93(3), 2003. D. Abreu, "On the theory of infinitely repeated games with
  discounting", Econometrica 56(2), 1988 (optimal penal codes).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ...kernel import (
    Result,
    batch_map,
    lp_tol,
    pytree_dataclass,
    raise_if_failed,
    scale_of,
)
from ...solvers import RepeatedGame

__all__ = ["TransferEquilibrium", "transfer_equilibrium"]


@pytree_dataclass
class TransferEquilibrium:
    """The optimal simple equilibrium of a repeated game with monetary transfers.

    Attributes (leading axes are the game's batch axes; the stage game is ``m x n``):
      joint_payoff: ``[*batch]`` the highest joint payoff ``U(a^e)`` sustainable at the
        discount factor (normalised per-period units).
      path: ``[*batch, 2]`` ``int32`` the equilibrium-path profile ``a^e`` (row, column);
        ``-1`` when nothing is sustainable.
      punishment_payoffs: ``[*batch, 2]`` each player's punishment payoff ``v_i``.
      slack: ``[*batch]`` ``delta (U(a^e) - sum v) - (1 - delta) max_k sum_i L_i(a^k)``
        (``>= 0``: the enforcement constraint's slack, payoff units).
      critical_discount: ``[*batch, m, n]`` ``delta^*(a)``: the smallest discount factor that
        sustains each profile on the path (``0`` for a stage Nash equilibrium with enough
        joint payoff; ``1`` when no ``delta < 1`` does).
      sustainable: ``[*batch, m, n]`` whether some ``delta < 1`` sustains the profile.
      result: ``[*batch]`` ``kernel.Result`` code (``INFEASIBLE``: nothing is sustainable at
        this discount factor; ``FAILED``: a discount outside ``(0, 1)`` traced under ``jit``,
        with zeros and ``path`` ``-1``).

    Example:
      >>> from socialign import solvers
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> eq = ic.transfer_equilibrium(solvers.RepeatedGame(pd, [0.1, 0.5]))
      >>> eq.joint_payoff.tolist(), eq.path.tolist()
      ([6.0, 18.0], [[1, 1], [0, 0]])
    """

    joint_payoff: jax.Array
    path: jax.Array
    punishment_payoffs: jax.Array
    slack: jax.Array
    critical_discount: jax.Array
    sustainable: jax.Array
    result: jax.Array


def _stage_terms(U):
    """Joint payoffs ``[A]``, total deviation gains ``[A]``, best-reply payoffs ``[A, 2]``."""
    c0 = jnp.broadcast_to(jnp.max(U[0], axis=0, keepdims=True), U[0].shape)
    c1 = jnp.broadcast_to(jnp.max(U[1], axis=1, keepdims=True), U[1].shape)
    c = jnp.stack([c0, c1]).reshape(2, -1).T
    pay = U.reshape(2, -1).T
    return jnp.sum(pay, axis=1), jnp.sum(c - pay, axis=1), c


def _transfer_one(problem):
    U, delta = problem
    m, n = U.shape[1:]
    joint, L, c = _stage_terms(U)
    # every compared quantity is a sum over the players of differences of one player's payoffs:
    # the tolerance is relative to the sum of the payoff ranges (a shift of the payoffs changes
    # nothing; max |U| would make every gain below 1e-9 |shift| vanish)
    span = jnp.sum(jnp.max(U, axis=(1, 2)) - jnp.min(U, axis=(1, 2)))
    tol = lp_tol(U.dtype) * scale_of(span)
    # a traced discount outside (0, 1) (a concrete one is refused by RepeatedGame): FAILED
    valid = (delta > 0) & (delta < 1)
    delta = jnp.where(valid, delta, 0.5)
    big = jnp.asarray(jnp.finfo(U.dtype).max / 16, U.dtype)
    lam = L                                                   # thresholds [K]
    allowed = L[None, :] <= lam[:, None] + tol                # [K, A]
    v = jnp.min(jnp.where(allowed[:, :, None], c[None], big), axis=1)   # [K, 2]
    G = joint[:, None] - jnp.sum(v, axis=1)[None, :]          # [A (path), K]
    covers = lam[None, :] >= L[:, None] - tol                 # lambda >= L(a^e)
    zero = lam[None, :] <= tol
    ratio = jnp.where(zero, jnp.where(G >= -tol, 0.0, 1.0),
                      jnp.where(G > tol, lam[None, :] / jnp.where(G > tol, lam[None, :] + G, 1),
                                1.0))
    ratio = jnp.where(covers, ratio, 1.0)
    crit = jnp.min(ratio, axis=1)                             # [A]
    sust = jnp.any(covers & ((zero & (G >= -tol)) | (~zero & (G > tol))), axis=1)
    crit = jnp.where(sust, crit, 1.0)
    # at delta: the best sustainable path, and its harshest feasible punishments
    ok = sust & (crit <= delta)
    e = jnp.argmax(jnp.where(ok, joint, -big))
    any_ok = jnp.any(ok)
    fits = covers[e] & ((1 - delta) * lam <= delta * G[e] + tol)
    k = jnp.argmin(jnp.where(fits, jnp.sum(v, axis=1), big))
    slack = delta * G[e, k] - (1 - delta) * lam[k]
    code = jnp.where(any_ok, Result.CONVERGED, Result.INFEASIBLE)
    code = jnp.where(valid, code, Result.FAILED).astype(jnp.int32)
    any_ok = any_ok & valid
    path = jnp.where(any_ok, jnp.stack([e // n, e % n]), -1).astype(jnp.int32)
    return TransferEquilibrium(
        joint_payoff=jnp.where(any_ok, joint[e], 0.0), path=path,
        punishment_payoffs=jnp.where(any_ok, v[k], 0.0), slack=jnp.where(any_ok, slack, 0.0),
        critical_discount=crit.reshape(m, n), sustainable=sust.reshape(m, n), result=code)


@functools.partial(jax.jit, static_argnames=("batch_shape",))
def _transfer_batch(payoffs, discount, *, batch_shape):
    return batch_map(_transfer_one, (payoffs, discount), batch_shape=batch_shape)


def transfer_equilibrium(game: RepeatedGame, *, throw: bool = False) -> TransferEquilibrium:
    r"""The highest joint payoff sustainable with monetary transfers (Goldlücke-Kranz 2012).

    For every member of the batch: the critical discount ``delta^*(a)`` of every action
    profile as the equilibrium path of a simple equilibrium with transfers (module docstring),
    the best path at the game's discount factor, its optimal punishment payoffs and the
    enforcement constraint's slack. Closed forms over the ``m n`` candidate thresholds: runs
    under ``jax.jit``/``vmap``, differentiable in the payoffs and the discount.

    Args:
      game: a :class:`socialign.solvers.RepeatedGame` (stage payoffs ``[*batch, 2, m, n]``,
        discount ``[*batch]``; its constructor rejects a discount outside ``(0, 1)`` and
        non-finite payoffs).
      throw: raise :class:`socialign.kernel.NotConvergedError` when some member has no
        sustainable path (``INFEASIBLE``).

    Returns:
      A :class:`TransferEquilibrium`.

    Raises:
      TypeError: if ``game`` is not a :class:`socialign.solvers.RepeatedGame` or ``throw`` is
        not a bool.
      NotConvergedError: with ``throw=True``, as above.

    Example:
      (the prisoner's dilemma (R, S, T, P) = (9, 1, 10, 3): cooperation needs ``delta >= 2 / (2 + 18 - 6) = 1/7``, as under grim trigger)
      >>> from socialign import solvers
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> eq = ic.transfer_equilibrium(solvers.RepeatedGame(pd, 0.5))
      >>> eq.critical_discount.round(4).tolist(), eq.punishment_payoffs.tolist()
      ([[0.1429, 0.2857], [0.2857, 0.0]], [3.0, 3.0])
    """
    if not isinstance(game, RepeatedGame):
        raise TypeError(f"game must be a socialign.solvers.RepeatedGame, got "
                        f"{type(game).__name__}")
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    out = _transfer_batch(game.payoffs, game.discount, batch_shape=game.batch_shape)
    if throw:
        raise_if_failed(out.result, "transfer_equilibrium")
    return out
