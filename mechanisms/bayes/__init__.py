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

__all__ = [
    "QREEstimate",
    "QREPosterior",
    "qre_log_likelihood",
    "qre_mle",
    "qre_posterior",
    "simulate_qre_counts",
]
