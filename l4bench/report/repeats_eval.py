"""L4 against the best baseline over repeated runs that were split into one job per scheduler.

scripts/sim_eval.sh runs every (workload, load, scheduler) as its own job with
``experiment.repeats=R``; repeat r of every job replays the same requests (the summaries'
``per_repeat[r].requests_sha256`` prove it, and :func:`collect` refuses runs where they differ).
Per load, the best baseline is the non-L4 scheduler with the lowest mean-over-repeats mean E2E; L4's
ratio to it on each metric is the geometric mean over repeats of the paired per-repeat ratios with
the t-interval of their logs (l4bench.metrics.ci.log_ratio_interval), and the per-repeat range
shows how much one seed could mislead.

Usage: python -m l4bench.report.repeats_eval DIR [--load-key arrival.speedup] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.l4.names import is_l4_family
from l4bench.metrics.ci import log_ratio_interval, t_interval
from l4bench.report.blocks import register

METRICS = ("mean_e2el_ms", "p99_e2el_ms", "mean_ttft_ms", "mean_tpot_ms", "request_throughput")


class PairingError(ValueError):
    """Runs that should replay the same requests in a repeat do not."""


def _load_value(doc: dict[str, Any], key: str) -> float:
    return float(doc["meta"]["arrival"][key.split(".", 1)[-1]])


def collect(root: Path, key: str) -> pd.DataFrame:
    """One row per (load, scheduler, repeat) from every summary.json under root (recursively)."""
    rows: list[dict[str, Any]] = []
    digests: dict[tuple[float, int], tuple[str, str]] = {}
    for path in sorted(root.rglob("summary.json")):
        doc = json.loads(path.read_text())
        load = _load_value(doc, key)
        commit = (doc.get("provenance") or {}).get("code_commit") or (doc.get("provenance") or {}).get("git_commit")
        for rep in doc.get("per_repeat", []):
            digest = rep["requests_sha256"]
            seen = digests.setdefault((load, rep["repeat"]), (digest, str(path)))
            if seen[0] != digest:
                raise PairingError(f"load {load:g} repeat {rep['repeat']}: {path} and {seen[1]} replay different requests")
            for name, s in rep["schedulers"].items():
                rows.append({"load": load, "scheduler": name, "repeat": rep["repeat"], "seed": rep["seed"],
                             "commit": commit, **{m: s.get(m) for m in METRICS}})
    if not rows:
        raise PairingError(f"no summary.json with per-repeat entries under {root}")
    return pd.DataFrame(rows).sort_values(["load", "scheduler", "repeat"]).reset_index(drop=True)


def schedulers_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (load, scheduler): each metric's mean over repeats with its 95% t-interval."""
    out = []
    for (load, name), g in df.groupby(["load", "scheduler"]):
        row: dict[str, Any] = {"load": load, "scheduler": name, "repeats": len(g)}
        for m in METRICS:
            ci = t_interval(g[m].to_numpy(dtype=float))
            row.update({m: ci["mean"], f"{m}_ci_lo": ci["low"], f"{m}_ci_hi": ci["high"]})
        out.append(row)
    return pd.DataFrame(out)


def versus_best(df: pd.DataFrame) -> pd.DataFrame:
    """Per load: the best baseline by mean E2E and L4's paired ratio to it on every metric."""
    means = schedulers_table(df)
    out = []
    for load, g in means.groupby("load"):
        base = g[~g.scheduler.map(is_l4_family)]
        if base.empty or not (g.scheduler == "l4").any():
            continue
        best = str(base.loc[base.mean_e2el_ms.idxmin()].scheduler)
        runs = df[df.load == load].pivot(index="repeat", columns="scheduler")
        row: dict[str, Any] = {"load": load, "best_baseline": best}
        for m in METRICS:
            ratios = (runs[m]["l4"] / runs[m][best]).dropna()
            ci = log_ratio_interval(ratios.to_numpy())
            row.update({f"ratio_{m}": ci["mean"], f"ratio_{m}_ci_lo": ci["low"], f"ratio_{m}_ci_hi": ci["high"],
                        f"ratio_{m}_min": float(ratios.min()), f"ratio_{m}_max": float(ratios.max())})
        row["repeats"] = int(len(runs))
        # the best baseline of each repeat on its own: a one-seed study would have picked these
        per_rep_best = runs["mean_e2el_ms"][[c for c in runs["mean_e2el_ms"].columns if not is_l4_family(c)]]
        row["best_per_repeat"] = ",".join(sorted(set(per_rep_best.idxmin(axis=1))))
        out.append(row)
    return pd.DataFrame(out)


def verdict(lo: float | None, hi: float | None, lower_is_better: bool = True) -> str:
    """'L4 better' / 'L4 worse' when the CI excludes 1, else 'within noise'."""
    if lo is None or hi is None:
        return "n/a"
    if hi < 1.0:
        return "L4 better" if lower_is_better else "L4 worse"
    if lo > 1.0:
        return "L4 worse" if lower_is_better else "L4 better"
    return "within noise"


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--load-key", default="arrival.speedup")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    try:
        df = collect(a.root, a.load_key)
    except PairingError as e:
        raise SystemExit(f"error: {e}") from None
    vs = versus_best(df)
    print(vs.to_string(index=False), file=sys.stdout)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        schedulers_table(df).to_csv(a.out.with_suffix(".schedulers.csv"), index=False)
        vs.to_csv(a.out.with_suffix(".vs_best.csv"), index=False)


if __name__ == "__main__":
    main()


def _ratio_cell(row: Any, m: str) -> str:
    lo, hi = row[f"ratio_{m}_ci_lo"], row[f"ratio_{m}_ci_hi"]
    return f"{row[f'ratio_{m}']:.3f} [{lo:.3f}, {hi:.3f}]"


def markdown_vs_best(vs: pd.DataFrame, label: str) -> str:  # label: format string of the load
    """The README table: L4 / best baseline per load with paired 95% CIs and what they say."""
    head = ["load", "best baseline (bests of single repeats)", "mean E2E", "", "p99 E2E", "", "mean TTFT",
            "mean TPOT", "throughput", "mean E2E, range over repeats"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in vs.iterrows():
        lines.append("| " + " | ".join([
            label.format(load=f"{r['load']:g}"), f"{r['best_baseline']} ({r['best_per_repeat']})",
            _ratio_cell(r, "mean_e2el_ms"), verdict(r["ratio_mean_e2el_ms_ci_lo"], r["ratio_mean_e2el_ms_ci_hi"]),
            _ratio_cell(r, "p99_e2el_ms"), verdict(r["ratio_p99_e2el_ms_ci_lo"], r["ratio_p99_e2el_ms_ci_hi"]),
            _ratio_cell(r, "mean_ttft_ms"), _ratio_cell(r, "mean_tpot_ms"), _ratio_cell(r, "request_throughput"),
            f"{r['ratio_mean_e2el_ms_min']:.3f} - {r['ratio_mean_e2el_ms_max']:.3f}",
        ]) + " |")
    return "\n".join(lines)


@register("l4_eval_repeats")
def render_l4_eval_repeats(root: Path) -> str:
    """README table of the repeated simulator evaluation (results/l4_eval/r4)."""
    base = root / "results" / "l4_eval" / "r4"
    moon = versus_best(collect(base / "mooncake", "arrival.speedup"))
    bim = versus_best(collect(base / "bimodal", "arrival.rate"))
    n = int(min(moon["repeats"].min(), bim["repeats"].min()))
    return (f"L4 / best baseline, geometric mean over {n} paired repeats [95% CI]; below 1 favours L4 "
            "(throughput: above 1 favours L4); 'within noise' = the CI contains 1. Mooncake replays the trace's "
            "own timestamps, so its repeats differ only in the schedulers' random draws (the CI measures that, "
            "not arrival variation); bimodal repeats draw new Poisson arrivals and lengths.\n\n"
            + markdown_vs_best(moon, "Mooncake x{load}") + "\n\n" + markdown_vs_best(bim, "bimodal {load} req/s"))
