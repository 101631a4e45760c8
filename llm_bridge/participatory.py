r"""Participatory fine-tuning: stakeholders vote on a model's behaviour, the model is trained on
the result, and the equilibrium says where it should land.

``python -m socialign.llm_bridge.participatory [--quick] [--seed N] [--out DIR] [--json PATH]``

The experiment (issue 11, item 5), on the flagship's CPU-sized tiny model:

1. **Behaviours.** The model answers ``a+b=`` in one of three styles, the candidates:
   **worked** (``3+4=7``), **short** (``7``) and **words** (``seven``). The base model is
   pre-trained on a corpus mixing them (:attr:`ParticipatoryConfig.base_mix`).
2. **Ballots.** Several stakeholder groups (default: teachers, engineers, screen-reader users)
   rank the styles; each voter's ballot is a Mallows draw around the group's ranking
   (:func:`socialign.mechanisms.social_choice.mallows`), pooled into one
   :class:`~socialign.mechanisms.social_choice.Profile`.
3. **Aggregation** with three social-choice rules of :mod:`socialign.mechanisms.social_choice`:
   **borda** (a score rule; Bradley-Terry reward fits on pooled comparisons rank like it, so it
   stands for plain RLHF), **maximal_lottery** (the optimal mixed strategy of the margin game,
   the limit of Nash learning from human feedback) and **egalitarian** (the max-min lottery over
   the groups' Borda utilities).
4. **Reward.** A score rule's normalised scores are the reward ``r_a``; a lottery rule's
   lottery :math:`p` becomes the reward :math:`r_a = \beta\log(p_a/\bar\rho_a)` whose
   KL-regularised optimum is that lottery when the base shares are :math:`\bar\rho` (a
   lottery mass below ``lottery_floor`` is floored there). Each is wrapped as a reward function
   with :func:`socialign.llm_bridge.contract_reward` (the style is the observed outcome).
5. **Fine-tuning** by RLOO with the KL penalty :math:`\beta\,KL(\pi\|\pi_{ref})`; the optimum is
   :math:`\pi^*(a|x) \propto \rho(a|x)\,e^{r_a/\beta}`, the **predicted** shares (prompt by
   prompt, averaged). Training stops when the exact :math:`KL(\pi\|\pi^*)` over the styles is
   at most ``kl_tol`` (:func:`socialign.llm_bridge.flagship.optimum_gap`), ``rl_steps`` being
   the cap; then the shares are **measured** by sampling, with credible bands.
6. **Report**: per rule, the aggregate lottery, predicted versus measured shares and each
   group's satisfaction (its mean normalised Borda utility: 1 = everyone's top style), as a
   table, JSON and a plot.

References: Conitzer et al. 2024 (social choice for alignment); Munos et al. 2023 (Nash learning
from human feedback); Maura-Rivero et al. 2025 (alignment as a maximal lottery); Fishburn 1984
(maximal lotteries); Korbak et al. 2022 (KL-regularised RL as Bayesian inference).

Example:
  >>> from socialign.llm_bridge import participatory as pt
  >>> [pt.style_completion("3+4=", k) for k in range(3)]
  ['3+4=7', '7', 'seven']
  >>> pt.style("3+4=", "seven"), pt.style("3+4=", "17")
  (2, 3)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .. import mechanisms
from ..kernel import check_positive_int
from ..mechanisms import social_choice as sc
from . import ByteTokenizer, Llama, LlamaConfig, RLConfig, RLTrainer, contract_reward, train_lm
from .flagship import MAX_NEW_TOKENS, arithmetic_prompts, behaviour_logprobs, generate, optimum_gap

__all__ = ["STYLES", "RULES", "DEFAULT_GROUPS", "ParticipatoryConfig", "style",
           "style_completion", "style_corpus", "ballots", "group_utilities", "aggregate",
           "rule_reward", "run", "report", "main"]

STYLES = ("worked", "short", "words")
"""The candidates: answer styles, in this order on every ``[3]`` axis (index 3 = other)."""

RULES = ("borda", "maximal_lottery", "egalitarian")
"""The aggregation rules the experiment compares."""

DEFAULT_GROUPS = (("teachers", (0, 1, 2), 45), ("engineers", (1, 2, 0), 35),
                  ("screen-reader users", (2, 0, 1), 20))
"""``(name, ranking of STYLES best first, voters)`` per stakeholder group: a Condorcet cycle
(worked beats short 65-35, short beats words 80-20, words beats worked 55-45 when every voter
reports the group ranking), so the rules disagree."""

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _operands(prompt: str) -> tuple[int, int]:
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    a, sep, b = prompt.rstrip("=").partition("+")
    if not (prompt.endswith("=") and sep and a.isdigit() and b.isdigit()):
        raise ValueError(f"prompt must look like 'a+b=', got {prompt!r}")
    return int(a), int(b)


def style_completion(prompt: str, k: int) -> str:
    """The canonical completion of ``prompt`` in style ``k`` (0 worked, 1 short, 2 words).

    Raises:
      ValueError: a malformed prompt, a sum above 9 or ``k`` not in 0..2.
      TypeError: a non-string prompt.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> pt.style_completion("2+2=", 2)
      'four'
    """
    a, b = _operands(prompt)
    if a + b > 9:
        raise ValueError(f"the sum of {prompt!r} has no one-word name here (sums 0..9)")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k < 3:
        raise ValueError(f"k must be 0, 1 or 2, got {k!r}")
    return (f"{a}+{b}={a + b}", str(a + b), _WORDS[a + b])[int(k)]


def style(prompt: str, completion: str) -> int:
    """Index of ``completion``'s style in :data:`STYLES`, or 3 for anything else.

    Raises:
      TypeError: non-string arguments; ValueError: a malformed prompt.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> pt.style("1+1=", "1+1=2"), pt.style("1+1=", "2"), pt.style("1+1=", "?")
      (0, 1, 3)
    """
    if not isinstance(completion, str):
        raise TypeError(f"completion must be a str, got {type(completion).__name__}")
    for k in range(3):
        if completion.strip() == style_completion(prompt, k):
            return k
    return 3


def style_corpus(n: int, mix, rng: np.random.Generator, operands: int = 5) -> list[str]:
    """``n`` pre-training texts ``prompt + completion``, styles drawn with weights ``mix [3]``.

    Raises:
      ValueError: ``n`` not a positive int, ``mix`` not 3 non-negative weights, or
        ``operands`` outside 1..5 (sums must stay single words).
      TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Example:
      >>> import numpy as np
      >>> from socialign.llm_bridge import participatory as pt
      >>> pt.style_corpus(2, (0, 0, 1), np.random.default_rng(0), operands=2)
      ['1+1=two', '1+0=one']
    """
    check_positive_int(n, "n")
    mix = np.asarray(mix, np.float64)
    if mix.shape != (3,) or np.any(mix < 0) or not mix.sum() > 0:
        raise ValueError(f"mix must be 3 non-negative weights, got {mix.tolist()}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(operands, bool) or not isinstance(operands, int) or not 1 <= operands <= 5:
        raise ValueError(f"operands must be an int in 1..5, got {operands!r}")
    prompts = arithmetic_prompts(operands)
    ps = rng.integers(0, len(prompts), n)
    ks = rng.choice(3, size=n, p=mix / mix.sum())
    return [prompts[i] + style_completion(prompts[i], int(k)) for i, k in zip(ps, ks)]


@dataclasses.dataclass(frozen=True)
class ParticipatoryConfig:
    r"""All knobs of the participatory experiment (``quick()``: the test suite's version).

    Attributes:
      seed: seed of the ballots, model, corpus, RL and evaluation.
      groups: ``((name, ranking [3] best first, voters), ...)`` stakeholder groups.
      dispersion: Mallows dispersion :math:`\phi \in [0, 1]` of the voters around their
        group's ranking (0: all identical, 1: uniformly random ballots).
      rules: subset of :data:`RULES`.
      base_mix: style weights ``[3]`` of the pre-training corpus.
      corpus_size, operands, pretrain_steps, pretrain_batch, pretrain_lr: pre-training.
      temperature: the KL coefficient :math:`\beta > 0` (reward units).
      reward_scale: a score rule's reward is ``reward_scale`` times its normalised score.
      lottery_floor: smallest lottery mass turned into a reward (``log 0`` is not a reward).
      rl_steps (cap), prompts_per_step, samples_per_prompt, rl_lr, rl_warmup: RLOO.
      kl_tol, check_every: stop once ``KL(pi || pi*) <= kl_tol`` (checked every
        ``check_every`` steps).
      eval_samples: completions sampled to measure the shares.
      tolerance: ``|measured - predicted|`` share tolerance of the verdict.
      band_level: posterior probability of the measured shares' credible bands.

    Raises:
      ValueError: a field out of range (the message names it).

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> pt.ParticipatoryConfig.quick().rules
      ('borda', 'maximal_lottery')
    """

    seed: int = 0
    groups: tuple = DEFAULT_GROUPS
    dispersion: float = 0.2
    rules: tuple = RULES
    base_mix: tuple = (0.34, 0.33, 0.33)
    corpus_size: int = 20000
    operands: int = 5
    pretrain_steps: int = 500
    pretrain_batch: int = 128
    pretrain_lr: float = 1e-3
    temperature: float = 0.5
    reward_scale: float = 2.0
    lottery_floor: float = 0.02
    rl_steps: int = 400
    prompts_per_step: int = 32
    samples_per_prompt: int = 8
    rl_lr: float = 1e-3
    rl_warmup: int = 20
    kl_tol: float = 0.005
    check_every: int = 5
    eval_samples: int = 2000
    tolerance: float = 0.1
    band_level: float = 0.9

    def __post_init__(self):
        for f in ("corpus_size", "pretrain_steps", "pretrain_batch", "rl_steps",
                  "prompts_per_step", "eval_samples", "check_every"):
            check_positive_int(getattr(self, f), f"ParticipatoryConfig.{f}")
        for f in ("seed", "rl_warmup"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"ParticipatoryConfig.{f} must be an int >= 0, got {v!r}")
        if isinstance(self.operands, bool) or not isinstance(self.operands, int) \
                or not 1 <= self.operands <= 5:
            raise ValueError(f"ParticipatoryConfig.operands must be an int in 1..5, got "
                             f"{self.operands!r}")
        if isinstance(self.samples_per_prompt, bool) or not isinstance(
                self.samples_per_prompt, int) or self.samples_per_prompt < 2:
            raise ValueError(f"ParticipatoryConfig.samples_per_prompt must be an int >= 2, got "
                             f"{self.samples_per_prompt!r}")
        for f in ("pretrain_lr", "temperature", "reward_scale", "rl_lr", "kl_tol", "tolerance"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"ParticipatoryConfig.{f} must be > 0, got {v!r}")
        for f in ("lottery_floor", "band_level"):
            v = getattr(self, f)
            if not 0 < v < 1:
                raise ValueError(f"ParticipatoryConfig.{f} must be in (0, 1), got {v!r}")
        if not 0 <= self.dispersion <= 1:
            raise ValueError(f"ParticipatoryConfig.dispersion must be in [0, 1], got "
                             f"{self.dispersion!r}")
        if not self.rules or any(r not in RULES for r in self.rules):
            raise ValueError(f"ParticipatoryConfig.rules must be a non-empty subset of {RULES}, "
                             f"got {self.rules!r}")
        mix = np.asarray(self.base_mix, float)
        if mix.shape != (3,) or np.any(mix < 0) or not mix.sum() > 0:
            raise ValueError(f"ParticipatoryConfig.base_mix must be 3 non-negative weights, got "
                             f"{self.base_mix!r}")
        if not self.groups:
            raise ValueError("ParticipatoryConfig.groups must name at least one group")
        for g in self.groups:
            ok = len(g) == 3 and isinstance(g[0], str) and sorted(g[1]) == [0, 1, 2] \
                and isinstance(g[2], int) and not isinstance(g[2], bool) and g[2] > 0
            if not ok:
                raise ValueError("ParticipatoryConfig.groups entries must be (name, a ranking "
                                 f"of 0, 1, 2, positive voter count); got {g!r}")

    @classmethod
    def quick(cls, **overrides) -> ParticipatoryConfig:
        """The shortened run of the test suite: fewer prompts and steps, two rules.

        Raises:
          TypeError: an unknown field; ValueError: a field out of range.

        Example:
          >>> from socialign.llm_bridge import participatory as pt
          >>> pt.ParticipatoryConfig.quick(seed=2).seed
          2
        """
        base = dict(rules=("borda", "maximal_lottery"), corpus_size=4000, operands=3,
                    pretrain_steps=400, pretrain_batch=128, rl_steps=60, prompts_per_step=9,
                    samples_per_prompt=8, rl_lr=2e-3, rl_warmup=5, kl_tol=0.01,
                    eval_samples=900)
        base.update(overrides)
        return cls(**base)


def ballots(cfg: ParticipatoryConfig) -> tuple[sc.Profile, np.ndarray]:
    """The pooled profile of every voter's ballot and each ballot's group.

    Voter ballots are Mallows draws (dispersion ``cfg.dispersion``) around their group's ranking.

    Returns:
      ``(profile [voters, 3], group_of_ballot int [voters])``.

    Raises:
      TypeError: ``cfg`` is not a :class:`ParticipatoryConfig`.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> prof, grp = pt.ballots(pt.ParticipatoryConfig(dispersion=0.0))
      >>> prof.ranks.shape, prof.ranks[0].tolist(), int(grp[-1])
      ((100, 3), [0, 1, 2], 2)
    """
    if not isinstance(cfg, ParticipatoryConfig):
        raise TypeError(f"cfg must be a ParticipatoryConfig, got {type(cfg).__name__}")
    keys = jax.random.split(jax.random.key(cfg.seed), len(cfg.groups))
    ranks, grp = [], []
    for i, ((_, ranking, n), k) in enumerate(zip(cfg.groups, keys)):
        p = sc.mallows(k, n, 3, cfg.dispersion, reference=list(ranking))
        ranks.append(np.asarray(p.ranks))
        grp += [i] * n
    return sc.Profile(np.concatenate(ranks).astype(np.int32)), np.asarray(grp)


def group_utilities(profile: sc.Profile, group_of_ballot, num_groups: int) -> np.ndarray:
    """Each group's mean normalised Borda utility of each style: ``[groups, 3]`` in ``[0, 1]``.

    A voter's utility of a style is ``(m - 1 - rank) / (m - 1)`` (1 for the top choice).

    Raises:
      ValueError: ``group_of_ballot`` does not match the profile's ballots.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> from socialign.mechanisms import social_choice as sc
      >>> prof = sc.Profile.from_orders([[0, 1, 2], [2, 1, 0]])
      >>> pt.group_utilities(prof, [0, 1], 2).tolist()
      [[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]]
    """
    r = np.asarray(profile.ranks, np.float64)
    g = np.asarray(group_of_ballot)
    if g.shape != r.shape[:1]:
        raise ValueError(f"group_of_ballot must have one entry per ballot ({r.shape[0]}), got "
                         f"shape {g.shape}")
    m = r.shape[-1]
    u = (m - 1 - r) / (m - 1)
    w = np.asarray(profile.counts, np.float64)
    return np.stack([(u[g == i] * w[g == i, None]).sum(0) / max(w[g == i].sum(), 1e-300)
                     for i in range(num_groups)])


def aggregate(rule: str, profile: sc.Profile, utilities, weights) -> dict:
    """Aggregate the ballots with ``rule``: its lottery or normalised scores over the styles.

    Args:
      rule: one of :data:`RULES`.
      profile: the pooled ballots.
      utilities: ``[groups, 3]`` group utilities (for ``egalitarian``: the max-min lottery
        over the groups, each group counted once whatever its size).
      weights: unused (kept for rules that weight groups by size).

    Returns:
      ``{"rule", "kind": "scores" | "lottery", "scores" or "lottery": [3], "winners": [3] bool,
      "result": Result code}``; scores are Borda points per voter and rival, in ``[0, 1]``.

    Raises:
      ValueError: an unknown rule.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> from socialign.mechanisms import social_choice as sc
      >>> cyc = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
      >>> [round(x, 3) for x in pt.aggregate("maximal_lottery", cyc, None, None)["lottery"]]
      [0.333, 0.333, 0.333]
    """
    if rule == "borda":
        out = sc.borda(profile)
        n = float(np.asarray(profile.counts).sum())
        return {"rule": rule, "kind": "scores",
                "scores": (np.asarray(out.scores, np.float64) / (n * 2)).tolist(),
                "winners": np.asarray(out.winners).tolist(), "result": int(out.result)}
    if rule == "maximal_lottery":
        out = sc.maximal_lotteries(profile)
        lot = np.asarray(out.lottery, np.float64)
        return {"rule": rule, "kind": "lottery", "lottery": lot.tolist(),
                "winners": np.asarray(out.winners).tolist(), "result": int(out.result)}
    if rule == "egalitarian":
        agg = sc.egalitarian(np.asarray(utilities, np.float64))
        lot = np.asarray(agg.lottery, np.float64)
        return {"rule": rule, "kind": "lottery", "lottery": lot.tolist(),
                "winners": (lot >= lot.max() - 1e-6).tolist(), "result": int(agg.result),
                "group_utilities": np.asarray(agg.group_utilities).tolist()}
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def rule_reward(agg: dict, base_shares, cfg: ParticipatoryConfig) -> np.ndarray:
    r"""The reward ``[3]`` per style that an aggregate asks the trainer to maximise.

    Scores: :math:`r_a = s\,\mathrm{score}_a`. Lotteries: :math:`r_a = \beta \log(\max(p_a,
    \epsilon) / \bar\rho_a)`, so that :math:`\bar\rho_a e^{r_a/\beta} \propto p_a` (the
    KL-regularised optimum is the lottery when every prompt has the pooled base shares).

    Raises:
      ValueError: a base share that is not positive.

    Example:
      >>> import numpy as np
      >>> from socialign.llm_bridge import participatory as pt
      >>> cfg = pt.ParticipatoryConfig()
      >>> rho = np.array([0.5, 0.25, 0.25])
      >>> r = pt.rule_reward({"kind": "lottery", "lottery": [0.2, 0.3, 0.5]}, rho, cfg)
      >>> opt = rho * np.exp(r / cfg.temperature)
      >>> [round(float(x), 6) for x in opt / opt.sum()]
      [0.2, 0.3, 0.5]
    """
    rho = np.asarray(base_shares, np.float64)
    if rho.shape != (3,) or np.any(rho <= 0):
        raise ValueError(f"base_shares must be 3 positive shares, got {rho.tolist()}")
    if agg["kind"] == "scores":
        return cfg.reward_scale * np.asarray(agg["scores"], np.float64)
    p = np.maximum(np.asarray(agg["lottery"], np.float64), cfg.lottery_floor)
    return cfg.temperature * np.log(p / rho)


def _measure(model, tok, n, key, operands):
    prompts = arithmetic_prompts(operands)
    ps = [prompts[i % len(prompts)] for i in range(n)]
    comps = generate(model, tok, ps, key)
    ks = np.array([style(p, c) for p, c in zip(ps, comps)])
    per_prompt = np.zeros((len(prompts), 4))
    np.add.at(per_prompt, (np.arange(n) % len(prompts), ks), 1.0)
    return np.bincount(ks, minlength=4) / n, per_prompt, list(zip(ps[:4], comps[:4]))


def _finetune(model, base_state, tok, reward, ref_lp, cfg, progress):
    nnx.update(model, jax.tree_util.tree_map(jnp.array, base_state))
    rcfg = RLConfig(algorithm="rloo", prompts_per_step=cfg.prompts_per_step,
                    samples_per_prompt=cfg.samples_per_prompt, max_new_tokens=MAX_NEW_TOKENS,
                    learning_rate=cfg.rl_lr, temperature=cfg.temperature, seed=cfg.seed + 1,
                    warmup_steps=cfg.rl_warmup)
    payments = np.append(reward, reward.min())  # any other completion earns the least
    fn = contract_reward(payments, lambda p, c, rng: style(p, c), name="aggregate_reward")
    tr = RLTrainer(model, tok, [fn], arithmetic_prompts(cfg.operands), rcfg)
    checks = []

    def on_step(trainer, _):
        if trainer.step % cfg.check_every and trainer.step < cfg.rl_steps:
            return False
        lp = behaviour_logprobs(model, tok, cfg.operands, completion_fn=style_completion)
        kl = optimum_gap(lp, ref_lp, reward, cfg.temperature, rest_utility=reward.min())["kl"]
        checks.append((trainer.step, kl))
        return kl <= cfg.kl_tol

    tr.train(cfg.rl_steps, progress=progress, desc="RL", callback=on_step)
    return tr.step, checks


def run(cfg: ParticipatoryConfig, out_dir: str | None = "outputs/participatory", *,
        progress: bool = True, plot: bool = True, echo=print) -> dict:
    """Run the whole experiment; returns the results dict (also written to ``out_dir``).

    Args:
      cfg: :class:`ParticipatoryConfig`.
      out_dir: folder for ``results.json`` and ``shares.png``; None writes nothing.
      progress: progress bars; plot: write the PNG (needs matplotlib); echo: report sink.

    Returns:
      ``{"config", "groups", "group_utilities" [groups, 3], "base_shares" [4] (3 styles +
      other), "rules": {rule: {"aggregate", "reward" [3], "predicted_shares" [3],
      "measured_shares" [4], "measured_band" [2][4], "gap" [3], "max_abs_gap", "rl_steps",
      "converged", "convergence_checks", "final_kl_to_optimum", "satisfaction_predicted"
      [groups], "satisfaction_measured" [groups]}}, "verdict", "runtime_s"}``.

    Raises:
      TypeError: ``cfg`` is not a :class:`ParticipatoryConfig`; RuntimeError: the base model
      never shows some style (pre-train longer).

    Example:
      >>> from socialign.llm_bridge import participatory as pt                 # doctest: +SKIP
      >>> res = pt.run(pt.ParticipatoryConfig.quick(), None, progress=False)  # doctest: +SKIP
    """
    if not isinstance(cfg, ParticipatoryConfig):
        raise TypeError(f"cfg must be a ParticipatoryConfig, got {type(cfg).__name__}")
    from ..mechanisms import bayes  # numpyro's module: loaded only when the experiment runs

    t0 = time.time()
    profile, grp = ballots(cfg)
    sizes = np.array([g[2] for g in cfg.groups], np.float64)
    U = group_utilities(profile, grp, len(cfg.groups))
    tok = ByteTokenizer()
    model = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(cfg.seed))
    corpus = style_corpus(cfg.corpus_size, cfg.base_mix, np.random.default_rng(cfg.seed),
                          cfg.operands)
    train_lm(model, tok, corpus, steps=cfg.pretrain_steps, batch_size=cfg.pretrain_batch,
             learning_rate=cfg.pretrain_lr, seed=cfg.seed, progress=progress)
    base_state = jax.tree_util.tree_map(jnp.array, nnx.state(model))
    keys = jax.random.split(jax.random.key(cfg.seed), len(cfg.rules) + 1)
    base, base_pp, base_ex = _measure(model, tok, cfg.eval_samples, keys[0], cfg.operands)
    if np.any(base[:3] <= 0):
        raise RuntimeError(f"the base model never shows some style (shares {base.tolist()}); "
                           "pre-train longer")
    rho_bar = base[:3] / base[:3].sum()
    # per-prompt base shares of the 3 styles and of every other completion (which earns the
    # least reward): the optimum reweights all four
    rho_x = (base_pp + 1e-3) / (base_pp + 1e-3).sum(1, keepdims=True)
    ref_lp = behaviour_logprobs(model, tok, cfg.operands, completion_fn=style_completion)
    rules = {}
    for rule, key in zip(cfg.rules, keys[1:]):
        agg = aggregate(rule, profile, U, sizes)
        r = rule_reward(agg, rho_bar, cfg)
        r4 = np.append(r, r.min())
        pred = np.asarray(mechanisms.quantal_response_probs(
            np.broadcast_to(r4, rho_x.shape), cfg.temperature, rho_x), np.float64).mean(0)[:3]
        steps, checks = _finetune(model, base_state, tok, r, ref_lp, cfg, progress)
        gap = optimum_gap(behaviour_logprobs(model, tok, cfg.operands,
                                             completion_fn=style_completion),
                          ref_lp, r, cfg.temperature, rest_utility=r.min())
        meas, _, ex = _measure(model, tok, cfg.eval_samples, key, cfg.operands)
        band = bayes.share_bands(np.round(meas * cfg.eval_samples), level=cfg.band_level,
                                 key=key)
        styles = meas[:3] / max(meas[:3].sum(), 1e-12)
        rules[rule] = {
            "aggregate": agg, "reward": r.tolist(), "predicted_shares": pred.tolist(),
            "measured_shares": meas.tolist(),
            "measured_band": [np.asarray(band.lower).tolist(), np.asarray(band.upper).tolist()],
            "gap": (meas[:3] - pred).tolist(),
            "max_abs_gap": float(np.max(np.abs(meas[:3] - pred))),
            "rl_steps": steps, "converged": bool(checks and checks[-1][1] <= cfg.kl_tol),
            "convergence_checks": checks, "final_kl_to_optimum": gap["kl"],
            "initial_kl_to_optimum": optimum_gap(ref_lp, ref_lp, r, cfg.temperature,
                                                 rest_utility=r.min())["kl"],
            "exact_policy_shares": gap["policy_shares"],
            "exact_optimum_shares": gap["optimum_shares"],
            "satisfaction_predicted": (U @ (pred / pred.sum())).tolist(),
            "satisfaction_measured": (U @ styles).tolist(), "examples": ex}
    res = {"config": dataclasses.asdict(cfg), "styles": list(STYLES),
           "groups": [g[0] for g in cfg.groups], "group_sizes": sizes.tolist(),
           "group_utilities": U.tolist(), "base_shares": base.tolist(),
           "base_examples": base_ex, "rules": rules, "runtime_s": time.time() - t0}
    res["verdict"] = {rule: {"converged": v["converged"],
                             "within_tolerance": v["max_abs_gap"] <= cfg.tolerance}
                      for rule, v in rules.items()}
    echo(report(res, cfg))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        if plot:
            res["plot"] = _plot(res, os.path.join(out_dir, "shares.png"))
    return res


def report(res: dict, cfg: ParticipatoryConfig) -> str:
    """The printed table: per rule, aggregate, predicted and measured shares, satisfaction.

    Raises:
      KeyError: an incomplete results dict.

    Example:
      >>> from socialign.llm_bridge import participatory as pt   # doctest: +SKIP
      >>> print(pt.report(res, pt.ParticipatoryConfig()))        # doctest: +SKIP
    """
    b = res["base_shares"]
    lines = ["", "socialign participatory fine-tuning: stakeholders' ballots -> social choice -> "
             "reward -> RLOO (KL-regularised)",
             "groups: " + "; ".join(f"{n} ({int(s)} voters, utilities "
                                   + "/".join(f"{x:.2f}" for x in u) + ")"
                                   for n, s, u in zip(res["groups"], res["group_sizes"],
                                                      res["group_utilities"])),
             f"styles {'/'.join(STYLES)}; base shares " + " / ".join(f"{x:.3f}" for x in b[:3])
             + f" (other {b[3]:.3f}); beta = {cfg.temperature}", "",
             f"{'rule':<17}{'style':<8}{'aggregate':>10}{'reward':>8}{'predicted':>11}"
             f"{'measured':>10}{'gap':>8}  {'measured ' + str(round(100 * cfg.band_level))}"
             "% band"]
    for rule, v in res["rules"].items():
        agg = v["aggregate"]
        vals = agg.get("lottery", agg.get("scores"))
        lo, hi = v["measured_band"]
        for a, name in enumerate(STYLES):
            lines.append(f"{rule if a == 0 else '':<17}{name:<8}{vals[a]:>10.3f}"
                         f"{v['reward'][a]:>+8.3f}{v['predicted_shares'][a]:>11.3f}"
                         f"{v['measured_shares'][a]:>10.3f}{v['gap'][a]:>+8.3f}  "
                         f"[{lo[a]:.3f}, {hi[a]:.3f}]")
    lines.append("")
    lines.append(f"{'rule':<17}" + "".join(f"{g[:18]:>20}" for g in res["groups"])
                 + "   (satisfaction: mean normalised Borda utility, predicted -> measured)")
    for rule, v in res["rules"].items():
        lines.append(f"{rule:<17}" + "".join(
            f"{p:>12.3f} -> {m:.3f}" for p, m in zip(v["satisfaction_predicted"],
                                                     v["satisfaction_measured"])))
    lines.append("")
    for rule, v in res["rules"].items():
        lines.append(f"{rule}: {v['rl_steps']} RL steps, KL(pi || pi*) = "
                     f"{v['final_kl_to_optimum']:.4f} ("
                     + ("CONVERGED" if v["converged"] else "NOT converged")
                     + f", kl_tol {cfg.kl_tol}); max |measured - predicted| = "
                     f"{v['max_abs_gap']:.3f} ("
                     + ("within" if v["max_abs_gap"] <= cfg.tolerance else "OUTSIDE")
                     + f" ±{cfg.tolerance})")
    lines.append(f"runtime {res['runtime_s']:.0f} s")
    return "\n".join(lines)


def _plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rules = list(res["rules"])
    fig, axes = plt.subplots(1, len(rules), figsize=(4.5 * len(rules), 3.8), squeeze=False)
    x = np.arange(3)
    for ax, rule in zip(axes[0], rules):
        v = res["rules"][rule]
        ax.bar(x - 0.27, res["base_shares"][:3], 0.27, label="base", color="lightgray")
        ax.bar(x, v["predicted_shares"], 0.27, label="predicted", color="lightblue")
        ax.bar(x + 0.27, v["measured_shares"][:3], 0.27, label="measured", color="tab:blue")
        ax.set_xticks(x, STYLES)
        ax.set_ylim(0, 1)
        ax.set_title(rule)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv=None) -> int:
    """Command line: ``python -m socialign.llm_bridge.participatory``.

    Flags: ``--quick``, ``--seed N``, ``--out DIR`` (default ``outputs/participatory``),
    ``--json PATH`` (also write the results there, e.g.
    ``benchmarks/results/llm_participatory.json``), ``--rules ...``, ``--no-progress``.

    Returns:
      0 on success.

    Raises:
      SystemExit: bad flags (status 2) or ``--help``.

    Example:
      >>> from socialign.llm_bridge import participatory as pt
      >>> pt.main(["--rules", "dictator"])    # doctest: +ELLIPSIS
      Traceback (most recent call last):
      SystemExit: 2
    """
    ap = argparse.ArgumentParser(prog="python -m socialign.llm_bridge.participatory",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="outputs/participatory")
    ap.add_argument("--json", default=None)
    ap.add_argument("--rules", nargs="+", choices=RULES)
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    kw = {"seed": a.seed}
    if a.rules:
        kw["rules"] = tuple(a.rules)
    cfg = ParticipatoryConfig.quick(**kw) if a.quick else ParticipatoryConfig(**kw)
    res = run(cfg, a.out, progress=not a.no_progress)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({k: v for k, v in res.items() if k != "plot"}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
