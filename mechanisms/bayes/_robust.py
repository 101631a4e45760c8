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
  contracts on a grid of ``epsilon`` (``epsilon -> 0``: IC in every draw) and the plug-in
  (posterior-mean) contract -- each evaluated exactly by :func:`evaluate_contract`. It is
  therefore never worse than the plug-in or the every-world contract.
* :func:`carroll_linear_contract`: Carroll (2015)'s robust linear contract, the max-min optimum
  when the agent may also have *unknown* actions: share ``alpha* = sqrt(c_k / B_k)`` with ``k``
  maximising the guarantee ``(sqrt(B_k) - sqrt(c_k))^2`` (``B = P r``), a closed form.

Each returns a :class:`RobustContract` with its value under the posterior and in the worst case:
their gap to the Bayes-optimal contract is the price of robustness. All LPs go through
:func:`socialign.solvers.linprog` as one batch (targets x epsilons).

References:
  S. Grossman and O. Hart, "An analysis of the principal-agent problem", Econometrica 1983.
  A. Nemirovski and A. Shapiro, "Convex approximations of chance constrained programs", SIAM J.
  Optim. 2006. G. Carroll, "Robustness and linear contracts", American Economic Review 2015.
  D. Bertsimas, D. B. Brown and C. Caramanis, "Theory and applications of robust optimization",
  SIAM Review 2011.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ... import solvers
from ...kernel import Result, as_float_array, is_concrete, pytree_dataclass
from .._contracts import optimal_contract
from .._principal_agent import PrincipalAgent, min_pay_lps

__all__ = ["PosteriorValue", "RobustContract", "bayes_optimal_contract",
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
# the LPs: CVaR chance constraints (epsilon -> 0: every draw) and max-min
# --------------------------------------------------------------------------------------------
def _rows(samples):
    """Per draw and target ``k``: ``G [S, A, A, O]``, ``h [S, A, A]`` (IC rows then IR)."""
    _, G, h = min_pay_lps(samples.outcome_probs, samples.costs, samples.reservation_utility)
    return G, h


def _net(samples):
    """``[S, A]`` expected ``r - m`` of each action in each draw."""
    return jnp.einsum("sao,so->sa", samples.outcome_probs,
                      samples.rewards - samples.monitoring_cost)


def _cvar_lps(samples, eps):
    """The CVaR-SAA programs for every target ``k`` and every ``eps [E]``: ``[E, A]`` LPs in
    ``x = (t [O], tau, z [S])``: min ``mean_s P^s_k t`` s.t. ``G^s_{k,r} t - tau - z_s <= h^s_{k,r}``,
    ``tau + sum_s z_s / (eps S) <= 0``, ``z >= 0``, ``t >= 0``, ``tau`` free."""
    G, h = _rows(samples)  # [S, K, R, O], [S, K, R]
    S, A, _, O = G.shape
    R = G.shape[2]
    E = eps.shape[0]
    dtype = G.dtype
    Gk = jnp.moveaxis(G, 1, 0).reshape(A, S * R, O)  # [K, S*R, O]
    hk = jnp.moveaxis(h, 1, 0).reshape(A, S * R)
    tau_col = -jnp.ones((A, S * R, 1), dtype)
    z_block = -jnp.repeat(jnp.eye(S, dtype=dtype), R, axis=0)  # [S*R, S]
    rows = jnp.concatenate([Gk, tau_col, jnp.broadcast_to(z_block, (A, S * R, S))], axis=-1)
    cvar = jnp.concatenate([jnp.zeros((E, O), dtype), jnp.ones((E, 1), dtype),
                            1.0 / (eps[:, None] * S) * jnp.ones((E, S), dtype)], axis=-1)
    A_ub = jnp.concatenate([jnp.broadcast_to(rows, (E, A, S * R, O + 1 + S)),
                            jnp.broadcast_to(cvar[:, None, None, :], (E, A, 1, O + 1 + S))],
                           axis=-2)
    b_ub = jnp.concatenate([jnp.broadcast_to(hk, (E, A, S * R)), jnp.zeros((E, A, 1), dtype)],
                           axis=-1)
    Pbar = jnp.mean(samples.outcome_probs, axis=0)  # [A, O]
    c = jnp.concatenate([Pbar, jnp.zeros((A, 1 + S), dtype)], axis=-1)
    c = jnp.broadcast_to(c, (E, A, O + 1 + S))
    bounds = [(0, None)] * O + [(None, None)] + [(0, None)] * S
    return c, A_ub, b_ub, bounds


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _cvar_core(samples, eps, tol, *, max_steps):
    S, O = samples.batch_shape[0], samples.num_outcomes
    # CVaR at a level <= 1/S is the largest draw's value: clip (the same program, well scaled)
    eps = jnp.maximum(eps, 1.0 / S)
    c, A_ub, b_ub, bounds = _cvar_lps(samples, eps)
    sol = solvers.linprog(c, A_ub, b_ub, bounds=bounds, method="auto", tol=tol,
                          max_steps=max_steps)
    t = jnp.maximum(sol.x[..., :O], 0.0)  # [E, A, O] (>= 0 up to the LP's tolerance)
    ok = sol.status == Result.CONVERGED
    gross = jnp.mean(_net(samples), axis=0)  # [A]
    design = jnp.where(ok, gross - sol.fun, -jnp.inf)  # [E, A]
    return t, design, sol.status, sol.duality_gap


def _pick(samples, t, design, status, gap):
    """Best target per epsilon: ``[E]`` payments, action, design value, code, gap."""
    k = jnp.argmax(design, axis=-1)  # [E]
    take = lambda x: jnp.take_along_axis(x, k[:, None], axis=1)[:, 0]  # noqa: E731
    tk = jnp.take_along_axis(t, k[:, None, None], axis=1)[:, 0]
    settled = (status == Result.CONVERGED) | (status == Result.INFEASIBLE)
    code = jnp.where(jnp.all(settled, axis=-1),
                     jnp.where(jnp.any(status == Result.CONVERGED, axis=-1), Result.CONVERGED,
                               Result.INFEASIBLE),
                     jnp.max(jnp.where(settled, 0, status), axis=-1))
    return tk, k, take(design), code, take(gap)


def _check_eps(epsilon, S):
    e = as_float_array(epsilon, "epsilon")
    if is_concrete(e):
        v = np.asarray(e)
        if not np.all((v > 0) & (v < 1)):
            raise ValueError(f"epsilon must be in (0, 1), got {v!r}")
    return e


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
    batched LP (:func:`socialign.solvers.linprog`, ``method="auto"``); the target with the best
    design value ``bar B_k - bar P_k t`` is kept. Under fresh posterior draws the constraint
    holds with probability about ``1 - epsilon`` or more (SAA error shrinks as ``S`` grows).

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``
        (posterior draws), risk neutral, limited liability.
      epsilon: the allowed violation probability in ``(0, 1)``; ``epsilon < 1 / S`` requires IC
        in every draw.
      tol: the LP tolerance (default :func:`socialign.kernel.lp_tol`).
      max_steps: iteration limit of the LP methods (static; ``None``: linprog's default).

    Returns:
      A :class:`RobustContract` (``stats["epsilon"]``).

    Raises:
      TypeError: if ``samples`` is not a ``PrincipalAgent``.
      ValueError: on a batch shape other than ``[S]``, a risk-averse agent, no limited liability,
        or ``epsilon`` outside ``(0, 1)``.

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
    S = samples.batch_shape[0]
    e = _check_eps(epsilon, S).astype(samples.dtype).reshape(())
    tol = jnp.asarray(_lp_tol(samples, tol), samples.dtype)
    # the epsilon grid's shape, so this and bayes_optimal_contract share one compiled LP batch
    e_grid = jnp.asarray(_EPS_GRID, samples.dtype).at[0].set(e)
    t, design, status, gap = _cvar_core(samples, e_grid, tol, max_steps=max_steps)
    tk, k, dv, code, g = _pick(samples, t, design, status, gap)
    return _finish(samples, tk[0], k[0], dv[0], code[0], g[0], {"epsilon": e})


def _lp_tol(samples, tol):
    if tol is None:
        return 1e-9 if samples.dtype == jnp.float64 else 1e-6
    return tol


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _maxmin_core(samples, tol, *, max_steps):
    G, h = _rows(samples)  # [S, K, R, O]
    S, A, R, O = G.shape
    dtype = G.dtype
    Gk = jnp.moveaxis(G, 1, 0).reshape(A, S * R, O)
    hk = jnp.moveaxis(h, 1, 0).reshape(A, S * R)
    Pk = jnp.moveaxis(samples.outcome_probs, 1, 0)  # [K, S, O]
    net = jnp.moveaxis(_net(samples), 1, 0)  # [K, S]
    # x = (t, w): min -w  s.t. IC/IR rows on t;  w + P^s_k t <= P^s_k (r - m)
    A_ub = jnp.concatenate([
        jnp.concatenate([Gk, jnp.zeros((A, S * R, 1), dtype)], axis=-1),
        jnp.concatenate([Pk, jnp.ones((A, S, 1), dtype)], axis=-1)], axis=-2)
    b_ub = jnp.concatenate([hk, net], axis=-1)
    c = jnp.broadcast_to(jnp.concatenate([jnp.zeros((O,), dtype), -jnp.ones((1,), dtype)]),
                         (A, O + 1))
    sol = solvers.linprog(c, A_ub, b_ub, bounds=[(0, None)] * O + [(None, None)],
                          method="auto", tol=tol, max_steps=max_steps)
    ok = sol.status == Result.CONVERGED
    design = jnp.where(ok, -sol.fun, -jnp.inf)
    return jnp.maximum(sol.x[..., :O], 0.0)[None], design[None], sol.status[None], sol.duality_gap[None]


def maxmin_contract(samples: PrincipalAgent, *, tol=None, max_steps: int | None = None
                    ) -> RobustContract:
    r"""The max-min contract over a credible set of draws: the best worst case.

    For each target ``k``: maximise ``min_s P^s_k (r - t - m)`` subject to IC and IR of ``k`` in
    every draw ``s`` (the draws are the credible set: pass the draws you want to guard against,
    e.g. those inside a highest-density region), an epigraph LP in ``(t, w)``; all targets form
    one batch through :func:`socialign.solvers.linprog`, and the target with the best guarantee
    is kept. Its ``worst_case_value`` is the guarantee; ``posterior_value`` shows what it costs on
    average (the price of robustness).

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``,
        risk neutral, limited liability.
      tol: the LP tolerance.
      max_steps: iteration limit of the LP methods (static; ``None``: linprog's default).

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
    tol = jnp.asarray(_lp_tol(samples, tol), samples.dtype)
    t, design, status, gap = _maxmin_core(samples, tol, max_steps=max_steps)
    tk, k, dv, code, g = _pick(samples, t, design, status, gap)
    return _finish(samples, tk[0], k[0], dv[0], code[0], g[0], {})


#: the default epsilon grid of :func:`bayes_optimal_contract` (the first requires every draw)
_EPS_GRID = (1e-9, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def bayes_optimal_contract(samples: PrincipalAgent, *, epsilons=None, tol=None,
                           max_steps: int | None = None) -> RobustContract:
    r"""The contract with the best posterior expected value, the agent best-responding per draw.

    Maximises ``mean_s V^s(t)`` with ``V^s(t) = P^s_{a^s(t)} (r - t - m)`` and ``a^s(t)`` the
    informed agent's best response in draw ``s`` (:func:`evaluate_contract`). Requiring IC only
    on average would describe an agent as uncertain as the principal and reduce to the plug-in
    contract (linearity in ``P``); requiring it in every draw is safe but may overpay; the best
    trade-off gives up incentives in some draws. That exact problem is a mixed-integer program,
    so it is solved over a family that spans the trade-off: for every target action and every
    ``epsilon`` of a grid, the chance-constrained (CVaR-SAA) contract of
    :func:`chance_constrained_contract` (one batched LP call, ``epsilons x actions`` programs;
    the smallest ``epsilon`` requires IC in every draw), plus the plug-in contract designed on
    the posterior mean; every candidate is evaluated exactly on the draws and the best is
    returned. It is never worse in posterior value than the plug-in or the every-draw contract.

    Args:
      samples: a :class:`socialign.mechanisms.PrincipalAgent` with one batch axis ``[S]``
        (posterior draws), risk neutral, limited liability.
      epsilons: the violation probabilities to try (default: every draw, then 0.02 to 0.7;
        eleven values).
      tol: the LP tolerance.
      max_steps: iteration limit of the LP methods (static; ``None``: linprog's default).

    Returns:
      A :class:`RobustContract`; ``stats`` holds ``"epsilon"`` of the chosen candidate (NaN-free:
      ``-1`` for the plug-in) and ``"candidate_values"`` (posterior value of each candidate, the
      plug-in last).

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
    eps = _check_eps(_EPS_GRID if epsilons is None else epsilons, S).astype(samples.dtype)
    eps = eps.reshape(-1)
    tol_v = _lp_tol(samples, tol)
    t, design, status, gap = _cvar_core(samples, eps, jnp.asarray(tol_v, samples.dtype),
                                        max_steps=max_steps)
    # the plug-in: the optimal contract on the posterior mean
    mean_problem = PrincipalAgent(jnp.mean(samples.outcome_probs, 0),
                                  jnp.mean(samples.costs, 0), jnp.mean(samples.rewards, 0),
                                  jnp.mean(samples.reservation_utility),
                                  monitoring_cost=jnp.mean(samples.monitoring_cost, 0))
    plug = optimal_contract(mean_problem, tol=tol)
    return _bayes_select(samples, eps, t, design, status, gap, plug.payments, plug.action,
                         plug.result, plug.certificate)


@jax.jit
def _bayes_select(samples, eps, t, design, status, gap, plug_t, plug_k, plug_code, plug_gap):
    E, A, O = t.shape
    S = samples.batch_shape[0]
    ok = status == Result.CONVERGED  # [E, A]
    cand_t = jnp.concatenate([t.reshape(E * A, O), plug_t[None]], axis=0)  # [C, O]
    cand_k = jnp.concatenate([jnp.tile(jnp.arange(A), E), plug_k[None]]).astype(jnp.int32)
    cand_ok = jnp.concatenate([ok.reshape(-1), (plug_code == Result.CONVERGED)[None]])
    evals = jax.vmap(lambda tt, kk: _evaluate(samples, jnp.broadcast_to(tt, (S, O)), kk))(
        cand_t, cand_k)
    vals = jnp.where(cand_ok, evals.mean, -jnp.inf)
    i = jnp.argmax(vals)
    cand_eps = jnp.concatenate([jnp.repeat(eps, A), -jnp.ones((1,), eps.dtype)])
    cand_design = jnp.concatenate([design.reshape(-1), jnp.full((1,), jnp.nan, design.dtype)])
    cand_gap = jnp.concatenate([gap.reshape(-1), plug_gap[None]])
    code = jnp.where(jnp.any(cand_ok), Result.CONVERGED, Result.INFEASIBLE)
    design_i = jnp.where(jnp.isfinite(cand_design[i]), cand_design[i], vals[i])
    return _finish(samples, cand_t[i], cand_k[i], design_i, code, cand_gap[i],
                   {"epsilon": cand_eps[i], "candidate_values": vals})


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
