r"""Sample, score, update: an RL fine-tuning loop, plus a plain language-model pre-trainer.

:class:`RLTrainer` runs, per step: draw ``prompts_per_step`` prompts (with replacement, from the
step's key), sample ``samples_per_prompt`` completions each with the jitted KV-cache sampler,
score them with TRL-style reward functions (:mod:`llm_bridge._rewards`), and take one jitted
optax step on :func:`rloo_loss` (REINFORCE with leave-one-out baseline and the KL penalty in the
reward: the objective :math:`\mathbb{E}_\pi[r] - \beta\,\mathrm{KL}(\pi\|\pi_{ref})`) or
``grpo_iterations`` steps on :func:`grpo_loss`. All randomness comes from one key carried in
the state, so with ``checkpoint_dir`` an interrupted run resumes (model, optimiser, key, step
from orbax) and ends bit-for-bit where an uninterrupted one would on the same machine. Metrics
(reward, each reward function's mean, KL, loss) go to a JSON-lines file and a tqdm bar.

:func:`train_lm` trains next-token cross-entropy on a list of texts (used to give the demo's
tiny model its base behaviour).

Example:
  >>> from flax import nnx
  >>> from socialign.llm_bridge import Llama, LlamaConfig, ByteTokenizer, RLTrainer, RLConfig
  >>> model = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> def short(prompts, completions, **kw): return [-float(len(c)) for c in completions]
  >>> tr = RLTrainer(model, ByteTokenizer(), [short], ["1+1="],
  ...                RLConfig(prompts_per_step=2, samples_per_prompt=2, max_new_tokens=3))
  >>> hist = tr.train(2, progress=False)
  >>> len(hist), {"reward", "kl", "loss", "reward/short"} <= set(hist[0])
  (2, True)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from ._checkpoint import checkpoint_manager, restore_checkpoint, save_checkpoint
from ._losses import grpo_advantages, grpo_loss, rloo_loss
from ._model import Llama
from ._rewards import combine_rewards
from ._sampler import sample, sequence_logprobs
from ._tokenizer import encode_batch

__all__ = ["RLConfig", "RLTrainer", "rl_optimizer", "rl_train_step", "train_lm"]


@dataclasses.dataclass(frozen=True)
class RLConfig:
    r"""Configuration of :class:`RLTrainer` (all plain numbers; stored with checkpoints).

    Attributes:
      algorithm: ``"rloo"`` (REINFORCE, leave-one-out baseline) or ``"grpo"``.
      prompts_per_step: prompts ``G`` drawn per step (with replacement).
      samples_per_prompt: completions ``K >= 2`` per prompt (the baselines need two).
      max_new_tokens: completion length ``N`` (static: fixes the compiled shapes).
      learning_rate: peak Adam learning rate (after ``warmup_steps`` linear warm-up).
      temperature: the KL coefficient :math:`\beta \ge 0` of the objective
        :math:`\mathbb{E}_\pi[r] - \beta\,\mathrm{KL}(\pi\|\pi_{ref})`, whose optimum
        :math:`\pi_{ref}\,e^{r/\beta}/Z` is the quantal response at this temperature
        (``mechanisms.QuantalResponse``); in reward units. Was ``kl_coef``.
      sampling_temperature: softmax temperature ``> 0`` of the sampler (1 keeps the policy's
        own log-probabilities, as policy-gradient needs). Was ``temperature``.
      max_grad_norm: global gradient-norm clip.
      clip_eps: PPO/GRPO ratio clip.
      grpo_iterations: optimiser steps per batch for GRPO.
      warmup_steps: linear learning-rate warm-up steps (Adam's first steps are large).
      checkpoint_every: steps between checkpoints (0: only at the end of ``train``).
      seed: seed of the trainer's key (prompts, samples, random rewards).

    Raises:
      ValueError: a field out of range (the message names it).

    Example:
      >>> from socialign import llm_bridge
      >>> llm_bridge.RLConfig(temperature=0.5).temperature
      0.5
    """

    algorithm: str = "rloo"  # "rloo" or "grpo"
    prompts_per_step: int = 16
    samples_per_prompt: int = 4
    max_new_tokens: int = 8
    learning_rate: float = 1e-3
    temperature: float = 0.1  # KL coefficient beta = quantal-response temperature
    sampling_temperature: float = 1.0
    max_grad_norm: float = 1.0
    clip_eps: float = 0.2
    grpo_iterations: int = 1
    warmup_steps: int = 0  # linear learning-rate warm-up (Adam's first steps are large)
    checkpoint_every: int = 0  # 0: only at the end of train()
    seed: int = 0

    def __post_init__(self):
        if self.algorithm not in ("rloo", "grpo"):
            raise ValueError(f"RLConfig.algorithm must be 'rloo' or 'grpo', got "
                             f"{self.algorithm!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or self.warmup_steps < 0:
            raise ValueError(f"RLConfig.warmup_steps must be an int >= 0, got "
                             f"{self.warmup_steps!r}")
        for f in ("prompts_per_step", "max_new_tokens", "grpo_iterations"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"RLConfig.{f} must be a positive int, got {v!r}")
        if not isinstance(self.samples_per_prompt, int) or self.samples_per_prompt < 2:
            raise ValueError("RLConfig.samples_per_prompt must be an int >= 2 (RLOO/GRPO "
                             f"baselines), got {self.samples_per_prompt!r}")
        for f in ("learning_rate", "sampling_temperature", "max_grad_norm"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"RLConfig.{f} must be > 0, got {v!r}")
        if not (np.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"RLConfig.temperature (the KL coefficient) must be >= 0, got "
                             f"{self.temperature!r}")


def rl_optimizer(config: RLConfig) -> optax.GradientTransformation:
    """The optax optimiser of :class:`RLTrainer`: global-norm clipping, then Adam with warm-up.

    Args:
      config: :class:`RLConfig` (``learning_rate``, ``warmup_steps``, ``max_grad_norm``).

    Returns:
      an ``optax.GradientTransformation``.

    Raises:
      TypeError: ``config`` is not an :class:`RLConfig`.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> tx = llm_bridge.rl_optimizer(llm_bridge.RLConfig(warmup_steps=10))
      >>> state = tx.init({"w": jnp.zeros(2)})
    """
    if not isinstance(config, RLConfig):
        raise TypeError(f"config must be an RLConfig, got {type(config).__name__}")
    cfg = config
    lr = cfg.learning_rate
    if cfg.warmup_steps:
        lr = optax.linear_schedule(lr / (cfg.warmup_steps + 1), lr, cfg.warmup_steps)
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr))


@functools.partial(jax.jit, static_argnames=("graphdef", "config"))
def rl_train_step(graphdef, params, opt_state, ref_params, prompt_tokens, prompt_mask,
                  completion, completion_mask, rewards, *, config: RLConfig):
    r"""One jitted RL update (the train step of :class:`RLTrainer`), pure in its arguments.

    RLOO: one optax step on :func:`rloo_loss`; GRPO: ``grpo_iterations`` steps on
    :func:`grpo_loss` with group-normalised advantages (a ``lax.scan``). The policy and the
    reference are rebuilt from ``graphdef`` with ``nnx.merge`` inside the trace.

    Args:
      graphdef: the model's ``nnx.GraphDef`` (static; ``nnx.split(model)[0]``).
      params: the policy state ``nnx.split(model)[1]``.
      opt_state: ``rl_optimizer(config).init(params)``.
      ref_params: the reference policy's state (same structure).
      prompt_tokens, prompt_mask: ``[B, P]`` left-padded prompts, ``B = G K`` (each prompt
        repeated ``K`` times in a row).
      completion, completion_mask: ``[B, N]`` sampled tokens and their mask.
      rewards: ``[B]`` float32 sequence rewards.
      config: :class:`RLConfig` (static).

    Returns:
      ``(params, opt_state, metrics)``; ``metrics`` holds scalars ``loss``, ``kl``, ``reward``,
      ``param_norm`` (and ``shaped_reward`` or ``clip_frac``).

    Raises:
      TypeError: from tracing when shapes do not agree (``B != G K``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> cfg = llm_bridge.RLConfig(prompts_per_step=2, samples_per_prompt=2, max_new_tokens=3)
      >>> gd, params = nnx.split(model)
      >>> toks, mask = llm_bridge.encode_batch(llm_bridge.ByteTokenizer(), ["1+1="] * 4)
      >>> out = llm_bridge.sample(model, toks, mask, jax.random.key(0), max_new_tokens=3,
      ...                         eos_id=257, pad_id=258)
      >>> opt = llm_bridge.rl_optimizer(cfg).init(params)
      >>> params, opt, m = llm_bridge.rl_train_step(
      ...     gd, params, opt, params, jnp.asarray(toks), jnp.asarray(mask), out.tokens,
      ...     out.mask, jnp.array([1.0, 0.0, 0.0, 1.0], jnp.float32), config=cfg)
      >>> sorted(m)[:3]
      ['kl', 'loss', 'param_norm']
    """
    cfg = config
    ptoks, pmask, ctoks, cmask = prompt_tokens, prompt_mask, completion, completion_mask
    tx = rl_optimizer(cfg)
    G, K = cfg.prompts_per_step, cfg.samples_per_prompt
    ref = nnx.merge(graphdef, ref_params)
    ref_lp = jax.lax.stop_gradient(sequence_logprobs(ref, ptoks, pmask, ctoks, cmask))

    def logprobs(p):
        return sequence_logprobs(nnx.merge(graphdef, p), ptoks, pmask, ctoks, cmask)

    if cfg.algorithm == "rloo":
        def loss_fn(p):
            return rloo_loss(logprobs(p), ref_lp, cmask, rewards.reshape(G, K), cfg.temperature)

        (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
        upd, opt_state = tx.update(g, opt_state, params)
        params = optax.apply_updates(params, upd)
    else:
        old_lp = jax.lax.stop_gradient(logprobs(params))
        adv = grpo_advantages(rewards.reshape(G, K)).reshape(-1)

        def loss_fn(p):
            return grpo_loss(logprobs(p), old_lp, ref_lp, cmask, adv, clip_eps=cfg.clip_eps,
                             temperature=cfg.temperature)

        def body(c, _):
            p, s = c
            (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(p)
            upd, s = tx.update(g, s, p)
            return (optax.apply_updates(p, upd), s), (loss, aux)

        (params, opt_state), (loss, aux) = jax.lax.scan(body, (params, opt_state), None,
                                                        length=cfg.grpo_iterations)
        loss = loss[-1]
        aux = jax.tree_util.tree_map(lambda a: a[-1], aux)
        aux = dict(aux, reward=jnp.mean(rewards))
    gnorm = optax.global_norm(jax.tree_util.tree_leaves(params))
    return params, opt_state, dict(aux, loss=loss, param_norm=gnorm)


class RLTrainer:
    """RL fine-tuning of a :class:`Llama` against TRL-style reward functions.

    Args:
      model: the policy (updated in place by :meth:`train`).
      tokenizer: a tokenizer of :mod:`llm_bridge._tokenizer`.
      reward_funcs: list of ``reward_fn(prompts, completions, **columns) -> list[float]``.
      prompts: list of prompt strings (the training distribution).
      config: :class:`RLConfig`.
      reward_weights: one weight per reward function (default all 1).
      ref_model: the KL reference (default: a frozen copy of ``model`` at construction).
      checkpoint_dir: orbax directory; if it holds a checkpoint, training resumes from it.
      log_path: JSON-lines metrics file (appended to).
      columns: extra keyword columns passed to every reward function.

    Attributes:
      step: steps taken so far (restored from a checkpoint).
      last_batch: ``(prompts, completions, total_rewards)`` of the last step.

    Raises:
      TypeError: ``model`` not a :class:`Llama`, ``config`` not an :class:`RLConfig`, or
        ``reward_funcs`` not a non-empty list of callables.
      ValueError: bad ``reward_weights`` or ``prompts``, a prompt too long for
        ``max_seq_len``, or a checkpoint written for another model config.

    Example:
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> def short(prompts, completions, **kw): return [-float(len(c)) for c in completions]
      >>> tr = llm_bridge.RLTrainer(model, llm_bridge.ByteTokenizer(), [short], ["1+1="],
      ...     llm_bridge.RLConfig(prompts_per_step=2, samples_per_prompt=2, max_new_tokens=3))
      >>> tr.step_once()["step"]
      1
    """

    def __init__(self, model: Llama, tokenizer, reward_funcs, prompts, config: RLConfig,
                 *, reward_weights=None, ref_model: Llama | None = None, checkpoint_dir=None,
                 log_path=None, columns: dict | None = None):
        if not isinstance(model, Llama):
            raise TypeError(f"model must be a Llama, got {type(model).__name__}")
        if not isinstance(config, RLConfig):
            raise TypeError(f"config must be an RLConfig, got {type(config).__name__}")
        if callable(reward_funcs):
            reward_funcs = [reward_funcs]
        reward_funcs = list(reward_funcs)
        if not reward_funcs or not all(callable(f) for f in reward_funcs):
            raise TypeError("reward_funcs must be a non-empty list of callables")
        if reward_weights is None:
            reward_weights = [1.0] * len(reward_funcs)
        reward_weights = [float(w) for w in reward_weights]
        if len(reward_weights) != len(reward_funcs) or not all(np.isfinite(reward_weights)):
            raise ValueError("reward_weights must be finite, one per reward function")
        if isinstance(prompts, str) or not len(prompts):
            raise ValueError("prompts must be a non-empty list of strings")
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.reward_funcs, self.reward_weights = reward_funcs, reward_weights
        self.prompts = list(prompts)
        self.columns = dict(columns or {})
        self.graphdef, self.params = nnx.split(model)
        ref = ref_model if ref_model is not None else model
        self.ref_params = jax.tree_util.tree_map(jnp.array, nnx.split(ref)[1])
        self.ptoks, self.pmask = encode_batch(tokenizer, self.prompts)
        if self.ptoks.shape[1] + config.max_new_tokens > model.config.max_seq_len:
            raise ValueError("longest prompt + max_new_tokens exceeds the model's max_seq_len")
        self.opt_state = rl_optimizer(config).init(self.params)
        self.key = jax.random.key(config.seed)
        self.step = 0
        self.log_path = log_path
        self.manager = None
        self.meta = {"model": model.config.to_dict(), "train": dataclasses.asdict(config)}
        if checkpoint_dir is not None:
            self.manager = checkpoint_manager(checkpoint_dir)
            step, state, _ = restore_checkpoint(self.manager, self._state(), self.meta)
            if step is not None:
                self._load(state)

    # -- state <-> pytree ----------------------------------------------------------------------
    def _state(self):
        return {"params": self.params, "opt_state": self.opt_state,
                "key": jax.random.key_data(self.key), "step": jnp.asarray(self.step, jnp.int32)}

    def _load(self, state):
        self.params = state["params"]
        self.opt_state = state["opt_state"]
        self.key = jax.random.wrap_key_data(jnp.asarray(state["key"]))
        self.step = int(state["step"])
        nnx.update(self.model, self.params)

    def save(self):
        """Checkpoint now (no-op without ``checkpoint_dir``); raises FloatingPointError on a
        non-finite state."""
        if self.manager is not None:
            save_checkpoint(self.manager, self.step, self._state(), self.meta)

    # -- one step ------------------------------------------------------------------------------
    def step_once(self) -> dict:
        """One step: sample, score, update; returns its metrics (also logged).

        Metrics: ``loss``, ``kl``, ``reward`` (weighted total), ``reward/<name>`` per reward
        function, ``param_norm``, ``completion_tokens``, ``step``. Raises FloatingPointError on
        non-finite metrics (the model and the last checkpoint are left as they were) and
        ValueError when a reward function misbehaves.
        """
        cfg = self.config
        G, K = cfg.prompts_per_step, cfg.samples_per_prompt
        self.key, k_prompt, k_sample, k_reward = jax.random.split(self.key, 4)
        idx = np.asarray(jax.random.randint(k_prompt, (G,), 0, len(self.prompts)))
        idx = np.repeat(idx, K)
        ptoks, pmask = jnp.asarray(self.ptoks[idx]), jnp.asarray(self.pmask[idx])
        out = sample(self.model, ptoks, pmask, k_sample, max_new_tokens=cfg.max_new_tokens,
                     temperature=cfg.sampling_temperature, eos_id=self.tokenizer.eos_id,
                     pad_id=self.tokenizer.pad_id)
        toks = np.asarray(out.tokens)
        prompts = [self.prompts[i] for i in idx]
        completions = [self.tokenizer.decode(t) for t in toks]
        total, parts = combine_rewards(self.reward_funcs, self.reward_weights, prompts,
                                       completions, key=k_reward, step=self.step, **self.columns)
        params, opt_state, m = rl_train_step(self.graphdef, self.params, self.opt_state,
                                             self.ref_params, ptoks, pmask, out.tokens,
                                             out.mask, jnp.asarray(total, jnp.float32),
                                             config=cfg)
        metrics = {k: float(v) for k, v in m.items()}
        if not all(np.isfinite(list(metrics.values()))):
            raise FloatingPointError(f"non-finite training metrics at step {self.step}: "
                                     f"{metrics}; the last checkpoint is kept")
        self.params, self.opt_state = params, opt_state
        nnx.update(self.model, params)
        self.step += 1
        metrics.update({f"reward/{k}": float(np.mean(v)) for k, v in parts.items()})
        metrics["step"] = self.step
        metrics["completion_tokens"] = float(np.asarray(out.mask).sum())
        self.last_batch = (prompts, completions, total)
        if self.log_path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
            with open(self.log_path, "a") as f:
                f.write(json.dumps(metrics) + "\n")
        if self.manager is not None and cfg.checkpoint_every and \
                self.step % cfg.checkpoint_every == 0:
            self.save()
        return metrics

    def train(self, num_steps: int, *, progress: bool = True, desc: str = "RL",
              callback=None) -> list[dict]:
        """Run until ``self.step == num_steps`` (total, counting resumed steps).

        ``callback(trainer, metrics)`` is called after every step; when it returns ``True``
        training stops there (a convergence test: e.g. the flagship stops once the policy is
        within ``kl_tol`` of the KL-regularised optimum). Returns the metrics of the steps run
        by this call. Checkpoints at the end (and every ``checkpoint_every`` steps). Raises
        ValueError for a bad ``num_steps``.
        """
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
            raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}")
        hist = []
        bar = tqdm(total=num_steps, initial=self.step, desc=desc, disable=not progress,
                   dynamic_ncols=True)
        while self.step < num_steps:
            m = self.step_once()
            hist.append(m)
            stop = callback(self, m) is True if callback is not None else False
            bar.update(1)
            bar.set_postfix(reward=f"{m['reward']:.3f}", kl=f"{m['kl']:.3f}")
            if stop:
                break
        bar.close()
        if self.manager is not None and hist and \
                (not self.config.checkpoint_every or self.step % self.config.checkpoint_every):
            self.save()
        return hist


@functools.partial(jax.jit, static_argnames=("graphdef", "tx"))
def _lm_step(graphdef, params, opt_state, toks, mask, *, tx):
    def loss_fn(p):
        logits, _ = nnx.merge(graphdef, p)(toks[:, :-1])
        lp = jax.nn.log_softmax(logits, -1)
        nll = -jnp.take_along_axis(lp, toks[:, 1:, None], -1)[..., 0]
        m = mask[:, 1:].astype(nll.dtype)
        return jnp.sum(nll * m) / jnp.maximum(jnp.sum(m), 1.0)

    loss, g = jax.value_and_grad(loss_fn)(params)
    upd, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, upd), opt_state, loss


def train_lm(model: Llama, tokenizer, texts, *, steps: int, batch_size: int = 64,
             learning_rate: float = 3e-3, seed: int = 0, progress: bool = True,
             desc: str = "pretrain") -> list[float]:
    """Next-token cross-entropy training on ``texts`` (BOS + text + EOS, right-padded).

    Batches are drawn uniformly with replacement; warm-up/cosine learning rate with AdamW.
    Updates ``model`` in place and returns the loss per step.

    Args:
      model: a :class:`Llama`; tokenizer: its tokenizer; texts: non-empty list of strings.
      steps, batch_size: positive ints; learning_rate: peak AdamW rate; seed: batch sampling;
      progress, desc: the tqdm bar.

    Returns:
      the mean token cross-entropy (nats) of each step, ``[steps]`` floats.

    Raises:
      TypeError: ``model`` is not a :class:`Llama`; ValueError: bad sizes or a text longer
      than ``max_seq_len``; FloatingPointError: the loss diverged.

    Example:
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> losses = llm_bridge.train_lm(model, llm_bridge.ByteTokenizer(), ["1+1=2"], steps=2,
      ...                              batch_size=2, progress=False)
      >>> len(losses)
      2
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    if isinstance(texts, str) or not len(texts):
        raise ValueError("texts must be a non-empty list of strings")
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    enc = [tokenizer.encode(t, add_bos=True, add_eos=True) for t in texts]
    L = max(len(e) for e in enc)
    if L > model.config.max_seq_len:
        raise ValueError(f"a text has {L} tokens, more than max_seq_len={model.config.max_seq_len}")
    toks = np.full((len(enc), L), tokenizer.pad_id, np.int32)
    mask = np.zeros((len(enc), L), bool)
    for i, e in enumerate(enc):
        toks[i, :len(e)] = e
        mask[i, :len(e)] = True
    warmup = min(max(1, steps // 20), steps - 1)  # steps=1: no warm-up (optax needs a decay)
    sched = optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup, steps,
                                               learning_rate * 0.05)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=0.01))
    graphdef, params = nnx.split(model)
    opt_state = tx.init(params)
    rng = np.random.default_rng(seed)
    losses = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, dynamic_ncols=True)
    for _ in bar:
        idx = rng.integers(0, len(enc), batch_size)
        params, opt_state, loss = _lm_step(graphdef, params, opt_state, jnp.asarray(toks[idx]),
                                           jnp.asarray(mask[idx]), tx=tx)
        losses.append(float(loss))
        if len(losses) % 25 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if not np.isfinite(losses[-1]):
        raise FloatingPointError("language-model pre-training diverged (non-finite loss)")
    nnx.update(model, params)
    return losses
