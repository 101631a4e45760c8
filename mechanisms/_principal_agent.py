r"""The principal-agent (moral hazard) model, the agent models and the :class:`Contract` result.

A principal hires an agent who privately chooses an action ``a`` at cost ``c_a``; the action
draws an observable outcome ``o`` with probability ``P[a, o]``, worth ``r_o`` to the principal.
A contract pays ``t_o`` on outcome ``o``. The agent's expected utility of action ``a`` is

.. math::
    U_a(t) = \sum_o P_{ao}\, u(t_o) - c_a

(``u`` the identity for a risk-neutral agent) and the principal's, when the agent plays ``a``,

.. math::
    V_a(t) = \sum_o P_{ao}\, (r_o - t_o - m_o)

with ``m_o`` the principal's monitoring cost of outcome ``o`` (the cost of the audit or signal
that produces it; zero by default). A best-responding agent picks ``argmax_a U_a`` (ties broken
in the principal's favour, the usual convention of Grossman and Hart 1983); a
:class:`QuantalResponse` agent with temperature ``beta`` and reference shares ``prior`` picks
``a`` with probability ``prior_a exp(U_a / beta) / Z`` -- exactly the optimum of a learner that
maximises expected utility minus ``beta KL(pi || prior)``.

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  R. D. McKelvey and T. R. Palfrey, "Quantal response equilibria for normal form games", GEB 1995.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    as_float_array,
    check_finite,
    check_positive_scalar,
    check_simplex,
    is_concrete,
)

__all__ = ["AgentUtility", "PrincipalAgent", "QuantalResponse", "Contract"]


# --------------------------------------------------------------------------------------------
# Agent's utility of money
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class AgentUtility:
    """An increasing concave utility of money ``u`` with its inverse ``u_inv`` (JAX functions).

    Risk-averse agents turn the Grossman-Hart min-pay problem into a convex program in utility
    levels ``v_o = u(t_o)``: the payment ``u_inv(v)`` is convex in ``v``. ``payment_floor`` is the
    smallest payment the utility is defined for (``0`` for ``sqrt``, ``-inf`` for CARA) and
    ``level_bounds`` the range ``(u(floor), u(+inf))`` of utility levels. Instances are static
    (hashable by identity); use the constructors :meth:`sqrt`, :meth:`log`, :meth:`cara`.

    Example:
      >>> from socialign import mechanisms
      >>> u = mechanisms.AgentUtility.sqrt()
      >>> float(u.u(4.0)), float(u.u_inv(2.0))
      (2.0, 4.0)
    """

    u: Callable[[jax.Array], jax.Array]
    u_inv: Callable[[jax.Array], jax.Array]
    name: str = "custom"
    payment_floor: float = -math.inf
    level_bounds: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self):
        if not callable(self.u) or not callable(self.u_inv):
            raise TypeError("agent_utility: u and u_inv must be callables (JAX functions)")

    @classmethod
    def sqrt(cls) -> AgentUtility:
        """``u(t) = sqrt(t)`` on ``t >= 0``."""
        return cls(jnp.sqrt, jnp.square, "sqrt", 0.0, (0.0, math.inf))

    @classmethod
    def log(cls) -> AgentUtility:
        """``u(t) = log(t)`` on ``t > 0``."""
        return cls(jnp.log, jnp.exp, "log", 0.0, (-math.inf, math.inf))

    @classmethod
    def cara(cls, r: float) -> AgentUtility:
        """Constant absolute risk aversion ``u(t) = (1 - exp(-r t)) / r``."""
        r = float(r)
        if not (r > 0 and math.isfinite(r)):
            raise ValueError(f"r (risk aversion) must be a finite number > 0, got {r!r}")
        return cls(lambda t: -jnp.expm1(-r * t) / r, lambda v: -jnp.log1p(-r * v) / r,
                   f"cara({r:g})", -math.inf, (-math.inf, 1.0 / r))

    def validate(self, scale: float = 1.0) -> None:
        """Check numerically that ``u`` is increasing and concave and ``u_inv`` inverts it."""
        lo = 0.0 if math.isfinite(self.payment_floor) else -scale
        t = np.linspace(lo, lo + 2 * scale, 41)[1:]
        v = np.asarray(self.u(jnp.asarray(t, jnp.result_type(float))), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"agent_utility ({self.name}): u is not finite on payments in "
                             f"[{t[0]:.3g}, {t[-1]:.3g}]")
        dv = np.diff(v)
        if np.any(dv <= 0):
            raise ValueError(f"agent_utility ({self.name}) must be increasing; u decreases "
                             f"between payments {t[int(np.argmax(dv <= 0))]:.3g} and "
                             f"{t[int(np.argmax(dv <= 0)) + 1]:.3g}")
        if np.any(np.diff(dv) > 1e-4 * np.max(np.abs(dv))):
            raise ValueError(f"agent_utility ({self.name}) must be concave (risk-averse); its "
                             "increments grow somewhere")
        back = np.asarray(self.u_inv(jnp.asarray(v)), dtype=np.float64)
        if np.max(np.abs(back - t)) > 1e-4 * (1 + np.max(np.abs(t))):
            raise ValueError(f"agent_utility ({self.name}): u_inv is not the inverse of u")


# --------------------------------------------------------------------------------------------
# The problem
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, init=False)
class PrincipalAgent:
    """A discrete moral-hazard problem (or a batch of them: leading axes are batch axes).

    Attributes:
      outcome_probs: ``P [*batch, actions, outcomes]``, each row a distribution.
      costs: ``c [*batch, actions]``, the agent's cost of each action.
      rewards: ``r [*batch, outcomes]``, the principal's gross value of each outcome.
      reservation_utility: ``R [*batch]``, the agent's outside option (participation needs
        ``U_a >= R``).
      monitoring_cost: ``m [*batch, outcomes]``, the principal's cost of observing outcome ``o``
        when it occurs (for instance the cost of the audit that produces that signal; an audit
        run with probability ``q`` at cost ``k`` per audit on the outcomes that trigger it gives
        ``m_o = q k``). Zero by default. For an audit *rate* chosen by the designer see
        ``audit_cost`` in :func:`mechanisms.optimal_contract`.
      limited_liability: static; payments must be ``>= 0`` (``>= payment_floor`` of a
        risk-averse utility) when True.
      agent_utility: static; ``None`` for a risk-neutral agent or an :class:`AgentUtility`.

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
    limited_liability: bool
    agent_utility: Any

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
                raise TypeError("agent_utility must be None (risk-neutral) or an AgentUtility, "
                                f"got {type(agent_utility).__name__}")
            agent_utility.validate()
        bc = lambda x, s: jnp.broadcast_to(x.astype(dtype), s)  # noqa: E731
        object.__setattr__(self, "outcome_probs", P.astype(dtype))
        object.__setattr__(self, "costs", bc(c, (*batch, A)))
        object.__setattr__(self, "rewards", bc(r, (*batch, O)))
        object.__setattr__(self, "reservation_utility", bc(R, batch))
        object.__setattr__(self, "monitoring_cost", bc(m, (*batch, O)))
        object.__setattr__(self, "limited_liability", bool(limited_liability))
        object.__setattr__(self, "agent_utility", agent_utility)

    @property
    def num_actions(self) -> int:
        return self.outcome_probs.shape[-2]

    @property
    def num_outcomes(self) -> int:
        return self.outcome_probs.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.outcome_probs.shape[:-2])

    @property
    def dtype(self):
        return self.outcome_probs.dtype

    @property
    def benefits(self) -> jax.Array:
        """Principal's expected gross value of each action, ``P r  [*batch, actions]``."""
        return jnp.einsum("...ao,...o->...a", self.outcome_probs, self.rewards)

    @property
    def expected_monitoring_cost(self) -> jax.Array:
        """Expected monitoring cost of each action, ``P m  [*batch, actions]``."""
        return jnp.einsum("...ao,...o->...a", self.outcome_probs, self.monitoring_cost)

    def __getitem__(self, index) -> PrincipalAgent:
        if not self.batch_shape:
            raise IndexError("this problem is not batched; there is nothing to index")
        return _replace(self, **{f: getattr(self, f)[index] for f in _LEAVES})


_LEAVES = ("outcome_probs", "costs", "rewards", "reservation_utility", "monitoring_cost")


def _replace(pa: PrincipalAgent, **leaves) -> PrincipalAgent:
    new = object.__new__(PrincipalAgent)
    for f in _LEAVES:
        object.__setattr__(new, f, leaves.get(f, getattr(pa, f)))
    object.__setattr__(new, "limited_liability", pa.limited_liability)
    object.__setattr__(new, "agent_utility", pa.agent_utility)
    return new


jax.tree_util.register_pytree_node(
    PrincipalAgent,
    lambda p: (tuple(getattr(p, f) for f in _LEAVES), (p.limited_liability, p.agent_utility)),
    lambda aux, ch: _replace(_Proto(aux), **dict(zip(_LEAVES, ch))),
)


class _Proto:
    """Carrier of the static fields while unflattening (no validation on tracers)."""

    def __init__(self, aux):
        self.limited_liability, self.agent_utility = aux
        for f in _LEAVES:
            setattr(self, f, None)


# --------------------------------------------------------------------------------------------
# Agent behaviour models
# --------------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, init=False)
class QuantalResponse:
    """A quantal-response (KL-regularised) agent.

    It plays action ``a`` with probability ``prior[a] * exp(U_a / beta) / Z``, the maximiser of
    ``E_pi[U] - beta KL(pi || prior)``: a policy fine-tuned with KL penalty ``beta`` towards a
    reference policy whose action shares are ``prior``. ``beta -> 0`` recovers a best
    response (restricted to the support of ``prior``).

    Attributes:
      beta: temperature ``> 0`` (a leaf: differentiable, vmappable).
      prior: reference shares ``[actions]`` or ``None`` for uniform.

    Example:
      >>> from socialign import mechanisms
      >>> qr = mechanisms.QuantalResponse(0.5, [0.5, 0.5])
      >>> float(qr.beta)
      0.5
    """

    beta: jax.Array
    prior: Any = None

    def __init__(self, beta, prior=None):
        beta = as_float_array(beta, "beta")
        if beta.ndim != 0:
            raise ValueError(f"beta must be a scalar, got shape {tuple(beta.shape)}")
        check_positive_scalar(beta, "beta")
        if prior is not None:
            prior = as_float_array(prior, "prior")
            if prior.ndim != 1:
                raise ValueError(f"prior must be a vector [actions], got shape "
                                 f"{tuple(prior.shape)}")
            check_simplex(prior, "prior", atol=1e-6)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "prior", prior)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Contract:
    """A contract and the certificate that backs it (fields carry the problem's batch axes).

    Attributes:
      payments: ``t [outcomes]`` paid when outcome ``o`` is observed.
      action: ``int32``, the implemented action (the most likely one for a quantal agent).
      action_probs: ``[actions]`` the agent's predicted response (one-hot for best response).
      principal_utility: principal's expected utility (value minus payments and monitoring).
      agent_utility: agent's expected utility under ``action_probs``.
      expected_payment: expected transfer to the agent.
      ic_violation: largest gain the agent could get by deviating from ``action``
        (``max_a U_a - U_action``, clipped at 0; for a quantal agent: its gain over the
        response's expected utility, not a violation but reported for comparison).
      participation_slack: ``U - R`` (negative means participation fails).
      result: ``int32`` :class:`solvers.Result` code (``INFEASIBLE`` when no contract implements
        the requested action).
      certificate: the solver's own measure: duality gap (LP), KKT residual (convex program,
        gradient design) or 0 for closed forms.
      audit_rate: probability the outcome is observed (1 unless an audit is designed).
      base_payment: payment when no audit takes place (0 unless an audit is designed).
      stats: solver diagnostics (dict of arrays).
    """

    payments: jax.Array
    action: jax.Array
    action_probs: jax.Array
    principal_utility: jax.Array
    agent_utility: jax.Array
    expected_payment: jax.Array
    ic_violation: jax.Array
    participation_slack: jax.Array
    result: jax.Array
    certificate: jax.Array
    audit_rate: jax.Array
    base_payment: jax.Array
    stats: dict = dataclasses.field(default_factory=dict)
