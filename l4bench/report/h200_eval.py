"""Issue 15's 16-instance simulated evaluation per H200 attention backend (results/l4_eval/h200_<backend>).

Same layout and pairing as results/l4_eval/r4 (scripts/sim_eval.sh, l4bench.report.repeats_eval):
<backend>/<workload>/<load>/<scheduler>/summary.json with per-repeat entries. Besides L4 / best
baseline, the issue's goals name two fixed comparators, least_requests and the swept static split
(static_ranges), so the goals table gives L4's paired ratio to each, with the t-interval over repeats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.metrics.ci import log_ratio_interval
from l4bench.report import static_sweep
from l4bench.report.blocks import register
from l4bench.report.repeats_eval import collect, markdown_vs_best, schedulers_table, versus_best
from l4bench.report.tables import ratio_cell

BACKENDS = ("TRITON_ATTN", "FLASH_ATTN", "FLASH_ATTN_2")  # add a backend with its README (every generator must be used)
WORKLOADS = (("mooncake", "arrival.speedup", "Mooncake x{load}"), ("bimodal", "arrival.rate", "bimodal {load} req/s"))


def paired_ratio(df: pd.DataFrame, load: float, metric: str, name: str, other: str) -> dict[str, Any]:
    """Geometric mean over repeats of name/other on metric at load, with its 95% t-interval."""
    runs = df[df.load == load].pivot(index="repeat", columns="scheduler")[metric]
    if name not in runs or other not in runs:
        return {"mean": None, "low": None, "high": None, "n": 0}
    return log_ratio_interval((runs[name] / runs[other]).dropna().to_numpy())


def _s(v: float) -> str:
    return f"{v / 1e3:.2f}"


def goals_markdown(df: pd.DataFrame, label: str) -> str:
    """Per load: L4's paired ratios to least_requests and static_ranges (mean and p99 E2E)."""
    head = ["load", "L4 mean E2E s", "least_requests mean E2E s", "static_ranges mean E2E s",
            "L4 / least_requests mean", "L4 / static_ranges mean", "L4 / least_requests p99", "L4 / static_ranges p99"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    means = schedulers_table(df).set_index(["load", "scheduler"])
    for load in sorted(df.load.unique()):
        def mean_of(name: str, load: float = load) -> str:
            return _s(means.loc[(load, name), "mean_e2el_ms"]) if (load, name) in means.index else "n/a"
        cells = [label.format(load=f"{load:g}"), mean_of("l4"), mean_of("least_requests"), mean_of("static_ranges")]
        cells += [ratio_cell(paired_ratio(df, load, m, "l4", o)) for m in ("mean_e2el_ms", "p99_e2el_ms")
                  for o in ("least_requests", "static_ranges")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def schedulers_markdown(df: pd.DataFrame, label: str) -> str:
    """Per load and scheduler: mean over repeats [95% t-interval] of mean / p99 E2E, mean TTFT, TPOT, req/s."""
    t = schedulers_table(df)
    lines = ["| load | scheduler | mean E2E s | p99 E2E s | mean TTFT s | mean TPOT ms | req/s |", "|---|---|---|---|---|---|---|"]

    def ci(r: Any, m: str, scale: float) -> str:
        lo, hi = r[f"{m}_ci_lo"], r[f"{m}_ci_hi"]
        body = f"{r[m] / scale:.2f}"
        return body if lo is None or lo != lo else f"{body} [{lo / scale:.2f}, {hi / scale:.2f}]"

    for _, r in t.sort_values(["load", "mean_e2el_ms"]).iterrows():
        lines.append(f"| {label.format(load=f'{r.load:g}')} | {r.scheduler} | {ci(r, 'mean_e2el_ms', 1e3)} | "
                     f"{ci(r, 'p99_e2el_ms', 1e3)} | {ci(r, 'mean_ttft_ms', 1e3)} | {ci(r, 'mean_tpot_ms', 1.0)} | "
                     f"{r.request_throughput:.2f} |")
    return "\n".join(lines)


def moves_markdown(sweep: Path, key: str, label: str) -> str:
    """Per load and scheduler (means over repeats): what L4's moves cost, from the summaries.

    Migrations (hops and balancing moves), context tokens recomputed by them and by preemptions as a
    share of the input tokens, preemptions (KV full), peak concurrency and mean TPOT.
    """
    rows: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for path in sorted(sweep.rglob("summary.json")):
        doc = json.loads(path.read_text())
        load = float(doc["meta"]["arrival"][key.split(".", 1)[-1]])
        for rep in doc.get("per_repeat", []):
            for name, v in rep["schedulers"].items():
                rows.setdefault((load, name), []).append(v)
    head = ["load", "scheduler", "migrations", "recomputed tokens (% of input)", "preemptions",
            "peak concurrent requests", "mean TPOT ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (load, name), vs in sorted(rows.items()):
        def mean(k: str, vs: list[dict[str, Any]] = vs) -> float:
            return sum(float(v.get(k) or 0.0) for v in vs) / len(vs)
        share = 100.0 * mean("recomputed_tokens") / max(mean("total_input_tokens"), 1.0)
        lines.append(f"| {label.format(load=f'{load:g}')} | {name} | {mean('migrations'):.0f} | "
                     f"{mean('recomputed_tokens') / 1e6:.1f} M ({share:.0f}%) | {mean('num_preemptions'):.0f} | "
                     f"{mean('max_concurrent_requests'):.0f} | {mean('mean_tpot_ms'):.0f} |")
    return "\n".join(lines)


def render_backend(root: Path, backend: str) -> str:
    """The README body of results/l4_eval/h200_<backend>: per workload, the three tables."""
    base = root / "results" / "l4_eval" / f"h200_{backend}"
    parts = []
    for workload, key, label in WORKLOADS:
        if not (base / workload).is_dir():
            continue
        df = collect(base / workload, key)
        n = int(df.groupby(["load", "scheduler"]).size().min())
        parts += [f"**{workload}**, {n} paired repeats. L4 / best baseline (geometric mean of paired per-repeat "
                  "ratios [95% t-interval]; 'within noise' = the CI contains 1):",
                  markdown_vs_best(versus_best(df), label),
                  "L4 against the issue's two named comparators (paired ratios, same CI):",
                  goals_markdown(df, label),
                  "Every scheduler (mean over repeats [95% t-interval]):",
                  schedulers_markdown(df, label),
                  "What the moves cost (means over repeats; recomputed tokens count hops, balancing moves and "
                  "preemptions):",
                  moves_markdown(base / workload, key, label)]
    for sweep in sorted((base / "static_sweep").glob("*/")):
        parts += [f"static_ranges boundary sweep `static_sweep/{sweep.name}` (one repeat, seed 0; even split of "
                  "the 16 instances between the two ranges):", static_sweep.markdown(static_sweep.collect(sweep))]
    return "\n\n".join(parts) if parts else f"(no results under {base})"


for _backend in BACKENDS:
    register(f"l4_eval_h200_{_backend}")(lambda root, b=_backend: render_backend(root, b))
