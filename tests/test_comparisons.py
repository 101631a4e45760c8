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
    fit = sc.bradley_terry(wins, tol=1e-12)
    assert fit.scores.shape == (4, 2)
    np.testing.assert_array_equal(fit.result, Result.CONVERGED)
    p = np.asarray(sc.win_probabilities(fit.scores))[:, 0, 1]
    np.testing.assert_allclose(p, w01 / (w01 + w10), atol=1e-10)
    np.testing.assert_allclose(fit.scores.sum(-1), 0.0, atol=1e-12)
    # Plackett-Luce on rankings of two items is the same model
    pl = sc.plackett_luce([[0, 1], [1, 0]], counts=[7.0, 3.0], tol=1e-12)
    np.testing.assert_allclose(pl.scores, [np.log(7 / 3) / 2, -np.log(7 / 3) / 2], atol=1e-10)
    np.testing.assert_allclose(pl.log_likelihood, fit.log_likelihood[0], atol=1e-10)


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


@pytest.mark.slow   # compiles its own jit(vmap) program; the default suite's time budget
def test_eager_jit_vmap_agree(random_wins):
    eager = sc.bradley_terry(random_wins, tol=1e-12)
    both = jax.jit(jax.vmap(lambda w: sc.bradley_terry(w, tol=1e-12)))(jnp.asarray(random_wins))
    np.testing.assert_allclose(both.scores, eager.scores, atol=1e-12)
    np.testing.assert_array_equal(both.result, eager.result)
    np.testing.assert_array_equal(both.num_steps, eager.num_steps)


@pytest.mark.slow   # compiles its own programs; the 40 s default budget
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
    # the closed form with two items, theta_0 = log(w01 / w10) / 2, and Hunter's MM on it
    w2 = jnp.array([[0.0, 7.0], [3.0, 0.0]])
    g2 = jax.grad(lambda w: sc.bradley_terry(w, tol=1e-13).scores[0])(w2)
    np.testing.assert_allclose(g2[0, 1], 1 / (2 * 7.0), atol=1e-8)
    np.testing.assert_allclose(g2[1, 0], -1 / (2 * 3.0), atol=1e-8)
    mm = sc.bradley_terry(w2, solver=sc.ComparisonMM(), tol=1e-12, max_steps=MM_STEPS)
    np.testing.assert_allclose(mm.scores, [np.log(7 / 3) / 2, -np.log(7 / 3) / 2], atol=1e-10)


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
@pytest.mark.parametrize("solver", [
    sc.ComparisonNewton(),
    # MM for Bradley-Terry is checked by default; its Plackett-Luce program compiles apart
    pytest.param(sc.ComparisonMM(), marks=pytest.mark.slow)], ids=["newton", "mm"])
def test_plackett_luce_matches_scipy_with_top_k_rankings(solver):
    rng = np.random.default_rng(3)
    m = ITEMS
    orders = [list(rng.permutation(m)[: rng.integers(1, m + 1)]) for _ in range(10)]
    counts = rng.integers(1, 5, size=10).astype(float)
    ranks = np.stack([_ranks_of(o, m) for o in orders])
    fit = sc.plackett_luce(ranks, counts, solver=solver, tol=1e-11, max_steps=MM_STEPS)
    assert int(fit.result) == Result.CONVERGED
    np.testing.assert_allclose(fit.scores, _pl_scipy(orders, counts, m), atol=1e-6)


@pytest.mark.slow   # compiles its own programs; the 40 s default budget
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


# ----------------------------------------------------------------------------- aggregation
GROUPS, OUTCOMES = 3, 4


@pytest.fixture(scope="module")
def group_utilities():
    rng = np.random.default_rng(21)
    u = rng.uniform(0.05, 1.0, size=(2, GROUPS, OUTCOMES))
    w = rng.uniform(0.2, 1.0, size=(2, GROUPS))
    return u, w / w.sum(-1, keepdims=True)


def _nash_scipy(u, w):
    n = u.shape[1]
    r = so.minimize(lambda p: -np.sum(w * np.log(u @ p)), np.full(n, 1.0 / n),
                    jac=lambda p: -(w / (u @ p)) @ u, method="SLSQP", bounds=[(0, 1)] * n,
                    constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
                    options={"ftol": 1e-15, "maxiter": 1000})
    return -r.fun


def test_utilitarian_is_the_weighted_argmax(group_utilities):
    u, w = group_utilities
    agg = sc.utilitarian(u, w)
    welfare = np.einsum("bg,bgo->bo", w, u)
    for b in range(2):
        assert agg.lottery[b, np.argmax(welfare[b])] == 1.0
    np.testing.assert_allclose(agg.welfare, welfare.max(-1), atol=1e-12)
    tie = sc.utilitarian([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(tie.lottery, [1 / 3, 1 / 3, 1 / 3])


def test_nash_welfare_closed_form_and_scipy(group_utilities):
    # two groups that each value one outcome: the weighted Nash lottery is the weight vector
    agg = sc.nash_welfare([[1.0, 0.0], [0.0, 1.0]], weights=[0.7, 0.3], tol=1e-12)
    np.testing.assert_allclose(agg.lottery, [0.7, 0.3], atol=1e-10)
    u, w = group_utilities
    agg = sc.nash_welfare(u, w, tol=1e-9)
    np.testing.assert_array_equal(agg.result, Result.CONVERGED)
    for b in range(2):
        ref = _nash_scipy(u[b], w[b])
        assert float(agg.welfare[b]) >= ref - 1e-8            # never worse than SLSQP
        assert float(agg.welfare[b]) - ref <= 1e-6
        # the certificate bounds the gap: f(p*) - f(p) <= certificate
        assert ref - float(agg.welfare[b]) <= float(agg.certificate[b]) + 1e-9
    # rescaling one group's utilities leaves the Nash lottery unchanged
    u2 = u.copy()
    u2[:, 0] *= 1000.0
    agg2 = sc.nash_welfare(u2, w, tol=1e-9)
    np.testing.assert_allclose(agg2.lottery, agg.lottery, atol=1e-6)
    # a gradient is refused clearly (the optimum may sit on a face of the simplex)
    with pytest.raises(TypeError, match="nash_welfare"):
        jax.grad(lambda x: sc.nash_welfare(x, w, tol=1e-9).welfare.sum())(jnp.asarray(u))


@pytest.mark.slow   # compiles its own programs; the 40 s default budget
def test_egalitarian_matches_highs(group_utilities):
    u, w = group_utilities
    agg = sc.egalitarian(u, w)
    np.testing.assert_array_equal(agg.result, Result.CONVERGED)
    for b in range(2):
        n = OUTCOMES
        c = np.r_[np.zeros(n), -1.0]
        a_ub = np.c_[-u[b], GROUPS * w[b]]
        r = so.linprog(c, A_ub=a_ub, b_ub=np.zeros(GROUPS), A_eq=np.r_[np.ones(n), 0][None],
                       b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)], method="highs")
        np.testing.assert_allclose(agg.welfare[b], -r.fun, atol=1e-8)
        # every group gets at least G w_g t
        assert np.all(agg.group_utilities[b] >= GROUPS * w[b] * agg.welfare[b] - 1e-8)
    eq = sc.egalitarian([[2.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(eq.lottery, [1 / 3, 2 / 3], atol=1e-8)


@pytest.mark.slow   # compiles its own programs; the 40 s default budget
def test_maximal_lottery_agrees_with_profile_rule():
    # ORACLES: a > b > c (3 voters), b > c > a (2 voters): Condorcet winner a with probability 1
    p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
    ml = sc.maximal_lottery(sc.margin_matrix(p))
    np.testing.assert_allclose(ml.lottery, [1.0, 0.0, 0.0], atol=1e-9)
    rng = np.random.default_rng(2)
    ranks = np.argsort(rng.permuted(np.tile(np.arange(5), (3, 7, 1)), axis=-1), axis=-1)
    prof = sc.Profile(ranks, np.ones((3, 7)))                   # 7 voters: unique lotteries
    ours = sc.maximal_lottery(sc.margin_matrix(prof))
    theirs = sc.maximal_lotteries(prof)
    np.testing.assert_allclose(ours.lottery, theirs.lottery, atol=1e-8)
    assert np.all(np.asarray(ours.group_utilities) >= -1e-9)   # p^T M q >= 0 for all q
    with pytest.raises(ValueError, match="skew"):
        sc.maximal_lottery([[0.0, 1.0], [1.0, 0.0]])


@pytest.fixture(scope="module")
def preferences():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    return 1 / (1 + np.exp(-(a - a.T)))


def test_preference_equilibrium_is_the_fixed_point(preferences):
    P = preferences
    mu = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    taus = np.array([2.0, 0.3, 0.05])
    eq = sc.nash_preference_equilibrium(np.stack([P] * 3), taus, np.stack([mu] * 3), tol=1e-12)
    np.testing.assert_array_equal(eq.result, Result.CONVERGED)
    for k, tau in enumerate(taus):
        pi = np.asarray(eq.lottery[k])
        q = mu * np.exp(P @ pi / tau)
        np.testing.assert_allclose(pi, q / q.sum(), atol=1e-10)
        # the regularised game: pi is a best response to itself, checked on the objective
        def obj(x, pi=pi, tau=tau):
            x = np.abs(x) / np.abs(x).sum()
            return -(x @ P @ pi - tau * np.sum(x * np.log(x / mu)))
        r = so.minimize(obj, mu, method="Nelder-Mead", options={"xatol": 1e-10,
                                                                 "fatol": 1e-13})
        assert -r.fun <= -obj(pi) + 1e-8
    # eager = jit(vmap) over the temperature
    f = jax.jit(jax.vmap(lambda t: sc.nash_preference_equilibrium(P, t, mu, tol=1e-12).lottery))
    np.testing.assert_allclose(f(jnp.asarray(taus)), eq.lottery, atol=1e-10)


def test_preference_equilibrium_limits(preferences):
    P = preferences
    ml = sc.maximal_lottery(2 * P - 1)
    dist = []
    for tau in (1e-2, 1e-3, 1e-4):
        eq = sc.nash_preference_equilibrium(P, tau, tol=1e-12)
        assert int(eq.result) == Result.CONVERGED
        dist.append(float(np.abs(eq.lottery - ml.lottery).sum()))
    assert dist[0] > dist[1] > dist[2]
    assert dist[2] < 1e-3                                        # tau -> 0: the maximal lottery
    mu = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    hot = sc.nash_preference_equilibrium(P, 1e4, mu, tol=1e-12)
    np.testing.assert_allclose(hot.lottery, mu, atol=1e-4)       # tau -> inf: the reference


@pytest.mark.slow   # compiles its own programs; the 40 s default budget
def test_preference_equilibrium_gradient(preferences):
    P = jnp.asarray(preferences)
    v = jnp.arange(5.0)

    def f(tau):
        return jnp.dot(v, sc.nash_preference_equilibrium(P, tau, tol=1e-13).lottery)

    h = 1e-5
    fd = (f(0.3 + h) - f(0.3 - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(f)(0.3), fd, rtol=1e-5)


def test_bradley_terry_preferences_pick_the_top_item_as_tau_vanishes():
    # transitive (Bradley-Terry) preferences have a Condorcet winner: the best-scored item
    P = sc.win_probabilities([0.3, 1.2, -0.4, 0.0, 0.5])
    eq = sc.nash_preference_equilibrium(P, 1e-3, tol=1e-12)
    assert int(np.argmax(eq.lottery)) == 1 and float(eq.lottery[1]) > 0.99
