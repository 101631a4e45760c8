"""Voting rules: socialign on a batch of profiles vs pref_voting one profile at a time.

N random profiles (impartial culture, an odd number of voters drawn in [101, 999] so every
margin is odd and every rule below has a unique, tie-free answer), split evenly over 5, 6, 7 and
8 candidates. For each candidate count, each rule runs as one batched call (compiled first on a
same-shaped batch): Schulze, ranked pairs, Kemeny-Young and maximal lotteries. pref_voting
(``Profile`` with its numba kernels warmed up; ``beat_path``, ``ranked_pairs_tb``,
``kemeny_young``, ``maximal_lottery``) runs one profile at a time on a random sample of each
candidate count (``--ref-sample``; its Kemeny-Young enumerates the m! rankings in Python, about
a second per 8-candidate profile), its per-profile time is multiplied by the batch size, and
the winner sets (the lottery, for maximal lotteries) must be identical on the sample.

Accounting is the same on both sides: pref_voting builds its ``Profile`` once per profile (which
tallies the support matrix from the ballots) and every rule reads it; socialign computes the
batch's margins from the ballots once (``MarginGraph.from_profile``) and every rule reads that.
The construction time is shared equally among the four rules in the per-rule ratios, and the
overall ratio is total time over total time. The rules also accept the ``Profile`` directly
(then each call recomputes the margins; ``socialign_from_ballots_seconds`` times that too).

Usage: python benchmarks/social_choice.py [--profiles 10000] [--ref-sample 40] [--quick]
Writes benchmarks/results/social_choice.json (ratio, device, load average, sizes).
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings

import jax
from _common import make_parser, parse_args, run_record

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from socialign.mechanisms import social_choice as sc  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results", "social_choice.json")
RULES = {"schulze": sc.schulze, "ranked_pairs": sc.ranked_pairs, "kemeny_young": sc.kemeny_young,
         "maximal_lotteries": sc.maximal_lotteries}
CANDIDATES = (5, 6, 7, 8)
MAX_VOTERS = 999


def _profiles(rng, num, m):
    """``num`` impartial-culture profiles, one row per voter, padded to 999 rows (count 0)."""
    orders = np.argsort(rng.random((num, MAX_VOTERS, m)), axis=-1)
    voters = 2 * rng.integers(50, MAX_VOTERS // 2 + 1, num) + 1  # odd, 101..999
    counts = (np.arange(MAX_VOTERS)[None, :] < voters[:, None]).astype(float)
    return orders, counts, voters


def _pv_rules():
    from pref_voting.margin_based_methods import beat_path, ranked_pairs_tb
    from pref_voting.other_methods import kemeny_young
    from pref_voting.probabilistic_methods import maximal_lottery

    return {"schulze": beat_path, "ranked_pairs": ranked_pairs_tb,
            "kemeny_young": kemeny_young, "maximal_lotteries": maximal_lottery}


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t, out


def main(argv=None):
    ap = make_parser(__doc__, out=RESULTS)
    ap.add_argument("--profiles", type=int, default=10000)
    ap.add_argument("--ref-sample", type=int, default=40, help="pref_voting profiles per m")
    ap.add_argument("--quick", action="store_true", help="400 profiles, 10 per m for pref_voting")
    ap.add_argument("--seed", type=int, default=0)
    args = parse_args(ap, argv)
    if args.quick:
        args.profiles, args.ref_sample = 400, 10
    rng = np.random.default_rng(args.seed)
    load_start = os.getloadavg()
    from pref_voting.profiles import Profile as PVProfile

    pv = _pv_rules()
    build = jax.jit(sc.MarginGraph.from_profile)
    per_m = args.profiles // len(CANDIDATES)
    ours_s = dict.fromkeys(RULES, 0.0)
    ours_ballots_s = dict.fromkeys(RULES, 0.0)
    ours_build_s = 0.0
    ref_s = dict.fromkeys(RULES, 0.0)
    ref_build_s = 0.0
    checked = 0
    rows = []
    for m in CANDIDATES:
        orders, counts, voters = _profiles(rng, per_m, m)
        profile = sc.Profile.from_orders(orders, counts)
        warm = sc.Profile.from_orders(*_profiles(rng, per_m, m)[:2])
        jax.block_until_ready(build(warm))  # compile on a same-shaped batch
        t, graph = _timed(lambda profile=profile: build(profile))
        ours_build_s += t
        warm_graph = build(warm)
        out = {}
        for name, rule in RULES.items():
            jax.block_until_ready(rule(warm_graph))
            t, out[name] = _timed(lambda rule=rule, graph=graph: rule(graph))
            ours_s[name] += t
            jax.block_until_ready(rule(warm))  # the same rule straight from the ballots
            t, from_ballots = _timed(lambda rule=rule, profile=profile: rule(profile))
            ours_ballots_s[name] += t
            assert (np.asarray(from_ballots.winners) == np.asarray(out[name].winners)).all()
        assert all((np.asarray(o.result) == 0).all() for o in out.values())
        # pref_voting on a sample, one profile at a time (numba kernels warmed up first)
        warm_pv = PVProfile(orders[0, :voters[0]].tolist())
        for name in RULES:
            pv[name](warm_pv)
        sample = rng.choice(per_m, size=min(args.ref_sample, per_m), replace=False)
        t_build, t_rule = 0.0, dict.fromkeys(RULES, 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in sample:
                t = time.perf_counter()
                prof = PVProfile(orders[i, :voters[i]].tolist())
                t_build += time.perf_counter() - t
                for name in RULES:
                    t = time.perf_counter()
                    ref = pv[name](prof)
                    t_rule[name] += time.perf_counter() - t
                    if name == "maximal_lotteries":
                        np.testing.assert_allclose(np.asarray(out[name].lottery[i]),
                                                   [ref[c] for c in range(m)], atol=1e-6)
                    else:
                        want = np.zeros(m, bool)
                        want[list(ref)] = True
                        got = np.asarray(out[name].winners[i])
                        assert (got == want).all(), (name, m, i, got, want)
                checked += 1
        scale = per_m / len(sample)
        ref_build_s += t_build * scale
        for name in RULES:
            ref_s[name] += t_rule[name] * scale
        rows.append({"candidates": m, "profiles": per_m, "ref_sampled": int(len(sample)),
                     "pref_voting_ms_per_profile": {
                         n: 1e3 * (t_rule[n] + t_build / len(RULES)) / len(sample) for n in RULES}})
        print(f"m={m}: {per_m} profiles; pref_voting sample {len(sample)}: "
              + ", ".join(f"{n} {1e3 * t_rule[n] / len(sample):.2f} ms" for n in RULES),
              flush=True)

    total_ours = sum(ours_s.values()) + ours_build_s
    total_ref = sum(ref_s.values()) + ref_build_s
    result = {
        "benchmark": "social_choice",
        "profiles": per_m * len(CANDIDATES), "candidates": list(CANDIDATES),
        "voters": "odd, uniform in [101, 999]", "culture": "impartial culture",
        "rules": list(RULES),
        "socialign_seconds": {**ours_s, "margins": ours_build_s},
        "socialign_total_seconds": total_ours,
        "socialign_from_ballots_seconds": ours_ballots_s,
        "pref_voting_seconds_extrapolated": {**ref_s, "profile_construction": ref_build_s},
        "pref_voting_total_seconds_extrapolated": total_ref,
        "speedup": total_ref / total_ours,
        "speedup_per_rule": {n: (ref_s[n] + ref_build_s / len(RULES))
                             / (ours_s[n] + ours_build_s / len(RULES)) for n in RULES},
        "speedup_per_rule_from_ballots": {n: (ref_s[n] + ref_build_s / len(RULES))
                                          / ours_ballots_s[n] for n in RULES},
        "speedup_margins_vs_profile_construction": ref_build_s / ours_build_s,
        "profiles_checked_identical": checked,
        "per_candidate_count": rows,
        **run_record(args),
        "device": jax.devices()[0].device_kind, "platform": platform.platform(),
        "load_average_start": load_start, "load_average": os.getloadavg(),
        "quick": args.quick,
        "note": "pref_voting timed on a sample per candidate count and extrapolated, interleaved "
                "with socialign's batch for the same candidate count in one process; the machine "
                "was shared with other jobs (see load_average), so the ratio is indicative",
    }
    print(f"socialign {total_ours:.2f} s | pref_voting {total_ref:.1f} s (extrapolated) | "
          f"speedup {result['speedup']:.0f}x | per rule "
          + ", ".join(f"{n} {v:.0f}x" for n, v in result["speedup_per_rule"].items()))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
