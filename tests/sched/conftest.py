"""Fixtures for scheduler tests: hand-built InstanceView lists and requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from l4bench.types import ClusterSpec, InstanceView, Request, RunningRequest

CAPACITY_TOKENS = 100_000


def make_view(
    instance_id: int,
    *,
    running: tuple[int, ...] = (),
    waiting: tuple[int, ...] = (),
    is_healthy: bool = True,
    detail: bool = False,
    generated: int = 10,
    capacity: int = CAPACITY_TOKENS,
    first_request_id: int | None = None,
) -> InstanceView:
    """A consistent view: running contexts and waiting prompt lengths in tokens."""
    rid0 = instance_id * 1000 if first_request_id is None else first_request_id
    reqs: list[RunningRequest] = []
    if detail:
        reqs += [RunningRequest(rid0 + k, max(c - generated, 1), c, generated) for k, c in enumerate(running)]
        reqs += [
            RunningRequest(rid0 + len(running) + k, p, p, 0, is_waiting=True) for k, p in enumerate(waiting)
        ]
    return InstanceView(
        instance_id=instance_id,
        num_running=len(running),
        num_waiting=len(waiting),
        num_context_tokens=sum(running),
        num_waiting_tokens=sum(waiting),
        max_context_tokens=max(running, default=0),
        min_context_tokens=min(running, default=0),
        kv_used_tokens=sum(running),
        kv_capacity_tokens=capacity,
        is_healthy=is_healthy,
        requests=tuple(reqs),
    )


def make_request(request_id: int = 0, prompt_tokens: int = 1000, arrival_s: float = 0.0) -> Request:
    """A request with the given prompt length."""
    return Request(request_id=request_id, arrival_s=arrival_s, prompt_tokens=prompt_tokens, output_tokens=100)


def make_cluster(num_instances: int = 4) -> ClusterSpec:
    """A small cluster spec."""
    return ClusterSpec(num_instances=num_instances, max_model_len=131072, kv_capacity_tokens=CAPACITY_TOKENS)


@pytest.fixture
def mkview() -> Callable[..., InstanceView]:
    """Factory for InstanceView (see make_view)."""
    return make_view


@pytest.fixture
def mkreq() -> Callable[..., Request]:
    """Factory for Request (see make_request)."""
    return make_request


@pytest.fixture
def cluster4() -> ClusterSpec:
    """A 4-instance cluster."""
    return make_cluster(4)
