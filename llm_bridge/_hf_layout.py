"""The HF transformers ``LlamaForCausalLM`` weight layout of :class:`Llama`.

Tensor names follow HF transformers (``model.embed_tokens.weight``,
``model.layers.{i}.self_attn.q_proj.weight`` stored ``[out, in]``, ``model.norm.weight``, ...),
so weights move between :class:`Llama` and any HF-named source: safetensors files
(:func:`load_safetensors`) and GGUF files once renamed (:func:`load_gguf`). The output projection
is tied to the embeddings; a checkpoint's ``lm_head.weight`` is accepted only if it equals them.

Example:
  >>> from flax import nnx
  >>> from socialign import llm_bridge
  >>> m = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> sd = llm_bridge.hf_state_dict(m)
  >>> sd["model.layers.0.self_attn.q_proj.weight"].shape   # [out, in]
  (64, 64)
  >>> llm_bridge.assign_hf_state_dict(m, sd)   # checks names and shapes, then copies
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._model import Llama

__all__ = ["hf_state_dict", "assign_hf_state_dict"]


def _hf_name(path) -> tuple[str, bool]:
    """HF name of the parameter at an nnx state ``path`` and whether it is stored transposed."""
    keys = [str(p) for p in path]
    if keys[-1] == "kernel":
        return ".".join(["model", *keys[:-1], "weight"]), True
    if keys[-1] == "embedding":
        return "model." + ".".join(keys[:-1]) + ".weight", False
    return "model." + ".".join(keys), False


def hf_state_dict(model: Llama) -> dict:
    """The model's weights as ``{HF name: numpy array}``.

    Linear weights are ``[out, in]`` (C-contiguous, as other writers expect), the embedding
    ``[vocab, dim]``, norms ``[dim]``; dtype as stored in the model (float32 by default).

    Args:
      model: a :class:`Llama`.

    Returns:
      ``dict[str, numpy.ndarray]`` with one entry per parameter (no ``lm_head.weight``: tied).

    Raises:
      TypeError: ``model`` is not a :class:`Llama`.

    Example:
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> m = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> llm_bridge.hf_state_dict(m)["model.embed_tokens.weight"].shape
      (260, 64)
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    out = {}
    for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        name, transpose = _hf_name(path)
        a = np.asarray(v[...] if hasattr(v, "__getitem__") else v.value)
        out[name] = np.ascontiguousarray(a.T) if transpose else a
    return out


def assign_hf_state_dict(model: Llama, tensors: dict, *, source: str = "checkpoint") -> None:
    """Copy ``{HF name: array}`` into ``model`` in place (as float32).

    Args:
      model: the :class:`Llama` to fill; its config fixes the expected names and shapes.
      tensors: ``{HF name: array-like}`` (any float dtype, e.g. bfloat16), linear weights
        ``[out, in]``; an ``lm_head.weight`` equal to the embeddings is dropped (tied).
      source: how error messages name where the tensors come from.

    Raises:
      TypeError: ``model`` is not a :class:`Llama` or ``tensors`` is not a mapping.
      ValueError: missing or unexpected names, a tensor of the wrong shape (the message names
        it and the shape the config needs), or an untied ``lm_head.weight``.

    Example:
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> a = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> b = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(1))
      >>> llm_bridge.assign_hf_state_dict(b, llm_bridge.hf_state_dict(a))
      >>> bool((b.norm.weight[...] == a.norm.weight[...]).all())
      True
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    if not hasattr(tensors, "keys"):
        raise TypeError(f"tensors must be a mapping of names to arrays, got "
                        f"{type(tensors).__name__}")
    tensors = dict(tensors)
    if _tied(tensors):
        tensors.pop("lm_head.weight")
    expected = hf_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{source} does not match the model config {model.config.name!r}: "
                         f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                         f"unexpected {extra[:4]}{'...' if len(extra) > 4 else ''}")
    flat = []
    for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        name, transpose = _hf_name(path)
        a = np.asarray(tensors[name], np.float32)
        a = a.T if transpose else a
        if a.shape != tuple(v.shape):
            want = tuple(v.shape)[::-1] if transpose else tuple(v.shape)
            raise ValueError(f"{source}: tensor {name!r} has shape "
                             f"{a.shape[::-1] if transpose else a.shape}, the model config "
                             f"{model.config.name!r} needs {want}")
        flat.append((path, jnp.asarray(a)))
    nnx.update(model, nnx.from_flat_state(flat))


def _tied(tensors) -> bool:
    if "lm_head.weight" not in tensors:
        return False
    e = tensors.get("model.embed_tokens.weight")
    if e is None:
        return False
    if not np.array_equal(np.asarray(e, np.float32), np.asarray(tensors["lm_head.weight"],
                                                                np.float32)):
        raise ValueError("checkpoint has an untied lm_head.weight; llm_bridge.Llama ties the "
                         "output projection to the embeddings")
    return True
