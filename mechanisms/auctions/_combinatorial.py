r"""VCG and affine maximisers for small combinatorial auctions, by enumeration.

``m`` items, ``n`` bidders; bidder ``i`` values each bundle ``S`` (a bitmask ``0 .. 2^m - 1``:
item ``j`` is in ``S`` when bit ``j`` is set) at ``valuations[i, S]`` (``valuations[i, 0] = 0``).
An assignment gives each item to one bidder or to nobody: there are ``(n + 1)^m`` of them,
enumerated once (a static table) so the allocation is one ``argmax``.

An affine maximiser (Roberts 1979) with bidder weights :math:`w_i > 0` and assignment boosts
:math:`\lambda(a)` chooses :math:`a^* = \arg\max_a \sum_i w_i v_i(a) + \lambda(a)` and charges

.. math::
    p_i = \frac{1}{w_i}\Big[\max_{a} \Big(\sum_{j \ne i} w_j v_j(a) + \lambda(a)\Big)
          - \Big(\sum_{j \ne i} w_j v_j(a^*) + \lambda(a^*)\Big)\Big];

it is dominant-strategy incentive compatible. VCG (Vickrey 1961, Clarke 1971, Groves 1973) is
``w = 1``, ``lambda = 0``: the welfare-maximising assignment with the Clarke pivot payments.

References:
  W. Vickrey 1961; E. Clarke, "Multipart pricing of public goods", Public Choice 1971;
  T. Groves, "Incentives in teams", Econometrica 1973; K. Roberts, "The characterization of
  implementable choice rules", 1979.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import as_float_array, check_finite, is_concrete, pytree_dataclass

__all__ = ["CombinatorialOutcome", "affine_maximizer", "assignments", "vcg"]


@functools.lru_cache(maxsize=64)
def assignments(num_bidders: int, num_items: int) -> np.ndarray:
    """Every assignment of items to bidders as bundles: ``int [(n + 1)^m, n]`` bitmasks.

    Row ``a`` gives each bidder's bundle under assignment ``a`` (item ``j`` to bidder ``i``
    sets bit ``j`` of column ``i``; an item may stay unassigned).

    Raises:
      ValueError: if a size is not a positive int or the table would exceed a million rows.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> auctions.assignments(2, 1).tolist()      # item 0 to nobody, to bidder 0, to bidder 1
      [[0, 0], [1, 0], [0, 1]]
    """
    for name, x in (("num_bidders", num_bidders), ("num_items", num_items)):
        if isinstance(x, bool) or not isinstance(x, int) or x <= 0:
            raise ValueError(f"{name} must be a positive int, got {x!r}")
    if (num_bidders + 1) ** num_items > 1_000_000:
        raise ValueError(f"{num_bidders} bidders and {num_items} items give "
                         f"{(num_bidders + 1) ** num_items} assignments; enumeration is for "
                         "small auctions (at most 10^6)")
    rows = []
    for owners in itertools.product(range(num_bidders + 1), repeat=num_items):
        row = [0] * num_bidders
        for j, o in enumerate(owners[::-1]):
            if o:
                row[o - 1] |= 1 << j
        rows.append(row)
    return np.asarray(rows, dtype=np.int32)


@pytree_dataclass
class CombinatorialOutcome:
    """The outcome of a combinatorial auction (leading axes are batch axes).

    Attributes:
      bundles: ``int [*batch, bidders]`` the bundle (bitmask) each bidder gets.
      allocation: ``[*batch, bidders, items]`` 0/1 item assignment.
      payments: ``[*batch, bidders]``.
      agent_values: ``[*batch, bidders]`` utilities ``v_i(S_i) - p_i``.
      principal_value: ``[*batch]`` revenue ``sum(payments)``.
      welfare: ``[*batch]`` ``sum_i v_i(S_i)``.
      participation_violation: ``[*batch]`` the largest shortfall of a utility below 0
        (``>= 0``; zero for VCG with non-negative valuations).

    Example:
      >>> from socialign.mechanisms import auctions
      >>> vals = [[0, 0, 0, 10], [0, 8, 0, 8]]    # bidder 0 wants {A, B}; bidder 1 wants A
      >>> out = auctions.vcg(vals)
      >>> out.bundles.tolist(), out.payments.tolist(), float(out.welfare)
      ([3, 0], [8.0, 0.0], 10.0)
    """

    bundles: jax.Array
    allocation: jax.Array
    payments: jax.Array
    agent_values: jax.Array
    principal_value: jax.Array
    welfare: jax.Array
    participation_violation: jax.Array


def _one(vals, weights, boosts, table, num_items):
    V = jnp.take_along_axis(vals, table.T, axis=1).T  # [A, n]: v_i(bundle_i(a))
    score = V @ weights + boosts
    a = jnp.argmax(score)
    others = score[:, None] - V * weights[None, :]  # [A, n]: sum_{j != i} w_j v_j + lambda
    pay = (jnp.max(others, axis=0) - others[a]) / weights
    bundles = table[a]
    util = V[a] - pay
    alloc = ((bundles[:, None] >> jnp.arange(num_items)[None, :]) & 1).astype(vals.dtype)
    return CombinatorialOutcome(
        bundles=bundles, allocation=alloc, payments=pay, agent_values=util,
        principal_value=jnp.sum(pay), welfare=jnp.sum(V[a]),
        participation_violation=jnp.maximum(-jnp.min(util), 0.0))


def affine_maximizer(valuations, weights=None, boosts=None) -> CombinatorialOutcome:
    """Affine-maximiser auction (module docstring); VCG with ``weights = 1``, ``boosts = 0``.

    Args:
      valuations: ``[*batch, bidders, 2^items]`` value of each bundle (bitmask index); the
        empty bundle (index 0) must be worth 0.
      weights: ``[*batch, bidders]`` positive bidder weights (default 1).
      boosts: ``[*batch, (bidders + 1)^items]`` additive boost of each assignment, in the order
        of :func:`assignments` (default 0).

    Returns:
      A :class:`CombinatorialOutcome`.

    Raises:
      ValueError: if the last axis is not a power of two, the empty bundle has a non-zero
        value, a weight is not positive, or shapes disagree.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> vals = [[0, 0, 0, 10], [0, 8, 0, 8]]
      >>> out = auctions.affine_maximizer(vals, weights=[1.0, 2.0])   # favour bidder 1
      >>> out.bundles.tolist(), out.payments.tolist()    # A to bidder 1, who pays (10 - 0) / 2
      ([0, 1], [0.0, 5.0])
    """
    v = as_float_array(valuations, "valuations")
    if v.ndim < 2:
        raise ValueError(f"valuations must have shape [*batch, bidders, 2^items]; got "
                         f"{tuple(v.shape)}")
    n, B = v.shape[-2], v.shape[-1]
    m = B.bit_length() - 1
    if B < 2 or (1 << m) != B:
        raise ValueError(f"the last axis of valuations must have 2^items entries (one per "
                         f"bundle); got {B}")
    check_finite(v, "valuations")
    if is_concrete(v) and bool(np.any(np.asarray(v)[..., 0] != 0)):
        raise ValueError("valuations[..., 0] (the empty bundle) must be 0")
    batch = tuple(v.shape[:-2])
    table = assignments(n, m)
    w = jnp.ones((*batch, n), v.dtype) if weights is None else as_float_array(weights, "weights")
    lam = jnp.zeros((*batch, table.shape[0]), v.dtype) if boosts is None else as_float_array(
        boosts, "boosts")
    check_finite(w, "weights")
    check_finite(lam, "boosts")
    if is_concrete(w) and bool(np.any(np.asarray(w) <= 0)):
        raise ValueError("weights must be positive")
    if w.shape[-1:] != (n,) or lam.shape[-1:] != (table.shape[0],):
        raise ValueError(f"weights must end with ({n},) and boosts with ({table.shape[0]},) "
                         f"(the number of assignments); got {tuple(w.shape)} and "
                         f"{tuple(lam.shape)}")
    dtype = jnp.result_type(v, w, lam)
    w = jnp.broadcast_to(w.astype(dtype), (*batch, n))
    lam = jnp.broadcast_to(lam.astype(dtype), (*batch, table.shape[0]))
    fn = functools.partial(_one, table=jnp.asarray(table), num_items=m)
    for _ in batch:
        fn = jax.vmap(fn)
    return fn(v.astype(dtype), w, lam)


def vcg(valuations) -> CombinatorialOutcome:
    """The VCG auction: welfare-maximising assignment, Clarke pivot payments.

    Args:
      valuations: ``[*batch, bidders, 2^items]`` (see :func:`affine_maximizer`).

    Returns:
      A :class:`CombinatorialOutcome`.

    Raises:
      ValueError: as :func:`affine_maximizer`.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> out = auctions.vcg([[0, 0, 0, 10], [0, 8, 0, 8]])
      >>> float(out.principal_value), float(out.welfare)
      (8.0, 10.0)
    """
    return affine_maximizer(valuations)
