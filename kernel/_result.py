"""Result codes: the one enumeration of why a solve or a design stopped.

Failures are values (as in optimistix): every solve returns a ``result`` code, an ``int32`` array
so that a ``vmap``-ed batch reports per element, and :class:`Result` turns a code back into a
message.
"""

from __future__ import annotations

import enum

__all__ = ["Result", "result_message"]


class Result(enum.IntEnum):
    """Why a solve or a design stopped. Stored in results as ``int32`` arrays.

    Every solver and designer of socialign reports one of these codes; only ``CONVERGED`` means
    the answer's certificate was checked and is within tolerance. The other codes say why not:

    - ``MAX_STEPS_REACHED``: the iteration budget ran out first (the answer may be close).
    - ``NONFINITE``: a NaN or inf appeared in the iterates or the certificate.
    - ``INFEASIBLE`` / ``UNBOUNDED``: the problem has no solution, certified by a ray.
    - ``FAILED``: the algorithm gave up for a reason not listed here; not certified.
    - ``DEGENERATE_PIVOT``: a pivoting method (simplex, Lemke-Howson) met a degenerate or cycling
      pivot, or a pivot element too small to trust.
    - ``STALLED``: an iterative method stopped making progress before reaching tolerance.
    - ``CERTIFICATE_ABOVE_TOLERANCE``: the method finished, but checking its answer on the
      original data gave a certificate (duality gap, incentive violation, NashConv) above ``tol``.
    - ``SINGULAR``: a linear system the method must solve was singular or too ill-conditioned.

    Example:
      >>> from socialign.kernel import Result, result_message
      >>> Result(3).name, result_message(0)
      ('INFEASIBLE', 'converged: the certificate is within tolerance')
    """

    CONVERGED = 0
    MAX_STEPS_REACHED = 1
    NONFINITE = 2
    INFEASIBLE = 3
    UNBOUNDED = 4
    FAILED = 5
    DEGENERATE_PIVOT = 6
    STALLED = 7
    CERTIFICATE_ABOVE_TOLERANCE = 8
    SINGULAR = 9

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Result.CONVERGED: "converged: the certificate is within tolerance",
    Result.MAX_STEPS_REACHED: "max_steps reached before the certificate fell below tol",
    Result.NONFINITE: "a non-finite value (NaN or inf) appeared in the iterates",
    Result.INFEASIBLE: "the problem is infeasible",
    Result.UNBOUNDED: "the problem is unbounded (a ray certifies dual infeasibility: unbounded "
    "whenever it is feasible)",
    Result.FAILED: "the algorithm failed; the returned point is not certified",
    Result.DEGENERATE_PIVOT: "a degenerate, cycling or numerically unsafe pivot stopped the "
    "pivoting method; the returned point is not certified",
    Result.STALLED: "the iterates stopped making progress before the certificate fell below tol",
    Result.CERTIFICATE_ABOVE_TOLERANCE: "the method finished, but the certificate checked on the "
    "original data is above tol",
    Result.SINGULAR: "a linear system was singular or too ill-conditioned to solve",
}


def result_message(code) -> str:
    """Return the message of a result code.

    Args:
      code: an ``int`` or a scalar integer array holding a :class:`Result` value.

    Returns:
      The code's message, a ``str``.

    Raises:
      ValueError: if ``code`` is not a known result code.

    Example:
      >>> from socialign.kernel import result_message
      >>> result_message(1)
      'max_steps reached before the certificate fell below tol'
    """
    return Result(int(code)).message
