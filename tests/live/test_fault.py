"""LiveRunner end to end on fake-backend processes: replay, hops, and killing an instance mid-replay."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from live_fakes import FakeEngine, FakeSglangEngine

from l4bench.live.procs import live_processes
from l4bench.live.router_testing import CyclingTestScheduler
from l4bench.live.runner import LiveRunner
from l4bench.metrics.records import RunResult
from l4bench.sched.round_robin import RoundRobinScheduler
from l4bench.types import ClusterSpec, Request

MODEL_DIR = Path(__file__).resolve().parents[2] / "l4bench" / "models" / "tiny-llama"
CLUSTER = ClusterSpec(num_instances=2, max_model_len=8192, kv_capacity_tokens=100_000)


def _runner(
    tmp_path: Path, token_delay_s: float, fault: dict | None = None, router: dict | None = None, **kw
) -> LiveRunner:
    return LiveRunner(
        CLUSTER,
        MODEL_DIR,
        "tiny-llama",
        tmp_path,
        FakeEngine(token_delay_s=token_delay_s),
        python=sys.executable,
        ready_timeout_s=30,
        request_timeout_s=30,
        show_progress=False,
        fault=fault,
        router=router,
        **kw,
    )


def _requests(n: int, spacing_s: float, out: int) -> list[Request]:
    return [Request(i, i * spacing_s, 64 + 37 * i, out) for i in range(n)]


def _check_complete(result: RunResult, reqs: list[Request]) -> None:
    assert [r.request_id for r in result.records] == [q.request_id for q in reqs]
    for q, r in zip(reqs, result.records, strict=True):
        assert r.is_completed, r.error
        assert r.num_generated_tokens == q.output_tokens == len(r.token_times_s)


def test_runner_replays_schedulers_on_one_cluster(tmp_path: Path) -> None:
    reqs = _requests(12, 0.02, 8)
    with _runner(tmp_path, 0.002) as runner:
        rr = runner.run(reqs, RoundRobinScheduler(CLUSTER))
        urls = runner.start()
        hop = runner.run(reqs, CyclingTestScheduler(CLUSTER, hop_every=3))
        assert runner.start() == urls  # the cluster stayed up across schedulers
    assert live_processes() == []
    _check_complete(rr, reqs)
    _check_complete(hop, reqs)
    assert sorted({r.instances[0] for r in rr.records}) == [0, 1] and all(r.num_hops == 0 for r in rr.records)
    assert all(r.num_hops >= 2 for r in hop.records) and all(r.recomputed_tokens > 0 for r in hop.records)
    assert rr.duration_s > 0 and rr.extra["launcher"] == "local" and len(rr.extra["instance_urls"]) == 2
    assert rr.extra["router"] == "l4bench" and rr.scheduler == "round_robin"


def test_runner_drives_sglang_engines_through_the_openai_router(tmp_path: Path) -> None:
    """SGLang-shaped engines: the load generator speaks OpenAI to l4bench's router, the router /generate."""
    reqs = _requests(8, 0.02, 8)
    runner = LiveRunner(
        CLUSTER,
        MODEL_DIR,
        "tiny-llama",
        tmp_path,
        FakeSglangEngine(token_delay_s=0.002),
        python=sys.executable,
        ready_timeout_s=30,
        request_timeout_s=30,
        show_progress=False,
    )
    with runner:
        result = runner.run(reqs, CyclingTestScheduler(CLUSTER, hop_every=3))
    _check_complete(result, reqs)
    assert all(r.num_hops >= 2 for r in result.records)


def test_killing_an_instance_loses_no_request(tmp_path: Path) -> None:
    """Kill instance 1 mid-replay: every in-flight request continues elsewhere or fails with a reason."""
    reqs = _requests(24, 0.04, 40)  # 40 tokens at 20 ms: each request streams for ~0.8 s
    with _runner(tmp_path, 0.02, fault={"instance": 1, "at_s": 0.6}) as runner:
        result = runner.run(reqs, RoundRobinScheduler(CLUSTER))
    assert live_processes() == []
    fault = result.extra["fault"]
    print("fault report:", fault)
    assert fault["lost"] == 0 and len(result.records) == len(reqs)
    assert fault["in_flight_at_kill"] >= 4
    assert fault["in_flight_completed"] + fault["in_flight_failed"] == fault["in_flight_at_kill"]
    assert fault["continued_after_hop"] >= 1  # recompute on the surviving instance
    assert all(r.error for r in result.records if not r.is_completed)
    assert sum(fault["failed_total_reasons"].values()) == fault["failed_total"]
    assert all(r.instances[-1] == 0 for r in result.records if r.is_completed and r.arrival_s > 0.8)


def test_without_retries_in_flight_requests_fail_with_a_reason(tmp_path: Path) -> None:
    """No continuation allowed: the requests on the killed instance end as error records, none is lost."""
    reqs = _requests(24, 0.04, 40)
    with _runner(tmp_path, 0.02, fault={"instance": 1, "at_s": 0.6}, router={"max_hop_retries": 0}) as runner:
        result = runner.run(reqs, RoundRobinScheduler(CLUSTER))
    fault = result.extra["fault"]
    print("fault report (no retries):", fault)
    assert fault["lost"] == 0 and fault["in_flight_failed"] >= 1 and fault["continued_after_hop"] == 0
    assert sum(fault["in_flight_failed_reasons"].values()) == fault["in_flight_failed"]
    failed = [r for r in result.records if not r.is_completed]
    assert failed and all(r.error and 1 in r.instances for r in failed)


@pytest.mark.parametrize("bad", [{"launcher": "k8s"}])
def test_bad_launcher_is_a_config_error(tmp_path: Path, bad: dict) -> None:
    from l4bench.errors import ConfigError

    with pytest.raises(ConfigError, match="engine.launcher"):
        LiveRunner(CLUSTER, MODEL_DIR, "tiny-llama", tmp_path, FakeEngine(), **bad)


class _Snapshotting(RoundRobinScheduler):
    """Round robin with a snapshot(), like L4's, that fails once (the run must not care)."""

    def __init__(self, cluster: ClusterSpec):
        super().__init__(cluster)
        self.calls: list[float] = []

    def snapshot(self, now_s: float) -> dict:
        self.calls.append(now_s)
        if len(self.calls) == 2:
            raise RuntimeError("snapshot broke")
        return {"t_s": now_s, "boundaries_tokens": [512, 8192], "calls": len(self.calls)}


def test_live_runs_record_the_schedulers_timeline(tmp_path: Path) -> None:
    reqs = _requests(12, 0.05, 8)
    with _runner(tmp_path, 0.002, timeline_interval_s=0.1) as runner:
        result = runner.run(reqs, _Snapshotting(CLUSTER))
        plain = runner.run(reqs, RoundRobinScheduler(CLUSTER))
    _check_complete(result, reqs)
    tl = result.timeline
    assert len(tl) >= 4 and tl[0]["t_s"] == 0.0 and tl[-1]["t_s"] < 10 and all(b["t_s"] > a["t_s"] for a, b in zip(tl, tl[1:], strict=False))
    assert tl[0]["boundaries_tokens"] == [512, 8192] and len(tl[0]["num_running"]) == 2
    assert "boundaries_tokens" not in tl[1] and tl[2]["calls"] == 3  # the failed one is skipped, the rest kept
    assert len(plain.timeline) >= 4 and set(plain.timeline[0]) == {"t_s", "num_running", "num_context_tokens"}
