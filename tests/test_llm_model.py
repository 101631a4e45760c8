"""Tests of llm_bridge._model, _sampler, _tokenizer: shapes, GQA/RoPE properties, cached == uncached."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from socialign.llm_bridge import (
    ByteTokenizer,
    Llama,
    LlamaConfig,
    encode_batch,
    filter_logits,
    rope,
    sample,
    sequence_logprobs,
)


@pytest.fixture(scope="module")
def model():
    return Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))


def test_config_validation():
    with pytest.raises(ValueError, match="num_kv_heads"):
        LlamaConfig(vocab_size=10, dim=8, num_layers=1, num_heads=2, num_kv_heads=3, hidden_dim=8)
    with pytest.raises(ValueError, match="dim"):
        LlamaConfig(vocab_size=10, dim=9, num_layers=1, num_heads=2, num_kv_heads=1, hidden_dim=8)
    with pytest.raises(ValueError, match="vocab_size"):
        LlamaConfig(vocab_size=0, dim=8, num_layers=1, num_heads=2, num_kv_heads=1, hidden_dim=8)
    with pytest.raises(TypeError, match="config"):
        Llama({"dim": 8}, rngs=nnx.Rngs(0))


def test_byte_tokenizer_roundtrip():
    tok = ByteTokenizer()
    ids = tok.encode("3+4=é", add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == "3+4=é"
    assert tok.decode([ord("a"), tok.eos_id, ord("b")]) == "a"
    toks, mask = encode_batch(tok, ["ab", "abcd"])
    assert toks.shape == (2, 5) and mask.sum(1).tolist() == [3, 5]
    assert toks[0, 0] == tok.pad_id and not mask[0, 0]
    with pytest.raises(ValueError, match="length"):
        encode_batch(tok, ["abcdef"], length=3)


def test_rope_relative_and_norm_preserving():
    x = jax.random.normal(jax.random.key(0), (1, 1, 1, 8))
    y = jax.random.normal(jax.random.key(1), (1, 1, 1, 8))
    def dot(p, q):
        return float(jnp.sum(rope(x, jnp.array([[p]]), 1e4) * rope(y, jnp.array([[q]]), 1e4)))
    assert dot(3, 1) == pytest.approx(dot(10, 8), rel=1e-5)  # depends only on p - q
    r = rope(x, jnp.array([[7]]), 1e4)
    assert float(jnp.linalg.norm(r)) == pytest.approx(float(jnp.linalg.norm(x)), rel=1e-6)


def test_causal_and_padding_invariance(model):
    toks = jnp.array([[256, 51, 43, 52, 61]])
    full, _ = model(toks)
    pre, _ = model(toks[:, :3])
    np.testing.assert_allclose(full[:, :3], pre, atol=1e-5)  # causal
    # left padding with masked keys and shifted positions changes nothing
    padded = jnp.array([[258, 258, 256, 51, 43, 52, 61]])
    mask = padded != 258
    pos = jnp.maximum(jnp.cumsum(mask, 1) - 1, 0)
    out, _ = model(padded, pos, mask)
    np.testing.assert_allclose(out[:, 2:], full, atol=1e-5)


def test_gqa_equals_repeated_kv_heads(model):
    """GQA with 2 kv heads == standard MHA with each kv head repeated for its query group."""
    cfg = model.config
    attn = model.layers[0].self_attn
    x = jax.random.normal(jax.random.key(2), (2, 5, cfg.dim))
    pos = jnp.broadcast_to(jnp.arange(5), (2, 5))
    out, _ = attn(x, pos, jnp.ones((2, 5), bool), None, 0)
    hd, H, KH = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    q = rope(attn.q_proj(x).reshape(2, 5, H, hd), pos, cfg.rope_theta)
    k = jnp.repeat(rope(attn.k_proj(x).reshape(2, 5, KH, hd), pos, cfg.rope_theta), H // KH, 2)
    v = jnp.repeat(attn.v_proj(x).reshape(2, 5, KH, hd), H // KH, 2)
    s = jnp.einsum("bthd,bshd->bhts", q, k) / np.sqrt(hd)
    s = jnp.where(jnp.tril(jnp.ones((5, 5), bool)), s, -jnp.inf)
    ref = jnp.einsum("bhts,bshd->bthd", jax.nn.softmax(s, -1), v).reshape(2, 5, H * hd)
    np.testing.assert_allclose(out, attn.o_proj(ref), atol=1e-5)


@pytest.mark.slow  # ~23 s on 2 cores (two samplers compiled)
def test_cached_sampling_equals_uncached(model):
    tok = ByteTokenizer()
    toks, mask = encode_batch(tok, ["1+1=", "12+30=", "7"])
    out = sample(model, toks, mask, jax.random.key(0), max_new_tokens=6, eos_id=tok.eos_id,
                 pad_id=tok.pad_id)
    assert out.tokens.shape == (3, 6) and out.mask.dtype == bool
    lp = sequence_logprobs(model, jnp.asarray(toks), jnp.asarray(mask), out.tokens, out.mask)
    np.testing.assert_allclose(lp, out.logprobs, atol=2e-5)
    # greedy decoding with the cache == argmax of repeated full forward passes
    t1, m1 = encode_batch(tok, ["12+30="])
    g = sample(model, t1, m1, jax.random.key(0), max_new_tokens=4,
               eos_id=-1, pad_id=tok.pad_id, greedy=True)
    seq = jnp.asarray(t1)
    for _ in range(4):
        logits, _ = model(seq)
        seq = jnp.concatenate([seq, jnp.argmax(logits[:, -1], -1)[:, None]], 1)
    np.testing.assert_array_equal(np.asarray(g.tokens[0]), np.asarray(seq[0, -4:]))


def test_eos_masks_rest(model):
    tok = ByteTokenizer()
    toks, mask = encode_batch(tok, ["a", "b"])
    # force EOS: a model whose logits always favour EOS via top_k=1 on a biased copy is overkill;
    # instead treat the first sampled token as EOS by choosing eos_id = that token
    out = sample(model, toks, mask, jax.random.key(3), max_new_tokens=5, eos_id=tok.eos_id,
                 pad_id=tok.pad_id, greedy=True)
    first = int(out.tokens[0, 0])
    out2 = sample(model, toks, mask, jax.random.key(3), max_new_tokens=5, eos_id=first,
                  pad_id=tok.pad_id, greedy=True)
    assert out2.mask[0].tolist() == [True, False, False, False, False]
    assert (np.asarray(out2.tokens[0, 1:]) == tok.pad_id).all()
    assert (np.asarray(out2.logprobs[0, 1:]) == 0).all()


def test_filter_logits_topk_topp():
    logits = jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05]))
    p = jax.nn.softmax(filter_logits(logits, 1.0, top_k=2))
    np.testing.assert_allclose(p, [0.625, 0.375, 0, 0], atol=1e-6)
    p = jax.nn.softmax(filter_logits(logits, 1.0, top_p=0.7))  # 0.5 + 0.3 >= 0.7
    np.testing.assert_allclose(p, [0.625, 0.375, 0, 0], atol=1e-6)
    p = jax.nn.softmax(filter_logits(logits, 0.5))
    q = np.array([0.5, 0.3, 0.15, 0.05]) ** 2
    np.testing.assert_allclose(p, q / q.sum(), atol=1e-6)


def test_sampler_bad_input(model):
    tok = ByteTokenizer()
    toks, mask = encode_batch(tok, ["ab"])
    kw = dict(eos_id=tok.eos_id, pad_id=tok.pad_id)
    with pytest.raises(ValueError, match="max_new_tokens"):
        sample(model, toks, mask, jax.random.key(0), max_new_tokens=0, **kw)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, toks, mask, jax.random.key(0), max_new_tokens=2, temperature=0.0, **kw)
    with pytest.raises(ValueError, match="top_p"):
        sample(model, toks, mask, jax.random.key(0), max_new_tokens=2, top_p=0.0, **kw)
    with pytest.raises(ValueError, match="prompt_mask"):
        sample(model, toks, mask[:, :1], jax.random.key(0), max_new_tokens=2, **kw)
    with pytest.raises(ValueError, match="max_seq_len"):
        sample(model, toks, mask, jax.random.key(0), max_new_tokens=1000, **kw)
    with pytest.raises(ValueError, match="prompt_tokens"):
        sample(model, toks + 1000, mask, jax.random.key(0), max_new_tokens=2, **kw)
