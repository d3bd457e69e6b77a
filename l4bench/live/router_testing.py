"""In-process fakes for exercising the router: N fake backends + a router on loopback, test schedulers.

Used by tests/live/test_router*.py and benchmarks/bench_router.py; no engine needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from l4bench.engines.base import EngineAdapter
from l4bench.engines.vllm import VllmEngine
from l4bench.live.endpoint import Endpoint
from l4bench.live.fake_backend import FakeBackend, FakeBackendConfig
from l4bench.live.router import RouterConfig, RouterServer
from l4bench.sched.base import BaseScheduler
from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, RequestView


class CyclingTestScheduler(BaseScheduler):
    """Round robin over healthy instances; optional fixed hop stride (hop every `hop_every` tokens).

    Also records every call, so tests can check what the router asked.
    """

    name = "cycling_test"

    def __init__(
        self, cluster: ClusterSpec, hop_every: int | None = None, rebalance_interval_s: float | None = None
    ):
        super().__init__(cluster)
        self.hop_every = hop_every
        self.rebalance_interval_s = rebalance_interval_s
        self.calls: list[tuple[str, int, int]] = []  # (hook, request_id, instance or tokens)
        self.pending_migrations: list[Migration] = []
        self._next = 0

    def _decide(self, context_tokens: int, views: Sequence[InstanceView], exclude: int | None) -> Decision:
        ok = [v.instance_id for v in self.healthy(views)]
        for _ in range(len(ok)):
            inst = ok[self._next % len(ok)]
            self._next += 1
            if inst != exclude:
                break
        bound = None if self.hop_every is None else context_tokens + self.hop_every
        return Decision(inst, bound)

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Next instance in turn."""
        d = self._decide(req.prompt_tokens, views, None)
        self.calls.append(("route", req.request_id, d.instance_id))
        return d

    def on_bound(
        self,
        req: RequestView,
        context_tokens: int,
        src_instance: int,
        views: Sequence[InstanceView],
        now_s: float,
    ) -> Decision:
        """Next instance in turn, other than the source when possible."""
        d = self._decide(context_tokens, views, src_instance)
        self.calls.append(("on_bound", req.request_id, context_tokens))
        return d

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """Hand out migrations queued by the test."""
        out, self.pending_migrations = self.pending_migrations, []
        return out

    def on_finish(self, req: RequestView, num_output_tokens: int, now_s: float) -> None:
        """Record the finish."""
        self.calls.append(("on_finish", req.request_id, num_output_tokens))


@dataclass
class FakeCluster:
    """N in-process fake backends behind one RouterServer (async context manager)."""

    num_instances: int = 2
    backend: FakeBackendConfig = field(default_factory=FakeBackendConfig)
    backend_configs: list[FakeBackendConfig] | None = None  # per instance (overrides backend)
    router_overrides: dict[str, Any] = field(default_factory=dict)
    scheduler: BaseScheduler | None = None
    adapter: EngineAdapter = field(default_factory=VllmEngine)  # SglangEngine: the backends' /generate
    backends: list[FakeBackend] = field(default_factory=list)
    router: RouterServer | None = None
    url: str = ""

    async def __aenter__(self) -> FakeCluster:
        endpoints = []
        for i in range(self.num_instances):
            backend = FakeBackend(self.backend_configs[i] if self.backend_configs else self.backend)
            endpoints.append(Endpoint(i, await backend.start()))
            self.backends.append(backend)
        cluster = ClusterSpec(self.num_instances, self.backend.max_model_len, kv_capacity_tokens=100_000)
        if self.scheduler is None:
            self.scheduler = CyclingTestScheduler(cluster)
        config = RouterConfig(model_name=self.backend.model_name, max_model_len=self.backend.max_model_len)
        for key, value in self.router_overrides.items():
            setattr(config, key, value)
        self.router = RouterServer(endpoints, self.scheduler, self.adapter, config)
        self.url = await self.router.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.router is not None:
            await self.router.stop()
        for backend in self.backends:
            await backend.stop()
