"""``throw=True`` that works everywhere: eagerly, inside ``jax.jit`` and under ``jax.vmap``."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.experimental import io_callback

from ._checks import is_concrete
from ._result import Result

__all__ = ["NotConvergedError", "raise_if_failed"]


class NotConvergedError(RuntimeError):
    """Raised by ``throw=True`` when a solve or design did not converge."""


def _message(codes, who: str) -> str:
    codes = np.asarray(codes)
    bad = codes != Result.CONVERGED
    first = Result(int(codes[bad].flat[0]))
    return (f"{who} did not converge on {int(bad.sum())} of {codes.size} problem(s): "
            f"{first.message}. Pass throw=False to get the result anyway and read its "
            f"`result` field.")


def raise_if_failed(result, who: str) -> None:
    """Raise :class:`NotConvergedError` if any code in ``result`` is not ``CONVERGED``.

    On concrete values it raises at once. On traced values (inside a user's ``jax.jit`` or
    ``jax.vmap``) it stages a host callback that raises when the compiled function runs, so the
    error surfaces as a ``JaxRuntimeError`` whose message is this one (as optimistix does with
    ``throw=True``); it is never silently ignored.

    Args:
      result: an integer array of :class:`Result` codes, any shape.
      who: the name used in the message (the solver or designer).

    Raises:
      NotConvergedError: eagerly, if a code is not ``CONVERGED``.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.kernel import raise_if_failed
      >>> raise_if_failed(jnp.array([0, 1]), "Hedge")
      Traceback (most recent call last):
      ...
      socialign.kernel._throw.NotConvergedError: Hedge did not converge on 1 of 2 problem(s): max_steps reached before the certificate fell below tol. Pass throw=False to get the result anyway and read its `result` field.
    """
    if is_concrete(result):
        codes = np.asarray(result)
        if np.any(codes != Result.CONVERGED):
            raise NotConvergedError(_message(codes, who))
        return

    _staged_check(who, result)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _staged_check(who, codes):
    def check(codes):
        codes = np.asarray(codes)
        if np.any(codes != Result.CONVERGED):
            raise NotConvergedError(_message(codes, who))
        return codes

    return io_callback(check, jax.ShapeDtypeStruct(codes.shape, codes.dtype), codes,
                       ordered=False)


@_staged_check.defjvp
def _staged_check_jvp(who, primals, tangents):
    # integer codes carry no tangent; without this rule ``jax.grad``/``jax.jvp`` through a
    # solve with throw=True would stop at "IO callbacks do not support JVP" instead of reaching
    # the solver's own gradient (or its clear refusal)
    out = _staged_check(who, *primals)
    return out, np.zeros(out.shape, jax.dtypes.float0)
