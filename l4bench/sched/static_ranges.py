"""Static ranges: operator-set prompt-length ranges, each served by a fixed group of instances."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from l4bench.errors import ConfigError
from l4bench.sched.base import BaseScheduler
from l4bench.sched.common import least_tokens_view
from l4bench.types import ClusterSpec, Decision, InstanceView, RequestView

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel


def even_split(num_instances: int, num_ranges: int) -> list[int]:
    """Split instances as evenly as possible; the remainder goes to the last (longest) ranges."""
    base, rem = divmod(num_instances, num_ranges)
    return [base + (1 if r >= num_ranges - rem else 0) for r in range(num_ranges)]


class StaticRangesScheduler(BaseScheduler):
    """Length-partitioned cluster with fixed ranges: no DP, no refinement, no migration.

    Range r holds prompts in [boundaries[r-1], boundaries[r]) (the first starts at 0, the last is
    open-ended) and owns a contiguous block of instances, in instance-id order. A request goes to
    the least-tokens healthy instance of its range; if its whole range is unhealthy, to the
    least-tokens healthy instance anywhere. Requests stay where they land (no hop bounds).

    Args:
        boundaries: prompt-length boundaries in tokens, strictly increasing, > 0.
        instances_per_range: instances of each of the len(boundaries)+1 ranges, each >= 1,
            summing to cluster.num_instances; None splits evenly (remainder to the longer ranges).
    """

    name = "static_ranges"

    def __init__(
        self,
        cluster: ClusterSpec,
        perf: PerfModel | None = None,
        rng: np.random.Generator | None = None,
        boundaries: Sequence[int] = (8192,),
        instances_per_range: Sequence[int] | None = None,
    ) -> None:
        super().__init__(cluster, perf, rng)
        self.boundaries = self._check_boundaries(boundaries)
        num_ranges = len(self.boundaries) + 1
        n = cluster.num_instances
        if instances_per_range is None:
            if num_ranges > n:
                raise ConfigError(
                    f"{self.name}.boundaries: {num_ranges} ranges need at least {num_ranges} instances, "
                    f"cluster has {n}; valid: at most {n - 1} boundaries"
                )
            counts = even_split(n, num_ranges)
        else:
            counts = [int(c) for c in instances_per_range]
            self._check_counts(counts, num_ranges, n)
        self.instances_per_range = counts
        self._range_of_pos = [r for r, c in enumerate(counts) for _ in range(c)]

    def _check_boundaries(self, boundaries: Sequence[int]) -> list[int]:
        """Validate and return the boundaries as a list of ints."""
        bad = ConfigError(
            f"{self.name}.boundaries: got {boundaries!r}; valid: a list of positive integer token counts"
        )
        try:
            b = [int(x) for x in boundaries]
        except (TypeError, ValueError):
            raise bad from None
        if isinstance(boundaries, str) or any(
            isinstance(x, bool) or x != y for x, y in zip(boundaries, b, strict=True)
        ):
            raise bad
        if any(x <= 0 for x in b):
            raise bad
        if any(lo >= hi for lo, hi in zip(b, b[1:], strict=False)):
            raise ConfigError(
                f"{self.name}.boundaries: got {b}, not strictly increasing; valid: e.g. [4096, 32768]"
            )
        return b

    def _check_counts(self, counts: list[int], num_ranges: int, n: int) -> None:
        """Validate instances_per_range against the ranges and the cluster size."""
        if len(counts) != num_ranges:
            raise ConfigError(
                f"{self.name}.instances_per_range: got {len(counts)} entries for {num_ranges} ranges; "
                f"valid: len(boundaries) + 1 = {num_ranges} entries, or null"
            )
        if any(c < 1 for c in counts):
            raise ConfigError(f"{self.name}.instances_per_range: got {counts}; valid: every entry >= 1")
        if sum(counts) != n:
            raise ConfigError(
                f"{self.name}.instances_per_range: {counts} sums to {sum(counts)}; valid: sums to num_instances={n}"
            )

    def range_of(self, prompt_tokens: int) -> int:
        """Index of the range holding this prompt length."""
        return bisect_right(self.boundaries, prompt_tokens)

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Least-tokens healthy instance of the request's range (any healthy one if none)."""
        r = self.range_of(req.prompt_tokens)
        ordered = sorted(views, key=lambda v: v.instance_id)
        members = [
            v
            for pos, v in enumerate(ordered)
            if pos < len(self._range_of_pos) and self._range_of_pos[pos] == r
        ]
        ok = [v for v in members if v.is_healthy]
        return Decision(instance_id=least_tokens_view(ok or self.healthy(views)).instance_id)
