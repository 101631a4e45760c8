"""The shortened flagship experiment (llm_bridge.demo): both effects go the predicted way."""

import dataclasses
import json

import numpy as np
import pytest
from socialign.llm_bridge import demo


def test_signals_and_behaviours():
    p = "3+4="
    assert demo.behaviour(p, "3+4=7") == 0 and demo.audit_correct(p, "3+4=7")
    assert demo.behaviour(p, "17") == 1 and demo.cheap_check(p, "17")
    assert demo.behaviour(p, "?") == 2 and not demo.cheap_check(p, "?")
    assert demo.behaviour(p, "8") == 2
    assert [demo.outcome_index(p, c, a) for c, a in
            (("7", True), ("17", True), ("17", False), ("?", True), ("?", False))] == [0, 1, 2,
                                                                                    3, 4]
    P = demo.outcome_probs(0.3, np.eye(3))
    np.testing.assert_allclose(P.sum(1), 1.0)
    np.testing.assert_allclose(P[0], [0.3, 0, 0.7, 0, 0])
    np.testing.assert_allclose(P[2], [0, 0, 0, 0.3, 0.7])
    # quantal response: prior * exp(u / beta) (mechanisms' own, via the demo's prediction)
    np.testing.assert_allclose(demo.predicted_shares([1.0, 0.0], 0.5, [0.5, 0.5]),
                               [np.e ** 2 / (1 + np.e ** 2), 1 / (1 + np.e ** 2)], rtol=1e-6)


def test_design_contract_implements_target():
    cfg = demo.DemoConfig()
    prior = np.array([0.25, 0.25, 0.5])
    costs = np.array([0.6, 0.3, 0.25])
    c = demo.design_contract(prior, np.eye(3), costs, cfg)
    assert c["designed_shares"][0] == pytest.approx(cfg.target_share, abs=0.01)
    assert max(c["payments"]) <= cfg.max_payment + 1e-9
    # the audit rate is the cheapest feasible one on the grid
    g = c["grid"]
    feas = [t for t, ok in zip(g["total_cost"], g["feasible"]) if ok]
    assert c["expected_payment"] + c["audit_cost"] == pytest.approx(min(feas), rel=1e-9)


def test_optimum_gap_is_the_objective_gap():
    """J* - J(pi) = beta KL(pi || pi*) with J(pi) = E_pi[u] - beta KL(pi || pi_ref) (closed
    form), on random behaviour distributions; 0 exactly at the quantal response."""
    rng = np.random.default_rng(0)
    beta = 0.5
    ref = rng.dirichlet(np.ones(3), size=4)
    pol = rng.dirichlet(np.ones(3), size=4)
    u = rng.normal(size=3)
    g = demo.optimum_gap(np.log(pol), np.log(ref), u, beta)
    J = (pol * u).sum(1) - beta * (pol * np.log(pol / ref)).sum(1)
    J_star = beta * np.log((ref * np.exp(u / beta)).sum(1))
    np.testing.assert_allclose(g["objective_gap"], np.mean(J_star - J), rtol=1e-10)
    star = ref * np.exp(u / beta)
    star /= star.sum(1, keepdims=True)
    assert abs(demo.optimum_gap(np.log(star), np.log(ref), u, beta)["kl"]) < 1e-12
    np.testing.assert_allclose(g["optimum_shares"], demo.predicted_shares(u, beta, ref))
    # Pinsker: the share error is at most sqrt(KL / 2) prompt by prompt
    assert g["max_share_gap"] <= np.sqrt(max(g["kl_per_prompt"]) / 2) + 1e-12
    with pytest.raises(ValueError, match="temperature"):
        demo.optimum_gap(np.log(pol), np.log(ref), u, 0.0)


# the shortened flagship run stays in the default suite: moved to slow (measured), the suite
# took as long (14:51 vs 14:30), because the tests that stay then compile what it compiled
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    cfg = demo.DemoConfig.quick()
    res = demo.run(cfg, str(out), progress=False, plot=False, echo=lambda s: None)
    return cfg, res, out


def test_quick_experiment_directions(quick_run):
    cfg, res, out = quick_run
    base = np.asarray(res["base_shares"])
    naive = np.asarray(res["naive"]["measured_shares"])
    ct = np.asarray(res["contract_run"]["measured_shares"])
    ct_pred = np.asarray(res["contract_run"]["predicted_shares"])
    # naive (incomplete) reward: gaming grows; the contract: honest grows, gaming shrinks
    assert naive[1] > base[1] + 0.05, (base, naive)
    assert ct_pred[0] > base[0] + 0.3
    assert ct[0] > base[0] + 0.3 and ct[1] < base[1] and ct[0] > naive[0], (base, ct, naive)
    saved = json.load(open(out / "results.json"))
    assert saved["contract"]["audit_rate"] == res["contract"]["audit_rate"]
    assert (out / "metrics_contract.jsonl").exists()


def _check_stopping_rule(cfg, r):
    checks = r["convergence_checks"]
    steps = [s for s, _ in checks]
    # evaluated every check_every steps (and at the cap), stopped at the first pass or the cap
    assert steps == list(range(cfg.check_every, r["rl_steps"] + 1, cfg.check_every)) or \
        steps[-1] == r["rl_steps"] == cfg.rl_steps
    assert r["converged"] == (checks[-1][1] <= cfg.kl_tol)
    assert all(kl > cfg.kl_tol for _, kl in checks[:-1])
    assert r["rl_steps"] == cfg.rl_steps or r["converged"]
    np.testing.assert_allclose(r["final_kl_to_optimum"], checks[-1][1], rtol=1e-6)
    assert r["initial_kl_to_optimum"] > 0


def test_quick_experiment_reports_its_convergence(quick_run):
    """The shortened run evaluates the criterion KL(pi || pi*) and stops on it (or at the cap);
    the verdict reports it. (Whether the tiny model converges is what the seeds report shows.)"""
    cfg, res, out = quick_run
    for key in ("naive", "contract_run"):
        _check_stopping_rule(cfg, res[key])
    assert res["verdict"]["naive_converged"] == res["naive"]["converged"]
    lines = [json.loads(x) for x in open(out / "metrics_contract.jsonl")]
    assert [x["step"] for x in lines if "kl_to_optimum" in x] == \
        [s for s, _ in res["contract_run"]["convergence_checks"]]


def test_finetune_stops_on_the_criterion():
    """With the reference as the optimum (zero utility) the first check passes and training
    stops there; with kl_tol tiny it runs to the cap."""
    from flax import nnx
    from socialign.llm_bridge.flagship import task, training
    model, tok = training.load_model("tiny", 0)
    base = nnx.state(model)
    # the quick run's shapes and learning rate (a constant of the compiled step), so that the
    # RL step and the sampler compiled by the module's quick run are reused (~7 s on 2 cores)
    cfg = demo.DemoConfig.quick(rl_steps=3, check_every=1)
    ref = demo.behaviour_logprobs(model, tok, cfg.operands)
    log = training.finetune(model, base, tok, task.naive_reward, cfg,
                            target=(ref, np.zeros(3)), progress=False)
    assert log.converged and log.steps == 1 and log.checks[0][1] <= cfg.kl_tol
    tight = dataclasses.replace(cfg, kl_tol=1e-300)
    log = training.finetune(model, base, tok, task.naive_reward, tight,
                            target=(ref, np.zeros(3)), progress=False)
    assert not log.converged and log.steps == 3 and [s for s, _ in log.checks] == [1, 2, 3]
    with pytest.raises(ValueError, match="target"):
        training.finetune(model, base, tok, task.naive_reward, cfg, target=(ref[:1], [0, 0]))


def test_quick_experiment_reports_credible_bands(quick_run):
    cfg, res, _ = quick_run
    for key in ("naive", "contract_run"):
        r = res[key]
        (plo, phi), (mlo, mhi) = r["predicted_band"], r["measured_band"]
        assert np.all(np.less_equal(plo, r["predicted_shares"])) and \
            np.all(np.less_equal(r["predicted_shares"], phi))
        # the measured band is the Dirichlet(1 + counts) posterior's: it holds its mean
        n = cfg.eval_samples
        post_mean = (np.round(np.asarray(r["measured_shares"]) * n) + 1) / (n + 3)
        assert np.all(np.less_equal(mlo, post_mean)) and np.all(np.less_equal(post_mean, mhi))
        inside = [lo <= m <= hi for m, lo, hi in zip(r["measured_shares"], plo, phi)]
        assert r["inside_predicted_band"] == inside
    text = demo.report(res, cfg)
    assert "90% band" in text and "inside their predicted 90% band" in text
    assert "KL(pi || pi*) =" in text and ("CONVERGED" in text or "NOT converged" in text)
