"""The router's bookkeeping: requests in flight per instance, health, polled loads -> InstanceViews."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from l4bench.engines.base import EngineLoad
from l4bench.live.endpoint import Endpoint
from l4bench.live.router_api import ParsedRequest
from l4bench.types import Decision, InstanceView, RequestView, RunningRequest


@dataclass(eq=False)
class Flight:
    """One client request while the router serves it (mutable, owned by its handler task)."""

    seq: int  # the scheduler's request id
    request_id: str  # the client's (X-Request-Id) or a generated one
    req: RequestView  # what the scheduler sees (the client's cap, never the engine's stop)
    parsed: ParsedRequest
    prompt_ids: list[int] | None
    arrival_s: float
    generated_ids: list[int] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    instance: int | None = None  # current hop's instance
    hop_prompt_tokens: int = 0  # prompt length of the current hop
    hop_at_tokens: int | None = None
    is_running: bool = False  # the current hop produced its first token
    instances: list[int] = field(default_factory=list)
    num_segments: int = 0  # backend requests made (hops incl. same-instance continuations and retries)
    recomputed_tokens: int = 0
    stall_s: float = 0.0
    hop_end_s: float | None = None
    hops: list[dict[str, Any]] = field(default_factory=list)  # one per instance change (hop_record)
    kv_params: dict[str, Any] | None = None  # the source's kv_transfer_params for the next segment
    pending_move: Decision | None = None  # set by rebalance: end this hop and continue there
    upstream: aiohttp.ClientResponse | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_status: int = 502

    @property
    def prompt_tokens(self) -> int:
        """Prompt length (exact once known, else the estimate the scheduler saw)."""
        return len(self.prompt_ids) if self.prompt_ids is not None else self.req.prompt_tokens

    @property
    def context_tokens(self) -> int:
        """Prompt plus tokens generated so far."""
        return self.prompt_tokens + len(self.generated_ids)

    def summary(self) -> dict[str, Any]:
        """The `l4bench` field of the final response / chunk."""
        return {
            "request_id": self.request_id,
            "instances": list(self.instances),
            "num_hops": max(0, len(self.instances) - 1),
            "num_segments": self.num_segments,
            "recomputed_tokens": self.recomputed_tokens,
            "stall_s": round(self.stall_s, 6),
            "hops": [dict(h) for h in self.hops],
            "prompt_tokens": self.prompt_tokens,
            "num_generated_tokens": len(self.generated_ids),
            "error": self.error,
        }


def hop_record(context_tokens: int, src: int, dst: int, mode: str) -> dict[str, Any]:
    """One hop of a flight: mode kv_transfer | recompute | recompute_fallback; stall set on its first token."""
    return {"at_tokens": context_tokens, "src": src, "dst": dst, "mode": mode,
            "kv_bytes_estimate": 0, "stall_s": None, "reason": ""}


@dataclass
class Counters:
    """Monotonic totals exported on /metrics."""

    requests: int = 0
    completed: int = 0
    failed: int = 0
    rejected: int = 0  # 4xx before routing
    disconnected: int = 0
    hops_bound: int = 0
    migrations: int = 0  # rebalance moves
    failovers: int = 0  # continuations after an instance failure
    recomputed_tokens: int = 0
    kv_hops: int = 0  # hops whose destination was sent the source's kv_transfer_params
    kv_fallbacks: int = 0  # KV-transfer hops that fell back to recompute
    kv_bytes_estimate: int = 0  # context tokens x KV bytes per token of the hops that pulled KV
    generated_tokens: int = 0
    token_events: int = 0  # engine chunks carrying tokens (one client SSE chunk each)
    poll_misses: int = 0  # load polls that timed out or could not be read
    routed_while_down: int = 0  # hops sent to a failed-down instance because none was healthy


class RouterState:
    """Flights by instance, health and polled engine loads of one router."""

    def __init__(self, endpoints: list[Endpoint], kv_capacity_tokens: int) -> None:
        self.endpoints = {e.instance_id: e for e in endpoints}
        self.order = [e.instance_id for e in endpoints]
        self.kv_capacity_tokens = kv_capacity_tokens
        self.flights: dict[int, Flight] = {}
        self.by_instance: dict[int, set[Flight]] = {i: set() for i in self.order}
        self.loads: dict[int, EngineLoad] = {}
        self.sticky_down: set[int] = set()  # mark_unhealthy(): until mark_healthy()
        self.failed_down: set[int] = set()  # seen failing: until a load poll succeeds
        self.poll_misses: dict[int, int] = {}  # consecutive slow/unreadable load polls per instance
        self.counters = Counters()
        self._seq = itertools.count()

    def next_seq(self) -> int:
        """A fresh scheduler request id."""
        return next(self._seq)

    def poll_succeeded(self, instance_id: int, load: EngineLoad) -> None:
        """A load poll answered: record the load; the instance is routable again."""
        self.poll_misses[instance_id] = 0
        self.loads[instance_id] = load
        self.failed_down.discard(instance_id)

    def poll_missed(self, instance_id: int, misses_to_down: int) -> None:
        """A load poll timed out or was unreadable: out of routing after misses_to_down in a row."""
        self.counters.poll_misses += 1
        misses = self.poll_misses.get(instance_id, 0) + 1
        self.poll_misses[instance_id] = misses
        if misses >= misses_to_down:
            self.failed_down.add(instance_id)

    def is_healthy(self, instance_id: int) -> bool:
        """Not marked down, neither by the operator nor by a failure."""
        return instance_id not in self.sticky_down and instance_id not in self.failed_down

    def healthy_ids(self) -> list[int]:
        """Instances that may take requests."""
        return [i for i in self.order if self.is_healthy(i)]

    def place(self, flight: Flight, instance_id: int, hop_prompt_tokens: int) -> None:
        """Put a flight's next hop on an instance (bookkeeping only)."""
        self.unplace(flight)
        flight.instance = instance_id
        flight.hop_prompt_tokens = hop_prompt_tokens
        flight.is_running = False
        self.by_instance[instance_id].add(flight)

    def unplace(self, flight: Flight) -> None:
        """Remove a flight from its instance."""
        if flight.instance is not None:
            self.by_instance[flight.instance].discard(flight)

    def least_loaded_routable(self) -> int | None:
        """The least loaded healthy instance; if none is, the least loaded one down only by failure.

        failed_down is evidence, not certainty: on a busy host a dropped load poll or one broken
        stream can mark every instance down at once. Refusing then turns a transient into errors,
        so the hop itself probes the least loaded such instance (a dead one fails fast, and the
        caller's retry bound still ends the request). Operator-marked (sticky) instances are never
        used; None only when every instance is one of those.
        """
        best = self.least_loaded_healthy()
        if best is not None:
            return best
        ids = [i for i in self.order if i not in self.sticky_down]
        if not ids:
            return None
        self.counters.routed_while_down += 1
        return min(ids, key=lambda i: (len(self.by_instance[i]), self.poll_misses.get(i, 0), i))

    def least_loaded_healthy(self, exclude: int | None = None) -> int | None:
        """The healthy instance with the fewest flights (fallback when a scheduler picks a down one)."""
        ids = [i for i in self.healthy_ids() if i != exclude] or self.healthy_ids()
        return min(ids, key=lambda i: (len(self.by_instance[i]), i)) if ids else None

    def view(self, instance_id: int, detail: bool) -> InstanceView:
        """The scheduler's view of one instance from the router's own bookkeeping plus its last load."""
        running = [f for f in self.by_instance[instance_id] if f.is_running]
        waiting = [f for f in self.by_instance[instance_id] if not f.is_running]
        contexts = [f.context_tokens for f in running]
        load = self.loads.get(instance_id)
        kv_used = sum(contexts)
        if load is not None:
            kv_used = max(kv_used, int(load.kv_usage_frac * self.kv_capacity_tokens))
        requests: tuple[RunningRequest, ...] = ()
        if detail:
            requests = tuple(
                RunningRequest(
                    f.seq, f.prompt_tokens, f.context_tokens, len(f.generated_ids), not f.is_running
                )
                for f in self.by_instance[instance_id]
            )
        return InstanceView(
            instance_id=instance_id,
            num_running=len(running),
            num_waiting=max(len(waiting), load.num_waiting if load is not None else 0),
            num_context_tokens=sum(contexts),
            num_waiting_tokens=sum(f.hop_prompt_tokens for f in waiting),
            max_context_tokens=max(contexts, default=0),
            min_context_tokens=min(contexts, default=0),
            kv_used_tokens=kv_used,
            kv_capacity_tokens=self.kv_capacity_tokens,
            is_healthy=self.is_healthy(instance_id),
            requests=requests,
        )

    def views(self, detail: bool = False) -> list[InstanceView]:
        """Views of every instance, in endpoint order."""
        return [self.view(i, detail) for i in self.order]
