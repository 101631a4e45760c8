"""socialign solvers: batched, certified equilibrium computation in JAX.

Games are immutable pytrees; solvers are immutable configurations with pure ``init``/``step``;
:func:`solve` runs them in one jitted loop and returns a certified :class:`Equilibrium`.
"""

from solvers._game import NormalFormGame, stack
from solvers._metrics import (
    action_values,
    best_response,
    best_response_gains,
    expected_values,
    nash_conv,
)
from solvers._result import Equilibrium, Result, result_message
from solvers._solve import Solver, solve

# -- normal-form solvers (issue 2) --
from solvers._dynamics import (
    FictitiousPlay,
    Hedge,
    OptimisticHedge,
    RegretMatching,
    RegretMatchingPlus,
    ReplicatorDynamics,
)
from solvers._lemke_howson import LemkeHowson
from solvers._qre import LogitQRE, quantal_response
from solvers._support_enum import EquilibriumSet, SupportEnumeration, all_equilibria

# -- linear programming core (issue 2) --
from solvers._linprog import LPSolution, linprog
from solvers._lp_solvers import CoarseCorrelatedEquilibrium, CorrelatedEquilibrium, ZeroSumLP

# -- extensive-form games (issue 5) --
from solvers._cfr import CFR, MCCFR, CFRPlus, DiscountedCFR, PredictiveCFRPlus
from solvers._efg import ExtensiveFormGame
from solvers._efg_metrics import exploitability
from solvers._sequence_form import SequenceFormLP

# -- Stackelberg and commitment (issue 3) --
from solvers._stackelberg import bayesian_stackelberg, stackelberg

__all__ = [
    "bayesian_stackelberg",
    "stackelberg",
    "FictitiousPlay",
    "Hedge",
    "OptimisticHedge",
    "RegretMatching",
    "RegretMatchingPlus",
    "ReplicatorDynamics",
    "LemkeHowson",
    "LogitQRE",
    "quantal_response",
    "EquilibriumSet",
    "SupportEnumeration",
    "all_equilibria",
    "CFR",
    "CFRPlus",
    "DiscountedCFR",
    "ExtensiveFormGame",
    "MCCFR",
    "PredictiveCFRPlus",
    "SequenceFormLP",
    "exploitability",
    "CoarseCorrelatedEquilibrium",
    "CorrelatedEquilibrium",
    "ZeroSumLP",
    "Equilibrium",
    "LPSolution",
    "NormalFormGame",
    "Result",
    "Solver",
    "action_values",
    "best_response",
    "best_response_gains",
    "expected_values",
    "linprog",
    "nash_conv",
    "result_message",
    "solve",
    "stack",
]
