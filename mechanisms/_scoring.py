r"""Proper scoring rules: pay a forecaster for a probability report ``p`` when outcome ``i`` occurs.

A scoring rule ``S(p, i)`` is *proper* when a forecaster with belief ``q`` maximises its expected
score ``sum_i q_i S(p, i)`` by reporting ``p = q``, and *strictly* proper when that maximiser is
unique. The three classical strictly proper rules:

.. math::
    S_{quad}(p, i) = 2 p_i - \|p\|^2, \qquad S_{log}(p, i) = \log p_i, \qquad
    S_{sph}(p, i) = p_i / \|p\|.

Every function is pure, batched over leading axes (``[*batch, outcomes]``), differentiable, and
runs unchanged inside ``jax.jit`` and under ``jax.vmap`` (input checks that need values run only
on concrete inputs); :func:`properness_gap` measures by how much a report beats the truthful one
(``<= 0`` for a proper rule), which is how an incentive for honest reporting is certified.
Scores are in the units of the rule (the quadratic score lies in ``[-1, 1]``).

References:
  G. W. Brier, "Verification of forecasts expressed in terms of probability", 1950.
  T. Gneiting and A. E. Raftery, "Strictly proper scoring rules, prediction, and estimation",
  JASA 2007.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..kernel import as_float_array, check_simplex, is_concrete

__all__ = ["quadratic_score", "log_score", "spherical_score", "expected_score",
           "properness_gap"]

_RULES = {}


def _rule(fn):
    _RULES[fn.__name__.removesuffix("_score")] = fn
    return fn


def _check(p, name):
    p = as_float_array(p, name)
    if p.ndim == 0:
        raise ValueError(f"{name} must be a probability vector (last axis: outcomes)")
    if is_concrete(p):
        check_simplex(p, name)
    return p


def _pick(s, outcome):
    """Scores of all outcomes ``s [*, n]``, or those of ``outcome`` (an int array)."""
    if outcome is None:
        return s
    if is_concrete(outcome):
        o = np.asarray(outcome)
        if not np.issubdtype(o.dtype, np.integer):
            raise TypeError(f"outcome must be an integer index, got dtype {o.dtype}")
        if np.any((o < 0) | (o >= s.shape[-1])):
            raise ValueError(f"outcome must lie in [0, {s.shape[-1]}), got {outcome!r}")
    elif not jnp.issubdtype(jnp.asarray(outcome).dtype, jnp.integer):
        raise TypeError("outcome must be an integer index")
    if jnp.ndim(outcome) == 0:
        return jnp.take(s, outcome, axis=-1)
    return jnp.take_along_axis(s, jnp.asarray(outcome)[..., None], axis=-1)[..., 0]


@_rule
def quadratic_score(report, outcome=None):
    """Quadratic (Brier) score ``S(p, i) = 2 p_i - |p|^2`` (Brier 1950).

    Args:
      report: ``p [*batch, n]`` a probability vector over ``n`` outcomes.
      outcome: ``None`` for the scores of all outcomes, or the realised outcome: an int, or an
        int array ``[*batch]``.

    Returns:
      ``[*batch, n]`` scores of every outcome (``outcome=None``), else ``[*batch]``.

    Raises:
      TypeError: if ``report`` is not numeric or ``outcome`` is not an integer.
      ValueError: if ``report`` is not a probability vector or ``outcome`` is out of range.

    Example:
      >>> from socialign import mechanisms
      >>> round(float(mechanisms.quadratic_score([0.7, 0.3], 0)), 6)
      0.82
    """
    p = _check(report, "report")
    s = 2 * p - jnp.sum(p**2, axis=-1, keepdims=True)
    return _pick(s, outcome)


@_rule
def log_score(report, outcome=None):
    """Logarithmic score ``S(p, i) = log p_i`` (``-inf`` for an outcome reported impossible).

    Args:
      report: ``p [*batch, n]`` a probability vector over ``n`` outcomes.
      outcome: ``None`` for all outcomes, or the realised outcome (int or int array
        ``[*batch]``).

    Returns:
      ``[*batch, n]`` scores (``outcome=None``), else ``[*batch]``; in nats.

    Raises:
      TypeError: if ``report`` is not numeric or ``outcome`` is not an integer.
      ValueError: if ``report`` is not a probability vector or ``outcome`` is out of range.

    Example:
      >>> from socialign import mechanisms
      >>> round(float(mechanisms.log_score([0.5, 0.5], 1)), 6)
      -0.693147
    """
    p = _check(report, "report")
    s = jnp.log(p)
    return _pick(s, outcome)


@_rule
def spherical_score(report, outcome=None):
    """Spherical score ``S(p, i) = p_i / |p|`` (Gneiting and Raftery 2007, section 3.1).

    Args:
      report: ``p [*batch, n]`` a probability vector over ``n`` outcomes.
      outcome: ``None`` for all outcomes, or the realised outcome (int or int array
        ``[*batch]``).

    Returns:
      ``[*batch, n]`` scores in ``[0, 1]`` (``outcome=None``), else ``[*batch]``.

    Raises:
      TypeError: if ``report`` is not numeric or ``outcome`` is not an integer.
      ValueError: if ``report`` is not a probability vector or ``outcome`` is out of range.

    Example:
      >>> from socialign import mechanisms
      >>> round(float(mechanisms.spherical_score([1.0, 0.0], 0)), 6)
      1.0
    """
    p = _check(report, "report")
    s = p / jnp.linalg.norm(p, axis=-1, keepdims=True)
    return _pick(s, outcome)


def _get(rule):
    if callable(rule):
        return rule
    if rule not in _RULES:
        raise ValueError(f"rule must be one of {sorted(_RULES)} or a callable, got {rule!r}")
    return _RULES[rule]


def expected_score(report, belief, rule="quadratic"):
    """Expected score ``sum_i q_i S(p, i)`` of report ``p`` under belief ``q``.

    Args:
      report: ``p [*batch, n]`` the reported probability vector.
      belief: ``q [*batch, n]`` the forecaster's belief (broadcasts against ``report``).
      rule: ``"quadratic"``, ``"log"``, ``"spherical"`` or a function ``rule(report) -> [*, n]``
        (all outcomes' scores); static (a Python value, not traced).

    Returns:
      ``[*batch]`` expected scores (outcomes with ``q_i = 0`` contribute 0, even where the
      log score is ``-inf``).

    Raises:
      TypeError: if an input is not numeric.
      ValueError: if ``report`` or ``belief`` is not a probability vector, their numbers of
        outcomes differ, or ``rule`` is unknown.

    Example:
      >>> # ORACLES.md: belief (0.7, 0.3) under the quadratic score
      >>> from socialign import mechanisms
      >>> [round(float(mechanisms.expected_score(p, [0.7, 0.3])), 6)
      ...  for p in ([0.7, 0.3], [1.0, 0.0], [0.5, 0.5])]
      [0.58, 0.4, 0.5]
    """
    q = _check(belief, "belief")
    fn = _get(rule)
    p = _check(report, "report")      # a callable rule gets a checked report too
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"report has {p.shape[-1]} outcomes but belief has {q.shape[-1]}")
    if fn is log_score:
        # log p_i only where q_i > 0: with p_i = 0 = q_i the masked term's gradient 0 * (1/0)
        # was NaN (jax.grad at a truthful report on the boundary)
        return jnp.sum(jnp.where(q > 0, q * jnp.log(jnp.where(q > 0, p, 1.0)), 0.0), axis=-1)
    s = fn(p)
    if s.shape[-1] != q.shape[-1]:
        raise ValueError(f"report has {s.shape[-1]} outcomes but belief has {q.shape[-1]}")
    return jnp.sum(jnp.where(q > 0, q * s, 0.0), axis=-1)


def properness_gap(report, belief, rule="quadratic"):
    """``E_q[S(p)] - E_q[S(q)]``: how much misreporting ``p`` gains (``<= 0`` if proper).

    A rule is proper when this is ``<= 0`` for every ``p`` and ``q``, strictly proper when it is
    zero only at ``p = q`` (Gneiting and Raftery 2007); so ``max(gap, 0)`` is the rule's
    incentive violation at ``(p, q)``.

    Args:
      report: ``p [*batch, n]`` the reported probability vector.
      belief: ``q [*batch, n]`` the forecaster's belief.
      rule: as in :func:`expected_score`.

    Returns:
      ``[*batch]`` the gain of reporting ``p`` over reporting ``q``, in score units.

    Raises:
      TypeError: if an input is not numeric.
      ValueError: if ``report`` or ``belief`` is not a probability vector, their numbers of
        outcomes differ, or ``rule`` is unknown.

    Example:
      >>> from socialign import mechanisms
      >>> float(mechanisms.properness_gap([1.0, 0.0], [0.7, 0.3])) < 0
      True
    """
    return expected_score(report, belief, rule) - expected_score(belief, belief, rule)
