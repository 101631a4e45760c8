"""llm_bridge.participatory: ballots -> social-choice aggregate -> reward -> KL-regularised
fine-tuning, against the closed-form optimum."""

import numpy as np
import pytest
from socialign import mechanisms
from socialign.llm_bridge import participatory as pt
from socialign.mechanisms import social_choice as sc


def test_styles_and_corpus():
    assert [pt.style_completion("3+4=", k) for k in range(3)] == ["3+4=7", "7", "seven"]
    assert [pt.style("3+4=", c) for c in ("3+4=7", "7", "seven", "17", "?")] == [0, 1, 2, 3, 3]
    texts = pt.style_corpus(300, (1, 1, 2), np.random.default_rng(0), operands=3)
    ks = [pt.style(t[:4], t[4:]) for t in texts]
    assert set(ks) == {0, 1, 2} and abs(np.mean(np.array(ks) == 2) - 0.5) < 0.08
    with pytest.raises(ValueError, match="one-word"):
        pt.style_completion("9+9=", 0)
    with pytest.raises(ValueError, match="operands"):
        pt.style_corpus(3, (1, 1, 1), np.random.default_rng(0), operands=6)


def test_config_validation():
    with pytest.raises(ValueError, match="rules"):
        pt.ParticipatoryConfig(rules=("dictator",))
    with pytest.raises(ValueError, match="groups"):
        pt.ParticipatoryConfig(groups=(("a", (0, 0, 1), 3),))
    with pytest.raises(ValueError, match="kl_tol"):
        pt.ParticipatoryConfig(kl_tol=0.0)
    with pytest.raises(TypeError, match="ParticipatoryConfig"):
        pt.ballots(object())


def test_ballots_aggregates_and_rewards():
    # identical voters: the default groups form a Condorcet cycle with margins 30, 60, 10
    cfg = pt.ParticipatoryConfig(dispersion=0.0)
    prof, grp = pt.ballots(cfg)
    assert prof.ranks.shape == (100, 3) and np.bincount(grp).tolist() == [45, 35, 20]
    U = pt.group_utilities(prof, grp, 3)
    np.testing.assert_allclose(U, [[1, .5, 0], [0, 1, .5], [.5, 0, 1]])
    # maximal lottery of a 3-cycle a>b (x), b>c (y), c>a (z): p = (y, z, x) / (x + y + z)
    ml = pt.aggregate("maximal_lottery", prof, U, None)
    np.testing.assert_allclose(ml["lottery"], [0.6, 0.1, 0.3], atol=1e-5)
    bd = pt.aggregate("borda", prof, U, None)
    np.testing.assert_allclose(bd["scores"], np.array([110, 115, 75]) / 200)
    assert bd["winners"] == [False, True, False]
    eg = pt.aggregate("egalitarian", prof, U, None)   # every group gets 1/2 from uniform
    np.testing.assert_allclose(eg["lottery"], [1 / 3] * 3, atol=1e-5)
    # a lottery's reward implements the lottery at the pooled base shares, exactly
    rho = np.array([0.5, 0.3, 0.2])
    r = pt.rule_reward(ml, rho, cfg)
    p = np.asarray(mechanisms.quantal_response_probs(r, cfg.temperature, rho))
    np.testing.assert_allclose(p, ml["lottery"], atol=1e-5)
    with pytest.raises(ValueError, match="rule"):
        pt.aggregate("dictator", prof, U, None)
    cyc = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    np.testing.assert_allclose(pt.aggregate("maximal_lottery", cyc, None, None)["lottery"],
                               [1 / 3] * 3, atol=1e-5)


@pytest.fixture(scope="module")
def quick_run():
    cfg = pt.ParticipatoryConfig.quick()
    return cfg, pt.run(cfg, None, progress=False, plot=False, echo=lambda s: None)


@pytest.mark.slow  # the shortened fine-tuning run: ~62 s on 2 cores
def test_quick_run(quick_run):
    """The shortened run: the stopping rule is applied (criterion at every check, stop at the
    first pass or the cap) and the maximal lottery moves the model toward its favourite."""
    cfg, res = quick_run
    for rule in cfg.rules:
        v = res["rules"][rule]
        checks = v["convergence_checks"]
        assert v["converged"] == (checks[-1][1] <= cfg.kl_tol)
        assert all(kl > cfg.kl_tol for _, kl in checks[:-1])
        assert v["rl_steps"] == cfg.rl_steps or v["converged"]
        np.testing.assert_allclose(v["final_kl_to_optimum"], checks[-1][1], rtol=1e-6)
        assert len(v["satisfaction_measured"]) == len(cfg.groups)
        # the band is the Dirichlet(1 + counts) posterior's: it holds the posterior mean
        lo, hi = v["measured_band"]
        n = cfg.eval_samples
        post_mean = (np.round(np.asarray(v["measured_shares"]) * n) + 1) / (n + 4)
        assert np.all(np.less_equal(lo, post_mean)) and np.all(np.less_equal(post_mean, hi))
    ml = res["rules"]["maximal_lottery"]
    # the maximal lottery puts 0.59 on 'worked' (the base model has far less): it grows
    assert ml["predicted_shares"][0] > res["base_shares"][0] + 0.1
    assert ml["measured_shares"][0] > res["base_shares"][0] + 0.1
    assert res["verdict"]["maximal_lottery"]["converged"] == ml["converged"]
