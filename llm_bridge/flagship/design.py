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

__all__ = ["predicted_shares", "predicted_share_bands", "optimum_gap", "design_contract",
           "principal_value", "AUDITED"]

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


def predicted_share_bands(expected_utility, temperature, per_prompt_counts, *,
                          level: float = 0.9, num_samples: int = 2000, seed: int = 0) -> dict:
    r"""Credible band of the predicted shares from the uncertainty in the base model's shares.

    The reference shares of each prompt are estimated from ``n_x`` samples, so they carry a
    posterior: :math:`\rho_x \sim \mathrm{Dirichlet}(1 + n_x)` (exact, conjugate;
    :func:`socialign.mechanisms.bayes.share_bands`). Each posterior draw of ``rho [prompts, 3]``
    is pushed through :func:`predicted_shares`; the band is the equal-tailed ``level`` interval
    of the resulting predicted shares.

    Args:
      expected_utility: ``[3]`` expected payment minus effort cost per behaviour.
      temperature: ``beta > 0``.
      per_prompt_counts: ``[prompts, 3]`` behaviour counts of the base model per prompt.
      level: the band's posterior probability in ``(0, 1)``.
      num_samples: posterior draws; seed: their key.

    Returns:
      ``{"mean": [3], "lower": [3], "upper": [3], "level": level}`` (lists of floats).

    Raises:
      ValueError: shapes that disagree, negative counts or a bad level (from
        ``share_bands``).

    Example:
      >>> from socialign.llm_bridge.flagship import design
      >>> b = design.predicted_share_bands([1.0, 0.0, 0.0], 0.5, [[40, 30, 30]])
      >>> bool(b["lower"][0] < 0.83 < b["upper"][0]), round(b["upper"][0] - b["lower"][0], 2)
      (True, 0.09)
    """
    import jax

    from ...mechanisms import bayes

    u = np.asarray(expected_utility, np.float64)
    counts = np.atleast_2d(np.asarray(per_prompt_counts, np.float64))
    if u.ndim != 1 or counts.shape[-1] != u.shape[0]:
        raise ValueError(f"expected_utility [actions] and per_prompt_counts [prompts, actions] "
                         f"disagree: {u.shape} vs {counts.shape}")
    bands = bayes.share_bands(counts, level=level, num_samples=num_samples,
                              key=jax.random.key(seed))
    draws = np.asarray(bands.samples, np.float64)           # [S, prompts, 3]
    probs = np.asarray(mechanisms.quantal_response_probs(
        np.broadcast_to(u, draws.shape), temperature, draws), np.float64).mean(1)  # [S, 3]
    lo, hi = np.quantile(probs, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    return {"mean": probs.mean(0).tolist(), "lower": lo.tolist(), "upper": hi.tolist(),
            "level": float(level)}


def optimum_gap(policy_logprobs, reference_logprobs, expected_utility, temperature, *,
                rest_utility=None) -> dict:
    r"""How far a fine-tuned policy is from the KL-regularised optimum, prompt by prompt.

    With behaviour probabilities :math:`\pi(a|x)` and :math:`\pi_{ref}(a|x)` (each row
    renormalised over the three behaviours) and the expected utility :math:`u_a` of each
    behaviour, the optimum of :math:`J(\pi) = \mathbb{E}_\pi[u] - \beta\,KL(\pi\|\pi_{ref})`
    is :math:`\pi^*(a|x) \propto \pi_{ref}(a|x)\,e^{u_a/\beta}` with value :math:`J^* =
    \beta\log\sum_a \pi_{ref}(a|x) e^{u_a/\beta}`, and for every policy

    .. math:: J^* - J(\pi) = \beta\,KL(\pi\,\|\,\pi^*) \ge 0.

    So :math:`KL(\pi\|\pi^*)` (nats) is both the objective gap in units of ``beta`` and, by
    Pinsker's inequality, a bound on the share error: :math:`\max_a|\pi(a|x) - \pi^*(a|x)|
    \le \sqrt{KL/2}`. The flagship stops fine-tuning when its prompt average falls below
    ``DemoConfig.kl_tol`` (Jaques et al. 2017 and Korbak et al. 2022 for the KL-regularised
    RL-as-inference reading).

    Args:
      policy_logprobs, reference_logprobs: ``[prompts, 3]`` log-probabilities of the
        behaviours (:func:`~socialign.llm_bridge.flagship.measurement.behaviour_logprobs`).
      expected_utility: ``[3]`` expected payment minus effort cost per behaviour.
      temperature: the KL coefficient ``beta > 0``.
      rest_utility: ``None`` (renormalise each row over the listed behaviours) or the expected
        utility of every other completion: the mass ``1 - sum_a pi(a|x)`` outside the listed
        behaviours becomes one more behaviour with this utility (exact when the reward is
        constant on it; use it when a model still puts real mass elsewhere).

    Returns:
      ``{"kl": mean KL(pi || pi*), "kl_per_prompt": [prompts], "objective_gap": beta * kl,
      "max_share_gap": max over prompts and behaviours of |pi - pi*|, "policy_shares": [3],
      "optimum_shares": [3], "off_support_mass": mean mass outside the three canonical
      completions}``.

    Raises:
      ValueError: shapes that disagree, non-finite input or ``temperature <= 0``.

    Example:
      >>> import numpy as np
      >>> from socialign.llm_bridge.flagship import design
      >>> ref = np.log([[0.5, 0.25, 0.25]])
      >>> opt = np.log(np.array([[0.5 * np.e ** 2, 0.25, 0.25]]) / (0.5 * np.e ** 2 + 0.5))
      >>> abs(design.optimum_gap(opt, ref, [1.0, 0.0, 0.0], 0.5)["kl"]) < 1e-12
      True
      >>> round(design.optimum_gap(ref, ref, [1.0, 0.0, 0.0], 0.5)["kl"], 4)
      0.4338
    """
    lp = np.atleast_2d(np.asarray(policy_logprobs, np.float64))
    lr = np.atleast_2d(np.asarray(reference_logprobs, np.float64))
    u = np.asarray(expected_utility, np.float64)
    if lp.shape != lr.shape or lp.ndim != 2 or u.shape != lp.shape[1:]:
        raise ValueError(f"policy_logprobs and reference_logprobs must be [prompts, actions] "
                         f"and expected_utility [actions]; got {lp.shape}, {lr.shape}, "
                         f"{u.shape}")
    if not (np.all(np.isfinite(lp)) and np.all(np.isfinite(lr)) and np.all(np.isfinite(u))):
        raise ValueError("optimum_gap: non-finite input")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")

    def norm(x):
        return x - np.logaddexp.reduce(x, axis=1, keepdims=True)

    if rest_utility is not None:
        def with_rest(x):
            rest = np.log(np.clip(-np.expm1(np.logaddexp.reduce(x, axis=1)), 1e-300, None))
            return np.concatenate([x, rest[:, None]], axis=1)
        lp, lr = with_rest(lp), with_rest(lr)
        u = np.append(u, float(rest_utility))

    lpi = norm(lp)
    lstar = norm(lr + u / temperature)
    pi, star = np.exp(lpi), np.exp(lstar)
    kl = np.sum(pi * (lpi - lstar), axis=1)
    k = u.shape[0] - (rest_utility is not None)
    return {"kl": float(kl.mean()), "kl_per_prompt": kl.tolist(),
            "objective_gap": float(temperature * kl.mean()),
            "max_share_gap": float(np.abs(pi - star).max()),
            "policy_shares": pi.mean(0).tolist(), "optimum_shares": star.mean(0).tolist(),
            "off_support_mass": float(np.mean(1.0 - np.exp(lp[:, :k]).sum(1)))}
