"""Batches over many devices: ``kernel.shard_batch`` and the ``mesh=`` of solve/linprog/design.

The test process has one device and keeps it: the four-device checks run in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (host-platform devices on the CPU), and
compare the sharded answers with the one-device answers of the same process:

- 4,096 zero-sum 3x3 games (``ZeroSumLP``) on a 1-D ``Auto`` mesh: equal answers, equal step
  counts, the values sharded 1,024 per device;
- 10,000 contracts through ``mechanisms.design`` on an ``Explicit`` mesh (``jax.make_mesh``'s
  default);
- 10,002 contracts (not a multiple of 4): padded, stripped, equal, and replicated.

By default the contracts are the best linear ones (a closed form, compiled in a second); the slow
suite runs the same checks with the optimal (LP) contract, whose compile alone takes ~30 CPU
seconds. (An iterative solver stopped by ``max_steps`` is not a good witness here: XLA's CPU
code may round differently for a batch of 1,024 than for 4,096, and regret matching amplifies
those last-bit differences to 1e-3 in 500 steps; an LP's answer does not move.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, Mesh
from socialign import kernel, solvers

SCRIPT = r"""
import json, sys
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from socialign import mechanisms, solvers
assert jax.device_count() == 4, jax.devices()
rng = np.random.default_rng(0)
out = {}

def err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))

def where(x):
    return {"spec": str(x.sharding.spec), "devices": len(x.sharding.device_set),
            "shards": sorted({s.data.shape[0] for s in x.addressable_shards}),
            "replicated": bool(x.is_fully_replicated)}

games = solvers.NormalFormGame.zero_sum(rng.normal(size=(4096, 3, 3)))
slow = "--optimal" in sys.argv
one = solvers.solve(games, solvers.ZeroSumLP())
four = solvers.solve(games, solvers.ZeroSumLP(), mesh=jax.devices())
out["zs"] = {"err": max(err(four.values, one.values),
                        *(err(a, b) for a, b in zip(four.strategies, one.strategies))),
             "steps": bool(np.array_equal(four.stats["num_steps"], one.stats["num_steps"])),
             "where": where(four.values), "strategy_where": where(four.strategies[0])}

P = rng.dirichlet(np.ones(3), size=(10_000, 2))
pa = mechanisms.PrincipalAgent(P, np.array([0., 1.]), np.array([0., 5., 10.]))
designer = mechanisms.OptimalContract() if slow else mechanisms.BestLinearContract()
one = mechanisms.design(pa, designer)
mesh = jax.make_mesh((4,), ("x",))
four = mechanisms.design(pa, designer, mesh=mesh)
out["contracts"] = {"err": max(err(four.principal_value, one.principal_value),
                               err(four.mechanism.payments, one.mechanism.payments)),
                    "converged": int(np.sum(np.asarray(four.result) == 0)),
                    "where": where(four.principal_value),
                    "axis_types": str(four.principal_value.sharding.mesh.axis_types)}

pa = mechanisms.PrincipalAgent(np.concatenate([P, P[:2]]), np.array([0., 1.]),
                              np.array([0., 5., 10.]))   # 10,002: not a multiple of 4
one = mechanisms.design(pa, mechanisms.BestLinearContract())
four = mechanisms.design(pa, mechanisms.BestLinearContract(), mesh=jax.devices())
out["uneven"] = {"err": err(four.principal_value, one.principal_value),
                 "where": where(four.principal_value)}
print("RESULT " + json.dumps(out))
"""


def _run_four_devices(*args: str, timeout: int = 600) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", SOCIALIGN_NO_COMPILE_CACHE="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir(), timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def _check(out: dict):
    zs = out["zs"]
    assert zs["err"] <= 1e-12 and zs["steps"]
    for w in (zs["where"], zs["strategy_where"]):
        assert w == {"spec": "P('batch',)", "devices": 4, "shards": [1024],
                     "replicated": False}, w
    ct = out["contracts"]
    assert ct["err"] <= 1e-12 and ct["converged"] == 10_000
    assert ct["where"] == {"spec": "P('x',)", "devices": 4, "shards": [2500],
                           "replicated": False}, ct["where"]
    assert ct["axis_types"] == "(Explicit,)"
    un = out["uneven"]
    assert un["err"] <= 1e-12
    assert un["where"]["replicated"] and un["where"]["devices"] == 4 and \
        un["where"]["shards"] == [10_002]


def test_four_devices_equal_one_device_and_stay_sharded():
    _check(_run_four_devices())


@pytest.mark.slow
def test_four_devices_optimal_contracts():
    _check(_run_four_devices("--optimal"))


# ----------------------------------------------------------------------------- in this process


def test_as_mesh_validates():
    m = kernel.as_mesh(jax.devices())
    assert m.axis_names == ("batch",) and m.size == jax.device_count()
    assert kernel.as_mesh(None) is None and kernel.as_mesh(m) is m
    with pytest.raises(TypeError, match="mesh"):
        kernel.as_mesh("cpu")
    with pytest.raises(TypeError, match="jax.Device"):
        kernel.as_mesh([0, 1])
    with pytest.raises(ValueError, match="at least one device"):
        kernel.as_mesh([])
    with pytest.raises(TypeError, match="mesh"):
        solvers.solve(solvers.NormalFormGame.zero_sum(np.eye(2)), solvers.ZeroSumLP(), mesh=3)


def test_shard_batch_pads_multi_axis_batches_and_checks_outputs():
    mesh = Mesh(np.array(jax.devices()), ("b",), axis_types=(AxisType.Explicit,))
    x = jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    out = kernel.shard_batch(lambda s: s.sum(-1), x, batch_shape=(2, 3), mesh=mesh)
    np.testing.assert_array_equal(out, x.sum(-1))
    out = kernel.batch_map(lambda p: p @ p, x, batch_shape=(2, 3), mesh=mesh, batch_size=2)
    np.testing.assert_array_equal(out, jnp.einsum("abi,abi->ab", x, x))
    with pytest.raises(ValueError, match="shard's batch axis"):
        kernel.shard_batch(lambda s: s.sum(), x, batch_shape=(2, 3), mesh=mesh)
    with pytest.raises(ValueError, match="batch shape"):
        kernel.shard_batch(lambda s: s, x, batch_shape=(3,), mesh=mesh)
