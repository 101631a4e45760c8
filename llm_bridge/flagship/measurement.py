"""Measuring a model on the task: behaviour shares, signal rates, lengths, per prompt.

:func:`measure` samples completions at temperature 1 (each prompt equally often) with the
jitted KV-cache sampler :func:`socialign.llm_bridge.sample` and classifies them with
:func:`~socialign.llm_bridge.flagship.task.behaviour`. Its shares are the prior ``rho`` of the
quantal-response agent (pooled for the design, per prompt for the prediction).

Example:
  >>> import jax
  >>> from flax import nnx
  >>> from socialign import llm_bridge
  >>> from socialign.llm_bridge.flagship import measurement
  >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> m = measurement.measure(model, llm_bridge.ByteTokenizer(), 8, jax.random.key(0), 2)
  >>> m.shares.shape, m.signal_rates.shape, m.per_prompt_shares.shape
  ((3,), (3, 3), (4, 3))
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .. import encode_batch, sample, sequence_logprobs
from .task import (
    ACTIONS,
    MAX_NEW_TOKENS,
    arithmetic_prompts,
    audit_correct,
    behaviour,
    cheap_check,
    completion_for,
    length_cost,
)

__all__ = ["Measurement", "generate", "measure", "behaviour_logprobs"]


class Measurement(NamedTuple):
    """What :func:`measure` returns (unpacks as a 5-tuple).

    Attributes:
      shares: ``[3]`` behaviour shares (honest, gaming, lazy) over all samples.
      signal_rates: ``[3, 3]`` per behaviour: P(pass & correct), P(pass & wrong), P(fail);
        a behaviour never seen gets its nominal row.
      examples: the first six ``(prompt, completion)`` pairs.
      per_prompt_shares: ``[prompts, 3]`` behaviour shares per prompt (rows sum to 1).
      mean_length: ``[3]`` mean completion length in tokens per behaviour (0 if unseen).
    """

    shares: np.ndarray
    signal_rates: np.ndarray
    examples: list
    per_prompt_shares: np.ndarray
    mean_length: np.ndarray


def generate(model, tokenizer, prompts, key, max_new_tokens: int = MAX_NEW_TOKENS) -> list[str]:
    """Sample one completion per prompt at temperature 1 and decode it.

    Args:
      model: a :class:`socialign.llm_bridge.Llama`.
      tokenizer: its tokenizer (``ByteTokenizer`` or ``HFTokenizer``).
      prompts: list of prompt strings ``[B]``.
      key: a JAX PRNG key.
      max_new_tokens: completion length (static).

    Returns:
      ``B`` completion strings (up to the first EOS).

    Raises:
      TypeError, ValueError: from :func:`socialign.llm_bridge.sample` on a bad model, prompt
        or length.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> from socialign.llm_bridge.flagship import measurement
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> len(measurement.generate(model, llm_bridge.ByteTokenizer(), ["1+1="], jax.random.key(0)))
      1
    """
    toks, mask = encode_batch(tokenizer, prompts)
    out = sample(model, toks, mask, key, max_new_tokens=max_new_tokens, eos_id=tokenizer.eos_id,
                 pad_id=tokenizer.pad_id)
    return [tokenizer.decode(t) for t in np.asarray(out.tokens)]


def measure(model, tokenizer, n: int, key, operands: int = 5) -> Measurement:
    """Measure the model's behaviour on ``n`` samples (prompt ``i % prompts`` for sample ``i``).

    Args:
      model: a :class:`socialign.llm_bridge.Llama`.
      tokenizer: its tokenizer.
      n: number of samples (>= 1).
      key: a JAX PRNG key.
      operands: prompts ``a+b=`` with ``a, b < operands``.

    Returns:
      a :class:`Measurement`.

    Raises:
      ValueError: ``n`` not a positive int or a bad ``operands``.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> from socialign.llm_bridge.flagship import measurement
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> m = measurement.measure(model, llm_bridge.ByteTokenizer(), 8, jax.random.key(0), 2)
      >>> float(m.shares.sum())
      1.0
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(key, jax.Array):
        raise TypeError(f"key must be a JAX PRNG key, got {type(key).__name__}")
    prompts = arithmetic_prompts(operands)
    ps = [prompts[i % len(prompts)] for i in range(n)]
    comps = generate(model, tokenizer, ps, key)
    acts = np.array([behaviour(p, c) for p, c in zip(ps, comps)])
    shares = np.bincount(acts, minlength=3) / n
    per_prompt = np.zeros((len(prompts), 3))
    np.add.at(per_prompt, (np.arange(n) % len(prompts), acts), 1.0)
    per_prompt /= np.maximum(per_prompt.sum(1, keepdims=True), 1.0)
    rates = np.zeros((3, 3))
    lens = np.asarray(length_cost(ps, comps))
    mean_len = np.array([lens[acts == a].mean() if np.any(acts == a) else 0.0 for a in range(3)])
    for a in range(3):
        sel = [(p, c) for p, c, b in zip(ps, comps, acts) if b == a]
        if sel:
            pc = np.mean([cheap_check(p, c) and audit_correct(p, c) for p, c in sel])
            pw = np.mean([cheap_check(p, c) and not audit_correct(p, c) for p, c in sel])
            rates[a] = (pc, pw, 1 - pc - pw)
        else:
            rates[a] = (float(a == 0), float(a == 1), float(a == 2))
    return Measurement(shares, rates, list(zip(ps[:6], comps[:6])), per_prompt, mean_len)


@functools.partial(jax.jit, static_argnums=0)
def _sequence_logprob(graphdef, state, ptoks, pmask, ctoks, cmask):
    lp = sequence_logprobs(nnx.merge(graphdef, state), ptoks, pmask, ctoks, cmask)
    return jnp.sum(lp, axis=-1)


def behaviour_logprobs(model, tokenizer, operands: int = 5, *, completion_fn=completion_for,
                       num_behaviours: int = len(ACTIONS)) -> np.ndarray:
    r"""Exact log-probabilities of each behaviour's canonical completion, prompt by prompt.

    For every prompt ``x = "a+b="`` and behaviour ``k`` the canonical completion ``y_k =
    completion_for(x, k)`` followed by EOS (``"3+4=7"``, ``"17"``, ``"?"``: what the pre-training
    corpus teaches) is scored in one forward pass: :math:`\log\pi(y_k \mid x) = \sum_t \log
    \pi(y_{k,t} \mid x, y_{k,<t})`. No sampling, so no sampling noise: this is what the
    flagship's convergence criterion (:func:`~socialign.llm_bridge.flagship.design.optimum_gap`)
    compares between the policy, its reference and the KL-regularised optimum. The
    probabilities of a row sum to at most 1; the rest is mass on other completions.

    Args:
      model: a :class:`socialign.llm_bridge.Llama`.
      tokenizer: its tokenizer (the completion is tokenised on its own, then EOS).
      operands: prompts ``a+b=`` with ``a, b < operands``.
      completion_fn: ``completion_fn(prompt, k) -> str``, the canonical completion of behaviour
        ``k`` (default: this task's
        :func:`~socialign.llm_bridge.flagship.task.completion_for`; the participatory
        experiment passes its answer styles).
      num_behaviours: ``K``, the number of behaviours.

    Returns:
      float64 ``[prompts, K]`` log-probabilities (prompts in
      :func:`~socialign.llm_bridge.flagship.task.arithmetic_prompts` order).

    Raises:
      ValueError: a bad ``operands`` or a completion longer than
        :data:`~socialign.llm_bridge.flagship.task.MAX_NEW_TOKENS`.

    Example:
      >>> import numpy as np
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> from socialign.llm_bridge.flagship import measurement
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> lp = measurement.behaviour_logprobs(model, llm_bridge.ByteTokenizer(), 2)
      >>> lp.shape, bool(np.all(lp < 0))
      ((4, 3), True)
    """
    prompts = arithmetic_prompts(operands)
    K = int(num_behaviours)
    ps = [p for p in prompts for _ in range(K)]
    comps = [tokenizer.encode(completion_fn(p, k), add_bos=False, add_eos=True)
             for p in prompts for k in range(K)]
    n = max(len(c) for c in comps)
    if n > MAX_NEW_TOKENS:
        raise ValueError(f"a canonical completion has {n} tokens, more than MAX_NEW_TOKENS="
                         f"{MAX_NEW_TOKENS}")
    ctoks = np.full((len(comps), MAX_NEW_TOKENS), tokenizer.pad_id, np.int32)
    cmask = np.zeros((len(comps), MAX_NEW_TOKENS), bool)
    for i, c in enumerate(comps):
        ctoks[i, :len(c)] = c
        cmask[i, :len(c)] = True
    ptoks, pmask = encode_batch(tokenizer, ps)
    graphdef, state = nnx.split(model)
    lp = _sequence_logprob(graphdef, state, jnp.asarray(ptoks), jnp.asarray(pmask),
                           jnp.asarray(ctoks), jnp.asarray(cmask))
    return np.asarray(lp, np.float64).reshape(len(prompts), K)
