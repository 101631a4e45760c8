"""Extensive-form benchmark: socialign CFR/CFR+ against OpenSpiel's C++ solvers, in one process.

For every game and algorithm both implementations run for the same wall time (``--seconds``):

* iterations per second (ours: the jitted ``solver.step`` in a ``fori_loop``, exactly what
  ``solvers.solve`` runs; compile time is reported separately);
* the exploitability curve at the same iteration counts (1, 2, 5, 10, ...): with the same
  algorithm and update order the two curves must coincide (``curve_max_abs_diff``);
* exploitability after equal wall time (ours typically ran many more iterations);
* a batch of ``--batch`` Kuhn-sized games (random zero-sum payoffs on Kuhn's tree) solved by one
  ``solvers.solve`` call, against OpenSpiel solving the same number of Kuhn games one by one.

* outcome-sampling MCCFR on Leduc: OpenSpiel's C++ ``OutcomeSamplingMCCFRSolver`` against
  ``solvers.MCCFR(num_samples=64)``, sampled trajectories per second and exploitability after
  equal wall time.

* the check schedule: ``solvers.solve(leduc, CFRPlus(), max_steps=1000, tol=...)`` with the
  default schedule (``kernel.GeometricChecks``) against hand-tuned ``check_every`` values
  (target: >= 90% of the best tuned speed); ``--only-check-schedule`` runs just this part and
  updates the ``check_schedule`` entry of an existing JSON.

The two implementations run in interleaved rounds, so both see the same load from other
processes. OpenSpiel's ``JaxCFR`` is included when it imports (it needs ``chex``).

Run: ``python benchmarks/extensive_form.py [--platform cpu] [--dtype float64] [--seconds 3]
[--games kuhn leduc liars goofspiel] [--batch-sizes 256]`` (``--batch-sizes`` sweeps the Kuhn
batch). Writes ``benchmarks/results/extensive_form.json`` (``--out``) with
``_common.run_record`` (device, JAX version, CPUs, load).
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
from _common import make_parser, parse_args, run_record
from socialign import solvers

GAMES = {
    "kuhn": "kuhn_poker",
    "leduc": "leduc_poker",
    "liars": "liars_dice(dice_sides=4)",
    "goofspiel": "turn_based(goofspiel(num_cards=3,imp_info=True))",
}
ALGOS = {
    "cfr": (solvers.CFR(), pyspiel.CFRSolver),
    "cfr+": (solvers.CFRPlus(), pyspiel.CFRPlusSolver),
}


def load(spec: str):
    if spec.startswith("turn_based("):
        inner = spec[len("turn_based("):-1]
        return pyspiel.convert_to_turn_based(pyspiel.load_game(inner))
    return pyspiel.load_game(spec)


def checkpoints(limit: int):
    out, k = [], 1
    while k <= limit:
        for m in (1, 2, 5):
            if m * k <= limit:
                out.append(m * k)
        k *= 10
    return out


@jax.jit
def _advance(game, state, n, solver):  # the solver is a pytree: its float settings are traced
    return jax.lax.fori_loop(0, n, lambda _, s: solver.step(game, s), state)


@jax.jit
def _expl(game, state, solver):
    return solvers.exploitability(game, solver.strategies(game, state))


def run_pair(os_game, os_cls, game, solver, seconds, round_s=0.25):
    """Interleave OpenSpiel and socialign in short rounds until each used ``seconds`` of wall time.

    Interleaving exposes both to the same machine load (other processes on a shared machine).
    """
    ref = os_cls(os_game)
    key = jax.random.key(0)
    state = solver.init(game, key)
    t = time.perf_counter()
    jax.block_until_ready(_advance(game, state, 1, solver))
    jax.block_until_ready(_expl(game, state, solver))
    compile_s = time.perf_counter() - t
    marks = set(checkpoints(10**9))
    os_curve, os_n, os_busy, n, busy, chunk = {}, 0, 0.0, 0, 0.0, 1
    while os_busy < seconds or busy < seconds:
        if os_busy < seconds:
            spent = 0.0
            while spent < round_s:
                t = time.perf_counter()
                ref.evaluate_and_update_policy()
                spent += time.perf_counter() - t
                os_n += 1
                if os_n in marks:
                    os_curve[os_n] = pyspiel.exploitability(os_game, ref.average_policy())
            os_busy += spent
        if busy < seconds:
            spent = 0.0
            while spent < round_s:
                t = time.perf_counter()
                state = jax.block_until_ready(_advance(game, state, chunk, solver))
                dt = time.perf_counter() - t
                spent += dt
                n += chunk
                chunk = max(1, int(chunk / max(dt, 1e-9) * round_s / 4))
            busy += spent
    os_final = pyspiel.exploitability(os_game, ref.average_policy())
    ours_final = float(_expl(game, state, solver))
    # our exploitability curve at OpenSpiel's checkpoints (untimed, from a fresh start)
    curve, state, k = {}, solver.init(game, key), 0
    for c in sorted(os_curve):
        state = _advance(game, state, c - k, solver)
        k = c
        curve[c] = float(_expl(game, state, solver))
    diff = max((abs(curve[c] - os_curve[c]) for c in os_curve), default=float("nan"))
    ref_out = {"iterations": os_n, "seconds": os_busy, "its_per_s": os_n / os_busy,
               "exploitability": os_final, "curve": os_curve}
    ours_out = {"iterations": n, "seconds": busy, "its_per_s": n / busy, "compile_s": compile_s,
                "exploitability": ours_final, "curve": curve}
    return ref_out, ours_out, diff


def run_mccfr(os_game, game, seconds, num_samples):
    """Outcome-sampling MCCFR: OpenSpiel C++ against socialign (``num_samples`` trajectories per
    player per iteration), equal wall time; rates in sampled trajectories per second."""
    ref = pyspiel.OutcomeSamplingMCCFRSolver(os_game, 0.6, 1234)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            ref.run_iteration()
        n += 100
    os_time = time.perf_counter() - t0
    os_expl = pyspiel.exploitability(os_game, ref.average_policy())
    solver = solvers.MCCFR(num_samples=num_samples)
    state = solver.init(game, jax.random.key(0))
    t = time.perf_counter()
    jax.block_until_ready(_advance(game, state, 1, solver))
    jax.block_until_ready(_expl(game, state, solver))
    compile_s = time.perf_counter() - t
    k, busy, chunk = 0, 0.0, 1
    while busy < seconds:
        t = time.perf_counter()
        state = jax.block_until_ready(_advance(game, state, chunk, solver))
        dt = time.perf_counter() - t
        busy += dt
        k += chunk
        chunk = max(1, int(chunk / max(dt, 1e-9) * 0.25))
    players = game.num_players
    return {"openspiel_trajectories_per_s": n * players / os_time,
            "openspiel_exploitability": os_expl,
            "socialign_num_samples": num_samples,
            "socialign_trajectories_per_s": k * num_samples * players / busy,
            "socialign_exploitability": float(_expl(game, state, solver)),
            "socialign_compile_s": compile_s,
            "ratio_trajectories_per_s": (k * num_samples * players / busy)
            / (n * players / os_time)}


def run_solve_call(game, solver, steps):
    """Iterations/s of one ``solvers.solve`` call (certificate included), after compilation."""
    kw = dict(max_steps=steps, tol=0.0, throw=False, check_every=steps)
    jax.block_until_ready(solvers.solve(game, solver, **kw).nash_conv)
    t = time.perf_counter()
    eq = solvers.solve(game, solver, **kw)
    jax.block_until_ready(eq.nash_conv)
    return steps / (time.perf_counter() - t), float(jnp.max(eq.nash_conv)) / 2


def batch_benchmark(batch, steps, seconds):
    kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
    rng = np.random.default_rng(0)
    u = rng.normal(size=(batch, kuhn.num_terminals, 1))
    games = kuhn.with_utilities(np.concatenate([u, -u], axis=-1))
    kw = dict(max_steps=steps, tol=0.0, throw=False, check_every=steps)
    t = time.perf_counter()
    jax.block_until_ready(solvers.solve(games, solvers.CFRPlus(), **kw).nash_conv)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    eq = solvers.solve(games, solvers.CFRPlus(), **kw)
    jax.block_until_ready(eq.nash_conv)
    ours = time.perf_counter() - t
    os_game = pyspiel.load_game("kuhn_poker")
    solver = pyspiel.CFRPlusSolver(os_game)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        solver.evaluate_and_update_policy()
        n += 1
    os_rate = n / (time.perf_counter() - t0)
    ours_rate = batch * steps / ours
    return {"batch": batch, "steps": steps, "ours_seconds": ours, "compile_s": compile_s,
            "ours_game_its_per_s": ours_rate, "openspiel_game_its_per_s": os_rate,
            "ratio": ours_rate / os_rate,
            "max_exploitability": float(jnp.max(eq.nash_conv)) / 2}


def check_schedule_benchmark(repeats):
    """Default check schedule against fixed ``check_every`` on Leduc CFR+, 1,000 iterations:
    with ``tol=1e-9`` (never met: the schedule's pure overhead) and a tolerance met after some
    hundreds of iterations (the default also stops soon after): ``tol`` is relative to each
    player's payoff range, so NashConv 1e-3 in Leduc's chips is ``1e-3 / 26``."""
    from convergence import time_check_schedules

    leduc = solvers.ExtensiveFormGame.from_openspiel("leduc_poker")
    chips = float(np.max(np.asarray(solvers.payoff_ranges(leduc))))  # 26: -13 .. 13 chips
    out = {}
    for tol in (1e-9, 1e-3 / chips):
        r = time_check_schedules(leduc, solvers.CFRPlus(), steps=1000, tol=tol,
                                 tuned=(1, 10, 100, 1000), repeats=repeats)
        st = r["settings"]
        print(f"check schedule, Leduc CFR+ 1000 it, tol {tol:g}: default "
              f"{st['default']['seconds']:.3f} s ({st['default']['num_checks']} checks, "
              f"{st['default']['num_steps']} it), best tuned check_every={r['best_tuned']} "
              f"{st[r['best_tuned']]['seconds']:.3f} s ({st[r['best_tuned']]['num_steps']} it): "
              f"{100 * r['speed_vs_best_tuned']:.0f}% of its speed", flush=True)
        out[f"leduc_cfr+_tol_{tol:g}"] = r
    return out


def jaxcfr_status():
    try:
        from open_spiel.python.jax.cfr import jax_cfr  # noqa: F401
    except Exception as e:  # pragma: no cover - depends on optional deps
        return f"unavailable: {type(e).__name__}: {e}"
    return "available (not benchmarked here)"


def main(argv=None):
    ap = make_parser(__doc__, out="results/extensive_form.json", batch_sizes=[256])
    ap.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    ap.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    ap.add_argument("--seconds", type=float, default=3.0, help="wall time per run")
    ap.add_argument("--batch-steps", type=int, default=1000)
    ap.add_argument("--mccfr-games", nargs="*", default=["leduc"], choices=list(GAMES))
    ap.add_argument("--mccfr-samples", type=int, default=64,
                    help="trajectories per player per MCCFR iteration (ours)")
    ap.add_argument("--only-check-schedule", action="store_true",
                    help="run only the check-schedule timing; update an existing JSON")
    ap.add_argument("--schedule-repeats", type=int, default=5)
    args = parse_args(ap, argv)
    if args.only_check_schedule:
        results = {}
        if os.path.exists(args.out):
            with open(args.out) as f:
                results = json.load(f)
        results["check_schedule"] = check_schedule_benchmark(args.schedule_repeats)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, default=float)
        print(f"wrote {args.out}")
        return

    results = {**run_record(args), "seconds_per_run": args.seconds,
               "jaxcfr": jaxcfr_status(), "games": {}}
    rows = []
    for gname in args.games:
        os_game = load(GAMES[gname])
        t = time.perf_counter()
        game = solvers.ExtensiveFormGame.from_openspiel(os_game)
        build = time.perf_counter() - t
        entry = {"openspiel": str(os_game), "histories": game.num_histories,
                 "infosets": game.num_infosets, "terminals": game.num_terminals,
                 "build_s": build, "algos": {}}
        for aname in args.algos:
            ours_solver, os_cls = ALGOS[aname]
            ref, ours, diff = run_pair(os_game, os_cls, game, ours_solver, args.seconds)
            solve_rate, _ = run_solve_call(game, ours_solver, max(10, ref["iterations"]))
            entry["algos"][aname] = {
                "openspiel_cpp": ref, "socialign": ours,
                "ratio_its_per_s": ours["its_per_s"] / ref["its_per_s"],
                "socialign_solve_call_its_per_s": solve_rate,
                "curve_max_abs_diff": diff,
            }
            rows.append((gname, aname, ref["its_per_s"], ours["its_per_s"],
                         ours["its_per_s"] / ref["its_per_s"], ref["exploitability"],
                         ours["exploitability"], diff))
        results["games"][gname] = entry
    results["batch_sweep"] = [batch_benchmark(n, args.batch_steps, args.seconds)
                              for n in args.batch_sizes]
    results["batch"] = results["batch_sweep"][-1]
    mc = {}
    for gname in args.mccfr_games:
        os_game = load(GAMES[gname])
        game = solvers.ExtensiveFormGame.from_openspiel(os_game)
        mc[gname] = run_mccfr(os_game, game, args.seconds, args.mccfr_samples)
    results["mccfr"] = mc
    results["check_schedule"] = check_schedule_benchmark(args.schedule_repeats)

    print(f"{'game':10s} {'algo':5s} {'OpenSpiel it/s':>14s} {'ours it/s':>10s} {'ratio':>7s} "
          f"{'expl OS':>10s} {'expl ours':>10s} {'curve diff':>10s}")
    for g, a, r, o, q, e1, e2, d in rows:
        print(f"{g:10s} {a:5s} {r:14.1f} {o:10.1f} {q:7.1f} {e1:10.2e} {e2:10.2e} {d:10.1e}")
    b = results["batch"]
    print(f"batch of {b['batch']} Kuhn games, CFR+ x {b['steps']} steps in one solve call: "
          f"{b['ours_seconds']:.2f} s ({b['ours_game_its_per_s']:.0f} game-it/s vs OpenSpiel "
          f"{b['openspiel_game_its_per_s']:.0f}: {b['ratio']:.1f}x), max exploitability "
          f"{b['max_exploitability']:.1e}")
    for gname, m in mc.items():
        print(f"MCCFR outcome sampling on {gname}: OpenSpiel C++ "
              f"{m['openspiel_trajectories_per_s']:.0f} trajectories/s (exploitability "
              f"{m['openspiel_exploitability']:.3f}), ours x{m['socialign_num_samples']} "
              f"{m['socialign_trajectories_per_s']:.0f} trajectories/s (exploitability "
              f"{m['socialign_exploitability']:.3f}); ratio {m['ratio_trajectories_per_s']:.1f}")
    print(f"OpenSpiel JaxCFR: {results['jaxcfr']}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, default=float)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
