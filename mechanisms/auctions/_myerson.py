r"""Myerson's optimal auction: ironed virtual values, asymmetric bidders, expected revenue.

With independent private values :math:`v_i \sim F_i`, the revenue-maximising auction (Myerson
1981) gives the item to the bidder with the highest ironed virtual value
:math:`\bar\phi_i(v_i)` when it is positive, and charges the winner its threshold
:math:`\inf\{x : \bar\phi_i(x) \ge \max(0, \max_{j \ne i} \bar\phi_j(v_j))\}` (so truthful
bidding is dominant). Its expected revenue is the expected maximum ironed virtual surplus

.. math::
    E\big[\max(0, \max_i \bar\phi_i(v_i))\big]
    = \int_0^\infty \Big(1 - \prod_i P(\bar\phi_i(v_i) \le t)\Big)\,dt,

computed by quadrature on a fine grid of ``t`` (each factor is a CDF read off the bidder's grid).
Symmetric regular bidders get a second-price auction with reserve :math:`\phi^{-1}(0)`
(``1/2`` for ``U[0, 1]``: revenue ``1/4`` with one bidder, ``5/12`` with two).

References:
  R. Myerson, "Optimal auction design", Mathematics of Operations Research 1981.
  J. Hartline, "Mechanism Design and Approximation", 2013, ch. 3.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ...kernel import as_float_array, check_finite, check_positive_int, pytree_dataclass
from ._distributions import ValueDistribution, _interp
from ._standard import AuctionOutcome

__all__ = ["OptimalAuction", "myerson_auction", "myerson_outcome"]


@pytree_dataclass
class OptimalAuction:
    """Myerson's optimal auction for independent bidders (leading axes are batch axes).

    Attributes:
      values: ``[*batch, bidders, K]`` each bidder's value grid.
      ironed_virtual_values: ``[*batch, bidders, K]`` :math:`\\bar\\phi_i` on the grid.
      reserve_prices: ``[*batch, bidders]`` the smallest value with a non-negative ironed
        virtual value (each bidder's personal reserve; the top value when there is none).
      principal_value: ``[*batch]`` the expected revenue.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> opt = auctions.myerson_auction(auctions.uniform([0.0, 0.0], [1.0, 1.0], 101))
      >>> [round(float(r), 6) for r in opt.reserve_prices], round(float(opt.principal_value), 5)
      ([0.5, 0.5], 0.41667)
    """

    values: jax.Array
    ironed_virtual_values: jax.Array
    reserve_prices: jax.Array
    principal_value: jax.Array


def _threshold(y, phi, v):
    """``inf {x : phi(x) >= y}`` on a grid (``phi`` nondecreasing), linear between points."""
    K = phi.shape[-1]
    idx = jnp.clip(jnp.searchsorted(phi, y, side="left"), 1, K - 1)
    p0, p1, v0, v1 = phi[idx - 1], phi[idx], v[idx - 1], v[idx]
    den = p1 - p0
    w = jnp.clip(jnp.where(den > 0, (y - p0) / jnp.where(den > 0, den, 1.0), 1.0), 0.0, 1.0)
    out = v0 + w * (v1 - v0)
    return jnp.where(y <= phi[0], v[0], jnp.where(y > phi[-1], v[-1], out))


def _myerson_one(values, cdf, phibar, num_t):
    """Revenue of one auction: ``values, cdf, phibar [bidders, K]``."""
    top = jnp.maximum(jnp.max(phibar), 0.0)
    t = jnp.linspace(0.0, 1.0, num_t, dtype=values.dtype) * top
    H = jax.vmap(lambda ph, F: _interp(t, ph, F))(phibar, cdf)  # [n, T] P(phibar_i <= t)
    g = 1.0 - jnp.prod(H, axis=0)
    revenue = jnp.sum(0.5 * (g[1:] + g[:-1]) * jnp.diff(t))
    reserves = jax.vmap(lambda ph, v: _threshold(jnp.zeros((), v.dtype), ph, v))(phibar, values)
    return reserves, revenue


def myerson_auction(dists: ValueDistribution, *, num_quadrature: int | None = None
                    ) -> OptimalAuction:
    """Myerson's optimal single-item auction for independent, possibly asymmetric and
    irregular bidders (module docstring).

    Args:
      dists: a :class:`ValueDistribution` with batch shape ``[*batch, bidders]`` (one
        distribution per bidder; same grid size ``K``).
      num_quadrature: points of the revenue quadrature in ``t`` (static; default ``4 K + 1``).

    Returns:
      An :class:`OptimalAuction`.

    Raises:
      TypeError: if ``dists`` is not a :class:`ValueDistribution`.
      ValueError: if it has no bidder axis or ``num_quadrature`` is not a positive int.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> opt = auctions.myerson_auction(auctions.uniform([0.0, 0.0], [1.0, 2.0], 101))  # 31/48
      >>> [round(float(r), 6) for r in opt.reserve_prices], round(float(opt.principal_value), 5)
      ([0.5, 1.0], 0.64583)
    """
    if not isinstance(dists, ValueDistribution):
        raise TypeError(f"dists must be a ValueDistribution, got {type(dists).__name__}")
    if len(dists.batch_shape) < 1:
        raise ValueError("dists must have a bidder axis: batch shape [*batch, bidders] "
                         "(auctions.uniform([lo1, lo2], [hi1, hi2]) for two bidders)")
    T = 4 * dists.num_points + 1 if num_quadrature is None else check_positive_int(
        num_quadrature, "num_quadrature")
    return _myerson(dists, num_t=T)


@functools.partial(jax.jit, static_argnames=("num_t",))
def _myerson(dists, *, num_t):
    phibar = dists.ironed_virtual_values()
    fn = functools.partial(_myerson_one, num_t=num_t)
    for _ in dists.batch_shape[:-1]:
        fn = jax.vmap(fn)
    reserves, revenue = fn(dists.values, dists.cdf, phibar)
    return OptimalAuction(values=dists.values, ironed_virtual_values=phibar,
                          reserve_prices=reserves, principal_value=revenue)


def _outcome_one(values_grid, phibar, v):
    n = v.shape[-1]
    phi = jax.vmap(_interp)(v, values_grid, phibar)  # [n]
    top = jnp.max(phi)
    winners = (phi >= top) & (phi >= 0)
    count = jnp.maximum(jnp.sum(winners), 1)
    alloc = jnp.where(winners, 1.0 / count, 0.0).astype(v.dtype)
    others = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, phi[None, :])
    bar = jnp.maximum(jnp.max(others, axis=-1), 0.0)
    thresh = jax.vmap(_threshold)(bar, phibar, values_grid)  # [n]
    pay = alloc * thresh
    util = v * alloc - pay
    best = jnp.maximum(v - thresh, 0.0) * (phi >= bar)
    return AuctionOutcome(allocation=alloc, payments=pay, utilities=util, revenue=jnp.sum(pay),
                          welfare=jnp.sum(v * alloc), regret=jnp.maximum(best - util, 0.0))


def myerson_outcome(auction: OptimalAuction, values) -> AuctionOutcome:
    """Allocation and threshold payments of Myerson's auction at reported values.

    The item goes to the highest non-negative ironed virtual value (ties split equally); the
    winner pays its threshold value. ``regret`` is each bidder's gain from its best report in
    hindsight (zero up to rounding: truthful reporting is dominant).

    Args:
      auction: an unbatched :class:`OptimalAuction` (``vmap`` for batches).
      values: ``[*samples, bidders]`` reported values.

    Returns:
      An :class:`AuctionOutcome` with leading axes ``[*samples]``.

    Raises:
      TypeError: if ``auction`` is not an :class:`OptimalAuction` or ``values`` not numeric.
      ValueError: if ``values`` does not end with the bidder axis or the auction is batched.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> opt = auctions.myerson_auction(auctions.uniform([0.0, 0.0], [1.0, 1.0], 101))
      >>> o = auctions.myerson_outcome(opt, [[0.3, 0.8], [0.7, 0.6], [0.2, 0.4]])
      >>> o.allocation.tolist(), [round(float(p), 6) for p in o.revenue]
      ([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]], [0.5, 0.6, 0.0])
    """
    if not isinstance(auction, OptimalAuction):
        raise TypeError(f"auction must be an OptimalAuction, got {type(auction).__name__}")
    n = auction.values.shape[-2]
    if auction.values.ndim != 2:
        raise ValueError("auction must be unbatched (jax.vmap over a batch of auctions)")
    v = as_float_array(values, "values")
    if v.ndim < 1 or v.shape[-1] != n:
        raise ValueError(f"values must have shape [*samples, {n}]; got {tuple(v.shape)}")
    check_finite(v, "values")
    return _outcomes(auction, v.astype(auction.values.dtype))


@jax.jit
def _outcomes(auction, v):
    fn = functools.partial(_outcome_one, auction.values, auction.ironed_virtual_values)
    for _ in v.shape[:-1]:
        fn = jax.vmap(fn)
    return fn(v)
