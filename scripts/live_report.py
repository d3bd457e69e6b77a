"""Merge a live GPU run's sweeps per rate, and write its report against the simulator twin.

    python scripts/live_report.py --live RES_DIR --out results/live/NAME [--sim SIM_SWEEP] [--title TEXT]

RES_DIR is what scripts/gpu_live.sh (or gpu_sglang.sh) brings back, unpacked: one or more Hydra
sweep dirs `m_*/<job>/` (summary.json, config_resolved.yaml, requests.parquet). Jobs of the same
rate are merged (a scheduler a later sweep ran fills the gap a cut-off one left; `merged_from`
says which job each came from). Writes per rate `rate<R>/{summary.json,config_resolved.yaml}`, a
per-length-bucket breakdown (`classes.csv`, from each summary's per_bucket) and `report.md`
(tables, L4 against least_requests / static_ranges / the best baseline, sim-vs-live errors).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from l4bench.l4.names import is_l4_family  # noqa: E402


def rate_of(job: Path) -> str:
    """The job's arrival.rate as written in its resolved config."""
    m = re.search(r"^  rate: (.*)$", (job / "config_resolved.yaml").read_text(), re.M)
    if m is None:
        raise SystemExit(f"{job}: no arrival.rate in config_resolved.yaml")
    return f"{float(m.group(1)):.1f}"


def merge(res: Path, out: Path) -> dict[str, dict[str, dict]]:
    """Rate -> scheduler -> summary, merged over every sweep job under res (oldest first)."""
    merged: dict[str, dict[str, dict]] = {}
    heads: dict[str, dict] = {}
    jobs = sorted(res.glob("m_*/*/summary.json"), key=lambda p: p.stat().st_mtime)
    for path in jobs:
        job = path.parent
        rate = rate_of(job)
        doc = json.loads(path.read_text())
        dest = out / f"rate{rate}"
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / "config_resolved.yaml").exists():
            shutil.copy(job / "config_resolved.yaml", dest / "config_resolved.yaml")
        heads.setdefault(rate, {k: v for k, v in doc.items() if k not in ("schedulers", "failed_schedulers")})
        for name, s in doc["schedulers"].items():
            merged.setdefault(rate, {})[name] = {**s, "merged_from": str(job.relative_to(res))}
    for rate, scheds in merged.items():
        doc = {**heads[rate], "schedulers": scheds}  # experiment, meta, environment of the rate's first job
        (out / f"rate{rate}" / "summary.json").write_text(json.dumps(doc, indent=1))
    classes(merged).to_csv(out / "classes.csv", index=False)
    return merged


def classes(merged: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """Per rate, scheduler and prompt-length bucket (summary.json's per_bucket): count, mean / p99 E2E, TPOT, TTFT."""
    rows = []
    for rate, scheds in merged.items():
        for name, s in scheds.items():
            for b in s.get("per_bucket") or []:
                if b["count"]:
                    rows.append({"rate": rate, "scheduler": name, "bucket": b["bucket"], "n": b["count"],
                                 "mean_e2e_s": b["mean_e2el_ms"] / 1e3, "p99_e2e_s": b["p99_e2el_ms"] / 1e3,
                                 "mean_tpot_ms": b["mean_tpot_ms"], "mean_ttft_ms": b["mean_ttft_ms"]})
    return pd.DataFrame(rows).round(4)


def pct(a: float, b: float) -> str:
    """(a - b) / b in percent."""
    return f"{100.0 * (a - b) / b:+.1f}%"


def sim_runs(sweep: Path) -> dict[str, dict[str, dict]]:
    """Rate -> scheduler -> summary of a simulator sweep."""
    return {rate_of(p.parent): json.loads(p.read_text())["schedulers"] for p in sweep.glob("*/summary.json")}


def report(live: dict[str, dict[str, dict]], sim: dict[str, dict[str, dict]], title: str) -> str:
    """Markdown: per-rate tables, L4 ratios, the issue's goal check, sim-vs-live errors."""
    lines = [f"## Live results: {title}", ""]
    ratio, goal, err = [], [], []
    for rate in sorted(live, key=float):
        runs = live[rate]
        lines += [f"### {rate} req/s", "",
                  "| scheduler | completed | mean E2E s | p99 E2E s | throughput req/s | mean TPOT ms | p99 TPOT ms | mean TTFT ms | migrations |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, s in runs.items():
            lines.append(f"| {name} | {s['completed']}/{s['num_prompts']} | {s['mean_e2el_ms'] / 1e3:.2f} | {s['p99_e2el_ms'] / 1e3:.2f} | "
                         f"{s['request_throughput']:.2f} | {s['mean_tpot_ms']:.1f} | {s['p99_tpot_ms']:.1f} | {s['mean_ttft_ms']:.0f} | {s.get('migrations', 0)} |")
        lines.append("")
        base = [b for b in runs if not is_l4_family(b)]
        best = min(base, key=lambda b: runs[b]["mean_e2el_ms"])
        best_p99 = min(base, key=lambda b: runs[b]["p99_e2el_ms"])
        for l4 in (n for n in runs if is_l4_family(n)):
            me = runs[l4]
            for ref in dict.fromkeys((best, best_p99, "least_requests", "static_ranges")):
                if ref not in runs:
                    continue
                r = runs[ref]
                tag = " (best mean)" * (ref == best) + " (best p99)" * (ref == best_p99)
                ratio.append(f"| {rate} | {l4} | {ref}{tag} | {me['mean_e2el_ms'] / r['mean_e2el_ms']:.2f} | "
                             f"{me['p99_e2el_ms'] / r['p99_e2el_ms']:.2f} | {me['request_throughput'] / r['request_throughput']:.2f} | {me.get('migrations', 0)} |")
            refs = ("least_requests", "static_ranges")
            if all(b in runs for b in refs):
                ok = all(me[k] < runs[b][k] for b in refs for k in ("mean_e2el_ms", "p99_e2el_ms"))
                goal.append(f"| {rate} | {l4} | {'yes' if ok else 'no'} |")
            else:
                goal.append(f"| {rate} | {l4} | n/a (not run: {', '.join(b for b in refs if b not in runs)}) |")
        for name in sim.get(rate, {}):
            if name not in runs:
                continue
            lv, sm = runs[name], sim[rate][name]
            err.append(f"| {rate} | {name} | {lv['mean_e2el_ms'] / 1e3:.2f} / {sm['mean_e2el_ms'] / 1e3:.2f} | {pct(sm['mean_e2el_ms'], lv['mean_e2el_ms'])} | "
                       f"{lv['p99_e2el_ms'] / 1e3:.2f} / {sm['p99_e2el_ms'] / 1e3:.2f} | {pct(sm['p99_e2el_ms'], lv['p99_e2el_ms'])} | "
                       f"{lv['request_throughput']:.2f} / {sm['request_throughput']:.2f} | {pct(sm['request_throughput'], lv['request_throughput'])} | "
                       f"{lv['mean_tpot_ms']:.1f} / {sm['mean_tpot_ms']:.1f} |")
    lines += ["## L4 against the baselines (ratio L4 / baseline; < 1 is better for E2E, > 1 for throughput)", "",
              "| rate | L4 | baseline | mean E2E | p99 E2E | throughput | L4 migrations |", "|---|---|---|---|---|---|---|", *ratio, "",
              "Goal (issue #5): better than BOTH least_requests and static_ranges on mean AND p99 E2E.", "",
              "| rate | L4 | met |", "|---|---|---|", *goal, ""]
    if err:
        lines += ["## Simulator (fitted H100 model) vs live", "",
                  "Error = (sim - live) / live. Goal: |mean E2E| <= 10%, |p99 E2E| <= 20%, |throughput| <= 10%.", "",
                  "| rate | scheduler | mean E2E s live / sim | error | p99 E2E s live / sim | error | throughput live / sim | error | mean TPOT ms live / sim |",
                  "|---|---|---|---|---|---|---|---|---|", *err, ""]
    return "\n".join(lines)


def main() -> None:
    """Merge, then write report.md next to the merged summaries."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sim", type=Path, default=None)
    ap.add_argument("--title", default="2 vLLM instances")
    args = ap.parse_args()
    live = merge(args.live, args.out)
    if not live:
        raise SystemExit(f"{args.live}: no m_*/<job>/summary.json")
    sim = sim_runs(args.sim) if args.sim else {}
    text = report(live, sim, args.title)
    (args.out / "report.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
