"""Tests for solvers/_lemke_howson.py: Lemke-Howson with lexicographic pivoting, in JAX.

nashpy's Lemke-Howson (integer pivoting, the same labels) runs side by side on random
nondegenerate games: the same initial label must give the same equilibrium. Degenerate games
with duplicate payoff columns, on which nashpy's non-lexicographic pivoting returns garbage, must
either be solved (certified) or reported as not converged.

Default-suite cost: the oracles, the nashpy comparison on one batch of 4x5 games (every label)
and the degenerate game; the hypothesis batch-equals-loop checks and float32 are slow.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nashpy.algorithms.lemke_howson import lemke_howson as nashpy_lemke_howson
from socialign import solvers
from socialign.solvers import Result

RPS = solvers.NormalFormGame.zero_sum([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
MP = solvers.NormalFormGame.zero_sum([[1.0, -1.0], [-1.0, 1.0]])
G23 = solvers.NormalFormGame.zero_sum([[2.0, 1.0, 5.0], [-3.0, -4.0, -2.0]])
ALL_LABELS = solvers.LemkeHowson(initial_label=None)
BATCH = 6  # shared batch size of the random 4x5 games (one compile)

# degenerate: columns 0 and 1 of A are identical; nashpy without lexicographic pivoting
# returns NaN or wrongly shaped vectors on it
DEGENERATE_A = np.array([[2.0, 2.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
DEGENERATE_B = np.array([[1.0, 2.0, 2.0], [2.0, 0.0, 2.0], [0.0, 1.0, 0.0]])


def _run_all_labels(games, pivots=60):
    """Every label's Lemke-Howson path, run to its end (init/step are public and pure)."""

    def run(g):
        state = ALL_LABELS.init(g, None)
        state = jax.lax.fori_loop(0, pivots, lambda _, s: ALL_LABELS.step(g, s), state)
        return state, ALL_LABELS.strategies_per_label(g, state)

    return jax.jit(jax.vmap(run))(games)


def test_oracles():
    # (matching pennies is checked label by label with battle of the sexes below)
    for game in (G23, RPS):
        eq = solvers.solve(game, ALL_LABELS, tol=1e-12)
        assert int(eq.result) == Result.CONVERGED
        if game is G23:
            np.testing.assert_allclose(np.asarray(eq.strategies[0]), [1, 0], atol=1e-12)
            np.testing.assert_allclose(np.asarray(eq.strategies[1]), [0, 1, 0], atol=1e-12)
            np.testing.assert_allclose(float(eq.values[0]), 1.0, atol=1e-12)
            continue
        for s in eq.strategies:
            np.testing.assert_allclose(np.asarray(s), np.full(s.shape, 1 / s.shape[0]),
                                       atol=1e-12)
        np.testing.assert_allclose(np.asarray(eq.values), 0.0, atol=1e-12)


def test_battle_of_the_sexes_and_matching_pennies_labels_match_nashpy():
    A = np.array([[3.0, 0.0], [0.0, 2.0]])
    B = np.array([[2.0, 0.0], [0.0, 3.0]])
    mp = np.asarray(MP.payoffs)
    games = solvers.NormalFormGame(np.stack([np.stack([A, B]), mp]), 2)
    state, (xs, ys) = _run_all_labels(games)
    assert np.all(np.asarray(state.done))
    for k, (a, b) in enumerate([(A, B), (mp[0], mp[1])]):
        for label in range(4):
            x, y = nashpy_lemke_howson(a, b, label)
            np.testing.assert_allclose(np.asarray(xs[k, label]), x, atol=1e-12)
            np.testing.assert_allclose(np.asarray(ys[k, label]), y, atol=1e-12)
    np.testing.assert_allclose(np.asarray(xs[1]), 0.5, atol=1e-12)  # MP oracle, every label
    np.testing.assert_allclose(np.asarray(ys[1]), 0.5, atol=1e-12)


def test_random_nondegenerate_games_match_nashpy_for_every_label():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(BATCH, 4, 5))
    B = rng.normal(size=(BATCH, 4, 5))
    games = solvers.NormalFormGame.from_bimatrix(A, B)
    state, (xs, ys) = _run_all_labels(games)
    assert np.all(np.asarray(state.done))
    for k in range(BATCH):
        for label in range(9):
            x, y = nashpy_lemke_howson(A[k], B[k], label)
            np.testing.assert_allclose(np.asarray(xs[k, label]), x, atol=1e-9)
            np.testing.assert_allclose(np.asarray(ys[k, label]), y, atol=1e-9)
    eq = solvers.solve(games, ALL_LABELS, tol=1e-10)
    assert np.all(np.asarray(eq.relative_nash_conv) <= 1e-10)


def test_degenerate_game_that_breaks_nashpy():
    m, n = DEGENERATE_A.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        broken = 0
        for label in range(m + n):
            x, y = nashpy_lemke_howson(DEGENERATE_A, DEGENERATE_B, label, lexicographic=False)
            broken += x.shape != (m,) or y.shape != (n,) or not np.all(np.isfinite(x))
    assert broken >= 3  # the reference really fails on this game
    g = solvers.NormalFormGame.from_bimatrix(DEGENERATE_A, DEGENERATE_B)
    # with lexicographic pivoting every label's path ends at a certified equilibrium
    state, (xs, ys) = _run_all_labels(solvers.stack([g]))
    assert np.all(np.asarray(state.done)) and not np.any(np.asarray(state.failed))
    for label in range(m + n):
        conv = float(solvers.nash_conv(g, (xs[0, label], ys[0, label])))
        assert conv <= 1e-9
    eq = solvers.solve(g, ALL_LABELS, tol=1e-9)
    assert float(eq.relative_nash_conv) <= 1e-9
    conv = np.asarray(eq.stats["nash_conv_per_label"])
    fin = np.asarray(eq.stats["finished_per_label"])
    assert np.all(conv[fin] <= 1e-9)


@pytest.mark.slow  # degenerate pivoting runs by default in test_degenerate_game_that_breaks_nashpy
@settings(max_examples=6)
@given(seed=st.integers(0, 2**31 - 1))
def test_duplicate_columns_never_wrong(seed):
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 3, size=(4, 3, 3)).astype(float)
    B = rng.integers(0, 3, size=(4, 3, 3)).astype(float)
    A[:, :, 1] = A[:, :, 0]  # duplicate payoff columns (degenerate)
    B[:, :, 1] = B[:, :, 0]
    games = solvers.NormalFormGame.from_bimatrix(A, B)
    eq = solvers.solve(games, ALL_LABELS, tol=1e-9, throw=False)
    codes = np.asarray(eq.result)
    conv = np.asarray(eq.relative_nash_conv)
    assert np.all(conv[codes == Result.CONVERGED] <= 1e-9)
    assert np.all(codes == Result.CONVERGED)  # lexicographic pivoting: no failures observed
    for k in range(2):  # the stacked solve equals solving members one by one
        one = solvers.solve(games[k], ALL_LABELS, tol=1e-9, throw=False)
        assert int(one.result) == codes[k]
        for a, b in zip(eq.strategies, one.strategies):
            np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b), atol=1e-12)


@pytest.mark.slow  # the batched paths run by default in the nashpy comparison per label
@settings(max_examples=6)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_games_certified_and_batch_equals_loop(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(BATCH, 4, 5))
    B = rng.normal(size=(BATCH, 4, 5))
    eq = solvers.solve(solvers.NormalFormGame.from_bimatrix(A, B), ALL_LABELS, tol=1e-10,
                       throw=False)
    codes = np.asarray(eq.result)
    assert np.all(codes == Result.CONVERGED)
    assert np.all(np.asarray(eq.relative_nash_conv) <= 1e-10)
    for k in range(2):
        one = solvers.solve(solvers.NormalFormGame.from_bimatrix(A[k], B[k]), ALL_LABELS,
                            tol=1e-10, throw=False)
        assert int(one.result) == codes[k]
        np.testing.assert_allclose(np.asarray(one.strategies[0]),
                                   np.asarray(eq.strategies[0][k]), atol=1e-12)


@pytest.mark.slow  # float32 runs in test_conformance's default set
def test_float32():
    rng = np.random.default_rng(2)
    A = jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)
    B = jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)
    eq = solvers.solve(solvers.NormalFormGame.from_bimatrix(A, B), solvers.LemkeHowson(3),
                       tol=1e-4)
    assert float(eq.relative_nash_conv) <= 1e-4
    assert eq.strategies[0].dtype == jnp.float32
    x, y = nashpy_lemke_howson(np.asarray(A, float), np.asarray(B, float), 3)
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), x, atol=1e-4)
    np.testing.assert_allclose(np.asarray(eq.strategies[1]), y, atol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="initial_label"):
        solvers.LemkeHowson(-1)
    with pytest.raises(ValueError, match="initial_label"):
        solvers.LemkeHowson(True)
    with pytest.raises(ValueError, match="initial_label"):
        solvers.solve(G23, solvers.LemkeHowson(5))
    three = solvers.NormalFormGame(np.zeros((3, 2, 2, 2)), 3)
    with pytest.raises(ValueError, match="two-player"):
        solvers.solve(three, solvers.LemkeHowson(0))
