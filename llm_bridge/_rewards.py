"""Reward functions in the shape of HF TRL, and the adapter from a contract of :mod:`mechanisms`.

A reward function is ``reward_fn(prompts, completions, **columns) -> list[float]`` (one float
per completion, as in TRL's ``GRPOTrainer(reward_funcs=...)``). The trainer passes the columns
``key`` (a JAX key for this batch, so random rewards are reproducible and resume exactly) and
``step``. :func:`combine_rewards` checks and weights several of them and keeps each one's values
for logging.

:func:`contract_reward` turns a contract (payments per observable outcome) into a reward:
``signal_fn(prompt, completion, rng) -> outcome index`` says which outcome the principal
observes (it may be random, e.g. an audit with probability ``q``: ``rng`` is a
``numpy.random.Generator`` seeded from the batch's JAX key and the completion's index, so the
draws are reproducible and a resumed run repeats them), and the reward is the payment for that
outcome.

Example:
  >>> import jax
  >>> from socialign.llm_bridge import contract_reward
  >>> fn = contract_reward([0.0, 2.0], lambda p, c, rng: int(c.endswith("!")))
  >>> fn(["hi", "hi"], ["ok", "ok!"], key=jax.random.key(0))
  [0.0, 2.0]
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["contract_reward", "combine_rewards", "RewardFn"]

RewardFn = object  # any callable(prompts, completions, **columns) -> list[float]
"""Type of a reward function: ``callable(prompts, completions, **columns) -> list[float]``."""


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


def combine_rewards(reward_fns, weights, prompts, completions, **columns):
    """Call each reward function, validate, and return ``(total [n], {name: values [n]})``.

    Args:
      reward_fns: reward functions (see :data:`RewardFn`); weights: one float each.
      prompts, completions: ``n`` strings each.
      **columns: passed to every function; a ``key`` column is folded with the function's
        index, so each function gets its own reproducible key.

    Returns:
      ``(total, parts)``: float64 ``[n]`` weighted sum, and ``{name: float64 [n]}`` per function
      (a repeated name gets ``_<index>``).

    Raises:
      ValueError: lengths differ, ``weights`` does not match ``reward_fns``, or a function
        returns the wrong number of values or a non-finite value (the message names it).
      TypeError: a reward function is not callable.

    Example:
      >>> from socialign import llm_bridge
      >>> def one(prompts, completions, **kw): return [1.0] * len(completions)
      >>> total, parts = llm_bridge.combine_rewards([one], [2.0], ["p"], ["c"])
      >>> total.tolist(), list(parts)
      ([2.0], ['one'])
    """
    if len(reward_fns) != len(weights):
        raise ValueError(f"weights ({len(weights)}) must match reward_fns ({len(reward_fns)})")
    if not all(callable(f) for f in reward_fns):
        raise TypeError("reward_fns must be callables")
    n = len(completions)
    if len(prompts) != n:
        raise ValueError(f"prompts ({len(prompts)}) and completions ({n}) differ in length")
    total = np.zeros(n, np.float64)
    parts = {}
    key = columns.pop("key", None)
    for j, (fn, w) in enumerate(zip(reward_fns, weights)):
        kw = dict(columns)
        if key is not None:
            kw["key"] = jax.random.fold_in(key, j)
        vals = fn(list(prompts), list(completions), **kw)
        try:
            arr = np.asarray(vals, np.float64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise ValueError(f"reward function {_name(fn)!r} must return a list of floats") from e
        if arr.shape[0] != n or np.ndim(vals) != 1:
            raise ValueError(f"reward function {_name(fn)!r} returned {arr.shape[0]} values "
                             f"for {n} completions")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"reward function {_name(fn)!r} returned a non-finite value "
                             f"(at index {int(np.flatnonzero(~np.isfinite(arr))[0])})")
        name = _name(fn)
        if name in parts:
            name = f"{name}_{j}"
        parts[name] = arr
        total += w * arr
    return total, parts


def contract_reward(contract, signal_fn, *, name: str = "contract_reward"):
    """Reward = the contract's payment for the observed outcome.

    Args:
      contract: a :class:`mechanisms.Contract` (its ``payments [outcomes]``) or an array of
        payments per outcome.
      signal_fn: ``signal_fn(prompt, completion, rng) -> int`` in ``[0, outcomes)``; ``rng`` is
        a ``numpy.random.Generator`` distinct for every completion (seeded from ``key``).
      name: the name under which the trainer logs this reward.

    Returns:
      ``reward_fn(prompts, completions, key=None, **columns) -> list[float]``. Without ``key``
      a fixed key 0 is used.

    Raises:
      ValueError: payments not a non-empty finite 1-D array; when called, an outcome outside
        ``[0, outcomes)``.
      TypeError: ``signal_fn`` not callable.

    Example:
      >>> from socialign import llm_bridge
      >>> fn = llm_bridge.contract_reward([0.0, 3.0], lambda p, c, rng: int(c == "yes"))
      >>> fn(["q", "q"], ["yes", "no"])
      [3.0, 0.0]
    """
    pay = getattr(contract, "payments", contract)
    pay = np.asarray(pay, np.float64)
    if pay.ndim != 1 or pay.size == 0:
        raise ValueError(f"contract payments must be a 1-D array of outcomes, got shape "
                         f"{pay.shape}")
    if not np.all(np.isfinite(pay)):
        raise ValueError("contract payments must be finite")
    if not callable(signal_fn):
        raise TypeError("signal_fn must be callable(prompt, completion, rng) -> int")
    O = pay.size

    def reward_fn(prompts, completions, key=None, **columns):
        if key is None:
            key = jax.random.key(0)
        seed = [int(x) for x in np.asarray(jax.random.key_data(key)).reshape(-1)]
        out = []
        for i, (p, c) in enumerate(zip(prompts, completions)):
            o = signal_fn(p, c, np.random.default_rng([*seed, i]))
            if isinstance(o, bool | float) or not isinstance(o, int | np.integer) \
                    or not 0 <= int(o) < O:
                raise ValueError(f"signal_fn returned outcome {o!r} for completion {i}; "
                                 f"expected an int in [0, {O})")
            out.append(float(pay[int(o)]))
        return out

    reward_fn.__name__ = name
    reward_fn.payments = pay
    return reward_fn

