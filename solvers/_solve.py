"""The solver protocol and the one jitted loop that drives every solver: :func:`solve`.

A solver is a small immutable pytree (a :func:`socialign.kernel.pytree_dataclass`) whose fields
are its configuration: float settings (learning rates, temperatures, CFR weights) are leaves, so a
new value reuses the compiled loop and ``jax.vmap``/``jax.grad`` over them work; only settings
that fix shapes or select code paths are static. It implements pure functions of the game and a
state pytree::

    init(game, key)            -> state
    step(game, state)          -> state
    strategies(game, state)    -> the current answer
    terminate(game, state, tol) -> (done, result_code, certificate)
    certify(game, iteration, tol) -> iteration   (optional: the verdict after the loop)

:func:`solve` runs ``step`` inside one ``lax.while_loop`` until ``terminate`` says done, the
iterates stop being finite, or ``max_steps`` is reached, then computes the certificate that every
answer carries (NashConv and the solver's own measure). A solver whose own stopping test is much
cheaper than its certificate (the simplex's reduced costs against the game's duality gap) checks
the test in the loop and the certificate once, after it, in ``certify``. Problem data is an
argument of the compiled loop, never a closure, so a second same-shaped game reuses the compiled
code.

Tolerances are scale-free (the one rule, for every game solver): ``tol`` is compared with
a certificate measured relative to each player's payoff range ``r_i = max u_i - min u_i`` (over
action profiles of a normal-form game, over terminal histories of an extensive-form game;
:func:`socialign.solvers.relative_nash_conv`, or the solver's own measure divided the same
way), so answers, result codes and certificates do not change when player ``i``'s payoffs
become ``a_i u_i + b_i`` with ``a_i > 0``. The default ``tol`` is
:func:`socialign.kernel.default_tol` of the dtype. A solver whose answer is invariant under
such maps (``affine_invariant = True``: the LP, pivoting, regret-matching and CFR-family
solvers) runs its loop on the normalised game ``(u_i - min u_i) / r_i``, so shifts and scales
cost no digits; solvers with settings in payoff units (``Hedge``'s learning rate,
``LogitQRE``'s temperature, the replicator's step size) run on the game as given. ``Equilibrium.nash_conv`` is reported in
payoff units and ``Equilibrium.relative_nash_conv`` relative to the ranges.
"""

from __future__ import annotations

import abc
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    ImplicitAdjoint,
    IterativeSolver,
    Result,
    as_check_schedule,
    as_mesh,
    batch_map,
    check_batch_size,
    check_positive_int,
    check_positive_scalar,
    default_tol,
    gather,
    is_concrete,
    iterate,
    iterate_batch,
    iterate_lockstep,
    pytree_dataclass,
    raise_if_failed,
    shard_batch,
)
from ._equilibrium import Equilibrium
from ._game import NormalFormGame
from ._metrics import (
    expected_values,
    nash_conv_pair,
    normalized,
    relative_nash_conv,
    unit_gains,
)

__all__ = ["Solver", "solve"]


class Solver(IterativeSolver):
    """Base class of all game solvers: the kernel's :class:`~socialign.kernel.IterativeSolver`.

    Subclasses are pytree dataclasses (float settings are leaves, so a new learning rate or
    temperature does not recompile). The default ``terminate`` compares NashConv of the current
    strategies with ``tol``, relative to each player's payoff range
    (:func:`socialign.solvers.relative_nash_conv`). A solver whose iterates do not change when a
    player's payoffs are multiplied by a positive number or shifted sets
    ``affine_invariant = True``, and ``solve`` then runs its loop on the normalised game. A
    solver whose answer has optimality conditions defines
    ``residual(game, strategies)`` (zero at its answers), and ``solve`` differentiates through
    them with :class:`~socialign.kernel.ImplicitAdjoint`.

    Write a solver as a :func:`socialign.kernel.pytree_dataclass` subclass: float settings are
    ordinary fields (validated at construction on concrete values, e.g. with
    ``check_positive_scalar``), shape-fixing and code-path settings are
    :func:`socialign.kernel.static_field`.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import solvers
      >>> from socialign.kernel import pytree_dataclass
      >>> @pytree_dataclass
      ... class PlayFirst(solvers.Solver):       # both players play their first action
      ...     game_types = (solvers.NormalFormGame,)
      ...     def init(self, game, key): return jnp.zeros(())
      ...     def step(self, game, state): return state
      ...     def strategies(self, game, state):
      ...         return tuple(jnp.eye(a, dtype=game.dtype)[0] for a in game.num_actions)
      >>> pd = solvers.NormalFormGame.from_bimatrix([[3., 0.], [5., 1.]], [[3., 5.], [0., 1.]])
      >>> float(solvers.solve(pd, PlayFirst(), max_steps=1, throw=False).nash_conv)
      4.0
    """

    #: game types this solver accepts (checked at the boundary)
    game_types: tuple = ()
    #: default number of steps between certificate checks (``solve(check_every=None)``)
    default_check_every: int = 1
    #: the answer is unchanged under ``u_i -> a_i u_i + b_i`` (``a_i > 0``): ``solve`` runs the
    #: loop on the normalised game ``(u_i - min u_i) / r_i`` (normal- and extensive-form games)
    affine_invariant: bool = False

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
        """Return ``(done, result_code, certificate)`` for the current state.

        Default: the certificate is NashConv of :meth:`strategies`, relative to each player's
        payoff range (:func:`socialign.solvers.relative_nash_conv`).
        """
        cert = relative_nash_conv(game, self.strategies(game, state))
        return cert <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), cert

    def certify(self, game, iteration, tol):
        """The loop's :class:`socialign.kernel.Iteration` on ``game``, with the result and
        certificate this solver stands by (default: as the loop left them).

        Called once per game after the loop, on the game the loop ran on. A solver whose
        :meth:`terminate` is its own cheap stopping test (not the certificate) computes the
        certificate here and decides the result from it.
        """
        return iteration

    def values(self, game, state, strategies):
        """Expected payoff per player of the answer (default: under ``strategies``)."""
        return expected_values(game, strategies)

    def residual(self, game, strategies):
        """Optimality conditions of the answer (zero at a solution); ``None``: not defined."""
        return None

    @property
    def differentiable(self) -> bool:
        """Whether ``solve`` may differentiate the answer through :meth:`residual`.

        True when the solver's class defines :meth:`residual`; a solver whose mode has no
        optimality conditions (e.g. ``LogitQRE(homotopy=True)``) overrides this to ``False``,
        and gradients then raise a ``TypeError``.
        """
        return type(self).residual is not Solver.residual

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


@pytree_dataclass
class _OnUnitPayoffs(IterativeSolver):
    """``solver`` on a normal-form game that ``normalized`` produced, with the default check.

    There each player's payoffs span [0, 1] (or are all 0), and the default certificate,
    NashConv relative to the payoff ranges, is NashConv itself up to rounding (normalising
    again maps ``u`` to ``(u - 0) / 1``, exact but for an ulp of XLA's fused arithmetic now and
    then): :func:`unit_gains` computes it without the passes over the payoffs that normalising
    costs, which on small games cost more than the best responses themselves (measured on 4,096
    RM+ games of 8x8: a check cost 1.7 ms, 2.6 steps, before; 0.5 ms after).
    """

    solver: Solver

    @property
    def check_state_finite(self):
        return getattr(self.solver, "check_state_finite", True)

    def init(self, game, key):
        return self.solver.init(game, key)

    def step(self, game, state):
        return self.solver.step(game, state)

    def terminate(self, game, state, tol):
        cert = jnp.sum(unit_gains(game, self.solver.strategies(game, state)))
        return cert <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), cert


def _loop_problem(game, solver):
    """What the kernel's loop runs on one game: ``(game_ng, loop_solver)``, gradients stopped
    (normalised payoffs for an affine-invariant solver, and its cheaper default check)."""
    game_ng, solver_ng = jax.lax.stop_gradient((game, solver))
    loop_solver = solver_ng
    if solver.affine_invariant:
        game_ng = normalized(game_ng)  # same answer, no digits lost to shifts and scales
        if isinstance(game_ng, NormalFormGame) and type(solver).terminate is Solver.terminate:
            loop_solver = _OnUnitPayoffs(solver_ng)
    return game_ng, loop_solver


def _solve_one(game, key, solver, tol, adjoint, *, max_steps: int, check_every: int):
    """One unbatched game: the kernel's loop, then the certificate and the implicit adjoint."""
    game_ng, loop_solver = _loop_problem(game, solver)
    it = iterate(loop_solver, game_ng, tol, key, max_steps=max_steps, check_every=check_every)
    return _equilibrium(game, game_ng, solver, it, adjoint, tol)


def _equilibrium(game, game_ng, solver, it, adjoint, tol):
    """The :class:`Equilibrium` of one game from the loop's :class:`Iteration` ``it``."""
    solver_ng = jax.lax.stop_gradient(solver)
    it = solver_ng.certify(game_ng, it, tol)
    state = it.state
    strategies = solver_ng.strategies(game_ng, state)
    who = type(solver).__name__
    # solvers without optimality conditions: the kernel refuses gradients with a TypeError
    residual = _params_residual(type(solver).residual) if solver.differentiable else None
    strategies = adjoint.apply(residual, strategies, (solver, game), who=who)
    conv, rel = nash_conv_pair(game, strategies)
    values = solver.values(game, state, strategies)
    cert_ok = jnp.isfinite(it.certificate) & jnp.all(jnp.isfinite(values)) & jnp.isfinite(conv)
    result = jnp.where(cert_ok, it.result, Result.NONFINITE).astype(jnp.int32)
    stats = {"num_steps": it.num_steps, **solver_ng.stats(game_ng, state)}
    return Equilibrium(
        strategies=strategies,
        values=values,
        nash_conv=conv,
        relative_nash_conv=rel,
        certificate=it.certificate,
        result=result,
        stats=stats,
        state=state,
        joint=solver.joint(game, state),
    )


def _solve_flat(games, keys, solver, tol, adjoint, *, max_steps, check_every, slots,
                batch_size):
    """A flat batch (leading axis): through :func:`socialign.kernel.iterate_batch` when
    ``slots`` is set (``slots`` games step together, each slot refilled with the next game when
    its game stops), else :func:`socialign.kernel.iterate_lockstep` (all on one step count)."""
    size = jax.tree_util.tree_leaves(games)[0].shape[0]
    games_ng = jax.vmap(lambda g: _loop_problem(g, solver)[0])(games)
    loop_solver = _loop_problem(jax.tree_util.tree_map(lambda x: x[0], games), solver)[1]
    if slots is None:
        it = iterate_lockstep(loop_solver, games_ng, tol, keys, max_steps=max_steps,
                              check_every=check_every)
    else:
        it = iterate_batch(loop_solver, games_ng, tol, keys, max_steps=max_steps, slots=slots,
                           check_every=check_every)
    return batch_map(lambda a: _equilibrium(a[0], a[1], solver, a[2], adjoint, tol),
                     (games, games_ng, it), batch_shape=(size,), batch_size=batch_size)


@functools.cache
def _params_residual(residual):
    """``residual(solver, game, strategies)`` as the kernel's ``residual(x, params)``."""

    def fn(strategies, params):
        solver, game = params
        return residual(solver, game, strategies)

    return fn


@functools.partial(jax.jit, static_argnames=("max_steps", "check_every", "batch_shape",
                                             "batch_size", "mesh", "slots"))
def _run(game, solver, tol, key, adjoint, *, max_steps, check_every, batch_shape,
         batch_size=None, mesh=None, slots=None):
    size = math.prod(batch_shape)
    keys = jax.random.split(key, size).reshape(*batch_shape, *key.shape) if batch_shape else key
    if not batch_shape or size == 0 or (slots is None and (mesh is not None
                                                          or batch_size is not None)):
        return batch_map(
            lambda gk: _solve_one(gk[0], gk[1], solver, tol, adjoint, max_steps=max_steps,
                                  check_every=check_every),
            (game, keys), batch_shape=batch_shape, batch_size=batch_size, mesh=mesh)
    # a flat batch: in refilled slots, or (slots None, one device, no chunks) every game on one
    # step count (kernel.iterate_lockstep: the steps between two checks without vmap's per-step
    # selects of the carried state)
    def flat(gk):
        return _solve_flat(gk[0], gk[1], solver, tol, adjoint, max_steps=max_steps,
                           check_every=check_every, slots=slots, batch_size=batch_size)

    nb = len(batch_shape)
    gk = jax.tree_util.tree_map(lambda x: x.reshape(size, *x.shape[nb:]), (game, keys))
    out = flat(gk) if mesh is None else shard_batch(flat, gk, batch_shape=(size,), mesh=mesh)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch_shape, *x.shape[1:]), out)


def _batch_shape(game) -> tuple:
    shape = getattr(game, "batch_shape", ())
    return tuple(shape)


def solve(game, solver: Solver, *, max_steps: int = 10_000, tol: float | None = None,
          throw: bool = True, check_every: int | None = None, key=None,
          batch_size: int | None = None, adjoint: ImplicitAdjoint | None = None,
          mesh=None, slots: int | None = None) -> Equilibrium:
    """Solve ``game`` with ``solver`` and certify the answer.

    Runs ``solver.step`` inside one jitted ``lax.while_loop`` (the kernel's
    :func:`socialign.kernel.iterate`) until the solver's certificate is at most ``tol`` (checked
    every ``check_every`` steps), the iterates become non-finite, or ``max_steps`` is reached. A
    game with batch axes (see :func:`socialign.solvers.stack`) is solved as one batch: its
    games step together on one step count (:func:`socialign.kernel.iterate_lockstep`; a game is
    frozen at the check where it stops), or in chunks (``batch_size``), on several devices
    (``mesh``) or in refilled slots (``slots``); each game's answer is the one it gets alone,
    and every field of the result carries the batch axes.

    Args:
      game: the game, e.g. a :class:`socialign.solvers.NormalFormGame`.
      solver: a solver instance, e.g. ``solvers.RegretMatchingPlus()``.
      max_steps: iteration budget (static).
      tol: tolerance on the solver's certificate (NashConv, duality gap, incentive violation),
        which for a normal-form game is relative to each player's payoff range (scale-free:
        the same ``tol`` means the same thing for payoffs in cents or in millions); default
        :func:`socialign.kernel.default_tol` of the game's dtype.
      throw: raise :class:`socialign.kernel.NotConvergedError` if any member did not converge.
        Works eagerly and inside ``jax.jit``/``jax.vmap`` (there the error is raised when the
        compiled function runs, as a ``JaxRuntimeError`` carrying the same message). Pass
        ``throw=False`` to read ``result`` instead.
      check_every: when to evaluate the certificate (static): every this many steps, or a
        :class:`socialign.kernel.GeometricChecks` schedule (gaps growing with the steps taken);
        default: the solver's ``default_check_every`` (``GeometricChecks()`` for no-regret
        dynamics and CFR, 1 for most others).
      key: PRNG key for randomised solvers; defaults to ``jax.random.key(0)``.
      batch_size: for a batched game, solve it in chunks of this many games (``lax.map`` over
        ``vmap``-ed chunks) instead of one ``vmap`` over everything. On CPUs a chunk whose
        working set fits in cache (a few hundred small games) is much faster; ``None`` (default)
        vmaps the whole batch, which suits GPUs. Results are identical either way.
      adjoint: how gradients flow through the answer; default
        :class:`socialign.kernel.ImplicitAdjoint` (the implicit function theorem on the solver's
        optimality conditions, :meth:`Solver.residual`, with respect to the game's arrays and
        the solver's float settings; solvers without them refuse gradients with a
        ``TypeError`` when the backward pass runs). ``throw=True`` works under ``jax.grad``.
      mesh: for a batched game, ``None`` (one device) or a :class:`jax.sharding.Mesh` or a
        sequence of devices (e.g. ``jax.devices()``): the batch is split over them and each
        device runs its own loop on its shard, stopping when its shard has converged
        (:func:`socialign.kernel.shard_batch`). The answer comes back sharded the same way
        (replicated when the batch size is not a multiple of the device count: the batch is
        padded with copies of its first game, and the padding stripped). Equal to the
        one-device answer. With several processes (``jax.distributed``), use the mesh of
        ``jax.devices()``.
      slots: for a batched game, iterate this many games at a time and refill a slot with the
        next game as soon as its game stops (:func:`socialign.kernel.iterate_batch`), instead
        of one loop that runs until the batch's slowest game stops. For batches whose games
        need very different numbers of steps (no-regret dynamics to a tight ``tol``: on 1,024
        random 8x8 zero-sum games PRM+ needs 3,870 steps on average and 40,111 at most). Each
        game's answer is the one it gets alone; ``batch_size`` then chunks the certificates
        after the loop, ``mesh`` gives each device its own slots. ``None`` (default): no slots.

    Returns:
      An :class:`Equilibrium` with strategies, values, NashConv (raw and relative to the payoff
      ranges), certificate, result and stats.

    Raises:
      TypeError: if ``solver`` is not a solver instance or cannot solve this kind of game,
        the game's arrays are in a floating type narrower than float32 (float16, bfloat16),
        ``throw`` is not a bool, or ``mesh`` is not a mesh or a sequence of devices.
      ValueError: if ``max_steps``, ``check_every``, ``batch_size``, ``slots`` or ``tol`` is out
        of range.
      NotConvergedError: with ``throw=True``, if an answer is not certified.

    Example:
      >>> from socialign import solvers
      >>> rps = solvers.NormalFormGame.zero_sum([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])
      >>> eq = solvers.solve(rps, solvers.ZeroSumLP())
      >>> [round(float(p), 4) for p in eq.strategies[0]]
      [0.3333, 0.3333, 0.3333]
      >>> import jax                                     # a batch over a mesh of devices
      >>> two = solvers.stack([rps, rps])
      >>> eq = solvers.solve(two, solvers.ZeroSumLP(), mesh=jax.devices()[:1])
      >>> eq.values.shape, len(eq.values.sharding.device_set)
      ((2, 2), 1)
    """
    if isinstance(solver, type):
        raise TypeError("solver must be an instance, not a class: write Solver(), not Solver")
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a socialign.solvers.Solver instance (e.g. "
                        f"solvers.RegretMatchingPlus()), got {type(solver).__name__}")
    solver.validate(game)
    max_steps = check_positive_int(max_steps, "max_steps")
    if check_every is None:
        check_every = solver.default_check_every
    check_every = as_check_schedule(check_every, "check_every")
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    if adjoint is None:
        adjoint = ImplicitAdjoint()
    if key is None:
        key = jax.random.key(0)
    dtype = jax.tree_util.tree_leaves(game)[0].dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    if jnp.finfo(dtype).bits < 32:
        # the default tol would be ~1 and no certificate is meaningful at 3 significant digits
        raise TypeError(f"solve needs float32 or float64 payoffs, got {jnp.dtype(dtype).name}: "
                        "cast the game's arrays, e.g. jnp.asarray(payoffs, jnp.float32)")
    if tol is None:
        tol = default_tol(dtype)
    check_positive_scalar(tol, "tol", allow_zero=True)
    tol = jnp.asarray(tol, dtype=dtype)
    batch_size = check_batch_size(batch_size)
    if slots is not None:
        slots = check_positive_int(slots, "slots")
    mesh = as_mesh(mesh)
    eq = _run(game, solver, tol, key, adjoint, max_steps=max_steps, check_every=check_every,
              batch_shape=_batch_shape(game), batch_size=batch_size, mesh=mesh, slots=slots)
    if throw:
        raise_if_failed(gather(eq.result), type(solver).__name__)
    return eq


def _float_setting(value, name: str, *, allow_zero: bool = False, upper: float | None = None):
    """Validate a float hyperparameter of a solver at construction; return the value to store.

    A concrete number is checked (finite, ``> 0`` or ``>= 0``, at most ``upper``) and stored as
    a Python ``float``, so every value gives the same pytree leaf type and the same compiled
    loop; a traced value (a solver built inside ``jit``/``vmap``/``grad``) is kept as it is.

    Raises:
      TypeError: if a concrete ``value`` is not a real scalar.
      ValueError: if it is out of range.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not is_concrete(value):
        return value
    check_positive_scalar(value, name, allow_zero=allow_zero)
    v = float(np.asarray(value))
    if upper is not None and v > upper:
        raise ValueError(f"{name} must be at most {upper}, got {v!r}")
    return v


def _real_setting(value, name: str, *, lower: float = -math.inf):
    """Like :func:`_float_setting` for a real setting bounded below by ``lower`` (may be < 0)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not is_concrete(value):
        return value
    try:
        v = float(np.asarray(value))
    except Exception:
        raise TypeError(f"{name} must be a real scalar, got {value!r}") from None
    if not math.isfinite(v) or v < lower:
        raise ValueError(f"{name} must be a finite real number >= {lower}, got {value!r}")
    return v
