r"""Optimal contracts for hidden action: the Grossman-Hart decomposition, batched.

For each action ``k`` the cheapest contract that implements it solves (risk-neutral agent)

.. math::
    \min_{t} \; P_k t \quad \text{s.t.}\quad
    P_k t - c_k \ge P_a t - c_a \;\; (a \ne k) \;\; \text{(IC)}, \qquad
    P_k t - c_k \ge R \;\; \text{(IR)}, \qquad t \ge 0 \;\; \text{(limited liability)},

a linear program. All ``batch x actions`` programs are stacked and solved as ONE batch (a
batched dual simplex under limited liability, with the interior-point core
:func:`socialign.solvers.linprog` as a masked fallback; the interior point otherwise); the
principal then implements the action with the largest ``P_k r - min-pay_k - P_k m`` (benefit
minus cost, Grossman and Hart 1983, section 2). An action that no contract implements comes
back with ``Result.INFEASIBLE`` (its LP has no feasible point: some mixture of the other actions
produces the same outcome distribution more cheaply), never as NaN. A risk-averse agent turns
each program into a convex one in utility levels (:mod:`._risk_averse`); a quantal-response
agent is designed against by :func:`mechanisms.quantal_contract`.

Every design here is pure array code with fixed shapes: it runs unchanged inside a user's
``jax.jit`` and under ``jax.vmap`` over any field, and gives the same answer there as eagerly.
The principal's value is differentiable with respect to the problem's numbers (and a utility's
parameters) by the envelope theorem: ``d min-pay_k / d theta`` is the derivative of the
program's Lagrangian at its optimal primal-dual pair, never backpropagation through pivots.

:func:`best_linear_contract` restricts payments to a share ``alpha`` of the principal's reward
(``t = alpha r``); its optimum is a closed form per action (an interval of shares that make the
action a best response and individually rational), so one can measure the price of simplicity
(Dutting, Roughgarden and Talgam-Cohen 2019).

The designers :class:`OptimalContract`, :class:`MinPayContract` and :class:`BestLinearContract`
put these on the one verb :func:`mechanisms.design`.

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  P. Dutting, T. Roughgarden, I. Talgam-Cohen, "Simple versus optimal contracts", EC 2019.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, is_concrete, pivot_tol, pytree_dataclass, static_field
from ._design import Design, Designer
from ._principal_agent import (
    Contract,
    PrincipalAgent,
    QuantalResponse,
    first_stage_settled,
    in_slots,
    min_pay_lps,
    solve_free_lps,
    solve_nonneg_lps,
)
from ._quantal import quantal_contract
from ._risk_averse import _u_inv_per_program, min_pay_convex

__all__ = ["BestLinearContract", "MinPayContract", "OptimalContract", "best_linear_contract",
           "contract_certificates", "min_pay_contract", "optimal_contract"]

_METHODS = ("auto", "simplex", "ipm")


def _check_problem(problem):
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")


def _check_method(problem, method):
    if method not in _METHODS:
        raise ValueError(f"method must be 'auto', 'simplex' or 'ipm', got {method!r}")
    if method == "simplex" and not problem.limited_liability:
        raise ValueError("method='simplex' needs limited liability (payments >= 0); use 'ipm'")


def _solve_min_pay(problem: PrincipalAgent, *, tol, max_steps, method):
    """Every action's min-pay program, one batch. Returns a dict of ``[*batch, A, ...]``:
    ``x`` payments, ``v`` the program's variables (payments or utility levels), ``fun``,
    ``status``, ``gap`` (duality gap or KKT residual) and ``mu`` (row multipliers, ``>= 0``)."""
    if problem.agent_utility is not None:
        t, fun, status, gap, v, mu = min_pay_convex(problem, tol=tol, max_steps=max_steps)
        return dict(x=t, v=v, fun=fun, status=status, gap=gap, mu=mu)
    return _solve_programs(*_program_data(problem), tol, max_steps=max_steps, method=method,
                           limited_liability=problem.limited_liability,
                           batch=problem.batch_shape)


def _program_data(problem: PrincipalAgent):
    """The flat batch ``(c [n, O], G [n, A, O], h [n, A])`` of every action's LP, ``n`` the
    problems times the actions."""
    A, O = problem.num_actions, problem.num_outcomes
    c, G, h = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility)
    n = int(np.prod(problem.batch_shape, dtype=np.int64)) * A
    return c.reshape(n, O), G.reshape(n, A, O), h.reshape(n, A)


def _solve_programs(c, G, h, tol, *, max_steps, method, limited_liability, batch):
    """:func:`_solve_min_pay` on the flat programs of :func:`_program_data`."""
    if limited_liability:
        x, fun, status, gap, mu = solve_nonneg_lps(
            c, G, h, tol=tol, max_steps=max_steps,
            method={"ipm": "interior_point", "first_stage": "dual_simplex"}.get(method, "auto"))
    else:
        x, fun, status, gap, mu = solve_free_lps(c, G, h, lower=None, tol=tol,
                                                 max_steps=max_steps)
    A = G.shape[-2]
    rs = lambda a: a.reshape((*batch, A, *a.shape[1:]))  # noqa: E731
    return dict(x=rs(x), v=rs(x), fun=rs(fun), status=rs(status), gap=rs(gap), mu=rs(mu))


def _min_pay_envelope(problem: PrincipalAgent, v, mu, status):
    """``min-pay [*batch, A]`` at the programs' solutions, with envelope-theorem gradients with
    respect to the problem's numbers and the utility's parameters."""
    ok = (status == Result.CONVERGED)[..., None]
    v = jax.lax.stop_gradient(jnp.where(ok & jnp.isfinite(v), v, 0.0))
    mu = jax.lax.stop_gradient(jnp.where(ok & jnp.isfinite(mu), mu, 0.0))
    c, G, h = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility)
    ut = problem.agent_utility
    if ut is None:
        t = v
    else:
        A = problem.num_actions
        ut_a = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x[..., None], (*x.shape, A)), ut)
        t = _u_inv_per_program(ut_a, v)
    extra = jnp.einsum("...m,...m->...", mu, jnp.einsum("...mo,...o->...m", G, v) - h)
    return jnp.sum(c * t, axis=-1) + extra - jax.lax.stop_gradient(extra)


def contract_certificates(problem: PrincipalAgent, payments, action):
    """Incentive and participation violations of a contract that should implement ``action``.

    Args:
      problem: a :class:`PrincipalAgent` (any batch axes).
      payments: ``[*batch, outcomes]``.
      action: ``[*batch]`` ints.

    Returns:
      ``(incentive_violation [*batch], participation_violation [*batch], U [*batch, A])``:
      ``max_a U_a - U_k`` and ``R - U_k``, both clipped at 0, and every action's utility.

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent`.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> ic, ir, U = mechanisms.contract_certificates(pa, [0., 2.], 1)
      >>> round(float(ic), 6), round(float(ir), 6)
      (0.2, 0.0)
    """
    _check_problem(problem)
    payments = jnp.asarray(payments, problem.dtype)
    action = jnp.asarray(action)
    U = jnp.einsum("...ao,...o->...a", problem.outcome_probs,
                   problem.utility_of(payments)) - problem.costs
    Uk = jnp.take_along_axis(U, action[..., None], axis=-1)[..., 0]
    return (jnp.maximum(jnp.max(U, axis=-1) - Uk, 0.0),
            jnp.maximum(problem.reservation_utility - Uk, 0.0), U)


def _take(x, k):
    return jnp.take_along_axis(x, k[..., None], axis=-1)[..., 0]


def _assemble(problem, payments, action, status, cert, stats, min_pay_value=None):
    payments = jax.lax.stop_gradient(payments)
    ic, ir, U = contract_certificates(problem, payments, action)
    Pk = jnp.take_along_axis(problem.outcome_probs, action[..., None, None], axis=-2)[..., 0, :]
    pay = jnp.einsum("...o,...o->...", Pk, payments)
    paid = pay if min_pay_value is None else min_pay_value
    pv = _take(problem.benefits, action) - paid - _take(problem.expected_monitoring_cost, action)
    dtype = problem.dtype
    return Contract(
        payments=payments,
        action=action.astype(jnp.int32),
        action_probs=jax.nn.one_hot(action, problem.num_actions, dtype=dtype),
        principal_value=pv,
        agent_value=_take(U, action),
        expected_payment=pay,
        incentive_violation=ic,
        participation_violation=ir,
        result=status.astype(jnp.int32),
        certificate=cert,
        audit_rate=jnp.ones(problem.batch_shape, dtype),
        base_payment=jnp.zeros(problem.batch_shape, dtype),
        stats=stats,
    )


@functools.partial(jax.jit, static_argnames=("max_steps", "method"))
def _solve_actions_jit(problem, tol, *, max_steps, method):
    return _solve_min_pay(problem, tol=tol, max_steps=max_steps, method=method)


_program_data_jit = jax.jit(_program_data)
_solve_programs_jit = jax.jit(
    _solve_programs, static_argnames=("max_steps", "method", "limited_liability", "batch"))


def _solve_all_actions(problem, tol, *, max_steps, method):
    """Every action's min-pay program, one compiled program per problem shape: shared by
    :func:`optimal_contract` and :func:`min_pay_contract` (the heavy part, the LP or convex
    solver, compiles once for both; the selections below are small).

    When the dual simplex pivots in slots (programs of at least 800 entries), the LPs' data
    are built by a compiled program of their own and handed to the solver's as arrays: built
    inside it, XLA fused the (cheap) construction into each of the data's consumers and wrote
    the 8 A^2 O bytes per problem four times (measured on 200 problems of 40 x 80: 4.3 ->
    2.8-3.2 ms per problem). In chunks it fuses into each chunk's slice, so small programs
    keep one program (10 x 20: 0.077 against 0.081-0.089 ms per problem split). Inside a
    caller's ``jit`` it is one program either way, with the same answer.
    """
    n = int(np.prod(problem.batch_shape, dtype=np.int64)) * problem.num_actions
    if (problem.agent_utility is not None or not problem.limited_liability
            or not in_slots(n, problem.num_actions, problem.num_outcomes)):
        # in chunks (or convex) the construction fuses into each chunk's slice: one program
        return _solve_actions_jit(problem, tol, max_steps=max_steps, method=method)
    return _solve_programs_jit(*_program_data_jit(problem), tol, max_steps=max_steps,
                               method=method, limited_liability=problem.limited_liability,
                               batch=problem.batch_shape)


def _solve_staged(problem, tol, *, max_steps, method):
    """:func:`_solve_all_actions`, in two stages when called eagerly.

    ``stop_gradient`` outside the compiled solve: under ``jax.grad`` its inputs carry zero
    tangents, so the eager gradient reuses the same compiled program. Eagerly (no tracer left)
    with limited liability and a risk-neutral agent, the batched dual simplex is compiled and run
    alone first; the program with the interior-point fallback (most of the compile time) only
    when some program is left unsettled. Inside a user's ``jit`` the one program does both,
    selected by masks: the same answer.
    """
    problem = jax.lax.stop_gradient(problem)
    if (method != "ipm" and problem.limited_liability and problem.agent_utility is None
            and is_concrete((problem, tol))):
        s = _solve_all_actions(problem, tol, max_steps=max_steps, method="first_stage")
        if first_stage_settled(s["status"]):
            return s
    return _solve_all_actions(problem, tol, max_steps=max_steps, method=method)


def _min_pay_core(problem, action, tol, *, max_steps, method):
    s = _solve_staged(problem, tol, max_steps=max_steps, method=method)
    return _min_pay_select(problem, action, s)


@jax.jit
def _min_pay_select(problem, action, s):
    t = jnp.take_along_axis(s["x"], action[..., None, None], axis=-2)[..., 0, :]
    env = _min_pay_envelope(problem, s["v"], s["mu"], s["status"])
    return _assemble(problem, t, action, _take(s["status"], action), _take(s["gap"], action),
                     {"lp_status": s["status"], "min_pay": s["fun"]},
                     min_pay_value=_take(env, action))


def _check_action(problem, action):
    A = problem.num_actions
    if isinstance(action, bool):
        raise TypeError(f"action must be an int (or an int array), got {action!r}")
    if is_concrete(action):
        act = np.asarray(action)
        if not np.issubdtype(act.dtype, np.integer):
            raise TypeError(f"action must be an int (or an int array), got {action!r}")
        if np.any(act < 0) or np.any(act >= A):
            raise ValueError(f"action must be in [0, {A}), got {action!r}")
    elif not jnp.issubdtype(jnp.asarray(action).dtype, jnp.integer):
        raise TypeError("action must be an integer array")
    act = jnp.asarray(action, jnp.int32)
    try:
        return jnp.broadcast_to(act, problem.batch_shape)
    except ValueError:
        raise ValueError(f"action must be a scalar or have the batch shape "
                         f"{problem.batch_shape}; got shape {tuple(act.shape)}") from None


def min_pay_contract(problem: PrincipalAgent, action, *, tol=None, max_steps: int = 200,
                     method: str = "auto") -> Contract:
    """The cheapest contract that makes ``action`` a best response and individually rational.

    Args:
      problem: a (possibly batched) :class:`PrincipalAgent`.
      action: the action to implement (an int, or ``[*batch]`` ints; may be traced).
      tol: tolerance of the LP core (default from the dtype) or KKT tolerance of the convex
        program (risk-averse agent).
      max_steps: iteration budget of the interior-point methods (static).
      method: ``"auto"`` (batched dual simplex under limited liability, with interior-point
        fallback), ``"simplex"`` (the same; refused without limited liability) or ``"ipm"``
        (:func:`socialign.solvers.linprog` for every program).

    Returns:
      :class:`Contract`; ``result`` is ``Result.INFEASIBLE`` when no contract implements the
      action (then ``payments`` are not meaningful). ``principal_value`` is differentiable
      (envelope theorem).

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent` or ``action`` not integral.
      ValueError: if ``action`` is out of range or ``method`` unknown.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.min_pay_contract(pa, 1)
      >>> [round(float(x), 6) for x in c.payments], round(float(c.expected_payment), 6)
      ([0.0, 2.5], 2.0)
    """
    _check_problem(problem)
    _check_method(problem, method)
    act = _check_action(problem, action)
    tol = _lp_tol_value(problem, tol)
    return _min_pay_core(problem, act, tol, max_steps=int(max_steps), method=method)


def _lp_tol_value(problem, tol):
    if tol is None:
        if problem.agent_utility is not None:
            return jnp.asarray(1e-10 if problem.dtype == jnp.float64 else 1e-5, problem.dtype)
        return jnp.asarray(1e-9 if problem.dtype == jnp.float64 else 1e-6, problem.dtype)
    return jnp.asarray(tol, problem.dtype)


def _optimal_core(problem, tol, *, max_steps, method):
    s = _solve_staged(problem, tol, max_steps=max_steps, method=method)
    return _optimal_select(problem, s)


@jax.jit
def _optimal_select(problem, s):
    x, fun, status, gap = s["x"], s["fun"], s["status"], s["gap"]
    ok = status == Result.CONVERGED
    value = problem.benefits - fun - problem.expected_monitoring_cost
    value = jnp.where(ok, value, -jnp.inf)
    k = jnp.argmax(value, axis=-1)
    t = jnp.take_along_axis(x, k[..., None, None], axis=-2)[..., 0, :]
    settled = ok | (status == Result.INFEASIBLE)
    code = jnp.where(jnp.all(settled, axis=-1), Result.CONVERGED,
                     jnp.max(jnp.where(settled, 0, status), axis=-1))
    code = jnp.where(jnp.any(ok, axis=-1) | ~jnp.all(settled, axis=-1), code, Result.INFEASIBLE)
    cert = jnp.max(jnp.where(ok, gap, 0.0), axis=-1)
    env = _min_pay_envelope(problem, s["v"], s["mu"], status)
    return _assemble(problem, t, k, code, cert,
                     {"lp_status": status, "min_pay": fun, "action_values": value},
                     min_pay_value=_take(env, k))


def optimal_contract(problem: PrincipalAgent, agent: QuantalResponse | None = None, *,
                     target_action=None, tol=None, max_steps: int = 200, method: str = "auto",
                     **quantal_options) -> Contract:
    r"""The principal's optimal contract (Grossman-Hart decomposition), batched and certified.

    With a best-responding agent (``agent=None``) every action's min-pay program is solved in
    one batch (LPs for a risk-neutral agent -- a batched dual simplex under limited liability
    with the interior-point core :func:`socialign.solvers.linprog` as fallback, or the interior
    point alone, see ``method`` of :func:`min_pay_contract` -- and convex programs in utility
    levels for a risk-averse one) and the action with the largest
    ``benefit - min-pay - monitoring`` is implemented; ``target_action=k`` implements ``k``
    instead (same as :func:`min_pay_contract`). ``certificate`` is the duality gap (LP) or KKT
    residual of the chosen program; ``result`` is ``CONVERGED`` only when every action's
    program was solved or proved infeasible.

    With ``agent=QuantalResponse(temperature, prior)`` the contract is designed by an
    augmented-Lagrangian method against the smooth response (see
    :func:`mechanisms.quantal_contract`, whose keyword options -- ``min_target_prob``,
    ``audit_cost``, ``outer_steps``... -- pass through; ``tol`` is its KKT tolerance).

    Runs unchanged inside ``jax.jit`` and under ``jax.vmap``; ``principal_value`` is
    differentiable with respect to the problem's numbers and the agent's parameters (envelope
    theorem).

    Args:
      problem: a (possibly batched) :class:`PrincipalAgent`.
      agent: ``None`` (best response) or a :class:`QuantalResponse`.
      target_action: ``None`` (the best action) or the action to implement.
      tol: certificate tolerance (default from the dtype).
      max_steps: interior-point iteration budget (static).
      method: ``"auto"``, ``"simplex"`` or ``"ipm"`` (see :func:`min_pay_contract`).
      **quantal_options: passed to :func:`mechanisms.quantal_contract` for a quantal agent.

    Returns:
      A :class:`Contract` with the problem's batch axes.

    Raises:
      TypeError: on a problem that is not a :class:`PrincipalAgent`, an unknown agent, or
        quantal options for a best-responding agent.
      ValueError: on an unknown ``method`` or an out-of-range ``target_action``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.optimal_contract(pa)
      >>> int(c.action), round(float(c.principal_value), 6), round(float(c.payments[1]), 6)
      (1, 6.0, 2.5)
    """
    _check_problem(problem)
    if agent is not None:
        if not isinstance(agent, QuantalResponse):
            raise TypeError(f"agent must be None (best response) or a QuantalResponse, got "
                            f"{type(agent).__name__}")
        if tol is not None:
            quantal_options.setdefault("tol", tol)
        return quantal_contract(problem, agent, target_action=target_action, **quantal_options)
    if quantal_options:
        raise TypeError(f"unexpected options for a best-responding agent: "
                        f"{sorted(quantal_options)}")
    if target_action is not None:
        return min_pay_contract(problem, target_action, tol=tol, max_steps=max_steps,
                                method=method)
    _check_method(problem, method)
    return _optimal_core(problem, _lp_tol_value(problem, tol), max_steps=int(max_steps),
                         method=method)


def best_linear_contract(problem: PrincipalAgent) -> Contract:
    r"""The optimal linear contract ``t = alpha r`` (the agent gets a share of output).

    For action ``k`` the shares that make it a best response and individually rational form the
    interval ``alpha (B_k - B_a) >= c_k - c_a`` for all ``a``, ``alpha B_k >= R + c_k``,
    ``alpha >= 0``, with ``B = P r``; the principal takes the smallest such share, earning
    ``(1 - alpha_k) B_k - P_k m``, and implements the best action. Closed form, batched,
    jittable; the comparisons use tolerances relative to the payoff scale. Requires
    ``rewards >= 0`` under limited liability (checked on concrete input; a traced problem that
    breaks it gets ``Result.FAILED``) and a risk-neutral agent.

    Args:
      problem: a (possibly batched) risk-neutral :class:`PrincipalAgent`.

    Returns:
      :class:`Contract` with ``stats["share"]`` the share ``alpha`` and
      ``stats["action_values"]`` the principal's value of each action (``-inf`` where no share
      implements it); ``result`` is ``INFEASIBLE`` if no action can be implemented.

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent`.
      ValueError: for a risk-averse agent, or negative rewards under limited liability.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.best_linear_contract(pa)
      >>> round(float(c.stats["share"]), 6), round(float(c.principal_value), 6)
      (0.25, 6.0)
    """
    _check_problem(problem)
    if problem.agent_utility is not None:
        raise ValueError("best_linear_contract supports risk-neutral agents only "
                         "(problem.agent_utility must be None)")
    if (problem.limited_liability and is_concrete(problem.rewards)
            and bool(np.any(np.asarray(problem.rewards) < 0))):
        raise ValueError("best_linear_contract with limited liability needs rewards >= 0 "
                         "(a share of a negative reward is a negative payment)")
    return _best_linear_core(problem)


@jax.jit
def _best_linear_core(problem):
    B = problem.benefits  # [*, A]
    c = problem.costs
    dtype = problem.dtype
    dB = B[..., :, None] - B[..., None, :]  # [*, k, a]: B_k - B_a
    dc = c[..., :, None] - c[..., None, :]
    R = problem.reservation_utility[..., None]
    scale_b = 1 + jnp.max(jnp.abs(B), axis=-1, keepdims=True)
    scale_c = 1 + jnp.max(jnp.abs(c), axis=-1, keepdims=True) + jnp.abs(R)
    eps = pivot_tol(dtype) * scale_b[..., None]
    eps_c = pivot_tol(dtype) * scale_c[..., None]
    # alpha dB >= dc: lower bound where dB > 0, upper bound where dB < 0; dB == 0 needs dc <= 0
    lo_ic = jnp.max(jnp.where(dB > eps, dc / jnp.where(dB > eps, dB, 1), -jnp.inf), axis=-1)
    hi_ic = jnp.min(jnp.where(dB < -eps, dc / jnp.where(dB < -eps, dB, 1), jnp.inf), axis=-1)
    flat_ok = jnp.all((jnp.abs(dB) > eps) | (dc <= eps_c), axis=-1)
    lo_ir = jnp.where(B > eps[..., 0], (R + c) / jnp.where(B > eps[..., 0], B, 1),
                      jnp.where(R + c <= 0, -jnp.inf, jnp.inf))
    lo = jnp.maximum(jnp.maximum(lo_ic, lo_ir), 0.0 if problem.limited_liability else -jnp.inf)
    feasible = flat_ok & (lo <= hi_ic + pivot_tol(dtype)) & jnp.isfinite(lo)
    alpha = jnp.where(feasible, lo, 0.0)
    value = jnp.where(feasible, (1 - alpha) * B - problem.expected_monitoring_cost, -jnp.inf)
    k = jnp.argmax(value, axis=-1)
    share = _take(alpha, k)
    t = share[..., None] * problem.rewards
    code = jnp.where(jnp.any(feasible, axis=-1), Result.CONVERGED, Result.INFEASIBLE)
    if problem.limited_liability:
        code = jnp.where(jnp.any(problem.rewards < 0, axis=-1), Result.FAILED, code)
    # t is differentiable here (a closed form), so the value's gradient is exact
    pay = jnp.einsum("...o,...o->...", _take_row(problem.outcome_probs, k), t)
    out = _assemble(problem, t, k, code, jnp.zeros(problem.batch_shape, dtype),
                    {"share": share, "action_values": value})
    pv = _take(problem.benefits, k) - pay - _take(problem.expected_monitoring_cost, k)
    return _replace(out, principal_value=pv)


def _take_row(P, k):
    return jnp.take_along_axis(P, k[..., None, None], axis=-2)[..., 0, :]


def _replace(obj, **kw):
    return dataclasses.replace(obj, **kw)


# --------------------------------------------------------------------------------------------
# Designers: the one verb
# --------------------------------------------------------------------------------------------
def _as_design(c: Contract) -> Design:
    return Design(mechanism=c, principal_value=c.principal_value, agent_values=c.agent_value,
                  incentive_violation=c.incentive_violation,
                  participation_violation=c.participation_violation,
                  certificate=c.certificate, result=c.result, stats=c.stats)


@pytree_dataclass
class OptimalContract(Designer):
    """Designer of the principal's optimal contract (:func:`optimal_contract`).

    Attributes:
      agent: ``None`` (a best-responding agent, risk neutral or averse per the problem) or a
        :class:`QuantalResponse` (its temperature and prior are leaves).
      method: static; ``"auto"``, ``"simplex"`` or ``"ipm"`` for the LP core.
      quantal_options: static; :func:`mechanisms.quantal_contract` options for a quantal agent
        (``target_action``, ``min_target_prob``, ``audit_cost``, ...), a dict (stored as a
        sorted tuple of pairs so the designer stays hashable).

    ``design(problem, tol=, max_steps=)`` returns a :class:`Design` whose ``mechanism`` is the
    :class:`Contract`. For a quantal agent ``max_steps`` is the augmented-Lagrangian budget.

    Raises:
      TypeError: if ``agent`` is neither ``None`` nor a :class:`QuantalResponse`; from
        :func:`mechanisms.design` if the problem is not a :class:`PrincipalAgent`.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
      >>> d = mechanisms.design(pa, mechanisms.OptimalContract())
      >>> round(float(d.principal_value), 6), [round(float(t), 6) for t in d.mechanism.payments]
      (6.0, [0.0, 2.5])
    """

    agent: Any = None
    method: str = static_field(default="auto")
    quantal_options: Any = static_field(default=())
    problem_types = (PrincipalAgent,)

    def __post_init__(self):
        if self.agent is not None and not isinstance(self.agent, QuantalResponse):
            raise TypeError(f"agent must be None (best response) or a QuantalResponse, got "
                            f"{type(self.agent).__name__}")
        # static, so hashable: a dict becomes a sorted tuple of (name, value) pairs
        opts = self.quantal_options
        items = tuple(sorted(dict(opts).items())) if opts else ()
        object.__setattr__(self, "quantal_options", items)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The optimal contract as a :class:`Design`."""
        opts = dict(self.quantal_options)
        if self.agent is not None:
            opts.setdefault("outer_steps", int(max_steps))
            return _as_design(optimal_contract(problem, self.agent, tol=tol, **opts))
        return _as_design(optimal_contract(problem, tol=tol, max_steps=max_steps,
                                           method=self.method, **opts))


@pytree_dataclass
class MinPayContract(Designer):
    """Designer of the cheapest contract implementing ``action`` (:func:`min_pay_contract`).

    Attributes:
      action: the action to implement (an int or ``[*batch]`` ints; a leaf).
      method: static; ``"auto"``, ``"simplex"`` or ``"ipm"``.

    Raises:
      TypeError: from :func:`mechanisms.design` if the problem is not a
        :class:`PrincipalAgent`.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
      >>> d = mechanisms.design(pa, mechanisms.MinPayContract(0))
      >>> round(float(d.principal_value), 6)
      4.0
    """

    action: Any = 0
    method: str = static_field(default="auto")
    problem_types = (PrincipalAgent,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The min-pay contract as a :class:`Design`."""
        return _as_design(min_pay_contract(problem, self.action, tol=tol, max_steps=max_steps,
                                           method=self.method))


@pytree_dataclass
class BestLinearContract(Designer):
    """Designer of the optimal linear contract ``t = alpha r`` (:func:`best_linear_contract`).

    Raises:
      TypeError: from :func:`mechanisms.design` if the problem is not a
        :class:`PrincipalAgent`.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
      >>> d = mechanisms.design(pa, mechanisms.BestLinearContract())
      >>> round(float(d.mechanism.stats["share"]), 6)
      0.25
    """

    problem_types = (PrincipalAgent,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The best linear contract as a :class:`Design` (a closed form: ``tol`` unused)."""
        return _as_design(best_linear_contract(problem))
