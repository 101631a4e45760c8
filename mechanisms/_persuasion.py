r"""Bayesian persuasion (information design) by the obedience LP, batched.

A sender commits to a signalling scheme; a receiver who knows the scheme observes the signal,
updates the prior ``mu`` over states ``s`` and takes an action ``a``. By the revelation
principle signals can be taken to be action recommendations obeyed by the receiver, so the
optimal scheme ``pi(a | s)`` solves the LP

.. math::
    \max_\pi \sum_s \mu_s \sum_a \pi(a|s)\, v(s, a) \quad\text{s.t.}\quad
    \sum_s \mu_s \pi(a|s) \,[u(s,a) - u(s,a')] \ge 0 \;\; \forall a \ne a',
    \qquad \sum_a \pi(a|s) = 1,\; \pi \ge 0,

(``v`` sender's, ``u`` receiver's utility; ties broken in the sender's favour). All instances of
a batch go to :func:`solvers.linprog` as one batch.

References:
  E. Kamenica and M. Gentzkow, "Bayesian persuasion", AER 2011.
  D. Bergemann and S. Morris, "Information design: a unified perspective", JEL 2019.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import as_float_array, check_finite, check_simplex
from ..solvers._linprog import linprog

__all__ = ["BayesianPersuasion", "SignalingScheme", "optimal_signal"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, init=False)
class BayesianPersuasion:
    """An information-design problem (leading axes are batch axes).

    Attributes:
      prior: ``[*batch, states]``.
      sender_utility: ``[*batch, states, actions]``.
      receiver_utility: ``[*batch, states, actions]``.

    Example:
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]], [[1., 0.], [0., 1.]])
      >>> bp.prior.shape
      (2,)
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


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SignalingScheme:
    """Optimal scheme ``signal[s, a] = pi(recommend a | state s)`` and its certificates."""

    signal: jax.Array
    sender_value: jax.Array
    receiver_value: jax.Array
    action_probs: jax.Array
    obedience_violation: jax.Array
    full_disclosure_value: jax.Array
    no_information_value: jax.Array
    result: jax.Array
    certificate: jax.Array


def _lp_data(mu, v, u):
    S, A = v.shape[-2:]
    c = -(mu[..., :, None] * v).reshape((*v.shape[:-2], S * A))
    rows = []
    for a in range(A):
        for b in range(A):
            if a == b:
                continue
            row = jnp.zeros((*v.shape[:-2], S, A), v.dtype)
            row = row.at[..., :, a].set(-mu * (u[..., :, a] - u[..., :, b]))
            rows.append(row.reshape((*v.shape[:-2], S * A)))
    if not rows:  # one action: no obedience constraint (a trivial row keeps shapes uniform)
        rows.append(jnp.zeros((*v.shape[:-2], S * A), v.dtype))
    G = jnp.stack(rows, axis=-2)
    E = np.kron(np.eye(S), np.ones((1, A)))
    return c, G, jnp.zeros(G.shape[:-1], v.dtype), jnp.asarray(E, v.dtype)


def _best_for_sender(q, v, u):
    """Sender's value when the receiver best-responds to belief ``q`` (ties to the sender)."""
    eu = jnp.einsum("...s,...sa->...a", q, u)
    tie = eu >= jnp.max(eu, -1, keepdims=True) - 1e-9 * (1 + jnp.abs(eu).max(-1, keepdims=True))
    return jnp.max(jnp.where(tie, jnp.einsum("...s,...sa->...a", q, v), -jnp.inf), -1)


def optimal_signal(problem: BayesianPersuasion, *, tol=None, max_steps: int = 200
                   ) -> SignalingScheme:
    """The sender-optimal signalling scheme (obedience LP; see the module docstring).

    Example (Kamenica-Gentzkow prosecutor: conviction probability 0.6):
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> bp = mechanisms.BayesianPersuasion([0.3, 0.7], [[1., 0.], [1., 0.]],
      ...                                    [[1., 0.], [0., 1.]])
      >>> round(float(mechanisms.optimal_signal(bp).sender_value), 6)
      0.6
    """
    if not isinstance(problem, BayesianPersuasion):
        raise TypeError(f"problem must be a BayesianPersuasion, got {type(problem).__name__}")
    mu, v, u = problem.prior, problem.sender_utility, problem.receiver_utility
    batch = mu.shape[:-1]
    S, A = v.shape[-2:]
    c, G, h, E = _lp_data(mu, v, u)
    nb = int(np.prod(batch, dtype=np.int64))
    args = (c.reshape(nb, S * A), G.reshape(nb, *G.shape[-2:]), h.reshape(nb, -1)) if batch \
        else (c, G, h)
    sol = linprog(*args, A_eq=E, b_eq=jnp.ones(S, v.dtype), bounds=(0, None), tol=tol,
                  max_steps=max_steps)
    return _finish(problem, sol.x.reshape((*batch, S, A)), sol.status.reshape(batch),
                   sol.duality_gap.reshape(batch))


@jax.jit
def _finish(problem, pi, status, gap):
    mu, v, u = problem.prior, problem.sender_utility, problem.receiver_utility
    pi = jnp.maximum(pi, 0.0)
    pi = pi / jnp.sum(pi, -1, keepdims=True)
    joint = mu[..., :, None] * pi
    sender = jnp.sum(joint * v, axis=(-2, -1))
    receiver = jnp.sum(joint * u, axis=(-2, -1))
    # obedience: for each recommended a, E[u(s,a) - u(s,b) | a] * P(a) >= 0
    gain = jnp.einsum("...sa,...sb->...ab", joint, u) - jnp.einsum("...sa,...sa->...a", joint,
                                                                   u)[..., :, None]
    viol = jnp.maximum(jnp.max(gain, axis=(-2, -1)), 0.0)
    S = mu.shape[-1]
    full = jnp.sum(mu * jax.vmap(lambda e: _best_for_sender(e, v, u), in_axes=0,
                                 out_axes=-1)(jnp.eye(S, dtype=mu.dtype)), axis=-1)
    none = _best_for_sender(mu, v, u)
    return SignalingScheme(signal=pi, sender_value=sender, receiver_value=receiver,
                           action_probs=jnp.sum(joint, axis=-2), obedience_violation=viol,
                           full_disclosure_value=full, no_information_value=none,
                           result=jnp.asarray(status, jnp.int32), certificate=gap)

