"""Logit quantal response: the pure response function and the logit QRE solver.

A logit quantal response equilibrium (McKelvey and Palfrey 1995) at temperature ``T > 0`` is a
profile ``s`` with ``s_i = softmax(v_i(s_-i) / T)`` for every player, where ``v_i`` are the
action values. Write ``lambda = 1 / T``. At ``lambda = 0`` the unique QRE is the uniform
profile; the QRE correspondence contains a unique "principal branch" that starts there and, as
``lambda -> inf``, converges to a Nash equilibrium (the logit solution; Turocy 2005, as traced by
Gambit's ``gambit-logit``). :class:`LogitQRE` follows that branch by predictor-corrector
pseudo-arclength continuation in ``(z, lambda)``, ``z`` being the players' logits:

    H(z, lambda) = z - lambda * (v(softmax(z)) - softmax(z) . v) = 0,

with an Euler predictor along the tangent (the kernel of ``dH``), a Newton corrector on the
hyperplane orthogonal to it, and step-size control; following the arc (not ``lambda`` itself)
lets the trace pass turning points of the branch.

Example:
  >>> from socialign import solvers
  >>> g = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 1.]], [[1., 0.], [0., 3.]])
  >>> eq = solvers.solve(g, solvers.LogitQRE(temperature=0.5))
  >>> bool(eq.certificate <= 1e-6)
  True
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    Result,
    as_float_array,
    check_finite,
    check_positive_int,
    is_concrete,
    pytree_dataclass,
    static_field,
)
from ._game import NormalFormGame
from ._metrics import _action_values, _ranges, _relative_gains, _shifted
from ._solve import Solver, _float_setting

__all__ = ["quantal_response", "LogitQRE", "LogitQREState"]

#: smallest cosine between consecutive tangents of an accepted continuation step (~0.8 degrees:
#: at 0.98, ~11 degrees, the trace jumped to another branch on nearly symmetric games, e.g.
#: [[2.01, 0], [0, 1]] vs [[1, 0], [0, 2]] at lambda = 2 gave (0.60, 0.40) for (0.96, 0.85))
_MIN_COS = 0.9999


def quantal_response(payoffs_to_player, temperature) -> jax.Array:
    """Logit quantal response: ``softmax(payoffs_to_player / temperature)`` over the last axis.

    ``sigma(a) = exp(u(a) / T) / sum_b exp(u(b) / T)``: the choice probabilities of a player
    whose payoffs are perturbed by i.i.d. Gumbel noise of scale ``T`` (McKelvey and Palfrey
    1995). ``T -> 0`` approaches a best response, ``T -> inf`` the uniform distribution. A
    pure function of arrays: ``jit``-, ``vmap``- and ``grad``-compatible.

    Args:
      payoffs_to_player: ``[..., A]`` payoff of each action (e.g. action values).
      temperature: ``T > 0``, a scalar or an array broadcastable to ``payoffs.shape[:-1]``.

    Returns:
      ``[..., A]`` probabilities summing to one over the last axis.

    Raises:
      TypeError: if an argument is not numeric.
      ValueError: if ``payoffs_to_player`` has no action axis or is not finite, or a concrete
        ``temperature`` is not finite and > 0, or its shape does not broadcast.

    Example:
      >>> from socialign import solvers
      >>> [round(float(p), 4) for p in solvers.quantal_response([1.0, 0.0], 1.0)]
      [0.7311, 0.2689]
    """
    u = as_float_array(payoffs_to_player, "payoffs_to_player")
    if u.ndim < 1 or u.shape[-1] == 0:
        raise ValueError(f"payoffs_to_player must have a non-empty last (action) axis; got "
                         f"shape {tuple(u.shape)}")
    check_finite(u, "payoffs_to_player")
    t = as_float_array(temperature, "temperature")
    if is_concrete(t):
        tv = np.asarray(t)
        if not np.all(np.isfinite(tv)) or np.any(tv <= 0):
            raise ValueError(f"temperature must be finite and > 0; got {tv!r}")
    try:
        np.broadcast_shapes(tuple(t.shape) + (1,), tuple(u.shape))
    except ValueError:
        raise ValueError(f"temperature of shape {tuple(t.shape)} does not broadcast against "
                         f"payoffs_to_player[..., :1] of shape {tuple(u.shape[:-1])}") from None
    dtype = jnp.result_type(u, t)
    return jax.nn.softmax(u.astype(dtype) / t.astype(dtype)[..., None], axis=-1)


# --------------------------------------------------------------------------------------------
# helpers on the flattened logit vector
# --------------------------------------------------------------------------------------------
def _split(game: NormalFormGame, flat: jax.Array) -> tuple:
    idx = np.cumsum(game.num_actions)[:-1]
    return tuple(jnp.split(flat, idx))


def _sigma(game: NormalFormGame, z: jax.Array) -> tuple:
    return tuple(jax.nn.softmax(zi) for zi in _split(game, z))


def _centred_values(game: NormalFormGame, strategies: tuple) -> jax.Array:
    """Action values minus the player's expected value (``v_i - s_i . v_i``): the logits of
    actions in the support then stay O(1) as ``lambda`` grows, which keeps softmax accurate."""
    vals = _action_values(_shifted(game), strategies)  # shift invariant, no digits lost
    return jnp.concatenate([v - jnp.dot(s, v) for v, s in zip(vals, strategies)])


def _homotopy(game: NormalFormGame, x: jax.Array) -> jax.Array:
    """``H(z, lambda) = z - lambda * (v_i - s_i . v_i)`` with ``s = softmax(z)``, ``x = [z, lambda]``.

    Softmax is shift invariant, so ``dH`` is the identity on per-player constant shifts and the
    zero set contains exactly one logit vector per QRE."""
    z, lam = x[:-1], x[-1]
    return z - lam * _centred_values(game, _sigma(game, z))


def qre_residual(game: NormalFormGame, strategies: tuple, temperature) -> jax.Array:
    """Max-norm logit fixed-point residual ``max_i |s_i - softmax(v_i(s_-i) / T)|_inf``."""
    vals = _action_values(_shifted(game), strategies)
    return jnp.max(jnp.stack([
        jnp.max(jnp.abs(s - jax.nn.softmax(v / temperature))) for s, v in zip(strategies, vals)
    ]))


class LogitQREState(NamedTuple):
    """State of :class:`LogitQRE`.

    Attributes:
      x: ``[N + 1]``: concatenated logits ``z`` (``N = sum_i A_i``) and ``s / T``, with ``s``
        the game's largest payoff range (the branch is traced on ``G / s``; ``stats`` reports
        ``T`` in payoff units).
      tangent: ``[N + 1]``: unit tangent of the branch at ``x`` (oriented forward).
      step_size: arclength of the next predictor step.
      landed: the trace reached the target ``lambda`` exactly.
      failed: the step size collapsed (the trace could not continue).
      num_accepted, num_rejected: int32 counters of predictor-corrector steps.
    """

    x: jax.Array
    tangent: jax.Array
    step_size: jax.Array
    landed: jax.Array
    failed: jax.Array
    num_accepted: jax.Array
    num_rejected: jax.Array


@pytree_dataclass
class LogitQRE(Solver):
    """Logit quantal response equilibrium by homotopy continuation (McKelvey-Palfrey; Turocy).

    Two modes:

    * ``homotopy=False`` (default): the logit QRE at ``temperature``. The principal branch is
      traced from ``T = inf`` (uniform play) to ``T = temperature`` and the last point is
      solved exactly on ``lambda = 1 / temperature``. Certificate: the max-norm fixed-point
      residual ``max_i |s_i - softmax(v_i(s_-i) / T)|_inf``; ``CONVERGED`` when it is at most
      ``tol``.
    * ``homotopy=True``: equilibrium selection as in Gambit's logit solver. The branch is
      traced toward ``T = final_temperature`` (``lambda -> inf``) and the trace stops at the
      first QRE on it whose NashConv, relative to the payoff ranges, is at most ``tol``
      (``CONVERGED``). Certificate: that relative NashConv.
      If ``final_temperature`` is reached first the result is ``FAILED`` (an approximate, not
      certified, equilibrium is still returned).

    Each solver step is one predictor-corrector step: Euler predictor of arclength ``h`` along
    the tangent, ``newton_steps`` Newton iterations on ``[H(x); t . (x - x_pred)] = 0``, accepted
    when the residual of ``H`` is below a dtype-dependent tolerance, the Newton steps contract,
    the corrector stayed within ``h / 4`` of the prediction and the tangent turned by less than
    about 0.8 degrees (else ``h`` is halved; ``h`` grows by 1.5x after an accepted step). The
    step on which the predictor would pass the target ``lambda`` is solved on the hyperplane
    ``lambda = target`` instead.

    Scale and shift: a shift of a player's payoffs leaves every QRE unchanged (the action
    values are taken on payoffs shifted by each player's minimum, so no digits are lost), and
    multiplying all payoffs by ``a > 0`` is the same as dividing the temperature by ``a``: the
    QRE of ``a G + b`` at ``a T`` is the QRE of ``G`` at ``T``.

    Gradients: at a fixed temperature ``jax.grad`` of anything computed from
    ``solve(game, LogitQRE(temperature=T))`` flows to the payoffs and to ``T`` by the implicit
    function theorem on :meth:`residual` (the principal-branch QRE must be regular there, i.e.
    not at a turning point). ``homotopy=True`` refuses gradients with a ``TypeError``.

    Args:
      temperature: ``T > 0`` of the equilibrium to compute (``homotopy=False`` only), in payoff
        units; a pytree leaf (new values do not recompile; ``vmap`` and ``grad`` over it work).
      homotopy: trace toward ``T -> 0`` and return a Nash equilibrium (see above); static.
      final_temperature: lowest temperature of the homotopy trace; a pytree leaf.
      newton_steps: Newton iterations per corrector (static).

    Raises:
      TypeError: if ``homotopy`` is not a bool or a temperature is not a real number.
      ValueError: if ``temperature`` is missing (``homotopy=False``) or given
        (``homotopy=True``), a temperature is not finite and > 0, or ``newton_steps`` is not a
        positive int.

    References: R. D. McKelvey and T. R. Palfrey, "Quantal response equilibria for normal form
    games", Games and Economic Behavior 10, 1995; T. L. Turocy, "A dynamic homotopy
    interpretation of the logistic quantal response equilibrium correspondence", Games and
    Economic Behavior 51, 2005; E. L. Allgower and K. Georg, "Introduction to Numerical
    Continuation Methods", 2003 (pseudo-arclength predictor-corrector).

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.from_bimatrix([[3., 0.], [0., 1.]], [[1., 0.], [0., 3.]])
      >>> eq = solvers.solve(g, solvers.LogitQRE(homotopy=True), tol=1e-8)
      >>> [round(float(p), 4) for p in eq.strategies[0]]
      [0.75, 0.25]
    """

    temperature: float | None = None
    homotopy: bool = static_field(default=False)
    final_temperature: float = 1e-8
    newton_steps: int = static_field(default=6)
    game_types = (NormalFormGame,)

    def __post_init__(self):
        if not isinstance(self.homotopy, bool):
            raise TypeError(f"homotopy must be a bool, got {self.homotopy!r}")
        if self.homotopy:
            if self.temperature is not None:
                raise ValueError(
                    "temperature: with homotopy=True the trace runs from T = inf down to "
                    "final_temperature and stops at the first NashConv <= tol point; leave "
                    "temperature unset (it is the target of homotopy=False)")
        else:
            if self.temperature is None:
                raise ValueError("temperature is required when homotopy=False, e.g. "
                                 "LogitQRE(temperature=0.5)")
            object.__setattr__(self, "temperature",
                               _float_setting(self.temperature, "temperature"))
        object.__setattr__(self, "final_temperature",
                           _float_setting(self.final_temperature, "final_temperature"))
        object.__setattr__(self, "newton_steps", check_positive_int(self.newton_steps,
                                                                    "newton_steps"))

    # -- protocol ------------------------------------------------------------------------------
    def _target(self) -> float:
        return 1.0 / (self.final_temperature if self.homotopy else self.temperature)

    def _unit(self, game):
        """``(game', s)``: the game divided by its largest payoff range ``s`` (each player's
        payoffs shifted to start at 0), on which the branch is traced with ``lambda' = s lambda``.

        The QRE of ``G`` at ``lambda`` is the QRE of ``G / s`` at ``s lambda`` (a common scale;
        shifts do not change logit responses), so the trace, its step control and its rounding
        do not depend on the payoffs' units: ``a G + b`` gives the same iterates as ``G``.
        """
        s = jnp.max(_ranges(game))
        s = jnp.where(s > 0, s, 1.0)
        return NormalFormGame(_shifted(game).payoffs / s, game.num_players), s

    def init(self, game, key=None) -> LogitQREState:
        game, s = self._unit(game)
        n = sum(game.num_actions)
        dtype = game.dtype
        x = jnp.zeros((n + 1,), dtype)
        # tangent at lambda = 0: H_z = I, H_lambda = -(v - s . v) at the uniform profile.
        direction = jnp.concatenate(
            [_centred_values(game, _sigma(game, x[:-1])), jnp.ones((1,), dtype)])
        tangent = direction / jnp.linalg.norm(direction)
        # the largest payoff range: the path does not depend on a shift of the payoffs
        scale = jnp.max(_ranges(game)) + jnp.finfo(dtype).tiny
        h0 = jnp.minimum(0.1 / scale, 0.5 * self._target() * s)
        false = jnp.zeros((), bool)
        zero = jnp.zeros((), jnp.int32)
        return LogitQREState(x, tangent, h0.astype(dtype), false, false, zero, zero)

    def step(self, game, state: LogitQREState) -> LogitQREState:
        game, s = self._unit(game)
        dtype = game.dtype
        eps = jnp.finfo(dtype).eps
        target = jnp.asarray(self._target(), dtype) * s
        x, t, h = state.x, state.tangent, state.step_size
        n1 = x.shape[0]
        e_last = jnp.zeros((n1,), dtype).at[-1].set(1.0)

        # predictor; land exactly on lambda = target when the step would pass it.
        dl = t[-1]
        land = (dl > 0) & (x[-1] + h * dl >= target)
        h_eff = jnp.where(land, (target - x[-1]) / jnp.where(dl > 0, dl, 1.0), h)
        xp = x + h_eff * t
        xp = xp.at[-1].set(jnp.where(land, target, xp[-1]))
        row = jnp.where(land, e_last, t)

        jac = jax.jacfwd(lambda y: _homotopy(game, y))

        def newton(i, carry):
            y, first, second = carry
            m = jnp.concatenate([jac(y), row[None, :]], axis=0)
            g = jnp.concatenate([_homotopy(game, y), jnp.dot(row, y - xp)[None]])
            dy = jnp.linalg.solve(m, -g)
            size = jnp.linalg.norm(dy)
            first = jnp.where(i == 0, size, first)
            second = jnp.where(i == 1, size, second)
            return y + dy, first, second

        zero = jnp.zeros((), dtype)
        y, first, second = jax.lax.fori_loop(0, self.newton_steps, newton, (xp, zero, zero))
        # rounding floor of H: eps * (|z_k| + lambda * payoff scale), per component
        scale = jnp.max(_ranges(game))
        size = 1.0 + jnp.max(jnp.abs(y))
        floor = 1.0 + jnp.abs(y[:-1]) + jnp.abs(y[-1]) * scale
        res_ok = jnp.all(jnp.abs(_homotopy(game, y)) <= 1e2 * eps * floor)
        dist = jnp.linalg.norm(y - xp)
        m_new = jnp.concatenate([jac(y), t[None, :]], axis=0)
        t_new = jnp.linalg.solve(m_new, e_last)
        t_new = t_new / jnp.linalg.norm(t_new)
        # step control (Allgower and Georg, ch. 6): converged corrector, contracting Newton
        # iterations, short correction and a small turn of the tangent; otherwise halve h.
        # These keep the predictor from jumping to another sheet of the branch near folds.
        tiny = 1e2 * eps * size
        ok = (jnp.all(jnp.isfinite(y)) & jnp.all(jnp.isfinite(t_new)) & res_ok
              & (dist <= 0.25 * h + tiny) & (second <= 0.5 * first + tiny)
              & (jnp.dot(t_new, t) >= _MIN_COS))
        ok = ok & ~state.landed & ~state.failed
        h_next = jnp.where(ok, 1.5 * h, 0.5 * h)
        failed = state.failed | (~ok & (h_next < 1e-9 * size))
        frozen = state.landed | state.failed
        return LogitQREState(
            x=jnp.where(ok, y, x),
            tangent=jnp.where(ok, t_new, t),
            step_size=jnp.where(frozen, h, h_next),
            landed=state.landed | (ok & land),
            failed=failed,
            num_accepted=state.num_accepted + ok.astype(jnp.int32),
            num_rejected=state.num_rejected + (~ok & ~frozen).astype(jnp.int32),
        )

    def strategies(self, game, state: LogitQREState) -> tuple:
        return _sigma(game, state.x[:-1])

    def terminate(self, game, state: LogitQREState, tol):
        s = self.strategies(game, state)
        if self.homotopy:
            cert = jnp.sum(_relative_gains(game, s))
            ok = cert <= tol
            done = ok | state.landed | state.failed
        else:
            cert = qre_residual(game, s, jnp.asarray(self.temperature, game.dtype))
            ok = state.landed & (cert <= tol)
            done = state.landed | state.failed
        code = jnp.where(ok, Result.CONVERGED, Result.FAILED).astype(jnp.int32)
        return done, code, cert

    @property
    def differentiable(self) -> bool:
        """``True`` at a fixed temperature; the homotopy's selection has no smooth conditions."""
        return not self.homotopy

    def residual(self, game, strategies) -> tuple:
        """The logit fixed point ``s_i - softmax(v_i(s_-i) / T)`` per player (``homotopy=False``).

        Zero exactly at a logit QRE at ``temperature``; :func:`solvers.solve` differentiates the
        answer through it by the implicit function theorem (with respect to the payoffs and
        ``temperature``).

        Args:
          game: one (unbatched) :class:`NormalFormGame`.
          strategies: one mixed strategy ``[A_i]`` per player.

        Returns:
          A tuple of ``[A_i]`` arrays, one per player.

        Raises:
          TypeError: in homotopy mode (there is no fixed temperature).
        """
        if self.homotopy:
            raise TypeError("LogitQRE(homotopy=True) selects an equilibrium by tracing a branch; "
                            "it has no optimality conditions to differentiate")
        temperature = jnp.asarray(self.temperature, game.dtype)
        vals = _action_values(_shifted(game), strategies)
        return tuple(s - jax.nn.softmax(v / temperature) for s, v in zip(strategies, vals))

    def stats(self, game, state: LogitQREState) -> dict:
        lam = state.x[-1] / self._unit(game)[1]  # the trace runs on G / s at s * lambda
        temp = jnp.where(lam > 0, 1.0 / jnp.where(lam > 0, lam, 1.0), jnp.inf)
        return {"temperature": temp, "num_accepted": state.num_accepted,
                "num_rejected": state.num_rejected}

