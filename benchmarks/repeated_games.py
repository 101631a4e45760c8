"""Repeated games: socialign's batched SPE payoff sets against QuantEcon.py one game at a time.

A batch of random stage games (2x2, and 3x3) over a grid of discount factors goes through
``solvers.equilibrium_payoffs`` in one call (Abreu-Sannikov inner set, Judd-Yeltekin-Conklin
outer set); QuantEcon.py's ``RepeatedGame(...).equilibrium_payoffs()`` (Abreu-Sannikov, numba)
solves the same pairs one at a time, interleaved with ours and warmed up. Where QuantEcon.py
returns a polygon (it refuses sets that are a point or a segment: qhull needs full dimension),
the vertex sets are compared by Hausdorff distance. Target: >= 100x on 1,000 pairs.

QuantEcon.py 0.11.4's numba kernel (``_R``) writes out of bounds on some 3x3 stage games (numba
does not check indices): the heap is corrupted and the process later aborts (``free(): invalid
next size``). Before timing, every pair is therefore screened once in a child process with
``NUMBA_BOUNDSCHECK=1`` (where such a write raises ``IndexError``); the pairs that fail are
dropped from both sides and counted in the JSON (``skipped_quantecon_out_of_bounds``).

Times exclude compilation (socialign is warmed up on a same-shaped batch, QuantEcon.py's numba
functions on one game first). socialign iterates ``--slots`` members at a time, each slot
refilled with the next member when its member stops (``kernel.iterate_batch``), so the work
follows each pair's own step count. Writes benchmarks/results/repeated_games.json and, with
``--figure``, benchmarks/results/repeated_pd_payoff_sets.png (the prisoner's dilemma payoff
sets for several discount factors; needs matplotlib, the ``plot`` extra).

Usage: python benchmarks/repeated_games.py [--games 250] [--deltas 4] [--slots 64]
       [--quick] [--figure]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import jax
from _common import make_parser, parse_args, run_record

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import quantecon.game_theory as qe  # noqa: E402
from socialign import solvers  # noqa: E402

HERE = os.path.dirname(__file__)
RESULTS = os.path.join(HERE, "results", "repeated_games.json")
FIGURE = os.path.join(HERE, "results", "repeated_pd_payoff_sets.png")


def _poly_dist(x, V):
    if len(V) == 1:
        return float(np.linalg.norm(x - V[0]))
    W = np.roll(V, -1, axis=0)
    c = (V[:, 0] - x[0]) * (W[:, 1] - x[1]) - (V[:, 1] - x[1]) * (W[:, 0] - x[0])
    if len(V) >= 3 and (np.all(c >= -1e-12) or np.all(c <= 1e-12)):
        return 0.0
    e = W - V
    t = np.clip(np.sum((x - V) * e, 1) / np.maximum(np.sum(e * e, 1), 1e-300), 0, 1)
    return float(np.min(np.linalg.norm(x - V - t[:, None] * e, axis=1)))


def hausdorff(P, Q):
    return max(max(_poly_dist(p, Q) for p in P), max(_poly_dist(q, P) for q in Q))


def quantecon_set(U, delta):
    sg = qe.NormalFormGame((qe.Player(U[0]), qe.Player(U[1].T)))
    try:
        hull = qe.RepeatedGame(sg, delta).equilibrium_payoffs()
    except Exception:          # degenerate set (qhull) or no pure SPE (ValueError)
        return None
    return hull.points[hull.vertices]


def _screen_child(path):
    """Child process (``NUMBA_BOUNDSCHECK=1``): print the pairs whose solve indexes out of
    bounds in QuantEcon.py's numba code."""
    data = np.load(path)
    bad = []
    for j, (u, d) in enumerate(zip(data["U"], data["D"])):
        sg = qe.NormalFormGame((qe.Player(u[0]), qe.Player(u[1].T)))
        try:
            qe.RepeatedGame(sg, float(d)).equilibrium_payoffs()
        except IndexError:
            bad.append(j)
        except Exception:  # noqa: S110 (degenerate sets: refused, but memory-safe)
            pass
    print(json.dumps(bad))


def quantecon_out_of_bounds(U, D) -> list[int]:
    """Indices of the pairs on which QuantEcon.py's kernel writes out of bounds (a child
    process with numba's bounds checks on, so this process's heap stays intact)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pairs.npz")
        np.savez(path, U=U, D=D)
        env = dict(os.environ, NUMBA_BOUNDSCHECK="1", JAX_PLATFORMS="cpu")
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--screen", path],
                             env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(games: int, num_deltas: int, m: int, seed: int, repeats: int, slots):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(games, 2, m, m))
    deltas = np.linspace(0.5, 0.9, num_deltas)
    U = np.broadcast_to(G[:, None], (games, num_deltas, 2, m, m)).reshape(-1, 2, m, m)
    D = np.broadcast_to(deltas[None], (games, num_deltas)).reshape(-1)
    unsafe = quantecon_out_of_bounds(U, D)
    keep = np.setdiff1d(np.arange(len(D)), unsafe)
    U, D = np.ascontiguousarray(U[keep]), np.ascontiguousarray(D[keep])
    G = U[::num_deltas]                                # a stage game for numba's warm-up
    game = solvers.RepeatedGame(jnp.asarray(U), jnp.asarray(D))

    def ours():
        return solvers.equilibrium_payoffs(game, throw=False, slots=slots)

    t0 = time.perf_counter()
    jax.block_until_ready(ours())                      # compile + first run
    compile_s = time.perf_counter() - t0
    quantecon_set(G[0], 0.9)                           # numba warm-up
    t_ours, t_ref, refs, out = [], [], [None] * len(D), None
    for _ in range(repeats):                           # interleaved
        t = time.perf_counter()
        out = ours()
        jax.block_until_ready(out)
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        for j in range(len(D)):
            refs[j] = quantecon_set(U[j], D[j])
        t_ref.append(time.perf_counter() - t)
    compared, worst, certified = 0, 0.0, 0
    for j in range(len(D)):
        if int(out.result[j]) == 0:
            certified += 1
        if refs[j] is None or int(out.result[j]) != 0:
            continue
        n = int(out.num_vertices[j])
        worst = max(worst, hausdorff(np.asarray(out.vertices[j, :n]), refs[j]))
        compared += 1
    row = dict(stage_game=f"{m}x{m}", pairs=len(D), games=games, deltas=deltas.tolist(),
               skipped_quantecon_out_of_bounds=len(unsafe),
               slots=slots,
               socialign_s=min(t_ours), quantecon_s=min(t_ref),
               ratio=min(t_ref) / min(t_ours), compile_s=compile_s,
               compared_with_quantecon=compared, certified=certified,
               max_hausdorff_vs_quantecon=worst,
               mean_bracket_width=float(jnp.mean(jnp.where(out.result == 0, out.bracket_width,
                                                           0))),
               max_steps_taken=int(out.num_steps.max()))
    print(f"{m}x{m}: {len(D)} pairs ({len(unsafe)} skipped: QuantEcon.py out of bounds)  socialign {row['socialign_s']:.3f}s  QuantEcon.py "
          f"{row['quantecon_s']:.3f}s  ratio {row['ratio']:.1f}x  compared {compared}  "
          f"max Hausdorff {worst:.2e}")
    return row


def figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pd = np.array([[[9.0, 1.0], [10.0, 3.0]], [[9.0, 10.0], [1.0, 3.0]]])
    # a sweep just above 1/7 (where cooperation becomes sustainable) in one batch; plot the
    # first discount factor of each distinct set, and delta = 0.9
    sweep = np.append(np.round(np.arange(0.15, 0.36, 0.01), 2), 0.9)
    all_sol = solvers.equilibrium_payoffs(solvers.RepeatedGame(pd, sweep))

    def area(k):
        V = np.asarray(all_sol.vertices[k, :int(all_sol.num_vertices[k])])
        x, y = V[:, 0], V[:, 1]
        return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

    areas = [area(k) for k in range(len(sweep))]
    pick = [0] + [k for k in range(1, len(sweep) - 1) if abs(areas[k] - areas[k - 1]) > 1e-6]
    pick = pick[:4] + [len(sweep) - 1]
    deltas = sweep[pick]
    sol = jax.tree_util.tree_map(lambda x: x[np.array(pick)], all_sol)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    feas = np.array([[3, 3], [10, 1], [9, 9], [1, 10], [3, 3]])
    ax.plot(*feas.T, color="0.7", lw=1, label="feasible payoffs")
    for k, d in enumerate(deltas):
        n = int(sol.num_vertices[k])
        V = np.asarray(sol.vertices[k, :n])
        V = np.vstack([V, V[:1]])
        ax.fill(*V.T, alpha=0.25)
        ax.plot(*V.T, lw=1.5, label=f"δ = {d:g}")
    O = np.asarray(sol.outer_vertices[-1])
    ax.plot(*np.vstack([O, O[:1]]).T, "k--", lw=0.8, label="outer bound, δ = 0.9")
    ax.set_xlabel("row player's payoff")
    ax.set_ylabel("column player's payoff")
    ax.set_title("Repeated prisoner's dilemma: SPE payoff sets")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=120)
    print("wrote", FIGURE)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--screen"]:
        return _screen_child(argv[1])
    ap = make_parser(__doc__, out=RESULTS)
    ap.add_argument("--games", type=int, default=250)
    ap.add_argument("--deltas", type=int, default=4)
    ap.add_argument("--games3", type=int, default=50, help="3x3 stage games (0: skip)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slots", type=int, default=64,
                    help="socialign's slots (members iterating together)")
    ap.add_argument("--quick", action="store_true", help="a few games (smoke run)")
    ap.add_argument("--figure", action="store_true")
    a = parse_args(ap, argv)
    if a.quick:
        a.games, a.games3, a.repeats = 16, 4, 1
    if a.figure:
        figure()
    rows = []

    def write():
        result = dict(run_record(a), benchmark="repeated_games", device=jax.devices()[0].device_kind,
                      platform=platform.platform(), load=list(os.getloadavg()),
                      dtype="float64", quick=a.quick, rows=rows,
                      note="QuantEcon.py solves one pair per call; socialign one batched call. "
                           "Times exclude compilation; the load average says how busy the "
                           "machine was (ratios taken under load are indicative only).")
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:   # after every row: a later crash keeps what ran
            json.dump(result, f, indent=2)
        print("wrote", a.out, flush=True)

    bs = a.slots
    rows.append(run(a.games, a.deltas, 2, a.seed, a.repeats, bs))
    write()
    if a.games3:
        rows.append(run(a.games3, a.deltas, 3, a.seed + 1, a.repeats, bs))
        write()


if __name__ == "__main__":
    main()
