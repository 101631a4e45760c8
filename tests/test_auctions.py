"""Auctions: Myerson's optimal auction, revenue equivalence, equilibrium bids, VCG.

Ground truth: closed forms (ORACLES.md: Myerson's U[0, 1] revenues, the symmetric first-price
equilibrium (n-1)v/n, revenue equivalence, the VCG example), independent reference computations
written here with numpy (the convex hull of the revenue curve for ironing, brute-force
best-response gains for the equilibrium certificate) and Monte Carlo with standard errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign.mechanisms import auctions

K = 101  # value grid shared by most tests (one compiled shape)


@pytest.fixture(scope="module")
def u01():
    return auctions.uniform(0.0, 1.0, K)


# ----------------------------------------------------------------------------- Myerson


# two bidders (the shape the asymmetric test compiles) by default; one bidder in the slow set
@pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_myerson_uniform_revenue_matches_closed_form(n):
    opt = auctions.myerson_auction(auctions.uniform(np.zeros(n), np.ones(n), K))
    want = (n - 1) / (n + 1) + 2.0 ** -n / (n + 1)  # 1/4, 5/12, ...
    assert float(opt.principal_value) == pytest.approx(want, abs=2e-5)
    np.testing.assert_allclose(opt.reserve_prices, 0.5, atol=1e-12)


def test_revenue_equivalence_and_reserve(u01):
    # second price without reserve 1/3; with the optimal reserve 1/2: 5/12 = Myerson
    # (exact for a CDF linear between grid points, as a uniform one is)
    assert float(auctions.expected_revenue(u01, 2)) == pytest.approx(1 / 3, abs=1e-12)
    assert float(auctions.expected_revenue(u01, 2, 0.5)) == pytest.approx(5 / 12, abs=1e-12)
    # reserve r off the grid, two bidders: 1/3 + r^2 - 4 r^3 / 3
    r = 0.373
    assert float(auctions.expected_revenue(u01, 2, r)) == pytest.approx(
        1 / 3 + r**2 - 4 * r**3 / 3, abs=2e-5)
    # welfare: E[max] = n / (n + 1)
    assert float(auctions.expected_welfare(u01, 2)) == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.slow
def test_revenue_and_welfare_more_bidders(u01):
    for n in (3, 4):
        assert float(auctions.expected_revenue(u01, n)) == pytest.approx((n - 1) / (n + 1),
                                                                        abs=1e-12)
        assert float(auctions.expected_welfare(u01, n)) == pytest.approx(n / (n + 1),
                                                                        abs=1e-12)


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow),
                               pytest.param(5, marks=pytest.mark.slow)])
def test_symmetric_first_price_and_all_pay_bids(u01, n):
    v = np.asarray(u01.values)
    b = auctions.symmetric_equilibrium_bids(u01, n, "first_price")
    np.testing.assert_allclose(b, (n - 1) * v / n, atol=1e-12)
    ap = auctions.symmetric_equilibrium_bids(u01, n, "all_pay")
    np.testing.assert_allclose(ap, (n - 1) * v**n / n, atol=1e-12)
    np.testing.assert_allclose(auctions.symmetric_equilibrium_bids(u01, 2, "second_price"), v)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["first_price", "second_price"])
def test_monte_carlo_revenue_equivalence_with_standard_errors(kind):
    d = auctions.uniform([0.0, 0.0], [1.0, 1.0], K)
    key = jax.random.key(3)
    fp = auctions.symmetric_equilibrium_bids(auctions.uniform(0.0, 1.0, K), 2, "first_price",
                                             reserve=0.5)
    bids = jnp.stack([fp, fp]) if kind == "first_price" else None
    for b in (bids,):
        est = auctions.monte_carlo_revenue(key, d, kind, b, reserve=0.5, num_samples=20_000)
        assert abs(float(est.revenue) - 5 / 12) < 4 * float(est.revenue_se)
        # welfare with reserve 1/2: int_{1/2}^1 v d(v^2) = 7/12
        assert abs(float(est.welfare) - 7 / 12) < 4 * float(est.welfare_se)


def test_myerson_asymmetric_closed_form():
    # U[0, 1] and U[0, 2]: phi = 2v - 1 and 2v - 2; E[max(0, phi_1, phi_2)] = 31/48
    opt = auctions.myerson_auction(auctions.uniform([0.0, 0.0], [1.0, 2.0], K))
    np.testing.assert_allclose(opt.reserve_prices, [0.5, 1.0], atol=1e-9)
    assert float(opt.principal_value) == pytest.approx(31 / 48, abs=1e-6)


@pytest.mark.slow
def test_myerson_asymmetric_allocation_rule_matches_its_revenue():
    d = auctions.uniform([0.0, 0.0], [1.0, 2.0], K)
    opt = auctions.myerson_auction(d)
    v = d.sample(jax.random.key(0), (100_000,))
    out = auctions.myerson_outcome(opt, v)
    se = float(jnp.std(out.revenue) / jnp.sqrt(v.shape[0]))
    assert abs(float(out.revenue.mean()) - float(opt.principal_value)) < 4 * se
    assert float(out.regret.max()) < 1e-9  # truthful reporting is dominant
    # individually rational and never above the value
    assert float(jnp.min(out.utilities)) > -1e-12


def _convex_hull_slopes(u, H):
    """Greatest convex minorant of points (u, H), its slope on each cell (numpy reference)."""
    hull = [0]
    for i in range(1, len(u)):
        hull.append(i)
        while len(hull) >= 3:
            a, b, c = hull[-3], hull[-2], hull[-1]
            if (H[b] - H[a]) * (u[c] - u[a]) >= (H[c] - H[a]) * (u[b] - u[a]):
                hull.pop(-2)  # b lies on or above the chord a-c
            else:
                break
    slopes = np.empty(len(u) - 1)
    for a, b in zip(hull[:-1], hull[1:]):
        slopes[a:b] = (H[b] - H[a]) / (u[b] - u[a])
    return slopes


def test_ironing_is_the_convex_hull_of_the_revenue_curve():
    # an irregular (bimodal) density
    v = np.linspace(0.0, 1.0, 61)
    f = np.exp(-((v - 0.2) / 0.06) ** 2) + np.exp(-((v - 0.8) / 0.06) ** 2) + 0.05
    d = auctions.from_pdf(v, f)
    phi = np.asarray(d.virtual_values())
    assert np.any(np.diff(phi) < 0), "the test density should be irregular"
    phibar = np.asarray(d.ironed_virtual_values())
    assert np.all(np.diff(phibar) >= -1e-12)
    # reference: H(u) = cumulative masses-weighted phi in quantile order; hull slopes
    p = np.asarray(d.masses())
    u = np.concatenate([[0.0], np.cumsum(p)])
    H = np.concatenate([[0.0], np.cumsum(p * phi)])
    np.testing.assert_allclose(phibar, _convex_hull_slopes(u, H), atol=1e-9)


@pytest.mark.slow
def test_irregular_optimal_auction_beats_second_price_and_earns_its_revenue():
    v = np.linspace(0.0, 1.0, 61)
    f = np.exp(-((v - 0.2) / 0.06) ** 2) + np.exp(-((v - 0.8) / 0.06) ** 2) + 0.05
    d = auctions.from_pdf(v, f)
    # the optimal auction is at least as good as the best second-price auction with an
    # anonymous reserve (up to the grid's quadrature, ~1e-3 with 61 points), and its allocation
    # rule earns its revenue formula (Monte Carlo)
    dd = auctions.from_pdf(np.stack([v, v]), np.stack([f, f]))
    opt = auctions.myerson_auction(dd)
    best_spa = max(float(auctions.expected_revenue(d, 2, r)) for r in np.linspace(0, 1, 11))
    assert float(opt.principal_value) >= best_spa - 2e-3
    out = auctions.myerson_outcome(opt, dd.sample(jax.random.key(1), (50_000,)))
    se = float(jnp.std(out.revenue)) / np.sqrt(50_000)
    assert abs(float(out.revenue.mean()) - float(opt.principal_value)) < 4 * se + 2e-3


# ----------------------------------------------------------------------------- BNE


def _brute_force_gain(eq, dists, bids, kind):
    """Largest expected best-response gain, recomputed with numpy (two bidders, ties split)."""
    sigma = np.asarray(eq.bid_probs)
    p = np.asarray(dists.masses())
    p = p / p.sum(-1, keepdims=True)
    vals, b = np.asarray(dists.values), np.asarray(bids)
    gains = []
    for i in range(2):
        j = 1 - i
        q = p[j] @ sigma[j]  # other's bid distribution
        win = np.array([q[b < bm].sum() + 0.5 * q[b == bm].sum() for bm in b])
        U = (vals[i][:, None] - b[None, :]) * win if kind == "first_price" else \
            vals[i][:, None] * win - b[None, :]
        gains.append(p[i] @ (U.max(-1) - (sigma[i] * U).sum(-1)))
    return max(gains)


@pytest.fixture(scope="module")
def asymmetric_eq():
    d = auctions.uniform([0.0, 0.0], [1.0, 2.0], 21)
    bids = jnp.linspace(0.0, 2.0, 41)
    return d, bids, auctions.bayes_nash_bids(d, bids=bids, tol=0.005, max_steps=3000)


def test_asymmetric_first_price_is_certified_by_best_response_gain(asymmetric_eq):
    d, bids, eq = asymmetric_eq
    assert int(eq.result) == 0
    gain = _brute_force_gain(eq, d, bids, "first_price")
    assert float(eq.incentive_violation) == pytest.approx(gain, abs=1e-12)
    assert gain <= 0.005 * 2.0
    # the weak bidder bids more aggressively than the strong one at the same value
    # (Maskin and Riley 2000): compare at values 0.25, 0.5, 0.75
    for k_weak, k_strong in ((5, 2), (10, 5), (15, 7)):
        assert float(eq.bids[0, k_weak]) >= float(eq.bids[1, k_strong]) - 0.05


@pytest.mark.slow
def test_symmetric_grid_equilibrium_near_closed_form():
    d = auctions.uniform([0.0, 0.0], [1.0, 1.0], 21)
    eq = auctions.bayes_nash_bids(d, num_bids=41, tol=0.0, max_steps=3000)  # shared compile
    assert float(eq.incentive_violation) < 0.01
    v = np.asarray(d.values[0])
    np.testing.assert_allclose(eq.bids, np.stack([v / 2, v / 2]), atol=0.06)
    # revenue equivalence within the grid's resolution
    assert float(eq.principal_value) == pytest.approx(1 / 3, abs=0.03)


def test_default_grid_starts_at_the_lowest_value():
    """Values on [100, 101]: the default grid ran from 0, a step of 2.5 for 41 bids, and came
    back CONVERGED with every bid at 99.99 (a break-tester's find). From the lowest value the
    bids follow b(v) = (v + 100) / 2 and the revenue is 100 + 1/3 to the grid's resolution.
    (Same shapes and budget as the asymmetric fixture: one compile.)"""
    d = auctions.uniform([100.0, 100.0], [101.0, 101.0], 21)
    eq = auctions.bayes_nash_bids(d, num_bids=41, max_steps=3000)
    assert int(eq.result) == 0
    v = np.asarray(d.values[0])
    np.testing.assert_allclose(eq.bids, np.stack([(v + 100) / 2] * 2), atol=0.05)
    assert float(eq.principal_value) == pytest.approx(100 + 1 / 3, abs=0.05)  # two steps


def test_bne_bad_inputs():
    d = auctions.uniform([0.0, 0.0], [1.0, 1.0], 5)
    with pytest.raises(ValueError, match="num_bids"):
        auctions.bayes_nash_bids(d, num_bids=1)
    with pytest.raises(ValueError, match="reserve must be a scalar"):
        auctions.bayes_nash_bids(d, reserve=[0.1, 0.2])
    with pytest.raises(ValueError, match="values must be >= 0"):
        auctions.bayes_nash_bids(auctions.uniform([-1.0, -1.0], [0.0, 0.0], 5))
    with pytest.raises(ValueError, match="kind"):
        auctions.bayes_nash_bids(d, kind="second_price")
    with pytest.raises(ValueError, match="bids"):
        auctions.bayes_nash_bids(d, bids=[0.0, 0.5, 0.2])
    with pytest.raises(TypeError, match="dists"):
        auctions.bayes_nash_bids([0.0, 1.0])


# ----------------------------------------------------------------------------- outcomes


def test_auction_outcomes_by_hand():
    b, v = [0.3, 0.6, 0.5], [0.5, 0.9, 0.7]
    fp = auctions.auction_outcome(b, v, "first_price", reserve=0.4)
    np.testing.assert_allclose(fp.allocation, [0, 1, 0])
    np.testing.assert_allclose(fp.payments, [0, 0.6, 0])
    # hindsight: bidder 2 could have won at 0.6 (value 0.7): regret 0.1; winner overbid 0.1
    np.testing.assert_allclose(fp.regret, [0.0, 0.1, 0.1], atol=1e-12)
    sp = auctions.auction_outcome(b, v, "second_price", reserve=0.4)
    np.testing.assert_allclose(sp.payments, [0, 0.5, 0])
    ap = auctions.auction_outcome(b, v, "all_pay", reserve=0.4)
    np.testing.assert_allclose(ap.payments, [0, 0.6, 0.5])  # 0.3 is below the reserve
    # batches (different reserves) = loop
    bat = auctions.auction_outcome(jnp.tile(jnp.asarray(b), (3, 1)), v, "second_price",
                                   jnp.array([0.0, 0.55, 0.7]))
    np.testing.assert_allclose(bat.payments[:, 1], [0.5, 0.55, 0.0])
    with pytest.raises(ValueError, match="kind"):
        auctions.auction_outcome(b, v, "dutch")
    # a break-tester's finds: NaN/inf bids became NaN payments and revenue silently; no
    # bidder was numpy's "zero-size array"; win_probability took rows that are not
    # distributions and a reserve without its grid
    for bad_b, bad_v in (([np.nan, 0.5], [1.0, 1.0]), ([np.inf, 0.5], [1.0, 1.0]),
                         ([0.5, 0.5], [np.nan, 1.0])):
        with pytest.raises(ValueError, match="bids|values"):
            auctions.auction_outcome(bad_b, bad_v, "second_price")
    with pytest.raises(ValueError, match="at least one bidder"):
        auctions.auction_outcome(np.zeros(0), np.zeros(0))
    d = auctions.uniform([0.0, 0.0], [1.0, 1.0], 5)
    with pytest.raises(ValueError, match="num_samples must be at least 2"):   # se was NaN
        auctions.monte_carlo_revenue(jax.random.key(0), d, "second_price", num_samples=1)
    with pytest.raises(ValueError, match="sum to 1"):
        auctions.win_probability([[0.5, 0.9], [0.5, 0.5]])
    with pytest.raises(ValueError, match="bid grid"):
        auctions.win_probability([[0.5, 0.5], [0.5, 0.5]], reserve=0.5)
    with pytest.raises(ValueError, match=r"\[bidders, M\]"):
        auctions.win_probability([0.5, 0.5])


@pytest.mark.slow
def test_distributions_sample_and_mean():
    # from_cdf of F(v) = v^2 on [0, 1]: mean 2/3, samples agree
    v = np.linspace(0, 1, K)
    d = auctions.from_cdf(v, v**2)
    assert float(d.mean()) == pytest.approx(2 / 3, abs=1e-4)
    s = d.sample(jax.random.key(0), (10_000,))
    assert abs(float(s.mean()) - 2 / 3) < 4 * float(s.std()) / np.sqrt(10_000)


def test_batched_quantile_and_cdf():
    """Each batch member's quantile and CDF (they raised numpy's "a should be 1-dimensional"
    on a batched distribution, a break-tester's find)."""
    d = auctions.uniform([0.0, 2.0], [1.0, 4.0], 3)
    np.testing.assert_allclose(d.quantile(jnp.array([0.25, 0.75])), [[0.25, 2.5], [0.75, 3.5]])
    np.testing.assert_allclose(d.cdf_at(0.5), [0.5, 0.0])


def test_distributions_validate():
    with pytest.raises(ValueError, match="lo"):
        auctions.uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="pdf"):
        auctions.from_pdf([0.0, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="cdf"):
        auctions.from_cdf([0.0, 1.0], [0.0, 0.5])
    with pytest.raises(ValueError, match="increasing"):
        auctions.from_pdf([0.0, 0.0, 1.0], [1.0, 1.0, 1.0])


# ----------------------------------------------------------------------------- VCG


def test_vcg_oracle_and_affine_maximizer():
    vals = [[0, 0, 0, 10], [0, 8, 0, 8]]  # bundle index = bitmask over items (A = 1, B = 2)
    out = auctions.vcg(vals)
    assert out.bundles.tolist() == [3, 0]
    assert float(out.principal_value) == 8.0 and float(out.welfare) == 10.0
    np.testing.assert_allclose(out.agent_values, [2.0, 0.0])
    # an affine maximiser with weights (1, 1) and zero boosts is VCG
    aff = auctions.affine_maximizer(vals, weights=[1.0, 1.0])
    np.testing.assert_allclose(aff.payments, out.payments)


@pytest.mark.slow
def test_vcg_is_truthful_and_matches_brute_force():
    rng = np.random.default_rng(0)
    n, m = 3, 2
    vals = rng.uniform(0, 10, (8, n, 2**m))
    vals[..., 0] = 0.0
    vals[..., 3] = np.maximum(vals[..., 3], np.maximum(vals[..., 1], vals[..., 2]))
    out = auctions.vcg(vals)  # a batch of 8 auctions
    table = auctions.assignments(n, m)
    for b in range(8):
        V = np.stack([vals[b, i, table[:, i]] for i in range(n)], 1)  # [A, n]
        assert float(out.welfare[b]) == pytest.approx(V.sum(1).max())
        for i in range(n):
            others = np.delete(V, i, axis=1).sum(1)
            a = int(np.argmax(V.sum(1)))
            assert float(out.payments[b, i]) == pytest.approx(others.max() - others[a])
    # no bidder gains by misreporting (random misreports)
    for _ in range(5):
        lie = vals.copy()
        lie[:, 0] = rng.uniform(0, 10, (8, 2**m))
        lie[:, 0, 0] = 0.0
        o = auctions.vcg(lie)
        true_util = vals[np.arange(8), 0][np.arange(8), np.asarray(o.bundles[:, 0])] \
            - np.asarray(o.payments[:, 0])
        assert np.all(true_util <= np.asarray(out.agent_values[:, 0]) + 1e-9)
    assert float(out.participation_violation.max()) == 0.0
    with pytest.raises(ValueError, match="power of two|2\\^items"):
        auctions.vcg([[0, 1, 2]])
    with pytest.raises(ValueError, match="empty bundle"):
        auctions.vcg([[1, 1]])


def test_jit_and_vmap_match_eager(u01):
    rev = jax.jit(lambda r: auctions.expected_revenue(u01, 2, r))
    rs = jnp.array([0.0, 0.25, 0.5])
    np.testing.assert_allclose(jax.vmap(rev)(rs),
                               [float(auctions.expected_revenue(u01, 2, r)) for r in rs],
                               atol=1e-12)


@pytest.mark.slow
def test_myerson_batch_matches_loop():
    # Myerson over a batch of asymmetric auctions = one by one
    his = jnp.array([[1.0, 1.0], [1.0, 2.0]])
    d = auctions.uniform(jnp.zeros_like(his), his, 51)
    batch = auctions.myerson_auction(d)
    for b in range(2):
        one = auctions.myerson_auction(auctions.uniform(np.zeros(2), his[b], 51))
        assert float(batch.principal_value[b]) == pytest.approx(float(one.principal_value),
                                                                abs=1e-12)
