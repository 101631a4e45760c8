r"""Paying stakeholders for honest reward reports in multi-party fine-tuning (Sun et al. 2024).

``n`` parties report reward functions ``r_i`` over a finite set of responses. The trainer fine-
tunes a policy against the weighted sum of the reports with a KL penalty to the reference
policy ``mu``:

.. math::
    \pi(r) = \arg\max_\pi \sum_i w_i \langle \pi, r_i \rangle - \tau KL(\pi \| \mu)
    \quad\Longrightarrow\quad \pi \propto \mu \exp\Big(\sum_i w_i r_i / \tau\Big)

(the Gibbs variational principle; the optimum value is ``tau log sum mu exp(sum w r / tau)``).
Party ``i`` values the outcome at ``<pi, r_i^true>``. Without payments a party gains by
exaggerating its reward (the policy moves toward its favourite responses). The *affine
maximiser* payment (VCG with the Clarke pivot, scaled by ``1 / w_i``)

.. math::
    p_i = \frac{1}{w_i}\Big[\max_\pi \Big(\sum_{j \ne i} w_j \langle \pi, r_j\rangle
          - \tau KL(\pi\|\mu)\Big) - \Big(\sum_{j \ne i} w_j \langle \pi(r), r_j\rangle
          - \tau KL(\pi(r)\|\mu)\Big)\Big] \ge 0

makes ``w_i (<pi(r), r_i> - p_i)`` equal to the trainer's objective at ``pi(r)`` evaluated with
``i``'s true reward, minus a term ``i`` cannot affect; since ``pi(r)`` maximises that objective
when ``i`` reports truthfully, truthful reporting is a dominant strategy (Sun, Chen, Wang, Chen
and Deng 2024, the affine-maximiser payment rule; Groves 1973; Clarke 1971). With non-negative
rewards it is also individually rational.

:func:`misreport_audit` searches for profitable misreports numerically (random restarts plus
gradient ascent on the report through the closed-form policy) so the claim can be checked, and
shows the gain that exaggeration earns without payments.

References:
  H. Sun, Y. Chen, S. Wang, W. Chen and X. Deng, "Mechanism design for LLM fine-tuning with
  multiple reward models", arXiv:2405.16276, 2024. T. Groves, "Incentives in teams",
  Econometrica 1973. E. H. Clarke, "Multipart pricing of public goods", Public Choice 1971.
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
    batch_map,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    is_concrete,
    iterate,
    pytree_dataclass,
    scale_of,
)

__all__ = [
    "MisreportAudit",
    "affine_maximizer_payments",
    "fine_tuning_policy",
    "misreport_audit",
    "party_utilities",
]


def _inputs(rewards, weights, reference, temperature):
    r = as_float_array(rewards, "rewards")
    if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] < 1:
        raise ValueError(f"rewards must be [parties, responses]; got shape {tuple(r.shape)}")
    check_finite(r, "rewards")
    n, k = r.shape
    if weights is None:
        w = jnp.ones((n,), r.dtype)
    else:
        w = as_float_array(weights, "weights").astype(r.dtype)
        if w.shape != (n,):
            raise ValueError(f"weights must have shape ({n},); got {tuple(w.shape)}")
        check_finite(w, "weights")
        if is_concrete(w) and bool(np.any(np.asarray(w) <= 0)):
            raise ValueError("weights must be positive")
    if reference is None:
        mu = jnp.full((k,), 1.0 / k, r.dtype)
    else:
        mu = as_float_array(reference, "reference").astype(r.dtype)
        if mu.shape != (k,):
            raise ValueError(f"reference must have shape ({k},); got {tuple(mu.shape)}")
        check_simplex(mu, "reference")
        if is_concrete(mu) and bool(np.any(np.asarray(mu) <= 0)):
            raise ValueError("reference must be positive on every response")
    check_positive_scalar(temperature, "temperature")
    t = as_float_array(temperature, "temperature").astype(r.dtype)
    if t.ndim != 0:
        raise ValueError(f"temperature must be a scalar; got shape {tuple(t.shape)}")
    return r, w, mu, t


def _policy(r, w, mu, t):
    return jax.nn.softmax(jnp.log(mu) + (w @ r) / t)


def _kl(pi, mu):
    return jnp.sum(jnp.where(pi > 0, pi * (jnp.log(jnp.where(pi > 0, pi, 1.0)) - jnp.log(mu)),
                             0.0))


def _payments(r, w, mu, t):
    pi = _policy(r, w, mu, t)
    total = w @ r                                                    # [K]
    others = total[None, :] - w[:, None] * r                         # [n, K]
    best_without = t * jax.nn.logsumexp(jnp.log(mu)[None, :] + others / t, axis=-1)
    at_choice = others @ pi - t * _kl(pi, mu)
    return (best_without - at_choice) / w


def _utilities(true_r, reports, w, mu, t, with_payments):
    pi = _policy(reports, w, mu, t)
    u = true_r @ pi
    if with_payments:
        u = u - _payments(reports, w, mu, t)
    return u


def fine_tuning_policy(rewards, weights=None, reference=None, temperature=1.0) -> jax.Array:
    r"""The KL-regularised policy that maximises the weighted sum of reported rewards.

    ``pi = argmax_pi sum_i w_i <pi, r_i> - tau KL(pi || mu) = softmax(log mu + sum_i w_i r_i /
    tau)`` (the Gibbs variational principle; Sun et al. 2024's training rule).

    Args:
      rewards: ``[parties, responses]`` reported rewards.
      weights: ``[parties]`` positive weights (default ones).
      reference: ``[responses]`` the reference policy ``mu`` (positive; default uniform).
      temperature: ``tau > 0``, the KL coefficient.

    Returns:
      ``[responses]`` the policy.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: on bad shapes, non-finite values, non-positive weights or temperature, or a
        reference that is not a positive probability vector.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> el.fine_tuning_policy([[1., 0.], [0., 1.]]).tolist()   # the parties cancel out
      [0.5, 0.5]
    """
    return _policy(*_inputs(rewards, weights, reference, temperature))


def affine_maximizer_payments(rewards, weights=None, reference=None,
                              temperature=1.0) -> jax.Array:
    r"""Affine-maximiser (Clarke-pivot) payments that make truthful reward reports dominant.

    ``p_i = (1 / w_i) [tau log sum_k mu_k exp(sum_{j != i} w_j r_jk / tau) - (sum_{j != i} w_j
    <pi, r_j> - tau KL(pi || mu))]`` with ``pi`` :func:`fine_tuning_policy` of all reports: the
    loss that ``i``'s report imposes on the others' regularised objective (the module docstring
    has the argument; Sun et al. 2024). Non-negative.

    Args:
      rewards: ``[parties, responses]`` reported rewards.
      weights: ``[parties]`` positive weights (default ones).
      reference: ``[responses]`` the reference policy (positive; default uniform).
      temperature: ``tau > 0``.

    Returns:
      ``[parties]`` payments (what each party pays).

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: on bad shapes, non-finite values, non-positive weights or temperature, or a
        bad reference.

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> [round(float(p), 4) for p in el.affine_maximizer_payments([[1., 0.], [0., 1.]])]
      [0.1201, 0.1201]
    """
    return _payments(*_inputs(rewards, weights, reference, temperature))


def party_utilities(true_rewards, reports, weights=None, reference=None, temperature=1.0, *,
                    with_payments: bool = True) -> jax.Array:
    r"""Each party's utility ``<pi(reports), r_i^true> - p_i(reports)``.

    Args:
      true_rewards: ``[parties, responses]`` the parties' true rewards.
      reports: ``[parties, responses]`` the reported rewards (the policy and payments use
        these).
      weights, reference, temperature: as in :func:`fine_tuning_policy`.
      with_payments: subtract :func:`affine_maximizer_payments` (default) or not.

    Returns:
      ``[parties]`` utilities.

    Raises:
      TypeError: if an argument is not numeric or ``with_payments`` is not a bool.
      ValueError: on bad shapes or values (see :func:`fine_tuning_policy`).

    Example:
      >>> from socialign.mechanisms import elicitation as el
      >>> r = [[1., 0.], [0., 1.]]
      >>> [round(float(u), 4) for u in el.party_utilities(r, r, with_payments=False)]
      [0.5, 0.5]
    """
    if not isinstance(with_payments, bool):
        raise TypeError(f"with_payments must be a bool, got {type(with_payments).__name__}")
    r, w, mu, t = _inputs(reports, weights, reference, temperature)
    tr = as_float_array(true_rewards, "true_rewards").astype(r.dtype)
    if tr.shape != r.shape:
        raise ValueError(f"true_rewards must have the shape of reports {tuple(r.shape)}; got "
                         f"{tuple(tr.shape)}")
    check_finite(tr, "true_rewards")
    return _utilities(tr, r, w, mu, t, with_payments)


# --------------------------------------------------------------------------------------------
# the audit: gradient ascent on one party's report from random restarts
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class _AuditProblem:
    true_rewards: jax.Array   # [n, K]
    weights: jax.Array
    reference: jax.Array
    temperature: jax.Array
    party: jax.Array          # int scalar
    start: jax.Array          # [K] initial report of the party
    step_size: jax.Array      # scalar, in reward units
    charge: jax.Array         # 1.0 with payments, 0.0 without
    truthful: jax.Array       # scalar: the party's utility when truthful


def _utility_of(party, report, true_r, w, mu, t, charge):
    reports = true_r.at[party].set(report)
    pi = _policy(reports, w, mu, t)
    return true_r[party] @ pi - charge * _payments(reports, w, mu, t)[party]


def _gain_of(report, prob):
    return _utility_of(prob.party, report, prob.true_rewards, prob.weights, prob.reference,
                       prob.temperature, prob.charge) - prob.truthful


@pytree_dataclass
class _AscentState:
    report: jax.Array
    best_report: jax.Array
    best_gain: jax.Array
    m: jax.Array       # Adam moments
    v: jax.Array
    count: jax.Array


@pytree_dataclass
class _ReportAscent(IterativeSolver):
    """Adam ascent on one party's gain from misreporting (Kingma and Ba 2015)."""

    def init(self, prob, key):
        g0 = _gain_of(prob.start, prob)
        z = jnp.zeros_like(prob.start)
        return _AscentState(prob.start, prob.start, g0, z, z, jnp.zeros((), jnp.int32))

    def step(self, prob, st):
        gain, g = jax.value_and_grad(_gain_of)(st.report, prob)
        better = gain > st.best_gain
        best_report = jnp.where(better, st.report, st.best_report)
        best_gain = jnp.where(better, gain, st.best_gain)
        c = st.count + 1
        m = 0.9 * st.m + 0.1 * g
        v = 0.999 * st.v + 0.001 * g * g
        mh = m / (1 - 0.9 ** c)
        vh = v / (1 - 0.999 ** c)
        report = st.report + prob.step_size * mh / (jnp.sqrt(vh) + 1e-12)
        report = jnp.where(jnp.all(jnp.isfinite(report)), report, st.report)
        return _AscentState(report, best_report, best_gain, m, v, c)

    def terminate(self, prob, st, tol):
        # a fixed budget: the audit keeps the best report seen along the way
        return jnp.asarray(False), jnp.asarray(Result.CONVERGED, jnp.int32), st.best_gain


@pytree_dataclass
class MisreportAudit:
    """What :func:`misreport_audit` found.

    Attributes:
      incentive_violation: ``[parties]`` the largest gain from misreporting found for each
        party, ``max(gain, 0)`` (``<= tol``: no profitable misreport was found).
      gains: ``[parties]`` the best gain found (may be slightly negative when reporting
        truthfully is strictly best up to the shift invariance).
      best_reports: ``[parties, responses]`` the report that achieved it.
      truthful_utilities: ``[parties]`` each party's utility when everyone is truthful.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import elicitation as el
      >>> a = el.misreport_audit([[1., 0.], [0., 1.]], with_payments=False, num_restarts=2,
      ...                        num_steps=50, key=jax.random.key(0))
      >>> bool(a.incentive_violation.min() > 0.05)     # exaggerating pays without payments
      True
    """

    incentive_violation: jax.Array
    gains: jax.Array
    best_reports: jax.Array
    truthful_utilities: jax.Array


@functools.partial(jax.jit, static_argnames=("num_steps", "num_restarts"))
def _audit(r, w, mu, t, with_payments, key, step_size, spread, *, num_steps, num_restarts):
    n, k = r.shape
    scale = scale_of(r)
    keys = jax.random.split(key, 2)
    noise = jax.random.normal(keys[0], (n, num_restarts, k), r.dtype)
    stretch = jnp.exp(jax.random.uniform(keys[1], (n, num_restarts, 1), r.dtype,
                                         -1.0, 2.0))
    # restarts: the truth, stretched truths (exaggeration and understatement), random reports
    starts = stretch * r[:, None, :] + spread * scale * noise
    starts = starts.at[:, 0, :].set(r)
    party = jnp.repeat(jnp.arange(n), num_restarts)
    starts = starts.reshape(n * num_restarts, k)
    charge = jnp.where(with_payments, 1.0, 0.0).astype(r.dtype)
    truthful = _utilities(r, r, w, mu, t, False) - charge * _payments(r, w, mu, t)

    def one(x):
        p, s = x
        prob = _AuditProblem(r, w, mu, t, p, s, step_size * scale, charge, truthful[p])
        it = iterate(_ReportAscent(), prob, jnp.zeros((), r.dtype), jax.random.key(0),
                     max_steps=num_steps)
        final = _gain_of(it.state.report, prob)
        better = final > it.state.best_gain
        return (jnp.where(better, final, it.state.best_gain),
                jnp.where(better, it.state.report, it.state.best_report))

    gains, reports = batch_map(one, (party, starts), batch_shape=(n * num_restarts,))
    gains = gains.reshape(n, num_restarts)
    reports = reports.reshape(n, num_restarts, k)
    best = jnp.argmax(gains, axis=1)
    g = jnp.take_along_axis(gains, best[:, None], axis=1)[:, 0]
    rep = jnp.take_along_axis(reports, best[:, None, None], axis=1)[:, 0]
    return MisreportAudit(incentive_violation=jnp.maximum(g, 0.0), gains=g, best_reports=rep,
                          truthful_utilities=truthful)


def misreport_audit(rewards, weights=None, reference=None, temperature=1.0, *,
                    with_payments: bool = True, key=None, num_restarts: int = 16,
                    num_steps: int = 200, step_size=0.05, spread=1.0) -> MisreportAudit:
    r"""Search for profitable misreports: random restarts plus gradient ascent on the report.

    For each party ``i`` it maximises ``gain_i(r~) = u_i(r~, r_-i) - u_i(r_i, r_-i)`` (the
    utility of :func:`party_utilities` with ``i`` reporting ``r~`` while the others are
    truthful) over ``r~ in R^responses`` by Adam ascent (Kingma and Ba 2015) with
    ``jax.grad`` through the closed-form policy and payments, from ``num_restarts`` starts: the
    truth, stretched truths ``c r_i`` (``c`` log-uniform in ``[e^-1, e^2]``) plus Gaussian
    noise of ``spread`` times the reward scale. It keeps the best report seen. With the
    affine-maximiser payments truthful reporting is dominant, so no gain above rounding
    should be found; without them, exaggeration pays. A search, not a proof: a gain found is a
    certificate of manipulability, no gain found is evidence.

    Args:
      rewards: ``[parties, responses]`` the parties' true rewards.
      weights, reference, temperature: as in :func:`fine_tuning_policy`.
      with_payments: charge :func:`affine_maximizer_payments` (default) or nothing.
      key: PRNG key for the restarts (default ``jax.random.key(0)``).
      num_restarts: starts per party (static).
      num_steps: Adam steps per start (static).
      step_size: Adam's step, relative to the rewards' scale ``max |r|``.
      spread: the noise of the random starts, relative to the rewards' scale.

    Returns:
      :class:`MisreportAudit`.

    Raises:
      TypeError: if an argument is not numeric or ``with_payments`` is not a bool.
      ValueError: on bad shapes or values, or non-positive ``num_restarts``, ``num_steps``,
        ``step_size``.

    Example:
      >>> import jax
      >>> from socialign.mechanisms import elicitation as el
      >>> a = el.misreport_audit([[1., 0., .5], [0., 1., .2]], num_restarts=2, num_steps=50,
      ...                        key=jax.random.key(1))
      >>> bool(a.incentive_violation.max() <= 1e-6)     # truthful is dominant with payments
      True
    """
    if not isinstance(with_payments, bool):
        raise TypeError(f"with_payments must be a bool, got {type(with_payments).__name__}")
    r, w, mu, t = _inputs(rewards, weights, reference, temperature)
    num_restarts = check_positive_int(num_restarts, "num_restarts")
    num_steps = check_positive_int(num_steps, "num_steps")
    check_positive_scalar(step_size, "step_size")
    check_positive_scalar(spread, "spread", allow_zero=True)
    if key is None:
        key = jax.random.key(0)
    return _audit(r, w, mu, t, jnp.asarray(with_payments), key, jnp.asarray(step_size, r.dtype),
                  jnp.asarray(spread, r.dtype), num_steps=num_steps, num_restarts=num_restarts)
