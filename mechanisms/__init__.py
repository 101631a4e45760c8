"""socialign mechanisms: contracts, screening, information design and mechanism design.

Models are immutable pytrees of arrays (leading axes are batch axes); design functions return
certified results (duality gaps, KKT residuals, incentive violations).
"""

from ._amd import DirectMechanism, FiniteMechanismDesign, design_mechanism
from ._contracts import (
    best_linear_contract,
    contract_certificates,
    min_pay_contract,
    optimal_contract,
)
from ._len import LENContract, LENModel, len_closed_form, len_optimal_contract
from ._persuasion import BayesianPersuasion, SignalingScheme, optimal_signal
from ._principal_agent import AgentUtility, Contract, PrincipalAgent, QuantalResponse
from ._quantal import (
    agent_response,
    agent_utilities,
    principal_utility,
    quantal_contract,
    quantal_response_probs,
)
from ._scoring import (
    expected_score,
    log_score,
    properness_gap,
    quadratic_score,
    spherical_score,
)
from ._screening import Menu, Screening, optimal_menu, screening_closed_form

__all__ = [
    "AgentUtility",
    "BayesianPersuasion",
    "Contract",
    "DirectMechanism",
    "FiniteMechanismDesign",
    "LENContract",
    "LENModel",
    "Menu",
    "PrincipalAgent",
    "QuantalResponse",
    "Screening",
    "SignalingScheme",
    "agent_response",
    "agent_utilities",
    "best_linear_contract",
    "contract_certificates",
    "design_mechanism",
    "expected_score",
    "len_closed_form",
    "len_optimal_contract",
    "log_score",
    "min_pay_contract",
    "optimal_contract",
    "optimal_menu",
    "optimal_signal",
    "principal_utility",
    "properness_gap",
    "quadratic_score",
    "quantal_contract",
    "quantal_response_probs",
    "screening_closed_form",
    "spherical_score",
]
