r"""Quantal-response (KL-regularised) agents and contract design against them.

The agent of :class:`mechanisms.QuantalResponse` plays

.. math::
    \pi_a(t) = \frac{\rho_a \exp(U_a(t)/T)}{\sum_b \rho_b \exp(U_b(t)/T)},
    \qquad \pi = \arg\max_{\pi} \; \mathbb{E}_\pi[U] - T\, \mathrm{KL}(\pi \,\|\, \rho),

the policy of a learner fine-tuned with a KL penalty ``T`` (the ``temperature``) towards a
reference policy with action shares ``rho`` (``prior``). Everything here is a smooth function of
the payments, so :func:`principal_value` is differentiable end to end and the contract is
designed by an augmented-Lagrangian method whose inner minimisations are optax Adam steps:

* no ``target_action``: maximise :math:`\mathbb{E}_\pi[V(t)]` subject to participation
  :math:`\mathbb{E}_\pi[U(t)] \ge R` (and ``t >= 0`` under limited liability);
* ``target_action = k``: minimise the expected payment plus monitoring cost subject to
  :math:`\pi_k(t) \ge p` (``min_target_prob``) and participation: "implement the behaviour at
  least cost".

The method is a :class:`socialign.kernel.IterativeSolver` (:class:`QuantalDesign`): one step is
one augmented-Lagrangian iteration (a fixed number of Adam steps on the augmented Lagrangian, then
the multiplier update), run by :func:`socialign.kernel.iterate` until the KKT residual is a
thousandth of ``tol`` (after the annealing phase) or ``max_steps`` outer iterations; the result is
``CONVERGED`` when the final residual is within ``tol``. It starts from several
points: for each action the cheapest contract (an LP in utility levels) whose IC margin makes the
quantal agent play it with probability ``>= p``, and the zero contract; the best certified end
point is kept. These warm starts are computed the same way with traced and concrete values, so the
design gives the same answer eagerly, inside ``jax.jit`` and under ``jax.vmap``.

``anneal > 0`` anneals the temperature geometrically from the problem's payoff scale down to its
value over that fraction of the outer iterations (continuation).

Audits. With ``audit_cost = k`` the audit rate ``q`` in ``[0, 1]`` becomes a decision
variable: the outcome is observed (and ``t_o`` paid) only when an audit takes place, with
probability ``q``, at cost ``k`` to the principal; otherwise the agent receives the base payment
``w``. The agent's utility of action ``a`` is ``q P_a u(t) + (1 - q) u(w) - c_a`` and the
principal pays ``q k`` in expectation for monitoring.

The certificate is the KKT residual of the final iterate: the largest of the constraint
violations, the complementarity ``|lambda g|`` and the projected-gradient norm of the
Lagrangian (all in units of the problem's payoff scale). Gradient methods find local optima of
this non-convex design problem; the result code says whether the KKT point was certified.

Gradients. Without ``target_action`` the principal's value is the optimum of the design problem,
so by the envelope theorem its derivative with respect to any number ``theta`` of the problem or
the agent (temperature, prior, outcome probabilities, costs, rewards, a utility's parameters) is
``d/dtheta [E_pi V + lambda (E_pi U - R)]`` at the designed contract and multiplier; that is the
gradient :func:`quantal_contract` gives (the loop itself is never differentiated). With a
``target_action`` the principal's value is not the design's objective and asking for its gradient
raises a ``TypeError``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    batch_map,
    check_finite,
    is_concrete,
    iterate,
    no_gradient,
    pytree_dataclass,
    static_field,
)
from ._principal_agent import (
    Contract,
    PrincipalAgent,
    QuantalResponse,
    min_pay_lps,
    solve_free_lps,
    solve_nonneg_lps,
)

__all__ = [
    "QuantalDesign",
    "agent_response",
    "agent_values",
    "principal_value",
    "quantal_contract",
    "quantal_response_probs",
]


def quantal_response_probs(utilities, temperature, prior=None) -> jax.Array:
    r"""Quantal (logit) response ``prior_a exp(u_a / temperature) / Z`` along the last axis.

    Differentiable in ``utilities``, ``temperature`` and ``prior``; numerically stable
    (log-sum-exp). Actions with ``prior_a = 0`` get probability 0.

    Args:
      utilities: ``[..., actions]`` expected utilities (payoff units).
      temperature: ``> 0``, broadcastable to ``utilities[..., 0]``.
      prior: ``[..., actions]`` non-negative reference shares, or ``None`` for uniform.

    Returns:
      ``[..., actions]`` probabilities.

    Raises:
      ValueError: on a scalar ``utilities``, a non-positive temperature, or a bad prior.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign import mechanisms
      >>> p = mechanisms.quantal_response_probs([0., 1.], 1.0, [0.5, 0.5])
      >>> round(float(p[1]), 4)
      0.7311
    """
    u = as_float_array(utilities, "utilities")
    temperature = as_float_array(temperature, "temperature")
    if u.ndim == 0:
        raise ValueError("utilities must have at least one axis (actions)")
    if is_concrete(temperature) and not bool(np.all(np.asarray(temperature) > 0)):
        raise ValueError(f"temperature must be > 0, got {np.asarray(temperature)}")
    check_finite(u, "utilities")
    logits = u / temperature[..., None] if temperature.ndim else u / temperature
    if prior is not None:
        prior = as_float_array(prior, "prior")
        if prior.shape[-1] != u.shape[-1]:
            raise ValueError(f"prior has {prior.shape[-1]} actions but utilities has "
                             f"{u.shape[-1]}")
        if is_concrete(prior) and (bool(np.any(np.asarray(prior) < 0))
                                   or not bool(np.all(np.asarray(prior).sum(-1) > 0))):
            raise ValueError("prior must be non-negative with a positive sum")
        logits = logits + _log_prior(prior)
    return jax.nn.softmax(logits, axis=-1)


def _log_prior(prior):
    return jnp.where(prior > 0, jnp.log(jnp.where(prior > 0, prior, 1.0)), -jnp.inf)


def _check_payments(problem, payments):
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")
    t = as_float_array(payments, "payments", dtype=problem.dtype)
    if t.shape[-1:] != (problem.num_outcomes,):
        raise ValueError(f"payments must have {problem.num_outcomes} entries on its last axis "
                         f"(one per outcome); got shape {tuple(t.shape)}")
    check_finite(t, "payments")
    return t


def agent_values(problem: PrincipalAgent, payments) -> jax.Array:
    """The agent's expected utility of each action, ``P u(t) - c  [*batch, actions]``.

    Args:
      problem: a :class:`PrincipalAgent`.
      payments: ``[*batch, outcomes]``.

    Returns:
      ``[*batch, actions]``.

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent`.
      ValueError: if ``payments`` has the wrong last axis or is not finite.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> [round(float(x), 6) for x in mechanisms.agent_values(pa, [0., 2.5])]
      [1.0, 1.0]
    """
    t = _check_payments(problem, payments)
    return jnp.einsum("...ao,...o->...a", problem.outcome_probs,
                      problem.utility_of(t)) - problem.costs


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

    Raises:
      TypeError: if ``agent`` is neither ``None`` nor a :class:`QuantalResponse`, or
        ``problem`` is not a :class:`PrincipalAgent`.
      ValueError: on bad payments or a prior of the wrong length.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> [int(x) for x in mechanisms.agent_response(pa, [0., 3.])]
      [0, 1]
    """
    t = _check_payments(problem, payments)
    U = jnp.einsum("...ao,...o->...a", problem.outcome_probs, problem.utility_of(t)) \
        - problem.costs
    if agent is None:
        V = problem.benefits - jnp.einsum("...ao,...o->...a", problem.outcome_probs, t) \
            - problem.expected_monitoring_cost
        return _best_response(U, V)
    if not isinstance(agent, QuantalResponse):
        raise TypeError(f"agent must be a QuantalResponse or None, got {type(agent).__name__}")
    return quantal_response_probs(U, agent.temperature,
                                  _prior(agent, problem.num_actions, U.dtype))


def _best_response(U, V, rtol=1e-9):
    """One-hot best response, ties (within ``rtol``) broken for the principal."""
    umax = jnp.max(U, axis=-1, keepdims=True)
    tie = U >= umax - rtol * (1 + jnp.abs(umax))
    k = jnp.argmax(jnp.where(tie, V, -jnp.inf), axis=-1)
    return jax.nn.one_hot(k, U.shape[-1], dtype=U.dtype)


def principal_value(problem: PrincipalAgent, payments, agent: QuantalResponse | None = None):
    r"""The principal's expected value ``sum_a pi_a (P_a (r - t - m))`` of a given contract.

    Differentiable in ``payments`` (and in the problem's numbers and the temperature) for a
    quantal agent; piecewise linear for a best responder (``agent=None``).

    Raises:
      TypeError: if ``problem`` is not a :class:`PrincipalAgent` or ``agent`` is unknown.
      ValueError: on bad payments.

    Example:
      >>> import jax
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> qr = mechanisms.QuantalResponse(0.1)
      >>> g = jax.grad(lambda t: mechanisms.principal_value(pa, t, qr))(jax.numpy.array([0., 2.5]))
      >>> g.shape
      (2,)
    """
    t = _check_payments(problem, payments)
    pi = agent_response(problem, t, agent)
    V = problem.benefits - jnp.einsum("...ao,...o->...a", problem.outcome_probs, t) \
        - problem.expected_monitoring_cost
    return jnp.sum(pi * V, axis=-1)


# --------------------------------------------------------------------------------------------
# Design by augmented Lagrangian + Adam, on the kernel's loop
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class QuantalDesign(IterativeSolver):
    """The augmented-Lagrangian contract designer against a quantal agent (one problem).

    ``problem`` is a dict of one unbatched :class:`PrincipalAgent` (``pa``), ``temperature``,
    ``prior [A]``, ``p_min``, ``audit_cost``, ``cap`` (payment cap) and ``start [O]`` (initial
    payments); the state is ``(x, adam_state, lam [2], rho, k)``. One step: ``inner_steps``
    Adam steps on the augmented Lagrangian at the (annealed) temperature, then the multiplier
    update. Certificate: the KKT residual at the true temperature.

    Attributes:
      learning_rate: Adam step size in units of the payoff scale (a leaf).
      target_action: static; ``None`` or the action to implement.
      audit: static; whether the audit rate and base payment are designed.
      inner_steps: static; Adam steps per outer iteration.
      anneal_steps: static; outer iterations over which the temperature is annealed (0: none).
      total_steps: static; the horizon of Adam's learning-rate decay.

    Example:
      >>> from socialign.mechanisms import QuantalDesign
      >>> QuantalDesign(0.05).inner_steps
      100
    """

    learning_rate: Any = 0.05
    target_action: Any = static_field(default=None)
    audit: bool = static_field(default=False)
    inner_steps: int = static_field(default=100)
    anneal_steps: int = static_field(default=0)
    total_steps: int = static_field(default=4000)

    # ---- helpers ----
    @staticmethod
    def _scale(pa):
        scale = jnp.maximum(1.0, jnp.maximum(jnp.max(jnp.abs(pa.rewards)),
                                             jnp.max(jnp.abs(pa.costs))))
        return jax.lax.stop_gradient(jnp.maximum(scale, jnp.abs(pa.reservation_utility)))

    def _bounds(self, prob):
        pa = prob["pa"]
        scale = self._scale(pa)
        ut = pa.agent_utility
        has_floor = ut is not None and math.isfinite(ut.payment_floor)
        floor = ut.payment_floor if has_floor else 0.0
        ll = pa.limited_liability or has_floor
        eps_floor = 1e-9 if has_floor else 0.0
        lo = floor / scale + eps_floor if ll else -jnp.inf
        return lo, prob["cap"] / scale

    def _project(self, prob, x):
        lo, hi = self._bounds(prob)
        out = {"t": jnp.clip(x["t"], lo, hi)}
        if self.audit:
            out["w"] = jnp.clip(x["w"], lo, hi)
            out["q"] = jnp.clip(x["q"], 0.0, 1.0)
        return out

    def _unpack(self, prob, x):
        scale = self._scale(prob["pa"])
        dtype = x["t"].dtype
        t = x["t"] * scale
        w = x["w"] * scale if self.audit else jnp.zeros((), dtype)
        q = x["q"] if self.audit else jnp.ones((), dtype)
        return t, w, q

    def parts(self, prob, x, temperature):
        """Objective ``f`` (scaled, minimised), constraints ``g [2] <= 0`` and the terms."""
        pa = prob["pa"]
        prior = prob["prior"]
        scale = self._scale(pa)
        t, w, q = self._unpack(prob, x)
        P = pa.outcome_probs
        pay = q * (P @ t) + (1 - q) * w
        U = q * (P @ pa.utility_of(t)) + (1 - q) * pa.utility_of(w) - pa.costs
        V = pa.benefits - pay - pa.expected_monitoring_cost - q * prob["audit_cost"]
        logpi = jax.nn.log_softmax(U / temperature + _log_prior(prior))
        pi = jnp.exp(logpi)
        Us = jnp.where(prior > 0, U, 0.0)
        Vs = jnp.where(prior > 0, V, 0.0)
        EU = pi @ Us
        ir = (pa.reservation_utility - EU) / scale
        if self.target_action is not None:
            f = (pi @ jnp.where(prior > 0, pay + pa.expected_monitoring_cost, 0.0)
                 + q * prob["audit_cost"]) / scale
            g = jnp.stack([ir, jnp.log(prob["p_min"]) - logpi[self.target_action]])
        else:
            f = -(pi @ Vs) / scale
            g = jnp.stack([ir, jnp.zeros((), ir.dtype)])
        return f, g, dict(pi=pi, U=U, V=V, pay=pay, EU=EU, EV=pi @ Vs, t=t, w=w, q=q)

    def _temperature(self, prob, k):
        T = prob["temperature"]
        if self.anneal_steps <= 0:
            return T
        hi = jnp.maximum(T, self._scale(prob["pa"]))
        frac = jnp.minimum(1.0, k / self.anneal_steps)
        return hi * (T / hi) ** frac

    def _opt(self):
        return optax.adam(optax.exponential_decay(self.learning_rate, self.total_steps, 1e-3))

    # ---- IterativeSolver ----
    def init(self, prob, key):
        """Start at ``prob["start"]`` (projected), zero multipliers, penalty 10."""
        dtype = prob["start"].dtype
        x0 = {"t": prob["start"] / self._scale(prob["pa"])}
        if self.audit:
            x0["w"] = jnp.zeros((), dtype)
            x0["q"] = jnp.ones((), dtype)
        x0 = self._project(prob, x0)
        return (x0, self._opt().init(x0), jnp.zeros((2,), dtype), jnp.asarray(10.0, dtype),
                jnp.asarray(0, jnp.int32))

    def step(self, prob, state):
        """``inner_steps`` projected Adam steps, then ``lam <- max(0, lam + rho g)``."""
        x, s, lam, rho, k = state
        b = self._temperature(prob, k.astype(x["t"].dtype))
        opt = self._opt()

        def lagrangian(x):
            f, g, _ = self.parts(prob, x, b)
            return f + jnp.sum(jnp.maximum(0.0, lam + rho * g) ** 2 - lam ** 2) / (2 * rho)

        grad = jax.grad(lagrangian)

        def inner(c, _):
            x, s = c
            upd, s = opt.update(grad(x), s, x)
            return (self._project(prob, optax.apply_updates(x, upd)), s), None

        (x, s), _ = jax.lax.scan(inner, (x, s), None, length=self.inner_steps)
        _, g, _ = self.parts(prob, x, b)
        lam = jnp.maximum(0.0, lam + rho * g)
        rho = jnp.minimum(rho * 1.5, 1e4)
        return (x, s, lam, rho, k + 1)

    def kkt(self, prob, state):
        """``(kkt, violation, stationarity)`` at the true temperature."""
        x, _, lam, _, _ = state
        T = prob["temperature"]

        def lag(y):
            f, g, _ = self.parts(prob, y, T)
            return f + lam @ g

        _, g, _ = self.parts(prob, x, T)
        gl = jax.grad(lag)(x)
        moved = self._project(prob, jax.tree_util.tree_map(lambda a, d: a - d, x, gl))
        stat = jnp.max(jnp.stack([jnp.max(jnp.abs(a - m)) for a, m in
                                  zip(jax.tree_util.tree_leaves(x),
                                      jax.tree_util.tree_leaves(moved))]))
        viol = jnp.max(jnp.maximum(g, 0.0))
        comp = jnp.max(jnp.abs(lam * g))
        return jnp.maximum(jnp.maximum(stat, viol), comp), viol, stat

    def terminate(self, prob, state, tol):
        """Done once annealing is over and the KKT residual is ``<= tol``."""
        k = state[-1]
        res, _, _ = self.kkt(prob, state)
        done = (res <= tol) & (k >= max(1, self.anneal_steps))
        return done, jnp.asarray(Result.CONVERGED, jnp.int32), res


#: the loop stops once the KKT residual is this fraction of ``tol`` (CONVERGED needs ``<= tol``)
_STOP_FACTOR = 1e-3


def _warm_starts(problem: PrincipalAgent, temperature, prior, p, target_action):
    """``[*batch, S, O]`` starting payments: for each action ``k`` (or only the target) the
    cheapest contract (an LP in utility levels) whose IC margin
    ``T log((A-1) p max(prior) / ((1-p) prior_k))`` makes the quantal agent play ``k`` with
    probability ``>= p``; plus the zero contract (the payment floor). Pure array code: the same
    with traced and concrete values. With limited liability the LPs go to the batched dual
    simplex alone (no interior-point fallback: a start is a heuristic, and a program the dual
    simplex leaves unsettled starts from the zero contract instead), which halves the design's
    compile time (~10 s -> ~5 s per program on 2 CPU cores)."""
    A, O = problem.num_actions, problem.num_outcomes
    batch = problem.batch_shape
    dtype = problem.dtype
    acts = np.arange(A) if target_action is None else np.array([int(target_action)])
    pr_max = jnp.max(prior, axis=-1, keepdims=True)
    pos = prior > 0
    margin = temperature[..., None] * jnp.log(
        max(A - 1, 1) * p * pr_max / ((1 - p) * jnp.where(pos, prior, 1.0)))
    margin = jnp.where(pos, margin, 0.0)
    ut = problem.agent_utility
    if ut is None:
        has_lo = problem.limited_liability
        lo = jnp.zeros(batch, dtype)
    else:
        has_lo, _ = ut.has_level_bounds(problem.limited_liability)
        lo = jnp.broadcast_to(ut.level_bounds(problem.limited_liability, dtype)[0], batch)
    c, G, h = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility,
                          margin)
    c, G, h = c[..., acts, :], G[..., acts, :, :], h[..., acts, :]
    n = int(np.prod(batch, dtype=np.int64)) * len(acts)
    c, G, h = c.reshape(n, O), G.reshape(n, A, O), h.reshape(n, A)
    if has_lo:
        lo_n = jnp.broadcast_to(lo[..., None], (*batch, len(acts))).reshape(n)
        x, _, status, _, _ = solve_nonneg_lps(c, G, h - lo_n[:, None] * jnp.sum(G, axis=-1),
                                              method="dual_simplex")
        v = x + lo_n[:, None]
    else:
        v, _, status, _, _ = solve_free_lps(c, G, h)
    v = v.reshape((*batch, len(acts), O))
    ok = (status == Result.CONVERGED).reshape((*batch, len(acts), 1))
    if ut is None:
        t = v
    else:
        ut_s = jax.tree_util.tree_map(lambda a: a[..., None, None], ut)
        t = ut_s.u_inv(v)
    t = jnp.where(ok & jnp.isfinite(t), t, 0.0)
    zero = jnp.zeros((*batch, 1, O), dtype)
    if ut is not None and math.isfinite(ut.payment_floor):
        zero = zero + ut.payment_floor
    return jnp.concatenate([t, zero], axis=-2)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _design(problem, temperature, prior, p_min, audit_cost, cap, tol, solver, *, max_steps):
    dtype = problem.dtype
    batch = problem.batch_shape
    params = dict(pa=problem, temperature=temperature, prior=prior)
    # the loop and the warm starts see no gradients; the value gets them by the envelope theorem
    sg = jax.lax.stop_gradient
    starts = _warm_starts(sg(problem), sg(temperature), sg(prior), sg(p_min),
                          solver.target_action)
    consts = dict(p_min=p_min, audit_cost=audit_cost, cap=cap)

    def one_problem(args):
        params, starts, solver = args
        prob = dict(params, **consts)

        def from_start(start):
            # stop early only far inside the tolerance: the iterates keep improving the
            # constraints long after the residual first dips below tol
            it = iterate(solver, sg(dict(prob, start=start)), tol * _STOP_FACTOR,
                         jax.random.key(0), max_steps=max_steps)
            res, viol, stat = solver.kkt(sg(prob), it.state)
            code = jnp.where((res <= tol) & (it.result != Result.NONFINITE), Result.CONVERGED,
                             jnp.where(it.result == Result.CONVERGED,
                                       Result.MAX_STEPS_REACHED, it.result))
            return it.state, code, res, viol, stat, it.num_steps

        state, result, res, viol, stat, steps = jax.vmap(from_start)(starts)
        f = jax.vmap(lambda x: solver.parts(sg(prob), x, sg(prob["temperature"]))[0])(state[0])
        feasible = viol <= tol
        i = jnp.where(jnp.any(feasible), jnp.argmin(jnp.where(feasible, f, jnp.inf)),
                      jnp.argmin(viol))
        pick = lambda a: a[i]  # noqa: E731
        x, lam = jax.tree_util.tree_map(pick, state[0]), sg(state[2][i])
        x = sg(x)
        _, g, terms = solver.parts(prob, x, prob["temperature"])
        # envelope theorem: d value = d [E_pi V + lam_IR (E_pi U - R)] at (x, lam) fixed
        extra = lam[0] * (terms["EU"] - prob["pa"].reservation_utility)
        value = terms["EV"] + extra - sg(extra)
        gain = jnp.max(jnp.where(prob["prior"] > 0, terms["U"], -jnp.inf)) - terms["EU"]
        return dict(t=terms["t"], w=terms["w"], q=terms["q"], pi=terms["pi"], pay=terms["pay"],
                    EU=terms["EU"], value=value, kkt=res[i], viol=viol[i], stat=stat[i],
                    result=result[i], steps=steps[i], gain=gain,
                    R=prob["pa"].reservation_utility)

    # learning rate: a leaf of the solver, broadcast with the batch
    solver_b = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(jnp.asarray(a, dtype), batch),
                                      solver)
    out = batch_map(one_problem, (params, starts, solver_b), batch_shape=batch)
    code = jnp.where(jnp.all(jnp.isfinite(out["t"]), axis=-1), out["result"], Result.NONFINITE)
    if solver.target_action is not None:
        code = jnp.where(prior[..., solver.target_action] > 0, code, Result.INFEASIBLE)
    value = out["value"]
    if solver.target_action is not None:
        value = no_gradient(value, "quantal_contract with a target_action (its objective is "
                                   "the payment, not the principal's value)")
    stop = jax.lax.stop_gradient
    return Contract(
        payments=stop(out["t"]),
        action=jnp.argmax(out["pi"], axis=-1).astype(jnp.int32),
        action_probs=stop(out["pi"]),
        principal_value=value,
        agent_value=stop(out["EU"]),
        expected_payment=stop(jnp.sum(out["pi"] * out["pay"], axis=-1)),
        incentive_violation=stop(out["gain"]),
        participation_violation=stop(jnp.maximum(out["R"] - out["EU"], 0.0)),
        result=code.astype(jnp.int32),
        certificate=stop(out["kkt"]),
        audit_rate=stop(out["q"]),
        base_payment=stop(out["w"]),
        stats={"constraint_violation": stop(out["viol"]), "stationarity": stop(out["stat"]),
               "num_steps": out["steps"] * solver.inner_steps},
    )


def _scalar(x, name, *, lo=None, hi=None, lo_open=False, hi_open=False):
    """Validate a (possibly traced) scalar option; return it as an array."""
    a = as_float_array(x, name)
    if a.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {tuple(a.shape)}")
    if is_concrete(a):
        v = float(a)
        bad = not math.isfinite(v)
        if lo is not None:
            bad |= v < lo or (lo_open and v == lo)
        if hi is not None:
            bad |= v > hi or (hi_open and v == hi)
        if bad:
            lb = "(" if lo_open else "["
            hb = ")" if hi_open else "]"
            raise ValueError(f"{name} must be in {lb}{lo}, {hi}{hb}, got {x!r}")
    return a


def quantal_contract(problem: PrincipalAgent, agent: QuantalResponse, *, target_action=None,
                     min_target_prob=0.9, audit_cost=None, max_payment=None,
                     outer_steps: int = 40, inner_steps: int = 100, learning_rate=0.05,
                     anneal: float = 0.0, tol=1e-4) -> Contract:
    r"""Design a contract against a quantal-response agent (see the module docstring).

    Usually called through :func:`mechanisms.optimal_contract` with
    ``agent=QuantalResponse(temperature, prior)``. Pure and jittable: the same answer eagerly,
    inside ``jax.jit`` and under ``jax.vmap`` over the temperature, the prior or any field of
    the problem. Without ``target_action``, ``principal_value`` is differentiable with respect
    to all of them (envelope theorem).

    Args:
      problem: a (possibly batched) :class:`PrincipalAgent`.
      agent: the :class:`QuantalResponse` agent (its temperature and prior may carry the
        problem's batch axes).
      target_action: ``None`` to maximise the principal's value, or the action ``k`` (a static
        int) to implement at least cost with probability ``>= min_target_prob``.
      min_target_prob: the requested probability of ``target_action`` (in ``(0, 1)``).
      audit_cost: ``None`` (outcomes always observed, at the problem's ``monitoring_cost``) or
        the principal's cost per audit; then the audit rate and a base payment are designed too.
      max_payment: optional cap on every payment (a budget or legal limit; with a designed audit
        rate it also keeps "rare audits with huge payments" from running off to infinity).
      outer_steps: the budget of augmented-Lagrangian iterations (``max_steps`` of the loop).
      inner_steps: Adam steps per iteration (static).
      learning_rate: Adam step size in units of the payoff scale.
      anneal: fraction of ``outer_steps`` over which the temperature is annealed.
      tol: KKT-residual tolerance for ``Result.CONVERGED``.

    Returns:
      :class:`mechanisms.Contract`; ``certificate`` is the KKT residual, ``stats["num_steps"]``
      the Adam steps taken.

    Raises:
      TypeError: on a problem or agent of the wrong type, a non-int ``target_action``.
      ValueError: on options out of range or a prior of the wrong length.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.])
      >>> c = mechanisms.quantal_contract(pa, mechanisms.QuantalResponse(0.1, [0.5, 0.5]))
      >>> int(c.action), round(float(c.principal_value), 2)
      (1, 5.29)
    """
    if not isinstance(problem, PrincipalAgent):
        raise TypeError(f"problem must be a PrincipalAgent, got {type(problem).__name__}")
    if not isinstance(agent, QuantalResponse):
        raise TypeError(f"agent must be a QuantalResponse, got {type(agent).__name__}")
    A = problem.num_actions
    batch = problem.batch_shape
    dtype = problem.dtype
    prior = _prior(agent, A, dtype)
    try:
        prior = jnp.broadcast_to(prior, (*batch, A))
        temperature = jnp.broadcast_to(agent.temperature.astype(dtype), batch)
    except ValueError:
        raise ValueError(f"the agent's temperature {tuple(agent.temperature.shape)} and prior "
                         f"{tuple(prior.shape)} must be scalars / [actions] or carry the "
                         f"problem's batch shape {batch}") from None
    if target_action is not None:
        if isinstance(target_action, bool) or not isinstance(target_action, int | np.integer):
            raise TypeError(f"target_action must be an int or None, got {target_action!r}")
        if not 0 <= int(target_action) < A:
            raise ValueError(f"target_action must be in [0, {A}), got {target_action}")
        target_action = int(target_action)
        p = _scalar(min_target_prob, "min_target_prob", lo=0.0, hi=1.0, lo_open=True,
                    hi_open=True)
    else:
        p = jnp.asarray(0.5)
    audit = audit_cost is not None
    k_audit = _scalar(0.0 if audit_cost is None else audit_cost, "audit_cost", lo=0.0)
    for name, v in (("outer_steps", outer_steps), ("inner_steps", inner_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    lr = _scalar(learning_rate, "learning_rate", lo=0.0, lo_open=True)
    if not 0 <= float(anneal) <= 1:
        raise ValueError(f"anneal must be in [0, 1], got {anneal!r}")
    cap = jnp.asarray(jnp.inf, dtype)
    if max_payment is not None:
        cap = _scalar(max_payment, "max_payment", lo=0.0, lo_open=True)
    tol = _scalar(tol, "tol", lo=0.0)
    solver = QuantalDesign(learning_rate=lr.astype(dtype), target_action=target_action,
                           audit=audit, inner_steps=int(inner_steps),
                           anneal_steps=int(anneal * outer_steps) if anneal > 0 else 0,
                           total_steps=int(outer_steps) * int(inner_steps))
    return _design(problem, temperature, prior, p.astype(dtype), k_audit.astype(dtype),
                   cap.astype(dtype), tol.astype(dtype), solver,
                   max_steps=int(outer_steps))
