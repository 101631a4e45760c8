"""Auctions: single-item formats with reserves, Myerson's optimal auction, equilibrium bids, VCG.

- value distributions on a grid: :func:`uniform`, :func:`from_pdf`, :func:`from_cdf`
  (:class:`ValueDistribution`, with virtual values and their ironing);
- first-price, second-price and all-pay auctions with a reserve: :func:`auction_outcome`,
  symmetric equilibrium bids (:func:`symmetric_equilibrium_bids`), revenue equivalence
  (:func:`expected_revenue`, :func:`expected_welfare`) and batched Monte Carlo
  (:func:`monte_carlo_revenue`);
- Myerson's optimal auction for asymmetric, irregular bidders: :func:`myerson_auction`,
  :func:`myerson_outcome`;
- Bayes-Nash equilibria of asymmetric first-price and all-pay auctions on a bid grid, certified
  by the largest best-response gain: :func:`bayes_nash_bids`;
- VCG and affine maximisers for small combinatorial auctions: :func:`vcg`,
  :func:`affine_maximizer`.

Everything is pure JAX with fixed shapes (runs eagerly, under ``jax.jit`` and ``jax.vmap``).
"""

from ._distributions import ValueDistribution, from_cdf, from_pdf, uniform
from ._bne import AuctionEquilibrium, BestResponseIteration, bayes_nash_bids, win_probability
from ._combinatorial import CombinatorialOutcome, affine_maximizer, assignments, vcg
from ._myerson import OptimalAuction, myerson_auction, myerson_outcome
from ._standard import (
    AUCTION_KINDS,
    AuctionOutcome,
    MonteCarloEstimate,
    auction_outcome,
    expected_revenue,
    expected_welfare,
    monte_carlo_revenue,
    symmetric_equilibrium_bids,
)

__all__ = [
    "AUCTION_KINDS",
    "AuctionEquilibrium",
    "AuctionOutcome",
    "BestResponseIteration",
    "CombinatorialOutcome",
    "MonteCarloEstimate",
    "OptimalAuction",
    "ValueDistribution",
    "affine_maximizer",
    "assignments",
    "auction_outcome",
    "bayes_nash_bids",
    "expected_revenue",
    "expected_welfare",
    "from_cdf",
    "from_pdf",
    "monte_carlo_revenue",
    "myerson_auction",
    "myerson_outcome",
    "symmetric_equilibrium_bids",
    "uniform",
    "vcg",
    "win_probability",
]
