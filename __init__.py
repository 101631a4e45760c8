"""socialign: a JAX engine for mechanism design and game solving.

The one import root of the distribution. Its subpackages load on first use, so
``import socialign`` is cheap and ``import socialign.solvers`` loads no Flax, orbax or OpenSpiel:

- :mod:`socialign.kernel`: the shared kernel (result codes, the iteration loop, batching,
  tolerances, validators, implicit differentiation).
- :mod:`socialign.solvers`: equilibrium solvers and the LP family.
- :mod:`socialign.mechanisms`: contracts, screening, persuasion, mechanism design, scoring rules.
- :mod:`socialign.llm_bridge`: the Flax NNX language-model bridge.

Importing it switches JAX's persistent compilation cache on (``~/.cache/socialign/jax``, or
``$SOCIALIGN_CACHE_DIR``, or a folder already configured for JAX), so a new process loads the
programs an earlier one compiled; ``SOCIALIGN_NO_COMPILE_CACHE=1`` opts out (see
:func:`socialign.kernel.enable_compile_cache`).

Example:
  >>> from socialign import solvers
  >>> rps = solvers.NormalFormGame.zero_sum([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])
  >>> round(float(solvers.solve(rps, solvers.ZeroSumLP()).values[0]), 6)
  0.0
"""

import importlib

# Only as the package `socialign`: pytest may import this file on its own (as a plain module,
# e.g. when the clone's folder name is not an identifier), where a relative import cannot work.
if __package__:
    from .kernel._cache import _switch_on_by_default

    _switch_on_by_default()

__version__ = "0.1.0"
__all__ = ["kernel", "llm_bridge", "mechanisms", "solvers"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
