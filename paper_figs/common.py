"""Loading results/ for the paper figures: newest run of an experiment, sweeps as tidy frames.

Layout written by ``python -m l4bench`` (see l4bench/replay.py):
``results/<experiment>/<timestamp>/`` for a single run and ``results/<experiment>/multirun_<timestamp>/<n>/``
for a Hydra sweep, each holding summary.json (+ comparison.csv, timeline.json, requests.parquet).
Figures read only these files; nothing here runs an experiment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.l4.names import is_l4_ablation
from l4bench.plotting.style import order_schedulers
from l4bench.provenance import check_same_commit

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = REPO / "results"
DEFAULT_OUT = REPO / "paper_figs" / "out"
DOCS_FIGURES = REPO / "docs" / "figures"

#: Merge runs of different git commits into one figure (``python -m paper_figs --allow-mixed-commits``).
ALLOW_MIXED_COMMITS = False

#: Scalar fields of a summary.json scheduler entry copied into tidy frames (vLLM bench names).
METRICS: tuple[str, ...] = (
    "num_prompts", "completed", "failed", "duration", "request_throughput", "output_throughput",
    "total_token_throughput", "request_goodput", "num_good_requests",
    "mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms",
    "mean_tpot_ms", "median_tpot_ms", "p90_tpot_ms", "p99_tpot_ms",
    "mean_e2el_ms", "median_e2el_ms", "p90_e2el_ms", "p99_e2el_ms",
    "migrations", "migrated_requests", "recomputed_tokens", "stall_s_total", "num_preemptions",
    "batch_spread_mean",
)  # fmt: skip


class MissingDataError(LookupError):
    """A figure's input is absent; the message names the experiment (or command) that makes it."""


def _has_summary(d: Path) -> bool:
    return (d / "summary.json").is_file()


def single_runs(results: Path, experiment: str) -> list[Path]:
    """Run folders of an experiment's single (non-sweep) runs, oldest first."""
    base = Path(results) / experiment
    if not base.is_dir():
        return []
    return sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("multirun") and _has_summary(d))


def sweeps(results: Path, experiment: str) -> list[list[Path]]:
    """Every multirun of an experiment (oldest first), each as its job folders in job order."""
    base = Path(results) / experiment
    if not base.is_dir():
        return []
    out = []
    for sweep in sorted(d for d in base.iterdir() if d.is_dir() and d.name.startswith("multirun")):
        jobs = [d for d in sweep.iterdir() if d.is_dir() and _has_summary(d)]
        jobs.sort(key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
        if jobs:
            out.append(jobs)
    return out


def latest_run(results: Path, experiment: str, hint: str = "") -> Path:
    """The newest single run of an experiment (else the last job of its newest sweep)."""
    runs = single_runs(results, experiment)
    if runs:
        return runs[-1]
    sw = sweeps(results, experiment)
    if sw:
        return sw[-1][-1]
    raise MissingDataError(f"no results/{experiment}/ run; make it with: {hint or run_command(experiment)}")


def latest_sweep(results: Path, experiment: str, hint: str = "") -> list[Path]:
    """Job folders of the newest sweep of an experiment (else all of its single runs)."""
    sw = sweeps(results, experiment)
    if sw:
        return sw[-1]
    runs = single_runs(results, experiment)
    if runs:
        return runs
    raise MissingDataError(f"no results/{experiment}/ sweep; make it with: {hint or run_command(experiment, sweep=True)}")


def run_command(experiment: str, sweep: bool = False) -> str:
    """The command that produces an experiment's results."""
    return f"python -m l4bench {'-m ' if sweep else ''}+experiment={experiment}"


def load_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json of one run folder."""
    doc: dict[str, Any] = json.loads((Path(run_dir) / "summary.json").read_text())
    return doc


def load_timeline(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """timeline.json of one run folder ({} when absent)."""
    path = Path(run_dir) / "timeline.json"
    if not path.is_file():
        return {}
    doc: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
    return doc


def offered_rate(doc: dict[str, Any]) -> float:
    """Requests per second offered by the arrival process of a run (NaN if unknown).

    Poisson/gamma/constant: ``arrival.rate``. Trace replay: the replayed requests over the
    replayed span (trace span / speedup, cut at ``max_duration_s``).
    """
    meta = doc.get("meta", {})
    arrival = meta.get("arrival", {}) or {}
    if arrival.get("rate") is not None:
        return float(arrival["rate"])
    info = meta.get("workload_info", {}) or {}
    n = int(doc.get("num_requests") or info.get("num_requests") or 0)
    span_s = info.get("duration_s")
    if not span_s or n < 2:
        return float("nan")
    span_s = float(span_s) / float(arrival.get("speedup") or 1.0)
    if arrival.get("max_duration_s"):
        span_s = min(span_s, float(arrival["max_duration_s"]))
    return n / span_s if span_s > 0 else float("nan")


def tidy(run_dirs: list[Path]) -> pd.DataFrame:
    """One row per (run, scheduler): run facts (rate, instances, speedup) and scalar metrics.

    Raises l4bench.provenance.MixedCommitsError when the runs record different git commits
    (unless ALLOW_MIXED_COMMITS).
    """
    rows = []
    docs = [(d, load_summary(d)) for d in run_dirs]
    line = check_same_commit(((str(d), doc) for d, doc in docs), ALLOW_MIXED_COMMITS)
    if line.startswith("WARNING"):
        print(line)
    for d, doc in docs:
        meta = doc.get("meta", {})
        arrival = meta.get("arrival", {}) or {}
        base = {
            "run": str(d),
            "offered_rate": offered_rate(doc),
            "speedup": arrival.get("speedup"),
            "num_instances": meta.get("num_instances"),
            "num_requests": doc.get("num_requests"),
        }
        for name, s in doc.get("schedulers", {}).items():
            rows.append({**base, "scheduler": name, **{k: s.get(k) for k in METRICS}})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for col in ("offered_rate", "speedup", "num_instances", *METRICS):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def schedulers_in(df: pd.DataFrame, include_ablations: bool = True) -> list[str]:
    """Scheduler names present in a tidy frame, in the fixed figure order."""
    names = order_schedulers(df["scheduler"].unique()) if len(df) else []
    return [n for n in names if include_ablations or not is_l4_ablation(n)]


def pick_rate(df: pd.DataFrame) -> float:
    """The swept rate shown by single-rate figures: the middle one of the sweep."""
    rates = np.sort(df["offered_rate"].dropna().unique())
    if rates.size == 0:
        raise MissingDataError("no offered rate in the sweep's summaries")
    return float(rates[(rates.size - 1) // 2])


def run_at_rate(run_dirs: list[Path], rate: float) -> Path:
    """The sweep job whose offered rate is closest to ``rate``."""
    return min(run_dirs, key=lambda d: abs(offered_rate(load_summary(d)) - rate))


def source_text(doc: dict[str, Any], where: Path | str | None = None) -> str:
    """One line naming where a figure's data comes from: sim or live, GPUs, model, workload, path."""
    meta = doc.get("meta", {})
    engine = str(meta.get("engine", "?"))
    kind = f"sim ({meta.get('perf_model', '?')} perf model)" if "sim" in engine.lower() else f"live ({engine})"
    info = meta.get("workload_info", {}) or {}
    workload = str(meta.get("workload", "?"))
    if info.get("trace"):
        workload += f" {info['trace']}"
    parts = [kind, f"{meta.get('num_instances', '?')}x {str(meta.get('gpu', '?')).upper()}",
             str(meta.get("model", "?")), workload]
    if where is not None:
        parts.append(_rel(Path(where)))
    return "Data: " + " | ".join(parts)


def _rel(path: Path) -> str:
    """Path shown relative to its results/ folder (stable across clones)."""
    parts = path.resolve().parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("results", "results_fixture"):
            return "/".join(("results", *parts[i + 1 :]))
    return path.name


def rel(path: Path) -> str:
    """Public form of the results-relative path used in captions."""
    return _rel(Path(path))
