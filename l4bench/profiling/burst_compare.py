"""Live burst vs its simulator twin: `python -m l4bench.profiling.burst_compare BURST_JSON SUMMARY_JSON ...`.

BURST_JSON is a profile's burst.json; each SUMMARY_JSON is one `+experiment=burst_sim` run
(workload=burst_mixed or burst_homogeneous, told apart by their prompt lengths). For each, this prints
the short and long requests' mean inter-token time live (with its 95% CI) and simulated, and the
simulation's relative error (issue 13 asks for the short requests within 15%).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _sim_config(summary: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(burst config name, the single scheduler entry) of one burst_sim summary.json."""
    entry = next(iter(summary["schedulers"].values()))
    groups = entry.get("workload_info", {}).get("groups") or []
    name = "mixed" if len({p for _, p, _ in groups}) > 1 else "homogeneous"
    return name, entry


def compare(burst: dict[str, Any], summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (configuration, short/long): live and simulated mean ITL (ms) and the relative error."""
    rows = []
    for summary in summaries:
        name, entry = _sim_config(summary)
        live = burst["configs"].get(name, {}).get("summary", {})
        buckets = sorted(entry.get("per_bucket", []), key=lambda b: b["lo_tokens"])
        sim = {"short": buckets[0] if buckets else None, "long": buckets[-1] if len(buckets) > 1 else None}
        for kind in ("short", "long"):
            if kind not in live or sim[kind] is None or not sim[kind].get("count"):
                continue
            live_ms, sim_ms = live[kind]["itl_mean_ms"], float(sim[kind]["mean_tpot_ms"])
            rows.append({"config": name, "requests": kind, "live_itl_mean_ms": live_ms,
                         "live_ci95_ms": live[kind]["itl_mean_ci95_ms"], "sim_itl_mean_ms": round(sim_ms, 4),
                         "sim_over_live": round(sim_ms / live_ms, 4), "perf_model": entry.get("perf_model")})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as a markdown table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m l4bench.profiling.burst_compare BURST_JSON SUMMARY_JSON [SUMMARY_JSON ...]")
        return 2
    burst = json.loads(Path(args[0]).read_text())
    rows = compare(burst, [json.loads(Path(p).read_text()) for p in args[1:]])
    print("| config | requests | live ITL mean ms (95% CI) | sim ms | sim/live | perf model |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        low, high = r["live_ci95_ms"]
        print(f"| {r['config']} | {r['requests']} | {r['live_itl_mean_ms']:.2f} ({low:.2f}-{high:.2f}) | "
              f"{r['sim_itl_mean_ms']:.2f} | {r['sim_over_live']:.3f} | {r['perf_model']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
