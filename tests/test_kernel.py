"""The kernel's own tests: the loop, batching, pytrees, throw, implicit gradients, tolerances.

Everything here runs on toy problems (scalars and 2-vectors) so the whole module compiles a
handful of tiny functions.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import kernel
from socialign.kernel import (
    ImplicitAdjoint,
    IterativeSolver,
    NotConvergedError,
    Result,
    batch_map,
    check_batch_size,
    implicit_solution,
    iterate,
    iterate_batch,
    iterate_lockstep,
    no_gradient,
    pytree_dataclass,
    raise_if_failed,
    result_message,
    static_field,
)

# ----------------------------------------------------------------------------- iterate


@pytree_dataclass
class Shrink(IterativeSolver):
    """x <- factor * x until |x| <= tol; ``code`` is reported when done."""

    factor: float = 0.5
    code: int = static_field(default=int(Result.CONVERGED))

    def init(self, problem, key):
        return problem

    def step(self, problem, state):
        return self.factor * state

    def terminate(self, problem, state, tol):
        cert = jnp.abs(state)
        return cert <= tol, jnp.int32(self.code), cert


KEY = jax.random.key(0)


def _run(solver, x0=1.0, tol=1e-3, max_steps=100, check_every=1):
    return iterate(solver, jnp.float64(x0), tol, KEY, max_steps=max_steps,
                   check_every=check_every)


def test_iterate_converges():
    it = _run(Shrink())
    assert int(it.result) == Result.CONVERGED
    assert int(it.num_steps) == 10  # 2**-10 < 1e-3 < 2**-9
    assert float(it.certificate) == pytest.approx(2.0 ** -10)
    assert float(it.state) == pytest.approx(2.0 ** -10)


def test_iterate_already_done_takes_no_step():
    it = _run(Shrink(), x0=1e-4)
    assert int(it.num_steps) == 0 and int(it.result) == Result.CONVERGED


def test_iterate_reports_the_solvers_own_code():
    it = _run(Shrink(code=int(Result.INFEASIBLE)))
    assert int(it.result) == Result.INFEASIBLE


def test_iterate_max_steps_reached():
    it = _run(Shrink(), max_steps=5)
    assert int(it.result) == Result.MAX_STEPS_REACHED
    assert int(it.num_steps) == 5
    assert float(it.certificate) == pytest.approx(2.0 ** -5)


def test_iterate_nonfinite_stops_at_once():
    it = _run(Shrink(factor=jnp.inf), max_steps=50)  # 1 -> inf on the first step
    assert int(it.result) == Result.NONFINITE
    assert int(it.num_steps) == 1
    it = _run(Shrink(factor=jnp.nan), max_steps=50)
    assert int(it.result) == Result.NONFINITE


def test_iterate_nonfinite_initial_state():
    it = _run(Shrink(), x0=np.nan)
    assert int(it.result) == Result.NONFINITE and int(it.num_steps) == 0


@pytest.mark.parametrize("check_every,max_steps,steps", [(4, 100, 12), (3, 100, 12), (4, 10, 10),
                                                         (4, 6, 6), (1, 100, 10)])
def test_iterate_check_every(check_every, max_steps, steps):
    # terminate is evaluated only every `check_every` steps (and at the budget's end)
    it = _run(Shrink(), max_steps=max_steps, check_every=check_every)
    assert int(it.num_steps) == steps
    expected = Result.CONVERGED if steps >= 10 else Result.MAX_STEPS_REACHED
    assert int(it.result) == expected
    assert int(it.num_steps) <= max_steps


@pytree_dataclass
class ShrinkTo(IterativeSolver):
    """Per-member factor in the problem: ``(x0, factor)``; a state pytree with an int leaf."""

    def init(self, problem, key):
        return {"x": problem[0], "n": jnp.int32(0)}

    def step(self, problem, state):
        return {"x": problem[1] * state["x"], "n": state["n"] + 1}

    def terminate(self, problem, state, tol):
        cert = jnp.abs(state["x"])
        return cert <= tol, jnp.int32(Result.CONVERGED), cert


@pytest.mark.parametrize("slots,refill", [(1, None), (3, None), (8, None), (8, 1), (8, 8),
                                          (50, None)])
@pytest.mark.parametrize("check_every", [1, 4, kernel.GeometricChecks()])
def test_iterate_batch_equals_iterate_member_by_member(slots, refill, check_every):
    # members done at the start, converging after few or many steps, hitting max_steps, turning
    # non-finite: every member's Iteration equals iterate's on it alone, whatever the slots
    x0 = jnp.array([1.0, 1e-5, 1e6, 3.0, np.nan, 1.0, 1e12, 0.5, 2.0, 7.0])
    factor = jnp.array([0.5, 0.5, 0.5, 0.9, 0.5, jnp.inf, 0.5, 0.99, 0.1, 0.7])
    tol = jnp.array([1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-6, 1e-3, 1e-9, 1e-2])
    got = iterate_batch(ShrinkTo(), (x0, factor), tol, KEY, max_steps=60, slots=slots,
                        check_every=check_every, refill=refill)
    want = jax.vmap(lambda p, t: iterate(ShrinkTo(), p, t, KEY, max_steps=60,
                                         check_every=check_every))((x0, factor), tol)
    codes = {int(r) for r in want.result}
    assert {Result.CONVERGED, Result.MAX_STEPS_REACHED, Result.NONFINITE} <= codes
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_iterate_batch_output_and_no_key():
    # output: what is kept of each member (here its step count and final value); key=None
    x0 = jnp.array([1.0, 1e6, 8.0, 0.5])
    got = iterate_batch(Shrink(), x0, 1e-3, None, max_steps=100, slots=2, refill=1,
                        output=lambda x, it: {"n": it.num_steps, "last": it.state, "x0": x})
    np.testing.assert_array_equal(got["n"], [10, 30, 13, 9])
    np.testing.assert_array_equal(got["x0"], x0)
    np.testing.assert_allclose(got["last"], x0 * 0.5 ** got["n"])


def test_iterate_batch_under_jit_with_a_scalar_tol_and_per_member_keys():
    x0 = jnp.linspace(1.0, 100.0, 7)
    f = jax.jit(lambda x: iterate_batch(Shrink(), x, 1e-3, jax.random.split(KEY, 7),
                                        max_steps=100, slots=2))
    want = jax.vmap(lambda x: iterate(Shrink(), x, 1e-3, KEY, max_steps=100))(x0)
    np.testing.assert_array_equal(f(x0).num_steps, want.num_steps)
    np.testing.assert_array_equal(f(x0).state, want.state)


@pytest.mark.parametrize("kwargs,match", [
    (dict(slots=0), "slots"), (dict(slots=2.0), "slots"), (dict(slots=True), "slots"),
    (dict(slots=2, tol=jnp.ones(3)), "tol"), (dict(slots=2, check_every=0), "check_every"),
    (dict(slots=2, refill=0), "refill"),
])
def test_iterate_batch_rejects(kwargs, match):
    kwargs = {"tol": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=match):
        iterate_batch(Shrink(), jnp.ones(4), key=KEY, max_steps=10, **kwargs)
    with pytest.raises(ValueError, match="leading"):
        iterate_batch(ShrinkTo(), (jnp.ones(4), jnp.ones(3)), 1e-3, KEY, max_steps=10, slots=2)


@pytest.mark.parametrize("max_steps", [60, 61])
@pytest.mark.parametrize("check_every", [1, 4, 7, kernel.GeometricChecks()])
def test_iterate_lockstep_equals_iterate_member_by_member(check_every, max_steps):
    # the members share one step count while they run and are frozen at the check where they
    # stop: every member's Iteration equals iterate's on it alone (done at the start, few or
    # many steps, max_steps, non-finite; schedules that do and do not divide max_steps)
    x0 = jnp.array([1.0, 1e-5, 1e6, 3.0, np.nan, 1.0, 1e12, 0.5, 2.0, 7.0])
    factor = jnp.array([0.5, 0.5, 0.5, 0.9, 0.5, jnp.inf, 0.5, 0.99, 0.1, 0.7])
    tol = jnp.array([1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-6, 1e-3, 1e-9, 1e-2])
    run = jax.jit(lambda p, t: iterate_lockstep(ShrinkTo(), p, t, KEY, max_steps=max_steps,
                                                check_every=check_every))
    got = run((x0, factor), tol)
    want = jax.vmap(lambda p, t: iterate(ShrinkTo(), p, t, KEY, max_steps=max_steps,
                                         check_every=check_every))((x0, factor), tol)
    codes = {int(r) for r in want.result}
    assert {Result.CONVERGED, Result.MAX_STEPS_REACHED, Result.NONFINITE} <= codes
    assert len({int(n) for n in want.num_steps}) >= 5
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_iterate_lockstep_no_key_scalar_tol_and_rejects():
    got = iterate_lockstep(Shrink(), jnp.array([1.0, 1e6, 8.0]), 1e-3, None, max_steps=100)
    np.testing.assert_array_equal(got.num_steps, [10, 30, 13])
    with pytest.raises(ValueError, match="tol"):
        iterate_lockstep(Shrink(), jnp.ones(4), jnp.ones(3), KEY, max_steps=10)
    with pytest.raises(ValueError, match="check_every"):
        iterate_lockstep(Shrink(), jnp.ones(4), 1e-3, KEY, max_steps=10, check_every=0)
    with pytest.raises(ValueError, match="leading"):
        iterate_lockstep(ShrinkTo(), (jnp.ones(4), jnp.ones(3)), 1e-3, KEY, max_steps=10)


@pytree_dataclass
class Jitter(IterativeSolver):
    """Halves a state that init draws from its key (so a wrong key per member shows)."""

    def init(self, x, key):
        return x + jax.random.uniform(key)

    def step(self, x, s):
        return s / 2

    def terminate(self, x, s, tol):
        return jnp.abs(s) <= tol, jnp.int32(Result.CONVERGED), jnp.abs(s)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("typed", [True, False])
@pytest.mark.parametrize("per_member", [True, False])
def test_batched_loops_take_one_key_or_one_per_member_old_and_new_style(n, typed, per_member):
    # a typed key is a scalar, an old-style uint32 key (jax.random.PRNGKey) a vector of 2: one
    # key is shared, [n] typed or [n, 2] old keys are one per member (n = 2 is the ambiguous
    # size for a shape test on the key's first axis)
    key = jax.random.key(1) if typed else jax.random.PRNGKey(1)
    keys = jax.random.split(key, n) if per_member else key
    x = jnp.arange(1.0, n + 1)
    member_keys = keys if per_member else jnp.broadcast_to(key, (n, *key.shape))
    want = jax.vmap(lambda xx, k: iterate(Jitter(), xx, 1e-3, k, max_steps=50))(x, member_keys)
    for got in (iterate_lockstep(Jitter(), x, 1e-3, keys, max_steps=50),
                iterate_batch(Jitter(), x, 1e-3, keys, max_steps=50, slots=2)):
        np.testing.assert_array_equal(got.state, want.state)
        np.testing.assert_array_equal(got.num_steps, want.num_steps)


def test_iterate_settings_are_leaves_jit_vmap_and_grad():
    traces = []

    @jax.jit
    def run(solver, x0):
        traces.append(1)
        return iterate(solver, x0, 1e-3, KEY, max_steps=100)

    a = run(Shrink(0.5), jnp.float64(1.0))
    b = run(Shrink(0.25), jnp.float64(1.0))  # a new factor: same compiled loop
    assert len(traces) == 1
    assert int(a.num_steps) == 10 and int(b.num_steps) == 5
    factors = jnp.array([0.5, 0.25, 0.2])
    batch = jax.vmap(lambda f: run(Shrink(f), jnp.float64(1.0)))(factors)
    assert batch.num_steps.tolist() == [10, 5, 5]
    assert batch.result.tolist() == [0, 0, 0]


# ----------------------------------------------------------------------------- batch_map


def _fn(p):
    # a nonlinear function of a pytree problem, with a pytree output
    return {"s": jnp.sum(jnp.sin(p["a"]) * p["b"]), "v": p["a"] @ p["m"]}


def _problems(*batch):
    rng = np.random.default_rng(0)
    return {"a": jnp.asarray(rng.normal(size=(*batch, 3))),
            "b": jnp.asarray(rng.normal(size=(*batch, 3))),
            "m": jnp.asarray(rng.normal(size=(*batch, 3, 2)))}


def _loop(fn, batched, batch_shape):
    out = np.empty(batch_shape, dtype=object)
    for idx in np.ndindex(*batch_shape):
        out[idx] = fn(jax.tree_util.tree_map(lambda x, i=idx: x[i], batched))
    return {k: np.stack([out[idx][k] for idx in np.ndindex(*batch_shape)]).reshape(
        *batch_shape, *np.shape(out[(0,) * len(batch_shape)][k])) for k in ("s", "v")}


@pytest.mark.parametrize("batch_shape", [(5,), (2, 3)])
@pytest.mark.parametrize("batch_size", [None, 2, 4, 100])
def test_batch_map_equals_a_python_loop(batch_shape, batch_size):
    probs = _problems(*batch_shape)
    got = batch_map(_fn, probs, batch_shape=batch_shape, batch_size=batch_size)
    want = _loop(_fn, probs, batch_shape)
    assert got["s"].shape == batch_shape and got["v"].shape == (*batch_shape, 2)
    np.testing.assert_allclose(got["s"], want["s"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["v"], want["v"], rtol=1e-12, atol=1e-12)


def test_batch_map_chunks_leaves_without_numbers():
    # a zero-size axis (an LP without equality rows) in an input or an output: lax.map's chunk
    # reshapes cannot take it, batch_map keeps it out of the map and rebuilds it
    x, none = jnp.arange(14.0).reshape(7, 2), jnp.zeros((7, 0, 3))

    def fn(t):
        a, e = t
        return {"sum": a.sum() + e.sum(), "empty": jnp.zeros((0,)) + e.sum(), "same": e}

    got = batch_map(fn, (x, none), batch_shape=(7,), batch_size=3)
    want = batch_map(fn, (x, none), batch_shape=(7,))
    for k in want:
        assert got[k].shape == want[k].shape
        np.testing.assert_array_equal(got[k], want[k])


def test_batch_map_no_batch_axes_calls_once():
    p = _problems()
    got = batch_map(_fn, p, batch_shape=())
    np.testing.assert_allclose(got["s"], _fn(p)["s"])


def test_batch_map_inside_jit():
    probs = _problems(2, 3)
    f = jax.jit(lambda p: batch_map(_fn, p, batch_shape=(2, 3), batch_size=4))
    np.testing.assert_allclose(f(probs)["v"], _loop(_fn, probs, (2, 3))["v"], rtol=1e-12)


def test_batch_map_rejects_a_leaf_without_the_batch_shape():
    probs = _problems(2, 3)
    probs["b"] = probs["b"][:1]
    with pytest.raises(ValueError, match="batch shape"):
        batch_map(_fn, probs, batch_shape=(2, 3))


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "4"])
def test_check_batch_size_rejects(bad):
    with pytest.raises(ValueError, match="batch_size"):
        check_batch_size(bad)


def test_check_batch_size_accepts():
    assert check_batch_size(None) is None and check_batch_size(3) == 3


# ----------------------------------------------------------------------------- pytree_dataclass


@pytree_dataclass
class Settings:
    rate: float = 0.1
    n: int = static_field(default=2)

    def __post_init__(self):
        if kernel.is_concrete(self.rate) and np.any(np.asarray(self.rate) < 0):
            raise ValueError("rate must be non-negative")


def test_pytree_dataclass_float_leaf_does_not_recompile_static_field_does():
    traces = []

    @jax.jit
    def f(s):
        traces.append(s.n)
        return s.rate * jnp.arange(s.n)

    f(Settings(0.1, n=2))
    f(Settings(0.7, n=2))
    f(Settings(3.0, n=2))
    assert len(traces) == 1
    assert f(Settings(0.7, n=3)).shape == (3,)
    assert len(traces) == 2 and traces[-1] == 3


def test_pytree_dataclass_structure():
    s = Settings(0.5, n=4)
    leaves, treedef = jax.tree_util.tree_flatten(s)
    assert leaves == [0.5]
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(s)[0]]
    assert paths == [".rate"]
    back = jax.tree_util.tree_unflatten(treedef, [2.0])
    assert back.rate == 2.0 and back.n == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.rate = 1.0
    # vmap and grad over the leaf
    assert jax.vmap(lambda s: s.rate * 2)(Settings(jnp.arange(3.0))).tolist() == [0.0, 2.0, 4.0]
    assert float(jax.grad(lambda s: s.rate ** 2)(Settings(3.0)).rate) == 6.0


def test_pytree_dataclass_checks_user_input_only():
    with pytest.raises(ValueError, match="non-negative"):
        Settings(-1.0)
    # unflattening bypasses __init__: placeholders JAX passes around are never checked
    treedef = jax.tree_util.tree_structure(Settings(1.0))
    assert jax.tree_util.tree_unflatten(treedef, [-1.0]).rate == -1.0


def test_pytree_dataclass_refuses_a_non_class():
    with pytest.raises(TypeError, match="decorates a class"):
        pytree_dataclass(lambda: None)


# ----------------------------------------------------------------------------- throw


def test_raise_if_failed_eagerly():
    raise_if_failed(jnp.array([0, 0]), "Hedge")  # all converged: no error
    with pytest.raises(NotConvergedError, match=r"Hedge did not converge on 1 of 3 problem\(s\): "
                       r"max_steps reached.*throw=False"):
        raise_if_failed(jnp.array([0, 1, 0]), "Hedge")
    with pytest.raises(NotConvergedError, match="non-finite"):
        raise_if_failed(jnp.int32(Result.NONFINITE), "X")


def _checked(code):
    raise_if_failed(code, "Toy")
    return code + 1


def test_raise_if_failed_inside_jit_raises_at_run_time():
    f = jax.jit(_checked)
    assert int(f(jnp.int32(0))) == 1  # converged: runs
    with pytest.raises(Exception, match="Toy did not converge on 1 of 1 problem.*max_steps"):
        jax.block_until_ready(f(jnp.int32(1)))


def test_raise_if_failed_under_vmap_raises_at_run_time():
    f = jax.jit(jax.vmap(_checked))
    np.testing.assert_array_equal(f(jnp.zeros(3, jnp.int32)), [1, 1, 1])
    with pytest.raises(Exception, match="Toy did not converge.*infeasible"):
        jax.block_until_ready(f(jnp.array([0, int(Result.INFEASIBLE), 0], jnp.int32)))


def test_raise_if_failed_with_an_unused_result_is_not_dropped():
    # the caller ignores everything about the check: it must still run
    @jax.jit
    def f(x):
        raise_if_failed(jnp.where(x > 0, 1, 0).astype(jnp.int32), "Dropped")
        return x * 2

    assert float(f(-1.0)) == -2.0
    with pytest.raises(Exception, match="Dropped did not converge"):
        jax.block_until_ready(f(1.0))


def test_raise_if_failed_under_grad_and_jvp():
    # a solve with throw=True inside jax.grad / jax.jvp: the check is staged on the primal codes
    # (integers carry no tangent), and still raises at run time when a code is not CONVERGED
    def f(x, bad):
        raise_if_failed(jnp.where(x > bad, 1, 0).astype(jnp.int32), "Graded")
        return jnp.sin(x)

    assert float(jax.grad(f)(1.0, 2.0)) == pytest.approx(np.cos(1.0))
    assert float(jax.jit(jax.grad(f))(1.0, 2.0)) == pytest.approx(np.cos(1.0))
    _, t = jax.jvp(lambda x: f(x, 2.0), (1.0,), (1.0,))
    assert float(t) == pytest.approx(np.cos(1.0))
    with pytest.raises(Exception, match="Graded did not converge"):
        jax.block_until_ready(jax.jit(jax.grad(f))(3.0, 2.0))


# ----------------------------------------------------------------------------- implicit gradients


def _residual(x, theta):
    # F(x, theta) = 0: a small nonlinear system with a unique root near the start
    # (x is the fixed point of a contraction, so the root is unique and Newton converges from 0)
    a, b = theta["a"], theta["b"]
    w = jnp.array([[0.4, -0.3], [0.2, 0.5]])
    return x - jnp.tanh(w @ x + a) * (1.0 + b * x[::-1] ** 2) / 2.0


@jax.jit
def _newton(theta):
    def step(_, x):
        jac = jax.jacfwd(_residual)(x, theta)
        return x - jnp.linalg.solve(jac, _residual(x, theta))

    return jax.lax.fori_loop(0, 12, step, jnp.zeros(2))


def _loss(theta):
    x = implicit_solution(_residual, _newton(theta), theta)
    return x[0] * 2.0 + x[1] ** 2


THETA = {"a": jnp.array([1.5, -0.7]), "b": jnp.float64(0.3)}
_loss_jit = jax.jit(_loss)
_grad_jit = jax.jit(jax.grad(_loss))


def test_implicit_solution_matches_central_differences():
    assert jnp.max(jnp.abs(_residual(_newton(THETA), THETA))) < 1e-12
    grad = _grad_jit(THETA)
    h = 1e-6
    flat, unravel = jax.flatten_util.ravel_pytree(THETA)
    fd = np.array([(_loss_jit(unravel(flat + h * e)) - _loss_jit(unravel(flat - h * e))) / (2 * h)
                   for e in np.eye(flat.size)])
    np.testing.assert_allclose(jax.flatten_util.ravel_pytree(grad)[0], fd, rtol=1e-6, atol=1e-8)


def test_implicit_solution_under_jit_and_vmap():
    g = _grad_jit(THETA)
    bs = jnp.array([0.1, 0.3])
    gb = jax.jit(jax.vmap(lambda b: jax.grad(_loss)({"a": THETA["a"], "b": b})["b"]))(bs)
    np.testing.assert_allclose(gb[1], g["b"], rtol=1e-10)


def test_implicit_solution_value_is_unchanged_and_solution_gets_no_gradient():
    x = _newton(THETA)
    np.testing.assert_array_equal(implicit_solution(_residual, x, THETA), x)
    # the solution itself is stop_gradient-ed: gradients flow only through params
    gx = jax.grad(lambda x: implicit_solution(_residual, x, THETA).sum())(x)
    np.testing.assert_array_equal(gx, 0.0)


def test_implicit_solution_rejects_a_residual_of_the_wrong_size():
    def bad(x, a):
        return jnp.concatenate([x - a, x])

    with pytest.raises(ValueError, match="as many entries as the solution"):
        jax.grad(lambda a: implicit_solution(bad, a, a).sum())(jnp.ones(2))


def test_implicit_adjoint_apply():
    adj = ImplicitAdjoint()
    assert float(jax.grad(lambda a: adj.apply(lambda x, a: x ** 2 - a, jnp.sqrt(a), a))(4.0)) == \
        pytest.approx(0.25)
    with pytest.raises(TypeError, match="MySolver defines no optimality conditions"):
        jax.grad(lambda a: adj.apply(None, a * 2, a, who="MySolver"))(1.0)


def test_no_gradient_raises_type_error():
    f = lambda a: no_gradient(jnp.sin(a), "Hedge")  # noqa: E731
    assert float(f(1.0)) == pytest.approx(np.sin(1.0))  # the value passes through
    assert float(jax.jit(f)(1.0)) == pytest.approx(np.sin(1.0))
    with pytest.raises(TypeError, match="Hedge defines no optimality conditions"):
        jax.grad(f)(1.0)
    with pytest.raises(TypeError, match="Hedge"):
        jax.jit(jax.grad(f))(1.0)


# ----------------------------------------------------------------------------- tolerances


def test_tolerances_per_dtype():
    e64, e32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert kernel.eps(jnp.float64) == e64 and kernel.eps("float32") == e32
    assert kernel.default_tol(jnp.float64) == 1e-6
    assert kernel.default_tol(jnp.float32) == pytest.approx(1e3 * e32)
    assert kernel.lp_tol(jnp.float64) == 1e-9
    assert kernel.lp_tol(jnp.float32) == pytest.approx(8 * e32)
    assert kernel.pivot_tol(jnp.float64) == pytest.approx(1e3 * e64)
    assert kernel.pivot_tol(jnp.float32) == pytest.approx(1e3 * e32)
    # every tolerance is looser in a shorter float, and reachable (well above its epsilon)
    for tol in (kernel.default_tol, kernel.lp_tol, kernel.pivot_tol):
        assert tol(jnp.float16) >= tol(jnp.float32) >= tol(jnp.float64)
        for dt in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64):
            assert tol(dt) >= 8 * kernel.eps(dt) * (1 - 1e-12)
    assert kernel.eps(np.dtype("float64")) == e64  # numpy dtypes too


@pytest.mark.parametrize("fn", [kernel.eps, kernel.default_tol, kernel.lp_tol, kernel.pivot_tol])
def test_tolerances_refuse_integer_dtypes(fn):
    with pytest.raises(TypeError, match="floating"):
        fn(jnp.int32)


def test_scale_of():
    assert float(kernel.scale_of(jnp.array([[1.0, -4.0], [2.0, 0.0]]))) == 4.0
    np.testing.assert_array_equal(kernel.scale_of(jnp.array([[1.0, -4.0], [2.0, 0.0]]), axis=1),
                                  [4.0, 2.0])
    z32 = kernel.scale_of(jnp.zeros(3, jnp.float32))
    assert z32.dtype == jnp.float32 and float(z32) == np.finfo(np.float32).tiny > 0
    assert kernel.scale_of(jnp.array([1, -3])).dtype == jnp.float64  # ints become floats
    assert float(jax.jit(kernel.scale_of)(jnp.array([-2.0, 1.0]))) == 2.0
    # scale-free: a certificate divided by the scale is the same in cents and in millions
    x = jnp.array([0.3, -1.2, 0.05])
    np.testing.assert_allclose(x / kernel.scale_of(x), 1e6 * x / kernel.scale_of(1e6 * x))


# ----------------------------------------------------------------------------- result codes


def test_every_result_code_has_its_own_message():
    messages = {}
    for code in Result:
        msg = result_message(code)
        assert isinstance(msg, str) and len(msg) > 10, code
        assert result_message(int(code)) == msg == code.message
        assert result_message(jnp.int32(code)) == msg  # a scalar array, as results hold
        messages[msg] = code
    assert len(messages) == len(Result), "two codes share a message"
    assert Result.CONVERGED == 0  # the code `result == 0` tests rely on
    assert "converged" in result_message(Result.CONVERGED)


def test_the_split_failure_codes_exist():
    # issue 8: FAILED and MAX_STEPS_REACHED no longer stand for everything
    for name in ("MAX_STEPS_REACHED", "NONFINITE", "INFEASIBLE", "UNBOUNDED", "DEGENERATE_PIVOT",
                 "STALLED", "CERTIFICATE_ABOVE_TOLERANCE", "SINGULAR"):
        assert name in Result.__members__


@pytest.mark.parametrize("bad", [-1, 99])
def test_result_message_rejects_unknown_codes(bad):
    with pytest.raises(ValueError):
        result_message(bad)


# ----------------------------------------------------------------------------- validators


def test_validators():
    assert kernel.as_float_array([1, 2], "x").dtype == jnp.float64
    assert kernel.as_float_array(np.float32([1]), "x").dtype == jnp.float32
    with pytest.raises(TypeError, match="payoffs"):
        kernel.as_float_array(["a"], "payoffs")
    with pytest.raises(TypeError, match="payoffs"):
        kernel.as_float_array(None, "payoffs")
    with pytest.raises(TypeError, match="real"):
        kernel.as_float_array([1j], "payoffs")
    with pytest.raises(ValueError, match="prior must be finite"):
        kernel.check_finite(jnp.array([1.0, jnp.nan]), "prior")
    kernel.check_simplex(jnp.array([0.25, 0.75]), "prior")
    with pytest.raises(ValueError, match="sum to 1"):
        kernel.check_simplex(jnp.array([0.5, 0.6]), "prior")
    with pytest.raises(ValueError, match="non-negative"):
        kernel.check_simplex(jnp.array([-0.5, 1.5]), "prior")
    assert kernel.check_positive_int(3, "n") == 3
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            kernel.check_positive_int(bad, "n")
    kernel.check_positive_scalar(0.0, "temperature", allow_zero=True)
    with pytest.raises(ValueError, match="temperature"):
        kernel.check_positive_scalar(0.0, "temperature")
    # numpy converts a bool (True -> 1.0) and a numeric string: solve(..., tol=True) ran with
    # tol = 1 and reported CONVERGED (a break-tester's find)
    for bad in (True, "1e-3", b"1", jnp.asarray(True), 1j):
        with pytest.raises(TypeError, match="tol must be a real scalar"):
            kernel.check_positive_scalar(bad, "tol")
    for ok in (1, np.int64(2), np.float32(0.5), jnp.bfloat16(0.5), jnp.asarray(0.5)):
        kernel.check_positive_scalar(ok, "tol")
    # traced values: the numbers are left to the result codes
    seen = []

    @jax.jit
    def traced(t):
        kernel.check_positive_scalar(t, "t")  # no error on a tracer
        seen.append(kernel.is_concrete(t))
        return t

    assert float(traced(-1.0)) == -1.0 and seen == [False]
    assert kernel.is_concrete(jnp.ones(2)) and kernel.is_concrete(1.0)
