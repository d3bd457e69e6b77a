"""Least tokens: the healthy instance with the fewest resident + queued tokens."""

from __future__ import annotations

from collections.abc import Sequence

from l4bench.sched.base import BaseScheduler
from l4bench.sched.common import pick_min
from l4bench.types import Decision, InstanceView, RequestView


class LeastTokensScheduler(BaseScheduler):
    """Send each arrival to the instance with the fewest tokens (ties: lowest instance id)."""

    name = "least_tokens"

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Arg-min of num_tokens (context + waiting prompt tokens) over healthy instances."""
        return Decision(instance_id=pick_min(self.healthy(views), lambda v: v.num_tokens).instance_id)
