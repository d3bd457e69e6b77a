"""README tables of one backend's live run folder (issue 15): results/live/<run>/{live,sim}/, where
live/ is the harness's run on the GPU host (summary.json, requests.csv) and sim/ its simulator twin
(the same requests, checked by requests_sha256).

One row per (repeat, scheduler): the live metrics with their request-bootstrap CIs, L4's paired
ratios to each baseline of the same repeat, and the twin's error against live. Then the backend's
goals, each stated as met or not from those numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.l4.names import is_l4_family
from l4bench.report.blocks import register
from l4bench.report.live_triton import _err, _err_ci, _fmt_ratio, _with_ci, paired_ratio
from l4bench.report.tables import table

FA3 = Path("results") / "live" / "gpu_h200_fa3_shared"


def _load(run: Path) -> tuple[dict[str, Any], dict[str, Any], dict[int, dict[str, np.ndarray]]]:
    from l4bench.merge_runs import per_request_e2el

    live = json.loads((run / "live" / "summary.json").read_text())
    sim = json.loads((run / "sim" / "summary.json").read_text())
    return live, sim, per_request_e2el(run / "live")


def _twin(sim: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The twin's schedulers for the live repeat entry; refuses a twin that replayed other requests."""
    match = next((e for e in sim["per_repeat"] if e["repeat"] == entry["repeat"]), None)
    if match is None or match["requests_sha256"] != entry["requests_sha256"]:
        raise ValueError(f"repeat {entry['repeat']}: the twin did not replay the live requests")
    return dict(match["schedulers"])


def _best_baseline(schedulers: dict[str, Any]) -> str:
    return min((n for n in schedulers if not is_l4_family(n)), key=lambda n: schedulers[n]["mean_e2el_ms"])


def backend_table(root: Path, run: Path) -> str:
    """Scheduler x repeat table of a live backend run against its twin, then the ratios to each baseline."""
    live, sim, e2e = _load(root / run)
    rows, ratio_lines = [], []
    for entry in live["per_repeat"]:
        r, runs, twin = entry["repeat"], entry["schedulers"], _twin(sim, entry)
        best = _best_baseline(runs)
        for name, lv in runs.items():
            tw = twin[name]
            rows.append([str(r), name + (" (best baseline)" if name == best else ""),
                         f"{lv['completed']} / {lv['num_prompts']}", _with_ci(lv, "mean_e2el_ms", ".2f", 1e-3),
                         _with_ci(lv, "p99_e2el_ms", ".1f", 1e-3), _with_ci(lv, "mean_ttft_ms", ".2f", 1e-3),
                         _with_ci(lv, "mean_tpot_ms", ".1f", 1.0), f"{lv['request_throughput']:.3f}",
                         str(lv["migrations"]), f"{tw['mean_e2el_ms'] / 1e3:.2f}", _err_ci(tw, lv, "mean_e2el_ms"),
                         _err_ci(tw, lv, "p99_e2el_ms"), _err(tw["request_throughput"], lv["request_throughput"])])
        if "l4" not in runs or r not in e2e:
            continue
        for base in (n for n in runs if not is_l4_family(n)):
            mean = paired_ratio(e2e[r]["l4"], e2e[r][base])
            p99 = paired_ratio(e2e[r]["l4"], e2e[r][base], 99.0)
            ratio_lines.append(f"repeat {r}, L4 / {base}{' (best)' if base == best else ''}: mean E2E "
                               f"{_fmt_ratio(mean)}, p99 E2E {_fmt_ratio(p99)} (twin "
                               f"{twin['l4']['mean_e2el_ms'] / twin[base]['mean_e2el_ms']:.3f}, "
                               f"{twin['l4']['p99_e2el_ms'] / twin[base]['p99_e2el_ms']:.3f}).")
    out = table(["repeat", "scheduler", "completed / measured", "mean E2E s [95% CI]", "p99 E2E s [95% CI]",
                 "mean TTFT s [95% CI]", "mean TPOT ms [95% CI]", "req/s", "hops", "twin mean E2E s",
                 "twin err mean [CI, %]", "twin err p99 [CI, %]", "twin err req/s"], rows)
    return out + "\n\nPaired ratios (request bootstrap over the requests both completed, 95% CI):\n\n" + \
        "\n".join(f"- {line}" for line in ratio_lines)


def fa3_goals(root: Path, run: Path) -> str:
    """Issue 15's FA3 goals per repeat: L4 no worse than the best baseline on mean and p99 (the paired
    CI containing or below 1) and L4's p99 below static_ranges'."""
    live, _, e2e = _load(root / run)
    lines = []
    for entry in live["per_repeat"]:
        r, runs = entry["repeat"], entry["schedulers"]
        if "l4" not in runs or r not in e2e:
            continue
        best = _best_baseline(runs)
        for label, q in (("mean", None), ("p99", 99.0)):
            ratio = paired_ratio(e2e[r]["l4"], e2e[r][best], q)
            met = "met" if ratio[1] <= 1.0 else "missed"
            lines.append(f"repeat {r}: L4 {label} E2E no worse than the best baseline ({best}): {met}, "
                         f"{_fmt_ratio(ratio)}.")
        if "static_ranges" in runs:
            ratio = paired_ratio(e2e[r]["l4"], e2e[r]["static_ranges"], 99.0)
            met = "met" if ratio[2] < 1.0 else ("not shown (CI contains 1)" if ratio[1] <= 1.0 else "missed")
            lines.append(f"repeat {r}: L4 p99 E2E below static_ranges': {met}, {_fmt_ratio(ratio)}.")
    return "\n".join(f"- {line}" for line in lines)


@register("live_gpu_fa3")
def live_gpu_fa3(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: the FA3 control, live vs twin."""
    return backend_table(root, FA3)


@register("live_gpu_fa3_goals")
def live_gpu_fa3_goals(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: issue 15's FA3 goals, met or not."""
    return fa3_goals(root, FA3)
