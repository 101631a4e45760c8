"""Vertex enumeration: socialign's extreme_equilibria against nashpy and pygambit, in one run.

For each game size, random bimatrix games (Gaussian payoffs: nondegenerate; small integer
payoffs: degenerate with continua) are solved by

  * ``solvers.extreme_equilibria`` (host-side numpy, float64),
  * nashpy's ``Game.vertex_enumeration`` (float, nondegenerate games only: it does not report
    the extreme equilibria of degenerate games reliably, so it is skipped there; and only up to
    ``--nashpy-max-size``, as it takes over a minute per 8x8 game),
  * pygambit's ``enummixed_solve`` (Avis et al.'s method, exact rationals, with cliques),

and the sets of extreme equilibria are compared (``agree`` counts games where our set equals the
reference's up to 1e-8; enummixed lists some extreme equilibria of degenerate games more than
once, counted in ``gambit_listed_twice``, so its list is made distinct first). Von Stengel's 6x6 game with 75 equilibria is the last row. Times are
seconds per game over one pass, after one warm-up call per shape (building a game runs jnp
operations that compile once per shape).

Usage: python benchmarks/vertex_enum.py [--platform cpu] [--games 5] [--sizes 4 6 8 10]
[--nashpy-max-size 8] [--out PATH]
Results: benchmarks/results/vertex_enum.json, with ``_common.run_record`` (device, JAX version,
CPUs, load). The enumeration itself runs on the host in float64 whatever ``--dtype`` says
(``--dtype`` only sets JAX's default for building the games), so there is no batch sweep.
"""

from __future__ import annotations

import json
import os
import time
import warnings

import numpy as np
from _common import make_parser, parse_args, run_record
from socialign import solvers

VS75_SMALL = [(-81, 72), (-180, -180), (20, 297), (-30, -333), (270, 270), (90, -153), (36, 36),
              (72, -81), (-3, 126), (17, -126), (-153, 90), (-36, -36), (-126, 17), (-333, -30),
              (42, 42), (-33, -33), (297, 20), (126, -3), (126, -3), (297, 20), (-33, -33),
              (42, 42), (-333, -30), (-126, 17), (-36, -36), (-153, 90), (17, -126), (-3, 126),
              (72, -81), (36, 36), (90, -153), (270, 270), (-30, -333), (20, 297), (-180, -180),
              (-81, 72)]


def _ours(A, B):
    eqs = solvers.extreme_equilibria(solvers.NormalFormGame.from_bimatrix(A, B))
    c = int(eqs.count)
    x, y = np.asarray(eqs.strategies[0])[:c], np.asarray(eqs.strategies[1])[:c]
    return list(zip(x, y))


def _nashpy(A, B):
    import nashpy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(np.asarray(x, float), np.asarray(y, float))
                for x, y in nashpy.Game(A, B).vertex_enumeration()]


def _gambit(A, B):
    import pygambit as gbt

    g = gbt.StrategicGame.from_arrays(np.asarray(A, int), np.asarray(B, int))
    res = gbt.nash.enummixed_solve(g, rational=True)
    return [tuple(np.array([float(v) for _, v in prof[p]]) for p in g.players)
            for prof in res.equilibria]


def _has(points, p, atol=1e-8):
    return any(np.abs(p[0] - q[0]).max() <= atol and np.abs(p[1] - q[1]).max() <= atol
               for q in points)


def _distinct(points):
    out = []
    for p in points:
        if not _has(out, p):
            out.append(p)
    return out


def _same(a, b):
    """Same set of points (pygambit's enummixed lists some points twice in degenerate games)."""
    b = _distinct(b)
    return len(a) == len(b) and all(_has(a, p) for p in b)


def _timed(fn, games):
    out, start = [], time.perf_counter()
    for A, B in games:
        out.append(fn(A, B))
    return out, (time.perf_counter() - start) / len(games)


def run(sizes, num_games, nashpy_max_size=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    _ours(np.eye(2), np.eye(2))  # import and first-call costs out of the timings
    for size in sizes:
        for kind in ("gaussian", "integers 0..2"):
            if kind == "gaussian":
                # integer-valued Gaussian payoffs (x1000) so that pygambit reads them exactly
                games = [(np.round(1000 * rng.normal(size=(size, size))),
                          np.round(1000 * rng.normal(size=(size, size))))
                         for _ in range(num_games)]
            else:
                games = [(rng.integers(0, 3, (size, size)).astype(float),
                          rng.integers(0, 3, (size, size)).astype(float))
                         for _ in range(num_games)]
            _ours(*games[0])  # jnp's shape-specialised ops (building the game) out of the timing
            ours, t_ours = _timed(_ours, games)
            row = {"size": size, "payoffs": kind, "games": num_games,
                   "mean_equilibria": float(np.mean([len(e) for e in ours])),
                   "socialign_s_per_game": t_ours}
            if kind == "gaussian" and size <= nashpy_max_size:
                ref, t_ref = _timed(_nashpy, games)
                row["nashpy_s_per_game"] = t_ref
                row["nashpy_agree"] = sum(_same(a, b) for a, b in zip(ours, ref))
            ref, t_ref = _timed(_gambit, games)
            row["gambit_s_per_game"] = t_ref
            row["gambit_agree"] = sum(_same(a, b) for a, b in zip(ours, ref))
            row["gambit_listed_twice"] = sum(len(b) - len(_distinct(b)) for b in ref)
            rows.append(row)
            print(row, flush=True)
    arr = np.array(VS75_SMALL, float).reshape(6, 6, 2)
    A, B = arr[:, :, 0].T, arr[:, :, 1].T
    _ours(A, B)
    ours, t_ours = _timed(_ours, [(A, B)])
    ref, t_ref = _timed(_gambit, [(A, B)])
    nash, t_nash = _timed(_nashpy, [(A, B)])
    row = {"size": 6, "payoffs": "von Stengel's 75-equilibrium game", "games": 1,
           "mean_equilibria": len(ours[0]), "socialign_s_per_game": t_ours,
           "nashpy_s_per_game": t_nash, "nashpy_agree": int(_same(ours[0], nash[0])),
           "gambit_s_per_game": t_ref, "gambit_agree": int(_same(ours[0], ref[0]))}
    rows.append(row)
    print(row, flush=True)
    return rows


def main(argv=None):
    parser = make_parser(__doc__, out="results/vertex_enum.json")
    parser.add_argument("--games", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6, 8, 10])
    parser.add_argument("--nashpy-max-size", type=int, default=8)
    args = parse_args(parser, argv)
    rows = run(args.sizes, args.games, args.nashpy_max_size)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({**run_record(args),
                   "note": "seconds per game, one game at a time on both sides; measured while "
                           "the machine was shared, so compare the columns, not the absolute "
                           "times", "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
