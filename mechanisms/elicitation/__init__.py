"""socialign elicitation: paying for honest reports.

Two settings. *Peer prediction* (:mod:`._peer_prediction`): agents report private signals that
nobody can verify and are paid from the reports alone (Bayesian truth serum, correlated
agreement, determinant mutual information, output agreement), each with an exhaustive check of
whether truthful reporting is an equilibrium under a given common prior. *Reward reports for
fine-tuning* (:mod:`._payments`): stakeholders report reward functions to a KL-regularised
trainer, and affine-maximiser (Clarke-pivot) payments make truthful reports a dominant strategy;
an audit searches for profitable misreports by gradient ascent.
"""

# -- peer prediction (issue 11) --
from ._peer_prediction import (
    Truthfulness,
    bayesian_truth_serum,
    bts_truthfulness,
    ca_truthfulness,
    correlated_agreement,
    determinant_mutual_information,
    dmi_truthfulness,
    output_agreement,
    output_agreement_truthfulness,
    signal_joint,
    signal_score_matrix,
)

# -- payments for multi-stakeholder fine-tuning (issue 11) --
from ._payments import (
    MisreportAudit,
    affine_maximizer_payments,
    fine_tuning_policy,
    misreport_audit,
    party_utilities,
)

__all__ = [
    "MisreportAudit",
    "Truthfulness",
    "affine_maximizer_payments",
    "bayesian_truth_serum",
    "bts_truthfulness",
    "ca_truthfulness",
    "correlated_agreement",
    "determinant_mutual_information",
    "dmi_truthfulness",
    "fine_tuning_policy",
    "misreport_audit",
    "output_agreement",
    "output_agreement_truthfulness",
    "party_utilities",
    "signal_joint",
    "signal_score_matrix",
]
