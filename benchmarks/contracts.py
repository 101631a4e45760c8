"""Benchmark: optimal contracts for a batch of random principal-agent problems.

socialign solves every instance's Grossman-Hart min-pay LPs (one per action) as ONE batch
(`mechanisms.optimal_contract` on a batched `PrincipalAgent`: `solvers.linprog`'s batched dual
simplex with its masked interior-point fallback, and also timed with ``method="ipm"``, the
interior-point method alone) and picks the best
action; the
reference solves the same per-action LPs with scipy HiGHS one instance at a time. HiGHS is timed
on a subset of instances (``--highs-instances``) and its per-instance time is extrapolated to the
whole batch (the per-instance cost of HiGHS does not depend on the batch). Agreement of the
principal's utility is measured on that subset (float64).

The curve (``--curve``, default 10x20, 20x40, 40x80 actions x outcomes) repeats the
comparison over problem sizes, each row timed interleaved (socialign's batch, then HiGHS on a
sample, in one process) in wall and CPU seconds with the load average, since the machine's
load slows the two sides differently.

Usage:  python benchmarks/contracts.py [--instances 10000 --actions 10 --outcomes 20]
        [--curve 10x20 20x40 40x80] [--curve-lps 40000]
Writes benchmarks/results/contracts.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

import jax
from _common import make_parser, parse_args, run_record

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from scipy.optimize import linprog as scipy_linprog  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from socialign import mechanisms  # noqa: E402
from socialign.solvers import Result  # noqa: E402


def random_instances(n, A, O, seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(O), size=(n, A))
    costs = np.sort(rng.uniform(0.0, 1.0, (n, A)), axis=-1)
    costs[:, 0] = 0.0
    rewards = np.sort(rng.uniform(0.0, 10.0, (n, O)), axis=-1)
    return P, costs, rewards


def highs_optimal_contract(P, costs, rewards, R=0.0):
    """Grossman-Hart with scipy HiGHS: one LP per action, then the best action."""
    A, O = P.shape
    best = -np.inf
    for k in range(A):
        others = [a for a in range(A) if a != k]
        A_ub = np.vstack([P[others] - P[k], -P[k][None]])
        b_ub = np.concatenate([costs[others] - costs[k], [-(R + costs[k])]])
        res = scipy_linprog(P[k], A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        if res.status == 0:
            best = max(best, P[k] @ rewards - res.fun)
    return best


def curve_row(A, O, lps, highs_instances, seed, repeats=3):
    """One size of the curve: ``lps // A`` instances (``lps`` LPs), timed interleaved."""
    n = max(16, lps // A)
    load0 = os.getloadavg()[0]
    P, costs, rewards = random_instances(n, A, O, seed)
    problem = mechanisms.PrincipalAgent(P, costs, rewards)
    jax.block_until_ready(mechanisms.optimal_contract(problem).principal_value)  # compile
    wall = cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        res = mechanisms.optimal_contract(problem)
        jax.block_until_ready(res.principal_value)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    k = min(n, highs_instances)
    t, c = time.perf_counter(), time.process_time()
    ref = np.array([highs_optimal_contract(P[i], costs[i], rewards[i]) for i in range(k)])
    h_wall, h_cpu = (time.perf_counter() - t) / k, (time.process_time() - c) / k
    ours = np.asarray(res.principal_value)[:k]
    rel = np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))
    row = {"actions": A, "outcomes": O, "instances": n, "lps": n * A,
           "socialign_wall_s": wall, "socialign_cpu_s": cpu,
           "highs_per_instance_ms": 1e3 * h_wall, "highs_cpu_per_instance_ms": 1e3 * h_cpu,
           "highs_instances_timed": k, "speedup": h_wall * n / wall,
           "speedup_cpu_time": h_cpu * n / cpu, "max_relative_difference": float(rel.max()),
           "fraction_converged": float(np.mean(np.asarray(res.result) == Result.CONVERGED)),
           "load_average_1min": [load0, os.getloadavg()[0]]}
    print(f"  {A:3d} x {O:3d}, {n:6d} instances: socialign {1e3 * wall / n:8.3f} ms/instance "
          f"(cpu {1e3 * cpu / n:8.3f}) | HiGHS {1e3 * h_wall:8.2f} ms (cpu {1e3 * h_cpu:8.2f}) | "
          f"{row['speedup']:6.1f}x wall, {row['speedup_cpu_time']:6.1f}x cpu | max rel diff "
          f"{rel.max():.1e} | load {load0:.1f}", flush=True)
    return row


def main(argv=None):
    ap = make_parser(__doc__, out=os.path.join("results", "contracts.json"))
    ap.add_argument("--instances", type=int, default=10_000)
    ap.add_argument("--actions", type=int, default=10)
    ap.add_argument("--outcomes", type=int, default=20)
    ap.add_argument("--highs-instances", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ipm-instances", type=int, default=500,
                    help="also time method='ipm' (solvers.linprog for every LP) on this many "
                         "instances (0 to skip); its per-instance time is reported")
    ap.add_argument("--curve", nargs="*", default=["10x20", "20x40", "40x80"],
                    help="actions x outcomes sizes of the curve (none to skip)")
    ap.add_argument("--curve-lps", type=int, default=40_000,
                    help="LPs per curve row (instances = curve_lps // actions)")
    ap.add_argument("--curve-highs-instances", type=int, default=40)
    args = parse_args(ap, argv)
    n, A, O = args.instances, args.actions, args.outcomes
    P, costs, rewards = random_instances(n, A, O, args.seed)
    problem = mechanisms.PrincipalAgent(P, costs, rewards)

    t0 = time.perf_counter()
    c = mechanisms.optimal_contract(problem)
    jax.block_until_ready(c.principal_value)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = mechanisms.optimal_contract(problem)
    jax.block_until_ready(c.principal_value)
    t_ours = time.perf_counter() - t0
    ours = np.asarray(c.principal_value)
    converged = float(np.mean(np.asarray(c.result) == Result.CONVERGED))
    max_ic = float(np.max(np.asarray(c.incentive_violation)))
    max_participation = float(np.max(np.asarray(c.participation_violation)))

    t_ipm = t_ipm_first = None
    ipm_agree = None
    k_ipm = min(args.ipm_instances, n)
    if k_ipm > 0:
        sub = problem[:k_ipm]
        t0 = time.perf_counter()
        ci = mechanisms.optimal_contract(sub, method="ipm")
        jax.block_until_ready(ci.principal_value)
        t_ipm_first = (time.perf_counter() - t0) / k_ipm * n
        t0 = time.perf_counter()
        ci = mechanisms.optimal_contract(sub, method="ipm")
        jax.block_until_ready(ci.principal_value)
        t_ipm = (time.perf_counter() - t0) / k_ipm * n  # extrapolated to the whole batch
        ipm_agree = float(np.max(np.abs(np.asarray(ci.principal_value) - ours[:k_ipm])
                                 / np.maximum(1.0, np.abs(ours[:k_ipm]))))

    m = min(args.highs_instances, n)
    t0 = time.perf_counter()
    ref = np.array([highs_optimal_contract(P[i], costs[i], rewards[i]) for i in range(m)])
    t_highs_subset = time.perf_counter() - t0
    per_instance = t_highs_subset / m
    t_highs = per_instance * n
    rel = np.abs(ours[:m] - ref) / np.maximum(1.0, np.abs(ref))
    agree = float(np.mean(rel <= 1e-6))

    rows = [
        ("socialign batch (steady state)", t_ours, t_ours / n),
        ("socialign batch (first call, incl. compile)", t_first, t_first / n),
    ]
    if t_ipm is not None:
        rows += [(f"socialign method='ipm' (linprog), batch of {k_ipm}, extrapolated", t_ipm,
                  t_ipm / n),
                 ("  same, first call incl. compile", t_ipm_first, t_ipm_first / n)]
    rows += [
        (f"scipy HiGHS one at a time (extrapolated from {m})", t_highs, per_instance),
    ]
    print(f"{n} principal-agent instances, {A} actions x {O} outcomes ({n * A} LPs), float64")
    print(f"{'method':52s} {'total s':>10s} {'per instance ms':>16s}")
    for name, tot, per in rows:
        print(f"{name:52s} {tot:10.3f} {1e3 * per:16.4f}")
    print(f"speed-up (steady state): {t_highs / t_ours:.1f}x; including compile: "
          f"{t_highs / t_first:.1f}x")
    print(f"agreement with HiGHS on {m} instances: max relative difference of the principal's "
          f"utility {rel.max():.2e}; fraction within 1e-6: {agree:.4f}")
    if t_ipm is not None:
        print(f"interior-point path: {t_highs / t_ipm:.1f}x vs HiGHS; max relative difference "
              f"from the dual simplex path {ipm_agree:.2e}")
    print(f"certified: {converged:.4f} converged; max IC violation {max_ic:.2e}; "
          f"max participation violation {max_participation:.2e}")
    curve = []
    if args.curve:
        print("curve over sizes (interleaved per row, float64):")
        for spec in args.curve:
            a, o = (int(v) for v in spec.lower().split("x"))
            curve.append(curve_row(a, o, args.curve_lps, args.curve_highs_instances, args.seed))
    out = {
        "benchmark": "contracts",
        "load_average_1min": os.getloadavg()[0],
        "curve": curve,
        "instances": n, "actions": A, "outcomes": O, "lps": n * A, "dtype": "float64",
        "socialign_seconds": t_ours, "socialign_first_call_seconds": t_first,
        "highs_instances_timed": m, "highs_seconds_timed": t_highs_subset,
        "highs_seconds_per_instance": per_instance, "highs_seconds_extrapolated": t_highs,
        "speedup": t_highs / t_ours, "speedup_including_compile": t_highs / t_first,
        "ipm_instances_timed": k_ipm, "ipm_seconds_extrapolated": t_ipm, "ipm_first_call_seconds_extrapolated": t_ipm_first,
        "ipm_speedup": None if t_ipm is None else t_highs / t_ipm,
        "ipm_max_relative_difference_from_simplex": ipm_agree,
        "max_relative_difference": float(rel.max()), "fraction_within_1e-6": agree,
        "fraction_converged": converged, "max_ic_violation": max_ic,
        "max_participation_violation": max_participation,
        **run_record(args),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "jax": jax.__version__, "device": str(jax.devices()[0])},
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
