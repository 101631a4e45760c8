r"""Sequential incomplete-contract games: invest, then bargain by alternating offers.

Two builders return :class:`socialign.solvers.ExtensiveFormGame` trees made with
``ExtensiveFormGame.from_arrays``; :func:`socialign.solvers.backward_induction` (re-exported
here) solves any perfect-information tree exactly (subgame-perfect equilibrium), and the CFR
family of :mod:`socialign.solvers` runs on the same trees.

- :func:`alternating_offers_game`: Rubinstein (1982) bargaining over a pie of size 1 for
  ``rounds`` rounds; in round ``t`` player ``t mod 2`` (starting with ``first_proposer``)
  proposes its own share ``x`` from the grid ``offers``, the other accepts (action 0: payoffs
  ``delta_i^t`` times the shares) or rejects (action 1: the next round). After the last
  rejection the players get ``delta_i^rounds`` times ``continuation`` (default ``(0, 0)``).
  With ``continuation`` equal to Rubinstein's stationary split from the round after (the
  proposer's share ``x^* = (1 - delta_r) / (1 - delta_p delta_r)``), the truncated game's
  subgame-perfect split is Rubinstein's in every round (one-shot deviation principle); with
  ``continuation = (0, 0)`` it is the finite-horizon split, which tends to ``x^*``.
- :func:`invest_then_bargain_game`: party 0 first chooses an investment ``i`` from a grid at
  cost ``c(i)`` (sunk), then the parties bargain as above over a pie ``v(i)``: the hold-up
  problem in extensive form. The investor's equilibrium investment maximises
  ``s v(i) - c(i)`` with ``s`` its bargaining share (Rubinstein's, or ``0`` under an ultimatum
  by the other party).

References:
  A. Rubinstein, "Perfect equilibrium in a bargaining model", Econometrica 50(1), 1982. O. Hart
  and J. Moore, "Incomplete contracts and renegotiation", Econometrica 56(4), 1988. M. J. Osborne
  and A. Rubinstein, *Bargaining and Markets*, 1990 (finite-horizon alternating offers).
"""

from __future__ import annotations

import numpy as np

from ...kernel import as_float_array, check_finite, check_positive_int, is_concrete
from ...solvers import ExtensiveFormGame

__all__ = [
    "alternating_offers_game",
    "invest_then_bargain_game",
    "rubinstein_share",
]

_T = ExtensiveFormGame.TERMINAL


def rubinstein_share(proposer_discount, responder_discount):
    r"""The proposer's share of Rubinstein's (1982) unique SPE: ``(1 - d_r) / (1 - d_p d_r)``.

    Differentiable, broadcasts over arrays.

    Raises:
      TypeError: if a discount factor is not numeric.
      ValueError: if a concrete discount factor is not finite or outside ``(0, 1)``.

    Example:
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> round(float(ic.rubinstein_share(0.5, 0.5)), 6)     # 1 / (1 + delta)
      0.666667
    """
    out = []
    for name, d in (("proposer_discount", proposer_discount),
                    ("responder_discount", responder_discount)):
        d = as_float_array(d, name)
        check_finite(d, name)
        if is_concrete(d) and not bool(np.all((np.asarray(d) > 0) & (np.asarray(d) < 1))):
            raise ValueError(f"{name} must lie in (0, 1), got {np.asarray(d)}")
        out.append(d)
    dp, dr = out
    return (1 - dr) / (1 - dp * dr)


def _check_discounts(discounts):
    d = np.asarray(discounts, float)
    if d.shape != (2,) or not np.all(np.isfinite(d)) or not np.all((d > 0) & (d < 1)):
        raise ValueError(f"discounts must be two discount factors in (0, 1), got {discounts!r}")
    return d


def _check_offers(offers):
    x = np.asarray(offers, float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
        raise ValueError(f"offers must be a 1-D grid of at least two shares in [0, 1], got "
                         f"{offers!r}")
    return x


#: the largest tree the bargaining builders make (nodes): a grid of G offers over R rounds has
#: about (2 G)^R nodes, built node by node in Python
MAX_NODES = 1_000_000


def _check_size(offers, rounds, copies=1):
    """Refuse a tree above :data:`MAX_NODES` before building it (naming offers and rounds)."""
    G = offers.size
    nodes = 1                                   # the subtree after the last rejection: a leaf
    for _ in range(rounds):
        nodes = 1 + G * (2 + nodes)             # proposer, then per offer: responder, accept
        if nodes * copies > MAX_NODES:
            raise ValueError(f"offers ({G} shares) and rounds ({rounds}) make a tree of more "
                             f"than {MAX_NODES:,} nodes; use a coarser grid of offers or fewer "
                             f"rounds")


def _check_continuation(continuation):
    cont = np.zeros(2) if continuation is None else np.asarray(continuation, float)
    if (cont.shape != (2,) or not np.all(np.isfinite(cont)) or np.any(cont < 0)
            or np.sum(cont) > 1 + 1e-9):
        raise ValueError(f"continuation must be two shares in [0, 1] summing to at most 1, got "
                         f"{continuation!r}")
    return cont


def _bargaining_nodes(parent, player, util, root_parent, pie, offers, d, rounds, first, cont,
                      scale_util):
    """Append the alternating-offers subtree below ``root_parent`` (lists, in place)."""
    def add(p, who, u):
        parent.append(p)
        player.append(who)
        util.append(u)
        return len(parent) - 1

    def round_(p, t):
        prop = (first + t) % 2
        node = add(p, prop, (0.0, 0.0))
        for x in offers:
            resp = add(node, 1 - prop, (0.0, 0.0))
            share = np.zeros(2)
            share[prop], share[1 - prop] = x, 1 - x
            add(resp, _T, tuple(scale_util(d ** t * share * pie)))          # accept
            if t + 1 < rounds:
                round_(resp, t + 1)                                        # reject
            else:
                add(resp, _T, tuple(scale_util(d ** rounds * cont * pie)))
        return node

    return round_(root_parent, 0)


def alternating_offers_game(offers, discounts, rounds: int, *, first_proposer: int = 0,
                            continuation=None) -> ExtensiveFormGame:
    r"""Alternating-offers bargaining over a pie of size 1 as a perfect-information tree.

    Args:
      offers: ``[G]`` grid of proposer shares in ``[0, 1]``.
      discounts: ``(delta_0, delta_1)``, each in ``(0, 1)``.
      rounds: the number of rounds (``1``: the ultimatum game).
      first_proposer: ``0`` or ``1``.
      continuation: ``(c_0, c_1)`` shares after the last rejection (default ``(0, 0)``),
        discounted by ``delta_i^rounds``.

    Returns:
      An :class:`socialign.solvers.ExtensiveFormGame` (``(2 G)^rounds``-ish nodes).

    Raises:
      ValueError: if a discount factor is outside ``(0, 1)``, the grid or ``continuation`` is
        malformed (two shares in ``[0, 1]`` summing to at most 1), ``rounds < 1``,
        ``first_proposer`` is not 0 or 1, or the tree would have more than
        :data:`MAX_NODES` nodes.

    Example:
      (Rubinstein's split of the round after as the continuation: the SPE gives the first proposer ``1 / (1 + delta) = 2/3`` at ``delta = 1/2``)
      >>> import numpy as np
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> x = ic.rubinstein_share(0.5, 0.5)
      >>> g = ic.alternating_offers_game(np.arange(13) / 12, (0.5, 0.5), 2,
      ...                                continuation=(float(x), 1 - float(x)))
      >>> spe = ic.backward_induction(g)
      >>> spe.values.round(6).tolist()
      [0.666667, 0.333333]
    """
    offers = _check_offers(offers)
    d = _check_discounts(discounts)
    rounds = check_positive_int(rounds, "rounds")
    if first_proposer not in (0, 1) or isinstance(first_proposer, bool):
        raise ValueError(f"first_proposer must be 0 or 1, got {first_proposer!r}")
    cont = _check_continuation(continuation)
    _check_size(offers, rounds)
    parent, player, util = [], [], []
    _bargaining_nodes(parent, player, util, -1, 1.0, offers, d, rounds, first_proposer, cont,
                      lambda u: u)
    return ExtensiveFormGame.from_arrays(parent, player, np.asarray(util))


def invest_then_bargain_game(investments, value, cost, offers, discounts, rounds: int, *,
                             first_proposer: int = 1, continuation=None) -> ExtensiveFormGame:
    r"""The hold-up problem as a tree: party 0 invests, then alternating-offers bargaining.

    Party 0 picks ``investments[j]`` (cost ``cost[j]``, sunk); the parties then bargain over the
    pie ``value[j]`` (:func:`alternating_offers_game`, shares of the pie). Party 0's payoff is
    its share of the pie minus the cost; party 1's its share.

    Args:
      investments: ``[J]`` the investment grid (labels; only ``value`` and ``cost`` enter).
      value: ``[J]`` the pie ``v(i_j) >= 0``.
      cost: ``[J]`` the investment cost ``c(i_j)``.
      offers, discounts, rounds, first_proposer, continuation: as in
        :func:`alternating_offers_game` (``first_proposer = 1, rounds = 1`` is an ultimatum by
        the non-investor).

    Returns:
      An :class:`socialign.solvers.ExtensiveFormGame`; party 0's first action is the index
      ``j`` of its investment.

    Raises:
      ValueError: as :func:`alternating_offers_game`, or if ``value``/``cost`` do not match
        ``investments`` or are not finite (``value`` must be non-negative).

    Example:
      (the responder's share of Rubinstein's split is ``delta / (1 + delta) = 1/3`` at ``delta = 1/2``; with ``v = 2 sqrt(i)`` and cost ``i`` party 0 invests ``(1/3)^2``)
      >>> import numpy as np
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> i = np.arange(8) ** 2 / 36                 # 0, 1/36, ..., 49/36
      >>> x = float(ic.rubinstein_share(0.5, 0.5))
      >>> g = ic.invest_then_bargain_game(i, 2 * np.sqrt(i), i, np.arange(13) / 12,
      ...                                 (0.5, 0.5), 1, continuation=(x, 1 - x))
      >>> spe = ic.backward_induction(g)
      >>> round(float(i[int(spe.policy[0].argmax())]), 6)           # (1/3)^2 = 4/36
      0.111111
    """
    offers = _check_offers(offers)
    d = _check_discounts(discounts)
    rounds = check_positive_int(rounds, "rounds")
    if first_proposer not in (0, 1) or isinstance(first_proposer, bool):
        raise ValueError(f"first_proposer must be 0 or 1, got {first_proposer!r}")
    inv = np.asarray(investments, float)
    v = np.asarray(value, float)
    c = np.asarray(cost, float)
    if inv.ndim != 1 or v.shape != inv.shape or c.shape != inv.shape:
        raise ValueError(f"investments, value and cost must be 1-D of one length; got shapes "
                         f"{inv.shape}, {v.shape}, {c.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(c))) or np.any(v < 0):
        raise ValueError("value must be finite and non-negative and cost finite")
    cont = _check_continuation(continuation)
    _check_size(offers, rounds, copies=inv.size)
    parent, player, util = [-1], [0], [(0.0, 0.0)]
    for j in range(inv.size):
        _bargaining_nodes(parent, player, util, 0, v[j], offers, d, rounds, first_proposer,
                          cont, lambda u, j=j: (u[0] - c[j], u[1]))
    return ExtensiveFormGame.from_arrays(parent, player, np.asarray(util))
