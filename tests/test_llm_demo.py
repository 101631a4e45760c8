"""The shortened flagship experiment (llm_bridge.demo): both effects go the predicted way."""

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


def test_quick_experiment_directions(tmp_path):
    cfg = demo.DemoConfig.quick()
    res = demo.run(cfg, str(tmp_path), progress=False, plot=False, echo=lambda s: None)
    base = np.asarray(res["base_shares"])
    naive = np.asarray(res["naive"]["measured_shares"])
    ct = np.asarray(res["contract_run"]["measured_shares"])
    ct_pred = np.asarray(res["contract_run"]["predicted_shares"])
    # naive (incomplete) reward: gaming grows
    assert naive[1] > base[1] + 0.05, (base, naive)
    # contract: honest grows toward the designed level (the shortened run covers at least a
    # third of the way), gaming shrinks, and honesty beats the naive reward's
    assert ct_pred[0] > base[0] + 0.3
    assert ct[0] > base[0] + (ct_pred[0] - base[0]) / 3, (base, ct, ct_pred)
    assert ct[1] < base[1] and ct[0] > naive[0]
    saved = json.load(open(tmp_path / "results.json"))
    assert saved["contract"]["audit_rate"] == res["contract"]["audit_rate"]
    assert (tmp_path / "metrics_contract.jsonl").exists()
