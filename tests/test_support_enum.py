"""Tests for solvers/_support_enum.py: all equilibria of small two-player games.

nashpy runs side by side on random nondegenerate games. Its vertex enumeration returns the
same set as ours; its support enumeration returns a subset (it rejects some equilibria through
its exact-zero tolerance checks), so we check inclusion there and equality with vertex
enumeration.

Default-suite cost: 2x2 and 3x3 games only (a batch of six 3x3 games shared by two tests); the
4x5 comparison with nashpy, the 2x3 oracle and float32 are marked slow.
"""

import warnings

import jax.numpy as jnp
import nashpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from socialign import solvers
from socialign.solvers import Result

BOS = solvers.NormalFormGame.from_bimatrix([[3.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 3.0]])
RPS = solvers.NormalFormGame.zero_sum([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
MP = solvers.NormalFormGame.zero_sum([[1.0, -1.0], [-1.0, 1.0]])
G23 = solvers.NormalFormGame.zero_sum([[2.0, 1.0, 5.0], [-3.0, -4.0, -2.0]])


def _as_list(eqs, k=None):
    x, y = (np.asarray(s) for s in eqs.strategies)
    count = np.asarray(eqs.count)
    if k is not None:
        x, y, count = x[k], y[k], count[k]
    return [(x[i], y[i]) for i in range(int(count))]


def _same_set(ours, ref, atol=1e-8):
    def contains(points, p):
        return any(np.abs(p[0] - q[0]).max() <= atol and np.abs(p[1] - q[1]).max() <= atol
                   for q in points)

    return len(ours) == len(ref) and all(contains(ours, r) for r in ref)


def _np_nash_conv(A, B, x, y):
    return (np.max(A @ y) - x @ A @ y) + (np.max(x @ B) - x @ B @ y)


def test_battle_of_the_sexes_has_three_equilibria():
    eqs = solvers.all_equilibria(BOS)
    assert int(eqs.count) == 3
    expected = [(np.array([1.0, 0.0]), np.array([1.0, 0.0])),
                (np.array([0.0, 1.0]), np.array([0.0, 1.0])),
                (np.array([0.6, 0.4]), np.array([0.4, 0.6]))]
    assert _same_set(_as_list(eqs), expected, atol=1e-12)
    np.testing.assert_allclose(np.asarray(eqs.values[2]), [1.2, 1.2], atol=1e-12)
    valid = np.asarray(eqs.valid)
    assert valid[:3].all() and not valid[3:].any()
    assert np.all(np.asarray(eqs.strategies[0])[3:] == 0)


def test_oracles():
    for game in (RPS, MP):
        eqs = solvers.all_equilibria(game)
        assert int(eqs.count) == 1
        (x, y), = _as_list(eqs)
        np.testing.assert_allclose(x, np.full(x.shape, 1 / x.size), atol=1e-12)
        np.testing.assert_allclose(y, np.full(y.shape, 1 / y.size), atol=1e-12)
        np.testing.assert_allclose(np.asarray(eqs.values[0]), 0.0, atol=1e-12)


@pytest.mark.slow  # a 2x3 shape of its own; pure equilibria are covered by BOS by default
def test_oracle_pure_2x3():
    eqs = solvers.all_equilibria(G23)
    assert int(eqs.count) == 1
    (x, y), = _as_list(eqs)
    np.testing.assert_allclose(x, [1, 0], atol=1e-12)
    np.testing.assert_allclose(y, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(float(eqs.values[0, 0]), 1.0, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), pytest.param((4, 5), marks=pytest.mark.slow)])
def test_random_nondegenerate_games_match_nashpy(shape):
    rng = np.random.default_rng(shape[1])
    P = rng.normal(size=(6, 2, *shape))  # batch of 6: the compile is shared with the test below
    eqs = solvers.all_equilibria(solvers.NormalFormGame(P, 2))
    for k in range(P.shape[0]):
        A, B = P[k]
        ours = _as_list(eqs, k)
        assert len(ours) % 2 == 1  # nondegenerate games have an odd number of equilibria
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vertex = list(nashpy.Game(A, B).vertex_enumeration())
            support = list(nashpy.Game(A, B).support_enumeration())
        assert _same_set(ours, vertex)
        for r in support:  # nashpy's support enumeration finds a subset of ours
            assert any(np.abs(r[0] - p[0]).max() <= 1e-8 and np.abs(r[1] - p[1]).max() <= 1e-8
                       for p in ours)
        np.testing.assert_array_less(np.asarray(eqs.nash_conv[k]), 1e-9)


def test_solver_under_solve_returns_first_equilibrium():
    games = solvers.stack([BOS, MP])  # solve on a stacked game batches automatically
    eq = solvers.solve(games, solvers.SupportEnumeration())
    assert np.all(np.asarray(eq.result) == Result.CONVERGED)
    np.testing.assert_allclose(np.asarray(eq.strategies[0][0]), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(eq.strategies[1][1]), [0.5, 0.5], atol=1e-12)
    np.testing.assert_array_equal(np.asarray(eq.stats["num_equilibria"]), [3, 1])
    np.testing.assert_array_equal(np.asarray(eq.state.count), [3, 1])  # the full lists
    eqs = solvers.SupportEnumeration().enumerate(BOS)
    assert int(eqs.count) == 3


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_games_certified_and_batch_equals_loop(seed):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(6, 2, 3, 3))
    eqs = solvers.all_equilibria(solvers.NormalFormGame(P, 2))
    counts = np.asarray(eqs.count)
    assert np.all(counts >= 1) and np.all(counts % 2 == 1)
    for k in range(P.shape[0]):
        for x, y in _as_list(eqs, k):
            assert _np_nash_conv(P[k, 0], P[k, 1], x, y) <= 1e-9
    one = solvers.all_equilibria(solvers.NormalFormGame(P[0], 2))
    for a, b in zip(one.strategies, eqs.strategies):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b[0]), atol=1e-12)


def test_degenerate_game_returns_only_certified_distinct_points():
    # duplicate columns: a continuum of equilibria; whatever is returned must be an equilibrium
    A = np.array([[2.0, 2.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    B = np.array([[1.0, 2.0, 2.0], [2.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    g = solvers.NormalFormGame.from_bimatrix(A, B)
    eqs = solvers.all_equilibria(g)
    found = _as_list(eqs)
    assert len(found) >= 1
    for x, y in found:
        assert _np_nash_conv(A, B, x, y) <= 1e-9
    for i in range(len(found)):
        for j in range(i):
            assert not _same_set([found[i]], [found[j]], atol=1e-6)


def test_dominated_outlier_does_not_blur_the_game():
    """Matching pennies plus a strictly dominated "disaster" row: one equilibrium. With the
    outlier in the payoff range that tol is relative to, the pure profile (row 0, column 1)
    (NashConv 2) was returned too (a break-tester's find, at -1e8)."""
    mp = np.array([[1.0, -1.0], [-1.0, 1.0]])
    for big in (1e3, 1e8, 1e12):
        eqs = solvers.all_equilibria(solvers.NormalFormGame.from_bimatrix(
            np.vstack([mp, [-big, -big]]), -np.vstack([mp, [0.0, 0.0]])))
        assert int(eqs.count) == 1
        np.testing.assert_allclose(eqs.strategies[0][0], [0.5, 0.5, 0.0], atol=1e-12)
        np.testing.assert_allclose(eqs.values[0], [0.0, 0.0], atol=1e-9)


@pytest.mark.slow  # float32 runs in test_conformance's default set
def test_float32():
    g = solvers.NormalFormGame(jnp.asarray(BOS.payoffs, jnp.float32), 2)
    eqs = solvers.all_equilibria(g)
    assert eqs.strategies[0].dtype == jnp.float32
    assert int(eqs.count) == 3
    np.testing.assert_allclose(np.asarray(eqs.strategies[0][2]), [0.6, 0.4], atol=1e-6)


def test_bad_input():
    three = solvers.NormalFormGame(np.zeros((3, 2, 2, 2)), 3)
    with pytest.raises(ValueError, match="two-player"):
        solvers.all_equilibria(three)
    with pytest.raises(TypeError, match="NormalFormGame"):
        solvers.all_equilibria(np.zeros((2, 2, 2)))
    big = solvers.NormalFormGame.from_bimatrix(np.zeros((12, 12)), np.zeros((12, 12)))
    with pytest.raises(ValueError, match="max_support_pairs"):
        solvers.all_equilibria(big)
    with pytest.raises(ValueError, match="tol"):
        solvers.all_equilibria(BOS, tol=-1.0)
    with pytest.raises(ValueError, match="tol"):
        solvers.SupportEnumeration(tol=0.0)
    with pytest.raises(ValueError, match="max_support_pairs"):
        solvers.SupportEnumeration(max_support_pairs=0)
    with pytest.raises(ValueError, match="two-player"):
        solvers.solve(three, solvers.SupportEnumeration())
