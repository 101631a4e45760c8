r"""The LEN model of Holmstrom and Milgrom: Linear contracts, Exponential utility, Normal noise.

Output ``x = e + eps`` with ``eps ~ N(0, s2)``; the agent has CARA risk aversion ``r`` and effort
cost ``c e^2 / 2``; the principal is risk neutral and offers ``w = a + b x``. The agent's
certainty equivalent is ``a + b e - c e^2/2 - r b^2 s2 / 2`` so it chooses ``e = b / c``; with
participation binding (certainty equivalent ``= R``) the principal earns
``b/c - b^2/(2c) - r b^2 s2 / 2 - R``, maximised by

.. math::
    b^* = \frac{1}{1 + r c s^2}, \qquad e^* = b^*/c, \qquad
    \Pi^* = \frac{1}{2c(1 + r c s^2)} - R \quad (\text{first best } 1/(2c) - R).

:func:`len_closed_form` evaluates these formulas; :func:`len_optimal_contract` solves the same
problem numerically without them -- the agent's expected CARA utility is integrated by
Gauss-Hermite quadrature, its effort found by Newton's method on the first-order condition, the
intercept by making participation bind, and the slope by Newton's method on the principal's
profit found by bisection on its derivative (it is concave in the slope), with the derivative
at the optimum as the certificate -- so tests can check the two agree.

Both are pure array code on pytrees (:class:`LENModel` fields are leaves with any common batch
shape): they run inside ``jax.jit`` and under ``jax.vmap``, and the principal's value is
differentiable -- the closed form directly, the numeric one by the envelope theorem in the
slope (``d profit / d slope = 0`` at the optimum) and the implicit function theorem for the
agent's effort (its first-order condition), never through the loops. The loops are fixed-length
on purpose: bisection halves a bracket of width 1, so 60 halvings reach below float64 resolution
whatever the data (a convergence test could only stop it a few steps early), and the effort's
first-order condition is solved by 8 Newton steps from 0 (quadratic convergence on a smooth
concave problem). The designers :class:`LENClosedForm` and :class:`LENNumeric` put both on the
one verb :func:`mechanisms.design`.

Reference: B. Holmstrom and P. Milgrom, "Aggregation and linearity in the provision of
intertemporal incentives", Econometrica 1987.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    Result,
    as_float_array,
    check_finite,
    implicit_solution,
    is_concrete,
    pytree_dataclass,
)
from ._design import Design, Designer

__all__ = ["LENClosedForm", "LENContract", "LENModel", "LENNumeric", "len_closed_form",
           "len_optimal_contract"]


@pytree_dataclass(init=False)
class LENModel:
    """Parameters of the LEN model (a pytree; each field carries the same batch axes).

    Attributes:
      risk_aversion: ``[*batch]`` CARA coefficient ``r >= 0`` (per payoff unit).
      effort_cost: ``[*batch]`` ``c > 0`` in the cost ``c e^2 / 2``.
      noise_variance: ``[*batch]`` ``s2 >= 0`` (squared output units).
      reservation_utility: ``[*batch]`` the agent's outside certainty equivalent ``R``.

    Raises:
      ValueError: on negative ``risk_aversion``/``noise_variance``, non-positive
        ``effort_cost``, non-finite numbers or shapes that do not broadcast.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign import mechanisms
      >>> m = mechanisms.LENModel(1.0, 1.0, 1.0)
      >>> float(mechanisms.len_closed_form(m).slope)
      0.5
    """

    risk_aversion: jax.Array
    effort_cost: jax.Array
    noise_variance: jax.Array
    reservation_utility: jax.Array

    def __init__(self, risk_aversion, effort_cost, noise_variance, reservation_utility=0.0):
        vals = {}
        for name, v in (("risk_aversion", risk_aversion), ("effort_cost", effort_cost),
                        ("noise_variance", noise_variance),
                        ("reservation_utility", reservation_utility)):
            a = as_float_array(v, name)
            check_finite(a, name)
            vals[name] = a
        for name in ("risk_aversion", "noise_variance"):
            if is_concrete(vals[name]) and bool(np.any(np.asarray(vals[name]) < 0)):
                raise ValueError(f"{name} must be >= 0")
        if is_concrete(vals["effort_cost"]) and bool(np.any(np.asarray(vals["effort_cost"]) <= 0)):
            raise ValueError("effort_cost must be > 0")
        try:
            shape = jnp.broadcast_shapes(*(a.shape for a in vals.values()))
        except ValueError:
            raise ValueError("LENModel parameters must have broadcastable shapes, got "
                             f"{[tuple(a.shape) for a in vals.values()]}") from None
        dtype = jnp.result_type(*vals.values())
        for name, a in vals.items():
            object.__setattr__(self, name, jnp.broadcast_to(a.astype(dtype), shape))


@pytree_dataclass
class LENContract:
    """Optimal linear contract ``w = intercept + slope x`` and its consequences (``[*batch]``).

    Attributes:
      slope: ``b``, the share of output paid.
      intercept: ``a``, the fixed wage (participation binds).
      effort: the agent's effort ``e = b / c``.
      principal_value: the principal's expected profit (payoff units).
      first_best_value: the profit with a risk-neutral agent (no agency cost).
      agency_cost: ``first_best_value - principal_value``.
      agent_certainty_equivalent: the agent's certainty equivalent (``= R``).
      result: ``int32`` :class:`socialign.kernel.Result` code.
      certificate: ``|d profit / d slope|`` at the returned slope (0 for the closed form).

    Example:
      >>> from socialign import mechanisms
      >>> c = mechanisms.len_closed_form(mechanisms.LENModel(1.0, 1.0, 1.0))
      >>> float(c.agency_cost)
      0.25
    """

    slope: jax.Array
    intercept: jax.Array
    effort: jax.Array
    principal_value: jax.Array
    first_best_value: jax.Array
    agency_cost: jax.Array
    agent_certainty_equivalent: jax.Array
    result: jax.Array
    certificate: jax.Array


def _check_model(model):
    if not isinstance(model, LENModel):
        raise TypeError(f"model must be a LENModel, got {type(model).__name__}")


def len_closed_form(model: LENModel) -> LENContract:
    """The Holmstrom-Milgrom closed form (see the module docstring).

    Args:
      model: a :class:`LENModel` (any batch shape).

    Returns:
      :class:`LENContract`; differentiable in every field of ``model``.

    Raises:
      TypeError: if ``model`` is not a :class:`LENModel`.

    Example:
      >>> from socialign import mechanisms
      >>> c = mechanisms.len_closed_form(mechanisms.LENModel(1.0, 1.0, 1.0))
      >>> float(c.principal_value), float(c.first_best_value)
      (0.25, 0.5)
    """
    _check_model(model)
    r, c, s2, R = model.risk_aversion, model.effort_cost, model.noise_variance, \
        model.reservation_utility
    b = 1.0 / (1.0 + r * c * s2)
    e = b / c
    a = R - b * e + c * e**2 / 2 + r * b**2 * s2 / 2
    profit = 1.0 / (2 * c * (1 + r * c * s2)) - R
    fb = 1.0 / (2 * c) - R
    z = jnp.zeros_like(b)
    return LENContract(b, a, e, profit, fb, fb - profit, R, jnp.zeros(b.shape, jnp.int32), z)


def _gauss_hermite(n, dtype):
    x, w = np.polynomial.hermite_e.hermegauss(n)  # weight exp(-x^2/2)
    return jnp.asarray(x, dtype), jnp.asarray(w / np.sqrt(2 * np.pi), dtype)


def _certainty_equivalent(a, b, e, r, c, sd, nodes, weights):
    """CE of E[-exp(-r (a + b x - c e^2/2))], x = e + sd z, by quadrature."""
    wage = a + b * (e + sd * nodes) - c * e**2 / 2
    # log E[exp(-r w)] via log-sum-exp for stability; r -> 0 limit is E[w]
    rr = jnp.maximum(r, 1e-12)
    lme = jax.scipy.special.logsumexp(-rr * wage, b=weights)
    return jnp.where(r > 1e-12, -lme / rr, weights @ wage)


def _effort_foc(e, params):
    """The agent's first-order condition ``d CE / d e = 0`` (residual for the IFT)."""
    b, r, c, sd, nodes, weights = params
    return jax.grad(_certainty_equivalent, argnums=2)(0.0, b, e, r, c, sd, nodes, weights)


def _effort(b, r, c, sd, nodes, weights):
    ce_e = jax.grad(_certainty_equivalent, argnums=2)
    ce_ee = jax.grad(ce_e, argnums=2)
    sg = jax.lax.stop_gradient
    args = sg((r, c, sd, nodes, weights))
    b0 = sg(b)

    def newton(e, _):
        return e - ce_e(0.0, b0, e, *args) / ce_ee(0.0, b0, e, *args), None

    e, _ = jax.lax.scan(newton, jnp.zeros_like(b0), None, length=8)
    return implicit_solution(_effort_foc, e, (b, r, c, sd, nodes, weights))


def _profit(b, r, c, sd, R, nodes, weights):
    e = _effort(b, r, c, sd, nodes, weights)
    a = R - _certainty_equivalent(0.0, b, e, r, c, sd, nodes, weights)  # participation binds
    return e - (a + b * e), (a, e)  # E[x - w]


def _solve_one(r, c, s2, R):
    dtype = r.dtype
    nodes, weights = _gauss_hermite(40, dtype)
    sd = jnp.sqrt(s2)
    sg = jax.lax.stop_gradient

    def f(b):
        return _profit(b, *sg((r, c, sd, R, nodes, weights)))[0]

    # bisection on the sign of d profit / d slope over [0, 1] (the profit is concave in the
    # slope); the derivative by autodiff through the quadrature and the implicit effort (central
    # differences with a fixed step lost every digit in float32: eps / h ~ 1e-2)
    df = jax.grad(f)

    def bisect(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        up = df(mid) > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 60, bisect, (jnp.zeros((), dtype), jnp.ones((), dtype)))
    b = 0.5 * (lo + hi)
    # envelope theorem in the slope: the value's derivative at fixed b (d profit / db = 0)
    pi, (a, e) = _profit(b, r, c, sd, R, nodes, weights)
    res = jnp.abs(df(b))
    fb, _ = _profit(jnp.asarray(1.0, dtype), jnp.zeros((), dtype), c, sd, R, nodes, weights)
    return b, a, e, pi, fb, res


@jax.jit
def _len_numeric(model: LENModel):
    r, c, s2, R = model.risk_aversion, model.effort_cost, model.noise_variance, \
        model.reservation_utility
    shape = r.shape
    flat = [x.reshape(-1) for x in (r, c, s2, R)]
    b, a, e, pi, fb, res = jax.vmap(_solve_one)(*flat)
    b, a, e, pi, fb, res = (x.reshape(shape) for x in (b, a, e, pi, fb, res))
    # |d profit / d slope| in payoff units per unit of slope, on the scale 1 + 1/c of the
    # first-best profit; the floor is the dtype's rounding of the quadrature (float32: ~1e-5)
    floor = max(1e-7, 100 * float(jnp.finfo(b.dtype).eps))
    code = jnp.where(res <= floor * (1 + 1 / c), Result.CONVERGED, Result.MAX_STEPS_REACHED)
    code = jnp.where(jnp.isfinite(pi), code, Result.NONFINITE).astype(jnp.int32)
    return LENContract(b, a, e, pi, fb, fb - pi, R, code, res)


def len_optimal_contract(model: LENModel) -> LENContract:
    """Numerical optimum of the LEN model (quadrature, Newton effort, bisection on the slope).

    ``certificate`` is ``|d profit / d slope|`` at the returned slope. ``principal_value`` is
    differentiable with respect to every field of ``model`` (envelope theorem in the slope,
    implicit function theorem for the effort).

    Args:
      model: a :class:`LENModel` (any batch shape).

    Returns:
      :class:`LENContract`.

    Raises:
      TypeError: if ``model`` is not a :class:`LENModel`.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> c = mechanisms.len_optimal_contract(mechanisms.LENModel(1.0, 1.0, 1.0))
      >>> round(float(c.slope), 8), round(float(c.principal_value), 8)
      (0.5, 0.25)
    """
    _check_model(model)
    return _len_numeric(model)


def _as_design(c: LENContract) -> Design:
    z = jnp.zeros_like(c.principal_value)
    return Design(mechanism=c, principal_value=c.principal_value,
                  agent_values=c.agent_certainty_equivalent, incentive_violation=z,
                  participation_violation=z, certificate=c.certificate, result=c.result,
                  stats={})


@pytree_dataclass
class LENClosedForm(Designer):
    """Designer: the Holmstrom-Milgrom closed form (:func:`len_closed_form`).

    The agent's effort is its best response and participation binds by construction, so both
    violations are 0.

    Raises:
      TypeError: from :func:`mechanisms.design` if the problem is not a :class:`LENModel`.

    Example:
      >>> from socialign import mechanisms
      >>> d = mechanisms.design(mechanisms.LENModel(1.0, 1.0, 1.0), mechanisms.LENClosedForm())
      >>> float(d.principal_value)
      0.25
    """

    problem_types = (LENModel,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The closed form as a :class:`Design` (``tol`` and ``max_steps`` unused)."""
        return _as_design(len_closed_form(problem))


@pytree_dataclass
class LENNumeric(Designer):
    """Designer: the numerical LEN optimum (:func:`len_optimal_contract`).

    Raises:
      TypeError: from :func:`mechanisms.design` if the problem is not a :class:`LENModel`.

    Example:
      >>> from socialign import mechanisms
      >>> d = mechanisms.design(mechanisms.LENModel(1.0, 1.0, 1.0), mechanisms.LENNumeric())
      >>> round(float(d.mechanism.slope), 6)
      0.5
    """

    problem_types = (LENModel,)

    def design(self, problem, *, tol=None, max_steps: int = 200) -> Design:
        """The numerical optimum as a :class:`Design` (fixed-length loops: ``max_steps``
        unused)."""
        return _as_design(len_optimal_contract(problem))
