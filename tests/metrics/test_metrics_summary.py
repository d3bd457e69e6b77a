"""summarize / comparison_frame on hand-built runs with known timings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.metrics.slo import SloSpec
from l4bench.metrics.summary import bucket_edges, comparison_frame, summarize

EDGES = [0, 2048, 8192]
META = {"engine": "sim", "num_instances": 2, "workload": "hand", "seed": 7}


def _rec(rid: int, arrival: float, prompt: int, times: list[float], **kw: object) -> RequestRecord:
    """A completed record whose tokens arrive at ``times`` (first = first token, last = finish)."""
    return RequestRecord(
        request_id=rid,
        scheduler="x",
        arrival_s=arrival,
        prompt_tokens=prompt,
        output_tokens=len(times),
        num_generated_tokens=len(times),
        first_token_s=times[0],
        finish_s=times[-1],
        token_times_s=list(times),
        **kw,  # type: ignore[arg-type]
    )


def hand_run(name: str = "rr") -> RunResult:
    """3 completed, 1 failed with an error, 1 unfinished; duration 10 s."""
    records = [
        _rec(0, 0.0, 100, [0.5, 0.6, 0.8], instances=[0]),  # ttft 500, e2el 800, tpot 150, itl 100,200
        _rec(1, 1.0, 3000, [2.0, 2.4], instances=[0, 1], recomputed_tokens=50, stall_s=0.1),  # 1000,1400,400
        _rec(2, 2.0, 10000, [3.0], instances=[1], num_preemptions=2),  # ttft 1000, e2el 1000, no tpot
        RequestRecord(3, "x", 3.0, 500, 4, num_generated_tokens=1, first_token_s=3.5, error="timeout"),
        RequestRecord(4, "x", 4.0, 600, 4),
    ]
    return RunResult(scheduler=name, records=records, duration_s=10.0, batch_spread=[2.0, 4.0, float("nan")])


def test_counts_and_throughputs() -> None:
    s = summarize(hand_run(), SloSpec(), EDGES, META)
    assert (s["completed"], s["failed"], s["num_prompts"]) == (3, 2, 5)
    assert s["duration"] == 10.0
    assert s["total_input_tokens"] == 13100 and s["total_output_tokens"] == 6
    assert s["request_throughput"] == pytest.approx(0.3)
    assert s["output_throughput"] == pytest.approx(0.6)
    assert s["total_token_throughput"] == pytest.approx(1310.6)
    assert s["request_goodput"] is None and s["num_good_requests"] is None  # no SLO set
    assert s["errors"] == {"timeout": 1, "unfinished": 1}
    assert s["max_output_tokens_per_s"] == 3.0 and s["max_concurrent_requests"] == 2


def test_latency_stats_exact() -> None:
    s = summarize(hand_run(), SloSpec(), EDGES, META)
    # failed request 3 (ttft 500 ms) must not enter the TTFT stats
    assert s["mean_ttft_ms"] == pytest.approx(2500 / 3)
    assert s["median_ttft_ms"] == pytest.approx(1000)
    assert s["p99_ttft_ms"] == pytest.approx(1000)
    assert s["mean_e2el_ms"] == pytest.approx(3200 / 3)
    assert s["median_e2el_ms"] == pytest.approx(1000)
    assert s["p90_e2el_ms"] == pytest.approx(1320)  # linear interpolation on [800, 1000, 1400]
    assert s["p99_e2el_ms"] == pytest.approx(1392)
    assert s["std_e2el_ms"] == pytest.approx(np.std([800, 1400, 1000]))
    assert s["mean_tpot_ms"] == pytest.approx(275)  # [150, 400]; 1-token request excluded
    assert s["p99_tpot_ms"] == pytest.approx(397.5)
    assert s["mean_itl_ms"] == pytest.approx(700 / 3)  # [100, 200, 400]
    assert s["median_itl_ms"] == pytest.approx(200)
    assert s["p90_itl_ms"] == pytest.approx(360)


@pytest.mark.parametrize(
    ("slo", "good"),
    [
        (SloSpec(ttft_ms=900), 1),
        (SloSpec(tpot_ms=200), 2),  # the 1-token request counts as TPOT 0 (vLLM)
        (SloSpec(ttft_ms=1000, tpot_ms=200), 2),
        (SloSpec(e2el_ms=1000), 2),
        (SloSpec(ttft_ms=1e9, tpot_ms=1e9, e2el_ms=1e9), 3),  # failed requests are never good
    ],
)
def test_goodput(slo: SloSpec, good: int) -> None:
    s = summarize(hand_run(), slo, EDGES, META)
    assert s["num_good_requests"] == good
    assert s["request_goodput"] == pytest.approx(good / 10.0)
    assert s["slo"] == slo.to_dict()


def test_accounting_meta_and_spread() -> None:
    s = summarize(hand_run("l4"), SloSpec(), EDGES, META)
    assert s["scheduler"] == "l4"
    assert {k: s[k] for k in META} == META
    assert (s["migrations"], s["migrated_requests"], s["recomputed_tokens"]) == (1, 1, 50)
    assert s["stall_s_total"] == pytest.approx(0.1) and s["num_preemptions"] == 2
    assert s["batch_spread_per_instance"] == [2.0, 4.0, None]
    assert s["batch_spread_mean"] == pytest.approx(3.0)


def test_per_bucket_assignment() -> None:
    s = summarize(hand_run(), SloSpec(), EDGES, META)
    buckets = {b["bucket"]: b for b in s["per_bucket"]}
    assert list(buckets) == ["[0,2048)", "[2048,8192)", "[8192,inf)"]
    assert [b["count"] for b in s["per_bucket"]] == [1, 1, 1]
    assert buckets["[0,2048)"]["failed"] == 2
    assert buckets["[0,2048)"]["mean_e2el_ms"] == pytest.approx(800)
    assert buckets["[2048,8192)"]["mean_tpot_ms"] == pytest.approx(400)
    assert buckets["[8192,inf)"]["mean_tpot_ms"] is None  # 1-token request has no TPOT
    assert buckets["[8192,inf)"]["mean_ttft_ms"] == pytest.approx(1000)


def test_bucket_edges_rules() -> None:
    assert bucket_edges([2048, 8192], 100) == [(0, 2048.0), (2048, 8192.0)]
    assert bucket_edges([0, 2048], 2048) == [(0, 2048.0), (2048, math.inf)]


def test_json_round_trip_no_nan() -> None:
    for run in (hand_run(), RunResult("empty", [], 0.0)):
        s = summarize(run, SloSpec(ttft_ms=1000), EDGES, {**META, "x": float("nan"), "arr": np.arange(2)})
        text = json.dumps(s, allow_nan=False)
        assert json.loads(text) == s
    empty = summarize(RunResult("empty", [], 0.0), SloSpec(ttft_ms=1000), EDGES, META)
    assert empty["completed"] == 0 and empty["mean_e2el_ms"] is None and empty["request_throughput"] is None


def test_slo_validation() -> None:
    assert not SloSpec().is_set and SloSpec(e2el_ms=5).is_set
    for bad in (dict(ttft_ms=0), dict(tpot_ms=-1.0), dict(e2el_ms=float("inf")), dict(ttft_ms="5")):
        with pytest.raises(ConfigError, match="slo"):
            SloSpec(**bad)  # type: ignore[arg-type]


def test_comparison_frame() -> None:
    sums = {n: summarize(hand_run(n), SloSpec(ttft_ms=900), EDGES, META) for n in ("l4", "rr")}
    sums["l4"]["mean_e2el_ms"] = 500.0
    sums["least_tokens"] = {**sums["rr"], "scheduler": "least_tokens", "mean_e2el_ms": 2000.0}
    df = comparison_frame(sums)
    assert list(df["scheduler"]) == ["l4", "rr", "least_tokens"]
    assert {"completed", "request_goodput", "p99_e2el_ms", "migrations", "batch_spread_mean"} <= set(
        df.columns
    )
    best = sums["rr"]["mean_e2el_ms"]
    assert df["mean_e2el_vs_best"].tolist() == pytest.approx([500 / best, 1.0, 2000 / best])
    assert df["request_goodput"].tolist() == pytest.approx([0.1, 0.1, 0.1])
