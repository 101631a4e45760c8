"""The one iteration driver: ``init`` / ``step`` / ``terminate`` in one bounded ``while_loop``.

Every iterative method of socialign (equilibrium dynamics, CFR, interior-point methods, pivoting
methods, augmented-Lagrangian designers) is an :class:`IterativeSolver`: an immutable pytree
(its float settings are leaves, so new values do not recompile and can be ``vmap``-ed and
differentiated) with pure functions::

    init(problem, key)            -> state
    step(problem, state)          -> state
    terminate(problem, state, tol) -> (done, result_code, certificate)

:func:`iterate` runs ``step`` until ``terminate`` says done, the state stops being finite, or
``max_steps`` is reached. It returns an :class:`Iteration` (state, number of steps, result code,
certificate); each family's entry function (``solve``, ``linprog``, the designers) turns that into
its own answer with ``postprocess``. The loop is not differentiated: gradients come from the
implicit function theorem (:mod:`._adjoint`).

When ``terminate`` runs (the check schedule, ``check_every``) is set once, here:

* an ``int`` ``k``: after every ``k`` steps (``k = 1``: after every step);
* :class:`GeometricChecks` ``(ratio, max_gap)``: the gap to the next check grows with the steps
  already taken, ``gap(s) = clip(floor(ratio * s), 1, max_gap)`` after ``s`` steps. With the
  default ``ratio = 1/8`` the first 16 steps are each checked, then the checks come at 18, 20,
  22, 24, 27, 30, ... : about ``1 / ratio + log(ratio T) / log(1 + ratio)`` checks in ``T``
  steps (53 for ``T = 1,000``, 92 for ``T = 100,000``: ``O(log T)``), and a run stops at most
  ``ratio * s`` (12.5%) steps after the first step ``s`` at which it met ``tol``. Iterative
  methods whose certificate is extra work of the order of a step (the exact NashConv of an
  average strategy: the no-regret dynamics and CFR) use it by default; methods whose
  certificate comes with the step (LP, pivoting) keep checking every step or every few.

Every schedule also checks at the initial state and at ``max_steps``.
"""

from __future__ import annotations

import abc
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._module import pytree_dataclass
from ._result import Result

__all__ = ["GeometricChecks", "IterativeSolver", "Iteration", "all_finite", "as_check_schedule",
           "iterate", "iterate_batch", "iterate_lockstep"]


@dataclasses.dataclass(frozen=True)
class GeometricChecks:
    """A check schedule whose gaps grow geometrically: few checks, early stops.

    After ``s`` steps the next ``terminate`` check comes ``clip(floor(ratio * s), 1, max_gap)``
    steps later (and always at ``max_steps``). A run of ``T`` steps is checked about
    ``1 / ratio + log(ratio T) / log(1 + ratio)`` times (``O(log T)``), and it stops at most a
    fraction ``ratio`` of its length after it first met the tolerance. Hashable and static: pass
    it as ``check_every`` to :func:`iterate` (or to ``solvers.solve``).

    Args:
      ratio: the gap as a fraction of the steps taken, in ``(0, 1]`` (default ``1/8``).
      max_gap: the largest gap (a positive int), or ``None`` for no cap.

    Raises:
      ValueError: if ``ratio`` is not in ``(0, 1]`` or ``max_gap`` is not a positive int.

    Example:
      >>> from socialign.kernel import GeometricChecks
      >>> GeometricChecks().check_steps(40)
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 27, 30, 33, 37, 40]
      >>> len(GeometricChecks().check_steps(100_000))
      92
    """

    ratio: float = 0.125
    max_gap: int | None = None

    def __post_init__(self):
        r = self.ratio
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r <= 1:
            raise ValueError(f"ratio must be a number in (0, 1], got {r!r}")
        object.__setattr__(self, "ratio", float(r))
        g = self.max_gap
        if g is not None and (isinstance(g, bool) or not isinstance(g, int) or g < 1):
            raise ValueError(f"max_gap must be a positive int or None, got {g!r}")

    def gap(self, steps):
        """Steps to the next check after ``steps`` steps (``int32``; traced or Python int)."""
        if isinstance(steps, int):
            g = max(1, math.floor(self.ratio * steps))
            return g if self.max_gap is None else min(g, self.max_gap)
        g = jnp.floor(self.ratio * steps.astype(jnp.float32)).astype(jnp.int32)
        return jnp.clip(g, 1, self.max_gap)

    def check_steps(self, max_steps: int) -> list:
        """The step counts at which a run of ``max_steps`` steps is checked (after the start)."""
        out, s = [], 0
        while s < max_steps:
            s = min(s + self.gap(s), max_steps)
            out.append(s)
        return out


def as_check_schedule(check_every, name: str = "check_every"):
    """Validate a check schedule: a positive ``int`` or a :class:`GeometricChecks`.

    Returns the ``int`` (as a Python ``int``) or the schedule unchanged.

    Raises:
      ValueError: if ``check_every`` is neither, naming ``name``.

    Example:
      >>> from socialign.kernel import GeometricChecks, as_check_schedule
      >>> as_check_schedule(10), as_check_schedule(GeometricChecks(0.25)).ratio
      (10, 0.25)
    """
    if isinstance(check_every, GeometricChecks):
        return check_every
    if isinstance(check_every, bool) or not isinstance(check_every, int | np.integer) or \
            check_every <= 0:
        raise ValueError(f"{name} must be a positive int or a kernel.GeometricChecks, got "
                         f"{check_every!r}")
    return int(check_every)


class IterativeSolver(abc.ABC):
    """Base of every iterative method: pure ``init``/``step``/``terminate`` on a problem.

    Subclasses are :func:`socialign.kernel.pytree_dataclass` classes whose fields are their
    configuration (float settings are leaves; sizes and code paths are static fields).
    ``default_check_every`` is the check schedule that entry functions pass to :func:`iterate`
    (an ``int`` or a :class:`GeometricChecks`; see the module docstring).

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

    #: default check schedule: steps between ``terminate`` checks, or a :class:`GeometricChecks`
    default_check_every: int | GeometricChecks = 1
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
            check_every: int | GeometricChecks = 1) -> Iteration:
    """Run ``solver`` on one unbatched ``problem`` in one bounded ``lax.while_loop``.

    Args:
      solver: an :class:`IterativeSolver`.
      problem: one problem (a pytree), no batch axes (batch with
        :func:`socialign.kernel.batch_map`).
      tol: the tolerance passed to ``terminate`` (a scalar, traced).
      key: a PRNG key passed to ``init``.
      max_steps: the iteration budget (static, positive).
      check_every: the check schedule (static): ``terminate`` is evaluated every this many
        steps (a positive ``int``), or when a :class:`GeometricChecks` schedule says (see the
        module docstring); always at the start and at ``max_steps``.

    Returns:
      An :class:`Iteration`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import GeometricChecks, IterativeSolver, iterate, pytree_dataclass
      >>> @pytree_dataclass
      ... class Halve(IterativeSolver):
      ...     def init(self, x, key): return x
      ...     def step(self, x, s): return s / 2
      ...     def terminate(self, x, s, tol): return jnp.abs(s) <= tol, jnp.int32(0), jnp.abs(s)
      >>> it = iterate(Halve(), jnp.float32(1.0), 1e-3, jax.random.key(0), max_steps=100)
      >>> int(it.num_steps), int(it.result)
      (10, 0)
      >>> it = iterate(Halve(), jnp.float32(1.0), 1e-3, jax.random.key(0), max_steps=100,
      ...              check_every=GeometricChecks())   # checks at 1, ..., 16, 18, ...
      >>> int(it.num_steps)
      10

    Raises:
      ValueError: if ``check_every`` is not a valid check schedule.
    """
    check_every = as_check_schedule(check_every)
    start, cond, body, finish, _, _ = _loop_parts(solver, max_steps, check_every)
    carry = start(problem, tol, key)
    carry = jax.lax.while_loop(cond, lambda c: body(problem, tol, c), carry)
    return finish(carry)


def _loop_parts(solver, max_steps, check_every):
    """The pieces of :func:`iterate`'s loop, shared with :func:`iterate_batch`.

    ``start(problem, tol, key)`` gives the carry ``(steps, state, done, code, cert, finite)``
    at the initial state, ``cond(carry)`` whether to step again, ``body(problem, tol, carry)``
    one iteration (the steps to the next check, then ``terminate``), ``finish(carry)`` the
    :class:`Iteration`; ``check(problem, tol, state)`` the carry's ``(done, code, cert,
    finite)`` and ``next_check(steps)`` when the check after one at ``steps`` comes.
    """
    every_step = getattr(solver, "check_state_finite", True)

    def finite_now(state, cert):
        ok = jnp.all(jnp.isfinite(cert))
        return (all_finite(state) & ok) if every_step else ok

    def start(problem, tol, key):
        state = solver.init(problem, key)
        done, code, cert = solver.terminate(problem, state, tol)
        return (jnp.asarray(0, jnp.int32), state, jnp.asarray(done),
                jnp.asarray(code, jnp.int32), jnp.asarray(cert), finite_now(state, cert))

    def cond(carry):
        steps, _, done, _, _, finite = carry
        return (~done) & finite & (steps < max_steps)

    def check(problem, tol, state):
        done, code, cert = solver.terminate(problem, state, tol)
        return (jnp.asarray(done), jnp.asarray(code, jnp.int32), jnp.asarray(cert),
                finite_now(state, cert))

    def next_check(steps):
        """The step count of the check after one at ``steps`` steps."""
        gap = check_every.gap(steps) if isinstance(check_every, GeometricChecks) else \
            check_every
        return steps + jnp.minimum(gap, max_steps - steps)

    def body(problem, tol, carry):
        steps, state, _, _, _, _ = carry
        if check_every == 1:
            n = jnp.asarray(1, jnp.int32)
            state = solver.step(problem, state)
        elif isinstance(check_every, int) and max_steps % check_every == 0:
            # every gap is check_every: a loop with a static trip count, so that under vmap it
            # needs no per-member predicate (a batched while selects every carried leaf after
            # every step, and XLA then recomputes a step's fused output for its other readers)
            n = jnp.asarray(check_every, jnp.int32)
            state = jax.lax.fori_loop(0, check_every, lambda _, s: solver.step(problem, s), state)
        else:
            n = next_check(steps) - steps
            state = jax.lax.fori_loop(0, n, lambda _, s: solver.step(problem, s), state)
        return (steps + n, state, *check(problem, tol, state))

    def finish(carry):
        steps, state, done, code, cert, finite = carry
        if not every_step:
            finite = finite & all_finite(state)
        result = jnp.where(~finite, Result.NONFINITE,
                           jnp.where(done, code, Result.MAX_STEPS_REACHED)).astype(jnp.int32)
        return Iteration(state=state, num_steps=steps, result=result, certificate=cert)

    return start, cond, body, finish, check, next_check


def _batch_args(problems, tol, key):
    """The batch size ``N`` of ``problems`` and ``tol``, ``key`` broadcast to ``N`` (``key``:
    one key, ``N`` keys, or ``None``), validated as :func:`iterate_batch` documents."""
    leaves = jax.tree_util.tree_leaves(problems)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves):
        raise ValueError("problems must be a pytree of arrays with a leading batch axis")
    N = int(leaves[0].shape[0])
    if any(int(x.shape[0]) != N for x in leaves):
        raise ValueError("every leaf of problems must have the same leading (batch) axis; got "
                         f"{sorted({int(x.shape[0]) for x in leaves})}")
    tols = jnp.asarray(tol)
    if tols.ndim not in (0, 1) or (tols.ndim == 1 and tols.shape[0] != N):
        raise ValueError(f"tol must be a scalar or have shape ({N},), got {tols.shape}")
    tols = jnp.broadcast_to(tols, (N,))
    if key is None:
        return N, tols, None
    # a typed key is a scalar, an old-style uint32 key a vector: [N] or [N, k] are N keys
    one_ndim = 0 if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else 1
    per_key = jnp.ndim(key) == one_ndim + 1
    keys = key if per_key else jnp.broadcast_to(key, (N, *jnp.shape(key)))
    if keys.shape[0] != N:
        raise ValueError(f"key must be one key or {N} keys, got shape {jnp.shape(key)}")
    return N, tols, keys


def iterate_lockstep(solver: IterativeSolver, problems, tol, key, *, max_steps: int,
                     check_every: int | GeometricChecks = 1) -> Iteration:
    """:func:`iterate` on every problem of a batch, all stepping together on one step count.

    ``vmap(iterate)`` gives every member its own step count, so under ``vmap`` the loop between
    two checks has a per-member trip count, and XLA selects every carried array after every
    step (a member may have stopped). Here the members that are still running share one step
    count (they all started at 0 and follow the same schedule), so the steps between two checks
    are a loop with one trip count and no selects; a member that stops is frozen at its check
    (its state, steps and result are kept; later steps on it are discarded). Every member takes
    the steps and checks :func:`iterate` takes on it alone and gets the same result; its state
    is equal up to rounding (XLA may fuse batched arithmetic differently). The work, as under
    ``vmap``, is the slowest member's step count for every member: for batches whose step
    counts differ widely, :func:`iterate_batch`.

    Args:
      solver: an :class:`IterativeSolver`.
      problems: a pytree whose leaves share one leading batch axis ``N``.
      tol: the tolerance: a scalar, or ``[N]`` (one per member).
      key: one PRNG key (every member's ``init`` gets it), ``[N]`` keys, or ``None``.
      max_steps: each member's iteration budget (static, positive).
      check_every: the check schedule (static; see :func:`iterate`).

    Returns:
      An :class:`Iteration` whose leaves have the batch axis ``N`` first.

    Raises:
      ValueError: if the leaves do not share a leading axis, ``tol`` or ``key`` has the wrong
        shape, or ``check_every`` is not a check schedule.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import IterativeSolver, iterate_lockstep, pytree_dataclass
      >>> @pytree_dataclass
      ... class Halve(IterativeSolver):
      ...     def init(self, x, key): return x
      ...     def step(self, x, s): return s / 2
      ...     def terminate(self, x, s, tol): return jnp.abs(s) <= tol, jnp.int32(0), jnp.abs(s)
      >>> it = iterate_lockstep(Halve(), jnp.array([1.0, 1e6, 8.0]), 1e-3, jax.random.key(0),
      ...                       max_steps=100)
      >>> it.num_steps.tolist()
      [10, 30, 13]
    """
    check_every = as_check_schedule(check_every)
    N, tols, keys = _batch_args(problems, tol, key)
    start, cond, _, finish, check, next_check = _loop_parts(solver, max_steps, check_every)
    v_cond = jax.vmap(cond)
    v_step = jax.vmap(solver.step)
    carry = jax.vmap(start, in_axes=(0, 0, None if keys is None else 0))(problems, tols, keys)
    static_gap = isinstance(check_every, int) and max_steps % check_every == 0

    def body(c):
        steps, carry = c                        # steps: one count, shared by the running members
        running = v_cond(carry)
        n = check_every if static_gap else next_check(steps) - steps
        state = jax.lax.fori_loop(0, n, lambda _, st: v_step(problems, st), carry[1])
        steps = steps + n
        new = (jnp.full((N,), steps, jnp.int32), state, *jax.vmap(check)(problems, tols, state))
        carry = jax.tree_util.tree_map(
            lambda a, b: jnp.where(running.reshape(-1, *([1] * (a.ndim - 1))), a, b), new, carry)
        return steps, carry

    _, carry = jax.lax.while_loop(lambda c: jnp.any(v_cond(c[1])), body,
                                  (jnp.asarray(0, jnp.int32), carry))
    return jax.vmap(finish)(carry)


def iterate_batch(solver: IterativeSolver, problems, tol, key, *, max_steps: int, slots: int,
                  check_every: int | GeometricChecks = 1, output=None, refill: int | None = None):
    """:func:`iterate` on every problem of a batch, ``slots`` at a time, refilled as they stop.

    ``vmap(iterate)`` runs one loop until the batch's slowest member stops, so a batch whose
    members need very different numbers of steps pays the largest count for every member.
    Here one ``while_loop`` advances ``slots`` members one step each per iteration, and
    ``terminate`` runs for the members whose own check schedule says so (in the iterations
    where any member's does). When members stop (done, non-finite, or ``max_steps``), up to
    ``refill`` of them per iteration are written out (``output`` of their problem and
    :class:`Iteration`) and the next members of the batch take their slots (``init`` and the
    initial check, as :func:`iterate` does); a stopped member waits, without stepping, for an
    iteration with room. The work is then about the sum of the members' step counts over
    ``slots``, plus the longest member's count at the end (put long runs first). Every member
    takes the steps and checks :func:`iterate` takes on it alone and gets the same result; its
    state is equal up to rounding (XLA may fuse batched arithmetic differently).

    Args:
      solver: an :class:`IterativeSolver`.
      problems: a pytree whose leaves share one leading batch axis ``N``.
      tol: the tolerance: a scalar, or ``[N]`` (one per member).
      key: one PRNG key (every member's ``init`` gets it, as ``vmap`` over a shared key), ``[N]``
        keys, or ``None`` (passed to ``init`` as it is).
      max_steps: each member's iteration budget (static, positive).
      slots: how many members step together (static, positive; at most ``N`` are used).
      check_every: the check schedule (static; see :func:`iterate`).
      output: ``output(problem, iteration) -> pytree``, what is kept of a member that stops
        (static; default: its :class:`Iteration`). Keep it small when states are large (a
        simplex tableau): the outputs of all ``N`` members are held until the end.
      refill: how many stopped members are written out and replaced per iteration (static,
        positive; default ``max(1, slots // 8)``): ``init`` and ``output`` run on that many
        slots, not on all of them.

    Returns:
      ``output`` of every member (by default an :class:`Iteration`), the batch axis ``N``
      first.

    Raises:
      ValueError: if ``slots`` or ``refill`` is not a positive int, the leaves do not share a
        leading axis, ``tol`` or ``key`` has the wrong shape, or ``check_every`` is not a check
        schedule.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import IterativeSolver, iterate_batch, pytree_dataclass
      >>> @pytree_dataclass
      ... class Halve(IterativeSolver):
      ...     def init(self, x, key): return x
      ...     def step(self, x, s): return s / 2
      ...     def terminate(self, x, s, tol): return jnp.abs(s) <= tol, jnp.int32(0), jnp.abs(s)
      >>> it = iterate_batch(Halve(), jnp.array([1.0, 1e6, 8.0]), 1e-3, jax.random.key(0),
      ...                    max_steps=100, slots=2)
      >>> it.num_steps.tolist()
      [10, 30, 13]
    """
    check_every = as_check_schedule(check_every)
    for name, v in (("slots", slots), ("refill", 1 if refill is None else refill)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    N, tols, keys = _batch_args(problems, tol, key)
    S = min(int(slots), N)
    R = min(S, max(1, S // 8) if refill is None else int(refill))
    member = (problems, tols)
    start, cond, _, finish, check, next_check = _loop_parts(solver, max_steps, check_every)
    keep = output if output is not None else (lambda problem, it: it)
    take = lambda tree, i: jax.tree_util.tree_map(lambda x: x[i], tree)  # noqa: E731
    key_of = (lambda i: None) if keys is None else (lambda i: keys[i])  # noqa: E731
    v_start = jax.vmap(lambda m, k: start(m[0], m[1], k),
                       in_axes=(0, None if keys is None else 0))
    v_cond = jax.vmap(cond)
    v_step = jax.vmap(lambda m, st: solver.step(m[0], st))
    v_check = jax.vmap(lambda m, st: check(m[0], m[1], st))
    v_keep = jax.vmap(lambda m, c: keep(m[0], finish(c)))

    def where(mask, a, b):
        return jax.tree_util.tree_map(
            lambda x, y: jnp.where(mask.reshape(-1, *([1] * (x.ndim - 1))), x, y), a, b)

    first = jnp.arange(S, dtype=jnp.int32)
    slot_m = take(member, first)
    carry = v_start(slot_m, key_of(first))
    due = next_check(carry[0])
    out = jax.tree_util.tree_map(lambda x: jnp.zeros((N, *x.shape[1:]), x.dtype),
                                 jax.eval_shape(v_keep, slot_m, carry))

    def harvest(c, stopped):
        # the first R stopped slots (in slot order): written out, then given the next members
        idx, nxt, slot_m, carry, due, out = c
        rank = jnp.cumsum(stopped, dtype=jnp.int32) - 1
        pick = stopped[None, :] & (rank[None, :] == jnp.arange(R, dtype=jnp.int32)[:, None])
        sel = jnp.argmax(pick, axis=1).astype(jnp.int32)             # [R] slot indices
        valid = jnp.any(pick, axis=1)
        m_sel, c_sel = take(slot_m, sel), take(carry, sel)
        res = v_keep(m_sel, c_sel)
        dest = jnp.where(valid, idx[sel], N)
        out = jax.tree_util.tree_map(lambda o, r: o.at[dest].set(r, mode="drop"), out, res)
        new = nxt + jnp.cumsum(valid, dtype=jnp.int32) - 1
        new_idx = jnp.where(valid, jnp.where(new < N, new, N), idx[sel])
        nxt = nxt + jnp.sum(valid, dtype=jnp.int32)
        load = valid & (new_idx < N)
        src = jnp.minimum(new_idx, N - 1)
        fresh_m = take(member, src)
        fresh = v_start(fresh_m, key_of(src))
        put = jnp.where(valid, sel, S)                               # S: dropped
        upd = lambda tree, new: jax.tree_util.tree_map(  # noqa: E731
            lambda x, y: x.at[put].set(y, mode="drop"), tree, new)
        slot_m = upd(slot_m, where(load, fresh_m, m_sel))
        carry = upd(carry, where(load, fresh, c_sel))
        due = due.at[put].set(jnp.where(load, next_check(fresh[0]), due[sel]), mode="drop")
        idx = idx.at[put].set(new_idx, mode="drop")
        return idx, nxt, slot_m, carry, due, out

    def run_checks(c, now):
        idx, nxt, slot_m, carry, due, out = c
        steps, state = carry[0], carry[1]
        carry = (steps, state, *where(now, v_check(slot_m, state), carry[2:]))
        return idx, nxt, slot_m, carry, jnp.where(now, next_check(steps), due), out

    def loop_body(c):
        # write out up to R members that stopped and refill their slots (only in iterations
        # where some member stopped); one step for every member still running; terminate for
        # the members whose schedule says so (only when some member's does)
        stopped = (c[0] < N) & ~v_cond(c[3])
        c = jax.lax.cond(jnp.any(stopped), harvest, lambda c, _: c, c, stopped)
        idx, nxt, slot_m, carry, due, out = c
        run = (idx < N) & v_cond(carry)
        steps, state = carry[0], carry[1]
        state = where(run, v_step(slot_m, state), state)
        steps = steps + run.astype(jnp.int32)
        c = (idx, nxt, slot_m, (steps, state, *carry[2:]), due, out)
        now = run & (steps >= due)
        return jax.lax.cond(jnp.any(now), run_checks, lambda c, _: c, c, now)

    def loop_cond(c):
        return jnp.any(c[0] < N)

    c = (first, jnp.asarray(S, jnp.int32), slot_m, carry, due, out)
    *_, out = jax.lax.while_loop(loop_cond, loop_body, c)
    return out
