"""The flagship experiment over several seeds: how far each measured share lands from its prediction.

Runs ``python -m socialign.llm_bridge.demo --seed S`` (the default configuration, or the flags
given after ``--``) for every seed, ``--jobs`` at a time, each in its own process and folder, then
reads each run's ``results.json`` and writes one JSON: per seed, the predicted and measured
honest / gaming / lazy shares of the naive and the contract run, their gaps, the RL steps, the
convergence verdict (KL to the KL-regularised optimum at most ``kl_tol``) and the run time; over
the seeds, the mean gap, the mean and the worst absolute gap of every share, and whether every
share of every seed is within the demo's tolerance (0.1).

  python benchmarks/flagship_seeds.py                        # seeds 0-4, two at a time
  python benchmarks/flagship_seeds.py --seeds 0 1 -- --quick # shortened runs
  python benchmarks/flagship_seeds.py --aggregate-only       # re-read finished runs

The model runs in float32 (``--dtype float32`` is the only choice); ``--platform`` is passed to
every run through ``JAX_PLATFORMS``. Run times of concurrent jobs share the machine: the JSON
records ``--jobs`` and the load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from _common import PLATFORMS, make_parser, parse_args, run_record

SHARES = ("honest", "gaming", "lazy")
RUNS = {"naive": "naive", "contract": "contract_run"}


def _run_seeds(seeds, jobs, workdir, extra, platform):
    env = {**os.environ}
    if platform is not None:
        env["JAX_PLATFORMS"] = PLATFORMS[platform]
    pending, running = list(seeds), []
    while pending or running:
        while pending and len(running) < jobs:
            s = pending.pop(0)
            out = os.path.join(workdir, f"seed{s}")
            os.makedirs(out, exist_ok=True)
            log = open(os.path.join(out, "stdout.log"), "w")
            cmd = [sys.executable, "-m", "socialign.llm_bridge.demo", "--seed", str(s),
                   "--out", out, "--no-progress", *extra]
            print("running", " ".join(cmd[1:]), flush=True)
            running.append((s, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                env=env), log))
        time.sleep(2)
        for item in list(running):
            s, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                print(f"seed {s}: exit code {proc.returncode}", flush=True)
                if proc.returncode != 0:
                    raise SystemExit(f"seed {s} failed; see {log.name}")


def aggregate(seeds, workdir) -> dict:
    """Per-seed rows and the summary over seeds, from each run's ``results.json``."""
    rows, tol = [], None
    for s in seeds:
        with open(os.path.join(workdir, f"seed{s}", "results.json")) as f:
            r = json.load(f)
        tol = r["config"]["tolerance"]
        row = {"seed": s, "runtime_s": round(r["runtime_s"], 1),
               "rl_lr": r["config"]["rl_lr"], "rl_steps_cap": r["config"]["rl_steps"],
               "audit_rate": r["contract"]["audit_rate"], "base_shares": r["base_shares"]}
        for name, key in RUNS.items():
            x = r[key]
            row[name] = {"predicted": x["predicted_shares"], "measured": x["measured_shares"],
                         "gap": x["gap"], "rl_steps": x["rl_steps"],
                         "converged": x["converged"],
                         "final_kl_to_optimum": x["final_kl_to_optimum"]}
        rows.append(row)
    summary = {}
    for name in RUNS:
        for i, share in enumerate(SHARES):
            gaps = [row[name]["gap"][i] for row in rows]
            summary[f"{name}/{share}"] = {
                "mean_gap": sum(gaps) / len(gaps),
                "mean_abs_gap": sum(abs(g) for g in gaps) / len(gaps),
                "worst_abs_gap": max(abs(g) for g in gaps)}
        summary[f"{name}/converged_seeds"] = sum(row[name]["converged"] for row in rows)
    worst = max(v["worst_abs_gap"] for k, v in summary.items() if isinstance(v, dict))
    return {"seeds": list(seeds), "tolerance": tol, "rows": rows, "summary": summary,
            "worst_abs_gap": worst, "all_within_tolerance": worst <= tol}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = make_parser(__doc__, out="results/llm_bridge_flagship_seeds.json",
                         dtype="float32")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    parser.add_argument("--workdir", default="outputs/flagship_seeds",
                        help="one folder per seed (default outputs/flagship_seeds)")
    parser.add_argument("--aggregate-only", action="store_true",
                        help="read the runs already in --workdir; run nothing")
    args = parse_args(parser, own)
    if args.dtype != "float32":
        parser.error("--dtype: the flagship's model runs in float32")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    t0 = time.time()
    if not args.aggregate_only:
        _run_seeds(args.seeds, args.jobs, args.workdir, extra, args.platform)
    res = {**run_record(args), "jobs": args.jobs, "demo_flags": extra,
           "wall_s": round(time.time() - t0, 1), **aggregate(args.seeds, args.workdir)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    for name in RUNS:
        for share in SHARES:
            v = res["summary"][f"{name}/{share}"]
            print(f"{name:9s}{share:7s} mean gap {v['mean_gap']:+.3f}  mean |gap| "
                  f"{v['mean_abs_gap']:.3f}  worst |gap| {v['worst_abs_gap']:.3f}")
    print(f"worst |gap| {res['worst_abs_gap']:.3f} (tolerance {res['tolerance']}): "
          f"{'every share within it' if res['all_within_tolerance'] else 'OUTSIDE'}")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
