"""Benchmark of llm_bridge: sampler and training throughput (tokens/s), and model FLOP use.

    python benchmarks/llm_bridge.py [--batch 64] [--new-tokens 32] [--steps 5] [--smollm2]
                                    [--peak-tflops X]

Sampler: one jitted KV-cache decode loop (prefill + ``--new-tokens`` steps), completion tokens
per second. Training: one jitted RLOO update (forward of policy and reference, backward, Adam) on
``batch x (prompt + new tokens)`` tokens per second. FLOPs are estimated as ``2 N`` per token
for the sampler and ``6 N + 2 N`` (policy forward/backward + reference forward) for training,
``N`` = parameters without the embedding lookup; model FLOP utilisation (MFU) is reported when
``--peak-tflops`` (the device's dense float32 peak) is given. No reference implementation is run
(neither TRL/PyTorch nor tunix are installed here), so there are no ratios. Writes
benchmarks/results/llm_bridge.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

# this script is named like the package: drop its own folder from the path before importing it
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.append(_HERE)  # after the installed package: only for the shared _common helper

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import make_parser, parse_args, run_record  # noqa: E402
from flax import nnx  # noqa: E402
from socialign.llm_bridge import (  # noqa: E402
    ByteTokenizer,
    Llama,
    LlamaConfig,
    RLConfig,
    encode_batch,
    rl_optimizer,
    rl_train_step,
    sample,
)


def n_params(model) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))))


def bench(model, tok, prompts, batch, new_tokens, steps, peak):
    toks, mask = encode_batch(tok, [prompts[i % len(prompts)] for i in range(batch)])
    gd, st = nnx.split(model)

    def run_sample(key):  # eos_id -1: never stops early, every step decodes the whole batch
        out = sample(model, toks, mask, key, max_new_tokens=new_tokens, eos_id=-1,
                     pad_id=tok.pad_id)
        return jax.block_until_ready(out)

    t0 = time.perf_counter()
    out = run_sample(jax.random.key(0))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(steps):
        out = run_sample(jax.random.key(i + 1))
    dt = (time.perf_counter() - t0) / steps
    sample_tps = batch * new_tokens / dt

    cfg = RLConfig(prompts_per_step=batch // 4, samples_per_prompt=4, max_new_tokens=new_tokens)
    toks, mask = jnp.asarray(toks), jnp.asarray(mask)
    opt = rl_optimizer(cfg).init(st)
    rewards = jnp.asarray(np.random.default_rng(0).normal(size=batch), jnp.float32)

    def run_update(p, o):
        p, o, m = rl_train_step(gd, p, o, st, toks, mask, out.tokens, out.mask, rewards,
                                config=cfg)
        jax.block_until_ready(m["loss"])
        return p, o

    t0 = time.perf_counter()
    p, o = run_update(st, opt)
    train_compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        p, o = run_update(p, o)
    dt_train = (time.perf_counter() - t0) / steps
    seq = toks.shape[1] + new_tokens
    train_tps = batch * seq / dt_train
    N = n_params(model) - model.config.vocab_size * model.config.dim  # lookup is not a matmul
    N += model.config.vocab_size * model.config.dim  # but the tied output projection is
    res = {"params": n_params(model), "batch": batch, "prompt_len": int(toks.shape[1]),
           "new_tokens": new_tokens, "sampler_tokens_per_s": sample_tps,
           "sampler_compile_s": compile_s, "train_tokens_per_s": train_tps,
           "train_compile_s": train_compile_s,
           "sampler_tflops": 2 * N * sample_tps / 1e12,
           "train_tflops": 8 * N * train_tps / 1e12}
    if peak:
        res["sampler_mfu"] = res["sampler_tflops"] / peak
        res["train_mfu"] = res["train_tflops"] / peak
    return res


def main(argv=None):
    ap = make_parser(__doc__, out=os.path.join("results", "llm_bridge.json"), dtype="float32")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--smollm2", action="store_true", help="also SmolLM2-135M (lm extra + wheel)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    a = parse_args(ap, argv)
    if a.batch % 4:
        raise SystemExit("--batch must be a multiple of 4 (RLOO groups of 4)")
    results = {**run_record(a), "device": str(jax.devices()[0]), "platform": platform.platform(),
               "jax": jax.__version__, "models": {}}
    prompts = [f"{i}+{j}=" for i in range(10) for j in range(10)]
    tiny = Llama(LlamaConfig.tiny(), rngs=nnx.Rngs(0))
    results["models"]["tiny"] = bench(tiny, ByteTokenizer(), prompts, a.batch, a.new_tokens,
                                      a.steps, a.peak_tflops)
    if a.smollm2:
        from socialign.llm_bridge import load_gguf, smollm2_gguf_path
        model, tok = load_gguf(smollm2_gguf_path(), max_seq_len=256)
        results["models"]["smollm2-135m"] = bench(model, tok, prompts, a.batch, a.new_tokens,
                                                  a.steps, a.peak_tflops)
    print(f"{'model':<14}{'params':>11}{'sample tok/s':>14}{'train tok/s':>13}"
          f"{'sample TFLOP/s':>16}{'train TFLOP/s':>15}{'MFU (train)':>13}")
    for name, r in results["models"].items():
        mfu = f"{r['train_mfu']:.1%}" if "train_mfu" in r else "n/a"
        print(f"{name:<14}{r['params']:>11,}{r['sampler_tokens_per_s']:>14.0f}"
              f"{r['train_tokens_per_s']:>13.0f}{r['sampler_tflops']:>16.4f}"
              f"{r['train_tflops']:>15.4f}{mfu:>13}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
