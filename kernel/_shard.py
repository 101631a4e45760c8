"""Many devices: a batch split over a device mesh, each device looping on its own shard.

The one batching rule (:func:`socialign.kernel.batch_map`) takes ``mesh=``; it and every entry
function that passes ``mesh=`` through (``solvers.solve``, ``solvers.linprog``,
``mechanisms.design``) come here. The rule:

* the batch axes are flattened into one, and that axis is split over *all* the axes of the mesh
  (``PartitionSpec((*mesh.axis_names,))``): a 1-D mesh of 8 devices gives 8 shards, a 2-D
  ``(hosts, local)`` mesh gives ``hosts * local`` shards;
* the function runs under :func:`jax.shard_map`: each device runs its own compiled program on
  its own shard, so a device's ``lax.while_loop`` stops when *its* problems have converged.
  (A plain ``jit`` over a sharded batch lets XLA partition the ``vmap``-ed loop, and every
  device then runs to the step count of the slowest problem of the whole batch.)
* a batch whose size is not a multiple of the number of devices is padded with copies of its
  first problem and the padding is stripped from the answer. JAX has no uneven shardings, so
  such an answer comes back *replicated* (every device holds all of it); a multiple of the
  device count comes back sharded over the mesh like the input.
* meshes with ``AxisType.Auto`` axes (``jax.sharding.Mesh``'s default) and ``AxisType.Explicit``
  axes (``jax.make_mesh``'s default in JAX 0.10) both work: for an explicit mesh the batch is
  ``jax.reshard``-ed onto the mesh before the ``shard_map`` (under explicit sharding a
  ``shard_map`` does not reshard its inputs) and an answer to strip is resharded to replicated
  first (explicit sharding cannot slice a sharded axis to a size the mesh does not divide).

Several processes (``jax.distributed.initialize``, one per host) work the same way: build the
mesh from ``jax.devices()`` (every process's devices), give every process the same inputs, and
every process gets a global ``jax.Array`` holding its own devices' shards.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

__all__ = ["as_mesh", "batch_sharding", "gather", "shard_batch"]

#: the axis name of the 1-D mesh that :func:`as_mesh` builds from a list of devices
BATCH_AXIS = "batch"


def as_mesh(mesh, name: str = "mesh") -> Mesh | None:
    """Validate a ``mesh=`` argument: ``None``, a :class:`jax.sharding.Mesh`, or devices.

    A sequence of devices (e.g. ``jax.devices()``, or ``jax.devices()[:4]``) becomes a 1-D mesh
    whose one axis is named ``"batch"`` (``AxisType.Auto``).

    Returns:
      ``None`` or a ``Mesh`` (hashable: entry functions pass it to ``jax.jit`` as static).

    Raises:
      TypeError: if ``mesh`` is none of these, naming ``name``.
      ValueError: if it is an empty sequence.

    Example:
      >>> import jax
      >>> from socialign.kernel import as_mesh
      >>> m = as_mesh(jax.devices()[:1])
      >>> m.axis_names, m.size
      (('batch',), 1)
    """
    if mesh is None or isinstance(mesh, Mesh):
        return mesh
    if isinstance(mesh, str | bytes) or not hasattr(mesh, "__len__"):
        raise TypeError(f"{name} must be None, a jax.sharding.Mesh or a sequence of devices "
                        f"(e.g. jax.devices()), got {type(mesh).__name__}")
    devices = list(mesh)
    if not devices:
        raise ValueError(f"{name} must hold at least one device")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"{name} must be None, a jax.sharding.Mesh or a sequence of "
                        f"jax.Device (e.g. jax.devices()); got a sequence holding "
                        f"{sorted({type(d).__name__ for d in devices})}")
    return Mesh(np.array(devices), (BATCH_AXIS,), axis_types=(AxisType.Auto,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The sharding of a batch on ``mesh``: the leading axis split over every mesh axis.

    Put a batch there ahead of time (``jax.device_put(x, batch_sharding(mesh))``) and the entry
    functions take it without moving it.

    Raises:
      TypeError: if ``mesh`` is not a mesh or a sequence of devices.

    Example:
      >>> import jax
      >>> from socialign.kernel import as_mesh, batch_sharding
      >>> batch_sharding(as_mesh(jax.devices()[:1])).spec
      P('batch',)
    """
    mesh = as_mesh(mesh)
    if mesh is None:
        raise TypeError("mesh must be a jax.sharding.Mesh or a sequence of devices, not None")
    return NamedSharding(mesh, _spec(mesh))


def gather(tree):
    """Every leaf whole on every process: a no-op unless a leaf spans other processes' devices.

    With several processes (``jax.distributed``) an answer sharded over ``jax.devices()`` holds
    only this process's shards; reading it (``np.asarray``) fails. ``gather`` all-gathers such
    leaves (``multihost_utils.process_allgather``) into NumPy arrays of the global shape; leaves
    this process holds entirely, and traced values, are returned unchanged. Every process must
    call it (it is a collective).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.kernel import gather
      >>> gather({"x": jnp.arange(3)})["x"].tolist()
      [0, 1, 2]
    """

    def one(x):
        if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and \
                not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return multihost_utils.process_allgather(x, tiled=True)
        return x

    return jax.tree_util.tree_map(one, tree)


def _spec(mesh: Mesh) -> PartitionSpec:
    names = tuple(mesh.axis_names)
    return PartitionSpec(names[0] if len(names) == 1 else names)


def _explicit(mesh: Mesh) -> bool:
    return any(t == AxisType.Explicit for t in getattr(mesh, "axis_types", ()))


def shard_batch(fn, batched, *, batch_shape: tuple[int, ...], mesh):
    """Apply a *batched* function to a batch split over the devices of ``mesh``.

    ``fn`` takes a pytree whose leaves start with one batch axis (a device's shard, of size
    ``ceil(prod(batch_shape) / mesh.size)``) and returns a pytree whose leaves all start with
    that same axis. It runs once per device under :func:`jax.shard_map`, so loops inside it stop
    per device. Padding, the non-divisible case and explicit meshes: see the module docstring.
    Call it inside ``jax.jit`` (every entry function does); it also runs eagerly.

    Args:
      fn: a function of one shard (leading axis: the shard's problems).
      batched: a pytree whose leaves all start with ``batch_shape``.
      batch_shape: the leading batch axes (static); ``()`` calls ``fn`` on a batch of one.
      mesh: a :class:`jax.sharding.Mesh` or a sequence of devices (see :func:`as_mesh`).

    Returns:
      ``fn``'s output with ``batch_shape`` in place of the shard axis: sharded over the mesh
      when ``prod(batch_shape)`` is a multiple of ``mesh.size``, replicated otherwise.

    Raises:
      TypeError: if ``mesh`` is not a mesh or a sequence of devices.
      ValueError: if a leaf of ``batched`` does not start with ``batch_shape``, or a leaf of
        ``fn``'s output does not start with the shard axis.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import shard_batch
      >>> out = shard_batch(lambda x: x.sum(-1), jnp.ones((6, 3)), batch_shape=(6,),
      ...                   mesh=jax.devices()[:1])
      >>> out.shape, float(out[0])
      ((6,), 3.0)
    """
    mesh = as_mesh(mesh)
    if mesh is None:
        raise TypeError("mesh must be a jax.sharding.Mesh or a sequence of devices, not None")
    batch_shape = tuple(batch_shape)
    nb = len(batch_shape)
    for leaf in jax.tree_util.tree_leaves(batched):
        if tuple(leaf.shape[:nb]) != batch_shape:
            raise ValueError(f"every array of a batch must start with the batch shape "
                             f"{batch_shape}; got one of shape {tuple(leaf.shape)}")
    size = math.prod(batch_shape)
    ndev = mesh.size
    padded = -(-size // ndev) * ndev
    local = padded // ndev

    def flat_pad(x):
        x = x.reshape(size, *x.shape[nb:])
        if padded > size:
            x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (padded - size, *x.shape[1:]))])
        return x

    flat = jax.tree_util.tree_map(flat_pad, batched)
    spec = _spec(mesh)
    if _explicit(mesh):
        flat = jax.tree_util.tree_map(lambda x: jax.reshard(x, NamedSharding(mesh, spec)), flat)

    local_in = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct((local, *x.shape[1:]), x.dtype), flat)
    for leaf in jax.tree_util.tree_leaves(jax.eval_shape(fn, local_in)):
        if leaf.shape[:1] != (local,):
            raise ValueError(f"every output of a sharded batch must start with the shard's "
                             f"batch axis ({local}); got one of shape {tuple(leaf.shape)}")
    out = jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(flat)

    def strip(x):
        if padded > size:
            if _explicit(mesh):
                x = jax.reshard(x, NamedSharding(mesh, PartitionSpec()))
            x = x[:size]
        return x.reshape(*batch_shape, *x.shape[1:])

    return jax.tree_util.tree_map(strip, out)
