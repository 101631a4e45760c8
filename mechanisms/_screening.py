r"""Screening (adverse selection) with finite types: closed form and LP, information rents.

An agent of type ``theta_i`` (probability ``p_i``; types sorted increasingly) who receives
allocation ``q`` and transfer ``t`` gets ``theta_i q + t``; the principal gets ``S(q) - t`` with
``S`` concave. (A producer with cost ``c`` is ``theta = -c``, ``t`` the price paid to it; a
buyer with valuation ``theta`` pays ``-t``.) A menu ``(q_i, t_i)`` must be incentive compatible,
``theta_i q_i + t_i >= theta_i q_j + t_j``, and individually rational, ``theta_i q_i + t_i >= 0``.

Closed form (Mussa and Rosen 1978; Laffont and Martimort 2002, ch. 2-3): the lowest type's
participation and the adjacent downward IC constraints bind, so the information rents are
``U_1 = 0``, ``U_{i+1} = U_i + (theta_{i+1} - theta_i) q_i``, and the principal maximises
``sum_i p_i [S(q_i) + phi_i q_i]`` with virtual values

.. math::
    \phi_i = \theta_i - (\theta_{i+1} - \theta_i) \frac{1 - F_i}{p_i}, \qquad \phi_K = \theta_K

(ironed by pooling adjacent violators when not increasing), so ``S'(q_i) = -phi_i``: no
distortion at the top, downward distortion below. :func:`screening_closed_form` evaluates this
(bisection on ``S'``, with ``0 <= q <= max_allocation``).

LP (:func:`optimal_menu`): allocations restricted to a grid, the menu may offer lotteries
``x_{ig}`` over grid points; IC and IR are linear in ``(x, t)`` and the principal's objective is
linear, so the optimal (randomised) menu is an LP solved by :func:`solvers.linprog`; with
concave ``S`` lotteries do not help and the LP reproduces the closed form on grids that contain
its allocations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, as_float_array, check_finite, check_simplex
from ..solvers._linprog import linprog

__all__ = ["Screening", "Menu", "screening_closed_form", "optimal_menu"]


@dataclasses.dataclass(frozen=True, eq=False)
class Screening:
    """A screening problem with finite types.

    Attributes:
      types: ``theta [K]`` sorted increasingly (the agent's marginal value of allocation).
      prior: ``p [K]``.
      principal_value: ``S(q)``, a concave JAX function of the allocation.
      max_allocation: upper bound on allocations (default 1e6).

    Example (Laffont-Martimort: producer costs 1 and 2, S(q) = 4q - q^2/2):
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], lambda q: 4 * q - q**2 / 2)
      >>> [round(float(q), 4) for q in mechanisms.screening_closed_form(sc).allocations]
      [1.0, 3.0]
    """

    types: np.ndarray
    prior: np.ndarray
    principal_value: Callable
    max_allocation: float = 1e6

    def __post_init__(self):
        th = np.asarray(as_float_array(self.types, "types"), dtype=np.float64)
        p = np.asarray(as_float_array(self.prior, "prior"), dtype=np.float64)
        if th.ndim != 1 or th.size == 0:
            raise ValueError(f"types must be a non-empty vector [K], got shape {th.shape}")
        if p.shape != th.shape:
            raise ValueError(f"prior must have shape {th.shape} like types, got {p.shape}")
        check_finite(th, "types")
        check_simplex(p, "prior")
        if np.any(np.diff(th) <= 0):
            raise ValueError("types must be strictly increasing")
        if np.any(p <= 0):
            raise ValueError("prior must be positive for every type (drop empty types)")
        if not callable(self.principal_value):
            raise TypeError("principal_value must be a callable S(q)")
        if not (np.isfinite(self.max_allocation) and self.max_allocation > 0):
            raise ValueError(f"max_allocation must be finite and > 0, got {self.max_allocation}")
        object.__setattr__(self, "types", th)
        object.__setattr__(self, "prior", p)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Menu:
    """An optimal menu: one (allocation, transfer) per type and its certificates."""

    allocations: jax.Array  # [K] expected allocation
    transfers: jax.Array  # [K]
    information_rents: jax.Array  # [K] agent utilities theta_i q_i + t_i
    principal_profit: jax.Array
    first_best_profit: jax.Array
    ic_violation: jax.Array
    ir_violation: jax.Array
    result: jax.Array
    certificate: jax.Array
    lotteries: jax.Array | None = None  # [K, G] (LP only)


def _iron(phi, p):
    """Pool adjacent violators: weighted-average virtual values into an increasing sequence."""
    blocks = []  # (value, weight, count)
    for v, w in zip(phi, p):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[b[0]] * b[2] for b in blocks])


def _argmax_S_plus(S, phi, qmax):
    """``argmax_{0 <= q <= qmax} S(q) + phi q`` by bisection on the decreasing ``S'(q) + phi``."""
    dS = jax.vmap(jax.grad(S))
    phi = jnp.asarray(phi)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        up = dS(mid) + phi > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, body, (jnp.zeros_like(phi), jnp.full_like(phi, qmax)))
    return 0.5 * (lo + hi)


def _certify(sc, q, t):
    th = jnp.asarray(sc.types)
    U = th * q + t
    dev = th[:, None] * q[None, :] + t[None, :]  # type i taking j's contract
    ic = jnp.max(jnp.maximum(dev - U[:, None], 0.0))
    ir = jnp.max(jnp.maximum(-U, 0.0))
    return U, ic, ir


def _first_best(sc):
    th = jnp.asarray(sc.types)
    qfb = _argmax_S_plus(sc.principal_value, th, sc.max_allocation)
    return jnp.sum(jnp.asarray(sc.prior) * (jax.vmap(sc.principal_value)(qfb) + th * qfb))


def screening_closed_form(sc: Screening) -> Menu:
    """Optimal deterministic menu by virtual values (with ironing); see the module docstring.

    Example:
      >>> from socialign import mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], lambda q: 4 * q - q**2 / 2)
      >>> m = mechanisms.screening_closed_form(sc)
      >>> [round(float(t), 4) for t in m.transfers], round(float(m.principal_profit), 4)
      ([2.0, 4.0], 2.5)
    """
    if not isinstance(sc, Screening):
        raise TypeError(f"sc must be a Screening, got {type(sc).__name__}")
    th, p = sc.types, sc.prior
    F = np.cumsum(p)
    dth = np.append(np.diff(th), 0.0)
    phi = _iron(th - dth * (1 - F) / p, p)
    q = _argmax_S_plus(sc.principal_value, jnp.asarray(phi), sc.max_allocation)
    U = jnp.concatenate([jnp.zeros(1, q.dtype), jnp.cumsum(jnp.asarray(dth[:-1]) * q[:-1])])
    t = U - jnp.asarray(th) * q
    profit = jnp.sum(jnp.asarray(p) * (jax.vmap(sc.principal_value)(q) - t))
    U, ic, ir = _certify(sc, q, t)
    return Menu(q, t, U, profit, _first_best(sc), ic, ir,
                jnp.asarray(Result.CONVERGED, jnp.int32), jnp.zeros((), q.dtype))


def optimal_menu(sc: Screening, grid, *, tol=None, max_steps: int = 200) -> Menu:
    """Optimal (possibly randomised) menu over an allocation ``grid`` by linear programming.

    Variables: lotteries ``x [K, G]`` over grid allocations and transfers ``t [K]``; IC and IR
    constraints for every pair of types; ``certificate`` is the LP duality gap.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> import numpy as np, mechanisms
      >>> sc = mechanisms.Screening([-2., -1.], [0.5, 0.5], lambda q: 4 * q - q**2 / 2)
      >>> round(float(mechanisms.optimal_menu(sc, np.linspace(0, 4, 9)).principal_profit), 6)
      2.5
    """
    if not isinstance(sc, Screening):
        raise TypeError(f"sc must be a Screening, got {type(sc).__name__}")
    g = np.asarray(as_float_array(grid, "grid"), dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"grid must be a non-empty vector of allocations, got shape {g.shape}")
    check_finite(g, "grid")
    th, p = sc.types, sc.prior
    K, G = th.size, g.size
    Sg = np.asarray(jax.vmap(sc.principal_value)(jnp.asarray(g)), dtype=np.float64)
    if not np.all(np.isfinite(Sg)):
        raise ValueError("principal_value is not finite on the grid")
    n = K * G + K  # x (row-major [K, G]) then t
    c = np.concatenate([-(p[:, None] * Sg[None, :]).ravel(), p])
    rows, rhs = [], []
    for i in range(K):
        for j in range(K):  # theta_i q_j + t_j - theta_i q_i - t_i <= 0
            if i == j:
                continue
            r = np.zeros(n)
            r[j * G:(j + 1) * G] += th[i] * g
            r[i * G:(i + 1) * G] -= th[i] * g
            r[K * G + j] += 1
            r[K * G + i] -= 1
            rows.append(r)
            rhs.append(0.0)
        r = np.zeros(n)  # IR: -(theta_i q_i + t_i) <= 0
        r[i * G:(i + 1) * G] = -th[i] * g
        r[K * G + i] = -1
        rows.append(r)
        rhs.append(0.0)
    E = np.zeros((K, n))
    for i in range(K):
        E[i, i * G:(i + 1) * G] = 1
    bounds = [(0, None)] * (K * G) + [(None, None)] * K
    sol = linprog(c, np.array(rows), np.array(rhs), E, np.ones(K), bounds=bounds, tol=tol,
                  max_steps=max_steps)
    x = jnp.maximum(sol.x[: K * G].reshape(K, G), 0.0)
    t = sol.x[K * G:]
    q = x @ jnp.asarray(g)
    U, ic, ir = _certify(sc, q, t)
    profit = -sol.fun
    return Menu(q, t, U, profit, _first_best(sc), ic, ir, sol.status, sol.duality_gap, x)
