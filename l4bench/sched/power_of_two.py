"""Power of two choices: sample two distinct healthy instances, keep the less loaded one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from l4bench.sched.base import BaseScheduler
from l4bench.sched.common import check_choice, pick_min, requests_then_tokens, tokens_then_requests
from l4bench.types import ClusterSpec, Decision, InstanceView, RequestView

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel

LOADS = ("tokens", "requests")


class PowerOfTwoScheduler(BaseScheduler):
    """Mitzenmacher's two random choices, with tokens (or requests) as the load.

    Args:
        load: "tokens" compares num_tokens (ties: fewer requests); "requests" compares
            num_requests (ties: fewer tokens). Remaining ties go to the lower instance id.
    """

    name = "power_of_two"

    def __init__(
        self,
        cluster: ClusterSpec,
        perf: PerfModel | None = None,
        rng: np.random.Generator | None = None,
        load: str = "tokens",
    ) -> None:
        super().__init__(cluster, perf, rng)
        check_choice(self.name, "load", load, LOADS)
        self.load = load
        self._key = tokens_then_requests if load == "tokens" else requests_then_tokens

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Sample two distinct healthy instances with self.rng; return the less loaded."""
        ok = sorted(self.healthy(views), key=lambda v: v.instance_id)
        if len(ok) == 1:
            return Decision(instance_id=ok[0].instance_id)
        i, j = self.rng.choice(len(ok), size=2, replace=False)
        return Decision(instance_id=pick_min([ok[int(i)], ok[int(j)]], self._key).instance_id)
