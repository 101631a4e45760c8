"""Gradients through solutions: the implicit function theorem, not backpropagation through loops.

A solution ``x*(theta)`` of a solver satisfies optimality (or fixed-point) conditions
``F(x*, theta) = 0``. Where ``dF/dx`` is invertible, the implicit function theorem gives
``dx*/dtheta = -(dF/dx)^{-1} dF/dtheta``, so the reverse-mode product with a cotangent ``g`` is
``-(dF/dtheta)^T lambda`` with ``(dF/dx)^T lambda = g``. This is what optimistix's
``ImplicitAdjoint`` and jaxopt's ``custom_root`` compute; the loop that found ``x*`` is never
differentiated (a ``while_loop`` cannot be, in reverse mode).

- :class:`ImplicitAdjoint`: the default of every entry function with an ``adjoint=`` argument.
  ``dF/dx`` is formed densely with ``jax.jacfwd`` (our solutions are small: strategies, LP
  vertices, contracts) and solved with an LU factorisation.
- :func:`implicit_solution`: the primitive, for a solution and its residual function.

Reference: S. G. Krantz and H. R. Parks, *The Implicit Function Theorem* (2002); M. Blondel et
al., "Efficient and modular implicit differentiation", NeurIPS 2022.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._module import pytree_dataclass

__all__ = ["ImplicitAdjoint", "implicit_solution", "no_gradient"]


def implicit_solution(residual, solution, params):
    """Return ``solution`` with gradients with respect to ``params`` by implicit differentiation.

    Args:
      residual: ``residual(solution, params) -> r``, a pure function whose root (``r = 0``, a
        pytree with as many entries as ``solution``) the solution is. It must be a module-level
        function or a static callable (it is a static argument of a ``custom_vjp``), and must
        not close over traced values: put those in ``params``.
      solution: the solution pytree, computed without gradients (it is ``stop_gradient``-ed).
      params: the pytree of everything the solution depends on (problem data, solver
        settings such as a temperature).

    Returns:
      ``solution``, unchanged in value; reverse-mode gradients flow to ``params`` through
      ``-(dF/dparams)^T (dF/dx)^{-T} g``. Forward mode (``jax.jvp``) is not supported.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import implicit_solution
      >>> def residual(x, a):          # x = sqrt(a) solves x**2 - a = 0
      ...     return x ** 2 - a
      >>> f = lambda a: implicit_solution(residual, jnp.sqrt(a), a)
      >>> round(float(jax.grad(f)(4.0)), 6)   # d sqrt(a) / da = 1 / (2 sqrt(a))
      0.25
    """
    solution = jax.lax.stop_gradient(solution)
    return _implicit(residual, solution, params)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _implicit(residual, solution, params):
    return solution


def _implicit_fwd(residual, solution, params):
    return solution, (solution, params)


def _implicit_bwd(residual, res, g):
    solution, params = res
    x, unravel = ravel_pytree(solution)
    g_flat, _ = ravel_pytree(g)
    if x.size == 0:
        return (jax.tree_util.tree_map(jnp.zeros_like, solution),
                jax.tree_util.tree_map(jnp.zeros_like, params))

    def f_x(xf):
        return ravel_pytree(residual(unravel(xf), params))[0]

    jac = jax.jacfwd(f_x)(x)
    if jac.shape[0] != x.size:
        raise ValueError(f"the residual must have as many entries as the solution ({x.size}), "
                         f"got {jac.shape[0]}")
    lam = jnp.linalg.solve(jac.T, g_flat.astype(jac.dtype))
    _, vjp_p = jax.vjp(lambda p: ravel_pytree(residual(solution, p))[0], params)
    (g_params,) = vjp_p(-lam)
    return jax.tree_util.tree_map(jnp.zeros_like, solution), g_params


_implicit.defvjp(_implicit_fwd, _implicit_bwd)


def no_gradient(solution, who: str, params=None):
    """``solution`` unchanged; asking for a gradient through it raises a ``TypeError``.

    For solvers that define no optimality conditions: a gradient is refused clearly rather than
    silently zero (``stop_gradient``) or failing inside a ``while_loop`` transpose. The refusal
    fires whenever a cotangent reaches ``solution`` or ``params``: pass as ``params`` what the
    solution depends on when ``solution`` itself was computed without gradients.

    Args:
      solution: the solution pytree.
      who: the name used in the message (the solver).
      params: optional pytree the solution depends on (problem data, solver settings).

    Returns:
      ``solution``, unchanged.

    Raises:
      TypeError: in the backward pass, when a gradient is requested.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import no_gradient
      >>> try:
      ...     jax.grad(lambda a: no_gradient(jnp.sin(a), "Hedge"))(1.0)
      ... except TypeError as e:
      ...     print(str(e).split(";")[0])
      Hedge defines no optimality conditions, so its solution cannot be differentiated
    """
    return _no_grad(who, solution, params)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _no_grad(who, solution, params):
    return solution


def _no_grad_fwd(who, solution, params):
    return solution, None


def _no_grad_bwd(who, res, g):
    raise TypeError(f"{who} defines no optimality conditions, so its solution cannot be "
                    f"differentiated; use a solver that does (ZeroSumLP, LogitQRE at a fixed "
                    f"temperature, linprog) or finite differences")


_no_grad.defvjp(_no_grad_fwd, _no_grad_bwd)


@pytree_dataclass
class ImplicitAdjoint:
    """Differentiate a solution by the implicit function theorem on its optimality conditions.

    The default ``adjoint`` of :func:`socialign.solvers.solve`, :func:`socialign.solvers.linprog`
    and the designers of :mod:`socialign.mechanisms`. A solver opts in by defining a
    ``residual(problem, solution)`` method (zero exactly at its solutions, with an invertible
    Jacobian there: a unique, nondegenerate solution); gradients of solvers without one raise a
    ``TypeError``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import ImplicitAdjoint
      >>> adj = ImplicitAdjoint()
      >>> f = lambda a: adj.apply(lambda x, a: x ** 3 - a, jnp.cbrt(a), a)
      >>> round(float(jax.grad(f)(8.0)), 6)   # 1 / (3 * 8^(2/3))
      0.083333
    """

    def apply(self, residual, solution, params, *, who: str = "this solver"):
        """``solution`` with implicit gradients to ``params`` (``residual=None``: refused)."""
        if residual is None:
            return no_gradient(solution, who, params)
        return implicit_solution(residual, solution, params)
