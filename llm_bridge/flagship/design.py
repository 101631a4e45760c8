r"""Contract design and equilibrium predictions with :mod:`socialign.mechanisms`.

:func:`design_contract` calls ``mechanisms.optimal_contract`` against the quantal-response agent
``QuantalResponse(temperature, rho)`` (``temperature`` = the KL coefficient used in training,
``rho`` = the base model's behaviour shares): for each audit rate ``q`` on a grid, the
least-cost payments (limited liability) that make the honest share ``>= target``; it keeps the
``q`` of least total cost (expected payment + ``q * audit_cost``) whose payments stay within
``max_payment`` (bounded rewards; without a cap a risk-neutral agent is as well motivated by
ever rarer audits with ever larger payments).

:func:`predicted_shares` is the fine-tuned policy the theory predicts: the optimum of
:math:`\mathbb{E}_\pi[r] - \beta\,KL(\pi\|\pi_{ref})` is :math:`\pi^*(y) \propto
\pi_{ref}(y)\,e^{r(y)/\beta}`; summed over the completions of each behaviour, prompt by prompt,
that is ``mechanisms.quantal_response_probs(E[pay | a] - c_a, beta, rho_x)``, averaged over
prompts ``x``.

Example:
  >>> import numpy as np
  >>> from socialign.llm_bridge.flagship import design
  >>> p = design.predicted_shares([1.0, 0.0, 0.0], 0.5, [[0.5, 0.25, 0.25]])
  >>> [round(float(x), 3) for x in p]
  [0.881, 0.06, 0.06]
"""

from __future__ import annotations

import numpy as np

from ... import mechanisms
from .config import DemoConfig
from .task import outcome_probs

__all__ = ["predicted_shares", "design_contract", "principal_value", "AUDITED"]

AUDITED = np.array([1, 1, 0, 1, 0], np.float64)
"""``[5]``: 1 for the outcomes of :data:`~socialign.llm_bridge.flagship.task.OUTCOMES` that
need an audit (they carry its cost)."""


def predicted_shares(expected_utility, temperature, per_prompt_prior) -> np.ndarray:
    """The KL-regularised optimum prompt by prompt, averaged: ``mean_x QR(u; beta, rho_x)``.

    Computed with ``mechanisms.quantal_response_probs`` (the library's quantal response).

    Args:
      expected_utility: ``[actions]`` the agent's expected utility per behaviour (expected
        payment minus effort cost), reward units.
      temperature: ``beta > 0``, the KL coefficient of training.
      per_prompt_prior: ``[prompts, actions]`` reference shares per prompt (rows sum to 1; a
        single ``[actions]`` prior is one prompt).

    Returns:
      float64 ``[actions]`` predicted shares.

    Raises:
      ValueError: mismatched shapes, non-finite utilities, ``temperature <= 0`` or a prior row
        that is not a distribution.

    Example:
      >>> from socialign.llm_bridge.flagship import design
      >>> [round(float(x), 4) for x in design.predicted_shares([1.0, 0.0], 0.5, [0.5, 0.5])]
      [0.8808, 0.1192]
    """
    u = np.asarray(expected_utility, np.float64)
    prior = np.atleast_2d(np.asarray(per_prompt_prior, np.float64))
    if u.ndim != 1 or prior.ndim != 2 or prior.shape[1] != u.shape[0]:
        raise ValueError(f"expected_utility must be [actions] and per_prompt_prior "
                         f"[prompts, actions]; got shapes {u.shape} and {prior.shape}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if np.any(prior < 0) or not np.allclose(prior.sum(1), 1.0, atol=1e-6):
        raise ValueError("per_prompt_prior rows must be distributions (non-negative, sum 1)")
    probs = mechanisms.quantal_response_probs(np.broadcast_to(u, prior.shape), temperature,
                                              prior)
    return np.asarray(probs, np.float64).mean(0)


def design_contract(prior, signal_rates, costs, cfg: DemoConfig) -> dict:
    """Design the audited contract for the quantal-response agent (see the module docstring).

    Args:
      prior: ``[3]`` base behaviour shares ``rho`` (all > 0).
      signal_rates: ``[3, 3]`` per behaviour P(pass & correct), P(pass & wrong), P(fail).
      costs: ``[3]`` effort cost per behaviour (reward units).
      cfg: :class:`DemoConfig` (``temperature``, ``target_share``, ``q_grid``, ``audit_cost``,
        ``max_payment``, ``values``).

    Returns:
      a JSON-able dict: ``audit_rate``, ``payments [5]``, ``designed_shares [3]`` (the quantal
      response to the contract with the pooled prior), ``expected_pay_by_behaviour [3]``,
      ``mechanisms_action_probs [3]``, ``expected_payment``, ``audit_cost``,
      ``certificate_kkt``, ``result_code`` and the whole ``grid``.

    Raises:
      ValueError: wrong shapes; TypeError: ``cfg`` is not a :class:`DemoConfig`;
      RuntimeError: no audit rate on the grid implements the target within ``max_payment``.

    Example:
      >>> import numpy as np
      >>> from socialign.llm_bridge.flagship import DemoConfig, design
      >>> c = design.design_contract([0.25, 0.25, 0.5], np.eye(3), [0.6, 0.3, 0.25],
      ...                            DemoConfig())
      >>> round(c["designed_shares"][0], 2)
      0.8
    """
    if not isinstance(cfg, DemoConfig):
        raise TypeError(f"cfg must be a DemoConfig, got {type(cfg).__name__}")
    prior = np.asarray(prior, np.float64)
    costs = np.asarray(costs, np.float64)
    rates = np.asarray(signal_rates, np.float64)
    if prior.shape != (3,) or costs.shape != (3,) or rates.shape != (3, 3):
        raise ValueError(f"prior, costs and signal_rates must be [3], [3], [3, 3]; got "
                         f"{prior.shape}, {costs.shape}, {rates.shape}")
    qs = np.asarray(cfg.q_grid, np.float64)
    P = np.stack([outcome_probs(q, rates) for q in qs])  # [Q, A, O]
    v = np.asarray(cfg.values, np.float64)
    # the principal's value of an outcome (only for mechanisms' own objective; the demo reports
    # the value computed from the behaviours themselves)
    rewards = np.array([v[0], v[1], 0.0, 0.0, 0.0])
    problem = mechanisms.PrincipalAgent(P, costs, rewards, 0.0, limited_liability=True,
                                        monitoring_cost=cfg.audit_cost * AUDITED)
    agent = mechanisms.QuantalResponse(cfg.temperature, prior)
    c = mechanisms.optimal_contract(problem, agent=agent, target_action=0,
                                    min_target_prob=cfg.target_share)
    pay = np.asarray(c.payments, np.float64)  # [Q, O]
    probs = np.asarray(c.action_probs, np.float64)
    total = np.asarray(c.expected_payment, np.float64) + qs * cfg.audit_cost
    ok = (pay.max(-1) <= cfg.max_payment + 1e-9) & (probs[:, 0] >= cfg.target_share - 1e-3)
    if not ok.any():
        raise RuntimeError("no audit rate on the grid implements the target share within "
                           f"max_payment={cfg.max_payment}; raise max_payment or the q grid")
    i = int(np.argmin(np.where(ok, total, np.inf)))
    q = float(qs[i])
    exp_pay = P[i] @ pay[i]  # expected payment of each behaviour
    check = predicted_shares(exp_pay - costs, cfg.temperature, prior)
    return {"audit_rate": q, "payments": pay[i].tolist(),
            "designed_shares": check.tolist(), "expected_pay_by_behaviour": exp_pay.tolist(),
            "mechanisms_action_probs": probs[i].tolist(),
            "expected_payment": float(np.asarray(c.expected_payment)[i]),
            "audit_cost": q * cfg.audit_cost,
            "certificate_kkt": float(np.asarray(c.certificate)[i]),
            "result_code": int(np.asarray(c.result)[i]),
            "grid": {"q": qs.tolist(), "total_cost": total.tolist(), "feasible": ok.tolist(),
                     "max_payment": pay.max(-1).tolist()}}


def principal_value(shares, expected_payment, audit_cost, values) -> float:
    """The principal's value per answer: ``shares . values - expected_payment - audit_cost``.

    Args:
      shares: ``[3]`` behaviour shares; values: ``[3]`` value of each behaviour;
      expected_payment, audit_cost: per answer (reward units).

    Raises:
      ValueError: ``shares`` and ``values`` differ in shape.

    Example:
      >>> from socialign.llm_bridge.flagship import design
      >>> design.principal_value([0.5, 0.5, 0.0], 1.0, 0.1, [2.0, -2.0, 0.0])
      -1.1
    """
    s = np.asarray(shares, np.float64)
    v = np.asarray(values, np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"shares and values must be vectors of one shape, got {s.shape} and "
                         f"{v.shape}")
    return float(s @ v - expected_payment - audit_cost)
