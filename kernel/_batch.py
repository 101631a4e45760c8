"""The one batching rule: any number of leading batch axes, flattened in one place.

A batched problem is a pytree whose every leaf starts with the same ``batch_shape``. The rule:
flatten those axes into one, ``vmap`` the single-problem function over it (or, with
``batch_size``, ``lax.map`` over chunks of that many problems, each chunk ``vmap``-ed), and give
every output leaf the ``batch_shape`` back. Results are identical either way. With ``mesh``, the
flattened axis is first split over the devices of a mesh (:func:`socialign.kernel.shard_batch`)
and each device applies the same rule to its shard.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._shard import shard_batch

__all__ = ["batch_map", "check_batch_size"]


def check_batch_size(batch_size) -> int | None:
    """Validate a ``batch_size`` argument (``None`` or a positive int).

    Raises:
      ValueError: if it is neither.

    Example:
      >>> from socialign.kernel import check_batch_size
      >>> check_batch_size(256)
      256
    """
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be None or a positive int, got {batch_size!r}")
    return int(batch_size)


def batch_map(fn, batched, *, batch_shape: tuple[int, ...], batch_size: int | None = None,
              mesh=None):
    """Apply ``fn`` to every problem of a batch.

    Args:
      fn: a function of one unbatched pytree (the same structure as ``batched`` without the batch
        axes) returning a pytree of arrays.
      batched: a pytree whose leaves all start with ``batch_shape``.
      batch_shape: the leading batch axes (static); ``()`` calls ``fn`` once (on one device,
        whatever ``mesh``).
      batch_size: solve in chunks of this many problems (``lax.map(..., batch_size=)``): on CPUs
        a chunk whose working set fits in cache is faster; ``None`` ``vmap``-s everything.
        Leaves with a zero-size axis (inputs or outputs) are allowed either way.
      mesh: ``None`` (one device), or a :class:`jax.sharding.Mesh` or a sequence of devices:
        split the batch over them with :func:`socialign.kernel.shard_batch` (each device runs
        its own loop on its shard; ``batch_size`` then chunks each shard).

    Returns:
      ``fn``'s output with ``batch_shape`` prepended to every leaf.

    Raises:
      ValueError: if a leaf does not start with ``batch_shape``.
      TypeError: if ``mesh`` is not a mesh or a sequence of devices.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.kernel import batch_map
      >>> batch_map(lambda x: x.sum(), jnp.ones((2, 3, 4)), batch_shape=(2, 3)).shape
      (2, 3)
    """
    batch_shape = tuple(batch_shape)
    if not batch_shape:
        return fn(batched)
    if mesh is not None:
        def per_device(shard):
            local = jax.tree_util.tree_leaves(shard)[0].shape[:1]
            return batch_map(fn, shard, batch_shape=local, batch_size=batch_size)

        return shard_batch(per_device, batched, batch_shape=batch_shape, mesh=mesh)
    nb = len(batch_shape)
    for leaf in jax.tree_util.tree_leaves(batched):
        if tuple(leaf.shape[:nb]) != batch_shape:
            raise ValueError(f"every array of a batch must start with the batch shape "
                             f"{batch_shape}; got one of shape {tuple(leaf.shape)}")
    size = math.prod(batch_shape)
    flat = jax.tree_util.tree_map(lambda x: x.reshape(size, *x.shape[nb:]), batched)
    if batch_size is None or batch_size >= size:
        out = jax.vmap(fn)(flat)
    else:
        out = _chunked(fn, flat, size, batch_size)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch_shape, *x.shape[1:]), out)


def _chunked(fn, flat, size, batch_size):
    """``lax.map(fn, flat, batch_size=)``, with the leaves that hold no numbers (a zero-size
    axis, e.g. the multipliers of an LP without equality rows) kept out of the map, whose
    reshapes into chunks cannot take them, and rebuilt as zeros."""
    leaves, tree = jax.tree_util.tree_flatten(flat)
    empty = [x.size == 0 for x in leaves]
    if all(empty):
        return jax.vmap(fn)(flat)

    def member(kept):
        it = iter(kept)
        return jax.tree_util.tree_unflatten(
            tree, [jnp.zeros(x.shape[1:], x.dtype) if e else next(it)
                   for x, e in zip(leaves, empty)])

    kept = [x for x, e in zip(leaves, empty) if not e]
    shapes = jax.eval_shape(lambda k: fn(member(k)), [x[0] for x in kept])
    shape_leaves, out_tree = jax.tree_util.tree_flatten(shapes)
    out_empty = [math.prod(s.shape) == 0 for s in shape_leaves]

    def full(k):
        out = jax.tree_util.tree_leaves(fn(member(k)))
        return [o for o, e in zip(out, out_empty) if not e]

    res = iter(jax.lax.map(full, kept, batch_size=batch_size))
    return jax.tree_util.tree_unflatten(
        out_tree, [jnp.zeros((size, *s.shape), s.dtype) if e else next(res)
                   for s, e in zip(shape_leaves, out_empty)])
