"""Keeps one run directory's results up to date: summary.json, comparison.csv, requests.parquet, figures.

Used by ``l4bench.replay``; the summary.json schema is described in ``l4bench/metrics/README.md``.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l4bench import __version__
from l4bench.metrics.records import RunResult

if TYPE_CHECKING:
    from l4bench.replay import Repeat, ReplayPlan

log = logging.getLogger("l4bench")

_LIGHT_COLUMNS = ["repeat", "scheduler", "request_id", "is_completed", "is_measured", "e2el_ms"]


def _environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    return {
        "l4bench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "hostname": platform.node(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _title(meta: dict[str, Any]) -> str:
    """Figure title naming the data source."""
    return f"{meta.get('engine', '?')} | {meta.get('num_instances', '?')}x {meta.get('gpu', '?')} | {meta.get('model', '?')} | {meta.get('workload', '?')}"


def write_json(path: Path, obj: Any) -> None:
    """Write obj as JSON (no NaN) via a temporary file, so a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, allow_nan=False, default=str))
    tmp.replace(path)


class ResultsWriter:
    """summary.json, comparison.csv and requests.parquet of one run directory, kept up to date."""

    def __init__(self, plan: ReplayPlan, provenance: dict[str, Any]):
        from l4bench.metrics.frame import RequestsParquetWriter

        self.plan = plan
        self.out = plan.out_dir
        self.parquet = RequestsParquetWriter(self.out / "requests.parquet")
        self.light: list[Any] = []  # per run: the columns the figures need
        self.timelines: dict[str, Any] = {}
        self.latencies: list[dict[str, np.ndarray]] = []  # per_repeat position -> scheduler -> per-request E2E ms
        self.position: dict[int, int] = {}  # repeat index -> its position in per_repeat (first_repeat may be > 0)
        self.doc: dict[str, Any] = {
            "experiment": plan.experiment, "meta": plan.meta, "environment": _environment(),
            "provenance": provenance, "num_requests": len(plan.requests),
            "repeats": {"count": plan.repeats, "first": plan.first_repeat, "seed": plan.seed,
                        "seed_rule": "repeat 0: seed; repeat r > 0: SeedSequence([seed, r]).generate_state(1)[0]",
                        "scheduler_order": "seeded shuffle per repeat" if plan.shuffle_order else "as configured"},
            "metrics_window": asdict(plan.window),
            "schedulers": {}, "per_repeat": [], "versus_best_baseline": {}, "versus_best_each_repeat": {},
            "failed_schedulers": {},
        }

    def start_repeat(self, rep: Repeat) -> None:
        """Add a repeat's entry; say so when its requests equal an earlier repeat's (no variation)."""
        same = [r["repeat"] for r in self.doc["per_repeat"] if r["requests_sha256"] == rep.doc["requests_sha256"]]
        if same:
            rep.doc["note"] = f"same requests as repeat {same[0]}: this workload/arrival ignores the seed"
            log.warning("repeat %d replays the same requests as repeat %d (the workload and arrivals ignore "
                        "the seed, e.g. a trace): its runs add no independent variation", rep.index, same[0])
        self.position[rep.index] = len(self.doc["per_repeat"])
        self.doc["per_repeat"].append(rep.doc)
        self.latencies.append({})
        self.doc["repeats"]["distinct_request_sets"] = len({r["requests_sha256"] for r in self.doc["per_repeat"]})

    def failed(self, rep: Repeat, name: str, e: BaseException) -> None:
        """Record a failed run and rewrite summary.json."""
        msg = "".join(traceback.format_exception_only(type(e), e)).strip()
        rep.doc["failed_schedulers"][name] = msg
        self.doc["failed_schedulers"].setdefault(name, f"repeat {rep.index}: {msg}")
        write_json(self.out / "summary.json", self.doc)

    def add(self, rep: Repeat, result: RunResult) -> dict[str, Any]:
        """Summarize one run, append its requests, refresh the headline entries; return its entry."""
        from l4bench.metrics.frame import records_frame
        from l4bench.metrics.repeats import bootstrap_ci95, per_request_latencies
        from l4bench.metrics.slo import SloSpec
        from l4bench.metrics.summary import summarize
        from l4bench.metrics.window import restrict

        plan, name = self.plan, result.scheduler
        measured_ids = {q.request_id for q, m in zip(rep.requests, rep.measured, strict=True) if m}
        extra = {k: v for k, v in result.extra.items() if _is_jsonable(v)}
        meta = {**plan.meta, **extra, "seed": rep.seed, "repeat": rep.index}
        entry = summarize(restrict(result, measured_ids), SloSpec(**plan.slo), plan.length_buckets_tokens, meta)
        entry["window"] = {k: rep.doc["window"][k] for k in ("excluded_warmup", "excluded_cooldown", "measured")}
        lat = per_request_latencies(result.records, rep.position, rep.measured)
        entry["bootstrap_ci95"] = bootstrap_ci95(lat, rep.doc["bootstrap_seed"], plan.bootstrap_resamples)
        rep.doc["schedulers"][name] = entry
        self.latencies[self.position[rep.index]][name] = lat["e2el_ms"]
        for key in ("engine", "engine_version"):
            if key in extra:
                self.doc["provenance"][key] = extra[key]
        df = records_frame([result])
        df.insert(0, "repeat", rep.index)
        df["is_measured"] = df["request_id"].map(lambda i: i in measured_ids).astype(bool)
        self.parquet.append(df)
        self.light.append(df[_LIGHT_COLUMNS])
        if self.position[rep.index] == 0:  # the run's first repeat
            self.timelines[name] = result.timeline
        self.refresh(only=name)
        return entry

    def refresh(self, only: str | None = None) -> None:
        """Recompute the headline entries (only one scheduler's, if given), the ratios to the best
        baseline and comparison.csv, and write summary.json."""
        from l4bench.metrics.repeats import aggregate, versus_best, versus_each_repeat_best
        from l4bench.metrics.summary import comparison_frame

        reps = [r["schedulers"] for r in self.doc["per_repeat"]]
        old = self.doc["schedulers"]
        names = [n for n in self.plan.schedulers if any(n in r for r in reps)]
        self.doc["schedulers"] = {
            n: aggregate([r[n] for r in reps if n in r]) if only in (None, n) or n not in old else old[n]
            for n in names
        }
        if self.doc["schedulers"]:  # after every run, so a sweep killed midway keeps its ratios so far
            boot = {"num_resamples": self.plan.bootstrap_resamples,
                    "seeds": [r["bootstrap_seed"] for r in self.doc["per_repeat"]]}
            self.doc["versus_best_baseline"] = versus_best(reps, self.doc["schedulers"], self.latencies, boot)
            self.doc["versus_best_each_repeat"] = versus_each_repeat_best(reps, list(self.doc["schedulers"]))
            comparison_frame(self.doc["schedulers"], self.doc["versus_best_baseline"],
                             self.doc["versus_best_each_repeat"]).to_csv(self.out / "comparison.csv", index=False)
        write_json(self.out / "summary.json", self.doc)

    def close(self) -> None:
        """Finish requests.parquet and write timeline.json and the figures."""
        import pandas as pd

        self.parquet.close()
        if not self.light:
            return
        write_json(self.out / "timeline.json", self.timelines)
        df = pd.concat(self.light, ignore_index=True)
        _write_figures(df[df["is_measured"]], self.doc, self.out / "figures", _title(self.plan.meta))


def _write_figures(df: Any, doc: dict[str, Any], fig_dir: Path, title: str) -> None:
    from l4bench.plotting.run_figures import write_run_figures

    fig_dir.mkdir(parents=True, exist_ok=True)
    try:
        write_run_figures(df, doc["schedulers"], fig_dir, title, doc.get("versus_best_baseline"))
    except Exception as e:  # a figure must never cost the run's numbers
        log.warning("figures not written: %s", e)


def _is_jsonable(v: Any) -> bool:
    try:
        json.dumps(v, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False
