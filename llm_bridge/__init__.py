"""socialign llm_bridge: fine-tune language models against incentive-compatible contracts.

A Flax NNX Llama-family model (``tiny`` and ``smollm2-135m``), a jitted KV-cache sampler,
policy-optimisation losses (RLOO, GRPO, PPO, DPO), an RL trainer with orbax checkpoint resume,
TRL-style reward functions, the :func:`contract_reward` adapter from :mod:`mechanisms`, and
the flagship experiment ``python -m socialign.llm_bridge.demo`` (``make demo``).
"""

from ._checkpoint import checkpoint_manager, restore_checkpoint, save_checkpoint
from ._gguf import load_gguf, smollm2_gguf_path
from ._losses import (
    dpo_loss,
    gae,
    grpo_advantages,
    grpo_loss,
    masked_mean,
    ppo_loss,
    rloo_advantages,
    rloo_loss,
)
from ._model import CONFIGS, Llama, LlamaConfig, ValueHead, init_cache
from ._rewards import combine_rewards, contract_reward
from ._safetensors import load_safetensors, save_safetensors
from ._sampler import SampleOutput, filter_logits, sample, sequence_logprobs
from ._tokenizer import ByteTokenizer, HFTokenizer, encode_batch
from ._trainer import RLConfig, RLTrainer, train_lm

__all__ = [
    "LlamaConfig", "Llama", "ValueHead", "init_cache", "CONFIGS",
    "ByteTokenizer", "HFTokenizer", "encode_batch",
    "SampleOutput", "sample", "sequence_logprobs", "filter_logits",
    "rloo_advantages", "grpo_advantages", "rloo_loss", "grpo_loss", "gae", "ppo_loss",
    "dpo_loss", "masked_mean",
    "combine_rewards", "contract_reward",
    "checkpoint_manager", "save_checkpoint", "restore_checkpoint",
    "RLConfig", "RLTrainer", "train_lm",
    "load_gguf", "smollm2_gguf_path", "load_safetensors", "save_safetensors",
]
