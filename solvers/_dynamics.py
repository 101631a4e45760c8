"""Learning dynamics for n-player normal-form games: regret matching (RM, RM+, predictive RM+),
Hedge, optimistic Hedge, fictitious play, replicator dynamics.

Every player updates from the action values ``v_i(a) = u_i(a, s_-i)`` of the current profile
``s``: all at once (simultaneous updates), or, for :class:`RegretMatchingPlus` and
:class:`PredictiveRegretMatchingPlus` as the field runs them, one after the other (alternating
updates: player ``i`` sees the strategies players ``0..i-1`` have just moved to). Dynamics whose
guarantee is about the time average (regret matching, RM+, Hedge, fictitious play) report the
average strategy; dynamics with last-iterate behaviour (optimistic Hedge, replicator dynamics)
report the current strategy. In two-player zero-sum games the average of no-regret dynamics
converges to a Nash equilibrium; in general games the empirical joint play of no-regret dynamics
approaches the set of coarse correlated equilibria, so NashConv need not reach ``tol``
(:func:`solvers.solve` then reports ``MAX_STEPS_REACHED``, never a false ``CONVERGED``).
Regret matching, RM+, predictive RM+, optimistic Hedge and fictitious play are unchanged when a
player's payoffs are multiplied by a positive number or shifted (``affine_invariant``: solve
runs them on the normalised game); :class:`Hedge`'s learning rate and the replicator's step size
are in payoff units, so there a scale of the payoffs is a scale of the step. NashConv is
compared with ``tol`` relative to each player's payoff range in every case.

:func:`solvers.solve` checks NashConv on the kernel's geometric schedule
(:class:`socialign.kernel.GeometricChecks`: ``O(log T)`` checks in ``T`` steps, a stop at most
12.5% of the run after the tolerance is met); pass ``check_every=1`` to check after every step.

Each solver is a frozen dataclass whose state is a ``NamedTuple`` pytree with one entry per
player in its tuple fields, so it can be checkpointed, ``vmap``-ed and placed in a ``scan``.

Example:
  >>> from socialign import solvers
  >>> rps = solvers.NormalFormGame.zero_sum([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])
  >>> eq = solvers.solve(rps, solvers.RegretMatchingPlus(), tol=1e-3, max_steps=5000)
  >>> bool(eq.relative_nash_conv <= 1e-3)   # NashConv over the payoff range (2 here)
  True
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..kernel import GeometricChecks, pytree_dataclass, static_field
from ._game import NormalFormGame
from ._metrics import _action_values
from ._solve import Solver, _float_setting

__all__ = [
    "RegretMatching",
    "RegretMatchingPlus",
    "SimultaneousRegretMatchingPlus",
    "PredictiveRegretMatchingPlus",
    "Hedge",
    "OptimisticHedge",
    "FictitiousPlay",
    "ReplicatorDynamics",
    "RegretMatchingState",
    "HedgeState",
    "OptimisticHedgeState",
    "FictitiousPlayState",
    "ReplicatorState",
]


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def _uniform(game: NormalFormGame) -> tuple:
    return tuple(jnp.full((a,), 1.0 / a, dtype=game.dtype) for a in game.num_actions)


def _regret_matching_strategy(regrets: jax.Array) -> jax.Array:
    """``s(a) = [R(a)]^+ / sum_b [R(b)]^+``, uniform when no regret is positive."""
    pos = jnp.maximum(regrets, 0.0)
    total = pos.sum()
    uniform = jnp.full_like(regrets, 1.0 / regrets.shape[-1])
    safe = jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, pos / safe, uniform)


def _running_average(average: tuple, current: tuple, weight, weight_sum) -> tuple:
    """Incremental weighted mean: ``avg + (w / W) (current - avg)`` (no growing sums)."""
    frac = weight / weight_sum
    return tuple(a + frac * (c - a) for a, c in zip(average, current))


def _on_simplex(average: tuple) -> tuple:
    """Each running average divided by its sum: the incremental updates round, and in float32
    the sums drift to about 1 - 1e-4 after 1e5 steps, which ``nash_conv`` then refuses and
    which put a floor of about 2e-5 under the reported NashConv."""
    return tuple(a / jnp.sum(a) for a in average)


def _project_simplex(v: jax.Array) -> jax.Array:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008)."""
    n = v.shape[-1]
    u = jnp.sort(v)[::-1]
    css = jnp.cumsum(u) - 1.0
    k = jnp.arange(1, n + 1, dtype=v.dtype)
    cond = u - css / k > 0
    rho = jnp.max(jnp.where(cond, jnp.arange(n), 0))
    theta = css[rho] / (rho + 1.0).astype(v.dtype)
    return jnp.maximum(v - theta, 0.0)


class _NormalFormDynamics(Solver):
    game_types = (NormalFormGame,)
    #: the exact NashConv costs about as much as a step: check on the kernel's geometric
    #: schedule (O(log T) checks in T steps), not after every step
    default_check_every = GeometricChecks()


# --------------------------------------------------------------------------------------------
# regret matching, RM+ and predictive RM+
# --------------------------------------------------------------------------------------------
class RegretMatchingState(NamedTuple):
    """State of the regret-matching family (:class:`RegretMatching`, :class:`RegretMatchingPlus`,
    :class:`SimultaneousRegretMatchingPlus`, :class:`PredictiveRegretMatchingPlus`).

    Attributes:
      regrets: per player ``[A_i]``: cumulative regrets (RM) or the thresholded ``Q`` (RM+).
      average: per player ``[A_i]``: weighted average of the strategies played so far.
      weight_sum: scalar, sum of the averaging weights so far.
      count: int32 scalar, number of iterations.
      predictions: per player ``[A_i]``: the last instantaneous regrets, the prediction ``m``
        of predictive RM+ (zeros, unused, for the others).
    """

    regrets: tuple
    average: tuple
    weight_sum: jax.Array
    count: jax.Array
    predictions: tuple


class _RegretMatchingFamily(_NormalFormDynamics):
    """Shared init/step: ``Q <- threshold(Q + r)``, play RM on ``Q + m``, average with ``w_t``.

    Variants set three hooks: whether the players update one after the other (``_alternating``),
    the threshold (none for RM, ``[.]^+`` for RM+), the averaging weight of iteration ``t``, and
    whether the last instantaneous regret is used as a prediction (``_predictive``).
    """

    _alternating = False
    _predictive = False
    #: regret matching is unchanged under u_i -> a_i u_i + b_i (a_i > 0)
    affine_invariant = True

    def _threshold(self, q):
        return q

    def _weight(self, count, dtype):
        return jnp.ones((), dtype)

    def _current(self, state, i):
        q = state.regrets[i]
        if self._predictive:
            q = jnp.maximum(q + state.predictions[i], 0.0)
        return _regret_matching_strategy(q)

    def init(self, game, key=None) -> RegretMatchingState:
        zeros = tuple(jnp.zeros((a,), game.dtype) for a in game.num_actions)
        return RegretMatchingState(regrets=zeros, average=_uniform(game),
                                   weight_sum=jnp.zeros((), game.dtype),
                                   count=jnp.zeros((), jnp.int32), predictions=zeros)

    def _update(self, game, state, players, weight, weight_sum):
        """Update ``players`` at once against the current strategies of everyone."""
        current = tuple(self._current(state, i) for i in range(game.num_players))
        values = _action_values(game, current)
        regrets, average, predictions = (list(state.regrets), list(state.average),
                                         list(state.predictions))
        frac = weight / weight_sum
        for i in players:
            r = values[i] - jnp.dot(current[i], values[i])
            regrets[i] = self._threshold(state.regrets[i] + r)
            average[i] = state.average[i] + frac * (current[i] - state.average[i])
            if self._predictive:
                predictions[i] = r
        return state._replace(regrets=tuple(regrets), average=tuple(average),
                              predictions=tuple(predictions))

    def step(self, game, state: RegretMatchingState) -> RegretMatchingState:
        count = state.count + 1
        weight = self._weight(count, game.dtype)
        weight_sum = state.weight_sum + weight
        if self._alternating:  # player i sees the new strategies of players 0..i-1
            for i in range(game.num_players):
                state = self._update(game, state, (i,), weight, weight_sum)
        else:
            state = self._update(game, state, tuple(range(game.num_players)), weight, weight_sum)
        return state._replace(weight_sum=weight_sum, count=count)

    def strategies(self, game, state: RegretMatchingState) -> tuple:
        return _on_simplex(state.average)


@pytree_dataclass
class RegretMatching(_RegretMatchingFamily):
    """Regret matching (Hart and Mas-Colell 2000), simultaneous updates, uniform averaging.

    Each player plays ``s_i^t(a) = [R_i^t(a)]^+ / sum_b [R_i^t(b)]^+`` (uniform when no
    cumulative regret is positive) and accumulates ``R_i^{t+1} = R_i^t + v_i^t - s_i^t . v_i^t``
    where ``v_i^t`` are the action values against ``s_{-i}^t``. The reported strategies are the
    time averages ``(1/T) sum_t s_i^t``; average regret decays as ``O(1/sqrt(T))``, so in
    two-player zero-sum games NashConv of the average goes to zero.

    Reference: S. Hart and A. Mas-Colell, "A simple adaptive procedure leading to correlated
    equilibrium", Econometrica 68(5), 2000.

    Example:
      >>> from socialign import solvers
      >>> mp = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> eq = solvers.solve(mp, solvers.RegretMatching(), tol=1e-2, max_steps=2000)
      >>> [round(float(p), 1) for p in eq.strategies[0]]
      [0.5, 0.5]
    """


@pytree_dataclass
class RegretMatchingPlus(_RegretMatchingFamily):
    """Regret matching+ as the field runs it: alternating updates and linear averaging.

    Like :class:`RegretMatching` but the cumulative regrets are thresholded at zero after every
    update, ``Q_i <- [Q_i + v_i - s_i . v_i]^+`` with ``s_i = [Q_i]^+ / |[Q_i]^+|_1``; the
    players update one after the other within an iteration (player ``i``'s values ``v_i`` are
    taken against the strategies players ``0..i-1`` have just moved to), and iteration ``t``
    gets weight ``t`` in the reported average ``sum_t t s_i^t / sum_t t`` (each player averages
    the strategy it played in its own update). This is the RM+ of CFR+ (Tammelin 2014) and of
    Burch, Moravcik and Schmid (2019), who prove that alternation keeps the ``O(1/sqrt(T))``
    guarantee; in practice it converges much faster than the textbook simultaneous, uniformly
    averaged variant (:class:`SimultaneousRegretMatchingPlus`): on ORACLES.md's biased
    rock-paper-scissors NashConv is 4.3e-6 after 100,000 steps against 2.2e-4 (1e-6 is first
    met at step 727,909; :class:`PredictiveRegretMatchingPlus` meets it at step 2,113).

    Args:
      linear_averaging: weight iteration ``t`` by ``t`` (True, the default) or uniformly
        (False); static (it selects the code path).

    Raises:
      TypeError: if ``linear_averaging`` is not a bool.

    References: O. Tammelin, "Solving large imperfect information games using CFR+",
    arXiv:1407.5042, 2014; N. Burch, M. Moravcik and M. Schmid, "Revisiting CFR+ and
    alternating updates", JAIR 64, 2019.

    Example:
      >>> from socialign import solvers
      >>> biased = [[0., -.25, .5], [.25, 0., -.05], [-.5, .05, 0.]]
      >>> eq = solvers.solve(solvers.NormalFormGame.zero_sum(biased),
      ...                    solvers.RegretMatchingPlus(), tol=1e-4, max_steps=5000)
      >>> [round(float(p) * 16, 1) for p in eq.strategies[0]]   # (1, 10, 5) / 16
      [1.0, 10.0, 5.0]
    """

    linear_averaging: bool = static_field(default=True)
    _alternating = True

    def __post_init__(self):
        if not isinstance(self.linear_averaging, bool):
            raise TypeError(f"linear_averaging must be a bool, got {self.linear_averaging!r}")

    def _threshold(self, q):
        return jnp.maximum(q, 0.0)

    def _weight(self, count, dtype):
        return count.astype(dtype) if self.linear_averaging else jnp.ones((), dtype)


@pytree_dataclass
class SimultaneousRegretMatchingPlus(_RegretMatchingFamily):
    """Regret matching+ with simultaneous updates and uniform averaging (the textbook variant).

    ``Q_i^{t+1} = [Q_i^t + v_i^t - s_i^t . v_i^t]^+`` for every player at once, against the
    profile ``s^t`` of iteration ``t``, and the reported strategies are the uniform time
    averages ``(1/T) sum_t s_i^t``. It has RM+'s ``O(1/sqrt(T))`` regret bound but converges much
    more slowly in practice than :class:`RegretMatchingPlus` (alternating updates, linear
    averaging); it is kept for comparison.

    Reference: O. Tammelin, "Solving large imperfect information games using CFR+",
    arXiv:1407.5042, 2014 (regret matching+); N. Burch, M. Moravcik and M. Schmid, "Revisiting
    CFR+ and alternating updates", JAIR 64, 2019 (the simultaneous variant).

    Example:
      >>> from socialign import solvers
      >>> mp = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> eq = solvers.solve(mp, solvers.SimultaneousRegretMatchingPlus(), tol=1e-9,
      ...                    max_steps=100)
      >>> [float(p) for p in eq.strategies[0]]
      [0.5, 0.5]
    """

    def _threshold(self, q):
        return jnp.maximum(q, 0.0)


@pytree_dataclass
class PredictiveRegretMatchingPlus(_RegretMatchingFamily):
    """Predictive regret matching+ (Farina, Kroer and Sandholm 2021): alternating, linear
    averaging.

    RM+ with a prediction ``m_i`` of the next instantaneous regret, the last one observed:
    player ``i`` plays ``s_i = [Q_i + m_i]^+ / |[Q_i + m_i]^+|_1``, then sets
    ``Q_i <- [Q_i + r_i]^+`` and ``m_i <- r_i`` with ``r_i = v_i - s_i . v_i``. Players update
    one after the other and iteration ``t`` has weight ``t`` in the reported average, as for
    :class:`RegretMatchingPlus`. When consecutive payoff vectors are close (the players' own
    strategies move slowly) the regret grows as ``O(1)`` in the path length instead of
    ``O(sqrt(T))``, and in practice NashConv of the average falls much faster than RM+'s.

    Reference: G. Farina, C. Kroer and T. Sandholm, "Faster game solving via predictive
    Blackwell approachability: connecting regret matching and mirror descent", AAAI 2021.

    Example:
      >>> from socialign import solvers
      >>> biased = [[0., -.25, .5], [.25, 0., -.05], [-.5, .05, 0.]]
      >>> eq = solvers.solve(solvers.NormalFormGame.zero_sum(biased),
      ...                    solvers.PredictiveRegretMatchingPlus(), tol=1e-5, max_steps=5000)
      >>> [round(float(p) * 16, 2) for p in eq.strategies[0]]   # (1, 10, 5) / 16
      [1.0, 10.0, 5.0]
    """

    _alternating = True
    _predictive = True

    def _threshold(self, q):
        return jnp.maximum(q, 0.0)

    def _weight(self, count, dtype):
        return count.astype(dtype)


# --------------------------------------------------------------------------------------------
# Hedge and optimistic Hedge
# --------------------------------------------------------------------------------------------
class HedgeState(NamedTuple):
    """State of :class:`Hedge`.

    Attributes:
      logits: per player ``[A_i]``: ``learning_rate`` times the cumulative action values,
        re-centred so that the largest entry is 0 (softmax is shift invariant).
      average: per player ``[A_i]``: uniform time average of the strategies played.
      count: int32 scalar, number of iterations.
    """

    logits: tuple
    average: tuple
    count: jax.Array


def _recentre(z: jax.Array) -> jax.Array:
    return z - jnp.max(z)


@pytree_dataclass
class Hedge(_NormalFormDynamics):
    """Hedge / multiplicative weights (Freund and Schapire 1999) with a constant learning rate.

    Each player plays ``s_i^t = softmax(eta * sum_{k<t} v_i^k)`` and the reported strategies are
    the uniform time averages. With ``eta`` of order ``sqrt(log A / T)`` the average regret is
    ``O(sqrt(log A / T))``; with a constant ``eta`` the average profile of a two-player
    zero-sum game reaches NashConv of order ``eta`` times the squared payoff range.

    Args:
      learning_rate: ``eta > 0``, in inverse payoff units; a pytree leaf (a new value does not
        recompile, and ``jax.vmap`` over a batch of rates works).

    Raises:
      TypeError, ValueError: if a concrete ``learning_rate`` is not a finite number > 0.

    Reference: Y. Freund and R. E. Schapire, "Adaptive game playing using multiplicative
    weights", Games and Economic Behavior 29, 1999.

    Example:
      >>> from socialign import solvers
      >>> mp = solvers.NormalFormGame.zero_sum([[1., -1.], [-1., 1.]])
      >>> eq = solvers.solve(mp, solvers.Hedge(0.05), tol=1e-2, max_steps=5000)
      >>> [round(float(p), 1) for p in eq.strategies[0]]
      [0.5, 0.5]
    """

    learning_rate: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "learning_rate", _float_setting(self.learning_rate,
                                                                 "learning_rate"))

    def init(self, game, key=None) -> HedgeState:
        zeros = tuple(jnp.zeros((a,), game.dtype) for a in game.num_actions)
        return HedgeState(zeros, _uniform(game), jnp.zeros((), jnp.int32))

    def step(self, game, state: HedgeState) -> HedgeState:
        current = tuple(jax.nn.softmax(z) for z in state.logits)
        values = _action_values(game, current)
        logits = tuple(_recentre(z + self.learning_rate * v) for z, v in zip(state.logits, values))
        count = state.count + 1
        c = count.astype(game.dtype)
        average = _running_average(state.average, current, jnp.ones((), game.dtype), c)
        return HedgeState(logits, average, count)

    def strategies(self, game, state: HedgeState) -> tuple:
        return _on_simplex(state.average)


class OptimisticHedgeState(NamedTuple):
    """State of :class:`OptimisticHedge`.

    Attributes:
      logits: per player ``[A_i]``: ``eta_i`` times the cumulative action values (re-centred).
      last_values: per player ``[A_i]``: the action values of the previous iteration.
      current: per player ``[A_i]``: the last iterate ``softmax(logits + eta_i * last_values)``.
      count: int32 scalar.
      step_sizes: per player, scalar ``eta_i = learning_rate / range_i`` in inverse payoff units
        (``range_i = max u_i - min u_i``; 1 when player ``i``'s payoffs are constant).
    """

    logits: tuple
    last_values: tuple
    current: tuple
    count: jax.Array
    step_sizes: tuple


def _payoff_ranges(game: NormalFormGame) -> tuple:
    """``max u_i - min u_i`` per player (1 where a player's payoffs are constant)."""
    out = []
    for i in range(game.num_players):
        r = jnp.max(game.payoffs[i]) - jnp.min(game.payoffs[i])
        out.append(jnp.where(r > 0, r, jnp.ones_like(r)))
    return tuple(out)


@pytree_dataclass
class OptimisticHedge(_NormalFormDynamics):
    """Optimistic Hedge / optimistic multiplicative weights, scale-free; reports the LAST iterate.

    Hedge with the previous action values as a prediction of the next ones:
    ``s_i^{t+1} = softmax(eta_i (sum_{k<=t} v_i^k + v_i^t))``, i.e. the logits move by
    ``eta_i (2 v_i^t - v_i^{t-1})``. The step size is relative to the payoff range,
    ``eta_i = learning_rate / (max u_i - min u_i)``, so the iterates do not change when a
    player's payoffs are multiplied by a positive number or shifted (as the equilibria do not).
    In two-player zero-sum games with a unique equilibrium the last iterate itself converges to
    the equilibrium for a small enough constant step (Daskalakis and Panageas 2019; the analysis
    needs ``learning_rate`` of order 0.1 or less), so no averaging is needed.

    Args:
      learning_rate: ``eta > 0``, dimensionless (a fraction of the inverse payoff range); a
        pytree leaf (a new value does not recompile, and ``jax.vmap`` over rates works).

    Raises:
      TypeError, ValueError: if a concrete ``learning_rate`` is not a finite number > 0.

    References: A. Rakhlin and K. Sridharan, "Optimization, learning, and games with
    predictable sequences", NeurIPS 2013; C. Daskalakis and I. Panageas, "Last-iterate
    convergence: zero-sum games and constrained min-max optimization", ITCS 2019.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[0., -1., 2.], [1., 0., -1.], [-1., 1., 0.]])
      >>> eq = solvers.solve(g, solvers.OptimisticHedge(0.3), tol=1e-6, max_steps=20000)
      >>> int(eq.result)
      0
      >>> big = solvers.NormalFormGame.zero_sum(1e6 * g.payoffs[0] + 7.)   # same answer
      >>> eq6 = solvers.solve(big, solvers.OptimisticHedge(0.3), tol=1e-6, max_steps=20000)
      >>> int(eq6.stats["num_steps"]) == int(eq.stats["num_steps"])
      True
    """

    learning_rate: float = 0.1
    affine_invariant = True

    def __post_init__(self):
        object.__setattr__(self, "learning_rate", _float_setting(self.learning_rate,
                                                                 "learning_rate"))

    def init(self, game, key=None) -> OptimisticHedgeState:
        zeros = tuple(jnp.zeros((a,), game.dtype) for a in game.num_actions)
        etas = tuple(self.learning_rate / r for r in _payoff_ranges(game))
        return OptimisticHedgeState(zeros, zeros, _uniform(game), jnp.zeros((), jnp.int32),
                                    etas)

    def step(self, game, state: OptimisticHedgeState) -> OptimisticHedgeState:
        values = _action_values(game, state.current)
        etas = state.step_sizes
        logits = tuple(_recentre(z + eta * v) for z, v, eta in zip(state.logits, values, etas))
        current = tuple(jax.nn.softmax(z + eta * v) for z, v, eta in zip(logits, values, etas))
        return OptimisticHedgeState(logits, values, current, state.count + 1, etas)

    def strategies(self, game, state: OptimisticHedgeState) -> tuple:
        return state.current


# --------------------------------------------------------------------------------------------
# fictitious play
# --------------------------------------------------------------------------------------------
class FictitiousPlayState(NamedTuple):
    """State of :class:`FictitiousPlay`.

    Attributes:
      average: per player ``[A_i]``: empirical frequency of past play (the initial uniform
        belief counts as one observation).
      count: int32 scalar, number of iterations.
    """

    average: tuple
    count: jax.Array


@pytree_dataclass
class FictitiousPlay(_NormalFormDynamics):
    """Simultaneous fictitious play (Brown 1951; Robinson 1951).

    Every player best-responds (ties to the lowest index) to the empirical frequencies of
    the others' past play, ``b_i^t in argmax_a v_i(a; sbar_{-i}^t)``, and the frequencies are
    updated as ``sbar^{t+1} = sbar^t + (b^t - sbar^t) / (t + 1)``, starting from the uniform
    profile. The reported strategies are the empirical frequencies, which converge to a Nash
    equilibrium in two-player zero-sum games (Robinson 1951), slowly.

    References: G. W. Brown, "Iterative solution of games by fictitious play", Activity
    Analysis of Production and Allocation, 1951; J. Robinson, "An iterative method of solving a
    game", Annals of Mathematics 54(2), 1951.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.zero_sum([[2., 1., 5.], [-3., -4., -2.]])
      >>> eq = solvers.solve(g, solvers.FictitiousPlay(), tol=1e-3, max_steps=1000)
      >>> [round(float(p), 2) for p in eq.strategies[1]]
      [0.0, 1.0, 0.0]
    """

    affine_invariant = True

    def init(self, game, key=None) -> FictitiousPlayState:
        return FictitiousPlayState(_uniform(game), jnp.zeros((), jnp.int32))

    def step(self, game, state: FictitiousPlayState) -> FictitiousPlayState:
        values = _action_values(game, state.average)
        brs = tuple(jax.nn.one_hot(jnp.argmax(v), v.shape[-1], dtype=v.dtype) for v in values)
        count = state.count + 1
        frac = 1.0 / (count + 1).astype(game.dtype)
        average = tuple(a + frac * (b - a) for a, b in zip(state.average, brs))
        return FictitiousPlayState(average, count)

    def strategies(self, game, state: FictitiousPlayState) -> tuple:
        return _on_simplex(state.average)


# --------------------------------------------------------------------------------------------
# replicator dynamics
# --------------------------------------------------------------------------------------------
class ReplicatorState(NamedTuple):
    """State of :class:`ReplicatorDynamics`: the current profile and the iteration count."""

    current: tuple
    count: jax.Array


@pytree_dataclass
class ReplicatorDynamics(_NormalFormDynamics):
    """Projected discrete-time (Euler) replicator dynamics, multi-population; reports the last
    iterate.

    ``s_i <- Proj_simplex(s_i + h s_i * (v_i - s_i . v_i))`` with step size ``h``, started
    from the uniform (interior) profile. The Euler step keeps the sum at one; the Euclidean
    projection onto the simplex only removes negative entries that a large step can create.
    Rest points include every Nash equilibrium; strict equilibria are asymptotically stable,
    while interior equilibria of zero-sum games such as rock-paper-scissors are surrounded by
    cycles, so there the dynamics do not converge (the result is ``MAX_STEPS_REACHED``).

    Args:
      step_size: ``h > 0``, in inverse payoff units; a pytree leaf.

    Raises:
      TypeError, ValueError: if a concrete ``step_size`` is not a finite number > 0.

    Reference: P. D. Taylor and L. B. Jonker, "Evolutionarily stable strategies and game
    dynamics", Mathematical Biosciences 40, 1978.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[3., 0.], [5., 1.]], [[3., 5.], [0., 1.]])
      >>> eq = solvers.solve(pd, solvers.ReplicatorDynamics(0.5), tol=1e-6, max_steps=5000)
      >>> [round(float(p), 3) for p in eq.strategies[0]]
      [0.0, 1.0]
    """

    step_size: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "step_size", _float_setting(self.step_size, "step_size"))

    def init(self, game, key=None) -> ReplicatorState:
        return ReplicatorState(_uniform(game), jnp.zeros((), jnp.int32))

    def step(self, game, state: ReplicatorState) -> ReplicatorState:
        values = _action_values(game, state.current)
        h = self.step_size
        current = tuple(
            _project_simplex(s + h * s * (v - jnp.dot(s, v))) for s, v in zip(state.current, values)
        )
        return ReplicatorState(current, state.count + 1)

    def strategies(self, game, state: ReplicatorState) -> tuple:
        return state.current
