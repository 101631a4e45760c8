"""Normal-form solvers: socialign batches against the one-game-per-call references, in one run.

Sections (each prints a row and goes into benchmarks/results/normal_form.json):
  zero_sum:      ZeroSumLP on a batch of random zero-sum games vs scipy HiGHS one game at a time
                 (target: >= 100x at 4,096 games of 16x16 in float64, NashConv <= 1e-6).
  zero_sum_curves: the same comparison over game sizes (8..128 actions, --curve-games games)
                 and batch sizes (1..16,384 games of 16x16), each row timed interleaved (ours,
                 then HiGHS on a sample, in one process) with wall and CPU seconds and the load
                 average, so that a loaded machine shows up in the JSON.
  lemke_howson:  LemkeHowson on a batch of random bimatrix games vs nashpy's lemke_howson.
  dynamics:      RegretMatching / ReplicatorDynamics on a batch vs OpenSpiel's Python
                 regret_matching / projected_replicator_dynamics, same iteration count.
  check_schedule: solve(batch, RegretMatchingPlus(), max_steps=1000, tol=1e-9) on 4,096 random
                 zero-sum 8x8 games with the default check schedule (kernel.GeometricChecks)
                 against hand-tuned check_every (target: >= 90% of the best tuned speed).

Times exclude compilation (each socialign call is warmed up on a same-shaped batch first).
ZeroSumLP solves in vmapped chunks (``batch_size``) sized so that a chunk of tableaux fits the
core's cache (``--batch-size 0``, the default: about 128 KiB of float64 tableaux per chunk,
between 16 and 512 games); a batch pivots until its slowest member has finished, and a chunk
that outgrows the cache makes every pivot a trip to memory (4x slower at 64x64 with chunks of
512).
HiGHS and nashpy are timed on a random sample of the games (``--ref-sample``) and the per-game
time is multiplied by the batch size; the JSON says so.

Usage: python benchmarks/normal_form.py [--games 4096] [--actions 16] [--ref-sample 512]
With ``--skip``, the sections that ran replace theirs in an existing JSON and the others stay.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import time
import warnings

import jax
from _common import make_parser, parse_args, run_record

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize as so  # noqa: E402
from socialign import solvers  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results", "normal_form.json")


def _timed(fn, repeats=1):
    best = float("inf")
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t)
    return best, out


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def highs_zero_sum(A):
    m, n = A.shape
    c = np.r_[np.zeros(m), -1.0]
    res = so.linprog(c, np.c_[-A.T, np.ones(n)], np.zeros(n), np.r_[np.ones(m), 0.0][None], [1.0],
                     bounds=[(0, None)] * m + [(None, None)], method="highs")
    return -res.fun, res.x[:m]


def cache_chunk(m, n=None, games=None):
    """Games per vmapped chunk: about 128 KiB of float64 ``(m + 1) x (n + 1)`` tableaux, a power
    of two between 16 and 512 (and at most ``games``).

    Measured on this project's 2-core CPU (interleaved, 2026-12-01): a chunk pivots until its
    slowest game is done, so smaller chunks waste fewer pivots, while each pivot's fixed cost
    favours larger ones; 128 at 8x8 (5.5 against 6.1 us a game at 512), 32-64 at 16x16 (21.5-22.4
    against 29.0 us at 256, which the former 1 MiB rule chose), 16 from 32x32 up (8 was slower
    at 64x64; equal at 128x128)."""
    n = m if n is None else n
    k = 2 ** int(np.floor(np.log2(max(1.0, 2.0 ** 14 / ((m + 1) * (n + 1))))))
    k = int(min(512, max(16, k)))
    return k if games is None else int(min(k, games))


def bench_zero_sum(args, rng):
    B, m = args.games, args.actions
    payoffs = rng.normal(size=(B, m, m))
    warm = solvers.NormalFormGame.zero_sum(rng.normal(size=(B, m, m)))
    solver = solvers.ZeroSumLP()
    chunk = args.batch_size or cache_chunk(m, games=B)
    kw = dict(tol=args.tol, throw=False, batch_size=chunk)
    solvers.solve(warm, solver, **kw).result.block_until_ready()  # compile
    game = solvers.NormalFormGame.zero_sum(payoffs)
    t_ours, eq = _timed(lambda: solvers.solve(game, solver, **kw), args.repeats)
    conv = np.asarray(eq.nash_conv)
    ok = np.asarray(eq.result) == solvers.Result.CONVERGED

    sample = rng.choice(B, size=min(args.ref_sample, B), replace=False)
    t = time.perf_counter()
    ref_vals = [highs_zero_sum(payoffs[k])[0] for k in sample]
    t_ref = (time.perf_counter() - t) / len(sample)
    err = np.abs(np.asarray(eq.values[sample, 0]) - np.asarray(ref_vals))
    row = {
        "games": B, "actions": m, "dtype": "float64", "batch_size": chunk,
        "load_average_1min": os.getloadavg()[0],
        "socialign_seconds": t_ours, "socialign_per_game_us": 1e6 * t_ours / B,
        "highs_per_game_ms": 1e3 * t_ref, "highs_seconds_extrapolated": t_ref * B,
        "highs_sampled_games": int(len(sample)),
        "speedup": t_ref * B / t_ours,
        "max_nash_conv": float(conv.max()), "converged_fraction": float(ok.mean()),
        "max_value_error_vs_highs": float(err.max()),
        "max_pivots": int(np.asarray(eq.stats["num_steps"]).max()),
        "mean_pivots": float(np.asarray(eq.stats["pivots"]).mean()),
    }
    print(f"zero_sum     {B:6d} x {m}x{m}: socialign {t_ours:8.3f} s | HiGHS {t_ref*1e3:6.2f} ms/game "
          f"-> {t_ref*B:8.2f} s | speedup {row['speedup']:7.1f}x | max NashConv "
          f"{row['max_nash_conv']:.1e} | max |value - HiGHS| {row['max_value_error_vs_highs']:.1e}")
    return row


def _zero_sum_row(B, m, chunk, args, rng):
    """One interleaved measurement: socialign's batch (best of ``repeats``) then HiGHS on a
    sample, wall and CPU seconds each, with the load average before and after."""
    load0 = os.getloadavg()[0]
    payoffs = rng.normal(size=(B, m, m))
    solver = solvers.ZeroSumLP()
    kw = dict(tol=args.tol, throw=False, batch_size=chunk)
    warm = solvers.NormalFormGame.zero_sum(rng.normal(size=(B, m, m)))
    solvers.solve(warm, solver, **kw).result.block_until_ready()  # compile
    game = solvers.NormalFormGame.zero_sum(payoffs)
    wall = cpu = float("inf")
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        eq = solvers.solve(game, solver, **kw)
        eq.result.block_until_ready()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    k = min(B, max(8, args.curve_ref_sample // max(1, (m // 16) ** 2)))
    sample = rng.choice(B, size=k, replace=False)
    t, c = time.perf_counter(), time.process_time()
    ref = np.array([highs_zero_sum(payoffs[i])[0] for i in sample])
    h_wall, h_cpu = (time.perf_counter() - t) / k, (time.process_time() - c) / k
    pivots = np.asarray(eq.stats["pivots"])
    row = {
        "games": B, "actions": m, "batch_size": chunk,
        "socialign_wall_s": wall, "socialign_cpu_s": cpu,
        "socialign_per_game_us": 1e6 * wall / B,
        "highs_per_game_ms": 1e3 * h_wall, "highs_cpu_per_game_ms": 1e3 * h_cpu,
        "highs_sampled_games": int(k),
        "speedup": h_wall * B / wall, "speedup_cpu_time": h_cpu * B / cpu,
        "mean_pivots": float(pivots.mean()), "max_pivots": int(pivots.max()),
        "max_nash_conv": float(np.asarray(eq.nash_conv).max()),
        "converged_fraction": float(np.mean(np.asarray(eq.result) == solvers.Result.CONVERGED)),
        "max_value_error_vs_highs": float(np.abs(np.asarray(eq.values[sample, 0]) - ref).max()),
        "load_average_1min": [load0, os.getloadavg()[0]],
    }
    print(f"  {B:6d} x {m:3d}x{m:<3d} chunk {chunk:3d}: socialign {1e6 * wall / B:9.1f} us/game "
          f"(cpu {1e6 * cpu / B:9.1f}) | HiGHS {1e3 * h_wall:7.2f} ms/game (cpu "
          f"{1e3 * h_cpu:7.2f}) | {row['speedup']:7.1f}x wall, {row['speedup_cpu_time']:7.1f}x "
          f"cpu | pivots {row['mean_pivots']:.0f} mean, {row['max_pivots']} max | load "
          f"{load0:.1f}", flush=True)
    return row


def bench_zero_sum_curves(args, rng):
    print("zero_sum curves (interleaved per row; float64):")
    sizes = [_zero_sum_row(args.curve_games, m, args.batch_size or cache_chunk(m,
                                                                              games=args.curve_games),
                           args, rng)
             for m in args.curve_sizes]
    batches = [_zero_sum_row(B, 16, args.batch_size or cache_chunk(16, games=B), args, rng)
               for B in args.curve_batches]
    return {"over_sizes": sizes, "over_batch_sizes": batches,
            "note": "speedup is HiGHS wall time x games / socialign wall time; speedup_cpu_time "
                    "the same with process CPU time, which a loaded machine inflates less"}


def bench_lemke_howson(args, rng):
    import nashpy

    B, m = args.lh_games, args.lh_actions
    A = rng.normal(size=(B, m, m))
    Bm = rng.normal(size=(B, m, m))
    solver = solvers.LemkeHowson()
    warm = solvers.NormalFormGame.from_bimatrix(rng.normal(size=(B, m, m)), rng.normal(size=(B, m, m)))
    solvers.solve(warm, solver, throw=False).result.block_until_ready()
    game = solvers.NormalFormGame.from_bimatrix(A, Bm)
    t_ours, eq = _timed(lambda: solvers.solve(game, solver, throw=False), args.repeats)
    sample = rng.choice(B, size=min(args.ref_sample, B), replace=False)
    agree = 0
    t = time.perf_counter()
    refs = []
    hung = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in sample:
            # nashpy's Lemke-Howson can cycle forever on some games: give each call 2 seconds
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(2)
            try:
                refs.append(nashpy.Game(A[k], Bm[k]).lemke_howson(initial_dropped_label=0))
            except _Timeout:
                refs.append((np.full(m, np.nan), np.full(m, np.nan)))
                hung += 1
            finally:
                signal.alarm(0)
    t_ref = (time.perf_counter() - t) / len(sample)
    for k, (x, y) in zip(sample, refs):
        if (np.shape(x) == (m,) and np.shape(y) == (m,)
                and np.allclose(x, eq.strategies[0][k], atol=1e-6)
                and np.allclose(y, eq.strategies[1][k], atol=1e-6)):
            agree += 1
    ok = np.asarray(eq.result) == solvers.Result.CONVERGED
    row = {
        "games": B, "actions": m, "socialign_seconds": t_ours,
        "nashpy_per_game_ms": 1e3 * t_ref, "nashpy_seconds_extrapolated": t_ref * B,
        "nashpy_sampled_games": int(len(sample)),
        "speedup": t_ref * B / t_ours, "converged_fraction": float(ok.mean()),
        "max_nash_conv_converged": float(np.asarray(eq.nash_conv)[ok].max()) if ok.any() else None,
        "same_equilibrium_as_nashpy_fraction": agree / len(sample),
        "nashpy_calls_stopped_after_2s": hung,
    }
    print(f"lemke_howson {B:6d} x {m}x{m}: socialign {t_ours:8.3f} s | nashpy {t_ref*1e3:6.2f} ms/game "
          f"-> {t_ref*B:8.2f} s | speedup {row['speedup']:7.1f}x | same equilibrium "
          f"{100*row['same_equilibrium_as_nashpy_fraction']:.0f}% | converged {100*ok.mean():.1f}%")
    return row


def bench_dynamics(args, rng):
    from open_spiel.python.algorithms import projected_replicator_dynamics as prd
    from open_spiel.python.algorithms import regret_matching as rm

    B, m, T = args.dyn_games, args.dyn_actions, args.dyn_iterations
    payoffs = rng.normal(size=(B, m, m))
    rows = {}
    cases = [
        ("regret_matching", solvers.RegretMatching(),
         lambda P: rm.regret_matching([P, -P], iterations=T)),
        ("replicator", solvers.ReplicatorDynamics(step_size=args.dt),
         lambda P: prd.projected_replicator_dynamics([P, -P], prd_iterations=T, prd_dt=args.dt)),
    ]
    for name, solver, ref in cases:
        warm = solvers.NormalFormGame.zero_sum(rng.normal(size=(B, m, m)))
        solvers.solve(warm, solver, max_steps=T, tol=0.0, throw=False).result.block_until_ready()
        game = solvers.NormalFormGame.zero_sum(payoffs)
        t_ours, eq = _timed(lambda game=game, solver=solver: solvers.solve(
            game, solver, max_steps=T, tol=0.0, throw=False))
        sample = rng.choice(B, size=min(args.dyn_ref_sample, B), replace=False)
        t = time.perf_counter()
        ref_conv = []
        for k in sample:
            s = ref(payoffs[k])
            g = solvers.NormalFormGame.zero_sum(payoffs[k])
            p = [np.clip(np.asarray(x, float), 0, None) for x in s]
            p = tuple(jnp.asarray(x / x.sum()) for x in p)
            ref_conv.append(float(solvers.nash_conv(g, p)))
        t_ref = (time.perf_counter() - t) / len(sample)
        ours = np.asarray(eq.nash_conv)
        rows[name] = {
            "games": B, "actions": m, "iterations": T, "socialign_seconds": t_ours,
            "openspiel_per_game_s": t_ref, "openspiel_seconds_extrapolated": t_ref * B,
            "openspiel_sampled_games": int(len(sample)), "speedup": t_ref * B / t_ours,
            "socialign_median_nash_conv": float(np.median(ours)),
            "openspiel_median_nash_conv": float(np.median(ref_conv)),
        }
        r = rows[name]
        print(f"{name:12s} {B:6d} x {m}x{m}, {T} it: socialign {t_ours:8.3f} s | OpenSpiel "
              f"{t_ref:6.3f} s/game -> {t_ref*B:8.1f} s | speedup {r['speedup']:7.1f}x | median "
              f"NashConv ours {r['socialign_median_nash_conv']:.1e} vs "
              f"{r['openspiel_median_nash_conv']:.1e}")
    return rows


def bench_check_schedule(args, rng):
    from convergence import time_check_schedules

    games = solvers.NormalFormGame.zero_sum(rng.normal(size=(args.sched_games, 8, 8)))
    r = time_check_schedules(games, solvers.RegretMatchingPlus(), steps=1000, tol=1e-9,
                             repeats=args.sched_repeats)
    r["games"] = f"{args.sched_games} random zero-sum 8x8, RegretMatchingPlus()"
    st = r["settings"]
    print(f"check schedule, {r['games']}, 1000 steps, tol 1e-9: default "
          f"{st['default']['seconds']:.3f} s ({st['default']['num_checks']} checks), best tuned "
          f"check_every={r['best_tuned']} {st[r['best_tuned']]['seconds']:.3f} s: "
          f"{100 * r['speed_vs_best_tuned']:.0f}% of its speed")
    return r


def main(argv=None):
    p = make_parser(__doc__, out=RESULTS)
    p.add_argument("--games", type=int, default=4096)
    p.add_argument("--actions", type=int, default=16)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--batch-size", type=int, default=0,
                   help="ZeroSumLP solves the batch in vmapped chunks of this many games "
                        "(0: sized to the cache, see cache_chunk)")
    p.add_argument("--curve-games", type=int, default=512)
    p.add_argument("--curve-sizes", type=int, nargs="*", default=[8, 16, 32, 64, 128])
    p.add_argument("--curve-batches", type=int, nargs="*", default=[1, 16, 256, 4096, 16384])
    p.add_argument("--curve-ref-sample", type=int, default=256,
                   help="HiGHS games timed per curve row (fewer for larger games)")
    p.add_argument("--ref-sample", type=int, default=512, help="reference games actually timed")
    p.add_argument("--lh-games", type=int, default=1024)
    p.add_argument("--lh-actions", type=int, default=6)
    p.add_argument("--dyn-games", type=int, default=256)
    p.add_argument("--dyn-actions", type=int, default=8)
    p.add_argument("--dyn-iterations", type=int, default=2000)
    p.add_argument("--dyn-ref-sample", type=int, default=8)
    p.add_argument("--dt", type=float, default=0.01)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sched-games", type=int, default=4096)
    p.add_argument("--sched-repeats", type=int, default=7)
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["zero_sum", "zero_sum_curves", "lemke_howson", "dynamics",
                            "check_schedule"])
    args = parse_args(p, argv)
    rng = np.random.default_rng(args.seed)
    print(f"socialign normal-form benchmark on {jax.devices()[0].platform} "
          f"({os.cpu_count()} cores), jax {jax.__version__}, float64")
    out = {**run_record(args), "machine": {"platform": jax.devices()[0].platform, "cpu_count": os.cpu_count(),
                       "processor": platform.processor(), "jax": jax.__version__},
           "args": vars(args)}
    if "zero_sum" not in args.skip:
        out["zero_sum"] = bench_zero_sum(args, rng)
    if "zero_sum_curves" not in args.skip:
        out["zero_sum_curves"] = bench_zero_sum_curves(args, rng)
    if "lemke_howson" not in args.skip:
        out["lemke_howson"] = bench_lemke_howson(args, rng)
    if "dynamics" not in args.skip:
        out["dynamics"] = bench_dynamics(args, rng)
    if "check_schedule" not in args.skip:
        out["check_schedule"] = bench_check_schedule(args, np.random.default_rng(args.seed))
    if args.skip and os.path.exists(args.out):  # keep the sections that did not run
        with open(args.out) as f:
            kept = json.load(f)
        kept.update({k: v for k, v in out.items() if k not in ("machine", "args")})
        kept.setdefault("partial_updates", []).append({"machine": out["machine"],
                                                       "args": out["args"]})
        out = kept
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
