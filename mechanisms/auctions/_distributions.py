r"""Bidders' value distributions on a grid: uniform, or any density or CDF given on a grid.

Every distribution is a :class:`ValueDistribution`: ``K`` grid points ``values`` (increasing)
with the CDF ``cdf`` and density ``pdf`` there. Between grid points the CDF is linear (the
density is piecewise constant between neighbours' values in the quadrature), so sampling,
quantiles and integrals are exact for uniform values and second-order accurate otherwise. Leading
axes are batch axes (one distribution per bidder: ``[bidders, K]``), so asymmetric bidders are
one pytree, and every number is a leaf: ``jax.vmap`` over a batch of distributions works.

Virtual values (Myerson 1981) are :math:`\phi(v) = v - (1 - F(v)) / f(v)`; a distribution is
*regular* when they increase. For an irregular one they are *ironed*: the cumulative virtual
value in quantile space :math:`H(u) = \int_0^u \phi(F^{-1}(s))\,ds` is replaced by its convex
hull, whose slope :math:`\bar\phi` is the probability-weighted isotonic regression of
:math:`\phi` (the screening module's ``_iron``, the same construction on a finite type space).

References:
  R. Myerson, "Optimal auction design", Mathematics of Operations Research 1981.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import as_float_array, check_finite, is_concrete, pytree_dataclass
from .._screening import _iron

__all__ = ["ValueDistribution", "uniform", "from_pdf", "from_cdf"]


def _cumtrapz(y, x):
    """Cumulative trapezoid integral along the last axis, starting at 0."""
    inc = 0.5 * (y[..., 1:] + y[..., :-1]) * jnp.diff(x, axis=-1)
    return jnp.concatenate([jnp.zeros_like(y[..., :1]), jnp.cumsum(inc, axis=-1)], axis=-1)


def _interp(x, xp, fp):
    """``jnp.interp`` that tolerates repeated ``xp`` (flat parts): right-continuous there."""
    K = xp.shape[-1]
    idx = jnp.clip(jnp.searchsorted(xp, x, side="right"), 1, K - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    f0, f1 = fp[idx - 1], fp[idx]
    den = x1 - x0
    w = jnp.where(den > 0, (x - x0) / jnp.where(den > 0, den, 1.0), 1.0)
    w = jnp.clip(w, 0.0, 1.0)
    return jnp.where(x < xp[0], fp[0], jnp.where(x >= xp[-1], fp[-1], f0 + w * (f1 - f0)))


@pytree_dataclass
class ValueDistribution:
    """A value distribution on a grid (or a batch of them: leading axes are batch axes).

    Build one with :func:`uniform`, :func:`from_pdf` or :func:`from_cdf`; they validate their
    input. Fields are ``[*batch, K]``.

    Attributes:
      values: grid of values, increasing along the last axis.
      cdf: ``F(values)``, from 0 at the first point to 1 at the last.
      pdf: ``f(values) > 0``, the density (consistent with ``cdf`` up to quadrature error).

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform(0.0, 1.0, num_points=5)
      >>> [float(x) for x in d.virtual_values()]
      [-1.0, -0.5, 0.0, 0.5, 1.0]
    """

    values: jax.Array
    cdf: jax.Array
    pdf: jax.Array

    @property
    def num_points(self) -> int:
        """The grid size ``K`` (static)."""
        return self.values.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.values.shape[:-1])

    def masses(self) -> jax.Array:
        """Quadrature weights ``[*batch, K]`` (trapezoid: ``f dv``), summing to ~1."""
        dv = jnp.diff(self.values, axis=-1)
        left = jnp.concatenate([jnp.zeros_like(dv[..., :1]), dv], axis=-1)
        right = jnp.concatenate([dv, jnp.zeros_like(dv[..., :1])], axis=-1)
        return 0.5 * self.pdf * (left + right)

    def virtual_values(self) -> jax.Array:
        r"""Myerson's virtual values :math:`v - (1 - F(v)) / f(v)` on the grid, ``[*batch, K]``.

        Example:
          >>> from socialign.mechanisms import auctions
          >>> float(auctions.uniform(0.0, 1.0, 3).virtual_values()[1])
          0.0
        """
        f = jnp.maximum(self.pdf, jnp.finfo(self.pdf.dtype).tiny)
        return self.values - (1.0 - self.cdf) / f

    def ironed_virtual_values(self) -> jax.Array:
        r"""Ironed virtual values :math:`\bar\phi` on the grid, ``[*batch, K]`` (nondecreasing).

        The slope of the convex hull of :math:`H(u) = \int_0^u \phi(F^{-1}(s)) ds`: the
        ``masses``-weighted isotonic regression of :meth:`virtual_values`. Equal to the virtual
        values where those increase (a regular distribution).

        Example:
          >>> import jax.numpy as jnp
          >>> from socialign.mechanisms import auctions
          >>> d = auctions.uniform(0.0, 1.0, 5)
          >>> bool(jnp.allclose(d.ironed_virtual_values(), d.virtual_values()))
          True
        """
        return _ironed(self)

    def _per_member(self, x, xp, fp):
        """``interp(x, xp_b, fp_b)`` for every batch member ``b``: ``[*x.shape, *batch]``."""
        x = jnp.asarray(x, self.values.dtype)
        if not self.batch_shape:
            return _interp(x, xp, fp)
        out = jax.vmap(lambda a, b: _interp(x, a, b), out_axes=-1)(
            xp.reshape(-1, self.num_points), fp.reshape(-1, self.num_points))
        return out.reshape(*x.shape, *self.batch_shape)

    def quantile(self, u) -> jax.Array:
        """``F^{-1}(u)`` (linear between grid points) for ``u`` in ``[0, 1]``: shape
        ``[*u.shape, *batch]`` (each batch member's quantile).

        Example:
          >>> from socialign.mechanisms import auctions
          >>> float(auctions.uniform(2.0, 4.0, 3).quantile(0.25))
          2.5
          >>> auctions.uniform([0.0, 2.0], [1.0, 4.0], 3).quantile(0.5).tolist()
          [0.5, 3.0]
        """
        return self._per_member(u, self.cdf, self.values)

    def cdf_at(self, v) -> jax.Array:
        """``F(v)`` (linear between grid points, 0 below and 1 above the grid): shape
        ``[*v.shape, *batch]``.

        Example:
          >>> from socialign.mechanisms import auctions
          >>> float(auctions.uniform(0.0, 2.0, 3).cdf_at(0.5))
          0.25
        """
        return self._per_member(v, self.values, self.cdf)

    def sample(self, key, shape=()) -> jax.Array:
        """Draw values of shape ``[*shape, *batch]`` by inverse-CDF sampling.

        Example:
          >>> import jax
          >>> from socialign.mechanisms import auctions
          >>> v = auctions.uniform(0.0, 1.0, 5).sample(jax.random.key(0), (1000,))
          >>> v.shape, bool((v >= 0).all() & (v <= 1).all())
          ((1000,), True)
        """
        shape = tuple(shape)
        u = jax.random.uniform(key, (*shape, *self.batch_shape), self.values.dtype)
        flat_v = self.values.reshape(-1, self.num_points)
        flat_F = self.cdf.reshape(-1, self.num_points)
        flat_u = u.reshape(*shape, -1)
        out = jax.vmap(lambda uu, F, v: _interp(uu, F, v), in_axes=(-1, 0, 0),
                       out_axes=-1)(flat_u, flat_F, flat_v)
        return out.reshape(*shape, *self.batch_shape)

    def mean(self) -> jax.Array:
        """Expected value ``[*batch]`` (exact for a CDF linear between grid points).

        Example:
          >>> from socialign.mechanisms import auctions
          >>> round(float(auctions.uniform(1.0, 3.0, 5).mean()), 6)
          2.0
        """
        # E[v] = v_max - int F dv
        return self.values[..., -1] - _cumtrapz(self.cdf, self.values)[..., -1]


@jax.jit
def _ironed(dist):
    phi, p = dist.virtual_values(), dist.masses()
    p = jnp.maximum(p, jnp.finfo(p.dtype).tiny)
    flat_phi = phi.reshape(-1, phi.shape[-1])
    flat_p = p.reshape(-1, p.shape[-1])
    return jax.vmap(_iron)(flat_phi, flat_p).reshape(phi.shape)


def _check_grid(values, name):
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(f"{name} must have at least 2 grid points on its last axis; got shape "
                         f"{tuple(values.shape)}")
    check_finite(values, name)
    if is_concrete(values) and not bool(np.all(np.diff(np.asarray(values), axis=-1) > 0)):
        raise ValueError(f"{name} must be strictly increasing along its last axis")


def uniform(lo, hi, num_points: int = 1001) -> ValueDistribution:
    """The uniform distribution on ``[lo, hi]`` on a grid of ``num_points`` values.

    Args:
      lo, hi: bounds (scalars or arrays of the same batch shape), ``lo < hi``.
      num_points: grid size ``K`` (static).

    Returns:
      A :class:`ValueDistribution` with batch shape ``broadcast(lo, hi).shape``.

    Raises:
      ValueError: if ``lo >= hi`` (concrete), a bound is not finite or ``num_points < 2``.
      TypeError: if a bound is not numeric.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform([0.0, 0.0], [1.0, 2.0], num_points=3)
      >>> d.values.tolist()
      [[0.0, 0.5, 1.0], [0.0, 1.0, 2.0]]
    """
    lo, hi = as_float_array(lo, "lo"), as_float_array(hi, "hi")
    check_finite(lo, "lo")
    check_finite(hi, "hi")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 2:
        raise ValueError(f"num_points must be an int >= 2, got {num_points!r}")
    if is_concrete((lo, hi)) and bool(np.any(np.asarray(lo) >= np.asarray(hi))):
        raise ValueError("lo must be below hi")
    dtype = jnp.result_type(lo, hi)
    lo, hi = jnp.broadcast_arrays(lo.astype(dtype), hi.astype(dtype))
    s = jnp.linspace(0.0, 1.0, num_points, dtype=dtype)
    values = lo[..., None] + (hi - lo)[..., None] * s
    cdf = jnp.broadcast_to(s, values.shape)
    pdf = jnp.broadcast_to((1.0 / (hi - lo))[..., None], values.shape)
    return ValueDistribution(values=values, cdf=cdf, pdf=pdf)


def from_pdf(values, pdf) -> ValueDistribution:
    """A distribution from a positive density on a grid (normalised to integrate to 1).

    Args:
      values: ``[*batch, K]`` increasing grid.
      pdf: ``[*batch, K]`` density up to a constant, ``> 0``.

    Returns:
      A :class:`ValueDistribution` (CDF by the trapezoid rule).

    Raises:
      ValueError: if the grid is not increasing, shapes differ or the density is not positive.
      TypeError: if an argument is not numeric.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.from_pdf([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
      >>> d.cdf.tolist(), d.pdf.tolist()
      ([0.0, 0.5, 1.0], [0.5, 0.5, 0.5])
    """
    v, f = as_float_array(values, "values"), as_float_array(pdf, "pdf")
    _check_grid(v, "values")
    if f.shape != v.shape:
        raise ValueError(f"pdf must have the shape of values {tuple(v.shape)}; got "
                         f"{tuple(f.shape)}")
    check_finite(f, "pdf")
    if is_concrete(f) and bool(np.any(np.asarray(f) <= 0)):
        raise ValueError("pdf must be positive on the grid (virtual values divide by it)")
    dtype = jnp.result_type(v, f)
    v, f = v.astype(dtype), f.astype(dtype)
    F = _cumtrapz(f, v)
    total = F[..., -1:]
    return ValueDistribution(values=v, cdf=F / total, pdf=f / total)


def from_cdf(values, cdf) -> ValueDistribution:
    """A distribution from its CDF on a grid (density by central differences).

    Args:
      values: ``[*batch, K]`` increasing grid.
      cdf: ``[*batch, K]`` strictly increasing, 0 at the first point and 1 at the last.

    Returns:
      A :class:`ValueDistribution`.

    Raises:
      ValueError: if the grid or the CDF is not increasing, shapes differ, or the CDF does not
        run from 0 to 1.
      TypeError: if an argument is not numeric.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.from_cdf([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])     # F(v) = v^2 roughly
      >>> d.pdf.tolist()
      [0.5, 1.0, 1.5]
    """
    v, F = as_float_array(values, "values"), as_float_array(cdf, "cdf")
    _check_grid(v, "values")
    if F.shape != v.shape:
        raise ValueError(f"cdf must have the shape of values {tuple(v.shape)}; got "
                         f"{tuple(F.shape)}")
    check_finite(F, "cdf")
    if is_concrete(F):
        a = np.asarray(F)
        if not np.all(np.diff(a, axis=-1) > 0):
            raise ValueError("cdf must be strictly increasing along its last axis")
        if not (np.allclose(a[..., 0], 0.0) and np.allclose(a[..., -1], 1.0)):
            raise ValueError("cdf must run from 0 at the first grid point to 1 at the last")
    dtype = jnp.result_type(v, F)
    v, F = v.astype(dtype), F.astype(dtype)
    f = jnp.gradient(F, axis=-1) / jnp.gradient(v, axis=-1)
    # one-sided differences at the ends: average with the neighbour's slope keeps f > 0
    return ValueDistribution(values=v, cdf=F, pdf=f)
