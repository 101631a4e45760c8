r"""Batched autoregressive sampling with a KV cache; the whole decode loop is one ``jax.jit``.

The prompt (left-padded, with a validity mask) is run once to fill the cache ("prefill"), then a
``lax.scan`` emits one token per step, writing its key/value at the next cache slot. Each step
draws from

.. math:: p(x) \propto \exp(\ell_x / T)\ \text{restricted to the top-}k\text{ and the top-}p
   \text{ nucleus}

(Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration", arXiv:1904.09751).
After a sequence emits EOS its later tokens are PAD and masked out. ``logprobs`` are those of the
sampled tokens under the distribution they were drawn from; with ``temperature=1`` and no
filtering these are the model's own log-probabilities, as policy-gradient training needs.

Example:
  >>> import jax
  >>> from flax import nnx
  >>> from socialign.llm_bridge import Llama, LlamaConfig, ByteTokenizer, encode_batch, sample
  >>> model = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> toks, mask = encode_batch(ByteTokenizer(), ["1+1=", "12+30="])
  >>> out = sample(model, toks, mask, jax.random.key(0), max_new_tokens=4, eos_id=257, pad_id=258)
  >>> out.tokens.shape, out.logprobs.shape, out.mask.shape
  ((2, 4), (2, 4), (2, 4))
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._model import Llama, init_cache

__all__ = ["SampleOutput", "sample", "sequence_logprobs", "filter_logits"]


class SampleOutput(NamedTuple):
    """What :func:`sample` returns.

    Attributes:
      tokens: ``[B, N]`` int32 sampled ids, PAD after EOS.
      logprobs: ``[B, N]`` float32 log-probabilities of the sampled tokens, 0 where masked.
      mask: ``[B, N]`` bool, True up to and including EOS.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> out = llm_bridge.SampleOutput(jnp.zeros((1, 2), jnp.int32), jnp.zeros((1, 2)),
      ...                               jnp.ones((1, 2), bool))
      >>> out.tokens.shape == out.mask.shape
      True
    """

    tokens: jax.Array  # [B, N] int32, PAD after EOS
    logprobs: jax.Array  # [B, N] float32, 0 where mask is False
    mask: jax.Array  # [B, N] bool, True up to and including EOS


def filter_logits(logits, temperature, top_k: int = 0, top_p=1.0):
    """Temperature, top-k and nucleus (top-p) filtering of logits ``[..., V]`` (traceable).

    Args:
      logits: ``[..., V]``; temperature: softmax temperature ``> 0`` (the logits are divided
        by it); top_k: static int (0 = off); top_p: nucleus mass in ``(0, 1]``.

    Returns:
      float32 ``[..., V]``: scaled logits, filtered entries set to the float32 minimum.

    Raises:
      ValueError: ``top_k`` not an int in ``[0, V]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> out = llm_bridge.filter_logits(jnp.array([2.0, 1.0, 0.0]), 1.0, top_k=2)
      >>> out[:2].tolist(), bool(out[2] < -1e30)
      ([2.0, 1.0], True)
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= logits.shape[-1]:
        raise ValueError(f"top_k must be an int in [0, {logits.shape[-1]}], got {top_k!r}")
    logits = logits.astype(jnp.float32) / temperature
    neg = jnp.finfo(jnp.float32).min
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, neg, logits)
    srt = jnp.sort(logits, axis=-1)[..., ::-1]
    probs = jax.nn.softmax(srt, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs  # mass strictly above each sorted entry
    keep = before < top_p
    thresh = jnp.min(jnp.where(keep, srt, jnp.inf), axis=-1, keepdims=True)
    return jnp.where(logits < thresh, neg, logits)


@functools.partial(jax.jit, static_argnames=("graphdef", "max_new_tokens", "top_k", "greedy"))
def _sample(graphdef, state, tokens, mask, key, temperature, top_p, eos_id, pad_id, *,
            max_new_tokens, top_k, greedy):
    model = nnx.merge(graphdef, state)
    B, P = tokens.shape
    S = P + max_new_tokens
    cache = init_cache(model.config, B, S)
    kv_mask = jnp.concatenate([mask, jnp.zeros((B, max_new_tokens), bool)], axis=1)
    positions = jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0)
    logits, cache = model(tokens, positions, kv_mask, cache, 0)
    last = logits[:, -1]
    next_pos = jnp.sum(mask, axis=1)  # [B]

    def step(carry, i):
        last, cache, kv_mask, done, key = carry
        key, sub = jax.random.split(key)
        filt = filter_logits(last, temperature, top_k, top_p)
        logp_all = jax.nn.log_softmax(filt, axis=-1)
        if greedy:
            tok = jnp.argmax(last, axis=-1)
            lp = jax.nn.log_softmax(last.astype(jnp.float32), -1)
            lp = jnp.take_along_axis(lp, tok[:, None], -1)[:, 0]
        else:
            tok = jax.random.categorical(sub, filt, axis=-1)
            lp = jnp.take_along_axis(logp_all, tok[:, None], -1)[:, 0]
        valid = ~done
        tok = jnp.where(valid, tok, pad_id).astype(jnp.int32)
        lp = jnp.where(valid, lp, 0.0)
        done = done | (tok == eos_id)
        kv_mask = jax.lax.dynamic_update_slice(kv_mask, valid[:, None], (0, P + i))
        logits, cache = model(tok[:, None], (next_pos + i)[:, None], kv_mask, cache, P + i)
        return (logits[:, -1], cache, kv_mask, done, key), (tok, lp, valid)

    init = (last, cache, kv_mask, jnp.zeros((B,), bool), key)
    _, (toks, lps, valid) = jax.lax.scan(step, init, jnp.arange(max_new_tokens))
    return SampleOutput(toks.T, lps.T, valid.T)


def _check_prompt(tokens, mask, vocab_size):
    tokens = np.asarray(tokens)
    mask = np.asarray(mask)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"prompt_tokens must be a 2-D integer array, got shape {tokens.shape} "
                         f"and dtype {tokens.dtype}")
    if mask.shape != tokens.shape:
        raise ValueError(f"prompt_mask shape {mask.shape} != prompt_tokens shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"prompt_tokens must be in [0, {vocab_size})")
    if not mask.astype(bool).any(axis=1).all():
        raise ValueError("prompt_mask: every prompt needs at least one valid token")
    return jnp.asarray(tokens, jnp.int32), jnp.asarray(mask, bool)


def sample(model: Llama, prompt_tokens, prompt_mask, key, *, max_new_tokens: int,
           temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, eos_id: int,
           pad_id: int, greedy: bool = False) -> SampleOutput:
    """Sample ``max_new_tokens`` continuations of each (left-padded) prompt.

    Args:
      model: a :class:`Llama`.
      prompt_tokens, prompt_mask: ``[B, P]`` from :func:`encode_batch`.
      key: a JAX PRNG key.
      max_new_tokens: static number of decode steps.
      temperature: > 0; top_k: static int (0 = off); top_p: in (0, 1].
      eos_id, pad_id: special token ids. greedy: argmax decoding (logprobs are the model's).

    Returns:
      :class:`SampleOutput` ``(tokens, logprobs, mask)``, each ``[B, max_new_tokens]``.

    Raises:
      TypeError: ``model`` is not a :class:`Llama`.
      ValueError: a bad ``max_new_tokens``, ``temperature``, ``top_k`` or ``top_p``, prompts
        that are not 2-D integer ids in the vocabulary with a matching mask, or a prompt longer
        than ``max_seq_len - max_new_tokens``.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> toks, mask = llm_bridge.encode_batch(llm_bridge.ByteTokenizer(), ["1+1=", "12+30="])
      >>> out = llm_bridge.sample(model, toks, mask, jax.random.key(1), max_new_tokens=4,
      ...                         eos_id=257, pad_id=258)
      >>> out.tokens.shape, out.tokens.dtype
      ((2, 4), dtype('int32'))
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
            or max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0, got {top_k!r}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    tokens, mask = _check_prompt(prompt_tokens, prompt_mask, model.config.vocab_size)
    if tokens.shape[1] + max_new_tokens > model.config.max_seq_len:
        raise ValueError(f"prompt length {tokens.shape[1]} + max_new_tokens {max_new_tokens} "
                         f"exceeds max_seq_len={model.config.max_seq_len}")
    graphdef, state = nnx.split(model)
    return _sample(graphdef, state, tokens, mask, key, jnp.float32(temperature),
                   jnp.float32(top_p), jnp.int32(eos_id), jnp.int32(pad_id),
                   max_new_tokens=max_new_tokens, top_k=top_k, greedy=bool(greedy))


def sequence_logprobs(model: Llama, prompt_tokens, prompt_mask, completion, completion_mask):
    """Per-token log-probabilities of ``completion [B, N]`` given the prompts, without a cache.

    One forward pass over ``[prompt; completion]`` (traceable: use it inside a jitted loss).

    Args:
      model: a :class:`Llama` (or one merged from its state inside a trace).
      prompt_tokens, prompt_mask: ``[B, P]`` left-padded prompts.
      completion, completion_mask: ``[B, N]`` as returned by :func:`sample`.

    Returns:
      ``[B, N]`` float32, 0 where ``completion_mask`` is False.

    Raises:
      ValueError: mismatched shapes.

    Example:
      >>> import jax
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> toks, mask = llm_bridge.encode_batch(llm_bridge.ByteTokenizer(), ["1+1=", "12+30="])
      >>> out = llm_bridge.sample(model, toks, mask, jax.random.key(0), max_new_tokens=4,
      ...                         eos_id=257, pad_id=258)
      >>> lp = llm_bridge.sequence_logprobs(model, toks, mask, out.tokens, out.mask)
      >>> bool(abs(lp - out.logprobs).max() < 1e-4)   # what the sampler drew them with
      True
    """
    if jnp.shape(prompt_tokens) != jnp.shape(prompt_mask) or jnp.shape(completion) != \
            jnp.shape(completion_mask) or jnp.ndim(prompt_tokens) != 2 or \
            jnp.shape(completion)[:1] != jnp.shape(prompt_tokens)[:1]:
        raise ValueError(f"sequence_logprobs needs prompts [B, P] and completions [B, N] with "
                         f"matching masks; got {jnp.shape(prompt_tokens)}, "
                         f"{jnp.shape(prompt_mask)}, {jnp.shape(completion)}, "
                         f"{jnp.shape(completion_mask)}")
    P = prompt_tokens.shape[1]
    toks = jnp.concatenate([prompt_tokens, completion], axis=1)
    m = jnp.concatenate([prompt_mask, completion_mask], axis=1)
    positions = jnp.maximum(jnp.cumsum(m, axis=1) - 1, 0)
    logits, _ = model(toks, positions, m)
    logp = jax.nn.log_softmax(logits[:, P - 1:-1], axis=-1)
    lp = jnp.take_along_axis(logp, completion[..., None], -1)[..., 0]
    return jnp.where(completion_mask, lp, 0.0)
