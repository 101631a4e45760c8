"""Reporting the flagship experiment: the verdict, the printed table and the plot.

All three read the results dict of :func:`~socialign.llm_bridge.flagship.training.run`
(``base_shares``, ``naive`` and ``contract_run`` with ``predicted_shares``,
``measured_shares``, ...), so they can be re-run on a saved ``results.json``.

Example:
  >>> import json                                                   # doctest: +SKIP
  >>> from socialign.llm_bridge.flagship import DemoConfig, reporting  # doctest: +SKIP
  >>> res = json.load(open("outputs/demo/results.json"))            # doctest: +SKIP
  >>> print(reporting.report(res, DemoConfig(**res["config"])))        # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from .config import DemoConfig
from .task import ACTIONS, OUTCOMES

__all__ = ["verdict", "report", "make_plot"]

_RUNS = (("naive", "naive"), ("contract", "contract_run"))


def _check(res, cfg):
    if not isinstance(cfg, DemoConfig):
        raise TypeError(f"cfg must be a DemoConfig, got {type(cfg).__name__}")
    missing = [k for k in ("base_shares", "naive", "contract_run") if k not in res]
    if missing:
        raise ValueError(f"res is not a flagship results dict: missing {missing}")


def verdict(res: dict, cfg: DemoConfig) -> dict:
    """Did each effect go the predicted way, within ``cfg.tolerance``?

    Args:
      res: the results dict of ``run``; cfg: its :class:`DemoConfig`.

    Returns:
      ``{"naive_gaming_grew", "contract_honest_grew", "contract_honest_within_tolerance",
      "naive_within_tolerance", "contract_within_tolerance"}``, each a bool, and when the runs
      carry them, ``"naive_converged"`` / ``"contract_converged"`` (the policy reached
      ``KL(pi || pi*) <= kl_tol``) and ``"naive_inside_band"`` / ``"contract_inside_band"``
      (``[3]`` bools: each measured share inside its predicted credible band).

    Raises:
      TypeError: ``cfg`` is not a :class:`DemoConfig`; ValueError: ``res`` lacks a run.

    Example:
      >>> from socialign.llm_bridge.flagship import DemoConfig, reporting
      >>> run = lambda m, p: {"measured_shares": m, "predicted_shares": p,
      ...                     "max_abs_gap": max(abs(a - b) for a, b in zip(m, p))}
      >>> res = {"base_shares": [.3, .3, .4], "naive": run([.2, .6, .2], [.3, .5, .2]),
      ...        "contract_run": run([.8, .1, .1], [.8, .1, .1])}
      >>> reporting.verdict(res, DemoConfig())["contract_within_tolerance"]
      True
    """
    _check(res, cfg)
    base = np.asarray(res["base_shares"])
    nv = np.asarray(res["naive"]["measured_shares"])
    ct = np.asarray(res["contract_run"]["measured_shares"])
    ct_pred = np.asarray(res["contract_run"]["predicted_shares"])
    out = {}
    for label, key in _RUNS:
        if "converged" in res[key]:
            out[f"{label}_converged"] = bool(res[key]["converged"])
        if "inside_predicted_band" in res[key]:
            out[f"{label}_inside_band"] = [bool(x) for x in res[key]["inside_predicted_band"]]
    return out | {
        "naive_gaming_grew": bool(nv[1] > base[1]),
        "contract_honest_grew": bool(ct[0] > base[0]),
        "contract_honest_within_tolerance": bool(abs(ct[0] - ct_pred[0]) <= cfg.tolerance),
        "naive_within_tolerance": bool(res["naive"]["max_abs_gap"] <= cfg.tolerance),
        "contract_within_tolerance": bool(res["contract_run"]["max_abs_gap"] <= cfg.tolerance),
    }


def report(res: dict, cfg: DemoConfig) -> str:
    """The printed table: shares before / predicted / measured, payments, principal values.

    Args:
      res: the full results dict of ``run`` (with ``verdict``); cfg: its :class:`DemoConfig`.

    Returns:
      the report as one string.

    Raises:
      TypeError: ``cfg`` is not a :class:`DemoConfig`; ValueError / KeyError: an incomplete
      ``res``.

    Example:
      >>> from socialign.llm_bridge.flagship import DemoConfig, reporting   # doctest: +SKIP
      >>> print(reporting.report(res, DemoConfig()))                       # doctest: +SKIP
    """
    _check(res, cfg)
    b = res["base_shares"]
    c = res["contract"]
    banded = all("predicted_band" in res[k] for _, k in _RUNS)
    level = f"{round(100 * cfg.band_level)}%"
    lines = [
        "",
        "socialign flagship demo: fine-tuning against an incentive-compatible contract",
        f"model={cfg.model}  temperature (KL coefficient beta = quantal temperature)="
        f"{cfg.temperature}  RL: {res['algorithm'].split(';')[0]}",
        f"base model shares (honest/gaming/lazy): {b[0]:.3f} / {b[1]:.3f} / {b[2]:.3f}; "
        f"effort cost (length penalty {cfg.length_penalty}/token): "
        + " / ".join(f"{x:.2f}" for x in res["effort_costs"]),
        f"designed contract: audit rate q={c['audit_rate']:.2f} (cost {cfg.audit_cost}/audit), "
        f"target honest share >= {cfg.target_share} (designed against the pooled base shares: "
        f"{c['designed_shares'][0]:.3f}), KKT residual {c['certificate_kkt']:.1e}",
        "predicted = the KL-regularised optimum pi_ref(a|x) exp(E[pay|a]/beta)/Z prompt by "
        "prompt, averaged over prompts",
        "  payments: " + ", ".join(f"{o}={p:.3f}" for o, p in zip(OUTCOMES, c["payments"])),
        "",
        f"{'reward':<10}{'behaviour':<9}{'before':>8}{'predicted':>11}{'measured':>10}{'gap':>8}"
        + (f"  {'predicted ' + level + ' band':<20}{'measured ' + level + ' band':<20}inside"
           if banded else ""),
    ]
    for label, key in _RUNS:
        r = res[key]
        for a, name in enumerate(ACTIONS):
            row = (f"{label if a == 0 else '':<10}{name:<9}{b[a]:>8.3f}"
                   f"{r['predicted_shares'][a]:>11.3f}{r['measured_shares'][a]:>10.3f}"
                   f"{r['gap'][a]:>+8.3f}")
            if banded:
                (plo, phi), (mlo, mhi) = r["predicted_band"], r["measured_band"]
                row += (f"  [{plo[a]:.3f}, {phi[a]:.3f}]      [{mlo[a]:.3f}, {mhi[a]:.3f}]      "
                        + ("yes" if r["inside_predicted_band"][a] else "NO"))
            lines.append(row)
    for label, key in _RUNS:
        r = res[key]
        if "converged" in r:
            lines.append(
                f"{label}: {r['rl_steps']} RL steps, KL(pi || pi*) = "
                f"{r['final_kl_to_optimum']:.4f} nats (objective gap "
                f"{r['final_objective_gap']:.4f}; stop at kl_tol={cfg.kl_tol}): "
                + ("CONVERGED" if r["converged"] else "NOT converged (hit the rl_steps cap)"))
    if banded:
        lines.append(f"bands: {level} credible intervals; predicted = the base shares' "
                     "Dirichlet posterior pushed through the prediction, measured = the "
                     "posterior of the evaluation counts; 'inside' = measured share within "
                     "the predicted band")
    lines.append("")
    lines.append(f"{'reward':<10}{'E[payment]':>11}{'audit cost':>12}{'principal V':>13}"
                 f"{'(predicted)':>13}")
    for label, key in _RUNS:
        r = res[key]
        lines.append(f"{label:<10}{r['expected_payment']:>11.3f}{r['audit_cost']:>12.3f}"
                     f"{r['principal_value']:>13.3f}{r['predicted_principal_value']:>13.3f}")
    v = res["verdict"]
    lines += [
        "",
        f"principal's values: honest {cfg.values[0]}, gaming {cfg.values[1]}, lazy "
        f"{cfg.values[2]} per answer; tolerance on shares: ±{cfg.tolerance}",
        f"naive reward: gaming share {b[1]:.3f} -> {res['naive']['measured_shares'][1]:.3f}: "
        + ("GREW, as predicted" if v["naive_gaming_grew"] else "did NOT grow (unexpected)"),
        f"contract: honest share {b[0]:.3f} -> {res['contract_run']['measured_shares'][0]:.3f} "
        f"(predicted {res['contract_run']['predicted_shares'][0]:.3f}): "
        + ("within tolerance" if v["contract_honest_within_tolerance"] else
           "OUTSIDE the tolerance"),
    ]
    if banded:
        for label, key in _RUNS:
            ins = res[key]["inside_predicted_band"]
            lines.append(f"{label}: measured shares inside their predicted {level} band: "
                         + ", ".join(f"{n} {'yes' if i else 'NO'}" for n, i in
                                     zip(ACTIONS, ins)))
    lines += [
        f"runtime {res['runtime_s']:.0f} s",
    ]
    return "\n".join(lines)


def make_plot(res: dict, path) -> str | None:
    """Save the three-panel figure (shares during each RL run, and after) as a PNG.

    Args:
      res: the results dict of ``run``; path: the PNG file to write.

    Returns:
      ``path``, or ``None`` when matplotlib is not installed (the plot is optional).

    Raises:
      ValueError: ``res`` lacks a run.

    Example:
      >>> from socialign.llm_bridge.flagship import reporting   # doctest: +SKIP
      >>> reporting.make_plot(res, "shares.png")                # doctest: +SKIP
      'shares.png'
    """
    missing = [k for k in ("base_shares", "naive", "contract_run") if k not in res]
    if missing:
        raise ValueError(f"res is not a flagship results dict: missing {missing}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = {"honest": "tab:green", "gaming": "tab:red", "lazy": "tab:gray"}
    for ax, key, title in ((axes[0], "naive", "naive reward (cheap check)"),
                           (axes[1], "contract_run", "designed contract")):
        r = res[key]
        tr = np.asarray(r["trajectory"])
        for a, name in enumerate(ACTIONS):
            ax.plot(np.arange(1, len(tr) + 1), tr[:, a], color=colors[name], alpha=0.8,
                    label=f"{name} (training batch)")
            ax.axhline(r["predicted_shares"][a], color=colors[name], ls="--", lw=1)
            ax.plot([len(tr)], [r["measured_shares"][a]], "o", color=colors[name])
        ax.set_title(f"{title}: shares during RL\n(dashed: equilibrium prediction, dot: eval)")
        ax.set_xlabel("RL step")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    ax = axes[2]
    x = np.arange(3)
    w = 0.18
    bars = [("base", res["base_shares"], "lightgray"),
            ("naive", res["naive"]["measured_shares"], "tab:orange"),
            ("contract (pred.)", res["contract_run"]["predicted_shares"], "lightblue"),
            ("contract", res["contract_run"]["measured_shares"], "tab:blue")]
    for i, (lab, vals, col) in enumerate(bars):
        ax.bar(x + (i - 1.5) * w, vals, w, label=lab, color=col)
    ax.set_xticks(x, ACTIONS)
    ax.set_ylabel("share of answers")
    ax.set_title("behaviour shares after fine-tuning")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
