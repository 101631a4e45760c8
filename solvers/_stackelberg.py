r"""Stackelberg (commitment) equilibria of bimatrix games by multiple LPs, batched.

Strong Stackelberg equilibrium (Conitzer and Sandholm 2006): the leader commits to a mixed
strategy ``x``, the follower best-responds, breaking ties in the leader's favour. For each
follower action ``j`` one LP finds the leader's best commitment that makes ``j`` a best
response:

.. math::
    \max_{x \in \Delta} \; x^\top A_{:, j} \quad \text{s.t.} \quad
    x^\top B_{:, j} \ge x^\top B_{:, j'} \;\; \forall j' \ne j,

and the equilibrium is the best feasible ``j``. All ``batch x n`` LPs are solved as one batch by
the interior-point core :func:`solvers.linprog`.

Bayesian Stackelberg (follower types ``theta`` with prior ``p``): for small games the leader's
optimum is found by one LP per *response profile* ``(j_theta)_theta`` (the multiple-LPs method
over type profiles, exact; the problem is NP-hard in general, Conitzer and Sandholm 2006, and
DOBSS (Paruchuri et al. 2008) is the MILP alternative for large type spaces):

.. math::
    \max_{x \in \Delta} \sum_\theta p_\theta\, x^\top A^\theta_{:, j_\theta} \quad
    \text{s.t.}\quad x^\top B^\theta_{:, j_\theta} \ge x^\top B^\theta_{:, j'}
    \;\; \forall \theta, j'.

References:
  V. Conitzer and T. Sandholm, "Computing the optimal strategy to commit to", EC 2006.
  P. Paruchuri et al., "Playing games for security: an efficient exact algorithm for solving
  Bayesian Stackelberg games", AAMAS 2008.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, as_float_array, check_finite, check_simplex
from ._equilibrium import Equilibrium
from ._game import NormalFormGame
from ._linprog import linprog
from ._metrics import expected_values, nash_conv, relative_nash_conv

__all__ = ["stackelberg", "bayesian_stackelberg"]


def _profile_lps(A, B, p, profiles):
    """LP data for each response profile. A, B: [*, T, m, n]; p: [T]; profiles: [K, T]."""
    T, m, n = A.shape[-3:]
    K = profiles.shape[0]

    def cols(X):  # X[..., theta, :, j_theta] for every profile -> [*, K, T, m]
        per_type = [jnp.take(X[..., t, :, :], profiles[:, t], axis=-1) for t in range(T)]
        return jnp.moveaxis(jnp.stack(per_type, axis=-1), -3, -1)  # [*, m, K, T] -> [*, K, T, m]

    # objective: -sum_theta p_theta A[theta, :, j_theta]  -> [*, K, m]
    c = -jnp.einsum("t,...ktm->...km", p, cols(A))
    # constraints: for each theta and j': (B[theta,:,j'] - B[theta,:,j_theta]) x <= 0
    Bcols = cols(B)
    Ball = jnp.swapaxes(B, -1, -2)  # [*, T, n, m]
    G = Ball[..., None, :, :, :] - Bcols[..., :, :, None, :]  # [*, K, T, n, m]
    G = G.reshape((*G.shape[:-3], T * n, m))
    h = jnp.zeros(G.shape[:-1], A.dtype)
    del K
    return c, G, h


def _rescaled(X, axes):
    """``(X - min) / range`` over ``axes`` (range 1 where ``X`` is constant), and the min and
    range (kept dims): the LPs then do not depend on the payoffs' scale or shift."""
    lo = jnp.min(X, axis=axes, keepdims=True)
    r = jnp.max(X, axis=axes, keepdims=True) - lo
    return (X - lo) / jnp.where(r > 0, r, 1.0), lo, r


def _solve_profiles(A, B, p, profiles, tol, max_steps):
    """One LP per response profile on payoffs rescaled to ``[0, 1]``: the leader's over all
    types at once (a common positive affine map keeps its best commitment), each follower
    type's separately (its best responses are unchanged). Returns the leader's values in payoff
    units and the LPs' duality gaps relative to the leader's payoff range."""
    batch = A.shape[:-3]
    m = A.shape[-2]
    K = profiles.shape[0]
    A, lo, r = _rescaled(A, (-3, -2, -1))
    B, _, _ = _rescaled(B, (-2, -1))
    c, G, h = _profile_lps(A, B, p, profiles)
    nb = int(np.prod(batch, dtype=np.int64)) * K
    sol = linprog(c.reshape(nb, m), G.reshape(nb, *G.shape[-2:]), h.reshape(nb, -1),
                  A_eq=jnp.ones((1, m), A.dtype), b_eq=jnp.ones((1,), A.dtype),
                  bounds=(0, None), tol=tol, max_steps=max_steps)
    rs = lambda v: v.reshape((*batch, K, *v.shape[1:]))  # noqa: E731
    # leader value in payoff units: sum_t p_t x.A_t = min A + range A * (rescaled value)
    value = lo[..., 0, 0] - r[..., 0, 0] * rs(sol.fun)
    return rs(sol.x), value, rs(sol.status), rs(sol.duality_gap)


@jax.jit
def _pick(x, val, status, gap):
    ok = status == Result.CONVERGED
    settled = jnp.all(ok | (status == Result.INFEASIBLE), axis=-1)
    v = jnp.where(ok, val, -jnp.inf)
    k = jnp.argmax(v, axis=-1)
    xs = jnp.take_along_axis(x, k[..., None, None], axis=-2)[..., 0, :]
    best = jnp.take_along_axis(v, k[..., None], axis=-1)[..., 0]
    code = jnp.where(settled & jnp.any(ok, axis=-1), Result.CONVERGED, Result.FAILED)
    cert = jnp.max(jnp.where(ok, gap, 0.0), axis=-1)
    return xs, k, best, code.astype(jnp.int32), cert


def stackelberg(game: NormalFormGame, *, leader: int = 0, tol=None, max_steps: int = 200
                ) -> Equilibrium:
    """Strong Stackelberg equilibrium of a (batched) two-player game by multiple LPs.

    Args:
      game: a two-player :class:`NormalFormGame` (batch axes allowed).
      leader: the committing player (0: rows, 1: columns).
      tol, max_steps: passed to :func:`solvers.linprog`.

    Returns:
      :class:`Equilibrium` with ``strategies = (leader's mixed strategy, follower's pure
      response as a one-hot vector)`` in the game's player order, ``values`` the two players'
      payoffs, ``nash_conv`` of that profile (not zero in general: commitment is not Nash)
      and ``relative_nash_conv`` (each player's gain over its payoff range), ``certificate``
      the largest duality gap of the feasible LPs relative to the leader's payoff range (the
      LPs run on payoffs rescaled to ``[0, 1]``, so the answer does not change when a player's
      payoffs are multiplied by a positive number or shifted), and ``stats`` with
      ``follower_action`` and the value of every follower action's LP (``-inf`` if
      infeasible).

    Raises:
      TypeError: if ``game`` is not a :class:`NormalFormGame`.
      ValueError: if it is not a two-player game or ``leader`` is not 0 or 1.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.from_bimatrix([[2., 4.], [1., 3.]], [[1., 0.], [0., 1.]])
      >>> eq = solvers.stackelberg(g)
      >>> [round(float(v), 6) for v in eq.strategies[0]], round(float(eq.values[0]), 6)
      ([0.5, 0.5], 3.5)
    """
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"game must be a NormalFormGame, got {type(game).__name__}")
    if game.num_players != 2:
        raise ValueError(f"stackelberg needs a two-player game, got {game.num_players} players")
    if isinstance(leader, bool) or leader not in (0, 1):   # True == 1 is not a player index
        raise ValueError(f"leader must be 0 or 1, got {leader!r}")
    pay = game.payoffs
    A, B = pay[..., 0, :, :], pay[..., 1, :, :]
    if leader == 1:
        A, B = jnp.swapaxes(B, -1, -2), jnp.swapaxes(A, -1, -2)
    n = A.shape[-1]
    profiles = np.arange(n)[:, None]
    x, val, status, gap = _solve_profiles(A[..., None, :, :], B[..., None, :, :],
                                          jnp.ones((1,), A.dtype), profiles, tol, max_steps)
    xs, j, best, code, cert = _pick(x, val, status, gap)
    y = jax.nn.one_hot(j, n, dtype=A.dtype)
    strategies = (xs, y) if leader == 0 else (y, xs)
    values = expected_values(game, strategies)
    return Equilibrium(strategies=strategies, values=values, nash_conv=nash_conv(game, strategies),
                       relative_nash_conv=relative_nash_conv(game, strategies),
                       certificate=cert, result=code, stats={
                           "follower_action": j.astype(jnp.int32),
                           "lp_values": jnp.where(status == Result.CONVERGED, val, -jnp.inf),
                           "lp_status": status, "num_lps": n},
                       state=None)


def _bayesian_nash_conv(A, B, p, x, Y):
    """NashConv of the profile ``(x, Y)`` in the Bayesian game, types as separate players.

    ``sum_theta p_theta [max_j (x^T B^theta)_j - x^T B^theta y_theta]`` (the follower types'
    gains, zero when each type best-responds) plus the leader's gain
    ``max_i sum_theta p_theta (A^theta y_theta)_i - sum_theta p_theta x^T A^theta y_theta``
    (not zero in general: commitment is not Nash). Shapes: ``A, B [*, T, m, n]``, ``p [T]``,
    ``x [*, m]``, ``Y [*, T, n]``; returns ``[*]``.
    """
    xB = jnp.einsum("...m,...tmn->...tn", x, B)
    follower_gain = jnp.einsum("t,...t->...", p, jnp.max(xB, -1) - jnp.sum(xB * Y, -1))
    Ay = jnp.einsum("t,...tmn,...tn->...m", p, A, Y)
    leader_gain = jnp.max(Ay, -1) - jnp.sum(x * Ay, -1)
    return leader_gain + follower_gain


def bayesian_stackelberg(leader_payoffs, follower_payoffs, prior, *, tol=None,
                         max_steps: int = 200, max_profiles: int = 4096) -> Equilibrium:
    """Bayesian Stackelberg equilibrium (follower types) by one LP per response profile.

    Args:
      leader_payoffs: ``[*batch, T, m, n]`` leader payoff against follower type ``theta``.
      follower_payoffs: ``[*batch, T, m, n]`` payoffs of follower type ``theta``.
      prior: ``[T]`` prior over follower types (shared by the batch).
      max_profiles: refuse games with more than this many response profiles ``n^T``.

    Returns:
      :class:`Equilibrium` with ``strategies = (leader's mixed strategy [m], responses
      [T, n] one-hot per type)``, ``values = [leader's expected value, followers' expected
      value]``, ``nash_conv`` the NashConv of that profile in the Bayesian game with the
      types as separate players (the types' gains, zero as they best-respond, plus the
      leader's gain from deviating against the fixed responses; not zero in general, as
      commitment is not Nash) and ``relative_nash_conv`` the same with the leader's payoffs and
      each type's rescaled to ``[0, 1]``, ``certificate`` the largest duality gap of the feasible
      LPs relative to the leader's payoff range (scale-free: the LPs run on rescaled payoffs),
      ``result`` ``CONVERGED`` or ``FAILED`` (some LP neither solved nor proved infeasible),
      and ``stats['responses']`` the types' actions.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if the shapes do not match, an array is not finite, ``prior`` is not a
        probability vector, or there are more than ``max_profiles`` response profiles.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> eq = solvers.bayesian_stackelberg([[[2., 4.], [1., 3.]]], [[[1., 0.], [0., 1.]]], [1.])
      >>> round(float(eq.values[0]), 6)
      3.5
    """
    A = as_float_array(leader_payoffs, "leader_payoffs")
    B = as_float_array(follower_payoffs, "follower_payoffs")
    p = as_float_array(prior, "prior")
    if A.ndim < 3:
        raise ValueError(f"leader_payoffs must have shape [*batch, types, m, n]; got "
                         f"{tuple(A.shape)}")
    if A.shape != B.shape:
        raise ValueError(f"leader_payoffs {tuple(A.shape)} and follower_payoffs "
                         f"{tuple(B.shape)} must have the same shape")
    T, m, n = A.shape[-3:]
    if p.shape != (T,):
        raise ValueError(f"prior must have shape ({T},), got {tuple(p.shape)}")
    for name, arr in (("leader_payoffs", A), ("follower_payoffs", B)):
        check_finite(arr, name)
    check_simplex(p, "prior")
    if n**T > max_profiles:
        raise ValueError(f"{n}^{T} = {n**T} response profiles exceed max_profiles="
                         f"{max_profiles}; the problem is NP-hard in the number of types")
    dtype = jnp.result_type(A, B, p)
    A, B, p = A.astype(dtype), B.astype(dtype), p.astype(dtype)
    profiles = np.array(list(itertools.product(range(n), repeat=T)), dtype=np.int64)
    x, val, status, gap = _solve_profiles(A, B, p, profiles, tol, max_steps)
    xs, k, best, code, cert = _pick(x, val, status, gap)
    resp = jnp.asarray(profiles)[k]  # [*batch, T]
    Y = jax.nn.one_hot(resp, n, dtype=dtype)
    fol = jnp.einsum("t,...m,...tmn,...tn->...", p, xs, B, Y)
    return Equilibrium(strategies=(xs, Y), values=jnp.stack([best, fol], axis=-1),
                       nash_conv=_bayesian_nash_conv(A, B, p, xs, Y),
                       relative_nash_conv=_bayesian_nash_conv(
                           _rescaled(A, (-3, -2, -1))[0], _rescaled(B, (-2, -1))[0], p, xs, Y),
                       certificate=cert,
                       result=code, stats={"responses": resp.astype(jnp.int32),
                                           "lp_status": status, "num_lps": len(profiles)},
                       state=None)
