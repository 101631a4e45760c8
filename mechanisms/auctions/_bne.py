r"""Bayes-Nash equilibria of asymmetric first-price and all-pay auctions on a bid grid.

Each bidder ``i`` has values on its distribution's grid (``K`` points, probabilities ``p_ik``)
and bids from a common grid ``b_1 < ... < b_M``; a strategy is a distribution over bids for each
value, :math:`\sigma_i(m \mid k)`. Against the others' strategies the probability that bid
``b_m`` wins (ties broken uniformly at random) is

.. math::
    W_i(m) = \int_0^1 \prod_{j \ne i} \big(L_j(m) + s\,E_j(m)\big)\,ds,

with :math:`L_j(m) = P(b_j < b_m)`, :math:`E_j(m) = P(b_j = b_m)` (the integral of
:math:`s^{T}` is :math:`1 / (T + 1)` for ``T`` tying bidders; Gauss-Legendre with ``n`` nodes
is exact); bids below the reserve lose. Bidder ``i``'s utility of bid ``m`` at value ``v`` is
:math:`(v - b_m) W_i(m)` (first price) or :math:`v W_i(m) - b_m` (all pay).

:class:`BestResponseIteration` runs fictitious play on these strategies (every bidder moves to
the time average of its best responses, :math:`\sigma \leftarrow \sigma + (BR(\sigma) -
\sigma) / (t + 2)`), driven by :func:`socialign.kernel.iterate`; the answer is certified by its
``incentive_violation``: the largest expected gain over bidders of a best response,
:math:`\max_i \sum_k p_{ik} (\max_m U_{ikm} - \sum_m \sigma_{ikm} U_{ikm})`. On a grid an exact
equilibrium of the continuous auction is approximated to within the grid's resolution, so
choose ``tol`` of the order of the bid grid's step.

References:
  V. Krishna, "Auction Theory", 2nd ed., 2009, ch. 4 (asymmetric first-price auctions).
  G. Brown, "Iterative solution of games by fictitious play", 1951.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    is_concrete,
    iterate,
    pytree_dataclass,
    scale_of,
    static_field,
)
from ._distributions import ValueDistribution

__all__ = ["AuctionEquilibrium", "BestResponseIteration", "bayes_nash_bids", "win_probability"]

_KINDS = ("first_price", "all_pay")


def win_probability(bid_probs, reserve=None, bids=None) -> jax.Array:
    """Probability ``[bidders, M]`` that each bid of the grid wins against the others.

    Args:
      bid_probs: ``[bidders, M]`` each bidder's (unconditional) distribution over the bid grid.
      reserve: optional reserve; with ``bids [M]`` given, bids below it win with probability 0.
      bids: the bid grid ``[M]`` (needed with ``reserve``).

    Returns:
      ``W [bidders, M]``: ``W[i, m]`` is the probability that bidder ``i`` wins with bid ``m``
      (ties split uniformly at random) when every other bidder ``j`` bids by ``bid_probs[j]``.

    Raises:
      ValueError: if ``bid_probs`` is not ``[bidders, M]`` with rows that are probability
        vectors (concrete input), or a ``reserve`` comes without a matching ``bids`` grid.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import auctions
      >>> q = jnp.array([[0.5, 0.5], [0.5, 0.5]])          # two bidders, two bids each
      >>> auctions.win_probability(q).tolist()
      [[0.25, 0.75], [0.25, 0.75]]
    """
    q = as_float_array(bid_probs, "bid_probs")
    if q.ndim != 2:
        raise ValueError(f"bid_probs must have shape [bidders, M]; got {tuple(q.shape)}")
    check_simplex(q, "bid_probs")
    n, M = q.shape
    if reserve is not None:
        if bids is None:
            raise ValueError("a reserve needs the bid grid: pass bids [M] as well")
        bids = as_float_array(bids, "bids")
        if bids.shape != (M,):
            raise ValueError(f"bids must have shape ({M},) (one entry per column of bid_probs); "
                             f"got {tuple(bids.shape)}")
        check_finite(bids, "bids")
        check_finite(reserve, "reserve")
    cum = jnp.cumsum(q, axis=-1)
    L = cum - q  # P(b_j < b_m)
    E = q
    s, w = np.polynomial.legendre.leggauss(max(n, 1))
    s, w = jnp.asarray((s + 1) / 2, q.dtype), jnp.asarray(w / 2, q.dtype)
    fac = L[:, :, None] + s[None, None, :] * E[:, :, None]  # [j, M, Q]
    others = ~jnp.eye(n, dtype=bool)  # [i, j]
    prod = jnp.prod(jnp.where(others[:, :, None, None], fac[None], 1.0), axis=1)  # [i, M, Q]
    W = jnp.sum(prod * w, axis=-1)
    if reserve is not None:
        W = jnp.where(jnp.asarray(bids) >= reserve, W, 0.0)
    return W


@pytree_dataclass
class _BidGame:
    values: jax.Array  # [n, K]
    probs: jax.Array  # [n, K]
    bids: jax.Array  # [M]
    reserve: jax.Array  # []
    kind: str = static_field(default="first_price")


def _utilities(game: _BidGame, sigma):
    """``U [n, K, M]`` expected utility of each bid at each value, given ``sigma [n, K, M]``."""
    q = jnp.einsum("nk,nkm->nm", game.probs, sigma)
    W = win_probability(q, game.reserve, game.bids)  # [n, M]
    v, b = game.values[:, :, None], game.bids[None, None, :]
    if game.kind == "first_price":
        return (v - b) * W[:, None, :], W
    paid = jnp.where(game.bids >= game.reserve, game.bids, 0.0)
    return v * W[:, None, :] - paid[None, None, :], W


def _gain(game, sigma):
    U, W = _utilities(game, sigma)
    per = jnp.max(U, -1) - jnp.sum(sigma * U, -1)  # [n, K]
    return jnp.sum(game.probs * per, -1), U, W  # [n]


@pytree_dataclass
class BestResponseIteration(IterativeSolver):
    """Fictitious play on a bid grid (module docstring): pure ``init``/``step``/``terminate``.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> auctions.BestResponseIteration().default_check_every
      10
    """

    default_check_every = 10

    def init(self, game, key):
        n, K = game.values.shape
        M = game.bids.shape[0]
        # start from truthful-but-shaded bids: the largest grid bid not above the value
        idx = jnp.clip(jnp.searchsorted(game.bids, game.values, side="right") - 1, 0, M - 1)
        sigma = jax.nn.one_hot(idx, M, dtype=game.values.dtype)
        return sigma, jnp.zeros((), game.values.dtype)

    def step(self, game, state):
        sigma, t = state
        U, _ = _utilities(game, sigma)
        br = jax.nn.one_hot(jnp.argmax(U, -1), U.shape[-1], dtype=sigma.dtype)
        return sigma + (br - sigma) / (t + 2.0), t + 1.0

    def terminate(self, game, state, tol):
        gains, _, _ = _gain(game, state[0])
        cert = jnp.max(gains) / scale_of(game.values)
        return cert <= tol, jnp.int32(Result.CONVERGED), cert


@pytree_dataclass
class AuctionEquilibrium:
    """An approximate Bayes-Nash equilibrium of a single-item auction on a bid grid.

    Attributes:
      bid_probs: ``[bidders, K, M]`` each bidder's distribution over bids at each grid value.
      bids: ``[bidders, K]`` the mean bid at each value.
      principal_value: expected revenue.
      agent_values: ``[bidders]`` each bidder's expected utility.
      welfare: expected value of the item to its winner.
      incentive_violation: the largest expected best-response gain over bidders (``>= 0``),
        absolute (payoff units).
      certificate: ``incentive_violation`` relative to the largest value (compared with
        ``tol``).
      result: ``int32`` :class:`socialign.kernel.Result` code.
      num_steps: iterations used.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform([0.0, 0.0], [1.0, 2.0], 21)
      >>> eq = auctions.bayes_nash_bids(d, num_bids=41, tol=0.02, max_steps=500)
      >>> eq.bid_probs.shape, bool(eq.incentive_violation < 0.05)
      ((2, 21, 41), True)
    """

    bid_probs: jax.Array
    bids: jax.Array
    principal_value: jax.Array
    agent_values: jax.Array
    welfare: jax.Array
    incentive_violation: jax.Array
    certificate: jax.Array
    result: jax.Array
    num_steps: jax.Array


def bayes_nash_bids(dists: ValueDistribution, kind: str = "first_price", reserve=0.0, *,
                    bids=None, num_bids: int = 101, tol=None, max_steps: int = 2000
                    ) -> AuctionEquilibrium:
    """Bayes-Nash equilibrium bids of a (possibly asymmetric) first-price or all-pay auction.

    Fictitious play on a bid grid (module docstring), certified by the largest best-response
    gain. Each bidder's values are its distribution's grid with the quadrature weights
    (:meth:`ValueDistribution.masses`, normalised) as probabilities.

    Args:
      dists: :class:`ValueDistribution` with batch shape ``(bidders,)``.
      kind: ``"first_price"`` or ``"all_pay"`` (static).
      reserve: reserve price (a scalar).
      bids: the bid grid ``[M]`` (increasing); default ``num_bids`` points from the lowest
        value (first price: nobody bids below it; all pay: from 0) to the largest value.
      num_bids: size of the default bid grid (static, at least 2).
      tol: tolerance on the relative certificate (default: one step of the bid grid relative to
        the largest value).
      max_steps: iteration budget (static).

    Returns:
      An :class:`AuctionEquilibrium`; ``result`` is ``CONVERGED`` when the certificate is
      within ``tol``, ``MAX_STEPS_REACHED`` otherwise.

    Raises:
      TypeError: if ``dists`` is not a :class:`ValueDistribution`.
      ValueError: on an unknown ``kind``, a ``dists`` without one bidder axis or with a
        negative value, a bid grid that is not increasing, a reserve that is not a scalar, or
        bad sizes.

    Example:
      >>> from socialign.mechanisms import auctions
      >>> d = auctions.uniform([0.0, 0.0], [1.0, 2.0], 21)        # a weak and a strong bidder
      >>> eq = auctions.bayes_nash_bids(d, num_bids=41, tol=0.02, max_steps=500)
      >>> int(eq.result), bool(eq.bids[0, 10] > eq.bids[1, 5])    # the weak bidder shades less
      (0, True)
    """
    if not isinstance(dists, ValueDistribution):
        raise TypeError(f"dists must be a ValueDistribution, got {type(dists).__name__}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS} (second price: bid the value), got "
                         f"{kind!r}")
    if len(dists.batch_shape) != 1:
        raise ValueError(f"dists must have batch shape (bidders,); got {dists.batch_shape}")
    max_steps = check_positive_int(max_steps, "max_steps")
    dtype = dists.values.dtype
    if is_concrete(dists.values) and bool(np.any(np.asarray(dists.values) < 0)):
        raise ValueError("dists: values must be >= 0 (a bidder with a negative value stays "
                         "out of a first-price or all-pay auction)")
    if bids is None:
        M = check_positive_int(num_bids, "num_bids")
        if M < 2:
            raise ValueError(f"num_bids must be at least 2, got {M}")
        top = jnp.max(dists.values)
        # first price: nobody bids below the lowest value (bidding it instead wins as often
        # and costs no more), so the grid starts there; all pay: low values bid about 0
        low = jnp.min(dists.values) if kind == "first_price" else jnp.zeros((), dtype)
        bids = low + jnp.linspace(0.0, 1.0, M, dtype=dtype) * (top - low)
    else:
        bids = as_float_array(bids, "bids").astype(dtype)
        if bids.ndim != 1 or bids.shape[0] < 2:
            raise ValueError(f"bids must be a grid [M] with M >= 2; got {tuple(bids.shape)}")
        check_finite(bids, "bids")
        if is_concrete(bids) and not bool(np.all(np.diff(np.asarray(bids)) > 0)):
            raise ValueError("bids must be strictly increasing")
    r = as_float_array(reserve, "reserve").astype(dtype)
    if r.ndim != 0:
        raise ValueError(f"reserve must be a scalar (one reserve price for every bidder), got "
                         f"shape {tuple(r.shape)}")
    check_finite(r, "reserve")
    if tol is None:
        tol = (bids[1] - bids[0]) / scale_of(dists.values)
    else:
        check_positive_scalar(tol, "tol", allow_zero=True)
    p = dists.masses()
    game = _BidGame(values=dists.values, probs=p / jnp.sum(p, -1, keepdims=True), bids=bids,
                    reserve=r, kind=kind)
    return _solve(game, tol, max_steps=max_steps)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _solve(game, tol, *, max_steps):
    solver = BestResponseIteration()
    it = iterate(solver, game, tol, jax.random.key(0), max_steps=max_steps,
                 check_every=solver.default_check_every)
    sigma = it.state[0]
    gains, U, W = _gain(game, sigma)
    util = jnp.einsum("nk,nkm,nkm->n", game.probs, sigma, U)
    if game.kind == "first_price":
        pay = jnp.einsum("nk,nkm,nm,m->", game.probs, sigma, W, game.bids)
    else:
        paid = jnp.where(game.bids >= game.reserve, game.bids, 0.0)
        pay = jnp.einsum("nk,nkm,m->", game.probs, sigma, paid)
    welfare = jnp.einsum("nk,nkm,nm,nk->", game.probs, sigma, W, game.values)
    return AuctionEquilibrium(
        bid_probs=sigma, bids=jnp.einsum("nkm,m->nk", sigma, game.bids), principal_value=pay,
        agent_values=util, welfare=welfare, incentive_violation=jnp.max(gains),
        certificate=it.certificate, result=it.result, num_steps=it.num_steps)
