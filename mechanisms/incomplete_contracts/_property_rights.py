r"""Property rights (Grossman-Hart-Moore): who should own the assets?

Two parties invest ``i = (i_0, i_1)``, then bargain (generalised Nash, shares ``beta_0``,
``1 - beta_0``) over the surplus of trade ``S(i) = sum_k v_k(i)``. Without agreement each party
walks away with the assets it owns: its outside option ``o_k(i, owned)`` depends on the
investments and on the ownership matrix ``owned [num_assets, 2]`` (``owned[a, k] = 1`` when
party ``k`` controls asset ``a`` after a breakdown; joint ownership: neither does). Party ``k``
gets

.. math::
    U_k(i) = o_k(i, \mathrm{owned}) + \beta_k\,(S(i) - o_0 - o_1) - c_k(i),

and investments are a Nash equilibrium of these payoffs (the hold-up model of
:mod:`._holdup` under the null contract). :func:`ownership_structures` enumerates all
``3^num_assets`` assignments of assets (to party 0, to party 1, or joint), solves each
structure's investments as one batch, and returns each structure's surplus and the best one.
Ownership raises the owner's marginal return in its outside option, hence its investment, and
lowers the other's: the optimal structure gives assets to the party whose investment matters
more (Grossman and Hart 1986; Hart and Moore 1990).

References:
  S. J. Grossman and O. D. Hart, "The costs and benefits of ownership: a theory of vertical and
  lateral integration", JPE 94(4), 1986. O. Hart and J. Moore, "Property rights and the nature
  of the firm", JPE 98(6), 1990.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    Result,
    check_positive_int,
    pytree_dataclass,
    raise_if_failed,
    static_field,
)
from ._holdup import HoldUp, TradeContract, _as_tol, _outcome, _validate_model

__all__ = ["OwnershipOutcome", "PropertyRights", "ownership_structures"]


@dataclasses.dataclass(frozen=True)
class _UserParams:
    """``fn(i, params[0])``: a hashable wrapper so the compiled program is reused."""

    fn: Callable

    def __call__(self, i, params):
        return self.fn(i, params[0])


@dataclasses.dataclass(frozen=True)
class _OwnedOutside:
    """``outside(i, owned, params[0])`` with ``owned = params[1]``."""

    fn: Callable

    def __call__(self, i, params):
        return self.fn(i, params[1], params[0])


@pytree_dataclass
class PropertyRights:
    """A Grossman-Hart-Moore model: values, costs and ownership-dependent outside options.

    Attributes:
      value: ``value(i, params) -> [2]`` each party's value of trade (static).
      cost: ``cost(i, params) -> [2]`` each party's investment cost (static).
      outside: ``outside(i, owned, params) -> [2]`` disagreement payoffs, ``owned`` a
        ``[num_assets, 2]`` 0/1 matrix of who controls each asset after a breakdown (static).
      num_assets: number of assets (static; ``3^num_assets`` structures are compared).
      params: a pytree of numbers the functions read (leaves).
      bargaining_share: ``beta_0`` in ``[0, 1]``.
      investors: which parties invest (static pair of bools).
      max_investment: upper end of the search interval of each investment.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return 2 * jnp.sqrt(i)
      >>> def c(i, p): return i
      >>> def o(i, owned, p): return 0.5 * owned[0] * 2 * jnp.sqrt(i)   # owning helps outside
      >>> m = ic.PropertyRights(v, c, o, num_assets=1, investors=(True, True))
      >>> m.num_assets
      1
    """

    value: Callable = static_field()
    cost: Callable = static_field()
    outside: Callable = static_field()
    num_assets: int = static_field(default=1)
    params: object = None
    bargaining_share: jax.Array = 0.5
    investors: tuple = static_field(default=(True, True))
    max_investment: jax.Array = 10.0


@pytree_dataclass
class OwnershipOutcome:
    """Investments and surplus under every ownership structure.

    Attributes:
      structures: ``[S, num_assets]`` ``int32`` owner of each asset (``0``, ``1``, or ``2`` for
        joint ownership), ``S = 3^num_assets``, in lexicographic order.
      investment: ``[S, 2]`` equilibrium investments per structure.
      surplus: ``[S]`` total surplus ``S(i) - c_0 - c_1`` per structure.
      agent_values: ``[S, 2]`` each party's payoff per structure.
      first_best_surplus: the first-best surplus (ownership-independent).
      loss: ``[S]`` first-best surplus minus each structure's surplus.
      best: ``int32`` index of the surplus-maximising structure (first in order on ties).
      certificate: ``[S]`` largest first-order-condition residual per structure.
      result: ``[S]`` ``kernel.Result`` codes.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return 2 * jnp.sqrt(i)
      >>> def c(i, p): return i
      >>> def o(i, owned, p): return 0.5 * owned[0] * 2 * jnp.sqrt(i)
      >>> out = ic.ownership_structures(ic.PropertyRights(v, c, o, investors=(True, True)))
      >>> out.structures[:, 0].tolist(), out.surplus.round(4).tolist()
      ([0, 1, 2], [1.6875, 1.6875, 1.5])
    """

    structures: jax.Array
    investment: jax.Array
    surplus: jax.Array
    agent_values: jax.Array
    first_best_surplus: jax.Array
    loss: jax.Array
    best: jax.Array
    certificate: jax.Array
    result: jax.Array


def _owned_matrices(num_assets):
    structures = np.array(list(itertools.product(range(3), repeat=num_assets)), np.int32)
    owned = np.zeros(structures.shape + (2,))
    owned[..., 0] = structures == 0
    owned[..., 1] = structures == 1
    return structures, owned


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _structures_batch(model, owned, tol, *, max_steps):
    def one(own):
        m = HoldUp(value=_UserParams(model.value), cost=_UserParams(model.cost),
                   params=(model.params, own), bargaining_share=model.bargaining_share,
                   outside=_OwnedOutside(model.outside), investors=model.investors,
                   max_investment=model.max_investment)
        return _outcome(m, TradeContract(), tol, max_steps)

    return jax.vmap(one)(owned)


def ownership_structures(model: PropertyRights, *, tol=None, max_steps: int = 200,
                         throw: bool = True) -> OwnershipOutcome:
    r"""Equilibrium investments and surplus under every assignment of the assets.

    Each of the ``3^num_assets`` structures (every asset to party 0, to party 1 or joint) is
    solved as in :func:`holdup_equilibrium` under the null contract, with outside options
    ``outside(i, owned, params)``; all structures are one ``vmap``. Differentiable with respect
    to ``params`` and ``bargaining_share`` (implicit function theorem). ``params`` must be
    unbatched here; batch several models with ``jax.vmap``.

    Args:
      model: a :class:`PropertyRights`.
      tol: tolerance on the investments' change (relative to ``max_investment``).
      max_steps: the best-response budget (static).
      throw: raise if a structure is not certified.

    Returns:
      An :class:`OwnershipOutcome`.

    Raises:
      TypeError: if ``model`` is not a :class:`PropertyRights` or ``throw`` is not a bool.
      ValueError: if ``num_assets`` is not a positive int, or the value, cost or outside options
        fail their check (on a grid of each investment: value increasing and concave, cost
        increasing and convex, outside options finite and, under every structure, summing to at
        most the value of trade).
      NotConvergedError: with ``throw=True``, if a structure is not certified.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return jnp.stack([2 * jnp.sqrt(i[0]), 2 * p * jnp.sqrt(i[1])])
      >>> def c(i, p): return i
      >>> def o(i, owned, p): return 0.5 * owned[0] * v(i, p)
      >>> out = ic.ownership_structures(ic.PropertyRights(v, c, o, params=0.2))
      >>> int(out.structures[out.best, 0])          # party 0's investment matters more: it owns
      0
    """
    if not isinstance(model, PropertyRights):
        raise TypeError(f"model must be a PropertyRights, got {type(model).__name__}")
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    n = check_positive_int(model.num_assets, "num_assets")
    check_positive_int(max_steps, "max_steps")
    structures, owned = _owned_matrices(n)
    owned_all = jnp.asarray(owned)

    def largest_outside(i, p):  # the structure whose outside options add up to the most
        o = jax.vmap(lambda ow: model.outside(i, ow, p))(owned_all)
        return o[jnp.argmax(jnp.sum(o, axis=-1))] if o.ndim == 2 else o[0]

    _validate_model(HoldUp(value=model.value, cost=model.cost, params=model.params,
                           bargaining_share=model.bargaining_share, outside=largest_outside,
                           investors=model.investors, max_investment=model.max_investment))
    tol = _as_tol(tol)
    out = _structures_batch(model, jnp.asarray(owned), tol, max_steps=max_steps)
    ok = out.result == Result.CONVERGED
    best = jnp.argmax(jnp.where(ok, out.surplus, -jnp.inf)).astype(jnp.int32)
    res = OwnershipOutcome(
        structures=jnp.asarray(structures), investment=out.investment, surplus=out.surplus,
        agent_values=out.agent_values, first_best_surplus=out.first_best_surplus[0],
        loss=out.loss, best=best, certificate=out.certificate, result=out.result)
    if throw:
        raise_if_failed(res.result, "ownership_structures")
    return res
