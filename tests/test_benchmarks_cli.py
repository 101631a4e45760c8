"""The benchmark scripts' shared command line (``benchmarks/_common.py``).

Every script takes ``--platform``/``--dtype``/``--out`` (and ``--batch-sizes`` where it has a
batch axis) and records the device in its JSON. Checked here: the parser and run record in
process, and one script end to end in a subprocess (``--help``, then a tiny ``--platform cpu``
run whose JSON names the CPU device).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("_bench_common", BENCH / "_common.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parser_options_and_validation(common, tmp_path):
    p = common.make_parser("Title.\n\nMore.", out="results/x.json", batch_sizes=[1, 64])
    a = p.parse_args([])
    assert (a.platform, a.dtype, a.batch_sizes) == (None, "float64", [1, 64])
    assert a.out == str(BENCH / "results" / "x.json")
    a = p.parse_args(["--platform", "cpu", "--dtype", "float32", "--batch-sizes", "8,16 32",
                      "--out", str(tmp_path / "o.json")])
    assert (a.platform, a.dtype, a.batch_sizes) == ("cpu", "float32", [8, 16, 32])
    for bad in (["--platform", "npu"], ["--dtype", "float16"], ["--batch-sizes", "0"],
                ["--batch-sizes", "x"]):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
    # a script without a batch axis does not offer the option
    assert not hasattr(common.make_parser(None, out="o.json").parse_args([]), "batch_sizes")
    with pytest.raises(ValueError, match="platform"):
        common.apply_platform("npu")
    with pytest.raises(ValueError, match="dtype"):
        common.apply_platform(None, "int8")


def test_run_record_names_the_device(common):
    import jax

    rec = common.run_record(common.make_parser(None, out="o.json", batch_sizes=[4]).parse_args(
        ["--dtype", "float64"]))
    d = jax.devices()[0]
    assert rec["device"] == f"{d.platform}:{d.device_kind}"
    assert rec["jax"] == jax.__version__ and rec["cpu_count"] >= 1
    assert len(rec["load_average"]) == 3 and rec["batch_sizes"] == [4]
    assert rec["dtype"] == "float64"


def test_envs_script_help_and_tiny_cpu_run(tmp_path):
    env = {**os.environ, "SOCIALIGN_NO_COMPILE_CACHE": "1"}
    env.pop("JAX_PLATFORMS", None)
    script = str(BENCH / "envs.py")
    h = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert h.returncode == 0, h.stderr
    for opt in ("--platform", "--dtype", "--batch-sizes", "--out"):
        assert opt in h.stdout
    out = tmp_path / "envs.json"
    r = subprocess.run([sys.executable, script, "--platform", "cpu", "--dtype", "float32",
                        "--batch-sizes", "4", "--steps", "2", "--ref-envs", "2", "--repeats",
                        "1", "--cases", "auction", "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["device"].startswith("cpu:") and res["backend"] == "cpu"
    assert res["platform_flag"] == "cpu" and res["dtype"] == "float32"
    assert res["batch_sizes"] == [4] and res["auction"]["envs"] == 4
    assert res["auction"]["env_steps_per_s"] > 0 and "contract" not in res
