"""Environment throughput: socialign's envs under jit(vmap) in lax.scan vs a Python/NumPy loop.

Two environments, each in one run and interleaved (ours, reference, ours, ...; best of
``--repeats``):

  auction:   a 2-bidder first-price auction with private U[0, 1] values and a reserve that
             differs across instances (``envs.SealedBidAuction``): every bidder bids half its
             value; values are redrawn each step.
  contract:  the two-stage principal-agent game (``envs.ContractGame``, ORACLES' instance):
             the principal posts (0, 2.5), the agent best-responds, an outcome is drawn.

Ours: ``jax.jit(jax.vmap(rollout))`` over ``--envs`` instances (different params each), each a
``lax.scan`` of ``--steps`` steps (policy + env.step), after a warm-up call of the same shapes,
``jax.block_until_ready``. Reference: the same environment written as a plain Python step
function on NumPy scalars, looped over ``--ref-envs`` instances and ``--steps`` steps; its
per-step time is multiplied up to the same number of env steps (its cost per step does not
depend on how many instances there are). The JSON has steps per second for both and the ratio
(target >= 1,000x at 10,000 environments), the device, the load average and the sizes.

Usage: python benchmarks/envs.py [--platform cpu] [--dtype float64] [--batch-sizes 10000]
       [--steps 100 --ref-envs 200 --repeats 3] [--quick]
``--batch-sizes`` sweeps the number of parallel environments. Writes
benchmarks/results/envs.json (``--out``) with the run record of ``_common.run_record``.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import make_parser, parse_args, run_record
from socialign.mechanisms import envs

# ----------------------------------------------------------------------------- ours


def auction_rollout(env, steps):
    def run(key, params):
        k0, k1 = jax.random.split(key)
        obs, state = env.reset(k0, params)

        def body(carry, k):
            obs, state, total = carry
            obs, state, r, term, trunc, info = env.step(k, state, obs[:, 0] / 2, params)
            return (obs, state, total + r), None

        (obs, state, total), _ = jax.lax.scan(
            body, (obs, state, jnp.zeros(env.num_agents)), jax.random.split(k1, steps))
        return total

    return run


def contract_rollout(env, steps):
    def run(key, params):
        k0, k1 = jax.random.split(key)
        obs, state = env.reset(k0, params)
        pay = jnp.array([0.0, 2.5])

        def body(carry, k):
            obs, state, total = carry
            act = env.best_response(state.payments, params)
            actions = jnp.where(state.stage == 0, jnp.stack([pay, jnp.zeros(2)]),
                                jnp.stack([pay, act]))
            obs, state, r, term, trunc, info = env.step(k, state, actions, params)
            return (obs, state, total + r), None

        (obs, state, total), _ = jax.lax.scan(
            body, (obs, state, jnp.zeros(2)), jax.random.split(k1, steps))
        return total

    return run


def batched_params(env, n):
    p = env.default_params
    bat = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), p)
    if isinstance(env, envs.SealedBidAuction):
        return envs.AuctionParams(reserve=jnp.linspace(0.0, 0.3, n), values=bat.values,
                                  horizon=jnp.full(n, 1_000_000, jnp.int32))
    return envs.ContractParams(problem=bat.problem, horizon=jnp.full(n, 1_000_000, jnp.int32))


# ----------------------------------------------------------------------------- reference


def numpy_auction(n_envs, steps, rng):
    """A plain Python/NumPy first-price auction env, stepped one instance at a time."""
    total = 0.0
    for e in range(n_envs):
        reserve = 0.3 * e / max(n_envs - 1, 1)
        values = rng.uniform(0.0, 1.0, 2)
        for _ in range(steps):
            bids = values / 2
            accepted = bids >= reserve
            eff = np.where(accepted, bids, -np.inf)
            top = eff.max()
            winners = accepted & (eff >= top)
            alloc = winners / max(winners.sum(), 1)
            pay = alloc * bids
            others = np.array([eff[1], eff[0]])
            best = np.maximum(values - np.maximum(others, reserve), 0.0)
            util = values * alloc - pay
            regret = np.maximum(best - util, 0.0)
            total += util.sum() + 0.0 * regret.sum()  # regret computed as ours does
            values = rng.uniform(0.0, 1.0, 2)
    return total


def numpy_contract(n_envs, steps, rng):
    """The two-stage contract game in plain Python/NumPy, one instance at a time."""
    P = np.array([[0.6, 0.4], [0.2, 0.8]])
    c = np.array([0.0, 1.0])
    rew = np.array([0.0, 10.0])
    total = 0.0
    for _ in range(n_envs):
        stage, posted = 0, np.zeros(2)
        for _ in range(steps):
            if stage == 0:
                posted = np.maximum(np.array([0.0, 2.5]), 0.0)
                stage = 1
                continue
            U = P @ posted - c
            V = P @ (rew - posted)
            tie = U >= U.max() - 1e-9 * (1 + abs(U.max()))
            a = int(np.argmax(np.where(tie, V, -np.inf)))
            o = rng.choice(2, p=P[a])
            total += rew[o] - posted[o] + posted[o] - c[a]
            stage = 0
    return total


# ----------------------------------------------------------------------------- driver


def _spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def bench(name, env, rollout, ref, n, args):
    T = args.steps
    fn = jax.jit(jax.vmap(rollout(env, T)))
    keys = jax.random.split(jax.random.key(0), n)
    params = batched_params(env, n)
    jax.block_until_ready(fn(keys, params))  # warm-up (compilation)
    ours, theirs = [], []
    rng = np.random.default_rng(0)
    for r in range(args.repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(jax.random.split(jax.random.key(r + 1), n), params))
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref(args.ref_envs, T, rng)
        theirs.append(time.perf_counter() - t)
    ours_sps = n * T / min(ours)
    ref_sps = args.ref_envs * T / min(theirs)
    row = {"env_steps_per_s": ours_sps, "reference_env_steps_per_s": ref_sps,
           "ratio": ours_sps / ref_sps, "envs": n, "steps": T, "reference_envs": args.ref_envs,
           "seconds_ours": min(ours), "seconds_reference": min(theirs),
           "seconds_ours_repeats": _spread(ours), "seconds_reference_repeats": _spread(theirs),
           "env_steps_per_s_median": n * T / statistics.median(ours)}
    print(f"{name:9s} {n:>7,d} envs  ours {ours_sps:,.0f} steps/s  numpy loop {ref_sps:,.0f} "
          f"steps/s  ratio {row['ratio']:,.0f}x")
    return row


def main(argv=None):
    ap = make_parser(__doc__, out="results/envs.json", batch_sizes=[10_000])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--ref-envs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", nargs="+", choices=["auction", "contract"],
                    default=["auction", "contract"], help="which environments to time")
    ap.add_argument("--quick", action="store_true",
                    help="1,000 envs, 20 steps, 50 reference envs, 1 repeat")
    args = parse_args(ap, argv)
    if args.quick:
        args.batch_sizes, args.steps, args.ref_envs, args.repeats = [1_000], 20, 50, 1
    out = {**run_record(args),
           "note": "reference = the same env as a plain Python/NumPy step loop, one instance "
                   "at a time; its steps/s is measured on ref_envs instances; 'auction' and "
                   "'contract' hold the largest batch size, 'sweep' every one",
           "sweep": {name: [] for name in args.cases}}
    cases = {"auction": (envs.SealedBidAuction(num_agents=2, kind="first_price"),
                         auction_rollout, numpy_auction),
             "contract": (envs.ContractGame(), contract_rollout, numpy_contract)}
    for n in args.batch_sizes:
        for name in args.cases:
            env, rollout, ref = cases[name]
            row = bench(name, env, rollout, ref, n, args)
            out["sweep"][name].append(row)
            out[name] = row
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
