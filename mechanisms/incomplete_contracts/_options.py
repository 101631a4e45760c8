r"""Option contracts against hold-up (Nöldeke and Schmidt 1995).

An option contract gives one party, the *holder* ``h``, the right to decide whether trade takes
place (the court verifies only whether the good was delivered): on trade party 0 pays party 1
the ``trade_price`` ``p_1``, without trade the ``no_trade_price`` ``p_0``. In the model of
:class:`._holdup.HoldUp` (values ``v_k(i)`` of trade, outside options ``o_k(i)``, costs
``c_k(i)``, generalised Nash bargaining with shares ``beta_k``) the option fixes the
disagreement point of ex-post renegotiation: if talks fail the holder exercises iff trade is
worth more to it,

.. math::
    m(i) = \begin{cases} (v_0(i) - p_1) - (o_0(i) - p_0) & h = 0\\
                         (v_1(i) + p_1) - (o_1(i) + p_0) & h = 1\end{cases}\ \ge 0,

so ``d(i) = (v_0 - p_1, v_1 + p_1)`` when ``m(i) >= 0`` (trade: nothing left to renegotiate)
and ``d(i) = (o_0 - p_0, o_1 + p_0)`` otherwise, and ``U_k(i) = d_k(i) + beta_k (S(i) - d_0(i)
- d_1(i)) - c_k(i)``. The payoff is piecewise: each *regime* (exercise, no exercise) is concave
in an investor's own investment, and the regimes meet where ``m = 0``. A best response is the
better of the two regimes' constrained maxima (each by bisection on its decreasing marginal
return, clipped to the regime's interval, whose end is found by bisection on the monotone
``m``), so an equilibrium investment may sit exactly on the exercise threshold: that is how an
option contract makes an investor internalise the other party's value.

Known values (tests): a cooperative investment ``i`` by party 0 raising party 1's value
``v_1 = 2 sqrt(i)`` at cost ``i``, ``beta = 1/2``: the null contract gives ``i = 1/4`` (surplus
``3/4``) and no trade contract does better (Che and Hausch 1999), but a buyer's option (party 1
holds it) with ``p_1 - p_0 = 2`` makes the buyer exercise exactly when ``i >= 1``, and party 0
invests the first best ``i = 1`` (surplus 1): the investment is rewarded through the strike
(Nöldeke and Schmidt 1995; Lyon and Rasmusen 2004). In general, with strike gap ``D = p_0 -
p_1`` and threshold ``i_D = D^2 / 4`` (``m(i_D) = 0``) party 0 invests ``i_D`` when ``D - i_D``
beats the best payoff below the threshold, ``max_{x <= i_D} 2 beta sqrt(x) - x``, else
``beta^2`` (so ``D = 3`` makes it over-invest, ``i = 9/4``).

Gradients with respect to the contract's prices and the model's numbers come from the implicit
function theorem on each investor's optimality condition: the first-order condition in the
regime's interior, ``m(i) = 0`` on the threshold.

References:
  G. Nöldeke and K. M. Schmidt, "Option contracts and renegotiation: a solution to the hold-up
  problem", RAND Journal of Economics 26(2), 1995. T. P. Lyon and E. Rasmusen, "Buyer-option
  contracts restored: renegotiation, inefficient threats, and the hold-up problem", JLEO 20(1),
  2004. Y.-K. Che and D. B. Hausch, "Cooperative investments and the value of contracting", AER
  89(1), 1999.
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
    check_positive_int,
    implicit_solution,
    is_concrete,
    iterate,
    pytree_dataclass,
    raise_if_failed,
    static_field,
)
from ._holdup import (
    _BISECTIONS,
    HoldUp,
    HoldUpOutcome,
    TradeContract,
    _as_tol,
    _batch_shape,
    _broadcast_map,
    _solve,
    _validate_model,
)

__all__ = ["OptionContract", "option_equilibrium"]


@pytree_dataclass
class OptionContract:
    """An option contract: the holder decides whether trade takes place.

    Attributes:
      holder: which party holds the option (static ``0`` or ``1``; ``1`` with party 1 the
        seller is Nöldeke-Schmidt's seller option to deliver, ``0`` a buyer's option).
      trade_price: ``p_1``, paid by party 0 to party 1 when the option is exercised.
      no_trade_price: ``p_0``, paid by party 0 to party 1 when it is not.

    Example:
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> k = ic.OptionContract(holder=1, trade_price=2.0)
      >>> k.holder, k.trade_price, k.no_trade_price
      (1, 2.0, 0.0)
    """

    holder: int = static_field(default=1)
    trade_price: jax.Array = 0.0
    no_trade_price: jax.Array = 0.0


def _disagreement(i, model, contract, exercise):
    v = model.value(i, model.params)
    o = model.outside(i, model.params)
    p1, p0 = contract.trade_price, contract.no_trade_price
    trade = v + jnp.stack([-p1, p1]) * jnp.ones(())
    none = o + jnp.stack([-p0, p0]) * jnp.ones(())
    return jnp.where(exercise, trade, none), v


def _regime_payoffs(i, model, contract, exercise):
    """``U_k(i)`` for both parties in a regime (``exercise`` a bool)."""
    d, v = _disagreement(i, model, contract, exercise)
    beta0 = model.bargaining_share
    beta = jnp.stack([beta0, 1 - beta0]) * jnp.ones(())
    return d + beta * (jnp.sum(v) - jnp.sum(d)) - model.cost(i, model.params)


def _margin(i, model, contract):
    """The holder's gain from exercising at the disagreement stage, ``m(i)``."""
    h = contract.holder
    yes, _ = _disagreement(i, model, contract, True)
    no, _ = _disagreement(i, model, contract, False)
    return yes[h] - no[h]


def _own_grad(fn, i, k):
    mask = jnp.arange(2) == k
    return jax.grad(lambda x: fn(jnp.where(mask, x, i)))(i[k])


def _bisect(g, lo, hi):
    """Largest ``x`` in ``[lo, hi]`` with ``g > 0`` to its left (``g`` decreasing)."""
    def body(_, lh):
        a, b = lh
        mid = (a + b) / 2
        up = g(mid) > 0
        return jnp.where(up, mid, a), jnp.where(up, b, mid)

    a, b = jax.lax.fori_loop(0, _BISECTIONS, body, (lo, hi))
    return (a + b) / 2


@pytree_dataclass
class _Problem:
    model: HoldUp
    contract: OptionContract


@pytree_dataclass
class _State:
    investment: jax.Array
    regime: jax.Array          # [2] 0 interior/no exercise, 1 interior/exercise, 2 threshold
    change: jax.Array


def _best_response(model, contract, i, k):
    """Party ``k``'s best response to ``i`` and how it is pinned down (regime code)."""
    top = model.max_investment * jnp.ones((), i.dtype)
    zero = jnp.zeros_like(top)
    at = lambda x: i.at[k].set(x)  # noqa: E731
    m = lambda x: _margin(at(x), model, contract)  # noqa: E731
    m0, m1 = m(zero), m(top)
    increasing = m1 >= m0
    # the threshold x_b (m = 0), when m changes sign on [0, top]
    sign_change = (m0 < 0) != (m1 < 0)
    xb = _bisect(lambda x: jnp.where(increasing, -m(x), m(x)), zero, top)
    xb = jnp.where(sign_change, xb, jnp.where(m0 >= 0, zero, top))
    # each regime's interval: exercise where m >= 0
    ex_lo = jnp.where(sign_change, jnp.where(increasing, xb, zero), zero)
    ex_hi = jnp.where(sign_change, jnp.where(increasing, top, xb), top)
    no_lo = jnp.where(sign_change, jnp.where(increasing, zero, xb), zero)
    no_hi = jnp.where(sign_change, jnp.where(increasing, xb, top), top)
    ex_any = sign_change | (m0 >= 0)
    no_any = sign_change | (m0 < 0)

    def argmax(exercise, lo, hi):
        def g(x):
            return _own_grad(lambda j: _regime_payoffs(j, model, contract, exercise)[k], at(x), k)
        x = _bisect(g, lo, hi)
        return x, _regime_payoffs(at(x), model, contract, exercise)[k]

    x_ex, u_ex = argmax(True, ex_lo, ex_hi)
    x_no, u_no = argmax(False, no_lo, no_hi)
    big = jnp.asarray(jnp.finfo(i.dtype).max / 16, i.dtype)
    u_ex = jnp.where(ex_any, u_ex, -big)
    u_no = jnp.where(no_any, u_no, -big)
    use_ex = u_ex >= u_no
    x = jnp.where(use_ex, x_ex, x_no)
    tiny = 4 * top * 2.0 ** -_BISECTIONS
    on_threshold = sign_change & (jnp.abs(x - xb) <= tiny) & (x > tiny) & (x < top - tiny)
    regime = jnp.where(on_threshold, 2, jnp.where(use_ex, 1, 0))
    return x, regime


@pytree_dataclass
class OptionBestResponse(IterativeSolver):
    """Jacobi best responses under an option contract (regime by regime, module docstring)."""

    def init(self, problem, key):
        dt = jnp.result_type(problem.model.max_investment, float)
        return _State(jnp.zeros(2, dt), jnp.zeros(2, jnp.int32), jnp.ones((), dt))

    def step(self, problem, state):
        i = state.investment
        brs = [_best_response(problem.model, problem.contract, i, k) for k in (0, 1)]
        new = jnp.stack([b[0] for b in brs])
        regime = jnp.stack([b[1] for b in brs]).astype(jnp.int32)
        inv = jnp.asarray(problem.model.investors)
        new = jnp.where(inv, new, 0)
        return _State(new, regime, jnp.max(jnp.abs(new - i)) / jnp.maximum(
            problem.model.max_investment, 1))

    def terminate(self, problem, state, tol):
        return state.change <= tol, jnp.int32(Result.CONVERGED), state.change


def _option_residual(i, args):
    model, contract, regime, tiny = args
    out = []
    for k in (0, 1):
        g = _own_grad(lambda j, k=k: _regime_payoffs(j, model, contract, regime[k] == 1)[k], i, k)
        interior = jnp.asarray(model.investors[k]) & (i[k] > tiny)
        r = jnp.where(regime[k] == 2, _margin(i, model, contract), jnp.where(interior, g, i[k]))
        out.append(jnp.where(jnp.asarray(model.investors[k]), r, i[k]))
    return jnp.stack(out)


def _option_outcome(model, contract, tol, max_steps):
    problem = _Problem(model, contract)
    it = iterate(OptionBestResponse(), problem, tol, jax.random.key(0), max_steps=max_steps)
    i, regime = it.state.investment, it.state.regime
    tiny = 4 * model.max_investment * 2.0 ** -_BISECTIONS + 1e3 * jnp.finfo(i.dtype).tiny
    exercise = _margin(i, model, contract) >= 0
    at_top = jnp.any(jnp.asarray(model.investors) & (i >= model.max_investment * (1 - 1e-9)))
    i = implicit_solution(_option_residual, i, (model, contract, regime, tiny))
    fb, foc_fb, code_fb = _solve(model, TradeContract(), "planner", tol, max_steps)
    v, c = model.value(i, model.params), model.cost(i, model.params)
    surplus = jnp.sum(v) - jnp.sum(c)
    fb_surplus = jnp.sum(model.value(fb, model.params)) - jnp.sum(model.cost(fb, model.params))
    code = jnp.where(it.result != Result.CONVERGED, it.result,
                     jnp.where(at_top, Result.FAILED, code_fb))
    # the certificate: no investor gains by a unilateral deviation to its best response
    gain = []
    for k in (0, 1):
        x, _ = _best_response(model, contract, jax.lax.stop_gradient(i), k)
        j = i.at[k].set(x)
        here = _regime_payoffs(i, model, contract, exercise)[k]
        there = _regime_payoffs(j, model, contract, _margin(j, model, contract) >= 0)[k]
        gain.append(jnp.where(jnp.asarray(model.investors[k]), jnp.maximum(there - here, 0), 0))
    cert = jnp.maximum(jnp.max(jnp.stack(gain)), foc_fb)
    return HoldUpOutcome(investment=i, surplus=surplus,
                         agent_values=_regime_payoffs(i, model, contract, exercise),
                         first_best_investment=fb, first_best_surplus=fb_surplus,
                         loss=fb_surplus - surplus, certificate=cert,
                         result=code.astype(jnp.int32))


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _option_batch(model, contract, tol, *, max_steps):
    return _broadcast_map(lambda m, c: _option_outcome(m, c, tol, max_steps), model, contract)


def _check_margin_monotone(model, contract, points: int = 33):
    """On a grid of each investor's investment, the holder's margin must be monotone."""
    leaves = jax.tree_util.tree_leaves((model.params, model.max_investment, contract))
    if not is_concrete(leaves) or _batch_shape((model.params, model.max_investment,
                                                contract)):
        return
    top = float(model.max_investment)
    for k in (0, 1):
        if not model.investors[k]:
            continue
        xs = np.zeros((points, 2))
        xs[:, k] = np.linspace(0.0, top, points)
        m = np.asarray(jax.vmap(lambda x: _margin(x, model, contract))(jnp.asarray(xs)))
        d = np.diff(m)
        span = max(np.max(np.abs(m)), 1.0) * 1e-9
        if np.any(d > span) and np.any(d < -span):
            raise ValueError(f"contract: the holder's gain from exercising must be monotone in "
                             f"investor {k}'s investment on [0, max_investment]")


def option_equilibrium(model: HoldUp, contract: OptionContract, *, tol=None,
                       max_steps: int = 200, throw: bool = True) -> HoldUpOutcome:
    r"""Equilibrium investments and surplus under an option contract (Nöldeke-Schmidt 1995).

    Best responses regime by regime (module docstring), iterated on the kernel loop; the first
    best as in :func:`holdup_equilibrium`. Numeric leaves of the model and of the contract
    broadcast to a batch; gradients by implicit differentiation of each investor's optimality
    condition (``m(i) = 0`` when the investment sits on the exercise threshold). The
    ``certificate`` is the largest gain of an investor from a unilateral deviation to its
    computed best response (and the first best's first-order residual).

    Args:
      model: a :class:`HoldUp` (each regime's payoff must be concave in an investor's own
        investment; the holder's gain from exercising monotone in it).
      contract: an :class:`OptionContract`.
      tol: tolerance on the investments' change (relative to ``max_investment``).
      max_steps: the best-response budget (static).
      throw: raise if a member is not certified.

    Returns:
      A :class:`HoldUpOutcome`.

    Raises:
      TypeError: if ``model`` or ``contract`` has the wrong type or ``throw`` is not a bool.
      ValueError: if the model fails the checks of :func:`holdup_equilibrium`, ``holder`` is not
        0 or 1, a price is not finite, or the holder's gain is not monotone on the grid.
      NotConvergedError: with ``throw=True``, if a member is not certified.

    Example:
      (a cooperative investment by party 0 raising party 1's value; party 1's option to buy at a strike 2 above the no-trade payment restores the first best ``i = 1``)
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def coop(i, p): return jnp.stack([0 * i[0], 2 * jnp.sqrt(i[0])])
      >>> def c(i, p): return jnp.stack([i[0], 0 * i[0]])
      >>> m = ic.HoldUp(coop, c)
      >>> k = ic.OptionContract(holder=1, trade_price=-jnp.array([0.5, 1.0, 2.0]))
      >>> ic.option_equilibrium(m, k).investment[:, 0].round(6).tolist()
      [0.0625, 0.25, 1.0]
    """
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    check_positive_int(max_steps, "max_steps")
    _validate_model(model)
    if not isinstance(contract, OptionContract):
        raise TypeError(f"contract must be an OptionContract, got {type(contract).__name__}")
    if isinstance(contract.holder, bool) or contract.holder not in (0, 1):
        raise ValueError(f"holder must be 0 or 1, got {contract.holder!r}")
    for name in ("trade_price", "no_trade_price"):
        x = as_float_array(getattr(contract, name), name)
        if is_concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
            raise ValueError(f"{name} must be finite, got {np.asarray(x)}")
    _check_margin_monotone(model, contract)
    tol = _as_tol(tol)
    out = _option_batch(model, contract, tol, max_steps=max_steps)
    if throw:
        raise_if_failed(out.result, "option_equilibrium")
    return out
