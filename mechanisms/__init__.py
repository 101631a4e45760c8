"""socialign mechanisms: contracts, screening, information design and mechanism design.

Models are immutable pytrees of arrays (leading axes are batch axes); design functions return
certified results (duality gaps, KKT residuals, incentive violations).
"""

from ._amd import DirectMechanism, FiniteMechanismDesign, OptimalMechanism, design_mechanism
from ._contracts import (
    BestLinearContract,
    MinPayContract,
    OptimalContract,
    best_linear_contract,
    contract_certificates,
    min_pay_contract,
    optimal_contract,
)
from ._design import Design, Designer, design
from ._len import (
    LENClosedForm,
    LENContract,
    LENModel,
    LENNumeric,
    len_closed_form,
    len_optimal_contract,
)
from ._persuasion import BayesianPersuasion, OptimalSignal, SignalingScheme, optimal_signal
from ._principal_agent import (
    CARA,
    AgentUtility,
    Contract,
    Log,
    PrincipalAgent,
    QuantalResponse,
    Sqrt,
    min_pay_lps,
)
from ._quantal import (
    QuantalDesign,
    agent_response,
    agent_values,
    principal_value,
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
from . import incomplete_contracts, social_choice
from . import elicitation
from . import bayes
from . import auctions
from . import envs
from ._screening import (
    ClosedFormMenu,
    LogSurplus,
    Menu,
    OptimalMenu,
    QuadraticSurplus,
    Screening,
    Surplus,
    optimal_menu,
    screening_closed_form,
)

__all__ = [
    "AgentUtility",
    "BayesianPersuasion",
    "BestLinearContract",
    "CARA",
    "ClosedFormMenu",
    "Contract",
    "Design",
    "Designer",
    "DirectMechanism",
    "FiniteMechanismDesign",
    "LENClosedForm",
    "LENContract",
    "LENModel",
    "LENNumeric",
    "Log",
    "LogSurplus",
    "Menu",
    "MinPayContract",
    "OptimalContract",
    "OptimalMechanism",
    "OptimalMenu",
    "OptimalSignal",
    "PrincipalAgent",
    "QuadraticSurplus",
    "QuantalDesign",
    "QuantalResponse",
    "Screening",
    "SignalingScheme",
    "Sqrt",
    "Surplus",
    "agent_response",
    "auctions",
    "agent_values",
    "bayes",
    "best_linear_contract",
    "contract_certificates",
    "design",
    "design_mechanism",
    "elicitation",
    "envs",
    "expected_score",
    "incomplete_contracts",
    "len_closed_form",
    "len_optimal_contract",
    "log_score",
    "min_pay_contract",
    "min_pay_lps",
    "optimal_contract",
    "optimal_menu",
    "optimal_signal",
    "principal_value",
    "properness_gap",
    "quadratic_score",
    "quantal_contract",
    "quantal_response_probs",
    "screening_closed_form",
    "social_choice",
    "spherical_score",
]
