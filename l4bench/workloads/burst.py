"""A fixed burst: groups of identical requests, all arriving at t = 0, in the order given.

The simulator twin of the profiler's live burst (l4bench/profiling/burst.py): 63 x 1k + 1 x 64k
prompts (the long one last) or 64 x 2k, 256 output tokens each (conf/workload/burst_*.yaml).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from l4bench.errors import ConfigError
from l4bench.types import Request
from l4bench.workloads.base import Columns, build_requests, check_max_model_len, length_facts


class BurstWorkload:
    """`groups` = [[count, prompt_tokens, output_tokens], ...]; every request arrives at 0.0."""

    name = "burst"
    has_timestamps = False  # pair with arrival=burst (all at t = 0, in this order)
    is_synthesized = True

    def __init__(self, groups: list[list[int]], max_model_len: int | None = None):
        check_max_model_len("workload.burst", max_model_len)
        if not groups or any(len(g) != 3 or min(int(v) for v in g) < 1 for g in groups):
            raise ConfigError(f"workload.groups: need [[count, prompt_tokens, output_tokens], ...] of positive "
                              f"ints, got {groups!r}")
        self.groups = [[int(v) for v in g] for g in groups]
        self.max_model_len = max_model_len
        self._facts: dict[str, Any] = {}

    def load(self, rng: np.random.Generator) -> list[Request]:
        """The burst's requests in group order, ids 0..n-1, all at t = 0 (rng unused)."""
        prompt = np.array([p for count, p, _ in self.groups for _ in range(count)], dtype=np.int64)
        output = np.array([o for count, _, o in self.groups for _ in range(count)], dtype=np.int64)
        requests, num_truncated = build_requests(Columns(np.zeros(len(prompt)), prompt, output), self.max_model_len)
        self._facts = {**length_facts(requests), "num_truncated": num_truncated}
        return requests

    def describe(self) -> dict[str, Any]:
        """Facts for summary.json."""
        return {"name": self.name, "is_synthesized": True, "has_timestamps": False, "groups": self.groups,
                "max_model_len": self.max_model_len, **self._facts}
