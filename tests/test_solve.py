"""Conformance of every normal-form solver with the solve() contract (STYLE.md).

For each solver: it converges on an oracle game, a second call on a new same-shaped game does
not recompile, solving a stacked batch equals a Python loop over its members, it runs inside a
user's jax.jit with throw=False, and it keeps float32. Plus the entry point's own validation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import solvers
from socialign.solvers import NormalFormGame, Result
from socialign.solvers._solve import _run

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])

# (solver, max_steps, tol) on a 3x3 zero-sum game with a unique interior equilibrium (RPS-like)
SOLVERS = [
    (solvers.ZeroSumLP(), 100, 1e-9),
    (solvers.ZeroSumLP("interior_point"), 100, 1e-9),
    (solvers.RegretMatchingPlus(), 20_000, 1e-2),
    (solvers.RegretMatching(), 20_000, 3e-2),
    (solvers.OptimisticHedge(0.1), 20_000, 1e-4),
    (solvers.Hedge(0.05), 20_000, 3e-2),
    (solvers.FictitiousPlay(), 20_000, 3e-2),
    (solvers.LemkeHowson(), 100, 1e-9),
    (solvers.SupportEnumeration(), 10, 1e-9),
    (solvers.LogitQRE(homotopy=True), 2_000, 1e-6),
]
IDS = [f"{type(s).__name__}-{k}" for k, (s, _, _) in enumerate(SOLVERS)]


def _rps_like(seed, batch=None):
    rng = np.random.default_rng(seed)
    shape = (3, 3) if batch is None else (batch, 3, 3)
    # a perturbed RPS keeps a unique, fully mixed equilibrium
    return NormalFormGame.zero_sum(RPS + 0.1 * rng.uniform(-1, 1, size=shape))


# superseded in the default suite by tests/test_conformance.py (one suite over every solver and
# designer); kept as a slow cross-check
@pytest.mark.slow
@pytest.mark.parametrize("solver, max_steps, tol", SOLVERS, ids=IDS)
def test_solver_conformance(solver, max_steps, tol):
    g1, g2 = _rps_like(1), _rps_like(2)
    eq = solvers.solve(g1, solver, max_steps=max_steps, tol=tol)
    assert int(eq.result) == Result.CONVERGED
    assert float(eq.certificate) <= tol
    assert isinstance(eq.strategies, tuple) and len(eq.strategies) == 2
    for s in eq.strategies:
        assert float(s.sum()) == pytest.approx(1.0, abs=1e-9) and float(s.min()) >= 0

    # no retrace: a new same-shaped game reuses the compiled loop
    before = _run._cache_size()
    solvers.solve(g2, solver, max_steps=max_steps, tol=tol, throw=False)
    assert _run._cache_size() == before

    # a stacked batch equals a Python loop over its members
    batch = _rps_like(3, batch=3)
    eqb = solvers.solve(batch, solver, max_steps=max_steps, tol=tol, throw=False)
    assert eqb.nash_conv.shape == (3,) and eqb.result.shape == (3,)
    for k in range(3):
        one = solvers.solve(batch[k], solver, max_steps=max_steps, tol=tol, throw=False)
        assert int(one.result) == int(eqb.result[k])
        for a, b in zip(one.strategies, eqb.strategies):
            np.testing.assert_allclose(a, b[k], rtol=1e-7, atol=1e-9)

    # inside a user's jit, with throw=False
    jitted = jax.jit(lambda g: solvers.solve(g, solver, max_steps=max_steps, tol=tol,
                                             throw=False).nash_conv)
    assert float(jitted(g1)) == pytest.approx(float(eq.nash_conv), abs=1e-9)


@pytest.mark.slow  # superseded in the default suite by tests/test_conformance.py (float32)
@pytest.mark.parametrize("solver, max_steps, tol", [SOLVERS[0], SOLVERS[2]], ids=IDS[:1] + IDS[2:3])
def test_float32_is_kept(solver, max_steps, tol):
    g = NormalFormGame.zero_sum(jnp.asarray(RPS + 0.05, jnp.float32))
    eq = solvers.solve(g, solver, max_steps=max_steps, tol=max(tol, 1e-5), throw=False)
    assert eq.strategies[0].dtype == jnp.float32 and eq.nash_conv.dtype == jnp.float32
    assert int(eq.result) == Result.CONVERGED


def test_vmap_of_solve_equals_auto_batching():
    batch = _rps_like(4, batch=6)  # the batch shape of test_chunked_batch_equals_full_vmap
    auto = solvers.solve(batch, solvers.ZeroSumLP(), throw=False)
    vm = jax.vmap(lambda g: solvers.solve(g, solvers.ZeroSumLP(), throw=False))(batch)
    np.testing.assert_allclose(auto.values, vm.values, atol=1e-12)
    np.testing.assert_array_equal(auto.result, vm.result)


def test_max_steps_reached_is_reported_and_thrown():
    g = _rps_like(5)
    eq = solvers.solve(g, solvers.RegretMatching(), max_steps=3, tol=1e-12, throw=False)
    assert int(eq.result) == Result.MAX_STEPS_REACHED
    assert int(eq.stats["num_steps"]) == 3
    assert float(eq.nash_conv) > 1e-12  # the certificate is computed whatever the result
    with pytest.raises(RuntimeError, match="max_steps reached"):
        solvers.solve(g, solvers.RegretMatching(), max_steps=3, tol=1e-12)


def test_solve_validates_its_arguments():
    g = _rps_like(6)
    with pytest.raises(TypeError, match="solver must be a socialign.solvers.Solver instance"):
        solvers.solve(g, "regret_matching")
    with pytest.raises(TypeError, match="solver must be"):
        solvers.solve(g, solvers.RegretMatching)
    with pytest.raises(ValueError, match="max_steps"):
        solvers.solve(g, solvers.RegretMatching(), max_steps=0)
    with pytest.raises(ValueError, match="tol"):
        solvers.solve(g, solvers.RegretMatching(), tol=-1.0)
    with pytest.raises(ValueError, match="tol"):
        solvers.solve(g, solvers.RegretMatching(), tol=float("nan"))
    with pytest.raises(ValueError, match="check_every"):
        solvers.solve(g, solvers.RegretMatching(), check_every=0)
    with pytest.raises(TypeError, match="throw"):
        solvers.solve(g, solvers.RegretMatching(), throw="yes")
    with pytest.raises(TypeError, match="ZeroSumLP solves NormalFormGame"):
        solvers.solve(np.eye(2), solvers.ZeroSumLP())


def test_result_messages():
    assert "converged" in solvers.result_message(0)
    assert Result.INFEASIBLE.message == solvers.result_message(jnp.asarray(3))


def test_public_api_has_docstrings():
    for name in solvers.__all__:
        obj = getattr(solvers, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"solvers.{name} has no docstring"


def test_chunked_batch_equals_full_vmap():
    batch = _rps_like(7, batch=6)
    full = solvers.solve(batch, solvers.ZeroSumLP(), throw=False)
    chunked = solvers.solve(batch, solvers.ZeroSumLP(), throw=False, batch_size=4)
    for a, b in zip(full.strategies, chunked.strategies):
        np.testing.assert_allclose(a, b, atol=1e-14)
    np.testing.assert_array_equal(full.result, chunked.result)
    with pytest.raises(ValueError, match="batch_size"):
        solvers.solve(batch, solvers.ZeroSumLP(), batch_size=0)


def test_lockstep_batch_equals_vmapped_chunks_and_empty_batches_work():
    """A batched solve on one device runs in lockstep (kernel.iterate_lockstep); chunks
    (batch_size) run vmap(iterate): every game's steps, result and answer agree; a batch of no
    games gives empty answers."""
    rng = np.random.default_rng(3)
    rps = RPS + 0.1 * rng.uniform(-1, 1, size=(5, 3, 3))
    pure = np.array([[[3.0, 2.0, 4.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    # the slots test's batch and settings (its unpooled solve is this compiled program); other
    # schedules are checked on the kernel's own loop (test_kernel)
    batch = NormalFormGame.zero_sum(np.concatenate([rps[:2], pure, rps[2:]]))
    kw = dict(tol=1e-5, max_steps=550, throw=False)
    lock = solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), **kw)
    chunks = solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), batch_size=4, **kw)
    assert len(set(np.asarray(lock.stats["num_steps"]).tolist())) >= 4
    np.testing.assert_array_equal(lock.stats["num_steps"], chunks.stats["num_steps"])
    np.testing.assert_array_equal(lock.result, chunks.result)
    for a, b in zip(lock.strategies, chunks.strategies):
        np.testing.assert_allclose(a, b, atol=1e-12)
    empty = solvers.solve(NormalFormGame.zero_sum(np.zeros((0, 3, 3))),
                          solvers.RegretMatchingPlus(), max_steps=10, throw=False)
    assert empty.result.shape == (0,) and empty.strategies[0].shape == (0, 3)
    empty = solvers.solve(NormalFormGame.zero_sum(np.zeros((0, 2, 2))), solvers.ZeroSumLP())
    assert empty.values.shape == (0, 2)


def test_slots_give_each_game_its_own_run():
    """slots: games iterate a few at a time, refilled as they stop; every game takes the steps
    and gets the result it gets alone (a pure-equilibrium game stops at the first checks, the
    perturbed RPS games take thousands of steps, one runs out of steps)."""
    rng = np.random.default_rng(3)
    rps = RPS + 0.1 * rng.uniform(-1, 1, size=(5, 3, 3))
    pure = np.array([[[3.0, 2.0, 4.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])    # a dominant row
    batch = NormalFormGame.zero_sum(np.concatenate([rps[:2], pure, rps[2:]]))
    kw = dict(tol=1e-5, max_steps=550, throw=False)
    full = solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), **kw)
    pooled = solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), slots=2, batch_size=4,
                           **kw)
    steps = np.asarray(full.stats["num_steps"])
    assert steps.min() < 400 and steps.max() == 550 and len(set(steps.tolist())) >= 4
    assert {int(r) for r in full.result} == {Result.CONVERGED, Result.MAX_STEPS_REACHED}
    np.testing.assert_array_equal(pooled.stats["num_steps"], steps)
    np.testing.assert_array_equal(pooled.result, full.result)
    for a, b in zip(full.strategies, pooled.strategies):
        np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(pooled.nash_conv, full.nash_conv, atol=1e-9)
    # on a one-device mesh, and the argument's validation
    meshed = solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), slots=2,
                           mesh=jax.devices()[:1], **kw)
    np.testing.assert_array_equal(meshed.stats["num_steps"], steps)
    for bad in (0, -1, 2.5, True):
        with pytest.raises((ValueError, TypeError), match="slots"):
            solvers.solve(batch, solvers.PredictiveRegretMatchingPlus(), slots=bad)


# -- issue 8: dynamic hyperparameters, throw that works, gradients refused where undefined --
def test_new_learning_rates_do_not_recompile():
    g = _rps_like(8)
    solvers.solve(g, solvers.Hedge(0.05), max_steps=50, throw=False)
    before = _run._cache_size()
    nash_convs = [float(solvers.solve(g, solvers.Hedge(lr), max_steps=50, throw=False).nash_conv)
                  for lr in (0.01, 0.2, 0.7)]
    assert _run._cache_size() == before
    assert len(set(nash_convs)) == 3  # the rates are really used, not frozen at compile time
    # a learning rate is a pytree leaf; code-path settings are static
    assert jax.tree_util.tree_leaves(solvers.Hedge(0.3)) == [0.3]
    assert jax.tree_util.tree_leaves(solvers.RegretMatchingPlus(linear_averaging=False)) == []


def test_vmap_over_learning_rates_equals_loop():
    g = _rps_like(9)
    rates = jnp.array([0.02, 0.1, 0.4])
    fn = lambda lr: solvers.solve(g, solvers.Hedge(lr), max_steps=50, throw=False)  # noqa: E731
    batched = jax.vmap(fn)(rates)
    for k, lr in enumerate(rates):
        one = fn(float(lr))
        np.testing.assert_allclose(batched.strategies[0][k], one.strategies[0], atol=1e-12)
        assert float(batched.nash_conv[k]) == pytest.approx(float(one.nash_conv), abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "fast", True])
def test_float_settings_are_validated_at_construction(bad):
    with pytest.raises((TypeError, ValueError), match="learning_rate"):
        solvers.Hedge(bad)
    with pytest.raises((TypeError, ValueError), match="step_size"):
        solvers.ReplicatorDynamics(bad)


def test_throw_inside_jit_raises_at_run_time():
    g = _rps_like(5)
    fn = jax.jit(lambda g: solvers.solve(g, solvers.RegretMatching(), max_steps=3,
                                         tol=1e-12).nash_conv)
    with pytest.raises(Exception, match="RegretMatching did not converge") as info:
        jax.block_until_ready(fn(g))
    assert isinstance(info.value, RuntimeError)
    # under vmap too
    batch = _rps_like(5, batch=2)
    vm = jax.vmap(lambda g: solvers.solve(g, solvers.RegretMatching(), max_steps=3,
                                          tol=1e-12).nash_conv)
    with pytest.raises(Exception, match="RegretMatching did not converge"):
        jax.block_until_ready(vm(batch))


def test_throw_false_never_raises_and_converged_runs_do_not_raise():
    g = _rps_like(5)
    batch = _rps_like(5, batch=2)
    quiet = lambda g: solvers.solve(g, solvers.RegretMatching(), max_steps=3,  # noqa: E731
                                    tol=1e-12, throw=False).result
    assert int(jax.jit(quiet)(g)) == Result.MAX_STEPS_REACHED
    np.testing.assert_array_equal(jax.vmap(quiet)(batch), [Result.MAX_STEPS_REACHED] * 2)
    # throw=True on answers that converge stays silent inside jit
    ok = jax.jit(lambda g: solvers.solve(g, solvers.SupportEnumeration()).nash_conv)
    assert float(jax.block_until_ready(ok(g))) <= 1e-6


def test_solvers_without_optimality_conditions_refuse_gradients():
    A = jnp.asarray(_rps_like(10).payoffs[0])

    def value(A, solver):
        return solvers.solve(NormalFormGame.zero_sum(A), solver, max_steps=20,
                             throw=False).values[0]

    with pytest.raises(TypeError, match="RegretMatching defines no optimality conditions"):
        jax.grad(value)(A, solvers.RegretMatching())
