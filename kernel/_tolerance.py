"""Tolerances as functions of the floating dtype: the one place where they are set.

A tolerance that suits float64 is unreachable in float32, and one that suits float32 throws away
digits that float64 has. Every solver and designer takes its defaults from here, so one change
of policy changes them all.

=========  ================  ============  ===============
dtype      ``default_tol``   ``lp_tol``    ``pivot_tol``
=========  ================  ============  ===============
float64    1e-6              1e-9          2.2e-13
float32    1.2e-4            9.5e-7        1.2e-4
=========  ================  ============  ===============

``default_tol`` is the default tolerance on a solver's certificate (NashConv, a duality gap, an
incentive violation); ``lp_tol`` the relative tolerance of the LP family on its primal, dual and
gap residuals; ``pivot_tol`` the smallest pivot element (relative to its column's scale) that a
pivoting method (simplex, dual simplex, Lemke-Howson) accepts. :func:`scale_of` gives the scale
that relative certificates divide by.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["default_tol", "eps", "lp_tol", "pivot_tol", "scale_of"]


def _float_dtype(dtype):
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return dtype


def eps(dtype) -> float:
    """Machine epsilon of a floating ``dtype`` (a Python float).

    Raises:
      TypeError: if ``dtype`` is not floating.

    Example:
      >>> from socialign.kernel import eps
      >>> eps("float32")
      1.1920928955078125e-07
    """
    return float(jnp.finfo(_float_dtype(dtype)).eps)


def default_tol(dtype) -> float:
    """Default tolerance on a certificate in ``dtype``: ``max(1e-6, 1e3 * eps)``.

    Raises:
      TypeError: if ``dtype`` is not floating.

    Example:
      >>> from socialign.kernel import default_tol
      >>> default_tol("float64"), round(default_tol("float32"), 7)
      (1e-06, 0.0001192)
    """
    return max(1e-6, 1e3 * eps(dtype))


def lp_tol(dtype) -> float:
    """Relative tolerance of the LP family in ``dtype``: ``max(1e-9, 8 * eps)``.

    Raises:
      TypeError: if ``dtype`` is not floating.

    Example:
      >>> from socialign.kernel import lp_tol
      >>> lp_tol("float64")
      1e-09
    """
    return max(1e-9, 8 * eps(dtype))


def pivot_tol(dtype) -> float:
    """Smallest relative pivot element a pivoting method accepts in ``dtype``: ``1e3 * eps``.

    Raises:
      TypeError: if ``dtype`` is not floating.

    Example:
      >>> from socialign.kernel import pivot_tol
      >>> pivot_tol("float64") < 1e-12
      True
    """
    return 1e3 * eps(dtype)


def scale_of(x, axis=None):
    """Scale of an array for relative certificates: ``max |x|`` over ``axis``, at least 1 tiny.

    The result is never zero (it is floored at the dtype's smallest normal number), so dividing
    a certificate by it is always safe. Works on traced values.

    Args:
      x: a floating array.
      axis: the axes to reduce (all by default), as in ``jnp.max``.

    Returns:
      ``max(|x|)`` over ``axis``, floored at ``finfo(x.dtype).tiny``.

    Example:
      >>> from socialign.kernel import scale_of
      >>> float(scale_of([[1., -4.], [2., 0.]]))
      4.0
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    tiny = np.finfo(x.dtype).tiny
    return jnp.maximum(jnp.max(jnp.abs(x), axis=axis), tiny)
