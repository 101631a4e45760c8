r"""Screening (adverse selection) with finite types: closed form with ironing, and an LP.

An agent of type ``theta_i`` (probability ``p_i``; types sorted increasingly) who receives
allocation ``q`` and transfer ``t`` gets ``theta_i q + t``; the principal gets ``S(q) - t`` with
``S`` concave (the *surplus*, a value class such as :class:`QuadraticSurplus`). (A producer with
cost ``c`` is ``theta = -c``, ``t`` the price paid to it; a buyer with valuation ``theta`` pays
``-t``.) A menu ``(q_i, t_i)`` must be incentive compatible,
``theta_i q_i + t_i >= theta_i q_j + t_j``, and individually rational, ``theta_i q_i + t_i >= 0``.

Closed form (Mussa and Rosen 1978; Laffont and Martimort 2002, ch. 2-3): the lowest type's
participation and the adjacent downward IC constraints bind, so the agents' values (information
rents) are ``U_1 = 0``, ``U_{i+1} = U_i + (theta_{i+1} - theta_i) q_i``, and the principal
maximises ``sum_i p_i [S(q_i) + phi_i q_i]`` with virtual values

.. math::
    \phi_i = \theta_i - (\theta_{i+1} - \theta_i) \frac{1 - F_i}{p_i}, \qquad \phi_K = \theta_K,

ironed (Myerson 1981) into the ``p``-weighted isotonic regression of ``phi`` when they are not
increasing. Ironing uses the min-max formula of isotonic regression
``phi*_i = max_{j <= i} min_{k >= i} avg_p(phi_j..phi_k)`` (Barlow et al. 1972), a fixed-shape
``O(K^2)`` computation, so it runs inside ``jax.jit`` and under ``jax.vmap``. Then
``S'(q_i) = -phi*_i``: no distortion at the top, downward distortion below.
:func:`screening_closed_form` solves that first-order condition in closed form for the built-in
surpluses, and by bisection (an :class:`socialign.kernel.IterativeSolver` run by
:func:`socialign.kernel.iterate`) for user-defined ones.

LP (:func:`optimal_menu`): allocations restricted to a grid, the menu may offer lotteries
``x_{ig}`` over grid points; IC and IR are linear in ``(x, t)`` and the principal's objective is
linear, so the optimal (randomised) menu is an LP solved by :func:`socialign.solvers.linprog`;
with concave ``S`` lotteries do not help and the LP reproduces the closed form on grids that
contain its allocations.

Designers: :class:`ClosedFormMenu` and :class:`OptimalMenu` (for
:func:`socialign.mechanisms.design`).
"""

from __future__ import annotations

import abc
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import solvers
from ..kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    batch_map,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    default_tol,
    eps,
    is_concrete,
    iterate,
    lp_tol,
    pytree_dataclass,
    scale_of,
)
from ._design import Design, Designer

__all__ = [
    "ClosedFormMenu",
    "LogSurplus",
    "Menu",
    "OptimalMenu",
    "QuadraticSurplus",
    "Screening",
    "Surplus",
    "optimal_menu",
    "screening_closed_form",
]


# --------------------------------------------------------------------------------------------
# Surplus functions: values, not callables hashed by identity
# --------------------------------------------------------------------------------------------
class Surplus(abc.ABC):
    """Base of the principal's surplus ``S(q)``: a concave function of the allocation ``q >= 0``.

    A surplus is a value: a :func:`socialign.kernel.pytree_dataclass` whose float parameters are
    leaves (so a new value does not recompile and can be ``vmap``-ed or differentiated). A
    subclass defines ``__call__(q)`` (elementwise, jittable, concave); it may also define
    ``maximizer(phi, max_allocation)``, the exact ``argmax_{0 <= q <= max_allocation} S(q) +
    phi q``, otherwise :func:`screening_closed_form` finds it by bisection on ``S'(q) + phi``.

    Example:
      >>> # a user-defined surplus ``S(q) = 2 sqrt(q)``
      >>> import jax.numpy as jnp
      >>> from socialign import mechanisms
      >>> from socialign.kernel import pytree_dataclass
      >>> @pytree_dataclass
      ... class Sqrt(mechanisms.Surplus):
      ...     scale: float = 2.0
      ...     def __call__(self, q):
      ...         return self.scale * jnp.sqrt(q)
      >>> float(Sqrt()(4.0))
      4.0
    """

    @abc.abstractmethod
    def __call__(self, q):
        """``S(q)``, elementwise; every subclass defines it (an abstract method)."""

    maximizer = None  # optional: (phi, max_allocation) -> argmax of S(q) + phi q on [0, max]


@pytree_dataclass
class QuadraticSurplus(Surplus):
    """``S(q) = slope q - curvature q^2 / 2`` (concave for ``curvature >= 0``).

    Attributes:
      slope: ``[*batch]`` marginal surplus at ``q = 0`` (payoff units per unit of allocation).
      curvature: ``[*batch]`` ``-S''``, ``>= 0``.

    Raises:
      ValueError: if ``curvature`` is negative (the surplus would not be concave) or a value is
        not finite.
      TypeError: if a parameter is not a number.

    Example:
      >>> # Laffont and Martimort's ``S(q) = 4q - q^2/2``
      >>> from socialign import mechanisms
      >>> float(mechanisms.QuadraticSurplus(4.0, 1.0)(2.0))
      6.0
    """

    slope: jax.Array = 0.0
    curvature: jax.Array = 1.0

    def __post_init__(self):
        a = as_float_array(self.slope, "slope")
        b = as_float_array(self.curvature, "curvature")
        check_finite(a, "slope")
        check_finite(b, "curvature")
        if is_concrete(b) and np.any(np.asarray(b) < 0):
            raise ValueError("curvature must be >= 0 (a concave surplus)")
        object.__setattr__(self, "slope", a)
        object.__setattr__(self, "curvature", b)

    def __call__(self, q):
        """``S(q)``, elementwise."""
        return self.slope * q - self.curvature * q**2 / 2

    def maximizer(self, phi, max_allocation):
        """``clip((slope + phi) / curvature, 0, max_allocation)`` (bang-bang if linear)."""
        m = self.slope + phi
        safe = jnp.where(self.curvature > 0, self.curvature, 1.0)
        interior = jnp.clip(m / safe, 0.0, max_allocation)
        return jnp.where(self.curvature > 0, interior, jnp.where(m > 0, max_allocation, 0.0))


@pytree_dataclass
class LogSurplus(Surplus):
    """``S(q) = scale log(1 + q)`` (concave for ``scale >= 0``).

    Attributes:
      scale: ``[*batch]`` ``S'(0)``, ``>= 0`` (payoff units per unit of allocation).

    Raises:
      ValueError: if ``scale`` is negative or not finite.
      TypeError: if ``scale`` is not a number.

    Example:
      >>> from socialign import mechanisms
      >>> round(float(mechanisms.LogSurplus(2.0)(1.0)), 6)
      1.386294
    """

    scale: jax.Array = 1.0

    def __post_init__(self):
        s = as_float_array(self.scale, "scale")
        check_finite(s, "scale")
        if is_concrete(s) and np.any(np.asarray(s) < 0):
            raise ValueError("scale must be >= 0 (a concave surplus)")
        object.__setattr__(self, "scale", s)

    def __call__(self, q):
        """``S(q)``, elementwise."""
        return self.scale * jnp.log1p(q)

    def maximizer(self, phi, max_allocation):
        """``clip(scale / (-phi) - 1, 0, max_allocation)`` (``max_allocation`` if ``phi >= 0``)."""
        neg = phi < 0
        q = self.scale / jnp.where(neg, -phi, 1.0) - 1.0
        return jnp.where(neg, jnp.clip(q, 0.0, max_allocation), max_allocation)


# --------------------------------------------------------------------------------------------
# The problem and the menu
# --------------------------------------------------------------------------------------------
@pytree_dataclass(init=False)
class Screening:
    """A screening problem with finite types (leading axes are batch axes).

    Attributes:
      types: ``theta [*batch, K]`` strictly increasing (the agent's marginal value of the
        allocation, payoff units per unit).
      prior: ``p [*batch, K]``, positive, summing to 1.
      surplus: the principal's concave surplus ``S(q)``, a :class:`Surplus` value whose leaves
        are broadcast to ``[*batch]``.
      max_allocation: ``[*batch]`` upper bound on allocations (default 1e6).

    Raises:
      TypeError: if ``surplus`` is not a :class:`Surplus` value (a plain function is refused: it
        would be hashed by identity and recompile for every new function) or an array is not
        numeric.
      ValueError: if the shapes disagree, ``types`` are not strictly increasing, ``prior`` is not
        a positive probability vector, or ``max_allocation`` is not finite and positive.

    Example:
      >>> # Laffont-Martimort: producer costs 1 and 2, S(q) = 4q - q^2/2
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> [round(float(q), 4) for q in mechanisms.screening_closed_form(sc).allocations]
      [1.0, 3.0]
    """

    types: jax.Array
    prior: jax.Array
    surplus: Surplus
    max_allocation: jax.Array

    def __init__(self, types, prior, surplus, max_allocation=1e6):
        th = as_float_array(types, "types")
        p = as_float_array(prior, "prior")
        if th.ndim < 1 or th.shape[-1] == 0:
            raise ValueError(f"types must have shape [*batch, K] with K >= 1, got "
                             f"{tuple(th.shape)}")
        if p.shape != th.shape:
            raise ValueError(f"prior must have shape {tuple(th.shape)} like types, got "
                             f"{tuple(p.shape)}")
        if not isinstance(surplus, Surplus):
            raise TypeError(f"surplus must be a mechanisms.Surplus value such as "
                            f"QuadraticSurplus(slope, curvature) (got {type(surplus).__name__}); "
                            f"subclass Surplus for another concave S(q)")
        m = as_float_array(max_allocation, "max_allocation")
        check_finite(th, "types")
        check_simplex(p, "prior")
        if is_concrete(th) and np.any(np.diff(np.asarray(th), axis=-1) <= 0):
            raise ValueError("types must be strictly increasing along the last axis")
        if is_concrete(p) and np.any(np.asarray(p) <= 0):
            raise ValueError("prior must be positive for every type (drop empty types)")
        if is_concrete(m) and not (np.all(np.isfinite(np.asarray(m)))
                                   and np.all(np.asarray(m) > 0)):
            raise ValueError(f"max_allocation must be finite and > 0, got {m}")
        batch = th.shape[:-1]
        leaves = [as_float_array(x, "surplus parameter")
                  for x in jax.tree_util.tree_leaves(surplus)]
        dtype = jnp.result_type(th, p, m, *leaves)

        def bcast(x, what):
            x = jnp.asarray(x, dtype)
            try:
                return jnp.broadcast_to(x, batch)
            except ValueError:
                raise ValueError(f"{what} of shape {tuple(x.shape)} does not broadcast to the "
                                 f"batch shape {batch} of types") from None

        surplus = jax.tree_util.tree_map(lambda x: bcast(x, "a surplus parameter"), surplus)
        object.__setattr__(self, "types", th.astype(dtype))
        object.__setattr__(self, "prior", p.astype(dtype))
        object.__setattr__(self, "surplus", surplus)
        object.__setattr__(self, "max_allocation", bcast(m, "max_allocation"))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.types.shape[:-1])

    @property
    def num_types(self) -> int:
        """``K``."""
        return self.types.shape[-1]


@pytree_dataclass
class Menu:
    """A menu: one (allocation, transfer) per type, and its certificates (``[*batch, ...]``).

    Attributes:
      allocations: ``[*batch, K]`` expected allocation of each type.
      transfers: ``[*batch, K]`` transfer to each type.
      agent_values: ``[*batch, K]`` each type's utility ``theta_i q_i + t_i`` (its
        information rent).
      principal_value: ``[*batch]`` the principal's expected ``S(q) - t``.
      first_best_value: ``[*batch]`` the principal's value with types observed.
      incentive_violation: ``[*batch]`` largest gain of a type from another type's contract,
        ``>= 0``.
      participation_violation: ``[*batch]`` largest shortfall ``max(-U_i, 0)``, ``>= 0``.
      result: ``[*batch]`` ``int32`` :class:`socialign.kernel.Result` code.
      certificate: ``[*batch]`` the LP duality gap (:func:`optimal_menu`) or the width of the
        allocations' bracket (:func:`screening_closed_form`; 0 for built-in surpluses).
      lotteries: ``[*batch, K, G]`` probabilities over the grid (:func:`optimal_menu` only).

    Example:
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> menu = mechanisms.screening_closed_form(sc)
      >>> round(float(menu.first_best_value), 6), float(menu.incentive_violation)
      (3.25, 0.0)
    """

    allocations: jax.Array
    transfers: jax.Array
    agent_values: jax.Array
    principal_value: jax.Array
    first_best_value: jax.Array
    incentive_violation: jax.Array
    participation_violation: jax.Array
    result: jax.Array
    certificate: jax.Array
    lotteries: jax.Array | None = None


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------
def _iron(phi, p):
    """``p``-weighted isotonic (increasing) regression of ``phi`` by the min-max formula."""
    K = phi.shape[-1]
    P = jnp.concatenate([jnp.zeros(1, p.dtype), jnp.cumsum(p)])  # P[j] = p_0 + ... + p_{j-1}
    W = jnp.concatenate([jnp.zeros(1, p.dtype), jnp.cumsum(p * phi)])
    j = np.arange(K)[:, None]
    k = np.arange(K)[None, :]
    valid = k >= j
    den = jnp.where(valid, P[k + 1] - P[j], 1.0)
    avg = jnp.where(valid, (W[k + 1] - W[j]) / den, jnp.inf)  # avg[j, k], j <= k
    # M[j, i] = min_{k >= i} avg[j, k]: reverse cumulative minimum along k
    M = jnp.flip(jax.lax.cummin(jnp.flip(avg, -1), axis=1), -1)
    return jnp.max(jnp.where(valid, M, -jnp.inf), axis=0)  # max over j <= i


@pytree_dataclass
class _Bisection(IterativeSolver):
    """Bisection on the decreasing ``S'(q) + phi`` over ``[0, max_allocation]``, per type."""

    def init(self, problem, key):
        _, phi, qmax = problem
        return jnp.zeros_like(phi), jnp.broadcast_to(qmax, phi.shape).astype(phi.dtype)

    def step(self, problem, state):
        surplus, phi, _ = problem
        lo, hi = state
        mid = 0.5 * (lo + hi)
        up = jax.vmap(jax.grad(surplus.__call__))(mid) + phi > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    def terminate(self, problem, state, tol):
        lo, hi = state
        width = jnp.max(hi - lo)
        done = jnp.all(hi - lo <= tol * jnp.maximum(jnp.abs(hi), 1.0))
        return done, jnp.asarray(Result.CONVERGED, jnp.int32), width


def _argmax(surplus, phi, qmax, max_steps):
    """``(q, bracket width, result)`` with ``q = argmax_{0<=q<=qmax} S(q) + phi q``."""
    if surplus.maximizer is not None:
        q = surplus.maximizer(phi, qmax)
        return q, jnp.zeros((), phi.dtype), jnp.asarray(Result.CONVERGED, jnp.int32)
    it = iterate(_Bisection(), (surplus, phi, qmax), 4 * eps(phi.dtype), jax.random.key(0),
                 max_steps=max_steps)
    lo, hi = it.state
    return 0.5 * (lo + hi), it.certificate, it.result


def _certify(th, q, t):
    """Agents' values, incentive and participation violations of the menu ``(q, t)``."""
    U = th * q + t
    dev = th[:, None] * q[None, :] + t[None, :]  # type i taking j's contract
    ic = jnp.max(jnp.maximum(dev - U[:, None], 0.0))
    ir = jnp.max(jnp.maximum(-U, 0.0))
    return U, ic, ir


def _first_best(sc, max_steps):
    th = sc.types
    q, _, _ = _argmax(sc.surplus, th, sc.max_allocation, max_steps)
    return jnp.sum(sc.prior * (sc.surplus(q) + th * q))


def _lp_tolerance(dtype) -> float:
    """Relative LP tolerance of the designers' LPs: :func:`socialign.kernel.lp_tol`, floored at
    ``eps^(2/3)`` (1e-9 in float64; 2.4e-5 in float32, where the interior-point method on LPs
    with free transfers stalls before 1e-6)."""
    return max(lp_tol(dtype), eps(dtype) ** (2 / 3))


def _check_tol(tol, dtype):
    if tol is None:
        return default_tol(dtype)
    check_positive_scalar(tol, "tol", allow_zero=True)
    return tol


def _closed_form_one(sc: Screening, tol, max_steps):
    th, p = sc.types, sc.prior
    F = jnp.cumsum(p)
    dth = jnp.concatenate([jnp.diff(th), jnp.zeros(1, th.dtype)])
    phi = _iron(th - dth * (1 - F) / p, p)
    q, width, code = _argmax(sc.surplus, phi, sc.max_allocation, max_steps)
    U = jnp.concatenate([jnp.zeros(1, q.dtype), jnp.cumsum(dth[:-1] * q[:-1])])
    t = U - th * q
    value = jnp.sum(p * (sc.surplus(q) - t))
    U, ic, ir = _certify(th, q, t)
    scale = scale_of(th) * jnp.maximum(jnp.max(jnp.abs(q)), 1.0) + scale_of(t)
    ok = jnp.maximum(ic, ir) <= tol * scale
    code = jnp.where((code == Result.CONVERGED) & ~ok, Result.CERTIFICATE_ABOVE_TOLERANCE, code)
    return Menu(q, t, U, value, _first_best(sc, max_steps), ic, ir,
                code.astype(jnp.int32), width)


def screening_closed_form(sc: Screening, *, tol=None, max_steps: int = 200) -> Menu:
    """Optimal deterministic menu by (ironed) virtual values; see the module docstring.

    Pure and fixed-shape: runs inside ``jax.jit`` and under ``jax.vmap`` over any array field
    of ``sc`` (types, prior, surplus parameters, max_allocation), with the same answer.

    Args:
      sc: a :class:`Screening` problem, any batch axes.
      tol: tolerance on the incentive and participation violations of the menu, relative to
        ``max|theta| max(max q, 1) + max|t|`` (default :func:`socialign.kernel.default_tol`).
      max_steps: bisection budget for user-defined surpluses without a ``maximizer`` (static).

    Returns:
      A :class:`Menu` with batch axes ``sc.batch_shape``.

    Raises:
      TypeError: if ``sc`` is not a :class:`Screening`.
      ValueError: if ``tol`` is negative or ``max_steps`` is not a positive int.

    Example:
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> m = mechanisms.screening_closed_form(sc)
      >>> [round(float(t), 4) for t in m.transfers], round(float(m.principal_value), 4)
      ([2.0, 4.0], 2.5)
    """
    if not isinstance(sc, Screening):
        raise TypeError(f"sc must be a Screening, got {type(sc).__name__}")
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = _check_tol(tol, sc.types.dtype)
    return _closed_form(sc, tol, max_steps=max_steps)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _closed_form(sc, tol, *, max_steps):
    # one compiled program per shape (eager calls reuse it; a user's jit inlines it)
    return batch_map(lambda s: _closed_form_one(s, tol, max_steps), sc,
                     batch_shape=sc.batch_shape)


def _menu_lp_one(sc: Screening, g, tol, max_steps):
    th, p = sc.types, sc.prior
    K, G = th.shape[-1], g.shape[-1]
    dtype = th.dtype
    Sg = sc.surplus(g)
    # variables: x (row-major [K, G]) then t
    c = jnp.concatenate([-(p[:, None] * Sg[None, :]).ravel(), p])
    # IC rows for ordered pairs i != j: theta_i q_j + t_j - theta_i q_i - t_i <= 0
    I, J = np.nonzero(~np.eye(K, dtype=bool))
    eyeK = np.eye(K)
    d = jnp.asarray(eyeK[J] - eyeK[I], dtype)  # [R, K]: e_j - e_i
    ic_x = (th[I][:, None, None] * d[:, :, None] * g[None, None, :]).reshape(len(I), K * G)
    ic = jnp.concatenate([ic_x, d], axis=1)
    # IR rows: -(theta_i q_i + t_i) <= 0
    ir_x = -(th[:, None, None] * jnp.asarray(eyeK, dtype)[:, :, None] * g[None, None, :])
    ir = jnp.concatenate([ir_x.reshape(K, K * G), -jnp.asarray(eyeK, dtype)], axis=1)
    A_ub = jnp.concatenate([ic, ir], axis=0)
    E = jnp.asarray(np.concatenate([np.kron(eyeK, np.ones((1, G))), np.zeros((K, K))], axis=1),
                    dtype)
    bounds = [(0, None)] * (K * G) + [(None, None)] * K
    sol = solvers.linprog(c, A_ub, jnp.zeros(A_ub.shape[0], dtype), E, jnp.ones(K, dtype),
                          bounds=bounds, max_steps=max_steps, method="interior_point",
                          tol=_lp_tolerance(dtype))
    x = jnp.maximum(sol.x[: K * G].reshape(K, G), 0.0)
    x = x / jnp.maximum(jnp.sum(x, -1, keepdims=True), jnp.finfo(dtype).tiny)
    t = sol.x[K * G:]
    q = x @ g
    U, icv, irv = _certify(th, q, t)
    value = jnp.sum(p * (x @ Sg - t))
    scale = scale_of(th) * jnp.maximum(jnp.max(jnp.abs(g)), 1.0) + scale_of(t)
    code = sol.status
    ok = jnp.maximum(icv, irv) <= tol * scale
    code = jnp.where((code == Result.CONVERGED) & ~ok, Result.CERTIFICATE_ABOVE_TOLERANCE, code)
    return Menu(q, t, U, value, _first_best(sc, max_steps), icv, irv, code.astype(jnp.int32),
                sol.duality_gap, x), sol.num_steps


def _check_grid(grid, dtype):
    g = as_float_array(grid, "grid", dtype=dtype)
    if g.ndim != 1 or g.shape[0] == 0:
        raise ValueError(f"grid must be a non-empty vector of allocations, got shape "
                         f"{tuple(g.shape)}")
    check_finite(g, "grid")
    if is_concrete(g) and np.any(np.asarray(g) < 0):
        raise ValueError("grid must hold allocations >= 0")
    return g


def _optimal_menu(sc, grid, tol, max_steps):
    if not isinstance(sc, Screening):
        raise TypeError(f"sc must be a Screening, got {type(sc).__name__}")
    g = _check_grid(grid, sc.types.dtype)
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = _check_tol(tol, sc.types.dtype)
    return _menu_lp(sc, g, tol, max_steps=max_steps)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _menu_lp(sc, g, tol, *, max_steps):
    return batch_map(lambda s: _menu_lp_one(s, g, tol, max_steps), sc,
                     batch_shape=sc.batch_shape)


def optimal_menu(sc: Screening, grid, *, tol=None, max_steps: int = 200) -> Menu:
    """Optimal (possibly randomised) menu over an allocation ``grid`` by linear programming.

    Variables: lotteries ``x [K, G]`` over grid allocations and transfers ``t [K]``; IC and IR
    constraints for every pair of types, solved by :func:`socialign.solvers.linprog` (one LP per
    batch member, ``vmap``-ed). ``certificate`` is the LP duality gap. Pure and fixed-shape:
    runs inside ``jax.jit`` and under ``jax.vmap`` over any array field of ``sc`` or ``grid``.

    Args:
      sc: a :class:`Screening` problem, any batch axes.
      grid: ``[G]`` allocations ``>= 0`` the menu may use (shared by the batch).
      tol: tolerance on the incentive and participation violations, relative to
        ``max|theta| max(max grid, 1) + max|t|`` (default :func:`socialign.kernel.default_tol`).
      max_steps: interior-point iteration budget (static).

    Returns:
      A :class:`Menu` with ``lotteries``; batch axes ``sc.batch_shape``.

    Raises:
      TypeError: if ``sc`` is not a :class:`Screening` or ``grid`` is not numeric.
      ValueError: if ``grid`` is not a non-empty finite vector of allocations ``>= 0``, ``tol``
        is negative or ``max_steps`` is not a positive int.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> round(float(mechanisms.optimal_menu(sc, np.linspace(0, 4, 9)).principal_value), 6)
      2.5
    """
    return _optimal_menu(sc, grid, tol, max_steps)[0]


# --------------------------------------------------------------------------------------------
# Designers
# --------------------------------------------------------------------------------------------
def _design_of(menu: Menu, num_steps) -> Design:
    return Design(mechanism=menu, principal_value=menu.principal_value,
                  agent_values=menu.agent_values, incentive_violation=menu.incentive_violation,
                  participation_violation=menu.participation_violation,
                  certificate=menu.certificate, result=menu.result,
                  stats={"num_steps": num_steps})


@pytree_dataclass
class ClosedFormMenu(Designer):
    """Designer: the optimal deterministic menu by ironed virtual values.

    :func:`socialign.mechanisms.design` with this designer runs :func:`screening_closed_form`
    and returns a :class:`socialign.mechanisms.Design` whose ``mechanism`` is a :class:`Menu`.

    Example:
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> d = mechanisms.design(sc, mechanisms.ClosedFormMenu())
      >>> round(float(d.principal_value), 6), [round(float(u), 6) for u in d.agent_values]
      (2.5, [0.0, 1.0])
    """

    problem_types = (Screening,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The closed-form :class:`Design` for a :class:`Screening` problem (any batch axes)."""
        menu = screening_closed_form(problem, tol=tol, max_steps=max_steps)
        return _design_of(menu, jnp.zeros(problem.batch_shape, jnp.int32))


@pytree_dataclass
class OptimalMenu(Designer):
    """Designer: the optimal randomised menu over an allocation grid, by linear programming.

    Attributes:
      grid: ``[G]`` allocations ``>= 0`` the menu may use (a leaf: new values of the same size
        do not recompile).

    Raises:
      TypeError: if ``grid`` is not numeric.
      ValueError: if ``grid`` is not a non-empty finite vector of allocations ``>= 0``.

    Example:
      >>> import numpy as np
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], mechanisms.QuadraticSurplus(4., 1.))
      >>> d = mechanisms.design(sc, mechanisms.OptimalMenu(np.linspace(0, 4, 9)))
      >>> round(float(d.principal_value), 6), int(d.result)
      (2.5, 0)
    """

    grid: jax.Array
    problem_types = (Screening,)

    def __post_init__(self):
        object.__setattr__(self, "grid", _check_grid(self.grid, None))

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The LP :class:`Design` for a :class:`Screening` problem (any batch axes)."""
        menu, steps = _optimal_menu(problem, self.grid, tol, max_steps)
        return _design_of(menu, steps)

