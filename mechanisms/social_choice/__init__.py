"""socialign social choice: preference profiles, voting rules, axioms, PrefLib files, comparisons.

Profiles are immutable pytrees of arrays whose leading axes are batch axes; every rule runs
eagerly, under ``jax.jit`` and under ``jax.vmap`` with the same answer and returns the set of
tied winners as a boolean mask over candidates.
"""

# -- profiles (issue 11) --
from ._profile import (
    Profile,
    condorcet_loser,
    condorcet_winner,
    majority_matrix,
    margin_matrix,
    support_matrix,
)

__all__ = [
    "Profile",
    "condorcet_loser",
    "condorcet_winner",
    "majority_matrix",
    "margin_matrix",
    "support_matrix",
]
