"""The one iteration driver: ``init`` / ``step`` / ``terminate`` in one bounded ``while_loop``.

Every iterative method of socialign (equilibrium dynamics, CFR, interior-point methods, pivoting
methods, augmented-Lagrangian designers) is an :class:`IterativeSolver`: an immutable pytree
(its float settings are leaves, so new values do not recompile and can be ``vmap``-ed and
differentiated) with pure functions::

    init(problem, key)            -> state
    step(problem, state)          -> state
    terminate(problem, state, tol) -> (done, result_code, certificate)

:func:`iterate` runs ``step`` until ``terminate`` says done, the state stops being finite, or
``max_steps`` is reached, checking every ``check_every`` steps. It returns an :class:`Iteration`
(state, number of steps, result code, certificate); each family's entry function (``solve``,
``linprog``, the designers) turns that into its own answer with ``postprocess``. The loop is not
differentiated: gradients come from the implicit function theorem (:mod:`._adjoint`).
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from ._module import pytree_dataclass
from ._result import Result

__all__ = ["IterativeSolver", "Iteration", "all_finite", "iterate"]


class IterativeSolver(abc.ABC):
    """Base of every iterative method: pure ``init``/``step``/``terminate`` on a problem.

    Subclasses are :func:`socialign.kernel.pytree_dataclass` classes whose fields are their
    configuration (float settings are leaves; sizes and code paths are static fields).
    ``default_check_every`` sets how often :func:`iterate` evaluates ``terminate``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import IterativeSolver, iterate, pytree_dataclass
      >>> @pytree_dataclass
      ... class Babylonian(IterativeSolver):   # sqrt(a) by x <- (x + a / x) / 2
      ...     def init(self, a, key): return a
      ...     def step(self, a, x): return (x + a / x) / 2
      ...     def terminate(self, a, x, tol):
      ...         r = jnp.abs(x * x - a)
      ...         return r <= tol, jnp.int32(0), r
      >>> it = iterate(Babylonian(), jnp.float32(2.0), 1e-5, jax.random.key(0), max_steps=50)
      >>> round(float(it.state), 4), int(it.result)
      (1.4142, 0)
    """

    #: default number of steps between ``terminate`` checks
    default_check_every: int = 1
    #: check every inexact leaf of the state for NaN/inf after each check (``True``), or only the
    #: certificate each time and the whole state once at the end (``False``: for methods such as
    #: pivoting whose state is large and whose certificate already sees every non-finite value)
    check_state_finite: bool = True

    @abc.abstractmethod
    def init(self, problem, key):
        """Initial state for one unbatched ``problem``."""

    @abc.abstractmethod
    def step(self, problem, state):
        """One iteration: a new state."""

    @abc.abstractmethod
    def terminate(self, problem, state, tol):
        """``(done, result_code, certificate)``: scalars; ``result_code`` counts when done."""


@pytree_dataclass
class Iteration:
    """What :func:`iterate` returns for one problem.

    Attributes:
      state: the final state.
      num_steps: ``int32`` scalar, the number of ``step`` calls made.
      result: ``int32`` :class:`socialign.kernel.Result` code: the solver's own code when it
        said done, ``MAX_STEPS_REACHED`` when the budget ran out, ``NONFINITE`` when a state or
        certificate held NaN or inf.
      certificate: the solver's certificate at the final state (what ``tol`` was compared with).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.kernel import Iteration, Result
      >>> it = Iteration(state=jnp.zeros(2), num_steps=jnp.int32(3), result=jnp.int32(0),
      ...                certificate=jnp.float32(0.0))
      >>> Result(int(it.result)).name
      'CONVERGED'
    """

    state: object
    num_steps: jax.Array
    result: jax.Array
    certificate: jax.Array


def all_finite(tree) -> jax.Array:
    """True when every inexact leaf of ``tree`` is finite (a scalar boolean array).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.kernel import all_finite
      >>> bool(all_finite({"a": jnp.ones(2), "b": jnp.array([jnp.nan])}))
      False
    """
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack(leaves))


def iterate(solver: IterativeSolver, problem, tol, key, *, max_steps: int,
            check_every: int = 1) -> Iteration:
    """Run ``solver`` on one unbatched ``problem`` in one bounded ``lax.while_loop``.

    Args:
      solver: an :class:`IterativeSolver`.
      problem: one problem (a pytree), no batch axes (batch with
        :func:`socialign.kernel.batch_map`).
      tol: the tolerance passed to ``terminate`` (a scalar, traced).
      key: a PRNG key passed to ``init``.
      max_steps: the iteration budget (static, positive).
      check_every: ``terminate`` is evaluated every this many steps (static, positive).

    Returns:
      An :class:`Iteration`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import IterativeSolver, iterate, pytree_dataclass
      >>> @pytree_dataclass
      ... class Halve(IterativeSolver):
      ...     def init(self, x, key): return x
      ...     def step(self, x, s): return s / 2
      ...     def terminate(self, x, s, tol): return jnp.abs(s) <= tol, jnp.int32(0), jnp.abs(s)
      >>> it = iterate(Halve(), jnp.float32(1.0), 1e-3, jax.random.key(0), max_steps=100)
      >>> int(it.num_steps), int(it.result)
      (10, 0)
    """
    every_step = getattr(solver, "check_state_finite", True)

    def finite_now(state, cert):
        ok = jnp.all(jnp.isfinite(cert))
        return (all_finite(state) & ok) if every_step else ok

    state = solver.init(problem, key)
    done, code, cert = solver.terminate(problem, state, tol)
    finite = finite_now(state, cert)

    def cond(carry):
        steps, _, done, _, _, finite = carry
        return (~done) & finite & (steps < max_steps)

    def body(carry):
        steps, state, _, _, _, _ = carry
        if check_every == 1:
            n = jnp.asarray(1, jnp.int32)
            state = solver.step(problem, state)
        else:
            n = jnp.minimum(check_every, max_steps - steps)
            state = jax.lax.fori_loop(0, n, lambda _, s: solver.step(problem, s), state)
        done, code, cert = solver.terminate(problem, state, tol)
        return steps + n, state, done, code, cert, finite_now(state, cert)

    carry = (jnp.asarray(0, jnp.int32), state, jnp.asarray(done), jnp.asarray(code, jnp.int32),
             jnp.asarray(cert), finite)
    steps, state, done, code, cert, finite = jax.lax.while_loop(cond, body, carry)
    if not every_step:
        finite = finite & all_finite(state)
    result = jnp.where(~finite, Result.NONFINITE,
                       jnp.where(done, code, Result.MAX_STEPS_REACHED)).astype(jnp.int32)
    return Iteration(state=state, num_steps=steps, result=result, certificate=cert)
