r"""Single-item sealed-bid auctions: outcomes, symmetric equilibrium bids, revenue and welfare.

Three formats with a reserve price ``r``; a bid below ``r`` is rejected:

- ``"first_price"``: the highest bid at or above ``r`` wins and pays its bid;
- ``"second_price"``: it wins and pays ``max(r, second-highest bid)`` (Vickrey 1961);
- ``"all_pay"``: it wins; every accepted bid is paid, winning or not.

Ties among the highest bids split the item equally (the expected allocation of a uniform
tie-break), so :func:`auction_outcome` is a pure function of the bids with fixed shapes.

With ``n`` symmetric bidders whose values are i.i.d. with CDF ``F`` and ``G = F^{n-1}`` (the CDF
of the highest other value), every standard auction with reserve ``r`` has the same expected
payment (revenue equivalence, Myerson 1981; Riley and Samuelson 1981)

.. math::
    m(v) = v G(v) - \int_r^v G(x)\,dx \quad (v \ge r),

so the Bayes-Nash equilibrium bids are :math:`b(v) = v` (second price),
:math:`b(v) = m(v) / G(v) = E[\max(r, Y) \mid Y < v]` (first price; ``(n-1) v / n`` for
``U[0, 1]`` without reserve) and :math:`b(v) = m(v)` (all pay), and the revenue is
:math:`n \int_r m(v) f(v) dv` (``(n-1)/(n+1)`` for ``U[0, 1]`` without reserve).

References:
  W. Vickrey, "Counterspeculation, auctions, and competitive sealed tenders", J. Finance 1961.
  J. Riley and W. Samuelson, "Optimal auctions", AER 1981.
  V. Krishna, "Auction Theory", 2nd ed., Academic Press 2009, ch. 2-3.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    as_float_array,
    check_finite,
    check_positive_int,
    pytree_dataclass,
    static_field,
)
from ._distributions import ValueDistribution, _interp

__all__ = ["AUCTION_KINDS", "AuctionOutcome", "MonteCarloEstimate", "auction_outcome",
           "expected_revenue", "expected_welfare", "monte_carlo_revenue",
           "symmetric_equilibrium_bids"]

#: the single-item formats
AUCTION_KINDS = ("first_price", "second_price", "all_pay")


def _check_kind(kind):
    if kind not in AUCTION_KINDS:
        raise ValueError(f"kind must be one of {AUCTION_KINDS}, got {kind!r}")


@pytree_dataclass
class AuctionOutcome:
    """What a single-item auction does with one bid profile (leading axes are batch axes).

    Attributes:
      allocation: ``[*batch, bidders]`` probability that each bidder gets the item.
      payments: ``[*batch, bidders]`` what each bidder pays.
      utilities: ``[*batch, bidders]`` ``value * allocation - payments``.
      revenue: ``[*batch]`` total payments.
      welfare: ``[*batch]`` ``sum(value * allocation)``.
      regret: ``[*batch, bidders]`` each bidder's ex-post regret: its best utility against the
        others' bids in hindsight, ``max(0, value - max(r, highest other bid))`` (in every
        format), minus its utility; ``>= 0``.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> o = auctions.auction_outcome([0.3, 0.6], [0.5, 0.9], "second_price")
      >>> o.allocation.tolist(), o.payments.tolist(), [round(float(x), 6) for x in o.regret]
      ([0.0, 1.0], [0.0, 0.3], [0.0, 0.0])
    """

    allocation: jax.Array
    payments: jax.Array
    utilities: jax.Array
    revenue: jax.Array
    welfare: jax.Array
    regret: jax.Array


def _outcome_one(bids, values, reserve, kind):
    n = bids.shape[-1]
    accepted = bids >= reserve
    eff = jnp.where(accepted, bids, -jnp.inf)
    top = jnp.max(eff)
    winners = accepted & (eff >= top)
    count = jnp.maximum(jnp.sum(winners), 1)
    alloc = jnp.where(winners, 1.0 / count, 0.0).astype(bids.dtype)
    # the highest bid of the others (the reserve when none is accepted)
    others = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, eff[None, :])
    other_max = jnp.maximum(jnp.max(others, axis=-1), reserve)
    if kind == "first_price":
        pay = alloc * bids
    elif kind == "second_price":
        pay = alloc * other_max
    else:
        pay = jnp.where(accepted, bids, 0.0)
    util = values * alloc - pay
    best = jnp.maximum(values - other_max, 0.0)
    return AuctionOutcome(allocation=alloc, payments=pay, utilities=util, revenue=jnp.sum(pay),
                          welfare=jnp.sum(values * alloc),
                          regret=jnp.maximum(best - util, 0.0))


def auction_outcome(bids, values, kind: str = "first_price", reserve=0.0) -> AuctionOutcome:
    """Allocation, payments, utilities and ex-post regrets of one sealed-bid auction.

    A pure, fixed-shape function of the bids (differentiable in them almost everywhere);
    leading axes of ``bids``/``values``/``reserve`` are batch axes.

    Args:
      bids: ``[*batch, bidders]``.
      values: ``[*batch, bidders]`` the bidders' values.
      kind: ``"first_price"``, ``"second_price"`` or ``"all_pay"`` (static).
      reserve: ``[*batch]`` or scalar reserve price.

    Returns:
      An :class:`AuctionOutcome`.

    Raises:
      ValueError: on an unknown ``kind``, shapes that do not broadcast, no bidder, or a
        concrete NaN or inf.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> o = auctions.auction_outcome([0.3, 0.6, 0.6], [0.5, 0.9, 0.7], "first_price")
      >>> [round(float(x), 2) for x in o.allocation], round(float(o.revenue), 2)
      ([0.0, 0.5, 0.5], 0.6)
    """
    _check_kind(kind)
    b, v, r = (as_float_array(bids, "bids"), as_float_array(values, "values"),
               as_float_array(reserve, "reserve"))
    if b.ndim < 1:
        raise ValueError(f"bids must have shape [*batch, bidders]; got {tuple(b.shape)}")
    if b.shape[-1] == 0:
        raise ValueError("bids: an auction needs at least one bidder")
    for x, name in ((b, "bids"), (v, "values"), (r, "reserve")):
        check_finite(x, name)     # NaN or inf became NaN payments and revenue, silently
    try:
        shape = jnp.broadcast_shapes(b.shape, v.shape)
        batch = jnp.broadcast_shapes(shape[:-1], r.shape)
    except ValueError:
        raise ValueError(f"bids {tuple(b.shape)}, values {tuple(v.shape)} and reserve "
                         f"{tuple(r.shape)} must broadcast to [*batch, bidders]") from None
    dtype = jnp.result_type(b, v, r)
    b = jnp.broadcast_to(b.astype(dtype), (*batch, shape[-1]))
    v = jnp.broadcast_to(v.astype(dtype), (*batch, shape[-1]))
    r = jnp.broadcast_to(r.astype(dtype), batch)
    return _outcome_batch(b, v, r, kind=kind)


@functools.partial(jax.jit, static_argnames=("kind",))
def _outcome_batch(b, v, r, *, kind):
    fn = functools.partial(_outcome_one, kind=kind)
    for _ in r.shape:
        fn = jax.vmap(fn)
    return fn(b, v, r)


# --------------------------------------------------------------------------------------------
# symmetric equilibrium and revenue equivalence
# --------------------------------------------------------------------------------------------
def _check_dist(dist):
    if not isinstance(dist, ValueDistribution):
        raise TypeError(f"dist must be a ValueDistribution (auctions.uniform, from_pdf, "
                        f"from_cdf), got {type(dist).__name__}")


def _at(x, xp, fp):
    """Interpolate ``fp(xp)`` at ``x`` (``x`` carries ``xp``'s batch axes, without the grid)."""
    if xp.ndim == 1:
        return _interp(x, xp, fp)
    fn = _interp
    for _ in range(xp.ndim - 1):
        fn = jax.vmap(fn)
    return fn(jnp.broadcast_to(x, xp.shape[:-1]), xp, fp)


def _cum_power(F, v, k):
    """Cumulative ``int_{v_0}^{v} F(x)^k dx`` on the grid, exact for ``F`` linear between
    grid points: each cell contributes ``dv (F_1^{k+1} - F_0^{k+1}) / ((k + 1)(F_1 - F_0))``."""
    F0, F1, dv = F[..., :-1], F[..., 1:], jnp.diff(v, axis=-1)
    dF = F1 - F0
    safe = jnp.where(dF > 0, dF, 1.0)
    exact = (F1 ** (k + 1) - F0 ** (k + 1)) / ((k + 1) * safe)
    cell = dv * jnp.where(dF > 0, exact, F0**k)
    return jnp.concatenate([jnp.zeros_like(F[..., :1]), jnp.cumsum(cell, axis=-1)], axis=-1)


def _interim_payment(dist, num_bidders, reserve):
    """``(G, m)`` on the grid: the CDF of the highest other value and the smooth extension of
    the interim payment ``m(v) = v G(v) - int_r^v G`` to every ``v`` (the payment is ``m`` at
    ``v >= r`` and 0 below)."""
    v, F = dist.values, dist.cdf
    G = F ** (num_bidders - 1)
    IG = _cum_power(F, v, num_bidders - 1)  # int_{v_0}^{v} G
    return G, v * G - (IG - _at(reserve, v, IG)[..., None])


def symmetric_equilibrium_bids(dist: ValueDistribution, num_bidders: int,
                               kind: str = "first_price", reserve=0.0) -> jax.Array:
    r"""Symmetric Bayes-Nash equilibrium bids on the distribution's grid, ``[*batch, K]``.

    ``v`` (second price), :math:`E[\max(r, Y) | Y < v]` (first price) or :math:`m(v)` (all pay),
    with ``Y`` the highest of the other ``n - 1`` i.i.d. values (module docstring). Values below
    the reserve bid 0 (first price, all pay): they cannot win.

    Args:
      dist: the common :class:`ValueDistribution`.
      num_bidders: ``n >= 1`` (static).
      kind: the auction format (static).
      reserve: reserve price, scalar or ``[*batch]``.

    Returns:
      Bids at ``dist.values``.

    Raises:
      TypeError: if ``dist`` is not a :class:`ValueDistribution`.
      ValueError: on an unknown ``kind`` or a bad ``num_bidders``.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform(0.0, 1.0, 5)
      >>> [round(float(b), 6) for b in auctions.symmetric_equilibrium_bids(d, 2)]
      [0.0, 0.125, 0.25, 0.375, 0.5]
    """
    _check_dist(dist)
    _check_kind(kind)
    n = check_positive_int(num_bidders, "num_bidders")
    r = as_float_array(reserve, "reserve").astype(dist.values.dtype)
    check_finite(r, "reserve")
    if kind == "second_price":
        return dist.values
    return _symmetric_bids(dist, r, n=n, kind=kind)


@functools.partial(jax.jit, static_argnames=("n", "kind"))
def _symmetric_bids(dist, r, *, n, kind):
    v = dist.values
    G, m = _interim_payment(dist, n, r)
    above = v >= r[..., None]
    if kind == "all_pay":
        return jnp.where(above, m, 0.0)
    safe = jnp.where(G > 0, G, 1.0)
    # at G = 0 (lowest value, n > 1) the limit of m / G is the value itself (or the reserve)
    b = jnp.where(G > 0, m / safe, jnp.maximum(v, r[..., None]))
    return jnp.where(above, b, 0.0)


def expected_revenue(dist: ValueDistribution, num_bidders: int, reserve=0.0) -> jax.Array:
    r"""Expected revenue of any standard auction with reserve (revenue equivalence), ``[*batch]``.

    :math:`n \int_r^{\bar v} m(v) f(v)\,dv` with :math:`m` the interim payment of the module
    docstring; for ``U[0, 1]``: ``(n-1)/(n+1)`` without reserve and
    ``(n-1)/(n+1) + 2^{-n}/(n+1)`` with ``r = 1/2`` (the optimal auction, Myerson 1981).

    Args:
      dist: the common :class:`ValueDistribution`.
      num_bidders: ``n`` (static).
      reserve: reserve price, scalar or ``[*batch]``.

    Raises:
      TypeError: if ``dist`` is not a :class:`ValueDistribution`.
      ValueError: on a bad ``num_bidders``.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform(0.0, 1.0, 101)
      >>> round(float(auctions.expected_revenue(d, 2, reserve=0.5)), 4)
      0.4167
    """
    _check_dist(dist)
    n = check_positive_int(num_bidders, "num_bidders")
    r = as_float_array(reserve, "reserve").astype(dist.values.dtype)
    check_finite(r, "reserve")
    return _revenue(dist, r, n=n)


@functools.partial(jax.jit, static_argnames=("n",))
def _revenue(dist, r, *, n):
    # n int_r^top m dF, with m's smooth extension (no jump inside a cell). Within a cell F is
    # linear, so m(v) = v F^{n-1} - int F^{n-1} is a polynomial of degree n in v: Gauss-Legendre
    # with 8 nodes per cell is exact up to n = 15.
    v, F = dist.values, dist.cdf
    G, m = _interim_payment(dist, n, r)
    IG = m - v * G  # -(int_r^v G) at the grid points
    s, w = np.polynomial.legendre.leggauss(8)
    s, w = jnp.asarray((s + 1) / 2, v.dtype), jnp.asarray(w / 2, v.dtype)
    v0, F0, dv, dF = v[..., :-1, None], F[..., :-1, None], jnp.diff(v)[..., None], \
        jnp.diff(F)[..., None]
    x, Fx = v0 + s * dv, F0 + s * dF
    safe = jnp.where(dF > 0, dF, 1.0)
    part = jnp.where(dF > 0, dv * (Fx**n - F0**n) / (n * safe), F0 ** (n - 1) * s * dv)
    mx = x * Fx ** (n - 1) + IG[..., :-1, None] - part  # m at the nodes
    cells = jnp.sum(w * mx, -1) * jnp.diff(F)
    C = jnp.concatenate([jnp.zeros_like(F[..., :1]), jnp.cumsum(cells, -1)], -1)
    return n * (C[..., -1] - _at(r, v, C))


def expected_welfare(dist: ValueDistribution, num_bidders: int, reserve=0.0) -> jax.Array:
    r"""Expected welfare of an efficient auction with reserve: :math:`E[\max_i v_i; \max_i v_i
    \ge r] = \int_r v\, d F^n(v)`, ``[*batch]``.

    Raises:
      TypeError: if ``dist`` is not a :class:`ValueDistribution`.
      ValueError: on a bad ``num_bidders``.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> round(float(auctions.expected_welfare(auctions.uniform(0.0, 1.0, 101), 2)), 3)   # 2/3
      0.667
    """
    _check_dist(dist)
    n = check_positive_int(num_bidders, "num_bidders")
    r = as_float_array(reserve, "reserve").astype(dist.values.dtype)
    check_finite(r, "reserve")
    return _welfare(dist, r, n=n)


@functools.partial(jax.jit, static_argnames=("n",))
def _welfare(dist, r, *, n):
    v = dist.values
    Fn = dist.cdf ** n
    # int_r^top v dF^n = top - r F(r)^n - int_r^top F^n dv
    IF = _cum_power(dist.cdf, v, n)
    return v[..., -1] - r * _at(r, v, Fn) - (IF[..., -1] - _at(r, v, IF))


@pytree_dataclass
class MonteCarloEstimate:
    """A Monte Carlo mean with its standard error.

    Attributes:
      revenue: mean revenue; ``revenue_se`` its standard error.
      welfare: mean welfare; ``welfare_se`` its standard error.
      num_samples: the number of sampled value profiles.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform([0.0, 0.0], [1.0, 1.0], 101)
      >>> est = auctions.monte_carlo_revenue(jax.random.key(0), d, "second_price",
      ...                                    d.values, num_samples=20000)
      >>> abs(float(est.revenue) - 1 / 3) < 4 * float(est.revenue_se)
      True
    """

    revenue: jax.Array
    revenue_se: jax.Array
    welfare: jax.Array
    welfare_se: jax.Array
    num_samples: int = static_field(default=0)   # a Python int, not an array leaf


def monte_carlo_revenue(key, dists: ValueDistribution, kind: str = "second_price",
                        bids=None, reserve=0.0, *, num_samples: int = 10_000
                        ) -> MonteCarloEstimate:
    """Expected revenue and welfare of an auction by batched Monte Carlo, with standard errors.

    Values are drawn independently for each bidder (``dists`` has batch shape ``[bidders]``);
    bids are given as bid functions on each bidder's grid (``bids [bidders, K]``, interpolated;
    default: truthful) and the auction is :func:`auction_outcome` on every profile at once.

    Args:
      key: a PRNG key.
      dists: ``ValueDistribution`` with batch shape ``(bidders,)``.
      kind: the auction format (static).
      bids: ``[bidders, K]`` bid at each grid value, or ``None`` (bid the value).
      reserve: reserve price (scalar).
      num_samples: number of value profiles (static).

    Returns:
      A :class:`MonteCarloEstimate`.

    Raises:
      TypeError: if ``dists`` is not a :class:`ValueDistribution`.
      ValueError: on a ``dists`` without one bidder axis, bad ``bids`` shape, unknown ``kind``
        or a bad ``num_samples``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform([0.0, 0.0], [1.0, 1.0], 101)
      >>> b = auctions.symmetric_equilibrium_bids(d, 2, "first_price")   # v / 2
      >>> est = auctions.monte_carlo_revenue(jax.random.key(1), d, "second_price", 2 * b,
      ...                                    num_samples=20000)     # truthful: 2 b = v
      >>> abs(float(est.revenue) - 1 / 3) < 4 * float(est.revenue_se)
      True
    """
    if not isinstance(dists, ValueDistribution):
        raise TypeError(f"dists must be a ValueDistribution, got {type(dists).__name__}")
    _check_kind(kind)
    S = check_positive_int(num_samples, "num_samples")
    if S < 2:
        raise ValueError(f"num_samples must be at least 2 (a standard error needs two "
                         f"samples), got {S}")
    if len(dists.batch_shape) != 1:
        raise ValueError(f"dists must have one batch axis (bidders); got batch shape "
                         f"{dists.batch_shape}")
    if bids is None:
        bids = dists.values
    bids = as_float_array(bids, "bids")
    if bids.shape != dists.values.shape:
        raise ValueError(f"bids must have shape {tuple(dists.values.shape)} (bidders, grid); "
                         f"got {tuple(bids.shape)}")
    check_finite(bids, "bids")
    r = as_float_array(reserve, "reserve")
    check_finite(r, "reserve")
    return _monte_carlo(key, dists, bids, r, kind=kind, num_samples=S)


@functools.partial(jax.jit, static_argnames=("kind", "num_samples"))
def _monte_carlo(key, dists, bids, reserve, *, kind, num_samples):
    vals = dists.sample(key, (num_samples,))  # [S, n]
    b = jax.vmap(lambda v, g, bb: _interp(v, g, bb), in_axes=(1, 0, 0), out_axes=1)(
        vals, dists.values, bids)
    out = jax.vmap(lambda bb, vv: _outcome_one(bb, vv, reserve, kind))(b, vals)
    se = lambda x: jnp.std(x, ddof=1) / jnp.sqrt(num_samples)  # noqa: E731
    return MonteCarloEstimate(revenue=jnp.mean(out.revenue), revenue_se=se(out.revenue),
                              welfare=jnp.mean(out.welfare), welfare_se=se(out.welfare),
                              num_samples=num_samples)
