"""The socialign kernel: what every solver and designer shares.

Imports flow one way: ``kernel -> solvers -> mechanisms -> llm_bridge``. The kernel holds

- one result enumeration: :class:`Result`, :func:`result_message`;
- one iteration driver: :class:`IterativeSolver`, :func:`iterate` (and, for batches: all
  members on one step count, :func:`iterate_lockstep`; members whose step counts differ
  widely, refilled slots, :func:`iterate_batch`), :class:`Iteration`, and one
  rule for when it checks: :class:`GeometricChecks`, :func:`as_check_schedule`;
- one batching rule: :func:`batch_map`, over many devices too: :func:`shard_batch`,
  :func:`as_mesh`, :func:`batch_sharding`, :func:`gather`;
- one persistent compilation cache (on by default): :func:`enable_compile_cache`,
  :func:`compile_cache_dir`, :func:`clear_compile_cache`;
- one way to declare pytrees: :func:`pytree_dataclass`, :func:`static_field`;
- one ``throw``: :func:`raise_if_failed`, :class:`NotConvergedError`;
- one adjoint: :class:`ImplicitAdjoint`, :func:`implicit_solution`;
- one place for tolerances: :func:`eps`, :func:`default_tol`, :func:`lp_tol`, :func:`pivot_tol`,
  :func:`scale_of`;
- one set of input validators: :func:`as_float_array`, :func:`check_finite`,
  :func:`check_simplex`, :func:`check_positive_int`, :func:`check_positive_scalar`,
  :func:`is_concrete`.
"""

from ._adjoint import ImplicitAdjoint, implicit_solution, no_gradient
from ._batch import batch_map, check_batch_size
from ._cache import clear_compile_cache, compile_cache_dir, enable_compile_cache
from ._checks import (
    as_float_array,
    check_finite,
    check_positive_int,
    check_positive_scalar,
    check_simplex,
    is_concrete,
)
from ._iterate import (
    GeometricChecks,
    Iteration,
    IterativeSolver,
    all_finite,
    as_check_schedule,
    iterate,
    iterate_batch,
    iterate_lockstep,
)
from ._module import pytree_dataclass, static_field
from ._result import Result, result_message
from ._shard import as_mesh, batch_sharding, gather, shard_batch
from ._throw import NotConvergedError, raise_if_failed
from ._tolerance import default_tol, eps, lp_tol, pivot_tol, scale_of

__all__ = [
    "GeometricChecks",
    "ImplicitAdjoint",
    "Iteration",
    "IterativeSolver",
    "NotConvergedError",
    "Result",
    "all_finite",
    "as_mesh",
    "as_check_schedule",
    "as_float_array",
    "batch_map",
    "batch_sharding",
    "check_batch_size",
    "check_finite",
    "check_positive_int",
    "check_positive_scalar",
    "check_simplex",
    "clear_compile_cache",
    "compile_cache_dir",
    "default_tol",
    "enable_compile_cache",
    "eps",
    "gather",
    "implicit_solution",
    "is_concrete",
    "iterate",
    "iterate_batch",
    "iterate_lockstep",
    "lp_tol",
    "no_gradient",
    "pivot_tol",
    "pytree_dataclass",
    "raise_if_failed",
    "result_message",
    "scale_of",
    "shard_batch",
    "static_field",
]
