r"""Contracts under model uncertainty: Bayes-optimal, chance-constrained, max-min and Carroll.

The principal's uncertainty about the agent's technology is a set of posterior draws
``P^s [S, actions, outcomes]`` (and costs ``c^s``), given as a :class:`PrincipalAgent` whose
leading batch axis indexes the draws (e.g. :meth:`AgentPosterior.problems`). **The agent knows
its own technology**: in world ``s`` it best-responds to the contract under ``P^s``. So a
contract ``t`` earns the principal

.. math::
    V^s(t) = P^s_{a^s(t)} (r - t - m), \qquad a^s(t) \in \arg\max_a P^s_a t - c^s_a

(ties in the principal's favour; ``0`` if even the best action leaves the agent below its
reservation utility), and its posterior value is ``mean_s V^s(t)``, its worst case ``min_s
V^s(t)`` (:func:`evaluate_contract`).

What IC means here. Requiring incentive compatibility *on average over the posterior*
(``mean_s (P^s_k - P^s_a) t >= mean_s (c^s_k - c^s_a)``) describes an agent that shares the
principal's uncertainty; since everything is linear in ``P`` that program is exactly the
plug-in design on the posterior mean, and an agent who knows ``P^s`` shirks in every world where
the plug-in's (tight) IC constraint fails, typically about half of them. With an informed agent,
IC is a constraint **world by world**, and the designs differ in how many worlds must satisfy it:

* :func:`maxmin_contract`: IC and IR for target ``k`` in every draw (the credible set), maximising
  the worst-case value ``min_s P^s_k (r - t - m)`` (an epigraph LP);
* :func:`chance_constrained_contract`: IC and IR for ``k`` with posterior probability at least
  ``1 - epsilon`` by sample-average approximation; the chance constraint is replaced by its
  convex CVaR bound (Nemirovski and Shapiro 2006), ``CVaR_epsilon(max_rows g^s(t)) <= 0``, which
  is one LP in ``(t, tau, z)`` and implies that at least a ``1 - epsilon`` fraction of the draws
  satisfy IC and IR;
* :func:`bayes_optimal_contract`: maximises the posterior expected value ``mean_s V^s(t)``, the
  agent best-responding world by world. That objective is piecewise linear and non-concave (the
  exact problem is a mixed-integer program over which worlds get which action); it is maximised
  over the contracts of one batched LP call -- for every target action the chance-constrained
  contracts on a grid of ``epsilon`` (``epsilon -> 0``: IC in every draw), the plug-in
  (posterior-mean) contract and the max-min contract -- each evaluated exactly by
  :func:`evaluate_contract`. It is therefore never worse than any of them.
* :func:`carroll_linear_contract`: Carroll (2015)'s robust linear contract, the max-min optimum
  when the agent may also have *unknown* actions: share ``alpha* = sqrt(c_k / B_k)`` with ``k``
  maximising the guarantee ``(sqrt(B_k) - sqrt(c_k))^2`` (``B = P r``), a closed form.

Each returns a :class:`RobustContract` with its value under the posterior and in the worst case:
their gap to the Bayes-optimal contract is the price of robustness. All LPs (every target, every
epsilon, the plug-in and max-min) are one batch of :func:`socialign.solvers.linprog`'s dual
simplex in shared variables and rows (every cost is non-negative, so its slack basis is dual
feasible): one compiled program per problem shape serves all three LP designs.

The designers :class:`BayesOptimalContract`, :class:`ChanceConstrainedContract`,
:class:`MaxMinContract` and :class:`CarrollLinearContract` put them on the one verb
:func:`socialign.mechanisms.design` (the problem's batch axis is the posterior draws).

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  A. Nemirovski and A. Shapiro, "Convex approximations of chance constrained programs", SIAM J.
  Optim. 2006. G. Carroll, "Robustness and linear contracts", American Economic Review 2015.
  D. Bertsimas, D. B. Brown and C. Caramanis, "Theory and applications of robust optimization",
  SIAM Review 2011.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import solvers
from ...kernel import Result, as_float_array, is_concrete, pytree_dataclass, static_field
from .._design import Design, Designer
from .._principal_agent import PrincipalAgent, min_pay_lps

__all__ = ["BayesOptimalContract", "CarrollLinearContract", "ChanceConstrainedContract",
           "MaxMinContract", "PosteriorValue", "RobustContract", "bayes_optimal_contract",
           "carroll_linear_contract", "chance_constrained_contract", "evaluate_contract",
           "maxmin_contract"]


def _check_samples(samples):
    if not isinstance(samples, PrincipalAgent):
        raise TypeError(f"samples must be a PrincipalAgent whose leading batch axis indexes "
                        f"posterior draws, got {type(samples).__name__}")
    if len(samples.batch_shape) != 1:
        raise ValueError(f"samples must have exactly one batch axis (the draws); got batch "
                         f"shape {samples.batch_shape}")
    if samples.agent_utility is not None:
        raise ValueError("robust contracts here are for risk-neutral agents "
                         "(samples.agent_utility must be None)")
    if not samples.limited_liability:
        raise ValueError("robust contracts here assume limited liability (payments >= 0)")


# --------------------------------------------------------------------------------------------
# evaluation under the posterior
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class PosteriorValue:
    """A contract's value across posterior draws, the agent best-responding in each.

    Attributes:
      values: ``[S]`` the principal's value in each draw.
      actions: ``[S]`` the agent's action in each draw (``-1``: it declines the contract).
      mean: the posterior expected value ``mean_s values``.
      worst_case: ``min_s values``.
      implement_probability: the fraction of draws in which ``target_action`` is played (NaN-free:
        0 when no target is given).

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.PosteriorValue.__name__
      'PosteriorValue'
    """

    values: jax.Array
    actions: jax.Array
    mean: jax.Array
    worst_case: jax.Array
    implement_probability: jax.Array


@jax.jit
def _evaluate(samples, payments, target):
    P = samples.outcome_probs  # [S, A, O]
    U = jnp.einsum("sao,so->sa", P, payments) - samples.costs
    V = jnp.einsum("sao,so->sa", P, samples.rewards - payments - samples.monitoring_cost)
    scale = 1.0 + jnp.max(jnp.abs(U), axis=-1, keepdims=True)
    tie = 1e-9 * scale if U.dtype == jnp.float64 else 1e-5 * scale
    best = U >= jnp.max(U, axis=-1, keepdims=True) - tie
    a = jnp.argmax(jnp.where(best, V, -jnp.inf), axis=-1)
    Ua = jnp.take_along_axis(U, a[:, None], axis=-1)[:, 0]
    accepts = Ua >= samples.reservation_utility - tie[:, 0]
    v = jnp.where(accepts, jnp.take_along_axis(V, a[:, None], axis=-1)[:, 0], 0.0)
    acts = jnp.where(accepts, a, -1).astype(jnp.int32)
    return PosteriorValue(values=v, actions=acts, mean=jnp.mean(v), worst_case=jnp.min(v),
                          implement_probability=jnp.mean((acts == target).astype(v.dtype)))


def evaluate_contract(samples: PrincipalAgent, payments, target_action=None) -> PosteriorValue:
    r"""The principal's value of ``payments`` in every posterior draw, the agent best-responding.

    In draw ``s`` the agent plays ``a^s = argmax_a P^s_a t - c^s_a`` (ties within a relative
    ``1e-9`` broken in the principal's favour) if that reaches its reservation utility, and
    declines otherwise (value 0); the principal earns ``P^s_{a^s} (r - t - m)``.

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]`` (the
        draws), risk neutral, limited liability.
      payments: ``[outcomes]`` (shared by the draws) or ``[S, outcomes]``.
      target_action: optional int: report the fraction of draws in which it is played.

    Returns:
      A :class:`PosteriorValue`.

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent, or payments of the
        wrong shape.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])   # two draws
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> ev = bayes.evaluate_contract(draws, [0., 2.5], target_action=1)
      >>> [round(float(v), 4) for v in ev.values], float(ev.implement_probability)
      ([14.0, 7.0], 0.5)
    """
    _check_samples(samples)
    t = as_float_array(payments, "payments", dtype=samples.dtype)
    S, O = samples.batch_shape[0], samples.num_outcomes
    if t.shape not in ((O,), (S, O)):
        raise ValueError(f"payments must have shape ({O},) or ({S}, {O}); got {tuple(t.shape)}")
    target = -2 if target_action is None else int(target_action)
    return _evaluate(samples, jnp.broadcast_to(t, (S, O)), jnp.asarray(target, jnp.int32))


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class RobustContract:
    """A contract designed under posterior uncertainty, with its value in two lights.

    Attributes:
      payments: ``[outcomes]``.
      action: the target action the design implements (``int32``).
      posterior_value: ``mean_s V^s(t)`` with the agent best-responding in each draw.
      worst_case_value: ``min_s V^s(t)`` over the draws (for :func:`carroll_linear_contract`:
        Carroll's guarantee over unknown technologies).
      implement_probability: the fraction of draws in which ``action`` is played.
      design_value: the design program's own objective at its optimum (what it promised).
      result: ``int32`` :class:`socialign.kernel.Result` (``INFEASIBLE`` when no action can be
        implemented as required).
      certificate: the LP's duality gap (0 for closed forms).
      stats: diagnostics (``"evaluation"``: the :class:`PosteriorValue`; per design more).

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.RobustContract.__name__
      'RobustContract'
    """

    payments: jax.Array
    action: jax.Array
    posterior_value: jax.Array
    worst_case_value: jax.Array
    implement_probability: jax.Array
    design_value: jax.Array
    result: jax.Array
    certificate: jax.Array
    stats: dict


def _finish(samples, payments, action, design_value, result, certificate, stats):
    ev = _evaluate(samples, payments[None, :].repeat(samples.batch_shape[0], 0), action)
    return RobustContract(payments=payments, action=action.astype(jnp.int32),
                          posterior_value=ev.mean, worst_case_value=ev.worst_case,
                          implement_probability=ev.implement_probability,
                          design_value=design_value, result=result.astype(jnp.int32),
                          certificate=certificate, stats={**stats, "evaluation": ev})


# --------------------------------------------------------------------------------------------
# the LPs: one batch for every design (CVaR chance constraints, the plug-in, max-min)
# --------------------------------------------------------------------------------------------
def _rows(samples):
    """Per draw and target ``k``: ``G [S, A, A, O]``, ``h [S, A, A]`` (IC rows then IR)."""
    _, G, h = min_pay_lps(samples.outcome_probs, samples.costs, samples.reservation_utility)
    return G, h


def _net(samples):
    """``[S, A]`` expected ``r - m`` of each action in each draw."""
    return jnp.einsum("sao,so->sa", samples.outcome_probs,
                      samples.rewards - samples.monitoring_cost)


def _robust_lps(samples, eps):
    r"""Every design program as one batch ``[E + 2, A]`` (slot ``e < E``: the CVaR-SAA program at
    ``eps[e]``; slot ``E``: the plug-in; slot ``E + 1``: max-min; one program per target ``k``).

    All share the variables ``x = (t [O], tau (free), w >= 0, z [S] >= 0)`` and ``S R + S`` rows
    (``R = A`` IC and IR rows per draw; unused rows are ``0 <= 0``), so one compiled dual simplex
    solves them all: every cost is ``>= 0`` (the slack basis is dual feasible, no phase 1).

    * CVaR: min ``bar P_k t`` s.t. ``G^s_k t - tau - z_s <= h^s_k`` and
      ``tau + sum_s z_s / (eps S) <= 0``.
    * plug-in: min ``bar P_k t`` s.t. ``bar G_k t <= bar h_k`` (IC and IR on the posterior mean).
    * max-min: min ``w`` s.t. ``G^s_k t <= h^s_k`` and ``P^s_k t - w <= net^s_k - M_k`` with
      ``M_k = max_s net^s_k``: ``w = M_k - min_s P^s_k (r - t - m) >= 0`` for ``t >= 0``, so the
      epigraph variable is non-negative and the guarantee is ``M_k - w``.
    """
    G, h = _rows(samples)  # [S, K, R, O], [S, K, R]
    S, A, R, O = G.shape
    E = eps.shape[0]
    dtype = G.dtype
    n, m = O + 2 + S, S * R + S
    zeros = lambda *s: jnp.zeros(s, dtype)  # noqa: E731
    ones = lambda *s: jnp.ones(s, dtype)  # noqa: E731
    Gk = jnp.moveaxis(G, 1, 0).reshape(A, S * R, O)  # [K, S*R, O]
    hk = jnp.moveaxis(h, 1, 0).reshape(A, S * R)
    z_block = jnp.broadcast_to(-jnp.repeat(jnp.eye(S, dtype=dtype), R, axis=0), (A, S * R, S))
    cvar_ic = jnp.concatenate([Gk, -ones(A, S * R, 1), zeros(A, S * R, 1), z_block], axis=-1)
    cvar_row = jnp.concatenate([zeros(E, O), ones(E, 1), zeros(E, 1),
                                jnp.broadcast_to(1.0 / (eps[:, None] * S), (E, S))], axis=-1)
    cvar_A = jnp.concatenate([jnp.broadcast_to(cvar_ic, (E, A, S * R, n)),
                              jnp.broadcast_to(cvar_row[:, None, None, :], (E, A, 1, n)),
                              zeros(E, A, S - 1, n)], axis=-2)
    cvar_b = jnp.concatenate([jnp.broadcast_to(hk, (E, A, S * R)), zeros(E, A, S)], axis=-1)
    Gbar, hbar = jnp.mean(G, axis=0), jnp.mean(h, axis=0)  # [K, R, O], [K, R]
    plug_A = jnp.concatenate([jnp.concatenate([Gbar, zeros(A, R, 2 + S)], axis=-1),
                              zeros(A, m - R, n)], axis=-2)
    plug_b = jnp.concatenate([hbar, zeros(A, m - R)], axis=-1)
    Pk = jnp.moveaxis(samples.outcome_probs, 1, 0)  # [K, S, O]
    net = jnp.moveaxis(_net(samples), 1, 0)  # [K, S]
    top = jnp.max(net, axis=-1)  # [K]
    mm_A = jnp.concatenate([
        jnp.concatenate([Gk, zeros(A, S * R, 2 + S)], axis=-1),
        jnp.concatenate([Pk, zeros(A, S, 1), -ones(A, S, 1), zeros(A, S, S)], axis=-1)],
        axis=-2)
    mm_b = jnp.concatenate([hk, net - top[:, None]], axis=-1)
    c_pay = jnp.concatenate([jnp.mean(samples.outcome_probs, axis=0), zeros(A, 2 + S)], axis=-1)
    c_mm = jnp.concatenate([zeros(A, O + 1), ones(A, 1), zeros(A, S)], axis=-1)
    c = jnp.concatenate([jnp.broadcast_to(c_pay, (E + 1, A, n)), c_mm[None]], axis=0)
    A_ub = jnp.concatenate([cvar_A, plug_A[None], mm_A[None]], axis=0)
    b_ub = jnp.concatenate([cvar_b, plug_b[None], mm_b[None]], axis=0)
    bounds = [(0, None)] * O + [(None, None)] + [(0, None)] * (1 + S)
    return c, A_ub, b_ub, bounds, top


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _robust_core(samples, eps, tol, *, max_steps):
    """Solve every design program (:func:`_robust_lps`); ``t [E+2, A, O]``, the design value
    ``[E+2, A]`` (``-inf`` where not solved), LP status and duality gap."""
    S, O = samples.batch_shape[0], samples.num_outcomes
    # CVaR at a level <= 1/S is the largest draw's value: clip (the same program, well scaled)
    eps = jnp.maximum(eps, 1.0 / S)
    c, A_ub, b_ub, bounds, top = _robust_lps(samples, eps)
    sol = solvers.linprog(c, A_ub, b_ub, bounds=bounds, method="dual_simplex", tol=tol,
                          max_steps=max_steps)
    t = jnp.maximum(sol.x[..., :O], 0.0)  # >= 0 up to the LP's tolerance
    ok = sol.status == Result.CONVERGED
    gross = jnp.mean(_net(samples), axis=0)  # [A]
    value = jnp.concatenate([gross - sol.fun[:-1], (top - sol.fun[-1])[None]], axis=0)
    return t, jnp.where(ok, value, -jnp.inf), sol.status, sol.duality_gap


def _solve_all(samples, eps, tol, max_steps):
    """The designs' LP batch for the epsilons ``eps`` padded to the default grid's length (so
    every designer shares one compiled program per problem shape)."""
    eps = eps.reshape(-1)
    if eps.shape[0] < len(_EPS_GRID):
        eps = jnp.asarray(_EPS_GRID, eps.dtype).at[:eps.shape[0]].set(eps)
    tol = jnp.asarray(_lp_tol(samples, tol), samples.dtype)
    return eps, _robust_core(samples, eps, tol, max_steps=max_steps)


def _pick_slot(t, design, status, gap, slot):
    """The best target of one slot: payments, action, design value, result code, gap."""
    t, design, status, gap = t[slot], design[slot], status[slot], gap[slot]
    k = jnp.argmax(design)
    settled = (status == Result.CONVERGED) | (status == Result.INFEASIBLE)
    code = jnp.where(jnp.all(settled),
                     jnp.where(jnp.any(status == Result.CONVERGED), Result.CONVERGED,
                               Result.INFEASIBLE),
                     jnp.max(jnp.where(settled, 0, status)))
    return t[k], k, design[k], code, gap[k]


def _check_eps(epsilon, S):
    e = as_float_array(epsilon, "epsilon")
    if is_concrete(e):
        v = np.asarray(e)
        if not np.all((v > 0) & (v < 1)):
            raise ValueError(f"epsilon must be in (0, 1), got {v!r}")
    return e


def _lp_tol(samples, tol):
    if tol is None:
        return 1e-9 if samples.dtype == jnp.float64 else 1e-6
    return tol


#: the default epsilon grid of :func:`bayes_optimal_contract` (the first requires every draw)
_EPS_GRID = (1e-9, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def chance_constrained_contract(samples: PrincipalAgent, epsilon=0.1, *, tol=None,
                                max_steps: int | None = None) -> RobustContract:
    r"""Cheapest contract whose IC and IR hold with posterior probability ``>= 1 - epsilon``.

    For each target action ``k``, sample-average approximation over the draws with the chance
    constraint ``Pr_s[g^s(t) <= 0] >= 1 - epsilon`` (``g^s`` the largest IC/IR violation of
    ``k`` in draw ``s``) replaced by its convex conservative bound
    ``CVaR_epsilon(g^s(t)) <= 0`` (Nemirovski and Shapiro 2006; Rockafellar-Uryasev form):

    .. math::
        \min_{t \ge 0, \tau, z \ge 0} \bar P_k t \quad \text{s.t.}\quad
        G^s_{k} t - h^s_{k} \le \tau + z_s \;\forall s, \qquad
        \tau + \frac{1}{\epsilon S} \sum_s z_s \le 0.

    Any feasible ``t`` violates IC or IR in at most ``epsilon S`` draws. All targets form one
    batched LP (:func:`socialign.solvers.linprog`'s dual simplex: every cost is non-negative,
    so no phase 1; the batch is shared with the other robust designs, one compiled program per
    problem shape); the target with the best design value ``bar B_k - bar P_k t`` is kept.
    Under fresh posterior draws the constraint holds with probability about ``1 - epsilon`` or
    more (SAA error shrinks as ``S`` grows).

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``
        (posterior draws), risk neutral, limited liability.
      epsilon: the allowed violation probability in ``(0, 1)``, a scalar (may be traced);
        ``epsilon < 1 / S`` requires IC in every draw.
      tol: the LP tolerance (default :func:`socialign.kernel.lp_tol`).
      max_steps: pivot limit of the LP (static; ``None``: linprog's default).

    Returns:
      A :class:`RobustContract` (``stats["epsilon"]``).

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent, no limited liability,
        or ``epsilon`` outside ``(0, 1)`` or not a scalar.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> cc = bayes.chance_constrained_contract(draws, epsilon=0.4)   # IC in both draws
      >>> [round(float(x), 4) for x in cc.payments], float(cc.implement_probability)
      ([0.0, 5.0], 1.0)
    """
    _check_samples(samples)
    e = _check_eps(epsilon, samples.batch_shape[0]).astype(samples.dtype)
    if e.size != 1:
        raise ValueError(f"epsilon must be a scalar, got shape {tuple(e.shape)}")
    _, (t, design, status, gap) = _solve_all(samples, e, tol, max_steps)
    tk, k, dv, code, g = _pick_slot(t, design, status, gap, 0)
    return _finish(samples, tk, k, dv, code, g, {"epsilon": e.reshape(())})


def maxmin_contract(samples: PrincipalAgent, *, tol=None, max_steps: int | None = None
                    ) -> RobustContract:
    r"""The max-min contract over a credible set of draws: the best worst case.

    For each target ``k``: maximise ``min_s P^s_k (r - t - m)`` subject to IC and IR of ``k`` in
    every draw ``s`` (the draws are the credible set: pass the draws you want to guard against,
    e.g. those inside a highest-density region), an epigraph LP in ``(t, w)`` with
    ``w = max_s net^s_k - min_s P^s_k (r - t - m) >= 0`` (non-negative costs: the dual simplex
    of :func:`socialign.solvers.linprog`, in the batch shared with the other robust designs);
    the target with the best guarantee is kept. Its ``worst_case_value`` is the guarantee;
    ``posterior_value`` shows what it costs on average (the price of robustness).

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``,
        risk neutral, limited liability.
      tol: the LP tolerance.
      max_steps: pivot limit of the LP (static; ``None``: linprog's default).

    Returns:
      A :class:`RobustContract`.

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent or no limited
        liability.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> mm = bayes.maxmin_contract(draws)
      >>> [round(float(x), 4) for x in mm.payments], round(float(mm.worst_case_value), 4)
      ([0.0, 5.0], 9.0)
    """
    _check_samples(samples)
    eps = jnp.asarray(_EPS_GRID, samples.dtype)
    _, (t, design, status, gap) = _solve_all(samples, eps, tol, max_steps)
    tk, k, dv, code, g = _pick_slot(t, design, status, gap, -1)
    return _finish(samples, tk, k, dv, code, g, {})


def bayes_optimal_contract(samples: PrincipalAgent, *, epsilons=None, tol=None,
                           max_steps: int | None = None) -> RobustContract:
    r"""The contract with the best posterior expected value, the agent best-responding per draw.

    Maximises ``mean_s V^s(t)`` with ``V^s(t) = P^s_{a^s(t)} (r - t - m)`` and ``a^s(t)`` the
    informed agent's best response in draw ``s`` (:func:`evaluate_contract`). Requiring IC only
    on average would describe an agent as uncertain as the principal and reduce to the plug-in
    contract (linearity in ``P``); requiring it in every draw is safe but may overpay; the best
    trade-off gives up incentives in some draws. That exact problem is a mixed-integer program,
    so it is solved over a family that spans the trade-off: for every target action, the
    chance-constrained (CVaR-SAA) contract of :func:`chance_constrained_contract` at every
    ``epsilon`` of a grid (the smallest requires IC in every draw), the plug-in contract (IC and
    IR on the posterior mean) and the max-min contract of :func:`maxmin_contract` -- one batched
    LP call, ``(epsilons + 2) x actions`` programs -- every candidate evaluated exactly on the
    draws, the best returned. It is never worse in posterior value than the plug-in, the
    every-draw or the max-min contract.

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``
        (posterior draws), risk neutral, limited liability.
      epsilons: ``[E]`` the violation probabilities to try (default: every draw, then 0.02 to
        0.7; eleven values; a shorter list shares the default's compiled program).
      tol: the LP tolerance.
      max_steps: pivot limit of the LP (static; ``None``: linprog's default).

    Returns:
      A :class:`RobustContract`; ``stats`` holds ``"epsilon"`` of the chosen candidate (``-1``
      for the plug-in, ``-2`` for max-min) and ``"candidate_values"`` ``[E + 2, actions]``
      (posterior value of each candidate: the epsilons, then the plug-in, then max-min; ``-inf``
      where the program has no solution).

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent, no limited
        liability, or an ``epsilon`` outside ``(0, 1)``.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> b = bayes.bayes_optimal_contract(draws)
      >>> [round(float(x), 4) for x in b.payments], round(float(b.posterior_value), 4)
      ([0.0, 5.0], 10.5)
    """
    _check_samples(samples)
    S = samples.batch_shape[0]
    e = _check_eps(_EPS_GRID if epsilons is None else epsilons, S).astype(samples.dtype)
    num = int(e.size)
    eps, (t, design, status, gap) = _solve_all(samples, e, tol, max_steps)
    return _bayes_select(samples, eps, t, design, status, gap, num)


@functools.partial(jax.jit, static_argnames=("num",))
def _bayes_select(samples, eps, t, design, status, gap, num):
    C, A, O = t.shape  # C = E + 2 slots
    S = samples.batch_shape[0]
    # slots of the padding epsilons (a shorter list than the grid) are not candidates
    slot = jnp.arange(C)
    used = (slot < num) | (slot >= C - 2)
    ok = (status == Result.CONVERGED) & used[:, None]  # [C, A]
    cand_k = jnp.broadcast_to(jnp.arange(A, dtype=jnp.int32), (C, A))
    evals = jax.vmap(jax.vmap(lambda tt, kk: _evaluate(samples, jnp.broadcast_to(tt, (S, O)),
                                                       kk)))(t, cand_k)
    vals = jnp.where(ok, evals.mean, -jnp.inf)
    i = jnp.argmax(vals.reshape(-1))
    ci, ki = i // A, i % A
    cand_eps = jnp.concatenate([eps, -jnp.ones((1,), eps.dtype), -2 * jnp.ones((1,), eps.dtype)])
    settled = (status == Result.CONVERGED) | (status == Result.INFEASIBLE) | ~used[:, None]
    code = jnp.where(jnp.all(settled),
                     jnp.where(jnp.any(ok), Result.CONVERGED, Result.INFEASIBLE),
                     jnp.max(jnp.where(settled, 0, status)))
    design_i = jnp.where(jnp.isfinite(design[ci, ki]), design[ci, ki], vals[ci, ki])
    return _finish(samples, t[ci, ki], ki, design_i, code, gap[ci, ki],
                   {"epsilon": cand_eps[ci], "candidate_values": vals})


# --------------------------------------------------------------------------------------------
# Carroll (2015): the robust linear contract
# --------------------------------------------------------------------------------------------
def carroll_linear_contract(samples: PrincipalAgent) -> RobustContract:
    r"""Carroll (2015)'s max-min linear contract against unknown actions, in closed form.

    The principal knows some of the agent's actions (here: the posterior-mean technology,
    expected output ``B_k = bar P_k r`` at cost ``c_k``) but the agent may have others. A linear
    contract ``t = alpha r`` guarantees ``(1 - alpha) / alpha * max_k (alpha B_k - c_k)``: the
    agent earns at least ``max_k (alpha B_k - c_k)`` and the worst unknown action gives it that
    at zero cost with the least output. Maximising over ``alpha`` gives, for each known action,
    ``alpha_k = sqrt(c_k / B_k)`` and the guarantee ``(sqrt(B_k) - sqrt(c_k))^2``; Carroll's
    theorem: the best of these is the max-min optimum over *all* contracts. Needs rewards
    ``>= 0`` (they are the output), costs ``>= 0`` and a zero reservation utility. For a
    costless best action the guarantee ``B_k`` is a supremum approached as ``alpha -> 0``, not
    attained (``alpha = 0`` is returned).

    ``worst_case_value`` is Carroll's guarantee; ``posterior_value`` evaluates ``alpha* r`` on
    the draws with the known actions only (what robustness to unknown actions costs when there
    are none).

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``.

    Returns:
      A :class:`RobustContract` with ``stats["share"]`` ``alpha*`` and ``stats["guarantees"]``
      per action.

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent, no limited liability,
        negative rewards or costs.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> draws = mechanisms.PrincipalAgent(np.array([[[0.6, 0.4], [0.2, 0.8]]]), [0.5, 1.],
      ...                                   [0., 20.])
      >>> cl = bayes.carroll_linear_contract(draws)   # B = (8, 16), c = (0.5, 1)
      >>> float(cl.stats["share"]), float(cl.worst_case_value), float(cl.posterior_value)
      (0.25, 9.0, 12.0)
    """
    _check_samples(samples)
    if is_concrete(samples.rewards) and bool(np.any(np.asarray(samples.rewards) < 0)):
        raise ValueError("carroll_linear_contract needs rewards >= 0 (they are the output)")
    if is_concrete(samples.costs) and bool(np.any(np.asarray(samples.costs) < 0)):
        raise ValueError("carroll_linear_contract needs costs >= 0")
    return _carroll_core(samples)


@jax.jit
def _carroll_core(samples):
    B = jnp.mean(jnp.einsum("sao,so->sa", samples.outcome_probs, samples.rewards), axis=0)
    c = jnp.mean(samples.costs, axis=0)
    ok = B > c
    g = jnp.where(ok, (jnp.sqrt(B) - jnp.sqrt(c)) ** 2, 0.0)
    k = jnp.argmax(g)
    alpha = jnp.where(ok[k], jnp.sqrt(c[k] / jnp.where(B[k] > 0, B[k], 1.0)), 0.0)
    t = alpha * jnp.mean(samples.rewards, axis=0)
    out = _finish(samples, t, k, g[k], jnp.asarray(Result.CONVERGED), jnp.zeros((), B.dtype),
                  {"share": alpha, "guarantees": g})
    return RobustContract(**{**{f: getattr(out, f) for f in
                                ("payments", "action", "posterior_value",
                                 "implement_probability", "design_value", "result",
                                 "certificate", "stats")}, "worst_case_value": g[k]})


# --------------------------------------------------------------------------------------------
# Designers: the one verb
# --------------------------------------------------------------------------------------------
@jax.jit
def _violations(samples, payments, action):
    """Largest IC gain and IR shortfall of ``action`` over the draws; the agent's value per draw
    (its best response's utility, or its reservation utility if it declines)."""
    U = jnp.einsum("sao,o->sa", samples.outcome_probs, payments) - samples.costs  # [S, A]
    Uk = U[:, action]
    R = samples.reservation_utility
    ic = jnp.max(jnp.maximum(jnp.max(U, axis=-1) - Uk, 0.0))
    ir = jnp.max(jnp.maximum(R - Uk, 0.0))
    return ic, ir, jnp.maximum(jnp.max(U, axis=-1), R)


def _as_design(samples, rc: RobustContract) -> Design:
    ic, ir, agent = _violations(samples, rc.payments, rc.action)
    stats = {**rc.stats, "worst_case_value": rc.worst_case_value,
             "implement_probability": rc.implement_probability, "design_value": rc.design_value}
    return Design(mechanism=rc, principal_value=rc.posterior_value, agent_values=agent,
                  incentive_violation=ic, participation_violation=ir,
                  certificate=rc.certificate, result=rc.result, stats=stats)


class _RobustDesigner(Designer):
    """Shared checks of the robust designers: the problem's one batch axis is the draws."""

    problem_types = (PrincipalAgent,)
    #: the batch axis is the posterior draws: one design for all of them, never split by a mesh
    draws_axis = True

    def validate(self, problem) -> None:
        """Raise ``TypeError``/``ValueError`` unless ``problem`` is ``[S]`` draws of a risk-neutral
        agent with limited liability."""
        super().validate(problem)
        _check_samples(problem)


_DESIGN_DOC = """

    ``design(samples, tol=, max_steps=)`` (through :func:`socialign.mechanisms.design`) takes a
    :class:`socialign.mechanisms.PrincipalAgent` whose one batch axis ``[S]`` is the posterior
    draws and returns one :class:`socialign.mechanisms.Design` for all of them: ``mechanism``
    the :class:`RobustContract`, ``principal_value`` its posterior value (the agent
    best-responding in each draw), ``agent_values`` ``[S]`` the agent's utility in each draw,
    ``incentive_violation`` and ``participation_violation`` the largest over the draws for the
    design's target action (positive where a design gives up incentives in some draws by
    construction: read ``stats["implement_probability"]``), ``stats`` with
    ``"worst_case_value"``, ``"implement_probability"`` and ``"design_value"``. ``max_steps``
    of :func:`socialign.mechanisms.design` is not used: the LP pivots to a certificate within
    ``lp_max_steps`` (``None``: :func:`socialign.solvers.linprog`'s default). The draws are
    never split over a ``mesh`` (refused).
"""


@pytree_dataclass
class BayesOptimalContract(_RobustDesigner):
    """Designer of the Bayes-optimal contract (:func:`bayes_optimal_contract`).

    Attributes:
      epsilons: ``None`` (the default grid) or ``[E]`` violation probabilities to try (a leaf).
      lp_max_steps: static; pivot limit of the LP (``None``: linprog's default).

    Raises:
      TypeError, ValueError: from :func:`socialign.mechanisms.design` on a problem that is not
        ``[S]`` draws of a risk-neutral agent with limited liability.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> d = mechanisms.design(draws, bayes.BayesOptimalContract())
      >>> round(float(d.principal_value), 4), float(d.incentive_violation)
      (10.5, 0.0)
    """

    epsilons: Any = None
    lp_max_steps: Any = static_field(default=None)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The Bayes-optimal contract as a :class:`socialign.mechanisms.Design`."""
        return _as_design(problem, bayes_optimal_contract(
            problem, epsilons=self.epsilons, tol=tol, max_steps=self.lp_max_steps))


@pytree_dataclass
class ChanceConstrainedContract(_RobustDesigner):
    """Designer of the chance-constrained contract (:func:`chance_constrained_contract`).

    Attributes:
      epsilon: the allowed violation probability in ``(0, 1)`` (a leaf: a new value does not
        recompile).
      lp_max_steps: static; pivot limit of the LP (``None``: linprog's default).

    Raises:
      TypeError, ValueError: from :func:`socialign.mechanisms.design` on a problem that is not
        ``[S]`` draws of a risk-neutral agent with limited liability, or ``epsilon`` outside
        ``(0, 1)``.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> d = mechanisms.design(draws, bayes.ChanceConstrainedContract(0.4))
      >>> [round(float(x), 4) for x in d.mechanism.payments]
      [0.0, 5.0]
    """

    epsilon: Any = 0.1
    lp_max_steps: Any = static_field(default=None)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The chance-constrained contract as a :class:`socialign.mechanisms.Design`."""
        return _as_design(problem, chance_constrained_contract(
            problem, self.epsilon, tol=tol, max_steps=self.lp_max_steps))


@pytree_dataclass
class MaxMinContract(_RobustDesigner):
    """Designer of the max-min contract over the draws (:func:`maxmin_contract`).

    Attributes:
      lp_max_steps: static; pivot limit of the LP (``None``: linprog's default).

    Raises:
      TypeError, ValueError: from :func:`socialign.mechanisms.design` on a problem that is not
        ``[S]`` draws of a risk-neutral agent with limited liability.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> P = np.array([[[0.6, 0.4], [0.2, 0.8]], [[0.6, 0.4], [0.4, 0.6]]])
      >>> draws = mechanisms.PrincipalAgent(P, [0., 1.], [0., 20.])
      >>> d = mechanisms.design(draws, bayes.MaxMinContract())
      >>> round(float(d.stats["worst_case_value"]), 4)
      9.0
    """

    lp_max_steps: Any = static_field(default=None)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The max-min contract as a :class:`socialign.mechanisms.Design`."""
        return _as_design(problem, maxmin_contract(problem, tol=tol,
                                                   max_steps=self.lp_max_steps))


@pytree_dataclass
class CarrollLinearContract(_RobustDesigner):
    """Designer of Carroll (2015)'s robust linear contract (:func:`carroll_linear_contract`).

    A closed form: ``tol`` and ``max_steps`` are not used; ``stats["worst_case_value"]`` is
    Carroll's guarantee against unknown actions.

    Raises:
      TypeError, ValueError: from :func:`socialign.mechanisms.design` on a problem that is not
        ``[S]`` draws of a risk-neutral agent with limited liability, or negative rewards or
        costs.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms import bayes
      >>> known = mechanisms.PrincipalAgent(np.array([[[0.6, 0.4], [0.2, 0.8]]]), [0.5, 1.],
      ...                                   [0., 20.])
      >>> d = mechanisms.design(known, bayes.CarrollLinearContract())
      >>> float(d.mechanism.stats["share"]), float(d.stats["worst_case_value"])
      (0.25, 9.0)
    """

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """Carroll's linear contract as a :class:`socialign.mechanisms.Design`."""
        return _as_design(problem, carroll_linear_contract(problem))


for _cls in (BayesOptimalContract, ChanceConstrainedContract, MaxMinContract,
             CarrollLinearContract):
    _cls.__doc__ = _cls.__doc__.replace("\n    Raises:", _DESIGN_DOC.rstrip() + "\n\n    Raises:", 1)
del _cls
