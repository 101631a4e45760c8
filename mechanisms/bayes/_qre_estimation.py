r"""Estimating the logit-QRE precision from observed play: likelihood, MLE, interval, posterior.

Players of a normal-form game are observed choosing actions ``n_i[a]`` times (``counts``). If
they play the logit quantal response equilibrium at precision ``lambda = 1 / temperature``
(McKelvey and Palfrey 1995), the log-likelihood of the counts is

.. math::
    \ell(\lambda) = \sum_i \sum_a n_{ia} \log \sigma_{ia}(\lambda),

with ``sigma(lambda)`` the principal-branch QRE, computed by :class:`socialign.solvers.LogitQRE`
and differentiated by the kernel's implicit adjoint (the implicit function theorem on the logit
fixed point; the continuation loop is never differentiated). Everything here is a function of
``theta = log lambda``:

* :func:`qre_log_likelihood`: ``ell`` at a precision, differentiable in the precision and in the
  game's payoffs (so payoff parameters can be fitted with any gradient method);
* :func:`qre_mle`: the maximum-likelihood precision (a grid over ``log lambda``, then the root of
  the score by the Illinois method) and the likelihood-ratio interval
  ``{lambda : 2 (ell_max - ell(lambda)) <= chi2_1(level)}`` (Wilks);
* :func:`qre_posterior`: the Bayesian posterior of ``lambda`` under a log-normal prior, sampled
  by numpyro's NUTS with the QRE solve inside the model;
* :func:`simulate_qre_counts`: play drawn from the QRE (for recovery checks and
  simulation-based calibration).

Gambit's ``logit_estimate`` (``pygambit.qre.logit_estimate``) uses the same likelihood with the
counts of each player (``rounds x frequency`` per player): on McKelvey and Palfrey's asymmetric
matching pennies (Ochs 1995) both give ``lambda = 1.845610``, ``ell = -174.764532``.

References:
  R. D. McKelvey and T. R. Palfrey, "Quantal response equilibria for normal form games", GEB
  1995. T. L. Turocy, "A dynamic homotopy interpretation of the logistic quantal response
  equilibrium correspondence", GEB 2005. S. S. Wilks, "The large-sample distribution of the
  likelihood ratio for testing composite hypotheses", Ann. Math. Statist. 1938. M. D. Hoffman and
  A. Gelman, "The No-U-Turn sampler", JMLR 2014.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri, xlogy

from ... import solvers
from ...kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    is_concrete,
    iterate,
    pytree_dataclass,
    static_field,
)

__all__ = ["QREEstimate", "QREPosterior", "qre_log_likelihood", "qre_mle", "qre_posterior",
           "simulate_qre_counts"]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _check_game(game):
    if not isinstance(game, solvers.NormalFormGame):
        raise TypeError(f"game must be a solvers.NormalFormGame, got {type(game).__name__}")
    if game.batch_shape:
        raise ValueError(f"game must be a single game (no batch axes); got batch shape "
                         f"{game.batch_shape}: use jax.vmap over the estimate instead")


def _check_counts(game, counts):
    if isinstance(counts, jax.Array | np.ndarray) or not isinstance(counts, list | tuple):
        raise TypeError("counts must be a list or tuple with one count vector per player")
    if len(counts) != game.num_players:
        raise ValueError(f"counts must have one vector per player ({game.num_players}); got "
                         f"{len(counts)}")
    out = []
    for i, (c, a) in enumerate(zip(counts, game.num_actions)):
        c = as_float_array(c, f"counts[{i}]", dtype=game.dtype)
        if c.shape != (a,):
            raise ValueError(f"counts[{i}] must have shape ({a},) (player {i}'s actions); got "
                             f"{tuple(c.shape)}")
        check_finite(c, f"counts[{i}]")
        if is_concrete(c) and bool(np.any(np.asarray(c) < 0)):
            raise ValueError(f"counts[{i}] must be non-negative")
        out.append(c)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# likelihood
# --------------------------------------------------------------------------------------------
def _loglik(game, counts, theta, with_strategies=False):
    """``(ell(exp(theta)), certified)``: the QRE log-likelihood and whether the solve converged
    (and the QRE's strategies, concatenated, with ``with_strategies``)."""
    lam = jnp.exp(theta)
    eq = solvers.solve(game, solvers.LogitQRE(temperature=1.0 / lam), throw=False)
    ll = sum(jnp.sum(xlogy(n, s)) for n, s in zip(counts, eq.strategies))
    ok = eq.result == Result.CONVERGED
    if with_strategies:
        return ll, (ok, jax.lax.stop_gradient(jnp.concatenate(eq.strategies)))
    return ll, ok


def qre_log_likelihood(game, counts, precision) -> jax.Array:
    r"""Log-likelihood of observed action counts under the logit QRE at ``precision``.

    ``ell(lambda) = sum_i sum_a n_ia log sigma_ia(lambda)``, ``sigma`` the principal-branch logit
    QRE at temperature ``1 / lambda`` (:class:`socialign.solvers.LogitQRE`). Differentiable with
    respect to ``precision`` and the game's payoffs by the implicit function theorem on the
    logit fixed point (so a payoff parameter can be estimated jointly with ``jax.grad``); jits and
    ``vmap``-s over ``precision``. Where the QRE solve is not certified the value is ``-inf``
    (never NaN).

    Args:
      game: a :class:`socialign.solvers.NormalFormGame` (unbatched).
      counts: one vector ``[A_i]`` of non-negative action counts per player (a list or tuple).
      precision: ``lambda > 0`` (a scalar; may be traced).

    Returns:
      The scalar log-likelihood.

    Raises:
      TypeError: if ``game`` is not a ``NormalFormGame`` or ``counts`` not a sequence.
      ValueError: if ``counts`` do not match the game or are negative, or a concrete
        ``precision`` is not finite and > 0.

    Example:
      >>> import jax
      >>> from socialign import solvers
      >>> from socialign.mechanisms import bayes
      >>> g = solvers.NormalFormGame.from_bimatrix([[1.1141, 0], [0, 0.2785]],
      ...                                          [[0, 1.1141], [1.1141, 0]])
      >>> counts = [[67.456, 60.544], [46.848, 81.152]]      # 128 rounds x frequencies
      >>> round(float(bayes.qre_log_likelihood(g, counts, 1.845610)), 4)
      -174.7645
    """
    _check_game(game)
    counts = _check_counts(game, counts)
    lam = as_float_array(precision, "precision", dtype=game.dtype)
    if is_concrete(lam):
        check_positive_scalar(lam, "precision")
    ll, ok = _loglik(game, counts, jnp.log(lam))
    return jnp.where(ok, ll, -jnp.inf)


# --------------------------------------------------------------------------------------------
# maximum likelihood and the likelihood-ratio interval
# --------------------------------------------------------------------------------------------
class _MLEState(NamedTuple):
    grid_ll: jax.Array  # [G]
    grid_score: jax.Array  # [G]
    grid_ok: jax.Array  # [G] bool
    k: jax.Array  # grid block index
    phase: jax.Array  # 0 grid, 1 score root, 2 interval ends, 3 done
    a: jax.Array  # [3] bracket ends (theta)
    b: jax.Array
    fa: jax.Array
    fb: jax.Array
    lb: jax.Array  # [3] log-likelihood at b
    active: jax.Array  # [3] bool: slot still refining
    sb: jax.Array  # [3, N] the QRE (concatenated strategies) at b
    grid_strat: jax.Array  # [G, N]
    theta_hat: jax.Array
    ll_hat: jax.Array
    score_hat: jax.Array
    strat_hat: jax.Array  # [N]
    code: jax.Array  # the estimate's result code
    lo_found: jax.Array  # the interval's ends were bracketed inside the bounds
    hi_found: jax.Array


class _MLEProblem(NamedTuple):
    game: solvers.NormalFormGame
    counts: tuple
    grid: jax.Array  # [G] theta grid
    drop: jax.Array  # chi2_1(level) / 2


def _illinois_next(a, b, fa, fb):
    """Regula falsi point of the bracket, or its midpoint when that is not strictly inside."""
    c = b - fb * (b - a) / jnp.where(fb != fa, fb - fa, 1.0)
    lo, hi = jnp.minimum(a, b), jnp.maximum(a, b)
    inside = jnp.isfinite(c) & (c > lo) & (c < hi) & (fb != fa)
    return jnp.where(inside, c, 0.5 * (a + b))


def _illinois_update(a, b, fa, fb, lb, c, fc, lc):
    """The Illinois method: keep a sign change; halve the stale end's value when kept twice."""
    flip = fc * fb < 0
    a2 = jnp.where(flip, b, a)
    fa2 = jnp.where(flip, fb, 0.5 * fa)
    return a2, c, fa2, fc, lc


_FLOOR = -1e300  # finite stand-in for the log-likelihood of an uncertified solve


@pytree_dataclass
class _QREMLESearch(IterativeSolver):
    """Grid over ``log lambda`` (three points a step), then Illinois on the score, then Illinois
    on both likelihood-ratio ends; every step solves three QREs in one ``vmap`` (one call site,
    one compile)."""

    xtol: float = 1e-10
    grid_size: int = static_field(default=30)

    def _eval(self, problem, thetas):
        vg = jax.value_and_grad(lambda t: _loglik(problem.game, problem.counts, t, True),
                                has_aux=True)
        (ll, (ok, strat)), score = jax.vmap(vg)(thetas)
        ok = ok & jnp.isfinite(ll) & jnp.isfinite(score)
        return jnp.where(ok, ll, _FLOOR), jnp.where(ok, score, 0.0), ok, strat

    def init(self, problem, key):
        g = problem.grid
        dtype = g.dtype
        z3 = jnp.zeros((3,), dtype)
        zero = jnp.zeros((), dtype)
        false = jnp.zeros((), bool)
        n = sum(problem.game.num_actions)
        return _MLEState(jnp.full_like(g, _FLOOR), jnp.zeros_like(g), jnp.zeros(g.shape, bool),
                         jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), z3, z3, z3, z3, z3,
                         jnp.zeros((3,), bool), jnp.zeros((3, n), dtype),
                         jnp.zeros((g.shape[0], n), dtype), zero, zero, zero,
                         jnp.zeros((n,), dtype),
                         jnp.asarray(Result.CONVERGED, jnp.int32), false, false)

    def step(self, problem, s):
        G = self.grid_size
        grid = problem.grid
        idx = jnp.minimum(3 * s.k + jnp.arange(3), G - 1)
        cand = _illinois_next(s.a, s.b, s.fa, s.fb)
        pts = jnp.where(s.phase == 0, grid[idx], cand)
        ll, sc, ok, st = self._eval(problem, pts)

        # phase 0: fill the grid
        in_grid = s.phase == 0
        gl = jnp.where(in_grid, s.grid_ll.at[idx].set(ll), s.grid_ll)
        gs = jnp.where(in_grid, s.grid_score.at[idx].set(sc), s.grid_score)
        gok = jnp.where(in_grid, s.grid_ok.at[idx].set(ok), s.grid_ok)
        gst = jnp.where(in_grid, s.grid_strat.at[idx].set(st), s.grid_strat)
        k = s.k + in_grid.astype(jnp.int32)
        grid_done = in_grid & (3 * k >= G)

        # refinement of the active slots (phases 1 and 2)
        f = jnp.where(s.phase == 1, sc, ll - (s.ll_hat - problem.drop))
        a, b, fa, fb, lb = _illinois_update(s.a, s.b, s.fa, s.fb, s.lb, pts, f, ll)
        upd = s.active & (s.phase >= 1) & ok
        a, b, fa, fb, lb = (jnp.where(upd, n, o) for n, o in
                            zip((a, b, fa, fb, lb), (s.a, s.b, s.fa, s.fb, s.lb)))
        sb = jnp.where(upd[:, None], st, s.sb)
        width = jnp.abs(b - a)
        conv = (width <= self.xtol * (1.0 + jnp.abs(b))) | (f == 0)
        failed_eval = s.active & (s.phase >= 1) & ~ok
        active = s.active & ~(upd & conv) & ~failed_eval
        code = jnp.where(jnp.any(failed_eval & (s.phase == 1)), Result.FAILED, s.code)

        # the end of phase 0: bracket the score's root around the best grid point
        def start_score(_):
            i = jnp.argmax(jnp.where(gok, gl, -jnp.inf))
            up = gs[i] > 0
            j = jnp.clip(jnp.where(up, i + 1, i - 1), 0, G - 1)
            at_hi = up & (i == G - 1)
            at_lo = ~up & (i == 0)
            bracketed = ~at_hi & ~at_lo & gok[j] & (gs[j] * gs[i] <= 0) & gok[i]
            c = jnp.where(at_hi, Result.UNBOUNDED,
                          jnp.where(bracketed, Result.CONVERGED, Result.FAILED))
            c = jnp.where(jnp.any(gok), c, Result.FAILED)
            sl = lambda v: jnp.zeros((3,), grid.dtype).at[0].set(v)  # noqa: E731
            return (sl(grid[j]), sl(grid[i]), sl(gs[j]), sl(gs[i]), sl(gl[i]),
                    jnp.zeros((3,), bool).at[0].set(bracketed), grid[i], gl[i], gs[i],
                    gst[i], c.astype(jnp.int32))

        def keep(_):
            return (a, b, fa, fb, lb, active, s.theta_hat, s.ll_hat, s.score_hat, s.strat_hat,
                    code)

        a, b, fa, fb, lb, active, th, lh, sh, sth, code = jax.lax.cond(
            grid_done, start_score, keep, None)
        phase = jnp.where(grid_done, 1, s.phase)

        # the end of phase 1: the estimate, then bracket both likelihood-ratio ends
        score_done = (phase == 1) & ~active[0] & ~grid_done
        refined = score_done & (code == Result.CONVERGED)
        th = jnp.where(refined, b[0], th)
        lh = jnp.where(refined, lb[0], lh)
        sh = jnp.where(refined, fb[0], sh)
        sth = jnp.where(refined, sb[0], sth)

        def start_interval(_):
            target = lh - problem.drop
            below = gok & (gl < target)
            left = below & (grid < th)
            right = below & (grid > th)
            jl = jnp.max(jnp.where(left, jnp.arange(G), -1))
            jr = jnp.min(jnp.where(right, jnp.arange(G), G))
            has_l, has_r = jl >= 0, jr < G
            jl, jr = jnp.clip(jl, 0, G - 1), jnp.clip(jr, 0, G - 1)
            fh = lh - target
            a3 = jnp.stack([th, grid[jl], th])
            b3 = jnp.stack([th, th, grid[jr]])
            fa3 = jnp.stack([fh, gl[jl] - target, fh])
            fb3 = jnp.stack([fh, fh, gl[jr] - target])
            lb3 = jnp.stack([lh, lh, gl[jr]])
            act = jnp.stack([jnp.zeros((), bool), has_l, has_r])
            return a3, b3, fa3, fb3, lb3, act, has_l, has_r

        def keep2(_):
            return a, b, fa, fb, lb, active, s.lo_found, s.hi_found

        a, b, fa, fb, lb, active, lo_f, hi_f = jax.lax.cond(score_done, start_interval, keep2,
                                                             None)
        phase = jnp.where(score_done, 2, phase)
        phase = jnp.where((phase == 2) & ~jnp.any(active), 3, phase)
        return _MLEState(gl, gs, gok, k, phase.astype(jnp.int32), a, b, fa, fb, lb, active, sb,
                         gst, th, lh, sh, sth, code.astype(jnp.int32), lo_f, hi_f)

    def terminate(self, problem, s, tol):
        # the certificate is the refined bracket's width (zero once every slot has converged)
        done = s.phase == 3
        cert = jnp.max(jnp.where(s.active, jnp.abs(s.b - s.a), 0.0))
        return done, s.code, cert


@pytree_dataclass
class QREEstimate:
    """The maximum-likelihood logit-QRE precision and its likelihood-ratio interval.

    Attributes:
      precision: ``lambda_hat`` (``1 / temperature``), in inverse payoff units.
      temperature: ``1 / lambda_hat`` (the glossary's word for the same parameter).
      log_likelihood: ``ell(lambda_hat)``.
      interval: ``[2]`` the likelihood-ratio interval ``{lambda : 2 (ell_hat - ell) <=
        chi2_1(level)}``; an end that lies beyond the search bounds is reported as ``0`` (lower)
        or ``inf`` (upper).
      strategies: the QRE at ``lambda_hat``, one ``[A_i]`` per player.
      score: ``d ell / d log lambda`` at the estimate (zero at an interior maximum).
      result: ``int32`` :class:`socialign.kernel.Result`: ``CONVERGED`` (an interior maximum,
        bracketed and refined), ``UNBOUNDED`` (the likelihood still rises at the upper bound: the
        data are closer to Nash play than any precision in range explains), ``FAILED`` (the
        maximum is at the lower bound, or the QRE solves failed).
      stats: ``num_steps``, the ``grid`` of precisions searched and its ``grid_log_likelihood``.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.QREEstimate.__name__
      'QREEstimate'
    """

    precision: jax.Array
    temperature: jax.Array
    log_likelihood: jax.Array
    interval: jax.Array
    strategies: tuple
    score: jax.Array
    result: jax.Array
    stats: dict


@functools.partial(jax.jit, static_argnames=("grid_size", "max_steps"))
def _mle_core(game, counts, bounds, drop, xtol, *, grid_size, max_steps):
    grid = jnp.linspace(jnp.log(bounds[0]), jnp.log(bounds[1]), grid_size)
    problem = _MLEProblem(game, counts, grid, drop)
    search = _QREMLESearch(xtol=xtol, grid_size=grid_size)
    it = iterate(search, problem, jnp.zeros((), game.dtype), jax.random.key(0),
                 max_steps=max_steps)
    s = it.state
    code = jnp.where(it.result == Result.CONVERGED, s.code, it.result)
    lam = jnp.exp(s.theta_hat)
    lo = jnp.where(s.lo_found, jnp.exp(s.b[1]), 0.0)
    hi = jnp.where(s.hi_found, jnp.exp(s.b[2]), jnp.inf)
    idx = np.cumsum(game.num_actions)[:-1]
    strategies = tuple(jnp.split(s.strat_hat, idx))
    return QREEstimate(
        precision=lam, temperature=1.0 / lam, log_likelihood=s.ll_hat,
        interval=jnp.stack([lo, hi]), strategies=strategies, score=s.score_hat,
        result=code.astype(jnp.int32),
        stats={"num_steps": it.num_steps, "grid": jnp.exp(grid),
               "grid_log_likelihood": s.grid_ll})


def _check_level(level):
    check_positive_scalar(level, "level")
    if not 0 < float(level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(level)


def qre_mle(game, counts, *, bounds=None, level: float = 0.95, grid_size: int = 30,
            xtol: float | None = None, max_steps: int = 200) -> QREEstimate:
    r"""Maximum-likelihood logit-QRE precision, with its likelihood-ratio interval.

    Maximises ``ell(lambda) = sum_i sum_a n_ia log sigma_ia(lambda)`` over ``log lambda`` in
    ``bounds``: the log-likelihood and its score ``d ell / d log lambda`` (by the implicit
    function theorem through :class:`socialign.solvers.LogitQRE`) are evaluated on a grid of
    ``grid_size`` points, the score's sign change next to the best grid point is refined by the
    Illinois method (bracketing, superlinear), and both ends of the likelihood-ratio interval
    ``2 (ell_hat - ell(lambda)) <= chi2_1(level)`` are found the same way. The whole search is
    one :func:`socialign.kernel.iterate` loop (three QRE solves per step, one compile per game
    shape). As Gambit, the likelihood is that of each player's own counts.

    Args:
      game: an unbatched :class:`socialign.solvers.NormalFormGame`.
      counts: one vector ``[A_i]`` of non-negative action counts per player.
      bounds: ``(lambda_min, lambda_max)``; default ``(1e-2, 1e2) / s`` with ``s`` the largest
        absolute payoff (so the search is invariant to the payoffs' units).
      level: the interval's confidence level (Wilks: asymptotically exact coverage).
      grid_size: the grid over ``log lambda`` (static; rounded up to a multiple of 3).
      xtol: bracket width on ``log lambda`` at which refinement stops (default ``1e-10`` in
        float64, ``1e-5`` in float32).
      max_steps: the search's step budget (static).

    Returns:
      A :class:`QREEstimate`.

    Raises:
      TypeError: on a game that is not a ``NormalFormGame`` or counts not a sequence.
      ValueError: on counts that do not match the game, bad bounds, level or sizes.

    Example:
      >>> from socialign import solvers
      >>> from socialign.mechanisms import bayes
      >>> g = solvers.NormalFormGame.from_bimatrix([[1.1141, 0], [0, 0.2785]],
      ...                                          [[0, 1.1141], [1.1141, 0]])
      >>> est = bayes.qre_mle(g, [[67.456, 60.544], [46.848, 81.152]])
      >>> round(float(est.precision), 4), round(float(est.log_likelihood), 4), int(est.result)
      (1.8456, -174.7645, 0)
    """
    _check_game(game)
    counts = _check_counts(game, counts)
    level = _check_level(level)
    grid_size = check_positive_int(grid_size, "grid_size")
    if grid_size < 3:
        raise ValueError(f"grid_size must be at least 3, got {grid_size}")
    grid_size = 3 * ((grid_size + 2) // 3)
    max_steps = check_positive_int(max_steps, "max_steps")
    dtype = game.dtype
    if bounds is None:
        scale = jnp.max(jnp.abs(game.payoffs))
        scale = jnp.where(scale > 0, scale, 1.0)
        bounds = jnp.stack([1e-2 / scale, 1e2 / scale]).astype(dtype)
    else:
        bounds = as_float_array(bounds, "bounds", dtype=dtype)
        if bounds.shape != (2,):
            raise ValueError(f"bounds must be (lambda_min, lambda_max); got shape "
                             f"{tuple(bounds.shape)}")
        if is_concrete(bounds):
            lo, hi = (float(x) for x in np.asarray(bounds))
            if not (np.isfinite(hi) and 0 < lo < hi):
                raise ValueError(f"bounds must satisfy 0 < lambda_min < lambda_max < inf; got "
                                 f"{(lo, hi)}")
    if xtol is None:
        xtol = 1e-10 if dtype == jnp.float64 else 1e-5
    check_positive_scalar(xtol, "xtol")
    drop = jnp.asarray(0.5 * float(ndtri(0.5 + 0.5 * level)) ** 2, dtype)
    return _mle_core(game, counts, bounds, drop, jnp.asarray(xtol, dtype),
                     grid_size=grid_size, max_steps=max_steps)


# --------------------------------------------------------------------------------------------
# simulated play
# --------------------------------------------------------------------------------------------
def simulate_qre_counts(game, precision, rounds: int, key) -> tuple:
    """Action counts of ``rounds`` independent plays of the logit QRE at ``precision``.

    Each player's counts are a multinomial draw of ``rounds`` from its QRE strategy (the
    model :func:`qre_mle` and :func:`qre_posterior` assume). Jits and ``vmap``-s over ``key``
    and ``precision``.

    Args:
      game: an unbatched :class:`socialign.solvers.NormalFormGame`.
      precision: ``lambda > 0``.
      rounds: plays per player (static).
      key: a ``jax.random`` key.

    Returns:
      A tuple of ``[A_i]`` float count vectors.

    Raises:
      TypeError: if ``game`` is not a ``NormalFormGame``.
      ValueError: if ``rounds`` is not a positive int or a concrete ``precision`` not > 0.

    Example:
      >>> import jax
      >>> from socialign import solvers
      >>> from socialign.mechanisms import bayes
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> c = bayes.simulate_qre_counts(g, 2.0, 100, jax.random.key(0))
      >>> [float(x.sum()) for x in c]
      [100.0, 100.0]
    """
    _check_game(game)
    rounds = check_positive_int(rounds, "rounds")
    lam = as_float_array(precision, "precision", dtype=game.dtype)
    if is_concrete(lam):
        check_positive_scalar(lam, "precision")
    eq = solvers.solve(game, solvers.LogitQRE(temperature=1.0 / lam), throw=False)
    keys = jax.random.split(key, game.num_players)
    out = []
    for k, s in zip(keys, eq.strategies):
        draws = jax.random.categorical(k, jnp.log(s), shape=(rounds,))
        out.append(jnp.sum(jax.nn.one_hot(draws, s.shape[0], dtype=game.dtype), axis=0))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# the Bayesian posterior by NUTS
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class QREPosterior:
    """Posterior draws of the logit-QRE precision (NUTS) and their summary.

    Attributes:
      samples: ``[chains * num_samples]`` draws of ``lambda``.
      mean: the posterior mean of ``lambda``.
      median: the posterior median.
      interval: ``[2]`` the equal-tailed credible interval at ``level``.
      r_hat: split Gelman-Rubin statistic of ``log lambda`` (near 1 when the chains mix).
      ess: effective sample size of ``log lambda``.
      num_divergences: divergent NUTS transitions.
      result: ``CONVERGED`` when there were no divergences and every draw is finite,
        ``FAILED`` otherwise.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.QREPosterior.__name__
      'QREPosterior'
    """

    samples: jax.Array
    mean: jax.Array
    median: jax.Array
    interval: jax.Array
    r_hat: jax.Array
    ess: jax.Array
    num_divergences: jax.Array
    result: jax.Array


def _qre_model(game, counts, prior_loc, prior_scale):
    import numpyro
    import numpyro.distributions as dist

    theta = numpyro.sample("log_precision", dist.Normal(prior_loc, prior_scale))
    ll, ok = _loglik(game, counts, theta)
    numpyro.factor("qre_likelihood", jnp.where(ok & jnp.isfinite(ll), ll, -jnp.inf))


def _check_mcmc(num_warmup, num_samples, num_chains):
    return (check_positive_int(num_warmup, "num_warmup"),
            check_positive_int(num_samples, "num_samples"),
            check_positive_int(num_chains, "num_chains"))


def run_nuts(model, args, *, key, num_warmup, num_samples, num_chains):
    """Run numpyro's NUTS on ``model(*args)``; return ``(samples by chain, num_divergences)``.

    Shared by the subpackage's posteriors: chains run one after another (``sequential``, so one
    compile serves them all on a CPU); the model's array arguments are traced
    (``jit_model_args``) and the sampler is kept per (model, sizes), so new data of the same
    shapes reuse the compiled sampler.
    """
    mcmc = _mcmc(model, num_warmup, num_samples, num_chains)
    mcmc.run(key, *args, extra_fields=("diverging",))
    div = jnp.sum(mcmc.get_extra_fields()["diverging"])
    return mcmc.get_samples(group_by_chain=True), div


@functools.lru_cache(maxsize=16)
def _mcmc(model, num_warmup, num_samples, num_chains):
    from numpyro.infer import MCMC, NUTS

    return MCMC(NUTS(model), num_warmup=num_warmup, num_samples=num_samples,
                num_chains=num_chains, chain_method="sequential", progress_bar=False,
                jit_model_args=True)


def chain_diagnostics(x):
    """``(r_hat, ess)`` of ``x [chains, draws]`` (numpyro's split-R-hat and ESS)."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    x = np.asarray(x)
    r = split_gelman_rubin(x) if x.shape[1] >= 4 else np.nan
    return jnp.asarray(r), jnp.asarray(effective_sample_size(x))


def qre_posterior(game, counts, *, prior_loc: float = 0.0, prior_scale: float = 1.0,
                  level: float = 0.95, num_warmup: int = 300, num_samples: int = 500,
                  num_chains: int = 1, key=None) -> QREPosterior:
    r"""Posterior of the logit-QRE precision by NUTS, the QRE solve inside the model.

    Prior ``log lambda ~ Normal(prior_loc, prior_scale)`` (log-normal ``lambda``); likelihood
    ``exp(ell(lambda))`` as in :func:`qre_log_likelihood`. numpyro's NUTS (Hoffman and Gelman
    2014) samples ``log lambda``; every leapfrog step solves the QRE with
    :class:`socialign.solvers.LogitQRE` and takes the likelihood's gradient by the implicit
    function theorem (a solve that is not certified gives the likelihood ``-inf``: the proposal
    is rejected, never NaN). The data are traced, so new counts of the same shapes reuse the
    compiled sampler. numpyro is imported on first call only.

    Args:
      game: an unbatched :class:`socialign.solvers.NormalFormGame`.
      counts: one vector ``[A_i]`` of non-negative action counts per player.
      prior_loc, prior_scale: the normal prior of ``log lambda`` (``prior_scale > 0``).
      level: the credible interval's probability.
      num_warmup, num_samples, num_chains: NUTS settings (chains run sequentially).
      key: a ``jax.random`` key (default ``jax.random.key(0)``).

    Returns:
      A :class:`QREPosterior`.

    Raises:
      TypeError: on a game that is not a ``NormalFormGame`` or counts not a sequence.
      ValueError: on counts that do not match the game, or bad prior, level or sizes.

    Example:
      >>> import jax
      >>> from socialign import solvers
      >>> from socialign.mechanisms import bayes
      >>> g = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> post = bayes.qre_posterior(g, [[10., 10.], [10., 10.]], num_warmup=20,
      ...                            num_samples=20)
      >>> post.samples.shape
      (20,)
    """
    _check_game(game)
    counts = _check_counts(game, counts)
    check_finite(as_float_array(prior_loc, "prior_loc"), "prior_loc")
    check_positive_scalar(prior_scale, "prior_scale")
    level = _check_level(level)
    num_warmup, num_samples, num_chains = _check_mcmc(num_warmup, num_samples, num_chains)
    key = jax.random.key(0) if key is None else key
    dtype = game.dtype
    args = (game, counts, jnp.asarray(prior_loc, dtype), jnp.asarray(prior_scale, dtype))
    samples, div = run_nuts(_qre_model, args, key=key, num_warmup=num_warmup,
                            num_samples=num_samples, num_chains=num_chains)
    theta = samples["log_precision"]  # [chains, draws]
    r_hat, ess = chain_diagnostics(theta)
    lam = jnp.exp(theta).reshape(-1)
    q = jnp.quantile(lam, jnp.asarray([0.5 - level / 2, 0.5, 0.5 + level / 2], dtype))
    ok = (div == 0) & jnp.all(jnp.isfinite(lam))
    return QREPosterior(samples=lam, mean=jnp.mean(lam), median=q[1],
                        interval=jnp.stack([q[0], q[2]]), r_hat=r_hat, ess=ess,
                        num_divergences=div.astype(jnp.int32),
                        result=jnp.where(ok, Result.CONVERGED, Result.FAILED).astype(jnp.int32))
