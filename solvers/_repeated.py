r"""Repeated two-player games: subgame-perfect equilibrium payoff sets and critical discounts.

A :class:`RepeatedGame` is a two-player stage game ``u: A_1 x A_2 -> R^2`` played infinitely
often with perfect monitoring, a common discount factor ``delta`` (normalised payoffs
``(1 - delta) sum_t delta^t u(a_t)``) and a public randomisation device. Its set ``V`` of
pure-strategy subgame-perfect equilibrium (SPE) payoffs is the largest fixed point of the
Abreu-Pearce-Stacchetti (1990) operator

.. math::
    B(W) = \operatorname{co} \bigcup_a \{(1 - \delta) u(a) + \delta w :
      w \in W,\ w \ge \underline w(W) + \tfrac{1 - \delta}{\delta} (d(a) - u(a))\},

where ``d_i(a) = max_{a_i'} u_i(a_i', a_{-i})`` is player ``i``'s best deviation payoff and
``underline w_i(W) = min_{w in W} w_i`` the worst punishment in ``W``.
:func:`equilibrium_payoffs` brackets ``V``:

- **inner** (:class:`AbreuSannikov`): the Abreu-Sannikov (2014) exact-vertex iteration, which
  keeps at most four candidate points per action profile (the ends of the IC-constrained slices
  of the current set and the corner of the IC quadrant, or ``u(a)`` itself when ``a`` forever is
  self-enforcing) and converges from the feasible set down to ``V``. Its final polygon ``W`` is
  then checked to be self-generating (``W subset B(W)``, which implies ``W subset V``): every
  vertex ``v`` must be ``(1 - delta) u(a) + delta w`` with ``w`` in ``W`` and IC; the largest
  violation (relative to the larger player's payoff range) is the ``certificate``.
- **outer** (:class:`JuddYeltekinConklin`): the Judd-Yeltekin-Conklin (2003) outer
  approximation on ``D`` fixed directions ``h_d``: ``W = {w : h_d . w <= c_d}`` and
  ``c_d <- max_a max {h_d . ((1 - delta) u(a) + delta w) : w in W, w >= IC(a)}``, starting from
  the support function of the feasible set. Every iterate contains ``V``. The small LPs (two
  variables) are solved exactly in closed form: the optimum is one of the polygon's vertices in
  the IC quadrant, an edge's crossing with an IC line, or the quadrant's corner.

The Hausdorff distance between the inner and outer polygons is the ``bracket_width``: ``V`` lies
between them. Both iterations run on the kernel loop (:func:`socialign.kernel.iterate`) at fixed
shapes (masks, never data-dependent subsets), so a batch of stage games and discount factors is
one ``vmap``.

References:
  D. Abreu, D. Pearce and E. Stacchetti, "Toward a theory of discounted repeated games with
  imperfect monitoring", Econometrica 58(5), 1990.
  K. L. Judd, S. Yeltekin and J. Conklin, "Computing supergame equilibria", Econometrica 71(4),
  2003.
  D. Abreu and Y. Sannikov, "An algorithm for two-player repeated games with perfect
  monitoring", Theoretical Economics 9(2), 2014.
  D. Abreu, "On the theory of infinitely repeated games with discounting", Econometrica 56(2),
  1988 (optimal penal codes).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import (
    IterativeSolver,
    Result,
    as_float_array,
    batch_map,
    check_batch_size,
    check_finite,
    check_positive_int,
    default_tol,
    eps,
    is_concrete,
    iterate,
    iterate_batch,
    lp_tol,
    no_gradient,
    pytree_dataclass,
    raise_if_failed,
    static_field,
)
from ._game import NormalFormGame

__all__ = [
    "AbreuSannikov",
    "CriticalDiscount",
    "EquilibriumPayoffs",
    "JuddYeltekinConklin",
    "RepeatedGame",
    "equilibrium_payoffs",
    "grim_trigger_discount",
    "penal_code_discount",
]


# --------------------------------------------------------------------------------------------
# The game
# --------------------------------------------------------------------------------------------
@pytree_dataclass(init=False)
class RepeatedGame:
    """A two-player stage game repeated infinitely often with a common discount factor.

    Attributes:
      payoffs: ``[*batch, 2, m, n]`` stage payoffs (``payoffs[0]`` to the row player,
        ``payoffs[1]`` to the column player; a leaf).
      discount: ``[*batch]`` discount factor ``delta`` in ``(0, 1)`` (a leaf: batch or ``vmap``
        over it); broadcast against the stage games' batch shape.

    Raises:
      TypeError: if the payoffs or the discount are not numeric.
      ValueError: if the stage game is not a two-player game, a concrete payoff is not finite,
        a concrete discount is not in ``(0, 1)``, or the batch shapes do not broadcast.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> g = solvers.RepeatedGame(pd, [0.5, 0.9])
      >>> g.batch_shape, g.num_actions
      ((2,), (2, 2))
    """

    payoffs: jax.Array
    discount: jax.Array

    def __init__(self, stage_game, discount):
        if isinstance(stage_game, NormalFormGame):
            if stage_game.num_players != 2:
                raise ValueError(f"stage_game must be a two-player game, got "
                                 f"{stage_game.num_players} players")
            payoffs = stage_game.payoffs
        else:
            payoffs = as_float_array(stage_game, "stage_game")
            if payoffs.ndim < 3 or payoffs.shape[-3] != 2 or 0 in payoffs.shape[-2:]:
                raise ValueError(f"stage_game must be a NormalFormGame or payoffs of shape "
                                 f"[*batch, 2, m, n] with m, n >= 1; got shape "
                                 f"{tuple(payoffs.shape)}")
            check_finite(payoffs, "stage_game")
        discount = as_float_array(discount, "discount")
        check_finite(discount, "discount")
        if is_concrete(discount) and not bool(np.all((np.asarray(discount) > 0)
                                                     & (np.asarray(discount) < 1))):
            raise ValueError(f"discount must lie in (0, 1); got {np.asarray(discount)}")
        try:
            batch = jnp.broadcast_shapes(payoffs.shape[:-3], discount.shape)
        except ValueError:
            raise ValueError(f"the stage games' batch shape {tuple(payoffs.shape[:-3])} and the "
                             f"discount's shape {tuple(discount.shape)} do not broadcast") from None
        dtype = jnp.result_type(payoffs, discount)
        object.__setattr__(self, "payoffs",
                           jnp.broadcast_to(payoffs, batch + payoffs.shape[-3:]).astype(dtype))
        object.__setattr__(self, "discount", jnp.broadcast_to(discount, batch).astype(dtype))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.payoffs.shape[:-3])

    @property
    def num_actions(self) -> tuple[int, int]:
        return tuple(self.payoffs.shape[-2:])


# --------------------------------------------------------------------------------------------
# Geometry at fixed shapes
# --------------------------------------------------------------------------------------------
def _big(dtype):
    return jnp.asarray(np.finfo(dtype).max / 16, dtype)


def _payoff_range(U):
    """The larger player's payoff range ``max_i (max u_i - min u_i)`` (at least the dtype's
    smallest normal number): what every tolerance here is relative to, so that answers do not
    change when a player's payoffs are shifted or all payoffs scaled."""
    span = jnp.max(jnp.max(U, axis=(-2, -1)) - jnp.min(U, axis=(-2, -1)), axis=-1)
    return jnp.maximum(span, jnp.finfo(U.dtype).tiny)


def _profiles(U):
    """Payoff points ``[A, 2]`` and normalised deviation gains ``d(a) - u(a)`` ``[A, 2]``."""
    d0 = jnp.max(U[0], axis=0, keepdims=True) - U[0]
    d1 = jnp.max(U[1], axis=1, keepdims=True) - U[1]
    pay = U.reshape(2, -1).T
    gain = jnp.stack([d0, d1]).reshape(2, -1).T
    return pay, gain


def _slices(a, b, M, x, tol):
    """Range ``(lo, hi)`` of ``b`` over the slices ``{a = x}`` of the hull of points ``(a, b)``.

    ``a, b: [K]`` the points' coordinates along and across the slicing line, with mask
    ``M: [K]`` (no hull needed), ``x: [Q]``; an empty slice gives ``lo > hi``. Computed from
    the hull's envelopes without ordering the points: with the points ordered by ``(a, b)``
    and ``s_ij`` the slope between ``i`` and ``j`` (``+inf`` for equal ``a``), ``i`` is a
    vertex of the upper envelope iff the largest slope to a later point is below the smallest
    slope from an earlier one, and that smallest slope is its left edge's. A concave function
    is the minimum of its edges' lines, so the upper end of the slice at ``x`` is the minimum
    of the upper vertices' left-edge lines (the lower end: the maximum of the lower
    vertices'), for ``x`` in the points' range; points within ``tol`` of ``x`` are slice ends
    themselves (a point, or a segment along the line). ``O(K^2 + Q K)`` elementwise work, no
    sort and no sequential loop, so it vectorises.
    """
    big = _big(a.dtype)
    da = a[None, :] - a[:, None]                                 # [i, j]: a_j - a_i
    db = b[None, :] - b[:, None]
    both = M[:, None] & M[None, :]
    later = both & ((da > 0) | ((da == 0) & (db > 0)))          # j after i
    earlier = both & ((da < 0) | ((da == 0) & (db < 0)))        # j before i
    s = jnp.where(da != 0, db / jnp.where(da != 0, da, 1), big)  # symmetric
    # point i's slopes are row i and, s being symmetric, column i: all four are reduced over
    # the rows (the minor axis's reductions run in a slower library kernel on CPUs)
    up_later = jnp.max(jnp.where(earlier, s, -big), axis=0)
    up_edge = jnp.min(jnp.where(later, s, big), axis=0)
    low_later = jnp.min(jnp.where(earlier, s, big), axis=0)
    low_edge = jnp.max(jnp.where(later, s, -big), axis=0)
    upper = M & (up_later < up_edge) & (up_edge < big)
    lower = M & (low_later > low_edge) & (low_edge > -big)
    X = x[:, None]
    span = (jnp.min(jnp.where(M, a, big)) <= x) & (x <= jnp.max(jnp.where(M, a, -big))) & \
        jnp.any(upper)
    hi = jnp.where(span, jnp.min(jnp.where(upper, b + (X - a) * up_edge, big), axis=1), -big)
    lo = jnp.where(span, jnp.max(jnp.where(lower, b + (X - a) * low_edge, -big), axis=1), big)
    single = M & (jnp.abs(a - X) <= tol)
    hi = jnp.maximum(hi, jnp.max(jnp.where(single, b, -big), axis=1))
    lo = jnp.minimum(lo, jnp.min(jnp.where(single, b, big), axis=1))
    return lo, hi


def _cross(o, a, b):
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - \
        (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0])


def _chain(Q, valid, tol):
    """One monotone chain (Andrew 1979) of sorted points ``Q`` with a fixed-size stack."""
    K = Q.shape[0]

    def body(carry, x):
        H, t = carry
        p, ok = x

        def cond(c):
            H, t = c
            return (t >= 2) & (_cross(H[jnp.maximum(t - 2, 0)], H[jnp.maximum(t - 1, 0)], p)
                               <= tol)

        H2, t2 = jax.lax.while_loop(cond, lambda c: (c[0], c[1] - 1), (H, t))
        dup = (t2 >= 1) & (jnp.max(jnp.abs(H2[jnp.maximum(t2 - 1, 0)] - p)) <= tol)
        push = ok & ~dup
        H3 = H2.at[jnp.minimum(t2, K - 1)].set(p)
        return (jnp.where(push, H3, jnp.where(ok, H2, H)),
                jnp.where(push, t2 + 1, jnp.where(ok, t2, t))), None

    (H, t), _ = jax.lax.scan(body, (jnp.zeros_like(Q), jnp.int32(0)), (Q, valid))
    return H, t


def convex_hull(P, M, tol, snap):
    """Counter-clockwise hull vertices ``[K, 2]`` (padded with the first) and their count.

    Points are sorted by ``x`` rounded to multiples of ``snap`` (then by ``y``): points on a
    vertical edge whose ``x`` differ by rounding noise are then ordered along the edge, which
    the monotone chain needs.
    """
    K = P.shape[0]
    big = _big(P.dtype)
    x = jnp.round(P[:, 0] / snap)
    order = jnp.lexsort((jnp.where(M, P[:, 1], big), jnp.where(M, x, big)))
    Q, valid = P[order], M[order]
    lower, tl = _chain(Q, valid, tol)
    upper, tu = _chain(Q[::-1], valid[::-1], tol)
    nl = jnp.maximum(tl - 1, 0)
    count = nl + jnp.maximum(tu - 1, 0)
    j = jnp.arange(K)
    out = jnp.where((j < nl)[:, None], lower[jnp.minimum(j, K - 1)],
                    upper[jnp.clip(j - nl, 0, K - 1)])
    count = jnp.where(jnp.any(M), jnp.maximum(count, 1), 0)
    out = jnp.where((j < count)[:, None], out, out[0])
    return out, count.astype(jnp.int32)


def _drop_flat(V, count, tol):
    """Drop the vertices of a convex polygon within ``tol`` of their neighbours' chord."""
    K = V.shape[0]
    j = jnp.arange(K)
    live = j < count
    prev = V[jnp.where(j > 0, j - 1, jnp.maximum(count - 1, 0))]
    nxt = V[jnp.where(j + 1 < count, j + 1, 0)]
    e = nxt - prev
    ee = jnp.sum(e * e, axis=-1)
    t = jnp.clip(jnp.sum((V - prev) * e, axis=-1) / jnp.where(ee > 0, ee, 1), 0, 1)
    d = jnp.linalg.norm(V - prev - t[:, None] * e, axis=-1)
    keep = live & ((d > tol) | (count <= 2))
    order = jnp.argsort(jnp.where(keep, j, K + j))
    n = jnp.sum(keep).astype(jnp.int32)
    W = V[order]
    return jnp.where((j < n)[:, None], W, W[0]), n


def _polygon_distance(w, V, count, tol):
    """Euclidean distance from points ``w [..., 2]`` to the convex polygon ``V[:count]``.

    Written per coordinate (no trailing axis of length 2, which XLA's CPU code does not
    vectorise) and with one square root per point, of the smallest squared distance.
    """
    K = V.shape[0]
    j = jnp.arange(K)
    live = j < count
    V2 = V[jnp.where(j + 1 < count, j + 1, 0)]
    ex, ey = V2[:, 0] - V[:, 0], V2[:, 1] - V[:, 1]
    px, py = w[..., 0, None] - V[:, 0], w[..., 1, None] - V[:, 1]
    ee = ex * ex + ey * ey
    t = jnp.clip((px * ex + py * ey) / jnp.where(ee > 0, ee, 1), 0, 1)
    dx, dy = px - t * ex, py - t * ey
    d2 = jnp.min(jnp.where(live, dx * dx + dy * dy, _big(V.dtype)), axis=-1)
    inside = (count >= 3) & jnp.all(jnp.where(live, ex * py - ey * px >= -tol, True), axis=-1)
    return jnp.where(inside, 0.0, jnp.sqrt(d2))


def _hausdorff(V1, n1, V2, n2, tol):
    d12 = jnp.max(jnp.where(jnp.arange(V1.shape[0]) < n1, _polygon_distance(V1, V2, n2, tol), 0))
    d21 = jnp.max(jnp.where(jnp.arange(V2.shape[0]) < n2, _polygon_distance(V2, V1, n1, tol), 0))
    return jnp.maximum(d12, d21)


def _directions(D, dtype):
    th = 2 * np.pi * np.arange(D) / D
    return jnp.asarray(np.stack([np.cos(th), np.sin(th)], axis=1), dtype)


def _outer_vertices(H, c):
    """Vertices of ``{w : H w <= c}`` for tight levels: consecutive lines' intersections."""
    H2, c2 = jnp.roll(H, -1, axis=0), jnp.roll(c, -1)
    det = H[:, 0] * H2[:, 1] - H[:, 1] * H2[:, 0]
    x = (c * H2[:, 1] - c2 * H[:, 1]) / det
    y = (c2 * H[:, 0] - c * H2[:, 0]) / det
    return jnp.stack([x, y], axis=1)


# --------------------------------------------------------------------------------------------
# Abreu-Sannikov (inner, exact vertices)
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class ASState:
    """State of :class:`AbreuSannikov`: ``points [4A, 2]`` with ``mask``, threat point ``[2]``.

    ``stage`` holds what the steps read of the stage game, computed once by ``init``: the payoff
    points ``[A, 2]``, deviation gains ``[A, 2]`` and the payoff range (a batched loop whose
    members change, as :func:`socialign.kernel.iterate_batch`'s, cannot hoist them).
    """

    points: jax.Array
    mask: jax.Array
    threat: jax.Array
    change: jax.Array
    empty: jax.Array
    stage: tuple


@pytree_dataclass
class AbreuSannikov(IterativeSolver):
    """The Abreu-Sannikov (2014) iteration on the point set of a two-player repeated game.

    ``problem`` is ``(payoffs [2, m, n], discount)``. The state keeps ``4 m n`` candidate points
    (four slots per action profile, masked). One step applies the operator ``R`` of Abreu and
    Sannikov: for each profile ``a`` with IC point ``IC(a) = u + (1 - delta)/delta (d(a) -
    u(a))`` (``u`` the current threat point), either ``u(a)`` itself (when ``u(a) >= IC(a)``
    and ``u(a)`` is in the current set) or ``(1 - delta) u(a) + delta c`` for the at most four
    extreme points ``c`` of the current set on the boundary of the IC quadrant; then
    ``u_i <- max(u_i, min_i W)``. It stops when the points and the threat point move by at most
    ``tol`` (relative to the larger player's payoff range), or reports ``INFEASIBLE`` when no
    profile is enforceable (no pure SPE). The answer matches QuantEcon.py's ``equilibrium_payoffs``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign import solvers
      >>> from socialign.kernel import iterate
      >>> U = jnp.array([[[9., 1.], [10., 3.]], [[9., 10.], [1., 3.]]])
      >>> it = iterate(solvers.AbreuSannikov(), (U, 0.9), 1e-12, jax.random.key(0),
      ...              max_steps=2000)
      >>> int(it.result), [round(float(x), 6) for x in it.state.threat]
      (0, [3.0, 3.0])
    """

    def init(self, problem, key):
        U, delta = problem
        pay, gain = _profiles(U)
        A = pay.shape[0]
        P = jnp.zeros((A, 4, 2), U.dtype).at[:, 0].set(pay).reshape(-1, 2)
        M = jnp.zeros((A, 4), bool).at[:, 0].set(True).reshape(-1)
        return ASState(P, M, jnp.min(pay, axis=0), jnp.ones((), U.dtype), jnp.asarray(False),
                       (pay, gain, _payoff_range(U)))

    def step(self, problem, state):
        U, delta = problem
        pay, gain, scale = state.stage
        A = pay.shape[0]
        tol = lp_tol(U.dtype) * scale
        big = _big(U.dtype)
        P, M, u = state.points, state.mask, state.threat
        # per coordinate throughout: XLA's CPU code does not vectorise a trailing axis of 2
        x, y = P[:, 0], P[:, 1]
        ux, uy = pay[:, 0], pay[:, 1]
        ic_x = u[0] + (1 - delta) / delta * gain[:, 0]
        ic_y = u[1] + (1 - delta) / delta * gain[:, 1]
        # the current set's slices along the IC lines and through the payoff points, read off
        # its envelopes (no hull: the sort and the monotone chain's sequential stack cost ~6x
        # the rest of the step under vmap)
        lo, hi = _slices(x, y, M, jnp.concatenate([ic_x, ux]), tol)
        lo1, hi1, plo, phi = lo[:A], hi[:A], lo[A:], hi[A:]
        lo2, hi2 = _slices(y, x, M, ic_y, tol)
        # as QuantEcon.py: the IC test is exact, the hull test has a small tolerance
        self_ok = (ux >= ic_x) & (uy >= ic_y) & (plo <= uy + tol) & (uy <= phi + tol)
        cx = jnp.stack([ic_x, ic_x, hi2, jnp.maximum(lo2, ic_x)], 1)
        cy = jnp.stack([hi1, jnp.maximum(lo1, ic_y), ic_y, ic_y], 1)
        valid = jnp.stack([hi1 > ic_y + tol, hi1 >= ic_y - tol,
                           hi2 > ic_x + tol, hi2 >= ic_x - tol], axis=1)
        valid = jnp.where(self_ok[:, None], jnp.arange(4) == 0, valid).reshape(-1)
        nx = jnp.where(self_ok[:, None], ux[:, None], (1 - delta) * ux[:, None] + delta * cx)
        ny = jnp.where(self_ok[:, None], uy[:, None], (1 - delta) * uy[:, None] + delta * cy)
        nx = jnp.where(valid, nx.reshape(-1), 0)
        ny = jnp.where(valid, ny.reshape(-1), 0)
        empty = ~jnp.any(valid)
        un = jnp.maximum(u, jnp.stack([jnp.min(jnp.where(valid, nx, big)),
                                       jnp.min(jnp.where(valid, ny, big))]))
        both = valid & M
        move = jnp.maximum(jnp.abs(nx - x), jnp.abs(ny - y))
        change = jnp.maximum(jnp.max(jnp.where(both, move, 0)), jnp.max(jnp.abs(un - u))) / scale
        change = jnp.where(jnp.any(valid != M), jnp.ones_like(change), change)
        keep = lambda new_, old: jnp.where(empty, old, new_)  # noqa: E731
        return ASState(keep(jnp.stack([nx, ny], 1), P), keep(valid, M), keep(un, u), change,
                       empty, state.stage)

    def terminate(self, problem, state, tol):
        done = (state.change <= tol) | state.empty
        code = jnp.where(state.empty, Result.INFEASIBLE, Result.CONVERGED).astype(jnp.int32)
        return done, code, state.change


# --------------------------------------------------------------------------------------------
# Judd-Yeltekin-Conklin (outer)
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class JYCState:
    """State of :class:`JuddYeltekinConklin`: support levels ``[D]`` on fixed directions.

    ``stage``: the payoff points, deviation gains and payoff range, as :class:`ASState`'s.
    """

    levels: jax.Array
    change: jax.Array
    empty: jax.Array
    stage: tuple


def _jyc_update(pay, gain, delta, H, c, tol):
    """One application of the JYC outer operator: new levels ``[D]`` and "nothing enforceable".

    For each profile ``a`` the two-variable LP ``max h_d . w`` over the polygon's part in the IC
    quadrant ``{w >= IC(a)}`` is solved by its candidate optima: the polygon's vertices inside
    the quadrant, the ends of the polygon's slices along the two IC lines (a line crosses a
    convex polygon's boundary at most twice, and a linear function on a segment is largest at
    an end) and the quadrant's corner when it lies inside the polygon.

    Written per coordinate, as broadcast products ``x h_x + y h_y``: a trailing axis of length 2
    (points ``[..., 2]``, or a matrix product contracting it) is not vectorised by XLA's CPU
    code under ``vmap``.
    """
    big = _big(pay.dtype)
    D = H.shape[0]
    hx, hy = H[:, 0], H[:, 1]
    V = _outer_vertices(H, c)
    vx, vy = V[:, 0], V[:, 1]                                    # [D]
    wx, wy = jnp.roll(vx, -1), jnp.roll(vy, -1)                  # the next vertex
    ic = [jnp.min(v) + (1 - delta) / delta * gain[:, i] for i, v in enumerate((vx, vy))]  # [A]
    # vertices in the quadrant. Along the convex polygon's boundary h_d . V_j is unimodal in j
    # and the vertices inside the (convex) quadrant form one arc: the largest value over the
    # arc is the polygon's own maximiser when it lies on the arc, else one of the arc's ends
    # (every level is tight: vertex j is where lines j and j + 1 meet, so direction d is
    # maximised, at level c_d, by vertices d - 1 and d)
    ok_v = (vx >= ic[0][:, None] - tol) & (vy >= ic[1][:, None] - tol)   # [A, D]
    j = jnp.arange(D)
    # the arc's ends as plain min reductions over indices (an argmax is a slower, variadic one)
    first = jnp.min(jnp.where(ok_v & ~jnp.roll(ok_v, 1, axis=1), j, D), axis=1) % D
    last = jnp.min(jnp.where(ok_v & ~jnp.roll(ok_v, -1, axis=1), j, D), axis=1) % D
    ends = jnp.maximum(vx[first][:, None] * hx + vy[first][:, None] * hy,
                       vx[last][:, None] * hx + vy[last][:, None] * hy)     # [A, D]
    on_arc = ok_v | jnp.roll(ok_v, 1, axis=1)                    # vertex d or d - 1 inside
    enforce = jnp.any(ok_v, axis=1)
    support = jnp.where(on_arc, c[None, :], jnp.where(enforce[:, None], ends, -big))
    along = ((vx, wx, hx), (vy, wy, hy))
    for i in (0, 1):
        (a, a2, ha), (b, b2, hb) = along[i], along[1 - i]
        den = a2 - a
        nz = jnp.abs(den) > 0
        t = (ic[i][:, None] - a) / jnp.where(nz, den, 1)
        other = b + jnp.clip(t, 0, 1) * (b2 - b)
        ok = nz & (t >= 0) & (t <= 1) & (other >= ic[1 - i][:, None] - tol)   # [A, D edges]
        hi = jnp.max(jnp.where(ok, other, -big), axis=1)
        lo = jnp.min(jnp.where(ok, other, big), axis=1)
        any_ok = jnp.any(ok, axis=1)
        base = ic[i][:, None] * ha
        end_value = jnp.maximum(base + hi[:, None] * hb, base + lo[:, None] * hb)
        support = jnp.where(any_ok[:, None], jnp.maximum(support, end_value), support)
        enforce = enforce | any_ok
    corner = ic[0][:, None] * hx + ic[1][:, None] * hy           # [A, D]
    corner_ok = jnp.all(corner <= c + tol, axis=1)
    support = jnp.where(corner_ok[:, None], jnp.maximum(support, corner), support)
    enforce = enforce | corner_ok
    value = (1 - delta) * (pay[:, 0, None] * hx + pay[:, 1, None] * hy) + delta * support
    new = jnp.max(jnp.where(enforce[:, None], value, -big), axis=0)
    empty = ~jnp.any(enforce)
    return jnp.where(empty, c, new), empty


@pytree_dataclass
class JuddYeltekinConklin(IterativeSolver):
    """The Judd-Yeltekin-Conklin (2003) outer approximation on ``num_directions`` directions.

    ``problem`` is ``(payoffs [2, m, n], discount)``; the directions are
    ``h_d = (cos 2 pi d / D, sin 2 pi d / D)``. The state is the level vector ``c [D]`` of the
    polygon ``{w : h_d . w <= c_d}``, started at the feasible set's support function. One step
    solves, for every direction and action profile, the two-variable LP
    ``max h_d . ((1 - delta) u(a) + delta w)`` over the polygon's part in the IC quadrant of
    ``a`` (punishments are the polygon's minima) exactly, by enumerating its vertices (the
    polygon's vertices in the quadrant, edge crossings with the two IC lines, the corner).
    The levels decrease monotonically to a fixed point containing the SPE payoff set; it stops
    when they move by at most ``tol`` (relative to the larger player's payoff range).

    Raises:
      ValueError: if ``num_directions`` is not an int of at least 3.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from socialign import solvers
      >>> from socialign.kernel import iterate
      >>> U = jnp.array([[[9., 1.], [10., 3.]], [[9., 10.], [1., 3.]]])
      >>> it = iterate(solvers.JuddYeltekinConklin(8), (U, 0.9), 1e-12, jax.random.key(0),
      ...              max_steps=2000)
      >>> [round(float(x), 4) for x in it.state.levels[:3]]   # max w1, max w1 + w2, max w2
      [10.0, 12.7279, 10.0]
    """

    num_directions: int = static_field(default=64)

    def __post_init__(self):
        check_positive_int(self.num_directions, "num_directions")
        if self.num_directions < 3:
            raise ValueError(f"num_directions must be at least 3, got {self.num_directions}")

    def init(self, problem, key):
        U, _ = problem
        pay, gain = _profiles(U)
        H = _directions(self.num_directions, U.dtype)
        levels = jnp.max(pay[:, 0, None] * H[:, 0] + pay[:, 1, None] * H[:, 1], axis=0)
        return JYCState(levels, jnp.ones((), U.dtype), jnp.asarray(False),
                        (pay, gain, _payoff_range(U)))

    def step(self, problem, state):
        U, delta = problem
        pay, gain, scale = state.stage
        H = _directions(self.num_directions, U.dtype)
        new, empty = _jyc_update(pay, gain, delta, H, state.levels, lp_tol(U.dtype) * scale)
        change = jnp.max(jnp.abs(new - state.levels)) / scale
        return JYCState(new, change, empty, state.stage)

    def terminate(self, problem, state, tol):
        done = (state.change <= tol) | state.empty
        code = jnp.where(state.empty, Result.INFEASIBLE, Result.CONVERGED).astype(jnp.int32)
        return done, code, state.change



# --------------------------------------------------------------------------------------------
# The entry function
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class EquilibriumPayoffs:
    """The pure-strategy SPE payoff set of a repeated game, bracketed (inner and outer).

    Attributes (leading axes are the game's batch axes):
      vertices: ``[*batch, 4 m n, 2]`` counter-clockwise vertices of the inner polygon (the
        Abreu-Sannikov set, checked self-generating), padded by repeating the first vertex.
      num_vertices: ``[*batch]`` ``int32`` number of valid rows of ``vertices``.
      threat_point: ``[*batch, 2]`` each player's worst SPE payoff (the optimal penal code's
        punishment value ``min_{v in V} v_i``).
      outer_levels: ``[*batch, D]`` support levels ``c_d`` of the outer polygon
        ``{w : h_d . w <= c_d}``, ``h_d = (cos 2 pi d / D, sin 2 pi d / D)``.
      outer_vertices: ``[*batch, D, 2]`` the outer polygon's vertices (counter-clockwise).
      bracket_width: ``[*batch]`` Hausdorff distance between the inner and outer polygons
        (payoff units): the SPE set lies between them.
      certificate: ``[*batch]`` the inner polygon's self-generation violation (payoff units over
        the larger player's payoff range): ``0`` when every vertex is generated by an IC action
        and continuation inside the polygon, which proves the polygon is inside the SPE set.
      result: ``[*batch]`` ``kernel.Result`` code (``INFEASIBLE``: no pure SPE; ``FAILED``: a
        discount outside ``(0, 1)`` traced inside ``jit``, every other field then zero).
      num_steps: ``[*batch]`` ``int32`` Abreu-Sannikov steps taken.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> sol = solvers.equilibrium_payoffs(solvers.RepeatedGame(pd, 0.9))
      >>> sol.vertices[:int(sol.num_vertices)].round(6).tolist()
      [[3.0, 3.0], [9.75, 3.0], [9.0, 9.0], [3.0, 9.75]]
    """

    vertices: jax.Array
    num_vertices: jax.Array
    threat_point: jax.Array
    outer_levels: jax.Array
    outer_vertices: jax.Array
    bracket_width: jax.Array
    certificate: jax.Array
    result: jax.Array
    num_steps: jax.Array


def _generation_residual(U, delta, V, n, tol):
    """Largest distance (payoff units) by which a vertex of ``V[:n]`` fails to be generated."""
    pay, gain = _profiles(U)
    K = V.shape[0]
    live = jnp.arange(K) < n
    u = jnp.min(jnp.where(live[:, None], V, _big(U.dtype)), axis=0)
    IC = u + (1 - delta) / delta * gain                       # [A, 2]
    w = (V[:, None, :] - (1 - delta) * pay[None]) / delta     # [K, A, 2]
    ic_gap = jnp.max(jnp.maximum(IC[None] - w, 0), axis=-1)
    out = _polygon_distance(w, V, n, tol)
    viol = delta * jnp.maximum(ic_gap, out)
    return jnp.max(jnp.where(live, jnp.min(viol, axis=1), 0))


def _as_tol(U, delta, tol):
    """The Abreu-Sannikov stopping tolerance: the points must stop moving well below ``tol``."""
    return jnp.maximum(tol * 1e-4 * (1 - delta), 10 * eps(U.dtype))


def _finish(problem, it, jyc, tol, num_directions):
    """An :class:`EquilibriumPayoffs` from the two iterations on one ``problem``."""
    U, delta = problem
    scale = _payoff_range(U)
    # merging near-duplicate vertices: at the precision the points converged to, never coarser
    # than 1e-6 of the scale (a loose tol must not merge distinct vertices)
    dist_tol = jnp.minimum(1e-2 * tol, 1e-6) * scale
    V, n = convex_hull(it.state.points, it.state.mask, dist_tol * scale, dist_tol)
    V, n = _drop_flat(V, n, dist_tol)
    # every JYC iterate contains the SPE set (the levels decrease from the feasible set's), so
    # stopping at the certificate's tolerance keeps the outer bound valid
    H = _directions(num_directions, U.dtype)
    OV = _outer_vertices(H, jyc.state.levels)
    resid = _generation_residual(U, delta, V, n, dist_tol * scale) / scale
    width = _hausdorff(V, n, OV, jnp.int32(num_directions), dist_tol * scale)
    ok = resid <= tol
    result = jnp.where(it.result != Result.CONVERGED, it.result,
                       jnp.where(jyc.result == Result.INFEASIBLE, Result.INFEASIBLE,
                                 jnp.where(ok, Result.CONVERGED,
                                           Result.CERTIFICATE_ABOVE_TOLERANCE)))
    empty = it.result == Result.INFEASIBLE
    threat = jnp.where(empty, 0, jnp.min(jnp.where((jnp.arange(V.shape[0]) < n)[:, None], V,
                                                   _big(U.dtype)), axis=0))
    return EquilibriumPayoffs(
        vertices=jnp.where(empty, 0, V), num_vertices=jnp.where(empty, 0, n),
        threat_point=threat, outer_levels=jyc.state.levels, outer_vertices=OV,
        bracket_width=jnp.where(empty, 0, width), certificate=jnp.where(empty, 0, resid),
        result=result.astype(jnp.int32), num_steps=it.num_steps)


@functools.partial(jax.jit, static_argnames=("num_directions", "max_steps", "batch_shape",
                                             "batch_size", "slots"))
def _solve_batch(payoffs, discount, tol, *, num_directions, max_steps, batch_shape, batch_size,
                 slots):
    # both iterations run in a refilled pool of `slots` members (kernel.iterate_batch): a member
    # that stops hands its slot to the next, so the work follows each member's own step count
    # (which grows like log(tol) / log(delta)); the longest runs (largest delta) go first
    size = int(np.prod(batch_shape)) if batch_shape else 1
    m, n = payoffs.shape[-2:]
    if size == 0:
        K, dt = 4 * m * n, payoffs.dtype
        z = lambda *shape, dtype=dt: jnp.zeros((*batch_shape, *shape), dtype)  # noqa: E731
        return EquilibriumPayoffs(z(K, 2), z(dtype=jnp.int32), z(2), z(num_directions),
                                  z(num_directions, 2), z(), z(), z(dtype=jnp.int32),
                                  z(dtype=jnp.int32))
    slots = min(slots, size)
    U = payoffs.reshape(size, 2, m, n)
    d = discount.reshape(size)
    # the SPE set moves with each player's payoffs (a shift per player, one common positive
    # factor: the fixed outer directions stay the same): solve on payoffs shifted to 0 and
    # divided by the larger payoff range, so every tolerance is relative to the range, and map
    # the answer back
    lo = jnp.min(U, axis=(-2, -1))                                   # [size, 2]
    span = jnp.max(jnp.max(U, axis=(-2, -1)) - lo, axis=-1)
    span = jnp.where(span > 0, span, 1)
    U = (U - lo[..., None, None]) / span[:, None, None, None]
    # a traced discount outside (0, 1) (a concrete one is refused at the boundary): FAILED
    valid = (d > 0) & (d < 1)
    d = jnp.where(valid, d, 0.5)
    order = jnp.argsort(-d)
    U, d = U[order], d[order]
    key = jax.random.key(0)
    it = iterate_batch(AbreuSannikov(), (U, d), _as_tol(U, d, tol), key, max_steps=max_steps,
                       slots=slots)
    jyc = iterate_batch(JuddYeltekinConklin(num_directions), (U, d), tol, key,
                        max_steps=max_steps, slots=slots)
    out = batch_map(lambda a: _finish(a[0], a[1], a[2], tol, num_directions), ((U, d), it, jyc),
                    batch_shape=(size,), batch_size=batch_size)
    out = jax.tree_util.tree_map(lambda x: x[jnp.argsort(order)], out)
    H = _directions(num_directions, payoffs.dtype)
    some = (out.num_vertices > 0)[:, None]
    out = EquilibriumPayoffs(
        vertices=jnp.where(some[..., None], out.vertices * span[:, None, None] + lo[:, None],
                           0),
        num_vertices=out.num_vertices,
        threat_point=jnp.where(some, out.threat_point * span[:, None] + lo, 0),
        outer_levels=out.outer_levels * span[:, None] + lo @ H.T,
        outer_vertices=out.outer_vertices * span[:, None, None] + lo[:, None],
        bracket_width=out.bracket_width * span, certificate=out.certificate,
        result=jnp.where(valid, out.result, Result.FAILED).astype(jnp.int32),
        num_steps=out.num_steps)
    out = jax.tree_util.tree_map(
        lambda x: x if x is out.result else jnp.where(
            valid.reshape(-1, *([1] * (x.ndim - 1))), x, jnp.zeros_like(x)), out)
    return jax.tree_util.tree_map(lambda x: x.reshape(*batch_shape, *x.shape[1:]), out)


def _check_settings(tol, dtype, max_steps, throw):
    if not isinstance(throw, bool):
        raise TypeError(f"throw must be a bool, got {type(throw).__name__}")
    check_positive_int(max_steps, "max_steps")
    if tol is None:
        return default_tol(dtype)
    if isinstance(tol, jax.core.Tracer):
        return tol
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    return float(tol)


def equilibrium_payoffs(game: RepeatedGame, *, num_directions: int = 64, tol=None,
                        max_steps: int = 100_000, slots: int = 64,
                        batch_size: int | None = None,
                        throw: bool = True) -> EquilibriumPayoffs:
    r"""The pure-strategy SPE payoff set (with public randomisation) of a repeated game.

    Runs :class:`AbreuSannikov` (inner: exact vertices) and :class:`JuddYeltekinConklin`
    (outer, ``num_directions`` directions) on every member of the batch, checks that the inner
    polygon is self-generating (``W subset B(W)`` implies ``W subset V``, Abreu-Pearce-
    Stacchetti 1990) and measures the bracket: ``inner subset V subset outer``. The answer moves
    with the payoffs: shifting a player's payoffs shifts the set, scaling all payoffs scales it
    (both iterations run on payoffs shifted to 0 and divided by the larger player's payoff
    range, and the answer is mapped back). Relative to the
    larger player's payoff range, Abreu-Sannikov stops when its points move by at most
    ``1e-4 (1 - delta) tol`` (they are then within about ``1e-4 tol`` of their limit) and
    Judd-Yeltekin-Conklin when its levels move by at most ``tol`` (every iterate is a valid
    outer bound); both converge geometrically at rate about ``delta``, so ``delta`` near 1
    needs more steps.

    Args:
      game: a :class:`RepeatedGame` (any batch shape).
      num_directions: ``D``, the number of outer directions (static).
      tol: tolerance on the ``certificate`` (default ``kernel.default_tol``).
      max_steps: iteration budget of each method (static). The default covers ``delta`` up
        to about 0.9995 (the prisoner's dilemma at ``delta = 0.999`` takes about 21,500 steps,
        0.2 s); a member that runs out is ``MAX_STEPS_REACHED``, never a silently larger set.
        (QuantEcon.py's ``max_iter = 500`` stops early from about ``delta = 0.99`` on and
        returns the last iterate.)
      slots: how many members iterate together (static; ``kernel.iterate_batch``: a member
        that stops hands its slot to the next, largest discount factors first, so the work
        follows each member's own step count, which grows like ``log(tol) / log(delta)``; 64,
        the default, was the fastest measured on CPUs, 16-128 within noise; one ``vmap`` of the
        whole batch runs until its slowest member stops and is several times slower).
      batch_size: the certificates (hull, self-generation residual, bracket) after the loops
        in chunks of this many members (``kernel.batch_map``); ``None``: one ``vmap``.
      throw: raise :class:`socialign.kernel.NotConvergedError` if a member is not certified
        (``INFEASIBLE`` included: a stage game without a pure SPE).

    Returns:
      An :class:`EquilibriumPayoffs`.

    Raises:
      TypeError: if ``game`` is not a :class:`RepeatedGame` or ``throw`` is not a bool.
      ValueError: if ``num_directions``, ``max_steps``, ``tol``, ``slots`` or ``batch_size`` is
        invalid.
      NotConvergedError: with ``throw=True``, if a member is not certified.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> sol = solvers.equilibrium_payoffs(solvers.RepeatedGame(pd, [0.3, 0.9]))
      >>> sol.num_vertices.tolist(), sol.threat_point.round(6).tolist()
      ([4, 4], [[3.0, 3.0], [3.0, 3.0]])
      >>> bool(sol.bracket_width.max() < 0.2), bool(sol.certificate.max() <= 1e-6)
      (True, True)
    """
    if not isinstance(game, RepeatedGame):
        raise TypeError(f"game must be a RepeatedGame, got {type(game).__name__}")
    num_directions = check_positive_int(num_directions, "num_directions")
    if num_directions < 3:
        raise ValueError(f"num_directions must be at least 3, got {num_directions}")
    tol = _check_settings(tol, game.payoffs.dtype, max_steps, throw)
    slots = check_positive_int(slots, "slots")
    batch_size = check_batch_size(batch_size)
    out = _solve_batch(game.payoffs, game.discount, jnp.asarray(tol, game.payoffs.dtype),
                       num_directions=num_directions, max_steps=max_steps,
                       batch_shape=game.batch_shape, batch_size=batch_size, slots=slots)
    out = no_gradient(out, "equilibrium_payoffs", (game.payoffs, game.discount))
    if throw:
        raise_if_failed(out.result, "equilibrium_payoffs")
    return out


# --------------------------------------------------------------------------------------------
# Critical discount factors
# --------------------------------------------------------------------------------------------
@pytree_dataclass
class CriticalDiscount:
    """Smallest discount factors that sustain each action profile forever in an SPE.

    Attributes:
      discount: ``[*batch, m, n]`` the critical ``delta*`` (``0`` for a stage Nash equilibrium;
        ``1`` where the profile cannot be sustained).
      sustainable: ``[*batch, m, n]`` whether some ``delta < 1`` sustains the profile.
      result: ``[*batch]`` ``kernel.Result`` code (``INFEASIBLE`` when grim trigger has no pure
        stage Nash equilibrium to revert to; from :func:`penal_code_discount`, ``FAILED`` when
        an inner Abreu-Sannikov solve ran out of ``max_steps_inner``, so "not sustainable" was
        not certified).

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> float(solvers.grim_trigger_discount(pd).discount[0, 0])   # (10 - 9) / (10 - 3)
      0.14285714285714285
    """

    discount: jax.Array
    sustainable: jax.Array
    result: jax.Array


def _stage_payoffs(stage_game, name="stage_game"):
    if isinstance(stage_game, NormalFormGame):
        if stage_game.num_players != 2:
            raise ValueError(f"{name} must be a two-player game, got {stage_game.num_players} "
                             f"players")
        return stage_game.payoffs
    if isinstance(stage_game, RepeatedGame):
        return stage_game.payoffs
    U = as_float_array(stage_game, name)
    if U.ndim < 3 or U.shape[-3] != 2 or 0 in U.shape[-2:]:
        raise ValueError(f"{name} must be a NormalFormGame or payoffs [*batch, 2, m, n] "
                         f"(m, n >= 1); got "
                         f"shape {tuple(U.shape)}")
    check_finite(U, name)
    return U


def _grim_one(U):
    pay, gain = _profiles(U)                       # [A, 2]
    tol = lp_tol(U.dtype) * _payoff_range(U)
    ne = jnp.all(gain <= tol, axis=1)              # [E] pure stage equilibria
    # delta_i(a, e) = (d_i - u_i) / (d_i - u_i(e)) when d_i > u_i, u_i(a) > u_i(e)
    g = gain[:, None, :]                           # [A, 1, 2]
    margin = pay[:, None, :] - pay[None, :, :]     # u_i(a) - u_i(e)   [A, E, 2]
    needs = g > tol
    feasible_i = ~needs | (margin > tol)
    den = jnp.where(needs & feasible_i, g + margin, 1)
    d_i = jnp.where(needs & feasible_i, g / den, 0)
    d_ae = jnp.where(jnp.all(feasible_i, -1), jnp.max(d_i, -1), 1)
    ok_ae = jnp.all(feasible_i, -1) & ne[None, :]
    d_a = jnp.min(jnp.where(ok_ae, d_ae, 1), axis=1)
    sust = jnp.any(ok_ae, axis=1)
    m, n = U.shape[1:]
    code = jnp.where(jnp.any(ne), Result.CONVERGED, Result.INFEASIBLE).astype(jnp.int32)
    return CriticalDiscount(d_a.reshape(m, n), sust.reshape(m, n), code)


@functools.partial(jax.jit, static_argnames=("batch_shape",))
def _grim_batch(U, *, batch_shape):
    return batch_map(_grim_one, U, batch_shape=batch_shape)


def grim_trigger_discount(stage_game) -> CriticalDiscount:
    r"""Critical discount factors of every action profile under grim trigger (Nash reversion).

    Profile ``a`` is played forever, and any deviation is punished by a pure stage Nash
    equilibrium ``e`` forever (Friedman 1971). Player ``i`` does not deviate iff
    ``u_i(a) >= (1 - delta) d_i(a) + delta u_i(e)``, i.e.

    .. math::
        \delta \ge \delta_i^*(a, e) = \frac{d_i(a) - u_i(a)}{d_i(a) - u_i(e)}

    (``0`` when ``d_i(a) = u_i(a)``; never when ``u_i(a) <= u_i(e) < d_i(a)``). The critical
    discount is ``min_e max_i delta_i^*(a, e)`` over the pure stage equilibria. Differentiable
    in the payoffs (``jax.grad``) where the minimising equilibrium and the binding player are
    unique.

    Args:
      stage_game: a two-player :class:`NormalFormGame`, a :class:`RepeatedGame` (its discount
        is ignored) or payoffs ``[*batch, 2, m, n]``.

    Returns:
      A :class:`CriticalDiscount` (``result`` ``INFEASIBLE`` for a stage game without a pure
      Nash equilibrium).

    Raises:
      TypeError: if the payoffs are not numeric.
      ValueError: if the game is not two-player or a concrete payoff is not finite.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> solvers.grim_trigger_discount(pd).discount.round(4).tolist()
      [[0.1429, 1.0], [1.0, 0.0]]
    """
    U = _stage_payoffs(stage_game)
    batch = tuple(U.shape[:-3])
    return _grim_batch(U, batch_shape=batch)


@pytree_dataclass
class _BisectState:
    lo: jax.Array
    hi: jax.Array
    failed: jax.Array   # an inner Abreu-Sannikov solve ended neither CONVERGED nor INFEASIBLE


@pytree_dataclass
class _PenalBisection(IterativeSolver):
    """Bisection on ``delta`` for "profile ``a`` forever is an SPE with optimal punishments"."""

    max_steps_inner: int = static_field(default=20_000)

    def _ok(self, problem, delta):
        U, a, _, tol = problem
        step_tol = jnp.maximum(tol * 1e-4 * (1 - delta), 10 * eps(U.dtype))
        it = iterate(AbreuSannikov(), (U, delta), step_tol, jax.random.key(0),
                     max_steps=self.max_steps_inner)
        pay, gain = _profiles(U)
        P, M = it.state.points, it.state.mask
        worst = jnp.min(jnp.where(M[:, None], P, _big(U.dtype)), axis=0)
        need = (1 - delta) * (pay[a] + gain[a]) + delta * worst
        slack = lp_tol(U.dtype) * _payoff_range(U)
        # "not sustainable" only from a certified answer: INFEASIBLE (no pure SPE) or a
        # converged set; a solve that ran out of steps makes the whole search FAILED
        failed = (it.result != Result.CONVERGED) & (it.result != Result.INFEASIBLE)
        return (it.result == Result.CONVERGED) & jnp.all(pay[a] >= need - slack), failed

    def init(self, problem, key):
        U, a, hi, tol = problem
        return _BisectState(jnp.zeros((), U.dtype), jnp.asarray(hi, U.dtype),
                            jnp.asarray(False))

    def step(self, problem, state):
        mid = (state.lo + state.hi) / 2
        ok, failed = self._ok(problem, mid)
        return _BisectState(jnp.where(ok, state.lo, mid), jnp.where(ok, mid, state.hi),
                            state.failed | failed)

    def terminate(self, problem, state, tol):
        width = state.hi - state.lo
        code = jnp.where(state.failed, Result.FAILED, Result.CONVERGED).astype(jnp.int32)
        return (width <= tol) | state.failed, code, width



@functools.partial(jax.jit, static_argnames=("a", "max_discount", "max_steps_inner",
                                             "batch_shape"))
def _penal_batch(U, tol, *, a, max_discount, max_steps_inner, batch_shape):
    def one(U):
        grim = _grim_one(U)
        g_d = grim.discount.reshape(-1)[a]
        g_ok = grim.sustainable.reshape(-1)[a] & (grim.result == Result.CONVERGED)
        hi = jnp.where(g_ok, g_d, max_discount)
        solver = _PenalBisection(max_steps_inner)
        it = iterate(solver, (U, a, hi, tol), tol, jax.random.key(0), max_steps=200)
        ok_hi, failed_hi = solver._ok((U, a, hi, tol), hi)
        at_hi = ok_hi | g_ok
        failed_hi = failed_hi & ~g_ok
        zero = jnp.all(_profiles(U)[1][a] <= lp_tol(U.dtype) * _payoff_range(U))
        disc = jnp.where(zero, 0.0, jnp.where(at_hi, it.state.hi, 1.0))
        code = jnp.where(zero, Result.CONVERGED,
                         jnp.where(failed_hi, Result.FAILED, it.result)).astype(jnp.int32)
        return CriticalDiscount(disc, at_hi | zero, code)

    return batch_map(one, U, batch_shape=batch_shape)


def penal_code_discount(stage_game, profile, *, max_discount: float = 0.99, tol=None,
                        max_steps_inner: int = 20_000,
                        throw: bool = True) -> CriticalDiscount:
    r"""Critical discount factor of one action profile under optimal penal codes (Abreu 1988).

    Profile ``a`` forever is an SPE iff ``u_i(a) >= (1 - delta) d_i(a) + delta v_i(delta)`` for
    both players, ``v_i(delta) = min_{v in V(delta)} v_i`` the worst SPE payoff (the optimal
    penal code's value, from :class:`AbreuSannikov`). With public randomisation ``V(delta)``
    grows with ``delta``, so the condition is monotone and the smallest such ``delta`` is found
    by bisection on ``[0, hi]`` (``hi`` the grim-trigger critical discount when a pure stage
    equilibrium sustains ``a``, else ``max_discount``), each step one Abreu-Sannikov solve.
    Never above the grim-trigger discount.

    Args:
      stage_game: a two-player :class:`NormalFormGame` or payoffs ``[*batch, 2, m, n]``.
      profile: ``(row, column)`` action indices (static ints).
      max_discount: the largest discount searched when grim trigger cannot sustain ``a``.
      tol: width of the final bisection bracket (default ``kernel.default_tol``).
      max_steps_inner: the Abreu-Sannikov budget per bisection step (static).
      throw: raise if a member is not certified.

    Returns:
      A :class:`CriticalDiscount` with ``[*batch]`` fields (``discount = 1`` and
      ``sustainable = False`` when even ``max_discount`` does not sustain ``a``).

    Raises:
      TypeError: if the payoffs are not numeric or ``throw`` is not a bool.
      ValueError: if ``profile`` is not a pair of valid action indices, or a setting is invalid.
      NotConvergedError: with ``throw=True``, if a member is not certified.

    Example:
      >>> from socialign import solvers
      >>> pd = solvers.NormalFormGame.from_bimatrix([[9, 1], [10, 3]], [[9, 10], [1, 3]])
      >>> round(float(solvers.penal_code_discount(pd, (0, 0)).discount), 5)
      0.14286
    """
    U = _stage_payoffs(stage_game)
    m, n = U.shape[-2:]
    if (not isinstance(profile, tuple | list) or len(profile) != 2
            or not all(isinstance(k, int | np.integer) and not isinstance(k, bool)
                       for k in profile)
            or not (0 <= profile[0] < m and 0 <= profile[1] < n)):
        raise ValueError(f"profile must be a pair (row, column) of action indices of an {m}x{n} "
                         f"game, got {profile!r}")
    a = int(profile[0]) * n + int(profile[1])
    if not (0 < max_discount < 1):
        raise ValueError(f"max_discount must lie in (0, 1), got {max_discount!r}")
    tol = _check_settings(tol, U.dtype, max_steps_inner, throw)
    batch = tuple(U.shape[:-3])

    out = _penal_batch(U, jnp.asarray(tol, U.dtype), a=a, max_discount=float(max_discount),
                       max_steps_inner=max_steps_inner, batch_shape=batch)
    out = no_gradient(out, "penal_code_discount", U)
    if throw:
        raise_if_failed(out.result, "penal_code_discount")
    return out
