r"""A batched dense dual simplex for LPs ``min c x  s.t.  G x <= h, x >= 0`` with ``c >= 0``.

With ``c >= 0`` the slack basis is dual feasible, so the dual simplex method needs no phase 1:
each pivot picks the most infeasible row (``h_r < 0``), enters the column with the smallest
ratio ``d_j / -a_rj`` over ``a_rj < 0`` (ties to the smallest index), and stops when the
right-hand side is non-negative (optimal) or a negative row has no negative entry (primal
infeasible: that row certifies ``G x <= h`` has no solution with ``x >= 0``). The Grossman-Hart
min-pay programs of a risk-neutral agent under limited liability have exactly this form
(``c = P_k >= 0``), and they are tiny (``actions`` rows), so a dense tableau pivot is a few
hundred flops: vmapped over a batch of LPs the whole batch solves in a handful of fused array
passes.

Every answer is verified on the original data: the primal point ``x`` and the dual point ``y``
read off the final tableau are checked for feasibility, and the duality gap
``|c x - h y|`` is returned. Points that fail the check are reported as not converged (the
caller re-solves them with :func:`solvers.linprog`).

Reference: C. E. Lemke, "The dual method of solving the linear programming problem", Naval
Research Logistics Quarterly 1954.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..kernel import Result

__all__ = ["dual_simplex"]


class _State(NamedTuple):
    T: jax.Array  # [m, n + m] tableau
    d: jax.Array  # [n + m] reduced costs
    rhs: jax.Array  # [m]
    basis: jax.Array  # [m] int
    status: jax.Array  # -1 running, else a Result code
    r: jax.Array  # pivot row for the next step
    e: jax.Array  # entering column for the next step
    k: jax.Array  # pivots taken


def _check(T, d, rhs, scale, tol):
    r = jnp.argmin(rhs)
    optimal = rhs[r] >= -tol * scale
    row = T[r]
    neg = row < -tol
    ratio = jnp.where(neg, d / jnp.where(neg, -row, 1.0), jnp.inf)
    e = jnp.argmin(ratio)
    status = jnp.where(optimal, Result.CONVERGED,
                       jnp.where(jnp.any(neg), -1, Result.INFEASIBLE)).astype(jnp.int32)
    return status, r, e


def _init(c, G, h, tol):
    m, n = G.shape
    dtype = G.dtype
    T = jnp.concatenate([G, jnp.eye(m, dtype=dtype)], axis=1)
    d = jnp.concatenate([c, jnp.zeros(m, dtype)])
    status, r, e = _check(T, d, h, 1.0 + jnp.max(jnp.abs(h)), tol)
    return _State(T, d, h, n + jnp.arange(m), status, r, e, jnp.asarray(0, jnp.int32))


def _run(st: _State, h, tol, max_pivots):
    scale = 1.0 + jnp.max(jnp.abs(h))

    def cond(st):
        return (st.status < 0) & (st.k < max_pivots)

    def body(st):
        T, d, rhs, r, e = st.T, st.d, st.rhs, st.r, st.e
        row = T[r]
        new_row = row / row[e]
        new_rhs_r = rhs[r] / row[e]
        col = T[:, e]
        T = (T - col[:, None] * new_row[None, :]).at[r].set(new_row)
        rhs = (rhs - col * new_rhs_r).at[r].set(new_rhs_r)
        d = d - d[e] * new_row
        basis = st.basis.at[r].set(e)
        status, r2, e2 = _check(T, d, rhs, scale, tol)
        return _State(T, d, rhs, basis, status, r2, e2, st.k + 1)

    return jax.lax.while_loop(cond, body, st)


def _finish(st: _State, c, G, h, tol):
    m, n = G.shape
    dtype = G.dtype
    scale = 1.0 + jnp.max(jnp.abs(h))
    status = jnp.where(st.status < 0, Result.MAX_STEPS_REACHED, st.status).astype(jnp.int32)
    z = jnp.zeros(n + m, dtype).at[st.basis].set(st.rhs)
    x = z[:n]
    y = -st.d[n:]  # multipliers of G x <= h (non-positive at optimum, scipy's convention)
    # certificates recomputed on the original data
    p_res = jnp.maximum(jnp.max(G @ x - h, initial=0.0), jnp.max(-x, initial=0.0))
    red = c - G.T @ y
    d_res = jnp.maximum(jnp.max(-red, initial=0.0), jnp.max(y, initial=0.0))
    fun = c @ x
    gap = jnp.abs(fun - h @ y)
    certified = (p_res <= 1e3 * tol * scale) & (d_res <= 1e3 * tol * (1 + jnp.max(jnp.abs(c)))) \
        & (gap <= 1e3 * tol * (1 + jnp.abs(fun)))
    status = jnp.where((status == Result.CONVERGED) & ~certified, Result.FAILED, status)
    return x, fun, status.astype(jnp.int32), gap, p_res, y, st.k


@functools.partial(jax.jit, static_argnames=("max_pivots", "chunk"))
def _solve_chunked(c, G, h, tol, *, max_pivots, chunk):
    def one(c, G, h):
        return _finish(_run(_init(c, G, h, tol), h, tol, max_pivots), c, G, h, tol)

    B = c.shape[0]
    nchunks = -(-B // chunk)
    pad = nchunks * chunk - B
    padded = [jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]) if pad else a
              for a in (c, G, h)]
    split = [a.reshape((nchunks, chunk, *a.shape[1:])) for a in padded]
    out = jax.lax.map(lambda args: jax.vmap(one)(*args), tuple(split))
    return tuple(a.reshape((nchunks * chunk, *a.shape[2:]))[:B] for a in out)


def dual_simplex(c, G, h, *, max_pivots: int = 200, chunk: int = 64, tol: float = 1e-11):
    """Solve a batch ``[B]`` of ``min c x, G x <= h, x >= 0`` with ``c >= 0`` (see module doc).

    The batch is processed in chunks of ``chunk`` programs (``lax.map`` over vmapped chunks):
    a chunk's tableaux stay in cache and a chunk pivots only as long as its slowest member.

    Returns ``(x [B, n], fun [B], status [B], duality_gap [B], primal_residual [B],
    y [B, m], num_pivots [B])``; ``status`` is ``CONVERGED`` (verified optimal),
    ``INFEASIBLE`` (a row certifies it), ``MAX_STEPS_REACHED`` or ``FAILED`` (verification
    failed: re-solve with :func:`solvers.linprog`).
    """
    chunk = max(1, min(int(chunk), int(c.shape[0])))
    return _solve_chunked(c, G, h, jnp.asarray(tol, c.dtype), max_pivots=int(max_pivots),
                          chunk=chunk)
