"""Tests of llm_bridge._safetensors and _gguf (the real SmolLM2 wheel in slow tests)."""

import json
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from socialign.llm_bridge import Llama, LlamaConfig, load_gguf, load_safetensors, save_safetensors
from socialign.llm_bridge._gguf import permute_qk, unpermute_qk
from socialign.llm_bridge._safetensors import hf_state_dict, read_safetensors, write_safetensors


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
    import ml_dtypes

    p = str(tmp_path / "t.safetensors")
    t = {"a": np.arange(6, dtype=np.int64).reshape(2, 3),
         "b": np.array([1.5, -2], dtype=ml_dtypes.bfloat16), "c": np.array([True, False])}
    write_safetensors(p, t, {"k": "v"})
    back, meta = read_safetensors(p)
    assert meta == {"k": "v"}
    for k in t:
        np.testing.assert_array_equal(back[k], t[k])
        assert back[k].dtype == t[k].dtype
    with pytest.raises(FileNotFoundError):
        read_safetensors(str(tmp_path / "none.safetensors"))
    open(tmp_path / "bad.safetensors", "wb").write(b"\xff" * 20)
    with pytest.raises(ValueError, match="not a safetensors"):
        read_safetensors(str(tmp_path / "bad.safetensors"))
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
    from socialign.llm_bridge._model import rope
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
