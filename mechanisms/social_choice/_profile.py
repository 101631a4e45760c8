r"""Preference profiles: ranked ballots with counts, ties and truncation, as batched arrays.

A profile over ``m`` candidates is a set of ballots, each cast by ``counts[k]`` voters. Ballot
``k`` is stored as the *rank position* of every candidate: ``ranks[k, c] = 0`` for the
candidate(s) ranked first, ``1`` for the next, and so on; candidates tied on a ballot share a
position, and a candidate the ballot leaves out (a truncated ballot) holds the sentinel
``m`` (one past the last position). Candidate ``a`` is *strictly
preferred* to ``b`` on ballot ``k`` when ``ranks[k, a] < ranks[k, b]``, so ranked candidates are
preferred to unranked ones and unranked candidates are tied with each other (the "extended
strict preference" reading of truncated ballots, as PrefLib's ``soi``/``toi`` files intend).

Leading axes are batch axes: ``ranks [*batch, ballots, candidates]`` and
``counts [*batch, ballots]``; a ballot with count zero is padding (it changes nothing), which is
how profiles with different numbers of distinct ballots share one array shape.

The pairwise summaries every Condorcet method reads:

.. math::
    S[a, b] = \sum_k n_k [r_{k a} < r_{k b}], \qquad M = S - S^\top, \qquad
    W[a, b] = [M[a, b] > 0],

the *support* (voters preferring ``a`` to ``b``), the *margin matrix* and the *majority
matrix*. A *Condorcet winner* beats every other candidate (``M[a, b] > 0`` for all ``b != a``);
a *Condorcet loser* loses to every other.

References:
  M. de Condorcet, "Essai sur l'application de l'analyse à la probabilité des décisions rendues
  à la pluralité des voix", 1785.
  F. Brandt, V. Conitzer, U. Endriss, J. Lang and A. D. Procaccia (eds.), "Handbook of
  Computational Social Choice", Cambridge University Press, 2016 (chapter 1 for the notation).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import as_float_array, check_finite, is_concrete, pytree_dataclass

__all__ = [
    "MarginGraph",
    "Profile",
    "condorcet_loser",
    "condorcet_winner",
    "majority_matrix",
    "margin_matrix",
    "support_matrix",
]


@pytree_dataclass(init=False)
class Profile:
    """A batch of ranked-ballot preference profiles (a pytree; every leaf has the batch axes).

    Attributes:
      ranks: ``int32 [*batch, ballots, candidates]``: the position of each candidate on each
        ballot (``0`` = first); tied candidates share a position; an unranked candidate holds
        ``candidates`` (the sentinel one past the last position).
      counts: ``float [*batch, ballots]``: how many voters cast each ballot (``>= 0``; zero rows
        are padding; fractional weights are allowed).

    Raises:
      TypeError: if ``ranks`` is not an integer array or ``counts`` is not numeric.
      ValueError: if the shapes disagree, there is no candidate or ballot, a concrete rank lies
        outside ``[0, candidates]``, or a concrete count is negative or not finite.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> p.ranks.tolist(), p.num_candidates, float(p.num_voters)
      ([[0, 1, 2], [2, 0, 1]], 3, 5.0)
    """

    ranks: jax.Array
    counts: jax.Array

    def __init__(self, ranks, counts=None):
        if isinstance(ranks, jax.core.Tracer):
            r = ranks
        else:
            arr = np.asarray(ranks)
            if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
                if arr.size == 0 or arr.dtype == object:
                    raise TypeError(f"ranks must be an integer array, got dtype {arr.dtype}")
                if not np.issubdtype(arr.dtype, np.floating) or np.any(arr != np.round(arr)):
                    raise TypeError(f"ranks must be an integer array, got dtype {arr.dtype}")
            r = jnp.asarray(arr)
        if r.ndim < 2:
            raise ValueError(f"ranks must have shape [*batch, ballots, candidates]; got rank "
                             f"{r.ndim}")
        if r.shape[-1] == 0 or r.shape[-2] == 0:
            raise ValueError(f"a profile needs at least one ballot and one candidate; ranks has "
                             f"shape {tuple(r.shape)}")
        r = r.astype(jnp.int32)
        m = r.shape[-1]
        if is_concrete(r):
            rn = np.asarray(r)
            if np.any((rn < 0) | (rn > m)):
                raise ValueError(f"ranks must lie in [0, {m}] ({m} marks an unranked candidate); "
                                 f"got values in [{rn.min()}, {rn.max()}]")
        if counts is None:
            counts = jnp.ones(r.shape[:-1], dtype=jnp.result_type(float))
        c = as_float_array(counts, "counts")
        if tuple(c.shape) != tuple(r.shape[:-1]):
            raise ValueError(f"counts must have shape {tuple(r.shape[:-1])} (ranks' shape "
                             f"without the candidate axis); got {tuple(c.shape)}")
        check_finite(c, "counts")
        if is_concrete(c) and np.any(np.asarray(c) < 0):
            raise ValueError(f"counts must be non-negative; min entry {np.asarray(c).min()}")
        object.__setattr__(self, "ranks", r)
        object.__setattr__(self, "counts", c)

    # -- shape information -------------------------------------------------------------------
    @property
    def num_candidates(self) -> int:
        """``m``, the number of candidates (static)."""
        return self.ranks.shape[-1]

    @property
    def num_ballots(self) -> int:
        """The number of ballot rows (distinct ballots plus padding; static)."""
        return self.ranks.shape[-2]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.ranks.shape[:-2])

    @property
    def num_voters(self) -> jax.Array:
        """``[*batch]`` total count of voters."""
        return self.counts.sum(-1)

    def __getitem__(self, index) -> Profile:
        """Index the batch axes: ``profiles[3]`` is the fourth profile of a batch."""
        if not self.batch_shape:
            raise IndexError("this profile is not batched; there is nothing to index")
        return Profile(self.ranks[index], self.counts[index])

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def from_orders(cls, orders, counts=None) -> Profile:
        """Profile from strict orders: ``orders[..., k, j]`` is the candidate in position ``j``.

        Args:
          orders: ``int [*batch, ballots, candidates]``, each row a permutation of
            ``0..m-1`` best first; a row may be truncated by padding its tail with ``-1``.
          counts: ``[*batch, ballots]`` voters per ballot (default one each).

        Raises:
          TypeError: if ``orders`` is not an integer array.
          ValueError: if a concrete row repeats a candidate or holds a value outside
            ``[-1, m)``, or a ``-1`` is followed by a candidate.

        Example:
          >>> from socialign.mechanisms import social_choice as sc
          >>> sc.Profile.from_orders([[2, 0, -1]]).ranks.tolist()
          [[1, 3, 0]]
        """
        o = jnp.asarray(orders)
        if not jnp.issubdtype(o.dtype, jnp.integer):
            raise TypeError(f"orders must be an integer array, got dtype {o.dtype}")
        if o.ndim < 2:
            raise ValueError(f"orders must have shape [*batch, ballots, candidates]; got rank "
                             f"{o.ndim}")
        m = o.shape[-1]
        if is_concrete(o):
            on = np.asarray(o)
            if np.any((on < -1) | (on >= m)):
                raise ValueError(f"orders must hold candidates in [0, {m}) or -1 (unranked)")
            valid = on >= 0
            if np.any(~valid[..., :-1] & valid[..., 1:]):
                raise ValueError("orders: a -1 (end of a truncated ballot) is followed by a "
                                 "candidate")
            srt = np.sort(on, axis=-1)
            if np.any((srt[..., 1:] == srt[..., :-1]) & (srt[..., 1:] >= 0)):
                raise ValueError("orders: a ballot lists a candidate twice")
        o = o.astype(jnp.int32)
        pos = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32), o.shape)
        # scatter: ranks[o[j]] = j for ranked positions; -1 entries go to a dump column
        target = jnp.where(o >= 0, o, m)
        ranks = jnp.full(o.shape[:-1] + (m + 1,), m, dtype=jnp.int32)
        ranks = jnp.put_along_axis(ranks, target, pos, axis=-1, inplace=False)
        return cls(ranks[..., :m], counts)

    @classmethod
    def from_ballots(cls, ballots: Sequence, num_candidates: int, counts=None) -> Profile:
        """Profile from Python ballots with ties and truncation (concrete inputs only).

        Args:
          ballots: a list of ballots; a ballot lists its positions best first, each position a
            candidate index or a tuple/list/set of candidates tied there; candidates not listed
            are unranked (tied below every listed one).
          num_candidates: ``m``.
          counts: voters per ballot (default one each).

        Raises:
          TypeError: if a candidate is not an integer (1.7 was read as candidate 1).
          ValueError: if a candidate is out of range or listed twice on a ballot.

        Example:
          >>> from socialign.mechanisms import social_choice as sc
          >>> sc.Profile.from_ballots([[1, (0, 2)], [2]], 4).ranks.tolist()
          [[1, 0, 1, 4], [4, 4, 0, 4]]
        """
        m = int(num_candidates)
        out = np.full((len(ballots), m), m, dtype=np.int32)
        for k, ballot in enumerate(ballots):
            for j, group in enumerate(ballot):
                members = [group] if np.isscalar(group) else list(group)
                for c in members:
                    if isinstance(c, bool) or not isinstance(c, int | np.integer):
                        raise TypeError(f"ballot {k}: candidate {c!r} is not an integer index")
                    c = int(c)
                    if not 0 <= c < m:
                        raise ValueError(f"ballot {k}: candidate {c} is outside [0, {m})")
                    if out[k, c] != m:
                        raise ValueError(f"ballot {k}: candidate {c} is listed twice")
                    out[k, c] = j
        return cls(out, counts)


@pytree_dataclass(init=False)
class MarginGraph:
    r"""The margins of a batch of profiles: all that a margin-based rule reads (a pytree).

    Copeland, minimax, Schulze, ranked pairs, Kemeny-Young and maximal lotteries depend on a
    profile only through its margin matrix ``M`` (the weighted majority graph; pref_voting's
    ``MarginGraph``, W. Holliday and E. Pacuit). Computing ``M`` reads every ballot and is
    most of such a rule's work on a large electorate, so a batch that several rules will read
    can have it computed once, :meth:`from_profile`, and each of those rules accepts the
    ``MarginGraph`` in place of the :class:`Profile` with the same answer.

    Attributes:
      margins: ``float [*batch, m, m]``: ``M[a, b]``, skew-symmetric (voters).
      num_voters: ``float [*batch]``: the electorate's size; it scales the rules' tie
        tolerance ``lp_tol(dtype) * max(num_voters, 1)``, as for a profile.

    Args:
      margins: the margin matrices.
      num_voters: the number of voters; default ``max |M|`` of each matrix (the smallest
        electorate that can produce it).

    Raises:
      TypeError: if ``margins`` is not numeric.
      ValueError: if ``margins`` is not ``[*batch, m, m]`` with ``m >= 1``, ``num_voters`` is
        not ``[*batch]``, or concrete values are not finite, ``margins`` is not skew-symmetric
        (up to ``1e-9`` of its largest entry) or ``num_voters`` is negative.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> g = sc.MarginGraph.from_profile(p)
      >>> g.margins.tolist(), float(g.num_voters)
      ([[0.0, 1.0, 1.0], [-1.0, 0.0, 5.0], [-1.0, -5.0, 0.0]], 5.0)
      >>> sc.schulze(g).winners.tolist() == sc.schulze(p).winners.tolist()
      True
    """

    margins: jax.Array
    num_voters: jax.Array

    def __init__(self, margins, num_voters=None):
        M = as_float_array(margins, "margins")
        if M.ndim < 2 or M.shape[-1] != M.shape[-2] or M.shape[-1] == 0:
            raise ValueError(f"margins must have shape [*batch, m, m] with m >= 1; got "
                             f"{tuple(M.shape)}")
        check_finite(M, "margins")
        if is_concrete(M):
            Mn = np.asarray(M)
            scale = max(float(np.abs(Mn).max(initial=0.0)), 1.0)
            if np.abs(Mn + np.swapaxes(Mn, -1, -2)).max(initial=0.0) > 1e-9 * scale:
                raise ValueError("margins must be skew-symmetric (M[a, b] = -M[b, a])")
        if num_voters is None:
            num_voters = jnp.abs(M).max(axis=(-2, -1))
        n = as_float_array(num_voters, "num_voters", dtype=M.dtype)
        if tuple(n.shape) != tuple(M.shape[:-2]):
            raise ValueError(f"num_voters must have shape {tuple(M.shape[:-2])} (the batch "
                             f"shape); got {tuple(n.shape)}")
        check_finite(n, "num_voters")
        if is_concrete(n) and np.any(np.asarray(n) < 0):
            raise ValueError("num_voters must be non-negative")
        object.__setattr__(self, "margins", M)
        object.__setattr__(self, "num_voters", n)

    @classmethod
    def from_profile(cls, profile: Profile) -> MarginGraph:
        """The margins and electorate of ``profile`` (:func:`margin_matrix`, ``num_voters``).

        Raises:
          TypeError: if ``profile`` is not a :class:`Profile`.
        """
        if not isinstance(profile, Profile):
            raise TypeError(f"profile must be a Profile, got {type(profile).__name__}")
        return cls(margin_matrix(profile), profile.num_voters)

    @property
    def num_candidates(self) -> int:
        """``m`` (static)."""
        return self.margins.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.margins.shape[:-2])

    def __getitem__(self, index) -> MarginGraph:
        """Index the batch axes."""
        if not self.batch_shape:
            raise IndexError("this margin graph is not batched; there is nothing to index")
        return MarginGraph(self.margins[index], self.num_voters[index])


def _strict(profile: Profile) -> jax.Array:
    """``bool [*batch, ballots, m, m]``: ballot prefers ``a`` strictly to ``b``."""
    r = profile.ranks
    return r[..., :, None] < r[..., None, :]


def support_matrix(profile: Profile) -> jax.Array:
    r"""``S[a, b]``: the number of voters ranking ``a`` strictly above ``b``.

    Shapes: ``[*batch, m, m]`` in the counts' dtype (voters), zero diagonal.
    :math:`S[a, b] = \sum_k n_k [r_{ka} < r_{kb}]`.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.support_matrix(p).tolist()
      [[0.0, 3.0, 3.0], [2.0, 0.0, 5.0], [2.0, 0.0, 0.0]]
    """
    # a masked sum (not an einsum) so that XLA fuses the comparison into the reduction instead
    # of materialising the [ballots, m, m] tensor
    c = profile.counts[..., :, None, None]
    return jnp.where(_strict(profile), c, jnp.zeros((), c.dtype)).sum(-3)


def margin_matrix(profile: Profile) -> jax.Array:
    r"""The margin matrix ``M = S - S^T``: how many more voters prefer ``a`` to ``b`` than not.

    Shapes: ``[*batch, m, m]``, skew-symmetric (voters). The source of every Condorcet method
    and the payoff matrix of the maximal-lottery game (Fishburn 1984).

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.margin_matrix(p).tolist()
      [[0.0, 1.0, 1.0], [-1.0, 0.0, 5.0], [-1.0, -5.0, 0.0]]
    """
    return _margins(profile.ranks, profile.counts)


def _margins(ranks, counts):
    r"""``M`` of ``ranks [*batch, ballots, m]`` and ``counts [*batch, ballots]``.

    Only the ``m (m - 1) / 2`` pairs ``a < b`` are counted,
    :math:`M[a, b] = \sum_k n_k \operatorname{sign}(r_{kb} - r_{ka})`, with the ballot axis
    last so the compare-and-add fuses into one vectorised reduction: on CPU about half the time
    of ``S - S^T`` (every rule that reads margins spends most of its time here on large
    electorates). Integer counts give exact margins.
    """
    m = ranks.shape[-1]
    ia, ib = np.triu_indices(m, 1)
    rt = jnp.swapaxes(ranks, -1, -2)  # [*batch, m, ballots]
    x, y = rt[..., ia, :], rt[..., ib, :]  # [*batch, pairs, ballots]
    c = counts[..., None, :]
    zero = jnp.zeros((), counts.dtype)
    upper = jnp.where(x < y, c, jnp.where(y < x, -c, zero)).sum(-1)  # [*batch, pairs]
    out = jnp.zeros(upper.shape[:-1] + (m, m), counts.dtype).at[..., ia, ib].set(upper)
    return out - jnp.swapaxes(out, -1, -2)


def majority_matrix(profile: Profile) -> jax.Array:
    """``W[a, b] = M[a, b] > 0``: a strict majority prefers ``a`` to ``b`` (``bool [*batch, m, m]``).

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
      >>> sc.majority_matrix(p).astype(int).tolist()
      [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    """
    return margin_matrix(profile) > 0


def condorcet_winner(profile: Profile) -> jax.Array:
    """``bool [*batch, m]``: the Condorcet winner (beats every other candidate), if any.

    At most one entry is true; all are false when there is no Condorcet winner.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.condorcet_winner(p).tolist()
      [True, False, False]
    """
    w = majority_matrix(profile)
    m = profile.num_candidates
    return w.sum(-1) == m - 1


def condorcet_loser(profile: Profile) -> jax.Array:
    """``bool [*batch, m]``: the Condorcet loser (loses to every other candidate), if any.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.condorcet_loser(p).tolist()
      [False, False, True]
    """
    w = majority_matrix(profile)
    m = profile.num_candidates
    return w.sum(-2) == m - 1
