"""Convergence of the no-regret dynamics: NashConv against steps on three standard games.

Every learning dynamics of ``socialign.solvers`` (regret matching, RM+ as the field runs it and
its simultaneous variant, predictive RM+, Hedge, optimistic Hedge, and for comparison fictitious
play and replicator dynamics) runs from the uniform profile on

* ORACLES.md's biased rock-paper-scissors (zero-sum, unique equilibrium (1, 10, 5)/16);
* a random 10x10 zero-sum game (standard normal payoffs, seed 0);
* a random 2-player general-sum 10x10 game (standard normal payoffs, seed 1): no-regret
  dynamics only approach the coarse correlated equilibria there, so NashConv need not fall.
  (Shapley's game is no test for dynamics started from the uniform profile: that profile is its
  unique equilibrium, so every dynamics but fictitious play, which breaks ties, stays there.)

NashConv of each solver's answer (its average, or its last iterate for optimistic Hedge and
replicator dynamics) is recorded at 1, 2, 5, 10, ..., ``--steps`` steps: one jitted program per
solver and game shape advances the state between checkpoints and measures NashConv exactly.

Run: ``python benchmarks/convergence.py [--platform cpu] [--dtype float64] [--steps 100000]``
(the JSON holds ``_common.run_record``: device, JAX version, CPUs, load). Writes
``benchmarks/results/convergence_nashconv.json`` and ``benchmarks/results/convergence_nashconv.png``.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
from _common import make_parser, parse_args, run_record
from socialign import solvers

RESULTS = os.path.join(os.path.dirname(__file__), "results")

SOLVERS = {
    "RegretMatching": solvers.RegretMatching(),
    "RegretMatchingPlus": solvers.RegretMatchingPlus(),
    "SimultaneousRegretMatchingPlus": solvers.SimultaneousRegretMatchingPlus(),
    "PredictiveRegretMatchingPlus": solvers.PredictiveRegretMatchingPlus(),
    "Hedge(0.05)": solvers.Hedge(0.05),
    "OptimisticHedge(0.1)": solvers.OptimisticHedge(0.1),
    "FictitiousPlay": solvers.FictitiousPlay(),
    "ReplicatorDynamics(0.1)": solvers.ReplicatorDynamics(0.1),
}


def games():
    biased = np.array([[0.0, -0.25, 0.5], [0.25, 0.0, -0.05], [-0.5, 0.05, 0.0]])
    rand = np.random.default_rng(0).normal(size=(10, 10))
    a, b = np.random.default_rng(1).normal(size=(2, 10, 10))
    return {
        "biased RPS (zero-sum 3x3)": solvers.NormalFormGame.zero_sum(biased),
        "random zero-sum 10x10": solvers.NormalFormGame.zero_sum(rand),
        "random general-sum 10x10": solvers.NormalFormGame.from_bimatrix(a, b),
    }


def checkpoints(limit: int) -> list:
    out, k = [], 1
    while k <= limit:
        out += [m * k for m in (1, 2, 5) if m * k <= limit]
        k *= 10
    return out


@jax.jit
def _advance(game, state, n, solver):
    """``n`` steps (traced) then the exact NashConv of the answer: one program per shape."""
    state = jax.lax.fori_loop(0, n, lambda _, s: solver.step(game, s), state)
    return state, solvers.nash_conv(game, solver.strategies(game, state))


def curve(game, solver, steps: int) -> tuple:
    state = solver.init(game, None)
    done, out = 0, []
    t0 = time.perf_counter()
    for c in checkpoints(steps):
        state, conv = _advance(game, state, c - done, solver)
        done = c
        out.append(float(conv))
    return out, time.perf_counter() - t0


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["games"])
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4.8), sharey=True)
    floor = 1e-16
    for ax, name in zip(axes, names):
        entry = results["games"][name]
        for sname, ys in entry["nash_conv"].items():
            ax.loglog(entry["steps"], np.maximum(ys, floor), marker=".", label=sname)
        ax.set_title(name)
        ax.set_xlabel("steps")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("NashConv (average, or last iterate for optimistic Hedge / replicator)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"socialign no-regret dynamics: NashConv against steps ({results['dtype']}, "
                 "from uniform)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def time_check_schedules(game, solver, *, steps: int, tol: float, tuned=(1, 10, 100, 1000),
                         repeats: int = 7) -> dict:
    """Wall time of ``solvers.solve`` with the solver's default check schedule against fixed
    ``check_every`` values (the hand-tuned alternatives), same game, same ``tol``.

    Every setting is compiled first; then the settings run in interleaved rounds (so all see the
    same load from other processes) and each keeps its fastest round. ``speed_vs_best_tuned``
    is the best tuned wall time over the default's (>= 0.9 is the target);
    ``cpu_speed_vs_best_tuned`` the same in process CPU time (steadier on a shared machine). The checks are
    counted from the schedule (the initial check included), never inferred from time.
    """
    from socialign.kernel import GeometricChecks

    settings = {"default": None, **{str(k): k for k in tuned if k <= steps}}

    def run(ce):
        eq = solvers.solve(game, solver, max_steps=steps, tol=tol, throw=False, check_every=ce)
        jax.block_until_ready(eq.nash_conv)
        return eq

    info = {}
    for name, ce in settings.items():
        t = time.perf_counter()
        eq = run(ce)
        n = int(np.max(np.asarray(eq.stats["num_steps"])))
        sched = solver.default_check_every if ce is None else ce
        checks = (len(sched.check_steps(n)) if isinstance(sched, GeometricChecks)
                  else -(-n // sched)) + 1
        info[name] = {"check_every": repr(sched), "compile_and_run_s": time.perf_counter() - t,
                      "num_steps": n, "num_checks": checks,
                      "max_nash_conv": float(np.max(np.asarray(eq.nash_conv)))}
    wall = {k: [] for k in settings}
    cpu = {k: [] for k in settings}
    load_before = os.getloadavg()
    for _ in range(repeats):
        for name, ce in settings.items():
            t, c = time.perf_counter(), time.process_time()
            run(ce)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    for name in settings:
        info[name]["seconds"] = min(wall[name])
        info[name]["cpu_seconds"] = min(cpu[name])
    tuned_names = [k for k in settings if k != "default"]
    best_name = min(tuned_names, key=lambda k: info[k]["seconds"])
    best_cpu = min(info[k]["cpu_seconds"] for k in tuned_names)
    return {"steps": steps, "tol": tol, "repeats": repeats, "settings": info,
            "best_tuned": best_name,
            "speed_vs_best_tuned": info[best_name]["seconds"] / info["default"]["seconds"],
            "cpu_speed_vs_best_tuned": best_cpu / info["default"]["cpu_seconds"],
            "load_average_before_after": [load_before[0], os.getloadavg()[0]]}


def main(argv=None):
    ap = make_parser(__doc__, out=os.path.join(RESULTS, "convergence_nashconv.json"))
    ap.add_argument("--steps", type=int, default=100_000)
    args = parse_args(ap, argv)
    results = {**run_record(args),
               "steps_max": args.steps, "solvers": {k: repr(v) for k, v in SOLVERS.items()},
               "games": {}}
    for gname, game in games().items():
        entry = {"steps": checkpoints(args.steps), "nash_conv": {}, "seconds_incl_compile": {}}
        for sname, solver in SOLVERS.items():
            ys, secs = curve(game, solver, args.steps)
            entry["nash_conv"][sname] = ys
            entry["seconds_incl_compile"][sname] = secs
            print(f"{gname:34s} {sname:32s} NashConv at {args.steps}: {ys[-1]:.2e}", flush=True)
        results["games"][gname] = entry
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    plot(results, args.out.replace(".json", ".png"))
    print("wrote", args.out, "and", args.out.replace(".json", ".png"))


if __name__ == "__main__":
    main()
