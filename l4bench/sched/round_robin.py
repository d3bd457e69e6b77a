"""Round robin: cycle through instance ids, skipping unhealthy ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from l4bench.sched.base import BaseScheduler
from l4bench.types import ClusterSpec, Decision, InstanceView, RequestView

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel


class RoundRobinScheduler(BaseScheduler):
    """Send each arrival to the next healthy instance id after the previous pick (cyclic)."""

    name = "round_robin"

    def __init__(
        self, cluster: ClusterSpec, perf: PerfModel | None = None, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(cluster, perf, rng)
        self._next_id = 0  # the first instance id eligible for the next pick

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Pick the first healthy instance id >= the cursor, wrapping around."""
        ids = sorted(v.instance_id for v in self.healthy(views))
        pick = next((i for i in ids if i >= self._next_id), ids[0])
        self._next_id = pick + 1
        return Decision(instance_id=pick)
