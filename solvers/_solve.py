"""The solver protocol and the one jitted loop that drives every solver: :func:`solve`.

A solver is a small immutable (hashable) object whose fields are its configuration. It
implements pure functions of the game and a state pytree::

    init(game, key)            -> state
    step(game, state)          -> state
    strategies(game, state)    -> the current answer
    terminate(game, state, tol) -> (done, result_code, certificate)

:func:`solve` runs ``step`` inside one ``lax.while_loop`` until ``terminate`` says done, the
iterates stop being finite, or ``max_steps`` is reached, then computes the certificate that every
answer carries (NashConv and the solver's own measure). Problem data is an argument of the
compiled loop, never a closure, so a second same-shaped game reuses the compiled code.
"""

from __future__ import annotations

import abc
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from solvers._checks import check_positive_int, check_positive_scalar, is_concrete
from solvers._metrics import expected_values, nash_conv
from solvers._result import Equilibrium, Result

__all__ = ["Solver", "solve"]


class Solver(abc.ABC):
    """Base class of all solvers: immutable configuration plus pure ``init``/``step``.

    Subclasses are frozen dataclasses (hashable, so they are static arguments of the jitted
    loop). The default ``terminate`` compares NashConv of the current strategies with ``tol``.
    """

    #: game types this solver accepts (checked at the boundary)
    game_types: tuple = ()
    #: default number of steps between certificate checks (``solve(check_every=None)``)
    default_check_every: int = 1

    @abc.abstractmethod
    def init(self, game, key):
        """Initial solver state for ``game`` (a single, unbatched game)."""

    @abc.abstractmethod
    def step(self, game, state):
        """One iteration."""

    @abc.abstractmethod
    def strategies(self, game, state):
        """The current answer (for normal-form games a tuple of mixed strategies)."""

    def terminate(self, game, state, tol):
        """Return ``(done, result_code, certificate)`` for the current state."""
        cert = nash_conv(game, self.strategies(game, state))
        return cert <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), cert

    def values(self, game, state):
        """Expected payoff per player of the answer (default: under the mixed strategies)."""
        return expected_values(game, self.strategies(game, state))

    def joint(self, game, state):
        """Joint distribution over action profiles for correlated concepts, else ``None``."""
        return None

    def stats(self, game, state) -> dict:
        """Solver-specific diagnostics added to ``Equilibrium.stats``."""
        return {}

    def validate(self, game) -> None:
        """Raise ``TypeError``/``ValueError`` if this solver cannot handle ``game``."""
        if self.game_types and not isinstance(game, self.game_types):
            names = ", ".join(t.__name__ for t in self.game_types)
            raise TypeError(f"{type(self).__name__} solves {names}, got game of type "
                            f"{type(game).__name__}")


def _all_finite(tree) -> jax.Array:
    leaves = [x for x in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _run_single(game, solver: Solver, tol, key, max_steps: int, check_every: int) -> Equilibrium:
    state = solver.init(game, key)
    done, code, cert = solver.terminate(game, state, tol)
    finite = _all_finite(state)

    def cond(carry):
        steps, _, done, _, _, finite = carry
        return (~done) & finite & (steps < max_steps)

    def body(carry):
        steps, state, _, _, _, _ = carry
        n = jnp.minimum(check_every, max_steps - steps)
        state = jax.lax.fori_loop(0, n, lambda _, s: solver.step(game, s), state)
        done, code, cert = solver.terminate(game, state, tol)
        return steps + n, state, done, code, cert, _all_finite(state)

    carry = (jnp.asarray(0, jnp.int32), state, done, code, cert, finite)
    steps, state, done, code, cert, finite = jax.lax.while_loop(cond, body, carry)
    strategies = solver.strategies(game, state)
    conv = nash_conv(game, strategies)
    values = solver.values(game, state)
    cert_ok = jnp.isfinite(cert) & jnp.all(jnp.isfinite(values)) & jnp.isfinite(conv)
    result = jnp.where(
        ~finite | ~cert_ok,
        Result.NONFINITE,
        jnp.where(done, code, Result.MAX_STEPS_REACHED),
    ).astype(jnp.int32)
    stats = {"num_steps": steps, **solver.stats(game, state)}
    return Equilibrium(
        strategies=strategies,
        values=values,
        nash_conv=conv,
        certificate=cert,
        result=result,
        stats=stats,
        state=state,
        joint=solver.joint(game, state),
    )


@functools.partial(jax.jit, static_argnames=("solver", "max_steps", "check_every", "batch_ndim",
                                             "batch_size"))
def _run(game, solver, tol, key, *, max_steps, check_every, batch_ndim, batch_size=None):
    fn = functools.partial(_run_single, solver=solver, max_steps=max_steps,
                           check_every=check_every)
    if batch_ndim == 0:
        return fn(game, tol=tol, key=key)
    batch_shape = _batch_shape(game)
    size = int(np.prod(batch_shape))
    flat = jax.tree_util.tree_map(lambda x: x.reshape(size, *x.shape[batch_ndim:]), game)
    keys = jax.random.split(key, size)
    if batch_size is None or batch_size >= size:
        out = jax.vmap(lambda g, k: fn(g, tol=tol, key=k))(flat, keys)
    else:  # chunks of batch_size games, each chunk vmapped: the working set stays in cache
        out = jax.lax.map(lambda gk: fn(gk[0], tol=tol, key=gk[1]), (flat, keys),
                          batch_size=batch_size)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch_shape, *x.shape[1:]), out)


def _batch_shape(game) -> tuple:
    shape = getattr(game, "batch_shape", ())
    return tuple(shape)


def solve(game, solver: Solver, *, max_steps: int = 10_000, tol: float = 1e-6,
          throw: bool = True, check_every: int | None = None, key=None,
          batch_size: int | None = None) -> Equilibrium:
    """Solve ``game`` with ``solver`` and certify the answer.

    Runs ``solver.step`` inside one jitted ``lax.while_loop`` until the solver's certificate is
    at most ``tol`` (checked every ``check_every`` steps), the iterates become non-finite, or
    ``max_steps`` is reached. A game with batch axes (see :func:`solvers.stack`) is solved as one
    ``vmap``-ed batch; every field of the result then carries the batch axes.

    Args:
      game: the game, e.g. a :class:`solvers.NormalFormGame`.
      solver: a solver instance, e.g. ``solvers.RegretMatchingPlus()``.
      max_steps: iteration budget (static).
      tol: tolerance on the solver's certificate (NashConv, duality gap, ...).
      throw: raise ``RuntimeError`` if any member did not converge. Only possible on concrete
        values: inside ``jit``/``vmap`` pass ``throw=False`` and read ``result``.
      check_every: evaluate the certificate every this many steps (static); default: the
        solver's ``default_check_every`` (1 for most solvers).
      key: PRNG key for randomised solvers; defaults to ``jax.random.key(0)``.
      batch_size: for a batched game, solve it in chunks of this many games (``lax.map`` over
        ``vmap``-ed chunks) instead of one ``vmap`` over everything. On CPUs a chunk whose
        working set fits in cache (a few hundred small games) is much faster; ``None`` (default)
        vmaps the whole batch, which suits GPUs. Results are identical either way.

    Returns:
      An :class:`Equilibrium` with strategies, values, NashConv, certificate, result and stats.

    Example:
      >>> import solvers
      >>> rps = solvers.NormalFormGame.zero_sum([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])
      >>> eq = solvers.solve(rps, solvers.ZeroSumLP())
      >>> [round(float(p), 4) for p in eq.strategies[0]]
      [0.3333, 0.3333, 0.3333]
    """
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a solvers.Solver instance (e.g. "
                        f"solvers.RegretMatchingPlus()), got {type(solver).__name__}")
    if isinstance(solver, type):
        raise TypeError("solver must be an instance, not a class: write Solver(), not Solver")
    solver.validate(game)
    max_steps = check_positive_int(max_steps, "max_steps")
    if check_every is None:
        check_every = solver.default_check_every
    check_every = check_positive_int(check_every, "check_every")
    check_positive_scalar(tol, "tol", allow_zero=True)
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    if key is None:
        key = jax.random.key(0)
    dtype = jax.tree_util.tree_leaves(game)[0].dtype
    tol = jnp.asarray(tol, dtype=dtype if jnp.issubdtype(dtype, jnp.floating) else float)
    batch_ndim = len(_batch_shape(game))
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    eq = _run(game, solver, tol, key, max_steps=max_steps, check_every=check_every,
              batch_ndim=batch_ndim, batch_size=batch_size)
    if throw and is_concrete(eq.result):
        codes = np.asarray(eq.result)
        bad = codes != Result.CONVERGED
        if np.any(bad):
            first = Result(int(codes[bad].flat[0]))
            raise RuntimeError(
                f"{type(solver).__name__} did not converge on {int(bad.sum())} of {codes.size} "
                f"game(s): {first.message}. Pass throw=False to get the result anyway and read "
                "Equilibrium.result."
            )
    return eq


def _dataclass_solver(cls):
    """Decorator: make a solver a frozen, hashable dataclass."""
    return dataclasses.dataclass(frozen=True)(cls)
