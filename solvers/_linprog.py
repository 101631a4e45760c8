r"""Linear programming in JAX: one entry function, three methods, one pivot kernel.

Solves

.. math::
    \min_x c^\top x \quad \text{s.t.} \quad A_{ub} x \le b_{ub},\; A_{eq} x = b_{eq},\;
    l \le x \le u

(or a batch of such programs) with :func:`linprog`. Methods:

- ``"dual_simplex"``: the dual simplex of :mod:`._simplex` on the inequality form
  ``min c_z z, G z <= h, z >= 0`` (equalities as two inequalities, finite upper bounds as rows).
  It needs no phase 1 when the costs ``c_z`` are non-negative (the slack basis is dual
  feasible); a member with a negative cost is reported ``FAILED``.
- ``"simplex"``: the primal simplex of :mod:`._simplex` on the compact Tucker tableau of the same
  form; needs ``h >= 0`` (the slack basis is primal feasible), else ``FAILED``.
- ``"interior_point"``: the homogeneous self-dual (HSD) embedding of Andersen and Andersen with
  Mehrotra's predictor-corrector on the standard form ``A_s z = b_s, z >= 0`` (the method of
  scipy's former ``interior-point`` solver). It applies to every LP. It runs on a copy of the
  data equilibrated by Ruiz's row and column scaling, so that its (normwise) optimality test
  means the same on every row of a badly scaled program. ``INFEASIBLE`` is reported only with
  a Farkas ray ``y`` (``A^T y <= 0 < b^T y``) and ``UNBOUNDED`` only with an improving ray
  ``x`` (``x >= 0, A x = 0, c^T x < 0``) plus a feasible point (found by a second phase with
  ``c = 0`` in the same loop), each checked again on the original data; "infeasible or
  unbounded" without a verified ray is ``FAILED``. Empty rows ``0 x = b`` are presolved
  (infeasible when ``b != 0``). No field is ever NaN.
- ``"auto"`` (default): per member, the dual simplex where ``c_z >= 0``, else the primal simplex
  where ``h >= 0``; every member that no pivoting method certified goes to the interior-point
  method. Selection is by masks at fixed shapes: each method's loop (the kernel's
  :func:`socialign.kernel.iterate`) stops at once for members it need not solve, so under
  ``vmap`` a loop no member needs costs nothing. Called eagerly (no tracer in the data), the
  pivoting stage is compiled and run first, and the interior point (most of the compile time)
  only if some member needs it; when no member has a pivoting method, only the interior point
  is compiled. The answer is the same as the one program of a user's ``jit``.

All three methods are :class:`socialign.kernel.IterativeSolver` objects on the one loop driver,
the pivoting ones share the pivot kernel :mod:`._pivot` (with Lemke-Howson), every answer is
verified on the original data, and a batch goes through :func:`socialign.kernel.batch_map`.
Gradients of ``x`` and ``fun`` (with respect to ``c``, ``A_ub``, ``b_ub``, ``A_eq``, ``b_eq``)
come from the implicit function theorem on the KKT system restricted to the active set
(:class:`socialign.kernel.ImplicitAdjoint`): valid at a unique, nondegenerate optimum.

References:
  E. D. Andersen and K. D. Andersen, "The MOSEK interior point optimizer for linear programming:
  an implementation of the homogeneous algorithm", High Performance Optimization, 2000.
  S. Mehrotra, "On the implementation of a primal-dual interior point method", SIAM J. Optim. 1992.
  C. E. Lemke, "The dual method of solving the linear programming problem", Naval Res. Logist.
  Q. 1954. G. B. Dantzig, *Linear Programming and Extensions*, 1963.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    ImplicitAdjoint,
    IterativeSolver,
    Result,
    as_float_array,
    as_mesh,
    batch_map,
    check_batch_size,
    check_finite,
    check_positive_int,
    gather,
    is_concrete,
    iterate,
    iterate_batch,
    lp_tol,
    pytree_dataclass,
    raise_if_failed,
    scale_of,
    shard_batch,
)
from ._pivot import threshold
from ._simplex import DualSimplex, InequalityLP, PrimalSimplex

__all__ = ["linprog", "LPSolution", "InteriorPoint", "StandardLP", "IPMState", "ipm_solution"]


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


def _ipm_init(A, b, c) -> IPMState:
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


def _ipm_step(A, b, c, st: IPMState) -> IPMState:
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
    # an empty row (all-zero in A; `_by_ipm` zeroes its right-hand side) gets unit scaling so its
    # multiplier stays put instead of being blown up by a 1e-30 floor
    dmax = jnp.max(diag, initial=0.0)
    sc = 1.0 / jnp.sqrt(jnp.where(diag > dmax * 1e-30, diag, jnp.maximum(dmax, 1e-300)))
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


def _farkas_ray(A, b, y, tol):
    r"""Does ``y [m]`` prove that ``A z = b, z >= 0`` has no solution (Farkas' lemma)?

    .. math::
        (A^\top y)_j \le \mathrm{tol}\,\max_i |A_{ij}|\,\lVert y\rVert_1 \ \forall j,
        \qquad b^\top y > \mathrm{tol}\,|b|^\top |y|.

    Read as a backward error: ``y`` is an exact certificate (``A'^T y <= 0 < b'^T y``) for every
    ``A'``, ``b'`` whose columns differ from ``A``'s by at most ``tol`` times the column's largest
    entry and with ``|b' - b| <= tol |b|``. Both sides of each test scale alike when a column
    of ``A`` is rescaled, and ``y`` is a direction (any positive multiple passes or fails
    alike). Returns a bool scalar.
    """
    col = jnp.max(jnp.abs(A), axis=0, initial=0.0)
    ny = jnp.sum(jnp.abs(y))
    return (jnp.all(A.T @ y <= tol * col * ny)) & (b @ y > tol * (jnp.abs(b) @ jnp.abs(y)))


def _improving_ray(A, c, x, tol):
    r"""Is ``x [n]`` a direction of unbounded descent of ``min c z, A z = b, z >= 0``?

    .. math::
        x \ge 0,\qquad |(A x)_i| \le \mathrm{tol}\,\max_j |A_{ij}|\,\lVert x\rVert_1
        \ \forall i,\qquad c^\top x < -\mathrm{tol}\,|c|^\top |x|

    (the row-by-row counterpart of :func:`_farkas_ray`: ``x`` is an exact improving ray of every
    program whose rows are within ``tol`` of ``A``'s rows and ``|c' - c| <= tol |c|``). It makes
    the program unbounded only together with a feasible point. Returns a bool scalar.
    """
    row = jnp.max(jnp.abs(A), axis=1, initial=0.0)
    nx = jnp.sum(jnp.abs(x))
    return (jnp.all(x >= 0) & jnp.all(jnp.abs(A @ x) <= tol * row * nx)
            & (c @ x < -tol * (jnp.abs(c) @ jnp.abs(x))))


def _ipm_status(A, b, c, st: IPMState, tol):
    """Return ``(done, result_code)`` by Andersen & Andersen's stopping criteria (section 4.5).

    ``CONVERGED`` is their (normwise) optimality test. When the iterate says "infeasible or
    unbounded" (``tau -> 0``), the code is ``INFEASIBLE`` only if ``y`` passes
    :func:`_farkas_ray` and ``UNBOUNDED`` only if ``x`` passes :func:`_improving_ray`; while
    neither ray checks out the method keeps iterating (the rays sharpen as ``tau -> 0``), and if it
    stalls first the code is ``FAILED``. A stall elsewhere is ``STALLED``.
    """
    rho_p, rho_d, rho_a, rho_g, rho_mu = _indicators(A, b, c, st)
    optimal = (rho_p <= tol) & (rho_d <= tol) & (rho_a <= tol)
    inf1 = (rho_p < tol) & (rho_d < tol) & (rho_g < tol) & (st.tau < tol * jnp.maximum(1.0, st.kappa))
    inf2 = (rho_mu < tol) & (st.tau < tol * jnp.minimum(1.0, st.kappa))
    infeasible_like = (inf1 | inf2) & ~optimal
    # Complementarity far below what the residuals can follow: numerical stall, not an answer.
    stalled = (rho_mu < tol * tol) & ~optimal
    farkas = _farkas_ray(A, b, st.y, tol)
    improving = _improving_ray(A, c, st.x, tol)
    ray = (infeasible_like | stalled) & (farkas | improving)
    code = jnp.where(
        optimal, Result.CONVERGED,
        jnp.where(ray, jnp.where(farkas, Result.INFEASIBLE, Result.UNBOUNDED),
                  jnp.where(infeasible_like, Result.FAILED, Result.STALLED)),
    ).astype(jnp.int32)
    return optimal | ray | stalled, code


def ipm_solution(st: IPMState):
    """Standard-form primal ``z``, dual ``y`` and reduced costs ``s`` of the final iterate."""
    return st.x / st.tau, st.y / st.tau, st.z / st.tau


@pytree_dataclass
class StandardLP:
    """One LP in standard form ``min c z, A z = b, z >= 0`` (no batch axes).

    Attributes:
      A: ``[m, n]``; b: ``[m]``; c: ``[n]``.
      active: bool scalar; ``False`` makes :class:`InteriorPoint` stop at once (``FAILED``),
        so that ``linprog(method="auto")`` can skip members a pivoting method certified.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._linprog import StandardLP
      >>> StandardLP(jnp.ones((1, 2)), jnp.ones(1), jnp.ones(2)).A.shape
      (1, 2)
    """

    A: jax.Array
    b: jax.Array
    c: jax.Array
    active: jax.Array = True


@pytree_dataclass
class InteriorPoint(IterativeSolver):
    """The homogeneous self-dual interior-point method as a kernel :class:`IterativeSolver`.

    ``init``/``step`` are :func:`_ipm_init`/:func:`_ipm_step`; ``terminate`` is :func:`_ipm_status`
    (Andersen and Andersen's stopping criteria: ``CONVERGED``, ``INFEASIBLE`` with a verified
    Farkas ray, ``UNBOUNDED`` with a verified improving ray (this class does not look for a
    feasible point; :func:`linprog` does), ``FAILED`` when the iterate said "infeasible or
    unbounded" but stalled before either ray checked out, or ``STALLED``) with the largest
    relative residual as certificate. ``tol`` is relative
    (:func:`socialign.kernel.lp_tol` by default in :func:`linprog`).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import iterate
      >>> from socialign.solvers._linprog import InteriorPoint, StandardLP, ipm_solution
      >>> lp = StandardLP(jnp.array([[1., 1.]]), jnp.array([1.]), jnp.array([1., 2.]))
      >>> it = iterate(InteriorPoint(), lp, 1e-6, jax.random.key(0), max_steps=50)
      >>> [round(float(v), 4) for v in ipm_solution(it.state)[0]]
      [1.0, 0.0]
    """

    def init(self, lp: StandardLP, key=None) -> IPMState:
        return _ipm_init(lp.A, lp.b, lp.c)

    def step(self, lp: StandardLP, st: IPMState) -> IPMState:
        return _ipm_step(lp.A, lp.b, lp.c, st)

    def terminate(self, lp: StandardLP, st: IPMState, tol):
        done, code = _ipm_status(lp.A, lp.b, lp.c, st, tol)
        rho_p, rho_d, rho_a, _, _ = _indicators(lp.A, lp.b, lp.c, st)
        cert = jnp.maximum(jnp.maximum(rho_p, rho_d), rho_a)
        inactive = ~jnp.asarray(lp.active)
        code = jnp.where(inactive, Result.FAILED, code).astype(jnp.int32)
        return done | inactive, code, cert


def _equilibrate(A, sweeps: int = 8):
    """Ruiz's scaling: positive ``r [m]``, ``s [n]`` such that every row and every column of
    ``diag(r) A diag(s)`` has max-norm close to 1 (empty rows and columns keep scale 1).

    D. Ruiz, "A scaling algorithm to equilibrate both rows and columns norms in matrices",
    Rutherford Appleton Laboratory RAL-TR-2001-034, 2001.
    """
    def sweep(_, rs):
        r, s = rs
        B = jnp.abs(A) * r[:, None] * s[None, :]
        rn, cn = jnp.max(B, axis=1, initial=0.0), jnp.max(B, axis=0, initial=0.0)
        return (r / jnp.sqrt(jnp.where(rn > 0, rn, 1.0)),
                s / jnp.sqrt(jnp.where(cn > 0, cn, 1.0)))

    m, n = A.shape
    return jax.lax.fori_loop(0, sweeps, sweep, (jnp.ones(m, A.dtype), jnp.ones(n, A.dtype)))


@pytree_dataclass
class _CertifiedLP:
    """:class:`StandardLP` plus the tolerance its two-phase run needs inside ``step``."""

    lp: StandardLP
    tol: jax.Array


class _CertifiedState(NamedTuple):
    ipm: IPMState
    phase: jax.Array  # int32: 0 minimise c z; 1 find a feasible point (c = 0) after a ray
    ray: jax.Array  # [n] the improving ray phase 0 verified (zeros before)
    switch: jax.Array  # bool: ``ipm`` is phase 0's verified improving ray (phase 1 comes next)


@pytree_dataclass
class _CertifiedInteriorPoint(IterativeSolver):
    """The interior point of :func:`linprog`: :class:`InteriorPoint` in two phases, one loop.

    Phase 0 is :class:`InteriorPoint` on ``min c z``. An improving ray (verified by
    :func:`_improving_ray`) proves unboundedness only if the program is feasible, so instead of
    stopping there the method restarts, in the same ``while_loop``, on the feasibility program
    (``c = 0``, which has no improving ray): ``UNBOUNDED`` when it converges (a feasible point
    plus the ray), ``INFEASIBLE`` when it finds a Farkas ray, ``FAILED`` when it stalls.
    The step is the same compiled function in both phases (``c`` is selected by the phase).
    """

    def init(self, prob: _CertifiedLP, key=None) -> _CertifiedState:
        lp = prob.lp
        # the blind starting point is never a ray (tau = 1, mu = 1): no switch before step 1
        return _CertifiedState(_ipm_init(lp.A, lp.b, lp.c), jnp.asarray(0, jnp.int32),
                               jnp.zeros_like(lp.c), jnp.asarray(False))

    @staticmethod
    def _cost(lp, phase):
        return jnp.where(phase == 0, lp.c, jnp.zeros_like(lp.c))

    def step(self, prob: _CertifiedLP, s: _CertifiedState) -> _CertifiedState:
        lp = prob.lp
        # a verified improving ray in phase 0 (the verdict `terminate` gave on this state, kept
        # in `switch`) starts phase 1 from the blind starting point
        switch = s.switch
        fresh = _ipm_init(lp.A, lp.b, lp.c)
        ipm = IPMState(*(jnp.where(switch, u, v) for u, v in zip(fresh, s.ipm)))
        ray = jnp.where(switch, s.ipm.x, s.ray)
        phase = jnp.where(switch, 1, s.phase).astype(jnp.int32)
        ipm = _ipm_step(lp.A, lp.b, self._cost(lp, phase), ipm)
        # the new state's verdict, written exactly as `terminate` writes it, so that the
        # compiler computes it once per iteration (common subexpressions) for both
        done, code = _ipm_status(lp.A, lp.b, self._cost(lp, phase), ipm, prob.tol)
        switch = (phase == 0) & done & (code == Result.UNBOUNDED)
        return _CertifiedState(ipm, phase, ray, switch)

    def terminate(self, prob: _CertifiedLP, s: _CertifiedState, tol):
        # `tol` is the problem's own (`prob.tol`, the value `linprog` passes as both)
        lp = prob.lp
        c = self._cost(lp, s.phase)
        done, code = _ipm_status(lp.A, lp.b, c, s.ipm, prob.tol)
        phase0 = s.phase == 0
        # phase 0: an improving ray alone is not an answer (phase 1 follows)
        done = done & ~(phase0 & (code == Result.UNBOUNDED))
        # phase 1: feasible -> UNBOUNDED (the ray of phase 0), a Farkas ray -> INFEASIBLE
        code1 = jnp.where(code == Result.CONVERGED, Result.UNBOUNDED,
                          jnp.where(code == Result.INFEASIBLE, Result.INFEASIBLE, Result.FAILED))
        code = jnp.where(phase0, code, code1)
        rho_p, rho_d, rho_a, _, _ = _indicators(lp.A, lp.b, c, s.ipm)
        cert = jnp.maximum(jnp.maximum(rho_p, rho_d), rho_a)
        inactive = ~jnp.asarray(lp.active)
        code = jnp.where(inactive, Result.FAILED, code).astype(jnp.int32)
        return done | inactive, code, cert


# --------------------------------------------------------------------------------------------
# General-form front end
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class LPSolution:
    """Result of :func:`linprog` (every field carries the batch axes of a batched call).

    Attributes:
      x: primal solution ``[*batch, n]``.
      fun: objective value ``c @ x``, ``[*batch]``.
      status: ``int32`` :class:`socialign.kernel.Result` code, ``[*batch]``: ``CONVERGED``
        (verified optimal), ``INFEASIBLE`` (only with a Farkas ray verified on the data; from
        the interior point ``ineqlin``/``eqlin`` then hold that ray, scaled to max-norm 1),
        ``UNBOUNDED`` (only with a verified improving ray and a feasible point; from the
        interior point ``x`` is that point), ``MAX_STEPS_REACHED``,
        ``NONFINITE``, ``STALLED`` (interior point), ``CERTIFICATE_ABOVE_TOLERANCE`` (a pivoting
        method finished but its answer failed the check on the original data) or ``FAILED``
        (the method does not apply to this member, e.g. ``"dual_simplex"`` with a negative
        cost, or the interior point saw "infeasible or unbounded" but no ray checked out). A
        non-finite run is ``NONFINITE`` with zeros in ``x`` and the multipliers and the largest
        finite number in the certificates: no field is ever NaN.
      duality_gap: ``|c^T x - dual objective|`` at the returned point (absolute).
      primal_residual: largest violation of any constraint or bound by ``x`` (absolute).
      dual_residual: largest violation of dual feasibility (relative to ``|c|``).
      ineqlin: multipliers of ``A_ub x <= b_ub`` (non-positive, scipy's sign convention):
        ``d fun / d b_ub``, ``[*batch, m_ub]``.
      eqlin: multipliers of ``A_eq x = b_eq``: ``d fun / d b_eq``, ``[*batch, m_eq]``.
      num_steps: ``int32`` iterations taken (pivots plus interior-point iterations).

    Example:
      >>> from socialign import solvers
      >>> sol = solvers.linprog(c=[1., 1.], A_ub=[[-1., -2.]], b_ub=[-2.])
      >>> [round(float(v), 6) for v in sol.x], round(float(sol.fun), 6), int(sol.status)
      ([0.0, 1.0], 1.0, 0)
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
        """Boolean array: ``status == CONVERGED``."""
        return jnp.asarray(self.status) == Result.CONVERGED


class _Structure(NamedTuple):
    """Static description of the standard-form transformation ``x = T z + t0``."""

    n: int
    nz: int  # structural standard-form variables (before slacks)
    T: np.ndarray  # [n, nz]
    t0: np.ndarray  # [n]
    upper_idx: np.ndarray  # standard-form variables with a finite upper bound
    upper_val: np.ndarray  # their upper bound in z-space
    lo: np.ndarray  # [n] lower bounds (may be -inf)
    hi: np.ndarray  # [n] upper bounds (may be inf)


def _parse_bounds(bounds, n: int):
    if bounds is None:
        bounds = (0, None)
    arr = None
    if isinstance(bounds, tuple) and len(bounds) == 2 and all(
        b is None or np.ndim(b) == 0 for b in bounds
    ):
        if not is_concrete(bounds):
            raise TypeError("bounds must be concrete (numbers or None); they fix the LP's "
                            "standard-form shape and are shared across a batch")
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
                      np.array(upper_val, dtype=float), lo.astype(float), hi.astype(float))


def _columns(st: _Structure):
    """Static ``(j [nz], s [nz])``: column ``k`` of ``st.T`` is ``s_k`` at row ``j_k`` (every
    column of the transformation holds one +-1), and whether ``T`` is the identity."""
    j = np.argmax(np.abs(st.T), axis=0) if st.nz else np.zeros(0, np.int64)
    sign = st.T[j, np.arange(st.nz)]
    identity = st.nz == st.n and np.array_equal(j, np.arange(st.n)) and bool(np.all(sign == 1))
    return j, sign, identity


def _times_T(A, st: _Structure):
    """``A @ T`` as a static column gather (and sign): a matmul by the transformation cost
    ``2 k n nz`` flops per program, 2 GFLOP on 8,000 contract LPs of 40 x 80, for what is in
    the default case the identity (and ``0 * inf`` would turn an infinite entry into NaN)."""
    j, sign, identity = _columns(st)
    if identity:
        return A
    out = A[..., j]
    return out if bool(np.all(sign == 1)) else out * jnp.asarray(sign, A.dtype)


def _T_times(z, st: _Structure):
    """``T @ z`` (back to the user's variables) as a static scatter-add."""
    j, sign, identity = _columns(st)
    if identity:
        return z
    return jnp.zeros(st.n, z.dtype).at[j].add(z * jnp.asarray(sign, z.dtype))


def _minus_shift(b, A, st: _Structure):
    """``b - A @ t0`` (``b`` itself when every shift is 0, the default bounds)."""
    return b - A @ jnp.asarray(st.t0, A.dtype) if np.any(st.t0) else b


class _HashableStructure:
    """Wrap the static structure so it can key the jit cache (hash by content)."""

    def __init__(self, st: _Structure):
        self.st = st
        self._key = (st.n, st.nz, st.T.tobytes(), st.t0.tobytes(), st.upper_idx.tobytes(),
                     st.upper_val.tobytes(), st.lo.tobytes(), st.hi.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _HashableStructure) and self._key == other._key

    def __getattr__(self, name):
        return getattr(self.st, name)


def _standard_form(c, A_ub, b_ub, A_eq, b_eq, st: _Structure):
    """Build ``(A_s, b_s, c_s)`` for one (unbatched) LP: ``[A_ub T, I, 0; A_eq T, 0, 0; U, 0, I]``."""
    dtype = c.dtype
    m_ub, m_eq, n_up = A_ub.shape[0], A_eq.shape[0], st.upper_idx.shape[0]
    nz = st.nz
    n_s = nz + m_ub + n_up
    blocks = []
    rhs = []
    if m_ub:
        blocks.append(jnp.concatenate(
            [_times_T(A_ub, st), jnp.eye(m_ub, dtype=dtype), jnp.zeros((m_ub, n_up), dtype)],
            axis=1))
        rhs.append(_minus_shift(b_ub, A_ub, st))
    if m_eq:
        blocks.append(jnp.concatenate([_times_T(A_eq, st), jnp.zeros((m_eq, m_ub + n_up), dtype)],
                                      axis=1))
        rhs.append(_minus_shift(b_eq, A_eq, st))
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
    c_s = jnp.concatenate([_times_T(c[None], st)[0], jnp.zeros(m_ub + n_up, dtype)])
    return A_s, b_s, c_s


def _inequality_form(c, A_ub, b_ub, A_eq, b_eq, st: _Structure):
    """Build ``(c_z [nz], G [k, nz], h [k])`` with rows ``[A_ub T; A_eq T; -A_eq T; U]``."""
    dtype = c.dtype
    m_eq, n_up, nz = A_eq.shape[0], st.upper_idx.shape[0], st.nz
    rows, rhs = [_times_T(A_ub, st)], [_minus_shift(b_ub, A_ub, st)]
    if m_eq:
        r_eq = _minus_shift(b_eq, A_eq, st)
        A_eq_z = _times_T(A_eq, st)
        rows += [A_eq_z, -A_eq_z]
        rhs += [r_eq, -r_eq]
    if n_up:
        U = np.zeros((n_up, nz))
        U[np.arange(n_up), st.upper_idx] = 1.0
        rows.append(jnp.asarray(U, dtype))
        rhs.append(jnp.asarray(st.upper_val, dtype))
    G = jnp.concatenate(rows, axis=0)
    h = jnp.concatenate(rhs)
    if G.shape[0] == 0:  # no constraint: the trivial row 0 z <= 1 keeps the tableaux non-empty
        G, h = jnp.zeros((1, nz), dtype), jnp.ones(1, dtype)
    return _times_T(c[None], st)[0], G, h


class _Answer(NamedTuple):
    z: jax.Array  # [nz] structural standard-form point
    y_ub: jax.Array
    y_eq: jax.Array
    status: jax.Array
    gap: jax.Array
    p_res: jax.Array
    d_res: jax.Array
    num_steps: jax.Array


def _by_ipm(c, A_ub, b_ub, A_eq, b_eq, tol, st, active, max_steps) -> _Answer:
    A_s, b_s, c_s = _standard_form(c, A_ub, b_ub, A_eq, b_eq, st)
    # presolve of empty rows (0 z = b_i): with b_i != 0 the program is infeasible and e_i sign(b_i)
    # is its Farkas certificate (A^T y = 0, b^T y = |b_i| > 0); the interior point runs without
    # them (b_i := 0), which keeps its normal equations from blowing up on a zero row
    empty = jnp.max(jnp.abs(A_s), axis=1, initial=0.0) == 0
    y_empty = jnp.where(empty & (jnp.abs(b_s) > tol * scale_of(b_s)), jnp.sign(b_s), 0.0)
    infeasible_row = _farkas_ray(A_s, b_s, y_empty, tol)
    b_run = jnp.where(empty, 0.0, b_s)
    # the method runs on an equilibrated copy (rows and columns by Ruiz's scaling, b and c to unit
    # size), so that its normwise stopping test means the same on every row of a program whose
    # rows and columns are scaled over many orders of magnitude; each claim is checked again on
    # the original data below
    r, col = _equilibrate(A_s)
    rb, cc = r * b_run, col * c_s
    beta = jnp.where(jnp.max(jnp.abs(rb)) > 0, jnp.max(jnp.abs(rb)), 1.0)
    gamma = jnp.where(jnp.max(jnp.abs(cc)) > 0, jnp.max(jnp.abs(cc)), 1.0)
    lp = StandardLP(A_s * r[:, None] * col[None, :], rb / beta, cc / gamma,
                    active & ~infeasible_row)
    it = iterate(_CertifiedInteriorPoint(), _CertifiedLP(lp, tol), tol, None,
                 max_steps=max_steps)
    zh, yh, sh = ipm_solution(it.state.ipm)
    zs, y, s = beta * col * zh, gamma * r * yh, gamma * sh / col
    # the rays, on the original data: INFEASIBLE keeps y as the Farkas ray, UNBOUNDED needs the
    # improving ray of phase 0 (and phase 1's feasible point, which zs is)
    y_ray, x_ray = r * it.state.ipm.y, col * it.state.ray
    code = it.result
    code = jnp.where((code == Result.INFEASIBLE) & ~_farkas_ray(A_s, b_run, y_ray, tol),
                     Result.FAILED, code)
    code = jnp.where((code == Result.UNBOUNDED) & ~_improving_ray(A_s, c_s, x_ray, tol),
                     Result.FAILED, code)
    y = jnp.where(code == Result.INFEASIBLE, y_ray / scale_of(y_ray), y)
    y = jnp.where(infeasible_row, y_empty, y)
    status = jnp.where(infeasible_row & active, Result.INFEASIBLE, code)
    m_ub, m_eq, nz = A_ub.shape[0], A_eq.shape[0], st.nz
    dtype = c.dtype
    z = zs[:nz]
    # certificates measured on the returned point
    viol = [jnp.zeros((), dtype), jnp.max(jnp.abs(A_s @ zs - b_s), initial=0.0),
            jnp.max(-zs, initial=0.0)]
    p_res = jnp.max(jnp.stack(viol))
    dual_obj = b_s @ y + c @ jnp.asarray(st.t0, dtype)
    fun = c_s @ zs + c @ jnp.asarray(st.t0, dtype)
    gap = jnp.abs(fun - dual_obj)
    cs = 1.0 + jnp.max(jnp.abs(c_s))
    d_res = jnp.maximum(jnp.max(jnp.abs(c_s - A_s.T @ y - s), initial=0.0) / cs,
                        jnp.max(-s, initial=0.0) / cs)
    return _Answer(z, y[:m_ub], y[m_ub:m_ub + m_eq], status, gap, p_res, d_res, it.num_steps)


# the dual simplex prices by dual Devex on float64 programs of at least this many entries
# (m x n of the inequality form) and leaves the most infeasible row otherwise: Devex saves
# pivots (8,000 Grossman-Hart programs of 40 x 80: 11.9 -> 9.9 on average, at most 76 -> 40;
# 1.02 -> 0.97 s in slots), but its weights cost two more small passes per pivot, which on
# small programs cost more than the pivots saved (20,000 of 10 x 20 in chunks: 0.11 -> 0.13 s).
# In float32 the pivots' feasibility threshold (1e3 eps, relative) is far looser than the final
# check's, and Devex stopped in that gap more often: of 3,840 random 30 x 40 programs, 238
# answers above tolerance against 162 (covering programs: 91 against 60)
_DEVEX_MIN_ENTRIES = 800


def _pivoting_solver(method, shape, dtype):
    """The pivoting solver of ``method`` for programs whose inequality form is ``shape``."""
    if method == "dual_simplex":
        m, n = shape
        devex = m * n >= _DEVEX_MIN_ENTRIES and jnp.dtype(dtype) == jnp.float64
        return DualSimplex(pricing="devex" if devex else "dantzig")
    return PrimalSimplex()


def _pivoting_problem(method, c, A_ub, b_ub, A_eq, b_eq, st, active):
    """``(solver, InequalityLP)`` of a pivoting method on one program."""
    c_z, G, h = _inequality_form(c, A_ub, b_ub, A_eq, b_eq, st)
    return _pivoting_solver(method, G.shape, G.dtype), InequalityLP(c_z, G, h, active)


def _by_pivoting(method, c, A_ub, b_ub, A_eq, b_eq, tol, st, active, max_steps) -> _Answer:
    solver, lp = _pivoting_problem(method, c, A_ub, b_ub, A_eq, b_eq, st, active)
    it = iterate(solver, lp, tol, None, max_steps=max_steps,
                 check_every=solver.default_check_every)
    return _pivoting_answer(solver, lp, it, tol, A_ub.shape[0], A_eq.shape[0])


def _pivoting_answer(solver, lp, it, tol, m_ub, m_eq) -> _Answer:
    """The :class:`_Answer` of a pivoting run ``it`` on ``lp`` (certificates on its data)."""
    return _checked_read(solver, lp, solver.read(lp, it.state, status=it.result), tol, m_ub,
                        m_eq)


def _checked_read(solver, lp, read, tol, m_ub, m_eq) -> _Answer:
    """The :class:`_Answer` of a pivoting method's unverified ``read`` of its final tableau:
    the claim and the certificates checked on the data (c_z, G, h) built directly from the
    original arrays."""
    ans, p_res, d_res, gap = solver.certify(lp, read, tol)
    y = ans.y
    y_eq = y[m_ub:m_ub + m_eq] - y[m_ub + m_eq:m_ub + 2 * m_eq]
    d_res = d_res / (1.0 + jnp.max(jnp.abs(lp.c)))
    return _Answer(ans.x, y[:m_ub], y_eq, ans.status, gap, p_res, d_res, ans.num_steps)


def _member(data, bdata, batched):
    """One member's ``(c, A_ub, b_ub, A_eq, b_eq)``: its slices of the batched arrays
    (``bdata``, in order) and the shared ones from ``data``."""
    it = iter(bdata)
    return tuple(next(it) if b else d for d, b in zip(data, batched))


def _pivoting_choice(c, A_ub, b_ub, A_eq, b_eq, st):
    """``(use_dual, use_primal)`` of ``method="auto"``: the dual simplex where ``c_z >= 0``
    (its slack basis is dual feasible), else the primal simplex where ``h >= 0``."""
    c_z, _, h = _inequality_form(c, A_ub, b_ub, A_eq, b_eq, st)
    use_dual = jnp.all(c_z >= -threshold(c_z))
    use_primal = ~use_dual & jnp.all(h >= -threshold(h))
    return use_dual, use_primal


@functools.partial(jax.jit, static_argnames=("st", "batch_shape", "batched"))
def _pivoting_applies(data, *, st, batch_shape, batched):
    """Does a pivoting method apply to every member, and to any (two ``[]`` bools)? A small
    program that lets an eager ``method="auto"`` call compile only the stage it needs."""
    def one(bdata):
        use_dual, use_primal = _pivoting_choice(*_member(data, bdata, batched), st)
        return use_dual | use_primal

    bdata = tuple(d for d, b in zip(data, batched) if b)
    applies = batch_map(one, bdata, batch_shape=batch_shape, batch_size=None, mesh=None)
    return jnp.all(applies), jnp.any(applies)


def _select(mask, a: _Answer, b: _Answer) -> _Answer:
    return _Answer(*(jnp.where(mask, u, v) for u, v in zip(a, b)))


def _certified(status):
    return (status == Result.CONVERGED) | (status == Result.INFEASIBLE) | \
        (status == Result.UNBOUNDED)


def _kkt_residual(sol, params):
    """KKT conditions of the LP restricted to the active set (zero at a nondegenerate optimum).

    Unknowns ``(x [n], y_ub [m_ub], y_eq [m_eq], mu [n])`` (``mu``: bound multipliers);
    ``params = (data, lo, hi, act_ub, at_lo, at_hi)`` with the active-set masks as 0/1 floats.
    """
    x, y_ub, y_eq, mu = sol
    (c, A_ub, b_ub, A_eq, b_eq), lo, hi, act_ub, at_lo, at_hi = params
    r1 = c - A_ub.T @ y_ub - A_eq.T @ y_eq - mu
    r2 = jnp.where(act_ub > 0.5, A_ub @ x - b_ub, y_ub)
    r3 = A_eq @ x - b_eq
    r4 = jnp.where(at_lo > 0.5, x - lo, jnp.where(at_hi > 0.5, x - hi, mu))
    return r1, r2, r3, r4


#: rows are equilibrated when their largest entries differ by more than this factor
_EQUILIBRATE_SPREAD = 2.0 ** 20


def _equilibrated(data, unit_rows: bool = False):
    """Row equilibration of a badly scaled program: ``(data, (r_ub, r_eq))`` with every row of
    ``A_ub`` and ``A_eq``, and its right-hand side, multiplied by ``r``, the power of 2 nearest
    to one over the row's largest ``|entry|`` (exact: no rounding; ``1`` for a zero row), when
    the rows' largest entries differ by more than ``2^20``; otherwise ``r = 1``. With
    ``unit_rows`` (static: some variable has a finite upper bound, which the methods write as
    a row ``x_j <= u_j`` of largest entry 1) those rows count too: a single row ``1e13 (x_1 +
    x_2) <= 4e13`` next to ``x_2 <= 3`` is badly scaled (its solution broke the bound by a
    third, CONVERGED, as the interior point's did with ``1e-9`` for ``1e13``).

    The methods run on the returned program, whose feasible set, optimum and rays are the
    user's: without it, a program whose rows differ in scale by 1e16 had its small rows
    violated by answers that the checks, measured against the largest entries, passed as
    ``CONVERGED``, and the interior point's Farkas test passed rays on feasible programs.
    Multipliers go back as ``r * y`` (:func:`_unscaled`). Columns are not scaled. Programs of
    ordinary scale are left alone: the pivot rules are not scale-invariant, and on the contract
    designs' 40 x 80 programs equilibrated rows took 15.3 pivots on average (at most 208)
    against 9.9 (40).
    """
    c, A_ub, b_ub, A_eq, b_eq = data
    lim = jnp.finfo(c.dtype).maxexp - 2          # r and 1 / r stay finite and normal
    big = jnp.concatenate([jnp.max(jnp.abs(A_ub), axis=1, initial=0.0),
                           jnp.max(jnp.abs(A_eq), axis=1, initial=0.0)])
    live = big > 0
    unit = 1.0 if unit_rows else 0.0
    spread = jnp.max(jnp.where(live, big, 0.0), initial=unit) > _EQUILIBRATE_SPREAD * jnp.min(
        jnp.where(live, big, jnp.inf), initial=1.0 if unit_rows else jnp.inf)
    k = jnp.round(jnp.log2(jnp.where(live, big, 1.0)))
    k = jnp.clip(jnp.where(jnp.isfinite(k) & spread, k, 0.0), -lim, lim).astype(jnp.int32)
    r = jnp.ldexp(jnp.ones_like(big), -k)
    r = r[:A_ub.shape[0]], r[A_ub.shape[0]:]
    return _rows_scaled(data, r), r


def _rows_scaled(data, r):
    """``data`` with the rows of ``A_ub``, ``A_eq`` and their right-hand sides times ``r``."""
    c, A_ub, b_ub, A_eq, b_eq = data
    r_ub, r_eq = r
    return c, A_ub * r_ub[:, None], b_ub * r_ub, A_eq * r_eq[:, None], b_eq * r_eq


def _unscaled(ans: _Answer, r) -> _Answer:
    """``ans`` of the equilibrated program (:func:`_equilibrated`) for the user's rows: the
    multipliers (or, for ``INFEASIBLE``, the Farkas ray, again scaled to max-norm 1 where the
    rows were rescaled) times ``r``. ``x``, the objective and the duality gap are the same for
    both programs."""
    r_ub, r_eq = r
    y_ub, y_eq = ans.y_ub * r_ub, ans.y_eq * r_eq
    norm = jnp.maximum(jnp.max(jnp.abs(y_ub), initial=0.0), jnp.max(jnp.abs(y_eq), initial=0.0))
    scaled = jnp.any(r_ub != 1) | jnp.any(r_eq != 1)
    ray = (ans.status == Result.INFEASIBLE) & (norm > 0) & scaled
    norm = jnp.where(ray, norm, 1.0)
    return ans._replace(y_ub=y_ub / norm, y_eq=y_eq / norm)


def _solve_one(data, tol, adjoint, *, st, method, max_steps):
    data_ng, r = _equilibrated(jax.lax.stop_gradient(data), len(st.upper_idx) > 0)
    c, A_ub, b_ub, A_eq, b_eq = data_ng
    true = jnp.asarray(True)
    steps_ipm, steps_piv = max_steps
    if method == "interior_point":
        ans = _by_ipm(c, A_ub, b_ub, A_eq, b_eq, tol, st, true, steps_ipm)
    elif method in ("simplex", "dual_simplex"):
        ans = _by_pivoting(method, c, A_ub, b_ub, A_eq, b_eq, tol, st, true, steps_piv)
    else:  # auto: dual simplex where c_z >= 0, primal simplex where h >= 0, then the IPM
        use_dual, use_primal = _pivoting_choice(c, A_ub, b_ub, A_eq, b_eq, st)
        dual = _by_pivoting("dual_simplex", c, A_ub, b_ub, A_eq, b_eq, tol, st, use_dual,
                            steps_piv)
        primal = _by_pivoting("simplex", c, A_ub, b_ub, A_eq, b_eq, tol, st, use_primal,
                              steps_piv)
        piv = _select(use_dual, dual, primal)
        done = (use_dual | use_primal) & _certified(piv.status)
        if method == "auto_pivoting":
            # the pivoting stage alone (`linprog`'s eager first stage): a member that stage
            # does not settle is FAILED here, and `linprog` then runs the whole of "auto"
            ans = piv._replace(status=jnp.where(done, piv.status, Result.FAILED))
            ans = ans._replace(num_steps=dual.num_steps + primal.num_steps)
        else:
            ipm = _by_ipm(c, A_ub, b_ub, A_eq, b_eq, tol, st, ~done, steps_ipm)
            ans = _select(done, piv, ipm)
            ans = ans._replace(num_steps=dual.num_steps + primal.num_steps + ipm.num_steps)
    return _solution(data, _unscaled(ans, r), adjoint, st)


def _solution(data, ans: _Answer, adjoint, st) -> LPSolution:
    """The :class:`LPSolution` of one program from a method's :class:`_Answer`: back to the
    user's variables, no NaN, implicit gradients on the KKT system."""
    c, A_ub, b_ub, A_eq, b_eq = jax.lax.stop_gradient(data)
    dtype = c.dtype
    x = _T_times(ans.z, st) + jnp.asarray(st.t0, dtype)
    finite = (jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(ans.y_ub))
              & jnp.all(jnp.isfinite(ans.y_eq)))
    status = jnp.where(finite, ans.status, Result.NONFINITE).astype(jnp.int32)
    # no field is ever NaN: a non-finite run (status NONFINITE) returns zeros and, for its
    # certificates, the largest finite number
    big = jnp.finfo(dtype).max
    x = jnp.where(finite, x, 0.0)
    # the largest violation on the user's data (the methods measured it on the equilibrated
    # program, whose rows may be rescaled); A_ub x is shared with the active set below
    lo, hi = jnp.asarray(st.lo, dtype), jnp.asarray(st.hi, dtype)
    Ax = A_ub @ x
    p_res = jnp.max(jnp.stack([
        jnp.zeros((), dtype), jnp.max(Ax - b_ub, initial=0.0),
        jnp.max(jnp.abs(A_eq @ x - b_eq), initial=0.0),
        jnp.max(jnp.where(jnp.isfinite(lo), lo - x, 0.0), initial=0.0),
        jnp.max(jnp.where(jnp.isfinite(hi), x - hi, 0.0), initial=0.0)]))
    ans = ans._replace(p_res=p_res)
    ans = ans._replace(y_ub=jnp.where(finite, ans.y_ub, 0.0), y_eq=jnp.where(finite, ans.y_eq, 0.0),
                       **{k: jnp.where(finite & jnp.isfinite(getattr(ans, k)), getattr(ans, k), big)
                          for k in ("gap", "p_res", "d_res")})
    # implicit differentiation on the KKT system restricted to the active set
    mu = c - A_ub.T @ ans.y_ub - A_eq.T @ ans.y_eq
    fin_lo, fin_hi = jnp.isfinite(lo), jnp.isfinite(hi)
    lo_f, hi_f = jnp.where(fin_lo, lo, 0.0), jnp.where(fin_hi, hi, 0.0)
    act_ub = (b_ub - Ax) <= -ans.y_ub
    at_lo = fin_lo & ((x - lo_f) <= mu)
    at_hi = fin_hi & ~at_lo & ((hi_f - x) <= -mu)
    masks = tuple(m.astype(dtype) for m in (act_ub, at_lo, at_hi))
    sol = (x, ans.y_ub, ans.y_eq, mu)
    x, y_ub, y_eq, _ = adjoint.apply(_kkt_residual, sol, (data, lo_f, hi_f, *masks),
                                     who="linprog")
    fun = data[0] @ x
    return LPSolution(x=x, fun=fun, status=status, duality_gap=ans.gap,
                      primal_residual=ans.p_res, dual_residual=ans.d_res, ineqlin=y_ub,
                      eqlin=y_eq, num_steps=ans.num_steps.astype(jnp.int32))


@functools.partial(jax.jit, static_argnames=("st", "method", "max_steps", "batch_shape",
                                             "batched", "batch_size", "mesh", "slots"))
def _linprog_jit(data, tol, adjoint, *, st, method, max_steps, batch_shape, batched,
                 batch_size, mesh=None, slots=None):
    def one(bdata):
        return _solve_one(_member(data, bdata, batched), tol, adjoint, st=st, method=method,
                          max_steps=max_steps)

    m_ub, m_eq = data[1].shape[-2], data[3].shape[-2]
    bdata = tuple(d for d, b in zip(data, batched) if b)
    if slots is None or not batch_shape:
        sol = batch_map(one, bdata, batch_shape=batch_shape, batch_size=batch_size, mesh=mesh)
    else:
        size, nb = math.prod(batch_shape), len(batch_shape)
        flat = tuple(d.reshape(size, *d.shape[nb:]) for d in bdata)

        def lp_of(bd, r):
            member = jax.lax.stop_gradient(_member(data, bd, batched))
            return _pivoting_problem(method, *_rows_scaled(member, r), st, True)[1]

        def pool(flat):
            # the pivoting runs in refilled slots (kernel.iterate_batch), each program's point,
            # multipliers, ray and claim read off its tableau as it stops; their checks on the
            # data after the loop, in chunks (inside the loop they ran on the few programs
            # that stopped in an iteration, and cost more than the iteration's pivots)
            n = flat[0].shape[0]
            # each program's row factors once (a pass over its data), shared by its pivoting
            # and its checks
            rs = jax.vmap(lambda bd: _equilibrated(
                jax.lax.stop_gradient(_member(data, bd, batched)),
                len(st.upper_idx) > 0)[1])(flat)
            lps = jax.vmap(lp_of)(flat, rs)
            solver = _pivoting_solver(method, lps.G.shape[1:], lps.G.dtype)
            reads = iterate_batch(
                solver, lps, tol, None, max_steps=max_steps[1], slots=slots,
                check_every=solver.default_check_every,
                output=lambda lp, it: solver.read(lp, it.state, status=it.result))

            def finish(a):
                bd, r, read = a
                ans = _checked_read(solver, lp_of(bd, r), read, tol, m_ub, m_eq)
                return _solution(_member(data, bd, batched), _unscaled(ans, r), adjoint, st)

            return batch_map(finish, (flat, rs, reads), batch_shape=(n,), batch_size=batch_size)

        sol = pool(flat) if mesh is None else shard_batch(pool, flat, batch_shape=(size,),
                                                          mesh=mesh)
        sol = jax.tree_util.tree_map(lambda x: x.reshape(*batch_shape, *x.shape[1:]), sol)
    return sol


_METHODS = ("auto", "simplex", "dual_simplex", "interior_point")


def linprog(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None), *,
            method: str = "auto", tol=None, max_steps: int | None = None,
            batch_size: int | None = None, throw: bool = False,
            adjoint: ImplicitAdjoint | None = None, mesh=None,
            slots: int | None = None) -> LPSolution:
    r"""Solve a linear program (or a batch of them).

    .. math::
        \min_x c^\top x \ \text{s.t.}\ A_{ub} x \le b_{ub},\ A_{eq} x = b_{eq},\ l \le x \le u.

    Batching: ``c`` of shape ``[*batch, n]`` solves ``prod(batch)`` programs at once; each of
    ``A_ub``, ``b_ub``, ``A_eq``, ``b_eq`` may carry the same leading axes or be shared.
    ``linprog`` also works inside a user's ``jax.jit`` and under ``jax.vmap``, and gives the
    same answer eagerly and jitted. ``bounds`` must be concrete and is shared by the batch.
    A program whose rows' largest entries differ by more than ``2^20`` (a finite upper bound
    counting as a row of largest entry 1) is solved with its rows equilibrated (each row of
    ``A_ub``, ``A_eq`` and its right-hand side times a power of 2), so that the checks hold
    every row to its own scale; the multipliers are mapped back.

    Args:
      c: objective ``[*batch, n]``.
      A_ub, b_ub: inequality constraints ``[*batch, m_ub, n]``, ``[*batch, m_ub]`` (or ``None``).
      A_eq, b_eq: equality constraints ``[*batch, m_eq, n]``, ``[*batch, m_eq]`` (or ``None``).
      bounds: ``(lower, upper)`` for every variable, or a sequence of ``n`` such pairs; ``None``
        means unbounded. Default ``(0, None)``: non-negative variables (as scipy).
      method: ``"auto"`` (default: pivoting where the form allows, the interior point for the
        rest; see the module docstring), ``"dual_simplex"`` (needs non-negative costs after
        the bounds are shifted away, e.g. ``c >= 0`` with ``x >= 0``; Grossman-Hart min-pay
        programs), ``"simplex"`` (needs ``b_ub >= 0`` and no equalities, e.g. matrix games) or
        ``"interior_point"`` (any LP). Members a method does not apply to get ``FAILED``.
      tol: relative tolerance of the stopping tests and of the verification on the original
        data; default :func:`socialign.kernel.lp_tol` (1e-9 in float64, ~1e-6 in float32).
      max_steps: iteration limit of each method (static); default 200 interior-point
        iterations and ``50 + 10 (rows + columns)`` pivots.
      batch_size: solve a batch in chunks of this many programs (``lax.map`` over ``vmap``-ed
        chunks, :func:`socialign.kernel.batch_map`); on CPUs chunks of about 64 small programs
        are fastest. ``None`` (default) ``vmap``-s the whole batch.
      throw: raise :class:`socialign.kernel.NotConvergedError` (at run time inside ``jit``)
        unless every member is ``CONVERGED`` (default ``False``: read ``status``).
      adjoint: how gradients flow; default :class:`socialign.kernel.ImplicitAdjoint`: ``x``,
        ``fun`` and the multipliers are differentiable with respect to ``c``, ``A_ub``,
        ``b_ub``, ``A_eq``, ``b_eq`` by the implicit function theorem on the KKT conditions
        restricted to the active set (correct at a unique, nondegenerate optimum; at a
        degenerate one the system is singular and gradients are not finite).
      mesh: for a batch, ``None`` (one device) or a :class:`jax.sharding.Mesh` or a sequence
        of devices: the batch is split over them, each device looping on its own shard, as in
        :func:`socialign.solvers.solve` (:func:`socialign.kernel.shard_batch`).
      slots: for a batch solved by ``"simplex"`` or ``"dual_simplex"``, pivot this many
        programs together and hand a slot to the next program as soon as its program stops
        (:func:`socialign.kernel.iterate_batch`), instead of one loop that pivots until the
        slowest program of the batch (or chunk) is done: for batches whose pivot counts vary
        (Grossman-Hart programs: 12 on average, up to 76 at 40 actions x 80 outcomes). Each
        program takes the pivots it takes alone; ``batch_size`` then chunks the work after the
        loop. ``None`` (default): no slots.

    Returns:
      :class:`LPSolution` with the solution, status and its certificates (duality gap, primal and
      dual residuals), plus the constraint multipliers.

    Raises:
      TypeError: if an array is not numeric, ``bounds`` is malformed or traced, ``throw`` is
        not a bool, or ``mesh`` is not a mesh or a sequence of devices.
      ValueError: on inconsistent shapes, non-finite data, bad bounds, an unknown ``method``,
        ``tol``, ``max_steps``, ``batch_size`` or ``slots`` out of range, or ``slots`` with a
        method other than ``"simplex"`` and ``"dual_simplex"``.
      NotConvergedError: with ``throw=True``, if a member is not ``CONVERGED``.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> sol = solvers.linprog(c=[-1., -2.], A_ub=[[1., 1.]], b_ub=[4.], bounds=(0, 3))
      >>> [round(float(v), 6) for v in sol.x], round(float(sol.fun), 6)
      ([1.0, 3.0], -7.0)
      >>> sol = solvers.linprog([1., 1.], A_ub=[[-1., -2.]], b_ub=[-2.], method="dual_simplex")
      >>> [round(float(v), 6) for v in sol.x], int(sol.status)
      ([0.0, 1.0], 0)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}; "
                         f"got {method!r}")
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    c = as_float_array(c, "c")
    if c.ndim < 1:
        raise ValueError(f"c must be a vector [n] (or a batch [*batch, n]); got shape "
                         f"{tuple(c.shape)}")
    n = c.shape[-1]
    if n == 0:
        raise ValueError("c must have at least one variable")
    check_finite(c, "c")
    dtype = c.dtype
    batch_shape = tuple(c.shape[:-1])
    nb = len(batch_shape)

    def prep(Aname, A, bname, b):
        if (A is None) != (b is None):
            raise ValueError(f"{Aname} and {bname} must be given together")
        if A is None:
            return jnp.zeros((0, n), dtype), jnp.zeros((0,), dtype), False, False
        A = as_float_array(A, Aname, dtype=dtype)
        b = as_float_array(b, bname, dtype=dtype)
        if A.ndim not in (2, 2 + nb) or A.shape[-1] != n:
            raise ValueError(f"{Aname} must have shape [m, {n}] (or [*batch, m, {n}] with the "
                             f"batch shape {batch_shape} of c); got {tuple(A.shape)}")
        if b.ndim not in (1, 1 + nb) or b.shape[-1] != A.shape[-2]:
            raise ValueError(f"{bname} must have shape [{A.shape[-2]}] to match {Aname}; got "
                             f"{tuple(b.shape)}")
        a_batched, b_batched = nb > 0 and A.ndim == 2 + nb, nb > 0 and b.ndim == 1 + nb
        for arr, nm, isb in ((A, Aname, a_batched), (b, bname, b_batched)):
            if isb and tuple(arr.shape[:nb]) != batch_shape:
                raise ValueError(f"{nm} has batch axes {tuple(arr.shape[:nb])} but c has "
                                 f"{batch_shape}")
        check_finite(A, Aname)
        check_finite(b, bname)
        return A, b, a_batched, b_batched

    A_ub, b_ub, ba1, bb1 = prep("A_ub", A_ub, "b_ub", b_ub)
    A_eq, b_eq, ba2, bb2 = prep("A_eq", A_eq, "b_eq", b_eq)
    lo, hi = _parse_bounds(bounds, n)
    st = _HashableStructure(_structure(lo, hi))
    if max_steps is None:
        rows = A_ub.shape[-2] + 2 * A_eq.shape[-2] + st.upper_idx.shape[0]
        steps = (200, 50 + 10 * (rows + st.nz))
    else:
        max_steps = check_positive_int(max_steps, "max_steps")
        steps = (max_steps, max_steps)
    if tol is None:
        tol = lp_tol(dtype)
    elif is_concrete(tol) and not (0 < float(tol) < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    batch_size = check_batch_size(batch_size)
    if slots is not None:
        slots = check_positive_int(slots, "slots")
        if method not in ("simplex", "dual_simplex"):
            raise ValueError(f"slots applies to method='simplex' and 'dual_simplex'; got "
                             f"method={method!r}")
    mesh = as_mesh(mesh)
    if adjoint is None:
        adjoint = ImplicitAdjoint()
    data = (c, A_ub, b_ub, A_eq, b_eq)
    batched = (nb > 0, ba1, bb1, ba2, bb2)
    run = functools.partial(_linprog_jit, data, jnp.asarray(tol, dtype), adjoint, st=st,
                            max_steps=steps, batch_shape=batch_shape, batched=batched,
                            batch_size=batch_size, mesh=mesh, slots=slots)
    every, some = (False, True)
    if method == "auto" and is_concrete((data, tol)):
        every, some = (bool(b) for b in _pivoting_applies(data, st=st, batch_shape=batch_shape,
                                                           batched=batched))
    if method == "auto" and every:
        # called eagerly on programs a pivoting method applies to: compile and run the pivoting
        # stage first; the interior point (most of "auto"'s compile time) is compiled and run
        # only when some member needs it. Inside a user's jit the one program of "auto" does
        # both, selected by masks: the same answer.
        sol = run(method="auto_pivoting")
        status = np.asarray(gather(sol.status))  # every process decides alike
        if not np.all(np.isin(status, (Result.CONVERGED, Result.INFEASIBLE, Result.UNBOUNDED))):
            sol = run(method="auto")
    elif method == "auto" and not some:
        # called eagerly on programs no pivoting method applies to (e.g. an equality row and a
        # cost of either sign): "auto" would send every member to the interior point, so only
        # that stage is compiled (the pivoting stages would stop at once, taking no steps)
        sol = run(method="interior_point")
    else:
        sol = run(method=method)
    if throw:
        raise_if_failed(gather(sol.status), f"linprog(method={method!r})")
    return sol
