r"""Peer prediction: paying for honest reports of signals that nobody can verify.

Agents observe private signals ``s in {0..S-1}`` drawn from a common prior and report them; a
peer-prediction mechanism pays each agent from the reports alone. Four mechanisms, each as a
payment function on report data and a *truthfulness check* on a prior:

- :func:`bayesian_truth_serum` (Prelec 2004): each agent also predicts the distribution of the
  others' reports; it is paid an information score ``log(xbar_r / ybar_r)`` (its answer is
  "surprisingly common") plus ``alpha`` times a prediction score
  ``sum_k xbar_k log(y_k / xbar_k)``. Truthful reporting is a strict Bayes-Nash equilibrium
  in a large population when signals are i.i.d. given a world state and different signals give
  different posteriors (stochastic relevance).
- :func:`correlated_agreement` (Shnayder, Agarwal, Frongillo and Parkes 2016): two agents
  answer the same tasks; the pay is ``Sc(x_b, y_b) - Sc(x_p, y_q)`` (a shared bonus task minus
  two distinct penalty tasks) where ``Sc = 1[Delta > 0]`` is the sign of the signal
  correlation ``Delta(s, s') = P(s, s') - P(s) P(s')``. Truthful play earns the most of any
  strategy, for every prior (informed truthfulness).
- :func:`determinant_mutual_information` (Kong 2020): tasks split into two halves; agent ``i``
  is paid ``sum_{j != i} det(M^1_ij) det(M^2_ij)``, ``M^l_ij`` the joint report counts of ``i``
  and ``j`` on half ``l``. Its expectation is proportional to ``det(U)^2`` for the joint report
  distribution ``U``, which any strategy ``sigma`` multiplies by ``det(sigma)^2 <= 1``:
  dominantly truthful (up to relabelling).
- :func:`output_agreement`: paid ``1`` when the two reports agree. Not truthful in general: an
  agent whose own signal makes another signal the likelier report of its peer should report
  that one (the standard counterexample in the tests).

Each ``*_truthfulness`` function takes the common prior, computes the expected payment of every
deterministic reporting strategy ``sigma: {0..S-1} -> {0..S-1}`` (all ``S^S`` of them, so keep
``S <= 6``) against truthful peers, and returns a :class:`Truthfulness` whose
``incentive_violation`` is the largest gain from deviating (``<= tol``: truthful reporting is an
equilibrium).

Priors: :func:`bts_truthfulness` takes the world-state model (``state_prior [W]``,
``signal_given_state [W, S]``, signals i.i.d. given the state); the others take the joint
distribution ``joint [S, S]`` of two agents' signals (:func:`signal_joint` builds it from the
state model).

References:
  D. Prelec, "A Bayesian truth serum for subjective data", Science 306, 2004.
  V. Shnayder, A. Agarwal, R. Frongillo and D. C. Parkes, "Informed truthfulness in multi-task
  peer prediction", EC 2016. Y. Kong, "Dominantly truthful multi-task peer prediction with a
  constant number of tasks", SODA 2020. N. Miller, P. Resnick and R. Zeckhauser, "Eliciting
  informative feedback: the peer-prediction method", Management Science 2005 (output
  agreement's failure). J. Witkowski and D. C. Parkes, "A robust Bayesian truth serum for small
  populations", AAAI 2012.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    as_float_array,
    batch_map,
    check_finite,
    check_positive_int,
    check_simplex,
    is_concrete,
    pytree_dataclass,
)

__all__ = [
    "Truthfulness",
    "bayesian_truth_serum",
    "bts_truthfulness",
    "ca_truthfulness",
    "correlated_agreement",
    "determinant_mutual_information",
    "dmi_truthfulness",
    "output_agreement",
    "output_agreement_truthfulness",
    "signal_joint",
    "signal_score_matrix",
]

#: largest signal space the exhaustive checks accept (6^6 = 46,656 strategies)
_MAX_SIGNALS = 6


@pytree_dataclass
class Truthfulness:
    """Expected payments of truthful reporting and of the best deterministic misreport.

    Attributes:
      incentive_violation: ``[*batch]`` the best ex-ante gain ``E[pay(sigma)] - E[pay(truth)]``
        over all deterministic strategies ``sigma`` against truthful peers; ``>= 0``, and
        ``<= tol`` means truthful reporting is an equilibrium.
      truthful_payment: ``[*batch]`` the expected payment of truthful reporting.
      signal_payments: ``[*batch, S]`` the expected payment of a truthful agent given its own
        signal (interim; ``0`` for signals of probability zero).
      best_payment: ``[*batch]`` the expected payment of the best strategy.
      best_strategy: ``int32 [*batch, S]`` that strategy: ``best_strategy[s]`` is the report
        given signal ``s`` (the identity when truthful reporting is best, ties going to it).

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> t = el.output_agreement_truthfulness([[0.4, 0.1], [0.1, 0.4]])
      >>> round(float(t.truthful_payment), 6), float(t.incentive_violation)
      (0.8, 0.0)
    """

    incentive_violation: jax.Array
    truthful_payment: jax.Array
    signal_payments: jax.Array
    best_payment: jax.Array
    best_strategy: jax.Array


# --------------------------------------------------------------------------------------------
# priors
# --------------------------------------------------------------------------------------------
def _joint(joint):
    j = as_float_array(joint, "joint")
    if j.ndim < 2 or j.shape[-1] != j.shape[-2] or j.shape[-1] < 2:
        raise ValueError(f"joint must be [..., S, S] with S >= 2 signals; got shape "
                         f"{tuple(j.shape)}")
    if j.shape[-1] > _MAX_SIGNALS:
        raise ValueError(f"joint: the exhaustive check enumerates S^S strategies; S must be at "
                         f"most {_MAX_SIGNALS}, got {j.shape[-1]}")
    check_simplex(j.reshape(j.shape[:-2] + (-1,)), "joint")
    return j


def _state_model(state_prior, signal_given_state):
    p = as_float_array(state_prior, "state_prior")
    lik = as_float_array(signal_given_state, "signal_given_state").astype(p.dtype)
    if p.ndim < 1 or lik.ndim < 2 or lik.shape[-2] != p.shape[-1]:
        raise ValueError(f"state_prior [..., W] and signal_given_state [..., W, S] disagree: "
                         f"{tuple(p.shape)} and {tuple(lik.shape)}")
    check_simplex(p, "state_prior")
    check_simplex(lik, "signal_given_state")
    return p, lik


def signal_joint(state_prior, signal_given_state) -> jax.Array:
    r"""Joint distribution of two agents' signals, i.i.d. given a world state.

    ``P(s, s') = sum_w P(w) P(s | w) P(s' | w)``: symmetric, and the prior of
    :func:`ca_truthfulness`, :func:`dmi_truthfulness` and :func:`output_agreement_truthfulness`.

    Args:
      state_prior: ``[..., W]`` a probability vector over world states.
      signal_given_state: ``[..., W, S]`` each state's signal distribution (rows sum to one).

    Returns:
      ``[..., S, S]`` the joint distribution.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if the shapes disagree or a distribution is not a probability vector.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> j = el.signal_joint([0.5, 0.5], [[0.8, 0.2], [0.2, 0.8]])
      >>> [[round(float(x), 6) for x in row] for row in j]
      [[0.34, 0.16], [0.16, 0.34]]
    """
    p, lik = _state_model(state_prior, signal_given_state)
    return jnp.einsum("...w,...ws,...wt->...st", p, lik, lik)


def _strategies(s: int) -> np.ndarray:
    """All ``S^S`` deterministic strategies ``[N, S]``; row 0 is not special."""
    return np.array(list(itertools.product(range(s), repeat=s)), dtype=np.int32)


def _identity_index(s: int) -> int:
    return int(sum(k * s ** (s - 1 - k) for k in range(s)))


def _check(pay, s):
    """``pay [N]`` expected payment of each strategy -> :class:`Truthfulness` (unbatched).

    Gains within rounding (``16 eps`` times the largest payment) count as ties, and ties go to
    truthful reporting."""
    strategies = jnp.asarray(_strategies(s))
    truth = pay[_identity_index(s)]
    best = jnp.argmax(pay)
    noise = 16 * jnp.finfo(pay.dtype).eps * jnp.max(jnp.abs(pay))
    best = jnp.where(pay[best] - truth <= noise, _identity_index(s), best)
    return truth, jnp.maximum(pay[best] - truth, 0.0), pay[best], strategies[best]


@functools.partial(jax.jit, static_argnames=("kind", "batch_shape", "s"))
def _finish(data, *, kind, batch_shape, s):
    pay_fn, signal_fn = _RULES[kind]

    def one(x):
        truth, gain, best, strat = _check(pay_fn(x, s), s)
        return Truthfulness(incentive_violation=gain, truthful_payment=truth,
                            signal_payments=signal_fn(x, s), best_payment=best,
                            best_strategy=strat)

    return batch_map(one, data, batch_shape=batch_shape)


def _marginal(j):
    return jnp.sum(j, axis=-1)


def _conditional(j):
    """``P(s' | s)`` rows (zero rows where ``P(s) = 0``)."""
    m = _marginal(j)
    return j / jnp.where(m > 0, m, 1.0)[..., None]


# --------------------------------------------------------------------------------------------
# output agreement
# --------------------------------------------------------------------------------------------
def output_agreement(reports) -> jax.Array:
    """Output agreement: the fraction of tasks on which two agents' reports agree.

    Args:
      reports: ``int [..., 2, tasks]`` the two agents' reports.

    Returns:
      ``[...]`` the payment of each of the two agents (the same).

    Raises:
      TypeError: if ``reports`` is not an integer array.
      ValueError: if it is not ``[..., 2, tasks]``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> float(el.output_agreement([[0, 1, 1, 0], [0, 1, 0, 0]]))
      0.75
    """
    r = _int_reports(reports, "reports", pair=True)
    return jnp.mean((r[..., 0, :] == r[..., 1, :]).astype(jnp.result_type(float)), axis=-1)


def output_agreement_truthfulness(joint) -> Truthfulness:
    """Truthfulness check of output agreement on a prior: ``E[pay] = sum P(s, s') [sigma(s) = s']``.

    Args:
      joint: ``[..., S, S]`` the joint distribution of the two agents' signals.

    Returns:
      :class:`Truthfulness`. Positive ``incentive_violation`` whenever some signal ``s`` has a
      likelier peer signal ``s' != s`` (``P(s' | s) > P(s | s)``).

    Raises:
      TypeError: if ``joint`` is not numeric.
      ValueError: if ``joint`` is not a ``[..., S, S]`` distribution with ``2 <= S <= 6``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> t = el.output_agreement_truthfulness([[0.1, 0.2], [0.2, 0.5]])  # 1 always says 1
      >>> t.best_strategy.tolist(), round(float(t.incentive_violation), 6)
      ([1, 1], 0.1)
    """
    j = _joint(joint)
    return _finish(j, kind="oa", batch_shape=tuple(j.shape[:-2]), s=j.shape[-1])


def _oa_pay(x, s):
    strat = jnp.asarray(_strategies(s))
    return jnp.sum(x[None, :, :] * jax.nn.one_hot(strat, s, dtype=x.dtype), axis=(1, 2))


def _oa_signal(x, s):
    return jnp.diagonal(_conditional(x))


# --------------------------------------------------------------------------------------------
# correlated agreement
# --------------------------------------------------------------------------------------------
def signal_score_matrix(joint) -> jax.Array:
    """Correlated agreement's score matrix ``Sc(s, s') = 1[P(s, s') > P(s) P(s')]``.

    Args:
      joint: ``[..., S, S]`` the joint distribution of the two agents' signals.

    Returns:
      ``[..., S, S]`` zeros and ones (the sign of the signal correlation ``Delta``).

    Raises:
      TypeError: if ``joint`` is not numeric.
      ValueError: if ``joint`` is not a ``[..., S, S]`` distribution with ``2 <= S <= 6``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> el.signal_score_matrix([[0.4, 0.1], [0.1, 0.4]]).tolist()
      [[1.0, 0.0], [0.0, 1.0]]
    """
    j = _joint(joint)
    delta = j - _marginal(j)[..., :, None] * jnp.sum(j, axis=-2)[..., None, :]
    tiny = 8 * jnp.finfo(j.dtype).eps
    return (delta > tiny).astype(j.dtype)


def correlated_agreement(reports, score_matrix) -> jax.Array:
    r"""Correlated agreement payments on multi-task report data.

    ``pay = mean_b Sc(x_b, y_b) - mean_{p != q} Sc(x_p, y_q)``: the average bonus score over
    the tasks both agents answered minus the average score over pairs of distinct tasks (the
    expected value of the penalty term for a random choice of penalty tasks ``p != q``).

    Args:
      reports: ``int [..., 2, tasks]`` the two agents' reports (``tasks >= 2``).
      score_matrix: ``[..., S, S]`` e.g. :func:`signal_score_matrix` of the prior.

    Returns:
      ``[...]`` the payment of each of the two agents (the same).

    Raises:
      TypeError: if an argument has the wrong type.
      ValueError: if ``reports`` is not ``[..., 2, tasks]`` with two tasks or more, or a
        concrete report is outside ``[0, S)``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> sc = [[1., 0.], [0., 1.]]
      >>> round(float(el.correlated_agreement([[0, 1, 0, 1], [0, 1, 0, 1]], sc)), 6)
      0.666667
    """
    r = _int_reports(reports, "reports", pair=True)
    sc = as_float_array(score_matrix, "score_matrix")
    s = sc.shape[-1]
    _check_range(r, s)
    if r.shape[-1] < 2:
        raise ValueError("correlated_agreement needs at least 2 tasks")
    return _ca_data(r, sc)


@jax.jit
def _ca_data(r, sc):
    s = sc.shape[-1]
    x = jax.nn.one_hot(r[..., 0, :], s, dtype=sc.dtype)
    y = jax.nn.one_hot(r[..., 1, :], s, dtype=sc.dtype)
    t = r.shape[-1]
    same = jnp.einsum("...ta,...ab,...tb->...", x, sc, y)            # sum_t Sc(x_t, y_t)
    # sum over all (t, u) of Sc(x_t, y_u) from the report counts, O(T S)
    every = jnp.einsum("...a,...ab,...b->...", jnp.sum(x, -2), sc, jnp.sum(y, -2))
    return same / t - (every - same) / (t * (t - 1))


def ca_truthfulness(joint, score_matrix=None) -> Truthfulness:
    r"""Truthfulness check of correlated agreement: ``E[pay(sigma)] = sum Delta(s, s') Sc(sigma(s), s')``.

    The expected bonus minus penalty of a strategy ``sigma`` against a truthful peer is
    ``sum_{s, s'} (P(s, s') - P(s) P(s')) Sc(sigma(s), s')``; with ``Sc = 1[Delta > 0]``
    truthful reporting collects every positive entry of ``Delta`` and no strategy can do better
    (Shnayder et al. 2016, Theorem 1), for every prior.

    Args:
      joint: ``[..., S, S]`` the joint distribution of the two agents' signals.
      score_matrix: ``[..., S, S]`` the score matrix the mechanism uses; default
        :func:`signal_score_matrix` of ``joint`` (pass another to check a misspecified one).

    Returns:
      :class:`Truthfulness`.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if ``joint`` is not a ``[..., S, S]`` distribution with ``2 <= S <= 6``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> t = el.ca_truthfulness([[0.1, 0.2], [0.2, 0.5]])   # output agreement fails here
      >>> round(float(t.truthful_payment), 6), float(t.incentive_violation)
      (0.02, 0.0)
    """
    j = _joint(joint)
    s = j.shape[-1]
    sc = signal_score_matrix(j) if score_matrix is None else \
        jnp.broadcast_to(as_float_array(score_matrix, "score_matrix").astype(j.dtype), j.shape)
    return _finish((j, sc), kind="ca", batch_shape=tuple(j.shape[:-2]), s=s)


def _delta(j):
    return j - jnp.outer(jnp.sum(j, 1), jnp.sum(j, 0))


def _ca_pay(x, s):
    reported = x[1][jnp.asarray(_strategies(s))]              # [N, S(signal), S(peer)]
    return jnp.sum(_delta(x[0])[None] * reported, axis=(1, 2))


def _ca_signal(x, s):
    m = jnp.sum(x[0], 1)
    return jnp.sum(_delta(x[0]) * x[1], 1) / jnp.where(m > 0, m, 1.0)


# --------------------------------------------------------------------------------------------
# determinant mutual information
# --------------------------------------------------------------------------------------------
def determinant_mutual_information(reports, num_signals: int) -> jax.Array:
    r"""Determinant-mutual-information (DMI) payments on multi-task report data (Kong 2020).

    The tasks are split into halves (the first ``T // 2`` and the rest); agent ``i`` is paid
    ``sum_{j != i} det(M^1_ij) det(M^2_ij)`` with ``M^l_ij[c, c'] = #{t in half l: r_it = c,
    r_jt = c'}``. Dominantly truthful when each half has at least ``S`` tasks.

    Args:
      reports: ``int [..., agents, tasks]`` (``agents >= 2``, ``tasks >= 2 S``).
      num_signals: ``S``, the number of possible reports (static).

    Returns:
      ``[..., agents]`` payments.

    Raises:
      TypeError: if ``reports`` is not an integer array.
      ValueError: if there are fewer than 2 agents or ``2 S`` tasks, or a concrete report is
        outside ``[0, S)``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> r = [[0, 1, 0, 1], [0, 1, 0, 1]]            # two agents in perfect agreement
      >>> el.determinant_mutual_information(r, 2).tolist()
      [1.0, 1.0]
    """
    s = check_positive_int(num_signals, "num_signals")
    r = _int_reports(reports, "reports")
    _check_range(r, s)
    n, t = r.shape[-2], r.shape[-1]
    if n < 2 or t < 2 * s:
        raise ValueError(f"reports must have at least 2 agents and 2 * num_signals = {2 * s} "
                         f"tasks; got shape {tuple(r.shape)}")
    h = t // 2
    x = jax.nn.one_hot(r, s, dtype=jnp.result_type(float))          # [..., n, T, S]
    m1 = jnp.einsum("...itc,...jtd->...ijcd", x[..., :h, :], x[..., :h, :])
    m2 = jnp.einsum("...itc,...jtd->...ijcd", x[..., h:, :], x[..., h:, :])
    prod = jnp.linalg.det(m1) * jnp.linalg.det(m2)                   # [..., n, n]
    prod = prod * (1 - jnp.eye(n, dtype=prod.dtype))
    return jnp.sum(prod, axis=-1)


def dmi_truthfulness(joint, num_tasks: int) -> Truthfulness:
    r"""Truthfulness check of DMI for one peer: ``E[pay(sigma)] = K_1 K_2 det(sigma^T P)^2``.

    With ``T_l`` i.i.d. tasks in half ``l`` and joint report distribution ``U``,
    ``E[det M^l] = T_l! / (T_l - S)! det(U)`` (the determinant is multilinear in the tasks'
    rank-one terms), the halves are independent, and a strategy ``sigma`` (a 0/1 matrix) turns
    the signal joint ``P`` into ``U = sigma^T P``: the expected payment per peer is
    ``K_1 K_2 det(sigma)^2 det(P)^2`` with ``K_l = T_l! / (T_l - S)!``. Truthful reporting (and
    any relabelling) earns the most; a strategy that merges two signals earns ``0``.

    Args:
      joint: ``[..., S, S]`` the joint distribution of two agents' signals on a task.
      num_tasks: the number of tasks ``T >= 2 S``, split as in
        :func:`determinant_mutual_information`.

    Returns:
      :class:`Truthfulness` (payments per peer).

    Raises:
      TypeError: if ``joint`` is not numeric.
      ValueError: if ``joint`` is not a distribution with ``2 <= S <= 6`` or ``num_tasks < 2S``.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> t = el.dmi_truthfulness([[0.4, 0.1], [0.1, 0.4]], num_tasks=4)   # K = 2 each half
      >>> round(float(t.truthful_payment), 6), float(t.incentive_violation)   # 2 * 2 * 0.15^2
      (0.09, 0.0)
    """
    j = _joint(joint)
    s = j.shape[-1]
    num_tasks = check_positive_int(num_tasks, "num_tasks")
    if num_tasks < 2 * s:
        raise ValueError(f"num_tasks must be at least 2 S = {2 * s}, got {num_tasks}")
    h1, h2 = num_tasks // 2, num_tasks - num_tasks // 2
    k = jnp.full(j.shape[:-2], math.perm(h1, s) * math.perm(h2, s), j.dtype)
    return _finish((j, k), kind="dmi", batch_shape=tuple(j.shape[:-2]), s=s)


def _dmi_pay(x, s):
    strat = jax.nn.one_hot(jnp.asarray(_strategies(s)), s, dtype=x[0].dtype)  # sigma[s, r]
    u = jnp.einsum("nsr,st->nrt", strat, x[0])
    return x[1] * jnp.linalg.det(u) ** 2


def _dmi_signal(x, s):
    # per-signal shares are not defined for a determinant: the total, on each signal
    return jnp.full((s,), x[1] * jnp.linalg.det(x[0]) ** 2, x[0].dtype)


# --------------------------------------------------------------------------------------------
# Bayesian truth serum
# --------------------------------------------------------------------------------------------
def bayesian_truth_serum(reports, predictions, alpha=1.0) -> jax.Array:
    r"""Bayesian truth serum scores (Prelec 2004) of a population's answers and predictions.

    With ``x_r`` agent ``r``'s answer (one-hot), ``y_r`` its predicted distribution of the
    population's answers, ``xbar_k = mean_r x_rk`` and ``log ybar_k = mean_r log y_rk``:

    .. math::
        u_r = \log \frac{\bar x_{x_r}}{\bar y_{x_r}}
              + \alpha \sum_k \bar x_k \log \frac{y_{rk}}{\bar x_k}

    (information score plus ``alpha`` times prediction score; ``0 log 0 = 0``).

    Args:
      reports: ``int [..., agents]`` each agent's answer in ``[0, S)``.
      predictions: ``[..., agents, S]`` each agent's predicted answer distribution (positive
        entries summing to one).
      alpha: the weight ``alpha > 0`` of the prediction score (a scalar or ``[...]``).

    Returns:
      ``[..., agents]`` scores.

    Raises:
      TypeError: if an argument has the wrong type.
      ValueError: if the shapes disagree, a concrete report is out of range, or a concrete
        prediction is not a positive probability vector.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> y = [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
      >>> [round(float(u), 4) for u in el.bayesian_truth_serum([0, 0, 1], y)]
      [0.231, 0.231, -0.4621]
    """
    r = _int_reports(reports, "reports", min_ndim=1)
    y = as_float_array(predictions, "predictions")
    if y.shape[:-1] != r.shape:
        raise ValueError(f"predictions must have shape {tuple(r.shape)} + (S,); got "
                         f"{tuple(y.shape)}")
    check_simplex(y, "predictions")
    if is_concrete(y) and bool(np.any(np.asarray(y) <= 0)):
        raise ValueError("predictions must be positive (their logarithm is taken)")
    s = y.shape[-1]
    _check_range(r, s)
    a = as_float_array(alpha, "alpha").astype(y.dtype)
    check_finite(a, "alpha")
    x = jax.nn.one_hot(r, s, dtype=y.dtype)
    xbar = jnp.mean(x, axis=-2)                                       # [..., S]
    log_ybar = jnp.mean(jnp.log(y), axis=-2)
    safe = jnp.where(xbar > 0, xbar, 1.0)
    info = jnp.sum(x * (jnp.log(safe) - log_ybar)[..., None, :], axis=-1)
    pred = jnp.sum(jnp.where(xbar[..., None, :] > 0,
                             xbar[..., None, :] * (jnp.log(y) - jnp.log(safe)[..., None, :]),
                             0.0), axis=-1)
    return info + jnp.asarray(a)[..., None] * pred


def bts_truthfulness(state_prior, signal_given_state, alpha=1.0) -> Truthfulness:
    r"""Truthfulness check of the Bayesian truth serum in a large population (Prelec 2004).

    Signals are i.i.d. given a world state ``w ~ state_prior`` with
    ``P(s | w) = signal_given_state[w, s]``. In a large population of truthful peers the answer
    frequencies are ``xbar = P(. | w)`` and ``log ybar_k(w) = sum_s P(s | w) log P(k | s)``, the
    geometric mean of the truthful predictions ``P(k | s) = sum_w P(w | s) P(k | w)``. An agent
    with signal ``t`` who answers ``r`` then expects the information score
    ``sum_w P(w | t) (log P(r | w) - log ybar_r(w))``; its best prediction is ``P(. | t)``
    whatever it answers (the prediction score is the log scoring rule), so a deviation is a map
    of answers only. Prelec's theorem: truthful answering is a strict Bayes-Nash equilibrium
    when the posteriors ``P(. | t)`` of different signals differ (stochastic relevance).

    Args:
      state_prior: ``[..., W]`` the prior over world states.
      signal_given_state: ``[..., W, S]`` positive signal distributions of the states
        (``2 <= S <= 6``).
      alpha: the prediction-score weight ``alpha >= 0``.

    Returns:
      :class:`Truthfulness` with expected total scores (information plus ``alpha`` times
      prediction).

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if the shapes disagree, a distribution is not a probability vector, a
        signal probability is not positive, or ``S`` is out of range.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> t = el.bts_truthfulness([0.5, 0.5], [[0.8, 0.2], [0.3, 0.7]])
      >>> float(t.incentive_violation), t.best_strategy.tolist()
      (0.0, [0, 1])
    """
    p, lik = _state_model(state_prior, signal_given_state)
    s = lik.shape[-1]
    if s < 2 or s > _MAX_SIGNALS:
        raise ValueError(f"signal_given_state must have 2 to {_MAX_SIGNALS} signals, got {s}")
    if is_concrete(lik) and bool(np.any(np.asarray(lik) <= 0)):
        raise ValueError("signal_given_state must be positive (Prelec's model has full support)")
    a = as_float_array(alpha, "alpha").astype(p.dtype)
    check_finite(a, "alpha")
    batch = tuple(jnp.broadcast_shapes(p.shape[:-1], lik.shape[:-2], a.shape))
    w = p.shape[-1]
    p = jnp.broadcast_to(p, batch + (w,))
    lik = jnp.broadcast_to(lik, batch + (w, s))
    a = jnp.broadcast_to(a, batch)
    return _finish((p, lik, a), kind="bts", batch_shape=batch, s=s)


def _bts_expected(x):
    prior, lk, al = x
    pt = prior @ lk                                                   # P(t)
    post = prior[:, None] * lk / pt[None, :]                          # P(w | t)  [W, S]
    pred = post.T @ lk                                                # P(k | t)  [S, S]
    log_ybar = lk @ jnp.log(pred)                                     # [W, S]: log ybar_k(w)
    info = post.T @ (jnp.log(lk) - log_ybar)                          # [t, r]
    pscore = al * jnp.einsum("wt,wk,tk->t", post, lk, jnp.log(pred)) - \
        al * jnp.einsum("wt,wk->t", post, lk * jnp.log(lk))
    return pt, info, pscore


def _bts_pay(x, s):
    pt, info, pscore = _bts_expected(x)
    strat = jnp.asarray(_strategies(s))
    chosen = jnp.take_along_axis(info[None, :, :], strat[:, :, None], axis=2)[..., 0]
    return jnp.sum(pt[None, :] * (chosen + pscore[None, :]), axis=1)


def _bts_signal(x, s):
    _, info, pscore = _bts_expected(x)
    return jnp.diagonal(info) + pscore


_RULES = {"oa": (_oa_pay, _oa_signal), "ca": (_ca_pay, _ca_signal),
          "dmi": (_dmi_pay, _dmi_signal), "bts": (_bts_pay, _bts_signal)}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _int_reports(reports, name, *, pair=False, min_ndim=2):
    if not isinstance(reports, jax.core.Tracer):
        arr = np.asarray(reports)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be an integer array of reported signals, got dtype "
                            f"{arr.dtype}")
    r = jnp.asarray(reports)
    if not jnp.issubdtype(r.dtype, jnp.integer):
        raise TypeError(f"{name} must be an integer array, got {r.dtype}")
    if r.ndim < min_ndim or (pair and r.shape[-2] != 2):
        want = "[..., 2, tasks]" if pair else ("[..., agents]" if min_ndim == 1
                                               else "[..., agents, tasks]")
        raise ValueError(f"{name} must be {want}; got shape {tuple(r.shape)}")
    return r


def _check_range(r, s):
    if is_concrete(r):
        v = np.asarray(r)
        if v.size and (v.min() < 0 or v.max() >= s):
            raise ValueError(f"reports must lie in [0, {s}); got values in [{v.min()}, "
                             f"{v.max()}]")
