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

Reference: B. Holmstrom and P. Milgrom, "Aggregation and linearity in the provision of
intertemporal incentives", Econometrica 1987.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import Result, as_float_array, check_finite, is_concrete

__all__ = ["LENModel", "LENContract", "len_closed_form", "len_optimal_contract"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, init=False)
class LENModel:
    """Parameters of the LEN model (each may carry the same batch axes).

    Attributes:
      risk_aversion: CARA coefficient ``r >= 0``.
      effort_cost: ``c > 0`` in the cost ``c e^2 / 2``.
      noise_variance: ``s2 >= 0``.
      reservation_utility: the agent's outside certainty equivalent ``R``.

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


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LENContract:
    """Optimal linear contract ``w = intercept + slope x`` and its consequences."""

    slope: jax.Array
    intercept: jax.Array
    effort: jax.Array
    principal_profit: jax.Array
    first_best_profit: jax.Array
    agency_cost: jax.Array
    agent_certainty_equivalent: jax.Array
    result: jax.Array
    certificate: jax.Array


def len_closed_form(model: LENModel) -> LENContract:
    """The Holmstrom-Milgrom closed form (see the module docstring).

    Example:
      >>> from socialign import mechanisms
      >>> c = mechanisms.len_closed_form(mechanisms.LENModel(1.0, 1.0, 1.0))
      >>> float(c.principal_profit), float(c.first_best_profit)
      (0.25, 0.5)
    """
    if not isinstance(model, LENModel):
        raise TypeError(f"model must be a LENModel, got {type(model).__name__}")
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


@jax.jit
def _len_numeric(model: LENModel):
    r, c, s2, R = model.risk_aversion, model.effort_cost, model.noise_variance, \
        model.reservation_utility
    dtype = r.dtype
    nodes, weights = _gauss_hermite(40, dtype)
    sd = jnp.sqrt(s2)

    def certainty_equivalent(a, b, e, r, c, sd):
        """CE of E[-exp(-r (a + b x - c e^2/2))], x = e + sd z, by quadrature."""
        wage = a + b * (e + sd * nodes) - c * e**2 / 2
        # log E[exp(-r w)] via log-sum-exp for stability; r -> 0 limit is E[w]
        rr = jnp.maximum(r, 1e-12)
        lme = jax.scipy.special.logsumexp(-rr * wage, b=weights)
        return jnp.where(r > 1e-12, -lme / rr, weights @ wage)

    def effort(b, r, c, sd):
        ce_e = jax.grad(certainty_equivalent, argnums=2)
        ce_ee = jax.grad(ce_e, argnums=2)

        def newton(e, _):
            return e - ce_e(0.0, b, e, r, c, sd) / ce_ee(0.0, b, e, r, c, sd), None

        e, _ = jax.lax.scan(newton, jnp.zeros_like(b), None, length=8)
        return e

    def profit(b, r, c, sd, R):
        e = effort(b, r, c, sd)
        a = R - certainty_equivalent(0.0, b, e, r, c, sd)  # participation binds
        return e - (a + b * e), (a, e)  # E[x - w]

    def solve_one(r, c, sd, R):
        f = lambda b: profit(b, r, c, sd, R)[0]  # noqa: E731
        # bisection on the sign of d profit / d slope over [0, 1] (the profit is concave in the
        # slope); the derivative by central differences of the quadrature-based profit
        h = 1e-5

        def df(b):
            return (f(b + h) - f(b - h)) / (2 * h)

        def bisect(_, lohi):
            lo, hi = lohi
            mid = 0.5 * (lo + hi)
            up = df(mid) > 0
            return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 60, bisect, (jnp.zeros((), dtype), jnp.ones((), dtype)))
        b = 0.5 * (lo + hi)
        pi, (a, e) = profit(b, r, c, sd, R)
        res = jnp.abs(df(b))
        fb, _ = profit(jnp.asarray(1.0, dtype), jnp.zeros((), dtype), c, sd, R)
        return b, a, e, pi, fb, res

    shape = r.shape
    flat = [x.reshape(-1) for x in (r, c, sd, R)]
    b, a, e, pi, fb, res = jax.vmap(solve_one)(*flat)
    b, a, e, pi, fb, res = (x.reshape(shape) for x in (b, a, e, pi, fb, res))
    code = jnp.where(res <= 1e-7 * (1 + 1 / c), Result.CONVERGED, Result.MAX_STEPS_REACHED)
    code = jnp.where(jnp.isfinite(pi), code, Result.NONFINITE).astype(jnp.int32)
    return LENContract(b, a, e, pi, fb, fb - pi, R, code, res)


def len_optimal_contract(model: LENModel) -> LENContract:
    """Numerical optimum of the LEN model (quadrature, Newton effort, bisection on the slope).

    ``certificate`` is ``|d profit / d slope|`` at the returned slope.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import mechanisms
      >>> c = mechanisms.len_optimal_contract(mechanisms.LENModel(1.0, 1.0, 1.0))
      >>> round(float(c.slope), 8), round(float(c.principal_profit), 8)
      (0.5, 0.25)
    """
    if not isinstance(model, LENModel):
        raise TypeError(f"model must be a LENModel, got {type(model).__name__}")
    return _len_numeric(model)
