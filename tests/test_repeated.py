"""Repeated games: SPE payoff sets (Abreu-Sannikov inner, JYC outer) and critical discounts.

Ground truth: the published prisoner's dilemma polygon (ORACLES.md), Abreu and Sannikov's
(2014) 3x3 example as QuantEcon.py's test states it, QuantEcon.py's ``equilibrium_payoffs`` run
side by side on random 2x2 games, closed-form grim-trigger discounts, and finite differences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import solvers
from socialign.kernel import NotConvergedError, Result

qe = pytest.importorskip("quantecon.game_theory")

PD = np.array([[[9.0, 1.0], [10.0, 3.0]], [[9.0, 10.0], [1.0, 3.0]]])
NO_SPE = np.array([[[1.0, -1.0], [-2.0, 1.0]], [[-1.0, 2.0], [2.0, 0.0]]])   # QuantEcon's test
DELTAS = (0.3, 0.6, 0.9)
PATIENT = 0.999
N_RANDOM = 6


def _quantecon_vertices(U, delta):
    """QuantEcon.py's AS vertices, or None when its hull construction fails (degenerate set)."""
    sg = qe.NormalFormGame((qe.Player(U[0]), qe.Player(U[1].T)))
    try:
        hull = qe.RepeatedGame(sg, delta).equilibrium_payoffs()
    except Exception:   # qhull refuses a point or a segment; no pure SPE raises ValueError
        return None
    return hull.points[hull.vertices]


def _hausdorff_vertices(P, Q):
    """Hausdorff distance between two convex polygons given by their vertices (exact, 2-D)."""
    def dist_to_poly(x, V):
        if len(V) == 1:
            return np.linalg.norm(x - V[0])
        best = np.inf
        for a, b in zip(V, np.roll(V, -1, axis=0)):
            e = b - a
            t = np.clip((x - a) @ e / max(e @ e, 1e-300), 0, 1)
            best = min(best, np.linalg.norm(x - a - t * e))
        if len(V) >= 3:
            c = (V[:, 0] - x[0]) * (np.roll(V, -1, 0)[:, 1] - x[1]) - \
                (V[:, 1] - x[1]) * (np.roll(V, -1, 0)[:, 0] - x[0])
            if np.all(c >= -1e-12) or np.all(c <= 1e-12):
                return 0.0
        return best
    return max(max(dist_to_poly(p, Q) for p in P), max(dist_to_poly(q, P) for q in Q))


def _grid():
    rng = np.random.default_rng(0)
    games = np.concatenate([PD[None], NO_SPE[None], rng.normal(size=(N_RANDOM, 2, 2, 2))])
    deltas = np.array(DELTAS)
    G = np.broadcast_to(games[:, None], (len(games), len(deltas), 2, 2, 2)).reshape(-1, 2, 2, 2)
    D = np.broadcast_to(deltas[None], (len(games), len(deltas))).reshape(-1)
    # two extra members: the no-SPE game at delta = 0.05 (no pure SPE at all), and the
    # prisoner's dilemma at delta = 0.999 (about 21,500 Abreu-Sannikov steps)
    return (games, deltas, np.concatenate([G, NO_SPE[None], PD[None]]),
            np.append(D, [0.05, PATIENT]))


@pytest.fixture(scope="module")
def batch():
    """One batched solve (one compile): PD, the no-SPE game, random 2x2 games, three deltas."""
    games, deltas, G, D = _grid()
    flat = solvers.equilibrium_payoffs(solvers.RepeatedGame(G, D), throw=False)
    last = jax.tree_util.tree_map(lambda x: x[-2], flat)
    sol = jax.tree_util.tree_map(lambda x: x[:-2].reshape(len(games), len(deltas), *x.shape[1:]),
                                 flat)
    return games, deltas, sol, last, jax.tree_util.tree_map(lambda x: x[-1], flat)


def test_prisoners_dilemma_published_polygon(batch):
    _, _, sol, _, _ = batch
    k = DELTAS.index(0.9)
    n = int(sol.num_vertices[0, k])
    V = np.asarray(sol.vertices[0, k, :n])
    np.testing.assert_allclose(V, [[3, 3], [9.75, 3], [9, 9], [3, 9.75]], atol=1e-7)
    assert int(sol.result[0, k]) == Result.CONVERGED
    assert float(sol.certificate[0, k]) <= 1e-6
    np.testing.assert_allclose(sol.threat_point[0, k], [3, 3], atol=1e-7)
    # outer contains inner: every inner vertex satisfies every outer level
    H = np.stack([np.cos(2 * np.pi * np.arange(64) / 64), np.sin(2 * np.pi * np.arange(64) / 64)],
                 axis=1)
    assert np.max(V @ H.T - np.asarray(sol.outer_levels[0, k])) <= 1e-9
    assert 0 < float(sol.bracket_width[0, k]) < 0.3


def test_patient_players_within_the_default_budget(batch):
    """delta = 0.999 takes about 21,500 steps: within the default max_steps, and the polygon is
    the folk theorem's (feasible and individually rational). QuantEcon.py stops at its
    max_iter = 500 here and returns a larger set, with a vertex below the minmax payoff 3."""
    *_, patient = batch
    assert int(patient.result) == Result.CONVERGED
    assert 20_000 < int(patient.num_steps) < 100_000
    V = np.asarray(patient.vertices[:int(patient.num_vertices)])
    np.testing.assert_allclose(V, [[3, 3], [9.75, 3], [9, 9], [3, 9.75]], atol=1e-7)


@pytest.mark.slow  # ~13 s on 2 cores; the published prisoner's-dilemma polygon stays default
def test_no_pure_spe_is_infeasible(batch):
    _, _, _, last, _ = batch
    assert int(last.result) == Result.INFEASIBLE and int(last.num_vertices) == 0
    with pytest.raises(ValueError):     # QuantEcon.py agrees: no pure SPE at delta = 0.05
        qe.RepeatedGame(qe.NormalFormGame((qe.Player(NO_SPE[0]), qe.Player(NO_SPE[1].T))),
                        0.05).equilibrium_payoffs()


@pytest.mark.slow
def test_chunks_in_discount_order_match_the_batch(batch):
    """slots=8 refilled as members stop (largest discount factors first) and certificates in
    chunks of 5: answers put back in the caller's order and equal to the default's; throw=True
    raises for the member without a pure SPE. (Slow: a second compile of the whole solver.)"""
    games, deltas, sol, last, _ = batch
    _, _, G, D = _grid()
    with pytest.raises(NotConvergedError):
        solvers.equilibrium_payoffs(solvers.RepeatedGame(G, D), slots=8, batch_size=5)
    out = solvers.equilibrium_payoffs(solvers.RepeatedGame(G, D), slots=8, batch_size=5,
                                     throw=False)
    flat = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), sol)
    np.testing.assert_array_equal(out.result[:-2], flat.result)
    np.testing.assert_array_equal(out.num_vertices[:-2], flat.num_vertices)
    np.testing.assert_allclose(out.vertices[:-2], flat.vertices, atol=1e-12)
    # JYC stops once its levels move by <= tol = 1e-6 (relative): with rounding that differs
    # between the two layouts a member may take one step more in one of them
    np.testing.assert_allclose(out.outer_levels[:-2], flat.outer_levels, atol=1e-5)
    assert int(out.result[-2]) == int(last.result)


def test_random_games_against_quantecon(batch):
    """Where QuantEcon.py returns a polygon, ours is the same one (Hausdorff <= 1e-6), inside the
    outer approximation; everywhere ours is certified self-generating and holds every pure stage
    Nash equilibrium's payoff (Nash reversion forever is an SPE)."""
    games, deltas, sol, _, _ = batch
    compared = 0
    for g in range(len(games)):
        U = games[g]
        gains0 = U[0].max(axis=0, keepdims=True) - U[0]
        gains1 = U[1].max(axis=1, keepdims=True) - U[1]
        ne = np.argwhere((gains0 <= 0) & (gains1 <= 0))
        for k, delta in enumerate(deltas):
            res = int(sol.result[g, k])
            ref = _quantecon_vertices(U, delta)
            if res == Result.INFEASIBLE:
                assert ref is None and len(ne) == 0
                continue
            assert res == Result.CONVERGED, (g, delta, res)
            assert float(sol.certificate[g, k]) <= 1e-6
            n = int(sol.num_vertices[g, k])
            V = np.asarray(sol.vertices[g, k, :n])
            for i, j in ne:
                assert _hausdorff_vertices(U[:, i, j][None], V) <= 1e-8 or \
                    _hausdorff_vertices(np.vstack([V, U[:, i, j]]), V) <= 1e-8
            if ref is not None:
                compared += 1
                assert _hausdorff_vertices(V, ref) <= 1e-6, (g, delta)
                H = np.stack([np.cos(2 * np.pi * np.arange(64) / 64),
                              np.sin(2 * np.pi * np.arange(64) / 64)], axis=1)
                assert np.max(ref @ H.T - np.asarray(sol.outer_levels[g, k])) <= 1e-8
    assert compared >= 6


@pytest.mark.slow
def test_abreu_sannikov_3x3_example():
    """(Slow: a 3x3 shape is a second compile; the 2x2 batch covers QuantEcon.py by default.)"""
    bimatrix = [[(16, 9), (3, 13), (0, 3)], [(21, 1), (10, 4), (-1, 0)],
                [(9, 0), (5, -4), (-5, -15)]]
    U = np.moveaxis(np.array(bimatrix, float), -1, 0)
    published = np.array([[7.33770472e+00, 1.09826253e+01], [1.12568240e+00, 2.80000000e+00],
                          [7.33770472e+00, 0.0], [7.86308964e+00, 0.0],
                          [1.97917977e+01, 2.80000000e+00], [1.55630896e+01, 9.10000000e+00]])
    sol = solvers.equilibrium_payoffs(solvers.RepeatedGame(U, 0.3))
    V = np.asarray(sol.vertices[:int(sol.num_vertices)])
    assert _hausdorff_vertices(V, published) <= 1e-6
    assert _hausdorff_vertices(V, _quantecon_vertices(U, 0.3)) <= 1e-6
    np.testing.assert_allclose(sol.threat_point, [V[:, 0].min(), 0.0], atol=1e-9)


@pytest.mark.slow
def test_jit_and_vmap_match_batch(batch):
    games, deltas, sol, _, _ = batch

    def solve(U, d):
        return solvers.equilibrium_payoffs(solvers.RepeatedGame(U, d), throw=False)

    U = jnp.asarray(games[0])
    out = jax.jit(jax.vmap(solve, in_axes=(None, 0)))(U, jnp.asarray(deltas))
    np.testing.assert_allclose(out.vertices, sol.vertices[0], atol=1e-12)
    np.testing.assert_array_equal(out.num_vertices, sol.num_vertices[0])
    np.testing.assert_allclose(out.outer_levels, sol.outer_levels[0], atol=1e-12)
    # a traced discount outside (0, 1) cannot be refused at the boundary: FAILED, fields zero
    bad = jax.jit(jax.vmap(solve, in_axes=(None, 0)))(U, jnp.array([0.9, 1.5, 0.0]))
    assert bad.result.tolist() == [Result.CONVERGED, Result.FAILED, Result.FAILED]
    assert np.all(np.asarray(bad.bracket_width[1:]) == 0)
    assert np.all(np.isfinite(np.asarray(bad.outer_levels)))


def test_answers_move_with_shifted_and_scaled_payoffs(batch):
    # the SPE set is equivariant: shift each player's payoffs (up to 1e5 times the range), scale
    # all of them by one factor (1e-9 to 1e9), and the vertices, threat point, outer polygon
    # and bracket move with them (same batch shape as the fixture: one compiled program)
    games, deltas, sol, _, _ = batch
    _, _, G, D = _grid()
    rng = np.random.default_rng(11)
    a = 10.0 ** rng.uniform(-9, 9, size=len(D))
    b = a[:, None] * rng.uniform(-1e5, 1e5, size=(len(D), 2))   # up to 1e5 payoff ranges
    moved = solvers.equilibrium_payoffs(
        solvers.RepeatedGame(G * a[:, None, None, None] + b[:, :, None, None], D), throw=False)
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape(-1, *x.shape[2:])
                                  if x.ndim >= 2 else np.asarray(x), sol)
    n_ref = np.asarray(sol.num_vertices).reshape(-1)
    np.testing.assert_array_equal(np.asarray(moved.num_vertices)[:-2], n_ref)
    np.testing.assert_array_equal(np.asarray(moved.result)[:-2],
                                  np.asarray(sol.result).reshape(-1))
    for k in range(len(n_ref)):
        n = n_ref[k]
        back = (np.asarray(moved.vertices[k, :n]) - b[k]) / a[k]
        np.testing.assert_allclose(back, flat.vertices[k, :n], atol=1e-6)
        if n:
            np.testing.assert_allclose((np.asarray(moved.threat_point[k]) - b[k]) / a[k],
                                       flat.threat_point[k], atol=1e-6)
        np.testing.assert_allclose((np.asarray(moved.outer_vertices[k]) - b[k]) / a[k],
                                   flat.outer_vertices[k], atol=1e-6)
        np.testing.assert_allclose(float(moved.bracket_width[k]) / a[k],
                                   float(flat.bracket_width[k]), atol=1e-6)
    # a batch of no games
    empty = solvers.equilibrium_payoffs(solvers.RepeatedGame(np.zeros((0, 2, 2, 2)), 0.5))
    assert empty.vertices.shape == (0, 16, 2) and empty.result.shape == (0,)


def test_grim_trigger_closed_form_and_gradient():
    cd = solvers.grim_trigger_discount(PD)
    np.testing.assert_allclose(cd.discount, [[1 / 7, 1], [1, 0]], atol=1e-12)
    np.testing.assert_array_equal(cd.sustainable, [[True, False], [False, True]])

    def crit(U):
        return solvers.grim_trigger_discount(U).discount[..., 0, 0]

    U = PD + np.random.default_rng(1).uniform(-0.3, 0.3, PD.shape)
    g = np.asarray(jax.grad(crit)(jnp.asarray(U)))
    h = 1e-6
    E = np.eye(U.size).reshape(-1, *U.shape) * h        # central differences: one batched call
    fd = (np.asarray(crit(U + E)) - np.asarray(crit(U - E))).reshape(U.shape) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-7)
    assert np.count_nonzero(np.abs(g) > 1e-9) >= 3
    # batched: the same numbers per member
    both = solvers.grim_trigger_discount(np.stack([PD, np.asarray(U)]))
    np.testing.assert_allclose(both.discount[1, 0, 0], crit(U), atol=1e-14)


def test_no_pure_nash_grim_is_infeasible():
    mp = np.array([[[1.0, -1.0], [-1.0, 1.0]], [[-1.0, 1.0], [1.0, -1.0]]])
    assert int(solvers.grim_trigger_discount(mp).result) == Result.INFEASIBLE


@pytest.mark.slow
def test_penal_code_discount_prisoners_dilemma():
    """Mutual defection is the minmax point, so optimal penal codes are no harsher than Nash
    reversion: the critical discount of (C, C) is 1/7 either way; (C, D) is never sustained
    (player 0 gets 1 < minmax 3)."""
    out = solvers.penal_code_discount(PD, (0, 0))
    assert abs(float(out.discount) - 1 / 7) <= 1e-6 and bool(out.sustainable)
    out = solvers.penal_code_discount(PD, (0, 1), max_discount=0.9, throw=False)
    assert not bool(out.sustainable)


def test_penal_code_discount_fails_when_an_inner_solve_runs_out_of_steps():
    """A bisection step whose Abreu-Sannikov solve stopped at max_steps_inner is not a
    certified "not sustainable": the answer (discount 1, not sustainable) used to be
    CONVERGED; the default budget gives 1/3 on this game (QuantEcon's threat points)."""
    U = np.array([[[4, 2, 1], [5, 1, 3], [4, 1, 1]], [[4, 1, 4], [5, 4, 3], [2, 5, 1]]], float)
    out = solvers.penal_code_discount(U, (0, 0), max_steps_inner=3, throw=False)
    assert int(out.result) == solvers.Result.FAILED
    with pytest.raises(NotConvergedError):
        solvers.penal_code_discount(U, (0, 0), max_steps_inner=3)


@pytest.mark.slow  # ~3 s: a compile under jax.grad
def test_gradient_with_throw_is_refused_clearly():
    """jax.grad through penal_code_discount with throw=True (the default) reaches the clear
    TypeError of a solver without optimality conditions (it stopped at "IO callbacks do not
    support JVP")."""
    with pytest.raises(TypeError, match="penal_code_discount defines no optimality"):
        jax.grad(lambda U: solvers.penal_code_discount(U, (0, 0)).discount)(jnp.asarray(PD))


def test_backward_induction_ties_are_judged_per_player():
    """An entry game with 1e10 added to the incumbent's payoffs only: the entrant's choice
    (payoffs 0 against 1) is not a tie (the tolerance was 1e-9 max |U| over all players)."""
    T = solvers.ExtensiveFormGame.TERMINAL
    for s in (0.0, 1e10, -1e14):
        g = solvers.ExtensiveFormGame.from_arrays(
            parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
            utilities=[[0, 0], [0, 2 + s], [0, 0], [-1, -1 + s], [1, 1 + s]])
        spe = solvers.backward_induction(g)
        np.testing.assert_allclose(np.asarray(spe.values) - [0, s], [1, 1], atol=1e-4)


def test_validation():
    with pytest.raises(ValueError, match="discount"):
        solvers.RepeatedGame(PD, 1.0)
    with pytest.raises(ValueError, match="discount"):
        solvers.RepeatedGame(PD, [0.5, 0.0])
    with pytest.raises(ValueError, match="stage_game"):
        solvers.RepeatedGame(np.zeros((3, 2, 2)), 0.5)
    with pytest.raises(ValueError, match=r"stage_game.*m, n >= 1"):    # a player without actions
        solvers.RepeatedGame(np.ones((2, 0, 2)), 0.5)
    with pytest.raises(ValueError, match=r"stage_game.*m, n >= 1"):
        solvers.grim_trigger_discount(np.ones((2, 2, 0)))
    with pytest.raises(ValueError, match="stage_game"):     # a payoff is NaN
        solvers.RepeatedGame(np.where(PD == 10, np.nan, PD), 0.5)
    with pytest.raises(ValueError, match="stage_game"):
        solvers.grim_trigger_discount(np.where(PD == 10, np.nan, PD))
    with pytest.raises(ValueError, match="profile"):
        solvers.penal_code_discount(PD, (2, 0))
    with pytest.raises(ValueError, match="num_directions"):
        solvers.equilibrium_payoffs(solvers.RepeatedGame(PD, 0.5), num_directions=2)
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="slots"):
            solvers.equilibrium_payoffs(solvers.RepeatedGame(PD, 0.5), slots=bad)
    with pytest.raises(TypeError, match="game"):
        solvers.equilibrium_payoffs(PD)


def _slices_brute(a, b, x, tol):
    """Slices of the hull of points ``(a, b)`` along ``{a = x}``: every segment between two
    points that spans ``x`` (and every point within ``tol`` of it) meets the slice."""
    lo, hi = np.full(len(x), np.inf), np.full(len(x), -np.inf)
    for q, xq in enumerate(x):
        for i in range(len(a)):
            if abs(a[i] - xq) <= tol:
                lo[q], hi[q] = min(lo[q], b[i]), max(hi[q], b[i])
            for j in range(len(a)):
                if a[i] < a[j] and a[i] <= xq <= a[j]:
                    y = b[i] + (xq - a[i]) / (a[j] - a[i]) * (b[j] - b[i])
                    lo[q], hi[q] = min(lo[q], y), max(hi[q], y)
    return lo, hi


def test_slices_of_a_point_set_match_all_segments_on_degenerate_sets():
    # the Abreu-Sannikov step reads its slices off the point set's envelopes (no hull); check
    # them against every segment on sets with ties, vertical runs, collinear points, one point
    from socialign.solvers._repeated import _slices

    rng = np.random.default_rng(7)
    sets = []
    for k in range(40):
        P = [rng.normal(size=(12, 2)), rng.integers(-2, 3, size=(12, 2)).astype(float),
             np.column_stack([np.r_[np.full(6, 0.3), rng.normal(size=6)], rng.normal(size=12)]),
             np.column_stack([t := rng.normal(size=12), 2 * t + 1])][k % 4]
        M = rng.random(12) < (0.5 if k % 3 else 1.0)
        M[k % 12] = True
        if k % 10 == 9:
            M[:] = False
            M[3] = True
        x = np.r_[rng.normal(size=4), P[:4, 0]]
        sets.append((P, M, x))
    P, M, X = (jnp.asarray(np.stack(v)) for v in zip(*sets))
    lo, hi = jax.jit(jax.vmap(lambda P, M, x: _slices(P[:, 0], P[:, 1], M, x, 1e-12)))(P, M, X)
    for k, (Pk, Mk, xk) in enumerate(sets):
        blo, bhi = _slices_brute(Pk[Mk, 0], Pk[Mk, 1], xk, 1e-12)
        empty = blo > bhi
        np.testing.assert_array_equal(np.asarray(lo[k] > hi[k] + 1e-9), empty)
        np.testing.assert_allclose(np.asarray(lo[k])[~empty], blo[~empty], atol=1e-12)
        np.testing.assert_allclose(np.asarray(hi[k])[~empty], bhi[~empty], atol=1e-12)
