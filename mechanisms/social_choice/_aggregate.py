r"""Aggregating groups' rewards or preferences into one choice distribution.

Utility-based rules take ``utilities [*batch, groups, outcomes]`` (group ``g``'s reward for
outcome ``o``, e.g. fitted Bradley-Terry scores) and group ``weights [*batch, groups]``
(non-negative, normalised here to sum to one; default equal) and return a lottery ``p`` over
outcomes. Write ``U_g(p) = <p, u_g>``.

- :func:`utilitarian`: ``max_p sum_g w_g U_g(p)``: the best outcome(s) of the weighted sum
  (Harsanyi 1955); ties share the lottery equally.
- :func:`nash_welfare`: ``max_p sum_g w_g log U_g(p)`` over lotteries (the weighted Nash
  product, Nash 1950; Kaneko and Nakamura 1979), a concave program solved by the multiplicative
  update ``p_o <- p_o sum_g w_g u_go / U_g(p)`` (Cover 1984; mirror ascent in the entropy
  geometry), which raises the objective at every step.
- :func:`egalitarian`: ``max_p min_g U_g(p) / (G w_g)`` (Rawls; Kalai's 1977 weighted
  egalitarian solution; with equal weights the plain max-min), a linear program solved by
  :func:`socialign.solvers.linprog`.

Preference-based rules take pairwise data:

- :func:`maximal_lottery`: from a margin matrix ``M`` (skew-symmetric), the lottery ``p`` with
  ``p^T M q >= 0`` for every ``q``: the maximin strategy of the symmetric zero-sum game ``M``
  (Fishburn 1984), solved by ``solvers.ZeroSumLP``. :func:`maximal_lotteries` computes the same
  from a :class:`Profile`.
- :func:`nash_preference_equilibrium`: the Nash equilibrium of the KL-regularised preference
  game of Nash learning from human feedback (Munos et al. 2023): for a preference matrix
  ``P[i, j]`` (the probability that ``i`` is preferred to ``j``; ``P + P^T = 1``), a reference
  ``mu`` and a temperature ``tau``,

  .. math::
      \pi^* = \arg\max_\pi \min_{\pi'} \pi^\top P \pi' - \tau KL(\pi \| \mu)
      + \tau KL(\pi' \| \mu), \qquad \pi^* \propto \mu \exp(P \pi^* / \tau).

  As ``tau -> 0`` it approaches a maximal lottery of the margins ``2 P - 1``; as
  ``tau -> inf`` it approaches ``mu``.

Every rule returns an :class:`Aggregate` with a certificate and a :class:`socialign.kernel.Result`
code, runs eagerly, under ``jax.jit`` and under ``jax.vmap`` with the same answer.

References:
  J. C. Harsanyi, "Cardinal welfare, individualistic ethics, and interpersonal comparisons of
  utility", J. Polit. Econ. 1955. J. F. Nash, "The bargaining problem", Econometrica 1950.
  M. Kaneko and K. Nakamura, "The Nash social welfare function", Econometrica 1979. T. M. Cover,
  "An algorithm for maximizing expected log investment return", IEEE Trans. Inf. Theory 1984.
  E. Kalai, "Proportional solutions to bargaining situations", Econometrica 1977.
  P. C. Fishburn, "Probabilistic social choice based on simple voting comparisons", Rev. Econ.
  Stud. 1984. R. Munos et al., "Nash learning from human feedback", arXiv:2312.00886, 2023
  (ICML 2024).
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
    default_tol,
    implicit_solution,
    is_concrete,
    iterate,
    lp_tol,
    no_gradient,
    pytree_dataclass,
    raise_if_failed,
    scale_of,
)
from ...solvers import NormalFormGame, ZeroSumLP, linprog, solve

__all__ = [
    "Aggregate",
    "egalitarian",
    "maximal_lottery",
    "nash_preference_equilibrium",
    "nash_welfare",
    "utilitarian",
]

#: step lengths tried by the preference-equilibrium Newton line search
_STEPS = 0.5 ** np.arange(12)


@pytree_dataclass
class Aggregate:
    """One aggregated choice distribution (every field has the batch axes in front).

    Attributes:
      lottery: ``[*batch, outcomes]`` the chosen distribution over outcomes.
      welfare: ``[*batch]`` the rule's objective at ``lottery``: the weighted sum of utilities
        (utilitarian), the weighted sum of log utilities (Nash), the weighted minimum (egalitarian),
        ``min_q p^T M q`` (``0`` for a maximal lottery), or ``pi^T P pi = 1/2`` (preference
        equilibrium).
      group_utilities: ``[*batch, groups]`` each group's expected utility ``<p, u_g>`` (utility
        rules), or ``[*batch, outcomes]`` the expected win probability ``P p`` of every outcome
        against the lottery (preference rules).
      certificate: ``[*batch]`` the rule's own check, compared with ``tol``: ``0`` for
        utilitarian (exact); the bound ``max_o sum_g w_g u_go / U_g(p) - 1`` on the welfare gap
        (Nash); the relative LP duality gap (egalitarian, maximal lottery); the fixed-point
        residual ``|pi - softmax(log mu + P pi / tau)|_1`` (preference equilibrium).
      result: ``int32 [*batch]`` :class:`socialign.kernel.Result` code.
      num_steps: ``int32 [*batch]`` iterations taken (``0`` for closed forms).

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> agg = sc.utilitarian([[1., 0.], [0., 2.]])
      >>> agg.lottery.tolist(), float(agg.welfare), agg.group_utilities.tolist()
      ([0.0, 1.0], 1.0, [0.0, 2.0])
    """

    lottery: jax.Array
    welfare: jax.Array
    group_utilities: jax.Array
    certificate: jax.Array
    result: jax.Array
    num_steps: jax.Array

    @property
    def converged(self) -> jax.Array:
        """Boolean array: ``result == CONVERGED``."""
        return jnp.asarray(self.result) == Result.CONVERGED


# --------------------------------------------------------------------------------------------
# boundary
# --------------------------------------------------------------------------------------------
def _utilities(utilities, weights, *, positive_weights=False):
    u = as_float_array(utilities, "utilities")
    if u.ndim < 2 or u.shape[-1] < 1 or u.shape[-2] < 1:
        raise ValueError(f"utilities must be [..., groups, outcomes]; got shape {tuple(u.shape)}")
    check_finite(u, "utilities")
    g = u.shape[-2]
    if weights is None:
        w = jnp.full(u.shape[:-1], 1.0 / g, u.dtype)
    else:
        w = as_float_array(weights, "weights").astype(u.dtype)
        try:
            w = jnp.broadcast_to(w, u.shape[:-1])
        except ValueError:
            raise ValueError(f"weights of shape {tuple(w.shape)} do not broadcast to "
                             f"{tuple(u.shape[:-1])} (the utilities without outcomes)") from None
        check_finite(w, "weights")
        if is_concrete(w):
            wv = np.asarray(w)
            if np.any(wv < 0) or np.any(wv.sum(-1) <= 0):
                raise ValueError("weights must be non-negative with a positive sum")
            if positive_weights and np.any(wv <= 0):
                raise ValueError("weights must be positive")
        w = w / jnp.sum(w, axis=-1, keepdims=True)
    return u, w


def _tol(tol, dtype, default=default_tol):
    if tol is None:
        return default(dtype)
    check_positive_scalar(tol, "tol")
    return tol


def _check_throw(throw):
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")


# --------------------------------------------------------------------------------------------
# utilitarian
# --------------------------------------------------------------------------------------------
def utilitarian(utilities, weights=None, *, tol=None) -> Aggregate:
    """Utilitarian aggregation: the outcome(s) maximising the weighted sum of utilities.

    ``welfare_o = sum_g w_g u_go``; the lottery spreads equally over the outcomes within
    ``tol * scale`` of the best (``scale`` the largest ``|u|``), so exact ties are not broken.
    Maximising over lotteries gives the same value (a linear objective is maximised at a
    vertex). J. C. Harsanyi, J. Polit. Econ. 1955.

    Args:
      utilities: ``[*batch, groups, outcomes]`` each group's utility (reward) of each outcome.
      weights: ``[*batch, groups]`` non-negative group weights (normalised to sum to one);
        default equal.
      tol: relative tie tolerance; default :func:`socialign.kernel.default_tol`.

    Returns:
      :class:`Aggregate` (certificate ``0``, result ``CONVERGED``).

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: on bad shapes, non-finite values, negative weights or a bad ``tol``.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> sc.utilitarian([[1., 0., 1.], [0., 1., 1.]]).lottery.tolist()
      [0.0, 0.0, 1.0]
    """
    u, w = _utilities(utilities, weights)
    tol = _tol(tol, u.dtype)
    welfare = jnp.einsum("...g,...go->...o", w, u)
    best = jnp.max(welfare, axis=-1, keepdims=True)
    top = welfare >= best - tol * scale_of(u, axis=(-2, -1))[..., None]
    p = top / jnp.sum(top, axis=-1, keepdims=True)
    zero = jnp.zeros(u.shape[:-2], u.dtype)
    return Aggregate(lottery=p.astype(u.dtype), welfare=best[..., 0],
                     group_utilities=jnp.einsum("...o,...go->...g", p, u), certificate=zero,
                     result=jnp.zeros(u.shape[:-2], jnp.int32),
                     num_steps=jnp.zeros(u.shape[:-2], jnp.int32))


# --------------------------------------------------------------------------------------------
# Nash welfare
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class _NashProblem:
    utilities: jax.Array   # [groups, outcomes]
    weights: jax.Array     # [groups], sum one


def _nash_gradient(prob, p):
    v = prob.utilities @ p
    return prob.weights / v @ prob.utilities, v


@pytree_dataclass
class _CoverSolver(IterativeSolver):
    """Cover's (1984) multiplicative update ``p <- p * grad f(p)`` for ``f = sum w log <p,u>``."""

    def init(self, prob, key):
        n = prob.utilities.shape[-1]
        return jnp.full((n,), 1.0 / n, prob.utilities.dtype)

    def step(self, prob, p):
        g, _ = _nash_gradient(prob, p)
        q = p * g
        return q / jnp.sum(q)

    def terminate(self, prob, p, tol):
        g, _ = _nash_gradient(prob, p)
        cert = jnp.maximum(jnp.max(g) - 1.0, 0.0)
        return cert <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), cert


@functools.partial(jax.jit, static_argnames=("batch_shape", "max_steps"))
def _nash_batch(u, w, tol, *, batch_shape, max_steps):
    def one(x):
        prob = _NashProblem(*x)
        it = iterate(_CoverSolver(), prob, tol, jax.random.key(0), max_steps=max_steps)
        # the optimum can sit on a face of the simplex, where it is not smooth: no gradients
        p = no_gradient(jax.lax.stop_gradient(it.state), "nash_welfare", prob)
        v = prob.utilities @ p
        welfare = jnp.sum(prob.weights * jnp.log(v))
        return Aggregate(lottery=p, welfare=welfare, group_utilities=v,
                         certificate=it.certificate, result=it.result, num_steps=it.num_steps)

    return batch_map(one, (u, w), batch_shape=batch_shape)


def nash_welfare(utilities, weights=None, *, tol=None, max_steps: int = 20_000,
                 throw: bool = False) -> Aggregate:
    r"""Nash social welfare over lotteries: ``max_p sum_g w_g log <p, u_g>``.

    A concave program over the simplex. It is solved by Cover's (1984) multiplicative update
    ``p_o <- p_o sum_g w_g u_go / <p, u_g>`` (mirror ascent in the entropy geometry; each step
    raises the objective) from the uniform lottery. Optimality (KKT): ``sum_g w_g u_go /
    <p, u_g> <= 1`` for every outcome, with equality on the support; the certificate
    ``max_o sum_g w_g u_go / <p, u_g> - 1 >= 0`` bounds the welfare gap ``f(p*) - f(p)`` (by
    concavity), and does not change when a group's utilities are rescaled (the Nash product is
    invariant to it).

    Args:
      utilities: ``[*batch, groups, outcomes]`` non-negative utilities; every group must value
        some outcome positively.
      weights: ``[*batch, groups]`` non-negative weights (normalised to sum to one); default
        equal.
      tol: tolerance on the certificate; default :func:`socialign.kernel.default_tol`.
      max_steps: iteration budget (static).
      throw: raise :class:`socialign.kernel.NotConvergedError` unless every member converged.

    Returns:
      :class:`Aggregate` with ``welfare = sum_g w_g log <p, u_g>``. The lottery is not
      differentiable (a gradient request raises ``TypeError``): the optimum often lies on a
      face of the simplex.

    Raises:
      TypeError: if an argument is not numeric or ``throw`` is not a bool.
      ValueError: on bad shapes, non-finite or negative utilities, a group with no positive
        utility, bad weights, or ``tol``/``max_steps`` out of range.
      NotConvergedError: with ``throw=True``, if a member did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> # two equal groups, each likes one outcome: the Nash lottery splits evenly
      >>> agg = sc.nash_welfare([[1., 0.], [0., 1.]])
      >>> agg.lottery.round(6).tolist(), int(agg.result)
      ([0.5, 0.5], 0)
    """
    u, w = _utilities(utilities, weights)
    if is_concrete(u):
        uv = np.asarray(u)
        if np.any(uv < 0):
            raise ValueError("utilities must be non-negative for Nash welfare")
        if np.any(uv.max(-1) <= 0):
            raise ValueError("utilities: every group must value some outcome positively")
    tol = _tol(tol, u.dtype)
    max_steps = check_positive_int(max_steps, "max_steps")
    _check_throw(throw)
    out = _nash_batch(u, w, jnp.asarray(tol, u.dtype), batch_shape=tuple(u.shape[:-2]),
                      max_steps=max_steps)
    if throw:
        raise_if_failed(out.result, "nash_welfare")
    return out


# --------------------------------------------------------------------------------------------
# egalitarian (an LP)
# --------------------------------------------------------------------------------------------
def egalitarian(utilities, weights=None, *, tol=None, throw: bool = False) -> Aggregate:
    r"""Egalitarian (max-min) aggregation over lotteries, by linear programming.

    .. math::
        \max_{p \in \Delta, t} t \quad \text{s.t.} \quad \langle p, u_g\rangle \ge G w_g t
        \quad (g = 1..G),

    i.e. ``max_p min_g <p, u_g> / (G w_g)``: Kalai's (1977) weighted egalitarian solution (a
    group with a larger weight is owed proportionally more); with equal weights it is Rawls'
    maximin ``max_p min_g <p, u_g>``. Solved by :func:`socialign.solvers.linprog`'s
    interior-point method (``t`` is free and there is an equality, so neither simplex applies;
    a batch is one batched LP); the certificate is its duality gap relative to the utilities' scale.

    Args:
      utilities: ``[*batch, groups, outcomes]``.
      weights: ``[*batch, groups]`` positive weights (normalised to sum to one); default equal.
      tol: the LP's relative tolerance; default :func:`socialign.kernel.lp_tol`.
      throw: raise :class:`socialign.kernel.NotConvergedError` unless every LP converged.

    Returns:
      :class:`Aggregate` with ``welfare = t``.

    Raises:
      TypeError: if an argument is not numeric or ``throw`` is not a bool.
      ValueError: on bad shapes, non-finite values, non-positive weights or a bad ``tol``.
      NotConvergedError: with ``throw=True``, if an LP did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> agg = sc.egalitarian([[2., 0.], [0., 1.]])   # equalise: 2 p = 1 - p
      >>> agg.lottery.round(6).tolist(), round(float(agg.welfare), 6)
      ([0.333333, 0.666667], 0.666667)
    """
    u, w = _utilities(utilities, weights, positive_weights=True)
    tol = _tol(tol, u.dtype, lp_tol)
    _check_throw(throw)
    *batch, g, n = u.shape
    batch = tuple(batch)
    c = jnp.broadcast_to(jnp.concatenate([jnp.zeros(n, u.dtype), -jnp.ones(1, u.dtype)]),
                         batch + (n + 1,))
    a_ub = jnp.concatenate([-u, (g * w)[..., None]], axis=-1)            # G w_g t - <p,u_g> <= 0
    b_ub = jnp.zeros(batch + (g,), u.dtype)
    a_eq = jnp.concatenate([jnp.ones((1, n), u.dtype), jnp.zeros((1, 1), u.dtype)], axis=-1)
    a_eq = jnp.broadcast_to(a_eq, batch + (1, n + 1))
    b_eq = jnp.ones(batch + (1,), u.dtype)
    bounds = [(0, None)] * n + [(None, None)]
    sol = linprog(c, a_ub, b_ub, a_eq, b_eq, bounds=bounds, tol=tol, method="interior_point")
    p = jnp.clip(sol.x[..., :n], 0.0, None)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    cert = sol.duality_gap / scale_of(u, axis=(-2, -1))
    out = Aggregate(lottery=p, welfare=sol.x[..., n], group_utilities=jnp.einsum(
        "...o,...go->...g", p, u), certificate=cert, result=sol.status,
        num_steps=sol.num_steps)
    if throw:
        raise_if_failed(out.result, "egalitarian")
    return out


# --------------------------------------------------------------------------------------------
# maximal lottery (ZeroSumLP)
# --------------------------------------------------------------------------------------------
def maximal_lottery(margins, *, throw: bool = False) -> Aggregate:
    r"""The maximal lottery of a margin matrix: the maximin strategy of the game ``M``.

    ``p`` is maximal when ``p^T M q >= 0`` for every lottery ``q`` (Fishburn 1984): no lottery
    beats it by a majority in expectation. For a skew-symmetric ``M`` the symmetric zero-sum game
    has value ``0`` and ``p`` is a maximin strategy, found by
    ``solvers.solve(NormalFormGame.zero_sum(M / scale), ZeroSumLP())``. Unique when every
    off-diagonal margin is non-zero and odd-like (e.g. an odd number of strict voters;
    Laffond, Laslier and Le Breton 1997). :func:`maximal_lotteries` is this rule on
    ``margin_matrix(profile)``.

    Args:
      margins: ``[*batch, m, m]`` a skew-symmetric margin matrix (e.g. ``2 P - 1`` for a
        preference matrix ``P``, or :func:`margin_matrix` of a profile).

    Returns:
      :class:`Aggregate` with ``welfare = min_q p^T M q`` (``0`` at the answer) and
      ``group_utilities = M^T p`` (every entry ``>= 0``); certificate: the LP duality gap on
      the rescaled game.

    Raises:
      TypeError: if ``margins`` is not numeric or ``throw`` is not a bool.
      ValueError: if ``margins`` is not square, not finite or (concretely) not skew-symmetric.
      NotConvergedError: with ``throw=True``, if the LP did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> rps = [[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]]
      >>> sc.maximal_lottery(rps).lottery.round(6).tolist()
      [0.333333, 0.333333, 0.333333]
    """
    mg = as_float_array(margins, "margins")
    if mg.ndim < 2 or mg.shape[-1] != mg.shape[-2] or mg.shape[-1] < 1:
        raise ValueError(f"margins must be [..., m, m]; got shape {tuple(mg.shape)}")
    check_finite(mg, "margins")
    if is_concrete(mg):
        a = np.asarray(mg)
        sc_ = max(float(np.abs(a).max(initial=0.0)), 1e-300)
        if np.abs(a + np.swapaxes(a, -1, -2)).max(initial=0.0) > 1e-9 * sc_:
            raise ValueError("margins must be skew-symmetric (M = -M^T)")
    _check_throw(throw)
    scale = scale_of(mg, axis=(-2, -1))[..., None, None]
    eq = solve(NormalFormGame.zero_sum(mg / scale), ZeroSumLP(), throw=False)
    p = jnp.clip(eq.strategies[0], 0.0, None)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    vs = jnp.einsum("...i,...ij->...j", p, mg)
    out = Aggregate(lottery=p, welfare=jnp.min(vs, axis=-1), group_utilities=vs,
                    certificate=eq.certificate, result=eq.result,
                    num_steps=eq.stats["num_steps"])
    if throw:
        raise_if_failed(out.result, "maximal_lottery")
    return out


# --------------------------------------------------------------------------------------------
# the regularised preference game of Nash learning from human feedback
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class _PreferenceGame:
    preferences: jax.Array   # [m, m]
    log_reference: jax.Array  # [m]
    temperature: jax.Array   # scalar


def _best_response_logits(game, z):
    pi = jax.nn.softmax(z)
    return jax.nn.log_softmax(game.log_reference + game.preferences @ pi / game.temperature)


def _pref_residual(z, game):
    """``z - log softmax(log mu + P softmax(z) / tau)``: zero exactly at the equilibrium."""
    return z - _best_response_logits(game, z)


def _pref_certificate(game, z):
    return jnp.sum(jnp.abs(jax.nn.softmax(z) - jnp.exp(_best_response_logits(game, z))))


@pytree_dataclass
class _PreferenceNewton(IterativeSolver):
    """Newton on the logit fixed point with backtracking; damped fixed-point step as fallback."""

    def init(self, game, key):
        return game.log_reference

    def step(self, game, z):
        r = _pref_residual(z, game)
        jac = jax.jacfwd(_pref_residual)(z, game)
        d = -jnp.linalg.solve(jac, r)
        ts = jnp.asarray(_STEPS, z.dtype)
        cand = jax.nn.log_softmax(z[None, :] + ts[:, None] * d[None, :], axis=-1)
        norms = jax.vmap(lambda y: jnp.max(jnp.abs(_pref_residual(y, game))))(cand)
        r0 = jnp.max(jnp.abs(r))
        ok = jnp.isfinite(norms) & (norms <= (1 - 1e-4 * ts) * r0) & jnp.all(jnp.isfinite(d))
        newton = cand[jnp.argmax(ok)]
        # fallback: a damped fixed-point (Nash-MD-like mirror) step
        eta = game.temperature / (game.temperature + 1.0)
        damped = jax.nn.log_softmax((1 - eta) * z + eta * _best_response_logits(game, z))
        return jnp.where(jnp.any(ok), newton, damped)

    def terminate(self, game, z, tol):
        cert = _pref_certificate(game, z)
        return cert <= tol, jnp.asarray(Result.CONVERGED, jnp.int32), cert


@functools.partial(jax.jit, static_argnames=("batch_shape", "max_steps"))
def _pref_batch(prefs, ref, temp, tol, *, batch_shape, max_steps):
    def one(x):
        game = _PreferenceGame(x[0], jnp.log(x[1]), x[2])
        it = iterate(_PreferenceNewton(), game, tol, jax.random.key(0), max_steps=max_steps)
        z = implicit_solution(_pref_residual, it.state, game)
        pi = jax.nn.softmax(z)
        wins = game.preferences @ pi
        return Aggregate(lottery=pi, welfare=pi @ wins, group_utilities=wins,
                         certificate=it.certificate, result=it.result, num_steps=it.num_steps)

    return batch_map(one, (prefs, ref, temp), batch_shape=batch_shape)


def nash_preference_equilibrium(preferences, temperature, reference=None, *, tol=None,
                                max_steps: int = 200, throw: bool = False) -> Aggregate:
    r"""The KL-regularised preference-game equilibrium of Nash learning from human feedback.

    For a preference matrix ``P`` (``P[i, j]`` the probability that ``i`` is preferred to
    ``j``, ``P + P^T = 1``), a reference lottery ``mu > 0`` and a temperature ``tau > 0``, the
    two-player symmetric game ``max_pi min_pi' pi^T P pi' - tau KL(pi || mu) + tau
    KL(pi' || mu)`` has a unique Nash equilibrium, symmetric, the fixed point

    .. math::
        \pi^* = \frac{\mu \exp(P \pi^* / \tau)}{\sum_i \mu_i \exp((P \pi^*)_i / \tau)}

    (Munos et al. 2023, Nash-MD's target). It is found by Newton's method on the logits
    ``z = log pi``: ``z = log softmax(log mu + P softmax(z) / tau)``, with a backtracking line
    search on the residual and a damped fixed-point (mirror-descent) step when no trial step
    lowers it. Certificate: the fixed-point residual ``|pi - softmax(log mu + P pi / tau)|_1``.
    As ``tau -> 0`` the equilibrium approaches a maximal lottery of the margins ``2 P - 1``
    (:func:`maximal_lottery`); as ``tau -> inf`` it approaches ``mu``. The lottery is
    differentiable with respect to ``P``, ``mu`` and ``tau`` (implicit function theorem on the
    fixed point).

    Args:
      preferences: ``[*batch, m, m]`` preference probabilities, ``P + P^T = 1`` (e.g.
        :func:`win_probabilities` of Bradley-Terry scores).
      temperature: ``tau > 0``, a scalar or ``[*batch]``.
      reference: ``[*batch, m]`` the reference lottery ``mu`` (positive); default uniform.
      tol: tolerance on the residual; default :func:`socialign.kernel.default_tol`.
      max_steps: iteration budget (static).
      throw: raise :class:`socialign.kernel.NotConvergedError` unless every member converged.

    Returns:
      :class:`Aggregate` with ``lottery = pi*``, ``group_utilities = P pi*`` (each outcome's
      win probability against ``pi*``) and ``welfare = pi*^T P pi* = 1/2``.

    Raises:
      TypeError: if an argument is not numeric or ``throw`` is not a bool.
      ValueError: on bad shapes, (concretely) ``P`` outside ``[0, 1]`` or ``P + P^T != 1``, a
        reference that is not a positive probability vector, a temperature that is not
        ``> 0``, or ``tol``/``max_steps`` out of range.
      NotConvergedError: with ``throw=True``, if a member did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> P = sc.win_probabilities([1.0, 0.0, -1.0])      # Bradley-Terry preferences
      >>> eq = sc.nash_preference_equilibrium(P, temperature=0.1)
      >>> [round(float(x), 3) for x in eq.lottery], int(eq.result)
      ([0.892, 0.09, 0.018], 0)
    """
    p = as_float_array(preferences, "preferences")
    if p.ndim < 2 or p.shape[-1] != p.shape[-2] or p.shape[-1] < 1:
        raise ValueError(f"preferences must be [..., m, m]; got shape {tuple(p.shape)}")
    check_finite(p, "preferences")
    if is_concrete(p):
        a = np.asarray(p)
        if np.any(a < -1e-9) or np.any(a > 1 + 1e-9):
            raise ValueError("preferences must be probabilities in [0, 1]")
        if np.abs(a + np.swapaxes(a, -1, -2) - 1).max(initial=0.0) > 1e-6:
            raise ValueError("preferences must satisfy P + P^T = 1 (P[i, j] is the probability "
                             "that i is preferred to j)")
    batch, m = tuple(p.shape[:-2]), p.shape[-1]
    if reference is None:
        mu = jnp.full(batch + (m,), 1.0 / m, p.dtype)
    else:
        mu = as_float_array(reference, "reference").astype(p.dtype)
        check_simplex(mu, "reference")
        if is_concrete(mu) and bool(np.any(np.asarray(mu) <= 0)):
            raise ValueError("reference must be positive on every outcome")
        try:
            mu = jnp.broadcast_to(mu, batch + (m,))
        except ValueError:
            raise ValueError(f"reference of shape {tuple(mu.shape)} does not broadcast to "
                             f"{batch + (m,)}") from None
    t = as_float_array(temperature, "temperature").astype(p.dtype)
    if is_concrete(t):
        tv = np.asarray(t)
        if not np.all(np.isfinite(tv)) or np.any(tv <= 0):
            raise ValueError(f"temperature must be finite and > 0; got {tv!r}")
    try:
        t = jnp.broadcast_to(t, batch)
    except ValueError:
        raise ValueError(f"temperature of shape {tuple(t.shape)} does not broadcast to the "
                         f"batch shape {batch}") from None
    tol = _tol(tol, p.dtype)
    max_steps = check_positive_int(max_steps, "max_steps")
    _check_throw(throw)
    out = _pref_batch(p, mu, t, jnp.asarray(tol, p.dtype), batch_shape=batch,
                      max_steps=max_steps)
    if throw:
        raise_if_failed(out.result, "nash_preference_equilibrium")
    return out
