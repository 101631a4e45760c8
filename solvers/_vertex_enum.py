r"""Vertex enumeration: every extreme Nash equilibrium of a two-player game, degenerate or not.

Following Avis, Rosenberg, Savani and von Stengel (2010), each player's payoffs are first mapped
affinely onto ``[1, 2]`` (``A' = 1 + (A - min A) / (max A - min A)``, likewise ``B'``; a
positive scaling and a shift, which keep every equilibrium), so that the best-response polytopes

    P = {x in R^m : x >= 0, B'^T x <= 1},      Q = {y in R^n : A' y <= 1, y >= 0}

are bounded, and every tolerance below is relative to each player's payoff range: multiplying a
player's payoffs by a positive number or adding a constant never changes the answer. A point of
``P`` has label ``i`` (a row, ``0 <= i < m``) when ``x_i = 0`` and label ``m + j`` (a column)
when ``(B'^T x)_j = 1``; ``Q`` likewise with ``(A' y)_i = 1`` and ``y_j = 0``. The extreme
equilibria are exactly the completely labelled vertex pairs ``(x, y) != (0, 0)``, normalised to
``(x / sum x, y / sum y)``, whether or not the game is degenerate.

The vertices are found on the host (numpy, float64). For small games every choice of ``m``
tight constraints of ``P`` (``n`` of ``Q``) is solved as one batched linear system; a
nonsingular choice whose solution is feasible is a vertex. For larger games (more than 2,000
such choices) a search over the feasible bases follows every feasible pivot from the vertex
``0``, ties in the ratio test included (lrs-style, with a visited set in place of reverse
search), so only feasible bases are solved. Either way a vertex is identified by its full label
set (the constraints tight within ``tol``), so the many bases of a degenerate vertex give one
vertex. A vertex of ``P`` with more than ``m`` labels (of ``Q`` with more than ``n``) exists
exactly when the game is degenerate, which is reported. Completely labelled pairs come from one
matrix product of the label masks.

With a continuum of equilibria the extreme equilibria are not isolated: the equilibrium set is a
finite union of *maximal Nash subsets* ``conv(X) x conv(Y)``, where ``X x Y`` is a maximal
biclique of the bipartite graph whose edges are the extreme equilibria (Avis et al. 2010,
section 6; Winkels 1979). They are returned as index sets (a mask over the extreme equilibria
per clique); cliques that share an extreme equilibrium lie in one connected component of the
equilibrium set, and each extreme equilibrium's component is returned as well.

The enumeration is host-side (it cannot run under ``jit``: the number of vertices is data
dependent and the clique step is combinatorial); the answer is a pytree of padded arrays with a
validity mask, counts, a degeneracy flag and a :class:`~socialign.kernel.Result` code per game,
so it can be passed into jitted code afterwards. A batch of games is enumerated game by game
and padded to a common size. The work grows with the number of feasible bases (guarded by
``max_bases``), at most ``C(m + n, m)`` per polytope.

References: D. Avis, G. D. Rosenberg, R. Savani and B. von Stengel, "Enumeration of Nash
equilibria for two-player games", Economic Theory 42(1), 9-37, 2010; B. von Stengel,
"Computing equilibria for two-person games", Handbook of Game Theory vol. 3, ch. 45, 2002;
H.-M. Winkels, "An algorithm to determine all equilibrium points of a bimatrix game", Game
Theory and Related Topics, 1979.

Example:
  >>> from socialign import solvers
  >>> g = solvers.NormalFormGame.from_bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 3], [2, 6], [3, 1]])
  >>> eqs = solvers.extreme_equilibria(g)
  >>> int(eqs.count), bool(eqs.degenerate), int(eqs.num_cliques)
  (3, True, 2)
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np

from ..kernel import (
    Result,
    check_positive_int,
    check_positive_scalar,
    is_concrete,
    lp_tol,
    pytree_dataclass,
)
from ._game import NormalFormGame

__all__ = ["ExtremeEquilibria", "extreme_equilibria"]

#: default bound on the number of feasible bases visited per polytope
MAX_BASES = 200_000
_CHUNK = 20_000
#: strictly dominated strategies are removed before the enumeration when that shrinks a
#: player's payoff range by more than this factor (:func:`_enumerate_one`)
_OUTLIER = 2.0 ** 10
#: games with at most this many bases per polytope are solved basis by basis (batched)
_ALL_BASES_MAX = 2_000


@pytree_dataclass
class ExtremeEquilibria:
    """Every extreme equilibrium of a two-player game, padded to fixed-size arrays.

    ``E`` is the largest number of extreme equilibria over the batch (at least 1), ``K`` the
    largest number of maximal Nash subsets (at least 1); slots past ``count`` (``num_cliques``)
    are zero / ``False`` / ``-1``.

    Attributes:
      strategies: ``(x [*batch, E, m], y [*batch, E, n])`` the extreme equilibria.
      values: ``[*batch, E, 2]`` expected payoffs ``(x^T A y, x^T B y)``.
      nash_conv: ``[*batch, E]`` NashConv of each extreme equilibrium (a certificate).
      valid: ``[*batch, E]`` bool, ``True`` for the first ``count`` slots.
      count: ``[*batch]`` int32 number of extreme equilibria.
      cliques: ``[*batch, K, E]`` bool: clique ``k`` (a maximal Nash subset ``conv(X) x conv(Y)``)
        holds the extreme equilibria ``e`` with ``cliques[k, e]`` (all of ``X x Y``).
      num_cliques: ``[*batch]`` int32 number of maximal Nash subsets.
      component: ``[*batch, E]`` int32 connected component of the equilibrium set holding each
        extreme equilibrium (``0..num_components-1``; ``-1`` in padding).
      num_components: ``[*batch]`` int32 number of connected components.
      degenerate: ``[*batch]`` bool, ``True`` when the game is degenerate (some mixed strategy
        with support of size ``k`` has more than ``k`` pure best responses). When strategies
        strictly dominated by a pure strategy stretch a player's payoff range more than
        1024-fold (a "disaster" row at -1e9 beside payoffs of +-1), they are removed before
        the enumeration (no equilibrium plays them; left in, the range that ``tol`` is
        relative to would hide the other payoffs' differences) and this flag is judged on the
        game without them.
      result: ``[*batch]`` int32 :class:`~socialign.kernel.Result`: ``CONVERGED`` when every
        extreme equilibrium found has NashConv within ``tol`` (relative to the payoff range),
        ``CERTIFICATE_ABOVE_TOLERANCE`` otherwise, ``FAILED`` if none was found (impossible in
        exact arithmetic: every game has an equilibrium).

    Example:
      >>> from socialign import solvers
      >>> bos = solvers.NormalFormGame.from_bimatrix([[3, 0], [0, 2]], [[2, 0], [0, 3]])
      >>> eqs = solvers.extreme_equilibria(bos)
      >>> int(eqs.count), bool(eqs.degenerate), eqs.strategies[0].shape
      (3, False, (3, 2))
    """

    strategies: tuple
    values: jax.Array
    nash_conv: jax.Array
    valid: jax.Array
    count: jax.Array
    cliques: jax.Array
    num_cliques: jax.Array
    component: jax.Array
    num_components: jax.Array
    degenerate: jax.Array
    result: jax.Array


def _normalise(M):
    """Map ``M`` affinely onto ``[1, 2]`` (constant matrices become all ones)."""
    lo, hi = M.min(), M.max()
    if hi - lo <= 0:
        return np.ones_like(M)
    return 1.0 + (M - lo) / (hi - lo)


def _vertices_by_bases(G, h, dim, tol):
    """Vertices of ``{z : G z <= h}`` (``G [L, dim]``) with their label masks ``[V, L]``.

    Every ``dim``-subset of the ``L`` constraints is tried as a basis (solved in batches);
    returns ``(points [V, dim], labels [V, L] bool)`` with one row per distinct vertex.
    """
    L = G.shape[0]
    points, masks = [], []
    combos = itertools.combinations(range(L), dim)
    while True:
        chunk = np.array(list(itertools.islice(combos, _CHUNK)), dtype=np.int64)
        if chunk.size == 0:
            break
        M = G[chunk]  # [c, dim, dim]
        s = np.linalg.svd(M, compute_uv=False)
        ok = s[:, -1] > 1e-10 * s[:, 0]
        if not np.any(ok):
            continue
        z = np.linalg.solve(M[ok], h[chunk[ok]][..., None])[..., 0]
        slack = h[None, :] - z @ G.T  # [c, L], >= 0 when feasible
        feasible = np.all(slack >= -tol, axis=1)
        points.append(z[feasible])
        masks.append(np.abs(slack[feasible]) <= tol)
    if not points:
        return np.zeros((0, dim)), np.zeros((0, L), bool)
    points, masks = np.concatenate(points), np.concatenate(masks)
    _, first = np.unique(masks, axis=0, return_index=True)
    first = np.sort(first)
    return points[first], masks[first]


def _vertices_by_pivoting(G, h, dim, tol, start, max_bases):
    """Vertices of the polytope ``{z : G z <= h}`` by a search over its feasible bases.

    Starting from the feasible basis ``start`` (``dim`` constraint indices), every feasible
    pivot is followed: a basic constraint ``r`` leaves, the point moves along the edge
    ``u = -G_B^{-1} e_r`` (away from constraint ``r``), and every constraint attaining the
    minimum ratio may enter (ties included, so the many bases of a degenerate vertex are all
    visited). The graph of feasible bases of a polytope is connected under these pivots (the
    simplex method with Bland's rule walks it), so the search finds every vertex, visiting only
    feasible bases (lrs-style, with a visited set instead of reverse search). Each basis is
    solved afresh, so rounding errors do not accumulate along the search.

    Raises:
      ValueError: if more than ``max_bases`` feasible bases are visited.
    """
    start = tuple(sorted(start))
    seen = {start}
    todo = [start]
    points, masks = [], []
    while todo:
        basis = todo.pop()
        M = G[list(basis)]
        inv = np.linalg.inv(M)
        z = inv @ h[list(basis)]
        slack = h - G @ z
        points.append(z)
        masks.append(np.abs(slack) <= tol)
        rates = -(G @ inv)  # [L, dim]: change of G_k z along the edge leaving basis[r]
        cand = rates > tol
        cand[list(basis)] = False
        ratio = np.where(cand, np.maximum(slack, 0.0)[:, None] / np.where(cand, rates, 1.0),
                         np.inf)
        best = ratio.min(0)  # an edge without candidates is unbounded: not in a polytope
        for k, r in zip(*np.nonzero(cand & (ratio <= best[None, :] + tol))):
            nxt = tuple(sorted(basis[:r] + basis[r + 1:] + (int(k),)))
            if nxt not in seen:
                seen.add(nxt)
                if len(seen) > max_bases:
                    raise ValueError(f"game: the best-response polytopes have more than "
                                     f"max_bases={max_bases} feasible bases; raise max_bases")
                todo.append(nxt)
    points, masks = np.asarray(points), np.asarray(masks)
    _, first = np.unique(masks, axis=0, return_index=True)
    first = np.sort(first)
    return points[first], masks[first]


def _maximal_bicliques(edges_x, edges_y):
    """Maximal bicliques of a bipartite graph given by its edge list (vertex ids per side).

    Returns a list of ``(X, Y)`` frozensets. ``Y`` ranges over the nonempty intersections of
    neighbourhoods ``N(x)`` (a closure system), and ``X = {x : Y <= N(x)}``.
    """
    nbr: dict[int, frozenset] = {}
    for a, b in zip(edges_x, edges_y):
        nbr[a] = nbr.get(a, frozenset()) | {b}
    closed: set[frozenset] = set()
    for a in sorted(nbr):
        new = {nbr[a]}
        for Y in closed:
            inter = Y & nbr[a]
            if inter:
                new.add(inter)
        closed |= new
    out = []
    for Y in closed:
        X = frozenset(a for a in nbr if Y <= nbr[a])
        out.append((X, Y))
    # keep only the maximal ones (Y closed and X its full preimage makes them maximal, but a
    # closed Y may have the same X as a larger closed Y; drop those)
    maximal = [(X, Y) for X, Y in out
               if not any(X <= X2 and Y < Y2 for X2, Y2 in out)]
    return sorted(maximal, key=lambda c: (min(c[0]), min(c[1]), len(c[0]), len(c[1])))


def _undominated(A, B, tol):
    """Rows and columns that survive iterated elimination of strategies strictly dominated by
    a pure strategy by more than ``tol`` times the player's payoff range in every column
    (row): ``(rows, cols)`` index arrays. No Nash equilibrium plays a strictly dominated
    strategy, so the equilibria are those of the game that is left, padded with zeros; the
    margin keeps ties (and near-ties) in."""
    rows, cols = np.arange(A.shape[0]), np.arange(A.shape[1])
    da, db = tol * np.ptp(A), tol * np.ptp(B)
    changed = True
    while changed:
        changed = False
        Ar = A[np.ix_(rows, cols)]
        beaten = np.all(Ar[:, None, :] > Ar[None, :, :] + da, axis=-1)    # [k, i]: k beats i
        keep = ~np.any(beaten, axis=0)
        if not keep.all():
            rows, changed = rows[keep], True
        Bc = B[np.ix_(rows, cols)]
        beaten = np.all(Bc.T[:, None, :] > Bc.T[None, :, :] + db, axis=-1)
        keep = ~np.any(beaten, axis=0)
        if not keep.all():
            cols, changed = cols[keep], True
    return rows, cols


def _enumerate_one(A, B, tol, max_bases, method=None):
    """Extreme equilibria of ``(A, B)``: strictly dominated strategies are removed first
    (:func:`_undominated`), so that a dominated strategy with an outlying payoff (a
    "disaster" row at -1e9 beside payoffs of +-1) neither stretches the payoff range that the
    tolerances are relative to nor makes the polytopes ill-conditioned; it once turned pure
    profiles of matching pennies into "equilibria"."""
    m, n = A.shape
    rows, cols = _undominated(A, B, tol)
    Ar, Br = A[np.ix_(rows, cols)], B[np.ix_(rows, cols)]
    # only where the dominated strategies stretch a player's payoff range (by more than
    # _OUTLIER): elsewhere the game is enumerated whole, and `degenerate` keeps its textbook
    # meaning for the game as given
    if not (0 < np.ptp(Ar) * _OUTLIER < np.ptp(A) or 0 < np.ptp(Br) * _OUTLIER < np.ptp(B)):
        return _enumerate_reduced(A, B, tol, max_bases, method)
    out = _enumerate_reduced(Ar, Br, tol, max_bases, method)
    x = np.zeros((len(out["x"]), m))
    y = np.zeros((len(out["y"]), n))
    x[:, rows], y[:, cols] = out["x"], out["y"]
    Ay, Bx = y @ A.T, x @ B     # the certificate on the whole game
    out["nash_conv"] = (Ay.max(1) - np.einsum("ei,ei->e", x, Ay)) + \
        (Bx.max(1) - np.einsum("ej,ej->e", y, Bx))
    out["x"], out["y"] = x, y
    return out


def _enumerate_reduced(A, B, tol, max_bases, method=None):
    m, n = A.shape
    An, Bn = _normalise(A), _normalise(B)
    # P: constraints -x_i <= 0 (label i), (B'^T x)_j <= 1 (label m + j)
    GP = np.concatenate([-np.eye(m), Bn.T])
    hP = np.concatenate([np.zeros(m), np.ones(n)])
    # Q: (A' y)_i <= 1 (label i), -y_j <= 0 (label m + j)
    GQ = np.concatenate([An, -np.eye(n)])
    hQ = np.concatenate([np.ones(m), np.zeros(n)])
    if method is None:
        method = "bases" if math.comb(m + n, m) <= _ALL_BASES_MAX else "pivoting"
    if method == "bases":
        xs, lx = _vertices_by_bases(GP, hP, m, tol)
        ys, ly = _vertices_by_bases(GQ, hQ, n, tol)
    else:  # start at the artificial vertex 0: x >= 0 tight (labels 0..m-1), y >= 0 tight
        xs, lx = _vertices_by_pivoting(GP, hP, m, tol, range(m), max_bases)
        ys, ly = _vertices_by_pivoting(GQ, hQ, n, tol, range(m, m + n), max_bases)
    degenerate = bool(np.any(lx.sum(1) > m) or np.any(ly.sum(1) > n))
    # drop the artificial vertex 0 of each polytope
    keep_x, keep_y = xs.sum(1) > tol, ys.sum(1) > tol
    xs, lx = xs[keep_x], lx[keep_x]
    ys, ly = ys[keep_y], ly[keep_y]
    # completely labelled: no label missing from both
    both_missing = (~lx).astype(np.float64) @ (~ly).astype(np.float64).T
    ix, iy = np.nonzero(both_missing == 0)
    x = np.maximum(xs[ix], 0.0)
    y = np.maximum(ys[iy], 0.0)
    x = x / x.sum(1, keepdims=True)
    y = y / y.sum(1, keepdims=True)
    Ay = y @ A.T  # [E, m]
    Bx = x @ B  # [E, n]
    va = np.einsum("ei,ei->e", x, Ay)
    vb = np.einsum("ej,ej->e", y, Bx)
    conv_a = (Ay.max(1) - va) / max(np.ptp(A), np.finfo(float).tiny)
    conv_b = (Bx.max(1) - vb) / max(np.ptp(B), np.finfo(float).tiny)
    nash_conv = (Ay.max(1) - va) + (Bx.max(1) - vb)
    cliques = _maximal_bicliques(ix.tolist(), iy.tolist())
    index = {(a, b): e for e, (a, b) in enumerate(zip(ix.tolist(), iy.tolist()))}
    members = [sorted(index[(a, b)] for a in X for b in Y) for X, Y in cliques]
    # components: union the members of every clique
    parent = list(range(len(ix)))

    def find(u):
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for mem in members:
        for e in mem[1:]:
            parent[find(e)] = find(mem[0])
    roots, component = {}, []
    for e in range(len(ix)):
        component.append(roots.setdefault(find(e), len(roots)))
    if len(ix) == 0:
        code = Result.FAILED
    elif np.all(conv_a + conv_b <= 10 * tol):
        code = Result.CONVERGED
    else:
        code = Result.CERTIFICATE_ABOVE_TOLERANCE
    return dict(x=x, y=y, values=np.stack([va, vb], -1), nash_conv=nash_conv,
                members=members, component=np.asarray(component, np.int64),
                num_components=len(roots), degenerate=degenerate, result=int(code))


def extreme_equilibria(game: NormalFormGame, *, tol: float | None = None,
                       max_bases: int = MAX_BASES) -> ExtremeEquilibria:
    r"""All extreme Nash equilibria of a two-player game by vertex enumeration (host-side).

    Works for degenerate games too (those have equilibria with supports of unequal size and
    continua of equilibria): the extreme equilibria are the completely labelled vertex pairs of
    the best-response polytopes (see the module docstring), the maximal Nash subsets are
    returned as cliques (index sets over the extreme equilibria), and a flag says whether the
    game is degenerate. Use it instead of :func:`all_equilibria` (support enumeration, jittable,
    nondegenerate games only) when a game may be degenerate.

    Args:
      game: a two-player :class:`solvers.NormalFormGame` ``[*batch, 2, m, n]`` with concrete
        payoffs (not a tracer: the enumeration runs on the host in float64).
      tol: tolerance on tight and violated constraints of the polytopes, whose data are mapped
        onto ``[1, 2]`` per player (so it is relative to each player's payoff range); default
        ``lp_tol(float64)`` = 1e-9. The NashConv certificate of ``result`` is checked against
        ``10 tol`` times the payoff range.
      max_bases: give up (``ValueError``) after visiting this many feasible bases of one
        polytope (a work and memory guard; only the pivoting search of games with more than
        2,000 bases per polytope visits them one by one).

    Returns:
      An :class:`ExtremeEquilibria` (numbers as JAX arrays in the game's dtype).

    Raises:
      TypeError: if ``game`` is not a :class:`NormalFormGame` or its payoffs are traced.
      ValueError: if it is not a two-player game, a polytope has more than ``max_bases``
        feasible bases, or ``tol`` / ``max_bases`` is out of range.

    Example:
      >>> from socialign import solvers
      >>> # a game with a continuum: the column player is indifferent when row plays 0
      >>> g = solvers.NormalFormGame.from_bimatrix([[1, 1], [0, 0]], [[1, 1], [0, 1]])
      >>> eqs = solvers.extreme_equilibria(g)
      >>> int(eqs.count), int(eqs.num_cliques), eqs.cliques[0].tolist()
      (2, 1, [True, True])
    """
    if not isinstance(game, NormalFormGame):
        raise TypeError(f"game must be a solvers.NormalFormGame, got {type(game).__name__}")
    if game.num_players != 2:
        raise ValueError(f"game: vertex enumeration needs a two-player game, got "
                         f"{game.num_players} players")
    if not is_concrete(game.payoffs):
        raise TypeError("game: extreme_equilibria runs on the host and needs concrete payoffs "
                        "(call it outside jit/vmap; pass the result into jitted code)")
    max_bases = check_positive_int(max_bases, "max_bases")
    m, n = game.num_actions
    if tol is None:
        tol = lp_tol("float64")
    check_positive_scalar(tol, "tol")
    tol = float(tol)
    payoffs = np.asarray(game.payoffs, np.float64)
    batch = game.batch_shape
    flat = payoffs.reshape(-1, 2, m, n)
    runs = [_enumerate_one(p[0], p[1], tol, max_bases) for p in flat]
    E = max(1, max(len(r["x"]) for r in runs))
    K = max(1, max(len(r["members"]) for r in runs))
    G = len(runs)
    x = np.zeros((G, E, m))
    y = np.zeros((G, E, n))
    values = np.zeros((G, E, 2))
    conv = np.zeros((G, E))
    valid = np.zeros((G, E), bool)
    cliques = np.zeros((G, K, E), bool)
    component = np.full((G, E), -1, np.int64)
    for g, r in enumerate(runs):
        c = len(r["x"])
        x[g, :c], y[g, :c], values[g, :c], conv[g, :c] = r["x"], r["y"], r["values"], \
            r["nash_conv"]
        valid[g, :c] = True
        component[g, :c] = r["component"]
        for k, mem in enumerate(r["members"]):
            cliques[g, k, mem] = True
    dtype = np.dtype(game.dtype)

    def arr(a, dt=dtype):
        return np.asarray(a.reshape((*batch, *a.shape[1:])), dt)

    def ints(key):
        return arr(np.array([r[key] for r in runs]), np.int32)

    host = ExtremeEquilibria(
        strategies=(arr(x), arr(y)), values=arr(values), nash_conv=arr(conv),
        valid=arr(valid, bool), count=arr(valid.sum(1), np.int32),
        cliques=arr(cliques, bool),
        num_cliques=arr(np.array([len(r["members"]) for r in runs]), np.int32),
        component=arr(component, np.int32), num_components=ints("num_components"),
        degenerate=arr(np.array([r["degenerate"] for r in runs]), bool),
        result=ints("result"))
    return jax.device_put(host)  # one transfer for every leaf
