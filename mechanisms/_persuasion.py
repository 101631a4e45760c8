r"""Bayesian persuasion (information design) by the obedience LP, batched.

A sender commits to a signalling scheme; a receiver who knows the scheme observes the signal,
updates the prior ``mu`` over states ``s`` and takes an action ``a``. By the revelation
principle signals can be taken to be action recommendations obeyed by the receiver, so the
optimal scheme ``pi(a | s)`` solves the LP

.. math::
    \max_\pi \sum_s \mu_s \sum_a \pi(a|s)\, v(s, a) \quad\text{s.t.}\quad
    \sum_s \mu_s \pi(a|s) \,[u(s,a) - u(s,a')] \ge 0 \;\; \forall a \ne a',
    \qquad \sum_a \pi(a|s) = 1,\; \pi \ge 0,

(``v`` sender's, ``u`` receiver's utility; ties broken in the sender's favour). Each instance is
one LP solved by :func:`socialign.solvers.linprog`; a batch is ``vmap``-ed
(:func:`socialign.kernel.batch_map`), and the whole computation has fixed shapes, so
:func:`optimal_signal` runs inside ``jax.jit`` and under ``jax.vmap`` over any array field.
The designer :class:`OptimalSignal` returns the same scheme as a
:class:`socialign.mechanisms.Design`.

References:
  E. Kamenica and M. Gentzkow, "Bayesian persuasion", AER 2011.
  D. Bergemann and S. Morris, "Information design: a unified perspective", JEL 2019.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import solvers
from ..kernel import (
    Result,
    as_float_array,
    batch_map,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    default_tol,
    eps,
    pytree_dataclass,
    scale_of,
)
from ._design import Design, Designer
from ._screening import _lp_tolerance

__all__ = ["BayesianPersuasion", "OptimalSignal", "SignalingScheme", "optimal_signal"]


@pytree_dataclass(init=False)
class BayesianPersuasion:
    """An information-design problem (leading axes are batch axes).

    Attributes:
      prior: ``[*batch, states]`` the common prior over states.
      sender_utility: ``[*batch, states, actions]`` the sender's (principal's) payoff ``v(s, a)``.
      receiver_utility: ``[*batch, states, actions]`` the receiver's (agent's) payoff ``u(s, a)``.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if the shapes disagree, ``prior`` is not a probability vector, or a utility
        is not finite.

    Example:
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]], [[1., 0.], [0., 1.]])
      >>> bp.prior.shape, bp.batch_shape
      ((2,), ())
    """

    prior: jax.Array
    sender_utility: jax.Array
    receiver_utility: jax.Array

    def __init__(self, prior, sender_utility, receiver_utility):
        mu = as_float_array(prior, "prior")
        v = as_float_array(sender_utility, "sender_utility")
        u = as_float_array(receiver_utility, "receiver_utility")
        if v.ndim < 2 or v.shape != u.shape:
            raise ValueError(f"sender_utility {tuple(v.shape)} and receiver_utility "
                             f"{tuple(u.shape)} must have the same shape [*batch, states, "
                             "actions]")
        if v.shape[-1] == 0 or v.shape[-2] == 0:
            raise ValueError(f"the utilities need at least one state and one action, got shape "
                             f"{tuple(v.shape)}")
        if mu.shape != v.shape[:-1]:
            raise ValueError(f"prior must have shape {tuple(v.shape[:-1])} (states of the "
                             f"utilities), got {tuple(mu.shape)}")
        check_simplex(mu, "prior")
        check_finite(v, "sender_utility")
        check_finite(u, "receiver_utility")
        dtype = jnp.result_type(mu, v, u)
        object.__setattr__(self, "prior", mu.astype(dtype))
        object.__setattr__(self, "sender_utility", v.astype(dtype))
        object.__setattr__(self, "receiver_utility", u.astype(dtype))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading batch axes."""
        return tuple(self.prior.shape[:-1])


@pytree_dataclass
class SignalingScheme:
    """A signalling scheme ``signal[s, a] = pi(recommend a | state s)`` and its certificates.

    Every field carries the problem's batch axes ``[*batch]``.

    Attributes:
      signal: ``[*batch, states, actions]`` recommendation probabilities (rows sum to 1).
      principal_value: ``[*batch]`` the sender's expected utility under obedience.
      agent_values: ``[*batch]`` the receiver's expected utility under obedience.
      action_probs: ``[*batch, actions]`` probability of each recommendation.
      incentive_violation: ``[*batch]`` the largest expected gain of the receiver from
        disobeying a recommendation (weighted by its probability), ``>= 0``.
      participation_violation: ``[*batch]`` zero: the receiver has no outside option to
        violate (kept for the shared :class:`socialign.mechanisms.Design` shape).
      full_disclosure_value: ``[*batch]`` the sender's value when the state is revealed.
      no_information_value: ``[*batch]`` the sender's value with no information.
      result: ``[*batch]`` ``int32`` :class:`socialign.kernel.Result` code.
      certificate: ``[*batch]`` the LP duality gap.

    Example:
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]],
      ...                                    [[1., 0.], [0., 1.]])
      >>> s = mechanisms.optimal_signal(bp)
      >>> [round(float(x), 6) for x in s.signal[1]], round(float(s.full_disclosure_value), 6)
      ([0.428571, 0.571429], 0.3)
    """

    signal: jax.Array
    principal_value: jax.Array
    agent_values: jax.Array
    action_probs: jax.Array
    incentive_violation: jax.Array
    participation_violation: jax.Array
    full_disclosure_value: jax.Array
    no_information_value: jax.Array
    result: jax.Array
    certificate: jax.Array


def _lp_data(mu, v, u):
    """Obedience LP of one problem: ``min c x`` s.t. ``G x <= 0``, ``E x = 1``, ``x >= 0``."""
    S, A = v.shape
    pairs = [(a, b) for a in range(A) for b in range(A) if a != b]
    c = -(mu[:, None] * v).reshape(S * A)
    if pairs:
        a_idx = np.array([a for a, _ in pairs])
        b_idx = np.array([b for _, b in pairs])
        onehot = jnp.asarray(np.eye(A)[a_idx], v.dtype)  # [R, A]
        coef = -mu[None, :] * (u[:, a_idx] - u[:, b_idx]).T  # [R, S]
        G = (coef[:, :, None] * onehot[:, None, :]).reshape(len(pairs), S * A)
    else:  # one action: no obedience constraint (a trivial row keeps shapes uniform)
        G = jnp.zeros((1, S * A), v.dtype)
    E = jnp.asarray(np.kron(np.eye(S), np.ones((1, A))), v.dtype)
    return c, G, jnp.zeros(G.shape[0], v.dtype), E


def _best_for_sender(q, v, u):
    """Sender's value when the receiver best-responds to belief ``q`` (ties to the sender)."""
    eu = q @ u
    slack = 8 * eps(u.dtype) * scale_of(u)
    tie = eu >= jnp.max(eu) - slack
    return jnp.max(jnp.where(tie, q @ v, -jnp.inf))


def _signal_one(problem: BayesianPersuasion, tol, max_steps):
    mu, v, u = problem.prior, problem.sender_utility, problem.receiver_utility
    S, A = v.shape
    c, G, h, E = _lp_data(mu, v, u)
    sol = solvers.linprog(c, G, h, E, jnp.ones(S, v.dtype), bounds=(0, None),
                          max_steps=max_steps, method="interior_point",
                          tol=_lp_tolerance(v.dtype))
    pi = jnp.maximum(sol.x.reshape(S, A), 0.0)
    pi = pi / jnp.maximum(jnp.sum(pi, -1, keepdims=True), jnp.finfo(v.dtype).tiny)
    joint = mu[:, None] * pi
    sender = jnp.sum(joint * v)
    receiver = jnp.sum(joint * u)
    # obedience: for each recommended a, sum_s joint[s, a] (u(s, b) - u(s, a)) <= 0
    gain = joint.T @ u - jnp.sum(joint * u, axis=0)[:, None]  # [a, b]
    viol = jnp.maximum(jnp.max(gain), 0.0)
    full = jnp.sum(mu * jax.vmap(lambda e: _best_for_sender(e, v, u))(jnp.eye(S, dtype=v.dtype)))
    none = _best_for_sender(mu, v, u)
    code = sol.status
    ok = viol <= tol * scale_of(u)
    code = jnp.where((code == Result.CONVERGED) & ~ok, Result.CERTIFICATE_ABOVE_TOLERANCE, code)
    scheme = SignalingScheme(signal=pi, principal_value=sender, agent_values=receiver,
                             action_probs=jnp.sum(joint, axis=0), incentive_violation=viol,
                             participation_violation=jnp.zeros((), v.dtype),
                             full_disclosure_value=full, no_information_value=none,
                             result=code.astype(jnp.int32), certificate=sol.duality_gap)
    return scheme, sol.num_steps


def _optimal_signal(problem, tol, max_steps):
    if not isinstance(problem, BayesianPersuasion):
        raise TypeError(f"problem must be a BayesianPersuasion, got {type(problem).__name__}")
    max_steps = check_positive_int(max_steps, "max_steps")
    if tol is None:
        tol = default_tol(problem.prior.dtype)
    else:
        check_positive_scalar(tol, "tol", allow_zero=True)
    return _signal(problem, tol, max_steps=max_steps)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _signal(problem, tol, *, max_steps):
    # one compiled program per shape (eager calls reuse it; a user's jit inlines it)
    return batch_map(lambda pr: _signal_one(pr, tol, max_steps), problem,
                     batch_shape=problem.batch_shape)


def optimal_signal(problem: BayesianPersuasion, *, tol=None, max_steps: int = 200
                   ) -> SignalingScheme:
    """The sender-optimal signalling scheme (obedience LP; see the module docstring).

    Pure and fixed-shape: runs inside ``jax.jit`` and under ``jax.vmap`` over any array field
    of ``problem``, with the same answer as eagerly.

    Args:
      problem: a :class:`BayesianPersuasion`, any batch axes.
      tol: tolerance on the obedience violation, relative to ``max |u|`` (default
        :func:`socialign.kernel.default_tol` of the dtype).
      max_steps: interior-point iteration budget (static).

    Returns:
      A :class:`SignalingScheme` with batch axes ``problem.batch_shape``.

    Raises:
      TypeError: if ``problem`` is not a :class:`BayesianPersuasion`.
      ValueError: if ``tol`` is negative or ``max_steps`` is not a positive int.

    Example:
      >>> # Kamenica-Gentzkow prosecutor: conviction probability 0.6
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]],
      ...                                    [[1., 0.], [0., 1.]])
      >>> round(float(mechanisms.optimal_signal(bp).principal_value), 6)
      0.6
    """
    return _optimal_signal(problem, tol, max_steps)[0]


@pytree_dataclass
class OptimalSignal(Designer):
    """Designer: the sender-optimal signalling scheme by the obedience LP.

    :func:`socialign.mechanisms.design` with this designer runs :func:`optimal_signal`; the
    :class:`socialign.mechanisms.Design`'s ``mechanism`` is the :class:`SignalingScheme`,
    ``principal_value`` the sender's value and ``agent_values`` the receiver's.

    Example:
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]],
      ...                                    [[1., 0.], [0., 1.]])
      >>> d = mechanisms.design(bp, mechanisms.OptimalSignal())
      >>> round(float(d.principal_value), 6), int(d.result)
      (0.6, 0)
    """

    problem_types = (BayesianPersuasion,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The optimal-signal :class:`Design` for a :class:`BayesianPersuasion` problem."""
        scheme, steps = _optimal_signal(problem, tol, max_steps)
        return Design(mechanism=scheme, principal_value=scheme.principal_value,
                      agent_values=scheme.agent_values,
                      incentive_violation=scheme.incentive_violation,
                      participation_violation=scheme.participation_violation,
                      certificate=scheme.certificate, result=scheme.result,
                      stats={"num_steps": steps})
