"""Stackelberg equilibria: ORACLES (Conitzer-Sandholm), batching, Nash bound, Bayesian types.

All games are 2 x 3 (oracle games padded with a follower action that is strictly dominated for
the follower, which changes no commitment) so that the LP batch compiles once.
"""

import numpy as np
import pytest
from socialign import solvers
from socialign.solvers import NormalFormGame, Result

ORACLE_A = np.array([[[2, 4, 0], [1, 3, 0]], [[3, 9, 0], [9, 1, 0]]], float)
ORACLE_B = np.array([[[1, 0, -99], [0, 1, -99]], [[0, 0, -99], [1, 8, -99]]], float)


def exact_sse_2rows(A, B, types=None, probs=None):
    """Leader's optimum over commitments (p, 1-p): the value is piecewise linear in p with
    kinks where some follower type is indifferent, so checking every kink and end point (from
    both sides, ties broken for the leader) is exact."""
    As, Bs = (A[None], B[None]) if types is None else (A, B)
    probs = np.ones(1) if probs is None else probs
    cands = {0.0, 1.0}
    for Bt in Bs:
        d = Bt[0] - Bt[1]  # x.B_j = Bt[1, j] + p d_j
        for j in range(d.size):
            for k in range(d.size):
                if abs(d[j] - d[k]) > 1e-15:
                    p = (Bt[1, k] - Bt[1, j]) / (d[j] - d[k])
                    if 0 <= p <= 1:
                        cands.add(p)
    best = -np.inf
    for p in cands:
        x = np.array([p, 1 - p])
        v = 0.0
        for At, Bt, w in zip(As, Bs, probs):
            fv = x @ Bt
            ties = np.flatnonzero(fv >= fv.max() - 1e-12)
            v += w * max(x @ At[:, j] for j in ties)
        best = max(best, v)
    return best


def random_batch(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(12, 2, 3))
    B = rng.normal(size=(12, 2, 3))
    A[:2], B[:2] = ORACLE_A, ORACLE_B
    return A, B


def test_oracles_and_random_games():
    A, B = random_batch(0)
    g = NormalFormGame.from_bimatrix(A, B)
    eq = solvers.stackelberg(g)
    assert np.all(np.asarray(eq.result) == Result.CONVERGED)
    # ORACLES.md: commit to (1/2, 1/2) for 3.5; commit to (1, 0) for 9
    np.testing.assert_allclose(eq.strategies[0][:2], [[0.5, 0.5], [1.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(eq.values[:2, 0], [3.5, 9.0], atol=1e-7)
    np.testing.assert_array_equal(eq.stats["follower_action"][:2], [1, 1])
    for i in range(12):
        assert float(eq.values[i, 0]) == pytest.approx(exact_sse_2rows(A[i], B[i]), abs=1e-7)
    # the column player as leader: the transposed game gives the same answer
    gt = NormalFormGame.from_bimatrix(np.swapaxes(B, -1, -2), np.swapaxes(A, -1, -2))
    eqt = solvers.stackelberg(gt, leader=1)
    np.testing.assert_allclose(eqt.values[:, 1], eq.values[:, 0], atol=1e-7)


@pytest.mark.slow  # support enumeration of every Nash equilibrium of 12 games: ~15 s on 2 cores
def test_commitment_never_hurts_against_every_nash_equilibrium():
    A, B = random_batch(0)
    g = NormalFormGame.from_bimatrix(A, B)
    eq = solvers.stackelberg(g)
    eqs = solvers.all_equilibria(g)
    for i in range(12):
        # commitment never hurts: SSE value >= leader's value in every Nash equilibrium
        cnt = int(eqs.count[i])  # support enumeration needs nondegenerate (random) games
        assert cnt >= 1 or i < 2
        if cnt:
            assert float(eq.values[i, 0]) >= float(np.max(eqs.values[i, :cnt, 0])) - 1e-7


@pytest.mark.slow  # ~24 s on 2 cores; its certificate test below stays default
def test_bayesian_stackelberg():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(2, 2, 3))
    B = rng.normal(size=(2, 2, 3))
    p = np.array([0.3, 0.7])
    eq = solvers.bayesian_stackelberg(A, B, p)
    assert int(eq.result) == Result.CONVERGED
    assert float(eq.values[0]) == pytest.approx(exact_sse_2rows(A, B, True, p), abs=1e-7)
    x = np.asarray(eq.strategies[0])
    for t, j in enumerate(np.asarray(eq.stats["responses"])):
        assert x @ B[t][:, j] >= np.max(x @ B[t]) - 1e-7  # each type best-responds
    # two identical types = the strong Stackelberg equilibrium (ORACLES: 3.5)
    one = solvers.bayesian_stackelberg(np.stack([ORACLE_A[0]] * 2), np.stack([ORACLE_B[0]] * 2),
                                       [0.5, 0.5])
    assert float(one.values[0]) == pytest.approx(3.5, abs=1e-7)


def test_bad_input():
    g3 = NormalFormGame(np.zeros((3, 2, 2, 2)), 3)
    with pytest.raises(ValueError, match="two-player"):
        solvers.stackelberg(g3)
    with pytest.raises(TypeError, match="game"):
        solvers.stackelberg(np.zeros((2, 2)))
    g = NormalFormGame.from_bimatrix([[1., 0.], [0., 1.]], [[1., 0.], [0., 1.]])
    with pytest.raises(ValueError, match="leader"):
        solvers.stackelberg(g, leader=2)
    with pytest.raises(ValueError, match="leader"):     # was taken as leader 1
        solvers.stackelberg(g, leader=True)
    with pytest.raises(ValueError, match="prior"):
        solvers.bayesian_stackelberg(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), [0.5, 0.6])
    with pytest.raises(ValueError, match="max_profiles"):
        solvers.bayesian_stackelberg(np.zeros((20, 2, 3)), np.zeros((20, 2, 3)),
                                     np.full(20, 0.05))


def test_bayesian_stackelberg_nash_conv_is_a_real_certificate():
    # issue 8: nash_conv used to be NaN. It is the NashConv of (x, Y) in the Bayesian game with
    # the types as separate players: the types best-respond, so only the leader can gain.
    # (Same shapes as test_bayesian_stackelberg: the compiled LPs are shared.)
    rng = np.random.default_rng(2)
    A = rng.normal(size=(2, 2, 3))
    B = rng.normal(size=(2, 2, 3))
    p = np.array([0.4, 0.6])
    eq = solvers.bayesian_stackelberg(A, B, p)
    conv = float(eq.nash_conv)
    assert np.isfinite(conv) and conv >= -1e-9
    x, Y = np.asarray(eq.strategies[0]), np.asarray(eq.strategies[1])
    Ay = np.einsum("t,tmn,tn->m", p, A, Y)
    xB = np.einsum("m,tmn->tn", x, B)
    assert p @ (xB.max(-1) - (xB * Y).sum(-1)) <= 1e-7  # the types best-respond
    assert conv == pytest.approx((Ay.max() - x @ Ay) + p @ (xB.max(-1) - (xB * Y).sum(-1)),
                                 abs=1e-9)
