"""Several processes solve one batch together: ``jax.distributed`` on this machine's CPU.

Two processes (each with 2 host-platform devices, 4 in all) join a coordinator on a free
loopback port, use gloo for the CPU collectives (``jax_cpu_collectives_implementation``), and
solve one batch of 64 zero-sum games sharded over the 4 devices with
``solve(..., mesh=jax.devices())``. Each holds 2 shards of 16; ``kernel.gather`` all-gathers the
answer, and both processes' answers must equal this (one-device) process's. The same script runs
on a TPU pod slice or a multi-GPU cluster with ``jax.distributed.initialize()`` and no
arguments (see the README).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np
from socialign import solvers

WORKER = r"""
import json, sys
process_id, port = int(sys.argv[1]), sys.argv[2]
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                           process_id=process_id, initialization_timeout=120)
import numpy as np
from socialign import kernel, solvers

games = solvers.NormalFormGame.zero_sum(np.random.default_rng(0).normal(size=(64, 3, 3)))
eq = solvers.solve(games, solvers.RegretMatchingPlus(), max_steps=300, throw=False,
                   mesh=jax.devices())
local = sorted(s.data.shape[0] for s in eq.values.addressable_shards)
values, steps = kernel.gather((eq.values, eq.stats["num_steps"]))
print("RESULT " + json.dumps({
    "processes": jax.process_count(), "devices": jax.device_count(),
    "local_devices": jax.local_device_count(), "local_shards": local,
    "values": np.asarray(values).tolist(), "steps": np.asarray(steps).tolist()}), flush=True)
jax.distributed.shutdown()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_solve_one_sharded_batch():
    port = _free_port()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", SOCIALIGN_NO_COMPILE_CACHE="1")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=tempfile.gettempdir()) for i in range(2)]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-4000:]
            (line,) = [x for x in out.splitlines() if x.startswith("RESULT ")]
            outs.append(json.loads(line[len("RESULT "):]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    games = solvers.NormalFormGame.zero_sum(np.random.default_rng(0).normal(size=(64, 3, 3)))
    # chunks of 16, as each device's shard: the same vector width, so the same rounding (an
    # iterative method stopped by max_steps can amplify last-bit differences)
    ref = solvers.solve(games, solvers.RegretMatchingPlus(), max_steps=300, throw=False,
                        batch_size=16)
    for got in outs:
        assert (got["processes"], got["devices"], got["local_devices"]) == (2, 4, 2)
        assert got["local_shards"] == [16, 16]
        np.testing.assert_allclose(got["values"], ref.values, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got["steps"], ref.stats["num_steps"])
