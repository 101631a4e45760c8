r"""Min-pay programs for a risk-averse agent: a batched primal-dual interior-point method.

With an increasing concave utility ``u`` and its convex inverse ``h = u^{-1}``, the cheapest
contract implementing action ``k`` (Grossman and Hart 1983) is, in utility levels
``v_o = u(t_o)``, the convex program

.. math::
    \min_v \; \sum_o P_{ko}\, h(v_o) \quad\text{s.t.}\quad
    (P_a - P_k) v \le c_a - c_k \;(a \ne k),\quad -P_k v \le -(R + c_k),\quad
    \ell \le v \le \bar u,

with linear constraints and a separable convex objective; ``[l, u_bar]`` is the range of
utility levels (``u(payment floor)`` under limited liability or when the utility is only defined
above a floor, and the supremum of ``u``, e.g. ``1/r`` for CARA).

It is solved by a primal-dual interior-point method (infeasible start for the linear rows,
strictly interior iterates for the bounds, Newton steps on the perturbed KKT system with a
fraction-to-the-boundary rule; Nocedal and Wright, Numerical Optimization, ch. 19). Each
Newton system is ``O x O``; the method is a :class:`socialign.kernel.IterativeSolver` run by
:func:`socialign.kernel.iterate` (the one loop driver) and batched by
:func:`socialign.kernel.batch_map`. The certificate is the KKT residual (stationarity, primal feasibility and
complementarity, scaled). Actions no contract can implement are detected exactly by the LP
feasibility problem over the same linear constraints (:func:`socialign.solvers.linprog`) and reported as
``Result.INFEASIBLE``.

Reference: S. Grossman and O. Hart, "An analysis of the principal-agent problem", 1983.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..kernel import (
    IterativeSolver,
    Result,
    batch_map,
    iterate,
    pytree_dataclass,
)
from ._principal_agent import min_pay_lps, solve_free_lps, solve_nonneg_lps

__all__ = ["MinPayIPM", "min_pay_convex"]


def _max_step(x, dx):
    return jnp.min(jnp.where(dx < 0, -x / jnp.where(dx < 0, dx, -1.0), jnp.inf), initial=jnp.inf)


@pytree_dataclass
class MinPayIPM(IterativeSolver):
    """Primal-dual interior point for ``min sum_o c_o h(v_o)  s.t.  G v <= g,  lo < v < hi``.

    ``h = utility.u_inv`` (convex); the problem is the tuple ``(utility, c [O], G [m, O],
    g [m], lo, hi)`` (``lo``/``hi`` scalars, ``+-inf`` when absent); the state is
    ``(v, s, y, zl, zu)`` (levels, slacks, row multipliers, bound multipliers). The certificate
    is the scaled KKT residual. Run it with :func:`socialign.kernel.iterate`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign import mechanisms
      >>> from socialign.kernel import iterate
      >>> from socialign.mechanisms._risk_averse import MinPayIPM
      >>> prob = (mechanisms.Sqrt(), jnp.array([0.2, 0.8]), jnp.array([[0.4, -0.4], [-0.2, -0.8]]),
      ...         jnp.array([-1.0, -1.0]), jnp.array(0.0), jnp.array(jnp.inf))
      >>> it = iterate(MinPayIPM(), prob, 1e-10, jax.random.key(0), max_steps=100)
      >>> [round(float(v), 4) for v in it.state[0]]   # utility levels: payments (0, 6.25)
      [0.0, 2.5]
    """

    def init(self, problem, key):
        """A strictly interior start for the bounds; slacks ``>= 1``, multipliers 1."""
        _, c, G, g, lo, hi = problem
        m, n = G.shape
        dtype = G.dtype
        has_lo, has_hi = jnp.isfinite(lo), jnp.isfinite(hi)
        lo_, hi_ = jnp.where(has_lo, lo, 0.0), jnp.where(has_hi, hi, 0.0)
        v0 = jnp.where(has_lo & has_hi, 0.5 * (lo_ + hi_),
                       jnp.where(has_lo, lo_ + 1.0, jnp.where(has_hi, hi_ - 1.0, 0.0)))
        v0 = v0 * jnp.ones(n, dtype)
        s0 = jnp.maximum(g - G @ v0, 1.0)
        ones = jnp.ones(n, dtype)
        return (v0, s0, jnp.ones(m, dtype), ones, ones)

    @staticmethod
    def _parts(problem, state):
        ut, c, G, g, lo, hi = problem
        v, s, y, zl, zu = state
        has_lo, has_hi = jnp.isfinite(lo), jnp.isfinite(hi)
        lo_, hi_ = jnp.where(has_lo, lo, 0.0), jnp.where(has_hi, hi, 0.0)
        dl = jnp.where(has_lo, v - lo_, 1.0)
        du = jnp.where(has_hi, hi_ - v, 1.0)
        zl_ = jnp.where(has_lo, zl, 0.0)
        zu_ = jnp.where(has_hi, zu, 0.0)
        hp = jax.vmap(jax.grad(ut.u_inv))(v)
        r_d = c * hp + G.T @ y - zl_ + zu_
        r_p = G @ v + s - g
        comp = (s @ y + zl_ @ dl + zu_ @ du) / (G.shape[0] + 2 * G.shape[1])
        return has_lo, has_hi, dl, du, zl_, zu_, hp, r_d, r_p, comp

    def step(self, problem, state):
        """One Newton step on the perturbed KKT system, fraction-to-the-boundary 0.99."""
        ut, c, G, g, lo, hi = problem
        v, s, y, zl, zu = state
        has_lo, has_hi, dl, du, zl_, zu_, _, r_d, r_p, comp = self._parts(problem, state)
        mu = 0.1 * comp
        H = c * jax.vmap(jax.grad(jax.grad(ut.u_inv)))(v) + 1e-12
        W = y / s
        M = (G.T * W) @ G + jnp.diag(H + zl_ / dl + zu_ / du)
        rhs = (-r_d - G.T @ ((mu - y * s) / s + W * r_p)
               + jnp.where(has_lo, (mu - zl_ * dl) / dl, 0.0)
               - jnp.where(has_hi, (mu - zu_ * du) / du, 0.0))
        dv = jnp.linalg.solve(M, rhs)
        ds = -(G @ dv) - r_p
        dy = (mu - y * s - y * ds) / s
        dzl = jnp.where(has_lo, (mu - zl_ * dl - zl_ * dv) / dl, 0.0)
        dzu = jnp.where(has_hi, (mu - zu_ * du + zu_ * dv) / du, 0.0)
        a = jnp.minimum(jnp.minimum(_max_step(s, ds), _max_step(y, dy)),
                        jnp.minimum(_max_step(jnp.where(has_lo, zl, 1.0), dzl),
                                    _max_step(jnp.where(has_hi, zu, 1.0), dzu)))
        a = jnp.minimum(a, jnp.minimum(_max_step(dl, jnp.where(has_lo, dv, 0.0)),
                                       _max_step(du, jnp.where(has_hi, -dv, 0.0))))
        a = jnp.minimum(1.0, 0.99 * a)
        return (v + a * dv, s + a * ds, y + a * dy, zl + a * dzl, zu + a * dzu)

    def terminate(self, problem, state, tol):
        """Done when the scaled KKT residual is ``<= tol``."""
        res = self.kkt_residual(problem, state)
        return res <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), res

    def kkt_residual(self, problem, state):
        """Stationarity (relative to the gradient), feasibility and complementarity."""
        _, c, G, g, lo, hi = problem
        *_, hp, r_d, r_p, comp = self._parts(problem, state)
        scale = 1.0 + jnp.max(jnp.abs(g))
        grad_scale = 1.0 + jnp.max(jnp.abs(c * hp))
        return jnp.maximum(jnp.maximum(jnp.max(jnp.abs(r_d)) / grad_scale,
                                       jnp.max(jnp.abs(r_p)) / scale), comp / scale)


def min_pay_convex(problem, *, tol=None, max_steps: int = 100):
    """Every action's min-pay program for a risk-averse agent, solved as one batch.

    Args:
      problem: a :class:`PrincipalAgent` with an ``agent_utility`` (any batch axes).
      tol: KKT tolerance (default ``1e-10`` in float64, ``1e-5`` in float32).
      max_steps: interior-point iterations (static).

    Returns:
      ``(payments [*batch, A, O], min_pay [*batch, A], status [*batch, A],
      kkt_residual [*batch, A], levels [*batch, A, O], mu [*batch, A, A])``: ``mu >= 0`` are
      the multipliers of the IC and IR rows (for the envelope theorem). Actions that no
      contract implements get ``Result.INFEASIBLE``, decided exactly by an LP over the same
      linear constraints.

    Raises:
      ValueError: if the problem's agent is risk neutral.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> from socialign.mechanisms._risk_averse import min_pay_convex
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0., 1.], [0., 10.],
      ...                                agent_utility=mechanisms.Sqrt())
      >>> t, pay, status, *_ = min_pay_convex(pa)
      >>> [round(float(x), 6) for x in pay]
      [0.0, 5.0]
    """
    ut = problem.agent_utility
    if ut is None:
        raise ValueError("min_pay_convex needs a risk-averse agent (problem.agent_utility)")
    batch, A, O = problem.batch_shape, problem.num_actions, problem.num_outcomes
    dtype = problem.dtype
    if tol is None:
        tol = 1e-10 if dtype == jnp.float64 else 1e-5
    c, G, g = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility)
    lo, hi = ut.level_bounds(problem.limited_liability, dtype)  # [*batch] each
    has_lo, has_hi = ut.has_level_bounds(problem.limited_liability)
    # one program per (problem, action): the utility's parameters and level bounds repeat
    per_action = lambda x: jnp.broadcast_to(x[..., None], (*x.shape, A))  # noqa: E731
    ut_a = jax.tree_util.tree_map(per_action, ut)
    lo_a, hi_a = per_action(jnp.broadcast_to(lo, batch)), per_action(jnp.broadcast_to(hi, batch))
    solver = MinPayIPM()
    tol = jnp.asarray(tol, dtype)

    def one(prob):
        it = iterate(solver, prob, tol, jax.random.key(0), max_steps=max_steps)
        return it.state[0], it.state[2], it.result, it.certificate

    v, mu, status, res = batch_map(one, (ut_a, c, G, g, lo_a, hi_a), batch_shape=(*batch, A))
    # exact implementability: LP feasibility over the same linear constraints (shifted so the
    # variables are >= 0 when the levels have a floor)
    n = max(1, int(jnp.size(c) // O))
    cf, Gf, gf = c.reshape(n, O), G.reshape(n, A, O), g.reshape(n, A)
    zero = jnp.zeros_like(cf)
    if has_lo:
        lo_f = lo_a.reshape(n)
        gf = gf - lo_f[:, None] * jnp.sum(Gf, axis=-1)
        if has_hi:
            Gf = jnp.concatenate([Gf, jnp.broadcast_to(jnp.eye(O, dtype=dtype), (n, O, O))], 1)
            gf = jnp.concatenate([gf, jnp.broadcast_to((hi_a.reshape(n) - lo_f)[:, None],
                                                       (n, O))], 1)
        feas_status = solve_nonneg_lps(zero, Gf, gf)[2]
    else:
        if has_hi:
            Gf = jnp.concatenate([Gf, jnp.broadcast_to(jnp.eye(O, dtype=dtype), (n, O, O))], 1)
            gf = jnp.concatenate([gf, jnp.broadcast_to(hi_a.reshape(n)[:, None], (n, O))], 1)
        feas_status = solve_free_lps(zero, Gf, gf)[2]
    infeasible = (feas_status == Result.INFEASIBLE).reshape((*batch, A))
    status = jnp.where(infeasible, Result.INFEASIBLE, status).astype(jnp.int32)
    t = _u_inv_per_program(ut_a, v)
    pay = jnp.sum(c * t, axis=-1)
    return t, pay, status, res, v, mu


def _u_inv_per_program(ut_a, v):
    """``u_inv`` of per-program utilities ``[*batch, A]`` applied to levels ``[*batch, A, O]``."""
    expand = jax.tree_util.tree_map(lambda x: x[..., None], ut_a)
    return expand.u_inv(v)
