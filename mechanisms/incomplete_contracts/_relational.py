r"""Relational contracts: self-enforcing bonuses in a repeated principal-agent relationship.

Each period a risk-neutral agent takes a hidden action ``a`` at cost ``c_a``; the outcome ``o``
(probabilities ``P[a, o]``) is observed by both parties but not verifiable, so the principal's
bonus ``b(o)`` is discretionary: it is paid only because the relationship is worth keeping.
A stationary contract pays a verifiable base wage ``w`` and the bonus ``b(o)``. Levin (2003,
Theorem 1 and its risk-neutral corollary): an action ``a`` is implemented by a stationary
relational contract with common discount factor ``delta`` iff some bonus schedule satisfies the
agent's incentive constraints ``sum_o (P[a', o] - P[a, o]) b(o) <= c_{a'} - c_a`` and the
dynamic-enforcement constraint

.. math::
    \max_o b(o) - \min_o b(o) \le \frac{\delta}{1 - \delta}\, s(a),\qquad
    s(a) = \sum_o P[a, o]\, r_o - c_a - R

(``s`` the per-period joint surplus over the outside options: the agent's reservation utility
``R`` and the principal's zero). The smallest bonus range ``t^*(a)`` implementing ``a`` is one
LP per action (``min t`` s.t. ``0 <= b <= t`` and the incentive constraints), independent of
``delta``, solved as one batch by :func:`socialign.solvers.linprog`. The optimal stationary
contract implements the surplus-maximising action among those with ``t^*(a) <= delta / (1 -
delta) s(a)``; ``a`` is sustainable exactly from ``delta^*(a) = t^*(a) / (t^*(a) + s(a))``.

Example (Levin 2003, ORACLES): output worth 1 with success probability ``e`` and cost
``e^2 / 2``: the bonus on success must be ``e`` and ``e <= delta/(1 - delta) (e - e^2/2)``, so
``e^*(delta) = min{1, max{0, 2 (2 delta - 1) / delta}}``.

References:
  J. Levin, "Relational incentive contracts", AER 93(3), 2003. G. Baker, R. Gibbons and
  K. J. Murphy, "Subjective performance measures in optimal incentive contracts", QJE 109(4),
  1994. S. Goldlücke and S. Kranz, "Infinitely repeated games with public monitoring and
  monetary transfers", JET 147(3), 2012.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    Result,
    as_float_array,
    check_finite,
    is_concrete,
    pytree_dataclass,
    raise_if_failed,
    scale_of,
)
from ...solvers import linprog
from .._principal_agent import PrincipalAgent

__all__ = ["RelationalContract", "relational_contract"]


@pytree_dataclass
class RelationalContract:
    """The optimal stationary relational contract at each discount factor.

    Attributes (``*d`` are the discount factor's axes):
      action: ``[*d]`` ``int32`` the implemented action (``-1`` when none is sustainable).
      bonus: ``[*d, outcomes]`` the discretionary bonus schedule (minimum 0).
      base_wage: ``[*d]`` the verifiable wage that leaves the agent its reservation utility.
      principal_value: ``[*d]`` the principal's per-period payoff (the joint surplus ``s(a)``).
      agent_values: ``[*d]`` the agent's per-period payoff (its reservation utility).
      surplus: ``[*d]`` per-period joint surplus ``s(a)`` of the implemented action.
      enforcement_slack: ``[*d]`` ``delta/(1 - delta) s(a) - (max b - min b)`` (``>= 0``).
      min_bonus_range: ``[actions]`` ``t^*(a)``, the smallest bonus range implementing each
        action (``inf``-free: unimplementable actions get range 0 and ``implementable`` False).
      implementable: ``[actions]`` whether some bonus schedule implements each action.
      critical_discount: ``[actions]`` ``t^*/(t^* + s)``, the smallest discount factor sustaining
        each action (``1`` when ``s(a) <= 0 < t^*`` or the action is not implementable).
      result: ``[*d]`` ``kernel.Result`` codes (``INFEASIBLE``: no action is sustainable;
        ``FAILED``: a bonus-range LP failed, or a discount outside ``(0, 1)`` traced under
        ``jit``). Where the code is not ``CONVERGED``, ``action`` is ``-1`` and the bonus, wage,
        values, surplus and slack are zeros.

    Example:
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> pa = mechanisms.PrincipalAgent([[1., 0.], [0.5, 0.5]], [0., 0.1], [0., 1.])
      >>> rc = ic.relational_contract(pa, [0.1, 0.5])
      >>> rc.action.tolist(), [round(float(x), 4) for x in rc.critical_discount]
      ([0, 1], [0.0, 0.3333])
    """

    action: jax.Array
    bonus: jax.Array
    base_wage: jax.Array
    principal_value: jax.Array
    agent_values: jax.Array
    surplus: jax.Array
    enforcement_slack: jax.Array
    min_bonus_range: jax.Array
    implementable: jax.Array
    critical_discount: jax.Array
    result: jax.Array


def _range_lps(P, c):
    """Batched LP data: for each action ``a``, ``min t`` over ``z = (b, t) >= 0``."""
    A, O = P.shape
    cost = jnp.zeros((A, O + 1), P.dtype).at[:, O].set(1)
    top = jnp.concatenate([jnp.eye(O, dtype=P.dtype), -jnp.ones((O, 1), P.dtype)], axis=1)
    ic = P[None, :, :] - P[:, None, :]                      # [a, a', o]
    ic = jnp.concatenate([ic, jnp.zeros((A, A, 1), P.dtype)], axis=2)
    A_ub = jnp.concatenate([jnp.broadcast_to(top, (A, O, O + 1)), ic], axis=1)
    b_ub = jnp.concatenate([jnp.zeros((A, O), P.dtype), c[None, :] - c[:, None]], axis=1)
    return cost, A_ub, b_ub


def relational_contract(problem: PrincipalAgent, discount, *, throw: bool = False):
    r"""The optimal stationary relational contract (Levin 2003) for each discount factor.

    Solves the bonus-range LP of every action once (a batch through
    :func:`socialign.solvers.linprog`), then for every ``delta`` picks the surplus-maximising
    action whose range fits the dynamic-enforcement constraint
    ``max b - min b <= delta / (1 - delta) s(a)`` (module docstring). Outside options: the
    agent's ``reservation_utility``; the principal's 0. Works under ``jax.jit`` and ``vmap``
    over the problem's fields and the discount.

    Args:
      problem: an unbatched :class:`socialign.mechanisms.PrincipalAgent` with a risk-neutral
        agent (``agent_utility=None``; ``limited_liability`` is irrelevant: the base wage
        absorbs any shift of the bonus).
      discount: discount factors in ``(0, 1)``, any shape.
      throw: raise :class:`socialign.kernel.NotConvergedError` when, at some discount factor,
        no action is sustainable (``result`` ``INFEASIBLE``) or an LP failed.

    Returns:
      A :class:`RelationalContract`.

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent` or ``discount`` not numeric.
      ValueError: if the problem is batched or has a risk-averse agent, or a concrete discount
        is outside ``(0, 1)``.
      NotConvergedError: with ``throw=True``, as above.

    In float32, many nearly identical actions make the bonus-range LPs ill-conditioned: with
    101 effort levels their residuals (about 5e-5) exceed float32's LP tolerance and the
    members end ``FAILED``; use float64 there.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> e = np.linspace(0, 1, 101)                       # effort levels = success probability
      >>> pa = mechanisms.PrincipalAgent(np.stack([1 - e, e], 1), e ** 2 / 2, [0., 1.])
      >>> rc = ic.relational_contract(pa, [0.55, 0.6, 2 / 3, 0.9])
      >>> e[rc.action].round(2).tolist()        # 2 (2 delta - 1) / delta = 0.36, 0.67, 1, 1
      [0.38, 0.67, 1.0, 1.0]
    """
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")
    if problem.outcome_probs.ndim != 2:
        raise ValueError(f"problem must be unbatched (vmap over a batch); got outcome_probs of "
                         f"shape {tuple(problem.outcome_probs.shape)}")
    if problem.agent_utility is not None:
        raise ValueError("relational_contract needs a risk-neutral agent (agent_utility=None)")
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    delta = as_float_array(discount, "discount")
    check_finite(delta, "discount")
    if is_concrete(delta) and not bool(np.all((np.asarray(delta) > 0)
                                              & (np.asarray(delta) < 1))):
        raise ValueError(f"discount must lie in (0, 1); got {np.asarray(delta)}")
    P, c, r = problem.outcome_probs, problem.costs, problem.rewards
    R = problem.reservation_utility
    cost, A_ub, b_ub = _range_lps(P, c)
    lp = linprog(cost, A_ub, b_ub, method="dual_simplex")
    O = P.shape[1]
    ok_lp = lp.status == Result.CONVERGED
    implementable = ok_lp
    t = jnp.where(implementable, lp.fun, 0.0)
    bonus = jnp.where(implementable[:, None], lp.x[:, :O], 0.0)
    bonus = bonus - jnp.min(bonus, axis=1, keepdims=True)
    s = P @ r - c - R - P @ problem.monitoring_cost
    # the comparisons' slack, relative to the problem's own payoff scale (rewards, costs,
    # outside option, monitoring costs): the answer does not change when every payoff is
    # multiplied by the same positive number
    scale = scale_of(jnp.concatenate([jnp.ravel(r), jnp.ravel(c), jnp.ravel(R),
                                      jnp.ravel(problem.monitoring_cost)]))
    tiny = 1e3 * jnp.finfo(P.dtype).eps * scale
    crit = jnp.where(t <= tiny, jnp.where(s >= -tiny, 0.0, 1.0),
                     jnp.where(s > tiny, t / jnp.where(s > tiny, t + s, 1), 1.0))
    crit = jnp.where(implementable, crit, 1.0)
    failed = jnp.any((lp.status != Result.CONVERGED) & (lp.status != Result.INFEASIBLE))

    def at(d):
        # a traced discount outside (0, 1) (a concrete one is refused above): FAILED, zeros
        valid = (d > 0) & (d < 1)
        d = jnp.where(valid, d, 0.5)
        room = d / (1 - d) * s
        feasible = implementable & (t <= room + tiny) & (s >= -tiny)
        a = jnp.argmax(jnp.where(feasible, s, -jnp.inf))
        any_ok = jnp.any(feasible) & valid
        b = bonus[a]
        wage = R + c[a] - P[a] @ b
        code = jnp.where(failed | ~valid, Result.FAILED,
                         jnp.where(any_ok, Result.CONVERGED, Result.INFEASIBLE))
        z = lambda x: jnp.where(any_ok, x, jnp.zeros_like(x))  # noqa: E731
        return (jnp.where(any_ok, a, -1).astype(jnp.int32), z(b), z(wage), z(s[a]),
                R * jnp.ones(()), z(s[a]), z(room[a] - t[a]), code.astype(jnp.int32))

    flat = delta.reshape(-1)
    a, b, w, pv, av, sur, slack, code = jax.vmap(at)(flat)
    shape = delta.shape
    out = RelationalContract(
        action=a.reshape(shape), bonus=b.reshape(*shape, O), base_wage=w.reshape(shape),
        principal_value=pv.reshape(shape), agent_values=av.reshape(shape),
        surplus=sur.reshape(shape), enforcement_slack=slack.reshape(shape),
        min_bonus_range=t, implementable=implementable, critical_discount=crit,
        result=code.reshape(shape))
    if throw:
        raise_if_failed(out.result, "relational_contract")
    return out
