r"""Quantal-response (KL-regularised) agents and contract design against them by gradient.

The agent of :class:`mechanisms.QuantalResponse` plays

.. math::
    \pi_a(t) = \frac{\rho_a \exp(U_a(t)/\beta)}{\sum_b \rho_b \exp(U_b(t)/\beta)},
    \qquad \pi = \arg\max_{\pi} \; \mathbb{E}_\pi[U] - \beta\, \mathrm{KL}(\pi \,\|\, \rho),

the policy of a learner fine-tuned with a KL penalty ``beta`` towards a reference policy with
action shares ``rho`` (``prior``). Everything here is a smooth function of the payments, so
:func:`principal_utility` is differentiable end to end and the contract is designed by an
augmented-Lagrangian method whose inner minimisations are optax Adam steps, all inside one
jitted ``lax.scan``:

* no ``target_action``: maximise :math:`\mathbb{E}_\pi[V(t)]` subject to participation
  :math:`\mathbb{E}_\pi[U(t)] \ge R` (and ``t >= 0`` under limited liability);
* ``target_action = k``: minimise the expected payment plus monitoring cost subject to
  :math:`\pi_k(t) \ge p` (``min_target_prob``) and participation: "implement the behaviour at
  least cost".

``beta`` is annealed geometrically from the problem's payoff scale down to its requested value
(continuation), which keeps the gradients informative when ``beta`` is small; as ``beta -> 0``
the design converges to the best-response optimum of Grossman and Hart.

Audits. With ``audit_cost = k`` the audit rate ``q`` in ``[0, 1]`` becomes a decision
variable: the outcome is observed (and ``t_o`` paid) only when an audit takes place, with
probability ``q``, at cost ``k`` to the principal; otherwise the agent receives the base payment
``w``. The agent's utility of action ``a`` is ``q P_a u(t) + (1 - q) u(w) - c_a`` and the
principal pays ``q k`` in expectation for monitoring.

The certificate is the KKT residual of the final iterate: the largest of the constraint
violations, the complementarity ``|lambda g|`` and the projected-gradient norm of the
Lagrangian (all in units of the problem's payoff scale). Gradient methods find local optima of
this non-convex design problem; the result code says whether the KKT point was certified.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..kernel import Result, as_float_array, check_finite, is_concrete
from ._principal_agent import Contract, PrincipalAgent, QuantalResponse

__all__ = [
    "quantal_response_probs",
    "agent_utilities",
    "agent_response",
    "principal_utility",
    "quantal_contract",
]


def quantal_response_probs(utilities, beta, prior=None) -> jax.Array:
    r"""Quantal (logit) response ``prior_a exp(u_a / beta) / Z`` along the last axis.

    Differentiable in ``utilities``, ``beta`` and ``prior``; numerically stable (log-sum-exp).
    Actions with ``prior_a = 0`` get probability 0.

    Example:
      >>> from socialign import mechanisms
      >>> p = mechanisms.quantal_response_probs([0., 1.], 1.0, [0.5, 0.5])
      >>> round(float(p[1]), 4)
      0.7311
    """
    u = as_float_array(utilities, "utilities")
    beta = as_float_array(beta, "beta")
    if u.ndim == 0:
        raise ValueError("utilities must have at least one axis (actions)")
    if is_concrete(beta) and not bool(np.all(np.asarray(beta) > 0)):
        raise ValueError(f"beta must be > 0, got {np.asarray(beta)}")
    check_finite(u, "utilities")
    logits = u / beta
    if prior is not None:
        prior = as_float_array(prior, "prior")
        if prior.shape[-1] != u.shape[-1]:
            raise ValueError(f"prior has {prior.shape[-1]} actions but utilities has "
                             f"{u.shape[-1]}")
        if is_concrete(prior) and (bool(np.any(np.asarray(prior) < 0))
                                   or not bool(np.all(np.asarray(prior).sum(-1) > 0))):
            raise ValueError("prior must be non-negative with a positive sum")
        logits = logits + jnp.where(prior > 0, jnp.log(jnp.where(prior > 0, prior, 1.0)),
                                    -jnp.inf)
    return jax.nn.softmax(logits, axis=-1)


def _u(problem: PrincipalAgent, t):
    return t if problem.agent_utility is None else problem.agent_utility.u(t)


def _terms(problem: PrincipalAgent, t, w, q, audit_cost):
    """Agent utilities ``U [A]``, principal values ``V [A]`` and expected pay ``[A]``."""
    P = problem.outcome_probs
    pay = q * (P @ t) + (1 - q) * w
    U = q * (P @ _u(problem, t)) + (1 - q) * _u(problem, w) - problem.costs
    V = problem.benefits - pay - problem.expected_monitoring_cost - q * audit_cost
    return U, V, pay


def agent_utilities(problem: PrincipalAgent, payments) -> jax.Array:
    """The agent's expected utility of each action, ``P u(t) - c  [*batch, actions]``.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> [round(float(x), 6) for x in mechanisms.agent_utilities(pa, [0., 2.5])]
      [1.0, 1.0]
    """
    t = _check_payments(problem, payments)
    return jnp.einsum("...ao,...o->...a", problem.outcome_probs, _u(problem, t)) - problem.costs


def _check_payments(problem, payments):
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")
    t = as_float_array(payments, "payments", dtype=problem.dtype)
    if t.shape[-1:] != (problem.num_outcomes,):
        raise ValueError(f"payments must have {problem.num_outcomes} entries on its last axis "
                         f"(one per outcome); got shape {tuple(t.shape)}")
    check_finite(t, "payments")
    return t


def _prior(agent: QuantalResponse, A: int, dtype):
    if agent.prior is None:
        return jnp.full((A,), 1.0 / A, dtype)
    if agent.prior.shape[-1] != A:
        raise ValueError(f"agent.prior has {agent.prior.shape[-1]} actions but the problem has "
                         f"{A}")
    return agent.prior.astype(dtype)


def agent_response(problem: PrincipalAgent, payments, agent: QuantalResponse | None = None):
    """The agent's response distribution over actions ``[*batch, actions]``.

    A :class:`QuantalResponse` agent responds smoothly; ``agent=None`` is a best responder
    (one-hot, ties broken in the principal's favour).

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> [int(x) for x in mechanisms.agent_response(pa, [0., 3.])]
      [0, 1]
    """
    t = _check_payments(problem, payments)
    U = jnp.einsum("...ao,...o->...a", problem.outcome_probs, _u(problem, t)) - problem.costs
    if agent is None:
        V = problem.benefits - jnp.einsum("...ao,...o->...a", problem.outcome_probs, t) \
            - problem.expected_monitoring_cost
        return _best_response(U, V)
    if not isinstance(agent, QuantalResponse):
        raise TypeError(f"agent must be a QuantalResponse or None, got {type(agent).__name__}")
    return quantal_response_probs(U, agent.beta, _prior(agent, problem.num_actions, U.dtype))


def _best_response(U, V, rtol=1e-9):
    """One-hot best response, ties (within ``rtol``) broken for the principal."""
    umax = jnp.max(U, axis=-1, keepdims=True)
    tie = U >= umax - rtol * (1 + jnp.abs(umax))
    k = jnp.argmax(jnp.where(tie, V, -jnp.inf), axis=-1)
    return jax.nn.one_hot(k, U.shape[-1], dtype=U.dtype)


def principal_utility(problem: PrincipalAgent, payments, agent: QuantalResponse | None = None):
    r"""The principal's expected utility ``sum_a pi_a (P_a (r - t - m))`` of a contract.

    Differentiable in ``payments`` (and in the problem's numbers) for a quantal agent;
    piecewise linear for a best responder (``agent=None``).

    Example:
      >>> import jax, mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> qr = mechanisms.QuantalResponse(0.1)
      >>> g = jax.grad(lambda t: mechanisms.principal_utility(pa, t, qr))(jax.numpy.array([0., 2.5]))
      >>> g.shape
      (2,)
    """
    t = _check_payments(problem, payments)
    pi = agent_response(problem, t, agent)
    V = problem.benefits - jnp.einsum("...ao,...o->...a", problem.outcome_probs, t) \
        - problem.expected_monitoring_cost
    return jnp.sum(pi * V, axis=-1)


# --------------------------------------------------------------------------------------------
# Design by augmented Lagrangian + Adam
# --------------------------------------------------------------------------------------------
def _design_one(problem, beta, prior, p_min, audit_cost, target, lr, cap, t0, *, mode_target,
                audit, outer, inner, anneal):
    dtype = problem.dtype
    scale = jnp.maximum(1.0, jnp.maximum(jnp.max(jnp.abs(problem.rewards)),
                                         jnp.max(jnp.abs(problem.costs))))
    scale = jnp.maximum(scale, jnp.abs(problem.reservation_utility))
    ut = problem.agent_utility
    has_floor = ut is not None and np.isfinite(ut.payment_floor)
    floor = ut.payment_floor if has_floor else 0.0
    ll = problem.limited_liability or has_floor
    eps_floor = 1e-9 if has_floor else 0.0
    log_prior = jnp.where(prior > 0, jnp.log(jnp.where(prior > 0, prior, 1.0)), -jnp.inf)

    def unpack(x):
        t = x["t"] * scale
        w = x["w"] * scale if audit else jnp.zeros((), dtype)
        q = x["q"] if audit else jnp.ones((), dtype)
        return t, w, q

    def project(x):
        lo = floor / scale + eps_floor if ll else -jnp.inf
        hi = cap / scale
        out = {"t": jnp.clip(x["t"], lo, hi)}
        if audit:
            out["w"] = jnp.clip(x["w"], lo, hi)
            out["q"] = jnp.clip(x["q"], 0.0, 1.0)
        return out

    def parts(x, b):
        t, w, q = unpack(x)
        U, V, pay = _terms(problem, t, w, q, audit_cost)
        logpi = jax.nn.log_softmax(U / b + log_prior)
        pi = jnp.exp(logpi)
        Us = jnp.where(prior > 0, U, 0.0)
        Vs = jnp.where(prior > 0, V, 0.0)
        EU = pi @ Us
        ir = (problem.reservation_utility - EU) / scale
        if mode_target:
            f = (pi @ jnp.where(prior > 0, pay + problem.expected_monitoring_cost, 0.0)
                 + q * audit_cost) / scale
            g = jnp.stack([ir, jnp.log(p_min) - logpi[target]])
        else:
            f = -(pi @ Vs) / scale
            g = jnp.stack([ir, jnp.zeros((), dtype)])
        return f, g, pi, U, V, pay, EU, pi @ Vs

    def lagrangian(x, lam, rho, b):
        f, g, *_ = parts(x, b)
        return f + jnp.sum(jnp.maximum(0.0, lam + rho * g) ** 2 - lam ** 2) / (2 * rho)

    total = outer * inner
    opt = optax.adam(optax.exponential_decay(lr, total, 1e-3))
    x0 = {"t": t0 / scale}
    if audit:
        x0["w"] = jnp.zeros((), dtype)
        x0["q"] = jnp.ones((), dtype)
    x0 = project(x0)
    b_hi = jnp.maximum(beta, scale) if anneal > 0 else beta
    n_anneal = max(1, int(anneal * outer))
    grad = jax.grad(lagrangian)

    def outer_step(carry, k):
        x, s, lam, rho = carry
        frac = jnp.minimum(1.0, k / n_anneal)
        b = b_hi * (beta / b_hi) ** frac

        def inner_step(c, _):
            x, s = c
            upd, s = opt.update(grad(x, lam, rho, b), s, x)
            return (project(optax.apply_updates(x, upd)), s), None

        (x, s), _ = jax.lax.scan(inner_step, (x, s), None, length=inner)
        _, g, *_ = parts(x, b)
        lam = jnp.maximum(0.0, lam + rho * g)
        rho = jnp.minimum(rho * 1.5, 1e4)
        return (x, s, lam, rho), None

    lam0 = jnp.zeros((2,), dtype)
    (x, _, lam, rho), _ = jax.lax.scan(
        outer_step, (x0, opt.init(x0), lam0, jnp.asarray(10.0, dtype)),
        jnp.arange(outer, dtype=dtype))
    f, g, pi, U, V, pay, EU, EV = parts(x, beta)
    # KKT residual at the final point: projected gradient of f + lam.g, violation, complementarity
    gl = jax.grad(lambda y: parts(y, beta)[0] + lam @ parts(y, beta)[1])(x)
    moved = project(jax.tree_util.tree_map(lambda a, d: a - d, x, gl))
    stat = jnp.max(jnp.stack([jnp.max(jnp.abs(a - m)) for a, m in
                              zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(moved))]))
    viol = jnp.max(jnp.maximum(g, 0.0))
    comp = jnp.max(jnp.abs(lam * g))
    kkt = jnp.maximum(jnp.maximum(stat, viol), comp)
    t, w, q = unpack(x)
    gain = jnp.max(jnp.where(prior > 0, U, -jnp.inf)) - EU
    return dict(t=t, w=w, q=q, pi=pi, pay=pay, kkt=kkt, viol=viol, stat=stat, f=f,
                k=jnp.argmax(pi), EU=EU, EV=EV, gain=gain)


@functools.partial(jax.jit, static_argnames=("mode_target", "audit", "outer", "inner", "anneal"))
def _design(problem, beta, prior, p_min, audit_cost, target, lr, tol, cap, starts, *,
            mode_target, audit, outer, inner, anneal):
    """``starts: [*batch, S, O]`` initial payments; the best certified end point is kept."""
    fn = functools.partial(_design_one, mode_target=mode_target, audit=audit, outer=outer,
                           inner=inner, anneal=anneal)

    def one_problem(pb, st):
        outs = jax.vmap(fn, in_axes=(None,) * 8 + (0,))(pb, beta, prior, p_min, audit_cost,
                                                         target, lr, cap, st)
        feasible = outs["viol"] <= tol
        score = jnp.where(feasible, outs["f"], jnp.inf)
        i = jnp.where(jnp.any(feasible), jnp.argmin(score), jnp.argmin(outs["viol"]))
        return jax.tree_util.tree_map(lambda a: a[i], outs)

    batch = problem.batch_shape
    if batch:
        flat = jax.tree_util.tree_map(lambda a: a.reshape((-1, *a.shape[len(batch):])), problem)
        out = jax.vmap(one_problem)(flat, starts.reshape((-1, *starts.shape[len(batch):])))
        out = jax.tree_util.tree_map(lambda a: a.reshape((*batch, *a.shape[1:])), out)
    else:
        out = one_problem(problem, starts)
    code = jnp.where(out["kkt"] <= tol, Result.CONVERGED, Result.MAX_STEPS_REACHED)
    code = jnp.where(jnp.all(jnp.isfinite(out["t"]), axis=-1), code, Result.NONFINITE)
    if mode_target:
        code = jnp.where(prior[target] > 0, code, Result.INFEASIBLE)
    return Contract(
        payments=out["t"],
        action=out["k"].astype(jnp.int32),
        action_probs=out["pi"],
        principal_utility=out["EV"],
        agent_utility=out["EU"],
        expected_payment=jnp.sum(out["pi"] * out["pay"], axis=-1),
        ic_violation=out["gain"],
        participation_slack=out["EU"] - problem.reservation_utility,
        result=code.astype(jnp.int32),
        certificate=out["kkt"],
        audit_rate=out["q"],
        base_payment=out["w"],
        stats={"constraint_violation": out["viol"], "stationarity": out["stat"],
               "num_steps": jnp.full(out["kkt"].shape, outer * inner, jnp.int32)},
    )


def _lp_starts(problem: PrincipalAgent, beta, prior, p, actions):
    """Starting payments: for each action ``k`` in ``actions`` the cheapest contract (an LP in
    utility levels) whose IC margin ``beta log((A-1) p max(prior) / ((1-p) prior_k))`` makes the
    quantal agent play ``k`` with probability ``>= p``; plus the zero contract."""
    from ..solvers._linprog import linprog
    from ._contracts import min_pay_lps
    from ._dual_simplex import dual_simplex

    A, O = problem.num_actions, problem.num_outcomes
    batch = problem.batch_shape
    dtype = problem.dtype
    pr = np.asarray(prior, dtype=np.float64)
    with np.errstate(divide="ignore"):
        margin = float(beta) * np.log(max(A - 1, 1) * p * pr.max() / ((1 - p) * pr))
    margin = np.where(np.isfinite(margin), margin, 0.0)
    ut = problem.agent_utility
    lo = None
    if ut is not None and np.isfinite(ut.payment_floor):
        lo = float(ut.u(jnp.asarray(ut.payment_floor, dtype)))
        lo = lo if np.isfinite(lo) else None
    elif problem.limited_liability:
        lo = 0.0
    c, G, h = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility,
                          jnp.asarray(margin, dtype))
    idx = np.asarray(actions)
    c, G, h = c[..., idx, :], G[..., idx, :, :], h[..., idx, :]
    n = int(np.prod(batch, dtype=np.int64)) * len(idx)
    c, G, h = c.reshape(n, O), G.reshape(n, A, O), h.reshape(n, A)
    # objective P_k v >= 0 is bounded below by IR; with a finite floor v = lo + x, x >= 0 is the
    # dual simplex's form (c >= 0), otherwise the interior-point core handles free levels
    if lo is not None:
        x, _, status, *_ = dual_simplex(c, G, h - lo * jnp.sum(G, axis=-1))
        v = x + lo
    else:
        sol = linprog(c, G, h, bounds=(None, None))
        v, status = sol.x, sol.status
    v = v.reshape((*batch, len(idx), O))
    ok = (status == Result.CONVERGED).reshape((*batch, len(idx), 1))
    t = v if ut is None else ut.u_inv(v)
    t = jnp.where(ok & jnp.isfinite(t), t, 0.0)
    zero = jnp.zeros((*batch, 1, O), dtype)
    if ut is not None and np.isfinite(ut.payment_floor):
        zero = zero + ut.payment_floor
    return jnp.concatenate([t, zero], axis=-2)


def quantal_contract(problem: PrincipalAgent, agent: QuantalResponse, *, target_action=None,
                     min_target_prob=0.9, audit_cost=None, max_payment=None,
                     outer_steps: int = 40,
                     inner_steps: int = 100, learning_rate: float = 0.05, anneal: float = 0.0,
                     tol: float = 1e-4) -> Contract:
    r"""Design a contract against a quantal-response agent (see the module docstring).

    Usually called through :func:`mechanisms.optimal_contract` with
    ``agent=QuantalResponse(beta, prior)``.

    Args:
      problem: a (possibly batched) :class:`PrincipalAgent`.
      agent: the :class:`QuantalResponse` agent (shared by the batch).
      target_action: ``None`` to maximise the principal's utility, or the action ``k`` to
        implement at least cost with probability ``>= min_target_prob``.
      min_target_prob: the requested probability of ``target_action`` (in ``(0, 1)``).
      audit_cost: ``None`` (outcomes always observed, at the problem's ``monitoring_cost``) or
        the principal's cost per audit; then the audit rate and a base payment are designed too.
      max_payment: optional cap on every payment (a budget or legal limit; with a designed audit
        rate it also keeps "rare audits with huge payments" from running off to infinity).
      outer_steps, inner_steps: augmented-Lagrangian iterations and Adam steps per iteration.
      learning_rate: Adam step size in units of the payoff scale.
      anneal: fraction of the outer iterations over which ``beta`` is annealed.
      tol: KKT-residual tolerance for ``Result.CONVERGED``.

    Returns:
      :class:`mechanisms.Contract`; ``certificate`` is the KKT residual.
    """
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")
    if not isinstance(agent, QuantalResponse):
        raise TypeError(f"agent must be a QuantalResponse, got {type(agent).__name__}")
    A = problem.num_actions
    dtype = problem.dtype
    prior = _prior(agent, A, dtype)
    mode_target = target_action is not None
    if mode_target:
        if isinstance(target_action, bool) or not isinstance(target_action, int | np.integer):
            raise TypeError(f"target_action must be an int or None, got {target_action!r}")
        if not 0 <= int(target_action) < A:
            raise ValueError(f"target_action must be in [0, {A}), got {target_action}")
        p = float(min_target_prob)
        if not 0 < p < 1:
            raise ValueError(f"min_target_prob must be in (0, 1), got {min_target_prob!r}")
    else:
        p = 0.5
    audit = audit_cost is not None
    k_audit = 0.0
    if audit:
        k_audit = float(audit_cost)
        if not (np.isfinite(k_audit) and k_audit >= 0):
            raise ValueError(f"audit_cost must be a finite number >= 0, got {audit_cost!r}")
    for name, v in (("outer_steps", outer_steps), ("inner_steps", inner_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not (0 < float(learning_rate) and np.isfinite(float(learning_rate))):
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if not 0 <= float(anneal) <= 1:
        raise ValueError(f"anneal must be in [0, 1], got {anneal!r}")
    cap = np.inf
    if max_payment is not None:
        cap = float(max_payment)
        if not cap > 0:
            raise ValueError(f"max_payment must be > 0, got {max_payment!r}")
    beta = agent.beta.astype(dtype)
    if is_concrete(beta) and is_concrete(prior):
        acts = [int(target_action)] if mode_target else list(range(A))
        starts = _lp_starts(problem, beta, prior, p, acts)
    else:  # traced agent: start from the zero contract only
        starts = jnp.zeros((*problem.batch_shape, 1, problem.num_outcomes), dtype)
    return _design(problem, beta, prior, jnp.asarray(p, dtype), jnp.asarray(k_audit, dtype),
                   jnp.asarray(0 if target_action is None else int(target_action), jnp.int32),
                   jnp.asarray(learning_rate, dtype), jnp.asarray(tol, dtype),
                   jnp.asarray(cap, dtype), starts,
                   mode_target=mode_target, audit=audit, outer=int(outer_steps),
                   inner=int(inner_steps), anneal=float(anneal))
