r"""A Llama-family decoder-only transformer in Flax NNX.

Architecture (Touvron et al. 2023, "LLaMA", arXiv:2302.13971; SmolLM2 uses the same):

.. math::
    h_0 = E[x], \quad
    h' = h + W_o\,\mathrm{Attn}(\mathrm{RoPE}(W_q n), \mathrm{RoPE}(W_k n), W_v n),\ n = \mathrm{RMSNorm}(h),
    \quad h_{+} = h' + W_2\,(\mathrm{silu}(W_1 n') \odot W_3 n'),\ n' = \mathrm{RMSNorm}(h'),

with RMSNorm :math:`x / \sqrt{\overline{x^2} + \epsilon} \cdot g` (Zhang & Sennrich 2019),
rotary position embeddings in the "rotate-half" layout of HF transformers (Su et al. 2021,
arXiv:2104.09864), grouped-query attention with ``num_kv_heads`` key/value heads shared by
``num_heads // num_kv_heads`` query heads each (Ainslie et al. 2023, arXiv:2305.13245), SwiGLU
feed-forward (Shazeer 2020, arXiv:2002.05202) and logits tied to the embedding matrix.

The model is stateless with respect to decoding: ``__call__`` takes an optional KV cache (a
pytree of arrays) and returns the updated one, so the whole decode loop of
:mod:`llm_bridge._sampler` runs inside one ``jax.jit`` after ``nnx.split``.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> from socialign.llm_bridge import LlamaConfig, Llama
  >>> model = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> logits, _ = model(jnp.zeros((2, 5), jnp.int32))
  >>> logits.shape
  (2, 5, 260)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["LlamaConfig", "Llama", "KVCache", "init_cache", "CONFIGS"]


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
    """Shape-fixing hyper-parameters of a Llama-family model (all static).

    Attributes:
      vocab_size: number of token ids.
      dim: model width.
      num_layers: number of transformer blocks.
      num_heads: query heads; ``dim`` must be divisible by it.
      num_kv_heads: key/value heads (grouped-query attention); divides ``num_heads``.
      hidden_dim: SwiGLU inner width.
      max_seq_len: longest sequence (prompt + completion) the model is used with.
      rope_theta: rotary base frequency.
      norm_eps: RMSNorm epsilon.
      name: a label stored with checkpoints.

    Raises:
      ValueError: a non-positive size, ``dim`` not divisible by ``num_heads``, ``num_heads``
        not divisible by ``num_kv_heads``, an odd head dimension, or a non-positive
        ``rope_theta`` / ``norm_eps``.

    Example:
      >>> from socialign import llm_bridge
      >>> cfg = llm_bridge.LlamaConfig(vocab_size=10, dim=8, num_layers=1, num_heads=2,
      ...                              num_kv_heads=1, hidden_dim=16)
      >>> cfg.head_dim
      4
    """

    vocab_size: int
    dim: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    hidden_dim: int
    max_seq_len: int = 2048
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    name: str = "custom"

    def __post_init__(self):
        for f in ("vocab_size", "dim", "num_layers", "num_heads", "num_kv_heads", "hidden_dim",
                  "max_seq_len"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"LlamaConfig.{f} must be a positive int, got {v!r}")
        if self.dim % self.num_heads:
            raise ValueError(f"LlamaConfig.dim={self.dim} is not divisible by "
                             f"num_heads={self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"LlamaConfig.num_heads={self.num_heads} is not divisible by "
                             f"num_kv_heads={self.num_kv_heads}")
        if (self.dim // self.num_heads) % 2:
            raise ValueError("LlamaConfig head dimension (dim // num_heads) must be even for RoPE")
        if not (self.rope_theta > 0 and self.norm_eps > 0):
            raise ValueError("LlamaConfig.rope_theta and norm_eps must be > 0")

    @property
    def head_dim(self) -> int:
        """Width of one attention head, ``dim // num_heads``."""
        return self.dim // self.num_heads

    @classmethod
    def tiny(cls) -> LlamaConfig:
        """2 layers, width 64, 4 query / 2 key-value heads, byte-level vocabulary (260 ids).

        Example:
          >>> from socialign import llm_bridge
          >>> llm_bridge.LlamaConfig.tiny().num_layers
          2
        """
        return cls(vocab_size=260, dim=64, num_layers=2, num_heads=4, num_kv_heads=2,
                   hidden_dim=192, max_seq_len=128, name="tiny")

    @classmethod
    def smollm2_135m(cls) -> LlamaConfig:
        """HuggingFaceTB/SmolLM2-135M(-Instruct): 30 layers, width 576, 9/3 heads.

        Example:
          >>> from socialign import llm_bridge
          >>> llm_bridge.LlamaConfig.smollm2_135m().dim
          576
        """
        return cls(vocab_size=49152, dim=576, num_layers=30, num_heads=9, num_kv_heads=3,
                   hidden_dim=1536, max_seq_len=8192, rope_theta=100000.0, norm_eps=1e-5,
                   name="smollm2-135m")

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (``LlamaConfig(**d)`` rebuilds it)."""
        return dataclasses.asdict(self)


CONFIGS = {"tiny": LlamaConfig.tiny, "smollm2-135m": LlamaConfig.smollm2_135m}
"""Named model configs: ``CONFIGS[name]()`` is a :class:`LlamaConfig`
(``CONFIGS["tiny"]().name == "tiny"``)."""

# KV cache: {"k": [layers, B, S, kv_heads, head_dim], "v": same}
KVCache = dict
"""A KV cache: ``{"k": [layers, B, S, kv_heads, head_dim], "v": same}`` (see :func:`init_cache`)."""


def init_cache(config: LlamaConfig, batch: int, length: int, dtype=jnp.float32) -> KVCache:
    """An empty KV cache for ``batch`` sequences of up to ``length`` tokens.

    Args:
      config: the model's :class:`LlamaConfig`; batch: ``B``; length: ``S`` (prompt + new
        tokens); dtype: cache dtype.

    Returns:
      ``{"k", "v"}``, each zeros ``[layers, B, S, kv_heads, head_dim]``.

    Raises:
      TypeError: ``config`` is not a :class:`LlamaConfig`; ValueError: non-positive sizes.

    Example:
      >>> from socialign import llm_bridge
      >>> llm_bridge.init_cache(llm_bridge.LlamaConfig.tiny(), 2, 8)["k"].shape
      (2, 2, 8, 2, 16)
    """
    if not isinstance(config, LlamaConfig):
        raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
    for name, v in (("batch", batch), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    shape = (config.num_layers, batch, length, config.num_kv_heads, config.head_dim)
    return {"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape, dtype)}


class RMSNorm(nnx.Module):
    """Root-mean-square layer norm with a learned gain."""

    def __init__(self, dim: int, eps: float):
        self.weight = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.eps = eps

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return (y * self.weight[...]).astype(x.dtype)


def rope(x, positions, theta: float):
    """Rotary position embedding in the rotate-half layout of HF transformers (Su et al. 2021,
    arXiv:2104.09864): pairs ``(x_i, x_{i + D/2})`` rotate by ``position * theta^(-2i/D)``.

    Args:
      x: ``[B, T, H, D]`` queries or keys (``D`` even); positions: ``[B, T]`` integer
        positions; theta: base frequency (> 0).

    Returns:
      ``[B, T, H, D]``, dtype of ``x``.

    Raises:
      ValueError: ``x`` not 4-D with an even last axis, or ``positions`` not ``[B, T]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> x = jnp.ones((1, 1, 1, 4))
      >>> llm_bridge.rope(x, jnp.zeros((1, 1), jnp.int32), 1e4).tolist()   # position 0: identity
      [[[[1.0, 1.0, 1.0, 1.0]]]]
    """
    if jnp.ndim(x) != 4 or x.shape[-1] % 2 or jnp.shape(positions) != x.shape[:2]:
        raise ValueError(f"rope needs x [B, T, H, D] with D even and positions [B, T]; got "
                         f"{jnp.shape(x)} and {jnp.shape(positions)}")
    d = x.shape[-1]
    inv = 1.0 / (theta ** (jnp.arange(0, d, 2, dtype=jnp.float32) / d))  # [D/2]
    ang = positions.astype(jnp.float32)[..., None] * inv  # [B, T, D/2]
    cos = jnp.cos(ang)[:, :, None, :]
    sin = jnp.sin(ang)[:, :, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    x1f, x2f = x1.astype(jnp.float32), x2.astype(jnp.float32)
    out = jnp.concatenate([x1f * cos - x2f * sin, x2f * cos + x1f * sin], axis=-1)
    return out.astype(x.dtype)


def _linear(din, dout, rngs, std=None):
    init = nnx.initializers.normal(std if std is not None else din ** -0.5)
    return nnx.Linear(din, dout, use_bias=False, kernel_init=init, rngs=rngs)


class Attention(nnx.Module):
    """Grouped-query causal self-attention with rotary positions."""

    def __init__(self, cfg: LlamaConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = _linear(cfg.dim, cfg.num_heads * hd, rngs)
        self.k_proj = _linear(cfg.dim, cfg.num_kv_heads * hd, rngs)
        self.v_proj = _linear(cfg.dim, cfg.num_kv_heads * hd, rngs)
        self.o_proj = _linear(cfg.num_heads * hd, cfg.dim, rngs,
                              std=(cfg.num_heads * hd) ** -0.5 / (2 * cfg.num_layers) ** 0.5)

    def __call__(self, x, positions, kv_mask, cache_kv, cache_index):
        cfg = self.cfg
        B, T, _ = x.shape
        hd, H, KH = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
        q = rope(self.q_proj(x).reshape(B, T, H, hd), positions, cfg.rope_theta)
        k = rope(self.k_proj(x).reshape(B, T, KH, hd), positions, cfg.rope_theta)
        v = self.v_proj(x).reshape(B, T, KH, hd)
        if cache_kv is None:
            keys, values = k, v
            q_slot = jnp.arange(T)
        else:
            ck, cv = cache_kv
            keys = jax.lax.dynamic_update_slice(ck, k.astype(ck.dtype), (0, cache_index, 0, 0))
            values = jax.lax.dynamic_update_slice(cv, v.astype(cv.dtype), (0, cache_index, 0, 0))
            q_slot = cache_index + jnp.arange(T)
            cache_kv = (keys, values)
        S = keys.shape[1]
        k_slot = jnp.arange(S)
        mask = (k_slot[None, :] <= q_slot[:, None])[None] & kv_mask[:, None, :].astype(bool)
        G = H // KH
        qg = q.reshape(B, T, KH, G, hd)
        scores = jnp.einsum("btkgd,bskd->bkgts", qg, keys.astype(q.dtype)) / jnp.sqrt(hd)
        scores = scores.astype(jnp.float32)
        scores = jnp.where(mask[:, None, None], scores, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(scores, axis=-1).astype(q.dtype)
        out = jnp.einsum("bkgts,bskd->btkgd", probs, values.astype(q.dtype)).reshape(B, T, H * hd)
        return self.o_proj(out), cache_kv


class MLP(nnx.Module):
    """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, cfg: LlamaConfig, rngs: nnx.Rngs):
        self.gate_proj = _linear(cfg.dim, cfg.hidden_dim, rngs)
        self.up_proj = _linear(cfg.dim, cfg.hidden_dim, rngs)
        self.down_proj = _linear(cfg.hidden_dim, cfg.dim, rngs,
                                 std=cfg.hidden_dim ** -0.5 / (2 * cfg.num_layers) ** 0.5)

    def __call__(self, x):
        return self.down_proj(jax.nn.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nnx.Module):
    """One pre-norm transformer block: attention then SwiGLU, each with a residual."""

    def __init__(self, cfg: LlamaConfig, rngs: nnx.Rngs):
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg, rngs)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg, rngs)

    def __call__(self, x, positions, kv_mask, cache_kv, cache_index):
        a, cache_kv = self.self_attn(self.input_layernorm(x), positions, kv_mask, cache_kv,
                                     cache_index)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), cache_kv


class Llama(nnx.Module):
    """Llama-family decoder with tied input/output embeddings.

    Call signature ``model(tokens, positions=None, kv_mask=None, cache=None, cache_index=0,
    return_hidden=False) -> (logits [B, T, vocab], cache)`` (``(logits, hidden, cache)`` with
    ``return_hidden``):

    * ``tokens [B, T]`` int ids; ``positions [B, T]`` rotary positions (default ``arange(T)``);
    * ``kv_mask`` marks valid key slots: ``[B, T]`` without a cache, ``[B, S]`` (the whole cache
      buffer) with one; padding slots are never attended to;
    * ``cache``: :func:`init_cache` output; the new keys/values are written at
      ``cache_index`` and the updated cache returned.

    Args:
      config: :class:`LlamaConfig`; rngs: ``nnx.Rngs`` for the initialisation;
      param_dtype: parameter dtype (float32).

    Raises:
      TypeError: ``config`` is not a :class:`LlamaConfig`.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> model = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((2, 5), jnp.int32))[0].shape
      (2, 5, 260)
    """

    def __init__(self, config: LlamaConfig, *, rngs: nnx.Rngs, param_dtype=jnp.float32):
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
        self.config = config
        self.embed_tokens = nnx.Embed(config.vocab_size, config.dim,
                                      embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.layers = nnx.List([Block(config, rngs) for _ in range(config.num_layers)])
        self.norm = RMSNorm(config.dim, config.norm_eps)

    def __call__(self, tokens, positions=None, kv_mask=None, cache=None, cache_index=0,
                 return_hidden=False):
        B, T = tokens.shape
        if positions is None:
            positions = jnp.broadcast_to(jnp.arange(T), (B, T))
        if kv_mask is None:
            S = T if cache is None else cache["k"].shape[2]
            kv_mask = jnp.ones((B, S), bool)
        x = self.embed_tokens(tokens)
        new_k, new_v = [], []
        for i, layer in enumerate(self.layers):
            ckv = None if cache is None else (cache["k"][i], cache["v"][i])
            x, ckv = layer(x, positions, kv_mask, ckv, cache_index)
            if cache is not None:
                new_k.append(ckv[0])
                new_v.append(ckv[1])
        h = self.norm(x)
        logits = self.embed_tokens.attend(h).astype(jnp.float32)
        if cache is not None:
            cache = {"k": jnp.stack(new_k), "v": jnp.stack(new_v)}
        if return_hidden:
            return logits, h, cache
        return logits, cache


class ValueHead(nnx.Module):
    """A scalar value per position on top of the final hidden states (for PPO).

    ``ValueHead(dim, rngs=...)(hidden [B, T, dim]) -> [B, T]`` float32 (zero-initialised, so
    values start at 0). Use ``model(tokens, return_hidden=True)`` for ``hidden``.

    Raises:
      ValueError: ``dim`` not a positive int.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> llm_bridge.ValueHead(64, rngs=nnx.Rngs(0))(jnp.ones((2, 3, 64))).shape
      (2, 3)
    """

    def __init__(self, dim: int, *, rngs: nnx.Rngs):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.proj = nnx.Linear(dim, 1, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, hidden):
        return self.proj(hidden)[..., 0].astype(jnp.float32)
