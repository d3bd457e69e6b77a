"""Stand-ins for the L4 tests: a tiny linear perf model, views, clusters."""

from __future__ import annotations

import numpy as np

from l4bench.perf.base import BatchShape
from l4bench.types import ClusterSpec, InstanceView, RunningRequest

KV_CAPACITY = 400_000


class LinearPerfModel:
    """step = a + b * tokens + c * decode_context_sum + d * spread (spread = sum * (1 - mean / max))."""

    name = "linear"
    kv_capacity_tokens = KV_CAPACITY

    def __init__(self, a: float = 0.01, b: float = 2e-5, c: float = 5e-8, d: float = 5e-8):
        self.a, self.b, self.c, self.d = a, b, c, d

    def step_time_s(self, batch: BatchShape) -> float:
        """Linear in the aggregates."""
        spread = 0.0
        if batch.num_decodes and batch.decode_context_max:
            spread = batch.decode_context_sum * (
                1 - batch.decode_context_sum / batch.num_decodes / batch.decode_context_max
            )
        return self.a + self.b * batch.num_tokens + self.c * batch.decode_context_sum + self.d * spread


def cluster(n: int = 4, max_model_len: int = 32768) -> ClusterSpec:
    """A small cluster."""
    return ClusterSpec(num_instances=n, max_model_len=max_model_len, kv_capacity_tokens=KV_CAPACITY)


def view(
    iid: int, contexts: tuple[int, ...] = (), waiting: tuple[int, ...] = (), detail: bool = False
) -> InstanceView:
    """A consistent view from running contexts and waiting prompt lengths."""
    reqs: tuple[RunningRequest, ...] = ()
    if detail:
        reqs = tuple(
            RunningRequest(iid * 1000 + k, max(c - 5, 1), c, 5) for k, c in enumerate(contexts)
        ) + tuple(
            RunningRequest(iid * 1000 + 500 + k, w, w, 0, is_waiting=True) for k, w in enumerate(waiting)
        )
    return InstanceView(
        instance_id=iid,
        num_running=len(contexts),
        num_waiting=len(waiting),
        num_context_tokens=sum(contexts),
        num_waiting_tokens=sum(waiting),
        max_context_tokens=max(contexts, default=0),
        min_context_tokens=min(contexts, default=0),
        kv_used_tokens=sum(contexts),
        kv_capacity_tokens=KV_CAPACITY,
        requests=reqs,
    )


def idle_views(n: int) -> list[InstanceView]:
    """n idle instances."""
    return [view(i) for i in range(n)]


def rng(seed: int = 0) -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(seed)
