"""Refilled slots (``solve(..., slots=)``, ``kernel.iterate_batch``) against one vmapped loop.

A batch of random zero-sum games solved to a tight tolerance by a no-regret dynamic needs very
different numbers of steps per game (PRM+ on 1,024 random 8x8 games at ``tol = 1e-6``: about
3,900 on average, 40,000 at most). ``vmap`` runs one loop until the slowest game stops, so every
game pays the largest count; with ``slots=k``, ``k`` games step together and a slot is handed to
the next game as soon as its game stops. Both paths run in one process, interleaved, best of
``--repeats`` (compilation excluded); the answers are compared (step counts and result codes).
Also CFR+ on a batch of Kuhn poker trees with random payoffs (``--kuhn-games``, OpenSpiel's
tree). Writes benchmarks/results/slots.json.

Usage: python benchmarks/slots.py [--games 1024] [--actions 8] [--slots 16 64 256]
       [--kuhn-games 256] [--quick]
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


def compare(name, game, solver, kw, slots, repeats):
    """One problem: one vmapped loop and each slot count, interleaved; a row per slot count."""
    times = {k: float("inf") for k in [None, *slots]}
    outs = {}
    for _ in range(repeats):
        for k in times:
            t, outs[k] = _timed(lambda k=k: solvers.solve(game, solver, slots=k, **kw), 1)
            times[k] = min(times[k], t)
    ref = outs[None]
    steps = np.asarray(ref.stats["num_steps"])
    rows = []
    for k in slots:
        o = outs[k]
        rows.append(dict(
            problem=name, slots=k, seconds=times[k], vmap_seconds=times[None],
            speedup=times[None] / times[k],
            steps=dict(mean=float(steps.mean()), median=float(np.median(steps)),
                       max=int(steps.max())),
            converged_fraction=float(np.mean(np.asarray(ref.result) == 0)),
            # members whose certificate sits at tol can stop a check earlier or later under one
            # vmap (its fused arithmetic rounds differently); slots give each member's own run
            steps_differ=int(np.sum(np.asarray(o.stats["num_steps"]) != steps)),
            results_differ=int(np.sum(np.asarray(o.result) != np.asarray(ref.result)))))
        print(f"{name}: slots={k:4d}: {times[k]:.3f} s against one vmapped loop's "
              f"{times[None]:.3f} s ({rows[-1]['speedup']:.1f}x); step counts differ on "
              f"{rows[-1]['steps_differ']} members, results on {rows[-1]['results_differ']}",
              flush=True)
    return rows


def main(argv=None):
    ap = make_parser(__doc__, out=RESULTS)
    ap.add_argument("--games", type=int, default=1024)
    ap.add_argument("--actions", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-steps", type=int, default=100_000)
    ap.add_argument("--slots", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--kuhn-games", type=int, default=256,
                    help="Kuhn poker with random zero-sum payoffs, CFR+ to tol 1e-5 (0: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a small batch (smoke run)")
    a = parse_args(ap, sys.argv[1:] if argv is None else argv)
    if a.quick:
        a.games, a.max_steps, a.slots, a.repeats, a.kuhn_games = 32, 2_000, [8], 1, 0
    rng = np.random.default_rng(a.seed)
    game = solvers.NormalFormGame.zero_sum(rng.normal(size=(a.games, a.actions, a.actions)))
    kw = dict(tol=a.tol, max_steps=a.max_steps, throw=False)
    rows = compare(f"{a.games} random zero-sum {a.actions}x{a.actions} games, "
                   f"PredictiveRegretMatchingPlus, tol {a.tol}", game,
                   solvers.PredictiveRegretMatchingPlus(), kw, a.slots, a.repeats)
    if a.kuhn_games:
        kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
        u = rng.normal(size=(a.kuhn_games, kuhn.num_terminals, 1))
        games = kuhn.with_utilities(np.concatenate([u, -u], axis=-1))
        rows += compare(f"{a.kuhn_games} Kuhn poker trees with random zero-sum payoffs, CFRPlus, "
                        "tol 1e-5", games, solvers.CFRPlus(),
                        dict(tol=1e-5, max_steps=20_000, throw=False), [32], a.repeats)
    result = dict(run_record(a), benchmark="slots", quick=a.quick, rows=rows)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
