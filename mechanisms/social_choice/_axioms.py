r"""Axiom checkers: test a voting rule on a batch of profiles and return counterexamples.

Each check runs the rule on a batch of profiles (and on the profiles' one-voter variants where
the axiom compares two elections) and reports, per profile, whether the axiom is violated:

- ``"condorcet_winner"``: a Condorcet winner exists and the winner set is not exactly it;
- ``"condorcet_loser"``: a Condorcet loser exists and is among the winners;
- ``"pareto"``: a winner ``b`` is Pareto-dominated (some ``a`` is strictly preferred to ``b`` on
  every ballot with a positive count);
- ``"monotonicity"``: raising a winner ``w`` (the lowest-index one) on one voter's ballot, by
  swapping it with the candidate directly above it, makes ``w`` lose;
- ``"participation"`` (the no-show paradox): one voter who abstains gets an outcome it strictly
  prefers: every winner without its ballot beats every winner with it, on that ballot.

A variant moves a single voter: the profile gains one row (the changed ballot, count one) and
the voter's row loses one count, so every variant of a batch has the same shape and all of them
go through the rule in one batched call. :func:`find_violation` draws random profiles from a
statistical culture and returns the first counterexample.

References:
  H. Moulin, "Condorcet's principle implies the no show paradox", JET 1988.
  P. C. Fishburn and S. J. Brams, "Paradoxes of preferential voting", Mathematics Magazine
  1983 (instant runoff is not monotonic).
  F. Brandt, V. Conitzer, U. Endriss, J. Lang and A. D. Procaccia (eds.), "Handbook of
  Computational Social Choice", 2016, chapter 2.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import check_positive_int, pytree_dataclass
from ._generators import impartial_culture, mallows, polya_urn, single_peaked
from ._profile import Profile, condorcet_loser, condorcet_winner

__all__ = ["AXIOMS", "AxiomCheck", "Counterexample", "check_axiom", "find_violation"]

AXIOMS = ("condorcet_winner", "condorcet_loser", "pareto", "monotonicity", "participation")


@pytree_dataclass
class AxiomCheck:
    """Per-profile result of :func:`check_axiom` (a pytree with the profiles' batch axes).

    Attributes:
      violated: ``bool [*batch]``: the axiom fails on this profile.
      winners: ``bool [*batch, m]``: the rule's winners on the profile.
      witness: a :class:`Profile` ``[*batch, ballots + 1, m]``: the variant that shows the
        violation (monotonicity, participation), else the profile padded with an empty row.
      witness_winners: ``bool [*batch, m]``: the rule's winners on ``witness``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_orders([[0, 1, 2], [1, 2, 0]], counts=[3, 2])
      >>> sc.check_axiom(sc.borda, "condorcet_winner", p).violated.tolist()
      True
    """

    violated: jax.Array
    winners: jax.Array
    witness: Profile
    witness_winners: jax.Array


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """A profile on which a rule violates an axiom (concrete, unbatched).

    Attributes:
      axiom: the axiom's name.
      profile: the :class:`Profile`.
      winners: ``bool [m]`` the rule's winners on it.
      witness: the variant profile (monotonicity, participation) or ``profile`` padded.
      witness_winners: ``bool [m]`` the rule's winners on ``witness``.
      index: the profile's position in the searched batch.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> cx = sc.find_violation(sc.plurality, "condorcet_winner", jax.random.key(0),
      ...                        num_profiles=64, num_voters=7, num_candidates=3)
      >>> cw = sc.condorcet_winner(cx.profile)
      >>> bool(cw.any()), bool((cw != cx.winners).any())   # a Condorcet winner, not elected alone
      (True, True)
    """

    axiom: str
    profile: Profile
    winners: np.ndarray
    witness: Profile
    witness_winners: np.ndarray
    index: int


def _append_voter(profile: Profile, k, new_ranks, new_count):
    """One voter leaves ballot ``k`` and casts ``new_ranks`` with weight ``new_count`` (0: the
    voter abstains) in an appended row (unbatched profile)."""
    ranks = jnp.concatenate([profile.ranks, new_ranks[None]], axis=0)
    counts = profile.counts.at[k].add(-1.0)
    counts = jnp.concatenate([counts, jnp.asarray(new_count, counts.dtype)[None]])
    return Profile(ranks, counts)


def _raise(ranks_k, w):
    """Swap ``w`` with the candidate directly above it on one ballot (no-op when it is first)."""
    above = ranks_k < ranks_k[w]
    c = jnp.argmax(jnp.where(above, ranks_k, -1))
    swapped = ranks_k.at[w].set(ranks_k[c]).at[c].set(ranks_k[w])
    return jnp.where(above.any(), swapped, ranks_k), above.any()


def _variants(profile: Profile, axiom: str, w):
    """``[ballots]`` one-voter variants of an unbatched profile and which of them are valid."""
    b = profile.num_ballots
    ks = jnp.arange(b)
    has_voter = profile.counts >= 1
    if axiom == "monotonicity":
        def one(k):
            new, moved = _raise(profile.ranks[k], w)
            return _append_voter(profile, k, new, 1.0), moved & has_voter[k]
    else:  # participation: the voter leaves (its row loses a count; the new row is empty)
        def one(k):
            return _append_voter(profile, k, profile.ranks[k], 0.0), has_voter[k]
    return jax.vmap(one)(ks)


def check_axiom(rule, axiom: str, profile: Profile) -> AxiomCheck:
    """Check one axiom of a voting rule on every profile of a batch.

    Args:
      rule: a voting rule of this package (a function ``Profile -> Outcome``, batched), e.g.
        :func:`~socialign.mechanisms.social_choice.schulze`.
      axiom: one of :data:`AXIOMS`.
      profile: a :class:`Profile` ``[*batch, ballots, m]``.

    Returns:
      An :class:`AxiomCheck` with the batch axes. The monotonicity and participation checks
      run the rule on ``ballots`` variants of each profile (one batched call of shape
      ``[*batch, ballots, ballots + 1, m]``).

    Raises:
      ValueError: if ``axiom`` is unknown.
      TypeError: if ``profile`` is not a :class:`Profile`.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> tennessee = sc.Profile.from_orders(
      ...     [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], counts=[42, 26, 15, 17])
      >>> bool(sc.check_axiom(sc.plurality, "condorcet_winner", tennessee).violated)
      True
    """
    if axiom not in AXIOMS:
        raise ValueError(f"axiom must be one of {AXIOMS}, got {axiom!r}")
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile, got {type(profile).__name__}")
    batch = profile.batch_shape
    m, b = profile.num_candidates, profile.num_ballots
    out = rule(profile)
    winners = out.winners
    pad = Profile(jnp.concatenate([profile.ranks, jnp.full(batch + (1, m), m, jnp.int32)], -2),
                  jnp.concatenate([profile.counts, jnp.zeros(batch + (1,), profile.counts.dtype)],
                                  -1))
    if axiom in ("condorcet_winner", "condorcet_loser", "pareto"):
        if axiom == "condorcet_winner":
            cw = condorcet_winner(profile)
            violated = cw.any(-1) & (winners != cw).any(-1)
        elif axiom == "condorcet_loser":
            violated = (condorcet_loser(profile) & winners).any(-1)
        else:
            r = profile.ranks
            voter = (profile.counts > 0)[..., :, None, None]
            prefers = (r[..., :, :, None] < r[..., :, None, :]) | ~voter  # a over b, per ballot
            dominated = prefers.all(-3).any(-2)  # some a beats b on every ballot
            violated = (dominated & winners).any(-1)
        return AxiomCheck(violated, winners, pad, winners)

    w = jnp.argmax(winners, axis=-1)
    flat = Profile(profile.ranks.reshape(-1, b, m), profile.counts.reshape(-1, b))
    var, valid = jax.vmap(lambda p, w_: _variants(p, axiom, w_))(flat, w.reshape(-1))
    # var: [B, ballots(variant), ballots + 1, m]
    vw = rule(var).winners  # [B, b, m]
    vw = vw.reshape(batch + (b, m))
    valid = valid.reshape(batch + (b,))
    var = jax.tree_util.tree_map(lambda x: x.reshape(batch + (b,) + x.shape[2:]), var)
    if axiom == "monotonicity":
        bad = valid & ~jnp.take_along_axis(vw, w[..., None, None], -1)[..., 0]
    else:
        r = profile.ranks  # [*batch, b, m]: the abstaining voter's own ballot
        big = m + 1
        worst_new = jnp.where(vw, r, -1).max(-1)  # the voter's worst winner without it
        best_old = jnp.where(winners[..., None, :], r, big).min(-1)  # best winner with it
        bad = valid & (worst_new < best_old)
    violated = bad.any(-1)
    first = jnp.argmax(bad, axis=-1)
    pick = lambda x: jnp.take_along_axis(  # noqa: E731
        x, first.reshape(batch + (1,) * (x.ndim - len(batch))), len(batch))[
        (slice(None),) * len(batch) + (0,)]
    witness = jax.tree_util.tree_map(pick, var)
    return AxiomCheck(violated, winners, witness, pick(vw))


_CULTURES = {
    "impartial_culture": lambda key, n, m, bs, p: impartial_culture(key, n, m, batch_shape=bs),
    "mallows": lambda key, n, m, bs, p: mallows(key, n, m, 0.7 if p is None else p,
                                                batch_shape=bs),
    "single_peaked": lambda key, n, m, bs, p: single_peaked(key, n, m, batch_shape=bs),
    "polya_urn": lambda key, n, m, bs, p: polya_urn(key, n, m, 0.1 if p is None else p,
                                                    batch_shape=bs),
}


def find_violation(rule, axiom: str, key, *, num_profiles: int = 256, num_voters: int = 9,
                   num_candidates: int = 4, culture: str = "impartial_culture",
                   parameter=None) -> Counterexample | None:
    """Search random profiles for a violation of ``axiom`` by ``rule``; return the first.

    Args:
      rule: a voting rule of this package (``Profile -> Outcome``).
      axiom: one of :data:`AXIOMS`.
      key: a JAX PRNG key.
      num_profiles: how many profiles to draw (one batched call).
      num_voters: voters per profile.
      num_candidates: candidates per profile.
      culture: ``"impartial_culture"``, ``"mallows"``, ``"single_peaked"`` or
        ``"polya_urn"``.
      parameter: the culture's parameter (Mallows dispersion, default 0.7; urn replacement,
        default 0.1).

    Returns:
      A :class:`Counterexample`, or ``None`` when no drawn profile violates the axiom (which is
      evidence, not proof, that the rule satisfies it).

    Raises:
      ValueError: if ``axiom`` or ``culture`` is unknown or a size is not a positive int.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> sc.find_violation(sc.schulze, "condorcet_winner", jax.random.key(0),
      ...                   num_profiles=64, num_voters=7, num_candidates=3) is None
      True
    """
    if axiom not in AXIOMS:
        raise ValueError(f"axiom must be one of {AXIOMS}, got {axiom!r}")
    if culture not in _CULTURES:
        raise ValueError(f"culture must be one of {tuple(_CULTURES)}, got {culture!r}")
    num_profiles = check_positive_int(num_profiles, "num_profiles")
    profiles = _CULTURES[culture](key, num_voters, num_candidates, (num_profiles,), parameter)
    check = check_axiom(rule, axiom, profiles)
    violated = np.asarray(check.violated)
    if not violated.any():
        return None
    i = int(np.flatnonzero(violated)[0])
    return Counterexample(axiom, profiles[i], np.asarray(check.winners[i]), check.witness[i],
                          np.asarray(check.witness_winners[i]), i)
