"""Peer prediction and fine-tuning payments (mechanisms.elicitation): truthfulness checks on
random priors, Monte Carlo runs of the payment rules side by side with the exact expectations,
the output-agreement counterexample, and the misreport audit with and without payments."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
from socialign.mechanisms import elicitation as el

S = 3


@pytest.fixture(scope="module")
def state_models():
    """Six random world-state models: 3 states, 3 signals, full support."""
    rng = np.random.default_rng(4)
    prior = rng.dirichlet(np.ones(3), size=6)
    lik = rng.dirichlet(np.ones(S), size=(6, 3))
    return prior, lik


@pytest.fixture(scope="module")
def joints():
    """Eight random joint distributions of two agents' signals (not necessarily symmetric)."""
    rng = np.random.default_rng(9)
    return rng.dirichlet(np.ones(S * S), size=8).reshape(8, S, S)


# ----------------------------------------------------------------------------- BTS
def test_bts_is_truthful_in_a_large_population(state_models):
    prior, lik = state_models
    t = el.bts_truthfulness(prior, lik, alpha=1.0)
    assert t.incentive_violation.shape == (6,)
    np.testing.assert_array_less(np.asarray(t.incentive_violation), 1e-12)
    np.testing.assert_array_equal(t.best_strategy, np.tile(np.arange(S), (6, 1)))
    # with alpha = 1 BTS is zero-sum: the expected total score of truthful play is 0 (Prelec)
    np.testing.assert_allclose(t.truthful_payment, 0.0, atol=1e-12)
    # the information score alone (alpha = 0) is also truthful
    t0 = el.bts_truthfulness(prior, lik, alpha=0.0)
    np.testing.assert_array_less(np.asarray(t0.incentive_violation), 1e-12)


def test_bts_scores_on_sampled_populations_match_the_expectation(state_models):
    # the payment rule on data, run on a large sampled population in every world state, averages
    # to the exact interim expectation that the truthfulness check computes
    prior, lik = state_models[0][0], state_models[1][0]
    n = 20_000
    rng = np.random.default_rng(0)
    pt = prior @ lik
    post = prior[:, None] * lik / pt                           # P(w | t)
    pred = post.T @ lik                                        # truthful predictions P(k | t)
    per_world = np.zeros((3, S))
    for w in range(3):
        signals = rng.choice(S, size=n, p=lik[w])
        scores = np.asarray(el.bayesian_truth_serum(signals, pred[signals], alpha=1.0))
        per_world[w] = [scores[signals == k].mean() for k in range(S)]
    mc = np.einsum("wt,wt->t", post, per_world)
    exact = np.asarray(el.bts_truthfulness(prior, lik).signal_payments)
    np.testing.assert_allclose(mc, exact, atol=0.03)


# ----------------------------------------------------------------------------- correlated agreement
def test_correlated_agreement_is_informed_truthful_on_every_prior(joints, state_models):
    t = el.ca_truthfulness(joints)
    np.testing.assert_array_less(np.asarray(t.incentive_violation), 1e-15)
    np.testing.assert_array_equal(t.best_strategy, np.tile(np.arange(S), (8, 1)))
    # truthful play earns the sum of the positive correlations Delta(s, s')
    delta = joints - joints.sum(2)[:, :, None] * joints.sum(1)[:, None, :]
    np.testing.assert_allclose(t.truthful_payment, np.clip(delta, 0, None).sum((1, 2)),
                               atol=1e-15)
    sym = el.ca_truthfulness(el.signal_joint(*state_models))
    np.testing.assert_array_less(np.asarray(sym.incentive_violation), 1e-15)
    # a misspecified score matrix (reward agreement only) can be manipulated: the check fails
    bad = np.array([[0.05, 0.25, 0.0], [0.0, 0.05, 0.25], [0.25, 0.0, 0.15]])
    t_bad = el.ca_truthfulness(bad, score_matrix=np.eye(S))
    assert float(t_bad.incentive_violation) > 0.05


def test_correlated_agreement_payments_on_sampled_tasks(joints):
    joint = joints[0]
    rng = np.random.default_rng(1)
    tasks = 200_000
    pairs = rng.choice(S * S, size=tasks, p=joint.ravel())
    reports = np.stack([pairs // S, pairs % S]).astype(np.int32)
    sc = el.signal_score_matrix(joint)
    # the bonus-minus-penalty average on many tasks is the exact expectation
    pay = float(el.correlated_agreement(reports[:, :4000], sc))
    exact = float(el.ca_truthfulness(joint).truthful_payment)
    assert abs(pay - exact) < 0.05


@pytest.mark.slow   # a second compiled shape (a batch of 50 task sets)
def test_correlated_agreement_payments_average_to_the_expectation(joints):
    joint = joints[0]
    rng = np.random.default_rng(1)
    tasks = 200_000
    pairs = rng.choice(S * S, size=tasks, p=joint.ravel())
    reports = np.stack([pairs // S, pairs % S]).astype(np.int32)
    sc = el.signal_score_matrix(joint)
    exact = float(el.ca_truthfulness(joint).truthful_payment)
    big = reports.reshape(2, 50, 4000).transpose(1, 0, 2)
    pays = np.asarray(el.correlated_agreement(big, sc))
    assert abs(pays.mean() - exact) < 4 * pays.std() / np.sqrt(50) + 1e-3


# ----------------------------------------------------------------------------- DMI
def test_dmi_is_dominantly_truthful(joints):
    t = el.dmi_truthfulness(joints, num_tasks=8)
    k = math.perm(4, S) ** 2
    np.testing.assert_allclose(t.truthful_payment, k * np.linalg.det(joints) ** 2, rtol=1e-12)
    assert np.all(np.asarray(t.incentive_violation) <= 1e-12 * np.asarray(t.truthful_payment))


def test_dmi_payments_on_sampled_tasks_match_the_expectation():
    joint = np.array([[0.3, 0.1], [0.05, 0.55]])
    rng = np.random.default_rng(2)
    runs, tasks = 20_000, 4
    pairs = rng.choice(4, size=(runs, tasks), p=joint.ravel())
    reports = np.stack([pairs // 2, pairs % 2], axis=1).astype(np.int32)   # [runs, 2, tasks]
    pay = np.asarray(el.determinant_mutual_information(reports, 2))[:, 0]
    exact = float(el.dmi_truthfulness(joint, num_tasks=tasks).truthful_payment)
    assert abs(pay.mean() - exact) < 4 * pay.std() / np.sqrt(runs)
    # merging the two signals into one report pays nothing, always
    merged = reports.copy()
    merged[:, 0] = 0
    np.testing.assert_array_equal(el.determinant_mutual_information(merged, 2), 0.0)


# ----------------------------------------------------------------------------- output agreement
def test_output_agreement_counterexample():
    # signal 1 is common: an agent that sees 0 still expects its peer to see 1 (0.2 > 0.1)
    joint = np.array([[0.1, 0.2], [0.2, 0.5]])
    oa = el.output_agreement_truthfulness(joint)
    np.testing.assert_allclose(oa.incentive_violation, 0.1, atol=1e-15)
    assert oa.best_strategy.tolist() == [1, 1]
    # on the same prior the multi-task mechanisms are truthful
    assert float(el.ca_truthfulness(joint).incentive_violation) == 0.0
    assert float(el.dmi_truthfulness(joint, num_tasks=4).incentive_violation) == 0.0
    assert el.dmi_truthfulness(joint, num_tasks=4).best_strategy.tolist() == [0, 1]
    # a strongly diagonal prior makes output agreement truthful
    assert float(el.output_agreement_truthfulness([[0.4, 0.1], [0.1, 0.4]])
                 .incentive_violation) == 0.0
    # and the data-level rule: always reporting 1 agrees more often on sampled tasks
    rng = np.random.default_rng(3)
    pairs = rng.choice(4, size=20_000, p=joint.ravel())
    truthful = np.stack([pairs // 2, pairs % 2]).astype(np.int32)
    lazy = truthful.copy()
    lazy[0] = 1
    assert float(el.output_agreement(lazy)) > float(el.output_agreement(truthful)) + 0.05


# ----------------------------------------------------------------------------- fine-tuning payments
@pytest.fixture(scope="module")
def rewards():
    rng = np.random.default_rng(6)
    return rng.uniform(0.0, 1.0, size=(3, 4)), np.array([0.5, 1.0, 2.0]), \
        np.array([0.1, 0.2, 0.3, 0.4])


def test_policy_and_payments_closed_forms_against_scipy(rewards):
    r, w, mu = rewards
    tau = 0.3
    pi = np.asarray(el.fine_tuning_policy(r, w, mu, tau))

    def neg(x, rr):
        p = np.abs(x) / np.abs(x).sum()
        return -(p @ rr - tau * np.sum(p * np.log(p / mu)))

    cons = [{"type": "eq", "fun": lambda p: p.sum() - 1}]
    opt = so.minimize(neg, mu, args=(w @ r,), method="SLSQP", bounds=[(1e-9, 1)] * 4,
                      constraints=cons, options={"ftol": 1e-14})
    np.testing.assert_allclose(pi, np.abs(opt.x) / np.abs(opt.x).sum(), atol=1e-6)
    pay = np.asarray(el.affine_maximizer_payments(r, w, mu, tau))
    for i in range(3):
        others = w @ r - w[i] * r[i]
        best = so.minimize(neg, mu, args=(others,), method="SLSQP", bounds=[(1e-9, 1)] * 4,
                           constraints=cons, options={"ftol": 1e-14})
        at_pi = pi @ others - tau * np.sum(pi * np.log(pi / mu))
        np.testing.assert_allclose(pay[i], (-best.fun - at_pi) / w[i], atol=1e-6)
    assert np.all(pay >= 0)
    # non-negative rewards: participation is individually rational
    assert np.all(np.asarray(el.party_utilities(r, r, w, mu, tau)) >= 0)


def test_truthful_reporting_is_dominant_with_payments(rewards):
    # for arbitrary reports of the others, no misreport of party i beats its true reward
    r, w, mu = rewards
    rng = np.random.default_rng(7)
    u = jax.jit(lambda t, rep: el.party_utilities(t, rep, w, mu, 0.3))
    u_free = jax.jit(lambda t, rep: el.party_utilities(t, rep, w, mu, 0.3,
                                                       with_payments=False))
    gained_without = 0
    for _ in range(30):
        others = rng.normal(size=r.shape)
        for i in range(3):
            truthful = others.copy()
            truthful[i] = r[i]
            lie = truthful.copy()
            lie[i] = 3.0 * r[i] + rng.normal(scale=0.5, size=4)      # exaggerate, with noise
            assert float(u(r, lie)[i]) <= float(u(r, truthful)[i]) + 1e-12
            gained_without += float(u_free(r, lie)[i]) > float(u_free(r, truthful)[i])
    assert gained_without > 30                                     # lying pays without them


def test_misreport_audit(rewards):
    r, w, mu = rewards
    key = jax.random.key(3)
    paid = el.misreport_audit(r, w, mu, 0.3, key=key, num_restarts=6, num_steps=150)
    free = el.misreport_audit(r, w, mu, 0.3, key=key, num_restarts=6, num_steps=150,
                              with_payments=False)
    assert np.all(np.asarray(paid.incentive_violation) <= 1e-6)
    assert np.all(np.asarray(free.incentive_violation) > 1e-2)
    # the gain found without payments is real: recompute it from the reported rewards
    for i in range(3):
        reports = r.copy()
        reports[i] = np.asarray(free.best_reports[i])
        gain = el.party_utilities(r, reports, w, mu, 0.3, with_payments=False)[i] - \
            free.truthful_utilities[i]
        np.testing.assert_allclose(gain, free.gains[i], atol=1e-9)
        # and it is bounded by moving the policy to i's favourite response
        assert float(free.gains[i]) <= r[i].max() - float(free.truthful_utilities[i]) + 1e-12


def test_boundary_errors(rewards):
    r, w, mu = rewards
    with pytest.raises(ValueError, match="weights"):
        el.fine_tuning_policy(r, -w, mu, 1.0)
    with pytest.raises(ValueError, match="temperature"):
        el.fine_tuning_policy(r, w, mu, 0.0)
    with pytest.raises(ValueError, match="reference"):
        el.fine_tuning_policy(r, w, [0.5, 0.5, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="joint"):
        el.ca_truthfulness([[0.5, 0.6], [0.0, 0.0]])
    with pytest.raises(ValueError, match="at most"):
        el.output_agreement_truthfulness(np.full((7, 7), 1 / 49))
    with pytest.raises(ValueError, match="num_tasks"):
        el.dmi_truthfulness([[0.4, 0.1], [0.1, 0.4]], num_tasks=3)
    with pytest.raises(TypeError, match="reports"):
        el.output_agreement([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="reports"):
        el.determinant_mutual_information([[0, 1, 0, 2], [0, 1, 0, 1]], 2)
    with pytest.raises(ValueError, match="positive"):
        el.bts_truthfulness([0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="predictions"):
        el.bayesian_truth_serum([0, 1], [[1.0, 0.0], [0.5, 0.5]])
    assert jnp.isfinite(el.bayesian_truth_serum([0, 1], [[0.9, 0.1], [0.5, 0.5]])).all()
