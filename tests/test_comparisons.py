"""Bradley-Terry and Plackett-Luce fits (social_choice._comparisons) and preference aggregation
(social_choice._aggregate): closed forms, scipy fits side by side, the Borda identity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
from socialign.kernel import NotConvergedError, Result
from socialign.mechanisms import social_choice as sc

ITEMS = 4


# ----------------------------------------------------------------------------- references
def _bt_scipy(wins):
    """Bradley-Terry MLE by scipy BFGS on the first m-1 scores (the last fixes sum zero)."""
    wins = np.asarray(wins, float)
    m = wins.shape[0]

    def full(t):
        return np.concatenate([t, [-t.sum()]])

    def nll(t):
        th = full(t)
        d = th[:, None] - th[None, :]
        return np.sum(wins * np.logaddexp(0.0, -d))

    r = so.minimize(nll, np.zeros(m - 1), method="BFGS", options={"gtol": 1e-11})
    return full(r.x)


def _pl_scipy(orders, counts, m):
    """Plackett-Luce MLE by scipy BFGS; ``orders`` lists item indices best first (top-k ok)."""

    def full(t):
        return np.concatenate([t, [-t.sum()]])

    def nll(t):
        th = full(t)
        ll = 0.0
        for o, c in zip(orders, counts):
            avail = list(range(m))
            for i in o:
                if len(avail) < 2:
                    break
                ll += c * (th[i] - np.log(np.sum(np.exp(th[avail]))))
                avail.remove(i)
        return -ll

    r = so.minimize(nll, np.zeros(m - 1), method="BFGS", options={"gtol": 1e-11})
    return full(r.x)


def _ranks_of(order, m):
    """Position form of a (possibly top-k) order: unranked items hold the sentinel m."""
    r = np.full(m, m, int)
    r[list(order)] = np.arange(len(order))
    return r


@pytest.fixture(scope="module")
def random_wins():
    rng = np.random.default_rng(11)
    w = rng.integers(1, 9, size=(4, ITEMS, ITEMS)).astype(float)
    return w * (1 - np.eye(ITEMS))


# ----------------------------------------------------------------------------- Bradley-Terry
MM_STEPS = 3000      # one static budget for every MM fit of this module (one compilation)


def test_two_items_closed_form():
    # p(0 beats 1) = w01 / (w01 + w10) for every group of the batch, with either solver
    w01 = np.array([7.0, 1.0, 30.0, 2.5])
    w10 = np.array([3.0, 9.0, 1.0, 2.5])
    wins = np.zeros((4, 2, 2))
    wins[:, 0, 1], wins[:, 1, 0] = w01, w10
    for solver in (sc.ComparisonNewton(), sc.ComparisonMM()):
        fit = sc.bradley_terry(wins, solver=solver, tol=1e-12, max_steps=MM_STEPS)
        assert fit.scores.shape == (4, 2)
        np.testing.assert_array_equal(fit.result, Result.CONVERGED)
        p = np.asarray(sc.win_probabilities(fit.scores))[:, 0, 1]
        np.testing.assert_allclose(p, w01 / (w01 + w10), atol=1e-10)
        np.testing.assert_allclose(fit.scores.sum(-1), 0.0, atol=1e-12)
    # Plackett-Luce on rankings of two items is the same model
    pl = sc.plackett_luce([[0, 1], [1, 0]], counts=[7.0, 3.0], tol=1e-12)
    np.testing.assert_allclose(pl.scores, [np.log(7 / 3) / 2, -np.log(7 / 3) / 2], atol=1e-10)
    bt = sc.bradley_terry(wins[:1], tol=1e-12)
    np.testing.assert_allclose(pl.log_likelihood, bt.log_likelihood[0], atol=1e-10)
    # gradient of the closed form theta_0 = log(w01 / w10) / 2 (implicit function theorem)
    g = jax.grad(lambda w: sc.bradley_terry(w, tol=1e-13).scores[0, 0])(jnp.asarray(wins[:1]))
    np.testing.assert_allclose(g[0, 0, 1], 1 / (2 * 7.0), atol=1e-8)
    np.testing.assert_allclose(g[0, 1, 0], -1 / (2 * 3.0), atol=1e-8)


def test_bradley_terry_matches_scipy_and_mm(random_wins):
    fit = sc.bradley_terry(random_wins, tol=1e-12)
    mm = sc.bradley_terry(random_wins, solver=sc.ComparisonMM(), tol=1e-11, max_steps=MM_STEPS)
    np.testing.assert_array_equal(fit.result, Result.CONVERGED)
    np.testing.assert_array_equal(mm.result, Result.CONVERGED)
    assert np.all(np.asarray(fit.num_steps) < np.asarray(mm.num_steps))   # Newton is faster
    for g in range(random_wins.shape[0]):
        ref = _bt_scipy(random_wins[g])
        np.testing.assert_allclose(fit.scores[g], ref, atol=1e-6)
        np.testing.assert_allclose(mm.scores[g], fit.scores[g], atol=1e-8)
    assert np.all(np.asarray(fit.certificate) <= 1e-12)


def test_pooled_equals_fit_of_summed_counts(random_wins):
    pooled = sc.bradley_terry(random_wins, pooled=True, tol=1e-12)
    summed = sc.bradley_terry(random_wins.sum(0), tol=1e-12)
    assert pooled.scores.shape == (ITEMS,)
    np.testing.assert_allclose(pooled.scores, summed.scores, atol=1e-12)


def test_scale_invariance_and_certificate_is_relative(random_wins):
    a = sc.bradley_terry(random_wins[0], tol=1e-10)
    b = sc.bradley_terry(1e4 * random_wins[0], tol=1e-10)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-9)
    assert int(a.num_steps) == int(b.num_steps)


def test_eager_jit_vmap_agree(random_wins):
    eager = sc.bradley_terry(random_wins, tol=1e-12)
    both = jax.jit(jax.vmap(lambda w: sc.bradley_terry(w, tol=1e-12)))(jnp.asarray(random_wins))
    np.testing.assert_allclose(both.scores, eager.scores, atol=1e-12)
    np.testing.assert_array_equal(both.result, eager.result)
    np.testing.assert_array_equal(both.num_steps, eager.num_steps)


def test_gradient_wrt_wins_matches_finite_differences(random_wins):
    w = jnp.asarray(random_wins[0])
    v = jnp.arange(1.0, ITEMS + 1)

    def f(w):
        return jnp.dot(v, sc.bradley_terry(w, tol=1e-13).scores)

    g = np.asarray(jax.grad(f)(w))
    h = 1e-5
    for i, j in [(0, 1), (2, 3), (3, 0)]:
        e = jnp.zeros_like(w).at[i, j].set(h)
        fd = (f(w + e) - f(w - e)) / (2 * h)
        np.testing.assert_allclose(g[i, j], fd, rtol=1e-5, atol=1e-8)


def test_no_estimate_is_infeasible_not_nan():
    # item 0 beats everyone and never loses: the MLE does not exist (Ford's condition fails)
    wins = np.array([[0., 3., 1., 1.], [0., 0., 2., 1.], [0., 1., 0., 1.], [0., 1., 1., 0.]])
    fit = sc.bradley_terry(wins)
    assert int(fit.result) == Result.INFEASIBLE
    assert np.all(np.isfinite(fit.scores))
    with pytest.raises(NotConvergedError):
        sc.bradley_terry(wins, throw=True)


def test_balanced_pairwise_order_is_borda_order():
    # every pair compared equally often: the support matrix of complete strict ballots.
    rng = np.random.default_rng(5)
    m = ITEMS
    orders = rng.permuted(np.tile(np.arange(m), (4, 9, 1)), axis=-1)      # 4 profiles, 9 ballots
    ranks = np.argsort(orders, axis=-1)
    counts = rng.integers(1, 4, size=(4, 9)).astype(float)
    profile = sc.Profile(ranks, counts)
    wins = np.asarray(sc.support_matrix(profile))
    fits = sc.bradley_terry(wins, tol=1e-12)
    borda_rule = np.asarray(sc.borda(profile).scores)
    off = ~np.eye(m, dtype=bool)
    checked = 0
    for k in range(4):
        n = wins[k] + wins[k].T
        assert np.all(n[off] == n[0, 1])                     # balanced
        borda = wins[k].sum(1)                                # Borda score from the counts
        np.testing.assert_allclose(borda_rule[k], borda)
        if int(fits.result[k]) == Result.INFEASIBLE:
            continue
        checked += 1
        s = np.asarray(fits.scores[k])
        # stationarity: W_i = n sum_j sigmoid(theta_i - theta_j), increasing in theta_i
        p = np.asarray(sc.win_probabilities(s))
        np.testing.assert_allclose(n[0, 1] * (p * off).sum(1), borda, atol=1e-8)
        for a in range(m):
            for b in range(m):
                if borda[a] > borda[b]:
                    assert s[a] > s[b]
                elif borda[a] == borda[b]:
                    assert abs(s[a] - s[b]) < 1e-8
    assert checked >= 3


# ----------------------------------------------------------------------------- Plackett-Luce
def test_plackett_luce_matches_scipy_with_top_k_rankings():
    rng = np.random.default_rng(3)
    m = ITEMS
    orders = [list(rng.permutation(m)[: rng.integers(1, m + 1)]) for _ in range(10)]
    counts = rng.integers(1, 5, size=10).astype(float)
    ranks = np.stack([_ranks_of(o, m) for o in orders])
    for solver in (sc.ComparisonNewton(), sc.ComparisonMM()):
        fit = sc.plackett_luce(ranks, counts, solver=solver, tol=1e-11, max_steps=MM_STEPS)
        assert int(fit.result) == Result.CONVERGED
        np.testing.assert_allclose(fit.scores, _pl_scipy(orders, counts, m), atol=1e-6)


def test_plackett_luce_accepts_profiles_and_groups():
    rng = np.random.default_rng(8)
    ranks = np.argsort(rng.permuted(np.tile(np.arange(ITEMS), (2, 5, 1)), axis=-1), axis=-1)
    counts = rng.integers(1, 5, size=(2, 5)).astype(float)
    grouped = sc.plackett_luce(ranks, counts, tol=1e-12)
    assert grouped.scores.shape == (2, ITEMS)
    a = sc.plackett_luce(sc.Profile(ranks, counts), tol=1e-12)       # a batched Profile
    np.testing.assert_allclose(a.scores, grouped.scores, atol=1e-12)
    pooled = sc.plackett_luce(ranks, counts, pooled=True, tol=1e-12)
    both = sc.plackett_luce(ranks.reshape(-1, ITEMS), counts.reshape(-1), tol=1e-12)
    np.testing.assert_allclose(pooled.scores, both.scores, atol=1e-12)
    for g in range(2):
        orders = [list(np.argsort(r)) for r in ranks[g]]
        np.testing.assert_allclose(grouped.scores[g], _pl_scipy(orders, counts[g], ITEMS),
                                   atol=1e-6)


def test_boundary_errors():
    with pytest.raises(ValueError, match="wins"):
        sc.bradley_terry([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="wins"):
        sc.bradley_terry([1.0, 2.0])
    with pytest.raises(ValueError, match="ties or gaps"):
        sc.plackett_luce([[0, 0, 1]])
    with pytest.raises(TypeError, match="rankings"):
        sc.plackett_luce([[0.0, 1.0]])
    with pytest.raises(ValueError, match="counts"):
        sc.plackett_luce([[0, 1]], counts=[1.0, 2.0])
    with pytest.raises(TypeError, match="solver"):
        sc.bradley_terry([[0.0, 1.0], [1.0, 0.0]], solver="newton")
    with pytest.raises(ValueError, match="armijo"):
        sc.ComparisonNewton(armijo=0.7)
