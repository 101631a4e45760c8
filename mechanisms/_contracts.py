r"""Optimal contracts for hidden action: the Grossman-Hart decomposition, batched.

For each action ``k`` the cheapest contract that implements it solves (risk-neutral agent)

.. math::
    \min_{t} \; P_k t \quad \text{s.t.}\quad
    P_k t - c_k \ge P_a t - c_a \;\; (a \ne k) \;\; \text{(IC)}, \qquad
    P_k t - c_k \ge R \;\; \text{(IR)}, \qquad t \ge 0 \;\; \text{(limited liability)},

a linear program. All ``batch x actions`` programs are stacked and solved as ONE batch by the
interior-point core :func:`solvers.linprog`; the principal then implements the action with the
largest ``P_k r - min-pay_k - P_k m`` (benefit minus cost, Grossman and Hart 1983, section 2).
An action that no contract implements comes back with ``Result.INFEASIBLE`` (its LP has no
feasible point: some mixture of the other actions produces the same outcome distribution more
cheaply), never as NaN. A risk-averse agent turns each program into a convex one in utility
levels, solved by :func:`mechanisms._risk_averse.min_pay_convex`.

:func:`best_linear_contract` restricts payments to a share ``alpha`` of the principal's reward
(``t = alpha r``); its optimum is a closed form per action (an interval of shares that make the
action a best response and individually rational), so one can measure the price of simplicity
(Dutting, Roughgarden and Talgam-Cohen 2019).

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  P. Dutting, T. Roughgarden, I. Talgam-Cohen, "Simple versus optimal contracts", EC 2019.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result
from ..solvers._linprog import linprog
from ._dual_simplex import dual_simplex
from ._principal_agent import Contract, PrincipalAgent, QuantalResponse

__all__ = ["min_pay_contract", "min_pay_lps", "optimal_contract", "best_linear_contract",
           "contract_certificates"]


def _others(A: int) -> np.ndarray:
    """``[A, A-1]``: for each action the indices of the other actions."""
    return np.array([[a for a in range(A) if a != k] for k in range(A)], dtype=np.int64
                    ).reshape(A, max(A - 1, 0))


def min_pay_lps(outcome_probs, costs, reservation_utility, margin=0.0):
    """The Grossman-Hart min-pay LPs of every action, in :func:`solvers.linprog` form.

    Args:
      outcome_probs: ``[*batch, A, O]``; costs ``[*batch, A]``; reservation_utility ``[*batch]``.
      margin: IC margin ``delta`` (``U_k - U_a >= delta``), scalar or ``[*batch, A]``.

    Returns:
      ``(c [*batch, A, O], A_ub [*batch, A, A, O], b_ub [*batch, A, A])``: for action ``k`` the
      rows are the ``A - 1`` IC constraints then the IR constraint.
    """
    P = outcome_probs
    A = P.shape[-2]
    oth = _others(A)
    Pk = P[..., :, None, :]  # [*, k, 1, O]
    Pa = P[..., oth, :]  # [*, k, A-1, O]
    ck = costs[..., :, None]
    ca = costs[..., oth]
    margin = jnp.broadcast_to(jnp.asarray(margin, P.dtype), costs.shape)[..., :, None]
    G_ic = Pa - Pk
    h_ic = ca - ck - margin
    G_ir = -P[..., :, None, :]
    h_ir = -(reservation_utility[..., None, None] + ck)
    return P, jnp.concatenate([G_ic, G_ir], axis=-2), jnp.concatenate([h_ic, h_ir], axis=-1)


@jax.jit
def _flat_lps(P, costs, R):
    c, G, h = min_pay_lps(P, costs, R)
    A, O = P.shape[-2:]
    return c.reshape(-1, O), G.reshape(-1, A, O), h.reshape(-1, A)


def _lp_bounds(problem: PrincipalAgent):
    return (0.0, None) if problem.limited_liability else (None, None)


def _solve_min_pay(problem: PrincipalAgent, *, tol=None, max_steps=200, method="auto"):
    """Solve every action's min-pay program of a (batched) problem as one batch.

    ``method``: ``"simplex"`` (batched dual simplex, risk-neutral + limited liability only;
    members it cannot certify are re-solved by the interior-point core), ``"ipm"``
    (:func:`solvers.linprog` for all) or ``"auto"`` (simplex where it applies).
    Returns ``(payments [*batch, A, O], min_pay [*batch, A], status [*batch, A], gap)``.
    """
    if method not in ("auto", "simplex", "ipm"):
        raise ValueError(f"method must be 'auto', 'simplex' or 'ipm', got {method!r}")
    if problem.agent_utility is not None:
        from ._risk_averse import min_pay_convex

        return min_pay_convex(problem, tol=tol)
    use_simplex = method == "simplex" or (method == "auto" and problem.limited_liability)
    if use_simplex and not problem.limited_liability:
        raise ValueError("method='simplex' needs limited liability (payments >= 0); use 'ipm'")
    batch, A = problem.batch_shape, problem.num_actions
    c, G, h = _flat_lps(problem.outcome_probs, problem.costs, problem.reservation_utility)
    if use_simplex:
        x, fun, status, gap, *_ = dual_simplex(c, G, h)
        bad = np.flatnonzero(np.asarray((status != Result.CONVERGED)
                                        & (status != Result.INFEASIBLE)))
        if bad.size:  # re-solve what the simplex could not certify with the interior point
            sol = linprog(c[bad], G[bad], h[bad], bounds=_lp_bounds(problem), tol=tol,
                          max_steps=max_steps)
            x, fun = x.at[bad].set(sol.x), fun.at[bad].set(sol.fun)
            status, gap = status.at[bad].set(sol.status), gap.at[bad].set(sol.duality_gap)
    else:
        sol = linprog(c, G, h, bounds=_lp_bounds(problem), tol=tol, max_steps=max_steps)
        x, fun, status, gap = sol.x, sol.fun, sol.status, sol.duality_gap
    rs = lambda v: v.reshape((*batch, A, *v.shape[1:]))  # noqa: E731
    return rs(x), rs(fun), rs(status), rs(gap)


def contract_certificates(problem: PrincipalAgent, payments, action):
    """IC violation ``max_a U_a - U_k`` (clipped at 0) and participation slack ``U_k - R``."""
    u = payments if problem.agent_utility is None else problem.agent_utility.u(payments)
    U = jnp.einsum("...ao,...o->...a", problem.outcome_probs, u) - problem.costs
    Uk = jnp.take_along_axis(U, action[..., None], axis=-1)[..., 0]
    return jnp.maximum(jnp.max(U, axis=-1) - Uk, 0.0), Uk - problem.reservation_utility, U


def _assemble(problem, payments, action, status, cert, stats):
    ic, slack, U = contract_certificates(problem, payments, action)
    pay = jnp.einsum("...o,...o->...", jnp.take_along_axis(
        problem.outcome_probs, action[..., None, None], axis=-2)[..., 0, :], payments)
    take = lambda x: jnp.take_along_axis(x, action[..., None], axis=-1)[..., 0]  # noqa: E731
    pu = take(problem.benefits) - pay - take(problem.expected_monitoring_cost)
    dtype = problem.dtype
    return Contract(
        payments=payments,
        action=action.astype(jnp.int32),
        action_probs=jax.nn.one_hot(action, problem.num_actions, dtype=dtype),
        principal_utility=pu,
        agent_utility=take(U),
        expected_payment=pay,
        ic_violation=ic,
        participation_slack=slack,
        result=status.astype(jnp.int32),
        certificate=cert,
        audit_rate=jnp.ones(problem.batch_shape, dtype),
        base_payment=jnp.zeros(problem.batch_shape, dtype),
        stats=stats,
    )


def _check_problem(problem):
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")


def min_pay_contract(problem: PrincipalAgent, action, *, tol=None, max_steps: int = 200,
                     method: str = "auto") -> Contract:
    """The cheapest contract that makes ``action`` a best response and individually rational.

    Args:
      problem: a (possibly batched) :class:`PrincipalAgent`.
      action: the action to implement (an int, or ``[*batch]`` ints).
      tol, max_steps: passed to the LP core.
      method: ``"auto"`` (batched dual simplex under limited liability, with interior-point
        fallback), ``"simplex"`` or ``"ipm"`` (:func:`solvers.linprog` for every program).

    Returns:
      :class:`Contract`; ``result`` is ``Result.INFEASIBLE`` when no contract implements the
      action (then ``payments`` are not meaningful).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.min_pay_contract(pa, 1)
      >>> [round(float(x), 6) for x in c.payments], round(float(c.expected_payment), 6)
      ([0.0, 2.5], 2.0)
    """
    _check_problem(problem)
    A = problem.num_actions
    act = np.asarray(action)
    if not np.issubdtype(act.dtype, np.integer):
        raise TypeError(f"action must be an int (or an int array), got {action!r}")
    if np.any(act < 0) or np.any(act >= A):
        raise ValueError(f"action must be in [0, {A}), got {action!r}")
    act = jnp.broadcast_to(jnp.asarray(act, jnp.int32), problem.batch_shape)
    x, fun, status, gap = _solve_min_pay(problem, tol=tol, max_steps=max_steps, method=method)
    t = jnp.take_along_axis(x, act[..., None, None], axis=-2)[..., 0, :]
    take = lambda v: jnp.take_along_axis(v, act[..., None], axis=-1)[..., 0]  # noqa: E731
    return _assemble(problem, t, act, take(status), take(gap),
                     {"lp_status": status, "min_pay": fun})


def optimal_contract(problem: PrincipalAgent, agent: QuantalResponse | None = None, *,
                     target_action=None, tol=None, max_steps: int = 200, method: str = "auto",
                     **quantal_options) -> Contract:
    r"""The principal's optimal contract (Grossman-Hart decomposition), batched and certified.

    With a best-responding agent (``agent=None``) every action's min-pay program is solved in
    one batch (LPs for a risk-neutral agent -- a batched dual simplex under limited liability,
    the interior-point core :func:`solvers.linprog` otherwise or as fallback, see ``method`` of
    :func:`min_pay_contract` -- and convex programs in utility levels for a risk-averse one) and the action with the largest ``benefit - min-pay - monitoring`` is implemented;
    ``target_action=k`` implements ``k`` instead (same as :func:`min_pay_contract`).
    ``certificate`` is the duality gap (LP) or KKT residual of the chosen program; ``result``
    is ``CONVERGED`` only when every action's program was solved or proved infeasible.

    With ``agent=QuantalResponse(beta, prior)`` the contract is designed by gradient methods
    against the smooth response (see :func:`mechanisms.quantal_contract`, whose keyword
    options -- ``min_target_prob``, ``audit_cost``, ``outer_steps``... -- pass through).

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.optimal_contract(pa)
      >>> int(c.action), round(float(c.principal_utility), 6), round(float(c.payments[1]), 6)
      (1, 6.0, 2.5)
    """
    _check_problem(problem)
    if agent is not None:
        if not isinstance(agent, QuantalResponse):
            raise TypeError(f"agent must be None (best response) or a QuantalResponse, got "
                            f"{type(agent).__name__}")
        from ._quantal import quantal_contract

        return quantal_contract(problem, agent, target_action=target_action, **quantal_options)
    if quantal_options:
        raise TypeError(f"unexpected options for a best-responding agent: "
                        f"{sorted(quantal_options)}")
    if target_action is not None:
        return min_pay_contract(problem, target_action, tol=tol, max_steps=max_steps,
                                method=method)
    x, fun, status, gap = _solve_min_pay(problem, tol=tol, max_steps=max_steps, method=method)
    return _pick_best(problem, x, fun, status, gap)


@jax.jit
def _pick_best_jit(problem, x, fun, status, gap):
    ok = status == Result.CONVERGED
    value = problem.benefits - fun - problem.expected_monitoring_cost
    value = jnp.where(ok, value, -jnp.inf)
    k = jnp.argmax(value, axis=-1)
    t = jnp.take_along_axis(x, k[..., None, None], axis=-2)[..., 0, :]
    settled = jnp.all(ok | (status == Result.INFEASIBLE), axis=-1)
    code = jnp.where(settled, Result.CONVERGED,
                     jnp.max(jnp.where(ok | (status == Result.INFEASIBLE), 0, status), axis=-1))
    cert = jnp.max(jnp.where(ok, gap, 0.0), axis=-1)
    return t, k, code, cert, value


def _pick_best(problem, x, fun, status, gap):
    t, k, code, cert, value = _pick_best_jit(problem, x, fun, status, gap)
    return _assemble(problem, t, k, code, cert,
                     {"lp_status": status, "min_pay": fun, "action_values": value})


def best_linear_contract(problem: PrincipalAgent) -> Contract:
    r"""The optimal linear contract ``t = alpha r`` (the agent gets a share of output).

    For action ``k`` the shares that make it a best response and individually rational form the
    interval ``alpha (B_k - B_a) >= c_k - c_a`` for all ``a``, ``alpha B_k >= R + c_k``,
    ``alpha >= 0``, with ``B = P r``; the principal takes the smallest such share, earning
    ``(1 - alpha_k) B_k - P_k m``, and implements the best action. Closed form, batched.
    Requires ``rewards >= 0`` under limited liability and a risk-neutral agent.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.best_linear_contract(pa)
      >>> round(float(c.stats["share"]), 6), round(float(c.principal_utility), 6)
      (0.25, 6.0)
    """
    _check_problem(problem)
    if problem.agent_utility is not None:
        raise ValueError("best_linear_contract supports risk-neutral agents only "
                         "(problem.agent_utility must be None)")
    if problem.limited_liability and bool(np.any(np.asarray(problem.rewards) < 0)):
        raise ValueError("best_linear_contract with limited liability needs rewards >= 0 "
                         "(a share of a negative reward is a negative payment)")
    return _best_linear_jit(problem)


@jax.jit
def _best_linear_jit(problem):
    B = problem.benefits  # [*, A]
    c = problem.costs
    dB = B[..., :, None] - B[..., None, :]  # [*, k, a]: B_k - B_a
    dc = c[..., :, None] - c[..., None, :]
    eps = 1e-12 * (1 + jnp.max(jnp.abs(B), axis=-1, keepdims=True))[..., None]
    # alpha dB >= dc: lower bound where dB > 0, upper bound where dB < 0; dB == 0 needs dc <= 0
    lo_ic = jnp.max(jnp.where(dB > eps, dc / jnp.where(dB > eps, dB, 1), -jnp.inf), axis=-1)
    hi_ic = jnp.min(jnp.where(dB < -eps, dc / jnp.where(dB < -eps, dB, 1), jnp.inf), axis=-1)
    flat_ok = jnp.all((jnp.abs(dB) > eps) | (dc <= 1e-12), axis=-1)
    R = problem.reservation_utility[..., None]
    lo_ir = jnp.where(B > eps[..., 0], (R + c) / jnp.where(B > eps[..., 0], B, 1),
                      jnp.where(R + c <= 0, -jnp.inf, jnp.inf))
    lo = jnp.maximum(jnp.maximum(lo_ic, lo_ir), 0.0 if problem.limited_liability else -jnp.inf)
    feasible = flat_ok & (lo <= hi_ic + 1e-12) & jnp.isfinite(lo)
    alpha = jnp.where(feasible, lo, 0.0)
    value = jnp.where(feasible, (1 - alpha) * B - problem.expected_monitoring_cost, -jnp.inf)
    k = jnp.argmax(value, axis=-1)
    share = jnp.take_along_axis(alpha, k[..., None], axis=-1)[..., 0]
    t = share[..., None] * problem.rewards
    any_ok = jnp.any(feasible, axis=-1)
    code = jnp.where(any_ok, Result.CONVERGED, Result.INFEASIBLE)
    out = _assemble(problem, t, k, code, jnp.zeros(problem.batch_shape, problem.dtype),
                    {"share": share, "action_values": value})
    return out

