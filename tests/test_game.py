"""NormalFormGame construction, OpenSpiel parity, stacking and input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
import pytest
from socialign import solvers
from socialign.solvers import NormalFormGame


def test_bimatrix_layout():
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    B = -2 * A
    g = NormalFormGame.from_bimatrix(A, B)
    assert g.num_players == 2 and g.num_actions == (2, 3) and g.batch_shape == ()
    np.testing.assert_array_equal(g.payoffs[0], A)
    np.testing.assert_array_equal(g.payoffs[1], B)
    z = NormalFormGame.zero_sum(A)
    np.testing.assert_array_equal(z.payoffs[1], -A)
    assert z.is_zero_sum() and not g.is_zero_sum()


@pytest.mark.parametrize("name", ["matrix_rps", "matrix_mp", "matrix_pd", "matrix_sh", "matrix_bos"])
def test_from_openspiel_matches_payoff_tensors(name):
    game = pyspiel.load_game(name)
    g = NormalFormGame.from_openspiel(name)
    np.testing.assert_allclose(g.payoffs[0], np.asarray(game.row_utilities()))
    np.testing.assert_allclose(g.payoffs[1], np.asarray(game.col_utilities()))
    g2 = NormalFormGame.from_openspiel(game)
    np.testing.assert_array_equal(g.payoffs, g2.payoffs)


def test_from_openspiel_rejects_sequential_games():
    with pytest.raises(ValueError, match="not a normal-form game"):
        NormalFormGame.from_openspiel("kuhn_poker")
    with pytest.raises(ValueError, match="name_or_game"):
        NormalFormGame.from_openspiel("no_such_game_xyz")
    with pytest.raises(TypeError, match="name_or_game"):
        NormalFormGame.from_openspiel(3)


def test_three_player_game_shape():
    p = np.random.default_rng(0).normal(size=(3, 2, 3, 4))
    g = NormalFormGame(p, 3)
    assert g.num_players == 3 and g.num_actions == (2, 3, 4)
    # the same array is also a batch of three 2-player 3x4 games: the caller must say which
    with pytest.raises(ValueError, match="pass num_players"):
        NormalFormGame(p)
    b = NormalFormGame(p, 2)
    assert b.batch_shape == (3,) and b.num_actions == (3, 4)
    # an unambiguous shape is still read without num_players
    assert NormalFormGame(np.zeros((3, 3, 4, 5))).num_actions == (3, 4, 5)


def test_ambiguous_shape_needs_num_players():
    # issue 8: [3, 2, 2, 2] is a 3-player 2x2x2 game or a batch of three 2-player 2x2 games
    p = np.random.default_rng(1).normal(size=(3, 2, 2, 2))
    with pytest.raises(ValueError, match=r"can be read in 2 ways.*pass num_players"):
        NormalFormGame(p)
    assert NormalFormGame(p, 3).num_players == 3 and NormalFormGame(p, 3).batch_shape == ()
    assert NormalFormGame(p, 2).batch_shape == (3,)
    # the two-player constructors say num_players themselves, so a batch is never misread
    g = NormalFormGame.from_bimatrix(p[:, 0], p[:, 1])
    assert g.num_players == 2 and g.batch_shape == (3,)
    z = NormalFormGame.zero_sum(p[:, 0])
    assert z.num_players == 2 and z.batch_shape == (3,)


def test_stack_and_index():
    gs = [NormalFormGame.zero_sum(np.eye(3) * k) for k in range(4)]
    st = solvers.stack(gs)
    assert st.batch_shape == (4,) and st.num_actions == (3, 3)
    np.testing.assert_array_equal(st[2].payoffs, gs[2].payoffs)
    with pytest.raises(ValueError, match="same-shaped"):
        solvers.stack([gs[0], NormalFormGame.zero_sum(np.eye(2))])
    with pytest.raises(ValueError, match="non-empty"):
        solvers.stack([])
    with pytest.raises(TypeError, match="solvers game"):
        solvers.stack([np.eye(2)])


def test_stack_dispatches_to_extensive_form_games():
    kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
    st = solvers.stack([kuhn, kuhn.with_utilities(2 * kuhn.utilities)])
    assert st.batch_shape == (2,)


def test_game_is_a_pytree():
    g = NormalFormGame.zero_sum(np.eye(2))
    leaves, tree = jax.tree_util.tree_flatten(g)
    assert len(leaves) == 1
    g2 = jax.tree_util.tree_unflatten(tree, [leaves[0] * 2])
    assert isinstance(g2, NormalFormGame) and g2.num_players == 2
    doubled = jax.jit(lambda g: jax.tree_util.tree_map(lambda x: 2 * x, g))(g)
    np.testing.assert_array_equal(doubled.payoffs, 2 * g.payoffs)


@pytest.mark.parametrize(
    "payoffs, match",
    [
        (np.array([[[np.nan, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]), "payoffs must be finite"),
        (np.array([[[np.inf, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]), "payoffs must be finite"),
        (np.zeros(3), "rank"),
        (np.zeros((3, 2, 2)), "rank >= 4"),
        (np.zeros((2, 0, 2)), "at least one action"),
    ],
)
def test_bad_payoffs(payoffs, match):
    with pytest.raises(ValueError, match=match):
        NormalFormGame(payoffs)


def test_player_axis_mismatch():
    with pytest.raises(ValueError, match="player axis"):
        NormalFormGame(np.zeros((3, 2, 2)), num_players=2)
    with pytest.raises(ValueError, match="num_players"):
        NormalFormGame(np.zeros((2, 2, 2)), num_players=0)


def test_bad_bimatrix():
    with pytest.raises(ValueError, match="same shape"):
        NormalFormGame.from_bimatrix(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="A must be a matrix"):
        NormalFormGame.zero_sum(np.ones(3))
    with pytest.raises(TypeError, match="A must be an array of numbers"):
        NormalFormGame.zero_sum([["a", "b"]])
    with pytest.raises(ValueError, match="B must be finite"):
        NormalFormGame.from_bimatrix(np.eye(2), np.array([[1.0, np.nan], [0, 0]]))


def test_dtype_is_kept():
    g32 = NormalFormGame.zero_sum(jnp.eye(2, dtype=jnp.float32))
    assert g32.dtype == jnp.float32
    g64 = NormalFormGame.zero_sum(np.eye(2))
    assert g64.dtype == jnp.float64
