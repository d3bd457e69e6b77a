"""Discrete-event simulator of a multi-instance vLLM-v1-like cluster driven by a GlobalScheduler.

Events live on one heap keyed (t_s, priority, seq). At equal times arrivals come first (they see
instances before steps ending at that instant are applied), then step ends, then requests arriving
from a hop or migration, then rebalance and timeline ticks (these see every step ending at that
instant). Instances fast-forward stretches of pure-decode steps (see ``instance``); results are
identical to stepping one by one (``fast_forward=False``).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from l4bench.errors import ConfigError
from l4bench.l4.migration import MigrationCost, RecomputeMigration
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.perf.base import PerfModel
from l4bench.sched.base import GlobalScheduler
from l4bench.sim.contention import GpuContention, neighbour_load
from l4bench.sim.instance import SimInstance, SimRequest
from l4bench.sim.stepping import BLOCK_TOKENS, num_blocks
from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, Request

ARRIVAL, STEP, MOVE_IN, REBALANCE, TIMELINE = 0, 1, 2, 3, 4


class Simulator:
    """Replays requests through simulated instances; one ``run`` per scheduler, no state carried over.

    Args:
        perf: step-time model (also the source of nothing else: capacity comes from ``cluster``).
        cluster: instance count, max_num_seqs, max_num_batched_tokens, kv_capacity_tokens, max_model_len.
        rng: unused by the (deterministic) engine model; kept for interface symmetry.
        migration: how a hop or migration is charged (l4bench/l4/migration.py): recompute (the
            destination prefills the context; plus a fixed stall) or kv_transfer (the computed KV
            moves: stall fixed_s + bytes / bandwidth, the destination resumes where the source was).
        timeline_interval_s: period of timeline snapshots (None or <= 0: none).
        show_progress: tqdm bar over finished requests.
        fast_forward: plan pure-decode stretches in closed form (False: one step per event).
        gpu_contention: instances sharing a GPU slow each other by the neighbours' measured load
            instead of perf's flat gpu_share (l4bench/sim/contention.py); None: the flat factor.
    """

    def __init__(
        self,
        perf: PerfModel,
        cluster: ClusterSpec,
        rng: np.random.Generator | None = None,
        migration: MigrationCost | None = None,
        timeline_interval_s: float | None = 10.0,
        show_progress: bool = True,
        fast_forward: bool = True,
        gpu_contention: dict[str, Any] | None = None,
    ):
        if cluster.num_instances < 1:
            raise ConfigError(f"cluster.num_instances: {cluster.num_instances}; valid: >= 1")
        self.perf = perf
        self.cluster = cluster
        self.rng = rng
        self.migration: MigrationCost = migration if migration is not None else RecomputeMigration()
        self.timeline_interval_s = timeline_interval_s if timeline_interval_s and timeline_interval_s > 0 else None
        self.show_progress = show_progress
        self.fast_forward = fast_forward
        self.contention = GpuContention.from_config(
            dict(gpu_contention) if gpu_contention else None, float(getattr(perf, "gpu_share", 1.0))
        )

    def run(self, requests: Sequence[Request], scheduler: GlobalScheduler) -> RunResult:
        """Simulate all requests under one scheduler and return their raw records."""
        return _Run(self, requests, scheduler).execute()


class _Run:
    """State of one simulation run."""

    def __init__(self, sim: Simulator, requests: Sequence[Request], scheduler: GlobalScheduler):
        self.sim = sim
        self.sched = scheduler
        self.name = str(getattr(scheduler, "name", type(scheduler).__name__))
        self.requests = sorted(requests, key=lambda r: (r.arrival_s, r.request_id))
        self.instances = [
            SimInstance(i, sim.cluster, sim.perf, sim.fast_forward) for i in range(sim.cluster.num_instances)
        ]
        self.heap: list[tuple[float, int, int, Any, Any]] = []
        self.seq = 0
        self.active: dict[int, SimRequest] = {}
        self.records: list[RequestRecord] = []
        self.num_done = 0
        self.last_finish_s = 0.0
        self.timeline: list[dict[str, Any]] = []
        self.bar: Any = None

    def push(self, t_s: float, prio: int, a: Any = None, b: Any = None) -> None:
        """Schedule an event."""
        self.seq += 1
        heapq.heappush(self.heap, (t_s, prio, self.seq, a, b))

    def execute(self) -> RunResult:
        """Main loop: pop events until every request has finished or failed."""
        wall0 = time.perf_counter()
        n = len(self.requests)
        self.bar = tqdm(total=n, disable=not self.sim.show_progress, unit="req", desc=self.name, leave=False)
        if n:
            t0 = self.requests[0].arrival_s
            self.push(t0, ARRIVAL, 0)
            interval = getattr(self.sched, "rebalance_interval_s", None)
            if interval is not None and interval > 0:
                self.push(t0 + interval, REBALANCE, float(interval))
            if self.sim.timeline_interval_s is not None:
                self.push(t0, TIMELINE, self.sim.timeline_interval_s)
        handlers: dict[int, Callable[[float, Any, Any], None]] = {ARRIVAL: self.on_arrival, STEP: self.on_step, MOVE_IN: self.on_move_in,
                    REBALANCE: self.on_rebalance, TIMELINE: self.on_timeline}
        while self.heap and self.num_done < n:
            t_s, prio, _, a, b = heapq.heappop(self.heap)
            handlers[prio](t_s, a, b)
        self.bar.close()
        first = self.requests[0].arrival_s if n else 0.0
        self.records.sort(key=lambda r: r.request_id)
        return RunResult(
            scheduler=self.name,
            records=self.records,
            duration_s=max(0.0, self.last_finish_s - first) if n else 0.0,
            batch_spread=[inst.batch_spread for inst in self.instances],
            timeline=self.timeline,
            extra={
                "sim_wall_s": time.perf_counter() - wall0,
                "num_steps": sum(inst.num_steps for inst in self.instances),
                "fast_forward": self.sim.fast_forward,
                **({"gpu_contention": self.sim.contention.describe()} if self.sim.contention else {}),
                **_reads(self.sched),
            },
        )

    # ------------------------------------------------------------------ views
    def views(self, now_s: float, inclusive: bool, with_requests: bool = False) -> list[InstanceView]:
        """One InstanceView per instance at now."""
        return [inst.view(now_s, inclusive, with_requests) for inst in self.instances]

    def touch(self, inst: SimInstance, now_s: float, inclusive: bool) -> None:
        """Something changed on inst: end its stretch after the step in flight, or start it if idle."""
        if not inst.is_busy:
            inst.is_busy = True
            inst.version += 1
            self.push(now_s, STEP, inst, inst.version)
            return
        end_s = inst.truncate(now_s, inclusive)
        if end_s is not None:
            inst.version += 1
            self.push(end_s, STEP, inst, inst.version)

    # ------------------------------------------------------------------ handlers
    def on_arrival(self, now_s: float, idx: int, _: Any) -> None:
        """A new request: check it fits, route it, queue it."""
        if idx + 1 < len(self.requests):
            self.push(self.requests[idx + 1].arrival_s, ARRIVAL, idx + 1)
        req = self.requests[idx]
        rec = RequestRecord(req.request_id, self.name, req.arrival_s, req.prompt_tokens, req.output_tokens, req.tag)
        self.records.append(rec)
        total = req.prompt_tokens + req.output_tokens
        limit_blocks = self.sim.cluster.kv_capacity_tokens // BLOCK_TOKENS
        if req.output_tokens < 1 or req.prompt_tokens < 1:
            return self.fail(rec, req, now_s, "prompt_tokens and output_tokens must be >= 1")
        if total > self.sim.cluster.max_model_len or num_blocks(total) > limit_blocks:
            return self.fail(
                rec, req, now_s,
                f"prompt+output {total} tokens exceed max_model_len {self.sim.cluster.max_model_len} "
                f"or KV capacity {limit_blocks * BLOCK_TOKENS} tokens",
            )
        sreq = SimRequest(req, rec, context=req.prompt_tokens, view=req.view())
        self.active[req.request_id] = sreq
        decision = self.sched.route(sreq.view, self.views(now_s, inclusive=False), now_s)
        self.enqueue(sreq, decision, now_s, inclusive=False)

    def fail(self, rec: RequestRecord, req: Request, now_s: float, error: str) -> None:
        """Record a request that cannot be served."""
        rec.error = error
        self.num_done += 1
        self.bar.update(1)
        self.sched.on_finish(req.view(), 0, now_s)

    def enqueue(self, sreq: SimRequest, decision: Decision, now_s: float, inclusive: bool) -> None:
        """Put a request in an instance's waiting queue."""
        dst = decision.instance_id
        if not 0 <= dst < len(self.instances):
            raise ConfigError(f"scheduler {self.name}: instance_id {dst} out of range; valid: 0..{len(self.instances) - 1}")
        inst = self.instances[dst]
        sreq.instance = dst
        sreq.hop_at = decision.hop_at_tokens
        sreq.generated_here = 0
        sreq.computed, sreq.kv_moved = sreq.kv_moved, 0  # KV transfer: the moved KV is there already
        sreq.record.instances.append(dst)
        inst.waiting.append(sreq)
        self.touch(inst, now_s, inclusive)

    def on_step(self, now_s: float, inst: SimInstance, version: int) -> None:
        """A stretch ended (or an idle instance was kicked): book its tokens, then plan the next one."""
        if version != inst.version:
            return
        if inst.stretch is not None:
            for r in inst.apply():
                self.after_token(inst, r, now_s)
        for r in [r for r in inst.running if r.pending is not None]:
            mig, r.pending = r.pending, None
            inst.remove_running(r)
            self.depart(r, now_s, mig)
        if self.sim.contention is not None:  # this stretch's steps at the neighbours' load now
            inst.time_scale = self.scale_of(inst.instance_id)
        inst.stretch = inst.plan(now_s)
        if inst.stretch is None and inst.waiting:
            inst.stretch = inst.plan(now_s)  # everything was preempted: the next step admits again
        if inst.stretch is None:
            inst.is_busy = False
        else:
            inst.version += 1
            self.push(inst.stretch.ends[inst.stretch.num_steps - 1], STEP, inst, inst.version)
        if self.sim.contention is not None:
            self.contend(inst, now_s)

    def scale_of(self, instance_id: int) -> float:
        """Step-time multiplier of an instance at its GPU neighbours' current load."""
        c = self.sim.contention
        assert c is not None
        n = len(self.instances)
        return c.time_scale(neighbour_load([self.instances[k].stretch for k in c.neighbours(instance_id, n)
                                             if k != instance_id]))

    def contend(self, inst: SimInstance, now_s: float) -> None:
        """inst's load may have changed: rescale its GPU neighbours' steps (cut their stretches)."""
        c = self.sim.contention
        assert c is not None
        for j in c.neighbours(inst.instance_id, len(self.instances)):
            other = self.instances[j]
            if j == inst.instance_id:
                continue
            scale = self.scale_of(j)
            if scale != other.time_scale:
                other.time_scale = scale
                if other.is_busy:
                    self.touch(other, now_s, inclusive=True)

    def after_token(self, inst: SimInstance, r: SimRequest, now_s: float) -> None:
        """Finish or hop a request that just emitted a token."""
        if r.generated >= r.req.output_tokens:
            inst.remove_running(r)
            r.pending = None
            rec = r.record
            rec.finish_s = now_s
            rec.num_generated_tokens = r.generated
            del self.active[r.req.request_id]
            self.num_done += 1
            self.last_finish_s = max(self.last_finish_s, now_s)
            self.bar.update(1)
            self.sched.on_finish(r.view or r.req.view(), r.generated, now_s)
        elif r.hop_at is not None and r.context >= r.hop_at and r.generated_here >= 1:
            inst.remove_running(r)
            r.pending = None
            self.depart(r, now_s, None)

    def depart(self, r: SimRequest, now_s: float, mig: Migration | None) -> None:
        """Leave the current instance; arrive at the next after the stall (hop: on_bound decides)."""
        model = self.sim.migration
        moved = r.computed if model.recompute_fraction == 0.0 else 0  # KV transfer moves what is computed
        r.record.recomputed_tokens += (r.context if r.generated else r.computed) - moved
        r.record.num_generated_tokens = r.generated
        r.record.hop_modes.append(model.mode if moved else "recompute")
        r.record.hop_kv_bytes.append(model.bytes_moved(moved))
        src = r.instance
        r.instance = -1
        r.left_s = now_s
        r.computed, r.kv_moved = 0, moved
        self.push(now_s + model.stall_s(moved), MOVE_IN, r, (src, mig))

    def on_move_in(self, now_s: float, r: SimRequest, payload: tuple[int, Migration | None]) -> None:
        """A hopping or migrating request reaches its next instance."""
        src, mig = payload
        if mig is None:
            views = self.views(now_s, inclusive=True)
            decision = self.sched.on_bound(r.view or r.req.view(), r.context, src, views, now_s)
        else:
            decision = Decision(mig.dst_instance, mig.hop_at_tokens)
        self.enqueue(r, decision, now_s, inclusive=True)

    def on_rebalance(self, now_s: float, interval_s: float, _: Any) -> None:
        """Ask the scheduler for migrations and carry out the valid ones."""
        self.push(now_s + interval_s, REBALANCE, interval_s)
        migrations = self.sched.rebalance(self.views(now_s, inclusive=True, with_requests=True), now_s)
        for mig in migrations:
            r = self.active.get(mig.request_id)
            n = len(self.instances)
            if r is None or r.instance != mig.src_instance or not 0 <= mig.dst_instance < n:
                continue
            if mig.dst_instance == mig.src_instance or r.pending is not None:
                continue
            inst = self.instances[r.instance]
            if r in inst.waiting:
                inst.remove_waiting(r)
                self.depart(r, now_s, mig)
                self.touch(inst, now_s, inclusive=True)  # the queue head changed: admission may change
            else:
                r.pending = mig  # leaves at the end of the step in flight
                self.touch(inst, now_s, inclusive=True)

    def on_timeline(self, now_s: float, interval_s: float, _: Any) -> None:
        """Append a snapshot of the scheduler (if it offers one) and per-instance load."""
        self.push(now_s + interval_s, TIMELINE, interval_s)
        snap = getattr(self.sched, "snapshot", None)
        entry: dict[str, Any] = {"t_s": now_s, **(snap(now_s) if callable(snap) else {})}
        views = self.views(now_s, inclusive=True)
        entry["num_running"] = [v.num_running for v in views]
        entry["num_context_tokens"] = [v.num_context_tokens for v in views]
        self.timeline.append(entry)


def _reads(scheduler: Any) -> dict[str, Any]:
    """{'scheduler_reads': ...} when the scheduler says what it reads beyond prompt and arrival."""
    reads = getattr(scheduler, "reads", None)
    return {"scheduler_reads": reads()} if callable(reads) else {}
