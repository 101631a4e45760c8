"""Tests of llm_bridge._safetensors, _hf_layout and _gguf (the real SmolLM2 wheel in slow tests)."""

import json
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from socialign.llm_bridge import (
    Llama,
    LlamaConfig,
    hf_state_dict,
    load_gguf,
    load_safetensors,
    permute_qk,
    rope,
    save_safetensors,
    unpermute_qk,
)


def test_safetensors_roundtrip_and_format(tmp_path):
    m = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(1))
    path = str(tmp_path / "m.safetensors")
    save_safetensors(m, path)
    # the header is what the format says: u64 length + JSON with dtype/shape/offsets
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    q = header["model.layers.0.self_attn.q_proj.weight"]
    assert q["dtype"] == "F32" and q["shape"] == [64, 64]
    assert n % 8 == 0
    m2 = load_safetensors(path)
    toks = jnp.array([[256, 50, 43, 51]])
    np.testing.assert_array_equal(m(toks)[0], m2(toks)[0])


def test_safetensors_matches_reference_reader(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="`safetensors` not installed (lm "
                             "extra): cross-check with the reference implementation skipped")
    m = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(2))
    path = str(tmp_path / "m.safetensors")
    save_safetensors(m, path)
    ref = st.load_file(path)
    ours = hf_state_dict(m)
    assert set(ref) == set(ours)
    for k in ours:
        np.testing.assert_array_equal(ref[k], ours[k])
    # and files written by the reference load here
    ref_path = str(tmp_path / "ref.safetensors")
    st.save_file({k: v for k, v in ours.items()}, ref_path)
    np.testing.assert_array_equal(load_safetensors(ref_path, LlamaConfig.tiny())(
        jnp.array([[256, 50]]))[0], m(jnp.array([[256, 50]]))[0])


def test_safetensors_dtypes_and_errors(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="`safetensors` not installed (lm extra)")
    m = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(3))
    ours = hf_state_dict(m)
    toks = jnp.array([[256, 50, 43, 51]])
    # an HF checkpoint in bfloat16 (the usual dtype on the Hub) loads, upcast to float32
    p = str(tmp_path / "t.safetensors")
    st.save_file({k: v.astype(jnp.bfloat16) for k, v in ours.items()}, p, metadata={"k": "v"})
    back = load_safetensors(p, LlamaConfig.tiny())
    for k, v in hf_state_dict(back).items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, ours[k].astype(jnp.bfloat16).astype(np.float32))
    np.testing.assert_allclose(back(toks)[0], m(toks)[0], atol=0.1)
    # a tied lm_head.weight is accepted, an untied one refused
    st.save_file({**ours, "lm_head.weight": ours["model.embed_tokens.weight"]}, p)
    load_safetensors(p, LlamaConfig.tiny())
    st.save_file({**ours, "lm_head.weight": ours["model.embed_tokens.weight"] + 1}, p)
    with pytest.raises(ValueError, match="untied"):
        load_safetensors(p, LlamaConfig.tiny())
    with pytest.raises(ValueError, match="no stored llm_bridge config"):
        load_safetensors(p)
    with pytest.raises(FileNotFoundError):
        load_safetensors(str(tmp_path / "none.safetensors"))
    open(tmp_path / "bad.safetensors", "wb").write(b"\xff" * 20)
    with pytest.raises(ValueError, match="not a safetensors"):
        load_safetensors(str(tmp_path / "bad.safetensors"), LlamaConfig.tiny())
    with pytest.raises(TypeError, match="config"):
        load_safetensors(p, {"dim": 64})
    with pytest.raises(TypeError, match="model"):
        save_safetensors("not a model", p)
    # weights of another config: clear error naming the tensor
    small = Llama(LlamaConfig(**{**LlamaConfig.tiny().to_dict(), "dim": 32, "hidden_dim": 64}),
                  rngs=nnx.Rngs(0))
    save_safetensors(small, p)
    with pytest.raises(ValueError, match="needs"):
        load_safetensors(p, LlamaConfig.tiny())


def test_qk_permutation_inverse_and_rope_layout():
    w = np.random.default_rng(0).normal(size=(3 * 8, 5))
    np.testing.assert_array_equal(unpermute_qk(permute_qk(w, 3), 3), w)
    # llama.cpp's interleaved rope on permuted rows == rotate-half rope on the original rows
    x = np.random.default_rng(1).normal(size=(8,))
    q_hf = jnp.asarray(x)[None, None, None, :]
    rot_hf = np.asarray(rope(q_hf, jnp.array([[5]]), 1e4))[0, 0, 0]
    xp = permute_qk(x[:, None], 1)[:, 0]
    inv = 1.0 / (1e4 ** (np.arange(0, 8, 2) / 8))
    ang = 5 * inv
    pairs = xp.reshape(4, 2)
    rot = np.stack([pairs[:, 0] * np.cos(ang) - pairs[:, 1] * np.sin(ang),
                    pairs[:, 0] * np.sin(ang) + pairs[:, 1] * np.cos(ang)], 1).reshape(-1)
    np.testing.assert_allclose(unpermute_qk(rot[:, None], 1)[:, 0], rot_hf, atol=1e-6)


def test_missing_gguf_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        load_gguf(tmp_path / "missing.gguf")


@pytest.mark.slow
def test_smollm2_gguf_answers_paris():
    pytest.importorskip("gguf", reason="needs the lm extra")
    pytest.importorskip("tokenizers", reason="needs the lm extra")
    from socialign.llm_bridge import encode_batch, sample, smollm2_gguf_path

    model, tok = load_gguf(smollm2_gguf_path(), max_seq_len=128)
    assert model.config == LlamaConfig(**{**LlamaConfig.smollm2_135m().to_dict(),
                                          "max_seq_len": 128})
    system = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
              "Hugging Face<|im_end|>\n")
    prompt = system + tok.chat_prompt("What is the capital of France?")
    ids, mask = encode_batch(tok, [prompt], add_bos=False)
    out = sample(model, ids, mask, jax.random.key(0), max_new_tokens=16, eos_id=tok.eos_id,
                 pad_id=tok.pad_id, greedy=True)
    answer = tok.decode(out.tokens[0])
    assert "Paris" in answer, answer
