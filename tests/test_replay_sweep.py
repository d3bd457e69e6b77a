"""sweep_and_write: one engine for every rate (a live cluster starts once and stops at the end)."""

from __future__ import annotations

import json
from pathlib import Path

from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.replay import ReplayPlan, sweep_and_write
from l4bench.types import Request


class CountingEngine:
    """Returns one finished record per request; counts how often it is run and closed."""

    def __init__(self) -> None:
        self.runs = 0
        self.closed = 0

    def run(self, requests: list[Request], scheduler: object) -> RunResult:
        self.runs += 1
        records = [
            RequestRecord(request_id=r.request_id, scheduler="x", arrival_s=r.arrival_s,
                          prompt_tokens=r.prompt_tokens, output_tokens=1, num_generated_tokens=1,
                          first_token_s=r.arrival_s + 0.1, token_times_s=[r.arrival_s + 0.1],
                          finish_s=r.arrival_s + 0.2, instances=[0])
            for r in requests
        ]
        return RunResult(scheduler="x", records=records, duration_s=1.0)

    def close(self) -> None:
        self.closed += 1


def test_one_engine_for_every_rate_closed_once(tmp_path: Path) -> None:
    engines: list[CountingEngine] = []

    def make() -> CountingEngine:
        engines.append(CountingEngine())
        return engines[-1]

    def plan(rate: float) -> ReplayPlan:
        reqs = [Request(i, i / rate, 100, 10) for i in range(5)]
        return ReplayPlan("t", reqs, make, {"a": object, "b": object}, tmp_path / f"rate_{rate:g}",
                          {"ttft_ms": None, "tpot_ms": None, "e2el_ms": None}, [0, 1000])

    path = sweep_and_write({1.0: plan(1.0), 2.0: plan(2.0)}, tmp_path)
    assert len(engines) == 1 and engines[0].runs == 4 and engines[0].closed == 1
    doc = json.loads(path.read_text())
    assert doc["rates"] == [1.0, 2.0]
    assert doc["points"]["2"]["schedulers"]["b"]["completed"] == 5
    assert (tmp_path / "rate_1" / "summary.json").is_file()
