"""socialign solvers: batched, certified equilibrium computation in JAX.

Games are immutable pytrees; solvers are immutable configurations with pure ``init``/``step``;
:func:`solve` runs them in one jitted loop and returns a certified :class:`Equilibrium`.
"""

from ._game import NormalFormGame, stack
from ._metrics import (
    action_values,
    best_response,
    best_response_gains,
    expected_values,
    nash_conv,
    payoff_ranges,
    relative_nash_conv,
)
from ..kernel import Result, result_message
from ._equilibrium import Equilibrium
from ._solve import Solver, solve

# -- normal-form solvers (issue 2) --
from ._dynamics import (
    FictitiousPlay,
    Hedge,
    OptimisticHedge,
    PredictiveRegretMatchingPlus,
    RegretMatching,
    RegretMatchingPlus,
    ReplicatorDynamics,
    SimultaneousRegretMatchingPlus,
)
from ._lemke_howson import LemkeHowson
from ._qre import LogitQRE, quantal_response
from ._support_enum import EquilibriumSet, SupportEnumeration, all_equilibria
from ._vertex_enum import ExtremeEquilibria, extreme_equilibria

# -- linear programming core (issue 2) --
from ._linprog import LPSolution, linprog
from ._lp_solvers import CoarseCorrelatedEquilibrium, CorrelatedEquilibrium, ZeroSumLP

# -- extensive-form games (issue 5) --
from ._cfr import CFR, MCCFR, CFRPlus, DiscountedCFR, PredictiveCFRPlus
from ._efg import ExtensiveFormGame
from ._efg_metrics import exploitability
from ._sequence_form import SequenceFormLP
from ._backward_induction import SubgamePerfect, backward_induction  # (issue 10)

# -- repeated games (issue 10) --
from ._repeated import (
    AbreuSannikov,
    CriticalDiscount,
    EquilibriumPayoffs,
    JuddYeltekinConklin,
    RepeatedGame,
    equilibrium_payoffs,
    grim_trigger_discount,
    penal_code_discount,
)

# -- Stackelberg and commitment (issue 3) --
from ._stackelberg import bayesian_stackelberg, stackelberg

__all__ = [
    "penal_code_discount",
    "grim_trigger_discount",
    "equilibrium_payoffs",
    "RepeatedGame",
    "JuddYeltekinConklin",
    "EquilibriumPayoffs",
    "CriticalDiscount",
    "AbreuSannikov",
    "CFR",
    "CFRPlus",
    "CoarseCorrelatedEquilibrium",
    "CorrelatedEquilibrium",
    "DiscountedCFR",
    "Equilibrium",
    "EquilibriumSet",
    "ExtensiveFormGame",
    "ExtremeEquilibria",
    "FictitiousPlay",
    "Hedge",
    "LPSolution",
    "LemkeHowson",
    "LogitQRE",
    "MCCFR",
    "NormalFormGame",
    "OptimisticHedge",
    "PredictiveCFRPlus",
    "PredictiveRegretMatchingPlus",
    "RegretMatching",
    "RegretMatchingPlus",
    "ReplicatorDynamics",
    "Result",
    "SequenceFormLP",
    "SimultaneousRegretMatchingPlus",
    "Solver",
    "SubgamePerfect",
    "SupportEnumeration",
    "ZeroSumLP",
    "action_values",
    "all_equilibria",
    "backward_induction",
    "bayesian_stackelberg",
    "best_response",
    "best_response_gains",
    "expected_values",
    "exploitability",
    "extreme_equilibria",
    "linprog",
    "nash_conv",
    "payoff_ranges",
    "quantal_response",
    "relative_nash_conv",
    "result_message",
    "solve",
    "stack",
    "stackelberg",
]
