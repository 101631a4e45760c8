"""Tests of llm_bridge._trainer and _checkpoint: resume equals uninterrupted, failures keep the
last good checkpoint, config mismatch, bad rewards."""

import json
import math

import jax
import numpy as np
import pytest
from flax import nnx
from socialign.llm_bridge import ByteTokenizer, Llama, LlamaConfig, RLConfig, RLTrainer, train_lm

PROMPTS = ["1+1=", "2+3="]
CFG = RLConfig(prompts_per_step=2, samples_per_prompt=2, max_new_tokens=3, learning_rate=1e-2,
               temperature=0.1, seed=3)
# the default-suite tests that sample or train share these shapes, so the sampler and the RL
# step compile once for the module (about 7 s on 2 cores)
RLOO_CFG = RLConfig(algorithm="rloo", prompts_per_step=4, samples_per_prompt=8,
                    max_new_tokens=2, learning_rate=3e-3, temperature=0.01, grpo_iterations=2)


def starts_with_digit(prompts, completions, **kw):
    return [float(c[:1].isdigit()) for c in completions]


def noisy(prompts, completions, key=None, **kw):
    # uses the trainer's key: random but reproducible across resume
    u = np.asarray(jax.random.uniform(key, (len(completions),)))
    return u.tolist()


def _model():
    return Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))


def _params(model):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(nnx.state(model))]


@pytest.mark.slow  # two short trainings and a checkpoint restore: ~30 s on 2 cores
def test_resume_equals_uninterrupted(tmp_path):
    tok = ByteTokenizer()
    a = _model()
    tr = RLTrainer(a, tok, [starts_with_digit, noisy], PROMPTS, CFG, reward_weights=[1.0, 0.5],
                   checkpoint_dir=tmp_path / "a", log_path=tmp_path / "a.jsonl")
    tr.train(2, progress=False)
    b = _model()
    tr_b = RLTrainer(b, tok, [starts_with_digit, noisy], PROMPTS, CFG,
                     reward_weights=[1.0, 0.5], checkpoint_dir=tmp_path / "b")
    tr_b.train(1, progress=False)
    del tr_b
    c = _model()  # a fresh process would do exactly this
    tr_c = RLTrainer(c, tok, [starts_with_digit, noisy], PROMPTS, CFG,
                     reward_weights=[1.0, 0.5], checkpoint_dir=tmp_path / "b")
    assert tr_c.step == 1
    tr_c.train(2, progress=False)
    for x, y in zip(_params(a), _params(c)):
        np.testing.assert_array_equal(x, y)
    logs = [json.loads(line) for line in open(tmp_path / "a.jsonl")]
    assert [m["step"] for m in logs] == [1, 2]
    assert {"reward", "kl", "loss", "reward/starts_with_digit", "reward/noisy"} <= set(logs[0])


@pytest.mark.slow  # ~14 s on 2 cores
def test_failed_run_keeps_last_checkpoint(tmp_path):
    tok = ByteTokenizer()
    calls = {"n": 0}

    def breaks_at_step_3(prompts, completions, **kw):
        calls["n"] += 1
        return [math.nan if calls["n"] == 3 else 1.0] * len(completions)

    cfg = RLConfig(**{**CFG.__dict__, "checkpoint_every": 1})
    tr = RLTrainer(_model(), tok, [breaks_at_step_3], PROMPTS, cfg, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="breaks_at_step_3.*non-finite"):
        tr.train(5, progress=False)
    assert tr.manager.latest_step() == 2
    again = RLTrainer(_model(), tok, [starts_with_digit], PROMPTS, cfg, checkpoint_dir=tmp_path)
    assert again.step == 2


def test_checkpoint_from_other_config(tmp_path):
    tok = ByteTokenizer()
    tr = RLTrainer(_model(), tok, [starts_with_digit], PROMPTS, RLOO_CFG,
                   checkpoint_dir=tmp_path)
    tr.train(1, progress=False)
    assert tr.manager.latest_step() == 1
    cfg2 = LlamaConfig(**{**LlamaConfig.tiny().to_dict(), "num_layers": 1})
    other = Llama(cfg2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="model config"):
        RLTrainer(other, tok, [starts_with_digit], PROMPTS, RLOO_CFG, checkpoint_dir=tmp_path)


def test_bad_rewards_and_config():
    tok = ByteTokenizer()
    m = _model()

    def short(prompts, completions, **kw):
        return [1.0]

    with pytest.raises(ValueError, match="'short' returned 1 values for 32"):
        RLTrainer(m, tok, [short], PROMPTS, RLOO_CFG).train(1, progress=False)
    with pytest.raises(ValueError, match="samples_per_prompt"):
        RLConfig(samples_per_prompt=1)
    with pytest.raises(ValueError, match="algorithm"):
        RLConfig(algorithm="sft")
    with pytest.raises(TypeError, match="reward_funcs"):
        RLTrainer(m, tok, [], PROMPTS, CFG)
    with pytest.raises(ValueError, match="reward_weights"):
        RLTrainer(m, tok, [short], PROMPTS, CFG, reward_weights=[1.0, 2.0])


@pytest.mark.parametrize("algo", ["rloo", pytest.param("grpo", marks=pytest.mark.slow)])
def test_rloo_and_grpo_learn_a_simple_preference(algo):
    """Reward 1 for a digit as first character: its share rises from 1/2 (RLOO by default, GRPO
    in the slow set: the same check on a second compiled train step)."""
    tok = ByteTokenizer()
    base = _model()
    train_lm(base, tok, ["1+1=2", "1+1=?", "2+3=5", "2+3=?"], steps=40, batch_size=16,
             learning_rate=1e-2, progress=False)
    m = _model()
    nnx.update(m, nnx.state(base))
    cfg = RLConfig(**{**RLOO_CFG.__dict__, "algorithm": algo})
    tr = RLTrainer(m, tok, [starts_with_digit], PROMPTS, cfg)
    hist = tr.train(15, progress=False)
    # the pre-trained policy starts with a digit half of the time (the corpus is 50/50)
    last = np.mean([h["reward"] for h in hist[-5:]])
    assert last > 0.8 and last > hist[0]["reward"], (algo, hist[0]["reward"], last)


def test_train_lm_single_step():
    # steps=1 crashed in optax (a warm-up of 1 step left the cosine decay 0 steps)
    losses = train_lm(_model(), ByteTokenizer(), ["1+1=2"], steps=1, batch_size=2,
                      progress=False)
    assert len(losses) == 1 and np.isfinite(losses[0])
