"""Write sim_vs_live.md from the live summaries here and a simulator twin run (issue #5).

python results/live/gpu_pair_h100/make_report.py SIM_SWEEP_DIR
(SIM_SWEEP_DIR: `python -m l4bench -m +experiment=live_gpu_pair_sim arrival.rate=1.5,3.0,4.5`'s sweep dir.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATES = ("1.5", "3.0", "4.5")
BASELINES = ("least_requests", "static_ranges", "least_tokens", "round_robin", "llumnix", "vllm_router_power_of_two")


def load(path: Path) -> dict[str, dict]:
    """Scheduler -> summary of one summary.json."""
    return json.loads(path.read_text())["schedulers"]


def sim_dirs(sweep: Path) -> dict[str, Path]:
    """Rate -> the sim job dir of that rate."""
    out = {}
    for cfg in sweep.glob("*/config_resolved.yaml"):
        rate = [ln.split(":")[1].strip() for ln in cfg.read_text().splitlines() if ln.strip().startswith("rate:")][0]
        out[f"{float(rate):.1f}"] = cfg.parent
    return out


def pct(a: float, b: float) -> str:
    """(a - b) / b in percent."""
    return f"{100.0 * (a - b) / b:+.1f}%"


def main() -> None:
    """Print the live table, L4's ratios, and the sim-vs-live errors as markdown."""
    sims = sim_dirs(Path(sys.argv[1]))
    lines = ["## Live results (H100, 2 vLLM instances sharing the GPU)", ""]
    ratio_rows, err_rows = [], []
    for rate in RATES:
        live = load(HERE / f"rate{rate}" / "summary.json")
        sim = load(sims[rate] / "summary.json")
        lines += [f"### {rate} req/s ({live['l4']['completed']} requests, 30 s of Poisson arrivals)", "",
                  "| scheduler | mean E2E s | p99 E2E s | throughput req/s | mean TPOT ms | p99 TPOT ms | mean TTFT ms | migrations |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, s in live.items():
            lines.append(f"| {name} | {s['mean_e2el_ms'] / 1e3:.2f} | {s['p99_e2el_ms'] / 1e3:.2f} | {s['request_throughput']:.2f} | "
                         f"{s['mean_tpot_ms']:.1f} | {s['p99_tpot_ms']:.1f} | {s['mean_ttft_ms']:.0f} | {s.get('migrations', 0)} |")
        lines.append("")
        l4 = live["l4"]
        best = min(BASELINES, key=lambda b: live[b]["mean_e2el_ms"])
        best_p99 = min(BASELINES, key=lambda b: live[b]["p99_e2el_ms"])
        for ref in dict.fromkeys((best, best_p99, "least_requests", "static_ranges")):
            r = live[ref]
            tag = " (best mean)" * (ref == best) + " (best p99)" * (ref == best_p99)
            ratio_rows.append(f"| {rate} | {ref}{tag} | {l4['mean_e2el_ms'] / r['mean_e2el_ms']:.2f} | "
                              f"{l4['p99_e2el_ms'] / r['p99_e2el_ms']:.2f} | {l4['request_throughput'] / r['request_throughput']:.2f} | {l4.get('migrations', 0)} |")
        for name in sim:
            lv, sm = live[name], sim[name]
            err_rows.append(f"| {rate} | {name} | {lv['mean_e2el_ms'] / 1e3:.2f} / {sm['mean_e2el_ms'] / 1e3:.2f} | {pct(sm['mean_e2el_ms'], lv['mean_e2el_ms'])} | "
                            f"{lv['p99_e2el_ms'] / 1e3:.2f} / {sm['p99_e2el_ms'] / 1e3:.2f} | {pct(sm['p99_e2el_ms'], lv['p99_e2el_ms'])} | "
                            f"{lv['request_throughput']:.2f} / {sm['request_throughput']:.2f} | {pct(sm['request_throughput'], lv['request_throughput'])} | "
                            f"{lv['mean_tpot_ms']:.1f} / {sm['mean_tpot_ms']:.1f} |")
    lines += ["## L4 against the baselines (ratio L4 / baseline; < 1 is better for E2E, > 1 for throughput)", "",
              "| rate | baseline | mean E2E | p99 E2E | throughput | L4 migrations |", "|---|---|---|---|---|---|", *ratio_rows, "",
              "## Simulator (fitted H100 model, 2 instances each with a whole H100) vs live", "",
              "Error = (sim - live) / live. Goal: |mean E2E| <= 10%, |p99 E2E| <= 20%, |throughput| <= 10%.", "",
              "| rate | scheduler | mean E2E s live / sim | error | p99 E2E s live / sim | error | throughput live / sim | error | mean TPOT ms live / sim |",
              "|---|---|---|---|---|---|---|---|---|", *err_rows, ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
