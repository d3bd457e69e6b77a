"""Replay one workload through one cluster, once per scheduler, and write the run's results.

Config-free: the CLI builds the objects; this module only runs them and writes
``requests.parquet``, ``summary.json``, ``comparison.csv``, ``timeline.json`` and ``figures/``.
``summary.json`` is rewritten after every scheduler, so a crash loses at most the scheduler that
was running.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4bench import __version__
from l4bench.metrics.records import RunResult
from l4bench.types import Request

log = logging.getLogger("l4bench")


@dataclass
class ReplayPlan:
    """Everything one experiment run needs, as plain objects."""

    experiment: str
    requests: list[Request]
    make_engine: Callable[[], Any]  # -> object with run(requests, scheduler) -> RunResult
    schedulers: dict[str, Callable[[], Any]]  # name -> zero-arg factory
    out_dir: Path
    slo: dict[str, float | None]
    length_buckets_tokens: list[int]
    meta: dict[str, Any] = field(default_factory=dict)
    resolved_config: str = ""


def _environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    import numpy as np

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


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, allow_nan=False, default=str))
    tmp.replace(path)


def _run_one(engine: Any, name: str, plan: ReplayPlan) -> RunResult:
    scheduler = plan.schedulers[name]()
    t0 = time.perf_counter()
    result: RunResult = engine.run(plan.requests, scheduler)
    result.scheduler = name
    for rec in result.records:
        rec.scheduler = name
    result.extra.setdefault("wall_s", time.perf_counter() - t0)
    return result


def replay_and_write(plan: ReplayPlan, engine: Any = None) -> Path:
    """Run every scheduler on the same requests; write results; return the summary.json path.

    engine: an engine already made (a rate sweep shares one live cluster); the caller closes it.
    Without one, plan.make_engine() makes it and it is closed here.
    """
    from l4bench.metrics.frame import records_frame, write_requests_parquet
    from l4bench.metrics.slo import SloSpec
    from l4bench.metrics.summary import comparison_frame, summarize

    out = plan.out_dir
    out.mkdir(parents=True, exist_ok=True)
    if plan.resolved_config:
        (out / "config_resolved.yaml").write_text(plan.resolved_config)
    slo = SloSpec(**plan.slo)
    summary_path = out / "summary.json"
    doc: dict[str, Any] = {
        "experiment": plan.experiment,
        "meta": plan.meta,
        "environment": _environment(),
        "num_requests": len(plan.requests),
        "schedulers": {},
        "failed_schedulers": {},
    }
    results: list[RunResult] = []
    timelines: dict[str, Any] = {}
    owns_engine = engine is None
    engine = plan.make_engine() if owns_engine else engine
    try:
        for name in plan.schedulers:
            log.info("[%s] replaying %d requests with scheduler %s", plan.experiment, len(plan.requests), name)
            try:
                result = _run_one(engine, name, plan)
            except Exception as e:  # keep the other schedulers' results; say what failed
                log.error("scheduler %s failed: %s", name, e)
                doc["failed_schedulers"][name] = "".join(traceback.format_exception_only(type(e), e)).strip()
                _write_json(summary_path, doc)
                continue
            results.append(result)
            meta = {**plan.meta, **{k: v for k, v in result.extra.items() if _is_jsonable(v)}}
            doc["schedulers"][name] = summarize(result, slo, plan.length_buckets_tokens, meta)
            timelines[name] = result.timeline
            _write_json(summary_path, doc)
            s = doc["schedulers"][name]
            log.info(
                "[%s] %s: completed=%s failed=%s mean_e2el=%.0f ms p99_e2el=%.0f ms migrations=%s",
                plan.experiment, name, s.get("completed"), s.get("failed"),
                s.get("mean_e2el_ms") or 0.0, s.get("p99_e2el_ms") or 0.0, s.get("migrations"),
            )
    finally:
        if owns_engine:
            _close(engine)
    if results:
        df = records_frame(results)
        write_requests_parquet(df, out / "requests.parquet")
        comparison_frame(doc["schedulers"]).to_csv(out / "comparison.csv", index=False)
        _write_json(out / "timeline.json", timelines)
        _write_figures(df, doc["schedulers"], out / "figures", _title(plan.meta))
    if doc["failed_schedulers"] and not results:
        raise RuntimeError(f"every scheduler failed: {doc['failed_schedulers']}")
    return summary_path


def _close(engine: Any) -> None:
    close = getattr(engine, "close", None)
    if callable(close):
        close()


#: Headline metrics copied into sweep.json per (rate, scheduler).
SWEEP_KEYS = (
    "completed", "failed", "request_throughput", "mean_ttft_ms", "p99_ttft_ms", "mean_tpot_ms",
    "p99_tpot_ms", "mean_e2el_ms", "p99_e2el_ms", "request_goodput", "migrations",
)


def sweep_and_write(plans: dict[float, ReplayPlan], out_dir: Path) -> Path:
    """Replay one plan per arrival rate through ONE engine (a live cluster starts once, stops at the end).

    Each rate writes its own <out_dir>/rate_<r>/ (summary.json, ...); <out_dir>/sweep.json indexes them
    with the headline metrics per (rate, scheduler), rewritten after every rate. Returns its path.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    first = next(iter(plans.values()))
    doc: dict[str, Any] = {"experiment": first.experiment, "rates": list(plans), "points": {}}
    path = out_dir / "sweep.json"
    engine = first.make_engine()
    try:
        for rate, plan in plans.items():
            log.info("[%s] rate %g req/s (%d requests)", plan.experiment, rate, len(plan.requests))
            summary_path = replay_and_write(plan, engine)
            summ = json.loads(summary_path.read_text())
            doc["points"][f"{rate:g}"] = {
                "summary": str(summary_path.relative_to(out_dir)),
                "failed_schedulers": summ["failed_schedulers"],
                "schedulers": {
                    name: {k: s.get(k) for k in SWEEP_KEYS} for name, s in summ["schedulers"].items()
                },
            }
            _write_json(path, doc)
    finally:
        _close(engine)
    return path


def _write_figures(df: Any, summaries: dict[str, Any], fig_dir: Path, title: str) -> None:
    from l4bench.plotting.run_figures import write_run_figures

    fig_dir.mkdir(parents=True, exist_ok=True)
    try:
        write_run_figures(df, summaries, fig_dir, title)
    except Exception as e:  # a figure must never cost the run's numbers
        log.warning("figures not written: %s", e)


def _is_jsonable(v: Any) -> bool:
    try:
        json.dumps(v, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False
