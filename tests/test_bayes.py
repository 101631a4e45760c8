"""mechanisms.bayes: QRE estimation (MLE, likelihood-ratio interval, NUTS posterior) and agent
posteriors (conjugate checks of NUTS, costs and temperature from contract-choice data)."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import kernel, solvers
from socialign.mechanisms import bayes

# McKelvey and Palfrey (1995), Ochs's asymmetric matching pennies: 128 rounds
MP = solvers.NormalFormGame.from_bimatrix([[1.1141, 0.0], [0.0, 0.2785]],
                                          [[0.0, 1.1141], [1.1141, 0.0]])
MP_COUNTS = [128 * np.array([0.527, 0.473]), 128 * np.array([0.366, 0.634])]
CHI2_95 = 3.841458820694124


@pytest.fixture(scope="module")
def mp_mle():
    return bayes.qre_mle(MP, MP_COUNTS)


def test_mp_mle_reproduces_gambit(mp_mle):
    # Gambit's logit_estimate: lambda = 1.845610, log-likelihood -174.764532, with the
    # likelihood of each player's own counts (128 x frequency per player)
    assert int(mp_mle.result) == kernel.Result.CONVERGED
    assert abs(float(mp_mle.precision) - 1.845610) < 1e-5
    assert abs(float(mp_mle.log_likelihood) - (-174.764532)) < 1e-5
    assert abs(float(mp_mle.score)) < 1e-6
    assert abs(float(mp_mle.temperature) * float(mp_mle.precision) - 1) < 1e-12
    # the strategies are the QRE at the estimate
    eq = solvers.solve(MP, solvers.LogitQRE(temperature=float(mp_mle.temperature)))
    for s, t in zip(mp_mle.strategies, eq.strategies):
        np.testing.assert_allclose(s, t, atol=1e-8)


def test_likelihood_ratio_interval_ends_drop_by_chi2(mp_mle):
    lo, hi = (float(x) for x in mp_mle.interval)
    assert 0 < lo < float(mp_mle.precision) < hi < np.inf
    ll = jax.jit(jax.vmap(lambda lam: bayes.qre_log_likelihood(MP, MP_COUNTS, lam)))
    ends = ll(jnp.asarray([lo, hi]))
    np.testing.assert_allclose(2 * (float(mp_mle.log_likelihood) - ends), CHI2_95, atol=1e-6)
    # and just inside the interval the drop is smaller
    inside = ll(jnp.asarray([lo * 1.05, hi / 1.05]))
    assert np.all(2 * (float(mp_mle.log_likelihood) - inside) < CHI2_95)


def test_gradients_flow_through_the_qre_solve():
    # d ell / d lambda by the implicit adjoint, against central differences
    f = lambda lam: bayes.qre_log_likelihood(MP, MP_COUNTS, lam)  # noqa: E731
    g = float(jax.grad(f)(1.2))
    h = 1e-5
    fd = (float(f(1.2 + h)) - float(f(1.2 - h))) / (2 * h)
    assert abs(g) > 1.0  # not at the optimum: a gradient that is really there
    assert abs(g - fd) < 1e-5 * (1 + abs(fd))


@pytest.mark.slow
def test_gradients_flow_to_the_payoffs():
    # d ell / d payoff (a payoff parameter can be estimated jointly), against central differences
    h = 1e-5

    def by_payoffs(payoffs):
        return bayes.qre_log_likelihood(solvers.NormalFormGame(payoffs, 2), MP_COUNTS, 1.2)

    P = jnp.asarray(MP.payoffs)
    gp = jax.grad(by_payoffs)(P)
    E = jnp.zeros_like(P).at[0, 1, 1].set(h)
    fdp = (float(by_payoffs(P + E)) - float(by_payoffs(P - E))) / (2 * h)
    assert abs(float(gp[0, 1, 1]) - fdp) < 1e-5 * (1 + abs(fdp))
    assert abs(fdp) > 1e-2


def test_mle_recovers_a_known_precision_from_simulated_play():
    counts = bayes.simulate_qre_counts(MP, 3.0, 4000, jax.random.key(7))
    assert [float(c.sum()) for c in counts] == [4000.0, 4000.0]
    est = bayes.qre_mle(MP, list(counts))
    assert int(est.result) == kernel.Result.CONVERGED
    lo, hi = (float(x) for x in est.interval)
    assert lo < 3.0 < hi
    assert abs(float(est.precision) - 3.0) < 0.3


def test_mle_reports_unbounded_when_play_is_nash():
    # a dominant strategy played every time: the likelihood rises for ever with lambda
    pd = solvers.NormalFormGame.from_bimatrix([[3.0, 0.0], [5.0, 1.0]], [[3.0, 5.0], [0.0, 1.0]])
    est = bayes.qre_mle(pd, [[0.0, 50.0], [0.0, 50.0]])
    assert int(est.result) == kernel.Result.UNBOUNDED
    assert np.isinf(float(est.interval[1]))
    assert np.isfinite(float(est.log_likelihood))


@pytest.mark.slow  # ~20 s on 2 cores; the Dirichlet NUTS test stays default
def test_qre_posterior_matches_quadrature():
    post = bayes.qre_posterior(MP, MP_COUNTS, prior_loc=0.0, prior_scale=1.0, num_warmup=200,
                               num_samples=600, key=jax.random.key(1))
    assert int(post.result) == kernel.Result.CONVERGED
    # exact posterior mean of lambda by quadrature over log lambda (prior N(0, 1))
    theta = jnp.linspace(-4.0, 3.0, 701)
    ll = jax.jit(jax.vmap(lambda t: bayes.qre_log_likelihood(MP, MP_COUNTS, jnp.exp(t))))(theta)
    logp = ll - 0.5 * theta**2
    w = np.exp(np.asarray(logp - logp.max()))
    w /= w.sum()
    mean = float(np.sum(w * np.exp(np.asarray(theta))))
    sd = float(np.sqrt(np.sum(w * np.exp(2 * np.asarray(theta))) - mean**2))
    se = sd / np.sqrt(float(post.ess))
    assert abs(float(post.mean) - mean) < 4 * se + 1e-3, (float(post.mean), mean, se)
    lo, hi = (float(x) for x in post.interval)
    assert lo < float(post.median) < hi
    assert lo < 1.8456 < hi  # the MLE lies inside the 95% credible interval
    assert post.samples.shape == (600,)


# ----------------------------------------------------------------------------- agents


@pytest.mark.slow
def test_beta_binomial_nuts_matches_the_exact_posterior():
    data = bayes.ContractData([[35.0, 15.0]])
    post = bayes.agent_posterior(data, prior_concentration=1.0, num_warmup=300,
                                 num_samples=1000, key=jax.random.key(3))
    exact = bayes.dirichlet_posterior([[35.0, 15.0]], 1.0)
    assert int(post.result) == kernel.Result.CONVERGED
    assert post.costs is None and post.temperature is None
    np.testing.assert_allclose(post.outcome_probs.mean(0), exact.mean, atol=1e-2)
    np.testing.assert_allclose(exact.mean, [[36 / 52, 16 / 52]], atol=1e-12)


def test_dirichlet_multinomial_nuts_matches_the_exact_posterior():
    counts = [[20.0, 10.0, 5.0], [5.0, 10.0, 20.0]]
    post = bayes.agent_posterior(bayes.ContractData(counts), prior_concentration=0.5,
                                 num_warmup=300, num_samples=1000, key=jax.random.key(4))
    exact = bayes.dirichlet_posterior(counts, 0.5)
    assert int(post.result) == kernel.Result.CONVERGED
    np.testing.assert_allclose(post.outcome_probs.mean(0), exact.mean, atol=1e-2)
    # and the spread: the marginal variances agree too (relative 25%)
    np.testing.assert_allclose(post.outcome_probs.var(0), exact.variance, rtol=0.25)
    # the Beta-binomial case: one outcome against the rest is exactly Beta(20.5, 15.5 + 0.5)
    # (the Dirichlet's aggregation property); its NUTS quantiles match scipy's
    from scipy import stats

    p = np.asarray(post.outcome_probs[:, 0, 0])
    ref = stats.beta(20.5, 16.0)
    assert abs(p.mean() - ref.mean()) < 1e-2
    np.testing.assert_allclose(np.quantile(p, [0.1, 0.5, 0.9]), ref.ppf([0.1, 0.5, 0.9]),
                               atol=2e-2)


@pytest.mark.slow
def test_costs_and_temperature_are_recovered_from_contract_choices():
    rng = np.random.default_rng(0)
    P = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]])
    costs, T = np.array([0.0, 0.3, 0.6]), 0.5
    outcome_counts = np.stack([rng.multinomial(300, p) for p in P]).astype(float)
    contracts = rng.uniform(0.0, 2.0, size=(10, 3))
    U = contracts @ P.T - costs
    pi = np.exp(U / T)
    pi /= pi.sum(1, keepdims=True)
    action_counts = np.stack([rng.multinomial(300, p) for p in pi]).astype(float)
    post = bayes.agent_posterior(bayes.ContractData(outcome_counts, contracts, action_counts),
                                 num_warmup=300, num_samples=500, key=jax.random.key(5))
    assert int(post.result) == kernel.Result.CONVERGED
    assert post.costs.shape == (500, 3) and post.temperature.shape == (500,)
    for est, truth in ((post.costs[:, 1], 0.3), (post.costs[:, 2], 0.6),
                       (post.temperature, T)):
        assert abs(float(est.mean()) - truth) < 3 * float(est.std()) + 0.02
    assert float(post.temperature.std()) < 0.2  # the data are informative
    problems = post.problems([0.0, 1.0, 2.0])
    assert problems.batch_shape == (500,)


def test_share_bands_are_the_exact_dirichlet_posterior():
    b = bayes.share_bands([[78.0, 4.0, 18.0], [780.0, 40.0, 180.0]], level=0.9,
                          num_samples=20000, key=jax.random.key(0))
    np.testing.assert_allclose(b.mean[0], np.array([79.0, 5.0, 19.0]) / 103.0, atol=1e-12)
    assert b.samples.shape == (20000, 2, 3)
    np.testing.assert_allclose(b.samples.sum(-1), 1.0, atol=1e-12)
    assert np.all(b.lower < b.mean) and np.all(b.mean < b.upper)
    # ten times the data: bands about sqrt(10) narrower
    ratio = (b.upper[0] - b.lower[0]) / (b.upper[1] - b.lower[1])
    assert np.all((ratio > 2.5) & (ratio < 3.8))
    # the Beta marginal's 5% and 95% quantiles of the first share (scipy reference)
    from scipy import stats

    ref = stats.beta(79.0, 24.0).ppf([0.05, 0.95])
    np.testing.assert_allclose([b.lower[0, 0], b.upper[0, 0]], ref, atol=5e-3)


# ----------------------------------------------------------------------------- validation


def test_bad_input_raises_naming_the_argument():
    with pytest.raises(ValueError, match="counts"):
        bayes.qre_mle(MP, [[1.0, 2.0, 3.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="counts"):
        bayes.qre_mle(MP, [[1.0, -2.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="game"):
        bayes.qre_mle([[1.0]], MP_COUNTS)
    with pytest.raises(ValueError, match="bounds"):
        bayes.qre_mle(MP, MP_COUNTS, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="level"):
        bayes.qre_mle(MP, MP_COUNTS, level=1.5)
    with pytest.raises(ValueError, match="precision"):
        bayes.qre_log_likelihood(MP, MP_COUNTS, -1.0)
    with pytest.raises(ValueError, match="prior_scale"):
        bayes.qre_posterior(MP, MP_COUNTS, prior_scale=0.0)
    with pytest.raises(TypeError, match="data"):
        bayes.agent_posterior([[1.0, 2.0]])
    with pytest.raises(ValueError, match="action_counts"):
        bayes.ContractData([[1.0, 2.0]], [[0.0, 1.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="counts"):
        bayes.dirichlet_posterior([[1.0, -1.0]])
    with pytest.raises(ValueError, match="prior_concentration"):
        bayes.share_bands([1.0, 2.0], prior_concentration=0.0)


def test_importing_mechanisms_does_not_load_numpyro():
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys, socialign.mechanisms as m; m.bayes.qre_mle; "
         "print('numpyro' in sys.modules)"],
        capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_simulation_based_calibration_of_the_qre_posterior():
    """Talts et al. (2018): with log lambda drawn from the prior and play simulated from the QRE,
    the rank of the true lambda among posterior draws is uniform. The 100 data sets' posteriors
    are independent, so one NUTS run over the joint model (a plate of 100 log-precisions, the
    QRE solved for all of them in one vmap) samples them all; 99 thinned draws each."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS
    from scipy import stats

    n_sets, n_draws, rounds = 100, 99, 60
    theta = jax.random.normal(jax.random.key(0), (n_sets,), jnp.float64)
    counts = [bayes.simulate_qre_counts(MP, float(np.exp(t)), rounds, jax.random.key(10 + i))
              for i, t in enumerate(np.asarray(theta))]
    rows = jnp.stack([c[0] for c in counts])
    cols = jnp.stack([c[1] for c in counts])

    def model(rows, cols):
        with numpyro.plate("sets", n_sets):
            t = numpyro.sample("log_precision", dist.Normal(0.0, 1.0))
        ll = jax.vmap(lambda t, r, c: bayes.qre_log_likelihood(MP, [r, c], jnp.exp(t)))(
            t, rows, cols)
        numpyro.factor("qre", jnp.sum(ll))

    mcmc = MCMC(NUTS(model), num_warmup=400, num_samples=4 * n_draws, progress_bar=False)
    mcmc.run(jax.random.key(1), rows, cols)
    draws = np.asarray(mcmc.get_samples()["log_precision"])[::4]  # [99, sets]
    ranks = np.sum(draws < np.asarray(theta)[None, :], axis=0)  # 0..99
    hist = np.bincount(ranks // 10, minlength=10)
    p = stats.chisquare(hist).pvalue
    assert p > 0.001, (hist, p)
    # and the posteriors are informative (narrower than the prior)
    assert float(np.mean(np.std(draws, axis=0))) < 0.9
