"""One verb and one result for every mechanism: ``design(problem, designer) -> Design``.

Every designer of :mod:`socialign.mechanisms` (optimal and linear contracts, quantal and
risk-averse agents, screening menus, persuasion, automated mechanism design, LEN, and the
contracts under posterior uncertainty of :mod:`socialign.mechanisms.bayes`) is a
:class:`Designer`: an immutable pytree whose float settings are leaves, with one method
``design(problem, *, tol, max_steps) -> Design``. The entry function :func:`design` validates,
runs it (eagerly, inside a user's ``jax.jit`` or under ``jax.vmap`` alike) and applies ``throw``.
Field-specific functions (``optimal_contract``, ``optimal_menu``, ...) remain as shortcuts.

Glossary (one word per concept across socialign): ``principal_value`` (the designer's expected
value), ``agent_values`` (the agents' expected utilities), ``incentive_violation`` and
``participation_violation`` (largest violations, non-negative, zero when satisfied),
``temperature`` (the logit / quantal-response temperature), ``prior`` (a probability vector
over types or actions), ``certificate`` and ``result`` (as for solvers).
"""

from __future__ import annotations

import abc
import functools
from typing import Any

import jax

from ..kernel import (
    as_mesh,
    check_positive_int,
    check_positive_scalar,
    gather,
    pytree_dataclass,
    raise_if_failed,
    shard_batch,
)

__all__ = ["Design", "Designer", "design"]


@pytree_dataclass
class Design:
    """What every designer returns; every field carries the problem's batch axes ``[*batch]``.

    Attributes:
      mechanism: the designed object (a :class:`Contract`, :class:`Menu`,
        :class:`SignalingScheme`, :class:`DirectMechanism`, ...), itself a pytree.
      principal_value: ``[*batch]`` the designer's (principal's, sender's, seller's) expected
        value, in the problem's payoff units.
      agent_values: ``[*batch, ...]`` the agents' expected utilities (per agent type or action
        where the problem has several).
      incentive_violation: ``[*batch]`` the largest gain of any agent (type) from deviating
        (misreporting, another action), ``>= 0``; zero when incentive compatible.
      participation_violation: ``[*batch]`` the largest shortfall below the outside option,
        ``>= 0``; zero when individually rational.
      certificate: ``[*batch]`` the designer's own convergence measure (duality gap, KKT
        residual; 0 for closed forms), compared with ``tol``.
      result: ``[*batch]`` ``int32`` :class:`socialign.kernel.Result` code.
      stats: dict of diagnostics (e.g. ``num_steps``).

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
      >>> d = mechanisms.design(pa, mechanisms.OptimalContract())
      >>> [round(float(t), 6) for t in d.mechanism.payments], float(d.incentive_violation)
      ([0.0, 2.5], 0.0)
    """

    mechanism: Any
    principal_value: jax.Array
    agent_values: jax.Array
    incentive_violation: jax.Array
    participation_violation: jax.Array
    certificate: jax.Array
    result: jax.Array
    stats: dict


class Designer(abc.ABC):
    """Base of every designer: an immutable pytree configuration with one ``design`` method.

    Subclasses are :func:`socialign.kernel.pytree_dataclass` classes. ``problem_types`` lists
    the problem classes accepted (checked by :func:`design`).

    Example:
      >>> from socialign import mechanisms
      >>> isinstance(mechanisms.OptimalContract(), mechanisms.Designer)
      True
      >>> mechanisms.OptimalContract().problem_types[0].__name__
      'PrincipalAgent'
    """

    #: problem classes this designer accepts
    problem_types: tuple = ()
    #: ``True`` for designers that read the problem's batch axis as samples of one problem
    #: (posterior draws) and return one design for all of them; :func:`design` refuses a mesh
    draws_axis: bool = False

    @abc.abstractmethod
    def design(self, problem, *, tol, max_steps: int) -> Design:
        """Design for ``problem`` (any batch axes); pure and jittable."""

    def validate(self, problem) -> None:
        """Raise ``TypeError`` if this designer cannot handle ``problem``."""
        if self.problem_types and not isinstance(problem, self.problem_types):
            names = ", ".join(t.__name__ for t in self.problem_types)
            raise TypeError(f"{type(self).__name__} designs for {names}, got problem of type "
                            f"{type(problem).__name__}")


def design(problem, designer: Designer, *, tol=None, max_steps: int = 200,
           throw: bool = True, mesh=None) -> Design:
    """Design a mechanism for ``problem`` with ``designer`` and certify it.

    Args:
      problem: a problem pytree (``PrincipalAgent``, ``Screening``, ``BayesianPersuasion``,
        ``FiniteMechanismDesign``, ``LENModel``, ...), with any leading batch axes.
      designer: a :class:`Designer` instance, e.g. ``mechanisms.OptimalContract()``.
      tol: tolerance on the certificate; default: the designer's, from
        :func:`socialign.kernel.default_tol` / :func:`socialign.kernel.lp_tol` of the dtype.
      max_steps: iteration budget of iterative designers (static, positive).
      throw: raise :class:`socialign.kernel.NotConvergedError` if any member is not certified
        (eagerly, or at run time inside ``jax.jit``); ``False`` to read ``result``.
      mesh: for a batched problem, ``None`` (one device) or a :class:`jax.sharding.Mesh` or a
        sequence of devices: the batch is split over them and each device designs for its
        shard (:func:`socialign.kernel.shard_batch`, as ``solvers.solve(mesh=)``). The robust
        designers of :mod:`socialign.mechanisms.bayes` (whose batch axis is the posterior
        draws of one problem) refuse a mesh.

    Returns:
      A :class:`Design`.

    Raises:
      TypeError: if ``designer`` is not a designer instance or cannot handle ``problem``,
        ``throw`` is not a bool, or ``mesh`` is not a mesh or a sequence of devices.
      ValueError: if ``max_steps`` or ``tol`` is out of range, or a ``mesh`` is given to a
        designer whose batch axis is posterior draws (``socialign.mechanisms.bayes``).
      NotConvergedError: with ``throw=True``, if a design is not certified.

    Example:
      >>> from socialign import mechanisms
      >>> pa = mechanisms.PrincipalAgent([[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 10.0])
      >>> d = mechanisms.design(pa, mechanisms.OptimalContract())
      >>> round(float(d.principal_value), 6)
      6.0
    """
    if isinstance(designer, type):
        raise TypeError("designer must be an instance, not a class: write Designer(), not "
                        "Designer")
    if not isinstance(designer, Designer):
        raise TypeError(f"designer must be a socialign.mechanisms.Designer instance (e.g. "
                        f"mechanisms.OptimalContract()), got {type(designer).__name__}")
    designer.validate(problem)
    max_steps = check_positive_int(max_steps, "max_steps")
    if tol is not None:
        check_positive_scalar(tol, "tol", allow_zero=True)
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    mesh = as_mesh(mesh)
    if mesh is not None and designer.draws_axis:
        raise ValueError(f"mesh: {type(designer).__name__} reads the problem's batch axis as "
                         f"posterior draws of one problem and designs once for all of them; "
                         f"it cannot be split over devices (pass mesh=None)")
    batch_shape = tuple(getattr(problem, "batch_shape", ()))
    if mesh is None or not batch_shape:
        out = designer.design(problem, tol=tol, max_steps=max_steps)
    else:
        out = _design_sharded(problem, designer, tol, max_steps=max_steps,
                              batch_shape=batch_shape, mesh=mesh)
    if throw:
        raise_if_failed(gather(out.result), type(designer).__name__)
    return out


@functools.partial(jax.jit, static_argnames=("max_steps", "batch_shape", "mesh"))
def _design_sharded(problem, designer, tol, *, max_steps, batch_shape, mesh):
    return shard_batch(lambda shard: designer.design(shard, tol=tol, max_steps=max_steps),
                       problem, batch_shape=batch_shape, mesh=mesh)
