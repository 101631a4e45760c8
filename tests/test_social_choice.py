"""Social choice: profiles, generators and voting rules against published values and pref_voting.

Ground truth: the Tennessee capital example and the small profiles of ORACLES.md (published
values), closed forms (Mallows' Kendall-tau law, the uniform single-peaked law), and
pref_voting 1.18 run side by side on random profiles (``ProfileWithTies``, pure Python: its
``Profile`` class compiles numba kernels for half a minute on first use). Variants compared:

- ``ranked_pairs`` vs pref_voting's ``ranked_pairs_tb`` (candidate-order tie-breaker);
- ``instant_runoff`` vs ``instant_runoff`` (all tied-last candidates eliminated together);
- ``schulze`` vs ``beat_path``; ``minimax`` vs ``minimax`` (margins); Copeland, Borda, plurality,
  Kemeny-Young, random dictatorship and (odd electorates, where it is unique) the maximal
  lottery.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign.kernel import Result
from socialign.mechanisms import social_choice as sc

RULES = {
    "plurality": sc.plurality,
    "borda": sc.borda,
    "copeland": sc.copeland,
    "minimax": sc.minimax,
    "schulze": sc.schulze,
    "ranked_pairs": sc.ranked_pairs,
    "instant_runoff": sc.instant_runoff,
    "kemeny_young": sc.kemeny_young,
    "maximal_lotteries": sc.maximal_lotteries,
    "random_dictatorship": sc.random_dictatorship,
}
MARGIN_RULES = ("copeland", "minimax", "schulze", "ranked_pairs", "kemeny_young")

TENNESSEE = ([[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], [42, 26, 15, 17])


def _pv():
    """pref_voting's rules, keyed as ours (imported lazily: pref_voting imports pandas)."""
    from pref_voting.c1_methods import copeland
    from pref_voting.iterative_methods import instant_runoff
    from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs_tb
    from pref_voting.other_methods import kemeny_young
    from pref_voting.probabilistic_methods import maximal_lottery, random_dictator
    from pref_voting.scoring_methods import borda, plurality

    return {
        "plurality": plurality, "borda": borda, "copeland": copeland, "minimax": minimax,
        "schulze": beat_path, "ranked_pairs": ranked_pairs_tb, "instant_runoff": instant_runoff,
        "kemeny_young": kemeny_young, "maximal_lotteries": maximal_lottery,
        "random_dictatorship": random_dictator,
    }


def _to_pv(ranks, counts, *, extended=False):
    """One of our profiles as a pref_voting ProfileWithTies (zero-count ballots dropped)."""
    from pref_voting.profiles_with_ties import ProfileWithTies

    ranks, counts = np.asarray(ranks), np.asarray(counts)
    m = ranks.shape[-1]
    keep = counts > 0
    ballots = [{c: int(r[c]) + 1 for c in range(m) if r[c] < m} for r in ranks[keep]]
    prof = ProfileWithTies(ballots, rcounts=[int(c) for c in counts[keep]],
                           candidates=list(range(m)))
    if extended:
        prof.use_extended_strict_preference()
    return prof


def _mask(cands, m):
    out = np.zeros(m, bool)
    out[list(cands)] = True
    return out


def _random_linear(rng, num_profiles, ballots, m, max_count=5):
    """Random distinct-or-not strict ballots with counts in [0, max_count], >= 1 voter."""
    orders = np.argsort(rng.random((num_profiles, ballots, m)), axis=-1)
    counts = rng.integers(0, max_count + 1, (num_profiles, ballots))
    counts[:, 0] = np.maximum(counts[:, 0], 1)
    return sc.Profile.from_orders(orders, counts.astype(float))


def _random_weak(rng, num_profiles, ballots, m):
    """Random ballots with ties and truncation: each candidate gets a level or is unranked."""
    levels = rng.integers(0, m, (num_profiles, ballots, m))
    unranked = rng.random((num_profiles, ballots, m)) < 0.25
    ranks = np.where(unranked, m, levels)
    counts = rng.integers(1, 4, (num_profiles, ballots)).astype(float)
    return sc.Profile(ranks, counts)


# the 3-candidate known profiles, with a fourth candidate (3) ranked last on every ballot so that
# they share the 4-candidate shape of the random batch (one compiled program per rule); a
# candidate everyone ranks last changes no winner, lottery or tie among the first three
CYCLE = ([[0, 1, 2, 3], [1, 2, 0, 3], [2, 0, 1, 3]], [1, 1, 1])
CONDORCET_NOT_BORDA = ([[0, 1, 2, 3], [1, 2, 0, 3]], [3, 2])


def _pad(orders, counts, ballots):
    """A small profile padded with zero-count ballots to ``ballots`` rows (shares a shape)."""
    m = len(orders[0])
    orders = list(orders) + [list(range(m))] * (ballots - len(orders))
    counts = list(counts) + [0] * (ballots - len(counts))
    return np.asarray(orders), np.asarray(counts, float)


def _with(known, rng, num, ballots, m):
    """Random linear profiles with the ``known`` ones first (one array shape per m)."""
    p = _random_linear(rng, num, ballots, m)
    ranks, counts = np.array(p.ranks), np.array(p.counts)
    for i, (orders, cnt) in enumerate(known):
        q = sc.Profile.from_orders(*_pad(orders, cnt, ballots))
        ranks[i], counts[i] = q.ranks, q.counts
    return sc.Profile(ranks, counts)


@pytest.fixture(scope="module")
def pv():
    return _pv()


@pytest.fixture(scope="module")
def batches():
    """One shape shared by every default test (each rule compiles once; the slow tests cover
    3, 5 and 7 candidates on thousands of profiles): Tennessee, the cycle and the
    Condorcet-not-Borda profile first, then random linear profiles."""
    rng = np.random.default_rng(0)
    return {4: _with([TENNESSEE, CYCLE, CONDORCET_NOT_BORDA], rng, 90, 7, 4)}


@pytest.fixture(scope="module")
def weak_batch():
    """Ballots with ties and truncation, in the 4-candidate shape."""
    return _random_weak(np.random.default_rng(1), 90, 7, 4)


@pytest.fixture(scope="module")
def ours(batches):
    """Every rule on every batch, one batched call each."""
    return {m: {name: rule(p) for name, rule in RULES.items()} for m, p in batches.items()}


def _row(out, i):
    return jax.tree_util.tree_map(lambda x: np.asarray(x[i]), out)


# ----------------------------------------------------------------------------- known values


def test_tennessee_published_winners(batches, ours):
    assert np.asarray(batches[4].counts[0, :4]).tolist() == [42, 26, 15, 17]
    out = {name: _row(o, 0) for name, o in ours[4].items()}  # M, N, C, K
    expect = {"plurality": 0, "instant_runoff": 3, "borda": 1, "copeland": 1, "minimax": 1,
              "schulze": 1, "ranked_pairs": 1, "kemeny_young": 1, "maximal_lotteries": 1}
    for name, winner in expect.items():
        assert out[name].winners.tolist() == _mask([winner], 4).tolist(), name
    assert out["borda"].scores.tolist() == [126.0, 194.0, 173.0, 107.0]
    assert np.asarray(sc.condorcet_winner(batches[4])[0]).tolist() == [False, True, False, False]
    assert out["kemeny_young"].ranking.tolist() == [3, 0, 1, 2]  # N > C > K > M
    assert out["schulze"].ranking.tolist() == [3, 0, 1, 2]
    assert out["random_dictatorship"].lottery.tolist() == pytest.approx([0.42, 0.26, 0.15, 0.17])


def test_condorcet_winner_is_not_the_borda_winner(batches, ours):
    out = {name: _row(o, 2) for name, o in ours[4].items()}
    assert np.asarray(sc.condorcet_winner(batches[4])[2]).tolist() == [True, False, False, False]
    # 6, 7, 2 among a, b, c, plus 5 each for the candidate every voter ranks last
    assert out["borda"].scores.tolist() == [11.0, 12.0, 7.0, 0.0]
    assert out["borda"].winners.tolist() == [False, True, False, False]
    for name in ("copeland", "kemeny_young", "schulze", "ranked_pairs", "minimax",
                 "maximal_lotteries"):
        assert out[name].winners.tolist() == [True, False, False, False], name
    assert out["maximal_lotteries"].lottery.tolist() == pytest.approx([1, 0, 0, 0], abs=1e-9)


def test_three_cycle_ties_everyone_and_the_maximal_lottery_is_uniform(batches, ours):
    out = {name: _row(o, 1) for name, o in ours[4].items()}
    for name in ("copeland", "minimax", "schulze", "kemeny_young", "instant_runoff",
                 "borda", "plurality"):
        assert out[name].winners.tolist() == [True, True, True, False], name
    assert out["maximal_lotteries"].lottery.tolist() == pytest.approx([1 / 3] * 3 + [0],
                                                                       abs=1e-9)
    assert int(out["maximal_lotteries"].result) == 0
    # ranked pairs is resolute: the cycle's margins are equal, so the tie-breaker decides
    assert out["ranked_pairs"].winners.tolist() == [True, False, False, False]
    tb = np.tile([1, 2, 0, 3], (90, 1))
    assert (np.asarray(sc.ranked_pairs(batches[4], tb).winners[1]).tolist()
            == [False, True, False, False])


def test_profile_matrices_by_hand():
    # ballots with ties and truncation: [1 | 0 2 | 3 unranked], [2 | rest unranked]
    p = sc.Profile.from_ballots([[1, (0, 2)], [2]], 4, counts=[2, 3])
    s = sc.support_matrix(p)
    # ballot 1 (2 voters): 1 > 0, 1 > 2, 1 > 3, 0 > 3, 2 > 3; ballot 2 (3 voters): 2 > 0, 1, 3
    expect = np.zeros((4, 4))
    expect[1, [0, 2, 3]] += 2
    expect[0, 3] += 2
    expect[2, 3] += 2
    expect[2, [0, 1, 3]] += 3
    assert s.tolist() == expect.tolist()
    assert sc.margin_matrix(p).tolist() == (expect - expect.T).tolist()
    assert sc.borda(p).scores.tolist() == expect.sum(1).tolist()
    assert sc.plurality(p).scores.tolist() == [0.0, 2.0, 3.0, 0.0]
    assert sc.condorcet_winner(p).tolist() == [False, False, True, False]
    assert sc.condorcet_loser(p).tolist() == [False, False, False, True]
    # a ballot with two candidates tied first splits its plurality vote
    q = sc.Profile.from_ballots([[(0, 1), 2]], 3, counts=[4])
    assert sc.plurality(q).scores.tolist() == [2.0, 2.0, 0.0]
    assert sc.random_dictatorship(q).lottery.tolist() == [0.5, 0.5, 0.0]


# ----------------------------------------------------------------------------- pref_voting


@pytest.mark.parametrize("name", sorted(set(RULES) - {"maximal_lotteries"}))
def test_rules_match_pref_voting_on_random_linear_profiles(name, pv, batches, ours):
    checked = 0
    for m, p in batches.items():
        out = ours[m]
        ranks, counts = np.asarray(p.ranks), np.asarray(p.counts)
        winners = np.asarray(out[name].winners)
        for i in range(p.batch_shape[0]):
            ref = pv[name](_to_pv(ranks[i], counts[i]))
            if isinstance(ref, dict):  # random dictatorship: a lottery
                want = np.array([ref[c] for c in range(m)])
                np.testing.assert_allclose(out[name].lottery[i], want, atol=1e-12)
                ref = [c for c in range(m) if ref[c] > 0]
            assert winners[i].tolist() == _mask(ref, m).tolist(), (name, i, ranks[i], counts[i])
            checked += 1
    assert checked == 90


def test_maximal_lottery_matches_pref_voting_when_unique(pv, batches, ours):
    for m, p in batches.items():
        ml = ours[m]["maximal_lotteries"]
        assert (np.asarray(ml.result) == 0).all()
        marg = np.asarray(sc.margin_matrix(p))
        lot = np.asarray(ml.lottery)
        # certificate: no lottery beats it in expectation, p^T M >= 0 column by column
        assert (np.einsum("nb,nbc->nc", lot, marg) >= -1e-9 * np.abs(marg).max()).all()
        odd = np.flatnonzero(np.asarray(p.num_voters) % 2 == 1)
        assert odd.size > 5
        for i in odd:
            ref = pv["maximal_lotteries"](_to_pv(p.ranks[i], p.counts[i]))
            np.testing.assert_allclose(lot[i], [ref[c] for c in range(m)], atol=1e-7)


@pytest.mark.parametrize("name", MARGIN_RULES)
def test_margin_rules_match_pref_voting_with_ties_and_truncation(name, pv, weak_batch):
    p = weak_batch
    out = RULES[name](p)
    for i in range(p.batch_shape[0]):
        ref = pv[name](_to_pv(p.ranks[i], p.counts[i], extended=True))
        assert np.asarray(out.winners[i]).tolist() == _mask(ref, 4).tolist(), (name, i)


def test_margin_graph_input_gives_the_same_outcome(batches, ours):
    p = batches[4]
    g = sc.MarginGraph.from_profile(p)
    np.testing.assert_array_equal(g.margins, sc.margin_matrix(p))
    np.testing.assert_array_equal(g.num_voters, p.num_voters)
    # the two code paths: a rule vmapped over margins, and the one batched LP solve
    for name in ("schulze", "maximal_lotteries"):
        out = RULES[name](g)
        for field in ("winners", "ranking", "lottery", "result"):
            np.testing.assert_allclose(getattr(out, field), getattr(ours[4][name], field),
                                       atol=1e-12, err_msg=name)
    # margins given without an electorate: the tolerance uses max |M| voters
    one = sc.MarginGraph([[0.0, 1.0], [-1.0, 0.0]])
    assert float(one.num_voters) == 1.0
    assert sc.minimax(one).winners.tolist() == [True, False]


# ----------------------------------------------------------------------------- transformations


def _agree(rule, p, batched, rows):
    jitted = jax.jit(rule)(p)
    mapped = jax.vmap(rule)(p)
    for i in rows:
        single = rule(p[i])
        for field in ("winners", "ranking", "lottery", "result"):
            want = np.asarray(getattr(batched, field)[i])
            np.testing.assert_allclose(getattr(single, field), want, atol=1e-9)
            np.testing.assert_allclose(getattr(jitted, field)[i], want, atol=1e-9)
            np.testing.assert_allclose(getattr(mapped, field)[i], want, atol=1e-9)
    chunked = rule(p, batch_size=16)
    np.testing.assert_array_equal(chunked.winners, np.asarray(batched.winners))


@pytest.mark.parametrize("name", ["instant_runoff"])
def test_eager_jit_and_vmap_agree(name, batches, ours):
    _agree(RULES[name], batches[4], ours[4][name], (0, 1, 7))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RULES))
def test_eager_jit_and_vmap_agree_every_rule(name, batches, ours):
    _agree(RULES[name], batches[4], ours[4][name], (0, 5, 17))


def test_ranked_pairs_tie_breaker_is_a_vmappable_leaf():
    p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    orders = jnp.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    winners = jax.vmap(lambda tb: sc.ranked_pairs(p, tb).winners)(orders)
    assert winners.tolist() == np.eye(3, dtype=bool).tolist()


def test_float32_counts():
    p = sc.Profile.from_orders(TENNESSEE[0], np.asarray(TENNESSEE[1], np.float32))
    out = sc.kemeny_young(p)
    assert out.lottery.dtype == jnp.float32 and out.scores.dtype == jnp.float32
    assert out.winners.tolist() == [False, True, False, False]


def test_one_candidate_wins_every_rule():
    """A single candidate: every rule elects it (ranked pairs raised an IndexError, a
    break-tester's find)."""
    p = sc.Profile.from_orders([[0]], [3.0])
    for name, rule in RULES.items():
        assert rule(p).winners.tolist() == [True], name


def test_float32_electorate_too_large_to_separate_one_vote():
    """3,000,001 voters split 1,500,001 to 1,500,000: in float32 the tie tolerance (lp_tol x
    voters) is 2.9 votes, so every rule tied the two and ranked pairs with a tie-breaker
    elected the Condorcet loser (a break-tester's find). Refused eagerly, FAILED under jit;
    400,001 voters (tolerance 0.38 votes) still separate the one-vote lead."""
    orders = [[0, 1], [1, 0]]
    big = np.asarray([1_500_001, 1_500_000], np.float32)
    for rule in (sc.plurality, sc.copeland):
        with pytest.raises(ValueError, match=r"3,000,001 voters in float32.*float64"):
            rule(sc.Profile.from_orders(orders, big))
    f = jax.jit(lambda c: sc.plurality(sc.Profile.from_orders(orders, c)).result)
    assert int(f(jnp.asarray(big))) == Result.FAILED
    assert int(f(jnp.asarray([3.0, 2.0], jnp.float32))) == Result.CONVERGED
    ok = sc.Profile.from_orders(orders, np.asarray([200_001, 200_000], np.float32))
    assert sc.plurality(ok).winners.tolist() == [True, False]
    assert sc.copeland(ok).winners.tolist() == [True, False]


# ----------------------------------------------------------------------------- errors


def test_boundary_errors():
    with pytest.raises(TypeError, match="profile"):
        sc.borda(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="candidate 1.7 is not an integer"):   # was candidate 1
        sc.Profile.from_ballots([[1.7]], 3)
    with pytest.raises(ValueError, match="ranks must lie"):
        sc.Profile([[0, 5, 1]])
    with pytest.raises(ValueError, match="counts must have shape"):
        sc.Profile([[0, 1, 2]], counts=[1, 2])
    with pytest.raises(ValueError, match="counts must be non-negative"):
        sc.Profile([[0, 1, 2]], counts=[-1])
    with pytest.raises(ValueError, match="lists a candidate twice"):
        sc.Profile.from_orders([[0, 0, 1]])
    with pytest.raises(ValueError, match="followed by a candidate"):
        sc.Profile.from_orders([[0, -1, 1]])
    with pytest.raises(ValueError, match="permutation"):
        sc.ranked_pairs(sc.Profile.from_orders([[0, 1, 2]]), tie_breaker=[0, 0, 1])
    with pytest.raises(ValueError, match="at most 12 candidates"):
        sc.kemeny_young(sc.Profile.from_orders([list(range(13))]))
    with pytest.raises(ValueError, match="batch_size"):
        sc.borda(sc.Profile.from_orders([[0, 1]]), batch_size=0)
    with pytest.raises(TypeError, match="Profile or MarginGraph"):
        sc.schulze(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="skew-symmetric"):
        sc.MarginGraph([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=r"\[\*batch, m, m\]"):
        sc.MarginGraph([[0.0, 1.0]])
    with pytest.raises(ValueError, match="num_voters must have shape"):
        sc.MarginGraph([[0.0, 1.0], [-1.0, 0.0]], num_voters=[1.0, 2.0])
    with pytest.raises(ValueError, match="dispersion"):
        sc.mallows(jax.random.key(0), 3, 3, 1.5)


# ----------------------------------------------------------------------------- generators


def test_mallows_kendall_tau_law():
    m, n = 4, 8000
    phi = 0.5
    p = sc.mallows(jax.random.key(3), n, m, phi, reference=[3, 1, 0, 2])
    r = np.asarray(p.ranks)
    ref_pos = np.argsort([3, 1, 0, 2])  # reference position of each candidate
    disc = sum((r[:, a] > r[:, b]) != (ref_pos[a] > ref_pos[b])
               for a in range(m) for b in range(a + 1, m))
    emp = np.bincount(disc, minlength=7) / n
    exact = np.zeros(7)
    for perm in itertools.permutations(range(m)):
        d = sum((perm.index(a) > perm.index(b)) for a in range(m) for b in range(a + 1, m))
        exact[d] += phi**d
    exact /= exact.sum()
    assert np.abs(emp - exact).max() < 0.02
    assert sc.mallows(jax.random.key(0), 5, 4, 0.0).ranks.tolist() == [[0, 1, 2, 3]] * 5


def test_single_peaked_is_uniform_on_single_peaked_rankings():
    m, n = 4, 8000
    r = np.asarray(sc.single_peaked(jax.random.key(4), n, m).ranks)
    orders = np.argsort(r, axis=-1)
    for o in orders[:200]:  # single-peaked: the top-k sets are intervals of the axis
        for k in range(1, m + 1):
            top = np.sort(o[:k])
            assert top[-1] - top[0] == k - 1
    _, freq = np.unique(r, axis=0, return_counts=True)
    assert len(freq) == 2 ** (m - 1)
    assert np.abs(freq / n - 1 / 8).max() < 0.02


def test_impartial_culture_and_urn():
    m, n = 3, 3000
    ic = np.asarray(sc.impartial_culture(jax.random.key(5), n, m).ranks)
    _, freq = np.unique(ic, axis=0, return_counts=True)
    assert len(freq) == math.factorial(m) and np.abs(freq / n - 1 / 6).max() < 0.035
    urn0 = np.asarray(sc.polya_urn(jax.random.key(6), n, m, 0.0).ranks)
    _, freq = np.unique(urn0, axis=0, return_counts=True)
    assert np.abs(freq / n - 1 / 6).max() < 0.035
    # a large alpha: nearly everyone copies the first voter (the same compiled shape as urn0)
    urn = sc.polya_urn(jax.random.key(7), n, m, 1e4)
    agree = (urn.ranks == urn.ranks[:1]).all(-1).mean()
    assert float(agree) > 0.99
    keys = jax.random.split(jax.random.key(8), 2)
    batched = jax.jit(jax.vmap(lambda k, a: sc.polya_urn(k, 7, 4, a).ranks))(
        keys, jnp.array([0.0, 2.0]))
    assert batched.shape == (2, 7, 4)


# ----------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_rules_match_pref_voting_on_thousands_of_profiles(pv):
    rng = np.random.default_rng(11)
    for m, ballots, num in ((3, 5, 800), (5, 9, 800), (7, 15, 400)):
        p = _random_linear(rng, num, ballots, m, max_count=9)
        for name, rule in RULES.items():
            out = rule(p)
            for i in range(num):
                ref = pv[name](_to_pv(p.ranks[i], p.counts[i]))
                if isinstance(ref, dict):
                    if name == "maximal_lotteries":
                        if int(p.num_voters[i]) % 2 == 0:
                            continue
                        np.testing.assert_allclose(out.lottery[i], [ref[c] for c in range(m)],
                                                   atol=1e-7)
                        continue
                    ref = [c for c in range(m) if ref[c] > 0]
                assert np.asarray(out.winners[i]).tolist() == _mask(ref, m).tolist(), (name, i)


# ----------------------------------------------------------------------------- axioms


def _pv_winners(pv, name, profile):
    return _mask(pv[name](_to_pv(profile.ranks, profile.counts)), profile.num_candidates)


def test_plurality_violates_condorcet_and_schulze_does_not(pv):
    key = jax.random.key(0)
    cx = sc.find_violation(sc.plurality, "condorcet_winner", key, num_profiles=32,
                           num_voters=7, num_candidates=3)
    assert cx is not None
    cw = np.asarray(sc.condorcet_winner(cx.profile))
    assert cw.any() and cx.winners.tolist() != cw.tolist()
    assert cx.winners.tolist() == _pv_winners(pv, "plurality", cx.profile).tolist()
    assert sc.find_violation(sc.schulze, "condorcet_winner", key, num_profiles=32,
                             num_voters=7, num_candidates=3) is None
    # the same profiles: Schulze passes where plurality fails
    check = sc.check_axiom(sc.schulze, "condorcet_winner", cx.profile)
    assert not bool(check.violated)


@pytest.mark.slow
def test_instant_runoff_is_not_monotonic(pv):
    cx = sc.find_violation(sc.instant_runoff, "monotonicity", jax.random.key(0),
                           num_profiles=8, num_voters=17, num_candidates=3)
    assert cx is not None and cx.axiom == "monotonicity"
    w = int(np.argmax(cx.winners))
    # the witness raises w on one voter's ballot and nothing else
    before, after = np.asarray(cx.profile.ranks), np.asarray(cx.witness.ranks)
    counts_after = np.asarray(cx.witness.counts)
    k = int(np.flatnonzero(np.asarray(cx.profile.counts) != counts_after[:-1])[0])
    assert counts_after[-1] == 1 and after[-1, w] == before[k, w] - 1
    assert not cx.witness_winners[w]
    # pref_voting agrees on both elections
    assert cx.winners.tolist() == _pv_winners(pv, "instant_runoff", cx.profile).tolist()
    assert (cx.witness_winners.tolist()
            == _pv_winners(pv, "instant_runoff", cx.witness).tolist())


def test_condorcet_loser_and_pareto():
    # 3 a>b>c, 2 b>c>a, 2 c>b>a: plurality elects a, whom b and c each beat 4-3
    p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 1, 0]], counts=[3, 2, 2])
    assert sc.condorcet_loser(p).tolist() == [True, False, False]
    assert bool(sc.check_axiom(sc.plurality, "condorcet_loser", p).violated)
    assert not bool(sc.check_axiom(sc.copeland, "condorcet_loser", p).violated)
    # instant runoff eliminates b and c together (tied last) and elects the loser too
    assert bool(sc.check_axiom(sc.instant_runoff, "condorcet_loser", p).violated)
    key = jax.random.key(0)
    assert sc.find_violation(sc.plurality, "condorcet_winner", key, num_profiles=32,
                             num_voters=7, num_candidates=3) is not None
    assert sc.find_violation(sc.borda, "pareto", key, num_profiles=32, num_voters=7,
                             num_candidates=3) is None
    # candidate 2 is dominated by 0: plurality (strict ballots) never elects it
    q = sc.Profile.from_orders([[0, 2, 1], [1, 0, 2]])
    assert bool(sc.check_axiom(sc.plurality, "pareto", q).violated) is False


@pytest.mark.slow
def test_instant_runoff_violates_participation():
    key = jax.random.key(0)
    cx = sc.find_violation(sc.instant_runoff, "participation", key, num_profiles=256,
                           num_voters=17, num_candidates=3)
    assert cx is not None
    # the abstaining voter ranks every new winner above every old one
    k = int(np.flatnonzero(np.asarray(cx.profile.counts) != np.asarray(cx.witness.counts)[:-1])[0])
    r = np.asarray(cx.profile.ranks[k])
    assert r[cx.witness_winners].max() < r[cx.winners].min()


def test_axiom_errors():
    p = sc.Profile.from_orders([[0, 1]])
    with pytest.raises(ValueError, match="axiom"):
        sc.check_axiom(sc.borda, "anonymity", p)
    with pytest.raises(ValueError, match="culture"):
        sc.find_violation(sc.borda, "pareto", jax.random.key(0), culture="uniform")
