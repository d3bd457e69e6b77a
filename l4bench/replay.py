"""Replay one workload through one cluster: per repeat, once per scheduler; write the run's results.

Config-free: the CLI builds the objects; this module only runs them and writes
``requests.parquet`` (every request of every run, with ``repeat`` and ``is_measured`` columns),
``summary.json``, ``comparison.csv``, ``timeline.json`` (the run's first repeat) and ``figures/``.
``summary.json`` is rewritten after every run, so a crash loses at most the run in progress.

Repeat r replays the requests drawn with ``repeat_seed(seed, r)`` (repeat 0: ``seed`` itself); a run
does repeats ``first_repeat`` .. ``first_repeat + repeats - 1``, so a later run (another session, another
run dir) can add repeats that ``l4bench.merge_runs`` then joins with the earlier ones;
every scheduler of a repeat gets the same requests (paired). Live engines run the schedulers of
each repeat in a seeded shuffled order, recorded in ``per_repeat[r].scheduler_order``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.metrics.ci import NUM_RESAMPLES
from l4bench.metrics.records import RunResult
from l4bench.metrics.window import MeasurementWindow
from l4bench.results_writer import ResultsWriter, write_json
from l4bench.types import Request

log = logging.getLogger("l4bench")

_ORDER_STREAM, _BOOTSTRAP_STREAM = 1, 2  # sub-streams of a repeat's seed


@dataclass
class ReplayPlan:
    """Everything one experiment run needs, as plain objects."""

    experiment: str
    requests: list[Request]  # repeat 0's requests
    make_engine: Callable[[], Any]  # -> object with run(requests, scheduler) -> RunResult
    schedulers: dict[str, Callable[..., Any]]  # name -> factory; called with seed= when it takes one
    out_dir: Path
    slo: dict[str, float | None]
    length_buckets_tokens: list[int]
    meta: dict[str, Any] = field(default_factory=dict)
    resolved_config: str = ""
    seed: int = 0
    repeats: int = 1
    first_repeat: int = 0  # run repeats first_repeat .. first_repeat + repeats - 1 (resume in another run dir)
    make_requests: Callable[[int], list[Request]] | None = None  # seed -> requests (repeats > 1)
    shuffle_order: bool = False  # shuffle the scheduler order per repeat (live engines)
    window: MeasurementWindow = field(default_factory=MeasurementWindow)
    bootstrap_resamples: int = NUM_RESAMPLES
    provenance: dict[str, Any] = field(default_factory=dict)  # engine, engine_version, attention_backend, gpu
    show_progress: bool = False


def repeat_seed(seed: int, repeat: int) -> int:
    """The arrival seed of a repeat: seed itself for repeat 0, else drawn from SeedSequence([seed, repeat])."""
    if repeat == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(repeat)]).generate_state(1)[0])


def scheduler_order(names: list[str], seed: int, shuffle: bool) -> list[str]:
    """The order a repeat runs its schedulers in: as configured, or a permutation seeded by seed."""
    if not shuffle:
        return list(names)
    perm = np.random.default_rng([int(seed), _ORDER_STREAM]).permutation(len(names))
    return [names[i] for i in perm]


def requests_sha256(requests: list[Request]) -> str:
    """Digest of (id, arrival, prompt, output) of every request: equal digests = the same replay."""
    h = hashlib.sha256()
    for r in requests:
        h.update(f"{r.request_id},{r.arrival_s:.9f},{r.prompt_tokens},{r.output_tokens};".encode())
    return h.hexdigest()


def _provenance(plan: ReplayPlan) -> dict[str, Any]:
    from l4bench.provenance import collect

    hints = plan.provenance
    return collect(
        plan.resolved_config,
        engine=str(hints.get("engine", plan.meta.get("engine", "unknown"))),
        engine_version=str(hints.get("engine_version", "unknown")),
        attention_backend=str(hints.get("attention_backend", "unknown")),
        gpu=hints.get("gpu"),
    )


def _make_scheduler(factory: Callable[..., Any], seed: int) -> Any:
    """Call a scheduler factory, passing the repeat's seed when the factory takes one."""
    try:
        takes_seed = "seed" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_seed = False
    return factory(seed=seed) if takes_seed else factory()


@dataclass
class Repeat:
    """One repeat's requests and the facts every scheduler run of it shares."""

    index: int
    seed: int
    requests: list[Request]
    measured: np.ndarray  # per request position
    position: dict[int, int]  # request_id -> position
    doc: dict[str, Any]  # its per_repeat entry


def _new_repeat(plan: ReplayPlan, r: int) -> Repeat:
    seed = repeat_seed(plan.seed, r)
    if r == 0 or plan.make_requests is None:
        requests = plan.requests
    else:
        requests = plan.make_requests(seed)
    arrivals = np.array([q.arrival_s for q in requests], dtype=np.float64)
    order = scheduler_order(list(plan.schedulers), seed, plan.shuffle_order)
    doc = {
        "repeat": r, "seed": seed, "num_requests": len(requests), "requests_sha256": requests_sha256(requests),
        "scheduler_order": order, "window": plan.window.describe(arrivals),
        "bootstrap_seed": [seed, _BOOTSTRAP_STREAM], "schedulers": {}, "failed_schedulers": {},
    }
    return Repeat(r, seed, requests, plan.window.measured(arrivals),
                   {q.request_id: i for i, q in enumerate(requests)}, doc)


def _run_one(engine: Any, name: str, plan: ReplayPlan, rep: Repeat) -> RunResult:
    scheduler = _make_scheduler(plan.schedulers[name], rep.seed)
    t0 = time.perf_counter()
    result: RunResult = engine.run(rep.requests, scheduler)
    result.scheduler = name
    for rec in result.records:
        rec.scheduler = name
    result.extra.setdefault("wall_s", time.perf_counter() - t0)
    return result


def replay_and_write(plan: ReplayPlan, engine: Any = None) -> Path:
    """Run every scheduler on the same requests, per repeat; write results; return the summary.json path.

    engine: an engine already made (e.g. a rate sweep sharing one live cluster); the caller closes it.
    Without one, plan.make_engine() makes it and it is closed here.
    """
    from tqdm import tqdm

    plan.out_dir.mkdir(parents=True, exist_ok=True)
    if plan.resolved_config:
        (plan.out_dir / "config_resolved.yaml").write_text(plan.resolved_config)
    writer = ResultsWriter(plan, _provenance(plan))
    owns_engine = engine is None
    engine = plan.make_engine() if owns_engine else engine
    bar = tqdm(total=plan.repeats * len(plan.schedulers), disable=not plan.show_progress, desc="runs", unit="run")
    last = plan.first_repeat + plan.repeats - 1
    try:
        for r in range(plan.first_repeat, last + 1):
            rep = _new_repeat(plan, r)
            writer.start_repeat(rep)
            for name in rep.doc["scheduler_order"]:
                bar.set_description(f"repeat {r - plan.first_repeat + 1}/{plan.repeats} {name}")
                log.info("[%s] repeat %d: replaying %d requests with scheduler %s",
                         plan.experiment, r, len(rep.requests), name)
                try:
                    result = _run_one(engine, name, plan, rep)
                except Exception as e:  # keep the other runs' results; say what failed
                    log.error("scheduler %s failed (repeat %d): %s", name, r, e)
                    writer.failed(rep, name, e)
                    bar.update()
                    continue
                s = writer.add(rep, result)
                bar.update()
                log.info(
                    "[%s] repeat %d %s: completed=%s failed=%s mean_e2el=%.0f ms p99_e2el=%.0f ms migrations=%s",
                    plan.experiment, r, name, s.get("completed"), s.get("failed"),
                    s.get("mean_e2el_ms") or 0.0, s.get("p99_e2el_ms") or 0.0, s.get("migrations"),
                )
            writer.refresh()
    finally:
        bar.close()
        if owns_engine:
            _close(engine)
        writer.close()
    if writer.doc["failed_schedulers"] and not writer.doc["schedulers"]:
        raise RuntimeError(f"every scheduler failed: {writer.doc['failed_schedulers']}")
    return plan.out_dir / "summary.json"




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
            write_json(path, doc)
    finally:
        _close(engine)
    return path
