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
mechanism is a linear program, solved (for a batch of same-shaped problems) by
:func:`solvers.linprog`.

References:
  V. Conitzer and T. Sandholm, "Complexity of mechanism design", UAI 2002.
  T. Sandholm, "Automated mechanism design: a new application area for search algorithms", 2003.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import as_float_array, check_finite, check_simplex
from ..solvers._linprog import linprog

__all__ = ["FiniteMechanismDesign", "DirectMechanism", "design_mechanism"]


@dataclasses.dataclass(frozen=True, init=False)
class FiniteMechanismDesign:
    """A finite mechanism-design problem (leading axes of ``valuations`` are batch axes).

    Attributes:
      valuations: ``[*batch, agents, types, outcomes]`` value ``v_i(theta_i, o)``.
      priors: ``[agents, types]`` independent type distributions (shared by the batch).
      designer_value: ``[*batch, outcomes]`` the designer's own value of each outcome
        (counted in the welfare objective; default 0).

    Example (one buyer with value 1, 2 or 3, outcomes no sale / sale):
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> md.num_agents, md.num_types, md.num_outcomes
      (1, 3, 2)
    """

    valuations: jax.Array
    priors: jax.Array
    designer_value: jax.Array

    def __init__(self, valuations, priors, designer_value=None):
        v = as_float_array(valuations, "valuations")
        if v.ndim < 3:
            raise ValueError(f"valuations must have shape [*batch, agents, types, outcomes]; got "
                             f"{tuple(v.shape)}")
        p = as_float_array(priors, "priors")
        if p.shape != v.shape[-3:-1]:
            raise ValueError(f"priors must have shape {tuple(v.shape[-3:-1])} (agents, types); "
                             f"got {tuple(p.shape)}")
        check_finite(v, "valuations")
        check_simplex(p, "priors")
        d = jnp.zeros((*v.shape[:-3], v.shape[-1]), v.dtype) if designer_value is None else \
            as_float_array(designer_value, "designer_value")
        if d.shape[-1:] != v.shape[-1:]:
            raise ValueError(f"designer_value must have {v.shape[-1]} outcomes, got shape "
                             f"{tuple(d.shape)}")
        check_finite(d, "designer_value")
        dtype = jnp.result_type(v, p, d)
        object.__setattr__(self, "valuations", v.astype(dtype))
        object.__setattr__(self, "priors", p.astype(dtype))
        object.__setattr__(self, "designer_value", jnp.broadcast_to(
            d.astype(dtype), (*v.shape[:-3], v.shape[-1])))

    num_agents = property(lambda self: self.valuations.shape[-3])
    num_types = property(lambda self: self.valuations.shape[-2])
    num_outcomes = property(lambda self: self.valuations.shape[-1])
    batch_shape = property(lambda self: tuple(self.valuations.shape[:-3]))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DirectMechanism:
    """An optimal direct mechanism and its certificates.

    ``outcome_probs [*batch, T, ..., T, outcomes]`` and ``payments [*batch, T, ..., T, agents]``
    are indexed by the type profile.
    """

    outcome_probs: jax.Array
    payments: jax.Array
    revenue: jax.Array
    welfare: jax.Array
    ic_violation: jax.Array
    ir_violation: jax.Array
    result: jax.Array
    certificate: jax.Array


def _build(v, p, d, objective):
    """LP data for one problem (numpy, float64). Variables: x [profiles, O] then pi [profiles, n]."""
    n, T, O = v.shape
    profiles = list(itertools.product(range(T), repeat=n))
    P = len(profiles)
    index = {prof: k for k, prof in enumerate(profiles)}
    nx = P * O
    nv = nx + P * n
    prob = np.array([np.prod([p[i, prof[i]] for i in range(n)]) for prof in profiles])
    if objective == "revenue":
        c = np.concatenate([np.zeros(nx), -np.repeat(prob, n)])
    else:
        w = np.array([[sum(v[i, prof[i], o] for i in range(n)) + d[o] for o in range(O)]
                      for prof in profiles])
        c = np.concatenate([-(prob[:, None] * w).ravel(), np.zeros(P * n)])
    rows = []

    def interim_row(i, true, report):
        """Coefficients of E_{-i}[sum_o x(o|report, -i) v_i(true, o) - pi_i(report, -i)]."""
        r = np.zeros(nv)
        for prof in profiles:
            if prof[i] != report:
                continue
            q = np.prod([p[j, prof[j]] for j in range(n) if j != i])
            k = index[prof]
            r[k * O:(k + 1) * O] += q * v[i, true]
            r[nx + k * n + i] -= q
        return r

    for i in range(n):
        for t in range(T):
            truth = interim_row(i, t, t)
            for s in range(T):
                if s != t:
                    rows.append(interim_row(i, t, s) - truth)  # BIC: deviation - truth <= 0
            rows.append(-truth)  # interim IR
    E = np.zeros((P, nv))
    for k in range(P):
        E[k, k * O:(k + 1) * O] = 1
    return c, np.array(rows), E


def design_mechanism(problem: FiniteMechanismDesign, objective: str = "revenue", *, tol=None,
                     max_steps: int = 200) -> DirectMechanism:
    """The optimal randomised direct mechanism under Bayesian IC and interim IR (one LP).

    Args:
      problem: a (possibly batched) :class:`FiniteMechanismDesign`.
      objective: ``"revenue"`` (expected payments) or ``"welfare"`` (expected values of the
        agents plus the designer's value).

    Example (one buyer, values 1, 2, 3 equally likely: post price 2, revenue 4/3):
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> md = mechanisms.FiniteMechanismDesign([[[0., 1.], [0., 2.], [0., 3.]]], [[1/3] * 3])
      >>> round(float(mechanisms.design_mechanism(md).revenue), 6)
      1.333333
    """
    if not isinstance(problem, FiniteMechanismDesign):
        raise TypeError(f"problem must be a FiniteMechanismDesign, got {type(problem).__name__}")
    if objective not in ("revenue", "welfare"):
        raise ValueError(f"objective must be 'revenue' or 'welfare', got {objective!r}")
    n, T, O = problem.num_agents, problem.num_types, problem.num_outcomes
    if T**n * (O + n) > 20_000:
        raise ValueError(f"{T}^{n} type profiles x {O + n} variables is too large for the dense "
                         "LP (limit 20,000 variables)")
    batch = problem.batch_shape
    V = np.asarray(problem.valuations, dtype=np.float64).reshape(-1, n, T, O)
    D = np.asarray(problem.designer_value, dtype=np.float64).reshape(-1, O)
    p = np.asarray(problem.priors, dtype=np.float64)
    data = [_build(V[b], p, D[b], objective) for b in range(V.shape[0])]
    c = np.stack([d[0] for d in data])
    G = np.stack([d[1] for d in data])
    E = data[0][2]
    P = T**n
    nx = P * O
    bounds = [(0, None)] * nx + [(None, None)] * (P * n)
    dtype = problem.valuations.dtype
    sol = linprog(jnp.asarray(c, dtype), jnp.asarray(G, dtype), jnp.zeros(G.shape[:2], dtype),
                  jnp.asarray(E, dtype), jnp.ones(P, dtype), bounds=bounds, tol=tol,
                  max_steps=max_steps)
    x = jnp.maximum(sol.x[:, :nx], 0.0).reshape(-1, P, O)
    x = x / jnp.sum(x, -1, keepdims=True)
    pay = sol.x[:, nx:].reshape(-1, P, n)
    Gj = jnp.asarray(G, dtype)
    z = jnp.concatenate([x.reshape(-1, nx), pay.reshape(-1, P * n)], axis=1)
    slack = jnp.einsum("brv,bv->br", Gj, z)  # every row must be <= 0
    per_agent = T  # rows per (agent, type): T - 1 BIC + 1 IR
    is_ir = np.zeros(G.shape[1], bool)
    is_ir[per_agent - 1::per_agent] = True
    ic = jnp.max(jnp.where(is_ir, 0.0, jnp.maximum(slack, 0.0)), axis=-1)
    ir = jnp.max(jnp.where(is_ir, jnp.maximum(slack, 0.0), 0.0), axis=-1)
    prob = jnp.asarray(np.array([np.prod([p[i, prof[i]] for i in range(n)]) for prof in
                                 itertools.product(range(T), repeat=n)]), dtype)
    w = jnp.asarray(np.stack([[[sum(V[b, i, prof[i], o] for i in range(n)) for o in range(O)]
                               for prof in itertools.product(range(T), repeat=n)]
                              for b in range(V.shape[0])]), dtype)
    revenue = jnp.einsum("p,bpn->b", prob, pay)
    welfare = jnp.einsum("p,bpo,bpo->b", prob, x, w + jnp.asarray(D, dtype)[:, None, :])
    rs = lambda a: a.reshape((*batch, *a.shape[1:]))  # noqa: E731
    return DirectMechanism(
        outcome_probs=rs(x.reshape(-1, *([T] * n), O)), payments=rs(pay.reshape(-1, *([T] * n), n)),
        revenue=rs(revenue), welfare=rs(welfare), ic_violation=rs(ic), ir_violation=rs(ir),
        result=rs(sol.status), certificate=rs(sol.duality_gap))
