r"""Batched linear programming in JAX: a homogeneous self-dual interior-point method.

Solves

.. math::
    \min_x c^\top x \quad \text{s.t.} \quad A_{ub} x \le b_{ub},\; A_{eq} x = b_{eq},\;
    l \le x \le u

by converting to standard form :math:`\min c_s^\top z` s.t. :math:`A_s z = b_s, z \ge 0` and
running the homogeneous self-dual (HSD) embedding of Andersen and Andersen with Mehrotra's
predictor-corrector (the method of scipy's former ``interior-point`` solver; references below).
The HSD embedding finds an optimal pair when one exists and otherwise a certificate of primal or
dual infeasibility, so a batch never returns NaN for an infeasible member: it returns
``Result.INFEASIBLE`` or ``Result.UNBOUNDED``.

Every iteration is pure array code (dense normal equations ``A D A^T`` with one LU factorisation
reused for the two right-hand sides of the predictor and the corrector), so :func:`linprog` can be
``jit``-ed and ``vmap``-ed: a stacked batch of LPs with the same shapes runs as one program.

References:
  E. D. Andersen and K. D. Andersen, "The MOSEK interior point optimizer for linear programming:
  an implementation of the homogeneous algorithm", High Performance Optimization, 2000.
  S. Mehrotra, "On the implementation of a primal-dual interior point method", SIAM J. Optim. 1992.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, as_float_array, check_finite, check_positive_int, is_concrete

__all__ = ["linprog", "LPSolution", "IPMState", "ipm_init", "ipm_step", "ipm_status",
           "ipm_solution", "default_lp_tol"]


# --------------------------------------------------------------------------------------------
# The standard-form HSD interior-point method (pure functions of arrays)
# --------------------------------------------------------------------------------------------
class IPMState(NamedTuple):
    """Iterate of the homogeneous self-dual method: ``x, z: [n]``, ``y: [m]``, scalars."""

    x: jax.Array
    y: jax.Array
    z: jax.Array
    tau: jax.Array
    kappa: jax.Array


def default_lp_tol(dtype) -> float:
    """Relative tolerance the interior-point method can reach reliably in ``dtype``."""
    return 1e-9 if jnp.dtype(dtype) == jnp.float64 else 1e-6


def ipm_init(A, b, c) -> IPMState:
    """Blind starting point ``x = z = 1, y = 0, tau = kappa = 1``."""
    m, n = A.shape
    one = jnp.ones((), A.dtype)
    return IPMState(jnp.ones(n, A.dtype), jnp.zeros(m, A.dtype), jnp.ones(n, A.dtype), one, one)


def _max_step(v, dv):
    ratio = jnp.where(dv < 0, v / jnp.where(dv < 0, -dv, 1), jnp.inf)
    return jnp.min(ratio, initial=jnp.inf)


def _step_length(st: IPMState, d: IPMState, alpha0):
    a = jnp.minimum(jnp.minimum(_max_step(st.x, d.x), _max_step(st.z, d.z)),
                    jnp.minimum(_max_step(st.tau, d.tau), _max_step(st.kappa, d.kappa)))
    return jnp.minimum(1.0, alpha0 * a)


def ipm_step(A, b, c, st: IPMState) -> IPMState:
    """One Mehrotra predictor-corrector iteration of the HSD method (Andersen & Andersen, 8.6-8.32)."""
    x, y, z, tau, kappa = st
    n = x.shape[0]
    dtype = A.dtype
    r_p = b * tau - A @ x
    r_d = c * tau - A.T @ y - z
    r_g = c @ x - b @ y + kappa
    mu = (x @ z + tau * kappa) / (n + 1)

    dinv = x / z
    M = (A * dinv) @ A.T
    # Symmetric Jacobi scaling: D = x / z spans many orders of magnitude near the solution, and
    # scaling M to unit diagonal keeps the LU residual small relative to every row.
    diag = jnp.abs(jnp.diagonal(M))
    sc = 1.0 / jnp.sqrt(jnp.maximum(diag, jnp.max(diag, initial=0.0) * 1e-30 + 1e-300))
    Ms = M * sc[:, None] * sc[None, :]
    reg = 1e-13 if dtype == jnp.float64 else 1e-6
    lu = jax.scipy.linalg.lu_factor(Ms + reg * jnp.eye(M.shape[0], dtype=dtype))

    def solve_m(r):
        return sc * jax.scipy.linalg.lu_solve(lu, sc * r)

    def sym_solve(r1, r2):
        r = r2 + A @ (dinv * r1)
        v = solve_m(r)
        # one step of iterative refinement against the unregularised matrix removes the
        # residual floor the regularisation would otherwise leave
        v = v + solve_m(r - M @ v)
        u = dinv * (A.T @ v - r1)
        return u, v

    p, q = sym_solve(c, b)
    denom_base = -c @ p + b @ q

    def direction(eta, rhatxs, rhattk):
        u, v = sym_solve(eta * r_d - rhatxs / x, eta * r_p)
        d_tau = (eta * r_g + rhattk / tau - (-c @ u + b @ v)) / (kappa / tau + denom_base)
        d_x = u + p * d_tau
        d_y = v + q * d_tau
        d_z = (rhatxs - z * d_x) / x
        d_kappa = (rhattk - kappa * d_tau) / tau
        return IPMState(d_x, d_y, d_z, d_tau, d_kappa)

    # predictor (affine scaling): gamma = 0
    d_aff = direction(1.0, -x * z, -tau * kappa)
    alpha_aff = _step_length(st, d_aff, 1.0)
    gamma = (1 - alpha_aff) ** 2 * jnp.minimum(0.1, 1 - alpha_aff)
    # corrector with centring gamma * mu and the second-order term
    rhatxs = gamma * mu - x * z - d_aff.x * d_aff.z
    rhattk = gamma * mu - tau * kappa - d_aff.tau * d_aff.kappa
    d = direction(1 - gamma, rhatxs, rhattk)
    alpha = _step_length(st, d, 0.99995)
    return IPMState(*(s + alpha * ds for s, ds in zip(st, d)))


def _indicators(A, b, c, st: IPMState):
    """Relative residuals in the backward-error sense: each residual is measured against the
    size of the terms that produce it, so the test stays meaningful when the iterate is large
    (an unbounded optimal face with free variables) and is the usual one when it is O(1)."""
    x, y, z, tau, kappa = st
    n = x.shape[0]
    norm_a = jnp.linalg.norm(A)
    r_g0 = jnp.abs(1.0 + jnp.sum(c))
    rho_p = jnp.linalg.norm(b * tau - A @ x) / (
        tau * jnp.maximum(1.0, jnp.linalg.norm(b)) + norm_a * jnp.linalg.norm(x))
    rho_d = jnp.linalg.norm(c * tau - A.T @ y - z) / (
        tau * jnp.maximum(1.0, jnp.linalg.norm(c)) + norm_a * jnp.linalg.norm(y)
        + jnp.linalg.norm(z))
    rho_a = jnp.abs(c @ x - b @ y) / (tau + jnp.maximum(jnp.abs(c @ x), jnp.abs(b @ y)))
    rho_g = jnp.abs(kappa + c @ x - b @ y) / jnp.maximum(1.0, r_g0)
    rho_mu = (x @ z + tau * kappa) / (n + 1)
    return rho_p, rho_d, rho_a, rho_g, rho_mu


def ipm_status(A, b, c, st: IPMState, tol):
    """Return ``(done, result_code)`` by Andersen & Andersen's stopping criteria (section 4.5)."""
    rho_p, rho_d, rho_a, rho_g, rho_mu = _indicators(A, b, c, st)
    optimal = (rho_p <= tol) & (rho_d <= tol) & (rho_a <= tol)
    inf1 = (rho_p < tol) & (rho_d < tol) & (rho_g < tol) & (st.tau < tol * jnp.maximum(1.0, st.kappa))
    inf2 = (rho_mu < tol) & (st.tau < tol * jnp.minimum(1.0, st.kappa))
    infeasible_like = (inf1 | inf2) & ~optimal
    # Complementarity far below what the residuals can follow: numerical stall, not an answer.
    stalled = (rho_mu < tol * tol) & ~optimal & ~infeasible_like
    code = jnp.where(
        optimal,
        Result.CONVERGED,
        jnp.where(stalled, Result.FAILED,
                  jnp.where(b @ st.y > tol, Result.INFEASIBLE, Result.UNBOUNDED)),
    ).astype(jnp.int32)
    return optimal | infeasible_like | stalled, code


def ipm_solution(st: IPMState):
    """Standard-form primal ``z``, dual ``y`` and reduced costs ``s`` of the final iterate."""
    return st.x / st.tau, st.y / st.tau, st.z / st.tau


# --------------------------------------------------------------------------------------------
# General-form front end
# --------------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LPSolution:
    """Result of :func:`linprog` (every field carries the batch axes of a batched call).

    Attributes:
      x: primal solution ``[n]``.
      fun: objective value ``c @ x``.
      status: :class:`solvers.Result` code (``CONVERGED``, ``INFEASIBLE``, ``UNBOUNDED``,
        ``MAX_STEPS_REACHED`` or ``NONFINITE``).
      duality_gap: ``|c^T x - dual objective|`` at the returned point (absolute).
      primal_residual: largest violation of any constraint or bound by ``x``.
      dual_residual: largest violation of dual feasibility (relative to ``|c|``).
      ineqlin: multipliers of ``A_ub x <= b_ub`` (non-positive, scipy's sign convention):
        ``d fun / d b_ub``.
      eqlin: multipliers of ``A_eq x = b_eq``: ``d fun / d b_eq``.
      num_steps: interior-point iterations taken.
    """

    x: jax.Array
    fun: jax.Array
    status: jax.Array
    duality_gap: jax.Array
    primal_residual: jax.Array
    dual_residual: jax.Array
    ineqlin: jax.Array
    eqlin: jax.Array
    num_steps: jax.Array

    @property
    def success(self) -> jax.Array:
        return jnp.asarray(self.status) == Result.CONVERGED


class _Structure(NamedTuple):
    """Static description of the standard-form transformation ``x = T z + t0``."""

    n: int
    nz: int  # structural standard-form variables (before slacks)
    T: np.ndarray  # [n, nz]
    t0: np.ndarray  # [n]
    upper_idx: np.ndarray  # standard-form variables with a finite upper bound
    upper_val: np.ndarray  # their upper bound in z-space


def _parse_bounds(bounds, n: int):
    if bounds is None:
        bounds = (0, None)
    arr = None
    if isinstance(bounds, tuple) and len(bounds) == 2 and all(
        b is None or np.ndim(b) == 0 for b in bounds
    ):
        lo = np.full(n, -np.inf if bounds[0] is None else float(bounds[0]))
        hi = np.full(n, np.inf if bounds[1] is None else float(bounds[1]))
    else:
        if not is_concrete(bounds):
            raise TypeError("bounds must be concrete (numbers or None); they fix the LP's "
                            "standard-form shape and are shared across a batch")
        try:
            arr = [(-np.inf if b[0] is None else float(b[0]), np.inf if b[1] is None else float(b[1]))
                   for b in bounds]
        except Exception:
            raise TypeError("bounds must be a (lower, upper) pair or a sequence of n pairs; "
                            "use None for an infinite bound") from None
        if len(arr) != n:
            raise ValueError(f"bounds has {len(arr)} pairs but c has {n} variables")
        lo = np.array([a[0] for a in arr])
        hi = np.array([a[1] for a in arr])
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ValueError("bounds must not contain NaN")
    if np.any(lo == np.inf) or np.any(hi == -np.inf):
        raise ValueError("bounds: a lower bound of +inf or an upper bound of -inf is infeasible")
    if np.any(lo > hi):
        j = int(np.argmax(lo > hi))
        raise ValueError(f"bounds: variable {j} has lower bound {lo[j]} > upper bound {hi[j]}")
    return lo, hi


def _structure(lo: np.ndarray, hi: np.ndarray) -> _Structure:
    n = lo.shape[0]
    cols = []
    t0 = np.zeros(n)
    upper_idx, upper_val = [], []
    for j in range(n):
        if np.isfinite(lo[j]):  # x = lo + z, z >= 0 (and z <= hi - lo)
            t0[j] = lo[j]
            cols.append((j, 1.0))
            if np.isfinite(hi[j]):
                upper_idx.append(len(cols) - 1)
                upper_val.append(hi[j] - lo[j])
        elif np.isfinite(hi[j]):  # x = hi - z, z >= 0
            t0[j] = hi[j]
            cols.append((j, -1.0))
        else:  # free: x = z+ - z-
            cols.append((j, 1.0))
            cols.append((j, -1.0))
    T = np.zeros((n, len(cols)))
    for k, (j, s) in enumerate(cols):
        T[j, k] = s
    return _Structure(n, len(cols), T, t0, np.array(upper_idx, dtype=np.int64),
                      np.array(upper_val, dtype=float))


def _standard_form(c, A_ub, b_ub, A_eq, b_eq, st: _Structure):
    """Build ``(A_s, b_s, c_s)`` for one (unbatched) LP."""
    dtype = c.dtype
    T = jnp.asarray(st.T, dtype)
    t0 = jnp.asarray(st.t0, dtype)
    m_ub, m_eq, n_up = A_ub.shape[0], A_eq.shape[0], st.upper_idx.shape[0]
    nz = st.nz
    n_s = nz + m_ub + n_up
    blocks = []
    rhs = []
    if m_ub:
        blocks.append(jnp.concatenate(
            [A_ub @ T, jnp.eye(m_ub, dtype=dtype), jnp.zeros((m_ub, n_up), dtype)], axis=1))
        rhs.append(b_ub - A_ub @ t0)
    if m_eq:
        blocks.append(jnp.concatenate([A_eq @ T, jnp.zeros((m_eq, m_ub + n_up), dtype)], axis=1))
        rhs.append(b_eq - A_eq @ t0)
    if n_up:
        U = np.zeros((n_up, nz))
        U[np.arange(n_up), st.upper_idx] = 1.0
        blocks.append(jnp.concatenate([jnp.asarray(U, dtype), jnp.zeros((n_up, m_ub), dtype),
                                       jnp.eye(n_up, dtype=dtype)], axis=1))
        rhs.append(jnp.asarray(st.upper_val, dtype))
    if not blocks:  # no constraint at all: one trivial row 0 = 0 keeps the algebra uniform
        blocks.append(jnp.zeros((1, n_s), dtype))
        rhs.append(jnp.zeros(1, dtype))
    A_s = jnp.concatenate(blocks, axis=0)
    b_s = jnp.concatenate(rhs)
    c_s = jnp.concatenate([T.T @ c, jnp.zeros(m_ub + n_up, dtype)])
    return A_s, b_s, c_s


def _solve_one(c, A_ub, b_ub, A_eq, b_eq, tol, *, st: _Structure, max_steps: int):
    A_s, b_s, c_s = _standard_form(c, A_ub, b_ub, A_eq, b_eq, st)
    state = ipm_init(A_s, b_s, c_s)
    done, code = ipm_status(A_s, b_s, c_s, state, tol)

    def cond(carry):
        k, state, done, _ = carry
        finite = jnp.all(jnp.isfinite(state.x)) & jnp.all(jnp.isfinite(state.y))
        return (~done) & (k < max_steps) & finite

    def body(carry):
        k, state, _, _ = carry
        state = ipm_step(A_s, b_s, c_s, state)
        done, code = ipm_status(A_s, b_s, c_s, state, tol)
        return k + 1, state, done, code

    k, state, done, code = jax.lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), state,
                                                           done, code))
    z, y, s = ipm_solution(state)
    finite = jnp.all(jnp.isfinite(z)) & jnp.all(jnp.isfinite(y)) & jnp.all(jnp.isfinite(s))
    status = jnp.where(~finite, Result.NONFINITE,
                       jnp.where(done, code, Result.MAX_STEPS_REACHED)).astype(jnp.int32)
    x = jnp.asarray(st.T, c.dtype) @ z[: st.nz] + jnp.asarray(st.t0, c.dtype)
    fun = c @ x
    m_ub, m_eq = A_ub.shape[0], A_eq.shape[0]
    # Certificates measured on the returned point, in the original space.
    viol = [jnp.zeros((), c.dtype)]
    if m_ub:
        viol.append(jnp.max(A_ub @ x - b_ub, initial=0.0))
    if m_eq:
        viol.append(jnp.max(jnp.abs(A_eq @ x - b_eq), initial=0.0))
    viol.append(jnp.max(-z, initial=0.0))
    if st.upper_idx.shape[0]:
        viol.append(jnp.max(z[: st.nz][st.upper_idx] - jnp.asarray(st.upper_val, c.dtype),
                            initial=0.0))
    primal_residual = jnp.max(jnp.stack(viol))
    dual_obj = b_s @ y + c @ jnp.asarray(st.t0, c.dtype)
    duality_gap = jnp.abs(fun - dual_obj)
    dual_res = jnp.max(jnp.abs(c_s - A_s.T @ y - s), initial=0.0) / (1.0 + jnp.max(jnp.abs(c_s)))
    dual_res = jnp.maximum(dual_res, jnp.max(-s, initial=0.0) / (1.0 + jnp.max(jnp.abs(c_s))))
    ineqlin = y[:m_ub]
    eqlin = y[m_ub: m_ub + m_eq]
    return LPSolution(x=x, fun=fun, status=status, duality_gap=duality_gap,
                      primal_residual=primal_residual, dual_residual=dual_res,
                      ineqlin=ineqlin, eqlin=eqlin, num_steps=k)


@functools.partial(jax.jit, static_argnames=("st", "max_steps", "batch_axes"))
def _linprog_jit(c, A_ub, b_ub, A_eq, b_eq, tol, *, st, max_steps, batch_axes):
    fn = functools.partial(_solve_one, st=st, max_steps=max_steps)
    if batch_axes is None:
        return fn(c, A_ub, b_ub, A_eq, b_eq, tol)
    return jax.vmap(fn, in_axes=(*batch_axes, None))(c, A_ub, b_ub, A_eq, b_eq, tol)


def _hashable_structure(st: _Structure):
    return _HashableStructure(st)


class _HashableStructure:
    """Wrap the static structure so it can key the jit cache (hash by content)."""

    def __init__(self, st: _Structure):
        self.st = st
        self._key = (st.n, st.nz, st.T.tobytes(), st.t0.tobytes(), st.upper_idx.tobytes(),
                     st.upper_val.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _HashableStructure) and self._key == other._key

    def __getattr__(self, name):
        return getattr(self.st, name)


def linprog(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None), *, tol=None,
            max_steps: int = 200) -> LPSolution:
    r"""Solve a linear program (or a batch of them) with the homogeneous interior-point method.

    .. math::
        \min_x c^\top x \ \text{s.t.}\ A_{ub} x \le b_{ub},\ A_{eq} x = b_{eq},\ l \le x \le u.

    Batching: ``c`` of shape ``[B, n]`` solves ``B`` programs at once; each of ``A_ub``, ``b_ub``,
    ``A_eq``, ``b_eq`` may carry the same leading axis or be shared. ``linprog`` also works under
    ``jax.vmap`` and ``jax.jit``. ``bounds`` must be concrete and is shared by the batch.

    Args:
      c: objective ``[*batch, n]``.
      A_ub, b_ub: inequality constraints ``[*batch, m_ub, n]``, ``[*batch, m_ub]`` (or ``None``).
      A_eq, b_eq: equality constraints ``[*batch, m_eq, n]``, ``[*batch, m_eq]`` (or ``None``).
      bounds: ``(lower, upper)`` for every variable, or a sequence of ``n`` such pairs; ``None``
        means unbounded. Default ``(0, None)``: non-negative variables (as scipy).
      tol: relative tolerance of the stopping test (default 1e-9 in float64, 1e-6 in float32).
      max_steps: iteration limit (static).

    Returns:
      :class:`LPSolution` with the solution, status and its certificates (duality gap, primal and
      dual residuals), plus the constraint multipliers.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> sol = solvers.linprog(c=[-1., -2.], A_ub=[[1., 1.]], b_ub=[4.], bounds=(0, 3))
      >>> [round(float(v), 6) for v in sol.x], round(float(sol.fun), 6)
      ([1.0, 3.0], -7.0)
    """
    c = as_float_array(c, "c")
    if c.ndim < 1:
        raise ValueError(f"c must be a vector [n] (or a batch [B, n]); got shape {tuple(c.shape)}")
    if c.ndim > 2:
        raise ValueError("c may carry at most one batch axis; use jax.vmap for more")
    n = c.shape[-1]
    if n == 0:
        raise ValueError("c must have at least one variable")
    check_finite(c, "c")
    dtype = c.dtype
    batch = c.shape[0] if c.ndim == 2 else None

    def prep(Aname, A, bname, b):
        if (A is None) != (b is None):
            raise ValueError(f"{Aname} and {bname} must be given together")
        if A is None:
            return jnp.zeros((0, n), dtype), jnp.zeros((0,), dtype), None
        A = as_float_array(A, Aname, dtype=dtype)
        b = as_float_array(b, bname, dtype=dtype)
        a_batched = A.ndim == 3
        b_batched = b.ndim == 2
        if A.ndim not in (2, 3) or A.shape[-1] != n:
            raise ValueError(f"{Aname} must have shape [m, {n}] (or [B, m, {n}]); got "
                             f"{tuple(A.shape)}")
        if b.ndim not in (1, 2) or b.shape[-1] != A.shape[-2]:
            raise ValueError(f"{bname} must have shape [{A.shape[-2]}] to match {Aname}; got "
                             f"{tuple(b.shape)}")
        for arr, nm, isb in ((A, Aname, a_batched), (b, bname, b_batched)):
            if isb and (batch is None or arr.shape[0] != batch):
                raise ValueError(f"{nm} has a batch axis of size {arr.shape[0]} but c has "
                                 f"{'none' if batch is None else batch}")
        check_finite(A, Aname)
        check_finite(b, bname)
        return A, b, (0 if a_batched else None, 0 if b_batched else None)

    A_ub, b_ub, ax_ub = prep("A_ub", A_ub, "b_ub", b_ub)
    A_eq, b_eq, ax_eq = prep("A_eq", A_eq, "b_eq", b_eq)
    lo, hi = _parse_bounds(bounds, n)
    max_steps = check_positive_int(max_steps, "max_steps")
    if tol is None:
        tol = default_lp_tol(dtype)
    elif is_concrete(tol) and not (0 < float(tol) < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    st = _hashable_structure(_structure(lo, hi))
    batch_axes = None
    if batch is not None:
        batch_axes = (0, *(ax_ub or (None, None)), *(ax_eq or (None, None)))
    return _linprog_jit(c, A_ub, b_ub, A_eq, b_eq, jnp.asarray(tol, dtype), st=st,
                        max_steps=max_steps, batch_axes=batch_axes)
