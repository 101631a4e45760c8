r"""Random preference profiles from the standard statistical cultures, drawn with a JAX key.

Every generator returns a :class:`~socialign.mechanisms.social_choice.Profile` of complete
strict ballots, one row per voter (``counts`` all one), with shape
``[*batch_shape, num_voters, num_candidates]``; it is a pure function of the key, runs under
``jax.jit`` (the sizes are static) and ``jax.vmap`` over keys and numeric parameters.

- :func:`impartial_culture`: every ranking equally likely.
- :func:`mallows`: rankings concentrated around a reference ranking, ``P(r) ∝ φ^{d(r, r_0)}``
  with ``d`` the Kendall-tau distance (C. L. Mallows, "Non-null ranking models", Biometrika
  1957), sampled by the repeated insertion model (J.-P. Doignon, A. Pekeč and M. Regenwetter,
  "The repeated insertion model for rankings", Psychometrika 2004).
- :func:`single_peaked`: rankings single-peaked on the axis ``0 < 1 < ... < m - 1``, uniformly
  among the ``2^{m-1}`` of them (T. Walsh, "Generating single peaked votes", 2015).
- :func:`polya_urn`: the Pólya-Eggenberger urn, which correlates voters (S. Berg, "Paradox of
  voting under an urn model: the effect of homogeneity", Public Choice 1985).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ...kernel import check_positive_int, check_positive_scalar
from ._profile import Profile

__all__ = ["impartial_culture", "mallows", "polya_urn", "single_peaked"]


def _sizes(num_voters, num_candidates, batch_shape):
    num_voters = check_positive_int(num_voters, "num_voters")
    num_candidates = check_positive_int(num_candidates, "num_candidates")
    batch_shape = tuple(check_positive_int(b, "batch_shape") for b in tuple(batch_shape))
    return num_voters, num_candidates, batch_shape


def _profile_from_orders(orders):
    """``orders [..., n, m]`` (permutations) -> Profile with unit counts (traceable)."""
    m = orders.shape[-1]
    pos = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32), orders.shape)
    ranks = jnp.put_along_axis(jnp.zeros_like(orders, dtype=jnp.int32), orders.astype(jnp.int32),
                               pos, axis=-1, inplace=False)
    return Profile(ranks, jnp.ones(orders.shape[:-1], dtype=jnp.result_type(float)))


def impartial_culture(key, num_voters: int, num_candidates: int, *,
                      batch_shape: tuple[int, ...] = ()) -> Profile:
    """Impartial culture: each voter's ranking is uniform over the ``m!`` rankings.

    Args:
      key: a JAX PRNG key.
      num_voters: ``n`` (static).
      num_candidates: ``m`` (static).
      batch_shape: leading batch axes (independent profiles).

    Returns:
      A :class:`Profile` ``[*batch_shape, n, m]``.

    Raises:
      ValueError: if a size is not a positive int.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.impartial_culture(jax.random.key(0), 5, 4, batch_shape=(2,))
      >>> p.ranks.shape, sorted(p.ranks[0, 0].tolist())
      ((2, 5, 4), [0, 1, 2, 3])
    """
    n, m, batch_shape = _sizes(num_voters, num_candidates, batch_shape)
    u = jax.random.uniform(key, (*batch_shape, n, m))
    return _profile_from_orders(jnp.argsort(u, axis=-1))


def mallows(key, num_voters: int, num_candidates: int, dispersion, reference=None, *,
            batch_shape: tuple[int, ...] = ()) -> Profile:
    r"""Mallows model: ``P(r) ∝ dispersion^{d_KT(r, reference)}``, by repeated insertion.

    The ``i``-th candidate of ``reference`` (``i = 0..m-1``) is inserted at position ``j`` of the
    ranking built so far with probability :math:`\phi^{i-j} / \sum_{l=0}^{i} \phi^l`, which
    samples the Mallows distribution exactly (Doignon et al. 2004). ``dispersion = 0`` gives
    ``reference`` itself, ``1`` the impartial culture.

    Args:
      key: a JAX PRNG key.
      num_voters: ``n`` (static).
      num_candidates: ``m`` (static).
      dispersion: :math:`\phi \in [0, 1]` (a leaf: ``vmap``/``jit`` over it).
      reference: ``int [m]`` the central ranking, best first (default ``0, 1, ..., m - 1``).
      batch_shape: leading batch axes.

    Returns:
      A :class:`Profile` ``[*batch_shape, n, m]``.

    Raises:
      ValueError: if a size is not a positive int or a concrete ``dispersion`` is outside
        ``[0, 1]``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.mallows(jax.random.key(0), 3, 4, 0.0, reference=[2, 0, 3, 1])
      >>> p.ranks[0].tolist()   # dispersion 0: every voter reports the reference
      [1, 3, 0, 2]
    """
    n, m, batch_shape = _sizes(num_voters, num_candidates, batch_shape)
    check_positive_scalar(dispersion, "dispersion", allow_zero=True)
    if not isinstance(dispersion, jax.core.Tracer) and float(dispersion) > 1:
        raise ValueError(f"dispersion must lie in [0, 1], got {float(dispersion)!r}")
    phi = jnp.asarray(dispersion, dtype=jnp.result_type(float))
    ref = jnp.arange(m, dtype=jnp.int32) if reference is None else jnp.asarray(reference,
                                                                              jnp.int32)
    return _profile_from_orders(_mallows(key, phi, ref, n=n, m=m, batch_shape=batch_shape))


@functools.partial(jax.jit, static_argnames=("n", "m", "batch_shape"))
def _mallows(key, phi, ref, *, n, m, batch_shape):
    keys = jax.random.split(key, m)
    shape = (*batch_shape, n)
    order = jnp.zeros((*shape, m), jnp.int32)
    idx = jnp.arange(m)
    for i in range(m):
        # P(j) ∝ phi^(i - j), j = 0..i  (j = i: the candidate goes last, most likely)
        logits = jnp.where(idx <= i, (i - idx) * jnp.log(jnp.maximum(phi, 1e-300)), -jnp.inf)
        logits = jnp.where((phi == 0) & (idx <= i), jnp.where(idx == i, 0.0, -jnp.inf), logits)
        j = jax.random.categorical(keys[i], logits, shape=shape)[..., None]
        shifted = jnp.roll(order, 1, axis=-1)
        order = jnp.where(idx < j, order, jnp.where(idx == j, ref[i], shifted))
    return order


def single_peaked(key, num_voters: int, num_candidates: int, *,
                  batch_shape: tuple[int, ...] = ()) -> Profile:
    """Uniform single-peaked rankings on the axis ``0 < 1 < ... < m - 1`` (Walsh 2015).

    Each ranking is built from the bottom: the last place goes to the leftmost or the rightmost
    remaining candidate with probability one half each, so each of the ``2^{m-1}``
    single-peaked rankings has the same probability. Single-peaked profiles always have a
    weak Condorcet winner (the median peak; D. Black, "On the rationale of group
    decision-making", JPE 1948).

    Args:
      key: a JAX PRNG key.
      num_voters: ``n`` (static).
      num_candidates: ``m`` (static).
      batch_shape: leading batch axes.

    Returns:
      A :class:`Profile` ``[*batch_shape, n, m]``.

    Raises:
      ValueError: if a size is not a positive int.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.single_peaked(jax.random.key(1), 200, 5)
      >>> last = (p.ranks == 4).argmax(-1)   # every voter ranks an end of the axis last
      >>> sorted(set(last.tolist()))
      [0, 4]
    """
    n, m, batch_shape = _sizes(num_voters, num_candidates, batch_shape)
    right = jax.random.bernoulli(key, 0.5, (*batch_shape, n, m))
    lo = jnp.zeros((*batch_shape, n), jnp.int32)
    hi = jnp.full((*batch_shape, n), m - 1, jnp.int32)
    order = []
    for t in range(m):  # t-th from the bottom
        pick = jnp.where(right[..., t], hi, lo)
        order.append(pick)
        lo = jnp.where(right[..., t], lo, lo + 1)
        hi = jnp.where(right[..., t], hi - 1, hi)
    return _profile_from_orders(jnp.stack(order[::-1], axis=-1))


def polya_urn(key, num_voters: int, num_candidates: int, replacement, *,
              batch_shape: tuple[int, ...] = ()) -> Profile:
    r"""Pólya-Eggenberger urn: voters copy earlier voters, which correlates the profile.

    The urn starts with one copy of each of the ``m!`` rankings; each voter draws a ranking and
    returns it with ``replacement * m!`` extra copies. Equivalently voter ``t`` (from 0) draws a
    fresh uniform ranking with probability :math:`1 / (1 + t \alpha)` and otherwise copies a
    uniformly chosen earlier voter. ``replacement = 0`` is the impartial culture (Berg 1985;
    the ``alpha`` of prefsampling's ``urn``).

    Args:
      key: a JAX PRNG key.
      num_voters: ``n`` (static).
      num_candidates: ``m`` (static).
      replacement: :math:`\alpha \ge 0` (a leaf).
      batch_shape: leading batch axes.

    Returns:
      A :class:`Profile` ``[*batch_shape, n, m]``.

    Raises:
      ValueError: if a size is not a positive int or a concrete ``replacement`` is negative.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.polya_urn(jax.random.key(0), 50, 4, 100.0)   # almost everyone copies voter 0
      >>> int((p.ranks == p.ranks[0]).all(-1).sum()) > 40
      True
    """
    n, m, batch_shape = _sizes(num_voters, num_candidates, batch_shape)
    check_positive_scalar(replacement, "replacement", allow_zero=True)
    alpha = jnp.asarray(replacement, dtype=jnp.result_type(float))
    return _profile_from_orders(_urn(key, alpha, n=n, m=m, batch_shape=batch_shape))


@functools.partial(jax.jit, static_argnames=("n", "m", "batch_shape"))
def _urn(key, alpha, *, n, m, batch_shape):
    k_fresh, k_copy, k_pick = jax.random.split(key, 3)
    fresh = jnp.argsort(jax.random.uniform(k_fresh, (*batch_shape, n, m)), axis=-1)
    t = jnp.arange(n)
    copy = jax.random.uniform(k_copy, (*batch_shape, n)) >= 1.0 / (1.0 + t * alpha)
    source = jnp.floor(jax.random.uniform(k_pick, (*batch_shape, n)) * t).astype(jnp.int32)

    def step(orders, i):
        src = jnp.take_along_axis(orders, source[..., i, None, None], axis=-2)[..., 0, :]
        row = jnp.where(copy[..., i, None], src, fresh[..., i, :])
        return orders.at[..., i, :].set(row), None

    orders, _ = jax.lax.scan(step, fresh, jnp.arange(n))
    return orders
