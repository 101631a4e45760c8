r"""socialign llm_bridge: fine-tune language models against incentive-compatible contracts.

A Flax NNX Llama-family model (``tiny`` and ``smollm2-135m``), a jitted KV-cache sampler,
policy-optimisation losses (RLOO, GRPO, PPO, DPO), an RL trainer with orbax checkpoint resume,
TRL-style reward functions, the :func:`contract_reward` adapter from :mod:`mechanisms`, and
the flagship experiment (:mod:`socialign.llm_bridge.flagship`, run by
``python -m socialign.llm_bridge.demo``, ``make demo``).

Glossary (as across socialign): ``temperature`` is the logit / quantal-response temperature.
Where RL fine-tuning has a KL coefficient :math:`\beta` (``RLConfig.temperature``,
``rloo_loss``, ``grpo_loss``, ``dpo_loss``), it is called ``temperature``: the optimum of
:math:`\mathbb{E}_\pi[r] - \beta\,KL(\pi\|\pi_{ref})` is the quantal response
:math:`\pi_{ref}\,e^{r/\beta}/Z` of ``mechanisms.QuantalResponse`` at that temperature. The
sampler's softmax temperature is ``sample(temperature=)`` / ``RLConfig.sampling_temperature``.

Optional dependencies (the ``lm`` extra: ``safetensors``, ``gguf``, ``tokenizers``) are imported
only when the functions that need them are called.

Example:
  >>> from socialign import llm_bridge
  >>> llm_bridge.LlamaConfig.tiny().vocab_size
  260
"""

from ._checkpoint import checkpoint_manager, restore_checkpoint, save_checkpoint
from ._gguf import load_gguf, permute_qk, smollm2_gguf_path, unpermute_qk
from ._hf_layout import assign_hf_state_dict, hf_state_dict
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
from ._model import CONFIGS, Llama, LlamaConfig, ValueHead, init_cache, rope
from ._rewards import combine_rewards, contract_reward
from ._safetensors import load_safetensors, save_safetensors
from ._sampler import SampleOutput, filter_logits, sample, sequence_logprobs
from ._tokenizer import ByteTokenizer, HFTokenizer, encode_batch
from ._trainer import RLConfig, RLTrainer, rl_optimizer, rl_train_step, train_lm

__all__ = [
    "LlamaConfig", "Llama", "ValueHead", "init_cache", "CONFIGS", "rope",
    "ByteTokenizer", "HFTokenizer", "encode_batch",
    "SampleOutput", "sample", "sequence_logprobs", "filter_logits",
    "rloo_advantages", "grpo_advantages", "rloo_loss", "grpo_loss", "gae", "ppo_loss",
    "dpo_loss", "masked_mean",
    "combine_rewards", "contract_reward",
    "checkpoint_manager", "save_checkpoint", "restore_checkpoint",
    "RLConfig", "RLTrainer", "rl_optimizer", "rl_train_step", "train_lm",
    "load_gguf", "smollm2_gguf_path", "permute_qk", "unpermute_qk",
    "hf_state_dict", "assign_hf_state_dict", "load_safetensors", "save_safetensors",
]
