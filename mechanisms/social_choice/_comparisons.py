r"""From comparisons to scores: Bradley-Terry and Plackett-Luce maximum likelihood.

Both models give every item ``i`` a score ``theta_i`` (a log-strength, ``gamma_i = e^theta_i``).

*Bradley-Terry* (Zermelo 1929; Bradley and Terry 1952): ``i`` beats ``j`` with probability
``gamma_i / (gamma_i + gamma_j) = sigmoid(theta_i - theta_j)``. From a wins matrix ``w[i, j]``
(how often ``i`` beat ``j``) the log-likelihood is

.. math::
    \ell(\theta) = \sum_{i \ne j} w_{ij} \log \sigma(\theta_i - \theta_j).

*Plackett-Luce* (Luce 1959; Plackett 1975): a ranking is built by choosing the first item among
all, the next among the rest, and so on, each choice with probability proportional to
``gamma``. A ranking ``i_1 > i_2 > ... > i_L`` (``L <= m``; a top-``L`` ranking leaves the
other items unranked, below the ranked ones) has log-likelihood

.. math::
    \sum_{j=1}^{\min(L, m-1)} \Big(\theta_{i_j} - \log \sum_{t \notin \{i_1..i_{j-1}\}}
    e^{\theta_t}\Big).

Bradley-Terry is Plackett-Luce on rankings of two items. Scores are identified up to a common
shift; they are returned centred (``sum_i theta_i = 0``). The maximum-likelihood estimate exists
and is unique exactly when the directed graph "``i`` beat ``j`` at least once" (for rankings:
``i`` was chosen while ``j`` was still available) is strongly connected (Zermelo 1929; Ford
1957; Hunter 2004, Assumption 1); otherwise some score runs off to infinity and the fit reports
``Result.INFEASIBLE`` at once.

Two solvers on the kernel's loop (:func:`socialign.kernel.iterate`) fit either model:

- :class:`ComparisonMM`: Hunter's (2004) minorisation-maximisation algorithm,
  ``gamma_i <- W_i / sum_{(choice sets S) containing i} 1 / sum_{t in S} gamma_t`` (for
  Bradley-Terry ``W_i / sum_j n_ij / (gamma_i + gamma_j)``): the log-likelihood rises at every
  step; convergence is linear.
- :class:`ComparisonNewton` (default): Newton's method on the concave log-likelihood restricted
  to ``sum theta = 0``, with a backtracking (Armijo) line search over a fixed grid of step
  lengths and an MM step as fallback; quadratic convergence near the optimum.

The certificate is the gradient norm ``max_i |d ell / d theta_i|`` divided by the number of
comparisons (choices), a relative measure: it does not change when every count is multiplied by
the same number. Scores are differentiable with respect to the counts by the implicit function
theorem on ``grad ell(theta) = 0`` (:func:`socialign.kernel.implicit_solution`).

References:
  E. Zermelo, "Die Berechnung der Turnier-Ergebnisse als ein Maximumproblem der
  Wahrscheinlichkeitsrechnung", Math. Z. 29, 1929. R. A. Bradley and M. E. Terry, "Rank analysis
  of incomplete block designs I", Biometrika 39, 1952. R. L. Plackett, "The analysis of
  permutations", Appl. Stat. 24, 1975. L. R. Ford, "Solution of a ranking problem from binary
  comparisons", Amer. Math. Monthly 64, 1957. D. R. Hunter, "MM algorithms for generalized
  Bradley-Terry models", Ann. Statist. 32(1), 2004.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    batch_map,
    check_batch_size,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    default_tol,
    implicit_solution,
    is_concrete,
    iterate,
    pytree_dataclass,
    raise_if_failed,
)
from ._profile import Profile

__all__ = [
    "ComparisonFit",
    "ComparisonMM",
    "ComparisonNewton",
    "bradley_terry",
    "plackett_luce",
    "win_probabilities",
]

#: step lengths tried by the Newton line search (1, 1/2, ..., 1/2048)
_STEPS = 0.5 ** np.arange(12)


# --------------------------------------------------------------------------------------------
# the two likelihoods (private problems: every leaf is a float array, so they are the params
# of the implicit gradient)
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class _Pairwise:
    """Bradley-Terry data: ``wins [m, m]`` (``wins[i, j]``: how often ``i`` beat ``j``)."""

    wins: jax.Array

    def log_likelihood(self, theta):
        d = theta[:, None] - theta[None, :]
        return jnp.sum(self.wins * jax.nn.log_sigmoid(d))

    def grad_hess(self, theta):
        """Gradient ``sum_j w_ij - n_ij p_ij`` and Hessian (minus the weighted Laplacian)."""
        p = jax.nn.sigmoid(theta[:, None] - theta[None, :])
        n = self.wins + self.wins.T
        g = jnp.sum(self.wins - n * p, axis=1)
        c = n * p * (1 - p) * (1 - jnp.eye(n.shape[0], dtype=n.dtype))
        return g, c - jnp.diag(jnp.sum(c, axis=1))

    def mm_update(self, theta):
        g = jnp.exp(theta - jnp.max(theta))
        n = self.wins + self.wins.T
        n = n * (1 - jnp.eye(n.shape[0], dtype=n.dtype))
        denom = jnp.sum(n / (g[:, None] + g[None, :]), axis=1)
        return jnp.log(jnp.sum(self.wins, axis=1)) - jnp.log(denom)

    def beats(self):
        return self.wins > 0

    def total(self):
        return jnp.sum(self.wins)


@pytree_dataclass
class _Rankings:
    """Plackett-Luce data as choice stages: ``weight [K, J]``, ``chosen``/``in_set [K, J, m]``."""

    weight: jax.Array
    chosen: jax.Array
    in_set: jax.Array

    def log_likelihood(self, theta):
        lse = jax.nn.logsumexp(jnp.where(self.in_set > 0, theta, -jnp.inf), axis=-1)
        lse = jnp.where(self.weight > 0, lse, 0.0)
        return jnp.sum(self.weight * (self.chosen @ theta - lse))

    def grad_hess(self, theta):
        """Gradient ``sum w (chosen - q)`` and Hessian ``-sum w (diag q - q q^T)``, ``q`` the
        choice probabilities of each stage."""
        logits = jnp.where(self.in_set > 0, theta, -jnp.inf)
        q = jnp.where(self.in_set > 0, jax.nn.softmax(logits, axis=-1), 0.0)
        wq = self.weight[..., None] * q
        g = jnp.einsum("kj,kjm->m", self.weight, self.chosen) - jnp.sum(wq, axis=(0, 1))
        h = jnp.einsum("kja,kjb->ab", wq, q) - jnp.diag(jnp.sum(wq, axis=(0, 1)))
        return g, h

    def mm_update(self, theta):
        g = jnp.exp(theta - jnp.max(theta))
        set_mass = self.in_set @ g
        inv = jnp.where(self.weight > 0, self.weight / jnp.where(self.weight > 0, set_mass, 1.0),
                        0.0)
        denom = jnp.einsum("kj,kjm->m", inv, self.in_set)
        wins = jnp.einsum("kj,kjm->m", self.weight, self.chosen)
        return jnp.log(wins) - jnp.log(denom)

    def beats(self):
        return jnp.einsum("kj,kja,kjb->ab", self.weight, self.chosen, self.in_set) > 0

    def total(self):
        return jnp.sum(self.weight)


@pytree_dataclass
class _Fit:
    """What the loop sees: the model and whether its maximum-likelihood estimate exists."""

    model: object
    identifiable: jax.Array


def _strongly_connected(beats):
    """True when the digraph ``beats`` is strongly connected (boolean matrix squaring)."""
    m = beats.shape[-1]
    r = beats | jnp.eye(m, dtype=bool)
    for _ in range(max(1, math.ceil(math.log2(max(m, 2))))):
        r = (r.astype(jnp.float32) @ r.astype(jnp.float32)) > 0
    return jnp.all(r)


def _center(theta):
    return theta - jnp.mean(theta)


def _certificate(model, theta):
    g, _ = model.grad_hess(theta)
    total = jnp.maximum(model.total(), jnp.finfo(theta.dtype).tiny)
    return jnp.max(jnp.abs(g)) / total


def _init_scores(fit):
    m = fit.model
    if isinstance(m, _Pairwise):
        return jnp.zeros(m.wins.shape[-1], m.wins.dtype)
    return jnp.zeros(m.chosen.shape[-1], m.weight.dtype)


def _mm_step(fit, theta):
    new = _center(fit.model.mm_update(theta))
    return jnp.where(jnp.all(jnp.isfinite(new)), new, theta)


def _terminate(fit, theta, tol):
    cert = _certificate(fit.model, theta)
    code = jnp.where(fit.identifiable, Result.CONVERGED, Result.INFEASIBLE).astype(jnp.int32)
    return (cert <= tol) | ~fit.identifiable, code, jnp.where(fit.identifiable, cert, 0.0)


@pytree_dataclass
class ComparisonMM(IterativeSolver):
    """Hunter's (2004) MM algorithm for Bradley-Terry and Plackett-Luce maximum likelihood.

    Each step replaces the log-likelihood by a minorising function tight at the current
    scores and maximises it in closed form: for Bradley-Terry
    ``gamma_i <- W_i / sum_{j != i} n_ij / (gamma_i + gamma_j)`` (``W_i`` wins of ``i``,
    ``n_ij`` comparisons of ``i`` and ``j``), for Plackett-Luce
    ``gamma_i <- W_i / sum_{S ni i} 1 / sum_{t in S} gamma_t`` over the choice sets ``S``
    containing ``i``. The log-likelihood never decreases; convergence is linear (slow when the
    data barely identify the scores). No settings.

    Reference: D. R. Hunter, "MM algorithms for generalized Bradley-Terry models", Ann. Statist.
    32(1), 2004, sections 3 and 5.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> fit = sc.bradley_terry([[0., 3.], [1., 0.]], solver=sc.ComparisonMM())
      >>> [round(float(s), 4) for s in fit.scores], int(fit.result)   # log(3) / 2 each side
      ([0.5493, -0.5493], 0)
    """

    def init(self, fit, key):
        return _init_scores(fit)

    def step(self, fit, theta):
        return _mm_step(fit, theta)

    def terminate(self, fit, theta, tol):
        return _terminate(fit, theta, tol)


@pytree_dataclass
class ComparisonNewton(IterativeSolver):
    """Newton's method with a backtracking line search for Bradley-Terry and Plackett-Luce.

    The log-likelihood ``ell`` is concave and, on ``sum theta = 0``, strictly concave when the
    estimate exists. Each step solves ``(-H + 1 1^T / m) d = g`` (``g``, ``H``: gradient and
    Hessian of ``ell``; ``g`` sums to zero, so ``d`` does too), tries the step lengths
    ``1, 1/2, ..., 1/2048`` at once and takes the longest that satisfies Armijo's condition
    ``ell(theta + t d) >= ell(theta) + armijo * t * g.d``; if none does, it takes an MM step
    (:class:`ComparisonMM`) instead, so the likelihood never falls. Quadratic convergence near
    the optimum.

    Args:
      armijo: the sufficient-increase constant in ``(0, 1/2)`` (a pytree leaf).

    Raises:
      ValueError: if ``armijo`` is not in ``(0, 1/2)``.

    References: J. Nocedal and S. J. Wright, "Numerical Optimization", 2006, ch. 3 (backtracking
    line search); D. R. Hunter, Ann. Statist. 32(1), 2004 (the MM fallback).

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> fit = sc.bradley_terry([[0., 3.], [1., 0.]], solver=sc.ComparisonNewton())
      >>> [round(float(s), 4) for s in fit.scores], int(fit.num_steps) <= 6
      ([0.5493, -0.5493], True)
    """

    armijo: float = 1e-4

    def __post_init__(self):
        check_positive_scalar(self.armijo, "armijo")
        if is_concrete(self.armijo) and not float(self.armijo) < 0.5:
            raise ValueError(f"armijo must be in (0, 1/2), got {self.armijo!r}")

    def init(self, fit, key):
        return _init_scores(fit)

    def step(self, fit, theta):
        model = fit.model
        m = theta.shape[-1]
        ll = model.log_likelihood
        ll0 = ll(theta)
        g, h = model.grad_hess(theta)
        a = -h + jnp.ones((m, m), theta.dtype) / m
        d = _center(jnp.linalg.solve(a, g))
        ts = jnp.asarray(_STEPS, theta.dtype)
        cand = theta[None, :] + ts[:, None] * d[None, :]
        lls = jax.vmap(ll)(cand)
        slack = 8 * jnp.finfo(theta.dtype).eps * jnp.abs(ll0)
        ok = jnp.isfinite(lls) & (lls >= ll0 + self.armijo * ts * jnp.dot(g, d) - slack)
        ok = ok & jnp.all(jnp.isfinite(d)) & (jnp.dot(g, d) >= 0)
        newton = _center(cand[jnp.argmax(ok)])
        mm = _mm_step(fit, theta)
        return jnp.where(jnp.any(ok), newton, mm)

    def terminate(self, fit, theta, tol):
        return _terminate(fit, theta, tol)


def _residual(theta, model):
    """Stationarity with the gauge fixed: ``grad ell(theta) - sum(theta)`` (zero at the fit)."""
    return jax.grad(model.log_likelihood)(theta) - jnp.sum(theta)


@pytree_dataclass
class ComparisonFit:
    """A fitted Bradley-Terry or Plackett-Luce model (every field has the batch axes in front).

    Attributes:
      scores: ``[*batch, items]`` maximum-likelihood log-strengths, centred (sum zero); the
        probability that ``i`` beats ``j`` is ``sigmoid(scores_i - scores_j)``.
      log_likelihood: ``[*batch]`` the log-likelihood at ``scores``.
      certificate: ``[*batch]`` ``max_i |d ell / d theta_i|`` divided by the number of
        comparisons (choices); compared with ``tol``. Zero when ``result`` is ``INFEASIBLE``.
      result: ``int32 [*batch]`` :class:`socialign.kernel.Result` code: ``CONVERGED``;
        ``INFEASIBLE`` when the estimate does not exist (the comparison graph is not strongly
        connected: some item never won, or never lost, within a part of the items);
        ``MAX_STEPS_REACHED``; ``NONFINITE``.
      num_steps: ``int32 [*batch]`` iterations taken.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> fit = sc.bradley_terry([[0., 2.], [2., 0.]])
      >>> fit.scores.tolist(), [round(float(x), 4) for x in fit.strengths]
      ([0.0, 0.0], [1.0, 1.0])
    """

    scores: jax.Array
    log_likelihood: jax.Array
    certificate: jax.Array
    result: jax.Array
    num_steps: jax.Array

    @property
    def strengths(self) -> jax.Array:
        """``exp(scores)``: the strengths ``gamma`` (geometric mean one)."""
        return jnp.exp(self.scores)

    @property
    def converged(self) -> jax.Array:
        """Boolean array: ``result == CONVERGED``."""
        return jnp.asarray(self.result) == Result.CONVERGED


def _fit_one(fit, solver, tol, max_steps):
    it = iterate(solver, fit, tol, jax.random.key(0), max_steps=max_steps)
    theta = jax.lax.stop_gradient(it.state)
    theta = implicit_solution(_residual, theta, fit.model)
    return ComparisonFit(scores=theta, log_likelihood=fit.model.log_likelihood(theta),
                         certificate=it.certificate, result=it.result, num_steps=it.num_steps)


def _make_fit(kind, data):
    model = _Pairwise(wins=data) if kind == "pairwise" else _Rankings(*data)
    return _Fit(model=model, identifiable=_strongly_connected(model.beats()))


@functools.partial(jax.jit, static_argnames=("kind", "batch_shape", "max_steps", "batch_size"))
def _fit_batch(data, solver, tol, *, kind, batch_shape, max_steps, batch_size):
    return batch_map(lambda x: _fit_one(_make_fit(kind, x), solver, tol, max_steps), data,
                     batch_shape=batch_shape, batch_size=batch_size)


def _run(kind, data, batch_shape, solver, tol, max_steps, batch_size, throw, who, dtype):
    if solver is None:
        solver = ComparisonNewton()
    if not isinstance(solver, ComparisonMM | ComparisonNewton):
        raise TypeError(f"solver must be ComparisonNewton() or ComparisonMM(), got "
                        f"{type(solver).__name__}")
    max_steps = check_positive_int(max_steps, "max_steps")
    batch_size = check_batch_size(batch_size)
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    if tol is None:
        tol = default_tol(dtype)
    check_positive_scalar(tol, "tol")

    out = _fit_batch(data, solver, jnp.asarray(tol, dtype), kind=kind, batch_shape=batch_shape,
                     max_steps=max_steps, batch_size=batch_size)
    if throw:
        raise_if_failed(out.result, who)
    return out


def bradley_terry(wins, *, solver=None, pooled: bool = False, tol=None, max_steps: int = 200,
                  batch_size: int | None = None, throw: bool = False) -> ComparisonFit:
    r"""Bradley-Terry maximum-likelihood scores from pairwise comparison counts.

    Maximises ``sum_{i != j} w_ij log sigmoid(theta_i - theta_j)`` over centred scores
    ``theta`` (the module docstring has the model). With two items the estimate is the closed
    form ``sigmoid(theta_0 - theta_1) = w_01 / (w_01 + w_10)``. When every pair is compared
    equally often the Bradley-Terry order is the Borda order: the stationarity condition
    ``W_i = n sum_j sigmoid(theta_i - theta_j)`` sets an increasing function of ``theta_i``
    equal to ``i``'s Borda score ``W_i``.

    Args:
      wins: ``[*groups, items, items]``: ``wins[..., i, j]`` how often ``i`` beat ``j``
        (non-negative, any real weights; the diagonal is ignored). Leading axes are groups,
        each fitted on its own, e.g. a :func:`support_matrix` of a batch of profiles.
      solver: :class:`ComparisonNewton` (default) or :class:`ComparisonMM`.
      pooled: sum the groups' counts first and fit one model (``[items]`` scores).
      tol: tolerance on the certificate (the relative gradient norm); default
        :func:`socialign.kernel.default_tol` of the dtype.
      max_steps: iteration budget (static).
      batch_size: fit the groups in chunks of this many (:func:`socialign.kernel.batch_map`).
      throw: raise :class:`socialign.kernel.NotConvergedError` unless every fit converged.

    Returns:
      :class:`ComparisonFit`; ``scores`` are differentiable with respect to ``wins``.

    Raises:
      TypeError: if ``wins`` is not numeric, ``solver`` is not a comparison solver or ``throw``
        is not a bool.
      ValueError: if ``wins`` is not ``[..., m, m]`` with ``m >= 2``, a concrete entry is
        negative or not finite, or ``tol``, ``max_steps`` or ``batch_size`` is out of range.
      NotConvergedError: with ``throw=True``, if a fit did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> fit = sc.bradley_terry([[0., 7.], [3., 0.]])
      >>> p = sc.win_probabilities(fit.scores)
      >>> round(float(p[0, 1]), 6), int(fit.result)   # 7 wins in 10: p = 0.7
      (0.7, 0)
    """
    w = as_float_array(wins, "wins")
    if w.ndim < 2 or w.shape[-1] != w.shape[-2] or w.shape[-1] < 2:
        raise ValueError(f"wins must be [..., items, items] with at least 2 items; got shape "
                         f"{tuple(w.shape)}")
    check_finite(w, "wins")
    if is_concrete(w) and bool(np.any(np.asarray(w) < 0)):
        raise ValueError("wins must be non-negative")
    if not isinstance(pooled, bool):
        raise TypeError(f"pooled must be a bool, got {type(pooled).__name__}")
    m = w.shape[-1]
    w = w * (1 - jnp.eye(m, dtype=w.dtype))
    if pooled:
        w = jnp.sum(w.reshape(-1, m, m), axis=0)
    return _run("pairwise", w, tuple(w.shape[:-2]), solver, tol, max_steps, batch_size, throw,
                "bradley_terry", w.dtype)


def _stages(ranks, counts):
    """Choice stages of position-form rankings: ``weight [.., K, J]``, ``chosen``/``in_set``."""
    m = ranks.shape[-1]
    j = jnp.arange(max(m - 1, 1))
    r = ranks[..., None, :]                                  # [.., K, 1, m]
    chosen = (r == j[:, None]).astype(counts.dtype)          # [.., K, J, m]
    in_set = (r >= j[:, None]).astype(counts.dtype)
    valid = (jnp.sum(chosen, -1) > 0) & (jnp.sum(in_set, -1) >= 2)
    return counts[..., None] * valid.astype(counts.dtype), chosen, in_set


def plackett_luce(rankings, counts=None, *, solver=None, pooled: bool = False, tol=None,
                  max_steps: int = 200, batch_size: int | None = None,
                  throw: bool = False) -> ComparisonFit:
    r"""Plackett-Luce maximum-likelihood scores from (possibly top-``k``) rankings with counts.

    Maximises ``sum_k n_k sum_j (theta_{i_kj} - log sum_{t still available} e^{theta_t})`` (the
    module docstring has the model) over centred scores. On rankings of two items it is
    :func:`bradley_terry`.

    Args:
      rankings: a :class:`Profile` without ties (its ``ranks`` and ``counts`` are used), or
        ``int [*groups, rankings, items]`` rank positions as :class:`Profile` stores them:
        ``0`` for the first item, ``1`` for the second, ...; an item left out of a top-``L``
        ranking holds the sentinel ``items`` (unranked items are below every ranked one).
        Ranked positions must be ``0..L-1`` without ties.
      counts: ``[*groups, rankings]`` how many times each ranking was observed (default ones;
        zero rows are padding). Not given with a :class:`Profile`.
      solver: :class:`ComparisonNewton` (default) or :class:`ComparisonMM`.
      pooled: fit one model to the rankings of every group together.
      tol: tolerance on the certificate; default :func:`socialign.kernel.default_tol`.
      max_steps: iteration budget (static).
      batch_size: fit the groups in chunks of this many.
      throw: raise :class:`socialign.kernel.NotConvergedError` unless every fit converged.

    Returns:
      :class:`ComparisonFit` with ``[*groups, items]`` scores (``[items]`` when pooled).

    Raises:
      TypeError: if ``rankings`` is not an integer array or a :class:`Profile`, ``counts`` is
        given with a :class:`Profile`, or an argument has the wrong type.
      ValueError: if shapes disagree, there are fewer than 2 items, a concrete ranking has
        ties or gaps, a concrete count is negative or not finite, or a setting is out of range.
      NotConvergedError: with ``throw=True``, if a fit did not converge.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> # 3 voters rank a > b > c, 1 voter ranks c > b > a (positions of a, b, c)
      >>> fit = sc.plackett_luce([[0, 1, 2], [2, 1, 0]], counts=[3., 1.])
      >>> [round(float(s), 3) for s in fit.scores], int(fit.result)
      ([0.831, 0.231, -1.063], 0)
    """
    if isinstance(rankings, Profile):
        if counts is not None:
            raise TypeError("counts is taken from the Profile; do not pass it as well")
        rankings, counts = rankings.ranks, rankings.counts
    if not isinstance(rankings, jax.core.Tracer):
        arr = np.asarray(rankings)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"rankings must be an integer array of rank positions (or a "
                            f"Profile), got dtype {arr.dtype}")
    ranks = jnp.asarray(rankings)
    if not jnp.issubdtype(ranks.dtype, jnp.integer):
        raise TypeError(f"rankings must be an integer array, got {ranks.dtype}")
    if ranks.ndim < 2 or ranks.shape[-1] < 2 or ranks.shape[-2] < 1:
        raise ValueError(f"rankings must be [..., rankings, items] with at least 2 items; got "
                         f"shape {tuple(ranks.shape)}")
    m = ranks.shape[-1]
    if counts is None:
        counts = jnp.ones(ranks.shape[:-1], jnp.result_type(float))
    c = as_float_array(counts, "counts")
    if tuple(c.shape) != tuple(ranks.shape[:-1]):
        raise ValueError(f"counts must have shape {tuple(ranks.shape[:-1])} (rankings without "
                         f"the items axis); got {tuple(c.shape)}")
    check_finite(c, "counts")
    if is_concrete(c) and bool(np.any(np.asarray(c) < 0)):
        raise ValueError("counts must be non-negative")
    if is_concrete(ranks):
        r = np.asarray(ranks).reshape(-1, m)
        if np.any(r < 0):
            raise ValueError("rankings must hold positions >= 0")
        if np.any(r > m):
            raise ValueError(f"rankings must hold positions in [0, {m}] ({m}: unranked)")
        for k, row in enumerate(r):
            ranked = np.sort(row[row < m])
            if not np.array_equal(ranked, np.arange(ranked.size)):
                raise ValueError(f"rankings must rank items at positions 0, 1, ..., L-1 without "
                                 f"ties or gaps; ranking {k} has positions {row.tolist()}")
    if not isinstance(pooled, bool):
        raise TypeError(f"pooled must be a bool, got {type(pooled).__name__}")
    if pooled:
        ranks, c = ranks.reshape(-1, m), c.reshape(-1)
    weight, chosen, in_set = _stages(ranks, c)
    return _run("rankings", (weight, chosen, in_set), tuple(ranks.shape[:-2]), solver, tol,
                max_steps, batch_size, throw, "plackett_luce", c.dtype)


def win_probabilities(scores) -> jax.Array:
    """Bradley-Terry pairwise probabilities ``P[i, j] = sigmoid(scores_i - scores_j)``.

    A preference matrix (``P + P^T = 1``, ``1/2`` on the diagonal) for
    :func:`nash_preference_equilibrium`.

    Args:
      scores: ``[..., items]`` scores (log-strengths).

    Returns:
      ``[..., items, items]`` probabilities.

    Raises:
      TypeError: if ``scores`` is not numeric.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> sc.win_probabilities([0.0, 0.0]).tolist()
      [[0.5, 0.5], [0.5, 0.5]]
    """
    s = as_float_array(scores, "scores")
    return jax.nn.sigmoid(s[..., :, None] - s[..., None, :])

