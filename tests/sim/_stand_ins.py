"""Tiny local schedulers and request builders for simulator tests (no dependency on l4bench.sched)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from l4bench.metrics.records import RunResult
from l4bench.perf.base import PerfModel
from l4bench.sim.simulator import Simulator
from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, Request


class RoundRobinStandIn:
    """Round robin, optionally with a hop bound and a hop target."""

    name = "rr_test"
    rebalance_interval_s: float | None = None

    def __init__(self, num_instances: int, hop_at_tokens: int | None = None, hop_to: int | None = None):
        self.num_instances = num_instances
        self.hop_at_tokens = hop_at_tokens
        self.hop_to = hop_to
        self.next = 0
        self.bounds: list[tuple[int, int, int, float]] = []
        self.finished: list[tuple[int, int]] = []

    def route(self, req: Request, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Next instance, with the configured bound."""
        pick = self.next % self.num_instances
        self.next += 1
        return Decision(pick, self.hop_at_tokens)

    def on_bound(self, req: Request, ctx: int, src: int, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Hop to hop_to (or the next instance), no further bound."""
        self.bounds.append((req.request_id, ctx, src, now_s))
        dst = self.hop_to if self.hop_to is not None else (src + 1) % self.num_instances
        return Decision(dst)

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """No migrations."""
        return []

    def on_finish(self, req: Request, num_output_tokens: int, now_s: float) -> None:
        """Remember completions."""
        self.finished.append((req.request_id, num_output_tokens))


class MoveOnceStandIn(RoundRobinStandIn):
    """Everything to instance 0; at the first rebalance tick, move every request on 0 to 1."""

    name = "move_once_test"

    def __init__(self, num_instances: int, interval_s: float):
        super().__init__(num_instances)
        self.rebalance_interval_s = interval_s
        self.seen: list[list[InstanceView]] = []

    def route(self, req: Request, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Always instance 0."""
        return Decision(0)

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """First call: move all of instance 0's requests to 1 (plus an invalid move to be ignored)."""
        self.seen.append(list(views))
        if len(self.seen) > 1:
            return []
        moves = [Migration(r.request_id, 0, 1) for r in views[0].requests]
        return moves + [Migration(999, 0, 1), Migration(0, 1, 0)]

    def snapshot(self, now_s: float) -> dict[str, float]:
        """Timeline hook."""
        return {"ticks": float(len(self.seen))}


def random_requests(rng: np.random.Generator, n: int, rate: float, max_prompt: int, max_output: int) -> list[Request]:
    """Poisson arrivals with uniform lengths."""
    t = np.cumsum(rng.exponential(1.0 / rate, n))
    prompts = rng.integers(1, max_prompt, n)
    outputs = rng.integers(1, max_output, n)
    return [Request(i, float(t[i]), int(prompts[i]), int(outputs[i])) for i in range(n)]


def simulate(
    perf: PerfModel, cluster: ClusterSpec, requests: list[Request], sched: object, **kw: object
) -> RunResult:
    """One quiet run."""
    kw.setdefault("show_progress", False)
    sim = Simulator(perf, cluster, np.random.default_rng(0), **kw)  # type: ignore[arg-type]
    return sim.run(requests, sched)  # type: ignore[arg-type]
