r"""The hold-up problem: relationship-specific investments against ex-post bargaining.

Two parties (``k = 0, 1``) choose investments ``i = (i_0, i_1) >= 0`` at costs ``c_k(i)``;
then they trade. Trade is efficient and creates values ``v(i) = (v_0(i), v_1(i))`` (party
``k``'s value of trade; total surplus ``S(i) = v_0(i) + v_1(i)``). An investment is *selfish*
when it raises the investor's own value and *cooperative* when it raises the other party's (Che
and Hausch 1999). Investments are not contractible; a contract ``(q, p)`` specifies trade with
probability ``q`` (specific performance: ``q = 1``; the null contract: ``q = 0``) at price ``p``
(paid by party 0 to party 1). Ex post the parties renegotiate to efficient trade by generalised
Nash bargaining from the contract's disagreement point

.. math::
    d_k(i) = q\,(v_k(i) + t_k) + (1 - q)\, o_k(i), \qquad t_0 = -p,\ t_1 = p,

(``o_k`` the outside options, possibly depending on investments and, in
:mod:`._property_rights`, on asset ownership), with party ``k``'s bargaining share ``beta_k``
(``beta_0 + beta_1 = 1``), so that

.. math::
    U_k(i) = d_k(i) + \beta_k\,(S(i) - d_0(i) - d_1(i)) - c_k(i).

Investments form a Nash equilibrium of this game: ``partial U_k / partial i_k = 0`` (or
``i_k = 0`` when the marginal return is negative there). The first best maximises
``S(i) - c_0(i) - c_1(i)``. With one selfish investor, ``v_0 = 2 sqrt(i)`` and ``c_0 = i``: the
first best is ``i* = 1`` (surplus 1); the null contract gives ``i = beta^2`` (``1/4`` and
surplus ``3/4`` at ``beta = 1/2``); specific performance restores ``i = 1``. With a cooperative
investment (``v_1 = 2 sqrt(i)``) specific performance gives ``i = 0`` and no contract beats the
null contract (Che and Hausch 1999). Letting the contract reassign bargaining power
(renegotiation design, Aghion, Dewatripont and Rey 1994) gives the investor ``beta = 1`` and
restores the first best for one investor.

Investments are computed by best-response (Jacobi) iteration on the kernel loop, each best
response by bisection on the decreasing marginal return (concave payoffs); the certificate is the
largest first-order-condition residual. Gradients with respect to every numeric leaf (bargaining
shares, contract terms, the model's ``params``) come from the implicit function theorem on the
first-order conditions (:func:`socialign.kernel.implicit_solution`).

References:
  O. E. Williamson, *Markets and Hierarchies*, 1975; B. Klein, R. Crawford and A. Alchian,
  "Vertical integration, appropriable rents, and the competitive contracting process", J. Law
  Econ. 1978; Y.-K. Che and D. B. Hausch, "Cooperative investments and the value of
  contracting", AER 89(1), 1999; P. Aghion, M. Dewatripont and P. Rey, "Renegotiation design
  with unverifiable information", Econometrica 62(2), 1994; G. Nöldeke and K. M. Schmidt,
  "Option contracts and renegotiation: a solution to the hold-up problem", RAND J. Econ. 1995.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ...kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    default_tol,
    implicit_solution,
    is_concrete,
    iterate,
    pytree_dataclass,
    raise_if_failed,
    static_field,
)

__all__ = [
    "HoldUp",
    "HoldUpOutcome",
    "TradeContract",
    "best_trade_contract",
    "first_best",
    "holdup_equilibrium",
]

_BISECTIONS = 80


def _zero_outside(i, params):
    return jnp.zeros(2, jnp.result_type(i))


@pytree_dataclass
class HoldUp:
    """A two-party hold-up model: values, costs and outside options as JAX functions.

    Attributes:
      value: ``value(i, params) -> [2]`` each party's value of trade at investments ``i [2]``
        (static; a module-level function so that it is hashed once). ``S = sum(value)`` must be
        increasing and concave in each investor's investment.
      cost: ``cost(i, params) -> [2]`` each party's investment cost, increasing and convex in
        its own investment (static).
      params: any pytree of numbers the functions read (leaves: batch, ``vmap``, differentiate).
      bargaining_share: ``beta_0`` in ``[0, 1]``, party 0's share of the renegotiation surplus
        (party 1 gets ``1 - beta_0``).
      outside: ``outside(i, params) -> [2]`` disagreement payoffs without trade (static;
        default zero).
      investors: which parties invest (static pair of bools; a non-investor's ``i_k`` is 0).
      max_investment: the upper end of the search interval for each investment.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return jnp.stack([2 * jnp.sqrt(i[0]), 0 * i[0]])   # selfish
      >>> def c(i, p): return jnp.stack([i[0], 0 * i[0]])
      >>> m = ic.HoldUp(v, c)
      >>> round(float(ic.holdup_equilibrium(m).investment[0]), 6)
      0.25
    """

    value: Callable = static_field()
    cost: Callable = static_field()
    params: object = None
    bargaining_share: jax.Array = 0.5
    outside: Callable = static_field(default=_zero_outside)
    investors: tuple = static_field(default=(True, False))
    max_investment: jax.Array = 10.0


@pytree_dataclass
class TradeContract:
    """A contract: trade with probability ``q`` at price ``p``; optionally a bargaining share.

    Attributes:
      trade_probability: ``q`` in ``[0, 1]`` (``0``: the null contract; ``1``: specific
        performance / a fixed-price contract).
      price: ``p``, paid by party 0 to party 1 on contracted trade (moves payoffs, not
        investments).
      bargaining_share: ``None`` (keep the model's) or party 0's share of the renegotiation
        surplus set by the contract (renegotiation design, Aghion-Dewatripont-Rey 1994).

    Example:
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> ic.TradeContract(1.0, 2.0).trade_probability
      1.0
    """

    trade_probability: jax.Array = 0.0
    price: jax.Array = 0.0
    bargaining_share: jax.Array | None = None


@pytree_dataclass
class HoldUpOutcome:
    """Equilibrium investments and payoffs of a hold-up model under a contract.

    Attributes:
      investment: ``[*batch, 2]`` equilibrium investments.
      surplus: ``[*batch]`` total surplus ``S(i) - c_0(i) - c_1(i)``.
      agent_values: ``[*batch, 2]`` each party's payoff ``U_k(i)`` (net of its cost).
      first_best_investment: ``[*batch, 2]`` the surplus-maximising investments.
      first_best_surplus: ``[*batch]`` the first-best surplus.
      loss: ``[*batch]`` ``first_best_surplus - surplus`` (``>= 0``).
      certificate: ``[*batch]`` the largest first-order-condition residual (value units) of
        the equilibrium and the first best.
      result: ``[*batch]`` ``kernel.Result`` code.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return jnp.stack([2 * jnp.sqrt(i[0]), 0 * i[0]])
      >>> def c(i, p): return jnp.stack([i[0], 0 * i[0]])
      >>> out = ic.holdup_equilibrium(ic.HoldUp(v, c))
      >>> round(float(out.surplus), 6), round(float(out.loss), 6)
      (0.75, 0.25)
    """

    investment: jax.Array
    surplus: jax.Array
    agent_values: jax.Array
    first_best_investment: jax.Array
    first_best_surplus: jax.Array
    loss: jax.Array
    certificate: jax.Array
    result: jax.Array


# --------------------------------------------------------------------------------------------
# Payoffs and first-order conditions
# --------------------------------------------------------------------------------------------
def _terms(model, contract):
    beta0 = model.bargaining_share if contract.bargaining_share is None else \
        contract.bargaining_share
    beta = jnp.stack([beta0, 1 - beta0]) * jnp.ones(())
    return beta, contract.trade_probability, contract.price


def _payoffs(i, model, contract, weights):
    """``U_k(i)`` for each party; ``weights = None`` for the game, ``"planner"`` for the FB."""
    v = model.value(i, model.params)
    c = model.cost(i, model.params)
    if weights == "planner":
        return jnp.broadcast_to(jnp.sum(v) - jnp.sum(c), (2,))
    beta, q, p = _terms(model, contract)
    o = model.outside(i, model.params)
    t = jnp.stack([-p, p]) * jnp.ones(())
    d = q * (v + t) + (1 - q) * o
    return d + beta * (jnp.sum(v) - jnp.sum(d)) - c


def _marginal(i, model, contract, mode):
    """``partial U_k / partial i_k`` for both parties: ``[2]``."""
    # reverse mode, one coordinate at a time: a forward tangent through sqrt(0) of the other
    # party's investment would be 0 * inf = NaN
    def own(k):
        mask = jnp.arange(2) == k
        return jax.grad(lambda x: _payoffs(jnp.where(mask, x, i), model, contract, mode)[k])(
            i[k])

    return jnp.stack([own(0), own(1)])


def _foc(i, args, mode):
    model, contract, tiny = args
    g = _marginal(i, model, contract, mode)
    interior = jnp.asarray(model.investors) & (i > tiny)
    return jnp.where(interior, g, i)


def _residual_game(i, args):
    return _foc(i, args, None)


def _residual_planner(i, args):
    return _foc(i, args, "planner")


@pytree_dataclass
class _Problem:
    model: HoldUp
    contract: TradeContract
    mode: str | None = static_field(default=None)


@pytree_dataclass
class _State:
    investment: jax.Array
    change: jax.Array


@pytree_dataclass
class BestResponseBisection(IterativeSolver):
    """Jacobi best responses, each by bisection on the decreasing marginal return."""

    def _best_response(self, problem, i, k):
        hi0 = problem.model.max_investment * jnp.ones((), i.dtype)

        def g(x):
            return _marginal(i.at[k].set(x), problem.model, problem.contract, problem.mode)[k]

        def body(_, lh):
            lo, hi = lh
            mid = (lo + hi) / 2
            up = g(mid) > 0
            return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

        lo, hi = jax.lax.fori_loop(0, _BISECTIONS, body, (jnp.zeros_like(hi0), hi0))
        return (lo + hi) / 2

    def init(self, problem, key):
        dt = jnp.result_type(problem.model.max_investment, float)
        return _State(jnp.zeros(2, dt), jnp.ones((), dt))

    def step(self, problem, state):
        i = state.investment
        new = jnp.stack([self._best_response(problem, i, k) for k in (0, 1)])
        new = jnp.where(jnp.asarray(problem.model.investors), new, 0)
        return _State(new, jnp.max(jnp.abs(new - i)) / jnp.maximum(
            problem.model.max_investment, 1))

    def terminate(self, problem, state, tol):
        return state.change <= tol, jnp.int32(Result.CONVERGED), state.change


def _solve(model, contract, mode, tol, max_steps):
    problem = _Problem(model, contract, mode)
    it = iterate(BestResponseBisection(), problem, tol, jax.random.key(0), max_steps=max_steps)
    i = it.state.investment
    dt = i.dtype
    tiny = 4 * model.max_investment * 2.0 ** -_BISECTIONS + 1e3 * jnp.finfo(dt).tiny
    at_top = jnp.any(jnp.asarray(model.investors) &
                     (i >= model.max_investment * (1 - 1e-9)))
    g = _marginal(i, model, contract, mode)
    foc = jnp.max(jnp.where(jnp.asarray(model.investors) & (i > tiny), jnp.abs(g), 0))
    residual = _residual_planner if mode == "planner" else _residual_game
    i = implicit_solution(residual, i, (model, contract, tiny))
    code = jnp.where(it.result != Result.CONVERGED, it.result,
                     jnp.where(at_top, Result.FAILED, Result.CONVERGED))
    return i, foc, code


def _validate_model(model, name="model"):
    if not isinstance(model, HoldUp):
        raise TypeError(f"{name} must be a HoldUp, got {type(model).__name__}")
    inv = model.investors
    if not (isinstance(inv, tuple) and len(inv) == 2 and all(isinstance(b, bool) for b in inv)
            and any(inv)):
        raise ValueError(f"investors must be a pair of bools with at least one True, got {inv!r}")
    beta = as_float_array(model.bargaining_share, "bargaining_share")
    check_finite(beta, "bargaining_share")
    if is_concrete(beta) and not bool(np.all((np.asarray(beta) >= 0) & (np.asarray(beta) <= 1))):
        raise ValueError(f"bargaining_share must lie in [0, 1], got {np.asarray(beta)}")
    top = as_float_array(model.max_investment, "max_investment")
    if is_concrete(top) and not bool(np.all(np.asarray(top) > 0)):
        raise ValueError(f"max_investment must be > 0, got {np.asarray(top)}")
    leaves = jax.tree_util.tree_leaves((model.params, top))
    if is_concrete(leaves):
        batch = _batch_shape((model.params, top))
        n = int(np.prod(batch)) if batch else 1
        flat = [jnp.asarray(np.broadcast_to(np.asarray(x), batch).reshape(n))
                for x in jax.tree_util.tree_leaves(model.params)]
        params = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(model.params), flat)
        tops = np.broadcast_to(np.asarray(top, float), batch).reshape(n)
        _check_shapes(model, params, tops, batched=bool(batch))


#: grid points of the shape check of value and cost (every member of a batch)
_SHAPE_POINTS = 257


def _check_shapes(model, params, tops, *, batched, points: int = _SHAPE_POINTS):
    """On a grid of each investor's investment in ``[0, max_investment]``, every member of the
    batch at once (``params`` leaves ``[n]``, ``tops`` ``[n]``): the total value of trade S
    increasing and concave, the investor's cost increasing and convex."""
    n = tops.shape[0]
    value = jax.vmap(jax.vmap(model.value, in_axes=(0, None)), in_axes=(0, 0))
    cost = jax.vmap(jax.vmap(model.cost, in_axes=(0, None)), in_axes=(0, 0))
    outside = jax.vmap(jax.vmap(model.outside, in_axes=(0, None)), in_axes=(0, 0))
    for k in (0, 1):
        if not model.investors[k]:
            continue
        xs = np.zeros((n, points, 2))
        xs[:, :, k] = tops[:, None] * np.linspace(0.0, 1.0, points)[None, :]
        xs = jnp.asarray(xs)
        where = lambda bad: (f" (batch member {int(np.argmax(bad))})"  # noqa: E731
                             if batched else "")
        V, Cs, O = value(xs, params), cost(xs, params), outside(xs, params)
        for name, x in (("value", V), ("cost", Cs), ("outside", O)):
            if x.shape != (n, points, 2):
                raise ValueError(f"{name}(i, params) must return the 2 parties' numbers, shape "
                                 f"(2,); got shape {tuple(x.shape[2:])}")
        S = np.asarray(jnp.sum(V, axis=-1))                            # [n, points]
        C = np.asarray(Cs[..., k])                                     # [n, points]
        Osum = np.asarray(jnp.sum(O, axis=-1))                         # [n, points]
        fin = np.all(np.isfinite(S), axis=1) & np.all(np.isfinite(C), axis=1)
        if not np.all(fin):
            raise ValueError(f"value and cost must be finite on [0, max_investment] "
                             f"(investor {k}){where(~fin)}")
        fin = np.all(np.isfinite(Osum), axis=1)
        if not np.all(fin):
            raise ValueError(f"outside: the outside options must be finite on "
                             f"[0, max_investment] (investor {k}){where(~fin)}")
        span = np.maximum(np.maximum(np.max(np.abs(S), axis=1), np.max(np.abs(C), axis=1)),
                          1.0)[:, None] * 1e-9
        bad = np.any(np.diff(S, axis=1) < -span, axis=1)
        if np.any(bad):
            raise ValueError(f"value: the total value of trade must be increasing in investor "
                             f"{k}'s investment on [0, max_investment]{where(bad)}")
        bad = np.any(np.diff(S, 2, axis=1) > span, axis=1)
        if np.any(bad):
            raise ValueError(f"value: the total value of trade must be concave in investor {k}'s "
                             f"investment on [0, max_investment]{where(bad)}")
        bad = np.any(np.diff(C, axis=1) < -span, axis=1) | \
            np.any(np.diff(C, 2, axis=1) < -span, axis=1)
        if np.any(bad):
            raise ValueError(f"cost: investor {k}'s cost must be increasing and convex on "
                             f"[0, max_investment]{where(bad)}")
        # trade must be efficient: the outside options never add up to more than its value
        bad = np.any(Osum > S + span, axis=1)
        if np.any(bad):
            raise ValueError(f"outside: the outside options must sum to at most the total "
                             f"value of trade on [0, max_investment] (investor {k}){where(bad)}")


def _as_tol(tol):
    """The investments' tolerance: ``default_tol`` when None, else a finite number > 0."""
    if tol is None:
        return jnp.asarray(default_tol(jnp.result_type(float)))
    check_positive_scalar(tol, "tol")
    return jnp.asarray(tol)


def _validate_contract(contract):
    if contract is None:
        return TradeContract()
    if not isinstance(contract, TradeContract):
        raise TypeError(f"contract must be a TradeContract, got {type(contract).__name__}")
    q = as_float_array(contract.trade_probability, "trade_probability")
    if is_concrete(q) and not bool(np.all((np.asarray(q) >= 0) & (np.asarray(q) <= 1))):
        raise ValueError(f"trade_probability must lie in [0, 1], got {np.asarray(q)}")
    check_finite(as_float_array(contract.price, "price"), "price")
    if contract.bargaining_share is not None:
        b = as_float_array(contract.bargaining_share, "bargaining_share")
        if is_concrete(b) and not bool(np.all((np.asarray(b) >= 0) & (np.asarray(b) <= 1))):
            raise ValueError(f"bargaining_share must lie in [0, 1], got {np.asarray(b)}")
    return contract


def _outcome(model, contract, tol, max_steps):
    i, foc, code = _solve(model, contract, None, tol, max_steps)
    fb, foc_fb, code_fb = _solve(model, contract, "planner", tol, max_steps)
    v = model.value(i, model.params)
    c = model.cost(i, model.params)
    surplus = jnp.sum(v) - jnp.sum(c)
    fb_surplus = jnp.sum(model.value(fb, model.params)) - jnp.sum(model.cost(fb, model.params))
    cert = jnp.maximum(foc, foc_fb)
    scale = jnp.maximum(jnp.max(jnp.abs(v)) + jnp.max(jnp.abs(c)), 1)
    code = jnp.where(code != Result.CONVERGED, code, code_fb)
    code = jnp.where((code == Result.CONVERGED) & (cert > tol * scale * 1e3),
                     Result.CERTIFICATE_ABOVE_TOLERANCE, code)
    # shares and probabilities traced under jit (concrete ones are refused at the boundary):
    # outside [0, 1] or not finite, the member is FAILED
    unit = [model.bargaining_share, contract.trade_probability]
    if contract.bargaining_share is not None:
        unit.append(contract.bargaining_share)
    valid = jnp.all(jnp.stack([(x >= 0) & (x <= 1) for x in map(jnp.asarray, unit)]))
    valid = valid & jnp.isfinite(jnp.asarray(contract.price))
    code = jnp.where(valid, code, Result.FAILED)
    return HoldUpOutcome(investment=i, surplus=surplus,
                         agent_values=_payoffs(i, model, contract, None),
                         first_best_investment=fb, first_best_surplus=fb_surplus,
                         loss=fb_surplus - surplus, certificate=cert,
                         result=code.astype(jnp.int32))


def _batch_shape(tree):
    shapes = [jnp.shape(x) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.broadcast_shapes(*shapes) if shapes else ()


def _broadcast_map(fn, *trees):
    """Apply ``fn`` to every member of the broadcast batch of the numeric leaves of ``trees``."""
    batch = tuple(_batch_shape(trees))
    if not batch:
        return fn(*trees)
    leaves, treedef = jax.tree_util.tree_flatten(trees)
    leaves = [jnp.broadcast_to(jnp.asarray(x), batch).reshape(-1) for x in leaves]
    out = jax.vmap(lambda *ls: fn(*jax.tree_util.tree_unflatten(treedef, ls)))(*leaves)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch, *x.shape[1:]), out)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _outcome_batch(model, contract, tol, *, max_steps):
    return _broadcast_map(lambda m, c: _outcome(m, c, tol, max_steps), model, contract)


def holdup_equilibrium(model: HoldUp, contract: TradeContract | None = None, *, tol=None,
                       max_steps: int = 200, throw: bool = True) -> HoldUpOutcome:
    r"""Equilibrium investments, surplus and the loss against the first best under a contract.

    Solves ``partial U_k / partial i_k = 0`` for every investor (module docstring), by Jacobi
    best responses (each by bisection), and the planner's problem ``max S - c_0 - c_1`` the same
    way. Scalar leaves of ``model.params``, ``bargaining_share``, ``max_investment`` and the
    contract broadcast to a batch (``vmap`` under the hood); every output is differentiable with
    respect to them (implicit function theorem on the first-order conditions).

    Args:
      model: a :class:`HoldUp` (its ``params`` leaves must be scalars or share a batch shape).
      contract: a :class:`TradeContract` (default: the null contract).
      tol: tolerance on the investments' change (relative to ``max_investment``).
      max_steps: the best-response budget (static).
      throw: raise if a member is not certified.

    Returns:
      A :class:`HoldUpOutcome`.

    Raises:
      TypeError: if ``model`` or ``contract`` has the wrong type or ``throw`` is not a bool.
      ValueError: if the value is not increasing and concave, a cost not increasing and convex
        (checked on a 257-point grid of ``[0, max_investment]`` for every member of a
        concrete batch; a narrower bump passes, and traced inputs are not checked), or a share
        or probability is outside ``[0, 1]``.
      NotConvergedError: with ``throw=True``, if a member is not certified (``FAILED`` when an
        investment reaches ``max_investment``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, beta): return jnp.stack([2 * jnp.sqrt(i[0]), 0 * i[0]])
      >>> def c(i, beta): return jnp.stack([i[0], 0 * i[0]])
      >>> m = ic.HoldUp(v, c, bargaining_share=jnp.array([0.25, 0.5, 1.0]))
      >>> ic.holdup_equilibrium(m).investment[:, 0].round(6).tolist()      # i = beta^2
      [0.0625, 0.25, 1.0]
      >>> fixed = ic.TradeContract(trade_probability=1.0, price=1.0)       # specific performance
      >>> ic.holdup_equilibrium(ic.HoldUp(v, c), fixed).investment[0].round(6).item()
      1.0
      >>> f = lambda b: ic.holdup_equilibrium(ic.HoldUp(v, c, bargaining_share=b)).investment[0]
      >>> round(float(jax.grad(f)(0.5)), 6)                                # d beta^2 / d beta
      1.0
    """
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    check_positive_int(max_steps, "max_steps")
    _validate_model(model)
    contract = _validate_contract(contract)
    tol = _as_tol(tol)
    out = _outcome_batch(model, contract, tol, max_steps=max_steps)
    if throw:
        raise_if_failed(out.result, "holdup_equilibrium")
    return out


def first_best(model: HoldUp, *, tol=None, max_steps: int = 200,
               throw: bool = True) -> HoldUpOutcome:
    """The first best: investments maximising ``S(i) - c_0(i) - c_1(i)`` (a :class:`HoldUpOutcome`).

    The same outcome as :func:`holdup_equilibrium` under a contract that makes each investor the
    residual claimant; here every field describes the planner's solution (``loss = 0``).

    Args:
      model: a :class:`HoldUp`.
      tol, max_steps: as in :func:`holdup_equilibrium`.
      throw: raise :class:`socialign.kernel.NotConvergedError` if a member is not certified.

    Raises:
      TypeError: if ``model`` is not a :class:`HoldUp` or ``throw`` is not a bool.
      ValueError: if the value or cost fails its shape check (see :func:`holdup_equilibrium`),
        ``tol`` is not a finite number > 0 or ``max_steps`` not a positive int.
      NotConvergedError: with ``throw=True``, if a member is not certified.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def v(i, p): return jnp.stack([2 * jnp.sqrt(i[0]), 0 * i[0]])
      >>> def c(i, p): return jnp.stack([i[0], 0 * i[0]])
      >>> round(float(ic.first_best(ic.HoldUp(v, c)).surplus), 6)
      1.0
    """
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    check_positive_int(max_steps, "max_steps")
    _validate_model(model)
    tol = _as_tol(tol)
    out = _outcome_batch(model, TradeContract(), tol, max_steps=max_steps)
    out = HoldUpOutcome(out.first_best_investment, out.first_best_surplus,
                        jnp.stack([out.first_best_surplus, 0 * out.first_best_surplus], -1),
                        out.first_best_investment, out.first_best_surplus,
                        0 * out.loss, out.certificate, out.result)
    if throw:
        raise_if_failed(out.result, "first_best")
    return out


def best_trade_contract(model: HoldUp, *, num_points: int = 11,
                        renegotiation_design: bool = False, tol=None, max_steps: int = 200):
    """The surplus-maximising contract on a grid: trade probability (and bargaining share).

    Evaluates :func:`holdup_equilibrium` on ``num_points`` trade probabilities in ``[0, 1]``
    (and, with ``renegotiation_design=True``, as many bargaining shares in ``[0, 1]``: the
    contract may reassign bargaining power, Aghion-Dewatripont-Rey 1994) as one batch, and
    returns the best. With a selfish investment the best is specific performance (``q = 1``);
    with a cooperative one it is the null contract (``q = 0``, Che-Hausch 1999); with
    renegotiation design the investor gets all the bargaining power and the first best.

    Returns:
      ``(contract, outcome)``: the best :class:`TradeContract` and its :class:`HoldUpOutcome`.

    Raises:
      TypeError: if ``model`` is not a :class:`HoldUp`.
      ValueError: if ``num_points < 2`` or the model fails its checks.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.mechanisms import incomplete_contracts as ic
      >>> def coop(i, p): return jnp.stack([0 * i[0], 2 * jnp.sqrt(i[0])])  # helps party 1
      >>> def c(i, p): return jnp.stack([i[0], 0 * i[0]])
      >>> k, out = ic.best_trade_contract(ic.HoldUp(coop, c))
      >>> float(k.trade_probability), round(float(out.surplus), 6)
      (0.0, 0.75)
    """
    _validate_model(model)
    num_points = check_positive_int(num_points, "num_points")
    if num_points < 2:
        raise ValueError(f"num_points must be at least 2, got {num_points}")
    q = jnp.linspace(0.0, 1.0, num_points)
    if renegotiation_design:
        qq, bb = jnp.meshgrid(q, q, indexing="ij")
        grid = TradeContract(qq.reshape(-1), jnp.zeros(qq.size), bb.reshape(-1))
    else:
        grid = TradeContract(q, jnp.zeros_like(q), None)
    out = holdup_equilibrium(model, grid, tol=tol, max_steps=max_steps, throw=False)
    ok = out.result == Result.CONVERGED
    best = int(jnp.argmax(jnp.where(ok, out.surplus, -jnp.inf)))
    pick = jax.tree_util.tree_map(lambda x: x[best], out)
    k = jax.tree_util.tree_map(lambda x: x[best], grid)
    return k, pick
