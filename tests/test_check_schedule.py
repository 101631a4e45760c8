"""Tests for the kernel's check schedule (kernel/_iterate.py: ``GeometricChecks``) and its use as
the default of the no-regret dynamics and CFR in ``solvers.solve``.

Checks are counted, never timed (the timings are in benchmarks/): the schedule checks
``O(log T)`` times in ``T`` steps, at most 10% of the steps from ``T = 1,000`` on, ``iterate``
checks exactly where the schedule says (so a run stops at the first check after it met ``tol``,
at most ``ratio`` of its length late), and the same holds under ``jit`` and ``vmap``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import kernel, solvers
from socialign.kernel import GeometricChecks, IterativeSolver, Result, iterate, pytree_dataclass

KEY = jax.random.key(0)


@pytree_dataclass
class CountTo(IterativeSolver):
    """State = number of steps taken; converged once it reaches the target (the problem)."""

    def init(self, target, key):
        return jnp.zeros((), jnp.int32)

    def step(self, target, count):
        return count + 1

    def terminate(self, target, count, tol):
        return count >= target, jnp.int32(Result.CONVERGED), (target - count).astype(jnp.float32)


def _first_check_at_or_after(checks, s):
    return next(c for c in checks if c >= s)


@pytest.mark.parametrize("ratio", [0.125, 0.25, 1.0])
def test_number_of_checks_is_logarithmic(ratio):
    schedule = GeometricChecks(ratio)
    for T in (10, 1_000, 100_000, 10_000_000):
        checks = schedule.check_steps(T)
        assert checks == sorted(set(checks)) and checks[-1] == T
        # gap 1 until s >= 2 / ratio (at most 2 / ratio checks); from there each check
        # multiplies s by at least 1 + ratio - 1 / s >= 1 + ratio / 2
        bound = 2 / ratio + math.log(max(ratio * T / 2, 1)) / math.log1p(ratio / 2) + 1
        assert len(checks) <= bound, (ratio, T, len(checks), bound)
        if T >= 1_000:
            assert len(checks) <= 0.1 * T
    # the default: 53 checks in 1,000 steps, 92 in 100,000
    assert len(GeometricChecks().check_steps(1_000)) == 53
    assert len(GeometricChecks().check_steps(100_000)) == 92


def test_gaps_grow_geometrically_and_respect_the_cap():
    checks = GeometricChecks().check_steps(10_000)
    assert checks[:16] == list(range(1, 17))  # early convergence is seen at once
    gaps = np.diff([0, *checks])
    steps_before = np.array([0, *checks[:-1]])
    # gap = max(1, floor(s / 8)) except the last, cut at max_steps
    np.testing.assert_array_equal(gaps[:-1], np.maximum(1, steps_before[:-1] // 8))
    capped = GeometricChecks(0.5, max_gap=100).check_steps(10_000)
    assert max(np.diff([0, *capped])) == 100
    assert len(capped) < 130


def test_iterate_checks_where_the_schedule_says_under_vmap_and_jit():
    # a run that meets tol at step s stops at the first check >= s: at most ratio * s late
    schedule = GeometricChecks()
    max_steps = 500
    checks = schedule.check_steps(max_steps)
    # targets 1..400 (met within the budget) and 10,000 (never met); one compiled program
    targets = jnp.concatenate([jnp.arange(1, 401), jnp.array([10_000])]).astype(jnp.int32)
    run = jax.jit(jax.vmap(lambda t: iterate(CountTo(), t, 0.0, KEY, max_steps=max_steps,
                                             check_every=schedule)))
    it = run(targets)
    stops = np.asarray(it.num_steps)[:-1]
    expected = [_first_check_at_or_after(checks, int(s)) for s in targets[:-1]]
    np.testing.assert_array_equal(stops, expected)
    assert stops[136] == 144  # met at step 137, seen at the check after step 144
    assert np.all(stops <= np.asarray(targets[:-1]) * 1.125 + 1)
    assert np.all(np.asarray(it.result)[:-1] == Result.CONVERGED)
    # the budget's end is always checked; an unmet target reports MAX_STEPS_REACHED
    assert int(it.num_steps[-1]) == max_steps
    assert int(it.result[-1]) == Result.MAX_STEPS_REACHED


def test_solve_counts_checks_of_a_real_run():
    # count the certificate evaluations of a real solve (a callback in terminate): the initial
    # check plus one per scheduled check, at most 10% of a 1,000-step run
    calls = []

    @pytree_dataclass
    class CountedRMPlus(solvers.RegretMatchingPlus):
        def terminate(self, game, state, tol):
            jax.debug.callback(lambda: calls.append(1))
            return super().terminate(game, state, tol)

    game = solvers.NormalFormGame.zero_sum([[0.0, -0.25, 0.5], [0.25, 0.0, -0.05],
                                            [-0.5, 0.05, 0.0]])
    eq = solvers.solve(game, CountedRMPlus(), max_steps=1_000, tol=0.0, throw=False)
    jax.block_until_ready(eq.nash_conv)
    assert int(eq.stats["num_steps"]) == 1_000
    assert len(calls) == 1 + len(GeometricChecks().check_steps(1_000)) == 54
    assert len(calls) <= 0.1 * 1_000


def test_default_schedules():
    for solver in (solvers.RegretMatching(), solvers.RegretMatchingPlus(),
                   solvers.PredictiveRegretMatchingPlus(), solvers.Hedge(),
                   solvers.OptimisticHedge(), solvers.FictitiousPlay(),
                   solvers.ReplicatorDynamics(), solvers.CFR(), solvers.CFRPlus(),
                   solvers.PredictiveCFRPlus(), solvers.DiscountedCFR(), solvers.MCCFR()):
        assert solver.default_check_every == GeometricChecks(), solver
    # the LP family keeps its own (cheap, exact) per-step certificates
    assert solvers.ZeroSumLP().default_check_every != GeometricChecks()


def test_geometric_stop_is_close_to_the_every_step_stop():
    # the default schedule stops within 12.5% (+1) of the first step at which tol is met
    game = solvers.NormalFormGame.zero_sum([[0.0, -0.25, 0.5], [0.25, 0.0, -0.05],
                                            [-0.5, 0.05, 0.0]])
    solver = solvers.PredictiveRegretMatchingPlus()
    every = solvers.solve(game, solver, max_steps=3_000, tol=1e-6, check_every=1)
    geo = solvers.solve(game, solver, max_steps=3_000, tol=1e-6)
    s1, s = int(every.stats["num_steps"]), int(geo.stats["num_steps"])
    assert s in GeometricChecks().check_steps(3_000)
    assert s1 <= s <= 1.125 * s1 + 1
    assert float(geo.nash_conv) <= 1e-6


def test_validation():
    for bad in (0, -3, 1.5, "geometric", True, None):
        with pytest.raises(ValueError, match="check_every"):
            kernel.as_check_schedule(bad)
    assert kernel.as_check_schedule(np.int64(7)) == 7
    for ratio in (0.0, -0.1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="ratio"):
            GeometricChecks(ratio)
    for cap in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="max_gap"):
            GeometricChecks(0.5, max_gap=cap)
    with pytest.raises(ValueError, match="check_every"):
        iterate(CountTo(), jnp.int32(3), 0.0, KEY, max_steps=10, check_every=0)
    game = solvers.NormalFormGame.zero_sum([[1.0, -1.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match="check_every"):
        solvers.solve(game, solvers.RegretMatchingPlus(), check_every="sometimes")
    # hashable and comparable: a static argument of the jitted solve
    assert hash(GeometricChecks(0.25)) == hash(GeometricChecks(0.25))
    assert GeometricChecks(0.25) != GeometricChecks(0.125)
