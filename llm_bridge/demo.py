"""Flagship experiment: fine-tune a language model against an incentive-compatible contract.

The thin entry point of :mod:`socialign.llm_bridge.flagship` (``make demo``)::

    python -m socialign.llm_bridge.demo [--quick] [--model tiny|smollm2-135m] [--out DIR]
                                        [--seed N] [--temperature BETA] ...

The experiment itself (config, task, measurement, design, training, report) is importable from
:mod:`socialign.llm_bridge.flagship`, whose names this module re-exports.

Example:
  >>> from socialign.llm_bridge import demo, flagship
  >>> demo.run is flagship.run, demo.DemoConfig.quick().rl_steps
  (True, 50)
"""

from __future__ import annotations

import argparse
import sys

from . import flagship
from .flagship import *  # noqa: F403  (the flagship API, importable as demo.<name>)
from .flagship import DemoConfig, run

__all__ = ["main", *flagship.__all__]

_OVERRIDES = ("rl_steps", "pretrain_steps", "temperature", "target_share", "audit_cost", "rl_lr",
              "eval_samples", "prompts_per_step", "kl_tol", "check_every")


def main(argv=None) -> int:
    """Parse the command line, build the :class:`DemoConfig` and run the experiment.

    Flags: ``--quick`` (the test suite's shortened run), ``--model tiny|smollm2-135m``,
    ``--out DIR`` (default ``outputs/demo``), ``--seed N``, ``--no-progress``, and overrides of
    the config fields ``--rl-steps``, ``--pretrain-steps``, ``--temperature`` (alias
    ``--kl-coef``: the KL coefficient beta = quantal temperature), ``--target-share``,
    ``--audit-cost``, ``--rl-lr``, ``--eval-samples``, ``--prompts-per-step``, ``--kl-tol``
    (the convergence criterion; ``--rl-steps`` is then the cap), ``--check-every``.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 on success (the exit status).

    Raises:
      SystemExit: bad flags (argparse, status 2) or ``--help`` (status 0).
      ValueError: a config value out of range.

    Example:
      >>> from socialign.llm_bridge import demo
      >>> demo.main(["--model", "gpt5"])   # doctest: +ELLIPSIS
      Traceback (most recent call last):
      SystemExit: 2
    """
    ap = argparse.ArgumentParser(prog="python -m socialign.llm_bridge.demo",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny", choices=("tiny", "smollm2-135m"))
    ap.add_argument("--out", default="outputs/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the shortened version of the tests")
    ap.add_argument("--rl-steps", type=int)
    ap.add_argument("--pretrain-steps", type=int)
    ap.add_argument("--temperature", "--kl-coef", type=float, dest="temperature",
                    help="KL coefficient beta of RL = temperature of the quantal response")
    ap.add_argument("--target-share", type=float)
    ap.add_argument("--audit-cost", type=float)
    ap.add_argument("--rl-lr", type=float)
    ap.add_argument("--eval-samples", type=int)
    ap.add_argument("--prompts-per-step", type=int)
    ap.add_argument("--kl-tol", type=float,
                    help="stop RL once KL(pi || pi*) to the predicted optimum is below this")
    ap.add_argument("--check-every", type=int, help="RL steps between convergence checks")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    kw = {"model": a.model, "seed": a.seed}
    kw.update({f: getattr(a, f) for f in _OVERRIDES if getattr(a, f) is not None})
    if a.model == "smollm2-135m":  # a 135M model wants far smaller steps than the tiny one
        kw.setdefault("pretrain_steps", 200)
        kw.setdefault("rl_lr", 2e-5)
    cfg = DemoConfig.quick(**kw) if a.quick else DemoConfig(**kw)
    run(cfg, a.out, progress=not a.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
