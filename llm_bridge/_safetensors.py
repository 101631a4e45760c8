"""HF-style safetensors checkpoints, read and written directly (no ``safetensors`` package).

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length
``N``, ``N`` bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}`` (space-padded to a multiple of 8), then the raw little-endian
tensor bytes. Tensor names follow HF transformers' ``LlamaForCausalLM``
(``model.layers.{i}.self_attn.q_proj.weight`` stored ``[out, in]``, ...), so a user's local HF
Llama-family checkpoint loads with :func:`load_safetensors` given its :class:`LlamaConfig`.

Example:
  >>> import tempfile, os
  >>> from flax import nnx
  >>> from socialign.llm_bridge import Llama, LlamaConfig, save_safetensors, load_safetensors
  >>> m = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
  >>> save_safetensors(m, path)
  >>> m2 = load_safetensors(path)   # config read back from the file's metadata
  >>> m2.config == m.config
  True
"""

from __future__ import annotations

import json
import os
import struct

import jax.numpy as jnp
import ml_dtypes
import numpy as np
from flax import nnx

from ._model import Llama, LlamaConfig

__all__ = ["read_safetensors", "write_safetensors", "save_safetensors", "load_safetensors",
           "hf_state_dict", "assign_hf_state_dict"]

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
           "BF16": ml_dtypes.bfloat16, "I64": np.int64, "I32": np.int32, "I16": np.int16,
           "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write ``{name: array}`` (numpy-convertible) to ``path`` atomically (tmp file + rename)."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name]))
        if a.dtype not in _NAMES:
            raise ValueError(f"tensor {name!r} has unsupported dtype {a.dtype}")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path) -> tuple[dict, dict]:
    """Read ``path``; returns ``({name: numpy array}, metadata dict)``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no safetensors file at {path!r}")
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path!r} is not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path!r} is not a safetensors file (header length {n} too large)")
    try:
        header = json.loads(raw[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r} is not a safetensors file (bad JSON header)") from e
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"tensor {name!r} has unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data[b:e], dtype=dt)
        if arr.size != int(np.prod(info["shape"], dtype=np.int64)):
            raise ValueError(f"tensor {name!r}: {arr.size} values for shape {info['shape']}")
        out[name] = arr.reshape(info["shape"]).copy()
    return out, meta


def hf_state_dict(model: Llama) -> dict:
    """The model's weights as ``{HF name: numpy array}`` (linear weights ``[out, in]``)."""
    out = {}
    for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        keys = [str(p) for p in path]
        a = np.asarray(v[...] if hasattr(v, "__getitem__") else v.value)
        if keys[-1] == "kernel":
            name = ".".join(["model", *keys[:-1], "weight"])
            a = np.ascontiguousarray(a.T)  # other writers may ignore strides
        elif keys[-1] == "embedding":
            name = "model." + ".".join(keys[:-1]) + ".weight"
        else:
            name = "model." + ".".join(keys)
        out[name] = a
    return out


def assign_hf_state_dict(model: Llama, tensors: dict, *, source: str = "checkpoint") -> None:
    """Copy ``{HF name: array}`` into ``model`` (checks names and shapes; float32)."""
    tensors = dict(tensors)
    tensors.pop("lm_head.weight", None) if _tied(tensors) else None
    expected = hf_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{source} does not match the model config {model.config.name!r}: "
                         f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                         f"unexpected {extra[:4]}{'...' if len(extra) > 4 else ''}")
    state = nnx.state(model, nnx.Param)
    flat = []
    for path, v in nnx.to_flat_state(state):
        keys = [str(p) for p in path]
        if keys[-1] == "kernel":
            name, transpose = ".".join(["model", *keys[:-1], "weight"]), True
        elif keys[-1] == "embedding":
            name, transpose = "model." + ".".join(keys[:-1]) + ".weight", False
        else:
            name, transpose = "model." + ".".join(keys), False
        a = np.asarray(tensors[name], np.float32)
        a = a.T if transpose else a
        if a.shape != tuple(v.shape):
            raise ValueError(f"{source}: tensor {name!r} has shape {a.shape[::-1] if transpose else a.shape}, "
                             f"the model config {model.config.name!r} needs "
                             f"{tuple(v.shape)[::-1] if transpose else tuple(v.shape)}")
        flat.append((path, jnp.asarray(a)))
    new = nnx.from_flat_state(flat)
    nnx.update(model, new)


def _tied(tensors) -> bool:
    if "lm_head.weight" not in tensors:
        return False
    e = tensors.get("model.embed_tokens.weight")
    if e is None:
        return False
    if not np.array_equal(np.asarray(e), np.asarray(tensors["lm_head.weight"])):
        raise ValueError("checkpoint has an untied lm_head.weight; llm_bridge.Llama ties the "
                         "output projection to the embeddings")
    return True


def save_safetensors(model: Llama, path) -> None:
    """Save ``model`` as HF-named float32 safetensors; its config goes into the metadata."""
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    write_safetensors(path, hf_state_dict(model),
                      {"format": "pt", "llm_bridge_config": json.dumps(model.config.to_dict())})


def load_safetensors(path, config: LlamaConfig | None = None, *, seed: int = 0) -> Llama:
    """Build a :class:`Llama` from an HF-style safetensors file.

    ``config`` defaults to the one stored by :func:`save_safetensors`; for a file written by HF
    transformers pass the matching :class:`LlamaConfig`. Wrong names or shapes raise ValueError.
    """
    tensors, meta = read_safetensors(path)
    if config is None:
        if "llm_bridge_config" not in meta:
            raise ValueError(f"{path!r} has no stored llm_bridge config; pass config=")
        config = LlamaConfig(**json.loads(meta["llm_bridge_config"]))
    model = Llama(config, rngs=nnx.Rngs(seed))
    assign_hf_state_dict(model, tensors, source=f"safetensors file {path!r}")
    return model
