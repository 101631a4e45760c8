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
Newton system is ``O x O`` and every program of the batch runs in one vmapped
``lax.while_loop``. The certificate is the KKT residual (stationarity, primal feasibility and
complementarity, scaled). Actions no contract can implement are detected exactly by the LP
feasibility problem over the same linear constraints (:func:`solvers.linprog`) and reported as
``Result.INFEASIBLE``.

Reference: S. Grossman and O. Hart, "An analysis of the principal-agent problem", 1983.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result
from ..solvers._linprog import linprog

__all__ = ["min_pay_convex"]


def _solve_one(c, G, g, lo, hi, tol, *, h, max_steps):
    """Interior-point solve of ``min sum c_o h(v_o)  s.t.  G v <= g,  lo < v < hi``."""
    m, n = G.shape
    dtype = G.dtype
    has_lo, has_hi = jnp.isfinite(lo), jnp.isfinite(hi)
    lo_ = jnp.where(has_lo, lo, 0.0)
    hi_ = jnp.where(has_hi, hi, 0.0)
    v0 = jnp.where(has_lo & has_hi, 0.5 * (lo_ + hi_),
                   jnp.where(has_lo, lo_ + 1.0, jnp.where(has_hi, hi_ - 1.0, 0.0)))
    v0 = v0 * jnp.ones(n, dtype)
    hp = jax.vmap(jax.grad(h))
    hpp = jax.vmap(jax.grad(jax.grad(h)))
    scale = 1.0 + jnp.max(jnp.abs(g))
    nb = m + 2 * n

    def parts(state):
        v, s, y, zl, zu = state
        dl = jnp.where(has_lo, v - lo_, 1.0)
        du = jnp.where(has_hi, hi_ - v, 1.0)
        zl_ = jnp.where(has_lo, zl, 0.0)
        zu_ = jnp.where(has_hi, zu, 0.0)
        r_d = c * hp(v) + G.T @ y - zl_ + zu_
        r_p = G @ v + s - g
        comp = (s @ y + zl_ @ dl + zu_ @ du) / nb
        return dl, du, zl_, zu_, r_d, r_p, comp

    def kkt(state):
        v = state[0]
        _, _, _, _, r_d, r_p, comp = parts(state)
        grad_scale = 1.0 + jnp.max(jnp.abs(c * hp(v)))
        return jnp.maximum(jnp.maximum(jnp.max(jnp.abs(r_d)) / grad_scale,
                                       jnp.max(jnp.abs(r_p)) / scale), comp / scale)

    def step(state):
        v, s, y, zl, zu = state
        dl, du, zl_, zu_, r_d, r_p, comp = parts(state)
        mu = 0.1 * comp
        H = c * hpp(v) + 1e-12
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

        def max_step(x, dx):
            return jnp.min(jnp.where(dx < 0, -x / jnp.where(dx < 0, dx, -1.0), jnp.inf),
                           initial=jnp.inf)

        a = jnp.minimum(jnp.minimum(max_step(s, ds), max_step(y, dy)),
                        jnp.minimum(max_step(jnp.where(has_lo, zl, 1.0), dzl),
                                    max_step(jnp.where(has_hi, zu, 1.0), dzu)))
        a = jnp.minimum(a, jnp.minimum(max_step(dl, jnp.where(has_lo, dv, 0.0)),
                                       max_step(du, jnp.where(has_hi, -dv, 0.0))))
        a = jnp.minimum(1.0, 0.99 * a)
        return (v + a * dv, s + a * ds, y + a * dy, zl + a * dzl, zu + a * dzu)

    s0 = jnp.maximum(g - G @ v0, 1.0)
    ones = jnp.ones(n, dtype)
    state = (v0, s0, jnp.ones(m, dtype), ones, ones)

    def cond(carry):
        k, state, res = carry
        return (res > tol) & (k < max_steps) & jnp.all(jnp.isfinite(state[0]))

    def body(carry):
        k, state, _ = carry
        state = step(state)
        return k + 1, state, kkt(state)

    k, state, res = jax.lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), state,
                                                    kkt(state)))
    v = state[0]
    ok = jnp.isfinite(res) & jnp.all(jnp.isfinite(v))
    status = jnp.where(~ok, Result.NONFINITE,
                       jnp.where(res <= tol, Result.CONVERGED, Result.MAX_STEPS_REACHED))
    return v, status.astype(jnp.int32), res, k


@functools.partial(jax.jit, static_argnames=("h", "max_steps"))
def _solve_batch(c, G, g, lo, hi, tol, *, h, max_steps):
    fn = functools.partial(_solve_one, h=h, max_steps=max_steps)
    return jax.vmap(fn, in_axes=(0, 0, 0, None, None, None))(c, G, g, lo, hi, tol)


def level_bounds(problem):
    """``(lo, hi)`` bounds of the utility levels for ``problem``'s agent."""
    ut = problem.agent_utility
    lo, hi = ut.level_bounds
    if problem.limited_liability and not math.isfinite(ut.payment_floor):
        lo = float(ut.u(jnp.asarray(0.0, problem.dtype)))  # payments >= 0
    elif problem.limited_liability:
        lo = max(lo, float(ut.u(jnp.asarray(max(ut.payment_floor, 0.0), problem.dtype))))
    return lo, hi


def min_pay_convex(problem, *, tol=None, max_steps: int = 100):
    """Every action's min-pay program for a risk-averse agent, solved as one batch.

    Returns ``(payments [*batch, A, O], min_pay [*batch, A], status [*batch, A],
    kkt_residual [*batch, A])``.
    """
    from ._contracts import min_pay_lps

    ut = problem.agent_utility
    batch, A, O = problem.batch_shape, problem.num_actions, problem.num_outcomes
    dtype = problem.dtype
    if tol is None:
        tol = 1e-10 if dtype == jnp.float64 else 1e-5
    c, G, g = min_pay_lps(problem.outcome_probs, problem.costs, problem.reservation_utility)
    n = int(np.prod(batch, dtype=np.int64)) * A
    c, G, g = c.reshape(n, O), G.reshape(n, A, O), g.reshape(n, A)
    lo, hi = level_bounds(problem)
    v, status, res, _ = _solve_batch(c, G, g, jnp.asarray(lo, dtype), jnp.asarray(hi, dtype),
                                     jnp.asarray(tol, dtype), h=ut.u_inv, max_steps=max_steps)
    # exact implementability: LP feasibility over the same linear constraints
    feas = linprog(jnp.zeros_like(c), G, g,
                   bounds=(None if not math.isfinite(lo) else lo,
                           None if not math.isfinite(hi) else hi))
    infeasible = feas.status == Result.INFEASIBLE
    status = jnp.where(infeasible, Result.INFEASIBLE, status).astype(jnp.int32)
    t = ut.u_inv(v)
    pay = jnp.sum(c * t, axis=-1)
    rs = lambda x: x.reshape((*batch, A, *x.shape[1:]))  # noqa: E731
    return rs(t), rs(pay), rs(status), rs(res)
