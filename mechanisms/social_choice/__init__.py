"""socialign social choice: preference profiles, voting rules, axioms, PrefLib files, comparisons.

Profiles are immutable pytrees of arrays whose leading axes are batch axes; every rule runs
eagerly, under ``jax.jit`` and under ``jax.vmap`` with the same answer and returns the set of
tied winners as a boolean mask over candidates. The margin-based rules (Copeland, minimax,
Schulze, ranked pairs, Kemeny-Young, maximal lotteries) also accept a :class:`MarginGraph`,
so a batch read by several of them has its margins computed once.
"""

# -- profiles (issue 11) --
from ._profile import (
    MarginGraph,
    Profile,
    condorcet_loser,
    condorcet_winner,
    majority_matrix,
    margin_matrix,
    support_matrix,
)

# -- random profiles (issue 11) --
from ._generators import impartial_culture, mallows, polya_urn, single_peaked

# -- PrefLib files (issue 11) --
from ._preflib import PrefLibInstance, read_preflib, write_preflib

# -- axioms (issue 11) --
from ._axioms import AXIOMS, AxiomCheck, Counterexample, check_axiom, find_violation

# -- voting rules (issue 11) --
from ._rules import (
    MAX_KEMENY_CANDIDATES,
    Outcome,
    borda,
    copeland,
    instant_runoff,
    kemeny_young,
    maximal_lotteries,
    minimax,
    plurality,
    random_dictatorship,
    ranked_pairs,
    schulze,
)

# -- from comparisons to rewards (issue 11, part B) --
from ._aggregate import (
    Aggregate,
    egalitarian,
    maximal_lottery,
    nash_preference_equilibrium,
    nash_welfare,
    utilitarian,
)
from ._comparisons import (
    ComparisonFit,
    ComparisonMM,
    ComparisonNewton,
    bradley_terry,
    plackett_luce,
    win_probabilities,
)

__all__ = [
    "AXIOMS",
    "AxiomCheck",
    "Aggregate",
    "ComparisonFit",
    "ComparisonMM",
    "ComparisonNewton",
    "Counterexample",
    "MAX_KEMENY_CANDIDATES",
    "MarginGraph",
    "Outcome",
    "PrefLibInstance",
    "Profile",
    "borda",
    "check_axiom",
    "bradley_terry",
    "condorcet_loser",
    "condorcet_winner",
    "copeland",
    "find_violation",
    "egalitarian",
    "impartial_culture",
    "instant_runoff",
    "kemeny_young",
    "mallows",
    "majority_matrix",
    "margin_matrix",
    "maximal_lottery",
    "maximal_lotteries",
    "minimax",
    "nash_preference_equilibrium",
    "nash_welfare",
    "plackett_luce",
    "plurality",
    "polya_urn",
    "random_dictatorship",
    "ranked_pairs",
    "read_preflib",
    "schulze",
    "single_peaked",
    "support_matrix",
    "utilitarian",
    "win_probabilities",
    "write_preflib",
]
