"""HF-style safetensors checkpoints of :class:`Llama`, through the ``safetensors`` package.

Reading and writing the format (https://github.com/huggingface/safetensors) is done by the
reference package (``safetensors.numpy``, a dependency of the ``lm`` extra, imported only when
these functions are called); this module maps its tensors to and from the HF transformers
``LlamaForCausalLM`` names of :func:`hf_state_dict`, so a user's local HF Llama-family
checkpoint (float32, float16 or bfloat16) loads with :func:`load_safetensors` given its
:class:`LlamaConfig`, and our files load in HF transformers.

Example:
  >>> import tempfile, os
  >>> from flax import nnx
  >>> from socialign import llm_bridge
  >>> m = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
  >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
  >>> llm_bridge.save_safetensors(m, path)
  >>> m2 = llm_bridge.load_safetensors(path)   # config read back from the file's metadata
  >>> m2.config == m.config
  True
"""

from __future__ import annotations

import json
import os

from flax import nnx

from ._hf_layout import assign_hf_state_dict, hf_state_dict
from ._model import Llama, LlamaConfig

__all__ = ["save_safetensors", "load_safetensors"]


def _safetensors():
    """The ``safetensors`` package (imported on first use), or a clear ImportError."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as e:
        raise ImportError("HF safetensors checkpoints need the `safetensors` package: "
                          "pip install 'socialign[lm]' (the `lm` extra)") from e
    return safetensors


def save_safetensors(model: Llama, path) -> None:
    """Save ``model`` as HF-named float32 safetensors; its config goes into the metadata.

    The file is written to a temporary name and renamed, so an interrupted save never leaves a
    half-written checkpoint at ``path``.

    Args:
      model: a :class:`Llama`.
      path: destination file (str or path-like).

    Raises:
      TypeError: ``model`` is not a :class:`Llama`.
      ImportError: the ``safetensors`` package (``lm`` extra) is not installed.

    Example:
      >>> import tempfile, os
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> m = llm_bridge.Llama(llm_bridge.LlamaConfig.tiny(), rngs=nnx.Rngs(0))
      >>> llm_bridge.save_safetensors(m, os.path.join(tempfile.mkdtemp(), "m.safetensors"))
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    path = os.fspath(path)
    st = _safetensors()
    meta = {"format": "pt", "llm_bridge_config": json.dumps(model.config.to_dict())}
    tmp = f"{path}.tmp{os.getpid()}"
    st.numpy.save_file(hf_state_dict(model), tmp, metadata=meta)
    os.replace(tmp, path)


def load_safetensors(path, config: LlamaConfig | None = None, *, seed: int = 0) -> Llama:
    """Build a :class:`Llama` from an HF-style safetensors file (weights cast to float32).

    Args:
      path: the ``.safetensors`` file.
      config: the model's :class:`LlamaConfig`; defaults to the one stored by
        :func:`save_safetensors` (for a file written by HF transformers pass the matching one).
      seed: seed of the initialisation that the file's weights then overwrite.

    Returns:
      the :class:`Llama`.

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: not a safetensors file; no stored config and ``config`` not given; tensor
        names or shapes that do not fit the config (the message names the tensor).
      TypeError: ``config`` is not a :class:`LlamaConfig`.
      ImportError: the ``safetensors`` package (``lm`` extra) is not installed.

    Example:
      >>> import tempfile, os
      >>> from flax import nnx
      >>> from socialign import llm_bridge
      >>> cfg = llm_bridge.LlamaConfig.tiny()
      >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
      >>> llm_bridge.save_safetensors(llm_bridge.Llama(cfg, rngs=nnx.Rngs(0)), path)
      >>> llm_bridge.load_safetensors(path, cfg).config.name
      'tiny'
    """
    path = os.fspath(path)
    if config is not None and not isinstance(config, LlamaConfig):
        raise TypeError(f"config must be a LlamaConfig or None, got {type(config).__name__}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no safetensors file at {path!r}")
    st = _safetensors()
    try:
        tensors = st.numpy.load_file(path)
        with st.safe_open(path, framework="np") as f:
            meta = f.metadata() or {}
    except st.SafetensorError as e:
        raise ValueError(f"{path!r} is not a safetensors file ({e})") from e
    if config is None:
        if "llm_bridge_config" not in meta:
            raise ValueError(f"{path!r} has no stored llm_bridge config; pass config=")
        config = LlamaConfig(**json.loads(meta["llm_bridge_config"]))
    model = Llama(config, rngs=nnx.Rngs(seed))
    assign_hf_state_dict(model, tensors, source=f"safetensors file {path!r}")
    return model
