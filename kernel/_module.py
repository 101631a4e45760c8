"""Immutable pytree dataclasses: the one way socialign declares games, solvers and results.

Every numeric field is a pytree leaf (so it can be traced, ``vmap``-ed and differentiated, and a
new value does not recompile); only fields that fix shapes or select code paths are static,
declared with :func:`static_field`. Unflattening bypasses ``__init__`` (as equinox does), so
boundary checks written in ``__init__``/``__post_init__`` run on user input only, never on the
tracers and placeholders JAX passes around inside transformations.
"""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["pytree_dataclass", "static_field"]


def static_field(**kwargs):
    """A dataclass field that is static (part of the tree structure, hashed by the jit cache).

    Use it only for what fixes shapes or selects code (sizes, method names, flags); numbers that
    a user may want to ``vmap`` or differentiate over must stay ordinary (leaf) fields.

    Example:
      >>> from socialign.kernel import pytree_dataclass, static_field
      >>> @pytree_dataclass
      ... class Step:
      ...     learning_rate: float = 0.1
      ...     num_layers: int = static_field(default=2)
      >>> import jax
      >>> jax.tree_util.tree_leaves(Step())
      [0.1]
    """
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls=None, *, init: bool = True):
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields declared with :func:`static_field` go to the tree structure; all others are leaves.
    ``init=False`` keeps a hand-written ``__init__`` (which must set every field with
    ``object.__setattr__``).

    Raises:
      TypeError: if ``cls`` is not a class.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.kernel import pytree_dataclass
      >>> @pytree_dataclass
      ... class Temperature:
      ...     value: float = 1.0
      >>> jax.jit(lambda t: t.value * 2)(Temperature(3.0)).item()
      6.0
    """

    def wrap(cls):
        if not isinstance(cls, type):
            raise TypeError(f"pytree_dataclass decorates a class, got {type(cls).__name__}")
        cls = dataclasses.dataclass(frozen=True, init=init)(cls)
        fields = [f for f in dataclasses.fields(cls) if f.init or not init]
        data = tuple(f.name for f in fields if not f.metadata.get("static", False))
        meta = tuple(f.name for f in fields if f.metadata.get("static", False))

        def flatten_with_keys(obj):
            children = [(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in data]
            return children, tuple(getattr(obj, n) for n in meta)

        def unflatten(aux, children):
            obj = object.__new__(cls)
            for n, v in zip(meta, aux):
                object.__setattr__(obj, n, v)
            for n, v in zip(data, children):
                object.__setattr__(obj, n, v)
            return obj

        jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten)
        return cls

    return wrap if cls is None else wrap(cls)
