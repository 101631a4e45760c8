"""Refilled slots (``solve(..., slots=)``, ``kernel.iterate_batch``) against one vmapped loop.

A batch of random zero-sum games solved to a tight tolerance by a no-regret dynamic needs very
different numbers of steps per game (PRM+ on 1,024 random 8x8 games at ``tol = 1e-6``: about
3,900 on average, 40,000 at most). ``vmap`` runs one loop until the slowest game stops, so every
game pays the largest count; with ``slots=k``, ``k`` games step together and a slot is handed to
the next game as soon as its game stops. Both paths run in one process, interleaved, best of
``--repeats`` (compilation excluded); the answers are compared (same step counts and result
codes, strategies to rounding). Writes benchmarks/results/slots.json.

Usage: python benchmarks/slots.py [--games 1024] [--actions 8] [--slots 16 64 256] [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import numpy as np  # noqa: E402
from _common import make_parser, parse_args, run_record
from socialign import solvers  # noqa: E402

HERE = os.path.dirname(__file__)
RESULTS = os.path.join(HERE, "results", "slots.json")


def _timed(fn, repeats):
    out = fn()
    jax.block_until_ready(out)                         # compile + first run
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = make_parser(__doc__, out=RESULTS)
    ap.add_argument("--games", type=int, default=1024)
    ap.add_argument("--actions", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-steps", type=int, default=100_000)
    ap.add_argument("--slots", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a small batch (smoke run)")
    a = parse_args(ap, sys.argv[1:] if argv is None else argv)
    if a.quick:
        a.games, a.max_steps, a.slots, a.repeats = 32, 2_000, [8], 1
    rng = np.random.default_rng(a.seed)
    game = solvers.NormalFormGame.zero_sum(rng.normal(size=(a.games, a.actions, a.actions)))
    solver = solvers.PredictiveRegretMatchingPlus()
    kw = dict(tol=a.tol, max_steps=a.max_steps, throw=False)
    times = {k: float("inf") for k in [None, *a.slots]}
    outs = {}
    for _ in range(a.repeats):                         # interleaved
        for k in times:
            t, outs[k] = _timed(lambda k=k: solvers.solve(game, solver, slots=k, **kw), 1)
            times[k] = min(times[k], t)
    ref = outs[None]
    steps = np.asarray(ref.stats["num_steps"])
    rows = []
    for k in a.slots:
        o = outs[k]
        rows.append(dict(
            slots=k, seconds=times[k], vmap_seconds=times[None], speedup=times[None] / times[k],
            same_steps=bool(np.array_equal(o.stats["num_steps"], steps)),
            same_results=bool(np.array_equal(o.result, ref.result)),
            max_strategy_difference=max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
                                        for x, y in zip(o.strategies, ref.strategies))))
        print(f"slots={k:4d}: {times[k]:.3f} s against one vmapped loop's {times[None]:.3f} s "
              f"({rows[-1]['speedup']:.1f}x); same steps {rows[-1]['same_steps']}, same results "
              f"{rows[-1]['same_results']}, strategies within "
              f"{rows[-1]['max_strategy_difference']:.1e}")
    result = dict(run_record(a), benchmark="slots", quick=a.quick,
                  problem=f"{a.games} random zero-sum {a.actions}x{a.actions} games, "
                          f"PredictiveRegretMatchingPlus, tol {a.tol}, max_steps {a.max_steps}",
                  steps=dict(mean=float(steps.mean()), median=float(np.median(steps)),
                             max=int(steps.max())),
                  converged_fraction=float(np.mean(np.asarray(ref.result) == 0)), rows=rows)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
