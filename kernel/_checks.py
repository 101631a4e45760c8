"""Boundary checks shared by every public function: clear errors, raised before compilation.

The checks only run on concrete values; inside a user's ``jit`` (traced values) they check what
is static (shapes, ranks) and leave the numbers to the ``result`` codes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "is_concrete",
    "as_float_array",
    "check_finite",
    "check_simplex",
    "check_positive_int",
    "check_positive_scalar",
]


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``/``grad``)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def as_float_array(x, name: str, *, dtype=None) -> jax.Array:
    """Convert to a floating JAX array, or raise ``TypeError`` naming ``name``."""
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(x, jax.core.Tracer):
        arr = x
    else:
        try:
            np_arr = np.asarray(x)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of numbers: {e}") from None
        if np_arr.dtype == object or not (
            np.issubdtype(np_arr.dtype, np.number) or np_arr.dtype == bool
        ):
            raise TypeError(f"{name} must be an array of numbers, got dtype {np_arr.dtype}")
        if np.iscomplexobj(np_arr):
            raise TypeError(f"{name} must be real, got a complex array")
        arr = x
    arr = jnp.asarray(arr)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    return arr


def check_finite(x, name: str) -> None:
    """Raise ``ValueError`` if a concrete ``x`` holds NaN or inf."""
    if is_concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(np.asarray(x))))
        raise ValueError(f"{name} must be finite; it holds {bad} NaN or inf value(s)")


def check_simplex(x, name: str, *, atol: float = 1e-6) -> None:
    """Raise ``ValueError`` if a concrete ``x`` is not a probability vector along its last axis."""
    check_finite(x, name)
    if not is_concrete(x):
        return
    a = np.asarray(x, dtype=np.float64)
    if a.shape[-1] == 0:
        raise ValueError(f"{name} must be non-empty")
    if np.any(a < -atol):
        raise ValueError(f"{name} must be non-negative (min entry {a.min():.3g})")
    s = a.sum(axis=-1)
    if np.any(np.abs(s - 1.0) > atol * max(1, a.shape[-1])):
        raise ValueError(
            f"{name} must sum to 1 along its last axis (sums range over "
            f"[{s.min():.6g}, {s.max():.6g}])"
        )


def check_positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer) or x <= 0:
        raise ValueError(f"{name} must be a positive int, got {x!r}")
    return int(x)


def check_positive_scalar(x, name: str, *, allow_zero: bool = False) -> None:
    if not is_concrete(x):
        return
    try:
        v = float(np.asarray(x))
    except Exception:
        raise TypeError(f"{name} must be a real scalar, got {x!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {v!r}")
