r"""The flagship experiment: fine-tune a language model against an incentive-compatible contract.

Laid out as the Flax examples are: :mod:`.config` (:class:`DemoConfig`), :mod:`.task` (prompts,
behaviours, signals, rewards), :mod:`.measurement` (behaviour shares of a model),
:mod:`.design` (the contract and the predictions, with :mod:`socialign.mechanisms`),
:mod:`.training` (pre-training, RL fine-tuning and :func:`run`, the whole experiment) and
:mod:`.reporting` (verdict, table, plot); the thin entry point is
``python -m socialign.llm_bridge.demo`` (``make demo``).

The task: answer ``a+b=`` (single digits). The principal sees a cheap check on every answer
("the last digit is right") and an exact audit on a random fraction ``q`` of answers at
``audit_cost`` each. The base model is pre-trained on a corpus mixing three behaviours, the
agent's actions: **honest** (the right sum), **gaming** (sum + 10: passes the cheap check,
wrong) and **lazy** (``?``: fails it).

The contract is designed against the quantal-response agent ``QuantalResponse(temperature,
rho)``, where ``temperature`` is the KL coefficient :math:`\beta` of RL fine-tuning: the
optimum of :math:`\mathbb{E}_\pi[r] - \beta\,KL(\pi\|\pi_{ref})` is :math:`\pi^*(y) \propto
\pi_{ref}(y)\,e^{r(y)/\beta}`, which summed over the completions of each behaviour is exactly
that quantal response, so the equilibrium predicts the fine-tuned shares.

Example:
  >>> from socialign.llm_bridge import flagship
  >>> flagship.DemoConfig.quick().eval_samples, flagship.ACTIONS
  (1000, ('honest', 'gaming', 'lazy'))
"""

from .config import DemoConfig
from .design import (
    design_contract,
    optimum_gap,
    predicted_share_bands,
    predicted_shares,
    principal_value,
)
from .measurement import Measurement, behaviour_logprobs, generate, measure
from .reporting import make_plot, report, verdict
from .task import (
    ACTIONS,
    MAX_NEW_TOKENS,
    OUTCOMES,
    arithmetic_prompts,
    audit_correct,
    behaviour,
    cheap_check,
    completion_for,
    length_cost,
    make_signal_fn,
    naive_reward,
    outcome_index,
    outcome_probs,
    synthetic_corpus,
)
from .training import FinetuneLog, finetune, load_model, run

__all__ = [
    "DemoConfig",
    "ACTIONS", "OUTCOMES", "MAX_NEW_TOKENS", "arithmetic_prompts", "audit_correct",
    "cheap_check", "behaviour", "completion_for", "synthetic_corpus", "outcome_index",
    "make_signal_fn", "naive_reward", "length_cost", "outcome_probs",
    "Measurement", "generate", "measure", "behaviour_logprobs",
    "predicted_shares", "predicted_share_bands", "optimum_gap", "design_contract",
    "principal_value",
    "verdict", "report", "make_plot",
    "load_model", "FinetuneLog", "finetune", "run",
]
