"""Orbax checkpointing of a training state (model, optimiser, RNG key, step) with its config.

Each checkpoint holds two items in an ``orbax.checkpoint.CheckpointManager`` step directory:
``state`` (the array pytree, saved with ``StandardSave``) and ``meta`` (JSON: the model config
and the training config). Orbax writes a step to a temporary directory and renames it when
complete, so a run that dies while saving never damages the previous step, and callers save only
after a finite update: a failed run never replaces the last good checkpoint.
Restoring into a model of another config raises ValueError before any array is read.

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
import orbax.checkpoint as ocp

__all__ = ["checkpoint_manager", "save_checkpoint", "restore_checkpoint"]


def checkpoint_manager(directory, *, max_to_keep: int = 3) -> ocp.CheckpointManager:
    """A ``CheckpointManager`` over ``directory`` (created if missing) with items state/meta."""
    directory = os.path.abspath(os.fspath(directory))
    opts = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                        enable_async_checkpointing=False)
    return ocp.CheckpointManager(directory, options=opts, item_names=("state", "meta"))


def save_checkpoint(manager: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
    """Save ``state`` (a pytree of arrays) and ``meta`` (JSON-able) as ``step``; blocks."""
    leaves = jax.tree_util.tree_leaves(state)
    for x in leaves:
        if hasattr(x, "dtype") and jax.numpy.issubdtype(x.dtype, jax.numpy.floating) and \
                not bool(jax.numpy.all(jax.numpy.isfinite(x))):
            raise FloatingPointError("refusing to checkpoint a state with non-finite values")
    manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                    meta=ocp.args.JsonSave(meta)))
    manager.wait_until_finished()


def restore_checkpoint(manager: ocp.CheckpointManager, target, meta: dict, step=None):
    """Restore the latest (or given) step into the structure of ``target``.

    ``meta["model"]`` must equal the saved one (same model config), else ValueError.
    Returns ``(step, state, saved_meta)``; ``(None, None, None)`` when there is no checkpoint.
    """
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
