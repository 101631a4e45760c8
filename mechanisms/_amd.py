r"""Automated mechanism design for finite type spaces: one LP (Conitzer and Sandholm 2002).

``n`` agents with independent private types ``theta_i`` (each from ``T`` types with prior
``p_i``) and quasi-linear utilities ``v_i(theta_i, o) - pi_i``. A randomised direct mechanism is
an outcome distribution ``x(o | theta)`` and payments ``pi_i(theta)`` for every type profile.
Bayesian incentive compatibility and interim individual rationality are linear in ``(x, pi)``:

.. math::
    \mathbb{E}_{\theta_{-i}}\Big[\sum_o x(o|\theta) v_i(\theta_i, o) - \pi_i(\theta)\Big]
    \ge \mathbb{E}_{\theta_{-i}}\Big[\sum_o x(o|\theta_i', \theta_{-i}) v_i(\theta_i, o)
    - \pi_i(\theta_i', \theta_{-i})\Big], \qquad
    \mathbb{E}_{\theta_{-i}}[\dots] \ge 0,

so the revenue-optimal (``sum_i pi_i``) or welfare-optimal (``sum_i v_i + designer_value``)
mechanism is a linear program, solved by :func:`socialign.solvers.linprog`. The LP's sparsity
pattern depends only on the sizes (agents, types, outcomes); its coefficients are built from the
(possibly traced) valuations and prior with array operations, so :func:`design_mechanism` runs
inside ``jax.jit`` and under ``jax.vmap`` over any array field, and a batch is ``vmap``-ed by
:func:`socialign.kernel.batch_map`. The designer :class:`OptimalMechanism` returns the same
mechanism as a :class:`socialign.mechanisms.Design`.

References:
  V. Conitzer and T. Sandholm, "Complexity of mechanism design", UAI 2002.
  T. Sandholm, "Automated mechanism design: a new application area for search algorithms", 2003.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from .. import solvers
from ..kernel import (
    Result,
    as_float_array,
    batch_map,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    default_tol,
    pytree_dataclass,
    scale_of,
    static_field,
)
from ._design import Design, Designer
from ._screening import _lp_tolerance

__all__ = ["DirectMechanism", "FiniteMechanismDesign", "OptimalMechanism", "design_mechanism"]

_MAX_VARIABLES = 20_000
_OBJECTIVES = ("revenue", "welfare")


@pytree_dataclass(init=False)
class FiniteMechanismDesign:
    """A finite mechanism-design problem (leading axes are batch axes).

    Attributes:
      valuations: ``[*batch, agents, types, outcomes]`` value ``v_i(theta_i, o)`` (payoff units).
      prior: ``[*batch, agents, types]`` independent type distributions (an unbatched
        ``[agents, types]`` prior is shared by the batch).
      designer_value: ``[*batch, outcomes]`` the designer's own value of each outcome (counted
        in the welfare objective; default 0).

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if the shapes disagree, a value is not finite, or ``prior`` is not a
        probability vector per agent.

    Example:
      >>> # one buyer with value 1, 2 or 3, outcomes no sale / sale
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> md.num_agents, md.num_types, md.num_outcomes
      (1, 3, 2)
    """

    valuations: jax.Array
    prior: jax.Array
    designer_value: jax.Array

    def __init__(self, valuations, prior, designer_value=None):
        v = as_float_array(valuations, "valuations")
        if v.ndim < 3 or 0 in v.shape[-3:]:
            raise ValueError(f"valuations must have shape [*batch, agents, types, outcomes] with "
                             f"no empty axis; got {tuple(v.shape)}")
        p = as_float_array(prior, "prior")
        if p.shape[-2:] != v.shape[-3:-1] or p.ndim > v.ndim - 1:
            raise ValueError(f"prior must have shape [*batch, {v.shape[-3]}, {v.shape[-2]}] "
                             f"(agents, types); got {tuple(p.shape)}")
        check_finite(v, "valuations")
        check_simplex(p, "prior")
        batch = v.shape[:-3]
        d = jnp.zeros(v.shape[-1:], v.dtype) if designer_value is None else \
            as_float_array(designer_value, "designer_value")
        if d.ndim < 1 or d.shape[-1] != v.shape[-1]:
            raise ValueError(f"designer_value must have {v.shape[-1]} outcomes, got shape "
                             f"{tuple(d.shape)}")
        check_finite(d, "designer_value")
        dtype = jnp.result_type(v, p, d)
        try:
            p = jnp.broadcast_to(p.astype(dtype), (*batch, *p.shape[-2:]))
            d = jnp.broadcast_to(d.astype(dtype), (*batch, v.shape[-1]))
        except ValueError:
            raise ValueError(f"prior {tuple(p.shape)} and designer_value {tuple(d.shape)} must "
                             f"broadcast to the batch shape {batch} of valuations") from None
        object.__setattr__(self, "valuations", v.astype(dtype))
        object.__setattr__(self, "prior", p)
        object.__setattr__(self, "designer_value", d)

    num_agents = property(lambda self: self.valuations.shape[-3], doc="Number of agents.")
    num_types = property(lambda self: self.valuations.shape[-2], doc="Types per agent.")
    num_outcomes = property(lambda self: self.valuations.shape[-1], doc="Number of outcomes.")
    batch_shape = property(lambda self: tuple(self.valuations.shape[:-3]),
                           doc="The leading batch axes.")


@pytree_dataclass
class DirectMechanism:
    """A direct mechanism and its certificates (every field carries the batch axes).

    Attributes:
      outcome_probs: ``[*batch, T, ..., T, outcomes]`` outcome distribution per type profile
        (one ``T`` axis per agent).
      payments: ``[*batch, T, ..., T, agents]`` payment of each agent per type profile.
      principal_value: ``[*batch]`` the designer's objective: expected revenue or welfare.
      agent_values: ``[*batch, agents, types]`` interim expected utility of truthful reporting.
      revenue: ``[*batch]`` expected total payment.
      welfare: ``[*batch]`` expected total value of the agents plus the designer's value.
      incentive_violation: ``[*batch]`` largest interim gain of any type from misreporting
        (Bayesian IC), ``>= 0``.
      participation_violation: ``[*batch]`` largest interim shortfall below 0 (interim IR),
        ``>= 0``.
      result: ``[*batch]`` ``int32`` :class:`socialign.kernel.Result` code.
      certificate: ``[*batch]`` the LP duality gap.

    Example:
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> m = mechanisms.design_mechanism(md, "welfare")
      >>> round(float(m.welfare), 6), m.outcome_probs.shape, m.payments.shape
      (2.0, (3, 2), (3, 1))
    """

    outcome_probs: jax.Array
    payments: jax.Array
    principal_value: jax.Array
    agent_values: jax.Array
    revenue: jax.Array
    welfare: jax.Array
    incentive_violation: jax.Array
    participation_violation: jax.Array
    result: jax.Array
    certificate: jax.Array


def _profiles(n, T):
    return np.array(list(itertools.product(range(T), repeat=n)), dtype=np.int64).reshape(-1, n)


def _build(v, p, d, objective):
    """LP data ``(c, G, E)`` of one problem (``min c z`` s.t. ``G z <= 0``, ``E z = 1``).

    Variables ``z``: outcome probabilities ``x [profiles, O]`` then payments ``pi [profiles,
    n]``. Rows of ``G`` are indexed ``(agent i, true type t, report s)``: Bayesian IC for
    ``s != t`` (deviation minus truth), interim IR (minus truth) for ``s == t``. Array code:
    runs on traced ``v``, ``p``, ``d``.
    """
    v = jnp.asarray(v)
    p = jnp.asarray(p, v.dtype)
    d = jnp.asarray(d, v.dtype)
    n, T, O = v.shape
    prof = _profiles(n, T)  # [P, n]
    P = prof.shape[0]
    agents = np.arange(n)
    pp = p[agents[None, :], prof]  # [P, n] probability of each agent's type in the profile
    prob = jnp.prod(pp, axis=1)  # [P]
    others = jnp.prod(jnp.where(np.eye(n, dtype=bool)[:, None, :], 1.0, pp[None]), axis=2)
    mask = (prof.T[:, None, :] == np.arange(T)[None, :, None])  # [n, T(report), P]
    W = jnp.where(mask, others[:, None, :], 0.0)  # [n, s, P]
    X = W[:, None, :, :, None] * v[:, :, None, None, :]  # [n, t, s, P, O]
    Pi = -W[:, :, :, None] * jnp.asarray(np.eye(n), v.dtype)[:, None, None, :]  # [n, s, P, n]
    Pi = jnp.broadcast_to(Pi[:, None], (n, T, T, P, n))
    full = jnp.concatenate([X.reshape(n, T, T, P * O), Pi.reshape(n, T, T, P * n)], axis=-1)
    truth = jnp.diagonal(full, axis1=1, axis2=2).transpose(0, 2, 1)  # [n, t, vars]
    off = jnp.asarray(~np.eye(T, dtype=bool), v.dtype)[None, :, :, None]
    G = (off * full - truth[:, :, None, :]).reshape(n * T * T, P * (O + n))
    if objective == "revenue":
        c = jnp.concatenate([jnp.zeros(P * O, v.dtype), -jnp.repeat(prob, n)])
    else:
        w = jnp.sum(v[agents[None, :], prof], axis=1) + d  # [P, O]
        c = jnp.concatenate([-(prob[:, None] * w).ravel(), jnp.zeros(P * n, v.dtype)])
    E = np.zeros((P, P * (O + n)))
    for k in range(P):
        E[k, k * O:(k + 1) * O] = 1
    return c, G, jnp.asarray(E, v.dtype)


def _design_one(problem: FiniteMechanismDesign, objective, tol, max_steps):
    v, p, d = problem.valuations, problem.prior, problem.designer_value
    n, T, O = v.shape
    dtype = v.dtype
    c, G, E = _build(v, p, d, objective)
    P = E.shape[0]
    nx = P * O
    bounds = [(0, None)] * nx + [(None, None)] * (P * n)
    sol = solvers.linprog(c, G, jnp.zeros(G.shape[0], dtype), E, jnp.ones(P, dtype),
                          bounds=bounds, max_steps=max_steps, method="interior_point",
                          tol=_lp_tolerance(dtype))
    x = jnp.maximum(sol.x[:nx], 0.0).reshape(P, O)
    x = x / jnp.maximum(jnp.sum(x, -1, keepdims=True), jnp.finfo(dtype).tiny)
    pay = sol.x[nx:].reshape(P, n)
    z = jnp.concatenate([x.ravel(), pay.ravel()])
    slack = (G @ z).reshape(n, T, T)  # every entry must be <= 0
    is_ir = np.eye(T, dtype=bool)[None]
    ic = jnp.max(jnp.where(is_ir, 0.0, jnp.maximum(slack, 0.0)))
    ir = jnp.max(jnp.where(is_ir, jnp.maximum(slack, 0.0), 0.0))
    values = -jnp.diagonal(slack, axis1=1, axis2=2)  # [n, T] interim truthful utility
    prof = _profiles(n, T)
    prob = jnp.prod(p[np.arange(n)[None, :], prof], axis=1)
    w = jnp.sum(v[np.arange(n)[None, :], prof], axis=1) + d
    revenue = prob @ jnp.sum(pay, axis=1)
    welfare = jnp.sum(prob[:, None] * x * w)
    code = sol.status
    ok = jnp.maximum(ic, ir) <= tol * (scale_of(v) + scale_of(pay))
    code = jnp.where((code == Result.CONVERGED) & ~ok, Result.CERTIFICATE_ABOVE_TOLERANCE, code)
    mech = DirectMechanism(
        outcome_probs=x.reshape(*([T] * n), O), payments=pay.reshape(*([T] * n), n),
        principal_value=revenue if objective == "revenue" else welfare, agent_values=values,
        revenue=revenue, welfare=welfare, incentive_violation=ic, participation_violation=ir,
        result=code.astype(jnp.int32), certificate=sol.duality_gap)
    return mech, sol.num_steps


def _check_objective(objective):
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be 'revenue' or 'welfare', got {objective!r}")


def _design_mechanism(problem, objective, tol, max_steps):
    if not isinstance(problem, FiniteMechanismDesign):
        raise TypeError(f"problem must be a FiniteMechanismDesign, got {type(problem).__name__}")
    _check_objective(objective)
    max_steps = check_positive_int(max_steps, "max_steps")
    if tol is None:
        tol = default_tol(problem.valuations.dtype)
    else:
        check_positive_scalar(tol, "tol", allow_zero=True)
    n, T, O = problem.num_agents, problem.num_types, problem.num_outcomes
    if T**n * (O + n) > _MAX_VARIABLES:
        raise ValueError(f"{T}^{n} type profiles x {O + n} variables is too large for the dense "
                         f"LP (limit {_MAX_VARIABLES:,} variables)")
    return _design(problem, tol, objective=objective, max_steps=max_steps)


@functools.partial(jax.jit, static_argnames=("objective", "max_steps"))
def _design(problem, tol, *, objective, max_steps):
    # one compiled program per shape (eager calls reuse it; a user's jit inlines it)
    return batch_map(lambda pr: _design_one(pr, objective, tol, max_steps), problem,
                     batch_shape=problem.batch_shape)


def design_mechanism(problem: FiniteMechanismDesign, objective: str = "revenue", *, tol=None,
                     max_steps: int = 200) -> DirectMechanism:
    """The optimal randomised direct mechanism under Bayesian IC and interim IR (one LP).

    Pure and fixed-shape: runs inside ``jax.jit`` and under ``jax.vmap`` over any array field
    of ``problem``, with the same answer as eagerly.

    Args:
      problem: a :class:`FiniteMechanismDesign`, any batch axes.
      objective: ``"revenue"`` (expected payments) or ``"welfare"`` (expected values of the
        agents plus the designer's value); static.
      tol: tolerance on the incentive and participation violations, relative to
        ``max|v| + max|payment|`` (default :func:`socialign.kernel.default_tol`).
      max_steps: interior-point iteration budget (static).

    Returns:
      A :class:`DirectMechanism` with batch axes ``problem.batch_shape``.

    Raises:
      TypeError: if ``problem`` is not a :class:`FiniteMechanismDesign`.
      ValueError: if ``objective`` is unknown, the LP would exceed 20,000 variables, ``tol``
        is negative or ``max_steps`` is not a positive int.

    Example:
      >>> # one buyer, values 1, 2, 3 equally likely: post price 2, revenue 4/3
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> round(float(mechanisms.design_mechanism(md).revenue), 6)
      1.333333
    """
    return _design_mechanism(problem, objective, tol, max_steps)[0]


@pytree_dataclass
class OptimalMechanism(Designer):
    """Designer: the revenue- or welfare-optimal direct mechanism (Conitzer-Sandholm LP).

    Attributes:
      objective: ``"revenue"`` or ``"welfare"`` (static: it selects the LP's objective).

    Raises:
      ValueError: if ``objective`` is unknown.

    Example:
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> d = mechanisms.design(md, mechanisms.OptimalMechanism("revenue"))
      >>> round(float(d.principal_value), 6), d.agent_values.shape
      (1.333333, (1, 3))
    """

    objective: str = static_field(default="revenue")
    problem_types = (FiniteMechanismDesign,)

    def __post_init__(self):
        _check_objective(self.objective)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The optimal-mechanism :class:`Design` for a :class:`FiniteMechanismDesign`."""
        mech, steps = _design_mechanism(problem, self.objective, tol, max_steps)
        return Design(mechanism=mech, principal_value=mech.principal_value,
                      agent_values=mech.agent_values,
                      incentive_violation=mech.incentive_violation,
                      participation_violation=mech.participation_violation,
                      certificate=mech.certificate, result=mech.result,
                      stats={"num_steps": steps})
