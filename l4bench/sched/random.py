"""Random: a uniformly random healthy instance, drawn from the scheduler's own Generator."""

from __future__ import annotations

from collections.abc import Sequence

from l4bench.sched.base import BaseScheduler
from l4bench.types import Decision, InstanceView, RequestView


class RandomScheduler(BaseScheduler):
    """Send each arrival to a uniformly random healthy instance."""

    name = "random"

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Draw one healthy instance with self.rng."""
        ok = sorted(self.healthy(views), key=lambda v: v.instance_id)
        return Decision(instance_id=ok[int(self.rng.integers(len(ok)))].instance_id)
