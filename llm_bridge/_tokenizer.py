"""Tokenizers: a pure-Python byte-level one (for ``tiny``) and a wrapper of HF ``tokenizers``.

Both expose the same small interface: ``encode(text, add_bos=...) -> list[int]``,
``decode(ids) -> str`` (stops at the first EOS, drops special tokens), ``bos_id``, ``eos_id``,
``pad_id`` and ``vocab_size``. :func:`encode_batch` left-pads a batch of prompts for the sampler.

Example:
  >>> from socialign.llm_bridge import ByteTokenizer
  >>> tok = ByteTokenizer()
  >>> ids = tok.encode("2+3=")
  >>> ids[0] == tok.bos_id, tok.decode(ids)
  (True, '2+3=')
"""

from __future__ import annotations

import numpy as np

__all__ = ["ByteTokenizer", "HFTokenizer", "encode_batch"]


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, then BOS=256, EOS=257, PAD=258 (vocabulary of 260 ids).

    The tokenizer of ``LlamaConfig.tiny()``. ``encode(text, add_bos=True, add_eos=False)``
    raises TypeError for a non-string; ``decode(ids)`` stops at the first EOS and drops the
    special ids.

    Example:
      >>> from socialign import llm_bridge
      >>> tok = llm_bridge.ByteTokenizer()
      >>> tok.encode("hi", add_eos=True), tok.decode([104, 105, 257, 33])
      ([256, 104, 105, 257], 'hi')
    """

    bos_id = 256
    eos_id = 257
    pad_id = 258
    vocab_size = 260

    def encode(self, text: str, add_bos: bool = True, add_eos: bool = False) -> list[int]:
        """UTF-8 bytes of ``text``, with BOS first (default) and EOS last (optional)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids = list(text.encode("utf-8"))
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids) -> str:
        """Text of ``ids`` up to the first EOS, special ids dropped (invalid UTF-8 replaced)."""
        out = bytearray()
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == self.eos_id:
                break
            if 0 <= i < 256:
                out.append(i)
        return out.decode("utf-8", errors="replace")


class HFTokenizer:
    """Wraps a ``tokenizers.Tokenizer`` (BPE from a GGUF file or ``tokenizer.json``).

    Args:
      tokenizer: a ``tokenizers.Tokenizer``; bos_id, eos_id: special ids; pad_id: padding id
        (default ``eos_id``); chat_template: the model's Jinja chat template, if any.

    Raises:
      ImportError: ``from_file`` without the ``tokenizers`` package (``lm`` extra).

    Example:
      >>> from socialign import llm_bridge
      >>> model, tok = llm_bridge.load_gguf(llm_bridge.smollm2_gguf_path())  # doctest: +SKIP
      >>> tok.decode(tok.encode("Paris"))                                    # doctest: +SKIP
      'Paris'
    """

    def __init__(self, tokenizer, bos_id: int, eos_id: int, pad_id: int | None = None,
                 chat_template: str | None = None):
        self.tokenizer = tokenizer
        self.bos_id = int(bos_id)
        self.eos_id = int(eos_id)
        self.pad_id = int(pad_id if pad_id is not None else eos_id)
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        self.chat_template = chat_template

    @classmethod
    def from_file(cls, path: str, bos_token: str, eos_token: str) -> HFTokenizer:
        """Load a ``tokenizer.json`` (HF ``tokenizers``); special tokens given by their text."""
        try:
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("HFTokenizer needs the `tokenizers` package: "
                              "pip install 'socialign[lm]'") from e
        tok = Tokenizer.from_file(str(path))
        return cls(tok, tok.token_to_id(bos_token), tok.token_to_id(eos_token))

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of ``text`` (no special tokens added unless asked)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return ([self.bos_id] if add_bos else []) + list(ids) + ([self.eos_id] if add_eos else [])

    def decode(self, ids) -> str:
        """Text of ``ids`` up to the first EOS, special tokens skipped."""
        ids = np.asarray(ids).reshape(-1).tolist()
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def chat_prompt(self, user: str) -> str:
        """ChatML prompt (the format of SmolLM2-Instruct) for one user message."""
        return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def encode_batch(tokenizer, texts, *, length: int | None = None, add_bos: bool = True):
    """Encode and LEFT-pad ``texts`` to a common length.

    Returns ``(tokens [B, L] int32, mask [B, L] bool)`` as numpy arrays; ``mask`` is False on
    padding. ``length`` fixes ``L`` (so shapes, and compiled functions, are reused); a prompt
    longer than ``length`` raises ValueError.

    Args:
      tokenizer: a :class:`ByteTokenizer` or :class:`HFTokenizer`; texts: non-empty list of
        strings; length: fixed ``L`` or None (the longest); add_bos: prepend BOS.

    Returns:
      ``(tokens [B, L] int32, mask [B, L] bool)`` numpy arrays.

    Raises:
      ValueError: empty ``texts`` or a text longer than ``length``; TypeError: a non-string.

    Example:
      >>> from socialign import llm_bridge
      >>> toks, mask = llm_bridge.encode_batch(llm_bridge.ByteTokenizer(), ["a", "abc"])
      >>> toks.shape, mask[0].tolist()
      ((2, 4), [False, False, True, True])
    """
    if isinstance(texts, str) or not len(texts):
        raise ValueError("texts must be a non-empty sequence of strings")
    enc = [tokenizer.encode(t, add_bos=add_bos) for t in texts]
    L = max(len(e) for e in enc)
    if length is not None:
        if L > length:
            raise ValueError(f"a prompt has {L} tokens, more than length={length}")
        L = length
    toks = np.full((len(enc), L), tokenizer.pad_id, np.int32)
    mask = np.zeros((len(enc), L), bool)
    for i, e in enumerate(enc):
        if e:
            toks[i, L - len(e):] = e
            mask[i, L - len(e):] = True
    return toks, mask
