"""Incomplete contracts: hold-up, property rights and relational contracts.

When investments or effort cannot be written into an enforceable contract, the parties' ex-post
bargaining, their ownership of assets and the value of their future relationship decide what
gets done. This subpackage computes those equilibria, batched and differentiable:

- hold-up (:func:`holdup_equilibrium`): relationship-specific investments against generalised
  Nash bargaining, under the null contract, specific performance, contracts that trade with some
  probability and contracts that reassign bargaining power (Williamson 1975; Klein, Crawford and
  Alchian 1978; Che and Hausch 1999; Aghion, Dewatripont and Rey 1994);
- option contracts (:func:`option_equilibrium`): one party decides whether trade takes place,
  which fixes the renegotiation's disagreement point (Nöldeke and Schmidt 1995);
- sequential games (:func:`invest_then_bargain_game`, :func:`alternating_offers_game`): invest,
  then bargain by alternating offers (Rubinstein 1982) as
  :class:`socialign.solvers.ExtensiveFormGame` trees, solved exactly by
  :func:`socialign.solvers.backward_induction` (re-exported here) or by the CFR family;
- property rights (:func:`ownership_structures`): investments and surplus under every
  assignment of assets (Grossman and Hart 1986; Hart and Moore 1990);
- relational contracts (:func:`relational_contract`): the optimal stationary self-enforcing
  contract of any :class:`socialign.mechanisms.PrincipalAgent` problem (Levin 2003; Baker,
  Gibbons and Murphy 1994);
- repeated games with monetary transfers (:func:`transfer_equilibrium`): the highest
  self-enforcing joint payoff and each profile's critical discount factor (Goldlücke and Kranz
  2012).
"""

from ...solvers import SubgamePerfect, backward_induction  # re-exported: the trees' solver
from ._bargaining import alternating_offers_game, invest_then_bargain_game, rubinstein_share
from ._holdup import (
    HoldUp,
    HoldUpOutcome,
    TradeContract,
    best_trade_contract,
    first_best,
    holdup_equilibrium,
)
from ._options import OptionContract, option_equilibrium
from ._property_rights import OwnershipOutcome, PropertyRights, ownership_structures
from ._relational import RelationalContract, relational_contract
from ._transfers import TransferEquilibrium, transfer_equilibrium

__all__ = [
    "alternating_offers_game",
    "backward_induction",
    "invest_then_bargain_game",
    "rubinstein_share",
    "HoldUp",
    "HoldUpOutcome",
    "OptionContract",
    "OwnershipOutcome",
    "PropertyRights",
    "RelationalContract",
    "SubgamePerfect",
    "TradeContract",
    "TransferEquilibrium",
    "best_trade_contract",
    "first_best",
    "holdup_equilibrium",
    "option_equilibrium",
    "ownership_structures",
    "relational_contract",
    "transfer_equilibrium",
]
