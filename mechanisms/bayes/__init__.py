"""Uncertainty: Bayesian estimation of agents and games, and contracts robust to model error.

numpyro (NUTS) is imported on first use only: ``import socialign.mechanisms`` does not load it.
"""

from ._qre_estimation import (
    QREEstimate,
    QREPosterior,
    qre_log_likelihood,
    qre_mle,
    qre_posterior,
    simulate_qre_counts,
)
from ._agents import (
    AgentPosterior,
    ContractData,
    DirichletPosterior,
    ShareBands,
    agent_posterior,
    dirichlet_posterior,
    share_bands,
)
from ._robust import (
    BayesOptimalContract,
    CarrollLinearContract,
    ChanceConstrainedContract,
    MaxMinContract,
    PosteriorValue,
    RobustContract,
    bayes_optimal_contract,
    carroll_linear_contract,
    chance_constrained_contract,
    evaluate_contract,
    maxmin_contract,
)

__all__ = [
    "BayesOptimalContract",
    "CarrollLinearContract",
    "ChanceConstrainedContract",
    "MaxMinContract",
    "AgentPosterior",
    "ContractData",
    "DirichletPosterior",
    "PosteriorValue",
    "RobustContract",
    "ShareBands",
    "agent_posterior",
    "bayes_optimal_contract",
    "carroll_linear_contract",
    "chance_constrained_contract",
    "dirichlet_posterior",
    "evaluate_contract",
    "maxmin_contract",
    "share_bands",
    "QREEstimate",
    "QREPosterior",
    "qre_log_likelihood",
    "qre_mle",
    "qre_posterior",
    "simulate_qre_counts",
]
