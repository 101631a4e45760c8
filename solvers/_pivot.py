r"""The one pivot kernel of socialign: tableau pivots, ratio tests and their tolerance rule.

Every pivoting method of the engine (the primal and the dual simplex on the compact Tucker
tableau, Lemke-Howson's complementary pivoting on the full one) is built from the functions
here, so they share one tolerance rule:

  **a number counts as nonzero only when its magnitude exceeds** ``pivot_tol(dtype) * scale``,

where :func:`socialign.kernel.pivot_tol` is ``1e3 * eps`` of the dtype and ``scale`` is the scale
(:func:`socialign.kernel.scale_of`) of the line of the *current* tableau that the number is
compared within (the entering column or leaving row for pivot elements, the column of basic
values, the row of reduced costs): entries grow and shrink as a method pivots, and their
rounding errors with them. The rule is relative, so rescaling a problem's data (cents or
millions) never changes a pivot. :func:`threshold` computes it. Ratio tests also accept an
``eligible`` mask, so that a method can exclude what it knows is not a candidate (the basic
columns of a full tableau, whose entries are zero up to rounding).

Operations (pure array code, elementwise and ``vmap``-friendly: a batch pivots together):

- :func:`pivot`: a Gauss-Jordan pivot on a full tableau (basis columns kept explicitly).
- :func:`exchange`: a Tucker exchange on a compact tableau (only the non-basic columns kept).
- :func:`primal_ratio_test`: the minimum-ratio test of the primal simplex (leaving row).
- :func:`dual_ratio_test`: the ratio test of the dual simplex (entering column).
- :func:`lexicographic_ratio_test`: the minimum-ratio test with lexicographic tie-breaking
  (Lemke-Howson; rules out cycling on degenerate problems).

References: G. B. Dantzig, *Linear Programming and Extensions* (1963), ch. 7 (pivots and ratio
tests); A. W. Tucker, "A combinatorial equivalence of matrices" (1960) (compact tableau); C. E.
Lemke, "The dual method of solving the linear programming problem" (1954); R. G. Bland, "New
finite pivoting rules for the simplex method", Math. Oper. Res. 1977.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..kernel import pivot_tol, scale_of

__all__ = [
    "dual_ratio_test",
    "exchange",
    "lexicographic_ratio_test",
    "pivot",
    "primal_ratio_test",
    "threshold",
]


def threshold(reference, axis=None):
    """The kernel's tolerance rule: ``pivot_tol(dtype) * scale_of(reference)``.

    Args:
      reference: the data a number is compared against (e.g. the constraint matrix), an array.
      axis: the axes over which the scale is taken (all by default).

    Returns:
      A non-negative array (a scalar by default): magnitudes at or below it count as zero.

    Raises:
      TypeError: if ``reference`` is not floating.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import threshold
      >>> x = jnp.array([1.0, -4.0], dtype=jnp.float32)
      >>> round(float(threshold(x)) / float(jnp.finfo(jnp.float32).eps))   # 1e3 eps * max|x|
      4000
    """
    reference = jnp.asarray(reference)
    return pivot_tol(reference.dtype) * scale_of(reference, axis=axis)


def pivot(tableau, row, col, active=True):
    r"""Gauss-Jordan pivot of a full tableau on element ``(row, col)``.

    Divides row ``row`` by the pivot element and eliminates column ``col`` from every other row
    (including an objective row, if the tableau carries one): ``T' = T - T[:, col] (T[row] /
    T[row, col])^T`` with row ``row`` replaced by ``T[row] / T[row, col]``.

    Args:
      tableau: ``[rows, cols]`` floating array.
      row, col: integer scalars (may be traced); the pivot element must be nonzero (callers pick
        it with a ratio test, which only offers elements above :func:`threshold`).
      active: bool scalar (may be traced); ``False`` returns ``tableau`` unchanged, at the cost
        of a row and a column select rather than a pass over the tableau.

    Returns:
      The pivoted tableau, same shape and dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import pivot
      >>> pivot(jnp.array([[2., 4., 2.], [1., 3., 4.]]), 0, 0).tolist()
      [[1.0, 2.0, 1.0], [0.0, 1.0, 3.0]]
    """
    prow = tableau[row] / tableau[row, col]
    col_v = tableau[:, col]
    if active is not True:  # a no-op pivot: eliminate nothing, write row ``row`` back
        prow = jnp.where(active, prow, tableau[row])
        col_v = jnp.where(active, col_v, 0.0)
    is_r = (jnp.arange(tableau.shape[0]) == row)[:, None]
    return jnp.where(is_r, prow[None, :], tableau - col_v[:, None] * prow[None, :])


def exchange(tableau, row, col, active=True, column=None, pivot_row=None):
    r"""Tucker exchange of a compact tableau on element ``(row, col)``.

    The compact tableau keeps only the non-basic columns: ``basic = T[:, :-1] nonbasic`` (plus
    the last column). Exchanging basic variable ``row`` with non-basic ``col`` (pivot ``p``):
    ``T'[r, c] = 1/p``, ``T'[r, j] = T[r, j]/p``, ``T'[i, c] = -T[i, c]/p``, and
    ``T'[i, j] = T[i, j] - T[i, c] T[r, j] / p`` elsewhere: one fused pass over the tableau
    (the ``active`` mask folds into the row and column selects of that pass, so a batch member
    that has stopped costs no second pass).

    Args:
      tableau: ``[rows, cols]`` floating array.
      row, col: integer scalars (may be traced), a nonzero pivot element.
      active: bool scalar (may be traced); ``False`` returns ``tableau`` unchanged (in value,
        whatever the element at ``(row, col)``, even zero).
      column: ``tableau[:, col]`` if the caller has it already (a batched gather saved).
      pivot_row: ``tableau[row]`` if the caller has it already.

    Returns:
      The exchanged tableau, same shape and dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import exchange
      >>> exchange(jnp.array([[2., 1.], [4., 3.]]), 0, 0).tolist()
      [[0.5, 0.5], [-2.0, 1.0]]
      >>> exchange(jnp.array([[0., 1.], [4., 3.]]), 0, 0, active=False).tolist()
      [[0.0, 1.0], [4.0, 3.0]]
    """
    m, n = tableau.shape
    pcol = tableau[:, col] if column is None else column
    prow = tableau[row] if pivot_row is None else pivot_row
    p = pcol[row] if column is not None or pivot_row is None else prow[col]
    if active is not True:  # a stopped member: eliminate nothing, select nothing
        p = jnp.where(active, p, 1.0)
        pcol = jnp.where(active, pcol, 0.0)
    prow = prow / p
    is_r = (jnp.arange(m) == row) & active
    is_c = (jnp.arange(n) == col) & active
    return jnp.where(is_r[:, None], jnp.where(is_c[None, :], 1.0 / p, prow[None, :]),
                     jnp.where(is_c[None, :], -pcol[:, None] / p,
                               tableau - pcol[:, None] * prow[None, :]))


def primal_ratio_test(column, values, tol, *, labels=None, bland=False):
    """Minimum-ratio test of the primal simplex: the row that leaves when a column enters.

    Rows with ``column > tol`` are candidates; the row with the smallest ``values / column``
    leaves. Ties are broken by the smallest index, or, with ``bland=True``, by the smallest
    ``labels`` among rows whose ratio ties the minimum (Bland's rule, which cannot cycle).

    Args:
      column: ``[m]`` the entering column.
      values: ``[m]`` the current basic values (non-negative in a feasible tableau).
      tol: the pivot threshold (:func:`threshold` of ``column``).
      labels: ``[m]`` integer labels of the basic variables (for ``bland``).
      bland: bool scalar (may be traced): use Bland's tie-breaking.

    Returns:
      ``(row, ok)``: the leaving row (int scalar) and whether a candidate existed (``ok`` false
      means the entering column is a ray: the LP is unbounded along it).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import primal_ratio_test
      >>> r, ok = primal_ratio_test(jnp.array([1., 2., -1.]), jnp.array([3., 2., 1.]), 1e-9)
      >>> int(r), bool(ok)
      (1, True)
    """
    positive = column > tol
    ratios = jnp.where(positive, values / jnp.where(positive, column, 1.0), jnp.inf)
    # the chosen row is a candidate iff any row is (the key is finite exactly on candidates), so
    # `ok` is one element, not another reduction over the column
    if labels is None:
        r = jnp.argmin(ratios)
        return r, positive[r]
    # one argmin over a key (the ratios, or the tied rows' labels under Bland's rule): an
    # argmin is a variadic reduction, several times dearer than a min on CPUs
    best = jnp.min(ratios)
    tied = positive & (ratios <= best + tol * jnp.abs(best))
    key = jnp.where(bland, jnp.where(tied, labels, jnp.inf).astype(ratios.dtype), ratios)
    r = jnp.argmin(key)
    return r, positive[r]


def dual_ratio_test(row, reduced, tol, eligible=None, *, labels=None):
    """Ratio test of the dual simplex: the column that enters when a row leaves.

    Columns with ``row < -tol`` are candidates; the one with the smallest ``reduced / -row``
    enters, which keeps every reduced cost non-negative. Exact ties go to the smallest index, or,
    with ``labels``, to the smallest label (on a compact tableau the column index is not the
    variable's label; breaking ties by label keeps Bland's rule, which cannot cycle).

    Args:
      row: ``[k]`` the leaving row of the tableau.
      reduced: ``[k]`` the reduced costs (non-negative in a dual-feasible tableau).
      tol: the pivot threshold (:func:`threshold` of ``row``).
      eligible: ``[k]`` bool, the columns that may enter (default: all); pass the non-basic
        columns of a full tableau.
      labels: ``[k]`` integer labels of the columns' variables (for tie-breaking).

    Returns:
      ``(col, ok)``: the entering column and whether a candidate existed (``ok`` false with a
      negative basic value in the row certifies primal infeasibility: Farkas' lemma).

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import dual_ratio_test
      >>> c, ok = dual_ratio_test(jnp.array([-1., -2., 1.]), jnp.array([3., 2., 0.]), 1e-9)
      >>> int(c), bool(ok)
      (1, True)
      >>> c, ok = dual_ratio_test(jnp.array([-1., -1.]), jnp.array([1., 1.]), 1e-9,
      ...                         labels=jnp.array([7, 3]))   # a tie: label 3 enters
      >>> int(c)
      1
    """
    negative = row < -tol
    if eligible is not None:
        negative = negative & eligible
    ratios = jnp.where(negative, jnp.maximum(reduced, 0.0) / jnp.where(negative, -row, 1.0),
                       jnp.inf)
    if labels is None:
        return jnp.argmin(ratios), jnp.any(negative)
    tied = negative & (ratios == jnp.min(ratios))
    big = jnp.iinfo(jnp.asarray(labels).dtype).max
    return jnp.argmin(jnp.where(tied, labels, big)), jnp.any(negative)


def lexicographic_ratio_test(column, keys, tol):
    """Minimum-ratio test with lexicographic tie-breaking (no cycling on degenerate problems).

    Rows with ``column > tol`` are candidates. Among them the rows minimising
    ``keys[:, 0] / column`` are kept (ties within ``tol`` relative), then those minimising
    ``keys[:, 1] / column``, and so on; the first survivor leaves. With ``keys`` the right-hand
    side followed by the columns of the initial basis (the current basis inverse), the surviving
    row is unique, which is the lexicographic rule of Dantzig, Orden and Wolfe (1955) used by
    Lemke-Howson.

    Args:
      column: ``[m]`` the entering column.
      keys: ``[m, k]`` tie-breaking keys, right-hand side first.
      tol: the pivot threshold (:func:`threshold`).

    Returns:
      ``(row, ok)``: the leaving row and whether a candidate existed.

    Example:
      >>> import jax.numpy as jnp
      >>> from socialign.solvers._pivot import lexicographic_ratio_test
      >>> keys = jnp.array([[1., 0., 1.], [1., 1., 0.]])   # a tie on the first key
      >>> r, ok = lexicographic_ratio_test(jnp.array([1., 1.]), keys, 1e-9)
      >>> int(r), bool(ok)
      (0, True)
    """
    pos = column > tol
    safe = jnp.where(pos, column, 1.0)
    scaled = keys / safe[:, None]

    def refine(c, cand):
        vals = scaled[:, c]
        best = jnp.min(jnp.where(cand, vals, jnp.inf))
        return cand & (vals <= best + tol * (1.0 + jnp.abs(best)))

    cand = jax.lax.fori_loop(0, keys.shape[1], refine, pos)
    return jnp.argmax(cand), jnp.any(pos)
