"""First-call and warm-call times of a small zero-sum game, each in a fresh process.

Four fresh Python processes per repeat:

- ``no_cache``: ``SOCIALIGN_NO_COMPILE_CACHE=1``, so the first ``solve`` compiles;
- ``cache_cold``: the persistent compilation cache on, in an empty folder (compiles and writes);
- ``cache_warm``: the same folder again (loads the compiled programs);
- ``scipy_highs``: ``scipy.optimize.linprog(method="highs")`` on the same game as an LP.

Each reports its import time, its first call (``solve`` of a 3x3 zero-sum game with
``ZeroSumLP``, up to a Python float) and the median of 20 warm calls. Writes
``benchmarks/results/first_call.json`` with the device, the JAX version and the machine's load.

Usage: ``.venv/bin/python benchmarks/first_call.py [--platform cpu] [--dtype float64]
[--repeats N] [--out PATH]`` (``--platform`` is passed to the fresh processes through
``JAX_PLATFORMS``; without it they run on the CPU). The JSON holds ``_common.run_record``.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from _common import make_parser, parse_args, run_record

GAME = [[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-2.0, 1.0, 0.0]]

SOCIALIGN = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
import jax
from socialign import solvers
jax.config.update("jax_enable_x64", sys.argv[2] == "float64")
t1 = time.perf_counter()
game = solvers.NormalFormGame.zero_sum(json.loads(sys.argv[1]))
run = lambda: float(solvers.solve(game, solvers.ZeroSumLP()).values[0])
c1 = time.process_time()
value = run()
t2 = time.perf_counter()
c2 = time.process_time()
warm = []
for _ in range(20):
    s = time.perf_counter(); run(); warm.append(time.perf_counter() - s)
d = jax.devices()[0]
print("RESULT " + json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "first_call_cpu_s": c2 - c1,
      "warm_call_s": statistics.median(warm), "value": value,
      "device": f"{d.platform}:{d.device_kind}", "jax": jax.__version__}))
"""

SCIPY = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
import numpy as np
from scipy.optimize import linprog
t1 = time.perf_counter()
A = np.array(json.loads(sys.argv[1]))
m, n = A.shape
# max v s.t. (A^T x)_j >= v, sum x = 1, x >= 0; variables (x, v)
c = np.r_[np.zeros(m), -1.0]
A_ub = np.c_[-A.T, np.ones(n)]
A_eq = np.r_[np.ones(m), 0.0][None]
bounds = [(0, None)] * m + [(None, None)]
run = lambda: float(-linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                              bounds=bounds, method="highs").fun)
c1 = time.process_time()
value = run()
t2 = time.perf_counter()
c2 = time.process_time()
warm = []
for _ in range(20):
    s = time.perf_counter(); run(); warm.append(time.perf_counter() - s)
import scipy
print("RESULT " + json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "first_call_cpu_s": c2 - c1,
      "warm_call_s": statistics.median(warm), "value": value, "scipy": scipy.__version__}))
"""


def _fresh(code: str, env_extra: dict, dtype: str = "float64") -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOCIALIGN_NO_COMPILE_CACHE", "SOCIALIGN_CACHE_DIR")}
    env.update(env_extra, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(GAME), dtype],
                          capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir(), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> None:
    parser = make_parser(__doc__, out="results/first_call.json")
    parser.add_argument("--repeats", type=int, default=1)
    args = parse_args(parser, argv)
    load_before = os.getloadavg()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            row = {"no_cache": _fresh(SOCIALIGN, {"SOCIALIGN_NO_COMPILE_CACHE": "1"},
                                      args.dtype),
                   "cache_cold": _fresh(SOCIALIGN, {"SOCIALIGN_CACHE_DIR": cache}, args.dtype),
                   "cache_warm": _fresh(SOCIALIGN, {"SOCIALIGN_CACHE_DIR": cache}, args.dtype),
                   "scipy_highs": _fresh(SCIPY, {})}
        runs.append(row)
        print(json.dumps({k: {m: round(v[m], 4) for m in ("import_s", "first_call_s",
                                                           "first_call_cpu_s", "warm_call_s")}
                          for k, v in row.items()}, indent=1))
    best = {k: {m: min(r[k][m] for r in runs) for m in ("import_s", "first_call_s",
                                                          "first_call_cpu_s", "warm_call_s")}
            for k in runs[0]}
    out = {
        **run_record(args),
        "benchmark": "first and warm call of a 3x3 zero-sum game in a fresh process",
        "game": GAME,
        "device": runs[0]["no_cache"]["device"],
        "jax": runs[0]["no_cache"]["jax"],
        "scipy": runs[0]["scipy_highs"]["scipy"],
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": len(os.sched_getaffinity(0)),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "repeats": args.repeats,
        "best_of_repeats_s": best,
        "runs": runs,
        "note": "times in seconds; first_call_s includes tracing, compiling (or loading from "
                "the persistent cache) and running once (first_call_cpu_s: its CPU time, "
                "which the load inflates less); warm_call_s is the median of 20 later "
                "calls. A load average far above cpu_count means the times are inflated.",
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
