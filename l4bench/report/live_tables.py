"""README table generators for the live GPU runs (results/live/<run>/rate<R>/summary.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l4bench.l4.names import is_l4_family
from l4bench.report.blocks import register
from l4bench.report.live_stats import twin_error
from l4bench.report.tables import cell, table

Runs = dict[str, dict[str, dict[str, Any]]]  # rate -> scheduler -> summary


def live_runs(run_dir: Path) -> Runs:
    """Rate -> scheduler -> summary of one merged live run (scripts/live_report.py's layout)."""
    out = {}
    for p in sorted(run_dir.glob("rate*/summary.json"), key=lambda p: float(p.parent.name[4:])):
        out[p.parent.name[4:]] = json.loads(p.read_text())["schedulers"]
    return out


def sim_runs(sweep: Path) -> Runs:
    """Rate -> scheduler -> summary of a simulator sweep (by meta.arrival.rate)."""
    out = {}
    for p in sweep.glob("*/summary.json"):
        doc = json.loads(p.read_text())
        out[f"{float(doc['meta']['arrival']['rate']):.1f}"] = doc["schedulers"]
    return out


def _pair(a: dict[str, Any], b: dict[str, Any]) -> str:
    return f"{a['mean_e2el_ms'] / b['mean_e2el_ms']:.2f}, {a['p99_e2el_ms'] / b['p99_e2el_ms']:.2f}"


@register("live_pair2_ratios")
def live_pair2_ratios(root: Path) -> str:
    """results/live/gpu_pair2_h100: L4 / least_requests, static_ranges and the best baseline."""
    rows = []
    for rate, runs in live_runs(root / "results" / "live" / "gpu_pair2_h100").items():
        l4 = runs["l4"]
        best = min((n for n in runs if not is_l4_family(n)), key=lambda n: runs[n]["mean_e2el_ms"])
        rows.append([
            rate, _pair(l4, runs["least_requests"]), _pair(l4, runs["static_ranges"]),
            f"{best} {_pair(l4, runs[best])}", str(l4.get("migrations", 0)),
        ])
    return table(["rate", "vs least_requests", "vs static_ranges", "vs best baseline by mean", "L4 migrations"], rows)


@register("live_pair2_sim_vs_live")
def live_pair2_sim_vs_live(root: Path) -> str:
    """results/live/gpu_pair2_h100: the calibrated simulator twin against the live run."""
    live = live_runs(root / "results" / "live" / "gpu_pair2_h100")
    sim = sim_runs(root / "results" / "live_gpu_pair2_sim" / "multirun_1_calibrated")
    rows = []
    for rate, runs in live.items():
        for name in ("l4", "least_requests", "static_ranges", "llumnix"):
            if name not in runs or name not in sim.get(rate, {}):
                continue
            lv, sm = runs[name], sim[rate][name]
            label = name + (" (calibration point)" if (rate, name) == ("3.0", "least_requests") else "")
            rows.append([
                rate, label, f"{lv['mean_e2el_ms'] / 1e3:.2f} / {sm['mean_e2el_ms'] / 1e3:.2f}",
                twin_error(sm["mean_e2el_ms"], lv["mean_e2el_ms"]),
                f"{lv['p99_e2el_ms'] / 1e3:.2f} / {sm['p99_e2el_ms'] / 1e3:.2f}",
                twin_error(sm["p99_e2el_ms"], lv["p99_e2el_ms"]),
                twin_error(sm["request_throughput"], lv["request_throughput"]),
            ])
    return table(
        ["rate", "scheduler", "mean E2E live / sim (s)", "error", "p99 E2E live / sim (s)", "error", "throughput error"],
        rows,
    )


def _bucket_mean_s(s: dict[str, Any], bucket: str) -> str:
    b = next((b for b in s.get("per_bucket") or [] if b["bucket"] == bucket and b["count"]), None)
    return "" if b is None else f"{b['mean_e2el_ms'] / 1e3:.2f}"


LABELS = {"sglang_router": "sglang_router (cache_aware)"}


@register("live_sglang_results")
def live_sglang_results(root: Path) -> str:
    """results/live/gpu_sglang_h100: every scheduler at 6 req/s, with the short/long prompt classes."""
    runs = live_runs(root / "results" / "live" / "gpu_sglang_h100")["6.0"]
    rows = [
        [LABELS.get(n, n), cell(s, "mean_e2el_ms", ".2f", 1e-3), cell(s, "p99_e2el_ms", ".2f", 1e-3),
         cell(s, "request_throughput", ".2f"), cell(s, "mean_tpot_ms", ".1f"), cell(s, "mean_ttft_ms", ".0f"),
         _bucket_mean_s(s, "[0,2048)"), _bucket_mean_s(s, "[8192,32768)")]
        for n, s in runs.items()
    ]
    return table(
        ["scheduler", "mean E2E s", "p99 E2E s", "throughput req/s", "mean TPOT ms", "mean TTFT ms",
         "short mean E2E s", "long mean E2E s"],
        rows,
    )


@register("live_sglang_vs_vllm")
def live_sglang_vs_vllm(root: Path) -> str:
    """results/live/gpu_sglang_h100: the same workload at 6 req/s on vLLM and on SGLang."""
    vllm = live_runs(root / "results" / "live" / "gpu_pair2_h100")["6.0"]
    sgl = live_runs(root / "results" / "live" / "gpu_sglang_h100")["6.0"]
    pairs = [("l4", "l4", "l4"), ("least_requests", "least_requests", "least_requests"),
             ("static_ranges", "static_ranges", "static_ranges"),
             ("engine's own router (vllm-router p2c / sglang-router cache_aware)", "vllm_router_power_of_two", "sglang_router")]
    rows = []
    for label, v, s in pairs:
        a, b = vllm[v], sgl[s]
        rows.append([label, f"{a['mean_e2el_ms'] / 1e3:.2f} / {a['p99_e2el_ms'] / 1e3:.2f}",
                     f"{b['mean_e2el_ms'] / 1e3:.2f} / {b['p99_e2el_ms'] / 1e3:.2f}"])
    return table(["scheduler", "vLLM 0.25.0 (FA3) mean / p99 E2E s", "SGLang 0.5.16 (triton) mean / p99 E2E s"], rows)
