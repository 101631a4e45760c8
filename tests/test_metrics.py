"""Action values, expected values, best responses and NashConv against hand computations."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from socialign import solvers
from socialign.solvers import NormalFormGame

RPS = [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]


def test_rps_uniform_is_equilibrium():
    g = NormalFormGame.zero_sum(RPS)
    u = jnp.ones(3) / 3
    assert float(solvers.nash_conv(g, (u, u))) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(solvers.expected_values(g, (u, u)), [0.0, 0.0], atol=1e-15)


def test_rps_pure_rock_nash_conv():
    g = NormalFormGame.zero_sum(RPS)
    rock = jnp.array([1.0, 0.0, 0.0])
    # each player gains 1 by playing paper against rock: NashConv = 2
    assert float(solvers.nash_conv(g, (rock, rock))) == pytest.approx(2.0)
    br = solvers.best_response(g, (rock, rock))
    np.testing.assert_array_equal(br[0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(solvers.best_response(g, (rock, rock), player=1), [0, 1, 0])


def test_three_player_action_values_by_hand():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(3, 2, 2, 2))
    s = [rng.dirichlet(np.ones(2)) for _ in range(3)]
    g = NormalFormGame(p, 3)
    vals = solvers.action_values(g, tuple(s))
    for i in range(3):
        ref = np.zeros(2)
        for a in np.ndindex(2, 2, 2):
            w = np.prod([s[j][a[j]] for j in range(3) if j != i])
            ref[a[i]] += w * p[(i, *a)]
        np.testing.assert_allclose(vals[i], ref, rtol=1e-12)


@given(st.integers(0, 10_000))
def test_nash_conv_nonnegative_and_matches_loop(seed):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(2, 3, 4))
    g = NormalFormGame(p)
    x, y = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4))
    nc = float(solvers.nash_conv(g, (x, y)))
    A, B = p
    ref = (A @ y).max() - x @ A @ y + (x @ B).max() - x @ B @ y
    assert nc == pytest.approx(ref, abs=1e-12) and nc >= -1e-12


def test_batched_metrics():
    rng = np.random.default_rng(2)
    p = rng.normal(size=(5, 2, 3, 3))
    g = NormalFormGame(p, 2)
    x = rng.dirichlet(np.ones(3), size=5)
    y = rng.dirichlet(np.ones(3), size=5)
    nc = solvers.nash_conv(g, (x, y))
    assert nc.shape == (5,)
    for k in range(5):
        assert float(nc[k]) == pytest.approx(float(solvers.nash_conv(g[k], (x[k], y[k]))))


def test_bad_strategies():
    g = NormalFormGame.zero_sum(RPS)
    u = jnp.ones(3) / 3
    with pytest.raises(ValueError, match=r"strategies\[1\] must sum to 1"):
        solvers.nash_conv(g, (u, jnp.ones(3)))
    with pytest.raises(ValueError, match=r"strategies\[0\] must be non-negative"):
        solvers.nash_conv(g, (jnp.array([1.5, -0.5, 0.0]), u))
    with pytest.raises(ValueError, match=r"strategies\[0\] must have shape"):
        solvers.nash_conv(g, (jnp.ones(2) / 2, u))
    with pytest.raises(ValueError, match="2 players"):
        solvers.nash_conv(g, (u,))
    with pytest.raises(TypeError, match="tuple"):
        solvers.nash_conv(g, u)
    with pytest.raises(ValueError, match="finite"):
        solvers.nash_conv(g, (jnp.array([jnp.nan, 0.5, 0.5]), u))
    with pytest.raises(TypeError, match="game must be"):
        solvers.nash_conv(np.eye(3), (u, u))
    with pytest.raises(ValueError, match="player must be"):
        solvers.best_response(g, (u, u), player=2)
