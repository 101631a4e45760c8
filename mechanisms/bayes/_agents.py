r"""Posteriors over the agent of a contract: outcome distributions, action costs, temperature.

The principal of :class:`socialign.mechanisms.PrincipalAgent` rarely knows ``P(outcome |
action)``, the agent's costs or how noisily it responds. Here they are estimated from data:

* **outcome distributions.** With ``n[a, o]`` outcomes observed after action ``a`` and a
  ``Dirichlet(alpha)`` prior on each row, the posterior is ``Dirichlet(alpha + n[a])`` row by row
  (conjugate, exact): :func:`dirichlet_posterior`. Two outcomes: the Beta-binomial model.
* **behaviour shares.** The same conjugate model over an agent's (or a language model's)
  behaviour counts gives posterior draws and credible bands of its shares: :func:`share_bands`.
* **costs and temperature.** When contracts ``t_j`` were offered and the agent's choices
  ``m[j, a]`` observed, a quantal-response agent (:class:`socialign.mechanisms.QuantalResponse`)
  plays ``pi_j(a) ∝ rho_a exp((P_a t_j - c_a) / T)``. :func:`agent_posterior` samples the joint
  posterior of ``P`` (Dirichlet prior, outcome counts), the costs ``c`` (normal prior, ``c_0 = 0``:
  a quantal response identifies cost differences only) and the temperature ``T`` (log-normal
  prior) with numpyro's NUTS.

References:
  A. Gelman et al., *Bayesian Data Analysis*, 3rd ed. (2013), ch. 2-3 (conjugate models).
  R. D. McKelvey and T. R. Palfrey, "Quantal response equilibria for normal form games", GEB 1995.
  M. D. Hoffman and A. Gelman, "The No-U-Turn sampler", JMLR 2014.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from ...kernel import (
    Result,
    as_float_array,
    check_finite,
    check_positive_scalar,
    check_simplex,
    is_concrete,
    pytree_dataclass,
)
from ._qre_estimation import _check_level, _check_mcmc, chain_diagnostics, run_nuts

__all__ = ["AgentPosterior", "ContractData", "DirichletPosterior", "ShareBands",
           "agent_posterior", "dirichlet_posterior", "share_bands"]


def _check_counts_array(counts, name, ndim_min=1):
    c = as_float_array(counts, name)
    if c.ndim < ndim_min or c.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last (category) axis; got shape "
                         f"{tuple(c.shape)}")
    check_finite(c, name)
    if is_concrete(c) and bool(np.any(np.asarray(c) < 0)):
        raise ValueError(f"{name} must be non-negative")
    return c


def _check_concentration(alpha, name="prior_concentration"):
    a = as_float_array(alpha, name)
    check_finite(a, name)
    if is_concrete(a) and bool(np.any(np.asarray(a) <= 0)):
        raise ValueError(f"{name} must be > 0, got {np.asarray(a)!r}")
    return a


# --------------------------------------------------------------------------------------------
# conjugate: Dirichlet-multinomial
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class DirichletPosterior:
    """A (batch of) Dirichlet posterior(s): the exact posterior of a multinomial's probabilities.

    Attributes:
      concentration: ``alpha [..., K]`` (prior concentration plus counts).

    Example:
      >>> from socialign.mechanisms import bayes
      >>> post = bayes.dirichlet_posterior([[7., 3.]])      # Beta(8, 4) for one action
      >>> [round(float(p), 4) for p in post.mean[0]]
      [0.6667, 0.3333]
    """

    concentration: jax.Array

    @property
    def mean(self) -> jax.Array:
        """``alpha / sum(alpha)``, ``[..., K]``."""
        a = self.concentration
        return a / jnp.sum(a, axis=-1, keepdims=True)

    @property
    def variance(self) -> jax.Array:
        """Marginal variances ``m (1 - m) / (alpha_0 + 1)``, ``[..., K]``."""
        a0 = jnp.sum(self.concentration, axis=-1, keepdims=True)
        m = self.mean
        return m * (1 - m) / (a0 + 1)

    def sample(self, key, num_samples: int) -> jax.Array:
        """``[num_samples, ..., K]`` independent draws (exact, no MCMC)."""
        return jax.random.dirichlet(key, self.concentration,
                                    shape=(num_samples, *self.concentration.shape[:-1]))


def dirichlet_posterior(counts, prior_concentration=1.0) -> DirichletPosterior:
    r"""The exact posterior of multinomial probabilities: ``Dirichlet(alpha + counts)``.

    ``counts [..., K]`` are observed category counts (for outcome distributions, ``[actions,
    outcomes]``: one Dirichlet per action, the rows of ``P(outcome | action)``). With a
    ``Dirichlet(alpha)`` prior the posterior is ``Dirichlet(alpha + counts)`` (conjugacy), with
    mean ``(alpha + n) / (alpha_0 + N)``. ``K = 2`` is the Beta-binomial model.

    Args:
      counts: ``[..., K]`` non-negative counts.
      prior_concentration: ``alpha > 0``, broadcastable to ``counts`` (default 1: uniform).

    Returns:
      A :class:`DirichletPosterior`.

    Raises:
      TypeError: on non-numeric input.
      ValueError: on negative or non-finite counts, or a concentration that is not > 0.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> post = bayes.dirichlet_posterior([[20., 10., 5.], [5., 10., 20.]], 1.0)
      >>> [round(float(p), 4) for p in post.mean[1]]
      [0.1579, 0.2895, 0.5526]
    """
    c = _check_counts_array(counts, "counts")
    a = _check_concentration(prior_concentration)
    dtype = jnp.result_type(c, a)
    return DirichletPosterior(concentration=(c + a).astype(dtype))


@pytree_dataclass
class ShareBands:
    """Posterior draws and credible bands of behaviour shares.

    Attributes:
      mean: ``[..., K]`` posterior mean shares.
      lower, upper: ``[..., K]`` the equal-tailed credible band at ``level`` (per share).
      samples: ``[num_samples, ..., K]`` posterior draws of the shares.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.ShareBands.__name__
      'ShareBands'
    """

    mean: jax.Array
    lower: jax.Array
    upper: jax.Array
    samples: jax.Array


def share_bands(counts, *, level: float = 0.9, prior_concentration=1.0,
                num_samples: int = 4000, key=None) -> ShareBands:
    r"""Posterior draws and credible bands of shares from behaviour counts.

    The shares of ``K`` behaviours (an agent's actions, a language model's answer types) with
    observed counts ``n`` have the posterior ``Dirichlet(alpha + n)`` (conjugate, exact). Returns
    its mean, ``num_samples`` exact draws, and per share the equal-tailed band between the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the draws. Batched: ``counts [...,
    K]`` (e.g. one row per training checkpoint).

    Args:
      counts: ``[..., K]`` non-negative behaviour counts.
      level: the band's posterior probability, in ``(0, 1)``.
      prior_concentration: ``alpha > 0`` (default 1: uniform over the simplex).
      num_samples: posterior draws.
      key: a ``jax.random`` key (default ``jax.random.key(0)``).

    Returns:
      A :class:`ShareBands`.

    Raises:
      TypeError: on non-numeric input.
      ValueError: on negative counts, a bad level, concentration or ``num_samples``.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> b = bayes.share_bands([78., 4., 18.], level=0.9)
      >>> [round(float(m), 3) for m in b.mean]
      [0.767, 0.049, 0.184]
      >>> bool(b.lower[0] < 0.767 < b.upper[0]), b.samples.shape
      (True, (4000, 3))
    """
    from ...kernel import check_positive_int

    level = _check_level(level)
    num_samples = check_positive_int(num_samples, "num_samples")
    post = dirichlet_posterior(counts, prior_concentration)
    key = jax.random.key(0) if key is None else key
    draws = post.sample(key, num_samples)
    q = jnp.quantile(draws, jnp.asarray([0.5 - level / 2, 0.5 + level / 2], draws.dtype),
                     axis=0)
    return ShareBands(mean=post.mean, lower=q[0], upper=q[1], samples=draws)


# --------------------------------------------------------------------------------------------
# contract data and the joint posterior by NUTS
# --------------------------------------------------------------------------------------------
@pytree_dataclass(init=False)
class ContractData:
    """Observations of an agent: outcomes after each action and choices under offered contracts.

    Attributes:
      outcome_counts: ``[actions, outcomes]`` outcomes observed after each action (e.g. from
        audits or experiments).
      contracts: ``[N, outcomes]`` payments of the ``N`` contracts offered (``N`` may be 0).
      action_counts: ``[N, actions]`` how often the agent chose each action under each contract.

    Raises:
      ValueError: on shapes that do not agree, negative or non-finite counts or payments.
      TypeError: on non-numeric input.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> d = bayes.ContractData([[6., 4.], [2., 8.]])
      >>> d.num_actions, d.num_outcomes, d.num_contracts
      (2, 2, 0)
    """

    outcome_counts: jax.Array
    contracts: jax.Array
    action_counts: jax.Array

    def __init__(self, outcome_counts, contracts=None, action_counts=None):
        n = _check_counts_array(outcome_counts, "outcome_counts", 2)
        if n.ndim != 2:
            raise ValueError(f"outcome_counts must have shape [actions, outcomes]; got "
                             f"{tuple(n.shape)}")
        A, O = n.shape
        if (contracts is None) != (action_counts is None):
            raise ValueError("contracts and action_counts go together: give both or neither")
        if contracts is None:
            t = jnp.zeros((0, O), n.dtype)
            m = jnp.zeros((0, A), n.dtype)
        else:
            t = as_float_array(contracts, "contracts")
            check_finite(t, "contracts")
            m = _check_counts_array(action_counts, "action_counts", 2)
            if t.ndim != 2 or t.shape[1] != O:
                raise ValueError(f"contracts must have shape [N, {O}] (one payment per "
                                 f"outcome); got {tuple(t.shape)}")
            if m.shape != (t.shape[0], A):
                raise ValueError(f"action_counts must have shape ({t.shape[0]}, {A}); got "
                                 f"{tuple(m.shape)}")
        dtype = jnp.result_type(n, t, m)
        object.__setattr__(self, "outcome_counts", n.astype(dtype))
        object.__setattr__(self, "contracts", t.astype(dtype))
        object.__setattr__(self, "action_counts", m.astype(dtype))

    @property
    def num_actions(self) -> int:
        """``A``."""
        return self.outcome_counts.shape[0]

    @property
    def num_outcomes(self) -> int:
        """``O``."""
        return self.outcome_counts.shape[1]

    @property
    def num_contracts(self) -> int:
        """``N``."""
        return self.contracts.shape[0]


@pytree_dataclass
class AgentPosterior:
    """Posterior draws of an agent's technology, costs and temperature (NUTS).

    Attributes:
      outcome_probs: ``[S, actions, outcomes]`` draws of ``P(outcome | action)``.
      costs: ``[S, actions]`` draws of the costs (``c_0 = 0``); ``None`` without contract data.
      temperature: ``[S]`` draws of the quantal-response temperature; ``None`` without contract
        data.
      r_hat: the largest split-R-hat over the sampled coordinates (chains > 1; NaN for one).
      min_ess: the smallest effective sample size over the sampled coordinates.
      num_divergences: divergent NUTS transitions.
      result: ``CONVERGED`` (no divergences, finite draws) or ``FAILED``.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> bayes.AgentPosterior.__name__
      'AgentPosterior'
    """

    outcome_probs: jax.Array
    costs: Any
    temperature: Any
    r_hat: jax.Array
    min_ess: jax.Array
    num_divergences: jax.Array
    result: jax.Array

    def problems(self, rewards, reservation_utility=0.0):
        """The posterior draws as a batched :class:`socialign.mechanisms.PrincipalAgent`.

        Batch axis: the draws ``[S]`` (costs 0 when they were not inferred).

        Raises:
          ValueError: as :class:`~socialign.mechanisms.PrincipalAgent` on bad rewards.
        """
        from .._principal_agent import PrincipalAgent

        S, A, _ = self.outcome_probs.shape
        costs = jnp.zeros((S, A), self.outcome_probs.dtype) if self.costs is None else self.costs
        P = self.outcome_probs / jnp.sum(self.outcome_probs, axis=-1, keepdims=True)
        return PrincipalAgent(P, costs, rewards, reservation_utility)


def _outcome_model(outcome_counts, alpha):
    import numpyro
    import numpyro.distributions as dist

    A, O = outcome_counts.shape
    P = numpyro.sample("outcome_probs",
                       dist.Dirichlet(jnp.broadcast_to(alpha, (A, O))).to_event(1))
    numpyro.factor("outcomes", jnp.sum(xlogy(outcome_counts, P)))
    return P


def _agent_model(outcome_counts, contracts, action_counts, alpha, cost_loc, cost_scale,
                 t_loc, t_scale, log_rho):
    import numpyro
    import numpyro.distributions as dist

    A = outcome_counts.shape[0]
    P = _outcome_model(outcome_counts, alpha)
    c_rest = numpyro.sample("costs_rest",
                            dist.Normal(jnp.broadcast_to(cost_loc, (A - 1,)),
                                        cost_scale).to_event(1))
    costs = jnp.concatenate([jnp.zeros((1,), c_rest.dtype), c_rest])
    T = numpyro.sample("temperature", dist.LogNormal(t_loc, t_scale))
    U = contracts @ P.T - costs  # [N, A]
    logp = jax.nn.log_softmax(U / T + log_rho, axis=-1)
    numpyro.factor("choices", jnp.sum(jnp.where(action_counts > 0,
                                                action_counts * logp, 0.0)))


def agent_posterior(data: ContractData, *, prior_concentration=1.0, cost_loc=0.0,
                    cost_scale=1.0, temperature_loc=0.0, temperature_scale=1.0, prior=None,
                    num_warmup: int = 400, num_samples: int = 800, num_chains: int = 1,
                    key=None) -> AgentPosterior:
    r"""Joint posterior of an agent's outcome distributions, costs and temperature, by NUTS.

    Model (``a`` actions, ``o`` outcomes, ``j`` offered contracts):

    .. math::
        P_a \sim \mathrm{Dirichlet}(\alpha), \quad n_a \mid P_a \sim \mathrm{Mult}(P_a), \quad
        c_a \sim N(\mu_c, s_c)\ (a \ge 1,\ c_0 = 0), \quad \log T \sim N(\mu_T, s_T),

    .. math::
        m_j \mid P, c, T \sim \mathrm{Mult}(\pi_j), \quad
        \pi_j(a) \propto \rho_a \exp((P_a t_j - c_a) / T),

    the quantal (KL-regularised) response of :class:`socialign.mechanisms.QuantalResponse` with
    reference shares ``rho`` (``prior``). Without contract data only ``P`` is sampled (its
    posterior is then the conjugate :func:`dirichlet_posterior`, a check of the sampler).
    numpyro's NUTS samples all of it jointly; numpyro is imported on first call only.

    Args:
      data: a :class:`ContractData`.
      prior_concentration: the Dirichlet prior's ``alpha > 0`` (scalar or ``[actions,
        outcomes]``).
      cost_loc, cost_scale: the normal prior of the costs ``c_1..c_{A-1}`` (``c_0 = 0``).
      temperature_loc, temperature_scale: the normal prior of ``log T``.
      prior: the agent's reference shares ``rho [actions]`` (default uniform).
      num_warmup, num_samples, num_chains: NUTS settings (chains run sequentially).
      key: a ``jax.random`` key (default ``jax.random.key(0)``).

    Returns:
      An :class:`AgentPosterior` (``S = num_chains * num_samples`` draws).

    Raises:
      TypeError: if ``data`` is not a :class:`ContractData`.
      ValueError: on a bad prior, scale or size.

    Example:
      >>> from socialign.mechanisms import bayes
      >>> post = bayes.agent_posterior(bayes.ContractData([[7., 3.]]), num_warmup=50,
      ...                              num_samples=50)
      >>> post.outcome_probs.shape, post.costs is None
      ((50, 1, 2), True)
    """
    if not isinstance(data, ContractData):
        raise TypeError(f"data must be a ContractData, got {type(data).__name__}")
    A, O = data.num_actions, data.num_outcomes
    dtype = data.outcome_counts.dtype
    alpha = _check_concentration(prior_concentration).astype(dtype)
    for name, v in (("cost_loc", cost_loc), ("temperature_loc", temperature_loc)):
        check_finite(as_float_array(v, name), name)
    check_positive_scalar(cost_scale, "cost_scale")
    check_positive_scalar(temperature_scale, "temperature_scale")
    if prior is None:
        rho = jnp.full((A,), 1.0 / A, dtype)
    else:
        rho = as_float_array(prior, "prior", dtype=dtype)
        if rho.shape != (A,):
            raise ValueError(f"prior must have shape ({A},); got {tuple(rho.shape)}")
        check_simplex(rho, "prior")
    log_rho = jnp.where(rho > 0, jnp.log(jnp.where(rho > 0, rho, 1.0)), -jnp.inf)
    num_warmup, num_samples, num_chains = _check_mcmc(num_warmup, num_samples, num_chains)
    key = jax.random.key(0) if key is None else key
    with_choices = data.num_contracts > 0 and A > 1
    if with_choices:
        model = _agent_model
        args = (data.outcome_counts, data.contracts, data.action_counts, alpha,
                jnp.asarray(cost_loc, dtype), jnp.asarray(cost_scale, dtype),
                jnp.asarray(temperature_loc, dtype), jnp.asarray(temperature_scale, dtype),
                log_rho)
    else:
        model, args = _outcome_model, (data.outcome_counts, alpha)
    samples, div = run_nuts(model, args, key=key, num_warmup=num_warmup,
                            num_samples=num_samples, num_chains=num_chains)
    flat = {k: v.reshape(num_chains, num_samples, -1) for k, v in samples.items()}
    stats = [chain_diagnostics(v[:, :, i]) for v in flat.values() for i in range(v.shape[-1])]
    r_hat = jnp.max(jnp.asarray([s[0] for s in stats]))
    ess = jnp.min(jnp.asarray([s[1] for s in stats]))
    P = samples["outcome_probs"].reshape(-1, A, O)
    costs = temperature = None
    if with_choices:
        c_rest = samples["costs_rest"].reshape(-1, A - 1)
        costs = jnp.concatenate([jnp.zeros((c_rest.shape[0], 1), dtype), c_rest], axis=1)
        temperature = samples["temperature"].reshape(-1)
    finite = all(bool(jnp.all(jnp.isfinite(v))) for v in samples.values())
    ok = (div == 0) & finite
    return AgentPosterior(outcome_probs=P, costs=costs, temperature=temperature, r_hat=r_hat,
                          min_ess=ess, num_divergences=div.astype(jnp.int32),
                          result=jnp.where(ok, Result.CONVERGED, Result.FAILED).astype(jnp.int32))
