"""The interface every global scheduler implements, in the simulator and behind the live router.

Life of a request, as the harness drives it:

1. ``route(req, views, now_s)`` on arrival -> Decision(instance, hop_at_tokens).
2. If the request's context reaches ``hop_at_tokens`` before it finishes, the harness stops it there
   and calls ``on_bound(req, context_tokens, src, views, now_s)`` -> the next Decision; the request
   continues on that instance with prompt + generated tokens (recomputed there; KV transfer is planned, issue 16).
3. Every ``rebalance_interval_s`` seconds (None: never) the harness calls
   ``rebalance(views, now_s)`` with per-request detail in the views and performs the Migrations.
4. ``on_finish(req, num_output_tokens, now_s)`` when the request completes (or fails).

Schedulers are built as ``cls(cluster=ClusterSpec, perf=PerfModel, rng=Generator, **yaml_params)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, RequestView

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel


@runtime_checkable
class GlobalScheduler(Protocol):
    """What the simulator and the live router call."""

    name: str
    rebalance_interval_s: float | None

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Pick the instance for a newly arrived request."""
        ...

    def on_bound(
        self, req: RequestView, context_tokens: int, src_instance: int, views: Sequence[InstanceView], now_s: float
    ) -> Decision:
        """Pick the next instance for a request whose context reached its hop bound."""
        ...

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """Periodic hook: requests to move between instances (may be empty)."""
        ...

    def on_finish(self, req: RequestView, num_output_tokens: int, now_s: float) -> None:
        """A request finished (or failed) after producing num_output_tokens."""
        ...


class BaseScheduler:
    """Defaults for dispatch-only policies: no hop bounds, no rebalancing, nothing to learn."""

    name = "base"
    rebalance_interval_s: float | None = None

    def __init__(self, cluster: ClusterSpec, perf: PerfModel | None = None, rng: np.random.Generator | None = None):
        self.cluster = cluster
        self.perf = perf
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Pick the instance for a newly arrived request."""
        raise NotImplementedError

    def on_bound(
        self, req: RequestView, context_tokens: int, src_instance: int, views: Sequence[InstanceView], now_s: float
    ) -> Decision:
        """Dispatch-only policies never set a bound; route again if one is hit anyway."""
        return self.route(req, views, now_s)

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """No migrations by default."""
        return []

    def on_finish(self, req: RequestView, num_output_tokens: int, now_s: float) -> None:
        """Nothing to learn by default."""

    @staticmethod
    def healthy(views: Sequence[InstanceView]) -> list[InstanceView]:
        """The views a request may be sent to (all of them if none reports healthy)."""
        ok = [v for v in views if v.is_healthy]
        return ok or list(views)
