"""ZeroSumLP, CorrelatedEquilibrium and CoarseCorrelatedEquilibrium: oracles and references.

Default-suite cost: one small case per behaviour, shapes shared (3x3 zero-sum games for both
methods); the second method's copies, float32, the finite-difference gradients and the larger
hypothesis runs are marked slow.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import given, settings
from hypothesis import strategies as st
from socialign import solvers
from socialign.kernel import Iteration, iterate
from socialign.solvers import NormalFormGame, Result

RPS = [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]
METHODS = ["simplex", "interior_point"]


def highs_value(A):
    m, n = A.shape
    c = np.r_[np.zeros(m), -1.0]
    res = so.linprog(c, np.c_[-A.T, np.ones(n)], np.zeros(n), np.r_[np.ones(m), 0.0][None], [1.0],
                     bounds=[(0, None)] * m + [(None, None)], method="highs")
    return -res.fun


@pytest.mark.parametrize("method", ["simplex", pytest.param("interior_point",
                                                              marks=pytest.mark.slow)])
def test_oracles(method):
    solver = solvers.ZeroSumLP(method)
    solve = functools.partial(solvers.solve, tol=1e-10)
    eq = solve(NormalFormGame.zero_sum(RPS), solver)
    for s in eq.strategies:
        np.testing.assert_allclose(s, np.ones(3) / 3, atol=1e-8)
    assert float(eq.values[0]) == pytest.approx(0.0, abs=1e-9)
    eq = solve(NormalFormGame.zero_sum([[1.0, -1.0], [-1.0, 1.0]]), solver)
    for s in eq.strategies:
        np.testing.assert_allclose(s, [0.5, 0.5], atol=1e-8)
    eq = solve(NormalFormGame.zero_sum([[2.0, 1.0, 5.0], [-3.0, -4.0, -2.0]]), solver)
    np.testing.assert_allclose(eq.strategies[0], [1.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(eq.strategies[1], [0.0, 1.0, 0.0], atol=1e-8)
    assert float(eq.values[0]) == pytest.approx(1.0, abs=1e-9)
    assert int(eq.result) == Result.CONVERGED and float(eq.certificate) <= 1e-10


def _check_value_against_highs(method, seed, shape):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=shape)
    eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP(method))
    assert float(eq.values[0]) == pytest.approx(highs_value(A), abs=1e-6)
    # NashConv sums both players' best-response gains, each within tol = 1e-6 of the payoff
    # range (the scale-free rule); the interior point ends at up to that bound
    assert int(eq.result) == Result.CONVERGED
    assert float(eq.nash_conv) <= 2e-6 * float(np.ptp(A))


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=5)
@given(seed=st.integers(0, 100_000))
def test_value_agrees_with_highs(method, seed):
    _check_value_against_highs(method, seed, (3, 3))  # the oracle shape: compiled once


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
@given(seed=st.integers(0, 100_000))
def test_value_agrees_with_highs_5x7(method, seed):
    _check_value_against_highs(method, seed, (5, 7))


def test_batch_of_games_and_constant_sum():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(8, 3, 3))
    eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP())
    assert eq.values.shape == (8, 2)
    assert np.all(np.asarray(eq.result) == Result.CONVERGED)
    assert float(eq.nash_conv.max()) < 1e-9
    for k in range(0, 8, 3):
        assert float(eq.values[k, 0]) == pytest.approx(highs_value(A[k]), abs=1e-9)
    const = NormalFormGame.from_bimatrix(np.array(RPS), 5.0 - np.array(RPS))
    eqc = solvers.solve(const, solvers.ZeroSumLP())
    np.testing.assert_allclose(eqc.strategies[0], np.ones(3) / 3, atol=1e-8)


@pytest.mark.parametrize("method", ["simplex", pytest.param("interior_point",
                                                              marks=pytest.mark.slow)])
def test_degenerate_games_are_solved_or_flagged(method):
    # duplicate columns and rows, dominated strategies, a constant game
    games = [
        np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        np.array([[3.0, 3.0], [3.0, 3.0]]),
        np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]]),
    ]
    for A in games:
        eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP(method), throw=False)
        # the result says what the certificate (the game's gap) says, whichever test stopped
        # the loop
        assert (int(eq.result) == Result.CONVERGED) == (float(eq.certificate) <= 1e-6)
        assert float(eq.certificate) == pytest.approx(
            float(solvers.relative_nash_conv(NormalFormGame.zero_sum(A), eq.strategies)),
            abs=1e-12)
        if int(eq.result) == Result.CONVERGED:
            assert float(eq.nash_conv) <= 1e-6
            assert float(eq.values[0]) == pytest.approx(highs_value(A), abs=1e-6)


def test_simplex_result_and_certificate_come_from_the_game_gap_after_the_loop():
    # the loop stops on the simplex's own test (certificate: the reduced costs' infeasibility);
    # certify() then measures the game's duality gap once and decides the result from it
    rng = np.random.default_rng(3)
    game = NormalFormGame.zero_sum(rng.normal(size=(3, 3)))
    solver = solvers.ZeroSumLP()
    gap = lambda eq: float(solvers.relative_nash_conv(game, eq.strategies))  # noqa: E731
    short = solvers.solve(game, solver, max_steps=1, check_every=1, throw=False)
    assert int(short.result) == Result.MAX_STEPS_REACHED
    assert float(short.certificate) == pytest.approx(gap(short), rel=1e-9) and gap(short) > 1e-3
    exact = solvers.solve(game, solver, tol=0.0, throw=False)   # the gap at rounding level
    assert float(exact.certificate) == pytest.approx(gap(exact), abs=1e-15)
    want = Result.CONVERGED if float(exact.certificate) == 0.0 else \
        Result.CERTIFICATE_ABOVE_TOLERANCE
    assert int(exact.result) == want
    # in the kernel's loop alone: the simplex's claim, then certify() on it
    it = iterate(solver, game, 1e-9, jax.random.key(0), max_steps=50)
    assert int(it.result) == Result.CONVERGED and float(it.certificate) == 0.0
    out = solver.certify(game, it, 1e-9)
    assert int(out.result) == Result.CONVERGED and 0.0 <= float(out.certificate) <= 1e-9
    # a loop that ran out of steps on an answer within tol is CONVERGED after certify, as when
    # the gap was checked in the loop; a non-finite loop stays NONFINITE
    late = Iteration(it.state, it.num_steps, jnp.int32(Result.MAX_STEPS_REACHED), it.certificate)
    assert int(solver.certify(game, late, 1e-9).result) == Result.CONVERGED
    bad = Iteration(it.state, it.num_steps, jnp.int32(Result.NONFINITE), it.certificate)
    assert int(solver.certify(game, bad, 1e-9).result) == Result.NONFINITE


def test_zero_sum_solver_rejects_general_sum():
    g = NormalFormGame.from_bimatrix([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="zero-sum"):
        solvers.solve(g, solvers.ZeroSumLP())
    with pytest.raises(ValueError, match="two-player"):
        solvers.solve(NormalFormGame(np.zeros((3, 2, 2, 2)), num_players=3), solvers.ZeroSumLP())
    with pytest.raises(ValueError, match="method"):
        solvers.ZeroSumLP("dual")


def _ce_reference(payoffs, coarse):
    """HiGHS: maximise welfare over the (coarse) correlated equilibrium polytope."""
    n = payoffs.shape[0]
    shape = payoffs.shape[1:]
    N = int(np.prod(shape))
    rows = []
    for i in range(n):
        u = np.moveaxis(payoffs[i], i, 0).reshape(shape[i], -1)
        for a in ([None] if coarse else range(shape[i])):
            for b in range(shape[i]):
                if a == b:
                    continue
                row = np.zeros((shape[i], N // shape[i]))
                if a is None:
                    row = u[b][None, :] - u
                else:
                    row[a] = u[b] - u[a]
                full = np.moveaxis(row.reshape(shape[i], *[s for j, s in enumerate(shape) if j != i]),
                                   0, i)
                rows.append(full.reshape(-1))
    welfare = payoffs.reshape(n, -1).sum(0)
    res = so.linprog(-welfare, np.array(rows), np.zeros(len(rows)), np.ones((1, N)), [1.0],
                     bounds=(0, None), method="highs")
    return -res.fun


@pytest.mark.parametrize("coarse,shape", [
    (False, (3, 2, 2, 3)), (True, (2, 3, 3)),
    pytest.param(False, (2, 3, 3), marks=pytest.mark.slow),
    pytest.param(True, (3, 2, 2, 3), marks=pytest.mark.slow)])
def test_correlated_equilibria_match_highs(coarse, shape):
    rng = np.random.default_rng(5 + len(shape))
    cls = solvers.CoarseCorrelatedEquilibrium if coarse else solvers.CorrelatedEquilibrium
    for _ in range(1):
        p = rng.normal(size=shape)
        eq = solvers.solve(NormalFormGame(p, num_players=shape[0]), cls(maximize_welfare=True))
        assert int(eq.result) == Result.CONVERGED
        assert float(eq.values.sum()) == pytest.approx(_ce_reference(p, coarse), abs=1e-6)
        assert float(eq.certificate) <= 1e-6
        assert eq.joint.shape == shape[1:]
        assert float(eq.joint.sum()) == pytest.approx(1.0)
        for s, a in zip(eq.strategies, shape[1:]):
            assert s.shape == (a,)


def test_chicken_correlated_equilibrium():
    chicken = NormalFormGame.from_bimatrix([[6.0, 2.0], [7.0, 0.0]], [[6.0, 7.0], [2.0, 0.0]])
    eq = solvers.solve(chicken, solvers.CorrelatedEquilibrium(maximize_welfare=True))
    np.testing.assert_allclose(eq.joint, [[0.5, 0.25], [0.25, 0.0]], atol=1e-6)
    assert float(eq.values.sum()) == pytest.approx(10.5, abs=1e-6)
    feas = solvers.solve(chicken, solvers.CorrelatedEquilibrium())
    assert float(feas.certificate) <= 1e-6 and int(feas.result) == Result.CONVERGED


@pytest.mark.slow  # float32 is in test_conformance's default set
def test_float32_zero_sum():
    A = jnp.asarray(np.random.default_rng(1).normal(size=(4, 4)), jnp.float32)
    eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP(), tol=1e-5)
    assert eq.strategies[0].dtype == jnp.float32
    assert float(eq.values[0]) == pytest.approx(highs_value(np.asarray(A, np.float64)), abs=1e-5)


def _value(A):
    return solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP()).values[0]


def test_value_gradient_is_the_envelope_theorem():
    import jax

    g = jax.grad(_value)(jnp.array([[4.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(g, np.outer([0.25, 0.75], [0.25, 0.75]), atol=1e-8)


@pytest.mark.slow  # the envelope-theorem gradient above stays in the default set
def test_strategy_gradients_match_central_differences():
    import jax

    A = np.random.default_rng(4).normal(size=(3, 3))  # unique full-support equilibrium
    eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP())
    assert float(jnp.min(eq.strategies[0])) > 0.1 and float(jnp.min(eq.strategies[1])) > 0.01
    w, v = np.array([0.3, -1.0, 0.5]), np.array([1.0, 0.2, -0.4])

    def f(A):
        e = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP())
        return e.strategies[0] @ w + e.strategies[1] @ v

    g = jax.grad(f)(jnp.asarray(A))
    fd = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        E = np.zeros_like(A)
        E[idx] = 1e-6
        fd[idx] = (float(f(A + E)) - float(f(A - E))) / 2e-6
    np.testing.assert_allclose(g, fd, atol=1e-6)


def test_helper_found_edges_uniform_exact_float32_constant_sum_half_precision():
    # uniform play that is an equilibrium exactly stops at once with it, even at tol 0
    for A in (RPS, [[1.0, -1.0], [-1.0, 1.0]], [[3.0, 3.0], [3.0, 3.0]], [[5.0]]):
        eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.ZeroSumLP(), tol=0.0)
        assert int(eq.result) == Result.CONVERGED and float(eq.certificate) == 0.0
        assert int(eq.stats["num_steps"]) == 0 and float(eq.values[0]) == float(np.mean(A))
    # a float32 constant-sum game whose sums spread by an ulp is accepted
    A = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    g = NormalFormGame.from_bimatrix(A, (1 - A).astype(np.float32))
    eq = solvers.solve(g, solvers.ZeroSumLP(), throw=False)
    assert float(eq.values[0]) == pytest.approx(highs_value(A.astype(np.float64)), abs=1e-4)
    # half precision cannot certify anything: refused at the boundary
    with pytest.raises(TypeError, match="float32 or float64"):
        solvers.solve(NormalFormGame.zero_sum(jnp.asarray(RPS, jnp.float16)), solvers.ZeroSumLP())


def test_correlated_settings_are_validated():
    """maximize_welfare='yes' was taken, and lp_tol=-1 ran and came back STALLED (a
    break-tester's finds)."""
    for C in (solvers.CorrelatedEquilibrium, solvers.CoarseCorrelatedEquilibrium):
        with pytest.raises(TypeError, match="maximize_welfare must be a bool"):
            C(maximize_welfare="yes")
        with pytest.raises(ValueError, match="lp_tol"):
            C(lp_tol=-1.0)
