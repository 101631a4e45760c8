"""ExtensiveFormGame: compilation, oracles (ORACLES.md), metrics against OpenSpiel, bad input."""

import itertools
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from open_spiel.python import policy as os_policy
from socialign import solvers
from socialign.solvers import ExtensiveFormGame as EFG

T, C = EFG.TERMINAL, EFG.CHANCE


def _random_policy(game, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((game.num_infosets, game.max_actions)) ** 3 * game.legal_mask
    return p / p.sum(1, keepdims=True)


def _pyspiel_exploitability(game, pol):
    tab = game.to_openspiel_policy(pol)
    return pyspiel.exploitability(game.tree._pyspiel_game,
                                  os_policy.python_policy_to_pyspiel_policy(tab))


# -- oracles ------------------------------------------------------------------------------------
def test_kuhn_oracles(kuhn):
    assert kuhn.num_infosets == 12
    assert kuhn.num_histories == 58
    assert kuhn.num_players == 2
    np.testing.assert_allclose(solvers.nash_conv(kuhn, kuhn.uniform_policy()), 11 / 12,
                               atol=1e-12)
    fold = np.zeros((12, 2))
    fold[:, 0] = 1.0  # pass/fold everywhere
    np.testing.assert_allclose(solvers.nash_conv(kuhn, fold), 2.0, atol=1e-12)


def test_kuhn_value_at_equilibrium(kuhn):
    # the analytic equilibrium family with alpha = 0 (Kuhn 1950)
    eq = solvers.solve(kuhn, solvers.PredictiveCFRPlus(), max_steps=3000, tol=1e-6)
    np.testing.assert_allclose(eq.values, [-1 / 18, 1 / 18], atol=1e-5)
    # tol is relative to each player's payoff range (4 in Kuhn poker)
    assert float(eq.relative_nash_conv) <= 1e-6 and float(eq.nash_conv) <= 4e-6


def test_leduc_oracles(leduc):
    assert leduc.num_infosets == 936
    assert leduc.num_histories == 9457
    np.testing.assert_allclose(solvers.nash_conv(leduc, leduc.uniform_policy()),
                               4.747222222222222, atol=1e-12)


# -- metrics against OpenSpiel --------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exploitability_matches_pyspiel_kuhn(kuhn, seed):
    pol = _random_policy(kuhn, seed)
    np.testing.assert_allclose(solvers.exploitability(kuhn, pol),
                               _pyspiel_exploitability(kuhn, pol), atol=1e-9, rtol=0)


def test_exploitability_matches_pyspiel_leduc(leduc):
    for seed in (3, 4):
        pol = _random_policy(leduc, seed)
        np.testing.assert_allclose(solvers.exploitability(leduc, pol),
                                   _pyspiel_exploitability(leduc, pol), atol=1e-9, rtol=0)


def test_nash_conv_and_values_three_player_kuhn():
    g = EFG.from_openspiel("kuhn_poker(players=3)")
    pol = _random_policy(g, 5)
    tab = os_policy.python_policy_to_pyspiel_policy(g.to_openspiel_policy(pol))
    np.testing.assert_allclose(solvers.nash_conv(g, pol),
                               pyspiel.nash_conv(g.tree._pyspiel_game, tab), atol=1e-9)
    ref = pyspiel.expected_returns(g.tree._pyspiel_game.new_initial_state(), tab, -1, True)
    np.testing.assert_allclose(solvers.expected_values(g, pol), ref, atol=1e-12)


def test_liars_dice_and_turn_based_goofspiel():
    for name in ["liars_dice(dice_sides=3)", pyspiel.convert_to_turn_based(
            pyspiel.load_game("goofspiel(num_cards=3,imp_info=True)"))]:
        g = EFG.from_openspiel(name)
        pol = _random_policy(g, 7)
        np.testing.assert_allclose(solvers.exploitability(g, pol),
                                   _pyspiel_exploitability(g, pol), atol=1e-9)


def test_best_response_policy_is_consistent_and_optimal(kuhn):
    pol = jnp.asarray(_random_policy(kuhn, 8))
    br = solvers.best_response(kuhn, pol)
    assert br.shape == pol.shape
    np.testing.assert_array_equal(np.asarray(br).sum(1), 1.0)
    gains = solvers.best_response_gains(kuhn, pol)
    vals = solvers.expected_values(kuhn, pol)
    for i in range(2):
        mixed = solvers.best_response(kuhn, pol, player=i)
        rows = kuhn.infoset_player == i
        np.testing.assert_array_equal(np.asarray(mixed)[~rows], np.asarray(pol)[~rows])
        v = solvers.expected_values(kuhn, mixed)[i]
        np.testing.assert_allclose(v - vals[i], gains[i], atol=1e-12)


def _brute_force_gains(game, pol):
    """Best-response gains by enumerating every pure strategy of each player."""
    pol = np.asarray(pol)
    vals = np.asarray(solvers.expected_values(game, pol))
    gains = []
    for i in range(game.num_players):
        rows = np.flatnonzero(game.infoset_player == i)
        ks = game.tree.infoset_num_actions[rows]
        profiles = []
        for choice in itertools.product(*[range(k) for k in ks]):
            p = pol.copy()
            p[rows] = 0.0
            p[rows, list(choice)] = 1.0
            profiles.append(p)
        v = jax.vmap(lambda p: solvers.expected_values(game, p))(jnp.asarray(np.stack(profiles)))
        gains.append(float(np.max(np.asarray(v)[:, i])) - vals[i])
    return np.asarray(gains)


@given(seed=st.integers(0, 2**31 - 1))
def test_best_response_equals_brute_force_on_random_payoffs(kuhn, seed):
    rng = np.random.default_rng(seed)
    game = kuhn.with_utilities(rng.normal(size=kuhn.utilities.shape))  # general-sum, same tree
    pol = _random_policy(game, seed)
    np.testing.assert_allclose(solvers.best_response_gains(game, pol),
                               _brute_force_gains(game, pol), atol=1e-10)


# -- our own trees ----------------------------------------------------------------------------
def _signalling_game():
    """Chance picks a type, player 0 (sender) sees it and signals, player 1 sees only the signal."""
    parent, player, infoset, prob, util = [-1], [C], [-1], [0.0], [[0, 0]]

    def add(p, pl, s=-1, pr=0.0, u=(0, 0)):
        parent.append(p)
        player.append(pl)
        infoset.append(s)
        prob.append(pr)
        util.append(list(u))
        return len(parent) - 1

    pay = {(0, 0, 0): (2, 1), (0, 0, 1): (0, 0), (0, 1, 0): (1, 1), (0, 1, 1): (-1, 0),
           (1, 0, 0): (1, 0), (1, 0, 1): (0, 1), (1, 1, 0): (0, 0), (1, 1, 1): (2, 1)}
    for t, pt in enumerate([0.6, 0.4]):
        s = add(0, 0, t, pt)
        for m in range(2):
            r = add(s, 1, 2 + m)
            for a in range(2):
                add(r, T, u=pay[(t, m, a)])
    return dict(parent=parent, player=player, infoset=infoset, chance_prob=prob, utilities=util)


def test_from_arrays_signalling_game():
    spec = _signalling_game()
    g = EFG.from_arrays(**spec)
    assert (g.num_infosets, g.num_histories, g.num_terminals) == (4, 15, 8)
    pol = _random_policy(g, 0)
    np.testing.assert_allclose(solvers.best_response_gains(g, pol), _brute_force_gains(g, pol),
                               atol=1e-12)
    # uniform play: each terminal reached with prob type * 1/4
    u = np.asarray(spec["utilities"], float)[np.asarray(spec["player"]) == T]
    want = (np.repeat([0.6, 0.4], 4)[:, None] * u / 4).sum(0)
    np.testing.assert_allclose(solvers.expected_values(g, g.uniform_policy()), want, atol=1e-12)


def test_from_arrays_perfect_information_default():
    g = EFG.from_arrays(parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
                        utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])
    # entry game: subgame-perfect equilibrium (enter, accommodate) has NashConv 0
    pol = np.array([[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(solvers.nash_conv(g, pol), 0.0, atol=1e-12)
    np.testing.assert_allclose(solvers.expected_values(g, pol), [1.0, 1.0])


def test_batching_with_utilities_and_stack(kuhn):
    scales = jnp.array([1.0, 2.0, 0.5])
    games = kuhn.with_utilities(kuhn.utilities * scales[:, None, None])
    assert games.batch_shape == (3,)
    pol = jnp.broadcast_to(kuhn.uniform_policy(), (3, 12, 2))
    np.testing.assert_allclose(solvers.nash_conv(games, pol), np.asarray(scales) * 11 / 12,
                               atol=1e-12)
    stacked = EFG.stack([games[k] for k in range(3)])
    np.testing.assert_allclose(stacked.utilities, games.utilities)
    assert games[1].batch_shape == ()


def test_policy_conversion_round_trip(kuhn):
    pol = _random_policy(kuhn, 11)
    tab = kuhn.to_openspiel_policy(pol)
    np.testing.assert_allclose(kuhn.policy_from_openspiel(tab), pol, atol=0)
    cpp = os_policy.python_policy_to_pyspiel_policy(tab)
    np.testing.assert_allclose(kuhn.policy_from_openspiel(cpp), pol, atol=1e-15)
    uni = os_policy.UniformRandomPolicy(kuhn.tree._pyspiel_game)
    np.testing.assert_allclose(kuhn.policy_from_openspiel(uni), kuhn.uniform_policy())
    # metrics accept OpenSpiel policies directly
    np.testing.assert_allclose(solvers.nash_conv(kuhn, tab), solvers.nash_conv(kuhn, pol))


# -- bad input --------------------------------------------------------------------------------
def test_refuses_simultaneous_and_bad_games():
    with pytest.raises(ValueError, match="convert_to_turn_based"):
        EFG.from_openspiel("goofspiel(num_cards=3)")
    with pytest.raises(ValueError, match="cannot load"):
        EFG.from_openspiel("no_such_game")
    with pytest.raises(TypeError, match="name_or_game"):
        EFG.from_openspiel(3)
    with pytest.raises(ValueError, match="max_histories"):
        EFG.from_openspiel("leduc_poker", max_histories=100)


def test_from_arrays_validation():
    spec = _signalling_game()
    bad = dict(spec, parent=[-1, -1] + spec["parent"][2:])
    with pytest.raises(ValueError, match="exactly one root"):
        EFG.from_arrays(**bad)
    bad = dict(spec, chance_prob=[0.0, 0.7] + spec["chance_prob"][2:])
    with pytest.raises(ValueError, match="sum to 1"):
        EFG.from_arrays(**bad)
    bad = dict(spec, infoset=[-1, 0, 2, -1, -1, 3, -1, -1, 1, 0, -1, -1, 3, -1, -1])
    with pytest.raises(ValueError, match="mixes"):
        EFG.from_arrays(**bad)
    # forgetting one's own move: player 1 moves twice, second infoset merges both first moves
    with pytest.raises(ValueError, match="perfect recall"):
        EFG.from_arrays(parent=[-1, 0, 0, 1, 1, 2, 2], player=[0, 0, 0, T, T, T, T],
                        infoset=[0, 1, 1, -1, -1, -1, -1], utilities=np.zeros((7, 2)))
    with pytest.raises(ValueError, match="chance_prob is required"):
        EFG.from_arrays(**{k: v for k, v in spec.items() if k != "chance_prob"})
    with pytest.raises(TypeError, match="utilities"):
        EFG.from_arrays(parent=[-1, 0], player=[0, T], utilities="x")
    # the constructor checks chance probabilities as from_arrays does (it took Kuhn's deal
    # probabilities times 5 and negative ones; a break-tester's find)
    g = EFG.from_arrays(**spec)
    for factor in (5.0, -1.0):
        with pytest.raises(ValueError, match="chance_probs must be non-negative and sum to 1"):
            EFG(g.utilities, np.asarray(g.chance_probs) * factor, g.tree)


def test_policy_validation(kuhn):
    with pytest.raises(ValueError, match="shape"):
        solvers.nash_conv(kuhn, np.ones((12, 3)) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        solvers.nash_conv(kuhn, np.ones((12, 2)))
    bad = np.asarray(kuhn.uniform_policy()).copy()
    bad[0] = [1.5, -0.5]
    with pytest.raises(ValueError, match="non-negative"):
        solvers.exploitability(kuhn, bad)
    nan = np.asarray(kuhn.uniform_policy()).copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        solvers.nash_conv(kuhn, nan)
    with pytest.raises(TypeError, match="policy"):
        kuhn.policy_from_openspiel(object())
    with pytest.raises(ValueError, match="batch"):
        kuhn.with_utilities(np.zeros((5, 2)))


def _random_tree(seed, max_nodes=25):
    """A random two-player tree with chance, hidden information and perfect recall by design.

    Information-set keys are the acting player's full sequence of observations (her own actions
    and whatever she was shown), so histories in one infoset share her own action sequence.
    """
    rng = np.random.default_rng(seed)
    parent, player, infoset, prob, util = [], [], [], [], []
    keys: dict = {}

    def new(p, pl, key=None, pr=0.0):
        parent.append(p)
        player.append(pl)
        infoset.append(-1 if key is None else keys.setdefault(key, len(keys)))
        prob.append(pr)
        util.append(rng.integers(-3, 4, size=2).astype(float).tolist())
        return len(parent) - 1

    def grow(p, obs, depth):
        if depth >= 4 or len(parent) > max_nodes or (depth > 0 and rng.random() < 0.25):
            player[p] = T
            return
        kind = rng.choice([0, 1, C], p=[0.4, 0.4, 0.2]) if depth else C
        if kind == C:
            k = int(rng.integers(2, 4))
            pr = rng.dirichlet(np.ones(k))
            seen = rng.random(2) < 0.5
            player[p] = C
            for a in range(k):
                c = new(p, T, pr=float(pr[a]))
                grow(c, tuple(o + ((("c", a),) if seen[i] else (("c?",),)) for i, o in enumerate(obs)),
                     depth + 1)
        else:
            key = (int(kind), obs[kind])
            k = 2 + zlib.crc32(repr(key).encode()) % 2
            player[p] = int(kind)
            infoset[p] = keys.setdefault(key, len(keys))
            other_sees = rng.random() < 0.5
            for a in range(k):
                c = new(p, T)
                o = list(obs)
                o[kind] = o[kind] + (("a", a),)
                o[1 - kind] = o[1 - kind] + ((("o", a),) if other_sees else (("o?",),))
                grow(c, tuple(o), depth + 1)

    root = new(-1, T)
    grow(root, ((), ()), 0)
    return dict(parent=parent, player=player, infoset=infoset, chance_prob=prob,
                utilities=np.asarray(util))


@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_trees_best_response_and_values(seed):
    spec = _random_tree(seed)
    dec = np.asarray(spec["player"]) >= 0
    assume(dec.any())  # a tree of chance moves only is (rightly) refused
    ids = np.unique(np.asarray(spec["infoset"])[dec])
    remap = {int(s): k for k, s in enumerate(ids)}  # compact infoset ids
    spec["infoset"] = [remap.get(s, -1) if d else -1 for s, d in zip(spec["infoset"], dec)]
    g = EFG.from_arrays(**spec)
    per_player = [int(np.sum(g.infoset_player == i)) for i in range(2)]
    assume(max(per_player) <= 7)  # keep the brute force small
    pol = _random_policy(g, seed % 1000)
    np.testing.assert_allclose(solvers.best_response_gains(g, pol), _brute_force_gains(g, pol),
                               atol=1e-10)
    np.testing.assert_allclose(solvers.expected_values(g, pol), _tree_walk_values(spec, g, pol),
                               atol=1e-12)


def _tree_walk_values(spec, game, pol):
    """Expected utilities by a plain recursive walk over the node arrays (independent code)."""
    parent, player = np.asarray(spec["parent"]), np.asarray(spec["player"])
    children = {h: [c for c in range(len(parent)) if parent[c] == h] for h in range(len(parent))}

    def value(h):
        if player[h] == T:
            return np.asarray(spec["utilities"][h], float)
        kids = children[h]
        if player[h] == C:
            return sum(spec["chance_prob"][c] * value(c) for c in kids)
        return sum(pol[spec["infoset"][h], a] * value(c) for a, c in enumerate(kids))

    return value(int(np.flatnonzero(parent == -1)[0]))


# -- issue 8: with_utilities on games without chance nodes and under jit; immutable trees --
ENTRY = dict(parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
             utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])


def test_with_utilities_without_chance_nodes():
    g = EFG.from_arrays(**ENTRY)
    assert g.chance_probs.shape == (0, 1)
    u = np.asarray(g.utilities)
    one = g.with_utilities(2.0 * u)
    np.testing.assert_allclose(one.utilities, 2.0 * u)
    batch = g.with_utilities(np.stack([u, 3.0 * u]))
    assert batch.batch_shape == (2,) and batch.chance_probs.shape == (2, 0, 1)
    pol = np.array([[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(solvers.expected_values(batch, np.stack([pol, pol])),
                               [[1.0, 1.0], [3.0, 3.0]])


def test_with_utilities_on_a_traced_game(kuhn):
    # an unbatched game under jit (traced utilities and chance probabilities): no host check
    pol = kuhn.uniform_policy()
    scales = jnp.array([1.0, 2.0])

    @jax.jit
    def f(g):
        games = g.with_utilities(g.utilities * scales[:, None, None])
        return solvers.nash_conv(games, jnp.broadcast_to(pol, (2, *pol.shape)))

    np.testing.assert_allclose(f(kuhn), np.asarray(scales) * 11 / 12, atol=1e-12)
    # a batched game keeps its (equal) chance probabilities; traced ones cannot be checked
    games = kuhn.with_utilities(kuhn.utilities * scales[:, None, None])
    again = games.with_utilities(jnp.stack([games.utilities] * 2))
    assert again.batch_shape == (2, 2)
    with pytest.raises(ValueError, match="batch shape"):
        jax.jit(lambda g: g.with_utilities(g.utilities[None]).utilities)(games)
    varied = EFG(games.utilities, games.chance_probs * jnp.array([1.0, 0.0])[:, None, None]
                 + jnp.array([0.0, 1.0])[:, None, None] * jnp.flip(games.chance_probs, -1),
                 games.tree)
    with pytest.raises(ValueError, match="vary"):
        varied.with_utilities(jnp.stack([varied.utilities] * 2))


def test_compiled_tree_is_immutable(kuhn):
    tree = kuhn.tree
    with pytest.raises(AttributeError, match="immutable"):
        tree.num_players = 3
    with pytest.raises(ValueError, match="read-only"):
        tree.legal[0, 0] = False
    # the OpenSpiel game is kept (unhashed) from construction on
    assert tree._pyspiel_game is not None and hash(tree) == hash(kuhn.tree)


# -- backward induction (solvers.backward_induction; issue 10 moved it here) -------------------
def _perfect_information_tree(seed, max_nodes=30):
    """A random two-player perfect-information tree with chance; integer payoffs (many ties)."""
    rng = np.random.default_rng(seed)
    parent, player, prob, util = [], [], [], []

    def new(p, pr=0.0):
        parent.append(p)
        player.append(T)
        prob.append(pr)
        util.append(rng.integers(-3, 4, size=2).astype(float).tolist())
        return len(parent) - 1

    def grow(p, depth):
        if depth >= 4 or len(parent) > max_nodes or (depth > 0 and rng.random() < 0.3):
            return
        kind = int(rng.choice([0, 1, C], p=[0.4, 0.4, 0.2]))
        player[p] = kind
        k = int(rng.integers(2, 4))
        pr = rng.dirichlet(np.ones(k)) if kind == C else np.zeros(k)
        for a in range(k):
            grow(new(p, float(pr[a])), depth + 1)

    grow(new(-1), 0)
    return parent, player, prob, util


def _by_hand(parent, player, prob, util, node=0):
    """Kuhn's recursion: the mover takes its best child, ties to the lowest action."""
    kids = [h for h, p in enumerate(parent) if p == node]
    if player[node] == T:
        return np.asarray(util[node])
    vals = [_by_hand(parent, player, prob, util, h) for h in kids]
    if player[node] == C:
        return sum(prob[h] * v for h, v in zip(kids, vals))
    own = [v[player[node]] for v in vals]
    return vals[next(a for a, x in enumerate(own) if x >= max(own) - 1e-9)]


@pytest.mark.parametrize("seed", range(3))
def test_backward_induction_equals_kuhns_recursion(seed):
    from socialign.mechanisms import incomplete_contracts as ic

    parent, player, prob, util = _perfect_information_tree(seed)
    g = EFG.from_arrays(parent, player, util, chance_prob=prob)
    spe = solvers.backward_induction(g)
    assert int(spe.result) == 0
    np.testing.assert_allclose(spe.values, _by_hand(parent, player, prob, util), atol=1e-12)
    # a pure subgame-perfect policy is a Nash equilibrium of the tree
    assert float(solvers.nash_conv(g, spe.policy)) <= 1e-12
    assert ic.backward_induction is solvers.backward_induction  # the bargaining trees' re-export


def test_backward_induction_refuses_imperfect_information(kuhn):
    with pytest.raises(ValueError, match="perfect information"):
        solvers.backward_induction(kuhn)
    with pytest.raises(TypeError, match="ExtensiveFormGame"):
        solvers.backward_induction(np.zeros((2, 2)))
