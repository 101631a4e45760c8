"""Tests for solvers/_gambit.py: Gambit's .nfg and .efg formats.

References side by side: pygambit's readers and solvers (the same files read by Gambit itself,
and every game of the catalog that ships with pygambit), and OpenSpiel's ``efg_game`` reader.
"""

import io
from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pygambit as gbt  # the reference implementation side by side (a dev-extra dependency)
import pyspiel
import pytest
from socialign import solvers

# Myerson (1991), Game Theory, section 2.1: one-card poker. A card is red or black (1/2 each);
# player 1 sees it and raises or folds; after a raise player 2 meets or passes. Each antes 1,
# a raise and a meet add 1 each. Value 1/3 for player 1.
MYERSON_POKER = """EFG 2 R "Myerson one-card poker" { "Player 1" "Player 2" }
"Myerson (1991), Game Theory: Analysis of Conflict, section 2.1"

c "" 1 "Deal" { "Red" 1/2 "Black" 1/2 } 0
p "" 1 1 "Red card" { "Raise" "Fold" } 0
p "" 2 1 "Raised" { "Meet" "Pass" } 0
t "" 1 "Win big" { 2, -2 }
t "" 2 "Win" { 1, -1 }
t "" 2 "Win" { 1, -1 }
p "" 1 2 "Black card" { "Raise" "Fold" } 0
p "" 2 1 "Raised" { "Meet" "Pass" } 0
t "" 3 "Lose big" { -2, 2 }
t "" 2 "Win" { 1, -1 }
t "" 4 "Lose" { -1, 1 }
"""

# The same game with payoffs split between inner nodes and leaves (Gambit adds the outcomes on
# a leaf's path), names omitted where the format allows it, and decimal probabilities.
MYERSON_POKER_ACCUMULATED = """EFG 2 R "Myerson one-card poker, accumulated" { "1" "2" }
c "" 1 "" { "Red" 0.5 "Black" 0.5 } 0
p "" 1 1 "" { "Raise" "Fold" } 1 "red edge" { 1, -1 }
p "" 2 1 "" { "Meet" "Pass" } 0
t "" 1
t "" 0
t "" 0
p "" 1 2 "" { "Raise" "Fold" } 2 "black edge" { -1, 1 }
p "" 2 1 0
t "" 2
t "" 3 "" { 2, -2 }
t "" 0
"""

# McKelvey and McLennan's 2x2x2 game with 9 Nash equilibria, 2 of them totally mixed (Gambit's
# example file 2x2x2.nfg, outcome version).
MCKELVEY_MCLENNAN = """NFG 1 R "2x2x2 Example from McKelvey-McLennan, with 9 Nash equilibria, 2 totally mixed" { "Player 1" "Player 2" "Player 3" }

{ { "1" "2" }
{ "1" "2" }
{ "1" "2" }
}
""

{
{ "" 9, 8, 12 }
{ "" 0, 0, 0 }
{ "" 0, 0, 0 }
{ "" 9, 8, 2 }
{ "" 0, 0, 0 }
{ "" 3, 4, 6 }
{ "" 3, 4, 6 }
{ "" 0, 0, 0 }
}
1 2 3 4 5 6 7 8
"""

# Selten's horse-like 3x2 game in the payoff version (Gambit's e02.nfg), with a rational payoff
SELTEN_PAYOFF = """NFG 1 R "Selten (IJGT, 75), Figure 2, normal form"
{ "Player 1" "Player 2" } { 3 2 }

1 1 0 2 0 2 1 1 0 3 2 1/2
"""


def _gambit_profile(game, prof):
    return [np.array([float(v) for _, v in prof[p]]) for p in game.players]


def _gambit_values(gg, game, policy):
    """pygambit's expected payoffs of a behavioural policy given as our array.

    Both number information sets in prefix order of first appearance (per player for
    pygambit) and actions in file order, so our rows map onto pygambit's information sets.
    """
    prof = gg.mixed_behavior_profile(rational=False)
    labels = list(gg.players)
    for p, label in enumerate(labels):
        ours = [s for s in range(game.num_infosets) if game.infoset_player[s] == p]
        reps = gg.get_infosets(label)
        assert len(reps) == len(ours)
        for h, s in zip(reps, ours):
            where = gbt.H.path(*h.actions)
            actions = list(gg.get_actions(where))
            assert len(actions) == game.tree.infoset_num_actions[s]
            if len(set(actions)) < len(actions):
                return None  # unnamed actions cannot be addressed by label
            prof.set_mixed_action(where, {a: float(policy[s, j]) for j, a in enumerate(actions)})
    return np.array([float(prof.payoffs[label]) for label in labels])


def _np_values(game, policy):
    """Our expected payoffs, walking the compiled tree in numpy (independent of the solvers)."""
    tree = game.tree
    util, chance = np.asarray(game.utilities), np.asarray(game.chance_probs)
    total, todo = np.zeros(game.num_players), [(int(tree.root), 1.0)]
    while todo:
        h, reach = todo.pop()
        kind, row = int(tree.node_kind[h]), int(tree.node_row[h])
        if kind == game.TERMINAL:
            total += reach * util[row]
            continue
        probs = chance[row] if kind == game.CHANCE else policy[row]
        todo.extend((int(c), reach * probs[j]) for j, c in enumerate(tree.node_children[h])
                    if c != h)
    return total


def _random_policy(game, seed):
    rng = np.random.default_rng(seed)
    pol = rng.random((game.num_infosets, game.max_actions)) * game.legal_mask
    return pol / pol.sum(1, keepdims=True)


def _same_values_as_gambit(gg, game, seeds=(0, 1, 2)):
    """Expected payoffs of a few random behavioural policies agree with pygambit's."""
    for seed in seeds:
        pol = _random_policy(game, seed)
        ref = _gambit_values(gg, game, pol)
        if ref is None:
            return False
        np.testing.assert_allclose(_np_values(game, pol), ref, rtol=1e-9, atol=1e-9)
    return True


def _our_terminal_payoffs(game):
    """Leaf payoffs in node-id order (our reader numbers nodes in prefix order)."""
    order = np.argsort(game.tree.terminal_nodes)
    return np.asarray(game.utilities)[order]


# -- .nfg ----------------------------------------------------------------------------------------
def test_mckelvey_mclennan_outcome_version_and_its_nine_equilibria():
    g = solvers.NormalFormGame.from_gambit(MCKELVEY_MCLENNAN)
    assert g.num_players == 3 and g.num_actions == (2, 2, 2)
    assert g.payoffs[:, 0, 0, 0].tolist() == [9, 8, 12]
    assert g.payoffs[:, 1, 1, 0].tolist() == [9, 8, 2]
    assert g.payoffs[:, 1, 0, 1].tolist() == [3, 4, 6]
    if gbt is None:
        return
    gg = gbt.read_nfg(io.StringIO(MCKELVEY_MCLENNAN))
    for p, arr in enumerate(gg.to_arrays()):
        np.testing.assert_array_equal(np.asarray(g.payoffs[p]), np.asarray(arr, float))
    eqs = gbt.nash.enumpoly_solve(gg).equilibria
    assert len(eqs) == 9
    mixed = 0
    for prof in eqs:
        strategies = tuple(jnp.asarray(s) for s in _gambit_profile(gg, prof))
        assert float(solvers.nash_conv(g, strategies)) < 1e-6
        mixed += all(np.all(s > 1e-9) for s in strategies)
    assert mixed == 2


def test_payoff_version_with_rationals_and_pygambit():
    g = solvers.NormalFormGame.from_gambit(SELTEN_PAYOFF)
    assert g.num_actions == (3, 2)
    # profiles listed with the row varying fastest: (0, 0), (1, 0), (2, 0), (0, 1), ...
    assert g.payoffs[0].tolist() == [[1, 1], [0, 0], [0, 2]]
    assert g.payoffs[1].tolist() == [[1, 1], [2, 3], [2, 0.5]]
    if gbt is None:
        return
    gg = gbt.read_nfg(io.StringIO(SELTEN_PAYOFF))
    for p, arr in enumerate(gg.to_arrays()):
        np.testing.assert_array_equal(np.asarray(g.payoffs[p]), np.asarray(arr, float))


@pytest.mark.parametrize("outcomes", [False, True])
def test_nfg_round_trip_and_pygambit_reads_ours(outcomes):
    rng = np.random.default_rng(0)
    pay = np.round(rng.normal(size=(3, 2, 3, 4)), 3)
    pay[0, 0, 0, 0] = 1 / 3  # written as 1/3, read back to the same float
    pay[1, 1, 2, 3] = 1e-7
    g = solvers.NormalFormGame(pay, 3)
    text = g.to_gambit(title='a "quoted" title', outcomes=outcomes)
    back = solvers.NormalFormGame.from_gambit(text)
    np.testing.assert_array_equal(np.asarray(back.payoffs), pay)
    if gbt is None:
        return
    gg = gbt.read_nfg(io.StringIO(text))
    assert gg.title == 'a "quoted" title'
    for p, arr in enumerate(gg.to_arrays()):
        np.testing.assert_allclose(np.asarray(arr, float), pay[p], rtol=1e-15)
    # and pygambit's own writer (outcome version) reads back to the same game
    again = solvers.NormalFormGame.from_gambit(gg.to_nfg())
    np.testing.assert_allclose(np.asarray(again.payoffs), pay, rtol=1e-15)


def test_nfg_from_path_and_bytes(tmp_path):
    path = tmp_path / "mm.nfg"
    path.write_text(MCKELVEY_MCLENNAN)
    a = solvers.NormalFormGame.from_gambit(path)
    b = solvers.NormalFormGame.from_gambit(str(path))
    c = solvers.NormalFormGame.from_gambit(MCKELVEY_MCLENNAN.encode())
    assert np.array_equal(np.asarray(a.payoffs), np.asarray(b.payoffs))
    assert np.array_equal(np.asarray(a.payoffs), np.asarray(c.payoffs))


@pytest.mark.parametrize("text, line, match", [
    ('NFG 1 R "t" { "1" "2" } { 2 2 }\n1 2 3 4 5 6 7', 2, "has 7 payoffs"),
    ('NFG 1 R "t" { "1" "2" } { 2 2 }\n1 2 3 x 5 6 7 8', 2, "must be a number"),
    ('NFG 2 R "t" { "1" "2" } { 2 2 }\n1 2 3 4 5 6 7 8', 1, "format version"),
    ('NFG 1 R "t" { "1" "2" }\n{ { "a" } { "b" } }\n{ { "" 1, 2 } }\n2', 4,
     "outcome 2 is not defined"),
    ('NFG 1 R "t" { "1" "2" }\n{ { "a" } { "b" } }\n{ { "" 1, 2, 3 } }\n1', 3,
     "has 3 payoffs for 2 players"),
    ('NFG 1 R "t" { "1" "2" } { 1 1 }\n1 2\n3', 3, "unexpected '3'"),
    ('NFG 1 R "t { "1" "2" } { 1 1 }\n1 2', 1, None),
    # a break-tester's finds: raw OverflowError / int() errors without a line, and Python's
    # Fraction syntax that Gambit does not read
    ('NFG 1 R "t" { "1" "2" } { 2 2 }\n1 2 3 1e400 5 6 7 8', 2, "too large for a float"),
    ('NFG 1 R "t" { "1" "2" } { --1 2 }\n1 2', 1, "must be an integer"),
    ('NFG 1 R "t" { "1" "2" } { \u00b2 2 }\n1 2', 1, "must be an integer"),
    ('NFG 1 R "t" { "1" "2" } { 1 1 }\n1_000 2', 2, "must be a number"),
])
def test_nfg_errors_name_the_line(text, line, match):
    with pytest.raises(ValueError, match=f"line {line}") as err:
        solvers.NormalFormGame.from_gambit(text)
    if match:
        assert match in str(err.value)


def test_source_encodings(tmp_path):
    """A UTF-8 byte-order mark is dropped (text, bytes, path); bytes that are not UTF-8 get an
    error naming the line (was: a raw UnicodeDecodeError)."""
    text = 'NFG 1 R "t" { "1" "2" } { 1 1 }\n1 2'
    path = tmp_path / "bom.nfg"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for src in ("\ufeff" + text, b"\xef\xbb\xbf" + text.encode(), path):
        assert solvers.NormalFormGame.from_gambit(src).payoffs.tolist() == [[[1.0]], [[2.0]]]
    with pytest.raises(ValueError, match="line 2: not UTF-8"):
        solvers.NormalFormGame.from_gambit(b'NFG 1 R "t" { "1" "2" } { 1 1 }\n"caf\xe9" 1 2')


def test_written_chance_probabilities_sum_to_exactly_one():
    """Floats that sum to 1.0 in floating point rarely do exactly, and Gambit refuses a chance
    node whose written probabilities do not ("Probabilities must sum to exactly one"): the
    largest is written as one minus the others. Huge and tiny payoffs are written in exponent
    notation, exactly (1e300 was a 301-digit integer)."""
    T, C = solvers.ExtensiveFormGame.TERMINAL, solvers.ExtensiveFormGame.CHANCE
    p = [0.6720976591387724, 0.28466864239501943, 0.04323369846620814]
    u = np.random.default_rng(0).random((10, 2))
    u[4] = [1e300, -1e-300]
    g = solvers.ExtensiveFormGame.from_arrays(
        parent=[-1, 0, 0, 0, 1, 1, 2, 2, 3, 3], player=[C, 0, 0, 0, T, T, T, T, T, T],
        utilities=u, chance_prob=[0, *p, 0, 0, 0, 0, 0, 0],
        infoset=[-1, 0, 1, 2, -1, -1, -1, -1, -1, -1])
    text = g.to_gambit()
    chance = text.splitlines()[3].split()
    assert sum(Fraction(w) for w in chance[6:12:2]) == 1
    assert "1e+300" in text and "-1e-300" in text
    back = solvers.ExtensiveFormGame.from_gambit(text)
    np.testing.assert_allclose(back.chance_probs, g.chance_probs, rtol=1e-15)
    np.testing.assert_array_equal(back.utilities, g.utilities)
    gbt.read_efg(io.StringIO(text))   # raised ValueError before


def test_source_errors(tmp_path):
    with pytest.raises(ValueError, match="source"):
        solvers.NormalFormGame.from_gambit(str(tmp_path / "missing.nfg"))
    with pytest.raises(TypeError, match="source"):
        solvers.NormalFormGame.from_gambit(3)
    with pytest.raises(ValueError, match="batched"):
        solvers.NormalFormGame.zero_sum(np.ones((2, 2, 2))).to_gambit()


# -- .efg ----------------------------------------------------------------------------------------
def test_myerson_poker_value_one_third():
    g = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER)
    assert g.num_players == 2 and g.num_infosets == 3 and g.num_terminals == 6
    assert g.chance_probs.tolist() == [[0.5, 0.5]]
    assert g.infoset_keys == ("1:1:Red card", "2:1:Raised", "1:2:Black card")
    eq = solvers.solve(g, solvers.SequenceFormLP(), tol=1e-9)
    assert abs(float(eq.values[0]) - 1 / 3) < 1e-9
    # the known equilibrium: raise with red, bluff with black 1/3; meet 2/3
    pol = np.asarray(eq.strategies)
    np.testing.assert_allclose(pol[0], [1, 0], atol=1e-7)
    np.testing.assert_allclose(pol[2], [1 / 3, 2 / 3], atol=1e-7)
    np.testing.assert_allclose(pol[1], [2 / 3, 1 / 3], atol=1e-7)


@pytest.mark.slow
def test_myerson_poker_cfr_plus():
    g = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER)
    cfr = solvers.solve(g, solvers.CFRPlus(), max_steps=2000, tol=1e-3)
    assert bool(cfr.converged) and abs(float(cfr.values[0]) - 1 / 3) < 1e-2


def test_outcomes_on_inner_nodes_accumulate():
    plain = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER)
    acc = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER_ACCUMULATED)
    np.testing.assert_array_equal(_our_terminal_payoffs(acc), _our_terminal_payoffs(plain))
    np.testing.assert_array_equal(np.asarray(acc.chance_probs), np.asarray(plain.chance_probs))
    assert acc.infoset_keys == ("1:1:", "2:1:", "1:2:")
    np.testing.assert_array_equal(acc.tree.node_children, plain.tree.node_children)
    np.testing.assert_array_equal(acc.tree.node_row, plain.tree.node_row)
    if gbt is not None:
        assert _same_values_as_gambit(gbt.read_efg(io.StringIO(MYERSON_POKER_ACCUMULATED)), acc)


def test_efg_round_trip_and_pygambit_reads_ours():
    g = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER)
    text = g.to_gambit()
    assert '"Red card"' in text and '"Raise"' in text and "1/2" in text
    back = solvers.ExtensiveFormGame.from_gambit(text)
    assert back.tree == g.tree and back.infoset_keys == g.infoset_keys
    np.testing.assert_array_equal(np.asarray(back.utilities), np.asarray(g.utilities))
    if gbt is None:
        return
    gg = gbt.read_efg(io.StringIO(text))
    assert _same_values_as_gambit(gg, g)
    lp = gbt.nash.lp_solve(gg, rational=True)
    assert lp.equilibrium.payoffs["Player 1"] == Fraction(1, 3)


def test_openspiel_reads_the_same_game(tmp_path):
    ours = solvers.ExtensiveFormGame.from_gambit(MYERSON_POKER)
    via_text = solvers.ExtensiveFormGame.from_openspiel(pyspiel.load_efg_game(MYERSON_POKER))
    path = tmp_path / "poker.efg"
    path.write_text(ours.to_gambit())
    via_file = solvers.ExtensiveFormGame.from_openspiel(f"efg_game(filename={path})")
    for other in (via_text, via_file):
        assert other.num_infosets == ours.num_infosets
        assert other.num_histories == ours.num_histories
        assert other.num_terminals == ours.num_terminals
        u = _np_values(ours, np.asarray(ours.uniform_policy()))
        np.testing.assert_allclose(_np_values(other, np.asarray(other.uniform_policy())), u)
        np.testing.assert_allclose(float(solvers.nash_conv(other, other.uniform_policy())),
                                   float(solvers.nash_conv(ours, ours.uniform_policy())),
                                   atol=1e-12)
        np.testing.assert_array_equal(np.sort(np.asarray(other.utilities), axis=0),
                                      np.sort(np.asarray(ours.utilities), axis=0))


def test_kuhn_poker_through_gambit_text(kuhn):
    """An OpenSpiel game written as .efg reads back (ours and OpenSpiel's) to the same game."""
    text = kuhn.to_gambit(title="kuhn")
    ours = solvers.ExtensiveFormGame.from_gambit(text)
    theirs = solvers.ExtensiveFormGame.from_openspiel(pyspiel.load_efg_game(text))
    for g in (ours, theirs):
        assert (g.num_infosets, g.num_histories, g.num_terminals) == (12, 58, 30)
        assert abs(float(solvers.nash_conv(g, g.uniform_policy())) - 11 / 12) < 1e-12
    if gbt is not None:
        assert _same_values_as_gambit(gbt.read_efg(io.StringIO(text)), ours, seeds=(0,))
    # OpenSpiel's own exporter output reads too (decimal probabilities, space-separated payoffs)
    from open_spiel.python.algorithms.gambit import export_gambit

    exported = solvers.ExtensiveFormGame.from_gambit(export_gambit(pyspiel.load_game("kuhn_poker")))
    assert (exported.num_infosets, exported.num_histories) == (12, 58)
    assert abs(float(solvers.nash_conv(exported, exported.uniform_policy())) - 11 / 12) < 1e-12


def test_pygambit_catalog_reads_the_same():
    """Every game of the catalog shipped with pygambit: same payoffs, chance and structure."""
    from importlib.resources import files

    root = files("pygambit") / "catalog_data"
    assert root.is_dir(), "pygambit (>=17.0.0b2, dev extra) ships its catalog in catalog_data"
    paths = sorted(str(p) for p in __import__("pathlib").Path(str(root)).rglob("*")
                   if p.suffix in (".nfg", ".efg"))
    assert len(paths) >= 20
    checked = 0
    for path in paths:
        if path.endswith(".nfg"):
            g = solvers.NormalFormGame.from_gambit(path)
            gg = gbt.read_nfg(path)
            for p, arr in enumerate(gg.to_arrays()):
                np.testing.assert_allclose(np.asarray(g.payoffs[p]), np.asarray(arr, float),
                                           rtol=1e-12, err_msg=path)
            checked += 1
            continue
        gg = gbt.read_efg(path)
        if not gg.is_perfect_recall:
            with pytest.raises(ValueError, match="perfect recall"):
                solvers.ExtensiveFormGame.from_gambit(path)
            continue
        g = solvers.ExtensiveFormGame.from_gambit(path)
        assert g.num_infosets == sum(len(gg.get_infosets(p)) for p in gg.players), path
        if not _same_values_as_gambit(gg, g, seeds=(0,)):
            continue  # unnamed actions: pygambit cannot address them by label
        # writing ours and reading it with pygambit keeps the game
        assert _same_values_as_gambit(gbt.read_efg(io.StringIO(g.to_gambit())), g, seeds=(1,))
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("text, line, match", [
    ('EFG 2 R "t" { "1" }\nc "" 1 "" { "a" 1/2 "b" 1/3 } 0\nt "" 0\nt "" 0', 2, "sum to 1"),
    ('EFG 2 R "t" { "1" }\np "" 2 1 "" { "a" } 0\nt "" 0', 2, "player 2 does not exist"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" "b" } 0\nt "" 1\nt "" 0', 3, "outcome 1 is used"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" "b" } 0\nt "" 0', 3, "ends inside the tree"),
    ('EFG 2 R "t" { "1" }\nq "" 1 1 "" { "a" } 0', 2, "unknown node type 'q'"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" "b" } 0\np "" 1 2 "" { "a" } 0\nt "" 0\n'
     'p "" 1 2 "" { "a" "b" } 0\nt "" 0\nt "" 0', 5, "has 1 actions elsewhere but 2 here"),
    ('EFG 2 R "t" { "1" "2" }\np "" 1 1 "" { "a" } 1 "" { 1 }\nt "" 0', 2,
     "has 1 payoffs for 2 players"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 { "a" } 0\nt "" 0\nt "" 0', 4, "unexpected 't'"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" } 0\nt "" 1 "" { 1/0 }', 3, "must be a number"),
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" } 0\nt "" 1 "" { -1e999 }', 3, "too large"),
    # one chance information set, two probability vectors (Gambit: "Event probabilities do not
    # match previous definition"); one information set, two sets of action names
    ('EFG 2 R "t" { "1" }\np "" 1 1 "" { "a" "b" } 0\nc "" 1 "" { "x" 1/2 "y" 1/2 } 0\n'
     't "" 0\nt "" 0\nc "" 1 "" { "x" 1/4 "y" 3/4 } 0\nt "" 0\nt "" 0', 6, "defined again"),
    ('EFG 2 R "t" { "1" }\nc "" 1 "" { "x" 1/2 "y" 1/2 } 0\np "" 1 1 "" { "l" "r" } 0\n'
     't "" 0\nt "" 0\np "" 1 1 "" { "L" "R" } 0\nt "" 0\nt "" 0', 6, "names its actions"),
])
def test_efg_errors_name_the_line(text, line, match):
    with pytest.raises(ValueError, match=f"line {line}") as err:
        solvers.ExtensiveFormGame.from_gambit(text)
    assert match in str(err.value)


def test_imperfect_recall_is_refused():
    forgetful = """EFG 2 R "absent-minded driver's cousin" { "1" }
p "" 1 1 "" { "L" "R" } 0
p "" 1 2 "" { "l" "r" } 0
t "" 1 "" { 1 }
t "" 2 "" { 0 }
p "" 1 2 "" { "l" "r" } 0
t "" 2
t "" 1
"""
    with pytest.raises(ValueError, match="perfect recall"):
        solvers.ExtensiveFormGame.from_gambit(forgetful)


def test_efg_to_gambit_errors(kuhn):
    with pytest.raises(ValueError, match="batched"):
        solvers.ExtensiveFormGame.stack([kuhn, kuhn]).to_gambit()
    with pytest.raises(TypeError, match="ExtensiveFormGame"):
        from socialign.solvers._gambit import efg_to_gambit

        efg_to_gambit(solvers.NormalFormGame.zero_sum([[1.0]]))
