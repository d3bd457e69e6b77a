"""README table of results/live/gpu_h200_shared_triton_r1: one live repeat on TRITON_ATTN and its
simulator twin (the same requests, checked by requests_sha256).

The live sweep lost its third scheduler (static_ranges) when the device machine was given back, and
its requests.parquet with it, so L4 / least_requests is an *unpaired* ratio here: its CI combines the
two runs' own request-bootstrap CIs of the mean in log space (independent, hence wider than the
paired CI the harness computes; since 00f8d35 it does so after every run, so a cut-off sweep keeps it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from l4bench.report.blocks import register
from l4bench.report.tables import table

RUN = Path("results") / "live" / "gpu_h200_shared_triton_r1"
Z95 = 1.959963984540054


def _doc(root: Path, side: str) -> dict[str, Any]:
    return json.loads((root / RUN / side / "summary.json").read_text())


def _boot(s: dict[str, Any], key: str) -> tuple[float, float] | None:
    ci = (s.get("bootstrap_ci95") or {}).get(key)
    return (float(ci["low"]), float(ci["high"])) if ci and ci.get("low") is not None else None


def _with_ci(s: dict[str, Any], key: str, fmt: str, scale: float) -> str:
    text = format(s[key] * scale, fmt)
    ci = _boot(s, key)
    return text + (f" [{format(ci[0] * scale, fmt)}, {format(ci[1] * scale, fmt)}]" if ci else "")


def unpaired_ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float, float]:
    """a/b of key with a 95% CI from the two runs' independent bootstrap CIs (log scale, normal)."""
    ratio = a[key] / b[key]
    se = [(math.log(hi) - math.log(lo)) / (2 * Z95) for lo, hi in (_boot(a, key), _boot(b, key))]
    half = Z95 * math.hypot(*se)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def _err(sim: float, live: float) -> str:
    return f"{100 * (sim - live) / live:+.1f}%"


@register("live_gpu_triton_r1")
def live_gpu_triton_r1(root: Path) -> str:
    """Live vs twin per scheduler, then L4 / least_requests live (unpaired) and in the twin."""
    live, sim = _doc(root, "live"), _doc(root, "sim")
    same = live["per_repeat"][0]["requests_sha256"] == sim["per_repeat"][0]["requests_sha256"]
    rows = []
    for name in sim["schedulers"]:
        s = sim["schedulers"][name]
        lv = live["schedulers"].get(name)
        if lv is None:
            rows.append([name, "not run (lost)", "", "", "", f"{s['mean_e2el_ms'] / 1e3:.2f}",
                         f"{s['p99_e2el_ms'] / 1e3:.1f}", f"{s['request_throughput']:.3f}", "", "", ""])
            continue
        rows.append([name, f"{lv['completed']} / {lv['num_prompts']}", _with_ci(lv, "mean_e2el_ms", ".2f", 1e-3),
                     _with_ci(lv, "p99_e2el_ms", ".1f", 1e-3), f"{lv['request_throughput']:.3f}",
                     f"{s['mean_e2el_ms'] / 1e3:.2f}", f"{s['p99_e2el_ms'] / 1e3:.1f}",
                     f"{s['request_throughput']:.3f}", _err(s["mean_e2el_ms"], lv["mean_e2el_ms"]),
                     _err(s["p99_e2el_ms"], lv["p99_e2el_ms"]),
                     _err(s["request_throughput"], lv["request_throughput"])])
    out = table(["scheduler", "live completed / measured", "live mean E2E s [95% CI]",
                 "live p99 E2E s [95% CI]", "live req/s", "sim mean E2E s", "sim p99 E2E s", "sim req/s",
                 "sim err mean", "sim err p99", "sim err req/s"], rows)
    lines = [f"\n\nSame requests live and in the twin (requests_sha256): {'yes' if same else 'NO'}."]
    a, b = live["schedulers"].get("l4"), live["schedulers"].get("least_requests")
    if a and b:
        for key, label in (("mean_e2el_ms", "mean E2E"), ("p99_e2el_ms", "p99 E2E"), ("mean_ttft_ms", "mean TTFT")):
            r, lo, hi = unpaired_ratio(a, b, key)
            tw = sim["schedulers"]["l4"][key] / sim["schedulers"]["least_requests"][key]
            lines.append(f"\nL4 / least_requests, {label}: live {r:.3f} [{lo:.3f}, {hi:.3f}] (unpaired CI), "
                         f"twin {tw:.3f}.")
    lines.append("\n\nMean TPOT (ms) per prompt-length class, live / sim: " + "; ".join(
        f"{name} " + ", ".join(f"{lb['bucket']} {lb['mean_tpot_ms']:.0f} / {sb['mean_tpot_ms']:.0f}"
                               for lb, sb in zip(live["schedulers"][name]["per_bucket"],
                                                 sim["schedulers"][name]["per_bucket"], strict=True)
                               if lb["count"] and lb["mean_tpot_ms"] is not None)
        for name in live["schedulers"]) + ".")
    return out + "".join(lines)


INTERFERENCE = Path("results") / "live" / "gpu_h200_shared_interference"


@register("shared_gpu_interference")
def shared_gpu_interference(root: Path) -> str:
    """benchmarks/shared_gpu_interference.py on one H200: A's mean TPOT per load of B, per repeat."""
    doc = json.loads((root / INTERFERENCE / "interference_TRITON_ATTN.json").read_text())
    idle: dict[int, float] = {}
    rows = []
    for i, p in enumerate(doc["phases"]):
        rep = i // 3
        if p["b_load"] == "idle":
            idle[rep] = p["a_tpot_ms_mean"]
        b = "" if p["b_tpot_ms_mean"] is None else f"{p['b_tpot_ms_mean']:.1f}"
        rows.append([str(rep), p["b_load"], f"{p['a_tpot_ms_mean']:.1f}", f"{p['a_tpot_ms_mean'] / idle[rep]:.2f}", b])
    return table(["repeat", "instance B runs", "A mean TPOT (ms)", "A vs B idle", "B mean TPOT (ms)"], rows)
