"""Simulator behaviour on hand-checkable cases (ConstantPerfModel)."""

from __future__ import annotations

import pytest
from _stand_ins import MoveOnceStandIn, RoundRobinStandIn, simulate

from l4bench.l4.migration import RecomputeMigration
from l4bench.perf.constant import ConstantPerfModel
from l4bench.types import ClusterSpec, Request


def test_golden_three_requests() -> None:
    """Step = 0.1 s + 0.01 s per prefill token, budget 8 tokens, one instance.

    t=0.00 R0 (p4,o3) prefill 4          -> dt 0.14, ends 0.14: R0 token 1 (TTFT 0.14)
    t=0.14 R0 decode + R1 (p10) chunk 7  -> dt 0.17, ends 0.31: R0 token 2
    t=0.31 R0 decode + R1 last 3 + R2 3  -> dt 0.16, ends 0.47: R0 token 3 (done), R1 token 1, R2 token 1 (done)
    t=0.47 R1 decode                     -> dt 0.10, ends 0.57: R1 token 2 (done)
    """
    cluster = ClusterSpec(num_instances=1, max_model_len=1000, kv_capacity_tokens=1000, max_num_batched_tokens=8)
    perf = ConstantPerfModel(step_time_s=0.1, prefill_time_per_token_s=0.01)
    reqs = [Request(0, 0.0, 4, 3), Request(1, 0.05, 10, 2), Request(2, 0.25, 3, 1)]
    res = simulate(perf, cluster, reqs, RoundRobinStandIn(1))
    r0, r1, r2 = res.records
    assert r0.token_times_s == pytest.approx([0.14, 0.31, 0.47])
    assert r0.first_token_s - r0.arrival_s == pytest.approx(0.14) and r0.finish_s == pytest.approx(0.47)
    assert r1.first_token_s - r1.arrival_s == pytest.approx(0.42) and r1.finish_s - r1.arrival_s == pytest.approx(0.52)
    assert r2.first_token_s - r2.arrival_s == pytest.approx(0.22) and r2.finish_s == pytest.approx(0.47)
    assert [r.num_generated_tokens for r in res.records] == [3, 2, 1]
    assert all(r.instances == [0] and r.error is None and r.num_preemptions == 0 for r in res.records)
    assert res.duration_s == pytest.approx(0.57)
    assert res.extra["num_steps"] == 4


def test_chunked_prefill_respects_budget() -> None:
    """A 20-token prompt with an 8-token budget needs 3 prefill steps (8, 8, 4)."""
    cluster = ClusterSpec(1, 1000, 1000, max_num_batched_tokens=8)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, [Request(0, 0.0, 20, 2)], RoundRobinStandIn(1))
    assert res.records[0].token_times_s == pytest.approx([0.3, 0.4])


def test_max_num_seqs_limits_batch() -> None:
    """With 2 seats, the third request waits until one of the first two finishes."""
    cluster = ClusterSpec(1, 1000, 1000, max_num_seqs=2, max_num_batched_tokens=100)
    reqs = [Request(0, 0.0, 4, 2), Request(1, 0.0, 4, 5), Request(2, 0.0, 4, 1)]
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, reqs, RoundRobinStandIn(1))
    r0, r1, r2 = res.records
    assert r0.finish_s == pytest.approx(0.2)  # prefill step + one decode
    assert r2.first_token_s == pytest.approx(0.3)  # admitted at 0.2, prefilled by 0.3
    assert r1.finish_s == pytest.approx(0.5)


def test_preemption_under_tiny_kv() -> None:
    """Two requests that fit alone but not together: the later one is preempted and recomputed."""
    cluster = ClusterSpec(1, 1000, kv_capacity_tokens=64, max_num_batched_tokens=100)
    reqs = [Request(0, 0.0, 16, 40), Request(1, 0.0, 16, 40)]
    sched = RoundRobinStandIn(1)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, reqs, sched)
    r0, r1 = res.records
    assert r0.is_completed and r1.is_completed
    assert r0.num_preemptions == 0 and r1.num_preemptions >= 1 and r1.recomputed_tokens > 0
    assert len(r0.token_times_s) == 40 and len(r1.token_times_s) == 40
    assert r1.token_times_s == sorted(r1.token_times_s)
    assert sorted(sched.finished) == [(0, 40), (1, 40)]


def test_too_long_request_fails_without_hanging() -> None:
    """prompt + output over the KV capacity -> an error record; others still complete."""
    cluster = ClusterSpec(1, 1000, kv_capacity_tokens=64)
    reqs = [Request(0, 0.0, 60, 10), Request(1, 0.1, 8, 3)]
    sched = RoundRobinStandIn(1)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, reqs, sched)
    assert res.records[0].error is not None and not res.records[0].is_completed
    assert res.records[1].is_completed
    assert (0, 0) in sched.finished


def test_hop_accounting() -> None:
    """Bound at 10 tokens: prompt 5 generates 5 tokens on instance 0, hops to 1 after a 0.5 s stall."""
    cluster = ClusterSpec(2, 1000, 1000, max_num_batched_tokens=100)
    sched = RoundRobinStandIn(2, hop_at_tokens=10, hop_to=1)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, [Request(0, 0.0, 5, 10)], sched,
                   migration=RecomputeMigration(fixed_s=0.5))
    rec = res.records[0]
    assert rec.instances == [0, 1] and rec.num_hops == 1
    assert sched.bounds == [(0, 10, 0, pytest.approx(1.0))]  # on_bound is asked after the stall
    assert rec.recomputed_tokens == 10
    assert rec.stall_s == pytest.approx(0.5)
    # 5 tokens by 0.5 s; resumed at 1.0: prefill of 10 emits token 6 at 1.1, then 4 decodes
    assert rec.token_times_s == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 1.1, 1.2, 1.3, 1.4, 1.5])
    assert rec.num_generated_tokens == 10 and rec.is_completed


def test_rebalance_migration_and_timeline() -> None:
    """At t=0.35 both requests on instance 0 move to 1 (one running, one waiting); invalid moves ignored."""
    cluster = ClusterSpec(2, 1000, 1000, max_num_seqs=1, max_num_batched_tokens=100)
    sched = MoveOnceStandIn(2, interval_s=0.35)
    reqs = [Request(0, 0.0, 4, 10), Request(1, 0.0, 4, 3)]
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, reqs, sched, timeline_interval_s=0.25)
    r0, r1 = res.records
    assert r0.instances == [0, 1] and r1.instances == [0, 1]
    assert r0.recomputed_tokens == 8  # left after 4 tokens at 0.4 (end of the step in flight)
    assert r1.recomputed_tokens == 0  # never started on instance 0
    assert len(r0.token_times_s) == 10 and r0.is_completed and r1.is_completed
    first = sched.seen[0]
    assert first[0].num_running == 1 and first[0].num_waiting == 1
    assert [q.context_tokens for q in first[0].requests] == [7, 4]
    assert res.timeline[0]["t_s"] == 0.0 and "ticks" in res.timeline[0]
    assert res.timeline[1]["num_running"] == [1, 0] and res.timeline[1]["num_context_tokens"] == [6, 0]
