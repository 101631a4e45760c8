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
    """True when every leaf of ``x`` holds values (no tracer from ``jit``/``vmap``/``grad``).

    Example:
      >>> import jax
      >>> from socialign.kernel import is_concrete
      >>> is_concrete(1.0), bool(jax.jit(lambda x: is_concrete(x))(1.0))
      (True, False)
    """
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def as_float_array(x, name: str, *, dtype=None) -> jax.Array:
    """Convert ``x`` to a floating JAX array (integers and bools become the default float).

    Args:
      x: an array-like of real numbers, or a tracer.
      name: the argument's name, used in the error message.
      dtype: the floating dtype to convert to (default: keep a floating dtype).

    Raises:
      TypeError: if ``x`` is ``None``, ragged, complex or not numeric.

    Example:
      >>> from socialign.kernel import as_float_array
      >>> as_float_array([1, 2], "payoffs").dtype.kind
      'f'
    """
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
    """Raise ``ValueError`` naming ``name`` if a concrete ``x`` holds NaN or inf.

    Traced values pass (their numbers are left to the ``result`` codes).

    Raises:
      ValueError: if ``x`` is concrete and not finite.

    Example:
      >>> from socialign.kernel import check_finite
      >>> check_finite([1.0, float("nan")], "payoffs")
      Traceback (most recent call last):
      ...
      ValueError: payoffs must be finite; it holds 1 NaN or inf value(s)
    """
    if is_concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(np.asarray(x))))
        raise ValueError(f"{name} must be finite; it holds {bad} NaN or inf value(s)")


def check_simplex(x, name: str, *, atol: float = 1e-6) -> None:
    """Raise ``ValueError`` if a concrete ``x`` is not a probability vector along its last axis.

    Args:
      x: ``[..., k]`` array; each last-axis slice must be non-negative and sum to 1.
      name: the argument's name, used in the error message.
      atol: tolerance on negativity and on the sum (scaled by ``k``).

    Raises:
      ValueError: if ``x`` is not finite, empty, negative or does not sum to 1.

    Example:
      >>> from socialign.kernel import check_simplex
      >>> check_simplex([0.5, 0.6], "prior")
      Traceback (most recent call last):
      ...
      ValueError: prior must sum to 1 along its last axis (sums range over [1.1, 1.1])
    """
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
    """Return ``x`` as an ``int`` if it is a positive Python/numpy integer (not a bool).

    Raises:
      ValueError: otherwise, naming ``name``.

    Example:
      >>> from socialign.kernel import check_positive_int
      >>> check_positive_int(0, "max_steps")
      Traceback (most recent call last):
      ...
      ValueError: max_steps must be a positive int, got 0
    """
    if isinstance(x, bool) or not isinstance(x, int | np.integer) or x <= 0:
        raise ValueError(f"{name} must be a positive int, got {x!r}")
    return int(x)


def check_positive_scalar(x, name: str, *, allow_zero: bool = False) -> None:
    """Check that a concrete ``x`` is a finite real number ``> 0`` (``>= 0`` with ``allow_zero``).

    Traced values pass unchecked.

    Raises:
      TypeError: if ``x`` is not a real scalar.
      ValueError: if it is not finite or out of range.

    Example:
      >>> from socialign.kernel import check_positive_scalar
      >>> check_positive_scalar(-1.0, "temperature")
      Traceback (most recent call last):
      ...
      ValueError: temperature must be a finite number > 0, got -1.0
    """
    if not is_concrete(x):
        return
    # a bool or a string is not a number, although numpy converts both (True -> 1.0)
    dt = np.asarray(x).dtype
    if isinstance(x, bool | str | bytes) or not (
            np.issubdtype(dt, np.integer) or jnp.issubdtype(dt, jnp.floating)):
        raise TypeError(f"{name} must be a real scalar, got {x!r}")
    try:
        v = float(np.asarray(x))
    except Exception:
        raise TypeError(f"{name} must be a real scalar, got {x!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {v!r}")
