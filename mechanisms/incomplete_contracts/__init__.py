"""Incomplete contracts: hold-up, property rights and relational contracts.

When investments or effort cannot be written into an enforceable contract, the parties' ex-post
bargaining, their ownership of assets and the value of their future relationship decide what
gets done. This subpackage computes those equilibria, batched and differentiable:

- hold-up (:func:`holdup_equilibrium`): relationship-specific investments against generalised
  Nash bargaining, under the null contract, specific performance, contracts that trade with some
  probability and contracts that reassign bargaining power (Williamson 1975; Klein, Crawford and
  Alchian 1978; Che and Hausch 1999; Aghion, Dewatripont and Rey 1994);
- property rights (:func:`ownership_structures`): investments and surplus under every
  assignment of assets (Grossman and Hart 1986; Hart and Moore 1990);
- relational contracts (:func:`relational_contract`): the optimal stationary self-enforcing
  contract of any :class:`socialign.mechanisms.PrincipalAgent` problem (Levin 2003; Baker,
  Gibbons and Murphy 1994).
"""

from ._holdup import (
    HoldUp,
    HoldUpOutcome,
    TradeContract,
    best_trade_contract,
    first_best,
    holdup_equilibrium,
)
from ._property_rights import OwnershipOutcome, PropertyRights, ownership_structures
from ._relational import RelationalContract, relational_contract

__all__ = [
    "HoldUp",
    "HoldUpOutcome",
    "OwnershipOutcome",
    "PropertyRights",
    "RelationalContract",
    "TradeContract",
    "best_trade_contract",
    "first_best",
    "holdup_equilibrium",
    "ownership_structures",
    "relational_contract",
]
