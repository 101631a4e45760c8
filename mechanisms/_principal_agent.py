r"""The principal-agent (moral hazard) model, the agent models and the :class:`Contract` result.

A principal hires an agent who privately chooses an action ``a`` at cost ``c_a``; the action
draws an observable outcome ``o`` with probability ``P[a, o]``, worth ``r_o`` to the principal.
A contract pays ``t_o`` on outcome ``o``. The agent's expected utility of action ``a`` is

.. math::
    U_a(t) = \sum_o P_{ao}\, u(t_o) - c_a

(``u`` the identity for a risk-neutral agent, or an :class:`AgentUtility` value such as
:class:`Sqrt`, :class:`Log` or :class:`CARA` for a risk-averse one) and the principal's, when the agent plays ``a``,

.. math::
    V_a(t) = \sum_o P_{ao}\, (r_o - t_o - m_o)

with ``m_o`` the principal's monitoring cost of outcome ``o`` (the cost of the audit or signal
that produces it; zero by default). A best-responding agent picks ``argmax_a U_a`` (ties broken
in the principal's favour, the usual convention of Grossman and Hart 1983); a
:class:`QuantalResponse` agent with ``temperature`` and reference shares ``prior`` picks
``a`` with probability ``prior_a exp(U_a / temperature) / Z`` -- exactly the optimum of a learner that
maximises expected utility minus ``temperature KL(pi || prior)``.

Everything here is a :func:`socialign.kernel.pytree_dataclass`: problems, agents, utilities
and contracts are pytrees whose numbers are leaves (so a user can ``jax.jit``, ``jax.vmap`` and
``jax.grad`` over them); only ``limited_liability`` (it selects the LP's form) is static. This
module also holds what the designers share: the Grossman-Hart min-pay LPs
(:func:`min_pay_lps`) and the LP calls that solve them.

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  R. D. McKelvey and T. R. Palfrey, "Quantal response equilibria for normal form games", GEB 1995.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import solvers
from ..kernel import (
    Result,
    as_float_array,
    check_finite,
    check_simplex,
    gather,
    is_concrete,
    pytree_dataclass,
    static_field,
)

__all__ = ["AgentUtility", "CARA", "Contract", "Log", "PrincipalAgent", "QuantalResponse",
           "Sqrt", "min_pay_lps"]


# --------------------------------------------------------------------------------------------
# Agent's utility of money: values, not lambdas
# --------------------------------------------------------------------------------------------
class AgentUtility(abc.ABC):
    """Base of an agent's increasing concave utility of money ``u`` with its inverse.

    A utility is a value: a :func:`socialign.kernel.pytree_dataclass` whose numeric parameters
    are leaves (``CARA(r)``: ``r`` can be traced, ``vmap``-ed and differentiated, and a new value
    does not recompile). Use :class:`Sqrt`, :class:`Log`, :class:`CARA`, or supply any other
    increasing concave ``u`` by subclassing::

        @pytree_dataclass
        class Power(mechanisms.AgentUtility):        # u(t) = t ** k, 0 < k < 1
            k: float = 0.5
            payment_floor = 0.0                        # class attributes, not fields
            def u(self, t): return t ** self.k
            def u_inv(self, v): return v ** (1 / self.k)

    Risk-averse agents turn the Grossman-Hart min-pay problem into a convex program in utility
    levels ``v_o = u(t_o)``: the payment ``u_inv(v)`` is convex in ``v``.

    Class attributes (static: they fix the program's form):
      payment_floor: the smallest payment ``u`` is defined for (``0`` for ``sqrt`` and ``log``,
        ``-inf`` for CARA).
      finite_at_floor: whether ``u(payment_floor)`` is finite (``False`` for ``log``).
      bounded_above: whether ``sup u < inf``; then :meth:`sup` gives it (``1/r`` for CARA).

    Raises:
      ValueError: from :meth:`validate`, when ``u`` is not increasing and concave or ``u_inv``
        does not invert it.

    Example:
      >>> from socialign import mechanisms
      >>> u = mechanisms.Sqrt()
      >>> float(u.u(4.0)), float(u.u_inv(2.0))
      (2.0, 4.0)
    """

    payment_floor: ClassVar[float] = -math.inf
    finite_at_floor: ClassVar[bool] = True
    bounded_above: ClassVar[bool] = False

    @abc.abstractmethod
    def u(self, t):
        """Utility of a payment ``t`` (elementwise, JAX)."""

    @abc.abstractmethod
    def u_inv(self, v):
        """The payment that gives utility level ``v`` (elementwise, JAX)."""

    def sup(self):
        """``sup_t u(t)`` (only called when ``bounded_above``)."""
        return jnp.inf

    def level_bounds(self, limited_liability: bool, dtype):
        """``(lo, hi)``: the range of utility levels a contract may use (``+-inf`` if none).

        The lower end is ``u`` of the smallest allowed payment (``max(payment_floor, 0)`` under
        limited liability); the upper end is :meth:`sup` when ``bounded_above``. Whether each
        end is finite is static (:meth:`has_level_bounds`).
        """
        has_lo, has_hi = self.has_level_bounds(limited_liability)
        floor = max(self.payment_floor, 0.0) if limited_liability else self.payment_floor
        lo = self.u(jnp.asarray(floor, dtype)) if has_lo else jnp.asarray(-jnp.inf, dtype)
        hi = jnp.asarray(self.sup(), dtype) if has_hi else jnp.asarray(jnp.inf, dtype)
        return jnp.asarray(lo, dtype), hi

    def has_level_bounds(self, limited_liability: bool) -> tuple[bool, bool]:
        """Static ``(finite lower level bound, finite upper level bound)``."""
        floor = max(self.payment_floor, 0.0) if limited_liability else self.payment_floor
        has_lo = math.isfinite(floor) and (floor > self.payment_floor or self.finite_at_floor)
        return has_lo, bool(self.bounded_above)

    def validate(self, scale: float = 1.0) -> None:
        """Check numerically (on concrete parameters) that ``u`` is increasing and concave and
        that ``u_inv`` inverts it.

        Raises:
          ValueError: naming the property that fails.
        """
        if not is_concrete(self):
            return
        name = type(self).__name__
        lo = 0.0 if math.isfinite(self.payment_floor) else -scale
        t = np.linspace(lo, lo + 2 * scale, 41)[1:]
        with jax.ensure_compile_time_eval():
            v = np.asarray(self.u(jnp.asarray(t, jnp.result_type(float))), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"agent_utility ({name}): u is not finite on payments in "
                             f"[{t[0]:.3g}, {t[-1]:.3g}]")
        dv = np.diff(v)
        if np.any(dv <= 0):
            j = int(np.argmax(dv <= 0))
            raise ValueError(f"agent_utility ({name}) must be increasing; u decreases between "
                             f"payments {t[j]:.3g} and {t[j + 1]:.3g}")
        if np.any(np.diff(dv) > 1e-4 * np.max(np.abs(dv))):
            raise ValueError(f"agent_utility ({name}) must be concave (risk-averse); its "
                             "increments grow somewhere")
        with jax.ensure_compile_time_eval():
            back = np.asarray(self.u_inv(jnp.asarray(v)), dtype=np.float64)
        if np.max(np.abs(back - t)) > 1e-4 * (1 + np.max(np.abs(t))):
            raise ValueError(f"agent_utility ({name}): u_inv is not the inverse of u")


@pytree_dataclass
class Sqrt(AgentUtility):
    """``u(t) = sqrt(t)`` on payments ``t >= 0`` (levels ``v >= 0``, ``u_inv(v) = v^2``).

    Example:
      >>> from socialign import mechanisms
      >>> float(mechanisms.Sqrt().u_inv(3.0))
      9.0
    """

    payment_floor: ClassVar[float] = 0.0

    def u(self, t):
        """``sqrt(t)``."""
        return jnp.sqrt(t)

    def u_inv(self, v):
        """``v ** 2``."""
        return jnp.square(v)


@pytree_dataclass
class Log(AgentUtility):
    """``u(t) = log(t)`` on payments ``t > 0`` (``u_inv(v) = exp(v)``; levels unbounded).

    Example:
      >>> from socialign import mechanisms
      >>> round(float(mechanisms.Log().u(1.0)), 6)
      0.0
    """

    payment_floor: ClassVar[float] = 0.0
    finite_at_floor: ClassVar[bool] = False

    def u(self, t):
        """``log(t)``."""
        return jnp.log(t)

    def u_inv(self, v):
        """``exp(v)``."""
        return jnp.exp(v)


@pytree_dataclass(init=False)
class CARA(AgentUtility):
    """Constant absolute risk aversion ``u(t) = (1 - exp(-r t)) / r`` (levels below ``1/r``).

    Attributes:
      r: the coefficient of absolute risk aversion ``> 0`` (a leaf: differentiable and
        ``vmap``-able; a scalar, or the problem's batch shape once inside a
        :class:`PrincipalAgent`).

    Raises:
      ValueError: if a concrete ``r`` is not finite and ``> 0``.
      TypeError: if ``r`` is not a number.

    Example:
      >>> from socialign import mechanisms
      >>> u = mechanisms.CARA(2.0)
      >>> round(float(u.u_inv(u.u(1.5))), 6), float(u.sup())
      (1.5, 0.5)
    """

    r: jax.Array
    bounded_above: ClassVar[bool] = True

    def __init__(self, r):
        r = as_float_array(r, "r")
        if is_concrete(r):
            a = np.asarray(r)
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise ValueError(f"r (risk aversion) must be a finite number > 0, got {a!r}")
        object.__setattr__(self, "r", r)

    def u(self, t):
        """``-expm1(-r t) / r``."""
        return -jnp.expm1(-self.r * t) / self.r

    def u_inv(self, v):
        """``-log1p(-r v) / r``."""
        return -jnp.log1p(-self.r * v) / self.r

    def sup(self):
        """``1 / r``."""
        return 1.0 / self.r


# --------------------------------------------------------------------------------------------
# The problem
# --------------------------------------------------------------------------------------------
@pytree_dataclass(init=False)
class PrincipalAgent:
    """A discrete moral-hazard problem (or a batch of them: leading axes are batch axes).

    A registered pytree: every number is a leaf (``jax.jit``, ``jax.vmap`` over any field and
    ``jax.grad`` work on it); ``limited_liability`` is static.

    Attributes:
      outcome_probs: ``P [*batch, actions, outcomes]``, each row a distribution.
      costs: ``c [*batch, actions]``, the agent's cost of each action (payoff units).
      rewards: ``r [*batch, outcomes]``, the principal's gross value of each outcome.
      reservation_utility: ``R [*batch]``, the agent's outside option (participation needs
        ``U_a >= R``).
      monitoring_cost: ``m [*batch, outcomes]``, the principal's cost of observing outcome ``o``
        when it occurs (for instance the cost of the audit that produces that signal; an audit
        run with probability ``q`` at cost ``k`` per audit on the outcomes that trigger it gives
        ``m_o = q k``). Zero by default. For an audit *rate* chosen by the designer see
        ``audit_cost`` in :func:`mechanisms.quantal_contract`.
      agent_utility: ``None`` for a risk-neutral agent or an :class:`AgentUtility` value
        (:class:`Sqrt`, :class:`Log`, :class:`CARA`, ...); its parameters are broadcast to
        ``[*batch]``.
      limited_liability: static; payments must be ``>= 0`` (``>= payment_floor`` of a
        risk-averse utility) when True.

    Raises:
      ValueError: on shapes that do not match, rows of ``outcome_probs`` that are not
        distributions, non-finite numbers or a negative ``monitoring_cost``.
      TypeError: on non-numeric input, a non-bool ``limited_liability`` or an
        ``agent_utility`` that is not an :class:`AgentUtility`.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> pa.num_actions, pa.num_outcomes
      (2, 2)
    """

    outcome_probs: jax.Array
    costs: jax.Array
    rewards: jax.Array
    reservation_utility: jax.Array
    monitoring_cost: jax.Array
    agent_utility: Any
    limited_liability: bool = static_field(default=True)

    def __init__(self, outcome_probs, costs, rewards, reservation_utility=0.0,
                 limited_liability: bool = True, agent_utility: AgentUtility | None = None,
                 monitoring_cost=None):
        P = as_float_array(outcome_probs, "outcome_probs")
        if P.ndim < 2:
            raise ValueError(f"outcome_probs must have shape [*batch, actions, outcomes]; got "
                             f"{tuple(P.shape)}")
        batch, (A, O) = tuple(P.shape[:-2]), P.shape[-2:]
        if A == 0 or O == 0:
            raise ValueError(f"outcome_probs needs at least one action and one outcome; got "
                             f"shape {tuple(P.shape)}")
        c = as_float_array(costs, "costs")
        r = as_float_array(rewards, "rewards")
        R = as_float_array(reservation_utility, "reservation_utility")
        m = jnp.zeros((*batch, O), P.dtype) if monitoring_cost is None else as_float_array(
            monitoring_cost, "monitoring_cost")
        dtype = jnp.result_type(P, c, r, R, m)
        for name, arr, want in (("costs", c, (*batch, A)), ("rewards", r, (*batch, O)),
                                ("monitoring_cost", m, (*batch, O))):
            if tuple(arr.shape) != want and tuple(arr.shape) != want[-1:]:
                raise ValueError(f"{name} must have shape {want} to match outcome_probs "
                                 f"{tuple(P.shape)}; got {tuple(arr.shape)}")
        if tuple(R.shape) not in ((), batch):
            raise ValueError(f"reservation_utility must be a scalar or have shape {batch}; got "
                             f"{tuple(R.shape)}")
        check_simplex(P, "outcome_probs", atol=1e-5 if P.dtype == jnp.float32 else 1e-8)
        for name, arr in (("costs", c), ("rewards", r), ("reservation_utility", R),
                          ("monitoring_cost", m)):
            check_finite(arr, name)
        if is_concrete(m) and bool(np.any(np.asarray(m) < 0)):
            raise ValueError("monitoring_cost must be non-negative")
        if not isinstance(limited_liability, bool | np.bool_):
            raise TypeError(f"limited_liability must be a bool, got {type(limited_liability)}")
        if agent_utility is not None:
            if not isinstance(agent_utility, AgentUtility):
                raise TypeError("agent_utility must be None (risk-neutral) or an AgentUtility "
                                f"value (Sqrt(), Log(), CARA(r), ...), got "
                                f"{type(agent_utility).__name__}")
            agent_utility.validate()
            agent_utility = jax.tree_util.tree_map(
                lambda x: jnp.broadcast_to(jnp.asarray(x, dtype), batch), agent_utility)
        bc = lambda x, s: jnp.broadcast_to(x.astype(dtype), s)  # noqa: E731
        object.__setattr__(self, "outcome_probs", P.astype(dtype))
        object.__setattr__(self, "costs", bc(c, (*batch, A)))
        object.__setattr__(self, "rewards", bc(r, (*batch, O)))
        object.__setattr__(self, "reservation_utility", bc(R, batch))
        object.__setattr__(self, "monitoring_cost", bc(m, (*batch, O)))
        object.__setattr__(self, "agent_utility", agent_utility)
        object.__setattr__(self, "limited_liability", bool(limited_liability))

    @property
    def num_actions(self) -> int:
        """The number of actions ``A`` (static)."""
        return self.outcome_probs.shape[-2]

    @property
    def num_outcomes(self) -> int:
        """The number of outcomes ``O`` (static)."""
        return self.outcome_probs.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.outcome_probs.shape[:-2])

    @property
    def dtype(self):
        """The floating dtype of every field."""
        return self.outcome_probs.dtype

    @property
    def benefits(self) -> jax.Array:
        """Principal's expected gross value of each action, ``P r  [*batch, actions]``."""
        return jnp.einsum("...ao,...o->...a", self.outcome_probs, self.rewards)

    @property
    def expected_monitoring_cost(self) -> jax.Array:
        """Expected monitoring cost of each action, ``P m  [*batch, actions]``."""
        return jnp.einsum("...ao,...o->...a", self.outcome_probs, self.monitoring_cost)

    def utility_of(self, payments):
        """The agent's utility of payments: ``u(t)`` (``t`` itself when risk neutral)."""
        return payments if self.agent_utility is None else self.agent_utility.u(payments)

    def __getitem__(self, index) -> PrincipalAgent:
        """Index the batch axes (every leaf is indexed alike).

        Raises:
          IndexError: if the problem is not batched.
        """
        if not self.batch_shape:
            raise IndexError("this problem is not batched; there is nothing to index")
        return jax.tree_util.tree_map(lambda x: x[index], self)


# --------------------------------------------------------------------------------------------
# Agent behaviour models
# --------------------------------------------------------------------------------------------
@pytree_dataclass(init=False)
class QuantalResponse:
    """A quantal-response (KL-regularised) agent.

    It plays action ``a`` with probability ``prior[a] * exp(U_a / temperature) / Z``, the
    maximiser of ``E_pi[U] - temperature KL(pi || prior)``: a policy fine-tuned with KL penalty
    ``temperature`` towards a reference policy whose action shares are ``prior``.
    ``temperature -> 0`` recovers a best response (restricted to the support of ``prior``).

    Attributes:
      temperature: ``[*batch]`` (or a scalar shared by the batch), ``> 0``, in payoff units; a
        leaf: differentiable, ``vmap``-able, a new value does not recompile.
      prior: reference shares ``[*batch, actions]`` (or ``[actions]``), or ``None`` for uniform.

    Raises:
      ValueError: if a concrete temperature is not ``> 0`` or ``prior`` is not a distribution.
      TypeError: if either is not numeric.

    Example:
      >>> from socialign import mechanisms
      >>> qr = mechanisms.QuantalResponse(0.5, [0.5, 0.5])
      >>> float(qr.temperature)
      0.5
    """

    temperature: jax.Array
    prior: Any = None

    def __init__(self, temperature, prior=None):
        temperature = as_float_array(temperature, "temperature")
        check_finite(temperature, "temperature")
        if is_concrete(temperature) and bool(np.any(np.asarray(temperature) <= 0)):
            raise ValueError(f"temperature must be > 0, got {np.asarray(temperature)!r}")
        if prior is not None:
            prior = as_float_array(prior, "prior")
            if prior.ndim < 1:
                raise ValueError(f"prior must be a vector [actions] (or [*batch, actions]), got "
                                 f"shape {tuple(prior.shape)}")
            check_simplex(prior, "prior", atol=1e-6)
        object.__setattr__(self, "temperature", temperature)
        object.__setattr__(self, "prior", prior)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class Contract:
    """A contract and the certificate that backs it (fields carry the problem's batch axes).

    Attributes:
      payments: ``t [*batch, outcomes]`` paid when outcome ``o`` is observed.
      action: ``[*batch]`` ``int32``, the implemented action (the most likely one for a quantal
        agent).
      action_probs: ``[*batch, actions]`` the agent's predicted response (one-hot for a best
        response).
      principal_value: ``[*batch]`` principal's expected value (gross value minus payments and
        monitoring). Differentiable with respect to the problem's numbers and the agent's
        parameters (envelope theorem at the designed contract).
      agent_value: ``[*batch]`` agent's expected utility under ``action_probs``.
      expected_payment: ``[*batch]`` expected transfer to the agent.
      incentive_violation: ``[*batch]`` largest gain the agent could get by deviating from
        ``action`` (``max_a U_a - U_action``, ``>= 0``; for a quantal agent: its gain over the
        response's expected utility, not a violation but reported for comparison).
      participation_violation: ``[*batch]`` ``max(R - U, 0)``, zero when participation holds.
      result: ``[*batch]`` ``int32`` :class:`socialign.kernel.Result` code (``INFEASIBLE`` when
        no contract implements the requested action).
      certificate: ``[*batch]`` the designer's own measure: duality gap (LP), KKT residual
        (convex program, gradient design) or 0 for closed forms.
      audit_rate: ``[*batch]`` probability the outcome is observed (1 unless an audit is
        designed).
      base_payment: ``[*batch]`` payment when no audit takes place (0 unless an audit is
        designed).
      stats: solver diagnostics (dict of arrays).

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.optimal_contract(pa)
      >>> round(float(c.principal_value), 6), round(float(c.participation_violation), 6)
      (6.0, 0.0)
    """

    payments: jax.Array
    action: jax.Array
    action_probs: jax.Array
    principal_value: jax.Array
    agent_value: jax.Array
    expected_payment: jax.Array
    incentive_violation: jax.Array
    participation_violation: jax.Array
    result: jax.Array
    certificate: jax.Array
    audit_rate: jax.Array
    base_payment: jax.Array
    stats: dict


# --------------------------------------------------------------------------------------------
# Shared by the designers: the Grossman-Hart min-pay LPs and the LP calls that solve them
# --------------------------------------------------------------------------------------------
def _others(A: int) -> np.ndarray:
    """``[A, A-1]``: for each action the indices of the other actions."""
    return np.array([[a for a in range(A) if a != k] for k in range(A)], dtype=np.int64
                    ).reshape(A, max(A - 1, 0))


def min_pay_lps(outcome_probs, costs, reservation_utility, margin=0.0):
    """The Grossman-Hart min-pay LPs of every action, in :func:`socialign.solvers.linprog` form.

    For action ``k``: minimise ``P_k v`` subject to ``(P_a - P_k) v <= c_a - c_k - margin``
    for every ``a != k`` (incentive compatibility with margin) and ``-P_k v <= -(R + c_k)``
    (participation); ``v`` are payments (risk neutral) or utility levels (risk averse).

    Args:
      outcome_probs: ``[*batch, A, O]``.
      costs: ``[*batch, A]``.
      reservation_utility: ``[*batch]``.
      margin: IC margin ``delta`` (``U_k - U_a >= delta``), scalar or ``[*batch, A]``.

    Returns:
      ``(c [*batch, A, O], A_ub [*batch, A, A, O], b_ub [*batch, A, A])``: for action ``k`` the
      rows are the ``A - 1`` IC constraints then the IR constraint.

    Example:
      >>> from socialign import mechanisms
      >>> c, G, h = mechanisms.min_pay_lps([[0.6, 0.4], [0.2, 0.8]], [0., 1.], 0.)
      >>> G.shape, [float(x) for x in h[1]]
      ((2, 2, 2), [-1.0, -1.0])
    """
    P = jnp.asarray(outcome_probs)
    costs = jnp.asarray(costs, P.dtype)
    reservation_utility = jnp.asarray(reservation_utility, P.dtype)
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


def solve_nonneg_lps(c, G, h, *, tol=None, max_steps=None, method: str = "auto"):
    """Solve a flat batch ``[n]`` of ``min c x, G x <= h, x >= 0`` with ``c >= 0``.

    With ``method="auto"``: :func:`socialign.solvers.linprog`'s batched dual simplex (its slack
    basis is dual feasible, so no phase 1), then the interior point
    (``method="interior_point"``) for the members it could not certify, selected by a mask at
    fixed shapes; ``lax.cond`` skips the interior point when every member is certified (inside
    a user's ``vmap`` both branches run and the answer is the same). This compiles two methods
    rather than ``linprog(method="auto")``'s three (about half the compile time). With
    ``method="interior_point"`` every member goes to the interior point; with
    ``method="dual_simplex"`` only the first stage runs (:func:`first_stage_settled` says
    whether the fallback would change anything). On programs of at least 800 entries the dual simplex
    pivots 64 programs at a time in refilled slots (``linprog(slots=64)``); smaller programs and
    the interior point run in chunks of 64. Returns ``(x [n, O], fun [n], status [n], gap [n],
    mu [n, m])`` with ``mu >= 0`` the multipliers of ``G x <= h``.
    """
    def run(m):
        # the dual simplex in refilled slots on programs large enough for their pivot counts to
        # vary (a chunk pivots until its slowest member is done): measured on 8,000 programs of
        # 40 x 80 (12 pivots on average, up to 76) 1.44 -> 0.85 s, 2,000 of 20 x 40 (6, 31)
        # 0.46 -> 0.37 s; at 10 x 20 (3 pivots, up to 18) the slots' hand-over costs more than
        # it saves (0.19 -> 0.30 s on 20,000), so small programs keep the chunks
        slots = dict(slots=_CHUNK) if m == "dual_simplex" and in_slots(*G.shape) else {}
        sol = solvers.linprog(c, G, h, bounds=(0.0, None), method=m, tol=tol,
                              max_steps=max_steps, batch_size=_CHUNK, **slots)
        return sol.x, sol.fun, sol.status, sol.duality_gap, -sol.ineqlin

    if method == "interior_point":
        return run("interior_point")
    out = run("dual_simplex")
    if method == "dual_simplex":  # the first stage alone (an eager caller checks it)
        return out
    status = out[2]
    bad = (status != Result.CONVERGED) & (status != Result.INFEASIBLE)

    def fallback(out):
        ipm = run("interior_point")
        sel = lambda a, b: jnp.where(bad.reshape(bad.shape + (1,) * (a.ndim - 1)), a, b)  # noqa
        return tuple(sel(a, b) for a, b in zip(ipm, out))

    return jax.lax.cond(jnp.any(bad), fallback, lambda out: out, out)


def in_slots(n: int, rows: int, cols: int) -> bool:
    """Does :func:`solve_nonneg_lps` pivot ``n`` programs of ``rows x cols`` in refilled slots
    (programs of at least 800 entries, more of them than one chunk)?"""
    return rows * cols >= 800 and n > _CHUNK


def first_stage_settled(status) -> bool:
    """Has the dual simplex settled every program (``CONVERGED`` or ``INFEASIBLE``), so that
    :func:`solve_nonneg_lps`'s interior-point fallback would change nothing? ``status``
    concrete (any shape). Eager callers compile and run the fallback only when this is False."""
    status = np.asarray(gather(status))
    return bool(np.all((status == Result.CONVERGED) | (status == Result.INFEASIBLE)))


def solve_free_lps(c, G, h, *, lower=None, tol=None, max_steps=None):
    """Solve a flat batch of ``min c x, G x <= h`` (``x`` free, or ``x >= lower``) by
    :func:`socialign.solvers.linprog` (``method="auto"``); returns like
    :func:`solve_nonneg_lps`."""
    sol = solvers.linprog(c, G, h, bounds=(lower, None), tol=tol, max_steps=max_steps,
                          batch_size=_CHUNK)
    return sol.x, sol.fun, sol.status, sol.duality_gap, -sol.ineqlin


#: programs per chunk of a batched LP call (``lax.map`` over ``vmap``-ed chunks)
_CHUNK = 64


def lp_envelope(c, G, h, x, mu):
    """``c x`` at the LP solution ``x`` with the envelope theorem's gradient.

    The value is ``c sg(x)``; its derivative with respect to ``(c, G, h)`` is that of the
    Lagrangian ``c x + mu (G x - h)`` at the fixed optimal pair ``(x, mu)`` (complementary
    slackness makes the added term zero in value): the sensitivity of an LP optimum to its data.
    """
    x, mu = jax.lax.stop_gradient(x), jax.lax.stop_gradient(mu)
    extra = jnp.einsum("...m,...m->...", mu, jnp.einsum("...mo,...o->...m", G, x) - h)
    return jnp.einsum("...o,...o->...", c, x) + extra - jax.lax.stop_gradient(extra)
