"""Issue 15's goals per backend, met or not, from a live run folder's paired ratios (the tables are
l4bench.report.live_backend's): the FA3 control's "no worse than the best baseline", and the strict
goals of the backends where mixed batches are slow (TRITON_ATTN, FA2), per repeat and over repeats.
"""

from __future__ import annotations

from pathlib import Path

from l4bench.l4.names import is_l4_family
from l4bench.report.blocks import register
from l4bench.report.live_backend import FA2, FA3, best_baseline, live_run
from l4bench.report.live_stats import fmt_ratio, paired_ratio


def fa3_goals(root: Path, run: Path) -> str:
    """Issue 15's FA3 goals per repeat: L4 no worse than the best baseline on mean and p99 (the paired
    CI containing or below 1) and L4's p99 below static_ranges'."""
    live, e2e = live_run(root / run)
    lines = []
    for entry in live["per_repeat"]:
        r, runs = entry["repeat"], entry["schedulers"]
        if "l4" not in runs or r not in e2e or len(runs) < 2:
            lines.append(f"repeat {r}: not measured (live ran {', '.join(runs)} only).")
            continue
        best = best_baseline(runs)
        for label, q in (("mean", None), ("p99", 99.0)):
            ratio = paired_ratio(e2e[r]["l4"], e2e[r][best], q)
            met = "met" if ratio[1] <= 1.0 else "missed"
            lines.append(f"repeat {r}: L4 {label} E2E no worse than the best baseline ({best}): {met}, "
                         f"{fmt_ratio(ratio)}.")
        if "static_ranges" in runs:
            ratio = paired_ratio(e2e[r]["l4"], e2e[r]["static_ranges"], 99.0)
            met = "met" if ratio[2] < 1.0 else ("not shown (CI contains 1)" if ratio[1] <= 1.0 else "missed")
            lines.append(f"repeat {r}: L4 p99 E2E below static_ranges': {met}, {fmt_ratio(ratio)}.")
    vs = live.get("versus_best_baseline") or {}
    l4 = (vs.get("schedulers") or {}).get("l4")
    if l4 and l4.get("n", 0) > 1 and vs.get("metric") == "mean_e2el_ms":
        met = "met" if l4["low"] <= 1.0 else "missed"
        lines.append(f"over {l4['n']} repeats ({l4['method']}): L4 / {vs['best_baseline']} mean E2E "
                     f"{l4['ratio']:.3f} [{l4['low']:.3f}, {l4['high']:.3f}]: {met} (CI containing or below 1).")
    return "\n".join(f"- {line}" for line in lines)


def strict_goals(root: Path, run: Path) -> str:
    """Issue 15's goals for a backend where mixed batches are slow (TRITON_ATTN, FA2), per repeat, for
    L4 and each L4 variant the repeat ran: mean E2E <= 0.5x least_requests and <= 1.0x static_ranges,
    p99 E2E <= 0.8x the best baseline, each met only when the paired CI's upper bound is below it.
    Where two or more repeats ran a pair, one more line: the ratio over repeats (geometric mean of the
    per-repeat ratios, t-interval on their logs: the harness's rule), judged the same way."""
    from l4bench.metrics.ci import log_ratio_interval

    live, e2e = live_run(root / run)
    lines: list[str] = []
    over: dict[tuple[str, float], list[float]] = {}
    for entry in live["per_repeat"]:
        r, runs = entry["repeat"], entry["schedulers"]
        if r not in e2e:
            continue
        best = best_baseline(runs)
        for name in (n for n in runs if is_l4_family(n)):
            label = "L4" if name == "l4" else name
            for base, q, bound, what in (("least_requests", None, 0.5, "mean"), ("static_ranges", None, 1.0, "mean"),
                                         (best, 99.0, 0.8, "p99")):
                if base not in runs:
                    continue
                ratio = paired_ratio(e2e[r][name], e2e[r][base], q)
                met = "met" if ratio[2] < bound else "missed"
                lines.append(f"repeat {r}: {label} {what} E2E <= {bound}x {base}"
                             f"{' (best baseline)' if base == best else ''}: {met}, {fmt_ratio(ratio)}.")
                goal = f"{label} {what} E2E <= {bound}x " + ("the best baseline" if q else base)
                over.setdefault((goal, bound), []).append(ratio[0])
    for (goal, bound), ratios in over.items():
        if len(ratios) > 1:
            ci = log_ratio_interval(ratios)
            met = "met" if ci["high"] < bound else "missed"
            lines.append(f"over {ci['n']} repeats (geometric mean, t-interval on the log ratios, {ci['n'] - 1} "
                         f"degree(s) of freedom): {goal}: {met}, {ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}].")
    return "\n".join(f"- {line}" for line in lines)


@register("live_gpu_fa3_goals")
def live_gpu_fa3_goals(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: issue 15's FA3 goals, met or not."""
    return fa3_goals(root, FA3)


@register("live_gpu_fa2_goals")
def live_gpu_fa2_goals(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared: issue 15's FA2 goals, met or not."""
    return strict_goals(root, FA2)
