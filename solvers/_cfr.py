"""Counterfactual regret minimisation on compiled game trees: CFR, CFR+, DCFR, PCFR+, MCCFR.

Every solver keeps, per information set ``I`` and action ``a``, a cumulative regret ``R(I, a)``, a
current policy ``pi(I, a)`` obtained by regret matching and a cumulative (average) policy. One
iteration ``t`` for player ``i`` computes the counterfactual action values

    q_i(I, a) = sum_{h in I} pi_{-i}(h) * v_i(h a),     r(I, a) = q_i(I, a) - sum_b pi(I, b) q_i(I, b),

then updates ``R`` with the instantaneous regret ``r`` and adds ``w_t * pi_i(I) * pi(I, .)`` to the
average policy. On the compiled tree (see :mod:`solvers._efg`), ``q_i`` for all infosets is a
prefix product of the non-``i`` edge probabilities times a suffix product of all edge
probabilities along every root-to-terminal path, then one sorted ``segment_sum``; no per-history
recursion, no Python loop per iteration (:func:`solvers.solve` runs the whole solve in one
``lax.while_loop``).

With ``alternating=True`` (the default, as OpenSpiel's ``CFRSolver``/``CFRPlusSolver``) the
players are updated one after the other within an iteration, each traversal using the current
policies, so player 1's traversal already sees player 0's new policy; iteration ``t`` therefore
reproduces OpenSpiel's C++ solvers exactly up to floating-point rounding. (The summation order
differs: OpenSpiel sums per history, we per terminal path. CFR+ on Leduc poker amplifies such
1e-16 differences about e-fold every five iterations, so average policies agree to 1e-9 for the
first ~100 iterations on Leduc and for thousands on Kuhn; the exploitability curves keep
matching in rate afterwards.)

Variants (``R <- update(R + r)``, average weight ``w_t``):

* :class:`CFR` (Zinkevich et al. 2007): ``R + r``, ``w_t = 1``.
* :class:`CFRPlus` (Tammelin 2014): ``max(R + r, 0)``, ``w_t = t`` (linear averaging, no delay).
* :class:`DiscountedCFR` (Brown & Sandholm 2019): positive regrets times ``t^a / (t^a + 1)``,
  negative ones times ``t^b / (t^b + 1)``, ``w_t = t^g``.
* :class:`PredictiveCFRPlus` (Farina, Kroer & Sandholm 2021): ``max(R + r, 0)`` and the policy
  is regret matching on ``R + m`` with the prediction ``m = r`` (the last instantaneous regret);
  ``w_t = t^g`` (quadratic by default).
* :class:`MCCFR`: outcome sampling (Lanctot et al. 2009) with epsilon-on-policy exploration and
  stochastically weighted averaging, as OpenSpiel's ``OutcomeSamplingSolver``.

The answer (``Equilibrium.strategies``) is the normalised average policy ``[I, A]`` and the
certificate is its exact NashConv.

Example:
  >>> import jax; jax.config.update("jax_enable_x64", True)
  >>> from socialign import solvers
  >>> kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
  >>> eq = solvers.solve(kuhn, solvers.CFRPlus(), max_steps=2000, tol=1e-3)
  >>> round(float(eq.values[0]), 2)
  -0.06
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..kernel import GeometricChecks, pytree_dataclass, static_field
from ._efg import ExtensiveFormGame
from ._efg_metrics import chance_reach, decision_rows, edge_table
from ._solve import Solver, _float_setting, _real_setting

__all__ = ["CFR", "CFRPlus", "DiscountedCFR", "PredictiveCFRPlus", "MCCFR", "CFRState",
           "MCCFRState", "counterfactual_values", "regret_matching"]


class CFRState(NamedTuple):
    """State of the full-traversal CFR family (one game)."""

    regrets: jax.Array  #: cumulative regrets ``[I, A]``
    policy: jax.Array  #: current policy ``[I, A]``
    cum_policy: jax.Array  #: weighted sum of reach-weighted policies ``[I, A]``
    last_regrets: jax.Array  #: last instantaneous regrets (predictions of PCFR+) ``[I, A]``
    iteration: jax.Array  #: completed iterations (int32)


class MCCFRState(NamedTuple):
    """State of outcome-sampling MCCFR (one game)."""

    regrets: jax.Array
    cum_policy: jax.Array
    iteration: jax.Array
    key: jax.Array


def regret_matching(regrets, legal) -> jax.Array:
    """``pi(a) = [R(a)]^+ / sum_b [R(b)]^+`` per row, uniform over legal actions if all ``<= 0``."""
    legal = jnp.asarray(legal)
    pos = jnp.where(legal, jnp.maximum(regrets, 0.0), 0.0)
    s = pos.sum(-1, keepdims=True)
    uniform = legal / legal.sum(-1, keepdims=True)
    return jnp.where(s > 0, pos / jnp.where(s > 0, s, 1.0), uniform.astype(regrets.dtype))


def _normalise(cum, legal) -> jax.Array:
    """Rows of ``cum`` divided by their sums (uniform over legal actions for an empty row).

    Each row is first divided by its largest entry: with steep averaging weights (DCFR's
    ``t^gamma``) the entries stay finite while their sum overflows, and ``cum / inf`` made the
    average policy all zeros, whose NashConv of 0 was reported CONVERGED. An entry that is
    itself infinite gives NaN, which the loop reports as NONFINITE. (The division is by the
    square root twice: XLA's CPU division multiplies by the reciprocal, and ``1 / 3e38`` is
    subnormal in float32, flushed to zero.)"""
    legal = jnp.asarray(legal)
    top = jnp.max(cum, axis=-1, keepdims=True)
    root = jnp.sqrt(jnp.where(top > 0, top, 1.0))
    scaled = cum / root / root
    s = scaled.sum(-1, keepdims=True)
    uniform = (legal / legal.sum(-1, keepdims=True)).astype(cum.dtype)
    # an empty row (s == 0) is uniform; a NaN s (an infinite entry) stays NaN
    return jnp.where(s == 0, uniform, scaled / jnp.where(s == 0, 1.0, s))


def counterfactual_values(game: ExtensiveFormGame, policy, player: int, weighted_u=None):
    """Counterfactual action values ``q_i(I, a) = sum_{h in I} pi_{-i}(h) v_i(h a)`` ``[I, A]``.

    Rows of information sets that do not belong to ``player`` are 0. Single (unbatched) game.
    ``weighted_u`` (optional) is ``chance_reach * utilities[:, player]``, shared across calls.
    """
    tree = game.tree
    I, A = tree.num_infosets, tree.max_actions
    if weighted_u is None:
        weighted_u = chance_reach(game) * game.utilities[:, player]
    rows = decision_rows(game, policy)
    counts = tree.dec_count
    D = len(counts)
    players, start = [], 0
    for n in counts:
        players.append(tree.dec_player[start:start + n])
        start += n
    # prefix[d] = product of the other players' edges above depth d (counterfactual reach of the
    # node at depth d, chance excluded: it is folded into weighted_u); suffix[d] = product of all
    # edges below depth d (probability from the child to z). Rows are ragged: depth d covers the
    # first counts[d] terminals. Unrolled over the (small, static) depth.
    prefix = [jnp.ones((counts[0],), policy.dtype)]
    for d in range(1, D):
        nonown = jnp.where(players[d - 1][: counts[d]] == player, 1.0, rows[d - 1][: counts[d]])
        prefix.append(prefix[-1][: counts[d]] * nonown)
    suffix = [jnp.ones((counts[D - 1],), policy.dtype)]
    for d in range(D - 2, -1, -1):
        tail = suffix[-1] * rows[d + 1]
        suffix.append(jnp.concatenate([tail, jnp.ones((counts[d] - counts[d + 1],),
                                                      policy.dtype)]))
    suffix = suffix[::-1]
    contrib = jnp.concatenate([prefix[d] * suffix[d] * weighted_u[: counts[d]]
                               for d in range(D)])
    q = jax.ops.segment_sum(contrib[tree.own_pos[player]], tree.own_seg[player],
                            num_segments=I * A, indices_are_sorted=True)
    return q.reshape(I, A)


def _own_reach(game, policy) -> jax.Array:
    """``pi_i(I)``: the acting player's own probability of playing to each infoset ``[I]``."""
    return jnp.prod(edge_table(game, policy)[game.tree.own_path], axis=1)


class _CFRFamily(Solver):
    """Shared init/step of the full-traversal CFR variants."""

    game_types = (ExtensiveFormGame,)
    alternating: bool = True
    #: a shift of player i's utilities adds the same amount to every action's counterfactual
    #: value at i's information sets (it cancels in the regrets) and a positive scale scales
    #: them: the iterates do not change, so ``solve`` runs on utilities mapped to [0, 1]
    affine_invariant = True
    #: the exact NashConv of the average policy costs about as much as an iteration: check on
    #: the kernel's geometric schedule (O(log T) checks), not after every iteration
    default_check_every = GeometricChecks()

    # -- variant hooks -------------------------------------------------------------------------
    def _weight(self, t):
        return jnp.ones_like(t)

    def _regret_update(self, regrets, inst, t, rows):
        return regrets + inst

    def _current(self, regrets, last, legal):
        return regret_matching(regrets, legal)

    # -- protocol ------------------------------------------------------------------------------
    def init(self, game, key):
        zeros = jnp.zeros((game.num_infosets, game.max_actions), game.dtype)
        return CFRState(zeros, game.uniform_policy(), zeros, zeros, jnp.asarray(0, jnp.int32))

    def _update(self, game, state: CFRState, t, players) -> CFRState:
        tree = game.tree
        legal = jnp.asarray(tree.legal)
        pol = state.policy
        cr = chance_reach(game)
        q = sum(counterfactual_values(game, pol, i, cr * game.utilities[:, i]) for i in players)
        rows = jnp.asarray(sum((tree.infoset_player == i) for i in players) > 0)[:, None]
        v = jnp.sum(pol * q, axis=1, keepdims=True)
        inst = jnp.where(rows & legal, q - v, 0.0)
        reach = _own_reach(game, pol) * jnp.asarray(tree.hist_count, pol.dtype)
        cum = state.cum_policy + jnp.where(rows, self._weight(t) * reach[:, None] * pol, 0.0)
        regrets = self._regret_update(state.regrets, inst, t, rows)
        last = jnp.where(rows, inst, state.last_regrets)
        return CFRState(regrets, self._current(regrets, last, legal), cum, last, state.iteration)

    def step(self, game, state: CFRState) -> CFRState:
        it = state.iteration + 1
        t = it.astype(game.dtype)
        state = state._replace(iteration=it)
        if self.alternating:
            for i in range(game.num_players):
                state = self._update(game, state, t, (i,))
        else:
            state = self._update(game, state, t, tuple(range(game.num_players)))
        return state

    def strategies(self, game, state) -> jax.Array:
        """The normalised average policy ``[I, A]`` (uniform where never reached)."""
        return _normalise(state.cum_policy, game.tree.legal)

    def current_policy(self, game, state) -> jax.Array:
        """The current (last-iterate) policy ``[I, A]``."""
        return state.policy

    def validate(self, game) -> None:
        super().validate(game)


def _check_bool(x, name):
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be a bool, got {type(x).__name__}")


@pytree_dataclass
class CFR(_CFRFamily):
    """Vanilla CFR (Zinkevich, Johanson, Bowling & Piccione, NeurIPS 2007).

    ``R <- R + r``; current policy by regret matching; average policy weighted by own reach.
    With ``alternating=True`` it is OpenSpiel's ``CFRSolver``.

    Args:
      alternating: update the players one after the other (static).

    Raises:
      TypeError: if ``alternating`` is not a bool.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.CFR(), max_steps=100, throw=False)
      >>> float(eq.nash_conv) < 0.05
      True
    """

    alternating: bool = static_field(default=True)

    def __post_init__(self):
        _check_bool(self.alternating, "alternating")


@pytree_dataclass
class CFRPlus(_CFRFamily):
    """CFR+ (Tammelin 2014; Tammelin, Burch, Johanson & Bowling, IJCAI 2015).

    Regret matching+ ``R <- max(R + r, 0)`` and linear averaging ``w_t = t`` (OpenSpiel's
    convention: no averaging delay). With ``alternating=True`` it is OpenSpiel's
    ``CFRPlusSolver``.

    Args:
      alternating: update the players one after the other (static).

    Raises:
      TypeError: if ``alternating`` is not a bool.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.CFRPlus(), max_steps=1000, tol=1e-3)
      >>> bool(eq.converged)
      True
    """

    alternating: bool = static_field(default=True)

    def __post_init__(self):
        _check_bool(self.alternating, "alternating")

    def _weight(self, t):
        return t

    def _regret_update(self, regrets, inst, t, rows):
        return jnp.maximum(regrets + inst, 0.0)


@pytree_dataclass
class DiscountedCFR(_CFRFamily):
    """Discounted CFR, DCFR(alpha, beta, gamma) (Brown & Sandholm, AAAI 2019).

    After adding the iteration-``t`` regrets, positive cumulative regrets are multiplied by
    ``t^alpha / (t^alpha + 1)`` and negative ones by ``t^beta / (t^beta + 1)``; the average policy
    weights iteration ``t`` by ``t^gamma``. Defaults (1.5, 0, 2) are the paper's recommendation;
    (1, 1, 1) is linear CFR. Matches OpenSpiel's ``DCFRSolver`` update order.

    Args:
      alpha, beta, gamma: the discount exponents (real numbers; pytree leaves, so new values do
        not recompile and ``vmap`` over them works).
      alternating: update the players one after the other (static).

    Raises:
      TypeError: if ``alternating`` is not a bool or an exponent is not a real number.
      ValueError: if an exponent is not finite.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.DiscountedCFR(), max_steps=1000, tol=1e-3)
      >>> bool(eq.converged)
      True
    """

    alpha: float = 1.5
    beta: float = 0.0
    gamma: float = 2.0
    alternating: bool = static_field(default=True)

    def __post_init__(self):
        _check_bool(self.alternating, "alternating")
        for name in ("alpha", "beta", "gamma"):
            object.__setattr__(self, name, _real_setting(getattr(self, name), name))

    def _weight(self, t):
        return t**self.gamma

    def _regret_update(self, regrets, inst, t, rows):
        r = regrets + inst
        pos = t**self.alpha / (t**self.alpha + 1)
        neg = t**self.beta / (t**self.beta + 1)
        return jnp.where(rows, jnp.where(r >= 0, r * pos, r * neg), r)


@pytree_dataclass
class PredictiveCFRPlus(_CFRFamily):
    """Predictive CFR+ (Farina, Kroer & Sandholm, AAAI 2021).

    Regret matching+ ``R <- max(R + r, 0)`` with the prediction ``m = r`` (the last
    instantaneous regret): the next policy is ``[R + m]^+`` normalised. The average policy
    weights iteration ``t`` by ``t^gamma`` (quadratic, ``gamma = 2``, as in the paper).

    Args:
      gamma: the averaging exponent (a real number; a pytree leaf).
      alternating: update the players one after the other (static).

    Raises:
      TypeError: if ``alternating`` is not a bool or ``gamma`` is not a real number.
      ValueError: if ``gamma`` is not finite.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.PredictiveCFRPlus(), max_steps=1000, tol=1e-3)
      >>> bool(eq.converged)
      True
    """

    gamma: float = 2.0
    alternating: bool = static_field(default=True)

    def __post_init__(self):
        _check_bool(self.alternating, "alternating")
        object.__setattr__(self, "gamma", _real_setting(self.gamma, "gamma"))

    def _weight(self, t):
        return t**self.gamma

    def _regret_update(self, regrets, inst, t, rows):
        return jnp.maximum(regrets + inst, 0.0)

    def _current(self, regrets, last, legal):
        return regret_matching(regrets + last, legal)


@pytree_dataclass
class MCCFR(Solver):
    """Outcome-sampling Monte Carlo CFR (Lanctot, Waugh, Zinkevich & Bowling, NeurIPS 2009).

    Each iteration samples, for every player ``i`` in turn, ``num_samples`` root-to-terminal
    trajectories: chance by its probabilities, the opponents on-policy and player ``i`` with the
    exploration policy ``epsilon * uniform + (1 - epsilon) * pi``. Along a trajectory with sampling
    probability ``s(h)`` and terminal ``z``, every infoset ``I`` of player ``i`` at ``h`` (sampled
    action ``b``) receives the importance-weighted regret

        r(I, a) = (pi_{-i}(h) / s(h)) * u_i(z) * (pi(h b -> z) / s(h b -> z)) * ([a = b] - pi(b)) / s(b)

    and the stochastically weighted average-policy increment ``pi_i(h) / s(h) * pi(I, .)``, as in
    OpenSpiel's ``OutcomeSamplingSolver`` (same estimator; the random streams differ). The
    per-iteration cost is ``O(depth)`` per trajectory, independent of the tree size, which suits
    games too large for full traversals; ``num_samples`` batches trajectories for accelerators.

    Args:
      epsilon: exploration weight in ``[0, 1]`` (a pytree leaf).
      num_samples: trajectories per player and iteration (static: it fixes shapes).

    Raises:
      TypeError: if ``epsilon`` is not a real number.
      ValueError: if ``epsilon`` is outside ``[0, 1]`` or ``num_samples`` is not a positive int.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> eq = solvers.solve(g, solvers.MCCFR(), max_steps=20000, check_every=20000,
      ...                    throw=False)
      >>> float(eq.nash_conv) < 0.1
      True
    """

    epsilon: float = 0.6
    num_samples: int = static_field(default=1)

    game_types = (ExtensiveFormGame,)
    #: sampled regrets are not shift-invariant one by one; running on utilities mapped to
    #: [0, 1] makes the answer the same for every ``a_i u_i + b_i`` (``a_i > 0``)
    affine_invariant = True
    #: an exact NashConv traverses the whole tree, a sampled iteration only a few paths
    default_check_every = GeometricChecks()

    def __post_init__(self):
        object.__setattr__(self, "epsilon", _float_setting(self.epsilon, "epsilon",
                                                           allow_zero=True, upper=1.0))
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, int) or \
                self.num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got {self.num_samples!r}")

    def init(self, game, key):
        zeros = jnp.zeros((game.num_infosets, game.max_actions), game.dtype)
        if key is None:
            key = jax.random.key(0)
        return MCCFRState(zeros, zeros, jnp.asarray(0, jnp.int32), key)

    def _episode(self, game, policy, key, i):
        """Sample one trajectory for update player ``i``; return per-step row updates."""
        tree = game.tree
        I, A, Ac, C = tree.num_infosets, tree.max_actions, tree.max_outcomes, tree.num_chance
        W = max(A, Ac)
        dtype = policy.dtype
        legal = jnp.asarray(tree.legal)
        kinds = jnp.asarray(tree.node_kind)
        rows = jnp.asarray(tree.node_row)
        children = jnp.asarray(tree.node_children)
        pad = ((0, 0), (0, W - A))
        pol_w = jnp.pad(policy, pad)
        unif_w = jnp.pad((legal / legal.sum(1, keepdims=True)).astype(dtype), pad)
        chance_w = jnp.pad(game.chance_probs, ((0, 0), (0, W - Ac))) if C else None
        node = jnp.asarray(tree.root, jnp.int32)
        # one PRNG call per trajectory (inverse-CDF sampling) and a scan over depth: both keep
        # XLA's compile time small
        uniforms = jax.random.uniform(key, (tree.depth,), dtype)

        def walk(node, uni):
            kind, row = kinds[node], rows[node]
            alive = kind != -2
            dec = kind >= 0
            own = kind == i
            irow = jnp.clip(row, 0, I - 1)
            prow = pol_w[irow]
            probs = prow if chance_w is None else jnp.where(dec, prow,
                                                           chance_w[jnp.clip(row, 0, C - 1)])
            samp = jnp.where(own, self.epsilon * unif_w[irow] + (1 - self.epsilon) * prow, probs)
            samp = jnp.where(alive, samp, jnp.ones_like(samp) / W)
            cdf = jnp.cumsum(samp)
            a = jnp.minimum(jnp.sum(cdf < uni * cdf[-1]), W - 1)
            a = jnp.where(samp[a] > 0, a, jnp.argmax(samp))  # guard against rounding at the edge
            nxt = jnp.where(alive, children[node, a], node)
            return nxt, (alive & dec, alive & own, irow, a, probs[a], samp[a])

        node, (dec, own, irow, act, pi, sig) = jax.lax.scan(walk, node, uniforms)
        u = game.utilities[rows[node], i]
        sig = jnp.where(dec, sig, 1.0)
        ratio = jnp.where(dec, pi / sig, 1.0)
        opp_f = jnp.where(own, 1.0 / sig, ratio)
        my_f = jnp.where(own, ratio, jnp.where(dec, 1.0 / sig, 1.0))
        one = jnp.ones((1,), dtype)
        opp_pre = jnp.cumprod(jnp.concatenate([one, opp_f[:-1]]))
        my_pre = jnp.cumprod(jnp.concatenate([one, my_f[:-1]]))
        tail = jnp.cumprod(jnp.concatenate([one, ratio[::-1][:-1]]))[::-1]
        weight = jnp.where(own, opp_pre * u * tail / sig, 0.0)
        onehot = jax.nn.one_hot(act, A, dtype=dtype)
        d_regret = weight[:, None] * jnp.where(legal[irow], onehot - pi[:, None], 0.0)
        d_cum = jnp.where(own, my_pre, 0.0)[:, None] * policy[irow]
        return irow, d_regret, d_cum

    def step(self, game, state: MCCFRState) -> MCCFRState:
        legal = game.tree.legal
        key, sub = jax.random.split(state.key)
        keys = jax.random.split(sub, game.num_players)
        regrets, cum = state.regrets, state.cum_policy
        for i in range(game.num_players):
            policy = regret_matching(regrets, legal)
            ks = jax.random.split(keys[i], self.num_samples)
            irow, d_r, d_c = jax.vmap(lambda k, p=policy, i=i: self._episode(game, p, k, i))(ks)
            irow = irow.reshape(-1)
            regrets = regrets.at[irow].add(d_r.reshape(-1, game.max_actions))
            cum = cum.at[irow].add(d_c.reshape(-1, game.max_actions))
        return MCCFRState(regrets, cum, state.iteration + 1, key)

    def strategies(self, game, state) -> jax.Array:
        """The normalised average policy ``[I, A]``."""
        return _normalise(state.cum_policy, game.tree.legal)

    def current_policy(self, game, state) -> jax.Array:
        return regret_matching(state.regrets, game.tree.legal)
