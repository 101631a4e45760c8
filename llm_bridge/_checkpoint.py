"""Orbax checkpointing of a training state (model, optimiser, RNG key, step) with its config.

Each checkpoint holds two items in an ``orbax.checkpoint.CheckpointManager`` step directory:
``state`` (the array pytree, saved with ``StandardSave``) and ``meta`` (JSON: the model config
and the training config). Orbax writes a step to a temporary directory and renames it when
complete, so a run that dies while saving never damages the previous step, and callers save only
after a finite update: a failed run never replaces the last good checkpoint.
Restoring into a model of another config raises ValueError before any array is read.
``orbax.checkpoint`` is imported on first use (``import socialign.llm_bridge`` does not load it).

Example:
  >>> import tempfile, jax.numpy as jnp
  >>> from socialign.llm_bridge import save_checkpoint, restore_checkpoint, checkpoint_manager
  >>> d = tempfile.mkdtemp()
  >>> mgr = checkpoint_manager(d)
  >>> save_checkpoint(mgr, 3, {"w": jnp.ones(2)}, {"model": {"name": "x"}})
  >>> step, state, meta = restore_checkpoint(mgr, {"w": jnp.zeros(2)}, {"model": {"name": "x"}})
  >>> step, state["w"].tolist()
  (3, [1.0, 1.0])
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

__all__ = ["checkpoint_manager", "save_checkpoint", "restore_checkpoint"]


def _ocp():
    import orbax.checkpoint as ocp

    return ocp


def _check_manager(manager):
    if not isinstance(manager, _ocp().CheckpointManager):
        raise TypeError(f"manager must be an orbax CheckpointManager (from "
                        f"checkpoint_manager), got {type(manager).__name__}")


def checkpoint_manager(directory, *, max_to_keep: int = 3):
    """A synchronous ``orbax.checkpoint.CheckpointManager`` over ``directory`` (created if
    missing) with the items ``state`` and ``meta``.

    Args:
      directory: checkpoint directory (str or path-like).
      max_to_keep: how many latest steps to keep (>= 1).

    Returns:
      the ``CheckpointManager``.

    Raises:
      ValueError: ``max_to_keep`` not a positive int.

    Example:
      >>> import tempfile
      >>> from socialign import llm_bridge
      >>> llm_bridge.checkpoint_manager(tempfile.mkdtemp()).latest_step() is None
      True
    """
    if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
        raise ValueError(f"max_to_keep must be a positive int, got {max_to_keep!r}")
    ocp = _ocp()
    directory = os.path.abspath(os.fspath(directory))
    opts = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                        enable_async_checkpointing=False)
    return ocp.CheckpointManager(directory, options=opts, item_names=("state", "meta"))


def save_checkpoint(manager, step: int, state, meta: dict) -> None:
    """Save ``state`` (a pytree of arrays) and ``meta`` (JSON-able) as ``step``; blocks.

    Args:
      manager: from :func:`checkpoint_manager`.
      step: the step number (>= 0).
      state: pytree of arrays (e.g. params, optimiser state, key data, step).
      meta: JSON-able dict (by convention ``{"model": config dict, "train": config dict}``).

    Raises:
      TypeError: ``manager`` is not a ``CheckpointManager``; ValueError: a negative ``step``.
      FloatingPointError: a non-finite float in ``state`` (the last good step is kept).

    Example:
      >>> import tempfile, jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> mgr = llm_bridge.checkpoint_manager(tempfile.mkdtemp())
      >>> llm_bridge.save_checkpoint(mgr, 0, {"w": jnp.ones(2)}, {"model": {}})
      >>> mgr.latest_step()
      0
    """
    _check_manager(manager)
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    for x in jax.tree_util.tree_leaves(state):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating) and \
                not bool(jnp.all(jnp.isfinite(x))):
            raise FloatingPointError("refusing to checkpoint a state with non-finite values")
    ocp = _ocp()
    manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                    meta=ocp.args.JsonSave(meta)))
    manager.wait_until_finished()


def restore_checkpoint(manager, target, meta: dict, step=None):
    """Restore the latest (or given) step into the structure of ``target``.

    Args:
      manager: from :func:`checkpoint_manager`.
      target: a pytree with the shapes and dtypes of the saved ``state``.
      meta: the caller's meta; ``meta["model"]`` must equal the saved one (same model config).
      step: the step to restore (default: the latest).

    Returns:
      ``(step, state, saved_meta)``; ``(None, None, None)`` when there is no checkpoint.

    Raises:
      TypeError: ``manager`` is not a ``CheckpointManager``.
      ValueError: the checkpoint was written for another model config.

    Example:
      >>> import tempfile, jax.numpy as jnp
      >>> from socialign import llm_bridge
      >>> mgr = llm_bridge.checkpoint_manager(tempfile.mkdtemp())
      >>> llm_bridge.restore_checkpoint(mgr, {"w": jnp.zeros(2)}, {"model": {}})
      (None, None, None)
    """
    _check_manager(manager)
    ocp = _ocp()
    step = manager.latest_step() if step is None else step
    if step is None:
        return None, None, None
    saved = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    if saved.get("model") != meta.get("model"):
        raise ValueError(f"checkpoint at {manager.directory} step {step} was written for model "
                         f"config {saved.get('model')}, not {meta.get('model')}")
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
    out = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))
    return int(step), out["state"], saved
