r"""Voting rules, batched over profiles: each returns the set of tied winners as a boolean mask.

Every rule takes a :class:`~socialign.mechanisms.social_choice.Profile` with any leading batch
axes (the margin-based rules, Copeland, minimax, Schulze, ranked pairs, Kemeny-Young and maximal
lotteries, also take its :class:`~socialign.mechanisms.social_choice.MarginGraph`: they compute
the batch's margins once, vectorised over the ballots, then run per profile on ``[m, m]``
arrays) and returns an :class:`Outcome` with the same batch axes:

- ``winners``: ``bool [*batch, m]``, every candidate the rule cannot separate from the best
  (the rule is *irresolute*: no tie is broken unless the docstring says so);
- ``scores``: ``[*batch, m]``, the rule's score (higher is better) and ``ranking``:
  ``int32 [*batch, m]``, each candidate's position (``0`` = first, ties share a position);
- ``lottery``: ``[*batch, m]``, the probabilistic rules' lottery, else uniform on the winners;
- ``result``: ``int32 [*batch]``, a :class:`socialign.kernel.Result` code (always
  ``CONVERGED`` except for :func:`maximal_lotteries`, whose LP reports its own).

Rules run eagerly, under ``jax.jit`` and under ``jax.vmap`` with the same answer (fixed shapes,
masks instead of data-dependent subsets). Scores are compared with a tolerance of
``lp_tol(dtype)`` times the number of voters, so integer counts tie exactly and fractional
weights tie up to rounding. An integer electorate so large that this tolerance reaches half a
vote (524,288 voters in float32, 5e8 in float64) is refused with a ``ValueError`` (under
``jit``: ``result`` is ``FAILED``): a one-vote lead would read as a tie.

Ballots with ties or truncation follow the profile's strict-preference reading (see
:mod:`socialign.mechanisms.social_choice`): the margin-based rules need nothing more; the
positional rules state their convention in their docstrings.

References:
  F. Brandt, V. Conitzer, U. Endriss, J. Lang and A. D. Procaccia (eds.), "Handbook of
  Computational Social Choice", 2016, chapters 2-4.
  W. S. Zwicker, "Introduction to the theory of voting", ibid., chapter 2.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    Result,
    batch_map,
    check_batch_size,
    is_concrete,
    lp_tol,
    pytree_dataclass,
)
from ...solvers import NormalFormGame, ZeroSumLP, solve
from ._profile import MarginGraph, Profile, _margins, support_matrix

__all__ = [
    "MAX_KEMENY_CANDIDATES",
    "Outcome",
    "borda",
    "copeland",
    "instant_runoff",
    "kemeny_young",
    "maximal_lotteries",
    "minimax",
    "plurality",
    "random_dictatorship",
    "ranked_pairs",
    "schulze",
]

#: Largest number of candidates :func:`kemeny_young` accepts (its table has ``2^m m`` entries).
MAX_KEMENY_CANDIDATES = 12


@pytree_dataclass
class Outcome:
    """What a voting rule returns (a pytree; every field has the profile's batch axes).

    Attributes:
      winners: ``bool [*batch, m]``: the set of tied winners.
      scores: ``[*batch, m]``: the rule's score of each candidate (higher is better; its meaning
        is given by each rule).
      ranking: ``int32 [*batch, m]``: each candidate's position in the rule's ranking (``0`` =
        first; tied candidates share a position, the next position skips: 0, 0, 2).
      lottery: ``[*batch, m]``: a probability vector: the probabilistic rules' lottery, else
        the uniform lottery on ``winners`` (random tie-breaking).
      result: ``int32 [*batch]``: a :class:`socialign.kernel.Result` code.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> out = sc.borda(sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2]))
      >>> out.winners.tolist(), out.scores.tolist(), out.ranking.tolist()
      ([False, True, False], [6.0, 7.0, 2.0], [1, 0, 2])
    """

    winners: jax.Array
    scores: jax.Array
    ranking: jax.Array
    lottery: jax.Array
    result: jax.Array


# ----------------------------------------------------------------------------- helpers


def _check_profile(profile) -> Profile:
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a socialign.mechanisms.social_choice.Profile, got "
                        f"{type(profile).__name__}")
    return profile


def _check_margin_input(profile):
    if not isinstance(profile, (Profile, MarginGraph)):
        raise TypeError(f"profile must be a socialign.mechanisms.social_choice.Profile or "
                        f"MarginGraph, got {type(profile).__name__}")
    return profile


def _vtol(voters, dtype):
    """Tie tolerance of a margin rule: ``lp_tol`` times the number of voters (at least one)."""
    return lp_tol(dtype) * jnp.maximum(voters, 1.0)


def _tol(counts):
    """Tie tolerance: ``lp_tol`` relative to the number of voters (floored at one voter)."""
    return lp_tol(counts.dtype) * jnp.maximum(counts.sum(), 1.0)


def _positions(scores, tol):
    """Competition ranking by ``scores`` (higher first): the number of strictly better ones."""
    better = scores[..., None, :] > scores[..., :, None] + tol
    return better.sum(-1).astype(jnp.int32)


def _uniform(mask, dtype):
    m = mask.astype(dtype)
    return m / jnp.maximum(m.sum(-1, keepdims=True), 1.0)


def _outcome(winners, scores, ranking, dtype, lottery=None, result=None):
    if lottery is None:
        lottery = _uniform(winners, dtype)
    if result is None:
        result = jnp.asarray(Result.CONVERGED, jnp.int32)
    return Outcome(winners=winners, scores=scores.astype(dtype), ranking=ranking,
                   lottery=lottery, result=jnp.asarray(result, jnp.int32))


def _from_scores(scores, tol, dtype):
    """Outcome of a scoring rule: the winners are the candidates within ``tol`` of the best."""
    winners = scores >= scores.max() - tol
    return _outcome(winners, scores, _positions(scores, tol), dtype)


@functools.partial(jax.jit, static_argnames=("single", "batch_shape", "batch_size"))
def _batched(args, *, single, batch_shape, batch_size):
    return batch_map(lambda a: single(*a), args, batch_shape=batch_shape, batch_size=batch_size)


def _unresolvable(voters, integral, dtype):
    """Members whose integer electorate is too large for ``dtype`` to separate one vote: the
    tie tolerance ``lp_tol(dtype) * voters`` reaches half a vote (524,288 voters in float32,
    5e8 in float64), so a one-vote lead would read as a tie (3,000,001 voters split 1,500,001
    to 1,500,000 tied every rule in float32)."""
    return integral & (lp_tol(dtype) * voters >= 0.5)


def _guard(out, voters, integral, dtype):
    """Refuse (concrete input) or mark ``FAILED`` (traced) the members of :func:`_unresolvable`."""
    bad = _unresolvable(voters, integral, dtype)
    if is_concrete(bad):
        if bool(np.any(np.asarray(bad))):
            n = float(np.max(np.where(np.asarray(bad), np.asarray(voters), 0)))
            raise ValueError(
                f"profile: {n:,.0f} voters in {np.dtype(dtype).name}: the tie tolerance "
                f"(lp_tol x voters = {lp_tol(dtype) * n:.3g} votes) cannot separate a one-vote "
                "difference; use float64 (jax.config.update('jax_enable_x64', True)) or fewer "
                "voters")
        return out
    return dataclasses.replace(out, result=jnp.where(bad, Result.FAILED, out.result).astype(
        jnp.int32))


def _integral(x):
    return jnp.all(x == jnp.round(x), axis=-1)


def _run(single, profile, batch_size, *extra):
    """Apply ``single(ranks, counts, *extra)`` (a module-level function: the jit cache key)
    over the batch axes, in one compiled program per rule and shape."""
    profile = _check_profile(profile)
    batch_size = check_batch_size(batch_size)
    out = _batched((profile.ranks, profile.counts, *extra), single=single,
                   batch_shape=profile.batch_shape, batch_size=batch_size)
    return _guard(out, profile.counts.sum(-1), _integral(profile.counts), profile.counts.dtype)


def _graph_arrays(data):
    """``(margins [*batch, m, m], voters [*batch])`` of a Profile or MarginGraph (batched:
    the margins are computed on the whole batch at once, outside any per-profile loop)."""
    if isinstance(data, MarginGraph):
        return data.margins, data.num_voters
    return _margins(data.ranks, data.counts), data.counts.sum(-1)


@functools.partial(jax.jit, static_argnames=("single", "batch_shape", "batch_size"))
def _batched_margins(data, extra, *, single, batch_shape, batch_size):
    marg, voters = _graph_arrays(data)
    return batch_map(lambda a: single(*a), (marg, voters, *extra), batch_shape=batch_shape,
                     batch_size=batch_size)


def _run_margins(single, profile, batch_size, *extra):
    """Apply ``single(margins, voters, *extra)`` over the batch axes of a Profile or a
    MarginGraph, in one compiled program per rule, input type and shape."""
    profile = _check_margin_input(profile)
    batch_size = check_batch_size(batch_size)
    out = _batched_margins(profile, tuple(extra), single=single,
                           batch_shape=profile.batch_shape, batch_size=batch_size)
    if isinstance(profile, MarginGraph):
        voters = profile.num_voters
        integral = _integral(profile.margins.reshape(*profile.margins.shape[:-2], -1)) & (
            voters == jnp.round(voters))
    else:
        voters, integral = profile.counts.sum(-1), _integral(profile.counts)
    return _guard(out, voters, integral, voters.dtype)


def _tops(ranks, remaining):
    """``[ballots, m]`` weights of each ballot's first choice among ``remaining``.

    A ballot whose top position holds ``k`` tied remaining candidates gives each ``1/k``; a
    ballot ranking no remaining candidate gives nothing.
    """
    m = ranks.shape[-1]
    r = jnp.where(remaining, ranks, m)
    best = r.min(-1, keepdims=True)
    top = (r == best) & (r < m)
    return top / jnp.maximum(top.sum(-1, keepdims=True), 1)


def _profile_1(ranks, counts) -> Profile:
    return Profile(ranks, counts)


# ----------------------------------------------------------------------------- positional rules


def _plurality_1(ranks, counts):
    remaining = jnp.ones(ranks.shape[-1], bool)
    scores = counts @ _tops(ranks, remaining)
    return _from_scores(scores, _tol(counts), counts.dtype)


def plurality(profile: Profile, *, batch_size: int | None = None) -> Outcome:
    r"""Plurality: the candidates ranked first by the most voters.

    ``scores[c]`` = the number of voters ranking ``c`` first; a ballot with ``k`` candidates
    tied first gives each ``1/k``; an empty ballot gives nothing. No tie is broken.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``.
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`; ``ranking`` orders candidates by their plurality score.

    Raises:
      TypeError: if ``profile`` is not a :class:`Profile`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.plurality(tennessee).winners.tolist()   # Memphis
      [True, False, False, False]
    """

    return _run(_plurality_1, profile, batch_size)


def _borda_1(ranks, counts):
    scores = support_matrix(_profile_1(ranks, counts)).sum(-1)
    return _from_scores(scores, _tol(counts), counts.dtype)


def borda(profile: Profile, *, batch_size: int | None = None) -> Outcome:
    r"""Borda count: each voter gives a candidate one point per candidate it ranks below.

    :math:`\mathrm{Borda}(a) = \sum_{b \ne a} S[a, b]` (``S`` the support matrix), which is
    ``m - 1 - position`` on a complete strict ballot; with ties and truncation a candidate earns
    a point for each candidate strictly below it (unranked candidates are below every ranked one
    and earn nothing from each other). No tie is broken. J.-C. de Borda, "Mémoire sur les
    élections au scrutin", 1781.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``.
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome` whose ``scores`` are the Borda scores.

    Raises:
      TypeError: if ``profile`` is not a :class:`Profile`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.borda(tennessee).scores.tolist()   # M, N, C, K
      [126.0, 194.0, 173.0, 107.0]
    """

    return _run(_borda_1, profile, batch_size)


def _random_dictatorship_1(ranks, counts):
    m = ranks.shape[-1]
    scores = counts @ _tops(ranks, jnp.ones(m, bool))
    total = scores.sum()
    lottery = jnp.where(total > 0, scores / jnp.where(total > 0, total, 1.0), 1.0 / m)
    winners = lottery > 0
    return _outcome(winners, scores, _positions(scores, _tol(counts)), counts.dtype,
                    lottery=lottery)


def random_dictatorship(profile: Profile, *, batch_size: int | None = None) -> Outcome:
    r"""Random dictatorship: a uniformly drawn voter's first choice wins.

    ``lottery[c]`` = the share of (non-empty) ballots ranking ``c`` first, a ballot with ``k``
    candidates tied first giving each ``1/k`` of its weight; ``winners`` is the lottery's
    support. The only strategyproof, anonymous, neutral and ex-post efficient probabilistic rule
    on strict preferences (A. Gibbard, "Manipulation of schemes that mix voting with chance",
    Econometrica 1977).

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``.
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`; ``scores`` are the first-place counts. A profile with no non-empty
      ballot gets the uniform lottery.

    Raises:
      TypeError: if ``profile`` is not a :class:`Profile`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 1])
      >>> sc.random_dictatorship(p).lottery.tolist()
      [0.75, 0.25, 0.0]
    """

    return _run(_random_dictatorship_1, profile, batch_size)


# ----------------------------------------------------------------------------- Condorcet methods


def _copeland_1(marg, voters):
    tol = _vtol(voters, marg.dtype)
    off = ~jnp.eye(marg.shape[-1], dtype=bool)
    scores = ((marg > tol) + 0.5 * ((jnp.abs(marg) <= tol) & off)).sum(-1)
    return _from_scores(scores.astype(marg.dtype), 0.25, marg.dtype)


def copeland(profile: Profile | MarginGraph, *, batch_size: int | None = None) -> Outcome:
    r"""Copeland: one point per pairwise majority win, half a point per pairwise tie.

    ``scores[a] = #{b: M[a, b] > 0} + #{b != a: M[a, b] = 0} / 2``; the winners have the most
    points (the same set as pref_voting's 1/0/-1 scoring). Condorcet-consistent. A. H. Copeland,
    "A reasonable social welfare function", 1951.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``, or its
        :class:`MarginGraph` ``[*batch, m, m]`` (the same answer).
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome` whose ``scores`` are the Copeland scores.

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> cycle = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
      >>> sc.copeland(cycle).winners.tolist()
      [True, True, True]
    """

    return _run_margins(_copeland_1, profile, batch_size)


def _minimax_1(marg, voters):
    scores = 0.0 - jnp.maximum(marg, 0.0).max(0)
    return _from_scores(scores, _vtol(voters, marg.dtype), marg.dtype)


def minimax(profile: Profile | MarginGraph, *, batch_size: int | None = None) -> Outcome:
    r"""Minimax (Simpson-Kramer): the candidates whose worst pairwise defeat is smallest.

    ``scores[a] = -max_b max(M[b, a], 0)`` (minus the largest margin by which ``a`` loses, the
    "margins" variant; zero for an undefeated candidate). Condorcet-consistent. P. B. Simpson,
    "On defining areas of voter choice", QJE 1969; G. H. Kramer, "A dynamical model of
    political equilibrium", JET 1977.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``, or its
        :class:`MarginGraph` ``[*batch, m, m]`` (the same answer).
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`.

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.minimax(p).scores.tolist()
      [0.0, -1.0, -5.0]
    """

    return _run_margins(_minimax_1, profile, batch_size)


def _widest_paths(d):
    """Floyd-Warshall for widest (bottleneck) paths: ``p[a, b] = max_path min_edge d``."""
    m = d.shape[-1]

    def body(k, p):
        return jnp.maximum(p, jnp.minimum(p[:, k, None], p[None, k, :]))

    return jax.lax.fori_loop(0, m, body, d)


def _schulze_1(marg, voters):
    tol = _vtol(voters, marg.dtype)
    p = _widest_paths(jnp.where(marg > tol, marg, 0.0))
    beats = p > p.T + tol
    scores = -beats.sum(0).astype(marg.dtype)
    winners = scores == 0
    return _outcome(winners, scores, _positions(scores, 0.5), marg.dtype)


def schulze(profile: Profile | MarginGraph, *, batch_size: int | None = None) -> Outcome:
    r"""Schulze (beat path): compare candidates by the strength of their strongest paths.

    Edge weights are the margins of the strict majority relation (``d[a, b] = M[a, b]`` when
    ``M[a, b] > 0``, else no edge); ``p[a, b]`` is the widest-path strength from ``a`` to ``b``
    (Floyd-Warshall); ``a`` beats ``b`` when ``p[a, b] > p[b, a]``, which is transitive. The
    winners are the candidates no one beats (pref_voting's ``beat_path``); ``scores[a]`` is
    minus the number of candidates beating ``a``, and ``ranking`` is the Schulze order. M.
    Schulze, "A new monotonic, clone-independent, reversal symmetric, and Condorcet-consistent
    single-winner election method", Social Choice and Welfare 2011.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``, or its
        :class:`MarginGraph` ``[*batch, m, m]`` (the same answer).
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`.

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.schulze(tennessee).ranking.tolist()   # N > C > K > M
      [3, 0, 1, 2]
    """

    return _run_margins(_schulze_1, profile, batch_size)


def _ranked_pairs_1(marg, voters, order):
    m = marg.shape[-1]
    if m == 1:   # no pair to lock: the one candidate wins (scan cannot trace an empty body)
        return _outcome(jnp.ones(1, bool), jnp.zeros(1, marg.dtype), jnp.zeros(1, jnp.int32),
                        marg.dtype)
    pairs = np.array([(a, b) for a in range(m) for b in range(m) if a != b], dtype=np.int32)
    src, dst = jnp.asarray(pairs[:, 0]), jnp.asarray(pairs[:, 1])
    tol = _vtol(voters, marg.dtype)
    pos = jnp.zeros(m, jnp.int32).at[order].set(jnp.arange(m, dtype=jnp.int32))
    strength = jnp.where(jnp.abs(marg) <= tol, 0.0, marg)[src, dst]
    valid = strength >= 0
    # sort edges by strength (largest first), equal strengths by the tie-breaking positions
    secondary = pos[src] * m + pos[dst]
    idx = jnp.argsort(secondary, stable=True)
    idx = idx[jnp.argsort(-jnp.where(valid, strength, -1.0)[idx], stable=True)]

    def lock(reach, e):
        a, b, ok = src[e], dst[e], valid[e]
        add = ok & ~reach[b, a]
        pred = reach[:, a].at[a].set(True)
        succ = reach[b, :].at[b].set(True)
        return reach | (add & pred[:, None] & succ[None, :]), None

    reach, _ = jax.lax.scan(lock, jnp.zeros((m, m), bool), idx)
    above = reach.sum(0).astype(jnp.int32)  # candidates locked above each one
    winners = above == 0
    return _outcome(winners, -above.astype(marg.dtype), above, marg.dtype)


def ranked_pairs(profile: Profile | MarginGraph, tie_breaker=None, *,
                 batch_size: int | None = None) -> Outcome:
    r"""Ranked pairs (Tideman), with equal margins ordered by a fixed tie-breaking order.

    Every ordered pair ``(a, b)`` with ``M[a, b] >= 0`` is an edge (a pairwise tie gives an edge
    each way, with strength 0). Edges are sorted by margin, largest first; edges of equal
    margin are ordered lexicographically by the positions of ``(a, b)`` in ``tie_breaker``.
    Each edge in turn is locked in unless it would close a cycle with those already locked. The
    locked edges form a linear order whose first candidate is the single winner. This is
    pref_voting's ``ranked_pairs_tb`` (the resolute variant); when all nonnegative margins
    differ it agrees with the irresolute "parallel universes" variant (``ranked_pairs``), which
    takes the union of winners over every tie-breaking. T. N. Tideman, "Independence of clones
    as a criterion for voting rules", Social Choice and Welfare 1987.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``, or its
        :class:`MarginGraph` ``[*batch, m, m]`` (the same answer).
      tie_breaker: ``int [*batch, m]`` a permutation of the candidates (earlier = its edges are
        locked first among equal margins); default ``0, 1, ..., m - 1``. A leaf: it can be
        traced and ``vmap``-ed.
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`: one winner; ``ranking`` is the locked linear order and ``scores`` is
      minus each candidate's position in it.

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int, or a concrete
        ``tie_breaker`` is not a permutation of the candidates.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.ranked_pairs(tennessee).winners.tolist()
      [False, True, False, False]
    """
    profile = _check_margin_input(profile)
    m = profile.num_candidates
    if tie_breaker is None:
        tie_breaker = jnp.arange(m, dtype=jnp.int32)
    tb = jnp.asarray(tie_breaker)
    if not jnp.issubdtype(tb.dtype, jnp.integer):
        raise TypeError(f"tie_breaker must be an integer array, got dtype {tb.dtype}")
    if tb.shape[-1:] != (m,):
        raise ValueError(f"tie_breaker must have shape [*batch, {m}], got {tuple(tb.shape)}")
    if not isinstance(tb, jax.core.Tracer):
        t = np.asarray(tb)
        if np.any(np.sort(t, -1) != np.arange(m)):
            raise ValueError("tie_breaker must be a permutation of the candidates 0..m-1")
    tb = jnp.broadcast_to(tb.astype(jnp.int32), profile.batch_shape + (m,))
    return _run_margins(_ranked_pairs_1, profile, batch_size, tb)


def _instant_runoff_1(ranks, counts):
    m = ranks.shape[-1]
    tol = _tol(counts)

    def round_(t, state):
        remaining, out = state
        votes = counts @ _tops(ranks, remaining)
        low = votes.min(where=remaining, initial=jnp.inf)
        lowest = remaining & (votes <= low + tol)
        finished = (remaining.sum() <= 1) | (lowest.sum() == remaining.sum())
        eliminate = jnp.where(finished, False, lowest)
        out = jnp.where(eliminate, t, out)
        return remaining & ~eliminate, out

    remaining, out = jax.lax.fori_loop(
        0, m, round_, (jnp.ones(m, bool), jnp.full(m, m, jnp.int32)))
    scores = out.astype(counts.dtype)
    return _outcome(remaining, scores, _positions(scores, 0.5), counts.dtype)


def instant_runoff(profile: Profile, *, batch_size: int | None = None) -> Outcome:
    r"""Instant runoff (Hare, alternative vote): eliminate the weakest until one remains.

    Each round counts every ballot for its first choice among the remaining candidates (a ballot
    with ``k`` tied first choices gives each ``1/k``; an exhausted ballot gives nothing) and
    eliminates *all* candidates with the fewest votes at once (pref_voting's
    ``instant_runoff`` without a tie-breaker). It stops when one candidate remains, or when all
    remaining candidates tie, who then all win. T. Hare, "The Election of Representatives",
    1859.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``.
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome`: ``scores`` is the round in which each candidate was eliminated
      (``m`` for the winners) and ``ranking`` orders by it (last eliminated first).

    Raises:
      TypeError: if ``profile`` is not a :class:`Profile`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.instant_runoff(tennessee).winners.tolist()   # Knoxville
      [False, False, False, True]
    """

    return _run(_instant_runoff_1, profile, batch_size)


# ----------------------------------------------------------------------------- Kemeny-Young


@functools.cache
def _subset_tables(m: int):
    """Static tables of the subset dynamic programme over ``2^m`` candidate sets.

    Returns the membership matrix ``[2^m, m]`` and, per subset size ``k``, the subsets of that
    size ``[C(m, k)]`` with their children ``S \\ {c}`` ``[C(m, k), m]`` (``-1`` when
    ``c`` is not in ``S``).
    """
    n = 1 << m
    member = ((np.arange(n)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)
    sizes = member.sum(1)
    layers = []
    for k in range(1, m + 1):
        sets = np.flatnonzero(sizes == k)
        child = np.where(member[sets], sets[:, None] ^ (1 << np.arange(m))[None, :], -1)
        layers.append((sets.astype(np.int32), child.astype(np.int32)))
    return member, layers


def _kemeny_young_1(marg, voters):
    m = marg.shape[-1]
    member_np, layers = _subset_tables(m)
    member = jnp.asarray(member_np)
    full = (1 << m) - 1
    tol = _vtol(voters, marg.dtype)
    # gain[S, c] = sum_{b in S} M[c, b]: c placed first above the rest of S
    gain = member.astype(marg.dtype) @ marg.T
    g = jnp.zeros(1 << m, marg.dtype)
    for sets, child in layers:
        cand = jnp.where(child >= 0, gain[sets] + g[jnp.maximum(child, 0)], -jnp.inf)
        g = g.at[sets].set(cand.max(-1))
    top = gain[full] + g[full ^ (1 << jnp.arange(m))]
    winners = top >= g[full] - tol

    def place(s, _):
        here = member[s]
        val = jnp.where(here, gain[s] + g[s ^ (1 << jnp.arange(m))], -jnp.inf)
        c = jnp.argmax(val >= g[s] - tol)
        return s ^ (1 << c), c

    _, order = jax.lax.scan(place, jnp.asarray(full), None, length=m)
    ranking = jnp.zeros(m, jnp.int32).at[order].set(jnp.arange(m, dtype=jnp.int32))
    return _outcome(winners, top, ranking, marg.dtype)


def kemeny_young(profile: Profile | MarginGraph, *, batch_size: int | None = None) -> Outcome:
    r"""Kemeny-Young: the rankings that agree with the most pairwise preferences, exactly.

    A ranking :math:`L` scores :math:`\sum_{a \succ_L b} M[a, b]` (equivalently, it minimises the
    total Kendall-tau distance to the ballots); the winners are the candidates ranked first by
    *some* optimal ranking (pref_voting's ``kemeny_young``). Solved exactly by dynamic
    programming over subsets, :math:`g(S) = \max_{c \in S} [\sum_{b \in S \setminus c} M[c, b]
    + g(S \setminus c)]`, in :math:`O(2^m m^2)` per profile instead of :math:`m!` orderings
    (N. Betzler, M. R. Fellows, J. Guo, R. Niedermeier and F. A. Rosamond, "Fixed-parameter
    algorithms for Kemeny rankings", TCS 2009); ``c`` wins when it attains the maximum at the
    top level. J. G. Kemeny, "Mathematics without numbers", Daedalus 1959; H. P. Young and A.
    Levenglick, "A consistent extension of Condorcet's election principle", SIAM J. Appl. Math.
    1978.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]`` or its :class:`MarginGraph`, with
        ``m <=`` :data:`MAX_KEMENY_CANDIDATES` (12).
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once;
        each profile holds a ``[2^m, m]`` table).

    Returns:
      An :class:`Outcome`: ``scores[c]`` is the best Kemeny score of a ranking that puts ``c``
      first; ``ranking`` is one optimal ranking (at each position the lowest-index candidate
      that keeps it optimal).

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if the profile has more than :data:`MAX_KEMENY_CANDIDATES` candidates, or
        ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> sc.kemeny_young(tennessee).ranking.tolist()   # N > C > K > M
      [3, 0, 1, 2]
    """
    profile = _check_margin_input(profile)
    m = profile.num_candidates
    if m > MAX_KEMENY_CANDIDATES:
        raise ValueError(f"kemeny_young is exact by dynamic programming over the 2^m subsets of "
                         f"candidates and accepts at most {MAX_KEMENY_CANDIDATES} candidates; "
                         f"this profile has {m}")
    return _run_margins(_kemeny_young_1, profile, batch_size)


# ----------------------------------------------------------------------------- lotteries


@functools.partial(jax.jit, static_argnames=("batch_size",))
def _maximal_lotteries_batch(data, *, batch_size):
    # One batched solve over the stacked margin games (solve's own batching: the simplex runs
    # as one loop over the batch), not a solve per profile inside a vmap.
    marg, voters = _graph_arrays(data)
    dtype = marg.dtype
    scale = jnp.maximum(voters, 1.0)[..., None, None]
    eq = solve(NormalFormGame.zero_sum(marg / scale), ZeroSumLP(), throw=False,
               batch_size=batch_size)
    lottery = jnp.clip(eq.strategies[0], 0.0, None)
    lottery = lottery / lottery.sum(-1, keepdims=True)
    winners = lottery > lp_tol(dtype)
    return _outcome(winners, lottery, _positions(lottery, lp_tol(dtype)), dtype,
                    lottery=lottery, result=eq.result)


def maximal_lotteries(profile: Profile | MarginGraph, *,
                      batch_size: int | None = None) -> Outcome:
    r"""Maximal lotteries: the optimal mixed strategies of the symmetric zero-sum margin game.

    A lottery :math:`p` is maximal when :math:`p^\top M q \ge 0` for every lottery :math:`q`:
    no other lottery is preferred by a majority in expectation. It is the maximin strategy of
    the zero-sum game with payoff matrix ``M``, solved here by one batched
    ``solvers.solve(NormalFormGame.zero_sum(M / voters), ZeroSumLP(), throw=False)`` over the
    stacked margin games (a failed solve shows in ``result``; it does not raise). When the
    margins are all odd (an odd number of voters with strict, complete ballots) the maximal
    lottery is unique (Laffond, Laslier and Le Breton 1997); otherwise the set of maximal
    lotteries is a polytope and this returns the extreme point the primal simplex reaches. ``winners`` is its support
    (probability above ``lp_tol``). It elects a Condorcet winner with probability one. P. C.
    Fishburn, "Probabilistic social choice based on simple voting comparisons", Review of
    Economic Studies 1984; F. Brandt, "Rolling the dice: recent results in probabilistic social
    choice", 2017.

    Args:
      profile: a :class:`Profile` ``[*batch, ballots, m]``, or its
        :class:`MarginGraph` ``[*batch, m, m]`` (the same answer).
      batch_size: evaluate the batch in chunks of this many profiles (``None``: all at once).

    Returns:
      An :class:`Outcome` with the maximal lottery in ``lottery`` (also ``scores``) and the
      LP's result code in ``result``.

    Raises:
      TypeError: if ``profile`` is neither a :class:`Profile` nor a :class:`MarginGraph`.
      ValueError: if ``batch_size`` is not ``None`` or a positive int.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> cycle = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
      >>> sc.maximal_lotteries(cycle).lottery.round(6).tolist()
      [0.333333, 0.333333, 0.333333]
    """

    profile = _check_margin_input(profile)
    return _maximal_lotteries_batch(profile, batch_size=check_batch_size(batch_size))

