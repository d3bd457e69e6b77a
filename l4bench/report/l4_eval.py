"""Per-load comparison of L4 against every baseline from a Hydra multirun sweep's summary.json files.

Usage: python scripts/l4_eval_report.py SWEEP_DIR [SWEEP_DIR ...] [--load-key arrival.speedup]
         [--out PREFIX] [--slo-fraction 0.9] [--allow-mixed-commits]

Runs of different git commits (summary.json provenance) are not merged unless --allow-mixed-commits;
one line on stderr says which commits were read.

Several sweep dirs (e.g. baselines and L4 run as separate sweeps of the same experiment) are merged
by load level; a (load, scheduler) pair found twice keeps the last dir's numbers.

Prints a markdown table (and writes PREFIX.csv / PREFIX.md): per load level and scheduler the mean
and p99 E2E, TTFT, TPOT, request throughput and SLO attainment; per load the best baseline (lowest
mean E2E among non-L4 schedulers) and L4's ratio to it on every metric; per scheduler the highest
load whose SLO attainment (requests meeting the run's `slo`: TTFT and TPOT bounds) is >= the fraction.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from l4bench.l4.names import is_l4_family
from l4bench.provenance import MixedCommitsError, check_same_commit, mixed_commits

METRICS = ["mean_e2el_ms", "p99_e2el_ms", "mean_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p99_tpot_ms"]


def markdown(df: pd.DataFrame) -> str:
    """A GitHub markdown table (no tabulate dependency); floats to 3 significant digits."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:.3g}"
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def load_value(summary: dict, key: str) -> float:
    """The swept arrival knob (speedup or rate) recorded in the summary's meta."""
    arrival = summary["meta"]["arrival"]
    return float(arrival[key.split(".", 1)[-1]])


def collect(sweeps: list[Path], key: str, allow_mixed_commits: bool = False) -> pd.DataFrame:
    """One row per (load, scheduler), over every sweep dir (of one git commit, unless allowed).

    MixedCommitsError when the summaries record different commits and allow_mixed_commits is False.
    The result's attrs: "commits" (check_same_commit's line), "mixed_commits" (None, or which were mixed).
    """
    rows = []
    paths = [p for sweep in sweeps for p in sorted(sweep.glob("*/summary.json"))]
    docs = [(str(p.parent), json.loads(p.read_text())) for p in paths]
    commits = check_same_commit(docs, allow_mixed_commits)
    for _, doc in docs:
        load = load_value(doc, key)
        for name, s in doc["schedulers"].items():
            done = max(int(s.get("completed") or 0), 1)
            row = {"load": load, "scheduler": name, **{m: s.get(m) for m in METRICS}}
            row["request_throughput"] = s.get("request_throughput")
            row["slo_attainment"] = float(s.get("num_good_requests") or 0) / done
            row["migrations"] = s.get("migrations")
            row["recomputed_tokens"] = s.get("recomputed_tokens")
            rows.append(row)
    df = pd.DataFrame(rows).drop_duplicates(["load", "scheduler"], keep="last")
    df = df.sort_values(["load", "scheduler"]).reset_index(drop=True)
    df.attrs.update(commits=commits, mixed_commits=mixed_commits(docs))
    return df


def _baselines_and_l4(g: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of one load level: the baselines, and L4 itself (ablations are neither)."""
    return g[~g.scheduler.map(is_l4_family)], g[g.scheduler == "l4"]


def versus_best(df: pd.DataFrame) -> pd.DataFrame:
    """Per load: the best baseline by mean E2E and L4's ratio to it on every metric."""
    out = []
    for load, g in df.groupby("load"):
        base, l4 = _baselines_and_l4(g)
        if base.empty or l4.empty:
            continue
        best = base.loc[base.mean_e2el_ms.idxmin()]
        row = {"load": load, "best_baseline": best.scheduler}
        for m in [*METRICS, "request_throughput", "slo_attainment"]:
            row[f"best_{m}"] = best[m]
            row[f"l4_{m}"] = float(l4[m].iloc[0])
            row[f"ratio_{m}"] = float(l4[m].iloc[0]) / best[m] if best[m] else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def versus_best_per_metric(df: pd.DataFrame) -> pd.DataFrame:
    """Per load: L4 / the best baseline on each metric separately (lowest latency, highest throughput)."""
    out = []
    for load, g in df.groupby("load"):
        base, l4 = _baselines_and_l4(g)
        if base.empty or l4.empty:
            continue
        row: dict[str, object] = {"load": load}
        for m in [*METRICS, "request_throughput"]:
            best = base[m].max() if m == "request_throughput" else base[m].min()
            row[f"ratio_{m}"] = float(l4[m].iloc[0]) / best if best else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def slo_capacity(df: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Per scheduler: highest load with SLO attainment >= fraction (every lower load meeting it too)."""
    out = []
    for name, g in df.groupby("scheduler"):
        best = None
        for _, r in g.sort_values("load").iterrows():
            if r.slo_attainment < fraction:
                break
            best = r.load
        out.append({"scheduler": name, "max_load_meeting_slo": best})
    return pd.DataFrame(out).sort_values("scheduler")


def main(argv: list[str] | None = None) -> None:
    """Entry point (scripts/l4_eval_report.py)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", type=Path, nargs="+")
    ap.add_argument("--load-key", default="arrival.speedup")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--slo-fraction", type=float, default=0.9)
    ap.add_argument("--allow-mixed-commits", action="store_true",
                    help="merge sweeps whose summaries record different git commits (refused by default)")
    a = ap.parse_args(argv)
    try:
        df = collect(a.sweep, a.load_key, a.allow_mixed_commits)
    except MixedCommitsError as e:
        raise SystemExit(f"error: {e}") from None
    print(df.attrs["commits"], file=sys.stderr)
    vs = versus_best(df)
    per_metric = versus_best_per_metric(df)
    cap = slo_capacity(df, a.slo_fraction)
    short = vs[["load", "best_baseline", *[f"ratio_{m}" for m in METRICS], "ratio_request_throughput",
                "l4_slo_attainment", "best_slo_attainment"]]
    text = "\n\n".join([
        f"## All schedulers ({a.load_key})\n\n" + markdown(df),
        "## L4 / best baseline (by mean E2E) per load\n\n" + markdown(short),
        "## L4 / best baseline on each metric separately (a different baseline may win each column)\n\n"
        + markdown(per_metric),
        f"## Highest {a.load_key} with SLO attainment >= {a.slo_fraction:.0%}\n\n" + markdown(cap),
    ])
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(a.out.with_suffix(".all.csv"), index=False)
        vs.to_csv(a.out.with_suffix(".vs_best.csv"), index=False)
        cap.to_csv(a.out.with_suffix(".slo_capacity.csv"), index=False)
        a.out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
