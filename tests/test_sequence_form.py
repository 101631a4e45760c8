"""Sequence-form LP: exact values (Kuhn -1/18), certified equilibria, batching, bad input."""

import numpy as np
import pytest
from socialign import solvers
from socialign.solvers import ExtensiveFormGame as EFG


def test_kuhn_value_and_batch_of_random_constant_sum_games(kuhn):
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, kuhn.num_terminals, 1)) * np.array([1.0, 10.0, 0.1])[:, None, None]
    utils = np.concatenate([np.asarray(kuhn.utilities)[None],
                            np.concatenate([u, -u + 2.0], axis=-1)])  # Kuhn + constant-sum games
    games = kuhn.with_utilities(utils)
    eq = solvers.solve(games, solvers.SequenceFormLP(), tol=1e-6)
    assert eq.nash_conv.shape == (4,)
    np.testing.assert_allclose(eq.values[0], [-1 / 18, 1 / 18], atol=1e-8)
    assert float(eq.nash_conv[0]) <= 1e-8
    scale = np.abs(utils).max(axis=(1, 2))
    assert np.all(np.asarray(eq.nash_conv) <= 1e-7 * scale)
    np.testing.assert_allclose(np.asarray(eq.values[1:]).sum(-1), 2.0, atol=1e-9)
    np.testing.assert_allclose(np.asarray(eq.strategies).sum(-1), 1.0, atol=1e-12)
    # agrees with a long predictive CFR+ run on Kuhn
    cfr = solvers.solve(kuhn, solvers.PredictiveCFRPlus(), max_steps=3000, tol=1e-7)
    np.testing.assert_allclose(eq.values[0], cfr.values, atol=1e-6)


def test_bad_input(kuhn):
    general = kuhn.with_utilities(np.abs(np.asarray(kuhn.utilities)))
    with pytest.raises(ValueError, match="zero-sum"):
        solvers.solve(general, solvers.SequenceFormLP())
    three = EFG.from_openspiel("kuhn_poker(players=3)")
    with pytest.raises(ValueError, match="two-player"):
        solvers.solve(three, solvers.SequenceFormLP())
    with pytest.raises(TypeError, match="ExtensiveFormGame"):
        solvers.solve(solvers.NormalFormGame.zero_sum([[1.0]]), solvers.SequenceFormLP())
    with pytest.raises(ValueError, match="lp_tol"):
        solvers.solve(kuhn, solvers.SequenceFormLP(lp_tol=-1.0))


@pytest.mark.slow
def test_liars_dice_two_sides_value():
    g = EFG.from_openspiel("liars_dice(dice_sides=2)")
    eq = solvers.solve(g, solvers.SequenceFormLP(), tol=1e-7)
    cfr = solvers.solve(g, solvers.PredictiveCFRPlus(), max_steps=5000, tol=1e-6)
    np.testing.assert_allclose(eq.values, cfr.values, atol=1e-5)


def test_sequence_form_cache_is_bounded_and_tables_read_only(kuhn):
    from socialign.solvers._sequence_form import sequence_form

    assert sequence_form.cache_info().maxsize is not None  # bounded (no global dict)
    tables = sequence_form(kuhn.tree)
    assert sequence_form(kuhn.tree) is tables  # a hit on the immutable, content-hashed tree
    with pytest.raises(ValueError, match="read-only"):
        tables.E[0][0, 0] = 2.0
    # computing the tables does not touch the hashed tree
    digest = kuhn.tree.digest
    sequence_form.cache_clear()
    assert sequence_form(kuhn.tree).n_seq == tables.n_seq and kuhn.tree.digest == digest
