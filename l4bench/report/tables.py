"""The registered README table generators; each reads committed files under results/ only.

Summaries may carry 95% confidence intervals (summary.json ``ci95.<metric>.low/high`` over
repeats, or ``<metric>_ci_low/_ci_high`` columns); cells of absolute values then read "x [lo, hi]".
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.report.blocks import register
from l4bench.report.l4_eval import collect, versus_best

MOONCAKE_SWEEPS = ("baselines", "high", "l4", "high_l4", "high_abl", "l4_round3")  # later wins
BIMODAL_SWEEPS = ("baselines", "l4", "l4_round3")
RATIO_COLS = [
    ("mean E2E", "mean_e2el_ms"), ("p99 E2E", "p99_e2el_ms"), ("mean TTFT", "mean_ttft_ms"),
    ("p99 TTFT", "p99_ttft_ms"), ("mean TPOT", "mean_tpot_ms"), ("p99 TPOT", "p99_tpot_ms"),
    ("throughput", "request_throughput"),
]


def sig3(v: float) -> str:
    """Three significant digits, trailing zeros kept (1.00, 0.951, 12.9)."""
    return "" if v != v else f"{v:#.3g}".rstrip(".")


def ci_bounds(s: dict[str, Any], key: str) -> tuple[Any, Any]:
    """(low, high) of key's 95% CI if the summary has one: ci95.<key>.low/high (summary.json over
    repeats), else bootstrap_ci95.<key> (one run's request bootstrap), or <key>_ci_low/_ci_high
    (comparison.csv rows), or <key>_ci_lo/_ci_hi."""
    for field in ("ci95", "bootstrap_ci95"):
        ci = (s.get(field) or {}).get(key) or {}
        if isinstance(ci, dict) and ci.get("low") is not None:
            return ci.get("low"), ci.get("high")
    for lo, hi in (("_ci_low", "_ci_high"), ("_ci_lo", "_ci_hi")):
        if s.get(key + lo) is not None:
            return s.get(key + lo), s.get(key + hi)
    return None, None


def cell(s: dict[str, Any], key: str, fmt: str, scale: float = 1.0) -> str:
    """A summary value, with its CI as "x [lo, hi]" when the summary has one."""
    v = s.get(key)
    if v is None:
        return ""
    text = format(float(v) * scale, fmt)
    lo, hi = ci_bounds(s, key)
    if lo is not None and hi is not None:
        text += f" [{format(float(lo) * scale, fmt)}, {format(float(hi) * scale, fmt)}]"
    return text


def ratio_cell(ci: dict[str, Any]) -> str:
    """A paired ratio from l4bench.metrics.ci.log_ratio_interval as "x [lo, hi]" (n/a when missing)."""
    if ci["mean"] is None:
        return "n/a"
    if ci["low"] is None:
        return f"{ci['mean']:.3f}"
    return f"{ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _load(x: float) -> str:
    return f"{x:g}"


# The l4_eval tables merge sweeps run by different builds on purpose (baselines once, L4 rounds later),
# so they read them with allow_mixed_commits=True; when the summaries do record different commits,
# the table gets a note under it naming them.
def _collect(sweeps: list[Path], key: str, notes: list[str]) -> pd.DataFrame:
    """collect() over sweeps that may come from different builds; a merge of several commits adds a note."""
    df = collect(sweeps, key, allow_mixed_commits=True)
    if df.attrs["mixed_commits"]:
        notes.append(df.attrs["mixed_commits"])
    return df


def _noted(markdown: str, notes: list[str]) -> str:
    """The table, then one note per distinct mix of commits it merged."""
    lines = [f"Note: merges sweeps of different commits (on purpose): {n}" for n in dict.fromkeys(notes)]
    return "\n\n".join([markdown, *lines])


def _vs_best(root: Path, workload: str, sweeps: tuple[str, ...], key: str, notes: list[str]) -> pd.DataFrame:
    base = root / "results" / "l4_eval" / workload
    return versus_best(_collect([base / s for s in sweeps], key, notes))


def _vs_best_table(vs: pd.DataFrame, load_name: str, with_slo: bool) -> str:
    header = [load_name, "best baseline", *(c for c, _ in RATIO_COLS)] + (["SLO L4 / best"] if with_slo else [])
    rows = []
    for _, r in vs.iterrows():
        row = [_load(r.load), str(r.best_baseline), *(sig3(r[f"ratio_{m}"]) for _, m in RATIO_COLS)]
        if with_slo:
            row.append(f"{r.l4_slo_attainment:.3f} / {r.best_slo_attainment:.3f}")
        rows.append(row)
    return table(header, rows)


@register("l4_eval_mooncake")
def l4_eval_mooncake(root: Path) -> str:
    """results/l4_eval: L4 / best baseline per Mooncake speedup (every metric, SLO attainment)."""
    notes: list[str] = []
    vs = _vs_best(root, "mooncake", MOONCAKE_SWEEPS, "arrival.speedup", notes)
    return _noted(_vs_best_table(vs, "speedup", True), notes)


@register("l4_eval_bimodal")
def l4_eval_bimodal(root: Path) -> str:
    """results/l4_eval: L4 / best baseline per bimodal arrival rate."""
    notes: list[str] = []
    return _noted(_vs_best_table(_vs_best(root, "bimodal", BIMODAL_SWEEPS, "arrival.rate", notes), "rate", False), notes)


@register("readme_l4_vs_best")
def readme_l4_vs_best(root: Path) -> str:
    """README: the headline loads of both l4_eval workloads, L4 / best baseline."""
    picks = [
        ("mooncake", MOONCAKE_SWEEPS, "arrival.speedup", 1, "Mooncake conversation x1 (3.4 req/s)"),
        ("mooncake", MOONCAKE_SWEEPS, "arrival.speedup", 3, "Mooncake x3"),
        ("mooncake", MOONCAKE_SWEEPS, "arrival.speedup", 5, "Mooncake x5"),
        ("mooncake", MOONCAKE_SWEEPS, "arrival.speedup", 6, "Mooncake x6 (edge of saturation)"),
        ("bimodal", BIMODAL_SWEEPS, "arrival.rate", 32, "bimodal 1k/64k, 32 req/s"),
        ("bimodal", BIMODAL_SWEEPS, "arrival.rate", 64, "bimodal 1k/64k, 64 req/s (overload)"),
    ]
    cache: dict[str, pd.DataFrame] = {}
    rows: list[list[str]] = []
    notes: list[str] = []
    for workload, sweeps, key, load, label in picks:
        if workload not in cache:
            cache[workload] = _vs_best(root, workload, sweeps, key, notes)
        vs = cache[workload]
        r = vs[vs.load == load].iloc[0]
        cols = ("mean_e2el_ms", "p99_e2el_ms", "mean_ttft_ms", "mean_tpot_ms")
        rows.append([label, str(r.best_baseline), *(sig3(r[f"ratio_{m}"]) for m in cols)])
    return _noted(table(["workload, load", "best baseline", "mean E2E", "p99 E2E", "mean TTFT", "mean TPOT"], rows), notes)


def _sweep_rows(sweep: Path, schedulers: list[str] | None = None) -> list[list[str]]:
    """Per job (by speedup) and scheduler: the paper8 columns."""
    rows = []
    docs = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/summary.json"))]
    for doc in sorted(docs, key=lambda d: float(d["meta"]["arrival"]["speedup"])):
        load = f"x{float(doc['meta']['arrival']['speedup']):g}"
        for name, s in doc["schedulers"].items():
            if schedulers is not None and name not in schedulers:
                continue
            rows.append([
                load, name, cell(s, "mean_e2el_ms", ".2f", 1e-3), cell(s, "p99_e2el_ms", ".2f", 1e-3),
                cell(s, "mean_ttft_ms", ".0f"), cell(s, "mean_tpot_ms", ".1f"),
                cell(s, "request_throughput", ".2f"), str(s.get("migrations", 0)),
            ])
    return rows


PAPER8_HEADER = [
    "load", "scheduler", "mean E2E (s)", "p99 E2E (s)", "mean TTFT (ms)", "mean TPOT (ms)",
    "throughput (req/s)", "migrations",
]


@register("paper8_sim")
def paper8_sim(root: Path) -> str:
    """results/paper8_sim: the simulator twin of the 8-GPU run, every scheduler."""
    return table(PAPER8_HEADER, _sweep_rows(root / "results" / "paper8_sim" / "sweep"))


@register("paper8_sim_round3")
def paper8_sim_round3(root: Path) -> str:
    """results/paper8_sim: round-3 L4 on the same sweep."""
    return table(PAPER8_HEADER, _sweep_rows(root / "results" / "paper8_sim" / "sweep_l4_round3", ["l4"]))


@register("bench_speed")
def bench_speed(root: Path) -> str:
    """README: speed benchmarks with committed results (results/bench/)."""
    bench = root / "results" / "bench"
    with (bench / "dp_solve_time.csv").open() as f:
        dp = next(r for r in csv.DictReader(f) if (r["num_bins"], r["num_instances"]) == ("64", "64"))
    router = json.loads((bench / "router_overhead_500rps.json").read_text())
    ours, peer = router["l4bench"], router["vllm-router"]
    rows = [
        ["L4 DP solve, 64 bins x 64 instances (dp_solve_time.csv)",
         f"{float(dp['solve_s']) * 1e3:.1f} ms (cost table: {float(dp['table_s']) * 1e3:.1f} ms)", "<= 10 ms"],
        ["router added E2E at 500 req/s vs a zero-cost backend, streamed, p50 / p99 (router_overhead_500rps.json)",
         f"{ours['added_e2e_p50_ms']:.2f} / {ours['added_e2e_p99_ms']:.2f} ms (vllm-router: "
         f"{peer['added_e2e_p50_ms']:.2f} / {peer['added_e2e_p99_ms']:.2f} ms)", "<= 1 / 3 ms"],
    ]
    return table(["benchmark", "result", "goal"], rows)


@register("main_job")
def main_job(root: Path) -> str:
    """README: the main job (longbench, 4 simulated H100s): L4 vs least_requests per rate."""
    docs = [json.loads(p.read_text()) for p in sorted((root / "results" / "main_job").glob("*/summary.json"))]
    rows = []
    for doc in sorted(docs, key=lambda d: float(d["meta"]["arrival"]["rate"])):
        s = doc["schedulers"]
        l4, lr = s["l4"], s["least_requests"]
        rows.append([
            f"{float(doc['meta']['arrival']['rate']):g}", cell(l4, "mean_e2el_ms", ".2f", 1e-3),
            cell(lr, "mean_e2el_ms", ".2f", 1e-3), sig3(l4["mean_e2el_ms"] / lr["mean_e2el_ms"]),
            sig3(l4["p99_e2el_ms"] / lr["p99_e2el_ms"]),
        ])
    return table(
        ["rate (req/s)", "L4 mean E2E (s)", "least_requests mean E2E (s)", "mean E2E L4 / least_requests",
         "p99 E2E L4 / least_requests"],
        rows,
    )


@register("l4_eval_seed1")
def l4_eval_seed1(root: Path) -> str:
    """results/l4_eval: the headline loads re-run with seed 1 (seed1/all, then seed1/l4 wins)."""
    base = root / "results" / "l4_eval"
    picks = [("mooncake", MOONCAKE_SWEEPS, "arrival.speedup", "Mooncake ×"), ("bimodal", BIMODAL_SWEEPS, "arrival.rate", "bimodal ")]
    rows: list[list[str]] = []
    notes: list[str] = []
    for workload, sweeps, key, label in picks:
        seed0 = _collect([base / workload / s for s in sweeps], key, notes)
        seed1 = _collect([base / workload / "seed1" / "all", base / workload / "seed1" / "l4"], key, notes)
        vs1 = versus_best(seed1)
        for _, r in vs1.iterrows():
            l4_0 = seed0[(seed0.load == r.load) & (seed0.scheduler == "l4")].mean_e2el_ms.iloc[0]
            unit = " req/s" if workload == "bimodal" else ""
            rows.append([
                f"{label}{r.load:g}{unit}", f"{l4_0 / 1e3:.2f} s / {r.l4_mean_e2el_ms / 1e3:.2f} s",
                f"{r.best_baseline} {r.best_mean_e2el_ms / 1e3:.2f} s",
                f"{sig3(r.ratio_mean_e2el_ms)}, {sig3(r.ratio_p99_e2el_ms)}",
            ])
    header = ["check", "L4 mean E2E (seed 0 / seed 1)", "best baseline, seed 1", "L4 / best, seed 1 (mean, p99)"]
    return _noted(table(header, rows), notes)


@register("l4_boundary_mooncake")
def l4_boundary_mooncake(root: Path) -> str:
    """results/l4_eval: L4 before (l4_round3, read true lengths) vs after the information boundary."""
    base = root / "results" / "l4_eval" / "mooncake"
    notes: list[str] = []
    before = _collect([base / "l4_round3"], "arrival.speedup", notes)
    after = _collect([base / "l4_boundary"], "arrival.speedup", notes)
    vs = versus_best(_collect([base / s for s in MOONCAKE_SWEEPS], "arrival.speedup", notes))
    rows = []
    for load in sorted(after.load.unique()):
        b = before[(before.load == load) & (before.scheduler == "l4")].iloc[0]
        a = after[(after.load == load) & (after.scheduler == "l4")].iloc[0]
        best = vs[vs.load == load].iloc[0]
        rows.append([
            f"x{load:g}", f"{b.mean_e2el_ms / 1e3:.3f} / {a.mean_e2el_ms / 1e3:.3f}",
            f"{b.p99_e2el_ms / 1e3:.3f} / {a.p99_e2el_ms / 1e3:.3f}", f"{b.migrations} / {a.migrations}",
            f"{best.best_baseline} {best.best_mean_e2el_ms / 1e3:.3f} / {best.best_p99_e2el_ms / 1e3:.3f}",
            f"{sig3(a.mean_e2el_ms / best.best_mean_e2el_ms)}, {sig3(a.p99_e2el_ms / best.best_p99_e2el_ms)}",
        ])
    header = ["speedup", "L4 mean E2E s, before / after", "L4 p99 E2E s, before / after",
              "L4 migrations, before / after", "best baseline, mean / p99 E2E s", "after / best (mean, p99)"]
    return _noted(table(header, rows), notes)
