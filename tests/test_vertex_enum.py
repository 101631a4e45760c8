"""Tests for solvers/_vertex_enum.py: every extreme equilibrium of a bimatrix game.

Three references: the oracle values (a degenerate 3x2 game with 3 extreme equilibria, von
Stengel's 6x6 game with 75), an exact rational oracle written here (brute force over every
support and best-response set, solving the indifference systems in fractions and keeping the
systems with a unique solution, i.e. the vertices), and pygambit's ``enummixed`` (Avis et al.'s
own method in exact arithmetic, with its cliques) side by side.
"""

import itertools
from fractions import Fraction

import jax
import nashpy
import numpy as np
import pygambit as gbt  # the reference implementation side by side (a dev-extra dependency)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from socialign import solvers
from socialign.solvers import Result
from socialign.solvers._vertex_enum import _enumerate_one

DEGENERATE_A = [[3, 3], [2, 5], [0, 6]]
DEGENERATE_B = [[3, 3], [2, 6], [3, 1]]

# von Stengel (1999), "New maximal numbers of equilibria in bimatrix games": the 6x6 game with
# 75 equilibria in the small-payoff version of Savani and von Stengel (2006) (Gambit's catalog,
# journals/dcg/vonstengel1999/6x6_game_with_75_eq_small_payoffs.nfg)
# and the original large-payoff version of von Stengel (1997) (same folder,
# 6x6_game_with_75_eq.nfg): payoff pairs per profile, the row index varying fastest
VS75_ORIGINAL = [
    9504, 72336, -111771, -461736, 397584, 1227336, 171204, -1718376, 1303104, 1303104, 737154,
    -453420, -660, 48081, 31680, -300036, -113850, 774576, -45936, -1039236, -453420, 737154,
    -227040, -227040, 19976, 29216, -130944, -178761, 451176, 451176, 208626, -586476, 1227336,
    397584, 774576, -113850, -20526, 14124, 168124, -84436, -586476, 208626, -263076, -263076,
    -1718376, 171204, -1039236, -45936, 1776, 1776, -8514, -8976, 29216, 19976, 14124, -20526,
    72336, 9504, 48081, -660, -8976, -8514, 52764, 52764, -178761, -130944, -84436, 168124,
    -461736, -111771, -300036, 31680
]


def _vs75(original=False):
    """The 75-equilibrium game (profiles listed with the row index varying fastest)."""
    if original:
        arr = np.array(VS75_ORIGINAL, float).reshape(6, 6, 2)  # [column, row, player]
        return arr[:, :, 0].T, arr[:, :, 1].T
    pays = [(-81, 72), (-180, -180), (20, 297), (-30, -333), (270, 270), (90, -153), (36, 36),
            (72, -81), (-3, 126), (17, -126), (-153, 90), (-36, -36), (-126, 17), (-333, -30),
            (42, 42), (-33, -33), (297, 20), (126, -3), (126, -3), (297, 20), (-33, -33),
            (42, 42), (-333, -30), (-126, 17), (-36, -36), (-153, 90), (17, -126), (-3, 126),
            (72, -81), (36, 36), (90, -153), (270, 270), (-30, -333), (20, 297), (-180, -180),
            (-81, 72)]
    arr = np.array(pays, float).reshape(6, 6, 2)  # [column, row, player]
    return arr[:, :, 0].T, arr[:, :, 1].T


# -- the exact oracle ----------------------------------------------------------------------------
def _solve_exact(rows, rhs, k):
    """The unique solution of ``rows z = rhs`` (``k`` unknowns, fractions), or None."""
    M = [list(r) + [b] for r, b in zip(rows, rhs)]
    piv_cols, r = [], 0
    for c in range(k):
        p = next((i for i in range(r, len(M)) if M[i][c] != 0), None)
        if p is None:
            return None  # a free variable: not unique
        M[r], M[p] = M[p], M[r]
        M[r] = [v / M[r][c] for v in M[r]]
        for i in range(len(M)):
            if i != r and M[i][c] != 0:
                f = M[i][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[r])]
        piv_cols.append(c)
        r += 1
    if any(M[i][k] != 0 for i in range(r, len(M))):
        return None  # inconsistent
    return [M[i][k] for i in range(k)]


def _exact_vertices(P):
    """Vertices ``x`` of ``{(x, v): x in simplex, P^T x <= v}`` (P: [m, n] payoffs of the other
    player), with their supports and best-response sets, by brute force over (I, K)."""
    m, n = len(P), len(P[0])
    out = {}
    for ki in range(1, m + 1):
        for I in itertools.combinations(range(m), ki):
            for kk in range(1, n + 1):
                for K in itertools.combinations(range(n), kk):
                    rows, rhs = [], []
                    for i in range(m):
                        if i not in I:
                            rows.append([Fraction(int(i == t)) for t in range(m)] + [0])
                            rhs.append(Fraction(0))
                    for j in K:
                        rows.append([Fraction(P[i][j]) for i in range(m)] + [Fraction(-1)])
                        rhs.append(Fraction(0))
                    rows.append([Fraction(1)] * m + [Fraction(0)])
                    rhs.append(Fraction(1))
                    z = _solve_exact(rows, rhs, m + 1)
                    if z is None or min(z[:m]) < 0:
                        continue
                    x, v = tuple(z[:m]), z[m]
                    vals = [sum(P[i][j] * x[i] for i in range(m)) for j in range(n)]
                    if max(vals) > v:
                        continue
                    out[x] = ({i for i in range(m) if x[i] > 0},
                              {j for j in range(n) if vals[j] == v})
    return out


def exact_extreme_equilibria(A, B):
    """Exact extreme equilibria and degeneracy of the bimatrix game ``(A, B)``."""
    A = [[Fraction(int(a)) for a in row] for row in A]
    B = [[Fraction(int(b)) for b in row] for row in B]
    BT_rows = B  # P for the row player's mixed strategies: payoffs of the column player
    AT = [list(col) for col in zip(*A)]
    X = _exact_vertices(BT_rows)  # x -> (supp x, BR_2(x))
    Y = _exact_vertices(AT)  # y -> (supp y, BR_1(y))
    degenerate = any(len(br) > len(s) for s, br in list(X.values()) + list(Y.values()))
    eqs = [(x, y) for x, (sx, brx) in X.items() for y, (sy, bry) in Y.items()
           if sx <= bry and sy <= brx]
    return eqs, degenerate


# -- helpers -------------------------------------------------------------------------------------
def _points(eqs, k=None):
    x, y = (np.asarray(s) for s in eqs.strategies)
    c = np.asarray(eqs.count)
    if k is not None:
        x, y, c = x[k], y[k], c[k]
    return [(x[e], y[e]) for e in range(int(c))]


def _index_of(points, p, atol=1e-9):
    hits = [e for e, q in enumerate(points)
            if np.abs(np.asarray(p[0], float) - q[0]).max() <= atol
            and np.abs(np.asarray(p[1], float) - q[1]).max() <= atol]
    assert len(hits) <= 1, "duplicate extreme equilibria"
    return hits[0] if hits else None


def _same_points(ours, ref, atol=1e-9):
    return len(ours) == len(ref) and all(_index_of(ours, r, atol) is not None for r in ref)


def _cliques(eqs, k=None):
    cl = np.asarray(eqs.cliques)
    n = np.asarray(eqs.num_cliques)
    if k is not None:
        cl, n = cl[k], n[k]
    return {frozenset(np.flatnonzero(cl[c]).tolist()) for c in range(int(n))}


def _gambit_game(A, B):
    return gbt.StrategicGame.from_arrays(np.asarray(A, int), np.asarray(B, int))


def _gambit_profile(game, prof):
    def probs(label):
        ms = prof[label]
        return [float(v) for _, v in ms]  # (strategy label, probability) pairs

    labels = list(game.players)
    return np.array(probs(labels[0])), np.array(probs(labels[1]))


def _gambit(A, B, rational=True):
    """pygambit's enummixed: the extreme equilibria and the cliques (as point sets).

    enummixed lists some extreme equilibria of degenerate games twice (seen on 10x10 games),
    so its list is made distinct.
    """
    g = _gambit_game(A, B)
    res = gbt.nash.enummixed_solve(g, rational=rational, cliques=True)
    points = []
    for prof in res.equilibria:
        p = _gambit_profile(g, prof)
        if _index_of(points, p) is None:
            points.append(p)
    cliques = [[_gambit_profile(g, p) for p in clique] for clique in res.cliques]
    return points, cliques


# -- tests ---------------------------------------------------------------------------------------
def test_degenerate_oracle_game():
    g = solvers.NormalFormGame.from_bimatrix(DEGENERATE_A, DEGENERATE_B)
    eqs = solvers.extreme_equilibria(g)
    assert int(eqs.count) == 3 and bool(eqs.degenerate)
    assert int(eqs.result) == Result.CONVERGED
    pts = _points(eqs)
    expected = [((1, 0, 0), (2 / 3, 1 / 3)), ((1, 0, 0), (1, 0)), ((0, 1 / 3, 2 / 3), (1 / 3, 2 / 3))]
    assert _same_points(pts, expected)
    # the first two lie on one edge (row 0 against every y with y_0 >= 2/3): one clique
    a, b, c = (_index_of(pts, p) for p in expected)
    assert _cliques(eqs) == {frozenset({a, b}), frozenset({c})}
    assert int(eqs.num_components) == 2
    comp = np.asarray(eqs.component)
    assert comp[a] == comp[b] != comp[c]
    np.testing.assert_allclose(np.asarray(eqs.values)[c], [4.0, 8 / 3], atol=1e-12)
    assert float(np.max(np.asarray(eqs.nash_conv))) < 1e-12


def test_nondegenerate_matches_nashpy():
    rng = np.random.default_rng(0)
    games = [([[3, 0], [0, 2]], [[2, 0], [0, 3]]), (rng.normal(size=(4, 5)), rng.normal(size=(4, 5)))]
    for A, B in games:
        g = solvers.NormalFormGame.from_bimatrix(A, B)
        ours = solvers.extreme_equilibria(g)
        assert not bool(ours.degenerate)
        ref = list(nashpy.Game(np.asarray(A), np.asarray(B)).vertex_enumeration())
        assert _same_points(_points(ours), ref, atol=1e-8)
        # a nondegenerate game's equilibria are isolated: one clique and component each
        assert int(ours.num_cliques) == int(ours.count) == int(ours.num_components)


@pytest.mark.parametrize("original", [False, True])
def test_von_stengel_75(original):
    A, B = _vs75(original)
    eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
    assert int(eqs.count) == 75
    assert not bool(eqs.degenerate)
    assert int(eqs.result) == Result.CONVERGED
    assert int(eqs.num_cliques) == 75


def test_von_stengel_75_against_gambit():
    """The original large-payoff version against pygambit's enummixed, point by point."""
    A, B = _vs75(original=True)
    gg = _gambit_game(A, B)
    eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
    assert int(eqs.count) == 75 and not bool(eqs.degenerate)
    res = gbt.nash.enummixed_solve(gg, rational=False)
    ref = [_gambit_profile(gg, p) for p in res.equilibria]
    assert _same_points(_points(eqs), ref, atol=1e-7)


def _random_tie_games(seed, count):
    rng = np.random.default_rng(seed)
    shapes = [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3)]
    games = []
    for k in range(count):
        m, n = shapes[k % len(shapes)]
        hi = 2 + k % 3  # payoffs in {0..hi}: many ties, degenerate games and continua
        games.append((rng.integers(0, hi + 1, (m, n)), rng.integers(0, hi + 1, (m, n))))
    return games


def test_against_exact_rational_oracle():
    degenerate_seen = 0
    for A, B in _random_tie_games(1, 24):
        eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
        ref, degenerate = exact_extreme_equilibria(A, B)
        ref = [(np.array([float(v) for v in x]), np.array([float(v) for v in y])) for x, y in ref]
        assert _same_points(_points(eqs), ref), (A, B)
        assert bool(eqs.degenerate) == degenerate, (A, B)
        assert int(eqs.result) == Result.CONVERGED
        degenerate_seen += degenerate
    assert degenerate_seen >= 8  # the sample does exercise degenerate games


def test_against_gambit_enummixed_with_cliques():
    for A, B in _random_tie_games(2, 18):
        eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
        ref, ref_cliques = _gambit(A, B)
        pts = _points(eqs)
        assert _same_points(pts, ref), (A, B)
        theirs = {frozenset(_index_of(pts, p) for p in clique) for clique in ref_cliques}
        assert _cliques(eqs) == theirs, (A, B)


def test_pivoting_search_equals_all_bases():
    """The two vertex searches (every basis; feasible pivots from 0) agree, degenerate or not."""
    def key(run):
        return sorted((tuple(np.round(x, 9)), tuple(np.round(y, 9)))
                      for x, y in zip(run["x"], run["y"]))

    games = _random_tie_games(4, 18) + [_vs75()]
    for A, B in games:
        A, B = np.asarray(A, float), np.asarray(B, float)
        full = _enumerate_one(A, B, 1e-9, 10**5, "bases")
        pivots = _enumerate_one(A, B, 1e-9, 10**5, "pivoting")
        assert key(full) == key(pivots)
        assert full["degenerate"] == pivots["degenerate"]
        assert len(full["members"]) == len(pivots["members"])


@pytest.mark.parametrize("seed, size, low, high", [(5, 8, -50, 50), (6, 7, 0, 2)])
def test_larger_games_against_gambit(seed, size, low, high):
    """Games past the all-bases threshold (the pivoting search) against enummixed."""
    rng = np.random.default_rng(seed)
    A, B = rng.integers(low, high, (size, size)), rng.integers(low, high, (size, size))
    eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
    ref, ref_cliques = _gambit(A, B, rational=False)
    pts = _points(eqs)
    assert len(pts) >= 15 and _same_points(pts, ref, atol=1e-8)
    theirs = {frozenset(_index_of(pts, p, 1e-8) for p in clique) for clique in ref_cliques}
    assert _cliques(eqs) == theirs
    assert int(eqs.result) == Result.CONVERGED


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1),
       scale=st.tuples(st.floats(1e-3, 1e4), st.floats(1e-3, 1e4)),
       shift=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)))
def test_invariant_to_scaling_and_shifting_payoffs(seed, scale, shift):
    # shifts are in units of the scale (up to 1e4 payoff ranges): a larger shift would round
    # the payoffs themselves by more than the tolerance (the input, not the method, changes)
    rng = np.random.default_rng(seed)
    m, n = rng.integers(2, 4, size=2)
    A, B = rng.integers(0, 3, (m, n)), rng.integers(0, 3, (m, n))
    base = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
    moved = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(
        scale[0] * (A + shift[0]), scale[1] * (B + shift[1])))
    pb, pm = _points(base), _points(moved)
    assert _same_points(pm, pb, atol=1e-8)
    assert bool(moved.degenerate) == bool(base.degenerate)
    relabel = [_index_of(pm, p, 1e-8) for p in pb]
    assert {frozenset(relabel[e] for e in c) for c in _cliques(base)} == _cliques(moved)


def test_dominated_outlier_does_not_blur_the_game():
    """Matching pennies plus a "disaster" row at -big (strictly dominated): exactly one
    equilibrium, ((1/2, 1/2, 0), (1/2, 1/2)), as exact enumeration (Gambit's enummixed) finds.
    With the outlier in the payoff range that tol is relative to, pure profiles of matching
    pennies (regret 2) came back as equilibria, CONVERGED, and at 1e10 the true one was lost
    (a break-tester's find). Random games with a dominated outlier row: the game without it."""
    mp = np.array([[1.0, -1.0], [-1.0, 1.0]])
    for big in (1e9, 1e10, 1e14):
        A = np.vstack([mp, [-big, -big]])
        eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, -np.vstack(
            [mp, [0.0, 0.0]])))
        assert int(eqs.count) == 1 and int(eqs.result) == Result.CONVERGED
        np.testing.assert_allclose(eqs.strategies[0][0], [0.5, 0.5, 0.0], atol=1e-12)
        np.testing.assert_allclose(eqs.strategies[1][0], [0.5, 0.5], atol=1e-12)
    for A, B in _random_tie_games(4, 6):
        A, B = np.asarray(A, float), np.asarray(B, float)
        ref = _points(solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B)))
        A2 = np.vstack([A, np.full(A.shape[1], A.min() - 1e12)])
        B2 = np.vstack([B, B.min(0)])
        pts = _points(solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A2, B2)))
        assert _same_points([(x[:-1], y) for x, y in pts], ref, atol=1e-9), (A, B)
        assert all(x[-1] == 0 for x, _ in pts)


def test_batch_equals_loop_and_pads():
    games = [(np.asarray(A, float), np.asarray(B, float)) for A, B in _random_tie_games(3, 12)
             if np.shape(A) == (3, 3)][:4]
    games.append((np.asarray(DEGENERATE_A, float)[:, [0, 1, 1]],
                  np.asarray(DEGENERATE_B, float)[:, [0, 1, 1]]))
    batch = solvers.NormalFormGame.from_bimatrix(np.stack([a for a, _ in games]),
                                                 np.stack([b for _, b in games]))
    eqs = solvers.extreme_equilibria(batch)
    assert eqs.count.shape == (len(games),)
    E = eqs.valid.shape[-1]
    assert E == int(np.max(np.asarray(eqs.count)))
    for k, (A, B) in enumerate(games):
        one = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
        assert int(eqs.count[k]) == int(one.count)
        np.testing.assert_array_equal(np.asarray(eqs.strategies[0][k, : int(one.count)]),
                                      np.asarray(one.strategies[0]))
        assert not np.any(np.asarray(eqs.valid[k, int(one.count):]))
        assert np.all(np.asarray(eqs.component[k, int(one.count):]) == -1)
        assert _cliques(eqs, k) == _cliques(one)
        assert bool(eqs.degenerate[k]) == bool(one.degenerate)


def test_continuum_cliques_and_pytree():
    # column player indifferent when row plays 0: a segment of equilibria, one clique of two
    g = solvers.NormalFormGame.from_bimatrix([[1, 1], [0, 0]], [[1, 1], [0, 1]])
    eqs = solvers.extreme_equilibria(g)
    assert int(eqs.count) == 2 and bool(eqs.degenerate)
    assert _cliques(eqs) == {frozenset({0, 1})} and int(eqs.num_components) == 1
    # a result is a pytree: it goes through jit
    total = jax.jit(lambda e: e.strategies[1].sum() + e.count)(eqs)
    assert float(total) == 4.0
    # a fully mixed 2x2 continuum: every profile of a constant game is an equilibrium
    const = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(np.ones((2, 3)),
                                                                             np.zeros((2, 3))))
    assert int(const.count) == 6 and int(const.num_cliques) == 1
    assert int(const.num_components) == 1


def test_errors():
    with pytest.raises(TypeError, match="game"):
        solvers.extreme_equilibria(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="two-player"):
        solvers.extreme_equilibria(solvers.NormalFormGame(np.ones((3, 2, 2, 2)), 3))
    rng = np.random.default_rng(0)
    g = solvers.NormalFormGame.from_bimatrix(rng.normal(size=(8, 8)), rng.normal(size=(8, 8)))
    with pytest.raises(ValueError, match="max_bases"):
        solvers.extreme_equilibria(g, max_bases=20)
    with pytest.raises(ValueError, match="tol"):
        solvers.extreme_equilibria(g, tol=-1.0)
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda p: solvers.extreme_equilibria(solvers.NormalFormGame(p, 2)).count)(
            np.ones((2, 2, 2)))
